//! One scan and one aggregation per source for every metric that reads it:
//! each metric, at every shift it is needed, becomes aggregates with FILTER
//! clauses (window ∧ `where` ∧ per-aggregate condition) in a single
//! `Aggregate` node, and the window bounds of all of them are pushed down to
//! the scan as one range predicate, so Parquet row groups outside it are
//! pruned; each FILTER keeps only the bounds that range does not already
//! imply, so no row is tested twice against one bound. Distinct counts are the exception: each counted value gets its
//! own two-level aggregation over its own (usually much narrower) window —
//! measured much cheaper than a set of values per key (docs/benchmarks.md).

use std::collections::BTreeMap;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::functions::core as core_fn;
use datafusion::functions_aggregate::expr_fn::{avg, bool_or, count, max, median, min, sum};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, ident, lit, when};

use super::PlanError;
use super::exprs::{AsOf, EXACT_INTEGER, LowerResult, Lowering, out_of_range, safe_div};
use super::windows::{Shape, Window, Windowed, WindowedAggregate, WindowedCount};
use crate::base::names;
use crate::base::types::Type;
use crate::base::units::{Micros, Seconds};
use crate::check::functions::Aggregate;
use crate::check::model::{MetricKind, Model, Source, TypedExpr, TypedKind};

/// The aggregations of one source, and how to compute its metrics from them.
pub struct SourceAggregate {
    /// `(side name, plan, rows column, windowed)`: each plan has the key
    /// as `__key__<side>` and one column per aggregate; the scorecard
    /// left-joins every side. The main side also counts the rows it read
    /// per key ([`names::rows_read`]). `windowed` describes the side's
    /// columns as windows over the source's time, for planning many nights
    /// together; absent for a source without time.
    pub sides: Vec<(String, LogicalPlan, Option<String>, Option<Windowed>)>,
    /// `(metric column, expression over the aggregate columns)`, to evaluate after the joins.
    pub metrics: Vec<(String, Expr)>,
}

/// A literal for the instant `micros` in the type of the time column, so
/// the comparison needs no cast and Parquet statistics can prune. An
/// instant beyond what the column's type can hold becomes that type's
/// limit: as a window bound it then selects what the unbounded instant
/// would (every value the column can hold lies on the same side of both).
pub fn time_literal(data_type: &DataType, micros: Micros) -> Expr {
    let micros = micros.get();
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
            let days = micros.div_euclid(86_400_000_000);
            let clamped = i32::try_from(days).unwrap_or(if days < 0 { i32::MIN } else { i32::MAX });
            ScalarValue::Date32(Some(clamped))
        }
        DataType::Date64 => ScalarValue::Date64(Some(micros.div_euclid(1_000))),
        _ => ScalarValue::TimestampMicrosecond(Some(micros), None),
    };
    lit(scalar)
}

/// `[lo, hi)` of one evaluation of `metric`: its window ending `shift`
/// before as-of; `lo` is absent without a window.
fn bounds(
    metric: &str,
    as_of: Micros,
    window: Option<Seconds>,
    shift: Seconds,
) -> LowerResult<(Option<Micros>, Micros)> {
    let hi = as_of.before(shift).ok_or_else(|| {
        out_of_range(&format!(
            "the end of `{metric}`'s window, {shift} before as-of,"
        ))
    })?;
    let lo = match window {
        Some(w) => Some(
            hi.before(w)
                .ok_or_else(|| out_of_range(&format!("the start of `{metric}`'s {w} window")))?,
        ),
        None => None,
    };
    Ok((lo, hi))
}

fn and_all(parts: Vec<Expr>) -> Option<Expr> {
    parts.into_iter().reduce(Expr::and)
}

/// The time range `[lo, hi)` rows must fall in for some aggregates; `lo`
/// is `None` when some aggregate looks at all history.
#[derive(Debug, Clone, Copy)]
struct Range {
    lo: Option<Micros>,
    hi: Micros,
}

