//! The one error type of the domain crate: every refused input names its rule.

use thiserror::Error;

/// Why the domain refused an input. Messages are written for the person who
/// typed or imported it, and say what would be accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    #[error("{field} must not be empty")]
    EmptyField { field: &'static str },

    #[error("{field} is longer than {max} characters")]
    FieldTooLong { field: &'static str, max: usize },

    #[error("'{value}' is not a valid key: use 1–64 lowercase letters, digits and dashes, starting with a letter")]
    InvalidSlug { value: String },

    #[error("'{value}' is not a sha256 digest: expected 64 hexadecimal characters, optionally prefixed with 'sha256:'")]
    InvalidDigest { value: String },

    #[error("'{value}' is not a commit id: expected 7–40 hexadecimal characters")]
    InvalidCommit { value: String },

    #[error("the path to live needs at least one environment")]
    EmptyPathToLive,

    #[error("environment '{key}' appears twice in the path to live")]
    DuplicateEnvironment { key: String },

    #[error("'{production}' is a production stage and cannot come before '{later}': production stages come last in the path to live, after the stages that test a build for them")]
    ProductionNotLast { production: String, later: String },

    #[error(
        "conflicting artefact: {service} {version} is already recorded with digest {recorded}, \
         but this one has digest {offered}. An artefact is immutable: publish the new build under a new version"
    )]
    ConflictingArtefact {
        service: String,
        version: String,
        recorded: String,
        offered: String,
    },

    #[error("the artefact belongs to service '{artefact_service}', not '{service}'")]
    ArtefactServiceMismatch {
        service: String,
        artefact_service: String,
    },

    #[error("a deployment cannot finish ({finished}) before it started ({started})")]
    FinishedBeforeStarted { started: String, finished: String },

    #[error("a deployment that is {outcome} must have a finish time")]
    MissingFinish { outcome: &'static str },

    #[error("a deployment still in progress cannot have a finish time")]
    InProgressFinished,

    #[error("a {outcome} deployment must say why: add a failure reason")]
    MissingFailureReason { outcome: &'static str },

    #[error("only failed or rolled back deployments carry a failure reason")]
    UnexpectedFailureReason,
}

/// The domain crate's result alias.
pub type Result<T, E = DomainError> = std::result::Result<T, E>;
