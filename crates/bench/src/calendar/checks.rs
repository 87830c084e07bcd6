//! What the calendar's answers must be for the figures to mean anything: the
//! occurrences counted by hand, every deliberately placed conflict found (and
//! none of the rule kinds on a carefully placed change), each kind of conflict
//! present, the same answer on every run, and the expected free slot.

use chrono::{DateTime, Utc};
use release_desk_calendar::{Booking, Conflict, ConflictKind, Expanded, RuleKind};
use release_desk_domain::Slug;

use super::bookings::{Intent, Planned};
use super::rules::HAND_COUNTED;
use super::{CalendarBenchError, Result};

/// The conflicts found for every change, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConflictCounts {
    pub in_freeze: usize,
    /// Of `in_freeze`, those someone allowed to has overridden.
    pub overridden: usize,
    pub outside_windows: usize,
    pub overruns_window: usize,
    pub overlaps: usize,
    pub before_earlier_stages: usize,
    /// Changes with at least one conflict that still blocks them.
    pub blocked_changes: usize,
    /// Changes with no conflict at all.
    pub clear_changes: usize,
}

impl ConflictCounts {
    pub fn of<'a>(per_change: impl Iterator<Item = &'a [Conflict]>) -> ConflictCounts {
        let mut n = ConflictCounts::default();
        for found in per_change {
            if found.is_empty() {
                n.clear_changes += 1;
            }
            if found.iter().any(Conflict::blocks) {
                n.blocked_changes += 1;
            }
            for c in found {
                match c.kind {
                    ConflictKind::InFreeze => {
                        n.in_freeze += 1;
                        n.overridden += usize::from(!c.blocks());
                    }
                    ConflictKind::OutsideWindows => n.outside_windows += 1,
                    ConflictKind::OverrunsWindow => n.overruns_window += 1,
                    ConflictKind::Overlaps => n.overlaps += 1,
                    ConflictKind::BeforeEarlierStages => n.before_earlier_stages += 1,
                }
            }
        }
        n
    }

    pub fn total(&self) -> usize {
        self.in_freeze
            + self.outside_windows
            + self.overruns_window
            + self.overlaps
            + self.before_earlier_stages
    }
}

fn wrong(message: String) -> CalendarBenchError {
    CalendarBenchError::WrongAnswer(message)
}

pub fn same(what: &str, expected: usize, got: usize) -> Result<()> {
    if expected == got {
        return Ok(());
    }
    Err(wrong(format!(
        "{got} {what} where the first run gave {expected}"
    )))
}

pub fn same_counts(expected: &ConflictCounts, got: &ConflictCounts) -> Result<()> {
    if expected == got {
        return Ok(());
    }
    Err(wrong(format!(
        "conflicts {got:?} where `conflicts` for every change gave {expected:?}"
    )))
}

/// The rules counted by hand have exactly that many occurrences in the year.
pub fn hand_counts(year: &[Expanded]) -> Result<()> {
    for (title, expected, why) in HAND_COUNTED {
        let got = year
            .iter()
            .find(|e| e.rule.title == title)
            .map(|e| e.occurrences.len())
            .ok_or_else(|| CalendarBenchError::Data(format!("no rule is called '{title}'")))?;
        if got != expected {
            return Err(wrong(format!(
                "'{title}' has {got} occurrences in the year, but {expected} were counted by hand ({why})"
            )));
        }
    }
    Ok(())
}

/// Every change lies inside the year, so `view` over the year shows them all.
pub fn within(bookings: &[Booking], from: DateTime<Utc>, to: DateTime<Utc>) -> Result<()> {
    match bookings
        .iter()
        .find(|b| b.start < from || b.end > to || b.end <= b.start)
    {
        None => Ok(()),
        Some(b) => Err(CalendarBenchError::Data(format!(
            "{} runs {} – {}, not inside {from} – {to}",
            b.reference, b.start, b.end
        ))),
    }
}

