// Words for the promotion engine's steps, states and gates, shared by the
// Promote screen, its timeline and the dashboard's rollback panel.
import type { Promotion, PromotionKind, Step, StepKind, Strategy } from '$ipc';

const STEP_LABELS: Record<StepKind, string> = {
	deploy: 'Deploy',
	smoke: 'Smoke test',
	switch: 'Switch traffic',
	soak: 'Soak',
	rolling_update: 'Rolling update',
	switch_back: 'Switch back',
	rolling_back: 'Roll the previous release out again',
	run_pipeline: 'Run the deployment pipeline'
};

export const STRATEGY_LABELS: Record<Strategy, string> = {
	blue_green: 'blue-green',
	rolling: 'rolling',
	pipeline: 'provider pipeline'
};

/** "Deploy to green", "Switch traffic to blue", "Soak". */
export function stepLabel(step: Pick<Step, 'kind' | 'leg'>): string {
	const base = STEP_LABELS[step.kind];
	if (!step.leg || step.kind === 'soak') return base;
	const preposition = step.kind === 'smoke' ? 'on' : 'to';
	return `${base} ${preposition} ${step.leg}`;
}

export const KIND_LABELS: Record<PromotionKind, string> = {
	promote: 'Promotion',
	rollback: 'Rollback',
	drill: 'Rollback drill'
};

/** One line for a finished or running promotion. */
export function outcomeLine(p: Promotion): string {
	const what = `${KIND_LABELS[p.kind]} of ${p.service} ${p.release.version} to ${p.environment}`;
	switch (p.phase) {
		case 'running':
			return `${what} is running`;
		case 'switching_back':
			return `${what} failed; switching traffic back`;
		case 'succeeded':
			return `${what} succeeded`;
		case 'failed':
			if (!p.failure) return `${what} failed`;
			if (p.failure.needsAttention && p.strategy === 'pipeline') return `${what} failed in the provider's pipeline: check what it left in ${p.environment}`;
			if (p.failure.needsAttention) return `${what} failed and traffic may not be on a healthy release: check the target now`;
			if (p.failure.switchedBack) return `${what} failed; traffic was switched back to ${p.previous?.version ?? 'the previous release'}`;
			return `${what} failed before it took traffic; ${p.previous ? `${p.previous.version} still serves` : 'nothing was live'}`;
	}
}

/** Milliseconds a step took, or has taken so far. */
export function stepDuration(step: Step, now: number): number | null {
	if (!step.firstBegan) return null;
	const start = Date.parse(step.firstBegan);
	const st = step.state;
	if (st.state === 'succeeded' || st.state === 'failed') return Date.parse(st.at) - start;
	if (st.state === 'running') return now - start;
	return null;
}

/** A key for one press of a button: the same press retried reuses it. */
export function requestKey(): string {
	return `ui-${crypto.randomUUID()}`;
}
