//! The plans and expressions `run` executes, rewritten where a warehouse
//! says the same thing differently — before DataFusion's unparser writes
//! them. Nothing here changes what is computed; what a dialect cannot say
//! is an error naming the construct, never different SQL.
//!
//! - Casts between timestamps and epoch microseconds (DataFusion casts
//!   them directly; DuckDB and PostgreSQL refuse) become marked functions
//!   the dialect writes ([`Marker`]).
//! - Exact float sums are `DECIMAL(76,18)` in DataFusion; DuckDB and
//!   Snowflake stop at 38 digits: `DECIMAL(38,18)`, which is exact up to
//!   10^20 and an overflow error beyond (never a wrong sum).
//! - Aggregates the unparser would write wrongly or the dialect lacks —
//!   `last_value` with an ordering (the unparser drops the ordering),
//!   `median` in PostgreSQL, `bool_or` in Snowflake — are written here and
//!   put in place of a placeholder call once the query is text.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{DFSchema, DFSchemaRef, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::expr::{AggregateFunction, Cast, ScalarFunction};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, ColumnarValue, Expr, ExprSchemable, LogicalPlan, SubqueryAlias,
    Volatility, create_udaf, create_udf, when,
};

use super::dialect::{Marker, SqlDialect, Target};

/// A construct the dialect cannot say as DataFusion computes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inexpressible {
    /// The KPI targets in effect: the latest row by `effective_from`.
    EffectiveTargets,
    /// Another aggregate with an ordering, by its DataFusion name.
    OrderedAggregate(String),
    /// A number or a timestamp shown as text (in a message or a reason),
    /// the way `run` writes it, by the playbook that shows it.
    ValueAsText {
        /// The playbook (none outside the actions).
        playbook: Option<String>,
    },
    /// `format_number`, by the playbook that calls it.
    FormattedNumber {
        /// The playbook (none outside the actions).
        playbook: Option<String>,
        /// The digits it is given when they are not a constant (`None`:
        /// the dialect has no form of it at all).
        digits: Option<String>,
    },
}

/// A value an action shows, computed as a column of its own before the
/// actions (so its text can read it several times): a number as the
/// dialect writes it (`as_text`), or the number `format_number` formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Shown {
    /// The column's name.
    pub(super) column: String,
    /// Its value, in SQL.
    pub(super) sql: String,
    /// Whether the column holds the dialect's text of the number (whose
    /// digits and decimal point the query then finds).
    pub(super) as_text: bool,
}

/// Aggregates written by Vane, by the placeholder name that stands for
/// them in the unparsed text.
#[derive(Debug, Default)]
pub(super) struct Written {
    pub(super) by_placeholder: BTreeMap<String, String>,
    pub(super) inexpressible: Vec<Inexpressible>,
    /// The values the actions show, in the order first met.
    pub(super) shown: Vec<Shown>,
}

impl Written {
    /// `text` with every placeholder replaced by its aggregate; an error
    /// when one is missing or repeated (the text would then be wrong).
    pub(super) fn fill(&self, text: &str) -> Result<String> {
        let mut text = text.to_string();
        for (placeholder, sql) in &self.by_placeholder {
            let call = format!("{placeholder}()");
            let found = text.matches(&call).count();
            if found != 1 {
                return Err(DataFusionError::Internal(format!(
                    "{call} appears {found} times in the unparsed SQL, not once"
                )));
            }
            text = text.replacen(&call, sql, 1);
        }
        Ok(text)
    }
}

/// Rewrites one dialect's constructs.
pub(super) struct Lowering<'a> {
    pub(super) target: &'a Target,
    pub(super) written: Written,
    /// Whether values may be shown as text (the actions, whose values
    /// the query computes as columns first: [`Shown`]).
    pub(super) showing: bool,
    /// The playbook being written, for diagnostics.
    pub(super) playbook: Option<String>,
}

impl<'a> Lowering<'a> {
    pub(super) fn new(target: &'a Target) -> Self {
        Lowering {
            target,
            written: Written::default(),
            showing: false,
            playbook: None,
        }
    }

    fn dialect(&self) -> SqlDialect {
        self.target.dialect
    }

