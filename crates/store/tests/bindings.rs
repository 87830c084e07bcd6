//! Bindings and synced deployments, against a real SQLite file: binding is a
//! release manager's audited decision that respects a connection's reach;
//! a re-sync never duplicates a row; a deployment a provider reported
//! without its digest is shown but never satisfies a gate.

mod common;

use std::collections::BTreeMap;

use chrono::Duration;
use common::{now, person, slug, with_demo};
use release_desk_connections::{BindingDraft, Connection, ConnectionDraft, ConnectionKind};
use release_desk_domain::{Artefact, ArtefactDraft, Digest};
use release_desk_promotion::{GateKind, GateVerdict, PromotionKind};
use release_desk_promotion::{SoakThresholds, Strategy};
use release_desk_provider::{ObservedDeployment, ObservedOutcome};
use release_desk_store::{HistoryPage, Store, SyncSource, TargetBinding};

async fn connection(store: &Store, name: &str, reach: Option<&str>) -> Connection {
    let priya = person(
        store,
        &format!("P{}", name.replace(' ', "")),
        &["release-manager"],
    )
    .await;
    store
        .add_connection(
            ConnectionDraft {
                kind: ConnectionKind::Github,
                name: name.into(),
                base_url: None,
                settings: BTreeMap::new(),
                reach: reach.map(slug),
            },
            &priya,
            now(),
        )
        .await
        .unwrap()
}

fn draft(c: &Connection, service: &str, env: &str) -> BindingDraft {
    BindingDraft {
        service: slug(service),
        environment: slug(env),
        connection: c.id,
        settings: BTreeMap::from([("repository".into(), format!("acme/{service}"))]),
    }
}

fn observed(
    id: u32,
    version: &str,
    digest: Option<&Digest>,
    outcome: ObservedOutcome,
) -> ObservedDeployment {
    ObservedDeployment {
        provider_id: format!("acme/payments-api/deployments/{id}"),
        environment: "x".into(),
        version: version.into(),
        digest: digest.cloned(),
        outcome,
        commit: Some("9f1c2e3".into()),
        created_by: Some("octocat".into()),
        created_at: now() + Duration::minutes(i64::from(id)),
        updated_at: Some(now() + Duration::minutes(i64::from(id) + 1)),
        link: Some(format!(
            "https://github.com/acme/payments-api/actions/runs/{id}"
        )),
    }
}

#[tokio::test]
async fn binding_is_a_release_managers_audited_decision_within_the_connections_reach() {
    let (_dir, _file, store) = with_demo().await;
    let all = connection(&store, "acme", None).await;
    let lower = connection(&store, "acme lower", Some("test")).await;
    let priya = person(&store, "Priya", &["release-manager"]).await;
    let tom = person(&store, "Tom", &["change-manager"]).await;

    let e = store
        .add_binding(draft(&all, "payments-api", "production"), &tom, now())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "not_release_manager");
    let e = store
        .add_binding(draft(&lower, "payments-api", "production"), &priya, now())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "connection_out_of_reach");

    let b = store
        .add_binding(draft(&all, "payments-api", "production"), &priya, now())
        .await
        .unwrap();
    assert_eq!(
        b.settings["environment"], "production",
        "defaults to the stage"
    );
    let e = store
        .add_binding(draft(&all, "payments-api", "production"), &priya, now())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "binding_exists");
    store
        .add_binding(draft(&lower, "payments-api", "dev"), &priya, now())
        .await
        .unwrap();
    assert_eq!(store.bindings().await.unwrap().len(), 2);
    assert_eq!(
        store.bindings_of(all.id).await.unwrap(),
        std::slice::from_ref(&b)
    );

    let audit = store
        .audit_of(&format!("binding:{}", b.id.0))
        .await
        .unwrap();
    assert_eq!(audit[0].action, "binding.added");
    assert!(audit[0].actor.starts_with("Priya <"), "{}", audit[0].actor);

    store.remove_binding(b.id, &priya, now()).await.unwrap();
    assert_eq!(store.bindings().await.unwrap().len(), 1);
    // Removing the connection takes its bindings with it.
    store
        .remove_connection(lower.id, &priya, now())
        .await
        .unwrap();
    assert!(store.bindings().await.unwrap().is_empty());
    assert!(store.verify_audit().await.unwrap().problem.is_none());
}

