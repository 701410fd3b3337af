//! Stage 4: run the plans — register sources, execute, apply cooldowns,
//! write outputs and the manifest.
//!
//! **Architecture invariant:** everything that touches data files or the
//! output folder lives here (and in `sample`).

pub mod entity;
pub mod execute;
pub mod facts;
pub mod local_files;
pub mod manifest;
pub mod outputs;
pub mod sources;

pub use execute::{RunOptions, RunSummary, parse_size, run};