impl Range {
    fn new() -> Range {
        Range {
            lo: Some(Micros::MAX),
            hi: Micros::MIN,
        }
    }

    fn include(&mut self, lo: Option<Micros>, hi: Micros) {
        self.hi = self.hi.max(hi);
        self.lo = self.lo.zip(lo).map(|(a, b)| a.min(b));
    }

    /// The range as a predicate on the time column, for row-group pruning.
    fn predicate(&self, column: &str, data_type: &DataType) -> Expr {
        let upper = ident(column).lt(time_literal(data_type, self.hi));
        match self.lo {
            Some(lo) => upper.and(ident(column).gt_eq(time_literal(data_type, lo))),
            None => upper,
        }
    }
}

/// An aggregate's condition as rows that passed `range` still need it:
/// its window bounds, but for those the range itself implies, then its
/// other conditions. `None` when every row in range meets it.
fn within_range(
    range: &Range,
    window: Window,
    other: Option<Expr>,
    time: Option<(&str, &DataType)>,
) -> Option<Expr> {
    let mut parts = Vec::new();
    if let Some((column, data_type)) = time {
        if window.hi < range.hi {
            parts.push(ident(column).lt(time_literal(data_type, window.hi)));
        }
        if let Some(lo) = window.lo
            && range.lo.is_none_or(|start| lo > start)
        {
            parts.push(ident(column).gt_eq(time_literal(data_type, lo)));
        }
    }
    parts.extend(other);
    and_all(parts)
}

/// The rows in `range` that some of `conditions` needs, as one predicate;
/// `None` when every row in range is needed. Windows under the same other
/// condition merge where they overlap or touch, so each condition is
/// tested once (a count over 30 days and the 30 days before become one
/// 60-day window).
fn any_needed(
    range: &Range,
    conditions: impl Iterator<Item = (Window, Option<Expr>)>,
    time: Option<(&str, &DataType)>,
) -> Option<Expr> {
    let mut by_condition: Vec<(Option<Expr>, String, Vec<Window>)> = Vec::new();
    for (window, other) in conditions {
        let text = other.as_ref().map(|e| e.to_string()).unwrap_or_default();
        match by_condition.iter_mut().find(|(_, t, _)| *t == text) {
            Some((_, _, windows)) => windows.push(window),
            None => by_condition.push((other, text, vec![window])),
        }
    }
    let mut needed = Vec::new();
    for (other, _, windows) in by_condition {
        for window in merge_windows(windows) {
            needed.push(within_range(range, window, other.clone(), time)?);
        }
    }
    needed.into_iter().reduce(Expr::or)
}

/// The union of `windows` as the fewest windows: sorted by start (all
/// history first), joined where one starts before or where another ends.
fn merge_windows(mut windows: Vec<Window>) -> Vec<Window> {
    windows.sort_by_key(|w| (w.lo, w.hi));
    let mut merged: Vec<Window> = Vec::new();
    for window in windows {
        match merged.last_mut() {
            Some(last) if window.lo.is_none_or(|lo| lo <= last.hi) => {
                last.hi = last.hi.max(window.hi);
            }
            _ => merged.push(window),
        }
    }
    merged
}

/// A distinct count, computed as its own two-level aggregation: first one
/// row per (key, value) with a flag per condition, then a count per key.
/// One hash table of (key, value) pairs is far cheaper than a set of values
/// per key, and the branch reads only its own window, so Parquet row groups
/// outside it are pruned.
struct DistinctBranch {
    /// The counted value (row context).
    value: Expr,
    /// Per count, its whole condition (window included) as text, to find
    /// a count asked for twice.
    conditions: Vec<String>,
    /// The counts, as windows and conditions apart from them.
    windowed: Vec<WindowedCount>,
    /// The rows the branch reads.
    range: Range,
}

/// Aggregates of one source being collected. Their conditions are put
/// together once every window is known ([`within_range`]).
struct Collector<'a> {
    source: &'a Source,
    by_text: BTreeMap<String, String>,
    range: Range,
    distinct: Vec<DistinctBranch>,
    /// Every aggregate of the main aggregation as a window and a condition.
    windowed: Vec<WindowedAggregate>,
}

