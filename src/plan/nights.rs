//! Many nights in one pass. A source's aggregates are windows over its
//! time column; the nights of a backfill differ only in where the windows
//! end. Cut time into buckets whose edges fall on every window's edges,
//! aggregate each source once per (entity, bucket) — counts, sums, minima
//! and maxima, each under its own condition — and every night's aggregate
//! is a combination of the buckets inside its window. A distinct count
//! keeps, per (entity, value), a mask of the nights whose window holds one
//! of the value's rows. The targets' rows that any night may find
//! effective are read once, and each night picks its own. Exact, not
//! approximate.
//!
//! A side is shared only when every night's plan has the same aggregates
//! and conditions, apart from where the windows lie. Otherwise — a
//! condition that reads `as_of`, `median` and `percentile`, a source
//! without time — it is computed night by night as `run` does, and
//! [`NightsPlan::per_night`] says why.

use std::collections::BTreeMap;

use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::functions::core as core_fn;
use datafusion::functions_aggregate::expr_fn::{bit_or, count};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, ident, lit, when};

use super::aggregate::{time_literal, with_filter};
pub use super::night_mask::NIGHTS_PER_WORD;
use super::night_mask::night_mask_udf;
use super::scorecard::{ScorecardPlan, Side};
use super::targets::EffectiveTargets;
use super::windows::{Shape, Window, Windowed, WindowedAggregate, WindowedCount};
use crate::base::names;
use crate::base::units::Micros;

/// The buckets `lo ≤ b < hi` of one night's window; `lo` absent means
/// from the first bucket (including the one before the origin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketRange {
    /// The first bucket inside, if bounded.
    pub lo: Option<i64>,
    /// The first bucket after.
    pub hi: i64,
}

impl BucketRange {
    /// Whether bucket `b` lies inside.
    pub fn contains(&self, b: i64) -> bool {
        self.lo.is_none_or(|lo| lo <= b) && b < self.hi
    }
}

/// How a night's column combines the buckets inside its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// Add the buckets' counts.
    Count,
    /// Add the buckets' sums; null when no bucket had a value.
    Sum,
    /// The least of the buckets' minima.
    Min,
    /// The greatest of the buckets' maxima.
    Max,
}

/// One column of a shared main side.
#[derive(Debug, Clone)]
pub struct Combined {
    /// The side's column.
    pub column: String,
    /// How buckets combine.
    pub combine: Combine,
    /// The bucket aggregation's column holding the per-bucket value.
    pub input: String,
    /// For sums, the column counting the values summed per bucket.
    pub values: Option<String>,
    /// Per night, the buckets inside its window.
    pub ranges: Vec<BucketRange>,
}

/// How every night's side follows from the bucket aggregation.
#[derive(Debug, Clone)]
pub enum Recipe {
    /// A main side: its columns, and per night the bucket ranges whose
    /// row counts (one column per set of conditions) give the rows read.
    Aggregates {
        /// The width of a bucket (of the finest grid every window edge
        /// falls on).
        bucket: Micros,
        /// When the nights' step holds more of those than window edges:
        /// the buckets per step, each running from one edge to the next.
        joined: Option<(usize, Micros)>,
        /// Every aggregate column.
        columns: Vec<Combined>,
        /// The rows-read column of the side.
        rows: String,
        /// Per night, `(buckets, row-count column)` to add.
        row_ranges: Vec<Vec<(BucketRange, String)>>,
    },
    /// A distinct side: per (entity, value), masks of the nights the value
    /// counts for ([`NIGHTS_PER_WORD`] nights per column).
    Distinct {
        /// The mask columns of the nights that put the entity into the side.
        presence: Vec<String>,
        /// `(side column, its mask columns)`.
        counts: Vec<(String, Vec<String>)>,
    },
    /// The targets: the rows any night may find effective, and per night,
    /// entity and KPI the last of those effective at its as-of.
    Effective {
        /// The KPIs, in the side's column order.
        kpis: Vec<String>,
        /// Whether rows have a start.
        has_from: bool,
        /// Whether rows have an end.
        has_to: bool,
    },
}

/// A side every night shares: one aggregation, then a combination per night.
#[derive(Debug, Clone)]
pub struct SharedSide {
    /// The side's name (as in the night's plan).
    pub name: String,
    /// The single-night side's schema, which every night's batch has.
    pub schema: SchemaRef,
    /// The aggregation by (entity, bucket): key first, then `__bucket`
    /// (main sides) or the bucket lists (distinct sides); for the targets,
    /// the rows any night may find effective.
    pub plan: LogicalPlan,
    /// How each night follows.
    pub recipe: Recipe,
}

