//! `vane diff`: what a pipeline change means — definitions changed (in
//! canonical form), what depends on them, and which customers it moves —
//! as Markdown for a pull-request comment or JSON for tools.

pub mod changes;
pub mod definitions;
pub mod impact;
pub mod rollups;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde_json::{Value, json};

use crate::base::display::plural;
use crate::check::model::{Model, Node};
pub use definitions::{Change, ChangeKind, changes};
pub use impact::{Impact, Mover, Sides, band_label, impact};
pub use rollups::{RollupDelta, rollup_deltas};

/// Everything `vane diff` reports.
#[derive(Debug, Clone)]
pub struct DiffReport {
    /// The pipeline's display name (head's path).
    pub pipeline: String,
    /// The entity's name, for wording ("accounts").
    pub entity: String,
    /// Definition changes.
    pub changes: Vec<Change>,
    /// Data impact, when computed.
    pub impact: Option<Impact>,
    /// Why the data impact was not computed, when it was not.
    pub skipped: Option<String>,
    /// The as-of date of the data impact.
    pub as_of: Option<chrono::NaiveDate>,
    /// Band order for the transition matrix.
    pub band_order: Vec<String>,
    /// Base's and head's rollups, row by row (with the data impact).
    pub rollups: Vec<RollupDelta>,
}

impl DiffReport {
    /// Whether anything changed (definitions or data).
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
            || self.impact.as_ref().is_some_and(|i| !i.is_empty())
            || self.rollups.iter().any(RollupDelta::changed)
    }
}

/// Renamed definitions: head name → base name.
pub fn renames(changes: &[Change]) -> BTreeMap<String, String> {
    changes
        .iter()
        .filter_map(|c| match &c.kind {
            ChangeKind::Renamed { from } => Some((c.node.name(), from.clone())),
            _ => None,
        })
        .collect()
}

/// Band names from both models, head's order first.
pub fn band_order(base: &Model, head: &Model) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for model in [head, base] {
        for band in model.health.iter().flat_map(|h| &h.bands) {
            if !order.contains(&band.name) {
                order.push(band.name.clone());
            }
        }
    }
    order
}

fn code(text: &str) -> String {
    if text.is_empty() {
        "—".into()
    } else {
        format!("`{}`", text.replace('`', "'").replace('|', "\\|"))
    }
}

fn node_label(node: &Node) -> String {
    match node {
        Node::Health => "health".into(),
        other => format!("{} `{}`", other.kind(), other.name()),
    }
}

fn signed(v: f64) -> String {
    if v >= 0.0 {
        format!("+{v:.1}")
    } else {
        format!("−{:.1}", -v)
    }
}