    /// `plan` with every expression rewritten against its input's schema.
    /// Projected and aggregated columns keep their names.
    pub(super) fn plan(&mut self, plan: LogicalPlan) -> Result<LogicalPlan> {
        name_derived_tables(plan)?
            .transform_up(|node| {
                let schema = input_schema(&node)?;
                let keeps_names =
                    matches!(node, LogicalPlan::Projection(_) | LogicalPlan::Aggregate(_));
                node.map_expressions(|e| {
                    let name = e.schema_name().to_string();
                    let rewritten = self.expr(e, &schema)?;
                    Ok(if keeps_names && rewritten.transformed {
                        Transformed::yes(keep_name(rewritten.data, &name))
                    } else {
                        rewritten
                    })
                })
            })
            .data()
    }

    /// `expr` rewritten for the dialect, its subexpressions typed in `schema`.
    pub(super) fn expr(&mut self, expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        expr.transform_up(|e| self.one(e, schema))
    }

    fn one(&mut self, e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        match e {
            Expr::Cast(Cast { expr, field }) => {
                let data_type = field.data_type().clone();
                let from = expr.get_type(schema)?;
                let marked = match (&from, &data_type) {
                    (DataType::Timestamp(..) | DataType::Date32 | DataType::Date64, to)
                        if to.is_integer() =>
                    {
                        Some(Marker::EpochMicros)
                    }
                    (from, DataType::Timestamp(..)) if from.is_integer() => {
                        Some(Marker::FromEpochMicros)
                    }
                    _ => None,
                };
                if let Some(marker) = marked {
                    return Ok(Transformed::yes(marker.call(
                        vec![*expr],
                        schema,
                        data_type,
                    )?));
                }
                if matches!(
                    data_type,
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                ) && let Some(text) = self.as_text(&expr, &from)?
                {
                    return Ok(Transformed::yes(text));
                }
                if let DataType::Decimal256(_, scale) = data_type
                    && self.dialect() != SqlDialect::Postgres
                {
                    return Ok(Transformed::yes(Expr::Cast(Cast::new(
                        expr,
                        DataType::Decimal128(38, scale),
                    ))));
                }
                Ok(Transformed::no(Expr::Cast(Cast { expr, field })))
            }
            Expr::ScalarFunction(f)
                if self.dialect() == SqlDialect::Snowflake
                    && matches!(f.func.name(), "greatest" | "least") =>
            {
                let marker = if f.func.name() == "greatest" {
                    Marker::Greatest
                } else {
                    Marker::Least
                };
                let returns = Expr::ScalarFunction(f.clone()).get_type(schema)?;
                Ok(Transformed::yes(marker.call(f.args, schema, returns)?))
            }
            Expr::ScalarFunction(f) if f.func.name() == crate::plan::format_number::NAME => {
                Ok(Transformed::yes(self.format_number(&f.args)?))
            }
            Expr::AggregateFunction(aggregate) => self.aggregate(aggregate, schema),
            other => Ok(Transformed::no(other)),
        }
    }

    /// `value` (of type `from`) as the text `run` writes for it, when
    /// the dialect's own cast would write something else: numbers as
    /// Arrow writes them (`0.000025`, `1e20`, `114870.0`), timestamps as
    /// `2026-10-01T10:00:00`, dates as `2026-10-01` whatever the session's
    /// date style. `None`: the plain cast writes the same.
    fn as_text(&mut self, value: &Expr, from: &DataType) -> Result<Option<Expr>> {
        let dialect = self.dialect();
        let number = matches!(from, DataType::Float64 | DataType::Float32);
        let timestamp = matches!(from, DataType::Timestamp(_, None));
        if (number || timestamp) && (dialect == SqlDialect::Snowflake || !self.showing && number) {
            self.written.inexpressible.push(Inexpressible::ValueAsText {
                playbook: self.playbook.clone(),
            });
            return Ok(None);
        }
        let text = match (from, dialect) {
            _ if number => {
                let raw = match dialect {
                    SqlDialect::Postgres => format!("CAST({} AS TEXT)", self.sql(value)?),
                    _ => format!("CAST({} AS VARCHAR)", self.sql(value)?),
                };
                let column = self.show(raw, true);
                number_text(&column, self.target)
            }
            _ if timestamp => timestamp_text(&self.sql(value)?, dialect),
            (DataType::Date32, SqlDialect::Postgres) => {
                format!("to_char({}, 'YYYY-MM-DD')", self.sql(value)?)
            }
            (DataType::Date32, SqlDialect::Snowflake) => {
                format!("TO_VARCHAR({}, 'YYYY-MM-DD')", self.sql(value)?)
            }
            _ => return Ok(None),
        };
        Ok(Some(self.placeholder_text(text)))
    }

