//! VTIMEZONE components for the zones an export uses.
//!
//! Hand-written because nothing else provides them: chrono-tz does not expose
//! its table of transitions, and the `icalendar` crate does not generate
//! VTIMEZONE. So the transitions are found here by scanning the zone's UTC
//! offset day by day over the years the rules span and binary-searching each
//! change to the second. Runs of yearly transitions on the same rule ("the
//! last Sunday of March at 01:00") become one observance with a YEARLY RRULE,
//! as Google and Outlook write them; the latest run is left open-ended, so
//! clients also get dates after the scanned years right.

use std::fmt::Write;

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
    Weekday,
};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
use icalendar::Property;

/// The years chrono-tz describes reliably, and the most we scan for one export.
const FIRST_YEAR: i32 = 1900;
const LAST_YEAR: i32 = 2099;
const MAX_YEARS: i32 = 60;

/// The years to describe: a year before the earliest rule starts, to two
/// years after the latest start or `now`, whichever is later.
pub(super) fn year_span(start_years: impl Iterator<Item = i32>, now_year: i32) -> (i32, i32) {
    let (mut first, mut last) = (now_year, now_year);
    for y in start_years {
        first = first.min(y);
        last = last.max(y);
    }
    let last = (last + 2).clamp(FIRST_YEAR, LAST_YEAR);
    let first = (first - 1).clamp(FIRST_YEAR, last).max(last - MAX_YEARS);
    (first, last)
}

/// What the zone's clocks show at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    /// Seconds east of UTC.
    offset: i32,
    daylight: bool,
    name: String,
}

fn state(tz: Tz, at: DateTime<Utc>) -> State {
    let o = tz.offset_from_utc_datetime(&at.naive_utc());
    State {
        offset: o.fix().local_minus_utc(),
        // Europe/Dublin's winter has negative DST in tzdb; that is not DAYLIGHT.
        daylight: o.dst_offset() > Duration::zero(),
        name: o.abbreviation().unwrap_or_default().to_owned(),
    }
}

#[derive(Debug, Clone)]
struct Transition {
    at: DateTime<Utc>,
    from: State,
    to: State,
}

impl Transition {
    /// The wall-clock time the change happens at, on the clock before it
    /// (what an observance's DTSTART means).
    fn local(&self) -> NaiveDateTime {
        self.at.naive_utc() + Duration::seconds(i64::from(self.from.offset))
    }
}

fn utc_new_year(year: i32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(year, 1, 1)
        .unwrap_or(NaiveDate::MIN)
        .and_time(NaiveTime::MIN)
        .and_utc()
}

fn utc_at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

fn transitions(tz: Tz, first_year: i32, last_year: i32) -> Vec<Transition> {
    let end = utc_new_year(last_year + 1);
    let mut at = utc_new_year(first_year);
    let mut current = state(tz, at);
    let mut found = Vec::new();
    while at < end {
        let next = (at + Duration::days(1)).min(end);
        if state(tz, next) == current {
            at = next;
            continue;
        }
        // `lo` shows the old state, `hi` a new one: narrow to the second.
        let (mut lo, mut hi) = (at.timestamp(), next.timestamp());
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if state(tz, utc_at(mid)) == current {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let hi = utc_at(hi);
        let to = state(tz, hi);
        found.push(Transition {
            at: hi,
            from: current,
            to: to.clone(),
        });
        current = to;
        at = hi;
    }
    found
}

/// Which yearly rule a transition's local date fits: the `nth` weekday of
/// its month, and/or the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pattern {
    month: u32,
    weekday: Weekday,
    time: NaiveTime,
    nth: Option<u32>,
    last: bool,
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.and_then(|d| d.pred_opt()).map_or(31, |d| d.day())
}

impl Pattern {
    fn of(local: NaiveDateTime) -> Self {
        let day = local.day();
        Self {
            month: local.month(),
            weekday: local.weekday(),
            time: local.time(),
            nth: Some((day - 1) / 7 + 1).filter(|n| *n <= 4),
            last: day + 7 > days_in_month(local.year(), local.month()),
        }
    }

    /// The pattern both fit, if any.
    fn join(self, other: Self) -> Option<Self> {
        if (self.month, self.weekday, self.time) != (other.month, other.weekday, other.time) {
            return None;
        }
        let nth = self.nth.filter(|n| other.nth == Some(*n));
        let last = self.last && other.last;
        (nth.is_some() || last).then_some(Self { nth, last, ..self })
    }

    fn by_day(self) -> String {
        let day = match self.weekday {
            Weekday::Mon => "MO",
            Weekday::Tue => "TU",
            Weekday::Wed => "WE",
            Weekday::Thu => "TH",
            Weekday::Fri => "FR",
            Weekday::Sat => "SA",
            Weekday::Sun => "SU",
        };
        match (self.last, self.nth) {
            (true, _) | (false, None) => format!("-1{day}"),
            (false, Some(n)) => format!("{n}{day}"),
        }
    }
}

