//! The release calendar's month view in the real app: a data folder whose
//! month a few months ahead holds 2,000 events (release windows, freezes and
//! open change records, put there through the store's ordinary, audited
//! calls), the app opened straight on that month, and the app's own time from
//! asking for the range to the events painted. The number of events it drew
//! must be the number prepared, or the harness fails.

mod data;
pub mod render;

use chrono::{DateTime, NaiveDate, Utc};
use release_desk_calendar::{view, CalendarView, Conflict};
use release_desk_demo::{demo_changes, demo_workspace, play};
use release_desk_domain::Slug;
use release_desk_store::{Store, DATABASE_FILE};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tempfile::TempDir;

use crate::app::{self, AppTarget, Ready};
use crate::error::{BenchError, Result};
use crate::stats::percentile;
use crate::workspaces::thousands;

pub use data::{EventCounts, MONTHS_AHEAD};

/// The events the month holds once prepared.
pub const EVENTS: usize = 2_000;
/// Seeds where, when and what the prepared changes are.
pub const SEED: u64 = 2_000;
/// The app prints this (with `RELEASE_DESK_BENCH` set) once the month view
/// has painted a range: `… rendered {events} events in {ms} ms`.
pub const READY_LINE: &str = "release-desk: calendar dayGridMonth rendered";
/// Who keeps the calendar in the demo; the extra rules are saved as them.
const CALENDAR_KEEPER: &str = "Dan Whitfield";

/// What one start of the app measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthViewRun {
    /// From just before spawning to reading the line.
    pub start_to_painted: Duration,
    /// The app's figure: from asking for the range to two animation frames
    /// after the events were given to the calendar component.
    pub data_to_painted_ms: u64,
    pub events: u64,
    /// Events handed to the calendar component (a busy day's changes past
    /// the first few are counted in its "+N more", not drawn).
    pub drawn: Option<u64>,
}

/// What the prepared month holds.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthContents {
    pub month: NaiveDate,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Every rule in the store: the demo's and the benchmark's.
    pub rules: usize,
    pub counts: EventCounts,
    /// Changes in the range with at least one conflict in their way.
    pub blocked: usize,
    /// Change records the harness raised, one transaction each, and how long
    /// that took.
    pub raised: usize,
    pub raise_time: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MonthViewMeasure {
    pub contents: MonthContents,
    pub runs: Vec<MonthViewRun>,
}

fn median_and_max(mut ms: Vec<f64>) -> Option<(f64, f64)> {
    ms.sort_by(f64::total_cmp);
    Some((percentile(&ms, 50)?, *ms.last()?))
}

impl MonthViewMeasure {
    /// The app's data-to-painted figure in ms: (median, max), nearest-rank.
    pub fn data_to_painted_ms(&self) -> Option<(f64, f64)> {
        median_and_max(
            self.runs
                .iter()
                .map(|r| r.data_to_painted_ms as f64)
                .collect(),
        )
    }

