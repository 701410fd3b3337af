//! Write one night: apply cooldowns to the fired actions, write the
//! scorecard, actions and manifest into a staging folder and rename it
//! into place as `as_of=DATE/`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use super::cells::TextColumn;
use super::cooldowns::{HeldBack, apply_cooldowns, held_back_schema};
use super::engine::Engine;
use super::execute::Computed;
use super::inputs::InputFile;
use super::manifest::{ManifestInput, manifest};
use super::outputs::{self, Staged};
use super::settings::RunSettings;
use super::stopwatch::Stopwatch;
use crate::base::names;
use crate::check::model::Model;
use crate::diagnostics::{Code, Diagnostic};
use crate::sources::SourceLocation;

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The partition written.
    pub partition: PathBuf,
    /// Entities scored.
    pub entities: usize,
    /// Entities per band, in band order (`(no health)` for entities without health).
    pub bands: Vec<(String, usize)>,
    /// Actions written per playbook.
    pub actions: Vec<(String, usize)>,
    /// Actions held back by a cooldown (or a repeat within the night).
    pub suppressed: usize,
    /// Those per playbook, in playbook order.
    pub held_back: Vec<(String, usize)>,
    /// Stage timings in milliseconds.
    pub timings: Vec<(String, f64)>,
    /// What the run repaired in the output folder before it started.
    pub repairs: Vec<String>,
    /// `(source, rows)` its metrics read with a key that is no entity's.
    pub orphan_rows: Vec<(String, u64)>,
    /// Per declared column, the values that did not parse.
    pub parse_failures: Vec<super::parsing::ParseFailures>,
    /// Source rows the aggregations read (inside windows and filters).
    pub rows_read: u64,
    /// When the previous night was scored by other definitions: that
    /// night, and how many entities' health moved more than 10 points.
    pub definitions_changed_since: Option<(chrono::NaiveDate, usize)>,
    /// What the cluster ran, when the facts ran on one (for a backfill,
    /// every night so far).
    pub remote: Option<super::remote::RemoteWork>,
}

/// Entities whose `trend` is beyond ±10 points.
fn big_movers(scorecard: &[RecordBatch]) -> usize {
    scorecard
        .iter()
        .filter_map(|b| b.column_by_name(names::TREND))
        .filter_map(|c| {
            c.as_any()
                .downcast_ref::<datafusion::arrow::array::Float64Array>()
        })
        .map(|trend| trend.iter().flatten().filter(|t| t.abs() > 10.0).count())
        .sum()
}

fn count_by(batches: &[RecordBatch], column: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for batch in batches {
        if let Some(values) = TextColumn::of(batch, column) {
            for v in values.all() {
                *counts
                    .entry(v.unwrap_or_else(|| "(none)".into()))
                    .or_default() += 1;
            }
        }
    }
    counts
}

/// A night computed, with cooldowns applied: everything its partition
/// and summary need, owned, so it can be written on another thread while
/// the next night is computed.
pub struct SettledNight {
    settings: RunSettings,
    computed: Computed,
    held_back: HeldBack,
    watch: Stopwatch,
    inputs: Vec<(SourceLocation, Vec<InputFile>)>,
    previous_night: Option<NaiveDate>,
    definitions_sha256: String,
    partitions: usize,
    definitions_changed: bool,
    remote: Option<super::remote::RemoteWork>,
}

impl SettledNight {
    /// The night.
    pub fn as_of(&self) -> NaiveDate {
        self.settings.as_of
    }

    /// The scorecard, sorted by key.
    pub fn scorecard(&self) -> &[RecordBatch] {
        &self.computed.scorecard
    }

    /// The actions that fire (after cooldowns).
    pub fn actions(&self) -> &[RecordBatch] {
        &self.computed.actions
    }

    /// Everything computed (the working scorecard too).
    pub fn computed(&self) -> &Computed {
        &self.computed
    }

    /// Whether the output format reads back exactly what was computed
    /// The night's results, for adding the rollups computed with other nights'.
    pub fn computed_mut(&mut self) -> &mut Computed {
        &mut self.computed
    }