/// Many nights planned together.
#[derive(Debug, Clone)]
pub struct NightsPlan {
    /// The nights' as-of instants, ascending.
    pub nights: Vec<Micros>,
    /// Sides computed once for every night.
    pub shared: Vec<SharedSide>,
    /// `(side, why)` for the sides each night computes for itself.
    pub per_night: Vec<(String, String)>,
    /// Per night, the parts of its facts that need no earlier night (the
    /// population under [`names::POPULATION_PART`], the sides
    /// not shared): a backfill computes them ahead, while earlier nights
    /// finish.
    pub own: Vec<Vec<(String, LogicalPlan)>>,
    /// The sides every night joins to its population, in order (all but
    /// the previous night's health), each with its rows-read column.
    pub join_order: Vec<(String, Option<String>)>,
    /// The entity key column.
    pub key: String,
}

/// The bucket column of a bucket aggregation.
pub const BUCKET: &str = "__bucket";
/// The value column of a distinct bucket aggregation.
const VALUE: &str = "__value";
/// The mask columns of the nights a value puts its entity into the side.
const PRESENCE: &str = "__present";

type Shared<T> = Result<T, String>;

/// Plan `nights` (as-of instant and that night's plan, ascending) together;
/// `key` is the entity key column.
pub fn plan_nights(nights: &[(Micros, &ScorecardPlan)], key: &str) -> NightsPlan {
    let mut plan = NightsPlan {
        nights: nights.iter().map(|(n, _)| *n).collect(),
        shared: Vec::new(),
        per_night: Vec::new(),
        own: Vec::new(),
        join_order: Vec::new(),
        key: key.to_string(),
    };
    let Some((_, first)) = nights.first() else {
        return plan;
    };
    for side in &first.sides {
        let sides: Option<Vec<&Side>> = nights
            .iter()
            .map(|(_, p)| p.sides.iter().find(|s| s.name == side.name))
            .collect();
        let result = match (&side.windowed, sides) {
            _ if side.name == names::PREVIOUS_SIDE => continue,
            _ if side.name == names::TARGETS_SIDE => match &first.effective_targets {
                Some(effective) => Ok(share_targets(side, effective)),
                None => Err("the nights' targets were not planned together".to_string()),
            },
            (None, _) => Err("its source has no time column".to_string()),
            (Some(_), None) => Err("the nights' plans differ".to_string()),
            (Some(_), Some(sides)) => share(&plan.nights, &sides),
        };
        match result {
            Ok(shared) => plan.shared.push(shared),
            Err(why) => plan.per_night.push((side.name.clone(), why)),
        }
    }
    plan.join_order = first
        .sides
        .iter()
        .filter(|s| s.name != names::PREVIOUS_SIDE)
        .map(|s| (s.name.clone(), s.rows.clone()))
        .collect();
    plan.own = nights
        .iter()
        .map(|(_, night)| {
            let population = (names::POPULATION_PART.to_string(), night.population.clone());
            std::iter::once(population)
                .chain(
                    night
                        .sides
                        .iter()
                        .filter(|s| s.name != names::PREVIOUS_SIDE)
                        .filter(|s| !plan.shared.iter().any(|shared| shared.name == s.name))
                        .map(|s| (s.name.clone(), s.plan.clone())),
                )
                .collect()
        })
        .collect();
    plan
}

/// The targets side: its rows read once, each night's picked from them.
fn share_targets(side: &Side, effective: &EffectiveTargets) -> SharedSide {
    SharedSide {
        name: side.name.clone(),
        schema: side.plan.schema().inner().clone(),
        plan: effective.rows.clone(),
        recipe: Recipe::Effective {
            kpis: effective.kpis.clone(),
            has_from: effective.has_from,
            has_to: effective.has_to,
        },
    }
}

