//! The Ballista side of [`super`]: reach the scheduler, keep a Ballista
//! session in the local session's config, and run the facts' source parts
//! in it.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::SessionContextExt;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::listing::ListingTable;
use datafusion::datasource::source_as_provider;
use datafusion::error::Result;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;

use super::{EngineChoice, unavailable};
use crate::diagnostics::Diagnostic;

/// How long Vane waits for the scheduler to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A Ballista session the facts' source parts run in.
pub struct Cluster {
    ctx: SessionContext,
}

/// With `choice` a Ballista scheduler: check that it answers (within
/// [`CONNECT_TIMEOUT`]) and attach a Ballista session to `ctx`, so the
/// facts' source parts run there.
pub async fn attach(ctx: &SessionContext, choice: &EngineChoice) -> Result<(), Diagnostic> {
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
    let remote = SessionContext::remote_with_state(&format!("df://{address}"), ctx.state())
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
        .set_extension(Arc::new(Cluster { ctx: remote }));
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

impl Cluster {
    /// Run `plan` on the cluster, as one batch.
    pub async fn compute(&self, plan: LogicalPlan) -> Result<RecordBatch> {
        let frame = self.ctx.execute_logical_plan(plan).await?;
        let planned = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await?;
        let schema = batches.first().map_or(planned, |b| b.schema());
        Ok(concat_batches(&schema, &batches)?)
    }
}
