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
    let mut bindings = checked(&state, store.target_bindings().await).await?;
    let services = checked(&state, store.artefact_choices().await).await?;
    // A cell whose provider binding names a workflow deploys through it (the
    // engine and the gates decide the same way): shown as a pipeline target
    // named after the connection and the workflow.
    let connections = checked(&state, store.connections().await).await?;
    for b in checked(&state, store.bindings().await).await? {
        let Some(workflow) = b.settings.get("workflow") else {
            continue;
        };
        let Some(c) = connections.iter().find(|c| c.id == b.connection) else {
            continue;
        };
        bindings.retain(|t| !(t.service == b.service && t.environment == b.environment));
        bindings.push(TargetBinding {
            service: b.service.clone(),
            environment: b.environment.clone(),
            provider: format!("{} · {workflow}", c.name),
            strategy: release_desk_promotion::Strategy::Pipeline,
            soak_secs: 0,
            thresholds: release_desk_promotion::SoakThresholds::default(),
        });
    }
    if let Some(path) = checked(&state, store.path_to_live().await).await? {
        let stages: Vec<Slug> = path.stages().iter().map(|s| s.key.clone()).collect();
        let at = |e: &Slug| stages.iter().position(|s| s == e).unwrap_or(usize::MAX);
        bindings.sort_by(|a, b| {
            (a.service.as_str(), at(&a.environment)).cmp(&(b.service.as_str(), at(&b.environment)))
        });
    }
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
