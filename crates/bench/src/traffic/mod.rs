//! Zero downtime, measured: requests through the local target's real nginx
//! while traffic switches from one leg to the other and back (a rollback by
//! switch), counting every failed request and timing both switches.

pub mod render;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use release_desk_domain::{Leg, Slug};
use release_desk_local_target::load::{self, LoadConfig};
use release_desk_local_target::{package, Behaviour, LocalTarget, LocalTargetConfig, SigningKey};
use release_desk_provider::{ActionKey, DeploymentTarget, RollbackPlan, TargetRef};

use crate::error::{BenchError, Result};
use crate::stats::Summary;

/// Requests per run are sent for this long; the switch comes 1.5 s in and the
/// rollback 1.5 s after the switch ends, so both happen under load.
const LOAD_FOR: Duration = Duration::from_secs(6);
const WORKERS: usize = 16;

#[derive(Debug, Clone)]
pub struct Run {
    pub requests: u64,
    pub failed: u64,
    pub requests_per_second: f64,
    pub p99_ms: Option<f64>,
    pub switch: Duration,
    pub rollback: Duration,
    pub failures: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct TrafficMeasure {
    pub runs: Vec<Run>,
    pub switch_ms: Summary,
    pub rollback_ms: Summary,
    pub rps: Summary,
    pub failed: u64,
    pub requests: u64,
}

fn fail(what: &str, e: impl std::fmt::Display) -> BenchError {
    BenchError::Traffic(format!("{what}: {e}"))
}

fn key(run: usize, what: &str) -> Result<ActionKey> {
    ActionKey::new(format!("bench/{run}/{what}")).map_err(|e| fail("action key", e))
}

/// Runs `runs` switch-and-rollback cycles under load.
pub async fn measure(service_binary: &Path, runs: usize) -> Result<TrafficMeasure> {
    let dir = tempfile::tempdir().map_err(|e| fail("temporary folder", e))?;
    let signer = SigningKey::generate().map_err(|e| fail("signing key", e))?;
    let service = Slug::parse("bench-web").map_err(|e| fail("service key", e))?;
    let packages = ["1.0.0", "1.1.0"]
        .into_iter()
        .map(|v| {
            package(
                &dir.path().join("artefacts"),
                &service,
                v,
                Behaviour::Healthy,
                &signer,
            )
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| fail("packaging", e))?;
    let target = Arc::new(
        LocalTarget::new(LocalTargetConfig::new(
            dir.path().join("target"),
            service_binary,
        ))
        .map_err(|e| fail("local target", e))?,
    );
    let result = cycles(&target, &service, &packages, runs).await;
    // Never leave nginx or the legs running, whatever happened.
    let _ = target.shutdown_all().await;
    result
}

async fn cycles(
    target: &Arc<LocalTarget>,
    service: &Slug,
    packages: &[release_desk_local_target::PackagedArtefact],
    runs: usize,
) -> Result<TrafficMeasure> {
    let tref = TargetRef {
        service: service.clone(),
        environment: Slug::parse("bench").map_err(|e| fail("environment key", e))?,
    };
    let refs: Vec<_> = packages
        .iter()
        .map(|p| p.artefact_ref(vec![p.public_key.clone()]))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| fail("artefact", e))?;
    target
        .deploy(&key(0, "deploy-blue")?, &tref, Leg::Blue, &refs[0])
        .await
        .map_err(|e| fail("deploy blue", e))?;
    target
        .switch_traffic(&key(0, "switch-blue")?, &tref, Leg::Blue)
        .await
        .map_err(|e| fail("first switch", e))?;
    target
        .deploy(&key(0, "deploy-green")?, &tref, Leg::Green, &refs[1])
        .await
        .map_err(|e| fail("deploy green", e))?;
    let url = target.proxy_url(&tref).map_err(|e| fail("proxy url", e))?;

    let mut measured = Vec::with_capacity(runs);
    for run in 1..=runs {
        let config = LoadConfig {
            workers: WORKERS,
            duration: LOAD_FOR,
            ..LoadConfig::new(url.clone())
        };
        let load = tokio::spawn(async move { load::run(&config).await });
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let started = Instant::now();
        target
            .switch_traffic(&key(run, "switch-green")?, &tref, Leg::Green)
            .await
            .map_err(|e| fail("switch", e))?;
        let switch = started.elapsed();
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let started = Instant::now();
        target
            .roll_back(
                &key(run, "rollback")?,
                &tref,
                &RollbackPlan::SwitchTo { leg: Leg::Blue },
            )
            .await
            .map_err(|e| fail("rollback", e))?;
        let rollback = started.elapsed();
        let report = load
            .await
            .map_err(|e| fail("load generator", e))?
            .map_err(|e| fail("load generator", e))?;
        eprintln!(
            "[bench] traffic run {run}/{runs}: {} requests ({:.0}/s), {} failed, switch {:.0} ms, rollback {:.0} ms",
            report.requests,
            report.requests_per_second,
            report.failed,
            switch.as_secs_f64() * 1e3,
            rollback.as_secs_f64() * 1e3
        );
        let versions: Vec<&String> = report.versions.keys().collect();
        if versions.len() < 2 {
            return Err(BenchError::Traffic(format!(
                "the load only ever saw {versions:?}: the switch did not happen under load"
            )));
        }
        measured.push(Run {
            requests: report.requests,
            failed: report.failed,
            requests_per_second: report.requests_per_second,
            p99_ms: report.p99_ms,
            switch,
            rollback,
            failures: report
                .failures
                .iter()
                .map(|(k, n)| format!("{n} × {k}"))
                .collect(),
        });
    }
    let none = || BenchError::Traffic("no runs were measured".into());
    let ms = |f: fn(&Run) -> Duration| {
        Summary::of(measured.iter().map(|r| f(r).as_secs_f64() * 1e3).collect()).ok_or_else(none)
    };
    Ok(TrafficMeasure {
        switch_ms: ms(|r| r.switch)?,
        rollback_ms: ms(|r| r.rollback)?,
        rps: Summary::of(measured.iter().map(|r| r.requests_per_second).collect())
            .ok_or_else(none)?,
        failed: measured.iter().map(|r| r.failed).sum(),
        requests: measured.iter().map(|r| r.requests).sum(),
        runs: measured,
    })
}