    /// `format_number(x, digits)`: `x` rounded as `round` rounds, its
    /// digits grouped by thousands — `crate::base::display::format_number`.
    fn format_number(&mut self, args: &[Expr]) -> Result<Expr> {
        let digits = args.get(1).and_then(constant_integer);
        let (Some(x), Some(digits), SqlDialect::DuckDb | SqlDialect::Postgres) =
            (args.first(), digits, self.dialect())
        else {
            let digits = match self.dialect() {
                SqlDialect::Snowflake => None,
                _ => Some(args.get(1).map_or_else(String::new, ToString::to_string)),
            };
            self.written
                .inexpressible
                .push(Inexpressible::FormattedNumber {
                    playbook: self.playbook.clone(),
                    digits,
                });
            return Ok(self.placeholder_text("NULL".to_string()));
        };
        // The rounding is written in the text, not in the shown column:
        // the column is computed for every entity, the text only where
        // the playbook fires (PostgreSQL raises an error on a float that
        // overflows, as `x × 10^d` of a huge `x` would).
        let column = self.show(self.sql(x)?, false);
        let text = formatted_number(
            &column,
            digits.clamp(0, crate::base::display::MAX_DIGITS),
            self.target,
        );
        Ok(self.placeholder_text(text))
    }

    /// The column that will hold `sql` (one per distinct value).
    fn show(&mut self, sql: String, as_text: bool) -> String {
        match self
            .written
            .shown
            .iter()
            .find(|s| s.sql == sql && s.as_text == as_text)
        {
            Some(shown) => shown.column.clone(),
            None => {
                let column = format!("vane_shown_{}", self.written.shown.len());
                self.written.shown.push(Shown {
                    column: column.clone(),
                    sql,
                    as_text,
                });
                column
            }
        }
    }

    /// A call of a text placeholder that `text` replaces once unparsed.
    fn placeholder_text(&mut self, text: String) -> Expr {
        let placeholder = format!("vane_text_{}", self.written.by_placeholder.len());
        self.written
            .by_placeholder
            .insert(placeholder.clone(), text);
        let udf = create_udf(
            &placeholder,
            Vec::new(),
            DataType::Utf8,
            Volatility::Immutable,
            Arc::new(|_| -> Result<ColumnarValue> {
                Err(DataFusionError::Internal(
                    "a placeholder is written as SQL, never run".into(),
                ))
            }),
        );
        Expr::ScalarFunction(ScalarFunction::new_udf(Arc::new(udf), Vec::new()))
    }

