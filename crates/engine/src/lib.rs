//! Runs promotions, rollbacks and drills against deployment targets.
//!
//! The engine is the only place that calls providers. For each promotion it
//! loops: read the promotion back from the store, ask it what to do next
//! ([`Promotion::next`]), write `StepBegan`, call the provider with the step's
//! idempotency key, write the outcome. Because every step's start is written
//! before the provider is called and its outcome after, a promotion killed
//! at any point is resumed by [`Engine::resume_unfinished`]: the step that
//! was running is called again under the same key, and the target answers
//! from its own record instead of acting twice.

mod error;
mod pipeline;
mod readiness;
mod step;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use release_desk_changes::Profile;
use release_desk_domain::Slug;
use release_desk_promotion::{Next, Promotion, PromotionEvent, PromotionKind, Release};
use release_desk_provider::{ActionKey, DeploymentTarget, TargetInfo, TargetRef, TargetStatus};
use release_desk_store::{PromotionRecord, PromotionRequest, Store, TargetBinding, TargetSnapshot};

pub use error::{EngineError, Result};
pub use pipeline::PipelineOpener;
pub use readiness::RollbackReadiness;

/// Called with the promotion after every event, for the UI's live timeline.
pub type UpdateSink = Arc<dyn Fn(&Promotion) + Send + Sync>;

/// Tuning that tests shorten.
#[derive(Debug, Clone, Copy)]
pub struct EngineSettings {
    /// Length of one soak observation.
    pub sample: Duration,
    /// Wait before retrying a step that failed for a passing reason.
    pub retry_pause: Duration,
    /// Wait between two looks at a provider's pipeline run.
    pub poll: Duration,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            sample: Duration::from_secs(5),
            retry_pause: Duration::from_secs(2),
            poll: Duration::from_secs(5),
        }
    }
}

struct Inner {
    store: Store,
    targets: HashMap<String, Arc<dyn DeploymentTarget>>,
    updates: UpdateSink,
    running: Mutex<HashSet<i64>>,
    settings: EngineSettings,
    /// Opens providers' pipelines; set once by the shell.
    pipelines: std::sync::OnceLock<Arc<dyn PipelineOpener>>,
}

/// Cheap to clone; clones share the running set.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// Removes a promotion from the running set however its run ends.
struct RunGuard<'a> {
    running: &'a Mutex<HashSet<i64>>,
    id: i64,
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut set) = self.running.lock() {
            set.remove(&self.id);
        }
    }
}

