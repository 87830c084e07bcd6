import type { ChangeRecord, QueueItem } from '$ipc';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { people } from '$lib/app/people.svelte';
import Queue from './Queue.svelte';

afterEach(() => clearMocks());

const digest = `sha256:${'cd'.repeat(32)}`;

function record(id: number, title: string, start: string): ChangeRecord {
	return {
		id,
		reference: `CHG-000${id}`,
		kind: 'normal',
		state: 'authorise',
		template: null,
		title,
		description: '',
		services: ['payments-api'],
		environments: ['uat'],
		artefact: { service: 'payments-api', version: `2.${id}.0`, digest },
		plannedStart: start,
		plannedEnd: start,
		implementationPlan: 'Blue-green',
		backoutPlan: 'Switch back',
		testPlan: 'Smoke',
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
		approvalRequestedAt: start,
		outcome: null,
		closingNote: null,
		createdAt: start,
		updatedAt: start,
		revision: id + 10
	};
}

function item(id: number, title: string): QueueItem {
	return {
		record: record(id, title, `2026-11-2${id}T10:00:00Z`),
		risk: { computed: 'low', level: 'low', flags: [], overridden: null },
		commits: [{ sha: 'a1b2c3d4e5', summary: `Commit of ${title}`, author: 'Mei Lin' }],
		approvals: [
			{
				environment: 'uat',
				required: 1,
				approved: 0,
				missing: ['change-manager'],
				rejectedBy: [],
				request: { status: 'open', expiresAt: null },
				afterTheFact: false,
				satisfied: false,
				decisions: []
			}
		]
	};
}

function setup() {
	people.session = {
		current: { id: 2, name: 'Tom Okafor', email: 'tom@acme.example', roles: ['change-manager'] },
		profiles: [],
		knownRoles: [],
		may: ['raise_changes', 'keep_calendar', 'change_freezes'],
		refused: [],
		pending: 2,
		profileNote: ''
	};
	const calls: { cmd: string; args: Record<string, unknown> }[] = [];
	let queue = [item(1, 'Refund fix'), item(2, 'SMS retry')];
	mockIPC((cmd, args) => {
		calls.push({ cmd, args: args as Record<string, unknown> });
		if (cmd === 'approval_queue') return queue;
		if (cmd === 'session') return { ...people.session, pending: queue.length };
		if (cmd === 'decide') {
			const a = args as { id: number };
			queue = queue.filter((q) => q.record.id !== a.id);
			return { ...record(a.id, 'x', '2026-11-21T10:00:00Z'), state: 'scheduled' };
		}
		if (cmd === 'approve_many') {
			const a = args as { changes: { id: number }[] };
			queue = queue.filter((q) => !a.changes.some((c) => c.id === q.record.id));
			return { approved: a.changes.map((c) => record(c.id, 'x', '2026-11-21T10:00:00Z')), refused: [] };
		}
	});
	return calls;
}

describe('Queue', () => {
	it('moves with j and approves the current change with a, binding the revision seen', async () => {
		const calls = setup();
		render(Queue);
		await screen.findAllByTestId('queue-item');
		expect(screen.getByTestId('queue-detail')).toHaveTextContent('Refund fix');
		expect(screen.getByTestId('queue-detail')).toHaveTextContent('Commit of Refund fix');
		await fireEvent.keyDown(window, { key: 'j' });
		expect(screen.getByTestId('queue-detail')).toHaveTextContent('SMS retry');
		await fireEvent.keyDown(window, { key: 'a' });
		const field = await screen.findByLabelText('Comment (optional)');
		await fireEvent.input(field, { target: { value: 'ok' } });
		await fireEvent.keyDown(field, { key: 'Enter' });
		await waitFor(() => expect(calls.some((c) => c.cmd === 'decide')).toBe(true));
		const decide = calls.find((c) => c.cmd === 'decide')!;
		expect(decide.args).toMatchObject({ id: 2, revision: 12, verdict: 'approve', comment: 'ok' });
		expect(await screen.findByText('Approved CHG-0002: now scheduled.')).toBeInTheDocument();
		await waitFor(() => expect(screen.getAllByTestId('queue-item')).toHaveLength(1));
	});

	it('will not reject without a reason', async () => {
		const calls = setup();
		render(Queue);
		await screen.findAllByTestId('queue-item');
		await fireEvent.keyDown(window, { key: 'r' });
		const field = await screen.findByLabelText(/Reason \(required\)/);
		const dialog = screen.getByTestId('decision-dialog');
		const confirm = within(dialog).getByRole('button', { name: /^Reject/ });
		expect(confirm).toBeDisabled();
		await fireEvent.keyDown(field, { key: 'Enter' });
		expect(calls.some((c) => c.cmd === 'decide')).toBe(false);
		await fireEvent.input(field, { target: { value: 'Ship the migration first' } });
		expect(confirm).toBeEnabled();
		await fireEvent.click(confirm);
		await waitFor(() => expect(calls.find((c) => c.cmd === 'decide')?.args).toMatchObject({ verdict: 'reject', comment: 'Ship the migration first' }));
	});

	it('approves every selected change in one batch with one comment', async () => {
		const calls = setup();
		render(Queue);
		await screen.findAllByTestId('queue-item');
		await fireEvent.keyDown(window, { key: 'x' });
		await fireEvent.keyDown(window, { key: 'j' });
		await fireEvent.keyDown(window, { key: 'x' });
		await fireEvent.keyDown(window, { key: 'a' });
		expect(await screen.findByText('Approve 2 changes')).toBeInTheDocument();
		await fireEvent.keyDown(screen.getByLabelText('Comment (optional)'), { key: 'Enter' });
		await waitFor(() => expect(calls.some((c) => c.cmd === 'approve_many')).toBe(true));
		const batch = calls.find((c) => c.cmd === 'approve_many')!.args as { changes: unknown[]; comment: string };
		expect(batch.changes).toEqual([
			{ id: 1, revision: 11 },
			{ id: 2, revision: 12 }
		]);
		expect(await screen.findByText(/Nothing awaits your decision/)).toBeInTheDocument();
	});

	it('leaves a key alone when the layout already used it (the a of g a)', async () => {
		setup();
		render(Queue);
		await screen.findAllByTestId('queue-item');
		const used = new KeyboardEvent('keydown', { key: 'a', cancelable: true, bubbles: true });
		used.preventDefault();
		window.dispatchEvent(used);
		await Promise.resolve();
		expect(screen.queryByTestId('decision-dialog')).not.toBeInTheDocument();
		await fireEvent.keyDown(window, { key: 'a' });
		expect(await screen.findByTestId('decision-dialog')).toBeInTheDocument();
	});
});
