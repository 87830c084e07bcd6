//! A calendar rule: a release window or a freeze, its local start time and
//! zone, its duration, its recurrence and exceptions, and what it applies to.

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use release_desk_domain::{required_text, Slug};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::{CalendarError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum RuleKind {
    /// When changes may go live.
    Window,
    /// When they may not (a freeze or blackout).
    Freeze,
}

/// What a rule applies to: empty lists mean every environment / service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    pub environments: Vec<Slug>,
    pub services: Vec<Slug>,
}

impl Scope {
    pub fn applies_to(&self, service: &Slug, environment: &Slug) -> bool {
        (self.environments.is_empty() || self.environments.contains(environment))
            && (self.services.is_empty() || self.services.contains(service))
    }
}

/// What a person (or an ICS import) offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RuleDraft {
    pub kind: RuleKind,
    pub title: String,
    /// IANA zone, e.g. `Europe/London`.
    pub zone: String,
    /// Local wall-clock start of the first occurrence, in `zone`.
    pub start: NaiveDateTime,
    pub duration_minutes: u32,
    /// An RFC 5545 RRULE value without the `RRULE:` prefix, e.g.
    /// `FREQ=WEEKLY;BYDAY=TU,TH`; `None` for a one-off.
    pub recurrence: Option<String>,
    /// Local start times of occurrences that do not happen.
    pub exceptions: Vec<NaiveDateTime>,
    pub scope: Scope,
}

/// Longest single occurrence: a freeze over the year-end holidays fits; a
/// "window" of months is a mistake.
pub const MAX_RULE_DURATION_MINUTES: u32 = 60 * 24 * 31;
const MAX_RECURRENCE_LEN: usize = 500;
const MAX_EXCEPTIONS: usize = 500;

/// A validated rule. `recurrence_set` is the full RFC 5545 text the `rrule`
/// crate expands (DTSTART with TZID, RRULE, EXDATE).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CalendarRule {
    #[specta(type = u32)]
    pub id: i64,
    pub kind: RuleKind,
    pub title: String,
    pub zone: String,
    pub start: NaiveDateTime,
    pub duration_minutes: u32,
    pub recurrence: Option<String>,
    pub exceptions: Vec<NaiveDateTime>,
    pub scope: Scope,
}

impl RuleDraft {
    pub fn validate(self, id: i64) -> Result<CalendarRule> {
        let title = required_text("title", &self.title)?;
        if title.chars().any(char::is_control) {
            return Err(CalendarError::Invalid {
                field: "title",
                reason: "a title is one line of text, without line breaks or control characters"
                    .into(),
            });
        }
        let zone = parse_zone(&self.zone)?;
        if self.duration_minutes == 0 || self.duration_minutes > MAX_RULE_DURATION_MINUTES {
            return Err(CalendarError::Invalid {
                field: "duration",
                reason: format!(
                    "the end must be after the start, and an occurrence may last at most {} days",
                    MAX_RULE_DURATION_MINUTES / 60 / 24
                ),
            });
        }
        // The first occurrence must exist on the wall clock (not in the hour
        // skipped when clocks go forward); an ambiguous time takes the earlier.
        local_instant(zone, self.start)?;
        let recurrence = match self.recurrence.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(r) => Some(check_recurrence(r)?),
        };
        if self.exceptions.len() > MAX_EXCEPTIONS {
            return Err(CalendarError::Invalid {
                field: "exceptions",
                reason: format!("at most {MAX_EXCEPTIONS} exception dates"),
            });
        }
        let rule = CalendarRule {
            id,
            kind: self.kind,
            title,
            zone: zone.name().to_owned(),
            start: self.start,
            duration_minutes: self.duration_minutes,
            recurrence,
            exceptions: self.exceptions,
            scope: self.scope,
        };
        // Parse the whole set once now, so a rule that cannot be expanded is
        // refused when it is saved, not when the calendar is drawn.
        rule.recurrence_set()?;
        Ok(rule)
    }
}

impl CalendarRule {
    pub fn tz(&self) -> Result<Tz> {
        parse_zone(&self.zone)
    }

    pub fn duration(&self) -> chrono::Duration {
        chrono::Duration::minutes(i64::from(self.duration_minutes))
    }

    /// The RFC 5545 text of the rule's recurrence set.
    pub fn recurrence_text(&self) -> String {
        let fmt = |t: &NaiveDateTime| t.format("%Y%m%dT%H%M%S").to_string();
        let mut text = format!("DTSTART;TZID={}:{}", self.zone, fmt(&self.start));
        match &self.recurrence {
            Some(r) => text.push_str(&format!("\nRRULE:{r}")),
            // A one-off is a recurrence of one, so expansion has one path.
            None => text.push_str("\nRRULE:FREQ=DAILY;COUNT=1"),
        }
        for ex in &self.exceptions {
            text.push_str(&format!("\nEXDATE;TZID={}:{}", self.zone, fmt(ex)));
        }
        text
    }

    pub(crate) fn recurrence_set(&self) -> Result<rrule::RRuleSet> {
        self.recurrence_text()
            .parse::<rrule::RRuleSet>()
            .map_err(|e| CalendarError::InvalidRecurrence {
                detail: e.to_string(),
            })
    }
}

pub(crate) fn parse_zone(zone: &str) -> Result<Tz> {
    zone.trim()
        .parse::<Tz>()
        .map_err(|_| CalendarError::UnknownZone {
            zone: zone.chars().take(80).collect(),
        })
}

pub(crate) fn local_instant(zone: Tz, local: NaiveDateTime) -> Result<chrono::DateTime<Tz>> {
    zone.from_local_datetime(&local)
        .earliest()
        .ok_or_else(|| CalendarError::SkippedTime {
            local: local.format("%Y-%m-%d %H:%M").to_string(),
            zone: zone.name().to_owned(),
        })
}

/// Only the characters an RRULE value uses, so nothing can smuggle another
/// property (a newline and `DTSTART`, say) into the set we build.
fn check_recurrence(value: &str) -> Result<String> {
    let upper = value.to_ascii_uppercase();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '=' | ';' | ',' | '-' | '+');
    if upper.len() > MAX_RECURRENCE_LEN || !upper.chars().all(allowed) {
        return Err(CalendarError::InvalidRecurrence {
            detail: format!(
                "'{}' is not an RRULE value: use e.g. FREQ=WEEKLY;BYDAY=TU,TH (at most {MAX_RECURRENCE_LEN} characters)",
                value.chars().take(80).collect::<String>()
            ),
        });
    }
    if ["SECONDLY", "MINUTELY", "HOURLY"]
        .iter()
        .any(|f| upper.contains(&format!("FREQ={f}")))
    {
        return Err(CalendarError::InvalidRecurrence {
            detail: "a release window or freeze repeats at most daily: use FREQ=DAILY (with BYHOUR for several times a day)".into(),
        });
    }
    if !upper.starts_with("FREQ=") && !upper.contains(";FREQ=") {
        return Err(CalendarError::InvalidRecurrence {
            detail: "the rule needs a FREQ, e.g. FREQ=WEEKLY".into(),
        });
    }
    // The rrule crate validates the rule's parts; parse it alone first so the
    // message is about the rule, not the set around it.
    upper
        .parse::<rrule::RRule<rrule::Unvalidated>>()
        .map_err(|e| CalendarError::InvalidRecurrence {
            detail: e.to_string(),
        })?;
    Ok(upper)
}
