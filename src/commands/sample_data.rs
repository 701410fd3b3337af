//! `vane sample-data`: a deterministic synthetic book of business.

use std::fmt::Write;

use super::Report;
use crate::sample::{SampleOptions, generate};

/// `vane sample-data`: write a synthetic book of business.
pub fn sample_data(options: &SampleOptions, progress: &dyn Fn(&str)) -> Report {
    match generate(options, progress) {
        Ok(summary) => {
            let mut output = format!("sample data written to {}\n", options.out.display());
            for (table, rows) in &summary.tables {
                let _ = writeln!(output, "  {table}: {rows} rows");
            }
            let _ = writeln!(
                output,
                "  data ends {} (exclusive): run with --as-of {}",
                options.end, options.end
            );
            Report::ok(output)
        }
        Err(d) => Report::error(d),
    }
}
