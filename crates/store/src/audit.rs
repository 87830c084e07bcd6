//! The audit log in SQLite: appending inside the caller's transaction, reading
//! a subject's history, and verifying the whole chain by streaming it.

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use release_desk_audit::{
    seal, ChainBreak, ChainHash, EntryDraft, SealedEntry, StoredEntry, Verifier,
};
use serde::Serialize;
use specta::Type;
use sqlx::{Row, Sqlite, Transaction};

use crate::error::Result;
use crate::time::from_ms;
use crate::Store;

/// An audit entry as the UI and evidence packs show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    #[specta(type = u32)]
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    /// JSON text as stored (and hashed).
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The result of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditVerification {
    pub intact: bool,
    /// Entries checked before the first break (all of them when intact).
    pub entries: u32,
    #[specta(type = u32)]
    pub head_seq: i64,
    pub head_hash: Option<String>,
    #[specta(type = Option<u32>)]
    pub first_bad: Option<i64>,
    pub problem: Option<ChainBreak>,
    pub message: String,
}

/// Appends one entry to the chain inside `tx`. The caller's transaction must
/// have been begun with `BEGIN IMMEDIATE` (see [`Store::write`]) so that no
/// other writer can read the same head and fork the chain.
pub(crate) async fn append(
    tx: &mut Transaction<'_, Sqlite>,
    draft: EntryDraft,
) -> sqlx::Result<SealedEntry> {
    let head: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&mut **tx)
            .await?;
    let head = head.and_then(|(seq, hash)| ChainHash::from_slice(&hash).map(|h| (seq, h)));
    let entry = seal(head, draft);
    sqlx::query(
        "INSERT INTO audit_log (seq, at_ms, actor, action, subject, detail, prev_hash, hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(entry.seq)
    .bind(entry.at_ms)
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.subject)
    .bind(&entry.detail)
    .bind(&entry.prev_hash.0[..])
    .bind(&entry.hash.0[..])
    .execute(&mut **tx)
    .await?;
    Ok(entry)
}

fn entry_from(r: &sqlx::sqlite::SqliteRow) -> AuditEntry {
    AuditEntry {
        seq: r.get(0),
        at: from_ms(r.get(1)),
        actor: r.get(2),
        action: r.get(3),
        subject: r.get(4),
        detail: r.get(5),
        prev_hash: hex::encode(r.get::<Vec<u8>, _>(6)),
        hash: hex::encode(r.get::<Vec<u8>, _>(7)),
    }
}

impl Store {
    /// Every entry about one subject (e.g. `change:12`), oldest first.
    pub async fn audit_of(&self, subject: &str) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT seq, at_ms, actor, action, subject, detail, prev_hash, hash
             FROM audit_log WHERE subject = ? ORDER BY seq",
        )
        .bind(subject)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(rows.iter().map(entry_from).collect())
    }

    /// The newest entries of the whole log, newest first.
    pub async fn recent_audit(&self, limit: u32) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT seq, at_ms, actor, action, subject, detail, prev_hash, hash
             FROM audit_log ORDER BY seq DESC LIMIT ?",
        )
        .bind(i64::from(limit.min(1000)))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(rows.iter().map(entry_from).collect())
    }

    /// Checks every entry in order, streaming rows so memory stays flat however
    /// long the log is. Reads one snapshot, so concurrent appends don't race it.
    pub async fn verify_audit(&self) -> Result<AuditVerification> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.fail(e))?;
        let mut tx = sqlx::Connection::begin(&mut *conn)
            .await
            .map_err(|e| self.fail(e))?;
        let head: Option<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.fail(e))?;
        let mut verifier = Verifier::new();
        let mut broken = None;
        {
            let mut rows = sqlx::query(
                "SELECT seq, at_ms, actor, action, subject, detail, prev_hash, hash
                 FROM audit_log ORDER BY seq",
            )
            .fetch(&mut *tx);
            while let Some(r) = rows.try_next().await.map_err(|e| self.fail(e))? {
                let entry = StoredEntry {
                    seq: r.get(0),
                    at_ms: r.get(1),
                    actor: r.get(2),
                    action: r.get(3),
                    subject: r.get(4),
                    detail: r.get(5),
                    prev_hash: r.get(6),
                    hash: r.get(7),
                };
                if let Err(b) = verifier.push(&entry) {
                    broken = Some(b);
                    break;
                }
            }
        }
        tx.commit().await.map_err(|e| self.fail(e))?;
        let recorded = head.map(|(seq, hash)| {
            (
                seq,
                ChainHash::from_slice(&hash).unwrap_or(ChainHash::GENESIS),
            )
        });
        let verified = verifier.entries_checked();
        let result = match broken {
            Some(b) => Err(b),
            None => verifier.finish(recorded),
        };
        Ok(match result {
            Ok(head) => AuditVerification {
                intact: true,
                entries: u32::try_from(head.entries).unwrap_or(u32::MAX),
                head_seq: head.last_seq,
                head_hash: (head.entries > 0).then(|| head.hash.hex()),
                first_bad: None,
                problem: None,
                message: format!(
                    "The audit log is intact: {} entries, each linked to the one before.",
                    head.entries
                ),
            },
            Err(b) => AuditVerification {
                intact: false,
                entries: u32::try_from(verified).unwrap_or(u32::MAX),
                head_seq: recorded.map_or(0, |(s, _)| s),
                head_hash: recorded.map(|(_, h)| h.hex()),
                first_bad: Some(b.first_bad()),
                message: format!(
                    "The audit log has been tampered with: {b}. Keep this database file as evidence and restore the log from a backup."
                ),
                problem: Some(b),
            },
        })
    }
}
