//! Data impact: base and head computed on the same data and as-of, compared
//! entity by entity — health deltas, top movers with their causes, band
//! transitions, playbooks newly (no longer) firing, and metric changes.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::arrow::array::{Array, Float64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use serde::Serialize;

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
    /// The values of the metrics those indicators score, where they moved:
    /// `(metric, before, after)`, in the order of `causes`.
    pub metrics: Vec<(String, Option<Value>, Option<Value>)>,
}

impl Mover {
    /// `after - before`, treating a missing side as 0 for ranking.
    pub fn delta(&self) -> f64 {
        self.after.unwrap_or(0.0) - self.before.unwrap_or(0.0)
    }
}

/// How one metric's values changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    /// The movers, largest first (then by key): every one from
    /// [`compare`], the biggest [`TOP_MOVERS`] from [`impact`].
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

/// How many movers [`impact`] keeps.
pub const TOP_MOVERS: usize = 10;

/// One cell of a [`Table`]: a number (any numeric column, read as a
/// float), or text as Arrow displays it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// A number.
    Number(f64),
    /// Anything else (text, dates, times, booleans).
    Text(String),
}

impl Value {
    /// The number, when it is one.
    pub fn number(&self) -> Option<f64> {
        match self {
            Value::Number(v) => Some(*v),
            Value::Text(_) => None,
        }
    }

    /// The value as text.
    pub fn to_text(&self) -> String {
        match self {
            Value::Number(n) => n.to_string(),
            Value::Text(t) => t.clone(),
        }
    }
}

/// Some columns of a scorecard by entity key: each row's cells in the
/// order of its columns (`None` for null, or a column the batch lacks);
/// [`Table::column`] finds a column's position.
#[derive(Debug, Clone, Default)]
pub struct Table {
    columns: Vec<String>,
    rows: BTreeMap<String, Vec<Option<Value>>>,
}

/// One entity's row of a [`Table`].
pub type Row = [Option<Value>];

impl Table {
    /// The position of `column` in each row.
    pub fn column(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == column)
    }

    /// How many entities.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no entities.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Whether the entity `key` has a row.
    pub fn contains_key(&self, key: &str) -> bool {
        self.rows.contains_key(key)
    }

    /// The row of the entity `key`.
    pub fn get(&self, key: &str) -> Option<&Row> {
        self.rows.get(key).map(Vec::as_slice)
    }

    /// The entity keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.rows.keys()
    }

    /// Every `(key, row)`, by key.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Row)> {
        self.rows.iter().map(|(k, r)| (k, r.as_slice()))
    }

    /// The cell of `row` in `column` (from [`Table::column`]).
    pub fn cell(row: &Row, column: Option<usize>) -> Option<&Value> {
        row.get(column?)?.as_ref()
    }

    /// The table with columns renamed where `rename` gives a new name.
    pub fn renamed(mut self, rename: impl Fn(&str) -> Option<String>) -> Table {
        for column in &mut self.columns {
            if let Some(name) = rename(column) {
                *column = name;
            }
        }
        self
    }
}

/// A column of one batch, read as numbers or as text.
enum Cells<'a> {
    Numbers(Float64Array),
    Text(TextColumn<'a>),
}

