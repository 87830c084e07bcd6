//! Rules of the change process, example by example and as properties over
//! random sequences of decisions, edits, transitions and the passing of time.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use release_desk_domain::{Digest, Slug};

use crate::record::fixtures::{digest, record, slug};
use crate::*;

fn profile(id: i64, name: &str, roles: &[&str]) -> Profile {
    Profile {
        id: ProfileId(id),
        name: name.into(),
        email: format!("{}@nhs.example", name.to_lowercase()),
        roles: roles.iter().map(|r| Slug::parse(r).unwrap()).collect(),
    }
}

/// Requester 1 and assignee 3 are the record fixture's parties.
fn people() -> Vec<Profile> {
    vec![
        profile(1, "Priya", &["change-manager", "release-manager"]),
        profile(2, "Sam", &["change-manager"]),
        profile(3, "Dev", &["service-owner", "change-manager"]),
        profile(4, "Alex", &["service-owner"]),
        profile(5, "Jo", &[]),
        profile(6, "Morgan", &["head-of-service"]),
        profile(7, "Kim", &["change-manager", "service-owner"]),
    ]
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 10, 0, 0).unwrap()
}

fn decision(id: i64, p: &Profile, verdict: Verdict, at: DateTime<Utc>, digest: Digest) -> Decision {
    Decision {
        id,
        by: p.id,
        by_name: p.name.clone(),
        roles: p.roles.clone(),
        verdict,
        comment: "looked at it".into(),
        at,
        digest,
    }
}

fn production_policy() -> ApprovalPolicy {
    default_policies()
        .into_iter()
        .find(|p| {
            p.environment
                .as_ref()
                .is_some_and(|e| e.as_str() == "production")
        })
        .unwrap()
}

#[test]
fn the_refusal_names_the_count_and_the_missing_role() {
    let r = record(ChangeState::Authorise);
    let ps = people();
    let decisions = vec![decision(1, &ps[3], Verdict::Approve, t0(), digest(0xaa))];
    let facts = guard_facts(&r, &default_policies(), &decisions, t0());
    let err = next_state(&r, &Transition::Schedule, &facts).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot schedule: 1 of 2 required approvals; missing: change-manager"
    );
    assert_eq!(err.code(), "approval_quorum");
}

#[test]
fn one_person_with_two_roles_fills_one_slot() {
    let r = record(ChangeState::Authorise);
    let ps = people();
    let kim = decision(1, &ps[6], Verdict::Approve, t0(), digest(0xaa));
    let a = evaluate(
        &r,
        &slug("production"),
        &production_policy(),
        std::slice::from_ref(&kim),
        t0(),
    );
    assert_eq!((a.approved, a.satisfied), (1, false));
    // With Alex (service owner) as well, Kim is moved to the change-manager slot.
    let alex = decision(2, &ps[3], Verdict::Approve, t0(), digest(0xaa));
    let a = evaluate(
        &r,
        &slug("production"),
        &production_policy(),
        &[kim, alex],
        t0(),
    );
    assert!(a.satisfied, "{}", a.summary());
}

#[test]
fn self_approval_is_refused_and_never_counts() {
    let r = record(ChangeState::Authorise);
    let ps = people();
    let policy = production_policy();
    let policies = [&policy];
    for party in [&ps[0], &ps[2]] {
        let err = check_decision(&r, &policies, party, Verdict::Approve, "", t0()).unwrap_err();
        assert_eq!(err.code(), "separation_of_duties");
        assert!(err.to_string().contains("separation of duties"), "{err}");
    }
    // Even if one got into the store, it would not count.
    let sneaked = decision(1, &ps[0], Verdict::Approve, t0(), digest(0xaa));
    let a = evaluate(&r, &slug("production"), &policy, &[sneaked], t0());
    assert_eq!(a.approved, 0);
    assert_eq!(a.decisions[0].discount, Some(Discount::SelfApproval));
}

#[test]
fn someone_without_the_role_is_refused_naming_the_rule() {
    let r = record(ChangeState::Authorise);
    let ps = people();
    let policy = production_policy();
    let err = check_decision(&r, &[&policy], &ps[4], Verdict::Approve, "", t0()).unwrap_err();
    assert_eq!(err.code(), "approver_role");
    assert_eq!(
        err.to_string(),
        "you cannot decide on CHG-0001: its policy asks for change-manager; service-owner, and you hold no roles"
    );
}

