//! Entity-level evaluation: the scorecard's steps and the playbooks'
//! actions, evaluated over batches with one row per entity.
//!
//! These rows are entities (thousands), not events (millions), so the
//! expressions run directly, without a query plan around them: each is
//! type-coerced, simplified and lowered to a DataFusion physical expression
//! once, then evaluated batch by batch. Planning the same expressions as a
//! stack of wide projections cost more than running them
//! (docs/benchmarks.md).

use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, TimestampMicrosecondArray};
use datafusion::arrow::compute::{
    SortOptions, cast, concat_batches, filter_record_batch, sort_to_indices, take_record_batch,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::common::DFSchema;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::optimizer::simplify_expressions::{ExprSimplifier, SimplifyContext};
use datafusion::physical_expr::PhysicalExpr;

use crate::base::names::{self, ACTION_COLUMNS};
use crate::base::units::Micros;
use crate::plan::{PlaybookActions, Step};

/// Lower `expr` over `schema` to a physical expression: coerce types, then
/// simplify (some functions, such as `coalesce`, exist only as rewrites).
pub(super) fn compile(
    state: &SessionState,
    expr: &Expr,
    schema: &Arc<DFSchema>,
) -> Result<Arc<dyn PhysicalExpr>> {
    let context = SimplifyContext::builder()
        .with_schema(Arc::clone(schema))
        .with_config_options(Arc::clone(state.config_options()))
        .build();
    let simplifier = ExprSimplifier::new(context);
    let expr = simplifier.coerce(expr.clone(), schema)?;
    let expr = simplifier.simplify(expr)?;
    state.create_physical_expr(expr, schema)
}

fn evaluate(expr: &Arc<dyn PhysicalExpr>, batch: &RecordBatch) -> Result<ArrayRef> {
    expr.evaluate(batch)?.into_array(batch.num_rows())
}

/// A value of one entity that could not be computed.
#[derive(Debug)]
pub struct ValueError {
    /// What it was, in words: "metric `total`", "playbook `quiet`".
    pub what: String,
    /// The entity's key, when the failing row could be found.
    pub entity: Option<String>,
    /// What went wrong.
    pub error: DataFusionError,
}

impl From<DataFusionError> for ValueError {
    fn from(error: DataFusionError) -> Self {
        ValueError {
            what: "a value".to_string(),
            entity: None,
            error,
        }
    }
}

impl From<datafusion::arrow::error::ArrowError> for ValueError {
    fn from(error: datafusion::arrow::error::ArrowError) -> Self {
        ValueError::from(DataFusionError::from(error))
    }
}

/// Evaluate `expr` over `batch`; on failure, say `what` it computes and
/// the first entity (by `key`) whose row fails on its own.
fn evaluate_named(
    expr: &Arc<dyn PhysicalExpr>,
    batch: &RecordBatch,
    what: &str,
    key: &str,
) -> std::result::Result<ArrayRef, ValueError> {
    evaluate(expr, batch).map_err(|error| {
        let entity = (0..batch.num_rows())
            .find(|&row| evaluate(expr, &batch.slice(row, 1)).is_err())
            .and_then(|row| super::cells::cell(batch, key, row).flatten());
        ValueError {
            what: what.to_string(),
            entity,
            error,
        }
    })
}

/// New columns compiled against one input schema.
struct Appender {
    output: SchemaRef,
    names: Vec<String>,
    exprs: Vec<Arc<dyn PhysicalExpr>>,
}

impl Appender {
    /// Every output column is nullable: the input schema comes from the
    /// logical plan, and the batches from its physical plan, which may be
    /// less strict about nulls.
    fn new(state: &SessionState, input: &SchemaRef, columns: &[(String, Expr)]) -> Result<Self> {
        let schema = Arc::new(DFSchema::try_from(input.as_ref().clone())?);
        let mut fields: Vec<Arc<Field>> = input
            .fields()
            .iter()
            .map(|f| Arc::new(f.as_ref().clone().with_nullable(true)))
            .collect();
        let mut exprs = Vec::with_capacity(columns.len());
        for (name, expr) in columns {
            let physical = compile(state, expr, &schema)?;
            fields.push(Arc::new(Field::new(name, physical.data_type(input)?, true)));
            exprs.push(physical);
        }
        Ok(Appender {
            output: Arc::new(Schema::new_with_metadata(fields, input.metadata().clone())),
            names: columns.iter().map(|(name, _)| name.clone()).collect(),
            exprs,
        })
    }

    fn apply(
        &self,
        batch: &RecordBatch,
        key: &str,
    ) -> std::result::Result<RecordBatch, ValueError> {
        let mut columns = batch.columns().to_vec();
        for (name, expr) in self.names.iter().zip(&self.exprs) {
            columns.push(evaluate_named(expr, batch, &names::describe(name), key)?);
        }
        Ok(RecordBatch::try_new(Arc::clone(&self.output), columns)?)
    }
}

/// The facts in one batch, sorted by `key` (ascending, nulls last).
pub fn sort_by_key(schema: &SchemaRef, batches: &[RecordBatch], key: &str) -> Result<RecordBatch> {
    let all = concat_batches(schema, batches)?;
    let order = sort_to_indices(
        all.column(schema.index_of(key)?),
        Some(ASCENDING_NULLS_LAST),
        None,
    )?;
    if order
        .values()
        .iter()
        .enumerate()
        .all(|(i, &row)| row as usize == i)
    {
        return Ok(all);
    }
    Ok(take_record_batch(&all, &order)?)
}

const ASCENDING_NULLS_LAST: SortOptions = SortOptions {
    descending: false,
    nulls_first: false,
};

/// The schema of the actions output: every column text.
pub fn actions_schema() -> SchemaRef {
    Arc::new(Schema::new(
        ACTION_COLUMNS
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ))
}

/// An entity attribute carried on every action, by its position in the
/// working scorecard.
struct DisplayColumn {
    index: usize,
}

/// A playbook's condition and action columns, compiled.
struct CompiledPlaybook {
    name: String,
    condition: Arc<dyn PhysicalExpr>,
    columns: Vec<Arc<dyn PhysicalExpr>>,
}

/// The scorecard's steps and the playbooks, compiled against the facts'
/// schema and the as-of column, ready to run over any night's facts.
pub struct EntityProgram {
    steps: Vec<Appender>,
    working_schema: SchemaRef,
    playbooks: Vec<CompiledPlaybook>,
    display: Vec<DisplayColumn>,
    actions_schema: SchemaRef,
}

/// The facts' schema with the as-of column after its columns.
fn with_as_of(facts: &Schema) -> Schema {
    let mut fields: Vec<Arc<Field>> = facts.fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(
        names::AS_OF,
        DataType::Timestamp(TimeUnit::Microsecond, None),
        false,
    )));
    Schema::new_with_metadata(fields, facts.metadata().clone())
}

