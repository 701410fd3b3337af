//! Data impact: base and head computed on the same data and as-of, compared
//! entity by entity — health deltas, top movers with their causes, band
//! transitions, playbooks newly (no longer) firing, and metric changes.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::arrow::array::RecordBatch;

use crate::base::names;
use crate::check::model::Model;
use crate::run::{TextColumn, fired};

/// One entity whose health moved.
#[derive(Debug, Clone, PartialEq)]
pub struct Mover {
    /// The entity key.
    pub key: String,
    /// Health in base.
    pub before: Option<f64>,
    /// Health in head.
    pub after: Option<f64>,
    /// Band in base.
    pub band_before: Option<String>,
    /// Band in head.
    pub band_after: Option<String>,
    /// The indicator scores that moved most: `(indicator, before, after)`.
    pub causes: Vec<(String, Option<f64>, Option<f64>)>,
}

impl Mover {
    /// `after - before`, treating a missing side as 0 for ranking.
    pub fn delta(&self) -> f64 {
        self.after.unwrap_or(0.0) - self.before.unwrap_or(0.0)
    }
}

/// How one metric's values changed.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricChange {
    /// The metric.
    pub metric: String,
    /// Entities whose value changed.
    pub changed: usize,
    /// Largest absolute numeric change.
    pub max_abs_delta: Option<f64>,
}

/// The data impact of a change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Impact {
    /// Entities scored in base and in head.
    pub entities: (usize, usize),
    /// Keys only in base's population.
    pub left_population: Vec<String>,
    /// Keys only in head's population.
    pub joined_population: Vec<String>,
    /// Entities (in both) whose health changed.
    pub health_changed: usize,
    /// Health deltas of those entities.
    pub deltas: Vec<f64>,
    /// The biggest movers, largest first.
    pub movers: Vec<Mover>,
    /// `(band before, band after) → entities`, over entities in both.
    pub bands: BTreeMap<(String, String), usize>,
    /// `(playbook, entity)` firing in head but not base.
    pub newly_firing: Vec<(String, String)>,
    /// `(playbook, entity)` firing in base but not head.
    pub no_longer_firing: Vec<(String, String)>,
    /// Metrics whose values changed, in head's order.
    pub metrics: Vec<MetricChange>,
}

/// A scorecard as `key → column → text` (None for null).
type Table = BTreeMap<String, BTreeMap<String, Option<String>>>;

fn table(batches: &[RecordBatch], key: &str, columns: &[String]) -> Table {
    let mut out = Table::new();
    for batch in batches {
        let Some(keys) = TextColumn::of(batch, key) else {
            continue;
        };
        let values: Vec<(&String, TextColumn<'_>)> = columns
            .iter()
            .filter_map(|c| Some((c, TextColumn::of(batch, c)?)))
            .collect();
        for row in 0..batch.num_rows() {
            let row_values = values
                .iter()
                .map(|(c, column)| ((*c).clone(), column.get(row)))
                .collect();
            out.insert(keys.get(row).unwrap_or_default(), row_values);
        }
    }
    out
}

fn number(v: &Option<String>) -> Option<f64> {
    v.as_ref().and_then(|t| t.parse().ok())
}

fn differs(a: &Option<String>, b: &Option<String>) -> bool {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => (x - y).abs() > 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => a != b,
    }
}

/// The band label used in the transition matrix.
pub fn band_label(band: &Option<String>) -> String {
    band.clone().unwrap_or_else(|| "(none)".into())
}

/// Base and head results to compare: each side's model, working scorecard and actions.
pub struct Sides<'a> {
    /// The base model.
    pub base: &'a Model,
    /// Base's working scorecard.
    pub base_working: &'a [RecordBatch],
    /// Base's actions.
    pub base_actions: &'a [RecordBatch],
    /// The head model.
    pub head: &'a Model,
    /// Head's working scorecard.
    pub head_working: &'a [RecordBatch],
    /// Head's actions.
    pub head_actions: &'a [RecordBatch],
    /// Renamed metrics and playbooks: head name → base name.
    pub renamed: &'a BTreeMap<String, String>,
}

