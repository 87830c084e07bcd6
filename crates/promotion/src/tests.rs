//! Tests of planning, the state machine (with property tests over random
//! outcomes and crashes) and every gate.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::{
    prop_assert, prop_assert_eq, prop_oneof, proptest, Just, ProptestConfig,
    Strategy as PropStrategy,
};
use release_desk_domain::{Digest, Leg, Slug};
use release_desk_provider::StepReport;

use crate::*;

fn slug(s: &str) -> Slug {
    Slug::parse(s).unwrap()
}

fn digest(c: char) -> Digest {
    Digest::parse(&c.to_string().repeat(64)).unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
}

fn release(v: &str, d: char, leg: Option<Leg>) -> Release {
    Release {
        version: v.into(),
        digest: digest(d),
        leg,
    }
}

fn request(kind: PromotionKind, strategy: Strategy) -> PlanRequest {
    PlanRequest {
        id: 7,
        kind,
        strategy,
        service: slug("web"),
        environment: slug("test"),
        release: release("1.1.0", 'b', None),
        current: Some(release("1.0.0", 'a', Some(Leg::Blue))),
        ready_leg: None,
        soak_secs: 30,
        requested_by: "Priya".into(),
        at: t0(),
        production: false,
        key_scope: "5eed".into(),
    }
}

fn shape(p: &Promotion) -> Vec<(StepKind, Option<Leg>)> {
    p.steps.iter().map(|s| (s.kind, s.leg)).collect()
}

fn report(summary: &str) -> StepReport {
    StepReport {
        summary: summary.into(),
        log: vec![],
        replayed: false,
    }
}

#[test]
fn blue_green_deploys_to_the_idle_leg_and_switches_to_it() {
    use StepKind::*;
    let p = plan(request(PromotionKind::Promote, Strategy::BlueGreen)).unwrap();
    let g = Some(Leg::Green);
    assert_eq!(
        shape(&p),
        vec![(Deploy, g), (Smoke, g), (Switch, g), (Soak, g)]
    );
    assert_eq!(p.previous.as_ref().unwrap().leg, Some(Leg::Blue));

    let mut first = request(PromotionKind::Promote, Strategy::BlueGreen);
    first.current = None;
    assert_eq!(plan(first).unwrap().steps[0].leg, Some(Leg::Blue));
}

#[test]
fn a_rolling_target_takes_its_first_release_like_blue_green_then_updates_in_place() {
    use StepKind::*;
    let mut r = request(PromotionKind::Promote, Strategy::Rolling);
    assert_eq!(
        shape(&plan(r.clone()).unwrap()),
        vec![(RollingUpdate, None), (Soak, None)]
    );
    r.current = None;
    let b = Some(Leg::Blue);
    assert_eq!(
        shape(&plan(r).unwrap()),
        vec![(Deploy, b), (Smoke, b), (Switch, b), (Soak, b)]
    );
}

#[test]
fn promoting_what_is_already_live_is_refused() {
    let mut r = request(PromotionKind::Promote, Strategy::BlueGreen);
    r.release = release("1.0.0", 'a', None);
    let err = plan(r).unwrap_err();
    assert!(err.to_string().contains("already live in test"), "{err}");
}

#[test]
fn a_rollback_switches_to_a_ready_leg_or_redeploys_when_none_is() {
    use StepKind::*;
    let mut r = request(PromotionKind::Rollback, Strategy::BlueGreen);
    r.release = release("0.9.0", 'c', Some(Leg::Green));
    r.ready_leg = Some(Leg::Green);
    let g = Some(Leg::Green);
    assert_eq!(
        shape(&plan(r.clone()).unwrap()),
        vec![(Smoke, g), (Switch, g), (Soak, g)]
    );
    r.ready_leg = None;
    assert_eq!(
        shape(&plan(r.clone()).unwrap()),
        vec![(Deploy, g), (Smoke, g), (Switch, g), (Soak, g)]
    );
    r.current = None;
    assert!(plan(r).is_err(), "a rollback with nothing live was planned");
}

#[test]
fn a_drill_goes_to_the_previous_release_and_comes_back_but_never_in_production() {
    use StepKind::*;
    let mut r = request(PromotionKind::Drill, Strategy::BlueGreen);
    assert!(plan(r.clone())
        .unwrap_err()
        .to_string()
        .contains("promote twice first"));
    r.ready_leg = Some(Leg::Green);
    let (b, g) = (Some(Leg::Blue), Some(Leg::Green));
    assert_eq!(
        shape(&plan(r.clone()).unwrap()),
        vec![(Smoke, g), (Switch, g), (Soak, g), (Smoke, b), (Switch, b)]
    );
    r.production = true;
    assert!(plan(r).unwrap_err().to_string().contains("non-production"));
}

