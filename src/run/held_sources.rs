//! The small sources a backfill reads night by night — the entity table
//! every night's population filters, sources whose conditions read as-of —
//! read once and held in memory: each night's query scans the rows held
//! instead of decoding the same files again. A source is held when its
//! files come to at most [`HELD_SOURCE_BYTES`]; on a cluster nothing is
//! (the executors read the files themselves).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::error::Result;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder, TableScanBuilder, TableSource};
use datafusion::prelude::SessionContext;

use super::engine::Engine;

/// Most bytes of files a source held in memory may have: decoded, its
/// rows take a few times that, outside the engine's memory pool, so this
/// stays small beside any `--memory-limit` a backfill is given.
pub const HELD_SOURCE_BYTES: u64 = 16 << 20;

/// Each table `plan` scans, by name, with its source.
fn scanned(plan: &LogicalPlan, tables: &mut BTreeMap<String, Arc<dyn TableSource>>) {
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            tables
                .entry(scan.table_name.table().to_string())
                .or_insert_with(|| Arc::clone(&scan.source));
        }
        Ok(TreeNodeRecursion::Continue)
    });
}

/// Every row of `source`, named `name`.
async fn read_all(
    ctx: &SessionContext,
    name: &str,
    source: &Arc<dyn TableSource>,
) -> Result<Vec<datafusion::arrow::array::RecordBatch>> {
    let everything = LogicalPlanBuilder::scan(name, Arc::clone(source), None)?.build()?;
    ctx.execute_logical_plan(everything).await?.collect().await
}

/// Hold the small sources the nights' `own` parts scan in memory (their
/// sizes as `engine` listed their files), and make every part scan them
/// there; the names of the sources held.
pub async fn hold_small_sources(
    engine: &Engine,
    own: &mut [Vec<(String, LogicalPlan)>],
) -> Result<Vec<String>> {
    let ctx = engine.session();
    if super::remote::remote_work(ctx).is_some() {
        return Ok(Vec::new());
    }
    let mut tables = BTreeMap::new();
    for (_, plan) in own.iter().flatten() {
        scanned(plan, &mut tables);
    }
    let small = |name: &str| {
        let files = engine.input_files(name);
        !files.is_empty() && files.iter().map(|f| f.bytes).sum::<u64>() <= HELD_SOURCE_BYTES
    };
    let mut held: BTreeMap<String, Arc<dyn TableSource>> = BTreeMap::new();
    for (name, source) in tables.into_iter().filter(|(n, _)| small(n)) {
        // Every column is read here, where a night's query reads only
        // those it needs: a source one of whose other columns does not
        // read (a CSV value of the wrong type, say) stays on its files,
        // so the nights fail or succeed as `run` would.
        let Ok(rows) = read_all(ctx, &name, &source).await else {
            continue;
        };
        let table = MemTable::try_new(source.schema(), vec![rows])?;
        held.insert(name, provider_as_source(Arc::new(table)));
    }
    if held.is_empty() {
        return Ok(Vec::new());
    }
    for (_, plan) in own.iter_mut().flatten() {
        let rewritten = plan.clone().transform_up(|node| match node {
            LogicalPlan::TableScan(scan) => match held.get(scan.table_name.table()) {
                Some(source) => {
                    let scan = TableScanBuilder::new(scan.table_name, Arc::clone(source))
                        .with_projection(scan.projection)
                        .with_filters(scan.filters)
                        .with_fetch(scan.fetch)
                        .with_statistics_requests(scan.statistics_requests)
                        .build()?;
                    Ok(Transformed::yes(LogicalPlan::TableScan(scan)))
                }
                None => Ok(Transformed::no(LogicalPlan::TableScan(scan))),
            },
            other => Ok(Transformed::no(other)),
        })?;
        *plan = rewritten.data;
    }
    Ok(held.into_keys().collect())
}
