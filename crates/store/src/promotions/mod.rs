//! Promotions in the cache: starting one (gates judged and the environment
//! locked in the same transaction), appending the events that move it, and
//! finishing it (lock released, deployment and change record updated, all
//! audited). A promotion is read back by folding its stored events.

mod facts;
pub(crate) mod setup;

use chrono::{DateTime, Utc};
use release_desk_audit::EntryDraft;
use release_desk_changes::{ChangeId, ChangeState, Profile};
use release_desk_domain::{Digest, Leg, Slug};
use release_desk_promotion::{
    evaluate_gates, gates_pass, plan, GateResult, GateVerdict, Phase, PlanRequest, Promotion,
    PromotionEvent, PromotionKind, Release, SoakThresholds, StepKind, StepState, Strategy,
};
use serde::Serialize;
use serde_json::json;
use specta::Type;
use sqlx::{Sqlite, SqliteConnection, Transaction};

pub use setup::{
    ArtefactLocation, StoredArtefact, TargetBinding, TrustedKey, MAX_MIN_REQUESTS, MAX_P95_MS,
    MAX_SOAK_SECS,
};

use crate::audit::append;
use crate::changes::{bump, refused, set_state};
use crate::row::RowExt;
use crate::time::to_ms;
use crate::{Result, Store, StoreError};
use facts::gather;
use release_desk_access::{may, may_put_live, Action};

/// What the target reported when the promotion was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetSnapshot {
    pub current: Option<Release>,
    /// The leg still running the release a rollback or drill would return to.
    pub ready_leg: Option<Leg>,
}

/// A request to promote, roll back or drill.
#[derive(Debug, Clone)]
pub struct PromotionRequest {
    /// Chosen by the UI for each press of the button: the same key twice
    /// returns the promotion the first press started.
    pub request_key: String,
    pub kind: PromotionKind,
    pub service: Slug,
    pub environment: Slug,
    pub version: String,
}

/// The gates for a promotion as they stand now, and what it would deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct GateCheck {
    pub results: Vec<GateResult>,
    pub passes: bool,
    pub version: String,
    pub digest: Digest,
    /// The open change it would implement, e.g. `CHG-0042`.
    pub change: Option<String>,
}

/// A promotion with what was judged before it began.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PromotionRecord {
    pub promotion: Promotion,
    pub gates: Vec<GateResult>,
    pub change: Option<String>,
    /// Where the artefact's bytes are, for the target.
    pub location: Option<String>,
    pub signature: Option<String>,
    pub thresholds: SoakThresholds,
}

/// What starting gave back: the promotion, and whether this call started it
/// (false when the same request key had started it before).
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    pub record: PromotionRecord,
    pub fresh: bool,
}

fn subject(id: i64) -> String {
    format!("promotion:{id}")
}

async fn audit(
    tx: &mut Transaction<'_, Sqlite>,
    id: i64,
    actor: &str,
    action: &str,
    detail: serde_json::Value,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    append(
        tx,
        EntryDraft {
            at,
            actor: actor.to_owned(),
            action: action.to_owned(),
            subject: subject(id),
            detail: detail.to_string(),
        },
    )
    .await
    .map(|_| ())
}

fn malformed(detail: impl ToString) -> StoreError {
    StoreError::Malformed {
        what: "promotion",
        detail: detail.to_string(),
    }
}

