//! The IPC commands. Each body is a few lines that call into a crate; the
//! types they take and return are exported to TypeScript by tauri-specta.

pub mod approvals;
pub mod calendar;
pub mod changes;
pub mod connections;
pub mod dashboard;
pub mod deployment;
pub mod profiles;
pub mod promotions;
pub mod settings;
pub mod sync;
pub mod workspace;

use release_desk_store::StoreError;

use crate::error::{AppError, Result};
use crate::state::AppState;

/// Converts a store result, switching the app to its recovery screen when the
/// database file turned out to be unusable.
pub(crate) async fn checked<T>(state: &AppState, result: Result<T, StoreError>) -> Result<T> {
    match result {
        Ok(value) => Ok(value),
        Err(error) => {
            state.note_failure(&error).await;
            Err(AppError::from(error))
        }
    }
}
