//! The changes crate's one error type. Each refusal names the rule it enforces.

use release_desk_domain::DomainError;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChangeError {
    #[error(transparent)]
    Domain(#[from] DomainError),

    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },

    /// A rule of the change process refused the step; `rule` is a stable code.
    #[error("{message}")]
    Refused { rule: &'static str, message: String },
}

impl ChangeError {
    /// A stable code for the UI.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Domain(_) | Self::Invalid { .. } => "invalid_input",
            Self::Refused { rule, .. } => rule,
        }
    }
}

pub type Result<T, E = ChangeError> = std::result::Result<T, E>;
