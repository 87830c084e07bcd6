//! Placing changes in time: the conflicts a change (saved, or still a draft in
//! the form) would meet before anything is saved, moving a change on the
//! calendar, and letting a change go ahead inside a freeze.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use release_desk_audit::EntryDraft;
use release_desk_calendar::{
    conflicts, expand, Booking, ConflictKind, Expanded, FreezeOverride, PlannedChange, RuleKind,
};
use release_desk_changes::{ArtefactRef, ChangeId, ChangeRecord, ChangeState, Profile};
use release_desk_domain::{Digest, Slug};
use serde::{Deserialize, Serialize};
use serde_json::json;
use specta::Type;
use sqlx::SqliteConnection;

use crate::audit::append;
use crate::calendar::load_rules;
use crate::change_queries::load_record;
use crate::changes::{check_editable, refused, settle_after_write};
use crate::error::{Result, StoreError};
use crate::row::RowExt;
use crate::time::{from_ms, to_ms};
use crate::Store;
use release_desk_access::{may_on_change, ChangeAction, Parties};

/// How far past a change's end the rules are expanded, so "outside every
/// window" can name the next opening.
const LOOK_AHEAD_DAYS: i64 = 35;

const MAX_REASON_LEN: usize = 2_000;

/// Where and when a change would run, as the form or the calendar has it
/// before saving. `change` is the record being edited or moved, if any: its
/// own bookings are not conflicts with itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PlannedSlot {
    pub change: Option<ChangeId>,
    pub artefact: ArtefactRef,
    pub environments: Vec<Slug>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Every freeze override still bound to its change's current planned window.
