//! Compute a night's rollups from its working scorecard (and the entity
//! table for rollups `over: entities`): one aggregation per rollup, in
//! dependency order, each reading the numbers of the rollups before it.
//! The result is one table: `as_of`, `rollup`, the group columns (as
//! text, null where a rollup does not group by them) and `value`, rows in
//! rollup order and then by group.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Date32Array, Float64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, ScalarValue};
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

/// One rollup's rows, grouped and sorted, in the table's columns but
/// the night's date.
async fn compute_one(
    input: DataFrame,
    rollup: &RollupPlan,
    group_columns: &[String],
    numbers: &BTreeMap<String, Option<f64>>,
) -> Result<Vec<RecordBatch>> {
    let groups: Vec<Expr> = rollup.by.iter().map(ident).collect();
    let aggregated = if groups.is_empty() && rollup.aggregates.is_empty() {
        // A value of other rollups alone: one row to compute it on.
        let one_row = LogicalPlanBuilder::empty(true).build()?;
        DataFrame::new(input.into_parts().0, one_row)
    } else {
        input.aggregate(groups, rollup.aggregates.clone())?
    };
    let mut columns = vec![lit(rollup.name.as_str()).alias("rollup")];
    for group in group_columns {
        columns.push(if rollup.by.contains(group) {
            cast(ident(group), DataType::Utf8).alias(group)
        } else {
            lit(ScalarValue::Utf8(None)).alias(group)
        });
    }
    let value = with_numbers(rollup.value.clone(), numbers)?;
    columns.push(cast(value, DataType::Float64).alias("value"));
    let selected = aggregated.select(columns)?;
    if rollup.by.is_empty() {
        return selected.collect().await;
    }
    let sort = rollup
        .by
        .iter()
        .map(|g| ident(g).sort(true, true))
        .collect();
    selected.sort(sort)?.collect().await
}

/// The single number of an ungrouped rollup's rows.
fn single_number(batches: &[RecordBatch]) -> Option<f64> {
    let batch = batches.iter().find(|b| b.num_rows() > 0)?;
    let values = batch.column_by_name("value")?;
    let values = values.as_any().downcast_ref::<Float64Array>()?;
    values.is_valid(0).then(|| values.value(0))
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
    let schema = rollups_schema(&plan.group_columns);
    let date = i32::try_from(as_of.get().div_euclid(MICROS_PER_DAY))
        .map_err(|_| DataFusionError::Execution("the night is out of range".into()))?;
    let mut numbers: BTreeMap<String, Option<f64>> = BTreeMap::new();
    let mut computed: BTreeMap<&str, Vec<RecordBatch>> = BTreeMap::new();
    while computed.len() < plan.rollups.len() {
        let ready = plan.rollups.iter().find(|r| {
            !computed.contains_key(r.name.as_str())
                && r.reads.iter().all(|x| numbers.contains_key(x))
        });
        let Some(rollup) = ready else {
            return Err(DataFusionError::Internal(
                "rollups read each other in a cycle, or a rollup with groups".into(),
            ));
        };
        let input = match (rollup.over, &entities) {
            (RollupOver::Entities, Some(entities)) => entities.clone(),
            (RollupOver::Entities, None) => {
                return Err(DataFusionError::Internal(format!(
                    "rollup `{}` is over entities, but no entity table was planned",
                    rollup.name
                )));
            }
            (RollupOver::Population, _) => scorecard.clone(),
        };
        let rows = compute_one(input, rollup, &plan.group_columns, &numbers).await?;
        if rollup.by.is_empty() {
            numbers.insert(rollup.name.clone(), single_number(&rows));
        }
        computed.insert(&rollup.name, rows);
    }
    let mut batches = Vec::new();
    for rollup in &plan.rollups {
        let rows = computed.remove(rollup.name.as_str()).unwrap_or_default();
        for batch in rows {
            if batch.num_rows() == 0 {
                continue;
            }
            let mut columns: Vec<ArrayRef> =
                vec![Arc::new(Date32Array::from_value(date, batch.num_rows()))];
            columns.extend(batch.columns().iter().cloned());
            batches.push(RecordBatch::try_new(Arc::clone(&schema), columns)?);
        }
    }
    Ok(Some(Rollups { schema, batches }))
}
