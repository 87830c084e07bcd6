//! Writes rules and planned changes as one iCalendar file.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use chrono_tz::Tz;
use icalendar::{Calendar, CalendarDateTime, Component, Event, EventLike, Property};

use super::vtimezone::{vtimezone, year_span};
use crate::rule::local_instant;
use crate::{CalendarRule, PlannedChange, RuleKind, Scope};

/// What to export. `uid_domain` makes UIDs globally unique (e.g. the
/// workspace's host name); `now` is written as every event's DTSTAMP.
#[derive(Debug, Clone, Copy)]
pub struct IcsExport<'a> {
    pub calendar_name: &'a str,
    pub uid_domain: &'a str,
    pub rules: &'a [CalendarRule],
    pub changes: &'a [PlannedChange],
    pub now: DateTime<Utc>,
    /// When each rule (by id) last changed: written as LAST-MODIFIED and as
    /// a SEQUENCE that grows with it, so calendar programs that imported an
    /// earlier export update their copy.
    pub modified: &'a [(i64, DateTime<Utc>)],
}

/// The export as RFC 5545 text: CRLF line endings, lines folded at 75 octets.
pub fn to_ics(export: &IcsExport<'_>) -> String {
    let mut header = Calendar::empty();
    header
        .append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new(
            "PRODID",
            "-//Release Desk//Release calendar//EN",
        ))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", "PUBLISH"))
        .append_property(Property::new("X-WR-CALNAME", text(export.calendar_name)));
    // The header alone, then our VTIMEZONEs and the events inside it: the
    // `icalendar` crate cannot nest a VTIMEZONE (see the module docs).
    let header = header.to_string();
    let mut out = header
        .strip_suffix("END:VCALENDAR\r\n")
        .unwrap_or(&header)
        .to_owned();

    // Each zone's VTIMEZONE covers the years of the rules that use it.
    let mut zones: BTreeMap<&str, (Tz, Vec<i32>)> = BTreeMap::new();
    for rule in export.rules {
        let tz = zone_of(rule);
        zones
            .entry(tz.name())
            .or_insert((tz, Vec::new()))
            .1
            .push(rule.start.year());
    }
    for (tz, years) in zones.values() {
        out.push_str(&vtimezone(
            *tz,
            year_span(years.iter().copied(), export.now.year()),
        ));
    }
    for rule in export.rules {
        out.push_str(&serialise(&rule_event(rule, export)));
    }
    for change in export.changes {
        out.push_str(&serialise(&change_event(change, export)));
    }
    out.push_str("END:VCALENDAR\r\n");
    refold(&out)
}

/// Folds every line to at most 75 octets. The `icalendar` crate folds too,
/// but its last continuation line can be 76 octets (its remainder check
/// forgets the leading space), so its folds are undone and redone here. No
/// value we write holds a CR or LF (TEXT escapes them, [`text`] removes the
/// rest), so every CRLF followed by a space is one of its folds.
fn refold(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 64);
    for line in text.replace("\r\n ", "").split_terminator("\r\n") {
        fold_line(line, &mut out);
    }
    out
}

/// One content line, folded on character boundaries at 75 octets (the
/// continuation's leading space counts), CRLF-terminated. Where it can, a
/// fold is not put before a space, which careless parsers drop with the fold.
fn fold_line(line: &str, out: &mut String) {
    const LIMIT: usize = 75;
    let mut rest = line;
    let mut limit = LIMIT;
    while rest.len() > limit {
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if rest[cut..].starts_with([' ', '\t']) {
            if let Some((before, _)) = rest[..cut]
                .char_indices()
                .next_back()
                .filter(|(i, _)| *i > 0)
            {
                cut = before;
            }
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        limit = LIMIT - 1;
    }
    out.push_str(rest);
    out.push_str("\r\n");
}

/// Free text as a TEXT value may hold it: line breaks become `\n` (escaped
/// by the `icalendar` crate), other control characters, which RFC 5545 does
/// not allow and which would break lines or make the file unreadable, go.
fn text(value: &str) -> String {
    value
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect()
}

fn sequence_epoch() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_577_836_800, 0).unwrap_or_default()
}

fn serialise(event: &Event) -> String {
    // Writing to a String cannot fail.
    event.try_into_string().unwrap_or_default()
}

/// Rules are validated, so their zone parses; should one not, it is written
/// in UTC rather than not at all.
fn zone_of(rule: &CalendarRule) -> Tz {
    rule.tz().unwrap_or(chrono_tz::UTC)
}

fn zoned(date_time: NaiveDateTime, tz: Tz) -> CalendarDateTime {
    CalendarDateTime::WithTimezone {
        date_time,
        tzid: tz.name().to_owned(),
    }
}

/// The end: the start instant plus the duration, on the zone's wall clock, so
/// a two-hour window starting 00:30 on the night the clocks go forward ends
/// at 03:30, not 02:30. A local time that happens twice means the first
/// (RFC 5545 §3.3.5), so an end in the repeated hour is written in UTC.
fn end(rule: &CalendarRule, tz: Tz) -> CalendarDateTime {
    let Some(end) = local_instant(tz, rule.start)
        .ok()
        .and_then(|start| start.checked_add_signed(rule.duration()))
    else {
        let local = rule.start.checked_add_signed(rule.duration());
        return zoned(local.unwrap_or(rule.start), tz);
    };
    let local = end.naive_local();
    if local_instant(tz, local).ok() == Some(end) {
        zoned(local, tz)
    } else {
        CalendarDateTime::Utc(end.with_timezone(&Utc))
    }
}

