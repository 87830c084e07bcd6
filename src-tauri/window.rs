//! The main window: its title, and WebKit settings that keep memory down.

use tauri::{Runtime, WebviewWindow};

/// "Release Desk — <workspace>", so the workspace shows in the task switcher.
pub(crate) fn set_title<R: Runtime>(window: &WebviewWindow<R>, workspace: Option<&str>) {
    let title = match workspace {
        Some(name) => format!("Release Desk — {name}"),
        None => "Release Desk".to_owned(),
    };
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
