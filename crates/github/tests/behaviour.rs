//! How the GitHub adapter behaves against a scripted GitHub (wiremock):
//! runs found by their key instead of started twice, a dispatch never
//! repeated, runs followed, deployments and approvals read, re-syncs that
//! cost only 304s.

use std::time::Duration;

use release_desk_github::GitHub;
use release_desk_http::{Auth, ClientConfig, RetryPolicy};
use release_desk_provider::{
    ActionKey, ApprovalSource, BindingSettings, DeploymentHistory, ObservedOutcome, PipelineDeploy,
    PipelineRequest, ProviderErrorKind, RunState,
};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REPO: &str = "/repos/acme/shop";
const KEY: &str = "promotion-k7/deploy/1";

fn github(server: &MockServer) -> GitHub {
    let mut config = ClientConfig::new(
        "GitHub acme",
        server.uri(),
        Auth::Bearer(SecretString::from("ghp_behaviour".to_string())),
    );
    config.policy = RetryPolicy {
        max_attempts: 3,
        base: Duration::from_millis(10),
        cap: Duration::from_millis(20),
        max_wait: Duration::from_secs(2),
    };
    GitHub::with_config(config)
        .unwrap()
        .with_dispatch_wait(Duration::from_millis(1500))
}

fn binding() -> BindingSettings {
    BindingSettings::from([
        ("repository".into(), "acme/shop".into()),
        ("environment".into(), "production".into()),
        ("workflow".into(), "deploy.yml".into()),
    ])
}

fn request() -> PipelineRequest {
    PipelineRequest {
        version: "1.4.2".into(),
        digest: release_desk_domain::Digest::parse(&"cd".repeat(32)).unwrap(),
        environment: "production".into(),
    }
}

fn run(id: i64, title: &str, status: &str, conclusion: Option<&str>) -> serde_json::Value {
    json!({
        "id": id, "name": "Deploy", "display_title": title, "run_number": id,
        "status": status, "conclusion": conclusion, "head_sha": "9f1c2e",
        "html_url": format!("https://github.com/acme/shop/actions/runs/{id}"),
        "created_at": "2026-12-03T10:00:00Z"
    })
}

async fn runs_list(server: &MockServer, runs: Vec<serde_json::Value>) {
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/actions/workflows/deploy.yml/runs")))
        .and(query_param("event", "workflow_dispatch"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_count": runs.len(), "workflow_runs": runs
        })))
        .mount(server)
        .await;
}

async fn dispatches(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().ends_with("/dispatches"))
        .count()
}

#[tokio::test]
async fn a_run_started_before_a_crash_is_found_by_its_key_and_not_started_again() {
    let server = MockServer::start().await;
    runs_list(
        &server,
        vec![
            run(
                11,
                "Release Desk promotion-k7/deploy/2",
                "completed",
                Some("success"),
            ),
            run(12, &format!("Release Desk {KEY}"), "in_progress", None),
        ],
    )
    .await;
    let gh = github(&server);
    let key = ActionKey::new(KEY).unwrap();
    let handle = gh.start_run(&key, &binding(), &request()).await.unwrap();
    assert_eq!(handle.id, "12");
    assert_eq!(
        dispatches(&server).await,
        0,
        "dispatched a second deployment"
    );
}

#[tokio::test]
async fn a_dispatch_sends_the_inputs_and_uses_the_run_github_names() {
    let server = MockServer::start().await;
    runs_list(&server, vec![]).await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/actions/workflows/deploy.yml/dispatches")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "workflow_run_id": 77, "run_url": "x", "html_url": "https://github.com/acme/shop/actions/runs/77"
        })))
        .mount(&server)
        .await;
    let key = ActionKey::new(KEY).unwrap();
    let handle = github(&server)
        .start_run(&key, &binding(), &request())
        .await
        .unwrap();
    assert_eq!(handle.id, "77");
    let sent = server.received_requests().await.unwrap();
    let dispatch = sent
        .iter()
        .find(|r| r.url.path().ends_with("/dispatches"))
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&dispatch.body).unwrap();
    assert_eq!(body["ref"], "main");
    assert_eq!(body["inputs"]["action_key"], KEY);
    assert_eq!(body["inputs"]["version"], "1.4.2");
    assert_eq!(
        body["inputs"]["digest"],
        format!("sha256:{}", "cd".repeat(32))
    );
    assert_eq!(body["return_run_details"], true);
}

