// Labels, tones and icons for change states, types and risk: colour always
// comes with a word (and an icon where it helps), never alone.
import type { ChangeState, ChangeType, RiskLevel, CloseOutcome } from '$ipc';

export const states: Record<ChangeState, { label: string; tone: string }> = {
	new: { label: 'New', tone: 'neutral' },
	assess: { label: 'Assess', tone: 'running' },
	authorise: { label: 'Authorise', tone: 'behind' },
	scheduled: { label: 'Scheduled', tone: 'running' },
	implement: { label: 'Implement', tone: 'running' },
	review: { label: 'Review', tone: 'ahead' },
	closed: { label: 'Closed', tone: 'ok' },
	cancelled: { label: 'Cancelled', tone: 'neutral' }
};

export const lifecycle: ChangeState[] = ['new', 'assess', 'authorise', 'scheduled', 'implement', 'review', 'closed'];

export const kinds: Record<ChangeType, { label: string; hint: string }> = {
	standard: { label: 'Standard', hint: 'Pre-approved, from a template; no approval step' },
	normal: { label: 'Normal', hint: 'Assessed and authorised under the environment’s policy' },
	emergency: { label: 'Emergency', hint: 'Expedited; approvals may follow in the post-implementation review' }
};

export const risks: Record<RiskLevel, { label: string; tone: string }> = {
	low: { label: 'Low risk', tone: 'ok' },
	medium: { label: 'Medium risk', tone: 'behind' },
	high: { label: 'High risk', tone: 'fail' }
};

export const outcomesOnClose: Record<CloseOutcome, string> = {
	successful: 'Successful',
	successfulWithIssues: 'Successful with issues',
	failed: 'Failed',
	rolledBack: 'Rolled back'
};

/** Names of the steps a person can take on a change, as buttons say them. */
export const stepLabels: Record<string, string> = {
	submit: 'Submit for assessment',
	request_approval: 'Request approval',
	schedule: 'Schedule',
	start: 'Start implementation',
	complete: 'Implementation done',
	close: 'Close…',
	rework: 'Back to assessment',
	cancel: 'Cancel change…'
};

/** "audit" lines in plain words. */
export function describeAction(action: string, detail: string): string {
	let d: Record<string, unknown> = {};
	try {
		d = JSON.parse(detail);
	} catch {
		return action;
	}
	switch (action) {
		case 'change.raised':
			return `Raised ${String(d.kind ?? '')} change for ${String(d.artefact ?? '')}`;
		case 'change.transition':
			return `${cap(String(d.from))} → ${cap(String(d.to))}${d.reason ? ` (${String(d.reason)})` : ''}${d.note ? `: ${String(d.note)}` : ''}${d.approval ? ` — approval ${String(d.approval)}` : ''}`;
		case 'change.decision':
			return `${d.verdict === 'approve' ? 'Approved' : 'Rejected'}${d.comment ? `: “${String(d.comment)}”` : ''}`;
		case 'change.edited':
			return `Edited ${(d.changed as string[] | undefined)?.join(', ') ?? ''}${d.digestTo ? ' — new artefact; earlier approvals are void' : ''}`;
		case 'change.risk_overridden':
			return `Risk overridden from ${String(d.computed)} to ${String(d.level)}: ${String(d.reason)}`;
		case 'change.rescheduled': {
			const to = d.to as { start?: string; end?: string } | undefined;
			return `Moved to ${to?.start ? when(to.start) : '?'} – ${to?.end ? when(to.end) : '?'}`;
		}
		case 'calendar.freeze_overridden':
			return `Let go ahead during the freeze “${String(d.freeze)}”: ${String(d.reason)}`;
		default:
			return action;
	}
}

function when(iso: string) {
	return new Date(iso).toLocaleString(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
}

function cap(s: string) {
	return s.charAt(0).toUpperCase() + s.slice(1);
}