/// An aggregate's condition split in two: its window on the time column,
/// and everything else (`where`, the aggregate's own condition).
struct Condition {
    window: Window,
    window_parts: Vec<Expr>,
    other_parts: Vec<Expr>,
}

impl Condition {
    /// The whole condition, as the single-night plan filters by it.
    fn full(&self) -> Option<Expr> {
        and_all(
            self.window_parts
                .iter()
                .chain(&self.other_parts)
                .cloned()
                .collect(),
        )
    }

    /// The condition apart from the window.
    fn other(&self) -> Option<Expr> {
        and_all(self.other_parts.clone())
    }
}

impl Collector<'_> {
    /// Add an aggregate (with its condition) to the main aggregation; returns its column.
    fn register(&mut self, base: Expr, condition: &Condition) -> LowerResult<String> {
        self.range.include(condition.window.lo, condition.window.hi);
        let full = match condition.full() {
            Some(p) => with_filter(base.clone(), p)?,
            None => base.clone(),
        };
        let text = full.to_string();
        if let Some(alias) = self.by_text.get(&text) {
            return Ok(alias.clone());
        }
        let alias = names::aggregate(&self.source.name, self.windowed.len());
        self.by_text.insert(text, alias.clone());
        self.windowed.push(WindowedAggregate {
            column: alias.clone(),
            aggregate: base,
            condition: condition.other(),
            window: condition.window,
        });
        Ok(alias)
    }

    /// Add a distinct count to the branch for its value; returns its column.
    fn register_distinct(&mut self, value: Expr, condition: &Condition) -> String {
        let text = value.to_string();
        let position = match self
            .distinct
            .iter()
            .position(|b| b.value.to_string() == text)
        {
            Some(p) => p,
            None => {
                self.distinct.push(DistinctBranch {
                    value,
                    conditions: Vec::new(),
                    windowed: Vec::new(),
                    range: Range::new(),
                });
                self.distinct.len() - 1
            }
        };
        let branch = &mut self.distinct[position];
        branch
            .range
            .include(condition.window.lo, condition.window.hi);
        let wanted = condition.full().map(|p| p.to_string()).unwrap_or_default();
        if let Some(j) = branch.conditions.iter().position(|c| *c == wanted) {
            return branch.windowed[j].column.clone();
        }
        let column = names::distinct_count(&self.source.name, position, branch.windowed.len());
        branch.conditions.push(wanted);
        branch.windowed.push(WindowedCount {
            column: column.clone(),
            condition: condition.other(),
            window: condition.window,
        });
        column
    }
}

