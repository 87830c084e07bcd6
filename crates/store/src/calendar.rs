//! The calendar's rules as stored, and the bookings the calendar judges: each
//! open change record's planned window, once per target environment.

use chrono::{DateTime, NaiveDateTime, Utc};
use release_desk_access::{may, Action};
use release_desk_audit::EntryDraft;
use release_desk_calendar::{Booking, CalendarRule, RuleDraft, RuleKind, Scope};
use release_desk_changes::Profile;
use serde_json::json;

use crate::audit::append;
use crate::error::{malformed, Result, StoreError};
use crate::row::RowExt;
use crate::time::to_ms;
use crate::Store;

fn rule_from(r: &sqlx::sqlite::SqliteRow) -> Result<CalendarRule> {
    let r = r.fields("a calendar rule");
    let kind: &str = r.col(1)?;
    let start: &str = r.col(4)?;
    let exceptions: &str = r.col(7)?;
    let scope: &str = r.col(8)?;
    Ok(CalendarRule {
        id: r.col(0)?,
        kind: match kind {
            "window" => RuleKind::Window,
            "freeze" => RuleKind::Freeze,
            other => return Err(malformed("a calendar rule's kind")(other.to_owned())),
        },
        title: r.col(2)?,
        zone: r.col(3)?,
        start: start
            .parse::<NaiveDateTime>()
            .map_err(|e| malformed("a calendar rule's start")(e.to_string()))?,
        duration_minutes: u32::try_from(r.col::<i64>(5)?).unwrap_or(0),
        recurrence: r.opt(6)?,
        exceptions: serde_json::from_str(exceptions)
            .map_err(|e| malformed("a calendar rule's exceptions")(e.to_string()))?,
        scope: serde_json::from_str::<Scope>(scope)
            .map_err(|e| malformed("a calendar rule's scope")(e.to_string()))?,
    })
}

pub(crate) async fn load_rules(conn: &mut sqlx::SqliteConnection) -> Result<Vec<CalendarRule>> {
    let rows = sqlx::query(&format!(
        "SELECT {RULE_COLUMNS} FROM calendar_rules ORDER BY id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(rule_from).collect()
}

/// Who may change the calendar: those who keep it; but narrowing, moving,
/// turning into a window or deleting an existing freeze is for those who may
/// change freezes (decided in `release_desk_access`).
fn may_edit_calendar(by: &Profile, touches_freeze: bool) -> Result<()> {
    may(by, Action::KeepCalendar)?;
    if touches_freeze {
        may(by, Action::ChangeFreezes)?;
    }
    Ok(())
}

async fn kind_of(conn: &mut sqlx::SqliteConnection, id: i64) -> Result<Option<RuleKind>> {
    let kind: Option<String> = sqlx::query_scalar("SELECT kind FROM calendar_rules WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(kind.map(|k| {
        if k == "freeze" {
            RuleKind::Freeze
        } else {
            RuleKind::Window
        }
    }))
}

/// A rule may only name environments and services this workspace has: a
/// freeze scoped to "prod" where the environment is "production" would
/// silently apply to nothing.
async fn check_scope(conn: &mut sqlx::SqliteConnection, rule: &CalendarRule) -> Result<()> {
    for (table, what, keys) in [
        ("environments", "environment", &rule.scope.environments),
        ("services", "service", &rule.scope.services),
    ] {
        if keys.is_empty() {
            continue;
        }
        let known: Vec<String> =
            sqlx::query_scalar(&format!("SELECT key FROM {table} ORDER BY key"))
                .fetch_all(&mut *conn)
                .await?;
        if let Some(unknown) = keys.iter().find(|k| !known.iter().any(|n| n == k.as_str())) {
            return Err(StoreError::Calendar(Box::new(
                release_desk_calendar::CalendarError::Invalid {
                    field: "scope",
                    reason: format!(
                        "'{}' applies to the {what} '{unknown}', which this workspace does not have (it has {})",
                        rule.title,
                        known.join(", ")
                    ),
                },
            )));
        }
    }
    Ok(())
}

fn kind_str(kind: RuleKind) -> &'static str {
    match kind {
        RuleKind::Window => "window",
        RuleKind::Freeze => "freeze",
    }
}

