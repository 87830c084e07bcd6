//! Connections to providers: listing, adding, removing, and each one's
//! secret in the OS keyring (only ever reported as set or not set).

use release_desk_access::{may, Action};
use release_desk_connections::{
    keyring_account, Capability, Connection, ConnectionDraft, ConnectionId, ConnectionKind,
};
use release_desk_store::ConnectionFreshness;
use secrecy::SecretString;
use serde::Serialize;
use specta::Type;
use tauri::State;

use super::checked;
use super::settings::with_keyring;
use crate::error::{AppError, Result};
use crate::state::AppState;

/// One connection as the Settings screen shows it.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionView {
    pub connection: Connection,
    pub kind_label: String,
    pub capabilities: Vec<Capability>,
    /// Whether its secret is in the keyring. The secret never leaves it.
    pub secret_set: bool,
    /// Who its token proved to be, and how fresh its part of the cache is.
    pub freshness: Option<ConnectionFreshness>,
}

/// A kind of provider a person may connect to.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct KindInfo {
    pub kind: ConnectionKind,
    pub label: String,
    pub default_base_url: Option<String>,
    pub capabilities: Vec<Capability>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionsPage {
    pub connections: Vec<ConnectionView>,
    pub kinds: Vec<KindInfo>,
}

async fn page(state: &State<'_, AppState>) -> Result<ConnectionsPage> {
    let store = state.store().await?;
    let connections = checked(state, store.connections().await).await?;
    let freshness = checked(state, store.connection_freshness().await).await?;
    let accounts: Vec<String> = connections.iter().map(|c| keyring_account(c.id)).collect();
    let set = with_keyring(state.credentials.clone(), move |c| {
        accounts
            .iter()
            .map(|a| c.get_account(a).map(|s| s.is_some()))
            .collect::<release_desk_credentials::Result<Vec<bool>>>()
    })
    .await?;
    Ok(ConnectionsPage {
        connections: connections
            .into_iter()
            .zip(set)
            .map(|(connection, secret_set)| ConnectionView {
                freshness: freshness
                    .iter()
                    .find(|f| f.connection == connection.id)
                    .cloned(),
                kind_label: connection.kind.label().into(),
                capabilities: connection.kind.capabilities().to_vec(),
                connection,
                secret_set,
            })
            .collect(),
        kinds: ConnectionKind::ALL
            .into_iter()
            .map(|kind| KindInfo {
                kind,
                label: kind.label().into(),
                default_base_url: kind.default_base_url().map(str::to_owned),
                capabilities: kind.capabilities().to_vec(),
            })
            .collect(),
    })
}

#[tauri::command]
#[specta::specta]
pub async fn connections(state: State<'_, AppState>) -> Result<ConnectionsPage> {
    page(&state).await
}

#[tauri::command]
#[specta::specta]
pub async fn add_connection(
    state: State<'_, AppState>,
    draft: ConnectionDraft,
) -> Result<ConnectionsPage> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    checked(
        &state,
        store.add_connection(draft, &by, chrono::Utc::now()).await,
    )
    .await?;
    page(&state).await
}

/// Removes a connection and its secret from the keyring.
#[tauri::command]
#[specta::specta]
pub async fn remove_connection(
    state: State<'_, AppState>,
    id: ConnectionId,
) -> Result<ConnectionsPage> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    checked(
        &state,
        store.remove_connection(id, &by, chrono::Utc::now()).await,
    )
    .await?;
    let account = keyring_account(id);
    with_keyring(state.credentials.clone(), move |c| {
        c.remove_account(&account).map(|_| ())
    })
    .await?;
    page(&state).await
}

/// The connection with this id, or the error that says it is gone.
pub(super) async fn known(state: &AppState, id: ConnectionId) -> Result<Connection> {
    let store = state.store().await?;
    checked(state, store.connection(id).await)
        .await?
        .ok_or_else(|| {
            AppError::new(
                "unknown_connection",
                format!("there is no connection #{}: reload the list", id.0),
            )
        })
}

/// Stores a connection's secret (a token). Wrapped the moment it arrives,
/// never echoed back; the role is checked before the keyring is touched.
#[tauri::command]
#[specta::specta]
pub async fn set_connection_secret(
    state: State<'_, AppState>,
    id: ConnectionId,
    secret: String,
) -> Result<ConnectionsPage> {
    // A pasted token often brings a line break along; no token holds one.
    let secret = SecretString::from(secret.trim().to_owned());
    let by = state.current_profile().await?;
    may(&by, Action::ManageConnections)?;
    known(&state, id).await?;
    let store = state.store().await?;
    let account = keyring_account(id);
    with_keyring(state.credentials.clone(), move |c| {
        c.set_account(&account, &secret)
    })
    .await?;
    checked(
        &state,
        store
            .audit_connection_secret(id, &by, chrono::Utc::now())
            .await,
    )
    .await?;
    page(&state).await
}
