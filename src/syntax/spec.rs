//! The pipeline file format, declared once: every section, its keys, their
//! shapes and their documentation. The loader checks keys against it (so an
//! unknown key gets a "did you mean"), and `vane schema` turns it into a
//! JSON Schema for editor completion, so the two can never disagree.

/// The spec version this Vane reads.
pub const SPEC_VERSION: i64 = 1;

/// A mapping in the file with known keys.
#[derive(Debug)]
pub struct Section {
    /// The section's name in messages ("metric", "playbook", …).
    pub name: &'static str,
    /// What the section is for.
    pub doc: &'static str,
    /// The keys it accepts.
    pub fields: &'static [Field],
}

/// One key of a [`Section`].
#[derive(Debug)]
pub struct Field {
    /// The key as written.
    pub key: &'static str,
    /// What it means.
    pub doc: &'static str,
    /// What value it takes.
    pub shape: Shape,
    /// Whether it must be present.
    pub required: bool,
}

/// The shapes a value can take.
#[derive(Debug)]
pub enum Shape {
    /// Free text.
    Text,
    /// An expression in the Vane language.
    Expression,
    /// A message template with `{expression}` holes.
    Template,
    /// A duration literal such as `30d`.
    Duration,
    /// A number.
    Number,
    /// A whole number.
    Integer,
    /// `true` / `false`.
    Bool,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// A list of names.
    TextList,
    /// A nested section.
    Section(&'static Section),
    /// A mapping from names the user picks to sections.
    Named(&'static Section),
    /// A mapping from names to numbers.
    NamedNumbers,
    /// Column name → a type word or a [`COLUMN`] section.
    Columns,
    /// A count (`10`) or a share of rows (`1%`).
    CountOrShare,
    /// Fixture rows: source name → list of rows (column → value).
    Fixtures,
    /// Expectations: entity key → (name → value).
    Expectations,
}

const fn field(key: &'static str, shape: Shape, doc: &'static str) -> Field {
    Field {
        key,
        doc,
        shape,
        required: false,
    }
}

const fn required(key: &'static str, shape: Shape, doc: &'static str) -> Field {
    Field {
        key,
        doc,
        shape,
        required: true,
    }
}

/// `description:` — allowed on every definition.
pub const DESCRIPTION: Field = field(
    "description",
    Shape::Text,
    "What this is and why it matters.",
);
/// `owner:` — allowed on every definition.
pub const OWNER: Field = field(
    "owner",
    Shape::Text,
    "Who maintains this definition (a person or team).",
);

/// Source formats Vane reads.
pub const SOURCE_FORMATS: &[&str] = &["parquet", "csv", "jsonl", "arrow"];
/// What a source does with a column some of its files lack.
pub const MISSING_COLUMNS: &[&str] = &["error", "read_as_null"];
/// The types a source's `columns:` may declare.
pub const COLUMN_TYPES: &[&str] = &[
    "timestamp",
    "date",
    "number",
    "integer",
    "string",
    "boolean",
];
/// How `columns:` text or numbers become timestamps and dates.
pub const COLUMN_FORMATS: &[&str] = &["iso8601", "epoch_seconds", "epoch_millis", "epoch_micros"];
/// Output formats Vane writes.
pub const OUTPUT_FORMATS: &[&str] = &["parquet", "csv", "jsonl"];
/// Indicator kinds.
pub const INDICATOR_KINDS: &[&str] = &["leading", "lagging"];
/// Playbook priorities, most urgent first.
pub const PRIORITIES: &[&str] = &["high", "medium", "low"];

/// `sources.<name>`.
pub static SOURCE: Section = Section {
    name: "source",
    doc: "A table read from files: Parquet, CSV, JSON lines or Arrow IPC.",
    fields: &[
        DESCRIPTION,
        OWNER,
        required(
            "path",
            Shape::Text,
            "File, folder or glob, relative to the pipeline file (`data/events/*.parquet`).",
        ),
        field(
            "format",
            Shape::Choice(SOURCE_FORMATS),
            "File format; guessed from the extension when absent.",
        ),
        field(
            "time",
            Shape::Text,
            "The event-time column that metric windows apply to.",
        ),
        field(
            "key",
            Shape::Text,
            "The column holding the entity key; defaults to the entity's key name.",
        ),
        field(
            "partitions",
            Shape::TextList,
            "Hive partition columns encoded in folder names (`region=eu/`).",
        ),
        field(
            "table",
            Shape::Text,
            "The warehouse table holding the same rows (`analytics.product_events`), for `vane sql`; defaults to the source's name.",
        ),
        field(
            "missing_columns",
            Shape::Choice(MISSING_COLUMNS),
            "A column the pipeline reads that some Parquet or Arrow files of the source lack: `error` (the default) or `read_as_null` in those files.",
        ),
        field(
            "columns",
            Shape::Columns,
            "Declared column types, read from text or numbers inside the plan (`ts: timestamp`, `signed_on: date`, `amount: number`, `ms: { type: timestamp, format: epoch_millis }`).",
        ),
        field(
            "max_parse_failures",
            Shape::CountOrShare,
            "Values of a declared column that may fail to parse before the run fails: a count (`0`, the default) or a share of the rows (`1%`). Failures read as null and are counted in the run summary and the manifest.",
        ),
    ],
};

/// `sources.<name>.columns.<column>` written as a mapping.
pub static COLUMN: Section = Section {
    name: "column",
    doc: "A declared column type, with the format its values are written in.",
    fields: &[
        required(
            "type",
            Shape::Choice(COLUMN_TYPES),
            "The type the column is read as.",
        ),
        field(
            "format",
            Shape::Choice(COLUMN_FORMATS),
            "How text or numbers encode a timestamp or date: `iso8601` (the default: `2026-10-20`, `2026-10-20T10:00:00Z`, with or without an offset; without one it is UTC), `epoch_seconds`, `epoch_millis`, `epoch_micros`.",
        ),
    ],
};

/// `entity:`.
pub static ENTITY: Section = Section {
    name: "entity",
    doc: "Who gets a scorecard row: one row per key of the entity table, filtered by the population.",
    fields: &[
        DESCRIPTION,
        OWNER,
        required(
            "name",
            Shape::Text,
            "The entity's name, used in expressions as `name.attribute` (`account.seats`).",
        ),
        required(
            "source",
            Shape::Text,
            "The source holding one row per entity.",
        ),
        required("key", Shape::Text, "The key column of the entity table."),
        field(
            "attributes",
            Shape::TextList,
            "Columns of the entity table usable in expressions and carried into the scorecard.",
        ),
        field(
            "population",
            Shape::Expression,
            "Which entities get a row: a condition over the entity table's columns.",
        ),
        field(
            "display",
            Shape::TextList,
            "The attributes that tell a person which entity a row is about (`[name, csm, arr, renewal_date]`): carried on every action as `<entity>_<attribute>`. Default: every attribute.",
        ),
    ],
};

/// `metrics.<name>`.
pub static METRIC: Section = Section {
    name: "metric",
    doc: "A measured value per entity: an aggregate over a source (with `from`) or an expression over other metrics.",
    fields: &[
        DESCRIPTION,
        OWNER,
        field(
            "from",
            Shape::Text,
            "The source to aggregate; absent for derived metrics.",
        ),
        field(
            "window",
            Shape::Duration,
            "How far back from as-of to look (`30d`): rows with as_of - window <= time < as_of.",
        ),
        field(
            "where",
            Shape::Expression,
            "A row condition applied before aggregating.",
        ),
        required(
            "value",
            Shape::Expression,
            "An aggregate (`count()`, `avg(x)`, …) or an expression over metrics and entity attributes.",
        ),
        field(
            "unit",
            Shape::Text,
            "Unit for display (`days`, `percent`, `usd`).",
        ),
        field(
            "unused",
            Shape::Bool,
            "Set to true for a metric kept on purpose without an indicator or playbook using it.",
        ),
    ],
};

/// `targets:`.
pub static TARGETS: Section = Section {
    name: "targets",
    doc: "Per-entity KPI targets: each customer is scored against its own target.",
    fields: &[
        DESCRIPTION,
        OWNER,
        required(
            "source",
            Shape::Text,
            "The source holding one row per (entity, KPI, effective period).",
        ),
        field(
            "key",
            Shape::Text,
            "Column with the entity key; defaults to the entity's key name.",
        ),
        field("kpi", Shape::Text, "Column naming the KPI (default `kpi`)."),
        field(
            "value",
            Shape::Text,
            "Column with the target value (default `target`).",
        ),
        field(
            "direction",
            Shape::Text,
            "Column with `higher` or `lower`: which way is better (default `direction`).",
        ),
        field(
            "effective_from",
            Shape::Text,
            "Column with the first date the target applies (inclusive).",
        ),
        field(
            "effective_to",
            Shape::Text,
            "Column with the date the target stops applying (exclusive; empty = open).",
        ),
    ],
};

/// `indicators.<name>`.
pub static INDICATOR: Section = Section {
    name: "indicator",
    doc: "A metric turned into a 0–100 score, weighted within a health group.",
    fields: &[
        DESCRIPTION,
        OWNER,
        required(
            "kind",
            Shape::Choice(INDICATOR_KINDS),
            "`leading` (predicts outcomes) or `lagging` (is an outcome).",
        ),
        required("metric", Shape::Text, "The metric it scores."),
        required(
            "score",
            Shape::Expression,
            "Scoring expression; `value` is the metric's value (`ramp(value, 20%, 80%)`).",
        ),
        field(
            "weight",
            Shape::Number,
            "Weight within its group (default 1).",
        ),
        required("group", Shape::Text, "The health group it belongs to."),
    ],
};

/// `health.groups.<name>`.
pub static GROUP: Section = Section {
    name: "group",
    doc: "A health group: the weighted mean of its indicators' scores.",
    fields: &[
        DESCRIPTION,
        OWNER,
        required(
            "weight",
            Shape::Number,
            "Weight of the group in the health score.",
        ),
    ],
};

/// `health.bands.<name>`.
pub static BAND: Section = Section {
    name: "band",
    doc: "A colour band: health in [from, to); the top band includes 100.",
    fields: &[
        required("from", Shape::Number, "Lower bound, inclusive."),
        required(
            "to",
            Shape::Number,
            "Upper bound, exclusive (inclusive when it is 100).",
        ),
    ],
};

/// `health.models.<name>`.
pub static MODEL: Section = Section {
    name: "model",
    doc: "A segment-specific health model: other weights for the entities matching `when`. The first matching model wins.",
    fields: &[
        DESCRIPTION,
        OWNER,
        required(
            "when",
            Shape::Expression,
            "Which entities it applies to, over entity attributes (`account.segment = 'enterprise'`).",
        ),
        field(
            "groups",
            Shape::NamedNumbers,
            "Group weights that replace the defaults.",
        ),
        field(
            "indicators",
            Shape::NamedNumbers,
            "Indicator weights that replace the defaults.",
        ),
    ],
};

/// `health:`.
pub static HEALTH: Section = Section {
    name: "health",
    doc: "The health score: a weighted roll-up of group scores, with colour bands.",
    fields: &[
        DESCRIPTION,
        OWNER,
        required(
            "groups",
            Shape::Named(&GROUP),
            "The groups and their weights.",
        ),
        required(
            "bands",
            Shape::Named(&BAND),
            "Colour bands covering 0–100 without gaps or overlaps.",
        ),
        field(
            "models",
            Shape::Named(&MODEL),
            "Segment-specific weightings, tried in order.",
        ),
    ],
};

/// `playbooks.<name>`.
pub static PLAYBOOK: Section = Section {
    name: "playbook",
    doc: "A rule: when the condition holds for an entity, an action is due.",
    fields: &[
        DESCRIPTION,
        required(
            "when",
            Shape::Expression,
            "The condition, over metrics, entity attributes, `health` and `band`.",
        ),
        required(
            "action",
            Shape::Text,
            "What to do (`call`, `email`, `qbr`, …).",
        ),
        field(
            "priority",
            Shape::Choice(PRIORITIES),
            "`high`, `medium` (default) or `low`.",
        ),
        field(
            "owner",
            Shape::Template,
            "Who does it, a template such as `{account.csm}`.",
        ),
        required(
            "message",
            Shape::Template,
            "The message, with `{expression}` holes.",
        ),
        field(
            "dedup_key",
            Shape::Template,
            "What makes two firings the same for the cooldown (default: entity key and playbook).",
        ),
        field(
            "cooldown",
            Shape::Duration,
            "How long after firing the same action stays quiet (`14d`).",
        ),
    ],
};

/// `outputs:`.
pub static OUTPUTS: Section = Section {
    name: "outputs",
    doc: "Where and how results are written.",
    fields: &[
        field(
            "dir",
            Shape::Text,
            "Output folder, relative to the pipeline file (default: `out/<pipeline name>` in the current folder).",
        ),
        field(
            "format",
            Shape::Choice(OUTPUT_FORMATS),
            "`parquet` (default), `csv` or `jsonl`.",
        ),
        field(
            "engine",
            Shape::Text,
            "Where the facts run: `local` (default) or `ballista://HOST:PORT`, an Apache Ballista scheduler (a build with the `ballista` feature). `--engine` and `VANE_ENGINE` win over it.",
        ),
    ],
};

/// `tests.<name>`.
pub static TEST: Section = Section {
    name: "test",
    doc: "A metric test: fixture rows per source, an as-of date and expected values per entity.",
    fields: &[
        DESCRIPTION,
        OWNER,
        required(
            "as_of",
            Shape::Text,
            "The as-of date of the test run (`2026-11-01`).",
        ),
        required(
            "given",
            Shape::Fixtures,
            "Fixture rows per source (sources not given are empty).",
        ),
        required(
            "expect",
            Shape::Expectations,
            "Expected metric values, scores, `health`, `band` and `playbooks` per entity key.",
        ),
    ],
};

/// `outcomes.<name>`.
pub static OUTCOME: Section = Section {
    name: "outcome",
    doc: "Something that happens to an entity (a churn, a contraction), for `vane backtest` only: it holds for an entity on night D when it happens in [D, D + horizon). Never read by metrics, indicators or playbooks.",
    fields: &[
        DESCRIPTION,
        OWNER,
        field(
            "from",
            Shape::Text,
            "The source whose rows are the outcome (each row at its time column); or use `at`.",
        ),
        field(
            "where",
            Shape::Expression,
            "With `from`: which of the source's rows are the outcome (`kind = 'churn'`).",
        ),
        field(
            "at",
            Shape::Expression,
            "Instead of `from`: an entity date or timestamp attribute (`account.churned_at`).",
        ),
        required(
            "horizon",
            Shape::Duration,
            "How long after a night the outcome counts for it (`90d`).",
        ),
        field(
            "value",
            Shape::Expression,
            "With `from`: an aggregate of the outcome's rows in the horizon (`sum(amount_usd)`), for dollar-weighted results.",
        ),
    ],
};

/// What a rollup aggregates over.
pub const ROLLUP_OVER: &[&str] = &["population", "entities"];

/// `rollups.<name>`.
pub static ROLLUP: Section = Section {
    name: "rollup",
    doc: "A book-level number computed every night from the scored entities (accounts per band, ARR at risk, churn rate), for the whole book or per group.",
    fields: &[
        DESCRIPTION,
        OWNER,
        field(
            "over",
            Shape::Choice(ROLLUP_OVER),
            "`population` (default): the entities scored tonight, with their attributes, metrics, `score(...)`, `health` and `band`. `entities`: every row of the entity table, attributes only — for churn rates, whose churned entities are no longer scored.",
        ),
        field(
            "by",
            Shape::TextList,
            "Group by these entity attributes (or `band`): one value per group. Without it, one value for the whole book.",
        ),
        required(
            "value",
            Shape::Expression,
            "Aggregates over the entities (`sum_if(account.arr, band = 'red')`), combined with arithmetic; may read rollups without `by` by name.",
        ),
        field(
            "unit",
            Shape::Text,
            "The value's unit, for display (`usd`, `percent`, `accounts`).",
        ),
    ],
};

/// The whole file.
pub static PIPELINE: Section = Section {
    name: "pipeline",
    doc: "A Vane pipeline: sources, the entity, metrics, targets, indicators, health, playbooks, outcomes, outputs and tests.",
    fields: &[
        required(
            "vane",
            Shape::Integer,
            "The file-format version; this Vane reads version 1.",
        ),
        field(
            "name",
            Shape::Text,
            "The pipeline's name (default: the file name).",
        ),
        DESCRIPTION,
        OWNER,
        field(
            "timezone",
            Shape::Text,
            "Time zone for dates and windows; only `UTC` for now.",
        ),
        required(
            "sources",
            Shape::Named(&SOURCE),
            "Where the data comes from.",
        ),
        required(
            "entity",
            Shape::Section(&ENTITY),
            "Who gets a scorecard row.",
        ),
        field("metrics", Shape::Named(&METRIC), "What is measured."),
        field(
            "targets",
            Shape::Section(&TARGETS),
            "Per-entity KPI targets.",
        ),
        field("indicators", Shape::Named(&INDICATOR), "Scored metrics."),
        field("health", Shape::Section(&HEALTH), "The health roll-up."),
        field(
            "playbooks",
            Shape::Named(&PLAYBOOK),
            "Rules that turn signals into actions.",
        ),
        field(
            "outcomes",
            Shape::Named(&OUTCOME),
            "What happened to entities afterwards (churn, contraction), for backtests.",
        ),
        field(
            "rollups",
            Shape::Named(&ROLLUP),
            "Book-level numbers per night: over the whole book or by segment, CSM, band.",
        ),
        field(
            "outputs",
            Shape::Section(&OUTPUTS),
            "Where results are written.",
        ),
        field(
            "tests",
            Shape::Named(&TEST),
            "Metric tests on inline fixtures.",
        ),
    ],
};

impl Section {
    /// The field for `key`, if the section has one.
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.key == key)
    }
}
