//! The typed model: what `check` hands to the planner, `explain`, `diff` and
//! `docs`. Every name is resolved, every expression typed, metrics are in
//! dependency order, and each expression keeps its span for messages.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};

use super::functions::{Aggregate, Function};
use crate::base::types::Type;
use crate::base::units::Seconds;
use crate::base::{FileFormat, SourceFile, Span};
use crate::sources::SourceLocation;
use crate::syntax::ast::About;
use crate::syntax::expr::BinaryOp;

/// A typed constant.
#[derive(Debug, Clone, PartialEq)]
pub enum Constant {
    /// `null`.
    Null,
    /// A boolean.
    Boolean(bool),
    /// An integer.
    Integer(i64),
    /// A float (percentages already divided by 100).
    Number(f64),
    /// Text.
    String(String),
    /// A duration.
    Duration(Seconds),
    /// A calendar day.
    Date(NaiveDate),
    /// A UTC timestamp.
    Timestamp(NaiveDateTime),
}

/// A typed expression.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedExpr {
    /// What it computes.
    pub kind: TypedKind,
    /// Its static type.
    pub ty: Type,
    /// Where it is written.
    pub span: Span,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unary {
    /// Arithmetic negation.
    Neg,
    /// Boolean not.
    Not,
}

/// The kinds of typed expressions.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedKind {
    /// A constant.
    Constant(Constant),
    /// A column of the current source (row context).
    Column(String),
    /// An attribute (column) of the entity table.
    Attribute(String),
    /// A metric's value, `shift` before as-of (zero = now).
    Metric {
        /// The metric.
        name: String,
        /// How far back.
        shift: Seconds,
    },
    /// An indicator's score (0–100).
    IndicatorScore(String),
    /// The health score (playbooks only).
    Health,
    /// The health band (playbooks only).
    Band,
    /// The as-of timestamp.
    AsOf,
    /// Another rollup's value (in a rollup only).
    Rollup(String),
    /// The entity's key.
    EntityKey,
    /// A unary operation.
    Unary(Unary, Box<TypedExpr>),
    /// A binary operation.
    Binary(BinaryOp, Box<TypedExpr>, Box<TypedExpr>),
    /// `is [not] null`.
    IsNull(Box<TypedExpr>, bool),
    /// `[not] in [...]`.
    InList(Box<TypedExpr>, Vec<TypedExpr>, bool),
    /// `[not] between`.
    Between(Box<TypedExpr>, Box<TypedExpr>, Box<TypedExpr>, bool),
    /// `case when … end`.
    Case(Vec<(TypedExpr, TypedExpr)>, Option<Box<TypedExpr>>),
    /// A scalar function call.
    Call(Function, Vec<TypedExpr>),
    /// A list argument (for `bands`).
    List(Vec<TypedExpr>),
    /// An aggregate over the source's rows in the metric's window.
    Aggregate {
        /// The function.
        function: Aggregate,
        /// Its arguments (row context).
        args: Vec<TypedExpr>,
        /// A per-aggregate condition (`count_if`, `sum_if`, …).
        filter: Option<Box<TypedExpr>>,
    },
}

impl TypedExpr {
    /// Visit this expression and its sub-expressions, parents first.
    pub fn walk<'a>(&'a self, visit: &mut dyn FnMut(&'a TypedExpr)) {
        visit(self);
        match &self.kind {
            TypedKind::Unary(_, e) | TypedKind::IsNull(e, _) => e.walk(visit),
            TypedKind::Binary(_, a, b) => {
                a.walk(visit);
                b.walk(visit);
            }
            TypedKind::InList(e, list, _) => {
                e.walk(visit);
                list.iter().for_each(|x| x.walk(visit));
            }
            TypedKind::Between(e, lo, hi, _) => {
                e.walk(visit);
                lo.walk(visit);
                hi.walk(visit);
            }
            TypedKind::Case(branches, otherwise) => {
                for (c, v) in branches {
                    c.walk(visit);
                    v.walk(visit);
                }
                if let Some(o) = otherwise {
                    o.walk(visit);
                }
            }
            TypedKind::Call(_, args) | TypedKind::List(args) => {
                args.iter().for_each(|x| x.walk(visit))
            }
            TypedKind::Aggregate { args, filter, .. } => {
                args.iter().for_each(|x| x.walk(visit));
                if let Some(f) = filter {
                    f.walk(visit);
                }
            }
            _ => {}
        }
    }

