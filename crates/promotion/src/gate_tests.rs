//! Tests of every gate: what passes, what fails and what each says.

use chrono::{DateTime, Duration, TimeZone, Utc};
use minisign::KeyPair;
use release_desk_calendar::{Conflict, ConflictKind, FreezeOverride};
use release_desk_changes::{ChangeState, ChangeType};
use release_desk_domain::{Digest, Slug};
use release_desk_provider::signed_statement;

use crate::*;

fn slug(s: &str) -> Slug {
    Slug::parse(s).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
}

struct Signed {
    facts: GateFacts,
}

fn facts() -> Signed {
    let pair = KeyPair::generate_unencrypted_keypair().unwrap();
    let digest = Digest::parse(&"d".repeat(64)).unwrap();
    let statement = signed_statement(&slug("web"), "1.1.0", &digest);
    let signature = minisign::sign(
        Some(&pair.pk),
        &pair.sk,
        std::io::Cursor::new(statement.into_bytes()),
        None,
        None,
    )
    .unwrap()
    .to_string();
    Signed {
        facts: GateFacts {
            kind: PromotionKind::Promote,
            service: slug("web"),
            environment: slug("uat"),
            version: "1.1.0".into(),
            digest: digest.clone(),
            signature: Some(signature),
            trusted_keys: vec![pair.pk.to_base64()],
            earlier_stages: vec![
                PreviousStageFact {
                    environment: slug("test"),
                    succeeded: Some(true),
                    at: Some(now() - Duration::hours(2)),
                },
                PreviousStageFact {
                    environment: slug("dev"),
                    succeeded: Some(true),
                    at: Some(now() - Duration::hours(3)),
                },
            ],
            change: Some(ChangeFact {
                reference: "CHG-0042".into(),
                kind: ChangeType::Normal,
                state: ChangeState::Scheduled,
                digest,
                approved: true,
                after_the_fact: false,
                approval_summary: "1 of 1 required approvals".into(),
                planned_start: now() - Duration::minutes(30),
                planned_end: now() + Duration::hours(2),
                skip_stages: vec![],
            }),
            calendar: CalendarFact { conflicts: vec![] },
            lock: None,
            now: now(),
        },
    }
}

fn verdict(f: &GateFacts, gate: GateKind) -> (GateVerdict, String) {
    let r = evaluate_gates(f)
        .into_iter()
        .find(|r| r.gate == gate)
        .unwrap();
    (r.verdict, r.reason)
}

#[test]
fn everything_in_order_passes_every_gate_in_a_fixed_order() {
    let f = facts().facts;
    let results = evaluate_gates(&f);
    let order: Vec<GateKind> = results.iter().map(|r| r.gate).collect();
    assert_eq!(order, GateKind::ALL.to_vec());
    assert!(
        results.iter().all(|r| r.verdict == GateVerdict::Pass),
        "{results:#?}"
    );
    assert!(gates_pass(&results));
    assert!(
        results[1].reason.starts_with("signed by trusted key "),
        "{}",
        results[1].reason
    );
}

#[test]
fn the_previous_stage_must_have_succeeded_with_this_digest() {
    let mut f = facts().facts;
    f.earlier_stages[0].succeeded = None;
    let (v, why) = verdict(&f, GateKind::PreviousStage);
    assert_eq!(v, GateVerdict::Fail);
    assert!(
        why.contains("has not been deployed to test: promote it there first"),
        "{why}"
    );
    f.earlier_stages[0].succeeded = Some(false);
    let (v, why) = verdict(&f, GateKind::PreviousStage);
    assert_eq!(v, GateVerdict::Fail);
    assert!(why.contains("failed in test"), "{why}");
    assert!(!gates_pass(&evaluate_gates(&f)));
    f.earlier_stages.clear();
    let (v, why) = verdict(&f, GateKind::PreviousStage);
    assert_eq!(v, GateVerdict::Pass);
    assert!(why.contains("first stage"), "{why}");
}

#[test]
fn an_emergency_change_skips_exactly_the_stages_its_policy_names() {
    let mut f = facts().facts;
    f.earlier_stages[0].succeeded = None; // test never ran
    let change = f.change.as_mut().unwrap();
    change.kind = ChangeType::Emergency;
    change.skip_stages = vec![slug("test")];
    let (v, why) = verdict(&f, GateKind::PreviousStage);
    assert_eq!(v, GateVerdict::Pass, "{why}");
    assert!(
        why.contains("succeeded in dev")
            && why.contains("skipped test (emergency change CHG-0042)"),
        "{why}"
    );
    // dev is not on the list: it still has to have passed.
    f.earlier_stages[1].succeeded = None;
    assert_eq!(verdict(&f, GateKind::PreviousStage).0, GateVerdict::Fail);
    // A normal change skips nothing.
    let mut f = facts().facts;
    f.earlier_stages[0].succeeded = None;
    f.change.as_mut().unwrap().skip_stages = vec![slug("test")];
    assert_eq!(verdict(&f, GateKind::PreviousStage).0, GateVerdict::Fail);
}

