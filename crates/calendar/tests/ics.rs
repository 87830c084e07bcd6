//! ICS export and import: round trips, conformance of what we write (checked
//! by a second parser too), files as Google Calendar and Outlook write them,
//! refusals that name their line, and fuzzing that must never panic.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use release_desk_calendar::*;
use release_desk_domain::{Digest, Slug};

const DOMAIN: &str = "releases.example.com";

fn slug(s: &str) -> Slug {
    Slug::parse(s).unwrap()
}

fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(h, min, 0)
        .unwrap()
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/ics/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Drafts as `validate` leaves them, so a round trip must give them back equal.
fn round_trip_drafts() -> Vec<RuleDraft> {
    vec![
        RuleDraft {
            kind: RuleKind::Window,
            title: "Payments release window".into(),
            zone: "Europe/London".into(),
            start: local(2026, 3, 3, 9, 0),
            duration_minutes: 150,
            recurrence: Some("FREQ=WEEKLY;BYDAY=TU,TH".into()),
            // One in GMT, one in BST.
            exceptions: vec![local(2026, 3, 10, 9, 0), local(2026, 4, 7, 9, 0)],
            scope: Scope {
                environments: vec![slug("prod"), slug("preprod")],
                services: vec![slug("payments-api"), slug("checkout")],
            },
        },
        RuleDraft {
            kind: RuleKind::Freeze,
            title: "Month-end close".into(),
            zone: "America/New_York".into(),
            start: local(2026, 10, 30, 18, 0),
            duration_minutes: 3 * 24 * 60,
            recurrence: Some("FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20271231T235959Z".into()),
            exceptions: vec![local(2026, 12, 25, 18, 0)],
            scope: Scope::default(),
        },
        RuleDraft {
            kind: RuleKind::Window,
            title: "Bengaluru morning deploys".into(),
            zone: "Asia/Kolkata".into(),
            start: local(2026, 4, 6, 10, 0),
            duration_minutes: 90,
            recurrence: Some("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR".into()),
            exceptions: vec![],
            scope: Scope {
                environments: vec![slug("prod")],
                services: vec![],
            },
        },
        RuleDraft {
            kind: RuleKind::Freeze,
            title: "Q4 freeze, part 1; see C:\\runbooks\\freeze.md — ask #release-desk, «urgent» only ✓"
                .into(),
            zone: "UTC".into(),
            start: local(2026, 12, 18, 17, 0),
            duration_minutes: 17 * 24 * 60,
            recurrence: None,
            exceptions: vec![],
            scope: Scope {
                environments: vec![],
                services: vec![slug("ledger")],
            },
        },
        // Ends an hour of wall clock later than it "should": the clocks go forward.
        RuleDraft {
            kind: RuleKind::Window,
            title: "Overnight migration".into(),
            zone: "Europe/London".into(),
            start: local(2027, 3, 28, 0, 30),
            duration_minutes: 120,
            recurrence: None,
            exceptions: vec![],
            scope: Scope::default(),
        },
        // Ends in the second run of the hour that happens twice.
        RuleDraft {
            kind: RuleKind::Window,
            title: "Fall-back hour".into(),
            zone: "Europe/London".into(),
            start: local(2026, 10, 25, 0, 30),
            duration_minutes: 90,
            recurrence: None,
            exceptions: vec![],
            scope: Scope::default(),
        },
    ]
}

fn rules(drafts: &[RuleDraft]) -> Vec<CalendarRule> {
    drafts
        .iter()
        .enumerate()
        .map(|(i, d)| d.clone().validate(i as i64 + 1).unwrap())
        .collect()
}

fn change(id: i64, conflicts: Vec<Conflict>) -> PlannedChange {
    PlannedChange {
        booking: Booking {
            id,
            reference: format!("CHG-{id}"),
            service: slug("payments-api"),
            environment: slug("prod"),
            stage: 2,
            production: true,
            digest: Digest::parse(&"ab".repeat(32)).unwrap(),
            start: utc(2026, 3, 5, 9, 30),
            end: utc(2026, 3, 5, 10, 30),
            overrides: vec![],
        },
        conflicts,
    }
}

fn changes() -> Vec<PlannedChange> {
    vec![
        change(41, vec![]),
        change(
            42,
            vec![Conflict {
                kind: ConflictKind::InFreeze,
                reason: "inside the freeze 'Month-end close' (Fri 30 Oct 18:00 EDT – Mon 2 Nov 18:00 EST)".into(),
                with: "Month-end close".into(),
                rule_id: Some(2),
                overridden: None,
            }],
        ),
    ]
}

fn export_at(rules: &[CalendarRule], changes: &[PlannedChange], now: DateTime<Utc>) -> String {
    to_ics(&IcsExport {
        calendar_name: "Release calendar, platform; team",
        uid_domain: DOMAIN,
        rules,
        changes,
        now,
        modified: &[],
    })
}

fn full_export() -> String {
    export_at(
        &rules(&round_trip_drafts()),
        &changes(),
        utc(2026, 3, 1, 12, 0),
    )
}

/// The lines of the file once unfolded (RFC 5545 §3.1).
fn unfolded(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.split("\r\n") {
        match line.strip_prefix(' ') {
            Some(rest) => out.last_mut().unwrap().push_str(rest),
            None => out.push(line.to_owned()),
        }
    }
    out
}

/// The lines of the VTIMEZONE whose TZID is `zone`.
fn vtimezone_of(text: &str, zone: &str) -> Vec<String> {
    let lines = unfolded(text);
    let start = lines
        .iter()
        .position(|l| l == &format!("TZID:{zone}"))
        .unwrap_or_else(|| panic!("no VTIMEZONE for {zone}"));
    let end = start
        + lines[start..]
            .iter()
            .position(|l| l == "END:VTIMEZONE")
            .unwrap();
    lines[start..end].to_vec()
}

// ---------------------------------------------------------------- round trip

#[test]
fn export_then_import_gives_back_every_draft() {
    let drafts = round_trip_drafts();
    let text = full_export();
    let imported = parse_ics(&text, "Europe/Paris").unwrap();
    let got: Vec<RuleDraft> = imported.rules.iter().map(|r| r.draft.clone()).collect();
    assert_eq!(got, drafts);
    for (i, r) in imported.rules.iter().enumerate() {
        assert_eq!(r.uid, format!("release-desk-rule-{}@{DOMAIN}", i + 1));
        assert!(!r.kind_guessed);
    }
    // The planned changes come back as skipped, never as rules.
    assert_eq!(imported.skipped.len(), 2);
    assert!(imported.skipped[0]
        .what
        .contains("CHG-41 payments-api → prod"));
    assert!(imported.skipped[0].reason.contains("planned change"));
}

