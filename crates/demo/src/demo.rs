//! The demo workspace: a health-service organisation with ten services on a
//! five-stage path to live and five weeks of history, including failures with
//! their reasons, rollbacks, a deployment in progress, an emergency fix that
//! went straight to production and a new service not yet past test.
//!
//! The `expect`s here only ever see this file's constant data; the tests below
//! build the whole workspace, so any of them failing fails a test, not a user.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use release_desk_domain::{
    Artefact, ArtefactDraft, Commit, Deployment, DeploymentDraft, Environment, Leg, Outcome,
    PathToLive, Service, Slug, WorkspaceSeed,
};

use crate::ids::{commit_of, digest_of};

const SERVICES: [(&str, &str, &str, u32); 10] = [
    ("appointments-api", "Appointments API", "Bookings", 2),
    ("checkout-web", "Checkout web", "Payments", 1),
    ("consent-service", "Consent service", "Records", 2),
    ("gateway", "Edge gateway", "Platform", 3),
    ("identity-service", "Identity service", "Platform", 2),
    (
        "notifications-worker",
        "Notifications worker",
        "Messaging",
        2,
    ),
    ("patient-records", "Patient records API", "Records", 3),
    ("payments-api", "Payments API", "Payments", 1),
    ("reporting-batch", "Reporting batch", "Insights", 4),
    ("search-indexer", "Search indexer", "Discovery", 3),
];

const STAGES: [(&str, &str, bool); 5] = [
    ("dev", "Development", false),
    ("test", "Test", false),
    ("uat", "UAT", false),
    ("preprod", "Pre-production", true),
    ("production", "Production", true),
];

const PEOPLE: [&str; 5] = [
    "Priya Shah",
    "Tom Okafor",
    "Aisha Rahman",
    "Dan Whitfield",
    "Mei Lin",
];

const COMMIT_SUMMARIES: [&str; 12] = [
    "Bump tokio from 1.47 to 1.48",
    "Retry provider calls with jittered backoff",
    "Add structured logging to the booking flow",
    "Fix rounding of refunds in pence",
    "Tighten CSP on the confirmation page",
    "Cache NHS number lookups for 60 seconds",
    "Remove the legacy SOAP client",
    "Handle 429 from the PDS API",
    "Accessibility: label the date picker for screen readers",
    "Add readiness probe for the message queue",
    "Rename feature flag new-booking-journey",
    "Upgrade base image to debian 12.8",
];

const FAILURES: [&str; 8] = [
    "Smoke test failed: GET /health returned 503 on the idle leg after 60 s",
    "Database migration 0042_add_consent_index timed out waiting for a lock after 120 s",
    "Image pull failed: manifest for the requested tag not found in the registry",
    "Contract tests failed: 3 of 214 consumer contracts broken (booking-portal)",
    "Readiness probe failed on 2 of 3 pods: connection refused on :8080",
    "Pipeline timed out after 30 min in the 'integration-tests' job",
    "Signature check failed: artefact was not signed by a trusted key",
    "Config validation failed: required setting PAYMENTS_PROVIDER_URL is missing",
];

const ROLLBACKS: [&str; 4] = [
    "Soak failed: error rate 4.2% over 10 min exceeded the 1% threshold; traffic switched back to blue",
    "Soak failed: p99 latency 1.8 s exceeded the 800 ms threshold; traffic switched back",
    "Rolled back by Dan Whitfield: appointment confirmations delayed for a subset of users",
    "Soak failed: 5xx responses from /api/v2/records rose to 3.1%; traffic switched back",
];

/// How long before `now` a service's scripted event began (its build): the
/// routine history of that service is over by then.
fn scripted_event_age(service: &str) -> Duration {
    match service {
        "identity-service" => EMERGENCY_BUILD_AGE,
        "payments-api" => IN_PROGRESS_BUILD_AGE,
        "search-indexer" | "appointments-api" | "checkout-web" => RECENT_FAILURE_BUILD_AGE,
        _ => Duration::zero(),
    }
}

