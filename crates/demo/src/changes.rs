//! The demo's change process: the people of Acme Health and the change records
//! they are working on, as a script the app plays through its ordinary,
//! audited store calls, so the demo's audit log is a real chain.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use release_desk_calendar::{RuleDraft, RuleKind, Scope};
use release_desk_changes::{
    ArtefactRef, ChangeDraft, ChangeType, CloseOutcome, Link, LinkKind, ProfileDraft, Transition,
    Verdict,
};
use release_desk_domain::{Slug, WorkspaceSeed};

/// One step of a scripted change, taken by the requester unless it names someone.
#[derive(Debug, Clone)]
pub enum ScriptStep {
    Move {
        by: usize,
        transition: Transition,
        at: DateTime<Utc>,
    },
    Decide {
        by: usize,
        verdict: Verdict,
        comment: String,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone)]
pub struct ScriptedChange {
    pub requester: usize,
    pub raised_at: DateTime<Utc>,
    pub draft: ChangeDraft,
    pub steps: Vec<ScriptStep>,
}

#[derive(Debug, Clone)]
pub struct ChangeScript {
    pub profiles: Vec<ProfileDraft>,
    pub changes: Vec<ScriptedChange>,
    /// Release windows and freezes, saved by Dan after the changes are played
    /// (so the start gate judges the scripted past by the rules of its time).
    pub calendar: Vec<RuleDraft>,
}

const PRIYA: usize = 0;
const TOM: usize = 1;
const AISHA: usize = 2;
const DAN: usize = 3;
const MEI: usize = 4;

// Literal keys below are valid slugs; the tests play the whole script.
fn slug(s: &str) -> Slug {
    Slug::parse(s).expect("literal key is a valid slug")
}

fn latest(seed: &WorkspaceSeed, service: &str, back: usize) -> ArtefactRef {
    let mut versions: Vec<_> = seed
        .artefacts
        .iter()
        .filter(|a| a.service().as_str() == service)
        .collect();
    versions.sort_by_key(|a| std::cmp::Reverse(a.created_at()));
    let artefact = versions
        .get(back)
        .or(versions.last())
        .expect("every demo service has builds");
    ArtefactRef {
        service: slug(service),
        version: artefact.version().to_owned(),
    }
}

#[allow(clippy::too_many_arguments)] // a table of demo data reads best flat
fn draft(
    kind: ChangeType,
    title: &str,
    description: &str,
    artefact: ArtefactRef,
    env: &str,
    start: DateTime<Utc>,
    hours: i64,
    assignee: Option<usize>,
) -> ChangeDraft {
    ChangeDraft {
        kind,
        template: None,
        title: title.into(),
        description: description.into(),
        services: vec![],
        environments: vec![slug(env)],
        artefact,
        planned_start: start,
        planned_end: start + Duration::hours(hours),
        implementation_plan: "Promote the signed artefact with the blue-green strategy: deploy to the idle leg, smoke test, switch traffic, soak 30 minutes against the error-rate and latency thresholds.".into(),
        backout_plan: "Switch traffic back to the previous leg, which keeps running until the soak ends; redeploy the last known good digest if the leg was recycled.".into(),
        test_plan: "Pipeline suite passed on this digest; smoke tests against the idle leg before traffic; synthetic journeys during the soak.".into(),
        assignee: assignee.map(|i| release_desk_changes::ProfileId(i as i64 + 1)),
        links: vec![],
        rollback_possible: true,
        no_rollback_justification: None,
        schema_migration: false,
        files_changed: None,
    }
}

fn mv(by: usize, transition: Transition, at: DateTime<Utc>) -> ScriptStep {
    ScriptStep::Move { by, transition, at }
}

fn decide(by: usize, verdict: Verdict, comment: &str, at: DateTime<Utc>) -> ScriptStep {
    ScriptStep::Decide {
        by,
        verdict,
        comment: comment.into(),
        at,
    }
}