#[test]
fn lf_line_endings_and_a_bom_import_the_same() {
    let text = full_export();
    let crlf = parse_ics(&text, "UTC").unwrap();
    let lf = parse_ics(&format!("\u{feff}{}", text.replace("\r\n", "\n")), "UTC").unwrap();
    assert_eq!(crlf, lf);
}

#[test]
fn the_end_is_the_start_instant_plus_the_duration_in_the_zone() {
    let lines = unfolded(&full_export());
    // 00:30 GMT + 2 h is 03:30 BST on the night the clocks go forward.
    assert!(lines.contains(&"DTSTART;TZID=Europe/London:20270328T003000".to_owned()));
    assert!(lines.contains(&"DTEND;TZID=Europe/London:20270328T033000".to_owned()));
    // 00:30 BST + 90 min is the second 01:00 (GMT): only UTC can say which.
    assert!(lines.contains(&"DTSTART;TZID=Europe/London:20261025T003000".to_owned()));
    assert!(lines.contains(&"DTEND:20261025T010000Z".to_owned()));
}

// --------------------------------------------------------------- conformance

#[test]
fn every_physical_line_is_crlf_terminated_and_at_most_75_octets() {
    let text = full_export();
    assert!(text.ends_with("END:VCALENDAR\r\n"));
    assert!(
        !text.replace("\r\n", "").contains(['\r', '\n']),
        "bare CR or LF"
    );
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line}", line.len());
    }
    // The long title with non-ASCII text was folded, and unfolds intact.
    let lines = unfolded(&text);
    assert!(lines.contains(
        &r"X-RELEASE-DESK-TITLE:Q4 freeze\, part 1\; see C:\\runbooks\\freeze.md — ask #release-desk\, «urgent» only ✓"
            .to_owned()
    ));
}

/// Text that reaches an export from elsewhere (a conflict's reason quotes a
/// freeze override's reason, which a person typed) cannot start a line of
/// its own: a bare CR or LF is escaped like any line break.
#[test]
fn line_breaks_in_conflict_reasons_cannot_inject_properties() {
    let hostile = Conflict {
        kind: ConflictKind::InFreeze,
        reason: "inside the freeze\rEND:VEVENT\r\nBEGIN:VEVENT\nSUMMARY:pwned".into(),
        with: "freeze".into(),
        rule_id: Some(1),
        overridden: None,
    };
    let drafts = round_trip_drafts();
    let text = export_at(
        &rules(&drafts),
        &[change(9, vec![hostile])],
        utc(2026, 3, 1, 12, 0),
    );
    assert!(
        !text.replace("\r\n", "").contains(['\r', '\n']),
        "bare CR or LF"
    );
    let lines = unfolded(&text);
    assert!(
        !lines.iter().any(|l| l == "SUMMARY:pwned"),
        "an injected property"
    );
    assert_eq!(
        lines.iter().filter(|l| *l == "BEGIN:VEVENT").count(),
        drafts.len() + 1,
        "one event per rule and one for the change"
    );
}

/// Found by `any_valid_rule_round_trips`: the `icalendar` crate folded this
/// rule's 150-octet DESCRIPTION into a 75-octet line and a 76-octet one
/// (its last continuation forgot the leading space). We refold every line.
#[test]
fn regression_a_150_octet_line_folds_into_lines_of_at_most_75_octets() {
    let rule = RuleDraft {
        kind: RuleKind::Freeze,
        title: "«".into(),
        zone: "America/Sao_Paulo".into(),
        start: local(2020, 1, 1, 0, 0),
        duration_minutes: 1,
        recurrence: None,
        exceptions: vec![],
        scope: Scope {
            environments: vec![slug("dev"), slug("preprod"), slug("prod")],
            services: vec![],
        },
    };
    let text = export_at(
        &[rule.clone().validate(7).unwrap()],
        &[],
        utc(2026, 3, 1, 12, 0),
    );
    let description = "DESCRIPTION:No changes may go live during this freeze. Applies to environments dev\\, preprod\\, prod and every service. Times are in America/Sao_Paulo.";
    assert_eq!(description.len(), 150);
    assert!(unfolded(&text).contains(&description.to_owned()));
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line}", line.len());
    }
    assert_eq!(parse_ics(&text, "UTC").unwrap().rules[0].draft, rule);
}

#[test]
fn header_summary_transparency_and_scope_properties() {
    let lines = unfolded(&full_export());
    for expected in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Release Desk//Release calendar//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        r"X-WR-CALNAME:Release calendar\, platform\; team",
        "SUMMARY:Release window: Payments release window",
        "SUMMARY:Freeze: Month-end close",
        "TRANSP:TRANSPARENT",
        "TRANSP:OPAQUE",
        "CATEGORIES:Freeze",
        "X-RELEASE-DESK-KIND:window",
        "X-RELEASE-DESK-KIND:freeze",
        r"X-RELEASE-DESK-ENVIRONMENTS:prod\,preprod",
        r"X-RELEASE-DESK-SERVICES:payments-api\,checkout",
        "RRULE:FREQ=WEEKLY;BYDAY=TU,TH",
        "EXDATE;TZID=Europe/London:20260407T090000",
        "DESCRIPTION:Changes may go live during this window. Applies to environments prod\\, preprod and services payments-api\\, checkout. Times are in Europe/London.",
        "DESCRIPTION:No changes may go live during this freeze. Applies to every environment and every service. Times are in America/New_York.",
    ] {
        assert!(lines.contains(&expected.to_owned()), "missing {expected}");
    }
}

#[test]
fn planned_changes_are_utc_events_listing_their_conflicts() {
    let lines = unfolded(&full_export());
    for expected in [
        format!("UID:release-desk-change-41-prod@{DOMAIN}"),
        "DTSTART:20260305T093000Z".into(),
        "DTEND:20260305T103000Z".into(),
        "SUMMARY:CHG-42 payments-api → prod".into(),
        "DESCRIPTION:No conflicts".into(),
        r"DESCRIPTION:Conflicts:\n- inside the freeze 'Month-end close' (Fri 30 Oct 18:00 EDT – Mon 2 Nov 18:00 EST)".into(),
        "X-RELEASE-DESK-CHANGE:CHG-42".into(),
    ] {
        assert!(lines.contains(&expected), "missing {expected}");
    }
}