#[tokio::test]
async fn synced_deployments_are_upserted_by_provider_id_and_say_where_they_came_from() {
    let (_dir, _file, store) = with_demo().await;
    let gh = connection(&store, "acme", None).await;
    let priya = person(&store, "Priya", &["release-manager"]).await;
    let b = store
        .add_binding(draft(&gh, "payments-api", "production"), &priya, now())
        .await
        .unwrap();
    let choices = store.artefact_choices().await.unwrap();
    let web = choices
        .iter()
        .find(|s| s.key == slug("payments-api"))
        .unwrap();
    let known = &web.artefacts[0];
    let new_digest = Digest::parse(&"e".repeat(64)).unwrap();
    let wrong = Digest::parse(&"f".repeat(64)).unwrap();

    let report = vec![
        observed(
            1,
            &known.version,
            Some(&known.digest),
            ObservedOutcome::Inactive,
        ),
        observed(2, "9.9.9", Some(&new_digest), ObservedOutcome::Failed),
        observed(3, &known.version, None, ObservedOutcome::InProgress),
        observed(4, "0.0.0-unknown", None, ObservedOutcome::Succeeded),
        observed(
            5,
            &known.version,
            Some(&known.digest),
            ObservedOutcome::Unknown,
        ),
        observed(6, &known.version, Some(&wrong), ObservedOutcome::Succeeded),
    ];
    let counts = store
        .record_synced_deployments(&b, &gh, &report, now())
        .await
        .unwrap();
    assert_eq!(
        (counts.inserted, counts.updated, counts.unchanged),
        (3, 0, 0)
    );
    assert_eq!(counts.skipped.len(), 3, "{:?}", counts.skipped);
    assert!(
        counts.skipped.iter().any(|s| s.contains("another")),
        "digest conflict named"
    );

    let history = store
        .cell_history(
            &slug("payments-api"),
            &slug("production"),
            &HistoryPage::default(),
        )
        .await
        .unwrap();
    let synced: Vec<_> = history
        .entries
        .iter()
        .filter(|e| e.source.is_some())
        .collect();
    assert_eq!(synced.len(), 3);
    assert!(synced.iter().all(|e| e.source.as_deref() == Some("acme")));
    assert!(synced.iter().all(|e| e.actor == "octocat via acme"));
    let newest = synced[0];
    assert_eq!(newest.version, known.version);
    assert!(!newest.digest_confirmed, "matched by version only");
    assert_eq!(
        newest.link.as_deref(),
        Some("https://github.com/acme/payments-api/actions/runs/3")
    );
    assert!(synced
        .iter()
        .any(|e| e.version == "9.9.9" && e.digest_confirmed));
    let audit_before = store
        .audit_of(&format!("binding:{}", b.id.0))
        .await
        .unwrap()
        .len();

    // The same report again changes nothing and writes no audit entry.
    let again = store
        .record_synced_deployments(&b, &gh, &report, now())
        .await
        .unwrap();
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 0, 3));
    assert_eq!(
        store
            .audit_of(&format!("binding:{}", b.id.0))
            .await
            .unwrap()
            .len(),
        audit_before
    );

    // The run in progress finishes: one row updated, the dashboard follows.
    let mut later = report.clone();
    later[2].outcome = ObservedOutcome::Failed;
    let moved = store
        .record_synced_deployments(&b, &gh, &later, now())
        .await
        .unwrap();
    assert_eq!((moved.inserted, moved.updated), (0, 1));
    let dash = store.dashboard().await.unwrap();
    let row = dash
        .rows
        .iter()
        .find(|r| r.service.key == slug("payments-api"))
        .unwrap();
    let env_index = dash
        .environments
        .iter()
        .position(|e| e.key == slug("production"))
        .unwrap();
    let last = row.cells[env_index].last.as_ref().unwrap();
    assert_eq!(last.actor, "octocat via acme");
    assert_eq!(last.version, known.version);

    let fresh = store.connection_freshness().await.unwrap();
    assert!(fresh[0].last_synced_at.is_some() && fresh[0].last_error.is_none());
    // Testing the token remembers (and audits) the account it proves.
    let tom = person(&store, "Tom", &["change-manager"]).await;
    assert_eq!(
        store
            .record_provider_login(gh.id, "octocat", &tom, now())
            .await
            .unwrap_err()
            .code(),
        "not_release_manager"
    );
    store
        .record_provider_login(gh.id, "octocat", &priya, now())
        .await
        .unwrap();
    assert_eq!(
        store.connection_freshness().await.unwrap()[0]
            .provider_login
            .as_deref(),
        Some("octocat")
    );
    let tested = store
        .audit_of(&format!("connection:{}", gh.id.0))
        .await
        .unwrap();
    let entry = tested
        .iter()
        .find(|e| e.action == "connection.tested")
        .unwrap();
    assert!(
        entry.actor.starts_with("Priya <") && entry.detail.contains("octocat"),
        "{entry:?}"
    );
    store
        .record_sync_failure(
            b.id,
            SyncSource::Deployments,
            "GitHub acme refused the token",
            now(),
        )
        .await
        .unwrap();
    let fresh = store.connection_freshness().await.unwrap();
    assert!(
        fresh[0].last_synced_at.is_some(),
        "a failure keeps the last success"
    );
    assert_eq!(
        fresh[0].last_error.as_deref(),
        Some("GitHub acme refused the token")
    );
    // A failure before any binding was asked (no token) shows the same way.
    store
        .record_connection_sync_failure(
            gh.id,
            "acme has no token yet",
            now() + Duration::minutes(1),
        )
        .await
        .unwrap();
    let fresh = store.connection_freshness().await.unwrap();
    assert_eq!(
        fresh[0].last_error.as_deref(),
        Some("acme has no token yet")
    );
    assert!(
        fresh[0].last_synced_at.is_some(),
        "the last success is kept"
    );
    assert!(store.verify_audit().await.unwrap().problem.is_none());
}

