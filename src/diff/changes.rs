//! `vane changes`: what changed between two nights already written, and
//! why — per entity, health and band at both nights and the indicators and
//! metrics that moved it (the attribution of `diff`'s movers, [`compare`]);
//! the band transition matrix with the entities that entered and left the
//! population; playbooks newly firing and stopped; metric changes. When the
//! nights were scored by different definitions, each move is split into
//! **definition** (the older night re-scored with the current definitions,
//! minus the older night as stored) and **data** (the newer night minus
//! that re-scored one).

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use serde::Serialize;

use super::impact::{
    Compared, Impact, MetricChange, Mover, Table, Value, compare, firings, number, table,
};
use super::rollups::RollupDelta;
use super::{band_label, band_matrix, code, health, metric_table, playbook_table, signed};
use crate::base::display::plural;
use crate::base::names;
use crate::check::model::Model;
use crate::diagnostics::{Code, Diagnostic};
use crate::run::StoredNight;

/// The row of the band matrix for entities that entered the population.
pub const ENTERED: &str = "(entered)";
/// The column of the band matrix for entities that left the population.
pub const LEFT: &str = "(left)";

/// The older night re-scored with the current definitions, when the two
/// nights were scored by different ones.
pub enum Rescored<'a> {
    /// Both nights were scored by the same definitions (or a manifest does
    /// not say): nothing to split.
    NotNeeded,
    /// The older night's scorecard computed now, with the current definitions.
    Scorecard(&'a [RecordBatch]),
    /// The definitions differ, but the older night could not be re-scored.
    Failed(String),
}

/// Two written nights of one pipeline to compare.
pub struct NightsToCompare<'a> {
    /// The pipeline as it is now.
    pub model: &'a Model,
    /// The output folder, for wording.
    pub out: String,
    /// The older night (`--since`).
    pub since: &'a StoredNight,
    /// The newer night (`--as-of`).
    pub as_of: &'a StoredNight,
    /// The older night re-scored, when the definitions differ.
    pub rescored: Rescored<'a>,
}

/// Whether two nights were scored by different definitions, as their
/// manifests record (`None` when either does not say).
pub fn definitions_differ(since: &StoredNight, as_of: &StoredNight) -> Option<bool> {
    match (&since.definitions_sha256, &as_of.definitions_sha256) {
        (Some(a), Some(b)) => Some(a != b),
        _ => None,
    }
}

/// Everything `vane changes` reports. Serialized as the `--format json`
/// output; fields keep this order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangesReport {
    /// The pipeline's name.
    pub pipeline: String,
    /// The entity's name, for wording ("account").
    pub entity: String,
    /// The output folder the nights were read from.
    pub output_folder: String,
    /// The older night.
    pub since: NaiveDate,
    /// The newer night.
    pub as_of: NaiveDate,
    /// Which definitions scored each night, and the definition/data split.
    pub definitions: Definitions,
    /// Counts.
    pub summary: Summary,
    /// Band names, worst first (the pipeline's bands by their lower bound).
    pub band_order: Vec<String>,
    /// `from → to → entities`, over entities in both nights, plus
    /// [`ENTERED`] → band and band → [`LEFT`].
    pub band_transitions: Vec<BandTransition>,
    /// Every entity in both nights whose health moved, by the size of the
    /// move (a missing health counting as 0), then by key.
    pub movers: Vec<EntityChange>,
    /// Entities only in the newer night, by key.
    pub entered: Vec<EntityNight>,
    /// Entities only in the older night, by key.
    pub left: Vec<EntityNight>,
    /// Playbooks with entities newly firing or stopped, by name.
    pub playbooks: Vec<PlaybookChange>,
    /// Metrics whose values changed for entities in both nights, in file order.
    pub metrics: Vec<MetricChange>,
    /// Every rollup row at both nights (empty when the nights have no
    /// rollups file).
    pub rollups: Vec<RollupDelta>,
}

