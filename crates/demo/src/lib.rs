//! Deterministic workspaces built from domain types: the realistic demo a new
//! user can load, and large generated workspaces for benchmarks. The same
//! inputs always produce the same workspace, so tests can rely on its shape.

mod changes;
mod demo;
mod generated;
mod ids;
mod sample;

pub use changes::{demo_changes, play, ChangeScript, ScriptStep, ScriptedChange};
pub use demo::demo_workspace;
pub use generated::generated_workspace;
pub use sample::{
    add_sample_service, install_sample_service, package_samples, SampleError, SamplePackages,
};
