//! Compute the rollups of one or more nights from their working
//! scorecards (and the entity table for rollups `over: entities`): one
//! aggregation per shape of rollup, grouped by the night and the rollup's
//! groups, for every night at once; then each night's values in
//! dependency order, each reading the numbers of the rollups before it.
//! A backfill hands over a chunk of nights, so that planning and running
//! the aggregations is paid once per chunk, not once per night. A night's
//! result is one table: `as_of`, `rollup`, the group columns (as text,
//! null where a rollup does not group by them) and `value`, rows in
//! rollup order and then by group — the same whichever nights it was
//! computed with, as the sums are exact.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, Date32Array, Float64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, new_null_array,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
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

/// One night whose rollups are wanted: its as-of instant and its working
/// scorecard (which carries that instant as the column [`names::AS_OF`]).
#[derive(Debug, Clone, Copy)]
pub struct NightScorecard<'a> {
    /// The night.
    pub as_of: Micros,
    /// Its working scorecard.
    pub working: &'a [RecordBatch],
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
/// aggregation: the night, its group columns (as text), every member's
/// aggregate columns; sorted by night and groups, with the rows of night
/// `i` at `nights[i]`.
struct Aggregation<'a> {
    over: RollupOver,
    by: &'a [String],
    batch: RecordBatch,
    nights: Vec<Range<usize>>,
}

/// The nights as a table of one column, [`names::AS_OF`].
fn nights_table(nights: &[NightScorecard<'_>]) -> Result<RecordBatch> {
    let schema = Schema::new(vec![Field::new(
        names::AS_OF,
        DataType::Timestamp(TimeUnit::Microsecond, None),
        false,
    )]);
    let instants: Vec<i64> = nights.iter().map(|n| n.as_of.get()).collect();
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        vec![Arc::new(TimestampMicrosecondArray::from(instants))],
    )?)
}

