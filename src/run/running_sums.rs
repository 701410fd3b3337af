//! Running sums of a shared side's columns over its groups in (entity,
//! bucket) order, laid out position by position: a night reads every
//! column at the few positions where its windows start and end for each
//! entity, so all the columns of one position share a cache line or two
//! instead of each costing a miss of its own.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    ArrowNativeType, ArrowPrimitiveType, DataType, Decimal128Type, Decimal256Type, Float64Type,
    Int64Type, i256,
};
use datafusion::error::Result;

use super::cut::internal;

/// Which running sum a column became: its kind and its lane within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Integers (counts and integer sums), wrapping as DataFusion's sums do.
    Int(usize),
    /// 128-bit decimals, wrapping.
    Dec128(usize),
    /// 256-bit decimals, wrapping.
    Dec256(usize),
    /// Floats.
    Float(usize),
}

/// The running sums of one kind: `width` lanes per position.
struct Lanes<T> {
    width: usize,
    data: Vec<T>,
}

impl<T: ArrowNativeType> Lanes<T> {
    fn new(width: usize, positions: usize) -> Self {
        Lanes {
            width,
            data: vec![T::default(); width * (positions + 1)],
        }
    }

    /// Fill `lane` with the running sum of `column`'s values (nulls add
    /// nothing) over the rows in `order`.
    fn fill<P: ArrowPrimitiveType<Native = T>>(
        &mut self,
        lane: usize,
        column: &ArrayRef,
        order: &[u32],
        add: impl Fn(T, T) -> T,
    ) {
        let values = column.as_primitive::<P>();
        let mut total = T::default();
        for (position, &row) in order.iter().enumerate() {
            if values.is_valid(row as usize) {
                total = add(total, values.value(row as usize));
            }
            self.data[(position + 1) * self.width + lane] = total;
        }
    }

    fn at(&self, lane: usize, position: usize) -> T {
        self.data[position * self.width + lane]
    }
}

/// Running sums of several columns, position by position: the sum of a
/// column over positions `[start, end)` is a difference of two. Decimal
/// and integer sums wrap as DataFusion's do, so differences stay exact.
pub struct RunningSums {
    ints: Lanes<i64>,
    dec128: Lanes<i128>,
    dec256: Lanes<i256>,
    floats: Lanes<f64>,
}

impl RunningSums {
    /// The running sums of `columns` over the rows in `order`, and the
    /// lane each column became, in the same order as `columns`.
    pub fn of(columns: &[&ArrayRef], order: &[u32]) -> Result<(RunningSums, Vec<Lane>)> {
        let mut widths = [0usize; 4];
        let lanes: Vec<Lane> = columns
            .iter()
            .map(|column| {
                let kind = match column.data_type() {
                    DataType::Int64 => 0,
                    DataType::Decimal128(..) => 1,
                    DataType::Decimal256(..) => 2,
                    DataType::Float64 => 3,
                    other => {
                        return Err(internal(format!(
                            "buckets do not add values of type {other}"
                        )));
                    }
                };
                let lane = widths[kind];
                widths[kind] += 1;
                Ok(match kind {
                    0 => Lane::Int(lane),
                    1 => Lane::Dec128(lane),
                    2 => Lane::Dec256(lane),
                    _ => Lane::Float(lane),
                })
            })
            .collect::<Result<_>>()?;
        let positions = order.len();
        let mut sums = RunningSums {
            ints: Lanes::new(widths[0], positions),
            dec128: Lanes::new(widths[1], positions),
            dec256: Lanes::new(widths[2], positions),
            floats: Lanes::new(widths[3], positions),
        };
        for (column, lane) in columns.iter().zip(&lanes) {
            match *lane {
                Lane::Int(l) => sums
                    .ints
                    .fill::<Int64Type>(l, column, order, i64::wrapping_add),
                Lane::Dec128(l) => {
                    sums.dec128
                        .fill::<Decimal128Type>(l, column, order, i128::wrapping_add);
                }
                Lane::Dec256(l) => {
                    sums.dec256
                        .fill::<Decimal256Type>(l, column, order, i256::wrapping_add);
                }
                Lane::Float(l) => sums
                    .floats
                    .fill::<Float64Type>(l, column, order, |x, y| x + y),
            }
        }
        Ok((sums, lanes))
    }

    /// An integer lane's sum over `[start, end)`.
    pub fn int(&self, lane: usize, (start, end): (usize, usize)) -> i64 {
        self.ints
            .at(lane, end)
            .wrapping_sub(self.ints.at(lane, start))
    }

    /// A 128-bit decimal lane's sum over `[start, end)`.
    pub fn dec128(&self, lane: usize, (start, end): (usize, usize)) -> i128 {
        self.dec128
            .at(lane, end)
            .wrapping_sub(self.dec128.at(lane, start))
    }

    /// A 256-bit decimal lane's sum over `[start, end)`.
    pub fn dec256(&self, lane: usize, (start, end): (usize, usize)) -> i256 {
        self.dec256
            .at(lane, end)
            .wrapping_sub(self.dec256.at(lane, start))
    }

    /// A float lane's sum over `[start, end)`, as a difference of running sums.
    pub fn float(&self, lane: usize, (start, end): (usize, usize)) -> f64 {
        self.floats.at(lane, end) - self.floats.at(lane, start)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Float64Array, Int64Array};

    use super::*;

    #[test]
    fn each_lane_sums_its_own_column_in_the_given_order() {
        let counts: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(3), Some(4)]));
        let more: ArrayRef = Arc::new(Int64Array::from(vec![10, 20, 30, 40]));
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![0.5, 1.5, 2.5, 3.5]));
        let order = [3u32, 2, 1, 0];
        let (sums, lanes) = RunningSums::of(&[&counts, &floats, &more], &order).expect("sums");
        assert_eq!(lanes, vec![Lane::Int(0), Lane::Float(0), Lane::Int(1)]);
        // Positions 1..3 hold rows 2 and 1.
        assert_eq!(sums.int(0, (1, 3)), 3);
        assert_eq!(sums.int(1, (1, 3)), 50);
        assert_eq!(sums.float(0, (1, 3)), 4.0);
        assert_eq!(sums.int(0, (0, 4)), 8);
        assert!(
            RunningSums::of(&[&(Arc::new(Int64Array::from(vec![1])) as ArrayRef)], &[0]).is_ok()
        );
    }
}
