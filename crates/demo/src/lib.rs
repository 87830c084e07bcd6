//! Deterministic workspaces built from domain types: the realistic demo a new
//! user can load, and large generated workspaces for benchmarks. The same
//! inputs always produce the same workspace, so tests can rely on its shape.

mod changes;
mod demo;
mod generated;
mod ids;
mod load;
mod sample;
mod story;

pub use changes::{demo_changes, play, ChangeScript, ScriptStep, ScriptedChange};
pub use demo::demo_workspace;
pub use generated::generated_workspace;
pub use load::{load_demo, load_demo_guarded, recover_interrupted_load};
pub use sample::{
    add_sample_service, install_sample_service, package_samples, SampleError, SamplePackages,
};
pub use story::{
    awkward_instants, broken_promises, cells, CellSummary, UAT_FAILURE_PREFIX, UAT_FREEZE_TITLE,
};
