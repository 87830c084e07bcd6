import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import DatabaseRecovery from './DatabaseRecovery.svelte';

afterEach(() => clearMocks());

const problem = {
	code: 'database_corrupt',
	message: 'the database file /data/release-desk.sqlite3 is damaged',
	file: '/data/release-desk.sqlite3',
	canMoveAside: true
};

describe('DatabaseRecovery', () => {
	it('names the file and moves it aside only after confirmation', async () => {
		const calls: string[] = [];
		mockIPC((cmd) => {
			calls.push(cmd);
			return { movedTo: '/data/release-desk.sqlite3.unreadable-20261122' };
		});
		const onrecovered = vi.fn();
		render(DatabaseRecovery, { problem, onrecovered });
		expect(screen.getByTestId('database-file')).toHaveTextContent('/data/release-desk.sqlite3');
		await fireEvent.click(screen.getByTestId('move-aside'));
		expect(calls).toEqual([]);
		await fireEvent.click(screen.getByTestId('confirm-move-aside'));
		await vi.waitFor(() => expect(onrecovered).toHaveBeenCalledWith('/data/release-desk.sqlite3.unreadable-20261122'));
		expect(calls).toEqual(['move_database_aside']);
	});

	it('does not offer to move a file when that would not help', () => {
		render(DatabaseRecovery, { problem: { ...problem, code: 'database_unavailable', canMoveAside: false }, onrecovered: () => {} });
		expect(screen.queryByTestId('move-aside')).toBeNull();
		expect(screen.getByText(/RELEASE_DESK_DATA_DIR/)).toBeInTheDocument();
	});
});
