//! The store's queries and invariants against real SQLite files in temporary folders.

mod common;
use common::{fresh, now, slug, with_demo};

use chrono::Duration;
use release_desk_demo::demo_workspace;
use release_desk_domain::{
    Artefact, ArtefactDraft, DeploymentDraft, Drift, Outcome, Registration, Slug, WorkspaceSeed,
};
use release_desk_store::{HistoryPage, StoreError};

#[tokio::test]
async fn demo_workspace_fills_the_dashboard() {
    let (_dir, _file, store) = with_demo().await;
    let info = store.workspace().await.unwrap().unwrap();
    assert!(info.demo);
    assert_eq!(info.services, 10);
    let dashboard = store.dashboard().await.unwrap();
    let keys: Vec<&str> = dashboard
        .environments
        .iter()
        .map(|e| e.key.as_str())
        .collect();
    assert_eq!(keys, ["dev", "test", "uat", "preprod", "production"]);
    assert_eq!(dashboard.rows.len(), 10);
    for row in &dashboard.rows {
        assert_eq!(row.cells.len(), 5, "{}", row.service.key);
        assert_eq!(row.cells[0].drift, Drift::NoPrevious);
        let deployed = row.cells.iter().filter(|c| c.deployed.is_some()).count();
        if row.service.key.as_str() == "consent-service" {
            assert_eq!(deployed, 2, "a new service runs in dev and test only");
            assert_eq!(row.cells[2].drift, Drift::NotDeployed);
        } else {
            assert_eq!(deployed, 5, "{} has a version everywhere", row.service.key);
        }
    }
    let payments = dashboard
        .rows
        .iter()
        .find(|r| r.service.key.as_str() == "payments-api")
        .unwrap();
    let prod = &payments.cells[4];
    assert_eq!(prod.last.as_ref().unwrap().outcome, Outcome::InProgress);
    assert_ne!(
        prod.deployed.as_ref().unwrap().version,
        prod.last.as_ref().unwrap().version
    );

    let identity = dashboard
        .rows
        .iter()
        .find(|r| r.service.key.as_str() == "identity-service")
        .unwrap();
    assert_eq!(
        identity.cells[4].drift,
        Drift::Ahead,
        "the emergency fix skipped preprod"
    );
    let behind = dashboard
        .rows
        .iter()
        .flat_map(|r| &r.cells)
        .filter(|c| matches!(c.drift, Drift::Behind { .. }))
        .count();
    assert!(behind > 0);
    assert!(dashboard.rows.iter().flat_map(|r| &r.cells).any(|c| c
        .last
        .as_ref()
        .is_some_and(|l| l.outcome == Outcome::Failed && l.failure_reason.is_some())));
}

#[tokio::test]
async fn behind_counts_exactly_the_builds_in_between() {
    let (_dir, _file, store) = with_demo().await;
    let seed = demo_workspace(now());
    let dashboard = store.dashboard().await.unwrap();
    let mut behind = 0;
    for row in &dashboard.rows {
        for pair in row.cells.windows(2) {
            if let Drift::Behind { builds } = pair[1].drift {
                behind += 1;
                let built = |version: &str| {
                    seed.artefacts
                        .iter()
                        .find(|a| a.service() == &row.service.key && a.version() == version)
                        .unwrap()
                        .created_at()
                };
                let prev = built(&pair[0].deployed.as_ref().unwrap().version);
                let this = built(&pair[1].deployed.as_ref().unwrap().version);
                let expected = seed
                    .artefacts
                    .iter()
                    .filter(|a| {
                        a.service() == &row.service.key
                            && a.created_at() > this
                            && a.created_at() <= prev
                    })
                    .count() as u32;
                assert_eq!(
                    builds, expected,
                    "{} {}",
                    row.service.key, pair[1].environment
                );
            }
        }
    }
    assert!(behind >= 5, "the demo has several cells behind: {behind}");
}

