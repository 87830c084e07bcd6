//! End-to-end against a scripted GitHub (wiremock, in this test's process):
//! a release manager connects GitHub, tests the token, binds a service's
//! production stage to a repository, refreshes the dashboard and sees what
//! GitHub deployed there, with the provider named and its run linked; then
//! binds demo-web's dev stage to a deploying workflow and promotes through
//! it, watching the run's jobs in the timeline.

use chrono::{Duration, Utc};
use release_desk_e2e::App;
use serde_json::json;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn scripted_github() -> MockServer {
    let server = MockServer::start().await;
    let reset = (Utc::now() + Duration::hours(1)).timestamp().to_string();
    let limits = |t: ResponseTemplate| {
        t.insert_header("x-ratelimit-limit", "5000")
            .insert_header("x-ratelimit-remaining", "4990")
            .insert_header("x-ratelimit-reset", reset.as_str())
    };
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(
            limits(ResponseTemplate::new(200))
                .insert_header("x-oauth-scopes", "repo, workflow")
                .set_body_json(json!({"login": "octocat", "name": "The Octocat"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rate_limit"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "resources": {}, "rate": {"limit": 5000, "remaining": 4990, "reset": Utc::now().timestamp() + 3600, "used": 10}
        })))
        .mount(&server)
        .await;
    let at = Utc::now() - Duration::minutes(3);
    Mock::given(method("GET"))
        .and(path("/repos/acme/appointments-api/deployments"))
        .respond_with(limits(ResponseTemplate::new(200)).set_body_json(json!([
            {"id": 9001, "ref": "v9.0.0", "sha": "9f1c2e3d4c5b", "environment": "production",
             "payload": {"version": "9.0.0", "digest": format!("sha256:{}", "9a".repeat(32))},
             "creator": {"login": "octocat"}, "created_at": at.to_rfc3339()}
        ])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/repos/acme/appointments-api/deployments/9001/statuses",
        ))
        .respond_with(limits(ResponseTemplate::new(200)).set_body_json(json!([
            {"state": "success", "updated_at": (at + Duration::minutes(2)).to_rfc3339(),
             "log_url": "https://github.com/acme/appointments-api/actions/runs/4242"}
        ])))
        .mount(&server)
        .await;
    // A run waits on the reviewers of appointments-api's production
    // environment; the review the desk sends is taken.
    Mock::given(method("GET"))
        .and(path("/repos/acme/appointments-api/actions/runs"))
        .respond_with(limits(ResponseTemplate::new(200)).set_body_json(json!({
            "total_count": 1,
            "workflow_runs": [{"id": 4343, "name": "Deploy", "display_title": "Deploy 9.1.0",
                "run_number": 44, "status": "waiting", "conclusion": null, "head_sha": "7e6d5c4b3a29",
                "html_url": "https://github.com/acme/appointments-api/actions/runs/4343",
                "created_at": (Utc::now() - Duration::minutes(20)).to_rfc3339()}]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/repos/acme/appointments-api/actions/runs/4343/pending_deployments",
        ))
        .respond_with(limits(ResponseTemplate::new(200)).set_body_json(json!([
            {"environment": {"id": 9, "name": "production"}, "wait_timer": 5,
             "current_user_can_approve": true,
             "reviewers": [{"type": "User", "reviewer": {"login": "octocat"}},
                           {"type": "Team", "reviewer": {"slug": "platform"}}]}
        ])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/repos/acme/appointments-api/actions/runs/4343/pending_deployments",
        ))
        .respond_with(limits(ResponseTemplate::new(200)).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/demo-web/actions/runs"))
        .respond_with(
            limits(ResponseTemplate::new(200))
                .set_body_json(json!({"total_count": 0, "workflow_runs": []})),
        )
        .mount(&server)
        .await;
    // demo-web deploys to dev through deploy.yml: no run carries a key yet,
    // the dispatch answers with the run (return_run_details), and the run
    // is in progress for two looks, then succeeds.
    Mock::given(method("GET"))
        .and(path_regex(
            r"^/repos/acme/demo-web/actions/workflows/deploy\.yml/runs$",
        ))
        .respond_with(
            limits(ResponseTemplate::new(200))
                .set_body_json(json!({"total_count": 0, "workflow_runs": []})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/demo-web/deployments"))
        .respond_with(limits(ResponseTemplate::new(200)).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/repos/acme/demo-web/actions/workflows/deploy.yml/dispatches",
        ))
        .respond_with(limits(ResponseTemplate::new(200)).set_body_json(json!({
            "workflow_run_id": 777,
            "run_url": format!("{}/repos/acme/demo-web/actions/runs/777", server.uri()),
            "html_url": "https://github.com/acme/demo-web/actions/runs/777"
        })))
        .mount(&server)
        .await;
    let run = |status: &str, conclusion: Option<&str>| {
        json!({"id": 777, "name": "Deploy", "display_title": "Release Desk key",
               "run_number": 12, "status": status, "conclusion": conclusion,
               "head_sha": "9f1c2e3d4c5b", "html_url": "https://github.com/acme/demo-web/actions/runs/777",
               "created_at": Utc::now().to_rfc3339()})
    };
    Mock::given(method("GET"))
        .and(path("/repos/acme/demo-web/actions/runs/777"))
        .respond_with(limits(ResponseTemplate::new(200)).set_body_json(run("in_progress", None)))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/demo-web/actions/runs/777"))
        .respond_with(
            limits(ResponseTemplate::new(200)).set_body_json(run("completed", Some("success"))),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/demo-web/actions/runs/777/jobs"))
        .respond_with(limits(ResponseTemplate::new(200)).set_body_json(json!({"total_count": 2, "jobs": [
            {"name": "verify", "status": "completed", "conclusion": "success", "steps": [
                {"name": "Check the signature and digest", "status": "completed", "conclusion": "success"}]},
            {"name": "deploy (dev)", "status": "completed", "conclusion": "success", "steps": [
                {"name": "Pull sha256 image", "status": "completed", "conclusion": "success"},
                {"name": "Switch the service", "status": "completed", "conclusion": "success"}]}
        ]})))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn github_deployments_reach_the_dashboard() {
    release_desk_e2e::within_limit(github_deployments_reach_the_dashboard_steps()).await;
}

async fn github_deployments_reach_the_dashboard_steps() {
    let github = scripted_github().await;
    let dir = tempfile::tempdir().unwrap();
    let app = App::launch(dir.path()).await;
    app.click("[data-testid=load-demo]").await;
    app.wait_for("[data-testid=matrix]").await;
    app.click("[data-testid=current-profile]").await;
    app.click_text("[data-testid=profile-choice]", "Priya Shah")
        .await;
    app.wait_for_text("[data-testid=current-profile]", "Priya Shah")
        .await;
    app.click("nav a[href='/settings']").await;

    // Connect GitHub (the scripted one on this computer) and test the token.
    app.click("[data-testid=add-connection]").await;
    app.type_into("[data-testid=connection-name]", "acme").await;
    app.type_into("[data-testid=connection-url]", &github.uri())
        .await;
    app.click("[data-testid=save-connection]").await;
    app.wait_for_text("[data-testid=connection]", "acme").await;
    app.click("[data-testid=edit-connection-token]").await;
    let token = format!("ghp_sync_{}", std::process::id());
    app.wait_for("[data-testid=connection-token]")
        .await
        .send_keys(&token)
        .await
        .unwrap();
    app.press("\u{e007}").await;
    app.wait_for_text("[data-testid=token-state]", "Token set")
        .await;
    app.click("[data-testid=test-connection]").await;
    let who = app
        .wait_for_text("[data-testid=connection-identity]", "octocat")
        .await;
    assert!(who.contains("scopes: repo, workflow"), "{who}");
    let sent = github.received_requests().await.unwrap();
    let user = sent.iter().find(|r| r.url.path() == "/user").unwrap();
    assert_eq!(
        user.headers.get("authorization").unwrap().to_str().unwrap(),
        format!("Bearer {token}"),
        "the token from the keyring reached GitHub"
    );

    // Bind appointments-api in production to its repository.
    app.click("[data-testid=add-binding]").await;
    app.wait_for("[data-testid=add-binding-form]").await;
    app.click("[data-testid=binding-service] option[value=appointments-api]")
        .await;
    app.click("[data-testid=binding-stage] option[value=production]")
        .await;
    app.type_into("[data-testid=binding-repository]", "acme/appointments-api")
        .await;
    app.click("[data-testid=save-binding]").await;
    let binding = app.wait_for_text("[data-testid=binding]", "acme").await;
    assert!(
        binding.contains("repository acme/appointments-api"),
        "{binding}"
    );
    app.screenshot("13-connections-and-bindings").await;
    assert!(
        !app.client.source().await.unwrap().contains(&token),
        "the token never comes back to the webview"
    );

    // Refresh on the dashboard syncs: GitHub's deployment is the cell's.
    app.click("nav a[href='/']").await;
    app.wait_for("[data-testid=matrix]").await;
    app.click("[data-testid=refresh]").await;
    app.wait_for_text("[data-testid=sync-status]", "GitHub acme: synced")
        .await;
    let cell = "[data-testid=cell][data-service=appointments-api][data-environment=production]";
    app.wait_for_dom_text(&format!("{cell} [data-testid=cell-version]"), "9.0.0")
        .await;
    app.screenshot("13b-dashboard-synced-from-github").await;
    app.click(cell).await;
    let source = app
        .wait_for_dom_text("[data-testid=history-source]", "via acme")
        .await;
    assert!(source.contains("acme"));
    let link = app
        .wait_for_dom_text("[data-testid=history-link]", "runs/4242")
        .await;
    assert!(link.contains("actions/runs/4242"), "{link}");
    app.screenshot("13c-history-from-github").await;

    // GitHub's run waiting on production's reviewers is in the queue. The
    // desk's policy for production asks a change manager and a service
    // owner: GitHub's review is sent only once both approved here.
    app.press("\u{e00c}").await; // Escape closes the drawer
    for (who, sent) in [("Tom Okafor", false), ("Aisha Rahman", true)] {
        app.click("[data-testid=current-profile]").await;
        app.click_text("[data-testid=profile-choice]", who).await;
        app.wait_for_text("[data-testid=current-profile]", who)
            .await;
        app.click("nav a[href='/approvals']").await;
        let card = app
            .wait_for_dom_text("[data-testid=provider-approval]", "Deploy 9.1.0")
            .await;
        assert!(card.contains("octocat, team platform"), "{card}");
        if !sent {
            app.screenshot("13e-github-approval-in-the-queue").await;
        }
        app.click("[data-testid=provider-approve]").await;
        app.wait_for("[data-testid=decision-dialog]").await;
        app.click("[data-testid=decision-dialog] button[type=submit]")
            .await;
        // The dialog closes once the decision is recorded; one that stays
        // open says why it was not.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let open = app.all("[data-testid=decision-dialog][open]").await;
            let Some(dialog) = open.first() else { break };
            assert!(
                std::time::Instant::now() < deadline,
                "the decision was not recorded: {}",
                dialog.text().await.unwrap_or_default()
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let posted = |r: &&wiremock::Request| {
            r.method.as_str() == "POST" && r.url.path().ends_with("/4343/pending_deployments")
        };
        if sent {
            app.wait_for_dom_text("[data-testid=provider-approvals]", "Approved Deploy 9.1.0")
                .await;
            let sent = github.received_requests().await.unwrap();
            let review = sent.iter().find(posted).expect("GitHub's review was sent");
            let body: serde_json::Value = serde_json::from_slice(&review.body).unwrap();
            assert_eq!(body["state"], "approved");
            assert_eq!(body["environment_ids"], json!([9]));
            assert!(body["comment"].as_str().unwrap().contains("Aisha Rahman"));
        } else {
            app.wait_for_dom_text("[data-testid=provider-approvals]", "once the rest approve")
                .await;
            let sent = github.received_requests().await.unwrap();
            assert!(
                !sent.iter().any(|r| posted(&r)),
                "one approval of two sends nothing to GitHub"
            );
        }
    }
    app.click("[data-testid=current-profile]").await;
    app.click_text("[data-testid=profile-choice]", "Priya Shah")
        .await;
    app.wait_for_text("[data-testid=current-profile]", "Priya Shah")
        .await;

    // Bind demo-web's dev stage to the workflow that deploys it, and
    // promote through it: the desk dispatches and follows the run.
    app.press("\u{e00c}").await; // Escape closes the drawer
    app.click("nav a[href='/settings']").await;
    app.click("[data-testid=add-binding]").await;
    app.wait_for("[data-testid=add-binding-form]").await;
    app.click("[data-testid=binding-service] option[value=demo-web]")
        .await;
    app.click("[data-testid=binding-stage] option[value=dev]")
        .await;
    app.type_into("[data-testid=binding-repository]", "acme/demo-web")
        .await;
    app.type_into("[data-testid=binding-workflow]", "deploy.yml")
        .await;
    app.click("[data-testid=save-binding]").await;
    let rows = app.wait_for_count("[data-testid=binding]", 2).await;
    let mut texts = Vec::new();
    for r in rows {
        texts.push(r.text().await.unwrap());
    }
    assert!(
        texts.iter().any(|t| t.contains("deploy.yml")),
        "the workflow binding is listed: {texts:?}"
    );
    app.click("nav a[href='/promote']").await;
    app.wait_for("[data-testid=gates]").await;
    app.set_value("[data-testid=promote-version]", "1.1.0")
        .await;
    app.set_value("[data-testid=promote-environment]", "dev")
        .await;
    let through = app
        .wait_for_dom_text("[data-testid=promote-through]", "deploy.yml")
        .await;
    assert!(through.contains("acme · deploy.yml"), "{through}");
    app.wait_for("[data-testid=promote-button]:not([disabled])")
        .await;
    app.click("[data-testid=promote-button]").await;
    let dialog = app.wait_for("[data-testid=confirm-promotion]").await;
    let text = dialog.text().await.unwrap();
    assert!(
        text.contains("Run the acme · deploy.yml workflow"),
        "{text}"
    );
    app.click("[data-testid=confirm-promote]").await;
    app.wait_for("[data-testid=timeline][data-phase=succeeded]")
        .await;
    let jobs = app
        .wait_for_dom_text("[data-testid=run-jobs]", "deploy (dev)")
        .await;
    assert!(jobs.contains("Check the signature and digest"), "{jobs}");
    app.screenshot("13d-promote-through-a-github-workflow")
        .await;
    let sent = github.received_requests().await.unwrap();
    let dispatches: Vec<_> = sent
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/dispatches"))
        .collect();
    assert_eq!(dispatches.len(), 1, "one dispatch for one promotion");
    let body: serde_json::Value = serde_json::from_slice(&dispatches[0].body).unwrap();
    assert_eq!(body["inputs"]["version"], "1.1.0");
    assert_eq!(body["inputs"]["environment"], "dev");
    assert!(body["inputs"]["digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert!(body["inputs"]["action_key"]
        .as_str()
        .unwrap()
        .starts_with("promotion-"));

    // Clean up the keyring entry: removing the connection removes its token.
    app.click("nav a[href='/settings']").await;
    app.click("[data-testid=connection] .btn.danger").await;
    app.click_text("[data-testid=connection] .btn.danger", "Remove connection")
        .await;
    app.wait_for("[data-testid=no-connections]").await;
    app.quit().await;
}
