//! The IPC tests' harness: the app's real commands behind Tauri's mock
//! runtime (no window), with the app's own context, so the ACL is the app's.
#![allow(dead_code)] // each test file uses its own subset

use release_desk_lib::state::AppState;
use serde_json::Value;
use tauri::ipc::{CallbackFn, InvokeBody, InvokeResponseBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::WebviewWindow;

/// The app over `state`, and its main webview. Keep the app alive while the
/// webview is used.
pub fn app(state: AppState) -> (tauri::App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let app = mock_builder()
        .invoke_handler(release_desk_lib::bindings::builder::<MockRuntime>().invoke_handler())
        .manage(state)
        .build(tauri::generate_context!(test = true))
        .unwrap();
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    (app, webview)
}

/// Calls `cmd` as the app's own page would; an error is the command's
/// error as JSON (or a string from the IPC layer itself).
pub fn call(
    webview: &WebviewWindow<MockRuntime>,
    cmd: &str,
    args: Value,
) -> Result<InvokeResponseBody, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        // The origin the app's own pages have on Linux and macOS.
        url: "tauri://localhost".parse().unwrap(),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(webview, request)
}
