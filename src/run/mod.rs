//! Stage 4: run the plans — register sources, execute, write outputs and the manifest.

pub mod sources;
