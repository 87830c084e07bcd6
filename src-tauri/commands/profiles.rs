//! Who is using the app: the local profiles and the one in use.

use release_desk_access::Action;
use release_desk_changes::{KnownRole, Profile, ProfileDraft, ProfileId};
use serde::Serialize;
use specta::Type;
use tauri::State;

use super::checked;
use crate::error::Result;
use crate::state::AppState;

/// An action the current person may not take, and the rule's reason.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ActionRefusal {
    pub action: Action,
    pub reason: String,
}

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
    /// The workspace-wide actions the current person may take, as the store
    /// decides them (`release_desk_access`); the UI offers only these.
    pub may: Vec<Action>,
    /// Why each other action is refused, for the UI to say beside it.
    pub refused: Vec<ActionRefusal>,
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
        Some(p) => checked(&state, store.awaiting_decision(p, chrono::Utc::now()).await).await?,
        None => 0,
    };
    let may = current
        .as_ref()
        .map(release_desk_access::allowed)
        .unwrap_or_default();
    let refused = current
        .as_ref()
        .map(|p| {
            Action::ALL
                .into_iter()
                .filter_map(|action| {
                    release_desk_access::may(p, action)
                        .err()
                        .map(|e| ActionRefusal {
                            action,
                            reason: e.to_string(),
                        })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Session {
        current,
        profiles,
        may,
        refused,
        known_roles: KnownRole::ALL
            .iter()
            .map(|role| RoleInfo {
                key: role.key().into(),
                description: role.description().into(),
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