/// The definitions each night was scored by.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Definitions {
    /// The hash the older night's manifest records.
    pub since_sha256: Option<String>,
    /// The hash the newer night's manifest records.
    pub as_of_sha256: Option<String>,
    /// The hash of the pipeline file's definitions now.
    pub current_sha256: String,
    /// Whether the two nights were scored by different definitions (null
    /// when a manifest does not say).
    pub changed: Option<bool>,
    /// The split of each move into definition and data, when computed.
    pub split: Option<SplitSummary>,
    /// Why the split was not computed although the definitions changed.
    pub split_skipped: Option<String>,
}

/// What the definition/data split found over all entities.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitSummary {
    /// The night re-scored with the current definitions (the older one).
    pub rescored: NaiveDate,
    /// Whether the newer night was scored by the current definitions (when
    /// not, its "data" part also holds the difference between those).
    pub as_of_scored_by_current: bool,
    /// Entities whose health the definition change moved.
    pub moved_by_definition: usize,
    /// Entities whose health the data moved.
    pub moved_by_data: usize,
}

/// Counts of what changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Entities in the older night.
    pub entities_since: usize,
    /// Entities in the newer night.
    pub entities_as_of: usize,
    /// Entities only in the newer night.
    pub entered: usize,
    /// Entities only in the older night.
    pub left: usize,
    /// Entities in both whose health changed.
    pub health_changed: usize,
    /// Of those, how many went up.
    pub health_up: usize,
    /// Of those, how many went down.
    pub health_down: usize,
    /// Entities in both whose band changed.
    pub band_changed: usize,
    /// Of those, how many moved to a better band.
    pub band_up: usize,
    /// Of those, how many moved to a worse band.
    pub band_down: usize,
    /// `(playbook, entity)` firings in the newer night only.
    pub newly_firing: usize,
    /// `(playbook, entity)` firings in the older night only.
    pub stopped_firing: usize,
}

/// One cell of the band transition matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandTransition {
    /// The band in the older night, or [`ENTERED`].
    pub from: String,
    /// The band in the newer night, or [`LEFT`].
    pub to: String,
    /// How many entities.
    pub entities: usize,
}

/// One entity whose health moved between the nights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntityChange {
    /// The entity key.
    pub key: String,
    /// Health in the older night.
    pub health_before: Option<f64>,
    /// Health in the newer night.
    pub health_after: Option<f64>,
    /// `health_after - health_before`, when both exist.
    pub delta: Option<f64>,
    /// Band in the older night.
    pub band_before: Option<String>,
    /// Band in the newer night.
    pub band_after: Option<String>,
    /// The indicators whose scores moved most (up to three), with the
    /// metric each scores when its value moved too.
    pub causes: Vec<Cause>,
    /// The move split into definition and data, when the definitions changed.
    pub split: Option<Split>,
}

/// An indicator score that moved, and the metric behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cause {
    /// The indicator.
    pub indicator: String,
    /// Its score before.
    pub before: Option<f64>,
    /// Its score after.
    pub after: Option<f64>,
    /// The metric it scores, when that metric's value moved.
    pub metric: Option<MetricMove>,
}

/// A metric value that moved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricMove {
    /// The metric.
    pub metric: String,
    /// Its value before (a number, or text for other types).
    pub before: Option<Value>,
    /// Its value after.
    pub after: Option<Value>,
}

/// One entity's move split into what the definition change did and what
/// the data did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Split {
    /// Health of the older night re-scored with the current definitions.
    pub rescored_health: Option<f64>,
    /// Band of the older night re-scored.
    pub rescored_band: Option<String>,
    /// Re-scored minus stored older health.
    pub definition: Option<f64>,
    /// Newer health minus re-scored older health.
    pub data: Option<f64>,
    /// The indicators the definition change moved.
    pub definition_causes: Vec<Cause>,
    /// The indicators the data moved.
    pub data_causes: Vec<Cause>,
}

/// An entity in one night only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntityNight {
    /// The entity key.
    pub key: String,
    /// Its health that night.
    pub health: Option<f64>,
    /// Its band that night.
    pub band: Option<String>,
}