/// Build the aggregations of `source` for every evaluation the model needs.
pub fn source_aggregate(
    model: &Model,
    source: &Source,
    scan: LogicalPlan,
    time_type: Option<&DataType>,
    key_type: &DataType,
    as_of: Micros,
) -> LowerResult<SourceAggregate> {
    let evaluations: Vec<(&crate::check::model::Metric, Seconds)> = model
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
    let mut collector = Collector {
        source,
        by_text: BTreeMap::new(),
        range: Range::new(),
        distinct: Vec::new(),
        windowed: Vec::new(),
    };
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
        let (lo, hi) = bounds(&metric.name, as_of, *window, *shift)?;
        let lowering = Lowering {
            as_of: AsOf::Literal(hi),
            shift: Seconds::ZERO,
            key: &source.key,
        };
        let mut window_parts = Vec::new();
        if let Some((column, data_type)) = time {
            window_parts.push(ident(column).lt(time_literal(data_type, hi)));
            if let Some(lo) = lo {
                window_parts.push(ident(column).gt_eq(time_literal(data_type, lo)));
            }
        }
        let metric_filter = filter.as_ref().map(|f| lowering.lower(f)).transpose()?;
        let mut own_conditions: Vec<Option<Expr>> = Vec::new();
        let mut on_aggregate = |node: &TypedExpr| -> LowerResult<Expr> {
            let LoweredAggregate {
                function,
                args: lowered_args,
                filter,
                exact_float,
            } = lower_aggregate(node, &lowering)?;
            let mut other: Vec<Expr> = metric_filter.iter().cloned().collect();
            if function != Aggregate::CountDistinct {
                own_conditions.push(filter.clone());
            }
            other.extend(filter);
            let condition = Condition {
                window: Window { lo, hi },
                window_parts: window_parts.clone(),
                other_parts: other,
            };
            if function == Aggregate::CountDistinct {
                let column = collector.register_distinct(first(lowered_args)?, &condition);
                return Ok(zero_filled(&column));
            }
            exact_aggregate(function, exact_float, lowered_args, &mut |aggregate| {
                collector.register(aggregate, &condition)
            })
        };
        let expr = lowering.lower_with(value, &mut on_aggregate)?;
        metrics.push((names::metric(&metric.name, *shift), expr));
        if *shift == Seconds::ZERO && metric.has_rows_counted() {
            let mut other_parts: Vec<Expr> = metric_filter.into_iter().collect();
            other_parts.extend(any_of(own_conditions));
            let counted = Condition {
                window: Window { lo, hi },
                window_parts,
                other_parts,
            };
            let column = collector.register(count(lit(1i64)), &counted)?;
            metrics.push((names::rows_counted(&metric.name), zero_filled(&column)));
        }
    }

    let err = |e: datafusion::error::DataFusionError| e.to_string();
    let key = ident(&source.key);
    let mut sides = Vec::new();
    if !collector.windowed.is_empty() {
        let range = &collector.range;
        let mut builder = LogicalPlanBuilder::from(scan.clone());
        if let Some((column, data_type)) = time {
            builder = builder
                .filter(range.predicate(column, data_type))
                .map_err(err)?;
        }
        // When every aggregate has a condition, rows meeting none of them
        // cannot change any result: drop them before aggregating. (Entities
        // left without rows get their zero or null from the left join.)
        let conditions = collector
            .windowed
            .iter()
            .map(|a| (a.window, a.condition.clone()));
        if let Some(any) = any_needed(range, conditions, time) {
            builder = builder.filter(any).map_err(err)?;
        }
        let rows = names::rows_read(&source.name);
        let mut aggregates = collector
            .windowed
            .iter()
            .map(|a| {
                let aggregate = match within_range(range, a.window, a.condition.clone(), time) {
                    Some(condition) => with_filter(a.aggregate.clone(), condition)?,
                    None => a.aggregate.clone(),
                };
                Ok(aggregate.alias(&a.column))
            })
            .collect::<LowerResult<Vec<_>>>()?;
        aggregates.push(count(lit(1i64)).alias(&rows));
        let mut projection =
            vec![cast(key.clone(), key_type.clone()).alias(names::side_key(&source.name))];
        projection.extend(
            aggregates
                .iter()
                .map(|a| ident(a.schema_name().to_string())),
        );
        let plan = builder
            .aggregate(vec![key.clone()], aggregates)
            .and_then(|b| b.project(projection))
            .and_then(|b| b.build())
            .map_err(err)?;
        let windowed = time.map(|(column, data_type)| Windowed {
            scan: scan.clone(),
            key: source.key.clone(),
            time: column.to_string(),
            time_type: data_type.clone(),
            shape: Shape::Aggregates {
                aggregates: collector.windowed.clone(),
                rows: rows.clone(),
            },
        });
        sides.push((source.name.clone(), plan, Some(rows), windowed));
    }
    for (index, branch) in collector.distinct.iter().enumerate() {
        let side = names::distinct_side(&source.name, index);
        let range = &branch.range;
        let mut filter = branch.value.clone().is_not_null();
        if let Some((column, data_type)) = time {
            filter = filter.and(range.predicate(column, data_type));
        }
        let conditions = branch
            .windowed
            .iter()
            .map(|c| (c.window, c.condition.clone()));
        if let Some(any) = any_needed(range, conditions, time) {
            filter = filter.and(any);
        }
        // A count whose condition every row read meets needs no flag: it
        // counts every (key, value) group.
        let mut flags = Vec::new();
        let mut counts = Vec::new();
        for (j, count_of) in branch.windowed.iter().enumerate() {
            let all = count(lit(1i64));
            let counted =
                match within_range(range, count_of.window, count_of.condition.clone(), time) {
                    Some(condition) => {
                        flags.push(
                            bool_or(core_fn::coalesce().call(vec![condition, lit(false)]))
                                .alias(names::distinct_flag(j)),
                        );
                        with_filter(all, ident(names::distinct_flag(j)))?
                    }
                    None => all,
                };
            counts.push(counted.alias(&count_of.column));
        }
        let mut projection =
            vec![cast(key.clone(), key_type.clone()).alias(names::side_key(&side))];
        projection.extend(branch.windowed.iter().map(|c| ident(&c.column)));
        let plan = LogicalPlanBuilder::from(scan.clone())
            .filter(filter)
            .and_then(|b| {
                b.aggregate(
                    vec![
                        key.clone(),
                        branch.value.clone().alias(names::DISTINCT_VALUE),
                    ],
                    flags,
                )
            })
            .and_then(|b| b.aggregate(vec![key.clone()], counts))
            .and_then(|b| b.project(projection))
            .and_then(|b| b.build())
            .map_err(err)?;
        let windowed = time.map(|(column, data_type)| Windowed {
            scan: scan.clone(),
            key: source.key.clone(),
            time: column.to_string(),
            time_type: data_type.clone(),
            shape: Shape::Distinct {
                value: branch.value.clone(),
                counts: branch.windowed.clone(),
            },
        });
        sides.push((side, plan, None, windowed));
    }
    Ok(SourceAggregate { sides, metrics })
}

