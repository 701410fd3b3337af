//! `vane backfill`: many nights in date order, with a progress bar on a
//! terminal (plain lines otherwise) and a summary of every night.

use std::fmt::Write;
use std::path::Path;

use super::{Report, check_path, run_blocking};
use crate::diagnostics::Diagnostic;
use crate::run::{Nights, RunOptions, RunSummary};
use crate::{Data, NightDone};

/// One night's band counts, or "scored" when the pipeline has no health.
fn bands_text(summary: &RunSummary, entity: &str) -> String {
    if summary.bands.is_empty() {
        return format!("{} {entity}s scored", summary.entities);
    }
    summary
        .bands
        .iter()
        .map(|(band, n)| format!("{n} {band}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The line a night gets, in the plain log and the summary.
fn night_line(night: &NightDone, entity: &str) -> String {
    match night {
        NightDone::Written(date, summary) => {
            let actions: usize = summary.actions.iter().map(|(_, n)| n).sum();
            format!(
                "{date}: written — {}; {actions} actions; {} source rows read",
                bands_text(summary, entity),
                summary.rows_read
            )
        }
        NightDone::Kept(date) => format!("{date}: kept (already written; --force recomputes it)"),
    }
}

/// The summary a person sees after a backfill.
pub fn backfill_text(summary: &crate::BackfillSummary, entity: &str) -> String {
    let mut out = String::new();
    for repair in &summary.repairs {
        let _ = writeln!(out, "repaired: {repair}");
    }
    let written = summary
        .nights
        .iter()
        .filter(|n| matches!(n, NightDone::Written(..)))
        .count();
    let kept = summary.nights.len() - written;
    let _ = writeln!(
        out,
        "{} nights: {written} written, {kept} kept",
        summary.nights.len()
    );
    if let Some(pass) = &summary.shared {
        let _ = writeln!(
            out,
            "one pass for {} nights: {} sides shared ({}; {} groups) in {:.2} s ({:.2} s aggregating, {:.2} s preparing the groups to be cut into nights)",
            pass.nights,
            pass.sides.len(),
            pass.sides.join(", "),
            pass.groups,
            pass.seconds,
            pass.aggregating_and_cutting.0,
            pass.aggregating_and_cutting.1
        );
        for (side, why) in &pass.per_night {
            let _ = writeln!(out, "  side `{side}` computed night by night: {why}");
        }
        if !pass.held.is_empty() {
            let _ = writeln!(
                out,
                "  read once and held in memory for the nights' own queries: {}",
                pass.held.join(", ")
            );
        }
    }
    let remote = summary
        .nights
        .iter()
        .filter_map(|night| match night {
            NightDone::Written(_, written) => written.remote.clone(),
            NightDone::Kept(_) => None,
        })
        .chain(summary.shared.as_ref().and_then(|pass| pass.remote.clone()))
        .reduce(|all, more| all.plus(&more));
    if let Some(remote) = remote {
        let _ = writeln!(out, "{}", super::run::remote_line(&remote));
    }
    for night in &summary.nights {
        let _ = writeln!(out, "  {}", night_line(night, entity));
    }
    out
}

/// How far a backfill is, for a progress display.
#[derive(Debug, Clone, Copy)]
pub struct NightsDone {
    /// Nights finished (written or kept).
    pub done: usize,
    /// Nights in the range.
    pub total: usize,
    /// Source rows (events) the nights written so far read.
    pub rows_read: u64,
}

/// `vane backfill PIPELINE --from --to`: compute and write every night.
/// `on_night` hears after each night how far the backfill is and that
/// night's line (`2026-10-04: written — 22 red, …`).
pub fn backfill(
    pipeline: &Path,
    options: &RunOptions,
    nights: &Nights,
    on_night: &mut dyn FnMut(NightsDone, &str),
) -> Report {
    let dates = match nights.dates() {
        Ok(dates) => dates,
        Err(d) => return Report::error(d),
    };
    let (checked, mut diagnostics) = check_path(pipeline, Data::Opened);
    let Some(checked) = checked else {
        return Report::failed(diagnostics);
    };
    diagnostics.retain(Diagnostic::is_error);
    let entity = checked.model.entity.name.clone();
    let mut finished = 0;
    let mut rows_read = 0;
    let mut each_night = |night: &NightDone| {
        finished += 1;
        if let NightDone::Written(_, summary) = night {
            rows_read += summary.rows_read;
        }
        let done = NightsDone {
            done: finished,
            total: dates.len(),
            rows_read,
        };
        on_night(done, &night_line(night, &entity));
    };
    let result = run_blocking(crate::backfill(
        &checked,
        options,
        nights,
        &mut each_night,
        &|_| {},
    ));
    match result {
        Ok(summary) => Report {
            diagnostics,
            ..Report::ok(backfill_text(&summary, &entity))
        },
        Err(errors) => {
            let failed_at = dates.get(finished).copied();
            let mut report = Report::failed(errors);
            if let Some(date) = failed_at {
                report.output = format!(
                    "backfill stopped at night {date}; the {finished} nights before it are whole: run it again to resume\n"
                );
            }
            report
        }
    }
}
