//! The expression language's functions, each declared once: its name, its
//! parameters (and so its arity), where it may be called, what it returns,
//! what it does with nulls, and the lines `docs/language.md` shows for it.
//!
//! The checker types calls from this table, "did you mean" suggests from
//! it, the planner lowers each [`Function`] and [`Aggregate`] it declares
//! (an exhaustive `match`, so a new function cannot be forgotten there),
//! and the function reference in `docs/language.md` is generated from it
//! ([`reference_markdown`], kept current by a test).

use crate::base::types::Type;

/// Aggregate functions (after desugaring `_if` forms into a filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aggregate {
    /// Rows (or non-null values).
    Count,
    /// Distinct non-null values.
    CountDistinct,
    /// Sum.
    Sum,
    /// Mean.
    Avg,
    /// Smallest.
    Min,
    /// Largest.
    Max,
    /// Exact median.
    Median,
    /// Exact continuous percentile (`p` in 0–1).
    Percentile,
}

impl Aggregate {
    /// Aggregates that give 0, not null, for an entity with no rows.
    pub fn zero_when_empty(self) -> bool {
        matches!(
            self,
            Aggregate::Count | Aggregate::CountDistinct | Aggregate::Sum
        )
    }

    /// The function's name in the language.
    pub fn name(self) -> &'static str {
        FUNCTIONS
            .iter()
            .find(|f| f.kind == Kind::Aggregate(self, false))
            .map_or("aggregate", |f| f.name)
    }
}

/// Scalar functions (after desugaring).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// `round(x[, digits])`.
    Round,
    /// `abs(x)`.
    Abs,
    /// `floor(x)`.
    Floor,
    /// `ceil(x)`.
    Ceil,
    /// `sqrt(x)` (null for negatives).
    Sqrt,
    /// `ln(x)` (null for x <= 0).
    Ln,
    /// `least(a, b, …)`.
    Least,
    /// `greatest(a, b, …)`.
    Greatest,
    /// `clamp(x, low, high)`.
    Clamp,
    /// `coalesce(a, b, …)`.
    Coalesce,
    /// `if(condition, then, else)`.
    If,
    /// `days_between(start, end)`: fractional days from start to end.
    DaysBetween,
    /// `days(duration)`: a duration in days.
    Days,
    /// `date(timestamp)`.
    Date,
    /// `lower(text)`.
    Lower,
    /// `format_number(x[, digits])`.
    FormatNumber,
    /// `upper(text)`.
    Upper,
    /// `ramp(x, zero_at, full_at)`: 0 at `zero_at`, 100 at `full_at`, linear between, clamped.
    Ramp,
    /// `bands(x, [t1…tn], [s0…sn])`: `s_i` for `t_i <= x < t_(i+1)`.
    Bands,
    /// `attainment(x, 'kpi')`: 0–100 against the entity's own target, honouring direction.
    Attainment,
    /// `target('kpi')`: the entity's target value.
    Target,
    /// `change(m[, period])`: relative change of a metric vs one period earlier.
    Change,
}

/// What a call becomes once checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An aggregate; `true` for the `_if` form, whose last argument is a row condition.
    Aggregate(Aggregate, bool),
    /// A scalar function.
    Scalar(Function),
    /// `previous(m)`: the metric read one period earlier.
    Previous,
    /// `score(indicator)`: an indicator's score, in playbooks.
    Score,
}

/// Where a function may be called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Only in the `value:` of a metric with `from:`.
    Aggregate,
    /// In every scope.
    Anywhere,
    /// Per entity: derived metrics, scores, models and playbooks.
    Entity,
    /// Only in playbooks.
    Playbook,
}

/// What an argument must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// Any value.
    Any,
    /// An integer or a number.
    Number,
    /// A date or a timestamp.
    Temporal,
    /// A date or a timestamp, named "a timestamp" in messages.
    Timestamp,
    /// A duration.
    Duration,
    /// Text.
    Text,
    /// A condition (boolean).
    Condition,
    /// A number, date, timestamp or text (something with an order).
    Ordered,
    /// A row condition, the last argument of an `_if` aggregate.
    RowCondition,
    /// An integer literal from 0 to 15 (`round`'s digits).
    Digits,
    /// A constant number from 0 to 1 (`percentile`'s `p`).
    Fraction,
    /// A list of constant numbers (`bands`).
    Numbers,
    /// A metric's name (`previous`, `change`).
    Metric,
    /// A positive duration literal (the period of `previous`, `change`).
    Period,
    /// A KPI's name as a quoted string.
    Kpi,
    /// An indicator's name.
    Indicator,
}

