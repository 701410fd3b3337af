//! Stage 4: typed model → [`Plan`]: DataFusion `LogicalPlan`s for the facts
//! and `Expr`s for everything computed per entity, built with
//! `LogicalPlanBuilder` and `Expr` (never SQL text).
//!
//! **Architecture invariant:** `plan` reads no data. It builds on the scans
//! an executor gives it ([`Inputs`]) and returns a [`Plan`] any executor
//! can run: the local engine in `run` today.

pub mod actions;
pub mod aggregate;
pub mod columns;
pub mod exact_float;
pub mod exprs;
pub mod format_number;
pub mod night_mask;
pub mod nights;
pub mod percentile;
pub mod rollups;
pub mod scorecard;
pub mod targets;
pub mod windows;

use crate::check::model::Model;
use crate::diagnostics::{Code, Diagnostic};
pub use actions::PlaybookActions;
pub use columns::ParseCheck;
pub use scorecard::{Inputs, ScorecardPlan, Side, Step};

/// Everything one night computes, as plans and expressions.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The facts (population and sides) and the entity steps.
    pub scorecard: ScorecardPlan,
    /// The rollups.
    pub rollups: rollups::RollupsPlan,
    /// Every playbook's condition and action columns, in output order.
    pub actions: Vec<PlaybookActions>,
    /// `(actions column, attribute)` of the entity attributes every action
    /// carries.
    pub action_attributes: Vec<(String, String)>,
    /// The scorecard's output columns, in order.
    pub output_columns: Vec<String>,
    /// The entity's name (`account`), for messages.
    pub entity: String,
    /// The entity key column.
    pub key: String,
    /// The source holding one row per entity, for messages.
    pub entity_source: String,
    /// Per source that declares column types, the count of values that do not parse.
    pub parse_checks: Vec<ParseCheck>,
}

/// Plan one night of `model` over the executor's `inputs`.
pub fn plan(model: &Model, inputs: &Inputs<'_>) -> Result<Plan, PlanError> {
    let scans = columns::typed_scans(model, inputs.scans)?;
    let typed = Inputs {
        scans: &scans,
        previous: inputs.previous.clone(),
        previous_definitions_changed: inputs.previous_definitions_changed,
        as_of: inputs.as_of,
    };
    Ok(Plan {
        scorecard: scorecard::scorecard_plan(model, &typed)?,
        rollups: rollups::rollups_plan(model, &typed)?,
        parse_checks: columns::parse_checks(model, inputs.scans)?,
        actions: actions::actions_plan(model)?,
        action_attributes: model
            .entity
            .display
            .iter()
            .map(|a| (model.entity.display_column(a), a.clone()))
            .collect(),
        output_columns: scorecard::output_columns(model),
        entity: model.entity.name.clone(),
        key: model.entity.key.clone(),
        entity_source: model.entity.source.clone(),
    })
}

/// Why a checked model could not be planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// A time the plan needs lies outside what a timestamp can hold.
    OutOfRange(String),
    /// The checker accepted something the planner cannot lower: a bug.
    Bug(String),
}

impl From<String> for PlanError {
    fn from(message: String) -> Self {
        PlanError::Bug(message)
    }
}

impl From<&str> for PlanError {
    fn from(message: &str) -> Self {
        PlanError::Bug(message.to_string())
    }
}

impl From<datafusion::error::DataFusionError> for PlanError {
    fn from(error: datafusion::error::DataFusionError) -> Self {
        PlanError::Bug(error.to_string())
    }
}

impl PlanError {
    /// The error as a diagnostic.
    pub fn into_diagnostic(self) -> Diagnostic {
        match self {
            PlanError::OutOfRange(message) => Diagnostic::error(Code::RunFailed, message)
                .help("shorten the window or the period, or choose a later --as-of"),
            PlanError::Bug(message) => Diagnostic::error(
                Code::Internal,
                format!("could not build the plan: {message}"),
            )
            .help("this is a bug in Vane; please report it with the pipeline file"),
        }
    }
}
