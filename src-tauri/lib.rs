//! The Release Desk desktop shell: wires state, commands and the window over
//! the Tauri-free crates in `crates/`. Nothing here decides anything.

pub mod bindings;
pub mod commands;
pub mod error;
pub mod instance;
pub mod logging;
pub mod state;
mod window;

use std::path::PathBuf;
use std::time::Instant;

use release_desk_credentials::Credentials;
use tauri::{Manager, RunEvent, Runtime};

use crate::state::{AppPaths, AppState};

/// Keeps the background log writer alive for the life of the app; taken and
/// dropped on exit so the last lines are flushed (the event loop ends the
/// process without dropping managed state).
struct LogGuard(std::sync::Mutex<Option<tracing_appender::non_blocking::WorkerGuard>>);

/// Data and log folders: `RELEASE_DESK_DATA_DIR` / `RELEASE_DESK_LOG_DIR` when
/// set (tests, portable installs), else the OS's app-data and log folders.
fn resolve_paths<R: Runtime>(app: &tauri::AppHandle<R>) -> tauri::Result<AppPaths> {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    Ok(AppPaths {
        data_dir: match from_env("RELEASE_DESK_DATA_DIR") {
            Some(dir) => dir,
            None => app.path().app_data_dir()?,
        },
        log_dir: match from_env("RELEASE_DESK_LOG_DIR") {
            Some(dir) => dir,
            None => app.path().app_log_dir()?,
        },
    })
}

/// Everything the app writes (database, logs, evidence packs, the local
/// target's legs and nginx files) is for the user alone: files 0600 and
/// folders 0700 on Unix. The umask covers every file this process and the
/// processes it starts create; folders that already exist are tightened.
fn keep_files_private(paths: &AppPaths) {
    #[cfg(unix)]
    {
        // SAFETY: umask only sets the process's file-creation mask; it
        // cannot fail and touches no memory.
        unsafe {
            libc::umask(0o077);
        }
        use std::os::unix::fs::PermissionsExt;
        for dir in [&paths.data_dir, &paths.log_dir] {
            let made = std::fs::create_dir_all(dir).and_then(|()| {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            });
            if let Err(error) = made {
                // Reported once logging is up; opening the database says
                // what to do if the folder is unusable.
                eprintln!(
                    "release-desk: cannot make {} private: {error}",
                    dir.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = paths;
}

pub fn run() {
    let started = Instant::now();
    window::prefer_low_memory_rendering();
    let builder = bindings::builder::<tauri::Wry>();
    let app = tauri::Builder::default()
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            let paths = resolve_paths(app.handle())?;
            keep_files_private(&paths);
            // Before anything resumes a promotion: one instance per folder.
            app.manage(instance::acquire(&paths.data_dir)?);
            app.manage(LogGuard(std::sync::Mutex::new(logging::init(&paths.log_dir))));
            tracing::info!(data_dir = %paths.data_dir.display(), log_dir = %paths.log_dir.display(), "Release Desk starting");
            let state = tauri::async_runtime::block_on(AppState::open(paths, Credentials::for_this_build(), started));
            if std::env::var_os("RELEASE_DESK_DEMO").is_some() {
                // `make run`: open on the demo workspace when the database is empty.
                if let Err(error) = tauri::async_runtime::block_on(state.load_demo_if_empty()) {
                    tracing::warn!(code = %error.code, message = %error.message, "could not load the demo workspace");
                }
            }
            {
                use tauri_specta::Event as _;
                let handle = app.handle().clone();
                state.on_promotion(std::sync::Arc::new(move |p: &release_desk_promotion::Promotion| {
                    let update = commands::promotions::PromotionUpdated { promotion: p.clone() };
                    if let Err(error) = update.emit(&handle) {
                        tracing::warn!(%error, "could not send a promotion update to the window");
                    }
                }));
            }
            {
                use tauri_specta::Event as _;
                let handle = app.handle().clone();
                let sink: commands::sync::SyncSink = std::sync::Arc::new(move |p: commands::sync::SyncProgressed| {
                    if let Err(error) = p.emit(&handle) {
                        tracing::warn!(%error, "could not send sync progress to the window");
                    }
                });
                if state.on_sync.set(sink).is_err() {
                    tracing::warn!("the sync sink was already set");
                }
            }
            // Promotions the last run left mid-step carry on (or reconcile).
            tauri::async_runtime::block_on(state.resume_promotions());
            if let Some(main) = app.get_webview_window("main") {
                window::tune_webview(&main);
                state.on_workspace_changed(Box::new(move |name, pending| {
                    window::set_title(&main, name, pending)
                }));
            }
            tauri::async_runtime::block_on(state.refresh_title());
            app.manage(state);
            schedule_sync(app.handle().clone());
            Ok(())
        })
        .build(tauri::generate_context!());

    match app {
        Ok(app) => app.run(|handle, event| {
            if let RunEvent::Exit = event {
                if let Some(state) = handle.try_state::<AppState>() {
                    tauri::async_runtime::block_on(state.close());
                }
                tracing::info!("Release Desk stopped");
                if let Some(guard) = handle.try_state::<LogGuard>() {
                    // A poisoned lock still holds the guard; flush it either way.
                    let taken = match guard.0.lock() {
                        Ok(mut g) => g.take(),
                        Err(poisoned) => poisoned.into_inner().take(),
                    };
                    drop(taken);
                }
            }
        }),
        Err(error) => {
            eprintln!("Release Desk could not start: {error}");
            std::process::exit(1);
        }
    }
}

/// Syncs every connection in the background: first shortly after start (not
/// during it: the window paints first), then every five minutes, or every
/// `RELEASE_DESK_SYNC_SECS` seconds. A failure is recorded per binding and
/// shown with the cache's age; the app keeps working on the cache.
fn schedule_sync<R: Runtime>(handle: tauri::AppHandle<R>) {
    let every = std::env::var("RELEASE_DESK_SYNC_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(300);
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(10.min(every))).await;
        loop {
            if let Some(state) = handle.try_state::<AppState>() {
                match commands::sync::sync_all(&state).await {
                    Ok(reports) => {
                        for r in reports.iter().filter(|r| r.failed()) {
                            tracing::warn!(connection = %r.name, "background sync had failures");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(code = %e.code, message = %e.message, "background sync failed")
                    }
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(every)).await;
        }
    });
}
