//! The engine end to end against a real nginx and real processes: blue-green
//! success, a smoke failure that never takes traffic, a soak failure that
//! switches back, a rollback, gates refusing, pressing Promote twice, and a
//! promotion stopped at every step and resumed.

mod common;

use std::time::Duration;

use common::{slug, world};
use release_desk_changes::ChangeState;
use release_desk_domain::Leg;
use release_desk_engine::Engine;
use release_desk_promotion::{Phase, Promotion, PromotionKind, StepKind, StepState};
use release_desk_provider::{DeploymentTarget, TargetRef};

async fn promote(
    engine: &Engine,
    w: &common::World,
    version: &str,
    env: &str,
    key: &str,
) -> Promotion {
    let r = engine
        .request(
            PromotionKind::Promote,
            &slug("demo-web"),
            &slug(env),
            Some(version.into()),
            key,
            &w.priya,
        )
        .await
        .unwrap_or_else(|e| panic!("promoting {version} to {env} was refused: {e}"));
    engine.run(r.promotion.id).await.unwrap()
}

async fn live_version(engine: &Engine, env: &str) -> (Option<Leg>, Option<String>) {
    let status = engine.status(&slug("demo-web"), &slug(env)).await.unwrap();
    let version = status
        .live
        .and_then(|l| status.leg(l))
        .and_then(|l| l.version.clone());
    (status.live, version)
}

