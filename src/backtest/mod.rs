//! Backtest: does the health score predict an outcome? Past nights are
//! scored in memory exactly as `run` would have scored them, each
//! entity-night is paired with whether the outcome followed within its
//! horizon, and [`report`] measures the pairs (statistics in [`stats`]).

mod collect;
pub mod logistic;
pub mod outcome_model;
pub mod render;
pub mod report;
pub mod stats;
pub mod suggest;

pub use collect::Collected;
pub use outcome_model::outcome_model;
pub use report::{Bootstrap, NightsUsed, Report, measure};