fn health(v: Option<f64>) -> String {
    v.map_or("—".into(), |h| format!("{h:.1}"))
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

const BUCKETS: &[(f64, f64, &str)] = &[
    (f64::NEG_INFINITY, -20.0, "below −20"),
    (-20.0, -10.0, "−20 to −10"),
    (-10.0, -5.0, "−10 to −5"),
    (-5.0, -1.0, "−5 to −1"),
    (-1.0, 0.0, "−1 to 0"),
    (0.0, 1.0, "0 to +1"),
    (1.0, 5.0, "+1 to +5"),
    (5.0, 10.0, "+5 to +10"),
    (10.0, 20.0, "+10 to +20"),
    (20.0, f64::INFINITY, "above +20"),
];

fn change_text(change: &Change) -> String {
    match &change.kind {
        ChangeKind::Added => "added".into(),
        ChangeKind::Removed => "removed".into(),
        ChangeKind::Renamed { from } => format!("renamed from `{from}`"),
        ChangeKind::Changed => change
            .fields
            .iter()
            .map(|(field, old, new)| {
                format!(
                    "{field}: {} → {}",
                    code(old.as_deref().unwrap_or("")),
                    code(new.as_deref().unwrap_or(""))
                )
            })
            .collect::<Vec<_>>()
            .join("<br>"),
    }
}

/// The report as Markdown for a pull-request comment.
pub fn markdown(report: &DiffReport) -> String {
    let mut out = String::new();
    let entities = format!("{}s", report.entity);
    let _ = writeln!(out, "## Vane diff: `{}`\n", report.pipeline);
    if !report.has_changes() {
        let _ = writeln!(
            out,
            "No changes: the definitions are the same in canonical form{}.",
            if report.impact.is_some() {
                " and no value moves"
            } else {
                ""
            }
        );
        return out;
    }
    let mut headline = vec![format!(
        "**{}**",
        plural(report.changes.len(), "definition change")
    )];
    if let Some(i) = &report.impact {
        headline.push(format!(
            "**{} of {} {entities} change health**",
            i.health_changed, i.entities.1
        ));
        let band_moves: usize = i
            .bands
            .iter()
            .filter(|((a, b), _)| a != b)
            .map(|(_, n)| n)
            .sum();
        headline.push(plural(band_moves, "band change"));
        headline.push(format!(
            "{} playbook firings added, {} removed",
            i.newly_firing.len(),
            i.no_longer_firing.len()
        ));
    }
    let _ = writeln!(out, "{}\n", headline.join(" · "));

    if !report.changes.is_empty() {
        let _ = writeln!(
            out,
            "### Definitions\n\n| | definition | change | downstream |\n|---|---|---|---|"
        );
        for c in &report.changes {
            let mark = match c.kind {
                ChangeKind::Added => "➕",
                ChangeKind::Removed => "➖",
                ChangeKind::Changed => "✏️",
                ChangeKind::Renamed { .. } => "🔀",
            };
            let downstream = if c.downstream.is_empty() {
                "—".into()
            } else {
                c.downstream
                    .iter()
                    .map(node_label)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                out,
                "| {mark} | {} | {} | {downstream} |",
                node_label(&c.node),
                change_text(c)
            );
        }
        out.push('\n');
    }

    match (&report.impact, &report.skipped) {
        (Some(i), _) => {
            impact_markdown(&mut out, report, i, &entities);
            rollups::markdown(&mut out, "#### Rollups (base → head)", &report.rollups, 40);
        }
        (None, Some(reason)) => {
            let _ = writeln!(out, "_Data impact not computed: {reason}._");
        }
        _ => {}
    }
    out
}

fn impact_markdown(out: &mut String, report: &DiffReport, i: &Impact, entities: &str) {
    let as_of = report
        .as_of
        .map(|d| format!(" (as of {d})"))
        .unwrap_or_default();
    let _ = writeln!(out, "### Data impact{as_of}\n");
    if !i.left_population.is_empty() || !i.joined_population.is_empty() {
        let _ = writeln!(
            out,
            "Population: {} leave, {} join ({} → {} {entities}).\n",
            i.left_population.len(),
            i.joined_population.len(),
            i.entities.0,
            i.entities.1
        );
    }
    if i.health_changed == 0 {
        let _ = writeln!(out, "No {} changes health.\n", report.entity);
    } else {
        let mean = i.deltas.iter().sum::<f64>() / i.deltas.len() as f64;
        let min = i.deltas.iter().copied().fold(f64::INFINITY, f64::min);
        let max = i.deltas.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let _ = writeln!(
            out,
            "Health changes for **{}** of {} {entities}: mean {}, median {}, from {} to {}.\n",
            i.health_changed,
            i.entities.1,
            signed(mean),
            signed(median(&i.deltas)),
            signed(min),
            signed(max)
        );
        let _ = writeln!(out, "| Δ health | {entities} |\n|---|---:|");
        for (lo, hi, label) in BUCKETS {
            let n = i.deltas.iter().filter(|d| **d >= *lo && **d < *hi).count();
            if n > 0 {
                let _ = writeln!(out, "| {label} | {n} |");
            }
        }
        let _ = writeln!(
            out,
            "\n#### Top movers\n\n| {} | health | band | moved by |\n|---|---|---|---|",
            report.entity
        );
        for m in &i.movers {
            let causes = if m.causes.is_empty() {
                "weights or model".to_string()
            } else {
                m.causes
                    .iter()
                    .map(|(name, b, a)| format!("{name} {} → {}", health(*b), health(*a)))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let band = if m.band_before == m.band_after {
                band_label(&m.band_after)
            } else {
                format!(
                    "{} → **{}**",
                    band_label(&m.band_before),
                    band_label(&m.band_after)
                )
            };
            let _ = writeln!(
                out,
                "| `{}` | {} → {} ({}) | {band} | {causes} |",
                m.key,
                health(m.before),
                health(m.after),
                signed(m.delta())
            );
        }
        out.push('\n');
    }
    let mut bands: Vec<String> = report.band_order.clone();
    for (a, b) in i.bands.keys() {
        for band in [a, b] {
            if !bands.contains(band) {
                bands.push(band.clone());
            }
        }
    }
    if i.bands.iter().any(|((a, b), _)| a != b) {
        let _ = writeln!(out, "#### Band transitions\n");
        band_matrix(out, &i.bands, &bands, &bands, "base ↓ · head →");
        out.push('\n');
    }
    if !i.newly_firing.is_empty() || !i.no_longer_firing.is_empty() {
        let _ = writeln!(out, "#### Playbooks\n");
        playbook_table(
            out,
            &i.newly_firing,
            &i.no_longer_firing,
            "no longer firing",
        );
        out.push('\n');
    }
    if !i.metrics.is_empty() {
        let _ = writeln!(out, "#### Metric values\n");
        metric_table(out, &i.metrics, entities);
        out.push('\n');
    }
}

/// A band transition matrix: one row per band before (`rows`), one column
/// per band after (`columns`); moves in bold.
fn band_matrix(
    out: &mut String,
    bands: &BTreeMap<(String, String), usize>,
    rows: &[String],
    columns: &[String],
    corner: &str,
) {
    let _ = writeln!(
        out,
        "| {corner} | {} |\n|---|{}",
        columns.join(" | "),
        "---:|".repeat(columns.len())
    );
    for from in rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|to| {
                let n = bands.get(&(from.clone(), to.clone())).copied().unwrap_or(0);
                if from != to && n > 0 {
                    format!("**{n}**")
                } else {
                    n.to_string()
                }
            })
            .collect();
        let _ = writeln!(out, "| {from} | {} |", cells.join(" | "));
    }
}

