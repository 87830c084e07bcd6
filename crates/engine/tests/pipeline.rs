//! Promotions through a provider's pipeline (start then poll), against a
//! real SQLite file and the conformance suite's in-memory pipeline: a run
//! started and followed to its end, a crash after the provider started the
//! run but before the desk recorded it (the run is found, not started
//! again), a crash while following it, polls that fail for a while, a run
//! that fails, and a rollback that runs the pipeline with the last good
//! release.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Utc;
use common::{slug, world};
use release_desk_conformance::{Ending, InMemoryPipeline};
use release_desk_connections::{BindingDraft, Connection, ConnectionDraft, ConnectionKind};
use release_desk_engine::{Engine, PipelineOpener};
use release_desk_promotion::{Next, Phase, PromotionEvent, PromotionKind, StepKind, Strategy};
use release_desk_provider::{
    ActionKey, BindingSettings, PipelineDeploy, PipelineRequest, ProviderError, ProviderErrorKind,
    Result, RunHandle, RunProgress,
};

/// The in-memory pipeline, recording what it was asked to deploy and
/// failing the next `flaky` polls as an unreachable provider would.
#[derive(Clone, Default)]
struct Recording {
    inner: InMemoryPipeline,
    requests: Arc<Mutex<Vec<PipelineRequest>>>,
    flaky: Arc<Mutex<u32>>,
}

#[async_trait]
impl PipelineDeploy for Recording {
    async fn find_run(&self, key: &ActionKey, b: &BindingSettings) -> Result<Option<RunHandle>> {
        self.inner.find_run(key, b).await
    }
    async fn start_run(
        &self,
        key: &ActionKey,
        b: &BindingSettings,
        request: &PipelineRequest,
    ) -> Result<RunHandle> {
        self.requests.lock().unwrap().push(request.clone());
        self.inner.start_run(key, b, request).await
    }
    async fn poll_run(&self, b: &BindingSettings, run: &RunHandle) -> Result<RunProgress> {
        {
            let mut flaky = self.flaky.lock().unwrap();
            if *flaky > 0 {
                *flaky -= 1;
                return Err(ProviderError::new(
                    ProviderErrorKind::Unavailable,
                    "GitHub answered 502",
                ));
            }
        }
        self.inner.poll_run(b, run).await
    }
}

struct Opener(Recording);

#[async_trait]
impl PipelineOpener for Opener {
    async fn open(
        &self,
        _c: &Connection,
    ) -> std::result::Result<Arc<dyn PipelineDeploy>, ProviderError> {
        Ok(Arc::new(self.0.clone()))
    }
}

struct Setup {
    w: common::World,
    engine: Engine,
    pipeline: Recording,
}

/// demo-web in dev deploys through the `deploy.yml` workflow of a GitHub
/// connection (the binding wins over the local target also bound there).
async fn setup() -> Setup {
    let w = world().await;
    let engine = w.engine(w.target());
    let now = Utc::now();
    let c = w
        .store
        .add_connection(
            ConnectionDraft {
                kind: ConnectionKind::Github,
                name: "acme".into(),
                base_url: None,
                settings: BTreeMap::new(),
                reach: None,
            },
            &w.priya,
            now,
        )
        .await
        .unwrap();
    w.store
        .add_binding(
            BindingDraft {
                service: slug("demo-web"),
                environment: slug("dev"),
                connection: c.id,
                settings: BTreeMap::from([
                    ("repository".into(), "acme/web".into()),
                    ("workflow".into(), "deploy.yml".into()),
                ]),
            },
            &w.priya,
            now,
        )
        .await
        .unwrap();
    let pipeline = Recording::default();
    engine.set_pipelines(Arc::new(Opener(pipeline.clone())));
    Setup {
        w,
        engine,
        pipeline,
    }
}

