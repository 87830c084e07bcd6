//! No request fails while traffic moves: load through nginx during a switch
//! and during a roll back.

mod common;

use std::time::Duration;

use common::{fixture, key};
use release_desk_domain::Leg;
use release_desk_local_target::load::{self, LoadConfig};
use release_desk_provider::{DeploymentTarget, RollbackPlan};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_and_rolling_back_under_load_drops_no_request() {
    let fx = fixture();
    fx.go_live("p1", Leg::Blue, "1.0.0").await;
    fx.deploy("p2/deploy", Leg::Green, "1.1.0").await;

    let config = LoadConfig {
        workers: 8,
        duration: Duration::from_secs(5),
        ..LoadConfig::new(fx.proxy_url())
    };
    let running = tokio::spawn(async move { load::run(&config).await });
    tokio::time::sleep(Duration::from_millis(1200)).await;
    fx.switch("p2/switch", Leg::Green).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    fx.target
        .roll_back(
            &key("p2/rollback"),
            &fx.t,
            &RollbackPlan::SwitchTo { leg: Leg::Blue },
        )
        .await
        .unwrap();
    let report = running.await.unwrap().unwrap();
    eprintln!("{report:#?}");

    assert_eq!(report.failed, 0, "{:?}", report.failures);
    assert!(report.requests > 500, "{report:?}");
    assert!(
        report.versions.contains_key("1.0.0") && report.versions.contains_key("1.1.0"),
        "{report:?}"
    );
    assert_eq!(fx.proxy_version().await, "1.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_under_load_drops_no_request() {
    let fx = fixture();
    fx.go_live("p1", Leg::Blue, "1.0.0").await;

    let config = LoadConfig {
        workers: 8,
        duration: Duration::from_secs(5),
        ..LoadConfig::new(fx.proxy_url())
    };
    let running = tokio::spawn(async move { load::run(&config).await });
    tokio::time::sleep(Duration::from_millis(800)).await;
    fx.target
        .rolling_update(&key("p2/roll"), &fx.t, &fx.artefact("1.1.0"))
        .await
        .unwrap();
    let report = running.await.unwrap().unwrap();
    eprintln!("{report:#?}");

    assert_eq!(report.failed, 0, "{:?}", report.failures);
    assert!(report.requests > 500, "{report:?}");
    assert!(report.versions.contains_key("1.1.0"), "{report:?}");
}
