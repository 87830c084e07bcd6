//! Placing changes in time against a real SQLite file: conflicts checked
//! before saving, moving a change, freeze overrides, the start gate, and
//! importing rules whole or not at all.

mod common;

use chrono::{DateTime, Datelike, Duration, Utc};
use common::{now, slug, with_demo};
use release_desk_calendar::{view, ConflictKind, RuleDraft, RuleKind, Scope};
use release_desk_changes::{
    ArtefactRef, ChangeDraft, ChangeRecord, ChangeState, ChangeType, Profile, ProfileDraft,
    Transition, Verdict,
};
use release_desk_store::{PlannedSlot, Store};

struct People {
    priya: Profile,
    sam: Profile,
    dan: Profile,
    jo: Profile,
}

async fn people(store: &Store) -> People {
    let mk = |name: &str, roles: &[&str]| ProfileDraft {
        name: name.into(),
        email: format!("{}@acme-health.example", name.to_lowercase()),
        roles: roles.iter().map(|r| slug(r)).collect(),
    };
    People {
        priya: store
            .create_profile(mk("Priya", &["release-manager"]), now())
            .await
            .unwrap(),
        sam: store
            .create_profile(mk("Sam", &["change-manager"]), now())
            .await
            .unwrap(),
        dan: store
            .create_profile(mk("Dan", &["change-manager"]), now())
            .await
            .unwrap(),
        jo: store.create_profile(mk("Jo", &[]), now()).await.unwrap(),
    }
}

async fn newest_version(store: &Store) -> String {
    sqlx::query_scalar(
        "SELECT a.version FROM artefacts a JOIN services s ON s.id = a.service_id
         WHERE s.key = 'payments-api' ORDER BY a.created_at_ms DESC LIMIT 1",
    )
    .fetch_one(store.pool())
    .await
    .unwrap()
}

async fn draft(store: &Store, start: DateTime<Utc>, minutes: i64) -> ChangeDraft {
    ChangeDraft {
        kind: ChangeType::Normal,
        template: None,
        title: "Ship payments-api refund fix".into(),
        description: String::new(),
        services: vec![],
        environments: vec![slug("uat")],
        artefact: ArtefactRef {
            service: slug("payments-api"),
            version: newest_version(store).await,
        },
        planned_start: start,
        planned_end: start + Duration::minutes(minutes),
        implementation_plan: "Blue-green promotion".into(),
        backout_plan: "Switch back to the previous leg".into(),
        test_plan: "Smoke tests and a 30 minute soak".into(),
        assignee: None,
        links: vec![],
        rollback_possible: true,
        no_rollback_justification: None,
        schema_migration: false,
        files_changed: Some(3),
    }
}

fn slot(d: &ChangeDraft, change: Option<&ChangeRecord>) -> PlannedSlot {
    PlannedSlot {
        change: change.map(|c| c.id),
        artefact: d.artefact.clone(),
        environments: d.environments.clone(),
        start: d.planned_start,
        end: d.planned_end,
    }
}

/// A one-off freeze in UTC from `start` for `hours`.
fn freeze(title: &str, start: DateTime<Utc>, hours: u32) -> RuleDraft {
    RuleDraft {
        kind: RuleKind::Freeze,
        title: title.into(),
        zone: "UTC".into(),
        start: start.naive_utc(),
        duration_minutes: hours * 60,
        recurrence: None,
        exceptions: vec![],
        scope: Scope::default(),
    }
}

