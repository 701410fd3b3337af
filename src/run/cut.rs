//! The pieces every shared side is cut into nights with: its entities
//! numbered ([`Keys`]), its columns found by name, and a night's batch put
//! together in the side's schema.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::HashMap;
use datafusion::error::{DataFusionError, Result};

use crate::plan::nights::SharedSide;

/// An error of Vane's own making, not the data's.
pub(super) fn internal(message: impl Into<String>) -> DataFusionError {
    DataFusionError::Internal(message.into())
}

/// A column of a shared aggregation's batch, by name.
pub(super) fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| internal(format!("the shared aggregation has no column `{name}`")))
}

/// Each row's entity as a small number, and one row of each entity.
pub(super) struct Keys {
    pub(super) of_row: Vec<u32>,
    first_row: Vec<u32>,
}

impl Keys {
    /// Number the entities of the key column `keys`.
    pub(super) fn of(keys: &ArrayRef) -> Result<Keys> {
        let converter = RowConverter::new(vec![SortField::new(keys.data_type().clone())])?;
        let rows = converter.convert_columns(&[Arc::clone(keys)])?;
        let mut ids: HashMap<_, u32> = HashMap::with_capacity_and_hasher(1024, Default::default());
        let mut first_row = Vec::new();
        let of_row = (0..rows.num_rows())
            .map(|row| {
                *ids.entry(rows.row(row)).or_insert_with(|| {
                    first_row.push(row as u32);
                    (first_row.len() - 1) as u32
                })
            })
            .collect();
        Ok(Keys { of_row, first_row })
    }

    pub(super) fn len(&self) -> usize {
        self.first_row.len()
    }

    /// Where each entity's rows start when the rows are ordered by
    /// entity (one past the last row at the end).
    pub(super) fn starts(&self) -> Vec<usize> {
        let mut starts = vec![0usize; self.len() + 1];
        for &k in &self.of_row {
            starts[k as usize + 1] += 1;
        }
        for k in 0..self.len() {
            starts[k + 1] += starts[k];
        }
        starts
    }

    /// One row of entity `k`.
    pub(super) fn row_of(&self, k: usize) -> u32 {
        self.first_row[k]
    }

    /// The key column of the rows `reps`, in the side's key type.
    pub(super) fn column(
        &self,
        keys: &ArrayRef,
        reps: Vec<u32>,
        data_type: &DataType,
    ) -> Result<ArrayRef> {
        let taken = take(keys, &UInt32Array::from(reps), None)?;
        Ok(cast(&taken, data_type)?)
    }
}

/// A night's batch in the side's schema: its key, then its columns by name.
pub(super) fn assemble(
    side: &SharedSide,
    key: ArrayRef,
    mut by_name: BTreeMap<&str, ArrayRef>,
) -> Result<RecordBatch> {
    let mut columns = vec![key];
    for field in side.schema.fields().iter().skip(1) {
        columns.push(by_name.remove(field.name().as_str()).ok_or_else(|| {
            internal(format!("the shared side has no column `{}`", field.name()))
        })?);
    }
    Ok(RecordBatch::try_new(Arc::clone(&side.schema), columns)?)
}
