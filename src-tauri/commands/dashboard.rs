//! The environment dashboard and the history behind each of its cells.

use release_desk_domain::Slug;
use release_desk_store::{CellHistory, Dashboard, HistoryPage};
use tauri::State;

use super::checked;
use crate::error::Result;
use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub async fn dashboard(state: State<'_, AppState>) -> Result<Dashboard> {
    let store = state.store().await?;
    checked(&state, store.dashboard().await).await
}

#[tauri::command]
#[specta::specta]
pub async fn cell_history(
    state: State<'_, AppState>,
    service: Slug,
    environment: Slug,
    page: HistoryPage,
) -> Result<CellHistory> {
    let store = state.store().await?;
    checked(
        &state,
        store.cell_history(&service, &environment, &page).await,
    )
    .await
}

/// The UI calls this once, when the dashboard first shows data: the log then
/// records real start-up time, and `make bench` measures it from outside.
#[tauri::command]
#[specta::specta]
pub fn report_dashboard_rendered(state: State<'_, AppState>) {
    let elapsed = state.started.elapsed();
    tracing::info!(
        elapsed_ms = elapsed.as_millis() as u64,
        "dashboard rendered with data"
    );
    if std::env::var_os("RELEASE_DESK_BENCH").is_some() {
        println!(
            "release-desk: dashboard rendered after {} ms",
            elapsed.as_millis()
        );
    }
}
