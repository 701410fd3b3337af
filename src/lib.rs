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

pub mod backtest;
pub mod base;
pub mod check;
pub mod commands;
pub mod diagnostics;
pub mod diff;
pub mod docs;
pub mod plan;
pub mod report;
pub mod run;
pub mod sample;
pub mod sources;
pub mod sql;
pub mod syntax;
pub mod test;

use check::model::Model;
use diagnostics::{Code, Diagnostic};

use base::units::Micros;
pub use run::NightDone;
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
    /// What computes its rollups, when they are left to be computed with
    /// other nights'.
    pub rollups: run::RollupsRunner,
}

/// start an engine → plan → execute: one night, nothing written.
pub async fn compute_night(
    checked: &Checked,
    options: &RunOptions,
    watch: &mut Stopwatch,
    progress: &dyn Fn(&str),
) -> Result<Night, Vec<Diagnostic>> {
    let settings = RunSettings::resolve(options, &checked.model);
    compute(
        &checked.model,
        &checked.sources,
        settings,
        None,
        watch,
        progress,
    )
    .await
}

/// A night computed among others (a backfill or backtest): its facts but
/// the previous night's health, when a shared pass joined them ahead, and
/// the nights computed before it.
struct Among<'a> {
    ahead: Option<&'a run::JoinedAhead>,
    held: &'a run::HeldNights,
}

/// One night. Alone, its rollups are computed with it; `among` other
/// nights, they are left to be computed with the others'.
async fn compute(
    model: &Model,
    sources: &Sources,
    settings: RunSettings,
    among: Option<Among<'_>>,
    watch: &mut Stopwatch,
    progress: &dyn Fn(&str),
) -> Result<Night, Vec<Diagnostic>> {
    let (ahead, held) = match &among {
        Some(among) => (among.ahead, Some(among.held)),
        None => (None, None),
    };
    progress("reading sources");
    let engine = Engine::start(model, sources, &settings, held).await?;
    watch.lap("register sources");
    let plan = plan::plan(model, &engine.plan_inputs()).map_err(|e| vec![e.into_diagnostic()])?;
    watch.lap("plan");
    let mut computed = run::execute(&engine, &plan, ahead, watch, progress).await?;
    let rollups = run::RollupsRunner::new(plan.rollups, engine.session().clone());
    if among.is_none() {
        rollups
            .compute(&mut [(engine.as_of(), &mut computed)])
            .await
            .map_err(|e| vec![run::execution_error(&e)])?;
        watch.lap("rollups");
    }
    Ok(Night {
        settings,
        engine,
        computed,
        rollups,
    })
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
    /// The small sources the nights read for themselves, read once and
    /// held in memory.
    pub held: Vec<String>,
    /// (entity, bucket) and (entity, value) groups the pass aggregated.
    pub groups: usize,
    /// Seconds the pass took (planning every night, aggregating, cutting).
    pub seconds: f64,
    /// Of those, seconds aggregating the sources and preparing the groups
    /// to be cut into nights (each night is cut as it comes).
    pub aggregating_and_cutting: (f64, f64),
    /// What the cluster ran for the pass (the shared aggregations and
    /// every night's own parts), when the facts ran on one.
    pub remote: Option<run::remote::RemoteWork>,
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
    let (mut ahead, mut pass, shared_session) = match (to_compute.first(), to_compute.last()) {
        (Some(&first), Some(&last)) if to_compute.len() > 1 => {
            progress("computing the sources' buckets for every night");
            let span: Vec<chrono::NaiveDate> = dates
                .iter()
                .copied()
                .filter(|d| (first..=last).contains(d))
                .collect();
            let wanted: Vec<Micros> = to_compute.iter().map(|d| Micros::midnight(*d)).collect();
            let (ahead, pass, session) = share_nights(
                &checked.model,
                &checked.sources,
                &settings_of(first),
                &span,
                &wanted,
            )
            .await?;
            (Some(ahead), Some(pass), Some(session))
        }
        _ => (None, None, None),
    };
    // Each night computed hands the later ones its health and firings in
    // memory (when the format reads back exactly that); the nights go out
    // a chunk at a time, written on another thread while the next chunk
    // is computed.
    let mut outgoing = run::Outgoing::new(&checked.model);
    let mut held = run::HeldNights::new(true);
    let keep_days = run::cooldown_days(&checked.model);
    for date in dates {
        if kept(date) {
            outgoing.kept(date, on_night).await?;
            continue;
        }
        let computed = settle_next(
            &checked.model,
            &checked.sources,
            settings_of(date),
            ahead.as_mut(),
            &held,
            progress,
        )
        .await;
        let (settled, rollups) = match computed {
            Ok(night) => night,
            Err(failed) => {
                // A failed night stops the backfill with every earlier one
                // written whole.
                outgoing.close(on_night).await?;
                return Err(failed);
            }
        };
        if settled.reads_back_as_computed() {
            hold(&mut held, &settled, &checked.model, keep_days);
        }
        outgoing.push(settled, rollups, on_night).await?;
    }
    let done = outgoing.close(on_night).await?;
    if let (Some(pass), Some(session)) = (pass.as_mut(), shared_session) {
        pass.remote = run::remote::remote_work(&session);
    }
    Ok(BackfillSummary {
        nights: done,
        repairs,
        shared: pass,
    })
}

