//! What each page shows, as plain data for its template: the overview,
//! the list of every entity (in pages), one page per owner and one per
//! entity. Everything here is sorted so that the same book gives the same
//! pages; numbers are formatted here (`base::display`), escaping is the
//! templates' (auto-escaping) job.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::charts::{self, BandStyle, Chart, HistoryNight, one_decimal};
use super::data::{Action, Book, Column};
use crate::base::display::with_unit;
use crate::base::names;
use crate::base::units::Seconds;
use crate::check::model::{MetricKind, Model};

/// Entities per page of the full list.
pub const LIST_PAGE: usize = 500;
/// Entities the overview lists before pointing to the full list.
const OVERVIEW_LIST: usize = 50;
/// Movers the overview lists.
const MOVERS: usize = 20;
/// Actions the overview lists (all of them are on the owners' pages).
const OVERVIEW_ACTIONS: usize = 100;
/// The entity attributes that name an entity's owner, in the order looked for.
pub const OWNER_ATTRIBUTES: &[&str] = &["csm", "owner"];

/// Colours of the Okabe–Ito palette, safe for the common kinds of colour
/// blindness, for bands named after a colour.
const NAMED_COLOURS: &[(&str, &str)] = &[
    ("red", "#D55E00"),
    ("orange", "#E69F00"),
    ("amber", "#E69F00"),
    ("yellow", "#F0E442"),
    ("green", "#009E73"),
    ("blue", "#0072B2"),
    ("purple", "#CC79A7"),
];
/// Okabe–Ito colours for other bands, lowest band first.
const RANKED_COLOURS: &[&str] = &[
    "#D55E00", "#E69F00", "#F0E442", "#56B4E9", "#009E73", "#0072B2", "#CC79A7",
];

/// A file name for a user's string (a key, an owner): letters, digits
/// and `-` as they are, every other byte as `_` and two hex digits, so
/// different strings get different names; very long ones are hashed.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("_{byte:02x}"));
        }
    }
    if out.is_empty() {
        return "_".to_string();
    }
    if out.len() > 100 {
        let digest = Sha256::digest(text.as_bytes());
        let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
        return format!("h{hex}");
    }
    out
}

/// A band as pages show it: its name and the CSS class that colours it.
#[derive(Debug, Clone, Serialize)]
pub struct BandRef {
    /// The band's name.
    pub name: String,
    /// `b0`, `b1`… lowest band first; `none` without a band.
    pub class: String,
}

/// A band's colour, for the stylesheet.
#[derive(Debug, Clone, Serialize)]
pub struct BandColour {
    /// Its CSS class.
    pub class: String,
    /// Its colour.
    pub colour: String,
    /// Whether text on it is dark (light colours) or white.
    pub dark_text: bool,
}

/// The colour of each band, lowest first.
pub fn band_colours(bands: &[String]) -> Vec<BandColour> {
    bands
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let lower = name.to_ascii_lowercase();
            let colour = NAMED_COLOURS
                .iter()
                .find(|(n, _)| *n == lower)
                .map(|(_, c)| *c)
                .unwrap_or(RANKED_COLOURS[i % RANKED_COLOURS.len()]);
            BandColour {
                class: format!("b{i}"),
                colour: colour.to_string(),
                dark_text: matches!(colour, "#F0E442" | "#E69F00" | "#56B4E9"),
            }
        })
        .collect()
}

/// What every page shows in its header and footer.
#[derive(Debug, Clone, Serialize)]
pub struct SiteInfo {
    /// The path from the page to the site's root (`""` or `"../"`).
    pub root: &'static str,
    /// The pipeline's name.
    pub pipeline: String,
    /// What the entity is called (`account`).
    pub entity: String,
    /// The night shown.
    pub as_of: String,
    /// The bands, lowest first (the legend).
    pub bands: Vec<BandRef>,
}

/// A link to another page of the site, relative to its root.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Link {
    /// Where, from the site's root.
    pub href: String,
    /// What it says.
    pub text: String,
}

/// One entity in a list.
#[derive(Debug, Clone, Serialize)]
pub struct EntityRow {
    /// Its page.
    pub href: String,
    /// Its key.
    pub key: String,
    /// Its display name (the `name` attribute, else the key).
    pub name: String,
    /// Its band.
    pub band: Option<BandRef>,
    /// Health, formatted.
    pub health: String,
    /// Health since the previous night, formatted with a sign.
    pub trend: String,
    /// Its ARR (the `arr` attribute), formatted.
    pub arr: String,
    /// Its owner's page.
    pub owner: Option<Link>,
}

/// One action in a list.
#[derive(Debug, Clone, Serialize)]
pub struct ActionRow {
    /// The entity's page, if it is in the scorecard.
    pub href: Option<String>,
    /// The entity's key.
    pub key: String,
    /// The entity's name.
    pub name: String,
    /// The playbook.
    pub playbook: String,
    /// The action.
    pub action: String,
    /// Its priority.
    pub priority: String,
    /// The owner's page (or the owner's name alone).
    pub owner: Option<Link>,
    /// The message.
    pub message: String,
    /// The values the condition read.
    pub reason: String,
    /// Why it was held back, for an action that was.
    pub held: Option<String>,
}

/// A number in a summary card.
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    /// What it is.
    pub label: String,
    /// Its value, formatted.
    pub value: String,
    /// A line under it.
    pub note: Option<String>,
}

/// One band's count on a night.
#[derive(Debug, Clone, Serialize)]
pub struct BandCount {
    /// The band.
    pub band: BandRef,
    /// Entities in it.
    pub count: usize,
    /// Its share, formatted.
    pub share: String,
    /// Its share in percent, for the bar's width.
    pub width: f64,
}

/// A rollup shown as a table: one row per group.
#[derive(Debug, Clone, Serialize)]
pub struct RollupTable {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// The columns it groups by.
    pub columns: Vec<String>,
    /// `(group values, value)` per row.
    pub rows: Vec<(Vec<String>, String)>,
}

/// A rollup with one value.
#[derive(Debug, Clone, Serialize)]
pub struct RollupValue {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// The value, formatted with its unit.
    pub value: String,
}

/// An entity whose health moved most since the previous night.
#[derive(Debug, Clone, Serialize)]
pub struct Mover {
    /// The entity.
    pub entity: EntityRow,
    /// Health the previous night.
    pub before: String,
    /// Band the previous night.
    pub band_before: Option<BandRef>,
    /// The change, with a sign.
    pub delta: String,
    /// Whether it fell.
    pub fell: bool,
}

/// Actions per playbook.
#[derive(Debug, Clone, Serialize)]
pub struct PlaybookCount {
    /// The playbook.
    pub playbook: String,
    /// Its action.
    pub action: String,
    /// Its priority.
    pub priority: String,
    /// How many fired.
    pub count: usize,
}

