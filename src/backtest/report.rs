//! What a backtest found, from the entity-nights: how often the outcome
//! followed each band, how well health ranks the entities it followed
//! (AUC with an interval), which indicators, metrics and playbooks carry
//! signal, and how early the lowest band saw it coming. Figures that a
//! sample cannot define (no outcome at all, an empty band) are `None` and
//! the notes say why — never NaN.

use chrono::NaiveDate;
use serde::Serialize;

use super::collect::{Collected, Numbers};
use super::stats::{self, Confusion};

/// Resamples of the bootstrap intervals, and the fixed seed that makes a
/// report reproducible.
#[derive(Debug, Clone, Copy)]
pub struct Bootstrap {
    /// Resamples (entities drawn with replacement).
    pub resamples: usize,
    /// The seed.
    pub seed: u64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap {
            resamples: 200,
            seed: 20_261_130,
        }
    }
}

/// The nights a backtest asked for, and which it could use.
#[derive(Debug, Clone, Serialize)]
pub struct NightsUsed {
    /// The first night asked for.
    pub from: NaiveDate,
    /// The last night asked for.
    pub to: NaiveDate,
    /// Days between nights.
    pub every_days: u32,
    /// Nights scored and measured.
    pub scored: usize,
    /// Nights left out because their horizon runs past the data's end.
    pub censored: usize,
    /// The first midnight the data does not cover.
    pub data_end: Option<NaiveDate>,
}

/// One band's row.
#[derive(Debug, Clone, Serialize)]
pub struct BandRow {
    /// The band (or `(no health)`).
    pub band: String,
    /// Entity-nights in it.
    pub entity_nights: usize,
    /// Of those, with the outcome.
    pub outcomes: usize,
    /// Outcome rate.
    pub rate: Option<f64>,
    /// Rate over the base rate.
    pub lift: Option<f64>,
    /// Share of all outcomes that were in this band.
    pub share_of_outcomes: Option<f64>,
    /// Share of the outcome's value that was in this band (with `value:`).
    pub share_of_value: Option<f64>,
}

/// Precision, recall and F1 of flagging some entity-nights.
#[derive(Debug, Clone, Serialize)]
pub struct FlagRow {
    /// What was flagged (`red`, `red or yellow`, `health < 40`).
    pub flagged_when: String,
    /// Entity-nights flagged.
    pub flagged: u64,
    /// Flagged with the outcome / flagged.
    pub precision: Option<f64>,
    /// Flagged with the outcome / with the outcome.
    pub recall: Option<f64>,
    /// Their harmonic mean.
    pub f1: Option<f64>,
    /// Share of the outcome's value that was flagged (with `value:`).
    pub value_recall: Option<f64>,
}

/// An area under the ROC curve with its bootstrap interval.
#[derive(Debug, Clone, Serialize)]
pub struct Auc {
    /// The AUC.
    pub value: Option<f64>,
    /// The interval's lower end (95%).
    pub low: Option<f64>,
    /// Its upper end.
    pub high: Option<f64>,
}

/// One health decile.
#[derive(Debug, Clone, Serialize)]
pub struct CalibrationRow {
    /// Lowest health in it.
    pub from: f64,
    /// Highest health in it.
    pub to: f64,
    /// Entity-nights.
    pub entity_nights: usize,
    /// Outcome rate.
    pub rate: f64,
}

/// How one indicator or metric, alone, ranks the outcome.
#[derive(Debug, Clone, Serialize)]
pub struct SignalRow {
    /// Its name.
    pub name: String,
    /// AUC of the risk it implies (indicators: a lower score; metrics: a
    /// higher value), with its interval.
    pub auc: Auc,
    /// Mean over entity-nights with the outcome.
    pub mean_with: Option<f64>,
    /// Mean over the others.
    pub mean_without: Option<f64>,
    /// Share of entity-nights where it is missing.
    pub missing: f64,
    /// In words: `signal`, `no signal`, `wrong way`, `lower values go with it`, ….
    pub verdict: String,
}

/// One playbook's firings against the outcome.
#[derive(Debug, Clone, Serialize)]
pub struct PlaybookRow {
    /// The playbook.
    pub name: String,
    /// Entity-nights it fired on (after cooldowns).
    pub firings: usize,
    /// Share of firings followed by the outcome within the horizon.
    pub rate: Option<f64>,
    /// That rate over the base rate.
    pub lift: Option<f64>,
    /// Median days from an entity's first firing to its outcome.
    pub median_lead_days: Option<f64>,
}