    fn aggregate(
        &mut self,
        mut aggregate: AggregateFunction,
        schema: &DFSchema,
    ) -> Result<Transformed<Expr>> {
        let name = aggregate.func.name().to_string();
        let ordered =
            !aggregate.params.order_by.is_empty() && !aggregate.func.supports_within_group_clause();
        let dialect = self.dialect();
        let mut filter_moved = false;
        if dialect == SqlDialect::Snowflake && name != "last_value" {
            filter_moved = move_filter_into_values(&mut aggregate)?;
        }
        let written = match (name.as_str(), dialect) {
            ("last_value", SqlDialect::DuckDb) if ordered => {
                Some(self.call_text("last", &aggregate, false)?)
            }
            ("last_value", SqlDialect::Postgres) if ordered => {
                let call = self.call_text("array_agg", &aggregate, true)?;
                Some(format!("({call})[1]"))
            }
            ("last_value", SqlDialect::Snowflake) if ordered => {
                let returns = Expr::AggregateFunction(aggregate.clone()).get_type(schema)?;
                let Some(sql_type) = snowflake_type(&returns) else {
                    self.written
                        .inexpressible
                        .push(Inexpressible::EffectiveTargets);
                    return Ok(Transformed::no(Expr::AggregateFunction(aggregate)));
                };
                Some(self.snowflake_last_value(&aggregate, sql_type)?)
            }
            ("median", SqlDialect::Postgres) => {
                let Some(x) = aggregate.params.args.first() else {
                    return Err(DataFusionError::Internal("median without argument".into()));
                };
                let x = self.sql(x)?;
                let filter = self.filter_text(&aggregate)?;
                Some(format!(
                    "percentile_cont(0.5) WITHIN GROUP (ORDER BY {x}){filter}"
                ))
            }
            (crate::plan::percentile::NAME, _) => {
                let [x, p] = aggregate.params.args.as_slice() else {
                    return Err(DataFusionError::Internal(
                        "a percentile takes a value and p".into(),
                    ));
                };
                Some(format!(
                    "percentile_cont({}) WITHIN GROUP (ORDER BY {}){}",
                    self.sql(p)?,
                    self.sql(x)?,
                    self.filter_text(&aggregate)?
                ))
            }
            ("bool_or", SqlDialect::Snowflake) => {
                Some(self.call_text("boolor_agg", &aggregate, false)?)
            }
            (_, _) if ordered => {
                self.written
                    .inexpressible
                    .push(Inexpressible::OrderedAggregate(name));
                return Ok(Transformed::no(Expr::AggregateFunction(aggregate)));
            }
            _ => None,
        };
        let Some(text) = written else {
            let aggregate = Expr::AggregateFunction(aggregate);
            return Ok(if filter_moved {
                Transformed::yes(aggregate)
            } else {
                Transformed::no(aggregate)
            });
        };
        let returns = Expr::AggregateFunction(aggregate).get_type(schema)?;
        let placeholder = format!("vane_aggregate_{}", self.written.by_placeholder.len());
        self.written
            .by_placeholder
            .insert(placeholder.clone(), text);
        let udaf: AggregateUDF = create_udaf(
            &placeholder,
            Vec::new(),
            Arc::new(returns.clone()),
            Volatility::Immutable,
            Arc::new(|_| -> Result<Box<dyn Accumulator>> {
                Err(DataFusionError::Internal(
                    "a placeholder aggregate is written as SQL, never run".into(),
                ))
            }),
            Arc::new(vec![returns]),
        );
        Ok(Transformed::yes(Expr::AggregateFunction(
            AggregateFunction::new_udf(Arc::new(udaf), Vec::new(), false, None, Vec::new(), None),
        )))
    }

    /// Snowflake's `last_value … ORDER BY`: the first of the values
    /// aggregated in reverse order, each wrapped in an array so that a
    /// null value is kept (`ARRAY_AGG` drops nulls, and the rows a filter
    /// leaves out).
    fn snowflake_last_value(
        &self,
        aggregate: &AggregateFunction,
        sql_type: &str,
    ) -> Result<String> {
        let Some(value) = aggregate.params.args.first() else {
            return Err(DataFusionError::Internal(
                "last_value without argument".into(),
            ));
        };
        let mut value = format!("ARRAY_CONSTRUCT({})", self.sql(value)?);
        if let Some(filter) = &aggregate.params.filter {
            value = format!("CASE WHEN {} THEN {value} END", self.sql(filter)?);
        }
        let order = self.order_text(aggregate, true)?;
        Ok(format!(
            "CAST(GET(GET(ARRAY_AGG({value}) WITHIN GROUP ({order}), 0), 0) AS {sql_type})"
        ))
    }

    fn sql(&self, e: &Expr) -> Result<String> {
        Ok(super::unparser(self.target).expr_to_sql(e)?.to_string())
    }

    fn filter_text(&self, aggregate: &AggregateFunction) -> Result<String> {
        Ok(match &aggregate.params.filter {
            Some(filter) => format!(" FILTER (WHERE {})", self.sql(filter)?),
            None => String::new(),
        })
    }

    /// `function(args ORDER BY …) FILTER (WHERE …)`, the ordering
    /// reversed when `reverse`.
    fn call_text(
        &self,
        function: &str,
        aggregate: &AggregateFunction,
        reverse: bool,
    ) -> Result<String> {
        let args = aggregate
            .params
            .args
            .iter()
            .map(|a| self.sql(a))
            .collect::<Result<Vec<_>>>()?
            .join(", ");
        let order = self.order_text(aggregate, reverse)?;
        let order = if order.is_empty() {
            String::new()
        } else {
            format!(" {order}")
        };
        Ok(format!(
            "{function}({args}{order}){}",
            self.filter_text(aggregate)?
        ))
    }

