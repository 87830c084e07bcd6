//! One range of the calendar as the screen draws it: every occurrence of
//! every rule, and every booking with the conflicts it meets.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::{
    conflicts, expand, Booking, CalendarRule, Conflict, Occurrence, Result, RuleKind, Scope,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RuleOccurrence {
    #[specta(type = u32)]
    pub rule_id: i64,
    pub kind: RuleKind,
    pub title: String,
    pub zone: String,
    pub scope: Scope,
    pub occurrence: Occurrence,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PlannedChange {
    pub booking: Booking,
    pub conflicts: Vec<Conflict>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CalendarView {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub occurrences: Vec<RuleOccurrence>,
    pub changes: Vec<PlannedChange>,
}

/// Expands every rule over `[from, to)` and checks every booking in the range
/// against the rules and the other bookings. Bookings are checked against
/// occurrences expanded over their own span too, so a change that starts in
/// range but ends after `to` is still judged on its whole length.
pub fn view(
    rules: &[CalendarRule],
    bookings: &[Booking],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<CalendarView> {
    // Only bookings in the range are judged, so only their spans widen the
    // expansion (a change planned years away cannot blow it up).
    let in_range = || bookings.iter().filter(|b| b.start < to && from < b.end);
    let latest_end = in_range().map(|b| b.end).max().unwrap_or(to).max(to);
    let earliest_start = in_range().map(|b| b.start).min().unwrap_or(from).min(from);
    // A little past the last end, so "outside every window" can name the
    // next opening even when it falls after the range drawn.
    let look_ahead = latest_end
        .checked_add_signed(chrono::Duration::days(35))
        .unwrap_or(latest_end);
    let expanded = rules
        .iter()
        .map(|r| expand(r, earliest_start, look_ahead))
        .collect::<Result<Vec<_>>>()?;
    let mut occurrences = Vec::new();
    for e in &expanded {
        for o in e.occurrences.iter().filter(|o| o.overlaps(from, to)) {
            occurrences.push(RuleOccurrence {
                rule_id: e.rule.id,
                kind: e.rule.kind,
                title: e.rule.title.clone(),
                zone: e.rule.zone.clone(),
                scope: e.rule.scope.clone(),
                occurrence: *o,
            });
        }
    }
    occurrences.sort_by_key(|o| (o.occurrence.start, o.rule_id));
    let changes = bookings
        .iter()
        .filter(|b| b.start < to && from < b.end)
        .map(|b| PlannedChange {
            booking: b.clone(),
            conflicts: conflicts(b, &expanded, bookings),
        })
        .collect();
    Ok(CalendarView {
        from,
        to,
        occurrences,
        changes,
    })
}
