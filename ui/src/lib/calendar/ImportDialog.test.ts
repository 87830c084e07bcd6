import type { ImportPreview } from '$ipc';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import ImportDialog from './ImportDialog.svelte';

afterEach(() => clearMocks());

const preview: ImportPreview = {
	rules: [
		{
			imported: { uid: 'xmas@google.com', line: 12, kindGuessed: true, draft: { kind: 'freeze', title: 'Christmas freeze', zone: 'Europe/London', start: '2026-12-19T00:00:00', durationMinutes: 16 * 24 * 60, recurrence: null, exceptions: [], scope: { environments: [], services: [] } } },
			target: { replaces: null, replacesTitle: null }
		},
		{
			imported: { uid: 'weekly@google.com', line: 30, kindGuessed: false, draft: { kind: 'window', title: 'Tuesday window', zone: 'Europe/London', start: '2026-11-24T09:00:00', durationMinutes: 120, recurrence: 'FREQ=WEEKLY;BYDAY=TU', exceptions: [], scope: { environments: ['production'], services: [] } } },
			target: { replaces: 4, replacesTitle: 'Old Tuesday window' }
		}
	],
	skipped: [{ line: 50, what: 'VTODO', reason: 'only events become windows or freezes' }]
};

function file(text: string, name = 'holidays.ics') {
	return new File([text], name, { type: 'text/calendar' });
}

describe('ImportDialog', () => {
	it('shows what would be added or updated, then imports with the kinds chosen', async () => {
		const calls: { cmd: string; args: Record<string, unknown> }[] = [];
		mockIPC((cmd, args) => {
			calls.push({ cmd, args: args as Record<string, unknown> });
			if (cmd === 'preview_ics_import') return preview;
			if (cmd === 'import_ics') return { added: 1, updated: 1 };
		});
		const onimported = vi.fn();
		render(ImportDialog, { onimported, onclose: () => {} });
		await fireEvent.change(screen.getByTestId('import-file'), { target: { files: [file('BEGIN:VCALENDAR')] } });
		const table = await screen.findByTestId('import-preview');
		expect(table).toHaveTextContent('Christmas freeze');
		expect(table).toHaveTextContent('line 12');
		expect(table).toHaveTextContent('guessed');
		expect(table).toHaveTextContent('updates “Old Tuesday window”');
		expect(screen.getByText(/1 item left out/)).toBeInTheDocument();
		expect(calls.map((c) => c.cmd)).not.toContain('import_ics');
		// The guessed kind is the person's to settle.
		await fireEvent.change(screen.getByLabelText('Kind of Christmas freeze'), { target: { value: 'window' } });
		await fireEvent.click(screen.getByTestId('confirm-import'));
		await waitFor(() => expect(onimported).toHaveBeenCalledWith('Imported holidays.ics: 1 added, 1 updated.'));
		const args = calls.find((c) => c.cmd === 'import_ics')!.args;
		expect(args.fileName).toBe('holidays.ics');
		expect(args.kinds).toEqual([
			[12, 'window'],
			[30, 'window']
		]);
	});

	it('refuses a file over 1 MiB before reading it, and shows a refusal naming the line', async () => {
		const calls: string[] = [];
		mockIPC((cmd) => {
			calls.push(cmd);
			if (cmd === 'preview_ics_import') throw { code: 'invalid_ics', message: 'line 7: RRULE: the recurrence rule is not valid' };
		});
		render(ImportDialog, { onimported: () => {}, onclose: () => {} });
		const big = file('x'.repeat(1024 * 1024 + 1), 'huge.ics');
		await fireEvent.change(screen.getByTestId('import-file'), { target: { files: [big] } });
		expect(await screen.findByText(/huge.ics is 1.0 MiB/)).toBeInTheDocument();
		expect(calls).not.toContain('preview_ics_import');
		await fireEvent.change(screen.getByTestId('import-file'), { target: { files: [file('BEGIN:VCALENDAR')] } });
		expect(await screen.findByText(/Line 7: RRULE/)).toBeInTheDocument();
		expect(screen.getByTestId('confirm-import')).toBeDisabled();
	});
});