async fn count(store: &Store, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// Raised by Priya, approved by Sam: scheduled.
async fn scheduled(store: &Store, p: &People, d: ChangeDraft) -> ChangeRecord {
    let r = store.raise_change(d, &p.priya, now()).await.unwrap();
    let r = store
        .move_change(r.id, r.revision, Transition::Submit, &p.priya, now())
        .await
        .unwrap();
    let r = store
        .move_change(
            r.id,
            r.revision,
            Transition::RequestApproval,
            &p.priya,
            now(),
        )
        .await
        .unwrap();
    let r = store
        .decide(r.id, r.revision, Verdict::Approve, "fine", &p.sam, now())
        .await
        .unwrap();
    assert_eq!(r.state, ChangeState::Scheduled);
    r
}

#[tokio::test]
async fn a_draft_is_judged_before_saving_and_a_move_is_audited() {
    let (_dir, _file, store) = with_demo().await;
    let p = people(&store).await;
    let day = now() + Duration::days(1);
    store
        .save_calendar_rule(None, freeze("Payroll freeze", day, 24), &p.priya, now())
        .await
        .unwrap();
    let d = draft(&store, day + Duration::hours(10), 60).await;

    let audit_before = count(&store, "audit_log").await;
    let judged = store.check_slot(&slot(&d, None)).await.unwrap();
    assert_eq!(judged.len(), 1, "one booking per environment");
    let kinds: Vec<ConflictKind> = judged[0].conflicts.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, [ConflictKind::InFreeze]);
    assert!(judged[0].conflicts[0].reason.contains("Payroll freeze"));
    assert_eq!(
        count(&store, "audit_log").await,
        audit_before,
        "checking writes nothing"
    );

    let r = store
        .raise_change(d.clone(), &p.priya, now())
        .await
        .unwrap();
    // Checked as itself, it does not overlap itself; a second change would.
    let own = store.check_slot(&slot(&d, Some(&r))).await.unwrap();
    assert_eq!(own[0].conflicts.len(), 1, "{:?}", own[0].conflicts);
    let other = store.check_slot(&slot(&d, None)).await.unwrap();
    assert!(other[0]
        .conflicts
        .iter()
        .any(|c| c.kind == ConflictKind::Overlaps && c.reason.contains(&r.reference)));

    let next_day = day + Duration::days(1) + Duration::hours(10);
    let moved = store
        .reschedule_change(
            r.id,
            r.revision,
            next_day,
            next_day + Duration::minutes(90),
            &p.priya,
            now(),
        )
        .await
        .unwrap();
    assert_eq!(moved.revision, r.revision + 1);
    assert_eq!(
        (moved.planned_start, moved.planned_end),
        (next_day, next_day + Duration::minutes(90))
    );
    let trail = store.audit_of(&format!("change:{}", r.id.0)).await.unwrap();
    let last = trail.last().unwrap();
    assert_eq!(last.action, "change.rescheduled");
    assert!(last
        .detail
        .contains(&next_day.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
    let mut d2 = d.clone();
    d2.planned_start = moved.planned_start;
    d2.planned_end = moved.planned_end;
    assert!(store.check_slot(&slot(&d2, Some(&moved))).await.unwrap()[0]
        .conflicts
        .is_empty());

    // The revision the person saw, and a window that ends before it starts.
    let stale = store
        .reschedule_change(
            r.id,
            r.revision,
            day,
            day + Duration::hours(1),
            &p.priya,
            now(),
        )
        .await
        .unwrap_err();
    assert_eq!(stale.code(), "stale_change");
    let backwards = store
        .reschedule_change(
            r.id,
            moved.revision,
            day,
            day - Duration::hours(1),
            &p.priya,
            now(),
        )
        .await
        .unwrap_err();
    assert_eq!(backwards.code(), "invalid_input");
    assert!(backwards.to_string().contains("planned end"));
    // Someone who is neither a party nor a manager cannot move it.
    let outsider = store
        .reschedule_change(
            r.id,
            moved.revision,
            day,
            day + Duration::hours(1),
            &p.jo,
            now(),
        )
        .await
        .unwrap_err();
    assert_eq!(outsider.code(), "transition_actor");
}

#[tokio::test]
async fn only_a_change_manager_who_is_not_a_party_lifts_a_freeze_with_a_reason() {
    let (_dir, _file, store) = with_demo().await;
    let p = people(&store).await;
    // A freeze that is on now and for the next day.
    let f = store
        .save_calendar_rule(
            None,
            freeze("Winter freeze", now() - Duration::hours(1), 24),
            &p.priya,
            now(),
        )
        .await
        .unwrap();
    let w = store
        .save_calendar_rule(
            None,
            RuleDraft {
                kind: RuleKind::Window,
                ..freeze("Any time", now() - Duration::days(1), 24 * 7)
            },
            &p.priya,
            now(),
        )
        .await
        .unwrap();
    let r = scheduled(
        &store,
        &p,
        draft(&store, now() + Duration::hours(1), 60).await,
    )
    .await;

    // Starting inside the freeze is refused, naming it.
    let err = store
        .move_change(r.id, r.revision, Transition::Start, &p.priya, now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "in_freeze");
    assert!(err.to_string().contains("Winter freeze"), "{err}");

    let before = (
        count(&store, "freeze_overrides").await,
        count(&store, "audit_log").await,
    );
    for (who, reason, code) in [
        (&p.priya, "urgent", "freeze_override_role"),
        (&p.jo, "urgent", "freeze_override_role"),
        (&p.sam, "   ", "invalid_input"),
    ] {
        let e = store
            .override_freeze(r.id, r.revision, f.id, reason, who, now())
            .await
            .unwrap_err();
        assert_eq!(e.code(), code, "{} {e}", who.name);
    }
    let e = store
        .override_freeze(r.id, r.revision, w.id, "urgent", &p.sam, now())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "not_a_freeze");
    assert_eq!(
        (
            count(&store, "freeze_overrides").await,
            count(&store, "audit_log").await
        ),
        before,
        "refusals write nothing"
    );

    store
        .override_freeze(
            r.id,
            r.revision,
            f.id,
            "Card scheme deadline: refunds must round half-even from 1 December",
            &p.sam,
            now(),
        )
        .await
        .unwrap();
    let again = store
        .override_freeze(r.id, r.revision, f.id, "again", &p.dan, now())
        .await
        .unwrap_err();
    assert_eq!(again.code(), "already_overridden");
    assert!(again.to_string().contains("Sam"));

    let trail = store.audit_of(&format!("change:{}", r.id.0)).await.unwrap();
    let entry = trail
        .iter()
        .find(|e| e.action == "calendar.freeze_overridden")
        .unwrap();
    assert_eq!(entry.actor, "Sam <sam@acme-health.example> (profile 2)");
    assert!(
        entry.detail.contains("Card scheme deadline") && entry.detail.contains("Winter freeze")
    );

    // The calendar shows the freeze, overridden, no longer in the way.
    let bookings = store.bookings().await.unwrap();
    let rules = store.calendar_rules().await.unwrap();
    let v = view(&rules, &bookings, now(), now() + Duration::days(1)).unwrap();
    let judged = v.changes.iter().find(|c| c.booking.id == r.id.0).unwrap();
    let frozen = judged
        .conflicts
        .iter()
        .find(|c| c.kind == ConflictKind::InFreeze)
        .unwrap();
    assert_eq!(frozen.overridden.as_ref().unwrap().by, "Sam");
    assert!(!frozen.blocks());

    let started = store
        .move_change(r.id, r.revision, Transition::Start, &p.priya, now())
        .await
        .unwrap();
    assert_eq!(started.state, ChangeState::Implement);
}

#[tokio::test]
async fn moving_a_change_voids_its_freeze_override_and_parties_cannot_override() {
    let (_dir, _file, store) = with_demo().await;
    let p = people(&store).await;
    let start = now() + Duration::days(2);
    let f = store
        .save_calendar_rule(None, freeze("Audit freeze", start, 48), &p.priya, now())
        .await
        .unwrap();
    let mut d = draft(&store, start + Duration::hours(3), 60).await;
    d.assignee = Some(p.dan.id);
    let r = store
        .raise_change(d.clone(), &p.priya, now())
        .await
        .unwrap();
    let party = store
        .override_freeze(r.id, r.revision, f.id, "mine", &p.dan, now())
        .await
        .unwrap_err();
    assert_eq!(party.code(), "separation_of_duties");
    store
        .override_freeze(
            r.id,
            r.revision,
            f.id,
            "Regulator's deadline",
            &p.sam,
            now(),
        )
        .await
        .unwrap();
    assert_eq!(store.bookings().await.unwrap()[0].overrides.len(), 1);
    assert!(
        store.check_slot(&slot(&d, Some(&r))).await.unwrap()[0].conflicts[0]
            .overridden
            .is_some()
    );

    let later = start + Duration::hours(5);
    store
        .reschedule_change(
            r.id,
            r.revision,
            later,
            later + Duration::hours(1),
            &p.priya,
            now(),
        )
        .await
        .unwrap();
    let booking = store
        .bookings()
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.id == r.id.0)
        .unwrap();
    assert!(booking.overrides.is_empty(), "given for the old window");
    // A change outside the freeze has nothing to override.
    let out = now() + Duration::days(10);
    let r2 = store
        .raise_change(draft(&store, out, 30).await, &p.priya, now())
        .await
        .unwrap();
    assert_eq!(
        store
            .override_freeze(r2.id, r2.revision, f.id, "why not", &p.sam, now())
            .await
            .unwrap_err()
            .code(),
        "not_in_freeze"
    );
    // The rows are append-only.
    let e = sqlx::query("DELETE FROM freeze_overrides")
        .execute(store.pool())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("append-only"));
}

