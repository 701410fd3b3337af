//! `vane plan`: what a run would compute, stage by stage — the typed
//! model, the DataFusion plans of the facts (logical, optimized, physical,
//! or executed with metrics) and the entity steps and playbooks.

use std::fmt::Write;
use std::path::Path;

use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::displayable;

use super::{Report, check_path, run_blocking};
use crate::Data;
use crate::base::names;
use crate::base::units::{Micros, Seconds};
use crate::check::model::{MetricKind, Model};
use crate::diagnostics::{Code, Diagnostic};
use crate::plan::nights::Recipe;
use crate::run::{Engine, Nights, RunOptions, RunSettings, execution_error};

/// Which plans `vane plan` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The typed model's metrics in dependency order.
    Model,
    /// The logical plan as built, before optimization.
    Logical,
    /// The optimized logical plan.
    Optimized,
    /// The physical plan DataFusion executes.
    Physical,
    /// Optimized logical and physical plans (the default).
    All,
    /// Execute the facts and show each physical plan with its operators'
    /// metrics (rows, time, memory): where a run spends its time.
    Analyze,
}

/// The model's metrics in dependency order with their definitions (`vane plan --stage model`).
pub fn model_text(model: &Model) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "pipeline {} — entity `{}` keyed by `{}`",
        model.name, model.entity.name, model.entity.key
    );
    for metric in &model.metrics {
        let _ = writeln!(
            out,
            "metric {} : {} = {}",
            metric.name,
            metric.ty,
            describe_metric(model, &metric.name)
        );
    }
    for (name, shift) in model.evaluations.iter().filter(|(_, s)| *s > Seconds::ZERO) {
        let _ = writeln!(out, "evaluated {} days back: {name}", shift.whole_days());
    }
    for i in &model.indicators {
        let _ = writeln!(
            out,
            "indicator {} ({}) : group {} weight {} score {}",
            i.name,
            i.kind.name(),
            i.group,
            i.weight,
            i.score_text
        );
    }
    for p in &model.playbooks {
        let _ = writeln!(out, "playbook {} : when {}", p.name, p.when_text);
    }
    out
}

fn describe_metric(model: &Model, name: &str) -> String {
    let Some(metric) = model.metric(name) else {
        return String::new();
    };
    match &metric.kind {
        MetricKind::Aggregate { source, window, .. } => {
            let mut text = format!("{} from {source}", metric.value_text);
            match window {
                Some(w) => {
                    let _ = write!(text, ", window {w}");
                }
                None => text.push_str(", all history"),
            }
            if let Some(filter) = &metric.filter_text {
                let _ = write!(text, ", where {filter}");
            }
            text
        }
        MetricKind::Derived { .. } => metric.value_text.clone(),
    }
}

/// "1 partition", "2 partitions".
fn partitions_text(partitions: usize) -> String {
    match partitions {
        1 => "1 partition".to_string(),
        n => format!("{n} partitions"),
    }
}

/// Print one part's plan at `stage`, planned (and, for `analyze`,
/// executed) in `partitions` partitions, as a run computes it.
async fn describe(
    engine: &Engine,
    part: &str,
    plan: LogicalPlan,
    partitions: usize,
    stage: Stage,
    out: &mut String,
) -> Result<(), Diagnostic> {
    let name = &format!("{part} [{}]", partitions_text(partitions));
    let ctx = engine.session();
    let state = crate::run::state_with_partitions(ctx, partitions);
    let internal = |e: datafusion::error::DataFusionError| {
        Diagnostic::error(Code::Internal, format!("cannot plan {name}: {e}"))
            .help("this is a bug in Vane; please report it")
    };
    if stage == Stage::Logical {
        let _ = writeln!(out, "== {name}: logical plan ==\n{}", plan.display_indent());
        return Ok(());
    }
    let optimized = state.optimize(&plan).map_err(internal)?;
    if stage == Stage::Analyze {
        let physical = state
            .create_physical_plan(&optimized)
            .await
            .map_err(internal)?;
        datafusion::physical_plan::collect(physical.clone(), state.task_ctx())
            .await
            .map_err(|e| execution_error(&e))?;
        let _ = writeln!(
            out,
            "== {name}: executed physical plan with metrics ==\n{}",
            datafusion::physical_plan::display::DisplayableExecutionPlan::with_metrics(
                physical.as_ref()
            )
            .indent(true)
        );
        return Ok(());
    }
    if matches!(stage, Stage::Optimized | Stage::All) {
        let _ = writeln!(
            out,
            "== {name}: optimized logical plan ==\n{}",
            optimized.display_indent()
        );
    }
    if matches!(stage, Stage::Physical | Stage::All) {
        let physical = state
            .create_physical_plan(&optimized)
            .await
            .map_err(internal)?;
        let _ = writeln!(
            out,
            "== {name}: physical plan ==\n{}",
            displayable(physical.as_ref()).indent(true)
        );
    }
    Ok(())
}