#[test]
fn a_bad_or_missing_signature_fails_and_says_what_to_do() {
    let mut f = facts().facts;
    f.version = "1.1.1".into(); // the signature names 1.1.0
    let (v, why) = verdict(&f, GateKind::Signature);
    assert_eq!(v, GateVerdict::Fail);
    assert!(why.contains("does not verify"), "{why}");
    let mut f = facts().facts;
    f.trusted_keys = vec![KeyPair::generate_unencrypted_keypair()
        .unwrap()
        .pk
        .to_base64()];
    assert_eq!(verdict(&f, GateKind::Signature).0, GateVerdict::Fail);
    f.signature = None;
    assert!(verdict(&f, GateKind::Signature)
        .1
        .contains("has no signature"));
}

#[test]
fn approval_needs_a_scheduled_change_for_this_artefact() {
    let mut f = facts().facts;
    f.change = None;
    let (v, why) = verdict(&f, GateKind::Approval);
    assert_eq!(v, GateVerdict::Fail);
    assert!(
        why.contains("no open change record covers web 1.1.0 in uat"),
        "{why}"
    );

    let mut f = facts().facts;
    f.change.as_mut().unwrap().state = ChangeState::Authorise;
    f.change.as_mut().unwrap().approval_summary =
        "0 of 1 required approvals; missing: change-manager".into();
    let (v, why) = verdict(&f, GateKind::Approval);
    assert_eq!(v, GateVerdict::Fail);
    assert!(
        why.contains("Authorise") && why.contains("missing: change-manager"),
        "{why}"
    );

    let mut f = facts().facts;
    f.change.as_mut().unwrap().digest = Digest::parse(&"e".repeat(64)).unwrap();
    assert!(verdict(&f, GateKind::Approval)
        .1
        .contains("approved for another artefact"));

    let mut f = facts().facts;
    let c = f.change.as_mut().unwrap();
    c.approved = false;
    c.kind = ChangeType::Emergency;
    c.after_the_fact = true;
    let (v, why) = verdict(&f, GateKind::Approval);
    assert_eq!(v, GateVerdict::Pass, "{why}");
    assert!(why.contains("approval follows in review"));
}

fn freeze(overridden: bool) -> Conflict {
    Conflict {
        kind: ConflictKind::InFreeze,
        reason: "Inside the freeze 'Month end' (Mon 30 Nov 08:00 UTC – 18:00 UTC)".into(),
        with: "Month end".into(),
        rule_id: Some(3),
        overridden: overridden.then(|| FreezeOverride {
            rule_id: 3,
            occurrence_start: now(),
            by: "Dan".into(),
            reason: "fix for the payments outage".into(),
            at: now() - Duration::minutes(5),
        }),
    }
}

#[test]
fn a_freeze_blocks_unless_overridden_and_a_rollback_is_never_blocked() {
    let mut f = facts().facts;
    f.calendar.conflicts = vec![freeze(false)];
    let (v, why) = verdict(&f, GateKind::ReleaseWindow);
    assert_eq!(v, GateVerdict::Fail);
    assert!(
        why.contains("Month end") && why.contains("ask a change manager to override"),
        "{why}"
    );
    f.calendar.conflicts = vec![freeze(true)];
    let (v, why) = verdict(&f, GateKind::ReleaseWindow);
    assert_eq!(v, GateVerdict::Pass);
    assert!(
        why.contains("overridden by Dan") && why.contains("payments outage"),
        "{why}"
    );
    f.calendar.conflicts = vec![Conflict {
        kind: ConflictKind::OutsideWindows,
        reason: "Outside every release window for uat; the next opens Tue 24 Nov 09:00 GMT".into(),
        with: String::new(),
        rule_id: None,
        overridden: None,
    }];
    assert_eq!(verdict(&f, GateKind::ReleaseWindow).0, GateVerdict::Fail);
    f.kind = PromotionKind::Rollback;
    f.calendar.conflicts = vec![freeze(false)];
    assert_eq!(verdict(&f, GateKind::ReleaseWindow).0, GateVerdict::Skipped);
}

#[test]
fn a_held_environment_names_who_holds_it() {
    let mut f = facts().facts;
    f.lock = Some(LockFact {
        promotion: 12,
        service: slug("api"),
        version: "2.0.0".into(),
        by: "Sam".into(),
        since: now() - Duration::minutes(3),
    });
    let (v, why) = verdict(&f, GateKind::EnvironmentLock);
    assert_eq!(v, GateVerdict::Fail);
    assert!(why.contains("promotion #12 (api 2.0.0, by Sam"), "{why}");
}

