//! The local engine: a DataFusion session with every source registered,
//! the scans the planner builds on, and the earlier nights a run reads
//! (the previous scorecard for trends, earlier actions for cooldowns).
//!
//! Another executor (Ballista, SQL export) provides the same
//! [`plan::Inputs`] and runs the same [`plan::Plan`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::datasource::listing::ListingTable;
use datafusion::datasource::{MemTable, TableProvider};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;

use super::errors::internal;
use super::facts;
use super::held::HeldNights;
use super::inputs::{InputFile, list_inputs};
use super::outputs;
use super::session::session;
use super::settings::RunSettings;
use crate::base::units::Micros;
use crate::base::{Span, names};
use crate::check::model::Model;
use crate::diagnostics::{Code, Diagnostic};
use crate::plan;
use crate::sources::{self, SourceLocation, Sources};

/// A session ready to plan and execute one night.
pub struct Engine {
    ctx: SessionContext,
    scans: BTreeMap<String, LogicalPlan>,
    previous: Option<(NaiveDate, LogicalPlan)>,
    previous_definitions_changed: Option<bool>,
    previous_health: Option<facts::PreviousHealth>,
    held: Option<HeldNights>,
    definitions_sha256: String,
    as_of: Micros,
    partitions: usize,
    inputs: BTreeMap<String, Vec<InputFile>>,
}

/// Input bytes per partition below which another partition does not pay:
/// each one brings hash tables and buffers of its own to every aggregation.
const BYTES_PER_PARTITION: u64 = 1024 * 1024;

/// How many partitions the engine splits work into: the threads asked
/// for, but no more than one per [`BYTES_PER_PARTITION`] of input, so
/// that `--threads 1024` over a megabyte runs in one partition instead of
/// a thousand sets of buffers.
pub fn partitions_for(threads: usize, input_bytes: u64) -> usize {
    let by_size = input_bytes.div_ceil(BYTES_PER_PARTITION).max(1);
    threads
        .min(usize::try_from(by_size).unwrap_or(usize::MAX))
        .max(1)
}