    /// From spawning the app to the line, in ms: (median, max), nearest-rank.
    pub fn start_to_painted_ms(&self) -> Option<(f64, f64)> {
        median_and_max(
            self.runs
                .iter()
                .map(|r| r.start_to_painted.as_secs_f64() * 1_000.0)
                .collect(),
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum MonthViewOutcome {
    /// Why not, in a sentence.
    NotRun(String),
    Measured(MonthViewMeasure),
    /// The month was prepared but the app could not be measured on it, or
    /// drew something else.
    Failed {
        contents: MonthContents,
        reason: String,
    },
}

/// The line `release-desk: calendar dayGridMonth rendered 2000 events in 312 ms (drew 245)`:
/// the calendar items in the range, and the events handed to the component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub view: String,
    pub events: u64,
    pub ms: u64,
    pub drawn: Option<u64>,
}

pub fn parse_rendered(line: &str) -> Option<Rendered> {
    let rest = line.strip_prefix("release-desk: calendar ")?;
    let (view, rest) = rest.split_once(" rendered ")?;
    let (events, rest) = rest.split_once(" events in ")?;
    let (ms, rest) = rest.split_once(" ms")?;
    let drawn = rest
        .trim()
        .strip_prefix("(drew ")
        .and_then(|d| d.strip_suffix(')'))
        .and_then(|d| d.parse().ok());
    Some(Rendered {
        view: view.to_owned(),
        events: events.trim().parse().ok()?,
        ms: ms.trim().parse().ok()?,
        drawn,
    })
}

/// A data folder laid out as the app expects, holding the prepared month.
/// Deleted when dropped.
pub struct PreparedMonth {
    _root: TempDir,
    pub data_dir: PathBuf,
    pub logs_dir: PathBuf,
    pub contents: MonthContents,
}

/// The demo workspace with its change script played (five people, seven
/// changes, five calendar rules), the benchmark's rules added, then as many
/// change records raised across the month as bring its range to [`EVENTS`].
pub async fn prepare(now: DateTime<Utc>) -> Result<PreparedMonth> {
    let root = tempfile::Builder::new()
        .prefix("release-desk-bench-month-")
        .tempdir()
        .map_err(BenchError::TempDir)?;
    let data_dir = root.path().join("data");
    let logs_dir = root.path().join("logs");
    std::fs::create_dir_all(&logs_dir).map_err(BenchError::TempDir)?;
    let (store, _report) = Store::open(&data_dir.join(DATABASE_FILE))
        .await
        .map_err(BenchError::store("creating the month view's database"))?;
    let filled = fill(&store, now).await;
    // Closed whatever happened, so the app finds the file complete.
    store.close().await;
    Ok(PreparedMonth {
        _root: root,
        data_dir,
        logs_dir,
        contents: filled?,
    })
}

async fn fill(store: &Store, now: DateTime<Utc>) -> Result<MonthContents> {
    let seed = demo_workspace(now);
    store
        .load_workspace(&seed, now)
        .await
        .map_err(BenchError::store("loading the demo workspace"))?;
    play(store, &demo_changes(&seed, now), now)
        .await
        .map_err(BenchError::store("playing the demo's changes"))?;
    let people = store
        .profiles()
        .await
        .map_err(BenchError::store("reading the profiles"))?;
    let keeper = people
        .iter()
        .find(|p| p.name == CALENDAR_KEEPER)
        .ok_or_else(|| {
            BenchError::MonthViewData(format!("the demo has no profile '{CALENDAR_KEEPER}'"))
        })?;

    let month = data::target_month(now)?;
    let (from, to) = data::month_range(month)?;
    let services: Vec<Slug> = seed.services.iter().map(|s| s.key.clone()).collect();
    for draft in data::rule_drafts(&services, month)? {
        let title = draft.title.clone();
        store
            .save_calendar_rule(None, draft, keeper, now)
            .await
            .map_err(BenchError::store(format!("saving the rule '{title}'")))?;
    }
    let before = EventCounts::of(&month_view(store, from, to).await?).events();
    let wanted = EVENTS.checked_sub(before).ok_or_else(|| {
        BenchError::MonthViewData(format!(
            "the rules alone draw {before} events, more than the {EVENTS} wanted"
        ))
    })?;

    let drafts = data::change_drafts(&seed, from, to, wanted, SEED)?;
    let started = Instant::now();
    for (n, draft) in drafts.into_iter().enumerate() {
        store
            .raise_change(draft, &people[n % people.len()], now)
            .await
            .map_err(BenchError::store(format!("raising change {}", n + 1)))?;
    }
    let raise_time = started.elapsed();

    let v = month_view(store, from, to).await?;
    let counts = EventCounts::of(&v);
    if counts.events() != EVENTS {
        return Err(BenchError::MonthViewData(format!(
            "{} events after raising {wanted} changes, not {EVENTS}: {counts:?}",
            counts.events()
        )));
    }
    let rules = store
        .calendar_rules()
        .await
        .map_err(BenchError::store("reading the rules"))?
        .len();
    Ok(MonthContents {
        month,
        from,
        to,
        rules,
        counts,
        blocked: v
            .changes
            .iter()
            .filter(|c| c.conflicts.iter().any(Conflict::blocks))
            .count(),
        raised: wanted,
        raise_time,
    })
}

/// What the app's `calendar_view` command computes for the range.
async fn month_view(store: &Store, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<CalendarView> {
    let rules = store
        .calendar_rules()
        .await
        .map_err(BenchError::store("reading the rules"))?;
    let bookings = store
        .bookings()
        .await
        .map_err(BenchError::store("reading the bookings"))?;
    view(&rules, &bookings, from, to)
        .map_err(|e| BenchError::MonthViewData(format!("the month's view: {e}")))
}

/// The run's figures from the app's line, checked against what was prepared.
fn read_run(ready: Ready, expected: usize) -> Result<MonthViewRun> {
    let rendered = parse_rendered(&ready.line)
        .ok_or_else(|| BenchError::UnreadableLine(ready.line.clone()))?;
    if rendered.events != expected as u64 {
        return Err(BenchError::EventCount {
            drawn: rendered.events,
            expected,
            detail: format!("the app printed '{}'", ready.line),
        });
    }
    Ok(MonthViewRun {
        start_to_painted: ready.after,
        data_to_painted_ms: rendered.ms,
        events: rendered.events,
        drawn: rendered.drawn,
    })
}

/// Starts the app `runs` times on the prepared month, each a new process.
/// The first failure ends the measurement and is recorded for the report.
pub fn measure(binary: &Path, month: &PreparedMonth, runs: usize) -> MonthViewOutcome {
    let route = format!("/calendar?date={}&view=month", month.contents.month);
    let env = [
        ("RELEASE_DESK_START_ROUTE", route.as_str()),
        // The month view's range is local midnights; UTC makes it the range
        // counted here.
        ("TZ", "UTC"),
    ];
    let target = AppTarget {
        binary,
        label: "calendar month view",
        data_dir: &month.data_dir,
        logs_dir: &month.logs_dir,
        env: &env,
        ready_line: READY_LINE,
    };
    let expected = month.contents.counts.events();
    let mut measured = Vec::with_capacity(runs);
    for run in 1..=runs {
        eprintln!("[bench] month view: app run {run}/{runs}");
        match app::run_until_ready(&target, run, |_, ready| read_run(ready, expected)) {
            Ok(r) => {
                eprintln!(
                    "    {} events, data to painted {} ms (app), start to painted {:.0} ms",
                    thousands(r.events),
                    r.data_to_painted_ms,
                    r.start_to_painted.as_secs_f64() * 1_000.0
                );
                measured.push(r);
            }
            Err(err) => {
                eprintln!("    failed: {err}");
                return MonthViewOutcome::Failed {
                    contents: month.contents.clone(),
                    reason: err.to_string(),
                };
            }
        }
    }
    MonthViewOutcome::Measured(MonthViewMeasure {
        contents: month.contents.clone(),
        runs: measured,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_rendered_line_is_read() {
        assert_eq!(
            parse_rendered(
                "release-desk: calendar dayGridMonth rendered 2000 events in 312 ms (drew 245)"
            ),
            Some(Rendered {
                view: "dayGridMonth".into(),
                events: 2_000,
                ms: 312,
                drawn: Some(245)
            })
        );
        assert_eq!(
            parse_rendered("release-desk: calendar listMonth rendered 0 events in 5 ms"),
            Some(Rendered {
                view: "listMonth".into(),
                events: 0,
                ms: 5,
                drawn: None
            })
        );
        assert_eq!(
            parse_rendered("release-desk: calendar dayGridMonth rendered many events in 3 ms"),
            None
        );
        assert_eq!(
            parse_rendered("release-desk: dashboard rendered after 812 ms"),
            None
        );
    }

    fn ready(line: &str) -> Ready {
        Ready {
            after: Duration::from_millis(1_500),
            line: line.into(),
        }
    }

    #[test]
    fn a_run_must_draw_every_prepared_event() {
        let ok = read_run(
            ready("release-desk: calendar dayGridMonth rendered 2000 events in 312 ms (drew 245)"),
            2_000,
        )
        .unwrap();
        assert_eq!(
            ok,
            MonthViewRun {
                start_to_painted: Duration::from_millis(1_500),
                data_to_painted_ms: 312,
                events: 2_000,
                drawn: Some(245)
            }
        );
        match read_run(
            ready("release-desk: calendar dayGridMonth rendered 1999 events in 312 ms"),
            2_000,
        ) {
            Err(err @ BenchError::EventCount { .. }) => {
                assert!(
                    err.to_string().starts_with(
                        "the month view drew 1999 events but the prepared month holds 2000"
                    ),
                    "{err}"
                )
            }
            other => panic!("expected EventCount, got {other:?}"),
        }
        assert!(matches!(
            read_run(ready("release-desk: calendar dayGridMonth rendered"), 2_000),
            Err(BenchError::UnreadableLine(_))
        ));
    }

    #[test]
    fn medians_and_maxima_are_nearest_rank() {
        let run = |wall, app| MonthViewRun {
            start_to_painted: Duration::from_millis(wall),
            data_to_painted_ms: app,
            events: 2_000,
            drawn: Some(245),
        };
        let m = MonthViewMeasure {
            contents: render::fixtures::contents(),
            runs: vec![
                run(1_900, 420),
                run(1_400, 300),
                run(1_500, 350),
                run(2_100, 610),
                run(1_600, 330),
            ],
        };
        assert_eq!(m.data_to_painted_ms(), Some((350.0, 610.0)));
        assert_eq!(m.start_to_painted_ms(), Some((1_600.0, 2_100.0)));
        let none = MonthViewMeasure { runs: vec![], ..m };
        assert_eq!(none.data_to_painted_ms(), None);
    }

    /// The whole preparation against a real SQLite file: the month holds
    /// exactly [`EVENTS`], most of them changes, many in conflict.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_prepared_month_holds_the_events_wanted() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 10, 30, 0).unwrap();
        let month = prepare(now).await.expect("the month is prepared");
        let c = &month.contents;
        assert_eq!(c.month, NaiveDate::from_ymd_opt(2027, 2, 1).unwrap());
        assert_eq!(c.counts.events(), EVENTS);
        assert_eq!(c.counts.changes, c.raised, "no demo change is in the month");
        assert!(c.raised > 1_500, "{c:?}");
        assert!(c.blocked > c.raised / 4, "{c:?}");
        assert!(month.data_dir.join(DATABASE_FILE).is_file());
    }
}
