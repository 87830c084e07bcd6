//! Reads iCalendar text into a tree of components, keeping the physical line
//! of every property, and refuses files that are too big or malformed.
//!
//! Hand-written rather than the `icalendar` parser because an import error
//! must name its line (that parser reports no positions, and unfolding loses
//! them) and because hostile files must be stopped by explicit limits before
//! anything is built from them.

use super::MAX_ICS_BYTES;
use crate::{CalendarError, Result};

/// Most `BEGIN:` lines in one file.
pub(super) const MAX_COMPONENTS: usize = 2_000;
/// Longest content line once unfolded.
pub(super) const MAX_LINE_BYTES: usize = 8 * 1024;
/// VCALENDAR › VEVENT › VALARM is three; VTIMEZONE observances are three too.
pub(super) const MAX_DEPTH: usize = 4;

pub(super) fn ics_error(
    line: u32,
    field: impl Into<String>,
    reason: impl Into<String>,
) -> CalendarError {
    CalendarError::Ics {
        line,
        field: field.into(),
        reason: reason.into(),
    }
}

/// Enough of a value to recognise it in a message, never a whole hostile line.
pub(super) fn preview(text: &str) -> String {
    let mut out: String = text.chars().take(60).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Param {
    /// Upper-cased.
    pub name: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Property {
    /// Upper-cased.
    pub name: String,
    pub params: Vec<Param>,
    /// Raw value: TEXT escapes are still in place.
    pub value: String,
    pub line: u32,
}

impl Property {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.values.first())
            .map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Component {
    /// Upper-cased, e.g. `VEVENT`.
    pub name: String,
    /// Line of its `BEGIN:`.
    pub line: u32,
    pub properties: Vec<Property>,
    pub children: Vec<Component>,
}

impl Component {
    pub fn first(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Property> + 'a {
        self.properties.iter().filter(move |p| p.name == name)
    }
}

/// The 1-based line that byte `offset` of `text` is on.
fn line_at(text: &str, offset: usize) -> u32 {
    let newlines = text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    u32::try_from(newlines + 1).unwrap_or(u32::MAX)
}

/// Every VCALENDAR in `text`, with its components.
pub(super) fn read(text: &str) -> Result<Vec<Component>> {
    if text.len() > MAX_ICS_BYTES {
        return Err(ics_error(
            line_at(text, MAX_ICS_BYTES),
            "file",
            format!(
                "the file is {} bytes and passes the limit of {MAX_ICS_BYTES} bytes (1 MiB) on this line; export a shorter date range or split the calendar",
                text.len()
            ),
        ));
    }
    if let Some(at) = text.find('\0') {
        return Err(ics_error(
            line_at(text, at),
            "file",
            "contains a NUL byte, so it is not a text iCalendar file; export the calendar again as .ics",
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut tree = TreeBuilder::default();
    unfold(text, |line, content| {
        tree.add(parse_content_line(content, line)?)
    })?;
    tree.finish()
}

/// Hands each logical line, with the physical line it starts on, to `each`
/// as soon as it is complete, so the first error in the file is the one
/// reported. A line that starts with a space or tab continues the one before
/// it (RFC 5545 §3.1); CRLF and bare LF endings are both accepted.
fn unfold(text: &str, mut each: impl FnMut(u32, &str) -> Result<()>) -> Result<()> {
    let mut current: Option<(u32, String)> = None;
    for (index, physical) in text.split('\n').enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let physical = physical.strip_suffix('\r').unwrap_or(physical);
        if let Some(rest) = physical
            .strip_prefix(' ')
            .or_else(|| physical.strip_prefix('\t'))
        {
            let Some((start, line)) = current.as_mut() else {
                return Err(ics_error(
                    number,
                    "content line",
                    "starts with a space, which continues the line before it, but there is none; remove the leading space",
                ));
            };
            if line.len() + rest.len() > MAX_LINE_BYTES {
                return Err(too_long(*start));
            }
            line.push_str(rest);
            continue;
        }
        if let Some((start, line)) = current.take() {
            each(start, &line)?;
        }
        // Blank lines are not allowed by the RFC but common at the end of files.
        if !physical.is_empty() {
            if physical.len() > MAX_LINE_BYTES {
                return Err(too_long(number));
            }
            current = Some((number, physical.to_owned()));
        }
    }
    match current {
        Some((start, line)) => each(start, &line),
        None => Ok(()),
    }
}

fn too_long(line: u32) -> CalendarError {
    ics_error(
        line,
        "content line",
        format!("is longer than {MAX_LINE_BYTES} bytes once unfolded; shorten the value (a description, say) and export again"),
    )
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// `NAME;PARAM=value,"quoted":value` → a property. Delimiters are ASCII, so
/// byte positions found here are always character boundaries.
fn parse_content_line(content: &str, line: u32) -> Result<Property> {
    let bytes = content.as_bytes();
    let malformed = |why: &str| {
        ics_error(
            line,
            "content line",
            format!(
                "'{}' {why}; every line must look like NAME:value or NAME;PARAM=value:value (a long value continues on lines that start with a space)",
                preview(content)
            ),
        )
    };
    let name_end = bytes
        .iter()
        .position(|&b| !is_name_byte(b))
        .unwrap_or(bytes.len());
    if name_end == 0 {
        return Err(malformed("does not start with a property name"));
    }
    let name = content[..name_end].to_ascii_uppercase();
    let mut params = Vec::new();
    let mut at = name_end;
    loop {
        match bytes.get(at) {
            Some(b':') => break,
            Some(b';') => {
                let (param, next) = parse_param(content, at + 1).map_err(&malformed)?;
                params.push(param);
                at = next;
            }
            None => return Err(malformed("has no ':' between the name and the value")),
            Some(_) => {
                return Err(malformed(
                    "has a character that cannot be in a property name before its ':'",
                ))
            }
        }
    }
    Ok(Property {
        name,
        params,
        value: content[at + 1..].to_owned(),
        line,
    })
}

/// One parameter starting at `start` (after its `;`); returns it and the
/// position of the `;` or `:` that ends it.
fn parse_param(content: &str, start: usize) -> std::result::Result<(Param, usize), &'static str> {
    let bytes = content.as_bytes();
    let name_end = start
        + bytes[start..]
            .iter()
            .position(|&b| !is_name_byte(b))
            .unwrap_or(bytes.len() - start);
    if name_end == start || bytes.get(name_end) != Some(&b'=') {
        return Err("has a parameter that is not NAME=value");
    }
    let name = content[start..name_end].to_ascii_uppercase();
    let mut values = Vec::new();
    let mut at = name_end + 1;
    loop {
        let (value, next) = if bytes.get(at) == Some(&b'"') {
            let close = bytes[at + 1..]
                .iter()
                .position(|&b| b == b'"')
                .ok_or("has a parameter value with an opening '\"' but no closing one")?;
            (&content[at + 1..at + 1 + close], at + close + 2)
        } else {
            let end = at
                + bytes[at..]
                    .iter()
                    .position(|&b| matches!(b, b';' | b':' | b',' | b'"'))
                    .unwrap_or(bytes.len() - at);
            if bytes.get(end) == Some(&b'"') {
                return Err("has a '\"' in the middle of a parameter value");
            }
            (&content[at..end], end)
        };
        values.push(decode_caret(value));
        match bytes.get(next) {
            Some(b',') => at = next + 1,
            Some(b';' | b':') => return Ok((Param { name, values }, next)),
            _ => return Err("has a parameter with nothing after it"),
        }
    }
}

/// RFC 6868: `^n` newline, `^'` double quote, `^^` caret in parameter values.
fn decode_caret(value: &str) -> String {
    if !value.contains('^') {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('^', Some('n')) => {
                out.push('\n');
                chars.next();
            }
            ('^', Some('\'')) => {
                out.push('"');
                chars.next();
            }
            ('^', Some('^')) => {
                out.push('^');
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// Nests properties into components as BEGIN/END lines arrive, counting
/// components and depth as it goes.
#[derive(Default)]
struct TreeBuilder {
    open: Vec<Component>,
    calendars: Vec<Component>,
    count: usize,
    last_line: u32,
}

impl TreeBuilder {
    fn add(&mut self, property: Property) -> Result<()> {
        let line = property.line;
        self.last_line = line;
        match property.name.as_str() {
            "BEGIN" => {
                let name = component_name(&property)?;
                self.count += 1;
                if self.count > MAX_COMPONENTS {
                    return Err(ics_error(
                        line,
                        "BEGIN",
                        format!("the file has more than {MAX_COMPONENTS} components; export a shorter date range or split the calendar"),
                    ));
                }
                if self.open.len() >= MAX_DEPTH {
                    return Err(ics_error(
                        line,
                        "BEGIN",
                        format!("components are nested more than {MAX_DEPTH} deep; check that every BEGIN has its END"),
                    ));
                }
                if self.open.is_empty() && name != "VCALENDAR" {
                    return Err(ics_error(
                        line,
                        "BEGIN",
                        format!("BEGIN:{} outside a calendar; the file must start with BEGIN:VCALENDAR", preview(&name)),
                    ));
                }
                self.open.push(Component {
                    name,
                    line,
                    properties: Vec::new(),
                    children: Vec::new(),
                });
            }
            "END" => {
                let name = component_name(&property)?;
                let Some(component) = self.open.pop() else {
                    return Err(ics_error(
                        line,
                        "END",
                        format!("END:{} has no BEGIN before it; remove it or add the missing BEGIN", preview(&name)),
                    ));
                };
                if component.name != name {
                    return Err(ics_error(
                        line,
                        "END",
                        format!(
                            "END:{} closes BEGIN:{} from line {}; add END:{} before it",
                            preview(&name),
                            component.name,
                            component.line,
                            component.name
                        ),
                    ));
                }
                match self.open.last_mut() {
                    Some(parent) => parent.children.push(component),
                    None => self.calendars.push(component),
                }
            }
            _ => match self.open.last_mut() {
                Some(component) => component.properties.push(property),
                None => {
                    return Err(ics_error(
                        line,
                        property.name.clone(),
                        "is outside BEGIN:VCALENDAR … END:VCALENDAR; this is not an iCalendar file, or its first line is missing",
                    ))
                }
            },
        }
        Ok(())
    }

    fn finish(self) -> Result<Vec<Component>> {
        if let Some(unclosed) = self.open.last() {
            return Err(ics_error(
                unclosed.line,
                "BEGIN",
                format!(
                    "BEGIN:{} is never closed (the file ends on line {}); add END:{} — the file may have been cut short",
                    unclosed.name,
                    self.last_line.max(unclosed.line),
                    unclosed.name
                ),
            ));
        }
        if self.calendars.is_empty() {
            return Err(ics_error(
                1,
                "file",
                "has no BEGIN:VCALENDAR, so it is not an iCalendar (.ics) file; export the calendar again as iCalendar",
            ));
        }
        Ok(self.calendars)
    }
}

fn component_name(property: &Property) -> Result<String> {
    let name = property.value.trim();
    if name.is_empty() || !name.bytes().all(is_name_byte) {
        return Err(ics_error(
            property.line,
            property.name.clone(),
            format!("'{}' is not a component name such as VEVENT", preview(name)),
        ));
    }
    Ok(name.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_err(text: &str) -> (u32, String) {
        match read(text) {
            Err(CalendarError::Ics { line, field, .. }) => (line, field),
            other => panic!("expected an ICS error, got {other:?}"),
        }
    }

    #[test]
    fn unfolds_and_keeps_the_first_physical_line() {
        let text =
            "BEGIN:VCALENDAR\r\nX-A;P=\"a:b;c\",d:one\r\n  two\r\n\tthree\r\nEND:VCALENDAR\r\n";
        let cal = read(text).unwrap().remove(0);
        let p = &cal.properties[0];
        assert_eq!(p.line, 2);
        assert_eq!(p.value, "one twothree");
        assert_eq!(p.params[0].values, ["a:b;c", "d"]);
    }

    #[test]
    fn caret_encoding_is_decoded() {
        assert_eq!(decode_caret("a^nb^'c^^d^x"), "a\nb\"c^d^x");
    }

    #[test]
    fn structural_errors_name_their_line() {
        assert_eq!(
            line_err("BEGIN:VCALENDAR\nNOCOLON\nEND:VCALENDAR"),
            (2, "content line".into())
        );
        assert_eq!(line_err(" x\nBEGIN:VCALENDAR"), (1, "content line".into()));
        assert_eq!(line_err("BEGIN:VEVENT\nEND:VEVENT"), (1, "BEGIN".into()));
        assert_eq!(
            line_err("BEGIN:VCALENDAR\nBEGIN:VEVENT\nEND:VCALENDAR"),
            (3, "END".into())
        );
        assert_eq!(
            line_err("BEGIN:VCALENDAR\n\nBEGIN:VEVENT\n"),
            (3, "BEGIN".into())
        );
        assert_eq!(line_err("X:1\n"), (1, "X".into()));
        assert_eq!(line_err(""), (1, "file".into()));
        assert_eq!(
            line_err("BEGIN:VCALENDAR\nX;A=\"b:c\n"),
            (2, "content line".into())
        );
        assert_eq!(
            line_err("BEGIN:VCALENDAR\nX;A:c\n"),
            (2, "content line".into())
        );
        assert_eq!(line_err("a\n\nb\0"), (3, "file".into()));
    }
}