const EMERGENCY_BUILD_AGE: Duration = Duration::hours(3 * 24 + 5);
const IN_PROGRESS_BUILD_AGE: Duration = Duration::hours(30);
const RECENT_FAILURE_BUILD_AGE: Duration = Duration::hours(26);

/// Builds the demo workspace so that its history ends at `now`.
pub fn demo_workspace(now: DateTime<Utc>) -> WorkspaceSeed {
    let stages: Vec<Environment> = STAGES
        .iter()
        .map(|(key, name, prod)| {
            Environment::new(key, name, *prod).expect("demo stage keys are valid")
        })
        .collect();
    let path_to_live = PathToLive::new(stages).expect("demo stages are distinct");
    let mut rng = fastrand::Rng::with_seed(0x5EED_2026);
    let mut services = Vec::new();
    let mut artefacts = Vec::new();
    let mut deployments = Vec::new();

    for (index, (key, name, team, cadence_days)) in SERVICES.iter().enumerate() {
        let service = Service::new(
            key,
            name,
            Some(team),
            Some(&format!("github.com/acme-health/{key}")),
        )
        .expect("demo services are valid");
        let mut history = ServiceHistory {
            service: &service,
            rng: &mut rng,
            now,
            quiet_from: now - scripted_event_age(key),
            free_at: HashMap::new(),
            artefacts: Vec::new(),
            deployments: Vec::new(),
        };
        let mut minor = 3 + index as u32 % 4;
        let major = 1 + index as u32 % 3;
        // A service that is new this month: built and tested, not yet beyond test.
        let new_service = *key == "consent-service";
        if !new_service {
            history.baseline(
                &format!("{major}.{}.4", minor - 1),
                now - Duration::days(35),
            );
        }
        // Services with a scripted recent event stop building before it, so
        // build times stay in version order (and their deployments stop
        // before it too: see `quiet_from`).
        let routine_until = now
            - match *key {
                "identity-service" => Duration::days(4),
                "payments-api" => Duration::hours(34),
                "search-indexer" | "appointments-api" | "checkout-web" => Duration::hours(30),
                _ => Duration::hours(2),
            };
        let first_build = now - Duration::days(if new_service { 12 } else { 28 });
        let mut built_at = first_build + Duration::hours(9 + index as i64);
        let mut patch = 0;
        while built_at < routine_until {
            let version = format!("{major}.{minor}.{patch}");
            if new_service {
                history.build_into(&version, built_at, &["dev", "test"]);
            } else {
                history.build_and_promote(&version, built_at);
            }
            if history.rng.u8(..10) < 3 {
                minor += 1;
                patch = 0;
            } else {
                patch += 1;
            }
            let step = i64::from(*cadence_days) * 24 + history.rng.i64(-6..18);
            built_at += Duration::hours(step.max(6));
        }
        let next = format!("{major}.{minor}.{patch}");
        match *key {
            "identity-service" => history.emergency_fix(&next),
            "payments-api" => history.in_progress(&next),
            "search-indexer" => history.recent_failure(&next, "uat", FAILURES[0]),
            "appointments-api" => history.recent_failure(&next, "preprod", ROLLBACKS[0]),
            "checkout-web" => history.recent_failure(&next, "dev", FAILURES[3]),
            _ => {}
        }
        artefacts.extend(history.artefacts);
        deployments.extend(history.deployments);
        services.push(service);
    }

    WorkspaceSeed {
        name: "Acme Health demo".into(),
        demo: true,
        path_to_live,
        services,
        artefacts,
        deployments,
    }
}

