import type { CalendarView, ChangeSummary, Environment, PlannedChange } from '$ipc';
import { describe, expect, it } from 'vitest';
import { blocking, environmentColour, MONTH_CHANGES_PER_DAY, noFilters, toEvents } from './events';

const envs: Environment[] = [
	{ key: 'dev', name: 'Development', production: false },
	{ key: 'uat', name: 'UAT', production: false },
	{ key: 'production', name: 'Production', production: true }
];
const digest = `sha256:${'ab'.repeat(32)}`;

function planned(id: number, env: string, service: string, conflicts: PlannedChange['conflicts'] = []): PlannedChange {
	return {
		booking: { id, reference: `CHG-000${id}`, service, environment: env, stage: envs.findIndex((e) => e.key === env), production: env === 'production', digest, start: '2026-11-24T10:00:00Z', end: '2026-11-24T11:00:00Z', overrides: [] },
		conflicts
	};
}

function summary(id: number, kind: ChangeSummary['kind'], state: ChangeSummary['state']): ChangeSummary {
	return { id, reference: `CHG-000${id}`, kind, state, title: `Change ${id}`, service: 'payments-api', version: '1.0.0', environments: ['uat'], plannedStart: '2026-11-24T10:00:00Z', plannedEnd: '2026-11-24T11:00:00Z', requesterName: 'Priya Shah', risk: 'high', updatedAt: '2026-11-22T10:00:00Z', revision: 3 };
}

const freeze = {
	kind: 'inFreeze' as const,
	reason: "inside the freeze 'UAT refresh'",
	with: 'UAT refresh',
	ruleId: 3,
	overridden: null
};

const view: CalendarView = {
	from: '2026-11-23T00:00:00Z',
	to: '2026-11-30T00:00:00Z',
	occurrences: [
		{ ruleId: 1, kind: 'window', title: 'Prod window', zone: 'Europe/London', scope: { environments: ['production'], services: [] }, occurrence: { start: '2026-11-24T09:00:00Z', end: '2026-11-24T13:00:00Z' } },
		{ ruleId: 3, kind: 'freeze', title: 'UAT refresh', zone: 'UTC', scope: { environments: ['uat'], services: [] }, occurrence: { start: '2026-11-24T09:00:00Z', end: '2026-11-24T12:00:00Z' } }
	],
	changes: [planned(1, 'uat', 'payments-api', [freeze]), planned(2, 'production', 'identity-service')]
};