#[tokio::test]
async fn a_recorded_deployment_keeps_its_identity_and_deleting_one_recomputes_its_cell() {
    let (_dir, _file, store) = with_demo().await;
    let moved =
        sqlx::query("UPDATE deployments SET environment_id = environment_id + 1 WHERE id = 1")
            .execute(store.pool())
            .await
            .unwrap_err();
    assert!(moved.to_string().contains("keeps its artefact"), "{moved}");

    let cell = |d: &release_desk_store::Dashboard| {
        d.rows
            .iter()
            .find(|r| r.service.key.as_str() == "checkout-web")
            .unwrap()
            .cells[0]
            .clone()
    };
    let before = cell(&store.dashboard().await.unwrap());
    let failed = before.last.unwrap();
    assert_eq!(failed.outcome, Outcome::Failed);
    sqlx::query("DELETE FROM deployments WHERE id = ?")
        .bind(i64::from(failed.id))
        .execute(store.pool())
        .await
        .unwrap();
    let after = cell(&store.dashboard().await.unwrap());
    assert_eq!(
        after.last.unwrap().outcome,
        Outcome::Succeeded,
        "the cell falls back to the previous deployment"
    );
}

#[tokio::test]
async fn cell_history_pages_newest_first_without_gaps() {
    let (_dir, _file, store) = with_demo().await;
    let (service, env) = (slug("payments-api"), slug("dev"));
    let all = store
        .cell_history(
            &service,
            &env,
            &HistoryPage {
                after: None,
                limit: Some(500),
            },
        )
        .await
        .unwrap();
    assert!(all.total as usize >= 10);
    assert_eq!(all.entries.len(), all.total as usize);
    assert!(!all.more);
    assert!(all
        .entries
        .windows(2)
        .all(|w| w[0].started_at >= w[1].started_at));

    let mut seen = Vec::new();
    let mut page = HistoryPage {
        after: None,
        limit: Some(4),
    };
    loop {
        let h = store.cell_history(&service, &env, &page).await.unwrap();
        seen.extend(h.entries.iter().map(|e| e.id));
        if !h.more {
            break;
        }
        let last = h.entries.last().unwrap();
        page.after = Some((last.started_at, last.id));
    }
    assert_eq!(seen, all.entries.iter().map(|e| e.id).collect::<Vec<_>>());

    let failed = store
        .cell_history(
            &slug("payments-api"),
            &slug("production"),
            &HistoryPage::default(),
        )
        .await
        .unwrap();
    for e in &failed.entries {
        assert_eq!(
            e.failure_reason.is_some(),
            matches!(e.outcome, Outcome::Failed | Outcome::RolledBack)
        );
        assert_eq!(e.duration_ms.is_some(), e.outcome != Outcome::InProgress);
    }
}

#[tokio::test]
async fn history_of_an_unknown_cell_names_what_is_unknown() {
    let (_dir, _file, store) = with_demo().await;
    let err = store
        .cell_history(&slug("nope"), &slug("dev"), &HistoryPage::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownService(ref s) if s == "nope"));
    let err = store
        .cell_history(&slug("payments-api"), &slug("qa"), &HistoryPage::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "unknown_environment");
}

fn artefact(version: &str, byte: u8) -> Artefact {
    Artefact::new(ArtefactDraft {
        service: slug("payments-api"),
        name: "payments-api".into(),
        version: version.into(),
        digest: format!("{byte:02x}").repeat(32),
        source_commit: "0123456789abcdef0123456789abcdef01234567".into(),
        build_url: None,
        created_at: now(),
        signature: None,
        commits: Vec::new(),
    })
    .unwrap()
}

#[tokio::test]
async fn conflicting_artefacts_are_refused_and_digests_never_change() {
    let (_dir, _file, store) = with_demo().await;
    assert_eq!(
        store
            .record_artefact(&artefact("9.0.0", 0xaa))
            .await
            .unwrap(),
        Registration::New
    );
    assert_eq!(
        store
            .record_artefact(&artefact("9.0.0", 0xaa))
            .await
            .unwrap(),
        Registration::AlreadyRecorded
    );
    let err = store
        .record_artefact(&artefact("9.0.0", 0xbb))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("conflicting artefact"), "{err}");

    // Even bypassing the domain, the file refuses to change a recorded digest.
    let bypass = sqlx::query("UPDATE artefacts SET digest = ? WHERE version = '9.0.0'")
        .bind("cc".repeat(32))
        .execute(store.pool())
        .await
        .unwrap_err();
    assert!(bypass.to_string().contains("immutable"), "{bypass}");
    let digest: String = sqlx::query_scalar("SELECT digest FROM artefacts WHERE version = '9.0.0'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(digest, "aa".repeat(32));
}

