//! A sync of a GitHub connection into a real SQLite file, against a
//! scripted GitHub (wiremock): what GitHub reports reaches the dashboard's
//! table with its provider named; a binding whose repository refuses the
//! token records why and the others still sync.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::Utc;
use release_desk_changes::ProfileDraft;
use release_desk_connections::{BindingDraft, ConnectionDraft, ConnectionKind};
use release_desk_domain::Slug;
use release_desk_store::{HistoryPage, Store, DATABASE_FILE};
use release_desk_sync::{connect, sync, SyncProgress};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn slug(s: &str) -> Slug {
    Slug::parse(s).unwrap()
}

/// The demo workspace in a real SQLite file, a person holding `role`, and a
/// scripted GitHub.
async fn demo_with(
    name: &str,
    role: &str,
) -> (
    tempfile::TempDir,
    Store,
    release_desk_changes::Profile,
    MockServer,
) {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(&dir.path().join(DATABASE_FILE)).await.unwrap();
    let now = Utc::now();
    store
        .load_workspace(&release_desk_demo::demo_workspace(now), now)
        .await
        .unwrap();
    let person = person(&store, name, role).await;
    (dir, store, person, MockServer::start().await)
}

async fn person(store: &Store, name: &str, role: &str) -> release_desk_changes::Profile {
    store
        .create_profile(
            ProfileDraft {
                name: name.into(),
                email: format!("{}@acme-health.example", name.to_lowercase()),
                roles: vec![slug(role)],
            },
            Utc::now(),
        )
        .await
        .unwrap()
}

/// A GitHub connection named "acme" to the scripted server.
async fn acme(
    store: &Store,
    server: &MockServer,
    by: &release_desk_changes::Profile,
) -> release_desk_connections::Connection {
    store
        .add_connection(
            ConnectionDraft {
                kind: ConnectionKind::Github,
                name: "acme".into(),
                base_url: Some(server.uri()),
                settings: BTreeMap::new(),
                reach: None,
            },
            by,
            Utc::now(),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn a_sync_fills_the_cache_and_one_failing_binding_does_not_stop_the_others() {
    let (_dir, store, priya, server) = demo_with("Priya", "release-manager").await;
    let now = Utc::now();
    let connection = acme(&store, &server, &priya).await;
    let version = store
        .artefact_choices()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.key == slug("payments-api"))
        .unwrap()
        .artefacts[0]
        .clone();
    for (env, repo) in [("production", "payments-api"), ("dev", "gone")] {
        store
            .add_binding(
                BindingDraft {
                    service: slug("payments-api"),
                    environment: slug(env),
                    connection: connection.id,
                    settings: BTreeMap::from([("repository".into(), format!("acme/{repo}"))]),
                },
                &priya,
                now,
            )
            .await
            .unwrap();
    }
    Mock::given(method("GET"))
        .and(path("/repos/acme/payments-api/deployments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 501, "ref": "main", "sha": "9f1c2e3", "environment": "production",
             "payload": {"version": version.version, "digest": version.digest.to_string()},
             "creator": {"login": "octocat"}, "created_at": (now + chrono::Duration::minutes(1)).to_rfc3339()}
        ])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/payments-api/deployments/501/statuses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"state": "success", "updated_at": (now + chrono::Duration::minutes(2)).to_rfc3339(),
             "log_url": "https://github.com/acme/payments-api/actions/runs/9"}
        ])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/payments-api/actions/runs"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"total_count": 0, "workflow_runs": []})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/repos/acme/gone/.*"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&server)
        .await;

    let connected = connect(&connection, SecretString::from("ghp_sync_test".to_string())).unwrap();
    let seen = Mutex::new(Vec::<SyncProgress>::new());
    let report = sync(&store, &connection, &connected, Utc::now, |p| {
        seen.lock().unwrap().push(p)
    })
    .await
    .unwrap();
    assert!(report.failed());
    let prod = report
        .bindings
        .iter()
        .find(|b| b.environment == "production")
        .unwrap();
    assert_eq!(prod.counts.as_ref().unwrap().inserted, 1);
    let dev = report
        .bindings
        .iter()
        .find(|b| b.environment == "dev")
        .unwrap();
    let why = dev.error.as_deref().unwrap();
    assert!(why.contains("404") && why.contains("binding"), "{why}");
    let progress = seen.into_inner().unwrap();
    assert_eq!(progress.last().map(|p| (p.done, p.total)), Some((2, 2)));

    let history = store
        .cell_history(
            &slug("payments-api"),
            &slug("production"),
            &HistoryPage::default(),
        )
        .await
        .unwrap();
    let newest = &history.entries[0];
    assert_eq!(newest.source.as_deref(), Some("acme"));
    assert!(newest.digest_confirmed);
    assert_eq!(newest.actor, "octocat via acme");
    let fresh = store.connection_freshness().await.unwrap();
    assert_eq!(fresh[0].bindings, 2);
    assert!(fresh[0]
        .last_error
        .as_deref()
        .is_some_and(|e| e.contains("404")));

    // Again, unchanged: nothing new.
    let again = sync(&store, &connection, &connected, Utc::now, |_| {})
        .await
        .unwrap();
    let prod = again
        .bindings
        .iter()
        .find(|b| b.environment == "production")
        .unwrap();
    assert_eq!(prod.counts.as_ref().unwrap().unchanged, 1);
}

