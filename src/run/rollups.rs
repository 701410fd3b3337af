//! Compute a night's rollups from its working scorecard (and the entity
//! table for rollups `over: entities`): one aggregation per rollup, in
//! dependency order, each reading the numbers of the rollups before it.
//! The result is one table: `as_of`, `rollup`, the group columns (as
//! text, null where a rollup does not group by them) and `value`, rows in
//! rollup order and then by group.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, Date32Array, Float64Array, RecordBatch, StringArray, new_null_array,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, cast, ident, lit};
use datafusion::prelude::{DataFrame, SessionContext};

use crate::base::names;
use crate::base::units::Micros;
use crate::check::model::RollupOver;
use crate::plan::rollups::{RollupPlan, RollupsPlan};

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
/// pipeline defines none.
pub async fn compute_rollups(
    ctx: &SessionContext,
    plan: &RollupsPlan,
    working: &[RecordBatch],
    working_schema: SchemaRef,
    as_of: Micros,
) -> Result<Option<Rollups>> {
    if plan.is_empty() {
        return Ok(None);
    }
    let table = MemTable::try_new(working_schema, vec![working.to_vec()])?;
    let scorecard = ctx.read_table(Arc::new(table))?;
    let entities = plan
        .entities
        .as_ref()
        .map(|p| DataFrame::new(ctx.state(), p.clone()));
    let mut shapes: Vec<(RollupOver, &[String])> = Vec::new();
    for rollup in &plan.rollups {
        let shape = (rollup.over, rollup.by.as_slice());
        if !shapes.contains(&shape) {
            shapes.push(shape);
        }
    }
    let mut aggregations = Vec::with_capacity(shapes.len());
    for (over, by) in shapes {
        let members: Vec<&RollupPlan> = plan
            .rollups
            .iter()
            .filter(|r| r.over == over && r.by == by)
            .collect();
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