#[test]
fn uids_are_stable_across_exports_and_dtstamp_is_now() {
    let rules = rules(&round_trip_drafts());
    let uids = |text: &str| -> Vec<String> {
        unfolded(text)
            .into_iter()
            .filter(|l| l.starts_with("UID:"))
            .collect()
    };
    let first = export_at(&rules, &changes(), utc(2026, 3, 1, 12, 0));
    let second = export_at(&rules, &changes(), utc(2026, 9, 14, 8, 5));
    assert_eq!(uids(&first), uids(&second));
    assert_eq!(uids(&first).len(), rules.len() + 2);
    assert!(uids(&first).contains(&format!("UID:release-desk-rule-1@{DOMAIN}")));
    assert!(first.contains("DTSTAMP:20260301T120000Z"));
    assert!(second.contains("DTSTAMP:20260914T080500Z"));
    assert!(!second.contains("DTSTAMP:20260301T120000Z"));
}

#[test]
fn every_tzid_used_has_a_vtimezone() {
    let text = full_export();
    let lines = unfolded(&text);
    let mut used: Vec<String> = lines
        .iter()
        .filter_map(|l| {
            l.split_once(";TZID=")
                .map(|(_, rest)| rest.split(':').next().unwrap().to_owned())
        })
        .collect();
    used.sort();
    used.dedup();
    assert_eq!(
        used,
        ["America/New_York", "Asia/Kolkata", "Europe/London", "UTC"]
    );
    for zone in &used {
        let tz = vtimezone_of(&text, zone);
        assert!(tz.contains(&format!("X-LIC-LOCATION:{zone}")));
    }
    // Once each, and before the events.
    assert_eq!(lines.iter().filter(|l| *l == "BEGIN:VTIMEZONE").count(), 4);
    let last_tz = lines.iter().rposition(|l| l == "END:VTIMEZONE").unwrap();
    let first_event = lines.iter().position(|l| l == "BEGIN:VEVENT").unwrap();
    assert!(last_tz < first_event);
}

/// `(DTSTART, TZOFFSETFROM, TZOFFSETTO, RRULE)` of each observance of a kind.
fn observances(vtimezone: &[String], kind: &str) -> Vec<(String, String, String, Option<String>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < vtimezone.len() {
        if vtimezone[i] == format!("BEGIN:{kind}") {
            let end = i + vtimezone[i..]
                .iter()
                .position(|l| l == &format!("END:{kind}"))
                .unwrap();
            let get = |name: &str| {
                vtimezone[i..end]
                    .iter()
                    .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_owned))
            };
            out.push((
                get("DTSTART").unwrap(),
                get("TZOFFSETFROM").unwrap(),
                get("TZOFFSETTO").unwrap(),
                get("RRULE"),
            ));
            i = end;
        }
        i += 1;
    }
    out
}

fn is_last_sunday(date: NaiveDate) -> bool {
    date.weekday() == Weekday::Sun && (date + chrono::Duration::days(7)).month() != date.month()
}

#[test]
fn london_changes_clocks_at_01_utc_on_the_last_sundays_of_march_and_october() {
    let tz = vtimezone_of(&full_export(), "Europe/London");
    let daylight = observances(&tz, "DAYLIGHT");
    let standard = observances(&tz, "STANDARD");
    assert_eq!(daylight.len(), 1, "{tz:#?}");
    assert_eq!(standard.len(), 1, "{tz:#?}");
    let (start, from, to, rrule) = &daylight[0];
    let start = NaiveDateTime::parse_from_str(start, "%Y%m%dT%H%M%S").unwrap();
    // 01:00 on the GMT clock is 01:00 UTC.
    assert!(
        is_last_sunday(start.date()) && start.month() == 3,
        "{start}"
    );
    assert_eq!(start.time().to_string(), "01:00:00");
    assert_eq!((from.as_str(), to.as_str()), ("+0000", "+0100"));
    assert_eq!(rrule.as_deref(), Some("FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"));

    let (start, from, to, rrule) = &standard[0];
    let start = NaiveDateTime::parse_from_str(start, "%Y%m%dT%H%M%S").unwrap();
    // 02:00 on the BST clock is 01:00 UTC.
    assert!(
        is_last_sunday(start.date()) && start.month() == 10,
        "{start}"
    );
    assert_eq!(start.time().to_string(), "02:00:00");
    assert_eq!((from.as_str(), to.as_str()), ("+0100", "+0000"));
    assert_eq!(rrule.as_deref(), Some("FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU"));
    assert!(tz.contains(&"TZNAME:BST".to_owned()) && tz.contains(&"TZNAME:GMT".to_owned()));
}

#[test]
fn zones_without_daylight_saving_have_a_single_standard_observance() {
    let text = full_export();
    for (zone, offset) in [("Asia/Kolkata", "+0530"), ("UTC", "+0000")] {
        let tz = vtimezone_of(&text, zone);
        assert!(observances(&tz, "DAYLIGHT").is_empty());
        let standard = observances(&tz, "STANDARD");
        assert_eq!(standard.len(), 1, "{zone}: {tz:#?}");
        assert_eq!(standard[0].1, offset);
        assert_eq!(standard[0].2, offset);
        assert_eq!(standard[0].3, None);
    }
}

fn offset_seconds(text: &str) -> i32 {
    let sign = if text.starts_with('-') { -1 } else { 1 };
    let digits = &text[1..];
    let h: i32 = digits[..2].parse().unwrap();
    let m: i32 = digits[2..4].parse().unwrap();
    let s: i32 = digits.get(4..6).map_or(0, |s| s.parse().unwrap());
    sign * (h * 3600 + m * 60 + s)
}

