//! End-to-end: the real app under Xvfb. Run by `make test` (see
//! scripts/test.sh), which builds the app first and provides the display and
//! the keyring session.

use release_desk_e2e::App;

/// Every cell's version and drift, in order: what must survive a restart
/// (relative ages are left out, they move with the clock).
async fn shown_versions(app: &App) -> Vec<String> {
    let mut shown = Vec::new();
    for cell in app.all("[data-testid=cell]").await {
        let service = cell.attr("data-service").await.unwrap().unwrap_or_default();
        let environment = cell
            .attr("data-environment")
            .await
            .unwrap()
            .unwrap_or_default();
        let version = match cell
            .find(fantoccini::Locator::Css("[data-testid=cell-version]"))
            .await
        {
            Ok(v) => v.text().await.unwrap(),
            Err(_) => "none".into(),
        };
        shown.push(format!("{service}/{environment}={version}"));
    }
    assert_eq!(shown.len(), 55);
    shown
}

#[tokio::test]
async fn demo_workspace_dashboard_history_and_restart() {
    release_desk_e2e::within_limit(demo_workspace_dashboard_history_and_restart_steps()).await;
}

async fn demo_workspace_dashboard_history_and_restart_steps() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::launch(dir.path()).await;

    // A fresh data folder opens on the empty state, which offers the demo.
    app.wait_for("[data-testid=empty-state]").await;
    app.screenshot("01-empty-state").await;
    app.click("[data-testid=load-demo]").await;

    // The matrix: ten services, plus the deployable demo-web, by five stages.
    app.wait_for("[data-testid=matrix]").await;
    let rows = app.wait_for_count("[data-testid=service-row]", 11).await;
    assert_eq!(rows.len(), 11);
    let stages: Vec<String> = {
        let mut names = Vec::new();
        for h in app.all("[data-testid=stage-header]").await {
            names.push(h.text().await.unwrap());
        }
        names
    };
    assert_eq!(stages.len(), 5);
    assert!(
        stages[0].contains("Development") && stages[4].contains("Production"),
        "{stages:?}"
    );
    assert_eq!(app.all("[data-testid=cell]").await.len(), 55);

    let in_progress = app
        .text("[data-testid=cell][data-service=payments-api][data-environment=production] [data-testid=cell-status]")
        .await;
    assert!(
        in_progress.contains("In progress"),
        "payments-api production: {in_progress}"
    );
    let ahead = app
        .text("[data-testid=cell][data-service=identity-service][data-environment=production] [data-testid=cell-drift]")
        .await;
    assert!(
        ahead.contains("Ahead"),
        "identity-service production: {ahead}"
    );
    let failed = app
        .text("[data-testid=cell][data-service=search-indexer][data-environment=uat] [data-testid=cell-status]")
        .await;
    assert!(failed.contains("Failed"), "search-indexer uat: {failed}");
    let not_deployed = app
        .text("[data-testid=cell][data-service=consent-service][data-environment=production]")
        .await;
    assert!(not_deployed.contains("Not deployed"), "{not_deployed}");
    let versions_before = shown_versions(&app).await;
    app.screenshot("02-dashboard").await;

    // A cell's history: every deployment, newest first, with reasons for failures.
    app.click("[data-testid=cell][data-service=search-indexer][data-environment=uat]")
        .await;
    app.wait_for("[data-testid=history]").await;
    let entries = app.wait_for_count("[data-testid=history-entry]", 2).await;
    assert!(entries.len() >= 2);
    let newest = entries[0].text().await.unwrap();
    assert!(
        newest.contains("Failed") && newest.contains("Smoke test failed"),
        "{newest}"
    );
    assert!(
        newest.contains("Digest") && newest.contains("sha256:") && newest.contains("Deployed by"),
        "{newest}"
    );
    app.screenshot("03-cell-history").await;
    app.press("\u{e00c}").await; // WebDriver's Escape key
    app.client
        .wait()
        .at_most(release_desk_e2e::WAIT)
        .for_element(fantoccini::Locator::Css("[data-testid=matrix]"))
        .await
        .unwrap();
    assert!(
        app.all("[data-testid=history]").await.is_empty(),
        "Escape closes the history"
    );
    app.quit().await;

    // Restart on the same folder: the workspace is still there, unchanged.
    let app = App::launch(dir.path()).await;
    app.wait_for("[data-testid=matrix]").await;
    app.wait_for_count("[data-testid=service-row]", 11).await;
    let versions_after = shown_versions(&app).await;
    assert_eq!(
        versions_before, versions_after,
        "the dashboard survives a restart"
    );
    app.quit().await;
    everything_written_is_private(dir.path());
}

/// Issue 12, finding 7: the database, logs, evidence and the demo's signed
/// tarballs were created world-readable. Every folder the app made is 0700
/// and every file 0600 (sockets and pipes aside).
fn everything_written_is_private(root: &std::path::Path) {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let mut checked = 0;
    let mut stack = vec![root.join("data"), root.join("logs")];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        let kind = meta.file_type();
        if kind.is_dir() {
            assert_eq!(mode, 0o700, "{} is not private", path.display());
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if kind.is_file() {
            assert_eq!(mode, 0o600, "{} is not private", path.display());
        } else if kind.is_socket() || kind.is_fifo() || kind.is_symlink() {
            continue;
        }
        checked += 1;
    }
    assert!(checked > 5, "only {checked} entries were checked");
}

#[tokio::test]
async fn a_damaged_database_opens_the_recovery_screen() {
    release_desk_e2e::within_limit(a_damaged_database_opens_the_recovery_screen_steps()).await;
}

