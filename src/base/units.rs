//! Units of time, as types. Pipeline files write durations in whole
//! seconds ([`Seconds`]: `30d`, windows, periods, cooldowns); the engine
//! computes instants and lengths in microseconds since the epoch
//! ([`Micros`]). Every conversion and every step of arithmetic is checked:
//! a value that does not fit is `None`, never a wrapped number.

use std::fmt;

use chrono::NaiveDate;

/// A length of time in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Seconds(i64);

/// An instant (microseconds since 1970-01-01T00:00:00Z) or a length of time
/// in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Micros(i64);

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

impl Seconds {
    /// No time at all.
    pub const ZERO: Seconds = Seconds(0);

    /// `count` units of `unit` seconds, when the length also fits in
    /// microseconds (so the engine can use it); `None` otherwise.
    pub fn of(count: i64, unit: i64) -> Option<Seconds> {
        let seconds = Seconds(count.checked_mul(unit)?);
        seconds.micros()?;
        Some(seconds)
    }

    /// The number of seconds.
    pub fn get(self) -> i64 {
        self.0
    }

    /// `self + other`, when it fits.
    pub fn checked_add(self, other: Seconds) -> Option<Seconds> {
        Seconds::of(self.0.checked_add(other.0)?, 1)
    }

    /// The same length in microseconds, when it fits.
    pub fn micros(self) -> Option<Micros> {
        self.0.checked_mul(MICROS_PER_SECOND).map(Micros)
    }

    /// Whole days, rounded down (the length of a window of days).
    pub fn whole_days(self) -> i64 {
        self.0.div_euclid(SECONDS_PER_DAY)
    }

    /// Days, rounded up: the nights a cooldown reaches back.
    pub fn days_rounded_up(self) -> i64 {
        self.whole_days() + i64::from(self.0.rem_euclid(SECONDS_PER_DAY) > 0)
    }

    /// As a chrono duration, for calendar arithmetic (`None` when out of its range).
    pub fn as_chrono(self) -> Option<chrono::TimeDelta> {
        chrono::TimeDelta::try_seconds(self.0)
    }
}

/// The duration as a pipeline file would write it (`30d`, `6h`, `90s`).
impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s % SECONDS_PER_DAY == 0 {
            write!(f, "{}d", s / SECONDS_PER_DAY)
        } else if s % 3_600 == 0 {
            write!(f, "{}h", s / 3_600)
        } else if s % 60 == 0 {
            write!(f, "{}min", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

impl Micros {
    /// The earliest instant.
    pub const MIN: Micros = Micros(i64::MIN);
    /// The latest instant.
    pub const MAX: Micros = Micros(i64::MAX);

    /// Midnight UTC at the start of `date`.
    pub fn midnight(date: NaiveDate) -> Micros {
        Micros(
            date.and_hms_opt(0, 0, 0)
                .map_or(0, |t| t.and_utc().timestamp_micros()),
        )
    }

    /// The instant `micros` microseconds after the epoch.
    pub fn new(micros: i64) -> Micros {
        Micros(micros)
    }

    /// The number of microseconds.
    pub fn get(self) -> i64 {
        self.0
    }

    /// The instant `length` earlier, when it fits.
    pub fn checked_sub(self, length: Micros) -> Option<Micros> {
        self.0.checked_sub(length.0).map(Micros)
    }

    /// The instant `length` seconds earlier, when it fits.
    pub fn before(self, length: Seconds) -> Option<Micros> {
        self.checked_sub(length.micros()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_that_do_not_fit_in_microseconds_are_refused() {
        assert_eq!(Seconds::of(30, 86_400), Some(Seconds(2_592_000)));
        assert_eq!(Seconds::of(110_000_000, 86_400), None);
        assert_eq!(Seconds::of(200_000_000_000, 86_400), None);
        assert_eq!(Seconds::of(i64::MAX, 1), None);
        assert_eq!(
            Seconds(i64::MAX / 2).checked_add(Seconds(i64::MAX / 2)),
            None
        );
    }

    #[test]
    fn instants_move_back_by_checked_steps() {
        let as_of = Micros::midnight(NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"));
        assert_eq!(as_of.get(), 1_793_491_200_000_000);
        let thirty_days = Seconds::of(30, 86_400).expect("fits");
        assert_eq!(
            as_of.before(thirty_days).map(Micros::get),
            Some(1_790_899_200_000_000)
        );
        assert_eq!(Micros(i64::MIN + 1).before(Seconds(1)), None);
    }

    #[test]
    fn durations_print_as_written() {
        assert_eq!(Seconds(2_592_000).to_string(), "30d");
        assert_eq!(Seconds(21_600).to_string(), "6h");
        assert_eq!(Seconds(300).to_string(), "5min");
        assert_eq!(Seconds(90).to_string(), "90s");
        assert_eq!(Seconds(129_600).days_rounded_up(), 2);
        assert_eq!(Seconds(172_800).days_rounded_up(), 2);
    }
}
