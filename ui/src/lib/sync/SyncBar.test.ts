import type { SyncStatus } from '$ipc';
import { cleanup, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import SyncBar from './SyncBar.svelte';

afterEach(cleanup);

const NOW = Date.parse('2026-12-03T12:00:00Z');

function status(name: string, minutesAgo: number | null, lastError: string | null, bindings = 2): SyncStatus {
	return {
		name,
		kindLabel: 'GitHub',
		freshness: {
			connection: name.length,
			bindings,
			lastSyncedAt: minutesAgo === null ? null : new Date(NOW - minutesAgo * 60_000).toISOString(),
			lastAttemptAt: null,
			lastError,
			providerLogin: null
		}
	};
}

describe('SyncBar', () => {
	it('shows each connection’s cache age, and what went wrong while it keeps the cache', () => {
		render(SyncBar, {
			statuses: [status('acme', 3, null), status('acme-ent', 14, 'GitHub acme-ent could not be reached at ghe.acme.example. Check the network.'), status('unbound', 1, null, 0)],
			progress: null,
			now: NOW
		});
		const items = screen.getAllByTestId('sync-status');
		expect(items).toHaveLength(2);
		expect(items[0]).toHaveTextContent('GitHub acme: synced 3 min ago');
		expect(items[1]).toHaveTextContent('GitHub acme-ent: last synced 14 min ago — GitHub acme-ent could not be reached');
	});

	it('shows progress while a sync runs and nothing when no connection is bound', () => {
		const { unmount } = render(SyncBar, { statuses: [], progress: { connection: 'acme', done: 2, total: 5, running: true }, now: NOW });
		expect(screen.getByTestId('sync-progress')).toHaveTextContent('Syncing acme · 2 of 5');
		unmount();
		render(SyncBar, { statuses: [status('unbound', null, null, 0)], progress: null, now: NOW });
		expect(screen.queryByTestId('sync-bar')).toBeNull();
	});
});
