//! The facts: plan and execute the population and every side at once, then
//! left-join the sides to the population by entity key in memory.
//!
//! Each part has at most one row per entity, so the join is a hash lookup
//! per entity and a `take` per column. As one DataFusion plan of eight
//! joins, the facts cost more to optimize and plan than the joins cost to
//! run, and the planning was serial; apart, each part is planned on
//! whichever core is free while the others already read data
//! (docs/benchmarks.md).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{cast, concat, concat_batches, take};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::HashMap;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use tokio::task::JoinSet;

use super::errors::is_out_of_memory;
use crate::base::names;
use crate::plan::ScorecardPlan;

/// The bytes of input each registered table reads (by table name), kept
/// in the session's config so that parts running at once can share the
/// partitions in proportion to what each of them reads.
pub struct TableBytes(pub BTreeMap<String, u64>);

/// The input bytes of every table `plan` scans (0 for tables not in `sizes`).
fn bytes_scanned(plan: &LogicalPlan, sizes: &TableBytes) -> u64 {
    let mut total = 0u64;
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let bytes = sizes.0.get(scan.table_name.table()).copied().unwrap_or(0);
            total = total.saturating_add(bytes);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    total
}

/// Partitions for parts that run at once, out of `threads`: each part its
/// share by the bytes it reads, rounded up, at least one. Parts that read
/// much get more; parts that each read a share of the input run in one
/// partition each, side by side, with no exchange between partitions.
fn share_partitions(bytes: &[u64], threads: usize) -> Vec<usize> {
    let total: u128 = bytes.iter().map(|&b| u128::from(b)).sum();
    let threads = threads.max(1);
    bytes
        .iter()
        .map(|&b| {
            if total == 0 {
                return 1;
            }
            let share = (u128::from(b) * threads as u128).div_ceil(total);
            usize::try_from(share).unwrap_or(threads).clamp(1, threads)
        })
        .collect()
}

/// The partitions of each of `parts` when they run at once: the
/// session's partitions shared by the bytes each reads
/// ([`share_partitions`]), or all of them each when sizes are unknown.
pub fn partitions_at_once(ctx: &SessionContext, parts: &[LogicalPlan]) -> Vec<usize> {
    let config = ctx.copied_config();
    let threads = config.target_partitions();
    match config.get_extension::<TableBytes>() {
        Some(sizes) => {
            let bytes: Vec<u64> = parts.iter().map(|p| bytes_scanned(p, &sizes)).collect();
            share_partitions(&bytes, threads)
        }
        None => vec![threads; parts.len()],
    }
}

/// The session's state with `partitions` target partitions, to plan and
/// execute one part in.
pub fn state_with_partitions(ctx: &SessionContext, partitions: usize) -> SessionState {
    let mut state = ctx.state();
    state.config_mut().options_mut().execution.target_partitions = partitions;
    state
}

/// Optimize, plan and execute one part of the facts in `partitions`
/// partitions, as one batch.
async fn compute_part(
    ctx: SessionContext,
    plan: LogicalPlan,
    partitions: usize,
) -> Result<RecordBatch> {
    #[cfg(feature = "ballista")]
    if let Some(cluster) = super::remote::on_cluster(&ctx, &plan) {
        return cluster.compute(plan).await;
    }
    let state = state_with_partitions(&ctx, partitions);
    let physical = state.create_physical_plan(&plan).await?;
    let schema = physical.schema();
    let batches = datafusion::physical_plan::collect(physical, state.task_ctx()).await?;
    Ok(concat_batches(&schema, &batches)?)
}