/// What the proxy serves, asked over HTTP through nginx.
async fn served(target: &release_desk_local_target::LocalTarget, env: &str) -> String {
    let url = target
        .proxy_url(&TargetRef {
            service: slug("demo-web"),
            environment: slug(env),
        })
        .unwrap();
    let client = reqwest::Client::new();
    let response = client.get(format!("{url}healthz")).send().await.unwrap();
    assert!(
        response.status().is_success(),
        "the proxy answered {}",
        response.status()
    );
    response
        .headers()
        .get(release_desk_local_target::VERSION_HEADER)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

async fn count(w: &common::World, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(w.store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotions_succeed_refuse_fail_safely_and_roll_back() {
    let w = world().await;
    let target = w.target();
    let engine = w.engine(target.clone());
    let c100 = w.approved_change("1.0.0", &["dev"]).await;
    let c110 = w.approved_change("1.1.0", &["dev", "test"]).await;

    // First release: no previous leg, goes to blue.
    let p = promote(&engine, &w, "1.0.0", "dev", "press-1").await;
    assert_eq!(p.phase, Phase::Succeeded, "{:#?}", p.failure);
    assert_eq!(
        live_version(&engine, "dev").await,
        (Some(Leg::Blue), Some("1.0.0".into()))
    );
    assert_eq!(served(&target, "dev").await, "1.0.0");
    let change = w
        .store
        .change(c100.id, None, chrono::Utc::now())
        .await
        .unwrap()
        .record;
    assert_eq!(
        change.state,
        ChangeState::Review,
        "the change moves to review when its only promotion ends"
    );

    // Upgrade to green; blue keeps running as the way back.
    let p = promote(&engine, &w, "1.1.0", "dev", "press-2").await;
    assert_eq!(p.phase, Phase::Succeeded, "{:#?}", p.failure);
    assert_eq!(served(&target, "dev").await, "1.1.0");
    let status = engine
        .status(&slug("demo-web"), &slug("dev"))
        .await
        .unwrap();
    assert!(
        status.leg(Leg::Blue).unwrap().running,
        "the old leg was stopped"
    );
    let soak = p.steps.iter().find(|s| s.kind == StepKind::Soak).unwrap();
    let StepState::Succeeded { report, .. } = &soak.state else {
        panic!("soak: {:?}", soak.state)
    };
    assert!(
        report.summary.starts_with("soaked 4 s:"),
        "{}",
        report.summary
    );
    assert!(
        !p.samples.is_empty() && p.samples.iter().all(|s| s.errors == 0),
        "{:?}",
        p.samples
    );
    // The change covers test too: it stays in Implement until test is done.
    assert_eq!(
        w.store
            .change(c110.id, None, chrono::Utc::now())
            .await
            .unwrap()
            .record
            .state,
        ChangeState::Implement
    );

    // The same press twice starts one promotion.
    let again = engine
        .request(
            PromotionKind::Promote,
            &slug("demo-web"),
            &slug("dev"),
            Some("1.1.0".into()),
            "press-2",
            &w.priya,
        )
        .await
        .unwrap();
    assert_eq!(again.promotion.id, p.id);
    // The same key for another request is a caller's bug, refused.
    let reused = engine
        .request(
            PromotionKind::Promote,
            &slug("demo-web"),
            &slug("dev"),
            Some("1.0.0".into()),
            "press-2",
            &w.priya,
        )
        .await
        .unwrap_err();
    assert_eq!(reused.code(), "request_key_reused", "{reused}");
    assert_eq!(count(&w, "SELECT COUNT(*) FROM promotions").await, 2);

    // To test, now that dev succeeded with the same digest.
    let p = promote(&engine, &w, "1.1.0", "test", "press-3").await;
    assert_eq!(p.phase, Phase::Succeeded, "{:#?}", p.failure);
    assert_eq!(
        w.store
            .change(c110.id, None, chrono::Utc::now())
            .await
            .unwrap()
            .record
            .state,
        ChangeState::Review
    );

    // 1.2.0 fails its smoke test: it never takes traffic.
    let _c120 = w.approved_change("1.2.0", &["dev"]).await;
    let p = promote(&engine, &w, "1.2.0", "dev", "press-4").await;
    assert_eq!(p.phase, Phase::Failed);
    let f = p.failure.clone().unwrap();
    assert_eq!(f.step, StepKind::Smoke);
    assert!(!f.switched_back && !f.needs_attention, "{f:?}");
    assert!(
        f.reason.contains("smoke tests failed on blue"),
        "{}",
        f.reason
    );
    assert!(!p
        .steps
        .iter()
        .any(|s| s.kind == StepKind::Switch && s.attempts > 0));
    assert_eq!(served(&target, "dev").await, "1.1.0");

    // 1.2.0 cannot go to test: it failed in dev.
    let _c120t = w.approved_change("1.2.0", &["test"]).await;
    let before = count(&w, "SELECT COUNT(*) FROM promotions").await;
    let audit_before = count(&w, "SELECT COUNT(*) FROM audit_log").await;
    let err = engine
        .request(
            PromotionKind::Promote,
            &slug("demo-web"),
            &slug("test"),
            Some("1.2.0".into()),
            "press-5",
            &w.priya,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "gates_failed", "{err}");
    assert!(
        err.to_string()
            .contains("Previous stage succeeded: 1.2.0 failed in dev"),
        "{err}"
    );
    assert_eq!(
        count(&w, "SELECT COUNT(*) FROM promotions").await,
        before,
        "a refusal wrote a promotion"
    );
    // The attempt itself is audited, with the gate that stopped it.
    assert_eq!(
        count(&w, "SELECT COUNT(*) FROM audit_log").await,
        audit_before + 1,
        "a refusal must add exactly one audit entry"
    );
    let refusal = w.store.recent_audit(1).await.unwrap().remove(0);
    assert_eq!(refusal.action, "promotion.refused");
    // Named by profile id and email, not a display name two people may share.
    assert_eq!(refusal.actor, "Priya <priya@example.org> (profile 1)");
    assert!(
        refusal.detail.contains("1.2.0 failed in dev"),
        "{}",
        refusal.detail
    );
    assert_eq!(
        count(&w, "SELECT COUNT(*) FROM environment_locks").await,
        0,
        "a lock outlived its promotion"
    );

    // 1.3.0 passes smoke, then fails under soak: traffic goes back to green.
    let _c130 = w.approved_change("1.3.0", &["dev"]).await;
    let p = promote(&engine, &w, "1.3.0", "dev", "press-6").await;
    assert_eq!(p.phase, Phase::Failed);
    let f = p.failure.clone().unwrap();
    assert_eq!(f.step, StepKind::Soak, "{f:?}");
    assert!(f.switched_back && !f.needs_attention, "{f:?}");
    assert!(f.reason.starts_with("soak failed: sample"), "{}", f.reason);
    assert_eq!(
        live_version(&engine, "dev").await,
        (Some(Leg::Green), Some("1.1.0".into()))
    );
    assert_eq!(served(&target, "dev").await, "1.1.0");
    let outcome: String = sqlx::query_scalar(
        "SELECT d.outcome FROM promotions p JOIN deployments d ON d.id = p.deployment_id WHERE p.id = ?",
    )
    .bind(p.id)
    .fetch_one(w.store.pool())
    .await
    .unwrap();
    assert_eq!(outcome, "rolled_back");

    // Roll back dev: 1.0.0 no longer runs (blue holds 1.3.0), so it is redeployed.
    let readiness = engine
        .rollback_readiness(&slug("demo-web"), &slug("dev"))
        .await
        .unwrap();
    assert!(readiness.possible && !readiness.ready, "{readiness:?}");
    assert_eq!(readiness.target_version.as_deref(), Some("1.0.0"));
    assert!(
        readiness.summary.contains("redeploys"),
        "{}",
        readiness.summary
    );
    let r = engine
        .request(
            PromotionKind::Rollback,
            &slug("demo-web"),
            &slug("dev"),
            None,
            "press-7",
            &w.priya,
        )
        .await
        .unwrap();
    let p = engine.run(r.promotion.id).await.unwrap();
    assert_eq!(p.phase, Phase::Succeeded, "{:#?}", p.failure);
    assert_eq!(p.steps[0].kind, StepKind::Deploy);
    assert_eq!(served(&target, "dev").await, "1.0.0");
    // 1.1.0 was rolled away from: it no longer counts as good, so there is
    // nothing further back to roll to (1.0.0 is live).
    let readiness = engine
        .rollback_readiness(&slug("demo-web"), &slug("dev"))
        .await
        .unwrap();
    assert!(!readiness.possible, "{readiness:?}");
    let rolled: String = sqlx::query_scalar(
        "SELECT d.outcome FROM deployments d JOIN artefacts a ON a.id = d.artefact_id
         WHERE a.version = '1.1.0' AND d.environment_id = (SELECT id FROM environments WHERE key = 'dev')
         ORDER BY d.id DESC LIMIT 1",
    )
    .fetch_one(w.store.pool())
    .await
    .unwrap();
    assert_eq!(
        rolled, "rolled_back",
        "the release rolled away from still counts as good"
    );

    // A drill in dev goes to green and comes back to blue.
    let r = engine
        .request(
            PromotionKind::Drill,
            &slug("demo-web"),
            &slug("dev"),
            None,
            "press-8",
            &w.priya,
        )
        .await
        .unwrap();
    let p = engine.run(r.promotion.id).await.unwrap();
    assert_eq!(p.phase, Phase::Succeeded, "{:#?}", p.failure);
    assert_eq!(served(&target, "dev").await, "1.0.0");

    // Every decision is in an intact chain, and the UI saw each step move.
    assert!(w.store.verify_audit().await.unwrap().intact);
    assert!(w.updates.lock().unwrap().len() > 20);
    target.shutdown_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_stopped_at_any_step_resumes_and_runs_no_step_twice() {
    let w = world().await;
    let _c100 = w.approved_change("1.0.0", &["dev"]).await;
    let _c110 = w.approved_change("1.1.0", &["dev"]).await;
    let target = w.target();
    let engine = w.engine(target.clone());
    let p = promote(&engine, &w, "1.0.0", "dev", "first").await;
    assert_eq!(p.phase, Phase::Succeeded);
    drop(engine);

    // Start 1.1.0 and stop the engine as each step begins, then start a
    // new engine (and target) over the same files and let it resume.
    let engine = w.engine(target.clone());
    let r = engine
        .request(
            PromotionKind::Promote,
            &slug("demo-web"),
            &slug("dev"),
            Some("1.1.0".into()),
            "second",
            &w.priya,
        )
        .await
        .unwrap();
    let id = r.promotion.id;
    // `request` spawned a runner; stop the engine while it works.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(engine);
    let mut resumes = 0;
    loop {
        let target = w.target();
        let engine = w.engine(target.clone());
        let resumed = engine.resume_unfinished().await.unwrap();
        if resumed.is_empty() {
            break;
        }
        resumes += 1;
        assert!(resumes < 20, "never finished");
        // Let it run a little, then "kill" it again by dropping it mid-flight.
        let handle = tokio::spawn({
            let engine = engine.clone();
            async move { engine.run(id).await }
        });
        tokio::time::sleep(Duration::from_millis(700)).await;
        handle.abort();
        let _ = handle.await;
    }
    let p = w.store.promotion(id).await.unwrap().promotion;
    assert_eq!(p.phase, Phase::Succeeded, "{:#?}", p.failure);
    assert!(resumes >= 1, "the test never interrupted the promotion");
    // No step needed a second attempt: each resumed step ran under its key.
    for s in &p.steps {
        assert_eq!(
            s.attempts, 1,
            "{:?} was attempted {} times",
            s.kind, s.attempts
        );
    }
    let engine = w.engine(w.target());
    assert_eq!(
        live_version(&engine, "dev").await,
        (Some(Leg::Green), Some("1.1.0".into()))
    );
    assert_eq!(count(&w, "SELECT COUNT(*) FROM environment_locks").await, 0);
    assert!(w.store.verify_audit().await.unwrap().intact);
    w.target().shutdown_all().await.unwrap();
    let _ = target.info();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_tarball_fails_its_deploy_and_traffic_stays_where_it_was() {
    let w = world().await;
    let target = w.target();
    let engine = w.engine(target.clone());
    w.approved_change("1.0.0", &["dev"]).await;
    w.approved_change("1.1.0", &["dev"]).await;
    assert_eq!(
        promote(&engine, &w, "1.0.0", "dev", "t1").await.phase,
        Phase::Succeeded
    );

    // Someone alters the recorded 1.1.0 tarball after it was signed.
    let tarball = w.dir.path().join("artefacts/demo-web-1.1.0.tar.gz");
    let mut bytes = std::fs::read(&tarball).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&tarball, bytes).unwrap();

    let p = promote(&engine, &w, "1.1.0", "dev", "t2").await;
    assert_eq!(p.phase, Phase::Failed);
    let f = p.failure.clone().unwrap();
    assert_eq!(f.step, StepKind::Deploy, "{f:?}");
    assert!(
        f.reason.contains("changed since it was recorded"),
        "{}",
        f.reason
    );
    assert_eq!(p.steps[0].attempts, 1, "a refusal is not retried");
    assert_eq!(served(&target, "dev").await, "1.0.0");
    let reason: Option<String> = sqlx::query_scalar(
        "SELECT d.failure_reason FROM promotions p JOIN deployments d ON d.id = p.deployment_id WHERE p.id = ?",
    )
    .bind(p.id)
    .fetch_one(w.store.pool())
    .await
    .unwrap();
    assert!(reason
        .unwrap_or_default()
        .contains("changed since it was recorded"));
    assert!(w.store.verify_audit().await.unwrap().intact);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rolling_strategy_updates_in_place_and_rolls_a_soak_failure_back() {
    let w = world().await;
    w.store
        .bind_target(
            &release_desk_store::TargetBinding {
                service: slug("demo-web"),
                environment: slug("dev"),
                provider: "local-nginx".into(),
                strategy: release_desk_promotion::Strategy::Rolling,
                soak_secs: 4,
                thresholds: release_desk_promotion::SoakThresholds {
                    max_p95_ms: 5_000.0,
                    min_requests: 1,
                    ..Default::default()
                },
            },
            &w.priya,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let target = w.target();
    let engine = w.engine(target.clone());
    w.approved_change("1.0.0", &["dev"]).await;
    w.approved_change("1.3.0", &["dev"]).await;
    let p = promote(&engine, &w, "1.0.0", "dev", "r1").await;
    assert_eq!(p.phase, Phase::Succeeded, "{:#?}", p.failure);
    assert_eq!(
        p.steps[0].kind,
        StepKind::Deploy,
        "the first release has nothing to roll"
    );
    assert_eq!(served(&target, "dev").await, "1.0.0");

    let p = promote(&engine, &w, "1.3.0", "dev", "r2").await;
    assert_eq!(p.steps[0].kind, StepKind::RollingUpdate);
    assert_eq!(p.phase, Phase::Failed);
    let f = p.failure.clone().unwrap();
    assert!(f.switched_back && f.step == StepKind::Soak, "{f:?}");
    assert_eq!(p.steps.last().unwrap().kind, StepKind::RollingBack);
    assert_eq!(served(&target, "dev").await, "1.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_whose_target_disappears_fails_and_frees_the_environment() {
    let w = world().await;
    w.approved_change("1.0.0", &["dev"]).await;
    let id = w.start_unrun("gone", "1.0.0", None).await;
    // An engine that knows no local target: the binding names a provider
    // this build does not have by the time the steps run.
    let without = release_desk_engine::Engine::new(
        w.store.clone(),
        vec![],
        std::sync::Arc::new(|_| {}),
        release_desk_engine::EngineSettings::default(),
    );
    let p = without.run(id).await.unwrap();
    assert_eq!(p.phase, Phase::Failed);
    assert!(p
        .failure
        .unwrap()
        .reason
        .contains("no deployment target named 'local-nginx'"));
    let locks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM environment_locks")
        .fetch_one(w.store.pool())
        .await
        .unwrap();
    assert_eq!(locks, 0, "a failed promotion still holds the environment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breach_recorded_before_a_kill_still_fails_the_soak_after_the_restart() {
    use release_desk_promotion::{PromotionEvent, SoakSample};
    use release_desk_provider::StepReport;
    let w = world().await;
    let target = w.target();
    let engine = w.engine(target.clone());
    w.approved_change("1.0.0", &["dev"]).await;
    w.approved_change("1.1.0", &["dev"]).await;
    assert_eq!(
        promote(&engine, &w, "1.0.0", "dev", "b1").await.phase,
        Phase::Succeeded
    );
    let status = engine
        .status(&slug("demo-web"), &slug("dev"))
        .await
        .unwrap();
    let blue = status.leg(Leg::Blue).unwrap();
    let id = w.start_unrun("b2", "1.1.0", Some(blue)).await;
    // What a killed run had written: three steps done, the soak begun and a
    // sample over the threshold, but not yet the soak's failure.
    let now = chrono::Utc::now;
    let ok = |s: &str| StepReport {
        summary: s.into(),
        log: vec![],
        replayed: false,
    };
    for step in 0..3 {
        w.store
            .record_promotion_event(id, &PromotionEvent::StepBegan { step, at: now() }, now())
            .await
            .unwrap();
        w.store
            .record_promotion_event(
                id,
                &PromotionEvent::StepSucceeded {
                    step,
                    at: now(),
                    report: ok("done"),
                },
                now(),
            )
            .await
            .unwrap();
    }
    w.store
        .record_promotion_event(id, &PromotionEvent::StepBegan { step: 3, at: now() }, now())
        .await
        .unwrap();
    let breach = SoakSample {
        requests: 40,
        errors: 40,
        p95_ms: Some(3.0),
        notes: vec![],
        observed_ms: 1_000,
        other_version: 0,
    };
    w.store
        .record_promotion_event(
            id,
            &PromotionEvent::SoakSampled {
                step: 3,
                sample: breach,
            },
            now(),
        )
        .await
        .unwrap();

    let p = engine.run(id).await.unwrap();
    assert_eq!(p.phase, Phase::Failed);
    let f = p.failure.unwrap();
    assert_eq!(f.step, StepKind::Soak);
    assert!(
        f.reason.contains("sample 1: error rate 100.0%"),
        "{}",
        f.reason
    );
    assert!(f.switched_back, "traffic goes back to the previous leg");
    assert_eq!(
        p.samples.len(),
        1,
        "judged on what was recorded, without watching again"
    );
    assert_eq!(served(&target, "dev").await, "1.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_made_from_a_stale_reading_of_the_target_fails_before_touching_a_leg() {
    let w = world().await;
    let target = w.target();
    let engine = w.engine(target.clone());
    w.approved_change("1.0.0", &["dev"]).await;
    w.approved_change("1.1.0", &["dev"]).await;
    assert_eq!(
        promote(&engine, &w, "1.0.0", "dev", "s1").await.phase,
        Phase::Succeeded
    );
    let before = engine
        .status(&slug("demo-web"), &slug("dev"))
        .await
        .unwrap();
    // Planned from a reading taken before 1.0.0 went live: "nothing is live",
    // so the plan would deploy onto the leg that now takes the traffic.
    let id = w.start_unrun("s2", "1.1.0", None).await;
    let p = engine.run(id).await.unwrap();
    assert_eq!(p.phase, Phase::Failed);
    let f = p.failure.unwrap();
    assert_eq!(f.step, StepKind::Deploy);
    assert!(
        !f.switched_back,
        "traffic never moved, so nothing to switch back"
    );
    assert!(
        f.reason
            .contains("the target changed after this was planned")
            && f.reason.contains("1.0.0")
            && f.reason.contains("not nothing as planned"),
        "{}",
        f.reason
    );
    assert!(
        p.steps.iter().skip(1).all(|s| s.attempts == 0),
        "no step after the check ran"
    );
    let after = engine
        .status(&slug("demo-web"), &slug("dev"))
        .await
        .unwrap();
    assert_eq!(
        after, before,
        "a leg changed on the strength of a stale plan"
    );
    assert_eq!(served(&target, "dev").await, "1.0.0");
    assert_eq!(
        count(&w, "SELECT COUNT(*) FROM environment_locks").await,
        0,
        "the failed promotion still holds the environment"
    );
}

/// Issue 12, finding 4: a key removed in Settings was still accepted by the
/// target (it kept the keys it was built with), and a key added was unknown
/// to it until the app restarted. The target checks against the keys the
/// store holds when the step runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_removed_after_the_start_is_no_longer_trusted_by_the_target() {
    let w = world().await;
    let target = w.target();
    let engine = w.engine(target.clone());
    w.approved_change("1.0.0", &["dev"]).await;
    let id = w.start_unrun("revoked", "1.0.0", None).await;
    let keys = w.store.trusted_keys().await.unwrap();
    w.store
        .remove_trusted_key(keys[0].id, &w.priya, chrono::Utc::now())
        .await
        .unwrap();
    let p = engine.run(id).await.unwrap();
    assert_eq!(p.phase, Phase::Failed, "a removed key still deployed");
    let reason = p.failure.unwrap().reason;
    assert!(reason.contains("trusted"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_added_after_the_target_was_built_is_trusted_at_once() {
    let w = world().await;
    let keys = w.store.trusted_keys().await.unwrap();
    w.store
        .remove_trusted_key(keys[0].id, &w.priya, chrono::Utc::now())
        .await
        .unwrap();
    // The target is built while no key is trusted (as the app's is when the
    // first key is added in Settings after it started).
    let target = w.target();
    let engine = w.engine(target.clone());
    w.store
        .add_trusted_key(&w.key, "CI", &w.priya, chrono::Utc::now())
        .await
        .unwrap();
    w.approved_change("1.0.0", &["dev"]).await;
    let p = promote(&engine, &w, "1.0.0", "dev", "added").await;
    assert_eq!(p.phase, Phase::Succeeded, "{:#?}", p.failure);
}

/// Issue 12, finding 3: action keys were `promotion-<id>/…` with ids that
/// start again at 1 in a new database, while the target's action journal
/// outlives the database (moved aside, a backup restored, the demo loaded
/// again): the new database's promotion 1 was "replayed" from the old one's
/// journal and deployed nothing. Keys are unique to one database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_database_over_the_same_target_really_deploys() {
    let first = world().await;
    let target = first.target();
    let engine = first.engine(target.clone());
    first.approved_change("1.0.0", &["dev"]).await;
    assert_eq!(
        promote(&engine, &first, "1.0.0", "dev", "old-db")
            .await
            .phase,
        Phase::Succeeded
    );
    assert_eq!(served(&target, "dev").await, "1.0.0");
    drop(engine);

    // A fresh database (the old one moved aside) over the same target folder.
    let second = world().await;
    let engine = second.engine(target.clone());
    second.approved_change("1.1.0", &["dev"]).await;
    let p = promote(&engine, &second, "1.1.0", "dev", "new-db").await;
    assert_eq!(
        p.id, 1,
        "the new database numbers its promotions from 1 again"
    );
    assert_eq!(p.phase, Phase::Succeeded, "{:#?}", p.failure);
    assert_eq!(
        served(&target, "dev").await,
        "1.1.0",
        "the second database's promotion 1 replayed the first's journal and deployed nothing"
    );
}

/// Issue 12, finding 5: "the deployer cannot approve" was checked only
/// against the change's assignee, so an approver could start the promotion
/// of the change they approved. Whoever approved it does not promote it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_person_who_approved_a_change_cannot_promote_it() {
    let w = world().await;
    let dana = w
        .store
        .create_profile(
            release_desk_changes::ProfileDraft {
                name: "Dana".into(),
                email: "dana@example.org".into(),
                roles: vec![slug("release-manager"), slug("change-manager")],
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    w.approved_change_by("1.0.0", &["dev"], &dana).await;
    let target = w.target();
    let engine = w.engine(target);
    let refused = engine
        .request(
            PromotionKind::Promote,
            &slug("demo-web"),
            &slug("dev"),
            Some("1.0.0".into()),
            "dana",
            &dana,
        )
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("Separation of duties: Dana approved CHG-"),
        "{refused}"
    );
    let audit = w.store.audit_of("target:demo-web/dev").await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "promotion.refused" && e.actor.starts_with("Dana <")),
        "the refusal is audited"
    );
    // Priya raised it but did not approve it: she may.
    let p = promote(&engine, &w, "1.0.0", "dev", "priya").await;
    assert_eq!(p.phase, Phase::Succeeded, "{:#?}", p.failure);
}
