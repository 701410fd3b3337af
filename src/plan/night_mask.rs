//! `vane_night_mask(t, hi, lo, step, last_night, base)`: for a row at time
//! `t`, the bits of the nights (of a backfill's evenly spaced nights, one
//! word of [`NIGHTS_PER_WORD`] of them from night `base`) whose window
//! holds `t`. The window is given as it lies on the first night: it ends at
//! `hi` (exclusive) and starts at `lo` (null: all history); night `n`'s
//! lies `n × step` later, and there are `last_night + 1` nights. All in
//! the time column's unit. The night masks of a distinct count are one of
//! these per row and word: as one function they cost a few instructions a
//! row, where the same arithmetic as a stack of `CASE` expressions cost
//! DataFusion more than aggregating the rows (`docs/benchmarks.md`).
//!
//! It runs in the shared pass's plans, so a Ballista cluster must know it
//! by name: `vane-cluster` registers [`night_mask_udf`] on its scheduler
//! and executors.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int64Array};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// Nights per word of a night mask: bit `n` of word `w` is night `62w + n`
/// (62, so that `1 << 62` still fits an Int64 and no shift overflows).
pub const NIGHTS_PER_WORD: usize = 62;

/// The function's name in plans (and on a cluster).
pub const NAME: &str = "vane_night_mask";

/// The night-mask function: six `Int64` arguments, all but `t` literals.
pub fn night_mask_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(NightMask {
        signature: Signature::exact(vec![DataType::Int64; 6], Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct NightMask {
    signature: Signature,
}

/// Where one window lies on the first night, and which word of nights.
#[derive(Debug, Clone, Copy)]
struct Word {
    hi: i64,
    lo: Option<i64>,
    step: i64,
    last_night: i64,
    base: i64,
}

impl Word {
    /// The bits of the word's nights whose window holds `t`.
    fn mask(&self, t: i64) -> i64 {
        let first_night = if t < self.hi {
            0
        } else {
            t.wrapping_sub(self.hi)
                .wrapping_div(self.step)
                .wrapping_add(1)
        };
        // Rows before the window on the first night count for no night.
        let last_of_window = match self.lo {
            Some(lo) if t < lo => -1,
            Some(lo) => t
                .wrapping_sub(lo)
                .wrapping_div(self.step)
                .min(self.last_night),
            None => self.last_night,
        };
        let from = first_night.wrapping_sub(self.base).max(0);
        let to = last_of_window
            .wrapping_sub(self.base)
            .min(NIGHTS_PER_WORD as i64 - 1);
        if from <= to {
            (1i64 << (to + 1)).wrapping_sub(1i64 << from)
        } else {
            0
        }
    }
}

fn literal(args: &[ColumnarValue], index: usize) -> Result<Option<i64>> {
    match args.get(index) {
        Some(ColumnarValue::Scalar(ScalarValue::Int64(value))) => Ok(*value),
        _ => Err(DataFusionError::Internal(format!(
            "{NAME}: argument {index} must be an Int64 literal"
        ))),
    }
}

impl ScalarUDFImpl for NightMask {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let required = |index| {
            literal(&args.args, index)?.ok_or_else(|| {
                DataFusionError::Internal(format!("{NAME}: argument {index} is null"))
            })
        };
        let word = Word {
            hi: required(1)?,
            lo: literal(&args.args, 2)?,
            step: required(3)?,
            last_night: required(4)?,
            base: required(5)?,
        };
        if word.step <= 0 {
            return Err(DataFusionError::Internal(format!(
                "{NAME}: the nights' step must be positive"
            )));
        }
        let times = args
            .args
            .first()
            .ok_or_else(|| DataFusionError::Internal(format!("{NAME}: no time")))?
            .to_array(args.number_rows)?;
        let times = times.as_primitive::<Int64Type>();
        // A row without a time lies in no window.
        let masks: Int64Array = if times.null_count() == 0 {
            times.values().iter().map(|&t| word.mask(t)).collect()
        } else {
            times
                .iter()
                .map(|t| Some(t.map_or(0, |t| word.mask(t))))
                .collect()
        };
        Ok(ColumnarValue::Array(Arc::new(masks)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEEK: i64 = 7;

    /// The nights whose window holds `t`, counted one by one.
    fn by_hand(word: &Word, t: i64) -> i64 {
        let mut mask = 0;
        for bit in 0..NIGHTS_PER_WORD as i64 {
            let night = word.base + bit;
            if night > word.last_night {
                break;
            }
            let hi = word.hi + night * word.step;
            let inside = t < hi && word.lo.is_none_or(|lo| t >= lo + night * word.step);
            if inside {
                mask |= 1 << bit;
            }
        }
        mask
    }

    #[test]
    fn a_row_lies_in_the_windows_of_the_nights_counted_by_hand() {
        for lo in [Some(-30), Some(-3), Some(-90), None] {
            for (last_night, base) in [(51, 0), (99, 62), (99, 0), (0, 0)] {
                let word = Word {
                    hi: 0,
                    lo,
                    step: WEEK,
                    last_night,
                    base,
                };
                for t in -200..800 {
                    assert_eq!(word.mask(t), by_hand(&word, t), "t {t}, {word:?}");
                }
            }
        }
    }
}
