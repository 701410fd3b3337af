//! Rollup deltas: two nights' (or base's and head's) rollups side by
//! side, row by row — a rollup and its group — for `diff` and `changes`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use datafusion::arrow::array::RecordBatch;
use serde_json::{Value, json};

use crate::base::display::{format_number, with_unit};
use crate::base::names;
use crate::check::model::Model;
use crate::run::TextColumn;

/// One rollup row in both results.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RollupDelta {
    /// The rollup.
    pub rollup: String,
    /// Its group as `column = value` pairs (empty for the whole book).
    pub group: Vec<(String, String)>,
    /// The value before (base, or the earlier night); `None` when absent or null.
    pub before: Option<f64>,
    /// The value after.
    pub after: Option<f64>,
    /// The rollup's unit, for display.
    pub unit: Option<String>,
}

impl RollupDelta {
    /// Whether the value differs (beyond float noise) or appeared or went.
    pub fn changed(&self) -> bool {
        match (self.before, self.after) {
            (Some(a), Some(b)) => (a - b).abs() > 1e-9 * a.abs().max(b.abs()).max(1.0),
            (a, b) => a.is_some() != b.is_some(),
        }
    }

    /// The group as text: "segment = smb, band = red", or "book".
    pub fn group_label(&self) -> String {
        if self.group.is_empty() {
            "book".to_string()
        } else {
            self.group
                .iter()
                .map(|(c, v)| format!("{c} = {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

/// A rollup row's identity: the rollup and its group.
type RowKey = (String, Vec<(String, String)>);

/// `(rollup, group) → value` of one rollups table. A rollup's group is
/// its `by:` columns in `model` (a null value shown as `(none)`); for a
/// rollup `model` lacks, the non-null group columns.
fn rows(model: &Model, batches: &[RecordBatch]) -> BTreeMap<RowKey, Option<f64>> {
    let mut out = BTreeMap::new();
    for batch in batches {
        let schema = batch.schema();
        let groups: Vec<&str> = schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .filter(|n| !matches!(*n, names::AS_OF_DATE | "rollup" | "value"))
            .collect();
        let (Some(names_column), Some(values)) = (
            TextColumn::of(batch, "rollup"),
            TextColumn::of(batch, "value"),
        ) else {
            continue;
        };
        let group_columns: Vec<(&str, TextColumn<'_>)> = groups
            .iter()
            .filter_map(|g| Some((*g, TextColumn::of(batch, g)?)))
            .collect();
        for row in 0..batch.num_rows() {
            let name = names_column.get(row).unwrap_or_default();
            let by = model.rollup(&name).map(|r| &r.by);
            let group = group_columns
                .iter()
                .filter_map(|(g, column)| {
                    let value = column.get(row);
                    match by {
                        Some(by) if by.iter().any(|b| b == g) => {
                            Some((g.to_string(), value.unwrap_or_else(|| "(none)".into())))
                        }
                        Some(_) => None,
                        None => Some((g.to_string(), value?)),
                    }
                })
                .collect();
            let value = values.get(row).and_then(|v| v.parse().ok());
            out.insert((name, group), value);
        }
    }
    out
}

/// Every rollup row of `before` and `after`, in `model`'s rollup order
/// (rollups it lacks after), groups sorted; units from `model`.
pub fn rollup_deltas(
    model: &Model,
    before: &[RecordBatch],
    after: &[RecordBatch],
) -> Vec<RollupDelta> {
    let (before, after) = (rows(model, before), rows(model, after));
    let mut keys: Vec<&RowKey> = before.keys().chain(after.keys()).collect();
    keys.sort_by_key(|(rollup, group)| {
        let position = model
            .rollups
            .iter()
            .position(|r| &r.name == rollup)
            .unwrap_or(usize::MAX);
        (position, rollup.clone(), group.clone())
    });
    keys.dedup();
    keys.into_iter()
        .map(|key| RollupDelta {
            rollup: key.0.clone(),
            group: key.1.clone(),
            before: before.get(key).copied().flatten(),
            after: after.get(key).copied().flatten(),
            unit: model.rollup(&key.0).and_then(|r| r.unit.clone()),
        })
        .collect()
}

fn shown(value: Option<f64>, unit: Option<&str>) -> String {
    value.map_or_else(|| "—".to_string(), |v| with_unit(v, unit))
}

/// A Markdown table of the rollup rows that changed (at most `limit`),
/// under `heading`; nothing when none changed.
pub fn markdown(out: &mut String, heading: &str, deltas: &[RollupDelta], limit: usize) {
    let changed: Vec<&RollupDelta> = deltas.iter().filter(|d| d.changed()).collect();
    if changed.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{heading}\n\n| rollup | group | before | after | change |\n|---|---|---:|---:|---:|"
    );
    for d in changed.iter().take(limit) {
        let unit = d.unit.as_deref();
        let change = match (d.before, d.after) {
            (Some(a), Some(b)) => {
                // A change of a share reads in percentage points.
                let text = match unit {
                    Some("percent") => format_number((b - a) * 100.0, 1)
                        .map_or_else(|| "—".to_string(), |t| format!("{t} pp")),
                    _ => with_unit(b - a, unit),
                };
                if b >= a { format!("+{text}") } else { text }
            }
            _ => "—".to_string(),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {change} |",
            d.rollup,
            d.group_label(),
            shown(d.before, unit),
            shown(d.after, unit),
        );
    }
    if changed.len() > limit {
        let _ = writeln!(out, "\n_…and {} more rows._", changed.len() - limit);
    }
    out.push('\n');
}

/// The deltas as JSON: one object per row, exact values.
pub fn to_json(deltas: &[RollupDelta]) -> Value {
    Value::Array(
        deltas
            .iter()
            .map(|d| {
                json!({
                    "rollup": d.rollup,
                    "group": d.group.iter().map(|(c, v)| (c.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
                    "before": d.before,
                    "after": d.after,
                    "changed": d.changed(),
                })
            })
            .collect(),
    )
}
