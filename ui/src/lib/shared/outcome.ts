// How each deployment outcome is shown: always an icon and words, with colour
// as a third, redundant cue.
import type { Outcome } from '$ipc';
import { CircleCheck, CircleX, LoaderCircle, Undo2 } from '@lucide/svelte';

export const outcomes: Record<Outcome, { label: string; icon: typeof CircleCheck; tone: string }> = {
	succeeded: { label: 'Succeeded', icon: CircleCheck, tone: 'ok' },
	failed: { label: 'Failed', icon: CircleX, tone: 'fail' },
	in_progress: { label: 'In progress', icon: LoaderCircle, tone: 'running' },
	rolled_back: { label: 'Rolled back', icon: Undo2, tone: 'rollback' }
};
