//! What the report shows, read from the nights already written: the
//! chosen night's scorecard, actions, rollups and manifest in full, the
//! previous night's scorecard and actions (for what changed), and of every
//! night up to the chosen one only the key, health and band (for the
//! history charts), read column by column.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};

use crate::base::{FileFormat, names};
use crate::check::model::Model;
use crate::diagnostics::{Code, Diagnostic};
use crate::run::TextColumn;
use crate::run::stored::{self, WrittenNight};

/// One column of a table read back: numbers (every numeric type, as
/// `f64`) or text (everything else, as Arrow displays it).
#[derive(Debug, Clone)]
pub enum Column {
    /// Numeric values.
    Numbers(Vec<Option<f64>>),
    /// Text values.
    Texts(Vec<Option<String>>),
}

impl Column {
    /// A number: a numeric cell, or a text cell that parses as one.
    pub fn number(&self, row: usize) -> Option<f64> {
        match self {
            Column::Numbers(values) => values.get(row).copied().flatten(),
            Column::Texts(values) => values.get(row)?.as_deref()?.trim().parse().ok(),
        }
        .filter(|x: &f64| x.is_finite())
    }

    /// A text cell (`None` for numbers and nulls).
    pub fn text(&self, row: usize) -> Option<&str> {
        match self {
            Column::Texts(values) => values.get(row)?.as_deref(),
            Column::Numbers(_) => None,
        }
    }

    /// Whether the column holds numbers.
    pub fn is_numbers(&self) -> bool {
        matches!(self, Column::Numbers(_))
    }
}

/// A table read back, column by column, every batch concatenated.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Its rows.
    pub rows: usize,
    columns: BTreeMap<String, Column>,
}

impl Table {
    /// The batches as one table.
    fn of(batches: &[RecordBatch]) -> Table {
        let mut table = Table {
            rows: batches.iter().map(RecordBatch::num_rows).sum(),
            columns: BTreeMap::new(),
        };
        let Some(first) = batches.first() else {
            return table;
        };
        for field in first.schema().fields() {
            let name = field.name();
            let numeric = field.data_type().is_numeric();
            let mut column = match numeric {
                true => Column::Numbers(Vec::with_capacity(table.rows)),
                false => Column::Texts(Vec::with_capacity(table.rows)),
            };
            for batch in batches {
                let Some(array) = batch.column_by_name(name) else {
                    continue;
                };
                match &mut column {
                    Column::Numbers(values) => match cast(array, &DataType::Float64) {
                        Ok(floats) => values.extend(floats.as_primitive::<Float64Type>().iter()),
                        Err(_) => values.extend(std::iter::repeat_n(None, array.len())),
                    },
                    Column::Texts(values) => match array.as_string_opt::<i32>() {
                        Some(strings) => {
                            values.extend(strings.iter().map(|s| s.map(str::to_string)))
                        }
                        None => match TextColumn::of(batch, name) {
                            Some(text) => values.extend(text.all()),
                            None => values.extend(std::iter::repeat_n(None, array.len())),
                        },
                    },
                }
            }
            table.columns.insert(name.clone(), column);
        }
        table
    }

    /// Read text columns whose every value is a number as numbers
    /// (a CSV night is read as text), except `keep` (the entity key) and
    /// columns with a value such as `007`, which a number would change.
    fn infer_numbers(&mut self, keep: &str) {
        for (name, column) in &mut self.columns {
            let Column::Texts(values) = column else {
                continue;
            };
            if name == keep {
                continue;
            }
            let parsed: Option<Vec<Option<f64>>> = values
                .iter()
                .map(|v| match v.as_deref() {
                    None => Some(None),
                    Some(text) => {
                        let digits = text.trim_start_matches('-');
                        let leading_zero = digits.len() > 1
                            && digits.starts_with('0')
                            && !digits.starts_with("0.");
                        match text.parse::<f64>() {
                            Ok(x) if x.is_finite() && !leading_zero => Some(Some(x)),
                            _ => None,
                        }
                    }
                })
                .collect();
            if let Some(numbers) = parsed.filter(|n| n.iter().any(Option::is_some)) {
                *column = Column::Numbers(numbers);
            }
        }
    }

    /// Whether the table has the column.
    pub fn has(&self, column: &str) -> bool {
        self.columns.contains_key(column)
    }

    /// A column, to read many cells of without looking it up each time.
    pub fn column(&self, column: &str) -> Option<&Column> {
        self.columns.get(column)
    }

    /// A number: a numeric cell, or a text cell that parses as one.
    pub fn number(&self, column: &str, row: usize) -> Option<f64> {
        self.columns.get(column)?.number(row)
    }

    /// A text cell (`None` for numbers and nulls).
    pub fn text(&self, column: &str, row: usize) -> Option<&str> {
        self.columns.get(column)?.text(row)
    }
}