/// `batch` with the night's as-of instant as a column.
fn add_as_of(batch: &RecordBatch, as_of: Micros) -> Result<RecordBatch> {
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(TimestampMicrosecondArray::from_value(
        as_of.get(),
        batch.num_rows(),
    )));
    Ok(RecordBatch::try_new(
        Arc::new(with_as_of(&batch.schema())),
        columns,
    )?)
}

/// Compile the steps over `facts` and the playbooks over the resulting
/// working scorecard. Needs only schemas, so it can run while the facts
/// are being computed.
pub fn compile_program(
    state: &SessionState,
    facts: SchemaRef,
    steps: &[Step],
    playbooks: &[PlaybookActions],
    display: &[(String, String)],
) -> Result<EntityProgram> {
    let mut schema = Arc::new(with_as_of(&facts));
    let mut appenders = Vec::with_capacity(steps.len());
    for step in steps {
        let appender = Appender::new(state, &schema, &step.columns)?;
        schema = Arc::clone(&appender.output);
        appenders.push(appender);
    }
    let working = Arc::new(DFSchema::try_from(schema.as_ref().clone())?);
    let playbooks = playbooks
        .iter()
        .map(|p| {
            Ok(CompiledPlaybook {
                name: p.name.clone(),
                condition: compile(state, &p.condition, &working)?,
                columns: p
                    .columns
                    .iter()
                    .map(|(_, e)| compile(state, e, &working))
                    .collect::<Result<_>>()?,
            })
        })
        .collect::<Result<_>>()?;
    let mut fields: Vec<Arc<Field>> = actions_schema().fields().iter().cloned().collect();
    let mut display_columns = Vec::with_capacity(display.len());
    for (column, attribute) in display {
        let index = schema.index_of(attribute)?;
        fields.push(Arc::new(Field::new(
            column,
            schema.field(index).data_type().clone(),
            true,
        )));
        display_columns.push(DisplayColumn { index });
    }
    Ok(EntityProgram {
        steps: appenders,
        working_schema: schema,
        playbooks,
        display: display_columns,
        actions_schema: Arc::new(Schema::new(fields)),
    })
}

