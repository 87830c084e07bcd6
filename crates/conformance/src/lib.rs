//! The conformance suite for [`PipelineDeploy`] adapters, and the in-memory
//! reference pipeline ([`InMemoryPipeline`]) the suite is first run against.
//!
//! An adapter's test calls [`pipeline_suite`] with a [`PipelineHarness`]: a
//! way to open the adapter as a fresh process would (no memory of earlier
//! calls: what a restart after a crash sees), to count the runs the provider
//! really holds, and to script how a run ends. Every check names the rule it
//! enforces, so a new adapter's failure says what it got wrong.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use release_desk_domain::Digest;
use release_desk_provider::{
    ActionKey, BindingSettings, PipelineDeploy, PipelineRequest, ProviderError, ProviderErrorKind,
    Result, RunHandle, RunProgress, RunState,
};

/// How the provider should end the next run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Succeed,
    Fail,
}

/// What the suite needs from the world around an adapter.
#[async_trait]
pub trait PipelineHarness: Send + Sync {
    /// The adapter as a newly started app would open it.
    fn open(&self) -> Arc<dyn PipelineDeploy>;
    /// The binding to deploy through.
    fn binding(&self) -> BindingSettings;
    /// Runs the provider holds (however they were started).
    async fn runs(&self) -> usize;
    /// How runs started from now on end.
    async fn end_runs(&self, ending: Ending);
}

fn request(version: &str) -> PipelineRequest {
    PipelineRequest {
        version: version.into(),
        // A fixed, valid digest: conformance is about runs, not bytes.
        digest: Digest::parse(&"c0".repeat(32)).unwrap_or_else(|_| unreachable!("64 hex digits")),
        environment: "production".into(),
    }
}

async fn follow(
    adapter: &dyn PipelineDeploy,
    binding: &BindingSettings,
    run: &RunHandle,
) -> RunState {
    for _ in 0..50 {
        match adapter.poll_run(binding, run).await {
            Ok(p) if p.state.finished() => return p.state,
            Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            Err(e) => panic!("conformance: polling a started run failed: {e}"),
        }
    }
    panic!("conformance: a run never finished after 50 polls");
}

/// Runs every check against the adapter the harness opens.
pub async fn pipeline_suite(h: &dyn PipelineHarness) {
    let binding = h.binding();
    let key = |s: &str| {
        ActionKey::new(format!("promotion-conformance/{s}")).unwrap_or_else(|e| panic!("{e}"))
    };

    // 1. The same key gives the same run, and only one run exists.
    let before = h.runs().await;
    let adapter = h.open();
    let first = adapter
        .start_run(&key("deploy/1"), &binding, &request("1.0.0"))
        .await
        .unwrap_or_else(|e| panic!("conformance: start_run failed: {e}"));
    let again = adapter
        .start_run(&key("deploy/1"), &binding, &request("1.0.0"))
        .await
        .unwrap_or_else(|e| panic!("conformance: repeating start_run failed: {e}"));
    assert_eq!(
        first.id, again.id,
        "conformance: the same key started a second run"
    );
    assert_eq!(
        h.runs().await,
        before + 1,
        "conformance: the provider holds more than one run for one key"
    );

    // 2. After a crash (a fresh adapter with no memory), the run is found by
    //    its key, and starting again returns it instead of a new one.
    let restarted = h.open();
    let found = restarted
        .find_run(&key("deploy/1"), &binding)
        .await
        .unwrap_or_else(|e| panic!("conformance: find_run failed: {e}"));
    assert_eq!(
        found.as_ref().map(|r| &r.id),
        Some(&first.id),
        "conformance: a run started before a crash was not found by its key"
    );
    let resumed = restarted
        .start_run(&key("deploy/1"), &binding, &request("1.0.0"))
        .await
        .unwrap_or_else(|e| panic!("conformance: start_run after a restart failed: {e}"));
    assert_eq!(
        resumed.id, first.id,
        "conformance: a restart started the run again"
    );
    assert_eq!(h.runs().await, before + 1);

    // 3. A key never used finds nothing; another key starts another run.
    let none = restarted
        .find_run(&key("deploy/never"), &binding)
        .await
        .unwrap_or_else(|e| panic!("conformance: find_run failed: {e}"));
    assert!(none.is_none(), "conformance: an unused key found a run");

    // 4. Runs end as the provider says: success, then failure.
    assert_eq!(
        follow(&*restarted, &binding, &first).await,
        RunState::Succeeded,
        "conformance: a successful run did not end Succeeded"
    );
    h.end_runs(Ending::Fail).await;
    let failing = restarted
        .start_run(&key("deploy/2"), &binding, &request("1.0.1"))
        .await
        .unwrap_or_else(|e| panic!("conformance: start_run failed: {e}"));
    assert_ne!(failing.id, first.id, "conformance: two keys shared one run");
    assert_eq!(h.runs().await, before + 2);
    assert!(
        matches!(
            follow(&*restarted, &binding, &failing).await,
            RunState::Failed(_)
        ),
        "conformance: a failed run did not end Failed"
    );
    h.end_runs(Ending::Succeed).await;

    // 5. An unknown run is an error, never a made-up state.
    let ghost = RunHandle {
        id: "999999999".into(),
        link: None,
    };
    assert!(
        restarted.poll_run(&binding, &ghost).await.is_err(),
        "conformance: polling a run that does not exist answered a state"
    );
}

