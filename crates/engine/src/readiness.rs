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
        if let Some((binding, connection)) =
            self.store().pipeline_binding(service, environment).await?
        {
            return self
                .pipeline_readiness(service, environment, &binding, &connection.name)
                .await;
        }
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

    /// For a cell a pipeline deploys: what the desk's record says is live,
    /// and what a rollback would run the pipeline with.
    async fn pipeline_readiness(
        &self,
        service: &Slug,
        environment: &Slug,
        binding: &release_desk_connections::Binding,
        connection: &str,
    ) -> Result<RollbackReadiness> {
        let live = self
            .store()
            .recorded_live_release(service, environment)
            .await?;
        let good = self
            .store()
            .last_good_release(service, environment, live.as_ref().map(|l| &l.1))
            .await?;
        let workflow = binding
            .settings
            .get("workflow")
            .map_or("its workflow", String::as_str);
        let (possible, summary) = match (&live, &good) {
            (None, _) => (
                false,
                format!("nothing of {service} is recorded as live in {environment}: nothing to roll back from"),
            ),
            (_, None) => (
                false,
                format!(
                    "no earlier release of {service} succeeded in {environment}: nothing to roll back to"
                ),
            ),
            (Some(_), Some((version, _))) => (
                true,
                format!("rolling back runs {workflow} on {connection} with {version}"),
            ),
        };
        Ok(RollbackReadiness {
            live_version: live.map(|l| l.0),
            target_version: good.as_ref().map(|g| g.0.clone()),
            target_digest: good.map(|g| g.1),
            leg: None,
            leg_status: None,
            ready: false,
            possible,
            summary,
        })
    }
}
