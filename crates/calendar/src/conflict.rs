//! What a planned change would collide with, each with a reason a person can
//! act on: a freeze, no open window, a window it overruns, another change to
//! the same service and environment, or a production slot before the same
//! artefact has passed its earlier stages.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use release_desk_domain::{Digest, Slug};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::{Expanded, Occurrence, RuleKind};

/// A change placed in time (its duration includes soak time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Booking {
    #[specta(type = u32)]
    pub id: i64,
    pub reference: String,
    pub service: Slug,
    pub environment: Slug,
    /// Position of the environment in the path to live (0 = first stage).
    pub stage: u32,
    pub production: bool,
    pub digest: Digest,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Freezes this change may go ahead in, each by someone whose role
    /// allows it and with a reason; given for this exact planned window.
    pub overrides: Vec<FreezeOverride>,
}

/// Permission to go ahead inside one freeze, audited where it is granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct FreezeOverride {
    #[specta(type = u32)]
    pub rule_id: i64,
    /// The start of the freeze occurrence it was granted for: another
    /// occurrence of a recurring freeze is not covered.
    pub occurrence_start: DateTime<Utc>,
    pub by: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum ConflictKind {
    InFreeze,
    OutsideWindows,
    OverrunsWindow,
    Overlaps,
    BeforeEarlierStages,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    pub kind: ConflictKind,
    pub reason: String,
    /// The freeze, window or change it collides with.
    pub with: String,
    /// The freeze's rule, for an override to name.
    #[specta(type = Option<u32>)]
    pub rule_id: Option<i64>,
    /// Set when someone allowed to has let the change go ahead in this
    /// freeze: shown, but no longer in the way.
    pub overridden: Option<FreezeOverride>,
}

impl Conflict {
    /// Whether this conflict stands in the change's way.
    pub fn blocks(&self) -> bool {
        self.overridden.is_none()
    }
}

fn when(t: DateTime<Utc>, zone: Tz) -> String {
    t.with_timezone(&zone)
        .format("%a %-d %b %H:%M %Z")
        .to_string()
}

/// The union of window occurrences, so back-to-back windows count as one.
pub(crate) fn merged(mut intervals: Vec<Occurrence>) -> Vec<Occurrence> {
    intervals.sort_by_key(|o| o.start);
    let mut out: Vec<Occurrence> = Vec::with_capacity(intervals.len());
    for o in intervals {
        match out.last_mut() {
            Some(last) if o.start <= last.end => last.end = last.end.max(o.end),
            _ => out.push(o),
        }
    }
    out
}

/// Everything `booking` collides with. `rules` must cover the booking's
/// interval (expanded over a range that contains it); `others` may include the
/// booking itself, which is skipped by id.
pub fn conflicts(booking: &Booking, rules: &[Expanded], others: &[Booking]) -> Vec<Conflict> {
    let mut found = Vec::new();
    let (start, end) = (booking.start, booking.end);
    let applicable = |kind: RuleKind| {
        rules.iter().filter(move |r| {
            r.kind() == kind
                && r.rule
                    .scope
                    .applies_to(&booking.service, &booking.environment)
        })
    };

    for freeze in applicable(RuleKind::Freeze) {
        let zone = freeze.rule.tz().unwrap_or(chrono_tz::UTC);
        if let Some(o) = freeze.occurrences.iter().find(|o| o.overlaps(start, end)) {
            found.push(Conflict {
                kind: ConflictKind::InFreeze,
                reason: format!(
                    "inside the freeze '{}' ({} – {})",
                    freeze.rule.title,
                    when(o.start, zone),
                    when(o.end, zone)
                ),
                with: freeze.rule.title.clone(),
                rule_id: Some(freeze.rule.id),
                overridden: booking
                    .overrides
                    .iter()
                    .find(|ov| ov.rule_id == freeze.rule.id && ov.occurrence_start == o.start)
                    .cloned(),
            });
        }
    }

    let windows: Vec<&Expanded> = applicable(RuleKind::Window).collect();
    if !windows.is_empty() {
        let zone = windows[0].rule.tz().unwrap_or(chrono_tz::UTC);
        let open = merged(
            windows
                .iter()
                .flat_map(|w| w.occurrences.iter().copied())
                .collect(),
        );
        match open.iter().find(|o| o.start <= start && start < o.end) {
            None => found.push(Conflict {
                kind: ConflictKind::OutsideWindows,
                reason: format!(
                    "outside every release window of {}{}",
                    booking.environment,
                    open.iter()
                        .find(|o| o.start > start)
                        .map(|o| format!("; the next opens {}", when(o.start, zone)))
                        .unwrap_or_default()
                ),
                with: windows
                    .iter()
                    .map(|w| w.rule.title.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                rule_id: None,
                overridden: None,
            }),
            Some(o) if end > o.end => found.push(Conflict {
                kind: ConflictKind::OverrunsWindow,
                reason: format!(
                    "runs {} min past the end of the release window (it closes {})",
                    (end - o.end).num_minutes(),
                    when(o.end, zone)
                ),
                with: windows
                    .iter()
                    .map(|w| w.rule.title.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                rule_id: None,
                overridden: None,
            }),
            Some(_) => {}
        }
    }

    for other in others.iter().filter(|o| o.id != booking.id) {
        if other.service == booking.service
            && other.environment == booking.environment
            && other.start < end
            && start < other.end
        {
            found.push(Conflict {
                kind: ConflictKind::Overlaps,
                reason: format!(
                    "overlaps {} on the same service and environment ({} – {} UTC)",
                    other.reference,
                    other.start.format("%a %-d %b %H:%M"),
                    other.end.format("%H:%M")
                ),
                with: other.reference.clone(),
                rule_id: None,
                overridden: None,
            });
        }
        if booking.production
            && other.digest == booking.digest
            && other.stage < booking.stage
            && other.end > start
        {
            found.push(Conflict {
                kind: ConflictKind::BeforeEarlierStages,
                reason: format!(
                    "starts before the same artefact has finished {} in {} (planned to end {} UTC)",
                    other.reference,
                    other.environment,
                    other.end.format("%a %-d %b %H:%M")
                ),
                with: other.reference.clone(),
                rule_id: None,
                overridden: None,
            });
        }
    }
    found
}
