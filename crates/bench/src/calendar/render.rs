//! The calendar's part of BENCHMARKS.md: its tables, with targets and
//! status, and how its figures were taken.

use std::fmt::Write as _;

use super::{
    CalendarMeasure, SlotMeasure, Timings, ENVIRONMENTS, HAND_COUNTED, HOTFIXES, RELEASES, RUNS,
    SEED, SLOT_HORIZON_DAYS, WARMUP,
};
use crate::report::{
    status, CALENDAR_CONFLICTS_TARGET_MS, CALENDAR_EXPAND_TARGET_MS, CALENDAR_SLOT_TARGET_MS,
};
use crate::workspaces::thousands;

fn ms(figure: Option<f64>) -> String {
    figure.map_or_else(|| "–".to_owned(), |ms| format!("{ms:.2}"))
}

fn median_status(t: &Timings, target_ms: f64) -> &'static str {
    match t.median_ms() {
        Some(median) => status(median < target_ms),
        None => "not measured",
    }
}

fn per_s(t: &Timings, items: usize, unit: &str) -> String {
    t.rate(items).map_or_else(
        || "–".to_owned(),
        |r| format!("{} {unit}/s", thousands(r.round() as u64)),
    )
}

pub fn tables(out: &mut String, measured: Option<&CalendarMeasure>) {
    let _ = writeln!(out, "## Release calendar\n");
    let Some(c) = measured else {
        let _ = writeln!(out, "Not measured: `--skip-calendar` was given.\n");
        return;
    };
    let m = &c.mix;
    let _ = writeln!(
        out,
        "{} rules ({} release windows, {} freezes; {} one-off, the rest recurring) over {} – {} UTC, and {} scheduled changes.\n",
        m.rules,
        m.windows,
        m.freezes,
        m.one_off,
        c.from.format("%Y-%m-%d"),
        c.to.format("%Y-%m-%d"),
        thousands(c.changes as u64)
    );
    let _ = writeln!(
        out,
        "| Measure | Work | Runs | median (ms) | p95 (ms) | max (ms) | Rate at the median | Target | Status |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"
    );
    let rows = [
        (
            "`expand()` of every rule over the year",
            format!(
                "{} rules, {} occurrences",
                m.rules,
                thousands(c.occurrences as u64)
            ),
            &c.expand,
            per_s(&c.expand, c.occurrences, "occurrences"),
            CALENDAR_EXPAND_TARGET_MS,
        ),
        (
            "`view()` of the year: expansion and every change's conflicts",
            format!("{} changes", thousands(c.changes as u64)),
            &c.view,
            per_s(&c.view, c.changes, "changes"),
            CALENDAR_CONFLICTS_TARGET_MS,
        ),
        (
            "`conflicts()` of every change, rules expanded beforehand",
            format!("{} changes", thousands(c.changes as u64)),
            &c.conflicts_only,
            per_s(&c.conflicts_only, c.changes, "changes"),
            CALENDAR_CONFLICTS_TARGET_MS,
        ),
    ];
    for (what, work, t, rate, target) in rows {
        let _ = writeln!(
            out,
            "| {what} | {work} | {} | {} | {} | {} | {rate} | median < {} ms | {} |",
            t.runs.len(),
            ms(t.median_ms()),
            ms(t.p95_ms()),
            ms(t.max_ms()),
            thousands(target as u64),
            median_status(t, target)
        );
    }
    out.push('\n');

    let n = &c.conflicts;
    let _ = writeln!(
        out,
        "Conflicts found among the {} changes (the same on every run, and the same through `view()` as through `conflicts()` alone):\n",
        thousands(c.changes as u64)
    );
    let _ = writeln!(
        out,
        "| In a freeze | of them overridden | Outside every window | Overrunning a window | Overlapping another change | Before the earlier stages | All conflicts | Changes blocked | Changes with none |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        thousands(n.in_freeze as u64),
        thousands(n.overridden as u64),
        thousands(n.outside_windows as u64),
        thousands(n.overruns_window as u64),
        thousands(n.overlaps as u64),
        thousands(n.before_earlier_stages as u64),
        thousands(n.total() as u64),
        thousands(n.blocked_changes as u64),
        thousands(n.clear_changes as u64)
    );

    let _ = writeln!(
        out,
        "`next_free_slot()` over {} days with all {} changes:\n",
        SLOT_HORIZON_DAYS,
        thousands(c.changes as u64)
    );
    let _ = writeln!(
        out,
        "| Search | Cell | Length | From | Found | Starts tried / collected | Runs | Search median (ms) | max (ms) | With expanding the rules, median (ms) | p95 (ms) | max (ms) | Target | Status |\n| --- | --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"
    );
    for s in &c.slots {
        slot_row(out, s);
    }
    out.push('\n');
}