/// Inserts a validated rule (`id` `None`) or replaces one; returns its id.
async fn write_rule(
    conn: &mut sqlx::SqliteConnection,
    id: Option<i64>,
    rule: &CalendarRule,
    now: DateTime<Utc>,
) -> Result<i64> {
    let exceptions = serde_json::to_string(&rule.exceptions).unwrap_or_else(|_| "[]".into());
    let scope = serde_json::to_string(&rule.scope).unwrap_or_else(|_| "{}".into());
    let start = rule.start.format("%Y-%m-%dT%H:%M:%S").to_string();
    match id {
        None => Ok(sqlx::query_scalar(
            "INSERT INTO calendar_rules (kind, title, zone, start_local, duration_minutes, recurrence, exceptions, scope, created_at_ms, updated_at_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(kind_str(rule.kind))
        .bind(&rule.title)
        .bind(&rule.zone)
        .bind(&start)
        .bind(i64::from(rule.duration_minutes))
        .bind(&rule.recurrence)
        .bind(&exceptions)
        .bind(&scope)
        .bind(to_ms(now))
        .bind(to_ms(now))
        .fetch_one(&mut *conn)
        .await?),
        Some(id) => {
            let done = sqlx::query(
                "UPDATE calendar_rules SET kind = ?, title = ?, zone = ?, start_local = ?, duration_minutes = ?,
                    recurrence = ?, exceptions = ?, scope = ?, updated_at_ms = ? WHERE id = ?",
            )
            .bind(kind_str(rule.kind))
            .bind(&rule.title)
            .bind(&rule.zone)
            .bind(&start)
            .bind(i64::from(rule.duration_minutes))
            .bind(&rule.recurrence)
            .bind(&exceptions)
            .bind(&scope)
            .bind(to_ms(now))
            .bind(id)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::UnknownCalendarRule(id));
            }
            Ok(id)
        }
    }
}

const RULE_COLUMNS: &str =
    "id, kind, title, zone, start_local, duration_minutes, recurrence, exceptions, scope";