/// The overview page.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    /// Header and footer.
    pub site: SiteInfo,
    /// The pipeline's description.
    pub description: Option<String>,
    /// The nights shown (first, last, how many).
    pub nights: (String, String, usize),
    /// Nights in the folder after the one shown.
    pub later_nights: usize,
    /// The previous night.
    pub previous: Option<String>,
    /// Headline numbers.
    pub cards: Vec<Card>,
    /// Entities per band tonight.
    pub band_counts: Vec<BandCount>,
    /// Health distribution.
    pub histogram: Option<Chart>,
    /// Band counts over the nights.
    pub bands_chart: Option<Chart>,
    /// Mean health over the nights.
    pub health_chart: Option<Chart>,
    /// `(night, counts per band, entities)`, for the table under the charts.
    pub night_rows: Vec<(String, Vec<usize>, usize, String)>,
    /// Rollups with one value.
    pub book_rollups: Vec<RollupValue>,
    /// Rollups by group.
    pub grouped_rollups: Vec<RollupTable>,
    /// How ARR at risk is defined, if it can be computed.
    pub arr_at_risk: Option<Card>,
    /// Actions per playbook.
    pub playbooks: Vec<PlaybookCount>,
    /// The first actions, by priority.
    pub actions: Vec<ActionRow>,
    /// All actions tonight.
    pub actions_total: usize,
    /// Actions held back by cooldowns (the manifest).
    pub held_back: Option<u64>,
    /// Biggest falls and rises.
    pub movers: Vec<Mover>,
    /// Whether the previous night was scored by other definitions.
    pub definitions_changed: bool,
    /// The owners' pages, with their counts.
    pub owners: Vec<(Link, usize, String)>,
    /// The riskiest entities.
    pub entities: Vec<EntityRow>,
    /// Entities in all.
    pub entities_total: usize,
    /// The pages of the full list.
    pub list_pages: Vec<Link>,
    /// The backtest's summary, when one was found.
    pub backtest: Option<super::backtest::BacktestSummary>,
}

/// One page of the full list of entities.
#[derive(Debug, Clone, Serialize)]
pub struct ListPage {
    /// Header and footer.
    pub site: SiteInfo,
    /// Which page (from 1).
    pub number: usize,
    /// Of how many.
    pub pages: Vec<Link>,
    /// Its entities.
    pub entities: Vec<EntityRow>,
    /// The first entity's rank (from 1).
    pub first: usize,
    /// Entities in all.
    pub total: usize,
}

/// An owner's page.
#[derive(Debug, Clone, Serialize)]
pub struct OwnerPage {
    /// Header and footer.
    pub site: SiteInfo,
    /// The owner.
    pub name: String,
    /// Their entities per band.
    pub band_counts: Vec<BandCount>,
    /// ARR of their entities in the lowest band.
    pub arr_at_risk: Option<String>,
    /// Their entities, riskiest first.
    pub entities: Vec<EntityRow>,
    /// Their actions tonight.
    pub actions: Vec<ActionRow>,
}

/// A metric in the explain tree.
#[derive(Debug, Clone, Serialize)]
pub struct MetricNode {
    /// Its name (with how far back, for a shifted input).
    pub name: String,
    /// Its value, formatted with its unit.
    pub value: String,
    /// How many rows its aggregates read ("1 row", "57 rows"), when the
    /// scorecard has them.
    pub rows: Option<String>,
    /// How it is computed (expression, source, window, filter).
    pub how: String,
    /// Its description.
    pub description: Option<String>,
    /// The metrics a derived metric reads.
    pub children: Vec<MetricNode>,
    /// `(attribute, value)` a derived metric reads.
    pub attributes: Vec<(String, String)>,
}

/// An indicator in the explain tree.
#[derive(Debug, Clone, Serialize)]
pub struct IndicatorNode {
    /// Its name.
    pub name: String,
    /// `leading` or `lagging`.
    pub kind: String,
    /// Its score, formatted.
    pub score: String,
    /// Its weight in its group (the entity's health model's).
    pub weight: String,
    /// The scoring expression.
    pub scoring: String,
    /// Its description.
    pub description: Option<String>,
    /// Its metric.
    pub metric: MetricNode,
    /// The KPIs whose per-customer targets it is scored against.
    pub kpis: Vec<KpiTarget>,
}

/// A KPI an indicator is scored against, with the entity's own target.
#[derive(Debug, Clone, Serialize)]
pub struct KpiTarget {
    /// The KPI's name.
    pub kpi: String,
    /// Whether the night's scorecard has the KPI's target columns (nights
    /// written before Vane wrote targets do not).
    pub known: bool,
    /// The target in effect, formatted; `None` when the entity has none.
    pub target: Option<String>,
    /// Which way is better (`higher` or `lower`).
    pub direction: Option<String>,
}

/// A health group in the explain tree.
#[derive(Debug, Clone, Serialize)]
pub struct GroupNode {
    /// Its name.
    pub name: String,
    /// Its score, formatted.
    pub score: String,
    /// Its weight in health (the entity's health model's).
    pub weight: String,
    /// Whether it has no score tonight (it drops out of health).
    pub empty: bool,
    /// Its indicators.
    pub indicators: Vec<IndicatorNode>,
}

/// One value before and after.
#[derive(Debug, Clone, Serialize)]
pub struct Delta {
    /// What moved.
    pub name: String,
    /// Before.
    pub before: String,
    /// After.
    pub after: String,
    /// The change with a sign (numbers only).
    pub delta: String,
    /// Whether it went down.
    pub fell: bool,
}

/// What changed for an entity since the previous night.
#[derive(Debug, Clone, Serialize)]
pub struct Changes {
    /// The previous night.
    pub since: String,
    /// Whether the entity was scored that night.
    pub scored_before: bool,
    /// Health then.
    pub health_before: String,
    /// The change in health.
    pub health_delta: String,
    /// Whether health fell.
    pub fell: bool,
    /// Band then.
    pub band_before: Option<BandRef>,
    /// Groups whose score moved.
    pub groups: Vec<Delta>,
    /// Indicators whose score moved, biggest first.
    pub indicators: Vec<Delta>,
    /// Metrics whose value changed.
    pub metrics: Vec<Delta>,
    /// Playbooks that fire tonight and did not the night before.
    pub started: Vec<String>,
    /// Playbooks that fired the night before and do not tonight.
    pub stopped: Vec<String>,
    /// Whether the previous night was scored by other definitions.
    pub definitions_changed: bool,
}

/// A run of nights in one band.
#[derive(Debug, Clone, Serialize)]
pub struct BandRun {
    /// The band.
    pub band: Option<BandRef>,
    /// The first night.
    pub from: String,
    /// The last night.
    pub to: String,
    /// Nights in the run.
    pub nights: usize,
}

