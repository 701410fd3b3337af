//! The Ballista side of [`super`]: reach the scheduler, keep a Ballista
//! session in the local session's config, and run the facts' source parts
//! in it.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::listing::ListingTable;
use datafusion::datasource::source_as_provider;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;

use super::{ClusterFailure, EngineChoice, RemoteWork, TIMED_OUT, unavailable};
use crate::base::units::Seconds;
use crate::diagnostics::Diagnostic;
use crate::run::session::SKIP_PARTIAL_AGGREGATION;

/// How long Vane waits for the scheduler to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `90s`, `10min`, `2h`, as the language writes durations.
fn written(span: Duration) -> String {
    let seconds = i64::try_from(span.as_secs()).unwrap_or(i64::MAX);
    Seconds::of(seconds, 1).map_or_else(|| format!("{seconds}s"), |s| s.to_string())
}

/// A Ballista session the facts' source parts run in, and what it did.
pub struct Cluster {
    ctx: SessionContext,
    scheduler: String,
    timeout: Duration,
    jobs: AtomicUsize,
    rows: AtomicUsize,
}

/// With `choice` a Ballista scheduler: check that it answers (within
/// [`CONNECT_TIMEOUT`]) and attach a Ballista session to `ctx`, so the
/// facts' source parts run there, each for at most `timeout`.
pub async fn attach(
    ctx: &SessionContext,
    choice: &EngineChoice,
    timeout: Duration,
) -> Result<(), Diagnostic> {
    let EngineChoice::Ballista { host, port } = choice else {
        return Ok(());
    };
    let address = format!("{host}:{port}");
    let help = "start the scheduler (see docs/distributed.md), or correct --engine, \
                VANE_ENGINE or the pipeline's outputs.engine";
    let reach = {
        let (host, port) = (host.clone(), *port);
        tokio::task::spawn_blocking(move || -> Result<(), String> {
            let addresses = (host.as_str(), port)
                .to_socket_addrs()
                .map_err(|e| format!("cannot resolve `{host}`: {e}"))?;
            let mut last = format!("`{host}` resolves to no address");
            for socket in addresses {
                match TcpStream::connect_timeout(&socket, CONNECT_TIMEOUT) {
                    Ok(_) => return Ok(()),
                    Err(e) => last = e.to_string(),
                }
            }
            Err(last)
        })
        .await
    };
    let unreachable = match reach {
        Ok(Ok(())) => None,
        Ok(Err(why)) => Some(why),
        Err(e) => Some(e.to_string()),
    };
    if let Some(why) = unreachable {
        return Err(unavailable(
            format!("cannot reach the Ballista scheduler at {address}: {why}"),
            help,
        ));
    }
    // With Ballista 55's adaptive planner, a job that loses an executor
    // mid-stage often waits forever; the static planner re-runs the lost
    // tasks (docs/distributed.md, "Failure behaviour").
    let mut config = ctx
        .copied_config()
        .upgrade_for_ballista()
        .with_ballista_adaptive_query_planner(false);
    // On one machine Vane skips partial aggregation (the exchange is in
    // memory); on a cluster the exchange crosses the network, and the
    // partial aggregates per entity are what keeps it small: 287 MiB of
    // shuffle per 51M-event night with the skip (docs/benchmarks.md).
    if std::env::var_os(SKIP_PARTIAL_AGGREGATION).is_none() {
        config
            .options_mut()
            .execution
            .skip_partial_aggregation_probe_ratio_threshold = 1.0;
    }
    let state = SessionStateBuilder::new_from_existing(ctx.state())
        .with_config(config)
        .build();
    let remote = SessionContext::remote_with_state(&format!("df://{address}"), state)
        .await
        .map_err(|e| {
            unavailable(
                format!("cannot open a session on the Ballista scheduler at {address}: {e}"),
                help,
            )
        })?;
    ctx.state_ref()
        .write()
        .config_mut()
        .set_extension(Arc::new(Cluster {
            ctx: remote,
            scheduler: choice.name(),
            timeout,
            jobs: AtomicUsize::new(0),
            rows: AtomicUsize::new(0),
        }));
    Ok(())
}

/// The cluster to run `plan` on: the session's, when it has one and every
/// table `plan` scans is a listing table of files (which the executors
/// read themselves). Tables Vane holds in memory stay local.
pub fn on_cluster(ctx: &SessionContext, plan: &LogicalPlan) -> Option<Arc<Cluster>> {
    let cluster = ctx.copied_config().get_extension::<Cluster>()?;
    let mut files_only = true;
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let listing = source_as_provider(&scan.source)
                .ok()
                .is_some_and(|p| p.is::<ListingTable>());
            if !listing {
                files_only = false;
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    files_only.then_some(cluster)
}

/// How many times a part is submitted when its results are lost.
const ATTEMPTS: usize = 2;

/// What Ballista's client says when it cannot fetch a finished job's
/// results from the executor that holds them.
const LOST_RESULTS: &str = "fetch partition error";

impl Cluster {
    /// Submit `plan` as one job and collect its batches.
    async fn attempt(&self, plan: LogicalPlan) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let frame = self.ctx.execute_logical_plan(plan).await?;
        let planned = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await?;
        Ok((planned, batches))
    }

    /// Run `plan` on the cluster, as one batch. A failure is a
    /// [`ClusterFailure`] naming the sources `plan` reads.
    pub async fn compute(&self, plan: LogicalPlan) -> Result<RecordBatch> {
        let sources = sources_read(&plan);
        let failed = |message: String| {
            DataFusionError::External(Box::new(ClusterFailure {
                scheduler: self.scheduler.clone(),
                sources: sources.clone(),
                message,
            }))
        };
        let work = async {
            let mut attempt = 1;
            loop {
                match self.attempt(plan.clone()).await {
                    // The job finished but an executor holding its results
                    // was lost before they came back: run it once more.
                    Err(e) if attempt < ATTEMPTS && e.to_string().contains(LOST_RESULTS) => {
                        attempt += 1;
                    }
                    done => break done,
                }
            }
        };
        let (planned, batches) = match tokio::time::timeout(self.timeout, work).await {
            Ok(done) => done.map_err(|e| failed(e.to_string()))?,
            Err(_) => {
                return Err(failed(format!(
                    "{TIMED_OUT} {} (--engine-timeout)",
                    written(self.timeout)
                )));
            }
        };
        let schema = batches.first().map_or(planned, |b| b.schema());
        let batch = concat_batches(&schema, &batches)?;
        self.jobs.fetch_add(1, Ordering::Relaxed);
        self.rows.fetch_add(batch.num_rows(), Ordering::Relaxed);
        Ok(batch)
    }
}

/// The tables `plan` scans (the sources, by name), each once, in order.
fn sources_read(plan: &LogicalPlan) -> Vec<String> {
    let mut sources: Vec<String> = Vec::new();
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let name = scan.table_name.table().to_string();
            if !sources.contains(&name) {
                sources.push(name);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    sources
}

/// What the session's cluster has run so far, when it has one.
pub fn remote_work(ctx: &SessionContext) -> Option<RemoteWork> {
    let cluster = ctx.copied_config().get_extension::<Cluster>()?;
    Some(RemoteWork {
        scheduler: cluster.scheduler.clone(),
        jobs: cluster.jobs.load(Ordering::Relaxed),
        rows_back: cluster.rows.load(Ordering::Relaxed),
    })
}
