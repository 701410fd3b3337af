//! Compute a night's rollups from its working scorecard (and the entity
//! table for rollups `over: entities`): one aggregation per rollup, in
//! dependency order, each reading the numbers of the rollups before it.
//! The result is one table: `as_of`, `rollup`, the group columns (as
//! text, null where a rollup does not group by them) and `value`, rows in
//! rollup order and then by group.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{
    Array, ArrayRef, Date32Array, Float64Array, RecordBatch, StringArray, UInt64Array,
    new_null_array,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    Aggregate as AggregateNode, Expr, GroupingSet, LogicalPlan, LogicalPlanBuilder, cast, ident,
    lit,
};
use datafusion::prelude::{DataFrame, SessionContext};

use crate::base::names;
use crate::base::units::Micros;
use crate::check::model::RollupOver;
use crate::plan::rollups::{RollupPlan, RollupsPlan};

/// The column that tells which grouping set a row of a GROUPING SETS
/// aggregation belongs to.
const GROUPING_ID: &str = AggregateNode::INTERNAL_GROUPING_ID;

/// Microseconds in a day, to turn the as-of instant into the night's date.
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A night's rollups: the table written as `rollups.<ext>`.
#[derive(Debug, Clone)]
pub struct Rollups {
    /// The table's schema.
    pub schema: SchemaRef,
    /// Its rows.
    pub batches: Vec<RecordBatch>,
}

/// The entity table's rows as rollups `over: entities` read them, kept
/// for the later nights of a backfill: they do not depend on the night,
/// so the table is read once, not once a night. Clones share one cache.
#[derive(Clone, Default)]
pub struct EntityRowsCache(Arc<Mutex<Option<(LogicalPlan, Arc<MemTable>)>>>);

impl std::fmt::Debug for EntityRowsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EntityRowsCache")
    }
}

impl EntityRowsCache {
    /// The rows of `plan`: cached when an earlier night computed the same
    /// plan, else computed (and cached).
    async fn rows(&self, ctx: &SessionContext, plan: &LogicalPlan) -> Result<Arc<MemTable>> {
        if let Ok(guard) = self.0.lock()
            && let Some((_, table)) = guard.as_ref().filter(|(cached, _)| cached == plan)
        {
            return Ok(Arc::clone(table));
        }
        let frame = DataFrame::new(ctx.state(), plan.clone());
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await?;
        let table = Arc::new(MemTable::try_new(schema, vec![batches])?);
        if let Ok(mut guard) = self.0.lock() {
            *guard = Some((plan.clone(), Arc::clone(&table)));
        }
        Ok(table)
    }
}

/// The rollups table's schema for `group_columns`.
fn rollups_schema(group_columns: &[String]) -> SchemaRef {
    let mut fields = vec![
        Field::new(names::AS_OF_DATE, DataType::Date32, false),
        Field::new("rollup", DataType::Utf8, false),
    ];
    fields.extend(
        group_columns
            .iter()
            .map(|g| Field::new(g, DataType::Utf8, true)),
    );
    fields.push(Field::new("value", DataType::Float64, true));
    Arc::new(Schema::new(fields))
}

/// `value` with every rollup placeholder replaced by that rollup's number.
fn with_numbers(value: Expr, numbers: &BTreeMap<String, Option<f64>>) -> Result<Expr> {
    value
        .transform(|e| match &e {
            Expr::Column(Column { name, .. }) => {
                let found = numbers
                    .iter()
                    .find(|(rollup, _)| names::rollup(rollup) == *name);
                Ok(match found {
                    Some((_, number)) => Transformed::yes(lit(ScalarValue::Float64(*number))),
                    None => Transformed::no(e),
                })
            }
            _ => Ok(Transformed::no(e)),
        })
        .map(|t| t.data)
}

/// Rollups that aggregate the same rows by the same groups share one
/// aggregation: its group columns (as text, sorted) and every member's
/// aggregate columns.
struct Aggregation<'a> {
    over: RollupOver,
    by: &'a [String],
    batch: RecordBatch,
}

/// Compute the aggregation of `members` (same `over` and `by`) over `input`.
async fn aggregate(
    input: DataFrame,
    by: &[String],
    members: &[&RollupPlan],
) -> Result<RecordBatch> {
    let aggregates: Vec<Expr> = members
        .iter()
        .flat_map(|r| r.aggregates.iter().cloned())
        .collect();
    let frame = if by.is_empty() && aggregates.is_empty() {
        // Values of other rollups alone: one row to compute them on.
        let one_row = LogicalPlanBuilder::empty(true).build()?;
        DataFrame::new(input.into_parts().0, one_row)
    } else {
        let groups: Vec<Expr> = by.iter().map(ident).collect();
        let aggregated = input.aggregate(groups, aggregates)?;
        let mut columns: Vec<Expr> = by
            .iter()
            .map(|g| cast(ident(g), DataType::Utf8).alias(g))
            .collect();
        columns.extend(
            members
                .iter()
                .flat_map(|r| &r.aggregates)
                .map(|a| ident(a.schema_name().to_string())),
        );
        let selected = aggregated.select(columns)?;
        if by.is_empty() {
            selected
        } else {
            selected.sort(by.iter().map(|g| ident(g).sort(true, true)).collect())?
        }
    };
    let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
    let batches = frame.collect().await?;
    Ok(concat_batches(&schema, &batches)?)
}

