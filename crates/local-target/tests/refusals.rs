//! What the target refuses, and that a refusal leaves everything as it was:
//! altered bytes, a wrong digest, untrusted or missing signatures, a deploy
//! onto the live leg, a port another program holds, and a configuration nginx
//! rejects.

mod common;

use std::time::Duration;

use common::{fixture, key, tampered_copy};
use release_desk_domain::{Digest, Leg, Slug};
use release_desk_local_target::{package, Behaviour, SigningKey};
use release_desk_provider::{ArtefactRef, DeploymentTarget, ProviderErrorKind};

/// What a leg holds and which process serves it, to compare before and after.
fn leg_snapshot(fx: &common::Fixture, leg: &str) -> (String, String) {
    let dir = fx.target.root().join("demo-web/prod").join(leg);
    (
        std::fs::read_to_string(dir.join("leg.json")).unwrap(),
        std::fs::read_to_string(dir.join("service.pid")).unwrap(),
    )
}

#[tokio::test]
async fn altered_misrecorded_and_untrusted_artefacts_are_refused_and_change_nothing() {
    let fx = fixture();
    fx.go_live("p1", Leg::Blue, "1.0.0").await;
    fx.deploy("p2/deploy", Leg::Green, "1.1.0").await;
    let before = leg_snapshot(&fx, "green");

    let good = fx.artefact("1.1.0");
    let tampered = ArtefactRef {
        location: tampered_copy(fx.packaged("1.1.0"), fx.dir.path())
            .display()
            .to_string(),
        ..good.clone()
    };
    let wrong_digest = ArtefactRef {
        digest: Digest::parse(&"0".repeat(64)).unwrap(),
        ..good.clone()
    };
    let stranger = SigningKey::generate().unwrap();
    let service = Slug::parse("demo-web").unwrap();
    let elsewhere = fx.dir.path().join("stranger");
    let foreign = package(&elsewhere, &service, "1.1.0", Behaviour::Healthy, &stranger)
        .unwrap()
        .artefact_ref(vec![fx.key.public_key()])
        .unwrap();
    let (foreign_again, foreign_digest) = (foreign.clone(), foreign.digest.clone());
    let unsigned = ArtefactRef {
        signature: None,
        ..good.clone()
    };

    let cases = [
        ("tampered", tampered, "changed since it was recorded"),
        (
            "digest",
            wrong_digest,
            "do not deploy it; rebuild and record a new version",
        ),
        (
            "foreign",
            foreign,
            "does not verify against any trusted key",
        ),
        ("unsigned", unsigned, "no signature"),
    ];
    for (name, artefact, expected) in cases {
        let err = fx
            .target
            .deploy(&key(&format!("bad/{name}")), &fx.t, Leg::Green, &artefact)
            .await
            .unwrap_err();
        assert_eq!(
            err.kind,
            ProviderErrorKind::Refused,
            "{name}: {}",
            err.message
        );
        assert!(err.message.contains(expected), "{name}: {}", err.message);
        assert_eq!(leg_snapshot(&fx, "green"), before, "{name} changed the leg");
    }
    // Packing is deterministic, so the stranger's tarball has the very bytes
    // recorded for 1.1.0: only the signature tells them apart, and the
    // refusal names the key that signed and the keys trusted.
    assert_eq!(foreign_digest, good.digest);
    let err = fx
        .target
        .deploy(&key("bad/foreign-again"), &fx.t, Leg::Green, &foreign_again)
        .await
        .unwrap_err();
    assert!(err.message.contains(&stranger.key_id()), "{}", err.message);
    assert!(err.message.contains(&fx.key.key_id()), "{}", err.message);

    let health = fx.target.health_check(&fx.t, Leg::Green).await.unwrap();
    assert!(health.passed, "{health:?}");
    let leftovers: Vec<_> = std::fs::read_dir(fx.target.root().join("demo-web/prod/green"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".staging"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "staging directories were left behind: {leftovers:?}"
    );
}

#[tokio::test]
async fn a_deploy_onto_the_live_leg_is_refused() {
    let fx = fixture();
    fx.go_live("p1", Leg::Blue, "1.0.0").await;
    let err = fx
        .target
        .deploy(&key("p2/deploy"), &fx.t, Leg::Blue, &fx.artefact("1.1.0"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Refused);
    assert!(
        err.message.contains("blue is taking traffic"),
        "{}",
        err.message
    );
    assert_eq!(fx.proxy_version().await, "1.0.0");
}

#[tokio::test]
async fn a_leg_port_held_by_another_program_moves_the_leg_and_a_held_proxy_port_is_refused() {
    let fx = fixture();
    let ports = fx.target.assigned_ports(&fx.t).unwrap();
    let held_leg = std::net::TcpListener::bind(("127.0.0.1", ports.blue)).unwrap();
    let held_proxy = std::net::TcpListener::bind(("127.0.0.1", ports.proxy)).unwrap();

    let report = fx
        .target
        .deploy(&key("p1/deploy"), &fx.t, Leg::Blue, &fx.artefact("1.0.0"))
        .await
        .unwrap();
    assert!(
        report
            .log
            .iter()
            .any(|l| l.contains(&format!("port {} is in use by another program", ports.blue))),
        "{report:?}"
    );
    let status = fx.target.status(&fx.t).await.unwrap();
    let blue = status.leg(Leg::Blue).unwrap();
    assert!(blue.running && blue.healthy == Some(true), "{blue:?}");
    assert_ne!(
        blue.endpoint.as_deref(),
        Some(format!("127.0.0.1:{}", ports.blue).as_str())
    );
    assert_eq!(fx.target.assigned_ports(&fx.t).unwrap().proxy, ports.proxy);

    let err = fx
        .target
        .switch_traffic(&key("p1/switch"), &fx.t, Leg::Blue)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Refused);
    assert!(
        err.message.contains(&format!(
            "port {} is in use by another program",
            ports.proxy
        )),
        "{}",
        err.message
    );
    assert_eq!(fx.target.status(&fx.t).await.unwrap().live, None);

    drop(held_proxy);
    fx.switch("p1/switch-again", Leg::Blue).await;
    assert_eq!(fx.proxy_version().await, "1.0.0");
    drop(held_leg);
}

#[tokio::test]
async fn a_configuration_nginx_rejects_is_not_applied_and_traffic_stays() {
    let fx = fixture();
    fx.go_live("p1", Leg::Blue, "1.0.0").await;
    fx.deploy("p2/deploy", Leg::Green, "1.1.0").await;
    let conf = fx.target.root().join("demo-web/prod/nginx/nginx.conf");
    let upstream = fx.target.root().join("demo-web/prod/nginx/upstream.conf");
    let routing_before = std::fs::read_to_string(&upstream).unwrap();
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("\nthis_is_not_a_directive on;\n");
    std::fs::write(&conf, text).unwrap();

    let err = fx
        .target
        .switch_traffic(&key("p2/switch"), &fx.t, Leg::Green)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Refused);
    assert!(err.message.contains("unknown directive"), "{}", err.message);
    assert!(
        err.message.contains("traffic is unchanged"),
        "{}",
        err.message
    );
    assert_eq!(std::fs::read_to_string(&upstream).unwrap(), routing_before);
    assert_eq!(fx.proxy_version().await, "1.0.0");
    assert_eq!(fx.target.status(&fx.t).await.unwrap().live, Some(Leg::Blue));
}