/// The side as one aggregation for every night, or why it cannot be.
fn share(nights: &[Micros], sides: &[&Side]) -> Shared<SharedSide> {
    let first = sides[0];
    let windowed = first.windowed.as_ref().ok_or("no windows")?;
    let schema: SchemaRef = first.plan.schema().inner().clone();
    for side in sides {
        if side.plan.schema().inner().fields() != schema.fields() {
            return Err("the nights' plans differ".to_string());
        }
    }
    let unit = micros_per_unit(&windowed.time_type).ok_or_else(|| {
        format!(
            "its time column is of type {}, not a timestamp or date",
            windowed.time_type
        )
    })?;
    let windows = windows_by_night(nights, sides)?;
    let (plan, recipe) = match &windowed.shape {
        Shape::Aggregates { aggregates, rows } => {
            let grid = Grid::new(nights, &windows, unit)?;
            let (plan, recipe) = share_aggregates(windowed, aggregates, rows, &windows, &grid)?;
            if let Recipe::Aggregates { columns, .. } = &recipe {
                let output = plan.schema().inner().clone();
                for c in columns {
                    let made = output
                        .field_with_name(&c.input)
                        .map_err(|e| e.to_string())?;
                    let wanted = schema
                        .field_with_name(&c.column)
                        .map_err(|e| e.to_string())?;
                    if made.data_type() != wanted.data_type() || !combinable(c, made.data_type()) {
                        return Err(format!(
                            "`{}` is of type {}, which buckets do not combine",
                            c.column,
                            wanted.data_type()
                        ));
                    }
                }
            }
            (plan, recipe)
        }
        Shape::Distinct { value, counts } => {
            share_distinct(windowed, value, counts, nights, &windows, unit)?
        }
    };
    Ok(SharedSide {
        name: first.name.clone(),
        schema,
        plan,
        recipe,
    })
}

fn combinable(column: &Combined, data_type: &DataType) -> bool {
    match column.combine {
        Combine::Count => *data_type == DataType::Int64,
        Combine::Sum => matches!(
            data_type,
            DataType::Int64
                | DataType::Float64
                | DataType::Decimal128(..)
                | DataType::Decimal256(..)
        ),
        Combine::Min | Combine::Max => true,
    }
}

/// Microseconds per stored unit of a time column's type.
fn micros_per_unit(data_type: &DataType) -> Option<Unit> {
    Some(match data_type {
        DataType::Timestamp(TimeUnit::Second, _) => Unit::Coarser(1_000_000),
        DataType::Timestamp(TimeUnit::Millisecond, _) | DataType::Date64 => Unit::Coarser(1_000),
        DataType::Timestamp(TimeUnit::Microsecond, _) => Unit::Coarser(1),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => Unit::Nanos,
        DataType::Date32 => Unit::Coarser(86_400_000_000),
        _ => return None,
    })
}

/// How a time column stores instants.
#[derive(Debug, Clone, Copy)]
enum Unit {
    /// Whole multiples of this many microseconds.
    Coarser(i64),
    /// Nanoseconds.
    Nanos,
}

impl Unit {
    /// `micros` in the column's unit, when it is a whole number of them.
    fn native(self, micros: i64) -> Option<i64> {
        match self {
            Unit::Coarser(per) => (micros % per == 0).then_some(micros / per),
            Unit::Nanos => micros.checked_mul(1_000),
        }
    }
}

/// One column of a side as the nights compare it: what it computes, its
/// condition apart from the window, and its window.
struct Term {
    what: String,
    condition: Option<String>,
    window: Window,
}

impl Term {
    fn of(side: &Side) -> Shared<Vec<Term>> {
        let windowed = side.windowed.as_ref().ok_or("no windows")?;
        let condition = |c: &Option<Expr>| c.as_ref().map(ToString::to_string);
        Ok(match &windowed.shape {
            Shape::Aggregates { aggregates, .. } => aggregates
                .iter()
                .map(|a| Term {
                    what: format!("{}:{}", a.column, a.aggregate),
                    condition: condition(&a.condition),
                    window: a.window,
                })
                .collect(),
            Shape::Distinct { value, counts } => counts
                .iter()
                .map(|c| Term {
                    what: format!("{}:{value}", c.column),
                    condition: condition(&c.condition),
                    window: c.window,
                })
                .collect(),
        })
    }

    /// Where the window lies relative to `night`.
    fn relative(&self, night: Micros) -> (Option<Option<i64>>, Option<i64>) {
        (
            self.window.lo.map(|lo| night.get().checked_sub(lo.get())),
            night.get().checked_sub(self.window.hi.get()),
        )
    }
}

