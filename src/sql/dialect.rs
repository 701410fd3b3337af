//! The SQL dialects `vane sql` writes. Each is DataFusion's unparser
//! dialect with Vane's corrections: division is always `/` (Vane divides
//! floats only; DataFusion's DuckDB dialect writes `//`, DuckDB's floor
//! division), and the functions Vane marks for the warehouse
//! ([`super::lower`]) are written in the dialect's own words.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{DFSchema, DataFusionError, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{Expr, ExprSchemable, ScalarUDF, Volatility, create_udf};
use datafusion::sql::sqlparser::ast::{self, BinaryOperator};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::unparser::Unparser;
use datafusion::sql::unparser::dialect::{
    CharacterLengthStyle, DateFieldExtractStyle, Dialect, DistinctFromStyle, DuckDBDialect,
    IntervalStyle, PostgreSqlDialect, SnowflakeDialect,
};

/// A function Vane marks for the dialect to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Marker {
    /// A timestamp as microseconds since 1970.
    EpochMicros,
    /// Microseconds since 1970 as a timestamp.
    FromEpochMicros,
    /// `greatest`, ignoring nulls.
    Greatest,
    /// `least`, ignoring nulls.
    Least,
}

const MARKERS: [(Marker, &str); 4] = [
    (Marker::EpochMicros, "vane_epoch_micros"),
    (Marker::FromEpochMicros, "vane_from_epoch_micros"),
    (Marker::Greatest, "vane_greatest"),
    (Marker::Least, "vane_least"),
];

impl Marker {
    /// The marker a function name stands for.
    pub(super) fn named(name: &str) -> Option<Marker> {
        MARKERS.iter().find(|(_, n)| *n == name).map(|(m, _)| *m)
    }

    fn name(self) -> &'static str {
        MARKERS
            .iter()
            .find(|(m, _)| *m == self)
            .map_or("vane_marker", |(_, n)| n)
    }

    pub(super) fn call(
        self,
        args: Vec<Expr>,
        schema: &DFSchema,
        returns: DataType,
    ) -> Result<Expr> {
        let types = args
            .iter()
            .map(|a| a.get_type(schema))
            .collect::<Result<Vec<_>>>()?;
        let name = self.name();
        let udf: ScalarUDF = create_udf(
            name,
            types,
            returns,
            Volatility::Immutable,
            Arc::new(move |_| {
                Err(DataFusionError::Internal(format!(
                    "{name} is written as SQL, never run"
                )))
            }),
        );
        Ok(Expr::ScalarFunction(ScalarFunction::new_udf(
            Arc::new(udf),
            args,
        )))
    }
}

/// A warehouse `vane sql` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlDialect {
    /// DuckDB (run by the tests).
    DuckDb,
    /// PostgreSQL (run by the tests).
    Postgres,
    /// Snowflake (generated, not run in CI).
    Snowflake,
}

impl SqlDialect {
    /// Every dialect, by the name `--dialect` takes.
    pub const ALL: [SqlDialect; 3] = [
        SqlDialect::DuckDb,
        SqlDialect::Postgres,
        SqlDialect::Snowflake,
    ];

    /// The dialect `name` names (`postgresql` is `postgres`).
    pub fn parse(name: &str) -> Option<SqlDialect> {
        match name.to_ascii_lowercase().as_str() {
            "postgresql" => Some(SqlDialect::Postgres),
            other => Self::ALL.into_iter().find(|d| d.name() == other),
        }
    }

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SqlDialect::DuckDb => "duckdb",
            SqlDialect::Postgres => "postgres",
            SqlDialect::Snowflake => "snowflake",
        }
    }

    /// Whether the tests run the SQL written for it in a real database.
    pub fn tested(self) -> bool {
        !matches!(self, SqlDialect::Snowflake)
    }

    /// Whether a source needs a table mapping (`--table`): in Snowflake a
    /// quoted lower-case name does not find an unquoted table.
    pub fn needs_table_mapping(self) -> bool {
        matches!(self, SqlDialect::Snowflake)
    }

    /// The unparser dialect.
    pub(super) fn target(self) -> Target {
        let base: Box<dyn Dialect> = match self {
            SqlDialect::DuckDb => Box::new(DuckDBDialect::new()),
            SqlDialect::Postgres => Box::new(PostgreSqlDialect {}),
            SqlDialect::Snowflake => Box::new(SnowflakeDialect::new()),
        };
        Target {
            dialect: self,
            base,
        }
    }
}

