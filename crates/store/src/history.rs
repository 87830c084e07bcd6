//! The deployment history of one dashboard cell, newest first, a page at a time.

use chrono::{DateTime, Utc};
use release_desk_domain::{Digest, Leg, Outcome, Slug};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::error::{Result, StoreError};
use crate::records::outcome;
use crate::row::RowExt;
use crate::time::{from_ms, to_ms};
use crate::workspace::count;
use crate::Store;

/// Which page to read: the first, or the one after the last entry seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPage {
    /// The `startedAt` and `id` of the last entry of the previous page.
    pub after: Option<(DateTime<Utc>, u32)>,
    /// At most this many entries (1–500; default 100).
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CellHistory {
    pub service: Slug,
    pub environment: Slug,
    pub total: u32,
    pub entries: Vec<HistoryEntry>,
    /// Whether another page follows this one.
    pub more: bool,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub id: u32,
    pub artefact_name: String,
    pub version: String,
    pub digest: Digest,
    pub source_commit: String,
    pub build_url: Option<String>,
    pub signed: bool,
    pub leg: Option<Leg>,
    pub actor: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// How long it took, for finished deployments.
    pub duration_ms: Option<u32>,
    pub outcome: Outcome,
    pub failure_reason: Option<String>,
    /// The connection it was synced from; `None` for the desk's own.
    pub source: Option<String>,
    /// The provider's page for it (a workflow run).
    pub link: Option<String>,
    /// False when the provider named only a version: the digest shown is
    /// the desk's build of that version, not one the provider confirmed.
    pub digest_confirmed: bool,
}

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 500;

impl Store {
    pub async fn cell_history(
        &self,
        service: &Slug,
        environment: &Slug,
        page: &HistoryPage,
    ) -> Result<CellHistory> {
        let ids = sqlx::query(
            "SELECT (SELECT id FROM services WHERE key = ?), (SELECT id FROM environments WHERE key = ?)",
        )
        .bind(service.as_str())
        .bind(environment.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        let ids = ids.fields("a service or environment id");
        let service_id: i64 = ids
            .opt(0)?
            .ok_or_else(|| StoreError::UnknownService(service.to_string()))?;
        let environment_id: i64 = ids
            .opt(1)?
            .ok_or_else(|| StoreError::UnknownEnvironment(environment.to_string()))?;

        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM deployments WHERE service_id = ? AND environment_id = ?",
        )
        .bind(service_id)
        .bind(environment_id)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;

        let limit = page.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        // Keyset pagination on (started_at, id): stable while new deployments
        // arrive, and an index range scan however deep the page.
        let (after_ms, after_id) = page
            .after
            .map(|(t, id)| (to_ms(t), i64::from(id)))
            .unwrap_or((i64::MAX, i64::MAX));
        let rows = sqlx::query(
            "SELECT d.id, a.name, a.version, a.digest, a.source_commit, a.build_url, a.signature IS NOT NULL,
                    d.leg, d.actor, d.started_at_ms, d.finished_at_ms, d.outcome, d.failure_reason,
                    c.name, d.link, d.digest_confirmed
             FROM deployments d JOIN artefacts a ON a.id = d.artefact_id
             LEFT JOIN connections c ON c.id = d.connection_id
             WHERE d.service_id = ? AND d.environment_id = ?
               AND (d.started_at_ms < ? OR (d.started_at_ms = ? AND d.id < ?))
             ORDER BY d.started_at_ms DESC, d.id DESC
             LIMIT ?",
        )
        .bind(service_id)
        .bind(environment_id)
        .bind(after_ms)
        .bind(after_ms)
        .bind(after_id)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;

        let more = rows.len() > limit as usize;
        let mut entries = Vec::with_capacity(rows.len().min(limit as usize));
        for r in rows.iter().take(limit as usize) {
            let r = r.fields("a deployment");
            let started: i64 = r.col(9)?;
            let finished: Option<i64> = r.opt(10)?;
            entries.push(HistoryEntry {
                id: count(r.col(0)?),
                artefact_name: r.col(1)?,
                version: r.col(2)?,
                digest: Digest::parse(r.col(3)?)?,
                source_commit: r.col(4)?,
                build_url: r.opt(5)?,
                signed: r.col(6)?,
                leg: r.opt::<&str>(7)?.and_then(Leg::parse),
                actor: r.col(8)?,
                started_at: from_ms(started),
                finished_at: finished.map(from_ms),
                duration_ms: finished.map(|f| count(f - started)),
                outcome: outcome(self, r.col(11)?)?,
                failure_reason: r.opt(12)?,
                source: r.opt(13)?,
                link: r.opt(14)?,
                digest_confirmed: r.col::<i64>(15)? == 1,
            });
        }
        Ok(CellHistory {
            service: service.clone(),
            environment: environment.clone(),
            total: count(total),
            entries,
            more,
        })
    }
}
