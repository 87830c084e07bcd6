//! The harness's one error type: anything that stops it from measuring.
//! Targets that are not met are results, not errors.

use release_desk_store::StoreError;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum BenchError {
    #[error("the store failed while {during}: {source}")]
    Store {
        during: String,
        #[source]
        source: StoreError,
    },

    #[error("SQL failed while {during}: {source}")]
    Sql {
        during: String,
        #[source]
        source: sqlx::Error,
    },

    #[error("audit-log verification gave a wrong answer: {0}")]
    AuditResult(String),

    #[error(transparent)]
    Calendar(#[from] crate::calendar::CalendarBenchError),

    #[error("the sync benchmark failed: {0}")]
    Sync(String),

    #[error("could not start the async runtime: {0}")]
    Runtime(std::io::Error),

    #[error("could not prepare a temporary folder: {0}")]
    TempDir(std::io::Error),

    #[error(
        "the workspace '{0}' has no services or no environments, so there is no cell to query"
    )]
    EmptyWorkspace(String),

    #[error("no timing samples were taken for {0}")]
    NoSamples(String),

    #[error("the app binary {0} does not exist or is not a file (build it first, e.g. `cargo build --release`)")]
    MissingApp(PathBuf),

    #[error("could not start the app {path}: {source}")]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the app did not print '{line} …' within {timeout_s} s (run {run}, {label}). Its processes then: {processes}. Last lines of its stderr:\n{stderr_tail}")]
    NotReady {
        label: String,
        line: String,
        run: usize,
        timeout_s: u64,
        processes: String,
        stderr_tail: String,
    },

    #[error("the app exited ({status}) before printing '{line} …' (run {run}, {label}). Last lines of its stderr:\n{stderr_tail}")]
    ExitedEarly {
        label: String,
        line: String,
        run: usize,
        status: String,
        stderr_tail: String,
    },

    #[error("the app printed a line this harness cannot read: '{0}'")]
    UnreadableLine(String),

    #[error("the month view drew {drawn} events but the prepared month holds {expected} ({detail}): the app did not draw the data this harness prepared")]
    EventCount {
        drawn: u64,
        expected: usize,
        detail: String,
    },

    #[error("the month view's own data is wrong: {0}")]
    MonthViewData(String),

    #[error("could not read the memory of the app (pid {pid}): {detail}")]
    Memory { pid: u32, detail: String },

    #[error("could not signal or reap the app's processes: {0}")]
    Stop(std::io::Error),

    #[error("the zero-downtime measurement failed: {0}")]
    Traffic(String),

    #[error("could not write the report to {path}: {source}")]
    WriteReport {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl BenchError {
    pub fn store(during: impl Into<String>) -> impl FnOnce(StoreError) -> BenchError {
        let during = during.into();
        move |source| BenchError::Store { during, source }
    }

    pub fn sql(during: impl Into<String>) -> impl FnOnce(sqlx::Error) -> BenchError {
        let during = during.into();
        move |source| BenchError::Sql { during, source }
    }
}

pub type Result<T, E = BenchError> = std::result::Result<T, E>;
