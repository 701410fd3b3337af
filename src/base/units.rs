//! Units of time. Pipeline files write durations in seconds (`30d`); the
//! engine computes instants and lengths in microseconds since the epoch.

use chrono::NaiveDate;

/// Microseconds since the epoch of midnight UTC on `date`.
pub fn midnight_micros(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_micros())
}
