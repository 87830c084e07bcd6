//! RFC 5545 iCalendar (`.ics`) export and import of the release calendar, so
//! release windows and freezes can be shown in Google Calendar or Outlook and
//! brought in from them.
//!
//! # Export
//! - One VEVENT per rule. Its UID is `release-desk-rule-{id}@{domain}`, so a
//!   calendar that subscribes to the export updates events rather than
//!   duplicating them. Times are written on the rule's own wall clock
//!   (`DTSTART;TZID=Europe/London:…`) so recurrences keep their local time
//!   across clock changes, exactly as [`crate::expand`] computes them; DTEND
//!   is the start instant plus the duration, expressed in the zone again.
//! - Custom `X-RELEASE-DESK-*` properties carry the kind, the exact title and
//!   the scope, so our own import gives back exactly the rule that was
//!   exported; other programs show SUMMARY and DESCRIPTION. Scope lists are one
//!   TEXT value with comma-separated keys (the commas escaped, as TEXT
//!   requires); the importer accepts escaped or bare commas.
//! - One VEVENT per planned change, in UTC, marked `X-RELEASE-DESK-CHANGE`, so
//!   re-importing an export never turns bookings into rules.
//! - A VTIMEZONE for every TZID used: Outlook refuses TZIDs without one. See
//!   [`vtimezone`] for how its transitions are found.
//! - The header and the VEVENTs are built and serialised by the `icalendar`
//!   crate (TEXT escaping, parameter quoting, CRLF). Two parts are ours: the
//!   VTIMEZONE's BEGIN/END lines, because that crate cannot nest observances
//!   without adding a DTSTAMP and a random UID to each; and line folding,
//!   because its folding can leave a 76-octet line (see `export::refold`).
//!   Free text is stripped of control characters, which TEXT may not hold.
//!
//! # Import
//! - A content-line reader of our own ([`lines`]) keeps the physical line of
//!   every property through unfolding, so each error names its line; the
//!   `icalendar` parser reports no positions and enforces no size limits.
//! - Each VEVENT becomes a [`RuleDraft`] that has passed
//!   [`RuleDraft::validate`]; the first event that does not fails the whole
//!   import, naming its line and property. Nothing is half-imported.
//! - Zones: IANA TZIDs, `Z` times as `UTC`, floating times in the caller's
//!   default zone. Outlook's Windows zone names ("GMT Standard Time") are
//!   mapped through CLDR's table (the `localzone` crate); other unknown
//!   TZIDs are refused naming the line and the zone.
//! - Events we cannot represent (RDATE, EXRULE), planned changes we exported,
//!   cancelled events and non-event components are listed as skipped, with a
//!   reason, not refused. A moved occurrence of a recurring event
//!   (RECURRENCE-ID) becomes a one-off rule and an exception of its series.

mod export;
mod import;
mod lines;
mod values;
mod vtimezone;

use serde::{Deserialize, Serialize};
use specta::Type;

use crate::RuleDraft;

pub use export::{to_ics, IcsExport};
pub use import::parse_ics;

/// Largest file [`parse_ics`] reads: a year of a busy team's calendar is a
/// few hundred KiB; anything bigger is a mistake or an attack.
pub const MAX_ICS_BYTES: usize = 1024 * 1024;

/// What an `.ics` file offers: rules ready to save, and what was left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct IcsImport {
    pub rules: Vec<ImportedRule>,
    pub skipped: Vec<SkippedItem>,
}

/// One event as a rule. `draft` has passed `RuleDraft::validate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ImportedRule {
    /// The event's UID (empty when it has none); a moved occurrence of a
    /// series is `{uid}#{RECURRENCE-ID value}`. Lets a re-import update
    /// rather than duplicate.
    pub uid: String,
    /// Line of the event's `BEGIN:VEVENT`.
    pub line: u32,
    pub draft: RuleDraft,
    /// Whether window-or-freeze was guessed from the summary and categories
    /// (the file had no `X-RELEASE-DESK-KIND`), so the UI can ask.
    pub kind_guessed: bool,
}

/// A component that was deliberately not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SkippedItem {
    /// Line of the component's `BEGIN:`.
    pub line: u32,
    /// e.g. `VEVENT 'CHG-12 payments-api → prod'`.
    pub what: String,
    pub reason: String,
}
