//! The workspace as a whole: status, loading the demo, recovering from an
//! unusable database file, and the order of the path to live.

use release_desk_domain::{Environment, Slug};
use release_desk_store::WorkspaceInfo;
use serde::Serialize;
use specta::Type;
use tauri::State;

use super::checked;
use crate::error::{AppError, Result};
use crate::state::{AppState, DatabaseProblem};

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    pub version: String,
    pub data_dir: String,
    pub log_dir: String,
    pub database_file: String,
    /// Set when the database cannot be used; the UI shows its recovery screen.
    pub database_problem: Option<DatabaseProblem>,
    /// `None` for a fresh database: the UI shows its empty state.
    pub workspace: Option<WorkspaceInfo>,
    /// A screen to open first (`RELEASE_DESK_START_ROUTE`, e.g.
    /// `/calendar?date=2027-03-01`), for `make bench` to measure it.
    pub start_route: Option<String>,
}

/// Only an in-app path of modest length is honoured.
fn start_route() -> Option<String> {
    let route = std::env::var("RELEASE_DESK_START_ROUTE").ok()?;
    (route.starts_with('/') && !route.starts_with("//") && route.len() <= 200).then_some(route)
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct MovedAside {
    pub moved_to: String,
}

#[tauri::command]
#[specta::specta]
pub async fn app_status(state: State<'_, AppState>) -> Result<AppStatus> {
    let workspace = match state.store().await {
        Ok(store) => checked(&state, store.workspace().await)
            .await
            .ok()
            .flatten(),
        Err(_) => None,
    };
    Ok(AppStatus {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        data_dir: state.paths.data_dir.display().to_string(),
        log_dir: state.paths.log_dir.display().to_string(),
        database_file: state.paths.database_file().display().to_string(),
        database_problem: state.problem().await,
        workspace,
        start_route: start_route(),
    })
}

#[tauri::command]
#[specta::specta]
pub async fn load_demo_workspace(state: State<'_, AppState>) -> Result<WorkspaceInfo> {
    match state.load_demo_if_empty().await? {
        Some(info) => {
            tracing::info!(
                services = info.services,
                deployments = info.deployments,
                "demo workspace loaded"
            );
            Ok(info)
        }
        None => Err(AppError::from(
            release_desk_store::StoreError::WorkspaceNotEmpty,
        )),
    }
}

#[tauri::command]
#[specta::specta]
pub async fn move_database_aside(state: State<'_, AppState>) -> Result<MovedAside> {
    let moved = state.move_database_aside().await?;
    Ok(MovedAside {
        moved_to: moved.display().to_string(),
    })
}

#[tauri::command]
#[specta::specta]
pub async fn reorder_environments(
    state: State<'_, AppState>,
    keys: Vec<Slug>,
) -> Result<Vec<Environment>> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    let path = checked(
        &state,
        store
            .reorder_environments(&keys, &by, chrono::Utc::now())
            .await,
    )
    .await?;
    Ok(path.stages().to_vec())
}
