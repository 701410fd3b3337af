//! Metric tests, typed: each test's as-of date, its fixture rows as the
//! text a CSV file would hold, and its expectations resolved to the
//! scorecard columns (or the fired playbooks) they compare with.

use chrono::NaiveDate;

use super::Checker;
use super::model::{Expectation, Expected, ExpectedValue, Fixture, Model, Target, Test};
use crate::base::{SourceFile, names};
use crate::diagnostics::{Code, closest};
use crate::syntax::ast::{Row, TestDef, Text};
use crate::syntax::yaml::{Node, NodeKind};

/// Health columns a test may expect when the pipeline has health.
const HEALTH_COLUMNS: &[&str] = &[names::HEALTH, names::BAND, names::HEALTH_MODEL];

/// A scalar's text as written: numbers keep their literal form, so `0.30`
/// compares as the number it says.
fn scalar_text(node: &Node, file: &SourceFile) -> Option<String> {
    match &node.kind {
        NodeKind::Null => None,
        NodeKind::Str(s) => Some(s.clone()),
        NodeKind::Bool(b) => Some(b.to_string()),
        NodeKind::Int(_) | NodeKind::Float(_) => Some(file.slice(node.span).to_string()),
        NodeKind::Seq(_) | NodeKind::Map(_) => Some(String::new()),
    }
}

/// A fixture cell: what a CSV field would hold, `None` for an empty one.
fn fixture_text(node: &Node, file: &SourceFile) -> Option<String> {
    match &node.kind {
        NodeKind::Seq(_) | NodeKind::Map(_) => None,
        _ => scalar_text(node, file),
    }
}

impl Checker<'_> {
    /// Type every test of the file against the checked model.
    pub(super) fn tests(&mut self, model: &Model) -> Vec<Test> {
        let defs = &self.pipeline.tests;
        defs.iter().map(|def| self.test(def, model)).collect()
    }

    fn test(&mut self, def: &TestDef, model: &Model) -> Test {
        let as_of = def.as_of.as_ref().and_then(|as_of| {
            let date = NaiveDate::parse_from_str(&as_of.value, "%Y-%m-%d").ok();
            if date.is_none() {
                self.error(
                    Code::InvalidValue,
                    as_of.span,
                    format!("`{}` is not a date", as_of.value),
                    "not YYYY-MM-DD",
                    "write the as-of date as `2026-11-01`".into(),
                );
            }
            date
        });
        let fixtures = def
            .given
            .iter()
            .filter_map(|(source, rows)| {
                self.source_ref(&model.sources, source)?;
                Some(Fixture {
                    source: source.value.clone(),
                    span: source.span,
                    rows: rows.iter().map(|row| self.fixture_row(row)).collect(),
                })
            })
            .collect();
        let expectations = def
            .expect
            .iter()
            .map(|(entity, row)| Expectation {
                entity: entity.value.clone(),
                span: entity.span,
                checks: row
                    .iter()
                    .filter_map(|(name, node)| {
                        let target = self.expectation_target(model, name)?;
                        Some(Expected {
                            name: name.value.clone(),
                            value: self.expected_value(&target, node),
                            target,
                            span: node.span,
                        })
                    })
                    .collect(),
            })
            .collect();
        Test {
            name: def.name.value.clone(),
            span: def.name.span,
            as_of,
            fixtures,
            expectations,
        }
    }

    fn fixture_row(&self, row: &Row) -> Vec<(String, Option<String>)> {
        row.iter()
            .map(|(column, node)| (column.value.clone(), fixture_text(node, &self.file)))
            .collect()
    }

    /// The expected value: for `playbooks` a list of names (or one, or
    /// none for null), for a column its text (`Null` for null).
    fn expected_value(&self, target: &Target, node: &Node) -> ExpectedValue {
        match (target, &node.kind) {
            (_, NodeKind::Null) => ExpectedValue::Null,
            (Target::Playbooks, NodeKind::Seq(items)) => ExpectedValue::List(
                items
                    .iter()
                    .filter_map(|item| scalar_text(item, &self.file))
                    .collect(),
            ),
            _ => ExpectedValue::Text(scalar_text(node, &self.file).unwrap_or_default()),
        }
    }

    /// The column (or the fired playbooks) an expectation compares with;
    /// an error when there is none.
    fn expectation_target(&mut self, model: &Model, name: &Text) -> Option<Target> {
        if name.value == "playbooks" {
            return Some(Target::Playbooks);
        }
        let value = name.value.as_str();
        let column = if let Some(indicator) = value.strip_prefix("score.") {
            model
                .indicators
                .iter()
                .any(|i| i.name == indicator)
                .then(|| names::score(indicator))
        } else if let Some(group) = value.strip_prefix("group.") {
            model
                .health
                .as_ref()
                .filter(|h| h.groups.iter().any(|g| g.name == group))
                .map(|_| names::group(group))
        } else if HEALTH_COLUMNS.contains(&value) {
            model.health.as_ref().map(|_| value.to_string())
        } else {
            (model.metric(value).is_some() || model.entity.attributes.iter().any(|a| a == value))
                .then(|| value.to_string())
        };
        if column.is_none() {
            let candidates: Vec<String> = model
                .metrics
                .iter()
                .map(|m| m.name.clone())
                .chain(model.entity.attributes.iter().cloned())
                .chain(model.indicators.iter().map(|i| format!("score.{}", i.name)))
                .chain(
                    model
                        .health
                        .iter()
                        .flat_map(|h| &h.groups)
                        .map(|g| format!("group.{}", g.name)),
                )
                .chain(
                    model
                        .health
                        .iter()
                        .flat_map(|_| HEALTH_COLUMNS.iter().map(|c| c.to_string())),
                )
                .chain(std::iter::once("playbooks".to_string()))
                .collect();
            let help = match closest(value, candidates.iter().map(String::as_str)) {
                Some(best) => format!("did you mean `{best}`?"),
                None => "expect a metric, an attribute, `score.<indicator>`, `group.<group>`, `health`, `band`, `health_model` or `playbooks`".into(),
            };
            self.error(
                Code::UnknownName,
                name.span,
                format!("`{value}` is not something a test can check"),
                "unknown expectation",
                help,
            );
        }
        column.map(Target::Column)
    }
}
