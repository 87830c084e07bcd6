//! The error every command returns: a stable `code` the UI branches on and a
//! `message` written for the person using the app.

use release_desk_credentials::CredentialError;
use release_desk_domain::DomainError;
use release_desk_store::StoreError;
use serde::Serialize;
use specta::Type;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
pub struct AppError {
    pub code: String,
    pub message: String,
}

impl AppError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        let error = Self {
            code: code.to_owned(),
            message: message.into(),
        };
        tracing::warn!(code = %error.code, message = %error.message, "command failed");
        error
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<CredentialError> for AppError {
    fn from(e: CredentialError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<release_desk_changes::ChangeError> for AppError {
    fn from(e: release_desk_changes::ChangeError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<release_desk_evidence::EvidenceError> for AppError {
    fn from(e: release_desk_evidence::EvidenceError) -> Self {
        Self::new("evidence_write_failed", e.to_string())
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        Self::new("invalid_input", e.to_string())
    }
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl From<release_desk_provider::ProviderError> for AppError {
    fn from(e: release_desk_provider::ProviderError) -> Self {
        Self::new(e.kind.code(), e.message)
    }
}
