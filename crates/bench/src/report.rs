//! BENCHMARKS.md: the machine, a table per measure with its target and an
//! honest status, and how each figure was taken.

use chrono::{DateTime, Utc};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use crate::app::{AppMeasure, DASHBOARD_LINE, SETTLE, TERM_GRACE};
use crate::audit_log::{AuditMeasure, ENTRIES_PER_TRANSACTION, VERIFY_RUNS, VERIFY_WARMUP};
use crate::calendar::{self, CalendarMeasure};
use crate::machine::Machine;
use crate::month_view::{self, MonthViewOutcome};
use crate::queries::{
    QueryLatency, DASHBOARD_ITERATIONS, DASHBOARD_WARMUP, HISTORY_ITERATIONS, HISTORY_WARMUP,
};
use crate::workspaces::thousands;

pub const COLD_START_TARGET_MS: f64 = 500.0;
pub const PSS_TARGET_MIB: f64 = 200.0;
pub const QUERY_P99_TARGET_MS: f64 = 10.0;
/// Verifying a chain of this many entries takes under this many seconds.
pub const AUDIT_TARGET_ENTRIES: u32 = 1_000_000;
pub const AUDIT_TARGET_S: f64 = 2.0;
/// Expanding every rule over a year: the calendar screen expands the range it
/// shows whenever it opens or moves, so even a year should stay under the
/// tenth of a second a person notices.
pub const CALENDAR_EXPAND_TARGET_MS: f64 = 100.0;
/// Judging a year's 5,000 changes, through `view` or `conflicts` alone: the
/// widest range the calendar command allows, at most a second.
pub const CALENDAR_CONFLICTS_TARGET_MS: f64 = 1_000.0;
/// A free-slot search, with its expansion, answers a click: it should feel
/// immediate.
pub const CALENDAR_SLOT_TARGET_MS: f64 = 100.0;
/// The month view's events painted this soon after the screen asks for them
/// show no visible stall.
pub const MONTH_VIEW_TARGET_MS: f64 = 500.0;
const MIB: f64 = 1024.0 * 1024.0;

/// Whether and how the app was measured, decided before anything runs.
#[derive(Debug, Clone)]
pub enum AppPlan {
    NotRequested,
    /// Requested but impossible here (no display); the reason is shown.
    Skipped(String),
    Run {
        binary: PathBuf,
    },
}

