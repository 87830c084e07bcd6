//! The GitHub provider, for github.com and GitHub Enterprise Server.
//!
//! One [`GitHub`] per connection. It implements the capabilities GitHub has:
//! [`Identity`] (who the token is), [`DeploymentHistory`] (the Deployments
//! API and the latest status of each), [`ApprovalSource`] (workflow runs
//! waiting on an environment's required reviewers) and [`PipelineDeploy`]
//! (a `workflow_dispatch` run, followed job by job).
//!
//! A binding names where a service's environment lives on GitHub:
//! - `repository`: `owner/name`;
//! - `environment`: the GitHub environment (defaults to the stage's name);
//! - `workflow`: the workflow file that deploys, e.g. `deploy.yml`;
//! - `ref`: the branch or tag the workflow runs from (default `main`).
//!
//! The deploying workflow takes the inputs `version`, `digest`, `environment`
//! and `action_key`, and names its run after the key
//! (`run-name: "Release Desk ${{ inputs.action_key }}"`): that is how a run
//! started just before a crash is found again instead of started twice.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use release_desk_http::{Auth, Client, ClientConfig, Method};
use release_desk_provider::{
    ActionKey, ApprovalSource, BindingSettings, CommitHistory, Comparison, DeploymentHistory,
    Identity, ObservedDeployment, ObservedOutcome, PendingApproval, PipelineDeploy,
    PipelineRequest, ProviderError, ProviderErrorKind, ProviderIdentity, Result, RunHandle, RunJob,
    RunProgress, RunState, RunStep, ShippedCommit, Verdict,
};
use secrecy::SecretString;

mod wire;

/// GitHub's REST API version this adapter was written against.
pub const API_VERSION: &str = "2022-11-28";

/// How many deployments of one environment a sync reads.
const HISTORY_DEPTH: usize = 30;

/// The REST API root for what a person typed as the connection's URL:
/// github.com is served by api.github.com; an Enterprise server by
/// `/api/v3` on its own host; a URL that already names an API root (and a
/// local mock on this computer) is used as it is.
pub fn api_root(base_url: &str) -> String {
    let trimmed = base_url.trim().trim_end_matches('/');
    let host = trimmed
        .split("://")
        .nth(1)
        .unwrap_or(trimmed)
        .split(['/', ':'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if host == "github.com" || host == "www.github.com" {
        return "https://api.github.com".to_string();
    }
    let loopback = host == "localhost" || host == "127.0.0.1" || host == "[::1]";
    if host == "api.github.com" || trimmed.ends_with("/api/v3") || loopback {
        return trimmed.to_string();
    }
    format!("{trimmed}/api/v3")
}

pub struct GitHub {
    http: Client,
    /// The last read of each environment's deployments (by list URL).
    history: std::sync::Mutex<std::collections::HashMap<String, HistoryMemo>>,
    /// How long to look for a run GitHub started without naming it (a 204).
    dispatch_wait: Duration,
}

impl GitHub {
    /// `name` is how people know the connection ("acme-org"); `base_url`
    /// what they typed (see [`api_root`]).
    pub fn new(name: &str, base_url: &str, token: SecretString) -> Result<Self> {
        let mut config = ClientConfig::new(
            format!("GitHub {name}"),
            api_root(base_url),
            Auth::Bearer(token),
        );
        config.headers = vec![
            // GitHub's media type first; plain JSON too, which GitHub also
            // serves and which its OpenAPI description declares.
            (
                "accept".into(),
                "application/vnd.github+json, application/json".into(),
            ),
            ("x-github-api-version".into(), API_VERSION.into()),
        ];
        Ok(Self {
            http: Client::new(config).map_err(ProviderError::from)?,
            history: Default::default(),
            dispatch_wait: Duration::from_secs(10),
        })
    }

    /// Another client configuration (tests shorten timeouts and retries).
    pub fn with_config(config: ClientConfig) -> Result<Self> {
        Ok(Self {
            http: Client::new(config).map_err(ProviderError::from)?,
            history: Default::default(),
            dispatch_wait: Duration::from_secs(10),
        })
    }

    /// Shortens the search for an unnamed run (tests).
    pub fn with_dispatch_wait(mut self, wait: Duration) -> Self {
        self.dispatch_wait = wait;
        self
    }

    pub fn http(&self) -> &Client {
        &self.http
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, endpoint: &str, path: &str) -> Result<T> {
        Ok(self.http.get_json(endpoint, path).await?.value)
    }
}

/// A path segment or query value, percent-encoded (environment names may
/// hold spaces; nothing a binding says may add a path segment).
fn enc(s: &str) -> String {
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(s, KEEP).to_string()
}

fn refused(message: String) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Refused, message)
}

