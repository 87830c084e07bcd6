import { render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import Timeline from './Timeline.svelte';
import { step, switchedBack } from './fixtures';

describe('Timeline', () => {
	it('says what failed, why, and what traffic was switched back to', () => {
		render(Timeline, { promotion: switchedBack() });
		expect(screen.getByTestId('promotion-outcome')).toHaveTextContent(
			'Promotion of demo-web 1.3.0 to dev failed; traffic was switched back to 1.1.0'
		);
		const failure = screen.getByTestId('promotion-failure');
		expect(failure).toHaveTextContent('Soak failed: sample 2: error rate 100.0%');
		expect(failure).toHaveTextContent('Traffic is back on 1.1.0 (blue leg)');
		const steps = screen.getAllByTestId('step');
		expect(steps.map((s) => [s.dataset.kind, s.dataset.state])).toEqual([
			['deploy', 'succeeded'],
			['smoke', 'succeeded'],
			['switch', 'succeeded'],
			['soak', 'failed'],
			['switch_back', 'succeeded']
		]);
		expect(steps[4]).toHaveTextContent('Switch back to blue');
		expect(steps[4]).toHaveTextContent('after the failure');
		expect(screen.getByTestId('soak-samples')).toHaveTextContent('Sample 2: 40 requests, 40 errors (100.0%)');
	});

	it('says traffic never moved when a smoke test stops a release', () => {
		const p = switchedBack();
		p.steps = [
			p.steps[0],
			step('smoke', 'green', { state: 'failed', at: '2026-11-22T10:00:02Z', reason: 'smoke tests failed on green: GET /healthz → 500' }),
			step('switch', 'green', { state: 'skipped', reason: 'not run: smoke failed' }),
			step('soak', 'green', { state: 'skipped', reason: 'not run: smoke failed' })
		];
		p.samples = [];
		p.failure = { step: 'smoke', reason: 'smoke tests failed on green: GET /healthz → 500', switchedBack: false, needsAttention: false };
		render(Timeline, { promotion: p });
		expect(screen.getByTestId('promotion-outcome')).toHaveTextContent('failed before it took traffic; 1.1.0 still serves');
		expect(screen.getByTestId('promotion-failure')).toHaveTextContent('Smoke test failed: GET /healthz → 500');
		expect(screen.getByTestId('promotion-failure')).toHaveTextContent('Traffic never left 1.1.0.');
		expect(screen.getAllByTestId('step').filter((s) => s.dataset.state === 'skipped')).toHaveLength(2);
	});

	it('follows a pipeline run job by job, with a link to the run', () => {
		const p = switchedBack();
		p.strategy = 'pipeline';
		p.phase = 'running';
		p.failure = null;
		p.finishedAt = null;
		p.samples = [];
		p.steps = [
			step('run_pipeline', null, { state: 'running', since: '2026-11-22T10:00:00Z' }, {
				run: { id: '9001', link: 'https://github.com/acme/web/actions/runs/9001' },
				progress: {
					state: { state: 'waiting', detail: 'waiting for reviewers of production' },
					link: 'https://github.com/acme/web/actions/runs/9001',
					jobs: [
						{ name: 'build', status: 'success', steps: [{ name: 'Check the digest', status: 'success' }] },
						{ name: 'deploy', status: 'waiting', steps: [] }
					]
				}
			})
		];
		render(Timeline, { promotion: p });
		expect(screen.getByTestId('promotion-outcome')).toHaveTextContent('provider pipeline');
		const run = screen.getByTestId('pipeline-run');
		expect(run).toHaveTextContent('Run 9001');
		expect(screen.getByTestId('run-state')).toHaveTextContent('Waiting: waiting for reviewers of production');
		expect(screen.getByTestId('run-link')).toHaveTextContent('github.com/acme/web/actions/runs/9001');
		const jobs = screen.getAllByTestId('run-job');
		expect(jobs.map((j) => j.className.split(' ').filter((c) => ['ok', 'fail', 'running', 'idle'].includes(c))[0])).toEqual(['ok', 'idle']);
		expect(jobs[0]).toHaveTextContent('Check the digest');
		expect(screen.getAllByTestId('step')[0]).toHaveTextContent('Run the deployment pipeline');
	});

	it('asks a person to check the environment when a pipeline run fails', () => {
		const p = switchedBack();
		p.strategy = 'pipeline';
		p.steps = [step('run_pipeline', null, { state: 'failed', at: '2026-11-22T10:00:09Z', reason: 'pipeline run 9001 failed: the job deploy failed' })];
		p.failure = { step: 'run_pipeline', reason: 'pipeline run 9001 failed: the job deploy failed', switchedBack: false, needsAttention: true };
		render(Timeline, { promotion: p });
		expect(screen.getByTestId('promotion-outcome')).toHaveTextContent("failed in the provider's pipeline: check what it left in dev");
	});
});
