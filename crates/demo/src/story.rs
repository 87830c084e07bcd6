//! The demo's story as invariants. The README, the screenshots and the tests
//! promise a particular picture (an emergency fix ahead in production, a
//! production deployment in progress, a failure in UAT, a service not yet past
//! test, a production change that sits in its window, a UAT change that meets
//! a freeze, demo-web promotable now). The demo is built relative to "now", so
//! each promise must hold whatever the date and hour: [`broken_promises`]
//! checks all of them for one `now`, and the tests run it over more than a
//! year of dates and a spread of hours, the awkward ones on purpose.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use release_desk_calendar::{conflicts, expand, Booking, CalendarRule, Expanded};
use release_desk_changes::ChangeType;
use release_desk_domain::{
    drift_between, Deployment, Drift, Outcome, PreviousStage, StageVersion, WorkspaceSeed,
};

use crate::changes::{ChangeScript, ScriptStep};

/// Failure reasons the tests and screenshots look for.
pub const UAT_FAILURE_PREFIX: &str = "Smoke test failed";
pub const UAT_FREEZE_TITLE: &str = "UAT data refresh";

/// One cell of the dashboard as the store computes it (`cell_latest`: the
/// newest deployment by start, and the newest successful one), so the pure
/// checks and the store agree; a store-level test compares the two.
#[derive(Debug, Clone)]
pub struct CellSummary<'a> {
    pub last: Option<&'a Deployment>,
    pub current: Option<&'a Deployment>,
    pub drift: Drift,
}

/// Every (service, environment) cell of the seed, keyed by their keys.
pub fn cells(seed: &WorkspaceSeed) -> BTreeMap<(String, String), CellSummary<'_>> {
    let built_at = |d: &Deployment| {
        seed.artefacts
            .iter()
            .find(|a| a.service() == d.service() && a.version() == d.version())
            .map(|a| StageVersion {
                version: a.version().to_owned(),
                digest: a.digest().clone(),
                built_at: a.created_at(),
            })
    };
    let mut out = BTreeMap::new();
    for service in &seed.services {
        let mut previous: Option<Option<StageVersion>> = None;
        for env in seed.path_to_live.stages() {
            let here: Vec<(usize, &Deployment)> = seed
                .deployments
                .iter()
                .enumerate()
                .filter(|(_, d)| d.service() == &service.key && d.environment() == &env.key)
                .collect();
            // Ties on start time go to the later insertion, as `id DESC` does.
            let newest = |ok: &dyn Fn(&Deployment) -> bool| {
                here.iter()
                    .filter(|(_, d)| ok(d))
                    .max_by_key(|(i, d)| (d.started_at(), *i))
                    .map(|(_, d)| *d)
            };
            let last = newest(&|_| true);
            let current = newest(&|d| d.outcome() == Outcome::Succeeded);
            let this = current.and_then(built_at);
            let prev = match &previous {
                None => PreviousStage::None,
                Some(None) => PreviousStage::Empty,
                Some(Some(v)) => PreviousStage::Runs(v),
            };
            let drift = drift_between(prev, this.as_ref(), |mine, theirs| {
                let n = seed
                    .artefacts
                    .iter()
                    .filter(|a| {
                        a.service() == &service.key
                            && a.created_at() > mine.built_at
                            && a.created_at() <= theirs.built_at
                    })
                    .count();
                u32::try_from(n).unwrap_or(u32::MAX)
            });
            out.insert(
                (service.key.to_string(), env.key.to_string()),
                CellSummary {
                    last,
                    current,
                    drift,
                },
            );
            previous = Some(this);
        }
    }
    out
}

/// Every promise of the demo that does not hold at `now`, in words; empty
/// when the story is whole. `seed` is the demo as loaded (with or without
/// demo-web) and `script` the change script played over it.
pub fn broken_promises(
    seed: &WorkspaceSeed,
    script: &ChangeScript,
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut broken = Vec::new();
    history_promises(seed, now, &mut broken);
    dashboard_promises(seed, &mut broken);
    change_promises(seed, script, now, &mut broken);
    broken
}