/// The aggregations of several grouped shapes over the scorecard, as one
/// query with GROUPING SETS: the scorecard is read, and each column cast,
/// once for all of them. Returns one batch per shape of `shapes`, its rows
/// sorted by its groups as text; every batch has every group column (null
/// where the shape does not group by it) and every member's aggregates.
async fn aggregate_sets(
    input: DataFrame,
    shapes: &[(&[String], Vec<&RollupPlan>)],
) -> Result<Vec<RecordBatch>> {
    let mut columns: Vec<&String> = Vec::new();
    for group in shapes.iter().flat_map(|(by, _)| by.iter()) {
        if !columns.contains(&group) {
            columns.push(group);
        }
    }
    let sets: Vec<Vec<Expr>> = shapes
        .iter()
        .map(|(by, _)| by.iter().map(ident).collect())
        .collect();
    let aggregates: Vec<Expr> = shapes
        .iter()
        .flat_map(|(_, members)| members.iter().flat_map(|r| r.aggregates.iter().cloned()))
        .collect();
    let mut selected: Vec<Expr> =
        vec![cast(ident(GROUPING_ID), DataType::UInt64).alias(GROUPING_ID)];
    selected.extend(
        columns
            .iter()
            .map(|g| cast(ident(*g), DataType::Utf8).alias(*g)),
    );
    selected.extend(
        aggregates
            .iter()
            .map(|a| ident(a.schema_name().to_string())),
    );
    let mut order = vec![ident(GROUPING_ID).sort(true, true)];
    order.extend(columns.iter().map(|g| ident(*g).sort(true, true)));
    // The plan builder, unlike `DataFrame::aggregate`, keeps the grouping id.
    let (state, scorecard) = input.into_parts();
    let plan = LogicalPlanBuilder::from(scorecard)
        .aggregate(
            vec![Expr::GroupingSet(GroupingSet::GroupingSets(sets))],
            aggregates.clone(),
        )?
        .project(selected)?
        .sort(order)?
        .build()?;
    let frame = DataFrame::new(state, plan);
    let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
    let batches = frame.collect().await?;
    let all = concat_batches(&schema, &batches)?;
    let ids = all
        .column(0)
        .as_any()
        .downcast_ref::<UInt64Array>()
        .ok_or_else(|| DataFusionError::Internal("the grouping id is not a number".into()))?;
    // A set's id has a bit per group column, the last column lowest, set
    // where the set leaves that column out.
    let id_of = |by: &[String]| -> u64 {
        columns
            .iter()
            .rev()
            .enumerate()
            .fold(0, |id, (bit, column)| {
                if by.contains(column) {
                    id
                } else {
                    id | (1 << bit)
                }
            })
    };
    shapes
        .iter()
        .map(|(by, _)| {
            let id = id_of(by);
            let start = (0..ids.len())
                .find(|&i| ids.value(i) == id)
                .unwrap_or(ids.len());
            let end = (start..ids.len())
                .find(|&i| ids.value(i) != id)
                .unwrap_or(ids.len());
            Ok(all.slice(start, end - start))
        })
        .collect()
}

/// `rollup`'s value on every row of its aggregation, as floats.
fn evaluate(
    ctx: &SessionContext,
    rollup: &RollupPlan,
    batch: &RecordBatch,
    numbers: &BTreeMap<String, Option<f64>>,
) -> Result<ArrayRef> {
    let value = cast(
        with_numbers(rollup.value.clone(), numbers)?,
        DataType::Float64,
    );
    let schema = Arc::new(DFSchema::try_from(batch.schema().as_ref().clone())?);
    let physical = super::entity::compile(&ctx.state(), &value, &schema)?;
    physical.evaluate(batch)?.into_array(batch.num_rows())
}

/// The single number of an ungrouped rollup.
fn single_number(values: &ArrayRef) -> Option<f64> {
    let values = values.as_any().downcast_ref::<Float64Array>()?;
    (values.len() == 1 && values.is_valid(0)).then(|| values.value(0))
}

