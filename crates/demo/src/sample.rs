//! The demo's real deployable service: `demo-web`, packaged and signed when
//! the demo is created, bound to the local nginx blue-green target in every
//! environment, with approved change records to promote it — so a new user
//! can promote, watch a smoke test refuse a bad release, watch a soak failure
//! switch traffic back, and roll back, with no cloud account.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use release_desk_changes::{ArtefactRef, ChangeDraft, ChangeType, Profile, Transition, Verdict};
use release_desk_domain::{Artefact, ArtefactDraft, Commit, Service, Slug, WorkspaceSeed};
use release_desk_local_target::{
    package, sample_versions, PackagedArtefact, SigningKey, SAMPLE_SERVICE,
};
use release_desk_promotion::{SoakThresholds, Strategy};
use release_desk_store::{Store, TargetBinding};

#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("could not package the demo service: {0}")]
    Package(String),
    #[error(transparent)]
    Store(#[from] release_desk_store::StoreError),
    #[error("the demo has no {0}: the demo script changed without this file")]
    Missing(&'static str),
}

/// The packaged versions and the public half of the key that signed them
/// (the secret half is dropped with the [`SigningKey`]: nothing more will be
/// signed with it).
pub struct SamplePackages {
    pub packages: Vec<PackagedArtefact>,
    pub public_key: String,
}

fn slug(s: &str) -> Slug {
    // Proven infallible: literals below are valid keys (the demo tests load them).
    Slug::parse(s).expect("literal demo keys are valid")
}

/// Packs and signs every sample version into `dir` with a key made for this
/// demo alone.
pub fn package_samples(dir: &Path) -> Result<SamplePackages, SampleError> {
    let key = SigningKey::generate().map_err(|e| SampleError::Package(e.to_string()))?;
    let service = slug(SAMPLE_SERVICE);
    let packages = sample_versions()
        .into_iter()
        .map(|v| package(dir, &service, v.version, v.behaviour, &key))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SampleError::Package(e.to_string()))?;
    Ok(SamplePackages {
        packages,
        public_key: key.public_key(),
    })
}

/// Adds `demo-web` and its signed artefacts to the demo's seed.
pub fn add_sample_service(
    seed: &mut WorkspaceSeed,
    samples: &SamplePackages,
    now: DateTime<Utc>,
) -> Result<(), SampleError> {
    seed.services.push(
        Service::new(
            SAMPLE_SERVICE,
            "Demo web (local blue-green)",
            Some("Platform"),
            None,
        )
        .map_err(|e| SampleError::Package(e.to_string()))?,
    );
    let purposes = sample_versions();
    for (i, p) in samples.packages.iter().enumerate() {
        let purpose = purposes.get(i).map_or("a release", |v| v.purpose);
        let age = Duration::hours(i64::try_from(samples.packages.len() - i).unwrap_or(1) * 6);
        let commit = format!("{:0>7x}", 0x0de_0000 + i);
        seed.artefacts.push(
            Artefact::new(ArtefactDraft {
                service: slug(SAMPLE_SERVICE),
                name: SAMPLE_SERVICE.into(),
                version: p.manifest.version.clone(),
                digest: p.digest.hex().to_owned(),
                source_commit: commit.clone(),
                build_url: None,
                created_at: now - age,
                signature: Some(p.signature.clone()),
                commits: vec![Commit {
                    sha: commit,
                    summary: format!("demo-web {}: {purpose}", p.manifest.version),
                    author: "Demo pipeline".into(),
                }],
            })
            .map_err(|e| SampleError::Package(e.to_string()))?,
        );
    }
    Ok(())
}

/// Soak length per environment: short where people iterate, longer nearer live.
fn soak_secs(environment: &str) -> u32 {
    match environment {
        "dev" | "test" => 8,
        "uat" => 15,
        _ => 30,
    }
}

/// After the workspace and its people exist: where the bytes are, the target
/// bindings, the trusted key, and approved changes to promote with.
pub async fn install_sample_service(
    store: &Store,
    samples: &SamplePackages,
    release_manager: &Profile,
    change_manager: &Profile,
    now: DateTime<Utc>,
) -> Result<(), SampleError> {
    let service = slug(SAMPLE_SERVICE);
    for p in &samples.packages {
        store
            .set_artefact_location(
                &service,
                &p.manifest.version,
                &p.path.display().to_string(),
                release_manager,
                now,
            )
            .await?;
    }
    let path = store
        .path_to_live()
        .await?
        .ok_or(SampleError::Missing("path to live"))?;
    for env in path.stages() {
        store
            .bind_target(
                &TargetBinding {
                    service: service.clone(),
                    environment: env.key.clone(),
                    provider: "local-nginx".into(),
                    strategy: Strategy::BlueGreen,
                    soak_secs: soak_secs(env.key.as_str()),
                    thresholds: SoakThresholds::default(),
                },
                release_manager,
                now,
            )
            .await?;
    }
    store
        .add_trusted_key(
            &samples.public_key,
            "Demo build pipeline",
            release_manager,
            now,
        )
        .await?;
    let plans = [
        (
            "1.0.0",
            vec!["dev", "test"],
            "Ship demo-web 1.0.0, the first release",
        ),
        (
            "1.1.0",
            vec!["dev", "test"],
            "Ship demo-web 1.1.0 to dev and test",
        ),
        (
            "1.2.0",
            vec!["dev"],
            "Try demo-web 1.2.0 in dev (its smoke test fails)",
        ),
        (
            "1.3.0",
            vec!["dev"],
            "Try demo-web 1.3.0 in dev (it fails under soak)",
        ),
    ];
    for (version, envs, title) in plans {
        let draft = ChangeDraft {
            kind: ChangeType::Normal,
            template: None,
            title: title.into(),
            description: "A real blue-green promotion on this machine, through the local nginx target."
                .into(),
            services: vec![],
            environments: envs.iter().map(|e| slug(e)).collect(),
            artefact: ArtefactRef {
                service: service.clone(),
                version: version.into(),
            },
            planned_start: now - Duration::minutes(10),
            planned_end: now + Duration::hours(8),
            implementation_plan: "Promote through Release Desk: deploy to the idle leg, smoke test, switch, soak.".into(),
            backout_plan: "Automatic switch back to the previous leg; Roll back from the dashboard.".into(),
            test_plan: "Smoke tests on the idle leg, then a soak against error-rate and latency thresholds.".into(),
            assignee: None,
            links: vec![],
            rollback_possible: true,
            no_rollback_justification: None,
            schema_migration: false,
            files_changed: Some(2),
        };
        let r = store.raise_change(draft, release_manager, now).await?;
        let r = store
            .move_change(r.id, r.revision, Transition::Submit, release_manager, now)
            .await?;
        let r = store
            .move_change(
                r.id,
                r.revision,
                Transition::RequestApproval,
                release_manager,
                now,
            )
            .await?;
        store
            .decide(
                r.id,
                r.revision,
                Verdict::Approve,
                "Approved for the demo",
                change_manager,
                now,
            )
            .await?;
    }
    Ok(())
}
