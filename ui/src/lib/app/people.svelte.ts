// Who is using the app (the local profile every decision is recorded
// against), who else is here, and how many approvals await them.
import { call, commands, describe, type Action, type Session } from '$ipc';

class People {
	session = $state<Session | null>(null);
	error = $state<string | null>(null);
	picking = $state(false);

	get current() {
		return this.session?.current ?? null;
	}

	/** Whether the current person may take `action`: the store's decision,
	 * sent with the session; the UI never works it out from roles. */
	may(action: Action): boolean {
		return !!this.session?.may.includes(action);
	}

	/** Why `action` is refused for the current person, or null. */
	whyNot(action: Action): string | null {
		if (!this.session?.current) return 'Choose who you are first (top right).';
		return this.session.refused.find((r) => r.action === action)?.reason ?? null;
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
