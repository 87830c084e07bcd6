import type { ArtefactLocation, Environment, TargetBinding, TargetInfo, TrustedKey } from '$ipc';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { people } from '$lib/app/people.svelte';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import ArtefactLocations from './ArtefactLocations.svelte';
import TargetBindings from './TargetBindings.svelte';
import TrustedKeys from './TrustedKeys.svelte';

// A release manager is at the desk: the store says they may change all this.
beforeEach(() => {
	people.session = {
		current: { id: 1, name: 'Priya Shah', email: 'priya@acme.example', roles: ['release-manager'] },
		profiles: [],
		knownRoles: [],
		may: ['raise_changes', 'manage_trusted_keys', 'bind_targets', 'record_artefact_locations'],
		refused: [],
		pending: 0,
		profileNote: ''
	};
});

afterEach(() => {
	cleanup();
	clearMocks();
});

const key: TrustedKey = {
	id: 1,
	publicKey: 'RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3',
	keyId: 'E7620F1842B4E81F',
	label: 'Demo build pipeline',
	addedBy: 'Priya',
	addedAt: '2026-11-22T10:00:00Z'
};

describe('Trusted keys', () => {
	it('says what an empty list means, then adds a key', async () => {
		let sent: { publicKey: string; label: string } | null = null;
		mockIPC((cmd, args) => {
			if (cmd === 'add_trusted_key') {
				sent = args as { publicKey: string; label: string };
				return [key];
			}
		});
		render(TrustedKeys, { keys: [] });
		expect(screen.getByTestId('no-keys')).toHaveTextContent('every promotion is refused at the signature gate');
		await fireEvent.click(screen.getByTestId('add-key'));
		const save = screen.getByTestId('save-key');
		expect(save).toBeDisabled();
		await fireEvent.input(screen.getByTestId('key-label'), { target: { value: 'Demo build pipeline' } });
		await fireEvent.input(screen.getByTestId('key-text'), { target: { value: key.publicKey } });
		await fireEvent.click(save);
		expect(await screen.findByTestId('trusted-key')).toHaveTextContent('E7620F1842B4E81F');
		expect(sent).toEqual({ publicKey: key.publicKey, label: 'Demo build pipeline' });
		expect(screen.queryByTestId('add-key-form')).toBeNull();
	});

	it('asks before removing, and shows a refusal with its reason', async () => {
		mockIPC((cmd) => {
			if (cmd === 'remove_trusted_key')
				throw { code: 'not_release_manager', message: 'only a release manager may remove trusted signing keys; Sam holds change-manager' };
		});
		render(TrustedKeys, { keys: [key] });
		await fireEvent.click(screen.getByRole('button', { name: 'Remove' }));
		const confirm = screen.getByRole('group', { name: /Confirm removing/ });
		expect(confirm).toHaveTextContent('Artefacts signed only by this key will be refused');
		await fireEvent.click(within(confirm).getByRole('button', { name: 'Remove key' }));
		expect(await screen.findByRole('alert')).toHaveTextContent('Sam holds change-manager');
		expect(screen.getByTestId('trusted-key')).toBeInTheDocument();
	});
});

const env = (key: string, name: string, production = false): Environment => ({ key, name, production });
const providers: TargetInfo[] = [{ provider: 'local-nginx', description: 'Local nginx blue-green', strategies: ['blue_green', 'rolling'] }];
const services = [
	{ key: 'payments-api', name: 'Payments API' },
	{ key: 'demo-web', name: 'Demo web' }
];
const devBinding: TargetBinding = {
	service: 'demo-web',
	environment: 'dev',
	provider: 'local-nginx',
	strategy: 'blue_green',
	soakSecs: 8,
	thresholds: { maxErrorRatePct: 1, maxP95Ms: 500, minRequests: 5 }
};

