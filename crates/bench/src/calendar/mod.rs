//! The release calendar, pure and in memory: expanding a year of 50 recurring
//! rules, judging 5,000 scheduled changes against them (through `view`, and
//! `conflicts` alone on rules expanded beforehand) and searching for the next
//! free slot. Every answer is checked against what the benchmark built in (a
//! hand-counted number of occurrences, each deliberately placed conflict, an
//! expected free slot); a wrong answer fails the harness.

mod bookings;
mod checks;
pub mod render;
mod rules;

use chrono::{DateTime, Duration, TimeZone, Utc};
use release_desk_calendar::{
    conflicts, expand, next_free_slot, view, Booking, CalendarError, CalendarRule, CalendarView,
    Conflict, Expanded, RuleKind,
};
use release_desk_domain::{Digest, Slug};
use std::hint::black_box;
use std::time::{Duration as Elapsed, Instant};
use thiserror::Error;

use crate::stats::percentile;
use crate::workspaces::thousands;

pub use bookings::{BOOKINGS, HOTFIXES, RELEASES};
pub use checks::{Candidates, ConflictCounts};
pub use rules::{ENVIRONMENTS, HAND_COUNTED};

/// Seeds the rules' varied parts and the bookings: every run measures the
/// same calendar.
pub const SEED: u64 = 2027;
pub const WARMUP: usize = 2;
pub const RUNS: usize = 30;
/// The range the app's `next_free_calendar_slot` command searches.
pub const SLOT_HORIZON_DAYS: i64 = 180;

/// Why the calendar part could not give figures worth reporting.
#[derive(Debug, Error)]
pub enum CalendarBenchError {
    #[error("the calendar refused the benchmark's {during}: {source}")]
    Calendar {
        during: String,
        #[source]
        source: CalendarError,
    },

    #[error("the release calendar gave a wrong answer: {0}")]
    WrongAnswer(String),

    #[error("the calendar benchmark's own data is wrong: {0}")]
    Data(String),
}

pub type Result<T, E = CalendarBenchError> = std::result::Result<T, E>;

fn refused(during: impl Into<String>) -> impl FnOnce(CalendarError) -> CalendarBenchError {
    let during = during.into();
    move |source| CalendarBenchError::Calendar { during, source }
}

/// Wall-clock times of one measure's timed runs, in the order taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Timings {
    pub runs: Vec<Elapsed>,
}

impl Timings {
    fn sorted_ms(&self) -> Vec<f64> {
        let mut ms: Vec<f64> = self.runs.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        ms
    }

    /// Nearest-rank, like every other figure in the report.
    pub fn median_ms(&self) -> Option<f64> {
        percentile(&self.sorted_ms(), 50)
    }

    pub fn p95_ms(&self) -> Option<f64> {
        percentile(&self.sorted_ms(), 95)
    }

    pub fn max_ms(&self) -> Option<f64> {
        self.sorted_ms().last().copied()
    }

    /// `items` handled per second at the median.
    pub fn rate(&self, items: usize) -> Option<f64> {
        self.median_ms()
            .filter(|ms| *ms > 0.0)
            .map(|ms| items as f64 / (ms / 1e3))
    }
}

/// The rules, by kind and by recurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleMix {
    pub rules: usize,
    pub windows: usize,
    pub freezes: usize,
    pub one_off: usize,
}

/// One `next_free_slot` search.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotMeasure {
    pub label: &'static str,
    pub service: String,
    pub environment: String,
    pub minutes: i64,
    pub from: DateTime<Utc>,
    pub found: Option<DateTime<Utc>>,
    pub candidates: Candidates,
    /// The search alone, on rules expanded beforehand.
    pub search: Timings,
    /// Expanding every rule over the horizon, then the search: what the
    /// app's command does once it has read the rules and bookings.
    pub with_expansion: Timings,
}

/// What the calendar part measured.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarMeasure {
    pub mix: RuleMix,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub occurrences: usize,
    pub expand: Timings,
    pub changes: usize,
    pub conflicts: ConflictCounts,
    /// `view` over the year: expansion and every change's conflicts.
    pub view: Timings,
    /// `conflicts` for every change, the rules expanded beforehand.
    pub conflicts_only: Timings,
    pub slots: Vec<SlotMeasure>,
}