/// The program compiled for an earlier night, which a later night with the
/// same facts' schema, steps and playbooks reuses instead of compiling its
/// own (the steps read as-of from a column, so nights differ only in their
/// facts). Clones share one cache: a backfill's or backtest's nights.
#[derive(Clone, Default)]
pub struct ProgramCache(Arc<Mutex<Option<CachedProgram>>>);

struct CachedProgram {
    facts: SchemaRef,
    steps: Vec<Step>,
    playbooks: Vec<PlaybookActions>,
    display: Vec<(String, String)>,
    program: Arc<EntityProgram>,
}

impl std::fmt::Debug for ProgramCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgramCache")
    }
}

impl ProgramCache {
    /// The cached program when it was compiled from the same inputs, else
    /// a new one, which replaces it in the cache.
    pub fn get_or_compile(
        &self,
        state: &SessionState,
        facts: SchemaRef,
        steps: &[Step],
        playbooks: &[PlaybookActions],
        display: &[(String, String)],
    ) -> Result<Arc<EntityProgram>> {
        let cached = |c: &CachedProgram| {
            c.facts == facts && c.steps == steps && c.playbooks == playbooks && c.display == display
        };
        if let Ok(guard) = self.0.lock()
            && let Some(hit) = guard.as_ref().filter(|c| cached(c))
        {
            return Ok(Arc::clone(&hit.program));
        }
        let program = Arc::new(compile_program(
            state,
            Arc::clone(&facts),
            steps,
            playbooks,
            display,
        )?);
        if let Ok(mut guard) = self.0.lock() {
            *guard = Some(CachedProgram {
                facts,
                steps: steps.to_vec(),
                playbooks: playbooks.to_vec(),
                display: display.to_vec(),
                program: Arc::clone(&program),
            });
        }
        Ok(program)
    }
}

impl EntityProgram {
    /// The actions' schema: the action columns, then the entity's display
    /// attributes in their own types.
    pub fn actions_schema(&self) -> SchemaRef {
        Arc::clone(&self.actions_schema)
    }

    /// The working scorecard's schema: the facts plus every step's columns.
    pub fn working_schema(&self) -> SchemaRef {
        Arc::clone(&self.working_schema)
    }

    /// The working scorecard: the facts with the night's as-of and every
    /// step's columns appended. `key` names the entity of a value that
    /// cannot be computed.
    pub fn apply_steps(
        &self,
        facts: Vec<RecordBatch>,
        as_of: Micros,
        key: &str,
    ) -> std::result::Result<Vec<RecordBatch>, ValueError> {
        let mut batches = facts
            .iter()
            .map(|b| add_as_of(b, as_of))
            .collect::<Result<Vec<_>>>()?;
        for step in &self.steps {
            batches = batches
                .iter()
                .map(|b| step.apply(b, key))
                .collect::<std::result::Result<_, _>>()?;
        }
        Ok(batches)
    }

