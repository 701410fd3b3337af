//! `percentile(x, p)`: the exact continuous percentile — the value at
//! position p × (n − 1) of the sorted non-null values, interpolated
//! linearly between its two neighbours, as PostgreSQL's and DuckDB's
//! `percentile_cont` compute it. DataFusion 55's `percentile_cont` rounds
//! the interpolation weight down to six decimals, which moves a result by
//! up to a millionth of the gap between the neighbours; Vane's language
//! promises the exact value, so it has this aggregate of its own.
//!
//! It runs in the facts' plans, so a Ballista cluster must know it by name:
//! `vane-cluster` registers [`percentile_udaf`] on its scheduler and
//! executors.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array, ListArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, Signature, Volatility,
};

/// The aggregate's name in plans (and on a cluster).
pub const NAME: &str = "vane_percentile";

/// The exact percentile aggregate: `vane_percentile(Float64, Float64 literal p)`.
pub fn percentile_udaf() -> AggregateUDF {
    AggregateUDF::new_from_impl(ExactPercentile {
        signature: Signature::exact(
            vec![DataType::Float64, DataType::Float64],
            Volatility::Immutable,
        ),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ExactPercentile {
    signature: Signature,
}

impl AggregateUDFImpl for ExactPercentile {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let values = Field::new_list_field(DataType::Float64, true);
        Ok(vec![Arc::new(Field::new(
            format!("{}[values]", args.name),
            DataType::List(Arc::new(values)),
            true,
        ))])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let p = args
            .exprs
            .get(1)
            .map(|e| {
                let empty = RecordBatch::new_empty(Arc::new(Schema::empty()));
                e.evaluate(&empty)
            })
            .transpose()?;
        let p = match p {
            Some(ColumnarValue::Scalar(ScalarValue::Float64(Some(p))))
                if (0.0..=1.0).contains(&p) =>
            {
                p
            }
            _ => {
                return Err(DataFusionError::Plan(format!(
                    "{NAME} takes a constant p from 0 to 1"
                )));
            }
        };
        Ok(Box::new(Values {
            p,
            values: Vec::new(),
        }))
    }
}

/// Every non-null value seen, and p.
#[derive(Debug)]
struct Values {
    p: f64,
    values: Vec<f64>,
}

impl Values {
    fn extend(&mut self, array: &Float64Array) {
        self.values.extend(array.iter().flatten());
    }
}

/// The percentile `p` of `values` (sorted here), or none without values.
fn exact_percentile(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let position = p * (values.len() - 1) as f64;
    let below = position.floor();
    let lower = values[below as usize];
    let upper = values[position.ceil() as usize];
    Some(lower + (position - below) * (upper - lower))
}

impl Accumulator for Values {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        if let Some(array) = values.first() {
            self.extend(array.as_primitive::<Float64Type>());
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(lists) = states.first() else {
            return Ok(());
        };
        let lists: &ListArray = lists.as_list();
        for list in lists.iter().flatten() {
            self.extend(list.as_primitive::<Float64Type>());
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values: ArrayRef = Arc::new(Float64Array::from(self.values.clone()));
        Ok(vec![ScalarValue::List(Arc::new(ListArray::new(
            Arc::new(Field::new_list_field(DataType::Float64, true)),
            OffsetBuffer::from_lengths([values.len()]),
            values,
            None,
        )))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(exact_percentile(
            &mut self.values,
            self.p,
        )))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.values.capacity() * size_of::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_exactly_between_neighbours() {
        let p90 = |values: &[f64]| exact_percentile(&mut values.to_vec(), 0.9);
        assert_eq!(p90(&[]), None);
        assert_eq!(p90(&[4.0]), Some(4.0));
        // Position 0.9 × 9 = 8.1: 9 + 0.1 × (10 − 9).
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(p90(&ten), Some(9.0 + 0.1 * (10.0 - 9.0)));
        // A weight with more than six decimals is kept whole: position
        // 0.9 × 6 = 5.4 between 6 and 6.2166… of the supply-chain example.
        let gap = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 6.216666666666667];
        let exact = exact_percentile(&mut gap.to_vec(), 0.9).expect("a value");
        assert!(
            (exact - (6.0 + 0.4 * 0.216666666666667)).abs() < 1e-12,
            "{exact}"
        );
        assert_eq!(
            exact_percentile(&mut [3.0, 1.0, 2.0], 0.5),
            Some(2.0),
            "sorted first"
        );
    }
}