fn utc(y: i32, m: u32, d: u32, h: u32) -> Result<DateTime<Utc>> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .ok_or_else(|| CalendarBenchError::Data(format!("{y}-{m}-{d} {h}:00 is not a UTC time")))
}

/// The calendar, its year expanded and its changes judged once, every answer
/// checked: what the timed runs repeat.
struct Prepared {
    catalogue: rules::Catalogue,
    rules: Vec<CalendarRule>,
    mix: RuleMix,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    /// Every rule expanded over the year.
    year: Vec<Expanded>,
    bookings: Vec<Booking>,
    counts: ConflictCounts,
    slots: Vec<SlotSearch>,
}

fn prepare() -> Result<Prepared> {
    let (from, to) = (utc(2027, 1, 1, 0)?, utc(2028, 1, 1, 0)?);
    let catalogue = rules::Catalogue::new()?;
    let rules: Vec<CalendarRule> = rules::drafts(&catalogue, SEED)?
        .into_iter()
        .zip(1..)
        .map(|(draft, id)| {
            let title = draft.title.clone();
            draft
                .validate(id)
                .map_err(refused(format!("rule '{title}'")))
        })
        .collect::<Result<_>>()?;
    let mix = RuleMix {
        rules: rules.len(),
        windows: rules.iter().filter(|r| r.kind == RuleKind::Window).count(),
        freezes: rules.iter().filter(|r| r.kind == RuleKind::Freeze).count(),
        one_off: rules.iter().filter(|r| r.recurrence.is_none()).count(),
    };
    let year = expand_all(&rules, from, to)?;
    checks::hand_counts(&year)?;

    // Bookings are placed on rules expanded a little past the year, so a
    // release late in the year still finds its windows.
    let wider = expand_all(&rules, from, to + Duration::days(60))?;
    let planned = bookings::generate(&catalogue, &wider, from, SEED)?;
    let bookings: Vec<Booking> = planned.iter().map(|p| p.booking.clone()).collect();
    checks::within(&bookings, from, to)?;
    let found = judge_all(&year, &bookings);
    checks::intents(&planned, &found)?;
    let counts = ConflictCounts::of(found.iter().map(Vec::as_slice));
    checks::every_kind(&counts)?;
    check_view(&view_year(&rules, &bookings, from, to)?, &bookings, &counts)?;

    let slots = vec![
        SlotSearch {
            label: "first fit after the year-end freeze",
            minutes: 90,
            from: utc(2027, 12, 20, 9)?,
            // Tuesday 4 January 2028, 09:00 GMT: the payments production
            // window (Tuesdays and Thursdays 09:00–12:00 London) after the
            // freeze ends at midnight on Monday 3 January.
            expected: Some(utc(2028, 1, 4, 9)?),
        },
        SlotSearch {
            label: "nothing fits: every candidate tried",
            // Longer than any production window of payments-api.
            minutes: 8 * 60,
            from: utc(2027, 6, 1, 0)?,
            expected: None,
        },
    ];
    Ok(Prepared {
        catalogue,
        rules,
        mix,
        from,
        to,
        year,
        bookings,
        counts,
        slots,
    })
}