impl Param {
    /// Whether a value of type `ty` may be passed, for parameters checked by type.
    pub fn accepts(self, ty: Type) -> bool {
        match self {
            Param::Number => ty.is_numeric(),
            Param::Temporal | Param::Timestamp => ty.is_temporal(),
            Param::Duration => ty.fits(Type::Duration),
            Param::Text => ty.fits(Type::String),
            Param::Condition | Param::RowCondition => ty.fits(Type::Boolean),
            Param::Ordered => ty.is_numeric() || ty.is_temporal() || ty == Type::String,
            _ => true,
        }
    }

    /// The words for what is wanted, in messages.
    pub fn wanted(self) -> &'static str {
        match self {
            Param::Number | Param::Fraction => "a number",
            Param::Temporal => "a date or timestamp",
            Param::Timestamp => "a timestamp",
            Param::Duration => "a duration",
            Param::Text => "text",
            Param::Condition | Param::RowCondition => "a condition",
            Param::Ordered => "a number, date, timestamp or text",
            Param::Digits => "a whole number of digits from 0 to 15",
            Param::Numbers => "a list of numbers",
            Param::Metric => "a metric's name",
            Param::Period => "a positive duration literal",
            Param::Kpi => "the KPI's name as a quoted string",
            Param::Indicator => "an indicator's name",
            Param::Any => "a value",
        }
    }
}

/// What a call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    /// Always this type.
    Fixed(Type),
    /// An integer for an integer first argument, else a number; an
    /// unknown argument gives an unknown result when `keep_unknown`.
    Numeric {
        /// Whether an argument of unknown type leaves the result unknown.
        keep_unknown: bool,
    },
    /// The first argument's type.
    First,
    /// The common type of the arguments from this position on.
    Common(usize),
    /// The type of the metric named by the first argument.
    MetricType,
}

/// The sections of the function reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Aggregates over a source's rows.
    Aggregate,
    /// Scalar functions.
    Scalar,
    /// Scoring helpers.
    Scoring,
    /// Period over period.
    Time,
    /// Functions of playbooks.
    Playbook,
}

/// One function of the language.
#[derive(Debug, Clone, Copy)]
pub struct FunctionDef {
    /// Its name (calls are case-insensitive).
    pub name: &'static str,
    /// What a call becomes.
    pub kind: Kind,
    /// Where it may be called.
    pub place: Place,
    /// Its parameters, in order.
    pub params: &'static [Param],
    /// How many trailing parameters may be left out.
    pub optional: usize,
    /// Whether the last parameter repeats (`least(a, b, c, …)`).
    pub variadic: bool,
    /// What a call returns.
    pub returns: Returns,
    /// How it is written, shown with a wrong argument count.
    pub usage: &'static str,
    /// Its section in the reference.
    pub category: Category,
    /// The reference's "returns" column.
    pub returns_doc: &'static str,
    /// The reference's "null behaviour" column.
    pub nulls: &'static str,
    /// An example call.
    pub example: &'static str,
}

impl FunctionDef {
    /// The fewest arguments a call takes.
    pub fn min_args(&self) -> usize {
        self.params.len() - self.optional
    }

    /// The most arguments a call takes (`usize::MAX` when variadic).
    pub fn max_args(&self) -> usize {
        if self.variadic {
            usize::MAX
        } else {
            self.params.len()
        }
    }

    /// What the argument at `position` must be.
    pub fn param(&self, position: usize) -> Param {
        self.params
            .get(position)
            .or(self.params.last())
            .copied()
            .unwrap_or(Param::Any)
    }
}

/// The function called `name` (any case).
pub fn lookup(name: &str) -> Option<&'static FunctionDef> {
    FUNCTIONS.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

/// Every function's name, for "did you mean".
pub fn names() -> impl Iterator<Item = &'static str> + Clone {
    FUNCTIONS.iter().map(|f| f.name)
}