impl Engine {
    pub fn new(
        store: Store,
        targets: Vec<Arc<dyn DeploymentTarget>>,
        updates: UpdateSink,
        settings: EngineSettings,
    ) -> Self {
        let targets = targets
            .into_iter()
            .map(|t| (t.info().provider, t))
            .collect();
        Self {
            inner: Arc::new(Inner {
                store,
                targets,
                updates,
                running: Mutex::new(HashSet::new()),
                settings,
                pipelines: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Lets the engine promote through providers' pipelines (cells whose
    /// binding names one). Set once; a second call is ignored.
    pub fn set_pipelines(&self, opener: Arc<dyn PipelineOpener>) {
        let _ = self.inner.pipelines.set(opener);
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The deployment targets this build can drive, by provider name.
    pub fn providers(&self) -> Vec<TargetInfo> {
        let mut all: Vec<TargetInfo> = self.inner.targets.values().map(|t| t.info()).collect();
        all.sort_by(|a, b| a.provider.cmp(&b.provider));
        all
    }

    /// Binds a service in an environment to one of [`Self::providers`]; a
    /// provider this build does not have is refused before anything is saved.
    pub async fn bind_target(&self, binding: &TargetBinding, by: &Profile) -> Result<()> {
        release_desk_access::may(by, release_desk_access::Action::BindTargets)
            .map_err(release_desk_store::StoreError::from)?;
        if !self.inner.targets.contains_key(&binding.provider) {
            let known: Vec<String> = self.providers().into_iter().map(|p| p.provider).collect();
            return Err(EngineError::Refused(format!(
                "there is no deployment target named '{}' in this build; choose one of: {}",
                binding.provider,
                known.join(", ")
            )));
        }
        Ok(self
            .inner
            .store
            .bind_target(binding, by, Utc::now())
            .await?)
    }

    /// The target that serves a service in an environment.
    pub async fn target_for(
        &self,
        service: &Slug,
        environment: &Slug,
    ) -> Result<(Arc<dyn DeploymentTarget>, TargetRef)> {
        let binding = self
            .inner
            .store
            .target_binding(service, environment)
            .await?
            .ok_or_else(|| {
                EngineError::Refused(format!(
                    "{service} has no deployment target in {environment}: bind one in Settings before promoting"
                ))
            })?;
        let target = self
            .inner
            .targets
            .get(&binding.provider)
            .cloned()
            .ok_or_else(|| EngineError::UnknownProvider(binding.provider.clone()))?;
        Ok((
            target,
            TargetRef {
                service: service.clone(),
                environment: environment.clone(),
            },
        ))
    }

    /// Reads the target's real state, bounded by the action timeout.
    pub async fn status(&self, service: &Slug, environment: &Slug) -> Result<TargetStatus> {
        let (target, tref) = self.target_for(service, environment).await?;
        Ok(step::bounded(target.status(&tref)).await?)
    }

    /// Starts a promotion, rollback or drill (or returns the one this
    /// request key already started) and runs it in the background.
    /// `version` is the artefact to promote; rollbacks find the last known
    /// good release and drills use what is live, so they ignore it.
    pub async fn request(
        &self,
        kind: PromotionKind,
        service: &Slug,
        environment: &Slug,
        version: Option<String>,
        request_key: &str,
        by: &Profile,
    ) -> Result<PromotionRecord> {
        // Who may comes first: asking the target about a cell tells the
        // asker something, and a refusal should not depend on the target.
        release_desk_access::may(by, release_desk_access::Action::Promote)
            .map_err(release_desk_store::StoreError::from)?;
        let (version, snapshot) = if self
            .inner
            .store
            .pipeline_binding(service, environment)
            .await?
            .is_some()
        {
            self.pipeline_plan(kind, service, environment, version)
                .await?
        } else {
            self.target_plan(kind, service, environment, version)
                .await?
        };
        let request = PromotionRequest {
            request_key: request_key.to_owned(),
            kind,
            service: service.clone(),
            environment: environment.clone(),
            version,
        };
        let started = self
            .inner
            .store
            .start_promotion(&request, snapshot, by, Utc::now())
            .await?;
        let id = started.record.promotion.id;
        if !started.record.promotion.phase.is_finished() {
            self.spawn(id);
        }
        Ok(started.record)
    }

    /// What to promote and what the target says is live, for a cell a
    /// deployment target serves.
    async fn target_plan(
        &self,
        kind: PromotionKind,
        service: &Slug,
        environment: &Slug,
        version: Option<String>,
    ) -> Result<(String, TargetSnapshot)> {
        let status = self.status(service, environment).await?;
        let current = live_release(&status);
        let (version, ready_leg) = match kind {
            PromotionKind::Promote => (
                version
                    .ok_or_else(|| EngineError::Refused("choose the version to promote".into()))?,
                None,
            ),
            PromotionKind::Rollback => {
                let (version, digest) = self
                    .inner
                    .store
                    .last_good_release(service, environment, current.as_ref().map(|c| &c.digest))
                    .await?
                    .ok_or_else(|| {
                        EngineError::Refused(format!(
                            "no earlier release of {service} succeeded in {environment}: there is nothing to roll back to"
                        ))
                    })?;
                let ready = status
                    .legs
                    .iter()
                    .find(|l| {
                        l.digest.as_ref() == Some(&digest) && l.running && l.healthy == Some(true)
                    })
                    .map(|l| l.leg);
                (version, ready)
            }
            PromotionKind::Drill => {
                let live = current.as_ref().ok_or_else(|| {
                    EngineError::Refused(format!(
                        "nothing of {service} is live in {environment} to drill"
                    ))
                })?;
                let ready = status
                    .legs
                    .iter()
                    .find(|l| {
                        Some(l.leg) != live.leg
                            && l.digest.is_some()
                            && l.running
                            && l.healthy == Some(true)
                    })
                    .map(|l| l.leg);
                (live.version.clone(), ready)
            }
        };
        Ok((version, TargetSnapshot { current, ready_leg }))
    }

    /// The same for a cell a provider's pipeline deploys: no target can be
    /// asked what is live, so the desk's own record says (local and synced
    /// deployments alike).
    async fn pipeline_plan(
        &self,
        kind: PromotionKind,
        service: &Slug,
        environment: &Slug,
        version: Option<String>,
    ) -> Result<(String, TargetSnapshot)> {
        let store = &self.inner.store;
        let current = store
            .recorded_live_release(service, environment)
            .await?
            .map(|(version, digest)| Release {
                version,
                digest,
                leg: None,
            });
        let version = match kind {
            PromotionKind::Promote => {
                version.ok_or_else(|| EngineError::Refused("choose the version to promote".into()))?
            }
            PromotionKind::Rollback => {
                store
                    .last_good_release(service, environment, current.as_ref().map(|c| &c.digest))
                    .await?
                    .ok_or_else(|| {
                        EngineError::Refused(format!(
                            "no earlier release of {service} succeeded in {environment}: there is nothing to roll back to"
                        ))
                    })?
                    .0
            }
            PromotionKind::Drill => {
                return Err(EngineError::Refused(format!(
                    "a drill switches between blue-green legs; {service} in {environment} deploys through a pipeline, so roll back through it instead"
                )))
            }
        };
        Ok((
            version,
            TargetSnapshot {
                current,
                ready_leg: None,
            },
        ))
    }

    /// Runs a promotion in the background; errors are logged, and the
    /// promotion stays unfinished so the next start resumes it.
    pub fn spawn(&self, id: i64) {
        let engine = self.clone();
        tokio::spawn(async move {
            // A database error (busy, disk full) stops a run part-way; try
            // again a few times before leaving it for the next start, so a
            // passing fault does not leave the environment locked.
            for attempt in 1..=5u32 {
                match engine.run(id).await {
                    Ok(_) => return,
                    Err(e) => {
                        tracing::error!(promotion = id, attempt, error = %e, "promotion run stopped; trying again");
                        tokio::time::sleep(engine.inner.settings.retry_pause * attempt * 5).await;
                    }
                }
            }
            tracing::error!(
                promotion = id,
                "promotion left unfinished; it resumes at the next start"
            );
        });
    }

    /// Resumes every promotion that had not ended (after a crash or kill).
    pub async fn resume_unfinished(&self) -> Result<Vec<i64>> {
        let ids = self.inner.store.unfinished_promotions().await?;
        for id in &ids {
            tracing::info!(promotion = id, "resuming an unfinished promotion");
            self.spawn(*id);
        }
        Ok(ids)
    }

    /// Runs a promotion to its end; if it already runs here, waits for that.
    pub async fn run(&self, id: i64) -> Result<Promotion> {
        // Another task runs it here already (the one `request` spawned):
        // wait for that run to end, then take over (which finds it done).
        loop {
            let fresh = self
                .inner
                .running
                .lock()
                .map_err(|_| EngineError::Refused("the engine's run list is poisoned".into()))?
                .insert(id);
            if fresh {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _guard = RunGuard {
            running: &self.inner.running,
            id,
        };
        loop {
            let record = self.inner.store.promotion(id).await?;
            let promotion = &record.promotion;
            (self.inner.updates)(promotion);
            let Next::Run {
                step,
                kind,
                leg,
                key,
                resumed,
            } = promotion.next()
            else {
                return Ok(record.promotion);
            };
            let first = !resumed && promotion.steps.iter().all(|s| s.attempts == 0);
            if first {
                if let Some(reason) = self.moved_since_planned(promotion).await {
                    // Nothing was done yet: fail before the first step, so
                    // no leg is touched on the strength of a stale plan.
                    for event in [
                        PromotionEvent::StepBegan {
                            step,
                            at: Utc::now(),
                        },
                        PromotionEvent::StepFailed {
                            step,
                            at: Utc::now(),
                            reason: reason.clone(),
                            retryable: false,
                        },
                    ] {
                        self.record(id, &event).await?;
                    }
                    continue;
                }
            }
            let retrying = !resumed && promotion.steps[step as usize].attempts > 0;
            if retrying {
                tokio::time::sleep(self.inner.settings.retry_pause).await;
            }
            if !resumed {
                let began = PromotionEvent::StepBegan {
                    step,
                    at: Utc::now(),
                };
                self.record(id, &began).await?;
            } else {
                tracing::info!(promotion = id, step, key = %key, "repeating a step that was running when the app stopped");
            }
            let key = ActionKey::new(key)?;
            let record = self.inner.store.promotion(id).await?;
            let outcome = match step::perform(self, &record, step, kind, leg, &key).await {
                Ok(event) => event,
                // The database itself failing: stop here; the promotion stays
                // unfinished and the next start resumes it.
                Err(e @ EngineError::Store(_)) => return Err(e),
                // Anything else will not pass by waiting (the target was
                // unbound, its provider is missing): the step fails with the
                // reason, so the promotion ends and releases its lock rather
                // than staying stuck.
                Err(e) => PromotionEvent::StepFailed {
                    step,
                    at: Utc::now(),
                    reason: e.to_string(),
                    retryable: false,
                },
            };
            self.record(id, &outcome).await?;
        }
    }

    /// Persists one event of a promotion and sends the result to the UI.
    pub(crate) async fn record(&self, id: i64, event: &PromotionEvent) -> Result<()> {
        let p = self
            .inner
            .store
            .record_promotion_event(id, event, Utc::now())
            .await?;
        (self.inner.updates)(&p);
        Ok(())
    }
}

impl Engine {
    /// The plan was made from the target's state read before the environment
    /// was locked; another promotion could have ended in between. Says what
    /// changed if the target no longer serves what the plan was made from.
    /// A target that cannot be read now is left to the first step, which
    /// meets the same fault and reports it.
    async fn moved_since_planned(&self, promotion: &Promotion) -> Option<String> {
        // A pipeline's provider is the one to judge its environment; the
        // desk has no target to ask.
        if promotion.strategy == release_desk_promotion::Strategy::Pipeline {
            return None;
        }
        let status = self
            .status(&promotion.service, &promotion.environment)
            .await
            .ok()?;
        let now = live_release(&status);
        let key = |r: &Option<Release>| r.as_ref().map(|r| (r.digest.clone(), r.leg));
        if key(&now) == key(&promotion.previous) {
            return None;
        }
        let describe = |r: &Option<Release>| match r {
            Some(r) => format!(
                "{} ({}){}",
                if r.version.is_empty() {
                    "an unknown version"
                } else {
                    &r.version
                },
                &r.digest.hex()[..12],
                r.leg
                    .map(|l| format!(" on {}", l.as_str()))
                    .unwrap_or_default()
            ),
            None => "nothing".to_owned(),
        };
        Some(format!(
            "the target changed after this was planned: {} is live in {}, not {} as planned; \
             nothing was deployed; check the environment and start again",
            describe(&now),
            promotion.environment,
            describe(&promotion.previous)
        ))
    }
}

/// What is live according to the target: the live leg's release, or for a
/// target without legs in use, the first running instance's.
fn live_release(status: &TargetStatus) -> Option<Release> {
    let leg = match status.live {
        Some(l) => status.leg(l),
        None => status.legs.iter().find(|l| l.running && l.digest.is_some()),
    }?;
    Some(Release {
        version: leg.version.clone().unwrap_or_default(),
        digest: leg.digest.clone()?,
        leg: status.live,
    })
}
