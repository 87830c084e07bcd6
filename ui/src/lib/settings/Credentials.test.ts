import type { CredentialStatus } from '$ipc';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import Credentials from './Credentials.svelte';

afterEach(() => clearMocks());

const status = (set: boolean): CredentialStatus[] => [
	{ provider: 'github', label: 'GitHub', secretKind: 'Fine-grained personal access token', set },
	{ provider: 'service_now', label: 'ServiceNow', secretKind: 'OAuth client secret', set: false }
];

describe('Credentials', () => {
	it('sends a token once and then shows only that it is set', async () => {
		let stored: string | null = null;
		mockIPC((cmd, args) => {
			if (cmd === 'credential_status') return status(false);
			if (cmd === 'set_credential') {
				const a = args as { provider: string; secret: string };
				expect(a.provider).toBe('github');
				stored = a.secret;
				return status(true);
			}
		});
		render(Credentials);
		const github = await screen.findByText('GitHub').then((el) => el.closest('li')!);
		expect(within(github).getByText('Not set')).toBeInTheDocument();
		await fireEvent.click(within(github).getByTestId('edit-secret'));
		await fireEvent.input(within(github).getByTestId('secret-input'), { target: { value: 'ghp_secret123' } });
		await fireEvent.click(within(github).getByTestId('save-secret'));
		expect(await within(github).findByText('Set')).toBeInTheDocument();
		expect(stored).toBe('ghp_secret123');
		// The form is gone and no field in the page still holds the token.
		expect(within(github).queryByTestId('secret-input')).toBeNull();
		const values = [...document.querySelectorAll('input')].map((i) => i.value);
		expect(values).not.toContain('ghp_secret123');
	});

	it('explains a locked or missing keyring', async () => {
		mockIPC((cmd) => {
			if (cmd === 'credential_status') throw { code: 'keyring_unavailable', message: 'the system keyring is unavailable or locked' };
		});
		render(Credentials);
		expect(await screen.findByRole('alert')).toHaveTextContent('unavailable or locked');
	});
});
