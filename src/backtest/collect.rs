//! The entity-nights a backtest measures: for every entity scored on
//! every night, its health, band, indicator scores and metric values, the
//! playbooks that fired, and whether the outcome followed within the
//! horizon. Gathered night by night from the scored results, so memory
//! holds numbers, not batches.

use datafusion::common::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit};

use crate::base::names;
use crate::base::units::{Micros, Seconds};
use crate::check::model::{Model, Outcome, OutcomeKind};
use crate::run::TextColumn;

/// One column of numbers over the entity-nights (`None`: missing).
pub type Numbers = Vec<Option<f64>>;

/// The entity-nights of a backtest, column by column.
#[derive(Debug, Default)]
pub struct Collected {
    /// The nights scored, in date order.
    pub nights: Vec<NaiveDate>,
    /// Each entity's key, by entity number.
    pub entities: Vec<String>,
    entity_ids: HashMap<String, u32>,
    /// Per entity-night: the night's index.
    pub night: Vec<u32>,
    /// Per entity-night: the entity's number.
    pub entity: Vec<u32>,
    /// Per entity-night: health.
    pub health: Numbers,
    /// The bands, in order (lowest first).
    pub bands: Vec<String>,
    /// Per entity-night: the band's index.
    pub band: Vec<Option<u16>>,
    /// `(indicator, scores)`, in the pipeline's order.
    pub indicators: Vec<(String, Numbers)>,
    /// `(metric, values)` of the numeric metrics, in dependency order.
    pub metrics: Vec<(String, Numbers)>,
    /// The playbooks, in the pipeline's order.
    pub playbooks: Vec<String>,
    /// `(entity-night row, playbook index)` of every action that fired
    /// (after cooldowns).
    pub firings: Vec<(usize, u16)>,
    /// Per entity-night: whether the outcome happened within the horizon.
    pub outcome: Vec<bool>,
    /// Per entity-night: when it first happened within the horizon (µs).
    pub outcome_at: Vec<Option<i64>>,
    /// Per entity-night: the outcome's value within the horizon (with `value:`).
    pub outcome_value: Numbers,
    /// Whether the outcome has a value.
    pub valued: bool,
    /// The first row of each night (and the end), to find a night's rows.
    night_starts: Vec<usize>,
}

impl Collected {
    /// Ready to gather `model`'s entity-nights for `outcome`.
    pub fn new(model: &Model, outcome: &Outcome) -> Self {
        Collected {
            bands: model
                .health
                .iter()
                .flat_map(|h| h.bands.iter().map(|b| b.name.clone()))
                .collect(),
            indicators: model
                .indicators
                .iter()
                .map(|i| (i.name.clone(), Vec::new()))
                .collect(),
            metrics: model
                .metrics
                .iter()
                .filter(|m| m.ty.is_numeric())
                .map(|m| (m.name.clone(), Vec::new()))
                .collect(),
            playbooks: model.playbooks.iter().map(|p| p.name.clone()).collect(),
            valued: matches!(&outcome.kind, OutcomeKind::Rows { value: Some(_), .. }),
            night_starts: vec![0],
            ..Collected::default()
        }
    }

    /// Entity-nights gathered so far.
    pub fn len(&self) -> usize {
        self.night.len()
    }

    /// Whether nothing was gathered.
    pub fn is_empty(&self) -> bool {
        self.night.is_empty()
    }

    /// The rows of night `index`.
    pub fn night_rows(&self, index: usize) -> std::ops::Range<usize> {
        self.night_starts[index]..self.night_starts[index + 1]
    }

    fn entity_id(&mut self, key: String) -> u32 {
        if let Some(id) = self.entity_ids.get(&key) {
            return *id;
        }
        let id = self.entities.len() as u32;
        self.entity_ids.insert(key.clone(), id);
        self.entities.push(key);
        id
    }

