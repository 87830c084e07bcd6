//! Writing change records: raise, edit, move along the state machine, decide,
//! override risk. Each write is one `BEGIN IMMEDIATE` transaction that checks
//! the revision the person saw, applies the pure rules of the changes crate,
//! and appends to the audit log, so either all of it lands or none of it.

use chrono::{DateTime, Utc};
use release_desk_access::{may_on_change, ChangeAction, Parties};
use release_desk_audit::EntryDraft;
use release_desk_changes::{
    check_decision, guard_facts, next_state, policy_for, settle, ApprovalPolicy, ChangeDraft,
    ChangeId, ChangeRecord, ChangeState, Profile, RiskLevel, RiskOverride, Transition, Verdict,
};
use serde_json::json;
use sqlx::{Sqlite, SqliteConnection, Transaction};

use crate::audit::append;
use crate::change_queries::{load_decisions, load_record, resolve, Loaded, Resolved};
use crate::error::{Result, StoreError};
use crate::policies::load_policies;
use crate::time::to_ms;
use crate::Store;

fn subject(id: i64) -> String {
    format!("change:{id}")
}

pub(crate) async fn audit(
    tx: &mut Transaction<'_, Sqlite>,
    id: i64,
    by: &str,
    action: &str,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    append(
        tx,
        EntryDraft {
            at: now,
            actor: by.to_owned(),
            action: action.to_owned(),
            subject: subject(id),
            detail: detail.to_string(),
        },
    )
    .await
    .map(|_| ())
}