#[derive(Debug, Clone)]
pub enum AppOutcome {
    NotRun,
    Measured(AppMeasure),
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct WorkspaceResult {
    pub label: &'static str,
    pub contents: String,
    pub load: Duration,
    /// `None` when `--skip-queries` was given.
    pub queries: Option<Vec<QueryLatency>>,
    pub app: AppOutcome,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub date: DateTime<Utc>,
    pub machine: Machine,
    pub app_profile: Option<String>,
    pub app_plan: AppPlan,
    pub queries_skipped: bool,
    /// `--only-calendar`: no workspaces, queries, audit log or app.
    pub only_calendar: bool,
    pub workspaces: Vec<WorkspaceResult>,
    /// `None` when `--skip-audit` was given.
    pub audit: Option<AuditMeasure>,
    /// `None` when `--skip-calendar` was given.
    pub calendar: Option<CalendarMeasure>,
    pub month_view: MonthViewOutcome,
    /// `None` when not measured (no sample service binary, or skipped).
    pub traffic: Option<crate::traffic::TrafficMeasure>,
    pub sync: Option<crate::sync::SyncMeasure>,
}

pub(crate) fn status(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "**not met**"
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB
}

/// The whole file.
pub fn render_document(report: &Report) -> String {
    let mut out = String::new();
    let m = &report.machine;
    let _ = writeln!(out, "# Release Desk benchmarks\n");
    let _ = writeln!(
        out,
        "Measured on {} by `make bench` (the `release-desk-bench` crate). Targets not met are reported as such; nothing here is tuned to pass.\n",
        report.date.format("%Y-%m-%d %H:%M UTC")
    );
    let _ = writeln!(out, "## Machine\n");
    let _ = writeln!(out, "| | |\n| --- | --- |");
    let _ = writeln!(out, "| CPU | {} |", m.cpu);
    let _ = writeln!(out, "| Logical cores | {} |", m.logical_cores);
    let _ = writeln!(out, "| RAM | {} |", m.ram);
    let _ = writeln!(out, "| OS | {} |", m.os);
    let _ = writeln!(out, "| Kernel | {} |", m.kernel);
    let _ = writeln!(out, "| Rust | {} |", m.rustc);
    let _ = writeln!(
        out,
        "| Load average at start (1, 5, 15 min) | {} |",
        m.load_average
    );
    let _ = writeln!(out, "| App binary | {} |", app_binary(report));
    let _ = writeln!(
        out,
        "| App build profile | {} |",
        report.app_profile.as_deref().unwrap_or("not stated")
    );
    out.push('\n');
    out.push_str(&render_tables(report));
    out.push_str(&how_measured());
    out
}

fn app_binary(report: &Report) -> String {
    match &report.app_plan {
        AppPlan::NotRequested => "not measured (no `--app` given)".to_owned(),
        AppPlan::Skipped(_) => "not measured (skipped, see below)".to_owned(),
        AppPlan::Run { binary } => format!("`{}`", binary.display()),
    }
}

/// The result tables, also printed to stdout.
pub fn render_tables(report: &Report) -> String {
    let mut out = String::new();
    if report.only_calendar {
        for heading in ["Workspaces", "Query latency", "Audit log verification"] {
            only_calendar(&mut out, heading);
        }
        calendar::render::tables(&mut out, report.calendar.as_ref());
        only_calendar(&mut out, month_view::render::HEADING);
        only_calendar(&mut out, "Cold start and memory of the app");
        return out;
    }
    workspaces_table(&mut out, report);
    queries_table(&mut out, report);
    audit_tables(&mut out, report.audit.as_ref());
    calendar::render::tables(&mut out, report.calendar.as_ref());
    month_view::render::table(&mut out, &report.month_view);
    crate::traffic::render::table(&mut out, report.traffic.as_ref());
    crate::sync::render::table(&mut out, report.sync.as_ref());
    app_tables(&mut out, report);
    out
}

fn only_calendar(out: &mut String, heading: &str) {
    let _ = writeln!(
        out,
        "## {heading}\n\nNot measured: `--only-calendar` was given.\n"
    );
}

fn workspaces_table(out: &mut String, report: &Report) {
    let _ = writeln!(out, "## Workspaces\n");
    let _ = writeln!(
        out,
        "| Workspace | Contents | Load into an empty database |\n| --- | --- | ---: |"
    );
    for w in &report.workspaces {
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} s |",
            w.label,
            w.contents,
            w.load.as_secs_f64()
        );
    }
    out.push('\n');
}

fn queries_table(out: &mut String, report: &Report) {
    let _ = writeln!(out, "## Query latency\n");
    if report.queries_skipped {
        let _ = writeln!(out, "Not measured: `--skip-queries` was given.\n");
        return;
    }
    let _ = writeln!(
        out,
        "| Workspace | Query | Returns | Samples | p50 (ms) | p99 (ms) | max (ms) | Target | Status |\n| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- |"
    );
    for w in &report.workspaces {
        for q in w.queries.iter().flatten() {
            let s = &q.summary;
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} | {:.3} | {:.3} | {:.3} | p99 < {QUERY_P99_TARGET_MS:.0} ms | {} |",
                w.label,
                q.query,
                q.returns,
                s.count,
                s.p50,
                s.p99,
                s.max,
                status(s.p99 < QUERY_P99_TARGET_MS)
            );
        }
    }
    out.push('\n');
}

