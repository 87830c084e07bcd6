//! The suite against its own reference pipeline: proof the suite passes a
//! correct adapter before it judges real ones.

use std::sync::Arc;

use async_trait::async_trait;
use release_desk_conformance::{pipeline_suite, Ending, InMemoryPipeline, PipelineHarness};
use release_desk_provider::{BindingSettings, PipelineDeploy};

struct Harness(InMemoryPipeline);

#[async_trait]
impl PipelineHarness for Harness {
    fn open(&self) -> Arc<dyn PipelineDeploy> {
        // The provider's state outlives the adapter: a clone shares it.
        Arc::new(self.0.clone())
    }
    fn binding(&self) -> BindingSettings {
        BindingSettings::new()
    }
    async fn runs(&self) -> usize {
        self.0.count()
    }
    async fn end_runs(&self, ending: Ending) {
        self.0.set_ending(ending);
    }
}

#[tokio::test]
async fn the_reference_pipeline_passes() {
    pipeline_suite(&Harness(InMemoryPipeline::default())).await;
}