/// An entity's page.
#[derive(Debug, Clone, Serialize)]
pub struct EntityPage {
    /// Header and footer.
    pub site: SiteInfo,
    /// The entity as lists show it.
    pub entity: EntityRow,
    /// Its health model.
    pub health_model: Option<String>,
    /// `(attribute, value)` of every entity attribute.
    pub attributes: Vec<(String, String)>,
    /// Health over the nights.
    pub chart: Option<Chart>,
    /// Nights scored.
    pub nights: usize,
    /// Its band over the nights, as runs.
    pub band_runs: Vec<BandRun>,
    /// Groups → indicators → metrics.
    pub groups: Vec<GroupNode>,
    /// Indicators outside any group (a pipeline without health).
    pub indicators: Vec<IndicatorNode>,
    /// Metrics no indicator scores.
    pub other_metrics: Vec<MetricNode>,
    /// Tonight's actions.
    pub actions: Vec<ActionRow>,
    /// Actions whose playbook fired tonight but a cooldown held back.
    pub held_back: Vec<ActionRow>,
    /// What changed since the previous night.
    pub changes: Option<Changes>,
}

/// A search entry: `[key, name, band, health, owner, href]`.
pub type SearchEntry = [String; 6];

/// The book seen through the model: the shared lookups every page uses.
pub struct Pages<'a> {
    model: &'a Model,
    book: &'a Book,
    bands: Vec<BandRef>,
    band_styles: Vec<BandStyle>,
    owner_column: Option<&'a str>,
    /// Per scorecard row, the entity as lists show it.
    pub rows: Vec<EntityRow>,
    /// Scorecard rows, riskiest first.
    pub order: Vec<usize>,
    by_key: BTreeMap<&'a str, usize>,
    /// Actions by entity key.
    actions: BTreeMap<&'a str, Vec<&'a Action>>,
    /// Actions held back by cooldowns, by entity key.
    held_back: BTreeMap<&'a str, Vec<&'a Action>>,
    /// Every owner: of entities (their attribute) or of actions.
    pub owners: BTreeSet<String>,
    prepared: Prepared<'a>,
}

/// The text of a number with a sign.
fn signed(x: f64) -> String {
    let text = charts::rounded_one_decimal(x);
    if x > 0.0 && text != "0.0" {
        format!("+{text}")
    } else {
        text
    }
}

