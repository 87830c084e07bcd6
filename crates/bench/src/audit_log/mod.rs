//! Audit-log verification: `Store::verify_audit` timed over a long chain in a
//! real SQLite file, and once more after one entry in the middle was edited,
//! to show the break is found and how long that takes. A wrong answer (an
//! intact chain reported broken, or an edit missed) fails the harness.

mod entries;
mod fill;

use release_desk_store::{AuditVerification, Store};
use std::time::{Duration, Instant};

use crate::error::{BenchError, Result};
use crate::stats::percentile;
use crate::workspaces::thousands;

pub use fill::ENTRIES_PER_TRANSACTION;

pub const VERIFY_WARMUP: usize = 1;
pub const VERIFY_RUNS: usize = 5;

/// What the audit-log part measured.
#[derive(Debug, Clone)]
pub struct AuditMeasure {
    pub entries: u32,
    /// Generating, sealing and inserting the whole chain.
    pub fill: Duration,
    pub database_bytes: u64,
    /// The timed verifications of the intact chain, in the order taken.
    pub runs: Vec<Duration>,
    pub tamper: TamperDetection,
}

/// Verification after one entry was edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TamperDetection {
    /// The entry that was edited.
    pub seq: i64,
    /// Entries that checked out before the edited one.
    pub entries_checked: u32,
    /// From the call to its result, which names the edited entry.
    pub time: Duration,
}

impl AuditMeasure {
    /// Nearest-rank median of the timed runs, in seconds.
    pub fn median_s(&self) -> Option<f64> {
        percentile(&self.sorted_s(), 50)
    }

    pub fn max_s(&self) -> Option<f64> {
        self.sorted_s().last().copied()
    }

    /// Entries verified per second at the median.
    pub fn entries_per_s(&self) -> Option<f64> {
        self.median_s()
            .filter(|s| *s > 0.0)
            .map(|s| f64::from(self.entries) / s)
    }

    fn sorted_s(&self) -> Vec<f64> {
        let mut s: Vec<f64> = self.runs.iter().map(Duration::as_secs_f64).collect();
        s.sort_by(f64::total_cmp);
        s
    }
}

/// Builds a chain of `entries` entries in a new database, then times its
/// verification and the detection of an edit.
pub async fn measure(entries: u32) -> Result<AuditMeasure> {
    eprintln!(
        "[bench] audit log: sealing and inserting {} entries ({} per transaction)",
        thousands(u64::from(entries)),
        thousands(u64::from(ENTRIES_PER_TRANSACTION))
    );
    let filled = fill::fill(entries).await?;
    eprintln!(
        "    filled in {:.2} s; database {:.1} MiB",
        filled.fill.as_secs_f64(),
        filled.bytes as f64 / (1024.0 * 1024.0)
    );
    let (store, _report) = Store::open(&filled.file)
        .await
        .map_err(BenchError::store("opening the audit database"))?;
    let measured = measure_open(&store, entries).await;
    store.close().await;
    let (runs, tamper) = measured?;
    Ok(AuditMeasure {
        entries,
        fill: filled.fill,
        database_bytes: filled.bytes,
        runs,
        tamper,
    })
}

async fn measure_open(store: &Store, entries: u32) -> Result<(Vec<Duration>, TamperDetection)> {
    eprintln!("    verify_audit(): {VERIFY_WARMUP} warm-up run, then {VERIFY_RUNS} timed");
    for _ in 0..VERIFY_WARMUP {
        let (v, _) = verify(store).await?;
        check_intact(&v, entries)?;
    }
    let mut runs = Vec::with_capacity(VERIFY_RUNS);
    for run in 1..=VERIFY_RUNS {
        let (v, took) = verify(store).await?;
        check_intact(&v, entries)?;
        eprintln!(
            "      run {run}/{VERIFY_RUNS}: {:.3} s, intact, {} entries",
            took.as_secs_f64(),
            thousands(u64::from(v.entries))
        );
        runs.push(took);
    }

    let seq = middle(entries);
    eprintln!("    editing entry {seq} behind the app's back, then verifying once");
    fill::tamper(store, seq).await?;
    let (v, took) = verify(store).await?;
    check_tampered(&v, seq)?;
    eprintln!(
        "      broken at entry {seq}, found in {:.3} s after {} intact entries",
        took.as_secs_f64(),
        thousands(u64::from(v.entries))
    );
    Ok((
        runs,
        TamperDetection {
            seq,
            entries_checked: v.entries,
            time: took,
        },
    ))
}