/// Reads every VTIMEZONE of `text` with the `ical` crate, expands its
/// observances with the `rrule` crate, and checks the offset they give every
/// day over `[from, until)` (from the first onset), and either side of each
/// onset, against chrono-tz.
fn check_vtimezones(text: &str, from: DateTime<Utc>, until: DateTime<Utc>) -> usize {
    let mut calendars = ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()));
    let calendar = calendars
        .next()
        .expect("one calendar")
        .expect("ical parses it");
    let prop = |props: &[ical::property::Property], name: &str| {
        props
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.value.clone())
    };
    for zone in &calendar.timezones {
        let tzid = prop(&zone.properties, "TZID").unwrap();
        let tz: Tz = tzid.parse().unwrap();
        // (onset, offset after it)
        let mut onsets: Vec<(DateTime<Utc>, i32)> = Vec::new();
        for observance in &zone.transitions {
            let start = prop(&observance.properties, "DTSTART").unwrap();
            let from = offset_seconds(&prop(&observance.properties, "TZOFFSETFROM").unwrap());
            let to = offset_seconds(&prop(&observance.properties, "TZOFFSETTO").unwrap());
            let (rule, until) = match prop(&observance.properties, "RRULE") {
                None => ("FREQ=DAILY;COUNT=1".to_owned(), None),
                Some(r) => {
                    let mut until = None;
                    let parts: Vec<&str> = r
                        .split(';')
                        .filter(|p| match p.strip_prefix("UNTIL=") {
                            Some(u) => {
                                until = Some(
                                    NaiveDateTime::parse_from_str(u, "%Y%m%dT%H%M%SZ")
                                        .unwrap()
                                        .and_utc(),
                                );
                                false
                            }
                            None => true,
                        })
                        .collect();
                    (parts.join(";"), until)
                }
            };
            // Expanded on a UTC clock standing in for the floating local one.
            let set: rrule::RRuleSet = format!("DTSTART;TZID=UTC:{start}\nRRULE:{rule}")
                .parse()
                .unwrap();
            for wall in set.all(120).dates {
                let onset = wall.naive_utc().and_utc() - chrono::Duration::seconds(i64::from(from));
                if until.is_none_or(|u| onset <= u) {
                    onsets.push((onset, to));
                }
            }
        }
        onsets.sort();
        // Observances start within the span's first year (a year before the
        // earliest rule); before the first one the offset is not described.
        let first = onsets[0].0;
        assert!(
            first < from + chrono::Duration::days(366),
            "{tzid} starts {first}"
        );
        let offset_at =
            |t: DateTime<Utc>| onsets.iter().rev().find(|(at, _)| *at <= t).map(|o| o.1);
        let expected_at = |t: DateTime<Utc>| {
            chrono::Offset::fix(&tz.offset_from_utc_datetime(&t.naive_utc())).local_minus_utc()
        };
        // Daily, and either side of every onset: both are step functions.
        let start = from.max(first);
        let mut samples: Vec<DateTime<Utc>> = onsets
            .iter()
            .flat_map(|(at, _)| [*at - chrono::Duration::seconds(1), *at])
            .filter(|t| (start..until).contains(t))
            .collect();
        let mut t = start;
        while t < until {
            samples.push(t);
            t += chrono::Duration::days(1);
        }
        for t in samples {
            assert_eq!(offset_at(t), Some(expected_at(t)), "{tzid} at {t}");
        }
    }
    calendar.timezones.len()
}

#[test]
fn a_second_parser_reads_the_export() {
    let text = full_export();
    let mut calendars = ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()));
    let calendar = calendars
        .next()
        .expect("one calendar")
        .expect("ical parses it");
    assert!(calendars.next().is_none());
    assert_eq!(
        calendar.events.len(),
        round_trip_drafts().len() + changes().len()
    );
    assert_eq!(calendar.timezones.len(), 4);
    let summaries: Vec<String> = calendar
        .events
        .iter()
        .flat_map(|e| &e.properties)
        .filter(|p| p.name == "SUMMARY")
        .filter_map(|p| p.value.clone())
        .collect();
    assert!(summaries.contains(&"Release window: Payments release window".to_owned()));
    let dtstart = calendar.events[0]
        .properties
        .iter()
        .find(|p| p.name == "DTSTART")
        .unwrap();
    assert_eq!(dtstart.value.as_deref(), Some("20260303T090000"));
    assert_eq!(
        dtstart.params.as_ref().unwrap()[0],
        ("TZID".to_owned(), vec!["Europe/London".to_owned()])
    );
}

/// Including years after the export's span: the open-ended RRULEs.
#[test]
fn the_exported_vtimezones_agree_with_chrono_tz_for_decades() {
    let checked = check_vtimezones(&full_export(), utc(2025, 1, 1, 0, 0), utc(2045, 1, 1, 0, 0));
    assert_eq!(checked, 4);
}

/// One rule in every zone chrono-tz knows: whatever its rules (half-hour
/// DST on Lord Howe, Dublin's negative DST, Casablanca's Ramadan changes,
/// transitions at midnight), the VTIMEZONE gives the right offset.
#[test]
fn every_iana_zone_gets_a_correct_vtimezone() {
    let rules: Vec<CalendarRule> = chrono_tz::TZ_VARIANTS
        .iter()
        .enumerate()
        .filter_map(|(i, tz)| {
            RuleDraft {
                kind: RuleKind::Window,
                title: tz.name().into(),
                zone: tz.name().into(),
                start: local(2026, 6, 10, 12, 0),
                duration_minutes: 60,
                recurrence: None,
                exceptions: vec![],
                scope: Scope::default(),
            }
            .validate(i as i64)
            .ok()
        })
        .collect();
    assert!(rules.len() > 500);
    let text = export_at(&rules, &[], utc(2026, 3, 1, 12, 0));
    assert!(text.split("\r\n").all(|l| l.len() <= 75));
    // The span is 2025 (a year before the rules) to 2028 (two after now).
    let checked = check_vtimezones(&text, utc(2025, 1, 1, 0, 0), utc(2029, 1, 1, 0, 0));
    assert_eq!(checked, rules.len());
}

// ----------------------------------------------------------------- fixtures

fn rule_titled<'a>(import: &'a IcsImport, title: &str) -> &'a ImportedRule {
    import
        .rules
        .iter()
        .find(|r| r.draft.title == title)
        .unwrap_or_else(|| panic!("no rule '{title}' in {import:#?}"))
}

#[test]
fn google_calendar_export() {
    let import = parse_ics(&fixture("google.ics"), "Europe/London").unwrap();
    assert_eq!(import.rules.len(), 4, "{import:#?}");

    let window = rule_titled(&import, "Production release window");
    assert_eq!(window.uid, "4f0q1c8lq3k6v2b9m7s5n1d0ea@google.com");
    assert_eq!(window.line, 27);
    assert!(window.kind_guessed);
    assert_eq!(
        window.draft,
        RuleDraft {
            kind: RuleKind::Window,
            title: "Production release window".into(),
            zone: "Europe/London".into(),
            start: local(2026, 3, 3, 9, 0),
            duration_minutes: 150,
            recurrence: Some("FREQ=WEEKLY;WKST=MO;UNTIL=20261231T235959Z;BYDAY=TU,TH".into()),
            exceptions: vec![
                local(2026, 3, 10, 9, 0),
                local(2026, 4, 7, 9, 0),
                local(2026, 4, 9, 9, 0),
                // The occurrence moved to the afternoon no longer happens at 09:00.
                local(2026, 3, 19, 9, 0),
            ],
            scope: Scope::default(),
        }
    );

    let moved = rule_titled(&import, "Production release window (moved for the offsite)");
    assert_eq!(
        moved.uid,
        "4f0q1c8lq3k6v2b9m7s5n1d0ea@google.com#20260319T090000"
    );
    assert_eq!(moved.draft.start, local(2026, 3, 19, 14, 0));
    assert_eq!(moved.draft.recurrence, None);

    let freeze = rule_titled(&import, "Holiday code freeze");
    assert_eq!(freeze.draft.kind, RuleKind::Freeze);
    assert!(freeze.kind_guessed);
    assert_eq!(freeze.draft.zone, "Europe/London");
    assert_eq!(freeze.draft.start, local(2026, 12, 21, 0, 0));
    assert_eq!(freeze.draft.duration_minutes, 14 * 24 * 60);

    let blackout = rule_titled(&import, "Database maintenance blackout");
    assert_eq!(blackout.draft.kind, RuleKind::Freeze);
    assert_eq!(blackout.draft.zone, "UTC");
    assert_eq!(blackout.draft.start, local(2026, 4, 15, 13, 0));
    assert_eq!(blackout.draft.duration_minutes, 240);

    assert_eq!(import.skipped.len(), 1);
    assert_eq!(import.skipped[0].what, "VEVENT 'Release window (retired)'");
    assert!(import.skipped[0].reason.contains("cancelled"));
}