/// How early the lowest band saw the outcome coming.
#[derive(Debug, Clone, Serialize)]
pub struct Lead {
    /// Entities the outcome happened to (within some night's horizon).
    pub entities: usize,
    /// Of those, entities in the lowest band on a night before it.
    pub flagged_before: usize,
    /// Median days from first being in that band to the outcome.
    pub median_days: Option<f64>,
}

/// A backtest's findings.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The pipeline's name.
    pub pipeline: String,
    /// The outcome.
    pub outcome: String,
    /// Its horizon, as written canonically (`90d`).
    pub horizon: String,
    /// The nights.
    pub nights: NightsUsed,
    /// Entity-nights measured.
    pub entity_nights: usize,
    /// Distinct entities.
    pub entities: usize,
    /// Entity-nights with the outcome.
    pub outcomes: usize,
    /// Their share.
    pub base_rate: Option<f64>,
    /// Per band, lowest first.
    pub bands: Vec<BandRow>,
    /// The lowest band, and the two lowest.
    pub flags: Vec<FlagRow>,
    /// What if the lowest band ended at 10, 15, … 90.
    pub thresholds: Vec<FlagRow>,
    /// AUC of health (lower health = more risk).
    pub auc: Auc,
    /// Outcome rate by health decile.
    pub calibration: Vec<CalibrationRow>,
    /// Each indicator alone.
    pub indicators: Vec<SignalRow>,
    /// Each numeric metric alone.
    pub metrics: Vec<SignalRow>,
    /// Each playbook.
    pub playbooks: Vec<PlaybookRow>,
    /// Lead time of the lowest band.
    pub lead: Lead,
    /// The bootstrap's resamples and seed.
    pub resamples: usize,
    /// The seed.
    pub seed: u64,
    /// Why some figures are undefined, and other caveats.
    pub notes: Vec<String>,
    /// Suggested indicator weights (`--suggest-weights`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<super::suggest::Suggestion>,
}

