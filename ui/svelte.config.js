import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
	preprocess: vitePreprocess(),
	kit: {
		// A single-page app: Tauri serves index.html for every route.
		adapter: adapter({ fallback: 'index.html' }),
		alias: { $ipc: 'src/lib/ipc' }
	}
};

export default config;
