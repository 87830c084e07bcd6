//! Settings: provider credentials (only ever reported as set or not set) and
//! the person's preferences.

use release_desk_credentials::{CredentialStatus, Credentials, Provider};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use specta::Type;
use tauri::State;

use super::checked;
use crate::error::{AppError, Result};
use crate::state::AppState;

/// Keyring calls block on D-Bus (or the platform's equivalent), so they run
/// off the async workers.
pub(crate) async fn with_keyring<T: Send + 'static>(
    credentials: Credentials,
    f: impl FnOnce(&Credentials) -> release_desk_credentials::Result<T> + Send + 'static,
) -> Result<T> {
    tauri::async_runtime::spawn_blocking(move || f(&credentials))
        .await
        .map_err(|e| {
            AppError::new(
                "internal",
                format!("the keyring task stopped unexpectedly: {e}"),
            )
        })?
        .map_err(AppError::from)
}

#[tauri::command]
#[specta::specta]
pub async fn credential_status(state: State<'_, AppState>) -> Result<Vec<CredentialStatus>> {
    with_keyring(state.credentials.clone(), |c| c.status()).await
}

/// A release manager's change to one provider's keyring entry: the role is
/// checked before the keyring is touched, and the change is audited after.
async fn audited_keyring_change(
    state: &State<'_, AppState>,
    provider: Provider,
    set: bool,
    change: impl FnOnce(&Credentials) -> release_desk_credentials::Result<()> + Send + 'static,
) -> Result<Vec<CredentialStatus>> {
    let by = state.current_profile().await?;
    release_desk_access::may(&by, release_desk_access::Action::ManageCredentials)?;
    let status = with_keyring(state.credentials.clone(), move |c| {
        change(c)?;
        c.status()
    })
    .await?;
    let store = state.store().await?;
    checked(
        state,
        store
            .audit_credential(provider.key(), set, &by, chrono::Utc::now())
            .await,
    )
    .await?;
    Ok(status)
}

/// Stores a credential. The secret is wrapped the moment it arrives and is
/// never echoed back: the reply is the set / not set status.
#[tauri::command]
#[specta::specta]
pub async fn set_credential(
    state: State<'_, AppState>,
    provider: Provider,
    secret: String,
) -> Result<Vec<CredentialStatus>> {
    let secret = SecretString::from(secret);
    audited_keyring_change(&state, provider, true, move |c| c.set(provider, &secret)).await
}

#[tauri::command]
#[specta::specta]
pub async fn remove_credential(
    state: State<'_, AppState>,
    provider: Provider,
) -> Result<Vec<CredentialStatus>> {
    audited_keyring_change(&state, provider, false, move |c| {
        c.remove(provider).map(|_| ())
    })
    .await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum ThemePreference {
    System,
    Light,
    Dark,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Preferences {
    pub theme: ThemePreference,
}

const THEME_KEY: &str = "theme";

#[tauri::command]
#[specta::specta]
pub async fn preferences(state: State<'_, AppState>) -> Result<Preferences> {
    let store = state.store().await?;
    let stored = checked(&state, store.preference(THEME_KEY).await).await?;
    let theme = match stored.as_deref() {
        Some("light") => ThemePreference::Light,
        Some("dark") => ThemePreference::Dark,
        _ => ThemePreference::System,
    };
    Ok(Preferences { theme })
}

#[tauri::command]
#[specta::specta]
pub async fn set_theme(state: State<'_, AppState>, theme: ThemePreference) -> Result<Preferences> {
    let store = state.store().await?;
    let value = match theme {
        ThemePreference::System => "system",
        ThemePreference::Light => "light",
        ThemePreference::Dark => "dark",
    };
    checked(&state, store.set_preference(THEME_KEY, value).await).await?;
    Ok(Preferences { theme })
}
