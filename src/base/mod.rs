//! Stage 0: what every stage shares — spans into the pipeline file, the
//! language's types, file formats, units of time and the names Vane gives
//! the columns it generates.
//!
//! **Architecture invariant:** `base` imports nothing else from Vane and
//! never imports DataFusion.

pub mod display;
pub mod engine;
pub mod format;
pub mod names;
pub mod span;
pub mod types;
pub mod units;

pub use format::FileFormat;
pub use span::{SourceFile, Span};
