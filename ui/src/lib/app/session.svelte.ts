// What the whole UI knows about the running app: its status (workspace,
// database health, paths), loaded once and refreshed after actions change it.
import { call, commands, describe, type AppStatus } from '$ipc';

class Session {
	status = $state<AppStatus | null>(null);
	error = $state<{ code: string; message: string } | null>(null);
	loading = $state(true);

	async refresh() {
		try {
			this.status = await call(commands.appStatus());
			this.error = null;
		} catch (e) {
			this.error = describe(e);
		} finally {
			this.loading = false;
		}
	}
}

export const session = new Session();