fn share(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn days(micros: i64) -> f64 {
    micros as f64 / 86_400e6
}

/// The AUC of `risk` (rows with a risk only) with its interval.
fn auc_of(data: &Collected, risk: &[Option<f64>], bootstrap: Bootstrap) -> Auc {
    let mut values = Vec::new();
    let mut positive = Vec::new();
    let mut group = Vec::new();
    for (row, r) in risk.iter().enumerate() {
        if let Some(r) = r.filter(|r| r.is_finite()) {
            values.push(r);
            positive.push(data.outcome[row]);
            group.push(data.entity[row]);
        }
    }
    let (value, interval) = stats::auc_with_interval(
        &values,
        &positive,
        &group,
        bootstrap.resamples,
        bootstrap.seed,
    );
    Auc {
        value,
        low: interval.map(|(lo, _)| lo),
        high: interval.map(|(_, hi)| hi),
    }
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

fn signal(
    data: &Collected,
    name: &str,
    values: &Numbers,
    indicator: bool,
    bootstrap: Bootstrap,
) -> SignalRow {
    let risk: Vec<Option<f64>> = values
        .iter()
        .map(|v| v.map(|v| if indicator { -v } else { v }))
        .collect();
    let auc = auc_of(data, &risk, bootstrap);
    let with = |wanted: bool| {
        mean(
            values
                .iter()
                .zip(&data.outcome)
                .filter(|(_, o)| **o == wanted)
                .filter_map(|(v, _)| *v),
        )
    };
    let missing = values.iter().filter(|v| v.is_none()).count();
    let verdict = match (auc.low, auc.high, auc.value) {
        (Some(lo), Some(hi), _) if lo <= 0.5 && 0.5 <= hi => "no signal",
        (Some(lo), _, _) if lo > 0.5 => {
            if indicator {
                "signal"
            } else {
                "higher values go with the outcome"
            }
        }
        (_, Some(hi), _) if hi < 0.5 => {
            if indicator {
                "wrong way: higher scores go with the outcome"
            } else {
                "lower values go with the outcome"
            }
        }
        _ => "undefined",
    };
    SignalRow {
        name: name.to_string(),
        auc,
        mean_with: with(true),
        mean_without: with(false),
        missing: share(missing, values.len()).unwrap_or(0.0),
        verdict: verdict.to_string(),
    }
}

fn flag_row(data: &Collected, label: String, flagged: &[bool]) -> FlagRow {
    let confusion = Confusion::of(flagged, &data.outcome);
    let value_recall = data.valued.then(|| {
        let value = |row: usize| data.outcome_value[row].unwrap_or(0.0).abs();
        let total: f64 = (0..data.len())
            .filter(|r| data.outcome[*r])
            .map(value)
            .fold(0.0, |a, b| a + b);
        let caught: f64 = (0..data.len())
            .filter(|r| data.outcome[*r] && flagged[*r])
            .map(value)
            .fold(0.0, |a, b| a + b);
        (total > 0.0).then(|| caught / total)
    });
    FlagRow {
        flagged_when: label,
        flagged: confusion.true_positives + confusion.false_positives,
        precision: confusion.precision(),
        recall: confusion.recall(),
        f1: confusion.f1(),
        value_recall: value_recall.flatten(),
    }
}

/// Per entity with the outcome: its first outcome time, and the earliest
/// night (µs) whose horizon held it and on which `flagged` was true.
fn lead_days(data: &Collected, flagged: &dyn Fn(usize) -> bool) -> (usize, Vec<f64>) {
    let mut first: Vec<Option<i64>> = vec![None; data.entities.len()];
    for row in 0..data.len() {
        if let Some(at) = data.outcome_at[row] {
            let entry = &mut first[data.entity[row] as usize];
            *entry = Some(entry.map_or(at, |e| e.min(at)));
        }
    }
    let mut earliest: Vec<Option<i64>> = vec![None; data.entities.len()];
    for row in 0..data.len() {
        let entity = data.entity[row] as usize;
        if first[entity].is_some() && data.outcome_at[row] == first[entity] && flagged(row) {
            let night =
                crate::base::units::Micros::midnight(data.nights[data.night[row] as usize]).get();
            let entry = &mut earliest[entity];
            *entry = Some(entry.map_or(night, |e| e.min(night)));
        }
    }
    let leads = first
        .iter()
        .zip(&earliest)
        .filter_map(|(at, night)| Some(days(at.as_ref()? - night.as_ref()?)))
        .collect();
    (first.iter().flatten().count(), leads)
}

/// `work` on every job, spread over the machine's cores (each signal's
/// AUC and bootstrap is independent of the others); results in job order.
fn in_parallel<J: Sync, T: Send>(jobs: &[J], work: impl Fn(&J) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(jobs.len())
        .max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, T)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        mine.push((i, work(job)));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, t)| t).collect()
}