/// Per night, the counts the overview charts: accounts per band and the
/// mean health.
#[derive(Debug, Clone)]
pub struct NightCounts {
    /// The night.
    pub as_of: NaiveDate,
    /// Entities scored.
    pub entities: usize,
    /// Entities per band, by band index; the last entry counts those
    /// without a band.
    pub bands: Vec<usize>,
    /// The mean health of the entities that have one.
    pub mean_health: Option<f64>,
}

/// One night of one entity's history.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    /// The night's index in [`Book::nights`].
    pub night: u32,
    /// Health that night.
    pub health: Option<f64>,
    /// Band index that night.
    pub band: Option<u16>,
}

/// One action of the night, as written.
#[derive(Debug, Clone, Default)]
pub struct Action {
    /// The entity's key.
    pub entity: String,
    /// The playbook.
    pub playbook: String,
    /// The action.
    pub action: String,
    /// Its priority.
    pub priority: String,
    /// The rendered owner.
    pub owner: Option<String>,
    /// The rendered message.
    pub message: String,
    /// The values the condition read.
    pub reason: String,
    /// For an action held back: why, when it last fired and when it may
    /// fire again.
    pub held: Option<String>,
}

/// One row of the night's rollups.
#[derive(Debug, Clone)]
pub struct RollupRow {
    /// The rollup.
    pub rollup: String,
    /// `(column, value)` of the columns it groups by.
    pub groups: Vec<(String, Option<String>)>,
    /// Its value.
    pub value: Option<f64>,
}

/// Everything the report is made of.
#[derive(Debug)]
pub struct Book {
    /// The folder the nights were read from.
    pub outputs: std::path::PathBuf,
    /// The nights up to the chosen one, oldest first.
    pub nights: Vec<NaiveDate>,
    /// Nights in the folder after the chosen one (not shown).
    pub later_nights: usize,
    /// Band names, lowest first (the pipeline's, then any other a night holds).
    pub bands: Vec<String>,
    /// The chosen night's scorecard, sorted by key as written.
    pub scorecard: Table,
    /// The previous night's scorecard, if there is a previous night.
    pub previous: Option<Table>,
    /// Row of each key in the previous scorecard.
    pub previous_rows: HashMap<String, usize>,
    /// Per row of the chosen scorecard, its history (one point per night
    /// it was scored).
    pub history: Vec<Vec<Point>>,
    /// Per night, the counts.
    pub counts: Vec<NightCounts>,
    /// The chosen night's actions, in the order written.
    pub actions: Vec<Action>,
    /// `(entity, playbook)` of the previous night's actions.
    pub previous_actions: BTreeSet<(String, String)>,
    /// The chosen night's rollups, in the order written.
    pub rollups: Vec<RollupRow>,
    /// Actions held back by cooldowns on the chosen night (its manifest).
    pub held_back: Option<u64>,
    /// Those actions, when the night wrote them (`held_back.<ext>`).
    pub held_back_actions: Vec<Action>,
    /// Whether the previous night was scored by other definitions (the
    /// manifests' hashes differ); `None` when either does not say.
    pub definitions_changed: Option<bool>,
}

impl Book {
    /// The chosen night.
    pub fn as_of(&self) -> NaiveDate {
        self.nights.last().copied().unwrap_or_default()
    }

    /// The previous night, if any.
    pub fn previous_night(&self) -> Option<NaiveDate> {
        self.nights.len().checked_sub(2).map(|i| self.nights[i])
    }

    /// The band index of a band name.
    pub fn band_index(&self, band: Option<&str>) -> Option<u16> {
        let band = band?;
        self.bands
            .iter()
            .position(|b| b == band)
            .and_then(|i| u16::try_from(i).ok())
    }
}

/// The nights of `outputs` up to `as_of` (the newest night when `None`),
/// or why not.
pub fn choose_nights(
    outputs: &Path,
    as_of: Option<NaiveDate>,
    pipeline: &Path,
) -> Result<(Vec<WrittenNight>, usize), Diagnostic> {
    let nights = stored::nights_in(outputs);
    let Some(newest) = nights.last() else {
        return Err(stored::no_nights(outputs, pipeline, "--outputs"));
    };
    let as_of = as_of.unwrap_or(newest.as_of);
    if !nights.iter().any(|n| n.as_of == as_of) {
        let dates: Vec<NaiveDate> = nights.iter().map(|n| n.as_of).collect();
        return Err(stored::night_missing(
            outputs, &dates, "--as-of", as_of, pipeline,
        ));
    }
    let later = nights.iter().filter(|n| n.as_of > as_of).count();
    let upto = nights.into_iter().filter(|n| n.as_of <= as_of).collect();
    Ok((upto, later))
}

