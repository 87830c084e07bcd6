//! 5,000 scheduled changes over the year: releases of the 50 services, each
//! one artefact (one digest) booked through all five environments in order,
//! plus hotfixes. Most are placed as a careful planner would (inside an open
//! window, clear of freezes and of other changes to the same cell); a seeded
//! few are placed to meet each kind of conflict, and each records which, so
//! the benchmark can check the calendar finds every one of them.

use chrono::{DateTime, Duration, DurationRound, Utc};
use release_desk_calendar::{Booking, Expanded, FreezeOverride, Occurrence, RuleKind};
use release_desk_domain::Digest;

use super::rules::{Catalogue, ENVIRONMENTS, PRODUCTION_STAGE};
use super::{CalendarBenchError, Result};

/// Releases, each booked in every environment.
pub const RELEASES: usize = 980;
/// Extra changes, each overlapping an earlier booking in the same cell.
pub const HOTFIXES: usize = 100;
pub const BOOKINGS: usize = RELEASES * ENVIRONMENTS.len() + HOTFIXES;
/// Releases start on one of the year's first this many days, so that even a
/// release held up by freezes is booked before the year ends.
const START_DAYS: i64 = 300;
/// How far ahead a deliberate booking into a freeze may look for one.
const FREEZE_LOOKAHEAD_DAYS: i64 = 21;

/// The conflict a booking was placed to meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Inside a window, clear of freezes and of earlier bookings in its cell.
    Clean,
    OutsideWindows,
    OverrunsWindow,
    InFreeze {
        rule_id: i64,
        overridden: bool,
    },
    /// A production booking starting before its pre-production one ends.
    BeforeEarlierStages,
    Overlaps,
}

pub struct Planned {
    pub booking: Booking,
    pub intent: Intent,
}

/// The open windows and the freezes of one (service, environment) cell.
struct Cell {
    windows: Vec<Occurrence>,
    freezes: Vec<(i64, Occurrence)>,
    booked: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

/// `expanded` must cover the year and a few weeks past it.
pub fn generate(
    catalogue: &Catalogue,
    expanded: &[Expanded],
    year_start: DateTime<Utc>,
    seed: u64,
) -> Result<Vec<Planned>> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut cells = cells(catalogue, expanded);
    let mut planned: Vec<Planned> = Vec::with_capacity(BOOKINGS);
    for release in 0..RELEASES {
        let service = release % catalogue.services.len();
        let day = i64::try_from(release).unwrap_or(0) * START_DAYS / RELEASES as i64;
        let mut earliest =
            year_start + Duration::days(day) + Duration::minutes(15 * i64::from(rng.u32(0..96)));
        let digest = digest(&mut rng)?;
        // About one release in 16 is rushed to production while
        // pre-production is still running.
        let rushed = rng.u32(0..16) == 0;
        let mut preprod_start = earliest;
        for stage in 0..ENVIRONMENTS.len() {
            let cell = &mut cells[service * ENVIRONMENTS.len() + stage];
            let minutes = Duration::minutes(15 * i64::from(rng.u32(2..=8)));
            let roll = rng.u32(0..100);
            let (start, end, intent, overrides) = if stage == PRODUCTION_STAGE && rushed {
                let start = preprod_start + Duration::minutes(15);
                (start, start + minutes, Intent::BeforeEarlierStages, vec![])
            } else if roll < 4 {
                let start = outside_windows(cell, earliest);
                (start, start + minutes, Intent::OutsideWindows, vec![])
            } else if roll < 8 {
                let (start, end) = overrunning(cell, earliest, rng.u32(1..=6))?;
                (start, end, Intent::OverrunsWindow, vec![])
            } else if let Some((rule_id, occurrence_start, start)) = (roll < 14 && stage >= 3)
                .then(|| in_freeze(cell, earliest))
                .flatten()
            {
                // A third of them were let through by someone allowed to.
                let overridden = rng.u32(0..3) == 0;
                let overrides = if overridden {
                    vec![FreezeOverride {
                        rule_id,
                        occurrence_start,
                        by: "Priya Raman".to_owned(),
                        reason: "Security fix; the freeze's owner agreed".to_owned(),
                        at: start - Duration::days(2),
                    }]
                } else {
                    vec![]
                };
                (
                    start,
                    start + Duration::hours(1),
                    Intent::InFreeze {
                        rule_id,
                        overridden,
                    },
                    overrides,
                )
            } else {
                let start = clean_slot(cell, earliest, minutes).ok_or_else(|| {
                    CalendarBenchError::Data(format!(
                        "release {release} finds no free window in {} after {earliest}",
                        ENVIRONMENTS[stage]
                    ))
                })?;
                (start, start + minutes, Intent::Clean, vec![])
            };
            cell.booked.push((start, end));
            if stage == PRODUCTION_STAGE - 1 {
                preprod_start = start;
            }
            planned.push(Planned {
                booking: booking(
                    catalogue,
                    planned.len(),
                    service,
                    stage,
                    &digest,
                    (start, end),
                    overrides,
                ),
                intent,
            });
            // The next stage waits for this one and a little soak time.
            earliest = end + Duration::hours(i64::from(rng.u32(2..=30)));
        }
    }
    for _ in 0..HOTFIXES {
        let b = &planned[rng.usize(..planned.len())].booking;
        let service = catalogue
            .services
            .iter()
            .position(|s| *s == b.service)
            .unwrap_or(0);
        let start = b.start + Duration::minutes(15);
        let hotfix = booking(
            catalogue,
            planned.len(),
            service,
            b.stage as usize,
            &digest(&mut rng)?,
            (start, start + Duration::minutes(45)),
            vec![],
        );
        planned.push(Planned {
            booking: hotfix,
            intent: Intent::Overlaps,
        });
    }
    Ok(planned)
}

