import type { ConnectionDraft, ConnectionsPage } from '$ipc';
import { people } from '$lib/app/people.svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import Connections from './Connections.svelte';

afterEach(() => {
	cleanup();
	clearMocks();
});

function as(role: 'release-manager' | 'product-owner') {
	people.session = {
		current: { id: 1, name: role === 'release-manager' ? 'Priya Shah' : 'Mei Lin', email: 'p@acme.example', roles: [role] },
		profiles: [],
		knownRoles: [],
		may: role === 'release-manager' ? ['raise_changes', 'manage_connections'] : ['raise_changes'],
		refused:
			role === 'release-manager' ? [] : [{ action: 'manage_connections', reason: 'only a release manager may add or remove connections to providers; Mei Lin holds product-owner' }],
		pending: 0,
		profileNote: ''
	};
}

const kinds: ConnectionsPage['kinds'] = [
	{ kind: 'github', label: 'GitHub', defaultBaseUrl: 'https://api.github.com', capabilities: ['deploy', 'deployment_history', 'approvals'] },
	{ kind: 'servicenow', label: 'ServiceNow', defaultBaseUrl: null, capabilities: ['approvals', 'change_records'] }
];
const dashboard = {
	environments: [
		{ key: 'dev', name: 'Development', production: false },
		{ key: 'test', name: 'Test', production: false },
		{ key: 'production', name: 'Production', production: true }
	],
	rows: [],
	generatedAt: '2026-12-03T10:00:00Z'
};

describe('Connections', () => {
	it('adds a connection limited to lower stages, then its token, which is never shown again', async () => {
		as('release-manager');
		let page: ConnectionsPage = { connections: [], kinds };
		let sent: ConnectionDraft | null = null;
		let secret: string | null = null;
		mockIPC((cmd, args) => {
			if (cmd === 'connections') return page;
			if (cmd === 'dashboard') return dashboard;
			if (cmd === 'add_connection') {
				sent = (args as { draft: ConnectionDraft }).draft;
				page = {
					kinds,
					connections: [{ connection: { id: 1, kind: 'github', name: sent.name, baseUrl: 'https://api.github.com', settings: sent.settings, reach: sent.reach }, kindLabel: 'GitHub', capabilities: kinds[0].capabilities, secretSet: false, freshness: null }]
				};
				return page;
			}
			if (cmd === 'set_connection_secret') {
				secret = (args as { secret: string }).secret;
				page = { ...page, connections: page.connections.map((c) => ({ ...c, secretSet: true })) };
				return page;
			}
		});
		render(Connections);
		expect(await screen.findByTestId('no-connections')).toHaveTextContent('never used against a higher one');
		await fireEvent.click(screen.getByTestId('add-connection'));
		await fireEvent.input(screen.getByTestId('connection-name'), { target: { value: 'acme-health lower' } });
		await fireEvent.change(screen.getByTestId('connection-reach'), { target: { value: 'test' } });
		await fireEvent.input(screen.getByTestId('connection-settings'), { target: { value: 'owner = acme-health\n\n' } });
		await fireEvent.click(screen.getByTestId('save-connection'));
		const row = await screen.findByTestId('connection');
		expect(sent).toEqual({ kind: 'github', name: 'acme-health lower', baseUrl: null, settings: { owner: 'acme-health' }, reach: 'test' });
		expect(row).toHaveTextContent('Up to Test');
		expect(row).toHaveTextContent('No token');
		await fireEvent.click(screen.getByTestId('edit-connection-token'));
		await fireEvent.input(screen.getByTestId('connection-token'), { target: { value: 'ghp_example' } });
		await fireEvent.submit(screen.getByTestId('connection-token').closest('form')!);
		await waitFor(() => expect(screen.getByTestId('token-state')).toHaveTextContent('Token set'));
		expect(secret).toBe('ghp_example');
		expect(document.body.innerHTML).not.toContain('ghp_example');
	});

	it('says why a product owner cannot change connections, and offers nothing to press', async () => {
		as('product-owner');
		mockIPC((cmd) => {
			if (cmd === 'connections') return { connections: [], kinds };
			if (cmd === 'dashboard') return dashboard;
		});
		render(Connections);
		expect(await screen.findByTestId('not-permitted-manage_connections')).toHaveTextContent('Only a release manager may add or remove connections');
		expect(screen.getByTestId('add-connection')).toBeDisabled();
	});

	it('tests a connection: who the token is, or what the provider said', async () => {
		as('release-manager');
		const view = {
			connection: { id: 4, kind: 'github' as const, name: 'acme', baseUrl: 'https://api.github.com', settings: {}, reach: null },
			kindLabel: 'GitHub',
			capabilities: kinds[0].capabilities,
			secretSet: true,
			freshness: null
		};
		let revoked = false;
		mockIPC((cmd) => {
			if (cmd === 'connections') return { connections: [view], kinds };
			if (cmd === 'dashboard') return dashboard;
			if (cmd === 'test_connection') {
				if (revoked) throw { code: 'provider_unauthorised', message: 'GitHub acme refused the token at GET /user (401). It is wrong, expired or revoked: set a new token in Settings → Connections.' };
				return { connection: 4, identity: { login: 'octocat', displayName: 'The Octocat', details: ['classic token, scopes: repo, workflow', 'rate limit: 4990 of 5000 requests left, resets at 18:00 UTC'] } };
			}
		});
		render(Connections);
		await fireEvent.click(await screen.findByTestId('test-connection'));
		const who = await screen.findByTestId('connection-identity');
		expect(who).toHaveTextContent('Acts as octocat (The Octocat)');
		expect(who).toHaveTextContent('scopes: repo, workflow');
		revoked = true;
		await fireEvent.click(screen.getByTestId('test-connection'));
		expect(await screen.findByTestId('connection-check-error')).toHaveTextContent('set a new token');
		expect(screen.queryByTestId('connection-identity')).toBeNull();
	});
});