/// DataFusion's dialect for a warehouse, with Vane's corrections.
pub(super) struct Target {
    pub(super) dialect: SqlDialect,
    base: Box<dyn Dialect>,
}

/// `x` rounded as DataFusion rounds a float — `(x × scale).round() /
/// scale`, half away from zero — in PostgreSQL, whose own `round` rounds
/// floats to even: the fraction of a float and its comparison with 0.5
/// are exact.
pub(super) fn postgres_round(x: &str, scale: &str) -> String {
    let y = format!("(CAST({x} AS DOUBLE PRECISION) * {scale})");
    format!(
        "((trunc({y}) + CASE WHEN abs({y} - trunc({y})) >= 0.5 THEN sign({y}) ELSE 0 END) / {scale})"
    )
}

/// `text`, an expression in SQL, as the unparser's syntax tree.
pub(super) fn parsed(text: &str) -> Result<ast::Expr> {
    Ok(Parser::new(&GenericDialect {})
        .try_with_sql(text)?
        .parse_expr()?)
}

impl Target {
    /// A marked function in the dialect's words, from its arguments' SQL.
    fn marker_to_sql(&self, marker: Marker, args: &[String]) -> Result<ast::Expr> {
        let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("NULL");
        let text = match (marker, self.dialect) {
            (Marker::EpochMicros, SqlDialect::DuckDb) => format!("epoch_us({})", arg(0)),
            (Marker::EpochMicros, SqlDialect::Postgres) => format!(
                "CAST(round(EXTRACT(EPOCH FROM {}) * 1000000) AS BIGINT)",
                arg(0)
            ),
            (Marker::EpochMicros, SqlDialect::Snowflake) => {
                format!("DATE_PART(EPOCH_MICROSECOND, {})", arg(0))
            }
            (Marker::FromEpochMicros, SqlDialect::DuckDb) => format!("make_timestamp({})", arg(0)),
            (Marker::FromEpochMicros, SqlDialect::Postgres) => format!(
                "(TIMESTAMP '1970-01-01 00:00:00' + {} * INTERVAL '1 microsecond')",
                arg(0)
            ),
            (Marker::FromEpochMicros, SqlDialect::Snowflake) => {
                format!("TO_TIMESTAMP_NTZ({}, 6)", arg(0))
            }
            (Marker::Greatest, SqlDialect::Snowflake) => {
                format!("GREATEST_IGNORE_NULLS({})", args.join(", "))
            }
            (Marker::Least, SqlDialect::Snowflake) => {
                format!("LEAST_IGNORE_NULLS({})", args.join(", "))
            }
            (Marker::Greatest, _) => format!("greatest({})", args.join(", ")),
            (Marker::Least, _) => format!("least({})", args.join(", ")),
        };
        parsed(&text)
    }
}

