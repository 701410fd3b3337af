//! The DataFusion session a run executes in: threads, the memory limit
//! and the engine options Vane's plans are tuned for.

use std::sync::Arc;

use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::settings::RunSettings;
use crate::diagnostics::{Code, Diagnostic};

/// Environment variables that, when set, win over Vane's own choice of
/// the option they name (documented in docs/running.md).
pub(super) const SKIP_PARTIAL_AGGREGATION: &str =
    "DATAFUSION_EXECUTION_SKIP_PARTIAL_AGGREGATION_PROBE_RATIO_THRESHOLD";
const OPTIMIZER_PASSES: &str = "DATAFUSION_OPTIMIZER_MAX_PASSES";

/// A session with `settings.threads` partitions and, with a memory limit,
/// a pool that makes operators spill beyond it. `DATAFUSION_*` environment
/// variables tune the rest.
pub fn session(settings: &RunSettings) -> Result<SessionContext, Diagnostic> {
    let mut config = SessionConfig::from_env()
        .unwrap_or_default()
        .with_target_partitions(settings.threads)
        .with_information_schema(false);
    // Vane's aggregations group by entity key, or by (key, value) for
    // distinct counts: partial aggregation before the exchange rarely pays
    // there, and the adaptive probe that decides made run times unsteady.
    // Skipping it is faster and steadier at every measured scale
    // (docs/benchmarks.md).
    if std::env::var_os(SKIP_PARTIAL_AGGREGATION).is_none() {
        config
            .options_mut()
            .execution
            .skip_partial_aggregation_probe_ratio_threshold = 0.0;
    }
    // Vane builds plans already in the shape the optimizer converges to
    // (fused aggregates, bounds next to the scans); further passes change
    // nothing and cost time (docs/benchmarks.md).
    if std::env::var_os(OPTIMIZER_PASSES).is_none() {
        config.options_mut().optimizer.max_passes = 1;
    }
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = settings.memory_limit {
        runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(limit)));
    }
    let runtime = runtime.build_arc().map_err(|e| {
        Diagnostic::error(
            Code::RunFailed,
            format!("cannot set up the query engine: {e}"),
        )
        .help("check --memory-limit and the DATAFUSION_* environment variables")
    })?;
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    crate::sources::register_local_files(&ctx);
    Ok(ctx)
}
