//! What sync writes: deployments a provider reported, upserted by the
//! connection and the provider's own id (a re-sync never duplicates a row),
//! each sync's outcome per binding, and who a connection's token is.
//!
//! A synced deployment joins the local ones in `deployments`, so the
//! dashboard, cell history and drift read one table. It needs an artefact:
//! when the provider names the digest, the artefact with that version is
//! found (or recorded, if none exists); when it names only a version, the
//! row is linked to the desk's artefact of that version but marked
//! unconfirmed, so it is shown and never satisfies a gate. A deployment
//! whose build the desk cannot tell is skipped and counted, never guessed.

use chrono::{DateTime, Utc};
use release_desk_connections::{Binding, BindingId, Connection, ConnectionId};
use release_desk_provider::{ObservedDeployment, ObservedOutcome};
use serde::Serialize;
use serde_json::json;
use specta::Type;

use crate::audit::append;
use crate::error::Result;
use crate::promotions::setup::ids;
use crate::row::RowExt;
use crate::time::{from_ms, to_ms};
use crate::Store;
use release_desk_audit::EntryDraft;

/// What a sync of one binding's deployments did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SyncCounts {
    pub inserted: u32,
    pub updated: u32,
    pub unchanged: u32,
    /// Reported deployments the desk could not place, with why.
    pub skipped: Vec<String>,
}

/// Which of a binding's sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum SyncSource {
    Deployments,
    Approvals,
}

impl SyncSource {
    fn key(self) -> &'static str {
        match self {
            Self::Deployments => "deployments",
            Self::Approvals => "approvals",
        }
    }
}

/// How fresh one connection's cache is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionFreshness {
    pub connection: ConnectionId,
    pub bindings: u32,
    /// The oldest successful sync among its bindings (`None`: one has never
    /// synced).
    pub last_synced_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The newest error, when the last attempt of some binding failed.
    pub last_error: Option<String>,
    /// Who the token proved to be at the last check.
    pub provider_login: Option<String>,
}

/// A synced row as stored: id, outcome, finished, link, confirmed, artefact.
type StoredSynced = (i64, String, Option<i64>, Option<String>, i64, i64);

fn stored_outcome(o: ObservedOutcome) -> Option<&'static str> {
    match o {
        // GitHub marks a deployment inactive when a newer one succeeds: it
        // did succeed.
        ObservedOutcome::Succeeded | ObservedOutcome::Inactive => Some("succeeded"),
        ObservedOutcome::Failed => Some("failed"),
        ObservedOutcome::Queued | ObservedOutcome::InProgress => Some("in_progress"),
        ObservedOutcome::Unknown => None,
    }
}

