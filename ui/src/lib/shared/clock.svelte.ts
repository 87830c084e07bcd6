// One shared clock for relative times, ticking every 30 seconds, so "5 min
// ago" stays true without each cell running its own timer.
let now = $state(Date.now());
let timer: ReturnType<typeof setInterval> | undefined;

export const clock = {
	get now() {
		if (timer === undefined && typeof window !== 'undefined') {
			timer = setInterval(() => (now = Date.now()), 30_000);
		}
		return now;
	}
};