#[test]
fn outlook_export_with_windows_zone_names() {
    let import = parse_ics(&fixture("outlook.ics"), "Europe/Berlin").unwrap();
    assert_eq!(import.rules.len(), 3, "{import:#?}");

    let slot = rule_titled(&import, "Wednesday release slot");
    assert_eq!(slot.draft.kind, RuleKind::Window);
    // "GMT Standard Time" is CLDR's name for Europe/London.
    assert_eq!(slot.draft.zone, "Europe/London");
    assert_eq!(slot.draft.start, local(2026, 3, 4, 10, 0));
    assert_eq!(slot.draft.duration_minutes, 120);
    assert_eq!(
        slot.draft.recurrence.as_deref(),
        Some("FREQ=WEEKLY;COUNT=20;BYDAY=WE")
    );
    assert!(
        slot.uid.starts_with("040000008200E00074C5B7101A82E008") && slot.uid.ends_with("C9D0E1F2")
    );

    let moratorium = rule_titled(&import, "US Thanksgiving change moratorium");
    assert_eq!(moratorium.draft.kind, RuleKind::Freeze);
    assert_eq!(moratorium.draft.zone, "America/New_York");
    assert_eq!(moratorium.draft.duration_minutes, (4 * 24 + 6) * 60);

    let blackout = rule_titled(&import, "Christmas blackout");
    assert_eq!(blackout.draft.kind, RuleKind::Freeze);
    assert_eq!(blackout.draft.zone, "Europe/Berlin");
    assert_eq!(blackout.draft.duration_minutes, 5 * 24 * 60);

    assert_eq!(import.skipped.len(), 1);
    assert_eq!(import.skipped[0].what, "VTODO 'Write the release notes'");
    assert!(import.skipped[0].reason.contains("to-do"));
}

#[test]
fn an_outlook_zone_with_no_iana_equivalent_is_refused_naming_it() {
    let text =
        fixture("outlook.ics").replace("\"Eastern Standard Time\"", "\"Customized Time Zone\"");
    let err = parse_ics(&text, "UTC").unwrap_err();
    let (line, field) = where_(&err);
    assert_eq!(field, "DTSTART");
    assert_eq!(
        text.split("\r\n").nth(line as usize - 1).unwrap(),
        "DTSTART;TZID=\"Customized Time Zone\":20261126T000000"
    );
    assert!(
        err.to_string()
            .contains("'Customized Time Zone' is not a time zone"),
        "{err}"
    );
    assert!(
        err.to_string().contains("Europe/London"),
        "says what to use: {err}"
    );
}

#[test]
fn all_day_freeze_with_bom_lf_endings_and_a_date_until() {
    let import = parse_ics(&fixture("all_day_freeze.ics"), "America/New_York").unwrap();
    assert_eq!(
        import.rules[0].draft,
        RuleDraft {
            kind: RuleKind::Freeze,
            title: "Year-end freeze".into(),
            zone: "America/New_York".into(),
            start: local(2026, 12, 24, 0, 0),
            duration_minutes: 3 * 24 * 60,
            // The last day, 24 Dec 2030, to its end on the New York clock, in UTC.
            recurrence: Some("FREQ=YEARLY;UNTIL=20301225T045959Z".into()),
            exceptions: vec![local(2028, 12, 24, 0, 0)],
            scope: Scope::default(),
        }
    );
    assert!(import.rules[0].kind_guessed);
    let rule = import.rules[0].draft.clone().validate(1).unwrap();
    let starts: Vec<_> = expand(&rule, utc(2026, 1, 1, 0, 0), utc(2032, 1, 1, 0, 0))
        .unwrap()
        .occurrences
        .iter()
        .map(|o| o.start.year())
        .collect();
    assert_eq!(starts, [2026, 2027, 2029, 2030]);
}

#[test]
fn duration_instead_of_dtend() {
    let import = parse_ics(&fixture("duration.ics"), "Europe/Dublin").unwrap();
    let evening = rule_titled(&import, "Evening deploys");
    assert_eq!(evening.draft.zone, "America/New_York");
    assert_eq!(evening.draft.duration_minutes, 150);
    assert_eq!(evening.draft.kind, RuleKind::Window);

    let close = rule_titled(&import, "Quarter close");
    assert_eq!(close.draft.kind, RuleKind::Freeze);
    assert!(!close.kind_guessed);
    assert_eq!(close.draft.zone, "Asia/Kolkata");
    assert_eq!(close.draft.duration_minutes, 7 * 24 * 60);
    assert_eq!(close.draft.scope.environments, [slug("prod")]);

    let floating = rule_titled(&import, "Dependency bump day");
    assert_eq!(floating.draft.zone, "Europe/Dublin");
    assert_eq!(floating.draft.start, local(2026, 6, 1, 8, 0));
    assert_eq!(floating.draft.duration_minutes, 24 * 60);
}

// -------------------------------------------------------------- refusals

const HEADER: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Test//EN\r\n";

/// A calendar of `events` (lines without endings); events start on line 4.
fn calendar(lines: &[&str]) -> String {
    let mut text = HEADER.to_owned();
    for l in lines {
        text.push_str(l);
        text.push_str("\r\n");
    }
    text.push_str("END:VCALENDAR\r\n");
    text
}

fn good_event(n: u32) -> Vec<String> {
    vec![
        "BEGIN:VEVENT".into(),
        format!("UID:good-{n}@example.com"),
        format!("DTSTART;TZID=Europe/London:202604{:02}T090000", n + 1),
        format!("DTEND;TZID=Europe/London:202604{:02}T110000", n + 1),
        format!("SUMMARY:Window {n}"),
        "END:VEVENT".into(),
    ]
}

fn where_(err: &CalendarError) -> (u32, String) {
    match err {
        CalendarError::Ics { line, field, .. } => (*line, field.clone()),
        other => panic!("expected an ICS error, got {other:?}"),
    }
}

