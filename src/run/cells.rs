//! Values of result batches as text, the way Arrow displays them: the one
//! place `explain`, `diff`, `test`, cooldowns and the duplicate-key check
//! read results cell by cell.

use std::collections::BTreeSet;

use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::base::names;

/// A column of a batch, read as text.
pub struct TextColumn<'a> {
    array: &'a dyn Array,
    formatter: ArrayFormatter<'a>,
}

impl<'a> TextColumn<'a> {
    /// The column `name` of `batch`, if it has one Arrow can display.
    pub fn of(batch: &'a RecordBatch, name: &str) -> Option<TextColumn<'a>> {
        let array = batch.column_by_name(name)?.as_ref();
        let formatter = ArrayFormatter::try_new(array, &DISPLAY).ok()?;
        Some(TextColumn { array, formatter })
    }

    /// The text of one row's value; `None` for null.
    pub fn get(&self, row: usize) -> Option<String> {
        (!self.array.is_null(row)).then(|| self.formatter.value(row).to_string())
    }

    /// Every row's text, in order.
    pub fn all(&self) -> impl Iterator<Item = Option<String>> + '_ {
        (0..self.array.len()).map(|row| self.get(row))
    }
}

/// Arrow's default display, showing a value that cannot be formatted as
/// its error rather than failing.
static DISPLAY: FormatOptions<'static> = FormatOptions::new().with_display_error(true);

/// Every `(playbook, entity)` that fired, from batches of actions.
pub fn fired(actions: &[RecordBatch]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for batch in actions {
        let (Some(playbooks), Some(entities)) = (
            TextColumn::of(batch, names::ACTION_PLAYBOOK),
            TextColumn::of(batch, names::ACTION_ENTITY),
        ) else {
            continue;
        };
        for (p, e) in playbooks.all().zip(entities.all()) {
            out.insert((p.unwrap_or_default(), e.unwrap_or_default()));
        }
    }
    out
}

/// The text of one cell: `None` when the batch has no such column,
/// `Some(None)` for null.
pub fn cell(batch: &RecordBatch, column: &str, row: usize) -> Option<Option<String>> {
    TextColumn::of(batch, column).map(|c| c.get(row))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Float64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn cells_read_as_arrow_displays_them_and_null_is_none() {
        let schema = Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("x", DataType::Float64, true),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringArray::from(vec![Some("a"), None])),
                Arc::new(Float64Array::from(vec![Some(1.5), Some(2.0)])),
            ],
        )
        .expect("batch");
        assert_eq!(cell(&batch, "k", 0), Some(Some("a".to_string())));
        assert_eq!(cell(&batch, "k", 1), Some(None));
        assert_eq!(cell(&batch, "x", 1), Some(Some("2.0".to_string())));
        assert_eq!(cell(&batch, "missing", 0), None);
        let keys = TextColumn::of(&batch, "k").expect("k");
        assert_eq!(keys.all().collect::<Vec<_>>(), vec![Some("a".into()), None]);
    }
}