describe('calendar events', () => {
	it('shades windows and freezes in the week, labels freezes in the month, and draws each change once per environment', () => {
		const summaries = [summary(1, 'normal', 'authorise'), summary(2, 'standard', 'scheduled')];
		const week = toEvents(view, summaries, envs, noFilters, 'week');
		expect(week.map((e) => e.id)).toEqual(['rule-1-2026-11-24T09:00:00Z-bg', 'rule-3-2026-11-24T09:00:00Z-bg', 'change-1-uat', 'change-2-production']);
		expect(week[0].display).toBe('background');
		const month = toEvents(view, summaries, envs, noFilters, 'month');
		expect(month.map((e) => e.id)).toEqual(['rule-3-2026-11-24T09:00:00Z', 'change-1-uat', 'change-2-production']);
		const [freezeBar, uat, prod] = month;
		expect(freezeBar.title).toBe('Freeze: UAT refresh');
		expect(freezeBar.editable).toBe(false);
		expect(uat.classNames).toContain('rd-conflict');
		expect(uat.title).toBe('CHG-0001 Change 1');
		expect(uat.startEditable).toBe(true);
		// A scheduled standard change was pre-approved as it stands: not draggable.
		expect(prod.startEditable).toBe(false);
		expect(prod.classNames).toContain('rd-clear');
		expect(prod.backgroundColor).toBe(environmentColour(envs[2], envs));
		expect(uat.backgroundColor).not.toBe(prod.backgroundColor);
	});

	it('draws the first few changes of a busy day in the month and counts the rest, with their conflicts', () => {
		const busy: PlannedChange[] = Array.from({ length: MONTH_CHANGES_PER_DAY + 3 }, (_, i) => {
			const p = planned(10 + i, 'dev', 'payments-api', i >= MONTH_CHANGES_PER_DAY + 1 ? [freeze] : []);
			const at = `2026-11-25T${String(8 + i).padStart(2, '0')}:00:00Z`;
			return { ...p, booking: { ...p.booking, start: at, end: at.replace(':00:00Z', ':30:00Z') } };
		});
		const month = toEvents({ ...view, occurrences: [], changes: busy }, [], envs, noFilters, 'month');
		expect(month.filter((e) => e.id.startsWith('change')).map((e) => e.id)).toEqual(['change-10-dev', 'change-11-dev', 'change-12-dev']);
		const more = month.find((e) => e.id.startsWith('more'))!;
		expect(more.title).toBe('+3 more');
		expect(more.extendedProps.subject).toMatchObject({ type: 'more', count: 3, conflicted: 2 });
		// The week and the agenda draw every one.
		expect(toEvents({ ...view, occurrences: [], changes: busy }, [], envs, noFilters, 'week')).toHaveLength(busy.length);
	});

	it('filters by environment, service and type, keeping rules that apply to all', () => {
		const summaries = [summary(1, 'normal', 'authorise'), summary(2, 'standard', 'scheduled')];
		const prodOnly = toEvents(view, summaries, envs, { ...noFilters, environment: 'production' }, 'week');
		expect(prodOnly.map((e) => e.id)).toEqual(['rule-1-2026-11-24T09:00:00Z-bg', 'change-2-production']);
		const bySvc = toEvents(view, summaries, envs, { ...noFilters, service: 'identity-service' });
		expect(bySvc.filter((e) => e.id.startsWith('change')).map((e) => e.id)).toEqual(['change-2-production']);
		const normal = toEvents(view, summaries, envs, { ...noFilters, kind: 'normal' });
		expect(normal.filter((e) => e.id.startsWith('change')).map((e) => e.id)).toEqual(['change-1-uat']);
	});

	it('an overridden freeze is shown but does not count as in the way', () => {
		const overridden = { ...freeze, overridden: { ruleId: 3, occurrenceStart: '2026-11-24T09:00:00Z', by: 'Tom Okafor', reason: 'Deadline', at: '2026-11-22T10:00:00Z' } };
		expect(blocking([freeze, overridden])).toEqual([freeze]);
		const v = { ...view, changes: [planned(1, 'uat', 'payments-api', [overridden])] };
		const [change] = toEvents(v, [summary(1, 'normal', 'authorise')], envs, noFilters).filter((e) => e.id.startsWith('change'));
		expect(change.classNames).toContain('rd-clear');
	});
});

describe('wall-clock times in a zone', () => {
	it('finds the instant on both sides of London’s clock changes and in a zone without DST', async () => {
		const { zonedToUtc, untilInZone } = await import('./events');
		expect(new Date(zonedToUtc('2027-03-27', '22:00', 'Europe/London')!).toISOString()).toBe('2027-03-27T22:00:00.000Z');
		expect(new Date(zonedToUtc('2027-03-28', '06:00', 'Europe/London')!).toISOString()).toBe('2027-03-28T05:00:00.000Z');
		// 22:00 to 06:00 across the spring change is seven hours, not eight.
		expect((zonedToUtc('2027-03-28', '06:00', 'Europe/London')! - zonedToUtc('2027-03-27', '22:00', 'Europe/London')!) / 3_600_000).toBe(7);
		expect(new Date(zonedToUtc('2026-10-25', '12:00', 'Europe/London')!).toISOString()).toBe('2026-10-25T12:00:00.000Z');
		expect(new Date(zonedToUtc('2026-07-01', '09:00', 'America/New_York')!).toISOString()).toBe('2026-07-01T13:00:00.000Z');
		expect(new Date(zonedToUtc('2026-07-01', '09:00', 'Asia/Kolkata')!).toISOString()).toBe('2026-07-01T03:30:00.000Z');
		expect(zonedToUtc('2026-07-01', '09:00', 'Mars/Olympus')).toBeNull();
		// The last day's end in Los Angeles is the next morning in UTC.
		expect(untilInZone('2026-12-31', 'America/Los_Angeles')).toBe('20270101T075959Z');
	});
});
