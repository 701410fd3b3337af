//! Execute a [`Plan`] on the local engine: the facts (population and
//! sides) as DataFusion plans, then the entity steps and the playbooks as
//! expressions over the facts. Nothing is written here.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::compute::concat;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::{RowConverter, SortField};

use super::cells::TextColumn;
use super::engine::Engine;
use super::errors::{execution_error, internal, value_error};
use super::parsing::{self, ParseFailures};
use super::stopwatch::{Stopwatch, timed};
use super::{entity, facts};
use crate::diagnostics::{Code, Diagnostic};
use crate::plan::Plan;

/// Results of executing a plan, before anything is written.
pub struct Computed {
    /// The scorecard's schema.
    pub scorecard_schema: SchemaRef,
    /// The scorecard (output columns), sorted by key.
    pub scorecard: Vec<RecordBatch>,
    /// The working scorecard with every internal column (for `explain`).
    pub working: Vec<RecordBatch>,
    /// The working scorecard's schema.
    pub working_schema: SchemaRef,
    /// The actions' schema.
    pub actions_schema: SchemaRef,
    /// Fired actions (before cooldowns).
    pub actions: Vec<RecordBatch>,
    /// `(source, rows)` its metrics read with a key that is no entity's.
    pub orphan_rows: Vec<(String, u64)>,
    /// Per declared column, the values that did not parse.
    pub parse_failures: Vec<ParseFailures>,
    /// Source rows the aggregations read.
    pub rows_read: u64,
    /// The rollups, when the pipeline defines any and they were computed:
    /// [`execute`] leaves them to its caller, who may compute several
    /// nights' at once ([`super::compute_rollups`]).
    pub rollups: Option<super::Rollups>,
}

/// How many entities have no key, and the keys that appear more than once
/// with their counts.
fn bad_keys(batches: &[RecordBatch], key: &str) -> (usize, Vec<(String, usize)>) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut missing = 0;
    for batch in batches {
        if let Some(keys) = TextColumn::of(batch, key) {
            for k in keys.all() {
                match k {
                    Some(k) => *counts.entry(k).or_default() += 1,
                    None => missing += 1,
                }
            }
        }
    }
    let repeated = counts.into_iter().filter(|(_, n)| *n > 1).collect();
    (missing, repeated)
}

/// Whether every entity has a key of its own (none null, none twice),
/// checked on the keys as Arrow rows: no key is turned into text unless
/// one is missing or repeated and the message must name it.
fn keys_are_unique(batches: &[RecordBatch], key: &str) -> bool {
    let columns: Vec<&dyn Array> = batches
        .iter()
        .filter_map(|b| b.column_by_name(key).map(|c| c.as_ref()))
        .collect();
    if columns.len() != batches.len() || columns.iter().any(|c| c.null_count() > 0) {
        return false;
    }
    if columns.is_empty() {
        return true;
    }
    let Ok(all) = concat(&columns) else {
        return false;
    };
    let converter = RowConverter::new(vec![SortField::new(all.data_type().clone())]);
    let Ok(rows) = converter.and_then(|c| c.convert_columns(&[all])) else {
        return false;
    };
    let mut seen = HashSet::with_capacity(rows.num_rows());
    rows.iter().all(|row| seen.insert(row))
}