    /// Every `(metric, shift)` this expression reads.
    pub fn metric_refs(&self) -> Vec<(String, Seconds)> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let TypedKind::Metric { name, shift } = &e.kind {
                out.push((name.clone(), *shift));
            }
        });
        out
    }

    /// Every entity attribute this expression reads.
    pub fn attribute_refs(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let TypedKind::Attribute(name) = &e.kind {
                out.push(name.clone());
            }
        });
        out
    }

    /// Every KPI whose target this expression reads.
    pub fn kpi_refs(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let TypedKind::Call(Function::Attainment | Function::Target, args) = &e.kind
                && let Some(TypedKind::Constant(Constant::String(kpi))) =
                    args.last().map(|a| &a.kind)
            {
                out.push(kpi.clone());
            }
        });
        out
    }
}

/// A message template with typed holes.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedTemplate {
    /// The pieces in order.
    pub parts: Vec<TypedPart>,
    /// The canonical text, for docs and diff.
    pub text: String,
}

/// A piece of a [`TypedTemplate`].
#[derive(Debug, Clone, PartialEq)]
pub enum TypedPart {
    /// Literal text.
    Text(String),
    /// A value rendered as text.
    Hole(TypedExpr),
}

/// A resolved source.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// Its name.
    pub name: String,
    /// Description and owner.
    pub about: About,
    /// The path as written (relative to the pipeline file).
    pub path: String,
    /// Where its files are and how to read them, as the sources step resolved them.
    pub location: SourceLocation,
    /// The event-time column, if windows apply.
    pub time: Option<String>,
    /// The column holding the entity key.
    pub key: String,
    /// The warehouse table holding the same rows (`table:`), for `vane sql`.
    pub table: Option<String>,
    /// What a column the pipeline reads does in files that lack it.
    pub missing_columns: MissingColumns,
    /// Columns read as a declared type (`columns:`), converted in the scan.
    pub columns: Vec<DeclaredColumn>,
    /// How many values of declared columns may fail to parse before the run fails.
    pub max_parse_failures: ParseFailureLimit,
    /// Where it is defined.
    pub span: Span,
}

/// A column a source reads as a declared type: CRM exports store times
/// and numbers as text (ISO-8601 strings, epoch milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredColumn {
    /// The column's name in the data (and in the pipeline).
    pub name: String,
    /// The type the pipeline reads it as.
    pub ty: Type,
    /// How text or numbers encode a timestamp or date.
    pub format: ColumnFormat,
    /// The column's key under `columns:`.
    pub span: Span,
}

impl DeclaredColumn {
    /// "a timestamp", "a timestamp in epoch milliseconds", … for messages.
    pub fn describe(&self) -> String {
        let ty = match self.ty {
            Type::Timestamp => "a timestamp",
            Type::Date => "a date",
            Type::Integer => "an integer",
            Type::Number => "a number",
            Type::Boolean => "a boolean",
            _ => "text",
        };
        match self.format {
            ColumnFormat::Iso8601 => ty.to_string(),
            ColumnFormat::EpochSeconds => format!("{ty} in epoch seconds"),
            ColumnFormat::EpochMillis => format!("{ty} in epoch milliseconds"),
            ColumnFormat::EpochMicros => format!("{ty} in epoch microseconds"),
        }
    }
}

/// How a declared timestamp or date column encodes its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnFormat {
    /// ISO-8601 text (`2026-10-20`, `2026-10-20T10:00:00Z`, `…+02:00`);
    /// text without an offset is UTC. The default.
    Iso8601,
    /// Seconds since 1970-01-01T00:00:00Z, as a number or text.
    EpochSeconds,
    /// Milliseconds since the epoch.
    EpochMillis,
    /// Microseconds since the epoch.
    EpochMicros,
}