/// Playbooks newly firing and no longer firing (`stopped` names the
/// second column), with up to 8 entity keys each.
fn playbook_table(
    out: &mut String,
    newly: &[(String, String)],
    no_longer: &[(String, String)],
    stopped: &str,
) {
    let _ = writeln!(
        out,
        "| playbook | newly firing | {stopped} |\n|---|---|---|"
    );
    let playbooks: BTreeSet<&String> = newly.iter().chain(no_longer).map(|(p, _)| p).collect();
    for p in playbooks {
        let list = |pairs: &[(String, String)]| {
            let keys: Vec<&str> = pairs
                .iter()
                .filter(|(q, _)| q == p)
                .map(|(_, e)| e.as_str())
                .collect();
            match keys.len() {
                0 => "—".to_string(),
                n if n <= 8 => format!(
                    "{n}: {}",
                    keys.iter().map(|k| code(k)).collect::<Vec<_>>().join(", ")
                ),
                n => format!(
                    "{n}: {}, …",
                    keys[..8]
                        .iter()
                        .map(|k| code(k))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        };
        let _ = writeln!(out, "| `{p}` | {} | {} |", list(newly), list(no_longer));
    }
}

/// Metrics whose values changed: how many entities, and the largest change.
fn metric_table(out: &mut String, metrics: &[impact::MetricChange], entities: &str) {
    let _ = writeln!(
        out,
        "| metric | {entities} changed | largest change |\n|---|---:|---:|"
    );
    for m in metrics {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            m.metric,
            m.changed,
            m.max_abs_delta.map_or("—".into(), |d| format!("{d:.4}"))
        );
    }
}

fn node_json(node: &Node) -> Value {
    json!({ "kind": node.kind(), "name": node.name() })
}

/// The report as JSON.
pub fn to_json(report: &DiffReport) -> Value {
    let changes: Vec<Value> = report
        .changes
        .iter()
        .map(|c| {
            let kind = match &c.kind {
                ChangeKind::Added => json!("added"),
                ChangeKind::Removed => json!("removed"),
                ChangeKind::Changed => json!("changed"),
                ChangeKind::Renamed { from } => json!({ "renamed_from": from }),
            };
            json!({
                "definition": node_json(&c.node),
                "change": kind,
                "fields": c.fields.iter().map(|(f, o, n)| json!({ "field": f, "old": o, "new": n })).collect::<Vec<_>>(),
                "downstream": c.downstream.iter().map(node_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    let impact = report.impact.as_ref().map(|i| {
        let bands: Vec<Value> = i.bands.iter().map(|((a, b), n)| json!({ "from": a, "to": b, "entities": n })).collect();
        let mut metrics = BTreeMap::new();
        for m in &i.metrics {
            metrics.insert(m.metric.clone(), json!({ "changed": m.changed, "max_abs_delta": m.max_abs_delta }));
        }
        json!({
            "entities": { "base": i.entities.0, "head": i.entities.1 },
            "left_population": i.left_population,
            "joined_population": i.joined_population,
            "health_changed": i.health_changed,
            "health_deltas": i.deltas,
            "top_movers": i.movers.iter().map(|m| json!({
                "key": m.key, "before": m.before, "after": m.after,
                "band_before": m.band_before, "band_after": m.band_after,
                "causes": m.causes.iter().map(|(n, b, a)| json!({ "indicator": n, "before": b, "after": a })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "band_transitions": bands,
            "newly_firing": i.newly_firing.iter().map(|(p, e)| json!({ "playbook": p, "entity": e })).collect::<Vec<_>>(),
            "no_longer_firing": i.no_longer_firing.iter().map(|(p, e)| json!({ "playbook": p, "entity": e })).collect::<Vec<_>>(),
            "metrics": metrics,
        })
    });
    json!({
        "pipeline": report.pipeline,
        "has_changes": report.has_changes(),
        "definitions": changes,
        "as_of": report.as_of.map(|d| d.to_string()),
        "data_impact": impact,
        "data_impact_skipped": report.skipped,
        "rollups": rollups::to_json(&report.rollups),
    })
}
