//! Approvals a provider waits on, against a real SQLite file: synced per
//! binding (refreshed, and leaving the queue when the provider no longer
//! lists them), decided in the desk under the stage's own policy (GitHub's
//! review is due only once the quorum is met; a rejection is due at once),
//! and every decision and sent review audited.

mod common;

use std::collections::BTreeMap;

use common::{now, person, slug, with_demo};
use release_desk_changes::Verdict;
use release_desk_connections::{BindingDraft, ConnectionDraft, ConnectionKind};
use release_desk_provider::PendingApproval;
use release_desk_store::Store;

fn pending(run: u32, environment: &str) -> PendingApproval {
    PendingApproval {
        provider_id: format!("acme/payments-api/runs/{run}/environments/7"),
        environment: environment.into(),
        title: format!("Deploy payments-api (run #{run})"),
        commit: Some("9f1c2e3d".into()),
        reviewers: vec!["octocat".into(), "team platform".into()],
        wait_timer_minutes: Some(5),
        can_approve: true,
        requested_at: Some(now()),
        link: Some(format!(
            "https://github.com/acme/payments-api/actions/runs/{run}"
        )),
        reference: BTreeMap::from([
            ("repository".into(), "acme/payments-api".into()),
            ("run_id".into(), run.to_string()),
            ("environment_id".into(), "7".into()),
        ]),
    }
}

async fn bound(store: &Store) -> release_desk_connections::BindingId {
    let priya = person(store, "Priya", &["release-manager"]).await;
    let c = store
        .add_connection(
            ConnectionDraft {
                kind: ConnectionKind::Github,
                name: "acme".into(),
                base_url: None,
                settings: BTreeMap::new(),
                reach: None,
            },
            &priya,
            now(),
        )
        .await
        .unwrap();
    store
        .add_binding(
            BindingDraft {
                service: slug("payments-api"),
                environment: slug("production"),
                connection: c.id,
                settings: BTreeMap::from([("repository".into(), "acme/payments-api".into())]),
            },
            &priya,
            now(),
        )
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn the_desks_quorum_decides_when_githubs_review_is_sent() {
    let (_dir, _file, store) = with_demo().await;
    let binding = bound(&store).await;
    let tom = person(&store, "Tom", &["change-manager"]).await;
    let olu = person(&store, "Olu", &["service-owner"]).await;
    let dev = person(&store, "Dee", &["developer"]).await;

    let still = store
        .record_pending_approvals(binding, &[pending(118, "production")], now())
        .await
        .unwrap();
    assert_eq!(still, 1);
    // A re-sync of the same approval adds nothing.
    store
        .record_pending_approvals(binding, &[pending(118, "production")], now())
        .await
        .unwrap();
    let queue = store.provider_approvals(&tom, now()).await.unwrap();
    assert_eq!(queue.len(), 1);
    // The badge counts it for those who may decide, and not for others.
    let changes_only = store.approval_queue(&tom, now()).await.unwrap().len();
    assert_eq!(
        store.awaiting_decision(&tom, now()).await.unwrap(),
        changes_only + 1
    );
    let dev_changes = store.approval_queue(&dev, now()).await.unwrap().len();
    assert_eq!(
        store.awaiting_decision(&dev, now()).await.unwrap(),
        dev_changes
    );
    let item = &queue[0];
    assert_eq!(item.environment.as_str(), "production");
    assert_eq!(item.standing.required, 2, "production asks two roles");
    assert!(item.refusal.is_none());
    // Someone without an approver role may not decide.
    let mine = store.provider_approvals(&dev, now()).await.unwrap();
    assert!(mine[0].refusal.as_deref().unwrap().contains("policy asks"));
    let err = store
        .decide_provider_approval(item.id, Verdict::Approve, "", &dev, now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "approver_role");

    // One of two: recorded, nothing sent yet.
    let first = store
        .decide_provider_approval(item.id, Verdict::Approve, "looks fine", &tom, now())
        .await
        .unwrap();
    assert_eq!(first.send, None);
    assert_eq!(first.standing.approved, 1);
    // The same person again does not make two.
    let again = store
        .decide_provider_approval(item.id, Verdict::Approve, "", &tom, now())
        .await
        .unwrap();
    assert_eq!(again.send, None, "one person is one approval");
    // The second role completes the quorum: GitHub's approval is due.
    let second = store
        .decide_provider_approval(item.id, Verdict::Approve, "", &olu, now())
        .await
        .unwrap();
    assert_eq!(second.send, Some(Verdict::Approve));
    assert_eq!(second.approval.reference["run_id"], "118");
    store
        .record_provider_review_sent(item.id, Verdict::Approve, &olu, now())
        .await
        .unwrap();
    assert!(store
        .provider_approvals(&tom, now())
        .await
        .unwrap()
        .is_empty());
    let err = store
        .decide_provider_approval(item.id, Verdict::Approve, "", &tom, now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "provider_approval_closed");

    let audit = store
        .audit_of(&format!("provider-approval:{}", item.id))
        .await
        .unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "provider_approval.decided",
            "provider_approval.decided",
            "provider_approval.decided",
            "provider_approval.sent"
        ]
    );
    assert!(store.verify_audit().await.unwrap().intact);
}

#[tokio::test]
async fn a_rejection_is_sent_at_once_and_needs_a_reason() {
    let (_dir, _file, store) = with_demo().await;
    let binding = bound(&store).await;
    let tom = person(&store, "Tom", &["change-manager"]).await;
    store
        .record_pending_approvals(binding, &[pending(7, "production")], now())
        .await
        .unwrap();
    let id = store.provider_approvals(&tom, now()).await.unwrap()[0].id;
    let err = store
        .decide_provider_approval(id, Verdict::Reject, "  ", &tom, now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "reason_required");
    let d = store
        .decide_provider_approval(
            id,
            Verdict::Reject,
            "the smoke tests never ran",
            &tom,
            now(),
        )
        .await
        .unwrap();
    assert_eq!(d.send, Some(Verdict::Reject));
}

#[tokio::test]
async fn an_approval_the_provider_no_longer_lists_leaves_the_queue() {
    let (_dir, _file, store) = with_demo().await;
    let binding = bound(&store).await;
    let tom = person(&store, "Tom", &["change-manager"]).await;
    store
        .record_pending_approvals(
            binding,
            &[pending(1, "production"), pending(2, "production")],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        store.provider_approvals(&tom, now()).await.unwrap().len(),
        2
    );
    // Run 1 was approved at GitHub itself (or cancelled).
    let still = store
        .record_pending_approvals(binding, &[pending(2, "production")], now())
        .await
        .unwrap();
    assert_eq!(still, 1);
    let queue = store.provider_approvals(&tom, now()).await.unwrap();
    assert_eq!(queue.len(), 1);
    assert!(queue[0].approval.title.contains("#2"));
    let gone = store
        .provider_approvals(&tom, now())
        .await
        .unwrap()
        .iter()
        .any(|i| i.approval.title.contains("#1"));
    assert!(!gone);
}
