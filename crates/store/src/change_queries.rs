//! Reading change records: one in full (with risk, approvals, commits and its
//! audit history), the list, and the approval queue of one person.

use chrono::{DateTime, Utc};
use release_desk_access::{allowed_on_change, may_on_change, ChangeAction, Parties};
use release_desk_changes::{
    assess, check_decision, guard_facts, next_state, policy_for, ApprovalPolicy, ArtefactRef,
    BoundArtefact, ChangeDraft, ChangeId, ChangeRecord, ChangeState, ChangeType, CloseOutcome,
    Decision, EnvironmentApproval, GuardFacts, Link, LinkKind, Profile, ProfileId, RiskAssessment,
    RiskInputs, RiskLevel, RiskOverride, Transition, Verdict,
};
use release_desk_domain::{Commit, Digest, Slug};
use serde::Serialize;
use specta::Type;
use sqlx::SqliteConnection;

use crate::audit::AuditEntry;
use crate::error::{malformed, Result, StoreError};
use crate::policies::load_policies;
use crate::row::RowExt;
use crate::time::from_ms;
use crate::Store;

/// A change record with what is needed to judge it.
pub(crate) struct Loaded {
    pub record: ChangeRecord,
    pub commits: Vec<Commit>,
    pub targets_production: bool,
}

impl Loaded {
    pub fn risk(&self) -> RiskAssessment {
        let r = &self.record;
        assess(
            &RiskInputs {
                kind: r.kind,
                commits: u32::try_from(self.commits.len()).unwrap_or(u32::MAX),
                files_changed: r.files_changed,
                rollback_possible: r.rollback_possible,
                schema_migration: r.schema_migration,
                targets_production: self.targets_production,
                planned_start: r.planned_start,
                planned_end: r.planned_end,
            },
            r.risk_override.clone(),
        )
    }
}