/// The rows any of `conditions` selects (an absent condition selects every
/// row, and then so does the whole), as one condition; none when every row.
fn any_of(conditions: Vec<Option<Expr>>) -> Option<Expr> {
    let mut distinct: Vec<Expr> = Vec::new();
    for condition in conditions {
        let condition = condition?;
        if !distinct.contains(&condition) {
            distinct.push(condition);
        }
    }
    distinct.into_iter().reduce(Expr::or)
}

/// Add a FILTER clause to an aggregate, keeping DISTINCT and ORDER BY.
/// (DataFusion's `ExprFunctionExt::filter(..).build()` resets DISTINCT.)
pub fn with_filter(aggregate: Expr, filter: Expr) -> LowerResult<Expr> {
    match aggregate {
        Expr::AggregateFunction(mut function) => {
            function.params.filter = Some(Box::new(filter));
            Ok(Expr::AggregateFunction(function))
        }
        other => Err(format!("FILTER on a non-aggregate: {other}").into()),
    }
}

/// A decimal exact to 1e-18 and wide enough (58 integer digits) that no
/// realistic sum overflows: float sums add exactly, in any order.
fn exact(x: Expr) -> Expr {
    cast(x, EXACT_FLOAT)
}

/// The decimal float sums add in: 76 digits, 18 after the point.
const EXACT_FLOAT: DataType = DataType::Decimal256(76, 18);

/// Below this sum of magnitudes no partial sum of an [`EXACT_FLOAT`] can
/// leave its range (2^255 / 10^18 ≈ 5.79 × 10^58), so the sum is exact.
const EXACT_FLOAT_LIMIT: f64 = 5.7e58;

/// The sum of |x| as floats: a bound on every partial sum of `x`.
fn magnitude(x: Expr) -> Expr {
    sum(datafusion::functions::math::expr_fn::abs(cast(
        x,
        DataType::Float64,
    )))
}