/// A night's file could not be read.
fn unreadable(what: String) -> Diagnostic {
    Diagnostic::error(Code::DataUnreadable, what).help(
        "the night's files are damaged or were not written by Vane; write the night again with `vane run --as-of` (or `vane backfill --force`)",
    )
}

/// One table of a night: `columns` of it (every column when `None`).
fn read_table(
    night: &WrittenNight,
    format: FileFormat,
    table: &str,
    columns: Option<&[&str]>,
    neutralised: bool,
    key: &str,
) -> Result<Option<Table>, Diagnostic> {
    let path = night.table_path(table, format);
    if !path.is_file() {
        return Ok(None);
    }
    let batches = stored::read_written(&path, format, columns, neutralised)
        .map_err(|e| unreadable(format!("cannot read {}: {e}", path.display())))?;
    let mut read = Table::of(&batches);
    if format == FileFormat::Csv && table == names::SCORECARD_TABLE {
        read.infer_numbers(key);
    }
    Ok(Some(read))
}

/// A night's scorecard (required) in the format it was written in.
fn scorecard_of(
    night: &WrittenNight,
    preferred: FileFormat,
    columns: Option<&[&str]>,
    key: &str,
) -> Result<(Table, FileFormat, bool), Diagnostic> {
    let Some(format) = night.format(preferred) else {
        return Err(unreadable(format!(
            "the night {} in {} has no scorecard file",
            night.as_of,
            night
                .partition
                .parent()
                .map_or(String::new(), |p| p.display().to_string())
        )));
    };
    let neutralised = night.csv_formulas_neutralised();
    let table = read_table(
        night,
        format,
        names::SCORECARD_TABLE,
        columns,
        neutralised,
        key,
    )?
    .unwrap_or_default();
    Ok((table, format, neutralised))
}

/// The actions of a night as rows.
fn actions_of(table: &Table) -> Vec<Action> {
    let text = |column: &str, row: usize| table.text(column, row).unwrap_or_default().to_string();
    (0..table.rows)
        .map(|row| Action {
            entity: text(names::ACTION_ENTITY, row),
            playbook: text(names::ACTION_PLAYBOOK, row),
            action: text("action", row),
            priority: text("priority", row),
            owner: table.text("owner", row).map(str::to_string),
            message: text(names::ACTION_MESSAGE, row),
            reason: text("reason", row),
            held: table.text(names::HELD_BECAUSE, row).map(|why| {
                let last = table.text(names::LAST_FIRED, row).unwrap_or("?");
                match table.text(names::COOLDOWN_ENDS, row) {
                    Some(ends) => {
                        format!("held back ({why}): last fired {last}, may fire again from {ends}")
                    }
                    None => format!("held back ({why}): last fired {last}"),
                }
            }),
        })
        .collect()
}

/// The rollups of a night as rows.
fn rollups_of(table: &Table, model: &Model) -> Vec<RollupRow> {
    (0..table.rows)
        .filter_map(|row| {
            let rollup = table.text("rollup", row)?.to_string();
            // A rollup the pipeline no longer defines groups by the
            // columns its row fills.
            let by = match model.rollups.iter().find(|r| r.name == rollup) {
                Some(r) => r.by.clone(),
                None => table
                    .columns
                    .keys()
                    .filter(|c| !matches!(c.as_str(), names::AS_OF_DATE | "rollup" | "value"))
                    .filter(|c| table.text(c, row).is_some())
                    .cloned()
                    .collect(),
            };
            let groups = by
                .iter()
                .map(|g| (g.clone(), table.text(g, row).map(str::to_string)))
                .collect();
            Some(RollupRow {
                rollup,
                groups,
                value: table.number("value", row),
            })
        })
        .collect()
}