fn slot_row(out: &mut String, s: &SlotMeasure) {
    let _ = writeln!(
        out,
        "| {} | {} in {} | {} min | {} | {} | {} / {} | {} | {} | {} | {} | {} | {} | median with expansion < {CALENDAR_SLOT_TARGET_MS:.0} ms | {} |",
        s.label,
        s.service,
        s.environment,
        s.minutes,
        s.from.format("%Y-%m-%d %H:%M UTC"),
        s.found
            .map_or_else(|| "none".to_owned(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
        thousands(s.candidates.tried as u64),
        thousands(s.candidates.collected as u64),
        s.search.runs.len(),
        ms(s.search.median_ms()),
        ms(s.search.max_ms()),
        ms(s.with_expansion.median_ms()),
        ms(s.with_expansion.p95_ms()),
        ms(s.with_expansion.max_ms()),
        median_status(&s.with_expansion, CALENDAR_SLOT_TARGET_MS)
    );
}

/// The calendar's bullets of "How measured".
pub fn how_measured() -> String {
    let hand_counted: Vec<String> = HAND_COUNTED
        .iter()
        .map(|(title, n, why)| format!("'{title}' has {n} ({why})"))
        .collect();
    format!(
        "- **Release calendar.** Pure functions of the `release-desk-calendar` crate, called in memory \
on one thread: no database and no app. The calendar holds 50 services (10 domains × api, worker, web, \
gateway, scheduler) on a path to live of {environments} (production is the last stage), and 50 rules: \
weekly release windows per environment and domain in Europe/London, America/New_York and Asia/Kolkata \
(one of them fortnightly), daily dev hours and weekday test hours with each office's 2027 holidays as \
EXDATEs, monthly freezes (month end, Patch Tuesday, first Monday, quarter end, mid-month, payroll), yearly \
freezes (year end, Black Friday to Cyber Monday, Indian fiscal year end, a disaster-recovery test) and \
one-off freezes, each scoped to some environments and services. The weekdays, hours and lengths of most \
windows come from a `fastrand` generator seeded with {seed}, so every run builds the same calendar. The \
changes are {releases} releases spread over the first 300 days of the year, each one artefact (one \
digest) booked through the environments in order with hours of soak between them, and {hotfixes} \
hotfixes. Most are placed where a careful planner would put them (inside an open window, clear of \
freezes and of earlier changes to the same service and environment); a seeded few are placed to meet \
each kind of conflict: outside every window, running past a window's close, inside a freeze (a third of \
those with an override), production starting before pre-production has ended, overlapping another change.
- **Calendar checks.** Before anything is timed, and a failure stops the harness: of the occurrences in \
the year, {hand_counted}; every deliberately placed conflict is found on its change, and no carefully \
placed change meets a freeze, window or stage conflict; every kind of conflict occurs; `view()` shows every \
change with the same conflicts as `conflicts()` alone; the free-slot searches give the expected answers. \
Every timed answer is checked again, outside the timing.
- **Calendar timings.** Each measure is called {warmup} times untimed, then {runs} times timed; a \
sample is the wall-clock time of one call, including building its result. `expand()` is called for every \
rule (validated beforehand) over 2027-01-01 – 2028-01-01 UTC. `view()` gets every rule and every change \
for that year, as the app's `calendar_view` command passes them once it has read the database. \
`conflicts()` alone is called for every change, with the rules expanded over the year and every change \
as the others. `next_free_slot()` searches one cell over {horizon} days with every change, as the \
`next_free_calendar_slot` command does: \"Search\" on rules expanded beforehand, \"With expanding the \
rules\" also expanding every rule over the horizon first, which is all the command computes once it has \
read the rules and changes. It collects candidate starts (window openings, freeze ends, ends of the \
cell's changes) and tries them in order until one meets no blocking conflict; the table shows how many it \
tried. Medians and p95 are nearest-rank; rates are items per second at the median.
",
        environments = ENVIRONMENTS.join(", "),
        seed = SEED,
        releases = thousands(RELEASES as u64),
        hotfixes = HOTFIXES,
        hand_counted = hand_counted.join("; "),
        warmup = WARMUP,
        runs = RUNS,
        horizon = SLOT_HORIZON_DAYS,
    )
}

/// For the report's tests.
#[cfg(test)]
pub mod fixtures {
    use chrono::{TimeZone, Utc};
    use std::time::Duration;

    use crate::calendar::{
        CalendarMeasure, Candidates, ConflictCounts, RuleMix, SlotMeasure, Timings,
    };

    fn timings(ms: &[u64]) -> Timings {
        Timings {
            runs: ms.iter().copied().map(Duration::from_millis).collect(),
        }
    }

    /// A measure with round figures.
    pub fn example(conflicts_ms: &[u64]) -> CalendarMeasure {
        let at = |y, m, d, h| Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap();
        CalendarMeasure {
            mix: RuleMix {
                rules: 50,
                windows: 32,
                freezes: 18,
                one_off: 8,
            },
            from: at(2027, 1, 1, 0),
            to: at(2028, 1, 1, 0),
            occurrences: 5_000,
            expand: timings(&[4, 2, 3]),
            changes: 5_000,
            conflicts: ConflictCounts {
                in_freeze: 91,
                overridden: 23,
                outside_windows: 343,
                overruns_window: 174,
                overlaps: 202,
                before_earlier_stages: 75,
                blocked_changes: 697,
                clear_changes: 4_300,
            },
            view: timings(&[100, 90, 95]),
            conflicts_only: timings(conflicts_ms),
            slots: vec![SlotMeasure {
                label: "first fit",
                service: "payments-api".into(),
                environment: "production".into(),
                minutes: 90,
                from: at(2027, 12, 20, 9),
                found: Some(at(2028, 1, 4, 9)),
                candidates: Candidates {
                    collected: 101,
                    tried: 9,
                },
                search: timings(&[1]),
                with_expansion: timings(&[3]),
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::example;
    use super::*;

    #[test]
    fn tables_show_the_figures_the_work_and_the_status() {
        let mut out = String::new();
        tables(&mut out, Some(&example(&[80, 85, 90])));
        assert!(out.starts_with("## Release calendar\n"), "{out}");
        assert!(
            out.contains("| `expand()` of every rule over the year | 50 rules, 5,000 occurrences | 3 | 3.00 | 4.00 | 4.00 | 1,666,667 occurrences/s | median < 100 ms | met |"),
            "{out}"
        );
        assert!(
            out.contains("| `conflicts()` of every change, rules expanded beforehand | 5,000 changes | 3 | 85.00 | 90.00 | 90.00 | 58,824 changes/s | median < 1,000 ms | met |"),
            "{out}"
        );
        assert!(
            out.contains("| 91 | 23 | 343 | 174 | 202 | 75 | 885 | 697 | 4,300 |"),
            "{out}"
        );
        assert!(
            out.contains("| first fit | payments-api in production | 90 min | 2027-12-20 09:00 UTC | 2028-01-04 09:00 UTC | 9 / 101 | 1 | 1.00 | 1.00 | 3.00 | 3.00 | 3.00 | median with expansion < 100 ms | met |"),
            "{out}"
        );
    }

    #[test]
    fn tables_say_when_skipped_or_too_slow() {
        let mut skipped = String::new();
        tables(&mut skipped, None);
        assert!(skipped.contains("Not measured: `--skip-calendar` was given."));

        let mut slow = String::new();
        tables(&mut slow, Some(&example(&[1_200, 1_100, 900])));
        assert!(
            slow.contains(
                "| 3 | 1100.00 | 1200.00 | 1200.00 | 4,545 changes/s | median < 1,000 ms | **not met** |"
            ),
            "{slow}"
        );
    }
}
