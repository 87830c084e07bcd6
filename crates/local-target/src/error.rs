//! Shorthands for the crate's one error type, the provider contract's
//! [`ProviderError`]: everything this target does ends up reported through the
//! trait, so a second error enum would only be converted into this one.

use std::fmt::Display;
use std::path::Path;

pub use release_desk_provider::{ProviderError, ProviderErrorKind, Result};

pub(crate) fn refused(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Refused, message)
}

pub(crate) fn unavailable(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Unavailable, message)
}

pub(crate) fn timeout(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Timeout, message)
}

pub(crate) fn malformed(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Malformed, message)
}

pub(crate) fn io(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Io, message)
}

/// An I/O failure on a path, phrased as "could not <doing> <path>: <cause>".
pub(crate) fn io_at(doing: &str, path: &Path, cause: impl Display) -> ProviderError {
    io(format!("could not {doing} {}: {cause}", path.display()))
}