/// Per night, every column's window (in the first side's column order),
/// checking that the nights agree on everything else and that each
/// window lies at the same place relative to its night.
fn windows_by_night(nights: &[Micros], sides: &[&Side]) -> Shared<Vec<Vec<Window>>> {
    let mut first: Option<(Micros, Vec<Term>)> = None;
    let mut windows = Vec::with_capacity(sides.len());
    for (&night, side) in nights.iter().zip(sides) {
        let terms = Term::of(side)?;
        if let Some((first_night, first_terms)) = &first {
            if first_terms.len() != terms.len()
                || first_terms
                    .iter()
                    .zip(&terms)
                    .any(|(a, b)| a.what != b.what)
            {
                return Err("the nights' plans differ".to_string());
            }
            if first_terms
                .iter()
                .zip(&terms)
                .any(|(a, b)| a.condition != b.condition)
            {
                return Err("a condition reads `as_of`".to_string());
            }
            if first_terms
                .iter()
                .zip(&terms)
                .any(|(a, b)| a.relative(*first_night) != b.relative(night))
            {
                return Err("a window reaches the limit of time".to_string());
            }
        }
        windows.push(terms.iter().map(|t| t.window).collect());
        if first.is_none() {
            first = Some((night, terms));
        }
    }
    Ok(windows)
}

/// Buckets of `width` microseconds from `origin`: every window edge of
/// every night is a bucket edge. With a window over all history, bucket
/// −1 holds everything before the origin.
///
/// Evenly spaced nights put their window edges at the same few offsets
/// within every step (a 30-day window every 7 days: the nights, and 2 days
/// after each): when those offsets are fewer than the buckets in a step,
/// the buckets between two edges are joined into one, so the aggregation
/// groups far fewer (entity, bucket) pairs for the same answers.
struct Grid {
    origin: i64,
    width: i64,
    unit: Unit,
    all_history: bool,
    /// `[lo, hi)` of the rows any night reads.
    lo: Option<i64>,
    hi: i64,
    /// Buckets of `width` per step, and the offsets (in buckets, ascending,
    /// the first 0) where an edge falls within a step, when joined.
    joined: Option<(i64, Vec<i64>)>,
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a.abs() } else { gcd(b, a % b) }
}

impl Grid {
    fn new(nights: &[Micros], windows: &[Vec<Window>], unit: Unit) -> Shared<Grid> {
        let all = windows.iter().flatten();
        let edges: Vec<i64> = all
            .clone()
            .flat_map(|w| w.lo.into_iter().chain([w.hi]).map(Micros::get))
            .collect();
        let all_history = all.clone().any(|w| w.lo.is_none());
        let origin = edges
            .iter()
            .copied()
            .min()
            .or(nights.first().map(|n| n.get()))
            .ok_or("no nights")?;
        let hi = edges.iter().copied().max().unwrap_or(origin);
        let width = edges
            .iter()
            .try_fold(0i64, |g, e| e.checked_sub(origin).map(|d| gcd(g, d)))
            .ok_or("a window reaches the limit of time")?;
        let width = if width == 0 { 86_400_000_000 } else { width };
        for micros in [origin, width] {
            unit.native(micros)
                .ok_or("its windows do not fall on whole units of its time column")?;
        }
        Ok(Grid {
            origin,
            width,
            unit,
            all_history,
            lo: (!all_history).then_some(origin),
            hi,
            joined: joined_buckets(nights, &edges, origin, width),
        })
    }

    /// The bucket an edge starts.
    fn bucket(&self, edge: Micros) -> i64 {
        let fine = (edge.get() - self.origin) / self.width;
        match &self.joined {
            None => fine,
            Some((per_step, offsets)) => {
                let within = fine % per_step;
                let before = offsets.partition_point(|&o| o <= within) as i64;
                (fine / per_step) * offsets.len() as i64 + before - 1
            }
        }
    }

    fn range(&self, window: Window) -> BucketRange {
        BucketRange {
            lo: window.lo.map(|lo| self.bucket(lo)),
            hi: self.bucket(window.hi),
        }
    }

