//! Every CLI command as a library function returning a [`Report`], so the
//! commands are tested without spawning the binary. Only `main.rs` prints.

mod diff;
mod docs;
mod explain;
pub mod fmt;
mod run;
mod test;
mod validate;

pub use diff::{Base, DiffFormat, DiffOptions, diff};
pub use docs::docs;
pub use explain::{explain, explain_row, model_text};
pub use fmt::fmt;
pub use run::{Stage, failed_report, parse_as_of, plan, run, sample_data, summary_text};
pub use test::test;
pub use validate::{check_file, load_and_check, validate};

use crate::diagnostics::Diagnostic;

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
    Report {
        exit: Exit::Ok,
        output: crate::syntax::json_schema::pipeline_schema_text(),
        diagnostics: Vec::new(),
    }
}
