//! A workspace with the sample service on a real local nginx target, for the
//! engine's tests: packaged and signed artefacts, a trusted key, approved
//! change records and a release manager.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use release_desk_changes::{
    ArtefactRef as ChangeArtefact, ChangeDraft, ChangeRecord, ChangeType, Profile, ProfileDraft,
    Transition, Verdict,
};
use release_desk_domain::{
    Artefact, ArtefactDraft, Environment, PathToLive, Service, Slug, WorkspaceSeed,
};
use release_desk_engine::{Engine, EngineSettings};
use release_desk_local_target::{
    package, sample_versions, LocalTarget, LocalTargetConfig, SigningKey,
};
use release_desk_promotion::{Promotion, SoakThresholds, Strategy};
use release_desk_provider::DeploymentTarget;
use release_desk_store::{Store, TargetBinding, DATABASE_FILE};

pub fn slug(s: &str) -> Slug {
    Slug::parse(s).unwrap()
}

/// The sample service binary, built by `make test` before the tests run.
pub fn service_binary() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/debug/release-desk-sample-service");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p release-desk-local-target --bins` (make test does)",
        path.display()
    );
    path
}

pub struct World {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub priya: Profile,
    pub sam: Profile,
    pub key: String,
    pub updates: Arc<Mutex<Vec<Promotion>>>,
}

impl World {
    pub fn target(&self) -> Arc<LocalTarget> {
        let config = LocalTargetConfig::new(self.dir.path().join("local-target"), service_binary());
        Arc::new(LocalTarget::new(config).unwrap())
    }

    pub fn engine(&self, target: Arc<LocalTarget>) -> Engine {
        let updates = self.updates.clone();
        Engine::new(
            self.store.clone(),
            vec![target as Arc<dyn DeploymentTarget>],
            Arc::new(move |p: &Promotion| updates.lock().unwrap().push(p.clone())),
            EngineSettings {
                sample: Duration::from_millis(1_000),
                retry_pause: Duration::from_millis(100),
                poll: Duration::from_millis(50),
            },
        )
    }

    /// Starts a promotion of demo-web `version` in dev without running it,
    /// for tests that run it themselves; `live` is the leg serving now, as
    /// the target reported it.
    pub async fn start_unrun(
        &self,
        key: &str,
        version: &str,
        live: Option<&release_desk_provider::LegStatus>,
    ) -> i64 {
        let current = live.map(|l| release_desk_promotion::Release {
            version: l.version.clone().unwrap(),
            digest: l.digest.clone().unwrap(),
            leg: Some(l.leg),
        });
        self.store
            .start_promotion(
                &release_desk_store::PromotionRequest {
                    request_key: key.into(),
                    kind: release_desk_promotion::PromotionKind::Promote,
                    service: slug("demo-web"),
                    environment: slug("dev"),
                    version: version.into(),
                },
                release_desk_store::TargetSnapshot {
                    current,
                    ready_leg: None,
                },
                &self.priya,
                Utc::now(),
            )
            .await
            .unwrap()
            .record
            .promotion
            .id
    }

    /// A normal change for `version` in `envs`, planned around now, approved.
    pub async fn approved_change(&self, version: &str, envs: &[&str]) -> ChangeRecord {
        self.approved_change_by(version, envs, &self.sam).await
    }

    /// The same, approved by `approver`.
    pub async fn approved_change_by(
        &self,
        version: &str,
        envs: &[&str],
        approver: &Profile,
    ) -> ChangeRecord {
        let now = Utc::now();
        let draft = ChangeDraft {
            kind: ChangeType::Normal,
            template: None,
            title: format!("Ship demo-web {version}"),
            description: String::new(),
            services: vec![],
            environments: envs.iter().map(|e| slug(e)).collect(),
            artefact: ChangeArtefact {
                service: slug("demo-web"),
                version: version.into(),
            },
            planned_start: now - chrono::Duration::minutes(5),
            planned_end: now + chrono::Duration::hours(2),
            implementation_plan: "Blue-green promotion".into(),
            backout_plan: "Switch back to the previous leg".into(),
            test_plan: "Smoke tests and a soak".into(),
            assignee: None,
            links: vec![],
            rollback_possible: true,
            no_rollback_justification: None,
            schema_migration: false,
            files_changed: Some(2),
        };
        let s = &self.store;
        let r = s.raise_change(draft, &self.priya, now).await.unwrap();
        let r = s
            .move_change(r.id, r.revision, Transition::Submit, &self.priya, now)
            .await
            .unwrap();
        let r = s
            .move_change(
                r.id,
                r.revision,
                Transition::RequestApproval,
                &self.priya,
                now,
            )
            .await
            .unwrap();
        s.decide(r.id, r.revision, Verdict::Approve, "fine", approver, now)
            .await
            .unwrap()
    }
}