impl Dialect for Target {
    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.base.identifier_quote_style(identifier)
    }
    fn use_array_keyword_for_array_literals(&self) -> bool {
        self.base.use_array_keyword_for_array_literals()
    }
    fn supports_nulls_first_in_sort(&self) -> bool {
        self.base.supports_nulls_first_in_sort()
    }
    fn use_timestamp_for_date64(&self) -> bool {
        self.base.use_timestamp_for_date64()
    }
    fn interval_style(&self) -> IntervalStyle {
        self.base.interval_style()
    }
    fn float64_ast_dtype(&self) -> ast::DataType {
        self.base.float64_ast_dtype()
    }
    fn utf8_cast_dtype(&self) -> ast::DataType {
        self.base.utf8_cast_dtype()
    }
    fn large_utf8_cast_dtype(&self) -> ast::DataType {
        self.base.large_utf8_cast_dtype()
    }
    fn date_field_extract_style(&self) -> DateFieldExtractStyle {
        self.base.date_field_extract_style()
    }
    fn distinct_from_style(&self) -> DistinctFromStyle {
        self.base.distinct_from_style()
    }
    fn character_length_style(&self) -> CharacterLengthStyle {
        self.base.character_length_style()
    }
    fn int64_cast_dtype(&self) -> ast::DataType {
        self.base.int64_cast_dtype()
    }
    fn int8_cast_dtype(&self) -> ast::DataType {
        self.base.int8_cast_dtype()
    }
    fn int32_cast_dtype(&self) -> ast::DataType {
        self.base.int32_cast_dtype()
    }
    fn timestamp_cast_dtype(&self, unit: &TimeUnit, tz: &Option<Arc<str>>) -> ast::DataType {
        self.base.timestamp_cast_dtype(unit, tz)
    }
    fn date32_cast_dtype(&self) -> ast::DataType {
        self.base.date32_cast_dtype()
    }
    fn supports_column_alias_in_table_alias(&self) -> bool {
        self.base.supports_column_alias_in_table_alias()
    }
    fn requires_derived_table_alias(&self) -> bool {
        self.base.requires_derived_table_alias()
    }
    fn division_operator(&self) -> BinaryOperator {
        BinaryOperator::Divide
    }
    fn scalar_function_to_sql_overrides(
        &self,
        unparser: &Unparser,
        func_name: &str,
        args: &[Expr],
    ) -> Result<Option<ast::Expr>> {
        if let Some(marker) = Marker::named(func_name) {
            let args = args
                .iter()
                .map(|a| Ok(unparser.expr_to_sql(a)?.to_string()))
                .collect::<Result<Vec<_>>>()?;
            return self.marker_to_sql(marker, &args).map(Some);
        }
        let args_sql = || {
            args.iter()
                .map(|a| Ok(unparser.expr_to_sql(a)?.to_string()))
                .collect::<Result<Vec<_>>>()
        };
        match (func_name, self.dialect) {
            // DuckDB's and Snowflake's `trim` is DataFusion's `btrim`:
            // spaces (or the given characters) off both ends.
            ("btrim", SqlDialect::DuckDb | SqlDialect::Snowflake) => {
                return parsed(&format!("trim({})", args_sql()?.join(", "))).map(Some);
            }
            // DataFusion rounds a float's binary value half away from
            // zero (`(x × 10^d).round() / 10^d`), as DuckDB's `round`
            // does; DuckDB wants the digits as an INTEGER.
            ("round", SqlDialect::DuckDb) => {
                let args = args_sql()?;
                return parsed(&match args.as_slice() {
                    [x, digits] => format!("round({x}, CAST({digits} AS INTEGER))"),
                    _ => format!("round({})", args.join(", ")),
                })
                .map(Some);
            }
            // PostgreSQL rounds floats to even and numerics in decimal:
            // the same rounding, written out exactly in floats (the
            // fraction of a float and its comparison with 0.5 are exact).
            ("round", SqlDialect::Postgres) => {
                let args = args_sql()?;
                let (x, scale) = match args.as_slice() {
                    [x, digits] => (
                        x.clone(),
                        format!("power(CAST(10 AS DOUBLE PRECISION), CAST({digits} AS INTEGER))"),
                    ),
                    [x] => (x.clone(), "CAST(1 AS DOUBLE PRECISION)".to_string()),
                    _ => return Ok(None),
                };
                return parsed(&postgres_round(&x, &scale)).map(Some);
            }
            // DataFusion's `concat` skips nulls; Snowflake's returns null.
            ("concat", SqlDialect::Snowflake) => {
                return parsed(&format!(
                    "ARRAY_TO_STRING(ARRAY_CONSTRUCT_COMPACT({}), '')",
                    args_sql()?.join(", ")
                ))
                .map(Some);
            }
            _ => {}
        }
        self.base
            .scalar_function_to_sql_overrides(unparser, func_name, args)
    }
    fn full_qualified_col(&self) -> bool {
        self.base.full_qualified_col()
    }
    fn unnest_as_table_factor(&self) -> bool {
        self.base.unnest_as_table_factor()
    }
    fn supports_qualify(&self) -> bool {
        self.base.supports_qualify()
    }
    fn supports_empty_select_list(&self) -> bool {
        self.base.supports_empty_select_list()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_are_found_by_name_and_alias() {
        assert_eq!(SqlDialect::parse("duckdb"), Some(SqlDialect::DuckDb));
        assert_eq!(SqlDialect::parse("PostgreSQL"), Some(SqlDialect::Postgres));
        assert_eq!(SqlDialect::parse("snowflake"), Some(SqlDialect::Snowflake));
        assert_eq!(SqlDialect::parse("oracle"), None);
    }
}
