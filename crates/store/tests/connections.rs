//! Connections to providers, against a real SQLite file: a release
//! manager's audited decision, validated against the path to live, with no
//! secret anywhere in the file, and names unique.

mod common;

use std::collections::BTreeMap;

use common::{fresh, now, person, slug, with_demo};
use release_desk_connections::{ConnectionDraft, ConnectionKind};

fn github(name: &str, reach: Option<&str>) -> ConnectionDraft {
    ConnectionDraft {
        kind: ConnectionKind::Github,
        name: name.into(),
        base_url: None,
        settings: BTreeMap::from([("owner".to_owned(), "acme-health".to_owned())]),
        reach: reach.map(slug),
    }
}

#[tokio::test]
async fn a_release_manager_adds_and_removes_connections_and_each_is_audited() {
    let (_dir, _file, store) = with_demo().await;
    let priya = person(&store, "Priya", &["release-manager"]).await;
    let tom = person(&store, "Tom", &["change-manager"]).await;

    let refused = store
        .add_connection(github("acme-health", None), &tom, now())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "not_release_manager");
    assert!(store.connections().await.unwrap().is_empty());

    let lower = store
        .add_connection(github("acme-health lower", Some("test")), &priya, now())
        .await
        .unwrap();
    let all = store
        .add_connection(
            ConnectionDraft {
                base_url: Some("https://github.acme-health.example/api/v3".into()),
                ..github("acme enterprise", None)
            },
            &priya,
            now(),
        )
        .await
        .unwrap();
    assert_eq!(lower.base_url, "https://api.github.com");
    assert_eq!(lower.reach, Some(slug("test")));
    let listed = store.connections().await.unwrap();
    assert_eq!(
        listed.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["acme enterprise", "acme-health lower"]
    );
    assert_eq!(listed[1], lower);

    // Names are how people tell them apart.
    let again = store
        .add_connection(github("acme-health lower", None), &priya, now())
        .await
        .unwrap_err();
    assert_eq!(again.code(), "connection_name_taken");

    // The reach must be a stage; secrets are refused as settings.
    let e = store
        .add_connection(github("x", Some("staging")), &priya, now())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    let mut with_token = github("y", None);
    with_token
        .settings
        .insert("token".into(), "ghp_NOT_IN_THE_DB".into());
    assert!(store
        .add_connection(with_token, &priya, now())
        .await
        .is_err());

    assert_eq!(
        store
            .remove_connection(all.id, &tom, now())
            .await
            .unwrap_err()
            .code(),
        "not_release_manager"
    );
    let gone = store
        .remove_connection(all.id, &priya, now())
        .await
        .unwrap();
    assert_eq!(gone.name, "acme enterprise");
    assert_eq!(
        store
            .remove_connection(all.id, &priya, now())
            .await
            .unwrap_err()
            .code(),
        "unknown_connection"
    );
    // A new connection never takes a removed one's id (nor its keyring account).
    let next = store
        .add_connection(github("acme enterprise", None), &priya, now())
        .await
        .unwrap();
    assert!(next.id.0 > all.id.0);

    let entries = store.recent_audit(50).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "connection.added").count(),
        3,
        "{actions:?}"
    );
    assert!(actions.contains(&"connection.removed"));
    let added = entries
        .iter()
        .find(|e| e.action == "connection.added" && e.detail.contains("lower"))
        .unwrap();
    assert!(added.actor.contains("(profile "), "{}", added.actor);
    assert!(
        added.detail.contains("\"reach\":\"test\""),
        "{}",
        added.detail
    );
    assert!(store.verify_audit().await.unwrap().intact);
}

#[tokio::test]
async fn a_connection_needs_a_workspace_to_be_placed_against() {
    let (_dir, _file, store) = fresh().await;
    let priya = person(&store, "Priya", &["release-manager"]).await;
    let e = store
        .add_connection(github("acme", None), &priya, now())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "no_workspace");
}
