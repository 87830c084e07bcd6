//! The release calendar's rules: release windows (when changes may go live)
//! and freezes (when they may not), one-off or recurring (RFC 5545 RRULE with
//! EXDATE) in an IANA time zone; their occurrences; the conflicts a planned
//! change would meet; and the next free slot. Plain Rust, no I/O: the store
//! keeps the rules and bookings, the UI shows what these functions decide.

mod conflict;
mod error;
mod expand;
mod ics;
mod rule;
mod slot;
mod view;

pub use conflict::{conflicts, Booking, Conflict, ConflictKind, FreezeOverride};
pub use error::{CalendarError, Result};
pub use expand::{expand, upcoming, Expanded, Occurrence};
pub use ics::{parse_ics, to_ics, IcsExport, IcsImport, ImportedRule, SkippedItem, MAX_ICS_BYTES};
pub use rule::{CalendarRule, RuleDraft, RuleKind, Scope, MAX_RULE_DURATION_MINUTES};
pub use slot::next_free_slot;
pub use view::{view, CalendarView, PlannedChange, RuleOccurrence};

#[cfg(test)]
mod tests;