const fn aggregate(
    name: &'static str,
    function: Aggregate,
    conditional: bool,
    params: &'static [Param],
    returns: Returns,
    usage: &'static str,
    docs: [&'static str; 3],
) -> FunctionDef {
    FunctionDef {
        name,
        kind: Kind::Aggregate(function, conditional),
        place: Place::Aggregate,
        params,
        optional: 0,
        variadic: false,
        returns,
        usage,
        category: Category::Aggregate,
        returns_doc: docs[0],
        nulls: docs[1],
        example: docs[2],
    }
}

const fn scalar(
    name: &'static str,
    function: Function,
    params: &'static [Param],
    returns: Returns,
    usage: &'static str,
    category: Category,
    docs: [&'static str; 3],
) -> FunctionDef {
    FunctionDef {
        name,
        kind: Kind::Scalar(function),
        place: Place::Anywhere,
        params,
        optional: 0,
        variadic: false,
        returns,
        usage,
        category,
        returns_doc: docs[0],
        nulls: docs[1],
        example: docs[2],
    }
}

use Param as P;

const NUMBER: Returns = Returns::Fixed(Type::Number);
const INTEGER: Returns = Returns::Fixed(Type::Integer);

/// Every function, in the order "did you mean" and the reference list them.
pub const FUNCTIONS: &[FunctionDef] = &[
    FunctionDef {
        optional: 1,
        ..aggregate(
            "count",
            Aggregate::Count,
            false,
            &[P::Any],
            INTEGER,
            "count() or count(column)",
            [
                "integer: the number of rows; with `x`, rows where `x` is not null",
                "`0` with no rows",
                "`count()`, `count(closed_at)`",
            ],
        )
    },
    aggregate(
        "count_if",
        Aggregate::Count,
        true,
        &[P::RowCondition],
        INTEGER,
        "count_if(condition)",
        [
            "integer: rows where `cond` is true",
            "`0` with no rows",
            "`count_if(score >= 9)`",
        ],
    ),
    aggregate(
        "count_distinct",
        Aggregate::CountDistinct,
        false,
        &[P::Any],
        INTEGER,
        "count_distinct(x)",
        [
            "integer: distinct non-null values",
            "`0` with no rows",
            "`count_distinct(user_id)`",
        ],
    ),
    aggregate(
        "count_distinct_if",
        Aggregate::CountDistinct,
        true,
        &[P::Any, P::RowCondition],
        INTEGER,
        "count_distinct_if(x, condition)",
        [
            "integer: distinct non-null values in rows where `cond` is true",
            "`0` with no rows",
            "`count_distinct_if(user_id, event_type = 'login')`",
        ],
    ),
    aggregate(
        "sum",
        Aggregate::Sum,
        false,
        &[P::Number],
        Returns::Numeric { keep_unknown: true },
        "sum(x)",
        [
            "integer for an integer `x`, else number",
            "`0` with no rows (or only nulls)",
            "`sum(amount_usd)`",
        ],
    ),
    aggregate(
        "sum_if",
        Aggregate::Sum,
        true,
        &[P::Number, P::RowCondition],
        Returns::Numeric { keep_unknown: true },
        "sum_if(x, condition)",
        [
            "as `sum`, over rows where `cond` is true",
            "`0` with no rows (or only nulls)",
            "`sum_if(amount_usd, kind = 'renewal')`",
        ],
    ),
    aggregate(
        "avg",
        Aggregate::Avg,
        false,
        &[P::Number],
        NUMBER,
        "avg(x)",
        [
            "number: mean of non-null values",
            "null with no rows (or only nulls)",
            "`avg(days_between(opened_at, closed_at))`",
        ],
    ),
    aggregate(
        "avg_if",
        Aggregate::Avg,
        true,
        &[P::Number, P::RowCondition],
        NUMBER,
        "avg_if(x, condition)",
        [
            "number: mean of non-null values in rows where `cond` is true",
            "null with no rows (or only nulls)",
            "`avg_if(amount, kind = 'expansion')`",
        ],
    ),
    aggregate(
        "min",
        Aggregate::Min,
        false,
        &[P::Ordered],
        Returns::First,
        "min(x)",
        [
            "same type as `x` (number, integer, date, timestamp or text): the smallest value",
            "null with no rows (or only nulls)",
            "`min(event_time)`",
        ],
    ),
    aggregate(
        "min_if",
        Aggregate::Min,
        true,
        &[P::Ordered, P::RowCondition],
        Returns::First,
        "min_if(x, condition)",
        [
            "same type as `x`: the smallest value in rows where `cond` is true",
            "null with no rows (or only nulls)",
            "`min_if(event_time, event_type = 'report_created')`",
        ],
    ),
    aggregate(
        "max",
        Aggregate::Max,
        false,
        &[P::Ordered],
        Returns::First,
        "max(x)",
        [
            "same type as `x` (number, integer, date, timestamp or text): the largest value",
            "null with no rows (or only nulls)",
            "`max(event_time)`",
        ],
    ),
    aggregate(
        "max_if",
        Aggregate::Max,
        true,
        &[P::Ordered, P::RowCondition],
        Returns::First,
        "max_if(x, condition)",
        [
            "same type as `x`: the largest value in rows where `cond` is true",
            "null with no rows (or only nulls)",
            "`max_if(event_time, event_type = 'login')`",
        ],
    ),
    aggregate(
        "median",
        Aggregate::Median,
        false,
        &[P::Number],
        NUMBER,
        "median(x)",
        [
            "number: exact median (mean of the two middle values for an even count)",
            "null with no rows (or only nulls)",
            "`median(order_value)`",
        ],
    ),
    aggregate(
        "percentile",
        Aggregate::Percentile,
        false,
        &[P::Number, P::Fraction],
        NUMBER,
        "percentile(x, 0.9)",
        [
            "number: exact continuous percentile (linear interpolation); `p` is a constant from 0 to 1",
            "null with no rows (or only nulls)",
            "`percentile(days_between(ordered_at, delivered_at), 90%)`",
        ],
    ),
    FunctionDef {
        optional: 1,
        ..scalar(
            "round",
            Function::Round,
            &[P::Number, P::Digits],
            NUMBER,
            "round(x) or round(x, digits)",
            Category::Scalar,
            [
                "number, rounded half away from zero; `digits` is an integer literal 0–15 (default 0)",
                "null if `x` is null",
                "`round(login_change * 100, 0)`",
            ],
        )
    },
    scalar(
        "abs",
        Function::Abs,
        &[P::Number],
        Returns::Numeric {
            keep_unknown: false,
        },
        "abs(x)",
        Category::Scalar,
        [
            "integer for an integer `x`, else number",
            "null → null",
            "`abs(change(mrr))`",
        ],
    ),
    scalar(
        "floor",
        Function::Floor,
        &[P::Number],
        NUMBER,
        "floor(x)",
        Category::Scalar,
        [
            "number",
            "null → null",
            "`floor(days(as_of - account.signed_at))`",
        ],
    ),
    scalar(
        "ceil",
        Function::Ceil,
        &[P::Number],
        NUMBER,
        "ceil(x)",
        Category::Scalar,
        [
            "number",
            "null → null",
            "`ceil(days(as_of - account.signed_at) / 7)`",
        ],
    ),
    scalar(
        "sqrt",
        Function::Sqrt,
        &[P::Number],
        NUMBER,
        "sqrt(x)",
        Category::Scalar,
        ["number", "null for a negative `x`", "`sqrt(variance)`"],
    ),
    scalar(
        "ln",
        Function::Ln,
        &[P::Number],
        NUMBER,
        "ln(x)",
        Category::Scalar,
        ["number", "null for `x <= 0`", "`ln(account.arr)`"],
    ),
    FunctionDef {
        variadic: true,
        ..scalar(
            "least",
            Function::Least,
            &[P::Any, P::Any],
            Returns::Common(0),
            "least(a, b, …)",
            Category::Scalar,
            [
                "the arguments' common type; 2 or more arguments",
                "nulls are ignored: null only if every argument is null",
                "`least(account.seats, 500)`",
            ],
        )
    },
    FunctionDef {
        variadic: true,
        ..scalar(
            "greatest",
            Function::Greatest,
            &[P::Any, P::Any],
            Returns::Common(0),
            "greatest(a, b, …)",
            Category::Scalar,
            [
                "the arguments' common type; 2 or more arguments",
                "nulls are ignored: null only if every argument is null",
                "`greatest(logins_30d, 1)`",
            ],
        )
    },
    scalar(
        "clamp",
        Function::Clamp,
        &[P::Number, P::Number, P::Number],
        NUMBER,
        "clamp(x, low, high)",
        Category::Scalar,
        [
            "number: `x` limited to `low`–`high`",
            "null if `x` is null; a null bound is ignored",
            "`clamp(nps_90d, -100, 100)`",
        ],
    ),
    FunctionDef {
        variadic: true,
        ..scalar(
            "coalesce",
            Function::Coalesce,
            &[P::Any],
            Returns::Common(0),
            "coalesce(a, b, …)",
            Category::Scalar,
            [
                "the common type; 1 or more arguments",
                "the first non-null argument",
                "`coalesce(avg_amount, 0)`",
            ],
        )
    },
    scalar(
        "if",
        Function::If,
        &[P::Condition, P::Any, P::Any],
        Returns::Common(1),
        "if(condition, then, else)",
        Category::Scalar,
        [
            "the common type of `then` and `else`",
            "a null `condition` gives `else`",
            "`if(account.segment = 'smb', 1, 2)`",
        ],
    ),
    scalar(
        "days_between",
        Function::DaysBetween,
        &[P::Temporal, P::Temporal],
        NUMBER,
        "days_between(start, end)",
        Category::Scalar,
        [
            "number: `end − start` in fractional days (negative if `end` is earlier); dates count from midnight UTC",
            "null if either is null",
            "`days_between(account.signed_at, account.provisioned_at)`",
        ],
    ),
    scalar(
        "days",
        Function::Days,
        &[P::Duration],
        NUMBER,
        "days(duration)",
        Category::Scalar,
        [
            "number: a duration in fractional days",
            "null → null",
            "`days(36h)` is `1.5`",
        ],
    ),
    scalar(
        "date",
        Function::Date,
        &[P::Timestamp],
        Returns::Fixed(Type::Date),
        "date(timestamp)",
        Category::Scalar,
        [
            "date: the UTC day of a timestamp",
            "null → null",
            "`date(max(event_time))` (in an aggregate metric)",
        ],
    ),
    FunctionDef {
        optional: 1,
        place: Place::Entity,
        ..scalar(
            "format_number",
            Function::FormatNumber,
            &[P::Number, P::Digits],
            Returns::Fixed(Type::String),
            "format_number(x) or format_number(x, digits)",
            Category::Playbook,
            [
                "text: `x` rounded as `round` rounds, with thousands separators (`1,234.5`); for messages",
                "null if `x` is null",
                "`format_number(account.arr, 0)`",
            ],
        )
    },
    scalar(
        "lower",
        Function::Lower,
        &[P::Text],
        Returns::Fixed(Type::String),
        "lower(text)",
        Category::Scalar,
        [
            "string in lower case",
            "null → null",
            "`lower(account.segment) = 'smb'`",
        ],
    ),
    scalar(
        "upper",
        Function::Upper,
        &[P::Text],
        Returns::Fixed(Type::String),
        "upper(text)",
        Category::Scalar,
        [
            "string in upper case",
            "null → null",
            "`upper(account.region)`",
        ],
    ),
    scalar(
        "ramp",
        Function::Ramp,
        &[P::Number, P::Number, P::Number],
        NUMBER,
        "ramp(x, zero_at, full_at)",
        Category::Scoring,
        [
            "0 at `zero_at`, 100 at `full_at`, linear between, clamped to 0–100. `zero_at > full_at` scores \"lower is better\"",
            "null if `x` is null, or if the two points are equal at run time",
            "`ramp(value, 20%, 85%)`, `ramp(value, 10, 2)`",
        ],
    ),
    scalar(
        "bands",
        Function::Bands,
        &[P::Number, P::Numbers, P::Numbers],
        NUMBER,
        "bands(x, [t1, t2], [s0, s1, s2])",
        Category::Scoring,
        [
            "`s0` if `x < t1`; `si` if `ti <= x < t(i+1)`; `sn` if `x >= tn`",
            "null if `x` is null",
            "`bands(value, [1, 2, 4], [100, 60, 30, 0])`",
        ],
    ),
    FunctionDef {
        place: Place::Entity,
        ..scalar(
            "attainment",
            Function::Attainment,
            &[P::Number, P::Kpi],
            NUMBER,
            "attainment(value, 'kpi')",
            Category::Scoring,
            [
                "0–100 against the entity's own target for that KPI: `value / target × 100` when higher is better; `target / value × 100` (and 100 when `value <= 0`) when lower is better; clamped to 0–100",
                "null if the entity has no effective target, if `value` is null, or if a higher-is-better target is 0",
                "`attainment(value, 'cycle_time_days')`",
            ],
        )
    },
    FunctionDef {
        place: Place::Entity,
        ..scalar(
            "target",
            Function::Target,
            &[P::Kpi],
            NUMBER,
            "target('kpi')",
            Category::Scoring,
            [
                "number: the entity's effective target for that KPI",
                "null if none",
                "`difot_90d - target('difot')`",
            ],
        )
    },
    FunctionDef {
        name: "previous",
        kind: Kind::Previous,
        place: Place::Entity,
        params: &[P::Metric, P::Period],
        optional: 1,
        variadic: false,
        returns: Returns::MetricType,
        usage: "previous(metric) or previous(metric, 30d)",
        category: Category::Time,
        returns_doc: "the metric's type: its value one period earlier (its window, or the period given)",
        nulls: "null when the metric was null one period earlier",
        example: "`previous(difot_28d)`",
    },
    FunctionDef {
        name: "change",
        kind: Kind::Scalar(Function::Change),
        place: Place::Entity,
        params: &[P::Metric, P::Period],
        optional: 1,
        variadic: false,
        returns: NUMBER,
        usage: "change(metric) or change(metric, 30d)",
        category: Category::Time,
        returns_doc: "number: `(now − before) / abs(before)`, `before` being the value one period earlier",
        nulls: "null when either value is null or the earlier value is 0",
        example: "`change(logins_30d)`",
    },
    FunctionDef {
        name: "score",
        kind: Kind::Score,
        place: Place::Playbook,
        params: &[P::Indicator],
        optional: 0,
        variadic: false,
        returns: NUMBER,
        usage: "score(indicator)",
        category: Category::Playbook,
        returns_doc: "number: the indicator's 0–100 score",
        nulls: "null when the indicator has no score",
        example: "`when: score(seat_utilization) < 40`",
    },
];

/// How a function is written with its parameters, for the reference.
fn signature(def: &FunctionDef) -> String {
    let names: Vec<&str> = match def.kind {
        Kind::Aggregate(Aggregate::Count, false) => return "`count()`, `count(x)`".into(),
        Kind::Aggregate(_, true) if def.params.len() == 1 => vec!["cond"],
        Kind::Aggregate(Aggregate::Percentile, _) => vec!["x", "p"],
        Kind::Aggregate(_, true) => vec!["x", "cond"],
        Kind::Aggregate(..) => vec!["x"],
        _ => return format!("`{}`", def.usage.replace(" or ", "`, `")),
    };
    format!("`{}({})`", def.name, names.join(", "))
}

/// The sections of the reference, in order: category, heading, and the
/// columns after "function".
const SECTIONS: &[(Category, &str)] = &[
    (Category::Aggregate, "Aggregates"),
    (Category::Scalar, "Scalar functions"),
    (Category::Scoring, "Scoring functions"),
    (Category::Time, "Time functions"),
    (Category::Playbook, "Playbook functions"),
];

/// The Markdown table of one section of the reference.
pub fn reference_table(category: Category) -> String {
    let mut out =
        String::from("| function | returns | null behaviour | example |\n|---|---|---|---|\n");
    for def in FUNCTIONS.iter().filter(|f| f.category == category) {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            signature(def),
            def.returns_doc,
            def.nulls,
            def.example
        ));
    }
    out
}

