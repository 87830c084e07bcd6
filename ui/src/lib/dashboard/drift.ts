// Words for drift between a stage and the one before it.
import type { Drift } from '$ipc';

export function driftLabel(drift: Drift): string | null {
	switch (drift.kind) {
		case 'behind':
			return `${drift.builds} behind`;
		case 'ahead':
			return 'Ahead';
		default:
			return null;
	}
}

export function driftExplanation(drift: Drift, previousStage: string | null): string | null {
	switch (drift.kind) {
		case 'behind':
			return `${previousStage ?? 'The previous stage'} runs a newer build: ${drift.builds} build${drift.builds === 1 ? '' : 's'} waiting to be promoted here.`;
		case 'ahead':
			return `This version is not running in ${previousStage ?? 'the previous stage'}: it skipped that stage or that stage was rolled back.`;
		case 'level':
			return `Same artefact as ${previousStage ?? 'the previous stage'}.`;
		default:
			return null;
	}
}