/// `vane plan PIPELINE`: print the plans a run would execute.
pub fn plan(pipeline: &Path, options: &RunOptions, stage: Stage) -> Report {
    let (checked, diagnostics) = check_path(pipeline, Data::Opened);
    let Some(checked) = checked else {
        return Report::failed(diagnostics);
    };
    let model = &checked.model;
    if stage == Stage::Model {
        return Report::ok(model_text(model));
    }
    let described = run_blocking(async {
        let settings = RunSettings::resolve(options, model);
        let engine = Engine::start(model, &checked.sources, &settings, None).await?;
        let plan = crate::plan::plan(model, &engine.plan_inputs())
            .map_err(|e| vec![e.into_diagnostic()])?;
        let mut out = String::new();
        let parts = std::iter::once((
            "scorecard facts: the population".to_string(),
            plan.scorecard.population.clone(),
        ))
        .chain(plan.scorecard.sides.iter().map(|side| {
            (
                format!(
                    "scorecard facts: side `{}` (left-joined on {} = {})",
                    side.name,
                    model.entity.key,
                    side.key()
                ),
                side.plan.clone(),
            )
        }))
        .chain(plan.parse_checks.iter().map(|check| {
            (
                format!(
                    "parse check: values of `{}`'s declared columns that do not parse",
                    check.source
                ),
                check.plan.clone(),
            )
        }));
        // The facts' parts run at once, sharing the partitions as `run`
        // shares them; the parse checks run beside them with all of them.
        let (names, parts): (Vec<String>, Vec<LogicalPlan>) = parts.unzip();
        let facts_parts = 1 + plan.scorecard.sides.len();
        let mut partitions = crate::run::partitions_at_once(
            engine.session(),
            &parts[..facts_parts.min(parts.len())],
        );
        partitions.resize(parts.len(), engine.partitions());
        for ((name, part), partitions) in names.into_iter().zip(parts).zip(partitions) {
            describe(&engine, &name, part, partitions, stage, &mut out)
                .await
                .map_err(|d| vec![d])?;
        }
        let _ = writeln!(
            out,
            "== scorecard: entity steps (per entity, over the facts; `{}` is the as-of, {}T00:00:00) ==",
            names::AS_OF,
            settings.as_of
        );
        for step in &plan.scorecard.steps {
            let _ = writeln!(out, "{}:", step.label);
            for (column, expr) in &step.columns {
                let _ = writeln!(out, "  {column} := {expr}");
            }
        }
        if !plan.actions.is_empty() {
            let _ = writeln!(
                out,
                "== actions (per entity, over the working scorecard) =="
            );
        }
        for playbook in &plan.actions {
            let _ = writeln!(out, "{} fires when {}:", playbook.name, playbook.condition);
            for (column, expr) in &playbook.columns {
                let _ = writeln!(out, "  {column} := {expr}");
            }
        }
        if !plan.actions.is_empty() && !plan.action_attributes.is_empty() {
            let carried: Vec<String> = plan
                .action_attributes
                .iter()
                .map(|(column, attribute)| format!("{column} := {attribute}"))
                .collect();
            let _ = writeln!(out, "every action carries: {}", carried.join(", "));
        }
        if !plan.rollups.is_empty() {
            let _ = writeln!(
                out,
                "== rollups (one aggregation per `over` and `by`, over the working scorecard or the entity table; `{}` marks another rollup's number) ==",
                names::rollup("…")
            );
        }
        for rollup in &plan.rollups.rollups {
            let over = match rollup.over {
                crate::check::model::RollupOver::Population => "the working scorecard",
                crate::check::model::RollupOver::Entities => "the entity table",
            };
            let by = if rollup.by.is_empty() {
                String::new()
            } else {
                format!(" by {}", rollup.by.join(", "))
            };
            let _ = writeln!(out, "{} (over {over}{by}):", rollup.name);
            for aggregate in &rollup.aggregates {
                let _ = writeln!(out, "  {aggregate}");
            }
            let _ = writeln!(out, "  value := {}", rollup.value);
        }
        Ok(out)
    });
    match described {
        Ok(output) => Report::ok(output),
        Err(errors) => Report::failed(errors),
    }
}

