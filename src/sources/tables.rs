//! A source's files as a DataFusion listing table (Parquet, CSV, JSON
//! lines, Arrow IPC; files, folders, globs, Hive partitions), and its
//! schema in Vane's terms.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::datasource::file_format::options::{
    ArrowReadOptions, CsvReadOptions, JsonReadOptions, ParquetReadOptions, ReadOptions,
};
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use object_store::ObjectMeta;

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
) -> datafusion::error::Result<Opened> {
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
    let state = ctx.state();
    let (config, gaps) = match location.format {
        // Self-describing files: read each file's schema, so a column some
        // files lack is known (and each footer is still read once).
        FileFormat::Parquet | FileFormat::Arrow => {
            let (schema, gaps) = file_by_file_schema(&state, &url, &options, location).await?;
            let config = ListingTableConfig::new(url)
                .with_listing_options(options)
                .with_schema(schema);
            (config, gaps)
        }
        FileFormat::Csv | FileFormat::JsonLines => {
            let config = ListingTableConfig::new(url)
                .with_listing_options(options)
                .infer_schema(&state)
                .await?;
            (config, Vec::new())
        }
    };
    Ok(Opened {
        table: Arc::new(ListingTable::try_new(config)?),
        gaps,
    })
}

/// A listing table and the columns some of its files lack.
pub struct Opened {
    /// The table, its schema the union of its files' schemas.
    pub table: Arc<ListingTable>,
    /// `(column, files that lack it)`, by column.
    pub gaps: Vec<(String, Vec<String>)>,
}

/// The schema of a folder, glob or file of Parquet or Arrow files, merged
/// from each file's schema as DataFusion merges them (files in path order,
/// each with the format's own conversions), and the columns some files
/// lack. An empty file is an error rather than skipped.
async fn file_by_file_schema(
    state: &datafusion::execution::context::SessionState,
    url: &ListingTableUrl,
    options: &ListingOptions,
    location: &SourceLocation,
) -> datafusion::error::Result<(SchemaRef, Vec<(String, Vec<String>)>)> {
    let store = state.runtime_env().object_store(url)?;
    let mut files: Vec<ObjectMeta> = url
        .list_all_files(state, store.as_ref(), &options.file_extension)
        .await?
        .try_collect()
        .await?;
    if files.is_empty() {
        return Err(DataFusionError::Plan(format!("No files found at {url}")));
    }
    files.sort_by(|a, b| a.location.cmp(&b.location));
    if let Some(empty) = files.iter().find(|f| f.size == 0) {
        return Err(DataFusionError::Execution(format!(
            "/{} is empty (0 bytes), not a {} file",
            empty.location,
            location.format.name()
        )));
    }
    let schemas = futures::future::join_all(files.iter().map(|file| {
        let store = Arc::clone(&store);
        async move {
            options
                .format
                .infer_schema(state, &store, std::slice::from_ref(file))
                .await
                .map_err(|e| e.context(format!("reading /{}", file.location)))
        }
    }))
    .await
    .into_iter()
    .collect::<datafusion::error::Result<Vec<SchemaRef>>>()?;
    let merged = Schema::try_merge(schemas.iter().map(|s| s.as_ref().clone()))?;
    let mut gaps = Vec::new();
    for field in merged.fields() {
        let lacking: Vec<String> = files
            .iter()
            .zip(&schemas)
            .filter(|(_, schema)| schema.field_with_name(field.name()).is_err())
            .map(|(file, _)| format!("/{}", file.location))
            .collect();
        if !lacking.is_empty() {
            gaps.push((field.name().clone(), lacking));
        }
    }
    Ok((Arc::new(merged), gaps))
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
    let text_of_error = error_text(error);
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
    } else if matches!(error.find_root(), DataFusionError::Plan(m) if m.starts_with("No files found"))
    {
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
                text_of_error
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
