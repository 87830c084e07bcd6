//! Change records: list, read, raise, edit, move along, override risk, and
//! export an evidence pack. Every write is recorded against the current profile.

use release_desk_changes::{
    ChangeDraft, ChangeId, ChangeRecord, RiskLevel, StandardTemplate, Transition, TEMPLATES,
};
use release_desk_domain::Environment;
use release_desk_evidence::{EvidencePack, ExportedPack};
use release_desk_store::{
    AuditEntry, AuditVerification, ChangeDetail, ChangeSummary, ServiceChoice,
};
use serde::Serialize;
use specta::Type;
use tauri::State;

use super::checked;
use crate::error::Result;
use crate::state::AppState;

/// What the change form offers.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ChangeFormOptions {
    pub services: Vec<ServiceChoice>,
    pub environments: Vec<Environment>,
    pub profiles: Vec<release_desk_changes::Profile>,
    pub templates: Vec<StandardTemplate>,
}

#[tauri::command]
#[specta::specta]
pub async fn changes(state: State<'_, AppState>) -> Result<Vec<ChangeSummary>> {
    let store = state.store().await?;
    checked(&state, store.changes().await).await
}

#[tauri::command]
#[specta::specta]
pub async fn change(state: State<'_, AppState>, id: ChangeId) -> Result<ChangeDetail> {
    let store = state.store().await?;
    let viewer = checked(&state, store.current_profile().await).await?;
    checked(
        &state,
        store.change(id, viewer.as_ref(), chrono::Utc::now()).await,
    )
    .await
}

#[tauri::command]
#[specta::specta]
pub async fn change_form_options(state: State<'_, AppState>) -> Result<ChangeFormOptions> {
    let store = state.store().await?;
    let services = checked(&state, store.artefact_choices().await).await?;
    let environments = checked(&state, store.path_to_live().await)
        .await?
        .map(|p| p.stages().to_vec())
        .unwrap_or_default();
    let profiles = checked(&state, store.profiles().await).await?;
    Ok(ChangeFormOptions {
        services,
        environments,
        profiles,
        templates: TEMPLATES.to_vec(),
    })
}

#[tauri::command]
#[specta::specta]
pub async fn raise_change(state: State<'_, AppState>, draft: ChangeDraft) -> Result<ChangeRecord> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    checked(
        &state,
        store.raise_change(draft, &by, chrono::Utc::now()).await,
    )
    .await
}

#[tauri::command]
#[specta::specta]
pub async fn edit_change(
    state: State<'_, AppState>,
    id: ChangeId,
    revision: u32,
    draft: ChangeDraft,
) -> Result<ChangeRecord> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    let record = checked(
        &state,
        store
            .edit_change(id, revision, draft, &by, chrono::Utc::now())
            .await,
    )
    .await?;
    state.refresh_title().await;
    Ok(record)
}

#[tauri::command]
#[specta::specta]
pub async fn move_change(
    state: State<'_, AppState>,
    id: ChangeId,
    revision: u32,
    transition: Transition,
) -> Result<ChangeRecord> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    let record = checked(
        &state,
        store
            .move_change(id, revision, transition, &by, chrono::Utc::now())
            .await,
    )
    .await?;
    state.refresh_title().await;
    Ok(record)
}

#[tauri::command]
#[specta::specta]
pub async fn override_risk(
    state: State<'_, AppState>,
    id: ChangeId,
    revision: u32,
    level: RiskLevel,
    reason: String,
) -> Result<ChangeRecord> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    checked(
        &state,
        store
            .override_risk(id, revision, level, &reason, &by, chrono::Utc::now())
            .await,
    )
    .await
}

/// Writes the change's evidence pack (JSON and HTML) into the data folder's
/// `evidence/` and says where.
#[tauri::command]
#[specta::specta]
pub async fn export_evidence(state: State<'_, AppState>, id: ChangeId) -> Result<ExportedPack> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    let now = chrono::Utc::now();
    let detail = checked(&state, store.change(id, Some(&by), now).await).await?;
    let verification = checked(&state, store.verify_audit().await).await?;
    let workspace = checked(&state, store.workspace().await)
        .await?
        .map(|w| w.name)
        .unwrap_or_default();
    let pack = EvidencePack::new(detail, verification, &workspace, &by.name, now);
    let folder = state.paths.data_dir.join("evidence");
    let written = tauri::async_runtime::spawn_blocking(move || pack.write_to(&folder))
        .await
        .map_err(|e| {
            crate::error::AppError::new(
                "internal",
                format!("the export task stopped unexpectedly: {e}"),
            )
        })??;
    tracing::info!(change = %id, json = %written.json, "evidence pack exported");
    Ok(written)
}

#[tauri::command]
#[specta::specta]
pub async fn verify_audit(state: State<'_, AppState>) -> Result<AuditVerification> {
    let store = state.store().await?;
    checked(&state, store.verify_audit().await).await
}

#[tauri::command]
#[specta::specta]
pub async fn recent_audit(state: State<'_, AppState>, limit: u32) -> Result<Vec<AuditEntry>> {
    let store = state.store().await?;
    checked(&state, store.recent_audit(limit).await).await
}

/// The approval policies in force, for Settings.
#[tauri::command]
#[specta::specta]
pub async fn policies(
    state: State<'_, AppState>,
) -> Result<Vec<release_desk_changes::ApprovalPolicy>> {
    let store = state.store().await?;
    checked(&state, store.policies().await).await
}