async fn verify(store: &Store) -> Result<(AuditVerification, Duration)> {
    let started = Instant::now();
    let v = store.verify_audit().await;
    let took = started.elapsed();
    Ok((
        v.map_err(BenchError::store("verifying the audit log"))?,
        took,
    ))
}

/// The entry edited by the tampering run: the middle of the chain, so
/// detection has to read and check half of it first.
pub fn middle(entries: u32) -> i64 {
    i64::from(entries / 2) + 1
}

fn check_intact(v: &AuditVerification, entries: u32) -> Result<()> {
    if v.intact && v.entries == entries && v.head_seq == i64::from(entries) {
        return Ok(());
    }
    Err(BenchError::AuditResult(format!(
        "the untouched chain of {entries} entries should verify as intact with {entries} entries, \
         but verify_audit() gave intact = {}, entries = {}, head_seq = {}: {}",
        v.intact, v.entries, v.head_seq, v.message
    )))
}

fn check_tampered(v: &AuditVerification, seq: i64) -> Result<()> {
    if !v.intact && v.first_bad == Some(seq) {
        return Ok(());
    }
    Err(BenchError::AuditResult(format!(
        "after editing entry {seq}, verify_audit() should report the chain broken at entry {seq}, \
         but it gave intact = {}, first_bad = {:?}: {}",
        v.intact, v.first_bad, v.message
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verification(intact: bool, entries: u32, first_bad: Option<i64>) -> AuditVerification {
        AuditVerification {
            intact,
            entries,
            head_seq: 1_000,
            head_hash: None,
            first_bad,
            problem: None,
            message: String::new(),
        }
    }

    fn measure_of(runs_ms: &[u64]) -> AuditMeasure {
        AuditMeasure {
            entries: 1_000_000,
            fill: Duration::from_secs(20),
            database_bytes: 0,
            runs: runs_ms.iter().copied().map(Duration::from_millis).collect(),
            tamper: TamperDetection {
                seq: 500_001,
                entries_checked: 500_000,
                time: Duration::from_millis(400),
            },
        }
    }

    #[test]
    fn median_max_and_rate_come_from_the_timed_runs() {
        let m = measure_of(&[900, 500, 1_000, 800, 700]);
        assert_eq!(m.median_s(), Some(0.8));
        assert_eq!(m.max_s(), Some(1.0));
        assert_eq!(m.entries_per_s(), Some(1_250_000.0));
        assert_eq!(measure_of(&[]).median_s(), None);
    }

    #[test]
    fn the_middle_entry_is_edited() {
        assert_eq!(middle(1_000_000), 500_001);
        assert_eq!(middle(1), 1);
    }

    #[test]
    fn an_intact_answer_must_count_every_entry() {
        assert!(check_intact(&verification(true, 1_000, None), 1_000).is_ok());
        assert!(check_intact(&verification(true, 999, None), 1_000).is_err());
        assert!(check_intact(&verification(false, 1_000, Some(3)), 1_000).is_err());
    }

    #[test]
    fn a_tampered_answer_must_name_the_edited_entry() {
        assert!(check_tampered(&verification(false, 500, Some(501)), 501).is_ok());
        assert!(check_tampered(&verification(false, 499, Some(500)), 501).is_err());
        assert!(check_tampered(&verification(true, 1_000, None), 501).is_err());
    }

    /// The whole path on a small chain spanning two transactions, untimed: the
    /// runtime SQL here is covered by this test rather than compile-checked.
    #[tokio::test]
    async fn a_small_chain_verifies_and_its_edit_is_found() {
        let entries = ENTRIES_PER_TRANSACTION + 7;
        let m = measure(entries).await.expect("the harness runs");
        assert_eq!(m.entries, entries);
        assert_eq!(m.runs.len(), VERIFY_RUNS);
        assert_eq!(m.tamper.seq, middle(entries));
        assert_eq!(i64::from(m.tamper.entries_checked), m.tamper.seq - 1);
        assert!(m.database_bytes > 0);
    }
}
