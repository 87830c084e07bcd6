// The calendar's data as the event-calendar component draws it: release
// windows and freezes as shaded backgrounds (freezes also as a labelled bar),
// and each planned change once per environment, coloured by environment and
// labelled with its risk and conflicts in words.
import type { CalendarView, ChangeState, ChangeSummary, ChangeType, Conflict, Environment, PlannedChange, RuleOccurrence } from '$ipc';

export type Filters = { service: string; environment: string; kind: ChangeType | '' };

export const noFilters: Filters = { service: '', environment: '', kind: '' };

/** What an event on the calendar stands for, kept in its extendedProps. */
export type Subject =
	| { type: 'change'; planned: PlannedChange; summary: ChangeSummary | null; environment: Environment | null }
	| { type: 'rule'; occurrence: RuleOccurrence }
	| { type: 'more'; day: Date; count: number; conflicted: number };

/** How a view draws: the week view shades windows and freezes behind the
 * changes; the month view labels freezes and shows the first few changes of
 * a day with a "+N more" for the rest; the agenda lists everything. */
export type Layout = 'month' | 'week' | 'agenda';

/** Lines a month cell shows before "+N more" (freeze bars take theirs first,
 * leaving at least one change): what fits in a cell. The
 * calendar component measures every event it lays out (a reflow each), so
 * handing it all of a busy day's changes only to hide most of them made a
 * month of 2,000 take seconds; the rest are counted, not drawn. */
export const MONTH_CHANGES_PER_DAY = 3;

export type CalendarEvent = {
	id: string;
	start: Date;
	end: Date;
	title: string;
	allDay?: boolean;
	display?: 'auto' | 'background';
	editable?: boolean;
	startEditable?: boolean;
	durationEditable?: boolean;
	classNames?: string[];
	backgroundColor?: string;
	textColor?: string;
	extendedProps: { subject: Subject };
};

// One hue per stage of the path to live, in order. Chosen
// to stay apart from the status colours (green ok, red fail) and readable in
// both themes as a left border and tint.
const palette = ['#0d9488', '#2563eb', '#7c3aed', '#c2410c', '#be185d', '#4d7c0f', '#0369a1'];

export function environmentColour(env: Environment | null | undefined, all: Environment[]): string {
	if (!env) return '#64748b';
	const index = all.findIndex((e) => e.key === env.key);
	return palette[(index < 0 ? 0 : index) % palette.length];
}

/** States in which a change still has a place on the calendar (the store books the same). */
export const bookedStates: ChangeState[] = ['new', 'assess', 'authorise', 'scheduled', 'implement'];

/** Whether a change may still be moved: not once it runs, and not a scheduled
 * standard change (pre-approved exactly as it stands). */
export function isMovable(s: ChangeSummary | null): boolean {
	return !!s && ['new', 'assess', 'authorise', 'scheduled'].includes(s.state) && !(s.kind === 'standard' && s.state === 'scheduled');
}

/** The conflicts of a change checked in several environments, as one list
 * (each reason says which environment when there is more than one). */
export function flatConflicts(judged: PlannedChange[]): Conflict[] {
	return judged.flatMap((p) => p.conflicts.map((c) => (judged.length > 1 ? { ...c, reason: `in ${p.booking.environment}, ${c.reason}` } : c)));
}

/** Conflicts still in the way (an overridden freeze is shown, not counted). */
export function blocking(conflicts: Conflict[]): Conflict[] {
	return conflicts.filter((c) => !c.overridden);
}

function ruleApplies(o: RuleOccurrence, f: Filters): boolean {
	const envOk = !f.environment || o.scope.environments.length === 0 || o.scope.environments.includes(f.environment);
	const svcOk = !f.service || o.scope.services.length === 0 || o.scope.services.includes(f.service);
	return envOk && svcOk;
}

function changeApplies(p: PlannedChange, summary: ChangeSummary | null, f: Filters): boolean {
	return (
		(!f.environment || p.booking.environment === f.environment) &&
		(!f.service || p.booking.service === f.service) &&
		(!f.kind || summary?.kind === f.kind)
	);
}

