//! Each night's targets side, picked in memory from the rows any night
//! may find effective (read once for all nights): per entity with a row
//! effective at the night's as-of, per KPI, the last effective row in the
//! order (start, value, direction), ascending, nulls last — the row the
//! one night's `last_value` aggregation picks. Rows equal in that order
//! have equal values and directions, so the pick never depends on the
//! rows' order in the file.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, UInt32Array,
};
use datafusion::arrow::compute::{SortColumn, SortOptions, lexsort_to_indices, take};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::error::Result;

use super::cut::{Keys, assemble, column, internal};
use crate::base::names;
use crate::base::units::Micros;
use crate::plan::nights::{Recipe, SharedSide};
use crate::plan::targets::{DIRECTION, FROM, FROM_MICROS, TO_MICROS, TO_OPEN, VALUE, is_kpi};

/// The targets' rows, sorted for picking: by entity, then in the order
/// that decides which effective row wins.
pub(super) struct PreparedTargets {
    side: SharedSide,
    kpis: Vec<String>,
    batch: RecordBatch,
    /// Row positions, by entity and then ascending in the winning order.
    order: Vec<u32>,
    /// Where each entity's rows start in `order` (one past the last at the end).
    starts: Vec<usize>,
    /// The rows' entities.
    keys: Keys,
    from: Option<Int64Array>,
    to: Option<(Int64Array, BooleanArray)>,
    is_kpi: Vec<BooleanArray>,
}

impl PreparedTargets {
    /// Sort `batch` (the rows of [`crate::plan::targets::EffectiveTargets`])
    /// for `side`; `keys` numbers its entities.
    pub(super) fn new(side: SharedSide, batch: RecordBatch, keys: Keys) -> Result<PreparedTargets> {
        let Recipe::Effective {
            kpis,
            has_from,
            has_to,
        } = side.recipe.clone()
        else {
            return Err(internal("not the targets side"));
        };
        let last = SortOptions {
            descending: false,
            nulls_first: false,
        };
        let entity: ArrayRef = Arc::new(UInt32Array::from(keys.of_row.clone()));
        let mut by = vec![SortColumn {
            values: entity,
            options: Some(last),
        }];
        if has_from {
            by.push(SortColumn {
                values: Arc::clone(column(&batch, FROM)?),
                options: Some(last),
            });
        }
        for name in [VALUE, DIRECTION] {
            by.push(SortColumn {
                values: Arc::clone(column(&batch, name)?),
                options: Some(last),
            });
        }
        let order = lexsort_to_indices(&by, None)?.values().to_vec();
        let starts = keys.starts();
        let from = if has_from {
            Some(
                column(&batch, FROM_MICROS)?
                    .as_primitive::<Int64Type>()
                    .clone(),
            )
        } else {
            None
        };
        let to = if has_to {
            Some((
                column(&batch, TO_MICROS)?
                    .as_primitive::<Int64Type>()
                    .clone(),
                column(&batch, TO_OPEN)?.as_boolean().clone(),
            ))
        } else {
            None
        };
        let is_kpi = (0..kpis.len())
            .map(|i| Ok(column(&batch, &is_kpi(i))?.as_boolean().clone()))
            .collect::<Result<Vec<_>>>()?;
        Ok(PreparedTargets {
            side,
            kpis,
            batch,
            order,
            starts,
            keys,
            from,
            to,
            is_kpi,
        })
    }

    /// The name of the side.
    pub(super) fn name(&self) -> &str {
        &self.side.name
    }

    /// Whether row `row` is effective at `as_of`, as the one night's
    /// filter says: started at or before it, and its end missing or after it.
    fn effective(&self, row: usize, as_of: i64) -> bool {
        let started = self
            .from
            .as_ref()
            .is_none_or(|from| from.is_valid(row) && from.value(row) <= as_of);
        let not_ended = self.to.as_ref().is_none_or(|(to, open)| {
            (open.is_valid(row) && open.value(row)) || (to.is_valid(row) && to.value(row) > as_of)
        });
        started && not_ended
    }

    /// The targets side of the night at `as_of`.
    pub(super) fn night(&self, as_of: Micros) -> Result<RecordBatch> {
        let as_of = as_of.get();
        let mut reps = Vec::new();
        let mut picked: Vec<Vec<Option<u32>>> = vec![Vec::new(); self.kpis.len()];
        let mut last = vec![None; self.kpis.len()];
        for (k, bounds) in self.starts.windows(2).enumerate() {
            // From the winning end: each KPI's first effective row is its pick.
            let mut any = false;
            last.fill(None);
            for &row in self.order[bounds[0]..bounds[1]].iter().rev() {
                if !self.effective(row as usize, as_of) {
                    continue;
                }
                any = true;
                for (kpi, pick) in self.is_kpi.iter().zip(last.iter_mut()) {
                    let r = row as usize;
                    if pick.is_none() && kpi.is_valid(r) && kpi.value(r) {
                        *pick = Some(row);
                    }
                }
            }
            if any {
                reps.push(self.keys.row_of(k));
                for (column, pick) in picked.iter_mut().zip(&last) {
                    column.push(*pick);
                }
            }
        }
        let key_type = self.side.schema.field(0).data_type();
        let key = self.keys.column(self.batch.column(0), reps, key_type)?;
        let (values, directions) = (column(&self.batch, VALUE)?, column(&self.batch, DIRECTION)?);
        let names: Vec<(String, String)> = self
            .kpis
            .iter()
            .map(|kpi| (names::target(kpi), names::direction(kpi)))
            .collect();
        let mut by_name: BTreeMap<&str, ArrayRef> = BTreeMap::new();
        for ((target, direction), rows) in names.iter().zip(picked) {
            let rows = UInt32Array::from(rows);
            by_name.insert(target, take(values, &rows, None)?);
            by_name.insert(direction, take(directions, &rows, None)?);
        }
        assemble(&self.side, key, by_name)
    }
}
