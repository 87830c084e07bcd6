//! End-to-end: raise a normal change as one person, be refused approving it
//! yourself, then approve it from the queue by keyboard as a second person
//! and see the state advance and the audit entry.

use release_desk_e2e::App;

const ENTER: &str = "\u{e007}";

#[tokio::test]
async fn raise_approve_from_queue_and_refuse_self_approval() {
    release_desk_e2e::within_limit(steps()).await;
}

async fn steps() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::launch(dir.path()).await;
    app.click("[data-testid=load-demo]").await;
    app.wait_for("[data-testid=matrix]").await;

    // Priya, a release manager, raises a normal change to UAT. The picker
    // says what choosing a profile proves, and what it does not.
    app.click("[data-testid=current-profile]").await;
    let note = app.text("[data-testid=profile-note]").await;
    assert!(note.contains("not who was authenticated"), "{note}");
    app.screenshot("07a-profile-picker").await;
    // Mei, a product owner, sees Settings she may read but not change: the
    // controls are off and the store's own reason is beside them (issue 12,
    // permissions in one place: the UI only displays what Rust decides).
    app.click_text("[data-testid=profile-choice]", "Mei Lin")
        .await;
    app.wait_for_text("[data-testid=current-profile]", "Mei Lin")
        .await;
    app.click("nav a[href='/settings']").await;
    let why = app
        .wait_for_text(
            "[data-testid=not-permitted-manage_credentials]",
            "Only a release manager may set or remove provider credentials",
        )
        .await;
    assert!(why.contains("Mei Lin holds product-owner"), "{why}");
    assert!(
        app.all("[data-testid=edit-secret]:not([disabled])")
            .await
            .is_empty(),
        "a product owner is offered to store a credential"
    );
    app.screenshot("07b-settings-as-product-owner").await;
    app.click("[data-testid=current-profile]").await;
    app.click_text("[data-testid=profile-choice]", "Priya Shah")
        .await;
    app.wait_for_text("[data-testid=current-profile]", "Priya Shah")
        .await;
    app.click("a[href='/changes']").await;
    app.click("[data-testid=new-change]").await;
    app.type_into(
        "input[name=title]",
        "Payments API to UAT for refund testing",
    )
    .await;
    app.click("select[name=service] option[value=payments-api]")
        .await;
    app.click("input[name=environment][value=uat]").await;
    app.type_into("textarea[name=implementationPlan]", "Blue-green promotion")
        .await;
    app.type_into("textarea[name=backoutPlan]", "Switch traffic back")
        .await;
    app.type_into("textarea[name=testPlan]", "Smoke tests and soak")
        .await;
    app.click("form button[type=submit]").await;
    let title = app
        .wait_for_text("[data-testid=change-title]", "Payments API to UAT")
        .await;
    assert_eq!(title, "Payments API to UAT for refund testing");
    app.wait_for("[data-state=new]").await;

    app.click("[data-step=submit]:not([disabled])").await;
    app.wait_for("[data-state=assess]").await;
    app.click("[data-step=request_approval]:not([disabled])")
        .await;
    app.wait_for("[data-state=authorise]").await;
    let reference = app.text(".ref").await;
    let reference = reference.split(' ').next().unwrap().to_owned();
    assert!(reference.starts_with("CHG-"), "{reference}");

    // She tries to approve it herself and is refused, naming the rule.
    app.click("[data-testid=approve-change]").await;
    app.wait_for("[data-testid=decision-dialog][open]").await;
    app.press(ENTER).await;
    let refusal = app
        .wait_for_text(
            "[data-testid=decision-dialog] [role=alert]",
            "Separation of duties",
        )
        .await;
    assert!(refusal.contains(&reference), "{refusal}");
    app.screenshot("07-self-approval-refused").await;
    app.press("\u{e00c}").await; // Escape closes the dialog
    app.wait_for("[data-state=authorise]").await;

    // Tom, a change manager, finds it in his queue and approves by keyboard.
    app.click("[data-testid=current-profile]").await;
    app.click_text("[data-testid=profile-choice]", "Tom Okafor")
        .await;
    app.wait_for_text("[data-testid=current-profile]", "Tom Okafor")
        .await;
    app.click("a[href='/approvals']").await;
    let item = format!("[data-testid=queue-item][data-reference={reference}]");
    app.wait_for(&item).await;
    let pending_before: u32 = app
        .text("[data-testid=pending-count]")
        .await
        .parse()
        .unwrap();
    let mut found = false;
    for _ in 0..10 {
        if app
            .text("[data-testid=queue-detail] h2")
            .await
            .contains(&reference)
        {
            found = true;
            break;
        }
        app.press("j").await;
    }
    assert!(found, "j never reached {reference}");
    app.screenshot("08-approval-queue").await;
    app.press("a").await;
    app.wait_for("[data-testid=decision-dialog][open]").await;
    app.press("Approved for UAT").await;
    app.screenshot("09-decision-dialog").await;
    app.press(ENTER).await;
    app.wait_for_text(
        "[role=status]",
        &format!("Approved {reference}: now scheduled"),
    )
    .await;
    assert!(
        app.all(&item).await.is_empty(),
        "the approved change left the queue"
    );
    let pending_after = match app.all("[data-testid=pending-count]").await.first() {
        Some(e) => e.text().await.unwrap().parse().unwrap(),
        None => 0,
    };
    assert_eq!(pending_after, pending_before - 1);

    // The change is scheduled and the decision is in its audited history.
    app.click("a[href='/changes']").await;
    app.click(&format!(
        "[data-testid=change-row][data-reference={reference}] button"
    ))
    .await;
    app.wait_for("[data-state=scheduled]").await;
    let decision = app.text("li[data-action='change.decision']").await;
    assert!(
        decision.contains("Tom Okafor") && decision.contains("Approved for UAT"),
        "{decision}"
    );
    let scheduled = app
        .text("li[data-action='change.transition']:last-child")
        .await;
    assert!(
        scheduled.contains("Scheduled") && scheduled.contains("approvals complete"),
        "{scheduled}"
    );
    app.screenshot("10-change-scheduled").await;
    app.quit().await;
}
