//! One scan and one aggregation per source: every metric that reads the
//! source, at every shift it is needed, becomes aggregates with FILTER
//! clauses (window ∧ `where` ∧ per-aggregate condition) in a single
//! `Aggregate` node. The window bounds of all of them are pushed down to the
//! scan as one range predicate, so Parquet row groups outside it are pruned.

use std::collections::BTreeMap;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::functions::core as core_fn;
use datafusion::functions_aggregate::expr_fn::{
    avg, count, count_distinct, max, median, min, percentile_cont, sum,
};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, ident, lit};

use super::exprs::{LowerResult, Lowering, safe_div};
use super::names;
use crate::check::model::{Aggregate, MetricKind, Model, Source, TypedExpr, TypedKind};
use crate::check::types::Type;

/// The aggregation of one source, and how to compute its metrics from it.
pub struct SourceAggregate {
    /// key (as `__key__<source>`) + one column per distinct aggregate.
    pub plan: LogicalPlan,
    /// `(metric column, expression over the aggregate columns)`, to evaluate after the join.
    pub metrics: Vec<(String, Expr)>,
}

/// A literal for `micros` in the type of the time column, so the comparison
/// needs no cast and Parquet statistics can prune.
pub fn time_literal(data_type: &DataType, micros: i64) -> Expr {
    let scalar = match data_type {
        DataType::Timestamp(unit, tz) => {
            let value = match unit {
                TimeUnit::Second => micros.div_euclid(1_000_000),
                TimeUnit::Millisecond => micros.div_euclid(1_000),
                TimeUnit::Microsecond => micros,
                TimeUnit::Nanosecond => micros.saturating_mul(1_000),
            };
            match unit {
                TimeUnit::Second => ScalarValue::TimestampSecond(Some(value), tz.clone()),
                TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(Some(value), tz.clone()),
                TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(Some(value), tz.clone()),
                TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(Some(value), tz.clone()),
            }
        }
        DataType::Date32 => {
            ScalarValue::Date32(i32::try_from(micros.div_euclid(86_400_000_000)).ok())
        }
        DataType::Date64 => ScalarValue::Date64(Some(micros.div_euclid(1_000))),
        _ => ScalarValue::TimestampMicrosecond(Some(micros), None),
    };
    lit(scalar)
}

/// `[lo, hi)` in microseconds for one evaluation; `lo` absent without a window.
fn bounds(as_of: i64, window: Option<i64>, shift: i64) -> (Option<i64>, i64) {
    let hi = as_of - shift * 1_000_000;
    (window.map(|w| hi - w * 1_000_000), hi)
}

fn and_all(parts: Vec<Expr>) -> Option<Expr> {
    parts.into_iter().reduce(Expr::and)
}