pub(crate) async fn load_record(conn: &mut SqliteConnection, id: i64) -> Result<Loaded> {
    let row = sqlx::query(
        "SELECT c.id, c.kind, c.state, c.template, c.title, c.description,
                s.key, a.version, a.digest, a.id,
                c.planned_start_ms, c.planned_end_ms, c.implementation_plan, c.backout_plan, c.test_plan,
                c.requester_id, rq.name, c.assignee_id, asg.name,
                c.rollback_possible, c.no_rollback_justification, c.schema_migration, c.files_changed,
                c.risk_override, c.approval_requested_at_ms, c.outcome, c.closing_note,
                c.created_at_ms, c.updated_at_ms, c.revision
         FROM change_records c
         JOIN artefacts a ON a.id = c.artefact_id
         JOIN services s ON s.id = a.service_id
         JOIN profiles rq ON rq.id = c.requester_id
         LEFT JOIN profiles asg ON asg.id = c.assignee_id
         WHERE c.id = ?",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::UnknownChange(id))?;
    let row = row.fields("a change record");

    let artefact_id: i64 = row.col(9)?;
    let services: Vec<String> = sqlx::query_scalar(
        "SELECT s.key FROM change_services cs JOIN services s ON s.id = cs.service_id
         WHERE cs.change_id = ? ORDER BY cs.position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let environments = sqlx::query(
        "SELECT e.key, e.production FROM change_environments ce JOIN environments e ON e.id = ce.environment_id
         WHERE ce.change_id = ? ORDER BY ce.position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let links =
        sqlx::query("SELECT kind, value FROM change_links WHERE change_id = ? ORDER BY position")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    let commits = sqlx::query(
        "SELECT sha, summary, author FROM artefact_commits WHERE artefact_id = ? ORDER BY position",
    )
    .bind(artefact_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        let r = r.fields("an artefact's commit");
        Ok(Commit {
            sha: r.col(0)?,
            summary: r.col(1)?,
            author: r.col(2)?,
        })
    })
    .collect::<Result<Vec<_>>>()?;

    let kind: String = row.col(1)?;
    let kind = ChangeType::parse(&kind).ok_or_else(|| malformed("a change type")(kind.clone()))?;
    let state: String = row.col(2)?;
    let state =
        ChangeState::parse(&state).ok_or_else(|| malformed("a change state")(state.clone()))?;
    let risk_override: Option<RiskOverride> = row
        .opt::<&str>(23)?
        .map(|j| serde_json::from_str(j).map_err(|e| malformed("a risk override")(e.to_string())))
        .transpose()?;
    let outcome: Option<&str> = row.opt(25)?;
    let links = links
        .iter()
        .map(|l| {
            let l = l.fields("a change record's link");
            let kind = match l.col::<&str>(0)? {
                "deployment" => LinkKind::Deployment,
                "commit" => LinkKind::Commit,
                "ticket" => LinkKind::Ticket,
                _ => LinkKind::Url,
            };
            Ok(Link {
                kind,
                value: l.col(1)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut environment_keys = Vec::with_capacity(environments.len());
    let mut targets_production = false;
    for e in &environments {
        let e = e.fields("a change record's environment");
        environment_keys.push(Slug::parse(e.col(0)?)?);
        targets_production |= e.col::<i64>(1)? == 1;
    }
    let id = ChangeId(row.col(0)?);
    let record = ChangeRecord {
        id,
        reference: id.to_string(),
        kind,
        state,
        template: row.opt(3)?,
        title: row.col(4)?,
        description: row.col(5)?,
        services: services
            .iter()
            .map(|s| Slug::parse(s))
            .collect::<std::result::Result<_, _>>()?,
        environments: environment_keys,
        artefact: BoundArtefact {
            service: Slug::parse(row.col(6)?)?,
            version: row.col(7)?,
            digest: Digest::parse(row.col(8)?)?,
        },
        planned_start: from_ms(row.col(10)?),
        planned_end: from_ms(row.col(11)?),
        implementation_plan: row.col(12)?,
        backout_plan: row.col(13)?,
        test_plan: row.col(14)?,
        requester: ProfileId(row.col(15)?),
        requester_name: row.col(16)?,
        assignee: row.opt(17)?.map(ProfileId),
        assignee_name: row.opt(18)?,
        links,
        rollback_possible: row.col::<i64>(19)? == 1,
        no_rollback_justification: row.opt(20)?,
        schema_migration: row.col::<i64>(21)? == 1,
        files_changed: row.opt::<i64>(22)?.and_then(|n| u32::try_from(n).ok()),
        risk_override,
        approval_requested_at: row.opt::<i64>(24)?.map(from_ms),
        outcome: outcome.and_then(CloseOutcome::parse),
        closing_note: row.opt(26)?,
        created_at: from_ms(row.col(27)?),
        updated_at: from_ms(row.col(28)?),
        revision: u32::try_from(row.col::<i64>(29)?).unwrap_or(0),
    };
    Ok(Loaded {
        record,
        commits,
        targets_production,
    })
}

pub(crate) async fn load_decisions(conn: &mut SqliteConnection, id: i64) -> Result<Vec<Decision>> {
    let rows = sqlx::query(
        "SELECT id, profile_id, by_name, roles, verdict, comment, at_ms, digest
         FROM decisions WHERE change_id = ? ORDER BY at_ms, id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let r = r.fields("a decision");
            let verdict: String = r.col(4)?;
            Ok(Decision {
                id: r.col(0)?,
                by: ProfileId(r.col(1)?),
                by_name: r.col(2)?,
                roles: serde_json::from_str(r.col(3)?)
                    .map_err(|e| malformed("a decision's roles")(e.to_string()))?,
                verdict: Verdict::parse(&verdict)
                    .ok_or_else(|| malformed("a verdict")(verdict.clone()))?,
                comment: r.col(5)?,
                at: from_ms(r.col(6)?),
                digest: Digest::parse(r.col(7)?)?,
            })
        })
        .collect()
}

/// One step the UI may offer on a change, with why it is refused if it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct StepOption {
    pub action: String,
    pub allowed: bool,
    pub reason: Option<String>,
}

/// Everything the change screen shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ChangeDetail {
    pub record: ChangeRecord,
    pub risk: RiskAssessment,
    pub commits: Vec<Commit>,
    pub approvals: Vec<EnvironmentApproval>,
    pub without_policy: Vec<Slug>,
    pub steps: Vec<StepOption>,
    /// What the viewer may do to the record beyond its steps (edit,
    /// reschedule, override its risk or a freeze), as the store decides it;
    /// empty when nobody is chosen.
    pub may: Vec<ChangeAction>,
    /// Every decision ever made on the change, oldest first.
    pub decisions: Vec<Decision>,
    pub history: Vec<AuditEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ChangeSummary {
    pub id: ChangeId,
    pub reference: String,
    pub kind: ChangeType,
    pub state: ChangeState,
    pub title: String,
    pub service: Slug,
    pub version: String,
    pub environments: Vec<Slug>,
    pub planned_start: DateTime<Utc>,
    pub planned_end: DateTime<Utc>,
    pub requester_name: String,
    pub risk: RiskLevel,
    pub updated_at: DateTime<Utc>,
    /// What a write made from this summary must have seen.
    pub revision: u32,
}

/// An item of the approval queue: all a person needs to decide without leaving it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct QueueItem {
    pub record: ChangeRecord,
    pub risk: RiskAssessment,
    pub commits: Vec<Commit>,
    pub approvals: Vec<EnvironmentApproval>,
}

/// Transitions offered on screen, in the order a person would take them.
fn offered_steps() -> Vec<Transition> {
    vec![
        Transition::Submit,
        Transition::RequestApproval,
        Transition::Schedule,
        Transition::Start,
        Transition::Complete,
        Transition::Close {
            outcome: CloseOutcome::Successful,
            note: "-".into(),
        },
        Transition::Rework,
        Transition::Cancel { reason: "-".into() },
    ]
}

/// Whether the change's state lets anyone take `action` now (who may is
/// `release_desk_access`'s to say): the same rules the writes enforce, so
/// the UI never offers what the store would refuse.
pub(crate) fn state_allows(record: &ChangeRecord, action: ChangeAction) -> bool {
    let planning = record.state.is_editable();
    match action {
        ChangeAction::Move => record.state.is_open(),
        ChangeAction::Edit | ChangeAction::Reschedule => {
            planning
                && !(record.kind == release_desk_changes::ChangeType::Standard
                    && record.state == ChangeState::Scheduled)
        }
        ChangeAction::OverrideRisk => planning,
        ChangeAction::OverrideFreeze => {
            record.state.is_open() && record.state != ChangeState::Review
        }
    }
}

pub(crate) fn steps_for(
    record: &ChangeRecord,
    facts: &GuardFacts,
    viewer: Option<&Profile>,
) -> Vec<StepOption> {
    let actor_refusal =
        viewer.and_then(|p| may_on_change(p, &Parties::from(record), ChangeAction::Move).err());
    offered_steps()
        .iter()
        .filter_map(|t| match next_state(record, t, facts) {
            Err(e) if e.code() == "transition_state" => None,
            Err(e) if e.code() == "standard_change" => None,
            result => {
                let refusal = actor_refusal.clone().or(result.err());
                Some(StepOption {
                    action: t.name().to_owned(),
                    allowed: refusal.is_none(),
                    reason: refusal.map(|e| e.to_string()),
                })
            }
        })
        .collect()
}

impl Store {
    pub async fn change(
        &self,
        id: ChangeId,
        viewer: Option<&Profile>,
        now: DateTime<Utc>,
    ) -> Result<ChangeDetail> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.fail(e))?;
        let mut tx = sqlx::Connection::begin(&mut *conn)
            .await
            .map_err(|e| self.fail(e))?;
        let loaded = load_record(&mut tx, id.0)
            .await
            .map_err(|e| self.refail(e))?;
        let decisions = load_decisions(&mut tx, id.0)
            .await
            .map_err(|e| self.refail(e))?;
        let policies = load_policies(&mut tx).await?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        let facts = guard_facts(&loaded.record, &policies, &decisions, now);
        let history = self.audit_of(&format!("change:{}", id.0)).await?;
        Ok(ChangeDetail {
            risk: loaded.risk(),
            steps: steps_for(&loaded.record, &facts, viewer),
            may: viewer
                .map(|p| {
                    allowed_on_change(p, &Parties::from(&loaded.record))
                        .into_iter()
                        .filter(|a| state_allows(&loaded.record, *a))
                        .collect()
                })
                .unwrap_or_default(),
            approvals: facts.approvals,
            without_policy: facts.without_policy,
            commits: loaded.commits,
            record: loaded.record,
            decisions,
            history,
        })
    }

    /// Every change record, soonest planned start first within open ones,
    /// then closed and cancelled ones, most recent first. One statement (the
    /// calendar asks for this with every range: reading each record whole
    /// took half a second for 1,700 changes).
    pub async fn changes(&self) -> Result<Vec<ChangeSummary>> {
        let rows = sqlx::query(
            "SELECT c.id, c.kind, c.state, c.title, s.key, a.version, c.planned_start_ms, c.planned_end_ms,
                    rq.name, c.rollback_possible, c.schema_migration, c.files_changed, c.risk_override,
                    c.updated_at_ms, c.revision,
                    (SELECT COUNT(*) FROM artefact_commits ac WHERE ac.artefact_id = a.id),
                    (SELECT group_concat(e.key, ',' ORDER BY ce.position)
                       FROM change_environments ce JOIN environments e ON e.id = ce.environment_id
                      WHERE ce.change_id = c.id),
                    (SELECT COALESCE(MAX(e.production), 0)
                       FROM change_environments ce JOIN environments e ON e.id = ce.environment_id
                      WHERE ce.change_id = c.id)
             FROM change_records c
             JOIN artefacts a ON a.id = c.artefact_id
             JOIN services s ON s.id = a.service_id
             JOIN profiles rq ON rq.id = c.requester_id
             ORDER BY c.state IN ('closed', 'cancelled'),
                      CASE WHEN c.state IN ('closed', 'cancelled') THEN -c.planned_start_ms ELSE c.planned_start_ms END,
                      c.id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let row = row.fields("a change record");
            let kind: String = row.col(1)?;
            let kind =
                ChangeType::parse(&kind).ok_or_else(|| malformed("a change type")(kind.clone()))?;
            let state: String = row.col(2)?;
            let state = ChangeState::parse(&state)
                .ok_or_else(|| malformed("a change state")(state.clone()))?;
            let risk_override: Option<RiskOverride> = row
                .opt::<&str>(12)?
                .map(|j| {
                    serde_json::from_str(j).map_err(|e| malformed("a risk override")(e.to_string()))
                })
                .transpose()?;
            let planned_start = from_ms(row.col(6)?);
            let planned_end = from_ms(row.col(7)?);
            let risk = assess(
                &RiskInputs {
                    kind,
                    commits: u32::try_from(row.col::<i64>(15)?).unwrap_or(u32::MAX),
                    files_changed: row.opt::<i64>(11)?.and_then(|n| u32::try_from(n).ok()),
                    rollback_possible: row.col::<i64>(9)? == 1,
                    schema_migration: row.col::<i64>(10)? == 1,
                    targets_production: row.col::<i64>(17)? == 1,
                    planned_start,
                    planned_end,
                },
                risk_override,
            )
            .level;
            let environments = row
                .opt::<&str>(16)?
                .unwrap_or_default()
                .split(',')
                .filter(|k| !k.is_empty())
                .map(Slug::parse)
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let id: i64 = row.col(0)?;
            out.push(ChangeSummary {
                id: ChangeId(id),
                reference: ChangeId(id).to_string(),
                kind,
                state,
                title: row.col(3)?,
                service: Slug::parse(row.col(4)?)?,
                version: row.col(5)?,
                environments,
                planned_start,
                planned_end,
                requester_name: row.col(8)?,
                risk,
                updated_at: from_ms(row.col(13)?),
                revision: u32::try_from(row.col::<i64>(14)?).unwrap_or(0),
            });
        }
        Ok(out)
    }

    /// What awaits this person's decision, most urgent (soonest planned
    /// start) first: changes they may decide on, that are not theirs, that
    /// still need approvals, and on whose current artefact they have not yet
    /// decided.
    pub async fn approval_queue(
        &self,
        profile: &Profile,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueueItem>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM change_records
             WHERE state IN ('authorise', 'scheduled', 'implement', 'review')
             ORDER BY planned_start_ms, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        let mut conn = self.pool.acquire().await.map_err(|e| self.fail(e))?;
        let policies = load_policies(&mut conn).await?;
        let mut out = Vec::new();
        for id in ids {
            let loaded = load_record(&mut conn, id)
                .await
                .map_err(|e| self.refail(e))?;
            let decisions = load_decisions(&mut conn, id)
                .await
                .map_err(|e| self.refail(e))?;
            if let Some(item) = queue_item(loaded, &decisions, &policies, profile, now) {
                out.push(item);
            }
        }
        Ok(out)
    }

    /// Turns a plain sqlx error wrapped by a helper back into a corruption
    /// error when it is one.
    pub(crate) fn refail(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Database(inner) => self.fail(inner),
            other => other,
        }
    }
}

