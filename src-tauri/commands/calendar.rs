//! The release calendar: rules (windows and freezes), the view of a range
//! with every planned change judged for conflicts, and the next free slot.

use chrono::{DateTime, Duration, Utc};
use release_desk_calendar::{
    expand, next_free_slot, view, CalendarRule, CalendarView, PlannedChange, RuleDraft,
};
use release_desk_changes::{ChangeId, ChangeRecord};
use release_desk_store::PlannedSlot;
use release_desk_domain::{Digest, Slug};
use tauri::State;

use super::checked;
use crate::error::{AppError, Result};
use crate::state::AppState;

fn calendar_error(e: release_desk_calendar::CalendarError) -> AppError {
    AppError::new(e.code(), e.to_string())
}

/// The longest range one view may ask for: a year, what a person can read.
const MAX_RANGE_DAYS: i64 = 400;

#[tauri::command]
#[specta::specta]
pub async fn calendar_view(
    state: State<'_, AppState>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<CalendarView> {
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
/// booking conflict.
#[tauri::command]
#[specta::specta]
pub async fn next_free_calendar_slot(
    state: State<'_, AppState>,
    service: Slug,
    environment: Slug,
    minutes: u32,
    from: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    let duration = Duration::minutes(i64::from(minutes.clamp(1, 60 * 24 * 14)));
    let horizon = from + Duration::days(180);
    let store = state.store().await?;
    let rules = checked(&state, store.calendar_rules().await).await?;
    let bookings = checked(&state, store.bookings().await).await?;
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
    rule: u32,
    reason: String,
) -> Result<ChangeRecord> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    checked(
        &state,
        store
            .override_freeze(change, i64::from(rule), &reason, &by, Utc::now())
            .await,
    )
    .await
}