/// A playbook's firings that started or stopped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlaybookChange {
    /// The playbook.
    pub playbook: String,
    /// Entities it fires for in the newer night only, by key.
    pub newly_firing: Vec<String>,
    /// Entities it fired for in the older night only, by key.
    pub stopped_firing: Vec<String>,
}

/// The scorecard columns a comparison reads: health, band, indicator
/// scores (the model's and any a night has), metrics (the model's, in
/// file order, that both nights have); and each indicator's metric.
struct Columns {
    all: Vec<String>,
    indicators: Vec<(String, Option<String>)>,
    metrics: Vec<String>,
}

fn schema_columns(batches: &[RecordBatch]) -> Vec<String> {
    batches
        .first()
        .map(|b| {
            b.schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect()
        })
        .unwrap_or_default()
}

fn columns(model: &Model, nights: &[&[RecordBatch]]) -> Columns {
    let present: Vec<Vec<String>> = nights.iter().map(|n| schema_columns(n)).collect();
    let mut indicators: Vec<String> = model.indicators.iter().map(|i| i.name.clone()).collect();
    let mut extra: Vec<String> = present
        .iter()
        .flatten()
        .filter_map(|c| names::score_indicator(c))
        .filter(|i| !indicators.iter().any(|x| x == i))
        .map(str::to_string)
        .collect();
    extra.sort();
    extra.dedup();
    indicators.extend(extra);
    let mut in_file_order: Vec<&crate::check::model::Metric> = model.metrics.iter().collect();
    in_file_order.sort_by_key(|m| m.span.start);
    let metrics: Vec<String> = in_file_order
        .into_iter()
        .map(|m| m.name.clone())
        .filter(|m| present.iter().all(|columns| columns.contains(m)))
        .collect();
    let indicators = super::impact::with_metrics(model, indicators, &metrics);
    let mut all = vec![names::HEALTH.to_string(), names::BAND.to_string()];
    all.extend(indicators.iter().map(|(i, _)| names::score(i)));
    all.extend(metrics.iter().cloned());
    Columns {
        all,
        indicators,
        metrics,
    }
}

/// A night's scorecard as a [`Table`]; an error when it lacks the key.
fn night_table(
    model: &Model,
    night: &StoredNight,
    columns: &Columns,
    what: &str,
) -> Result<Table, Diagnostic> {
    let key = &model.entity.key;
    if !night.scorecard.is_empty() && !schema_columns(&night.scorecard).contains(key) {
        return Err(Diagnostic::error(
            Code::DataUnreadable,
            format!(
                "the scorecard of {what} {} has no column `{key}`, the key of {}",
                night.as_of, model.entity.name
            ),
        )
        .help("the night was written by another pipeline; point --out at this pipeline's output folder"));
    }
    Ok(table(&night.scorecard, key, &columns.all))
}

fn causes(mover: &Mover, columns: &Columns) -> Vec<Cause> {
    mover
        .causes
        .iter()
        .map(|(indicator, before, after)| {
            let metric = columns
                .indicators
                .iter()
                .find(|(i, _)| i == indicator)
                .and_then(|(_, m)| m.as_ref())
                .and_then(|m| mover.metrics.iter().find(|(name, _, _)| name == m))
                .map(|(metric, before, after)| MetricMove {
                    metric: metric.clone(),
                    before: before.clone(),
                    after: after.clone(),
                });
            Cause {
                indicator: indicator.clone(),
                before: *before,
                after: *after,
                metric,
            }
        })
        .collect()
}

/// An entity's health and band in a table.
fn health_and_band(table: &Table, key: &str) -> (Option<f64>, Option<String>) {
    let Some(row) = table.get(key) else {
        return (None, None);
    };
    let health = number(Table::cell(row, table.column(names::HEALTH)));
    let band = Table::cell(row, table.column(names::BAND)).map(Value::to_text);
    (health, band)
}