/// Read the book: `nights` (oldest first, the chosen one last) of the
/// output folder `outputs`, for `model`.
pub fn read_book(
    model: &Model,
    outputs: &Path,
    nights: &[WrittenNight],
    later_nights: usize,
) -> Result<Book, Diagnostic> {
    let preferred = model.outputs.format;
    let key = model.entity.key.as_str();
    let Some(chosen) = nights.last() else {
        return Err(Diagnostic::error(
            Code::NightMissing,
            format!("no nights are written in {}", outputs.display()),
        ));
    };
    let (scorecard, format, neutralised) = scorecard_of(chosen, preferred, None, key)?;
    if !scorecard.has(key) {
        return Err(unreadable(format!(
            "the scorecard of {} in {} has no column `{key}`: it was written by another pipeline",
            chosen.as_of,
            outputs.display()
        )));
    }
    let actions = read_table(chosen, format, names::ACTIONS_TABLE, None, neutralised, key)?
        .map(|t| actions_of(&t))
        .unwrap_or_default();
    let rollups = read_table(chosen, format, names::ROLLUPS_TABLE, None, neutralised, key)?
        .map(|t| rollups_of(&t, model))
        .unwrap_or_default();
    let held_back_actions = read_table(
        chosen,
        format,
        names::HELD_BACK_TABLE,
        None,
        neutralised,
        key,
    )?
    .map(|t| actions_of(&t))
    .unwrap_or_default();
    let manifest = chosen.manifest();
    let held_back = manifest
        .as_ref()
        .and_then(|m| m["actions_suppressed_by_cooldown"].as_u64());

    let mut bands: Vec<String> = model
        .health
        .iter()
        .flat_map(|h| {
            let mut bands: Vec<_> = h.bands.iter().collect();
            bands.sort_by(|a, b| a.from.total_cmp(&b.from));
            bands.into_iter().map(|b| b.name.clone())
        })
        .collect();

    let rows: HashMap<&str, usize> = (0..scorecard.rows)
        .filter_map(|row| Some((scorecard.text(key, row)?, row)))
        .collect();
    let mut history: Vec<Vec<Point>> = vec![Vec::new(); scorecard.rows];
    let mut counts = Vec::with_capacity(nights.len());
    let mut previous = None;
    let mut previous_actions = BTreeSet::new();
    let mut definitions_changed = None;
    let history_columns = [key, names::HEALTH, names::BAND];
    for (index, night) in nights.iter().enumerate() {
        let is_chosen = index + 1 == nights.len();
        let is_previous = index + 2 == nights.len();
        let mut read = if is_chosen {
            None
        } else if is_previous {
            let (table, format, neutralised) = scorecard_of(night, preferred, None, key)?;
            previous_actions =
                read_table(night, format, names::ACTIONS_TABLE, None, neutralised, key)?
                    .map(|t| {
                        actions_of(&t)
                            .into_iter()
                            .map(|a| (a.entity, a.playbook))
                            .collect()
                    })
                    .unwrap_or_default();
            let hash = |m: Option<serde_json::Value>| {
                m.and_then(|m| {
                    m["pipeline"]["definitions_sha256"]
                        .as_str()
                        .map(str::to_string)
                })
            };
            definitions_changed = match (hash(night.manifest()), hash(manifest.clone())) {
                (Some(before), Some(now)) => Some(before != now),
                _ => None,
            };
            Some(table)
        } else {
            Some(scorecard_of(night, preferred, Some(&history_columns), key)?.0)
        };
        if is_previous {
            previous = read.take();
        }
        let table = match (&read, &previous) {
            (Some(table), _) => table,
            (None, Some(table)) if is_previous => table,
            _ => &scorecard,
        };
        let night_index = u32::try_from(index).unwrap_or(u32::MAX);
        let mut by_band = vec![0usize; bands.len() + 1];
        let (mut sum, mut scored) = (0.0, 0usize);
        for row in 0..table.rows {
            let health = table.number(names::HEALTH, row);
            let band_name = table.text(names::BAND, row);
            let band = match band_name {
                Some(name) => match bands.iter().position(|b| b == name) {
                    Some(i) => Some(i),
                    None => {
                        bands.push(name.to_string());
                        by_band.insert(bands.len() - 1, 0);
                        Some(bands.len() - 1)
                    }
                },
                None => None,
            };
            match band {
                Some(i) => by_band[i] += 1,
                None => {
                    if let Some(last) = by_band.last_mut() {
                        *last += 1;
                    }
                }
            }
            if let Some(h) = health {
                sum += h;
                scored += 1;
            }
            if let Some(&at) = table.text(key, row).and_then(|k| rows.get(k)) {
                history[at].push(Point {
                    night: night_index,
                    health,
                    band: band.and_then(|b| u16::try_from(b).ok()),
                });
            }
        }
        counts.push(NightCounts {
            as_of: night.as_of,
            entities: table.rows,
            bands: by_band,
            mean_health: (scored > 0).then(|| sum / scored as f64),
        });
    }
    // Nights read before a band first appeared count none of it.
    for night in &mut counts {
        while night.bands.len() < bands.len() + 1 {
            let at = night.bands.len() - 1;
            night.bands.insert(at, 0);
        }
    }
    let previous_rows = previous
        .as_ref()
        .map(|t: &Table| {
            (0..t.rows)
                .filter_map(|row| Some((t.text(key, row)?.to_string(), row)))
                .collect()
        })
        .unwrap_or_default();
    Ok(Book {
        outputs: outputs.to_path_buf(),
        nights: nights.iter().map(|n| n.as_of).collect(),
        later_nights,
        bands,
        scorecard,
        previous,
        previous_rows,
        history,
        counts,
        actions,
        previous_actions,
        rollups,
        held_back,
        held_back_actions,
        definitions_changed,
    })
}