    /// The bucket of a row, from its time column: as [`Grid::bucket`]
    /// computes it, in the engine's arithmetic.
    fn bucket_expr(&self, time: &str, time_type: &DataType) -> Shared<Expr> {
        let native = |micros| {
            self.unit
                .native(micros)
                .ok_or("a bucket edge between units")
        };
        let Some((per_step, offsets)) = &self.joined else {
            let offset = cast(ident(time), DataType::Int64) - lit(native(self.origin)?);
            let bucket = offset / lit(native(self.width)?);
            return if self.all_history {
                when(
                    ident(time).lt(time_literal(time_type, Micros::new(self.origin))),
                    lit(-1i64),
                )
                .otherwise(bucket)
                .map_err(|e| e.to_string())
            } else {
                Ok(bucket)
            };
        };
        // Counted from a step before the origin, so that the division
        // (which truncates) stays exact for every row from there on: the
        // grid's bucket plus a step. Steps before, times the edges in a
        // step, plus the edges after the step's first at or before the
        // row, less the step added.
        let edges = offsets.len() as i64;
        let start = self
            .origin
            .checked_sub(per_step * self.width)
            .ok_or("a window reaches the limit of time")?;
        let shifted =
            (cast(ident(time), DataType::Int64) - lit(native(start)?)) / lit(native(self.width)?);
        let within = shifted.clone() % lit(*per_step);
        let bucket = offsets.iter().skip(1).fold(
            (shifted / lit(*per_step)) * lit(edges) - lit(edges),
            |sum, offset| sum + cast(within.clone().gt_eq(lit(*offset)), DataType::Int64),
        );
        // Rows before the origin (read only by windows over all history)
        // come out below 0: all of them are bucket −1.
        Ok(if self.all_history {
            core_fn::greatest().call(vec![bucket, lit(-1i64)])
        } else {
            bucket
        })
    }

    /// The rows any night reads, as a predicate on the time column.
    fn predicate(&self, time: &str, time_type: &DataType) -> Expr {
        let upper = ident(time).lt(time_literal(time_type, Micros::new(self.hi)));
        match self.lo {
            Some(lo) => upper.and(ident(time).gt_eq(time_literal(time_type, Micros::new(lo)))),
            None => upper,
        }
    }
}

/// For nights evenly spaced by a whole number of buckets: that number,
/// and the offsets within a step where edges fall, when there are fewer
/// offsets than buckets (else joining buckets gains nothing).
fn joined_buckets(
    nights: &[Micros],
    edges: &[i64],
    origin: i64,
    width: i64,
) -> Option<(i64, Vec<i64>)> {
    let step = match nights {
        [first, second, ..] => second.get() - first.get(),
        _ => return None,
    };
    let evenly = nights.windows(2).all(|p| p[1].get() - p[0].get() == step);
    if !evenly || step <= 0 || width <= 0 || step % width != 0 {
        return None;
    }
    let per_step = step / width;
    let mut offsets: Vec<i64> = edges
        .iter()
        .map(|e| ((e - origin) / width) % per_step)
        .collect();
    offsets.sort_unstable();
    offsets.dedup();
    (offsets.first() == Some(&0) && (offsets.len() as i64) < per_step)
        .then_some((per_step, offsets))
}

/// How an aggregate call combines over buckets, when it does.
fn combine_of(aggregate: &Expr) -> Shared<(Combine, Option<Expr>)> {
    let Expr::AggregateFunction(function) = aggregate else {
        return Err(format!("`{aggregate}` is not an aggregate"));
    };
    let params = &function.params;
    if params.distinct || params.filter.is_some() || !params.order_by.is_empty() {
        return Err(format!("`{aggregate}` needs each night's rows"));
    }
    let arg = params.args.first().cloned();
    Ok(match function.func.name() {
        "count" => (Combine::Count, None),
        "sum" => (Combine::Sum, arg),
        "min" => (Combine::Min, None),
        "max" => (Combine::Max, None),
        other => return Err(format!("`{other}` needs each night's rows")),
    })
}

fn err(e: datafusion::error::DataFusionError) -> String {
    e.to_string()
}

