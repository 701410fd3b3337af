//! `vane explain`: one entity's score as a tree — health → groups →
//! indicators (score, weight, scheme) → metric values (with the window and
//! filter that produced them) → targets. The answer to "why is this red?".

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use super::{Report, check_path, run_blocking};
use crate::base::names;
use crate::base::units::Seconds;
use crate::check::model::{MetricKind, Model};
use crate::diagnostics::{Code, Diagnostic, suggestion};
use crate::run::{RunOptions, Stopwatch, TextColumn};
use crate::{Data, compute_night};

/// Display a cell: floats to at most 4 decimals, null as `null`.
fn cell(batch: &RecordBatch, column: &str, row: usize) -> String {
    let text = match crate::run::cell(batch, column, row) {
        None => return "n/a".into(),
        Some(None) => return "null".into(),
        Some(Some(text)) => text,
    };
    match text.parse::<f64>() {
        Ok(v) if text.contains('.') || text.contains('e') => {
            let rounded = format!("{v:.4}");
            rounded
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        }
        _ => text,
    }
}

struct Tree<'a> {
    model: &'a Model,
    batch: &'a RecordBatch,
    row: usize,
    as_of: chrono::NaiveDate,
    out: String,
}

impl Tree<'_> {
    fn value(&self, column: &str) -> String {
        cell(self.batch, column, self.row)
    }

    fn line(&mut self, depth: usize, text: String) {
        let _ = writeln!(self.out, "{}{text}", "  ".repeat(depth));
    }

    fn metric(&mut self, depth: usize, name: &str, shift: Seconds, seen: &mut Vec<String>) {
        let column = names::metric(name, shift);
        let label = if shift == Seconds::ZERO {
            name.to_string()
        } else {
            format!("{name} ({} days back)", shift.whole_days())
        };
        let value = self.value(&column);
        let Some(metric) = self.model.metric(name) else {
            return;
        };
        match &metric.kind {
            MetricKind::Aggregate { source, window, .. } => {
                let earlier = |date: NaiveDate, length: Seconds| {
                    length.as_chrono().and_then(|d| date.checked_sub_signed(d))
                };
                let range = match earlier(self.as_of, shift) {
                    Some(end) => match window.and_then(|w| earlier(end, w)) {
                        Some(start) => format!("[{start}, {end})"),
                        None => format!("before {end}"),
                    },
                    None => "before the earliest date".to_string(),
                };
                let filter = metric
                    .filter_text
                    .as_ref()
                    .map(|f| format!(" where {f}"))
                    .unwrap_or_default();
                let rows = if shift == Seconds::ZERO && metric.has_rows_counted() {
                    match self.value(&names::rows_counted(name)).parse::<usize>() {
                        Ok(n) => format!(" ({})", crate::base::display::plural(n, "row")),
                        Err(_) => String::new(),
                    }
                } else {
                    String::new()
                };
                self.line(
                    depth,
                    format!(
                        "{label} = {value}   {} from {source} {range}{filter}{rows}",
                        metric.value_text
                    ),
                );
            }
            MetricKind::Derived { value: expr } => {
                self.line(
                    depth,
                    format!("{label} = {value}   = {}", metric.value_text),
                );
                if seen.contains(&column) {
                    return;
                }
                seen.push(column);
                let mut inputs: Vec<(String, Seconds)> = expr
                    .metric_refs()
                    .into_iter()
                    .filter_map(|(n, s)| Some((n, s.checked_add(shift)?)))
                    .collect();
                inputs.sort();
                inputs.dedup();
                for (dep, dep_shift) in inputs {
                    self.metric(depth + 1, &dep, dep_shift, seen);
                }
                let mut attributes = expr.attribute_refs();
                attributes.sort();
                attributes.dedup();
                for a in attributes {
                    let v = self.value(&a);
                    self.line(depth + 1, format!("{}.{a} = {v}", self.model.entity.name));
                }
            }
        }
    }

    fn indicator(&mut self, depth: usize, name: &str, weight: f64) {
        let Some(indicator) = self.model.indicators.iter().find(|i| i.name == name) else {
            return;
        };
        let score = self.value(&names::score(name));
        self.line(
            depth,
            format!(
                "{name} ({}) score {score} × weight {weight}   score: {}",
                indicator.kind.name(),
                indicator.score_text
            ),
        );
        let mut seen = Vec::new();
        self.metric(
            depth + 1,
            &indicator.metric.clone(),
            Seconds::ZERO,
            &mut seen,
        );
        let mut kpis = indicator.score.kpi_refs();
        kpis.sort();
        kpis.dedup();
        for kpi in kpis {
            let target = self.value(&names::target(&kpi));
            let direction = self.value(&names::direction(&kpi));
            let line = if target == "null" {
                format!("no target for {kpi} in effect as of this night")
            } else {
                format!("target for {kpi} = {target} ({direction} is better)")
            };
            self.line(depth + 1, line);
        }
    }
}