#[test]
fn a_rejection_needs_a_reason_and_blocks_until_the_person_decides_again() {
    let r = record(ChangeState::Authorise);
    let ps = people();
    let policy = production_policy();
    let err = check_decision(&r, &[&policy], &ps[1], Verdict::Reject, "  ", t0()).unwrap_err();
    assert_eq!(err.code(), "reason_required");
    let reject = decision(1, &ps[1], Verdict::Reject, t0(), digest(0xaa));
    let alex = decision(2, &ps[3], Verdict::Approve, t0(), digest(0xaa));
    let a = evaluate(
        &r,
        &slug("production"),
        &policy,
        &[reject.clone(), alex.clone()],
        t0(),
    );
    assert_eq!(a.rejected_by, ["Sam"]);
    assert!(!a.satisfied);
    let changed_mind = decision(
        3,
        &ps[1],
        Verdict::Approve,
        t0() + Duration::minutes(5),
        digest(0xaa),
    );
    let a = evaluate(
        &r,
        &slug("production"),
        &policy,
        &[reject, alex, changed_mind],
        t0(),
    );
    assert!(a.satisfied, "{}", a.summary());
    assert_eq!(a.decisions[0].discount, Some(Discount::Superseded));
}

#[test]
fn a_new_digest_voids_earlier_decisions_and_says_why() {
    let mut r = record(ChangeState::Scheduled);
    let ps = people();
    let decisions = vec![
        decision(1, &ps[1], Verdict::Approve, t0(), digest(0xaa)),
        decision(2, &ps[3], Verdict::Approve, t0(), digest(0xaa)),
    ];
    let facts = guard_facts(&r, &default_policies(), &decisions, t0());
    assert!(settle(&r, &facts).is_none());
    r.artefact.digest = digest(0xbb);
    let facts = guard_facts(&r, &default_policies(), &decisions, t0());
    let (state, why) = settle(&r, &facts).unwrap();
    assert_eq!(state, ChangeState::Authorise);
    assert!(why.contains("0 of 2"), "{why}");
    assert_eq!(
        facts.approvals[0].decisions[0].discount,
        Some(Discount::DigestChanged { was: digest(0xaa) })
    );
}

#[test]
fn an_old_approval_expires_without_becoming_a_rejection() {
    let r = record(ChangeState::Authorise);
    let ps = people();
    let policy = production_policy();
    let approvals = vec![
        decision(1, &ps[1], Verdict::Approve, t0(), digest(0xaa)),
        decision(2, &ps[3], Verdict::Approve, t0(), digest(0xaa)),
    ];
    let later = t0() + Duration::hours(73);
    let a = evaluate(&r, &slug("production"), &policy, &approvals, later);
    assert!(!a.satisfied);
    assert!(a.rejected_by.is_empty());
    assert!(matches!(
        a.decisions[0].discount,
        Some(Discount::Expired { .. })
    ));
}

#[test]
fn an_expired_request_escalates_or_closes_as_expired() {
    // The fixture requested approval on 1 June 09:00; production escalates after 48 h.
    let r = record(ChangeState::Authorise);
    let ps = people();
    let policy = production_policy();
    let late = Utc.with_ymd_and_hms(2026, 6, 3, 10, 0, 0).unwrap();
    let a = evaluate(&r, &slug("production"), &policy, &[], late);
    assert!(matches!(a.request, RequestStatus::Escalated { .. }));
    // The head of service may now approve in place of a missing approver.
    check_decision(&r, &[&policy], &ps[5], Verdict::Approve, "", late).unwrap();
    let morgan = decision(1, &ps[5], Verdict::Approve, late, digest(0xaa));
    let alex = decision(2, &ps[3], Verdict::Approve, late, digest(0xaa));
    assert!(evaluate(&r, &slug("production"), &policy, &[morgan, alex], late).satisfied);

    let mut reject_policy = policy.clone();
    reject_policy.on_expiry = ExpiryAction::Reject;
    let a = evaluate(&r, &slug("production"), &reject_policy, &[], late);
    assert!(matches!(a.request, RequestStatus::Expired { .. }));
    assert!(a.rejected_by.is_empty(), "expiry is nobody's rejection");
    assert!(
        a.summary().contains("submit it for authorisation again"),
        "{}",
        a.summary()
    );
}

