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

    let calendar = demo_calendar(now);
    let payments_artefact = latest(seed, "payments-api", 0);
    let payments_start = first_free_slot(
        seed,
        &calendar,
        &payments_artefact,
        "production",
        Duration::hours(2),
        tomorrow_10,
    );
    let mut payments = draft(
        ChangeType::Normal,
        "Release payments-api refund rounding fix to production",
        "Refunds were rounded half-up, over-refunding by a penny on 0.3% of refunds. This build rounds half-even, as finance asked.",
        payments_artefact,
        "production",
        payments_start,
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
    ChangeScript {
        profiles,
        changes,
        calendar,
    }
}

/// The earliest start from `from` at which a change of `length` to `env`
/// sits in an open window, clear of every freeze, found by the calendar's own
/// planner: so the demo's production change is clear of the month-end and
/// Christmas freezes whatever day the demo is loaded. `from` if nothing fits
/// in eight weeks (the story test would say so).
fn first_free_slot(
    seed: &WorkspaceSeed,
    calendar: &[RuleDraft],
    artefact: &ArtefactRef,
    env: &str,
    length: Duration,
    from: DateTime<Utc>,
) -> DateTime<Utc> {
    let horizon = from + Duration::weeks(8);
    let Some(digest) = seed
        .artefacts
        .iter()
        .find(|a| a.service() == &artefact.service && a.version() == artefact.version)
        .map(|a| a.digest().clone())
    else {
        return from;
    };
    let expanded: Option<Vec<_>> = calendar
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let rule = d.clone().validate(i as i64 + 1).ok()?;
            release_desk_calendar::expand(&rule, from - Duration::days(1), horizon + length).ok()
        })
        .collect();
    expanded
        .and_then(|rules| {
            release_desk_calendar::next_free_slot(
                &artefact.service,
                &slug(env),
                length,
                from,
                horizon,
                &rules,
                &[],
                &digest,
            )
        })
        .unwrap_or(from)
}

/// The next `n` working days (Monday to Friday) after `today`.
fn working_days_after(today: NaiveDate, n: usize) -> Vec<NaiveDate> {
    (1..)
        .map(|k| today + Duration::days(k))
        .filter(|d| !matches!(d.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun))
        .take(n)
        .collect()
}

/// Acme Health's release calendar, relative to `now` so the demo shows the
/// same picture whenever it is loaded: production windows on the weekdays of
/// the next two working days, non-production hours every day for the shared
/// stages, a UAT data refresh freeze across the UAT change planned for
/// tomorrow (a conflict to resolve), the month-end finance freeze for
/// payments, and the Christmas freeze for the shared stages and production
/// (dev and test keep taking builds, as continuous delivery does).
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
    let mut days: Vec<&str> = working_days_after(today, 2).into_iter().map(day).collect();
    days.sort_unstable_by_key(|d| ["MO", "TU", "WE", "TH", "FR"].iter().position(|x| x == d));
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
            &["uat", "preprod", "production"],
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