fn cells(catalogue: &Catalogue, expanded: &[Expanded]) -> Vec<Cell> {
    let mut cells = Vec::with_capacity(catalogue.services.len() * ENVIRONMENTS.len());
    for service in &catalogue.services {
        for environment in &catalogue.environments {
            let applying = || {
                expanded
                    .iter()
                    .filter(|e| e.rule.scope.applies_to(service, environment))
            };
            let windows = merged(
                applying()
                    .filter(|e| e.rule.kind == RuleKind::Window)
                    .flat_map(|e| e.occurrences.iter().copied())
                    .collect(),
            );
            let mut freezes: Vec<(i64, Occurrence)> = applying()
                .filter(|e| e.rule.kind == RuleKind::Freeze)
                .flat_map(|e| e.occurrences.iter().map(|o| (e.rule.id, *o)))
                .collect();
            freezes.sort_by_key(|(_, o)| o.start);
            cells.push(Cell {
                windows,
                freezes,
                booked: Vec::new(),
            });
        }
    }
    cells
}

/// The union of the windows, as the calendar judges a start against them.
fn merged(mut intervals: Vec<Occurrence>) -> Vec<Occurrence> {
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

fn quarter_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    let step = Duration::minutes(15);
    // Only fails for times near the ends of chrono's range.
    let down = t.duration_trunc(step).unwrap_or(t);
    if down == t {
        t
    } else {
        down + step
    }
}

/// The first start from `earliest` inside an open window, with the whole
/// change before the window closes, overlapping no freeze and no earlier
/// booking of the cell.
fn clean_slot(cell: &Cell, earliest: DateTime<Utc>, length: Duration) -> Option<DateTime<Utc>> {
    for w in cell.windows.iter().filter(|w| w.end > earliest) {
        let mut start = quarter_hour(earliest.max(w.start));
        while start + length <= w.end {
            let end = start + length;
            let frozen_until = cell
                .freezes
                .iter()
                .filter(|(_, f)| f.overlaps(start, end))
                .map(|(_, f)| f.end);
            let booked_until = cell
                .booked
                .iter()
                .filter(|(b_start, b_end)| *b_start < end && start < *b_end)
                .map(|(_, b_end)| *b_end);
            let blocker = frozen_until.chain(booked_until).max();
            match blocker {
                None => return Some(start),
                Some(until) => start = quarter_hour(until),
            }
        }
    }
    None
}

/// The first quarter hour from `earliest` that no window contains.
fn outside_windows(cell: &Cell, earliest: DateTime<Utc>) -> DateTime<Utc> {
    let mut t = quarter_hour(earliest);
    for w in &cell.windows {
        if w.end <= t {
            continue;
        }
        if w.start > t {
            break;
        }
        t = quarter_hour(w.end) + Duration::minutes(15);
    }
    t
}