/// The target is stated for one chain length; another length is measured and
/// shown but not judged against it.
pub fn audit_status(entries: u32, median_s: f64) -> &'static str {
    if entries == AUDIT_TARGET_ENTRIES {
        status(median_s < AUDIT_TARGET_S)
    } else {
        "not judged: the target is for 1,000,000 entries"
    }
}

fn audit_tables(out: &mut String, audit: Option<&AuditMeasure>) {
    let _ = writeln!(
        out,
        "## Audit log verification
"
    );
    let Some(a) = audit else {
        let _ = writeln!(
            out,
            "Not measured: `--skip-audit` was given.
"
        );
        return;
    };
    let (Some(median), Some(max), Some(rate)) = (a.median_s(), a.max_s(), a.entries_per_s()) else {
        let _ = writeln!(
            out,
            "Not measured: no timed runs were taken.
"
        );
        return;
    };
    let every: Vec<String> = a
        .runs
        .iter()
        .map(|r| format!("{:.3}", r.as_secs_f64()))
        .collect();
    let _ = writeln!(
        out,
        "| Entries | Database | Fill | Runs | Verify median (s) | max (s) | Entries/s at the median | Every run (s) | Target | Status |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |"
    );
    let _ = writeln!(
        out,
        "| {} | {:.1} MiB | {:.2} s | {} | {median:.3} | {max:.3} | {} | {} | < {AUDIT_TARGET_S:.0} s for {} entries | {} |\n",
        thousands(u64::from(a.entries)),
        mib(a.database_bytes),
        a.fill.as_secs_f64(),
        a.runs.len(),
        thousands(rate.round() as u64),
        every.join(", "),
        thousands(u64::from(AUDIT_TARGET_ENTRIES)),
        audit_status(a.entries, median)
    );
    let t = &a.tamper;
    let _ = writeln!(
        out,
        "| Tampered entry | Reported first bad entry | Intact entries before it | Time to detection (s) |\n| ---: | ---: | ---: | ---: |"
    );
    let _ = writeln!(
        out,
        "| {} | {} | {} | {:.3} |\n",
        thousands(t.seq.unsigned_abs()),
        thousands(t.seq.unsigned_abs()),
        thousands(u64::from(t.entries_checked)),
        t.time.as_secs_f64()
    );
}