/// How many values of a source's declared columns may fail to parse
/// (they read as null) before the run fails.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParseFailureLimit {
    /// At most this many per column.
    Count(u64),
    /// At most this percentage of the rows read, per column.
    Share(f64),
}

impl ParseFailureLimit {
    /// Whether `failures` of `rows` values pass the limit.
    pub fn allows(self, failures: u64, rows: u64) -> bool {
        match self {
            ParseFailureLimit::Count(n) => failures <= n,
            ParseFailureLimit::Share(p) => (failures as f64) <= p / 100.0 * rows as f64,
        }
    }
}

/// What a column the pipeline reads does in the files of a source that
/// lack it (`missing_columns:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingColumns {
    /// It is an error, naming the files (the default).
    Error,
    /// It reads as null in those files.
    ReadAsNull,
}

/// The entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// Its name (`account`).
    pub name: String,
    /// Description and owner.
    pub about: About,
    /// The source holding one row per entity.
    pub source: String,
    /// The key column.
    pub key: String,
    /// Attributes carried into expressions and the scorecard.
    pub attributes: Vec<String>,
    /// The population filter (row context over the entity source).
    pub population: Option<TypedExpr>,
    /// The attributes carried on every action, in order.
    pub display: Vec<String>,
}

impl Entity {
    /// The actions column that carries `attribute`: `account_name`.
    pub fn display_column(&self, attribute: &str) -> String {
        format!("{}_{attribute}", self.name)
    }
}

/// How a metric is computed.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricKind {
    /// Aggregated from a source's rows.
    Aggregate {
        /// The source.
        source: String,
        /// The window's length; all history before as-of when absent.
        window: Option<Seconds>,
        /// The row filter.
        filter: Option<TypedExpr>,
        /// The value: aggregates combined with arithmetic.
        value: TypedExpr,
    },
    /// Computed from other metrics, attributes and targets.
    Derived {
        /// The value.
        value: TypedExpr,
    },
}

/// A resolved metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Its name.
    pub name: String,
    /// Description and owner.
    pub about: About,
    /// How it is computed.
    pub kind: MetricKind,
    /// Its type.
    pub ty: Type,
    /// Display unit.
    pub unit: Option<String>,
    /// Marked as deliberately unused.
    pub unused: bool,
    /// The canonical text of its value expression.
    pub value_text: String,
    /// The canonical text of its filter, if any.
    pub filter_text: Option<String>,
    /// Where it is defined.
    pub span: Span,
}

impl Metric {
    /// Whether the scorecard carries the rows this metric read
    /// ([`names::rows_counted`](crate::base::names::rows_counted)): every
    /// aggregate metric except one made only of distinct counts, whose
    /// value already is what it counted (and whose rows would cost a scan
    /// of every row in its window).
    pub fn has_rows_counted(&self) -> bool {
        let MetricKind::Aggregate { value, .. } = &self.kind else {
            return false;
        };
        let mut other_than_distinct = false;
        value.walk(&mut |e| {
            if let TypedKind::Aggregate { function, .. } = &e.kind {
                other_than_distinct |= *function != Aggregate::CountDistinct;
            }
        });
        other_than_distinct
    }
}

/// Where KPI targets come from.
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    /// Description and owner.
    pub about: About,
    /// The source.
    pub source: String,
    /// Entity key column.
    pub key: String,
    /// KPI name column.
    pub kpi: String,
    /// Target value column.
    pub value: String,
    /// Direction column (`higher` / `lower`).
    pub direction: String,
    /// First effective day column.
    pub effective_from: Option<String>,
    /// End of effectiveness column (exclusive).
    pub effective_to: Option<String>,
    /// The KPIs the pipeline reads targets for, sorted.
    pub kpis: Vec<String>,
}

/// Indicator kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndicatorKind {
    /// Predicts outcomes (usage, adoption, escalations).
    Leading,
    /// Is an outcome (renewal, churn, NPS).
    Lagging,
}

impl IndicatorKind {
    /// The word used in files.
    pub fn name(self) -> &'static str {
        match self {
            IndicatorKind::Leading => "leading",
            IndicatorKind::Lagging => "lagging",
        }
    }
}

