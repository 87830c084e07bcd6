//! Deploying an artefact onto one leg: check it, unpack it beside the leg,
//! stop what ran there, move the new files into place, start the service on
//! the leg's port and wait until it answers. If it never answers, the version
//! that ran there before is put back, so a failed deploy leaves the leg as it
//! was rather than half-changed.

use std::time::Instant;

use release_desk_domain::Leg;
use release_desk_provider::{ArtefactRef, StepReport, TargetRef};

use crate::artefact;
use crate::error::{refused, Result};
use crate::legs;
use crate::ports;
use crate::state::write_json;
use crate::target::{blocking, check_service, short_digest, LocalTarget};

impl LocalTarget {
    /// The body of [`DeploymentTarget::deploy`](release_desk_provider::DeploymentTarget::deploy);
    /// the caller holds the service's lock.
    pub(crate) async fn deploy_to_leg(
        &self,
        target: &TargetRef,
        leg: Leg,
        artefact: &ArtefactRef,
    ) -> Result<StepReport> {
        check_service(target, artefact)?;
        let layout = self.layout(target);
        // Either the file or the proxy saying the leg serves is enough to
        // leave it alone (they differ after a kill before a reload).
        let installed = self.live_routing(&layout);
        let served = self.served_routing(target, &layout).await?;
        for routing in installed.iter().chain(served.iter()) {
            if routing.serves(leg) {
                return Err(refused(format!(
                    "{} is taking traffic for {}: deploy to the idle leg, or switch traffic away first",
                    leg.as_str(),
                    layout.label
                )));
            }
        }
        self.deploy_unrouted(target, leg, artefact).await
    }

    /// Deploys onto a leg the caller has made sure takes no traffic.
    pub(crate) async fn deploy_unrouted(
        &self,
        target: &TargetRef,
        leg: Leg,
        artefact: &ArtefactRef,
    ) -> Result<StepReport> {
        let layout = self.layout(target);
        let paths = layout.leg(leg);
        let mut log = Vec::new();

        // Nothing on the leg changes until the bytes have passed every check.
        let trusted = artefact.trusted_keys.clone();
        let reference = artefact.clone();
        let staging = paths.staging();
        let leg_dir = paths.dir.clone();
        let staged = blocking(move || {
            sweep_stale_staging(&leg_dir, STALE_STAGING);
            let verified = artefact::verify(&reference, &trusted)?;
            let key_id = verified.key_id.clone();
            artefact::stage(&verified, &reference, staging).map(|staged| (staged, key_id))
        })
        .await;
        let (staged, key_id) = staged?;
        log.push(format!("{} matches the recorded digest", artefact.digest));
        log.push(format!("signature verified with trusted key {key_id}"));
        log.push(format!(
            "unpacked {} files ({} bytes) beside {}",
            staged.files,
            staged.bytes,
            paths.dir.display()
        ));

        let before = legs::read(&self.config.service_binary, &paths);
        let old_record = before.record().cloned();
        let was_running = before.running();
        if was_running {
            let binary = self.config.service_binary.clone();
            let stop_paths = paths.clone();
            let killed = blocking(move || legs::stop(&binary, &stop_paths)).await?;
            let what = old_record
                .as_ref()
                .map_or("the old process", |r| r.version.as_str());
            log.push(if killed {
                format!("stopped {what} (it had to be killed)")
            } else {
                format!("stopped {what}")
            });
        }
        legs::install(&paths, &staged, old_record.as_ref())?;
        crate::crash::point(crate::crash::DEPLOY_AFTER_INSTALL);

        let mut port = self.assigned_ports(target)?.leg(leg);
        if !ports::is_free(port) {
            let taken = port;
            port = self.reassign_leg_port(target, leg)?;
            log.push(format!(
                "port {taken} is in use by another program; {} now listens on {port}",
                leg.as_str()
            ));
        }

        let started = Instant::now();
        match legs::start(&self.config.service_binary, &paths, port, &artefact.version).await {
            Ok(pid) => {
                log.push(format!(
                    "started pid {pid} on :{port}; it answered in {} ms",
                    started.elapsed().as_millis()
                ));
                let record =
                    legs::next_record(old_record.as_ref(), &staged, &artefact.digest, port);
                write_json(&paths.record(), &record)?;
                Ok(StepReport {
                    summary: format!(
                        "deployed {} ({}) to {} on :{port}",
                        artefact.version,
                        short_digest(&artefact.digest),
                        leg.as_str()
                    ),
                    log,
                    replayed: false,
                })
            }
            Err(error) => {
                let put_back = self
                    .put_back(&paths, old_record.as_ref(), was_running, port)
                    .await;
                Err(release_desk_provider::ProviderError::new(
                    error.kind,
                    format!("{} {put_back}", error.message),
                ))
            }
        }
    }