/// `value`, or an error when the magnitudes summed reach
/// [`EXACT_FLOAT_LIMIT`] (the decimal sum would have wrapped around): the
/// error is a cast that cannot fit, which the run reports as out of range
/// with the metric and the entity.
fn within_exact_range(magnitude: &str, value: Expr) -> LowerResult<Expr> {
    let beyond = ident(magnitude).gt_eq(lit(EXACT_FLOAT_LIMIT));
    let failing = cast(ident(magnitude) * lit(1e30), EXACT_FLOAT);
    when(beyond, cast(failing, DataType::Float64))
        .otherwise(value)
        .map_err(|e| e.to_string().into())
}

/// An aggregate call with its arguments and condition lowered.
pub struct LoweredAggregate {
    /// The function.
    pub function: Aggregate,
    /// Its arguments.
    pub args: Vec<Expr>,
    /// Its own condition (`count_if`, `sum_if`, …).
    pub filter: Option<Expr>,
    /// Whether it sums or averages floats (added as exact decimals).
    pub exact_float: bool,
}

/// Lower the arguments and condition of an aggregate node.
pub fn lower_aggregate(node: &TypedExpr, lowering: &Lowering<'_>) -> LowerResult<LoweredAggregate> {
    let TypedKind::Aggregate {
        function,
        args,
        filter,
    } = &node.kind
    else {
        return Err("not an aggregate".into());
    };
    Ok(LoweredAggregate {
        function: *function,
        args: args
            .iter()
            .map(|a| lowering.lower(a))
            .collect::<LowerResult<Vec<_>>>()?,
        filter: filter.as_ref().map(|f| lowering.lower(f)).transpose()?,
        exact_float: args.first().is_some_and(|a| a.ty != Type::Integer),
    })
}

/// One aggregate (not a distinct count) over `args`, as exact as the
/// facts compute it: float sums and means add exact decimals, so the
/// result does not depend on the order parallel partitions are merged in;
/// integer sums add as 38-digit decimals and convert back, exact or an
/// error; counts and sums of no rows are 0. `register` adds one aggregate
/// expression to the aggregation and returns its column; the result reads
/// those columns.
pub fn exact_aggregate(
    function: Aggregate,
    exact_float: bool,
    args: Vec<Expr>,
    register: &mut dyn FnMut(Expr) -> LowerResult<String>,
) -> LowerResult<Expr> {
    exact_aggregate_with(function, exact_float, args, register, exact)
}

/// [`exact_aggregate`], turning floats into exact decimals with `exact`
/// (the rollups' own function, [`super::exact_float::exact_float`], gives
/// the same decimals faster; the facts keep the cast that `vane sql`
/// writes as SQL).
pub fn exact_aggregate_with(
    function: Aggregate,
    exact_float: bool,
    args: Vec<Expr>,
    register: &mut dyn FnMut(Expr) -> LowerResult<String>,
    exact: fn(Expr) -> Expr,
) -> LowerResult<Expr> {
    Ok(match (function, exact_float) {
        (Aggregate::Sum, true) => {
            let x = first(args)?;
            let total = register(sum(exact(x.clone())))?;
            let magnitude = register(magnitude(x))?;
            within_exact_range(&magnitude, cast(zero_filled(&total), DataType::Float64))?
        }
        (Aggregate::Sum, false) => {
            let total = register(sum(cast(first(args)?, EXACT_INTEGER)))?;
            cast(zero_filled(&total), DataType::Int64)
        }
        (Aggregate::Avg, _) => {
            let x = first(args)?;
            let summed = if exact_float {
                exact(x.clone())
            } else {
                cast(x.clone(), EXACT_INTEGER)
            };
            let total = register(sum(summed))?;
            let n = register(count(x.clone()))?;
            let mean = safe_div(ident(total), ident(n));
            if exact_float {
                let magnitude = register(magnitude(x))?;
                within_exact_range(&magnitude, mean)?
            } else {
                mean
            }
        }
        _ => {
            let alias = register(aggregate_call(function, args)?)?;
            if function.zero_when_empty() {
                zero_filled(&alias)
            } else {
                ident(alias)
            }
        }
    })
}

