//! The one error type of the promotion rules.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromotionError {
    /// A request that cannot be planned, with a sentence saying why.
    #[error("{0}")]
    Unplannable(String),
    /// An event that does not fit the promotion's history: the stored log is
    /// inconsistent or a caller skipped a step. Never silently ignored.
    #[error("event out of order for promotion {promotion}: {reason}")]
    OutOfOrder { promotion: i64, reason: String },
}

impl PromotionError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unplannable(_) => "unplannable",
            Self::OutOfOrder { .. } => "promotion_out_of_order",
        }
    }
}

pub type Result<T, E = PromotionError> = std::result::Result<T, E>;
