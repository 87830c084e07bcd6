//! `make bench`: measures query latency on the demo and a large generated
//! workspace, the verification of a long audit chain, the release calendar
//! (expansion, conflicts, the next free slot; pure, in memory), and (given the
//! built app) its cold start and memory and its calendar's month view drawing
//! 2,000 events, then writes BENCHMARKS.md. Progress goes to stderr, the
//! result tables to stdout. Targets not met are results (exit 0); only a
//! failure of the harness itself (a store error, an app that never renders
//! or draws other than the data prepared, a wrong answer from the audit log
//! or the calendar) exits non-zero.

mod app;
mod audit_log;
mod calendar;
mod error;
mod machine;
mod month_view;
mod procfs;
mod queries;
mod report;
mod stats;
mod sync;
mod traffic;
mod workspaces;

use chrono::Utc;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crate::app::{AppMeasure, AppTarget};
use crate::error::{BenchError, Result};
use crate::machine::Machine;
use crate::month_view::MonthViewOutcome;
use crate::report::{AppOutcome, AppPlan, Report, WorkspaceResult};
use crate::workspaces::{describe, WorkspaceKind};

#[derive(Debug, Parser)]
#[command(
    name = "release-desk-bench",
    about = "Measure Release Desk and write BENCHMARKS.md"
)]
struct Cli {
    /// The built app binary; cold start, memory and the calendar's month view
    /// are measured only when given.
    #[arg(long, value_name = "PATH")]
    app: Option<PathBuf>,

    /// The build profile of that binary (e.g. "release"), for the report.
    #[arg(long, value_name = "NAME")]
    app_profile: Option<String>,

    /// How many times to start the app per workspace, and on the month view.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    runs: u32,

    /// Where to write the report.
    #[arg(long, value_name = "PATH", default_value = "BENCHMARKS.md")]
    out: PathBuf,

    /// Leave out the query latency part.
    #[arg(long)]
    skip_queries: bool,

    /// Leave out the audit-log verification part.
    #[arg(long)]
    skip_audit: bool,

    /// Leave out the release calendar part (pure, in memory; not the month view in the app).
    #[arg(long, conflicts_with = "only_calendar")]
    skip_calendar: bool,

    /// Leave out the release calendar's month view in the app.
    #[arg(long)]
    skip_calendar_app: bool,

    /// The `release-desk-sample-service` binary; the zero-downtime switch and
    /// rollback under load are measured only when given.
    #[arg(long, value_name = "PATH")]
    sample_service: Option<PathBuf>,

    /// Leave out the sync from a fake GitHub.
    #[arg(long)]
    skip_sync: bool,

    /// Leave out the zero-downtime measurement.
    #[arg(long)]
    skip_traffic: bool,

    /// Measure the release calendar alone: no workspaces, queries, audit log or app.
    #[arg(long, conflicts_with_all = ["app", "skip_queries", "skip_audit", "skip_calendar_app"])]
    only_calendar: bool,