fn app_tables(out: &mut String, report: &Report) {
    let _ = writeln!(out, "## Cold start and memory of the app\n");
    match &report.app_plan {
        AppPlan::NotRequested => {
            let _ = writeln!(
                out,
                "Not measured: no app binary was given (`--app PATH`).\n"
            );
            return;
        }
        AppPlan::Skipped(reason) => {
            let _ = writeln!(out, "Not measured: {reason}\n");
            return;
        }
        AppPlan::Run { .. } => {}
    }

    let _ = writeln!(
        out,
        "| Workspace | Runs | Cold start median (ms) | min (ms) | max (ms) | Every run (ms) | App's own figure, median (ms) | Target | Status |\n| --- | ---: | ---: | ---: | ---: | --- | ---: | --- | --- |"
    );
    for w in &report.workspaces {
        match &w.app {
            AppOutcome::Measured(m) => {
                let Some((median, min, max)) = m.cold_start_ms() else {
                    continue;
                };
                let every: Vec<String> = m
                    .runs
                    .iter()
                    .map(|r| format!("{:.0}", r.cold_start.as_secs_f64() * 1_000.0))
                    .collect();
                let mut own: Vec<u64> = m.runs.iter().filter_map(|r| r.app_reported_ms).collect();
                own.sort_unstable();
                let own_median = own
                    .get((own.len() * 50).div_ceil(100).max(1) - 1)
                    .map(u64::to_string)
                    .unwrap_or_else(|| "–".to_owned());
                let _ = writeln!(
                    out,
                    "| {} | {} | {median:.1} | {min:.1} | {max:.1} | {} | {own_median} | median < {COLD_START_TARGET_MS:.0} ms | {} |",
                    w.label,
                    m.runs.len(),
                    every.join(", "),
                    status(median < COLD_START_TARGET_MS)
                );
            }
            AppOutcome::Failed(_) => {
                let _ = writeln!(
                    out,
                    "| {} | – | – | – | – | failed, see below | – | median < {COLD_START_TARGET_MS:.0} ms | not measured |",
                    w.label
                );
            }
            AppOutcome::NotRun => {}
        }
    }
    out.push('\n');

    let _ = writeln!(
        out,
        "| Workspace | PSS of the process tree, median (MiB) | Processes | Largest process | Target | Status |\n| --- | ---: | ---: | --- | --- | --- |"
    );
    for w in &report.workspaces {
        match &w.app {
            AppOutcome::Measured(m) => {
                let Some(run) = m.median_memory_run() else {
                    continue;
                };
                let total = mib(run.total_pss_bytes());
                let largest = run
                    .processes
                    .first()
                    .map(|p| format!("{} ({:.1} MiB)", p.name, mib(p.pss_bytes)))
                    .unwrap_or_else(|| "–".to_owned());
                let _ = writeln!(
                    out,
                    "| {} | {total:.1} | {} | {largest} | < {PSS_TARGET_MIB:.0} MiB | {} |",
                    w.label,
                    run.processes.len(),
                    status(total < PSS_TARGET_MIB)
                );
            }
            AppOutcome::Failed(_) => {
                let _ = writeln!(
                    out,
                    "| {} | – | – | – | < {PSS_TARGET_MIB:.0} MiB | not measured |",
                    w.label
                );
            }
            AppOutcome::NotRun => {}
        }
    }
    out.push('\n');

    for w in &report.workspaces {
        let AppOutcome::Measured(m) = &w.app else {
            continue;
        };
        let Some(run) = m.median_memory_run() else {
            continue;
        };
        let _ = writeln!(
            out,
            "Processes of the median-memory run, {} workspace:\n",
            w.label
        );
        let _ = writeln!(out, "| Process | PID | PSS (MiB) |\n| --- | ---: | ---: |");
        for p in &run.processes {
            let _ = writeln!(out, "| {} | {} | {:.1} |", p.name, p.pid, mib(p.pss_bytes));
        }
        out.push('\n');
    }
    for w in &report.workspaces {
        if let AppOutcome::Failed(reason) = &w.app {
            let _ = writeln!(
                out,
                "The {} workspace run failed:\n\n```text\n{reason}\n```\n",
                w.label
            );
        }
    }
}

