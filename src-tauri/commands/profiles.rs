//! Who is using the app: the local profiles and the one in use.

use release_desk_changes::{Profile, ProfileDraft, ProfileId, KNOWN_ROLES};
use serde::Serialize;
use specta::Type;
use tauri::State;

use super::checked;
use crate::error::Result;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RoleInfo {
    pub key: String,
    pub description: String,
}

/// What the navigation shows: who you are, who else is here, and how many
/// approvals await you.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub current: Option<Profile>,
    pub profiles: Vec<Profile>,
    pub known_roles: Vec<RoleInfo>,
    pub pending: u32,
    /// What a local profile proves (and does not), for the profile picker.
    pub profile_note: String,
}

#[tauri::command]
#[specta::specta]
pub async fn session(state: State<'_, AppState>) -> Result<Session> {
    let store = state.store().await?;
    let current = checked(&state, store.current_profile().await).await?;
    let profiles = checked(&state, store.profiles().await).await?;
    let pending = match &current {
        Some(p) => checked(&state, store.approval_queue(p, chrono::Utc::now()).await)
            .await?
            .len(),
        None => 0,
    };
    Ok(Session {
        current,
        profiles,
        known_roles: KNOWN_ROLES
            .iter()
            .map(|(key, description)| RoleInfo {
                key: (*key).into(),
                description: (*description).into(),
            })
            .collect(),
        pending: u32::try_from(pending).unwrap_or(u32::MAX),
        profile_note: release_desk_changes::LOCAL_PROFILE_NOTE.into(),
    })
}

/// Creates a profile and switches to it.
#[tauri::command]
#[specta::specta]
pub async fn create_profile(state: State<'_, AppState>, draft: ProfileDraft) -> Result<Profile> {
    let store = state.store().await?;
    let profile = checked(
        &state,
        store.create_profile(draft, chrono::Utc::now()).await,
    )
    .await?;
    checked(
        &state,
        store.use_profile(profile.id, chrono::Utc::now()).await,
    )
    .await?;
    state.refresh_title().await;
    Ok(profile)
}

#[tauri::command]
#[specta::specta]
pub async fn use_profile(state: State<'_, AppState>, id: ProfileId) -> Result<Profile> {
    let store = state.store().await?;
    let profile = checked(&state, store.use_profile(id, chrono::Utc::now()).await).await?;
    state.refresh_title().await;
    Ok(profile)
}
