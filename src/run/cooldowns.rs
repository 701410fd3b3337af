//! Cooldowns: a playbook does not fire again for the same dedup key while
//! an earlier night's firing is within its cooldown, and fires at most once
//! per dedup key and night.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use datafusion::arrow::array::{BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;

use super::cells::TextColumn;
use super::engine::Engine;
use super::outputs;
use super::settings::RunSettings;
use crate::base::names;
use crate::base::units::Seconds;
use crate::check::model::Model;

/// `(night, playbook, dedup key)` of an action fired on an earlier night.
type Firing = (NaiveDate, String, String);

/// Actions fired on nights within `window_days` before the as-of date:
/// held in memory, and written in the output folder (unless the engine's
/// held nights say only they exist).
async fn recent_firings(engine: &Engine, settings: &RunSettings, window_days: i64) -> Vec<Firing> {
    let held = engine.held();
    let mut fired: Vec<Firing> = held
        .into_iter()
        .flat_map(|h| h.firings(settings.as_of, window_days))
        .map(|(date, p, k)| (date, p.to_string(), k.to_string()))
        .collect();
    if !held.is_none_or(|h| h.reads_folder()) {
        return fired;
    }
    for (date, dir) in outputs::earlier_partitions(&settings.out, settings.as_of) {
        if (settings.as_of - date).num_days() > window_days {
            break;
        }
        if held.is_some_and(|h| h.holds(date)) {
            continue;
        }
        let Some(table) = engine
            .earlier_output(&dir, names::ACTIONS_TABLE, settings)
            .await
        else {
            continue;
        };
        let Ok(df) = engine.session().read_table(table) else {
            continue;
        };
        let Ok(batches) = df.collect().await else {
            continue;
        };
        for batch in &batches {
            let (Some(playbooks), Some(keys)) = (
                TextColumn::of(batch, names::ACTION_PLAYBOOK),
                TextColumn::of(batch, names::ACTION_DEDUP_KEY),
            ) else {
                continue;
            };
            for (p, k) in playbooks.all().zip(keys.all()) {
                if let (Some(p), Some(k)) = (p, k) {
                    fired.push((date, p, k));
                }
            }
        }
    }
    fired
}

/// How many days back a cooldown can reach: the longest playbook cooldown,
/// in whole days (0 without cooldowns).
pub fn cooldown_days(model: &Model) -> i64 {
    model
        .playbooks
        .iter()
        .filter_map(|p| p.cooldown)
        .max()
        .map_or(0, Seconds::days_rounded_up)
}

/// Drop actions still within the cooldown of an earlier identical firing,
/// and repeats of the same dedup key within the night. Returns the actions
/// kept and how many were held back.
pub async fn apply_cooldowns(
    model: &Model,
    engine: &Engine,
    settings: &RunSettings,
    actions: Vec<RecordBatch>,
) -> (Vec<RecordBatch>, usize) {
    let window_days = cooldown_days(model);
    let fired = if window_days > 0 {
        recent_firings(engine, settings, window_days).await
    } else {
        Vec::new()
    };
    hold_back(model, actions, &fired, settings.as_of)
}

fn hold_back(
    model: &Model,
    batches: Vec<RecordBatch>,
    fired: &[Firing],
    as_of: NaiveDate,
) -> (Vec<RecordBatch>, usize) {
    let cooldowns: BTreeMap<&str, Seconds> = model
        .playbooks
        .iter()
        .filter_map(|p| Some((p.name.as_str(), p.cooldown?)))
        .collect();
    let quiet: HashSet<(&str, &str)> = fired
        .iter()
        .filter(|(date, playbook, _)| {
            cooldowns
                .get(playbook.as_str())
                .is_some_and(|cooldown| (as_of - *date).num_seconds() < cooldown.get())
        })
        .map(|(_, p, k)| (p.as_str(), k.as_str()))
        .collect();
    let mut suppressed = 0;
    let mut kept = Vec::new();
    // One action per (playbook, dedup key) and night: the first in output order.
    let mut tonight: HashSet<(String, String)> = HashSet::new();
    for batch in batches {
        let Some(mask) = firing_mask(&batch, &quiet, &mut tonight) else {
            kept.push(batch);
            continue;
        };
        suppressed += mask.iter().filter(|m| *m == Some(false)).count();
        match filter_record_batch(&batch, &mask) {
            Ok(filtered) => kept.push(filtered),
            Err(_) => kept.push(batch),
        }
    }
    (kept, suppressed)
}

/// True for each action that fires: not quiet, and the first tonight for
/// its (playbook, dedup key).
fn firing_mask(
    batch: &RecordBatch,
    quiet: &HashSet<(&str, &str)>,
    tonight: &mut HashSet<(String, String)>,
) -> Option<BooleanArray> {
    let playbooks = TextColumn::of(batch, names::ACTION_PLAYBOOK)?;
    let keys = TextColumn::of(batch, names::ACTION_DEDUP_KEY)?;
    Some(
        playbooks
            .all()
            .zip(keys.all())
            .map(|(p, k)| {
                let (p, k) = (p.unwrap_or_default(), k.unwrap_or_default());
                let held = quiet.contains(&(p.as_str(), k.as_str()));
                Some(!held && tonight.insert((p, k)))
            })
            .collect(),
    )
}