impl Engine {
    /// Start a session for `settings` and register the table the sources
    /// step opened for every source of the model. Earlier nights come from
    /// the output folder, and from `held` when a backfill or backtest holds
    /// them in memory.
    pub async fn start(
        model: &Model,
        sources: &Sources,
        settings: &RunSettings,
        held: Option<&HeldNights>,
    ) -> Result<Engine, Vec<Diagnostic>> {
        let ctx = session(settings).map_err(|d| vec![d])?;
        let mut scans = BTreeMap::new();
        let mut errors = Vec::new();
        for source in &model.sources {
            // The sources step opened every table (a model checked without
            // the data cannot be run).
            let Some(table) = sources.table(&source.name) else {
                errors.push(internal(format!(
                    "source `{}` was not opened before the run",
                    source.name
                )));
                continue;
            };
            match register(&ctx, &source.name, table).await {
                Ok(scan) => {
                    scans.insert(source.name.clone(), scan);
                }
                Err(e) => errors.push(
                    Diagnostic::error(
                        Code::RunFailed,
                        format!("cannot register source `{}`: {e}", source.name),
                    )
                    .help("see the message; if it names a file or column, check the data"),
                ),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let inputs = match held {
            Some(held) => held.inputs().get_or_list(&ctx, model).await,
            None => list_inputs(&ctx, model).await,
        };
        let table_bytes: BTreeMap<String, u64> = inputs
            .iter()
            .map(|(name, files)| (name.clone(), files.iter().map(|f| f.bytes).sum()))
            .collect();
        let partitions = partitions_for(settings.threads, table_bytes.values().sum());
        {
            let state = ctx.state_ref();
            let mut state = state.write();
            let config = state.config_mut();
            config.options_mut().execution.target_partitions = partitions;
            config.set_extension(Arc::new(facts::TableBytes(table_bytes)));
        }
        let choice = super::remote::EngineChoice::parse(&settings.engine).map_err(|why| {
            vec![super::remote::unavailable(
                why,
                "write `local` or `ballista://HOST:PORT` in --engine, VANE_ENGINE or outputs.engine",
            )]
        })?;
        super::remote::attach(&ctx, &choice, settings.engine_timeout)
            .await
            .map_err(|d| vec![d])?;
        let definitions_sha256 = crate::check::definitions::definitions_hash(model);
        let mut previous_health = None;
        let mut previous_definitions_changed = None;
        let previous = match model.health {
            Some(_) => match previous_scorecard(&ctx, settings, held, &model.entity.key).await {
                Some(Previous::Held(date, scan, health)) => {
                    // Held nights were scored by these very definitions.
                    previous_definitions_changed = Some(false);
                    previous_health = Some(health);
                    Some((date, scan))
                }
                Some(Previous::Written(date, scan)) => {
                    let partition = settings.out.join(outputs::partition_name(date));
                    previous_definitions_changed = outputs::recorded_definitions(&partition)
                        .map(|recorded| recorded != definitions_sha256);
                    Some((date, scan))
                }
                None => None,
            },
            None => None,
        };
        let as_of = Micros::midnight(settings.as_of);
        Ok(Engine {
            ctx,
            scans,
            previous,
            previous_definitions_changed,
            previous_health,
            held: held.cloned(),
            definitions_sha256,
            as_of,
            partitions,
            inputs,
        })
    }

    /// What the planner builds on: a scan per source, the previous
    /// scorecard and the as-of instant.
    pub fn plan_inputs(&self) -> plan::Inputs<'_> {
        plan::Inputs {
            scans: &self.scans,
            previous: self.previous.as_ref().map(|(_, scan)| scan.clone()),
            previous_definitions_changed: self.previous_definitions_changed,
            as_of: self.as_of,
        }
    }

    /// The session, for executing and describing plans.
    pub fn session(&self) -> &SessionContext {
        &self.ctx
    }

    /// The partitions the engine splits work into (see [`partitions_for`]).
    pub fn partitions(&self) -> usize {
        self.partitions
    }

    /// The hash of the model's canonical definitions, which the manifest records.
    pub fn definitions_sha256(&self) -> &str {
        &self.definitions_sha256
    }

    /// Whether the previous night was scored by other definitions (null
    /// when there is none, or its manifest does not say).
    pub fn previous_definitions_changed(&self) -> Option<bool> {
        self.previous_definitions_changed
    }

    /// What the cluster has run for this engine so far, when the facts
    /// run on one.
    pub fn remote_work(&self) -> Option<super::remote::RemoteWork> {
        super::remote::remote_work(&self.ctx)
    }

    /// The night whose scorecard gives previous health and trend, if any.
    pub fn previous_night(&self) -> Option<NaiveDate> {
        self.previous.as_ref().map(|(date, _)| *date)
    }

    /// The previous night's health when that night is held in memory
    /// (then the previous side is taken from it, not computed).
    pub fn previous_health(&self) -> Option<&facts::PreviousHealth> {
        self.previous_health.as_ref()
    }

    /// The night's as-of instant.
    pub fn as_of(&self) -> Micros {
        self.as_of
    }

    /// The earlier nights held in memory, if any.
    pub fn held(&self) -> Option<&HeldNights> {
        self.held.as_ref()
    }

    /// The files a source read, as listed when the engine started, sorted
    /// by path (empty when they could not be listed).
    pub fn input_files(&self, source: &str) -> &[InputFile] {
        self.inputs.get(source).map_or(&[], Vec::as_slice)
    }

    /// One output table of an earlier night's partition, when it exists and
    /// can be read.
    pub async fn earlier_output(
        &self,
        partition: &Path,
        table: &str,
        settings: &RunSettings,
    ) -> Option<Arc<ListingTable>> {
        earlier_output(&self.ctx, partition, table, settings).await
    }
}

/// Register `table` as `name` and return an unoptimized scan of it.
async fn register(
    ctx: &SessionContext,
    name: &str,
    table: Arc<dyn TableProvider>,
) -> datafusion::error::Result<LogicalPlan> {
    ctx.register_table(name, table)?;
    Ok(ctx.table(name).await?.into_unoptimized_plan())
}

async fn earlier_output(
    ctx: &SessionContext,
    partition: &Path,
    table: &str,
    settings: &RunSettings,
) -> Option<Arc<ListingTable>> {
    let path = partition.join(outputs::file_name(table, settings.format));
    if !path.is_file() {
        return None;
    }
    let location = SourceLocation {
        name: table.to_string(),
        path,
        format: settings.format,
        partitions: Vec::new(),
        span: Span::default(),
    };
    sources::listing_table(ctx, &location)
        .await
        .ok()
        .map(|opened| opened.table)
}

/// Where the previous night came from.
enum Previous {
    /// Held in memory: its scan (of the key and health) and its health.
    Held(NaiveDate, LogicalPlan, facts::PreviousHealth),
    /// A partition in the output folder: a scan of its scorecard.
    Written(NaiveDate, LogicalPlan),
}

/// The newest earlier night that has health: held in memory, or in the
/// output folder (unless `held` says only held nights exist), whichever
/// is newer.
async fn previous_scorecard(
    ctx: &SessionContext,
    settings: &RunSettings,
    held: Option<&HeldNights>,
    key: &str,
) -> Option<Previous> {
    let newest_held = held.and_then(|h| h.latest_health(settings.as_of));
    if held.is_none_or(HeldNights::reads_folder) {
        for (date, dir) in outputs::earlier_partitions(&settings.out, settings.as_of) {
            if newest_held.is_some_and(|(held_date, _)| date <= held_date) {
                break;
            }
            if held.is_some_and(|h| h.holds(date)) {
                continue;
            }
            let Some(table) = earlier_output(ctx, &dir, names::SCORECARD_TABLE, settings).await
            else {
                continue;
            };
            if table.schema().field_with_name(names::HEALTH).is_err() {
                continue;
            }
            let name = names::earlier_table(names::SCORECARD_TABLE, date);
            if let Ok(scan) = register(ctx, &name, table).await {
                return Some(Previous::Written(date, scan));
            }
        }
    }
    let (date, health) = newest_held?;
    let scan = held_scan(ctx, date, key, health).await.ok()?;
    Some(Previous::Held(date, scan, health.clone()))
}

/// A held night's key and health as a table the planner can scan.
async fn held_scan(
    ctx: &SessionContext,
    date: NaiveDate,
    key: &str,
    health: &facts::PreviousHealth,
) -> datafusion::error::Result<LogicalPlan> {
    let schema = Arc::new(Schema::new(vec![
        Field::new(key, health.keys.data_type().clone(), true),
        Field::new(names::HEALTH, health.health.data_type().clone(), true),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![Arc::clone(&health.keys), Arc::clone(&health.health)],
    )?;
    let table = MemTable::try_new(schema, vec![vec![batch]])?;
    let name = names::earlier_table(names::SCORECARD_TABLE, date);
    register(ctx, &name, Arc::new(table)).await
}
