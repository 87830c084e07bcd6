import type { CellHistory, HistoryEntry } from '$ipc';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import HistoryDrawer from './HistoryDrawer.svelte';

afterEach(() => clearMocks());

function entry(id: number, version: string, outcome: HistoryEntry['outcome'] = 'succeeded'): HistoryEntry {
	const started = new Date(Date.now() - id * 3_600_000).toISOString();
	return {
		id,
		artefactName: 'api',
		version,
		digest: `sha256:${'ab'.repeat(32)}`,
		sourceCommit: '0123456789abcdef0123456789abcdef01234567',
		buildUrl: null,
		signed: true,
		leg: 'blue',
		actor: 'Priya Shah',
		startedAt: started,
		finishedAt: outcome === 'in_progress' ? null : started,
		durationMs: outcome === 'in_progress' ? null : 252_000,
		outcome,
		failureReason: outcome === 'failed' ? 'Smoke test failed: GET /health returned 503' : null,
		source: null,
		link: null,
		digestConfirmed: true
	};
}

const page = (service: string, environment: string, entries: HistoryEntry[], more = false): CellHistory => ({
	service,
	environment,
	total: entries.length + (more ? 10 : 0),
	entries,
	more
});

const props = (service: string, environment: string) => ({
	service,
	serviceName: service,
	environment,
	environmentName: environment,
	onclose: () => {}
});

describe('HistoryDrawer', () => {
	it('lists deployments with the failure reason, and pages on request', async () => {
		const requests: unknown[] = [];
		mockIPC((cmd, args) => {
			if (cmd !== 'cell_history') return;
			const a = args as { page: { after: unknown } };
			requests.push(a.page.after);
			return a.page.after === null
				? page('api', 'dev', [entry(1, '1.2.0', 'failed'), entry(2, '1.1.0')], true)
				: page('api', 'dev', [entry(3, '1.0.0')]);
		});
		render(HistoryDrawer, props('api', 'dev'));
		const first = await screen.findAllByTestId('history-entry');
		expect(first).toHaveLength(2);
		expect(screen.getByTestId('failure-reason')).toHaveTextContent('Smoke test failed');
		expect(first[1]).toHaveTextContent('4 min 12 s');
		await fireEvent.click(screen.getByTestId('history-more'));
		await vi.waitFor(() => expect(screen.getAllByTestId('history-entry')).toHaveLength(3));
		expect(requests[1]).toEqual([expect.any(String), 2]);
	});

	it('names the connection a synced deployment came from, its run, and a digest it did not confirm', async () => {
		const synced = { ...entry(1, '1.4.2'), source: 'acme', link: 'https://github.com/acme/api/actions/runs/9', digestConfirmed: false, actor: 'octocat via acme' };
		mockIPC((cmd) => (cmd === 'cell_history' ? page('api', 'prod', [synced, entry(2, '1.4.1')]) : undefined));
		render(HistoryDrawer, props('api', 'prod'));
		const rows = await screen.findAllByTestId('history-entry');
		expect(rows[0]).toHaveTextContent('via acme');
		expect(rows[0]).toHaveTextContent('github.com/acme/api/actions/runs/9');
		expect(screen.getAllByTestId('digest-unconfirmed')).toHaveLength(1);
		expect(rows[1]).not.toHaveTextContent('via ');
	});

	it('never shows a slow reply for a cell that is no longer open', async () => {
		let releaseSlow: () => void = () => {};
		mockIPC((cmd, args) => {
			if (cmd !== 'cell_history') return;
			const a = args as { service: string };
			if (a.service === 'slow') {
				return new Promise((resolve) => (releaseSlow = () => resolve(page('slow', 'dev', [entry(1, '9.9.9')]))));
			}
			return page('fast', 'dev', [entry(1, '1.0.0')]);
		});
		const { rerender } = render(HistoryDrawer, props('slow', 'dev'));
		await rerender(props('fast', 'dev'));
		await vi.waitFor(() => expect(screen.getAllByTestId('history-entry')).toHaveLength(1));
		releaseSlow();
		await new Promise((r) => setTimeout(r, 20));
		const shown = screen.getAllByTestId('history-entry');
		expect(shown).toHaveLength(1);
		expect(shown[0]).toHaveTextContent('1.0.0');
	});

	it('says when nothing has been deployed', async () => {
		mockIPC(() => page('api', 'uat', []));
		render(HistoryDrawer, props('api', 'uat'));
		expect(await screen.findByText(/Nothing has been deployed to uat yet/)).toBeInTheDocument();
	});
});
