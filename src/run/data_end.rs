//! Where the data ends: the latest time in a source (or in every source
//! with a time column). A backtest asks what happened within a horizon
//! after each night, and a night whose horizon runs past this end cannot
//! be answered yet (it is right-censored).

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit};
use datafusion::functions_aggregate::expr_fn::max;
use datafusion::logical_expr::{LogicalPlanBuilder, ident};
use datafusion::prelude::DataFrame;

use super::engine::Engine;
use super::errors::execution_error;
use crate::check::model::Model;
use crate::diagnostics::Diagnostic;

/// The first midnight after the latest time in `source` (every source
/// with a time column when `None`): the data covers every day before it.
/// `None` without rows.
pub async fn data_end(
    model: &Model,
    engine: &Engine,
    source: Option<&str>,
) -> Result<Option<NaiveDate>, Vec<Diagnostic>> {
    let mut latest: Option<i64> = None;
    for source in model
        .sources
        .iter()
        .filter(|s| source.is_none_or(|wanted| s.name == wanted))
    {
        let (Some(time), Some(scan)) = (&source.time, engine.plan_inputs().scans.get(&source.name))
        else {
            continue;
        };
        let plan = LogicalPlanBuilder::from(scan.clone())
            .aggregate(
                Vec::<datafusion::logical_expr::Expr>::new(),
                vec![max(ident(time))],
            )
            .and_then(|b| b.build())
            .map_err(|e| vec![execution_error(&e)])?;
        let batches = DataFrame::new(engine.session().state(), plan)
            .collect()
            .await
            .map_err(|e| vec![execution_error(&e)])?;
        for batch in batches {
            let as_time = cast(
                batch.column(0),
                &DataType::Timestamp(TimeUnit::Microsecond, None),
            )
            .and_then(|t| cast(&t, &DataType::Int64))
            .map_err(|e| vec![execution_error(&e.into())])?;
            let values = as_time.as_primitive::<Int64Type>();
            if !values.is_empty() && !values.is_null(0) {
                let value = values.value(0);
                latest = Some(latest.map_or(value, |l| l.max(value)));
            }
        }
    }
    Ok(latest
        .and_then(chrono::DateTime::from_timestamp_micros)
        .and_then(|t| t.date_naive().succ_opt()))
}
