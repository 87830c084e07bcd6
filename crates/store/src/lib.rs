//! Release Desk's local cache in SQLite: opening a file safely, migrations, and
//! the queries behind each screen. Every query here is covered by a test
//! against a real temporary database file, so schema drift fails a test.

mod audit;
mod bindings;
mod calendar;
mod change_queries;
mod changes;
mod choices;
mod connections;
mod dashboard;
mod error;
mod history;
mod open;
mod policies;
mod profiles;
mod promotions;
mod provider_approvals;
mod records;
mod row;
mod schedule;
mod sync;
mod time;
mod workspace;

pub use audit::{AuditEntry, AuditVerification};
pub use calendar::{ImportSummary, ImportTarget};
pub use change_queries::{ChangeDetail, ChangeSummary, QueueItem, StepOption};
pub use choices::{ArtefactChoice, ServiceChoice};
pub use dashboard::{Dashboard, DashboardCell, DashboardRow, DeployedVersion, LastDeployment};
pub use error::{Result, StoreError};
pub use history::{CellHistory, HistoryEntry, HistoryPage};
pub use open::{move_aside, supported_schema, testing, OpenReport, DATABASE_FILE};
pub use promotions::{
    ArtefactLocation, GateCheck, PromotionRecord, PromotionRequest, Started, StoredArtefact,
    TargetBinding, TargetSnapshot, TrustedKey, MAX_MIN_REQUESTS, MAX_P95_MS, MAX_SOAK_SECS,
};
pub use provider_approvals::{ProviderApprovalItem, ProviderDecision};
pub use schedule::PlannedSlot;
pub use sync::{ConnectionFreshness, SyncCounts, SyncSource};
pub use workspace::{LoadSummary, WorkspaceInfo};

use sqlx::SqlitePool;
use std::path::{Path, PathBuf};

/// A handle on the open database. Cheap to clone: the pool is shared.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    file: PathBuf,
}

impl Store {
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Waits for every connection to finish and closes the file cleanly.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Maps a query error, turning SQLite's "damaged file" codes into
    /// [`StoreError::Corrupt`] so the app can offer recovery at any time.
    pub(crate) fn fail(&self, err: sqlx::Error) -> StoreError {
        if error::is_corruption(&err) {
            StoreError::Corrupt {
                file: self.file.clone(),
                detail: err.to_string(),
            }
        } else {
            StoreError::Database(err)
        }
    }

    /// Begins a write transaction that takes SQLite's write lock at once
    /// (`BEGIN IMMEDIATE`): reads inside it see the latest data and no other
    /// writer can interleave, which keeps the audit chain linear and makes
    /// revision checks exact.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.fail(e))
    }

    /// The pool, for crates that own tables of their own in later migrations.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}
