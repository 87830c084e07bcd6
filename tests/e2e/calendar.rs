//! End-to-end: create a weekly release window and a freeze on the calendar,
//! plan a change into the freeze and see the conflict with its reason before
//! saving and on the calendar, move it into the window, then export the
//! calendar as ICS and parse it back.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use release_desk_e2e::App;

#[tokio::test]
async fn window_freeze_conflict_move_and_ics_round_trip() {
    release_desk_e2e::within_limit(steps()).await;
}

/// A working day at least a week ahead, clear of the demo's Christmas freeze.
fn planning_day() -> NaiveDate {
    let mut day = Utc::now().date_naive() + Duration::days(8);
    loop {
        let christmas =
            (day.month() == 12 && day.day() >= 18) || (day.month() == 1 && day.day() <= 5);
        let weekend = day.weekday().number_from_monday() > 5;
        if !christmas && !weekend {
            return day;
        }
        day += Duration::days(1);
    }
}

fn byday(day: NaiveDate) -> &'static str {
    ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][day.weekday().num_days_from_monday() as usize]
}

async fn steps() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::launch(dir.path()).await;
    app.click("[data-testid=load-demo]").await;
    app.wait_for("[data-testid=matrix]").await;
    app.click("[data-testid=current-profile]").await;
    app.click_text("[data-testid=profile-choice]", "Priya Shah")
        .await;
    app.wait_for_text("[data-testid=current-profile]", "Priya Shah")
        .await;

    let day = planning_day();
    let date = day.format("%Y-%m-%d").to_string();
    let weekday = byday(day);

    // A weekly evening release window for development, on that weekday.
    app.click("a[href='/calendar']").await;
    app.wait_for("[data-testid=calendar] .ec").await;
    app.click("[data-testid=new-window]").await;
    app.wait_for("[data-testid=rule-dialog][open]").await;
    app.type_into("[data-testid=rule-title]", "Evening dev window")
        .await;
    app.set_value("[data-testid=rule-zone]", "UTC").await;
    app.set_value("[data-testid=rule-start-date]", &date).await;
    app.set_value("[data-testid=rule-start-time]", "20:00")
        .await;
    app.set_value("[data-testid=rule-end-date]", &date).await;
    app.set_value("[data-testid=rule-end-time]", "22:00").await;
    if weekday != "TU" {
        app.click(&format!("[data-testid=rule-day-{weekday}]"))
            .await;
        app.click("[data-testid=rule-day-TU]").await;
    }
    app.click("[data-testid=rule-env-dev]").await;
    // The preview is worked out by the same Rust code that judges changes.
    let preview = app
        .wait_for_text("[data-testid=rule-preview]", "Next")
        .await;
    assert!(preview.contains("20:00"), "{preview}");
    app.screenshot("11-calendar-new-window").await;
    app.click("[data-testid=save-rule]").await;
    app.wait_for_text(".notice-row", "Saved “Evening dev window”")
        .await;

    // A one-off freeze that morning, for development too.
    app.click("[data-testid=new-freeze]").await;
    app.wait_for("[data-testid=rule-dialog][open]").await;
    app.type_into("[data-testid=rule-title]", "Dev database migration freeze")
        .await;
    app.set_value("[data-testid=rule-zone]", "UTC").await;
    app.set_value("[data-testid=rule-start-date]", &date).await;
    app.set_value("[data-testid=rule-start-time]", "08:00")
        .await;
    app.set_value("[data-testid=rule-end-date]", &date).await;
    app.set_value("[data-testid=rule-end-time]", "12:00").await;
    app.click("[data-testid=rule-env-dev]").await;
    app.wait_for_text("[data-testid=rule-preview]", "Next")
        .await;
    app.click("[data-testid=save-rule]").await;
    app.wait_for_text(".notice-row", "Saved “Dev database migration freeze”")
        .await;

    // A change planned into the freeze: the form says so before saving.
    app.click("a[href='/changes']").await;
    app.click("[data-testid=new-change]").await;
    app.type_into("input[name=title]", "Payments API dev smoke of refund fix")
        .await;
    app.click("select[name=service] option[value=payments-api]")
        .await;
    app.click("input[name=environment][value=dev]").await;
    app.set_value("input[name=start]", &format!("{date}T09:00"))
        .await;
    app.set_value("input[name=end]", &format!("{date}T10:00"))
        .await;
    let check = app
        .wait_for_text(
            "[data-testid=schedule-check]",
            "Dev database migration freeze",
        )
        .await;
    assert!(check.contains("Inside the freeze"), "{check}");
    // Dev's only window is the evening one just made (the demo's office-hours
    // window covers UAT and pre-production), so 09:00 is also outside it.
    assert!(
        check
            .to_lowercase()
            .contains("outside every release window"),
        "{check}"
    );
    app.type_into("textarea[name=implementationPlan]", "Blue-green promotion")
        .await;
    app.type_into("textarea[name=backoutPlan]", "Switch traffic back")
        .await;
    app.type_into("textarea[name=testPlan]", "Smoke tests")
        .await;
    app.screenshot("12-change-form-freeze-conflict").await;
    app.click_text("form button[type=submit]", "with 2 conflicts")
        .await;
    app.wait_for_text("[data-testid=change-title]", "Payments API dev smoke")
        .await;
    let reference = app.text(".ref").await;
    let reference = reference.split(' ').next().unwrap().to_owned();

    // On the calendar, in its week, with its conflict and reason.
    app.click("[data-testid=show-on-calendar]").await;
    let panel = app
        .wait_for_text("[data-testid=calendar-panel]", &reference)
        .await;
    assert!(panel.contains("Dev database migration freeze"), "{panel}");
    app.wait_for(".ec-event.rd-conflict").await;
    app.screenshot("13-calendar-week-conflict").await;

    // Moved into the evening window: the check clears before saving.
    app.click("[data-testid=open-change]").await;
    app.wait_for_text("[data-testid=change-title]", "Payments API dev smoke")
        .await;
    app.click_text("button", "Edit").await;
    app.set_value("input[name=start]", &format!("{date}T20:00"))
        .await;
    app.set_value("input[name=end]", &format!("{date}T21:00"))
        .await;
    app.wait_for("[data-testid=schedule-check] [data-testid=no-conflicts]")
        .await;
    app.click_text("form button[type=submit]", "Save changes")
        .await;
    app.wait_for_text("[data-testid=change-title]", "Payments API dev smoke")
        .await;
    app.click("[data-testid=show-on-calendar]").await;
    app.wait_for_text("[data-testid=calendar-panel]", &reference)
        .await;
    app.wait_for("[data-testid=calendar-panel] [data-testid=no-conflicts]")
        .await;
    let when = app.text("[data-testid=panel-when]").await;
    assert!(when.contains("20:00") && when.contains("21:00"), "{when}");

    // Export, and read the file back as a calendar program would.
    app.click("[data-testid=export-ics]").await;
    let path = app
        .wait_for_text("[data-testid=exported-path]", ".ics")
        .await;
    let text = std::fs::read_to_string(path.trim()).expect("the exported file");
    let parsed = release_desk_calendar::parse_ics(&text, "Europe/London").expect("parses back");
    let window = parsed
        .rules
        .iter()
        .find(|r| r.draft.title == "Evening dev window")
        .expect("the window is in the export");
    assert_eq!(
        window.draft.recurrence.as_deref(),
        Some(format!("FREQ=WEEKLY;BYDAY={weekday}").as_str())
    );
    assert_eq!(window.draft.duration_minutes, 120);
    assert_eq!(window.draft.scope.environments[0].as_str(), "dev");
    let freeze = parsed
        .rules
        .iter()
        .find(|r| r.draft.title == "Dev database migration freeze")
        .expect("the freeze is in the export");
    assert_eq!(
        freeze.draft.start.format("%Y-%m-%d %H:%M").to_string(),
        format!("{date} 08:00")
    );
    // The planned change is in the file too, as an event import leaves out.
    assert!(
        parsed.skipped.iter().any(|s| s.what.contains(&reference)),
        "{:?}",
        parsed.skipped
    );
    assert!(text.contains("BEGIN:VTIMEZONE") && text.contains("TZID:Europe/London"));
    app.quit().await;
}