#[tokio::test]
async fn an_import_lands_whole_or_not_at_all_and_importing_again_updates() {
    let (_dir, _file, store) = with_demo().await;
    let p = people(&store).await;
    let a = freeze("Christmas freeze", now() + Duration::days(30), 24 * 10);
    let mut b = freeze("Weekly window", now(), 2);
    b.kind = RuleKind::Window;
    b.recurrence = Some("FREQ=WEEKLY;BYDAY=TU".into());
    let items = vec![
        ("xmas@calendar.google.com".to_owned(), a.clone()),
        ("weekly@calendar.google.com".to_owned(), b.clone()),
    ];
    let uids: Vec<String> = items.iter().map(|i| i.0.clone()).collect();
    assert!(store
        .import_targets(&uids)
        .await
        .unwrap()
        .iter()
        .all(|t| t.replaces.is_none()));
    let done = store
        .import_calendar_rules(items.clone(), "holidays.ics", &p.priya, now())
        .await
        .unwrap();
    assert_eq!((done.added, done.updated), (2, 0));
    let targets = store.import_targets(&uids).await.unwrap();
    assert_eq!(
        targets[0].replaces_title.as_deref(),
        Some("Christmas freeze")
    );

    // Again, with a change: the same two rules, updated — by a change
    // manager, since one of them is a freeze a release manager cannot alter.
    let mut renamed = items.clone();
    renamed[0].1.title = "Christmas and New Year freeze".into();
    let refused = store
        .import_calendar_rules(renamed.clone(), "holidays.ics", &p.priya, now())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "freeze_role");
    assert!(
        store
            .calendar_rules()
            .await
            .unwrap()
            .iter()
            .any(|r| r.title == "Christmas freeze"),
        "nothing changed"
    );
    let done = store
        .import_calendar_rules(renamed, "holidays.ics", &p.sam, now())
        .await
        .unwrap();
    assert_eq!((done.added, done.updated), (0, 2));
    let rules = store.calendar_rules().await.unwrap();
    assert_eq!(rules.len(), 2);
    assert!(rules
        .iter()
        .any(|r| r.title == "Christmas and New Year freeze"));

    // Our own export's UIDs find their rules.
    let domain = store.calendar_uid_domain().await.unwrap();
    let own = format!("release-desk-rule-{}@{domain}", rules[1].id);
    assert_eq!(
        store.import_targets(&[own]).await.unwrap()[0].replaces,
        Some(rules[1].id)
    );

    // One bad rule among good ones: nothing lands.
    let before = (
        count(&store, "calendar_rules").await,
        count(&store, "audit_log").await,
    );
    let mut bad = b.clone();
    bad.zone = "Mars/Olympus_Mons".into();
    let e = store
        .import_calendar_rules(
            vec![
                ("new1@example.com".into(), a.clone()),
                ("new2@example.com".into(), bad),
            ],
            "bad.ics",
            &p.priya,
            now(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "unknown_time_zone");
    assert_eq!(
        (
            count(&store, "calendar_rules").await,
            count(&store, "audit_log").await
        ),
        before
    );
    let imported = store
        .recent_audit(50)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "calendar.rule_imported")
        .count();
    assert_eq!(imported, 4, "each imported rule audited");

    // Events without a UID cannot be recognised again: each is a new rule.
    let before = count(&store, "calendar_rules").await;
    let anonymous = vec![(String::new(), a.clone()), (String::new(), a.clone())];
    assert!(store.import_targets(&[String::new()]).await.unwrap()[0]
        .replaces
        .is_none());
    let done = store
        .import_calendar_rules(anonymous, "no-uids.ics", &p.priya, now())
        .await
        .unwrap();
    assert_eq!((done.added, done.updated), (2, 0));
    assert_eq!(count(&store, "calendar_rules").await, before + 2);
}

