//! The one error of the HTTP client: what went wrong, at which endpoint, and
//! what a person can do about it.

use release_desk_provider::{ProviderError, ProviderErrorKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpErrorKind {
    /// 401: the token is wrong, expired or revoked.
    Unauthorised,
    /// 403 without a rate-limit signal: the token lacks a permission.
    Forbidden,
    NotFound,
    /// Rate limited for longer than the client waits.
    RateLimited {
        until_epoch_secs: u64,
    },
    /// A write got no clear answer; it may have been applied.
    MaybeApplied,
    /// No connection could be made, or the provider kept failing.
    Unavailable,
    /// Another 4xx: the provider refused the request as sent.
    Rejected {
        status: u16,
    },
    /// The answer could not be read (bad JSON, wrong shape, too large, a
    /// `Link` to another origin).
    Malformed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HttpError {
    pub kind: HttpErrorKind,
    /// The endpoint template, e.g. `GET /repos/{owner}/{repo}/deployments`.
    pub endpoint: String,
    /// A sentence naming the provider and endpoint and what helps. Never
    /// holds a credential: the client scrubs the token out of it.
    pub message: String,
}

pub type Result<T, E = HttpError> = std::result::Result<T, E>;

impl From<HttpError> for ProviderError {
    fn from(e: HttpError) -> Self {
        let kind = match e.kind {
            HttpErrorKind::Unauthorised => ProviderErrorKind::Unauthorised,
            HttpErrorKind::Forbidden => ProviderErrorKind::Forbidden,
            HttpErrorKind::NotFound => ProviderErrorKind::NotFound,
            HttpErrorKind::RateLimited { .. } => ProviderErrorKind::RateLimited,
            // The outcome is unknown, as after a deadline: the caller looks
            // for the action by its key before repeating it.
            HttpErrorKind::MaybeApplied => ProviderErrorKind::Timeout,
            HttpErrorKind::Unavailable => ProviderErrorKind::Unavailable,
            HttpErrorKind::Rejected { .. } => ProviderErrorKind::Refused,
            HttpErrorKind::Malformed => ProviderErrorKind::Malformed,
        };
        ProviderError::new(kind, e.message)
    }
}