    /// `ORDER BY …` of an ordered aggregate (empty without an ordering),
    /// reversed when `reverse`.
    fn order_text(&self, aggregate: &AggregateFunction, reverse: bool) -> Result<String> {
        let order = aggregate
            .params
            .order_by
            .iter()
            .map(|sort| {
                let (asc, nulls_first) = if reverse {
                    (!sort.asc, !sort.nulls_first)
                } else {
                    (sort.asc, sort.nulls_first)
                };
                Ok(format!(
                    "{} {} NULLS {}",
                    self.sql(&sort.expr)?,
                    if asc { "ASC" } else { "DESC" },
                    if nulls_first { "FIRST" } else { "LAST" }
                ))
            })
            .collect::<Result<Vec<_>>>()?
            .join(", ");
        Ok(if order.is_empty() {
            String::new()
        } else {
            format!("ORDER BY {order}")
        })
    }
}

/// Snowflake has no `FILTER (WHERE …)` on aggregates: the condition moves
/// into the values aggregated (`CASE WHEN c THEN x END`), which every
/// aggregate but `last_value` ignores when null. Returns whether it moved.
fn move_filter_into_values(aggregate: &mut AggregateFunction) -> Result<bool> {
    let Some(filter) = aggregate.params.filter.take() else {
        return Ok(false);
    };
    let only_when = |value: Expr| when(filter.as_ref().clone(), value).end();
    if aggregate.func.supports_within_group_clause() && !aggregate.params.order_by.is_empty() {
        for sort in &mut aggregate.params.order_by {
            sort.expr = only_when(sort.expr.clone())?;
        }
    } else if aggregate.func.name() == crate::plan::percentile::NAME {
        // Only the values; p stays the constant it must be.
        if let Some(x) = aggregate.params.args.first_mut() {
            *x = only_when(x.clone())?;
        }
    } else {
        aggregate.params.args = aggregate
            .params
            .args
            .drain(..)
            .map(only_when)
            .collect::<Result<Vec<_>>>()?;
    }
    Ok(true)
}

/// The column of a shown number's significant digits (no sign, no
/// leading or trailing zeros; empty for zero).
pub(super) fn digits_column(shown: &str) -> String {
    format!("{shown}_digits")
}

/// The column of where a shown number's decimal point falls among its
/// digits: the value is `0.DIGITS × 10^point`.
pub(super) fn point_column(shown: &str) -> String {
    format!("{shown}_point")
}

/// The significant digits and decimal point of `text`, the dialect's
/// shortest text of a float (`-1.5e-07`, `114870.0`, `114870`, `2.5e-05`),
/// as SQL: `(digits, point)`.
pub(super) fn digits_and_point(text: &str) -> (String, String) {
    let unsigned = format!("ltrim({text}, '-')");
    let mantissa = format!("split_part({unsigned}, 'e', 1)");
    let all = format!("replace({mantissa}, '.', '')");
    let exponent = format!(
        "CASE WHEN strpos({unsigned}, 'e') > 0 THEN CAST(split_part({unsigned}, 'e', 2) AS INTEGER) ELSE 0 END"
    );
    let digits = format!("rtrim(ltrim({all}, '0'), '0')");
    let point = format!(
        "length(split_part({mantissa}, '.', 1)) + {exponent} - (length({all}) - length(ltrim({all}, '0')))"
    );
    (digits, point)
}

/// A shown number as Arrow writes a float (`ryu`'s layout): plain from
/// 10^-5 up to 10^16 (`0.000025`, `114870.0`, `12.5`), else with an
/// exponent (`1e20`, `2.5e-7`); `NaN`, `inf`, `-inf`. Built from the
/// dialect's own shortest text of the float (the same digits: both are
/// the shortest that read back as the same float), laid out again.
fn number_text(shown: &str, target: &Target) -> String {
    let quote = |name: &str| super::quoted(target, name);
    let (raw, d, p) = (
        quote(shown),
        quote(&digits_column(shown)),
        quote(&point_column(shown)),
    );
    let text = match target.dialect {
        SqlDialect::Postgres => "TEXT",
        _ => "VARCHAR",
    };
    format!(
        "CASE WHEN {raw} IN ('nan', '-nan', 'NaN') THEN 'NaN' \
         WHEN {raw} IN ('inf', 'Infinity') THEN 'inf' \
         WHEN {raw} IN ('-inf', '-Infinity') THEN '-inf' \
         ELSE CASE WHEN substr({raw}, 1, 1) = '-' THEN '-' ELSE '' END || CASE \
         WHEN {d} = '' THEN '0.0' \
         WHEN {p} >= length({d}) AND {p} <= 16 THEN {d} || repeat('0', {p} - length({d})) || '.0' \
         WHEN {p} > 0 AND {p} <= 16 THEN substr({d}, 1, {p}) || '.' || substr({d}, {p} + 1) \
         WHEN {p} > -5 AND {p} <= 0 THEN '0.' || repeat('0', -{p}) || {d} \
         WHEN length({d}) = 1 THEN {d} || 'e' || CAST({p} - 1 AS {text}) \
         ELSE substr({d}, 1, 1) || '.' || substr({d}, 2) || 'e' || CAST({p} - 1 AS {text}) END END"
    )
}

