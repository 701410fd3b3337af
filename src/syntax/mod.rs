//! Stage 1: YAML text and embedded expressions → spanned AST.
//!
//! **Architecture invariant:** `syntax` never imports DataFusion and never
//! reads data; it knows only the file's text.

pub mod ast;
pub mod expr;
pub mod fmt;
pub mod json_schema;
pub mod load;
pub mod parse_expr;
pub mod print;
pub mod scalar;
pub mod spec;
pub mod yaml;

use std::path::Path;
use std::sync::Arc;

use crate::base::SourceFile;
use crate::diagnostics::{Code, Diagnostic};
use load::Loaded;

/// Parse and load a pipeline from text already in memory.
pub fn load_text(path: impl AsRef<Path>, text: String) -> (Option<Loaded>, Vec<Diagnostic>) {
    let file = Arc::new(SourceFile::new(path, text));
    load_file(&file)
}

/// Parse and load a pipeline file into its AST, collecting every diagnostic.
pub fn load_file(file: &Arc<SourceFile>) -> (Option<Loaded>, Vec<Diagnostic>) {
    match yaml::parse_yaml(file) {
        Ok(root) => {
            let (loaded, diagnostics) = load::load_pipeline(file, &root);
            (Some(loaded), diagnostics)
        }
        Err(diagnostic) => (None, vec![diagnostic]),
    }
}

/// Read a pipeline file from disk and load it.
pub fn load_path(path: &Path) -> (Option<Loaded>, Vec<Diagnostic>) {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            let d = Diagnostic::error(
                Code::FileUnreadable,
                format!(
                    "cannot read {}: {}",
                    path.display(),
                    e.to_string().to_lowercase()
                ),
            )
            .help("check the path and its permissions");
            return (None, vec![d]);
        }
    };
    match yaml::read_source(path, bytes) {
        Ok(file) => load_file(&Arc::new(file)),
        Err(d) => (None, vec![d]),
    }
}
