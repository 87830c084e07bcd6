//! Blue-green deploys against real nginx and real service processes: the
//! happy path, releases caught by the smoke test and by the soak, replayed
//! actions, and a restart of the app.

mod common;

use std::time::Duration;

use common::{fixture, key};
use release_desk_domain::Leg;
use release_desk_local_target::LocalTarget;
use release_desk_provider::{DeploymentTarget, ProviderErrorKind, RollbackPlan};

#[tokio::test]
async fn a_new_version_goes_live_on_the_idle_leg_and_the_old_leg_keeps_running() {
    let fx = fixture();
    fx.go_live("p1/first", Leg::Blue, "1.0.0").await;
    assert_eq!(fx.proxy_version().await, "1.0.0");

    fx.deploy("p2/deploy", Leg::Green, "1.1.0").await;
    let health = fx.target.health_check(&fx.t, Leg::Green).await.unwrap();
    assert!(health.passed, "{health:?}");
    assert!(
        health
            .checks
            .iter()
            .any(|c| c.starts_with("GET /healthz → 200 in ")),
        "{health:?}"
    );
    assert_eq!(
        fx.proxy_version().await,
        "1.0.0",
        "a deploy alone must not move traffic"
    );

    let report = fx
        .target
        .switch_traffic(&key("p2/switch"), &fx.t, Leg::Green)
        .await
        .unwrap();
    assert!(report.summary.contains("green"), "{report:?}");
    assert_eq!(fx.proxy_version().await, "1.1.0");

    let status = fx.target.status(&fx.t).await.unwrap();
    assert_eq!(status.live, Some(Leg::Green));
    let blue = status.leg(Leg::Blue).unwrap();
    assert!(blue.running && blue.healthy == Some(true), "{blue:?}");
    assert_eq!(blue.version.as_deref(), Some("1.0.0"));
    assert_eq!(
        status.leg(Leg::Green).unwrap().digest.as_ref(),
        Some(&fx.artefact("1.1.0").digest)
    );
}

#[tokio::test]
async fn a_release_that_fails_its_smoke_test_never_takes_traffic() {
    let fx = fixture();
    fx.go_live("p1", Leg::Blue, "1.1.0").await;
    fx.deploy("p2/deploy", Leg::Green, "1.2.0").await;

    let health = fx.target.health_check(&fx.t, Leg::Green).await.unwrap();
    assert!(!health.passed);
    assert!(
        health
            .checks
            .iter()
            .any(|c| c.starts_with("GET /healthz → 500")),
        "{health:?}"
    );
    assert!(health.failure.unwrap().contains("500"));

    let err = fx
        .target
        .switch_traffic(&key("p2/switch"), &fx.t, Leg::Green)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Refused, "{}", err.message);
    assert!(err.message.contains("not healthy"), "{}", err.message);
    assert_eq!(fx.proxy_version().await, "1.1.0");
    assert_eq!(fx.target.status(&fx.t).await.unwrap().live, Some(Leg::Blue));
}

#[tokio::test]
async fn a_release_failing_during_its_soak_shows_errors_and_rolls_back_by_switching() {
    let fx = fixture();
    fx.go_live("p1", Leg::Blue, "1.1.0").await;
    fx.deploy("p3/deploy", Leg::Green, "1.3.0").await;
    assert!(
        fx.target
            .health_check(&fx.t, Leg::Green)
            .await
            .unwrap()
            .passed
    );
    fx.switch("p3/switch", Leg::Green).await;
    assert_eq!(fx.proxy_version().await, "1.3.0");

    // 1.3.0 fails three seconds after it first takes live traffic and exits
    // two seconds later.
    let seen = fx
        .target
        .observe(&fx.t, Duration::from_secs(7))
        .await
        .unwrap();
    assert!(seen.requests >= 100, "{seen:?}");
    assert!(seen.errors > 0, "{seen:?}");
    assert!(seen.p95_ms.is_some());
    assert!(
        seen.notes
            .iter()
            .any(|n| n.contains("green leg's process exited")),
        "{seen:?}"
    );

    let report = fx
        .target
        .roll_back(
            &key("p3/rollback"),
            &fx.t,
            &RollbackPlan::SwitchTo { leg: Leg::Blue },
        )
        .await
        .unwrap();
    assert!(report.summary.contains("blue"), "{report:?}");
    assert_eq!(fx.proxy_version().await, "1.1.0");
    let calm = fx
        .target
        .observe(&fx.t, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(calm.errors, 0, "{calm:?}");
    // The soak asks which version answered (issue 12, finding 2): only 1.1.0.
    assert_eq!(
        calm.versions.keys().collect::<Vec<_>>(),
        ["1.1.0"],
        "{calm:?}"
    );
    assert_eq!(calm.versions["1.1.0"], calm.requests, "{calm:?}");
}

#[tokio::test]
async fn an_action_repeated_under_its_key_is_replayed_without_acting_again() {
    let fx = fixture();
    let pid_file = fx.target.root().join("demo-web/prod/green/service.pid");
    let (k1, v1) = (key("p9/deploy/1"), fx.artefact("1.0.0"));
    let first = fx.target.deploy(&k1, &fx.t, Leg::Green, &v1).await.unwrap();
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let second = fx.target.deploy(&k1, &fx.t, Leg::Green, &v1).await.unwrap();
    assert!(!first.replayed && second.replayed);
    assert_eq!(second.summary, first.summary);
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap(),
        pid,
        "the process was restarted"
    );

    let k2 = key("p9/switch/1");
    assert!(
        !fx.target
            .switch_traffic(&k2, &fx.t, Leg::Green)
            .await
            .unwrap()
            .replayed
    );
    assert!(
        fx.target
            .switch_traffic(&k2, &fx.t, Leg::Green)
            .await
            .unwrap()
            .replayed
    );

    // A failure is recorded too, and the same key gives the same error.
    let (k3, v3) = (key("p9/deploy/2"), fx.artefact("1.1.0"));
    let err = fx
        .target
        .deploy(&k3, &fx.t, Leg::Green, &v3)
        .await
        .unwrap_err();
    assert_eq!(
        fx.target
            .deploy(&k3, &fx.t, Leg::Green, &v3)
            .await
            .unwrap_err(),
        err
    );
    assert!(err.message.contains("taking traffic"), "{}", err.message);

    // A key names one action: using it for another is refused.
    let reused = fx
        .target
        .switch_traffic(&key("p9/deploy/1"), &fx.t, Leg::Blue)
        .await
        .unwrap_err();
    assert!(
        reused.message.contains("already used"),
        "{}",
        reused.message
    );
}