/// The next night in date order, computed (its facts from `ahead` when a
/// shared pass computed them, earlier nights from `held` and the output
/// folder as `held` says) and settled, but for its rollups: with it, what
/// computes them.
async fn settle_next(
    model: &Model,
    sources: &Sources,
    settings: RunSettings,
    ahead: Option<&mut run::Ahead>,
    held: &run::HeldNights,
    progress: &dyn Fn(&str),
) -> Result<(run::SettledNight, run::RollupsRunner), Vec<Diagnostic>> {
    let night = Micros::midnight(settings.as_of);
    let joined = match ahead {
        Some(ahead) => Some(
            ahead
                .next(night)
                .await
                .map_err(|e| vec![run::execution_error(&e)])?,
        ),
        None => None,
    };
    let mut watch = Stopwatch::start();
    let night = compute(
        model,
        sources,
        settings,
        Some(Among {
            ahead: joined.as_ref(),
            held,
        }),
        &mut watch,
        progress,
    )
    .await?;
    let settled =
        run::settle_night(model, &night.engine, night.settings, night.computed, watch).await;
    Ok((settled, night.rollups))
}

/// Hold a settled night in memory for the nights after it.
fn hold(held: &mut run::HeldNights, settled: &run::SettledNight, model: &Model, keep_days: i64) {
    let health = run::PreviousHealth::of(settled.as_of(), settled.scorecard(), &model.entity.key);
    held.hold(settled.as_of(), health, settled.actions(), keep_days);
}

/// Score `dates` (evenly spaced, in date order) in memory, as a backfill
/// into an empty output folder would, and hand each night, settled (its
/// rollups not computed), to `visit`. The output folder is neither read nor written: the first
/// night has no previous night, and cooldowns start with no history.
pub async fn score_nights(
    model: &Model,
    sources: &Sources,
    options: &RunOptions,
    dates: &[chrono::NaiveDate],
    visit: &mut dyn FnMut(run::SettledNight),
    progress: &dyn Fn(&str),
) -> Result<Option<SharedPass>, Vec<Diagnostic>> {
    let settings_of = |date| {
        let options = RunOptions {
            as_of: Some(date),
            ..options.clone()
        };
        RunSettings::resolve(&options, model)
    };
    let (mut ahead, pass) = match dates {
        [first, _, ..] => {
            let wanted: Vec<Micros> = dates.iter().map(|d| Micros::midnight(*d)).collect();
            let (ahead, pass, _) =
                share_nights(model, sources, &settings_of(*first), dates, &wanted).await?;
            (Some(ahead), Some(pass))
        }
        _ => (None, None),
    };
    let mut held = run::HeldNights::new(false);
    let keep_days = run::cooldown_days(model);
    for &date in dates {
        let (settled, _) = settle_next(
            model,
            sources,
            settings_of(date),
            ahead.as_mut(),
            &held,
            progress,
        )
        .await?;
        hold(&mut held, &settled, model, keep_days);
        visit(settled);
    }
    Ok(pass)
}