impl<'a> Pages<'a> {
    /// The lookups for `book`, read by `model`.
    pub fn new(model: &'a Model, book: &'a Book) -> Pages<'a> {
        let bands: Vec<BandRef> = book
            .bands
            .iter()
            .enumerate()
            .map(|(i, name)| BandRef {
                name: name.clone(),
                class: format!("b{i}"),
            })
            .collect();
        let band_styles = bands
            .iter()
            .map(|b| BandStyle {
                class: b.class.clone(),
                name: b.name.clone(),
                range: model
                    .health
                    .as_ref()
                    .and_then(|h| h.bands.iter().find(|x| x.name == b.name))
                    .map(|x| (x.from, x.to)),
            })
            .collect();
        let attributes = &model.entity.attributes;
        let owner_column = OWNER_ATTRIBUTES
            .iter()
            .copied()
            .find(|a| attributes.iter().any(|x| x == a));
        let mut pages = Pages {
            model,
            book,
            bands,
            band_styles,
            owner_column,
            rows: Vec::new(),
            order: Vec::new(),
            by_key: BTreeMap::new(),
            actions: BTreeMap::new(),
            held_back: BTreeMap::new(),
            owners: BTreeSet::new(),
            prepared: Prepared::new(model, book),
        };
        let table = &book.scorecard;
        let key = model.entity.key.as_str();
        for row in 0..table.rows {
            if let Some(k) = table.text(key, row) {
                pages.by_key.insert(k, row);
            }
            if let Some(owner) = owner_column.and_then(|c| table.text(c, row)) {
                pages.owners.insert(owner.to_string());
            }
        }
        for action in &book.actions {
            pages
                .actions
                .entry(action.entity.as_str())
                .or_default()
                .push(action);
            if let Some(owner) = &action.owner {
                pages.owners.insert(owner.clone());
            }
        }
        for action in &book.held_back_actions {
            pages
                .held_back
                .entry(action.entity.as_str())
                .or_default()
                .push(action);
        }
        pages.rows = (0..table.rows).map(|row| pages.entity_row(row)).collect();
        let mut order: Vec<usize> = (0..table.rows).collect();
        let band_of = |row: usize| book.band_index(table.text(names::BAND, row));
        let arr_of = |row: usize| table.number("arr", row);
        order.sort_by(|&a, &b| {
            let band = |r| band_of(r).map_or(u32::MAX, u32::from);
            band(a)
                .cmp(&band(b))
                .then_with(|| {
                    let (x, y) = (arr_of(a), arr_of(b));
                    match (x, y) {
                        (Some(x), Some(y)) => y.total_cmp(&x),
                        (Some(_), None) => std::cmp::Ordering::Less,
                        (None, Some(_)) => std::cmp::Ordering::Greater,
                        (None, None) => std::cmp::Ordering::Equal,
                    }
                })
                .then_with(|| pages.rows[a].key.cmp(&pages.rows[b].key))
        });
        pages.order = order;
        pages
    }

    /// The header and footer for a page `root` away from the site's root.
    pub fn site(&self, root: &'static str) -> SiteInfo {
        SiteInfo {
            root,
            pipeline: self.model.name.clone(),
            entity: self.model.entity.name.clone(),
            as_of: self.book.as_of().to_string(),
            bands: self.bands.clone(),
        }
    }

    /// The band of a name.
    fn band(&self, name: Option<&str>) -> Option<BandRef> {
        let i = self.book.band_index(name)?;
        self.bands.get(usize::from(i)).cloned()
    }

    /// An entity's page, from the site's root.
    pub fn entity_href(key: &str) -> String {
        format!("{}/{}.html", "entity", slug(key))
    }

    /// An owner's page, from the site's root.
    pub fn owner_href(owner: &str) -> String {
        format!("owner/{}.html", slug(owner))
    }

    /// The owner link for a name.
    fn owner_link(owner: &str) -> Link {
        Link {
            href: Pages::owner_href(owner),
            text: owner.to_string(),
        }
    }

    fn entity_row(&self, row: usize) -> EntityRow {
        let table = &self.book.scorecard;
        let key = table
            .text(&self.model.entity.key, row)
            .unwrap_or_default()
            .to_string();
        let name = self
            .model
            .entity
            .attributes
            .iter()
            .any(|a| a == "name")
            .then(|| table.text("name", row))
            .flatten()
            .unwrap_or(&key)
            .to_string();
        EntityRow {
            href: Pages::entity_href(&key),
            name,
            band: self.band(table.text(names::BAND, row)),
            health: table
                .number(names::HEALTH, row)
                .map_or("—".to_string(), one_decimal),
            trend: table
                .number(names::TREND, row)
                .map_or(String::new(), signed),
            arr: table
                .number("arr", row)
                .map_or(String::new(), |a| with_unit(a, Some("usd"))),
            owner: self
                .owner_column
                .and_then(|c| table.text(c, row))
                .map(Pages::owner_link),
            key,
        }
    }

    fn action_row(&self, action: &Action) -> ActionRow {
        let row = self.by_key.get(action.entity.as_str()).copied();
        ActionRow {
            href: row.map(|r| self.rows[r].href.clone()),
            name: row.map_or(action.entity.clone(), |r| self.rows[r].name.clone()),
            key: action.entity.clone(),
            playbook: action.playbook.clone(),
            action: action.action.clone(),
            priority: action.priority.clone(),
            owner: action.owner.as_deref().map(Pages::owner_link),
            message: action.message.clone(),
            reason: self.reason_text(&action.reason),
            held: action.held.clone(),
        }
    }

    /// An action's reason (`name=value; …`, as the run writes it) with
    /// numbers formatted by the unit of the metric they are
    /// (`login_change=-0.4722` reads `login_change=-47.2%`).
    fn reason_text(&self, reason: &str) -> String {
        reason
            .split("; ")
            .map(|part| match part.split_once('=') {
                Some((name, value)) => match value.trim().parse::<f64>() {
                    Ok(x) if x.is_finite() => {
                        let unit = self.model.metric(name).and_then(|m| m.unit.as_deref());
                        let unit = match unit {
                            Some("usd" | "percent") => unit,
                            _ => None,
                        };
                        format!("{name}={}", with_unit(x, unit))
                    }
                    _ => part.to_string(),
                },
                None => part.to_string(),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Entities per band among `rows`.
    fn band_counts(&self, rows: impl Iterator<Item = usize>) -> Vec<BandCount> {
        let table = &self.book.scorecard;
        let mut counts = vec![0usize; self.bands.len()];
        let mut total = 0;
        for row in rows {
            total += 1;
            if let Some(b) = self.book.band_index(table.text(names::BAND, row)) {
                counts[usize::from(b)] += 1;
            }
        }
        self.bands
            .iter()
            .zip(counts)
            .map(|(band, count)| {
                let share = if total > 0 {
                    count as f64 / total as f64
                } else {
                    0.0
                };
                BandCount {
                    band: band.clone(),
                    count,
                    share: with_unit(share, Some("percent")),
                    width: (share * 1000.0).round() / 10.0,
                }
            })
            .collect()
    }

    /// ARR of `rows` in the lowest band, when the entity has an `arr`
    /// attribute and bands exist.
    fn arr_at_risk(&self, rows: impl Iterator<Item = usize>) -> Option<f64> {
        let table = &self.book.scorecard;
        if !table.has("arr") || self.bands.is_empty() {
            return None;
        }
        let lowest = self.bands.first()?;
        Some(
            rows.filter(|&r| table.text(names::BAND, r) == Some(lowest.name.as_str()))
                .filter_map(|r| table.number("arr", r))
                .sum(),
        )
    }

    /// The overview.
    pub fn overview(&self, search: &[SearchEntry]) -> Overview {
        let book = self.book;
        let table = &book.scorecard;
        let dates: Vec<String> = book.nights.iter().map(|d| d.to_string()).collect();
        let has_health = self.model.health.is_some() && table.has(names::HEALTH);
        let healths: Vec<f64> = (0..table.rows)
            .filter_map(|r| table.number(names::HEALTH, r))
            .collect();
        let counts: Vec<Vec<usize>> = book.counts.iter().map(|c| c.bands.clone()).collect();
        let mut cards = vec![Card {
            label: format!("{}s scored", self.model.entity.name),
            value: with_unit(table.rows as f64, None),
            note: None,
        }];
        if !healths.is_empty() {
            let mean = healths.iter().sum::<f64>() / healths.len() as f64;
            cards.push(Card {
                label: "mean health".to_string(),
                value: one_decimal(mean),
                note: None,
            });
        }
        let arr_at_risk = self.arr_at_risk(0..table.rows).map(|arr| Card {
            label: "ARR at risk".to_string(),
            value: with_unit(arr, Some("usd")),
            note: self.bands.first().map(|b| {
                format!(
                    "ARR (the arr attribute) of {}s in band {}",
                    self.model.entity.name, b.name
                )
            }),
        });
        cards.extend(arr_at_risk.clone());
        cards.push(Card {
            label: "actions tonight".to_string(),
            value: with_unit(book.actions.len() as f64, None),
            note: book
                .held_back
                .filter(|n| *n > 0)
                .map(|n| format!("{n} more held back by cooldowns")),
        });
        let mut book_rollups = Vec::new();
        let mut grouped: BTreeMap<(usize, String), RollupTable> = BTreeMap::new();
        for row in &book.rollups {
            // A rollup the pipeline no longer defines is still shown,
            // after the others, without a unit or description.
            let defined = self
                .model
                .rollups
                .iter()
                .enumerate()
                .find(|(_, r)| r.name == row.rollup);
            let position = defined.map_or(self.model.rollups.len(), |(p, _)| p);
            let rollup = defined.map(|(_, r)| r);
            let value = row.value.map_or("—".to_string(), |v| {
                with_unit(v, rollup.and_then(|r| r.unit.as_deref()))
            });
            let description = rollup
                .and_then(|r| r.about.description.as_ref())
                .map(|d| d.value.clone());
            if row.groups.is_empty() {
                book_rollups.push(RollupValue {
                    name: row.rollup.clone(),
                    description,
                    value,
                });
            } else {
                grouped
                    .entry((position, row.rollup.clone()))
                    .or_insert_with(|| RollupTable {
                        name: row.rollup.clone(),
                        description,
                        columns: row.groups.iter().map(|(c, _)| c.clone()).collect(),
                        rows: Vec::new(),
                    })
                    .rows
                    .push((
                        row.groups
                            .iter()
                            .map(|(_, v)| v.clone().unwrap_or_else(|| "(none)".to_string()))
                            .collect(),
                        value,
                    ));
            }
        }
        let mut playbooks: BTreeMap<(usize, &str), PlaybookCount> = BTreeMap::new();
        for action in &book.actions {
            let position = self
                .model
                .playbooks
                .iter()
                .position(|p| p.name == action.playbook)
                .unwrap_or(usize::MAX);
            playbooks
                .entry((position, action.playbook.as_str()))
                .or_insert_with(|| PlaybookCount {
                    playbook: action.playbook.clone(),
                    action: action.action.clone(),
                    priority: action.priority.clone(),
                    count: 0,
                })
                .count += 1;
        }
        let mut movers: Vec<(f64, usize, usize)> = Vec::new();
        if let Some(previous) = &book.previous {
            for row in 0..table.rows {
                let Some(&before_row) = book.previous_rows.get(self.rows[row].key.as_str()) else {
                    continue;
                };
                if let (Some(now), Some(before)) = (
                    table.number(names::HEALTH, row),
                    previous.number(names::HEALTH, before_row),
                ) {
                    movers.push((now - before, row, before_row));
                }
            }
        }
        movers.sort_by(|a, b| {
            b.0.abs()
                .total_cmp(&a.0.abs())
                .then_with(|| self.rows[a.1].key.cmp(&self.rows[b.1].key))
        });
        let movers = movers
            .into_iter()
            .filter(|(delta, _, _)| delta.abs() >= 0.05)
            .take(MOVERS)
            .map(|(delta, row, before_row)| {
                let previous = book.previous.as_ref();
                Mover {
                    entity: self.rows[row].clone(),
                    before: previous
                        .and_then(|p| p.number(names::HEALTH, before_row))
                        .map_or("—".to_string(), one_decimal),
                    band_before: self.band(previous.and_then(|p| p.text(names::BAND, before_row))),
                    delta: signed(delta),
                    fell: delta < 0.0,
                }
            })
            .collect();
        let mut owners: Vec<(Link, usize, String)> = self
            .owners
            .iter()
            .map(|o| (Pages::owner_link(o), 0, String::new()))
            .collect();
        if let Some(column) = self.owner_column {
            let mut per_owner: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for row in 0..table.rows {
                if let Some(owner) = table.text(column, row) {
                    per_owner.entry(owner).or_default().push(row);
                }
            }
            for (link, count, risk) in &mut owners {
                if let Some(rows) = per_owner.get(link.text.as_str()) {
                    *count = rows.len();
                    *risk = self
                        .arr_at_risk(rows.iter().copied())
                        .map_or(String::new(), |a| with_unit(a, Some("usd")));
                }
            }
        }
        let pages = search.len().div_ceil(LIST_PAGE);
        Overview {
            site: self.site(""),
            description: self
                .model
                .about
                .description
                .as_ref()
                .map(|d| d.value.clone()),
            nights: (
                dates.first().cloned().unwrap_or_default(),
                dates.last().cloned().unwrap_or_default(),
                dates.len(),
            ),
            later_nights: book.later_nights,
            previous: book.previous_night().map(|d| d.to_string()),
            cards,
            band_counts: self.band_counts(0..table.rows),
            histogram: has_health.then(|| charts::health_histogram(&healths, &self.band_styles)),
            bands_chart: (!self.bands.is_empty())
                .then(|| charts::bands_over_time(&dates, &counts, &self.band_styles)),
            health_chart: has_health.then(|| {
                let means: Vec<Option<f64>> = book.counts.iter().map(|c| c.mean_health).collect();
                charts::mean_health_over_time(&dates, &means)
            }),
            night_rows: book
                .counts
                .iter()
                .rev()
                .map(|c| {
                    (
                        c.as_of.to_string(),
                        c.bands.iter().take(self.bands.len()).copied().collect(),
                        c.entities,
                        c.mean_health.map_or("—".to_string(), one_decimal),
                    )
                })
                .collect(),
            book_rollups,
            grouped_rollups: grouped.into_values().collect(),
            arr_at_risk,
            playbooks: playbooks.into_values().collect(),
            actions: book
                .actions
                .iter()
                .take(OVERVIEW_ACTIONS)
                .map(|a| self.action_row(a))
                .collect(),
            actions_total: book.actions.len(),
            held_back: book.held_back,
            movers,
            definitions_changed: book.definitions_changed == Some(true),
            owners,
            entities: self
                .order
                .iter()
                .take(OVERVIEW_LIST)
                .map(|&r| self.rows[r].clone())
                .collect(),
            entities_total: table.rows,
            list_pages: (1..=pages)
                .map(|n| Link {
                    href: list_href(n),
                    text: n.to_string(),
                })
                .collect(),
            backtest: None,
        }
    }

    /// The search index: every entity, riskiest first.
    pub fn search(&self) -> Vec<SearchEntry> {
        self.order
            .iter()
            .map(|&r| {
                let row = &self.rows[r];
                [
                    row.key.clone(),
                    row.name.clone(),
                    row.band.as_ref().map_or(String::new(), |b| b.name.clone()),
                    row.health.clone(),
                    row.owner.as_ref().map_or(String::new(), |o| o.text.clone()),
                    row.href.clone(),
                ]
            })
            .collect()
    }

    /// The `number`-th page (from 1) of the full list.
    pub fn list_page(&self, number: usize) -> ListPage {
        let pages = self.order.len().div_ceil(LIST_PAGE).max(1);
        let start = (number - 1) * LIST_PAGE;
        ListPage {
            site: self.site("../"),
            number,
            pages: (1..=pages)
                .map(|n| Link {
                    href: list_href(n),
                    text: n.to_string(),
                })
                .collect(),
            entities: self
                .order
                .iter()
                .skip(start)
                .take(LIST_PAGE)
                .map(|&r| self.rows[r].clone())
                .collect(),
            first: start + 1,
            total: self.order.len(),
        }
    }

    /// The page of `owner`: the entities whose owner attribute names them
    /// and the actions whose owner does.
    pub fn owner_page(&self, owner: &str) -> OwnerPage {
        let table = &self.book.scorecard;
        let rows: Vec<usize> = match self.owner_column {
            Some(column) => self
                .order
                .iter()
                .copied()
                .filter(|&r| table.text(column, r) == Some(owner))
                .collect(),
            None => Vec::new(),
        };
        OwnerPage {
            site: self.site("../"),
            name: owner.to_string(),
            band_counts: self.band_counts(rows.iter().copied()),
            arr_at_risk: self
                .arr_at_risk(rows.iter().copied())
                .map(|a| with_unit(a, Some("usd"))),
            entities: rows.iter().map(|&r| self.rows[r].clone()).collect(),
            actions: self
                .book
                .actions
                .iter()
                .filter(|a| a.owner.as_deref() == Some(owner))
                .map(|a| self.action_row(a))
                .collect(),
        }
    }

    /// A metric's value on `row` of a table's `column`, formatted by the
    /// metric's unit; `None` for null.
    fn metric_text(metric: &MetricPrep<'_>, column: Option<&Column>, row: usize) -> Option<String> {
        let column = column?;
        if (column.is_numbers() || metric.numeric)
            && let Some(x) = column.number(row)
        {
            return Some(with_unit(x, metric.unit));
        }
        column.text(row).map(str::to_string)
    }

    /// The explain tree's metric node for `row`, from its template.
    fn metric_node(&self, template: &MetricTemplate, row: usize) -> MetricNode {
        let value = match template.metric {
            Some(m) => {
                let metric = &self.prepared.metrics[m];
                Pages::metric_text(metric, metric.now, row)
                    .unwrap_or_else(|| "no value".to_string())
            }
            None => "not in the scorecard".to_string(),
        };
        let rows = template
            .metric
            .and_then(|m| self.prepared.metrics[m].rows)
            .and_then(|c| c.number(row))
            .map(|n| crate::base::display::plural(n as usize, "row"));
        MetricNode {
            name: template.label.clone(),
            value,
            rows,
            how: template.how.clone(),
            description: template.description.clone(),
            children: template
                .children
                .iter()
                .map(|c| self.metric_node(c, row))
                .collect(),
            attributes: template
                .attributes
                .iter()
                .map(|(label, a)| (label.clone(), self.attribute_text(row, *a)))
                .collect(),
        }
    }

    /// The `a`-th entity attribute's value on `row`, as text.
    fn attribute_text(&self, row: usize, a: usize) -> String {
        let Some((_, Some(column))) = self.prepared.attributes.get(a) else {
            return "—".to_string();
        };
        match column.text(row) {
            Some(text) => text.to_string(),
            None => column
                .number(row)
                .map_or("—".to_string(), |x| with_unit(x, None)),
        }
    }

    fn indicator_node(&self, row: usize, i: usize, weight: &str) -> IndicatorNode {
        let prep = &self.prepared.indicators[i];
        IndicatorNode {
            name: prep.name.to_string(),
            kind: prep.kind.to_string(),
            score: prep
                .now
                .and_then(|c| c.number(row))
                .map_or("no score".to_string(), one_decimal_plain),
            weight: weight.to_string(),
            scoring: prep.scoring.to_string(),
            description: prep.description.clone(),
            metric: self.metric_node(&prep.tree, row),
            kpis: prep
                .kpis
                .iter()
                .map(|(kpi, target, direction)| KpiTarget {
                    kpi: kpi.clone(),
                    known: target.is_some(),
                    target: target
                        .and_then(|c| c.number(row))
                        .map(|x| with_unit(x, None)),
                    direction: direction.and_then(|c| c.text(row)).map(str::to_string),
                })
                .collect(),
        }
    }

    /// What changed for the entity on `row` since the previous night.
    fn changes(&self, row: usize) -> Option<Changes> {
        let book = self.book;
        let prepared = &self.prepared;
        let since = book.previous_night()?;
        book.previous.as_ref()?;
        let key = self.rows[row].key.as_str();
        let before_row = book.previous_rows.get(key).copied();
        let number_delta = |name: &str, now: Option<&Column>, then: Option<&Column>| {
            let now = now.and_then(|c| c.number(row));
            let before = before_row.and_then(|r| then.and_then(|c| c.number(r)));
            match (before, now) {
                (Some(b), Some(n)) if (n - b).abs() < 0.05 => None,
                (None, None) => None,
                _ => Some((
                    match (before, now) {
                        (Some(b), Some(n)) => (n - b).abs(),
                        _ => f64::INFINITY,
                    },
                    Delta {
                        name: name.to_string(),
                        before: before.map_or("—".to_string(), one_decimal_plain),
                        after: now.map_or("—".to_string(), one_decimal_plain),
                        delta: match (before, now) {
                            (Some(b), Some(n)) => signed(n - b),
                            _ => String::new(),
                        },
                        fell: matches!((before, now), (Some(b), Some(n)) if n < b),
                    },
                )),
            }
        };
        let groups = prepared
            .groups
            .iter()
            .filter_map(|g| number_delta(g.name, g.now, g.before))
            .map(|(_, d)| d)
            .collect();
        let mut indicators: Vec<(f64, Delta)> = prepared
            .indicators
            .iter()
            .filter_map(|i| number_delta(i.name, i.now, i.before))
            .collect();
        indicators.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
        let mut metrics = Vec::new();
        for metric in &prepared.metrics {
            let (now_number, before_number) = (
                metric.now.and_then(|c| c.number(row)),
                before_row.and_then(|r| metric.before.and_then(|c| c.number(r))),
            );
            if metric.numeric && now_number == before_number {
                continue;
            }
            let now = Pages::metric_text(metric, metric.now, row);
            let before = before_row.and_then(|r| Pages::metric_text(metric, metric.before, r));
            if now == before {
                continue;
            }
            let delta = match (now_number, before_number) {
                (Some(n), Some(b)) if metric.numeric => {
                    let d = n - b;
                    // A change of a share is in percentage points.
                    let text = match metric.unit {
                        Some("percent") => {
                            format!("{} pp", charts::rounded_one_decimal(d * 100.0))
                        }
                        unit => with_unit(d, unit),
                    };
                    if d > 0.0 { format!("+{text}") } else { text }
                }
                _ => String::new(),
            };
            metrics.push(Delta {
                name: metric.name.to_string(),
                before: before.unwrap_or_else(|| "—".to_string()),
                after: now.unwrap_or_else(|| "—".to_string()),
                fell: delta.starts_with('-'),
                delta,
            });
        }
        let tonight: BTreeSet<&str> = self
            .actions
            .get(key)
            .into_iter()
            .flatten()
            .map(|a| a.playbook.as_str())
            .collect();
        let before: BTreeSet<&str> = book
            .previous_actions
            .range((key.to_string(), String::new())..)
            .take_while(|(e, _)| e == key)
            .map(|(_, p)| p.as_str())
            .collect();
        let now_health = prepared.health.0.and_then(|c| c.number(row));
        let before_health = before_row.and_then(|r| prepared.health.1.and_then(|c| c.number(r)));
        let before_band = before_row.and_then(|r| prepared.band.1.and_then(|c| c.text(r)));
        Some(Changes {
            since: since.to_string(),
            scored_before: before_row.is_some(),
            health_before: before_health.map_or("—".to_string(), one_decimal),
            health_delta: match (before_health, now_health) {
                (Some(b), Some(n)) => signed(n - b),
                _ => String::new(),
            },
            fell: matches!((before_health, now_health), (Some(b), Some(n)) if n < b),
            band_before: self.band(before_band),
            groups,
            indicators: indicators.into_iter().map(|(_, d)| d).collect(),
            metrics,
            started: tonight.difference(&before).map(|s| s.to_string()).collect(),
            stopped: before.difference(&tonight).map(|s| s.to_string()).collect(),
            definitions_changed: book.definitions_changed == Some(true),
        })
    }

    /// The page of the entity on scorecard `row`.
    pub fn entity_page(&self, row: usize) -> EntityPage {
        let book = self.book;
        let prepared = &self.prepared;
        let entity = self.rows[row].clone();
        let chosen = prepared.health_model.and_then(|c| c.text(row));
        let nights: Vec<HistoryNight> = book.history[row]
            .iter()
            .map(|p| HistoryNight {
                date: prepared
                    .dates
                    .get(p.night as usize)
                    .cloned()
                    .unwrap_or_default(),
                health: p.health,
                health_text: p.health.map_or(String::new(), one_decimal),
                band: p.band.map(usize::from),
            })
            .collect();
        let mut band_runs: Vec<BandRun> = Vec::new();
        for night in &nights {
            let band = night.band.and_then(|b| self.bands.get(b));
            match band_runs.last_mut() {
                Some(run) if run.band.as_ref().map(|b| &b.class) == band.map(|b| &b.class) => {
                    run.to.clone_from(&night.date);
                    run.nights += 1;
                }
                _ => band_runs.push(BandRun {
                    band: band.cloned(),
                    from: night.date.clone(),
                    to: night.date.clone(),
                    nights: 1,
                }),
            }
        }
        band_runs.reverse();
        let weights = chosen
            .and_then(|c| prepared.weights.get(c))
            .unwrap_or(&prepared.default_weights);
        let groups = prepared
            .groups
            .iter()
            .zip(&weights.groups)
            .map(|(group, (weight, indicator_weights))| {
                let score = group.now.and_then(|c| c.number(row));
                GroupNode {
                    name: group.name.to_string(),
                    score: score.map_or("no score".to_string(), one_decimal_plain),
                    weight: weight.clone(),
                    empty: score.is_none(),
                    indicators: group
                        .indicators
                        .iter()
                        .zip(indicator_weights)
                        .map(|(&i, w)| self.indicator_node(row, i, w))
                        .collect(),
                }
            })
            .collect();
        let loose = match self.model.health {
            Some(_) => Vec::new(),
            None => (0..prepared.indicators.len())
                .map(|i| {
                    let weight = with_unit(self.model.indicators[i].weight, None);
                    self.indicator_node(row, i, &weight)
                })
                .collect(),
        };
        EntityPage {
            site: self.site("../"),
            health_model: chosen.map(str::to_string),
            attributes: prepared
                .attributes
                .iter()
                .enumerate()
                .map(|(a, (name, _))| (name.to_string(), self.attribute_text(row, a)))
                .collect(),
            chart: (self.model.health.is_some())
                .then(|| charts::health_history(&nights, &self.band_styles)),
            nights: nights.len(),
            band_runs,
            groups,
            indicators: loose,
            other_metrics: prepared
                .other_metrics
                .iter()
                .map(|t| self.metric_node(t, row))
                .collect(),
            actions: self
                .actions
                .get(entity.key.as_str())
                .into_iter()
                .flatten()
                .map(|a| self.action_row(a))
                .collect(),
            held_back: self
                .held_back
                .get(entity.key.as_str())
                .into_iter()
                .flatten()
                .map(|a| self.action_row(a))
                .collect(),
            changes: self.changes(row),
            entity,
        }
    }
}

/// A metric as every entity page reads it: its unit, whether it is a
/// number, its column tonight and the night before.
struct MetricPrep<'a> {
    name: &'a str,
    unit: Option<&'a str>,
    numeric: bool,
    /// The rows it read tonight ([`names::rows_counted`]).
    rows: Option<&'a Column>,
    now: Option<&'a Column>,
    before: Option<&'a Column>,
}

/// The part of a metric node that is the same for every entity: its
/// label, how it is computed, its inputs.
struct MetricTemplate {
    label: String,
    /// The metric (its index) whose value the node shows; `None` for a
    /// value some days back, which the scorecard does not hold.
    metric: Option<usize>,
    how: String,
    description: Option<String>,
    children: Vec<MetricTemplate>,
    /// `(label, attribute index)` a derived metric reads.
    attributes: Vec<(String, usize)>,
}

/// An indicator as every entity page reads it.
struct IndicatorPrep<'a> {
    name: &'a str,
    kind: &'static str,
    scoring: &'a str,
    description: Option<String>,
    /// `(KPI, target column, direction column)`.
    kpis: Vec<(String, Option<&'a Column>, Option<&'a Column>)>,
    tree: MetricTemplate,
    now: Option<&'a Column>,
    before: Option<&'a Column>,
}

