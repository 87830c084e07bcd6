//! Performing one step through the provider and turning what happened into
//! the event that records it.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use release_desk_domain::Leg;
use release_desk_promotion::{judge_soak, PromotionEvent, SoakSample, SoakVerdict, StepKind};
use release_desk_provider::{
    ActionKey, ArtefactRef, ProviderError, ProviderErrorKind, RollbackPlan, StepReport, TargetRef,
    ACTION_TIMEOUT,
};
use release_desk_store::PromotionRecord;

use crate::{Engine, Result};

/// Bounds a provider call by [`ACTION_TIMEOUT`].
pub(crate) async fn bounded<T>(
    call: impl Future<Output = release_desk_provider::Result<T>>,
) -> release_desk_provider::Result<T> {
    tokio::time::timeout(ACTION_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| {
            Err(ProviderError::new(
                ProviderErrorKind::Timeout,
                format!(
                    "the target did not answer within {} s",
                    ACTION_TIMEOUT.as_secs()
                ),
            ))
        })
}

pub(crate) fn retryable(e: &ProviderError) -> bool {
    matches!(
        e.kind,
        ProviderErrorKind::Unavailable
            | ProviderErrorKind::Timeout
            | ProviderErrorKind::Io
            | ProviderErrorKind::RateLimited
    )
}

pub(crate) fn failed(step: u32, e: &ProviderError) -> PromotionEvent {
    PromotionEvent::StepFailed {
        step,
        at: Utc::now(),
        reason: e.message.clone(),
        retryable: retryable(e),
    }
}

fn succeeded(step: u32, report: StepReport) -> PromotionEvent {
    PromotionEvent::StepSucceeded {
        step,
        at: Utc::now(),
        report,
    }
}

fn outcome(step: u32, result: release_desk_provider::Result<StepReport>) -> PromotionEvent {
    match result {
        Ok(report) => succeeded(step, report),
        Err(e) => failed(step, &e),
    }
}

/// What a deploy ships, with the keys the store trusts at this moment.
fn artefact(
    record: &PromotionRecord,
    trusted_keys: Vec<String>,
) -> std::result::Result<ArtefactRef, ProviderError> {
    let p = &record.promotion;
    let location = record.location.clone().ok_or_else(|| {
        ProviderError::new(
            ProviderErrorKind::Refused,
            format!(
                "no bytes are recorded for {} {}: record where its tarball is before deploying it",
                p.service, p.release.version
            ),
        )
    })?;
    Ok(ArtefactRef {
        service: p.service.clone(),
        version: p.release.version.clone(),
        digest: p.release.digest.clone(),
        location,
        signature: record.signature.clone(),
        trusted_keys,
    })
}

/// The public keys the workspace trusts now (not when the target was built).
async fn trusted_keys(engine: &Engine) -> Result<Vec<String>> {
    Ok(engine
        .store()
        .trusted_keys()
        .await?
        .into_iter()
        .map(|k| k.public_key)
        .collect())
}

fn need_leg(leg: Option<Leg>) -> std::result::Result<Leg, ProviderError> {
    leg.ok_or_else(|| {
        ProviderError::new(
            ProviderErrorKind::Malformed,
            "this step needs a leg and has none",
        )
    })
}

pub(crate) async fn perform(
    engine: &Engine,
    record: &PromotionRecord,
    step: u32,
    kind: StepKind,
    leg: Option<Leg>,
    key: &ActionKey,
) -> Result<PromotionEvent> {
    let p = &record.promotion;
    if kind == StepKind::RunPipeline {
        return crate::pipeline::perform(engine, record, step, key).await;
    }
    let (target, tref) = engine.target_for(&p.service, &p.environment).await?;
    let event = match kind {
        StepKind::Deploy => match (artefact(record, trusted_keys(engine).await?), need_leg(leg)) {
            (Ok(a), Ok(leg)) => outcome(step, bounded(target.deploy(key, &tref, leg, &a)).await),
            (Err(e), _) | (_, Err(e)) => failed(step, &e),
        },
        StepKind::Smoke => match need_leg(leg) {
            Err(e) => failed(step, &e),
            Ok(leg) => match bounded(target.health_check(&tref, leg)).await {
                Err(e) => failed(step, &e),
                Ok(h) if h.passed => succeeded(
                    step,
                    StepReport {
                        summary: format!("smoke tests passed on {}", leg.as_str()),
                        log: h.checks,
                        replayed: false,
                    },
                ),
                Ok(h) => PromotionEvent::StepFailed {
                    step,
                    at: Utc::now(),
                    reason: format!(
                        "smoke tests failed on {}: {}",
                        leg.as_str(),
                        h.failure.unwrap_or_else(|| h.checks.join("; "))
                    ),
                    retryable: false,
                },
            },
        },
        StepKind::Switch | StepKind::SwitchBack => match need_leg(leg) {
            Err(e) => failed(step, &e),
            Ok(leg) => outcome(step, bounded(target.switch_traffic(key, &tref, leg)).await),
        },
        StepKind::RollingUpdate => match artefact(record, trusted_keys(engine).await?) {
            Err(e) => failed(step, &e),
            Ok(a) => outcome(step, bounded(target.rolling_update(key, &tref, &a)).await),
        },
        StepKind::RollingBack => {
            let previous = match &p.previous {
                Some(prev) => {
                    engine
                        .store()
                        .artefact_by_digest(&p.service, &prev.digest)
                        .await?
                }
                None => None,
            };
            match (previous, &p.previous) {
                (Some(stored), Some(prev)) if stored.location.is_some() => {
                    let plan = RollbackPlan::Redeploy {
                        artefact: ArtefactRef {
                            service: p.service.clone(),
                            version: stored.version,
                            digest: prev.digest.clone(),
                            location: stored.location.unwrap_or_default(),
                            signature: stored.signature,
                            trusted_keys: trusted_keys(engine).await?,
                        },
                    };
                    outcome(step, bounded(target.roll_back(key, &tref, &plan)).await)
                }
                _ => failed(
                    step,
                    &ProviderError::new(
                        ProviderErrorKind::Refused,
                        "the previous release's bytes are not recorded, so it cannot be rolled out again",
                    ),
                ),
            }
        }
        StepKind::Soak => soak(engine, record, step, &*target, &tref).await?,
        // Returned early above; kept so the match stays exhaustive.
        StepKind::RunPipeline => crate::pipeline::perform(engine, record, step, key).await?,
    };
    Ok(event)
}

