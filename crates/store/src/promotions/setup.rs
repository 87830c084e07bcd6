//! What promotions need configured: the keys whose signatures the workspace
//! trusts, where each artefact's bytes are, and which target serves each
//! service in each environment.

use chrono::{DateTime, Utc};
use release_desk_changes::Profile;
use release_desk_domain::Slug;
use release_desk_promotion::{SoakThresholds, Strategy};
use release_desk_provider::{key_id, key_line, parse_public_key};
use serde::{Deserialize, Serialize};
use serde_json::json;
use specta::Type;
use sqlx::SqliteConnection;

use crate::audit::append;
use crate::changes::refused;
use crate::row::RowExt;
use crate::time::{from_ms, to_ms};
use crate::{Result, Store, StoreError};
use release_desk_access::{may, Action};
use release_desk_audit::EntryDraft;

/// The longest soak a binding may ask for, the slowest p95 it may allow, and
/// the most requests it may demand of one sample.
pub const MAX_SOAK_SECS: u32 = 86_400;
pub const MAX_P95_MS: f64 = 600_000.0;
pub const MAX_MIN_REQUESTS: u32 = 100_000;

impl Store {
    /// Appends a set-up decision to the audit log, in the caller's transaction.
    pub(crate) async fn audit_setup(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        by: &Profile,
        now: DateTime<Utc>,
        action: &str,
        subject: String,
        detail: serde_json::Value,
    ) -> Result<()> {
        append(
            tx,
            EntryDraft {
                at: now,
                actor: by.actor(),
                action: action.into(),
                subject,
                detail: detail.to_string(),
            },
        )
        .await
        .map_err(|e| self.fail(e))?;
        Ok(())
    }
}

impl Store {
    /// Records that `by` stored (`set`) or removed a provider's credential
    /// in the OS keyring. The secret itself is never passed here. Only a
    /// release manager may; the caller checks [`Action::ManageCredentials`]
    /// before touching the keyring.
    pub async fn audit_credential(
        &self,
        provider: &str,
        set: bool,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<()> {
        may(by, Action::ManageCredentials)?;
        let mut tx = self.begin_write().await?;
        self.audit_setup(
            &mut tx,
            by,
            now,
            if set {
                "credential.set"
            } else {
                "credential.removed"
            },
            format!("credential:{provider}"),
            json!({ "provider": provider, "profileId": by.id.0, "email": by.email }),
        )
        .await?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(())
    }
}

/// A recorded artefact and where its bytes are, for the settings screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ArtefactLocation {
    pub service: Slug,
    pub service_name: String,
    pub version: String,
    pub digest: release_desk_domain::Digest,
    pub signed: bool,
    pub location: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct TrustedKey {
    #[specta(type = u32)]
    pub id: i64,
    pub public_key: String,
    pub key_id: String,
    pub label: String,
    pub added_by: String,
    pub added_at: DateTime<Utc>,
}

/// How a service is deployed in an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct TargetBinding {
    pub service: Slug,
    pub environment: Slug,
    /// The provider's stable name, e.g. `local-nginx`.
    pub provider: String,
    pub strategy: Strategy,
    pub soak_secs: u32,
    pub thresholds: SoakThresholds,
}

pub(crate) async fn ids(
    conn: &mut SqliteConnection,
    service: &Slug,
    environment: &Slug,
) -> Result<(i64, i64)> {
    let s: Option<i64> = sqlx::query_scalar("SELECT id FROM services WHERE key = ?")
        .bind(service.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let s = s.ok_or_else(|| StoreError::UnknownService(service.to_string()))?;
    let e: Option<i64> = sqlx::query_scalar("SELECT id FROM environments WHERE key = ?")
        .bind(environment.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let e = e.ok_or_else(|| StoreError::UnknownEnvironment(environment.to_string()))?;
    Ok((s, e))
}

pub(crate) async fn load_trusted_keys(conn: &mut SqliteConnection) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT public_key FROM trusted_keys ORDER BY id")
            .fetch_all(&mut *conn)
            .await?,
    )
}

