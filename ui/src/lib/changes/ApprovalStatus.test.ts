import type { EnvironmentApproval, WeighedDecision } from '$ipc';
import { render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import ApprovalStatus from './ApprovalStatus.svelte';

const decision = (id: number, by: string, discount: WeighedDecision['discount'], countedFor: string | null = null): WeighedDecision => ({
	decision: {
		id,
		by: id,
		byName: by,
		roles: ['change-manager'],
		verdict: 'approve',
		comment: '',
		at: '2026-11-21T10:00:00Z',
		digest: `sha256:${'ab'.repeat(32)}`
	},
	discount,
	countedFor
});

const production = (over: Partial<EnvironmentApproval>): EnvironmentApproval => ({
	environment: 'production',
	required: 2,
	approved: 1,
	missing: ['change-manager'],
	rejectedBy: [],
	request: { status: 'open', expiresAt: null },
	afterTheFact: false,
	satisfied: false,
	decisions: [],
	...over
});

describe('ApprovalStatus', () => {
	it('says what is still needed and why a decision does not count', () => {
		render(ApprovalStatus, {
			approvals: [
				production({
					decisions: [
						decision(1, 'Aisha Rahman', null, 'service-owner'),
						decision(2, 'Sam Okafor', { reason: 'digestChanged', was: `sha256:${'cd'.repeat(32)}` }),
						decision(3, 'Priya Shah', { reason: 'selfApproval' })
					]
				})
			]
		});
		expect(screen.getByTestId('quorum')).toHaveTextContent('1 of 2 approvals');
		expect(screen.getByText('change-manager')).toBeInTheDocument();
		expect(screen.getByText(/counts as service-owner/)).toBeInTheDocument();
		expect(screen.getByText(/void: given for another artefact/)).toBeInTheDocument();
		expect(screen.getByText(/own change \(separation of duties\)/)).toBeInTheDocument();
	});

	it('tells an expired request apart from a rejection', () => {
		render(ApprovalStatus, { approvals: [production({ request: { status: 'expired', at: '2026-11-20T09:00:00Z' } })] });
		expect(screen.getByText(/It was not rejected by anyone/)).toBeInTheDocument();
		expect(screen.queryByText(/Rejected by/)).not.toBeInTheDocument();
	});

	it('shows a standard change as pre-approved', () => {
		render(ApprovalStatus, { approvals: [production({ required: 0, approved: 0, missing: [], satisfied: true })] });
		expect(screen.getByText(/Pre-approved/)).toBeInTheDocument();
		expect(screen.queryByTestId('quorum')).not.toBeInTheDocument();
	});
});
