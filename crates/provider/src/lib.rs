//! The contract between the promotion engine and a deployment target.
//!
//! Every target (the local nginx blue-green pair, and later GitHub, Azure
//! DevOps, Kubernetes, App Service slots, AWS SSM) implements
//! [`DeploymentTarget`]. The engine only ever calls these methods, so a new
//! adapter plugs in without touching it.
//!
//! Actions that change the target (`deploy`, `switch_traffic`,
//! `rolling_update`, `roll_back`) carry an [`ActionKey`]. A target must treat a
//! second call with the same key as a request for the first call's result, not
//! as a new action: the engine repeats a call whose outcome it never recorded
//! (the app was killed mid-step), and the step must not run twice.

use std::time::Duration;

use async_trait::async_trait;
use release_desk_domain::{Digest, Leg, Slug};
use serde::{Deserialize, Serialize};
use specta::Type;

mod capability;
mod error;
mod signature;

pub use capability::{
    ApprovalSource, BindingSettings, CommitHistory, Comparison, DeploymentHistory, Identity,
    ObservedDeployment, ObservedOutcome, PendingApproval, PipelineDeploy, PipelineRequest,
    ProviderIdentity, RunHandle, RunJob, RunProgress, RunState, RunStep, ShippedCommit, Verdict,
};

pub use error::{ProviderError, ProviderErrorKind, Result};
pub use signature::{
    key_id, key_line, parse_public_key, signed_statement, verify_artefact_signature,
    SignatureProblem, VerifiedBy,
};

/// Which service in which environment an action is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct TargetRef {
    pub service: Slug,
    pub environment: Slug,
}

/// A stable name for one action of one step of one promotion, such as
/// `promotion-42/deploy/1`. The same key always means the same action.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(transparent)]
pub struct ActionKey(String);

impl ActionKey {
    /// Keys become file names and HTTP headers, so only `[A-Za-z0-9._/-]` is
    /// allowed, up to 200 characters, and never `..`.
    pub fn new(value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        let ok = !value.is_empty()
            && value.len() <= 200
            && !value.contains("..")
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-'));
        if ok {
            Ok(Self(value))
        } else {
            Err(ProviderError::new(
                ProviderErrorKind::Refused,
                format!("'{value}' is not a valid action key"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ActionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The artefact an action deploys: its identity and where its bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ArtefactRef {
    pub service: Slug,
    pub version: String,
    /// The sha256 the bytes must have; a target refuses anything else.
    pub digest: Digest,
    /// Where the target fetches the bytes: a path for the local target, an
    /// image reference or package URL for the others.
    pub location: String,
    /// The detached minisign signature of [`signed_statement`] for this
    /// service, version and digest (not of the tarball's bytes: the digest
    /// binds those).
    pub signature: Option<String>,
    /// The public keys (minisign base64) the workspace trusts when this
    /// action is taken, read from the store for each action: a key removed in
    /// Settings is refused at once, a key added is accepted at once.
    pub trusted_keys: Vec<String>,
}

/// How a target can change what runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// Two legs; deploy to the idle one, test it, switch traffic, keep the old
    /// leg running as the way back.
    BlueGreen,
    /// The provider replaces instances in place, one at a time.
    Rolling,
}

/// What a target is and what it supports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct TargetInfo {
    /// Stable provider name, e.g. `local-nginx`.
    pub provider: String,
    /// What a person reads, e.g. "Local nginx blue-green on 127.0.0.1:18080".
    pub description: String,
    pub strategies: Vec<StrategyKind>,
}

/// The state of one leg (or instance slot) as the target reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LegStatus {
    pub leg: Leg,
    /// What is deployed there, if anything.
    pub digest: Option<Digest>,
    pub version: Option<String>,
    /// A process or instance is up.
    pub running: bool,
    /// Its health check passed just now (`None` when not running).
    pub healthy: Option<bool>,
    /// Where it listens, for people reading logs.
    pub endpoint: Option<String>,
}

/// What a target reports about a service in an environment, read from the
/// target itself (never from our cache): the ground truth that a resumed
/// promotion reconciles with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct TargetStatus {
    /// The leg taking traffic, if the target routes any.
    pub live: Option<Leg>,
    pub legs: Vec<LegStatus>,
}

impl TargetStatus {
    pub fn leg(&self, leg: Leg) -> Option<&LegStatus> {
        self.legs.iter().find(|l| l.leg == leg)
    }

    /// The leg not taking traffic, where a blue-green deploy goes.
    pub fn idle(&self) -> Leg {
        match self.live {
            Some(Leg::Blue) => Leg::Green,
            Some(Leg::Green) | None => Leg::Blue,
        }
    }
}

/// The record of an action, kept in the promotion's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct StepReport {
    /// One sentence: "deployed 1.2.0 (sha256 3f2a…) to green on :18082".
    pub summary: String,
    /// Lines a person can read to see what happened.
    pub log: Vec<String>,
    /// True when the target had already done this action under this key and
    /// returned the earlier result.
    pub replayed: bool,
}

/// One health check or smoke test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    pub passed: bool,
    /// Each check made and its result, e.g. "GET /healthz → 200 in 3 ms".
    pub checks: Vec<String>,
    /// Why it failed, when it did.
    pub failure: Option<String>,
}

