//! Nights already written, read back column by column: which nights an
//! output folder holds, in which format each was written, and the columns
//! a reader asks for of one of its tables (`vane report` reads three
//! columns of every night and every column of one or two).
//!
//! Parquet (and Arrow, which is written as Parquet) reads only the columns
//! asked for. A CSV table is read with every column as text (so a key such
//! as `007` stays `007`; callers that want numbers cast them), empty cells
//! as null, and, when the night's manifest says formula-like cells were
//! neutralised, the `'` written before them removed again. JSON lines are
//! read with the types their values show.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::outputs;
use crate::base::{FileFormat, names};

/// One night of an output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenNight {
    /// The night.
    pub as_of: NaiveDate,
    /// Its partition folder.
    pub partition: PathBuf,
}

impl WrittenNight {
    /// The format of the night's scorecard file, `preferred` first when
    /// several exist; `None` when it has none.
    pub fn format(&self, preferred: FileFormat) -> Option<FileFormat> {
        let mut formats = vec![preferred];
        for format in [
            FileFormat::Parquet,
            FileFormat::Csv,
            FileFormat::JsonLines,
            FileFormat::Arrow,
        ] {
            if !formats.contains(&format) {
                formats.push(format);
            }
        }
        formats.into_iter().find(|format| {
            self.partition
                .join(outputs::file_name(names::SCORECARD_TABLE, *format))
                .is_file()
        })
    }

    /// The path of one of the night's tables in `format`.
    pub fn table_path(&self, table: &str, format: FileFormat) -> PathBuf {
        self.partition.join(outputs::file_name(table, format))
    }

    /// The night's manifest, when it has one that parses.
    pub fn manifest(&self) -> Option<serde_json::Value> {
        let bytes = std::fs::read(self.partition.join(names::MANIFEST_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// The nights written in `out` (folders `as_of=YYYY-MM-DD`), oldest
/// first; empty when the folder is missing.
pub fn nights_in(out: &Path) -> Vec<WrittenNight> {
    let mut nights: Vec<WrittenNight> = outputs::earlier_partitions(out, NaiveDate::MAX)
        .into_iter()
        .map(|(as_of, partition)| WrittenNight { as_of, partition })
        .collect();
    nights.reverse();
    nights
}

/// Whether formula-like CSV cells of a night were written with a leading
/// `'` (the default; the manifest says `kept` otherwise).
pub fn csv_formulas_neutralised(manifest: Option<&serde_json::Value>) -> bool {
    manifest.is_none_or(|m| m["settings"]["csv_formulas"].as_str() != Some("kept"))
}

/// A table of a written night: `columns` of it (every column when
/// `None`; names it lacks are left out), in file order. `neutralised`
/// says whether CSV text cells carry the `'` that neutralised formulas.
pub fn read_written(
    path: &Path,
    format: FileFormat,
    columns: Option<&[&str]>,
    neutralised: bool,
) -> Result<Vec<RecordBatch>, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let wanted = |name: &str| columns.is_none_or(|c| c.contains(&name));
    match format {
        // `write_table` writes Parquet for both.
        FileFormat::Parquet | FileFormat::Arrow => {
            let builder =
                ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
            let indices: Vec<usize> = builder
                .schema()
                .fields()
                .iter()
                .enumerate()
                .filter(|(_, f)| wanted(f.name()))
                .map(|(i, _)| i)
                .collect();
            let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
            builder
                .with_projection(mask)
                .with_batch_size(64 * 1024)
                .build()
                .map_err(|e| e.to_string())?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())
        }
        FileFormat::Csv => {
            let mut reader = BufReader::new(file);
            let mut header = String::new();
            reader.read_line(&mut header).map_err(|e| e.to_string())?;
            reader.rewind().map_err(|e| e.to_string())?;
            let names = csv_header(header.trim_end_matches(['\n', '\r']));
            let schema = Arc::new(Schema::new(
                names
                    .iter()
                    .map(|n| Field::new(n, DataType::Utf8, true))
                    .collect::<Vec<_>>(),
            ));
            let projection: Vec<usize> = (0..names.len()).filter(|i| wanted(&names[*i])).collect();
            let batches = datafusion::arrow::csv::ReaderBuilder::new(schema)
                .with_header(true)
                .with_batch_size(64 * 1024)
                .with_projection(projection)
                .build(reader)
                .map_err(|e| e.to_string())?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            if !neutralised {
                return Ok(batches);
            }
            batches.iter().map(restore_formulas).collect()
        }
        FileFormat::JsonLines => {
            let mut reader = BufReader::new(file);
            let (schema, _) =
                datafusion::arrow::json::reader::infer_json_schema_from_seekable(&mut reader, None)
                    .map_err(|e| e.to_string())?;
            reader.rewind().map_err(|e| e.to_string())?;
            let batches = datafusion::arrow::json::ReaderBuilder::new(Arc::new(schema))
                .with_batch_size(64 * 1024)
                .build(reader)
                .map_err(|e| e.to_string())?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            batches
                .iter()
                .map(|batch| {
                    let indices: Vec<usize> = batch
                        .schema()
                        .fields()
                        .iter()
                        .enumerate()
                        .filter(|(_, f)| wanted(f.name()))
                        .map(|(i, _)| i)
                        .collect();
                    batch.project(&indices).map_err(|e| e.to_string())
                })
                .collect()
        }
    }
}

/// The column names of a CSV header line as the Arrow writer writes it
/// (fields quoted when they hold a comma or a quote).
fn csv_header(line: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => names.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    names.push(field);
    names
}

/// What a spreadsheet may take as the start of a formula, as the writer
/// neutralises it.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A CSV batch (every column text) with the `'` before formula-like cells
/// removed again (`'=1+1` reads `=1+1`).
fn restore_formulas(batch: &RecordBatch) -> Result<RecordBatch, String> {
    let columns = batch
        .columns()
        .iter()
        .map(|column| {
            let Some(text) = column.as_any().downcast_ref::<StringArray>() else {
                return Arc::clone(column);
            };
            let cells: StringArray = text
                .iter()
                .map(|cell| {
                    cell.map(|c| match c.strip_prefix('\'') {
                        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
                        _ => c,
                    })
                })
                .collect();
            Arc::new(cells) as ArrayRef
        })
        .collect::<Vec<_>>();
    RecordBatch::try_new(batch.schema(), columns).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_headers_split_as_the_writer_quotes_them() {
        assert_eq!(csv_header("a,b,c"), vec!["a", "b", "c"]);
        assert_eq!(csv_header("\"a,b\",\"c\"\"d\",e"), vec!["a,b", "c\"d", "e"]);
    }
}
