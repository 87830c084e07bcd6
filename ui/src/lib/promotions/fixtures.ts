// Promotions as the engine reports them, for the component tests.
import type { GateResult, Promotion, Step } from '$ipc';

const digest = (c: string) => `sha256:${c.repeat(64)}`;

export function step(kind: Step['kind'], leg: Step['leg'], state: Step['state'], extra: Partial<Step> = {}): Step {
	return { kind, leg, state, attempts: state.state === 'pending' || state.state === 'skipped' ? 0 : 1, compensation: false, retried: [], firstBegan: '2026-11-22T10:00:00Z', run: null, progress: null, ...extra };
}

const ok = (summary: string) => ({ state: 'succeeded' as const, at: '2026-11-22T10:00:05Z', report: { summary, log: ['GET /healthz → 200 in 3 ms'], replayed: false } });

/** 1.3.0 failed its soak in dev and traffic went back to 1.1.0 on blue. */
export function switchedBack(): Promotion {
	return {
		id: 12,
		kind: 'promote',
		strategy: 'blue_green',
		service: 'demo-web',
		environment: 'dev',
		release: { version: '1.3.0', digest: digest('c'), leg: null },
		previous: { version: '1.1.0', digest: digest('b'), leg: 'blue' },
		soakSecs: 8,
		requestedBy: 'Priya Shah',
		createdAt: '2026-11-22T10:00:00Z',
		steps: [
			step('deploy', 'green', ok('deployed 1.3.0 to green on :22711')),
			step('smoke', 'green', ok('smoke tests passed on green')),
			step('switch', 'green', ok('green now takes traffic')),
			step('soak', 'green', { state: 'failed', at: '2026-11-22T10:00:09Z', reason: 'soak failed: sample 2: error rate 100.0% (40 of 40 requests) is over the 1.0% threshold' }),
			step('switch_back', 'blue', ok('blue now takes traffic'), { compensation: true })
		],
		samples: [
			{ requests: 40, errors: 0, p95Ms: 4, notes: [], observedMs: 1000 },
			{ requests: 40, errors: 40, p95Ms: 2, notes: ['the green leg answered 500'], observedMs: 1000 }
		],
		phase: 'failed',
		failure: { step: 'soak', reason: 'soak failed: sample 2: error rate 100.0% (40 of 40 requests) is over the 1.0% threshold', switchedBack: true, needsAttention: false },
		finishedAt: '2026-11-22T10:00:10Z'
	};
}

export function gates(failing: GateResult['gate'][] = []): GateResult[] {
	const all: [GateResult['gate'], string][] = [
		['previous_stage', 'Previous stage succeeded'],
		['signature', 'Signature verifies'],
		['approval', 'Change approved'],
		['release_window', 'Release window open'],
		['environment_lock', 'Environment free'],
		['planned_window', 'Within the planned window']
	];
	return all.map(([gate, label]) => ({
		gate,
		label,
		verdict: failing.includes(gate) ? 'fail' : 'pass',
		reason: failing.includes(gate) ? `${label} fails: do something` : `${label}: fine`
	}));
}

export { digest };
