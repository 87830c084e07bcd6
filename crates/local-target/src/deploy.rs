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
        if let Some(routing) = self.live_routing(&layout) {
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
        let trusted = self.config.trusted_keys.clone();
        let reference = artefact.clone();
        let staging = paths.staging();
        let staged = blocking(move || {
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
        legs::install(&paths, &staged)?;

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