fn refusal(text: &str) -> (u32, String) {
    let err = parse_ics(text, "Europe/London").unwrap_err();
    assert_eq!(err.code(), "invalid_ics");
    let (line, field) = where_(&err);
    assert!(
        err.to_string()
            .starts_with(&format!("line {line}: {field}: ")),
        "{err}"
    );
    (line, field)
}

#[test]
fn a_line_without_a_colon() {
    let text = calendar(&[
        "BEGIN:VEVENT",
        "UID:a",
        "SUMMARY Release window",
        "END:VEVENT",
    ]);
    assert_eq!(refusal(&text), (6, "content line".into()));
}

#[test]
fn unbalanced_begin_and_end() {
    let text = calendar(&["BEGIN:VEVENT", "UID:a", "DTSTART:20260401T090000Z"]);
    // END:VCALENDAR (line 7) would close the VEVENT opened on line 4.
    assert_eq!(refusal(&text), (7, "END".into()));
    let err = parse_ics(&text, "UTC").unwrap_err().to_string();
    assert!(
        err.contains("closes BEGIN:VEVENT from line 4; add END:VEVENT"),
        "{err}"
    );

    let cut_short = HEADER.to_owned() + "BEGIN:VEVENT\r\nUID:a\r\n";
    assert_eq!(refusal(&cut_short), (4, "BEGIN".into()));
    let stray_end = calendar(&["END:VEVENT"]);
    assert_eq!(refusal(&stray_end), (4, "END".into()));
}

#[test]
fn an_invalid_rrule() {
    let text = calendar(&[
        "BEGIN:VEVENT",
        "UID:a",
        "DTSTART;TZID=Europe/London:20260401T090000",
        "DTEND;TZID=Europe/London:20260401T100000",
        "RRULE:FREQ=SOMETIMES;BYDAY=TU",
        "SUMMARY:Window",
        "END:VEVENT",
    ]);
    assert_eq!(refusal(&text), (8, "RRULE".into()));
}

#[test]
fn an_unknown_tzid() {
    let text = calendar(&[
        "BEGIN:VEVENT",
        "UID:a",
        "SUMMARY:Window",
        "DTSTART;TZID=Mars/Olympus_Mons:20260401T090000",
        "DTEND;TZID=Mars/Olympus_Mons:20260401T100000",
        "END:VEVENT",
    ]);
    assert_eq!(refusal(&text), (7, "DTSTART".into()));
    let err = parse_ics(&text, "UTC").unwrap_err().to_string();
    assert!(err.contains("'Mars/Olympus_Mons'"), "{err}");
}

#[test]
fn dtend_before_dtstart() {
    let text = calendar(&[
        "BEGIN:VEVENT",
        "UID:a",
        "SUMMARY:Window",
        "DTSTART;TZID=Europe/London:20260401T090000",
        "DTEND;TZID=Europe/London:20260401T080000",
        "END:VEVENT",
    ]);
    assert_eq!(refusal(&text), (8, "DTEND".into()));
    let err = parse_ics(&text, "UTC").unwrap_err().to_string();
    assert!(err.contains("the end must be after the start"), "{err}");
}

#[test]
fn an_oversize_file_is_refused_on_the_line_that_passes_the_limit() {
    // Line 1 is 17 bytes; lines 2.. are 1,024 bytes each, so byte 1,048,576
    // falls in line 1 + 1,024.
    let mut text = "BEGIN:VCALENDAR\r\n".to_owned();
    let pad = format!("X-PAD:{}\r\n", "a".repeat(1024 - 8));
    assert_eq!(pad.len(), 1024);
    for _ in 0..1100 {
        text.push_str(&pad);
    }
    text.push_str("END:VCALENDAR\r\n");
    assert!(text.len() > MAX_ICS_BYTES);
    assert_eq!(refusal(&text), (1025, "file".into()));
}

#[test]
fn too_many_components() {
    let mut text = "BEGIN:VCALENDAR\r\n".to_owned();
    for _ in 0..2100 {
        text.push_str("BEGIN:VEVENT\r\nEND:VEVENT\r\n");
    }
    text.push_str("END:VCALENDAR\r\n");
    // VCALENDAR is the first; the 2,000th VEVENT (BEGIN on line 4,000) is one too many.
    assert_eq!(refusal(&text), (4000, "BEGIN".into()));
}

#[test]
fn a_nesting_bomb() {
    let mut text = "BEGIN:VCALENDAR\r\n".to_owned();
    for _ in 0..50_000 {
        text.push_str("BEGIN:X-NEST\r\n");
    }
    // The fifth level, on line 5, is refused before the rest is read into components.
    assert_eq!(refusal(&text), (5, "BEGIN".into()));
}

#[test]
fn an_over_long_line() {
    let long = format!("DESCRIPTION:{}", "x".repeat(9000));
    let text = calendar(&["BEGIN:VEVENT", "UID:a", &long, "END:VEVENT"]);
    assert_eq!(refusal(&text), (6, "content line".into()));

    // Folded into short physical lines, it is just as long once unfolded.
    let folded: Vec<String> = std::iter::once("DESCRIPTION:start".to_owned())
        .chain((0..200).map(|_| format!(" {}", "y".repeat(70))))
        .collect();
    let mut lines = vec!["BEGIN:VEVENT", "UID:a"];
    lines.extend(folded.iter().map(String::as_str));
    lines.push("END:VEVENT");
    assert_eq!(refusal(&calendar(&lines)), (6, "content line".into()));
}

#[test]
fn a_nul_byte() {
    let text = calendar(&["BEGIN:VEVENT", "UID:a\0", "END:VEVENT"]);
    assert_eq!(refusal(&text), (5, "file".into()));
}

#[test]
fn too_many_exception_dates() {
    let dates: Vec<String> = (0..501)
        .map(|i| {
            (local(2026, 1, 6, 9, 0) + chrono::Duration::weeks(i))
                .format("%Y%m%dT%H%M%S")
                .to_string()
        })
        .collect();
    let exdate = format!("EXDATE;TZID=Europe/London:{}", dates.join(","));
    let text = calendar(&[
        "BEGIN:VEVENT",
        "UID:a",
        "SUMMARY:Window",
        "DTSTART;TZID=Europe/London:20260106T090000",
        "DURATION:PT1H",
        "RRULE:FREQ=WEEKLY",
        &exdate,
        "END:VEVENT",
    ]);
    assert_eq!(refusal(&text), (10, "EXDATE".into()));
}