/// A health group as every entity page reads it.
struct GroupPrep<'a> {
    name: &'a str,
    /// Its indicators' indices.
    indicators: Vec<usize>,
    now: Option<&'a Column>,
    before: Option<&'a Column>,
}

/// The weights of one health model as text: per group, its weight and
/// its indicators' weights.
#[derive(Default)]
struct Weights {
    groups: Vec<(String, Vec<String>)>,
}

/// What every entity page shares, worked out once: the nights' dates,
/// the columns it reads tonight and the night before, each metric's and
/// indicator's fixed text, and each health model's weights.
struct Prepared<'a> {
    dates: Vec<String>,
    health: (Option<&'a Column>, Option<&'a Column>),
    band: (Option<&'a Column>, Option<&'a Column>),
    health_model: Option<&'a Column>,
    attributes: Vec<(&'a str, Option<&'a Column>)>,
    metrics: Vec<MetricPrep<'a>>,
    indicators: Vec<IndicatorPrep<'a>>,
    groups: Vec<GroupPrep<'a>>,
    other_metrics: Vec<MetricTemplate>,
    weights: BTreeMap<String, Weights>,
    default_weights: Weights,
}

impl<'a> Prepared<'a> {
    fn new(model: &'a Model, book: &'a Book) -> Prepared<'a> {
        let now = &book.scorecard;
        let before = book.previous.as_ref();
        let both = |column: &str| (now.column(column), before.and_then(|t| t.column(column)));
        let metrics: Vec<MetricPrep<'a>> = model
            .metrics
            .iter()
            .map(|m| {
                let (now, before) = both(&m.name);
                MetricPrep {
                    name: &m.name,
                    unit: m.unit.as_deref(),
                    numeric: m.ty.is_numeric(),
                    rows: book.scorecard.column(&names::rows_counted(&m.name)),
                    now,
                    before,
                }
            })
            .collect();
        let as_of = book.as_of();
        let indicators = model
            .indicators
            .iter()
            .map(|i| {
                let mut kpis = i.score.kpi_refs();
                kpis.sort();
                kpis.dedup();
                let (now, before) = both(&names::score(&i.name));
                IndicatorPrep {
                    name: &i.name,
                    kind: i.kind.name(),
                    scoring: &i.score_text,
                    description: i.about.description.as_ref().map(|d| d.value.clone()),
                    kpis: kpis
                        .into_iter()
                        .map(|kpi| {
                            let target = book.scorecard.column(&names::target(&kpi));
                            let direction = book.scorecard.column(&names::direction(&kpi));
                            (kpi, target, direction)
                        })
                        .collect(),
                    tree: metric_template(model, as_of, &i.metric, Seconds::ZERO, 0),
                    now,
                    before,
                }
            })
            .collect();
        let indicator_index = |name: &str| model.indicators.iter().position(|i| i.name == name);
        let groups = model
            .health
            .iter()
            .flat_map(|h| &h.groups)
            .map(|g| {
                let (now, before) = both(&names::group(&g.name));
                GroupPrep {
                    name: &g.name,
                    indicators: g
                        .indicators
                        .iter()
                        .filter_map(|i| indicator_index(i))
                        .collect(),
                    now,
                    before,
                }
            })
            .collect();
        let scored: BTreeSet<&str> = model.indicators.iter().map(|i| i.metric.as_str()).collect();
        let other_metrics = model
            .metrics
            .iter()
            .filter(|m| !scored.contains(m.name.as_str()))
            .map(|m| metric_template(model, as_of, &m.name, Seconds::ZERO, 3))
            .collect();
        let weights_of = |chosen: Option<&str>| -> Weights {
            let Some(health) = &model.health else {
                return Weights::default();
            };
            let chosen = health
                .models
                .iter()
                .find(|m| Some(m.name.as_str()) == chosen);
            Weights {
                groups: health
                    .groups
                    .iter()
                    .map(|g| {
                        let weight = chosen
                            .and_then(|m| m.group_weights.get(&g.name).copied())
                            .unwrap_or(g.weight);
                        let indicators = g
                            .indicators
                            .iter()
                            .filter_map(|i| model.indicators.iter().find(|x| &x.name == i))
                            .map(|i| {
                                let w = chosen
                                    .and_then(|m| m.indicator_weights.get(&i.name).copied())
                                    .unwrap_or(i.weight);
                                with_unit(w, None)
                            })
                            .collect();
                        (with_unit(weight, None), indicators)
                    })
                    .collect(),
            }
        };
        let weights = model
            .health
            .iter()
            .flat_map(|h| &h.models)
            .map(|m| (m.name.clone(), weights_of(Some(&m.name))))
            .collect();
        Prepared {
            dates: book.nights.iter().map(|d| d.to_string()).collect(),
            health: both(names::HEALTH),
            band: both(names::BAND),
            health_model: now.column(names::HEALTH_MODEL),
            attributes: model
                .entity
                .attributes
                .iter()
                .map(|a| (a.as_str(), now.column(a)))
                .collect(),
            metrics,
            indicators,
            groups,
            other_metrics,
            weights,
            default_weights: weights_of(None),
        }
    }
}

