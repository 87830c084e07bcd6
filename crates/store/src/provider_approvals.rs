//! Approvals a provider waits on (a GitHub environment's required
//! reviewers), synced per binding, and the decisions people take on them in
//! the desk. The desk's own policy for the stage (quorum, eligible roles,
//! separation of duties) applies on top of the provider's: the provider's
//! review is sent only once the policy is met, and a rejection by anyone
//! eligible is sent at once.
//!
//! A decision is bound to exactly what waits: the pending approval's
//! provider id and commit, hashed into the decision's digest, so a decision
//! never carries over to another run.

use chrono::{DateTime, Utc};
use release_desk_changes::{
    check_provider_decision, evaluate_provider_approval, policy_for, ChangeType, Decision,
    EnvironmentApproval, Profile, ProfileId, Verdict,
};
use release_desk_connections::BindingId;
use release_desk_domain::{Digest, Slug};
use release_desk_provider::PendingApproval;
use serde::Serialize;
use serde_json::json;
use sha2::Digest as _;
use specta::Type;
use sqlx::SqliteConnection;

use crate::audit::append;
use crate::changes::refused;
use crate::error::{malformed, Result};
use crate::policies::load_policies;
use crate::row::RowExt;
use crate::sync::{note_sync, SyncSource};
use crate::time::{from_ms, to_ms};
use crate::Store;

/// One provider approval as the queue shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ProviderApprovalItem {
    #[specta(type = u32)]
    pub id: i64,
    pub connection: String,
    pub kind_label: String,
    pub service: Slug,
    pub environment: Slug,
    pub approval: PendingApproval,
    /// Where the desk's policy stands: who approved, who is still missing.
    pub standing: EnvironmentApproval,
    /// The desk profile who started the deployment, when the desk did.
    pub started_by: Option<String>,
    /// Why the viewer may not decide, if they may not.
    pub refusal: Option<String>,
}

/// What recording a decision led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderDecision {
    pub approval: PendingApproval,
    pub connection: release_desk_connections::ConnectionId,
    pub standing: EnvironmentApproval,
    /// The review to send to the provider now, if the policy decided.
    pub send: Option<Verdict>,
}

/// The digest a decision on this approval is bound to.
fn subject(approval: &PendingApproval) -> Result<Digest> {
    let mut h = sha2::Sha256::new();
    h.update(b"provider-approval\0");
    h.update(approval.provider_id.as_bytes());
    h.update([0]);
    h.update(approval.commit.as_deref().unwrap_or("").as_bytes());
    Ok(Digest::parse(&hex::encode(h.finalize()))?)
}

struct Row {
    id: i64,
    binding: i64,
    connection: i64,
    connection_name: String,
    kind: String,
    service: Slug,
    environment: Slug,
    approval: PendingApproval,
    state: String,
}

const SELECT: &str =
    "SELECT pa.id, pa.binding_id, c.id, c.name, c.kind, s.key, e.key, pa.detail, pa.state
     FROM provider_approvals pa JOIN bindings b ON b.id = pa.binding_id
     JOIN connections c ON c.id = b.connection_id
     JOIN services s ON s.id = b.service_id JOIN environments e ON e.id = b.environment_id";

fn row_from(r: &sqlx::sqlite::SqliteRow) -> Result<Row> {
    let f = r.fields("a provider approval");
    let detail: String = f.col(7)?;
    Ok(Row {
        id: f.col(0)?,
        binding: f.col(1)?,
        connection: f.col(2)?,
        connection_name: f.col(3)?,
        kind: f.col(4)?,
        service: Slug::parse(f.col(5)?)?,
        environment: Slug::parse(f.col(6)?)?,
        approval: serde_json::from_str(&detail)
            .map_err(|e| malformed("a provider approval")(e.to_string()))?,
        state: f.col(8)?,
    })
}

async fn decisions_of(conn: &mut SqliteConnection, id: i64) -> Result<Vec<Decision>> {
    let rows = sqlx::query(
        "SELECT d.id, d.profile_id, p.name, d.roles, d.verdict, d.comment, d.at_ms, d.digest
         FROM provider_approval_decisions d JOIN profiles p ON p.id = d.profile_id
         WHERE d.approval_id = ? ORDER BY d.id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let f = r.fields("a decision on a provider approval");
            let verdict: String = f.col(4)?;
            Ok(Decision {
                id: f.col(0)?,
                by: ProfileId(f.col(1)?),
                by_name: f.col(2)?,
                roles: serde_json::from_str(f.col(3)?)
                    .map_err(|e| malformed("a decision's roles")(e.to_string()))?,
                verdict: Verdict::parse(&verdict)
                    .ok_or_else(|| malformed("a verdict")(verdict.clone()))?,
                comment: f.col(5)?,
                at: from_ms(f.col(6)?),
                digest: Digest::parse(f.col(7)?)?,
            })
        })
        .collect()
}

