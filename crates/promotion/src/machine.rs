//! The promotion state machine: a plan of steps, the events that move it, and
//! what runs next.
//!
//! Written by hand rather than with a state-machine crate because the state
//! is a list of steps plus a compensation that is appended on failure, which
//! the table-driven crates cannot express without losing the plan's shape.

use chrono::{DateTime, Utc};
use release_desk_domain::{Digest, Leg, Slug};
use release_desk_provider::{RunHandle, RunProgress, StepReport};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::soak::SoakSample;
use crate::{PromotionError, Result};

/// A step failing this many times for reasons that may pass (timeouts, a
/// target briefly unreachable) fails the promotion.
pub const MAX_ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum PromotionKind {
    /// Put a new artefact live.
    Promote,
    /// Return to the last known good artefact.
    Rollback,
    /// Exercise the rollback path on purpose (non-production only): go to the
    /// previous release, check it, and come back.
    Drill,
}

impl PromotionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Promote => "promote",
            Self::Rollback => "rollback",
            Self::Drill => "drill",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Promote, Self::Rollback, Self::Drill]
            .into_iter()
            .find(|k| k.as_str() == value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    BlueGreen,
    Rolling,
    /// The provider runs its own deployment (a GitHub Actions workflow, an
    /// Azure DevOps pipeline): the desk starts it and follows it.
    Pipeline,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BlueGreen => "blue_green",
            Self::Rolling => "rolling",
            Self::Pipeline => "pipeline",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::BlueGreen, Self::Rolling, Self::Pipeline]
            .into_iter()
            .find(|k| k.as_str() == value)
    }
}

