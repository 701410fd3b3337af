//! Rollups as aggregations: each rollup is one aggregation (grouped by the
//! night and its `by:` columns) over the working scorecards of one or more
//! nights, or over the entity table paired with each night for rollups
//! `over: entities`, then its value over the aggregates' columns. `as_of`
//! is the column [`names::AS_OF`], so one plan serves every night. A value reads other rollups as placeholder columns
//! ([`names::rollup`]) that the run replaces by their numbers, so that
//! rollups are computed in dependency order.

use datafusion::functions_aggregate::expr_fn::count_distinct;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, ident};

use super::aggregate::{
    LoweredAggregate, exact_aggregate_with, lower_aggregate, with_filter, zero_filled,
};
use super::exact_float::exact_float as exact_float_udf;
use super::exprs::{AsOf, LowerResult, Lowering};
use super::scorecard::Inputs;
use crate::base::names;
use crate::base::units::Seconds;
use crate::check::functions::Aggregate;
use crate::check::model::{Model, RollupOver, TypedExpr};

/// One rollup, ready to compute.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupPlan {
    /// The rollup's name.
    pub name: String,
    /// Whether it aggregates the scorecard or the entity table.
    pub over: RollupOver,
    /// The columns it groups by (written as text).
    pub by: Vec<String>,
    /// The aggregates, each aliased to its column.
    pub aggregates: Vec<Expr>,
    /// The value, over the aggregates' columns and [`names::rollup`]
    /// placeholders.
    pub value: Expr,
    /// The rollups it reads (computed before it).
    pub reads: Vec<String>,
}

/// Every rollup of a night, in file order.
#[derive(Debug, Clone, Default)]
pub struct RollupsPlan {
    /// The rollups, in file order (the run computes each after the ones
    /// it reads).
    pub rollups: Vec<RollupPlan>,
    /// Every row of the entity table (key and attributes), for rollups
    /// `over: entities`; `None` when there are none.
    pub entities: Option<LogicalPlan>,
    /// Every group column of the rollups file, in first-use order.
    pub group_columns: Vec<String>,
}

impl RollupsPlan {
    /// Whether the pipeline defines no rollups.
    pub fn is_empty(&self) -> bool {
        self.rollups.is_empty()
    }
}

/// Plan the rollups of `model` over the sources of `inputs`, for any night.
pub fn rollups_plan(model: &Model, inputs: &Inputs<'_>) -> LowerResult<RollupsPlan> {
    let key = model.entity.key.as_str();
    let lowering = Lowering {
        as_of: AsOf::Column,
        shift: Seconds::ZERO,
        key,
    };
    let mut group_columns: Vec<String> = Vec::new();
    let mut rollups = Vec::new();
    for (position, rollup) in model.rollups.iter().enumerate() {
        for group in &rollup.by {
            if !group_columns.contains(group) {
                group_columns.push(group.clone());
            }
        }
        let mut aggregates: Vec<Expr> = Vec::new();
        let mut on_aggregate = |node: &TypedExpr| -> LowerResult<Expr> {
            let LoweredAggregate {
                function,
                args: lowered,
                filter: condition,
                exact_float,
            } = lower_aggregate(node, &lowering)?;
            let mut register = |aggregate: Expr| -> LowerResult<String> {
                let column = names::rollup_aggregate(position, aggregates.len());
                let filtered = match &condition {
                    Some(c) => with_filter(aggregate, c.clone())?,
                    None => aggregate,
                };
                aggregates.push(filtered.alias(&column));
                Ok(column)
            };
            if function == Aggregate::CountDistinct {
                let x = lowered
                    .into_iter()
                    .next()
                    .ok_or("a distinct count without argument")?;
                return Ok(zero_filled(&register(count_distinct(x))?));
            }
            exact_aggregate_with(
                function,
                exact_float,
                lowered,
                &mut register,
                exact_float_udf,
            )
        };
        let value = lowering.lower_with(&rollup.value, &mut on_aggregate)?;
        rollups.push(RollupPlan {
            name: rollup.name.clone(),
            over: rollup.over,
            by: rollup.by.clone(),
            aggregates,
            value,
            reads: rollup.reads(),
        });
    }
    let entities = if rollups.iter().any(|r| r.over == RollupOver::Entities) {
        let scan = inputs
            .scans
            .get(&model.entity.source)
            .cloned()
            .ok_or_else(|| format!("no scan for entity source `{}`", model.entity.source))?;
        let mut columns = vec![ident(key)];
        columns.extend(
            model
                .entity
                .attributes
                .iter()
                .filter(|a| a.as_str() != key)
                .map(ident),
        );
        Some(
            LogicalPlanBuilder::from(scan)
                .project(columns)
                .and_then(|b| b.build())
                .map_err(|e| e.to_string())?,
        )
    } else {
        None
    };
    Ok(RollupsPlan {
        rollups,
        entities,
        group_columns,
    })
}
