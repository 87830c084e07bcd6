//! Cases worked out by hand: daylight-saving edges, exceptions, windows across
//! midnight, conflicts with their reasons, the next free slot; and arbitrary
//! recurrence input that must be refused, never panic.

use chrono::{Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use proptest::prelude::*;
use release_desk_domain::{Digest, Slug};

use crate::*;

fn slug(s: &str) -> Slug {
    Slug::parse(s).unwrap()
}

fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(h, min, 0)
        .unwrap()
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn rule(
    kind: RuleKind,
    zone: &str,
    start: NaiveDateTime,
    minutes: u32,
    rrule: Option<&str>,
) -> RuleDraft {
    RuleDraft {
        kind,
        title: match kind {
            RuleKind::Window => "Release window".into(),
            RuleKind::Freeze => "Change freeze".into(),
        },
        zone: zone.into(),
        start,
        duration_minutes: minutes,
        recurrence: rrule.map(Into::into),
        exceptions: vec![],
        scope: Scope::default(),
    }
}

fn starts(
    r: &CalendarRule,
    from: chrono::DateTime<Utc>,
    to: chrono::DateTime<Utc>,
) -> Vec<chrono::DateTime<Utc>> {
    expand(r, from, to)
        .unwrap()
        .occurrences
        .iter()
        .map(|o| o.start)
        .collect()
}

#[test]
fn london_windows_keep_local_time_across_both_clock_changes() {
    // Tuesdays 09:00 London. BST ends Sunday 25 October 2026; begins Sunday 28 March 2027.
    let r = rule(
        RuleKind::Window,
        "Europe/London",
        local(2026, 10, 20, 9, 0),
        120,
        Some("FREQ=WEEKLY;BYDAY=TU"),
    )
    .validate(1)
    .unwrap();
    assert_eq!(
        starts(&r, utc(2026, 10, 19, 0, 0), utc(2026, 10, 29, 0, 0)),
        [utc(2026, 10, 20, 8, 0), utc(2026, 10, 27, 9, 0)]
    );
    assert_eq!(
        starts(&r, utc(2027, 3, 22, 0, 0), utc(2027, 4, 1, 0, 0)),
        [utc(2027, 3, 23, 9, 0), utc(2027, 3, 30, 8, 0)]
    );
}

#[test]
fn new_york_and_a_zone_without_daylight_saving() {
    // New York leaves DST on Sunday 1 November 2026.
    let ny = rule(
        RuleKind::Window,
        "America/New_York",
        local(2026, 10, 30, 9, 0),
        60,
        Some("FREQ=DAILY"),
    )
    .validate(1)
    .unwrap();
    assert_eq!(
        starts(&ny, utc(2026, 10, 31, 0, 0), utc(2026, 11, 3, 0, 0)),
        [
            utc(2026, 10, 31, 13, 0),
            utc(2026, 11, 1, 14, 0),
            utc(2026, 11, 2, 14, 0)
        ]
    );
    let kolkata = rule(
        RuleKind::Window,
        "Asia/Kolkata",
        local(2026, 3, 27, 9, 0),
        60,
        Some("FREQ=DAILY"),
    )
    .validate(1)
    .unwrap();
    assert!(
        starts(&kolkata, utc(2026, 3, 27, 0, 0), utc(2026, 3, 31, 0, 0))
            .iter()
            .all(|t| t.format("%H:%M").to_string() == "03:30")
    );
}

#[test]
fn an_exception_removes_exactly_one_occurrence() {
    let mut d = rule(
        RuleKind::Window,
        "Europe/London",
        local(2026, 11, 24, 9, 0),
        120,
        Some("FREQ=WEEKLY;BYDAY=TU"),
    );
    d.exceptions = vec![local(2026, 12, 1, 9, 0)];
    let r = d.validate(1).unwrap();
    assert_eq!(
        starts(&r, utc(2026, 11, 23, 0, 0), utc(2026, 12, 16, 0, 0)),
        [
            utc(2026, 11, 24, 9, 0),
            utc(2026, 12, 8, 9, 0),
            utc(2026, 12, 15, 9, 0)
        ]
    );
}

#[test]
fn a_time_in_the_skipped_hour_is_refused_naming_it() {
    let err = rule(
        RuleKind::Freeze,
        "Europe/London",
        local(2027, 3, 28, 1, 30),
        60,
        None,
    )
    .validate(1)
    .unwrap_err();
    assert_eq!(err.code(), "skipped_local_time");
    assert!(
        err.to_string()
            .contains("2027-03-28 01:30 does not exist in Europe/London"),
        "{err}"
    );
}

#[test]
fn bad_input_names_the_field() {
    let base = || {
        rule(
            RuleKind::Window,
            "Europe/London",
            local(2026, 11, 24, 9, 0),
            60,
            None,
        )
    };
    let mut d = base();
    d.zone = "Mars/Olympus".into();
    assert_eq!(d.validate(1).unwrap_err().code(), "unknown_time_zone");
    let mut d = base();
    d.recurrence = Some("FREQ=SOMETIMES".into());
    assert_eq!(d.validate(1).unwrap_err().code(), "invalid_recurrence");
    let mut d = base();
    d.recurrence = Some("FREQ=DAILY\nDTSTART:19700101T000000Z".into());
    assert!(d
        .validate(1)
        .unwrap_err()
        .to_string()
        .contains("is not an RRULE value"));
    let mut d = base();
    d.recurrence = Some("BYDAY=MO".into());
    assert!(d
        .validate(1)
        .unwrap_err()
        .to_string()
        .contains("needs a FREQ"));
    let mut d = base();
    d.duration_minutes = 0;
    assert!(d
        .validate(1)
        .unwrap_err()
        .to_string()
        .starts_with("duration:"));
    let mut d = base();
    d.title = " ".into();
    assert_eq!(
        d.validate(1).unwrap_err().to_string(),
        "title must not be empty"
    );
    // A line break in a title would become a new line in an exported file.
    let mut d = base();
    d.title = "Freeze\rBEGIN:VEVENT".into();
    assert!(d.validate(1).unwrap_err().to_string().starts_with("title:"));
}

#[test]
fn too_many_occurrences_in_a_range_is_an_error_not_a_hang() {
    // Sub-daily frequencies are refused outright...
    let minutely = rule(
        RuleKind::Freeze,
        "UTC",
        local(2026, 1, 1, 0, 0),
        1,
        Some("FREQ=MINUTELY"),
    )
    .validate(1)
    .unwrap_err();
    assert_eq!(minutely.code(), "invalid_recurrence");
    assert!(minutely.to_string().contains("at most daily"), "{minutely}");
    // ...and a daily rule that still repeats every quarter hour stops at
    // the cap with an error, not a hang.
    let r = rule(
        RuleKind::Freeze,
        "UTC",
        local(2026, 1, 1, 0, 0),
        1,
        Some(
            "FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23;BYMINUTE=0,15,30,45",
        ),
    )
    .validate(1)
    .unwrap();
    let err = expand(&r, utc(2026, 1, 1, 0, 0), utc(2026, 12, 31, 0, 0)).unwrap_err();
    assert_eq!(err.code(), "invalid_recurrence");
}

// ---- conflicts --------------------------------------------------------------

fn digest(b: u8) -> Digest {
    Digest::parse(&format!("{b:02x}").repeat(32)).unwrap()
}

fn booking(id: i64, env: &str, stage: u32, start: chrono::DateTime<Utc>, minutes: i64) -> Booking {
    Booking {
        id,
        reference: format!("CHG-{id:04}"),
        service: slug("payments-api"),
        environment: slug(env),
        stage,
        production: env == "production",
        digest: digest(0xaa),
        start,
        end: start + Duration::minutes(minutes),
        overrides: Vec::new(),
    }
}

/// Tue and Thu 09:00–11:00 London windows for production, and a freeze all
/// day on Tuesday 24 November 2026 (GMT, so London = UTC here).
fn calendar() -> Vec<Expanded> {
    let mut window = rule(
        RuleKind::Window,
        "Europe/London",
        local(2026, 11, 3, 9, 0),
        120,
        Some("FREQ=WEEKLY;BYDAY=TU,TH"),
    );
    window.scope.environments = vec![slug("production")];
    let freeze = rule(
        RuleKind::Freeze,
        "Europe/London",
        local(2026, 11, 24, 0, 0),
        24 * 60,
        None,
    );
    let (from, to) = (utc(2026, 11, 1, 0, 0), utc(2026, 12, 31, 0, 0));
    vec![
        expand(&window.validate(1).unwrap(), from, to).unwrap(),
        expand(&freeze.validate(2).unwrap(), from, to).unwrap(),
    ]
}

fn kinds(c: &[Conflict]) -> Vec<ConflictKind> {
    c.iter().map(|c| c.kind).collect()
}

#[test]
fn a_change_inside_a_freeze_says_which_and_when() {
    let b = booking(1, "production", 4, utc(2026, 11, 24, 9, 30), 60);
    let c = conflicts(&b, &calendar(), &[]);
    assert_eq!(kinds(&c), [ConflictKind::InFreeze]);
    assert!(
        c[0].reason.contains("Change freeze") && c[0].reason.contains("Tue 24 Nov 00:00 GMT"),
        "{}",
        c[0].reason
    );
}

#[test]
fn a_change_spanning_the_freeze_boundary_is_in_the_freeze() {
    // 23:30 Monday to 00:30 Tuesday: half an hour inside the freeze (and no window).
    let b = booking(1, "test", 1, utc(2026, 11, 23, 23, 30), 60);
    assert_eq!(
        kinds(&conflicts(&b, &calendar(), &[])),
        [ConflictKind::InFreeze]
    );
}

#[test]
fn outside_every_window_names_the_next_one() {
    let b = booking(1, "production", 4, utc(2026, 11, 25, 14, 0), 60);
    let c = conflicts(&b, &calendar(), &[]);
    assert_eq!(kinds(&c), [ConflictKind::OutsideWindows]);
    assert!(
        c[0].reason.ends_with("the next opens Thu 26 Nov 09:00 GMT"),
        "{}",
        c[0].reason
    );
    // Environments without windows of their own have no window constraint.
    assert!(conflicts(
        &booking(1, "uat", 2, utc(2026, 11, 25, 14, 0), 60),
        &calendar(),
        &[]
    )
    .is_empty());
}

#[test]
fn a_change_that_overruns_its_window_says_by_how_much() {
    let b = booking(1, "production", 4, utc(2026, 11, 26, 10, 30), 60);
    let c = conflicts(&b, &calendar(), &[]);
    assert_eq!(kinds(&c), [ConflictKind::OverrunsWindow]);
    assert!(
        c[0].reason.starts_with("runs 30 min past the end"),
        "{}",
        c[0].reason
    );
}

#[test]
fn two_changes_to_the_same_service_and_environment_overlap() {
    let a = booking(1, "production", 4, utc(2026, 11, 26, 9, 0), 60);
    let b = booking(2, "production", 4, utc(2026, 11, 26, 9, 30), 60);
    let c = conflicts(&b, &calendar(), &[a.clone(), b.clone()]);
    assert!(kinds(&c).contains(&ConflictKind::Overlaps));
    // Back to back is not an overlap.
    let c2 = booking(3, "production", 4, utc(2026, 11, 26, 10, 0), 60);
    assert!(
        !kinds(&conflicts(&c2, &calendar(), &[a, c2.clone()])).contains(&ConflictKind::Overlaps)
    );
}

#[test]
fn production_before_the_artefact_has_passed_preprod() {
    let preprod = booking(1, "preprod", 3, utc(2026, 11, 26, 9, 0), 180);
    let prod = booking(2, "production", 4, utc(2026, 11, 26, 9, 0), 60);
    let c = conflicts(&prod, &calendar(), &[preprod]);
    assert_eq!(kinds(&c), [ConflictKind::BeforeEarlierStages]);
    assert!(
        c[0].reason.contains("CHG-0001 in preprod"),
        "{}",
        c[0].reason
    );
}

#[test]
fn back_to_back_windows_count_as_one() {
    let mut a = rule(RuleKind::Window, "UTC", local(2026, 11, 26, 9, 0), 60, None);
    a.title = "Morning".into();
    let mut b = rule(
        RuleKind::Window,
        "UTC",
        local(2026, 11, 26, 10, 0),
        60,
        None,
    );
    b.title = "Late morning".into();
    let (from, to) = (utc(2026, 11, 1, 0, 0), utc(2026, 12, 1, 0, 0));
    let rules = vec![
        expand(&a.validate(1).unwrap(), from, to).unwrap(),
        expand(&b.validate(2).unwrap(), from, to).unwrap(),
    ];
    assert!(conflicts(
        &booking(1, "test", 1, utc(2026, 11, 26, 9, 30), 60),
        &rules,
        &[]
    )
    .is_empty());
}

#[test]
fn a_window_across_midnight_contains_a_change_after_midnight() {
    let w = rule(
        RuleKind::Window,
        "Europe/London",
        local(2026, 11, 23, 22, 0),
        240,
        Some("FREQ=DAILY"),
    )
    .validate(1)
    .unwrap();
    let rules = vec![expand(&w, utc(2026, 11, 20, 0, 0), utc(2026, 11, 30, 0, 0)).unwrap()];
    assert!(conflicts(
        &booking(1, "test", 1, utc(2026, 11, 25, 1, 0), 60),
        &rules,
        &[]
    )
    .is_empty());
    assert_eq!(
        kinds(&conflicts(
            &booking(1, "test", 1, utc(2026, 11, 25, 1, 30), 60),
            &rules,
            &[]
        )),
        [ConflictKind::OverrunsWindow]
    );
}

#[test]
fn the_next_free_slot_skips_the_freeze_and_the_booked_hour() {
    // From Monday 23 Nov: Tuesday's window is frozen; Thursday 09:00–10:00 is booked.
    let booked = booking(7, "production", 4, utc(2026, 11, 26, 9, 0), 60);
    let slot = next_free_slot(
        &slug("payments-api"),
        &slug("production"),
        Duration::minutes(60),
        utc(2026, 11, 23, 8, 0),
        utc(2026, 12, 31, 0, 0),
        &calendar(),
        &[booked],
        &digest(0xaa),
    );
    assert_eq!(slot, Some(utc(2026, 11, 26, 10, 0)));
    // Two hours no longer fit on Thursday; the next Tuesday does.
    let slot = next_free_slot(
        &slug("payments-api"),
        &slug("production"),
        Duration::minutes(120),
        utc(2026, 11, 23, 8, 0),
        utc(2026, 12, 31, 0, 0),
        &calendar(),
        &[booking(7, "production", 4, utc(2026, 11, 26, 9, 0), 60)],
        &digest(0xaa),
    );
    assert_eq!(slot, Some(utc(2026, 12, 1, 9, 0)));
}

#[test]
fn no_slot_within_the_horizon_is_none() {
    let slot = next_free_slot(
        &slug("payments-api"),
        &slug("production"),
        Duration::minutes(180),
        utc(2026, 11, 23, 8, 0),
        utc(2026, 12, 31, 0, 0),
        &calendar(),
        &[],
        &digest(0xaa),
    );
    assert_eq!(slot, None, "a 3-hour change never fits a 2-hour window");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Whatever is typed as a recurrence, validation answers with a rule or a
    /// named error; it never panics, and what it accepts can be expanded.
    #[test]
    fn arbitrary_recurrence_text_is_refused_or_expands(text in "[A-Z=;,0-9+\\-]{0,60}|FREQ=(DAILY|WEEKLY|MONTHLY|YEARLY|HOURLY);[A-Z=;,0-9+\\-]{0,40}") {
        let d = rule(RuleKind::Window, "Europe/London", local(2026, 11, 24, 9, 0), 60, Some(&text));
        if let Ok(r) = d.validate(1) {
            let _ = expand(&r, utc(2026, 11, 1, 0, 0), utc(2027, 11, 1, 0, 0));
        }
    }

    #[test]
    fn occurrences_always_overlap_the_range_and_last_the_duration(minutes in 1u32..3000, day in 1u32..28, hour in 0u32..24) {
        let r = rule(RuleKind::Window, "Europe/London", local(2026, 3, day, hour, 0), minutes, Some("FREQ=DAILY;INTERVAL=3"));
        if let Ok(r) = r.validate(1) {
            let (from, to) = (utc(2026, 3, 20, 0, 0), utc(2026, 4, 20, 0, 0));
            for o in expand(&r, from, to).unwrap().occurrences {
                prop_assert!(o.overlaps(from, to));
                prop_assert_eq!(o.end - o.start, Duration::minutes(i64::from(minutes)));
            }
        }
    }
}

#[test]
fn the_view_lists_occurrences_in_range_and_judges_each_change_whole() {
    let mut window = rule(
        RuleKind::Window,
        "Europe/London",
        local(2026, 11, 3, 9, 0),
        120,
        Some("FREQ=WEEKLY;BYDAY=TU,TH"),
    );
    window.scope.environments = vec![slug("production")];
    let freeze = rule(
        RuleKind::Freeze,
        "Europe/London",
        local(2026, 11, 24, 0, 0),
        24 * 60,
        None,
    );
    let rules = vec![window.validate(1).unwrap(), freeze.validate(2).unwrap()];
    // A change starting in the last hour of the range and running past it.
    let late = booking(1, "production", 4, utc(2026, 11, 26, 10, 30), 60);
    let v = view(
        &rules,
        &[late],
        utc(2026, 11, 23, 0, 0),
        utc(2026, 11, 26, 11, 0),
    )
    .unwrap();
    let titles: Vec<(&str, chrono::DateTime<Utc>)> = v
        .occurrences
        .iter()
        .map(|o| (o.title.as_str(), o.occurrence.start))
        .collect();
    assert_eq!(
        titles,
        [
            ("Change freeze", utc(2026, 11, 24, 0, 0)),
            ("Release window", utc(2026, 11, 24, 9, 0)),
            ("Release window", utc(2026, 11, 26, 9, 0)),
        ]
    );
    assert_eq!(
        kinds(&v.changes[0].conflicts),
        [ConflictKind::OverrunsWindow]
    );
}

#[test]
fn upcoming_lists_the_next_occurrences_from_now_including_one_under_way() {
    let rule = RuleDraft {
        kind: RuleKind::Window,
        title: "Tuesday and Thursday".into(),
        zone: "Europe/London".into(),
        start: chrono::NaiveDate::from_ymd_opt(2026, 10, 20)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap(),
        duration_minutes: 120,
        recurrence: Some("FREQ=WEEKLY;BYDAY=TU,TH".into()),
        exceptions: vec![],
        scope: Scope::default(),
    }
    .validate(1)
    .unwrap();
    // Tuesday 24 November 2026, 10:00 UTC: the 09:00–11:00 window is open.
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
    let next = crate::upcoming(&rule, now, 3).unwrap();
    let starts: Vec<_> = next.iter().map(|o| o.start).collect();
    assert_eq!(
        starts,
        [
            Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
        ]
    );
}
