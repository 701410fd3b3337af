//! Stage 3: typed model → DataFusion `LogicalPlan`s, built with
//! `LogicalPlanBuilder` and `Expr` (never SQL text).
//!
//! **Architecture invariant:** `plan` reads no data; it gets scans (with
//! their schemas) from `run` and returns plans for `run` to execute.

pub mod actions;
pub mod aggregate;
pub mod exprs;
pub mod names;
pub mod scorecard;

pub use actions::{ACTION_COLUMNS, PlaybookActions, actions_plan};
pub use scorecard::{Inputs, ScorecardPlan, Step, output_columns, scorecard_plan};