/// A timestamp as Arrow writes one without a time zone (chrono's
/// `2026-10-01T10:00:00`, with `.mmm` or `.uuuuuu` when it has them).
fn timestamp_text(value: &str, dialect: SqlDialect) -> String {
    let (seconds, micros, text, div) = match dialect {
        SqlDialect::Postgres => (
            format!("to_char({value}, 'YYYY-MM-DD\"T\"HH24:MI:SS')"),
            format!("(CAST(EXTRACT(MICROSECONDS FROM {value}) AS BIGINT) % 1000000)"),
            "TEXT",
            "/",
        ),
        _ => (
            format!("strftime({value}, '%Y-%m-%dT%H:%M:%S')"),
            format!("(microsecond({value}) % 1000000)"),
            "VARCHAR",
            "//",
        ),
    };
    format!(
        "{seconds} || CASE WHEN {micros} = 0 THEN '' \
         WHEN {micros} % 1000 = 0 THEN '.' || lpad(CAST({micros} {div} 1000 AS {text}), 3, '0') \
         ELSE '.' || lpad(CAST({micros} AS {text}), 6, '0') END"
    )
}

/// `10^digits` as SQL text.
fn scale(digits: i64) -> String {
    format!("1{}", "0".repeat(usize::try_from(digits).unwrap_or(0)))
}

/// `format_number(x, digits)` of the shown number `x`: rounded half away
/// from zero at `digits` decimals (`(x × 10^d).round() / 10^d` in floats,
/// as `round`), its whole part grouped by thousands, a minus sign only
/// when a digit shown is not zero; null when `x` is not finite.
/// PostgreSQL writes the whole part as a `BIGINT` (an error above
/// 9.2 × 10^18, never other digits).
fn formatted_number(shown: &str, digits: i64, target: &Target) -> String {
    let x = super::quoted(target, shown);
    let scale = scale(digits);
    match target.dialect {
        SqlDialect::Postgres => {
            let scale = format!("CAST({scale} AS DOUBLE PRECISION)");
            let rounded = format!("abs({})", super::dialect::postgres_round(&x, &scale));
            let whole = format!("CAST(trunc({rounded}) AS BIGINT)");
            let fraction =
                format!("CAST(round(({rounded} - trunc({rounded})) * {scale}) AS BIGINT)");
            let grouped = format!("to_char({whole}, 'FM9,999,999,999,999,999,990')");
            let decimals = if digits > 0 {
                format!(" || '.' || lpad(CAST({fraction} AS TEXT), {digits}, '0')")
            } else {
                String::new()
            };
            format!(
                "CASE WHEN {x} IN (CAST('NaN' AS DOUBLE PRECISION), CAST('Infinity' AS DOUBLE PRECISION), CAST('-Infinity' AS DOUBLE PRECISION)) THEN NULL \
                 ELSE CASE WHEN {x} < 0 AND ({whole} > 0 OR {fraction} > 0) THEN '-' ELSE '' END || {grouped}{decimals} END"
            )
        }
        _ => {
            let rounded =
                format!("abs(round({x} * CAST({scale} AS DOUBLE)) / CAST({scale} AS DOUBLE))");
            let text = format!("format('{{:,.{digits}f}}', {rounded})");
            format!(
                "CASE WHEN isfinite({x}) THEN \
                 CASE WHEN {x} < 0 AND regexp_matches({text}, '[1-9]') THEN '-' ELSE '' END || {text} END"
            )
        }
    }
}