    /// Record `ms` as the time of `stage`, timed elsewhere (the night's
    /// share of work done for several nights, say).
    pub fn record(&mut self, stage: &str, ms: f64) {
        self.watch.record(stage, ms);
    }

    /// The threads the run may use.
    pub fn threads(&self) -> usize {
        self.settings.threads
    }

    /// (Parquet, Arrow), so a later night may take this one from memory.
    pub fn reads_back_as_computed(&self) -> bool {
        matches!(
            self.settings.format,
            crate::base::FileFormat::Parquet | crate::base::FileFormat::Arrow
        )
    }
}

/// Apply cooldowns (earlier firings from the output folder and the
/// engine's held nights) to the night's fired actions.
pub async fn settle_night(
    model: &Model,
    engine: &Engine,
    settings: RunSettings,
    mut computed: Computed,
    mut watch: Stopwatch,
) -> SettledNight {
    let actions = std::mem::take(&mut computed.actions);
    let (actions, held_back) = apply_cooldowns(model, engine, &settings, actions).await;
    computed.actions = actions;
    watch.lap("cooldowns");
    let inputs = model
        .sources
        .iter()
        .map(|s| (s.location.clone(), engine.input_files(&s.name).to_vec()))
        .collect();
    SettledNight {
        settings,
        computed,
        held_back,
        watch,
        inputs,
        previous_night: engine.previous_night(),
        definitions_sha256: engine.definitions_sha256().to_string(),
        partitions: engine.partitions(),
        definitions_changed: engine.previous_definitions_changed() == Some(true),
        remote: engine.remote_work(),
    }
}

/// Apply cooldowns, then write the night's partition atomically: a failed
/// write leaves every earlier partition (and an earlier run of this night)
/// as it was.
pub async fn write_night(
    model: &Model,
    engine: &Engine,
    settings: RunSettings,
    computed: Computed,
    watch: Stopwatch,
    progress: &dyn Fn(&str),
) -> Result<RunSummary, Vec<Diagnostic>> {
    let settled = settle_night(model, engine, settings, computed, watch).await;
    progress("writing outputs");
    write_settled(model, settled)
}

/// Write a settled night's partition atomically (blocking file I/O) and
/// summarise it.
pub fn write_settled(model: &Model, night: SettledNight) -> Result<RunSummary, Vec<Diagnostic>> {
    stage_settled(model, night)?.commit()
}

/// A night's files written and synced in its staging folder, not yet in
/// place: nights can be staged side by side and put in place in date
/// order.
pub struct StagedNight {
    staged: Staged,
    out: PathBuf,
    summary: RunSummary,
}

impl StagedNight {
    /// Move the partition into place (replacing an earlier one whole).
    pub fn commit(self) -> Result<RunSummary, Vec<Diagnostic>> {
        let StagedNight {
            staged,
            out,
            mut summary,
        } = self;
        summary.partition = staged
            .commit()
            .map_err(|e| cannot_write(&out, "the partition", e.to_string()))?;
        Ok(summary)
    }
}

fn cannot_write(out: &std::path::Path, what: &str, e: String) -> Vec<Diagnostic> {
    vec![
        Diagnostic::error(
            Code::OutputFailed,
            format!("cannot write {what} under {}: {e}", out.display()),
        )
        .help(
            "check that the output folder is writable and the disk has room; earlier outputs are untouched",
        ),
    ]
}

