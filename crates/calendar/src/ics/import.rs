//! Turns the VEVENTs of an `.ics` file into validated rule drafts, or refuses
//! the whole file naming the line and property at fault.

use chrono::{LocalResult, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use release_desk_domain::Slug;

use super::lines::{self, ics_error, preview, Component};
use super::values::{parse_duration, parse_when, split_text_list, unescape_text, When, Zones};
use super::{IcsImport, ImportedRule, SkippedItem};
use crate::rule::parse_zone;
use crate::{
    CalendarError, CalendarRule, Result, RuleDraft, RuleKind, Scope, MAX_RULE_DURATION_MINUTES,
};

/// Most exception dates one event may carry (the rule model's own limit).
const MAX_EXDATES: usize = 500;

/// Words that mark an event without our `X-RELEASE-DESK-KIND` as a freeze.
const FREEZE_WORDS: [&str; 5] = ["freeze", "blackout", "black-out", "embargo", "moratorium"];

/// Reads `text` (an iCalendar file, CRLF or LF, with or without a BOM) into
/// rule drafts. Floating times are read in `default_zone`. Either every event
/// becomes a valid draft or skipped item, or nothing is returned.
pub fn parse_ics(text: &str, default_zone: &str) -> Result<IcsImport> {
    let default = parse_zone(default_zone)?;
    let calendars = lines::read(text)?;
    let zones = Zones::new(&calendars, default);
    let mut pending: Vec<Pending> = Vec::new();
    let mut moved: Vec<Moved> = Vec::new();
    let mut skipped = Vec::new();
    for component in calendars.iter().flat_map(|c| &c.children) {
        match component.name.as_str() {
            "VEVENT" => {
                let read = read_event(component, &zones)?;
                moved.extend(read.moved);
                match read.outcome {
                    Outcome::Rule(rule) => pending.push(*rule),
                    Outcome::Skipped(item) => skipped.push(item),
                }
            }
            // Zone definitions: TZIDs are resolved by name (see `Zones`).
            "VTIMEZONE" => {}
            other => skipped.push(SkippedItem {
                line: component.line,
                what: describe(component),
                reason: match other {
                    "VTODO" => "a to-do, not an event; only events become release windows or freezes".into(),
                    "VJOURNAL" => "a journal entry, not an event; only events become release windows or freezes".into(),
                    "VFREEBUSY" => "free/busy time, not an event; only events become release windows or freezes".into(),
                    _ => format!("a {other} component, not an event; only events (VEVENT) are imported"),
                },
            }),
        }
    }
    attach_moved_occurrences(&mut pending, &moved)?;
    Ok(IcsImport {
        rules: pending.into_iter().map(|p| p.rule).collect(),
        skipped,
    })
}

/// A rule read from one VEVENT, with the lines to blame if it is refused.
struct Pending {
    rule: ImportedRule,
    blame: Blame,
    /// Set for a moved occurrence of a series (it has a RECURRENCE-ID).
    is_occurrence: bool,
}

/// An occurrence of a series that was moved or cancelled: the series must
/// not also happen at its original time.
struct Moved {
    uid: String,
    original: When,
}

enum Outcome {
    Rule(Box<Pending>),
    Skipped(SkippedItem),
}

struct ReadEvent {
    outcome: Outcome,
    moved: Option<Moved>,
}

/// Where each part of a draft came from: (line, property).
struct Blame {
    event: u32,
    title: (u32, String),
    start: (u32, String),
    end: (u32, String),
    recurrence: (u32, String),
    exceptions: (u32, String),
}

impl Blame {
    /// A refusal from `RuleDraft::validate`, placed on the line it is about.
    fn locate(&self, error: CalendarError) -> CalendarError {
        let at =
            |(line, field): &(u32, String), reason: String| ics_error(*line, field.clone(), reason);
        match error {
            CalendarError::Domain(e) => at(
                &self.title,
                format!("{e}; give the event a SUMMARY of at most 2,000 characters"),
            ),
            CalendarError::Invalid {
                field: "duration",
                reason,
            } => at(&self.end, reason),
            CalendarError::Invalid {
                field: "exceptions",
                reason,
            } => at(&self.exceptions, reason),
            CalendarError::Invalid { field, reason } => ics_error(self.event, field, reason),
            CalendarError::InvalidRecurrence { detail } => at(
                &self.recurrence,
                format!("the recurrence rule is not valid: {detail}; fix or remove the RRULE"),
            ),
            e @ (CalendarError::UnknownZone { .. } | CalendarError::SkippedTime { .. }) => {
                at(&self.start, e.to_string())
            }
            e @ CalendarError::Ics { .. } => e,
        }
    }
}

fn describe(component: &Component) -> String {
    match component.first("SUMMARY").map(|p| unescape_text(&p.value)) {
        Some(summary) if !summary.trim().is_empty() => {
            format!("{} '{}'", component.name, preview(summary.trim()))
        }
        _ => component.name.clone(),
    }
}

fn read_event(event: &Component, zones: &Zones) -> Result<ReadEvent> {
    let uid = event
        .first("UID")
        .map(|p| unescape_text(p.value.trim()))
        .unwrap_or_default();
    let skip = |reason: &str, moved: Option<Moved>| ReadEvent {
        outcome: Outcome::Skipped(SkippedItem {
            line: event.line,
            what: describe(event),
            reason: reason.to_owned(),
        }),
        moved,
    };

    let recurrence_id = event.first("RECURRENCE-ID");
    let mut moved = None;
    if let Some(p) = recurrence_id {
        if p.param("RANGE")
            .is_some_and(|r| r.eq_ignore_ascii_case("THISANDFUTURE"))
        {
            return Ok(skip("changes this and every later occurrence of a series, which a rule cannot express; edit the series itself and export again", None));
        }
        moved = Some(Moved {
            uid: uid.clone(),
            original: parse_when(&p.value, p, zones)?,
        });
    }
    if event
        .first("STATUS")
        .is_some_and(|s| unescape_text(s.value.trim()).eq_ignore_ascii_case("CANCELLED"))
    {
        return Ok(skip("the event is cancelled", moved));
    }
    if event.first("X-RELEASE-DESK-CHANGE").is_some() || uid.starts_with("release-desk-change-") {
        return Ok(skip(
            "a planned change exported by Release Desk; changes are booked, not imported as rules",
            moved,
        ));
    }
    if event.first("RDATE").is_some() {
        return Ok(skip("adds extra dates (RDATE), which a rule cannot hold; add those dates as events of their own", moved));
    }
    if event.first("EXRULE").is_some() {
        return Ok(skip("removes dates by a rule (EXRULE), which a rule cannot hold; list the dates as EXDATE instead", moved));
    }

    let start_prop = event.first("DTSTART").ok_or_else(|| {
        ics_error(
            event.line,
            "DTSTART",
            "the event has no DTSTART; every event needs a start",
        )
    })?;
    let start_when = parse_when(&start_prop.value, start_prop, zones)?;
    let (zone, start, all_day) = match start_when {
        When::Date(d) => {
            let zone = match start_prop.param("TZID") {
                Some(tzid) => zones.zone(tzid, start_prop)?,
                None => zones.default,
            };
            (zone, d.and_time(NaiveTime::MIN), true)
        }
        When::Zoned(t, z) => (z, t, false),
        When::Utc(t) => (chrono_tz::UTC, t, false),
        When::Floating(t) => (zones.default, t, false),
    };
    if let LocalResult::Ambiguous(..) = zone.from_local_datetime(&start) {
        return Err(ics_error(
            start_prop.line,
            "DTSTART",
            format!(
                "{} happens twice in {}: the clocks go back then; choose a time outside the repeated hour",
                start.format("%Y-%m-%d %H:%M"),
                zone.name()
            ),
        ));
    }
    let start_instant = zone
        .from_local_datetime(&start)
        .earliest()
        .ok_or_else(|| {
            ics_error(
                start_prop.line,
                "DTSTART",
                format!(
                    "{} does not exist in {}: the clocks go forward then; choose a time outside the skipped hour",
                    start.format("%Y-%m-%d %H:%M"),
                    zone.name()
                ),
            )
        })?
        .with_timezone(&Utc);

    let (duration_minutes, end_blame) =
        duration(event, zones, zone, start, start_instant, all_day)?;

    let mut rrules = event.all("RRULE");
    let rrule = rrules.next();
    if let Some(second) = rrules.next() {
        return Err(ics_error(second.line, "RRULE", "the event has more than one RRULE; a rule repeats one way, so split it into one event per RRULE"));
    }
    let is_occurrence = moved.is_some();
    // A moved occurrence is a one-off at its new time.
    let recurrence = match rrule {
        Some(p) if !is_occurrence => Some(utc_until(&p.value, zone)),
        _ => None,
    };
    let exceptions = if is_occurrence {
        Vec::new()
    } else {
        exdates(event, zones, zone, start.time())?
    };

    let (kind, kind_guessed) = kind(event)?;
    let (title, title_blame) = title(event);
    let scope = Scope {
        environments: slugs(event, "X-RELEASE-DESK-ENVIRONMENTS")?,
        services: slugs(event, "X-RELEASE-DESK-SERVICES")?,
    };
    let blame = Blame {
        event: event.line,
        title: title_blame,
        start: (start_prop.line, "DTSTART".into()),
        end: end_blame,
        recurrence: rrule.map_or((event.line, "RRULE".into()), |p| (p.line, "RRULE".into())),
        exceptions: event
            .first("EXDATE")
            .map_or((event.line, "EXDATE".into()), |p| (p.line, "EXDATE".into())),
    };
    let draft = RuleDraft {
        kind,
        title,
        zone: zone.name().to_owned(),
        start,
        duration_minutes,
        recurrence,
        exceptions,
        scope,
    };
    let draft = validated(draft, &blame)?;
    let uid = match (&recurrence_id, is_occurrence) {
        (Some(p), true) => format!("{uid}#{}", p.value.trim()),
        _ => uid,
    };
    Ok(ReadEvent {
        outcome: Outcome::Rule(Box::new(Pending {
            rule: ImportedRule {
                uid,
                line: event.line,
                draft,
                kind_guessed,
            },
            blame,
            is_occurrence,
        })),
        moved,
    })
}

/// The draft as `validate` normalises it (trimmed title, upper-case RRULE,
/// canonical zone name), or the refusal placed on its line.
fn validated(draft: RuleDraft, blame: &Blame) -> Result<RuleDraft> {
    let rule: CalendarRule = draft.validate(0).map_err(|e| blame.locate(e))?;
    Ok(RuleDraft {
        kind: rule.kind,
        title: rule.title,
        zone: rule.zone,
        start: rule.start,
        duration_minutes: rule.duration_minutes,
        recurrence: rule.recurrence,
        exceptions: rule.exceptions,
        scope: rule.scope,
    })
}

/// Minutes from DTEND or DURATION. All-day events last whole days of 1,440
/// minutes; an all-day event with neither lasts one day (RFC 5545 §3.6.1).
fn duration(
    event: &Component,
    zones: &Zones,
    zone: Tz,
    start: NaiveDateTime,
    start_instant: chrono::DateTime<Utc>,
    all_day: bool,
) -> Result<(u32, (u32, String))> {
    let (seconds, line, field) = match (event.first("DTEND"), event.first("DURATION")) {
        (Some(_), Some(d)) => {
            return Err(ics_error(
                d.line,
                "DURATION",
                "the event has both DTEND and DURATION; keep one of them",
            ))
        }
        (Some(p), None) => {
            let end = parse_when(&p.value, p, zones)?;
            let seconds = match end {
                When::Date(d) if all_day => (d - start.date()).num_days() * 86_400,
                other => {
                    let instant = other.instant(zone).ok_or_else(|| {
                        ics_error(p.line, "DTEND", format!("'{}' does not exist in {}: the clocks go forward then; choose another end", preview(p.value.trim()), zone.name()))
                    })?;
                    (instant - start_instant).num_seconds()
                }
            };
            if seconds <= 0 {
                return Err(ics_error(
                    p.line,
                    "DTEND",
                    format!(
                        "the event ends ({}) before or when it starts ({}); the end must be after the start",
                        preview(p.value.trim()),
                        start.format("%Y%m%dT%H%M%S")
                    ),
                ));
            }
            (seconds, p.line, "DTEND")
        }
        (None, Some(p)) => {
            let seconds = parse_duration(&p.value).ok_or_else(|| {
                ics_error(
                    p.line,
                    "DURATION",
                    format!(
                        "'{}' is not a duration; write it like PT2H30M, P1D or P1W",
                        preview(p.value.trim())
                    ),
                )
            })?;
            if seconds <= 0 {
                return Err(ics_error(
                    p.line,
                    "DURATION",
                    "the duration must be longer than zero",
                ));
            }
            (seconds, p.line, "DURATION")
        }
        (None, None) if all_day => (86_400, event.line, "DTEND"),
        (None, None) => {
            return Err(ics_error(
                event.line,
                "DTEND",
                "the event has no DTEND or DURATION, so it lasts no time; add an end",
            ))
        }
    };
    let minutes = (seconds + 59) / 60;
    match u32::try_from(minutes) {
        Ok(m) if m <= MAX_RULE_DURATION_MINUTES => Ok((m, (line, field.into()))),
        _ => Err(ics_error(
            line,
            field,
            format!(
                "the event lasts {} days; an occurrence may last at most {} days, so split it",
                minutes / 1_440,
                MAX_RULE_DURATION_MINUTES / 1_440
            ),
        )),
    }
}

/// The `rrule` crate (like RFC 5545) wants UNTIL in UTC when DTSTART has a
/// zone; files often give a date or a local time. Read those on the rule's
/// wall clock (a date means the end of that day) and write them in UTC.
fn utc_until(rrule: &str, zone: Tz) -> String {
    rrule
        .trim()
        .split(';')
        .map(|part| {
            let Some((key, value)) = part.split_once('=') else {
                return part.to_owned();
            };
            if !key.trim().eq_ignore_ascii_case("UNTIL") {
                return part.to_owned();
            }
            let value = value.trim();
            let local = if value.len() == 8 {
                chrono::NaiveDate::parse_from_str(value, "%Y%m%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(23, 59, 59))
            } else if value.len() == 15 {
                NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S").ok()
            } else {
                None
            };
            match local.and_then(|l| zone.from_local_datetime(&l).earliest()) {
                Some(t) => format!("UNTIL={}", t.with_timezone(&Utc).format("%Y%m%dT%H%M%SZ")),
                // Already UTC, or not a time at all: validation says which.
                None => part.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// Every EXDATE value (several properties, comma lists, any zone) as a local
/// time in the rule's zone; a date takes the rule's start time of day.
fn exdates(
    event: &Component,
    zones: &Zones,
    zone: Tz,
    time_of_day: NaiveTime,
) -> Result<Vec<NaiveDateTime>> {
    let mut out = Vec::new();
    for p in event.all("EXDATE") {
        for raw in p.value.split(',').filter(|v| !v.trim().is_empty()) {
            if out.len() == MAX_EXDATES {
                return Err(ics_error(p.line, "EXDATE", format!("the event has more than {MAX_EXDATES} exception dates; split the series into shorter ones")));
            }
            let when = parse_when(raw, p, zones)?;
            out.push(when.local_in(zone, time_of_day).ok_or_else(|| {
                ics_error(p.line, "EXDATE", format!("'{}' does not exist on the clock it names (the clocks go forward then); remove it", preview(raw.trim())))
            })?);
        }
    }
    Ok(out)
}

fn kind(event: &Component) -> Result<(RuleKind, bool)> {
    if let Some(p) = event.first("X-RELEASE-DESK-KIND") {
        return match unescape_text(p.value.trim()).to_ascii_lowercase().as_str() {
            "window" => Ok((RuleKind::Window, false)),
            "freeze" => Ok((RuleKind::Freeze, false)),
            other => Err(ics_error(
                p.line,
                "X-RELEASE-DESK-KIND",
                format!(
                    "'{}' is neither window nor freeze; use one of those or remove the property",
                    preview(other)
                ),
            )),
        };
    }
    let mut text = event
        .first("SUMMARY")
        .map(|p| unescape_text(&p.value))
        .unwrap_or_default();
    for p in event.all("CATEGORIES") {
        text.push(' ');
        text.push_str(&split_text_list(&p.value).join(" "));
    }
    let text = text.to_lowercase();
    let freeze = FREEZE_WORDS.iter().any(|w| text.contains(w));
    Ok((
        if freeze {
            RuleKind::Freeze
        } else {
            RuleKind::Window
        },
        true,
    ))
}

/// Our exact title if we wrote one, else the summary without our prefix.
fn title(event: &Component) -> (String, (u32, String)) {
    if let Some(p) = event.first("X-RELEASE-DESK-TITLE") {
        return (
            unescape_text(&p.value),
            (p.line, "X-RELEASE-DESK-TITLE".into()),
        );
    }
    let Some(p) = event.first("SUMMARY") else {
        return (String::new(), (event.line, "SUMMARY".into()));
    };
    let summary = unescape_text(&p.value);
    let trimmed = summary.trim_start();
    let title = ["Release window:", "Freeze:"]
        .iter()
        .find_map(|prefix| {
            trimmed
                .get(..prefix.len())
                .filter(|head| head.eq_ignore_ascii_case(prefix))
                .map(|_| trimmed[prefix.len()..].trim_start().to_owned())
        })
        .unwrap_or(summary);
    (title, (p.line, "SUMMARY".into()))
}

/// A scope list: keys separated by commas (escaped or not); none means all.
fn slugs(event: &Component, name: &str) -> Result<Vec<Slug>> {
    let mut out = Vec::new();
    for p in event.all(name) {
        for key in split_text_list(&p.value)
            .iter()
            .flat_map(|item| item.split(','))
        {
            let key = key.trim();
            if key.is_empty() {
                continue;
            }
            let slug = Slug::parse(key).map_err(|e| {
                ics_error(
                    p.line,
                    name,
                    format!("{e}; list keys separated by commas, or leave it out to mean all"),
                )
            })?;
            out.push(slug);
        }
    }
    Ok(out)
}

/// A moved or cancelled occurrence of a series (same UID, with a
/// RECURRENCE-ID) becomes an exception of that series, so it does not also
/// happen at its original time; its new time, if any, is its own rule.
fn attach_moved_occurrences(pending: &mut [Pending], moved: &[Moved]) -> Result<()> {
    let mut changed = vec![false; pending.len()];
    for m in moved.iter().filter(|m| !m.uid.is_empty()) {
        let Some((index, series)) = pending.iter_mut().enumerate().find(|(_, p)| {
            !p.is_occurrence && p.rule.uid == m.uid && p.rule.draft.recurrence.is_some()
        }) else {
            continue;
        };
        let zone = parse_zone(&series.rule.draft.zone)?;
        if let Some(local) = m.original.local_in(zone, series.rule.draft.start.time()) {
            if !series.rule.draft.exceptions.contains(&local) {
                series.rule.draft.exceptions.push(local);
                changed[index] = true;
            }
        }
    }
    for (p, _) in pending.iter_mut().zip(changed).filter(|(_, c)| *c) {
        p.rule.draft = validated(p.rule.draft.clone(), &p.blame)?;
    }
    Ok(())
}
