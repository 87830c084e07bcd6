//! The two workspaces measured, and a data folder holding each one loaded into
//! a real SQLite file, laid out as the app expects (`data/` and `logs/`).

use chrono::{DateTime, Utc};
use release_desk_demo::{demo_workspace, generated_workspace};
use release_desk_domain::WorkspaceSeed;
use release_desk_store::{LoadSummary, Store, DATABASE_FILE};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tempfile::TempDir;

use crate::error::{BenchError, Result};

/// The large workspace: a big organisation with two years of history.
pub const GENERATED_SERVICES: usize = 50;
pub const GENERATED_STAGES: usize = 8;
pub const GENERATED_DEPLOYMENTS: usize = 100_000;

/// Which workspace to build; the seed itself is built only when needed
/// because the generated one takes a while and a lot of memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkspaceKind {
    Demo,
    Generated,
}

impl WorkspaceKind {
    pub const ALL: [WorkspaceKind; 2] = [WorkspaceKind::Demo, WorkspaceKind::Generated];

    pub fn label(self) -> &'static str {
        match self {
            WorkspaceKind::Demo => "demo",
            WorkspaceKind::Generated => "generated",
        }
    }

    /// How many deployments were asked of the generator, to show beside
    /// what it produced; the demo has the count it has.
    pub fn requested_deployments(self) -> Option<usize> {
        match self {
            WorkspaceKind::Demo => None,
            WorkspaceKind::Generated => Some(GENERATED_DEPLOYMENTS),
        }
    }

    pub fn seed(self, now: DateTime<Utc>) -> WorkspaceSeed {
        match self {
            WorkspaceKind::Demo => demo_workspace(now),
            WorkspaceKind::Generated => generated_workspace(
                GENERATED_SERVICES,
                GENERATED_STAGES,
                GENERATED_DEPLOYMENTS,
                now,
            ),
        }
    }
}

/// A temporary data folder with the workspace loaded and the store closed, so
/// whoever opens it next (the query benchmark or the app) finds an existing
/// workspace. The folder is deleted when this is dropped.
pub struct PreparedWorkspace {
    _root: TempDir,
    pub data_dir: PathBuf,
    pub logs_dir: PathBuf,
    /// How long `load_workspace` took: one transaction over the whole seed.
    pub load: Duration,
    pub summary: LoadSummary,
}

impl PreparedWorkspace {
    pub fn database_file(&self) -> PathBuf {
        self.data_dir.join(DATABASE_FILE)
    }
}

pub async fn prepare(seed: &WorkspaceSeed, now: DateTime<Utc>) -> Result<PreparedWorkspace> {
    let root = tempfile::Builder::new()
        .prefix("release-desk-bench-")
        .tempdir()
        .map_err(BenchError::TempDir)?;
    let data_dir = root.path().join("data");
    let logs_dir = root.path().join("logs");
    std::fs::create_dir_all(&logs_dir).map_err(BenchError::TempDir)?;

    let (store, _report) = Store::open(&data_dir.join(DATABASE_FILE))
        .await
        .map_err(BenchError::store("creating the database"))?;
    let started = Instant::now();
    let loaded = store.load_workspace(seed, now).await;
    let load = started.elapsed();
    // Close even when loading failed, so the file is not left half-open.
    store.close().await;
    let summary = loaded.map_err(BenchError::store(format!(
        "loading the workspace '{}'",
        seed.name
    )))?;

    Ok(PreparedWorkspace {
        _root: root,
        data_dir,
        logs_dir,
        load,
        summary,
    })
}

/// "9 services × 5 environments, 1,234 deployments", noting a request the
/// generator did not meet exactly so the figures are read against the real size.
pub fn describe(summary: &LoadSummary, requested_deployments: Option<usize>) -> String {
    let mut text = format!(
        "{} services × {} environments, {} deployments",
        summary.services,
        summary.environments,
        thousands(u64::from(summary.deployments))
    );
    if let Some(requested) = requested_deployments {
        if requested != summary.deployments as usize {
            text.push_str(&format!(" ({} requested)", thousands(requested as u64)));
        }
    }
    text
}

/// Groups digits in threes with commas, for counts a reader scans.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(deployments: u32) -> LoadSummary {
        LoadSummary {
            services: 50,
            environments: 8,
            artefacts: 0,
            deployments,
        }
    }

    #[test]
    fn describe_notes_a_shortfall_from_the_request() {
        assert_eq!(
            describe(&summary(84_049), Some(100_000)),
            "50 services × 8 environments, 84,049 deployments (100,000 requested)"
        );
        assert_eq!(
            describe(&summary(100_000), Some(100_000)),
            "50 services × 8 environments, 100,000 deployments"
        );
        assert_eq!(
            describe(&summary(440), None),
            "50 services × 8 environments, 440 deployments"
        );
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
