//! Sync: providers → the local SQLite cache.
//!
//! [`connect`] is the one place a connection's kind becomes an adapter: it
//! returns the capabilities that kind has ([`Connected`]), and everything
//! else asks for a capability, never for a provider by name. [`sync`] asks
//! each of a connection's bindings for its deployment history and records
//! it; a binding that fails records its error and the others go on, so one
//! revoked token or one deleted repository never blanks the dashboard.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use release_desk_connections::{may_reach, Binding, Connection, ConnectionId, ConnectionKind};
use release_desk_domain::PathToLive;
use release_desk_github::GitHub;
use release_desk_provider::{
    ApprovalSource, CommitHistory, DeploymentHistory, Identity, PipelineDeploy, ProviderError,
    ProviderErrorKind,
};
use release_desk_store::{Store, SyncCounts, SyncSource};
use secrecy::SecretString;
use serde::Serialize;
use specta::Type;

/// The capabilities one connection offers, as adapters.
#[derive(Clone, Default)]
pub struct Connected {
    pub identity: Option<Arc<dyn Identity>>,
    pub history: Option<Arc<dyn DeploymentHistory>>,
    pub approvals: Option<Arc<dyn ApprovalSource>>,
    pub pipeline: Option<Arc<dyn PipelineDeploy>>,
    pub commits: Option<Arc<dyn CommitHistory>>,
}

/// Opens the adapter for a connection with its secret.
pub fn connect(connection: &Connection, secret: SecretString) -> Result<Connected, ProviderError> {
    match connection.kind {
        ConnectionKind::Github => {
            let gh = Arc::new(GitHub::new(&connection.name, &connection.base_url, secret)?);
            Ok(Connected {
                identity: Some(gh.clone()),
                history: Some(gh.clone()),
                approvals: Some(gh.clone()),
                pipeline: Some(gh.clone()),
                commits: Some(gh),
            })
        }
        ConnectionKind::AzureDevops
        | ConnectionKind::Servicenow
        | ConnectionKind::Kubernetes
        | ConnectionKind::AppService
        | ConnectionKind::AwsSsm => Err(ProviderError::new(
            ProviderErrorKind::Refused,
            format!(
                "Release Desk cannot reach {} yet: its adapter is still being built. The connection is kept, and works once it is.",
                connection.kind.label()
            ),
        )),
    }
}

/// The adapters of every connection, kept between syncs: an adapter holds
/// its HTTP client's conditional-request cache, so a re-sync of an unchanged
/// provider costs only `304`s. A connection whose URL or token changed gets
/// a new adapter (GitHub ties ETags to the token).
#[derive(Default)]
pub struct Adapters {
    open: std::sync::Mutex<std::collections::HashMap<ConnectionId, (String, Connected)>>,
}

impl Adapters {
    pub fn get(
        &self,
        connection: &Connection,
        secret: SecretString,
    ) -> Result<Connected, ProviderError> {
        use secrecy::ExposeSecret;
        use sha2::Digest as _;
        let mut hasher = sha2::Sha256::new();
        hasher.update(connection.base_url.as_bytes());
        hasher.update([0]);
        hasher.update(connection.name.as_bytes());
        hasher.update([0]);
        hasher.update(secret.expose_secret().as_bytes());
        let key = hex::encode(hasher.finalize());
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((k, c)) = open.get(&connection.id) {
            if *k == key {
                return Ok(c.clone());
            }
        }
        let connected = connect(connection, secret)?;
        open.insert(connection.id, (key, connected.clone()));
        Ok(connected)
    }

    /// Forgets adapters of connections that no longer exist.
    pub fn retain(&self, existing: &[ConnectionId]) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|id, _| existing.contains(id));
    }
}

/// What syncing one binding did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BindingSync {
    pub service: String,
    pub environment: String,
    pub counts: Option<SyncCounts>,
    /// What went wrong, in a sentence that says what to do.
    pub error: Option<String>,
}

/// What syncing one connection did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionSync {
    pub connection: ConnectionId,
    pub name: String,
    pub bindings: Vec<BindingSync>,
    /// A failure before any binding was tried (no token, unknown kind).
    pub error: Option<String>,
}

impl ConnectionSync {
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.bindings.iter().any(|b| b.error.is_some())
    }
}

/// Progress while a sync runs, for the UI's progress bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SyncProgress {
    pub connection: String,
    pub done: u32,
    pub total: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] release_desk_store::StoreError),
}

