//! Sources: turn a pipeline's `sources:` into DataFusion listing tables
//! (Parquet, CSV, JSON lines, Arrow IPC; files, folders, globs, Hive
//! partitions), and read their schemas for the checker.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::datasource::file_format::options::{
    ArrowReadOptions, CsvReadOptions, JsonReadOptions, ParquetReadOptions, ReadOptions,
};
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::check::format_from_path;
use crate::check::model::FileFormat;
use crate::check::types::{ColumnType, Schemas, SourceSchema, Type};
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::Span;
use crate::syntax::ast::Pipeline;

/// Where a source's files are and how to read them.
#[derive(Debug, Clone)]
pub struct SourceLocation {
    /// The source's name.
    pub name: String,
    /// The path resolved against the pipeline's folder.
    pub path: PathBuf,
    /// The file format.
    pub format: FileFormat,
    /// Hive partition columns.
    pub partitions: Vec<String>,
    /// The span of the `path:` value, for messages.
    pub span: Span,
}

fn has_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

/// The file-extension filter DataFusion applies when listing files.
fn extension_filter(location: &SourceLocation) -> String {
    let text = location.path.to_string_lossy();
    if has_glob(&text) {
        return String::new();
    }
    if location.path.is_dir() {
        return format!(".{}", location.format.extension());
    }
    match location.path.extension() {
        Some(ext) => format!(".{}", ext.to_string_lossy()),
        None => String::new(),
    }
}

/// The URL DataFusion lists files under. Folders get a trailing slash so
/// they are listed recursively (Hive partitions live in sub-folders).
fn table_url(location: &SourceLocation) -> datafusion::error::Result<ListingTableUrl> {
    let absolute = std::path::absolute(&location.path).unwrap_or_else(|_| location.path.clone());
    let mut text = absolute.to_string_lossy().into_owned();
    if absolute.is_dir() && !text.ends_with('/') {
        text.push('/');
    }
    ListingTableUrl::parse(text)
}

/// Build the listing table for a source, inferring its schema from the files.
pub async fn listing_table(
    ctx: &SessionContext,
    location: &SourceLocation,
) -> datafusion::error::Result<Arc<ListingTable>> {
    let url = table_url(location)?;
    let extension = extension_filter(location);
    let partitions: Vec<(String, DataType)> = location
        .partitions
        .iter()
        .map(|p| (p.clone(), DataType::Utf8))
        .collect();
    let config = ctx.copied_config();
    let table_options = ctx.copied_table_options();
    let options = match location.format {
        FileFormat::Parquet => ParquetReadOptions::default()
            .file_extension(&extension)
            .table_partition_cols(partitions)
            .to_listing_options(&config, table_options),
        FileFormat::Csv => CsvReadOptions::default()
            .has_header(true)
            .file_extension(&extension)
            .table_partition_cols(partitions)
            .to_listing_options(&config, table_options),
        FileFormat::JsonLines => JsonReadOptions::default()
            .file_extension(&extension)
            .table_partition_cols(partitions)
            .to_listing_options(&config, table_options),
        FileFormat::Arrow => {
            let mut options = ArrowReadOptions::default().table_partition_cols(partitions);
            options.file_extension = &extension;
            options.to_listing_options(&config, table_options)
        }
    };
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .infer_schema(&ctx.state())
        .await?;
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// The Vane type of an Arrow column type.
pub fn column_type(data_type: &DataType) -> ColumnType {
    use DataType::*;
    let known = match data_type {
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => Type::Integer,
        Float16 | Float32 | Float64 | Decimal32(..) | Decimal64(..) | Decimal128(..)
        | Decimal256(..) => Type::Number,
        Utf8 | LargeUtf8 | Utf8View => Type::String,
        Boolean => Type::Boolean,
        Timestamp(..) => Type::Timestamp,
        Date32 | Date64 => Type::Date,
        Duration(_) | Interval(_) => Type::Duration,
        Null => Type::Null,
        Dictionary(_, value) => return column_type(value),
        other => return ColumnType::Unsupported(other.to_string()),
    };
    ColumnType::Known(known)
}

/// A schema in Vane's terms.
pub fn source_schema(schema: &SchemaRef, origin: String) -> SourceSchema {
    SourceSchema {
        columns: schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), column_type(f.data_type())))
            .collect(),
        origin,
    }
}