#[test]
fn guards_explain_missing_plans_and_wrong_states() {
    let mut r = record(ChangeState::New);
    r.backout_plan.clear();
    r.test_plan.clear();
    let err = next_state(&r, &Transition::Submit, &GuardFacts::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot submit: add backout plan, test plan"
    );
    r.rollback_possible = false;
    r.test_plan = "smoke".into();
    let err = next_state(&r, &Transition::Submit, &GuardFacts::default()).unwrap_err();
    assert!(err.to_string().contains("justification"), "{err}");
    let r = record(ChangeState::Assess);
    let err = next_state(&r, &Transition::Start, &GuardFacts::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot start: CHG-0001 is in assess, and this step needs it to be in scheduled"
    );
}

#[test]
fn emergency_changes_schedule_before_approval_and_cannot_close_without_it() {
    let mut r = record(ChangeState::Authorise);
    r.kind = ChangeType::Emergency;
    let facts = guard_facts(&r, &default_policies(), &[], t0());
    assert_eq!(
        next_state(&r, &Transition::Schedule, &facts).unwrap(),
        ChangeState::Scheduled
    );
    r.state = ChangeState::Review;
    let close = Transition::Close {
        outcome: CloseOutcome::Successful,
        note: "fixed".into(),
    };
    let err = next_state(&r, &close, &guard_facts(&r, &default_policies(), &[], t0())).unwrap_err();
    assert_eq!(err.code(), "retrospective_approval");
    let sam = decision(1, &people()[1], Verdict::Approve, t0(), digest(0xaa));
    let facts = guard_facts(&r, &default_policies(), &[sam], t0());
    assert_eq!(next_state(&r, &close, &facts).unwrap(), ChangeState::Closed);
}

#[test]
fn a_standard_change_must_be_routine_to_skip_approval() {
    let mut r = record(ChangeState::New);
    r.kind = ChangeType::Standard;
    r.template = Some("dependency-update".into());
    let facts = guard_facts(&r, &default_policies(), &[], t0());
    assert_eq!(
        next_state(&r, &Transition::Schedule, &facts).unwrap(),
        ChangeState::Scheduled
    );
    r.rollback_possible = false;
    r.no_rollback_justification = Some("one-way".into());
    r.schema_migration = true;
    let err = next_state(&r, &Transition::Schedule, &facts).unwrap_err();
    assert_eq!(err.code(), "standard_change");
    assert!(
        err.to_string()
            .contains("cannot be rolled back; it ships a schema migration"),
        "{err}"
    );
    // Without a policy allowing standard changes there, it is not pre-approved.
    r.rollback_possible = true;
    r.schema_migration = false;
    let only_normal: Vec<ApprovalPolicy> = default_policies()
        .into_iter()
        .filter(|p| p.kind != ChangeType::Standard)
        .collect();
    let facts = guard_facts(&r, &only_normal, &[], t0());
    assert!(next_state(&r, &Transition::Schedule, &facts)
        .unwrap_err()
        .to_string()
        .contains("no policy allows standard changes"));
}

#[test]
fn a_rejected_emergency_change_cannot_go_ahead_before_approval() {
    let mut r = record(ChangeState::Authorise);
    r.kind = ChangeType::Emergency;
    let no = decision(1, &people()[1], Verdict::Reject, t0(), digest(0xaa));
    let facts = guard_facts(&r, &default_policies(), &[no], t0());
    assert_eq!(
        next_state(&r, &Transition::Schedule, &facts)
            .unwrap_err()
            .code(),
        "approval_quorum"
    );
    r.state = ChangeState::Scheduled;
    assert_eq!(
        settle(&r, &facts).map(|(s, _)| s),
        Some(ChangeState::Authorise)
    );
}

#[test]
fn latest_decision_is_the_last_recorded_even_if_the_clock_stepped_back() {
    let r = record(ChangeState::Authorise);
    let sam = &people()[1];
    let approve = decision(1, sam, Verdict::Approve, t0(), digest(0xaa));
    let undo = decision(
        2,
        sam,
        Verdict::Reject,
        t0() - Duration::minutes(3),
        digest(0xaa),
    );
    let a = evaluate(
        &r,
        &slug("uat"),
        &default_policies()[0],
        &[approve, undo],
        t0(),
    );
    assert_eq!(a.rejected_by, ["Sam"]);
}

// ---- properties -------------------------------------------------------------