#[test]
fn a_smoke_failure_never_moves_traffic_and_a_soak_failure_switches_back() {
    let mut p = plan(request(PromotionKind::Promote, Strategy::BlueGreen)).unwrap();
    let at = t0();
    for (i, ok) in [(0, true), (1, false)] {
        p.apply(&PromotionEvent::StepBegan { step: i, at }).unwrap();
        let e = if ok {
            PromotionEvent::StepSucceeded {
                step: i,
                at,
                report: report("ok"),
            }
        } else {
            PromotionEvent::StepFailed {
                step: i,
                at,
                reason: "GET /healthz → 500".into(),
                retryable: false,
            }
        };
        p.apply(&e).unwrap();
    }
    assert_eq!(p.phase, Phase::Failed);
    assert_eq!(
        p.steps.len(),
        4,
        "a switch-back was added though traffic never moved"
    );
    assert!(matches!(p.steps[2].state, StepState::Skipped { .. }));
    assert_eq!(p.recorded_live_leg(), Some(Leg::Blue));
    assert!(!p.failure.as_ref().unwrap().switched_back);

    let mut p = plan(request(PromotionKind::Promote, Strategy::BlueGreen)).unwrap();
    for i in 0..3 {
        p.apply(&PromotionEvent::StepBegan { step: i, at }).unwrap();
        p.apply(&PromotionEvent::StepSucceeded {
            step: i,
            at,
            report: report("ok"),
        })
        .unwrap();
    }
    p.apply(&PromotionEvent::StepBegan { step: 3, at }).unwrap();
    p.apply(&PromotionEvent::StepFailed {
        step: 3,
        at,
        reason: "error rate 40%".into(),
        retryable: false,
    })
    .unwrap();
    assert_eq!(p.phase, Phase::SwitchingBack);
    assert_eq!(
        p.next(),
        Next::Run {
            step: 4,
            kind: StepKind::SwitchBack,
            leg: Some(Leg::Blue),
            key: "promotion-7-5eed/4-switch_back/1".into(),
            resumed: false
        }
    );
    p.apply(&PromotionEvent::StepBegan { step: 4, at }).unwrap();
    p.apply(&PromotionEvent::StepSucceeded {
        step: 4,
        at,
        report: report("back"),
    })
    .unwrap();
    assert_eq!(p.phase, Phase::Failed);
    let f = p.failure.clone().unwrap();
    assert!(
        f.switched_back && !f.needs_attention && f.step == StepKind::Soak,
        "{f:?}"
    );
    assert_eq!(p.recorded_live_leg(), Some(Leg::Blue));
}

#[test]
fn a_failed_switch_back_asks_for_a_person() {
    let mut p = plan(request(PromotionKind::Promote, Strategy::BlueGreen)).unwrap();
    let at = t0();
    for i in 0..3 {
        p.apply(&PromotionEvent::StepBegan { step: i, at }).unwrap();
        p.apply(&PromotionEvent::StepSucceeded {
            step: i,
            at,
            report: report("ok"),
        })
        .unwrap();
    }
    p.apply(&PromotionEvent::StepBegan { step: 3, at }).unwrap();
    p.apply(&PromotionEvent::StepFailed {
        step: 3,
        at,
        reason: "soak".into(),
        retryable: false,
    })
    .unwrap();
    for _ in 0..MAX_ATTEMPTS {
        p.apply(&PromotionEvent::StepBegan { step: 4, at }).unwrap();
        p.apply(&PromotionEvent::StepFailed {
            step: 4,
            at,
            reason: "nginx down".into(),
            retryable: true,
        })
        .unwrap();
    }
    assert_eq!(p.phase, Phase::Failed);
    let f = p.failure.unwrap();
    assert!(f.needs_attention && !f.switched_back, "{f:?}");
    assert!(
        f.reason.contains("switching back failed: nginx down"),
        "{}",
        f.reason
    );
}