    /// Gather one scored night: its working scorecard (every entity of
    /// the population, with scores and metrics) and the actions that
    /// fired. With an `at:` outcome, whether it followed is read here from
    /// the entity attribute.
    pub fn add_night(
        &mut self,
        night: NaiveDate,
        working: &[RecordBatch],
        actions: &[RecordBatch],
        model: &Model,
        outcome: &Outcome,
    ) {
        let index = self.nights.len() as u32;
        self.nights.push(night);
        let key = &model.entity.key;
        let band_index: HashMap<String, u16> = self
            .bands
            .iter()
            .enumerate()
            .map(|(i, b)| (b.clone(), i as u16))
            .collect();
        let mut rows_by_key: HashMap<String, usize> = HashMap::new();
        let from = Micros::midnight(night).get();
        let horizon = outcome.horizon.get().saturating_mul(1_000_000);
        for batch in working {
            let Some(keys) = TextColumn::of(batch, key) else {
                continue;
            };
            let health = numbers(batch, names::HEALTH, batch.num_rows());
            let band = TextColumn::of(batch, names::BAND);
            let at = match &outcome.kind {
                OutcomeKind::Attribute(a) => micros(batch, a),
                OutcomeKind::Rows { .. } => None,
            };
            for row in 0..batch.num_rows() {
                let key_text = keys.get(row).unwrap_or_default();
                let id = self.entity_id(key_text.clone());
                rows_by_key.insert(key_text, self.night.len());
                self.night.push(index);
                self.entity.push(id);
                self.health.push(health[row]);
                self.band.push(
                    band.as_ref()
                        .and_then(|b| b.get(row))
                        .and_then(|b| band_index.get(&b).copied()),
                );
                let happened = at
                    .as_ref()
                    .and_then(|at| at[row])
                    .filter(|t| *t >= from && *t - from < horizon);
                self.outcome.push(happened.is_some());
                self.outcome_at.push(happened);
                self.outcome_value.push(None);
            }
            for (name, scores) in &mut self.indicators {
                scores.extend(numbers(batch, &names::score(name), batch.num_rows()));
            }
            for (name, values) in &mut self.metrics {
                values.extend(numbers(
                    batch,
                    &names::metric(name, Seconds::ZERO),
                    batch.num_rows(),
                ));
            }
        }
        self.night_starts.push(self.night.len());
        let playbook_index: HashMap<&str, u16> = self
            .playbooks
            .iter()
            .enumerate()
            .map(|(i, p)| (p.as_str(), i as u16))
            .collect();
        let mut firings = Vec::new();
        for (playbook, entity) in crate::run::fired(actions) {
            if let (Some(p), Some(row)) = (
                playbook_index.get(playbook.as_str()),
                rows_by_key.get(&entity),
            ) {
                firings.push((*row, *p));
            }
        }
        firings.sort_unstable();
        self.firings.extend(firings);
    }

    /// Gather the outcome of night `index` from the outcome's own night
    /// (its horizon's end): per entity key, the rows that happened in the
    /// horizon (`rows`), the first one's time (`first`) and the value.
    pub fn add_outcomes(
        &mut self,
        index: usize,
        batches: &[RecordBatch],
        key: &str,
        [rows, first, value]: [&str; 3],
    ) {
        let range = self.night_rows(index);
        let by_key: HashMap<&str, usize> = range
            .clone()
            .map(|row| (self.entities[self.entity[row] as usize].as_str(), row))
            .collect();
        let mut found: Vec<(usize, Option<i64>, Option<f64>)> = Vec::new();
        for batch in batches {
            let Some(keys) = TextColumn::of(batch, key) else {
                continue;
            };
            let counts = numbers(batch, rows, batch.num_rows());
            let firsts = micros(batch, first).unwrap_or_default();
            let values = numbers(batch, value, batch.num_rows());
            for row in 0..batch.num_rows() {
                let happened = counts[row].is_some_and(|c| c > 0.0);
                let Some(target) = keys.get(row).and_then(|k| by_key.get(k.as_str()).copied())
                else {
                    continue;
                };
                if happened {
                    found.push((target, firsts.get(row).copied().flatten(), values[row]));
                }
            }
        }
        for (row, at, value) in found {
            self.outcome[row] = true;
            self.outcome_at[row] = at;
            self.outcome_value[row] = value;
        }
    }
}

/// A column as numbers (nulls and a missing or non-numeric column: `None`).
fn numbers(batch: &RecordBatch, column: &str, rows: usize) -> Numbers {
    let Some(array) = batch.column_by_name(column) else {
        return vec![None; rows];
    };
    let numeric = array.data_type().is_numeric();
    match cast(array, &DataType::Float64) {
        Ok(cast) if numeric => cast.as_primitive::<Float64Type>().iter().collect(),
        _ => vec![None; rows],
    }
}

/// A date or timestamp column as microseconds since the epoch.
fn micros(batch: &RecordBatch, column: &str) -> Option<Vec<Option<i64>>> {
    let array: &ArrayRef = batch.column_by_name(column)?;
    let as_timestamp = cast(array, &DataType::Timestamp(TimeUnit::Microsecond, None)).ok()?;
    let as_numbers: Arc<dyn Array> = cast(&as_timestamp, &DataType::Int64).ok()?;
    Some(as_numbers.as_primitive::<Int64Type>().iter().collect())
}