#[derive(Debug, Clone)]
enum Step {
    Decide { who: usize, approve: bool },
    NewDigest(u8),
    Move(usize),
    Wait(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..7usize, any::<bool>()).prop_map(|(who, approve)| Step::Decide { who, approve }),
        1 => (0xa0u8..0xa4).prop_map(Step::NewDigest),
        3 => (0..8usize).prop_map(Step::Move),
        1 => (1u8..60).prop_map(Step::Wait),
    ]
}

fn transitions() -> Vec<Transition> {
    vec![
        Transition::Submit,
        Transition::RequestApproval,
        Transition::Schedule,
        Transition::Rework,
        Transition::Start,
        Transition::Complete,
        Transition::Close {
            outcome: CloseOutcome::Successful,
            note: "done".into(),
        },
        Transition::Cancel {
            reason: "not needed".into(),
        },
    ]
}

/// Applies steps the way the store does: decide → settle, edit → settle,
/// transition → guard. Checks the invariants after every step.
fn run(kind: ChangeType, envs: &[&str], steps: &[Step], policies: &[ApprovalPolicy]) {
    let ps = people();
    let mut r = record(ChangeState::New);
    r.kind = kind;
    r.approval_requested_at = None;
    r.environments = envs.iter().map(|e| slug(e)).collect();
    let mut decisions: Vec<Decision> = Vec::new();
    let mut now = t0();
    let mut next_id = 1;
    for step in steps {
        let before = r.state;
        match step {
            Step::Decide { who, approve } => {
                let p = &ps[*who];
                let verdict = if *approve {
                    Verdict::Approve
                } else {
                    Verdict::Reject
                };
                let applicable: Vec<&ApprovalPolicy> = r
                    .environments
                    .iter()
                    .filter_map(|e| policy_for(policies, e, r.kind))
                    .collect();
                let ok = check_decision(&r, &applicable, p, verdict, "because", now).is_ok();
                if r.is_party(p.id) {
                    assert!(!ok, "a party's decision was accepted");
                }
                if ok {
                    decisions.push(decision(
                        next_id,
                        p,
                        verdict,
                        now,
                        r.artefact.digest.clone(),
                    ));
                    next_id += 1;
                    let facts = guard_facts(&r, policies, &decisions, now);
                    if let Some((s, _)) = settle(&r, &facts) {
                        r.state = s;
                    }
                }
            }
            Step::NewDigest(b) => {
                if r.state.is_editable() {
                    r.artefact.digest = digest(*b);
                    let facts = guard_facts(&r, policies, &decisions, now);
                    // A digest change always voids every earlier decision.
                    for a in &facts.approvals {
                        for w in &a.decisions {
                            if w.decision.digest != r.artefact.digest {
                                assert!(
                                    w.discount.is_some(),
                                    "a decision on another digest counted"
                                );
                            }
                        }
                    }
                    if let Some((s, _)) = settle(&r, &facts) {
                        r.state = s;
                    }
                }
            }
            Step::Move(i) => {
                let t = &transitions()[*i];
                let facts = guard_facts(&r, policies, &decisions, now);
                if let Ok(s) = next_state(&r, t, &facts) {
                    if *t == Transition::RequestApproval {
                        r.approval_requested_at = Some(now);
                    }
                    r.state = s;
                }
            }
            Step::Wait(h) => now += Duration::hours(i64::from(*h)),
        }
        let facts = guard_facts(&r, policies, &decisions, now);
        for a in &facts.approvals {
            for w in &a.decisions {
                if r.is_party(w.decision.by) {
                    assert!(w.counted_for.is_none(), "a self-approval counted");
                }
                if w.counted_for.is_some() {
                    assert_eq!(w.decision.digest, r.artefact.digest);
                    assert_eq!(w.decision.verdict, Verdict::Approve);
                }
            }
            // Expiry is never a person's rejection: everyone named as rejecting
            // made a reject decision that still stands.
            for name in &a.rejected_by {
                assert!(a.decisions.iter().any(|w| &w.decision.by_name == name
                    && w.decision.verdict == Verdict::Reject
                    && w.discount.is_none()));
            }
        }
        let entered_scheduled =
            r.state == ChangeState::Scheduled && before != ChangeState::Scheduled;
        if entered_scheduled && kind == ChangeType::Normal {
            assert!(
                facts
                    .approvals
                    .iter()
                    .all(|a| a.satisfied && a.approved == a.required),
                "scheduled without the quorum: {}",
                facts
                    .approvals
                    .iter()
                    .map(EnvironmentApproval::summary)
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        if r.state == ChangeState::Implement
            && before == ChangeState::Scheduled
            && kind == ChangeType::Normal
        {
            assert!(
                facts.approvals.iter().all(|a| a.satisfied),
                "started without the quorum"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn normal_changes_never_schedule_without_quorum(steps in prop::collection::vec(step(), 1..60)) {
        run(ChangeType::Normal, &["production"], &steps, &default_policies());
        run(ChangeType::Normal, &["uat", "production"], &steps, &default_policies());
    }

    #[test]
    fn rules_hold_with_expiry_set_to_reject(steps in prop::collection::vec(step(), 1..60)) {
        let mut policies = default_policies();
        for p in &mut policies {
            p.on_expiry = ExpiryAction::Reject;
            p.request_expiry_hours = Some(24);
            p.approval_valid_hours = Some(30);
        }
        run(ChangeType::Normal, &["production"], &steps, &policies);
    }

    #[test]
    fn emergency_changes_follow_the_same_rules_on_decisions(steps in prop::collection::vec(step(), 1..60)) {
        run(ChangeType::Emergency, &["production"], &steps, &default_policies());
    }
}

mod provider_approvals {
    use super::*;
    use crate::{check_provider_decision, evaluate_provider_approval, ProfileId};

    fn digest(c: char) -> Digest {
        Digest::parse(&c.to_string().repeat(64)).unwrap()
    }

    fn prod_policy() -> ApprovalPolicy {
        crate::default_policies()
            .into_iter()
            .find(|p| p.kind == ChangeType::Normal && p.environment.is_some())
            .unwrap()
    }

    fn vote(id: i64, by: i64, role: &str, verdict: Verdict, d: char) -> Decision {
        Decision {
            id,
            by: ProfileId(by),
            by_name: format!("p{by}"),
            roles: vec![Slug::parse(role).unwrap()],
            verdict,
            comment: String::new(),
            at: Utc::now(),
            digest: digest(d),
        }
    }

    #[test]
    fn the_quorum_counts_distinct_eligible_people_who_are_not_parties() {
        let env = Slug::parse("production").unwrap();
        let policy = prod_policy();
        let now = Utc::now();
        let both = [
            vote(1, 1, "change-manager", Verdict::Approve, 'a'),
            vote(2, 2, "service-owner", Verdict::Approve, 'a'),
        ];
        let s = evaluate_provider_approval(&env, &policy, &both, &[], &digest('a'), now);
        assert!(s.satisfied, "{}", s.summary());
        // The person who started the deployment does not count.
        let s =
            evaluate_provider_approval(&env, &policy, &both, &[ProfileId(2)], &digest('a'), now);
        assert!(!s.satisfied);
        assert_eq!(s.approved, 1);
        // Decisions given for another run (another subject) do not count.
        let s = evaluate_provider_approval(&env, &policy, &both, &[], &digest('b'), now);
        assert_eq!(s.approved, 0);
        // A rejection blocks whatever else was approved.
        let mut with_no = both.to_vec();
        with_no.push(vote(3, 3, "change-manager", Verdict::Reject, 'a'));
        let s = evaluate_provider_approval(&env, &policy, &with_no, &[], &digest('a'), now);
        assert!(!s.satisfied);
        assert_eq!(s.rejected_by, vec!["p3".to_owned()]);
    }

    #[test]
    fn a_party_an_ineligible_role_and_a_bare_rejection_are_refused() {
        let env = Slug::parse("production").unwrap();
        let policy = prod_policy();
        let person = |id: i64, role: &str| Profile {
            id: ProfileId(id),
            name: format!("p{id}"),
            email: format!("p{id}@example.org"),
            roles: vec![Slug::parse(role).unwrap()],
        };
        let cm = person(1, "change-manager");
        let err =
            check_provider_decision(&env, &policy, &[ProfileId(1)], &cm, Verdict::Approve, "")
                .unwrap_err();
        assert!(err.to_string().contains("separation of duties"), "{err}");
        let err =
            check_provider_decision(&env, &policy, &[], &cm, Verdict::Reject, " ").unwrap_err();
        assert!(err.to_string().contains("reason"), "{err}");
        let dev = person(2, "developer");
        assert!(check_provider_decision(&env, &policy, &[], &dev, Verdict::Approve, "").is_err());
        assert!(check_provider_decision(&env, &policy, &[], &cm, Verdict::Approve, "").is_ok());
    }
}
