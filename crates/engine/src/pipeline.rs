//! Promotions through a provider's own pipeline (a GitHub Actions workflow,
//! an Azure DevOps pipeline): **start then poll**.
//!
//! The step looks for a run its key already started before it starts one
//! (a crash between the provider starting it and the desk recording it),
//! writes the run's handle as an event before following it, and on a resume
//! or a retry follows that handle instead of starting again. Every change
//! the provider reports (a job or step moving on) is written for the
//! timeline; the run's conclusion is the step's.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use release_desk_connections::Connection;
use release_desk_promotion::PromotionEvent;
use release_desk_provider::{
    ActionKey, PipelineDeploy, PipelineRequest, ProviderError, RunHandle, RunProgress, RunState,
    StepReport,
};
use release_desk_store::PromotionRecord;

use crate::step::{bounded, failed, retryable};
use crate::{Engine, EngineError, Result};

/// Opens the pipeline adapter of a connection (with its secret, which only
/// the shell can read from the keyring).
#[async_trait]
pub trait PipelineOpener: Send + Sync {
    async fn open(
        &self,
        connection: &Connection,
    ) -> std::result::Result<Arc<dyn PipelineDeploy>, ProviderError>;
}

/// Polls that may fail in a row (the provider briefly unreachable) before
/// the step fails; a retry of the step then follows the same run.
const MISSES: u32 = 5;

pub(crate) async fn perform(
    engine: &Engine,
    record: &PromotionRecord,
    step: u32,
    key: &ActionKey,
) -> Result<PromotionEvent> {
    let p = &record.promotion;
    let (binding, connection) = engine
        .store()
        .pipeline_binding(&p.service, &p.environment)
        .await?
        .ok_or_else(|| {
            EngineError::Refused(format!(
                "{} in {} no longer deploys through a pipeline (its binding was removed): check the provider, then promote again",
                p.service, p.environment
            ))
        })?;
    let opener = engine.inner.pipelines.get().ok_or_else(|| {
        EngineError::Refused("this build of Release Desk cannot open provider pipelines".into())
    })?;
    let pipeline = match opener.open(&connection).await {
        Ok(p) => p,
        Err(e) => return Ok(failed(step, &e)),
    };
    let settings = &binding.settings;
    let run = match p.steps.get(step as usize).and_then(|s| s.run.clone()) {
        Some(run) => run,
        None => {
            let request = PipelineRequest {
                version: p.release.version.clone(),
                digest: p.release.digest.clone(),
                environment: settings
                    .get("environment")
                    .cloned()
                    .unwrap_or_else(|| p.environment.to_string()),
            };
            // Find before start: the key may have started a run already.
            let run = match bounded(pipeline.find_run(key, settings)).await {
                Ok(Some(run)) => run,
                Ok(None) => match bounded(pipeline.start_run(key, settings, &request)).await {
                    Ok(run) => run,
                    Err(e) => return Ok(failed(step, &e)),
                },
                Err(e) => return Ok(failed(step, &e)),
            };
            engine
                .record(
                    p.id,
                    &PromotionEvent::RunStarted {
                        step,
                        at: Utc::now(),
                        run: run.clone(),
                    },
                )
                .await?;
            run
        }
    };
    let last = p.steps.get(step as usize).and_then(|s| s.progress.clone());
    follow(engine, record, step, &*pipeline, settings, &run, last).await
}

async fn follow(
    engine: &Engine,
    record: &PromotionRecord,
    step: u32,
    pipeline: &dyn PipelineDeploy,
    settings: &release_desk_provider::BindingSettings,
    run: &RunHandle,
    mut last: Option<RunProgress>,
) -> Result<PromotionEvent> {
    let p = &record.promotion;
    let mut misses = 0;
    loop {
        match bounded(pipeline.poll_run(settings, run)).await {
            Ok(progress) => {
                misses = 0;
                if last.as_ref() != Some(&progress) {
                    engine
                        .record(
                            p.id,
                            &PromotionEvent::RunProgressed {
                                step,
                                progress: progress.clone(),
                            },
                        )
                        .await?;
                }
                let link = progress.link.clone().or_else(|| run.link.clone());
                let see = link.map(|l| format!(" ({l})")).unwrap_or_default();
                match &progress.state {
                    RunState::Succeeded => {
                        return Ok(PromotionEvent::StepSucceeded {
                            step,
                            at: Utc::now(),
                            report: StepReport {
                                summary: format!(
                                    "pipeline run {} deployed {} to {}",
                                    run.id, p.release.version, p.environment
                                ),
                                log: job_lines(&progress),
                                replayed: false,
                            },
                        })
                    }
                    RunState::Failed(why) => {
                        return Ok(ended(
                            step,
                            format!(
                                "pipeline run {} failed: {why}{see}. Check what it left in {}, and roll back from the desk if it is on the failed release",
                                run.id, p.environment
                            ),
                        ))
                    }
                    RunState::Cancelled => {
                        return Ok(ended(
                            step,
                            format!(
                                "pipeline run {} was cancelled at the provider{see}. Check what it left in {}",
                                run.id, p.environment
                            ),
                        ))
                    }
                    RunState::Queued | RunState::Waiting(_) | RunState::Running => {}
                }
                last = Some(progress);
            }
            Err(e) if retryable(&e) && misses + 1 < MISSES => {
                misses += 1;
                tracing::warn!(promotion = p.id, run = %run.id, error = %e, "could not read the pipeline run; trying again");
            }
            // The step fails; when the cause may pass, its retry follows
            // the same run (the handle is kept on the step).
            Err(e) => return Ok(failed(step, &e)),
        }
        tokio::time::sleep(engine.inner.settings.poll).await;
    }
}

fn ended(step: u32, reason: String) -> PromotionEvent {
    PromotionEvent::StepFailed {
        step,
        at: Utc::now(),
        reason,
        retryable: false,
    }
}

fn job_lines(progress: &RunProgress) -> Vec<String> {
    progress
        .jobs
        .iter()
        .map(|j| {
            if j.steps.is_empty() {
                format!("{}: {}", j.name, j.status)
            } else {
                format!("{}: {} ({} steps)", j.name, j.status, j.steps.len())
            }
        })
        .collect()
}
