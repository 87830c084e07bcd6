//! The release calendar: rules (windows and freezes), the view of a range
//! with every planned change judged for conflicts, and the next free slot.

use chrono::{DateTime, Duration, Utc};
use release_desk_calendar::{
    expand, next_free_slot, parse_ics, to_ics, upcoming, view, CalendarRule, CalendarView,
    IcsExport, ImportedRule, Occurrence, PlannedChange, RuleDraft, RuleKind, SkippedItem,
};
use release_desk_changes::{ChangeId, ChangeRecord};
use release_desk_domain::{Digest, Slug};
use release_desk_store::PlannedSlot;
use release_desk_store::{ImportSummary, ImportTarget};
use serde::Serialize;
use specta::Type;
use tauri::State;

use super::checked;
use crate::error::{AppError, Result};
use crate::state::AppState;

fn calendar_error(e: release_desk_calendar::CalendarError) -> AppError {
    AppError::new(e.code(), e.to_string())
}

/// The longest range one view may ask for: a year, what a person can read.
const MAX_RANGE_DAYS: i64 = 400;

/// Times from the UI must be dates a calendar can hold (the same years a
/// change may be planned in), so no arithmetic on them can overflow.
fn plannable(t: DateTime<Utc>, field: &str) -> Result<()> {
    use chrono::Datelike;
    if (2000..=2200).contains(&t.year()) {
        Ok(())
    } else {
        Err(AppError::new(
            "invalid_input",
            format!(
                "{field}: {} is outside the years a calendar holds (2000 to 2200)",
                t.format("%Y-%m-%d")
            ),
        ))
    }
}

#[tauri::command]
#[specta::specta]
pub async fn calendar_view(
    state: State<'_, AppState>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<CalendarView> {
    plannable(from, "from")?;
    plannable(to, "to")?;
    if to <= from || to - from > Duration::days(MAX_RANGE_DAYS) {
        return Err(AppError::new(
            "invalid_input",
            format!(
                "a calendar range must end after it starts and span at most {MAX_RANGE_DAYS} days"
            ),
        ));
    }
    let store = state.store().await?;
    let rules = checked(&state, store.calendar_rules().await).await?;
    let bookings = checked(&state, store.bookings().await).await?;
    view(&rules, &bookings, from, to).map_err(calendar_error)
}

#[tauri::command]
#[specta::specta]
pub async fn save_calendar_rule(
    state: State<'_, AppState>,
    id: Option<u32>,
    draft: RuleDraft,
) -> Result<CalendarRule> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    checked(
        &state,
        store
            .save_calendar_rule(id.map(i64::from), draft, &by, Utc::now())
            .await,
    )
    .await
}

#[tauri::command]
#[specta::specta]
pub async fn delete_calendar_rule(state: State<'_, AppState>, id: u32) -> Result<()> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    checked(
        &state,
        store
            .delete_calendar_rule(i64::from(id), &by, Utc::now())
            .await,
    )
    .await
}

/// The earliest start from `from` (within 180 days) at which a change of
/// `minutes` to this service and environment meets no window, freeze or
/// booking conflict. `moving` is a change being moved: its own bookings are
/// not in its way.
#[tauri::command]
#[specta::specta]
pub async fn next_free_calendar_slot(
    state: State<'_, AppState>,
    service: Slug,
    environment: Slug,
    minutes: u32,
    from: DateTime<Utc>,
    moving: Option<ChangeId>,
) -> Result<Option<DateTime<Utc>>> {
    plannable(from, "from")?;
    let duration = Duration::minutes(i64::from(minutes.clamp(1, 60 * 24 * 14)));
    let horizon = from + Duration::days(180);
    let store = state.store().await?;
    let rules = checked(&state, store.calendar_rules().await).await?;
    let mut bookings = checked(&state, store.bookings().await).await?;
    bookings.retain(|b| Some(b.id) != moving.map(|m| m.0));
    let expanded = rules
        .iter()
        .map(|r| expand(r, from, horizon + duration))
        .collect::<release_desk_calendar::Result<Vec<_>>>()
        .map_err(calendar_error)?;
    // The digest only matters for the earlier-stages check, which a free
    // slot search does not apply.
    let any = Digest::parse(&"0".repeat(64)).map_err(AppError::from)?;
    Ok(next_free_slot(
        &service,
        &environment,
        duration,
        from,
        horizon,
        &expanded,
        &bookings,
        &any,
    ))
}

