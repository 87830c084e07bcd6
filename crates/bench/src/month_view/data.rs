//! What the month-view measurement puts in the calendar, pure: which month,
//! the range the app's month view asks for, the extra rules of a larger
//! organisation's calendar, the change records spread over the month, and
//! how many events the screen draws for a range.

use chrono::{
    DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday,
};
use release_desk_calendar::{CalendarView, RuleDraft, RuleKind, Scope};
use release_desk_changes::{ArtefactRef, ChangeDraft, ChangeType};
use release_desk_domain::{Slug, WorkspaceSeed};

use crate::error::{BenchError, Result};

/// How far ahead of now the measured month lies: far enough that none of the
/// demo's own changes (all within days of now) fall in it.
pub const MONTHS_AHEAD: u32 = 3;

fn wrong(detail: impl Into<String>) -> BenchError {
    BenchError::MonthViewData(detail.into())
}

fn slug(key: &str) -> Result<Slug> {
    Slug::parse(key).map_err(|e| wrong(format!("'{key}' is not a key: {e}")))
}

/// The first day of the month [`MONTHS_AHEAD`] after `now`'s; February
/// instead when that is December or January, clear of the demo's Christmas
/// freeze (19 December for 16 days), which would put every change in it.
pub fn target_month(now: DateTime<Utc>) -> Result<NaiveDate> {
    let this_month = now
        .date_naive()
        .with_day(1)
        .ok_or_else(|| wrong("the first of this month"))?;
    let ahead = this_month
        .checked_add_months(Months::new(MONTHS_AHEAD))
        .ok_or_else(|| wrong("a month past the calendar's end"))?;
    let february = |year| {
        NaiveDate::from_ymd_opt(year, 2, 1).ok_or_else(|| wrong(format!("1 February {year}")))
    };
    match ahead.month() {
        12 => february(ahead.year() + 1),
        1 => february(ahead.year()),
        _ => Ok(ahead),
    }
}

/// The range the app's month view asks for: whole weeks covering the month,
/// Monday first (the calendar's `firstDay: 1`), from the Monday on or before
/// the 1st to the Monday on or after the next month's 1st, at midnight UTC
/// (the app is started with `TZ=UTC`).
pub fn month_range(first: NaiveDate) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let next = first
        .checked_add_months(Months::new(1))
        .ok_or_else(|| wrong("the month after the measured one"))?;
    let back = i64::from(first.weekday().num_days_from_monday());
    let on = (7 - i64::from(next.weekday().num_days_from_monday())) % 7;
    let midnight = |d: NaiveDate| d.and_time(NaiveTime::MIN).and_utc();
    Ok((
        midnight(first - Duration::days(back)),
        midnight(next + Duration::days(on)),
    ))
}

/// What the month view draws for a range, counted as `toEvents` in
/// `ui/src/lib/calendar/events.ts` counts it with no filters: a release
/// window's occurrence is one event (a shaded background), a freeze's two (a
/// hatched background and a labelled bar), an open change one per target
/// environment (a booking).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCounts {
    pub windows: usize,
    pub freezes: usize,
    pub changes: usize,
}

impl EventCounts {
    pub fn of(view: &CalendarView) -> EventCounts {
        let freezes = view
            .occurrences
            .iter()
            .filter(|o| o.kind == RuleKind::Freeze)
            .count();
        EventCounts {
            windows: view.occurrences.len() - freezes,
            freezes,
            changes: view.changes.len(),
        }
    }

    /// Calendar items: each window and freeze occurrence, each change in
    /// each environment (what the app reports as events).
    pub fn events(&self) -> usize {
        self.windows + self.freezes + self.changes
    }
}

/// Production windows on two weekdays each, morning or afternoon.
const PRODUCTION_DAYS: [&str; 5] = ["MO,WE", "TU,TH", "WE,FR", "MO,TH", "TU,FR"];
/// Pre-production windows on three weekdays each.
const PREPROD_DAYS: [&str; 2] = ["MO,WE,FR", "TU,WE,TH"];