/// The binding's `owner/name`, checked: GitHub's own rules for the two names.
fn repository(binding: &BindingSettings) -> Result<(String, String)> {
    let value = binding.get("repository").ok_or_else(|| {
        refused("the binding names no repository: set repository = owner/name".into())
    })?;
    match release_desk_connections::github_repository(value) {
        Some((owner, name)) => Ok((owner.to_string(), name.to_string())),
        None => Err(refused(format!(
            "'{value}' is not a GitHub repository: write it as owner/name"
        ))),
    }
}

fn setting<'a>(binding: &'a BindingSettings, key: &str) -> Result<&'a str> {
    let value = binding
        .get(key)
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| refused(format!("the binding does not set '{key}'")))?;
    // Encoded, these still name another path once a URL is normalised.
    if value == "." || value == ".." {
        return Err(refused(format!("'{value}' is not a valid {key}")));
    }
    Ok(value)
}

#[async_trait]
impl Identity for GitHub {
    async fn whoami(&self) -> Result<ProviderIdentity> {
        let user = self.http.get("GET /user", "/user").await?;
        let me: wire::User = self.http.decode("GET /user", &user.body)?;
        let mut details = Vec::new();
        // Classic tokens list their scopes; fine-grained ones carry none.
        match user.header("x-oauth-scopes") {
            Some(scopes) if !scopes.trim().is_empty() => {
                details.push(format!("classic token, scopes: {}", scopes.trim()))
            }
            Some(_) => details.push("classic token with no scopes".into()),
            None => {
                details.push("fine-grained token or app: permissions are set per repository".into())
            }
        }
        if let Some(expiry) = user.header("github-authentication-token-expiration") {
            details.push(format!("expires {expiry}"));
        }
        // Free of charge: /rate_limit does not count against the limit.
        let rate: wire::RateLimitAnswer = self.get("GET /rate_limit", "/rate_limit").await?;
        let reset = chrono::DateTime::from_timestamp(rate.rate.reset, 0)
            .map(|t| t.format("%H:%M UTC").to_string())
            .unwrap_or_else(|| "an unknown time".into());
        details.push(format!(
            "rate limit: {} of {} requests left, resets at {reset}",
            rate.rate.remaining, rate.rate.limit
        ));
        Ok(ProviderIdentity {
            login: me.login,
            display_name: me.name,
            details,
        })
    }
}

fn outcome(state: Option<&str>) -> ObservedOutcome {
    match state {
        Some("success") => ObservedOutcome::Succeeded,
        Some("failure" | "error") => ObservedOutcome::Failed,
        Some("inactive") => ObservedOutcome::Inactive,
        Some("in_progress") => ObservedOutcome::InProgress,
        Some("queued" | "pending") => ObservedOutcome::Queued,
        _ => ObservedOutcome::Unknown,
    }
}

/// The version a deployment carries: `payload.version` when the workflow
/// put one there, else the ref it deployed. The digest only from the payload.
fn version_and_digest(d: &wire::Deployment) -> (String, Option<release_desk_domain::Digest>) {
    let payload = match &d.payload {
        // Some tools send the payload as a JSON string.
        serde_json::Value::String(s) => serde_json::from_str(s).unwrap_or_default(),
        other => other.clone(),
    };
    let version = payload
        .get("version")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| d.git_ref.clone());
    let digest = payload
        .get("digest")
        .and_then(|v| v.as_str())
        .and_then(|s| release_desk_domain::Digest::parse(s).ok());
    (version, digest)
}

