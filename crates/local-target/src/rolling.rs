//! The target's own rolling update and its roll backs. Rolling here means
//! both legs serve as two instances behind nginx; each is taken out of
//! rotation, given the new version, checked, and put back before the other is
//! touched. An instance that fails its check gets its old version back, so a
//! bad release never serves and the service never drops to zero instances.

use release_desk_domain::Leg;
use release_desk_provider::{ArtefactRef, RollbackPlan, StepReport, TargetRef};

use crate::error::{refused, Result};
use crate::legs;
use crate::nginx::Routing;
use crate::target::{blocking, check_service, short_digest, Layout, LocalTarget};

fn other(leg: Leg) -> Leg {
    match leg {
        Leg::Blue => Leg::Green,
        Leg::Green => Leg::Blue,
    }
}

/// `routing` with `leg` serving on `port` (in place of any earlier entry for
/// it), legs in a stable order.
fn serving_with(routing: &Routing, leg: Leg, port: u16) -> Routing {
    let mut with = routing.clone();
    with.serving.retain(|(l, _)| *l != leg);
    with.serving.push((leg, port));
    with.serving.sort_by_key(|(l, _)| l.as_str());
    with
}

impl LocalTarget {
    /// The body of `rolling_update`; the caller holds the service's lock.
    pub(crate) async fn roll_out(
        &self,
        target: &TargetRef,
        artefact: &ArtefactRef,
    ) -> Result<StepReport> {
        check_service(target, artefact)?;
        let layout = self.layout(target);
        let Some(mut routing) = self.live_routing(&layout) else {
            return Err(refused(format!(
                "{} takes no traffic yet: deploy and switch to a first version before a rolling update",
                layout.label
            )));
        };
        let primary = routing.live;
        let mut log = Vec::new();
        // The instance not taking traffic goes first: if it fails, live
        // traffic never noticed anything.
        for leg in [other(primary), primary] {
            match self
                .replace_instance(target, &layout, &mut routing, leg, artefact)
                .await
            {
                Ok(lines) => {
                    log.extend(lines);
                    if leg != primary {
                        crate::crash::point(crate::crash::ROLLING_BETWEEN_INSTANCES);
                    }
                }
                Err(error) => {
                    log.push(error.message.clone());
                    return Err(refused(format!(
                        "the rolling update to {} stopped at {}: {} Traffic goes to {}.",
                        artefact.version,
                        leg.as_str(),
                        error.message,
                        self.serving_versions(&layout, &routing)
                    )));
                }
            }
        }
        Ok(StepReport {
            summary: format!(
                "rolled {} out to {} ({}) on both legs",
                layout.label,
                artefact.version,
                short_digest(&artefact.digest)
            ),
            log,
            replayed: false,
        })
    }

    /// Takes `leg` out of rotation (if another leg can serve meanwhile),
    /// deploys, checks, and puts it back; on a failed check puts the old
    /// version back instead. `routing` follows what nginx routes by.
    async fn replace_instance(
        &self,
        target: &TargetRef,
        layout: &Layout,
        routing: &mut Routing,
        leg: Leg,
        artefact: &ArtefactRef,
    ) -> Result<Vec<String>> {
        let mut log = Vec::new();
        // Resumed after a kill: an instance already running this release is
        // not deployed again (that would make the new release its own
        // rollback copy and lose the real one); it is checked and put back
        // in rotation if it is not there yet.
        let state = legs::read(&self.config.service_binary, &layout.leg(leg));
        if let Some(record) = state
            .record()
            .filter(|r| r.digest == artefact.digest && state.running())
            .cloned()
        {
            let (healthy, checks, _) = legs::smoke(leg, record.port, &artefact.version).await?;
            if healthy {
                log.extend(checks.into_iter().map(|c| format!("{}: {c}", leg.as_str())));
                log.push(format!(
                    "{} already runs {}: not deployed again",
                    leg.as_str(),
                    artefact.version
                ));
                if !routing.serves(leg) {
                    let with = serving_with(routing, leg, record.port);
                    log.extend(self.route(target, layout, &with).await?);
                    log.push(format!("put {} back into rotation", leg.as_str()));
                    *routing = with;
                }
                return Ok(log);
            }
        }
        let was_serving = routing.serves(leg);
        if was_serving {
            let rest: Vec<(Leg, u16)> = routing
                .serving
                .iter()
                .copied()
                .filter(|(l, _)| *l != leg)
                .collect();
            if rest.is_empty() {
                return Err(refused(format!(
                    "{} is the only instance serving",
                    leg.as_str()
                )));
            }
            let without = Routing {
                live: routing.live,
                serving: rest,
            };
            log.extend(self.route(target, layout, &without).await?);
            log.push(format!("took {} out of rotation", leg.as_str()));
            *routing = without;
        }
        let deployed = match self.deploy_unrouted(target, leg, artefact).await {
            Ok(deployed) => deployed,
            Err(error) => {
                // A failed deploy already put the old version back on the
                // leg; it only needs to rejoin the rotation it left.
                let state = legs::read(&self.config.service_binary, &layout.leg(leg));
                let rejoined = match state.record() {
                    Some(record) if was_serving && state.running() => {
                        let with = serving_with(routing, leg, record.port);
                        let routed = self.route(target, layout, &with).await;
                        if routed.is_ok() {
                            *routing = with;
                        }
                        routed.map(|_| ()).map_err(|e| e.message)
                    }
                    _ => Ok(()),
                };
                return Err(match rejoined {
                    Ok(()) => error,
                    Err(why) => refused(format!(
                        "{} It could not rejoin the rotation: {why}",
                        error.message
                    )),
                });
            }
        };
        log.push(deployed.summary);
        let paths = layout.leg(leg);
        let record = legs::read(&self.config.service_binary, &paths)
            .record()
            .cloned();
        let port = record.as_ref().map_or(0, |r| r.port);
        let (healthy, checks, failure) = legs::smoke(leg, port, &artefact.version).await?;
        log.extend(checks.into_iter().map(|c| format!("{}: {c}", leg.as_str())));
        if !healthy {
            let failure = failure.unwrap_or_default();
            let restored = self
                .restore_instance(target, layout, routing, leg, was_serving)
                .await;
            return Err(refused(format!(
                "{} failed its health check on {} ({failure}); {restored}",
                artefact.version,
                leg.as_str()
            )));
        }
        let with = serving_with(routing, leg, port);
        log.extend(self.route(target, layout, &with).await?);
        log.push(format!(
            "put {} back into rotation with {}",
            leg.as_str(),
            artefact.version
        ));
        *routing = with;
        Ok(log)
    }

