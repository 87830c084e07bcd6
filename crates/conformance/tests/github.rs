//! The GitHub adapter passes the pipeline conformance suite against a fake
//! GitHub that keeps state the way GitHub does: a `workflow_dispatch`
//! answered 204 creates a run named after its action key, listed with the
//! workflow's runs, which moves queued → in progress → completed as it is
//! polled. (Prism checks the same requests against GitHub's description in
//! crates/github/tests/contract.rs; Prism keeps no state, so this fake does.)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use release_desk_conformance::{pipeline_suite, Ending, PipelineHarness};
use release_desk_github::GitHub;
use release_desk_http::{Auth, ClientConfig, RetryPolicy};
use release_desk_provider::{BindingSettings, PipelineDeploy};
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[derive(Default)]
struct State {
    ending: Option<Ending>,
    /// id → (title, polls, ending)
    runs: BTreeMap<u64, (String, u32, Ending)>,
}

#[derive(Clone, Default)]
struct FakeGitHub(Arc<Mutex<State>>);

const RUNS: &str = "/repos/acme/shop/actions/workflows/deploy.yml/runs";
const DISPATCH: &str = "/repos/acme/shop/actions/workflows/deploy.yml/dispatches";
const RUN: &str = "/repos/acme/shop/actions/runs/";

fn run_json(id: u64, title: &str, status: &str, conclusion: Option<&str>) -> Value {
    json!({
        "id": id, "name": "Deploy", "display_title": title, "run_number": id,
        "status": status, "conclusion": conclusion, "head_sha": "9f1c2e3",
        "html_url": format!("https://github.com/acme/shop/actions/runs/{id}"),
        "created_at": "2026-12-03T10:00:00Z"
    })
}

impl Respond for FakeGitHub {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        let path = request.url.path();
        match (request.method.as_str(), path) {
            ("GET", RUNS) => {
                let runs: Vec<Value> = state
                    .runs
                    .iter()
                    .rev()
                    .map(|(id, (title, _, _))| run_json(*id, title, "queued", None))
                    .collect();
                ResponseTemplate::new(200)
                    .set_body_json(json!({"total_count": runs.len(), "workflow_runs": runs}))
            }
            ("POST", DISPATCH) => {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
                let Some(key) = body["inputs"]["action_key"].as_str() else {
                    return ResponseTemplate::new(422)
                        .set_body_json(json!({"message": "action_key is required"}));
                };
                if body["ref"].as_str().is_none() {
                    return ResponseTemplate::new(422)
                        .set_body_json(json!({"message": "ref is required"}));
                }
                let id = 100 + state.runs.len() as u64;
                let ending = state.ending.unwrap_or(Ending::Succeed);
                state
                    .runs
                    .insert(id, (format!("Release Desk {key}"), 0, ending));
                // As GitHub Enterprise without return_run_details: no run id.
                ResponseTemplate::new(204)
            }
            ("GET", p) if p.starts_with(RUN) => {
                let rest = &p[RUN.len()..];
                let (id, jobs) = match rest.split_once('/') {
                    Some((id, "jobs")) => (id, true),
                    None => (rest, false),
                    _ => return ResponseTemplate::new(404),
                };
                let Some((title, polls, ending)) =
                    id.parse().ok().and_then(|id: u64| state.runs.get_mut(&id))
                else {
                    return ResponseTemplate::new(404)
                        .set_body_json(json!({"message": "Not Found"}));
                };
                if jobs {
                    return ResponseTemplate::new(200)
                        .set_body_json(json!({"total_count": 0, "jobs": []}));
                }
                *polls += 1;
                let (status, conclusion) = match (*polls, *ending) {
                    (1, _) => ("queued", None),
                    (2, _) => ("in_progress", None),
                    (_, Ending::Succeed) => ("completed", Some("success")),
                    (_, Ending::Fail) => ("completed", Some("failure")),
                };
                let title = title.clone();
                ResponseTemplate::new(200).set_body_json(run_json(
                    id.parse().unwrap_or(0),
                    &title,
                    status,
                    conclusion,
                ))
            }
            _ => ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
        }
    }
}

struct Harness {
    server: MockServer,
    fake: FakeGitHub,
}

#[async_trait]
impl PipelineHarness for Harness {
    fn open(&self) -> Arc<dyn PipelineDeploy> {
        let mut config = ClientConfig::new(
            "GitHub fake",
            self.server.uri(),
            Auth::Bearer(SecretString::from("ghp_conformance".to_string())),
        );
        config.policy = RetryPolicy {
            max_attempts: 2,
            base: Duration::from_millis(10),
            cap: Duration::from_millis(20),
            max_wait: Duration::from_secs(1),
        };
        Arc::new(
            GitHub::with_config(config)
                .unwrap()
                .with_dispatch_wait(Duration::from_secs(3)),
        )
    }
    fn binding(&self) -> BindingSettings {
        BindingSettings::from([
            ("repository".into(), "acme/shop".into()),
            ("environment".into(), "production".into()),
            ("workflow".into(), "deploy.yml".into()),
        ])
    }
    async fn runs(&self) -> usize {
        self.fake.0.lock().unwrap().runs.len()
    }
    async fn end_runs(&self, ending: Ending) {
        self.fake.0.lock().unwrap().ending = Some(ending);
    }
}

#[tokio::test]
async fn the_github_adapter_passes() {
    let server = MockServer::start().await;
    let fake = FakeGitHub::default();
    Mock::given(any())
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    pipeline_suite(&Harness { server, fake }).await;
}
