//! Stage 5: run a [`Plan`](crate::plan::Plan) on the local DataFusion
//! engine and write the night: [`Engine::start`] registers the sources and
//! finds earlier nights, [`execute`] computes the scorecard and actions,
//! [`write_night`] applies cooldowns and writes the partition atomically.
//!
//! **Architecture invariant:** everything that reads rows of data files or
//! writes the output folder lives here (and in `sample`).

pub mod backfill;
mod cells;
mod cooldowns;
pub mod engine;
mod entity;
mod errors;
pub mod execute;
mod facts;
mod manifest;
pub mod nights;
pub mod outputs;
pub mod parsing;
mod session;
pub mod settings;
mod stopwatch;
mod write;

pub use backfill::Nights;
pub use cells::{TextColumn, cell, fired};
pub use engine::{Engine, partitions_for};
pub use errors::execution_error;
pub use execute::{Computed, execute};
pub use facts::{JoinedAhead, PreviousHealth, partitions_at_once, state_with_partitions};
pub use nights::{Ahead, SharedNights, compute_ahead, compute_shared};
pub use settings::{RunOptions, RunSettings};
pub use stopwatch::Stopwatch;
pub use write::{RunSummary, write_night};