/// Profiles are created in this order, so their ids are 1..=5.
pub fn demo_changes(seed: &WorkspaceSeed, now: DateTime<Utc>) -> ChangeScript {
    let person = |name: &str, email: &str, roles: &[&str]| ProfileDraft {
        name: name.into(),
        email: email.into(),
        roles: roles.iter().map(|r| slug(r)).collect(),
    };
    let profiles = vec![
        person(
            "Priya Shah",
            "priya.shah@acme-health.example",
            &["release-manager"],
        ),
        person(
            "Tom Okafor",
            "tom.okafor@acme-health.example",
            &["change-manager", "cab-member"],
        ),
        person(
            "Aisha Rahman",
            "aisha.rahman@acme-health.example",
            &["service-owner"],
        ),
        person(
            "Dan Whitfield",
            "dan.whitfield@acme-health.example",
            &["change-manager", "release-manager"],
        ),
        person("Mei Lin", "mei.lin@acme-health.example", &["product-owner"]),
    ];
    let h = Duration::hours;
    let d = Duration::days;
    let tomorrow_10 = (now + d(1))
        .date_naive()
        .and_hms_opt(10, 0, 0)
        .map_or(now + d(1), |t| t.and_utc());
    let submit = |by, at| mv(by, Transition::Submit, at);
    let request = |by, at| mv(by, Transition::RequestApproval, at);

    let mut payments = draft(
        ChangeType::Normal,
        "Release payments-api refund rounding fix to production",
        "Refunds were rounded half-up, over-refunding by a penny on 0.3% of refunds. This build rounds half-even, as finance asked.",
        latest(seed, "payments-api", 0),
        "production",
        tomorrow_10,
        2,
        Some(PRIYA),
    );
    payments.links = vec![Link {
        kind: LinkKind::Ticket,
        value: "FIN-2231".into(),
    }];
    payments.files_changed = Some(9);

    let mut search = draft(
        ChangeType::Normal,
        "search-indexer: new synonym index with schema change",
        "Adds the clinical-synonym index. The schema migration ships in the same build as the code that reads it.",
        latest(seed, "search-indexer", 0),
        "preprod",
        tomorrow_10 + h(4),
        3,
        Some(DAN),
    );
    search.schema_migration = true;
    search.files_changed = Some(64);

    let mut identity = draft(
        ChangeType::Emergency,
        "Emergency: revoke leaked session signing key",
        "A session signing key was exposed in a support ticket attachment. This build rotates to a new key and revokes the old one.",
        latest(seed, "identity-service", 0),
        "production",
        now - h(20),
        1,
        None,
    );
    identity.links = vec![Link {
        kind: LinkKind::Ticket,
        value: "SEC-0412".into(),
    }];

    let mut standard = draft(
        ChangeType::Standard,
        "Routine dependency update",
        "Patch-level library updates that passed the pipeline's full test suite.",
        latest(seed, "checkout-web", 0),
        "test",
        tomorrow_10 + h(1),
        1,
        None,
    );
    standard.template = Some("dependency-update".into());

    let changes = vec![
        ScriptedChange {
            requester: PRIYA,
            raised_at: now - d(1) - h(3),
            draft: payments,
            steps: vec![
                submit(PRIYA, now - d(1) - h(2)),
                request(PRIYA, now - d(1) - h(1)),
                decide(AISHA, Verdict::Approve, "Finance signed off the rounding rule; happy for this to go.", now - h(20)),
            ],
        },
        ScriptedChange {
            requester: PRIYA,
            raised_at: now - h(6),
            draft: draft(
                ChangeType::Normal,
                "appointments-api: reminder SMS retry to UAT",
                "Retries reminder SMS on 429 from the messaging provider, with jittered backoff.",
                latest(seed, "appointments-api", 0),
                "uat",
                tomorrow_10 + h(2),
                1,
                None,
            ),
            steps: vec![submit(PRIYA, now - h(5)), request(PRIYA, now - h(5))],
        },
        ScriptedChange {
            requester: DAN,
            raised_at: now - d(1),
            draft: search,
            steps: vec![
                submit(DAN, now - h(23)),
                request(DAN, now - h(23)),
                decide(TOM, Verdict::Reject, "Ship the index migration on its own first (expand), then the code: we cannot roll back a combined release.", now - h(4)),
            ],
        },
        ScriptedChange {
            requester: PRIYA,
            raised_at: now - h(22),
            draft: identity,
            steps: vec![
                submit(PRIYA, now - h(22)),
                request(PRIYA, now - h(22)),
                mv(PRIYA, Transition::Schedule, now - h(21)),
                mv(PRIYA, Transition::Start, now - h(20)),
                mv(PRIYA, Transition::Complete, now - h(19)),
            ],
        },
        ScriptedChange {
            requester: PRIYA,
            raised_at: now - h(2),
            draft: standard,
            steps: vec![mv(PRIYA, Transition::Schedule, now - h(2))],
        },
        ScriptedChange {
            requester: DAN,
            raised_at: now - d(8),
            draft: draft(
                ChangeType::Normal,
                "patient-records: audit trail export to UAT",
                "Adds CSV export of the record access audit trail for information governance.",
                latest(seed, "patient-records", 1),
                "uat",
                now - d(6),
                1,
                Some(PRIYA),
            ),
            steps: vec![
                submit(DAN, now - d(8)),
                request(DAN, now - d(8)),
                decide(TOM, Verdict::Approve, "Approved at CAB.", now - d(7)),
                mv(PRIYA, Transition::Start, now - d(6)),
                mv(PRIYA, Transition::Complete, now - d(6) + h(1)),
                mv(
                    DAN,
                    Transition::Close {
                        outcome: CloseOutcome::Successful,
                        note: "Deployed in the window; smoke and soak clean. IG team confirmed the export.".into(),
                    },
                    now - d(5),
                ),
            ],
        },
        ScriptedChange {
            requester: MEI,
            raised_at: now - h(1),
            draft: draft(
                ChangeType::Normal,
                "notifications-worker: plain-English confirmation emails",
                "New confirmation email copy, reviewed by the content design team.",
                latest(seed, "notifications-worker", 0),
                "uat",
                tomorrow_10 + d(2),
                1,
                None,
            ),
            steps: vec![],
        },
    ];
    let calendar = demo_calendar(now);
    ChangeScript {
        profiles,
        changes,
        calendar,
    }
}