/// How long a finished deployment's status is trusted while its list is
/// unchanged. A status added to a finished deployment with no new deployment
/// (rare: GitHub marks older ones inactive when a newer one succeeds, which
/// changes the list) is picked up within this time.
const FINISHED_STATUS_TTL: Duration = Duration::from_secs(3600);

/// What the last read of one environment's deployments found.
struct HistoryMemo {
    at: std::time::Instant,
    deployments: Vec<ObservedDeployment>,
}

fn finished(o: ObservedOutcome) -> bool {
    matches!(
        o,
        ObservedOutcome::Succeeded | ObservedOutcome::Failed | ObservedOutcome::Inactive
    )
}

#[async_trait]
impl DeploymentHistory for GitHub {
    /// One conditional request for the list; when GitHub answers 304, the
    /// statuses of finished deployments are taken from the last read and
    /// only unfinished ones are asked again, so an unchanged environment
    /// costs one 304 instead of one request per deployment.
    async fn deployments(&self, binding: &BindingSettings) -> Result<Vec<ObservedDeployment>> {
        let (owner, repo) = repository(binding)?;
        let environment = setting(binding, "environment")?;
        let base = format!("/repos/{}/{}", enc(&owner), enc(&repo));
        let list_path = format!(
            "{base}/deployments?environment={}&per_page={HISTORY_DEPTH}",
            enc(environment)
        );
        let listed = self
            .http
            .get_json::<Vec<wire::Deployment>>("GET /repos/{owner}/{repo}/deployments", &list_path)
            .await?;
        let remembered: BTreeMap<String, ObservedDeployment> = {
            let memo = self.history.lock().unwrap_or_else(|p| p.into_inner());
            match memo.get(&list_path) {
                Some(m) if listed.not_modified && m.at.elapsed() < FINISHED_STATUS_TTL => m
                    .deployments
                    .iter()
                    .filter(|d| finished(d.outcome))
                    .map(|d| (d.provider_id.clone(), d.clone()))
                    .collect(),
                _ => BTreeMap::new(),
            }
        };
        let mut out = Vec::with_capacity(listed.value.len());
        for d in listed.value {
            let provider_id = format!("{owner}/{repo}/deployments/{}", d.id);
            if let Some(known) = remembered.get(&provider_id) {
                out.push(known.clone());
                continue;
            }
            // Newest status first; one is enough, unless it is `inactive`,
            // which only says a later deployment replaced this one (or a
            // cleanup deactivated it): how it ended is the status before.
            let mut statuses: Vec<wire::DeploymentStatus> = self
                .get(
                    "GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
                    &format!("{base}/deployments/{}/statuses?per_page=1", d.id),
                )
                .await?;
            if statuses.first().is_some_and(|s| s.state == "inactive") {
                statuses = self
                    .get(
                        "GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
                        &format!("{base}/deployments/{}/statuses?per_page=20", d.id),
                    )
                    .await?;
            }
            let latest = statuses
                .iter()
                .find(|s| s.state != "inactive")
                .or(statuses.first());
            let (version, digest) = version_and_digest(&d);
            out.push(ObservedDeployment {
                provider_id,
                environment: d.environment.clone(),
                version,
                digest,
                outcome: outcome(latest.map(|s| s.state.as_str())),
                commit: Some(d.sha.clone()),
                created_by: d.creator.as_ref().map(|c| c.login.clone()),
                created_at: d.created_at,
                updated_at: latest.map(|s| s.updated_at),
                link: latest.and_then(|s| {
                    s.log_url
                        .clone()
                        .or_else(|| s.target_url.clone())
                        .or_else(|| s.environment_url.clone())
                        .filter(|u| !u.is_empty())
                }),
            });
        }
        let mut memo = self.history.lock().unwrap_or_else(|p| p.into_inner());
        // The TTL counts from the last full read: a read that reused
        // statuses keeps that read's time.
        let at = match memo.get(&list_path) {
            Some(m) if !remembered.is_empty() => m.at,
            _ => std::time::Instant::now(),
        };
        memo.insert(
            list_path,
            HistoryMemo {
                at,
                deployments: out.clone(),
            },
        );
        Ok(out)
    }
}