/// An artefact as it stands (or will stand) in the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    pub version: String,
    pub digest: Digest,
    /// The blue-green leg it runs on, when the strategy has legs.
    pub leg: Option<Leg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Put the artefact on a leg and start it, without traffic.
    Deploy,
    /// Test a leg directly, before it takes traffic.
    Smoke,
    /// Send traffic to a leg.
    Switch,
    /// Watch live traffic against the error-rate and latency thresholds.
    Soak,
    /// The provider's own rolling update.
    RollingUpdate,
    /// After a failure: traffic back to the leg that was live before.
    SwitchBack,
    /// After a failure with the rolling strategy: roll the previous artefact
    /// out again.
    RollingBack,
    /// Start the provider's pipeline for the release and follow it to its
    /// end: the run's conclusion is the step's.
    RunPipeline,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deploy => "deploy",
            Self::Smoke => "smoke",
            Self::Switch => "switch",
            Self::Soak => "soak",
            Self::RollingUpdate => "rolling_update",
            Self::SwitchBack => "switch_back",
            Self::RollingBack => "rolling_back",
            Self::RunPipeline => "run_pipeline",
        }
    }

    /// Whether a success (or a failure part-way) may have changed which
    /// release takes traffic.
    pub fn moves_traffic(self) -> bool {
        matches!(
            self,
            Self::Switch
                | Self::RollingUpdate
                | Self::SwitchBack
                | Self::RollingBack
                | Self::RunPipeline
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum StepState {
    Pending,
    Running {
        since: DateTime<Utc>,
    },
    Succeeded {
        at: DateTime<Utc>,
        report: StepReport,
    },
    Failed {
        at: DateTime<Utc>,
        reason: String,
    },
    /// Not run because an earlier step failed.
    Skipped {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub kind: StepKind,
    pub leg: Option<Leg>,
    pub state: StepState,
    /// Attempts begun, counting the current one.
    pub attempts: u32,
    /// Appended after a failure to restore the previous release.
    pub compensation: bool,
    /// Reasons of earlier attempts that failed and were retried.
    pub retried: Vec<String>,
    /// When the first attempt began (a soak runs until this plus its length).
    pub first_began: Option<DateTime<Utc>>,
    /// The provider run this step started ([`StepKind::RunPipeline`]): kept
    /// across attempts and restarts, so the step follows that run and never
    /// starts a second one.
    #[serde(default)]
    pub run: Option<RunHandle>,
    /// The run as last seen (its jobs and steps), for the timeline.
    #[serde(default)]
    pub progress: Option<RunProgress>,
}

impl Step {
    fn new(kind: StepKind, leg: Option<Leg>) -> Self {
        Self {
            kind,
            leg,
            state: StepState::Pending,
            attempts: 0,
            compensation: false,
            retried: Vec::new(),
            first_began: None,
            run: None,
            progress: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Running,
    /// A step failed after traffic may have moved: restoring the previous release.
    SwitchingBack,
    Succeeded,
    Failed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::SwitchingBack => "switching_back",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

/// Why a promotion failed, and whether traffic was restored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub step: StepKind,
    pub reason: String,
    /// Traffic was back on the previous release when the promotion ended.
    pub switched_back: bool,
    /// Restoring the previous release itself failed: a person must act.
    pub needs_attention: bool,
}

/// What a person asked for, with what the target reported when planning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PlanRequest {
    #[specta(type = u32)]
    pub id: i64,
    pub kind: PromotionKind,
    pub strategy: Strategy,
    pub service: Slug,
    pub environment: Slug,
    /// What should be live at the end: the new artefact for a promotion, the
    /// last known good for a rollback, the current release for a drill.
    pub release: Release,
    /// What is live now, if anything (with its leg for blue-green).
    pub current: Option<Release>,
    /// For a rollback or drill: the leg that still runs the release to go
    /// back to, running and healthy. `None` when nothing good still runs.
    pub ready_leg: Option<Leg>,
    pub soak_secs: u32,
    pub requested_by: String,
    pub at: DateTime<Utc>,
    /// The environment is production (drills are refused there).
    pub production: bool,
    /// Random text unique to this promotion, part of every action key: ids
    /// start again at 1 in a new database, while a target's journal of
    /// actions taken outlives the database.
    pub key_scope: String,
}

/// A promotion, rollback or drill and everything that has happened to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Promotion {
    #[specta(type = u32)]
    pub id: i64,
    pub kind: PromotionKind,
    pub strategy: Strategy,
    pub service: Slug,
    pub environment: Slug,
    pub release: Release,
    /// What was live when the promotion was planned: where a failure returns.
    pub previous: Option<Release>,
    pub soak_secs: u32,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub steps: Vec<Step>,
    pub samples: Vec<SoakSample>,
    pub phase: Phase,
    pub failure: Option<Failure>,
    pub finished_at: Option<DateTime<Utc>>,
    /// See [`PlanRequest::key_scope`]. Empty for promotions planned before
    /// scopes existed, whose keys keep their old form so a resumed one still
    /// finds the actions it took.
    #[serde(default)]
    pub key_scope: String,
}

/// Something that happened to a promotion. Stored in order; folding them
/// from [`plan`] gives the promotion back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase", tag = "event")]
pub enum PromotionEvent {
    StepBegan {
        step: u32,
        at: DateTime<Utc>,
    },
    SoakSampled {
        step: u32,
        sample: SoakSample,
    },
    StepSucceeded {
        step: u32,
        at: DateTime<Utc>,
        report: StepReport,
    },
    StepFailed {
        step: u32,
        at: DateTime<Utc>,
        reason: String,
        /// The cause may pass (timeout, target unreachable): try again while
        /// attempts remain.
        retryable: bool,
    },
    /// A provider run was started (or found, started before a crash) for
    /// the step: written before the run is followed.
    RunStarted {
        step: u32,
        at: DateTime<Utc>,
        run: RunHandle,
    },
    /// The run moved on (a job or step changed), for the timeline.
    RunProgressed {
        step: u32,
        progress: RunProgress,
    },
}

/// What the engine should do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Run {
        step: u32,
        kind: StepKind,
        leg: Option<Leg>,
        /// The idempotency key of this attempt.
        key: String,
        /// The step began before (the app stopped mid-step): run it again
        /// under the same key without writing a new `StepBegan`.
        resumed: bool,
    },
    Done,
}

fn other(leg: Leg) -> Leg {
    match leg {
        Leg::Blue => Leg::Green,
        Leg::Green => Leg::Blue,
    }
}

/// Plans the steps for a request. Refuses what cannot work, saying why.
pub fn plan(request: PlanRequest) -> Result<Promotion> {
    let unplannable = |why: &str| Err(PromotionError::Unplannable(why.to_owned()));
    if request.soak_secs > 24 * 3600 {
        return unplannable(
            "a soak longer than a day is a mistake: give it in seconds, up to 86,400",
        );
    }
    if request.kind == PromotionKind::Drill && request.production {
        return unplannable(&format!(
            "{} is production: rollback drills exercise the path in non-production environments only",
            request.environment
        ));
    }
    let current_leg = request.current.as_ref().and_then(|c| c.leg);
    let idle = current_leg.map(other).unwrap_or(Leg::Blue);
    let already_live = request
        .current
        .as_ref()
        .is_some_and(|c| c.digest == request.release.digest);
    let nothing_to_promote = format!(
        "{} {} is already live in {}: nothing to promote",
        request.service, request.release.version, request.environment
    );
    let steps = match (request.kind, request.strategy) {
        (PromotionKind::Promote, Strategy::BlueGreen) => {
            if already_live {
                return unplannable(&nothing_to_promote);
            }
            vec![
                Step::new(StepKind::Deploy, Some(idle)),
                Step::new(StepKind::Smoke, Some(idle)),
                Step::new(StepKind::Switch, Some(idle)),
                Step::new(StepKind::Soak, Some(idle)),
            ]
        }
        // A rolling update replaces running instances; the very first
        // release has none, so it goes out like a blue-green one.
        (PromotionKind::Promote, Strategy::Rolling) if request.current.is_none() => vec![
            Step::new(StepKind::Deploy, Some(idle)),
            Step::new(StepKind::Smoke, Some(idle)),
            Step::new(StepKind::Switch, Some(idle)),
            Step::new(StepKind::Soak, Some(idle)),
        ],
        (PromotionKind::Promote, Strategy::Rolling) => vec![
            Step::new(StepKind::RollingUpdate, None),
            Step::new(StepKind::Soak, None),
        ],
        (PromotionKind::Rollback, Strategy::BlueGreen) => {
            if request.current.is_none() {
                return unplannable("nothing is live here, so there is nothing to roll back from");
            }
            match request.ready_leg {
                // The good release still runs: test it and send traffic back.
                Some(leg) if Some(leg) != current_leg => vec![
                    Step::new(StepKind::Smoke, Some(leg)),
                    Step::new(StepKind::Switch, Some(leg)),
                    Step::new(StepKind::Soak, Some(leg)),
                ],
                // Nothing good runs any more: deploy it again on the idle leg.
                _ => vec![
                    Step::new(StepKind::Deploy, Some(idle)),
                    Step::new(StepKind::Smoke, Some(idle)),
                    Step::new(StepKind::Switch, Some(idle)),
                    Step::new(StepKind::Soak, Some(idle)),
                ],
            }
        }
        (PromotionKind::Rollback, Strategy::Rolling) => vec![
            Step::new(StepKind::RollingUpdate, None),
            Step::new(StepKind::Soak, None),
        ],
        (PromotionKind::Drill, Strategy::BlueGreen) => {
            let (Some(live), Some(back)) = (current_leg, request.ready_leg) else {
                return unplannable(
                    "a drill needs the previous release still running on the other leg; promote twice first",
                );
            };
            if back == live {
                return unplannable("the previous release must be on the idle leg for a drill");
            }
            vec![
                Step::new(StepKind::Smoke, Some(back)),
                Step::new(StepKind::Switch, Some(back)),
                Step::new(StepKind::Soak, Some(back)),
                Step::new(StepKind::Smoke, Some(live)),
                Step::new(StepKind::Switch, Some(live)),
            ]
        }
        (PromotionKind::Drill, Strategy::Rolling) => {
            return unplannable(
                "a drill switches between blue-green legs; this target updates in place",
            )
        }
        (PromotionKind::Promote, Strategy::Pipeline) => {
            if already_live {
                return unplannable(&nothing_to_promote);
            }
            vec![Step::new(StepKind::RunPipeline, None)]
        }
        // Rolling back through a pipeline runs it again with the last good
        // release: the provider's own deployment is the only way in.
        (PromotionKind::Rollback, Strategy::Pipeline) => {
            if request.current.is_none() {
                return unplannable("nothing is live here, so there is nothing to roll back from");
            }
            vec![Step::new(StepKind::RunPipeline, None)]
        }
        (PromotionKind::Drill, Strategy::Pipeline) => return unplannable(
            "a drill switches between blue-green legs; this environment deploys through a pipeline",
        ),
    };
    Ok(Promotion {
        id: request.id,
        kind: request.kind,
        strategy: request.strategy,
        service: request.service,
        environment: request.environment,
        release: request.release,
        previous: request.current,
        soak_secs: request.soak_secs,
        requested_by: request.requested_by,
        created_at: request.at,
        steps,
        samples: Vec::new(),
        phase: Phase::Running,
        failure: None,
        finished_at: None,
        key_scope: request.key_scope,
    })
}

impl Promotion {
    /// The idempotency key of a step's attempt. Stable: the same step and
    /// attempt always give the same key; unique to this promotion across
    /// databases (see [`PlanRequest::key_scope`]).
    pub fn key(&self, step: u32, attempt: u32) -> String {
        let kind = self
            .steps
            .get(step as usize)
            .map_or("unknown", |s| s.kind.as_str());
        if self.key_scope.is_empty() {
            format!("promotion-{}/{step}-{kind}/{attempt}", self.id)
        } else {
            format!(
                "promotion-{}-{}/{step}-{kind}/{attempt}",
                self.id, self.key_scope
            )
        }
    }

    /// What to do now.
    pub fn next(&self) -> Next {
        if self.phase.is_finished() {
            return Next::Done;
        }
        let running = self
            .steps
            .iter()
            .position(|s| matches!(s.state, StepState::Running { .. }));
        let pending = self
            .steps
            .iter()
            .position(|s| matches!(s.state, StepState::Pending));
        let (index, resumed) = match (running, pending) {
            (Some(i), _) => (i, true),
            (None, Some(i)) => (i, false),
            (None, None) => return Next::Done,
        };
        let step = &self.steps[index];
        let attempt = if step.kind == StepKind::RunPipeline {
            // One run per step, whatever the attempt: a retry after a start
            // that timed out must find the run that start may have begun,
            // by the same key, rather than start a second deployment.
            1
        } else if resumed {
            step.attempts
        } else {
            step.attempts + 1
        };
        // Proven infallible: plans have a handful of steps.
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        Next::Run {
            step: index,
            kind: step.kind,
            leg: step.leg,
            key: self.key(index, attempt),
            resumed,
        }
    }

    /// Applies one event. An event that does not fit is an error, never
    /// ignored: it means the stored history is not what the engine wrote.
    pub fn apply(&mut self, event: &PromotionEvent) -> Result<()> {
        if self.phase.is_finished() {
            return Err(self.out_of_order("the promotion has already ended"));
        }
        match event {
            PromotionEvent::StepBegan { step, at } => {
                self.expect_next(*step, false)?;
                let s = &mut self.steps[*step as usize];
                s.attempts += 1;
                s.first_began.get_or_insert(*at);
                s.state = StepState::Running { since: *at };
            }
            PromotionEvent::SoakSampled { step, sample } => {
                self.expect_running(*step)?;
                if self.steps[*step as usize].kind != StepKind::Soak {
                    return Err(self.out_of_order("a soak sample for a step that is not a soak"));
                }
                self.samples.push(sample.clone());
            }
            PromotionEvent::RunStarted { step, run, .. } => {
                self.expect_running(*step)?;
                let s = &mut self.steps[*step as usize];
                if s.kind != StepKind::RunPipeline {
                    return Err(self.out_of_order("a run started for a step that runs no pipeline"));
                }
                if s.run.as_ref().is_some_and(|r| r.id != run.id) {
                    return Err(self.out_of_order("a second run started for one step"));
                }
                s.run = Some(run.clone());
            }
            PromotionEvent::RunProgressed { step, progress } => {
                self.expect_running(*step)?;
                let s = &mut self.steps[*step as usize];
                if s.run.is_none() {
                    return Err(self.out_of_order("progress of a run that was never started"));
                }
                s.progress = Some(progress.clone());
            }
            PromotionEvent::StepSucceeded { step, at, report } => {
                self.expect_running(*step)?;
                self.steps[*step as usize].state = StepState::Succeeded {
                    at: *at,
                    report: report.clone(),
                };
                self.after_success(*at);
            }
            PromotionEvent::StepFailed {
                step,
                at,
                reason,
                retryable,
            } => {
                self.expect_running(*step)?;
                let index = *step as usize;
                let s = &mut self.steps[index];
                if *retryable && s.attempts < MAX_ATTEMPTS {
                    s.retried.push(reason.clone());
                    s.state = StepState::Pending;
                } else {
                    s.state = StepState::Failed {
                        at: *at,
                        reason: reason.clone(),
                    };
                    self.after_failure(index, reason, *at);
                }
            }
        }
        Ok(())
    }

    fn out_of_order(&self, reason: &str) -> PromotionError {
        PromotionError::OutOfOrder {
            promotion: self.id,
            reason: reason.to_owned(),
        }
    }

    fn expect_next(&self, step: u32, resumed: bool) -> Result<()> {
        match self.next() {
            Next::Run {
                step: s,
                resumed: r,
                ..
            } if s == step && r == resumed => Ok(()),
            _ => Err(self.out_of_order(&format!("step {step} is not the next to begin"))),
        }
    }

    fn expect_running(&self, step: u32) -> Result<()> {
        match self.steps.get(step as usize).map(|s| &s.state) {
            Some(StepState::Running { .. }) => Ok(()),
            _ => Err(self.out_of_order(&format!("step {step} is not running"))),
        }
    }

    fn after_success(&mut self, at: DateTime<Utc>) {
        let left = self
            .steps
            .iter()
            .any(|s| matches!(s.state, StepState::Pending | StepState::Running { .. }));
        if left {
            return;
        }
        self.finished_at = Some(at);
        match self.phase {
            Phase::SwitchingBack => {
                self.phase = Phase::Failed;
                if let Some(f) = &mut self.failure {
                    f.switched_back = true;
                }
            }
            _ => self.phase = Phase::Succeeded,
        }
    }

    fn after_failure(&mut self, index: usize, reason: &str, at: DateTime<Utc>) {
        let kind = self.steps[index].kind;
        for s in &mut self.steps {
            if matches!(s.state, StepState::Pending) {
                s.state = StepState::Skipped {
                    reason: format!("not run: {} failed", kind.as_str().replace('_', " ")),
                };
            }
        }
        if self.phase == Phase::SwitchingBack {
            // Restoring the previous release failed: stop and say so loudly.
            self.phase = Phase::Failed;
            self.finished_at = Some(at);
            if let Some(f) = &mut self.failure {
                f.needs_attention = true;
                f.reason = format!(
                    "{}; then switching back failed: {reason}. Traffic may be on the failed release: check the target now",
                    f.reason
                );
            }
            return;
        }
        let moved = self.steps[..=index]
            .iter()
            .any(|s| s.kind.moves_traffic() && s.attempts > 0);
        self.failure = Some(Failure {
            step: kind,
            reason: reason.to_owned(),
            switched_back: false,
            // Traffic may be on a failing release and nothing will restore it.
            needs_attention: moved && self.compensation(index).is_none(),
        });
        match self.compensation(index) {
            Some(step) => {
                self.steps.push(step);
                self.phase = Phase::SwitchingBack;
            }
            None => {
                self.phase = Phase::Failed;
                self.finished_at = Some(at);
            }
        }
    }

    /// The step that restores the previous release after step `failed`, if
    /// traffic may have moved and there is a previous release to return to.
    fn compensation(&self, failed: usize) -> Option<Step> {
        let moved = self.steps[..=failed]
            .iter()
            .any(|s| s.kind.moves_traffic() && s.attempts > 0);
        // A rollback that fails is not undone: what it left was already the
        // failing release, so going "back" would not reach a healthy one.
        if !moved || self.kind == PromotionKind::Rollback {
            return None;
        }
        let previous = self.previous.as_ref()?;
        let mut step = match self.strategy {
            Strategy::BlueGreen => Step::new(StepKind::SwitchBack, Some(previous.leg?)),
            Strategy::Rolling => Step::new(StepKind::RollingBack, None),
            // The provider's pipeline owns its environment: the desk does not
            // start another deployment on its own. A person reads the run
            // and rolls back from the desk if it left the failed release.
            Strategy::Pipeline => return None,
        };
        step.compensation = true;
        Some(step)
    }

    /// The leg traffic is on according to this promotion's own record, for
    /// blue-green: the previous live leg moved by every switch that
    /// succeeded. (A failed switch may have moved it too; the engine asks the
    /// target when it needs to know for sure.)
    pub fn recorded_live_leg(&self) -> Option<Leg> {
        let mut live = self.previous.as_ref().and_then(|p| p.leg);
        for s in &self.steps {
            if matches!(s.kind, StepKind::Switch | StepKind::SwitchBack)
                && matches!(s.state, StepState::Succeeded { .. })
            {
                live = s.leg;
            }
        }
        live
    }
}
