//! `vane test`: run the metric tests declared in pipeline files, plus the
//! built-in checks.

use std::path::PathBuf;

use super::{Exit, Report, block_on, check_path};
use crate::Data;
use crate::diagnostics::{Code, Diagnostic};
use crate::test::{builtin_checks, report, run_tests};

/// The pipelines to test when none are named: `pipelines/*.yaml`.
pub fn default_pipelines() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("pipelines")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

/// `vane test [PIPELINE...]`: exit 0 when every test passes and the built-in
/// checks find nothing, 1 on failures or findings, 2 when a pipeline is invalid.
pub fn test(paths: &[PathBuf]) -> Report {
    let paths: Vec<PathBuf> = if paths.is_empty() {
        default_pipelines()
    } else {
        paths.to_vec()
    };
    if paths.is_empty() {
        return Report::error(
            Diagnostic::error(Code::InvalidArgument, "no pipeline files to test")
                .help("name pipeline files, or run from a folder with pipelines/*.yaml"),
        );
    }
    let mut output = String::new();
    let mut diagnostics = Vec::new();
    let mut exit = Exit::Ok;
    for path in &paths {
        let (checked, found) = check_path(path, Data::Unread);
        let Some(checked) = checked else {
            diagnostics.extend(found);
            exit = Exit::Error;
            continue;
        };
        let findings: Vec<Diagnostic> = found
            .into_iter()
            .chain(builtin_checks(&checked.model))
            .collect();
        if !findings.is_empty() && exit == Exit::Ok {
            exit = Exit::Findings;
        }
        diagnostics.extend(findings);
        if checked.model.tests.is_empty() {
            output.push_str(&format!("{}: no tests\n", path.display()));
            continue;
        }
        match block_on(run_tests(&checked)) {
            Ok(results) => {
                if results.iter().any(|r| !r.failures.is_empty()) && exit == Exit::Ok {
                    exit = Exit::Findings;
                }
                output.push_str(&report(&results));
                diagnostics.extend(results.into_iter().flat_map(|r| r.failures));
            }
            Err(d) => {
                diagnostics.push(d);
                exit = Exit::Error;
            }
        }
    }
    Report {
        exit,
        output,
        diagnostics,
    }
}
