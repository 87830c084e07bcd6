//! Change records, decisions and the audit log against a real SQLite file.

mod common;

use chrono::Duration;
use common::{now, slug, with_demo};
use release_desk_changes::{
    ArtefactRef, ChangeDraft, ChangeState, ChangeType, Profile, ProfileDraft, RiskLevel,
    Transition, Verdict,
};
use release_desk_store::{Store, StoreError};

struct People {
    priya: Profile,
    sam: Profile,
    alex: Profile,
    jo: Profile,
}

async fn people(store: &Store) -> People {
    let mk = |name: &str, roles: &[&str]| ProfileDraft {
        name: name.into(),
        email: format!("{}@acme-health.example", name.to_lowercase()),
        roles: roles.iter().map(|r| slug(r)).collect(),
    };
    People {
        // The requester is a change manager too, so refusals of her own
        // change are about separation of duties, not a missing role.
        priya: store
            .create_profile(mk("Priya", &["release-manager", "change-manager"]), now())
            .await
            .unwrap(),
        sam: store
            .create_profile(mk("Sam", &["change-manager"]), now())
            .await
            .unwrap(),
        alex: store
            .create_profile(mk("Alex", &["service-owner"]), now())
            .await
            .unwrap(),
        jo: store.create_profile(mk("Jo", &[]), now()).await.unwrap(),
    }
}

async fn versions(store: &Store, service: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT a.version FROM artefacts a JOIN services s ON s.id = a.service_id
         WHERE s.key = ? ORDER BY a.created_at_ms DESC",
    )
    .bind(service)
    .fetch_all(store.pool())
    .await
    .unwrap()
}

async fn draft(store: &Store, env: &str) -> ChangeDraft {
    ChangeDraft {
        kind: ChangeType::Normal,
        template: None,
        title: "Ship payments-api refund fix".into(),
        description: "Rounds refunds half-even".into(),
        services: vec![],
        environments: vec![slug(env)],
        artefact: ArtefactRef {
            service: slug("payments-api"),
            version: versions(store, "payments-api").await[0].clone(),
        },
        planned_start: now() + Duration::days(1),
        planned_end: now() + Duration::days(1) + Duration::hours(1),
        implementation_plan: "Blue-green promotion".into(),
        backout_plan: "Switch back to the previous leg".into(),
        test_plan: "Smoke tests and a 30 minute soak".into(),
        assignee: None,
        links: vec![],
        rollback_possible: true,
        no_rollback_justification: None,
        schema_migration: false,
        files_changed: Some(3),
    }
}