#[tokio::test]
async fn only_calendar_keepers_edit_rules_and_only_change_managers_alter_a_freeze() {
    let (_dir, _file, store) = with_demo().await;
    let p = people(&store).await;
    let mut window = freeze("Weekly window", now(), 2);
    window.kind = RuleKind::Window;
    window.recurrence = Some("FREQ=WEEKLY".into());
    let no_role = store
        .save_calendar_rule(None, window.clone(), &p.jo, now())
        .await
        .unwrap_err();
    assert_eq!(no_role.code(), "calendar_role");
    // A release manager adds windows and freezes, edits and removes windows...
    let w = store
        .save_calendar_rule(None, window.clone(), &p.priya, now())
        .await
        .unwrap();
    let f = store
        .save_calendar_rule(None, freeze("Audit freeze", now(), 24), &p.priya, now())
        .await
        .unwrap();
    store
        .save_calendar_rule(Some(w.id), window.clone(), &p.priya, now())
        .await
        .unwrap();
    // ...but cannot narrow, turn into a window or remove a freeze.
    let mut narrower = freeze("Audit freeze", now(), 1);
    for attempt in [
        store
            .save_calendar_rule(Some(f.id), narrower.clone(), &p.priya, now())
            .await,
        store
            .save_calendar_rule(Some(f.id), window.clone(), &p.priya, now())
            .await,
    ] {
        assert_eq!(attempt.unwrap_err().code(), "freeze_role");
    }
    assert_eq!(
        store
            .delete_calendar_rule(f.id, &p.priya, now())
            .await
            .unwrap_err()
            .code(),
        "freeze_role"
    );
    narrower.title = "Audit freeze (morning)".into();
    store
        .save_calendar_rule(Some(f.id), narrower, &p.sam, now())
        .await
        .unwrap();
    store
        .delete_calendar_rule(f.id, &p.sam, now())
        .await
        .unwrap();
    store
        .delete_calendar_rule(w.id, &p.priya, now())
        .await
        .unwrap();
    // Ids are never reused: an old override, audit entry or exported UID
    // naming a deleted rule cannot come to mean a new one.
    let again = store
        .save_calendar_rule(None, window.clone(), &p.priya, now())
        .await
        .unwrap();
    assert!(again.id > f.id.max(w.id), "{} reused", again.id);
    // A scope naming an environment the workspace does not have is refused.
    let mut stray = window;
    stray.scope.environments = vec![slug("prod")];
    let e = store
        .save_calendar_rule(None, stray, &p.priya, now())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    assert!(
        e.to_string().contains("'prod'") && e.to_string().contains("production"),
        "{e}"
    );
}

