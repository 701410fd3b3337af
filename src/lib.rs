//! Vane: customer-success metrics as code.
//!
//! A pipeline file (YAML plus a small expression language) goes through a
//! chain of stages, each taking the previous stage's output:
//!
//! | stage | call | takes | gives |
//! |---|---|---|---|
//! | load | [`syntax::load_path`] | the file | [`syntax::load::Loaded`] (the spanned AST) |
//! | resolve sources | [`sources::resolve`], [`sources::open`] | the AST's `sources:` | [`sources::Sources`]: locations, schemas, tables |
//! | check | [`check::check`] | AST + sources | [`check::model::Model`] |
//! | plan | [`plan::plan`] | model + an executor's [`plan::Inputs`] | [`plan::Plan`] |
//! | execute | [`run::execute`] | plan on a [`run::Engine`] | [`run::Computed`] |
//! | settle | [`run::settle_night`] | computed night | [`run::SettledNight`]: cooldowns applied |
//! | write | [`run::write_settled`] | settled night | the partition and a [`run::RunSummary`] |
//!
//! [`check_file`] and [`run_night`] are that chain, end to end:
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let text = r#"
//! vane: 1
//! sources:
//!   accounts: { path: accounts.csv }
//! entity: { name: account, source: accounts, key: account_id }
//! "#;
//! let loaded = vane::syntax::load_text("p.yaml", text.to_string());
//! let (checked, diagnostics) = vane::check_file(loaded, vane::Data::Unread).await;
//! assert!(diagnostics.is_empty());
//! assert_eq!(checked.unwrap().model.entity.name, "account");
//! # });
//! ```

// Diagnostics are the error type everywhere; they are large (spans, labels,
// help) and only travel the cold path, so boxing them would buy nothing.
#![allow(clippy::result_large_err)]

pub mod base;
pub mod check;
pub mod commands;
pub mod diagnostics;
pub mod diff;
pub mod docs;
pub mod plan;
pub mod run;
pub mod sample;
pub mod sources;
pub mod syntax;
pub mod test;

use check::model::Model;
use diagnostics::{Code, Diagnostic};

use base::units::Micros;
use run::{Computed, Engine, RunOptions, RunSettings, RunSummary, Stopwatch};
use sources::Sources;
use syntax::ast::Pipeline;
use syntax::load::Loaded;

/// Whether checking reads the data files' schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data {
    /// Check the file alone: column names and types are taken on trust.
    Unread,
    /// Open every source and check columns and types against its schema.
    Opened,
}

/// A pipeline checked against its sources: what the front of the chain
/// hands to planning and to the workflows.
#[derive(Debug)]
pub struct Checked {
    /// The AST, for re-checking against other sources (test fixtures).
    pub pipeline: Pipeline,
    /// Where the data is; with [`Data::Opened`], its schemas and tables.
    pub sources: Sources,
    /// The typed model.
    pub model: Model,
}

/// (what `load` gave) → resolve sources → (open them) → check. Returns the
/// checked pipeline when there were no errors, and every diagnostic of
/// every stage, sorted by position.
pub async fn check_file(
    (loaded, mut diagnostics): (Option<Loaded>, Vec<Diagnostic>),
    data: Data,
) -> (Option<Checked>, Vec<Diagnostic>) {
    let Some(loaded) = loaded else {
        return (None, diagnostics);
    };
    let pipeline = loaded.pipeline;
    let (mut sources, found) = sources::resolve(&pipeline);
    diagnostics.extend(found);
    if data == Data::Opened {
        let (opened, found) = sources::open(sources, &pipeline.file).await;
        sources = opened;
        diagnostics.extend(found);
    }
    let earlier_errors = diagnostics.iter().any(Diagnostic::is_error);
    let (model, found) = check::check(&pipeline, &sources);
    // An expression that did not parse leaves its metric looking unused;
    // say only what is real.
    diagnostics.extend(
        found
            .into_iter()
            .filter(|d| !(earlier_errors && d.code == Code::Unused)),
    );
    diagnostics.sort_by_key(|d| d.primary.as_ref().map_or(0, |l| l.span.start));
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    let checked = model.filter(|_| !has_errors).map(|model| Checked {
        pipeline,
        sources,
        model,
    });
    (checked, diagnostics)
}