/// The bucket aggregation of a main side, and how nights follow from it.
fn share_aggregates(
    windowed: &Windowed,
    aggregates: &[WindowedAggregate],
    rows: &str,
    windows: &[Vec<Window>],
    grid: &Grid,
) -> Shared<(LogicalPlan, Recipe)> {
    let (time, time_type) = (windowed.time.as_str(), &windowed.time_type);
    let mut outputs: Vec<Expr> = Vec::new();
    let mut by_text: BTreeMap<String, String> = BTreeMap::new();
    let mut add = |e: Expr, outputs: &mut Vec<Expr>| -> String {
        let text = e.to_string();
        if let Some(name) = by_text.get(&text) {
            return name.clone();
        }
        let name = format!("__b{}", outputs.len());
        by_text.insert(text, name.clone());
        outputs.push(e.alias(&name));
        name
    };
    let filtered = |e: Expr, condition: &Option<Expr>| -> Shared<Expr> {
        match condition {
            Some(c) => with_filter(e, c.clone()).map_err(|e| format!("{e:?}")),
            None => Ok(e),
        }
    };
    let mut columns = Vec::new();
    for (index, a) in aggregates.iter().enumerate() {
        let (combine, summed) = combine_of(&a.aggregate)?;
        let input = add(filtered(a.aggregate.clone(), &a.condition)?, &mut outputs);
        let values = match summed {
            Some(arg) => Some(add(filtered(count(arg), &a.condition)?, &mut outputs)),
            None => None,
        };
        columns.push(Combined {
            column: a.column.clone(),
            combine,
            input,
            values,
            ranges: windows.iter().map(|w| grid.range(w[index])).collect(),
        });
    }
    // Rows read: per night, the buckets where the same set of conditions
    // is active share one row-count column.
    let conditions: Vec<Option<String>> = aggregates
        .iter()
        .map(|a| a.condition.as_ref().map(ToString::to_string))
        .collect();
    let mut row_ranges = Vec::with_capacity(windows.len());
    for night in windows {
        let ranges: Vec<BucketRange> = night.iter().map(|w| grid.range(*w)).collect();
        let mut edges: Vec<i64> = ranges
            .iter()
            .flat_map(|r| r.lo.into_iter().chain([r.hi]))
            .collect();
        edges.sort_unstable();
        edges.dedup();
        let mut pieces: Vec<BucketRange> = edges
            .windows(2)
            .map(|p| BucketRange {
                lo: Some(p[0]),
                hi: p[1],
            })
            .collect();
        if grid.all_history
            && let Some(&first) = edges.first()
        {
            pieces.insert(
                0,
                BucketRange {
                    lo: None,
                    hi: first,
                },
            );
        }
        let mut night_rows = Vec::new();
        for piece in pieces {
            let active: Vec<usize> = ranges
                .iter()
                .enumerate()
                .filter(|(_, r)| covers(r, &piece))
                .map(|(i, _)| i)
                .collect();
            if active.is_empty() {
                continue;
            }
            let any = if active.iter().any(|&i| conditions[i].is_none()) {
                None
            } else {
                let mut seen = BTreeMap::new();
                for &i in &active {
                    if let Some(c) = &aggregates[i].condition {
                        seen.insert(c.to_string(), c.clone());
                    }
                }
                seen.into_values().reduce(Expr::or)
            };
            let column = add(filtered(count(lit(1i64)), &any)?, &mut outputs);
            night_rows.push((piece, column));
        }
        row_ranges.push(night_rows);
    }
    // When every aggregate has a condition, rows meeting none of them
    // change nothing: drop them before grouping.
    let mut filter = grid.predicate(time, time_type);
    let any: Option<Vec<Expr>> = aggregates.iter().map(|a| a.condition.clone()).collect();
    let mut distinct_conditions = BTreeMap::new();
    for condition in any.into_iter().flatten() {
        distinct_conditions.insert(condition.to_string(), condition);
    }
    if let Some(any) = distinct_conditions.into_values().reduce(Expr::or) {
        filter = filter.and(any);
    }
    let bucket = grid.bucket_expr(time, time_type)?;
    let plan = LogicalPlanBuilder::from(windowed.scan.clone())
        .filter(filter)
        .and_then(|b| b.aggregate(vec![ident(&windowed.key), bucket.alias(BUCKET)], outputs))
        .and_then(|b| b.build())
        .map_err(err)?;
    Ok((
        plan,
        Recipe::Aggregates {
            bucket: Micros::new(grid.width),
            joined: grid
                .joined
                .as_ref()
                .map(|(per_step, offsets)| (offsets.len(), Micros::new(per_step * grid.width))),
            columns,
            rows: rows.to_string(),
            row_ranges,
        },
    ))
}

/// Whether `outer` holds every bucket of `inner` (a piece between edges).
fn covers(outer: &BucketRange, inner: &BucketRange) -> bool {
    let lo_ok = match (outer.lo, inner.lo) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(a), Some(b)) => a <= b,
    };
    lo_ok && inner.hi <= outer.hi
}