/// Traffic observed over a period, for judging a soak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Observation {
    pub requests: u32,
    pub errors: u32,
    /// 95th percentile latency in milliseconds, `None` when nothing answered.
    pub p95_ms: Option<f64>,
    /// Anything notable, e.g. "the green leg's process exited".
    pub notes: Vec<String>,
    /// Answers per version, where the target can tell which version answered.
    #[serde(default)]
    pub versions: std::collections::BTreeMap<String, u32>,
}

/// How to get back to the last known good release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum RollbackPlan {
    /// The old leg still runs the good artefact: send traffic back to it.
    SwitchTo { leg: Leg },
    /// Nothing good is still running: deploy the good artefact again.
    Redeploy { artefact: ArtefactRef },
}

/// A deployment target. See the module documentation for the idempotency
/// contract on `key`.
#[async_trait]
pub trait DeploymentTarget: Send + Sync {
    fn info(&self) -> TargetInfo;

    /// Reads the real state of the target.
    async fn status(&self, target: &TargetRef) -> Result<TargetStatus>;

    /// Puts an artefact on a leg (blue-green) and starts it, without sending
    /// it traffic. Refuses bytes whose digest differs from `artefact.digest`.
    async fn deploy(
        &self,
        key: &ActionKey,
        target: &TargetRef,
        leg: Leg,
        artefact: &ArtefactRef,
    ) -> Result<StepReport>;

    /// Smoke-tests one leg directly, bypassing the traffic switch. Read-only.
    async fn health_check(&self, target: &TargetRef, leg: Leg) -> Result<HealthReport>;

    /// Sends all traffic to `to`, without dropping requests in flight.
    async fn switch_traffic(
        &self,
        key: &ActionKey,
        target: &TargetRef,
        to: Leg,
    ) -> Result<StepReport>;

    /// Watches live traffic for `period` and reports what it saw.
    async fn observe(&self, target: &TargetRef, period: Duration) -> Result<Observation>;

    /// The provider's own rolling update: replace instances one at a time,
    /// each checked healthy before the next. Targets that cannot say so in
    /// [`TargetInfo::strategies`] and return a `Refused` error.
    async fn rolling_update(
        &self,
        key: &ActionKey,
        target: &TargetRef,
        artefact: &ArtefactRef,
    ) -> Result<StepReport>;

    /// Returns the service to the last known good release.
    async fn roll_back(
        &self,
        key: &ActionKey,
        target: &TargetRef,
        plan: &RollbackPlan,
    ) -> Result<StepReport>;
}

/// How long any single provider call may take before the engine treats it as
/// failed. Providers use shorter timeouts of their own for each request.
pub const ACTION_TIMEOUT: Duration = Duration::from_secs(120);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_keys_refuse_what_could_escape_a_directory_or_a_header() {
        assert!(ActionKey::new("promotion-42/deploy/1").is_ok());
        for bad in ["", "../etc", "a b", "a\nb", "x/../y", &"k".repeat(201)] {
            assert!(ActionKey::new(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn the_idle_leg_is_the_one_not_live_and_blue_when_nothing_is() {
        let mut status = TargetStatus {
            live: None,
            legs: vec![],
        };
        assert_eq!(status.idle(), Leg::Blue);
        status.live = Some(Leg::Blue);
        assert_eq!(status.idle(), Leg::Green);
        status.live = Some(Leg::Green);
        assert_eq!(status.idle(), Leg::Blue);
    }
}