/// Consecutive yearly transitions between the same two clocks on one rule.
struct Run {
    first: Transition,
    last: Transition,
    pattern: Pattern,
    count: u32,
}

fn runs(transitions: Vec<Transition>) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for t in transitions {
        let pattern = Pattern::of(t.local());
        let extends = runs
            .iter_mut()
            .rev()
            .find(|r| r.last.from == t.from && r.last.to == t.to)
            .filter(|r| r.last.local().year() + 1 == t.local().year())
            .and_then(|r| Some((r.pattern.join(pattern)?, r)));
        match extends {
            Some((joined, run)) => {
                run.pattern = joined;
                run.last = t;
                run.count += 1;
            }
            None => runs.push(Run {
                first: t.clone(),
                last: t,
                pattern,
                count: 1,
            }),
        }
    }
    runs
}

fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    if sec == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{sec:02}")
    }
}

/// One property as the `icalendar` crate writes it: escaped, folded, CRLF.
fn property(out: &mut String, name: &str, value: &str) {
    // Writing to a String cannot fail.
    let line: String = Property::new(name, value).try_into().unwrap_or_default();
    out.push_str(&line);
}

fn observance(
    out: &mut String,
    daylight: bool,
    local: NaiveDateTime,
    from: i32,
    to: &State,
    rrule: Option<String>,
) {
    let kind = if daylight { "DAYLIGHT" } else { "STANDARD" };
    let _ = write!(out, "BEGIN:{kind}\r\n");
    property(out, "DTSTART", &local.format("%Y%m%dT%H%M%S").to_string());
    property(out, "TZOFFSETFROM", &offset_text(from));
    property(out, "TZOFFSETTO", &offset_text(to.offset));
    if let Some(rrule) = rrule {
        property(out, "RRULE", &rrule);
    }
    if !to.name.is_empty() {
        property(out, "TZNAME", &to.name);
    }
    let _ = write!(out, "END:{kind}\r\n");
}

/// The VTIMEZONE for `tz` over `[first_year, last_year]`, CRLF-terminated.
pub(super) fn vtimezone(tz: Tz, (first_year, last_year): (i32, i32)) -> String {
    let mut out = String::from("BEGIN:VTIMEZONE\r\n");
    property(&mut out, "TZID", tz.name());
    // Lets Thunderbird and others map the zone by name rather than by rules.
    property(&mut out, "X-LIC-LOCATION", tz.name());
    let found = transitions(tz, first_year, last_year);
    if found.is_empty() {
        let s = state(tz, utc_new_year(first_year));
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)
            .unwrap_or(NaiveDate::MIN)
            .and_time(NaiveTime::MIN);
        observance(&mut out, false, epoch, s.offset, &s, None);
    }
    for run in runs(found) {
        let rrule = (run.count > 1).then(|| {
            let p = run.pattern;
            let mut rule = format!("FREQ=YEARLY;BYMONTH={};BYDAY={}", p.month, p.by_day());
            // The latest run goes on past the scanned years; earlier ones end.
            if run.last.local().year() < last_year {
                let _ = write!(rule, ";UNTIL={}", run.last.at.format("%Y%m%dT%H%M%SZ"));
            }
            rule
        });
        let t = &run.first;
        observance(
            &mut out,
            t.to.daylight,
            t.local(),
            t.from.offset,
            &t.to,
            rrule,
        );
    }
    out.push_str("END:VTIMEZONE\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_clamped() {
        assert_eq!(year_span([2026, 2028].into_iter(), 2026), (2025, 2030));
        assert_eq!(year_span([1850].into_iter(), 2026), (1968, 2028));
        assert_eq!(year_span([2500].into_iter(), 2026), (2039, 2099));
    }

    #[test]
    fn offsets_are_formatted_with_seconds_only_when_needed() {
        assert_eq!(offset_text(19_800), "+0530");
        assert_eq!(offset_text(-18_000), "-0500");
        assert_eq!(offset_text(-75), "-000115");
    }

    #[test]
    fn london_transitions_are_found_to_the_second() {
        let found = transitions(chrono_tz::Europe::London, 2026, 2026);
        let at: Vec<String> = found.iter().map(|t| t.at.to_rfc3339()).collect();
        assert_eq!(
            at,
            ["2026-03-29T01:00:00+00:00", "2026-10-25T01:00:00+00:00"]
        );
    }

    #[test]
    fn us_second_sunday_is_an_nth_rule() {
        let text = vtimezone(chrono_tz::America::New_York, (2025, 2030));
        assert!(
            text.contains("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\n"),
            "{text}"
        );
        assert!(
            text.contains("RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\n"),
            "{text}"
        );
    }
}