async fn promote(s: &Setup, kind: PromotionKind, version: Option<&str>, key: &str) -> i64 {
    s.engine
        .request(
            kind,
            &slug("demo-web"),
            &slug("dev"),
            version.map(Into::into),
            key,
            &s.w.priya,
        )
        .await
        .unwrap_or_else(|e| panic!("{key} was refused: {e}"))
        .promotion
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_starts_the_pipeline_follows_it_and_audits_who_acted() {
    let s = setup().await;
    s.w.approved_change("1.0.0", &["dev"]).await;
    let id = promote(&s, PromotionKind::Promote, Some("1.0.0"), "press-1").await;
    let p = s.engine.run(id).await.unwrap();
    assert_eq!(p.phase, Phase::Succeeded, "{:#?}", p.failure);
    assert_eq!(p.strategy, Strategy::Pipeline);
    assert_eq!(p.steps.len(), 1);
    assert_eq!(p.steps[0].kind, StepKind::RunPipeline);
    assert!(p.steps[0].run.is_some(), "the run's handle is recorded");
    assert!(p.steps[0].progress.is_some(), "its progress is recorded");
    assert_eq!(s.pipeline.inner.count(), 1);
    let asked = s.pipeline.requests.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].version, "1.0.0");
    assert_eq!(asked[0].environment, "dev", "the GitHub environment");
    assert_eq!(asked[0].digest, p.release.digest);
    // The desk's record now says 1.0.0 is live in dev.
    let live =
        s.w.store
            .recorded_live_release(&slug("demo-web"), &slug("dev"))
            .await
            .unwrap();
    assert_eq!(live.map(|l| l.0).as_deref(), Some("1.0.0"));
    let audit =
        s.w.store
            .audit_of(&format!("promotion:{id}"))
            .await
            .unwrap();
    let started = audit
        .iter()
        .find(|e| e.action == "promotion.run_started")
        .expect("the run's start is audited");
    assert!(
        started.detail.contains("\"connection\":\"acme\""),
        "{}",
        started.detail
    );
    // The local target bound in the same cell was never touched.
    assert!(s
        .engine
        .status(&slug("demo-web"), &slug("dev"))
        .await
        .unwrap()
        .live
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_started_just_before_a_crash_is_found_and_followed_not_started_again() {
    let s = setup().await;
    s.w.approved_change("1.0.0", &["dev"]).await;
    // The engine wrote StepBegan, the provider started the run, and the
    // app died before RunStarted was written.
    let (id, key, digest) = begun(&s, "crash").await;
    started_at_provider(&s, key, digest).await;
    assert_eq!(s.pipeline.inner.count(), 1);

    let ids = s.engine.resume_unfinished().await.unwrap();
    assert_eq!(ids, vec![id]);
    let p = s.engine.run(id).await.unwrap();
    assert_eq!(p.phase, Phase::Succeeded, "{:#?}", p.failure);
    assert_eq!(s.pipeline.inner.count(), 1, "no second run was started");
    assert_eq!(s.pipeline.requests.lock().unwrap().len(), 1);
}

/// Started and planned, with its first step begun, but not run: as the
/// app leaves a promotion it was killed in.
async fn begun(s: &Setup, key: &str) -> (i64, String, release_desk_domain::Digest) {
    let id =
        s.w.store
            .start_promotion(
                &release_desk_store::PromotionRequest {
                    request_key: key.into(),
                    kind: PromotionKind::Promote,
                    service: slug("demo-web"),
                    environment: slug("dev"),
                    version: "1.0.0".into(),
                },
                release_desk_store::TargetSnapshot {
                    current: None,
                    ready_leg: None,
                },
                &s.w.priya,
                Utc::now(),
            )
            .await
            .unwrap()
            .record
            .promotion
            .id;
    let p = s.w.store.promotion(id).await.unwrap().promotion;
    let Next::Run { key, .. } = p.next() else {
        panic!("nothing to run")
    };
    s.w.store
        .record_promotion_event(
            id,
            &PromotionEvent::StepBegan {
                step: 0,
                at: Utc::now(),
            },
            Utc::now(),
        )
        .await
        .unwrap();
    (id, key, p.release.digest)
}

/// The provider starts demo-web 1.0.0's run under `key`, as the engine's
/// own start would have.
async fn started_at_provider(
    s: &Setup,
    key: String,
    digest: release_desk_domain::Digest,
) -> RunHandle {
    s.pipeline
        .start_run(
            &ActionKey::new(key).unwrap(),
            &BindingSettings::new(),
            &PipelineRequest {
                version: "1.0.0".into(),
                digest,
                environment: "dev".into(),
            },
        )
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_while_following_a_run_follows_the_recorded_run() {
    let s = setup().await;
    s.w.approved_change("1.0.0", &["dev"]).await;
    let (id, key, digest) = begun(&s, "following").await;
    let run = started_at_provider(&s, key, digest).await;
    s.w.store
        .record_promotion_event(
            id,
            &PromotionEvent::RunStarted {
                step: 0,
                at: Utc::now(),
                run: run.clone(),
            },
            Utc::now(),
        )
        .await
        .unwrap();
    // The app restarts: a new engine over the same store.
    let again = s.w.engine(s.w.target());
    again.set_pipelines(Arc::new(Opener(s.pipeline.clone())));
    assert_eq!(again.resume_unfinished().await.unwrap(), vec![id]);
    let p = again.run(id).await.unwrap();
    assert_eq!(p.phase, Phase::Succeeded, "{:#?}", p.failure);
    assert_eq!(p.steps[0].run, Some(run));
    assert_eq!(
        s.pipeline.requests.lock().unwrap().len(),
        1,
        "the recorded run was followed; nothing was started again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_that_fail_for_a_while_retry_the_step_on_the_same_run() {
    let s = setup().await;
    s.w.approved_change("1.0.0", &["dev"]).await;
    // Five failed polls in a row fail the first attempt (retryable); the
    // retry follows the run it already has.
    *s.pipeline.flaky.lock().unwrap() = 6;
    let id = promote(&s, PromotionKind::Promote, Some("1.0.0"), "flaky").await;
    let p = s.engine.run(id).await.unwrap();
    assert_eq!(p.phase, Phase::Succeeded, "{:#?}", p.failure);
    assert!(p.steps[0].attempts >= 2, "the step was retried");
    assert!(p.steps[0].retried[0].contains("502"));
    assert_eq!(s.pipeline.inner.count(), 1, "one run for every attempt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_fails_the_promotion_and_a_rollback_runs_the_last_good_release() {
    let s = setup().await;
    s.w.approved_change("1.0.0", &["dev"]).await;
    s.w.approved_change("1.1.0", &["dev"]).await;
    let first = promote(&s, PromotionKind::Promote, Some("1.0.0"), "one").await;
    assert_eq!(s.engine.run(first).await.unwrap().phase, Phase::Succeeded);
    let second = promote(&s, PromotionKind::Promote, Some("1.1.0"), "two").await;
    assert_eq!(s.engine.run(second).await.unwrap().phase, Phase::Succeeded);

    // Rolling back runs the pipeline again with 1.0.0.
    let back = promote(&s, PromotionKind::Rollback, None, "back").await;
    let p = s.engine.run(back).await.unwrap();
    assert_eq!(p.phase, Phase::Succeeded, "{:#?}", p.failure);
    assert_eq!(p.release.version, "1.0.0");
    let asked = s.pipeline.requests.lock().unwrap().clone();
    assert_eq!(
        asked.iter().map(|r| r.version.as_str()).collect::<Vec<_>>(),
        ["1.0.0", "1.1.0", "1.0.0"]
    );
    let live =
        s.w.store
            .recorded_live_release(&slug("demo-web"), &slug("dev"))
            .await
            .unwrap();
    assert_eq!(live.map(|l| l.0).as_deref(), Some("1.0.0"));

    // A run that fails fails the promotion, and asks a person to look.
    s.pipeline.inner.set_ending(Ending::Fail);
    s.w.approved_change("1.1.0", &["dev"]).await;
    let failing = promote(&s, PromotionKind::Promote, Some("1.1.0"), "three").await;
    let p = s.engine.run(failing).await.unwrap();
    assert_eq!(p.phase, Phase::Failed);
    let f = p.failure.unwrap();
    assert!(
        f.reason.contains("failed: the deploy job failed"),
        "{}",
        f.reason
    );
    assert!(f.needs_attention);
    let locks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM environment_locks")
        .fetch_one(s.w.store.pool())
        .await
        .unwrap();
    assert_eq!(locks, 0, "the environment is free again");

    // Drills need legs.
    let drill = s
        .engine
        .request(
            PromotionKind::Drill,
            &slug("demo-web"),
            &slug("dev"),
            None,
            "drill",
            &s.w.priya,
        )
        .await;
    assert!(drill.unwrap_err().to_string().contains("pipeline"));
}