/// Each deliberately placed conflict is found on its change; a change placed
/// carefully meets no freeze, window or stage conflict.
pub fn intents(planned: &[Planned], found: &[Vec<Conflict>]) -> Result<()> {
    let mut misses = Vec::new();
    for (p, conflicts) in planned.iter().zip(found) {
        let has = |kind: ConflictKind| conflicts.iter().any(|c| c.kind == kind);
        let ok = match p.intent {
            Intent::Clean => !conflicts.iter().any(|c| c.kind != ConflictKind::Overlaps),
            Intent::OutsideWindows => has(ConflictKind::OutsideWindows),
            Intent::OverrunsWindow => has(ConflictKind::OverrunsWindow),
            Intent::InFreeze {
                rule_id,
                overridden,
            } => conflicts.iter().any(|c| {
                c.kind == ConflictKind::InFreeze
                    && c.rule_id == Some(rule_id)
                    && c.blocks() != overridden
            }),
            Intent::BeforeEarlierStages => has(ConflictKind::BeforeEarlierStages),
            Intent::Overlaps => has(ConflictKind::Overlaps),
        };
        if !ok {
            misses.push(format!(
                "{} ({} in {}, {} – {}) was placed for {:?} but got {:?}",
                p.booking.reference,
                p.booking.service,
                p.booking.environment,
                p.booking.start,
                p.booking.end,
                p.intent,
                conflicts.iter().map(|c| c.kind).collect::<Vec<_>>()
            ));
        }
    }
    if misses.is_empty() {
        return Ok(());
    }
    Err(wrong(format!(
        "{} of {} changes were not judged as placed; the first: {}",
        misses.len(),
        planned.len(),
        misses[..misses.len().min(3)].join("; ")
    )))
}

/// Each kind of conflict was found at least once, and some were overridden,
/// so the timings include every path through `conflicts`.
pub fn every_kind(n: &ConflictCounts) -> Result<()> {
    let kinds = [
        ("in a freeze", n.in_freeze),
        ("overridden freezes", n.overridden),
        ("outside every window", n.outside_windows),
        ("overrunning a window", n.overruns_window),
        ("overlapping another change", n.overlaps),
        ("before the earlier stages", n.before_earlier_stages),
        ("with no conflict", n.clear_changes),
    ];
    match kinds.iter().find(|(_, count)| *count == 0) {
        None => Ok(()),
        Some((what, _)) => Err(wrong(format!("no changes {what} were found: {n:?}"))),
    }
}

pub fn slot(
    label: &str,
    expected: Option<DateTime<Utc>>,
    found: Option<DateTime<Utc>>,
) -> Result<()> {
    if expected == found {
        return Ok(());
    }
    Err(wrong(format!(
        "next_free_slot ({label}) gave {found:?}, expected {expected:?}"
    )))
}

/// The start times `next_free_slot` collects before trying them in order
/// (`from`, window openings, freeze ends and the ends of the cell's bookings,
/// within `[from, horizon]`, without duplicates), counted the same way here,
/// and how many of them it tried before stopping at `found`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidates {
    pub collected: usize,
    pub tried: usize,
}

impl Candidates {
    pub fn of(
        service: &Slug,
        environment: &Slug,
        (from, horizon): (DateTime<Utc>, DateTime<Utc>),
        rules: &[Expanded],
        bookings: &[Booking],
        found: Option<DateTime<Utc>>,
    ) -> Candidates {
        let mut starts = vec![from];
        for r in rules
            .iter()
            .filter(|r| r.rule.scope.applies_to(service, environment))
        {
            starts.extend(r.occurrences.iter().map(|o| match r.rule.kind {
                RuleKind::Window => o.start,
                RuleKind::Freeze => o.end,
            }));
        }
        starts.extend(
            bookings
                .iter()
                .filter(|b| &b.service == service && &b.environment == environment)
                .map(|b| b.end),
        );
        starts.retain(|c| *c >= from && *c <= horizon);
        starts.sort();
        starts.dedup();
        let tried = match found {
            Some(t) => starts.iter().take_while(|c| **c <= t).count(),
            None => starts.len(),
        };
        Candidates {
            collected: starts.len(),
            tried,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conflict(kind: ConflictKind, overridden: bool) -> Conflict {
        Conflict {
            kind,
            reason: String::new(),
            with: String::new(),
            rule_id: Some(1),
            overridden: overridden.then(|| release_desk_calendar::FreezeOverride {
                rule_id: 1,
                occurrence_start: DateTime::UNIX_EPOCH,
                by: "a".into(),
                reason: "b".into(),
                at: DateTime::UNIX_EPOCH,
            }),
        }
    }

    #[test]
    fn counts_by_kind_and_by_change() {
        let per_change = [
            vec![],
            vec![conflict(ConflictKind::InFreeze, true)],
            vec![
                conflict(ConflictKind::InFreeze, false),
                conflict(ConflictKind::Overlaps, false),
            ],
        ];
        let n = ConflictCounts::of(per_change.iter().map(Vec::as_slice));
        assert_eq!(
            (n.in_freeze, n.overridden, n.overlaps, n.total()),
            (2, 1, 1, 3)
        );
        assert_eq!((n.clear_changes, n.blocked_changes), (1, 1));
        assert!(every_kind(&n).is_err());
    }

    #[test]
    fn a_different_answer_is_wrong() {
        assert!(same("x", 3, 3).is_ok());
        assert!(same("x", 3, 4).is_err());
        assert!(slot("s", None, None).is_ok());
        assert!(slot("s", None, Some(DateTime::UNIX_EPOCH)).is_err());
    }
}
