//! `vane backtest`: score past nights in memory and measure how well
//! health, its indicators, metrics and playbooks predicted an outcome.

use std::path::{Path, PathBuf};

use super::{Report, check_path, run_blocking};
use crate::diagnostics::{Code, Diagnostic};
use crate::run::RunOptions;
use crate::{BacktestRequest, Data};

/// How the report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BacktestFormat {
    /// Markdown, for people and PR comments.
    Markdown,
    /// JSON, for tools.
    Json,
}

/// `vane backtest PIPELINE --from --to --every --outcome`: the report, on
/// standard output or into `out`.
pub fn backtest(
    pipeline: &Path,
    options: &RunOptions,
    request: &BacktestRequest,
    format: BacktestFormat,
    out: Option<&PathBuf>,
) -> Report {
    if let Err(d) = request.nights.dates() {
        return Report::error(d);
    }
    let (checked, mut diagnostics) = check_path(pipeline, Data::Opened);
    let Some(checked) = checked else {
        return Report::failed(diagnostics);
    };
    diagnostics.retain(Diagnostic::is_error);
    let report = match run_blocking(crate::backtest(&checked, options, request, &|_| {})) {
        Ok(report) => report,
        Err(errors) => return Report::failed(errors),
    };
    let text = match format {
        BacktestFormat::Markdown => crate::backtest::render::markdown(&report),
        BacktestFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(json) => json + "\n",
            Err(e) => {
                return Report::error(Diagnostic::error(
                    Code::Internal,
                    format!("the report cannot be written as JSON: {e}"),
                ));
            }
        },
    };
    let output = match out {
        Some(path) => match crate::run::outputs::write_synced(path, text.as_bytes()) {
            Ok(()) => format!("backtest report written to {}\n", path.display()),
            Err(e) => {
                return Report::error(
                    Diagnostic::error(
                        Code::OutputFailed,
                        format!("cannot write {}: {e}", path.display()),
                    )
                    .help("check that the folder exists and is writable"),
                );
            }
        },
        None => text,
    };
    Report {
        diagnostics,
        ..Report::ok(output)
    }
}
