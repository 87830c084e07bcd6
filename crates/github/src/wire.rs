//! GitHub's JSON, only the fields the adapter reads. Fields GitHub may send
//! as `null` are `Option`; unknown fields are ignored, so GitHub adding one
//! never breaks a sync.

use chrono::{DateTime, Utc};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct User {
    pub login: String,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RateLimitAnswer {
    pub rate: Rate,
}

#[derive(Debug, Deserialize)]
pub struct Rate {
    pub limit: u64,
    pub remaining: u64,
    pub reset: i64,
}

#[derive(Debug, Deserialize)]
pub struct Actor {
    pub login: String,
}

#[derive(Debug, Deserialize)]
pub struct Deployment {
    pub id: i64,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub sha: String,
    pub environment: String,
    #[serde(default)]
    pub payload: serde_json::Value,
    pub creator: Option<Actor>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
pub struct DeploymentStatus {
    pub state: String,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub log_url: Option<String>,
    #[serde(default)]
    pub target_url: Option<String>,
    #[serde(default)]
    pub environment_url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RunList {
    pub workflow_runs: Vec<Run>,
}

#[derive(Debug, Deserialize)]
pub struct Run {
    pub id: i64,
    pub name: Option<String>,
    #[serde(default)]
    pub display_title: Option<String>,
    pub run_number: i64,
    pub status: Option<String>,
    pub conclusion: Option<String>,
    pub head_sha: String,
    pub html_url: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
pub struct PendingDeployment {
    pub environment: PendingEnvironment,
    pub wait_timer: Option<i64>,
    pub current_user_can_approve: bool,
    #[serde(default)]
    pub reviewers: Vec<Reviewer>,
}

#[derive(Debug, Deserialize)]
pub struct PendingEnvironment {
    pub id: Option<i64>,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Reviewer {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub reviewer: Option<ReviewerAccount>,
}

/// A user has a login, a team a slug (and a name).
#[derive(Debug, Deserialize)]
pub struct ReviewerAccount {
    pub login: Option<String>,
    pub slug: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct DispatchAnswer {
    pub workflow_run_id: i64,
    pub html_url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct JobList {
    pub jobs: Vec<Job>,
}

#[derive(Debug, Deserialize)]
pub struct Job {
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
    #[serde(default)]
    pub steps: Vec<Step>,
}

#[derive(Debug, Deserialize)]
pub struct Step {
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Compare {
    pub status: String,
    pub total_commits: u32,
    #[serde(default)]
    pub commits: Vec<CompareCommit>,
}

#[derive(Debug, Deserialize)]
pub struct CompareCommit {
    pub sha: String,
    pub commit: CommitDetail,
    pub author: Option<Actor>,
    pub html_url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CommitDetail {
    pub message: String,
    pub author: Option<GitAuthor>,
}

#[derive(Debug, Deserialize)]
pub struct GitAuthor {
    pub name: Option<String>,
}
