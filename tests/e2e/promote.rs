//! Promoting the demo service through the UI on the real local nginx target:
//! dev, then test (the previous-stage gate now passes), then a version that
//! fails under soak in dev, which is switched back automatically.

use std::path::Path;

use release_desk_e2e::{within_limit, App};
use release_desk_local_target::{LocalTarget, LocalTargetConfig};

/// Stops the nginx and sample-service processes the app started under the
/// test's folder (they outlive the app by design), even if the test failed.
struct StopTargets<'a>(&'a Path);

impl Drop for StopTargets<'_> {
    fn drop(&mut self) {
        // The processes are recognised by the binary they run, so name it.
        let binary = release_desk_e2e::app_binary().with_file_name("release-desk-sample-service");
        let config = LocalTargetConfig::new(self.0.join("data/local-target"), binary);
        if let Ok(target) = LocalTarget::new(config) {
            let _ = target.shutdown_all_blocking();
        }
    }
}

/// Waits for the timeline to reach a finished phase, up to `secs`.
async fn finished(app: &App, secs: u64) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Ok(el) = app
            .client
            .find(fantoccini::Locator::Css("[data-testid=timeline]"))
            .await
        {
            let phase = el
                .attr("data-phase")
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            if phase == "succeeded" || phase == "failed" {
                return phase;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the promotion did not finish within {secs} s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

/// The version a demo-web cell of the dashboard shows. Read as textContent:
/// WebKitWebDriver reports no visible text for elements inside a <button>.
async fn live_version(app: &App, environment: &str) -> String {
    text_content(
        app,
        &format!(
            "[data-testid=cell][data-service=demo-web][data-environment={environment}] [data-testid=cell-version]"
        ),
    )
    .await
}

/// The text of the first element matching `css`, read from the DOM (cells
/// scrolled out of view have no rendered text for WebDriver).
async fn text_content(app: &App, css: &str) -> String {
    app.wait_for(css).await;
    let text = app
        .client
        .execute(
            "return document.querySelector(arguments[0]).textContent.trim()",
            vec![serde_json::json!(css)],
        )
        .await
        .unwrap();
    text.as_str().unwrap_or_default().to_owned()
}

/// The id of the promotion the timeline shows, if any.
async fn shown_id(app: &App) -> Option<String> {
    let el = app
        .client
        .find(fantoccini::Locator::Css("[data-testid=timeline]"))
        .await
        .ok()?;
    el.attr("data-id").await.ok().flatten()
}

async fn promote(app: &App, version: &str, environment: &str) -> String {
    app.set_value("[data-testid=promote-version]", version)
        .await;
    app.set_value("[data-testid=promote-environment]", environment)
        .await;
    app.wait_for_text(
        "[data-testid=promote-button]",
        &format!("Promote {version} to"),
    )
    .await;
    app.wait_for("[data-testid=promote-button]:not([disabled])")
        .await;
    app.click("[data-testid=promote-button]").await;
    let dialog = app.wait_for("[data-testid=confirm-promotion]").await;
    let text = dialog.text().await.unwrap();
    assert!(text.contains(&format!("demo-web {version}")), "{text}");
    assert!(
        text.contains("sha256:"),
        "the confirmation names the digest: {text}"
    );
    let before = shown_id(app).await;
    app.click("[data-testid=confirm-promote]").await;
    // Wait for this promotion's timeline, not the one shown before.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while shown_id(app).await == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the new promotion never showed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    finished(app, 90).await
}

#[tokio::test]
async fn promote_dev_to_test_and_watch_a_failing_release_switch_back() {
    within_limit(steps()).await;
}

async fn steps() {
    let dir = tempfile::tempdir().unwrap();
    let _stop = StopTargets(dir.path());
    let app = App::launch(dir.path()).await;
    app.click("[data-testid=load-demo]").await;
    app.wait_for("[data-testid=matrix]").await;
    app.click("[data-testid=current-profile]").await;
    app.click_text("[data-testid=profile-choice]", "Priya Shah")
        .await;
    app.wait_for_text("[data-testid=current-profile]", "Priya Shah")
        .await;

    app.click("nav a[href='/promote']").await;
    app.wait_for("[data-testid=gates]").await;

    // 1.1.0 to dev: every gate passes, the timeline runs to success.
    assert_eq!(promote(&app, "1.1.0", "dev").await, "succeeded");
    let steps = app.all("[data-testid=step][data-state=succeeded]").await;
    assert_eq!(
        steps.len(),
        4,
        "deploy, smoke, switch and soak all succeeded"
    );
    app.screenshot("14-promote-dev-succeeded").await;

    // Then to test: the previous stage gate now names dev's success.
    app.set_value("[data-testid=promote-environment]", "test")
        .await;
    let gate = app
        .wait_for_text(
            "[data-testid=gate][data-gate=previous_stage]",
            "succeeded in dev",
        )
        .await;
    assert!(gate.contains("1.1.0"), "{gate}");
    assert_eq!(promote(&app, "1.1.0", "test").await, "succeeded");

    // 1.3.0 passes its smoke test, fails under soak, and traffic goes back.
    assert_eq!(promote(&app, "1.3.0", "dev").await, "failed");
    let failure = app.text("[data-testid=promotion-failure]").await;
    assert!(failure.contains("Soak failed"), "{failure}");
    assert!(failure.contains("Traffic is back on 1.1.0"), "{failure}");
    let switch_back = app
        .wait_for("[data-testid=step][data-kind=switch_back][data-state=succeeded]")
        .await;
    assert!(switch_back
        .text()
        .await
        .unwrap()
        .contains("Switch back to blue"));
    app.screenshot("15-promote-soak-failed-switched-back").await;

    // The dashboard shows 1.1.0 live in dev and test, and the cell's drawer
    // shows what a rollback would do before anyone presses it.
    app.click("nav a[href='/']").await;
    app.wait_for("[data-testid=matrix]").await;
    assert_eq!(live_version(&app, "dev").await, "1.1.0");
    assert_eq!(live_version(&app, "test").await, "1.1.0");
    app.click("[data-testid=cell][data-service=demo-web][data-environment=dev]")
        .await;
    let readiness = app
        .wait_for_text("[data-testid=rollback-readiness]", "Live now: 1.1.0")
        .await;
    assert!(
        readiness.contains("Nothing to roll back to yet"),
        "{readiness}"
    );
    app.screenshot("16-dashboard-rollback-readiness").await;

    // Settings: the demo's target bindings, one changed and audited, and a
    // location that cannot be right refused with what to do. In the dark theme.
    app.click("nav a[href='/settings']").await;
    app.click_text("[role=radio]", "Dark").await;
    app.wait_for_count("[data-testid=binding-cell][data-service=demo-web]", 5)
        .await;
    for env in ["dev", "test", "uat", "preprod", "production"] {
        let text = text_content(
            &app,
            &format!("[data-testid=binding-cell][data-service=demo-web][data-environment={env}]"),
        )
        .await;
        assert!(
            text.contains("Blue-green") && text.contains("local-nginx"),
            "{env}: {text}"
        );
    }
    app.click("[data-testid=binding-cell][data-service=demo-web][data-environment=uat]")
        .await;
    app.set_value("[data-testid=binding-soak]", "20").await;
    app.click("[data-testid=save-binding]").await;
    app.wait_for_text(
        "[data-testid=binding-saved]",
        "now deploys blue-green to local-nginx",
    )
    .await;
    let uat = text_content(
        &app,
        "[data-testid=binding-cell][data-service=demo-web][data-environment=uat]",
    )
    .await;
    assert!(uat.contains("20 s soak"), "{uat}");
    app.set_value("[data-testid=locations-service]", "payments-api")
        .await;
    app.click_text("[data-testid=artefact-location] button", "Record location")
        .await;
    app.type_into("[data-testid=location-input]", "payments-api.tar.gz")
        .await;
    app.click("[data-testid=save-location]").await;
    let refusal = app
        .wait_for_text(
            "[data-testid=artefact-location] [role=alert]",
            "not an absolute path",
        )
        .await;
    assert!(refusal.contains("full path to the tarball"), "{refusal}");
    app.screenshot("17-settings-deployment-dark").await;
    app.quit().await;
}