describe('Deployment targets', () => {
	it('shows the grid with bound services first and saves a changed binding', async () => {
		let sent: TargetBinding | null = null;
		mockIPC((cmd, args) => {
			if (cmd === 'bind_target') {
				sent = (args as { binding: TargetBinding }).binding;
				return [sent];
			}
		});
		render(TargetBindings, { bindings: [devBinding], providers, services, environments: [env('dev', 'Development'), env('prod', 'Production', true)] });
		const rows = screen.getAllByRole('row').slice(1);
		expect(rows[0]).toHaveTextContent('Demo web');
		const cell = screen.getAllByTestId('binding-cell').find((c) => c.dataset.service === 'demo-web' && c.dataset.environment === 'dev')!;
		expect(cell).toHaveTextContent('Blue-green');
		expect(cell).toHaveTextContent('8 s soak');
		await fireEvent.click(cell);
		const form = screen.getByTestId('binding-form');
		expect(form).toHaveTextContent('Demo web in Development');
		await fireEvent.click(within(form).getByLabelText('Rolling'));
		await fireEvent.input(within(form).getByTestId('binding-soak'), { target: { value: '120' } });
		await fireEvent.input(within(form).getByTestId('binding-min-requests'), { target: { value: '20' } });
		await fireEvent.click(within(form).getByTestId('save-binding'));
		expect(await screen.findByRole('status')).toHaveTextContent('Demo web in Development now deploys rolling to local-nginx');
		expect(sent).toMatchObject({ service: 'demo-web', environment: 'dev', strategy: 'rolling', soakSecs: 120, thresholds: { maxErrorRatePct: 1, maxP95Ms: 500, minRequests: 20 } });
	});

	it('keeps the form open with the reason when a binding is refused', async () => {
		mockIPC((cmd) => {
			if (cmd === 'bind_target') throw { code: 'target_busy', message: 'promotion #4 of demo-web in dev is still running: change its target when it has ended' };
		});
		render(TargetBindings, { bindings: [devBinding], providers, services, environments: [env('dev', 'Development')] });
		await fireEvent.click(screen.getAllByTestId('binding-cell')[0]);
		await fireEvent.click(screen.getByTestId('save-binding'));
		expect(await screen.findByRole('alert')).toHaveTextContent('still running');
		expect(screen.getByTestId('binding-form')).toBeInTheDocument();
	});
});

const build = (version: string, location: string | null, signed = true): ArtefactLocation => ({
	service: 'demo-web',
	serviceName: 'Demo web',
	version,
	digest: `sha256:${'ab'.repeat(32)}`,
	signed,
	location,
	createdAt: '2026-11-22T09:00:00Z'
});

describe('Artefact locations', () => {
	it('records a location only after the app has checked it, and shows why not', async () => {
		const calls: string[] = [];
		mockIPC((cmd, args) => {
			if (cmd !== 'set_artefact_location') return;
			const a = args as { version: string; location: string };
			calls.push(a.location);
			if (a.location.endsWith('wrong.tar.gz'))
				throw { code: 'provider_refused', message: 'the file at /srv/wrong.tar.gz has digest sha256:00, not the recorded sha256:abab: it is a different build' };
			return [build('1.1.0', a.location), build('1.0.0', '/srv/demo-web-1.0.0.tar.gz', false)];
		});
		render(ArtefactLocations, { artefacts: [build('1.1.0', null), build('1.0.0', '/srv/demo-web-1.0.0.tar.gz', false)], services });
		expect(screen.getByText('1 of 2 recent builds have a location')).toBeInTheDocument();
		const row = screen.getAllByTestId('artefact-location').find((r) => r.dataset.version === '1.1.0')!;
		expect(within(row).getByText('No location')).toBeInTheDocument();
		const unsigned = screen.getAllByTestId('artefact-location').find((r) => r.dataset.version === '1.0.0')!;
		expect(unsigned).toHaveTextContent('Unsigned');

		await fireEvent.click(within(row).getByRole('button', { name: 'Record location' }));
		await fireEvent.input(within(row).getByTestId('location-input'), { target: { value: '/srv/wrong.tar.gz' } });
		await fireEvent.click(within(row).getByTestId('save-location'));
		expect(await within(row).findByRole('alert')).toHaveTextContent('it is a different build');

		await fireEvent.input(within(row).getByTestId('location-input'), { target: { value: '/srv/demo-web-1.1.0.tar.gz' } });
		await fireEvent.click(within(row).getByTestId('save-location'));
		expect(await screen.findByRole('status')).toHaveTextContent('matches its digest');
		expect(screen.getByText('2 of 2 recent builds have a location')).toBeInTheDocument();
		expect(calls).toEqual(['/srv/wrong.tar.gz', '/srv/demo-web-1.1.0.tar.gz']);
	});
});
