//! The adapter's real requests against GitHub's own OpenAPI description,
//! served by Prism with request validation on: a request GitHub's
//! description rejects fails here. (Prism checks requests and answers with
//! the description's examples; behaviour lives in tests/behaviour.rs.)

use release_desk_github::{api_root, GitHub, API_VERSION};
use release_desk_http::{Auth, ClientConfig, HttpErrorKind, Method};
use release_desk_provider::{
    ActionKey, ApprovalSource, BindingSettings, DeploymentHistory, Identity, PipelineDeploy,
    PipelineRequest, Verdict,
};
use release_desk_test_servers::prism;
use secrecy::SecretString;

const SPEC: &str = "github/api.github.com.json";

fn github(extra: &[(&str, &str)]) -> GitHub {
    let base = prism(SPEC).base_url;
    let mut config = ClientConfig::new(
        "GitHub contract",
        api_root(&base),
        Auth::Bearer(SecretString::from("ghp_contract".to_string())),
    );
    config.headers = vec![
        (
            "accept".into(),
            "application/vnd.github+json, application/json".into(),
        ),
        ("x-github-api-version".into(), API_VERSION.into()),
    ];
    for (k, v) in extra {
        config.headers.push((k.to_string(), v.to_string()));
    }
    GitHub::with_config(config).unwrap()
}

fn binding() -> BindingSettings {
    BindingSettings::from([
        ("repository".into(), "acme/shop".into()),
        ("environment".into(), "production".into()),
        ("workflow".into(), "deploy.yml".into()),
        ("ref".into(), "main".into()),
    ])
}

#[tokio::test]
async fn who_the_token_is_and_its_rate_limit() {
    let me = github(&[]).whoami().await.unwrap();
    assert!(!me.login.is_empty());
    assert!(
        me.details.iter().any(|d| d.starts_with("rate limit:")),
        "{:?}",
        me.details
    );
}

#[tokio::test]
async fn deployments_of_an_environment_with_their_latest_status() {
    let list = github(&[]).deployments(&binding()).await.unwrap();
    assert!(!list.is_empty(), "GitHub's example lists a deployment");
    assert!(list
        .iter()
        .all(|d| d.provider_id.starts_with("acme/shop/deployments/")));
}

#[tokio::test]
async fn waiting_runs_their_pending_deployments_and_a_review() {
    // GitHub's own example for pending_deployments fails its schema, so this
    // test asks Prism for answers generated from the schema instead.
    let gh = github(&[("prefer", "dynamic=true")]);
    let mut b = binding();
    b.remove("environment");
    let pending = gh.pending_approvals(&b).await.unwrap();
    let approval =
        pending
            .into_iter()
            .next()
            .unwrap_or_else(|| release_desk_provider::PendingApproval {
                provider_id: "acme/shop/runs/1/environments/2".into(),
                environment: "production".into(),
                title: "Deploy".into(),
                commit: None,
                reviewers: vec![],
                wait_timer_minutes: None,
                can_approve: true,
                requested_at: None,
                link: None,
                reference: BindingSettings::from([
                    ("repository".into(), "acme/shop".into()),
                    ("run_id".into(), "1".into()),
                    ("environment_id".into(), "2".into()),
                ]),
            });
    github(&[])
        .decide(&approval, Verdict::Approve, "Approved in Release Desk")
        .await
        .unwrap();
    github(&[])
        .decide(&approval, Verdict::Reject, "Not in the window")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_workflow_is_dispatched_with_its_inputs_and_followed() {
    let gh = github(&[]);
    let key = ActionKey::new("promotion-k1/deploy/1").unwrap();
    let request = PipelineRequest {
        version: "1.4.2".into(),
        digest: release_desk_domain::Digest::parse(&"ab".repeat(32)).unwrap(),
        environment: "production".into(),
    };
    let run = gh.start_run(&key, &binding(), &request).await.unwrap();
    assert!(!run.id.is_empty());
    // GitHub's example of a job lacks its required created_at: answers
    // generated from the schema instead.
    let progress = github(&[("prefer", "dynamic=true")])
        .poll_run(&binding(), &run)
        .await
        .unwrap();
    assert!(progress.link.is_some());
}

#[tokio::test]
async fn what_ships_between_two_versions() {
    use release_desk_provider::CommitHistory;
    let shipped = github(&[])
        .compare(&binding(), "v1.4.1", "v1.4.2")
        .await
        .unwrap();
    assert!(
        !shipped.commits.is_empty(),
        "GitHub's example lists commits"
    );
    assert!(shipped.commits.iter().all(|c| !c.sha.is_empty()));
}

#[tokio::test]
async fn prism_rejects_what_github_would_so_these_tests_can_fail() {
    let gh = github(&[]);
    let err = gh
        .http()
        .send(
            Method::Post,
            "POST dispatches",
            "/repos/acme/shop/actions/workflows/deploy.yml/dispatches",
            Some(&serde_json::json!({"inputs": {}})),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind, HttpErrorKind::Rejected { status: 422 }),
        "{err:?}"
    );
    let err = gh
        .http()
        .get(
            "GET deployments",
            "/repos/acme/shop/deployments?per_page=lots",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind, HttpErrorKind::Rejected { .. }),
        "{err:?}"
    );
}
