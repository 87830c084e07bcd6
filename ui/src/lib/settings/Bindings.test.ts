import type { BindingDraft, BindingsPage } from '$ipc';
import { people } from '$lib/app/people.svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import Bindings from './Bindings.svelte';

afterEach(() => {
	cleanup();
	clearMocks();
});

const dashboard = {
	environments: [
		{ key: 'dev', name: 'Development', production: false },
		{ key: 'production', name: 'Production', production: true }
	],
	rows: [{ service: { key: 'payments-api', name: 'Payments API', team: null, repository: null }, cells: [] }],
	generatedAt: '2026-12-03T10:00:00Z'
};
const connections = {
	kinds: [],
	connections: [
		{
			connection: { id: 3, kind: 'github', name: 'acme lower', baseUrl: 'https://api.github.com', settings: {}, reach: 'dev' },
			kindLabel: 'GitHub',
			capabilities: ['deploy', 'deployment_history', 'approvals'],
			secretSet: true,
			freshness: null
		}
	]
};

describe('Bindings', () => {
	it('binds a service’s stage to a GitHub repository, and shows the store’s refusal above a connection’s reach', async () => {
		people.session = {
			current: { id: 1, name: 'Priya Shah', email: 'p@acme.example', roles: ['release-manager'] },
			profiles: [],
			knownRoles: [],
			may: ['manage_connections'],
			refused: [],
			pending: 0,
			profileNote: ''
		};
		let page: BindingsPage = { bindings: [] };
		const sent: BindingDraft[] = [];
		mockIPC((cmd, args) => {
			if (cmd === 'provider_bindings') return page;
			if (cmd === 'connections') return connections;
			if (cmd === 'dashboard') return dashboard;
			if (cmd === 'add_binding') {
				const draft = (args as { draft: BindingDraft }).draft;
				sent.push(draft);
				if (draft.environment === 'production') {
					throw { code: 'connection_out_of_reach', message: 'acme lower may be used up to Development only: it is never used against Production' };
				}
				page = { bindings: [{ binding: { id: 1, ...draft, settings: { ...draft.settings, environment: 'dev' } }, connectionName: 'acme lower' }] };
				return page;
			}
		});
		render(Bindings);
		expect(await screen.findByTestId('no-bindings')).toBeInTheDocument();
		await fireEvent.click(screen.getByTestId('add-binding'));
		await fireEvent.input(await screen.findByTestId('binding-repository'), { target: { value: 'acme/payments-api' } });
		await fireEvent.change(screen.getByTestId('binding-stage'), { target: { value: 'production' } });
		await fireEvent.click(screen.getByTestId('save-binding'));
		expect(await screen.findByRole('alert')).toHaveTextContent('never used against Production');
		await fireEvent.change(screen.getByTestId('binding-stage'), { target: { value: 'dev' } });
		await fireEvent.input(screen.getByTestId('binding-workflow'), { target: { value: 'deploy.yml' } });
		await fireEvent.click(screen.getByTestId('save-binding'));
		const row = await screen.findByTestId('binding');
		expect(row).toHaveTextContent('Payments API · Development');
		expect(row).toHaveTextContent('repository acme/payments-api');
		expect(sent[1]).toEqual({ service: 'payments-api', environment: 'dev', connection: 3, settings: { repository: 'acme/payments-api', workflow: 'deploy.yml' } });
	});
});
