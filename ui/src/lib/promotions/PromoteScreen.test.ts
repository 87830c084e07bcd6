import type { GateCheck, PromoteOptions } from '$ipc';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { people } from '$lib/app/people.svelte';
import PromoteScreen from './PromoteScreen.svelte';
import { digest, gates, switchedBack } from './fixtures';

// A release manager is at the desk: the store says they may promote.
beforeEach(() => {
	people.session = {
		current: { id: 1, name: 'Priya Shah', email: 'priya@acme.example', roles: ['release-manager'] },
		profiles: [],
		knownRoles: [],
		may: ['raise_changes', 'promote'],
		refused: [],
		pending: 0,
		profileNote: ''
	};
});

// Unmount first: the screen stops listening for events through the mocks.
afterEach(() => {
	cleanup();
	clearMocks();
});

const options: PromoteOptions = {
	bindings: ['dev', 'test'].map((environment) => ({
		service: 'demo-web',
		environment,
		provider: 'local-nginx',
		strategy: 'blue_green' as const,
		soakSecs: 8,
		thresholds: { maxErrorRatePct: 1, maxP95Ms: 500, minRequests: 5 }
	})),
	services: [
		{
			key: 'demo-web',
			name: 'Demo web',
			artefacts: [
				{ version: '1.1.0', digest: digest('b'), createdAt: '2026-11-22T09:00:00Z', commits: 1 },
				{ version: '1.0.0', digest: digest('a'), createdAt: '2026-11-22T08:00:00Z', commits: 1 }
			]
		}
	]
};

const dashboard = {
	environments: [
		{ key: 'dev', name: 'Development', production: false },
		{ key: 'test', name: 'Test', production: false }
	],
	rows: [],
	generatedAt: '2026-11-22T10:00:00Z'
};

function check(failing: Parameters<typeof gates>[0] = []): GateCheck {
	const results = gates(failing);
	return { results, passes: failing.length === 0, version: '1.1.0', digest: digest('b'), change: 'CHG-0009' };
}

describe('PromoteScreen', () => {
	it('blocks Promote while a gate fails and names how many', async () => {
		mockIPC((cmd) => {
			if (cmd === 'promote_options') return options;
			if (cmd === 'dashboard') return dashboard;
			if (cmd === 'promotion_gates') return check(['previous_stage']);
			if (cmd === 'cell_promotions') return [];
		}, { shouldMockEvents: true });
		render(PromoteScreen, { initialEnvironment: 'test' });
		const button = await screen.findByTestId('promote-button');
		await waitFor(() => expect(button).toHaveTextContent('Blocked by 1 gate'));
		expect(button).toBeDisabled();
		const failing = screen.getAllByTestId('gate').filter((g) => g.dataset.verdict === 'fail');
		expect(failing).toHaveLength(1);
		expect(failing[0]).toHaveTextContent('Previous stage succeeded fails: do something');
	});

	it('says why, and offers no Promote, when the store says this person may not promote', async () => {
		const reason = 'only a release manager may promote or roll back; Mei Lin holds product-owner';
		people.session = {
			current: { id: 5, name: 'Mei Lin', email: 'mei@acme.example', roles: ['product-owner'] },
			profiles: [],
			knownRoles: [],
			may: ['raise_changes'],
			refused: [{ action: 'promote', reason }],
			pending: 0,
			profileNote: ''
		};
		mockIPC((cmd) => {
			if (cmd === 'promote_options') return options;
			if (cmd === 'dashboard') return dashboard;
			if (cmd === 'promotion_gates') return check();
			if (cmd === 'cell_promotions') return [];
		}, { shouldMockEvents: true });
		render(PromoteScreen, { initialEnvironment: 'test' });
		const button = await screen.findByTestId('promote-button');
		await waitFor(() => expect(button).toHaveTextContent('Promote 1.1.0 to Test'));
		expect(button).toBeDisabled();
		expect(screen.getByTestId('not-permitted-promote')).toHaveTextContent('Only a release manager may promote or roll back; Mei Lin holds product-owner.');
	});

	it('confirms with the artefact, digest and environment, and a second press reuses its request key', async () => {
		const keys: string[] = [];
		let calls = 0;
		mockIPC((cmd, args) => {
			if (cmd === 'promote_options') return options;
			if (cmd === 'dashboard') return dashboard;
			if (cmd === 'promotion_gates') return check();
			if (cmd === 'cell_promotions') return [];
			if (cmd === 'request_promotion') {
				const a = args as { requestKey: string; version: string; environment: string };
				keys.push(a.requestKey);
				expect([a.version, a.environment]).toEqual(['1.1.0', 'test']);
				calls += 1;
				if (calls === 1) throw { code: 'database_error', message: 'the database was busy' };
				return { promotion: { ...switchedBack(), phase: 'running', failure: null, finishedAt: null }, gates: [], change: null, location: null, signature: null, thresholds: options.bindings[0].thresholds };
			}
		}, { shouldMockEvents: true });
		render(PromoteScreen, { initialEnvironment: 'test' });
		const button = await screen.findByTestId('promote-button');
		await waitFor(() => expect(button).toBeEnabled());
		expect(button).toHaveTextContent('Promote 1.1.0 to Test');
		await fireEvent.click(button);
		const dialog = await screen.findByTestId('confirm-promotion');
		expect(dialog).toHaveTextContent('Promote demo-web 1.1.0 to Test?');
		expect(dialog).toHaveTextContent(digest('b'));
		expect(dialog).toHaveTextContent('CHG-0009');
		await fireEvent.click(screen.getByTestId('confirm-promote'));
		expect(await screen.findByText('The database was busy.', { exact: false })).toBeInTheDocument();
		await fireEvent.click(screen.getByTestId('confirm-promote'));
		await screen.findByTestId('timeline');
		expect(keys).toHaveLength(2);
		expect(keys[1]).toBe(keys[0]);
	});
});
