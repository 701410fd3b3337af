//! `vane_exact_float(x)`: a float as the exact decimal that float sums add
//! in (`Decimal256(76, 18)`), the same value as DataFusion's cast — `x ×
//! 10^18`, rounded, as an integer — without the cast's detour through a
//! heap-allocated big integer for every value: where the product fits 127
//! bits it converts directly, else it takes the cast's own path. A
//! backfill's rollups cast about a million floats a chunk of nights; the
//! cast's detour was most of their time (`docs/benchmarks.md`). The
//! rollups use it; they run only locally and are never written as SQL.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, Decimal256Array};
use datafusion::arrow::datatypes::{DataType, Decimal256Type, DecimalType, Float64Type, i256};
use datafusion::arrow::error::ArrowError;
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
};

/// The function's name in plans.
pub const NAME: &str = "vane_exact_float";

/// The decimal's digits and digits after the point.
const PRECISION: u8 = 76;
const SCALE: i8 = 18;

/// `x` (any number, cast to a float first) as an exact decimal.
pub fn exact_float(x: Expr) -> Expr {
    ScalarUDF::new_from_impl(ExactFloat {
        signature: Signature::exact(vec![DataType::Float64], Volatility::Immutable),
    })
    .call(vec![cast(x, DataType::Float64)])
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ExactFloat {
    signature: Signature,
}

/// The largest magnitude, as a float, that converts to an `i128` exactly.
const I128_RANGE: f64 = 1.7014118346046923e38;

/// `x` scaled to the decimal, as DataFusion's cast computes it; `None`
/// when it does not fit.
fn scaled(x: f64, multiplier: f64) -> Option<i256> {
    let v = (multiplier * x).round();
    if v.abs() < I128_RANGE {
        return Some(i256::from_i128(v as i128));
    }
    i256::from_f64(v).filter(|d| Decimal256Type::is_valid_decimal_precision(*d, PRECISION))
}

impl ScalarUDFImpl for ExactFloat {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Decimal256(PRECISION, SCALE))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let floats = args
            .args
            .first()
            .ok_or_else(|| DataFusionError::Internal(format!("{NAME}: no argument")))?
            .to_array(args.number_rows)?;
        let floats = floats.as_primitive::<Float64Type>();
        let multiplier = 10_f64.powi(i32::from(SCALE));
        let decimals: Decimal256Array = floats.try_unary(|x| {
            scaled(x, multiplier).ok_or_else(|| {
                ArrowError::CastError(format!(
                    "Cannot cast to Decimal256({PRECISION}, {SCALE}). Overflowing on {x:?}"
                ))
            })
        })?;
        let decimals = decimals.with_precision_and_scale(PRECISION, SCALE)?;
        Ok(ColumnarValue::Array(Arc::new(decimals)))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Array, ArrayRef, Float64Array};
    use datafusion::arrow::compute::cast as arrow_cast;

    use super::*;

    #[test]
    fn floats_become_the_decimals_the_cast_gives() {
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            1e-18,
            4.9e-19,
            5e-19,
            123456.789,
            1e19,
            -1e19,
            1.7e20,
            1e38,
            5.7e58,
            -5.7e58,
            f64::MIN_POSITIVE,
        ];
        let mut seed = 0x9e3779b97f4a7c15u64;
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mantissa = (seed >> 11) as f64 / (1u64 << 53) as f64;
            let exponent = (seed % 90) as i32 - 30;
            let sign = if seed & 1 == 0 { 1.0 } else { -1.0 };
            values.push(sign * mantissa * 10_f64.powi(exponent));
        }
        let floats: ArrayRef = Arc::new(Float64Array::from(values.clone()));
        let expected = arrow_cast(&floats, &DataType::Decimal256(PRECISION, SCALE)).unwrap();
        let multiplier = 10_f64.powi(i32::from(SCALE));
        let expected = expected.as_primitive::<Decimal256Type>();
        for (i, x) in values.iter().enumerate() {
            let wanted = expected.is_valid(i).then(|| expected.value(i));
            assert_eq!(scaled(*x, multiplier), wanted, "{x:?}");
        }
        assert_eq!(scaled(f64::NAN, multiplier), None);
        assert_eq!(scaled(f64::INFINITY, multiplier), None);
        assert_eq!(scaled(1e60, multiplier), None);
    }
}
