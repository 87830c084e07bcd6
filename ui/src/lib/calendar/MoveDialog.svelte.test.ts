import type { ChangeDetail, PlannedChange } from '$ipc';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import MoveDialog from './MoveDialog.svelte';
import ScheduleCheck from './ScheduleCheck.svelte';

afterEach(() => clearMocks());

const digest = `sha256:${'cd'.repeat(32)}`;

function detail(): ChangeDetail {
	return {
		record: {
			id: 7,
			reference: 'CHG-0007',
			kind: 'normal',
			state: 'scheduled',
			template: null,
			title: 'Reminder SMS retry',
			description: '',
			services: [],
			environments: ['uat'],
			artefact: { service: 'appointments-api', version: '1.9.0', digest },
			plannedStart: '2026-11-23T12:00:00Z',
			plannedEnd: '2026-11-23T13:00:00Z',
			implementationPlan: '',
			backoutPlan: '',
			testPlan: '',
			requester: 1,
			requesterName: 'Priya Shah',
			assignee: null,
			assigneeName: null,
			links: [],
			rollbackPossible: true,
			noRollbackJustification: null,
			schemaMigration: false,
			filesChanged: null,
			riskOverride: null,
			approvalRequestedAt: null,
			outcome: null,
			closingNote: null,
			createdAt: '2026-11-22T10:00:00Z',
			updatedAt: '2026-11-22T10:00:00Z',
			revision: 4
		}
	} as unknown as ChangeDetail;
}

function judged(conflicts: PlannedChange['conflicts']): PlannedChange[] {
	return [
		{
			booking: { id: 7, reference: 'CHG-0007', service: 'appointments-api', environment: 'uat', stage: 2, production: false, digest, start: '2026-11-24T09:00:00Z', end: '2026-11-24T10:00:00Z', overrides: [] },
			conflicts
		}
	];
}

const freeze = { kind: 'inFreeze' as const, reason: "inside the freeze 'UAT data refresh' (Tue 24 Nov 08:00 UTC – Tue 24 Nov 12:00 UTC)", with: 'UAT data refresh', ruleId: 3, overridden: null };

describe('MoveDialog', () => {
	it('checks the new time before saving, and moves with the revision it read', async () => {
		const calls: { cmd: string; args: Record<string, unknown> }[] = [];
		mockIPC((cmd, args) => {
			calls.push({ cmd, args: args as Record<string, unknown> });
			if (cmd === 'change') return detail();
			if (cmd === 'check_schedule') return judged([freeze]);
			if (cmd === 'reschedule_change') return { ...detail().record, revision: 5 };
		});
		const onmoved = vi.fn();
		render(MoveDialog, { changeId: 7, reference: 'CHG-0007', start: new Date('2026-11-24T09:00:00Z'), end: new Date('2026-11-24T10:00:00Z'), onmoved, onclose: () => {} });
		expect(await screen.findByText(/Inside the freeze 'UAT data refresh'/)).toBeInTheDocument();
		const check = calls.find((c) => c.cmd === 'check_schedule')!;
		expect(check.args).toMatchObject({ slot: { change: 7, environments: ['uat'], start: '2026-11-24T09:00:00.000Z', end: '2026-11-24T10:00:00.000Z' } });
		expect(calls.some((c) => c.cmd === 'reschedule_change')).toBe(false);
		const button = screen.getByTestId('confirm-move');
		expect(button).toHaveTextContent('Move anyway (1 conflict)');
		await fireEvent.click(button);
		await waitFor(() => expect(onmoved).toHaveBeenCalled());
		expect(calls.find((c) => c.cmd === 'reschedule_change')!.args).toMatchObject({ id: 7, revision: 4, start: '2026-11-24T09:00:00.000Z' });
	});

	it('cancelling puts the dragged change back and saves nothing', async () => {
		const calls: string[] = [];
		mockIPC((cmd) => {
			calls.push(cmd);
			if (cmd === 'change') return detail();
			if (cmd === 'check_schedule') return judged([]);
		});
		const onclose = vi.fn();
		render(MoveDialog, { changeId: 7, reference: 'CHG-0007', start: new Date('2026-11-24T09:00:00Z'), end: new Date('2026-11-24T10:00:00Z'), onmoved: () => {}, onclose });
		expect(await screen.findByTestId('no-conflicts')).toBeInTheDocument();
		expect(screen.getByTestId('confirm-move')).toHaveTextContent(/^Move/);
		await fireEvent.click(screen.getByText('Cancel'));
		expect(onclose).toHaveBeenCalled();
		expect(calls).not.toContain('reschedule_change');
	});
});

describe('ScheduleCheck', () => {
	it('reports the conflicts of the form’s window and counts those in the way', async () => {
		mockIPC((cmd) => {
			if (cmd === 'check_schedule') return judged([freeze, { ...freeze, kind: 'overlaps', reason: 'overlaps CHG-0002', with: 'CHG-0002', ruleId: null, overridden: null }]);
		});
		let count = 0;
		const props = $state({ service: 'appointments-api', version: '1.9.0', environments: ['uat'], start: '2026-11-24T09:00', end: '2026-11-24T10:00', inTheWay: 0, onpick: () => {} });
		render(ScheduleCheck, props);
		expect(await screen.findByText(/Inside the freeze/)).toBeInTheDocument();
		expect(screen.getByText(/Overlaps CHG-0002/)).toBeInTheDocument();
		await waitFor(() => {
			count = props.inTheWay;
			expect(count).toBe(2);
		});
	});

	it('says what is missing instead of checking half a form', async () => {
		const calls: string[] = [];
		mockIPC((cmd) => {
			calls.push(cmd);
		});
		render(ScheduleCheck, { service: '', version: '', environments: [], start: '', end: '', onpick: () => {} });
		expect(screen.getByText(/Choose the artefact, environments and planned window/)).toBeInTheDocument();
		await new Promise((r) => setTimeout(r, 300));
		expect(calls).not.toContain('check_schedule');
	});
});
