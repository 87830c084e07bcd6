//! Query latency: the two queries the dashboard screen runs, timed against a
//! real SQLite file through the same `Store` the app uses.

use release_desk_domain::{Slug, WorkspaceSeed};
use release_desk_store::{HistoryPage, Store};
use std::path::Path;
use std::time::Instant;

use crate::error::{BenchError, Result};
use crate::stats::Summary;

pub const DASHBOARD_WARMUP: usize = 5;
pub const DASHBOARD_ITERATIONS: usize = 300;
pub const HISTORY_WARMUP: usize = 20;
pub const HISTORY_ITERATIONS: usize = 2_000;
/// Fixed so that every run of the benchmark visits the same cells.
pub const CELL_SEED: u64 = 0x5eed_ce11;

/// The latency of one query over one workspace.
#[derive(Debug, Clone)]
pub struct QueryLatency {
    pub query: &'static str,
    pub summary: Summary,
    /// What one call returns, so a reader can judge the work done.
    pub returns: String,
}

/// Opens the existing database at `file` and times both queries.
pub async fn measure(file: &Path, seed: &WorkspaceSeed) -> Result<Vec<QueryLatency>> {
    let (store, _report) = Store::open(file)
        .await
        .map_err(BenchError::store("opening the benchmark database"))?;
    let measured = measure_open(&store, seed).await;
    store.close().await;
    measured
}

async fn measure_open(store: &Store, seed: &WorkspaceSeed) -> Result<Vec<QueryLatency>> {
    Ok(vec![
        dashboard(store).await?,
        cell_history(store, seed).await?,
    ])
}

async fn dashboard(store: &Store) -> Result<QueryLatency> {
    eprintln!(
        "    dashboard(): {DASHBOARD_WARMUP} warm-up calls, then {DASHBOARD_ITERATIONS} timed"
    );
    let mut cells = 0;
    for _ in 0..DASHBOARD_WARMUP {
        let d = store
            .dashboard()
            .await
            .map_err(BenchError::store("reading the dashboard"))?;
        cells = d.rows.iter().map(|r| r.cells.len()).sum::<usize>();
    }
    let mut samples = Vec::with_capacity(DASHBOARD_ITERATIONS);
    for _ in 0..DASHBOARD_ITERATIONS {
        let started = Instant::now();
        let d = store.dashboard().await;
        samples.push(started.elapsed().as_secs_f64() * 1_000.0);
        d.map_err(BenchError::store("reading the dashboard"))?;
    }
    let latency = QueryLatency {
        query: "dashboard()",
        summary: summarise(samples, "dashboard")?,
        returns: format!("{cells} cells"),
    };
    print_summary(&latency);
    Ok(latency)
}

async fn cell_history(store: &Store, seed: &WorkspaceSeed) -> Result<QueryLatency> {
    eprintln!("    cell_history(): {HISTORY_WARMUP} warm-up calls, then {HISTORY_ITERATIONS} timed over random cells");
    let services: Vec<&Slug> = seed.services.iter().map(|s| &s.key).collect();
    let environments: Vec<&Slug> = seed.path_to_live.stages().iter().map(|e| &e.key).collect();
    if services.is_empty() || environments.is_empty() {
        return Err(BenchError::EmptyWorkspace(seed.name.clone()));
    }
    let mut rng = fastrand::Rng::with_seed(CELL_SEED);
    let page = HistoryPage::default();
    let mut pick = || {
        (
            services[rng.usize(..services.len())],
            environments[rng.usize(..environments.len())],
        )
    };

    for _ in 0..HISTORY_WARMUP {
        let (service, environment) = pick();
        store
            .cell_history(service, environment, &page)
            .await
            .map_err(BenchError::store("reading a cell's history"))?;
    }
    let mut samples = Vec::with_capacity(HISTORY_ITERATIONS);
    let mut entries = 0usize;
    for _ in 0..HISTORY_ITERATIONS {
        let (service, environment) = pick();
        let started = Instant::now();
        let history = store.cell_history(service, environment, &page).await;
        samples.push(started.elapsed().as_secs_f64() * 1_000.0);
        entries += history
            .map_err(BenchError::store("reading a cell's history"))?
            .entries
            .len();
    }
    let latency = QueryLatency {
        query: "cell_history()",
        summary: summarise(samples, "cell_history")?,
        returns: format!(
            "first page, {:.1} entries on average",
            entries as f64 / HISTORY_ITERATIONS as f64
        ),
    };
    print_summary(&latency);
    Ok(latency)
}

fn summarise(samples: Vec<f64>, what: &str) -> Result<Summary> {
    // Only reachable if the iteration constants were set to zero.
    Summary::of(samples).ok_or_else(|| BenchError::NoSamples(what.to_owned()))
}

fn print_summary(latency: &QueryLatency) {
    let s = &latency.summary;
    eprintln!(
        "      p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} samples; {})",
        s.p50, s.p99, s.max, s.count, latency.returns
    );
}