/// One night computed but not written, with the engine that computed it.
pub struct Night {
    /// The settings it was computed with.
    pub settings: RunSettings,
    /// The engine (its session, scans and earlier nights).
    pub engine: Engine,
    /// The results.
    pub computed: Computed,
}

/// start an engine → plan → execute: one night, nothing written.
pub async fn compute_night(
    checked: &Checked,
    options: &RunOptions,
    watch: &mut Stopwatch,
    progress: &dyn Fn(&str),
) -> Result<Night, Vec<Diagnostic>> {
    let settings = RunSettings::resolve(options, &checked.model);
    compute(checked, settings, None, None, watch, progress).await
}

/// One night; with `ahead`, its facts but the previous night's health were
/// joined already, and `held` holds the nights computed before it (a
/// backfill or backtest).
async fn compute(
    checked: &Checked,
    settings: RunSettings,
    ahead: Option<&run::JoinedAhead>,
    held: Option<&run::HeldNights>,
    watch: &mut Stopwatch,
    progress: &dyn Fn(&str),
) -> Result<Night, Vec<Diagnostic>> {
    let model = &checked.model;
    progress("reading sources");
    let engine = Engine::start(model, &checked.sources, &settings, held).await?;
    watch.lap("register sources");
    let plan = plan::plan(model, &engine.plan_inputs()).map_err(|e| vec![e.into_diagnostic()])?;
    watch.lap("plan");
    let computed = run::execute(&engine, &plan, ahead, watch, progress).await?;
    Ok(Night {
        settings,
        engine,
        computed,
    })
}

/// What a backfill did with one night.
#[derive(Debug, Clone)]
pub enum NightDone {
    /// Computed and written.
    Written(chrono::NaiveDate, Box<RunSummary>),
    /// Already in the output folder, kept (no `--force`).
    Kept(chrono::NaiveDate),
}

impl NightDone {
    /// The night.
    pub fn date(&self) -> chrono::NaiveDate {
        match self {
            NightDone::Written(date, _) | NightDone::Kept(date) => *date,
        }
    }
}

/// What a backfill did: each night in date order, and what it repaired
/// in the output folder first.
#[derive(Debug, Clone)]
pub struct BackfillSummary {
    /// Every night, written or kept.
    pub nights: Vec<NightDone>,
    /// What was repaired before the first night.
    pub repairs: Vec<String>,
    /// The pass the computed nights shared, when more than one was computed.
    pub shared: Option<SharedPass>,
}

/// What the nights of a backfill computed in one pass.
#[derive(Debug, Clone)]
pub struct SharedPass {
    /// The nights planned together (from the first to the last computed).
    pub nights: usize,
    /// The sides computed once for all of them.
    pub sides: Vec<String>,
    /// `(side, why)` for the sides each night computed for itself.
    pub per_night: Vec<(String, String)>,
    /// (entity, bucket) and (entity, value) groups the pass aggregated.
    pub groups: usize,
    /// Seconds the pass took (planning every night, aggregating, cutting).
    pub seconds: f64,
    /// Of those, seconds aggregating the sources and preparing the groups
    /// to be cut into nights (each night is cut as it comes).
    pub aggregating_and_cutting: (f64, f64),
}