/// Replace the generated tables of `text` (a copy of `docs/language.md`)
/// with the current ones. Each table sits between
/// `<!-- functions: HEADING -->` and `<!-- end functions -->`.
pub fn reference_markdown(text: &str) -> String {
    let mut out = text.to_string();
    for (category, heading) in SECTIONS {
        let start = format!("<!-- functions: {heading} -->\n");
        let end = "<!-- end functions -->";
        let Some(from) = out.find(&start).map(|i| i + start.len()) else {
            continue;
        };
        let Some(to) = out[from..].find(end).map(|i| from + i) else {
            continue;
        };
        out.replace_range(from..to, &reference_table(*category));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lower_case() {
        let mut seen = std::collections::BTreeSet::new();
        for f in FUNCTIONS {
            assert!(seen.insert(f.name), "{} twice", f.name);
            assert_eq!(f.name, f.name.to_ascii_lowercase());
            assert!(f.min_args() <= f.max_args());
            assert!(f.usage.starts_with(f.name), "{}", f.usage);
        }
    }

    #[test]
    fn every_aggregate_and_function_is_declared() {
        use Aggregate as A;
        for a in [
            A::Count,
            A::CountDistinct,
            A::Sum,
            A::Avg,
            A::Min,
            A::Max,
            A::Median,
            A::Percentile,
        ] {
            assert!(
                FUNCTIONS
                    .iter()
                    .any(|f| f.kind == Kind::Aggregate(a, false)),
                "{a:?}"
            );
        }
        assert_eq!(Aggregate::CountDistinct.name(), "count_distinct");
        assert_eq!(lookup("ROUND").map(|f| f.name), Some("round"));
    }
}