/// `vane plan PIPELINE --nights FROM..TO`: the plan of a backfill — the
/// aggregation each shared side runs once for every night, and the sides
/// each night computes for itself, with the reason.
pub fn plan_nights(pipeline: &Path, options: &RunOptions, nights: &Nights, stage: Stage) -> Report {
    let dates = match nights.dates() {
        Ok(dates) => dates,
        Err(d) => return Report::error(d),
    };
    let (checked, diagnostics) = check_path(pipeline, Data::Opened);
    let Some(checked) = checked else {
        return Report::failed(diagnostics);
    };
    let described = run_blocking(async {
        let first = RunOptions {
            as_of: dates.first().copied(),
            ..options.clone()
        };
        let settings = RunSettings::resolve(&first, &checked.model);
        let engine = Engine::start(&checked.model, &checked.sources, &settings, None).await?;
        let plan = crate::plan_nights(&checked, &engine.plan_inputs(), &dates)?;
        let mut out = String::new();
        let (first, last) = (dates.first(), dates.last());
        let _ = writeln!(
            out,
            "{} nights from {} to {}, every {} days: {} sides shared (one pass over their source), {} computed night by night",
            dates.len(),
            first.map(ToString::to_string).unwrap_or_default(),
            last.map(ToString::to_string).unwrap_or_default(),
            nights.every_days,
            plan.shared.len(),
            plan.per_night.len()
        );
        for (side, why) in &plan.per_night {
            let _ = writeln!(out, "side `{side}`: night by night, because {why}");
        }
        let _ = writeln!(
            out,
            "every night: the population and the previous night's health, as `vane plan` shows"
        );
        let shared_plans: Vec<LogicalPlan> = plan.shared.iter().map(|s| s.plan.clone()).collect();
        let partitions = crate::run::partitions_at_once(engine.session(), &shared_plans);
        for (side, partitions) in plan.shared.iter().zip(partitions) {
            let entity = &checked.model.entity.name;
            let what = match &side.recipe {
                Recipe::Aggregates {
                    columns,
                    bucket,
                    joined,
                    ..
                } => {
                    let span = |micros: Micros| {
                        Seconds::of(micros.get() / 1_000_000, 1)
                            .map_or_else(|| format!("{} µs", micros.get()), |s| s.to_string())
                    };
                    let buckets = match joined {
                        Some((per_step, step)) => format!(
                            "bucket: {per_step} per {} between its windows' edges, on a grid of {}",
                            span(*step),
                            span(*bucket)
                        ),
                        None => format!("bucket of {}", span(*bucket)),
                    };
                    format!(
                        "{} aggregates per ({entity}, {buckets}), combined per night over the buckets in its windows",
                        columns.len()
                    )
                }
                Recipe::Distinct { counts, .. } => format!(
                    "{} distinct counts: per ({entity}, value), a mask of the nights whose window holds the value",
                    counts.len()
                ),
                Recipe::Effective { kpis, .. } => format!(
                    "{} KPIs' targets: the rows any night may find effective, read once; each night picks per ({entity}, KPI) the row `vane plan` would",
                    kpis.len()
                ),
            };
            let name = format!("shared side `{}` ({what})", side.name);
            describe(
                &engine,
                &name,
                side.plan.clone(),
                partitions,
                stage,
                &mut out,
            )
            .await
            .map_err(|d| vec![d])?;
        }
        Ok(out)
    });
    match described {
        Ok(output) => Report::ok(output),
        Err(errors) => Report::failed(errors),
    }
}