async fn count(store: &Store, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// Raises a change and takes it to Authorise.
async fn awaiting_approval(
    store: &Store,
    p: &People,
    env: &str,
) -> release_desk_changes::ChangeRecord {
    let r = store
        .raise_change(draft(store, env).await, &p.priya, now())
        .await
        .unwrap();
    let r = store
        .move_change(r.id, r.revision, Transition::Submit, &p.priya, now())
        .await
        .unwrap();
    store
        .move_change(
            r.id,
            r.revision,
            Transition::RequestApproval,
            &p.priya,
            now(),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn a_normal_change_is_approved_from_the_queue_and_every_step_is_audited() {
    let (_dir, _file, store) = with_demo().await;
    let p = people(&store).await;
    let r = awaiting_approval(&store, &p, "uat").await;
    assert_eq!(r.state, ChangeState::Authorise);

    let queue = store.approval_queue(&p.sam, now()).await.unwrap();
    assert_eq!(queue.len(), 1);
    assert!(
        !queue[0].commits.is_empty(),
        "the queue lists the artefact's commits"
    );
    assert_eq!(queue[0].approvals[0].missing, ["change-manager"]);
    assert!(
        store
            .approval_queue(&p.priya, now())
            .await
            .unwrap()
            .is_empty(),
        "not one's own change"
    );
    assert!(
        store.approval_queue(&p.jo, now()).await.unwrap().is_empty(),
        "not without the role"
    );

    let r = store
        .decide(
            r.id,
            r.revision,
            Verdict::Approve,
            "Looks good",
            &p.sam,
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        r.state,
        ChangeState::Scheduled,
        "the quorum of one moves it on"
    );
    assert!(store
        .approval_queue(&p.sam, now())
        .await
        .unwrap()
        .is_empty());

    let detail = store.change(r.id, Some(&p.sam), now()).await.unwrap();
    let actions: Vec<&str> = detail.history.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "change.raised",
            "change.transition",
            "change.transition",
            "change.decision",
            "change.transition"
        ]
    );
    assert!(detail.history[3].detail.contains("Looks good"));
    assert_eq!(
        detail.history[3].actor,
        "Sam <sam@acme-health.example> (profile 2)"
    );
    assert!(detail.history[4].detail.contains("approvals complete"));
    let v = store.verify_audit().await.unwrap();
    assert!(v.intact, "{}", v.message);
    // 4 profiles + 5 entries for the change.
    assert_eq!(v.entries, 9);
}

#[tokio::test]
async fn self_approval_and_missing_roles_are_refused_and_leave_nothing_behind() {
    let (_dir, _file, store) = with_demo().await;
    let p = people(&store).await;
    let r = awaiting_approval(&store, &p, "uat").await;
    let (audit, decisions) = (
        count(&store, "audit_log").await,
        count(&store, "decisions").await,
    );

    let err = store
        .decide(r.id, r.revision, Verdict::Approve, "", &p.priya, now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "separation_of_duties");
    assert!(err.to_string().contains("you raised CHG-0001"), "{err}");

    let err = store
        .decide(r.id, r.revision, Verdict::Approve, "", &p.jo, now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "approver_role");

    let err = store
        .decide(r.id, r.revision, Verdict::Reject, "  ", &p.sam, now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "reason_required");

    assert_eq!(count(&store, "audit_log").await, audit);
    assert_eq!(count(&store, "decisions").await, decisions);
    let again = store.change(r.id, None, now()).await.unwrap();
    assert_eq!(
        (again.record.state, again.record.revision),
        (ChangeState::Authorise, r.revision)
    );
}

#[tokio::test]
async fn production_needs_both_roles_and_says_which_is_missing() {
    let (_dir, _file, store) = with_demo().await;
    let p = people(&store).await;
    let r = awaiting_approval(&store, &p, "production").await;
    let r = store
        .decide(r.id, r.revision, Verdict::Approve, "ok", &p.alex, now())
        .await
        .unwrap();
    assert_eq!(r.state, ChangeState::Authorise);
    let err = store
        .move_change(r.id, r.revision, Transition::Schedule, &p.priya, now())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot schedule: 1 of 2 required approvals; missing: change-manager"
    );
    let r = store
        .decide(r.id, r.revision, Verdict::Approve, "ok", &p.sam, now())
        .await
        .unwrap();
    assert_eq!(r.state, ChangeState::Scheduled);
}

#[tokio::test]
async fn two_approvals_racing_on_the_same_revision_land_once() {
    let (_dir, _file, store) = with_demo().await;
    let p = people(&store).await;
    let r = awaiting_approval(&store, &p, "production").await;
    let (a, b) = tokio::join!(
        store.decide(
            r.id,
            r.revision,
            Verdict::Approve,
            "from Sam",
            &p.sam,
            now()
        ),
        store.decide(
            r.id,
            r.revision,
            Verdict::Approve,
            "from Alex",
            &p.alex,
            now()
        ),
    );
    let results = [a, b];
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "exactly one of two racing decisions lands");
    let lost = results.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert_eq!(lost.code(), "stale_change");
    assert!(lost.to_string().contains("Reload it"), "{lost}");
    assert_eq!(count(&store, "decisions").await, 1);
    assert!(store.verify_audit().await.unwrap().intact);
}

