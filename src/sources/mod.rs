//! Stage 2: resolve the pipeline's `sources:` — where each source's files
//! are and in which format ([`resolve`], no I/O) — and, when the data is
//! wanted, open them: read every schema once and keep the DataFusion
//! listing tables for the run ([`open`]).
//!
//! The result, [`Sources`], is the one way data enters Vane: the checker
//! reads its locations and schemas, the engine scans its tables.
//!
//! **Architecture invariant:** `sources` reads schemas (footers, headers),
//! never rows.

#[cfg(unix)]
mod local_files;
mod tables;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::datasource::TableProvider;
use datafusion::datasource::listing::ListingTable;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::base::types::Schemas;
use crate::base::{FileFormat, SourceFile, Span};
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::ast::Pipeline;

#[cfg(unix)]
pub use local_files::register as register_local_files;

/// Where Vane's in-place reader is not built (it reads with Unix's
/// positioned reads), DataFusion's standard `LocalFileSystem` reads local
/// files, as it does everything but byte ranges on Unix.
#[cfg(not(unix))]
pub fn register_local_files(_: &SessionContext) {}
pub use tables::{column_type, error_text, listing_table, table_url};

/// Where a source's files are and how to read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    /// The source's name.
    pub name: String,
    /// The file, folder or glob, resolved against the pipeline's folder.
    pub path: PathBuf,
    /// The file format.
    pub format: FileFormat,
    /// Hive partition columns.
    pub partitions: Vec<String>,
    /// The span of the `path:` value, for messages.
    pub span: Span,
}

/// What the sources step hands on: every source's location and, once
/// opened, its schema (for the checker) and its listing table (for the
/// engine).
#[derive(Debug, Default)]
pub struct Sources {
    /// The sources that have a path and a known format, in file order.
    pub locations: Vec<SourceLocation>,
    /// The schemas of the opened sources, by name; empty before [`open`].
    pub schemas: Schemas,
    tables: BTreeMap<String, Arc<ListingTable>>,
    /// Per opened source, `(column, files that lack it)`.
    gaps: BTreeMap<String, Vec<(String, Vec<String>)>>,
}

impl Sources {
    /// A source's location, by name.
    pub fn location(&self, name: &str) -> Option<&SourceLocation> {
        self.locations.iter().find(|l| l.name == name)
    }

    /// The listing table opened for a source, if it was opened.
    pub fn table(&self, name: &str) -> Option<Arc<ListingTable>> {
        self.tables.get(name).cloned()
    }

    /// The files of an opened source that lack `column` (which other files
    /// of it have); empty when every file has it.
    pub fn files_lacking(&self, source: &str, column: &str) -> &[String] {
        self.gaps
            .get(source)
            .and_then(|gaps| gaps.iter().find(|(c, _)| c == column))
            .map_or(&[], |(_, files)| files.as_slice())
    }

    /// Read a source from other files (a test's fixtures): its location
    /// changes, and whatever was opened for it is forgotten.
    pub fn relocate(&mut self, name: &str, path: PathBuf, format: FileFormat) {
        if let Some(location) = self.locations.iter_mut().find(|l| l.name == name) {
            location.path = path;
            location.format = format;
            location.partitions.clear();
        }
        self.schemas.remove(name);
        self.tables.remove(name);
        self.gaps.remove(name);
    }
}

/// Where every source's files are: `path:` resolved against the pipeline's
/// folder, and the format from `format:` or the path's extension. Reads
/// nothing.
pub fn resolve(pipeline: &Pipeline) -> (Sources, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut locations = Vec::new();
    for def in &pipeline.sources {
        let Some(path) = &def.path else { continue };
        let format = match &def.format {
            Some(f) => FileFormat::from_name(&f.value),
            None => {
                let guessed = FileFormat::from_path(&path.value);
                if guessed.is_none() {
                    diagnostics.push(
                        Diagnostic::error(
                            Code::MissingKey,
                            format!("cannot tell the file format of `{}`", path.value),
                        )
                        .at(&pipeline.file, path.span, "no known extension")
                        .help("add `format: parquet` (or csv, jsonl, arrow)"),
                    );
                }
                guessed
            }
        };
        let Some(format) = format else { continue };
        locations.push(SourceLocation {
            name: def.name.value.clone(),
            path: pipeline.file.resolve(&path.value),
            format,
            partitions: def.partitions.iter().map(|p| p.value.clone()).collect(),
            span: path.span,
        });
    }
    let sources = Sources {
        locations,
        ..Sources::default()
    };
    (sources, diagnostics)
}

/// Open every source: read its schema (Parquet footers, CSV headers, …)
/// without reading rows, and keep its listing table for the run. Sources
/// that cannot be read get a diagnostic at their `path:`.
pub async fn open(mut sources: Sources, file: &Arc<SourceFile>) -> (Sources, Vec<Diagnostic>) {
    // The run's DATAFUSION_* settings shape the tables' file formats too.
    let ctx = SessionContext::new_with_config(SessionConfig::from_env().unwrap_or_default());
    register_local_files(&ctx);
    let mut diagnostics = Vec::new();
    // Footers are read concurrently: each read waits on the file system.
    let opened = futures::future::join_all(
        sources
            .locations
            .iter()
            .map(|location| listing_table(&ctx, location)),
    )
    .await;
    for (location, table) in sources.locations.iter().zip(opened) {
        match table {
            Ok(opened) => {
                let schema = tables::source_schema(
                    &opened.table.schema(),
                    location.path.display().to_string(),
                );
                sources.schemas.insert(location.name.clone(), schema);
                sources.tables.insert(location.name.clone(), opened.table);
                if !opened.gaps.is_empty() {
                    sources.gaps.insert(location.name.clone(), opened.gaps);
                }
            }
            Err(e) => diagnostics.push(tables::unreadable(file, location, &e)),
        }
    }
    (sources, diagnostics)
}