/// The value of an integer constant (through casts).
fn constant_integer(e: &Expr) -> Option<i64> {
    match e {
        Expr::Cast(Cast { expr, .. }) => constant_integer(expr),
        Expr::Literal(value, ..) => match value {
            ScalarValue::Int64(Some(v)) => Some(*v),
            ScalarValue::Int32(Some(v)) => Some(i64::from(*v)),
            _ => None,
        },
        _ => None,
    }
}

/// Snowflake's name for a type `last_value` returns, when Vane writes it.
fn snowflake_type(data_type: &DataType) -> Option<&'static str> {
    match data_type {
        DataType::Float64 => Some("DOUBLE"),
        DataType::Int64 => Some("BIGINT"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some("VARCHAR"),
        DataType::Boolean => Some("BOOLEAN"),
        DataType::Timestamp(_, None) => Some("TIMESTAMP_NTZ"),
        DataType::Date32 => Some("DATE"),
        _ => None,
    }
}

/// `plan` with every aggregation over an aggregation reading its input
/// as a derived table named by the input's qualifier (`events`): the
/// outer aggregation's columns say `events.account_id`, and the unparser
/// would otherwise leave the derived table unnamed.
fn name_derived_tables(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up(|node| {
        let LogicalPlan::Aggregate(outer) = &node else {
            return Ok(Transformed::no(node));
        };
        if !matches!(outer.input.as_ref(), LogicalPlan::Aggregate(_)) {
            return Ok(Transformed::no(node));
        }
        let Some(qualifier) = outer.input.schema().iter().find_map(|(q, _)| q.cloned()) else {
            return Ok(Transformed::no(node));
        };
        let named = LogicalPlan::SubqueryAlias(SubqueryAlias::try_new(
            Arc::clone(&outer.input),
            qualifier,
        )?);
        let exprs = node.expressions();
        Ok(Transformed::yes(node.with_new_exprs(exprs, vec![named])?))
    })
    .data()
}

/// The schema a node's expressions read: its input's (both inputs' for a
/// join), or its own for a leaf.
fn input_schema(node: &LogicalPlan) -> Result<DFSchemaRef> {
    let inputs = node.inputs();
    match inputs.as_slice() {
        [] => Ok(Arc::clone(node.schema())),
        [one] => Ok(Arc::clone(one.schema())),
        [first, rest @ ..] => {
            let mut merged = first.schema().as_ref().clone();
            for other in rest {
                merged.merge(other.schema());
            }
            Ok(Arc::new(merged))
        }
    }
}

