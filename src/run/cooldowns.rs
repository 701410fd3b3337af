//! Cooldowns: a playbook does not fire again for the same dedup key while
//! an earlier night's firing is within its cooldown, and fires at most once
//! per dedup key and night.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, BooleanArray, Date32Array, RecordBatch, StringArray};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

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

/// The first earlier night whose firing still holds an action back on
/// `as_of`: a night holds back while the time from it to `as_of` is
/// shorter than the cooldown. `None` when no earlier night can (a
/// cooldown of a day or less).
pub fn quiet_since(as_of: NaiveDate, cooldown: Seconds) -> Option<NaiveDate> {
    let days = cooldown.days_rounded_up() - 1;
    (days >= 1).then(|| as_of - chrono::Duration::days(days))
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

/// Actions that do not fire tonight, with why: the columns of the
/// actions, then `held_because`, `last_fired` and `cooldown_ends`.
#[derive(Debug, Clone, Default)]
pub struct HeldBack {
    /// The held-back actions, in the actions' order.
    pub batches: Vec<RecordBatch>,
    /// How many each playbook held back, in playbook order (zeros too).
    pub by_playbook: Vec<(String, usize)>,
}

impl HeldBack {
    /// How many actions were held back in all.
    pub fn total(&self) -> usize {
        self.by_playbook.iter().map(|(_, n)| n).sum()
    }
}

/// A held-back action's playbook, the night it last fired and why.
type Reason = (String, NaiveDate, &'static str);

/// Why an action was held back, in the `held_because` column.
const BECAUSE_COOLDOWN: &str = "cooldown";
/// The other reason: an earlier action tonight had its dedup key.
const BECAUSE_REPEAT: &str = "same dedup key tonight";

/// Hold back the actions still within the cooldown of an earlier
/// identical firing, and repeats of the same dedup key within the night.
/// Returns the actions that fire and those held back (with why).
pub async fn apply_cooldowns(
    model: &Model,
    engine: &Engine,
    settings: &RunSettings,
    actions: Vec<RecordBatch>,
) -> (Vec<RecordBatch>, HeldBack) {
    let window_days = cooldown_days(model);
    let fired = if window_days > 0 {
        recent_firings(engine, settings, window_days).await
    } else {
        Vec::new()
    };
    hold_back(model, actions, &fired, settings.as_of)
}

/// The schema of held-back actions: the actions' columns and why.
pub fn held_back_schema(actions: &Schema) -> SchemaRef {
    let mut fields: Vec<Arc<Field>> = actions.fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(
        names::HELD_BECAUSE,
        DataType::Utf8,
        false,
    )));
    fields.push(Arc::new(Field::new(
        names::LAST_FIRED,
        DataType::Date32,
        false,
    )));
    fields.push(Arc::new(Field::new(
        names::COOLDOWN_ENDS,
        DataType::Date32,
        true,
    )));
    Arc::new(Schema::new(fields))
}

fn days_since_epoch(date: NaiveDate) -> i32 {
    i32::try_from((date - NaiveDate::default()).num_days()).unwrap_or(i32::MAX)
}