#[tokio::test]
async fn a_new_artefact_voids_approvals_and_unschedules_the_change() {
    let (_dir, _file, store) = with_demo().await;
    let p = people(&store).await;
    let r = awaiting_approval(&store, &p, "uat").await;
    let r = store
        .decide(r.id, r.revision, Verdict::Approve, "ok", &p.sam, now())
        .await
        .unwrap();
    assert_eq!(r.state, ChangeState::Scheduled);

    let mut d = draft(&store, "uat").await;
    d.artefact.version = versions(&store, "payments-api").await[1].clone();
    let r = store
        .edit_change(r.id, r.revision, d, &p.priya, now())
        .await
        .unwrap();
    assert_eq!(r.state, ChangeState::Authorise);
    let detail = store.change(r.id, None, now()).await.unwrap();
    assert_eq!(detail.approvals[0].approved, 0);
    let edit = detail
        .history
        .iter()
        .find(|e| e.action == "change.edited")
        .unwrap();
    assert!(
        edit.detail.contains("digestFrom") && edit.detail.contains("void"),
        "{}",
        edit.detail
    );
    // Sam is asked again, for the new digest.
    assert_eq!(store.approval_queue(&p.sam, now()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn bad_input_names_the_rule_and_writes_nothing() {
    let (_dir, _file, store) = with_demo().await;
    let p = people(&store).await;
    let before = (
        count(&store, "change_records").await,
        count(&store, "audit_log").await,
    );

    let mut d = draft(&store, "uat").await;
    d.artefact.version = "99.99.99".into();
    let err = store.raise_change(d, &p.priya, now()).await.unwrap_err();
    assert_eq!(err.code(), "unknown_artefact");

    let mut d = draft(&store, "uat").await;
    d.environments = vec![slug("moon")];
    assert_eq!(
        store
            .raise_change(d, &p.priya, now())
            .await
            .unwrap_err()
            .code(),
        "unknown_environment"
    );

    let mut d = draft(&store, "uat").await;
    d.title = "x".repeat(201);
    assert_eq!(
        store
            .raise_change(d, &p.priya, now())
            .await
            .unwrap_err()
            .code(),
        "invalid_input"
    );

    assert_eq!(
        (
            count(&store, "change_records").await,
            count(&store, "audit_log").await
        ),
        before
    );

    let r = store
        .raise_change(draft(&store, "uat").await, &p.priya, now())
        .await
        .unwrap();
    let err = store
        .move_change(r.id, r.revision, Transition::Start, &p.priya, now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "transition_state");
    let err = store
        .move_change(r.id, r.revision + 5, Transition::Submit, &p.priya, now())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::StaleChange { .. }));
    let err = store
        .move_change(r.id, r.revision, Transition::Submit, &p.jo, now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "transition_actor");
}

#[tokio::test]
async fn risk_is_explained_and_only_a_change_manager_overrides_it() {
    let (_dir, _file, store) = with_demo().await;
    let p = people(&store).await;
    let mut d = draft(&store, "production").await;
    d.rollback_possible = false;
    d.no_rollback_justification = Some("One-way data migration, rehearsed in preprod".into());
    let r = store.raise_change(d, &p.priya, now()).await.unwrap();
    let detail = store.change(r.id, None, now()).await.unwrap();
    assert_eq!(detail.risk.level, RiskLevel::High);
    assert_eq!(detail.risk.flags[0].code, "no_rollback");

    let err = store
        .override_risk(
            r.id,
            r.revision,
            RiskLevel::Medium,
            "rehearsed",
            &p.alex,
            now(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "risk_override");
    let r = store
        .override_risk(
            r.id,
            r.revision,
            RiskLevel::Medium,
            "rehearsed twice",
            &p.sam,
            now(),
        )
        .await
        .unwrap();
    let detail = store.change(r.id, None, now()).await.unwrap();
    assert_eq!(
        (detail.risk.computed, detail.risk.level),
        (RiskLevel::High, RiskLevel::Medium)
    );
}

#[tokio::test]
async fn the_audit_log_refuses_updates_and_deletes() {
    let (_dir, _file, store) = with_demo().await;
    let _ = people(&store).await;
    let err = sqlx::query("UPDATE audit_log SET actor = 'Mallory' WHERE seq = 1")
        .execute(store.pool())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = sqlx::query("DELETE FROM audit_log WHERE seq = 1")
        .execute(store.pool())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = sqlx::query("DELETE FROM decisions")
        .execute(store.pool())
        .await;
    assert!(err.is_ok(), "no decisions yet, nothing to refuse");
}

/// Someone with the file and a SQLite shell can drop the triggers; the chain
/// still gives them away, naming the first entry they touched.
mod tampering {
    use super::*;

    async fn log_of(n: usize) -> (tempfile::TempDir, Store) {
        let (dir, _file, store) = with_demo().await;
        let p = people(&store).await;
        for _ in 0..n {
            let r = store
                .raise_change(draft(&store, "uat").await, &p.priya, now())
                .await
                .unwrap();
            store
                .move_change(r.id, r.revision, Transition::Submit, &p.priya, now())
                .await
                .unwrap();
        }
        for trigger in [
            "audit_log_is_not_edited",
            "audit_log_is_not_deleted",
            "audit_log_appends_in_order",
        ] {
            sqlx::query(&format!("DROP TRIGGER {trigger}"))
                .execute(store.pool())
                .await
                .unwrap();
        }
        assert!(store.verify_audit().await.unwrap().intact);
        (dir, store)
    }

    async fn first_bad(store: &Store) -> i64 {
        let v = store.verify_audit().await.unwrap();
        assert!(!v.intact);
        assert!(v.message.contains("tampered"), "{}", v.message);
        v.first_bad.unwrap()
    }

    #[tokio::test]
    async fn an_edited_entry() {
        let (_d, store) = log_of(3).await;
        sqlx::query("UPDATE audit_log SET detail = '{}' WHERE seq = 6")
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(first_bad(&store).await, 6);
    }

    #[tokio::test]
    async fn a_deleted_entry() {
        let (_d, store) = log_of(3).await;
        sqlx::query("DELETE FROM audit_log WHERE seq = 7")
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(first_bad(&store).await, 7);
    }

    #[tokio::test]
    async fn the_newest_entry_deleted() {
        let (_d, store) = log_of(3).await;
        sqlx::query("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)")
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(first_bad(&store).await, 10);
    }

    #[tokio::test]
    async fn two_entries_reordered() {
        let (_d, store) = log_of(3).await;
        for sql in [
            "UPDATE audit_log SET seq = -1 WHERE seq = 5",
            "UPDATE audit_log SET seq = 5 WHERE seq = 8",
            "UPDATE audit_log SET seq = 8 WHERE seq = -1",
        ] {
            sqlx::query(sql).execute(store.pool()).await.unwrap();
        }
        assert_eq!(first_bad(&store).await, 5);
    }

    #[tokio::test]
    async fn an_entry_rewritten_with_its_own_hash_recomputed() {
        let (_d, store) = log_of(2).await;
        let row: (i64, i64, String, String, String, Vec<u8>) = sqlx::query_as(
            "SELECT seq, at_ms, action, subject, detail, prev_hash FROM audit_log WHERE seq = 5",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        let prev = release_desk_audit::ChainHash::from_slice(&row.5).unwrap();
        let forged =
            release_desk_audit::entry_hash(row.0, row.1, "Mallory", &row.2, &row.3, &row.4, &prev);
        sqlx::query("UPDATE audit_log SET actor = 'Mallory', hash = ? WHERE seq = 5")
            .bind(&forged.0[..])
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(
            first_bad(&store).await,
            6,
            "the next entry no longer links to it"
        );
    }
}

#[tokio::test]
async fn the_form_offers_each_service_with_its_newest_builds_first() {
    let (_dir, _file, store) = with_demo().await;
    let choices = store.artefact_choices().await.unwrap();
    assert_eq!(choices.len(), 10);
    let payments = choices
        .iter()
        .find(|s| s.key.as_str() == "payments-api")
        .unwrap();
    assert_eq!(
        payments.artefacts[0].version,
        versions(&store, "payments-api").await[0]
    );
    assert!(payments
        .artefacts
        .windows(2)
        .all(|w| w[0].created_at >= w[1].created_at));
    assert!(payments.artefacts.iter().all(|a| a.commits >= 1));
    assert!(choices.iter().all(|s| s.artefacts.len() <= 25));
}

#[tokio::test]
async fn creating_a_profile_does_not_choose_it_and_emails_are_unique() {
    let (_dir, _file, store) = with_demo().await;
    let p = people(&store).await;
    assert_eq!(store.current_profile().await.unwrap(), None);
    store.use_profile(p.sam.id, now()).await.unwrap();
    assert_eq!(store.current_profile().await.unwrap().unwrap().name, "Sam");
    // Issue 12, finding 5: switching profile was not audited.
    store.use_profile(p.priya.id, now()).await.unwrap();
    let switches: Vec<_> = store
        .audit_of(&format!("profile:{}", p.priya.id.0))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "profile.selected")
        .collect();
    assert_eq!(switches.len(), 1);
    assert!(
        switches[0].detail.contains(&p.priya.email)
            && switches[0]
                .detail
                .contains(&format!(r#""from":{{"email":"{}""#, p.sam.email)),
        "{}",
        switches[0].detail
    );
    assert!(store.verify_audit().await.unwrap().intact);
    let err = store
        .create_profile(
            ProfileDraft {
                name: "Sam again".into(),
                email: "SAM@acme-health.example".into(),
                roles: vec![],
            },
            now(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "duplicate_profile");
}

#[tokio::test]
async fn a_saved_policy_replaces_its_default_is_audited_and_applies() {
    let (_dir, _file, store) = with_demo().await;
    let p = people(&store).await;
    let mut uat = release_desk_changes::default_policies().remove(0);
    uat.environment = Some(slug("uat"));
    uat.rules = vec![release_desk_changes::ApprovalRule {
        approvers: vec![release_desk_changes::Approver::Person {
            profile: p.alex.id,
            name: "Alex".into(),
        }],
        needed: 1,
    }];
    store.save_policy(uat, &p.sam, now()).await.unwrap();
    let policies = store.policies().await.unwrap();
    assert_eq!(
        policies.len(),
        release_desk_changes::default_policies().len() + 1,
        "the defaults are kept beside it"
    );
    assert_eq!(store.audit_of("policy:uat:normal").await.unwrap().len(), 1);

    // Sam, a change manager, is no longer the approver for UAT; Alex, by name, is.
    let r = awaiting_approval(&store, &p, "uat").await;
    assert_eq!(
        store
            .decide(r.id, r.revision, Verdict::Approve, "", &p.sam, now())
            .await
            .unwrap_err()
            .code(),
        "approver_role"
    );
    let r = store
        .decide(r.id, r.revision, Verdict::Approve, "", &p.alex, now())
        .await
        .unwrap();
    assert_eq!(r.state, ChangeState::Scheduled);

    let mut bad = release_desk_changes::default_policies().remove(0);
    bad.rules.clear();
    assert_eq!(
        store
            .save_policy(bad, &p.sam, now())
            .await
            .unwrap_err()
            .code(),
        "invalid_input"
    );
}

#[tokio::test]
async fn an_expired_approval_puts_the_change_back_in_the_approvers_queue() {
    let (_dir, _file, store) = with_demo().await;
    let p = people(&store).await;
    // Production: change manager and service owner; approvals valid 72 h.
    let r = awaiting_approval(&store, &p, "production").await;
    store
        .decide(r.id, r.revision, Verdict::Approve, "ok", &p.sam, now())
        .await
        .unwrap();
    assert!(store
        .approval_queue(&p.sam, now())
        .await
        .unwrap()
        .is_empty());
    let later = now() + Duration::hours(80);
    let queue = store.approval_queue(&p.sam, later).await.unwrap();
    assert_eq!(
        queue.len(),
        1,
        "Sam's approval expired, so he is asked again"
    );
    assert!(
        queue[0].approvals[0].rejected_by.is_empty(),
        "expiry is not a rejection"
    );
}

#[tokio::test]
async fn falling_back_to_authorise_restarts_the_request_clock() {
    let (_dir, _file, store) = with_demo().await;
    let p = people(&store).await;
    let r = awaiting_approval(&store, &p, "uat").await;
    let r = store
        .decide(r.id, r.revision, Verdict::Approve, "ok", &p.sam, now())
        .await
        .unwrap();
    assert_eq!(r.state, ChangeState::Scheduled);
    // Six days later (past the 5-day request expiry) a new artefact voids the approval.
    let later = now() + Duration::days(6);
    let mut d = draft(&store, "uat").await;
    d.artefact.version = versions(&store, "payments-api").await[1].clone();
    let r = store
        .edit_change(r.id, r.revision, d, &p.priya, later)
        .await
        .unwrap();
    assert_eq!(r.state, ChangeState::Authorise);
    assert_eq!(r.approval_requested_at, Some(later));
    let detail = store.change(r.id, None, later).await.unwrap();
    assert!(matches!(
        detail.approvals[0].request,
        release_desk_changes::RequestStatus::Open { .. }
    ));
    let r = store
        .decide(r.id, r.revision, Verdict::Approve, "again", &p.sam, later)
        .await
        .unwrap();
    assert_eq!(r.state, ChangeState::Scheduled);
}

#[tokio::test]
async fn the_list_in_one_statement_agrees_with_each_record_read_whole() {
    let (_dir, _file, store) = with_demo().await;
    let seed = release_desk_demo::demo_workspace(now());
    release_desk_demo::play(
        &store,
        &release_desk_demo::demo_changes(&seed, now()),
        now(),
    )
    .await
    .unwrap();
    let list = store.changes().await.unwrap();
    assert_eq!(list.len(), 7);
    for s in &list {
        let d = store.change(s.id, None, now()).await.unwrap();
        assert_eq!(s.risk, d.risk.level, "{}", s.reference);
        assert_eq!(s.environments, d.record.environments, "{}", s.reference);
        assert_eq!(
            (s.revision, s.state, &s.title, &s.version),
            (
                d.record.revision,
                d.record.state,
                &d.record.title,
                &d.record.artefact.version
            )
        );
    }
    // Open ones first, soonest planned first.
    let open: Vec<_> = list
        .iter()
        .take_while(|s| !matches!(s.state, ChangeState::Closed | ChangeState::Cancelled))
        .map(|s| s.planned_start)
        .collect();
    assert!(open.windows(2).all(|w| w[0] <= w[1]));
}