/// `expr` under the name `name`, unless it has it already.
fn keep_name(expr: Expr, name: &str) -> Expr {
    match expr {
        Expr::Alias(_) => expr,
        other if other.schema_name().to_string() == name => other,
        other => other.alias(name),
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::functions_aggregate::expr_fn::count;
    use datafusion::logical_expr::{ExprFunctionExt, cast, col, lit};

    use super::*;

    fn schema() -> DFSchema {
        DFSchema::try_from(Schema::new(vec![
            Field::new("x", DataType::Float64, true),
            Field::new(
                "t",
                DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None),
                true,
            ),
        ]))
        .expect("schema")
    }

    fn written(dialect: SqlDialect, expr: Expr) -> String {
        let target = dialect.target();
        let mut lowering = Lowering::new(&target);
        let lowered = lowering.expr(expr, &schema()).expect("lowered").data;
        let text = super::super::unparser(&target)
            .expr_to_sql(&lowered)
            .expect("unparsed")
            .to_string();
        lowering.written.fill(&text).expect("filled")
    }

    #[test]
    fn division_is_float_division_in_every_dialect() {
        for dialect in SqlDialect::ALL {
            let text = written(dialect, col("x") / lit(2.0));
            assert!(text.contains(" / ") && !text.contains("//"), "{text}");
        }
    }

    #[test]
    fn epoch_casts_are_written_in_each_dialect_s_words() {
        let micros = cast(col("t"), DataType::Int64);
        assert_eq!(
            written(SqlDialect::DuckDb, micros.clone()),
            "epoch_us(\"t\")"
        );
        assert!(
            written(SqlDialect::Postgres, micros.clone()).contains("EXTRACT(EPOCH FROM \"t\")")
        );
        assert!(written(SqlDialect::Snowflake, micros).contains("EPOCH_MICROSECOND"));
    }

    #[test]
    fn snowflake_moves_a_filter_into_the_values_counted() {
        let counted = count(lit(1))
            .filter(col("x").gt(lit(0.0)))
            .build()
            .expect("filter");
        let text = written(SqlDialect::Snowflake, counted.clone());
        assert!(!text.contains("FILTER"), "{text}");
        assert!(text.contains("CASE WHEN"), "{text}");
        assert!(written(SqlDialect::Postgres, counted).contains("FILTER (WHERE"));
    }

    fn shown(dialect: SqlDialect, showing: bool, expr: Expr) -> (String, Lowering<'static>) {
        let target: &'static Target = Box::leak(Box::new(dialect.target()));
        let mut lowering = Lowering::new(target);
        lowering.showing = showing;
        lowering.playbook = Some("call".to_string());
        let lowered = lowering.expr(expr, &schema()).expect("lowered").data;
        let text = super::super::unparser(target)
            .expr_to_sql(&lowered)
            .expect("unparsed")
            .to_string();
        (text, lowering)
    }

    #[test]
    fn a_number_shown_twice_is_one_column_and_its_text_is_laid_out_as_arrow_writes_it() {
        let text = cast(col("x"), DataType::Utf8);
        let (sql, lowering) = shown(
            SqlDialect::Postgres,
            true,
            datafusion::functions::string::concat().call(vec![text.clone(), text]),
        );
        assert_eq!(lowering.written.shown.len(), 1);
        assert_eq!(lowering.written.shown[0].sql, "CAST(\"x\" AS TEXT)");
        let filled = lowering.written.fill(&sql).expect("filled");
        assert!(filled.matches("\"vane_shown_0_digits\"").count() > 2);
        assert!(filled.contains("'e' || CAST("), "{filled}");
        assert!(lowering.written.inexpressible.is_empty());
    }

    #[test]
    fn numbers_as_text_outside_the_actions_or_in_snowflake_are_named_not_guessed() {
        let text = cast(col("x"), DataType::Utf8);
        let (_, outside) = shown(SqlDialect::DuckDb, false, text.clone());
        assert_eq!(
            outside.written.inexpressible,
            vec![Inexpressible::ValueAsText {
                playbook: Some("call".to_string())
            }]
        );
        let (_, snowflake) = shown(SqlDialect::Snowflake, true, cast(col("t"), DataType::Utf8));
        assert_eq!(snowflake.written.inexpressible.len(), 1);
        let formatted =
            crate::plan::format_number::format_number_udf().call(vec![col("x"), col("x")]);
        let (_, not_constant) = shown(SqlDialect::DuckDb, true, formatted);
        assert!(matches!(
            not_constant.written.inexpressible.as_slice(),
            [Inexpressible::FormattedNumber {
                digits: Some(_),
                ..
            }]
        ));
    }

    #[test]
    fn format_number_is_written_with_its_digits_in_each_tested_dialect() {
        let formatted =
            crate::plan::format_number::format_number_udf().call(vec![col("x"), lit(2i64)]);
        let (sql, duckdb) = shown(SqlDialect::DuckDb, true, formatted.clone());
        let duckdb_text = duckdb.written.fill(&sql).expect("filled");
        assert!(duckdb_text.contains("format('{:,.2f}'"), "{duckdb_text}");
        assert!(
            duckdb_text.contains("* CAST(100 AS DOUBLE)"),
            "{duckdb_text}"
        );
        let (sql, postgres) = shown(SqlDialect::Postgres, true, formatted);
        let postgres_text = postgres.written.fill(&sql).expect("filled");
        assert!(postgres_text.contains("lpad("), "{postgres_text}");
        assert!(postgres_text.contains(", 2, '0')"), "{postgres_text}");
        assert!(postgres.written.inexpressible.is_empty());
    }

    #[test]
    fn a_placeholder_missing_or_repeated_is_an_error_not_wrong_text() {
        let mut written = Written::default();
        written
            .by_placeholder
            .insert("vane_aggregate_0".into(), "last(x ORDER BY t)".into());
        assert_eq!(
            written
                .fill("SELECT vane_aggregate_0() AS a")
                .expect("filled"),
            "SELECT last(x ORDER BY t) AS a"
        );
        assert!(
            written
                .fill("SELECT vane_aggregate_0(), vane_aggregate_0()")
                .is_err()
        );
        assert!(written.fill("SELECT 1").is_err());
    }
}