fn history_promises(seed: &WorkspaceSeed, now: DateTime<Utc>, broken: &mut Vec<String>) {
    let outcomes: HashSet<Outcome> = seed.deployments.iter().map(|d| d.outcome()).collect();
    if outcomes.len() != 4 {
        broken.push(format!("not every outcome appears: {outcomes:?}"));
    }
    let failures = seed
        .deployments
        .iter()
        .filter(|d| d.outcome() == Outcome::Failed)
        .count();
    if failures < 5 {
        broken.push(format!("only {failures} failed deployments (at least 5)"));
    }
    match seed.deployments.iter().map(|d| d.started_at()).min() {
        Some(first) if now - first >= Duration::days(21) => {}
        first => broken.push(format!("history starts at {first:?}: not a few weeks")),
    }
    for d in &seed.deployments {
        if d.started_at() > now || d.finished_at().is_some_and(|f| f > now) {
            broken.push(format!(
                "{} {} in {} is in the future",
                d.service(),
                d.version(),
                d.environment()
            ));
        }
    }
    for a in &seed.artefacts {
        if a.created_at() > now {
            broken.push(format!(
                "{} {} is built in the future",
                a.service(),
                a.version()
            ));
        }
    }
    let in_progress: Vec<String> = seed
        .deployments
        .iter()
        .filter(|d| d.outcome() == Outcome::InProgress)
        .map(|d| format!("{}/{}", d.service(), d.environment()))
        .collect();
    if in_progress != ["payments-api/production"] {
        broken.push(format!(
            "exactly one deployment in progress, payments-api to production; found {in_progress:?}"
        ));
    }
    // Builds of one service come out in version order.
    for s in &seed.services {
        let mut builds: Vec<_> = seed
            .artefacts
            .iter()
            .filter(|a| a.service() == &s.key)
            .collect();
        builds.sort_by_key(|a| a.created_at());
        let numbers: Vec<Vec<u32>> = builds
            .iter()
            .map(|a| {
                a.version()
                    .split('.')
                    .map(|p| p.parse().unwrap_or(0))
                    .collect()
            })
            .collect();
        if !numbers.windows(2).all(|w| w[0] < w[1]) {
            broken.push(format!(
                "{} builds out of version order: {numbers:?}",
                s.key
            ));
        }
    }
    // A target runs one deployment at a time: none starts in a cell before
    // the one before it there has finished.
    let mut by_cell: BTreeMap<(String, String), Vec<&Deployment>> = BTreeMap::new();
    for d in &seed.deployments {
        by_cell
            .entry((d.service().to_string(), d.environment().to_string()))
            .or_default()
            .push(d);
    }
    for ((service, env), mut list) in by_cell {
        list.sort_by_key(|d| d.started_at());
        for pair in list.windows(2) {
            let ends = pair[0].finished_at().unwrap_or(now);
            if pair[1].started_at() < ends {
                broken.push(format!(
                    "{service}/{env}: {} starts before {} has finished",
                    pair[1].version(),
                    pair[0].version()
                ));
            }
        }
    }
}

fn dashboard_promises(seed: &WorkspaceSeed, broken: &mut Vec<String>) {
    let cells = cells(seed);
    let cell = |s: &str, e: &str| cells.get(&(s.to_owned(), e.to_owned()));
    let last_is = |s: &str, e: &str, outcome: Outcome, reason: Option<&str>| {
        cell(s, e).and_then(|c| c.last).is_some_and(|d| {
            d.outcome() == outcome
                && reason.is_none_or(|r| d.failure_reason().is_some_and(|f| f.starts_with(r)))
        })
    };

    // The emergency fix: production runs a build pre-production has not got.
    let newest_identity = seed
        .artefacts
        .iter()
        .filter(|a| a.service().as_str() == "identity-service")
        .max_by_key(|a| a.created_at());
    match (cell("identity-service", "production"), newest_identity) {
        (Some(c), Some(newest))
            if c.drift == Drift::Ahead
                && c.current.is_some_and(|d| d.version() == newest.version()) => {}
        (c, _) => broken.push(format!(
            "identity-service production should run the emergency fix, ahead of pre-production: {:?}",
            c.map(|c| (c.drift, c.current.map(|d| d.version().to_owned())))
        )),
    }
    if !last_is("payments-api", "production", Outcome::InProgress, None) {
        broken.push("payments-api production: the last deployment is not in progress".into());
    }
    if !last_is(
        "search-indexer",
        "uat",
        Outcome::Failed,
        Some(UAT_FAILURE_PREFIX),
    ) {
        broken.push("search-indexer UAT: the last deployment did not fail its smoke test".into());
    }
    if !last_is(
        "appointments-api",
        "preprod",
        Outcome::RolledBack,
        Some("Soak"),
    ) {
        broken.push(
            "appointments-api pre-production: the last deployment was not rolled back by its soak"
                .into(),
        );
    }
    if !last_is(
        "checkout-web",
        "dev",
        Outcome::Failed,
        Some("Contract tests"),
    ) {
        broken.push("checkout-web dev: the last deployment did not fail its contract tests".into());
    }
    for s in &seed.services {
        let key = s.key.as_str();
        let reached: Vec<&str> = seed
            .path_to_live
            .stages()
            .iter()
            .filter(|e| cell(key, e.key.as_str()).is_some_and(|c| c.last.is_some()))
            .map(|e| e.key.as_str())
            .collect();
        match key {
            "consent-service" => {
                if reached != ["dev", "test"] {
                    broken.push(format!(
                        "consent-service should be in dev and test only: {reached:?}"
                    ));
                }
            }
            // demo-web starts with no history: the user promotes it.
            "demo-web" => {
                if !reached.is_empty() {
                    broken.push(format!("demo-web should start undeployed: {reached:?}"));
                }
            }
            _ => {
                if cell(key, "production").and_then(|c| c.current).is_none() {
                    broken.push(format!("{key} runs nothing in production"));
                }
            }
        }
    }
}

