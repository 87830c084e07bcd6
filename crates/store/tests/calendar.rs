//! Calendar rules and bookings against a real SQLite file.

mod common;

use chrono::{Duration, NaiveDate};
use common::{now, slug, with_demo};
use release_desk_calendar::{view, ConflictKind, RuleDraft, RuleKind, Scope};
use release_desk_changes::{Profile, ProfileDraft};
use release_desk_store::Store;

async fn priya(store: &Store) -> Profile {
    store
        .create_profile(
            ProfileDraft {
                name: "Priya".into(),
                email: "priya@acme-health.example".into(),
                roles: vec![slug("release-manager")],
            },
            now(),
        )
        .await
        .unwrap()
}

fn weekly_window() -> RuleDraft {
    RuleDraft {
        kind: RuleKind::Window,
        title: "Tuesday release window".into(),
        zone: "Europe/London".into(),
        start: NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap(),
        duration_minutes: 120,
        recurrence: Some("FREQ=WEEKLY;BYDAY=TU".into()),
        exceptions: vec![],
        scope: Scope {
            environments: vec![slug("production")],
            services: vec![],
        },
    }
}

async fn count(store: &Store, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn rules_are_saved_validated_updated_and_deleted_with_audit() {
    let (_dir, _file, store) = with_demo().await;
    let p = priya(&store).await;
    let saved = store
        .save_calendar_rule(None, weekly_window(), &p, now())
        .await
        .unwrap();
    assert_eq!(store.calendar_rules().await.unwrap(), vec![saved.clone()]);

    let before = (
        count(&store, "calendar_rules").await,
        count(&store, "audit_log").await,
    );
    let mut bad = weekly_window();
    bad.recurrence = Some("FREQ=FORTNIGHTLY".into());
    assert_eq!(
        store
            .save_calendar_rule(None, bad, &p, now())
            .await
            .unwrap_err()
            .code(),
        "invalid_recurrence"
    );
    let mut bad = weekly_window();
    bad.zone = "Europe/Atlantis".into();
    assert_eq!(
        store
            .save_calendar_rule(Some(saved.id), bad, &p, now())
            .await
            .unwrap_err()
            .code(),
        "unknown_time_zone"
    );
    assert_eq!(
        (
            count(&store, "calendar_rules").await,
            count(&store, "audit_log").await
        ),
        before,
        "nothing written"
    );

    let mut longer = weekly_window();
    longer.duration_minutes = 180;
    store
        .save_calendar_rule(Some(saved.id), longer, &p, now())
        .await
        .unwrap();
    assert_eq!(
        store.calendar_rules().await.unwrap()[0].duration_minutes,
        180
    );
    store
        .delete_calendar_rule(saved.id, &p, now())
        .await
        .unwrap();
    assert!(store.calendar_rules().await.unwrap().is_empty());
    let trail = store
        .audit_of(&format!("calendar_rule:{}", saved.id))
        .await
        .unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "calendar.rule_saved",
            "calendar.rule_saved",
            "calendar.rule_deleted"
        ]
    );
    assert_eq!(
        store
            .delete_calendar_rule(saved.id, &p, now())
            .await
            .unwrap_err()
            .code(),
        "unknown_calendar_rule"
    );
}

#[tokio::test]
async fn open_changes_are_booked_per_environment_and_judged_against_a_freeze() {
    let (_dir, _file, store) = with_demo().await;
    let seed = release_desk_demo::demo_workspace(now());
    release_desk_demo::play(
        &store,
        &release_desk_demo::demo_changes(&seed, now()),
        now(),
    )
    .await
    .unwrap();
    let bookings = store.bookings().await.unwrap();
    // Seven demo changes; the closed one and the one in review are not booked.
    assert_eq!(bookings.len(), 5, "{bookings:?}");
    let payments = bookings
        .iter()
        .find(|b| b.service.as_str() == "payments-api")
        .unwrap();
    assert!(payments.production && payments.stage == 4);

    let p = store
        .profiles()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name == "Dan Whitfield")
        .unwrap();
    let day = payments.start.date_naive();
    let freeze = RuleDraft {
        kind: RuleKind::Freeze,
        title: "Payments day freeze".into(),
        zone: "UTC".into(),
        start: day.and_hms_opt(0, 0, 0).unwrap(),
        duration_minutes: 24 * 60,
        recurrence: None,
        exceptions: vec![],
        scope: Scope {
            environments: vec![],
            services: vec![slug("payments-api")],
        },
    };
    store
        .save_calendar_rule(None, freeze, &p, now())
        .await
        .unwrap();
    let rules = store.calendar_rules().await.unwrap();
    let v = view(&rules, &bookings, now(), now() + Duration::days(7)).unwrap();
    let judged = v
        .changes
        .iter()
        .find(|c| c.booking.service.as_str() == "payments-api")
        .unwrap();
    let frozen: Vec<_> = judged
        .conflicts
        .iter()
        .filter(|c| c.kind == ConflictKind::InFreeze)
        .collect();
    assert_eq!(frozen.len(), 1, "{:?}", judged.conflicts);
    assert!(frozen[0].reason.contains("Payments day freeze"));
    // The freeze is scoped to payments-api: other changes are untouched by it.
    assert!(v
        .changes
        .iter()
        .filter(|c| c.booking.service.as_str() != "payments-api")
        .all(|c| c
            .conflicts
            .iter()
            .all(|k| !k.reason.contains("Payments day freeze"))));
}