/// What `vane backtest` asks: the nights to score, the outcome, and the
/// bootstrap's resamples and seed.
#[derive(Debug, Clone)]
pub struct BacktestRequest {
    /// The nights.
    pub nights: run::Nights,
    /// The outcome's name.
    pub outcome: String,
    /// Resamples and seed of the intervals.
    pub bootstrap: backtest::Bootstrap,
    /// Also fit indicator weights on the earlier nights and judge them on the later.
    pub suggest_weights: bool,
}

/// (find the outcome and the data's end; leave out the nights whose
/// horizon runs past it) → score the nights in memory → the outcome of
/// each entity-night (a shared pass over the outcome's source, or the
/// entity attribute) → measure.
pub async fn backtest(
    checked: &Checked,
    options: &RunOptions,
    request: &BacktestRequest,
    progress: &dyn Fn(&str),
) -> Result<backtest::Report, Vec<Diagnostic>> {
    let model = &checked.model;
    let Some(outcome) = model.outcome(&request.outcome) else {
        let names = model.outcomes.iter().map(|o| o.name.as_str());
        let help = if model.outcomes.is_empty() {
            "define one under `outcomes:` in the pipeline (see docs/backtesting.md)".to_string()
        } else {
            diagnostics::suggestion(&request.outcome, "outcome", names)
        };
        return Err(vec![
            Diagnostic::error(
                Code::InvalidArgument,
                format!("the pipeline has no outcome `{}`", request.outcome),
            )
            .help(help),
        ]);
    };
    let dates = request.nights.dates().map_err(|d| vec![d])?;
    let settings = RunSettings::resolve(options, model);
    let engine = Engine::start(
        model,
        &checked.sources,
        &settings,
        Some(&run::HeldNights::new(false)),
    )
    .await?;
    // An outcome read from a source ends where that source ends; an
    // entity date, where the latest of the timed sources does.
    let outcome_source = match &outcome.kind {
        check::model::OutcomeKind::Rows { source, .. } => Some(source.as_str()),
        check::model::OutcomeKind::Attribute(_) => None,
    };
    let data_end = run::data_end(model, &engine, outcome_source).await?;
    let horizon = outcome.horizon.as_chrono().ok_or_else(|| {
        vec![
            Diagnostic::error(Code::InvalidArgument, "the outcome's horizon is too long")
                .help("shorten `horizon:`"),
        ]
    })?;
    let horizon_end = |night: chrono::NaiveDate| night.checked_add_signed(horizon);
    let usable: Vec<chrono::NaiveDate> = dates
        .iter()
        .copied()
        .filter(|night| data_end.is_some_and(|end| horizon_end(*night).is_some_and(|h| h <= end)))
        .collect();
    let (Some(first), Some(last)) = (dates.first(), dates.last()) else {
        return Err(vec![Diagnostic::error(
            Code::InvalidArgument,
            "no nights to backtest",
        )]);
    };
    if usable.is_empty() {
        let through = data_end
            .and_then(|end| end.pred_opt())
            .map_or("no rows at all".to_string(), |d| {
                format!("data through {d}")
            });
        return Err(vec![
            Diagnostic::error(
                Code::InvalidArgument,
                format!(
                    "every night from {first} to {last} has its {} horizon past the end of the data ({through})",
                    outcome.horizon
                ),
            )
            .help("a night is measured only once its whole horizon has happened: move --to back by the horizon, or use a shorter `horizon:`"),
        ]);
    }
    let mut data = backtest::Collected::new(model, outcome);
    progress("scoring the nights");
    score_nights(
        model,
        &checked.sources,
        options,
        &usable,
        &mut |settled| {
            data.add_night(
                settled.as_of(),
                &settled.computed().working,
                settled.actions(),
                model,
                outcome,
            )
        },
        progress,
    )
    .await?;
    if let Some(outcomes) = backtest::outcome_model(model, outcome, &checked.sources.schemas) {
        progress("finding the outcomes");
        let shifted: Vec<chrono::NaiveDate> =
            usable.iter().filter_map(|d| horizon_end(*d)).collect();
        let mut index = 0;
        let columns = [
            backtest::outcome_model::ROWS,
            backtest::outcome_model::FIRST,
            backtest::outcome_model::VALUE,
        ];
        score_nights(
            &outcomes,
            &checked.sources,
            options,
            &shifted,
            &mut |settled| {
                data.add_outcomes(index, settled.scorecard(), &model.entity.key, columns);
                index += 1;
            },
            progress,
        )
        .await?;
    }
    progress("measuring");
    let nights = backtest::NightsUsed {
        from: request.nights.from,
        to: request.nights.to,
        every_days: request.nights.every_days,
        scored: usable.len(),
        censored: dates.len() - usable.len(),
        data_end,
    };
    let mut report = backtest::measure(
        &data,
        &model.name,
        &outcome.name,
        outcome.horizon.to_string(),
        nights,
        request.bootstrap,
    );
    if request.suggest_weights {
        report.suggestion = backtest::suggest::suggest(&data, model);
        if report.suggestion.is_none() {
            report.notes.push("no weights could be suggested: that needs two nights or more, indicators, and an outcome that both happens and does not".into());
        }
    }
    Ok(report)
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
    let night = compute(
        &checked.model,
        &checked.sources,
        settings,
        None,
        &mut watch,
        progress,
    )
    .await?;
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
    plan_nights_of(&checked.model, inputs, dates)
}