/// Every part as its own task, the session's partitions shared between
/// them ([`share_partitions`]). On the first error the others are
/// stopped (and their memory released) before it is returned.
async fn compute_all_at_once(
    ctx: &SessionContext,
    parts: &[LogicalPlan],
) -> Result<Vec<RecordBatch>> {
    let partitions = partitions_at_once(ctx, parts);
    let mut tasks = JoinSet::new();
    for (index, (part, partitions)) in parts.iter().zip(partitions).enumerate() {
        let (ctx, part) = (ctx.clone(), part.clone());
        tasks.spawn(async move { (index, compute_part(ctx, part, partitions).await) });
    }
    let mut computed: Vec<Option<RecordBatch>> = vec![None; parts.len()];
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, Ok(part))) => computed[index] = Some(part),
            Ok((_, Err(e))) => failure = Some(e),
            Err(e) => failure = Some(DataFusionError::External(Box::new(e))),
        }
        if failure.is_some() {
            tasks.shutdown().await;
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    computed
        .into_iter()
        .map(|part| part.ok_or_else(|| DataFusionError::Internal("a part was lost".into())))
        .collect()
}

/// The parts one after another: the memory a single part needs, at the
/// cost of planning and reading them in turn.
async fn compute_one_by_one(
    ctx: &SessionContext,
    parts: &[LogicalPlan],
) -> Result<Vec<RecordBatch>> {
    let threads = ctx.copied_config().target_partitions();
    let mut computed = Vec::with_capacity(parts.len());
    for part in parts {
        computed.push(compute_part(ctx.clone(), part.clone(), threads).await?);
    }
    Ok(computed)
}

/// Independent plans, each as one batch. They run at once, each as its
/// own task; when that exhausts `--memory-limit` (the limit's share per
/// operator shrinks with every operator running), they run again one
/// after another, as the branches of a single joined plan would.
pub async fn compute_parts(
    ctx: &SessionContext,
    parts: &[LogicalPlan],
) -> Result<Vec<RecordBatch>> {
    match compute_all_at_once(ctx, parts).await {
        Err(e) if is_out_of_memory(&e) => compute_one_by_one(ctx, parts).await,
        other => other,
    }
}

/// The facts of a scorecard plan: one row per entity of the population
/// (unsorted, or sorted by key when joined ahead), with every side's
/// columns, in `schema` (the plan's [`ScorecardPlan::facts_schema`]).
/// With `ahead` (a backfill joined every part but the previous night's
/// health ahead of the night), only that side is joined: from `known`, the
/// previous night's health as the backfill computed it, when given, else
/// read from its scorecard.
pub async fn compute_facts(
    ctx: &SessionContext,
    plan: &ScorecardPlan,
    schema: SchemaRef,
    key: &str,
    ahead: Option<&JoinedAhead>,
    known: Option<&PreviousHealth>,
) -> Result<Facts> {
    if let Some(ahead) = ahead {
        return join_previous(ctx, plan, schema, key, ahead, known).await;
    }
    let parts: Vec<LogicalPlan> = std::iter::once(&plan.population)
        .chain(plan.sides.iter().map(|s| &s.plan))
        .cloned()
        .collect();
    let mut parts = compute_parts(ctx, &parts).await?.into_iter();
    let population = parts
        .next()
        .ok_or_else(|| DataFusionError::Internal("no population".to_string()))?;
    let sides: Vec<SideBatch> = plan
        .sides
        .iter()
        .zip(parts)
        .map(|(side, batch)| SideBatch {
            key: side.key(),
            rows: side.rows.clone(),
            batch,
        })
        .collect();
    let (batch, orphans) = left_join_by_key(schema, &population, key, &sides)?;
    let rows_read = sides.iter().map(SideBatch::rows_read).sum();
    let orphan_rows = plan
        .sides
        .iter()
        .zip(orphans)
        .filter(|(side, _)| side.rows.is_some())
        .map(|(side, n)| (side.name.clone(), n))
        .collect();
    Ok(Facts {
        batch,
        orphan_rows,
        rows_read,
    })
}

/// A night's facts joined ahead of it: every part but the previous
/// night's health, sorted by key.
#[derive(Debug)]
pub struct JoinedAhead {
    /// The population with every side's columns but the previous night's.
    pub batch: RecordBatch,
    /// The sides joined, in order.
    pub sides: Vec<String>,
    /// `(source, rows)` read with a key that is no entity's.
    pub orphan_rows: Vec<(String, u64)>,
    /// Source rows the aggregations read.
    pub rows_read: u64,
}

