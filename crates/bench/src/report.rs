//! BENCHMARKS.md: the machine, a table per measure with its target and an
//! honest status, and how each figure was taken.

use chrono::{DateTime, Utc};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use crate::app::{AppMeasure, READY_LINE, SETTLE, TERM_GRACE};
use crate::machine::Machine;
use crate::queries::{
    QueryLatency, DASHBOARD_ITERATIONS, DASHBOARD_WARMUP, HISTORY_ITERATIONS, HISTORY_WARMUP,
};

pub const COLD_START_TARGET_MS: f64 = 500.0;
pub const PSS_TARGET_MIB: f64 = 200.0;
pub const QUERY_P99_TARGET_MS: f64 = 10.0;
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
    pub workspaces: Vec<WorkspaceResult>,
}

fn status(met: bool) -> &'static str {
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
    workspaces_table(&mut out, report);
    queries_table(&mut out, report);
    app_tables(&mut out, report);
    out
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
- **Cold start.** The app binary is started with `RELEASE_DESK_BENCH=1`, `RELEASE_DESK_DATA_DIR` set to \
the prepared data folder and `RELEASE_DESK_LOG_DIR` beside it, under Xvfb. Cold start is the time from \
just before spawning the process to reading the line `{READY_LINE} … ms` on its stdout, which the app \
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
- **Status.** \"met\" means the figure is below its target on this machine: queries p99 < \
{QUERY_P99_TARGET_MS:.0} ms, cold start median < {COLD_START_TARGET_MS:.0} ms, PSS median < \
{PSS_TARGET_MIB:.0} MiB.
",
        settle = SETTLE.as_secs(),
        grace = TERM_GRACE.as_secs(),
    )
}
