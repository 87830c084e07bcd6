//! The calendar's rules as stored, and the bookings the calendar judges: each
//! open change record's planned window, once per target environment.

use chrono::{DateTime, NaiveDateTime, Utc};
use release_desk_audit::EntryDraft;
use release_desk_calendar::{Booking, CalendarRule, RuleDraft, RuleKind, Scope};
use release_desk_changes::Profile;
use release_desk_domain::{Digest, Slug};
use serde_json::json;
use sqlx::Row;

use crate::audit::append;
use crate::error::{malformed, Result, StoreError};
use crate::time::{from_ms, to_ms};
use crate::Store;

fn rule_from(r: &sqlx::sqlite::SqliteRow) -> Result<CalendarRule> {
    let kind: String = r.get(1);
    let start: String = r.get(4);
    let exceptions: String = r.get(7);
    let scope: String = r.get(8);
    Ok(CalendarRule {
        id: r.get(0),
        kind: match kind.as_str() {
            "window" => RuleKind::Window,
            "freeze" => RuleKind::Freeze,
            other => return Err(malformed("a calendar rule's kind")(other.to_owned())),
        },
        title: r.get(2),
        zone: r.get(3),
        start: start
            .parse::<NaiveDateTime>()
            .map_err(|e| malformed("a calendar rule's start")(e.to_string()))?,
        duration_minutes: u32::try_from(r.get::<i64, _>(5)).unwrap_or(0),
        recurrence: r.get(6),
        exceptions: serde_json::from_str(&exceptions)
            .map_err(|e| malformed("a calendar rule's exceptions")(e.to_string()))?,
        scope: serde_json::from_str::<Scope>(&scope)
            .map_err(|e| malformed("a calendar rule's scope")(e.to_string()))?,
    })
}

const RULE_COLUMNS: &str =
    "id, kind, title, zone, start_local, duration_minutes, recurrence, exceptions, scope";

impl Store {
    pub async fn calendar_rules(&self) -> Result<Vec<CalendarRule>> {
        let rows = sqlx::query(&format!(
            "SELECT {RULE_COLUMNS} FROM calendar_rules ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.iter().map(rule_from).collect()
    }

    /// Adds a rule (`id` `None`) or replaces one, audited. The draft is
    /// validated by the calendar crate first: a rule that cannot be expanded
    /// is never stored.
    pub async fn save_calendar_rule(
        &self,
        id: Option<i64>,
        draft: RuleDraft,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<CalendarRule> {
        let checked = draft
            .validate(id.unwrap_or(0))
            .map_err(|e| StoreError::Calendar(Box::new(e)))?;
        let kind = match checked.kind {
            RuleKind::Window => "window",
            RuleKind::Freeze => "freeze",
        };
        let exceptions = serde_json::to_string(&checked.exceptions).unwrap_or_else(|_| "[]".into());
        let scope = serde_json::to_string(&checked.scope).unwrap_or_else(|_| "{}".into());
        let mut tx = self.begin_write().await?;
        let id: i64 = match id {
            None => sqlx::query_scalar(
                "INSERT INTO calendar_rules (kind, title, zone, start_local, duration_minutes, recurrence, exceptions, scope, created_at_ms, updated_at_ms)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(kind)
            .bind(&checked.title)
            .bind(&checked.zone)
            .bind(checked.start.format("%Y-%m-%dT%H:%M:%S").to_string())
            .bind(i64::from(checked.duration_minutes))
            .bind(&checked.recurrence)
            .bind(&exceptions)
            .bind(&scope)
            .bind(to_ms(now))
            .bind(to_ms(now))
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?,
            Some(id) => {
                let done = sqlx::query(
                    "UPDATE calendar_rules SET kind = ?, title = ?, zone = ?, start_local = ?, duration_minutes = ?,
                        recurrence = ?, exceptions = ?, scope = ?, updated_at_ms = ? WHERE id = ?",
                )
                .bind(kind)
                .bind(&checked.title)
                .bind(&checked.zone)
                .bind(checked.start.format("%Y-%m-%dT%H:%M:%S").to_string())
                .bind(i64::from(checked.duration_minutes))
                .bind(&checked.recurrence)
                .bind(&exceptions)
                .bind(&scope)
                .bind(to_ms(now))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.fail(e))?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::UnknownCalendarRule(id));
                }
                id
            }
        };
        append(
            &mut tx,
            EntryDraft {
                at: now,
                actor: by.name.clone(),
                action: "calendar.rule_saved".into(),
                subject: format!("calendar_rule:{id}"),
                detail: json!({
                    "kind": kind,
                    "title": checked.title,
                    "zone": checked.zone,
                    "recurrence": checked.recurrence_text(),
                    "durationMinutes": checked.duration_minutes,
                    "scope": checked.scope,
                })
                .to_string(),
            },
        )
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(CalendarRule { id, ..checked })
    }

    /// Removes a rule; the audit entry keeps what it was.
    pub async fn delete_calendar_rule(
        &self,
        id: i64,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "SELECT {RULE_COLUMNS} FROM calendar_rules WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?
        .ok_or(StoreError::UnknownCalendarRule(id))?;
        let rule = rule_from(&row)?;
        sqlx::query("DELETE FROM calendar_rules WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        append(
            &mut tx,
            EntryDraft {
                at: now,
                actor: by.name.clone(),
                action: "calendar.rule_deleted".into(),
                subject: format!("calendar_rule:{id}"),
                detail: json!({ "title": rule.title, "recurrence": rule.recurrence_text() })
                    .to_string(),
            },
        )
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Every open change (not yet closed, cancelled or finished implementing)
    /// as one booking per target environment, in one read.
    pub async fn bookings(&self) -> Result<Vec<Booking>> {
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
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.get(0);
                Ok(Booking {
                    id,
                    reference: release_desk_changes::ChangeId(id).to_string(),
                    service: Slug::parse(r.get(1))?,
                    environment: Slug::parse(r.get(2))?,
                    stage: u32::try_from(r.get::<i64, _>(3)).unwrap_or(0),
                    production: r.get::<i64, _>(4) == 1,
                    digest: Digest::parse(r.get(5))?,
                    start: from_ms(r.get(6)),
                    end: from_ms(r.get(7)),
                })
            })
            .collect()
    }
}