#[tokio::test]
async fn after_a_restart_the_target_finds_its_running_processes() {
    let mut fx = fixture();
    fx.go_live("p1", Leg::Blue, "1.0.0").await;
    fx.deploy("p2/deploy", Leg::Green, "1.1.0").await;
    let before = fx.target.status(&fx.t).await.unwrap();

    // The app goes away without stopping anything; a new one starts over the
    // same root.
    let config = common::config(fx.target.root());
    fx.target = std::sync::Arc::new(LocalTarget::new(config).unwrap());
    let after = fx.target.status(&fx.t).await.unwrap();
    assert_eq!(after, before);
    assert_eq!(after.live, Some(Leg::Blue));
    assert!(
        after
            .legs
            .iter()
            .all(|l| l.running && l.healthy == Some(true)),
        "{after:?}"
    );
    assert_eq!(fx.proxy_version().await, "1.0.0");

    // And it can carry on from there.
    fx.switch("p2/switch", Leg::Green).await;
    assert_eq!(fx.proxy_version().await, "1.1.0");
}

#[tokio::test]
async fn a_leg_process_no_pid_file_recorded_is_stopped_when_the_leg_is_redeployed() {
    let fx = fixture();
    fx.go_live("s1", Leg::Blue, "1.0.0").await;
    fx.deploy("s2/deploy", Leg::Green, "1.1.0").await;
    // What an app killed between starting a leg process and writing its pid
    // file leaves: a second service on green's files that no record names.
    let app = fx.target.root().join("demo-web/prod/green/app");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    /// Kills the stray if the test fails before the target stopped it.
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut stray = std::process::Command::new(env!("CARGO_BIN_EXE_release-desk-sample-service"))
        .args([
            "--root",
            &app.display().to_string(),
            "--port",
            &port.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(Reap)
        .unwrap();
    // It serves, so it really is holding its port.
    let url = format!("http://127.0.0.1:{port}/");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while reqwest::get(&url).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the stray never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    fx.deploy("s3/deploy", Leg::Green, "1.1.0").await;

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if stray.0.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the stray leg process is still running after the redeploy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The recorded leg process is the new one and it serves.
    let health = fx.target.health_check(&fx.t, Leg::Green).await.unwrap();
    assert!(health.passed, "{health:?}");
    assert_eq!(fx.proxy_version().await, "1.0.0", "traffic stayed on blue");
}

/// Issue 12, finding 8: the legs and nginx inherited the app's whole
/// environment (tokens in a developer's shell, the keyring's session
/// address). They start with an explicit, minimal one.
#[tokio::test]
async fn legs_and_nginx_do_not_inherit_the_apps_environment() {
    // A name no other test uses; the value is what must not leak.
    std::env::set_var("RELEASE_DESK_LEAK_CANARY", "canary-4f1d");
    let fx = fixture();
    fx.go_live("env", Leg::Blue, "1.0.0").await;
    let mut pids = Vec::new();
    let mut stack = vec![fx.target.root().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "pid") {
                let pid: i32 = std::fs::read_to_string(&path)
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap();
                pids.push((path, pid));
            }
        }
    }
    assert!(pids.len() >= 2, "a leg and nginx: {pids:?}");
    for (file, pid) in pids {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        let environ = String::from_utf8_lossy(&environ);
        assert!(
            !environ.contains("canary-4f1d"),
            "{} (pid {pid}) inherited the app's environment: {environ}",
            file.display()
        );
        // nginx writes its process title over its environment block, so only
        // a leg's shows what it was given.
        if file.ends_with("service.pid") {
            assert!(environ.contains("PATH="), "{environ}");
        }
    }
}

/// Issue 12, finding 8: processes were recognised by substrings of their
/// command line, so stopping a leg also killed any program that merely
/// mentioned the binary and the leg's folder. Only a process that *is* the
/// sample service serving that folder is ours.
#[tokio::test]
async fn stopping_a_leg_spares_a_process_that_only_mentions_it() {
    let fx = fixture();
    fx.go_live("decoy", Leg::Blue, "1.0.0").await;
    let app_dir = fx.target.root().join("demo-web/prod/blue/app");
    assert!(app_dir.is_dir());
    let mut decoy = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "sleep 30 # release-desk-sample-service --root {}",
            app_dir.display()
        ))
        .spawn()
        .unwrap();
    fx.target.stop(&fx.t).await.unwrap();
    let still_running = decoy.try_wait().unwrap().is_none();
    let _ = decoy.kill();
    let _ = decoy.wait();
    assert!(
        still_running,
        "the decoy that only mentions the leg was killed"
    );
}