fn entity_night(table: &Table, key: &str) -> EntityNight {
    let (health, band) = health_and_band(table, key);
    EntityNight {
        key: key.to_string(),
        health,
        band,
    }
}

/// Compare two written nights.
pub fn changes(nights: &NightsToCompare<'_>) -> Result<ChangesReport, Diagnostic> {
    let model = nights.model;
    let rescored_batches = match &nights.rescored {
        Rescored::Scorecard(batches) => Some(*batches),
        _ => None,
    };
    let mut scorecards = vec![
        nights.since.scorecard.as_slice(),
        nights.as_of.scorecard.as_slice(),
    ];
    scorecards.extend(rescored_batches);
    let columns = columns(model, &scorecards);
    let compared = Compared {
        indicators: &columns.indicators,
        metrics: &columns.metrics,
    };
    let before = night_table(model, nights.since, &columns, "--since")?;
    let after = night_table(model, nights.as_of, &columns, "--as-of")?;
    let total = compare(&before, &after, &compared);
    let (newly, stopped) = firings(
        &nights.since.actions,
        &nights.as_of.actions,
        &BTreeMap::new(),
    );

    let current_sha256 = crate::check::definitions::definitions_hash(model);
    let mut definitions = Definitions {
        since_sha256: nights.since.definitions_sha256.clone(),
        as_of_sha256: nights.as_of.definitions_sha256.clone(),
        current_sha256,
        changed: definitions_differ(nights.since, nights.as_of),
        split: None,
        split_skipped: match &nights.rescored {
            Rescored::Failed(reason) => Some(reason.clone()),
            _ => None,
        },
    };
    let mut splits: BTreeMap<String, Split> = BTreeMap::new();
    if let Some(batches) = rescored_batches {
        let rescored = table(batches, &model.entity.key, &columns.all);
        let by_definition = compare(&before, &rescored, &compared);
        let by_data = compare(&rescored, &after, &compared);
        let movers = |impact: &Impact| -> BTreeMap<String, Vec<Cause>> {
            impact
                .movers
                .iter()
                .map(|m| (m.key.clone(), causes(m, &columns)))
                .collect()
        };
        let (mut definition_causes, mut data_causes) = (movers(&by_definition), movers(&by_data));
        for mover in &total.movers {
            if !rescored.contains_key(&mover.key) {
                continue;
            }
            let (rescored_health, rescored_band) = health_and_band(&rescored, &mover.key);
            let minus = |a: Option<f64>, b: Option<f64>| Some(a? - b?);
            splits.insert(
                mover.key.clone(),
                Split {
                    rescored_health,
                    rescored_band,
                    definition: minus(rescored_health, mover.before),
                    data: minus(mover.after, rescored_health),
                    definition_causes: definition_causes.remove(&mover.key).unwrap_or_default(),
                    data_causes: data_causes.remove(&mover.key).unwrap_or_default(),
                },
            );
        }
        definitions.split = Some(SplitSummary {
            rescored: nights.since.as_of,
            as_of_scored_by_current: definitions.as_of_sha256.as_deref()
                == Some(definitions.current_sha256.as_str()),
            moved_by_definition: by_definition.health_changed,
            moved_by_data: by_data.health_changed,
        });
    }

    let band_order: Vec<String> = model
        .health
        .iter()
        .flat_map(|h| &h.bands)
        .map(|b| b.name.clone())
        .collect();
    let rank = |band: &str| band_order.iter().position(|b| b == band);
    let mut summary = Summary {
        entities_since: before.len(),
        entities_as_of: after.len(),
        entered: total.joined_population.len(),
        left: total.left_population.len(),
        health_changed: total.health_changed,
        newly_firing: newly.len(),
        stopped_firing: stopped.len(),
        ..Summary::default()
    };
    for mover in &total.movers {
        match (mover.before, mover.after) {
            (Some(b), Some(a)) if a > b => summary.health_up += 1,
            (Some(b), Some(a)) if a < b => summary.health_down += 1,
            _ => {}
        }
    }
    let mut bands = total.bands.clone();
    for ((from, to), n) in &total.bands {
        if from == to {
            continue;
        }
        summary.band_changed += n;
        match (rank(from), rank(to)) {
            (Some(f), Some(t)) if t > f => summary.band_up += n,
            (Some(f), Some(t)) if t < f => summary.band_down += n,
            _ => {}
        }
    }
    let entered: Vec<EntityNight> = total
        .joined_population
        .iter()
        .map(|k| entity_night(&after, k))
        .collect();
    let left: Vec<EntityNight> = total
        .left_population
        .iter()
        .map(|k| entity_night(&before, k))
        .collect();
    for e in &entered {
        *bands
            .entry((ENTERED.to_string(), band_label(&e.band)))
            .or_default() += 1;
    }
    for e in &left {
        *bands
            .entry((band_label(&e.band), LEFT.to_string()))
            .or_default() += 1;
    }

    let mut playbooks: BTreeMap<&String, PlaybookChange> = BTreeMap::new();
    for (pairs, newly_firing) in [(&newly, true), (&stopped, false)] {
        for (playbook, entity) in pairs {
            let change = playbooks.entry(playbook).or_insert_with(|| PlaybookChange {
                playbook: playbook.clone(),
                newly_firing: Vec::new(),
                stopped_firing: Vec::new(),
            });
            if newly_firing {
                change.newly_firing.push(entity.clone());
            } else {
                change.stopped_firing.push(entity.clone());
            }
        }
    }

    // Worst band first, unknown bands after known ones, then entered/left.
    let order = |band: &str| match band {
        ENTERED | LEFT => (2, band_order.len(), band.to_string()),
        _ => match rank(band) {
            Some(r) => (0, r, String::new()),
            None => (1, 0, band.to_string()),
        },
    };
    let mut band_transitions: Vec<BandTransition> = bands
        .into_iter()
        .map(|((from, to), entities)| BandTransition { from, to, entities })
        .collect();
    band_transitions.sort_by_cached_key(|t| (order(&t.from), order(&t.to)));
    let movers = total
        .movers
        .iter()
        .map(|m| EntityChange {
            key: m.key.clone(),
            health_before: m.before,
            health_after: m.after,
            delta: m.before.zip(m.after).map(|(b, a)| a - b),
            band_before: m.band_before.clone(),
            band_after: m.band_after.clone(),
            causes: causes(m, &columns),
            split: splits.remove(&m.key),
        })
        .collect();
    Ok(ChangesReport {
        pipeline: model.name.clone(),
        entity: model.entity.name.clone(),
        output_folder: nights.out.clone(),
        since: nights.since.as_of,
        as_of: nights.as_of.as_of,
        definitions,
        summary,
        band_order,
        band_transitions,
        movers,
        entered,
        left,
        playbooks: playbooks.into_values().collect(),
        metrics: total.metrics.clone(),
        rollups: super::rollups::rollup_deltas(model, &nights.since.rollups, &nights.as_of.rollups),
    })
}

