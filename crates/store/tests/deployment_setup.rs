//! What promotions need configured, against a real SQLite file: trusted
//! signing keys, where artefacts' bytes are, and target bindings. Each is a
//! release manager's decision, refused to anyone else, and audited.

mod common;

use common::{now, person, slug, with_demo};
use release_desk_promotion::{SoakThresholds, Strategy};
use release_desk_store::{Store, StoreError, TargetBinding};

fn rule(e: &StoreError) -> String {
    e.code().to_owned()
}

async fn audit_actions(store: &Store) -> Vec<String> {
    store
        .recent_audit(500)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

fn public_key() -> String {
    minisign::KeyPair::generate_unencrypted_keypair()
        .unwrap()
        .pk
        .to_box()
        .unwrap()
        .to_string()
}

fn binding(env: &str) -> TargetBinding {
    TargetBinding {
        service: slug("payments-api"),
        environment: slug(env),
        provider: "local-nginx".into(),
        strategy: Strategy::BlueGreen,
        soak_secs: 60,
        thresholds: SoakThresholds::default(),
    }
}

#[tokio::test]
async fn trusted_keys_are_added_once_removed_by_release_managers_and_audited() {
    let (_d, _f, store) = with_demo().await;
    let priya = person(&store, "Priya", &["release-manager"]).await;
    let sam = person(&store, "Sam", &["change-manager"]).await;
    let key = public_key();

    let err = store
        .add_trusted_key(&key, "CI", &sam, now())
        .await
        .unwrap_err();
    assert_eq!(rule(&err), "not_release_manager", "{err}");
    let err = store
        .add_trusted_key("not a key", "CI", &priya, now())
        .await
        .unwrap_err();
    assert_eq!(rule(&err), "invalid_key", "{err}");
    assert!(store.trusted_keys().await.unwrap().is_empty());

    let added = store
        .add_trusted_key(&key, "  CI pipeline ", &priya, now())
        .await
        .unwrap();
    assert_eq!(added.label, "CI pipeline");
    assert_eq!(added.added_by, "Priya");
    let again = store
        .add_trusted_key(&key, "Other label", &priya, now())
        .await
        .unwrap();
    assert_eq!(again.id, added.id, "the same key twice is one key");
    assert_eq!(store.trusted_keys().await.unwrap().len(), 1);

    let err = store
        .remove_trusted_key(added.id, &sam, now())
        .await
        .unwrap_err();
    assert_eq!(rule(&err), "not_release_manager", "{err}");
    store
        .remove_trusted_key(added.id, &priya, now())
        .await
        .unwrap();
    assert!(store.trusted_keys().await.unwrap().is_empty());
    let err = store
        .remove_trusted_key(added.id, &priya, now())
        .await
        .unwrap_err();
    assert_eq!(rule(&err), "unknown_key", "{err}");

    let actions = audit_actions(&store).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "signing_key.trusted")
            .count(),
        1
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "signing_key.removed")
            .count(),
        1
    );
    assert!(store.verify_audit().await.unwrap().intact);
}

#[tokio::test]
async fn an_artefact_location_is_recorded_once_and_never_moves() {
    let (_d, _f, store) = with_demo().await;
    let priya = person(&store, "Priya", &["release-manager"]).await;
    let alex = person(&store, "Alex", &["service-owner"]).await;
    let listed = store.artefact_locations().await.unwrap();
    let first = listed
        .iter()
        .find(|a| a.service.as_str() == "payments-api")
        .expect("the demo records payments-api builds")
        .clone();
    assert_eq!(first.location, None);
    let service = slug("payments-api");

    let err = store
        .set_artefact_location(&service, &first.version, "/srv/a.tar.gz", &alex, now())
        .await
        .unwrap_err();
    assert_eq!(rule(&err), "not_release_manager", "{err}");
    let err = store
        .set_artefact_location(&service, &first.version, "   ", &priya, now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("artefact location"), "{err}");
    let err = store
        .set_artefact_location(&service, "9.9.9-missing", "/srv/a.tar.gz", &priya, now())
        .await
        .unwrap_err();
    assert_eq!(rule(&err), "unknown_artefact", "{err}");

    store
        .set_artefact_location(&service, &first.version, "/srv/a.tar.gz", &priya, now())
        .await
        .unwrap();
    // Recording the same place again is harmless and not audited twice.
    store
        .set_artefact_location(&service, &first.version, "/srv/a.tar.gz", &priya, now())
        .await
        .unwrap();
    let err = store
        .set_artefact_location(&service, &first.version, "/srv/b.tar.gz", &priya, now())
        .await
        .unwrap_err();
    assert_eq!(rule(&err), "location_fixed", "{err}");
    assert!(err.to_string().contains("/srv/a.tar.gz"), "{err}");

    let after = store.artefact_locations().await.unwrap();
    let same = after
        .iter()
        .find(|a| a.service == first.service && a.version == first.version)
        .unwrap();
    assert_eq!(same.location.as_deref(), Some("/srv/a.tar.gz"));
    let actions = audit_actions(&store).await;
    assert_eq!(
        actions.iter().filter(|a| *a == "artefact.located").count(),
        1
    );
}