/// Acme Health's release calendar, relative to `now` so the demo shows the
/// same picture whenever it is loaded: production windows on the next two
/// working days' weekdays, non-production hours every day, a UAT data refresh
/// freeze across the UAT change planned for tomorrow (a conflict to resolve),
/// the month-end finance freeze for payments, and the Christmas freeze.
pub fn demo_calendar(now: DateTime<Utc>) -> Vec<RuleDraft> {
    let day = |d: chrono::NaiveDate| match d.weekday() {
        chrono::Weekday::Mon => "MO",
        chrono::Weekday::Tue => "TU",
        chrono::Weekday::Wed => "WE",
        chrono::Weekday::Thu => "TH",
        chrono::Weekday::Fri => "FR",
        chrono::Weekday::Sat => "SA",
        chrono::Weekday::Sun => "SU",
    };
    let today = now.date_naive();
    let tomorrow = today + Duration::days(1);
    let first = today - Duration::days(56);
    let at = |d: NaiveDate, h: u32| d.and_hms_opt(h, 0, 0).unwrap_or_default();
    let rule = |kind,
                title: &str,
                zone: &str,
                start,
                minutes,
                recurrence: Option<String>,
                envs: &[&str],
                services: &[&str]| RuleDraft {
        kind,
        title: title.into(),
        zone: zone.into(),
        start,
        duration_minutes: minutes,
        recurrence,
        exceptions: vec![],
        scope: Scope {
            environments: envs.iter().map(|e| slug(e)).collect(),
            services: services.iter().map(|s| slug(s)).collect(),
        },
    };
    let mut days = [day(tomorrow), day(tomorrow + Duration::days(2))];
    days.sort_unstable();
    let christmas = NaiveDate::from_ymd_opt(today.year() - 1, 12, 19).unwrap_or(first);
    vec![
        rule(
            RuleKind::Window,
            "Production release window",
            "Europe/London",
            at(first, 9),
            4 * 60,
            Some(format!("FREQ=WEEKLY;BYDAY={}", days.join(","))),
            &["production"],
            &[],
        ),
        rule(
            RuleKind::Window,
            "Non-production hours",
            "Europe/London",
            at(first, 7),
            12 * 60,
            Some("FREQ=DAILY".into()),
            // Dev and test take releases around the clock (continuous
            // delivery); the shared environments keep office hours.
            &["uat", "preprod"],
            &[],
        ),
        rule(
            RuleKind::Freeze,
            "UAT data refresh",
            "UTC",
            at(tomorrow, 11),
            3 * 60,
            None,
            &["uat"],
            &[],
        ),
        rule(
            RuleKind::Freeze,
            "Month-end finance freeze",
            "Europe/London",
            at(first, 0),
            24 * 60,
            Some("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1".into()),
            &["production"],
            &["payments-api"],
        ),
        rule(
            RuleKind::Freeze,
            "Christmas and New Year change freeze",
            "Europe/London",
            at(christmas, 0),
            16 * 24 * 60,
            Some("FREQ=YEARLY".into()),
            &[],
            &[],
        ),
    ]
}

