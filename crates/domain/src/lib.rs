//! Release Desk's domain model: the services a team ships, the ordered stages of
//! its path to live, the immutable artefacts it builds and the deployments of
//! those artefacts. Plain Rust: no I/O, no Tauri, every invariant checked here.

mod artefact;
mod deployment;
mod digest;
mod drift;
mod error;
mod path_to_live;
mod service;
mod slug;
mod workspace;

pub use artefact::{
    check_registration, Artefact, ArtefactDraft, Commit, Registration, MAX_COMMITS,
};
pub use deployment::{Deployment, DeploymentDraft, Leg, Outcome};
pub use digest::Digest;
pub use drift::{drift_between, Drift, PreviousStage, StageVersion};
pub use error::{DomainError, Result};
pub use path_to_live::{Environment, PathToLive};
pub use service::Service;
pub use slug::Slug;
pub use workspace::WorkspaceSeed;

/// Longest free-text field we accept (names, reasons, actors). Longer input is a
/// mistake or an attack, and would wreck the layout of every screen that shows it.
pub const MAX_TEXT_LEN: usize = 2_000;

/// Checks a required free-text field: trimmed, non-empty, not oversized.
pub fn required_text(field: &'static str, value: &str) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(DomainError::EmptyField { field });
    }
    if trimmed.chars().count() > MAX_TEXT_LEN {
        return Err(DomainError::FieldTooLong {
            field,
            max: MAX_TEXT_LEN,
        });
    }
    Ok(trimmed.to_owned())
}

/// Like [`required_text`] for optional fields: blank becomes `None`.
pub fn optional_text(field: &'static str, value: Option<&str>) -> Result<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => required_text(field, v).map(Some),
    }
}
