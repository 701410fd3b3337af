//! The targets side: each entity's effective target and direction per KPI
//! at as-of, from an effective-dated table. One night reads it as one
//! aggregation; nights planned together read the rows any of them may
//! find effective once ([`EffectiveTargets`]) and pick each night's row in
//! memory, by the same order.

use std::collections::BTreeMap;

use datafusion::arrow::datatypes::DataType;
use datafusion::functions::string;
use datafusion::functions_aggregate::expr_fn::last_value;
use datafusion::logical_expr::{
    Expr, LogicalPlan, LogicalPlanBuilder, SortExpr, cast, ident, in_list, lit,
};

use super::PlanError;
use super::aggregate::with_filter;
use super::exprs::{LowerResult, epoch_micros};
use crate::base::names;
use crate::base::units::Micros;
use crate::check::model::{Model, Targets};

/// Column of [`EffectiveTargets::rows`]: the target value, as a float.
pub const VALUE: &str = "__target_value";
/// Column: the direction, trimmed and lower-cased.
pub const DIRECTION: &str = "__target_direction";
/// Column: when the row starts to be effective, as the table has it (the
/// order among rows), when the table has a start.
pub const FROM: &str = "__target_from";
/// Column: that start in microseconds (what as-of is compared with).
pub const FROM_MICROS: &str = "__target_from_micros";
/// Column: when the row stops being effective, in microseconds, when the
/// table has an end.
pub const TO_MICROS: &str = "__target_to_micros";
/// Column: whether that end is missing (the row never stops).
pub const TO_OPEN: &str = "__target_to_open";

/// Column of [`EffectiveTargets::rows`]: whether the row is the `i`-th
/// KPI's.
pub fn is_kpi(i: usize) -> String {
    format!("__target_is_kpi{i}")
}

/// The targets' rows of the KPIs the pipeline reads, whatever the night:
/// key first (as the side's key), then the columns named above. A night's
/// targets side is, per entity with a row effective at its as-of (start at
/// or before it, end after it or missing), per KPI, the last of its
/// effective rows in the order (start, value, direction), ascending with
/// nulls last — the order the one night's aggregation picks by.
#[derive(Debug, Clone)]
pub struct EffectiveTargets {
    /// The rows.
    pub rows: LogicalPlan,
    /// The KPIs, in the side's column order.
    pub kpis: Vec<String>,
    /// Whether the table has a start column (else every row has started).
    pub has_from: bool,
    /// Whether the table has an end column (else no row ends).
    pub has_to: bool,
}

/// The value and direction as both plans read them.
struct Pieces {
    value: Expr,
    direction: Expr,
}

fn pieces(targets: &Targets) -> Pieces {
    Pieces {
        value: cast(ident(&targets.value), DataType::Float64),
        direction: string::lower().call(vec![
            string::btrim().call(vec![cast(ident(&targets.direction), DataType::Utf8)]),
        ]),
    }
}

/// The sources' scans by name.
type Scans = BTreeMap<String, LogicalPlan>;

fn scan<'a>(model: &'a Model, scans: &Scans) -> Option<(&'a Targets, LogicalPlan)> {
    let targets = model.targets.as_ref().filter(|t| !t.kpis.is_empty())?;
    Some((targets, scans.get(&targets.source)?.clone()))
}

fn err(e: impl ToString) -> PlanError {
    PlanError::Bug(e.to_string())
}

fn kpi_filter(targets: &Targets) -> Expr {
    in_list(
        ident(&targets.kpi),
        targets.kpis.iter().map(|k| lit(k.clone())).collect(),
        false,
    )
}

/// The effective target per (entity, KPI): among rows effective at
/// `as_of`, the one that started last.
pub(super) fn targets_plan(
    model: &Model,
    scans: &Scans,
    as_of: Micros,
    key_type: &DataType,
) -> LowerResult<Option<LogicalPlan>> {
    if model.targets.as_ref().is_none_or(|t| t.kpis.is_empty()) {
        return Ok(None);
    }
    let (targets, scan) = scan(model, scans).ok_or_else(|| {
        let source = model.targets.as_ref().map(|t| t.source.as_str());
        format!("no scan for `{}`", source.unwrap_or_default())
    })?;
    let Pieces { value, direction } = pieces(targets);
    let as_of = lit(as_of.get());
    let mut filter = kpi_filter(targets);
    if let Some(from) = &targets.effective_from {
        filter = filter.and(epoch_micros(ident(from)).lt_eq(as_of.clone()));
    }
    if let Some(to) = &targets.effective_to {
        filter = filter.and(ident(to).is_null().or(epoch_micros(ident(to)).gt(as_of)));
    }
    // The latest effective row wins; ties (and tables without dates) are
    // broken by value and direction, so value and direction come from one
    // row and the choice never depends on file order.
    let mut order: Vec<SortExpr> = targets
        .effective_from
        .iter()
        .map(|f| ident(f).sort(true, false))
        .collect();
    order.push(value.clone().sort(true, false));
    order.push(direction.clone().sort(true, false));
    let pick = |picked: Expr, kpi: &str| -> LowerResult<Expr> {
        with_filter(
            last_value(picked, order.clone()),
            ident(&targets.kpi).eq(lit(kpi.to_string())),
        )
    };
    let mut aggregates = Vec::new();
    let mut projection = vec![
        cast(ident(&targets.key), key_type.clone()).alias(names::side_key(names::TARGETS_SIDE)),
    ];
    for kpi in &targets.kpis {
        aggregates.push(pick(value.clone(), kpi)?.alias(names::target(kpi)));
        aggregates.push(pick(direction.clone(), kpi)?.alias(names::direction(kpi)));
        projection.push(ident(names::target(kpi)));
        projection.push(ident(names::direction(kpi)));
    }
    LogicalPlanBuilder::from(scan)
        .filter(filter)
        .and_then(|b| b.aggregate(vec![ident(&targets.key)], aggregates))
        .and_then(|b| b.project(projection))
        .and_then(|b| b.build())
        .map(Some)
        .map_err(err)
}

/// The rows any night may find effective (see [`EffectiveTargets`]).
pub(super) fn effective_rows(
    model: &Model,
    scans: &Scans,
    key_type: &DataType,
) -> LowerResult<Option<EffectiveTargets>> {
    let Some((targets, scan)) = scan(model, scans) else {
        return Ok(None);
    };
    let Pieces { value, direction } = pieces(targets);
    let mut projection = vec![
        cast(ident(&targets.key), key_type.clone()).alias(names::side_key(names::TARGETS_SIDE)),
    ];
    for (i, kpi) in targets.kpis.iter().enumerate() {
        projection.push(ident(&targets.kpi).eq(lit(kpi.clone())).alias(is_kpi(i)));
    }
    projection.push(value.alias(VALUE));
    projection.push(direction.alias(DIRECTION));
    if let Some(from) = &targets.effective_from {
        projection.push(ident(from).alias(FROM));
        projection.push(epoch_micros(ident(from)).alias(FROM_MICROS));
    }
    if let Some(to) = &targets.effective_to {
        projection.push(epoch_micros(ident(to)).alias(TO_MICROS));
        projection.push(ident(to).is_null().alias(TO_OPEN));
    }
    let rows = LogicalPlanBuilder::from(scan)
        .filter(kpi_filter(targets))
        .and_then(|b| b.project(projection))
        .and_then(|b| b.build())
        .map_err(err)?;
    Ok(Some(EffectiveTargets {
        rows,
        kpis: targets.kpis.clone(),
        has_from: targets.effective_from.is_some(),
        has_to: targets.effective_to.is_some(),
    }))
}
