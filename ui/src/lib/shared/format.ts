// Formatting for people: relative and absolute times, durations, digests.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "12 min ago", "3 h ago", "5 d ago", "8 wk ago". */
export function relativeTime(iso: string, now: number = Date.now()): string {
	const then = Date.parse(iso);
	if (Number.isNaN(then)) return 'unknown time';
	const diff = now - then;
	// Small negative differences are clock skew between the UI and the app.
	if (diff < -MINUTE) return 'in the future';
	if (diff < MINUTE) return 'just now';
	if (diff < HOUR) return `${Math.floor(diff / MINUTE)} min ago`;
	if (diff < DAY) return `${Math.floor(diff / HOUR)} h ago`;
	if (diff < 14 * DAY) return `${Math.floor(diff / DAY)} d ago`;
	return `${Math.floor(diff / (7 * DAY))} wk ago`;
}

const absolute = new Intl.DateTimeFormat('en-GB', {
	day: 'numeric',
	month: 'short',
	year: 'numeric',
	hour: '2-digit',
	minute: '2-digit'
});

/** "22 Nov 2026, 10:30" in the person's own time zone. */
export function absoluteTime(iso: string): string {
	const then = Date.parse(iso);
	return Number.isNaN(then) ? 'unknown time' : absolute.format(then);
}

/** "140 ms", "42 s", "4 min 12 s", "1 h 5 min". */
export function duration(ms: number | null): string {
	if (ms === null || ms < 0) return '—';
	// Switches and health checks take a fraction of a second: "0 s" would hide it.
	if (Math.round(ms) < 1000) return `${Math.round(ms)} ms`;
	const seconds = Math.round(ms / 1000);
	if (seconds < 60) return `${seconds} s`;
	const minutes = Math.floor(seconds / 60);
	if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
	return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** "sha256:9f86d081" — enough to recognise, the full digest is in the title. */
export function shortDigest(digest: string): string {
	const hex = digest.startsWith('sha256:') ? digest.slice(7) : digest;
	return `sha256:${hex.slice(0, 8)}`;
}

export function shortCommit(commit: string): string {
	return commit.slice(0, 7);
}

/** The parts of an audit entry's actor, `Name <email> (profile 3)` (entries
 * written before profiles were named by id and email hold only a name, and
 * the app's own entries name the app). */
export function actorParts(actor: string): { name: string; email: string | null; profile: number | null } {
	const m = /^(.*) <([^<>]*)> \(profile (\d+)\)$/.exec(actor);
	return m ? { name: m[1], email: m[2], profile: Number(m[3]) } : { name: actor, email: null, profile: null };
}