#[tokio::test]
async fn a_deployment_reported_without_its_digest_never_satisfies_the_previous_stage_gate() {
    let (_dir, _file, store) = with_demo().await;
    let gh = connection(&store, "acme", None).await;
    let priya = person(&store, "Priya", &["release-manager"]).await;
    // Promoting to test, bound to the local target; dev is the stage before.
    let target = TargetBinding {
        service: slug("payments-api"),
        environment: slug("test"),
        provider: "local-nginx".into(),
        strategy: Strategy::BlueGreen,
        soak_secs: 60,
        thresholds: SoakThresholds::default(),
    };
    store.bind_target(&target, &priya, now()).await.unwrap();
    let previous = slug("dev");
    let digest = Digest::parse(&"7".repeat(64)).unwrap();
    store
        .record_artefact(
            &Artefact::new(ArtefactDraft {
                service: target.service.clone(),
                name: target.service.to_string(),
                version: "7.7.7".into(),
                digest: digest.to_string(),
                source_commit: "7777777".into(),
                build_url: None,
                created_at: now(),
                signature: None,
                commits: vec![],
            })
            .unwrap(),
        )
        .await
        .unwrap();
    let b = store
        .add_binding(
            draft(&gh, target.service.as_str(), previous.as_str()),
            &priya,
            now(),
        )
        .await
        .unwrap();
    let previous_gate = |check: release_desk_store::GateCheck| {
        check
            .results
            .into_iter()
            .find(|r| r.gate == GateKind::PreviousStage)
            .unwrap()
            .verdict
    };
    let mut d = observed(1, "7.7.7", None, ObservedOutcome::Succeeded);
    d.provider_id = "acme/x/deployments/1".into();
    store
        .record_synced_deployments(&b, &gh, std::slice::from_ref(&d), now())
        .await
        .unwrap();
    let check = store
        .check_gates(
            PromotionKind::Promote,
            &target.service,
            &target.environment,
            "7.7.7",
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        previous_gate(check),
        GateVerdict::Fail,
        "a version label passed the gate"
    );

    d.digest = Some(digest);
    store
        .record_synced_deployments(&b, &gh, &[d], now())
        .await
        .unwrap();
    let check = store
        .check_gates(
            PromotionKind::Promote,
            &target.service,
            &target.environment,
            "7.7.7",
            now(),
        )
        .await
        .unwrap();
    assert_eq!(previous_gate(check), GateVerdict::Pass);

    // GitHub then reports a later failed deployment of 7.7.7 in that stage,
    // by version only: too little to pass a gate, enough to block one.
    let mut failed = observed(9, "7.7.7", None, ObservedOutcome::Failed);
    failed.provider_id = "acme/x/deployments/9".into();
    store
        .record_synced_deployments(&b, &gh, &[failed], now())
        .await
        .unwrap();
    let check = store
        .check_gates(
            PromotionKind::Promote,
            &target.service,
            &target.environment,
            "7.7.7",
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        previous_gate(check),
        GateVerdict::Fail,
        "a newer failure was ignored"
    );
}