#[test]
fn events_out_of_order_are_errors_not_ignored() {
    let mut p = plan(request(PromotionKind::Promote, Strategy::BlueGreen)).unwrap();
    let at = t0();
    assert!(p.apply(&PromotionEvent::StepBegan { step: 2, at }).is_err());
    assert!(p
        .apply(&PromotionEvent::StepSucceeded {
            step: 0,
            at,
            report: report("x")
        })
        .is_err());
    p.apply(&PromotionEvent::StepBegan { step: 0, at }).unwrap();
    assert!(
        p.apply(&PromotionEvent::StepBegan { step: 0, at }).is_err(),
        "began twice"
    );
    let sample = SoakSample {
        requests: 1,
        errors: 0,
        p95_ms: None,
        notes: vec![],
        observed_ms: 1_000,
        other_version: 0,
    };
    assert!(p
        .apply(&PromotionEvent::SoakSampled { step: 0, sample })
        .is_err());
}

#[test]
fn the_soak_runs_from_its_first_attempt() {
    let mut p = plan(request(PromotionKind::Promote, Strategy::BlueGreen)).unwrap();
    for i in 0..3 {
        p.apply(&PromotionEvent::StepBegan { step: i, at: t0() })
            .unwrap();
        p.apply(&PromotionEvent::StepSucceeded {
            step: i,
            at: t0(),
            report: report("ok"),
        })
        .unwrap();
    }
    let began = t0() + Duration::seconds(5);
    p.apply(&PromotionEvent::StepBegan { step: 3, at: began })
        .unwrap();
    p.apply(&PromotionEvent::StepFailed {
        step: 3,
        at: began,
        reason: "probe timed out".into(),
        retryable: true,
    })
    .unwrap();
    p.apply(&PromotionEvent::StepBegan {
        step: 3,
        at: began + Duration::seconds(9),
    })
    .unwrap();
    assert_eq!(p.steps[3].first_began, Some(began));
    assert_eq!(p.steps[3].attempts, 2);
    assert_eq!(p.steps[3].retried, vec!["probe timed out".to_owned()]);
}

// ---- property tests ----------------------------------------------------------

/// What the target does with each attempt.
#[derive(Debug, Clone, Copy)]
enum Fate {
    Succeed,
    Fail,
    FailRetryable,
    /// The app dies after writing `StepBegan`, before the outcome.
    Crash,
}

fn fate() -> impl PropStrategy<Value = Fate> {
    prop_oneof![
        6 => Just(Fate::Succeed),
        1 => Just(Fate::Fail),
        1 => Just(Fate::FailRetryable),
        1 => Just(Fate::Crash),
    ]
}

fn any_request() -> impl PropStrategy<Value = PlanRequest> {
    (
        prop_oneof![
            Just(PromotionKind::Promote),
            Just(PromotionKind::Rollback),
            Just(PromotionKind::Drill)
        ],
        prop_oneof![Just(Strategy::BlueGreen), Just(Strategy::Rolling)],
        proptest::option::of(prop_oneof![Just(Leg::Blue), Just(Leg::Green)]),
        proptest::option::of(prop_oneof![Just(Leg::Blue), Just(Leg::Green)]),
    )
        .prop_map(|(kind, strategy, live, ready)| {
            let mut r = request(kind, strategy);
            r.current = live.map(|l| release("1.0.0", 'a', Some(l)));
            r.ready_leg = ready;
            r
        })
}