fn soak_failed(step: u32, why: &str) -> PromotionEvent {
    PromotionEvent::StepFailed {
        step,
        at: Utc::now(),
        reason: format!("soak failed: {why}"),
        retryable: false,
    }
}

/// Watches live traffic in samples until they have watched for the soak's
/// whole length, recording each sample, and fails at the first breach.
/// Resumed soaks judge the samples already recorded, then watch what is left.
async fn soak(
    engine: &Engine,
    record: &PromotionRecord,
    step: u32,
    target: &dyn release_desk_provider::DeploymentTarget,
    tref: &TargetRef,
) -> Result<PromotionEvent> {
    let p = &record.promotion;
    if p.soak_secs == 0 {
        return Ok(succeeded(
            step,
            StepReport {
                summary: "no soak configured for this environment".into(),
                log: vec![],
                replayed: false,
            },
        ));
    }
    let mut samples = p.samples.clone();
    let length_ms = u64::from(p.soak_secs) * 1_000;
    // The release a promotion or rollback soaks is the one it puts live; a
    // drill soaks the release it went back to, which it does not name.
    let expected = match p.kind {
        release_desk_promotion::PromotionKind::Drill => None,
        _ => Some(p.release.version.as_str()),
    };
    // Judge what was already watched first: a breach recorded just before
    // the app was killed must still fail the soak after the restart.
    if let SoakVerdict::Breached(why) = judge_soak(&samples, &record.thresholds) {
        return Ok(soak_failed(step, &why));
    }
    loop {
        let watched: u64 = samples.iter().map(|s| u64::from(s.observed_ms)).sum();
        if watched >= length_ms {
            break;
        }
        // Never a sliver of a sample: too few requests to judge fairly.
        let left = Duration::from_millis(length_ms - watched);
        let sample = engine.inner.settings.sample;
        let period = if left < sample + sample / 2 {
            left.max(Duration::from_secs(1))
        } else {
            sample
        };
        let observation = match bounded(target.observe(tref, period)).await {
            Ok(o) => o,
            Err(e) => return Ok(failed(step, &e)),
        };
        let sample = SoakSample {
            requests: observation.requests,
            errors: observation.errors,
            p95_ms: observation.p95_ms,
            notes: observation.notes,
            observed_ms: u32::try_from(period.as_millis()).unwrap_or(u32::MAX),
            other_version: expected.map_or(0, |v| {
                observation
                    .versions
                    .iter()
                    .filter(|(seen, _)| seen.as_str() != v)
                    .map(|(_, n)| *n)
                    .sum()
            }),
        };
        engine
            .record(
                p.id,
                &PromotionEvent::SoakSampled {
                    step,
                    sample: sample.clone(),
                },
            )
            .await?;
        samples.push(sample);
        if let SoakVerdict::Breached(why) = judge_soak(&samples, &record.thresholds) {
            return Ok(soak_failed(step, &why));
        }
    }
    let requests: u32 = samples.iter().map(|s| s.requests).sum();
    let errors: u32 = samples.iter().map(|s| s.errors).sum();
    let worst = samples
        .iter()
        .filter_map(|s| s.p95_ms)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    Ok(succeeded(
        step,
        StepReport {
            summary: format!(
                "soaked {} s: {requests} requests, {errors} errors, worst p95 {}",
                p.soak_secs,
                worst.map_or_else(|| "n/a".into(), |w| format!("{w:.0} ms"))
            ),
            log: samples
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    format!(
                        "sample {}: {} requests, {} errors, p95 {}",
                        i + 1,
                        s.requests,
                        s.errors,
                        s.p95_ms
                            .map_or_else(|| "n/a".into(), |v| format!("{v:.0} ms"))
                    )
                })
                .collect(),
            replayed: false,
        },
    ))
}