struct ServiceHistory<'a> {
    service: &'a Service,
    rng: &'a mut fastrand::Rng,
    now: DateTime<Utc>,
    /// Routine deployments finish before this: a scripted event (an emergency
    /// fix, a release in progress, a recent failure) is the newest thing that
    /// happened to the service, whatever the weekday arithmetic of the routine
    /// history would otherwise have put after it.
    quiet_from: DateTime<Utc>,
    /// When each environment's newest deployment finished: a target runs one
    /// deployment at a time.
    free_at: HashMap<String, DateTime<Utc>>,
    artefacts: Vec<Artefact>,
    deployments: Vec<Deployment>,
}

impl ServiceHistory<'_> {
    fn artefact(&mut self, version: &str, built_at: DateTime<Utc>) -> Artefact {
        let key = self.service.key.as_str();
        let artefact = Artefact::new(ArtefactDraft {
            service: self.service.key.clone(),
            name: key.to_owned(),
            version: version.to_owned(),
            digest: digest_of(&format!("{key}@{version}")),
            source_commit: commit_of(&format!("{key}@{version}")),
            build_url: Some(format!(
                "https://github.com/acme-health/{key}/actions/runs/{}",
                9_100_000 + self.rng.u32(..900_000)
            )),
            created_at: built_at,
            signature: Some(format!(
                "untrusted comment: signed by acme-health release key\n{}",
                &digest_of(version)[..44]
            )),
            commits: self.commits(version),
        })
        .expect("demo artefacts are valid");
        self.artefacts.push(artefact.clone());
        artefact
    }

    /// One to six commits per build, the first being the build's own commit.
    /// Drawn from a generator seeded by the build, so adding commits to the
    /// demo leaves the timeline of every other draw (and the scripted
    /// situations the tests rely on) exactly as it was.
    fn commits(&self, version: &str) -> Vec<Commit> {
        let key = self.service.key.as_str();
        let seed = u64::from_str_radix(&digest_of(&format!("commits:{key}@{version}"))[..16], 16)
            .unwrap_or(0);
        let mut rng = fastrand::Rng::with_seed(seed);
        let count = 1 + rng.usize(0..6);
        // Distinct summaries within one build: step through the list from a
        // random start (5 is coprime with its length, so none repeats).
        let first = rng.usize(0..COMMIT_SUMMARIES.len());
        (0..count)
            .map(|i| Commit {
                sha: if i == 0 {
                    commit_of(&format!("{key}@{version}"))
                } else {
                    commit_of(&format!("{key}@{version}#{i}"))
                },
                summary: COMMIT_SUMMARIES[(first + i * 5) % COMMIT_SUMMARIES.len()].to_owned(),
                author: PEOPLE[rng.usize(0..PEOPLE.len())].to_owned(),
            })
            .collect()
    }

    /// Builds a version and walks it along the path to live until it fails, is
    /// superseded, or reaches production. Each later stage waits longer and
    /// needs a person, as it would in a team with UAT sign-off and CAB days.
    fn build_and_promote(&mut self, version: &str, built_at: DateTime<Utc>) {
        let artefact = self.artefact(version, built_at);
        let mut at = built_at + Duration::minutes(8 + self.rng.i64(0..20));
        let mut leg = if self.rng.bool() {
            Leg::Blue
        } else {
            Leg::Green
        };
        for (stage, (env, _, _)) in STAGES.iter().enumerate() {
            if stage > 0 {
                at = self.next_slot(stage, at);
                // Not every build goes all the way: later builds overtake some.
                if self.rng.u8(..100) < 6 * stage as u8 {
                    return;
                }
            }
            // One deployment at a time per environment: wait for the last.
            if let Some(free) = self.free_at.get(*env) {
                at = at.max(*free + Duration::minutes(5));
            }
            let actor = if stage < 2 {
                "GitHub Actions".to_owned()
            } else {
                PEOPLE[self.rng.usize(..PEOPLE.len())].to_owned()
            };
            let roll = self.rng.u8(..100);
            let (outcome, reason) = if roll < 7 {
                (
                    Outcome::Failed,
                    Some(FAILURES[self.rng.usize(..FAILURES.len())]),
                )
            } else if roll < 10 && stage >= 2 {
                (
                    Outcome::RolledBack,
                    Some(ROLLBACKS[self.rng.usize(..ROLLBACKS.len())]),
                )
            } else {
                (Outcome::Succeeded, None)
            };
            let took = Duration::seconds(90 + self.rng.i64(0..600) + 300 * stage as i64);
            // Routine history is over before the service's scripted event
            // (or now): nothing routine is still running, or lands after it.
            if at + took > self.quiet_from {
                return;
            }
            self.deploy(&artefact, env, Some(leg), at, took, &actor, outcome, reason);
            if outcome != Outcome::Succeeded {
                return;
            }
            leg = if leg == Leg::Blue {
                Leg::Green
            } else {
                Leg::Blue
            };
        }
    }

    /// When the next stage picks a build up: test within hours, UAT next
    /// working morning, preprod a day later, production on Tuesday or Thursday.
    fn next_slot(&mut self, stage: usize, after: DateTime<Utc>) -> DateTime<Utc> {
        let candidate = match stage {
            1 => after + Duration::minutes(40 + self.rng.i64(0..180)),
            2 => {
                working_morning(after + Duration::hours(14))
                    + Duration::minutes(self.rng.i64(0..240))
            }
            3 => {
                working_morning(after + Duration::hours(20))
                    + Duration::minutes(60 + self.rng.i64(0..300))
            }
            _ => {
                let mut day = working_morning(after + Duration::hours(20));
                while !matches!(day.weekday(), Weekday::Tue | Weekday::Thu) {
                    day = working_morning(day + Duration::hours(24));
                }
                day + Duration::minutes(60 + self.rng.i64(0..120))
            }
        };
        candidate.max(after)
    }

    #[allow(clippy::too_many_arguments)] // one demo row; a struct would only rename the arguments
    fn deploy(
        &mut self,
        artefact: &Artefact,
        environment: &str,
        leg: Option<Leg>,
        started_at: DateTime<Utc>,
        took: Duration,
        actor: &str,
        outcome: Outcome,
        reason: Option<&str>,
    ) {
        let finished = started_at + took;
        let (outcome, finished_at, reason) = if finished > self.now {
            (Outcome::InProgress, None, None)
        } else {
            (outcome, Some(finished), reason)
        };
        let deployment = Deployment::new(
            DeploymentDraft {
                service: self.service.key.clone(),
                environment: Slug::parse(environment).expect("demo stage keys are valid"),
                version: artefact.version().to_owned(),
                leg,
                started_at,
                finished_at,
                actor: actor.to_owned(),
                outcome,
                failure_reason: reason.map(str::to_owned),
            },
            artefact,
        )
        .expect("demo deployments are consistent");
        self.free_at
            .insert(environment.to_owned(), finished.min(self.now));
        self.deployments.push(deployment);
    }

    /// A build deployed successfully to exactly `stages`, one after another.
    fn build_into(&mut self, version: &str, built: DateTime<Utc>, stages: &[&str]) {
        let artefact = self.artefact(version, built);
        for (i, env) in stages.iter().enumerate() {
            let at = built + Duration::hours(3 * i as i64) + Duration::minutes(12);
            if at + Duration::minutes(8) < self.now {
                self.deploy(
                    &artefact,
                    env,
                    Some(Leg::Blue),
                    at,
                    Duration::minutes(6),
                    "GitHub Actions",
                    Outcome::Succeeded,
                    None,
                );
            }
        }
    }

    /// A build that passed the stages before `failed_at` and then failed there
    /// within the last few hours; a soak or manual reason means a rollback.
    fn recent_failure(&mut self, version: &str, failed_at: &str, reason: &str) {
        let built = self.now - RECENT_FAILURE_BUILD_AGE;
        let artefact = self.artefact(version, built);
        let stop = STAGES
            .iter()
            .position(|(k, _, _)| *k == failed_at)
            .unwrap_or(0);
        let outcome = if reason.starts_with("Soak") || reason.starts_with("Rolled back") {
            Outcome::RolledBack
        } else {
            Outcome::Failed
        };
        for (i, (env, _, _)) in STAGES.iter().enumerate().take(stop + 1) {
            let at = if i == stop {
                self.now - Duration::minutes(50 + 40 * i as i64)
            } else {
                built + Duration::hours(3 * i as i64) + Duration::minutes(15)
            };
            let actor = if i < 2 {
                "GitHub Actions"
            } else {
                PEOPLE[(i + 2) % PEOPLE.len()]
            };
            let (o, r) = if i == stop {
                (outcome, Some(reason))
            } else {
                (Outcome::Succeeded, None)
            };
            self.deploy(
                &artefact,
                env,
                Some(Leg::Green),
                at,
                Duration::minutes(9),
                actor,
                o,
                r,
            );
        }
    }

    /// The release that was live everywhere when the history starts.
    fn baseline(&mut self, version: &str, built: DateTime<Utc>) {
        let artefact = self.artefact(version, built);
        for (i, (env, _, _)) in STAGES.iter().enumerate() {
            let at = built + Duration::hours(20 * i as i64) + Duration::minutes(15);
            let actor = if i < 2 {
                "GitHub Actions"
            } else {
                PEOPLE[i % PEOPLE.len()]
            };
            self.deploy(
                &artefact,
                env,
                Some(Leg::Blue),
                at,
                Duration::minutes(7),
                actor,
                Outcome::Succeeded,
                None,
            );
        }
    }

    /// A security fix three days ago that went dev → production under the
    /// emergency change path, so production is ahead of pre-production.
    fn emergency_fix(&mut self, version: &str) {
        let built = self.now - EMERGENCY_BUILD_AGE;
        let artefact = self.artefact(version, built);
        self.deploy(
            &artefact,
            "dev",
            Some(Leg::Blue),
            built + Duration::minutes(12),
            Duration::minutes(3),
            "GitHub Actions",
            Outcome::Succeeded,
            None,
        );
        self.deploy(
            &artefact,
            "production",
            Some(Leg::Green),
            built + Duration::minutes(95),
            Duration::minutes(14),
            "Aisha Rahman",
            Outcome::Succeeded,
            None,
        );
    }

    /// A release to production that started a few minutes ago.
    fn in_progress(&mut self, version: &str) {
        let built = self.now - IN_PROGRESS_BUILD_AGE;
        let artefact = self.artefact(version, built);
        for (i, env) in ["dev", "test", "uat", "preprod"].iter().enumerate() {
            let at = built + Duration::hours(i as i64 * 6) + Duration::minutes(10);
            self.deploy(
                &artefact,
                env,
                Some(Leg::Blue),
                at,
                Duration::minutes(6),
                if i < 2 {
                    "GitHub Actions"
                } else {
                    "Tom Okafor"
                },
                Outcome::Succeeded,
                None,
            );
        }
        self.deploy(
            &artefact,
            "production",
            Some(Leg::Green),
            self.now - Duration::minutes(4),
            Duration::minutes(30),
            "Priya Shah",
            Outcome::Succeeded,
            None,
        );
    }
}

