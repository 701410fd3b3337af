//! The pipeline file as written: sections, names and expressions, each with
//! its span. Nothing here is resolved or typed yet; that is `check`'s job.

use std::sync::Arc;

use super::expr::{Expr, Template};
use super::yaml::Node;
use crate::base::{SourceFile, Span};

/// A text value from the file with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    /// The text.
    pub value: String,
    /// Where it is.
    pub span: Span,
}

/// A number from the file with its span.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number {
    /// The value.
    pub value: f64,
    /// Where it is.
    pub span: Span,
}

/// Descriptive fields every definition may carry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct About {
    /// What it is and why it matters.
    pub description: Option<Text>,
    /// Who maintains the definition.
    pub owner: Option<Text>,
}

/// A whole pipeline file.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The file it came from.
    pub file: Arc<SourceFile>,
    /// The `vane:` spec version.
    pub version: Option<Number>,
    /// The pipeline's name (defaults to the file stem).
    pub name: Option<Text>,
    /// Description and owner of the pipeline.
    pub about: About,
    /// Time zone for dates (`UTC` only, for now).
    pub timezone: Option<Text>,
    /// Where the data comes from.
    pub sources: Vec<SourceDef>,
    /// Who gets a scorecard row.
    pub entity: Option<EntityDef>,
    /// What is measured.
    pub metrics: Vec<MetricDef>,
    /// Where per-entity KPI targets come from.
    pub targets: Option<TargetsDef>,
    /// Scored metrics.
    pub indicators: Vec<IndicatorDef>,
    /// The health roll-up.
    pub health: Option<HealthDef>,
    /// Rules that turn signals into actions.
    pub playbooks: Vec<PlaybookDef>,
    /// What happened to entities afterwards, for backtests.
    pub outcomes: Vec<OutcomeDef>,
    /// Book-level measures over the scored entities.
    pub rollups: Vec<RollupDef>,
    /// Where and how results are written.
    pub outputs: Option<OutputsDef>,
    /// Metric tests on inline fixtures.
    pub tests: Vec<TestDef>,
}

/// A data source: one table read from files.
#[derive(Debug, Clone)]
pub struct SourceDef {
    /// The source's name, used by `from:`.
    pub name: Text,
    /// Description and owner.
    pub about: About,
    /// File, folder or glob, relative to the pipeline file.
    pub path: Option<Text>,
    /// `parquet`, `csv`, `jsonl` or `arrow`; guessed from the extension when absent.
    pub format: Option<Text>,
    /// The event-time column that windows apply to.
    pub time: Option<Text>,
    /// The column holding the entity key (defaults to the entity's key name).
    pub key: Option<Text>,
    /// Hive partition columns (`region=eu/…` folders).
    pub partitions: Vec<Text>,
    /// The warehouse table holding the same rows, for `vane sql`.
    pub table: Option<Text>,
    /// `error` or `read_as_null`: a read column some files lack.
    pub missing_columns: Option<Text>,
    /// Declared column types (`columns:`), in file order.
    pub columns: Vec<ColumnDecl>,
    /// `max_parse_failures:` as written: a count or a percentage.
    pub max_parse_failures: Option<Text>,
    /// Span of the source's name key, for messages about the whole source.
    pub span: Span,
}

/// One entry of a source's `columns:`: a column read as a declared type.
#[derive(Debug, Clone)]
pub struct ColumnDecl {
    /// The column's name in the data.
    pub name: Text,
    /// `timestamp`, `date`, `number`, `integer`, `string` or `boolean`.
    pub ty: Text,
    /// How its values encode a timestamp or date (`iso8601`, `epoch_millis`, …).
    pub format: Option<Text>,
}

/// The entity the scorecard has a row for (an account, a customer).
#[derive(Debug, Clone)]
pub struct EntityDef {
    /// The entity's name, used as `name.attribute` in expressions.
    pub name: Option<Text>,
    /// Description and owner.
    pub about: About,
    /// The source holding one row per entity.
    pub source: Option<Text>,
    /// The key column.
    pub key: Option<Text>,
    /// Columns of the entity table carried into the scorecard.
    pub attributes: Vec<Text>,
    /// Which entities get a row (a row filter on the entity table).
    pub population: Option<Expr>,
    /// The attributes shown with each action (`None`: every attribute).
    pub display: Option<Vec<Text>>,
    /// The `entity:` key's span.
    pub span: Span,
}

/// A metric: an aggregate over a source, or derived from other metrics.
#[derive(Debug, Clone)]
pub struct MetricDef {
    /// The metric's name.
    pub name: Text,
    /// Description and owner.
    pub about: About,
    /// The source it aggregates (absent for derived metrics).
    pub from: Option<Text>,
    /// How far back from as-of it looks (`30d`); all history when absent.
    pub window: Option<Expr>,
    /// A row filter applied before aggregating.
    pub filter: Option<Expr>,
    /// The value: an aggregate expression, or an expression over metrics.
    pub value: Option<Expr>,
    /// The unit, for display (`percent`, `days`, `usd`, …).
    pub unit: Option<Text>,
    /// Marked as deliberately unused by indicators and playbooks.
    pub unused: bool,
}

/// Where per-entity KPI targets come from.
#[derive(Debug, Clone)]
pub struct TargetsDef {
    /// Description and owner.
    pub about: About,
    /// The source holding the targets.
    pub source: Option<Text>,
    /// Column with the entity key (defaults to the entity's key name).
    pub key: Option<Text>,
    /// Column naming the KPI.
    pub kpi: Option<Text>,
    /// Column with the target value.
    pub value: Option<Text>,
    /// Column with `higher` or `lower` (is better).
    pub direction: Option<Text>,
    /// Column with the first day a target applies (inclusive).
    pub effective_from: Option<Text>,
    /// Column with the day a target stops applying (exclusive).
    pub effective_to: Option<Text>,
    /// The `targets:` key's span.
    pub span: Span,
}