    /// How many entries the audit chain to verify holds (the target is for 1,000,000).
    #[arg(long, value_name = "N", default_value_t = 1_000_000, value_parser = clap::value_parser!(u32).range(1..))]
    audit_entries: u32,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(Completion::Clean) => ExitCode::SUCCESS,
        Ok(Completion::AppFailed) => {
            eprintln!(
                "release-desk-bench: error: the app could not be measured (see above and the report at {})",
                cli.out.display()
            );
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("release-desk-bench: error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The report was written; whether every measurement could be taken.
enum Completion {
    Clean,
    AppFailed,
}

fn run(cli: &Cli) -> Result<Completion> {
    let app_plan = plan_app(cli)?;
    if let AppPlan::Skipped(reason) = &app_plan {
        eprintln!("[bench] skipping the app: {reason}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(BenchError::Runtime)?;

    let machine = Machine::detect();
    eprintln!(
        "[bench] {} ({} logical cores, {}), {}",
        machine.cpu, machine.logical_cores, machine.ram, machine.rustc
    );
    let now = Utc::now();
    // Pure and quick, so first: a wrong answer stops the harness before the
    // minutes the workspaces take.
    let calendar = if cli.skip_calendar {
        None
    } else {
        Some(calendar::measure()?)
    };
    let mut results = Vec::new();
    if !cli.only_calendar {
        for kind in WorkspaceKind::ALL {
            results.push(measure_workspace(cli, &runtime, &app_plan, kind, now)?);
        }
    }
    let month_view = measure_month_view(cli, &runtime, &app_plan, now)?;
    let audit = if cli.skip_audit || cli.only_calendar {
        None
    } else {
        Some(runtime.block_on(audit_log::measure(cli.audit_entries))?)
    };

    let traffic = match (&cli.sample_service, cli.skip_traffic || cli.only_calendar) {
        (Some(binary), false) => {
            eprintln!("[bench] zero downtime: switch and rollback under load");
            let binary = std::path::absolute(binary).unwrap_or_else(|_| binary.clone());
            Some(runtime.block_on(traffic::measure(&binary, 5))?)
        }
        _ => None,
    };

    let sync = if cli.skip_sync || cli.only_calendar {
        None
    } else {
        eprintln!(
            "[bench] sync: {} repositories × {} environments from a fake GitHub with {} ms latency",
            sync::REPOSITORIES,
            sync::ENVIRONMENTS,
            sync::LATENCY.as_millis()
        );
        Some(runtime.block_on(sync::measure(now))?)
    };

    let report = Report {
        date: now,
        machine,
        app_profile: cli.app_profile.clone(),
        app_plan,
        queries_skipped: cli.skip_queries,
        only_calendar: cli.only_calendar,
        workspaces: results,
        audit,
        calendar,
        month_view,
        traffic,
        sync,
    };
    std::fs::write(&cli.out, report::render_document(&report)).map_err(|source| {
        BenchError::WriteReport {
            path: cli.out.clone(),
            source,
        }
    })?;
    print!("{}", report::render_tables(&report));
    eprintln!("[bench] wrote {}", cli.out.display());

    let failed = report
        .workspaces
        .iter()
        .any(|w| matches!(w.app, AppOutcome::Failed(_)))
        || matches!(report.month_view, MonthViewOutcome::Failed { .. });
    Ok(if failed {
        Completion::AppFailed
    } else {
        Completion::Clean
    })
}

/// Checks the app part can run before spending minutes on the queries.
fn plan_app(cli: &Cli) -> Result<AppPlan> {
    let Some(binary) = &cli.app else {
        return Ok(AppPlan::NotRequested);
    };
    if !binary.is_file() {
        return Err(BenchError::MissingApp(binary.clone()));
    }
    if std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
        return Ok(AppPlan::Skipped(
            "DISPLAY is not set, so the app cannot open a window. Run under Xvfb (`xvfb-run -a`, as `make bench` does)."
                .to_owned(),
        ));
    }
    // An absolute path keeps working whatever the app's working folder is.
    let binary = std::path::absolute(binary).unwrap_or_else(|_| binary.clone());
    Ok(AppPlan::Run { binary })
}

fn measure_workspace(
    cli: &Cli,
    runtime: &tokio::runtime::Runtime,
    app_plan: &AppPlan,
    kind: WorkspaceKind,
    now: chrono::DateTime<Utc>,
) -> Result<WorkspaceResult> {
    let label = kind.label();
    eprintln!("[bench] {label}: building the workspace");
    let started = Instant::now();
    let seed = kind.seed(now);
    eprintln!(
        "[bench] {label}: built {} deployments in {:.2} s; loading it into SQLite",
        seed.deployments.len(),
        started.elapsed().as_secs_f64()
    );
    let prepared = runtime.block_on(workspaces::prepare(&seed, now))?;
    let contents = describe(&prepared.summary, kind.requested_deployments());
    eprintln!(
        "[bench] {label}: {contents}, loaded in {:.2} s",
        prepared.load.as_secs_f64()
    );

    let queries = if cli.skip_queries {
        None
    } else {
        eprintln!("[bench] {label}: query latency");
        Some(runtime.block_on(queries::measure(&prepared.database_file(), &seed))?)
    };
    // The seed of the large workspace is big; the app does not need it.
    drop(seed);

    let app = match app_plan {
        AppPlan::Run { binary } => {
            let target = AppTarget {
                binary,
                label: &format!("workspace '{label}'"),
                data_dir: &prepared.data_dir,
                logs_dir: &prepared.logs_dir,
                env: &[],
                ready_line: app::DASHBOARD_LINE,
            };
            measure_app(label, &target, cli.runs as usize)
        }
        AppPlan::NotRequested | AppPlan::Skipped(_) => AppOutcome::NotRun,
    };
    Ok(WorkspaceResult {
        label,
        contents,
        load: prepared.load,
        queries,
        app,
    })
}

/// Runs the app `runs` times. A failed run ends this workspace's measurement
/// and is recorded for the report rather than aborting the whole harness, so
/// the figures already taken are not lost.
fn measure_app(workspace: &str, target: &AppTarget<'_>, runs: usize) -> AppOutcome {
    let mut measured = Vec::with_capacity(runs);
    for run in 1..=runs {
        eprintln!("[bench] {workspace}: app run {run}/{runs}");
        match app::measure_cold_start(target, run) {
            Ok(result) => {
                eprintln!(
                    "    cold start {:.0} ms, PSS {:.1} MiB over {} processes",
                    result.cold_start.as_secs_f64() * 1_000.0,
                    result.total_pss_bytes() as f64 / (1024.0 * 1024.0),
                    result.processes.len()
                );
                measured.push(result);
            }
            Err(err) => {
                eprintln!("    failed: {err}");
                return AppOutcome::Failed(err.to_string());
            }
        }
    }
    AppOutcome::Measured(AppMeasure { runs: measured })
}

/// Prepares the month (a store error there stops the harness) and starts
/// the app on it; a run that fails or draws other than the data prepared is
/// recorded for the report.
fn measure_month_view(
    cli: &Cli,
    runtime: &tokio::runtime::Runtime,
    app_plan: &AppPlan,
    now: chrono::DateTime<Utc>,
) -> Result<MonthViewOutcome> {
    let binary = match app_plan {
        _ if cli.only_calendar => {
            return Ok(MonthViewOutcome::NotRun(
                "`--only-calendar` was given.".to_owned(),
            ))
        }
        _ if cli.skip_calendar_app => {
            return Ok(MonthViewOutcome::NotRun(
                "`--skip-calendar-app` was given.".to_owned(),
            ))
        }
        AppPlan::NotRequested => {
            return Ok(MonthViewOutcome::NotRun(
                "no app binary was given (`--app PATH`).".to_owned(),
            ))
        }
        AppPlan::Skipped(reason) => return Ok(MonthViewOutcome::NotRun(reason.clone())),
        AppPlan::Run { binary } => binary,
    };
    eprintln!(
        "[bench] month view: preparing {} events in a month {} ahead",
        month_view::EVENTS,
        month_view::MONTHS_AHEAD
    );
    let started = Instant::now();
    let month = runtime.block_on(month_view::prepare(now))?;
    let c = &month.contents;
    eprintln!(
        "    {}: {} – {} UTC, {} rules, {} window and {} freeze occurrences, {} changes ({} with a conflict in their way); \
         {} raised in {:.2} s, all prepared in {:.2} s",
        c.month.format("%B %Y"),
        c.from.format("%Y-%m-%d"),
        c.to.format("%Y-%m-%d"),
        c.rules,
        c.counts.windows,
        c.counts.freezes,
        c.counts.changes,
        c.blocked,
        c.raised,
        c.raise_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(month_view::measure(binary, &month, cli.runs as usize))
}