#[tokio::test]
async fn a_deployment_of_an_unknown_artefact_is_refused_and_nothing_is_written() {
    let (_dir, _file, store) = with_demo().await;
    let before = store.workspace().await.unwrap().unwrap().deployments;
    let draft = DeploymentDraft {
        service: slug("payments-api"),
        environment: slug("dev"),
        version: "0.0.0-never-built".into(),
        leg: None,
        started_at: now(),
        finished_at: Some(now() + Duration::minutes(1)),
        actor: "Priya Shah".into(),
        outcome: Outcome::Succeeded,
        failure_reason: None,
    };
    let err = store.record_deployment(draft.clone()).await.unwrap_err();
    assert!(matches!(err, StoreError::UnknownArtefact { .. }), "{err}");
    assert_eq!(
        store.workspace().await.unwrap().unwrap().deployments,
        before
    );

    store
        .record_artefact(&artefact("0.0.0-never-built", 0x11))
        .await
        .unwrap();
    store.record_deployment(draft).await.unwrap();
    assert_eq!(
        store.workspace().await.unwrap().unwrap().deployments,
        before + 1
    );
}

#[tokio::test]
async fn a_workspace_loads_entirely_or_not_at_all() {
    let (_dir, _file, store) = fresh().await;
    let good = demo_workspace(now());
    let mut broken: WorkspaceSeed = good.clone();
    // The last artefact goes missing: its deployments can no longer resolve.
    let dropped = broken.artefacts.pop().unwrap();
    assert!(broken
        .deployments
        .iter()
        .any(|d| d.version() == dropped.version() && d.service() == dropped.service()));
    let err = store.load_workspace(&broken, now()).await.unwrap_err();
    assert!(matches!(err, StoreError::UnknownArtefact { .. }), "{err}");
    assert_eq!(store.workspace().await.unwrap(), None);
    let services: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM services")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(services, 0, "nothing half-written");

    store.load_workspace(&good, now()).await.unwrap();
    let again = store.load_workspace(&good, now()).await.unwrap_err();
    assert_eq!(again.code(), "workspace_not_empty");
}

