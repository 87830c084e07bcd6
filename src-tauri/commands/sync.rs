//! Reaching providers: testing a connection, binding services' environments
//! to connections, and syncing what providers report into the cache (on
//! demand here, and on a schedule started by the shell).

use std::sync::Arc;

use release_desk_access::{may, Action};
use release_desk_connections::{
    keyring_account, Binding, BindingDraft, BindingId, Connection, ConnectionId,
};
use release_desk_provider::{ProviderError, ProviderErrorKind, ProviderIdentity};
use release_desk_store::ConnectionFreshness;
use release_desk_sync::{sync, ConnectionSync, SyncProgress};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use specta::Type;
use tauri::State;

use super::checked;
use super::settings::with_keyring;
use crate::error::{AppError, Result};
use crate::state::AppState;

/// Sent to the window as a sync moves through a connection's bindings.
#[derive(Debug, Clone, Serialize, Deserialize, Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct SyncProgressed {
    pub connection: String,
    pub done: u32,
    pub total: u32,
    /// False once every connection is done.
    pub running: bool,
}

pub type SyncSink = Arc<dyn Fn(SyncProgressed) + Send + Sync>;

/// What "Test connection" learned.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionCheck {
    pub connection: ConnectionId,
    pub identity: ProviderIdentity,
}

/// One binding as Settings shows it.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BindingView {
    pub binding: Binding,
    pub connection_name: String,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BindingsPage {
    pub bindings: Vec<BindingView>,
}

/// How fresh one connection's part of the cache is.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    pub name: String,
    pub kind_label: String,
    pub freshness: ConnectionFreshness,
}

pub(crate) async fn secret_of(state: &AppState, connection: &Connection) -> Result<SecretString> {
    secret_in(state.credentials.clone(), connection).await
}

/// A connection's token from the keyring, or why there is none.
async fn secret_in(
    credentials: release_desk_credentials::Credentials,
    connection: &Connection,
) -> Result<SecretString> {
    let account = keyring_account(connection.id);
    with_keyring(credentials, move |c| c.get_account(&account))
        .await?
        .ok_or_else(|| {
            AppError::new(
                "no_secret",
                format!(
                    "{} has no token yet: set one in Settings → Connections",
                    connection.name
                ),
            )
        })
}

/// Opens a connection's pipeline for the promotion engine: its token from
/// the keyring, its adapter from those kept between syncs.
pub(crate) struct ShellPipelines {
    pub credentials: release_desk_credentials::Credentials,
    pub adapters: Arc<release_desk_sync::Adapters>,
}

#[async_trait::async_trait]
impl release_desk_engine::PipelineOpener for ShellPipelines {
    async fn open(
        &self,
        connection: &Connection,
    ) -> std::result::Result<Arc<dyn release_desk_provider::PipelineDeploy>, ProviderError> {
        let secret = secret_in(self.credentials.clone(), connection)
            .await
            .map_err(|e| {
                // No token is the person's to fix; a keyring fault may pass.
                let kind = if e.code == "no_secret" {
                    ProviderErrorKind::Unauthorised
                } else {
                    ProviderErrorKind::Unavailable
                };
                ProviderError::new(kind, e.message)
            })?;
        self.adapters
            .get(connection, secret)?
            .pipeline
            .ok_or_else(|| {
                ProviderError::new(
                    ProviderErrorKind::Refused,
                    format!("{} cannot run pipelines", connection.kind.label()),
                )
            })
    }
}

/// Asks the provider who the connection's token is, and remembers the
/// answer: actions taken there are audited with that account.
#[tauri::command]
#[specta::specta]
pub async fn test_connection(
    state: State<'_, AppState>,
    id: ConnectionId,
) -> Result<ConnectionCheck> {
    let by = state.current_profile().await?;
    may(&by, Action::ManageConnections)?;
    let connection = super::connections::known(&state, id).await?;
    let secret = secret_of(&state, &connection).await?;
    let connected = state.adapters.get(&connection, secret)?;
    let identity = connected.identity.ok_or_else(|| {
        ProviderError::new(
            ProviderErrorKind::Refused,
            format!(
                "{} cannot say who its credential is",
                connection.kind.label()
            ),
        )
    })?;
    let identity = identity.whoami().await?;
    let store = state.store().await?;
    checked(
        &state,
        store
            .record_provider_login(id, &identity.login, &by, chrono::Utc::now())
            .await,
    )
    .await?;
    Ok(ConnectionCheck {
        connection: id,
        identity,
    })
}

