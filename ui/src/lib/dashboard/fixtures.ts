// A small dashboard in the shape the Rust `dashboard` command returns.
import type { Dashboard, DashboardCell } from '$ipc';

const digest = (n: number) => `sha256:${n.toString(16).padStart(2, '0').repeat(32)}`;
const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();

export function cell(environment: string, version: string | null, extra: Partial<DashboardCell> = {}): DashboardCell {
	return {
		environment,
		deployed: version ? { version, digest: digest(version.length), deployedAt: hoursAgo(2) } : null,
		last: version
			? { id: 1, version, outcome: 'succeeded', startedAt: hoursAgo(2), finishedAt: hoursAgo(2), actor: 'Priya Shah', failureReason: null }
			: null,
		drift: { kind: version ? 'level' : 'not_deployed' },
		...extra
	};
}

export const dashboard: Dashboard = {
	generatedAt: new Date().toISOString(),
	environments: [
		{ key: 'dev', name: 'Development', production: false },
		{ key: 'test', name: 'Test', production: false },
		{ key: 'production', name: 'Production', production: true }
	],
	rows: [
		{
			service: { key: 'payments-api', name: 'Payments API', team: 'Payments', repository: null },
			cells: [
				cell('dev', '1.4.0', { drift: { kind: 'no_previous' } }),
				cell('test', '1.3.0', {
					drift: { kind: 'behind', builds: 3 },
					last: {
						id: 9,
						version: '1.4.0',
						outcome: 'failed',
						startedAt: hoursAgo(1),
						finishedAt: hoursAgo(1),
						actor: 'GitHub Actions',
						failureReason: 'Smoke test failed: GET /health returned 503'
					}
				}),
				cell('production', '1.3.0')
			]
		},
		{
			service: { key: 'identity-service', name: 'Identity service', team: 'Platform', repository: null },
			cells: [cell('dev', '2.0.0', { drift: { kind: 'no_previous' } }), cell('test', null), cell('production', '2.0.1', { drift: { kind: 'ahead' } })]
		}
	]
};
