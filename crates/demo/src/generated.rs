//! Large synthetic workspaces for benchmarks: N services × M stages with a
//! given number of deployments, spread evenly back in time from `now`.

use chrono::{DateTime, Duration, Utc};
use release_desk_domain::{
    Artefact, ArtefactDraft, Deployment, DeploymentDraft, Environment, Leg, Outcome, PathToLive,
    Service, Slug, WorkspaceSeed,
};

use crate::ids::{commit_of, digest_of};

/// A workspace with `services` services, `stages` environments and exactly
/// `deployments` deployments. Each build walks the stages in order; one in
/// forty deployments fails, so every query path sees more than one outcome.
pub fn generated_workspace(
    services: usize,
    stages: usize,
    deployments: usize,
    now: DateTime<Utc>,
) -> WorkspaceSeed {
    let stages = stages.max(1);
    let services = services.max(1);
    let path: Vec<Environment> = (0..stages)
        .map(|i| {
            let key = format!("stage-{i}");
            Environment::new(&key, &format!("Stage {i}"), i + 1 == stages)
                .expect("generated keys are valid")
        })
        .collect();
    let path_to_live = PathToLive::new(path).expect("generated keys are distinct");
    let mut rng = fastrand::Rng::with_seed(42);

    let service_list: Vec<Service> = (0..services)
        .map(|i| {
            Service::new(
                &format!("service-{i:03}"),
                &format!("Service {i:03}"),
                Some("Generated"),
                None,
            )
            .expect("generated keys are valid")
        })
        .collect();

    // A failure ends a build's walk along the stages (about one build in six
    // with eight stages), so plan a margin of builds; the loop stops at the
    // exact count whatever the margin turns out to be.
    let planned_builds = (deployments as f64 / (services * stages) as f64 * 1.3)
        .ceil()
        .max(1.0) as i32;
    let span = Duration::days(730);
    let step = span / planned_builds;
    let mut artefacts = Vec::new();
    let mut out = Vec::with_capacity(deployments);

    let mut build = 0usize;
    'outer: while out.len() < deployments {
        for service in &service_list {
            let version = format!("{}.{}.{}", 1 + build / 1000, (build / 10) % 100, build % 10);
            let key = service.key.as_str();
            let built_at = (now - span + step * build as i32 + Duration::minutes(rng.i64(0..60)))
                .min(now - Duration::hours(3));
            let artefact = Artefact::new(ArtefactDraft {
                service: service.key.clone(),
                name: key.to_owned(),
                version: version.clone(),
                digest: digest_of(&format!("{key}@{version}")),
                source_commit: commit_of(&format!("{key}@{version}")),
                build_url: None,
                created_at: built_at,
                signature: None,
                commits: Vec::new(),
            })
            .expect("generated artefacts are valid");
            for (i, env) in path_to_live.stages().iter().enumerate() {
                let started_at = built_at + Duration::minutes(15 * i as i64);
                let failed = rng.u8(..40) == 0;
                out.push(
                    Deployment::new(
                        DeploymentDraft {
                            service: service.key.clone(),
                            environment: Slug::parse(env.key.as_str())
                                .expect("generated keys are valid"),
                            version: version.clone(),
                            leg: Some(if build.is_multiple_of(2) {
                                Leg::Blue
                            } else {
                                Leg::Green
                            }),
                            started_at,
                            finished_at: Some(started_at + Duration::minutes(5)),
                            actor: "Generator".into(),
                            outcome: if failed {
                                Outcome::Failed
                            } else {
                                Outcome::Succeeded
                            },
                            failure_reason: failed
                                .then(|| "Smoke test failed: GET /health returned 503".into()),
                        },
                        &artefact,
                    )
                    .expect("generated deployments are consistent"),
                );
                if failed || out.len() == deployments {
                    break;
                }
            }
            artefacts.push(artefact);
            if out.len() == deployments {
                break 'outer;
            }
        }
        build += 1;
    }

    WorkspaceSeed {
        name: format!("Generated {services}×{stages}, {deployments} deployments"),
        demo: false,
        path_to_live,
        services: service_list,
        artefacts,
        deployments: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn produces_exactly_the_requested_shape() {
        let now = Utc::now();
        let w = generated_workspace(5, 4, 1_000, now);
        assert_eq!(w.services.len(), 5);
        assert_eq!(w.path_to_live.stages().len(), 4);
        // Failures end a build's walk early, so the count can fall short of the
        // target only when builds run out; the generator plans enough for that.
        assert!(
            w.deployments.len() <= 1_000 && w.deployments.len() > 900,
            "{}",
            w.deployments.len()
        );
        assert!(w.deployments.iter().any(|d| d.outcome() == Outcome::Failed));
    }
}
