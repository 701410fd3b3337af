//! `vane sql`: one night's scorecard as one SQL query for a warehouse,
//! written by DataFusion's unparser from the very plans `run` executes —
//! never by a second compiler that could drift from it.
//!
//! The query is a chain of named CTEs in the order `run` computes: the
//! population, one aggregation per source part (each a plan of the facts),
//! the facts (the population left-joined to every part by key, plus the
//! as-of instant), then one CTE per entity step (each step's expressions,
//! over the step before), and the scorecard's columns sorted by key.
//! [`lower`] rewrites what a dialect says differently before unparsing.

mod actions;
mod dialect;
mod lower;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, TimeUnit};
use datafusion::catalog::TableProvider;
use datafusion::common::config::ConfigOptions;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::datasource::empty::EmptyTable;
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{ExprSchemable, LogicalPlan, LogicalPlanBuilder, lit};
use datafusion::optimizer::simplify_expressions::{ExprSimplifier, SimplifyContext};
use datafusion::sql::unparser::Unparser;

pub use dialect::SqlDialect;
pub use lower::Inexpressible;

use crate::Checked;
use crate::base::format::FileFormat;
use crate::base::names;
use crate::base::units::Micros;
use crate::check::model::{MetricKind, Model};
use crate::diagnostics::{Code, Diagnostic};
use crate::plan::{self, Inputs, Plan};

/// What `vane sql` writes.
#[derive(Debug, Clone)]
pub struct SqlOptions {
    /// The night.
    pub as_of: NaiveDate,
    /// The warehouse.
    pub dialect: SqlDialect,
    /// Source name → the table that holds it (`schema.table`), over the
    /// source's own `table:`; a source without either is read from the
    /// table of its own name.
    pub tables: BTreeMap<String, String>,
    /// DuckDB only: read each source's files where the pipeline names them
    /// (`read_parquet`, `read_csv`) instead of tables.
    pub files: bool,
    /// The table holding the previous night's scorecard (key and health),
    /// for `previous_health` and `trend`; without it they are null, as on
    /// a first night.
    pub previous: Option<String>,
    /// Write the night's actions (the playbooks that fire) instead of its
    /// scorecard.
    pub actions: bool,
    /// The table of the actions fired on earlier nights (`as_of`,
    /// `playbook`, `dedup_key`), for cooldowns; without it no cooldown
    /// holds an action back, as on a first night.
    pub earlier_actions: Option<String>,
}

/// The name the previous night's scorecard goes by inside the query.
const PREVIOUS_TABLE: &str = "previous_scorecard";

/// The night's scorecard (or, with [`SqlOptions::actions`], its actions)
/// as one query in the dialect, or why not.
pub fn scorecard_sql(checked: &Checked, options: &SqlOptions) -> Result<String, Vec<Diagnostic>> {
    let model = &checked.model;
    check_options(model, options)?;
    let scans = scans(checked).map_err(|e| vec![internal(e)])?;
    let previous = options
        .previous
        .as_ref()
        .map(|_| previous_scan(checked))
        .transpose()
        .map_err(|e| vec![internal(e)])?;
    // The query cannot see which definitions computed the previous table:
    // it is taken to be this query's own output of the night before.
    let previous_definitions_changed = previous.as_ref().map(|_| false);
    let inputs = Inputs {
        scans: &scans,
        previous,
        previous_definitions_changed,
        as_of: Micros::midnight(options.as_of),
    };
    let plan = plan::plan(model, &inputs).map_err(|e| vec![e.into_diagnostic()])?;
    let target = options.dialect.target();
    let mut lowering = lower::Lowering::new(&target);
    let query = query_text(model, &plan, options, &mut lowering).map_err(|e| vec![internal(e)])?;
    if !lowering.written.inexpressible.is_empty() {
        return Err(inexpressible(
            checked,
            options.dialect,
            &lowering.written.inexpressible,
        ));
    }
    lowering.written.fill(&query).map_err(|e| vec![internal(e)])
}