fn queue_item(
    loaded: Loaded,
    decisions: &[Decision],
    policies: &[ApprovalPolicy],
    profile: &Profile,
    now: DateTime<Utc>,
) -> Option<QueueItem> {
    let r = &loaded.record;
    let facts = guard_facts(r, policies, decisions, now);
    if facts.approvals.is_empty()
        || facts
            .approvals
            .iter()
            .all(|a| a.satisfied && a.rejected_by.is_empty())
    {
        return None;
    }
    let applicable: Vec<&ApprovalPolicy> = r
        .environments
        .iter()
        .filter_map(|e| policy_for(policies, e, r.kind))
        .collect();
    check_decision(r, &applicable, profile, Verdict::Approve, "", now).ok()?;
    // Off the queue once this person's latest decision stands (an approval
    // or a rejection of this artefact); back on it when that decision no
    // longer counts (expired, or given for another artefact).
    let standing = facts.approvals.iter().any(|a| {
        a.decisions
            .iter()
            .any(|w| w.decision.by == profile.id && w.discount.is_none())
    });
    if standing {
        return None;
    }
    Some(QueueItem {
        risk: loaded.risk(),
        commits: loaded.commits,
        approvals: facts.approvals,
        record: loaded.record,
    })
}

/// Used by the writes: the draft's references resolved to row ids.
pub(crate) struct Resolved {
    pub artefact_id: i64,
    pub service_ids: Vec<i64>,
    pub environment_ids: Vec<i64>,
}

