//! Gathering what the gates judge, from the cache, in one connection (inside
//! the write transaction when a promotion starts, so nothing changes between
//! judging and starting).

use chrono::{DateTime, Duration, Utc};
use release_desk_calendar::{conflicts, Booking};
use release_desk_changes::{guard_facts, policy_for, ChangeId, ChangeType};
use release_desk_domain::{Digest, Slug};
use release_desk_promotion::{
    CalendarFact, ChangeFact, GateFacts, LockFact, PreviousStageFact, PromotionKind,
};
use sqlx::SqliteConnection;

use super::setup::load_trusted_keys;
use crate::calendar::load_rules;
use crate::change_queries::{load_decisions, load_record};
use crate::policies::load_policies;
use crate::row::RowExt;
use crate::schedule::{expand_all, load_bookings};
use crate::time::from_ms;
use crate::{Result, StoreError};

/// The gate facts and the ids a start needs.
pub(crate) struct Gathered {
    pub facts: GateFacts,
    pub artefact_id: i64,
    pub production: bool,
    pub change_id: Option<i64>,
}

/// How long a promotion is expected to take, for judging it against the
/// calendar: its soak plus time to deploy, test and switch.
pub(crate) fn expected_length(soak_secs: u32) -> Duration {
    Duration::seconds(i64::from(soak_secs)) + Duration::minutes(10)
}