fn reviewer_name(r: &wire::Reviewer) -> Option<String> {
    let account = r.reviewer.as_ref()?;
    match r.kind.as_deref() {
        Some("Team") => account.slug.clone().map(|s| format!("team {s}")),
        _ => account.login.clone(),
    }
}

#[async_trait]
impl ApprovalSource for GitHub {
    fn scope(&self, binding: &BindingSettings) -> BindingSettings {
        binding
            .iter()
            .filter(|(k, _)| k.as_str() == "repository")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    async fn pending_approvals(&self, binding: &BindingSettings) -> Result<Vec<PendingApproval>> {
        let (owner, repo) = repository(binding)?;
        let wanted = binding.get("environment");
        let base = format!("/repos/{}/{}", enc(&owner), enc(&repo));
        let runs: wire::RunList = self
            .get(
                "GET /repos/{owner}/{repo}/actions/runs",
                &format!("{base}/actions/runs?status=waiting&per_page=50"),
            )
            .await?;
        let mut out = Vec::new();
        for run in runs.workflow_runs {
            let pending: Vec<wire::PendingDeployment> = self
                .get(
                    "GET /repos/{owner}/{repo}/actions/runs/{run_id}/pending_deployments",
                    &format!("{base}/actions/runs/{}/pending_deployments", run.id),
                )
                .await?;
            for p in pending {
                let (Some(env_id), Some(env_name)) = (p.environment.id, p.environment.name.clone())
                else {
                    continue;
                };
                if wanted.is_some_and(|w| w != &env_name) {
                    continue;
                }
                let title = format!(
                    "{} (run #{})",
                    run.display_title
                        .clone()
                        .or_else(|| run.name.clone())
                        .unwrap_or_else(|| "Workflow run".into()),
                    run.run_number
                );
                out.push(PendingApproval {
                    provider_id: format!("{owner}/{repo}/runs/{}/environments/{env_id}", run.id),
                    environment: env_name,
                    title,
                    commit: Some(run.head_sha.clone()),
                    reviewers: p.reviewers.iter().filter_map(reviewer_name).collect(),
                    wait_timer_minutes: p
                        .wait_timer
                        .and_then(|m| u32::try_from(m).ok())
                        .filter(|m| *m > 0),
                    can_approve: p.current_user_can_approve,
                    requested_at: Some(run.created_at),
                    link: Some(run.html_url.clone()),
                    reference: BTreeMap::from([
                        ("repository".to_string(), format!("{owner}/{repo}")),
                        ("run_id".to_string(), run.id.to_string()),
                        ("environment_id".to_string(), env_id.to_string()),
                    ]),
                });
            }
        }
        Ok(out)
    }

    async fn decide(
        &self,
        approval: &PendingApproval,
        verdict: Verdict,
        comment: &str,
    ) -> Result<()> {
        let (owner, repo) = repository(&approval.reference)?;
        let number = |key: &str| -> Result<i64> {
            approval
                .reference
                .get(key)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| refused(format!("this approval has no {key}; refresh the queue")))
        };
        let (run_id, env_id) = (number("run_id")?, number("environment_id")?);
        let body = serde_json::json!({
            "environment_ids": [env_id],
            "state": match verdict { Verdict::Approve => "approved", Verdict::Reject => "rejected" },
            "comment": comment,
        });
        self.http
            .send(
                Method::Post,
                "POST /repos/{owner}/{repo}/actions/runs/{run_id}/pending_deployments",
                &format!(
                    "/repos/{}/{}/actions/runs/{run_id}/pending_deployments",
                    enc(&owner),
                    enc(&repo)
                ),
                Some(&body),
            )
            .await?;
        Ok(())
    }
}

fn run_state(run: &wire::Run, environment: &str) -> RunState {
    match (run.status.as_deref(), run.conclusion.as_deref()) {
        (Some("completed"), Some("success")) => RunState::Succeeded,
        (Some("completed"), Some("cancelled")) => RunState::Cancelled,
        (Some("completed"), other) => RunState::Failed(format!(
            "the workflow run ended {}",
            other.unwrap_or("without a conclusion")
        )),
        (Some("waiting"), _) => RunState::Waiting(format!(
            "waiting for the reviewers of the GitHub environment '{environment}'"
        )),
        (Some("in_progress"), _) => RunState::Running,
        _ => RunState::Queued,
    }
}

