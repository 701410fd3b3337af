//! Executing a checked pipeline: register the sources, plan, run the
//! scorecard and actions plans, apply cooldowns, write the partition.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::datasource::TableProvider;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::outputs::{self, Staged};
use super::sources::{self, OpenedTables, SourceLocation};
use super::{entity, facts, local_files};
use crate::check::model::{FileFormat, Model};
use crate::diagnostics::{Code, Diagnostic};
use crate::plan::{self, ScorecardPlan, names};

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The as-of date: windows end at its midnight (UTC), exclusive.
    pub as_of: Option<NaiveDate>,
    /// Output folder (default: the pipeline's `outputs.dir`).
    pub out: Option<PathBuf>,
    /// Output format (default: the pipeline's `outputs.format`).
    pub format: Option<FileFormat>,
    /// Memory limit in bytes; operators spill to disk beyond it.
    pub memory_limit: Option<usize>,
    /// Threads (DataFusion target partitions); default: the number of cores.
    pub threads: Option<usize>,
}

/// The session, scans and previous scorecard a run plans against.
pub struct Prepared {
    /// The DataFusion session with every source registered.
    pub ctx: SessionContext,
    /// An unoptimized scan of each source.
    pub scans: BTreeMap<String, LogicalPlan>,
    /// The previous scorecard (newest earlier partition), if any.
    pub previous: Option<(NaiveDate, LogicalPlan)>,
    /// As-of as microseconds since the epoch.
    pub as_of_micros: i64,
    /// The as-of date.
    pub as_of: NaiveDate,
    /// The output folder.
    pub out: PathBuf,
    /// The output format.
    pub format: FileFormat,
    /// Source locations, for the manifest.
    pub locations: Vec<SourceLocation>,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The partition written.
    pub partition: PathBuf,
    /// Entities scored.
    pub entities: usize,
    /// Entities per band, in band order (`(none)` for entities without health).
    pub bands: Vec<(String, usize)>,
    /// Actions written per playbook.
    pub actions: Vec<(String, usize)>,
    /// Actions held back by a cooldown.
    pub suppressed: usize,
    /// Stage timings in milliseconds.
    pub timings: Vec<(String, f64)>,
}

fn run_failed(message: impl Into<String>) -> Diagnostic {
    Diagnostic::error(Code::RunFailed, message)
        .help("see the message; if it names a file or column, check the data")
}

fn internal(message: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(
        Code::Internal,
        format!("could not build the plan: {message}"),
    )
    .help("this is a bug in Vane; please report it with the pipeline file")
}

/// A DataFusion error from executing a plan, in the user's words.
pub fn execution_error(error: &datafusion::error::DataFusionError) -> Diagnostic {
    let text = error.to_string();
    let first = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "caused by")
        .map(sources::simplify)
        .collect::<Vec<_>>()
        .join(": ");
    if first.contains("Resources exhausted") || first.contains("memory") {
        Diagnostic::error(
            Code::RunFailed,
            format!("the run ran out of memory: {first}"),
        )
        .help("raise --memory-limit, or lower --threads so fewer operators run at once")
    } else if first.contains("Parser error") || first.contains("Error parsing") {
        Diagnostic::error(Code::DataUnreadable, format!("a value in a data file does not match its column's type: {first}"))
            .help("CSV and JSON types are inferred from the first rows; fix the value, or convert the source to Parquet with explicit types")
    } else if first.contains("Parquet")
        || first.contains("parquet")
        || first.contains("CSV")
        || first.contains("Json")
        || first.contains("No such file")
    {
        Diagnostic::error(
            Code::DataUnreadable,
            format!("a data file could not be read: {first}"),
        )
        .help("check that the source files are complete and in the format the pipeline says")
    } else if first.contains("Cast") || first.contains("cast") {
        Diagnostic::error(Code::SchemaMismatch, format!("a value could not be converted: {first}"))
            .help("a column holds values of another type than the pipeline expects; check the source's schema with `vane validate --data`")
    } else {
        run_failed(format!("the query failed: {first}"))
    }
}