fn replay(start: &Promotion, events: &[PromotionEvent]) -> Promotion {
    let mut p = start.clone();
    for e in events {
        p.apply(e).unwrap();
    }
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Drives a promotion the way the engine does, with random outcomes and
    /// crashes, and checks what must always hold.
    #[test]
    fn every_promotion_ends_and_never_runs_a_step_twice(
        req in any_request(),
        fates in proptest::collection::vec(fate(), 64),
    ) {
        let Ok(start) = plan(req) else { return Ok(()); };
        let mut p = start.clone();
        let mut events: Vec<PromotionEvent> = Vec::new();
        let mut begun_keys: Vec<String> = Vec::new();
        let mut fates = fates.into_iter().chain(std::iter::repeat(Fate::Succeed));
        let at = t0();
        let mut rounds = 0;
        // Traffic as the target would have it.
        let mut live = p.previous.as_ref().and_then(|r| r.leg);
        let mut moved_before_failure = false;
        loop {
            rounds += 1;
            prop_assert!(rounds < 100, "did not end: {:?}", p.phase);
            let Next::Run { step, kind, leg, key, resumed } = p.next() else { break };
            if resumed {
                prop_assert!(begun_keys.contains(&key), "resumed under a new key {key}");
            } else {
                prop_assert!(!begun_keys.contains(&key), "key {key} begun twice");
                begun_keys.push(key.clone());
                let e = PromotionEvent::StepBegan { step, at };
                p.apply(&e).unwrap();
                events.push(e);
            }
            let outcome = match fates.next().unwrap_or(Fate::Succeed) {
                Fate::Crash => {
                    // Reload from what was written: the same state.
                    let reloaded = replay(&start, &events);
                    prop_assert_eq!(&reloaded, &p);
                    continue;
                }
                Fate::Succeed => {
                    if matches!(kind, StepKind::Switch | StepKind::SwitchBack) {
                        live = leg;
                    }
                    PromotionEvent::StepSucceeded { step, at, report: report("ok") }
                }
                Fate::Fail => PromotionEvent::StepFailed { step, at, reason: "no".into(), retryable: false },
                Fate::FailRetryable => PromotionEvent::StepFailed { step, at, reason: "later".into(), retryable: true },
            };
            if matches!(outcome, PromotionEvent::StepFailed { .. }) && p.phase == Phase::Running {
                moved_before_failure = p.steps.iter().any(|s| s.kind.moves_traffic() && s.attempts > 0);
            }
            p.apply(&outcome).unwrap();
            events.push(outcome);
        }
        // Folding the stored events gives the same promotion, also through JSON.
        let folded = replay(&start, &events);
        prop_assert_eq!(&folded, &p);
        let json = serde_json::to_string(&p).unwrap();
        let back: Promotion = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &p);

        prop_assert!(p.phase.is_finished());
        prop_assert!(p.finished_at.is_some());
        let main_ok = p.steps.iter().filter(|s| !s.compensation)
            .all(|s| matches!(s.state, StepState::Succeeded { .. }));
        prop_assert_eq!(p.phase == Phase::Succeeded, main_ok);
        if p.strategy == Strategy::BlueGreen {
            prop_assert_eq!(p.recorded_live_leg(), live);
        }
        if let Some(f) = &p.failure {
            prop_assert_eq!(p.phase, Phase::Failed);
            // A failure before any traffic moved leaves traffic where it was.
            if !moved_before_failure {
                prop_assert_eq!(live, p.previous.as_ref().and_then(|r| r.leg));
                prop_assert!(!p.steps.iter().any(|s| s.compensation));
            }
            // A switched-back promotion ends on the previous leg.
            if f.switched_back && p.strategy == Strategy::BlueGreen {
                prop_assert_eq!(live, p.previous.as_ref().and_then(|r| r.leg));
            }
            // Traffic moved and not restored is always flagged for a person.
            if moved_before_failure && !f.switched_back {
                prop_assert!(f.needs_attention, "{:?}", f);
            }
        }
        // No step ran more than its attempts allow.
        prop_assert!(p.steps.iter().all(|s| s.attempts <= MAX_ATTEMPTS));
    }
}

#[test]
fn action_keys_carry_the_promotions_scope_and_old_plans_keep_their_form() {
    let p = plan(request(PromotionKind::Promote, Strategy::BlueGreen)).unwrap();
    assert_eq!(p.key(0, 1), "promotion-7-5eed/0-deploy/1");
    // A plan stored before scopes existed reads back with none.
    let mut json = serde_json::to_value(&p).unwrap();
    json.as_object_mut().unwrap().remove("keyScope");
    let old: Promotion = serde_json::from_value(json).unwrap();
    assert_eq!(old.key(0, 1), "promotion-7/0-deploy/1");
}

mod pipeline {
    use super::*;
    use release_desk_provider::{RunHandle, RunProgress, RunState};

    fn run(id: &str) -> RunHandle {
        RunHandle {
            id: id.into(),
            link: Some(format!("https://github.example/runs/{id}")),
        }
    }

    fn began(p: &mut Promotion, at: DateTime<Utc>) {
        p.apply(&PromotionEvent::StepBegan { step: 0, at }).unwrap();
    }