impl GitHub {
    /// Looks for the run a key started, for up to `dispatch_wait`.
    async fn wait_for_run(
        &self,
        key: &ActionKey,
        binding: &BindingSettings,
    ) -> Result<Option<RunHandle>> {
        let step = Duration::from_millis(500).min(self.dispatch_wait);
        let deadline = tokio::time::Instant::now() + self.dispatch_wait;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(step).await;
            if let Some(run) = self.find_run(key, binding).await? {
                return Ok(Some(run));
            }
        }
        Ok(None)
    }

    async fn workflow_runs(&self, binding: &BindingSettings) -> Result<Vec<wire::Run>> {
        let (owner, repo) = repository(binding)?;
        let workflow = setting(binding, "workflow")?;
        let list: wire::RunList = self
            .get(
                "GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
                &format!(
                    "/repos/{}/{}/actions/workflows/{}/runs?event=workflow_dispatch&per_page=50",
                    enc(&owner),
                    enc(&repo),
                    enc(workflow)
                ),
            )
            .await?;
        Ok(list.workflow_runs)
    }
}

/// Whether a run's title carries the key as a whole word.
fn carries_key(run: &wire::Run, key: &ActionKey) -> bool {
    [run.display_title.as_deref(), run.name.as_deref()]
        .into_iter()
        .flatten()
        .any(|t| t.split_whitespace().any(|w| w == key.as_str()))
}

#[async_trait]
impl PipelineDeploy for GitHub {
    async fn find_run(
        &self,
        key: &ActionKey,
        binding: &BindingSettings,
    ) -> Result<Option<RunHandle>> {
        Ok(self
            .workflow_runs(binding)
            .await?
            .into_iter()
            .find(|r| carries_key(r, key))
            .map(|r| RunHandle {
                id: r.id.to_string(),
                link: Some(r.html_url),
            }))
    }

