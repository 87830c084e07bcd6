//! The approval queue and decisions, one at a time or in a batch.

use release_desk_changes::{ChangeId, ChangeRecord, Verdict};
use release_desk_store::QueueItem;
use serde::{Deserialize, Serialize};
use specta::Type;
use tauri::State;

use super::checked;
use crate::error::Result;
use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub async fn approval_queue(state: State<'_, AppState>) -> Result<Vec<QueueItem>> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    checked(&state, store.approval_queue(&by, chrono::Utc::now()).await).await
}

#[tauri::command]
#[specta::specta]
pub async fn decide(
    state: State<'_, AppState>,
    id: ChangeId,
    revision: u32,
    verdict: Verdict,
    comment: String,
) -> Result<ChangeRecord> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    let record = checked(
        &state,
        store
            .decide(id, revision, verdict, &comment, &by, chrono::Utc::now())
            .await,
    )
    .await?;
    state.refresh_title().await;
    Ok(record)
}

/// A change as the person saw it when selecting it for a batch.
#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SeenChange {
    pub id: ChangeId,
    pub revision: u32,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Refused {
    pub id: ChangeId,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BatchResult {
    pub approved: Vec<ChangeRecord>,
    pub refused: Vec<Refused>,
}

/// Approves each selected change with one comment. Each is its own audited
/// decision: one refusal (a change that moved on, a rule) does not stop the rest.
#[tauri::command]
#[specta::specta]
pub async fn approve_many(
    state: State<'_, AppState>,
    changes: Vec<SeenChange>,
    comment: String,
) -> Result<BatchResult> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    let mut result = BatchResult {
        approved: Vec::new(),
        refused: Vec::new(),
    };
    for seen in changes {
        match checked(
            &state,
            store
                .decide(
                    seen.id,
                    seen.revision,
                    Verdict::Approve,
                    &comment,
                    &by,
                    chrono::Utc::now(),
                )
                .await,
        )
        .await
        {
            Ok(record) => result.approved.push(record),
            Err(e) => result.refused.push(Refused {
                id: seen.id,
                code: e.code,
                message: e.message,
            }),
        }
    }
    state.refresh_title().await;
    Ok(result)
}
