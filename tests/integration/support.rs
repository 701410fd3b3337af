//! Helpers several test modules share.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{Field, Schema};

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
