//! Rollback readiness: before a person presses Roll back, whether the last
//! known good release still runs and is healthy (a switch of seconds), only
//! recorded (a redeploy), or missing.

use release_desk_domain::{Digest, Leg, Slug};
use release_desk_provider::LegStatus;
use serde::Serialize;
use specta::Type;

use crate::{live_release, Engine, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RollbackReadiness {
    pub live_version: Option<String>,
    pub target_version: Option<String>,
    pub target_digest: Option<Digest>,
    /// The leg still running the last known good release, if any.
    pub leg: Option<Leg>,
    pub leg_status: Option<LegStatus>,
    /// A rollback would be a traffic switch to a running, healthy leg.
    pub ready: bool,
    /// A rollback is possible at all (possibly by redeploying).
    pub possible: bool,
    pub summary: String,
}

impl Engine {
    pub async fn rollback_readiness(
        &self,
        service: &Slug,
        environment: &Slug,
    ) -> Result<RollbackReadiness> {
        let status = self.status(service, environment).await?;
        let live = live_release(&status);
        let good = self
            .store()
            .last_good_release(service, environment, live.as_ref().map(|l| &l.digest))
            .await?;
        let Some((version, digest)) = good else {
            return Ok(RollbackReadiness {
                live_version: live.map(|l| l.version),
                target_version: None,
                target_digest: None,
                leg: None,
                leg_status: None,
                ready: false,
                possible: false,
                summary: format!(
                    "no earlier release of {service} succeeded in {environment}: nothing to roll back to"
                ),
            });
        };
        let holding = status
            .legs
            .iter()
            .find(|l| l.digest.as_ref() == Some(&digest))
            .cloned();
        let ready = holding
            .as_ref()
            .is_some_and(|l| l.running && l.healthy == Some(true) && Some(l.leg) != status.live);
        let summary = match &holding {
            Some(l) if ready => format!(
                "{version} still runs healthy on {}: rolling back switches traffic to it",
                l.leg.as_str()
            ),
            Some(l) if l.running => format!(
                "{version} runs on {} but fails its health check: rolling back redeploys it",
                l.leg.as_str()
            ),
            _ => {
                format!("{version} no longer runs here: rolling back redeploys it to the idle leg")
            }
        };
        Ok(RollbackReadiness {
            live_version: live.map(|l| l.version),
            target_version: Some(version),
            target_digest: Some(digest),
            leg: holding.as_ref().map(|l| l.leg),
            leg_status: holding,
            ready,
            possible: true,
            summary,
        })
    }
}