    async fn start_run(
        &self,
        key: &ActionKey,
        binding: &BindingSettings,
        request: &PipelineRequest,
    ) -> Result<RunHandle> {
        if let Some(run) = self.find_run(key, binding).await? {
            return Ok(run);
        }
        let (owner, repo) = repository(binding)?;
        let workflow = setting(binding, "workflow")?;
        let git_ref = binding.get("ref").map_or("main", String::as_str);
        let body = serde_json::json!({
            "ref": git_ref,
            "inputs": {
                "version": request.version,
                "digest": request.digest.to_string(),
                "environment": request.environment,
                "action_key": key.as_str(),
            },
            "return_run_details": true,
        });
        let sent = self
            .http
            .send(
                Method::Post,
                "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
                &format!(
                    "/repos/{}/{}/actions/workflows/{}/dispatches",
                    enc(&owner),
                    enc(&repo),
                    enc(workflow)
                ),
                Some(&body),
            )
            .await;
        let answer = match sent {
            Ok(a) => a,
            Err(e) if e.kind == release_desk_http::HttpErrorKind::MaybeApplied => {
                // GitHub may have started it: look for it (the runs list lags
                // a dispatch by seconds) before saying the outcome is unknown,
                // so the next try finds it rather than dispatching again.
                if let Some(run) = self.wait_for_run(key, binding).await? {
                    return Ok(run);
                }
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        if answer.status == 200 && !answer.body.is_empty() {
            let run: wire::DispatchAnswer = self.http.decode(
                "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
                &answer.body,
            )?;
            return Ok(RunHandle {
                id: run.workflow_run_id.to_string(),
                link: run.html_url,
            });
        }
        // 204: GitHub (or an older Enterprise server) gave no run id; the run
        // appears in the list within seconds, named after the key.
        if let Some(run) = self.wait_for_run(key, binding).await? {
            return Ok(run);
        }
        // Not retried: a retry would dispatch a second deployment.
        Err(refused(format!(
            "GitHub accepted the dispatch of {workflow} but no run carries the action key {key}: give the workflow `run-name: \"Release Desk ${{{{ inputs.action_key }}}}\"`, then check its runs on GitHub before promoting again"
        )))
    }

    async fn poll_run(&self, binding: &BindingSettings, run: &RunHandle) -> Result<RunProgress> {
        let (owner, repo) = repository(binding)?;
        let environment = binding.get("environment").map_or("", String::as_str);
        let id: i64 = run
            .id
            .parse()
            .map_err(|_| refused(format!("'{}' is not a GitHub run id", run.id)))?;
        let base = format!("/repos/{}/{}/actions/runs/{id}", enc(&owner), enc(&repo));
        let r: wire::Run = self
            .get("GET /repos/{owner}/{repo}/actions/runs/{run_id}", &base)
            .await?;
        let jobs: wire::JobList = self
            .get(
                "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs",
                &format!("{base}/jobs?per_page=100"),
            )
            .await?;
        let word = |status: &str, conclusion: &Option<String>| {
            conclusion.clone().unwrap_or_else(|| status.to_string())
        };
        Ok(RunProgress {
            state: run_state(&r, environment),
            jobs: jobs
                .jobs
                .iter()
                .map(|j| RunJob {
                    name: j.name.clone(),
                    status: word(&j.status, &j.conclusion),
                    steps: j
                        .steps
                        .iter()
                        .map(|s| RunStep {
                            name: s.name.clone(),
                            status: word(&s.status, &s.conclusion),
                        })
                        .collect(),
                })
                .collect(),
            link: Some(r.html_url),
        })
    }
}

/// The most commits "what ships" lists; GitHub's compare pages hold 100.
const MAX_SHIPPED: usize = 500;

/// The pull request a commit message names: a merge commit's "Merge pull
/// request #123 from …" or a squash merge's title ending "(#123)".
fn pull_request_of(message: &str) -> Option<u32> {
    let title = message.lines().next().unwrap_or("");
    if let Some(rest) = title.strip_prefix("Merge pull request #") {
        return rest
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok();
    }
    let inner = title.trim_end().strip_suffix(')')?;
    let (_, number) = inner.rsplit_once("(#")?;
    number.parse().ok()
}

/// A ref a person or a version gives: letters, digits and `._-/`, never `..`
/// (which would change the compare's meaning).
fn git_ref(value: &str) -> Result<&str> {
    let ok = !value.is_empty()
        && value.len() <= 200
        && !value.contains("..")
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'));
    if ok {
        Ok(value)
    } else {
        Err(refused(format!(
            "'{value}' is not a git ref the desk compares"
        )))
    }
}

#[async_trait]
impl CommitHistory for GitHub {
    async fn compare(
        &self,
        binding: &BindingSettings,
        base: &str,
        head: &str,
    ) -> Result<Comparison> {
        let (owner, repo) = repository(binding)?;
        let (base, head) = (git_ref(base)?, git_ref(head)?);
        let mut commits = Vec::new();
        let mut total = 0;
        let mut not_ahead = false;
        // The compare API pages its commits (oldest first) without a Link
        // header: ask page by page until a short page or the cap.
        for page in 1..=(MAX_SHIPPED / 100) {
            let answer: wire::Compare = self
                .get(
                    "GET /repos/{owner}/{repo}/compare/{basehead}",
                    &format!(
                        "/repos/{}/{}/compare/{}...{}?per_page=100&page={page}",
                        enc(&owner),
                        enc(&repo),
                        enc(base),
                        enc(head)
                    ),
                )
                .await?;
            total = answer.total_commits;
            not_ahead = answer.status != "ahead";
            let got = answer.commits.len();
            commits.extend(answer.commits.into_iter().map(|c| {
                ShippedCommit {
                    title: c.commit.message.lines().next().unwrap_or("").to_string(),
                    pull_request: pull_request_of(&c.commit.message),
                    author: c
                        .author
                        .map(|a| a.login)
                        .or_else(|| c.commit.author.and_then(|a| a.name)),
                    link: c.html_url,
                    sha: c.sha,
                }
            }));
            if got < 100 || commits.len() >= total as usize {
                break;
            }
        }
        Ok(Comparison {
            commits,
            total,
            not_ahead,
        })
    }
}

#[cfg(test)]
mod tests;