/// Measure the entity-nights.
pub fn measure(
    data: &Collected,
    pipeline: &str,
    outcome: &str,
    horizon: String,
    nights: NightsUsed,
    bootstrap: Bootstrap,
) -> Report {
    let n = data.len();
    let outcomes = data.outcome.iter().filter(|o| **o).count();
    let base_rate = share(outcomes, n);
    let mut notes = Vec::new();
    if n == 0 {
        notes.push("no entity was scored on any usable night, so nothing can be measured".into());
    } else if outcomes == 0 {
        notes.push(format!(
            "`{outcome}` never followed a night within {horizon}: rates are 0 and AUC, recall and lift are undefined"
        ));
    } else if outcomes == n {
        notes.push(format!(
            "`{outcome}` followed every entity-night: AUC and precision say nothing, and lift is 1"
        ));
    }
    let total_value: f64 = (0..n)
        .filter(|r| data.outcome[*r])
        .map(|r| data.outcome_value[r].unwrap_or(0.0).abs())
        .fold(0.0, |a, b| a + b);
    let mut bands = Vec::new();
    for (index, band) in data
        .bands
        .iter()
        .map(Some)
        .chain(std::iter::once(None))
        .enumerate()
    {
        let rows: Vec<usize> = (0..n)
            .filter(|r| match band {
                Some(_) => data.band[*r] == Some(index as u16),
                None => data.band[*r].is_none(),
            })
            .collect();
        if band.is_none() && rows.is_empty() {
            continue;
        }
        let hits = rows.iter().filter(|r| data.outcome[**r]).count();
        let rate = share(hits, rows.len());
        let value: f64 = rows
            .iter()
            .filter(|r| data.outcome[**r])
            .map(|r| data.outcome_value[*r].unwrap_or(0.0).abs())
            .fold(0.0, |a, b| a + b);
        bands.push(BandRow {
            band: band.cloned().unwrap_or_else(|| "(no health)".into()),
            entity_nights: rows.len(),
            outcomes: hits,
            rate,
            lift: rate.zip(base_rate).and_then(|(r, b)| stats::lift(r, b)),
            share_of_outcomes: share(hits, outcomes),
            share_of_value: (data.valued && total_value > 0.0).then(|| value / total_value),
        });
    }
    let in_bands = |count: usize| -> Vec<bool> {
        data.band
            .iter()
            .map(|b| b.is_some_and(|b| (b as usize) < count))
            .collect()
    };
    let mut flags = Vec::new();
    if let Some(lowest) = data.bands.first() {
        flags.push(flag_row(data, lowest.clone(), &in_bands(1)));
    }
    if let [lowest, second, ..] = data.bands.as_slice() {
        flags.push(flag_row(
            data,
            format!("{lowest} or {second}"),
            &in_bands(2),
        ));
    }
    let thresholds = (2..=18)
        .map(|step| {
            let below = f64::from(step * 5);
            let flagged: Vec<bool> = data
                .health
                .iter()
                .map(|h| h.is_some_and(|h| h < below))
                .collect();
            flag_row(data, format!("health < {below}"), &flagged)
        })
        .collect();
    let risk: Vec<Option<f64>> = data.health.iter().map(|h| h.map(|h| -h)).collect();
    let auc = auc_of(data, &risk, bootstrap);
    let (healths, positives): (Vec<f64>, Vec<bool>) = data
        .health
        .iter()
        .zip(&data.outcome)
        .filter_map(|(h, o)| h.map(|h| (h, *o)))
        .unzip();
    let calibration = stats::calibration(&healths, &positives, 10)
        .into_iter()
        .map(|bin| CalibrationRow {
            from: bin.lo,
            to: bin.hi,
            entity_nights: bin.count,
            rate: bin.positives as f64 / bin.count.max(1) as f64,
        })
        .collect();
    let jobs: Vec<(&String, &Numbers, bool)> = data
        .indicators
        .iter()
        .map(|(name, values)| (name, values, true))
        .chain(
            data.metrics
                .iter()
                .map(|(name, values)| (name, values, false)),
        )
        .collect();
    let mut signals = in_parallel(&jobs, |(name, values, indicator)| {
        signal(data, name, values, *indicator, bootstrap)
    });
    let metrics = signals.split_off(data.indicators.len());
    let indicators = signals;
    let playbooks = data
        .playbooks
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let fired: std::collections::BTreeSet<usize> = data
                .firings
                .iter()
                .filter(|(_, p)| *p as usize == index)
                .map(|(row, _)| *row)
                .collect();
            let hits = fired.iter().filter(|r| data.outcome[**r]).count();
            let rate = share(hits, fired.len());
            let (_, mut leads) = lead_days(data, &|row| fired.contains(&row));
            PlaybookRow {
                name: name.clone(),
                firings: fired.len(),
                rate,
                lift: rate.zip(base_rate).and_then(|(r, b)| stats::lift(r, b)),
                median_lead_days: stats::median(&mut leads),
            }
        })
        .collect();
    let lowest = in_bands(1);
    let (entities_with, mut leads) = lead_days(data, &|row| lowest[row]);
    if data
        .outcome_at
        .iter()
        .zip(&data.outcome)
        .any(|(at, o)| *o && at.is_none())
    {
        notes.push("some outcomes have no time, so lead times leave them out".into());
    }
    Report {
        pipeline: pipeline.to_string(),
        outcome: outcome.to_string(),
        horizon,
        nights,
        entity_nights: n,
        entities: data.entities.len(),
        outcomes,
        base_rate,
        bands,
        flags,
        thresholds,
        auc,
        calibration,
        indicators,
        metrics,
        playbooks,
        lead: Lead {
            entities: entities_with,
            flagged_before: leads.len(),
            median_days: stats::median(&mut leads),
        },
        resamples: bootstrap.resamples,
        seed: bootstrap.seed,
        notes,
        suggestion: None,
    }
}