/// A resolved indicator.
#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    /// Its name.
    pub name: String,
    /// Description and owner.
    pub about: About,
    /// Leading or lagging.
    pub kind: IndicatorKind,
    /// The metric it scores.
    pub metric: String,
    /// The score expression (0–100; clamped).
    pub score: TypedExpr,
    /// Canonical text of the score expression.
    pub score_text: String,
    /// Weight within the group.
    pub weight: f64,
    /// The group.
    pub group: String,
    /// Where it is defined.
    pub span: Span,
}

/// A health group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Its name.
    pub name: String,
    /// Description and owner.
    pub about: About,
    /// Weight in the health score.
    pub weight: f64,
    /// Its indicators, in file order.
    pub indicators: Vec<String>,
}

/// A colour band.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// Its name.
    pub name: String,
    /// Inclusive lower bound.
    pub from: f64,
    /// Exclusive upper bound (inclusive at 100).
    pub to: f64,
}

/// A segment-specific weighting.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthModel {
    /// Its name.
    pub name: String,
    /// Description and owner.
    pub about: About,
    /// Which entities it applies to.
    pub when: TypedExpr,
    /// Canonical text of the condition.
    pub when_text: String,
    /// Group weight overrides.
    pub group_weights: BTreeMap<String, f64>,
    /// Indicator weight overrides.
    pub indicator_weights: BTreeMap<String, f64>,
}

/// The health roll-up.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// Description and owner.
    pub about: About,
    /// Groups in file order.
    pub groups: Vec<Group>,
    /// Bands sorted by `from`.
    pub bands: Vec<Band>,
    /// Models in file order (first match wins).
    pub models: Vec<HealthModel>,
}

/// Playbook priorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Act today.
    High,
    /// Act this week.
    Medium,
    /// When convenient.
    Low,
}

impl Priority {
    /// The word used in files and outputs.
    pub fn name(self) -> &'static str {
        match self {
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        }
    }
}

/// A resolved outcome: what a backtest asks the score to have seen coming.
/// It holds for an entity on night D when it happens in [D, D + horizon).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Its name.
    pub name: String,
    /// Description and owner.
    pub about: About,
    /// Where it happens.
    pub kind: OutcomeKind,
    /// How long after a night it counts for that night.
    pub horizon: Seconds,
    /// The name's span.
    pub span: Span,
}

/// A resolved rollup: one number per night for the book, or one per group.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollup {
    /// Its name.
    pub name: String,
    /// Description and owner.
    pub about: About,
    /// What its aggregates run over.
    pub over: RollupOver,
    /// The entity attributes (or `band`) it groups by, in order.
    pub by: Vec<String>,
    /// Its value: aggregates over the entities, combined; reads other
    /// rollups as [`TypedKind::Rollup`].
    pub value: TypedExpr,
    /// The value as written, for docs and diffs.
    pub value_text: String,
    /// The unit, for display.
    pub unit: Option<String>,
    /// The name's span.
    pub span: Span,
}

/// What a rollup's aggregates run over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollupOver {
    /// The entities scored tonight: every scorecard column.
    Population,
    /// Every row of the entity table: its attributes only (churned
    /// entities, no longer scored, are here).
    Entities,
}

impl Rollup {
    /// The rollups this one reads, in the order it reads them.
    pub fn reads(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.value.walk(&mut |e| {
            if let TypedKind::Rollup(name) = &e.kind
                && !out.contains(name)
            {
                out.push(name.clone());
            }
        });
        out
    }
}

/// Where an outcome comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum OutcomeKind {
    /// Rows of a source, each at the source's time column.
    Rows {
        /// The source.
        source: String,
        /// Which rows (`where:`).
        filter: Option<TypedExpr>,
        /// The filter as written, canonical.
        filter_text: Option<String>,
        /// An aggregate of the rows in the horizon (`value:`).
        value: Option<TypedExpr>,
        /// The value as written, canonical.
        value_text: Option<String>,
    },
    /// An entity attribute holding when it happened.
    Attribute(String),
}

