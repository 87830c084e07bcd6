//! The one error type of every provider, with a kind the engine branches on.

use serde::{Deserialize, Serialize};
use specta::Type;

/// What kind of failure, so the engine knows whether to retry, fail the step
/// or stop and ask a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum ProviderErrorKind {
    /// The target cannot be reached or is not running (retrying may help).
    Unavailable,
    /// The call took longer than its deadline.
    Timeout,
    /// The target refused: bad digest, bad signature, port taken, config
    /// rejected. Retrying the same thing will fail the same way.
    Refused,
    /// The target answered with something we cannot read.
    Malformed,
    /// A local file or process operation failed.
    Io,
    /// The provider refused the credential (wrong, expired or revoked): a
    /// person must set a new one; retrying will not help.
    Unauthorised,
    /// The credential is valid but lacks a permission this needs.
    Forbidden,
    /// The provider has no such thing (or hides it from this credential).
    NotFound,
    /// The provider asked us to wait longer than we wait in one call.
    RateLimited,
}

impl ProviderErrorKind {
    pub fn code(self) -> &'static str {
        match self {
            Self::Unavailable => "provider_unavailable",
            Self::Timeout => "provider_timeout",
            Self::Refused => "provider_refused",
            Self::Malformed => "provider_malformed",
            Self::Io => "provider_io",
            Self::Unauthorised => "provider_unauthorised",
            Self::Forbidden => "provider_forbidden",
            Self::NotFound => "provider_not_found",
            Self::RateLimited => "provider_rate_limited",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, Type)]
#[error("{message}")]
#[serde(rename_all = "camelCase")]
pub struct ProviderError {
    pub kind: ProviderErrorKind,
    /// A sentence that says what went wrong and, where it can, what to do.
    pub message: String,
}

impl ProviderError {
    pub fn new(kind: ProviderErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

pub type Result<T, E = ProviderError> = std::result::Result<T, E>;
