//! The target's own rolling update (both legs serving as two instances,
//! replaced one at a time) and roll back by redeploying.

mod common;

use std::collections::BTreeSet;

use common::{fixture, key};
use release_desk_domain::Leg;
use release_desk_local_target::{UPSTREAM_HEADER, VERSION_HEADER};
use release_desk_provider::{DeploymentTarget, ProviderErrorKind, RollbackPlan};

/// The versions and upstreams seen over `n` fresh requests to the proxy.
async fn sample(url: &str, n: usize) -> (BTreeSet<String>, BTreeSet<String>) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut versions = BTreeSet::new();
    let mut upstreams = BTreeSet::new();
    for _ in 0..n {
        let response = client.get(url).send().await.unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        versions.insert(
            response.headers()[VERSION_HEADER]
                .to_str()
                .unwrap()
                .to_owned(),
        );
        upstreams.insert(
            response.headers()[UPSTREAM_HEADER]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    (versions, upstreams)
}

#[tokio::test]
async fn a_rolling_update_replaces_both_instances_and_a_failing_one_is_put_back() {
    let fx = fixture();
    fx.go_live("p1", Leg::Blue, "1.0.0").await;

    let report = fx
        .target
        .rolling_update(&key("p2/roll"), &fx.t, &fx.artefact("1.1.0"))
        .await
        .unwrap();
    assert!(report.summary.contains("1.1.0"), "{report:?}");
    let status = fx.target.status(&fx.t).await.unwrap();
    assert_eq!(status.live, Some(Leg::Blue));
    for leg in &status.legs {
        assert_eq!(leg.version.as_deref(), Some("1.1.0"), "{leg:?}");
        assert!(leg.running && leg.healthy == Some(true), "{leg:?}");
    }
    let (versions, upstreams) = sample(&fx.proxy_url(), 20).await;
    assert_eq!(versions, BTreeSet::from(["1.1.0".to_owned()]));
    assert_eq!(
        upstreams.len(),
        2,
        "both instances should serve: {upstreams:?}"
    );

    let err = fx
        .target
        .rolling_update(&key("p3/roll"), &fx.t, &fx.artefact("1.2.0"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Refused);
    assert!(
        err.message.contains("failed its health check"),
        "{}",
        err.message
    );
    assert!(err.message.contains("runs 1.1.0 again"), "{}", err.message);
    let (versions, upstreams) = sample(&fx.proxy_url(), 20).await;
    assert_eq!(versions, BTreeSet::from(["1.1.0".to_owned()]));
    assert_eq!(
        upstreams.len(),
        2,
        "both instances should still serve: {upstreams:?}"
    );
    let status = fx.target.status(&fx.t).await.unwrap();
    assert!(
        status
            .legs
            .iter()
            .all(|l| l.version.as_deref() == Some("1.1.0") && l.running),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_roll_back_by_redeploying_puts_the_good_version_live_again() {
    let fx = fixture();
    fx.go_live("p1", Leg::Blue, "1.0.0").await;
    fx.go_live("p2", Leg::Green, "1.1.0").await;
    fx.target
        .rolling_update(&key("p3/roll"), &fx.t, &fx.artefact("1.3.0"))
        .await
        .unwrap();

    let plan = RollbackPlan::Redeploy {
        artefact: fx.artefact("1.0.0"),
    };
    let report = fx
        .target
        .roll_back(&key("p3/rollback"), &fx.t, &plan)
        .await
        .unwrap();
    assert!(report.summary.contains("1.0.0"), "{report:?}");
    let (versions, _) = sample(&fx.proxy_url(), 10).await;
    assert_eq!(versions, BTreeSet::from(["1.0.0".to_owned()]));
    let status = fx.target.status(&fx.t).await.unwrap();
    assert_eq!(
        status.live,
        Some(Leg::Blue),
        "the idle leg after the rolling update was blue"
    );
}