/// Plays the script through the store's ordinary, audited calls.
pub async fn play(
    store: &release_desk_store::Store,
    script: &ChangeScript,
    now: DateTime<Utc>,
) -> release_desk_store::Result<()> {
    let mut people = Vec::new();
    for p in &script.profiles {
        people.push(
            store
                .create_profile(p.clone(), now - Duration::days(30))
                .await?,
        );
    }
    for change in &script.changes {
        let requester = &people[change.requester];
        let mut r = store
            .raise_change(change.draft.clone(), requester, change.raised_at)
            .await?;
        for step in &change.steps {
            r = match step {
                ScriptStep::Move { by, transition, at } => {
                    store
                        .move_change(r.id, r.revision, transition.clone(), &people[*by], *at)
                        .await?
                }
                ScriptStep::Decide {
                    by,
                    verdict,
                    comment,
                    at,
                } => {
                    store
                        .decide(r.id, r.revision, *verdict, comment, &people[*by], *at)
                        .await?
                }
            };
        }
    }
    // Dan keeps the calendar.
    for rule in &script.calendar {
        store
            .save_calendar_rule(None, rule.clone(), &people[DAN], now)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use release_desk_changes::ChangeState;
    use release_desk_store::{Store, DATABASE_FILE};

    #[tokio::test]
    async fn the_script_plays_into_a_real_store_and_fills_the_queues() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 10, 30, 0).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(&dir.path().join(DATABASE_FILE)).await.unwrap();
        let seed = crate::demo_workspace(now);
        store.load_workspace(&seed, now).await.unwrap();
        play(&store, &demo_changes(&seed, now), now).await.unwrap();

        let changes = store.changes().await.unwrap();
        let states: Vec<ChangeState> = changes.iter().map(|c| c.state).collect();
        for expected in [
            ChangeState::New,
            ChangeState::Authorise,
            ChangeState::Scheduled,
            ChangeState::Review,
            ChangeState::Closed,
        ] {
            assert!(
                states.contains(&expected),
                "no demo change in {expected:?}: {states:?}"
            );
        }
        let profiles = store.profiles().await.unwrap();
        let tom = profiles.iter().find(|p| p.name == "Tom Okafor").unwrap();
        let queue = store.approval_queue(tom, now).await.unwrap();
        let titles: Vec<&str> = queue.iter().map(|q| q.record.title.as_str()).collect();
        // Payments (needs a change manager), appointments (UAT) and the
        // emergency fix awaiting approval after the fact; not the search
        // change he rejected.
        assert_eq!(queue.len(), 3, "{titles:?}");
        assert!(!titles.iter().any(|t| t.contains("synonym")));
        assert!(store.verify_audit().await.unwrap().intact);
        // The calendar: five rules, and the UAT change tomorrow meets the
        // data refresh freeze while the production change sits in its window.
        let rules = store.calendar_rules().await.unwrap();
        assert_eq!(rules.len(), 5);
        let bookings = store.bookings().await.unwrap();
        let v =
            release_desk_calendar::view(&rules, &bookings, now, now + Duration::days(7)).unwrap();
        let uat = v
            .changes
            .iter()
            .find(|c| c.booking.environment.as_str() == "uat" && c.booking.start > now)
            .unwrap();
        assert!(
            uat.conflicts
                .iter()
                .any(|c| c.reason.contains("UAT data refresh")),
            "{uat:?}"
        );
        let payments = v
            .changes
            .iter()
            .find(|c| c.booking.service.as_str() == "payments-api")
            .unwrap();
        assert!(payments.conflicts.is_empty(), "{:?}", payments.conflicts);
        assert!(
            store.current_profile().await.unwrap().is_none(),
            "the person chooses who they are"
        );
    }
}