fn scope_text(scope: &Scope) -> String {
    let list = |keys: &[release_desk_domain::Slug], all: &str, one: &str| {
        if keys.is_empty() {
            all.to_owned()
        } else {
            let names: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
            format!("{one} {}", names.join(", "))
        }
    };
    format!(
        "Applies to {} and {}.",
        list(&scope.environments, "every environment", "environments"),
        list(&scope.services, "every service", "services")
    )
}

fn rule_event(rule: &CalendarRule, export: &IcsExport<'_>) -> Event {
    let tz = zone_of(rule);
    let (prefix, meaning, kind, transp) = match rule.kind {
        RuleKind::Window => (
            "Release window",
            "Changes may go live during this window.",
            "window",
            "TRANSPARENT",
        ),
        RuleKind::Freeze => (
            "Freeze",
            "No changes may go live during this freeze.",
            "freeze",
            "OPAQUE",
        ),
    };
    let mut event = Event::new();
    event
        .uid(&text(&format!(
            "release-desk-rule-{}@{}",
            rule.id, export.uid_domain
        )))
        .timestamp(export.now)
        .starts(zoned(rule.start, tz))
        .ends(end(rule, tz))
        .summary(&text(&format!("{prefix}: {}", rule.title)))
        .description(&text(&format!(
            "{meaning} {} Times are in {}.",
            scope_text(&rule.scope),
            tz.name()
        )))
        .categories([prefix])
        .add_property("TRANSP", transp)
        .add_property("X-RELEASE-DESK-KIND", kind)
        .add_property("X-RELEASE-DESK-TITLE", text(&rule.title));
    let keys = |keys: &[release_desk_domain::Slug]| {
        keys.iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    if !rule.scope.environments.is_empty() {
        event.add_property(
            "X-RELEASE-DESK-ENVIRONMENTS",
            keys(&rule.scope.environments),
        );
    }
    if !rule.scope.services.is_empty() {
        event.add_property("X-RELEASE-DESK-SERVICES", keys(&rule.scope.services));
    }
    if let Some(rrule) = &rule.recurrence {
        // Validated rules hold only RRULE characters; never let a line break through.
        let rrule: String = rrule.chars().filter(|c| !c.is_control()).collect();
        event.add_property("RRULE", rrule);
    }
    for exception in &rule.exceptions {
        event.exdate(zoned(*exception, tz));
    }
    if let Some((_, at)) = export.modified.iter().find(|(id, _)| *id == rule.id) {
        event.last_modified(*at);
        // Minutes since 2020: grows with every edit, fits SEQUENCE's integer.
        let sequence = (*at - sequence_epoch()).num_minutes().max(0);
        event.sequence(u32::try_from(sequence).unwrap_or(u32::MAX));
    }
    event.done()
}

fn change_event(change: &PlannedChange, export: &IcsExport<'_>) -> Event {
    let b = &change.booking;
    let description = if change.conflicts.is_empty() {
        "No conflicts".to_owned()
    } else {
        let lines: Vec<String> = change
            .conflicts
            .iter()
            .map(|c| match &c.overridden {
                Some(o) => format!("- {} (overridden by {}: {})", c.reason, o.by, o.reason),
                None => format!("- {}", c.reason),
            })
            .collect();
        format!("Conflicts:\n{}", lines.join("\n"))
    };
    Event::new()
        .uid(&text(&format!(
            "release-desk-change-{}-{}@{}",
            b.id, b.environment, export.uid_domain
        )))
        .timestamp(export.now)
        .starts(CalendarDateTime::Utc(b.start))
        .ends(CalendarDateTime::Utc(b.end))
        .summary(&text(&format!(
            "{} {} → {}",
            b.reference, b.service, b.environment
        )))
        .description(&text(&description))
        .categories(["Planned change"])
        .add_property("TRANSP", "OPAQUE")
        .add_property("X-RELEASE-DESK-CHANGE", text(&b.reference))
        .done()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(line: &str) -> String {
        let mut out = String::new();
        fold_line(line, &mut out);
        out
    }

    #[test]
    fn lines_up_to_75_octets_are_left_alone() {
        let line = "X".repeat(75);
        assert_eq!(folded(&line), format!("{line}\r\n"));
    }

    #[test]
    fn long_lines_fold_at_75_octets_on_character_boundaries() {
        for line in [
            "D".repeat(76),
            "D".repeat(151),
            format!("DESCRIPTION:{}", "é✓«".repeat(60)),
            format!("X:{}", "a b ".repeat(80)),
        ] {
            let out = folded(&line);
            let physical: Vec<&str> = out.strip_suffix("\r\n").unwrap().split("\r\n").collect();
            assert!(physical.len() > 1);
            for (i, p) in physical.iter().enumerate() {
                assert!(p.len() <= 75, "{} octets", p.len());
                assert_eq!(i > 0, p.starts_with(' '));
                assert!(!p.starts_with("  "), "a fold before a space");
            }
            assert_eq!(out.replace("\r\n ", ""), format!("{line}\r\n"));
        }
    }

    #[test]
    fn control_characters_are_kept_out_of_text() {
        assert_eq!(text("a\r\nb\rc\0d\u{7}e\tf\ng"), "a\nb\ncde\tf\ng");
    }
}