/// The conflicts a change would meet where and when the form or the calendar
/// has it, before anything is saved.
#[tauri::command]
#[specta::specta]
pub async fn check_schedule(
    state: State<'_, AppState>,
    slot: PlannedSlot,
) -> Result<Vec<PlannedChange>> {
    let store = state.store().await?;
    checked(&state, store.check_slot(&slot).await).await
}

/// Moves a change to a new planned window (dragged on the calendar).
#[tauri::command]
#[specta::specta]
pub async fn reschedule_change(
    state: State<'_, AppState>,
    id: ChangeId,
    revision: u32,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<ChangeRecord> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    let record = checked(
        &state,
        store
            .reschedule_change(id, revision, start, end, &by, Utc::now())
            .await,
    )
    .await?;
    state.refresh_title().await;
    Ok(record)
}

/// Lets a change go ahead inside a freeze: a change manager's call, with a reason.
#[tauri::command]
#[specta::specta]
pub async fn override_freeze(
    state: State<'_, AppState>,
    change: ChangeId,
    revision: u32,
    rule: u32,
    reason: String,
) -> Result<ChangeRecord> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    checked(
        &state,
        store
            .override_freeze(change, revision, i64::from(rule), &reason, &by, Utc::now())
            .await,
    )
    .await
}

/// Every rule, as saved (for editing and for the rule panel).
#[tauri::command]
#[specta::specta]
pub async fn calendar_rules(state: State<'_, AppState>) -> Result<Vec<CalendarRule>> {
    let store = state.store().await?;
    checked(&state, store.calendar_rules().await).await
}

/// A rule being written: refused with the field named, or its next few
/// occurrences. Nothing is saved.
#[tauri::command]
#[specta::specta]
pub async fn preview_calendar_rule(draft: RuleDraft) -> Result<Vec<Occurrence>> {
    let rule = draft.validate(0).map_err(calendar_error)?;
    upcoming(&rule, Utc::now(), 5).map_err(calendar_error)
}

/// Where an exported calendar was written, and how many events it holds.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ExportedCalendar {
    pub path: String,
    pub events: u32,
}

/// Floating times (no zone, no `Z`) in an imported file are read in this
/// zone, the one our reference services work in.
const DEFAULT_IMPORT_ZONE: &str = "Europe/London";

/// Writes every rule (with its recurrence) and every open planned change to
/// an RFC 5545 file in the data folder's `calendar/`, atomically.
#[tauri::command]
#[specta::specta]
pub async fn export_calendar_ics(state: State<'_, AppState>) -> Result<ExportedCalendar> {
    let store = state.store().await?;
    let now = Utc::now();
    let rules = checked(&state, store.calendar_rules().await).await?;
    let bookings = checked(&state, store.bookings().await).await?;
    let domain = checked(&state, store.calendar_uid_domain().await).await?;
    let name = checked(&state, store.workspace().await)
        .await?
        .map(|w| w.name)
        .unwrap_or_else(|| "Release Desk".into());
    let modified = checked(&state, store.calendar_rule_versions().await).await?;
    // Every rule, whole; the changes planned from a month ago to a year ahead.
    let from = now - Duration::days(31);
    let to = now + Duration::days(MAX_RANGE_DAYS - 35);
    let planned = view(&rules, &bookings, from, to)
        .map_err(calendar_error)?
        .changes;
    let text = to_ics(&IcsExport {
        calendar_name: &format!("{name} — release calendar"),
        uid_domain: &domain,
        rules: &rules,
        changes: &planned,
        now,
        modified: &modified,
    });
    let events = u32::try_from(rules.len() + planned.len()).unwrap_or(u32::MAX);
    let folder = state.paths.data_dir.join("calendar");
    let path = folder.join(format!(
        "release-calendar-{}.ics",
        now.format("%Y%m%dT%H%M%SZ")
    ));
    let written = path.clone();
    tauri::async_runtime::spawn_blocking(move || {
        write_atomically(&folder, &written, text.as_bytes())
    })
    .await
    .map_err(|e| {
        AppError::new(
            "internal",
            format!("the export task stopped unexpectedly: {e}"),
        )
    })??;
    tracing::info!(path = %path.display(), events, "calendar exported");
    Ok(ExportedCalendar {
        path: path.display().to_string(),
        events,
    })
}