/// Where the AST's sources point, for reading schemas before checking.
pub fn locations(pipeline: &Pipeline) -> Vec<SourceLocation> {
    let dir = pipeline.file.dir();
    pipeline
        .sources
        .iter()
        .filter_map(|s| {
            let path = s.path.as_ref()?;
            let format = match &s.format {
                Some(f) => FileFormat::from_name(&f.value)?,
                None => format_from_path(&path.value)?,
            };
            Some(SourceLocation {
                name: s.name.value.clone(),
                path: crate::check::clean_path(&dir.join(&path.value)),
                format,
                partitions: s.partitions.iter().map(|p| p.value.clone()).collect(),
                span: path.span,
            })
        })
        .collect()
}

/// A diagnostic for a source whose files cannot be read.
pub fn unreadable(
    pipeline: &Pipeline,
    location: &SourceLocation,
    error: &datafusion::error::DataFusionError,
) -> Diagnostic {
    let message = error.to_string();
    let first_line = message.lines().next().unwrap_or("").to_string();
    let missing = !location.path.exists() && !has_glob(&location.path.to_string_lossy());
    let (text, help) = if missing {
        (
            format!(
                "source `{}`: {} does not exist",
                location.name,
                display(&location.path)
            ),
            "check `path:`; it is relative to the pipeline file".to_string(),
        )
    } else if first_line.contains("No files found") {
        (
            format!(
                "source `{}`: no {} files at {}",
                location.name,
                location.format.name(),
                display(&location.path)
            ),
            format!(
                "check `path:`, or set `format:` if the files are not {}",
                location.format.name()
            ),
        )
    } else {
        (
            format!(
                "source `{}`: cannot read {}: {}",
                location.name,
                display(&location.path),
                simplify(&first_line)
            ),
            format!(
                "check that the files are valid {} files",
                location.format.name()
            ),
        )
    };
    Diagnostic::error(Code::DataUnreadable, text)
        .at(&pipeline.file, location.span, "this path")
        .help(help)
}

/// A path for messages.
pub fn display(path: &Path) -> String {
    path.display().to_string()
}

/// DataFusion error text without its category prefixes.
pub fn simplify(message: &str) -> String {
    let mut text = message.trim();
    for prefix in [
        "Error during planning: ",
        "External error: ",
        "Execution error: ",
        "Arrow error: ",
        "Parquet error: ",
        "Object Store error: ",
        "IO error: ",
        "Io error: ",
    ] {
        while let Some(rest) = text.strip_prefix(prefix) {
            text = rest;
        }
    }
    text.to_string()
}

/// Listing tables opened while reading schemas, so that a run does not
/// read every footer a second time.
#[derive(Default)]
pub struct OpenedTables(Vec<(SourceLocation, Arc<ListingTable>)>);

impl OpenedTables {
    /// The table opened for the same files, name and format as `location`.
    pub fn get(&self, location: &SourceLocation) -> Option<Arc<ListingTable>> {
        self.0
            .iter()
            .find(|(l, _)| {
                l.name == location.name
                    && l.path == location.path
                    && l.format == location.format
                    && l.partitions == location.partitions
            })
            .map(|(_, table)| Arc::clone(table))
    }
}

/// Read the schemas of every source (Parquet footers, CSV headers, …), without reading rows.
pub async fn read_schemas(pipeline: &Pipeline) -> (Schemas, Vec<Diagnostic>) {
    let (schemas, _, diagnostics) = open_sources(pipeline).await;
    (schemas, diagnostics)
}

/// [`read_schemas`], keeping the listing tables for the run.
pub async fn open_sources(pipeline: &Pipeline) -> (Schemas, OpenedTables, Vec<Diagnostic>) {
    // The run's DATAFUSION_* settings shape the tables' file formats too.
    let ctx = SessionContext::new_with_config(SessionConfig::from_env().unwrap_or_default());
    super::local_files::register(&ctx);
    let mut schemas = Schemas::new();
    let mut opened = OpenedTables::default();
    let mut diagnostics = Vec::new();
    let locations = locations(pipeline);
    // Footers are read concurrently: each read waits on the file system.
    let tables = futures::future::join_all(locations.iter().map(|l| listing_table(&ctx, l))).await;
    for (location, table) in locations.into_iter().zip(tables) {
        match table {
            Ok(table) => {
                use datafusion::datasource::TableProvider;
                let schema = table.schema();
                schemas.insert(
                    location.name.clone(),
                    source_schema(&schema, display(&location.path)),
                );
                opened.0.push((location, table));
            }
            Err(e) => diagnostics.push(unreadable(pipeline, &location, &e)),
        }
    }
    (schemas, opened, diagnostics)
}