/// A resolved playbook.
#[derive(Debug, Clone, PartialEq)]
pub struct Playbook {
    /// Its name.
    pub name: String,
    /// Description.
    pub about: About,
    /// The condition.
    pub when: TypedExpr,
    /// Canonical text of the condition.
    pub when_text: String,
    /// The action.
    pub action: String,
    /// Its priority.
    pub priority: Priority,
    /// Who does it.
    pub assignee: Option<TypedTemplate>,
    /// The message.
    pub message: TypedTemplate,
    /// What identifies a repeat of the same action.
    pub dedup_key: Option<TypedTemplate>,
    /// Quiet period after firing for a dedup key.
    pub cooldown: Option<Seconds>,
    /// Where it is defined.
    pub span: Span,
}

/// Output settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    /// The folder, resolved against the pipeline's folder.
    pub dir: PathBuf,
    /// The format.
    pub format: FileFormat,
    /// The engine the facts run on (`local`, `ballista://HOST:PORT`), when
    /// the file names one.
    pub engine: Option<String>,
}

/// A metric test: fixture rows per source, expected values per entity,
/// computed as of one night.
#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    /// Its name.
    pub name: String,
    /// Where its name is written.
    pub span: Span,
    /// The night it computes (`None` when the file gives none).
    pub as_of: Option<NaiveDate>,
    /// Fixture rows of the sources it gives; other sources are empty.
    pub fixtures: Vec<Fixture>,
    /// What each entity is expected to have.
    pub expectations: Vec<Expectation>,
}

/// One source's fixture rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixture {
    /// The source.
    pub source: String,
    /// Where the source is named in `given:`.
    pub span: Span,
    /// Each row's `(column, text)` pairs as written; `None` for an empty value.
    pub rows: Vec<Vec<(String, Option<String>)>>,
}

/// The values one entity is expected to have.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// The entity's key.
    pub entity: String,
    /// Where the key is written.
    pub span: Span,
    /// The expected values.
    pub checks: Vec<Expected>,
}

/// One expected value.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// What it is called in the file (`logins`, `score.usage`, `playbooks`).
    pub name: String,
    /// What it compares with.
    pub target: Target,
    /// The value expected.
    pub value: ExpectedValue,
    /// Where the value is written.
    pub span: Span,
}

/// What an expectation compares with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A column of the working scorecard.
    Column(String),
    /// The playbooks that fired for the entity.
    Playbooks,
}

/// An expected value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedValue {
    /// `null`: no value (for `playbooks`: none fired).
    Null,
    /// A scalar, as text (numbers keep their literal form).
    Text(String),
    /// A list of playbook names.
    List(Vec<String>),
}

/// A node of the dependency graph.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    /// A source.
    Source(String),
    /// An entity attribute.
    Attribute(String),
    /// A KPI target.
    Target(String),
    /// A metric.
    Metric(String),
    /// An indicator.
    Indicator(String),
    /// A health group.
    Group(String),
    /// The health score.
    Health,
    /// A playbook.
    Playbook(String),
    /// An outcome (read by backtests only).
    Outcome(String),
    /// A rollup (a book-level number).
    Rollup(String),
}

impl Node {
    /// The definition's name (`health` for the health score).
    pub fn name(&self) -> String {
        match self {
            Node::Source(n)
            | Node::Attribute(n)
            | Node::Target(n)
            | Node::Metric(n)
            | Node::Indicator(n)
            | Node::Group(n)
            | Node::Playbook(n)
            | Node::Outcome(n)
            | Node::Rollup(n) => n.clone(),
            Node::Health => "health".into(),
        }
    }

    /// The kind of definition, as headings and JSON name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Source(_) => "source",
            Node::Attribute(_) => "entity",
            Node::Target(_) => "targets",
            Node::Metric(_) => "metric",
            Node::Indicator(_) => "indicator",
            Node::Group(_) => "group",
            Node::Health => "health",
            Node::Playbook(_) => "playbook",
            Node::Outcome(_) => "outcome",
            Node::Rollup(_) => "rollup",
        }
    }
}