impl<'a> Cells<'a> {
    fn of(batch: &'a RecordBatch, name: &str) -> Option<Cells<'a>> {
        let array = batch.column_by_name(name)?;
        if array.data_type().is_numeric() {
            let floats = cast(array, &DataType::Float64).ok()?;
            let floats = floats.as_any().downcast_ref::<Float64Array>()?.clone();
            return Some(Cells::Numbers(floats));
        }
        TextColumn::of(batch, name).map(Cells::Text)
    }

    fn get(&self, row: usize) -> Option<Value> {
        match self {
            Cells::Numbers(floats) => {
                (!floats.is_null(row)).then(|| Value::Number(floats.value(row)))
            }
            Cells::Text(text) => text.get(row).map(Value::Text),
        }
    }
}

/// The `columns` of scorecard batches by entity `key`.
pub fn table(batches: &[RecordBatch], key: &str, columns: &[String]) -> Table {
    let mut out = Table {
        columns: columns.to_vec(),
        rows: BTreeMap::new(),
    };
    for batch in batches {
        let Some(keys) = TextColumn::of(batch, key) else {
            continue;
        };
        let cells: Vec<Option<Cells<'_>>> = columns.iter().map(|c| Cells::of(batch, c)).collect();
        for row in 0..batch.num_rows() {
            let values = cells
                .iter()
                .map(|c| c.as_ref().and_then(|c| c.get(row)))
                .collect();
            out.rows.insert(keys.get(row).unwrap_or_default(), values);
        }
    }
    out
}

/// A cell as a number, when it is one.
pub fn number(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::number)
}

/// Whether two cells differ: numbers beyond a relative 1e-9, anything
/// else when not equal.
fn differs(a: Option<&Value>, b: Option<&Value>) -> bool {
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

/// What [`compare`] looks at in two scorecards.
pub struct Compared<'a> {
    /// The indicators whose scores explain a move, each with the metric it
    /// scores (when that metric's column is in the tables).
    pub indicators: &'a [(String, Option<String>)],
    /// The metrics whose values are compared, in report order.
    pub metrics: &'a [String],
}

/// Each of `indicators` with the metric it scores in `model`, when that
/// metric is among the `metrics` compared.
pub fn with_metrics(
    model: &Model,
    indicators: impl IntoIterator<Item = String>,
    metrics: &[String],
) -> Vec<(String, Option<String>)> {
    indicators
        .into_iter()
        .map(|i| {
            let metric = model
                .indicators
                .iter()
                .find(|x| x.name == i)
                .map(|x| x.metric.clone())
                .filter(|m| metrics.contains(m));
            (i, metric)
        })
        .collect()
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
    let head_name: BTreeMap<String, &String> = metrics.iter().map(|m| (base_name(m), m)).collect();
    let before = table(sides.base_working, &base.entity.key, &base_columns)
        .renamed(|c| head_name.get(c).map(|m| (*m).clone()));
    let after = table(sides.head_working, &head.entity.key, &columns);
    let indicators = with_metrics(head, indicators, &metrics);
    let mut impact = compare(
        &before,
        &after,
        &Compared {
            indicators: &indicators,
            metrics: &metrics,
        },
    );
    impact.movers.truncate(TOP_MOVERS);
    (impact.newly_firing, impact.no_longer_firing) =
        firings(sides.base_actions, sides.head_actions, sides.renamed);
    impact
}

/// A column's position in the table before and in the table after.
type Positions = (Option<usize>, Option<usize>);

/// An indicator whose score moved for one entity, with the metric it scores.
struct ScoreMove<'a> {
    indicator: &'a String,
    metric: Option<&'a String>,
    before: Option<f64>,
    after: Option<f64>,
}

impl ScoreMove<'_> {
    fn size(&self) -> f64 {
        (self.after.unwrap_or(0.0) - self.before.unwrap_or(0.0)).abs()
    }
}

