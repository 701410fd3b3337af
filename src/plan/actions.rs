//! The actions plan: for each playbook, the entities whose condition holds,
//! with the rendered owner, message and dedup key and the values that made
//! the condition true. Its expressions read the working scorecard, one row
//! per entity, and `run` evaluates them there (like the scorecard's steps).

use std::collections::BTreeSet;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::functions::core as core_fn;
use datafusion::functions::string;
use datafusion::logical_expr::{Expr, cast, ident, lit, when};

use super::exprs::{AsOf, LowerResult, Lowering};
use crate::base::names;
use crate::base::units::Seconds;
use crate::check::model::{Model, Playbook, TypedExpr, TypedKind, TypedPart, TypedTemplate};

/// What one playbook fires: a row of [`names::ACTION_COLUMNS`] for each entity
/// of the working scorecard where `condition` is true.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaybookActions {
    /// The playbook's name.
    pub name: String,
    /// True where the playbook fires (never null).
    pub condition: Expr,
    /// One expression per action column, in [`names::ACTION_COLUMNS`] order.
    pub columns: Vec<(String, Expr)>,
}

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

/// The owner template rendered, or `fallback` (the pipeline's `owner:`,
/// else null) when one of its holes is null: an action goes to a person
/// or to nobody, never to the word `null`.
fn render_owner(
    template: &TypedTemplate,
    fallback: Option<&str>,
    lowering: &Lowering<'_>,
) -> LowerResult<Expr> {
    let mut any_null: Option<Expr> = None;
    for part in &template.parts {
        if let TypedPart::Hole(e) = part {
            let null = lowering.lower(e)?.is_null();
            any_null = Some(match any_null {
                Some(earlier) => earlier.or(null),
                None => null,
            });
        }
    }
    let rendered = render(template, lowering)?;
    Ok(match any_null {
        Some(any_null) => when(any_null, lit(ScalarValue::Utf8(fallback.map(String::from))))
            .otherwise(rendered)
            .map_err(|e| e.to_string())?,
        None => rendered,
    })
}

/// `name=value` for each metric, attribute, score, health or band a condition reads.
fn reason(condition: &TypedExpr, entity: &str) -> Expr {
    let mut seen = BTreeSet::new();
    condition.walk(&mut |e| {
        let item = match &e.kind {
            TypedKind::Metric { name, shift } if *shift == Seconds::ZERO => {
                Some((name.clone(), names::metric(name, *shift)))
            }
            TypedKind::Metric { name, shift } => {
                Some((format!("{name}[-{shift}]"), names::metric(name, *shift)))
            }
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
    lowering: &Lowering<'_>,
) -> LowerResult<PlaybookActions> {
    let key = ident(&model.entity.key);
    let fallback = model.about.owner.as_ref().map(|o| o.value.as_str());
    let owner = match &playbook.assignee {
        Some(t) => render_owner(t, fallback, lowering)?,
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
    let columns = [
        cast(key, DataType::Utf8),
        lit(playbook.name.clone()),
        lit(playbook.action.clone()),
        lit(playbook.priority.name()),
        cast(owner, DataType::Utf8),
        cast(render(&playbook.message, lowering)?, DataType::Utf8),
        cast(dedup, DataType::Utf8),
        cast(reason(&playbook.when, &model.entity.name), DataType::Utf8),
    ];
    Ok(PlaybookActions {
        name: playbook.name.clone(),
        condition,
        columns: names::ACTION_COLUMNS
            .iter()
            .map(|c| c.to_string())
            .zip(columns)
            .collect(),
    })
}

/// Every playbook's actions, in output order: by priority, then name.
/// (`run` sorts each playbook's rows by entity.)
pub fn actions_plan(model: &Model) -> LowerResult<Vec<PlaybookActions>> {
    let lowering = Lowering {
        as_of: AsOf::Column,
        shift: Seconds::ZERO,
        key: &model.entity.key,
    };
    let mut playbooks: Vec<&Playbook> = model.playbooks.iter().collect();
    playbooks.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
    playbooks
        .into_iter()
        .map(|p| playbook_plan(model, p, &lowering))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backfill compiles one night's playbooks and reuses them while
    /// the next night's plan equals them; a function that equals only
    /// itself (a fresh `create_udf`) would make every night compile anew.
    #[test]
    fn planning_the_actions_twice_gives_equal_plans() {
        let pipeline =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/customer_health.yaml");
        let (checked, diagnostics) = crate::commands::check_path(&pipeline, crate::Data::Opened);
        let model = &checked.unwrap_or_else(|| panic!("{diagnostics:?}")).model;
        let once = actions_plan(model).expect("planned");
        assert!(
            once.iter()
                .any(|p| format!("{:?}", p.columns).contains("format_number"))
        );
        assert_eq!(once, actions_plan(model).expect("planned"));
    }
}