pub fn measure() -> Result<CalendarMeasure> {
    eprintln!("[bench] calendar: building the rules and changes, checking every answer once");
    let p = prepare()?;
    let m = &p.mix;
    eprintln!(
        "    {} rules ({} windows, {} freezes, {} of them one-off) for {} services × {} environments; \
         {} changes ({RELEASES} releases through {} environments, {HOTFIXES} hotfixes)",
        m.rules,
        m.windows,
        m.freezes,
        m.one_off,
        p.catalogue.services.len(),
        p.catalogue.environments.len(),
        thousands(p.bookings.len() as u64),
        ENVIRONMENTS.len()
    );
    eprintln!("[bench] calendar: {WARMUP} warm-up runs, then {RUNS} timed, of each measure");

    let occurrences = total_occurrences(&p.year);
    let expand = time(
        "expanding the year",
        || expand_all(&p.rules, p.from, p.to),
        |e| checks::same("occurrences", occurrences, total_occurrences(e)),
    )?;
    eprintln!(
        "    expand(), every rule over the year: {} occurrences, median {:.2} ms",
        thousands(occurrences as u64),
        expand.median_ms().unwrap_or(f64::NAN)
    );

    let conflicts_only = time(
        "conflicts alone",
        || Ok(judge_all(&p.year, &p.bookings)),
        |all| {
            checks::same_counts(
                &p.counts,
                &ConflictCounts::of(all.iter().map(Vec::as_slice)),
            )
        },
    )?;
    eprintln!(
        "    conflicts() of every change: {} found, median {:.1} ms",
        thousands(p.counts.total() as u64),
        conflicts_only.median_ms().unwrap_or(f64::NAN)
    );

    let view = time(
        "the year view",
        || view_year(&p.rules, &p.bookings, p.from, p.to),
        |v| check_view(v, &p.bookings, &p.counts),
    )?;
    eprintln!(
        "    view() of the year: median {:.1} ms",
        view.median_ms().unwrap_or(f64::NAN)
    );

    let slots = p
        .slots
        .iter()
        .map(|s| time_slot(&p, s))
        .collect::<Result<Vec<_>>>()?;

    Ok(CalendarMeasure {
        mix: p.mix,
        from: p.from,
        to: p.to,
        occurrences,
        expand,
        changes: p.bookings.len(),
        conflicts: p.counts,
        view,
        conflicts_only,
        slots,
    })
}

fn expand_all(
    rules: &[CalendarRule],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Expanded>> {
    rules
        .iter()
        .map(|r| expand(r, from, to).map_err(refused(format!("expansion of '{}'", r.title))))
        .collect()
}

fn total_occurrences(expanded: &[Expanded]) -> usize {
    expanded.iter().map(|e| e.occurrences.len()).sum()
}

/// What `view` does for the changes once the rules are expanded. All the
/// changes lie inside the year, which is the range `view` expands over.
fn judge_all(year: &[Expanded], bookings: &[Booking]) -> Vec<Vec<Conflict>> {
    bookings
        .iter()
        .map(|b| conflicts(b, year, bookings))
        .collect()
}

fn view_year(
    rules: &[CalendarRule],
    bookings: &[Booking],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<CalendarView> {
    view(rules, bookings, from, to).map_err(refused("year view"))
}

/// The view shows every change with the conflicts `conflicts` alone found.
fn check_view(v: &CalendarView, bookings: &[Booking], counts: &ConflictCounts) -> Result<()> {
    checks::same("changes in the view", bookings.len(), v.changes.len())?;
    checks::same_counts(
        counts,
        &ConflictCounts::of(v.changes.iter().map(|c| c.conflicts.as_slice())),
    )
}

/// `WARMUP` untimed calls, then `RUNS` timed ones; `check` runs on every
/// answer, outside the timing.
fn time<T>(
    what: &str,
    mut call: impl FnMut() -> Result<T>,
    mut check: impl FnMut(&T) -> Result<()>,
) -> Result<Timings> {
    let named = |e: CalendarBenchError| match e {
        CalendarBenchError::WrongAnswer(m) => {
            CalendarBenchError::WrongAnswer(format!("{what}: {m}"))
        }
        other => other,
    };
    for _ in 0..WARMUP {
        check(&call()?).map_err(named)?;
    }
    let mut runs = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        let answer = black_box(call()?);
        runs.push(started.elapsed());
        check(&answer).map_err(named)?;
    }
    Ok(Timings { runs })
}

/// A search in production for payments-api over [`SLOT_HORIZON_DAYS`], as
/// the app's `next_free_calendar_slot` command asks it.
struct SlotSearch {
    label: &'static str,
    minutes: i64,
    from: DateTime<Utc>,
    expected: Option<DateTime<Utc>>,
}

/// The inputs of one search, prepared as the command prepares them.
struct SlotInputs<'a> {
    service: &'a Slug,
    environment: &'a Slug,
    length: Duration,
    horizon: DateTime<Utc>,
    any: Digest,
}