#[tokio::test]
async fn an_override_covers_one_occurrence_of_a_recurring_freeze() {
    let (_dir, _file, store) = with_demo().await;
    let p = people(&store).await;
    // A daily freeze from an hour ago for four hours, every day.
    let mut daily = freeze("Daily batch freeze", now() - Duration::hours(1), 4);
    daily.recurrence = Some("FREQ=DAILY".into());
    let f = store
        .save_calendar_rule(None, daily, &p.priya, now())
        .await
        .unwrap();
    let r = scheduled(
        &store,
        &p,
        draft(&store, now() + Duration::hours(1), 60).await,
    )
    .await;
    store
        .override_freeze(
            r.id,
            r.revision,
            f.id,
            "Batch owner agreed for today",
            &p.sam,
            now(),
        )
        .await
        .unwrap();
    let today = store
        .bookings()
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.id == r.id.0)
        .unwrap();
    assert_eq!(
        today.overrides[0].occurrence_start,
        now() - Duration::hours(1)
    );
    // Starting tomorrow, inside the next occurrence, is still refused.
    let tomorrow = now() + Duration::days(1);
    let err = store
        .move_change(r.id, r.revision, Transition::Start, &p.priya, tomorrow)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "in_freeze");
    // Today it may start.
    store
        .move_change(r.id, r.revision, Transition::Start, &p.priya, now())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_override_needs_the_window_the_manager_saw_and_a_sane_plan() {
    let (_dir, _file, store) = with_demo().await;
    let p = people(&store).await;
    let start = now() + Duration::days(2);
    let f = store
        .save_calendar_rule(None, freeze("Audit freeze", start, 48), &p.priya, now())
        .await
        .unwrap();
    let r = store
        .raise_change(
            draft(&store, start + Duration::hours(3), 60).await,
            &p.priya,
            now(),
        )
        .await
        .unwrap();
    let moved = store
        .reschedule_change(
            r.id,
            r.revision,
            start + Duration::hours(5),
            start + Duration::hours(6),
            &p.priya,
            now(),
        )
        .await
        .unwrap();
    let stale = store
        .override_freeze(r.id, r.revision, f.id, "seen the old time", &p.sam, now())
        .await
        .unwrap_err();
    assert_eq!(stale.code(), "stale_change");
    store
        .override_freeze(
            r.id,
            moved.revision,
            f.id,
            "seen the new time",
            &p.sam,
            now(),
        )
        .await
        .unwrap();
    // Plans a calendar cannot hold are refused with the field named.
    for (s, e) in [
        (start, start + Duration::days(40)),
        (
            start.with_year(9999).unwrap(),
            start.with_year(9999).unwrap() + Duration::hours(1),
        ),
    ] {
        let err = store
            .reschedule_change(r.id, moved.revision, s, e, &p.priya, now())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid_input", "{err}");
        let mut d = draft(&store, s, 60).await;
        d.planned_end = e;
        assert_eq!(
            store.check_slot(&slot(&d, None)).await.unwrap_err().code(),
            "invalid_input"
        );
    }
}