#[tokio::test]
async fn a_release_the_desk_rolled_back_stays_rolled_back_when_the_provider_still_calls_it_a_success(
) {
    let (_dir, _file, store) = with_demo().await;
    let gh = connection(&store, "acme", None).await;
    let priya = person(&store, "Priya", &["release-manager"]).await;
    let b = store
        .add_binding(draft(&gh, "payments-api", "dev"), &priya, now())
        .await
        .unwrap();
    let digest = Digest::parse(&"8".repeat(64)).unwrap();
    let d = observed(1, "8.8.8", Some(&digest), ObservedOutcome::Succeeded);
    store
        .record_synced_deployments(&b, &gh, std::slice::from_ref(&d), now())
        .await
        .unwrap();
    // As a rollback marks it (crates/store/src/promotions/mod.rs).
    let file = _file.clone();
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE deployments SET outcome = 'rolled_back' WHERE provider_id = ?")
        .bind(&d.provider_id)
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;
    store
        .record_synced_deployments(&b, &gh, &[d], now())
        .await
        .unwrap();
    let history = store
        .cell_history(&slug("payments-api"), &slug("dev"), &HistoryPage::default())
        .await
        .unwrap();
    let synced = history.entries.iter().find(|e| e.source.is_some()).unwrap();
    assert_eq!(synced.outcome, release_desk_domain::Outcome::RolledBack);
}

#[tokio::test]
async fn two_services_bound_to_one_repository_each_keep_their_rows() {
    let (_dir, _file, store) = with_demo().await;
    let gh = connection(&store, "acme", None).await;
    let priya = person(&store, "Priya", &["release-manager"]).await;
    let mut bindings = Vec::new();
    for service in ["payments-api", "appointments-api"] {
        let mut draft = draft(&gh, service, "dev");
        draft
            .settings
            .insert("repository".into(), "acme/mono".into());
        bindings.push(store.add_binding(draft, &priya, now()).await.unwrap());
    }
    let digest = Digest::parse(&"9".repeat(64)).unwrap();
    let d = observed(1, "9.1.0", Some(&digest), ObservedOutcome::Succeeded);
    for b in &bindings {
        let counts = store
            .record_synced_deployments(b, &gh, std::slice::from_ref(&d), now())
            .await
            .unwrap();
        assert_eq!(counts.inserted, 1, "{counts:?}");
    }
}

#[tokio::test]
async fn a_cell_deploys_through_at_most_one_workflow_which_decides_its_strategy() {
    let (_dir, _file, store) = with_demo().await;
    let one = connection(&store, "acme", None).await;
    let two = connection(&store, "acme two", None).await;
    let priya = person(&store, "Priya", &["release-manager"]).await;
    let mut first = draft(&one, "payments-api", "test");
    first
        .settings
        .insert("workflow".into(), "deploy.yml".into());
    store.add_binding(first, &priya, now()).await.unwrap();
    let (b, c) = store
        .pipeline_binding(&slug("payments-api"), &slug("test"))
        .await
        .unwrap()
        .expect("the workflow binding");
    assert_eq!(c.id, one.id);
    assert_eq!(b.settings["workflow"], "deploy.yml");
    // A second connection may read the cell, but not also deploy it.
    let mut second = draft(&two, "payments-api", "test");
    second
        .settings
        .insert("workflow".into(), "release.yml".into());
    let err = store.add_binding(second, &priya, now()).await.unwrap_err();
    assert_eq!(err.code(), "pipeline_exists", "{err}");
    store
        .add_binding(draft(&two, "payments-api", "test"), &priya, now())
        .await
        .unwrap();
    // Cells without a workflow have no pipeline.
    assert!(store
        .pipeline_binding(&slug("payments-api"), &slug("dev"))
        .await
        .unwrap()
        .is_none());
}