fn how_measured() -> String {
    format!(
        "## How measured

- **Workspaces.** `demo` is the demo workspace a new user can load; `generated` is \
`generated_workspace(50, 8, 100_000, now)` from the `release-desk-demo` crate. Each is loaded with \
`Store::load_workspace` into a new SQLite file in a temporary folder (one transaction; the time is \
shown above) and the store is closed, so every later reader opens an existing workspace as the app does.
- **Query latency.** The store is opened again on that file (WAL, the app's own settings) and each \
query is called through the same `Store` API the app's commands use, sequentially, on a Tokio \
multi-threaded runtime. `dashboard()`: {DASHBOARD_WARMUP} warm-up calls, then {DASHBOARD_ITERATIONS} timed. \
`cell_history()` with the default first page (up to 100 entries): {HISTORY_WARMUP} warm-up calls, then \
{HISTORY_ITERATIONS} timed, each on a (service, environment) cell picked by a seeded `fastrand` generator, \
so every run visits the same cells. Each sample is wall-clock time from the call to its result, \
including decoding rows into domain types. Samples are sorted and percentiles are nearest-rank: pN is \
the sample at 1-based rank ⌈N × n / 100⌉ (for 300 samples, p99 is the 297th), so every figure is a \
time that was actually measured.
- **Audit log verification.** A new database (the app's schema and settings, in a temporary \
folder) is filled with a chain of the stated number of entries: change records going through \
their whole life (raised, submitted, risk overridden, two approvals, scheduled, implemented, closed), with the \
actions, `change:<id>` subjects and JSON details (about 120 bytes on average) the store writes. \
Each entry is sealed with `release_desk_audit::seal` and inserted through the real triggers \
(which check every entry's order and move the recorded head), {per_tx} entries per transaction; \
\"Fill\" is that whole time. The store is closed and opened again, then `Store::verify_audit()` \
(what the app's `verify_audit` command and every evidence-pack export call: it reads every \
row in order through a read-only connection in one snapshot and recomputes each SHA-256 link) runs {audit_warmup} time untimed, which also brings the file into the \
operating system's cache, then {audit_runs} times timed, each from the call to its result. The \
median is nearest-rank. A run that does not report the chain intact with every entry fails the \
benchmark. Then the trigger that forbids edits is dropped, the `actor` of the middle entry is \
changed, and one more verification must report the chain broken at exactly that entry; its time \
is shown as the time to detection (it stops at the first bad entry, so it reads about half the log).
- **Cold start.** The app binary is started with `RELEASE_DESK_BENCH=1`, `RELEASE_DESK_DATA_DIR` set to \
the prepared data folder and `RELEASE_DESK_LOG_DIR` beside it, under Xvfb. Cold start is the time from \
just before spawning the process to reading the line `{DASHBOARD_LINE} … ms` on its stdout, which the app \
prints when the UI reports that the dashboard has rendered with data. The operating system's file \
cache is not dropped between runs, so this is a process cold start on a warm disk cache. Median, min \
and max are over the runs; the median is nearest-rank (the lower middle for an even number of runs). \
The app's own figure is the number in that line, timed inside the app from the start of its \
`run()`, so it leaves out loading the executable and its libraries.
- **Memory.** {settle} s after the ready line, the proportional set size (`Pss:` in \
`/proc/<pid>/smaps_rollup`) is summed over the app's process and all its descendants (found by \
following parent links in `/proc/*/stat`; WebKitGTK runs the web page and the network stack in child \
processes). PSS divides shared pages between the processes that map them, so the sum is not inflated \
by shared libraries. Helpers that detach from the app, such as the D-Bus session bus GTK starts \
on a bare X display (a desktop session already runs one; later runs reuse it), are not descendants \
and are not counted. Figures are in MiB (1 MiB = 1,048,576 bytes). The reported median is the run \
with the median total; its processes are listed.
- **Stopping.** After measuring, every process in the tree gets SIGTERM, whatever is left {grace} s \
later gets SIGKILL, and the app is reaped before the next run.
{calendar}{month_view}- **Status.** \"met\" means the figure is below its target on this machine: queries p99 < \
{QUERY_P99_TARGET_MS:.0} ms, audit verification median < {AUDIT_TARGET_S:.0} s for {audit_target} \
entries, calendar expansion of the year median < {CALENDAR_EXPAND_TARGET_MS:.0} ms, the year's \
{changes} changes judged (by `view()` or `conflicts()` alone) median < {conflicts_target} ms, a free-slot \
search with its expansion median < {CALENDAR_SLOT_TARGET_MS:.0} ms, the month view's {events} events \
from data to painted median < {MONTH_VIEW_TARGET_MS:.0} ms, cold start median < \
{COLD_START_TARGET_MS:.0} ms, PSS median < {PSS_TARGET_MIB:.0} MiB.
",
        settle = SETTLE.as_secs(),
        grace = TERM_GRACE.as_secs(),
        per_tx = thousands(u64::from(ENTRIES_PER_TRANSACTION)),
        audit_warmup = VERIFY_WARMUP,
        audit_runs = VERIFY_RUNS,
        audit_target = thousands(u64::from(AUDIT_TARGET_ENTRIES)),
        calendar = calendar::render::how_measured(),
        month_view = month_view::render::how_measured(),
        events = thousands(month_view::EVENTS as u64),
        changes = thousands(calendar::BOOKINGS as u64),
        conflicts_target = thousands(CALENDAR_CONFLICTS_TARGET_MS as u64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit_log::TamperDetection;
    use crate::calendar::render::fixtures::example;
    use crate::machine::Machine;
    use chrono::TimeZone;

    fn audit(entries: u32, runs_ms: &[u64]) -> AuditMeasure {
        AuditMeasure {
            entries,
            fill: Duration::from_millis(21_500),
            database_bytes: 300 * 1024 * 1024,
            runs: runs_ms.iter().copied().map(Duration::from_millis).collect(),
            tamper: TamperDetection {
                seq: 500_001,
                entries_checked: 500_000,
                time: Duration::from_millis(612),
            },
        }
    }

    #[test]
    fn audit_status_judges_only_the_stated_length() {
        assert_eq!(audit_status(1_000_000, 1.999), "met");
        assert_eq!(audit_status(1_000_000, 2.0), "**not met**");
        assert!(audit_status(10_000, 0.1).starts_with("not judged"));
    }

    #[test]
    fn audit_tables_show_the_figures_and_the_status() {
        let mut out = String::new();
        audit_tables(
            &mut out,
            Some(&audit(1_000_000, &[1_300, 1_250, 1_400, 1_200, 1_280])),
        );
        assert!(out.starts_with("## Audit log verification\n"), "{out}");
        assert!(
            out.contains(
                "| 1,000,000 | 300.0 MiB | 21.50 s | 5 | 1.280 | 1.400 | 781,250 | 1.300, 1.250, 1.400, 1.200, 1.280 | < 2 s for 1,000,000 entries | met |"
            ),
            "{out}"
        );
        assert!(
            out.contains("| 500,001 | 500,001 | 500,000 | 0.612 |"),
            "{out}"
        );
    }

    #[test]
    fn audit_tables_say_when_the_part_was_skipped_or_too_slow() {
        let mut skipped = String::new();
        audit_tables(&mut skipped, None);
        assert!(skipped.contains("Not measured: `--skip-audit` was given."));

        let mut slow = String::new();
        audit_tables(&mut slow, Some(&audit(1_000_000, &[2_500])));
        assert!(slow.contains("| **not met** |"), "{slow}");
    }

    #[test]
    fn only_the_calendar_leaves_the_other_parts_out() {
        let report = Report {
            date: Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap(),
            machine: Machine {
                cpu: "cpu".into(),
                logical_cores: 2,
                ram: "1 GiB".into(),
                os: "os".into(),
                kernel: "k".into(),
                rustc: "rustc".into(),
                load_average: "0, 0, 0".into(),
            },
            app_profile: None,
            app_plan: AppPlan::NotRequested,
            queries_skipped: false,
            only_calendar: true,
            workspaces: Vec::new(),
            audit: None,
            calendar: Some(example(&[85])),
            month_view: MonthViewOutcome::NotRun("`--only-calendar` was given.".into()),
            traffic: None,
            sync: None,
        };
        let tables = render_tables(&report);
        for heading in [
            "Workspaces",
            "Query latency",
            "Audit log verification",
            month_view::render::HEADING,
            "Cold start and memory of the app",
        ] {
            assert!(
                tables.contains(&format!(
                    "## {heading}\n\nNot measured: `--only-calendar` was given.\n"
                )),
                "{heading}: {tables}"
            );
        }
        assert!(tables.contains("| `view()` of the year"), "{tables}");
        let document = render_document(&report);
        assert!(document.contains("- **Calendar checks.**"), "{document}");
        assert!(document.contains("'Year-end freeze' has 2"), "{document}");
    }
}