impl Store {
    /// The keys whose signatures this workspace trusts.
    pub async fn trusted_keys(&self) -> Result<Vec<TrustedKey>> {
        let rows = sqlx::query(
            "SELECT id, public_key, key_id, label, added_by, added_at_ms FROM trusted_keys ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|r| {
                let r = r.fields("a trusted key");
                Ok(TrustedKey {
                    id: r.col(0)?,
                    public_key: r.col(1)?,
                    key_id: r.col(2)?,
                    label: r.col(3)?,
                    added_by: r.col(4)?,
                    added_at: from_ms(r.col(5)?),
                })
            })
            .collect()
    }

    /// Trusts a minisign public key. Only release managers may; audited.
    /// Adding a key already trusted changes nothing and says so.
    pub async fn add_trusted_key(
        &self,
        public_key: &str,
        label: &str,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<TrustedKey> {
        may(by, Action::ManageTrustedKeys)?;
        parse_public_key(public_key).map_err(|why| refused("invalid_key", why.to_string()))?;
        let key = key_line(public_key).unwrap_or_default().to_owned();
        let label = release_desk_domain::required_text("key label", label)?;
        let id = key_id(&key).unwrap_or_default();
        let mut tx = self.begin_write().await?;
        let existing: Option<i64> =
            sqlx::query_scalar("SELECT id FROM trusted_keys WHERE public_key = ?")
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.fail(e))?;
        if existing.is_none() {
            sqlx::query(
                "INSERT INTO trusted_keys (public_key, key_id, label, added_by, added_at_ms) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(&key)
            .bind(&id)
            .bind(&label)
            .bind(&by.name)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
            self.audit_setup(
                &mut tx,
                by,
                now,
                "signing_key.trusted",
                format!("signing-key:{id}"),
                json!({ "keyId": id, "label": label }),
            )
            .await?;
        }
        tx.commit().await.map_err(|e| self.fail(e))?;
        self.trusted_keys()
            .await?
            .into_iter()
            .find(|k| k.public_key == key)
            .ok_or(StoreError::Malformed {
                what: "trusted key",
                detail: "the key just saved could not be read back".into(),
            })
    }

    /// Stops trusting a key: artefacts signed only by it fail the signature
    /// gate from now on. Only release managers may; audited.
    pub async fn remove_trusted_key(
        &self,
        id: i64,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<()> {
        may(by, Action::ManageTrustedKeys)?;
        let mut tx = self.begin_write().await?;
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT key_id, label FROM trusted_keys WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.fail(e))?;
        let Some((key_id, label)) = row else {
            return Err(refused(
                "unknown_key",
                format!("there is no trusted key #{id}: it may have been removed already; reload the list"),
            ));
        };
        sqlx::query("DELETE FROM trusted_keys WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        self.audit_setup(
            &mut tx,
            by,
            now,
            "signing_key.removed",
            format!("signing-key:{key_id}"),
            json!({ "keyId": key_id, "label": label }),
        )
        .await?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Records where an artefact's bytes are. Set once: the location of an
    /// immutable artefact does not move, so a different one is refused
    /// (recording the same one again changes nothing). Audited.
    pub async fn set_artefact_location(
        &self,
        service: &Slug,
        version: &str,
        location: &str,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<()> {
        may(by, Action::RecordArtefactLocations)?;
        let location = release_desk_domain::required_text("artefact location", location)?;
        let mut tx = self.begin_write().await?;
        let row: Option<(i64, String, Option<String>)> = sqlx::query_as(
            "SELECT a.id, a.digest, l.location FROM artefacts a JOIN services s ON s.id = a.service_id
             LEFT JOIN artefact_locations l ON l.artefact_id = a.id
             WHERE s.key = ? AND a.version = ?",
        )
        .bind(service.as_str())
        .bind(version)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        let (id, digest, existing) = row.ok_or_else(|| StoreError::UnknownArtefact {
            service: service.to_string(),
            version: version.to_owned(),
        })?;
        match existing {
            Some(existing) if existing == location => return Ok(()),
            Some(existing) => {
                return Err(refused(
                    "location_fixed",
                    format!(
                        "{service} {version} is already recorded at {existing}: an artefact's bytes do not move; \
                         to ship different bytes, build and record a new version"
                    ),
                ))
            }
            None => {}
        }
        sqlx::query("INSERT INTO artefact_locations (artefact_id, location) VALUES (?, ?)")
            .bind(id)
            .bind(&location)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        self.audit_setup(
            &mut tx,
            by,
            now,
            "artefact.located",
            format!("artefact:{service}@{version}"),
            json!({ "location": location, "digest": format!("sha256:{digest}") }),
        )
        .await?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Recent artefacts of every service with where their bytes are, newest first.
    pub async fn artefact_locations(&self) -> Result<Vec<ArtefactLocation>> {
        let rows = sqlx::query(
            "SELECT s.key, s.name, a.version, a.digest, a.signature IS NOT NULL, l.location, a.created_at_ms
             FROM services s
             JOIN (SELECT *, ROW_NUMBER() OVER (PARTITION BY service_id ORDER BY created_at_ms DESC, id DESC) AS n
                   FROM artefacts) a ON a.service_id = s.id AND a.n <= 25
             LEFT JOIN artefact_locations l ON l.artefact_id = a.id
             ORDER BY s.name, a.created_at_ms DESC, a.id DESC",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|r| {
                let r = r.fields("an artefact's location");
                Ok(ArtefactLocation {
                    service: Slug::parse(r.col(0)?)?,
                    service_name: r.col(1)?,
                    version: r.col(2)?,
                    digest: release_desk_domain::Digest::parse(r.col(3)?)?,
                    signed: r.col(4)?,
                    location: r.opt(5)?,
                    created_at: from_ms(r.col(6)?),
                })
            })
            .collect()
    }

    /// Binds a service in an environment to a deployment target, or changes
    /// how it is deployed there. Only release managers may, never while a
    /// promotion of it runs there; audited with what it was before.
    pub async fn bind_target(
        &self,
        binding: &TargetBinding,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<()> {
        may(by, Action::BindTargets)?;
        check_binding(binding)?;
        let mut tx = self.begin_write().await?;
        let (s, e) = ids(&mut tx, &binding.service, &binding.environment).await?;
        let running: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM promotions WHERE service_id = ? AND environment_id = ?
             AND phase IN ('running', 'switching_back') LIMIT 1",
        )
        .bind(s)
        .bind(e)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        if let Some(id) = running {
            return Err(refused(
                "target_busy",
                format!(
                    "promotion #{id} of {} in {} is still running: change its target when it has ended",
                    binding.service, binding.environment
                ),
            ));
        }
        let before = binding_row(&mut tx, s, e)
            .await
            .map_err(|e| self.refail(e))?;
        sqlx::query(
            "INSERT INTO deployment_targets (service_id, environment_id, provider, strategy, soak_secs, max_error_rate_pct, max_p95_ms, min_requests)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (service_id, environment_id) DO UPDATE SET provider = excluded.provider,
                strategy = excluded.strategy, soak_secs = excluded.soak_secs,
                max_error_rate_pct = excluded.max_error_rate_pct, max_p95_ms = excluded.max_p95_ms,
                min_requests = excluded.min_requests",
        )
        .bind(s)
        .bind(e)
        .bind(&binding.provider)
        .bind(binding.strategy.as_str())
        .bind(binding.soak_secs)
        .bind(binding.thresholds.max_error_rate_pct)
        .bind(binding.thresholds.max_p95_ms)
        .bind(binding.thresholds.min_requests)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        self.audit_setup(
            &mut tx,
            by,
            now,
            "target.bound",
            format!("target:{}/{}", binding.service, binding.environment),
            json!({ "before": before, "after": binding }),
        )
        .await?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Every service and environment bound to a target.
    pub async fn target_bindings(&self) -> Result<Vec<TargetBinding>> {
        let rows = sqlx::query(
            "SELECT s.key, e.key, t.provider, t.strategy, t.soak_secs, t.max_error_rate_pct, t.max_p95_ms,
                    t.min_requests
             FROM deployment_targets t JOIN services s ON s.id = t.service_id
             JOIN environments e ON e.id = t.environment_id ORDER BY s.key, e.position",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.iter().map(binding_from).collect()
    }

    /// The target binding of one cell, if it has one.
    pub async fn target_binding(
        &self,
        service: &Slug,
        environment: &Slug,
    ) -> Result<Option<TargetBinding>> {
        Ok(self
            .target_bindings()
            .await?
            .into_iter()
            .find(|b| &b.service == service && &b.environment == environment))
    }
}

/// A binding's numbers must make sense before they decide a soak.
fn check_binding(b: &TargetBinding) -> Result<()> {
    let bad = |message: String| Err(refused("invalid_binding", message));
    if b.provider.trim().is_empty() {
        return bad("choose the deployment target's provider".into());
    }
    if b.soak_secs > MAX_SOAK_SECS {
        return bad(format!(
            "a soak of {} s is longer than a day ({MAX_SOAK_SECS} s): choose a shorter soak",
            b.soak_secs
        ));
    }
    let t = &b.thresholds;
    if !(0.0..=100.0).contains(&t.max_error_rate_pct) {
        return bad(format!(
            "the error-rate threshold must be a percentage from 0 to 100, not {}",
            t.max_error_rate_pct
        ));
    }
    if !(t.max_p95_ms > 0.0 && t.max_p95_ms <= MAX_P95_MS) {
        return bad(format!(
            "the p95 latency threshold must be above 0 and at most {MAX_P95_MS} ms, not {}",
            t.max_p95_ms
        ));
    }
    if !(1..=MAX_MIN_REQUESTS).contains(&t.min_requests) {
        return bad(format!(
            "a soak sample must need from 1 to {MAX_MIN_REQUESTS} requests to vouch for a release, not {}: \
             a sample that saw no requests proves nothing",
            t.min_requests
        ));
    }
    Ok(())
}

async fn binding_row(
    conn: &mut SqliteConnection,
    s: i64,
    e: i64,
) -> Result<Option<serde_json::Value>> {
    let row = sqlx::query(
        "SELECT provider, strategy, soak_secs, max_error_rate_pct, max_p95_ms, min_requests
         FROM deployment_targets WHERE service_id = ? AND environment_id = ?",
    )
    .bind(s)
    .bind(e)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        let r = r.fields("a deployment target");
        Ok(json!({
            "provider": r.col::<&str>(0)?,
            "strategy": r.col::<&str>(1)?,
            "soakSecs": r.col::<i64>(2)?,
            "maxErrorRatePct": r.col::<f64>(3)?,
            "maxP95Ms": r.col::<f64>(4)?,
            "minRequests": r.col::<i64>(5)?,
        }))
    })
    .transpose()
}

fn binding_from(r: &sqlx::sqlite::SqliteRow) -> Result<TargetBinding> {
    let r = r.fields("a deployment target");
    let strategy: &str = r.col(3)?;
    Ok(TargetBinding {
        service: Slug::parse(r.col(0)?)?,
        environment: Slug::parse(r.col(1)?)?,
        provider: r.col(2)?,
        strategy: Strategy::parse(strategy).ok_or(StoreError::Malformed {
            what: "deployment target",
            detail: format!("unknown strategy '{strategy}'"),
        })?,
        soak_secs: u32::try_from(r.col::<i64>(4)?).unwrap_or(0),
        thresholds: SoakThresholds {
            max_error_rate_pct: r.col(5)?,
            max_p95_ms: r.col(6)?,
            min_requests: u32::try_from(r.col::<i64>(7)?).unwrap_or(0),
        },
    })
}

/// What a target needs to fetch an artefact recorded for a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredArtefact {
    pub version: String,
    pub location: Option<String>,
    pub signature: Option<String>,
}

impl Store {
    /// The artefact of a service with this digest, with where its bytes are.
    pub async fn artefact_by_digest(
        &self,
        service: &Slug,
        digest: &release_desk_domain::Digest,
    ) -> Result<Option<StoredArtefact>> {
        let row = sqlx::query(
            "SELECT a.version, l.location, a.signature FROM artefacts a
             JOIN services s ON s.id = a.service_id
             LEFT JOIN artefact_locations l ON l.artefact_id = a.id
             WHERE s.key = ? AND a.digest = ?",
        )
        .bind(service.as_str())
        .bind(digest.hex())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        row.map(|r| {
            let r = r.fields("an artefact");
            Ok(StoredArtefact {
                version: r.col(0)?,
                location: r.opt(1)?,
                signature: r.opt(2)?,
            })
        })
        .transpose()
    }
}
