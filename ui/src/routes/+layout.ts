// A single-page app rendered in the webview: no server-side rendering.
export const ssr = false;
export const prerender = false;