#[test]
fn missing_start_and_ambiguous_ends() {
    let no_start = calendar(&["BEGIN:VEVENT", "UID:a", "SUMMARY:Window", "END:VEVENT"]);
    assert_eq!(refusal(&no_start), (4, "DTSTART".into()));
    let no_end = calendar(&[
        "BEGIN:VEVENT",
        "UID:a",
        "SUMMARY:W",
        "DTSTART:20260401T090000Z",
        "END:VEVENT",
    ]);
    assert_eq!(refusal(&no_end), (4, "DTEND".into()));
    let both = calendar(&[
        "BEGIN:VEVENT",
        "UID:a",
        "SUMMARY:W",
        "DTSTART:20260401T090000Z",
        "DTEND:20260401T100000Z",
        "DURATION:PT1H",
        "END:VEVENT",
    ]);
    assert_eq!(refusal(&both), (9, "DURATION".into()));
    let no_title = calendar(&[
        "BEGIN:VEVENT",
        "UID:a",
        "DTSTART:20260401T090000Z",
        "DURATION:PT1H",
        "END:VEVENT",
    ]);
    assert_eq!(refusal(&no_title), (4, "SUMMARY".into()));
    let bad_scope = calendar(&[
        "BEGIN:VEVENT",
        "UID:a",
        "SUMMARY:W",
        "DTSTART:20260401T090000Z",
        "DURATION:PT1H",
        "X-RELEASE-DESK-ENVIRONMENTS:prod,Staging",
        "END:VEVENT",
    ]);
    assert_eq!(
        refusal(&bad_scope),
        (9, "X-RELEASE-DESK-ENVIRONMENTS".into())
    );
}