export function toEvents(view: CalendarView, summaries: ChangeSummary[], environments: Environment[], f: Filters, layout: Layout = 'month'): CalendarEvent[] {
	const freezeBars = layout !== 'week';
	const backgrounds = layout === 'week';
	const byId = new Map(summaries.map((s) => [s.id, s]));
	const events: CalendarEvent[] = [];
	for (const o of view.occurrences) {
		if (!ruleApplies(o, f)) continue;
		const base = {
			start: new Date(o.occurrence.start),
			end: new Date(o.occurrence.end),
			editable: false,
			extendedProps: { subject: { type: 'rule', occurrence: o } as Subject }
		};
		const id = `rule-${o.ruleId}-${o.occurrence.start}`;
		if (backgrounds) {
			events.push({
				...base,
				id: `${id}-bg`,
				title: o.title,
				display: 'background',
				classNames: [o.kind === 'freeze' ? 'rd-freeze-bg' : 'rd-window-bg']
			});
		}
		if (o.kind === 'freeze' && freezeBars) {
			// Backgrounds carry no text: the freeze is also a labelled bar.
			events.push({ ...base, id, title: `Freeze: ${o.title}`, classNames: ['rd-freeze'] });
		}
	}
	// A month cell holds a few lines: freeze bars first, then changes.
	const barsPerDay = new Map<string, number>();
	if (layout === 'month') {
		for (const o of view.occurrences) {
			if (o.kind !== 'freeze' || !ruleApplies(o, f)) continue;
			const end = new Date(o.occurrence.end).getTime();
			const day = new Date(o.occurrence.start);
			for (let d = new Date(day.getFullYear(), day.getMonth(), day.getDate()); d.getTime() < end; d = new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1)) {
				barsPerDay.set(d.toDateString(), (barsPerDay.get(d.toDateString()) ?? 0) + 1);
			}
		}
	}
	const perDay = new Map<string, { shown: number; hidden: number; conflicted: number; day: Date }>();
	const ordered = [...view.changes].sort((a, b) => a.booking.start.localeCompare(b.booking.start) || a.booking.id - b.booking.id);
	for (const p of ordered) {
		const summary = byId.get(p.booking.id) ?? null;
		if (!changeApplies(p, summary, f)) continue;
		if (layout === 'month') {
			const start = new Date(p.booking.start);
			const key = start.toDateString();
			const day = perDay.get(key) ?? { shown: 0, hidden: 0, conflicted: 0, day: new Date(start.getFullYear(), start.getMonth(), start.getDate()) };
			perDay.set(key, day);
			if (day.shown >= Math.max(1, MONTH_CHANGES_PER_DAY - (barsPerDay.get(key) ?? 0))) {
				day.hidden += 1;
				if (blocking(p.conflicts).length) day.conflicted += 1;
				continue;
			}
			day.shown += 1;
		}
		const environment = environments.find((e) => e.key === p.booking.environment) ?? null;
		const inTheWay = blocking(p.conflicts).length;
		events.push({
			id: `change-${p.booking.id}-${p.booking.environment}`,
			start: new Date(p.booking.start),
			end: new Date(p.booking.end),
			title: `${p.booking.reference} ${summary?.title ?? p.booking.service}`,
			startEditable: isMovable(summary),
			durationEditable: false,
			classNames: ['rd-change', inTheWay ? 'rd-conflict' : 'rd-clear', `rd-risk-${summary?.risk ?? 'low'}`],
			backgroundColor: environmentColour(environment, environments),
			textColor: '#ffffff',
			extendedProps: { subject: { type: 'change', planned: p, summary, environment } }
		});
	}
	for (const [key, d] of perDay) {
		if (!d.hidden) continue;
		events.push({
			id: `more-${key}`,
			start: new Date(d.day.getTime() + 23 * 3_600_000 + 59 * 60_000),
			end: new Date(d.day.getTime() + 24 * 3_600_000 - 1),
			title: `+${d.hidden} more`,
			editable: false,
			classNames: ['rd-more'],
			extendedProps: { subject: { type: 'more', day: d.day, count: d.hidden, conflicted: d.conflicted } }
		});
	}
	return events;
}

/** The range a view needs, as ISO strings for the command. */
export function rangeOf(start: Date, end: Date): { from: string; to: string } {
	return { from: start.toISOString(), to: end.toISOString() };
}

const fmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const fmtTime = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

/** "Tue 24 Nov, 09:00 – 11:00" (the end's date only when it differs). */
export function span(start: string | Date, end: string | Date): string {
	const s = new Date(start);
	const e = new Date(end);
	const sameDay = s.toDateString() === e.toDateString();
	return `${fmt.format(s)} – ${sameDay ? fmtTime.format(e) : fmt.format(e)}`;
}

/** A wall-clock time in the rule's own zone, e.g. "09:00 Europe/London". */
export function inZone(iso: string, zone: string): string {
	try {
		const f = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: zone, timeZoneName: 'short' });
		return f.format(new Date(iso));
	} catch {
		return fmt.format(new Date(iso));
	}
}

export function minutesBetween(start: string | Date, end: string | Date): number {
	return Math.round((new Date(end).getTime() - new Date(start).getTime()) / 60000);
}

/** A short label for an environment on a busy calendar: "dev", "uat", "prod". */
export function shortEnv(key: string): string {
	return key === 'production' ? 'prod' : key.length <= 7 ? key : key.slice(0, 4);
}

/** The next quarter hour from `now`: a time a person would plan for. */
export function nextQuarter(now = Date.now()): Date {
	const q = 15 * 60_000;
	return new Date(Math.ceil(now / q) * q);
}

/**
 * The instant (ms since the epoch) at which a wall-clock time happens in an
 * IANA zone, e.g. 01:30 on 28 March 2027 in Europe/London. Written here
 * because JavaScript has no zoned-time parsing yet (Temporal is not in
 * WebKitGTK): guess the instant as if the time were UTC, read the zone's
 * offset there, correct, and read it again (twice settles DST edges).
 * A time in a skipped hour lands an hour later, as it will on the clock.
 * Returns null for a zone the browser does not know.
 */
export function zonedToUtc(date: string, time: string, zone: string): number | null {
	const guess = Date.parse(`${date}T${time.length === 5 ? `${time}:00` : time}Z`);
	if (Number.isNaN(guess)) return null;
	let format: Intl.DateTimeFormat;
	try {
		format = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
	} catch {
		return null;
	}
	const offset = (t: number) => {
		const parts = Object.fromEntries(format.formatToParts(new Date(t)).map((p) => [p.type, p.value]));
		const asUtc = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
		return asUtc - t;
	};
	const first = guess - offset(guess);
	return guess - offset(first);
}

/** A date's end of day in a zone, as an RRULE UNTIL (UTC, `YYYYMMDDTHHMMSSZ`). */
export function untilInZone(date: string, zone: string): string | null {
	const t = zonedToUtc(date, '23:59:59', zone);
	if (t === null) return null;
	return new Date(t).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}
