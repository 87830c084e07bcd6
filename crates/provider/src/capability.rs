//! What a connection to a provider can do besides driving a local target,
//! as separate capabilities: an adapter implements those its provider has,
//! and the desk asks for a capability, never for a provider by name.
//!
//! - [`Identity`]: who the connection's credential is at the provider;
//! - [`DeploymentHistory`]: deployments the provider ran, for the dashboard;
//! - [`ApprovalSource`]: approvals the provider waits on, for the one queue;
//! - [`PipelineDeploy`]: a deployment the provider runs itself, started then
//!   followed (**start then poll**). The [`RunHandle`] is stored with the
//!   promotion's events, so a restart follows the run instead of starting
//!   another, and [`PipelineDeploy::find_run`] finds a run started just
//!   before a crash by its action key.
//!
//! Every capability takes the binding's settings ([`BindingSettings`]): the
//! provider-specific place a service's environment lives (a repository, a
//! workflow file, an environment name, a namespace, a slot).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use release_desk_domain::Digest;
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::{ActionKey, Result};

/// A binding's provider-specific settings, e.g. `repository = acme/shop`,
/// `environment = production`, `workflow = deploy.yml`.
pub type BindingSettings = BTreeMap<String, String>;

/// Who a credential proves to be, as the provider says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ProviderIdentity {
    /// The provider's name for the account, e.g. a GitHub login. Audit
    /// entries of actions taken there record it beside the local profile.
    pub login: String,
    pub display_name: Option<String>,
    /// What else a person checking the connection wants to see: scopes or
    /// permissions, the rate limit left, the server's version.
    pub details: Vec<String>,
}

#[async_trait]
pub trait Identity: Send + Sync {
    async fn whoami(&self) -> Result<ProviderIdentity>;
}

/// How a provider's deployment ended, or where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum ObservedOutcome {
    Queued,
    InProgress,
    Succeeded,
    Failed,
    /// Replaced by a later deployment, or deactivated.
    Inactive,
    /// The provider reports no status for it.
    Unknown,
}

/// A deployment as the provider reports it, in the desk's own terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ObservedDeployment {
    /// The provider's own id, unique within the connection: the sync's
    /// upsert key, so a re-sync never duplicates a row.
    pub provider_id: String,
    /// The provider's environment name (the binding maps it to a stage).
    pub environment: String,
    pub version: String,
    /// Where the provider carries it (e.g. a deployment's payload).
    pub digest: Option<Digest>,
    pub outcome: ObservedOutcome,
    /// The commit deployed, where the provider says.
    pub commit: Option<String>,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the latest status was reported.
    pub updated_at: Option<DateTime<Utc>>,
    /// The run or deployment page a person can open.
    pub link: Option<String>,
}

#[async_trait]
pub trait DeploymentHistory: Send + Sync {
    /// Deployments of the binding's environment, newest first.
    async fn deployments(&self, binding: &BindingSettings) -> Result<Vec<ObservedDeployment>>;
}

/// An approval a provider is waiting on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PendingApproval {
    /// Unique within the connection, e.g. `acme/shop/runs/42/env/7`.
    pub provider_id: String,
    pub environment: String,
    /// What waits: "Deploy 1.4.2 (run #118)".
    pub title: String,
    /// The commit the run deploys, where the provider says.
    pub commit: Option<String>,
    /// Who the provider asks to review (users and teams).
    pub reviewers: Vec<String>,
    /// Minutes the provider itself holds the deployment after approval.
    pub wait_timer_minutes: Option<u32>,
    /// Whether the connection's own account may approve it there.
    pub can_approve: bool,
    pub requested_at: Option<DateTime<Utc>>,
    pub link: Option<String>,
    /// What the adapter needs to send the decision (opaque to the desk).
    pub reference: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
}

#[async_trait]
pub trait ApprovalSource: Send + Sync {
    /// The settings that name where approvals are listed, without what
    /// picks one binding's share (a GitHub repository, not its environment):
    /// the sync asks once per scope and hands each binding its own, so five
    /// stages of one repository cost one request, not five.
    fn scope(&self, binding: &BindingSettings) -> BindingSettings {
        binding.clone()
    }

    /// What waits for a decision; with a scope from [`Self::scope`], every
    /// environment's.
    async fn pending_approvals(&self, binding: &BindingSettings) -> Result<Vec<PendingApproval>>;

    /// Sends the decision to the provider. The desk calls it only once its
    /// own policies (quorum, separation of duties) are met.
    async fn decide(
        &self,
        approval: &PendingApproval,
        verdict: Verdict,
        comment: &str,
    ) -> Result<()>;
}

/// What a pipeline is asked to deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PipelineRequest {
    pub version: String,
    pub digest: Digest,
    /// The provider's environment name.
    pub environment: String,
}

/// A started run: stored with the promotion's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RunHandle {
    pub id: String,
    pub link: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum RunState {
    Queued,
    /// Held by the provider, e.g. for an environment's reviewers.
    Waiting(String),
    Running,
    Succeeded,
    Failed(String),
    Cancelled,
}

impl RunState {
    pub fn finished(&self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed(_) | Self::Cancelled)
    }
}

/// One job or stage of a run, with its steps, for the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RunJob {
    pub name: String,
    /// The provider's words: "queued", "in_progress", "success", "failure".
    pub status: String,
    pub steps: Vec<RunStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RunStep {
    pub name: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RunProgress {
    pub state: RunState,
    pub jobs: Vec<RunJob>,
    pub link: Option<String>,
}

#[async_trait]
pub trait PipelineDeploy: Send + Sync {
    /// The run this key started, if any: called before every start, so a
    /// crash between starting and recording never starts a second run.
    async fn find_run(
        &self,
        key: &ActionKey,
        binding: &BindingSettings,
    ) -> Result<Option<RunHandle>>;

    /// Starts the binding's pipeline for `request`, carrying `key` where
    /// [`PipelineDeploy::find_run`] can see it. Implementations look for the
    /// key first and return the run they find.
    async fn start_run(
        &self,
        key: &ActionKey,
        binding: &BindingSettings,
        request: &PipelineRequest,
    ) -> Result<RunHandle>;

    async fn poll_run(&self, binding: &BindingSettings, run: &RunHandle) -> Result<RunProgress>;
}

/// A commit that ships between what runs and a candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ShippedCommit {
    pub sha: String,
    /// The first line of its message.
    pub title: String,
    pub author: Option<String>,
    /// The pull request it came from, where the message names one
    /// ("Merge pull request #123", or a squash merge's "(#123)").
    pub pull_request: Option<u32>,
    pub link: Option<String>,
}

/// What ships from `base` to `head`, oldest commit first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    pub commits: Vec<ShippedCommit>,
    /// How many commits the provider counts between them.
    pub total: u32,
    /// `head` is not ahead of `base` (behind, diverged or identical).
    pub not_ahead: bool,
}

/// A source of "what ships": the commits between two versions.
#[async_trait]
pub trait CommitHistory: Send + Sync {
    async fn compare(
        &self,
        binding: &BindingSettings,
        base: &str,
        head: &str,
    ) -> Result<Comparison>;
}