/// The night's rollups over its working scorecard; `None` when the
/// pipeline defines none. With `entity_rows`, the entity table is read
/// from there (a backfill's later nights).
pub async fn compute_rollups(
    ctx: &SessionContext,
    plan: &RollupsPlan,
    working: &[RecordBatch],
    working_schema: SchemaRef,
    as_of: Micros,
    entity_rows: Option<&EntityRowsCache>,
) -> Result<Option<Rollups>> {
    if plan.is_empty() {
        return Ok(None);
    }
    let table = MemTable::try_new(working_schema, vec![working.to_vec()])?;
    let scorecard = ctx.read_table(Arc::new(table))?;
    let entities = match (&plan.entities, entity_rows) {
        (Some(p), Some(cache)) => Some(ctx.read_table(cache.rows(ctx, p).await?)?),
        (Some(p), None) => Some(DataFrame::new(ctx.state(), p.clone())),
        (None, _) => None,
    };
    let mut shapes: Vec<(RollupOver, &[String])> = Vec::new();
    for rollup in &plan.rollups {
        let shape = (rollup.over, rollup.by.as_slice());
        if !shapes.contains(&shape) {
            shapes.push(shape);
        }
    }
    let members_of = |over: RollupOver, by: &[String]| -> Vec<&RollupPlan> {
        plan.rollups
            .iter()
            .filter(|r| r.over == over && r.by == by)
            .collect()
    };
    let mut aggregations = Vec::with_capacity(shapes.len());
    // The grouped shapes over the scorecard share one query.
    let grouped: Vec<(&[String], Vec<&RollupPlan>)> = shapes
        .iter()
        .filter(|(over, by)| *over == RollupOver::Population && !by.is_empty())
        .map(|(over, by)| (*by, members_of(*over, by)))
        .collect();
    if grouped.len() > 1 {
        let batches = aggregate_sets(scorecard.clone(), &grouped).await?;
        for ((by, _), batch) in grouped.iter().zip(batches) {
            aggregations.push(Aggregation {
                over: RollupOver::Population,
                by,
                batch,
            });
        }
    }
    for (over, by) in shapes {
        if aggregations.iter().any(|a| a.over == over && a.by == by) {
            continue;
        }
        let members = members_of(over, by);
        let input = match (over, &entities) {
            (RollupOver::Entities, Some(entities)) => entities.clone(),
            (RollupOver::Entities, None) => {
                return Err(DataFusionError::Internal(
                    "a rollup is over entities, but no entity table was planned".into(),
                ));
            }
            (RollupOver::Population, _) => scorecard.clone(),
        };
        let batch = aggregate(input, by, &members).await?;
        aggregations.push(Aggregation { over, by, batch });
    }
    let schema = rollups_schema(&plan.group_columns);
    let date = i32::try_from(as_of.get().div_euclid(MICROS_PER_DAY))
        .map_err(|_| DataFusionError::Execution("the night is out of range".into()))?;
    // Each rollup after the rollups it reads: their numbers are literals in its value.
    let mut numbers: BTreeMap<String, Option<f64>> = BTreeMap::new();
    let mut values: BTreeMap<&str, ArrayRef> = BTreeMap::new();
    while values.len() < plan.rollups.len() {
        let ready = plan.rollups.iter().find(|r| {
            !values.contains_key(r.name.as_str()) && r.reads.iter().all(|x| numbers.contains_key(x))
        });
        let Some(rollup) = ready else {
            return Err(DataFusionError::Internal(
                "rollups read each other in a cycle, or a rollup with groups".into(),
            ));
        };
        let aggregation = aggregations
            .iter()
            .find(|a| a.over == rollup.over && a.by == rollup.by.as_slice())
            .ok_or_else(|| {
                DataFusionError::Internal(format!("no aggregation for `{}`", rollup.name))
            })?;
        let value = evaluate(ctx, rollup, &aggregation.batch, &numbers)?;
        if rollup.by.is_empty() {
            numbers.insert(rollup.name.clone(), single_number(&value));
        }
        values.insert(&rollup.name, value);
    }
    let mut batches = Vec::new();
    for rollup in &plan.rollups {
        let (Some(value), Some(aggregation)) = (
            values.remove(rollup.name.as_str()),
            aggregations
                .iter()
                .find(|a| a.over == rollup.over && a.by == rollup.by.as_slice()),
        ) else {
            continue;
        };
        let rows = aggregation.batch.num_rows();
        if rows == 0 {
            continue;
        }
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(Date32Array::from_value(date, rows)),
            Arc::new(StringArray::from(vec![rollup.name.as_str(); rows])),
        ];
        for group in &plan.group_columns {
            columns.push(match aggregation.batch.column_by_name(group) {
                Some(column) if rollup.by.contains(group) => Arc::clone(column),
                _ => new_null_array(&DataType::Utf8, rows),
            });
        }
        columns.push(value);
        batches.push(RecordBatch::try_new(Arc::clone(&schema), columns)?);
    }
    Ok(Some(Rollups { schema, batches }))
}