fn plan_nights_of(
    model: &Model,
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
        let night = plan::plan(model, &night_inputs).map_err(|e| vec![e.into_diagnostic()])?;
        plans.push((as_of, night.scorecard));
    }
    let nights: Vec<_> = plans.iter().map(|(as_of, p)| (*as_of, p)).collect();
    Ok(plan::nights::plan_nights(&nights, &model.entity.key))
}

/// The sides `dates` share, computed in one pass over each source, the
/// nights' own parts being computed ahead, and the session that computes
/// them.
async fn share_nights(
    model: &Model,
    sources: &Sources,
    settings: &RunSettings,
    dates: &[chrono::NaiveDate],
    wanted: &[Micros],
) -> Result<(run::Ahead, SharedPass, datafusion::prelude::SessionContext), Vec<Diagnostic>> {
    let started = std::time::Instant::now();
    let engine = Engine::start(model, sources, settings, None).await?;
    let mut nights = plan_nights_of(model, &engine.plan_inputs(), dates)?;
    let held = run::hold_small_sources(&engine, &mut nights.own)
        .await
        .map_err(|e| vec![run::execution_error(&e)])?;
    let shared = run::compute_shared(engine.session(), &nights)
        .await
        .map_err(|e| vec![run::execution_error(&e)])?;
    let pass = SharedPass {
        nights: dates.len(),
        sides: nights.shared.iter().map(|s| s.name.clone()).collect(),
        per_night: nights.per_night.clone(),
        held,
        groups: shared.groups(),
        seconds: started.elapsed().as_secs_f64(),
        aggregating_and_cutting: shared.seconds(),
        remote: None,
    };
    let ahead = run::compute_ahead(engine.session(), &nights, shared, wanted);
    Ok((ahead, pass, engine.session().clone()))
}