/// The reference pipeline: a provider's runs kept in memory. Each poll moves
/// a run one state on (queued → running → its ending).
#[derive(Clone, Default)]
pub struct InMemoryPipeline {
    runs: Arc<Mutex<Runs>>,
}

#[derive(Default)]
struct Runs {
    next_id: u64,
    ending: Option<Ending>,
    /// id → (key, polls so far, ending)
    by_id: BTreeMap<String, (String, u32, Ending)>,
}

impl InMemoryPipeline {
    fn lock(&self) -> std::sync::MutexGuard<'_, Runs> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn count(&self) -> usize {
        self.lock().by_id.len()
    }

    pub fn set_ending(&self, ending: Ending) {
        self.lock().ending = Some(ending);
    }
}

#[async_trait]
impl PipelineDeploy for InMemoryPipeline {
    async fn find_run(
        &self,
        key: &ActionKey,
        _binding: &BindingSettings,
    ) -> Result<Option<RunHandle>> {
        Ok(self
            .lock()
            .by_id
            .iter()
            .find(|(_, (k, _, _))| k == key.as_str())
            .map(|(id, _)| RunHandle {
                id: id.clone(),
                link: None,
            }))
    }

    async fn start_run(
        &self,
        key: &ActionKey,
        binding: &BindingSettings,
        _request: &PipelineRequest,
    ) -> Result<RunHandle> {
        if let Some(run) = self.find_run(key, binding).await? {
            return Ok(run);
        }
        let mut runs = self.lock();
        runs.next_id += 1;
        let id = runs.next_id.to_string();
        let ending = runs.ending.unwrap_or(Ending::Succeed);
        runs.by_id.insert(id.clone(), (key.to_string(), 0, ending));
        Ok(RunHandle { id, link: None })
    }

    async fn poll_run(&self, _binding: &BindingSettings, run: &RunHandle) -> Result<RunProgress> {
        let mut runs = self.lock();
        let Some((_, polls, ending)) = runs.by_id.get_mut(&run.id) else {
            return Err(ProviderError::new(
                ProviderErrorKind::NotFound,
                format!("no run {}", run.id),
            ));
        };
        *polls += 1;
        let state = match (*polls, *ending) {
            (1, _) => RunState::Queued,
            (2, _) => RunState::Running,
            (_, Ending::Succeed) => RunState::Succeeded,
            (_, Ending::Fail) => RunState::Failed("the deploy job failed".into()),
        };
        Ok(RunProgress {
            state,
            jobs: vec![],
            link: None,
        })
    }
}