#[test]
fn the_planned_window_must_be_now() {
    let mut f = facts().facts;
    f.now = now() + Duration::hours(3);
    let (v, why) = verdict(&f, GateKind::PlannedWindow);
    assert_eq!(v, GateVerdict::Fail);
    assert!(
        why.contains("planned window ended") && why.contains("reschedule"),
        "{why}"
    );
    f.now = now() - Duration::hours(1);
    assert!(verdict(&f, GateKind::PlannedWindow)
        .1
        .contains("is planned to start on"));
}

#[test]
fn rollbacks_and_drills_skip_the_change_gates_but_not_the_signature_or_lock() {
    for kind in [PromotionKind::Rollback, PromotionKind::Drill] {
        let mut f = facts().facts;
        f.kind = kind;
        f.change = None;
        f.earlier_stages[0].succeeded = None;
        let results = evaluate_gates(&f);
        for r in &results {
            let expected = match r.gate {
                GateKind::Signature | GateKind::EnvironmentLock => GateVerdict::Pass,
                GateKind::ReleaseWindow if kind == PromotionKind::Drill => GateVerdict::Pass,
                _ => GateVerdict::Skipped,
            };
            assert_eq!(r.verdict, expected, "{kind:?} {:?}: {}", r.gate, r.reason);
        }
        f.signature = None;
        assert!(!gates_pass(&evaluate_gates(&f)), "{kind:?} ran unsigned");
    }
}

mod properties {
    use super::*;
    use proptest::prelude::{
        any, prop_assert, prop_assert_eq, prop_oneof, proptest, Just, ProptestConfig,
    };
    use proptest::strategy::Strategy as PropStrategy;

    fn kind() -> impl PropStrategy<Value = PromotionKind> {
        prop_oneof![
            Just(PromotionKind::Promote),
            Just(PromotionKind::Rollback),
            Just(PromotionKind::Drill)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Whatever the facts: every gate is judged once, in order, with a
        /// reason; the promotion may start exactly when none fails; a lock
        /// held by another always stops it; a bad signature always stops it;
        /// and a freeze never stops a rollback.
        #[test]
        fn gates_are_total_and_their_rules_hold(
            kind in kind(),
            earlier in proptest::collection::vec(proptest::option::of(any::<bool>()), 0..4),
            has_change in any::<bool>(),
            approved in any::<bool>(),
            emergency in any::<bool>(),
            locked in any::<bool>(),
            frozen in any::<bool>(),
            overridden in any::<bool>(),
            signed in any::<bool>(),
            offset_minutes in -300i64..300,
        ) {
            let mut f = facts().facts;
            f.kind = kind;
            f.earlier_stages = earlier
                .iter()
                .enumerate()
                .map(|(i, s)| PreviousStageFact { environment: slug(&format!("stage-{i}")), succeeded: *s, at: None })
                .collect();
            if has_change {
                let c = f.change.as_mut().unwrap();
                c.approved = approved;
                if emergency {
                    c.kind = ChangeType::Emergency;
                    c.after_the_fact = true;
                    c.skip_stages = vec![slug("stage-0")];
                }
            } else {
                f.change = None;
            }
            if locked {
                f.lock = Some(LockFact { promotion: 9, service: slug("api"), version: "1".into(), by: "Sam".into(), since: now() });
            }
            if frozen {
                f.calendar.conflicts = vec![freeze(overridden)];
            }
            if !signed {
                f.signature = None;
            }
            f.now = now() + Duration::minutes(offset_minutes);

            let results = evaluate_gates(&f);
            prop_assert_eq!(results.iter().map(|r| r.gate).collect::<Vec<_>>(), GateKind::ALL.to_vec());
            prop_assert!(results.iter().all(|r| !r.reason.trim().is_empty()));
            let fails = results.iter().any(|r| r.verdict == GateVerdict::Fail);
            prop_assert_eq!(gates_pass(&results), !fails);
            if locked || !signed {
                prop_assert!(!gates_pass(&results));
            }
            let window = results.iter().find(|r| r.gate == GateKind::ReleaseWindow).unwrap();
            if kind == PromotionKind::Rollback {
                prop_assert_eq!(window.verdict, GateVerdict::Skipped);
            } else if frozen && !overridden {
                prop_assert_eq!(window.verdict, GateVerdict::Fail);
            }
            if kind == PromotionKind::Promote && !has_change {
                prop_assert!(!gates_pass(&results), "a promotion without a change started");
            }
        }
    }
}