async fn person(
    store: &release_desk_store::Store,
    name: &str,
    roles: &[&str],
) -> release_desk_changes::Profile {
    store
        .create_profile(
            release_desk_changes::ProfileDraft {
                name: name.into(),
                email: format!("{}@example.org", name.to_lowercase()),
                roles: roles.iter().map(|r| slug(r)).collect(),
            },
            now(),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn environments_can_be_reordered_by_a_release_manager_but_not_dropped() {
    let (_dir, _file, store) = with_demo().await;
    let priya = person(&store, "Priya", &["release-manager"]).await;
    let keys: Vec<Slug> = ["test", "dev", "uat", "preprod", "production"]
        .map(slug)
        .to_vec();
    store
        .reorder_environments(&keys, &priya, now())
        .await
        .unwrap();
    let dashboard = store.dashboard().await.unwrap();
    assert_eq!(dashboard.environments[0].key.as_str(), "test");
    assert_eq!(dashboard.rows[0].cells[0].environment, "test");
    assert!(store
        .reorder_environments(&keys[1..], &priya, now())
        .await
        .is_err());
    assert_eq!(
        store.path_to_live().await.unwrap().unwrap().stages()[0]
            .key
            .as_str(),
        "test"
    );
    // Audited, with the order before and after.
    let entries = store.audit_of("path-to-live").await.unwrap();
    let entry = entries
        .iter()
        .find(|e| e.action == "path_to_live.reordered")
        .expect("the reorder is audited");
    assert_eq!(entry.actor, "Priya <priya@example.org> (profile 1)");
    assert!(
        entry
            .detail
            .contains(r#""before":["dev","test","uat","preprod","production"]"#)
            && entry
                .detail
                .contains(r#""after":["test","dev","uat","preprod","production"]"#),
        "{}",
        entry.detail
    );
}

/// Issue 12, finding 1: reordering needed no role and wrote no audit entry.
#[tokio::test]
async fn only_a_release_manager_may_reorder_the_path_to_live() {
    let (_dir, _file, store) = with_demo().await;
    let mei = person(&store, "Mei", &["product-owner", "change-manager"]).await;
    let keys: Vec<Slug> = ["test", "dev", "uat", "preprod", "production"]
        .map(slug)
        .to_vec();
    let refused = store
        .reorder_environments(&keys, &mei, now())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "not_release_manager", "{refused}");
    assert_eq!(
        store.path_to_live().await.unwrap().unwrap().stages()[0]
            .key
            .as_str(),
        "dev"
    );
}

/// Issue 12, finding 1: a promotion's gates were judged on the order it
/// started with; reordering under it is refused until it finishes.
#[tokio::test]
async fn the_path_to_live_is_not_reordered_under_a_running_promotion() {
    let (dir, _file, store) = fresh().await;
    release_desk_demo::load_demo(&store, &dir.path().join("artefacts"), chrono::Utc::now())
        .await
        .unwrap();
    let priya = store
        .profiles()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name == "Priya Shah")
        .unwrap();
    store
        .start_promotion(
            &release_desk_store::PromotionRequest {
                request_key: "reorder-test".into(),
                kind: release_desk_promotion::PromotionKind::Promote,
                service: slug("demo-web"),
                environment: slug("dev"),
                version: "1.0.0".into(),
            },
            release_desk_store::TargetSnapshot {
                current: None,
                ready_leg: None,
            },
            &priya,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let keys: Vec<Slug> = ["test", "dev", "uat", "preprod", "production"]
        .map(slug)
        .to_vec();
    let refused = store
        .reorder_environments(&keys, &priya, chrono::Utc::now())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "promotion_running", "{refused}");
}

/// Issue 12, finding 1: moving production to the top of the path to live
/// made the previous-stage gate look at nothing, so an untested build could
/// go straight to production. Production stages come after every other.
#[tokio::test]
async fn production_cannot_be_moved_before_the_stages_that_test_for_it() {
    let (_dir, _file, store) = with_demo().await;
    let priya = person(&store, "Priya", &["release-manager"]).await;
    let keys: Vec<Slug> = ["production", "dev", "test", "uat", "preprod"]
        .map(slug)
        .to_vec();
    let refused = store
        .reorder_environments(&keys, &priya, now())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "production_not_last", "{refused}");
    assert_eq!(
        store.path_to_live().await.unwrap().unwrap().stages()[4]
            .key
            .as_str(),
        "production"
    );
}

#[tokio::test]
async fn preferences_round_trip() {
    let (_dir, _file, store) = fresh().await;
    assert_eq!(store.preference("theme").await.unwrap(), None);
    store.set_preference("theme", "dark").await.unwrap();
    store.set_preference("theme", "light").await.unwrap();
    assert_eq!(
        store.preference("theme").await.unwrap().as_deref(),
        Some("light")
    );
}

#[tokio::test]
async fn the_latest_of_a_cell_is_right_even_when_deployments_arrive_out_of_order() {
    let (_dir, _file, store) = fresh().await;
    let mut seed = demo_workspace(now());
    seed.deployments.reverse(); // newest first: every insert is older than the last
    store.load_workspace(&seed, now()).await.unwrap();
    let reversed = store.dashboard().await.unwrap();

    let (_dir2, _file2, in_order) = with_demo().await;
    let expected = in_order.dashboard().await.unwrap();
    // Row ids differ with the insertion order; what each cell shows must not.
    let shown = |d: &release_desk_store::Dashboard| -> Vec<String> {
        d.rows
            .iter()
            .flat_map(|r| {
                r.cells.iter().map(move |c| {
                    format!(
                        "{} {} {:?} {:?} {:?}",
                        r.service.key,
                        c.environment,
                        c.deployed.as_ref().map(|v| &v.version),
                        c.last.as_ref().map(|l| (&l.version, l.outcome)),
                        c.drift
                    )
                })
            })
            .collect()
    };
    let (got, want) = (shown(&reversed), shown(&expected));
    let differences: Vec<_> = got
        .iter()
        .zip(&want)
        .filter(|(g, w)| g != w)
        .take(3)
        .collect();
    assert!(differences.is_empty(), "first differences: {differences:?}");
}

#[tokio::test]
async fn a_finished_deployment_updates_what_the_cell_runs() {
    let (_dir, _file, store) = with_demo().await;
    let cell = |d: &release_desk_store::Dashboard| {
        d.rows
            .iter()
            .find(|r| r.service.key.as_str() == "payments-api")
            .unwrap()
            .cells[4]
            .clone()
    };
    let before = cell(&store.dashboard().await.unwrap());
    let running = before.last.clone().unwrap();
    assert_eq!(running.outcome, Outcome::InProgress);
    sqlx::query("UPDATE deployments SET outcome = 'succeeded', finished_at_ms = started_at_ms + 60000 WHERE id = ?")
        .bind(i64::from(running.id))
        .execute(store.pool())
        .await
        .unwrap();
    let after = cell(&store.dashboard().await.unwrap());
    assert_eq!(after.deployed.unwrap().version, running.version);
    assert_eq!(after.last.unwrap().outcome, Outcome::Succeeded);
}
