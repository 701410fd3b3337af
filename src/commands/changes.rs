//! `vane changes PIPELINE --since DATE [--as-of DATE]`: what changed
//! between two nights already written in the pipeline's output folder, and
//! why. Reads the two partitions back; computes nothing unless the nights
//! were scored by different definitions, when the older night is re-scored
//! in memory with the current ones to split each move into definition and
//! data.

use std::path::Path;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use super::{Report, check_path, run_blocking};
use crate::diagnostics::{Code, Diagnostic};
use crate::diff::changes::{self, NightsToCompare, Rescored};
use crate::run::stored::{night_missing, no_nights};
use crate::run::{RunOptions, RunSettings, Stopwatch, StoredNight, read_night, written_nights};
use crate::{Data, compute_night};

/// How the report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangesFormat {
    /// Markdown, for a chat message or pull-request comment.
    Markdown,
    /// JSON, for tools.
    Json,
}

/// What `vane changes` compares and how it reports.
#[derive(Debug, Clone)]
pub struct ChangesOptions {
    /// The older night.
    pub since: NaiveDate,
    /// The newer night. Default: the newest night in the output folder.
    pub as_of: Option<NaiveDate>,
    /// The output folder (`out`; default the pipeline's `outputs.dir`) and
    /// the engine settings for re-scoring the older night.
    pub run: RunOptions,
    /// Output format.
    pub format: ChangesFormat,
    /// How many movers the Markdown lists (JSON lists every one).
    pub top: usize,
}

fn not_before(since: NaiveDate, as_of: NaiveDate, defaulted: bool) -> Diagnostic {
    let message = if defaulted {
        format!("--since {since} is not before the newest night written, {as_of}")
    } else {
        format!("--since {since} is not before --as-of {as_of}")
    };
    Diagnostic::error(Code::InvalidArgument, message)
        .help("--since names the older night and --as-of the newer one; give an earlier --since")
}

/// The older night scored now with the current definitions, or why not.
fn rescore(
    pipeline: &Path,
    options: &ChangesOptions,
    settings: &RunSettings,
) -> Result<Vec<RecordBatch>, String> {
    let (checked, diagnostics) = check_path(pipeline, Data::Opened);
    let first_error = |diagnostics: &[Diagnostic]| {
        diagnostics.iter().find(|d| d.is_error()).map_or_else(
            || "an unknown error".to_string(),
            |d| format!("{} {}", d.code, d.message.replace('\n', " ")),
        )
    };
    let Some(checked) = checked else {
        return Err(format!(
            "the pipeline cannot be checked against its data ({})",
            first_error(&diagnostics)
        ));
    };
    let run = RunOptions {
        as_of: Some(options.since),
        out: Some(settings.out.clone()),
        ..options.run.clone()
    };
    match run_blocking(compute_night(
        &checked,
        &run,
        &mut Stopwatch::start(),
        &|_| {},
    )) {
        Ok(night) => Ok(night.computed.scorecard),
        Err(errors) => Err(format!(
            "re-scoring {} failed ({})",
            options.since,
            first_error(&errors)
        )),
    }
}

/// `vane changes`: the report on standard output; exit 0, or 2 when the
/// pipeline has errors or a night is missing or unreadable.
pub fn changes(pipeline: &Path, options: &ChangesOptions) -> Report {
    if let Some(as_of) = options.as_of.filter(|as_of| options.since >= *as_of) {
        return Report::error(not_before(options.since, as_of, false));
    }
    let (checked, diagnostics) = check_path(pipeline, Data::Unread);
    let Some(checked) = checked else {
        return Report::failed(diagnostics);
    };
    let model = &checked.model;
    let settings = RunSettings::resolve(&options.run, model);
    let nights = written_nights(&settings.out);
    let Some(newest) = nights.last().copied() else {
        return Report::error(no_nights(&settings.out, pipeline, "--out"));
    };
    let as_of = options.as_of.unwrap_or(newest);
    for (flag, night) in [("--since", options.since), ("--as-of", as_of)] {
        if !nights.contains(&night) {
            return Report::error(night_missing(&settings.out, &nights, flag, night, pipeline));
        }
    }
    if options.since >= as_of {
        return Report::error(not_before(options.since, as_of, true));
    }
    let mut text_columns = vec![model.entity.key.clone()];
    text_columns.extend(model.entity.attributes.iter().cloned());
    let read = |night: NaiveDate| read_night(&settings.out, night, settings.format, &text_columns);
    let (since, as_of): (StoredNight, StoredNight) = match (read(options.since), read(as_of)) {
        (Ok(since), Ok(as_of)) => (since, as_of),
        (Err(d), _) | (_, Err(d)) => return Report::error(d),
    };
    let rescored = (changes::definitions_differ(&since, &as_of) == Some(true))
        .then(|| rescore(pipeline, options, &settings));
    let rescored = match &rescored {
        None => Rescored::NotNeeded,
        Some(Ok(batches)) => Rescored::Scorecard(batches),
        Some(Err(reason)) => Rescored::Failed(reason.clone()),
    };
    let report = match changes::changes(&NightsToCompare {
        model,
        out: settings.out.display().to_string(),
        since: &since,
        as_of: &as_of,
        rescored,
    }) {
        Ok(report) => report,
        Err(d) => return Report::error(d),
    };
    match options.format {
        ChangesFormat::Markdown => Report::ok(changes::markdown(&report, options.top)),
        ChangesFormat::Json => match changes::to_json(&report) {
            Ok(json) => Report::ok(json),
            Err(e) => Report::error(Diagnostic::error(
                Code::Internal,
                format!("the report cannot be written as JSON: {e}"),
            )),
        },
    }
}