    #[test]
    fn a_pipeline_promotion_is_one_step_that_runs_the_provider_pipeline() {
        let p = plan(request(PromotionKind::Promote, Strategy::Pipeline)).unwrap();
        assert_eq!(shape(&p), vec![(StepKind::RunPipeline, None)]);
        let back = plan(request(PromotionKind::Rollback, Strategy::Pipeline)).unwrap();
        assert_eq!(shape(&back), vec![(StepKind::RunPipeline, None)]);
        let drill = plan(request(PromotionKind::Drill, Strategy::Pipeline));
        assert!(drill.is_err(), "a drill needs legs");
        let mut same = request(PromotionKind::Promote, Strategy::Pipeline);
        same.release.digest = digest('a');
        assert!(plan(same).is_err(), "what is live is not promoted again");
    }

    #[test]
    fn every_attempt_of_a_pipeline_step_shares_one_key_so_a_retry_finds_the_run() {
        let mut p = plan(request(PromotionKind::Promote, Strategy::Pipeline)).unwrap();
        let Next::Run { key: first, .. } = p.next() else {
            panic!("nothing to run")
        };
        began(&mut p, t0());
        p.apply(&PromotionEvent::StepFailed {
            step: 0,
            at: t0(),
            reason: "GitHub did not answer".into(),
            retryable: true,
        })
        .unwrap();
        let Next::Run { key: second, .. } = p.next() else {
            panic!("nothing to run")
        };
        assert_eq!(first, second);
        // A blue-green step's retry gets a key of its own.
        let mut bg = plan(request(PromotionKind::Promote, Strategy::BlueGreen)).unwrap();
        let Next::Run { key: a, .. } = bg.next() else {
            panic!()
        };
        bg.apply(&PromotionEvent::StepBegan { step: 0, at: t0() })
            .unwrap();
        bg.apply(&PromotionEvent::StepFailed {
            step: 0,
            at: t0(),
            reason: "x".into(),
            retryable: true,
        })
        .unwrap();
        let Next::Run { key: b, .. } = bg.next() else {
            panic!()
        };
        assert_ne!(a, b);
    }

    #[test]
    fn the_run_handle_survives_a_retry_and_a_second_run_is_refused() {
        let mut p = plan(request(PromotionKind::Promote, Strategy::Pipeline)).unwrap();
        began(&mut p, t0());
        p.apply(&PromotionEvent::RunStarted {
            step: 0,
            at: t0(),
            run: run("41"),
        })
        .unwrap();
        p.apply(&PromotionEvent::RunProgressed {
            step: 0,
            progress: RunProgress {
                state: RunState::Running,
                jobs: vec![],
                link: None,
            },
        })
        .unwrap();
        p.apply(&PromotionEvent::StepFailed {
            step: 0,
            at: t0(),
            reason: "GitHub answered 502".into(),
            retryable: true,
        })
        .unwrap();
        assert_eq!(p.steps[0].run, Some(run("41")), "kept for the retry");
        began(&mut p, t0());
        let err = p.apply(&PromotionEvent::RunStarted {
            step: 0,
            at: t0(),
            run: run("42"),
        });
        assert!(err.is_err(), "one step never starts two runs");
    }

    #[test]
    fn progress_before_a_run_started_is_out_of_order() {
        let mut p = plan(request(PromotionKind::Promote, Strategy::Pipeline)).unwrap();
        began(&mut p, t0());
        let err = p.apply(&PromotionEvent::RunProgressed {
            step: 0,
            progress: RunProgress {
                state: RunState::Queued,
                jobs: vec![],
                link: None,
            },
        });
        assert!(err.is_err());
        let mut bg = plan(request(PromotionKind::Promote, Strategy::BlueGreen)).unwrap();
        began(&mut bg, t0());
        assert!(bg
            .apply(&PromotionEvent::RunStarted {
                step: 0,
                at: t0(),
                run: run("1")
            })
            .is_err());
    }

    #[test]
    fn a_failed_run_fails_the_promotion_and_asks_a_person_to_check() {
        let mut p = plan(request(PromotionKind::Promote, Strategy::Pipeline)).unwrap();
        began(&mut p, t0());
        p.apply(&PromotionEvent::RunStarted {
            step: 0,
            at: t0(),
            run: run("7"),
        })
        .unwrap();
        p.apply(&PromotionEvent::StepFailed {
            step: 0,
            at: t0(),
            reason: "the run failed".into(),
            retryable: false,
        })
        .unwrap();
        assert_eq!(p.phase, Phase::Failed);
        let f = p.failure.unwrap();
        assert!(f.needs_attention && !f.switched_back);
        assert_eq!(p.steps.len(), 1, "the desk starts no deployment of its own");
    }
}
