//! The month view's part of BENCHMARKS.md: its table, with the target and
//! status, and how its figures were taken.

use std::fmt::Write as _;

use super::{MonthContents, MonthViewOutcome, EVENTS, MONTHS_AHEAD, READY_LINE, SEED};
use crate::report::{status, MONTH_VIEW_TARGET_MS};
use crate::workspaces::thousands;

pub const HEADING: &str = "Release calendar in the app: the month view";

fn contents(out: &mut String, c: &MonthContents) {
    let n = &c.counts;
    let days = (c.to - c.from).num_days();
    let raise_s = c.raise_time.as_secs_f64();
    let _ = writeln!(
        out,
        "{month}: the month view shows {from} – {to} UTC ({days} days, whole weeks from Monday), \
         where {rules} rules and the open changes give {events} events: {windows} release-window \
         occurrences, {freezes} freeze occurrences and {changes} changes, {blocked} \
         of them with a conflict in their way. The harness raised {raised} change records for it, one \
         transaction each, in {raise_s:.1} s ({per:.2} ms each).\n",
        month = c.month.format("%B %Y"),
        from = c.from.format("%Y-%m-%d"),
        to = c.to.format("%Y-%m-%d"),
        rules = c.rules,
        events = thousands(n.events() as u64),
        windows = thousands(n.windows as u64),
        freezes = thousands(n.freezes as u64),
        changes = thousands(n.changes as u64),
        blocked = thousands(c.blocked as u64),
        raised = thousands(c.raised as u64),
        per = if c.raised == 0 {
            0.0
        } else {
            raise_s * 1_000.0 / c.raised as f64
        },
    );
}

pub fn table(out: &mut String, outcome: &MonthViewOutcome) {
    let _ = writeln!(out, "## {HEADING}\n");
    let target = format!("data to painted, median < {MONTH_VIEW_TARGET_MS:.0} ms");
    match outcome {
        MonthViewOutcome::NotRun(reason) => {
            let _ = writeln!(out, "Not measured: {reason}\n");
        }
        MonthViewOutcome::Failed {
            contents: c,
            reason,
        } => {
            contents(out, c);
            let _ = writeln!(
                out,
                "Not measured: the app could not be measured on this month, or drew something else:\n\n```text\n{reason}\n```\n"
            );
        }
        MonthViewOutcome::Measured(m) => {
            contents(out, &m.contents);
            let (Some((app_median, app_max)), Some((wall_median, wall_max))) =
                (m.data_to_painted_ms(), m.start_to_painted_ms())
            else {
                let _ = writeln!(out, "Not measured: no runs were taken.\n");
                return;
            };
            let every: Vec<String> = m
                .runs
                .iter()
                .map(|r| r.data_to_painted_ms.to_string())
                .collect();
            let events = m.runs.first().map_or(0, |r| r.events);
            let drawn = m
                .runs
                .first()
                .and_then(|r| r.drawn)
                .map_or_else(|| "—".to_owned(), thousands);
            let _ = writeln!(
                out,
                "| Runs | Events | Handed to the component | Data to painted, median (ms) | max (ms) | Every run (ms) | Start to painted, median (ms) | max (ms) | Target | Status |\n| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | --- |"
            );
            let _ = writeln!(
                out,
                "| {} | {} | {drawn} | {app_median:.0} | {app_max:.0} | {} | {wall_median:.0} | {wall_max:.0} | {target} | {} |\n",
                m.runs.len(),
                thousands(events),
                every.join(", "),
                status(app_median < MONTH_VIEW_TARGET_MS)
            );
        }
    }
}

