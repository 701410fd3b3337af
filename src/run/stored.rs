//! Nights already written, read back: which nights an output folder holds,
//! one night's scorecard, actions, rollups and recorded definitions hash
//! (`vane changes` compares two of them), and the columns a reader asks
//! for of any of its tables (`vane report` reads three columns of every
//! night), in whatever format the night was written. Parquet (and Arrow,
//! written as Parquet) reads only the columns asked for.
//!
//! Cells read back as they were computed, as far as the format allows: a
//! CSV column is read as numbers when every value is one, except the
//! columns named as text (the entity key and attributes, so that a key
//! such as `007` stays `007`) and every column of the actions; other
//! columns are text, with empty cells as null and the `'` that neutralised
//! a formula-like cell removed again.

use std::fs::File;
use std::io::{BufReader, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::outputs;
use crate::base::{FileFormat, names};
use crate::diagnostics::{Code, Diagnostic};

/// The nights written in `out` (folders `as_of=YYYY-MM-DD`), oldest first;
/// empty when the folder is missing.
pub fn written_nights(out: &Path) -> Vec<NaiveDate> {
    nights_in(out).into_iter().map(|n| n.as_of).collect()
}

/// The nights written, for a help line: every one when there are few,
/// else the range and the ones nearest `wanted`.
pub fn nights_help(nights: &[NaiveDate], wanted: NaiveDate) -> String {
    let list = |dates: &[NaiveDate]| {
        dates
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if nights.len() <= 12 {
        return format!("the nights written there: {}", list(nights));
    }
    let before = nights.iter().rev().find(|d| **d < wanted).copied();
    let after = nights.iter().find(|d| **d > wanted).copied();
    let nearest: Vec<NaiveDate> = before.into_iter().chain(after).collect();
    format!(
        "{} nights are written there, from {} to {}; the nearest: {}",
        nights.len(),
        nights[0],
        nights[nights.len() - 1],
        list(&nearest)
    )
}

/// `V603` for an output folder without nights; `flag` is the option
/// that points at another folder (`--out`, `--outputs`).
pub fn no_nights(folder: &Path, pipeline: &Path, flag: &str) -> Diagnostic {
    Diagnostic::error(
        Code::NightMissing,
        format!("no nights are written in {}", folder.display()),
    )
    .help(format!(
        "write nights first (`vane run {} --as-of DATE`, or `vane backfill`), or point {flag} at the folder they were written to",
        pipeline.display()
    ))
}

/// `V603` for the night `flag` names, which is not among `nights`.
pub fn night_missing(
    folder: &Path,
    nights: &[NaiveDate],
    flag: &str,
    night: NaiveDate,
    pipeline: &Path,
) -> Diagnostic {
    Diagnostic::error(
        Code::NightMissing,
        format!("{flag} {night}: no such night in {}", folder.display()),
    )
    .help(format!(
        "{}; write it with `vane run {} --as-of {night}`",
        nights_help(nights, night),
        pipeline.display()
    ))
}

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
        formats_to_try(preferred).into_iter().find(|format| {
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

    /// Whether its formula-like CSV cells were written with a leading `'`
    /// (the default; the manifest says `kept` otherwise).
    pub fn csv_formulas_neutralised(&self) -> bool {
        csv_formulas_neutralised(&self.partition)
    }
}

/// The nights written in `out` with their partitions, oldest first; empty
/// when the folder is missing.
pub fn nights_in(out: &Path) -> Vec<WrittenNight> {
    let mut nights: Vec<WrittenNight> = outputs::earlier_partitions(out, NaiveDate::MAX)
        .into_iter()
        .map(|(as_of, partition)| WrittenNight { as_of, partition })
        .collect();
    nights.reverse();
    nights
}

/// `columns` of a table of a written night (every column when `None`;
/// names it lacks are left out), in file order; CSV cells as text (so a
/// key such as `007` stays `007`; callers that want numbers cast them).
/// `neutralised` says whether CSV text cells carry the `'` that
/// neutralised formulas.
pub fn read_written(
    path: &Path,
    format: FileFormat,
    columns: Option<&[&str]>,
    neutralised: bool,
) -> Result<Vec<RecordBatch>, String> {
    let csv = CsvReading {
        neutralised,
        numbers: false,
        text_columns: &[],
    };
    read_table(path, format, columns, &csv)
}

/// One night as it was written.
#[derive(Debug, Clone)]
pub struct StoredNight {
    /// The night.
    pub as_of: NaiveDate,
    /// Its partition folder.
    pub partition: PathBuf,
    /// The format its files were written in.
    pub format: FileFormat,
    /// The definitions hash its manifest records (`None` without a manifest
    /// or when the manifest predates the hash).
    pub definitions_sha256: Option<String>,
    /// The scorecard, as written (sorted by key).
    pub scorecard: Vec<RecordBatch>,
    /// The actions that fired.
    pub actions: Vec<RecordBatch>,
    /// The rollups (empty when the night has no rollups file).
    pub rollups: Vec<RecordBatch>,
}

/// The formats in the order a partition's files are looked for: the
/// format the pipeline writes first.
fn formats_to_try(preferred: FileFormat) -> Vec<FileFormat> {
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
    formats
}

/// Read the night `as_of` of the output folder `out`. The format is the
/// one its scorecard file has, `preferred` first when several exist;
/// `text_columns` of a CSV scorecard are read as text even when every
/// value is a number.
pub fn read_night(
    out: &Path,
    as_of: NaiveDate,
    preferred: FileFormat,
    text_columns: &[String],
) -> Result<StoredNight, Diagnostic> {
    let partition = out.join(outputs::partition_name(as_of));
    let unreadable = |what: String| {
        Diagnostic::error(Code::DataUnreadable, what).help(
            "the night's files are damaged or were not written by Vane; run the night again with `vane run --as-of` to rewrite it",
        )
    };
    let Some(format) = formats_to_try(preferred).into_iter().find(|format| {
        partition
            .join(outputs::file_name(names::SCORECARD_TABLE, *format))
            .is_file()
    }) else {
        return Err(unreadable(format!(
            "the night {as_of} in {} has no scorecard file",
            out.display()
        )));
    };
    let neutralised = csv_formulas_neutralised(&partition);
    let read = |table: &str, csv_numbers: bool| {
        let path = partition.join(outputs::file_name(table, format));
        let csv = CsvReading {
            neutralised,
            numbers: csv_numbers,
            text_columns,
        };
        read_table(&path, format, None, &csv)
            .map_err(|e| unreadable(format!("cannot read {}: {e}", path.display())))
    };
    Ok(StoredNight {
        as_of,
        format,
        definitions_sha256: outputs::recorded_definitions(&partition),
        scorecard: read(names::SCORECARD_TABLE, true)?,
        actions: read(names::ACTIONS_TABLE, false)?,
        rollups: if partition
            .join(outputs::file_name(names::ROLLUPS_TABLE, format))
            .is_file()
        {
            read(names::ROLLUPS_TABLE, true)?
        } else {
            Vec::new()
        },
        partition,
    })
}

/// Whether the night's CSV cells that looked like formulas were written
/// with a leading `'` (the default; the manifest says when not).
fn csv_formulas_neutralised(partition: &Path) -> bool {
    let manifest = std::fs::read(partition.join(names::MANIFEST_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    manifest.is_none_or(|m| m["settings"]["csv_formulas"].as_str() != Some("kept"))
}

/// How a CSV table is read.
struct CsvReading<'a> {
    /// Whether formula-like cells were written with a leading `'`.
    neutralised: bool,
    /// Whether columns whose values are all numbers are read as numbers.
    numbers: bool,
    /// Columns read as text regardless.
    text_columns: &'a [String],
}

/// The positions of the fields of `schema` that `columns` asks for.
fn projection(schema: &Schema, columns: Option<&[&str]>) -> Vec<usize> {
    schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| columns.is_none_or(|c| c.contains(&f.name().as_str())))
        .map(|(i, _)| i)
        .collect()
}

/// `columns` (every column when `None`) of one output table.
fn read_table(
    path: &Path,
    format: FileFormat,
    columns: Option<&[&str]>,
    csv: &CsvReading<'_>,
) -> Result<Vec<RecordBatch>, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    match format {
        // `write_table` writes Parquet for both.
        FileFormat::Parquet | FileFormat::Arrow => {
            let builder =
                ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
            let indices = projection(builder.schema(), columns);
            let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
            builder
                .with_projection(mask)
                .with_batch_size(BATCH_ROWS)
                .build()
                .map_err(|e| e.to_string())?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())
        }
        FileFormat::JsonLines => {
            let mut reader = BufReader::new(file);
            let (schema, _) =
                datafusion::arrow::json::reader::infer_json_schema_from_seekable(&mut reader, None)
                    .map_err(|e| e.to_string())?;
            reader.rewind().map_err(|e| e.to_string())?;
            let indices = projection(&schema, columns);
            datafusion::arrow::json::ReaderBuilder::new(Arc::new(schema))
                .with_batch_size(BATCH_ROWS)
                .build(reader)
                .map_err(|e| e.to_string())?
                .map(|batch| batch.and_then(|b| b.project(&indices)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())
        }
        FileFormat::Csv => {
            let mut reader = BufReader::new(file);
            let format = datafusion::arrow::csv::reader::Format::default().with_header(true);
            let (inferred, _) = format
                .infer_schema(&mut reader, if csv.numbers { None } else { Some(0) })
                .map_err(|e| e.to_string())?;
            reader.rewind().map_err(|e| e.to_string())?;
            let schema: SchemaRef = Arc::new(Schema::new(
                inferred
                    .fields()
                    .iter()
                    .map(|f| {
                        let number = csv.numbers
                            && f.data_type().is_numeric()
                            && !csv.text_columns.contains(f.name());
                        let data_type = match number {
                            true => f.data_type().clone(),
                            false => DataType::Utf8,
                        };
                        Field::new(f.name(), data_type, true)
                    })
                    .collect::<Vec<_>>(),
            ));
            let indices = projection(&schema, columns);
            let batches = datafusion::arrow::csv::ReaderBuilder::new(Arc::clone(&schema))
                .with_header(true)
                .with_batch_size(BATCH_ROWS)
                .with_projection(indices)
                .build(reader)
                .map_err(|e| e.to_string())?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            batches
                .iter()
                .map(|batch| as_computed(batch, csv.neutralised))
                .collect()
        }
    }
}

/// Rows per batch read back.
const BATCH_ROWS: usize = 64 * 1024;

/// A CSV batch with its text cells as computed: empty cells null, and
/// with `neutralised`, the `'` before a formula-like cell removed (`'=1+1`
/// reads `=1+1`). A cell that itself began with `'` and then a formula
/// character cannot be told apart and loses its `'`.
fn as_computed(batch: &RecordBatch, neutralised: bool) -> Result<RecordBatch, String> {
    let columns = batch
        .columns()
        .iter()
        .map(|column| {
            let Some(text) = column.as_any().downcast_ref::<StringArray>() else {
                return Ok(Arc::clone(column));
            };
            let cells: StringArray = text
                .iter()
                .map(|cell| match cell {
                    None | Some("") => None,
                    Some(cell) if neutralised => Some(outputs::restored(cell)),
                    Some(cell) => Some(cell),
                })
                .collect();
            Ok(Arc::new(cells) as ArrayRef)
        })
        .collect::<Result<Vec<_>, String>>()?;
    RecordBatch::try_new(batch.schema(), columns).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_nights_are_summed_up_with_the_nearest_ones() {
        let first = NaiveDate::from_ymd_opt(2026, 1, 4).expect("date");
        let weekly: Vec<NaiveDate> = (0..20)
            .map(|w| first + chrono::Duration::weeks(w))
            .collect();
        assert_eq!(
            nights_help(&weekly, NaiveDate::from_ymd_opt(2026, 2, 3).expect("date")),
            "20 nights are written there, from 2026-01-04 to 2026-05-17; the nearest: 2026-02-01, 2026-02-08"
        );
        assert_eq!(
            nights_help(&weekly[..2], first),
            "the nights written there: 2026-01-04, 2026-01-11"
        );
    }
}