/// Stops every nginx and leg process under the test's folder, even when
/// the test panicked, so no process outlives its test.
impl Drop for World {
    fn drop(&mut self) {
        let config = LocalTargetConfig::new(self.dir.path().join("local-target"), service_binary());
        if let Ok(target) = LocalTarget::new(config) {
            let _ = target.shutdown_all_blocking();
        }
    }
}

pub async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(&dir.path().join(DATABASE_FILE)).await.unwrap();
    let now = Utc::now();
    let signer = SigningKey::generate().unwrap();
    let service = slug("demo-web");
    let mut artefacts = Vec::new();
    let mut packaged = Vec::new();
    for v in sample_versions() {
        let p = package(
            &dir.path().join("artefacts"),
            &service,
            v.version,
            v.behaviour,
            &signer,
        )
        .unwrap();
        // The package is signed over the statement the gates verify.
        let signature = p.signature.clone();
        assert!(release_desk_provider::verify_artefact_signature(
            &service,
            v.version,
            &p.digest,
            Some(&signature),
            &[signer.public_key()]
        )
        .is_ok());
        artefacts.push(
            Artefact::new(ArtefactDraft {
                service: service.clone(),
                name: "demo-web".into(),
                version: v.version.into(),
                digest: p.digest.hex().to_owned(),
                source_commit: "abcdef1".into(),
                build_url: None,
                created_at: now - chrono::Duration::hours(1),
                signature: Some(signature),
                commits: vec![],
            })
            .unwrap(),
        );
        packaged.push(p);
    }
    let seed = WorkspaceSeed {
        name: "Engine test".into(),
        demo: false,
        path_to_live: PathToLive::new(vec![
            Environment::new("dev", "Development", false).unwrap(),
            Environment::new("test", "Test", false).unwrap(),
        ])
        .unwrap(),
        services: vec![Service::new("demo-web", "Demo web", None, None).unwrap()],
        artefacts,
        deployments: vec![],
    };
    store.load_workspace(&seed, now).await.unwrap();
    let mk = |name: &str, roles: &[&str]| ProfileDraft {
        name: name.into(),
        email: format!("{}@example.org", name.to_lowercase()),
        roles: roles.iter().map(|r| slug(r)).collect(),
    };
    let priya = store
        .create_profile(mk("Priya", &["release-manager"]), now)
        .await
        .unwrap();
    let sam = store
        .create_profile(mk("Sam", &["change-manager"]), now)
        .await
        .unwrap();
    for p in &packaged {
        store
            .set_artefact_location(
                &service,
                &p.manifest.version,
                &p.path.display().to_string(),
                &priya,
                now,
            )
            .await
            .unwrap();
    }
    for env in ["dev", "test"] {
        store
            .bind_target(
                &TargetBinding {
                    service: service.clone(),
                    environment: slug(env),
                    provider: "local-nginx".into(),
                    strategy: Strategy::BlueGreen,
                    soak_secs: 4,
                    // Errors decide these tests; latency and the probe rate are
                    // judged generously so a busy 2-core machine (the full test
                    // run starts many processes) does not fail a healthy soak.
                    thresholds: SoakThresholds {
                        max_p95_ms: 5_000.0,
                        min_requests: 1,
                        ..SoakThresholds::default()
                    },
                },
                &priya,
                now,
            )
            .await
            .unwrap();
    }
    let key = signer.public_key();
    store
        .add_trusted_key(&key, "Test pipeline", &priya, now)
        .await
        .unwrap();
    World {
        dir,
        store,
        priya,
        sam,
        key,
        updates: Arc::new(Mutex::new(Vec::new())),
    }
}
