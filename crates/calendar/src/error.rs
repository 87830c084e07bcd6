//! The calendar crate's one error type: every refusal names the field.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CalendarError {
    #[error(transparent)]
    Domain(#[from] release_desk_domain::DomainError),

    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },

    #[error(
        "'{zone}' is not a time zone: use an IANA name such as Europe/London or America/New_York"
    )]
    UnknownZone { zone: String },

    #[error("the recurrence rule is not valid: {detail}")]
    InvalidRecurrence { detail: String },

    #[error("{local} does not exist in {zone}: the clocks go forward then. Choose a time outside the skipped hour")]
    SkippedTime { local: String, zone: String },

    /// An iCalendar file that cannot be imported; `line` is the 1-based
    /// physical line in the file, `field` the property or part at fault.
    #[error("line {line}: {field}: {reason}")]
    Ics {
        line: u32,
        field: String,
        reason: String,
    },
}

impl CalendarError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Domain(_) | Self::Invalid { .. } => "invalid_input",
            Self::UnknownZone { .. } => "unknown_time_zone",
            Self::InvalidRecurrence { .. } => "invalid_recurrence",
            Self::SkippedTime { .. } => "skipped_local_time",
            Self::Ics { .. } => "invalid_ics",
        }
    }
}

pub type Result<T, E = CalendarError> = std::result::Result<T, E>;
