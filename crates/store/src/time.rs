//! Conversions between `DateTime<Utc>` and the INTEGER milliseconds stored.

use chrono::{DateTime, TimeZone, Utc};

pub(crate) fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Stored values were written by [`to_ms`]; an out-of-range value can only come
/// from an edited file, and is shown as the epoch rather than failing a screen.
pub(crate) fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}
