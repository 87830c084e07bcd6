//! A new database holding a long audit chain, written through the real schema
//! (its triggers check the order of every entry and move the recorded head),
//! and the one edit the tampering measurement makes behind the app's back.

use release_desk_audit::seal;
use release_desk_store::{Store, DATABASE_FILE};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tempfile::TempDir;

use crate::audit_log::entries::draft;
use crate::error::{BenchError, Result};

/// Entries per transaction: large enough that commits cost little, small
/// enough that the write-ahead log stays a few MiB.
pub const ENTRIES_PER_TRANSACTION: u32 = 10_000;

const INSERT: &str =
    "INSERT INTO audit_log (seq, at_ms, actor, action, subject, detail, prev_hash, hash)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

/// A closed database file holding the chain, in a temporary folder deleted
/// when this is dropped.
pub struct FilledLog {
    _root: TempDir,
    pub file: PathBuf,
    /// Generating, sealing and inserting every entry.
    pub fill: Duration,
    /// The database file's size once closed (the log checkpointed into it).
    pub bytes: u64,
}

/// Creates a store in a new temporary folder and appends `entries` entries.
pub async fn fill(entries: u32) -> Result<FilledLog> {
    let root = tempfile::Builder::new()
        .prefix("release-desk-bench-audit-")
        .tempdir()
        .map_err(BenchError::TempDir)?;
    let file = root.path().join(DATABASE_FILE);
    let (store, _report) = Store::open(&file)
        .await
        .map_err(BenchError::store("creating the audit database"))?;
    let started = Instant::now();
    let filled = append_chain(&store, entries).await;
    let fill = started.elapsed();
    // Close even when filling failed, so the file is not left half-open.
    store.close().await;
    filled?;
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    Ok(FilledLog {
        _root: root,
        file,
        fill,
        bytes,
    })
}

async fn append_chain(store: &Store, entries: u32) -> Result<()> {
    let mut head = None;
    let mut index: u64 = 0;
    let total = u64::from(entries);
    while index < total {
        let end = (index + u64::from(ENTRIES_PER_TRANSACTION)).min(total);
        let mut tx = store
            .pool()
            .begin()
            .await
            .map_err(BenchError::sql("beginning an audit transaction"))?;
        for i in index..end {
            let e = seal(head, draft(i));
            // One SQL text, so sqlx prepares it once per connection and
            // reuses the statement for every row.
            sqlx::query(INSERT)
                .bind(e.seq)
                .bind(e.at_ms)
                .bind(&e.actor)
                .bind(&e.action)
                .bind(&e.subject)
                .bind(&e.detail)
                .bind(&e.prev_hash.0[..])
                .bind(&e.hash.0[..])
                .execute(&mut *tx)
                .await
                // A closure, so the message is only formatted on failure.
                .map_err(|source| BenchError::Sql {
                    during: format!("appending audit entry {}", e.seq),
                    source,
                })?;
            head = Some((e.seq, e.hash));
        }
        tx.commit()
            .await
            .map_err(BenchError::sql("committing audit entries"))?;
        index = end;
    }
    Ok(())
}

/// Edits entry `seq` as someone with the file and a SQLite shell could. The
/// trigger that stops the app from editing the log is dropped first; this
/// database is a throwaway copy, deleted with its folder.
pub async fn tamper(store: &Store, seq: i64) -> Result<()> {
    sqlx::query("DROP TRIGGER audit_log_is_not_edited")
        .execute(store.pool())
        .await
        .map_err(BenchError::sql("dropping the audit log's edit trigger"))?;
    let edited = sqlx::query("UPDATE audit_log SET actor = 'Mallory' WHERE seq = ?")
        .bind(seq)
        .execute(store.pool())
        .await
        .map_err(BenchError::sql(format!("editing audit entry {seq}")))?;
    if edited.rows_affected() != 1 {
        return Err(BenchError::AuditResult(format!(
            "tampering with entry {seq} changed {} rows instead of one",
            edited.rows_affected()
        )));
    }
    Ok(())
}
