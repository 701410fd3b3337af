//! Earlier nights held in memory. A backfill or a backtest computes nights
//! in date order; each night hands the next its health (for
//! `previous_health` and `trend`) and the actions it fired (for cooldowns),
//! so the next night neither waits for the earlier one's files nor needs
//! an output folder at all.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use super::cells::TextColumn;
use super::entity::ProgramCache;
use super::facts::PreviousHealth;
use super::inputs::InputListing;
use crate::base::names;

/// The nights held, and whether the output folder's nights count too.
#[derive(Debug, Clone, Default)]
pub struct HeldNights {
    read_folder: bool,
    nights: BTreeMap<NaiveDate, HeldNight>,
    programs: ProgramCache,
    inputs: InputListing,
}

/// What one night hands to the later ones.
#[derive(Debug, Clone)]
struct HeldNight {
    health: Option<PreviousHealth>,
    /// `(playbook, dedup key)` of each action it fired (after cooldowns).
    firings: Arc<Vec<(String, String)>>,
}

impl HeldNights {
    /// No nights yet. With `read_folder`, the output folder's partitions
    /// are earlier nights too (a backfill); without, only the nights held
    /// exist (a backtest, which writes nothing).
    pub fn new(read_folder: bool) -> Self {
        HeldNights {
            read_folder,
            nights: BTreeMap::new(),
            programs: ProgramCache::default(),
            inputs: InputListing::default(),
        }
    }

    /// The entity program compiled for an earlier night, for the later
    /// nights to reuse.
    pub fn programs(&self) -> &ProgramCache {
        &self.programs
    }

    /// The sources' files as listed for the first night, for the later
    /// nights' manifests.
    pub fn inputs(&self) -> &InputListing {
        &self.inputs
    }

    /// Hold `night`: its health (when it has health) and the actions it
    /// fired. Nights older than `keep_days` before it are let go, except
    /// the newest night before it (a later night's previous health).
    pub fn hold(
        &mut self,
        night: NaiveDate,
        health: Option<PreviousHealth>,
        actions: &[RecordBatch],
        keep_days: i64,
    ) {
        let mut firings = Vec::new();
        for batch in actions {
            if let (Some(playbooks), Some(keys)) = (
                TextColumn::of(batch, names::ACTION_PLAYBOOK),
                TextColumn::of(batch, names::ACTION_DEDUP_KEY),
            ) {
                for (p, k) in playbooks.all().zip(keys.all()) {
                    if let (Some(p), Some(k)) = (p, k) {
                        firings.push((p, k));
                    }
                }
            }
        }
        self.nights.insert(
            night,
            HeldNight {
                health,
                firings: Arc::new(firings),
            },
        );
        self.nights
            .retain(|date, _| *date >= night || (night - *date).num_days() <= keep_days);
    }

    /// Whether the output folder's partitions are earlier nights too.
    pub fn reads_folder(&self) -> bool {
        self.read_folder
    }

    /// Whether `night` is held (then its partition, if any, is not read).
    pub fn holds(&self, night: NaiveDate) -> bool {
        self.nights.contains_key(&night)
    }

    /// The newest night before `as_of` held with health, and that health.
    pub fn latest_health(&self, as_of: NaiveDate) -> Option<(NaiveDate, &PreviousHealth)> {
        self.nights
            .range(..as_of)
            .rev()
            .find_map(|(date, night)| Some((*date, night.health.as_ref()?)))
    }

    /// `(night, playbook, dedup key)` of the actions fired on held nights
    /// within `window_days` before `as_of`.
    pub fn firings(
        &self,
        as_of: NaiveDate,
        window_days: i64,
    ) -> impl Iterator<Item = (NaiveDate, &str, &str)> {
        self.nights
            .range(..as_of)
            .filter(move |(date, _)| (as_of - **date).num_days() <= window_days)
            .flat_map(|(date, night)| {
                night
                    .firings
                    .iter()
                    .map(move |(p, k)| (*date, p.as_str(), k.as_str()))
            })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Float64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().expect("date")
    }

    fn health(night: &str) -> PreviousHealth {
        PreviousHealth {
            night: date(night),
            keys: Arc::new(StringArray::from(vec!["a"])) as ArrayRef,
            health: Arc::new(Float64Array::from(vec![50.0])) as ArrayRef,
        }
    }

    fn actions(pairs: &[(&str, &str)]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new(names::ACTION_PLAYBOOK, DataType::Utf8, true),
            Field::new(names::ACTION_DEDUP_KEY, DataType::Utf8, true),
        ]);
        let playbooks: Vec<&str> = pairs.iter().map(|(p, _)| *p).collect();
        let keys: Vec<&str> = pairs.iter().map(|(_, k)| *k).collect();
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringArray::from(playbooks)),
                Arc::new(StringArray::from(keys)),
            ],
        )
        .expect("batch")
    }

    #[test]
    fn the_previous_night_is_the_newest_held_before_the_as_of_date() {
        let mut held = HeldNights::new(true);
        held.hold(date("2026-01-01"), Some(health("2026-01-01")), &[], 0);
        held.hold(date("2026-01-08"), Some(health("2026-01-08")), &[], 0);
        assert_eq!(
            held.latest_health(date("2026-01-15")).map(|(d, _)| d),
            Some(date("2026-01-08"))
        );
        assert!(held.latest_health(date("2026-01-08")).is_none(), "let go");
        assert!(held.holds(date("2026-01-08")) && !held.holds(date("2026-01-01")));
        assert!(
            HeldNights::new(false)
                .latest_health(date("2026-01-15"))
                .is_none()
        );
    }

    #[test]
    fn firings_within_the_cooldown_window_are_kept_and_counted() {
        let mut held = HeldNights::new(false);
        held.hold(date("2026-01-01"), None, &[actions(&[("call", "a")])], 14);
        held.hold(date("2026-01-08"), None, &[actions(&[("call", "b")])], 14);
        held.hold(date("2026-01-20"), None, &[actions(&[("mail", "c")])], 14);
        let recent: Vec<_> = held.firings(date("2026-01-22"), 14).collect();
        assert_eq!(
            recent,
            [
                (date("2026-01-08"), "call", "b"),
                (date("2026-01-20"), "mail", "c")
            ]
        );
        assert!(
            !held.holds(date("2026-01-01")),
            "older than 14 days: let go"
        );
        assert!(!held.reads_folder());
    }
}