fn first(mut args: Vec<Expr>) -> LowerResult<Expr> {
    if args.is_empty() {
        Err("aggregate without argument".into())
    } else {
        Ok(args.remove(0))
    }
}

fn aggregate_call(function: Aggregate, args: Vec<Expr>) -> LowerResult<Expr> {
    let float = |e: Expr| cast(e, DataType::Float64);
    let no_args = args.is_empty();
    let mut args = args.into_iter();
    let mut first = || {
        args.next()
            .ok_or_else(|| PlanError::from("aggregate without argument"))
    };
    Ok(match function {
        Aggregate::Count => {
            if no_args {
                count(lit(1i64))
            } else {
                count(first()?)
            }
        }
        Aggregate::CountDistinct => {
            return Err("distinct counts are planned as their own branch".into());
        }
        Aggregate::Sum => sum(first()?),
        Aggregate::Avg => avg(float(first()?)),
        Aggregate::Min => min(first()?),
        Aggregate::Max => max(first()?),
        Aggregate::Median => median(float(first()?)),
        Aggregate::Percentile => {
            let x = first()?;
            let p = first()?;
            super::percentile::percentile_udaf().call(vec![float(x), float(p)])
        }
    })
}

/// Count and sum aggregates give 0, not null, for entities without rows.
pub fn zero_filled(column: &str) -> Expr {
    core_fn::coalesce().call(vec![ident(column), lit(0i64)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: i64) -> Micros {
        Micros::new(n * 86_400_000_000)
    }

    fn window(lo: Option<i64>, hi: i64) -> Window {
        Window {
            lo: lo.map(day),
            hi: day(hi),
        }
    }

    #[test]
    fn windows_merge_where_they_overlap_or_touch() {
        let merged = merge_windows(vec![
            window(Some(30), 60),
            window(Some(0), 30),
            window(Some(70), 80),
            window(Some(75), 90),
        ]);
        assert_eq!(merged, [window(Some(0), 60), window(Some(70), 90)]);
        let with_all_history = merge_windows(vec![window(Some(10), 20), window(None, 5)]);
        assert_eq!(with_all_history, [window(None, 5), window(Some(10), 20)]);
        assert_eq!(
            merge_windows(vec![window(Some(10), 20), window(None, 15)]),
            [window(None, 20)]
        );
    }

    #[test]
    fn bounds_the_range_implies_are_not_tested_again() {
        let time_type = DataType::Timestamp(TimeUnit::Microsecond, None);
        let time = Some(("t", &time_type));
        let range = Range {
            lo: Some(day(0)),
            hi: day(90),
        };
        // The window that is the whole range, without other conditions:
        // every row read meets it.
        assert_eq!(within_range(&range, window(Some(0), 90), None, time), None);
        let inner = within_range(&range, window(Some(60), 90), None, time).expect("a bound");
        assert_eq!(
            inner.to_string(),
            "t >= TimestampMicrosecond(5184000000000, None)"
        );
        let other = ident("kind").eq(lit("login"));
        let both = within_range(&range, window(Some(0), 30), Some(other.clone()), time)
            .expect("a condition");
        assert_eq!(
            both.to_string(),
            "t < TimestampMicrosecond(2592000000000, None) AND kind = Utf8(\"login\")"
        );
        // Every row is needed when one condition is the whole range.
        let conditions = vec![
            (window(Some(0), 90), None),
            (window(Some(0), 30), Some(other.clone())),
        ];
        assert_eq!(any_needed(&range, conditions.into_iter(), time), None);
        // Two windows under one condition are tested as one.
        let conditions = vec![
            (window(Some(30), 90), Some(other.clone())),
            (window(Some(0), 30), Some(other.clone())),
        ];
        let any = any_needed(&range, conditions.into_iter(), time).expect("a condition");
        assert_eq!(any.to_string(), "kind = Utf8(\"login\")");
    }
}
