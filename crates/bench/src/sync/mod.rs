//! The first sync and an unchanged re-sync of many GitHub bindings, against
//! a local fake GitHub with 50 ms added to every answer: requests sent, time
//! and rate-limit points used (GitHub does not count a 304 to an authorised
//! conditional request).

pub mod render;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use release_desk_changes::ProfileDraft;
use release_desk_connections::{BindingDraft, ConnectionDraft, ConnectionKind};
use release_desk_domain::Slug;
use release_desk_store::{Store, DATABASE_FILE};
use release_desk_sync::{sync, Adapters};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::error::{BenchError, Result};

pub const REPOSITORIES: usize = 200;
pub const ENVIRONMENTS: usize = 5;
/// Deployments GitHub lists per environment.
pub const DEPLOYMENTS_PER_ENVIRONMENT: usize = 2;
pub const LATENCY: Duration = Duration::from_millis(50);

#[derive(Debug, Clone)]
pub struct Pass {
    pub time: Duration,
    pub requests: u64,
    pub not_modified: u64,
    /// Requests GitHub counts against the rate limit: all but the 304s.
    pub points: u64,
    pub rows_written: u64,
    pub failed_bindings: usize,
}

#[derive(Debug, Clone)]
pub struct SyncMeasure {
    pub bindings: usize,
    pub first: Pass,
    pub again: Pass,
}

/// A GitHub that answers every deployments list and status with an ETag and
/// a 304 to a matching `If-None-Match`, 50 ms late.
#[derive(Clone, Default)]
struct FakeGitHub {
    requests: Arc<AtomicU64>,
    not_modified: Arc<AtomicU64>,
}

fn digest_hex(repo: usize, env: usize, n: usize) -> String {
    format!("{:016x}", (repo * 1_000 + env * 10 + n) as u64 + 0x5eed).repeat(4)
}

impl Respond for FakeGitHub {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let path = request.url.path().to_string();
        let query: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
        let etag = format!(
            "\"{}\"",
            path.len() + query.len() * 7 + path.bytes().map(usize::from).sum::<usize>()
        );
        if request
            .headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == etag)
        {
            self.not_modified.fetch_add(1, Ordering::Relaxed);
            return ResponseTemplate::new(304).set_delay(LATENCY);
        }
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        // /repos/acme/service-NNN/deployments[/ID/statuses]
        let repo: Option<usize> = parts
            .get(2)
            .and_then(|r| r.strip_prefix("service-"))
            .and_then(|n| n.parse().ok());
        let body = match (repo, &parts[..]) {
            (Some(r), ["repos", _, _, "deployments"]) => {
                let env: usize = query
                    .get("environment")
                    .and_then(|e| e.strip_prefix("stage-"))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                json!((0..DEPLOYMENTS_PER_ENVIRONMENT)
                    .map(|n| {
                        let id = (r * 1_000 + env * 10 + n) as u64;
                        json!({
                            "id": id, "ref": "main", "sha": format!("{id:07x}"),
                            "environment": format!("stage-{env}"),
                            "payload": {"version": format!("50.{env}.{n}"), "digest": format!("sha256:{}", digest_hex(r, env, n))},
                            "creator": {"login": "octocat"},
                            "created_at": format!("2026-11-{:02}T10:00:00Z", 20 + n)
                        })
                    })
                    .collect::<Vec<_>>())
            }
            // Runs waiting on reviewers: none (asked once per repository).
            (Some(_), ["repos", _, _, "actions", "runs"]) => {
                json!({"total_count": 0, "workflow_runs": []})
            }
            (Some(_), ["repos", _, _, "deployments", _, "statuses"]) => json!([
                {"state": "success", "updated_at": "2026-11-25T10:05:00Z",
                 "log_url": "https://github.example/acme/runs/1"}
            ]),
            _ => return ResponseTemplate::new(404).set_delay(LATENCY),
        };
        ResponseTemplate::new(200)
            .insert_header("etag", etag.as_str())
            .insert_header("x-ratelimit-limit", "1000000")
            .insert_header("x-ratelimit-remaining", "999999")
            .insert_header("x-ratelimit-reset", "4102444800")
            .set_body_json(body)
            .set_delay(LATENCY)
    }
}