/// Write a settled night's files into its staging folder (blocking file
/// I/O) and summarise it; [`StagedNight::commit`] puts it in place.
pub fn stage_settled(model: &Model, night: SettledNight) -> Result<StagedNight, Vec<Diagnostic>> {
    let SettledNight {
        settings,
        computed,
        held_back,
        mut watch,
        inputs,
        previous_night,
        definitions_sha256,
        partitions,
        definitions_changed,
        remote,
    } = night;
    watch.restart_lap();
    let actions = &computed.actions;
    let write_error = |what: &str, e: String| cannot_write(&settings.out, what, e);
    let staged = Staged::new(&settings.out, &outputs::partition_name(settings.as_of))
        .map_err(|e| write_error("the output folder", e.to_string()))?;
    let scorecard_file = outputs::file_name(names::SCORECARD_TABLE, settings.format);
    let cells = if settings.raw_csv {
        outputs::CsvCells::AsComputed
    } else {
        outputs::CsvCells::Neutralised
    };
    outputs::write_table(
        &staged.dir.join(&scorecard_file),
        &computed.scorecard_schema,
        &computed.scorecard,
        settings.format,
        cells,
    )
    .map_err(|e| write_error("the scorecard", e))?;
    let actions_file = outputs::file_name(names::ACTIONS_TABLE, settings.format);
    outputs::write_table(
        &staged.dir.join(&actions_file),
        &computed.actions_schema,
        actions,
        settings.format,
        cells,
    )
    .map_err(|e| write_error("the actions", e))?;
    let entities: usize = computed.scorecard.iter().map(|b| b.num_rows()).sum();
    let action_rows: usize = actions.iter().map(|b| b.num_rows()).sum();
    let held_back_file = outputs::file_name(names::HELD_BACK_TABLE, settings.format);
    outputs::write_table(
        &staged.dir.join(&held_back_file),
        &held_back_schema(&computed.actions_schema),
        &held_back.batches,
        settings.format,
        cells,
    )
    .map_err(|e| write_error("the held-back actions", e))?;
    let suppressed = held_back.total();
    let rollups_file = outputs::file_name(names::ROLLUPS_TABLE, settings.format);
    let mut files = vec![
        (names::SCORECARD_TABLE, scorecard_file.as_str(), entities),
        (names::ACTIONS_TABLE, actions_file.as_str(), action_rows),
        (names::HELD_BACK_TABLE, held_back_file.as_str(), suppressed),
    ];
    if let Some(rollups) = &computed.rollups {
        outputs::write_table(
            &staged.dir.join(&rollups_file),
            &rollups.schema,
            &rollups.batches,
            settings.format,
            cells,
        )
        .map_err(|e| write_error("the rollups", e))?;
        let rows = rollups.batches.iter().map(|b| b.num_rows()).sum();
        files.push((names::ROLLUPS_TABLE, rollups_file.as_str(), rows));
    }
    watch.lap("write");
    let timings = watch.finish();

    let inputs: Vec<(&SourceLocation, Vec<InputFile>)> =
        inputs.iter().map(|(l, f)| (l, f.clone())).collect();
    let manifest = manifest(&ManifestInput {
        model,
        settings: &settings,
        inputs: &inputs,
        previous_night,
        definitions_sha256: &definitions_sha256,
        partitions,
        files: &files,
        held_back: &held_back.by_playbook,
        orphan_rows: &computed.orphan_rows,
        parse_failures: &computed.parse_failures,
        timings: &timings,
    });
    outputs::write_synced(&staged.dir.join(names::MANIFEST_FILE), manifest.as_bytes())
        .map_err(|e| write_error("the manifest", e.to_string()))?;

    let band_counts = count_by(&computed.scorecard, names::BAND);
    let mut bands: Vec<(String, usize)> = Vec::new();
    if let Some(health) = &model.health {
        for band in &health.bands {
            bands.push((
                band.name.clone(),
                band_counts.get(&band.name).copied().unwrap_or(0),
            ));
        }
        if let Some(n) = band_counts.get("(none)") {
            bands.push(("(no health)".to_string(), *n));
        }
    }
    let fired_counts = count_by(actions, names::ACTION_PLAYBOOK);
    let actions_summary = model
        .playbooks
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                fired_counts.get(&p.name).copied().unwrap_or(0),
            )
        })
        .collect();
    let summary = RunSummary {
        partition: PathBuf::new(),
        entities,
        bands,
        actions: actions_summary,
        suppressed,
        held_back: held_back.by_playbook,
        timings,
        repairs: Vec::new(),
        orphan_rows: computed.orphan_rows.clone(),
        parse_failures: computed.parse_failures.clone(),
        rows_read: computed.rows_read,
        definitions_changed_since: previous_night
            .filter(|_| definitions_changed)
            .map(|night| (night, big_movers(&computed.scorecard))),
        remote,
    };
    Ok(StagedNight {
        staged,
        out: settings.out,
        summary,
    })
}