pub(crate) async fn resolve(conn: &mut SqliteConnection, draft: &ChangeDraft) -> Result<Resolved> {
    let ArtefactRef { service, version } = &draft.artefact;
    let artefact_id: Option<i64> = sqlx::query_scalar(
        "SELECT a.id FROM artefacts a JOIN services s ON s.id = a.service_id WHERE s.key = ? AND a.version = ?",
    )
    .bind(service.as_str())
    .bind(version)
    .fetch_optional(&mut *conn)
    .await?;
    let artefact_id = artefact_id.ok_or_else(|| StoreError::UnknownArtefact {
        service: service.to_string(),
        version: version.clone(),
    })?;
    let mut service_ids = Vec::new();
    for s in &draft.services {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM services WHERE key = ?")
            .bind(s.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        service_ids.push(id.ok_or_else(|| StoreError::UnknownService(s.to_string()))?);
    }
    let mut environment_ids = Vec::new();
    for e in &draft.environments {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM environments WHERE key = ?")
            .bind(e.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        environment_ids.push(id.ok_or_else(|| StoreError::UnknownEnvironment(e.to_string()))?);
    }
    if let Some(a) = draft.assignee {
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM profiles WHERE id = ?")
            .bind(a.0)
            .fetch_optional(&mut *conn)
            .await?;
        exists.ok_or(StoreError::UnknownProfile(a.0))?;
    }
    Ok(Resolved {
        artefact_id,
        service_ids,
        environment_ids,
    })
}