fn internal(e: impl ToString) -> Diagnostic {
    Diagnostic::error(
        Code::Internal,
        format!("could not write the SQL: {}", e.to_string()),
    )
    .help("this is a bug in Vane; please report it with the pipeline file")
}

/// Every `--table` names a source; `--files` is DuckDB's; a dialect that
/// needs a mapping has one for every source.
fn check_options(model: &Model, options: &SqlOptions) -> Result<(), Vec<Diagnostic>> {
    let known: Vec<&str> = model.sources.iter().map(|s| s.name.as_str()).collect();
    let mut errors = Vec::new();
    for name in options.tables.keys() {
        if !known.contains(&name.as_str()) {
            errors.push(
                Diagnostic::error(
                    Code::InvalidArgument,
                    format!("--table {name}=…: the pipeline has no source `{name}`"),
                )
                .help(format!("its sources are: {}", known.join(", "))),
            );
        }
    }
    if options.earlier_actions.is_some() && !options.actions {
        errors.push(
            Diagnostic::error(
                Code::InvalidArgument,
                "--earlier-actions is read by the actions' cooldowns; the scorecard has none",
            )
            .help("add --actions to write the night's actions"),
        );
    }
    if options.actions && model.playbooks.is_empty() {
        errors.push(
            Diagnostic::error(
                Code::InvalidArgument,
                format!(
                    "pipeline `{}` has no playbooks: it has no actions to write",
                    model.name
                ),
            )
            .help("drop --actions to write the scorecard, or add a playbook"),
        );
    }
    if options.files && options.dialect != SqlDialect::DuckDb {
        errors.push(
            Diagnostic::error(
                Code::InvalidArgument,
                format!(
                    "--files reads the sources' files with DuckDB's table functions; {} has none",
                    options.dialect.name()
                ),
            )
            .help("load the files into tables and name them with --table SOURCE=TABLE"),
        );
    }
    if options.dialect.needs_table_mapping() {
        let unmapped: Vec<&str> = model
            .sources
            .iter()
            .filter(|s| s.table.is_none() && !options.tables.contains_key(&s.name))
            .map(|s| s.name.as_str())
            .collect();
        if !unmapped.is_empty() {
            errors.push(
                Diagnostic::error(
                    Code::InvalidArgument,
                    format!(
                        "{} needs the table of every source; none given for {}",
                        options.dialect.name(),
                        unmapped
                            .iter()
                            .map(|s| format!("`{s}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .help(format!(
                    "name each with --table SOURCE=DATABASE.SCHEMA.TABLE, e.g. --table {}=analytics.public.{}",
                    unmapped[0],
                    unmapped[0].to_ascii_uppercase()
                )),
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A scan of each source under its own name (the query defines that name
/// when the source lives elsewhere).
fn scans(checked: &Checked) -> datafusion::error::Result<BTreeMap<String, LogicalPlan>> {
    let mut scans = BTreeMap::new();
    for source in &checked.model.sources {
        let table: Arc<dyn TableProvider> = match checked.sources.table(&source.name) {
            Some(table) => table,
            None => {
                return Err(datafusion::error::DataFusionError::Internal(format!(
                    "source `{}` was not opened",
                    source.name
                )));
            }
        };
        let scan = LogicalPlanBuilder::scan(source.name.as_str(), provider_as_source(table), None)?
            .build()?;
        scans.insert(source.name.clone(), scan);
    }
    Ok(scans)
}

/// A scan of the previous night's scorecard: its key and health.
fn previous_scan(checked: &Checked) -> datafusion::error::Result<LogicalPlan> {
    let model = &checked.model;
    let entities = checked
        .sources
        .table(&model.entity.source)
        .map(|t| t.schema())
        .ok_or_else(|| {
            datafusion::error::DataFusionError::Internal("the entity source was not opened".into())
        })?;
    let key_type = entities
        .field_with_name(&model.entity.key)
        .map(|f| f.data_type().clone())
        .unwrap_or(DataType::Utf8);
    let schema = Arc::new(Schema::new(vec![
        Field::new(&model.entity.key, key_type, true),
        Field::new(names::HEALTH, DataType::Float64, true),
    ]));
    let table: Arc<dyn TableProvider> = Arc::new(EmptyTable::new(schema));
    LogicalPlanBuilder::scan(PREVIOUS_TABLE, provider_as_source(table), None)?.build()
}

/// The diagnostics for constructs the dialect cannot say, each once,
/// pointing at what uses it.
fn inexpressible(
    checked: &Checked,
    dialect: SqlDialect,
    found: &[Inexpressible],
) -> Vec<Diagnostic> {
    let others = SqlDialect::ALL
        .iter()
        .filter(|d| **d != dialect)
        .map(|d| d.name())
        .collect::<Vec<_>>()
        .join(", ");
    let mut seen: Vec<&Inexpressible> = Vec::new();
    let mut diagnostics = Vec::new();
    for item in found {
        if seen.contains(&item) {
            continue;
        }
        seen.push(item);
        let what = match item {
            Inexpressible::EffectiveTargets => "the KPI targets in effect (the value of the \
                 latest row by `effective_from`: an aggregate ordered by a column, with nulls kept)"
                .to_string(),
            Inexpressible::OrderedAggregate(name) => {
                format!("the aggregate `{name}` with an ordering")
            }
            Inexpressible::ValueAsText { .. } => {
                "a number or a timestamp as text (in a message or a reason)".to_string()
            }
            Inexpressible::FormattedNumber { digits: None, .. } => "`format_number`".to_string(),
            Inexpressible::FormattedNumber {
                digits: Some(digits),
                ..
            } => format!("`format_number` with the digits `{digits}`, which are not a constant"),
        };
        let shows_text = matches!(
            item,
            Inexpressible::ValueAsText { .. } | Inexpressible::FormattedNumber { .. }
        );
        let help = if shows_text && !dialect.tested() {
            format!(
                "Vane writes the actions' text only in dialects it checks in a real database \
                 ({}); write the scorecard for {}, or the actions for one of those",
                SqlDialect::ALL
                    .iter()
                    .filter(|d| d.tested())
                    .map(|d| d.name())
                    .collect::<Vec<_>>()
                    .join(", "),
                dialect.name()
            )
        } else {
            format!(
                "write the SQL for another dialect ({others}), or run the night with `vane run`"
            )
        };
        let mut d = Diagnostic::error(
            Code::SqlInexpressible,
            format!("{} cannot say {what} as Vane computes it", dialect.name()),
        )
        .help(help);
        if let (Inexpressible::EffectiveTargets, Some(targets)) = (item, &checked.pipeline.targets)
        {
            d = d.at(
                &checked.model.file,
                targets.span,
                "the targets are read here",
            );
        }
        let playbook = match item {
            Inexpressible::ValueAsText { playbook }
            | Inexpressible::FormattedNumber { playbook, .. } => playbook.as_ref(),
            _ => None,
        };
        if let Some(playbook) =
            playbook.and_then(|name| checked.model.playbooks.iter().find(|p| &p.name == name))
        {
            d = d.at(
                &checked.model.file,
                playbook.span,
                format!("playbook `{}` shows it", playbook.name),
            );
        }
        diagnostics.push(d);
    }
    diagnostics
}

/// The query's text, before the placeholders are filled.
fn query_text(
    model: &Model,
    plan: &Plan,
    options: &SqlOptions,
    lowering: &mut lower::Lowering<'_>,
) -> datafusion::error::Result<String> {
    let mut query = Query {
        model,
        options,
        target: lowering.target,
        ctes: Vec::new(),
        notes: Vec::new(),
        config: Arc::new(ConfigOptions::default()),
    };
    query.sources();
    let facts = query.facts(plan, lowering)?;
    let (last, working) = query.steps(plan, lowering, facts)?;
    if options.actions {
        let select = query.actions(plan, lowering, &last, working)?;
        return Ok(query.text(&select));
    }
    let select = query.scorecard(plan, &last);
    Ok(query.text(&select))
}

/// One named step of the query: `name AS (body)`, under a comment.
struct Cte {
    name: String,
    comment: String,
    body: String,
}

/// The query's CTEs as they are written, in order.
struct Query<'a> {
    model: &'a Model,
    options: &'a SqlOptions,
    target: &'a dialect::Target,
    ctes: Vec<Cte>,
    /// Lines the header adds (what the query assumes).
    notes: Vec<String>,
    /// The session options expressions are coerced under (DataFusion's
    /// defaults, as `run`'s).
    config: Arc<ConfigOptions>,
}

impl Query<'_> {
    fn quote(&self, name: &str) -> String {
        quoted(self.target, name)
    }

    /// `expr` coerced against `schema` as `run` compiles it; not
    /// simplified, which would only make it harder to read (`coalesce`
    /// becomes a CASE).
    fn coerced(
        &self,
        expr: datafusion::logical_expr::Expr,
        schema: &Arc<DFSchema>,
    ) -> datafusion::error::Result<datafusion::logical_expr::Expr> {
        let simplifier = ExprSimplifier::new(
            SimplifyContext::builder()
                .with_schema(Arc::clone(schema))
                .with_config_options(Arc::clone(&self.config))
                .build(),
        );
        simplifier.coerce(expr, schema)
    }

    /// `vane_{wanted}`, unless a source has that name.
    fn cte_name(&self, wanted: &str) -> String {
        let mut name = format!("vane_{wanted}");
        while self.model.sources.iter().any(|s| s.name == name) {
            name.push('_');
        }
        name
    }

    fn push(&mut self, name: &str, comment: String, body: String) {
        self.ctes.push(Cte {
            name: self.quote(name),
            comment,
            body,
        });
    }

    /// A CTE under a source's name for each source read from elsewhere
    /// than the table of its name, and for the previous night's table.
    fn sources(&mut self) {
        let (model, options) = (self.model, self.options);
        for source in &model.sources {
            let mapped = options.tables.get(&source.name).or(source.table.as_ref());
            let select = match (mapped, options.files) {
                (Some(table), _) if table != &source.name => format!("SELECT * FROM {table}"),
                (None, true) => files_query(&source.location),
                _ => continue,
            };
            self.push(&source.name, format!("source `{}`", source.name), select);
        }
        if let Some(previous) = options.previous.as_ref().filter(|p| *p != PREVIOUS_TABLE) {
            self.push(
                PREVIOUS_TABLE,
                "the previous night's scorecard (key and health)".to_string(),
                format!("SELECT * FROM {previous}"),
            );
        }
    }

    /// The population, each side and the facts joining them; returns the
    /// facts' CTE name.
    fn facts(
        &mut self,
        plan: &Plan,
        lowering: &mut lower::Lowering<'_>,
    ) -> datafusion::error::Result<String> {
        let unparser = unparser(self.target);
        let mut unparsed = |part: &LogicalPlan| -> datafusion::error::Result<String> {
            let lowered = lowering.plan(part.clone())?;
            Ok(format!("{:#}", unparser.plan_to_sql(&lowered)?))
        };
        let population = self.cte_name("population");
        self.push(
            &population,
            format!(
                "every {} in the population, with its attributes",
                self.model.entity.name
            ),
            unparsed(&plan.scorecard.population)?,
        );
        let mut joins = Vec::new();
        let mut columns = vec![format!("{}.*", self.quote(&population))];
        for side in &plan.scorecard.sides {
            let name = self.cte_name(&side.name);
            self.push(
                &name,
                side_comment(self.model, &side.name, &side.plan),
                unparsed(&side.plan)?,
            );
            let (side_table, key) = (self.quote(&name), side.key());
            joins.push(format!(
                "LEFT JOIN {side_table} ON {side_table}.{} = {}.{}",
                self.quote(&key),
                self.quote(&population),
                self.quote(&plan.key)
            ));
            for field in side.plan.schema().fields() {
                if *field.name() != key && Some(field.name()) != side.rows.as_ref() {
                    columns.push(format!("{side_table}.{}", self.quote(field.name())));
                }
            }
        }
        let as_of = lit(ScalarValue::TimestampMicrosecond(
            Some(Micros::midnight(self.options.as_of).get()),
            None,
        ));
        columns.push(format!(
            "{} AS {}",
            unparser.expr_to_sql(&as_of)?,
            self.quote(names::AS_OF)
        ));
        let facts = self.cte_name("facts");
        self.push(
            &facts,
            "the facts: the population with every part joined by key, and the as-of instant"
                .to_string(),
            format!(
                "SELECT\n  {}\nFROM {}\n{}",
                columns.join(",\n  "),
                self.quote(&population),
                joins.join("\n")
            ),
        );
        Ok(facts)
    }

    /// One CTE per entity step, each over the one before (from `facts`);
    /// returns the last one's name and the working scorecard's columns.
    /// The expressions are coerced as `run` compiles them ([`Query::coerced`]).
    fn steps(
        &mut self,
        plan: &Plan,
        lowering: &mut lower::Lowering<'_>,
        facts: String,
    ) -> datafusion::error::Result<(String, Vec<FieldRef>)> {
        let unparser = unparser(self.target);
        let mut schema = plan.scorecard.facts_schema().fields().to_vec();
        schema.push(Arc::new(Field::new(
            names::AS_OF,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        )));
        let mut previous = facts;
        for (i, step) in plan.scorecard.steps.iter().enumerate() {
            let df_schema = Arc::new(DFSchema::try_from(Schema::new(schema.clone()))?);
            let mut columns = vec!["*".to_string()];
            for (name, expr) in &step.columns {
                let expr = self.coerced(expr.clone(), &df_schema)?;
                schema.push(Arc::new(Field::new(name, expr.get_type(&df_schema)?, true)));
                let lowered = lowering.expr(expr, &df_schema)?.data;
                columns.push(format!(
                    "{} AS {}",
                    unparser.expr_to_sql(&lowered)?,
                    self.quote(name)
                ));
            }
            let name = self.cte_name(&format!("step{}", i + 1));
            let computed: Vec<&str> = step.columns.iter().map(|(c, _)| c.as_str()).collect();
            self.push(
                &name,
                format!("step {}: {} ({})", i + 1, step.label, computed.join(", ")),
                format!(
                    "SELECT\n  {}\nFROM {}",
                    columns.join(",\n  "),
                    self.quote(&previous)
                ),
            );
            previous = name;
        }
        Ok((previous, schema))
    }

    /// The scorecard's columns from `last`, sorted by key.
    fn scorecard(&self, plan: &Plan, last: &str) -> String {
        let outputs: Vec<String> = plan.output_columns.iter().map(|c| self.quote(c)).collect();
        format!(
            "SELECT\n  {}\nFROM {}\nORDER BY {}\n",
            outputs.join(",\n  "),
            self.quote(last),
            self.quote(&plan.key)
        )
    }

    /// The whole query: a header, the CTEs, and `select`.
    fn text(&self, select: &str) -> String {
        let (model, options) = (self.model, self.options);
        let what = if options.actions {
            "actions"
        } else {
            "scorecard"
        };
        let mut text = format!(
            "-- The {what} of pipeline `{}` as of {}, for {}.\n\
             -- Written by `vane sql` from the plans `vane run` executes; regenerate rather than edit.\n",
            model.name,
            options.as_of,
            options.dialect.name()
        );
        if options.previous.is_none() && model.health.is_some() {
            text.push_str(
                "-- previous_health and trend are null (no --previous table), as on a first night.\n",
            );
        }
        for note in &self.notes {
            let _ = writeln!(text, "-- {note}");
        }
        text.push_str("WITH\n");
        for (i, cte) in self.ctes.iter().enumerate() {
            let body: Vec<String> = cte.body.lines().map(|l| format!("  {l}")).collect();
            let comma = if i + 1 == self.ctes.len() { "" } else { "," };
            let _ = writeln!(
                text,
                "-- {}\n{} AS (\n{}\n){comma}",
                cte.comment,
                cte.name,
                body.join("\n")
            );
        }
        text.push_str(select);
        text
    }
}

/// The unparser for `target`. Not in its "pretty" mode: in DataFusion
/// 55.2 that mode drops the parentheses an `OR` inside an `AND` needs
/// (`a OR b AND c` for `(a OR b) AND c`), which changes what is counted.
fn unparser(target: &dialect::Target) -> Unparser<'_> {
    Unparser::new(target)
}

/// `name` quoted as the dialect quotes identifiers.
fn quoted(target: &dialect::Target, name: &str) -> String {
    use datafusion::sql::unparser::dialect::Dialect;
    match target.identifier_quote_style(name) {
        Some(q) => format!("{q}{}{q}", name.replace(q, &format!("{q}{q}"))),
        None => name.to_string(),
    }
}

/// A source's files, read by DuckDB's table functions.
fn files_query(location: &crate::sources::SourceLocation) -> String {
    let path = std::path::absolute(&location.path)
        .unwrap_or_else(|_| location.path.clone())
        .display()
        .to_string();
    let pattern = if location.path.is_dir() {
        let extension = match location.format {
            FileFormat::Csv => "csv",
            FileFormat::JsonLines => "jsonl",
            FileFormat::Arrow => "arrow",
            FileFormat::Parquet => "parquet",
        };
        format!("{}/**/*.{extension}", path.trim_end_matches('/'))
    } else {
        path
    };
    let literal = format!("'{}'", pattern.replace('\'', "''"));
    let hive = if location.partitions.is_empty() {
        ""
    } else {
        ", hive_partitioning = true"
    };
    match location.format {
        FileFormat::Csv => format!("SELECT * FROM read_csv({literal}, header = true{hive})"),
        FileFormat::JsonLines => format!("SELECT * FROM read_json({literal}{hive})"),
        FileFormat::Arrow | FileFormat::Parquet => {
            format!("SELECT * FROM read_parquet({literal}{hive})")
        }
    }
}

/// The value a distinct-count side counts, as written in the language
/// (`user_id`), found as the expression it groups by under
/// [`names::DISTINCT_VALUE`].
fn distinct_value(plan: &LogicalPlan) -> Option<String> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion::logical_expr::Expr;
    let mut found = None;
    let _ = plan.apply(|node| {
        for expr in node.expressions() {
            if let Expr::Alias(alias) = &expr
                && alias.name == names::DISTINCT_VALUE
            {
                found = Some(match alias.expr.as_ref() {
                    Expr::Column(column) => column.name.clone(),
                    other => other.to_string(),
                });
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

/// What a side computes, for its comment.
fn side_comment(model: &Model, side: &str, plan: &LogicalPlan) -> String {
    if side == names::TARGETS_SIDE {
        return "the KPI targets in effect at as-of, per entity".to_string();
    }
    if side == names::PREVIOUS_SIDE {
        return "the previous night's health".to_string();
    }
    let (source, distinct) = match side.split_once("__distinct") {
        Some((source, _)) => (source, distinct_value(plan)),
        None => (side, None),
    };
    let metrics: Vec<&str> = model
        .metrics
        .iter()
        .filter(|m| matches!(&m.kind, MetricKind::Aggregate { source: s, .. } if s == source))
        .filter(|m| match &distinct {
            Some(value) => m.value_text.contains(&format!("count_distinct({value})")),
            None => !m.value_text.trim_start().starts_with("count_distinct("),
        })
        .map(|m| m.name.as_str())
        .collect();
    let what = match &distinct {
        Some(value) => format!("distinct counts of {value}"),
        None => "aggregates".to_string(),
    };
    format!(
        "source `{source}`: {what} for {}",
        if metrics.is_empty() {
            "its metrics".to_string()
        } else {
            metrics.join(", ")
        }
    )
}