async fn a_damaged_database_opens_the_recovery_screen_steps() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let file = data.join("release-desk.sqlite3");
    std::fs::write(&file, b"not a database at all, just text".repeat(100)).unwrap();

    let app = App::launch(dir.path()).await;
    app.wait_for("[data-testid=database-recovery]").await;
    let shown = app.text("[data-testid=database-file]").await;
    assert_eq!(
        shown,
        file.display().to_string(),
        "the screen names the file"
    );
    app.screenshot("04-database-recovery").await;

    app.click("[data-testid=move-aside]").await;
    app.click("[data-testid=confirm-move-aside]").await;
    app.wait_for("[data-testid=empty-state]").await;
    let kept: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("unreadable"))
        .collect();
    assert_eq!(kept.len(), 1, "the damaged file is kept under a new name");
    assert_eq!(
        std::fs::read(kept[0].path()).unwrap(),
        b"not a database at all, just text".repeat(100)
    );
    app.quit().await;
}

#[tokio::test]
async fn settings_store_a_token_and_show_only_that_it_is_set() {
    release_desk_e2e::within_limit(settings_store_a_token_and_show_only_that_it_is_set_steps())
        .await;
}

async fn settings_store_a_token_and_show_only_that_it_is_set_steps() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::launch(dir.path()).await;
    app.click("[data-testid=load-demo]").await;
    app.wait_for("[data-testid=matrix]").await;
    // Credentials are a release manager's (audited) decision.
    app.click("[data-testid=current-profile]").await;
    app.click_text("[data-testid=profile-choice]", "Priya Shah")
        .await;
    app.wait_for_text("[data-testid=current-profile]", "Priya Shah")
        .await;
    app.click("nav a[href='/settings']").await;

    let github = "[data-testid=credential][data-provider=github]";
    app.wait_for(github).await;
    app.click(&format!("{github} [data-testid=edit-secret]"))
        .await;
    let token = format!("ghp_e2e_{}", std::process::id());
    app.wait_for("[data-testid=secret-input]")
        .await
        .send_keys(&token)
        .await
        .unwrap();
    app.click("[data-testid=save-secret]").await;
    app.wait_for(&format!("{github}[data-set=true]")).await;
    let page = app.client.source().await.unwrap();
    assert!(
        !page.contains(&token),
        "the token never comes back to the webview"
    );
    let inputs: serde_json::Value = app
        .client
        .execute(
            "return [...document.querySelectorAll('input')].map(i => i.value)",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        !inputs.to_string().contains(&token),
        "no field still holds the token: {inputs}"
    );
    app.screenshot("05-settings").await;

    // A connection to GitHub limited to the lower stages, with its own token
    // (issue 13: the seam's first piece).
    app.click("[data-testid=add-connection]").await;
    app.type_into("[data-testid=connection-name]", "acme-health lower")
        .await;
    app.click("[data-testid=connection-reach] option[value=test]")
        .await;
    app.type_into("[data-testid=connection-settings]", "owner = acme-health")
        .await;
    app.click("[data-testid=save-connection]").await;
    let row = app
        .wait_for_text("[data-testid=connection]", "acme-health lower")
        .await;
    assert!(
        row.contains("Up to Test") && row.contains("No token"),
        "{row}"
    );
    app.click("[data-testid=edit-connection-token]").await;
    let connection_token = format!("ghp_conn_{}", std::process::id());
    app.wait_for("[data-testid=connection-token]")
        .await
        .send_keys(&connection_token)
        .await
        .unwrap();
    app.press("\u{e007}").await; // Enter submits
    app.wait_for_text("[data-testid=token-state]", "Token set")
        .await;
    assert!(
        !app.client
            .source()
            .await
            .unwrap()
            .contains(&connection_token),
        "the connection's token never comes back to the webview"
    );
    app.screenshot("05b-connections").await;

    // Dark theme, then back to the dashboard for a dark screenshot.
    app.click("[role=radiogroup] button:nth-child(3)").await;
    let theme: serde_json::Value = app
        .client
        .execute("return document.documentElement.dataset.theme", vec![])
        .await
        .unwrap();
    assert_eq!(theme, "dark");
    app.click("nav a[href='/']").await;
    app.wait_for_count("[data-testid=service-row]", 11).await;
    app.screenshot("06-dashboard-dark").await;

    // Clean up the test's keyring entry.
    app.click("nav a[href='/settings']").await;
    app.click(&format!("{github} .btn.danger")).await;
    app.wait_for(&format!("{github}[data-set=false]")).await;
    app.click("[data-testid=connection] .btn.danger").await;
    app.click_text("[data-testid=connection] .btn.danger", "Remove connection")
        .await;
    app.wait_for("[data-testid=no-connections]").await;
    app.quit().await;
}

/// Issue 12, finding 6: two instances on one data folder both resumed the
/// same promotion. A second process on the folder refuses to start and says
/// which process has it; the first keeps working.
#[tokio::test]
async fn a_second_instance_on_the_same_data_folder_is_refused() {
    release_desk_e2e::within_limit(a_second_instance_steps()).await;
}

async fn a_second_instance_steps() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::launch(dir.path()).await;
    app.wait_for("[data-testid=empty-state]").await;
    let second = tokio::process::Command::new(release_desk_e2e::app_binary())
        .env("RELEASE_DESK_DATA_DIR", dir.path().join("data"))
        .env("RELEASE_DESK_LOG_DIR", dir.path().join("logs-second"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        second.wait_with_output(),
    )
    .await
    .expect("the second instance should give up at once, not run")
    .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the second instance ran: {said}");
    assert!(
        said.contains("already running on the data folder") && said.contains("(process "),
        "{said}"
    );
    // The first is unaffected.
    app.click("[data-testid=load-demo]").await;
    app.wait_for("[data-testid=matrix]").await;
    app.quit().await;
}