async fn current_overrides(
    conn: &mut SqliteConnection,
) -> Result<HashMap<i64, Vec<FreezeOverride>>> {
    let rows = sqlx::query(
        "SELECT o.change_id, o.rule_id, o.by_name, o.reason, o.at_ms, o.occurrence_start_ms
         FROM freeze_overrides o JOIN change_records c ON c.id = o.change_id
         WHERE o.planned_start_ms = c.planned_start_ms AND o.planned_end_ms = c.planned_end_ms
         ORDER BY o.id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut by_change: HashMap<i64, Vec<FreezeOverride>> = HashMap::new();
    for r in &rows {
        let r = r.fields("a freeze override");
        by_change
            .entry(r.col(0)?)
            .or_default()
            .push(FreezeOverride {
                rule_id: r.col(1)?,
                occurrence_start: from_ms(r.col(5)?),
                by: r.col(2)?,
                reason: r.col(3)?,
                at: from_ms(r.col(4)?),
            });
    }
    Ok(by_change)
}

/// Every open change (not yet closed, cancelled or finished implementing)
/// as one booking per target environment, with its freeze overrides.
pub(crate) async fn load_bookings(conn: &mut SqliteConnection) -> Result<Vec<Booking>> {
    let rows = sqlx::query(
        "SELECT c.id, s.key, e.key, e.position, e.production, a.digest, c.planned_start_ms, c.planned_end_ms
         FROM change_records c
         JOIN artefacts a ON a.id = c.artefact_id
         JOIN services s ON s.id = a.service_id
         JOIN change_environments ce ON ce.change_id = c.id
         JOIN environments e ON e.id = ce.environment_id
         WHERE c.state IN ('new', 'assess', 'authorise', 'scheduled', 'implement')
         ORDER BY c.planned_start_ms, c.id, e.position",
    )
    .fetch_all(&mut *conn)
    .await?;
    let overrides = current_overrides(conn).await?;
    rows.iter()
        .map(|r| {
            let r = r.fields("a change record's booking");
            let id: i64 = r.col(0)?;
            Ok(Booking {
                id,
                reference: ChangeId(id).to_string(),
                service: Slug::parse(r.col(1)?)?,
                environment: Slug::parse(r.col(2)?)?,
                stage: u32::try_from(r.col::<i64>(3)?).unwrap_or(0),
                production: r.col::<i64>(4)? == 1,
                digest: Digest::parse(r.col(5)?)?,
                start: from_ms(r.col(6)?),
                end: from_ms(r.col(7)?),
                overrides: overrides.get(&id).cloned().unwrap_or_default(),
            })
        })
        .collect()
}

/// Expands every rule over `[from, to + look-ahead]`.
pub(crate) fn expand_all(
    rules: &[release_desk_calendar::CalendarRule],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Expanded>> {
    rules
        .iter()
        .map(|r| {
            let until = to
                .checked_add_signed(Duration::days(LOOK_AHEAD_DAYS))
                .unwrap_or(to);
            expand(r, from, until)
        })
        .collect::<release_desk_calendar::Result<Vec<_>>>()
        .map_err(|e| StoreError::Calendar(Box::new(e)))
}

impl Store {
    /// Refuses to start implementing a change that would run inside a freeze
    /// nobody allowed to has overridden for it. Judged on when it would really
    /// run: from now, for its planned length.
    pub(crate) async fn refuse_if_frozen(
        &self,
        conn: &mut SqliteConnection,
        record: &ChangeRecord,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let rules = load_rules(conn).await.map_err(|e| self.refail(e))?;
        if !rules.iter().any(|r| r.kind == RuleKind::Freeze) {
            return Ok(());
        }
        let length = record.planned_end - record.planned_start;
        let expanded = expand_all(&rules, now, now + length)?;
        for mut b in load_bookings(conn)
            .await
            .map_err(|e| self.refail(e))?
            .into_iter()
            .filter(|b| b.id == record.id.0)
        {
            b.start = now;
            b.end = now + length;
            if let Some(c) = conflicts(&b, &expanded, &[])
                .into_iter()
                .find(|c| c.kind == ConflictKind::InFreeze && c.blocks())
            {
                return Err(refused(
                    "in_freeze",
                    format!(
                        "{} cannot start now in {}: {}. A change manager can override the freeze for it, with a reason, from the calendar",
                        record.reference, b.environment, c.reason
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The conflicts `slot` would meet, one entry per environment, judged
    /// against every rule and every other open change. Nothing is written.
    pub async fn check_slot(&self, slot: &PlannedSlot) -> Result<Vec<PlannedChange>> {
        release_desk_changes::check_planned_window(slot.start, slot.end)?;
        let mut conn = self.pool.acquire().await.map_err(|e| self.fail(e))?;
        let (service, digest): (String, String) = sqlx::query_as(
            "SELECT s.key, a.digest FROM artefacts a JOIN services s ON s.id = a.service_id
             WHERE s.key = ? AND a.version = ?",
        )
        .bind(slot.artefact.service.as_str())
        .bind(&slot.artefact.version)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| self.fail(e))?
        .ok_or_else(|| StoreError::UnknownArtefact {
            service: slot.artefact.service.to_string(),
            version: slot.artefact.version.clone(),
        })?;
        let rules = load_rules(&mut conn).await.map_err(|e| self.refail(e))?;
        let others = load_bookings(&mut conn).await?;
        let own = slot.change.map(|c| c.0);
        // Overrides stay with the change only while its window is unchanged.
        let kept: Vec<FreezeOverride> = others
            .iter()
            .find(|b| Some(b.id) == own && b.start == slot.start && b.end == slot.end)
            .map(|b| b.overrides.clone())
            .unwrap_or_default();
        let mut planned = Vec::new();
        for env in &slot.environments {
            let row = sqlx::query("SELECT position, production FROM environments WHERE key = ?")
                .bind(env.as_str())
                .fetch_optional(&mut *conn)
                .await
                .map_err(|e| self.fail(e))?
                .ok_or_else(|| StoreError::UnknownEnvironment(env.to_string()))?;
            let row = row.fields("an environment");
            planned.push(Booking {
                id: own.unwrap_or(i64::MIN),
                reference: slot
                    .change
                    .map_or_else(|| "this change".to_owned(), |c| c.to_string()),
                service: Slug::parse(&service)?,
                environment: env.clone(),
                stage: u32::try_from(row.col::<i64>(0)?).unwrap_or(0),
                production: row.col::<i64>(1)? == 1,
                digest: Digest::parse(&digest)?,
                start: slot.start,
                end: slot.end,
                overrides: kept.clone(),
            });
        }
        // The change's other stages count as it will be, not as it was.
        let mut all: Vec<Booking> = others.into_iter().filter(|b| Some(b.id) != own).collect();
        all.extend(planned.iter().cloned());
        let expanded = expand_all(&rules, slot.start, slot.end)?;
        Ok(planned
            .into_iter()
            .map(|b| PlannedChange {
                conflicts: conflicts(&b, &expanded, &all),
                booking: b,
            })
            .collect())
    }

    /// Moves a change to a new planned window (dragged on the calendar),
    /// audited. Freeze overrides given for the old window no longer apply.
    pub async fn reschedule_change(
        &self,
        id: ChangeId,
        seen: u32,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<ChangeRecord> {
        release_desk_changes::check_planned_window(start, end)?;
        let mut tx = self.begin_write().await?;
        let before = crate::changes::load_for_write(&mut tx, id, seen)
            .await
            .map_err(|e| self.refail(e))?
            .record;
        check_editable(&before, by, ChangeAction::Reschedule)?;
        sqlx::query(
            "UPDATE change_records SET planned_start_ms = ?, planned_end_ms = ?, revision = revision + 1, updated_at_ms = ?
             WHERE id = ?",
        )
        .bind(to_ms(start))
        .bind(to_ms(end))
        .bind(to_ms(now))
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        append(
            &mut tx,
            EntryDraft {
                at: now,
                actor: by.actor(),
                action: "change.rescheduled".into(),
                subject: format!("change:{}", id.0),
                detail: json!({
                    "from": { "start": before.planned_start, "end": before.planned_end },
                    "to": { "start": start, "end": end },
                })
                .to_string(),
            },
        )
        .await
        .map_err(|e| self.fail(e))?;
        settle_after_write(self, tx, id, now).await
    }

    /// Lets one change go ahead inside one freeze: only for a change manager
    /// who is not a party to the change ([`ChangeAction::OverrideFreeze`]; a
    /// release manager schedules, and so does not lift a freeze on their own
    /// plan),
    /// with a written reason, for the change's current planned window.
    #[allow(clippy::too_many_arguments)] // the change, the revision seen, the freeze, why, who, when
    pub async fn override_freeze(
        &self,
        id: ChangeId,
        seen: u32,
        rule_id: i64,
        reason: &str,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<ChangeRecord> {
        let reason = reason.trim();
        let mut tx = self.begin_write().await?;
        // The window the manager looked at: a change moved since is refused.
        let record = crate::changes::load_for_write(&mut tx, id, seen)
            .await
            .map_err(|e| self.refail(e))?
            .record;
        may_on_change(by, &Parties::from(&record), ChangeAction::OverrideFreeze)?;
        if reason.is_empty() || reason.chars().count() > MAX_REASON_LEN {
            return Err(release_desk_changes::ChangeError::Invalid {
                field: "reason",
                reason: format!(
                    "say why this change must go ahead during the freeze (1 to {MAX_REASON_LEN} characters)"
                ),
            }
            .into());
        }
        if !record.state.is_open() || record.state == ChangeState::Review {
            return Err(refused(
                "freeze_override_state",
                format!(
                    "{} is {}: only a change still to be implemented can be let into a freeze",
                    record.reference,
                    record.state.as_str()
                ),
            ));
        }
        let rules = load_rules(&mut tx).await.map_err(|e| self.refail(e))?;
        let rule = rules
            .iter()
            .find(|r| r.id == rule_id)
            .ok_or(StoreError::UnknownCalendarRule(rule_id))?;
        if rule.kind != RuleKind::Freeze {
            return Err(refused(
                "not_a_freeze",
                format!("'{}' is a release window, not a freeze", rule.title),
            ));
        }
        let bookings = load_bookings(&mut tx).await?;
        let mine: Vec<&Booking> = bookings.iter().filter(|b| b.id == id.0).collect();
        let expanded = expand_all(
            std::slice::from_ref(rule),
            record.planned_start,
            record.planned_end,
        )?;
        // The occurrence of the freeze the planned window falls in, for an
        // environment and service the freeze applies to.
        let occurrence = mine
            .iter()
            .filter(|b| rule.scope.applies_to(&b.service, &b.environment))
            .find_map(|b| {
                expanded[0]
                    .occurrences
                    .iter()
                    .find(|o| o.overlaps(b.start, b.end))
            })
            .copied();
        let Some(occurrence) = occurrence else {
            return Err(refused(
                "not_in_freeze",
                format!(
                    "{} is not planned inside '{}', so there is nothing to override",
                    record.reference, rule.title
                ),
            ));
        };
        if let Some(existing) = mine
            .iter()
            .flat_map(|b| b.overrides.iter())
            .find(|o| o.rule_id == rule_id && o.occurrence_start == occurrence.start)
        {
            return Err(refused(
                "already_overridden",
                format!(
                    "{} already overrode '{}' for {} at this time",
                    existing.by, rule.title, record.reference
                ),
            ));
        }
        let roles: Vec<&str> = by.roles.iter().map(Slug::as_str).collect();
        sqlx::query(
            "INSERT INTO freeze_overrides (change_id, rule_id, rule_title, occurrence_start_ms, planned_start_ms,
                planned_end_ms, reason, by_profile_id, by_name, by_roles, at_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.0)
        .bind(rule_id)
        .bind(&rule.title)
        .bind(to_ms(occurrence.start))
        .bind(to_ms(record.planned_start))
        .bind(to_ms(record.planned_end))
        .bind(reason)
        .bind(by.id.0)
        .bind(&by.name)
        .bind(json!(roles).to_string())
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        append(
            &mut tx,
            EntryDraft {
                at: now,
                actor: by.actor(),
                action: "calendar.freeze_overridden".into(),
                subject: format!("change:{}", id.0),
                detail: json!({
                    "freeze": rule.title,
                    "ruleId": rule_id,
                    "occurrenceStart": occurrence.start,
                    "occurrenceEnd": occurrence.end,
                    "reason": reason,
                    "roles": roles,
                    "plannedStart": record.planned_start,
                    "plannedEnd": record.planned_end,
                })
                .to_string(),
            },
        )
        .await
        .map_err(|e| self.fail(e))?;
        let after = load_record(&mut tx, id.0)
            .await
            .map_err(|e| self.refail(e))?
            .record;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(after)
    }
}