impl SlotSearch {
    fn inputs<'a>(&self, p: &'a Prepared) -> Result<SlotInputs<'a>> {
        let length = Duration::minutes(self.minutes);
        Ok(SlotInputs {
            service: &p.catalogue.services[0],
            environment: &p.catalogue.environments[rules::PRODUCTION_STAGE],
            length,
            horizon: self.from + Duration::days(SLOT_HORIZON_DAYS),
            // As the command does: the digest only matters for the
            // earlier-stages check, which a free-slot search does not apply.
            any: Digest::parse(&"0".repeat(64))
                .map_err(|e| CalendarBenchError::Data(format!("the all-zero digest: {e}")))?,
        })
    }

    fn expand(&self, p: &Prepared, i: &SlotInputs<'_>) -> Result<Vec<Expanded>> {
        expand_all(&p.rules, self.from, i.horizon + i.length)
    }

    fn search(
        &self,
        p: &Prepared,
        i: &SlotInputs<'_>,
        expanded: &[Expanded],
    ) -> Option<DateTime<Utc>> {
        next_free_slot(
            i.service,
            i.environment,
            i.length,
            self.from,
            i.horizon,
            expanded,
            &p.bookings,
            &i.any,
        )
    }

    /// Searches once and checks the answer.
    fn check(&self, p: &Prepared) -> Result<(Option<DateTime<Utc>>, checks::Candidates)> {
        let i = self.inputs(p)?;
        let expanded = self.expand(p, &i)?;
        let found = self.search(p, &i, &expanded);
        checks::slot(self.label, self.expected, found)?;
        let candidates = checks::Candidates::of(
            i.service,
            i.environment,
            (self.from, i.horizon),
            &expanded,
            &p.bookings,
            found,
        );
        Ok((found, candidates))
    }
}

fn time_slot(p: &Prepared, s: &SlotSearch) -> Result<SlotMeasure> {
    let (found, candidates) = s.check(p)?;
    let i = s.inputs(p)?;
    let expanded = s.expand(p, &i)?;
    let answer = |got: &Option<DateTime<Utc>>| checks::slot(s.label, s.expected, *got);
    let search = time(s.label, || Ok(s.search(p, &i, &expanded)), answer)?;
    let with_expansion = time(s.label, || Ok(s.search(p, &i, &s.expand(p, &i)?)), answer)?;
    eprintln!(
        "    next_free_slot(), {}: {} after trying {} of {} candidate starts, median {:.2} ms ({:.2} ms with expansion)",
        s.label,
        found.map_or_else(|| "none".to_owned(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
        candidates.tried,
        candidates.collected,
        search.median_ms().unwrap_or(f64::NAN),
        with_expansion.median_ms().unwrap_or(f64::NAN)
    );
    Ok(SlotMeasure {
        label: s.label,
        service: i.service.to_string(),
        environment: i.environment.to_string(),
        minutes: s.minutes,
        from: s.from,
        found,
        candidates,
        search,
        with_expansion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_summarise_nearest_rank() {
        let t = Timings {
            runs: (1..=20).rev().map(Elapsed::from_millis).collect(),
        };
        assert_eq!(t.median_ms(), Some(10.0));
        assert_eq!(t.p95_ms(), Some(19.0));
        assert_eq!(t.max_ms(), Some(20.0));
        assert_eq!(t.rate(5_000), Some(500_000.0));
        assert_eq!(Timings { runs: vec![] }.median_ms(), None);
    }

    /// Everything the timed runs repeat, once and untimed: the rules, the
    /// changes, every check, both free-slot searches.
    #[test]
    fn the_calendar_answers_as_the_benchmark_expects() {
        let p = prepare().expect("every check passes");
        assert_eq!(p.mix.rules, 50);
        assert_eq!(p.bookings.len(), BOOKINGS);
        for s in &p.slots {
            let (found, candidates) = s.check(&p).expect("the expected slot");
            assert_eq!(found, s.expected);
            assert!(candidates.tried >= 1 && candidates.tried <= candidates.collected);
        }
    }
}
