//! iCalendar value types as the importer reads them: TEXT, DATE, DATE-TIME
//! (local with a TZID, UTC or floating), DURATION, and TZIDs as time zones.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::lines::{ics_error, preview, Component, Property};
use crate::Result;

/// Dates outside these years are refused: a release calendar has no use for
/// them, and date arithmetic near chrono's limits is where overflow lives.
pub(super) const FIRST_YEAR: i32 = 1900;
pub(super) const LAST_YEAR: i32 = 2200;

/// TEXT value (RFC 5545 §3.3.11) with its escapes undone. Unknown escapes
/// are kept verbatim rather than refused: producers differ.
pub(super) fn unescape_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(e @ ('\\' | ',' | ';' | ':')) => out.push(e),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// A TEXT list: split on commas that are not escaped, each item unescaped.
pub(super) fn split_text_list(raw: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in raw.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                items.push(unescape_text(&raw[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(unescape_text(&raw[start..]));
    items
}

/// A DATE or DATE-TIME value as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum When {
    Date(NaiveDate),
    Zoned(NaiveDateTime, Tz),
    Utc(NaiveDateTime),
    Floating(NaiveDateTime),
}

impl When {
    /// The instant, reading floating times and dates in `zone`; an ambiguous
    /// local time takes the earlier instant, like [`crate::RuleDraft`].
    pub fn instant(self, zone: Tz) -> Option<DateTime<Utc>> {
        let (local, zone) = match self {
            When::Utc(t) => return Some(t.and_utc()),
            When::Zoned(t, z) => (t, z),
            When::Floating(t) => (t, zone),
            When::Date(d) => (d.and_time(NaiveTime::MIN), zone),
        };
        zone.from_local_datetime(&local)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The wall-clock time in `zone`, keeping the local time as written when
    /// it is already in that zone (or floating) so it round-trips exactly,
    /// even for a time skipped by a clock change. A date takes `time_of_day`.
    pub fn local_in(self, zone: Tz, time_of_day: NaiveTime) -> Option<NaiveDateTime> {
        match self {
            When::Date(d) => Some(d.and_time(time_of_day)),
            When::Floating(t) => Some(t),
            When::Zoned(t, z) if z == zone => Some(t),
            other => other
                .instant(zone)
                .map(|t| t.with_timezone(&zone).naive_local()),
        }
    }
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 8 || !s.is_ascii() {
        return None;
    }
    let year = i32::try_from(digits(&s[..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(&s[4..6])?, digits(&s[6..])?)
}

/// `YYYYMMDDTHHMMSS` with an optional trailing `Z`; returns whether it had one.
fn parse_date_time(s: &str) -> Option<(NaiveDateTime, bool)> {
    let (s, utc) = match s.strip_suffix(['Z', 'z']) {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    if s.len() != 15 || !s.is_ascii() || !matches!(&s[8..9], "T" | "t") {
        return None;
    }
    let date = parse_date(&s[..8])?;
    // A leap second (60) is allowed by the RFC; chrono has no such time.
    let second = digits(&s[13..])?.min(59);
    let time = NaiveTime::from_hms_opt(digits(&s[9..11])?, digits(&s[11..13])?, second)?;
    Some((date.and_time(time), utc))
}

/// Resolves TZID parameters to zones, remembering the file's VTIMEZONEs.
pub(super) struct Zones {
    /// TZID → the IANA name a VTIMEZONE gives in `X-LIC-LOCATION`.
    locations: HashMap<String, String>,
    pub default: Tz,
}

impl Zones {
    pub fn new(calendars: &[Component], default: Tz) -> Self {
        let mut locations = HashMap::new();
        for tz in calendars
            .iter()
            .flat_map(|c| &c.children)
            .filter(|c| c.name == "VTIMEZONE")
        {
            if let (Some(id), Some(location)) = (tz.first("TZID"), tz.first("X-LIC-LOCATION")) {
                locations.insert(
                    unescape_text(&id.value),
                    unescape_text(location.value.trim()),
                );
            }
        }
        Self { locations, default }
    }

    /// IANA names as they are, Thunderbird's `/mozilla.org/…/Europe/London`,
    /// Windows names through CLDR's table (territory 001, the zone Windows
    /// itself treats as the name's primary one), then a VTIMEZONE's
    /// `X-LIC-LOCATION`.
    fn resolve(&self, tzid: &str) -> Option<Tz> {
        let tzid = tzid.trim();
        if let Ok(tz) = tzid.parse::<Tz>() {
            return Some(tz);
        }
        if tzid.starts_with('/') {
            let found = tzid
                .match_indices('/')
                .find_map(|(i, _)| tzid[i + 1..].parse::<Tz>().ok());
            if found.is_some() {
                return found;
            }
        }
        localzone::win_zone_to_iana(tzid, Some("001"))
            .and_then(|name| name.parse::<Tz>().ok())
            .or_else(|| {
                self.locations
                    .get(tzid)
                    .and_then(|name| name.parse::<Tz>().ok())
            })
    }

    pub fn zone(&self, tzid: &str, property: &Property) -> Result<Tz> {
        self.resolve(tzid).ok_or_else(|| {
            ics_error(
                property.line,
                property.name.clone(),
                format!(
                    "'{}' is not a time zone Release Desk knows; use an IANA name such as Europe/London or America/New_York (Windows names such as \"GMT Standard Time\" are understood too)",
                    preview(tzid)
                ),
            )
        })
    }
}

/// One DATE or DATE-TIME value of `property`, typed by its VALUE and TZID
/// parameters.
pub(super) fn parse_when(raw: &str, property: &Property, zones: &Zones) -> Result<When> {
    let raw = raw.trim();
    let bad = |why: &str| {
        ics_error(
            property.line,
            property.name.clone(),
            format!("'{}' {why}", preview(raw)),
        )
    };
    let is_date = property
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE"))
        || raw.len() == 8;
    let when = if is_date {
        When::Date(
            parse_date(raw)
                .ok_or_else(|| bad("is not a date; write it as YYYYMMDD, e.g. 20261224"))?,
        )
    } else {
        let (t, utc) = parse_date_time(raw).ok_or_else(|| {
            bad("is not a date-time; write it as YYYYMMDDTHHMMSS, e.g. 20261224T090000, with a Z for UTC")
        })?;
        match (utc, property.param("TZID")) {
            (true, _) => When::Utc(t),
            (false, Some(tzid)) => When::Zoned(t, zones.zone(tzid, property)?),
            (false, None) => When::Floating(t),
        }
    };
    let year = match when {
        When::Date(d) => d.year(),
        When::Zoned(t, _) | When::Utc(t) | When::Floating(t) => t.year(),
    };
    if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
        return Err(bad(&format!(
            "is outside the years {FIRST_YEAR}–{LAST_YEAR} a release calendar covers; check the year"
        )));
    }
    Ok(when)
}

/// An RFC 5545 DURATION (`PT2H30M`, `P1D`, `P1W`, `-PT15M`) in seconds.
pub(super) fn parse_duration(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let (sign, rest) = match raw.as_bytes().first()? {
        b'-' => (-1, &raw[1..]),
        b'+' => (1, &raw[1..]),
        _ => (1, raw),
    };
    let rest = rest.strip_prefix(['P', 'p'])?;
    let mut seconds: i64 = 0;
    let mut number = String::new();
    let mut in_time = false;
    let mut any = false;
    let mut any_time = false;
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            d @ '0'..='9' => {
                if number.len() >= 9 {
                    return None;
                }
                number.push(d);
            }
            'T' if !in_time && number.is_empty() => in_time = true,
            unit => {
                let n: i64 = number.parse().ok()?;
                number.clear();
                let scale = match (unit, in_time) {
                    ('W', false) => 7 * 86_400,
                    ('D', false) => 86_400,
                    ('H', true) => 3_600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return None,
                };
                seconds = seconds.checked_add(n.checked_mul(scale)?)?;
                any = true;
                any_time |= in_time;
            }
        }
    }
    (any && number.is_empty() && any_time == in_time).then_some(sign * seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_round_trip_and_lists_split_on_bare_commas() {
        assert_eq!(unescape_text(r"a\,b\;c\\d\ne\:f\x"), "a,b;c\\d\ne:f\\x");
        assert_eq!(split_text_list(r"prod\,staging"), ["prod,staging"]);
        assert_eq!(split_text_list(r"a,b\,c,\\"), ["a", "b,c", "\\"]);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT2H30M"), Some(9_000));
        assert_eq!(parse_duration("P1D"), Some(86_400));
        assert_eq!(parse_duration("P1W"), Some(604_800));
        assert_eq!(parse_duration("P1DT1S"), Some(86_401));
        assert_eq!(parse_duration("-PT15M"), Some(-900));
        for bad in [
            "",
            "P",
            "PT",
            "P1H",
            "PT1D",
            "P1",
            "P9999999999D",
            "1D",
            "P1DT",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn date_times() {
        let (t, utc) = parse_date_time("20260329T010000Z").unwrap();
        assert!(utc);
        assert_eq!(t.to_string(), "2026-03-29 01:00:00");
        assert_eq!(parse_date_time("20260229T010000"), None);
        assert_eq!(parse_date_time("2026-03-29T01:00"), None);
        assert_eq!(parse_date_time("２０２６0329T010000"), None);
        assert_eq!(parse_date("20261224").unwrap().to_string(), "2026-12-24");
    }

    #[test]
    fn windows_and_thunderbird_zone_names() {
        let zones = Zones::new(&[], chrono_tz::UTC);
        assert_eq!(
            zones.resolve("GMT Standard Time"),
            Some(chrono_tz::Europe::London)
        );
        assert_eq!(
            zones.resolve("Eastern Standard Time"),
            Some(chrono_tz::America::New_York)
        );
        assert_eq!(
            zones.resolve("/mozilla.org/20070129_1/Europe/Paris"),
            Some(chrono_tz::Europe::Paris)
        );
        assert_eq!(zones.resolve("Customized Time Zone"), None);
    }
}
