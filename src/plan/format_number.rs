//! `format_number(x, digits)`: a number as people read it in a message —
//! rounded as `round` rounds, with thousands separators ("1,234,567.5").
//! A scalar function of Vane's own: it runs only in entity steps and
//! playbooks, on the client, never in the facts' plans.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{Array, Float64Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};

use crate::base::display::format_number;

fn format_columns(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let arrays = ColumnarValue::values_to_arrays(args)?;
    let (Some(x), Some(digits)) = (arrays.first(), arrays.get(1)) else {
        return Err(DataFusionError::Internal(
            "format_number takes a number and digits".into(),
        ));
    };
    let (Some(x), Some(digits)) = (
        x.as_any().downcast_ref::<Float64Array>(),
        digits.as_any().downcast_ref::<Int64Array>(),
    ) else {
        return Err(DataFusionError::Internal(
            "format_number takes a Float64 and an Int64".into(),
        ));
    };
    let formatted: StringArray = (0..x.len())
        .map(|row| {
            (x.is_valid(row) && digits.is_valid(row))
                .then(|| format_number(x.value(row), digits.value(row)))
                .flatten()
        })
        .collect();
    Ok(ColumnarValue::Array(Arc::new(formatted)))
}

/// The function's name in plans.
pub const NAME: &str = "format_number";

/// The function for plans: `format_number(Float64, Int64) → Utf8`. One
/// instance for the process: a function made by `create_udf` equals only
/// itself, and a backfill reuses the program compiled for one night on
/// the next when their plans are equal.
pub fn format_number_udf() -> ScalarUDF {
    static FUNCTION: OnceLock<ScalarUDF> = OnceLock::new();
    FUNCTION
        .get_or_init(|| {
            create_udf(
                NAME,
                vec![DataType::Float64, DataType::Int64],
                DataType::Utf8,
                Volatility::Immutable,
                Arc::new(format_columns),
            )
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        let cases = [
            (39.0, 0, "39"),
            (1234567.456, 2, "1,234,567.46"),
            (999.5, 0, "1,000"),
            (-1234.5, 0, "-1,235"),
            (-0.004, 2, "0.00"),
            (0.125, 1, "0.1"),
            (100.0, 1, "100.0"),
            (-45.0, 0, "-45"),
            (123456.0, 0, "123,456"),
            (12.5, 20, "12.500000000000000"),
            (7.0, -3, "7"),
        ];
        for (x, digits, expected) in cases {
            assert_eq!(format_number(x, digits).as_deref(), Some(expected), "{x}");
        }
        assert_eq!(format_number(f64::NAN, 0), None);
        assert_eq!(format_number(f64::INFINITY, 0), None);
    }

    #[test]
    fn every_call_is_the_same_function_so_plans_compare_equal() {
        assert_eq!(format_number_udf(), format_number_udf());
    }

    #[test]
    fn the_function_formats_columns_and_keeps_nulls() {
        let x = ColumnarValue::Array(Arc::new(Float64Array::from(vec![
            Some(1500.0),
            None,
            Some(2.25),
        ])));
        let digits = ColumnarValue::Scalar(datafusion::common::ScalarValue::Int64(Some(1)));
        let ColumnarValue::Array(out) = format_columns(&[x, digits]).expect("formats") else {
            panic!("an array");
        };
        let out = out.as_any().downcast_ref::<StringArray>().expect("text");
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            vec![Some("1,500.0"), None, Some("2.3")]
        );
    }
}
