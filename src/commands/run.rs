//! `vane run`, `vane plan` and `vane sample-data`.

use std::fmt::Write;
use std::path::Path;

use chrono::NaiveDate;
use datafusion::physical_plan::displayable;

use super::validate::{block_on, load_and_check, load_check_and_open};
use super::{Exit, Report};
use crate::diagnostics::{Code, Diagnostic};
use crate::run::execute::{self, Prepared};
use crate::run::{RunOptions, RunSummary};
use crate::sample::{SampleOptions, generate};

/// Parse an `--as-of` value (`YYYY-MM-DD`).
pub fn parse_as_of(text: &str) -> Result<NaiveDate, Diagnostic> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        Diagnostic::error(
            Code::InvalidArgument,
            format!("--as-of `{text}` is not a date"),
        )
        .help("write the date as YYYY-MM-DD, e.g. --as-of 2026-11-01")
    })
}

/// A report for a command that failed with these errors.
pub fn failed_report(diagnostics: Vec<Diagnostic>) -> Report {
    Report {
        exit: Exit::Error,
        output: String::new(),
        diagnostics,
    }
}

/// The summary a person sees after a run.
pub fn summary_text(summary: &RunSummary, entity: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "scorecard written to {}", summary.partition.display());
    let bands = summary
        .bands
        .iter()
        .map(|(band, n)| format!("{n} {band}"))
        .collect::<Vec<_>>()
        .join(", ");
    let plural = if summary.entities == 1 { "" } else { "s" };
    if bands.is_empty() {
        let _ = writeln!(out, "  {} {entity}{plural} scored", summary.entities);
    } else {
        let _ = writeln!(out, "  {} {entity}{plural}: {bands}", summary.entities);
    }
    let fired: Vec<String> = summary
        .actions
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(p, n)| format!("{p} {n}"))
        .collect();
    let total: usize = summary.actions.iter().map(|(_, n)| n).sum();
    if summary.actions.is_empty() {
        let _ = writeln!(out, "  no playbooks defined");
    } else if fired.is_empty() {
        let _ = writeln!(out, "  no playbooks fired");
    } else {
        let _ = writeln!(out, "  {total} actions: {}", fired.join(", "));
    }
    if summary.suppressed > 0 {
        let _ = writeln!(
            out,
            "  {} repeat actions held back by cooldowns",
            summary.suppressed
        );
    }
    if let Some((_, ms)) = summary.timings.iter().find(|(s, _)| s == "total") {
        let _ = writeln!(out, "  took {:.2} s", ms / 1000.0);
    }
    out
}

/// `vane run PIPELINE`: compute and write one night's scorecard, actions and manifest.
pub fn run(pipeline: &Path, options: &RunOptions, progress: &dyn Fn(&str)) -> Report {
    progress("checking the pipeline");
    let (model, mut diagnostics, tables) = load_check_and_open(pipeline);
    let Some(model) = model else {
        return failed_report(diagnostics);
    };
    diagnostics.retain(|d| d.is_error());
    match block_on(execute::run(&model, options, &tables, progress)) {
        Ok(Ok(summary)) => Report {
            exit: Exit::Ok,
            output: summary_text(&summary, &model.entity.name),
            diagnostics,
        },
        Ok(Err(errors)) => failed_report(errors),
        Err(d) => failed_report(vec![d]),
    }
}

/// Which plans `vane plan` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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
    /// Execute the scorecard plan and show the physical plan with each
    /// operator's metrics (rows, time, memory): where a run spends its time.
    Analyze,
}

async fn describe(
    prepared: &Prepared,
    name: &str,
    plan: datafusion::logical_expr::LogicalPlan,
    stage: Stage,
    out: &mut String,
) -> Result<(), Diagnostic> {
    let state = prepared.ctx.state();
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
        let task = prepared.ctx.task_ctx();
        datafusion::physical_plan::collect(physical.clone(), task)
            .await
            .map_err(|e| crate::run::execute::execution_error(&e))?;
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
    let (model, diagnostics) = load_and_check(pipeline, true);
    let Some(model) = model else {
        return failed_report(diagnostics);
    };
    if stage == Stage::Model {
        return Report {
            exit: Exit::Ok,
            output: super::explain::model_text(&model),
            diagnostics: Vec::new(),
        };
    }
    let result = block_on(async {
        let prepared = execute::prepare(&model, options).await?;
        let scorecard = execute::scorecard_plan(&model, &prepared).map_err(|d| vec![d])?;
        let mut out = String::new();
        describe(
            &prepared,
            "scorecard facts: the population",
            scorecard.population,
            stage,
            &mut out,
        )
        .await
        .map_err(|d| vec![d])?;
        for side in scorecard.sides {
            let name = format!(
                "scorecard facts: side `{}` (left-joined on {} = {})",
                side.name,
                model.entity.key,
                side.key()
            );
            describe(&prepared, &name, side.plan, stage, &mut out)
                .await
                .map_err(|d| vec![d])?;
        }
        let _ = writeln!(
            out,
            "== scorecard: entity steps (per entity, over the facts) =="
        );
        for step in &scorecard.steps {
            let _ = writeln!(out, "{}:", step.label);
            for (column, expr) in &step.columns {
                let _ = writeln!(out, "  {column} := {expr}");
            }
        }
        let playbooks = crate::plan::actions_plan(&model, prepared.as_of_micros).map_err(|e| {
            vec![
                Diagnostic::error(Code::Internal, format!("cannot plan actions: {e}"))
                    .help("this is a bug in Vane; please report it"),
            ]
        })?;
        if !playbooks.is_empty() {
            let _ = writeln!(
                out,
                "== actions (per entity, over the working scorecard) =="
            );
        }
        for playbook in &playbooks {
            let _ = writeln!(out, "{} fires when {}:", playbook.name, playbook.condition);
            for (column, expr) in &playbook.columns {
                let _ = writeln!(out, "  {column} := {expr}");
            }
        }
        Ok::<String, Vec<Diagnostic>>(out)
    });
    match result {
        Ok(Ok(output)) => Report {
            exit: Exit::Ok,
            output,
            diagnostics: Vec::new(),
        },
        Ok(Err(errors)) => failed_report(errors),
        Err(d) => failed_report(vec![d]),
    }
}

/// `vane sample-data`: write a synthetic book of business.
pub fn sample_data(options: &SampleOptions, progress: &dyn Fn(&str)) -> Report {
    match generate(options, progress) {
        Ok(summary) => {
            let mut output = format!("sample data written to {}\n", options.out.display());
            for (table, rows) in &summary.tables {
                let _ = writeln!(output, "  {table}: {rows} rows");
            }
            let _ = writeln!(
                output,
                "  data ends {} (exclusive): run with --as-of {}",
                options.end, options.end
            );
            Report {
                exit: Exit::Ok,
                output,
                diagnostics: Vec::new(),
            }
        }
        Err(d) => failed_report(vec![d]),
    }
}