/// The checked pipeline.
#[derive(Debug, Clone)]
pub struct Model {
    /// The pipeline's file.
    pub file: Arc<SourceFile>,
    /// Its name.
    pub name: String,
    /// Description and owner.
    pub about: About,
    /// Sources in file order.
    pub sources: Vec<Source>,
    /// The entity.
    pub entity: Entity,
    /// Metrics in dependency order (each after everything it reads).
    pub metrics: Vec<Metric>,
    /// Every `(metric, shift)` evaluation the outputs need, sorted.
    pub evaluations: Vec<(String, Seconds)>,
    /// KPI targets.
    pub targets: Option<Targets>,
    /// Indicators in file order.
    pub indicators: Vec<Indicator>,
    /// Health, if defined.
    pub health: Option<Health>,
    /// Playbooks in file order.
    pub playbooks: Vec<Playbook>,
    /// Outcomes in file order (backtests only; nothing else reads them).
    pub outcomes: Vec<Outcome>,
    /// Rollups in file order (none reads itself, directly or not).
    pub rollups: Vec<Rollup>,
    /// Output settings.
    pub outputs: Outputs,
    /// Metric tests, typed (run by `vane test`).
    pub tests: Vec<Test>,
    /// Dependency edges `(from, to)`: `to` reads `from`.
    pub edges: Vec<(Node, Node)>,
}

impl Model {
    /// Every column of `source` the pipeline reads: its key and time, the
    /// columns its metrics read, and for the entity and targets sources
    /// every column they use.
    pub fn columns_read(&self, source: &str) -> BTreeSet<String> {
        let mut columns = BTreeSet::new();
        let add = |e: &TypedExpr, columns: &mut BTreeSet<String>| {
            e.walk(&mut |x| {
                if let TypedKind::Column(c) = &x.kind {
                    columns.insert(c.clone());
                }
            })
        };
        for metric in &self.metrics {
            if let MetricKind::Aggregate {
                source: s,
                filter,
                value,
                ..
            } = &metric.kind
                && s == source
            {
                add(value, &mut columns);
                if let Some(f) = filter {
                    add(f, &mut columns);
                }
            }
        }
        if let Some(s) = self.source(source) {
            columns.insert(s.key.clone());
            columns.extend(s.time.clone());
        }
        if self.entity.source == source {
            columns.insert(self.entity.key.clone());
            columns.extend(self.entity.attributes.iter().cloned());
            if let Some(p) = &self.entity.population {
                add(p, &mut columns);
            }
        }
        if let Some(t) = self.targets.as_ref().filter(|t| t.source == source) {
            columns.extend([
                t.key.clone(),
                t.kpi.clone(),
                t.value.clone(),
                t.direction.clone(),
            ]);
            columns.extend(t.effective_from.clone());
            columns.extend(t.effective_to.clone());
        }
        columns
    }

    /// The rollup named `name`.
    pub fn rollup(&self, name: &str) -> Option<&Rollup> {
        self.rollups.iter().find(|r| r.name == name)
    }

    /// The outcome named `name`.
    pub fn outcome(&self, name: &str) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.name == name)
    }

    /// A metric by name.
    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// A source by name.
    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.name == name)
    }

    /// What `node` reads directly.
    pub fn inputs_of(&self, node: &Node) -> Vec<&Node> {
        self.edges
            .iter()
            .filter(|(_, to)| to == node)
            .map(|(from, _)| from)
            .collect()
    }

    /// What reads `node` directly.
    pub fn users_of(&self, node: &Node) -> Vec<&Node> {
        self.edges
            .iter()
            .filter(|(from, _)| from == node)
            .map(|(_, to)| to)
            .collect()
    }

    /// Everything downstream of `node`, transitively, sorted.
    pub fn downstream_of(&self, node: &Node) -> Vec<Node> {
        let mut seen = std::collections::BTreeSet::new();
        let mut stack = vec![node.clone()];
        while let Some(current) = stack.pop() {
            for user in self.users_of(&current) {
                if seen.insert(user.clone()) {
                    stack.push(user.clone());
                }
            }
        }
        seen.into_iter().collect()
    }
}