/// Parse `512MB`, `2GB`, `1.5GiB`, `800000` (bytes).
pub fn parse_size(text: &str) -> Option<usize> {
    let t = text.trim().to_ascii_lowercase();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0f64.powi(4),
        _ => return None,
    };
    let bytes = value * factor;
    (bytes.is_finite() && bytes >= 1.0).then_some(bytes as usize)
}

fn session(options: &RunOptions) -> Result<SessionContext, Diagnostic> {
    let threads = options
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    // DATAFUSION_* environment variables tune the engine (documented in docs/running.md).
    let mut config = SessionConfig::from_env()
        .unwrap_or_default()
        .with_target_partitions(threads)
        .with_information_schema(false);
    // Vane's aggregations group by entity key, or by (key, value) for distinct
    // counts; partial aggregation before the exchange rarely pays for itself
    // there, and DataFusion's adaptive probe made run times vary by 50%.
    // Skipping it is faster and steadier at every measured scale
    // (docs/benchmarks.md); DATAFUSION_EXECUTION_SKIP_PARTIAL_AGGREGATION_PROBE_RATIO_THRESHOLD overrides.
    if std::env::var_os("DATAFUSION_EXECUTION_SKIP_PARTIAL_AGGREGATION_PROBE_RATIO_THRESHOLD")
        .is_none()
    {
        config
            .options_mut()
            .execution
            .skip_partial_aggregation_probe_ratio_threshold = 0.0;
    }

    // Vane builds plans already in the shape the optimizer converges to
    // (fused aggregates, bounds next to the scans); a second and third
    // optimizer pass changed nothing but cost 2.5 ms per run (docs/benchmarks.md).
    if std::env::var_os("DATAFUSION_OPTIMIZER_MAX_PASSES").is_none() {
        config.options_mut().optimizer.max_passes = 1;
    }

    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = options.memory_limit {
        runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(limit)));
    }
    let runtime = runtime
        .build_arc()
        .map_err(|e| run_failed(format!("cannot set up the query engine: {e}")))?;
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    local_files::register(&ctx);
    Ok(ctx)
}

/// Micros since the epoch of midnight UTC on `date`.
pub fn midnight_micros(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_micros())
}

/// Register every source and find the previous scorecard.
pub async fn prepare(model: &Model, options: &RunOptions) -> Result<Prepared, Vec<Diagnostic>> {
    prepare_with(model, options, &OpenedTables::default()).await
}

