//! Declared column types in the plan: each source with `columns:` is
//! scanned through a projection that reads the declared columns as their
//! types (text → timestamp, epoch milliseconds → timestamp, text → number,
//! …), and a one-row check counts, per declared column, the values that
//! did not parse and gives one of them as an example.
//!
//! A value that does not parse reads as null; blank text is null, not a
//! failure. Nothing rewrites the files: the conversion is part of every
//! plan that reads the source.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::functions::string::expr_fn::btrim;
use datafusion::functions_aggregate::expr_fn::{count, min, sum};
use datafusion::logical_expr::{
    Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, TryCast, cast, col, lit, when,
};

use super::exprs::LowerResult;
use crate::base::SourceFile;
use crate::base::types::Type;
use crate::check::model::{ColumnFormat, DeclaredColumn, Model, ParseFailureLimit, Source};

/// One source's parse check: a plan with one row holding `rows`, then per
/// declared column its failures and an example failure.
#[derive(Debug, Clone)]
pub struct ParseCheck {
    /// The source.
    pub source: String,
    /// The declared columns, in the order of the plan's columns.
    pub columns: Vec<DeclaredColumn>,
    /// How many failures the source allows per column.
    pub limit: ParseFailureLimit,
    /// The pipeline file, for messages pointing at `columns:`.
    pub file: Arc<SourceFile>,
    /// `rows`, then `failures_<i>` and `example_<i>` per column.
    pub plan: LogicalPlan,
}

/// The name of the row count column of a [`ParseCheck`].
pub const ROWS: &str = "rows";

/// The name of column `i`'s failure count in a [`ParseCheck`].
pub fn failures_column(i: usize) -> String {
    format!("failures_{i}")
}

/// The name of column `i`'s example failure in a [`ParseCheck`].
pub fn example_column(i: usize) -> String {
    format!("example_{i}")
}

/// The scans with every source's declared columns read as their types.
pub fn typed_scans(
    model: &Model,
    scans: &BTreeMap<String, LogicalPlan>,
) -> LowerResult<BTreeMap<String, LogicalPlan>> {
    let mut typed = scans.clone();
    for source in model.sources.iter().filter(|s| !s.columns.is_empty()) {
        let Some(scan) = scans.get(&source.name) else {
            continue;
        };
        let projection = scan
            .schema()
            .fields()
            .iter()
            .map(|field| {
                let raw = col(field.name());
                match source.columns.iter().find(|c| c.name == *field.name()) {
                    Some(column) => read_as(raw, field.data_type(), column).alias(field.name()),
                    None => raw,
                }
            })
            .collect::<Vec<_>>();
        let plan = LogicalPlanBuilder::from(scan.clone())
            .project(projection)
            .and_then(|b| b.build())?;
        typed.insert(source.name.clone(), plan);
    }
    Ok(typed)
}

/// A parse check for every source that declares columns.
pub fn parse_checks(
    model: &Model,
    scans: &BTreeMap<String, LogicalPlan>,
) -> LowerResult<Vec<ParseCheck>> {
    let mut checks = Vec::new();
    for source in model.sources.iter().filter(|s| !s.columns.is_empty()) {
        let Some(scan) = scans.get(&source.name) else {
            continue;
        };
        checks.push(parse_check(source, scan, &model.file)?);
    }
    Ok(checks)
}

fn parse_check(
    source: &Source,
    scan: &LogicalPlan,
    file: &Arc<SourceFile>,
) -> LowerResult<ParseCheck> {
    let mut aggregates = vec![count(lit(1)).alias(ROWS)];
    for (i, column) in source.columns.iter().enumerate() {
        let raw = col(&column.name);
        let raw_type = raw.get_type(scan.schema())?;
        let present = match raw_type {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => raw
                .clone()
                .is_not_null()
                .and(btrim(vec![raw.clone()]).not_eq(lit(""))),
            _ => raw.clone().is_not_null(),
        };
        let failed = present.and(read_as(raw.clone(), &raw_type, column).is_null());
        aggregates.push(
            sum(when(failed.clone(), lit(1i64)).otherwise(lit(0i64))?).alias(failures_column(i)),
        );
        aggregates
            .push(min(when(failed, cast(raw, DataType::Utf8)).end()?).alias(example_column(i)));
    }
    let plan = LogicalPlanBuilder::from(scan.clone())
        .aggregate(Vec::<Expr>::new(), aggregates)
        .and_then(|b| b.build())?;
    Ok(ParseCheck {
        source: source.name.clone(),
        columns: source.columns.clone(),
        limit: source.max_parse_failures,
        file: file.clone(),
        plan,
    })
}

fn try_cast(e: Expr, to: DataType) -> Expr {
    Expr::TryCast(TryCast::new(Box::new(e), to))
}

const MICROS: DataType = DataType::Timestamp(TimeUnit::Microsecond, None);

/// `raw` (stored as `raw_type`) read as `column`'s declared type; null
/// where it does not parse.
fn read_as(raw: Expr, raw_type: &DataType, column: &DeclaredColumn) -> Expr {
    let is_text = matches!(
        raw_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    );
    let text = || btrim(vec![raw.clone()]);
    let target = match column.ty {
        Type::Timestamp => MICROS,
        Type::Date => DataType::Date32,
        Type::Integer => DataType::Int64,
        Type::Boolean => DataType::Boolean,
        Type::String => DataType::Utf8,
        _ => DataType::Float64,
    };
    match (column.ty, column.format) {
        (Type::String, _) if is_text => raw,
        (Type::String, _) => cast(raw, DataType::Utf8),
        (Type::Timestamp | Type::Date, ColumnFormat::Iso8601) if is_text => {
            try_cast(text(), target)
        }
        (Type::Timestamp | Type::Date, ColumnFormat::Iso8601) => cast(raw, target),
        (Type::Timestamp | Type::Date, epoch) => {
            let instant = epoch_instant(raw, raw_type, is_text, epoch);
            match column.ty {
                Type::Date => try_cast(instant, DataType::Date32),
                _ => instant,
            }
        }
        _ if is_text => try_cast(text(), target),
        _ => try_cast(raw, target),
    }
}

/// A number of seconds, milliseconds or microseconds since 1970 as a
/// timestamp in microseconds: whole numbers exactly, fractions to the
/// microsecond; null when it does not parse or fit.
fn epoch_instant(raw: Expr, raw_type: &DataType, is_text: bool, format: ColumnFormat) -> Expr {
    let unit = match format {
        ColumnFormat::EpochSeconds => TimeUnit::Second,
        ColumnFormat::EpochMillis => TimeUnit::Millisecond,
        _ => TimeUnit::Microsecond,
    };
    let micros_per_unit = match unit {
        TimeUnit::Second => 1e6,
        TimeUnit::Millisecond => 1e3,
        _ => 1.0,
    };
    let value = if is_text { btrim(vec![raw]) } else { raw };
    let whole = try_cast(
        try_cast(
            try_cast(value.clone(), DataType::Int64),
            DataType::Timestamp(unit, None),
        ),
        MICROS,
    );
    let fractional = try_cast(
        try_cast(
            try_cast(value, DataType::Float64) * lit(micros_per_unit),
            DataType::Int64,
        ),
        MICROS,
    );
    match raw_type {
        DataType::Float16 | DataType::Float32 | DataType::Float64 => fractional,
        _ => datafusion::functions::core::expr_fn::coalesce(vec![whole, fractional]),
    }
}
