// Light and dark themes: follow the OS unless the person chose one. The OS
// preference comes from the window (GTK/macOS/Windows theme) where Tauri can
// tell, and from the CSS media query otherwise.
import type { ThemePreference } from '$ipc';
import { getCurrentWindow } from '@tauri-apps/api/window';

let preference: ThemePreference = 'system';
let osDark = typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches;

function apply() {
	const dark = preference === 'dark' || (preference === 'system' && osDark);
	document.documentElement.dataset.theme = dark ? 'dark' : 'light';
}

export function setThemePreference(next: ThemePreference) {
	preference = next;
	apply();
}

/** Starts following the OS theme; returns a function that stops it. */
export async function followOsTheme(): Promise<() => void> {
	const stops: Array<() => void> = [];
	if (typeof matchMedia === 'function') {
		const query = matchMedia('(prefers-color-scheme: dark)');
		const onChange = (event: MediaQueryListEvent) => {
			osDark = event.matches;
			apply();
		};
		query.addEventListener('change', onChange);
		stops.push(() => query.removeEventListener('change', onChange));
	}
	try {
		const window = getCurrentWindow();
		const theme = await window.theme();
		if (theme) osDark = theme === 'dark';
		stops.push(
			await window.onThemeChanged(({ payload }) => {
				osDark = payload === 'dark';
				apply();
			})
		);
	} catch {
		// Outside the app window (component tests) the media query is enough.
	}
	apply();
	return () => stops.forEach((stop) => stop());
}
