//! A small load generator: concurrent workers sending GET requests over
//! kept-alive connections for a while, counting what succeeded and failed
//! and timing it. The zero-downtime tests and the benchmarks use it to show
//! that switching traffic drops nothing.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::error::{io, Result};
use crate::probe::{self, VERSION_HEADER};
use crate::switch::percentile;

/// What load to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadConfig {
    pub url: String,
    /// Requests in flight at once; each worker sends one after another.
    pub workers: usize,
    pub duration: Duration,
    pub request_timeout: Duration,
}

impl LoadConfig {
    /// Eight workers for five seconds, two seconds per request at most.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            workers: 8,
            duration: Duration::from_secs(5),
            request_timeout: Duration::from_secs(2),
        }
    }
}

/// What the load saw.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    pub requests: u64,
    /// Answered 2xx.
    pub ok: u64,
    /// Anything else: another status, a connection error, a timeout.
    pub failed: u64,
    pub elapsed: Duration,
    pub requests_per_second: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// Answers per `x-release-version`.
    pub versions: BTreeMap<String, u64>,
    /// Failures per reason ("HTTP 502", "timed out", …).
    pub failures: BTreeMap<String, u64>,
}

#[derive(Default)]
struct Tally {
    requests: u64,
    ok: u64,
    latencies_ms: Vec<f64>,
    versions: BTreeMap<String, u64>,
    failures: BTreeMap<String, u64>,
}

/// Sends load as configured and reports once the duration is over.
pub async fn run(config: &LoadConfig) -> Result<LoadReport> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(config.workers.max(1))
        .timeout(config.request_timeout)
        .build()
        .map_err(|e| io(format!("could not build an HTTP client: {e}")))?;
    let start = Instant::now();
    let deadline = start + config.duration;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..config.workers.max(1) {
        let client = client.clone();
        let url = config.url.clone();
        workers.spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                tally.requests += 1;
                let sent = Instant::now();
                match send(&client, &url).await {
                    Ok((status, version)) => {
                        tally
                            .latencies_ms
                            .push(sent.elapsed().as_secs_f64() * 1000.0);
                        if let Some(version) = version {
                            *tally.versions.entry(version).or_default() += 1;
                        }
                        if (200..300).contains(&status) {
                            tally.ok += 1;
                        } else {
                            *tally.failures.entry(format!("HTTP {status}")).or_default() += 1;
                        }
                    }
                    Err(why) => *tally.failures.entry(why).or_default() += 1,
                }
            }
            tally
        });
    }
    let mut all = Tally::default();
    while let Some(joined) = workers.join_next().await {
        let tally = joined.map_err(|e| io(format!("a load worker failed: {e}")))?;
        all.requests += tally.requests;
        all.ok += tally.ok;
        all.latencies_ms.extend(tally.latencies_ms);
        for (k, v) in tally.versions {
            *all.versions.entry(k).or_default() += v;
        }
        for (k, v) in tally.failures {
            *all.failures.entry(k).or_default() += v;
        }
    }
    let elapsed = start.elapsed();
    let mut latencies = all.latencies_ms;
    Ok(LoadReport {
        requests: all.requests,
        ok: all.ok,
        failed: all.requests - all.ok,
        elapsed,
        requests_per_second: all.requests as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
        p50_ms: percentile(&mut latencies, 0.50),
        p95_ms: percentile(&mut latencies, 0.95),
        p99_ms: percentile(&mut latencies, 0.99),
        max_ms: latencies.last().copied(),
        versions: all.versions,
        failures: all.failures,
    })
}

async fn send(
    client: &reqwest::Client,
    url: &str,
) -> std::result::Result<(u16, Option<String>), String> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| probe::describe(&e))?;
    let status = response.status().as_u16();
    let version = response
        .headers()
        .get(VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    response.bytes().await.map_err(|e| probe::describe(&e))?;
    Ok((status, version))
}