impl Store {
    pub async fn calendar_rules(&self) -> Result<Vec<CalendarRule>> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.fail(e))?;
        load_rules(&mut conn).await.map_err(|e| self.refail(e))
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
        let mut tx = self.begin_write().await?;
        let existing = match id {
            Some(id) => Some(
                kind_of(&mut tx, id)
                    .await
                    .map_err(|e| self.refail(e))?
                    .ok_or(StoreError::UnknownCalendarRule(id))?,
            ),
            None => None,
        };
        may_edit_calendar(by, existing == Some(RuleKind::Freeze))?;
        check_scope(&mut tx, &checked)
            .await
            .map_err(|e| self.refail(e))?;
        let id = write_rule(&mut tx, id, &checked, now)
            .await
            .map_err(|e| self.refail(e))?;
        let kind = kind_str(checked.kind);
        append(
            &mut tx,
            EntryDraft {
                at: now,
                actor: by.actor(),
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
        may_edit_calendar(by, rule.kind == RuleKind::Freeze)?;
        sqlx::query("DELETE FROM calendar_rules WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        append(
            &mut tx,
            EntryDraft {
                at: now,
                actor: by.actor(),
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
    /// as one booking per target environment, with its freeze overrides.
    pub async fn bookings(&self) -> Result<Vec<Booking>> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.fail(e))?;
        crate::schedule::load_bookings(&mut conn).await
    }
}

/// What an import would do to one rule, or did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ImportTarget {
    /// The rule it replaces, when its UID is already known here.
    #[specta(type = Option<u32>)]
    pub replaces: Option<i64>,
    pub replaces_title: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ImportSummary {
    pub added: u32,
    pub updated: u32,
}

/// UIDs this workspace gives the rules it exports, `release-desk-rule-{id}@{domain}`.
fn own_rule_id(uid: &str, domain: &str) -> Option<i64> {
    uid.strip_prefix("release-desk-rule-")?
        .strip_suffix(domain)?
        .strip_suffix('@')?
        .parse()
        .ok()
}

async fn rule_for_uid(
    conn: &mut sqlx::SqliteConnection,
    uid: &str,
    domain: &str,
) -> sqlx::Result<Option<(i64, String)>> {
    if let Some(id) = own_rule_id(uid, domain) {
        let found: Option<(i64, String)> =
            sqlx::query_as("SELECT id, title FROM calendar_rules WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    sqlx::query_as("SELECT id, title FROM calendar_rules WHERE source_uid = ?")
        .bind(uid)
        .fetch_optional(&mut *conn)
        .await
}

impl Store {
    /// When each rule last changed, for an export's LAST-MODIFIED and SEQUENCE.
    pub async fn calendar_rule_versions(&self) -> Result<Vec<(i64, DateTime<Utc>)>> {
        let rows: Vec<(i64, i64)> =
            sqlx::query_as("SELECT id, updated_at_ms FROM calendar_rules ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.fail(e))?;
        Ok(rows
            .into_iter()
            .map(|(id, at)| (id, crate::time::from_ms(at)))
            .collect())
    }

    /// The domain part of the UIDs this workspace's exports carry: stable for
    /// the life of the workspace, so calendar apps update rather than duplicate.
    pub async fn calendar_uid_domain(&self) -> Result<String> {
        let created: Option<i64> =
            sqlx::query_scalar("SELECT created_at_ms FROM workspace WHERE id = 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.fail(e))?;
        Ok(format!("ws{}.release-desk.invalid", created.unwrap_or(0)))
    }

    /// For each UID, the rule an import would replace.
    pub async fn import_targets(&self, uids: &[String]) -> Result<Vec<ImportTarget>> {
        let domain = self.calendar_uid_domain().await?;
        let mut conn = self.pool.acquire().await.map_err(|e| self.fail(e))?;
        let mut out = Vec::with_capacity(uids.len());
        for uid in uids {
            let found = if uid.is_empty() {
                None
            } else {
                rule_for_uid(&mut conn, uid, &domain)
                    .await
                    .map_err(|e| self.fail(e))?
            };
            out.push(ImportTarget {
                replaces: found.as_ref().map(|f| f.0),
                replaces_title: found.map(|f| f.1),
            });
        }
        Ok(out)
    }

    /// Adds or replaces every rule in one transaction: either all of them
    /// land, audited one by one, or none does.
    pub async fn import_calendar_rules(
        &self,
        rules: Vec<(String, RuleDraft)>,
        source: &str,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<ImportSummary> {
        let domain = self.calendar_uid_domain().await?;
        let mut checked = Vec::with_capacity(rules.len());
        for (uid, draft) in rules {
            let rule = draft
                .validate(0)
                .map_err(|e| StoreError::Calendar(Box::new(e)))?;
            checked.push((uid, rule));
        }
        let mut tx = self.begin_write().await?;
        let mut summary = ImportSummary {
            added: 0,
            updated: 0,
        };
        may_edit_calendar(by, false)?;
        for (uid, rule) in checked {
            check_scope(&mut tx, &rule)
                .await
                .map_err(|e| self.refail(e))?;
            // An event without a UID is always new: it cannot be recognised later.
            let existing = if uid.is_empty() {
                None
            } else {
                rule_for_uid(&mut tx, &uid, &domain)
                    .await
                    .map_err(|e| self.fail(e))?
            };
            if let Some((existing_id, _)) = &existing {
                let kind = kind_of(&mut tx, *existing_id)
                    .await
                    .map_err(|e| self.refail(e))?;
                may_edit_calendar(by, kind == Some(RuleKind::Freeze))?;
            }
            let id = write_rule(&mut tx, existing.as_ref().map(|e| e.0), &rule, now)
                .await
                .map_err(|e| self.refail(e))?;
            if existing.is_some() {
                summary.updated += 1;
            } else {
                summary.added += 1;
                // Remember where it came from, unless it is one of ours.
                if !uid.is_empty() && own_rule_id(&uid, &domain).is_none() {
                    sqlx::query("UPDATE calendar_rules SET source_uid = ? WHERE id = ?")
                        .bind(&uid)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| self.fail(e))?;
                }
            }
            append(
                &mut tx,
                EntryDraft {
                    at: now,
                    actor: by.actor(),
                    action: "calendar.rule_imported".into(),
                    subject: format!("calendar_rule:{id}"),
                    detail: json!({
                        "source": source,
                        "uid": uid,
                        "replaced": existing.map(|e| e.1),
                        "kind": kind_str(rule.kind),
                        "title": rule.title,
                        "recurrence": rule.recurrence_text(),
                        "durationMinutes": rule.duration_minutes,
                        "scope": rule.scope,
                    })
                    .to_string(),
                },
            )
            .await
            .map_err(|e| self.fail(e))?;
        }
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(summary)
    }
}
