//! `vane report`: the static HTML site of the nights already written.

use std::fmt::Write;
use std::path::Path;

use super::{Report, check_path};
use crate::Data;
use crate::report::{ReportOptions, ReportSummary, write_report};

/// The summary a person sees after a report is written.
pub fn report_text(summary: &ReportSummary, entity: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "report written to {}", summary.site.display());
    let bands = super::band_counts(&summary.bands);
    let plural = if summary.entities == 1 { "" } else { "s" };
    let _ = write!(
        out,
        "  as of {}: {} {entity}{plural}",
        summary.as_of, summary.entities
    );
    if !bands.is_empty() {
        let _ = write!(out, " ({bands})");
    }
    let _ = writeln!(
        out,
        "; {} night{} of history",
        summary.nights,
        if summary.nights == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        out,
        "  {} files: the overview ({:.1} KB), {} owner pages, one page per {entity}; open {}",
        summary.files,
        summary.overview_bytes as f64 / 1024.0,
        summary.owners,
        summary.site.join("index.html").display()
    );
    out
}

/// `vane report PIPELINE [--out DIR] [--as-of DATE] [--outputs DIR]`.
pub fn report(pipeline: &Path, options: &ReportOptions) -> Report {
    // The model alone (groups, indicators, windows, units): the nights
    // hold the numbers, so the sources are not opened.
    let (checked, diagnostics) = check_path(pipeline, Data::Unread);
    let Some(checked) = checked else {
        return Report::failed(diagnostics);
    };
    match write_report(&checked.model, pipeline, options) {
        Ok(summary) => Report::ok(report_text(&summary, &checked.model.entity.name)),
        Err(errors) => Report::failed(errors),
    }
}