fn write_atomically(folder: &std::path::Path, path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let fail = |e: std::io::Error| {
        AppError::new(
            "export_failed",
            format!(
                "could not write {}: {e}. Check the data folder is writable and has space",
                path.display()
            ),
        )
    };
    std::fs::create_dir_all(folder).map_err(fail)?;
    let tmp = path.with_extension("partial");
    let mut f = std::fs::File::create(&tmp).map_err(fail)?;
    f.write_all(bytes).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

/// One rule an import would add, and the rule it would replace if its UID
/// is already known here.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PreviewRule {
    pub imported: ImportedRule,
    pub target: ImportTarget,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ImportPreview {
    pub rules: Vec<PreviewRule>,
    pub skipped: Vec<SkippedItem>,
}

/// What importing `text` would do, without doing it. A malformed, huge or
/// hostile file is refused with the line and field named.
#[tauri::command]
#[specta::specta]
pub async fn preview_ics_import(state: State<'_, AppState>, text: String) -> Result<ImportPreview> {
    let parsed = parse_ics(&text, DEFAULT_IMPORT_ZONE).map_err(calendar_error)?;
    let store = state.store().await?;
    let uids: Vec<String> = parsed.rules.iter().map(|r| r.uid.clone()).collect();
    let targets = checked(&state, store.import_targets(&uids).await).await?;
    Ok(ImportPreview {
        rules: parsed
            .rules
            .into_iter()
            .zip(targets)
            .map(|(imported, target)| PreviewRule { imported, target })
            .collect(),
        skipped: parsed.skipped,
    })
}

/// Imports every window and freeze in `text`, all or nothing, audited.
/// `kinds` lets the person settle guessed kinds, by the line each event
/// starts on (unique, unlike UIDs, which events may lack).
#[tauri::command]
#[specta::specta]
pub async fn import_ics(
    state: State<'_, AppState>,
    text: String,
    file_name: String,
    kinds: Vec<(u32, RuleKind)>,
) -> Result<ImportSummary> {
    let by = state.current_profile().await?;
    // Who may comes before reading what they sent (the store checks again).
    release_desk_access::may(&by, release_desk_access::Action::KeepCalendar)?;
    let parsed = parse_ics(&text, DEFAULT_IMPORT_ZONE).map_err(calendar_error)?;
    if parsed.rules.is_empty() {
        return Err(AppError::new(
            "invalid_ics",
            "the file holds no events to import as windows or freezes",
        ));
    }
    let rules = parsed
        .rules
        .into_iter()
        .map(|mut r| {
            if let Some((_, k)) = kinds.iter().find(|(line, _)| *line == r.line) {
                r.draft.kind = *k;
            }
            (r.uid, r.draft)
        })
        .collect();
    let name: String = file_name.chars().take(200).collect();
    let store = state.store().await?;
    checked(
        &state,
        store
            .import_calendar_rules(rules, &name, &by, Utc::now())
            .await,
    )
    .await
}

/// The calendar reports how long a range took from asking to drawn: how
/// many calendar items the range holds and how many events it handed the
/// component. The log keeps it; `make bench` reads it from the app's output.
#[tauri::command]
#[specta::specta]
pub fn report_calendar_rendered(view: String, events: u32, drawn: u32, ms: u32) {
    let view: String = view.chars().take(40).collect();
    tracing::debug!(view, events, drawn, ms, "calendar rendered");
    if std::env::var_os("RELEASE_DESK_BENCH").is_some() {
        println!(
            "release-desk: calendar {view} rendered {events} events in {ms} ms (drew {drawn})"
        );
    }
}
