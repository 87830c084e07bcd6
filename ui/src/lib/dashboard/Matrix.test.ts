import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import Matrix from './Matrix.svelte';
import { dashboard } from './fixtures';

describe('Matrix', () => {
	it('shows every service against every stage with version, drift and outcome in words', () => {
		render(Matrix, { dashboard, filter: '', selected: null, onselect: () => {} });
		expect(screen.getAllByTestId('service-row')).toHaveLength(2);
		expect(screen.getAllByTestId('stage-header').map((h) => h.textContent)).toEqual([
			expect.stringContaining('Development'),
			expect.stringContaining('Test'),
			expect.stringContaining('Production')
		]);
		const test = screen.getByRole('button', { name: /payments-api in Test/ });
		expect(within(test).getByTestId('cell-version')).toHaveTextContent('1.3.0');
		expect(within(test).getByTestId('cell-drift')).toHaveTextContent('3 behind');
		expect(within(test).getByTestId('cell-status')).toHaveTextContent('Failed');
		expect(within(test).getByTestId('cell-status')).toHaveTextContent('1.4.0');
		const prod = screen.getByRole('button', { name: /identity-service in Production/ });
		expect(within(prod).getByTestId('cell-drift')).toHaveTextContent('Ahead');
		expect(screen.getByRole('button', { name: /identity-service in Test/ })).toHaveTextContent('Not deployed');
	});

	it('describes each cell fully for screen readers', () => {
		render(Matrix, { dashboard, filter: '', selected: null, onselect: () => {} });
		const label = screen.getByRole('button', { name: /payments-api in Test/ }).getAttribute('aria-label');
		expect(label).toMatch(/runs 1\.3\.0/);
		expect(label).toMatch(/last deployment of 1\.4\.0 failed/);
		expect(label).toMatch(/3 builds waiting/);
	});

	it('filters services by name, key or team', () => {
		render(Matrix, { dashboard, filter: 'platform', selected: null, onselect: () => {} });
		expect(screen.getAllByTestId('service-row')).toHaveLength(1);
		expect(screen.getByText('Identity service')).toBeInTheDocument();
	});

	it('says when no service matches the filter', () => {
		render(Matrix, { dashboard, filter: 'zzz', selected: null, onselect: () => {} });
		expect(screen.getByText(/No service matches/)).toBeInTheDocument();
	});

	it('moves focus with the arrow keys and opens a cell on click', async () => {
		const onselect = vi.fn();
		render(Matrix, { dashboard, filter: '', selected: null, onselect });
		const first = screen.getByRole('button', { name: /payments-api in Development/ });
		first.focus();
		await fireEvent.keyDown(first, { key: 'ArrowRight' });
		expect(document.activeElement).toBe(screen.getByRole('button', { name: /payments-api in Test/ }));
		await fireEvent.keyDown(document.activeElement!, { key: 'ArrowDown' });
		expect(document.activeElement).toBe(screen.getByRole('button', { name: /identity-service in Test/ }));
		await fireEvent.click(document.activeElement!);
		expect(onselect).toHaveBeenCalledWith('identity-service', 'test');
	});
});