/// The month view's bullet of "How measured".
pub fn how_measured() -> String {
    format!(
        "- **Month view in the app.** A data folder of its own: the demo workspace loaded and its change \
script played (five people, seven changes, five calendar rules) as in the other parts, then through the \
store's ordinary, audited calls as the demo's calendar keeper: 24 more rules (a production window on two \
weekdays and a pre-production window on three for each of the 10 services, a nightly batch freeze, a \
Friday-afternoon production freeze, Patch Tuesday, a weekly backup freeze), then change records raised \
one transaction each (`Store::raise_change`, as the app's command does) until the range the month view \
shows holds {events} events. The month is the one {ahead} months after the run's month (February \
instead of December or January, clear of the demo's Christmas freeze); its range is whole weeks from \
the Monday on or before the 1st to the Monday on or after the next month's 1st, as the calendar \
component shows it. The changes go to one environment each, across every service (one of its own \
builds) and environment (earlier stages more often: dev five times as often as production), on the \
range's days (one in 20 at a weekend), starting 07:00–17:45 UTC for 30 minutes to 3 hours, all from a \
`fastrand` generator seeded with {seed}; nothing steers them clear of each other, the windows or the \
freezes. The expected count is `view()` of the range over the store's rules and open changes (what \
the app's `calendar_view` command returns), one event per window or freeze occurrence and per open \
change in each target environment. The month view draws each freeze as a labelled bar and the first \
{per_day} changes of a day, with a \"+N more\" (and how many of them are in conflict) for the rest, \
which opens that day's week where every change is drawn: the calendar component measures each event \
it lays out, so handing it 70 changes a day only for it to hide 67 took seconds (2.3–2.6 s for this \
month before). The app is started as for cold start, with also \
`RELEASE_DESK_START_ROUTE=/calendar?date=<the 1st>&view=month` (it opens straight on that month) and \
`TZ=UTC` (the component's range is local midnights, so this makes it the range counted), and the \
harness waits for the line `{line} N events in M ms (drew D)`. N is the number of calendar items in \
the range the screen received and must equal the expected count in every run, or the harness fails: \
that is the proof the app drew the prepared data; D is how many events it handed the component. \
M, \"data to painted\", is the app's own figure: from the \
screen asking the Rust side for the range (the range's view, every change and every rule, at once) \
to two animation frames after the events were given to the component, so it covers the IPC, \
judging the month's changes for conflicts, and WebKit's layout and paint. \"Start to painted\" is \
the wall-clock time from just before spawning the process to reading that line. Every run is a \
new process (a cold start on a warm file cache), stopped as above; medians are nearest-rank.
",
        events = thousands(EVENTS as u64),
        ahead = MONTHS_AHEAD,
        seed = SEED,
        line = READY_LINE,
        per_day = 3,
    )
}

/// For the tests of this crate.
#[cfg(test)]
pub mod fixtures {
    use chrono::{NaiveDate, TimeZone, Utc};
    use std::time::Duration;

    use crate::month_view::{EventCounts, MonthContents};

    pub fn contents() -> MonthContents {
        MonthContents {
            month: NaiveDate::from_ymd_opt(2027, 2, 1).unwrap(),
            from: Utc.with_ymd_and_hms(2027, 2, 1, 0, 0, 0).unwrap(),
            to: Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).unwrap(),
            rules: 29,
            counts: EventCounts {
                windows: 230,
                freezes: 40,
                changes: 1_730,
            },
            blocked: 900,
            raised: 1_730,
            raise_time: Duration::from_millis(4_225),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::contents;
    use super::*;
    use crate::month_view::{MonthViewMeasure, MonthViewRun};
    use std::time::Duration;

    fn measured(app_ms: &[u64]) -> MonthViewOutcome {
        MonthViewOutcome::Measured(MonthViewMeasure {
            contents: contents(),
            runs: app_ms
                .iter()
                .map(|&ms| MonthViewRun {
                    start_to_painted: Duration::from_millis(1_000 + ms),
                    data_to_painted_ms: ms,
                    events: 2_000,
                    drawn: Some(245),
                })
                .collect(),
        })
    }

    #[test]
    fn the_table_shows_the_month_the_figures_and_the_status() {
        let mut out = String::new();
        table(&mut out, &measured(&[420, 300, 350, 610, 330]));
        assert!(
            out.starts_with("## Release calendar in the app: the month view\n"),
            "{out}"
        );
        assert!(
            out.contains("February 2027: the month view shows 2027-02-01 – 2027-03-01 UTC (28 days, whole weeks from Monday), where 29 rules and the open changes give 2,000 events: 230 release-window occurrences, 40 freeze occurrences and 1,730 changes, 900 of them with a conflict in their way. The harness raised 1,730 change records for it, one transaction each, in 4.2 s (2.44 ms each)."),
            "{out}"
        );
        assert!(
            out.contains("| 5 | 2,000 | 245 | 350 | 610 | 420, 300, 350, 610, 330 | 1350 | 1610 | data to painted, median < 500 ms | met |"),
            "{out}"
        );
        let mut slow = String::new();
        table(&mut slow, &measured(&[700, 500, 800]));
        assert!(
            slow.contains("| 700 | 800 | 700, 500, 800 |") && slow.contains("| **not met** |"),
            "{slow}"
        );
    }

    #[test]
    fn the_table_says_why_nothing_was_measured() {
        let mut skipped = String::new();
        table(
            &mut skipped,
            &MonthViewOutcome::NotRun("`--skip-calendar-app` was given.".into()),
        );
        assert!(skipped.contains("\nNot measured: `--skip-calendar-app` was given.\n"));

        let mut failed = String::new();
        table(
            &mut failed,
            &MonthViewOutcome::Failed {
                contents: contents(),
                reason: "the month view drew 1999 events".into(),
            },
        );
        assert!(failed.contains("2,000 events"), "{failed}");
        assert!(
            failed.contains("```text\nthe month view drew 1999 events\n```"),
            "{failed}"
        );
        assert!(!failed.contains("| met |"), "{failed}");
    }
}