/// The calendar of an organisation that gives each service its own
/// production and pre-production windows, with the freezes such a place
/// keeps: on top of the demo's five rules, which stay. Each starts four weeks
/// before the month, so its recurrence is well under way by then.
pub fn rule_drafts(services: &[Slug], month: NaiveDate) -> Result<Vec<RuleDraft>> {
    let first = month - Duration::days(28);
    let at = |h: u32| -> Result<NaiveDateTime> {
        first
            .and_hms_opt(h, 0, 0)
            .ok_or_else(|| wrong(format!("{first} {h}:00")))
    };
    let rule =
        |kind, title: String, start, minutes, rrule: &str, envs: &[&str], svcs: Vec<Slug>| {
            Ok::<_, BenchError>(RuleDraft {
                kind,
                title,
                zone: "Europe/London".into(),
                start,
                duration_minutes: minutes,
                recurrence: Some(rrule.to_owned()),
                exceptions: vec![],
                scope: Scope {
                    environments: envs.iter().map(|e| slug(e)).collect::<Result<_>>()?,
                    services: svcs,
                },
            })
        };
    let mut drafts = Vec::new();
    for (i, service) in services.iter().enumerate() {
        drafts.push(rule(
            RuleKind::Window,
            format!("Production window: {service}"),
            at(if i % 2 == 0 { 9 } else { 13 })?,
            3 * 60,
            &format!(
                "FREQ=WEEKLY;BYDAY={}",
                PRODUCTION_DAYS[i % PRODUCTION_DAYS.len()]
            ),
            &["production"],
            vec![service.clone()],
        )?);
        drafts.push(rule(
            RuleKind::Window,
            format!("Pre-production window: {service}"),
            at(10)?,
            4 * 60,
            &format!("FREQ=WEEKLY;BYDAY={}", PREPROD_DAYS[i % PREPROD_DAYS.len()]),
            &["preprod"],
            vec![service.clone()],
        )?);
    }
    drafts.extend([
        rule(
            RuleKind::Freeze,
            "Nightly reporting batch".into(),
            at(1)?,
            3 * 60,
            "FREQ=DAILY",
            &["production"],
            vec![slug("reporting-batch")?],
        )?,
        rule(
            RuleKind::Freeze,
            "Friday afternoon production freeze".into(),
            at(15)?,
            9 * 60,
            "FREQ=WEEKLY;BYDAY=FR",
            &["production"],
            vec![],
        )?,
        rule(
            RuleKind::Freeze,
            "Patch Tuesday".into(),
            at(17)?,
            6 * 60,
            "FREQ=MONTHLY;BYDAY=2TU",
            &[],
            vec![],
        )?,
        rule(
            RuleKind::Freeze,
            "Weekly backup verification".into(),
            at(2)?,
            4 * 60,
            "FREQ=WEEKLY;BYDAY=SU",
            &["preprod", "production"],
            vec![slug("patient-records")?, slug("consent-service")?],
        )?,
    ]);
    Ok(drafts)
}

/// Lengths of the changes, in minutes; an hour is the commonest.
const LENGTHS: [i64; 7] = [30, 45, 60, 60, 90, 120, 180];
/// One change in this many goes in at a weekend.
const WEEKEND_ONE_IN: u32 = 20;