#[tokio::test]
async fn a_damaged_leg_record_is_reported_as_unknown_and_a_new_deploy_replaces_it() {
    let fx = fixture();
    fx.go_live("p1", Leg::Blue, "1.0.0").await;
    fx.deploy("p2/deploy", Leg::Green, "1.1.0").await;
    let record = fx.target.root().join("demo-web/prod/green/leg.json");
    std::fs::write(&record, b"{\"version\": ").unwrap();

    let status = fx.target.status(&fx.t).await.unwrap();
    let green = status.leg(Leg::Green).unwrap();
    assert!(
        green.running && green.version.is_none() && green.digest.is_none(),
        "{green:?}"
    );
    let health = fx.target.health_check(&fx.t, Leg::Green).await.unwrap();
    assert!(!health.passed);
    assert!(
        health.failure.as_deref().unwrap().contains("unknown"),
        "{health:?}"
    );
    let err = fx
        .target
        .switch_traffic(&key("p2/switch"), &fx.t, Leg::Green)
        .await
        .unwrap_err();
    assert!(
        err.message.contains("nothing known is deployed"),
        "{}",
        err.message
    );

    fx.deploy("p3/deploy", Leg::Green, "1.1.0").await;
    assert!(
        fx.target
            .health_check(&fx.t, Leg::Green)
            .await
            .unwrap()
            .passed
    );
    let log =
        std::fs::read_to_string(fx.target.root().join("demo-web/prod/green/service.log")).unwrap();
    assert!(
        log.contains("stopped on SIGTERM"),
        "the old process did not exit cleanly: {log}"
    );
}

