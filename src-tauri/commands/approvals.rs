//! The approval queue and decisions, one at a time or in a batch.

use release_desk_changes::{ChangeId, ChangeRecord, Verdict};
use release_desk_store::{ProviderApprovalItem, QueueItem};
use serde::{Deserialize, Serialize};
use specta::Type;
use tauri::State;

use super::checked;
use crate::error::{AppError, Result};
use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub async fn approval_queue(state: State<'_, AppState>) -> Result<Vec<QueueItem>> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    checked(&state, store.approval_queue(&by, chrono::Utc::now()).await).await
}

#[tauri::command]
#[specta::specta]
pub async fn decide(
    state: State<'_, AppState>,
    id: ChangeId,
    revision: u32,
    verdict: Verdict,
    comment: String,
) -> Result<ChangeRecord> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    let record = checked(
        &state,
        store
            .decide(id, revision, verdict, &comment, &by, chrono::Utc::now())
            .await,
    )
    .await?;
    state.refresh_title().await;
    Ok(record)
}

/// A change as the person saw it when selecting it for a batch.
#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SeenChange {
    pub id: ChangeId,
    pub revision: u32,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Refused {
    pub id: ChangeId,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BatchResult {
    pub approved: Vec<ChangeRecord>,
    pub refused: Vec<Refused>,
}

/// Approves each selected change with one comment. Each is its own audited
/// decision: one refusal (a change that moved on, a rule) does not stop the rest.
#[tauri::command]
#[specta::specta]
pub async fn approve_many(
    state: State<'_, AppState>,
    changes: Vec<SeenChange>,
    comment: String,
) -> Result<BatchResult> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    let mut result = BatchResult {
        approved: Vec::new(),
        refused: Vec::new(),
    };
    for seen in changes {
        match checked(
            &state,
            store
                .decide(
                    seen.id,
                    seen.revision,
                    Verdict::Approve,
                    &comment,
                    &by,
                    chrono::Utc::now(),
                )
                .await,
        )
        .await
        {
            Ok(record) => result.approved.push(record),
            Err(e) => result.refused.push(Refused {
                id: seen.id,
                code: e.code,
                message: e.message,
            }),
        }
    }
    state.refresh_title().await;
    Ok(result)
}

/// The approvals providers wait on (GitHub environments' reviewers), with
/// where the desk's own policy stands on each.
#[tauri::command]
#[specta::specta]
pub async fn provider_approvals(state: State<'_, AppState>) -> Result<Vec<ProviderApprovalItem>> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    checked(
        &state,
        store.provider_approvals(&by, chrono::Utc::now()).await,
    )
    .await
}

/// What a decision on a provider's approval led to.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ProviderDecisionOutcome {
    /// Where the desk's policy stands: "1 of 2 required approvals; …".
    pub standing: String,
    /// The review sent to the provider, if the policy decided.
    pub sent: Option<Verdict>,
    pub connection: String,
}

/// Records the person's decision on a provider's approval; once the desk's
/// policy is met (or anyone eligible rejects), sends the provider's review
/// through the connection's account. A review the provider does not take
/// leaves the decision recorded and the approval waiting: deciding again
/// resends it.
#[tauri::command]
#[specta::specta]
pub async fn decide_provider_approval(
    state: State<'_, AppState>,
    id: u32,
    verdict: Verdict,
    comment: String,
) -> Result<ProviderDecisionOutcome> {
    let by = state.current_profile().await?;
    let store = state.store().await?;
    let now = chrono::Utc::now();
    let decision = checked(
        &state,
        store
            .decide_provider_approval(i64::from(id), verdict, &comment, &by, now)
            .await,
    )
    .await?;
    let connection = super::connections::known(&state, decision.connection).await?;
    if let Some(send) = decision.send {
        let secret = super::sync::secret_of(&state, &connection).await?;
        let source = state
            .adapters
            .get(&connection, secret)?
            .approvals
            .ok_or_else(|| {
                AppError::new(
                    "no_approvals",
                    format!("{} cannot take approvals", connection.kind.label()),
                )
            })?;
        let said = if comment.trim().is_empty() {
            String::new()
        } else {
            format!("{}\n\n", comment.trim())
        };
        let text = format!(
            "{said}Decided in Release Desk by {} ({}).",
            by.name,
            decision.standing.summary()
        );
        let provider_verdict = match send {
            Verdict::Approve => release_desk_provider::Verdict::Approve,
            Verdict::Reject => release_desk_provider::Verdict::Reject,
        };
        if let Err(e) = source
            .decide(&decision.approval, provider_verdict, &text)
            .await
        {
            return Err(AppError::new(
                e.kind.code(),
                format!(
                    "your decision is recorded, but {} did not take the review: {}. Decide again to resend it",
                    connection.name, e.message
                ),
            ));
        }
        checked(
            &state,
            store
                .record_provider_review_sent(i64::from(id), send, &by, chrono::Utc::now())
                .await,
        )
        .await?;
    }
    state.refresh_title().await;
    Ok(ProviderDecisionOutcome {
        standing: decision.standing.summary(),
        sent: decision.send,
        connection: connection.name,
    })
}