impl Store {
    /// Upserts what a provider reported for `binding`, in one transaction,
    /// and records the sync as done.
    pub async fn record_synced_deployments(
        &self,
        binding: &Binding,
        connection: &Connection,
        observed: &[ObservedDeployment],
        now: DateTime<Utc>,
    ) -> Result<SyncCounts> {
        let mut tx = self.begin_write().await?;
        // Removed while the provider was being asked: nothing to record.
        let still: Option<i64> = sqlx::query_scalar("SELECT id FROM bindings WHERE id = ?")
            .bind(binding.id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        if still.is_none() {
            return Err(crate::changes::refused(
                "unknown_binding",
                format!(
                    "{} in {} was unbound while it synced; nothing was recorded",
                    binding.service, binding.environment
                ),
            ));
        }
        let (service_id, environment_id) = ids(&mut tx, &binding.service, &binding.environment)
            .await
            .map_err(|e| self.refail(e))?;
        let mut counts = SyncCounts::default();
        for d in observed {
            let Some(outcome) = stored_outcome(d.outcome) else {
                counts.skipped.push(format!(
                    "{} {}: {} reports no status for it yet",
                    d.provider_id, d.version, connection.name
                ));
                continue;
            };
            let artefact: Option<(i64, String)> = sqlx::query_as(
                "SELECT id, digest FROM artefacts WHERE service_id = ? AND version = ?",
            )
            .bind(service_id)
            .bind(&d.version)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
            let (artefact_id, confirmed) = match (&d.digest, artefact) {
                (Some(digest), Some((id, known))) if known == digest.hex() => (id, true),
                (Some(digest), Some(_)) => {
                    counts.skipped.push(format!(
                        "{} {}: {} reports digest {} but the desk's {} has another; check which build really ran",
                        d.provider_id, d.version, connection.name, digest, d.version
                    ));
                    continue;
                }
                (Some(digest), None) => {
                    let Some(commit) = d.commit.as_deref().filter(|c| {
                        (7..=40).contains(&c.len()) && c.chars().all(|x| x.is_ascii_hexdigit())
                    }) else {
                        counts.skipped.push(format!(
                            "{} {}: {} names no commit for a build the desk has not seen",
                            d.provider_id, d.version, connection.name
                        ));
                        continue;
                    };
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO artefacts (service_id, name, version, digest, source_commit, build_url, created_at_ms)
                         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    )
                    .bind(service_id)
                    .bind(binding.service.as_str())
                    .bind(&d.version)
                    .bind(digest.hex())
                    .bind(commit)
                    // Where it was built is not known; the run is the deployment's link.
                    .bind(None::<&str>)
                    .bind(to_ms(d.created_at))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| self.fail(e))?;
                    (id, true)
                }
                (None, Some((id, _))) => (id, false),
                (None, None) => {
                    counts.skipped.push(format!(
                        "{} {}: {} names no digest and the desk has no build {}",
                        d.provider_id, d.version, connection.name, d.version
                    ));
                    continue;
                }
            };
            let started = to_ms(d.created_at);
            let finished = match outcome {
                "in_progress" => None,
                _ => d.updated_at.map(|t| to_ms(t).max(started)),
            };
            let actor = format!(
                "{} via {}",
                d.created_by.as_deref().unwrap_or("someone"),
                connection.name
            );
            let existing: Option<StoredSynced> =
                sqlx::query_as(
                    "SELECT id, outcome, finished_at_ms, link, digest_confirmed, artefact_id FROM deployments
                     WHERE connection_id = ? AND service_id = ? AND environment_id = ? AND provider_id = ?",
                )
                .bind(connection.id.0)
                .bind(service_id)
                .bind(environment_id)
                .bind(&d.provider_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.fail(e))?;
            // A release the desk rolled back stays rolled back: the provider
            // still calls that deployment a success, and must not make it
            // good again for the gate or the next rollback.
            let outcome = match &existing {
                Some((_, o, ..)) if o == "rolled_back" => "rolled_back",
                _ => outcome,
            };
            match existing {
                Some((_, o, f, l, c, a))
                    if o == outcome
                        && f == finished
                        && l == d.link
                        && (c == 1) == confirmed
                        && a == artefact_id =>
                {
                    counts.unchanged += 1;
                }
                Some((id, ..)) => {
                    sqlx::query(
                        "UPDATE deployments SET outcome = ?, finished_at_ms = ?, link = ?,
                                digest_confirmed = ?, artefact_id = ?, synced_at_ms = ?
                         WHERE id = ?",
                    )
                    .bind(outcome)
                    .bind(finished)
                    .bind(&d.link)
                    .bind(i64::from(confirmed))
                    .bind(artefact_id)
                    .bind(to_ms(now))
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.fail(e))?;
                    counts.updated += 1;
                }
                None => {
                    sqlx::query(
                        "INSERT INTO deployments (artefact_id, service_id, environment_id, leg, started_at_ms,
                             finished_at_ms, actor, outcome, failure_reason, connection_id, provider_id, link,
                             digest_confirmed, synced_at_ms)
                         VALUES (?, ?, ?, NULL, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)",
                    )
                    .bind(artefact_id)
                    .bind(service_id)
                    .bind(environment_id)
                    .bind(started)
                    .bind(finished)
                    .bind(&actor)
                    .bind(outcome)
                    .bind(connection.id.0)
                    .bind(&d.provider_id)
                    .bind(&d.link)
                    .bind(i64::from(confirmed))
                    .bind(to_ms(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.fail(e))?;
                    counts.inserted += 1;
                }
            }
        }
        note_sync(&mut tx, binding.id, SyncSource::Deployments, now, None)
            .await
            .map_err(|e| self.fail(e))?;
        if counts.inserted + counts.updated > 0 {
            // Where it came from, so a person can tell "I did this" from
            // "GitHub told us this".
            append(
                &mut tx,
                EntryDraft {
                    at: now,
                    actor: format!("sync from {}", connection.name),
                    action: "sync.deployments".into(),
                    subject: format!("binding:{}", binding.id.0),
                    detail: json!({
                        "service": binding.service,
                        "environment": binding.environment,
                        "connection": connection.name,
                        "inserted": counts.inserted,
                        "updated": counts.updated,
                        "skipped": counts.skipped.len(),
                    })
                    .to_string(),
                },
            )
            .await
            .map_err(|e| self.fail(e))?;
        }
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(counts)
    }

    /// Records a failed sync of one source of a binding; the cache keeps
    /// what it had.
    pub async fn record_sync_failure(
        &self,
        binding: BindingId,
        source: SyncSource,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        note_sync(&mut tx, binding, source, now, Some(error))
            .await
            .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Records a failure that stopped a whole connection's sync (no token,
    /// no adapter, a refused client) against each of its bindings, so the
    /// cache's age is shown with why it is not fresher.
    pub async fn record_connection_sync_failure(
        &self,
        connection: ConnectionId,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let bindings: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM bindings WHERE connection_id = ?")
                .bind(connection.0)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| self.fail(e))?;
        for b in bindings {
            note_sync(
                &mut tx,
                BindingId(b),
                SyncSource::Deployments,
                now,
                Some(error),
            )
            .await
            .map_err(|e| self.fail(e))?;
        }
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Records who a connection's credential proved to be, when `by` tested
    /// it: kept with the connection and audited beside the local profile, so
    /// actions taken at the provider can name that account.
    pub async fn record_provider_login(
        &self,
        connection: ConnectionId,
        login: &str,
        by: &release_desk_changes::Profile,
        now: DateTime<Utc>,
    ) -> Result<()> {
        release_desk_access::may(by, release_desk_access::Action::ManageConnections)?;
        let mut tx = self.begin_write().await?;
        let name: Option<String> = sqlx::query_scalar(
            "UPDATE connections SET provider_login = ?, checked_at_ms = ? WHERE id = ? RETURNING name",
        )
        .bind(login)
        .bind(to_ms(now))
        .bind(connection.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        let Some(name) = name else {
            return Err(crate::connections::unknown(connection));
        };
        self.audit_setup(
            &mut tx,
            by,
            now,
            "connection.tested",
            format!("connection:{}", connection.0),
            json!({ "name": name, "providerLogin": login }),
        )
        .await?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// How fresh each connection's cache is, for "last synced 14 min ago".
    pub async fn connection_freshness(&self) -> Result<Vec<ConnectionFreshness>> {
        let rows = sqlx::query(
            "SELECT c.id, c.provider_login,
                    (SELECT COUNT(*) FROM bindings b WHERE b.connection_id = c.id),
                    (SELECT CASE WHEN COUNT(*) = COUNT(st.last_synced_at_ms) THEN MIN(st.last_synced_at_ms) END
                       FROM bindings b LEFT JOIN sync_state st ON st.binding_id = b.id AND st.source = 'deployments'
                      WHERE b.connection_id = c.id),
                    (SELECT MAX(st.last_attempt_ms) FROM sync_state st JOIN bindings b ON b.id = st.binding_id
                      WHERE b.connection_id = c.id),
                    (SELECT st.last_error FROM sync_state st JOIN bindings b ON b.id = st.binding_id
                      WHERE b.connection_id = c.id AND st.last_error IS NOT NULL
                      ORDER BY st.last_attempt_ms DESC LIMIT 1)
             FROM connections c ORDER BY c.name, c.id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|r| {
                let f = r.fields("a connection's freshness");
                let bindings: i64 = f.col(2)?;
                Ok(ConnectionFreshness {
                    connection: ConnectionId(f.col(0)?),
                    provider_login: f.opt(1)?,
                    bindings: u32::try_from(bindings).unwrap_or(u32::MAX),
                    last_synced_at: f.opt::<i64>(3)?.map(from_ms),
                    last_attempt_at: f.opt::<i64>(4)?.map(from_ms),
                    last_error: f.opt(5)?,
                })
            })
            .collect()
    }
}

pub(crate) async fn note_sync(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    binding: BindingId,
    source: SyncSource,
    now: DateTime<Utc>,
    error: Option<&str>,
) -> sqlx::Result<()> {
    let at = to_ms(now);
    // A success clears the error; a failure keeps the last success's time.
    sqlx::query(
        "INSERT INTO sync_state (binding_id, source, last_synced_at_ms, last_attempt_ms, last_error)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (binding_id, source) DO UPDATE SET
             last_synced_at_ms = COALESCE(excluded.last_synced_at_ms, sync_state.last_synced_at_ms),
             last_attempt_ms = excluded.last_attempt_ms,
             last_error = excluded.last_error",
    )
    .bind(binding.0)
    .bind(source.key())
    .bind(error.is_none().then_some(at))
    .bind(at)
    .bind(error)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
