//! What every integration test needs: a target over its own temporary root
//! with the sample versions packaged and signed, stopped (every nginx and
//! leg) when the test ends, however it ends.

#![allow(dead_code)] // Each test binary uses a different part of this.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use release_desk_domain::{Leg, Slug};
use release_desk_local_target::{
    package, sample_versions, LocalTarget, LocalTargetConfig, PackagedArtefact, SigningKey,
    SAMPLE_SERVICE, VERSION_HEADER,
};
use release_desk_provider::{ActionKey, ArtefactRef, DeploymentTarget, TargetRef};

pub struct Fixture {
    pub target: Arc<LocalTarget>,
    pub t: TargetRef,
    pub key: SigningKey,
    artefacts: HashMap<String, PackagedArtefact>,
    pub dir: tempfile::TempDir,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Runs on panics too, so a failing test leaves no process behind.
        if let Err(e) = self.target.shutdown_all_blocking() {
            eprintln!("could not stop the target's processes: {}", e.message);
        }
    }
}

pub fn config(root: &std::path::Path) -> LocalTargetConfig {
    LocalTargetConfig::new(root, env!("CARGO_BIN_EXE_release-desk-sample-service"))
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let service = Slug::parse(SAMPLE_SERVICE).unwrap();
    let artefacts = sample_versions()
        .into_iter()
        .map(|v| {
            let packed = package(
                &dir.path().join("artefacts"),
                &service,
                v.version,
                v.behaviour,
                &key,
            )
            .unwrap();
            (v.version.to_owned(), packed)
        })
        .collect();
    let target = LocalTarget::new(config(&dir.path().join("root"))).unwrap();
    Fixture {
        target: Arc::new(target),
        t: TargetRef {
            service,
            environment: Slug::parse("prod").unwrap(),
        },
        key,
        artefacts,
        dir,
    }
}

impl Fixture {
    pub fn artefact(&self, version: &str) -> ArtefactRef {
        self.artefacts[version]
            .artefact_ref(vec![self.key.public_key()])
            .unwrap()
    }

    pub fn packaged(&self, version: &str) -> &PackagedArtefact {
        &self.artefacts[version]
    }

    pub fn proxy_url(&self) -> String {
        self.target.proxy_url(&self.t).unwrap()
    }

    pub async fn deploy(&self, name: &str, leg: Leg, version: &str) {
        let report = self
            .target
            .deploy(&key(name), &self.t, leg, &self.artefact(version))
            .await
            .unwrap_or_else(|e| panic!("deploy {version} to {leg:?}: {}", e.message));
        assert!(!report.replayed);
    }

    pub async fn switch(&self, name: &str, leg: Leg) {
        self.target
            .switch_traffic(&key(name), &self.t, leg)
            .await
            .unwrap_or_else(|e| panic!("switch to {leg:?}: {}", e.message));
    }

    /// Deploys to a leg and sends traffic to it.
    pub async fn go_live(&self, name: &str, leg: Leg, version: &str) {
        self.deploy(&format!("{name}/deploy"), leg, version).await;
        self.switch(&format!("{name}/switch"), leg).await;
    }

    /// The version the proxy answers as, on a fresh connection.
    pub async fn proxy_version(&self) -> String {
        answer_version(&self.proxy_url()).await
    }
}

pub fn key(name: &str) -> ActionKey {
    ActionKey::new(name).unwrap()
}

pub async fn answer_version(url: &str) -> String {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let response = client.get(url).send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{url} answered {}",
        response.status()
    );
    response.headers()[VERSION_HEADER]
        .to_str()
        .unwrap()
        .to_owned()
}

/// A tarball a byte different from `packed`, at a new path.
pub fn tampered_copy(packed: &PackagedArtefact, dir: &std::path::Path) -> std::path::PathBuf {
    let mut bytes = std::fs::read(&packed.path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let path = dir.join("tampered.tar.gz");
    std::fs::write(&path, bytes).unwrap();
    path
}