/// `batch`'s columns in the order of `schema`, found by name.
fn by_name(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            batch
                .column_by_name(field.name())
                .cloned()
                .ok_or_else(|| internal(format!("a night has no column `{}`", field.name())))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// A one-partition table of `batches` to read.
fn read(ctx: &SessionContext, schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<DataFrame> {
    let table = MemTable::try_new(schema, vec![batches])?;
    ctx.read_table(Arc::new(table))
}

/// Each night's rows in `batch`, sorted by [`names::AS_OF`]: the range
/// holding night `i` (empty when the night has none).
fn night_rows(batch: &RecordBatch, nights: &[NightScorecard<'_>]) -> Result<Vec<Range<usize>>> {
    let instants = batch
        .column_by_name(names::AS_OF)
        .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
        .ok_or_else(|| internal("a rollups aggregation lost its night"))?;
    let mut start = 0;
    nights
        .iter()
        .map(|night| {
            while start < instants.len() && instants.value(start) < night.as_of.get() {
                start += 1;
            }
            let mut end = start;
            while end < instants.len() && instants.value(end) == night.as_of.get() {
                end += 1;
            }
            let rows = start..end;
            start = end;
            Ok(rows)
        })
        .collect()
}

fn internal(message: impl Into<String>) -> DataFusionError {
    DataFusionError::Internal(message.into())
}

/// `frame`'s rows as one batch.
async fn collect(frame: DataFrame) -> Result<RecordBatch> {
    let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
    let batches = frame.collect().await?;
    Ok(concat_batches(&schema, &batches)?)
}

/// Compute the aggregation of `members` (same `over` and `by`) over
/// `input`, the rows of every night, grouped by night and `by`. Without
/// groups each night has one row, as it would alone: a night without rows
/// gets the aggregates of no rows.
async fn aggregate(
    input: DataFrame,
    one_row_per_night: &DataFrame,
    by: &[String],
    members: &[&RollupPlan],
    nights: &[NightScorecard<'_>],
) -> Result<(RecordBatch, Vec<Range<usize>>)> {
    let aggregates: Vec<Expr> = members
        .iter()
        .flat_map(|r| r.aggregates.iter().cloned())
        .collect();
    if by.is_empty() && aggregates.is_empty() {
        // Values of other rollups alone: one row per night to compute them on.
        let batch = collect(one_row_per_night.clone()).await?;
        return Ok((batch, (0..nights.len()).map(|i| i..i + 1).collect()));
    }
    let mut groups = vec![ident(names::AS_OF)];
    groups.extend(by.iter().map(ident));
    let aggregate_columns: Vec<Expr> = aggregates
        .iter()
        .map(|a| ident(a.schema_name().to_string()))
        .collect();
    let mut columns = vec![ident(names::AS_OF)];
    columns.extend(by.iter().map(|g| cast(ident(g), DataType::Utf8).alias(g)));
    columns.extend(aggregate_columns.iter().cloned());
    let mut order = vec![ident(names::AS_OF).sort(true, true)];
    order.extend(by.iter().map(|g| ident(g).sort(true, true)));
    let grouped = input
        .clone()
        .aggregate(groups, aggregates.clone())?
        .select(columns)?
        .sort(order)?;
    let batch = collect(grouped).await?;
    let rows = night_rows(&batch, nights)?;
    if !by.is_empty() || rows.iter().all(|r| !r.is_empty()) {
        return Ok((batch, rows));
    }
    let none = collect(
        input
            .filter(lit(false))?
            .aggregate(vec![], aggregates)?
            .select(aggregate_columns)?,
    )
    .await?;
    let schema = batch.schema();
    let mut pieces = Vec::with_capacity(nights.len());
    for (night, rows) in nights.iter().zip(&rows) {
        if rows.is_empty() {
            let mut columns: Vec<ArrayRef> = vec![Arc::new(TimestampMicrosecondArray::from(vec![
                night.as_of.get(),
            ]))];
            columns.extend(none.columns().iter().cloned());
            pieces.push(RecordBatch::try_new(Arc::clone(&schema), columns)?);
        } else {
            pieces.push(batch.slice(rows.start, rows.len()));
        }
    }
    let filled = concat_batches(&schema, &pieces)?;
    Ok((filled, (0..nights.len()).map(|i| i..i + 1).collect()))
}

/// `rollup`'s value on every row of `batch`, as floats.
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

/// The rollups of each of `nights` (in date order, each with its working
/// scorecard of `working_schema`), computed together; `None` for each when
/// the pipeline defines none.
pub async fn compute_rollups(
    ctx: &SessionContext,
    plan: &RollupsPlan,
    working_schema: SchemaRef,
    nights: &[NightScorecard<'_>],
) -> Result<Vec<Option<Rollups>>> {
    if plan.is_empty() {
        return Ok(vec![None; nights.len()]);
    }
    // Nights may order their columns differently (the first has no
    // previous night to join) and differ in which hold no nulls: read
    // each night's columns by name, all nullable.
    let nullable = Arc::new(Schema::new(
        working_schema
            .fields()
            .iter()
            .map(|f| {
                f.as_ref()
                    .clone()
                    .with_nullable(true)
                    .with_metadata(Default::default())
            })
            .collect::<Vec<_>>(),
    ));
    let rows = nights
        .iter()
        .flat_map(|n| n.working.iter())
        .map(|b| by_name(b, &nullable))
        .collect::<Result<Vec<_>>>()?;
    let scorecard = read(ctx, nullable, rows)?;
    let instants = nights_table(nights)?;
    let one_row_per_night = read(ctx, instants.schema(), vec![instants])?;
    let entities = match &plan.entities {
        Some(table) => {
            let every_night = LogicalPlanBuilder::from(table.clone())
                .cross_join(one_row_per_night.logical_plan().clone())?
                .build()?;
            Some(DataFrame::new(ctx.state(), every_night))
        }
        None => None,
    };
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
                return Err(internal(
                    "a rollup is over entities, but no entity table was planned",
                ));
            }
            (RollupOver::Population, _) => scorecard.clone(),
        };
        let (batch, rows) = aggregate(input, &one_row_per_night, by, &members, nights).await?;
        aggregations.push(Aggregation {
            over,
            by,
            batch,
            nights: rows,
        });
    }
    // A value that reads no other rollup is the same expression on every
    // night: evaluated once over all of them.
    let mut every_night: BTreeMap<&str, ArrayRef> = BTreeMap::new();
    for rollup in plan.rollups.iter().filter(|r| r.reads.is_empty()) {
        let aggregation = aggregation_of(&aggregations, rollup)?;
        let value = evaluate(ctx, rollup, &aggregation.batch, &BTreeMap::new())?;
        every_night.insert(&rollup.name, value);
    }
    let schema = rollups_schema(&plan.group_columns);
    nights
        .iter()
        .enumerate()
        .map(|(index, night)| {
            let of_night = OfNight {
                index,
                as_of: night.as_of,
                aggregations: &aggregations,
                every_night: &every_night,
            };
            of_night.rollups(ctx, plan, &schema).map(Some)
        })
        .collect()
}

/// The aggregation `rollup` reads.
fn aggregation_of<'a, 'b>(
    aggregations: &'a [Aggregation<'b>],
    rollup: &RollupPlan,
) -> Result<&'a Aggregation<'b>> {
    aggregations
        .iter()
        .find(|a| a.over == rollup.over && a.by == rollup.by.as_slice())
        .ok_or_else(|| internal(format!("no aggregation for `{}`", rollup.name)))
}

/// One night's part of the aggregations.
struct OfNight<'a, 'b> {
    index: usize,
    as_of: Micros,
    aggregations: &'a [Aggregation<'b>],
    every_night: &'a BTreeMap<&'a str, ArrayRef>,
}