#[tokio::test]
async fn adapters_are_kept_between_syncs_so_an_unchanged_provider_costs_304s_until_the_token_changes(
) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::header_exists("if-none-match"))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"u1\"")
                .set_body_json(json!({"login": "octocat", "name": null})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rate_limit"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"resources": {}, "rate": {"limit": 5000, "remaining": 4999, "reset": 1_900_000_000i64}}),
        ))
        .mount(&server)
        .await;
    let c = release_desk_connections::Connection {
        id: release_desk_connections::ConnectionId(1),
        kind: ConnectionKind::Github,
        name: "acme".into(),
        base_url: server.uri(),
        settings: BTreeMap::new(),
        reach: None,
    };
    let adapters = release_desk_sync::Adapters::default();
    let token = || SecretString::from("ghp_one".to_string());
    for _ in 0..2 {
        let who = adapters.get(&c, token()).unwrap().identity.unwrap();
        assert_eq!(who.whoami().await.unwrap().login, "octocat");
    }
    let conditional = |reqs: &[wiremock::Request]| {
        reqs.iter()
            .filter(|r| r.url.path() == "/user" && r.headers.contains_key("if-none-match"))
            .count()
    };
    assert_eq!(
        conditional(&server.received_requests().await.unwrap()),
        1,
        "the second read was not conditional"
    );
    // A new token: a new adapter, and no ETag of the old token is offered.
    let who = adapters
        .get(&c, SecretString::from("ghp_two".to_string()))
        .unwrap()
        .identity
        .unwrap();
    who.whoami().await.unwrap();
    assert_eq!(conditional(&server.received_requests().await.unwrap()), 1);
    adapters.retain(&[]);
}

#[test]
fn kinds_without_an_adapter_say_so_instead_of_pretending() {
    let c = release_desk_connections::Connection {
        id: release_desk_connections::ConnectionId(1),
        kind: ConnectionKind::Servicenow,
        name: "acme-sn".into(),
        base_url: "https://acme.service-now.com".into(),
        settings: BTreeMap::new(),
        reach: None,
    };
    let err = connect(&c, SecretString::from("x".to_string()))
        .err()
        .unwrap();
    assert!(
        err.message.contains("cannot reach ServiceNow yet"),
        "{}",
        err.message
    );
}

/// A repository's waiting runs are asked once per sync, however many of
/// its stages are bound, and each binding records the approvals of its own
/// GitHub environment.
#[tokio::test]
async fn approvals_are_asked_once_per_repository_and_shared_by_environment() {
    let (_dir, store, priya, server) = demo_with("Priya", "release-manager").await;
    let now = Utc::now();
    let tom = person(&store, "Tom", "change-manager").await;
    let connection = acme(&store, &server, &priya).await;
    for env in ["test", "production"] {
        store
            .add_binding(
                BindingDraft {
                    service: slug("payments-api"),
                    environment: slug(env),
                    connection: connection.id,
                    settings: BTreeMap::from([("repository".into(), "acme/payments-api".into())]),
                },
                &priya,
                now,
            )
            .await
            .unwrap();
    }
    Mock::given(method("GET"))
        .and(path("/repos/acme/payments-api/deployments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/payments-api/actions/runs"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_count": 1,
            "workflow_runs": [{"id": 77, "name": "Deploy", "display_title": "Deploy 2.4.0",
                "run_number": 31, "status": "waiting", "conclusion": null, "head_sha": "9f1c2e3d",
                "html_url": "https://github.com/acme/payments-api/actions/runs/77",
                "created_at": now.to_rfc3339()}]
        })))
        .mount(&server)
        .await;
    let env = |id: u32, name: &str| {
        json!({"environment": {"id": id, "name": name}, "wait_timer": 0,
               "current_user_can_approve": true,
               "reviewers": [{"type": "User", "reviewer": {"login": "octocat"}}]})
    };
    Mock::given(method("GET"))
        .and(path(
            "/repos/acme/payments-api/actions/runs/77/pending_deployments",
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([env(3, "test"), env(7, "production")])),
        )
        .mount(&server)
        .await;

    let connected = connect(&connection, SecretString::from("ghp_sync_test".to_string())).unwrap();
    let report = sync(&store, &connection, &connected, Utc::now, |_| {})
        .await
        .unwrap();
    assert!(!report.failed(), "{report:?}");
    let queue = store.provider_approvals(&tom, Utc::now()).await.unwrap();
    let mut seen: Vec<(String, String)> = queue
        .iter()
        .map(|i| (i.environment.to_string(), i.approval.environment.clone()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("production".to_owned(), "production".to_owned()),
            ("test".to_owned(), "test".to_owned())
        ]
    );
    let asked = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/repos/acme/payments-api/actions/runs")
        .count();
    assert_eq!(asked, 1, "one request for the repository's two stages");
}