    /// After a failed check: the leg's previous version back, and back in
    /// rotation if it served before. Returns a sentence saying what was done.
    async fn restore_instance(
        &self,
        target: &TargetRef,
        layout: &Layout,
        routing: &mut Routing,
        leg: Leg,
        was_serving: bool,
    ) -> String {
        let paths = layout.leg(leg);
        let binary = self.config.service_binary.clone();
        let stop_paths = paths.clone();
        if let Err(e) = blocking(move || legs::stop(&binary, &stop_paths)).await {
            return format!("stopping it failed: {}", e.message);
        }
        let Some(record) = legs::read(&self.config.service_binary, &paths)
            .record()
            .cloned()
        else {
            return format!("{} is left stopped", leg.as_str());
        };
        let restored = match legs::restore_previous(&paths, &record, record.port) {
            Ok(Some(restored)) => restored,
            Ok(None) => {
                return format!(
                    "{} had no earlier version and is left stopped",
                    leg.as_str()
                )
            }
            Err(e) => return format!("its earlier version could not be put back: {}", e.message),
        };
        if let Err(e) = legs::start(
            &self.config.service_binary,
            &paths,
            restored.port,
            &restored.version,
        )
        .await
        {
            return format!(
                "{} was put back but did not start: {}",
                restored.version, e.message
            );
        }
        if !was_serving {
            return format!(
                "{} runs {} again, out of rotation",
                leg.as_str(),
                restored.version
            );
        }
        let with = serving_with(routing, leg, restored.port);
        match self.route(target, layout, &with).await {
            Ok(_) => {
                *routing = with;
                format!(
                    "{} runs {} again and is back in rotation",
                    leg.as_str(),
                    restored.version
                )
            }
            Err(e) => format!(
                "{} runs {} again but could not be put back into rotation: {}",
                leg.as_str(),
                restored.version,
                e.message
            ),
        }
    }

    /// "blue (1.1.0) and green (1.1.0)", for messages.
    fn serving_versions(&self, layout: &Layout, routing: &Routing) -> String {
        let legs: Vec<String> = routing
            .serving
            .iter()
            .map(|(leg, _)| {
                let version = legs::read(&self.config.service_binary, &layout.leg(*leg))
                    .record()
                    .map_or_else(|| "unknown".to_owned(), |r| r.version.clone());
                format!("{} ({version})", leg.as_str())
            })
            .collect();
        legs.join(" and ")
    }

    /// The body of `roll_back`; the caller holds the service's lock.
    pub(crate) async fn restore(
        &self,
        target: &TargetRef,
        plan: &RollbackPlan,
    ) -> Result<StepReport> {
        match plan {
            RollbackPlan::SwitchTo { leg } => self.switch_to(target, *leg).await,
            RollbackPlan::Redeploy { artefact } => {
                check_service(target, artefact)?;
                let layout = self.layout(target);
                let mut log = Vec::new();
                let routing = self.live_routing(&layout);
                let idle = routing.as_ref().map_or(Leg::Blue, |r| other(r.live));
                // After a rolling update both legs serve: narrow traffic to
                // the live leg so the idle one can be redeployed.
                if let Some(routing) = routing.as_ref().filter(|r| r.serves(idle)) {
                    let only_live = routing
                        .serving
                        .iter()
                        .copied()
                        .find(|(l, _)| *l == routing.live)
                        .map(|(l, p)| Routing::single(l, p))
                        .ok_or_else(|| refused("the live leg is not among those serving"))?;
                    log.extend(self.route(target, &layout, &only_live).await?);
                }
                let deployed = self.deploy_unrouted(target, idle, artefact).await?;
                log.push(deployed.summary);
                let switched = self.switch_to(target, idle).await?;
                log.extend(switched.log);
                Ok(StepReport {
                    summary: format!(
                        "rolled {} back to {} ({}) on {}",
                        layout.label,
                        artefact.version,
                        short_digest(&artefact.digest),
                        idle.as_str()
                    ),
                    log,
                    replayed: false,
                })
            }
        }
    }
}