/// Join a night's parts (the population under [`names::POPULATION_PART`],
/// each side by name) in `order` — `(side, rows column)` — and sort by key.
pub fn join_ahead(
    mut parts: BTreeMap<String, RecordBatch>,
    order: &[(String, Option<String>)],
    key: &str,
) -> Result<JoinedAhead> {
    let missing =
        |name: &str| DataFusionError::Internal(format!("no part `{name}` computed ahead"));
    // Sorted before the join, which keeps its order: fewer columns to move.
    let population = parts
        .remove(names::POPULATION_PART)
        .ok_or_else(|| missing(names::POPULATION_PART))?;
    let population = super::entity::sort_by_key(&population.schema(), &[population], key)?;
    let mut fields: Vec<_> = population.schema().fields().iter().cloned().collect();
    let mut sides = Vec::with_capacity(order.len());
    for (name, rows) in order {
        let batch = parts.remove(name).ok_or_else(|| missing(name))?;
        let side_key = names::side_key(name);
        fields.extend(
            batch
                .schema()
                .fields()
                .iter()
                .filter(|f| *f.name() != side_key && Some(f.name()) != rows.as_ref())
                .map(|f| Arc::new(f.as_ref().clone().with_nullable(true))),
        );
        sides.push(SideBatch {
            key: side_key,
            rows: rows.clone(),
            batch,
        });
    }
    let schema: SchemaRef = Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
    let (batch, orphans) = left_join_by_key(Arc::clone(&schema), &population, key, &sides)?;
    Ok(JoinedAhead {
        batch,
        sides: order.iter().map(|(name, _)| name.clone()).collect(),
        orphan_rows: order
            .iter()
            .zip(orphans)
            .filter(|((_, rows), _)| rows.is_some())
            .map(|((name, _), n)| (name.clone(), n))
            .collect(),
        rows_read: sides.iter().map(SideBatch::rows_read).sum(),
    })
}

/// The facts from a night joined ahead: compute and join the previous
/// night's health, when the plan has it.
async fn join_previous(
    ctx: &SessionContext,
    plan: &ScorecardPlan,
    schema: SchemaRef,
    key: &str,
    ahead: &JoinedAhead,
    known: Option<&PreviousHealth>,
) -> Result<Facts> {
    let (previous, others): (Vec<_>, Vec<_>) = plan
        .sides
        .iter()
        .partition(|s| s.name == names::PREVIOUS_SIDE);
    if others.iter().map(|s| &s.name).ne(ahead.sides.iter()) {
        return Err(DataFusionError::Internal(
            "the sides joined ahead are not the night's".to_string(),
        ));
    }
    let batches = match (previous.as_slice(), known) {
        ([side], Some(known)) => vec![known.as_side(side)?],
        _ => {
            let plans: Vec<LogicalPlan> = previous.iter().map(|s| s.plan.clone()).collect();
            compute_parts(ctx, &plans).await?
        }
    };
    let sides: Vec<SideBatch> = previous
        .iter()
        .zip(batches)
        .map(|(side, batch)| SideBatch {
            key: side.key(),
            rows: side.rows.clone(),
            batch,
        })
        .collect();
    let (batch, _) = left_join_by_key(schema, &ahead.batch, key, &sides)?;
    Ok(Facts {
        batch,
        orphan_rows: ahead.orphan_rows.clone(),
        rows_read: ahead.rows_read,
    })
}

/// A night's health per entity, as a backfill hands it to the next night:
/// the same values the next night would read back from its scorecard.
#[derive(Debug, Clone)]
pub struct PreviousHealth {
    /// The night.
    pub night: chrono::NaiveDate,
    /// Each entity's key.
    pub keys: ArrayRef,
    /// Each entity's health.
    pub health: ArrayRef,
}

impl PreviousHealth {
    /// The night's key and health columns out of its scorecard, if it has health.
    pub fn of(night: chrono::NaiveDate, scorecard: &[RecordBatch], key: &str) -> Option<Self> {
        let column = |name: &str| -> Option<ArrayRef> {
            let parts: Vec<&dyn Array> = scorecard
                .iter()
                .map(|b| b.column_by_name(name).map(|c| c.as_ref()))
                .collect::<Option<_>>()?;
            concat(&parts).ok()
        };
        Some(PreviousHealth {
            night,
            keys: column(key)?,
            health: column(names::HEALTH)?,
        })
    }