async fn bindings_page(state: &AppState) -> Result<BindingsPage> {
    let store = state.store().await?;
    let bindings = checked(state, store.bindings().await).await?;
    let connections = checked(state, store.connections().await).await?;
    Ok(BindingsPage {
        bindings: bindings
            .into_iter()
            .map(|binding| BindingView {
                connection_name: connections
                    .iter()
                    .find(|c| c.id == binding.connection)
                    .map(|c| c.name.clone())
                    .unwrap_or_default(),
                binding,
            })
            .collect(),
    })
}

#[tauri::command]
#[specta::specta]
pub async fn provider_bindings(state: State<'_, AppState>) -> Result<BindingsPage> {
    bindings_page(&state).await
}

#[tauri::command]
#[specta::specta]
pub async fn add_binding(state: State<'_, AppState>, draft: BindingDraft) -> Result<BindingsPage> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    checked(
        &state,
        store.add_binding(draft, &by, chrono::Utc::now()).await,
    )
    .await?;
    bindings_page(&state).await
}

#[tauri::command]
#[specta::specta]
pub async fn remove_binding(state: State<'_, AppState>, id: BindingId) -> Result<BindingsPage> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    checked(
        &state,
        store.remove_binding(id, &by, chrono::Utc::now()).await,
    )
    .await?;
    bindings_page(&state).await
}

#[tauri::command]
#[specta::specta]
pub async fn sync_status(state: State<'_, AppState>) -> Result<Vec<SyncStatus>> {
    let store = state.store().await?;
    let connections = checked(&state, store.connections().await).await?;
    let fresh = checked(&state, store.connection_freshness().await).await?;
    Ok(fresh
        .into_iter()
        .filter_map(|freshness| {
            let c = connections.iter().find(|c| c.id == freshness.connection)?;
            Some(SyncStatus {
                name: c.name.clone(),
                kind_label: c.kind.label().into(),
                freshness,
            })
        })
        .collect())
}

/// Refreshes the cache from every connection now.
#[tauri::command]
#[specta::specta]
pub async fn sync_now(state: State<'_, AppState>) -> Result<Vec<ConnectionSync>> {
    sync_all(&state).await
}

/// Syncs every connection that has bindings, one sync at a time. Used by
/// Refresh and by the background schedule.
pub async fn sync_all(state: &AppState) -> Result<Vec<ConnectionSync>> {
    let _one_at_a_time = state.sync_running.lock().await;
    // However this returns, the window hears that the sync is over.
    struct Finished<'a>(&'a AppState);
    impl Drop for Finished<'_> {
        fn drop(&mut self) {
            if let Some(sink) = self.0.on_sync.get() {
                sink(SyncProgressed {
                    connection: String::new(),
                    done: 0,
                    total: 0,
                    running: false,
                });
            }
        }
    }
    let _finished = Finished(state);
    let store = state.store().await?;
    let connections = checked(state, store.connections().await).await?;
    state
        .adapters
        .retain(&connections.iter().map(|c| c.id).collect::<Vec<_>>());
    let emit = |p: SyncProgressed| {
        if let Some(sink) = state.on_sync.get() {
            sink(p);
        }
    };
    let mut reports = Vec::new();
    let bound: std::collections::BTreeSet<ConnectionId> = checked(state, store.bindings().await)
        .await?
        .iter()
        .map(|b| b.connection)
        .collect();
    for connection in connections.into_iter().filter(|c| bound.contains(&c.id)) {
        let opened = match secret_of(state, &connection).await {
            Ok(secret) => state
                .adapters
                .get(&connection, secret)
                .map_err(|e| e.message),
            Err(e) => Err(e.message),
        };
        let connected = match opened {
            Ok(c) => c,
            Err(message) => {
                // Recorded, so the sync bar shows why this cache is not fresher.
                checked(
                    state,
                    store
                        .record_connection_sync_failure(connection.id, &message, chrono::Utc::now())
                        .await,
                )
                .await?;
                reports.push(ConnectionSync {
                    connection: connection.id,
                    name: connection.name.clone(),
                    bindings: vec![],
                    error: Some(message),
                });
                continue;
            }
        };
        let report = sync(
            &store,
            &connection,
            &connected,
            chrono::Utc::now,
            |p: SyncProgress| {
                emit(SyncProgressed {
                    connection: p.connection,
                    done: p.done,
                    total: p.total,
                    running: true,
                })
            },
        )
        .await
        .map_err(|e| match e {
            release_desk_sync::SyncError::Store(s) => AppError::from(s),
        })?;
        reports.push(report);
    }
    // A sync may bring approvals that await the person: the title says so.
    state.refresh_title().await;
    Ok(reports)
}