#[test]
fn nothing_is_partially_imported() {
    let mut lines: Vec<String> = (0..3).flat_map(good_event).collect();
    let good = calendar(&lines.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(parse_ics(&good, "UTC").unwrap().rules.len(), 3);

    // A bad fourth event (line 4 + 18 = 22) refuses the file, good ones and all.
    lines.extend([
        "BEGIN:VEVENT".into(),
        "UID:bad@example.com".into(),
        "DTSTART;TZID=Europe/London:20260410T090000".into(),
        "DTEND;TZID=Europe/London:20260410T080000".into(),
        "SUMMARY:Backwards".into(),
        "END:VEVENT".into(),
    ]);
    let text = calendar(&lines.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(refusal(&text), (25, "DTEND".into()));

    // And in the middle, too.
    lines.rotate_right(6);
    let text = calendar(&lines.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(refusal(&text), (7, "DTEND".into()));
}

#[test]
fn a_bad_default_zone_is_refused() {
    let err = parse_ics(&calendar(&[]), "Mars/Base").unwrap_err();
    assert_eq!(err.code(), "unknown_time_zone");
}

// ------------------------------------------------------------- everyday input

#[test]
fn kind_is_guessed_from_summary_or_categories() {
    let event = |summary: &str, categories: &str| {
        calendar(&[
            "BEGIN:VEVENT",
            "UID:a",
            &format!("SUMMARY:{summary}"),
            &format!("CATEGORIES:{categories}"),
            "DTSTART:20260401T090000Z",
            "DURATION:PT1H",
            "END:VEVENT",
        ])
    };
    for (summary, categories, kind) in [
        ("Code freeze", "", RuleKind::Freeze),
        ("Network BLACKOUT", "", RuleKind::Freeze),
        ("Quiet period", "Embargo", RuleKind::Freeze),
        ("Deploy moratorium", "", RuleKind::Freeze),
        ("Release train", "Deploys", RuleKind::Window),
        ("Freeze: Year end", "", RuleKind::Freeze),
    ] {
        let import = parse_ics(&event(summary, categories), "UTC").unwrap();
        assert_eq!(import.rules[0].draft.kind, kind, "{summary}");
        assert!(import.rules[0].kind_guessed);
    }
    let stripped = parse_ics(&event("Freeze: Year end", ""), "UTC").unwrap();
    assert_eq!(stripped.rules[0].draft.title, "Year end");
}

#[test]
fn exdates_in_utc_and_other_zones_become_local_times_in_the_rule_zone() {
    let text = calendar(&[
        "BEGIN:VEVENT",
        "UID:a",
        "SUMMARY:Window",
        "DTSTART;TZID=Europe/London:20260303T090000",
        "DURATION:PT1H",
        "RRULE:FREQ=WEEKLY",
        // 08:00 UTC is 09:00 BST; 04:00 New York (EDT) is 09:00 BST.
        "EXDATE:20260407T080000Z",
        "EXDATE;TZID=America/New_York:20260414T040000",
        "EXDATE;VALUE=DATE:20260421",
        "END:VEVENT",
    ]);
    let import = parse_ics(&text, "UTC").unwrap();
    assert_eq!(
        import.rules[0].draft.exceptions,
        [
            local(2026, 4, 7, 9, 0),
            local(2026, 4, 14, 9, 0),
            local(2026, 4, 21, 9, 0)
        ]
    );
}

#[test]
fn rdate_todo_and_journal_are_skipped_with_reasons() {
    let text = calendar(&[
        "BEGIN:VEVENT",
        "UID:a",
        "SUMMARY:Odd dates",
        "DTSTART:20260401T090000Z",
        "DURATION:PT1H",
        "RDATE:20260501T090000Z",
        "END:VEVENT",
        "BEGIN:VJOURNAL",
        "UID:b",
        "END:VJOURNAL",
        "BEGIN:X-CUSTOM",
        "END:X-CUSTOM",
    ]);
    let import = parse_ics(&text, "UTC").unwrap();
    assert!(import.rules.is_empty());
    let lines: Vec<u32> = import.skipped.iter().map(|s| s.line).collect();
    assert_eq!(lines, [4, 11, 14]);
    assert!(import.skipped[0].reason.contains("RDATE"));
    assert!(import.skipped[1].reason.contains("journal"));
    assert!(import.skipped[2].what == "X-CUSTOM");
}

// ----------------------------------------------------------------- fuzzing

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn physical_lines(text: &str) -> u32 {
        text.matches('\n').count() as u32 + 1
    }

    /// Never a panic; an error always names a line of the file; anything
    /// accepted is a valid rule.
    fn check(text: &str) -> Result<(), TestCaseError> {
        match parse_ics(text, "Europe/London") {
            Ok(import) => {
                for rule in &import.rules {
                    prop_assert!(rule.draft.clone().validate(0).is_ok());
                    prop_assert!((1..=physical_lines(text)).contains(&rule.line));
                }
            }
            Err(CalendarError::Ics { line, .. }) => {
                prop_assert!(
                    (1..=physical_lines(text)).contains(&line),
                    "line {} of {}",
                    line,
                    physical_lines(text)
                );
            }
            Err(other) => prop_assert!(false, "not an ICS error: {other:?}"),
        }
        Ok(())
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Delete(usize),
        Duplicate(usize),
        Swap(usize, usize),
        Truncate(usize),
        Insert(usize, String),
        Splice(usize, usize, String),
    }

    fn noise() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[ -~\\r\\n\\t\\x00]{0,30}",
            prop::sample::select(vec![
                "BEGIN:VEVENT",
                "END:VEVENT",
                "BEGIN:VCALENDAR",
                "END:VCALENDAR",
                " ",
                ":",
                ";",
                "\r",
                "\n",
                "\"",
                "\\",
                "DTSTART;TZID=Europe/London:20260101T000000",
                "DTEND:19000101T000000Z",
                "RRULE:FREQ=MINUTELY",
                "EXDATE:",
                "DURATION:P99999999W",
                "RECURRENCE-ID:20260303T090000Z",
                "X-RELEASE-DESK-KIND:neither",
                "STATUS:CANCELLED",
                "DTSTART;VALUE=DATE:22001231",
                "DTSTART;TZID=\"GMT Standard Time\":20270328T013000",
            ])
            .prop_map(str::to_owned),
        ]
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            any::<usize>().prop_map(Mutation::Delete),
            any::<usize>().prop_map(Mutation::Duplicate),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
            any::<usize>().prop_map(Mutation::Truncate),
            (any::<usize>(), noise()).prop_map(|(i, s)| Mutation::Insert(i, s)),
            (any::<usize>(), any::<usize>(), noise())
                .prop_map(|(i, at, s)| Mutation::Splice(i, at, s)),
        ]
    }

    fn mutate(text: &str, mutations: &[Mutation]) -> String {
        let mut lines: Vec<String> = text.split("\r\n").map(str::to_owned).collect();
        let mut truncate_at = None;
        for m in mutations {
            let n = lines.len().max(1);
            match m {
                Mutation::Delete(i) if !lines.is_empty() => {
                    lines.remove(i % n);
                }
                Mutation::Duplicate(i) if !lines.is_empty() => {
                    let line = lines[i % n].clone();
                    lines.insert(i % n, line);
                }
                Mutation::Swap(a, b) if !lines.is_empty() => lines.swap(a % n, b % n),
                Mutation::Insert(i, s) => lines.insert(i % (lines.len() + 1), s.clone()),
                Mutation::Splice(i, at, s) if !lines.is_empty() => {
                    let line = &mut lines[i % n];
                    let mut at = at % (line.len() + 1);
                    while !line.is_char_boundary(at) {
                        at -= 1;
                    }
                    line.insert_str(at, s);
                }
                Mutation::Truncate(at) => truncate_at = Some(*at),
                _ => {}
            }
        }
        let mut out = lines.join("\r\n");
        if let Some(at) = truncate_at {
            let mut at = at % (out.len() + 1);
            while !out.is_char_boundary(at) {
                at -= 1;
            }
            out.truncate(at);
        }
        out
    }

    fn any_valid_rule() -> impl Strategy<Value = CalendarRule> {
        let zones = prop::sample::select(vec![
            "Europe/London",
            "America/New_York",
            "Asia/Kolkata",
            "UTC",
            "Australia/Lord_Howe",
            "Europe/Dublin",
            "Pacific/Chatham",
            "America/Sao_Paulo",
            "Africa/Casablanca",
            "US/Eastern",
        ]);
        let recurrences = prop::sample::select(vec![
            None,
            Some("FREQ=WEEKLY;BYDAY=TU,TH"),
            Some("FREQ=DAILY;INTERVAL=2"),
            Some("FREQ=MONTHLY;BYDAY=-1FR"),
            Some("FREQ=YEARLY;COUNT=3"),
            Some("FREQ=WEEKLY;UNTIL=20301231T000000Z"),
        ]);
        let when = (
            2020i32..2036,
            1u32..13,
            1u32..29,
            0u32..24,
            prop::sample::select(vec![0u32, 15, 30, 45]),
        )
            .prop_map(|(y, m, d, h, min)| local(y, m, d, h, min));
        let keys = |all: Vec<&'static str>| {
            prop::sample::subsequence(all.clone(), 0..=all.len())
                .prop_map(|keys| keys.into_iter().map(slug).collect::<Vec<_>>())
        };
        (
            any::<bool>(),
            "[a-zA-Z0-9 ,;:\\\\\"'é✓—«»\\n\\t]{1,90}",
            zones,
            when.clone(),
            1u32..=MAX_RULE_DURATION_MINUTES,
            recurrences,
            prop::collection::vec(when, 0..4),
            keys(vec!["dev", "preprod", "prod"]),
            keys(vec!["payments-api", "checkout", "ledger"]),
        )
            .prop_filter_map(
                "not a valid rule",
                |(
                    freeze,
                    title,
                    zone,
                    start,
                    minutes,
                    rrule,
                    exceptions,
                    environments,
                    services,
                )| {
                    RuleDraft {
                        kind: if freeze {
                            RuleKind::Freeze
                        } else {
                            RuleKind::Window
                        },
                        title,
                        zone: zone.into(),
                        start,
                        duration_minutes: minutes,
                        recurrence: rrule.map(Into::into),
                        exceptions,
                        scope: Scope {
                            environments,
                            services,
                        },
                    }
                    .validate(7)
                    .ok()
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Whatever a valid rule holds (any title, zone, clock-change edge,
        /// recurrence, exception, scope), our own import gives it back.
        #[test]
        fn any_valid_rule_round_trips(rule in any_valid_rule()) {
            let text = export_at(std::slice::from_ref(&rule), &[], utc(2026, 3, 1, 12, 0));
            for line in text.split("\r\n") {
                prop_assert!(line.len() <= 75 && !line.contains(['\r', '\n']), "{:?}", line);
            }
            let back = parse_ics(&text, "UTC").unwrap();
            let expected = RuleDraft {
                kind: rule.kind,
                title: rule.title.clone(),
                zone: rule.zone.clone(),
                start: rule.start,
                duration_minutes: rule.duration_minutes,
                recurrence: rule.recurrence.clone(),
                exceptions: rule.exceptions.clone(),
                scope: rule.scope.clone(),
            };
            prop_assert_eq!(&back.rules[0].draft, &expected);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            check(&text)?;
        }

        #[test]
        fn arbitrary_content_lines_never_panic(
            lines in prop::collection::vec(noise(), 0..40),
            crlf in any::<bool>(),
        ) {
            let mut text = "BEGIN:VCALENDAR\r\n".to_owned();
            text.push_str(&lines.join(if crlf { "\r\n" } else { "\n" }));
            check(&text)?;
        }

        #[test]
        fn mutated_exports_never_panic(mutations in prop::collection::vec(mutation(), 1..6)) {
            let text = mutate(&full_export(), &mutations);
            check(&text)?;
        }

        #[test]
        fn mutated_google_exports_never_panic(mutations in prop::collection::vec(mutation(), 1..6)) {
            let text = mutate(&fixture("google.ics"), &mutations);
            check(&text)?;
        }
    }
}