    /// The previous-night side as its plan (a projection of the scorecard's
    /// key and health, cast) would compute it.
    fn as_side(&self, side: &crate::plan::Side) -> Result<RecordBatch> {
        let schema: SchemaRef = Arc::new(side.plan.schema().as_arrow().clone());
        let columns = schema
            .fields()
            .iter()
            .zip([&self.keys, &self.health])
            .map(|(field, column)| cast(column, field.data_type()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

/// The facts, and the rows each source read for keys outside the population.
pub struct Facts {
    /// One row per entity of the population (unsorted).
    pub batch: RecordBatch,
    /// `(source, rows)` read with a key that is not in the population (or null).
    pub orphan_rows: Vec<(String, u64)>,
    /// Source rows the aggregations read (inside windows and filters), all keys.
    pub rows_read: u64,
}

/// One part of the facts to join to the population.
pub struct SideBatch {
    /// Its key column.
    pub key: String,
    /// Its column counting source rows per key, if any (not a fact).
    pub rows: Option<String>,
    /// Its rows, at most one per key.
    pub batch: RecordBatch,
}

impl SideBatch {
    /// Its column counting source rows per key, when it has one.
    fn row_counts(&self) -> Option<&Int64Array> {
        self.rows
            .as_ref()
            .and_then(|r| self.batch.column_by_name(r))
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
    }

    /// The source rows its aggregation read (0 for a side without a rows column).
    fn rows_read(&self) -> u64 {
        self.row_counts().map_or(0, |counts| {
            counts
                .iter()
                .flatten()
                .map(|n| u64::try_from(n).unwrap_or(0))
                .sum()
        })
    }
}

/// `population LEFT JOIN side ON key = side_key` for every side, keeping
/// the population's rows in order. Null keys match nothing. Each side must
/// have at most one row per key (they are grouped by it); a repeated key is
/// an internal error rather than a silently duplicated entity. Also returns,
/// per side, the source rows (its `rows` column) of keys that matched no
/// entity.
pub fn left_join_by_key(
    schema: SchemaRef,
    population: &RecordBatch,
    key: &str,
    sides: &[SideBatch],
) -> Result<(RecordBatch, Vec<u64>)> {
    let population_keys = population.column_by_name(key).ok_or_else(|| {
        DataFusionError::Internal(format!("the population has no key column `{key}`"))
    })?;
    let key_type = population_keys.data_type().clone();
    let converter = RowConverter::new(vec![SortField::new(key_type.clone())])?;
    let population_rows = converter.convert_columns(&[Arc::clone(population_keys)])?;

    // Each entity's row, by key (a repeated key keeps its first row: the
    // night fails on it later, naming it).
    let mut row_of_entity: HashMap<_, u32> =
        HashMap::with_capacity_and_hasher(population.num_rows(), Default::default());
    for row in (0..population.num_rows()).filter(|&row| population_keys.is_valid(row)) {
        row_of_entity
            .entry(population_rows.row(row))
            .or_insert(row as u32);
    }
    let mut columns: Vec<ArrayRef> = population.columns().to_vec();
    let mut orphans = Vec::with_capacity(sides.len());
    for side_batch in sides {
        let SideBatch {
            key: side_key,
            rows,
            batch: side,
        } = side_batch;
        let side_keys = side.column_by_name(side_key).ok_or_else(|| {
            DataFusionError::Internal(format!("a side has no key column `{side_key}`"))
        })?;
        let side_keys = cast(side_keys, &key_type)?;
        let side_rows = converter.convert_columns(&[Arc::clone(&side_keys)])?;
        let counts = side_batch.row_counts();
        let mut side_row_of = vec![None; population.num_rows()];
        let mut orphan_rows = 0;
        for row in 0..side.num_rows() {
            let entity = side_keys
                .is_valid(row)
                .then(|| row_of_entity.get(&side_rows.row(row)))
                .flatten();
            match entity {
                Some(&entity) => {
                    if side_row_of[entity as usize].replace(row as u32).is_some() {
                        return Err(DataFusionError::Internal(format!(
                            "side `{side_key}` has more than one row for an entity"
                        )));
                    }
                }
                None => {
                    if let Some(counts) = counts.filter(|c| c.is_valid(row)) {
                        orphan_rows += u64::try_from(counts.value(row)).unwrap_or(0);
                    }
                }
            }
        }
        let indices = UInt32Array::from(side_row_of);
        orphans.push(orphan_rows);
        for (field, column) in side.schema().fields().iter().zip(side.columns()) {
            if field.name() != side_key && Some(field.name()) != rows.as_ref() {
                columns.push(take(column, &indices, None)?);
            }
        }
    }
    Ok((RecordBatch::try_new(schema, columns)?, orphans))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch(fields: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let schema = Schema::new(
            fields
                .iter()
                .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        );
        RecordBatch::try_new(
            Arc::new(schema),
            fields.into_iter().map(|(_, a)| a).collect(),
        )
        .expect("batch")
    }

    fn strings(values: Vec<Option<&str>>) -> ArrayRef {
        Arc::new(StringArray::from(values))
    }

    #[test]
    fn parts_share_the_partitions_by_the_bytes_they_read() {
        // Three parts over one big source and two small ones, on 2 threads:
        // one partition each, side by side.
        assert_eq!(share_partitions(&[100, 100, 100, 1, 1], 2), [1, 1, 1, 1, 1]);
        // One part reading nearly everything gets every thread.
        assert_eq!(share_partitions(&[1000, 1, 1], 4), [4, 1, 1]);
        // Two equal parts on 8 threads: half each.
        assert_eq!(share_partitions(&[50, 50], 8), [4, 4]);
        // Nothing known: one partition each; never zero threads.
        assert_eq!(share_partitions(&[0, 0], 4), [1, 1]);
        assert_eq!(share_partitions(&[10], 0), [1]);
        assert_eq!(share_partitions(&[u64::MAX, u64::MAX], 1024), [512, 512]);
    }

    fn population() -> RecordBatch {
        batch(vec![(
            "id",
            strings(vec![Some("b"), None, Some("a"), Some("c")]),
        )])
    }

    /// The population left-joined with one side keyed by `__key__s`.
    fn join_one(side: RecordBatch) -> Result<RecordBatch> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
        ]));
        left_join_by_key(
            schema,
            &population(),
            "id",
            &[SideBatch {
                key: "__key__s".to_string(),
                rows: None,
                batch: side,
            }],
        )
        .map(|(joined, _)| joined)
    }

