//! The main window: its title, and WebKit settings that keep memory down.

use tauri::{Runtime, WebviewWindow};

/// "Release Desk — <workspace> (3 awaiting you)", so the workspace and the
/// pending approvals show in the task switcher.
pub(crate) fn set_title<R: Runtime>(
    window: &WebviewWindow<R>,
    workspace: Option<&str>,
    pending: usize,
) {
    let mut title = match workspace {
        Some(name) => format!("Release Desk — {name}"),
        None => "Release Desk".to_owned(),
    };
    if pending > 0 {
        title.push_str(&format!(" ({pending} awaiting you)"));
    }
    if let Err(error) = window.set_title(&title) {
        tracing::warn!(%error, "could not set the window title");
    }
}

/// The app shows one local page: WebKit's back-forward page cache and its
/// browser-sized resource caches only cost memory here.
pub(crate) fn tune_webview<R: Runtime>(window: &WebviewWindow<R>) {
    #[cfg(target_os = "linux")]
    {
        let result = window.with_webview(|webview| {
            use webkit2gtk::{CacheModel, SettingsExt, WebContextExt, WebViewExt};
            let view = webview.inner();
            if let Some(context) = view.context() {
                context.set_cache_model(CacheModel::DocumentViewer);
            }
            if let Some(settings) = WebViewExt::settings(&view) {
                settings.set_enable_page_cache(false);
            }
        });
        if let Err(error) = result {
            tracing::warn!(%error, "could not tune the webview");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}

/// WebKitGTK's accelerated compositing keeps GPU-style backing stores for every
/// layer; without a GPU (software GL) they live in the web process's memory.
/// Measured with `make bench` on the demo workspace: the web process fell from
/// 236 MiB to 129 MiB and the whole app from 356 MiB to 250 MiB PSS with it
/// off. The UI has no animation that needs it. `RELEASE_DESK_WEBKIT_COMPOSITING=1`
/// (or setting `WEBKIT_DISABLE_COMPOSITING_MODE` yourself) keeps WebKit's default.
///
/// Must run before GTK, WebKit or any thread starts: it sets an environment
/// variable the web process inherits.
pub(crate) fn prefer_low_memory_rendering() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none()
        && std::env::var_os("RELEASE_DESK_WEBKIT_COMPOSITING").is_none()
    {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
}