/// 09:00 UTC on the first working day at or after `t`.
fn working_morning(t: DateTime<Utc>) -> DateTime<Utc> {
    let mut day = t.date_naive();
    loop {
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            if let Some(morning) = day.and_hms_opt(9, 0, 0) {
                let morning = morning.and_utc();
                if morning >= t {
                    return morning;
                }
            }
        }
        day = day.succ_opt().unwrap_or(day);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::collections::{HashMap, HashSet};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 30, 0).unwrap()
    }

    #[test]
    fn is_deterministic() {
        let a = demo_workspace(now());
        let b = demo_workspace(now());
        assert_eq!(a.artefacts, b.artefacts);
        assert_eq!(a.deployments, b.deployments);
    }

    #[test]
    fn has_the_promised_size_and_variety() {
        let w = demo_workspace(now());
        assert!(w.services.len() >= 8);
        assert_eq!(w.path_to_live.stages().len(), 5);
        let outcomes: HashSet<Outcome> = w.deployments.iter().map(|d| d.outcome()).collect();
        assert_eq!(outcomes.len(), 4, "every outcome appears: {outcomes:?}");
        assert!(
            w.deployments
                .iter()
                .filter(|d| d.outcome() == Outcome::Failed)
                .count()
                >= 5
        );
        let first = w.deployments.iter().map(|d| d.started_at()).min().unwrap();
        assert!(
            now() - first >= Duration::days(21),
            "a few weeks of history"
        );
        assert!(w.deployments.iter().all(|d| d.started_at() <= now()));
    }

    #[test]
    fn every_deployment_references_an_artefact_of_the_workspace() {
        let w = demo_workspace(now());
        let known: HashSet<(String, String)> = w
            .artefacts
            .iter()
            .map(|a| (a.service().to_string(), a.version().to_owned()))
            .collect();
        for d in &w.deployments {
            assert!(known.contains(&(d.service().to_string(), d.version().to_owned())));
        }
        let mut digests = HashMap::new();
        for a in &w.artefacts {
            assert!(
                digests.insert(a.digest().clone(), a.version()).is_none(),
                "digests are unique"
            );
        }
    }

    #[test]
    fn every_established_service_reaches_production() {
        let w = demo_workspace(now());
        for s in w
            .services
            .iter()
            .filter(|s| s.key.as_str() != "consent-service")
        {
            assert!(
                w.deployments.iter().any(|d| d.service() == &s.key
                    && d.environment().as_str() == "production"
                    && d.outcome() == Outcome::Succeeded),
                "{} never reached production",
                s.key
            );
        }
    }

    #[test]
    fn builds_of_each_service_are_in_version_order() {
        let w = demo_workspace(now());
        for s in &w.services {
            let mut builds: Vec<_> = w
                .artefacts
                .iter()
                .filter(|a| a.service() == &s.key)
                .collect();
            builds.sort_by_key(|a| a.created_at());
            let numbers: Vec<Vec<u32>> = builds
                .iter()
                .map(|a| a.version().split('.').map(|p| p.parse().unwrap()).collect())
                .collect();
            assert!(
                numbers.windows(2).all(|w| w[0] < w[1]),
                "{}: {numbers:?}",
                s.key
            );
        }
    }

    #[test]
    fn a_new_service_is_not_yet_beyond_test() {
        let w = demo_workspace(now());
        let envs: HashSet<&str> = w
            .deployments
            .iter()
            .filter(|d| d.service().as_str() == "consent-service")
            .map(|d| d.environment().as_str())
            .collect();
        assert_eq!(envs, HashSet::from(["dev", "test"]));
    }

    #[test]
    fn every_build_lists_its_own_commit_first_and_no_summary_twice() {
        let seed = demo_workspace(now());
        for a in &seed.artefacts {
            let commits = a.commits();
            assert!((1..=6).contains(&commits.len()));
            assert_eq!(commits[0].sha, a.source_commit());
            let summaries: HashSet<&str> = commits.iter().map(|c| c.summary.as_str()).collect();
            assert_eq!(
                summaries.len(),
                commits.len(),
                "{} {}",
                a.service(),
                a.version()
            );
        }
    }

    #[test]
    fn working_morning_skips_weekends() {
        let saturday = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
        assert_eq!(
            working_morning(saturday),
            Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
        );
        let early_monday = Utc.with_ymd_and_hms(2026, 11, 23, 7, 0, 0).unwrap();
        assert_eq!(
            working_morning(early_monday),
            Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
        );
    }
}
