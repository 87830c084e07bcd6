//! Kill -9 at every step: a promotion run by a separate process that is
//! SIGKILLed as soon as each new event is written, then started again, until
//! the promotion ends. It must end as if nothing had happened: succeeded,
//! every step attempted once, the action journal replaying what was done.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{slug, world};
use release_desk_domain::Leg;
use release_desk_promotion::{Phase, PromotionKind};
use release_desk_provider::DeploymentTarget;
use release_desk_provider::TargetRef;
use release_desk_store::DATABASE_FILE;

fn runner() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/examples/engine_runner")
}

/// Approves 1.0.0 and 1.1.0 for dev and puts 1.0.0 live through an engine
/// in this process (not a killed one); returns the target.
async fn one_release_live(
    w: &common::World,
) -> std::sync::Arc<release_desk_local_target::LocalTarget> {
    w.approved_change("1.0.0", &["dev"]).await;
    w.approved_change("1.1.0", &["dev"]).await;
    let target = w.target();
    let engine = w.engine(target.clone());
    let first = engine
        .request(
            PromotionKind::Promote,
            &slug("demo-web"),
            &slug("dev"),
            Some("1.0.0".into()),
            "k1",
            &w.priya,
        )
        .await
        .unwrap();
    assert_eq!(
        engine.run(first.promotion.id).await.unwrap().phase,
        Phase::Succeeded
    );
    target
}

async fn events(w: &common::World, id: i64) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM promotion_events WHERE promotion_id = ?")
        .bind(id)
        .fetch_one(w.store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_killed_after_every_event_resumes_and_repeats_nothing() {
    assert!(
        runner().exists(),
        "{} is missing: `cargo test -p release-desk-engine` builds it (or `cargo build -p release-desk-engine --example engine_runner`)",
        runner().display()
    );
    let w = world().await;
    let target = one_release_live(&w).await;

    // Start 1.1.0 without running it here: only the killed processes run it.
    let tref = TargetRef {
        service: slug("demo-web"),
        environment: slug("dev"),
    };
    let status = target.status(&tref).await.unwrap();
    let live = status.leg(Leg::Blue).unwrap();
    let id = w.start_unrun("k2", "1.1.0", Some(live)).await;
    let database = w.dir.path().join(DATABASE_FILE);
    let root = w.dir.path().join("local-target");

    let mut kills = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let phase = w.store.promotion(id).await.unwrap().promotion.phase;
        if phase.is_finished() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the promotion never finished ({kills} kills)"
        );
        let seen = events(&w, id).await;
        let mut child = Command::new(runner())
            .args([
                database.to_str().unwrap(),
                root.to_str().unwrap(),
                common::service_binary().to_str().unwrap(),
                &id.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // SIGKILL as soon as the runner has written something new.
        let exited = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if events(&w, id).await > seen {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        if exited.is_none() {
            child.kill().unwrap(); // SIGKILL on Unix
            child.wait().unwrap();
            kills += 1;
        }
    }
    let p = w.store.promotion(id).await.unwrap().promotion;
    assert_eq!(p.phase, Phase::Succeeded, "{:#?}", p.failure);
    eprintln!("killed the runner {kills} times");
    assert!(
        kills >= 4,
        "only {kills} kills: not every step was interrupted"
    );
    for s in &p.steps {
        assert_eq!(
            s.attempts, 1,
            "{:?} was attempted {} times",
            s.kind, s.attempts
        );
    }
    let status = target.status(&tref).await.unwrap();
    assert_eq!(status.live, Some(Leg::Green));
    assert_eq!(
        status.leg(Leg::Green).unwrap().version.as_deref(),
        Some("1.1.0")
    );
    assert!(
        status.leg(Leg::Blue).unwrap().running,
        "the previous leg must keep running"
    );
    let locks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM environment_locks")
        .fetch_one(w.store.pool())
        .await
        .unwrap();
    assert_eq!(locks, 0);
    assert!(w.store.verify_audit().await.unwrap().intact);
}

/// The release a leg folder holds, by its manifest.
fn version_in(dir: &std::path::Path) -> Option<String> {
    let bytes = std::fs::read(dir.join(release_desk_local_target::package::MANIFEST_FILE)).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v["version"].as_str().map(str::to_owned)
}

/// Every leg folder under the target's root (those with a `leg.json`).
fn leg_folders(root: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.join("leg.json").exists() {
                    out.push(path.clone());
                }
                stack.push(path);
            }
        }
    }
    out
}

/// Each leg's `app/` runs the release its `leg.json` names, and its rollback
/// copy (`previous/`) is the release the record names as previous, which is
/// never the current release itself (that would be no way back).
fn legs_match_their_records(root: &std::path::Path, point: &str) {
    let legs = leg_folders(root);
    assert!(
        !legs.is_empty(),
        "{point}: no legs under {}",
        root.display()
    );
    for leg in legs {
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(leg.join("leg.json")).unwrap()).unwrap();
        assert_eq!(
            version_in(&leg.join("app")).as_deref(),
            record["version"].as_str(),
            "{point}: {} runs what its record says",
            leg.display()
        );
        assert_eq!(
            version_in(&leg.join("previous")).as_deref(),
            record["previous"]["version"].as_str(),
            "{point}: {}'s rollback copy is the release its record names",
            leg.display()
        );
        assert_ne!(
            record["previous"]["version"].as_str(),
            record["version"].as_str(),
            "{point}: {}'s rollback copy is the release it runs",
            leg.display()
        );
    }
}