/// (claim the output folder once) → for every night in date order: keep
/// it when its partition exists (unless `nights.force`), else start an
/// engine → plan → execute → write it, as [`run_night`] would after the
/// earlier nights. `on_night` hears of each night as it is done; a night
/// that fails stops the backfill with every earlier night whole.
pub async fn backfill(
    checked: &Checked,
    options: &RunOptions,
    nights: &run::Nights,
    on_night: &mut dyn FnMut(&NightDone),
    progress: &dyn Fn(&str),
) -> Result<BackfillSummary, Vec<Diagnostic>> {
    let dates = nights.dates().map_err(|d| vec![d])?;
    let first = RunOptions {
        backfill: Some(nights.clone()),
        ..options.clone()
    };
    let out = RunSettings::resolve(&first, &checked.model).out;
    let (_lock, repairs) = run::outputs::claim(&out).map_err(|d| vec![d])?;
    let settings_of = |date| {
        let options = RunOptions {
            as_of: Some(date),
            ..first.clone()
        };
        RunSettings::resolve(&options, &checked.model)
    };
    let kept = |date| !nights.force && out.join(run::outputs::partition_name(date)).is_dir();
    let to_compute: Vec<chrono::NaiveDate> = dates.iter().copied().filter(|d| !kept(*d)).collect();
    // The nights shared are evenly spaced: every night from the first to
    // the last one computed (kept nights in between cost little).
    let (mut ahead, pass) = match (to_compute.first(), to_compute.last()) {
        (Some(&first), Some(&last)) if to_compute.len() > 1 => {
            progress("computing the sources' buckets for every night");
            let span: Vec<chrono::NaiveDate> = dates
                .iter()
                .copied()
                .filter(|d| (first..=last).contains(d))
                .collect();
            let wanted: Vec<Micros> = to_compute.iter().map(|d| Micros::midnight(*d)).collect();
            let (ahead, pass) = share_nights(checked, &settings_of(first), &span, &wanted).await?;
            (Some(ahead), Some(pass))
        }
        _ => (None, None),
    };
    let mut done = Vec::with_capacity(dates.len());
    let mut writing = Writing::new(checked);
    // Each night computed hands the later ones its health and firings in
    // memory (when the format reads back exactly that), and is written on
    // another thread while the next night is computed.
    let mut held = run::HeldNights::new(true);
    let keep_days = run::cooldown_days(&checked.model);
    for date in dates {
        if kept(date) {
            writing.finish(&mut done, on_night).await?;
            let night = NightDone::Kept(date);
            on_night(&night);
            done.push(night);
            continue;
        }
        let computed = async {
            let joined = match ahead.as_mut() {
                Some(ahead) => Some(
                    ahead
                        .next(Micros::midnight(date))
                        .await
                        .map_err(|e| vec![run::execution_error(&e)])?,
                ),
                None => None,
            };
            let mut watch = Stopwatch::start();
            let night = compute(
                checked,
                settings_of(date),
                joined.as_ref(),
                Some(&held),
                &mut watch,
                progress,
            )
            .await?;
            Ok::<_, Vec<Diagnostic>>(
                run::settle_night(
                    &checked.model,
                    &night.engine,
                    night.settings,
                    night.computed,
                    watch,
                )
                .await,
            )
        }
        .await;
        // An earlier night being written is finished either way: a failed
        // night stops the backfill with every earlier one whole.
        writing.finish(&mut done, on_night).await?;
        let settled = computed?;
        if settled.reads_back_as_computed() {
            let health =
                run::PreviousHealth::of(date, settled.scorecard(), &checked.model.entity.key);
            held.hold(date, health, settled.actions(), keep_days);
            writing.start(settled);
        } else {
            // Later nights read this one back from its files.
            writing.start(settled);
            writing.finish(&mut done, on_night).await?;
        }
    }
    writing.finish(&mut done, on_night).await?;
    Ok(BackfillSummary {
        nights: done,
        repairs,
        shared: pass,
    })
}

/// Writing one night's partition, on a blocking thread.
type WriteTask = tokio::task::JoinHandle<Result<RunSummary, Vec<Diagnostic>>>;

/// A backfill's night being written on a blocking thread, one at a time,
/// in date order.
struct Writing {
    model: std::sync::Arc<Model>,
    pending: Option<(chrono::NaiveDate, WriteTask)>,
}

impl Writing {
    fn new(checked: &Checked) -> Self {
        Writing {
            model: std::sync::Arc::new(checked.model.clone()),
            pending: None,
        }
    }

