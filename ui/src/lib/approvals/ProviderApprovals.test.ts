import type { ProviderApprovalItem } from '$ipc';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { people } from '$lib/app/people.svelte';
import ProviderApprovals from './ProviderApprovals.svelte';

afterEach(() => clearMocks());

function item(refusal: string | null = null): ProviderApprovalItem {
	return {
		id: 4,
		connection: 'acme',
		kindLabel: 'GitHub',
		service: 'payments-api',
		environment: 'production',
		approval: {
			providerId: 'acme/payments-api/runs/77/environments/7',
			environment: 'production',
			title: 'Deploy 2.4.0 (run #31)',
			commit: '9f1c2e3d4c5b6a',
			reviewers: ['octocat', 'team platform'],
			waitTimerMinutes: 5,
			canApprove: true,
			requestedAt: '2026-12-03T10:00:00Z',
			link: 'https://github.com/acme/payments-api/actions/runs/77',
			reference: {}
		},
		standing: {
			environment: 'production',
			required: 2,
			approved: 1,
			missing: ['service-owner'],
			rejectedBy: [],
			request: { status: 'open', expiresAt: null },
			afterTheFact: false,
			satisfied: false,
			decisions: []
		},
		startedBy: 'Priya Shah',
		refusal
	};
}

function setup(items: ProviderApprovalItem[], sent: 'approve' | null) {
	people.session = {
		current: { id: 2, name: 'Tom Okafor', email: 'tom@acme.example', roles: ['change-manager'] },
		profiles: [],
		knownRoles: [],
		may: [],
		refused: [],
		pending: 0,
		profileNote: ''
	};
	const calls: { cmd: string; args: Record<string, unknown> }[] = [];
	let queue = items;
	mockIPC((cmd, args) => {
		calls.push({ cmd, args: args as Record<string, unknown> });
		if (cmd === 'provider_approvals') return queue;
		if (cmd === 'decide_provider_approval') {
			if (sent) queue = [];
			return { standing: sent ? '2 of 2 required approvals' : '1 of 2 required approvals; missing: service-owner', sent, connection: 'acme' };
		}
	});
	return calls;
}

describe('ProviderApprovals', () => {
	it('shows what GitHub waits on and where the desk policy stands', async () => {
		setup([item()], null);
		render(ProviderApprovals);
		const card = await screen.findByTestId('provider-approval');
		expect(card).toHaveTextContent('Deploy 2.4.0 (run #31)');
		expect(card).toHaveTextContent('GitHub acme · payments-api → production');
		expect(card).toHaveTextContent('octocat, team platform');
		expect(card).toHaveTextContent('5 min after approval');
		expect(screen.getByTestId('provider-standing')).toHaveTextContent('1 of 2 required approvals; missing service-owner; started from the desk by Priya Shah, who may not decide');
		expect(screen.getByTestId('provider-link')).toHaveTextContent('github.com/acme/payments-api/actions/runs/77');
	});

	it('records an approval and says the review waits for the rest of the quorum', async () => {
		const calls = setup([item()], null);
		render(ProviderApprovals);
		await fireEvent.click(await screen.findByTestId('provider-approve'));
		const field = await screen.findByLabelText('Comment (optional)');
		await fireEvent.input(field, { target: { value: 'smoke tests are green' } });
		await fireEvent.keyDown(field, { key: 'Enter' });
		await waitFor(() => expect(calls.some((c) => c.cmd === 'decide_provider_approval')).toBe(true));
		expect(calls.find((c) => c.cmd === 'decide_provider_approval')!.args).toMatchObject({ id: 4, verdict: 'approve', comment: 'smoke tests are green' });
		expect(await screen.findByText(/GitHub's review is sent once the rest approve/)).toBeInTheDocument();
	});

	it('says when the quorum sent the review, and the approval leaves the list', async () => {
		setup([item()], 'approve');
		render(ProviderApprovals);
		await fireEvent.click(await screen.findByTestId('provider-approve'));
		const field = await screen.findByLabelText('Comment (optional)');
		await fireEvent.keyDown(field, { key: 'Enter' });
		expect(await screen.findByText(/Approved Deploy 2.4.0 \(run #31\) at GitHub/)).toBeInTheDocument();
		await waitFor(() => expect(screen.queryByTestId('provider-approval')).not.toBeInTheDocument());
	});

	it('disables what the person may not decide, saying why', async () => {
		setup([item('separation of duties: you started this deployment')], null);
		render(ProviderApprovals);
		const approve = await screen.findByTestId('provider-approve');
		expect(approve).toBeDisabled();
		expect(screen.getByText('separation of duties: you started this deployment')).toBeInTheDocument();
	});

	it('shows nothing when no provider waits', async () => {
		const calls = setup([], null);
		render(ProviderApprovals);
		await waitFor(() => expect(calls.some((c) => c.cmd === 'provider_approvals')).toBe(true));
		expect(screen.queryByTestId('provider-approvals')).not.toBeInTheDocument();
	});
});