/// How a cell deploys: through a provider's pipeline when one of its
/// bindings names one (that binding is the explicit choice to deploy there),
/// else through its deployment target, with the soak and its thresholds.
async fn binding_of(
    conn: &mut SqliteConnection,
    service_id: i64,
    environment_id: i64,
) -> Result<Option<(Strategy, u32, SoakThresholds)>> {
    let pipeline: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM bindings WHERE service_id = ? AND environment_id = ?
           AND json_extract(settings, '$.workflow') IS NOT NULL LIMIT 1",
    )
    .bind(service_id)
    .bind(environment_id)
    .fetch_optional(&mut *conn)
    .await?;
    if pipeline.is_some() {
        // The pipeline runs its own checks; the desk adds no soak of its own.
        return Ok(Some((Strategy::Pipeline, 0, SoakThresholds::default())));
    }
    let row = sqlx::query(
        "SELECT strategy, soak_secs, max_error_rate_pct, max_p95_ms, min_requests FROM deployment_targets
         WHERE service_id = ? AND environment_id = ?",
    )
    .bind(service_id)
    .bind(environment_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        let r = r.fields("a deployment target");
        let s: &str = r.col(0)?;
        Ok((
            Strategy::parse(s).ok_or_else(|| malformed(format!("unknown strategy {s}")))?,
            u32::try_from(r.col::<i64>(1)?).unwrap_or(0),
            SoakThresholds {
                max_error_rate_pct: r.col(2)?,
                max_p95_ms: r.col(3)?,
                min_requests: u32::try_from(r.col::<i64>(4)?).unwrap_or(0),
            },
        ))
    })
    .transpose()
}

fn no_target(service: &Slug, environment: &Slug) -> StoreError {
    refused(
        "no_target",
        format!(
            "{service} has no deployment target in {environment}: bind one in Settings before promoting"
        ),
    )
}

