//! End-to-end against a scripted GitHub (wiremock, in this test's process):
//! a release manager connects GitHub, tests the token, binds a service's
//! production stage to a repository, refreshes the dashboard and sees what
//! GitHub deployed there, with the provider named and its run linked.

use chrono::{Duration, Utc};
use release_desk_e2e::App;
use serde_json::json;
use wiremock::matchers::{method, path};
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

    // Clean up the keyring entry: removing the connection removes its token.
    app.press("\u{e00c}").await; // Escape closes the drawer
    app.click("nav a[href='/settings']").await;
    app.click("[data-testid=connection] .btn.danger").await;
    app.click_text("[data-testid=connection] .btn.danger", "Remove connection")
        .await;
    app.wait_for("[data-testid=no-connections]").await;
    app.quit().await;
}
