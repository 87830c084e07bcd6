//! Occurrences of rules over a time range, in UTC, DST-correct: a 09:00
//! Europe/London window is at 09:00 local time on both sides of a clock change.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::{CalendarError, CalendarRule, Result, RuleKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Occurrence {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Occurrence {
    pub fn overlaps(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        self.start < end && start < self.end
    }
}

/// A rule with its occurrences in a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    pub rule: CalendarRule,
    pub occurrences: Vec<Occurrence>,
}

impl Expanded {
    pub fn kind(&self) -> RuleKind {
        self.rule.kind
    }
}

/// Most occurrences one rule may produce in one range: a minutely rule over a
/// year would otherwise exhaust memory. The range is what the caller asks
/// for, so a calendar view never needs more.
const MAX_OCCURRENCES: u16 = 10_000;

/// Every occurrence of `rule` that overlaps `[from, to)`.
pub fn expand(rule: &CalendarRule, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Expanded> {
    let tz = rule.tz()?;
    let rtz = rrule::Tz::Tz(tz);
    let duration = rule.duration();
    // An occurrence that started up to one duration before `from` still overlaps it.
    let after = (from - duration - chrono::Duration::seconds(1)).with_timezone(&rtz);
    let before = to.with_timezone(&rtz);
    let result = rule
        .recurrence_set()?
        .after(after)
        .before(before)
        .all(MAX_OCCURRENCES);
    if result.limited && result.dates.len() >= usize::from(MAX_OCCURRENCES) {
        return Err(CalendarError::InvalidRecurrence {
            detail: format!(
                "'{}' repeats more than {MAX_OCCURRENCES} times in the range asked for; use a coarser rule",
                rule.title
            ),
        });
    }
    let occurrences = result
        .dates
        .into_iter()
        .map(|d| {
            let start = d.with_timezone(&Utc);
            Occurrence {
                start,
                end: start + duration,
            }
        })
        .filter(|o| o.overlaps(from, to))
        .collect();
    Ok(Expanded {
        rule: rule.clone(),
        occurrences,
    })
}

/// The next `count` occurrences of `rule` that end after `from`, for showing a
/// person what a rule they are writing will do.
pub fn upcoming(rule: &CalendarRule, from: DateTime<Utc>, count: u16) -> Result<Vec<Occurrence>> {
    let tz = rule.tz()?;
    let rtz = rrule::Tz::Tz(tz);
    let duration = rule.duration();
    let after = (from - duration).with_timezone(&rtz);
    let result = rule.recurrence_set()?.after(after).all(count);
    Ok(result
        .dates
        .into_iter()
        .map(|d| {
            let start = d.with_timezone(&Utc);
            Occurrence {
                start,
                end: start + duration,
            }
        })
        .filter(|o| o.end > from)
        .collect())
}
