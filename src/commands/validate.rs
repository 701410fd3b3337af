//! `vane validate`: load and check pipeline files, optionally against the
//! schemas of their data files.

use std::path::PathBuf;

use super::{Exit, Report, check_path};
use crate::Data;

/// `vane validate FILE...`: every problem in every file, and a one-line
/// summary per valid file.
pub fn validate(paths: &[PathBuf], data: Data) -> Report {
    let mut output = String::new();
    let mut diagnostics = Vec::new();
    for path in paths {
        let (checked, found) = check_path(path, data);
        if let Some(checked) = checked {
            let model = &checked.model;
            let warnings = found.len();
            output.push_str(&format!(
                "{}: ok — {} sources, {} metrics, {} indicators, {} playbooks{}{}\n",
                path.display(),
                model.sources.len(),
                model.metrics.len(),
                model.indicators.len(),
                model.playbooks.len(),
                if data == Data::Opened {
                    ", columns checked against the data"
                } else {
                    ""
                },
                match warnings {
                    0 => String::new(),
                    1 => ", 1 warning".to_string(),
                    n => format!(", {n} warnings"),
                }
            ));
        }
        diagnostics.extend(found);
    }
    let mut report = Report::from_diagnostics(output, diagnostics);
    if report.exit == Exit::Error {
        let errors = report.diagnostics.iter().filter(|d| d.is_error()).count();
        report.output.push_str(&format!(
            "{errors} error{} found\n",
            if errors == 1 { "" } else { "s" }
        ));
    }
    report
}
