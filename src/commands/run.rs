//! `vane run`: compute and write one night.

use std::fmt::Write;
use std::path::Path;

use super::{Report, check_path, run_blocking};
use crate::Data;
use crate::diagnostics::Diagnostic;
use crate::run::{RunOptions, RunSummary};

/// The summary a person sees after a run.
pub fn summary_text(summary: &RunSummary, entity: &str) -> String {
    let mut out = String::new();
    for repair in &summary.repairs {
        let _ = writeln!(out, "repaired: {repair}");
    }
    let _ = writeln!(out, "scorecard written to {}", summary.partition.display());
    let bands = super::band_counts(&summary.bands);
    let plural = if summary.entities == 1 { "" } else { "s" };
    if bands.is_empty() {
        let _ = writeln!(out, "  {} {entity}{plural} scored", summary.entities);
    } else {
        let _ = writeln!(out, "  {} {entity}{plural}: {bands}", summary.entities);
    }
    let fired: Vec<String> = summary
        .actions
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(p, n)| format!("{p} {n}"))
        .collect();
    let total: usize = summary.actions.iter().map(|(_, n)| n).sum();
    if summary.actions.is_empty() {
        let _ = writeln!(out, "  no playbooks defined");
    } else if fired.is_empty() {
        let _ = writeln!(out, "  no playbooks fired");
    } else {
        let _ = writeln!(out, "  {total} actions: {}", fired.join(", "));
    }
    let orphans: Vec<String> = summary
        .orphan_rows
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(source, n)| format!("{source} {n}"))
        .collect();
    if !orphans.is_empty() {
        let _ = writeln!(
            out,
            "  rows whose key is no {entity}'s (not scored): {}",
            orphans.join(", ")
        );
    }
    let unparsed: Vec<String> = summary
        .parse_failures
        .iter()
        .filter(|p| p.failures > 0)
        .map(|p| {
            let example = p
                .example
                .as_deref()
                .map(|e| format!(", e.g. `{}`", crate::diagnostics::printable(e)))
                .unwrap_or_default();
            format!("{}.{} {}{example}", p.source, p.column, p.failures)
        })
        .collect();
    if !unparsed.is_empty() {
        let _ = writeln!(
            out,
            "  values that did not parse (read as null): {}",
            unparsed.join("; ")
        );
    }
    if let Some((night, movers)) = summary.definitions_changed_since {
        let _ = writeln!(
            out,
            "  warning: the previous night ({night}) was scored by other definitions, so `trend` mixes a definition change with changes in the data ({movers} {entity}s moved more than 10 points); `trend_definition_changed` marks it"
        );
    }
    if summary.suppressed > 0 {
        let per_playbook: Vec<String> = summary
            .held_back
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(p, n)| format!("{p} {n}"))
            .collect();
        let _ = writeln!(
            out,
            "  {} actions held back by cooldowns (in held_back): {}",
            summary.suppressed,
            per_playbook.join(", ")
        );
    }
    if let Some(remote) = &summary.remote {
        let _ = writeln!(out, "  {}", remote_line(remote));
    }
    if let Some((_, ms)) = summary.timings.iter().find(|(s, _)| s == "total") {
        let _ = writeln!(out, "  took {:.2} s", ms / 1000.0);
    }
    out
}

/// Where the facts ran: "facts on ballista://h:p: 7 jobs, 2,513 rows back".
pub fn remote_line(remote: &crate::run::remote::RemoteWork) -> String {
    format!(
        "facts on {}: {}, {} back",
        remote.scheduler,
        crate::base::display::plural(remote.jobs, "job"),
        crate::base::display::plural(remote.rows_back, "row"),
    )
}

/// `vane run PIPELINE`: compute and write one night's scorecard, actions and manifest.
pub fn run(pipeline: &Path, options: &RunOptions, progress: &dyn Fn(&str)) -> Report {
    progress("checking the pipeline");
    let (checked, mut diagnostics) = check_path(pipeline, Data::Opened);
    let Some(checked) = checked else {
        return Report::failed(diagnostics);
    };
    diagnostics.retain(Diagnostic::is_error);
    match run_blocking(crate::run_night(&checked, options, progress)) {
        Ok(summary) => Report {
            diagnostics,
            ..Report::ok(summary_text(&summary, &checked.model.entity.name))
        },
        Err(errors) => Report::failed(errors),
    }
}