fn change_promises(
    seed: &WorkspaceSeed,
    script: &ChangeScript,
    now: DateTime<Utc>,
    broken: &mut Vec<String>,
) {
    // Everything the script records happened in the past, in order.
    for c in &script.changes {
        let mut last = c.raised_at;
        for step in &c.steps {
            let at = match step {
                ScriptStep::Move { at, .. } | ScriptStep::Decide { at, .. } => *at,
            };
            if at < last || at > now {
                broken.push(format!(
                    "“{}”: a step at {at} is out of order or in the future",
                    c.draft.title
                ));
            }
            last = at;
        }
        if c.raised_at > now {
            broken.push(format!("“{}” is raised in the future", c.draft.title));
        }
    }
    let rules: Vec<CalendarRule> = match script
        .calendar
        .iter()
        .enumerate()
        .map(|(i, d)| d.clone().validate(i as i64 + 1))
        .collect::<Result<_, _>>()
    {
        Ok(r) => r,
        Err(e) => {
            broken.push(format!("a demo calendar rule is invalid: {e}"));
            return;
        }
    };
    let horizon = now + Duration::days(40);
    let expanded: Vec<Expanded> = match rules
        .iter()
        .map(|r| expand(r, now - Duration::days(1), horizon))
        .collect::<Result<_, _>>()
    {
        Ok(e) => e,
        Err(e) => {
            broken.push(format!("a demo calendar rule does not expand: {e}"));
            return;
        }
    };
    // The service's newest build; windows and freezes do not look at the
    // digest, so a service with no builds in the seed (demo-web) takes any.
    let booking = |service: &str, env: &str, start, end| -> Option<Booking> {
        let artefact = seed
            .artefacts
            .iter()
            .filter(|a| a.service().as_str() == service)
            .max_by_key(|a| a.created_at())
            .or(seed.artefacts.first())?;
        Some(Booking {
            id: 0,
            reference: String::new(),
            service: release_desk_domain::Slug::parse(service).ok()?,
            environment: release_desk_domain::Slug::parse(env).ok()?,
            stage: 0,
            production: env == "production",
            digest: artefact.digest().clone(),
            start,
            end,
            overrides: Vec::new(),
        })
    };
    let find = |service: &str, env: &str| {
        script.changes.iter().find(|c| {
            c.draft.artefact.service.as_str() == service
                && c.draft.environments.iter().any(|e| e.as_str() == env)
        })
    };
    let conflicts_of = |service: &str, env: &str| {
        let c = find(service, env)?;
        let b = booking(service, env, c.draft.planned_start, c.draft.planned_end)?;
        Some((c, conflicts(&b, &expanded, &[])))
    };

    // The normal production change for payments sits in an open window, clear
    // of every freeze, and is still to come.
    match conflicts_of("payments-api", "production") {
        Some((c, found))
            if c.draft.kind == ChangeType::Normal
                && c.draft.planned_start > now
                && found.is_empty() => {}
        Some((c, found)) => broken.push(format!(
            "the payments production change at {} should sit in a window with no freeze: {:?}",
            c.draft.planned_start,
            found.iter().map(|f| f.reason.as_str()).collect::<Vec<_>>()
        )),
        None => broken.push("no payments-api production change".into()),
    }
    // The UAT change for appointments meets the data refresh freeze.
    match conflicts_of("appointments-api", "uat") {
        Some((c, found))
            if c.draft.planned_start > now
                && found.iter().any(|f| f.reason.contains(UAT_FREEZE_TITLE)) => {}
        _ => broken
            .push("the appointments UAT change should meet the UAT data refresh freeze".into()),
    }
    // demo-web can be promoted to dev and test now: no freeze, no closed window.
    for env in ["dev", "test"] {
        if let Some(b) = booking("demo-web", env, now, now + Duration::hours(1)) {
            let found = conflicts(&b, &expanded, &[]);
            if found.iter().any(|f| f.blocks()) {
                broken.push(format!(
                    "demo-web cannot be promoted to {env} now: {:?}",
                    found.iter().map(|f| f.reason.as_str()).collect::<Vec<_>>()
                ));
            }
        }
    }
}