impl Store {
    /// Judges the gates for a promotion now, without starting anything.
    pub async fn check_gates(
        &self,
        kind: PromotionKind,
        service: &Slug,
        environment: &Slug,
        version: &str,
        now: DateTime<Utc>,
    ) -> Result<GateCheck> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.fail(e))?;
        let (s, e) = setup::ids(&mut conn, service, environment).await?;
        let (_, soak, _) = binding_of(&mut conn, s, e)
            .await?
            .ok_or_else(|| no_target(service, environment))?;
        let g = gather(&mut conn, kind, service, environment, version, soak, now)
            .await
            .map_err(|e| self.refail(e))?;
        let results = evaluate_gates(&g.facts);
        Ok(GateCheck {
            passes: gates_pass(&results),
            results,
            version: version.to_owned(),
            digest: g.facts.digest,
            change: g.change_id.map(|id| ChangeId(id).to_string()),
        })
    }

    /// Starts a promotion if every gate passes, in one transaction: the
    /// promotion and its plan, the environment lock, a deployment in
    /// progress, the change record moved to Implement, and the audit entries.
    /// A refusal names every failing gate and writes nothing but an audit
    /// entry of the attempt.
    pub async fn start_promotion(
        &self,
        request: &PromotionRequest,
        snapshot: TargetSnapshot,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<Started> {
        may(by, Action::Promote)?;
        let mut tx = self.begin_write().await?;
        let existing: Option<i64> =
            sqlx::query_scalar("SELECT id FROM promotions WHERE request_key = ?")
                .bind(&request.request_key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.fail(e))?;
        if let Some(id) = existing {
            drop(tx);
            let record = self.promotion(id).await?;
            let p = &record.promotion;
            // The key names one request; reused for another it is a bug in
            // the caller, and answering with the old promotion would mislead.
            if p.kind != request.kind
                || p.service != request.service
                || p.environment != request.environment
                || (request.kind == PromotionKind::Promote && p.release.version != request.version)
            {
                return Err(refused(
                    "request_key_reused",
                    format!(
                        "this request was already used for promotion #{id} ({} {} to {}); press the button again",
                        p.service, p.release.version, p.environment
                    ),
                ));
            }
            return Ok(Started {
                record,
                fresh: false,
            });
        }
        let (s, e) = setup::ids(&mut tx, &request.service, &request.environment).await?;
        let (strategy, soak, _) = binding_of(&mut tx, s, e)
            .await?
            .ok_or_else(|| no_target(&request.service, &request.environment))?;
        let g = gather(
            &mut tx,
            request.kind,
            &request.service,
            &request.environment,
            &request.version,
            soak,
            now,
        )
        .await
        .map_err(|e| self.refail(e))?;
        let results = evaluate_gates(&g.facts);
        // Separation of duties reaches the promotion: whoever approved the
        // change does not also put it live (the gates do not know who asks,
        // so this is judged here, with them).
        let approved_it = match (request.kind, g.change_id) {
            (PromotionKind::Promote, Some(change)) => approved_by(&mut tx, change, by.id.0)
                .await
                .map_err(|e| self.fail(e))?,
            _ => false,
        };
        if !gates_pass(&results) || approved_it {
            let mut failing: Vec<String> = results
                .iter()
                .filter(|r| r.verdict == GateVerdict::Fail)
                .map(|r| format!("{}: {}", r.label, r.reason))
                .collect();
            let change = g
                .change_id
                .map(|id| ChangeId(id).to_string())
                .unwrap_or_default();
            let sod = may_put_live(by, &change, approved_it)
                .err()
                .map(|e| e.to_string());
            failing.extend(sod.clone());
            // Nothing of the promotion is written, but the attempt is: an
            // auditor asks who tried to ship what, and why it was stopped.
            drop(tx);
            let mut tx = self.begin_write().await?;
            append(
                &mut tx,
                EntryDraft {
                    at: now,
                    actor: by.actor(),
                    action: "promotion.refused".into(),
                    subject: format!("target:{}/{}", request.service, request.environment),
                    detail: json!({
                        "kind": request.kind.as_str(),
                        "version": request.version,
                        "digest": g.facts.digest.to_string(),
                        "failing": failing,
                    })
                    .to_string(),
                },
            )
            .await
            .map_err(|e| self.fail(e))?;
            tx.commit().await.map_err(|e| self.fail(e))?;
            return Err(refused(
                if failing.len() == 1 && sod.is_some() {
                    "separation_of_duties"
                } else {
                    "gates_failed"
                },
                format!(
                    "{} {} cannot go to {}: {}",
                    request.service,
                    request.version,
                    request.environment,
                    failing.join("; ")
                ),
            ));
        }
        let id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM promotions")
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        // SQLite's randomblob comes from its CSPRNG: 64 bits make a repeat
        // across every database a person will ever have out of reach.
        let key_scope: String = sqlx::query_scalar("SELECT lower(hex(randomblob(8)))")
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        let planned = plan(PlanRequest {
            id,
            key_scope,
            kind: request.kind,
            strategy,
            service: request.service.clone(),
            environment: request.environment.clone(),
            release: Release {
                version: request.version.clone(),
                digest: g.facts.digest.clone(),
                leg: None,
            },
            current: snapshot.current,
            ready_leg: snapshot.ready_leg,
            soak_secs: soak,
            requested_by: by.name.clone(),
            at: now,
            production: g.production,
        })
        .map_err(|e| refused("unplannable", e.to_string()))?;
        let change_id = if request.kind == PromotionKind::Promote {
            g.change_id
        } else {
            None
        };
        // A drill ends where it began: it is not a deployment.
        let deployment_id: Option<i64> = if request.kind == PromotionKind::Drill {
            None
        } else {
            let leg = planned
                .steps
                .iter()
                .rfind(|s| s.kind == StepKind::Switch)
                .and_then(|s| s.leg);
            Some(
                sqlx::query_scalar(
                    "INSERT INTO deployments (artefact_id, service_id, environment_id, leg, started_at_ms, actor, outcome)
                     VALUES (?, ?, ?, ?, ?, ?, 'in_progress') RETURNING id",
                )
                .bind(g.artefact_id)
                .bind(s)
                .bind(e)
                .bind(leg.map(Leg::as_str))
                .bind(to_ms(now))
                .bind(&by.name)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.fail(e))?,
            )
        };
        let plan_json = serde_json::to_string(&planned).map_err(malformed)?;
        let gates_json = serde_json::to_string(&results).map_err(malformed)?;
        sqlx::query(
            "INSERT INTO promotions (id, request_key, kind, service_id, environment_id, artefact_id, change_id,
                deployment_id, requested_by, plan, gates, phase, created_at_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)",
        )
        .bind(id)
        .bind(&request.request_key)
        .bind(request.kind.as_str())
        .bind(s)
        .bind(e)
        .bind(g.artefact_id)
        .bind(change_id)
        .bind(deployment_id)
        .bind(&by.name)
        .bind(plan_json)
        .bind(gates_json)
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        // The primary key on the environment makes a second holder impossible
        // even if two starts raced past the gate.
        sqlx::query("INSERT INTO environment_locks (environment_id, promotion_id, since_ms) VALUES (?, ?, ?)")
            .bind(e)
            .bind(id)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        audit(
            &mut tx,
            id,
            &by.actor(),
            "promotion.started",
            json!({
                "kind": request.kind.as_str(),
                "service": request.service,
                "environment": request.environment,
                "version": request.version,
                "digest": g.facts.digest.hex(),
                "strategy": strategy.as_str(),
                "steps": planned.steps.iter().map(|s| s.kind.as_str()).collect::<Vec<_>>(),
                "gates": results.iter().map(|r| json!({"gate": r.gate, "verdict": r.verdict, "reason": r.reason})).collect::<Vec<_>>(),
                "change": change_id.map(|c| ChangeId(c).to_string()),
            }),
            now,
        )
        .await
        .map_err(|e| self.fail(e))?;
        if let Some(cid) = change_id {
            start_change(&mut tx, cid, id, &by.actor(), now)
                .await
                .map_err(|e| self.refail(e))?;
        }
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(Started {
            record: self.promotion(id).await?,
            fresh: true,
        })
    }

    /// Appends one event after checking it fits; when it ends the promotion,
    /// finishes it in the same transaction.
    pub async fn record_promotion_event(
        &self,
        id: i64,
        event: &PromotionEvent,
        now: DateTime<Utc>,
    ) -> Result<Promotion> {
        let mut tx = self.begin_write().await?;
        let mut promotion = load(&mut tx, id).await.map_err(|e| self.refail(e))?.0;
        promotion
            .apply(event)
            .map_err(|e| refused(e.code(), e.to_string()))?;
        let seq: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM promotion_events WHERE promotion_id = ?",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        sqlx::query(
            "INSERT INTO promotion_events (promotion_id, seq, at_ms, event) VALUES (?, ?, ?, ?)",
        )
        .bind(id)
        .bind(seq)
        .bind(to_ms(now))
        .bind(serde_json::to_string(event).map_err(malformed)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        sqlx::query("UPDATE promotions SET phase = ? WHERE id = ?")
            .bind(promotion.phase.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        let ended = match event {
            PromotionEvent::StepSucceeded { step, report, .. } => {
                Some((*step, "succeeded", report_summary(report)))
            }
            PromotionEvent::StepFailed { step, reason, .. } => {
                let retrying = matches!(promotion.steps[*step as usize].state, StepState::Pending);
                Some((
                    *step,
                    if retrying { "retrying" } else { "failed" },
                    reason.clone(),
                ))
            }
            _ => None,
        };
        if let PromotionEvent::RunStarted { run, .. } = event {
            // Who acts at the provider is the connection's account: the
            // audit names it beside the person who asked.
            let via = sqlx::query(
                "SELECT c.name, c.provider_login FROM promotions p
                 JOIN bindings b ON b.service_id = p.service_id AND b.environment_id = p.environment_id
                 JOIN connections c ON c.id = b.connection_id
                 WHERE p.id = ? AND json_extract(b.settings, '$.workflow') IS NOT NULL LIMIT 1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
            let (connection, login) = match &via {
                Some(r) => {
                    let f = r.fields("a pipeline's connection");
                    (Some(f.col::<String>(0)?), f.opt::<String>(1)?)
                }
                None => (None, None),
            };
            audit(
                &mut tx,
                id,
                &promotion.requested_by,
                "promotion.run_started",
                json!({
                    "run": run.id,
                    "link": run.link,
                    "connection": connection,
                    "provider_login": login,
                }),
                now,
            )
            .await
            .map_err(|e| self.fail(e))?;
        }
        if let Some((step, outcome, text)) = ended {
            let s = &promotion.steps[step as usize];
            audit(
                &mut tx,
                id,
                "Release Desk (promotion engine)",
                "promotion.step",
                json!({ "step": s.kind.as_str(), "leg": s.leg, "outcome": outcome, "detail": text }),
                now,
            )
            .await
            .map_err(|e| self.fail(e))?;
        }
        if promotion.phase.is_finished() {
            finish(&mut tx, &promotion, now)
                .await
                .map_err(|e| self.refail(e))?;
        }
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(promotion)
    }

    /// A promotion, rebuilt from its plan and events.
    pub async fn promotion(&self, id: i64) -> Result<PromotionRecord> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.fail(e))?;
        let (promotion, row) = load(&mut conn, id).await.map_err(|e| self.refail(e))?;
        Ok(PromotionRecord {
            promotion,
            gates: serde_json::from_str(&row.gates).map_err(malformed)?,
            change: row.change_id.map(|c| ChangeId(c).to_string()),
            location: row.location,
            signature: row.signature,
            thresholds: binding_of(&mut conn, row.service_id, row.environment_id)
                .await?
                .map(|b| b.2)
                .unwrap_or_default(),
        })
    }

    /// Promotions that have not ended, oldest first: what to resume at start.
    pub async fn unfinished_promotions(&self) -> Result<Vec<i64>> {
        sqlx::query_scalar(
            "SELECT id FROM promotions WHERE phase IN ('running', 'switching_back') ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))
    }

    /// The latest promotions of a service in an environment, newest first.
    pub async fn promotions_of(
        &self,
        service: &Slug,
        environment: &Slug,
        limit: u32,
    ) -> Result<Vec<PromotionRecord>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT p.id FROM promotions p JOIN services s ON s.id = p.service_id
             JOIN environments e ON e.id = p.environment_id
             WHERE s.key = ? AND e.key = ? ORDER BY p.id DESC LIMIT ?",
        )
        .bind(service.as_str())
        .bind(environment.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.promotion(id).await?);
        }
        Ok(out)
    }

    /// What the desk's record says is live in a cell: the newest release
    /// that succeeded there and was not rolled back. Used where no target
    /// can be asked (a provider's pipeline deploys the cell).
    pub async fn recorded_live_release(
        &self,
        service: &Slug,
        environment: &Slug,
    ) -> Result<Option<(String, Digest)>> {
        let row = sqlx::query(
            "SELECT a.version, a.digest FROM deployments d JOIN artefacts a ON a.id = d.artefact_id
             JOIN services s ON s.id = d.service_id JOIN environments e ON e.id = d.environment_id
             WHERE s.key = ? AND e.key = ? AND d.outcome = 'succeeded'
             ORDER BY d.started_at_ms DESC, d.id DESC LIMIT 1",
        )
        .bind(service.as_str())
        .bind(environment.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        row.map(|r| {
            let r = r.fields("a release");
            Ok((r.col(0)?, Digest::parse(r.col(1)?)?))
        })
        .transpose()
    }

    /// The newest release that succeeded in this cell other than `live`:
    /// where a rollback goes.
    pub async fn last_good_release(
        &self,
        service: &Slug,
        environment: &Slug,
        live: Option<&Digest>,
    ) -> Result<Option<(String, Digest)>> {
        let row = sqlx::query(
            "SELECT a.version, a.digest FROM deployments d JOIN artefacts a ON a.id = d.artefact_id
             JOIN services s ON s.id = d.service_id JOIN environments e ON e.id = d.environment_id
             WHERE s.key = ? AND e.key = ? AND d.outcome = 'succeeded' AND a.digest IS NOT ?
               AND d.digest_confirmed = 1
             ORDER BY d.started_at_ms DESC, d.id DESC LIMIT 1",
        )
        .bind(service.as_str())
        .bind(environment.as_str())
        .bind(live.map(Digest::hex))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        row.map(|r| {
            let r = r.fields("a release");
            Ok((r.col(0)?, Digest::parse(r.col(1)?)?))
        })
        .transpose()
    }
}