fn hold_back(
    model: &Model,
    batches: Vec<RecordBatch>,
    fired: &[Firing],
    as_of: NaiveDate,
) -> (Vec<RecordBatch>, HeldBack) {
    let cooldowns: BTreeMap<&str, Seconds> = model
        .playbooks
        .iter()
        .filter_map(|p| Some((p.name.as_str(), p.cooldown?)))
        .collect();
    // The latest earlier firing of each (playbook, dedup key) still quiet.
    let mut quiet: HashMap<(&str, &str), NaiveDate> = HashMap::new();
    for (date, playbook, key) in fired {
        let within = cooldowns
            .get(playbook.as_str())
            .and_then(|cooldown| quiet_since(as_of, *cooldown))
            .is_some_and(|since| *date >= since);
        if within {
            let latest = quiet
                .entry((playbook.as_str(), key.as_str()))
                .or_insert(*date);
            *latest = (*latest).max(*date);
        }
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut kept = Vec::new();
    let mut held = Vec::new();
    // One action per (playbook, dedup key) and night: the first in output order.
    let mut tonight: HashSet<(String, String)> = HashSet::new();
    for batch in batches {
        let Some(reasons) = held_reasons(&batch, &quiet, &mut tonight, as_of) else {
            kept.push(batch);
            continue;
        };
        let fires: BooleanArray = reasons.iter().map(|r| Some(r.is_none())).collect();
        let is_held: BooleanArray = reasons.iter().map(|r| Some(r.is_some())).collect();
        match filter_record_batch(&batch, &fires) {
            Ok(filtered) => kept.push(filtered),
            Err(_) => kept.push(batch.clone()),
        }
        let reasons: Vec<Reason> = reasons.into_iter().flatten().collect();
        if reasons.is_empty() {
            continue;
        }
        for (playbook, _, _) in &reasons {
            *counts.entry(playbook.clone()).or_default() += 1;
        }
        if let Ok(rows) = filter_record_batch(&batch, &is_held)
            && let Some(with_reasons) = with_reasons(&rows, &reasons, &cooldowns)
        {
            held.push(with_reasons);
        }
    }
    let by_playbook = model
        .playbooks
        .iter()
        .map(|p| (p.name.clone(), counts.get(&p.name).copied().unwrap_or(0)))
        .collect();
    (
        kept,
        HeldBack {
            batches: held,
            by_playbook,
        },
    )
}

/// `rows` (held back) with why: the reason, the night the action last
/// fired and the first night it may fire again.
fn with_reasons(
    rows: &RecordBatch,
    reasons: &[Reason],
    cooldowns: &BTreeMap<&str, Seconds>,
) -> Option<RecordBatch> {
    let because: StringArray = reasons.iter().map(|(_, _, why)| Some(*why)).collect();
    let last: Date32Array = reasons
        .iter()
        .map(|(_, date, _)| Some(days_since_epoch(*date)))
        .collect();
    let ends: Date32Array = reasons
        .iter()
        .map(|(playbook, date, _)| {
            let days = cooldowns.get(playbook.as_str())?.days_rounded_up();
            Some(days_since_epoch(*date + chrono::Duration::days(days)))
        })
        .collect();
    let mut columns: Vec<ArrayRef> = rows.columns().to_vec();
    columns.extend([
        Arc::new(because) as ArrayRef,
        Arc::new(last),
        Arc::new(ends),
    ]);
    RecordBatch::try_new(held_back_schema(&rows.schema()), columns).ok()
}

/// For each action, `None` when it fires, else `(playbook, last fired,
/// why)`: quiet after an earlier night's firing, or not the first tonight
/// for its (playbook, dedup key).
fn held_reasons(
    batch: &RecordBatch,
    quiet: &HashMap<(&str, &str), NaiveDate>,
    tonight: &mut HashSet<(String, String)>,
    as_of: NaiveDate,
) -> Option<Vec<Option<Reason>>> {
    let playbooks = TextColumn::of(batch, names::ACTION_PLAYBOOK)?;
    let keys = TextColumn::of(batch, names::ACTION_DEDUP_KEY)?;
    Some(
        playbooks
            .all()
            .zip(keys.all())
            .map(|(p, k)| {
                let (p, k) = (p.unwrap_or_default(), k.unwrap_or_default());
                if let Some(date) = quiet.get(&(p.as_str(), k.as_str())).copied() {
                    return Some((p, date, BECAUSE_COOLDOWN));
                }
                if tonight.insert((p.clone(), k)) {
                    None
                } else {
                    Some((p, as_of, BECAUSE_REPEAT))
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_night_holds_back_while_it_is_nearer_than_the_cooldown() {
        let as_of = NaiveDate::from_ymd_opt(2026, 11, 1).expect("date");
        let days = |n| Seconds::of(n, 86_400).expect("days");
        let hours = |n| Seconds::of(n, 3_600).expect("hours");
        // 14 days: a night 13 days back holds, 14 days back does not.
        assert_eq!(
            quiet_since(as_of, days(14)),
            as_of.checked_sub_days(chrono::Days::new(13))
        );
        // 36 hours: only yesterday (24 h < 36 h; 48 h is not).
        assert_eq!(quiet_since(as_of, hours(36)), as_of.pred_opt());
        // A day or less: no earlier night is near enough.
        assert_eq!(quiet_since(as_of, days(1)), None);
    }
}