#[tokio::test]
async fn after_a_204_the_run_is_found_by_its_key_or_the_promotion_stops_without_dispatching_again()
{
    // The run shows up a moment after the 204.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/actions/workflows/deploy.yml/runs")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"total_count": 0, "workflow_runs": []})),
        )
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    runs_list(
        &server,
        vec![run(90, &format!("Release Desk {KEY}"), "queued", None)],
    )
    .await;
    Mock::given(method("POST"))
        .and(path(format!(
            "{REPO}/actions/workflows/deploy.yml/dispatches"
        )))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let key = ActionKey::new(KEY).unwrap();
    let handle = github(&server)
        .start_run(&key, &binding(), &request())
        .await
        .unwrap();
    assert_eq!(handle.id, "90");
    assert_eq!(dispatches(&server).await, 1);

    // A workflow that does not name its run after the key is never found:
    // the promotion stops and says how to fix the workflow.
    let server = MockServer::start().await;
    runs_list(&server, vec![run(91, "Deploy", "queued", None)]).await;
    Mock::given(method("POST"))
        .and(path(format!(
            "{REPO}/actions/workflows/deploy.yml/dispatches"
        )))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let err = github(&server)
        .start_run(&key, &binding(), &request())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Refused, "{err:?}");
    assert!(err.message.contains("run-name"), "{}", err.message);
    assert_eq!(dispatches(&server).await, 1);
}

#[tokio::test]
async fn a_dispatch_without_a_clear_answer_is_not_repeated() {
    let server = MockServer::start().await;
    runs_list(&server, vec![]).await;
    Mock::given(method("POST"))
        .and(path(format!(
            "{REPO}/actions/workflows/deploy.yml/dispatches"
        )))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let key = ActionKey::new(KEY).unwrap();
    let err = github(&server)
        .start_run(&key, &binding(), &request())
        .await
        .unwrap_err();
    // Outcome unknown, as after a deadline: the engine's next try calls
    // start_run again, which looks for the key before dispatching.
    assert_eq!(err.kind, ProviderErrorKind::Timeout, "{err:?}");
    assert_eq!(dispatches(&server).await, 1);
}

#[tokio::test]
async fn a_run_is_followed_through_its_jobs_and_steps() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/actions/runs/12")))
        .respond_with(ResponseTemplate::new(200).set_body_json(run(12, "t", "waiting", None)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/actions/runs/12/jobs")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"total_count": 1, "jobs": [
                {"name": "deploy", "status": "in_progress", "conclusion": null, "steps": [
                    {"name": "Pull image", "status": "completed", "conclusion": "success"},
                    {"name": "Switch traffic", "status": "queued", "conclusion": null}
                ]}
            ]})),
        )
        .mount(&server)
        .await;
    let handle = release_desk_provider::RunHandle {
        id: "12".into(),
        link: None,
    };
    let p = github(&server).poll_run(&binding(), &handle).await.unwrap();
    assert!(
        matches!(&p.state, RunState::Waiting(w) if w.contains("production")),
        "{:?}",
        p.state
    );
    assert_eq!(p.jobs[0].steps[0].status, "success");
    assert_eq!(p.jobs[0].steps[1].status, "queued");
}

#[tokio::test]
async fn deployments_are_read_with_their_outcome_and_an_unchanged_resync_costs_only_304s() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/deployments")))
        .and(query_param("environment", "production"))
        .respond_with(ResponseTemplate::new(200).insert_header("etag", "\"d1\"").set_body_json(json!([
            {"id": 2, "ref": "v1.4.2", "sha": "9f1c2e", "environment": "production",
             "payload": {"version": "1.4.2", "digest": format!("sha256:{}", "ab".repeat(32))},
             "creator": {"login": "octocat"}, "created_at": "2026-12-02T09:00:00Z"},
            {"id": 1, "ref": "v1.4.1", "sha": "8e0b1d", "environment": "production", "payload": {},
             "creator": null, "created_at": "2026-12-01T09:00:00Z"}
        ])))
        .mount(&server)
        .await;
    for (id, state) in [(2, "success"), (1, "inactive")] {
        Mock::given(method("GET"))
            .and(path(format!("{REPO}/deployments/{id}/statuses")))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("etag", format!("\"s{id}\"").as_str())
                    .set_body_json(json!([
                        {"state": state, "updated_at": "2026-12-02T09:05:00Z",
                         "log_url": format!("https://github.com/acme/shop/actions/runs/{id}")}
                    ])),
            )
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(wiremock::matchers::header_exists("if-none-match"))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .mount(&server)
        .await;
    let gh = github(&server);
    let first = gh.deployments(&binding()).await.unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].version, "1.4.2");
    assert!(first[0].digest.is_some());
    assert_eq!(first[0].outcome, ObservedOutcome::Succeeded);
    assert_eq!(first[0].created_by.as_deref(), Some("octocat"));
    assert_eq!(first[1].version, "v1.4.1");
    assert_eq!(first[1].outcome, ObservedOutcome::Inactive);
    let before = gh.http().stats().requests;
    let again = gh.deployments(&binding()).await.unwrap();
    assert_eq!(again, first);
    // One conditional request for the list; both deployments had finished,
    // so their statuses are not asked again.
    assert_eq!(
        gh.http().stats().requests - before,
        1,
        "the re-sync asked more than the list"
    );
    assert_eq!(
        gh.http().stats().not_modified,
        1,
        "the re-sync was not conditional"
    );
}