fn report_summary(report: &release_desk_provider::StepReport) -> String {
    if report.replayed {
        format!(
            "{} (already done under this key; not repeated)",
            report.summary
        )
    } else {
        report.summary.clone()
    }
}

struct Row_ {
    gates: String,
    change_id: Option<i64>,
    location: Option<String>,
    signature: Option<String>,
    service_id: i64,
    environment_id: i64,
}

async fn load(conn: &mut SqliteConnection, id: i64) -> Result<(Promotion, Row_)> {
    let row = sqlx::query(
        "SELECT p.plan, p.gates, p.change_id, l.location, a.signature, p.service_id, p.environment_id
         FROM promotions p JOIN artefacts a ON a.id = p.artefact_id
         LEFT JOIN artefact_locations l ON l.artefact_id = p.artefact_id WHERE p.id = ?",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| refused("unknown_promotion", format!("there is no promotion #{id}")))?;
    let row = row.fields("a promotion");
    let mut promotion: Promotion = serde_json::from_str(row.col(0)?).map_err(malformed)?;
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT event FROM promotion_events WHERE promotion_id = ? ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    for e in events {
        let event: PromotionEvent = serde_json::from_str(&e).map_err(malformed)?;
        promotion
            .apply(&event)
            .map_err(|e| malformed(e.to_string()))?;
    }
    Ok((
        promotion,
        Row_ {
            gates: row.col(1)?,
            change_id: row.opt(2)?,
            location: row.opt(3)?,
            signature: row.opt(4)?,
            service_id: row.col(5)?,
            environment_id: row.col(6)?,
        },
    ))
}

/// Scheduled → Implement when its first promotion starts.
async fn start_change(
    tx: &mut Transaction<'_, Sqlite>,
    change_id: i64,
    promotion: i64,
    by: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let record = crate::change_queries::load_record(tx, change_id)
        .await?
        .record;
    if record.state != ChangeState::Scheduled {
        return Ok(());
    }
    set_state(tx, &record, ChangeState::Implement, now).await?;
    bump(tx, change_id, now).await?;
    crate::changes::audit(
        tx,
        change_id,
        by,
        "change.transition",
        json!({ "from": "scheduled", "to": "implement", "step": "start", "promotion": promotion }),
        now,
    )
    .await?;
    Ok(())
}

/// Ends a promotion: outcome on its deployment, lock released, the change
/// record moved to Review with the evidence when its work is done.
async fn finish(tx: &mut Transaction<'_, Sqlite>, p: &Promotion, now: DateTime<Utc>) -> Result<()> {
    let succeeded = p.phase == Phase::Succeeded;
    let reason = p.failure.as_ref().map(|f| f.reason.clone());
    let outcome = match (&p.failure, succeeded) {
        (_, true) => "succeeded",
        (Some(f), false) if f.switched_back => "rolled_back",
        _ => "failed",
    };
    sqlx::query("UPDATE promotions SET finished_at_ms = ? WHERE id = ?")
        .bind(to_ms(now))
        .bind(p.id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE deployments SET outcome = ?, finished_at_ms = ?, failure_reason = ?
         WHERE id = (SELECT deployment_id FROM promotions WHERE id = ?)",
    )
    .bind(outcome)
    .bind(to_ms(now))
    .bind(reason.as_deref())
    .bind(p.id)
    .execute(&mut **tx)
    .await?;
    // A rollback that succeeded leaves a release that must not count as good
    // any more: not as the next rollback's target, not for the next stage's
    // gate. Its latest success here becomes rolled back.
    if succeeded && p.kind == PromotionKind::Rollback {
        if let Some(left) = &p.previous {
            sqlx::query(
                "UPDATE deployments SET outcome = 'rolled_back', failure_reason = ?
                 WHERE id = (SELECT d.id FROM deployments d JOIN artefacts a ON a.id = d.artefact_id
                             JOIN promotions pr ON pr.id = ?
                             WHERE d.service_id = pr.service_id AND d.environment_id = pr.environment_id
                               AND a.digest = ? AND d.outcome = 'succeeded'
                             ORDER BY d.started_at_ms DESC, d.id DESC LIMIT 1)",
            )
            .bind(format!(
                "rolled back to {} by promotion #{}",
                p.release.version, p.id
            ))
            .bind(p.id)
            .bind(left.digest.hex())
            .execute(&mut **tx)
            .await?;
        }
    }
    // A deployment a provider's pipeline ran links to its run.
    if let Some(link) = p
        .steps
        .iter()
        .rev()
        .find_map(|s| s.run.as_ref().and_then(|r| r.link.clone()))
    {
        sqlx::query(
            "UPDATE deployments SET link = ? WHERE id = (SELECT deployment_id FROM promotions WHERE id = ?)",
        )
        .bind(link)
        .bind(p.id)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query("DELETE FROM environment_locks WHERE promotion_id = ?")
        .bind(p.id)
        .execute(&mut **tx)
        .await?;
    let evidence: Vec<serde_json::Value> = p
        .steps
        .iter()
        .map(|s| {
            let (state, detail) = match &s.state {
                StepState::Succeeded { report, .. } => ("succeeded", report.summary.clone()),
                StepState::Failed { reason, .. } => ("failed", reason.clone()),
                StepState::Skipped { reason } => ("skipped", reason.clone()),
                StepState::Pending | StepState::Running { .. } => ("not run", String::new()),
            };
            json!({ "step": s.kind.as_str(), "leg": s.leg, "state": state, "detail": detail })
        })
        .collect();
    audit(
        tx,
        p.id,
        "Release Desk (promotion engine)",
        if succeeded {
            "promotion.succeeded"
        } else {
            "promotion.failed"
        },
        json!({
            "outcome": outcome,
            "reason": reason,
            "switchedBack": p.failure.as_ref().map(|f| f.switched_back),
            "needsAttention": p.failure.as_ref().map(|f| f.needs_attention),
            "steps": evidence,
            "samples": p.samples.len(),
        }),
        now,
    )
    .await?;
    let change_id: Option<i64> =
        sqlx::query_scalar("SELECT change_id FROM promotions WHERE id = ?")
            .bind(p.id)
            .fetch_one(&mut **tx)
            .await?;
    let Some(change_id) = change_id else {
        return Ok(());
    };
    let record = crate::change_queries::load_record(tx, change_id)
        .await?
        .record;
    if record.state != ChangeState::Implement {
        return Ok(());
    }
    // Succeeded: review once every target environment has its release.
    if succeeded {
        let left: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM change_environments ce WHERE ce.change_id = ? AND NOT EXISTS (
                SELECT 1 FROM promotions p WHERE p.change_id = ce.change_id
                  AND p.environment_id = ce.environment_id AND p.phase = 'succeeded')",
        )
        .bind(change_id)
        .fetch_one(&mut **tx)
        .await?;
        if left > 0 {
            return Ok(());
        }
    }
    set_state(tx, &record, ChangeState::Review, now).await?;
    bump(tx, change_id, now).await?;
    crate::changes::audit(
        tx,
        change_id,
        "Release Desk (promotion engine)",
        "change.transition",
        json!({
            "from": "implement",
            "to": "review",
            "step": "complete",
            "promotion": p.id,
            "outcome": outcome,
            "reason": reason,
            "evidence": evidence,
        }),
        now,
    )
    .await?;
    Ok(())
}

/// Whether `profile` approved change `change` (an approval that still
/// stands or not: having approved it once is enough to be a party).
async fn approved_by(
    conn: &mut SqliteConnection,
    change: i64,
    profile: i64,
) -> std::result::Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM decisions WHERE change_id = ? AND profile_id = ? AND verdict = 'approve'",
    )
    .bind(change)
    .bind(profile)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}