    /// Fire every playbook over the working scorecard: the actions in
    /// playbook order, each playbook's rows sorted by entity.
    pub fn fire(
        &self,
        working: &[RecordBatch],
        key: &str,
    ) -> std::result::Result<Vec<RecordBatch>, ValueError> {
        let output = Arc::clone(&self.actions_schema);
        let mut actions = Vec::new();
        for playbook in &self.playbooks {
            let mut fired = Vec::new();
            let what = format!("playbook `{}`", playbook.name);
            for batch in working {
                let mask = evaluate_named(&playbook.condition, batch, &what, key)?;
                let Some(mask) = mask.as_any().downcast_ref() else {
                    return Err(ValueError::from(DataFusionError::Internal(format!(
                        "the condition of playbook `{}` is not boolean",
                        playbook.name
                    ))));
                };
                let rows = filter_record_batch(batch, mask)?;
                if rows.num_rows() == 0 {
                    continue;
                }
                let mut arrays = playbook
                    .columns
                    .iter()
                    .map(|c| {
                        let value = evaluate_named(c, &rows, &what, key)?;
                        Ok(cast(&value, &DataType::Utf8)?)
                    })
                    .collect::<std::result::Result<Vec<_>, ValueError>>()?;
                arrays.extend(
                    self.display
                        .iter()
                        .map(|d| Arc::clone(rows.column(d.index))),
                );
                fired.push(RecordBatch::try_new(Arc::clone(&output), arrays)?);
            }
            if fired.is_empty() {
                continue;
            }
            let all = concat_batches(&output, &fired)?;
            let order = sort_to_indices(all.column(0), Some(ASCENDING_NULLS_LAST), None)?;
            actions.push(take_record_batch(&all, &order)?);
        }
        Ok(actions)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::functions::core::expr_fn::coalesce;
    use datafusion::logical_expr::{ident, lit};
    use datafusion::prelude::SessionContext;

    use super::*;

    fn facts() -> (SchemaRef, RecordBatch) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("key", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from(vec![Some("b"), None, Some("a")])),
                Arc::new(Int64Array::from(vec![Some(2), Some(5), None])),
            ],
        )
        .expect("batch");
        (schema, batch)
    }

    #[test]
    fn entities_sort_by_key_with_nulls_last() {
        let (schema, batch) = facts();
        let sorted = sort_by_key(&schema, &[batch], "key").expect("sort");
        let keys = sorted
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("text");
        assert_eq!(
            keys.iter().collect::<Vec<_>>(),
            vec![Some("a"), Some("b"), None]
        );
    }

    #[test]
    fn steps_see_earlier_steps_and_rewrite_only_functions_work() {
        let state = SessionContext::new().state();
        let (schema, batch) = facts();
        let steps = [
            Step {
                label: "zero filled".into(),
                columns: vec![("filled".into(), coalesce(vec![ident("n"), lit(0i64)]))],
            },
            Step {
                label: "doubled".into(),
                columns: vec![("doubled".into(), ident("filled") * lit(2i64))],
            },
        ];
        let program = compile_program(&state, schema, &steps, &[], &[]).expect("compile");
        let working = program
            .apply_steps(vec![batch], Micros::new(0), "key")
            .expect("apply");
        let doubled = working[0]
            .column_by_name("doubled")
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned())
            .expect("doubled");
        assert_eq!(doubled.values().to_vec(), vec![4, 10, 0]);
        let fields = program.working_schema();
        let names: Vec<&str> = fields.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, vec!["key", "n", names::AS_OF, "filled", "doubled"]);
    }

    #[test]
    fn one_compiled_program_serves_every_night_that_shares_its_steps() {
        let state = SessionContext::new().state();
        let (schema, batch) = facts();
        let steps = vec![Step {
            label: "as-of".into(),
            columns: vec![("night".into(), ident(names::AS_OF))],
        }];
        let cache = ProgramCache::default();
        let first = cache
            .get_or_compile(&state, Arc::clone(&schema), &steps, &[], &[])
            .expect("compile");
        let again = cache
            .get_or_compile(&state, Arc::clone(&schema), &steps, &[], &[])
            .expect("compile");
        assert!(Arc::ptr_eq(&first, &again));
        for night in [Micros::new(86_400_000_000), Micros::new(2 * 86_400_000_000)] {
            let working = again
                .apply_steps(vec![batch.clone()], night, "key")
                .expect("apply");
            let column = working[0]
                .column_by_name("night")
                .and_then(|c| {
                    c.as_any()
                        .downcast_ref::<TimestampMicrosecondArray>()
                        .cloned()
                })
                .expect("night");
            assert!(column.iter().all(|v| v == Some(night.get())));
        }
        let other = vec![Step {
            label: "other".into(),
            columns: vec![("one".into(), lit(1i64))],
        }];
        let changed = cache
            .get_or_compile(&state, schema, &other, &[], &[])
            .expect("compile");
        assert!(!Arc::ptr_eq(&first, &changed));
    }
}