/// An indicator: a metric turned into a 0–100 score.
#[derive(Debug, Clone)]
pub struct IndicatorDef {
    /// The indicator's name.
    pub name: Text,
    /// Description and owner.
    pub about: About,
    /// `leading` or `lagging`.
    pub kind: Option<Text>,
    /// The metric it scores.
    pub metric: Option<Text>,
    /// The scoring expression; `value` is the metric's value.
    pub score: Option<Expr>,
    /// Weight within its group.
    pub weight: Option<Number>,
    /// The health group it belongs to.
    pub group: Option<Text>,
}

/// The health roll-up.
#[derive(Debug, Clone)]
pub struct HealthDef {
    /// Description and owner.
    pub about: About,
    /// Groups and their weights.
    pub groups: Vec<GroupDef>,
    /// Colour bands over 0–100.
    pub bands: Vec<BandDef>,
    /// Segment-specific weightings.
    pub models: Vec<ModelDef>,
    /// The `health:` key's span.
    pub span: Span,
}

/// A health group.
#[derive(Debug, Clone)]
pub struct GroupDef {
    /// The group's name.
    pub name: Text,
    /// Description and owner.
    pub about: About,
    /// Its weight in the health score.
    pub weight: Option<Number>,
}

/// A colour band `[from, to)` of the health score (the top band includes 100).
#[derive(Debug, Clone)]
pub struct BandDef {
    /// The band's name (`red`, `yellow`, `green`).
    pub name: Text,
    /// Lower bound, inclusive.
    pub from: Option<Number>,
    /// Upper bound, exclusive (inclusive at 100).
    pub to: Option<Number>,
}

/// A segment-specific health model: other weights for entities matching `when`.
#[derive(Debug, Clone)]
pub struct ModelDef {
    /// The model's name.
    pub name: Text,
    /// Description and owner.
    pub about: About,
    /// Which entities it applies to (over entity attributes).
    pub when: Option<Expr>,
    /// Group weights that replace the defaults.
    pub groups: Vec<(Text, Number)>,
    /// Indicator weights that replace the defaults.
    pub indicators: Vec<(Text, Number)>,
}

/// A playbook: when the condition holds for an entity, an action is due.
#[derive(Debug, Clone)]
pub struct PlaybookDef {
    /// The playbook's name.
    pub name: Text,
    /// Description and owner of the definition.
    pub about: About,
    /// The condition.
    pub when: Option<Expr>,
    /// What to do (`call`, `email`, `qbr`, …).
    pub action: Option<Text>,
    /// `high`, `medium` or `low`.
    pub priority: Option<Text>,
    /// Who does it (a template, e.g. `{account.csm}`).
    pub assignee: Option<Template>,
    /// The message for the assignee.
    pub message: Option<Template>,
    /// What makes two firings "the same" for the cooldown.
    pub dedup_key: Option<Template>,
    /// How long after firing the same action stays quiet.
    pub cooldown: Option<Expr>,
}

/// An outcome: an event in an entity's life (a churn) that a backtest asks
/// the health score to have seen coming. Read only by backtests.
#[derive(Debug, Clone)]
pub struct OutcomeDef {
    /// The outcome's name.
    pub name: Text,
    /// Description and owner.
    pub about: About,
    /// The source whose rows are the outcome.
    pub from: Option<Text>,
    /// Which of those rows are (`where:`).
    pub filter: Option<Expr>,
    /// Instead of a source: the entity attribute holding when it happened.
    pub at: Option<Expr>,
    /// How long after a night it counts for that night.
    pub horizon: Option<Expr>,
    /// An aggregate of the outcome's rows in the horizon (dollars lost).
    pub value: Option<Expr>,
}

/// A rollup: one book-level number (or one per group) aggregated over the
/// scored entities or over every row of the entity table, per night.
#[derive(Debug, Clone)]
pub struct RollupDef {
    /// The rollup's name.
    pub name: Text,
    /// Description and owner.
    pub about: About,
    /// `population` (the scored entities, the default) or `entities`.
    pub over: Option<Text>,
    /// What to group by: entity attributes, or `band`.
    pub by: Vec<Text>,
    /// The value: aggregates over entities, combined; may read other rollups.
    pub value: Option<Expr>,
    /// The unit, for display.
    pub unit: Option<Text>,
}

/// Output settings.
#[derive(Debug, Clone)]
pub struct OutputsDef {
    /// The folder results go to, relative to the pipeline file.
    pub dir: Option<Text>,
    /// `parquet`, `csv` or `jsonl`.
    pub format: Option<Text>,
    /// `local` or `ballista://HOST:PORT`.
    pub engine: Option<Text>,
}

/// A fixture row or a set of expectations: `(name, value)` pairs as written.
pub type Row = Vec<(Text, Node)>;

/// A metric test: fixture rows, an as-of and expectations.
#[derive(Debug, Clone)]
pub struct TestDef {
    /// The test's name.
    pub name: Text,
    /// Description and owner.
    pub about: About,
    /// The as-of date.
    pub as_of: Option<Text>,
    /// Fixture rows per source.
    pub given: Vec<(Text, Vec<Row>)>,
    /// Expectations per entity key: `(entity key, [(name, expected value)])`.
    pub expect: Vec<(Text, Row)>,
}