/// The aggregation of a distinct side by (entity, value): per count, the
/// nights whose window holds one of the value's rows (under the count's
/// condition), as masks of bits; and the nights whose branch range holds
/// any row (which puts the entity into that night's side). A row at time
/// `t` lies in the windows of a run of consecutive nights, computed from
/// `t` by division because the nights are evenly spaced
/// ([`night_mask_udf`]).
fn share_distinct(
    windowed: &Windowed,
    value: &Expr,
    counts: &[WindowedCount],
    nights: &[Micros],
    windows: &[Vec<Window>],
    unit: Unit,
) -> Shared<(LogicalPlan, Recipe)> {
    let (time, time_type) = (windowed.time.as_str(), &windowed.time_type);
    let step = match nights {
        [first, second, ..] => second.get() - first.get(),
        _ => 86_400_000_000,
    };
    if nights.windows(2).any(|p| p[1].get() - p[0].get() != step) || step <= 0 {
        return Err("the nights are not evenly spaced".to_string());
    }
    let native = |micros: i64| {
        unit.native(micros)
            .ok_or_else(|| "its windows do not fall on whole units of its time column".to_string())
    };
    let first = windows.first().ok_or("no nights")?;
    let last = windows.last().ok_or("no nights")?;
    let presence_of = |night: &[Window]| Window {
        lo: night
            .iter()
            .map(|w| w.lo)
            .collect::<Option<Vec<_>>>()
            .and_then(|los| los.into_iter().min()),
        hi: night.iter().map(|w| w.hi).max().unwrap_or(Micros::MIN),
    };
    let t = cast(ident(time), DataType::Int64);
    let step_native = native(step)?;
    let words = nights.len().div_ceil(NIGHTS_PER_WORD);
    let last_night = nights.len() as i64 - 1;
    // The masks of one window (as it lies on the first night) for the row's time.
    let masks = |window: Window| -> Shared<Vec<Expr>> {
        let hi = native(window.hi.get())?;
        let lo = window.lo.map(|lo| native(lo.get())).transpose()?;
        Ok((0..words)
            .map(|w| {
                let base = (w * NIGHTS_PER_WORD) as i64;
                night_mask_udf().call(vec![
                    t.clone(),
                    lit(hi),
                    lit(ScalarValue::Int64(lo)),
                    lit(step_native),
                    lit(last_night),
                    lit(base),
                ])
            })
            .collect())
    };
    let mut aggregates = Vec::new();
    let presence_columns: Vec<String> = (0..words).map(|w| format!("{PRESENCE}{w}")).collect();
    for (mask, column) in masks(presence_of(first))?
        .into_iter()
        .zip(&presence_columns)
    {
        aggregates.push(bit_or(mask).alias(column));
    }
    let mut count_columns = Vec::new();
    for (j, c) in counts.iter().enumerate() {
        let columns: Vec<String> = (0..words).map(|w| format!("{}{w}", list(j))).collect();
        for (mask, column) in masks(first[j])?.into_iter().zip(&columns) {
            let masked = match &c.condition {
                Some(condition) => {
                    with_filter(bit_or(mask), condition.clone()).map_err(|e| format!("{e:?}"))?
                }
                None => bit_or(mask),
            };
            aggregates.push(masked.alias(column));
        }
        count_columns.push((c.column.clone(), columns));
    }
    let span = presence_of(first);
    let end = presence_of(last).hi;
    let mut filter = value
        .clone()
        .is_not_null()
        .and(ident(time).lt(time_literal(time_type, end)));
    if let Some(lo) = span.lo {
        filter = filter.and(ident(time).gt_eq(time_literal(time_type, lo)));
    }
    let key = ident(&windowed.key);
    let mut projection = vec![key.clone()];
    projection.extend(
        aggregates
            .iter()
            .map(|a| ident(a.schema_name().to_string())),
    );
    let plan = LogicalPlanBuilder::from(windowed.scan.clone())
        .filter(filter)
        .and_then(|b| b.aggregate(vec![key.clone(), value.clone().alias(VALUE)], aggregates))
        .and_then(|b| b.project(projection))
        .and_then(|b| b.build())
        .map_err(err)?;
    Ok((
        plan,
        Recipe::Distinct {
            presence: presence_columns,
            counts: count_columns,
        },
    ))
}

