//! `vane validate`: load and check pipeline files, optionally against the
//! schemas of their data files.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{Exit, Report};
use crate::check::model::Model;
use crate::check::{self, types::Schemas};
use crate::diagnostics::{Code, Diagnostic};
use crate::run::sources::{OpenedTables, open_sources};
use crate::syntax;

/// Load, read schemas (when `with_data`), and check one pipeline file.
/// Returns the model when there were no errors, and every diagnostic.
pub fn load_and_check(path: &Path, with_data: bool) -> (Option<Model>, Vec<Diagnostic>) {
    let (loaded, diagnostics) = syntax::load_path(path);
    check_loaded(loaded, diagnostics, with_data)
}

/// [`load_and_check`] for a pipeline already in memory (a git revision, say).
pub fn check_file(
    file: &std::sync::Arc<crate::syntax::SourceFile>,
    with_data: bool,
) -> (Option<Model>, Vec<Diagnostic>) {
    let (loaded, diagnostics) = syntax::load_file(file);
    check_loaded(loaded, diagnostics, with_data)
}

/// [`load_and_check`] against the data, keeping the sources' listing
/// tables for the run.
pub fn load_check_and_open(path: &Path) -> (Option<Model>, Vec<Diagnostic>, OpenedTables) {
    let (loaded, diagnostics) = syntax::load_path(path);
    check_and_open(loaded, diagnostics, true)
}

fn check_loaded(
    loaded: Option<syntax::load::Loaded>,
    diagnostics: Vec<Diagnostic>,
    with_data: bool,
) -> (Option<Model>, Vec<Diagnostic>) {
    let (model, diagnostics, _) = check_and_open(loaded, diagnostics, with_data);
    (model, diagnostics)
}

fn check_and_open(
    loaded: Option<syntax::load::Loaded>,
    mut diagnostics: Vec<Diagnostic>,
    with_data: bool,
) -> (Option<Model>, Vec<Diagnostic>, OpenedTables) {
    let Some(loaded) = loaded else {
        return (None, diagnostics, OpenedTables::default());
    };
    let mut schemas = Schemas::new();
    let mut opened = OpenedTables::default();
    if with_data {
        match block_on(open_sources(&loaded.pipeline)) {
            Ok((read, tables, schema_errors)) => {
                schemas = read;
                opened = tables;
                diagnostics.extend(schema_errors);
            }
            Err(d) => diagnostics.push(d),
        }
    }
    let (model, check_diagnostics) = check::check(&loaded.pipeline, &schemas);
    let loader_failed = diagnostics.iter().any(Diagnostic::is_error);
    // An expression that did not parse leaves its metric looking unused; say only what is real.
    diagnostics.extend(
        check_diagnostics
            .into_iter()
            .filter(|d| !(loader_failed && d.code == Code::Unused)),
    );
    diagnostics.sort_by_key(|d| d.primary.as_ref().map_or(0, |l| l.span.start));
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    (model.filter(|_| !has_errors), diagnostics, opened)
}

/// Run a future to completion (commands are synchronous) on the process's
/// one multi-threaded runtime: a runtime per call cost its own threads, and
/// every thread its own allocator pages (docs/benchmarks.md).
pub(crate) fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, Diagnostic> {
    static RUNTIME: OnceLock<std::io::Result<tokio::runtime::Runtime>> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
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

/// `vane validate FILE...`: every problem in every file, and a one-line
/// summary per valid file.
pub fn validate(paths: &[PathBuf], with_data: bool) -> Report {
    let mut output = String::new();
    let mut diagnostics = Vec::new();
    for path in paths {
        let (model, found) = load_and_check(path, with_data);
        if let Some(model) = model {
            let warnings = found.len();
            output.push_str(&format!(
                "{}: ok — {} sources, {} metrics, {} indicators, {} playbooks{}{}\n",
                path.display(),
                model.sources.len(),
                model.metrics.len(),
                model.indicators.len(),
                model.playbooks.len(),
                if with_data {
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
    let exit = Report::exit_for(&diagnostics);
    if exit == Exit::Error {
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        output.push_str(&format!(
            "{errors} error{} found\n",
            if errors == 1 { "" } else { "s" }
        ));
    }
    Report {
        exit,
        output,
        diagnostics,
    }
}