/// Who may not decide: the desk profile whose promotion started the run.
async fn parties_of(
    conn: &mut SqliteConnection,
    approval: &PendingApproval,
) -> Result<(Vec<ProfileId>, Option<String>)> {
    let Some(run) = approval.reference.get("run_id") else {
        return Ok((vec![], None));
    };
    let requester: Option<String> = sqlx::query_scalar(
        "SELECT p.requested_by FROM promotion_events e JOIN promotions p ON p.id = e.promotion_id
         WHERE json_extract(e.event, '$.event') = 'runStarted'
           AND json_extract(e.event, '$.run.id') = ? LIMIT 1",
    )
    .bind(run)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(name) = requester else {
        return Ok((vec![], None));
    };
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM profiles WHERE name = ?")
        .bind(&name)
        .fetch_all(&mut *conn)
        .await?;
    Ok((ids.into_iter().map(ProfileId).collect(), Some(name)))
}

impl Store {
    /// One provider approval, or a refusal saying `gone` when there is none.
    async fn approval_row(&self, conn: &mut SqliteConnection, id: i64, gone: &str) -> Result<Row> {
        let r = sqlx::query(&format!("{SELECT} WHERE pa.id = ?"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| self.fail(e))?
            .ok_or_else(|| refused("unknown_provider_approval", gone.to_owned()))?;
        row_from(&r)
    }

    /// Records what a binding's provider waits on now: new approvals are
    /// added, known ones refreshed, and pending ones the provider no longer
    /// lists (decided there, or the run cancelled) leave the queue. Returns
    /// how many are pending.
    pub async fn record_pending_approvals(
        &self,
        binding: BindingId,
        found: &[PendingApproval],
        now: DateTime<Utc>,
    ) -> Result<u32> {
        let mut tx = self.begin_write().await?;
        for a in found {
            let detail = serde_json::to_string(a)
                .map_err(|e| malformed("a provider approval")(e.to_string()))?;
            sqlx::query(
                "INSERT INTO provider_approvals (binding_id, provider_id, detail, state, first_seen_ms, synced_at_ms)
                 VALUES (?, ?, ?, 'pending', ?, ?)
                 ON CONFLICT (binding_id, provider_id) DO UPDATE SET
                   detail = CASE WHEN state = 'pending' THEN excluded.detail ELSE detail END,
                   synced_at_ms = excluded.synced_at_ms",
            )
            .bind(binding.0)
            .bind(&a.provider_id)
            .bind(detail)
            .bind(to_ms(now))
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        }
        let listed: Vec<&str> = found.iter().map(|a| a.provider_id.as_str()).collect();
        let pending: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, provider_id FROM provider_approvals WHERE binding_id = ? AND state = 'pending'",
        )
        .bind(binding.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        let mut still = 0u32;
        for (id, provider_id) in pending {
            if listed.contains(&provider_id.as_str()) {
                still += 1;
                continue;
            }
            sqlx::query(
                "UPDATE provider_approvals SET state = 'gone', decided_at_ms = ? WHERE id = ?",
            )
            .bind(to_ms(now))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        }
        note_sync(&mut tx, binding, SyncSource::Approvals, now, None)
            .await
            .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(still)
    }

    /// The approvals providers wait on, oldest first, each with where the
    /// desk's policy stands and whether `viewer` may decide.
    pub async fn provider_approvals(
        &self,
        viewer: &Profile,
        now: DateTime<Utc>,
    ) -> Result<Vec<ProviderApprovalItem>> {
        let mut conn = self.pool().acquire().await.map_err(|e| self.fail(e))?;
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE pa.state = 'pending' ORDER BY pa.first_seen_ms, pa.id"
        ))
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| self.fail(e))?;
        let policies = load_policies(&mut conn).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let row = row_from(r)?;
            let Some(policy) = policy_for(&policies, &row.environment, ChangeType::Normal) else {
                continue;
            };
            let decisions = decisions_of(&mut conn, row.id)
                .await
                .map_err(|e| self.refail(e))?;
            let (parties, started_by) = parties_of(&mut conn, &row.approval)
                .await
                .map_err(|e| self.refail(e))?;
            let standing = evaluate_provider_approval(
                &row.environment,
                policy,
                &decisions,
                &parties,
                &subject(&row.approval)?,
                now,
            );
            let refusal = check_provider_decision(
                &row.environment,
                policy,
                &parties,
                viewer,
                Verdict::Approve,
                "",
            )
            .err()
            .map(|e| e.to_string());
            let kind_label = release_desk_connections::ConnectionKind::parse(&row.kind)
                .map_or_else(|| row.kind.clone(), |k| k.label().to_owned());
            out.push(ProviderApprovalItem {
                id: row.id,
                connection: row.connection_name,
                kind_label,
                service: row.service,
                environment: row.environment,
                approval: row.approval,
                standing,
                started_by,
                refusal,
            });
        }
        Ok(out)
    }

    /// How many decisions await `viewer`: change records in their queue and
    /// provider approvals they may decide (the badge and the window title).
    pub async fn awaiting_decision(&self, viewer: &Profile, now: DateTime<Utc>) -> Result<usize> {
        let changes = self.approval_queue(viewer, now).await?.len();
        let providers = self
            .provider_approvals(viewer, now)
            .await?
            .iter()
            .filter(|i| i.refusal.is_none())
            .count();
        Ok(changes + providers)
    }

    /// Records `by`'s decision on a provider approval (audited), and says
    /// whether the desk's policy now sends the provider's review.
    pub async fn decide_provider_approval(
        &self,
        id: i64,
        verdict: Verdict,
        comment: &str,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<ProviderDecision> {
        let mut tx = self.begin_write().await?;
        let row = self
            .approval_row(
                &mut tx,
                id,
                "that approval is no longer waiting: refresh the queue",
            )
            .await?;
        if row.state != "pending" {
            return Err(refused(
                "provider_approval_closed",
                format!(
                    "{} is no longer waiting ({}): refresh the queue",
                    row.approval.title, row.state
                ),
            ));
        }
        let policies = load_policies(&mut tx).await?;
        let policy = policy_for(&policies, &row.environment, ChangeType::Normal).ok_or_else(|| {
            refused(
                "no_policy",
                format!(
                    "the workspace has no approval policy for normal changes in {}: add one in Settings",
                    row.environment
                ),
            )
        })?;
        let (parties, _) = parties_of(&mut tx, &row.approval)
            .await
            .map_err(|e| self.refail(e))?;
        check_provider_decision(&row.environment, policy, &parties, by, verdict, comment)?;
        let digest = subject(&row.approval)?;
        let roles = serde_json::to_string(&by.roles)
            .map_err(|e| malformed("a profile's roles")(e.to_string()))?;
        sqlx::query(
            "INSERT INTO provider_approval_decisions (approval_id, profile_id, roles, verdict, comment, at_ms, digest)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(by.id.0)
        .bind(roles)
        .bind(verdict.as_str())
        .bind(comment)
        .bind(to_ms(now))
        .bind(digest.hex())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        let decisions = decisions_of(&mut tx, id)
            .await
            .map_err(|e| self.refail(e))?;
        let standing = evaluate_provider_approval(
            &row.environment,
            policy,
            &decisions,
            &parties,
            &digest,
            now,
        );
        let send = if !standing.rejected_by.is_empty() {
            Some(Verdict::Reject)
        } else if standing.satisfied {
            Some(Verdict::Approve)
        } else {
            None
        };
        append(
            &mut tx,
            release_desk_audit::EntryDraft {
                at: now,
                actor: by.actor(),
                action: "provider_approval.decided".into(),
                subject: format!("provider-approval:{id}"),
                detail: json!({
                    "connection": row.connection_name,
                    "providerId": row.approval.provider_id,
                    "service": row.service,
                    "environment": row.environment,
                    "verdict": verdict.as_str(),
                    "comment": comment,
                    "standing": standing.summary(),
                    "sends": send.map(Verdict::as_str),
                })
                .to_string(),
            },
        )
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(ProviderDecision {
            approval: row.approval,
            connection: release_desk_connections::ConnectionId(row.connection),
            standing,
            send,
        })
    }

    /// Records that the provider accepted the desk's review: the approval
    /// leaves the queue, audited with the provider account that sent it.
    pub async fn record_provider_review_sent(
        &self,
        id: i64,
        verdict: Verdict,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let row = self
            .approval_row(
                &mut tx,
                id,
                "that approval is no longer known: refresh the queue",
            )
            .await?;
        let login: Option<String> =
            sqlx::query_scalar("SELECT provider_login FROM connections WHERE id = ?")
                .bind(row.connection)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.fail(e))?
                .flatten();
        let state = match verdict {
            Verdict::Approve => "approved",
            Verdict::Reject => "rejected",
        };
        sqlx::query("UPDATE provider_approvals SET state = ?, decided_at_ms = ? WHERE id = ?")
            .bind(state)
            .bind(to_ms(now))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        append(
            &mut tx,
            release_desk_audit::EntryDraft {
                at: now,
                actor: by.actor(),
                action: "provider_approval.sent".into(),
                subject: format!("provider-approval:{id}"),
                detail: json!({
                    "connection": row.connection_name,
                    "providerLogin": login,
                    "providerId": row.approval.provider_id,
                    "binding": row.binding,
                    "verdict": verdict.as_str(),
                })
                .to_string(),
            },
        )
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(())
    }
}