#[test]
fn a_location_is_checked_against_the_recorded_digest_before_it_is_recorded() {
    use release_desk_local_target::check_location;
    let fx = fixture();
    let good = fx.packaged("1.1.0");
    let path = good.path.display().to_string();
    check_location(&path, &good.digest).unwrap();

    let other = fx.packaged("1.0.0");
    let err = check_location(&other.path.display().to_string(), &good.digest).unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Refused, "{}", err.message);
    assert!(
        err.message.contains("it is a different build"),
        "{}",
        err.message
    );

    let err = check_location("artefacts/demo-web-1.1.0.tar.gz", &good.digest).unwrap_err();
    assert!(
        err.message.contains("not an absolute path"),
        "{}",
        err.message
    );

    let dir = fx.dir.path().display().to_string();
    let err = check_location(&dir, &good.digest).unwrap_err();
    assert!(err.message.contains("is a folder"), "{}", err.message);

    let missing = fx.dir.path().join("gone.tar.gz").display().to_string();
    let err = check_location(&missing, &good.digest).unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Io, "{}", err.message);
    assert!(err.message.contains("gone.tar.gz"), "{}", err.message);
}

/// Runs `f` on a thread and fails the test if it has not returned within
/// 10 s (a FIFO opened for reading blocks until a writer comes).
fn within_seconds<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what} hung"))
}

/// Issue 12, findings 8 and the fault list: a location swapped for a FIFO,
/// /dev/zero, a symlink or a file larger than the target accepts is refused
/// with what to do, and nothing hangs or reads without end.
#[test]
fn special_files_at_an_artefact_location_are_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.tar.gz");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let real = dir.path().join("real.tar.gz");
    std::fs::write(&real, b"bytes").unwrap();
    let link = dir.path().join("link.tar.gz");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let big = dir.path().join("big.tar.gz");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(65 * 1024 * 1024)
        .unwrap();
    let digest = Digest::parse(&"0".repeat(64)).unwrap();
    for (path, expected) in [
        (fifo, "not a regular file"),
        (std::path::PathBuf::from("/dev/zero"), "not a regular file"),
        (link, "symbolic link"),
        (big, "more than"),
    ] {
        let (p, d) = (path.display().to_string(), digest.clone());
        let err = within_seconds(&p.clone(), move || {
            release_desk_local_target::check_location(&p, &d).unwrap_err()
        });
        assert_eq!(
            err.kind,
            ProviderErrorKind::Refused,
            "{}: {}",
            path.display(),
            err.message
        );
        assert!(
            err.message.contains(expected),
            "{}: {}",
            path.display(),
            err.message
        );
    }
}

#[tokio::test]
async fn a_deploy_from_a_fifo_is_refused_without_hanging() {
    let fx = fixture();
    let fifo = fx.dir.path().join("swapped.tar.gz");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let swapped = ArtefactRef {
        location: fifo.display().to_string(),
        ..fx.artefact("1.0.0")
    };
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        fx.target
            .deploy(&key("fifo/deploy"), &fx.t, Leg::Blue, &swapped),
    )
    .await
    .expect("the deploy hung on a FIFO")
    .unwrap_err();
    assert!(
        err.message.contains("not a regular file"),
        "{}",
        err.message
    );
}

/// Issue 12, finding 2: a kill between writing `upstream.conf` and reloading
/// nginx left a file that says green while nginx still routes to blue. The
/// target reported green as live, the resumed switch trusted the file and
/// skipped the reload, and the next deploy would have stopped the leg that
/// really takes traffic. What the proxy serves is the truth.
#[tokio::test]
async fn a_switch_interrupted_before_the_reload_is_finished_on_resume() {
    let fx = fixture();
    fx.go_live("p1", Leg::Blue, "1.0.0").await;
    fx.deploy("p2/deploy", Leg::Green, "1.1.0").await;
    let upstream = fx.target.root().join("demo-web/prod/nginx/upstream.conf");
    // The file a switch to green writes, obtained honestly, then blue again.
    fx.switch("probe/green", Leg::Green).await;
    let green_file = std::fs::read_to_string(&upstream).unwrap();
    fx.switch("probe/blue", Leg::Blue).await;
    assert_eq!(fx.proxy_version().await, "1.0.0");
    // The kill: the new file is in place, nginx was never reloaded.
    std::fs::write(&upstream, &green_file).unwrap();
    assert_eq!(
        fx.proxy_version().await,
        "1.0.0",
        "nginx still routes to blue"
    );

    assert_eq!(
        fx.target.status(&fx.t).await.unwrap().live,
        Some(Leg::Blue),
        "the target reports what the proxy serves, not what the file says"
    );
    let report = fx
        .target
        .switch_traffic(&key("p2/switch"), &fx.t, Leg::Green)
        .await
        .unwrap();
    assert!(!report.summary.contains("already"), "{}", report.summary);
    assert_eq!(
        fx.proxy_version().await,
        "1.1.0",
        "the resumed switch reloads nginx"
    );
    assert_eq!(
        fx.target.status(&fx.t).await.unwrap().live,
        Some(Leg::Green)
    );
}