fn list(j: usize) -> String {
    format!("__nights{j}_")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000;

    fn window(night: i64, days_back: i64, shift_days: i64) -> Window {
        let hi = night - shift_days * DAY;
        Window {
            lo: Some(Micros::new(hi - days_back * DAY)),
            hi: Micros::new(hi),
        }
    }

    #[test]
    fn buckets_between_edges_are_joined_when_a_step_has_fewer_edges_than_buckets() {
        let nights: Vec<Micros> = (0..4)
            .map(|n| Micros::new(100 * DAY + 7 * n * DAY))
            .collect();
        let windows: Vec<Vec<Window>> = nights
            .iter()
            .map(|n| vec![window(n.get(), 30, 0)])
            .collect();
        let grid = Grid::new(&nights, &windows, Unit::Coarser(1)).expect("grid");
        // Edges fall on days 0 and 2 of every week from day 70: buckets
        // [70, 72), [72, 77), [77, 79), … — two a week instead of seven.
        assert_eq!(grid.width, DAY);
        assert_eq!(grid.joined, Some((7, vec![0, 2])));
        let at = |day: i64| grid.bucket(Micros::new(day * DAY));
        assert_eq!(
            [at(70), at(72), at(77), at(79), at(84), at(100)],
            [0, 1, 2, 3, 4, 9]
        );
        assert_eq!(
            grid.range(windows[0][0]),
            BucketRange { lo: Some(0), hi: 9 }
        );
        assert_eq!(
            grid.range(windows[3][0]),
            BucketRange {
                lo: Some(6),
                hi: 15
            }
        );
        // A step that every edge divides gains nothing from joining.
        let weekly: Vec<Vec<Window>> = nights
            .iter()
            .map(|n| vec![window(n.get(), 28, 0)])
            .collect();
        let grid = Grid::new(&nights, &weekly, Unit::Coarser(1)).expect("grid");
        assert_eq!((grid.width, grid.joined.is_none()), (7 * DAY, true));
    }

    #[test]
    fn buckets_are_as_wide_as_every_window_edge_allows() {
        let nights: Vec<Micros> = (0..4)
            .map(|n| Micros::new(100 * DAY + 7 * n * DAY))
            .collect();
        let windows: Vec<Vec<Window>> = nights
            .iter()
            .map(|n| vec![window(n.get(), 28, 0), window(n.get(), 14, 14)])
            .collect();
        let grid = Grid::new(&nights, &windows, Unit::Coarser(1)).expect("grid");
        // Every edge is a multiple of 7 days from the earliest one.
        assert_eq!(grid.width, 7 * DAY);
        assert_eq!(grid.origin, 100 * DAY - 28 * DAY);
        assert_eq!(
            grid.range(windows[3][0]),
            BucketRange { lo: Some(3), hi: 7 }
        );
        // A 12-hour window makes buckets of 12 hours, which a date column
        // cannot hold.
        let mut halves = windows.clone();
        for (night, w) in nights.iter().zip(&mut halves) {
            w.push(Window {
                lo: Some(Micros::new(night.get() - DAY / 2)),
                hi: *night,
            });
        }
        let grid = Grid::new(&nights, &halves, Unit::Coarser(1)).expect("grid");
        assert_eq!(grid.width, DAY / 2);
        assert!(Grid::new(&nights, &halves, Unit::Coarser(DAY)).is_err());
    }

    #[test]
    fn a_window_over_all_history_puts_older_rows_in_bucket_minus_one() {
        let nights = vec![Micros::new(10 * DAY), Micros::new(11 * DAY)];
        let windows: Vec<Vec<Window>> = nights
            .iter()
            .map(|n| vec![Window { lo: None, hi: *n }, window(n.get(), 2, 0)])
            .collect();
        let grid = Grid::new(&nights, &windows, Unit::Coarser(1)).expect("grid");
        assert!(grid.all_history);
        assert_eq!(grid.lo, None);
        let all = grid.range(windows[1][0]);
        assert!(all.contains(-1) && all.contains(2) && !all.contains(3));
    }

    #[test]
    fn only_counts_sums_minima_and_maxima_combine_over_buckets() {
        use datafusion::functions_aggregate::expr_fn::{avg, median, sum};
        assert_eq!(
            combine_of(&count(lit(1i64))).map(|c| c.0),
            Ok(Combine::Count)
        );
        assert_eq!(combine_of(&sum(ident("x"))).map(|c| c.0), Ok(Combine::Sum));
        assert!(combine_of(&median(ident("x"))).is_err());
        assert!(combine_of(&avg(ident("x"))).is_err());
    }

    #[test]
    fn a_piece_is_covered_only_by_windows_holding_all_of_it() {
        let outer = BucketRange { lo: Some(2), hi: 5 };
        assert!(covers(&outer, &BucketRange { lo: Some(2), hi: 5 }));
        assert!(!covers(&outer, &BucketRange { lo: Some(1), hi: 3 }));
        assert!(!covers(&outer, &BucketRange { lo: None, hi: 3 }));
        assert!(covers(
            &BucketRange { lo: None, hi: 5 },
            &BucketRange { lo: None, hi: 3 }
        ));
    }
}