/// `count` change records, each to one environment, spread over the days of
/// `[from, to)`: mostly weekdays, 07:00–17:45 UTC starts of 30 minutes to 3
/// hours (so each ends the day it starts, inside the range), every service
/// with one of its own builds, earlier stages more often than later ones
/// (on a path of five, dev five times as often as production). Nothing is
/// placed to avoid anything: in a busy month many overlap, miss a window or
/// meet a freeze, as they would.
pub fn change_drafts(
    seed: &WorkspaceSeed,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    count: usize,
    rng_seed: u64,
) -> Result<Vec<ChangeDraft>> {
    let stages = seed.path_to_live.stages();
    // Stage i of n has weight n - i.
    let weighted: Vec<&Slug> = stages
        .iter()
        .enumerate()
        .flat_map(|(i, e)| std::iter::repeat_n(&e.key, stages.len() - i))
        .collect();
    let builds: Vec<(&Slug, Vec<&str>)> = seed
        .services
        .iter()
        .map(|s| {
            let versions: Vec<&str> = seed
                .artefacts
                .iter()
                .filter(|a| a.service() == &s.key)
                .map(|a| a.version())
                .collect();
            (&s.key, versions)
        })
        .filter(|(_, versions)| !versions.is_empty())
        .collect();
    let days: Vec<NaiveDate> = from
        .date_naive()
        .iter_days()
        .take_while(|d| d.and_time(NaiveTime::MIN).and_utc() < to)
        .collect();
    let (weekends, weekdays): (Vec<NaiveDate>, Vec<NaiveDate>) = days
        .iter()
        .partition(|d| matches!(d.weekday(), Weekday::Sat | Weekday::Sun));
    if weighted.is_empty() || builds.is_empty() || weekdays.is_empty() || weekends.is_empty() {
        return Err(wrong(
            "the workspace needs environments and builds, and the range weekdays and a weekend",
        ));
    }

    let mut rng = fastrand::Rng::with_seed(rng_seed);
    let mut drafts = Vec::with_capacity(count);
    for n in 1..=count {
        let (service, versions) = &builds[rng.usize(..builds.len())];
        let version = versions[rng.usize(..versions.len())];
        let environment = weighted[rng.usize(..weighted.len())];
        let day = if rng.u32(..WEEKEND_ONE_IN) == 0 {
            weekends[rng.usize(..weekends.len())]
        } else {
            weekdays[rng.usize(..weekdays.len())]
        };
        let minute = rng.u32(7 * 4..18 * 4) * 15;
        let start = day
            .and_hms_opt(minute / 60, minute % 60, 0)
            .ok_or_else(|| wrong(format!("{day} at minute {minute}")))?
            .and_utc();
        let length = LENGTHS[rng.usize(..LENGTHS.len())];
        drafts.push(ChangeDraft {
            kind: ChangeType::Normal,
            template: None,
            title: format!("Deploy {service} {version} to {environment}"),
            description: format!("Change {n} of {count} the benchmark plans for the month view."),
            services: vec![],
            environments: vec![environment.clone()],
            artefact: ArtefactRef {
                service: (*service).clone(),
                version: version.to_owned(),
            },
            planned_start: start,
            planned_end: start + Duration::minutes(length),
            implementation_plan: "Promote the signed artefact with the blue-green strategy.".into(),
            backout_plan: "Switch traffic back to the previous leg.".into(),
            test_plan: "Smoke tests on the idle leg, then a 30 minute soak.".into(),
            assignee: None,
            links: vec![],
            rollback_possible: true,
            no_rollback_justification: None,
            schema_migration: false,
            files_changed: Some(rng.u32(1..80)),
        });
    }
    Ok(drafts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use release_desk_calendar::view;
    use std::collections::HashSet;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_month_is_three_ahead_but_never_around_christmas() {
        assert_eq!(target_month(at(2026, 11, 22)).unwrap(), date(2027, 2, 1));
        assert_eq!(target_month(at(2026, 3, 31)).unwrap(), date(2026, 6, 1));
        // December and January become the February after.
        assert_eq!(target_month(at(2026, 9, 30)).unwrap(), date(2027, 2, 1));
        assert_eq!(target_month(at(2026, 10, 1)).unwrap(), date(2027, 2, 1));
        assert_eq!(target_month(at(2027, 8, 15)).unwrap(), date(2027, 11, 1));
    }

    #[test]
    fn the_range_is_whole_weeks_from_monday() {
        // February 2027 starts on a Monday and has 28 days: four weeks exactly.
        assert_eq!(
            month_range(date(2027, 2, 1)).unwrap(),
            (at(2027, 2, 1), at(2027, 3, 1))
        );
        // March 2027: Monday 1st to Wednesday 31st, so five weeks.
        assert_eq!(
            month_range(date(2027, 3, 1)).unwrap(),
            (at(2027, 3, 1), at(2027, 4, 5))
        );
        // November 2026: Sunday 1st to Monday 30th, so six weeks.
        assert_eq!(
            month_range(date(2026, 11, 1)).unwrap(),
            (at(2026, 10, 26), at(2026, 12, 7))
        );
    }

    fn demo() -> WorkspaceSeed {
        release_desk_demo::demo_workspace(Utc.with_ymd_and_hms(2026, 11, 22, 10, 30, 0).unwrap())
    }

    #[test]
    fn every_rule_is_valid_and_draws_a_few_hundred_events() {
        let seed = demo();
        let services: Vec<Slug> = seed.services.iter().map(|s| s.key.clone()).collect();
        let month = date(2027, 3, 1);
        let rules: Vec<_> = rule_drafts(&services, month)
            .unwrap()
            .into_iter()
            .zip(1..)
            .map(|(d, id)| d.validate(id).expect("a valid rule"))
            .collect();
        assert_eq!(rules.len(), 2 * services.len() + 4);
        let (from, to) = month_range(month).unwrap();
        let counts = EventCounts::of(&view(&rules, &[], from, to).unwrap());
        // Five weeks from Monday 1 March 2027: ten services' production
        // windows twice a week and pre-production three times, the nightly
        // freeze every night, Friday afternoons, the one Patch Tuesday and
        // five Sundays.
        assert_eq!(counts.windows, 10 * 2 * 5 + 10 * 3 * 5);
        assert_eq!(counts.freezes, 35 + 5 + 1 + 5);
        assert_eq!(counts.changes, 0);
        assert_eq!(counts.events(), 250 + 46);
    }

    #[test]
    fn changes_are_valid_inside_the_range_and_spread_over_it() {
        let seed = demo();
        let (from, to) = month_range(date(2027, 2, 1)).unwrap();
        let drafts = change_drafts(&seed, from, to, 1_000, 7).unwrap();
        assert_eq!(drafts.len(), 1_000);
        assert_eq!(drafts, change_drafts(&seed, from, to, 1_000, 7).unwrap());
        let mut services = HashSet::new();
        let mut environments = HashSet::new();
        let mut days = HashSet::new();
        let mut production = 0;
        let mut weekend = 0;
        for d in drafts {
            assert!(
                from <= d.planned_start && d.planned_end <= to,
                "{d:?} outside {from} – {to}"
            );
            assert_eq!(d.planned_start.date_naive(), d.planned_end.date_naive());
            assert_eq!(d.environments.len(), 1);
            let env = d.environments[0].to_string();
            production += usize::from(env == "production");
            weekend += usize::from(d.planned_start.weekday().num_days_from_monday() >= 5);
            services.insert(d.artefact.service.to_string());
            environments.insert(env);
            days.insert(d.planned_start.date_naive());
            d.validate().expect("a valid draft");
        }
        assert_eq!(services.len(), seed.services.len());
        assert_eq!(environments.len(), 5);
        assert_eq!(days.len(), 28, "every day of February 2027 has changes");
        // Production has weight 1 of 15, weekends 1 in 20: about 67 and 50.
        assert!((30..110).contains(&production), "{production}");
        assert!((20..90).contains(&weekend), "{weekend}");
    }

    #[test]
    fn changes_need_builds_and_weekdays() {
        let seed = demo();
        // A Saturday and Sunday alone: no weekdays.
        assert!(change_drafts(&seed, at(2027, 2, 6), at(2027, 2, 8), 1, 1).is_err());
    }
}
