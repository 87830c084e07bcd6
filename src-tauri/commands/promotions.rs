//! Promotions, rollbacks and drills: the gate checklist, starting one, its
//! live timeline (pushed as `PromotionUpdated` events) and rollback readiness.

use release_desk_domain::Slug;
use release_desk_engine::{EngineError, RollbackReadiness};
use release_desk_promotion::{Promotion, PromotionKind};
use release_desk_provider::TargetStatus;
use release_desk_store::{GateCheck, PromotionRecord, ServiceChoice, TargetBinding};
use serde::{Deserialize, Serialize};
use specta::Type;
use tauri::State;

use super::checked;
use crate::error::{AppError, Result};
use crate::state::AppState;

/// Sent to the window after every step, sample and outcome of a promotion.
#[derive(Debug, Clone, Serialize, Deserialize, Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct PromotionUpdated {
    pub promotion: Promotion,
}

/// What the Promote screen offers: the cells bound to a target and the
/// recorded builds of each service.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PromoteOptions {
    pub bindings: Vec<TargetBinding>,
    pub services: Vec<ServiceChoice>,
}

pub(crate) fn engine_error(e: EngineError) -> AppError {
    match e {
        EngineError::Store(s) => AppError::from(s),
        other => AppError::new(other.code(), other.to_string()),
    }
}

#[tauri::command]
#[specta::specta]
pub async fn promote_options(state: State<'_, AppState>) -> Result<PromoteOptions> {
    let store = state.store().await?;
    let bindings = checked(&state, store.target_bindings().await).await?;
    let services = checked(&state, store.artefact_choices().await).await?;
    Ok(PromoteOptions { bindings, services })
}

#[tauri::command]
#[specta::specta]
pub async fn promotion_gates(
    state: State<'_, AppState>,
    kind: PromotionKind,
    service: Slug,
    environment: Slug,
    version: String,
) -> Result<GateCheck> {
    let store = state.store().await?;
    checked(
        &state,
        store
            .check_gates(kind, &service, &environment, &version, chrono::Utc::now())
            .await,
    )
    .await
}

/// Starts a promotion (or returns the one `request_key` already started).
#[tauri::command]
#[specta::specta]
pub async fn request_promotion(
    state: State<'_, AppState>,
    kind: PromotionKind,
    service: Slug,
    environment: Slug,
    version: Option<String>,
    request_key: String,
) -> Result<PromotionRecord> {
    let by = state.current_profile().await?;
    // Who may comes before building the engine (the engine checks again).
    release_desk_access::may(&by, release_desk_access::Action::Promote)?;
    let engine = state.engine().await?;
    engine
        .request(kind, &service, &environment, version, &request_key, &by)
        .await
        .map_err(engine_error)
}

#[tauri::command]
#[specta::specta]
pub async fn promotion(state: State<'_, AppState>, id: u32) -> Result<PromotionRecord> {
    let store = state.store().await?;
    checked(&state, store.promotion(i64::from(id)).await).await
}

/// The latest promotions of one cell, newest first.
#[tauri::command]
#[specta::specta]
pub async fn cell_promotions(
    state: State<'_, AppState>,
    service: Slug,
    environment: Slug,
) -> Result<Vec<PromotionRecord>> {
    let store = state.store().await?;
    checked(
        &state,
        store.promotions_of(&service, &environment, 20).await,
    )
    .await
}

#[tauri::command]
#[specta::specta]
pub async fn rollback_readiness(
    state: State<'_, AppState>,
    service: Slug,
    environment: Slug,
) -> Result<RollbackReadiness> {
    let engine = state.engine().await?;
    engine
        .rollback_readiness(&service, &environment)
        .await
        .map_err(engine_error)
}

#[tauri::command]
#[specta::specta]
pub async fn target_status(
    state: State<'_, AppState>,
    service: Slug,
    environment: Slug,
) -> Result<TargetStatus> {
    let engine = state.engine().await?;
    engine
        .status(&service, &environment)
        .await
        .map_err(engine_error)
}
