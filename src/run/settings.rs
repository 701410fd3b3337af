//! How a run is set up: the options a caller gives ([`RunOptions`], all
//! optional) resolved once, against the pipeline's `outputs:` and the
//! machine, into [`RunSettings`], the values the run actually uses and the
//! manifest records.

use std::path::PathBuf;

use chrono::NaiveDate;

use super::backfill::Nights;
use super::remote::{ENGINE_VARIABLE, EngineChoice};
use crate::base::FileFormat;
use crate::check::model::Model;

/// What a caller may set for a run; unset values get their defaults in
/// [`RunSettings::resolve`].
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The as-of date: windows end at its midnight (UTC), exclusive. Default: today (UTC).
    pub as_of: Option<NaiveDate>,
    /// Output folder. Default: the pipeline's `outputs.dir`.
    pub out: Option<PathBuf>,
    /// Output format. Default: the pipeline's `outputs.format`.
    pub format: Option<FileFormat>,
    /// Memory limit in bytes; operators spill to disk beyond it. Default: none.
    pub memory_limit: Option<usize>,
    /// Threads (DataFusion target partitions). Default: the number of cores.
    pub threads: Option<usize>,
    /// Write CSV text cells as computed, formulas included. Default: no,
    /// a cell a spreadsheet would run gets a leading `'`.
    pub raw_csv: bool,
    /// The backfill this night is part of, if any (recorded in the manifest).
    pub backfill: Option<Nights>,
    /// The engine, as written (`local`, `ballista://HOST:PORT`). Default:
    /// the `VANE_ENGINE` environment variable, else the pipeline's
    /// `outputs.engine`, else local.
    pub engine: Option<String>,
    /// The longest one part of the facts may take on a cluster before the
    /// run gives up on it. Default: [`DEFAULT_ENGINE_TIMEOUT`].
    pub engine_timeout: Option<std::time::Duration>,
}

/// How long one part of the facts may take on a cluster by default: far
/// beyond any healthy part, short of a night.
pub const DEFAULT_ENGINE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// The settings a run uses, every default resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSettings {
    /// The as-of date.
    pub as_of: NaiveDate,
    /// The output folder.
    pub out: PathBuf,
    /// The output format.
    pub format: FileFormat,
    /// Memory limit in bytes, if any.
    pub memory_limit: Option<usize>,
    /// Threads (at least 1).
    pub threads: usize,
    /// Whether CSV text cells are written as computed, formulas included.
    pub raw_csv: bool,
    /// The backfill this night is part of, if any.
    pub backfill: Option<Nights>,
    /// The engine the facts run on, as written; checked when the engine
    /// starts ([`EngineChoice::parse`]).
    pub engine: String,
    /// The longest one part of the facts may take on a cluster.
    pub engine_timeout: std::time::Duration,
}

impl RunSettings {
    /// Resolve `options` against the pipeline's outputs, today's date and
    /// the machine's cores.
    pub fn resolve(options: &RunOptions, model: &Model) -> RunSettings {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        RunSettings {
            as_of: options
                .as_of
                .unwrap_or_else(|| chrono::Utc::now().date_naive()),
            out: options
                .out
                .clone()
                .unwrap_or_else(|| model.outputs.dir.clone()),
            format: options.format.unwrap_or(model.outputs.format),
            memory_limit: options.memory_limit,
            threads: options.threads.unwrap_or(cores).max(1),
            raw_csv: options.raw_csv,
            backfill: options.backfill.clone(),
            engine: options
                .engine
                .clone()
                .or_else(|| std::env::var(ENGINE_VARIABLE).ok())
                .or_else(|| model.outputs.engine.clone())
                .unwrap_or_else(|| EngineChoice::Local.name()),
            engine_timeout: options.engine_timeout.unwrap_or(DEFAULT_ENGINE_TIMEOUT),
        }
    }
}