/// [`prepare`], reusing the listing tables the checker opened.
pub async fn prepare_with(
    model: &Model,
    options: &RunOptions,
    opened: &OpenedTables,
) -> Result<Prepared, Vec<Diagnostic>> {
    let ctx = session(options).map_err(|d| vec![d])?;
    let as_of = options
        .as_of
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let mut scans = BTreeMap::new();
    let mut errors = Vec::new();
    let locations: Vec<SourceLocation> = model
        .sources
        .iter()
        .map(|source| SourceLocation {
            name: source.name.clone(),
            path: source.resolved_path.clone(),
            format: source.format,
            partitions: source.partitions.clone(),
            span: source.span,
        })
        .collect();
    let tables = futures::future::join_all(locations.iter().map(|l| async {
        match opened.get(l) {
            Some(table) => Ok(table),
            None => sources::listing_table(&ctx, l).await,
        }
    }))
    .await;
    for ((source, location), table) in model.sources.iter().zip(&locations).zip(tables) {
        match table {
            Ok(table) => {
                if let Err(e) = ctx.register_table(source.name.as_str(), table) {
                    errors.push(run_failed(format!(
                        "cannot register source `{}`: {e}",
                        source.name
                    )));
                    continue;
                }
                match ctx.table(source.name.as_str()).await {
                    Ok(df) => {
                        scans.insert(source.name.clone(), df.into_unoptimized_plan());
                    }
                    Err(e) => errors.push(run_failed(format!(
                        "cannot scan source `{}`: {e}",
                        source.name
                    ))),
                }
            }
            Err(e) => {
                let d = Diagnostic::error(
                    Code::DataUnreadable,
                    format!(
                        "source `{}`: cannot read {}: {}",
                        source.name,
                        sources::display(&location.path),
                        sources::simplify(&e.to_string())
                    ),
                )
                .at(&model.file, source.span, "this source")
                .help("check `path:` (relative to the pipeline file) and `format:`");
                errors.push(d);
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| model.outputs.dir.clone());
    let format = options.format.unwrap_or(model.outputs.format);
    let previous = if model.health.is_some() {
        previous_scorecard(&ctx, &out, as_of, format).await
    } else {
        None
    };
    Ok(Prepared {
        ctx,
        scans,
        previous,
        as_of_micros: midnight_micros(as_of),
        as_of,
        out,
        format,
        locations,
    })
}

/// One output table of an earlier partition, when it exists and can be read.
async fn earlier_output(
    ctx: &SessionContext,
    partition: &Path,
    table: &str,
    format: FileFormat,
) -> Option<Arc<datafusion::datasource::listing::ListingTable>> {
    let path = partition.join(outputs::file_name(table, format));
    if !path.is_file() {
        return None;
    }
    let location = SourceLocation {
        name: format!("previous_{table}"),
        path,
        format,
        partitions: Vec::new(),
        span: Default::default(),
    };
    sources::listing_table(ctx, &location).await.ok()
}

/// The newest earlier scorecard in `out`, as a scan, if it has health.
async fn previous_scorecard(
    ctx: &SessionContext,
    out: &Path,
    as_of: NaiveDate,
    format: FileFormat,
) -> Option<(NaiveDate, LogicalPlan)> {
    for (date, dir) in outputs::earlier_partitions(out, as_of) {
        let Some(table) = earlier_output(ctx, &dir, "scorecard", format).await else {
            continue;
        };
        if table.schema().field_with_name(names::HEALTH).is_err() {
            continue;
        }
        let name = format!("previous_scorecard_{}", date.format("%Y%m%d"));
        if ctx.register_table(name.as_str(), table).is_err() {
            continue;
        }
        if let Ok(df) = ctx.table(name.as_str()).await {
            return Some((date, df.into_unoptimized_plan()));
        }
    }
    None
}

/// The scorecard plan for a prepared run.
pub fn scorecard_plan(model: &Model, prepared: &Prepared) -> Result<ScorecardPlan, Diagnostic> {
    let inputs = plan::Inputs {
        scans: &prepared.scans,
        previous: prepared.previous.as_ref().map(|(_, p)| p.clone()),
        as_of_micros: prepared.as_of_micros,
    };
    plan::scorecard_plan(model, &inputs).map_err(internal)
}

/// Optimize a logical plan and plan it physically.
pub async fn physical_plan(
    ctx: &SessionContext,
    plan: &LogicalPlan,
) -> Result<Arc<dyn ExecutionPlan>, Diagnostic> {
    ctx.state()
        .create_physical_plan(plan)
        .await
        .map_err(|e| execution_error(&e))
}

/// Execute a physical plan to batches.
pub async fn execute_plan(
    ctx: &SessionContext,
    plan: Arc<dyn ExecutionPlan>,
) -> Result<Vec<RecordBatch>, Diagnostic> {
    datafusion::physical_plan::collect(plan, ctx.task_ctx())
        .await
        .map_err(|e| execution_error(&e))
}

fn strings(batch: &RecordBatch, column: &str) -> Option<StringArray> {
    let array = batch.column_by_name(column)?;
    let as_utf8 = cast(array, &DataType::Utf8).ok()?;
    as_utf8.as_any().downcast_ref::<StringArray>().cloned()
}

/// Entity keys that appear more than once, with their counts.
fn duplicate_keys(batches: &[RecordBatch], key: &str) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for batch in batches {
        if let Some(keys) = strings(batch, key) {
            for k in keys.iter() {
                *counts.entry(k.unwrap_or("null").to_string()).or_default() += 1;
            }
        }
    }
    counts.into_iter().filter(|(_, n)| *n > 1).collect()
}

/// Select the output columns of the working scorecard.
pub fn project_columns(
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

/// `(as_of, playbook, dedup_key)` of actions fired on nights within `window_days` before `as_of`.
async fn recent_firings(
    ctx: &SessionContext,
    out: &Path,
    as_of: NaiveDate,
    window_days: i64,
    format: FileFormat,
) -> Vec<(NaiveDate, String, String)> {
    let mut fired = Vec::new();
    for (date, dir) in outputs::earlier_partitions(out, as_of) {
        if (as_of - date).num_days() > window_days {
            break;
        }
        let Some(table) = earlier_output(ctx, &dir, "actions", format).await else {
            continue;
        };
        let Ok(df) = ctx.read_table(table) else {
            continue;
        };
        let Ok(batches) = df.collect().await else {
            continue;
        };
        for batch in &batches {
            if let (Some(playbooks), Some(keys)) =
                (strings(batch, "playbook"), strings(batch, "dedup_key"))
            {
                for (p, k) in playbooks.iter().zip(keys.iter()) {
                    if let (Some(p), Some(k)) = (p, k) {
                        fired.push((date, p.to_string(), k.to_string()));
                    }
                }
            }
        }
    }
    fired
}

/// Drop actions still within the cooldown of an earlier identical firing,
/// and repeats of the same dedup key within the night.
fn apply_cooldowns(
    model: &Model,
    batches: Vec<RecordBatch>,
    fired: &[(NaiveDate, String, String)],
    as_of: NaiveDate,
) -> (Vec<RecordBatch>, usize) {
    let cooldowns: BTreeMap<&str, i64> = model
        .playbooks
        .iter()
        .filter_map(|p| Some((p.name.as_str(), p.cooldown?)))
        .collect();
    let quiet: HashSet<(&str, &str)> = fired
        .iter()
        .filter(|(date, playbook, _)| {
            cooldowns
                .get(playbook.as_str())
                .is_some_and(|seconds| (as_of - *date).num_seconds() < *seconds)
        })
        .map(|(_, p, k)| (p.as_str(), k.as_str()))
        .collect();
    let mut suppressed = 0;
    let mut kept = Vec::new();
    // One action per (playbook, dedup key) and night: the first in output order.
    let mut tonight: HashSet<(String, String)> = HashSet::new();
    for batch in batches {
        let (Some(playbooks), Some(keys)) =
            (strings(&batch, "playbook"), strings(&batch, "dedup_key"))
        else {
            kept.push(batch);
            continue;
        };
        let mask: BooleanArray = playbooks
            .iter()
            .zip(keys.iter())
            .map(|(p, k)| {
                let (p, k) = (p.unwrap_or(""), k.unwrap_or(""));
                Some(!quiet.contains(&(p, k)) && tonight.insert((p.to_string(), k.to_string())))
            })
            .collect();
        suppressed += mask.iter().filter(|m| *m == Some(false)).count();
        match filter_record_batch(&batch, &mask) {
            Ok(filtered) => kept.push(filtered),
            Err(_) => kept.push(batch),
        }
    }
    (kept, suppressed)
}

fn count_by(batches: &[RecordBatch], column: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for batch in batches {
        if let Some(values) = strings(batch, column) {
            for v in values.iter() {
                *counts.entry(v.unwrap_or("(none)").to_string()).or_default() += 1;
            }
        }
    }
    counts
}

/// Results of executing a pipeline, before anything is written.
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
    /// Stage timings.
    pub timings: Vec<(String, f64)>,
}

/// Stage timings in milliseconds, for the manifest.
struct Stopwatch {
    started: Instant,
    timings: Vec<(String, f64)>,
}

impl Stopwatch {
    fn new() -> Self {
        Stopwatch {
            started: Instant::now(),
            timings: Vec::new(),
        }
    }

    /// Record the time since the previous lap as `stage`.
    fn lap(&mut self, stage: &str) {
        self.record(stage, self.started.elapsed().as_secs_f64() * 1e3);
        self.started = Instant::now();
    }

    fn record(&mut self, stage: &str, ms: f64) {
        self.timings.push((stage.to_string(), ms));
    }

    /// Record stages timed elsewhere, and start the next lap now.
    fn absorb(&mut self, timings: &[(String, f64)]) {
        self.timings.extend(timings.iter().cloned());
        self.started = Instant::now();
    }
}

/// Execute the scorecard and actions plans.
pub async fn compute(
    model: &Model,
    prepared: &Prepared,
    progress: &dyn Fn(&str),
) -> Result<Computed, Vec<Diagnostic>> {
    let mut watch = Stopwatch::new();
    let plan = scorecard_plan(model, prepared).map_err(|d| vec![d])?;
    let playbooks =
        plan::actions_plan(model, prepared.as_of_micros).map_err(|e| vec![internal(e)])?;
    watch.lap("plan");
    progress("computing the scorecard");
    // The entity steps and playbooks need only the facts' schema: compile
    // them on another thread while DataFusion plans and computes the facts.
    let state = prepared.ctx.state();
    let facts_schema: SchemaRef = Arc::new(plan.facts_schema());
    let compiled_schema = Arc::clone(&facts_schema);
    let steps = plan.steps.clone();
    let compiling = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let program = entity::compile_program(&state, compiled_schema, &steps, &playbooks);
        (program, started.elapsed().as_secs_f64() * 1e3)
    });
    let facts = facts::compute_facts(&prepared.ctx, &plan, facts_schema, &model.entity.key)
        .await
        .map_err(|e| vec![execution_error(&e)])?;
    let facts = entity::sort_by_key(&facts.schema(), &[facts], &model.entity.key)
        .map_err(|e| vec![execution_error(&e)])?;
    watch.lap("compute facts");
    let (program, compile_ms) = compiling.await.map_err(|e| vec![internal(e)])?;
    let program = program.map_err(|e| vec![execution_error(&e)])?;
    watch.record("compile entity steps (alongside)", compile_ms);
    let working_schema = program.working_schema();
    let working = program
        .apply_steps(vec![facts])
        .map_err(|e| vec![execution_error(&e)])?;
    watch.lap("entity steps");
    let duplicates = duplicate_keys(&working, &model.entity.key);
    if !duplicates.is_empty() {
        let examples = duplicates
            .iter()
            .take(5)
            .map(|(k, n)| format!("`{k}` ({n} rows)"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(vec![Diagnostic::error(
            Code::SchemaMismatch,
            format!("the entity table `{}` has {} duplicate keys in `{}`: {examples}", model.entity.source, duplicates.len(), model.entity.key),
        )
        .help("the entity table must have one row per entity; deduplicate it or filter it with `population:`")]);
    }
    let (scorecard_schema, scorecard) =
        project_columns(&working, &working_schema, &plan::output_columns(model))
            .map_err(|d| vec![d])?;

    progress("firing playbooks");
    let actions = program
        .fire(&working)
        .map_err(|e| vec![execution_error(&e)])?;
    watch.lap("actions");
    Ok(Computed {
        scorecard_schema,
        scorecard,
        working,
        working_schema,
        actions_schema: entity::actions_schema(),
        actions,
        timings: watch.timings,
    })
}

/// Run a checked pipeline: compute, apply cooldowns, write the partition
/// atomically. `opened` holds tables the checker already opened.
pub async fn run(
    model: &Model,
    options: &RunOptions,
    opened: &OpenedTables,
    progress: &dyn Fn(&str),
) -> Result<RunSummary, Vec<Diagnostic>> {
    let total = Instant::now();
    let mut watch = Stopwatch::new();
    progress("reading sources");
    let prepared = prepare_with(model, options, opened).await?;
    watch.lap("register sources");
    let computed = compute(model, &prepared, progress).await?;
    watch.absorb(&computed.timings);

    let max_cooldown_days = (model
        .playbooks
        .iter()
        .filter_map(|p| p.cooldown)
        .max()
        .unwrap_or(0)
        + 86_399)
        / 86_400;
    let fired = if max_cooldown_days > 0 {
        recent_firings(
            &prepared.ctx,
            &prepared.out,
            prepared.as_of,
            max_cooldown_days,
            prepared.format,
        )
        .await
    } else {
        Vec::new()
    };
    let (actions, suppressed) = apply_cooldowns(model, computed.actions, &fired, prepared.as_of);

    watch.lap("cooldowns");
    progress("writing outputs");
    let partition_name = outputs::partition_name(prepared.as_of);
    let write_error = |what: &str, e: String| {
        vec![Diagnostic::error(Code::OutputFailed, format!("cannot write {what} under {}: {e}", prepared.out.display()))
            .help("check that the output folder is writable and the disk has room; earlier outputs are untouched")]
    };
    let staged = Staged::new(&prepared.out, &partition_name)
        .map_err(|e| write_error("the output folder", e.to_string()))?;
    let scorecard_file = outputs::file_name("scorecard", prepared.format);
    outputs::write_table(
        &staged.dir.join(&scorecard_file),
        &computed.scorecard_schema,
        &computed.scorecard,
        prepared.format,
    )
    .map_err(|e| write_error("the scorecard", e))?;
    let actions_file = outputs::file_name("actions", prepared.format);
    outputs::write_table(
        &staged.dir.join(&actions_file),
        &computed.actions_schema,
        &actions,
        prepared.format,
    )
    .map_err(|e| write_error("the actions", e))?;
    let entities: usize = computed.scorecard.iter().map(|b| b.num_rows()).sum();
    let action_rows: usize = actions.iter().map(|b| b.num_rows()).sum();
    watch.lap("write");
    watch.record("total", total.elapsed().as_secs_f64() * 1e3);
    let timings = watch.timings;

    let manifest = super::manifest::manifest(&super::manifest::ManifestInput {
        model,
        prepared: &prepared,
        files: [
            ("scorecard", scorecard_file.as_str(), entities),
            ("actions", actions_file.as_str(), action_rows),
        ],
        suppressed,
        timings: &timings,
        options,
    })
    .await;
    std::fs::write(staged.dir.join("manifest.json"), manifest)
        .map_err(|e| write_error("the manifest", e.to_string()))?;
    let partition = staged
        .commit()
        .map_err(|e| write_error("the partition", e.to_string()))?;

    let band_counts = count_by(&computed.scorecard, names::BAND);
    let mut bands: Vec<(String, usize)> = Vec::new();
    if let Some(health) = &model.health {
        for band in &health.bands {
            bands.push((
                band.name.clone(),
                band_counts.get(&band.name).copied().unwrap_or(0),
            ));
        }
        if let Some(n) = band_counts.get("(none)") {
            bands.push(("(no health)".to_string(), *n));
        }
    }
    let fired_counts = count_by(&actions, "playbook");
    let actions_summary = model
        .playbooks
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                fired_counts.get(&p.name).copied().unwrap_or(0),
            )
        })
        .collect();
    Ok(RunSummary {
        partition,
        entities,
        bands,
        actions: actions_summary,
        suppressed,
        timings,
    })
}

/// A column of batches as text values, for reports.
pub fn column_text(batches: &[RecordBatch], column: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for batch in batches {
        if let Some(values) = batch.column_by_name(column) {
            let formatted: Option<ArrayRef> = cast(values, &DataType::Utf8).ok();
            if let Some(strings) = formatted
                .as_ref()
                .and_then(|a| a.as_any().downcast_ref::<StringArray>())
            {
                out.extend(strings.iter().map(|s| s.map(str::to_string)));
            }
        }
    }
    out
}
