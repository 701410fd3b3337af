//! Which nights a backfill computes: the dates from `--from` to `--to`
//! stepping by `--every`, checked before anything is read or written.

use chrono::NaiveDate;

use crate::diagnostics::{Code, Diagnostic};

/// Most nights one backfill computes.
pub const MAX_NIGHTS: usize = 10_000;

/// The nights of a backfill: `from`, `from + every`, … up to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nights {
    /// The first night.
    pub from: NaiveDate,
    /// The last night asked for (the last computed when `every` divides the range).
    pub to: NaiveDate,
    /// Days between nights.
    pub every_days: u32,
    /// Whether nights already in the output folder are computed again.
    pub force: bool,
}

impl Nights {
    /// The nights, in date order; an error (V602) for a range that is
    /// empty, backwards, stepped by zero days or longer than [`MAX_NIGHTS`].
    pub fn dates(&self) -> Result<Vec<NaiveDate>, Diagnostic> {
        if self.every_days == 0 {
            return Err(
                Diagnostic::error(Code::InvalidArgument, "--every must be at least 1d")
                    .help("step by whole days or weeks, e.g. --every 1d or --every 7d"),
            );
        }
        if self.from > self.to {
            return Err(Diagnostic::error(
                Code::InvalidArgument,
                format!("--from {} is after --to {}", self.from, self.to),
            )
            .help("give the earliest night as --from and the latest as --to"));
        }
        let span = (self.to - self.from).num_days();
        let count = span / i64::from(self.every_days) + 1;
        if count > MAX_NIGHTS as i64 {
            return Err(Diagnostic::error(
                Code::InvalidArgument,
                format!(
                    "{count} nights from {} to {} every {}d; at most {MAX_NIGHTS} are computed at once",
                    self.from, self.to, self.every_days
                ),
            )
            .help("shorten the range, step by more days, or backfill in several parts"));
        }
        Ok((0..count)
            .filter_map(|i| {
                self.from
                    .checked_add_days(chrono::Days::new((i * i64::from(self.every_days)) as u64))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nights(from: &str, to: &str, every_days: u32) -> Result<Vec<NaiveDate>, Diagnostic> {
        Nights {
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
            every_days,
            force: false,
        }
        .dates()
    }

    #[test]
    fn nights_step_from_the_first_and_stop_at_the_last() {
        let dates = nights("2026-01-01", "2026-01-20", 7).unwrap();
        let text: Vec<String> = dates.iter().map(|d| d.to_string()).collect();
        assert_eq!(text, ["2026-01-01", "2026-01-08", "2026-01-15"]);
        assert_eq!(nights("2026-01-01", "2026-01-01", 1).unwrap().len(), 1);
        assert_eq!(nights("2024-01-01", "2024-12-31", 1).unwrap().len(), 366);
    }

    #[test]
    fn bad_ranges_are_refused_before_anything_runs() {
        for (from, to, every, wanted) in [
            ("2026-02-01", "2026-01-01", 1, "is after --to"),
            ("2026-01-01", "2026-02-01", 0, "at least 1d"),
            ("1990-01-01", "2026-01-01", 1, "at most 10000"),
        ] {
            let error = nights(from, to, every).unwrap_err();
            assert_eq!(error.code, Code::InvalidArgument);
            assert!(error.message.contains(wanted), "{}", error.message);
        }
    }
}
