//! Deployment settings: the signing keys the workspace trusts, which target
//! serves each service in each environment, and where artefacts' bytes are.
//! Each change is the store's (role-checked and audited); these bodies only
//! gather what the screen shows and check a location's file first.

use release_desk_domain::{Environment, Slug};
use release_desk_provider::TargetInfo;
use release_desk_store::{ArtefactLocation, TargetBinding, TrustedKey};
use serde::Serialize;
use specta::Type;
use tauri::State;

use super::checked;
use super::promotions::engine_error;
use crate::error::{AppError, Result};
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ServiceName {
    pub key: Slug,
    pub name: String,
}

/// Everything the Deployment section of Settings shows.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSettings {
    pub keys: Vec<TrustedKey>,
    pub bindings: Vec<TargetBinding>,
    pub providers: Vec<TargetInfo>,
    pub artefacts: Vec<ArtefactLocation>,
    pub services: Vec<ServiceName>,
    pub environments: Vec<Environment>,
}

#[tauri::command]
#[specta::specta]
pub async fn deployment_settings(state: State<'_, AppState>) -> Result<DeploymentSettings> {
    let store = state.store().await?;
    // Keys, bindings and locations stay manageable when the engine could not
    // start (nginx missing, say): the screen then says no target is available.
    let providers = match state.engine().await {
        Ok(engine) => engine.providers(),
        Err(e) => {
            tracing::warn!(error = %e.message, "the promotion engine is unavailable; no deployment targets to offer");
            Vec::new()
        }
    };
    let keys = checked(&state, store.trusted_keys().await).await?;
    let bindings = checked(&state, store.target_bindings().await).await?;
    let artefacts = checked(&state, store.artefact_locations().await).await?;
    let dashboard = checked(&state, store.dashboard().await).await?;
    Ok(DeploymentSettings {
        keys,
        bindings,
        providers,
        artefacts,
        services: dashboard
            .rows
            .into_iter()
            .map(|r| ServiceName {
                key: r.service.key,
                name: r.service.name,
            })
            .collect(),
        environments: dashboard.environments,
    })
}

/// Trusts a minisign public key (the text of a `.pub` file or its key line).
#[tauri::command]
#[specta::specta]
pub async fn add_trusted_key(
    state: State<'_, AppState>,
    public_key: String,
    label: String,
) -> Result<Vec<TrustedKey>> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    checked(
        &state,
        store
            .add_trusted_key(&public_key, &label, &by, chrono::Utc::now())
            .await,
    )
    .await?;
    checked(&state, store.trusted_keys().await).await
}

#[tauri::command]
#[specta::specta]
pub async fn remove_trusted_key(state: State<'_, AppState>, id: u32) -> Result<Vec<TrustedKey>> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    checked(
        &state,
        store
            .remove_trusted_key(i64::from(id), &by, chrono::Utc::now())
            .await,
    )
    .await?;
    checked(&state, store.trusted_keys().await).await
}

#[tauri::command]
#[specta::specta]
pub async fn bind_target(
    state: State<'_, AppState>,
    binding: TargetBinding,
) -> Result<Vec<TargetBinding>> {
    let by = state.current_profile().await?;
    // Who may comes before building the engine (the engine checks again).
    release_desk_access::may(&by, release_desk_access::Action::BindTargets)?;
    let engine = state.engine().await?;
    engine
        .bind_target(&binding, &by)
        .await
        .map_err(engine_error)?;
    let store = state.store().await?;
    checked(&state, store.target_bindings().await).await
}

/// Records where an artefact's tarball is, after checking that the file
/// there hashes to the artefact's recorded digest.
#[tauri::command]
#[specta::specta]
pub async fn set_artefact_location(
    state: State<'_, AppState>,
    service: Slug,
    version: String,
    location: String,
) -> Result<Vec<ArtefactLocation>> {
    let by = state.current_profile().await?;
    // The role first: hashing whatever path anyone names would answer
    // "what is the sha256 of this file?" for files the person cannot read.
    release_desk_access::may(&by, release_desk_access::Action::RecordArtefactLocations)?;
    let store = state.store().await?;
    let listed = checked(&state, store.artefact_locations().await).await?;
    let artefact = listed
        .iter()
        .find(|a| a.service == service && a.version == version)
        .ok_or_else(|| {
            AppError::new(
                "unknown_artefact",
                format!("{service} {version} is not a recorded build: reload the list"),
            )
        })?;
    let digest = artefact.digest.clone();
    let path = location.trim().to_owned();
    tauri::async_runtime::spawn_blocking(move || {
        release_desk_local_target::check_location(&path, &digest)
    })
    .await
    .map_err(|e| {
        AppError::new(
            "internal",
            format!("the file check stopped unexpectedly: {e}"),
        )
    })?
    .map_err(|e| AppError::new(e.kind.code(), e.message))?;
    checked(
        &state,
        store
            .set_artefact_location(&service, &version, location.trim(), &by, chrono::Utc::now())
            .await,
    )
    .await?;
    checked(&state, store.artefact_locations().await).await
}