#[tokio::test]
async fn bindings_are_checked_audited_with_what_they_were_and_refused_to_others() {
    let (_d, _f, store) = with_demo().await;
    let priya = person(&store, "Priya", &["release-manager"]).await;
    let sam = person(&store, "Sam", &["change-manager"]).await;

    let err = store
        .bind_target(&binding("dev"), &sam, now())
        .await
        .unwrap_err();
    assert_eq!(rule(&err), "not_release_manager", "{err}");

    let bad = [
        TargetBinding {
            soak_secs: 90_000,
            ..binding("dev")
        },
        TargetBinding {
            thresholds: SoakThresholds {
                max_error_rate_pct: 101.0,
                ..SoakThresholds::default()
            },
            ..binding("dev")
        },
        TargetBinding {
            thresholds: SoakThresholds {
                max_p95_ms: 0.0,
                ..SoakThresholds::default()
            },
            ..binding("dev")
        },
        TargetBinding {
            thresholds: SoakThresholds {
                max_p95_ms: f64::NAN,
                ..SoakThresholds::default()
            },
            ..binding("dev")
        },
        TargetBinding {
            thresholds: SoakThresholds {
                min_requests: 0,
                ..SoakThresholds::default()
            },
            ..binding("dev")
        },
    ];
    for b in &bad {
        let err = store.bind_target(b, &priya, now()).await.unwrap_err();
        assert_eq!(rule(&err), "invalid_binding", "{b:?}: {err}");
    }
    let err = store
        .bind_target(
            &TargetBinding {
                environment: slug("nowhere"),
                ..binding("dev")
            },
            &priya,
            now(),
        )
        .await
        .unwrap_err();
    assert_eq!(rule(&err), "unknown_environment", "{err}");
    assert!(store.target_bindings().await.unwrap().is_empty());

    store
        .bind_target(&binding("dev"), &priya, now())
        .await
        .unwrap();
    let rolling = TargetBinding {
        strategy: Strategy::Rolling,
        soak_secs: 120,
        thresholds: SoakThresholds {
            max_error_rate_pct: 0.5,
            max_p95_ms: 250.0,
            min_requests: 2,
        },
        ..binding("dev")
    };
    store.bind_target(&rolling, &priya, now()).await.unwrap();
    let bound = store.target_bindings().await.unwrap();
    assert_eq!(
        bound.len(),
        1,
        "a second binding of a cell replaces the first"
    );
    assert_eq!(bound[0].strategy, Strategy::Rolling);
    assert_eq!(bound[0].soak_secs, 120);
    assert_eq!(
        bound[0].thresholds, rolling.thresholds,
        "every threshold is kept as given, the fewest requests per sample too"
    );

    let entries = store.recent_audit(500).await.unwrap();
    let bound_entries: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "target.bound")
        .collect();
    assert_eq!(bound_entries.len(), 2);
    // Newest first: the change from blue-green to rolling names both.
    let change: serde_json::Value = serde_json::from_str(&bound_entries[0].detail).unwrap();
    assert_eq!(change["before"]["strategy"], "blue_green");
    assert_eq!(change["after"]["strategy"], "rolling");
    assert_eq!(bound_entries[0].subject, "target:payments-api/dev");
    assert!(store.verify_audit().await.unwrap().intact);
}

/// Issue 12, finding 8: storing or removing a provider credential was
/// neither role-checked nor audited. The secret never reaches the store.
#[tokio::test]
async fn credential_changes_are_a_release_managers_audited_decision() {
    let (_dir, _file, store) = with_demo().await;
    let priya = person(&store, "Priya", &["release-manager"]).await;
    let mei = person(&store, "Mei", &["product-owner"]).await;
    let refused = store
        .audit_credential("github", true, &mei, now())
        .await
        .unwrap_err();
    assert_eq!(rule(&refused), "not_release_manager");
    assert!(
        refused.to_string().contains("provider credentials"),
        "{refused}"
    );
    store
        .audit_credential("github", true, &priya, now())
        .await
        .unwrap();
    store
        .audit_credential("github", false, &priya, now())
        .await
        .unwrap();
    let actions = audit_actions(&store).await;
    assert!(
        actions.contains(&"credential.set".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"credential.removed".to_owned()),
        "{actions:?}"
    );
    assert!(store.verify_audit().await.unwrap().intact);
}