pub async fn measure(now: DateTime<Utc>) -> Result<SyncMeasure> {
    let fail = |what: &str| {
        let what = what.to_string();
        move |e: release_desk_store::StoreError| BenchError::store(what.clone())(e)
    };
    let seed = release_desk_demo::generated_workspace(
        REPOSITORIES,
        ENVIRONMENTS,
        REPOSITORIES * ENVIRONMENTS,
        now,
    );
    let root = tempfile::Builder::new()
        .prefix("release-desk-bench-sync-")
        .tempdir()
        .map_err(BenchError::TempDir)?;
    let (store, _) = Store::open(&root.path().join(DATABASE_FILE))
        .await
        .map_err(fail("creating the sync database"))?;
    store
        .load_workspace(&seed, now)
        .await
        .map_err(fail("loading the sync workspace"))?;
    let priya = store
        .create_profile(
            ProfileDraft {
                name: "Priya Shah".into(),
                email: "priya@bench.example".into(),
                roles: vec![
                    Slug::parse("release-manager").map_err(|e| BenchError::Sync(e.to_string()))?
                ],
            },
            now,
        )
        .await
        .map_err(fail("creating a release manager"))?;

    let fake = FakeGitHub::default();
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    let connection = store
        .add_connection(
            ConnectionDraft {
                kind: ConnectionKind::Github,
                name: "acme".into(),
                base_url: Some(server.uri()),
                settings: BTreeMap::new(),
                reach: None,
            },
            &priya,
            now,
        )
        .await
        .map_err(fail("adding the connection"))?;
    for service in &seed.services {
        for stage in seed.path_to_live.stages() {
            store
                .add_binding(
                    BindingDraft {
                        service: service.key.clone(),
                        environment: stage.key.clone(),
                        connection: connection.id,
                        settings: BTreeMap::from([(
                            "repository".into(),
                            format!("acme/{}", service.key),
                        )]),
                    },
                    &priya,
                    now,
                )
                .await
                .map_err(fail("binding a service"))?;
        }
    }
    let bindings = REPOSITORIES * ENVIRONMENTS;
    let adapters = Adapters::default();
    let mut passes = Vec::new();
    for _ in 0..2 {
        let connected = adapters
            .get(&connection, SecretString::from("ghp_bench".to_string()))
            .map_err(|e| BenchError::Sync(e.message))?;
        let (r0, n0) = (
            fake.requests.load(Ordering::Relaxed),
            fake.not_modified.load(Ordering::Relaxed),
        );
        let started = Instant::now();
        let report = sync(&store, &connection, &connected, Utc::now, |_| {})
            .await
            .map_err(|e| BenchError::Sync(e.to_string()))?;
        let time = started.elapsed();
        let requests = fake.requests.load(Ordering::Relaxed) - r0;
        let not_modified = fake.not_modified.load(Ordering::Relaxed) - n0;
        let rows = report
            .bindings
            .iter()
            .filter_map(|b| b.counts.as_ref())
            .map(|c| u64::from(c.inserted + c.updated))
            .sum();
        let failed = report.bindings.iter().filter(|b| b.error.is_some()).count();
        eprintln!(
            "    {} requests ({} answered 304) in {:.1} s, {} rows written, {} bindings failed",
            requests,
            not_modified,
            time.as_secs_f64(),
            rows,
            failed
        );
        passes.push(Pass {
            time,
            requests,
            not_modified,
            points: requests - not_modified,
            rows_written: rows,
            failed_bindings: failed,
        });
    }
    store.close().await;
    let again = passes
        .pop()
        .ok_or_else(|| BenchError::Sync("no re-sync".into()))?;
    let first = passes
        .pop()
        .ok_or_else(|| BenchError::Sync("no first sync".into()))?;
    if first.failed_bindings > 0
        || first.rows_written != (bindings * DEPLOYMENTS_PER_ENVIRONMENT) as u64
    {
        return Err(BenchError::Sync(format!(
            "the first sync wrote {} rows with {} failed bindings; expected {} rows",
            first.rows_written,
            first.failed_bindings,
            bindings * DEPLOYMENTS_PER_ENVIRONMENT
        )));
    }
    Ok(SyncMeasure {
        bindings,
        first,
        again,
    })
}
