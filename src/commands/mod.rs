//! Every CLI command as a library function returning a [`Report`], so the
//! commands are tested without spawning the binary. Only `main.rs` prints.
//!
//! Each command calls the chain in `lib.rs` ([`crate::check_file`],
//! [`crate::compute_night`], [`crate::run_night`]) and the workflows on top
//! of it, and turns what they return into a report.

mod backfill;
mod backtest;
mod changes;
mod diff;
mod docs;
mod explain;
mod fmt;
mod plan;
mod report;
mod run;
mod sample_data;
mod sql;
mod test;
mod validate;

use std::future::Future;
use std::path::Path;
use std::sync::OnceLock;

pub use backfill::{NightsDone, backfill, backfill_text};
pub use backtest::{BacktestFormat, backtest};
pub use changes::{ChangesFormat, ChangesOptions, changes};
pub use diff::{Base, DiffFormat, DiffOptions, diff};
pub use docs::docs;
pub use explain::{explain, explain_row};
pub use fmt::{fmt, formatted};
pub use plan::{Stage, model_text, plan, plan_nights};
pub use report::{report, report_text};
pub use run::{run, summary_text};
pub use sample_data::sample_data;
pub use sql::{sql, sql_dialect, table_mappings};
pub use test::test;
pub use validate::validate;

use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::load::Loaded;
use crate::{Checked, Data};

/// How a command ended; the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// 0: everything is fine.
    Ok = 0,
    /// 1: findings (warnings, files that would change, differences, failed tests).
    Findings = 1,
    /// 2: errors: the input cannot be used, or the run failed.
    Error = 2,
}

/// What a command produced: text for standard output, diagnostics for standard error.
#[derive(Debug)]
pub struct Report {
    /// The exit status.
    pub exit: Exit,
    /// Text for standard output.
    pub output: String,
    /// Problems to show on standard error.
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// A command that succeeded with `output`.
    pub fn ok(output: String) -> Report {
        Report {
            exit: Exit::Ok,
            output,
            diagnostics: Vec::new(),
        }
    }

    /// A command that failed with these errors.
    pub fn failed(diagnostics: Vec<Diagnostic>) -> Report {
        Report {
            exit: Exit::Error,
            output: String::new(),
            diagnostics,
        }
    }

    /// A command that failed with one error.
    pub fn error(diagnostic: Diagnostic) -> Report {
        Report::failed(vec![diagnostic])
    }

    /// A command whose exit status follows from its diagnostics.
    pub fn from_diagnostics(output: String, diagnostics: Vec<Diagnostic>) -> Report {
        Report {
            exit: Report::exit_for(&diagnostics),
            output,
            diagnostics,
        }
    }

    /// The exit status that diagnostics call for: 2 with errors, 1 with warnings, else 0.
    pub fn exit_for(diagnostics: &[Diagnostic]) -> Exit {
        if diagnostics.iter().any(Diagnostic::is_error) {
            Exit::Error
        } else if diagnostics.is_empty() {
            Exit::Ok
        } else {
            Exit::Findings
        }
    }
}

/// `vane schema`: the JSON Schema of the pipeline file format.
pub fn schema() -> Report {
    Report::ok(crate::syntax::json_schema::pipeline_schema_text())
}

/// Run a future to completion (commands are synchronous) on the process's
/// one multi-threaded runtime: a runtime per call would start threads of
/// its own, each with its own allocator pages (docs/benchmarks.md).
fn block_on<F: Future>(future: F) -> Result<F::Output, Diagnostic> {
    static RUNTIME: OnceLock<std::io::Result<tokio::runtime::Runtime>> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        // Plans of deep expressions are walked recursively by the engine;
        // 8 MiB per thread (as the main thread has) keeps the deepest
        // expression Vane accepts well inside the stack.
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_stack_size(8 * 1024 * 1024)
            .build()
    });
    match runtime {
        Ok(runtime) => Ok(runtime.block_on(future)),
        Err(e) => Err(Diagnostic::error(
            Code::Internal,
            format!("cannot start the async runtime: {e}"),
        )
        .help("this is a bug or a broken environment; please report it")),
    }
}

/// [`block_on`] for work that fails with diagnostics: one list of them,
/// whether the runtime or the work failed.
fn run_blocking<T>(
    future: impl Future<Output = Result<T, Vec<Diagnostic>>>,
) -> Result<T, Vec<Diagnostic>> {
    block_on(future).map_err(|d| vec![d])?
}

/// Entities per band as a summary line reads them: "41 red, 162 yellow".
fn band_counts(bands: &[(String, usize)]) -> String {
    bands
        .iter()
        .map(|(band, n)| format!("{n} {band}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// load → resolve sources → (open) → check, for a file on disk.
pub fn check_path(path: &Path, data: Data) -> (Option<Checked>, Vec<Diagnostic>) {
    check_loaded(crate::syntax::load_path(path), data)
}

/// resolve sources → (open) → check, for a file already loaded.
fn check_loaded(
    loaded: (Option<Loaded>, Vec<Diagnostic>),
    data: Data,
) -> (Option<Checked>, Vec<Diagnostic>) {
    match block_on(crate::check_file(loaded, data)) {
        Ok(checked) => checked,
        Err(d) => (None, vec![d]),
    }
}
