//! The engine's one error type.

use release_desk_provider::ProviderError;
use release_desk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Provider(#[from] ProviderError),
    #[error(
        "no deployment target named '{0}' is available in this build: choose another in Settings"
    )]
    UnknownProvider(String),
    #[error("{0}")]
    Refused(String),
}

impl EngineError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Store(e) => e.code(),
            Self::Provider(e) => e.kind.code(),
            Self::UnknownProvider(_) => "unknown_provider",
            Self::Refused(_) => "promotion_refused",
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