fn run_runner(
    database: &std::path::Path,
    root: &std::path::Path,
    id: i64,
    crash_at: Option<&str>,
) -> std::process::ExitStatus {
    let mut c = Command::new(runner());
    c.args([
        database.to_str().unwrap(),
        root.to_str().unwrap(),
        common::service_binary().to_str().unwrap(),
        &id.to_string(),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::inherit());
    if let Some(p) = crash_at {
        c.env(release_desk_local_target::crash::CRASH_AT, p);
    }
    c.status().unwrap()
}

/// Issue 12: kill -9 *inside* a step, not only between events: after the
/// switch has written `upstream.conf` but before nginx reloads, and after a
/// deploy has moved the new release into the leg but before `leg.json`
/// records it. After a restart the promotion ends correctly, nginx's real
/// routing (asked through the proxy) matches what the target reports, and
/// each leg's rollback copy (`previous/`) is the release its record names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_killed_inside_a_step_ends_correctly() {
    use release_desk_local_target::crash;
    for point in [crash::DEPLOY_AFTER_INSTALL, crash::SWITCH_AFTER_WRITE] {
        let w = world().await;
        let target = one_release_live(&w).await;
        let tref = TargetRef {
            service: slug("demo-web"),
            environment: slug("dev"),
        };
        let status = target.status(&tref).await.unwrap();
        let id = w.start_unrun("k2", "1.1.0", status.leg(Leg::Blue)).await;
        let database = w.dir.path().join(DATABASE_FILE);
        let root = w.dir.path().join("local-target");
        let run = |crash_at: Option<&str>| run_runner(&database, &root, id, crash_at);
        let died = run(Some(point));
        assert!(
            !died.success(),
            "{point}: the runner was to die at the crash point"
        );
        assert!(
            !w.store
                .promotion(id)
                .await
                .unwrap()
                .promotion
                .phase
                .is_finished(),
            "{point}: it died before the promotion ended"
        );
        let finished = run(None);
        assert!(finished.success(), "{point}: the resumed runner failed");

        let p = w.store.promotion(id).await.unwrap().promotion;
        assert_eq!(p.phase, Phase::Succeeded, "{point}: {:#?}", p.failure);
        // `status` asks nginx through the proxy which legs really answer.
        let status = target.status(&tref).await.unwrap();
        assert_eq!(status.live, Some(Leg::Green), "{point}");
        assert_eq!(
            status.leg(Leg::Green).unwrap().version.as_deref(),
            Some("1.1.0"),
            "{point}"
        );
        assert!(
            status.leg(Leg::Blue).unwrap().running,
            "{point}: the way back keeps running"
        );
        legs_match_their_records(&root, point);
        assert!(w.store.verify_audit().await.unwrap().intact);
    }
}

/// Issue 12: kill -9 inside a rolling update, after the first instance runs
/// the new release and before the second is touched. On resume the first is
/// not deployed again (which made the new release its own rollback copy and
/// lost the way back); both end on the new release, each with the old one as
/// its rollback copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_killed_between_instances_keeps_each_legs_way_back() {
    let point = release_desk_local_target::crash::ROLLING_BETWEEN_INSTANCES;
    let w = world().await;
    w.store
        .bind_target(
            &release_desk_store::TargetBinding {
                service: slug("demo-web"),
                environment: slug("dev"),
                provider: "local-nginx".into(),
                strategy: release_desk_promotion::Strategy::Rolling,
                soak_secs: 2,
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
    let target = one_release_live(&w).await;
    let tref = TargetRef {
        service: slug("demo-web"),
        environment: slug("dev"),
    };
    let status = target.status(&tref).await.unwrap();
    let live = status.live.and_then(|l| status.leg(l));
    let id = w.start_unrun("r2", "1.1.0", live).await;
    let database = w.dir.path().join(DATABASE_FILE);
    let root = w.dir.path().join("local-target");
    assert!(
        !run_runner(&database, &root, id, Some(point)).success(),
        "{point}: it was to die"
    );
    assert!(!w
        .store
        .promotion(id)
        .await
        .unwrap()
        .promotion
        .phase
        .is_finished());
    assert!(run_runner(&database, &root, id, None).success());
    let p = w.store.promotion(id).await.unwrap().promotion;
    assert_eq!(p.phase, Phase::Succeeded, "{point}: {:#?}", p.failure);
    let status = target.status(&tref).await.unwrap();
    for leg in [Leg::Blue, Leg::Green] {
        let l = status.leg(leg).unwrap();
        if l.running {
            assert_eq!(l.version.as_deref(), Some("1.1.0"), "{point}: {leg:?}");
        }
    }
    legs_match_their_records(&root, point);
    assert!(w.store.verify_audit().await.unwrap().intact);
}
