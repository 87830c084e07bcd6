import { mockIPC, clearMocks } from '@tauri-apps/api/mocks';
import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import Welcome from './Welcome.svelte';

afterEach(() => clearMocks());

describe('Welcome (empty state)', () => {
	it('loads the demo workspace through the typed command', async () => {
		const calls: string[] = [];
		mockIPC((cmd) => {
			calls.push(cmd);
			if (cmd === 'load_demo_workspace') {
				return { name: 'Acme Health demo', demo: true, createdAt: new Date().toISOString(), services: 10, environments: 5, deployments: 400 };
			}
		});
		const onloaded = vi.fn();
		render(Welcome, { onloaded });
		await fireEvent.click(screen.getByTestId('load-demo'));
		await vi.waitFor(() => expect(onloaded).toHaveBeenCalled());
		expect(calls).toEqual(['load_demo_workspace']);
	});

	it('shows the error a person can act on when loading fails', async () => {
		mockIPC((cmd) => {
			if (cmd === 'load_demo_workspace') throw { code: 'workspace_not_empty', message: 'this workspace already has data' };
		});
		const onloaded = vi.fn();
		render(Welcome, { onloaded });
		await fireEvent.click(screen.getByTestId('load-demo'));
		expect(await screen.findByRole('alert')).toHaveTextContent('This workspace already has data.');
		expect(onloaded).not.toHaveBeenCalled();
	});
});