/// The fixed part of the explain tree's node for metric `name` read
/// `shift` back as of `as_of`: its label, how it is computed (the
/// expression, the source and window as dates, the filter), and for a
/// derived metric the metrics and attributes it reads (`depth` limits
/// how deep).
fn metric_template(
    model: &Model,
    as_of: chrono::NaiveDate,
    name: &str,
    shift: Seconds,
    depth: usize,
) -> MetricTemplate {
    let index = model.metrics.iter().position(|m| m.name == name);
    let metric = index.map(|i| &model.metrics[i]);
    let mut template = MetricTemplate {
        label: if shift == Seconds::ZERO {
            name.to_string()
        } else {
            format!("{name}, {} days back", shift.whole_days())
        },
        metric: index.filter(|_| shift == Seconds::ZERO),
        how: String::new(),
        description: metric
            .and_then(|m| m.about.description.as_ref())
            .map(|d| d.value.clone()),
        children: Vec::new(),
        attributes: Vec::new(),
    };
    let Some(metric) = metric else {
        return template;
    };
    match &metric.kind {
        MetricKind::Aggregate { source, window, .. } => {
            let earlier = |date: chrono::NaiveDate, length: Seconds| {
                length.as_chrono().and_then(|d| date.checked_sub_signed(d))
            };
            let range = match earlier(as_of, shift) {
                Some(end) => match window.and_then(|w| earlier(end, w)) {
                    Some(start) => format!("rows in [{start}, {end})"),
                    None => format!("rows before {end}"),
                },
                None => "rows before the earliest date".to_string(),
            };
            let filter = metric
                .filter_text
                .as_ref()
                .map(|f| format!(" where {f}"))
                .unwrap_or_default();
            template.how = format!("{} over {source} {range}{filter}", metric.value_text);
        }
        MetricKind::Derived { value } => {
            template.how = format!("= {}", metric.value_text);
            if depth < 4 && shift == Seconds::ZERO {
                let mut inputs: Vec<(String, Seconds)> = value.metric_refs();
                inputs.sort();
                inputs.dedup();
                template.children = inputs
                    .into_iter()
                    .map(|(n, s)| metric_template(model, as_of, &n, s, depth + 1))
                    .collect();
                let mut attributes = value.attribute_refs();
                attributes.sort();
                attributes.dedup();
                template.attributes = attributes
                    .into_iter()
                    .filter_map(|a| {
                        let at = model.entity.attributes.iter().position(|x| *x == a)?;
                        Some((format!("{}.{a}", model.entity.name), at))
                    })
                    .collect();
            }
        }
    }
    template
}

/// A score rounded to one decimal (scores are not banded, so as is).
fn one_decimal_plain(x: f64) -> String {
    charts::rounded_one_decimal(x)
}

/// The `n`-th page of the full list, from the site's root.
pub fn list_href(n: usize) -> String {
    format!("list/page-{n}.html")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_names_and_tell_strings_apart() {
        assert_eq!(slug("A00001"), "A00001");
        assert_eq!(slug("a b"), "a_20b");
        assert_eq!(slug("a_20b"), "a_5f20b");
        assert_eq!(slug("<script>"), "_3cscript_3e");
        assert_eq!(slug("../x"), "_2e_2e_2fx");
        assert_eq!(slug(""), "_");
        assert!(slug(&"é".repeat(100)).starts_with('h'));
    }

    #[test]
    fn bands_named_after_colours_get_their_okabe_ito_colour() {
        let colours = band_colours(&["red".into(), "yellow".into(), "green".into()]);
        let got: Vec<&str> = colours.iter().map(|c| c.colour.as_str()).collect();
        assert_eq!(got, ["#D55E00", "#F0E442", "#009E73"]);
        let ranked = band_colours(&["low".into(), "high".into()]);
        assert_eq!(ranked[0].colour, "#D55E00");
    }
}