/// A metric value for reading in a table cell: numbers with at most 4
/// decimals, text with no backtick or bar to break the table.
fn value_text(value: &Option<Value>) -> String {
    match value {
        None => "null".into(),
        Some(Value::Text(text)) => text.replace('`', "'").replace('|', "\\|"),
        Some(Value::Number(v)) => {
            let rounded = format!("{v:.4}");
            let trimmed = rounded.trim_end_matches('0').trim_end_matches('.');
            if trimmed == "-0" { "0" } else { trimmed }.to_string()
        }
    }
}

fn causes_text(causes: &[Cause]) -> String {
    if causes.is_empty() {
        return "weights or model".into();
    }
    causes
        .iter()
        .map(|c| {
            let metric = c
                .metric
                .as_ref()
                .map(|m| {
                    format!(
                        " ({} {} → {})",
                        code(&m.metric),
                        value_text(&m.before),
                        value_text(&m.after)
                    )
                })
                .unwrap_or_default();
            format!(
                "{} {} → {}{metric}",
                c.indicator,
                health(c.before),
                health(c.after)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A change with its sign, one decimal; `0.0` for one that rounds to nothing.
fn signed_or_dash(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v.abs() < 0.05 => "0.0".into(),
        Some(v) => signed(v),
    }
}

fn band_move(before: &Option<String>, after: &Option<String>) -> String {
    if before == after {
        band_label(after)
    } else {
        format!("{} → **{}**", band_label(before), band_label(after))
    }
}

/// Up to `limit` entities of one night as `` `key` band health ``.
fn entity_list(entities: &[EntityNight], limit: usize) -> String {
    let mut items: Vec<String> = entities
        .iter()
        .take(limit)
        .map(|e| {
            format!(
                "{} {} {}",
                code(&e.key),
                band_label(&e.band),
                health(e.health)
            )
        })
        .collect();
    if entities.len() > limit {
        items.push(format!("… {} more", entities.len() - limit));
    }
    items.join(", ")
}

/// The report as Markdown for a chat message or pull-request comment,
/// listing the `top` biggest movers.
pub fn markdown(report: &ChangesReport, top: usize) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let entities = format!("{}s", report.entity);
    let _ = writeln!(
        out,
        "## Vane changes: `{}`, {} → {}\n",
        report.pipeline, report.since, report.as_of
    );
    let mut headline = vec![format!(
        "**{} {entities}** on {} ({} on {}: {} entered, {} left)",
        s.entities_as_of, report.as_of, s.entities_since, report.since, s.entered, s.left
    )];
    headline.push(format!(
        "**{} changed health** ({} up, {} down)",
        s.health_changed, s.health_up, s.health_down
    ));
    headline.push(format!(
        "**{}** ({} up, {} down)",
        plural(s.band_changed, "band change"),
        s.band_up,
        s.band_down
    ));
    headline.push(format!(
        "playbooks: {} newly firing, {} stopped",
        s.newly_firing, s.stopped_firing
    ));
    let _ = writeln!(out, "{}\n", headline.join(" · "));
    definitions_markdown(&mut out, report);

    let mut rows: Vec<String> = report.band_order.clone();
    let mut columns: Vec<String> = report.band_order.clone();
    for t in &report.band_transitions {
        if t.from != ENTERED && !rows.contains(&t.from) {
            rows.push(t.from.clone());
        }
        if t.to != LEFT && !columns.contains(&t.to) {
            columns.push(t.to.clone());
        }
    }
    if !report.entered.is_empty() {
        rows.push(ENTERED.into());
    }
    if !report.left.is_empty() {
        columns.push(LEFT.into());
    }
    let bands: BTreeMap<(String, String), usize> = report
        .band_transitions
        .iter()
        .map(|t| ((t.from.clone(), t.to.clone()), t.entities))
        .collect();
    let _ = writeln!(out, "### Band transitions\n");
    let corner = format!("{} ↓ · {} →", report.since, report.as_of);
    band_matrix(&mut out, &bands, &rows, &columns, &corner);
    out.push('\n');
    super::rollups::markdown(&mut out, "### Rollups", &report.rollups, 40);

    if !report.movers.is_empty() {
        let split = report.definitions.split.is_some();
        let _ = writeln!(out, "### Biggest movers\n");
        if split {
            let _ = writeln!(
                out,
                "| {} | health | band | Δ definition | Δ data | moved by |\n|---|---|---|---:|---:|---|",
                report.entity
            );
        } else {
            let _ = writeln!(
                out,
                "| {} | health | band | moved by |\n|---|---|---|---|",
                report.entity
            );
        }
        for m in report.movers.iter().take(top) {
            let health_move = format!(
                "{} → {} ({})",
                health(m.health_before),
                health(m.health_after),
                signed_or_dash(m.delta)
            );
            let split_cells = match (&m.split, split) {
                (Some(p), _) => format!(
                    " {} | {} |",
                    signed_or_dash(p.definition),
                    signed_or_dash(p.data)
                ),
                (None, true) => " — | — |".to_string(),
                (None, false) => String::new(),
            };
            let _ = writeln!(
                out,
                "| {} | {health_move} | {} |{split_cells} {} |",
                code(&m.key),
                band_move(&m.band_before, &m.band_after),
                causes_text(&m.causes)
            );
        }
        if report.movers.len() > top {
            let _ = writeln!(
                out,
                "\n_{} more {} moved; `--format json` lists every one._",
                report.movers.len() - top,
                if report.movers.len() - top == 1 {
                    report.entity.clone()
                } else {
                    entities.clone()
                }
            );
        }
        out.push('\n');
    }

    if !report.entered.is_empty() || !report.left.is_empty() {
        let _ = writeln!(out, "### Population\n");
        if !report.entered.is_empty() {
            let _ = writeln!(
                out,
                "- entered ({}): {}",
                report.entered.len(),
                entity_list(&report.entered, 20)
            );
        }
        if !report.left.is_empty() {
            let _ = writeln!(
                out,
                "- left ({}): {}",
                report.left.len(),
                entity_list(&report.left, 20)
            );
        }
        out.push('\n');
    }

    if !report.playbooks.is_empty() {
        let pairs = |newly: bool| -> Vec<(String, String)> {
            report
                .playbooks
                .iter()
                .flat_map(|p| {
                    let keys = if newly {
                        &p.newly_firing
                    } else {
                        &p.stopped_firing
                    };
                    keys.iter().map(|k| (p.playbook.clone(), k.clone()))
                })
                .collect()
        };
        let _ = writeln!(out, "### Playbooks\n");
        playbook_table(&mut out, &pairs(true), &pairs(false), "stopped");
        out.push('\n');
    }

    if !report.metrics.is_empty() {
        let _ = writeln!(out, "### Metric values\n");
        metric_table(&mut out, &report.metrics, &entities);
        out.push('\n');
    }
    out
}

fn definitions_markdown(out: &mut String, report: &ChangesReport) {
    let d = &report.definitions;
    let short = |hash: &Option<String>| {
        hash.as_deref().map_or("not recorded".to_string(), |h| {
            format!("`{}`", h.chars().take(12).collect::<String>())
        })
    };
    match d.changed {
        Some(false) => {}
        None => {
            let _ = writeln!(
                out,
                "_Whether the two nights were scored by the same definitions is unknown: a manifest does not record it ({} on {}, {} on {})._\n",
                short(&d.since_sha256),
                report.since,
                short(&d.as_of_sha256),
                report.as_of
            );
        }
        Some(true) => {
            let _ = writeln!(
                out,
                "> **The definitions changed between the two nights** ({} on {}, {} on {}).",
                short(&d.since_sha256),
                report.since,
                short(&d.as_of_sha256),
                report.as_of
            );
            match (&d.split, &d.split_skipped) {
                (Some(split), _) => {
                    let _ = writeln!(
                        out,
                        "> Each move is split into **definition** ({since} re-scored with the current definitions, minus {since} as stored: {} moved) and **data** ({as_of} minus the re-scored {since}: {} moved).",
                        plural(split.moved_by_definition, &report.entity),
                        plural(split.moved_by_data, &report.entity),
                        since = report.since,
                        as_of = report.as_of,
                    );
                    if !split.as_of_scored_by_current {
                        let _ = writeln!(
                            out,
                            "> {} was scored by other definitions than the pipeline file's now, so its data part holds that difference too.",
                            report.as_of
                        );
                    }
                }
                (None, Some(reason)) => {
                    let _ = writeln!(
                        out,
                        "> The moves are not split into definition and data: {reason}."
                    );
                }
                (None, None) => {}
            }
            out.push('\n');
        }
    }
}

/// The report as pretty JSON (the [`ChangesReport`] fields, in order).
pub fn to_json(report: &ChangesReport) -> serde_json::Result<String> {
    Ok(serde_json::to_string_pretty(report)? + "\n")
}