/// Build the aggregation of `source` for every evaluation the model needs.
pub fn source_aggregate(
    model: &Model,
    source: &Source,
    scan: LogicalPlan,
    time_type: Option<&DataType>,
    key_type: &DataType,
    as_of_micros: i64,
) -> LowerResult<SourceAggregate> {
    let evaluations: Vec<(&crate::check::model::Metric, i64)> = model
        .evaluations
        .iter()
        .filter_map(|(name, shift)| {
            let metric = model.metric(name)?;
            match &metric.kind {
                MetricKind::Aggregate { source: s, .. } if s == &source.name => {
                    Some((metric, *shift))
                }
                _ => None,
            }
        })
        .collect();
    let time = source.time.as_deref().zip(time_type);

    let mut builder = LogicalPlanBuilder::from(scan);
    if let Some((column, data_type)) = time {
        let mut latest = i64::MIN;
        let mut earliest = Some(i64::MAX);
        for (metric, shift) in &evaluations {
            let MetricKind::Aggregate { window, .. } = &metric.kind else {
                continue;
            };
            let (lo, hi) = bounds(as_of_micros, *window, *shift);
            latest = latest.max(hi);
            earliest = earliest.zip(lo).map(|(a, b)| a.min(b));
        }
        let mut range = vec![ident(column).lt(time_literal(data_type, latest))];
        if let Some(lo) = earliest {
            range.push(ident(column).gt_eq(time_literal(data_type, lo)));
        }
        if let Some(predicate) = and_all(range) {
            builder = builder.filter(predicate).map_err(|e| e.to_string())?;
        }
    }

    let mut aggregates: Vec<Expr> = Vec::new();
    let mut by_text: BTreeMap<String, String> = BTreeMap::new();
    let mut metrics = Vec::new();
    for (metric, shift) in &evaluations {
        let MetricKind::Aggregate {
            window,
            filter,
            value,
            ..
        } = &metric.kind
        else {
            continue;
        };
        let (lo, hi) = bounds(as_of_micros, *window, *shift);
        let lowering = Lowering {
            as_of_micros: hi,
            shift: 0,
            key: &source.key,
        };
        let mut conditions = Vec::new();
        if let Some((column, data_type)) = time {
            conditions.push(ident(column).lt(time_literal(data_type, hi)));
            if let Some(lo) = lo {
                conditions.push(ident(column).gt_eq(time_literal(data_type, lo)));
            }
        }
        if let Some(f) = filter {
            conditions.push(lowering.lower(f)?);
        }
        let mut on_aggregate = |node: &TypedExpr| -> LowerResult<Expr> {
            let TypedKind::Aggregate {
                function,
                args,
                filter,
            } = &node.kind
            else {
                return Err("not an aggregate".into());
            };
            let lowered_args = args
                .iter()
                .map(|a| lowering.lower(a))
                .collect::<LowerResult<Vec<_>>>()?;
            let mut all = conditions.clone();
            if let Some(f) = filter {
                all.push(lowering.lower(f)?);
            }
            let predicate = and_all(all);
            let mut register = |base: Expr| -> LowerResult<String> {
                let full = match &predicate {
                    Some(p) => with_filter(base, p.clone())?,
                    None => base,
                };
                let text = full.to_string();
                if let Some(alias) = by_text.get(&text) {
                    return Ok(alias.clone());
                }
                let alias = names::aggregate(&source.name, aggregates.len());
                by_text.insert(text, alias.clone());
                aggregates.push(full.alias(&alias));
                Ok(alias)
            };
            let exact_float = args.first().is_some_and(|a| a.ty != Type::Integer);
            Ok(match (function, exact_float) {
                // Float sums and means add exact decimals, so the result does not
                // depend on the order parallel partitions are merged in.
                (Aggregate::Sum, true) => {
                    let total = register(sum(exact(first(lowered_args)?)))?;
                    cast(zero_filled(&total), DataType::Float64)
                }
                (Aggregate::Avg, _) => {
                    let x = first(lowered_args)?;
                    let total = register(sum(if exact_float {
                        exact(x.clone())
                    } else {
                        x.clone()
                    }))?;
                    let n = register(count(x))?;
                    safe_div(ident(total), ident(n))
                }
                _ => {
                    let alias = register(aggregate_call(*function, lowered_args)?)?;
                    if function.zero_when_empty() {
                        zero_filled(&alias)
                    } else {
                        ident(alias)
                    }
                }
            })
        };
        let expr = lowering.lower_with(value, &mut on_aggregate)?;
        metrics.push((names::metric(&metric.name, *shift), expr));
    }

    let key_column = ident(&source.key);
    let mut projection =
        vec![cast(key_column.clone(), key_type.clone()).alias(names::side_key(&source.name))];
    projection.extend(
        aggregates
            .iter()
            .map(|a| ident(a.schema_name().to_string())),
    );
    let plan = builder
        .aggregate(vec![key_column], aggregates.clone())
        .and_then(|b| b.project(projection))
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?;
    Ok(SourceAggregate { plan, metrics })
}

/// Add a FILTER clause to an aggregate, keeping DISTINCT and ORDER BY.
/// (DataFusion's `ExprFunctionExt::filter(..).build()` resets DISTINCT.)
pub fn with_filter(aggregate: Expr, filter: Expr) -> LowerResult<Expr> {
    match aggregate {
        Expr::AggregateFunction(mut function) => {
            function.params.filter = Some(Box::new(filter));
            Ok(Expr::AggregateFunction(function))
        }
        other => Err(format!("FILTER on a non-aggregate: {other}")),
    }
}

/// A decimal exact to 1e-18 and wide enough (58 integer digits) that no
/// realistic sum overflows: float sums add exactly, in any order.
fn exact(x: Expr) -> Expr {
    cast(x, DataType::Decimal256(76, 18))
}

fn first(mut args: Vec<Expr>) -> LowerResult<Expr> {
    if args.is_empty() {
        Err("aggregate without argument".to_string())
    } else {
        Ok(args.remove(0))
    }
}

fn aggregate_call(function: Aggregate, mut args: Vec<Expr>) -> LowerResult<Expr> {
    let float = |e: Expr| cast(e, DataType::Float64);
    let no_args = args.is_empty();
    let mut first = || {
        if args.is_empty() {
            Err("aggregate without argument".to_string())
        } else {
            Ok(args.remove(0))
        }
    };
    Ok(match function {
        Aggregate::Count => {
            if no_args {
                count(lit(1i64))
            } else {
                count(first()?)
            }
        }
        Aggregate::CountDistinct => count_distinct(first()?),
        Aggregate::Sum => sum(first()?),
        Aggregate::Avg => avg(float(first()?)),
        Aggregate::Min => min(first()?),
        Aggregate::Max => max(first()?),
        Aggregate::Median => median(float(first()?)),
        Aggregate::Percentile => {
            let x = first()?;
            let p = first()?;
            percentile_cont(float(x).sort(true, false), p)
        }
    })
}

/// Count and sum aggregates give 0, not null, for entities without rows.
pub fn zero_filled(column: &str) -> Expr {
    core_fn::coalesce().call(vec![ident(column), lit(0i64)])
}
