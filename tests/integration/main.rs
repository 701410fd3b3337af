//! Vane's integration tests, in one test binary (a DataFusion link is slow;
//! one binary links once). Each module covers one stage or command.

mod architecture;
mod authoring;
mod backfill;
mod backtest;
#[cfg(feature = "ballista")]
mod ballista;
mod changes;
mod corpus;
mod fuzz;
mod plans;
mod properties;
mod report;
mod run;
mod sql;
mod support;