#[tokio::test]
async fn an_unchanged_list_still_asks_again_about_deployments_that_had_not_finished() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/deployments")))
        .respond_with(ResponseTemplate::new(200).insert_header("etag", "\"d1\"").set_body_json(json!([
            {"id": 3, "ref": "v2.0.0", "sha": "9f1c2e", "environment": "production", "payload": {},
             "creator": null, "created_at": "2026-12-02T09:00:00Z"}
        ])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/deployments/3/statuses")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"state": "in_progress", "updated_at": "2026-12-02T09:01:00Z"}
        ])))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/deployments/3/statuses")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"state": "success", "updated_at": "2026-12-02T09:05:00Z"}
        ])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::header("if-none-match", "\"d1\""))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .mount(&server)
        .await;
    let gh = github(&server);
    assert_eq!(
        gh.deployments(&binding()).await.unwrap()[0].outcome,
        ObservedOutcome::InProgress
    );
    assert_eq!(
        gh.deployments(&binding()).await.unwrap()[0].outcome,
        ObservedOutcome::Succeeded
    );
    assert_eq!(gh.http().stats().not_modified, 1);
}

#[tokio::test]
async fn approvals_waiting_on_an_environment_name_their_reviewers_and_filter_by_environment() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/actions/runs")))
        .and(query_param("status", "waiting"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"total_count": 1, "workflow_runs": [
                run(40, "Deploy 1.4.2", "waiting", None)
            ]}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/actions/runs/40/pending_deployments")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"environment": {"id": 7, "name": "production"}, "wait_timer": 30, "wait_timer_started_at": null,
             "current_user_can_approve": true, "reviewers": [
                {"type": "User", "reviewer": {"login": "sam"}},
                {"type": "Team", "reviewer": {"slug": "release-managers", "name": "Release managers"}}
             ]},
            {"environment": {"id": 5, "name": "staging"}, "wait_timer": 0, "wait_timer_started_at": null,
             "current_user_can_approve": false, "reviewers": []}
        ])))
        .mount(&server)
        .await;
    let pending = github(&server).pending_approvals(&binding()).await.unwrap();
    assert_eq!(pending.len(), 1, "staging is another binding's");
    let p = &pending[0];
    assert_eq!(p.environment, "production");
    assert_eq!(p.reviewers, ["sam", "team release-managers"]);
    assert_eq!(p.wait_timer_minutes, Some(30));
    assert_eq!(p.title, "Deploy 1.4.2 (run #40)");
    assert_eq!(p.reference["environment_id"], "7");
}

#[tokio::test]
async fn a_deactivated_deployment_keeps_how_it_ended() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/deployments")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 4, "ref": "v3.0.0", "sha": "9f1c2e", "environment": "production", "payload": {},
             "creator": null, "created_at": "2026-12-02T09:00:00Z"}
        ])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/deployments/4/statuses")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"state": "inactive", "updated_at": "2026-12-03T09:00:00Z"},
            {"state": "failure", "updated_at": "2026-12-02T09:04:00Z"},
            {"state": "in_progress", "updated_at": "2026-12-02T09:01:00Z"}
        ])))
        .mount(&server)
        .await;
    let d = github(&server).deployments(&binding()).await.unwrap();
    assert_eq!(
        d[0].outcome,
        ObservedOutcome::Failed,
        "a failed deployment deactivated later is not a success"
    );
    assert_eq!(
        d[0].updated_at.unwrap().to_rfc3339(),
        "2026-12-02T09:04:00+00:00"
    );
}

#[tokio::test]
async fn a_dispatch_without_a_clear_answer_finds_the_run_it_started() {
    let server = MockServer::start().await;
    // The run list lags the dispatch: empty at first, then the run.
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/actions/workflows/deploy.yml/runs")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"total_count": 0, "workflow_runs": []})),
        )
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    runs_list(
        &server,
        vec![run(95, &format!("Release Desk {KEY}"), "queued", None)],
    )
    .await;
    Mock::given(method("POST"))
        .and(path(format!(
            "{REPO}/actions/workflows/deploy.yml/dispatches"
        )))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let key = ActionKey::new(KEY).unwrap();
    let handle = github(&server)
        .start_run(&key, &binding(), &request())
        .await
        .unwrap();
    assert_eq!(
        handle.id, "95",
        "the run GitHub started despite the 502 was found"
    );
    assert_eq!(dispatches(&server).await, 1);
}