impl OfNight<'_, '_> {
    /// The night's rows of `aggregation`.
    fn rows(&self, aggregation: &Aggregation<'_>) -> Range<usize> {
        aggregation
            .nights
            .get(self.index)
            .cloned()
            .unwrap_or_default()
    }

    /// The night's rollups table.
    fn rollups(
        &self,
        ctx: &SessionContext,
        plan: &RollupsPlan,
        schema: &SchemaRef,
    ) -> Result<Rollups> {
        let date = i32::try_from(self.as_of.get().div_euclid(MICROS_PER_DAY))
            .map_err(|_| DataFusionError::Execution("the night is out of range".into()))?;
        // Each rollup after the rollups it reads: their numbers are literals in its value.
        let mut numbers: BTreeMap<String, Option<f64>> = BTreeMap::new();
        let mut values: BTreeMap<&str, ArrayRef> = BTreeMap::new();
        while values.len() < plan.rollups.len() {
            let ready = plan.rollups.iter().find(|r| {
                !values.contains_key(r.name.as_str())
                    && r.reads.iter().all(|x| numbers.contains_key(x))
            });
            let Some(rollup) = ready else {
                return Err(internal(
                    "rollups read each other in a cycle, or a rollup with groups",
                ));
            };
            let aggregation = aggregation_of(self.aggregations, rollup)?;
            let rows = self.rows(aggregation);
            let value = match self.every_night.get(rollup.name.as_str()) {
                Some(all) => all.slice(rows.start, rows.len()),
                None => evaluate(
                    ctx,
                    rollup,
                    &aggregation.batch.slice(rows.start, rows.len()),
                    &numbers,
                )?,
            };
            if rollup.by.is_empty() {
                numbers.insert(rollup.name.clone(), single_number(&value));
            }
            values.insert(&rollup.name, value);
        }
        let mut batches = Vec::new();
        for rollup in &plan.rollups {
            let Some(value) = values.remove(rollup.name.as_str()) else {
                continue;
            };
            let aggregation = aggregation_of(self.aggregations, rollup)?;
            let rows = self.rows(aggregation);
            if rows.is_empty() {
                continue;
            }
            let night = aggregation.batch.slice(rows.start, rows.len());
            let mut columns: Vec<ArrayRef> = vec![
                Arc::new(Date32Array::from_value(date, rows.len())),
                Arc::new(StringArray::from(vec![rollup.name.as_str(); rows.len()])),
            ];
            for group in &plan.group_columns {
                columns.push(match night.column_by_name(group) {
                    Some(column) if rollup.by.contains(group) => Arc::clone(column),
                    _ => new_null_array(&DataType::Utf8, rows.len()),
                });
            }
            columns.push(value);
            batches.push(RecordBatch::try_new(Arc::clone(schema), columns)?);
        }
        Ok(Rollups {
            schema: Arc::clone(schema),
            batches,
        })
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::functions_aggregate::expr_fn::{count, sum};

    use super::*;

    fn working_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("segment", DataType::Utf8, true),
            Field::new("arr", DataType::Int64, true),
            Field::new(
                names::AS_OF,
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
        ]))
    }

    fn night(day: i64, rows: &[(&str, i64)]) -> (Micros, Vec<RecordBatch>) {
        let as_of = Micros::new(day * MICROS_PER_DAY);
        let segments: Vec<&str> = rows.iter().map(|r| r.0).collect();
        let arr: Vec<i64> = rows.iter().map(|r| r.1).collect();
        let batch = RecordBatch::try_new(
            working_schema(),
            vec![
                Arc::new(StringArray::from(segments)),
                Arc::new(datafusion::arrow::array::Int64Array::from(arr)),
                Arc::new(TimestampMicrosecondArray::from_value(
                    as_of.get(),
                    rows.len(),
                )),
            ],
        )
        .unwrap();
        (as_of, vec![batch])
    }

    fn rollup(name: &str, by: &[&str], aggregates: Vec<Expr>, value: Expr) -> RollupPlan {
        let reads = if name == "twice" {
            vec!["accounts".to_string()]
        } else {
            vec![]
        };
        RollupPlan {
            name: name.into(),
            over: RollupOver::Population,
            by: by.iter().map(|b| b.to_string()).collect(),
            aggregates,
            value,
            reads,
        }
    }

    /// An ungrouped count, a grouped sum, and a rollup reading another's number.
    fn plan() -> RollupsPlan {
        RollupsPlan {
            rollups: vec![
                rollup(
                    "accounts",
                    &[],
                    vec![count(lit(1i64)).alias("c")],
                    ident("c"),
                ),
                rollup(
                    "arr",
                    &["segment"],
                    vec![sum(ident("arr")).alias("s")],
                    ident("s"),
                ),
                rollup(
                    "twice",
                    &[],
                    vec![],
                    ident(names::rollup("accounts")) * lit(2.0),
                ),
            ],
            entities: None,
            group_columns: vec!["segment".into()],
        }
    }

    fn text(rollups: &Option<Rollups>) -> String {
        let rollups = rollups.as_ref().unwrap();
        pretty_format_batches(&rollups.batches).unwrap().to_string()
    }

    #[tokio::test]
    async fn nights_computed_together_are_each_as_if_computed_alone() {
        let ctx = SessionContext::new();
        let nights = [
            night(20_000, &[("smb", 10), ("ent", 100), ("smb", 5)]),
            night(20_007, &[]),
            night(20_014, &[("ent", 7), ("mid", 1)]),
        ];
        let scorecards: Vec<NightScorecard<'_>> = nights
            .iter()
            .map(|(as_of, working)| NightScorecard {
                as_of: *as_of,
                working,
            })
            .collect();
        let together = compute_rollups(&ctx, &plan(), working_schema(), &scorecards)
            .await
            .unwrap();
        assert_eq!(together.len(), 3);
        for (scorecard, computed) in scorecards.iter().zip(&together) {
            let alone = compute_rollups(&ctx, &plan(), working_schema(), &[*scorecard])
                .await
                .unwrap();
            assert_eq!(text(computed), text(&alone[0]));
        }
        // The night without rows still has its ungrouped rollups: a count of 0.
        let empty = text(&together[1]);
        assert!(empty.contains("| accounts |         | 0.0   |"), "{empty}");
        assert!(empty.contains("| twice    |         | 0.0   |"), "{empty}");
        assert!(!empty.contains("| arr "), "{empty}");
        let third = text(&together[2]);
        assert!(third.contains("| arr      | mid     | 1.0   |"), "{third}");
        assert!(third.contains("| twice    |         | 4.0   |"), "{third}");
    }
}