/// The awkward instants, on purpose: weekends, Sunday night, both clock
/// changes (Europe/London) at and around the hour they happen, 29
/// February, New Year's Eve, Christmas inside the freeze, and a month's
/// last working day (the finance freeze). The story's tests run at each.
pub fn awkward_instants() -> Vec<DateTime<Utc>> {
    // Proven infallible: each literal below is a valid UTC instant (the tests use them all).
    let at = |y, mo, d, h, mi| {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("a valid literal instant")
    };
    vec![
        at(2026, 12, 3, 10, 26),  // the day the issue was found
        at(2026, 12, 5, 12, 0),   // a Saturday
        at(2026, 12, 6, 23, 30),  // Sunday night
        at(2026, 12, 24, 16, 0),  // Christmas Eve, inside the freeze
        at(2026, 12, 31, 23, 59), // New Year's Eve
        at(2027, 1, 29, 10, 0),   // the month's last working day
        at(2027, 3, 28, 0, 59),   // clocks go forward at 01:00 UTC
        at(2027, 3, 28, 1, 0),
        at(2027, 3, 27, 22, 0),  // the evening before
        at(2027, 10, 31, 0, 59), // clocks go back at 01:00 UTC
        at(2027, 10, 31, 1, 0),
        at(2027, 10, 30, 23, 30),
        at(2028, 2, 29, 9, 0), // 29 February
        at(2028, 2, 28, 23, 0),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{demo_changes, demo_workspace};
    use chrono::{Datelike, NaiveDate, Timelike, Weekday};

    fn story_at(now: DateTime<Utc>) -> Vec<String> {
        let seed = demo_workspace(now);
        let script = demo_changes(&seed, now);
        broken_promises(&seed, &script, now)
    }

    /// Times of day the sweep cycles through, three a day: the small hours,
    /// office hours, the production window, the evening and just before
    /// midnight (when "tomorrow" is minutes away).
    const TIMES: [(u32, u32); 9] = [
        (0, 5),
        (2, 40),
        (7, 15),
        (9, 0),
        (10, 30),
        (13, 20),
        (17, 45),
        (21, 10),
        (23, 55),
    ];

    #[test]
    fn the_story_holds_on_every_day_for_more_than_a_year() {
        let first = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let days = 460; // to early February 2028: two Christmases, 29 Feb 2028 just after
        let mut failures = Vec::new();
        for n in 0..days {
            let day = first + Duration::days(n);
            for k in 0..3 {
                let (h, m) = TIMES[(n as usize * 3 + k) % TIMES.len()];
                let now = day.and_hms_opt(h, m, 0).unwrap().and_utc();
                let broken = story_at(now);
                if !broken.is_empty() {
                    failures.push(format!("{now} ({}): {broken:?}", now.weekday()));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} instants break the story; first ones:\n{}",
            failures.len(),
            failures
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    #[test]
    fn the_story_holds_at_the_awkward_instants() {
        for now in awkward_instants() {
            let broken = story_at(now);
            assert!(broken.is_empty(), "{now} ({}): {broken:?}", now.weekday());
        }
        // The list really has what it says.
        let list = awkward_instants();
        assert!(list.iter().any(|t| t.weekday() == Weekday::Sat));
        assert!(list
            .iter()
            .any(|t| t.weekday() == Weekday::Sun && t.hour() >= 20));
        assert!(list.iter().any(|t| t.month() == 2 && t.day() == 29));
        assert!(list.iter().any(|t| t.month() == 12 && t.day() == 31));
    }

    #[test]
    fn the_checks_can_fail() {
        // A promise broken on purpose is reported: the checks are not vacuous.
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 10, 26, 0).unwrap();
        let mut seed = demo_workspace(now);
        let script = demo_changes(&seed, now);
        seed.deployments.retain(|d| {
            !(d.service().as_str() == "payments-api" && d.outcome() == Outcome::InProgress)
        });
        let broken = broken_promises(&seed, &script, now);
        assert!(
            broken.iter().any(|b| b.contains("payments-api production")),
            "{broken:?}"
        );
        let mut script = demo_changes(&demo_workspace(now), now);
        script.calendar.retain(|r| r.title != UAT_FREEZE_TITLE);
        let broken = broken_promises(&demo_workspace(now), &script, now);
        assert!(
            broken.iter().any(|b| b.contains("UAT data refresh")),
            "{broken:?}"
        );
    }
}