    #[test]
    fn sides_join_by_key_in_population_order_and_null_keys_match_nothing() {
        let side = batch(vec![
            (
                "__key__s",
                strings(vec![Some("a"), None, Some("b"), Some("z")]),
            ),
            ("n", Arc::new(Int64Array::from(vec![1, 99, 2, 26]))),
        ]);
        let joined = join_one(side).expect("join");
        let n = joined
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("n");
        assert_eq!(
            n.iter().collect::<Vec<_>>(),
            vec![Some(2), None, Some(1), None]
        );
    }

    #[test]
    fn a_side_key_of_another_string_type_still_matches() {
        let side = batch(vec![
            (
                "__key__s",
                Arc::new(datafusion::arrow::array::StringViewArray::from(vec!["c"])) as ArrayRef,
            ),
            ("n", Arc::new(Int64Array::from(vec![3]))),
        ]);
        let joined = join_one(side).expect("join");
        assert_eq!(joined.column(1).null_count(), 3);
    }

    #[test]
    fn a_side_with_a_repeated_key_is_refused() {
        let side = batch(vec![
            ("__key__s", strings(vec![Some("a"), Some("a")])),
            ("n", Arc::new(Int64Array::from(vec![1, 2]))),
        ]);
        let joined = join_one(side);
        assert!(joined.is_err());
    }
}
