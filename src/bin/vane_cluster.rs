//! `vane-cluster`: an Apache Ballista scheduler or executor built from the
//! same Ballista and DataFusion versions as `vane` (feature `ballista`),
//! for `vane run --engine ballista://HOST:PORT`. The tests start a
//! scheduler and executors with it; docs/distributed.md deploys it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_session_builder;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use clap::Parser;
use datafusion::execution::FunctionRegistry;
use vane::plan::night_mask::{NAME as NIGHT_MASK, night_mask_udf};
use vane::plan::percentile::{NAME as PERCENTILE, percentile_udaf};

/// Start one node of a Ballista cluster for vane.
#[derive(Parser)]
#[command(name = "vane-cluster", version, about)]
enum Node {
    /// A scheduler: plans jobs into stages and hands their tasks to executors.
    Scheduler {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// gRPC port (what `--engine ballista://HOST:PORT` names).
        #[arg(long, default_value_t = 50050)]
        port: u16,
        /// Host name executors and clients reach this scheduler by.
        #[arg(long, default_value = "localhost")]
        external_host: String,
        /// Seconds without a heartbeat after which an executor counts as
        /// lost and its tasks run elsewhere.
        #[arg(long, default_value_t = 30)]
        executor_timeout: u64,
    },
    /// An executor: runs tasks and serves their results to other executors.
    Executor {
        /// The scheduler, as HOST:PORT.
        #[arg(long, default_value = "localhost:50050")]
        scheduler: String,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// Arrow Flight port (results of tasks).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// gRPC port (tasks from the scheduler).
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Host name other nodes reach this executor by (default: the bind address).
        #[arg(long)]
        external_host: Option<String>,
        /// Folder for intermediate results (default: a temporary folder).
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Tasks run at once (default: the number of cores).
        #[arg(long)]
        concurrent_tasks: Option<usize>,
        /// Seconds between heartbeats to the scheduler.
        #[arg(long, default_value_t = 5)]
        heartbeat: u64,
    },
}

fn main() -> ExitCode {
    let node = Node::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("vane-cluster: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(start(node)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vane-cluster: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn start(node: Node) -> Result<(), String> {
    match node {
        Node::Scheduler {
            bind,
            port,
            external_host,
            executor_timeout,
        } => {
            let address: SocketAddr = format!("{bind}:{port}")
                .parse()
                .map_err(|e| format!("--bind {bind} --port {port}: {e}"))?;
            let config = SchedulerConfig {
                bind_host: bind,
                bind_port: port,
                external_host,
                executor_timeout_seconds: executor_timeout,
                expire_dead_executor_interval_seconds: (executor_timeout / 3).clamp(1, 15),
                no_executors_grace_period_seconds: executor_timeout,
                // Plans arrive naming Vane's own functions.
                override_session_builder: Some(Arc::new(|config| {
                    let mut state = default_session_builder(config)?;
                    state.register_udaf(Arc::new(percentile_udaf()))?;
                    state.register_udf(Arc::new(night_mask_udf()))?;
                    Ok(state)
                })),
                ..SchedulerConfig::default()
            };
            let cluster = BallistaCluster::new_from_config(&config)
                .await
                .map_err(|e| e.to_string())?;
            start_server(cluster, address, Arc::new(config))
                .await
                .map_err(|e| e.to_string())
        }
        Node::Executor {
            scheduler,
            bind,
            port,
            grpc_port,
            external_host,
            work_dir,
            concurrent_tasks,
            heartbeat,
        } => {
            let (scheduler_host, scheduler_port) = scheduler
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
                .ok_or_else(|| format!("--scheduler {scheduler}: write HOST:PORT"))?;
            let defaults = ExecutorProcessConfig::default();
            let mut functions = BallistaFunctionRegistry::default();
            functions
                .aggregate_functions
                .insert(PERCENTILE.to_string(), Arc::new(percentile_udaf()));
            functions
                .scalar_functions
                .insert(NIGHT_MASK.to_string(), Arc::new(night_mask_udf()));
            let config = ExecutorProcessConfig {
                bind_host: bind,
                external_host,
                port,
                grpc_port,
                scheduler_host,
                scheduler_port,
                scheduler_connect_timeout_seconds: 30,
                vcores: concurrent_tasks.unwrap_or(defaults.vcores).max(1),
                work_dir: work_dir.map(|d| d.display().to_string()),
                executor_heartbeat_interval_seconds: heartbeat.max(1),
                print_thread_info: false,
                override_function_registry: Some(Arc::new(functions)),
                ..defaults
            };
            start_executor_process(Arc::new(config))
                .await
                .map_err(|e| e.to_string())
        }
    }
}
