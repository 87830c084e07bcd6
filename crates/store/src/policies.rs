//! Approval policies as stored: one JSON body per environment and change type.

use chrono::{DateTime, Utc};
use release_desk_audit::EntryDraft;
use release_desk_changes::{default_policies, ApprovalPolicy, Profile};

use crate::audit::append;
use crate::error::{Result, StoreError};
use crate::row::RowExt;
use crate::Store;

const ANY_ENVIRONMENT: &str = "*";

pub(crate) async fn load_policies(
    conn: &mut sqlx::SqliteConnection,
) -> Result<Vec<ApprovalPolicy>> {
    let rows = sqlx::query("SELECT body FROM approval_policies ORDER BY environment, kind")
        .fetch_all(&mut *conn)
        .await?;
    if rows.is_empty() {
        // A workspace that never saved a policy runs on the defaults.
        return Ok(default_policies());
    }
    rows.iter()
        .map(|r| {
            let body: &str = r.fields("an approval policy").col(0)?;
            serde_json::from_str::<ApprovalPolicy>(body).map_err(|e| StoreError::Malformed {
                what: "an approval policy",
                detail: e.to_string(),
            })
        })
        .collect()
}

impl Store {
    pub async fn policies(&self) -> Result<Vec<ApprovalPolicy>> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.fail(e))?;
        load_policies(&mut conn).await
    }

    /// Saves a policy (replacing the one for the same environment and type),
    /// audited. The first save stores the defaults alongside it, so saving one
    /// policy never silently drops the others.
    pub async fn save_policy(
        &self,
        policy: ApprovalPolicy,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<()> {
        policy.validate()?;
        let mut tx = self.begin_write().await?;
        let mut all = load_policies(&mut tx).await?;
        all.retain(|p| !(p.kind == policy.kind && p.environment == policy.environment));
        all.push(policy.clone());
        sqlx::query("DELETE FROM approval_policies")
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        for p in &all {
            let body = serde_json::to_string(p).map_err(|e| StoreError::Malformed {
                what: "an approval policy",
                detail: e.to_string(),
            })?;
            sqlx::query("INSERT INTO approval_policies (environment, kind, body) VALUES (?, ?, ?)")
                .bind(
                    p.environment
                        .as_ref()
                        .map_or(ANY_ENVIRONMENT, |e| e.as_str()),
                )
                .bind(p.kind.as_str())
                .bind(body)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.fail(e))?;
        }
        let subject = format!(
            "policy:{}:{}",
            policy
                .environment
                .as_ref()
                .map_or(ANY_ENVIRONMENT, |e| e.as_str()),
            policy.kind.as_str()
        );
        let detail = serde_json::to_string(&policy).unwrap_or_default();
        append(
            &mut tx,
            EntryDraft {
                at: now,
                actor: by.actor(),
                action: "policy.saved".into(),
                subject,
                detail,
            },
        )
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(())
    }
}