    /// After a failed start: the previous version back in `app/`, running
    /// again if it ran before. Returns a sentence saying what was done.
    async fn put_back(
        &self,
        paths: &crate::state::LegPaths,
        old: Option<&crate::state::LegRecord>,
        was_running: bool,
        port: u16,
    ) -> String {
        let leg = paths.leg.as_str();
        let Some(old) = old else {
            let _ = std::fs::remove_dir_all(paths.app());
            let _ = std::fs::remove_file(paths.record());
            return format!("{leg} is left empty, as it was.");
        };
        // The record for the old version, as if the failed one never came.
        let as_before = crate::state::LegRecord {
            previous: Some(crate::state::Deployed {
                version: old.version.clone(),
                digest: old.digest.clone(),
            }),
            ..old.clone()
        };
        match legs::restore_previous(paths, &as_before, port) {
            Ok(Some(restored)) if was_running => {
                match legs::start(&self.config.service_binary, paths, port, &restored.version).await
                {
                    Ok(_) => format!("{leg} runs {} again.", restored.version),
                    Err(e) => format!(
                        "{} was put back on {leg} but did not start: {}",
                        restored.version, e.message
                    ),
                }
            }
            Ok(Some(restored)) => format!(
                "{} was put back on {leg} (not running, as before).",
                restored.version
            ),
            Ok(None) => format!("{leg}'s previous files were gone; it is left stopped."),
            Err(e) => format!("{leg} could not be put back: {}", e.message),
        }
    }
}

/// How old a staging directory must be before a deploy clears it. Far longer
/// than any action may run (the engine bounds each at two minutes), so a
/// directory this old belongs to a deploy that was killed or timed out.
pub(crate) const STALE_STAGING: std::time::Duration = std::time::Duration::from_secs(600);

/// Clears staging directories left by deploys killed mid-unpack (their Drop
/// never ran). Younger ones may still belong to a timed-out attempt whose
/// blocking work is finishing, so they are left for a later deploy.
/// Best effort: a directory that cannot be read or removed is logged, not
/// fatal, because it does not stop this deploy.
pub(crate) fn sweep_stale_staging(leg_dir: &std::path::Path, older_than: std::time::Duration) {
    let Ok(entries) = std::fs::read_dir(leg_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(".staging-") {
            continue;
        }
        let age = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| m.elapsed().ok());
        if age.is_some_and(|a| a >= older_than) {
            if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                tracing::warn!(path = %entry.path().display(), error = %e, "could not clear a leftover staging directory");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn only_staging_directories_older_than_any_action_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join(".staging-00000000000000aa");
        let young = dir.path().join(".staging-00000000000000bb");
        let app = dir.path().join("app");
        for d in [&old, &young, &app] {
            std::fs::create_dir_all(d.join("public")).unwrap();
        }
        let long_ago = SystemTime::now() - Duration::from_secs(3_600);
        std::fs::File::open(&old)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        std::fs::File::open(&app)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();

        sweep_stale_staging(dir.path(), STALE_STAGING);

        assert!(!old.exists(), "a staging directory an hour old was kept");
        assert!(
            young.exists(),
            "a fresh staging directory may still be in use"
        );
        assert!(app.exists(), "only staging directories are swept");
    }
}