pub(crate) async fn gather(
    conn: &mut SqliteConnection,
    kind: PromotionKind,
    service: &Slug,
    environment: &Slug,
    version: &str,
    soak_secs: u32,
    now: DateTime<Utc>,
) -> Result<Gathered> {
    let artefact = sqlx::query(
        "SELECT a.id, a.digest, a.signature, NULL, s.id
         FROM artefacts a JOIN services s ON s.id = a.service_id
         WHERE s.key = ? AND a.version = ?",
    )
    .bind(service.as_str())
    .bind(version)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::UnknownArtefact {
        service: service.to_string(),
        version: version.to_owned(),
    })?;
    let artefact = artefact.fields("an artefact");
    let artefact_id: i64 = artefact.col(0)?;
    let digest = Digest::parse(artefact.col(1)?)?;
    let env = sqlx::query("SELECT id, position, production FROM environments WHERE key = ?")
        .bind(environment.as_str())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::UnknownEnvironment(environment.to_string()))?;
    let env = env.fields("an environment");
    let (environment_id, position): (i64, i64) = (env.col(0)?, env.col(1)?);
    let production = env.col::<i64>(2)? == 1;

    // Only a deployment whose digest is confirmed (the desk's own, or one a
    // provider reported with the digest) can show these bytes succeeded: a
    // version label is not proof. But a later failure or rollback of the
    // same build, however reported, blocks the gate.
    let earlier = sqlx::query(
        "SELECT e.key,
                (SELECT d.outcome FROM deployments d WHERE d.artefact_id = ? AND d.environment_id = e.id
                   AND d.digest_confirmed = 1
                 ORDER BY d.started_at_ms DESC, d.id DESC LIMIT 1),
                (SELECT d.started_at_ms FROM deployments d WHERE d.artefact_id = ? AND d.environment_id = e.id
                   AND d.digest_confirmed = 1
                 ORDER BY d.started_at_ms DESC, d.id DESC LIMIT 1),
                (SELECT MAX(d.started_at_ms) FROM deployments d WHERE d.artefact_id = ? AND d.environment_id = e.id
                   AND d.outcome IN ('failed', 'rolled_back'))
         FROM environments e WHERE e.position < ? ORDER BY e.position DESC",
    )
    .bind(artefact_id)
    .bind(artefact_id)
    .bind(artefact_id)
    .bind(position)
    .fetch_all(&mut *conn)
    .await?;
    let earlier_stages = earlier
        .iter()
        .map(|r| {
            let r = r.fields("an earlier stage's deployment");
            let confirmed_at = r.opt::<i64>(2)?;
            let failed_at = r.opt::<i64>(3)?;
            let failed_since = |at: Option<i64>| match (failed_at, at) {
                (Some(f), Some(a)) => f > a,
                (Some(_), None) => true,
                (None, _) => false,
            };
            let succeeded = match r.opt::<&str>(1)? {
                Some("succeeded") if failed_since(confirmed_at) => Some(false),
                Some("succeeded") => Some(true),
                Some("failed" | "rolled_back") => Some(false),
                // Still running: not yet, unless it failed since.
                Some(_) if failed_since(confirmed_at) => Some(false),
                Some(_) => None,
                None if failed_at.is_some() => Some(false),
                None => None,
            };
            Ok(PreviousStageFact {
                environment: Slug::parse(r.col(0)?)?,
                succeeded,
                at: match succeeded {
                    Some(false) => failed_at.max(confirmed_at).map(from_ms),
                    _ => confirmed_at.map(from_ms),
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;

    // The open change covering this cell: for this artefact first, then the
    // one furthest along, then the earliest planned.
    let change_id: Option<i64> = sqlx::query_scalar(
        "SELECT c.id FROM change_records c
         JOIN artefacts a ON a.id = c.artefact_id
         JOIN change_environments ce ON ce.change_id = c.id
         WHERE a.service_id = ? AND ce.environment_id = ?
           AND c.state IN ('new', 'assess', 'authorise', 'scheduled', 'implement')
         ORDER BY (c.artefact_id = ?) DESC,
                  CASE c.state WHEN 'implement' THEN 0 WHEN 'scheduled' THEN 1 ELSE 2 END,
                  c.planned_start_ms, c.id
         LIMIT 1",
    )
    .bind(artefact.col::<i64>(4)?)
    .bind(environment_id)
    .bind(artefact_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (change, overrides) = match change_id {
        None => (None, Vec::new()),
        Some(id) => {
            let loaded = load_record(conn, id).await?;
            let record = loaded.record;
            let decisions = load_decisions(conn, id).await?;
            let policies = load_policies(conn).await?;
            let guard = guard_facts(&record, &policies, &decisions, now);
            let approval = guard
                .approvals
                .iter()
                .find(|a| &a.environment == environment);
            let skip_stages = if record.kind == ChangeType::Emergency {
                policy_for(&policies, environment, ChangeType::Emergency)
                    .and_then(|p| p.emergency.as_ref())
                    .map(|e| e.skip_stages.clone())
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            let overrides = load_bookings(conn)
                .await?
                .into_iter()
                .find(|b| b.id == id && &b.environment == environment)
                .map(|b| b.overrides)
                .unwrap_or_default();
            let fact = ChangeFact {
                reference: ChangeId(id).to_string(),
                kind: record.kind,
                state: record.state,
                digest: record.artefact.digest.clone(),
                approved: approval.is_some_and(|a| a.satisfied),
                after_the_fact: approval.is_some_and(|a| a.after_the_fact),
                approval_summary: approval.map_or_else(
                    || format!("no approval policy covers {environment}"),
                    |a| a.summary(),
                ),
                planned_start: record.planned_start,
                planned_end: record.planned_end,
                skip_stages,
            };
            (Some(fact), overrides)
        }
    };

    let rules = load_rules(conn).await?;
    let end = now + expected_length(soak_secs);
    let expanded = expand_all(&rules, now, end)?;
    let booking = Booking {
        id: change_id.unwrap_or(-1),
        reference: change_id.map_or_else(|| "this promotion".into(), |id| ChangeId(id).to_string()),
        service: service.clone(),
        environment: environment.clone(),
        stage: u32::try_from(position).unwrap_or(0),
        production,
        digest: digest.clone(),
        start: now,
        end,
        overrides,
    };
    let calendar = CalendarFact {
        conflicts: conflicts(&booking, &expanded, &[]),
    };

    let lock = sqlx::query(
        "SELECT l.promotion_id, s.key, a.version, p.requested_by, l.since_ms
         FROM environment_locks l JOIN promotions p ON p.id = l.promotion_id
         JOIN services s ON s.id = p.service_id JOIN artefacts a ON a.id = p.artefact_id
         WHERE l.environment_id = ?",
    )
    .bind(environment_id)
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| {
        let r = r.fields("an environment lock");
        Ok::<_, StoreError>(LockFact {
            promotion: r.col(0)?,
            service: Slug::parse(r.col(1)?)?,
            version: r.col(2)?,
            by: r.col(3)?,
            since: from_ms(r.col(4)?),
        })
    })
    .transpose()?;

    Ok(Gathered {
        facts: GateFacts {
            kind,
            service: service.clone(),
            environment: environment.clone(),
            version: version.to_owned(),
            digest,
            signature: artefact.opt(2)?,
            trusted_keys: load_trusted_keys(conn).await?,
            earlier_stages,
            change,
            calendar,
            lock,
            now,
        },
        artefact_id,
        production,
        change_id,
    })
}
