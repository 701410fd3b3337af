//! Helpers several test modules share.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{Field, Schema};

/// Every batch of a Parquet file, read with the Parquet reader (not Vane's).
pub fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).expect("open parquet");
    datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet")
        .build()
        .expect("reader")
        .collect::<Result<Vec<_>, _>>()
        .expect("batches")
}

/// Write columns to a Parquet file, creating its folder.
pub fn write_parquet(path: &Path, columns: Vec<(String, ArrayRef)>) {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(name, array.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let arrays = columns.into_iter().map(|(_, a)| a).collect();
    let batch = RecordBatch::try_new(Arc::clone(&schema), arrays).expect("batch");
    std::fs::create_dir_all(path.parent().expect("folder")).expect("mkdir");
    let file = std::fs::File::create(path).expect("create");
    let mut writer =
        datafusion::parquet::arrow::ArrowWriter::try_new(file, schema, None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
}

/// The repository's `.venv` Python when it has duckdb (the differential
/// tests' reference). Without it a test is skipped with a message — but
/// never under CI or `VANE_REQUIRE_ALL_TESTS` (`scripts/test` sets it up
/// and requires it), where its absence fails the test.
pub fn python_with_duckdb() -> Option<std::path::PathBuf> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let has_duckdb = std::process::Command::new(&python)
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_duckdb {
        skip_without(".venv with duckdb");
        return None;
    }
    Some(python)
}

/// A test's tool (`what`) is missing: fail under CI or
/// `VANE_REQUIRE_ALL_TESTS` (`scripts/test` installs every tool and
/// requires them), else say the test is skipped.
pub fn skip_without(what: &str) {
    assert!(
        std::env::var_os("CI").is_none() && std::env::var_os("VANE_REQUIRE_ALL_TESTS").is_none(),
        "no {what}: run the tests with scripts/test, which installs it"
    );
    eprintln!("skipping: no {what} (scripts/test installs it and runs every test)");
}

/// Run a differential script with `args`; it must succeed and print `ok: …`.
pub fn run_differential(python: &Path, script: &Path, args: &[&std::ffi::OsStr]) {
    let result = std::process::Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(stdout.starts_with("ok: "), "{stdout}");
}