fn weight_in(
    model: &Model,
    batch: &RecordBatch,
    row: usize,
    group: &str,
    indicator: Option<&str>,
) -> f64 {
    let chosen = cell(batch, names::HEALTH_MODEL, row);
    let health = model.health.as_ref();
    let model_def = health.and_then(|h| h.models.iter().find(|m| m.name == chosen));
    match indicator {
        Some(i) => model_def
            .and_then(|m| m.indicator_weights.get(i).copied())
            .or_else(|| {
                model
                    .indicators
                    .iter()
                    .find(|x| x.name == i)
                    .map(|x| x.weight)
            })
            .unwrap_or(1.0),
        None => model_def
            .and_then(|m| m.group_weights.get(group).copied())
            .or_else(|| {
                health
                    .and_then(|h| h.groups.iter().find(|g| g.name == group))
                    .map(|g| g.weight)
            })
            .unwrap_or(0.0),
    }
}

/// Render the explanation of one row of the working scorecard.
pub fn explain_row(
    model: &Model,
    batch: &RecordBatch,
    row: usize,
    as_of: chrono::NaiveDate,
    fired: &[(String, String)],
) -> String {
    let mut tree = Tree {
        model,
        batch,
        row,
        as_of,
        out: String::new(),
    };
    let key = cell(batch, &model.entity.key, row);
    let mut header = format!("{} {key}", model.entity.name);
    for attribute in model.entity.attributes.iter().take(4) {
        let _ = write!(header, " · {attribute} {}", cell(batch, attribute, row));
    }
    tree.line(0, header);
    tree.line(0, format!("as of {as_of} (data before {as_of}T00:00:00Z)"));
    if let Some(health) = &model.health {
        let previous = cell(batch, names::PREVIOUS_HEALTH, row);
        let trend = cell(batch, names::TREND, row);
        tree.line(
            0,
            format!(
                "health {} — band {} — model {} — previous {previous}, trend {trend}",
                cell(batch, names::HEALTH, row),
                cell(batch, names::BAND, row),
                cell(batch, names::HEALTH_MODEL, row)
            ),
        );
        for group in &health.groups {
            let weight = weight_in(model, batch, row, &group.name, None);
            let score = cell(batch, &names::group(&group.name), row);
            let note = if score == "null" {
                "   (no data: drops out, other weights renormalized)"
            } else {
                ""
            };
            tree.line(
                1,
                format!("group {} score {score} × weight {weight}{note}", group.name),
            );
            for indicator in &group.indicators {
                let w = weight_in(model, batch, row, &group.name, Some(indicator));
                tree.indicator(2, indicator, w);
            }
        }
    } else {
        for i in &model.indicators {
            tree.indicator(1, &i.name.clone(), i.weight);
        }
    }
    let used: Vec<String> = model.indicators.iter().map(|i| i.metric.clone()).collect();
    let others: Vec<&str> = model
        .metrics
        .iter()
        .map(|m| m.name.as_str())
        .filter(|m| !used.iter().any(|u| u == m))
        .collect();
    if !others.is_empty() {
        tree.line(0, "other metrics".to_string());
        for m in others {
            let mut seen = Vec::new();
            tree.metric(1, m, Seconds::ZERO, &mut seen);
        }
    }
    if fired.is_empty() {
        tree.line(0, "playbooks: none fired".to_string());
    } else {
        tree.line(0, "playbooks fired".to_string());
        for (playbook, message) in fired {
            tree.line(1, format!("{playbook}: {message}"));
        }
    }
    tree.out
}

fn find_row(batches: &[RecordBatch], key: &str, id: &str) -> Option<(usize, usize)> {
    batches.iter().enumerate().find_map(|(b, batch)| {
        let keys = TextColumn::of(batch, key)?;
        let row = keys.all().position(|k| k.as_deref() == Some(id))?;
        Some((b, row))
    })
}

/// `vane explain PIPELINE --entity ID`.
pub fn explain(pipeline: &Path, entity: &str, options: &RunOptions) -> Report {
    let (checked, diagnostics) = check_path(pipeline, Data::Opened);
    let Some(checked) = checked else {
        return Report::failed(diagnostics);
    };
    let model = &checked.model;
    let night = match run_blocking(compute_night(
        &checked,
        options,
        &mut Stopwatch::start(),
        &|_| {},
    )) {
        Ok(night) => night,
        Err(errors) => return Report::failed(errors),
    };
    let computed = &night.computed;
    let Some((b, row)) = find_row(&computed.working, &model.entity.key, entity) else {
        let key = model.entity.key.as_str();
        let keys: Vec<String> = computed
            .working
            .iter()
            .filter_map(|batch| TextColumn::of(batch, key).map(|c| c.all().collect::<Vec<_>>()))
            .flatten()
            .map(|k| k.unwrap_or_else(|| "null".into()))
            .collect();
        let d = Diagnostic::error(
            Code::InvalidArgument,
            format!("no {} `{entity}` in the population", model.entity.name),
        )
        .help(suggestion(
            entity,
            model.entity.name.as_str(),
            keys.iter().map(String::as_str),
        ));
        return Report::error(d);
    };
    let mut by_playbook: BTreeMap<String, String> = BTreeMap::new();
    for batch in &computed.actions {
        for r in 0..batch.num_rows() {
            if cell(batch, names::ACTION_ENTITY, r) == entity {
                by_playbook.insert(
                    cell(batch, names::ACTION_PLAYBOOK, r),
                    cell(batch, names::ACTION_MESSAGE, r),
                );
            }
        }
    }
    let fired: Vec<(String, String)> = by_playbook.into_iter().collect();
    Report::ok(explain_row(
        model,
        &computed.working[b],
        row,
        night.settings.as_of,
        &fired,
    ))
}