async fn write_children(
    conn: &mut SqliteConnection,
    id: i64,
    draft: &ChangeDraft,
    r: &Resolved,
) -> sqlx::Result<()> {
    for table in ["change_services", "change_environments", "change_links"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE change_id = ?"))
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    for (pos, sid) in r.service_ids.iter().enumerate() {
        sqlx::query(
            "INSERT INTO change_services (change_id, position, service_id) VALUES (?, ?, ?)",
        )
        .bind(id)
        .bind(pos as i64)
        .bind(sid)
        .execute(&mut *conn)
        .await?;
    }
    for (pos, eid) in r.environment_ids.iter().enumerate() {
        sqlx::query("INSERT INTO change_environments (change_id, position, environment_id) VALUES (?, ?, ?)")
            .bind(id)
            .bind(pos as i64)
            .bind(eid)
            .execute(&mut *conn)
            .await?;
    }
    for (pos, link) in draft.links.iter().enumerate() {
        let kind = serde_json::to_value(link.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "url".into());
        sqlx::query(
            "INSERT INTO change_links (change_id, position, kind, value) VALUES (?, ?, ?, ?)",
        )
        .bind(id)
        .bind(pos as i64)
        .bind(kind)
        .bind(&link.value)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Loads the record for a write, refusing if it moved on since the person saw it.
pub(crate) async fn load_for_write(
    tx: &mut Transaction<'_, Sqlite>,
    id: ChangeId,
    seen: u32,
) -> Result<Loaded> {
    let loaded = load_record(tx, id.0).await?;
    if loaded.record.revision != seen {
        return Err(StoreError::StaleChange {
            reference: loaded.record.reference.clone(),
            seen,
            current: loaded.record.revision,
        });
    }
    Ok(loaded)
}

pub(crate) async fn set_state(
    tx: &mut Transaction<'_, Sqlite>,
    record: &ChangeRecord,
    to: ChangeState,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE change_records SET state = ?, updated_at_ms = ? WHERE id = ?")
        .bind(to.as_str())
        .bind(to_ms(now))
        .bind(record.id.0)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Starts the approvers' request clock afresh: expiry counts from `now`.
async fn restart_request(
    tx: &mut Transaction<'_, Sqlite>,
    id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE change_records SET approval_requested_at_ms = ? WHERE id = ?")
        .bind(to_ms(now))
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Ends a write: reads the record back as it now stands and commits.
async fn commit_and_reload(
    store: &Store,
    mut tx: Transaction<'static, Sqlite>,
    id: ChangeId,
) -> Result<ChangeRecord> {
    let record = load_record(&mut tx, id.0)
        .await
        .map_err(|e| store.refail(e))?
        .record;
    tx.commit().await.map_err(|e| store.fail(e))?;
    Ok(record)
}

/// A refusal by a rule of the change process, as a store error.
pub(crate) fn refused(rule: &'static str, message: String) -> StoreError {
    release_desk_changes::ChangeError::Refused { rule, message }.into()
}

/// Whether `by` may `action` (edit or reschedule) what `before` plans: who
/// may is [`may_on_change`]'s to say; this adds that the change is still
/// being planned, and never a scheduled standard change (pre-approved exactly
/// as it stands).
pub(crate) fn check_editable(
    before: &ChangeRecord,
    by: &Profile,
    action: ChangeAction,
) -> Result<()> {
    may_on_change(by, &Parties::from(before), action)?;
    if !before.state.is_editable() {
        return Err(refused(
            "change_locked",
            format!(
                "{} is in {}: once implementation starts the record is what was approved, and cannot be edited",
                before.reference,
                before.state.as_str()
            ),
        ));
    }
    if before.kind == release_desk_changes::ChangeType::Standard
        && before.state == ChangeState::Scheduled
    {
        return Err(refused(
            "change_locked",
            format!(
                "{} is a scheduled standard change: it was pre-approved as it stands. Cancel it and raise a new one",
                before.reference
            ),
        ));
    }
    Ok(())
}

/// Ends a write that may have changed what the approvals call for: lets the
/// policy move the state, then commits and reads the record back.
pub(crate) async fn settle_after_write(
    store: &Store,
    mut tx: Transaction<'static, Sqlite>,
    id: ChangeId,
    now: DateTime<Utc>,
) -> Result<ChangeRecord> {
    let policies = load_policies(&mut tx).await?;
    settle_state(&mut tx, id, &policies, now)
        .await
        .map_err(|e| store.refail(e))?;
    commit_and_reload(store, tx, id).await
}

pub(crate) async fn bump(
    tx: &mut Transaction<'_, Sqlite>,
    id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE change_records SET revision = revision + 1, updated_at_ms = ? WHERE id = ?")
        .bind(to_ms(now))
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Moves a change to the state its approvals now call for, audited as the
/// system acting on the policy.
async fn settle_state(
    tx: &mut Transaction<'_, Sqlite>,
    id: ChangeId,
    policies: &[ApprovalPolicy],
    now: DateTime<Utc>,
) -> Result<()> {
    let loaded = load_record(tx, id.0).await?;
    let decisions = load_decisions(tx, id.0).await?;
    let facts = guard_facts(&loaded.record, policies, &decisions, now);
    if let Some((to, why)) = settle(&loaded.record, &facts) {
        set_state(tx, &loaded.record, to, now).await?;
        if to == ChangeState::Authorise {
            // Back to waiting for approvers: a fresh request, so its expiry
            // counts from now rather than from the first request.
            restart_request(tx, id.0, now).await?;
        }
        audit(
            tx,
            id.0,
            "Release Desk (approval policy)",
            "change.transition",
            json!({ "from": loaded.record.state.as_str(), "to": to.as_str(), "reason": why }),
            now,
        )
        .await?;
    }
    Ok(())
}

impl Store {
    /// Raises a change record in state New, bound to the artefact's digest.
    pub async fn raise_change(
        &self,
        draft: ChangeDraft,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<ChangeRecord> {
        let draft = draft.validate()?;
        let mut tx = self.begin_write().await?;
        let resolved = resolve(&mut tx, &draft).await.map_err(|e| self.refail(e))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO change_records (kind, state, template, title, description, artefact_id,
                planned_start_ms, planned_end_ms, implementation_plan, backout_plan, test_plan,
                requester_id, assignee_id, rollback_possible, no_rollback_justification,
                schema_migration, files_changed, created_at_ms, updated_at_ms, revision)
             VALUES (?, 'new', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id",
        )
        .bind(draft.kind.as_str())
        .bind(&draft.template)
        .bind(&draft.title)
        .bind(&draft.description)
        .bind(resolved.artefact_id)
        .bind(to_ms(draft.planned_start))
        .bind(to_ms(draft.planned_end))
        .bind(&draft.implementation_plan)
        .bind(&draft.backout_plan)
        .bind(&draft.test_plan)
        .bind(by.id.0)
        .bind(draft.assignee.map(|a| a.0))
        .bind(draft.rollback_possible)
        .bind(&draft.no_rollback_justification)
        .bind(draft.schema_migration)
        .bind(draft.files_changed.map(i64::from))
        .bind(to_ms(now))
        .bind(to_ms(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        write_children(&mut tx, id, &draft, &resolved)
            .await
            .map_err(|e| self.fail(e))?;
        let loaded = load_record(&mut tx, id).await.map_err(|e| self.refail(e))?;
        audit(
            &mut tx,
            id,
            &by.actor(),
            "change.raised",
            json!({
                "reference": loaded.record.reference,
                "kind": draft.kind.as_str(),
                "title": draft.title,
                "artefact": format!("{} {}", draft.artefact.service, draft.artefact.version),
                "digest": loaded.record.artefact.digest.to_string(),
                "environments": draft.environments,
            }),
            now,
        )
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(loaded.record)
    }

    /// Edits a change that has not started. A different artefact voids every
    /// earlier decision (they were bound to the old digest); a scheduled change
    /// then goes back to Authorise, and the audit entry says why.
    pub async fn edit_change(
        &self,
        id: ChangeId,
        seen: u32,
        draft: ChangeDraft,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<ChangeRecord> {
        let draft = draft.validate()?;
        let mut tx = self.begin_write().await?;
        let before = load_for_write(&mut tx, id, seen)
            .await
            .map_err(|e| self.refail(e))?
            .record;
        check_editable(&before, by, ChangeAction::Edit)?;
        if draft.kind != before.kind && before.state != ChangeState::New {
            return Err(refused(
                "change_kind",
                "the type of a change can only be changed while it is new".into(),
            ));
        }
        let resolved = resolve(&mut tx, &draft).await.map_err(|e| self.refail(e))?;
        sqlx::query(
            "UPDATE change_records SET kind = ?, template = ?, title = ?, description = ?, artefact_id = ?,
                planned_start_ms = ?, planned_end_ms = ?, implementation_plan = ?, backout_plan = ?, test_plan = ?,
                assignee_id = ?, rollback_possible = ?, no_rollback_justification = ?, schema_migration = ?,
                files_changed = ?
             WHERE id = ?",
        )
        .bind(draft.kind.as_str())
        .bind(&draft.template)
        .bind(&draft.title)
        .bind(&draft.description)
        .bind(resolved.artefact_id)
        .bind(to_ms(draft.planned_start))
        .bind(to_ms(draft.planned_end))
        .bind(&draft.implementation_plan)
        .bind(&draft.backout_plan)
        .bind(&draft.test_plan)
        .bind(draft.assignee.map(|a| a.0))
        .bind(draft.rollback_possible)
        .bind(&draft.no_rollback_justification)
        .bind(draft.schema_migration)
        .bind(draft.files_changed.map(i64::from))
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        write_children(&mut tx, id.0, &draft, &resolved)
            .await
            .map_err(|e| self.fail(e))?;
        bump(&mut tx, id.0, now).await.map_err(|e| self.fail(e))?;
        let after = load_record(&mut tx, id.0)
            .await
            .map_err(|e| self.refail(e))?
            .record;
        let mut detail = json!({ "changed": changed_fields(&before, &after) });
        if before.artefact.digest != after.artefact.digest {
            detail["digestFrom"] = json!(before.artefact.digest.to_string());
            detail["digestTo"] = json!(after.artefact.digest.to_string());
            detail["approvals"] = json!("void: earlier decisions were for another artefact");
            if before.state == ChangeState::Authorise {
                // A new artefact is a new request to the approvers.
                restart_request(&mut tx, id.0, now)
                    .await
                    .map_err(|e| self.fail(e))?;
            }
        }
        audit(&mut tx, id.0, &by.actor(), "change.edited", detail, now)
            .await
            .map_err(|e| self.fail(e))?;
        settle_after_write(self, tx, id, now).await
    }

    /// Takes one step of the state machine, if its guard allows it.
    pub async fn move_change(
        &self,
        id: ChangeId,
        seen: u32,
        transition: Transition,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<ChangeRecord> {
        let mut tx = self.begin_write().await?;
        let loaded = load_for_write(&mut tx, id, seen)
            .await
            .map_err(|e| self.refail(e))?;
        let record = &loaded.record;
        may_on_change(by, &Parties::from(record), ChangeAction::Move)?;
        let decisions = load_decisions(&mut tx, id.0)
            .await
            .map_err(|e| self.refail(e))?;
        let policies = load_policies(&mut tx).await?;
        let facts = guard_facts(record, &policies, &decisions, now);
        let to = next_state(record, &transition, &facts)?;
        if matches!(transition, Transition::Start) {
            self.refuse_if_frozen(&mut tx, record, now).await?;
        }
        set_state(&mut tx, record, to, now)
            .await
            .map_err(|e| self.fail(e))?;
        let mut detail =
            json!({ "from": record.state.as_str(), "to": to.as_str(), "step": transition.name() });
        match &transition {
            Transition::RequestApproval => {
                restart_request(&mut tx, id.0, now)
                    .await
                    .map_err(|e| self.fail(e))?;
            }
            Transition::Close { outcome, note } => {
                sqlx::query("UPDATE change_records SET outcome = ?, closing_note = ? WHERE id = ?")
                    .bind(outcome.as_str())
                    .bind(note.trim())
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.fail(e))?;
                detail["outcome"] = json!(outcome.as_str());
                detail["note"] = json!(note.trim());
            }
            Transition::Cancel { reason } => {
                sqlx::query("UPDATE change_records SET closing_note = ? WHERE id = ?")
                    .bind(reason.trim())
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.fail(e))?;
                detail["reason"] = json!(reason.trim());
            }
            Transition::Schedule
                if record.kind != release_desk_changes::ChangeType::Standard
                    && !facts.approvals.iter().all(|a| a.satisfied) =>
            {
                detail["approval"] = json!("after the fact, under the emergency policy");
            }
            _ => {}
        }
        bump(&mut tx, id.0, now).await.map_err(|e| self.fail(e))?;
        audit(&mut tx, id.0, &by.actor(), "change.transition", detail, now)
            .await
            .map_err(|e| self.fail(e))?;
        commit_and_reload(self, tx, id).await
    }

    /// Records an approval or rejection, bound to the current digest, and lets
    /// the policy move the change on (or back) if the quorum changed.
    pub async fn decide(
        &self,
        id: ChangeId,
        seen: u32,
        verdict: Verdict,
        comment: &str,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<ChangeRecord> {
        let comment =
            release_desk_domain::optional_text("comment", Some(comment))?.unwrap_or_default();
        let mut tx = self.begin_write().await?;
        let loaded = load_for_write(&mut tx, id, seen)
            .await
            .map_err(|e| self.refail(e))?;
        let record = &loaded.record;
        let policies = load_policies(&mut tx).await?;
        let applicable: Vec<&ApprovalPolicy> = record
            .environments
            .iter()
            .filter_map(|e| policy_for(&policies, e, record.kind))
            .collect();
        check_decision(record, &applicable, by, verdict, &comment, now)?;
        let roles = serde_json::to_string(&by.roles).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO decisions (change_id, profile_id, by_name, roles, verdict, comment, at_ms, digest)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.0)
        .bind(by.id.0)
        .bind(&by.name)
        .bind(&roles)
        .bind(verdict.as_str())
        .bind(&comment)
        .bind(to_ms(now))
        .bind(record.artefact.digest.hex())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        bump(&mut tx, id.0, now).await.map_err(|e| self.fail(e))?;
        audit(
            &mut tx,
            id.0,
            &by.actor(),
            "change.decision",
            json!({
                "verdict": verdict.as_str(),
                "comment": comment,
                "roles": by.roles,
                "digest": record.artefact.digest.to_string(),
            }),
            now,
        )
        .await
        .map_err(|e| self.fail(e))?;
        settle_state(&mut tx, id, &policies, now)
            .await
            .map_err(|e| self.refail(e))?;
        commit_and_reload(self, tx, id).await
    }

    /// Overrides the computed risk level with a written reason. Only a change
    /// manager may, and never on their own change.
    pub async fn override_risk(
        &self,
        id: ChangeId,
        seen: u32,
        level: RiskLevel,
        reason: &str,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<ChangeRecord> {
        let reason = release_desk_domain::required_text("reason for the override", reason)?;
        let mut tx = self.begin_write().await?;
        let loaded = load_for_write(&mut tx, id, seen)
            .await
            .map_err(|e| self.refail(e))?;
        may_on_change(
            by,
            &Parties::from(&loaded.record),
            ChangeAction::OverrideRisk,
        )?;
        if !loaded.record.state.is_editable() {
            return Err(refused(
                "change_locked",
                format!(
                    "{} has started: its risk can no longer be overridden",
                    loaded.record.reference
                ),
            ));
        }
        let computed = loaded.risk().computed;
        let o = RiskOverride {
            level,
            reason: reason.clone(),
            by: by.name.clone(),
            at: now,
        };
        sqlx::query("UPDATE change_records SET risk_override = ? WHERE id = ?")
            .bind(serde_json::to_string(&o).unwrap_or_default())
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        bump(&mut tx, id.0, now).await.map_err(|e| self.fail(e))?;
        audit(
            &mut tx,
            id.0,
            &by.actor(),
            "change.risk_overridden",
            json!({ "computed": computed.as_str(), "level": level.as_str(), "reason": reason }),
            now,
        )
        .await
        .map_err(|e| self.fail(e))?;
        commit_and_reload(self, tx, id).await
    }
}

fn changed_fields(a: &ChangeRecord, b: &ChangeRecord) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |name: &'static str, same: bool| {
        if !same {
            out.push(name);
        }
    };
    check("type", a.kind == b.kind);
    check("title", a.title == b.title);
    check("description", a.description == b.description);
    check("services", a.services == b.services);
    check("environments", a.environments == b.environments);
    check("artefact", a.artefact == b.artefact);
    check("planned start", a.planned_start == b.planned_start);
    check("planned end", a.planned_end == b.planned_end);
    check(
        "implementation plan",
        a.implementation_plan == b.implementation_plan,
    );
    check("backout plan", a.backout_plan == b.backout_plan);
    check("test plan", a.test_plan == b.test_plan);
    check("assignee", a.assignee == b.assignee);
    check("links", a.links == b.links);
    check(
        "rollback",
        a.rollback_possible == b.rollback_possible
            && a.no_rollback_justification == b.no_rollback_justification,
    );
    check("schema migration", a.schema_migration == b.schema_migration);
    check("files changed", a.files_changed == b.files_changed);
    out
}