    /// Start writing `night` (after [`Writing::finish`]).
    fn start(&mut self, night: run::SettledNight) {
        let model = std::sync::Arc::clone(&self.model);
        let date = night.as_of();
        let task = tokio::task::spawn_blocking(move || run::write_settled(&model, night));
        self.pending = Some((date, task));
    }

    /// Wait for the night being written, if any, and report it.
    async fn finish(
        &mut self,
        done: &mut Vec<NightDone>,
        on_night: &mut dyn FnMut(&NightDone),
    ) -> Result<(), Vec<Diagnostic>> {
        let Some((date, task)) = self.pending.take() else {
            return Ok(());
        };
        let summary = task.await.map_err(|e| {
            vec![
                Diagnostic::error(
                    Code::OutputFailed,
                    format!("writing the night of {date} stopped: {e}"),
                )
                .help("earlier nights are whole; run the backfill again to resume"),
            ]
        })??;
        let night = NightDone::Written(date, Box::new(summary));
        on_night(&night);
        done.push(night);
        Ok(())
    }
}

/// (claim the output folder: lock it, repair what an interrupted run
/// left) → start an engine → plan → execute → write: one night, written
/// atomically.
pub async fn run_night(
    checked: &Checked,
    options: &RunOptions,
    progress: &dyn Fn(&str),
) -> Result<RunSummary, Vec<Diagnostic>> {
    let settings = RunSettings::resolve(options, &checked.model);
    let (_lock, repairs) = run::outputs::claim(&settings.out).map_err(|d| vec![d])?;
    let mut watch = Stopwatch::start();
    let night = compute(checked, settings, None, None, &mut watch, progress).await?;
    let mut summary = run::write_night(
        &checked.model,
        &night.engine,
        night.settings,
        night.computed,
        watch,
        progress,
    )
    .await?;
    summary.repairs = repairs;
    Ok(summary)
}

/// Plan every night of `dates` (planning only) and plan them together:
/// the sides they share.
pub fn plan_nights(
    checked: &Checked,
    inputs: &plan::Inputs<'_>,
    dates: &[chrono::NaiveDate],
) -> Result<plan::nights::NightsPlan, Vec<Diagnostic>> {
    let mut plans = Vec::with_capacity(dates.len());
    for &date in dates {
        let as_of = base::units::Micros::midnight(date);
        let night_inputs = plan::Inputs {
            scans: inputs.scans,
            previous: None,
            previous_definitions_changed: None,
            as_of,
        };
        let night =
            plan::plan(&checked.model, &night_inputs).map_err(|e| vec![e.into_diagnostic()])?;
        plans.push((as_of, night.scorecard));
    }
    let nights: Vec<_> = plans.iter().map(|(as_of, p)| (*as_of, p)).collect();
    Ok(plan::nights::plan_nights(
        &nights,
        &checked.model.entity.key,
    ))
}

/// The sides `dates` share, computed in one pass over each source.
async fn share_nights(
    checked: &Checked,
    settings: &RunSettings,
    dates: &[chrono::NaiveDate],
    wanted: &[Micros],
) -> Result<(run::Ahead, SharedPass), Vec<Diagnostic>> {
    let started = std::time::Instant::now();
    let engine = Engine::start(&checked.model, &checked.sources, settings, None).await?;
    let nights = plan_nights(checked, &engine.plan_inputs(), dates)?;
    let shared = run::compute_shared(engine.session(), &nights)
        .await
        .map_err(|e| vec![run::execution_error(&e)])?;
    let pass = SharedPass {
        nights: dates.len(),
        sides: nights.shared.iter().map(|s| s.name.clone()).collect(),
        per_night: nights.per_night.clone(),
        groups: shared.groups(),
        seconds: started.elapsed().as_secs_f64(),
        aggregating_and_cutting: shared.seconds(),
    };
    let ahead = run::compute_ahead(engine.session(), &nights, shared, wanted);
    Ok((ahead, pass))
}
