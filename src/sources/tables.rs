//! A source's files as a DataFusion listing table (Parquet, CSV, JSON
//! lines, Arrow IPC; files, folders, globs, Hive partitions), and its
//! schema in Vane's terms.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::datasource::file_format::options::{
    ArrowReadOptions, CsvReadOptions, JsonReadOptions, ParquetReadOptions, ReadOptions,
};
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::SessionContext;

use super::SourceLocation;
use crate::base::types::{ColumnType, SourceSchema, Type};
use crate::base::{FileFormat, SourceFile};
use crate::diagnostics::{Code, Diagnostic};

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

/// The URL DataFusion lists a source's files under. Folders get a
/// trailing slash so they are listed recursively (Hive partitions live in
/// sub-folders).
pub fn table_url(location: &SourceLocation) -> datafusion::error::Result<ListingTableUrl> {
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
pub(super) fn source_schema(schema: &SchemaRef, origin: String) -> SourceSchema {
    SourceSchema {
        columns: schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), column_type(f.data_type())))
            .collect(),
        origin,
    }
}

/// A diagnostic for a source whose files cannot be read.
pub(super) fn unreadable(
    file: &Arc<SourceFile>,
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
                location.path.display()
            ),
            "check `path:`; it is relative to the pipeline file".to_string(),
        )
    } else if first_line.contains("No files found") {
        (
            format!(
                "source `{}`: no {} files at {}",
                location.name,
                location.format.name(),
                location.path.display()
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
                location.path.display(),
                simplify(&first_line)
            ),
            format!(
                "check that the files are valid {} files",
                location.format.name()
            ),
        )
    };
    Diagnostic::error(Code::DataUnreadable, text)
        .at(file, location.span, "this path")
        .help(help)
}

/// A DataFusion error's text in one line, without its category prefixes
/// ("Execution error: ", "Arrow error: ", …).
pub fn error_text(error: &datafusion::error::DataFusionError) -> String {
    error
        .to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "caused by")
        .map(simplify)
        .collect::<Vec<_>>()
        .join(": ")
}

fn simplify(message: &str) -> String {
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