/// The entity table must give every entity one key of its own.
fn check_keys(working: &[RecordBatch], plan: &Plan) -> Result<(), Diagnostic> {
    let (key, table) = (plan.key.as_str(), plan.entity_source.as_str());
    if keys_are_unique(working, key) {
        return Ok(());
    }
    let (missing, duplicates) = bad_keys(working, key);
    if missing > 0 {
        let rows = if missing == 1 {
            "1 row".to_string()
        } else {
            format!("{missing} rows")
        };
        return Err(Diagnostic::error(
            Code::SchemaMismatch,
            format!("the entity table `{table}` has {rows} without a key (`{key}` is null)"),
        )
        .help(format!(
            "every entity needs a key: fill or remove those rows, or leave them out with `population: {key} is not null`"
        )));
    }
    if !duplicates.is_empty() {
        let examples = duplicates
            .iter()
            .take(5)
            .map(|(k, n)| format!("`{k}` ({n} rows)"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Diagnostic::error(
            Code::SchemaMismatch,
            format!(
                "the entity table `{table}` has {} duplicate keys in `{key}`: {examples}",
                duplicates.len()
            ),
        )
        .help("the entity table must have one row per entity; deduplicate it or filter it with `population:`"));
    }
    Ok(())
}

/// Select the output columns of the working scorecard.
fn project_columns(
    batches: &[RecordBatch],
    schema: &SchemaRef,
    columns: &[String],
) -> Result<(SchemaRef, Vec<RecordBatch>), Diagnostic> {
    let indices: Vec<usize> = columns
        .iter()
        .map(|c| schema.index_of(c).map_err(internal))
        .collect::<Result<_, _>>()?;
    let projected = Arc::new(schema.project(&indices).map_err(internal)?);
    let batches = batches
        .iter()
        .map(|b| b.project(&indices).map_err(internal))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((projected, batches))
}

/// Execute `plan` on `engine`: the working scorecard, the scorecard and
/// the fired actions (before cooldowns), but not the rollups. With `ahead`, the facts but the
/// previous night's health were joined ahead of the night (a backfill);
/// that health is taken from the engine when it holds the previous night
/// in memory. Stages are timed on `watch`.
pub async fn execute(
    engine: &Engine,
    plan: &Plan,
    ahead: Option<&facts::JoinedAhead>,
    watch: &mut Stopwatch,
    progress: &dyn Fn(&str),
) -> Result<Computed, Vec<Diagnostic>> {
    progress("computing the scorecard");
    let ctx = engine.session();
    let key = plan.key.as_str();
    // The entity steps and playbooks need only the facts' schema: compile
    // them on another thread while DataFusion plans and computes the facts.
    let state = ctx.state();
    let facts_schema: SchemaRef = Arc::new(plan.scorecard.facts_schema());
    let compiled_schema = Arc::clone(&facts_schema);
    let steps = plan.scorecard.steps.clone();
    let playbooks = plan.actions.clone();
    let display = plan.action_attributes.clone();
    let cache = engine.held().map(|held| held.programs().clone());
    let compiling = tokio::task::spawn_blocking(move || {
        timed(|| match cache {
            Some(cache) => {
                cache.get_or_compile(&state, compiled_schema, &steps, &playbooks, &display)
            }
            None => entity::compile_program(&state, compiled_schema, &steps, &playbooks, &display)
                .map(Arc::new),
        })
    });
    // Declared columns' parse checks read their sources alongside the facts.
    let (facts, parse_failures) = futures::join!(
        facts::compute_facts(
            ctx,
            &plan.scorecard,
            facts_schema,
            key,
            ahead,
            engine.previous_health(),
        ),
        parsing::count_failures(ctx, &plan.parse_checks)
    );
    let facts = facts.map_err(|e| vec![execution_error(&e)])?;
    let parse_failures = parse_failures.map_err(|e| vec![execution_error(&e)])?;
    let orphan_rows = facts.orphan_rows;
    let rows_read = facts.rows_read;
    let over_limit = parsing::over_limit(&plan.parse_checks, &parse_failures);
    if !over_limit.is_empty() {
        return Err(over_limit);
    }
    // Facts joined ahead are sorted already (the joins keep their order).
    let facts = match ahead {
        Some(_) => facts.batch,
        None => entity::sort_by_key(&facts.batch.schema(), &[facts.batch], key)
            .map_err(|e| vec![execution_error(&e)])?,
    };
    watch.lap("compute facts");
    let (program, compile_ms) = compiling.await.map_err(|e| vec![internal(e)])?;
    let program = program.map_err(|e| vec![execution_error(&e)])?;
    watch.record("compile entity steps (alongside)", compile_ms);
    let working_schema = program.working_schema();
    let working = program
        .apply_steps(vec![facts], engine.as_of(), key)
        .map_err(|e| vec![value_error(&e, &plan.entity)])?;
    watch.lap("entity steps");
    check_keys(&working, plan).map_err(|d| vec![d])?;
    let (scorecard_schema, scorecard) =
        project_columns(&working, &working_schema, &plan.output_columns).map_err(|d| vec![d])?;
    progress("firing playbooks");
    let actions = program
        .fire(&working, key)
        .map_err(|e| vec![value_error(&e, &plan.entity)])?;
    watch.lap("actions");
    Ok(Computed {
        scorecard_schema,
        scorecard,
        working,
        working_schema,
        actions_schema: program.actions_schema(),
        actions,
        orphan_rows,
        parse_failures,
        rows_read,
        rollups: None,
    })
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    use super::*;

    fn keys(array: ArrayRef) -> RecordBatch {
        let schema = Schema::new(vec![Field::new("id", array.data_type().clone(), true)]);
        RecordBatch::try_new(Arc::new(schema), vec![array]).expect("batch")
    }

    #[test]
    fn keys_are_unique_only_without_nulls_or_repeats_across_batches() {
        let text = |v: Vec<Option<&str>>| keys(Arc::new(StringArray::from(v)));
        assert!(keys_are_unique(&[text(vec![Some("a"), Some("b")])], "id"));
        assert!(!keys_are_unique(&[text(vec![Some("a"), Some("a")])], "id"));
        assert!(!keys_are_unique(&[text(vec![Some("a"), None])], "id"));
        assert!(!keys_are_unique(
            &[text(vec![Some("a")]), text(vec![Some("b"), Some("a")])],
            "id"
        ));
        let numbers = keys(Arc::new(Int64Array::from(vec![3, 1, 2])));
        assert!(keys_are_unique(&[numbers], "id"));
        assert!(!keys_are_unique(&[text(vec![Some("a")])], "missing"));
        assert!(keys_are_unique(&[], "id"));
    }
}