/// Syncs every binding of `connection` through `connected`. Store failures
/// stop it (the cache itself is in trouble); provider failures are recorded
/// per binding and the rest go on.
pub async fn sync(
    store: &Store,
    connection: &Connection,
    connected: &Connected,
    now: impl Fn() -> DateTime<Utc>,
    progress: impl Fn(SyncProgress),
) -> Result<ConnectionSync, SyncError> {
    let bindings = store.bindings_of(connection.id).await?;
    let path = store.path_to_live().await?;
    let total = u32::try_from(bindings.len()).unwrap_or(u32::MAX);
    let mut report = ConnectionSync {
        connection: connection.id,
        name: connection.name.clone(),
        bindings: Vec::with_capacity(bindings.len()),
        error: None,
    };
    for (i, binding) in bindings.iter().enumerate() {
        progress(SyncProgress {
            connection: connection.name.clone(),
            done: u32::try_from(i).unwrap_or(u32::MAX),
            total,
        });
        let outcome =
            sync_binding(store, connection, connected, binding, path.as_ref(), now()).await;
        let entry = match outcome {
            Ok(counts) => BindingSync {
                service: binding.service.to_string(),
                environment: binding.environment.to_string(),
                counts: Some(counts),
                error: None,
            },
            Err(Failure::Provider(message)) => {
                store
                    .record_sync_failure(binding.id, SyncSource::Deployments, &message, now())
                    .await?;
                BindingSync {
                    service: binding.service.to_string(),
                    environment: binding.environment.to_string(),
                    counts: None,
                    error: Some(message),
                }
            }
            // One binding's write failed (removed mid-sync, a row the store
            // refuses): say so for that binding and go on with the others.
            Err(Failure::Store(e)) => {
                let message = e.to_string();
                if let Err(again) = store
                    .record_sync_failure(binding.id, SyncSource::Deployments, &message, now())
                    .await
                {
                    tracing::warn!(error = %again, "could not record a binding's sync failure");
                }
                BindingSync {
                    service: binding.service.to_string(),
                    environment: binding.environment.to_string(),
                    counts: None,
                    error: Some(message),
                }
            }
        };
        report.bindings.push(entry);
    }
    sync_approvals(
        store,
        connection,
        connected,
        &bindings,
        path.as_ref(),
        &now,
        &mut report,
    )
    .await?;
    progress(SyncProgress {
        connection: connection.name.clone(),
        done: total,
        total,
    });
    Ok(report)
}

/// Asks the connection's approval source once per scope (a repository, not
/// each of its stages) and records each binding's share: the approvals for
/// its own provider environment. A failure is that scope's bindings', and
/// the others go on.
async fn sync_approvals(
    store: &Store,
    connection: &Connection,
    connected: &Connected,
    bindings: &[Binding],
    path: Option<&PathToLive>,
    now: &impl Fn() -> DateTime<Utc>,
    report: &mut ConnectionSync,
) -> Result<(), SyncError> {
    let Some(source) = &connected.approvals else {
        return Ok(());
    };
    let mut scopes: Vec<(release_desk_provider::BindingSettings, Vec<&Binding>)> = Vec::new();
    for b in bindings {
        // Never above the connection's reach, checked again at every use.
        if path.is_some_and(|p| may_reach(connection, &b.environment, p).is_err()) {
            continue;
        }
        let scope = source.scope(&b.settings);
        match scopes.iter_mut().find(|(s, _)| *s == scope) {
            Some((_, members)) => members.push(b),
            None => scopes.push((scope, vec![b])),
        }
    }
    for (scope, members) in scopes {
        let found = source.pending_approvals(&scope).await;
        for b in members {
            let failure = match &found {
                Ok(all) => {
                    let wanted = b.settings.get("environment");
                    let mine: Vec<_> = all
                        .iter()
                        .filter(|a| wanted.is_none_or(|w| &a.environment == w))
                        .cloned()
                        .collect();
                    match store.record_pending_approvals(b.id, &mine, now()).await {
                        Ok(_) => None,
                        Err(e) => Some(e.to_string()),
                    }
                }
                Err(e) => Some(e.message.clone()),
            };
            if let Some(message) = failure {
                store
                    .record_sync_failure(b.id, SyncSource::Approvals, &message, now())
                    .await?;
                if let Some(entry) = report.bindings.iter_mut().find(|e| {
                    e.service == b.service.as_str()
                        && e.environment == b.environment.as_str()
                        && e.error.is_none()
                }) {
                    entry.error = Some(format!("approvals: {message}"));
                }
            }
        }
    }
    Ok(())
}

enum Failure {
    Provider(String),
    Store(release_desk_store::StoreError),
}

async fn sync_binding(
    store: &Store,
    connection: &Connection,
    connected: &Connected,
    binding: &Binding,
    path: Option<&PathToLive>,
    now: DateTime<Utc>,
) -> Result<SyncCounts, Failure> {
    // Checked again at every use: the path may have been reordered, or the
    // reach narrowed, since the binding was made.
    if let Some(path) = path {
        may_reach(connection, &binding.environment, path)
            .map_err(|e| Failure::Provider(e.to_string()))?;
    }
    let Some(history) = &connected.history else {
        return Ok(SyncCounts::default());
    };
    let observed = history
        .deployments(&binding.settings)
        .await
        .map_err(|e| Failure::Provider(e.message))?;
    store
        .record_synced_deployments(binding, connection, &observed, now)
        .await
        .map_err(Failure::Store)
}
