//! The actions plan: for each playbook, the entities whose condition holds,
//! with the rendered owner, message and dedup key and the values that made
//! the condition true. Reads the working scorecard.

use std::collections::BTreeSet;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::functions::core as core_fn;
use datafusion::functions::string;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, ident, lit};

use super::exprs::{LowerResult, Lowering};
use super::names;
use crate::check::model::{
    Model, Playbook, TypedExpr, TypedKind, TypedPart, TypedTemplate, duration_text,
};

/// Columns of the actions output, in order.
pub const ACTION_COLUMNS: &[&str] = &[
    "entity",
    "playbook",
    "action",
    "priority",
    "owner",
    "message",
    "dedup_key",
    "reason",
];

fn as_text(e: Expr) -> Expr {
    core_fn::coalesce().call(vec![cast(e, DataType::Utf8), lit("null")])
}

fn render(template: &TypedTemplate, lowering: &Lowering<'_>) -> LowerResult<Expr> {
    let mut parts = vec![lit("")];
    for part in &template.parts {
        parts.push(match part {
            TypedPart::Text(text) => lit(text.clone()),
            TypedPart::Hole(e) => as_text(lowering.lower(e)?),
        });
    }
    Ok(string::concat().call(parts))
}

/// `name=value` for each metric, attribute, score, health or band a condition reads.
fn reason(condition: &TypedExpr, entity: &str) -> Expr {
    let mut seen = BTreeSet::new();
    condition.walk(&mut |e| {
        let item = match &e.kind {
            TypedKind::Metric { name, shift: 0 } => Some((name.clone(), names::metric(name, 0))),
            TypedKind::Metric { name, shift } => Some((
                format!("{name}[-{}]", duration_text(*shift)),
                names::metric(name, *shift),
            )),
            TypedKind::Attribute(a) => Some((format!("{entity}.{a}"), a.clone())),
            TypedKind::IndicatorScore(i) => Some((format!("score({i})"), names::score(i))),
            TypedKind::Health => Some((names::HEALTH.to_string(), names::HEALTH.to_string())),
            TypedKind::Band => Some((names::BAND.to_string(), names::BAND.to_string())),
            _ => None,
        };
        if let Some(item) = item {
            seen.insert(item);
        }
    });
    let mut parts = vec![lit("")];
    for (i, (label, column)) in seen.into_iter().enumerate() {
        let sep = if i == 0 { "" } else { "; " };
        parts.push(lit(format!("{sep}{label}=")));
        parts.push(as_text(ident(column)));
    }
    string::concat().call(parts)
}

fn playbook_plan(
    model: &Model,
    playbook: &Playbook,
    scorecard: &LogicalPlan,
    lowering: &Lowering<'_>,
) -> LowerResult<LogicalPlan> {
    let key = ident(&model.entity.key);
    let owner = match &playbook.assignee {
        Some(t) => render(t, lowering)?,
        None => lit(ScalarValue::Utf8(None)),
    };
    let dedup = match &playbook.dedup_key {
        Some(t) => render(t, lowering)?,
        None => string::concat().call(vec![
            as_text(key.clone()),
            lit(format!(":{}", playbook.name)),
        ]),
    };
    let condition = core_fn::coalesce().call(vec![lowering.lower(&playbook.when)?, lit(false)]);
    let projection = vec![
        cast(key, DataType::Utf8).alias("entity"),
        lit(playbook.name.clone()).alias("playbook"),
        lit(playbook.action.clone()).alias("action"),
        lit(playbook.priority.name()).alias("priority"),
        cast(owner, DataType::Utf8).alias("owner"),
        cast(render(&playbook.message, lowering)?, DataType::Utf8).alias("message"),
        cast(dedup, DataType::Utf8).alias("dedup_key"),
        cast(reason(&playbook.when, &model.entity.name), DataType::Utf8).alias("reason"),
    ];
    LogicalPlanBuilder::from(scorecard.clone())
        .filter(condition)
        .and_then(|b| b.project(projection))
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())
}

/// All fired playbooks over the working scorecard, sorted by priority, playbook and entity.
/// `None` when the pipeline has no playbooks.
pub fn actions_plan(
    model: &Model,
    scorecard: &LogicalPlan,
    as_of_micros: i64,
) -> LowerResult<Option<LogicalPlan>> {
    let lowering = Lowering {
        as_of_micros,
        shift: 0,
        key: &model.entity.key,
    };
    let mut plans = model
        .playbooks
        .iter()
        .map(|p| playbook_plan(model, p, scorecard, &lowering));
    let Some(first) = plans.next() else {
        return Ok(None);
    };
    let mut builder = LogicalPlanBuilder::from(first?);
    for plan in plans {
        builder = builder.union(plan?).map_err(|e| e.to_string())?;
    }
    let rank = datafusion::logical_expr::when(ident("priority").eq(lit("high")), lit(0i64))
        .when(ident("priority").eq(lit("medium")), lit(1i64))
        .otherwise(lit(2i64))
        .map_err(|e| e.to_string())?;
    builder
        .sort(vec![
            rank.sort(true, false),
            ident("playbook").sort(true, false),
            ident("entity").sort(true, false),
        ])
        .and_then(|b| b.build())
        .map(Some)
        .map_err(|e| e.to_string())
}