/// Half an hour before the first window from `earliest` closes, running
/// `quarters` quarter hours past its end.
fn overrunning(
    cell: &Cell,
    earliest: DateTime<Utc>,
    quarters: u32,
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let half_hour = Duration::minutes(30);
    let w = cell
        .windows
        .iter()
        .find(|w| w.end - half_hour >= earliest.max(w.start))
        .ok_or_else(|| CalendarBenchError::Data(format!("no window after {earliest}")))?;
    Ok((
        w.end - half_hour,
        w.end + Duration::minutes(15 * i64::from(quarters)),
    ))
}

/// An hour (at most half its length) into the first freeze of the cell that
/// starts within three weeks.
/// The next freeze of the cell: its rule, the occurrence's start, and a start
/// for a change inside it.
fn in_freeze(cell: &Cell, earliest: DateTime<Utc>) -> Option<(i64, DateTime<Utc>, DateTime<Utc>)> {
    cell.freezes
        .iter()
        .find(|(_, f)| f.start >= earliest)
        .filter(|(_, f)| f.start <= earliest + Duration::days(FREEZE_LOOKAHEAD_DAYS))
        .map(|(id, f)| {
            (
                *id,
                f.start,
                f.start + Duration::hours(1).min((f.end - f.start) / 2),
            )
        })
}

fn digest(rng: &mut fastrand::Rng) -> Result<Digest> {
    let hex: String = (0..4).map(|_| format!("{:016x}", rng.u64(..))).collect();
    Digest::parse(&hex).map_err(|e| CalendarBenchError::Data(format!("digest {hex}: {e}")))
}

fn booking(
    catalogue: &Catalogue,
    index: usize,
    service: usize,
    stage: usize,
    digest: &Digest,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    overrides: Vec<FreezeOverride>,
) -> Booking {
    let id = index as i64 + 1;
    Booking {
        id,
        reference: format!("CHG-{id:05}"),
        service: catalogue.services[service].clone(),
        environment: catalogue.environments[stage].clone(),
        stage: stage as u32,
        production: stage == PRODUCTION_STAGE,
        digest: digest.clone(),
        start,
        end,
        overrides,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, 2, h, m, 0)
            .single()
            .expect("a time")
    }

    fn occurrence(from: DateTime<Utc>, to: DateTime<Utc>) -> Occurrence {
        Occurrence {
            start: from,
            end: to,
        }
    }

    fn cell() -> Cell {
        Cell {
            windows: vec![
                occurrence(at(9, 0), at(12, 0)),
                occurrence(at(14, 0), at(16, 0)),
            ],
            freezes: vec![(7, occurrence(at(10, 0), at(11, 0)))],
            booked: vec![(at(11, 0), at(11, 30))],
        }
    }

    #[test]
    fn a_clean_slot_steps_past_freezes_and_bookings() {
        let c = cell();
        let hour = Duration::hours(1);
        assert_eq!(clean_slot(&c, at(8, 50), hour), Some(at(9, 0)));
        assert_eq!(
            clean_slot(&c, at(8, 50), Duration::minutes(90)),
            Some(at(14, 0))
        );
        assert_eq!(
            clean_slot(&c, at(9, 40), Duration::minutes(30)),
            Some(at(11, 30))
        );
        assert_eq!(clean_slot(&c, at(15, 30), hour), None);
    }

    #[test]
    fn outside_windows_skips_to_a_gap() {
        let c = cell();
        assert_eq!(outside_windows(&c, at(8, 0)), at(8, 0));
        assert_eq!(outside_windows(&c, at(9, 5)), at(12, 15));
        assert_eq!(outside_windows(&c, at(15, 0)), at(16, 15));
    }

    #[test]
    fn overrunning_starts_half_an_hour_before_the_close() {
        let c = cell();
        assert_eq!(
            overrunning(&c, at(11, 45), 2).expect("a window"),
            (at(15, 30), at(16, 30))
        );
    }

    #[test]
    fn in_freeze_is_an_hour_into_the_next_freeze() {
        assert_eq!(
            in_freeze(&cell(), at(9, 0)),
            Some((7, at(10, 0), at(10, 30)))
        );
        assert_eq!(in_freeze(&cell(), at(10, 30)), None);
    }

    #[test]
    fn windows_that_touch_are_merged() {
        let m = merged(vec![
            occurrence(at(10, 0), at(12, 0)),
            occurrence(at(9, 0), at(10, 0)),
            occurrence(at(13, 0), at(14, 0)),
        ]);
        assert_eq!(
            m,
            [
                occurrence(at(9, 0), at(12, 0)),
                occurrence(at(13, 0), at(14, 0))
            ]
        );
    }
}