/// Compare two scorecards entity by entity: population changes, the band
/// matrix, every entity whose health moved (sorted by the size of the move,
/// then key) with the indicators and metrics that moved it, and metric
/// changes. Firings are left empty ([`firings`]).
pub fn compare(before: &Table, after: &Table, compared: &Compared<'_>) -> Impact {
    let mut impact = Impact {
        entities: (before.len(), after.len()),
        left_population: before
            .keys()
            .filter(|k| !after.contains_key(k))
            .cloned()
            .collect(),
        joined_population: after
            .keys()
            .filter(|k| !before.contains_key(k))
            .cloned()
            .collect(),
        ..Impact::default()
    };
    // Each column's position in either table, found once.
    let at = |column: &str| (before.column(column), after.column(column));
    let (health, band) = (at(names::HEALTH), at(names::BAND));
    let indicators: Vec<(&String, Option<&String>, Positions)> = compared
        .indicators
        .iter()
        .map(|(i, metric)| (i, metric.as_ref(), at(&names::score(i))))
        .collect();
    let metric_columns: Vec<(&String, Positions)> =
        compared.metrics.iter().map(|m| (m, at(m))).collect();
    let mut movers = Vec::new();
    let mut metric_changes: BTreeMap<&str, (usize, Option<f64>)> = BTreeMap::new();
    for (key, b) in before.iter() {
        let Some(a) = after.get(key) else { continue };
        let pair = |(x, y): Positions| (Table::cell(b, x), Table::cell(a, y));
        let (hb, ha) = pair(health);
        let (bb, ba) = pair(band);
        let (bb, ba) = (bb.map(Value::to_text), ba.map(Value::to_text));
        *impact
            .bands
            .entry((band_label(&bb), band_label(&ba)))
            .or_default() += 1;
        if differs(hb, ha) {
            impact.health_changed += 1;
            let mut causes: Vec<ScoreMove<'_>> = indicators
                .iter()
                .map(|(indicator, metric, columns)| {
                    let (x, y) = pair(*columns);
                    ScoreMove {
                        indicator,
                        metric: *metric,
                        before: number(x),
                        after: number(y),
                    }
                })
                .filter(|c| match (c.before, c.after) {
                    (Some(x), Some(y)) => (x - y).abs() > 1e-9,
                    (None, None) => false,
                    _ => true,
                })
                .collect();
            causes.sort_by(|x, y| {
                y.size()
                    .total_cmp(&x.size())
                    .then(x.indicator.cmp(y.indicator))
            });
            causes.truncate(3);
            let metrics = causes
                .iter()
                .filter_map(|c| {
                    let metric = c.metric?;
                    let (_, columns) = metric_columns.iter().find(|(m, _)| *m == metric)?;
                    let (x, y) = pair(*columns);
                    differs(x, y).then(|| (metric.clone(), x.cloned(), y.cloned()))
                })
                .collect();
            let mover = Mover {
                key: key.clone(),
                before: number(hb),
                after: number(ha),
                band_before: bb,
                band_after: ba,
                causes: causes
                    .into_iter()
                    .map(|c| (c.indicator.clone(), c.before, c.after))
                    .collect(),
                metrics,
            };
            impact.deltas.push(mover.delta());
            movers.push(mover);
        }
        for (m, columns) in &metric_columns {
            let (x, y) = pair(*columns);
            if differs(x, y) {
                let entry = metric_changes.entry(m.as_str()).or_insert((0, None));
                entry.0 += 1;
                if let (Some(x), Some(y)) = (number(x), number(y)) {
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
    impact.movers = movers;
    impact.metrics = compared
        .metrics
        .iter()
        .filter_map(|m| {
            metric_changes.get(m.as_str()).map(|(n, d)| MetricChange {
                metric: m.clone(),
                changed: *n,
                max_abs_delta: *d,
            })
        })
        .collect();
    impact
}

/// A playbook that fired for an entity: `(playbook, entity)`.
pub type Firing = (String, String);

/// `(playbook, entity)` firing after but not before, and before but not
/// after, sorted; `renamed` maps head names of playbooks to base names.
pub fn firings(
    before: &[RecordBatch],
    after: &[RecordBatch],
    renamed: &BTreeMap<String, String>,
) -> (Vec<Firing>, Vec<Firing>) {
    let head_name: BTreeMap<&String, &String> =
        renamed.iter().map(|(new, old)| (old, new)).collect();
    let was: BTreeSet<(String, String)> = fired(before)
        .into_iter()
        .map(|(p, e)| (head_name.get(&p).map_or(p.clone(), |n| (*n).clone()), e))
        .collect();
    let now = fired(after);
    (
        now.difference(&was).cloned().collect(),
        was.difference(&now).cloned().collect(),
    )
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
