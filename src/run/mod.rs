//! Stage 5: run a [`Plan`](crate::plan::Plan) on the local DataFusion
//! engine and write the night: [`Engine::start`] registers the sources and
//! finds earlier nights (in the output folder, or [`HeldNights`] in
//! memory), [`execute`] computes the scorecard and actions,
//! [`compute_rollups`] the rollups of one night or of a backfill's chunk
//! of nights, [`settle_night`] applies cooldowns and [`write_settled`] writes the
//! partition atomically ([`write_night`]: both).
//!
//! **Architecture invariant:** everything that reads rows of data files or
//! writes the output folder lives here (and in `sample`).

pub mod backfill;
mod cells;
mod cooldowns;
mod cut;
mod data_end;
pub mod engine;
mod entity;
mod errors;
pub mod execute;
mod facts;
mod held;
mod held_sources;
pub mod inputs;
mod manifest;
pub mod nights;
mod outgoing;
pub mod outputs;
pub mod parsing;
pub mod remote;
pub mod rollups;
mod running_sums;
mod session;
pub mod settings;
mod stopwatch;
pub mod stored;
mod targets;
mod write;

pub use backfill::Nights;
pub use cells::{TextColumn, cell, fired};
pub use cooldowns::{cooldown_days, quiet_since};
pub use data_end::data_end;
pub use engine::{Engine, partitions_for};
pub use entity::ProgramCache;
pub use errors::execution_error;
pub use execute::{Computed, execute};
pub use facts::{JoinedAhead, PreviousHealth, partitions_at_once, state_with_partitions};
pub use held::HeldNights;
pub use held_sources::hold_small_sources;
pub use nights::{Ahead, SharedNights, compute_ahead, compute_shared};
pub use outgoing::{NightDone, Outgoing, RollupsRunner};
pub use rollups::{NightScorecard, Rollups, compute_rollups};
pub use settings::{RunOptions, RunSettings};
pub use stopwatch::Stopwatch;
pub use stored::{StoredNight, read_night, written_nights};
pub use write::{
    RunSummary, SettledNight, StagedNight, settle_night, stage_settled, write_night, write_settled,
};
