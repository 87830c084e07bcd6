//! Structured logs: JSON lines to a daily-rotated file in the log folder (the
//! last seven kept) and readable lines to stderr. `RUST_LOG` sets the level.

use std::path::Path;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

pub fn init(log_dir: &Path) -> Option<WorkerGuard> {
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let stderr = fmt::layer().with_writer(std::io::stderr).with_target(false);
    let appender = std::fs::create_dir_all(log_dir)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            Builder::new()
                .rotation(Rotation::DAILY)
                .filename_prefix("release-desk")
                .filename_suffix("log")
                .max_log_files(7)
                .build(log_dir)
                .map_err(|e| e.to_string())
        });
    match appender {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let file = fmt::layer().json().with_writer(writer);
            // A second init in one process (tests) keeps the first subscriber.
            let _ = tracing_subscriber::registry()
                .with(filter())
                .with(stderr)
                .with(file)
                .try_init();
            Some(guard)
        }
        Err(reason) => {
            let _ = tracing_subscriber::registry()
                .with(filter())
                .with(stderr)
                .try_init();
            tracing::warn!(dir = %log_dir.display(), %reason, "cannot write log files; logging to stderr only");
            None
        }
    }
}