/// Compare base and head results entity by entity.
pub fn impact(sides: &Sides<'_>) -> Impact {
    let (base, head) = (sides.base, sides.head);
    let base_name = |name: &str| {
        sides
            .renamed
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    };
    let mut columns: Vec<String> = vec![names::HEALTH.into(), names::BAND.into()];
    let indicators: BTreeSet<String> = base
        .indicators
        .iter()
        .chain(&head.indicators)
        .map(|i| i.name.clone())
        .collect();
    columns.extend(indicators.iter().map(|i| names::score(i)));
    let metrics: Vec<String> = head
        .metrics
        .iter()
        .map(|m| m.name.clone())
        .filter(|m| base.metric(&base_name(m)).is_some())
        .collect();
    let mut base_columns = columns.clone();
    base_columns.extend(metrics.iter().map(|m| base_name(m)));
    columns.extend(metrics.iter().cloned());
    let mut before = table(sides.base_working, &base.entity.key, &base_columns);
    for row in before.values_mut() {
        for m in &metrics {
            if let Some(v) = row.remove(&base_name(m)) {
                row.insert(m.clone(), v);
            }
        }
    }
    let after = table(sides.head_working, &head.entity.key, &columns);

    let mut impact = Impact {
        entities: (before.len(), after.len()),
        left_population: before
            .keys()
            .filter(|k| !after.contains_key(*k))
            .cloned()
            .collect(),
        joined_population: after
            .keys()
            .filter(|k| !before.contains_key(*k))
            .cloned()
            .collect(),
        ..Impact::default()
    };
    let mut movers = Vec::new();
    let mut metric_changes: BTreeMap<&str, (usize, Option<f64>)> = BTreeMap::new();
    for (key, b) in &before {
        let Some(a) = after.get(key) else { continue };
        let get = |row: &BTreeMap<String, Option<String>>, c: &str| row.get(c).cloned().flatten();
        let (hb, ha) = (get(b, names::HEALTH), get(a, names::HEALTH));
        let (bb, ba) = (get(b, names::BAND), get(a, names::BAND));
        *impact
            .bands
            .entry((band_label(&bb), band_label(&ba)))
            .or_default() += 1;
        if differs(&hb, &ha) {
            impact.health_changed += 1;
            let mut causes: Vec<(String, Option<f64>, Option<f64>)> = indicators
                .iter()
                .map(|i| {
                    (
                        i.clone(),
                        number(&get(b, &names::score(i))),
                        number(&get(a, &names::score(i))),
                    )
                })
                .filter(|(_, x, y)| match (x, y) {
                    (Some(x), Some(y)) => (x - y).abs() > 1e-9,
                    (None, None) => false,
                    _ => true,
                })
                .collect();
            causes.sort_by(|x, y| {
                let size = |c: &(String, Option<f64>, Option<f64>)| {
                    (c.2.unwrap_or(0.0) - c.1.unwrap_or(0.0)).abs()
                };
                size(y).total_cmp(&size(x)).then(x.0.cmp(&y.0))
            });
            causes.truncate(3);
            let mover = Mover {
                key: key.clone(),
                before: number(&hb),
                after: number(&ha),
                band_before: bb,
                band_after: ba,
                causes,
            };
            impact.deltas.push(mover.delta());
            movers.push(mover);
        }
        for m in &metrics {
            let (x, y) = (get(b, m), get(a, m));
            if differs(&x, &y) {
                let entry = metric_changes.entry(m.as_str()).or_insert((0, None));
                entry.0 += 1;
                if let (Some(x), Some(y)) = (number(&x), number(&y)) {
                    let d = (y - x).abs();
                    entry.1 = Some(entry.1.map_or(d, |m: f64| m.max(d)));
                }
            }
        }
    }
    movers.sort_by(|x, y| {
        y.delta()
            .abs()
            .total_cmp(&x.delta().abs())
            .then(x.key.cmp(&y.key))
    });
    movers.truncate(10);
    impact.movers = movers;
    impact.metrics = metrics
        .iter()
        .filter_map(|m| {
            metric_changes.get(m.as_str()).map(|(n, d)| MetricChange {
                metric: m.clone(),
                changed: *n,
                max_abs_delta: *d,
            })
        })
        .collect();
    let head_name: BTreeMap<&String, &String> =
        sides.renamed.iter().map(|(new, old)| (old, new)).collect();
    let was: BTreeSet<(String, String)> = fired(sides.base_actions)
        .into_iter()
        .map(|(p, e)| (head_name.get(&p).map_or(p.clone(), |n| (*n).clone()), e))
        .collect();
    let now = fired(sides.head_actions);
    impact.newly_firing = now.difference(&was).cloned().collect();
    impact.no_longer_firing = was.difference(&now).cloned().collect();
    impact
}

impl Impact {
    /// Whether the change moved anything in the data.
    pub fn is_empty(&self) -> bool {
        self.health_changed == 0
            && self.left_population.is_empty()
            && self.joined_population.is_empty()
            && self.newly_firing.is_empty()
            && self.no_longer_firing.is_empty()
            && self.metrics.is_empty()
    }
}
