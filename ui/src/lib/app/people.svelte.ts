// Who is using the app (the local profile every decision is recorded
// against), who else is here, and how many approvals await them.
import { call, commands, describe, type Session } from '$ipc';

class People {
	session = $state<Session | null>(null);
	error = $state<string | null>(null);
	picking = $state(false);

	get current() {
		return this.session?.current ?? null;
	}

	get pending() {
		return this.session?.pending ?? 0;
	}

	async refresh() {
		try {
			this.session = await call(commands.session());
			this.error = null;
		} catch (e) {
			this.error = describe(e).message;
		}
	}
}

export const people = new People();
