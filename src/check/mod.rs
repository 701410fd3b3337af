//! Stage 3: AST + sources → typed [`Model`]. Resolves every name, orders metrics by
//! dependency (rejecting cycles), types every expression and checks the
//! health model, collecting all problems in one pass.
//!
//! **Architecture invariant:** `check` sees data only through schemas
//! ([`Schemas`]), never rows, and never imports DataFusion.

mod columns;
pub mod definitions;
mod exprs;
pub mod functions;
mod graph;
mod health;
pub mod model;
mod outcomes;
mod rollups;
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use crate::base::types::{ColumnType, Schemas, SourceSchema, Type};
use crate::base::units::Seconds;
use crate::base::{FileFormat, SourceFile, Span, names};
use crate::diagnostics::{Code, Diagnostic, suggestion};
use crate::sources::Sources;
use crate::syntax::ast::{self, Pipeline, Text};
use crate::syntax::expr::{ExprKind, Literal};
use crate::syntax::print::{print, print_template};
use exprs::ExprChecker;
pub use exprs::{Env, MetricInfo, Scope, constant_value};
use model::*;

/// The checker's working state.
struct Checker<'a> {
    pipeline: &'a Pipeline,
    file: Arc<SourceFile>,
    sources: &'a Sources,
    /// The opened sources' schemas with declared column types applied.
    schemas: &'a Schemas,
    /// Each source's declared columns and parse-failure limit, by name.
    declared: BTreeMap<String, (Vec<DeclaredColumn>, ParseFailureLimit)>,
    diagnostics: Vec<Diagnostic>,
}

/// Check a loaded pipeline against its resolved sources. When the sources
/// were opened (`validate --data`, `run`), column names and types are
/// checked against their schemas; without schemas they are taken on trust
/// and checked again before running.
pub fn check(pipeline: &Pipeline, sources: &Sources) -> (Option<Model>, Vec<Diagnostic>) {
    let declared = columns::declared(pipeline, &sources.schemas);
    let schemas = declared.schemas;
    let mut checker = Checker {
        pipeline,
        file: pipeline.file.clone(),
        sources,
        schemas: &schemas,
        declared: declared.sources,
        diagnostics: declared.diagnostics,
    };
    let model = checker.model();
    let has_errors = checker.diagnostics.iter().any(Diagnostic::is_error);
    (model.filter(|_| !has_errors), checker.diagnostics)
}

/// Whether a pipeline name can name a folder or file as it is: letters,
/// digits, `_` and `-`, not starting with `-`.
fn is_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}

fn text(t: &Option<Text>) -> Option<String> {
    t.as_ref().map(|t| t.value.clone())
}

impl Checker<'_> {
    fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    fn error(&mut self, code: Code, span: Span, message: String, label: &str, help: String) {
        let d = Diagnostic::error(code, message)
            .at(&self.file, span, label)
            .help(help);
        self.push(d);
    }

    fn model(&mut self) -> Option<Model> {
        let p = self.pipeline;
        let name = text(&p.name).unwrap_or_else(|| {
            p.file
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "pipeline".into())
        });
        if let Some(given) = &p.name
            && !is_file_name(&given.value)
        {
            let suggestion: String = given
                .value
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
                .collect();
            self.error(
                Code::InvalidValue,
                given.span,
                format!("pipeline name `{}` is not a plain name", given.value),
                "names folders and files",
                format!(
                    "the name is used in output folders and file names: use letters, digits, `_` and `-`{}; choose folders with `outputs.dir` or --out",
                    if suggestion.is_empty() { String::new() } else { format!(", e.g. `{suggestion}`") }
                ),
            );
        }
        if let Some(tz) = &p.timezone
            && !matches!(tz.value.as_str(), "UTC" | "Etc/UTC" | "utc" | "Z")
        {
            self.error(
                Code::InvalidValue,
                tz.span,
                format!("time zone `{}` is not supported yet", tz.value),
                "only UTC",
                "Vane computes windows in UTC for now; remove `timezone:` or write `UTC`".into(),
            );
        }
        let sources = self.sources();
        let entity = self.entity(&sources)?;
        let mut env = self.env(&entity, &sources);
        let metrics = self.metrics(&sources, &mut env);
        let targets = self.targets(&sources, &entity);
        env.has_targets = targets.is_some();
        let indicators = self.indicators(&env);
        let health = self.health(&env, &indicators);
        let playbooks = self.playbooks(&env);
        let outcomes = self.outcomes(&sources, &env);
        let rollups = self.rollups(&mut env);
        let outputs = self.outputs(&name);
        let mut targets = targets;
        let mut model = Model {
            file: self.file.clone(),
            name,
            about: p.about.clone(),
            sources,
            entity,
            metrics,
            evaluations: Vec::new(),
            targets: None,
            indicators,
            health,
            playbooks,
            outcomes,
            rollups,
            outputs,
            tests: Vec::new(),
            edges: Vec::new(),
        };
        if let Some(t) = targets.as_mut() {
            t.kpis = graph::kpis_used(&model);
        }
        model.targets = targets;
        match graph::evaluations(&model) {
            Ok(evaluations) => model.evaluations = evaluations,
            Err(metric) => {
                let span = model.metric(&metric).map_or(Span::default(), |m| m.span);
                self.error(
                    Code::InvalidLiteral,
                    span,
                    format!("`{metric}` is read further back than a timestamp can reach"),
                    "too far back",
                    "the periods of nested `previous` and `change` add up; shorten them".into(),
                );
            }
        }
        model.edges = graph::edges(&model);
        model.tests = self.tests(&model);
        self.columns_in_every_file(&model);
        if !self.diagnostics.iter().any(Diagnostic::is_error) {
            self.unused(&model);
        }
        Some(model)
    }

    fn sources(&mut self) -> Vec<Source> {
        let mut out = Vec::new();
        for def in &self.pipeline.sources {
            let (Some(path), Some(location)) = (&def.path, self.sources.location(&def.name.value))
            else {
                continue;
            };
            let (columns, max_parse_failures) = self
                .declared
                .remove(&def.name.value)
                .unwrap_or((Vec::new(), ParseFailureLimit::Count(0)));
            let entity_key = self
                .pipeline
                .entity
                .as_ref()
                .and_then(|e| e.key.as_ref())
                .map(|k| k.value.clone())
                .unwrap_or_default();
            let key = text(&def.key).unwrap_or(entity_key);
            if let Some(schema) = self.schemas.get(&def.name.value) {
                if let Some(time) = &def.time {
                    self.expect_column(
                        schema,
                        &def.name.value,
                        time,
                        &[Type::Timestamp, Type::Date],
                        "a timestamp or date",
                    );
                }
                if let Some(k) = &def.key {
                    self.expect_column(schema, &def.name.value, k, &[], "");
                }
            }
            out.push(Source {
                name: def.name.value.clone(),
                about: def.about.clone(),
                path: path.value.clone(),
                location: location.clone(),
                time: text(&def.time),
                key,
                table: text(&def.table),
                missing_columns: match def.missing_columns.as_ref().map(|t| t.value.as_str()) {
                    Some("read_as_null") => MissingColumns::ReadAsNull,
                    _ => MissingColumns::Error,
                },
                columns,
                max_parse_failures,
                span: def.span,
            });
        }
        out
    }

    /// Check that a column named in the file exists in the data (and has one of `types`, when given).
    fn expect_column(
        &mut self,
        schema: &SourceSchema,
        source: &str,
        column: &Text,
        types: &[Type],
        wanted: &str,
    ) -> bool {
        match schema.column(&column.value) {
            None => {
                let help = suggestion(&column.value, "column", schema.names());
                self.error(
                    Code::SchemaMismatch,
                    column.span,
                    format!(
                        "source `{source}` has no column `{}` (read from {})",
                        column.value, schema.origin
                    ),
                    "not in the data",
                    help,
                );
                false
            }
            Some(ColumnType::Known(t))
                if !types.is_empty() && !types.iter().any(|wanted| t.fits(*wanted)) =>
            {
                self.error(
                    Code::SchemaMismatch,
                    column.span,
                    format!(
                        "column `{}` of `{source}` is {}, but {wanted} is needed",
                        column.value,
                        exprs::a(*t)
                    ),
                    "wrong type",
                    types
                        .first()
                        .and_then(|w| columns::declare_advice(&column.value, *t, *w))
                        .unwrap_or_else(|| {
                            format!("store `{}` as {wanted} in {}", column.value, schema.origin)
                        }),
                );
                false
            }
            _ => true,
        }
    }

    fn source_ref(&mut self, sources: &[Source], name: &Text) -> Option<usize> {
        let found = sources.iter().position(|s| s.name == name.value);
        if found.is_none()
            && !self
                .pipeline
                .sources
                .iter()
                .any(|s| s.name.value == name.value)
        {
            let help = suggestion(
                &name.value,
                "source",
                self.pipeline.sources.iter().map(|s| s.name.value.as_str()),
            );
            self.error(
                Code::UnknownName,
                name.span,
                format!("unknown source `{}`", name.value),
                "not a source",
                help,
            );
        }
        found
    }

    fn entity(&mut self, sources: &[Source]) -> Option<Entity> {
        let def = self.pipeline.entity.as_ref()?;
        let name = def.name.as_ref()?;
        let source_name = def.source.as_ref()?;
        let key = def.key.as_ref()?;
        let source = self
            .source_ref(sources, source_name)
            .map(|i| sources[i].name.clone());
        let schema = self.schemas.get(&source_name.value);
        if let Some(schema) = schema {
            self.expect_column(schema, &source_name.value, key, &[], "");
            for attribute in &def.attributes {
                self.expect_column(schema, &source_name.value, attribute, &[], "");
            }
        }
        for attribute in &def.attributes {
            if names::is_reserved(&attribute.value) {
                self.error(
                    Code::DuplicateName,
                    attribute.span,
                    format!("attribute `{}` would clash with the `{}` column Vane adds to the scorecard", attribute.value, attribute.value),
                    "clashing name",
                    "rename the column in the entity table, or leave it out of `attributes`".into(),
                );
            }
        }
        let mut seen = BTreeMap::new();
        for attribute in &def.attributes {
            if let Some(first) = seen.insert(attribute.value.clone(), attribute.span) {
                let d = Diagnostic::error(
                    Code::DuplicateName,
                    format!("attribute `{}` is listed twice", attribute.value),
                )
                .at(&self.file, attribute.span, "second time")
                .also(first, "first time")
                .help("remove one of them");
                self.push(d);
            }
        }
        let display = self.display(def, &name.value);
        let population = def.population.as_ref().map(|p| {
            let env = Env {
                entity_name: name.value.clone(),
                entity_source: source_name.value.clone(),
                entity_key: key.value.clone(),
                ..Env::default()
            };
            let mut checker = ExprChecker {
                env: &env,
                file: &self.file,
                diagnostics: &mut self.diagnostics,
            };
            let scope = Scope::Row {
                source: &source_name.value,
                schema,
            };
            checker.check_as(p, scope, Type::Boolean, "the population filter")
        });
        Some(Entity {
            name: name.value.clone(),
            about: def.about.clone(),
            source: source.unwrap_or_else(|| source_name.value.clone()),
            key: key.value.clone(),
            attributes: def.attributes.iter().map(|a| a.value.clone()).collect(),
            population,
            display,
        })
    }

    /// The attributes actions carry: `display:` (each an attribute, its
    /// column clashing with no action column), or every attribute but the
    /// key.
    fn display(&mut self, def: &ast::EntityDef, entity: &str) -> Vec<String> {
        let key = def.key.as_ref().map(|k| k.value.as_str());
        let Some(display) = &def.display else {
            return def
                .attributes
                .iter()
                .map(|a| a.value.clone())
                .filter(|a| Some(a.as_str()) != key)
                .collect();
        };
        let mut out: Vec<String> = Vec::new();
        for attribute in display {
            let name = attribute.value.as_str();
            if !def.attributes.iter().any(|a| a.value == name) {
                self.error(
                    Code::UnknownName,
                    attribute.span,
                    format!("`{name}` is not an attribute of `{entity}`"),
                    "not an attribute",
                    suggestion(
                        name,
                        "attribute",
                        def.attributes.iter().map(|a| a.value.as_str()),
                    ),
                );
                continue;
            }
            let column = format!("{entity}_{name}");
            if names::ACTION_COLUMNS.contains(&column.as_str()) {
                self.error(
                    Code::DuplicateName,
                    attribute.span,
                    format!(
                        "`{name}` would be the actions column `{column}`, which Vane already writes"
                    ),
                    "clashing name",
                    "leave it out of `display`".into(),
                );
                continue;
            }
            if out.iter().any(|a| a == name) {
                self.error(
                    Code::DuplicateName,
                    attribute.span,
                    format!("`{name}` is listed twice in `display`"),
                    "second time",
                    "remove one of them".into(),
                );
                continue;
            }
            out.push(name.to_string());
        }
        out
    }

    fn env(&self, entity: &Entity, sources: &[Source]) -> Env {
        let entity_schema = self.schemas.get(&entity.source).cloned();
        let attributes = entity
            .attributes
            .iter()
            .map(|a| {
                let ty = match entity_schema.as_ref().and_then(|s| s.column(a)) {
                    Some(ColumnType::Known(t)) => *t,
                    _ => Type::Unknown,
                };
                (a.clone(), ty)
            })
            .collect();
        let mut all_columns = BTreeMap::new();
        for source in sources {
            if let Some(schema) = self.schemas.get(&source.name) {
                for (column, _) in &schema.columns {
                    all_columns
                        .entry(column.clone())
                        .or_insert_with(|| source.name.clone());
                }
            }
        }
        Env {
            metrics: BTreeMap::new(),
            entity_name: entity.name.clone(),
            entity_key: entity.key.clone(),
            entity_source: entity.source.clone(),
            attributes,
            entity_schema,
            indicators: self
                .pipeline
                .indicators
                .iter()
                .map(|i| i.name.value.clone())
                .collect(),
            has_targets: self.pipeline.targets.is_some(),
            has_health: self.pipeline.health.is_some(),
            all_columns,
            outcomes: self
                .pipeline
                .outcomes
                .iter()
                .map(|o| o.name.value.clone())
                .collect(),
            rollups: BTreeMap::new(),
        }
    }

    /// Metric names become scorecard columns beside the key and attributes,
    /// so they must not clash with them or with the columns Vane adds.
    fn output_collisions(&mut self, defs: &[ast::MetricDef], env: &Env) {
        for def in defs {
            let name = def.name.value.as_str();
            let clash = if name == env.entity_key || env.attributes.contains_key(name) {
                Some(format!("the entity attribute `{name}` in the scorecard"))
            } else if names::is_reserved(name) {
                Some(format!("the `{name}` column Vane adds to the scorecard"))
            } else {
                None
            };
            if let Some(clash) = clash {
                self.error(
                    Code::DuplicateName,
                    def.name.span,
                    format!("metric `{name}` would clash with {clash}"),
                    "clashing name",
                    format!("rename the metric, e.g. `{name}_value`"),
                );
            }
        }
    }

    /// A duration written in a key (`window:`, `cooldown:`), or an error
    /// when it does not fit a timestamp.
    fn duration(
        &mut self,
        n: i64,
        unit: crate::syntax::expr::DurationUnit,
        span: Span,
        what: &str,
    ) -> Option<Seconds> {
        let seconds = exprs::duration(n, unit);
        if seconds.is_none() {
            self.push(exprs::too_long(&self.file, span, n, unit, what));
        }
        seconds
    }

    fn window(&mut self, def: &ast::MetricDef) -> Option<Seconds> {
        let window = def.window.as_ref()?;
        match &window.kind {
            ExprKind::Literal(Literal::Duration(n, unit)) if *n > 0 => {
                self.duration(*n, *unit, window.span, "this window")
            }
            _ => {
                self.error(
                    Code::TypeMismatch,
                    window.span,
                    "a window must be a positive duration such as `30d`".into(),
                    "not a duration",
                    "units: w (weeks), d (days), h (hours), min, s".into(),
                );
                None
            }
        }
    }

    fn metrics(&mut self, sources: &[Source], env: &mut Env) -> Vec<Metric> {
        let defs = &self.pipeline.metrics;
        for def in defs {
            env.metrics.insert(
                def.name.value.clone(),
                MetricInfo {
                    ty: Type::Unknown,
                    window: None,
                    is_aggregate: def.from.is_some(),
                },
            );
        }
        for def in defs {
            let window = self.window(def);
            if let Some(info) = env.metrics.get_mut(&def.name.value) {
                info.window = window;
            }
        }
        self.output_collisions(defs, env);
        let order = graph::metric_order(self, defs, env);
        let mut out = Vec::new();
        for index in order {
            let def = &defs[index];
            if let Some(metric) = self.metric(def, sources, env) {
                if let Some(info) = env.metrics.get_mut(&metric.name) {
                    info.ty = metric.ty;
                }
                out.push(metric);
            }
        }
        out
    }

    /// What a definition that reads a source's rows (a metric with `from`,
    /// an outcome) has in common: the source's key column must exist, its
    /// `where` is a row condition, and its value an expression over the
    /// rows in aggregate context — typed, with whether it aggregates
    /// anything.
    fn source_rows(
        &mut self,
        env: &Env,
        source: &Source,
        from: Span,
        filter: Option<&crate::syntax::expr::Expr>,
        value: Option<&crate::syntax::expr::Expr>,
    ) -> (Option<TypedExpr>, Option<(TypedExpr, bool)>) {
        let schema = self.schemas.get(&source.name);
        if let Some(schema) = schema
            && schema.column(&source.key).is_none()
        {
            let help = format!(
                "set `key:` on source `{}` to the column holding the {} key",
                source.name, env.entity_name
            );
            self.error(
                Code::SchemaMismatch,
                from,
                format!(
                    "source `{}` has no key column `{}` (read from {})",
                    source.name, source.key, schema.origin
                ),
                "no key column",
                help,
            );
        }
        let mut checker = ExprChecker {
            env,
            file: &self.file,
            diagnostics: &mut self.diagnostics,
        };
        let filter = filter.map(|f| {
            checker.check_as(
                f,
                Scope::Row {
                    source: &source.name,
                    schema,
                },
                Type::Boolean,
                "`where`",
            )
        });
        let value = value.map(|v| {
            let typed = checker.check(
                v,
                Scope::Aggregate {
                    source: &source.name,
                    schema,
                },
            );
            let mut has_aggregate = false;
            typed.walk(&mut |e| has_aggregate |= matches!(e.kind, TypedKind::Aggregate { .. }));
            (typed, has_aggregate)
        });
        (filter, value)
    }

    fn metric(&mut self, def: &ast::MetricDef, sources: &[Source], env: &Env) -> Option<Metric> {
        let value = def.value.as_ref()?;
        let window = env.metrics.get(&def.name.value).and_then(|i| i.window);
        let (kind, ty) = match &def.from {
            Some(from) => {
                let index = self.source_ref(sources, from)?;
                let source = &sources[index];
                if window.is_some() && source.time.is_none() {
                    let span = def.window.as_ref().map_or(def.name.span, |w| w.span);
                    self.error(
                        Code::MissingKey,
                        span,
                        format!(
                            "source `{}` has no `time` column, so a window cannot apply",
                            source.name
                        ),
                        "window",
                        format!("add `time: <column>` to source `{}`", source.name),
                    );
                }
                let (filter, typed) =
                    self.source_rows(env, source, from.span, def.filter.as_ref(), Some(value));
                let (typed, has_aggregate) = typed?;
                if !has_aggregate && typed.ty != Type::Unknown {
                    self.error(
                        Code::AggregateContext,
                        value.span,
                        format!("metric `{}` reads `{}` but aggregates nothing", def.name.value, source.name),
                        "no aggregate",
                        "use an aggregate such as `count()` or `sum(amount)`, or remove `from:` for a derived metric".into(),
                    );
                }
                let ty = typed.ty;
                (
                    MetricKind::Aggregate {
                        source: source.name.clone(),
                        window,
                        filter,
                        value: typed,
                    },
                    ty,
                )
            }
            None => {
                if let Some(w) = &def.window {
                    self.error(
                        Code::InvalidValue,
                        w.span,
                        "a derived metric has no window".into(),
                        "window without `from`",
                        "windows apply to the rows of a source: add `from:` or remove `window:`"
                            .into(),
                    );
                }
                if let Some(f) = &def.filter {
                    self.error(
                        Code::InvalidValue,
                        f.span,
                        "a derived metric has no row filter".into(),
                        "`where` without `from`",
                        "row filters apply to a source: add `from:` or remove `where:`".into(),
                    );
                }
                let mut checker = ExprChecker {
                    env,
                    file: &self.file,
                    diagnostics: &mut self.diagnostics,
                };
                let typed = checker.check(
                    value,
                    Scope::Entity {
                        value_metric: None,
                        playbook: false,
                    },
                );
                let ty = typed.ty;
                (MetricKind::Derived { value: typed }, ty)
            }
        };
        Some(Metric {
            name: def.name.value.clone(),
            about: def.about.clone(),
            kind,
            ty,
            unit: text(&def.unit),
            unused: def.unused,
            value_text: print(value),
            filter_text: def.filter.as_ref().map(print),
            span: def.name.span,
        })
    }

    fn targets(&mut self, sources: &[Source], entity: &Entity) -> Option<Targets> {
        let def = self.pipeline.targets.as_ref()?;
        let source_name = def.source.as_ref()?;
        self.source_ref(sources, source_name)?;
        let column = |t: &Option<Text>, default: &str| {
            t.as_ref().map_or(default.to_string(), |t| t.value.clone())
        };
        let targets = Targets {
            about: def.about.clone(),
            source: source_name.value.clone(),
            key: column(&def.key, &entity.key),
            kpi: column(&def.kpi, "kpi"),
            value: column(&def.value, "target"),
            direction: column(&def.direction, "direction"),
            effective_from: text(&def.effective_from),
            effective_to: text(&def.effective_to),
            kpis: Vec::new(),
        };
        if let Some(schema) = self.schemas.get(&source_name.value) {
            let at = |t: &Option<Text>| t.as_ref().map_or(def.span, |t| t.span);
            let checks = [
                (targets.key.clone(), at(&def.key), vec![]),
                (targets.kpi.clone(), at(&def.kpi), vec![Type::String]),
                (
                    targets.value.clone(),
                    at(&def.value),
                    vec![Type::Number, Type::Integer],
                ),
                (
                    targets.direction.clone(),
                    at(&def.direction),
                    vec![Type::String],
                ),
            ];
            for (name, span, types) in checks {
                let wanted = if types.is_empty() {
                    ""
                } else if types[0] == Type::String {
                    "text"
                } else {
                    "a number"
                };
                self.expect_column(
                    schema,
                    &source_name.value,
                    &Text { value: name, span },
                    &types,
                    wanted,
                );
            }
            for t in [&def.effective_from, &def.effective_to]
                .into_iter()
                .flatten()
            {
                self.expect_column(
                    schema,
                    &source_name.value,
                    t,
                    &[Type::Date, Type::Timestamp],
                    "a date",
                );
            }
        }
        Some(targets)
    }

    fn indicators(&mut self, env: &Env) -> Vec<Indicator> {
        let mut out = Vec::new();
        for def in &self.pipeline.indicators {
            let (Some(metric), Some(score), Some(group), Some(kind)) =
                (&def.metric, &def.score, &def.group, &def.kind)
            else {
                continue;
            };
            if !env.metrics.contains_key(&metric.value) {
                let help = suggestion(
                    &metric.value,
                    "metric",
                    env.metrics.keys().map(String::as_str),
                );
                self.error(
                    Code::UnknownName,
                    metric.span,
                    format!("unknown metric `{}`", metric.value),
                    "not a metric",
                    help,
                );
                continue;
            }
            let scope = Scope::Entity {
                value_metric: Some(&metric.value),
                playbook: false,
            };
            let typed = self.typed(env, score, scope, Type::Number, "a score");
            out.push(Indicator {
                name: def.name.value.clone(),
                about: def.about.clone(),
                kind: if kind.value == "lagging" {
                    IndicatorKind::Lagging
                } else {
                    IndicatorKind::Leading
                },
                metric: metric.value.clone(),
                score: typed,
                score_text: print(score),
                weight: def.weight.map_or(1.0, |w| w.value),
                group: group.value.clone(),
                span: def.name.span,
            });
        }
        out
    }

    fn health(&mut self, env: &Env, indicators: &[Indicator]) -> Option<Health> {
        let def = self.pipeline.health.as_ref()?;
        let mut checked = health::check_health(
            &self.file,
            def,
            &self.pipeline.indicators,
            &mut self.diagnostics,
        )?;
        let mut models = Vec::new();
        for model_def in &def.models {
            let Some(when) = &model_def.when else {
                continue;
            };
            let scope = Scope::Entity {
                value_metric: None,
                playbook: false,
            };
            let typed = self.typed(env, when, scope, Type::Boolean, "a model's `when`");
            models.push(HealthModel {
                name: model_def.name.value.clone(),
                about: model_def.about.clone(),
                when: typed,
                when_text: print(when),
                group_weights: model_def
                    .groups
                    .iter()
                    .map(|(n, w)| (n.value.clone(), w.value))
                    .collect(),
                indicator_weights: model_def
                    .indicators
                    .iter()
                    .map(|(n, w)| (n.value.clone(), w.value))
                    .collect(),
            });
        }
        checked.models = models;
        for group in &mut checked.groups {
            group.indicators = indicators
                .iter()
                .filter(|i| i.group == group.name)
                .map(|i| i.name.clone())
                .collect();
        }
        Some(checked)
    }

    /// Type `expr` in `scope`, expecting `expected` (`Unknown` for anything).
    fn typed(
        &mut self,
        env: &Env,
        expr: &crate::syntax::expr::Expr,
        scope: Scope<'_>,
        expected: Type,
        what: &str,
    ) -> TypedExpr {
        let mut checker = ExprChecker {
            env,
            file: &self.file,
            diagnostics: &mut self.diagnostics,
        };
        checker.check_as(expr, scope, expected, what)
    }

    fn template(&mut self, env: &Env, template: &crate::syntax::expr::Template) -> TypedTemplate {
        let scope = Scope::Entity {
            value_metric: None,
            playbook: true,
        };
        let parts = template
            .parts
            .iter()
            .map(|part| match part {
                crate::syntax::expr::TemplatePart::Text(t) => TypedPart::Text(t.clone()),
                crate::syntax::expr::TemplatePart::Hole(e) => {
                    TypedPart::Hole(self.typed(env, e, scope, Type::Unknown, "a message hole"))
                }
            })
            .collect();
        TypedTemplate {
            parts,
            text: print_template(template),
        }
    }

    fn playbooks(&mut self, env: &Env) -> Vec<Playbook> {
        let mut out = Vec::new();
        for def in &self.pipeline.playbooks {
            let (Some(when), Some(action), Some(message)) = (&def.when, &def.action, &def.message)
            else {
                continue;
            };
            let scope = Scope::Entity {
                value_metric: None,
                playbook: true,
            };
            let typed = self.typed(env, when, scope, Type::Boolean, "a playbook condition");
            let cooldown = def.cooldown.as_ref().and_then(|c| match &c.kind {
                ExprKind::Literal(Literal::Duration(n, unit)) if *n >= 0 => {
                    self.duration(*n, *unit, c.span, "this cooldown")
                }
                _ => {
                    self.error(
                        Code::TypeMismatch,
                        c.span,
                        "a cooldown must be a duration such as `14d`".into(),
                        "not a duration",
                        "units: w, d, h, min, s".into(),
                    );
                    None
                }
            });
            let priority = match def.priority.as_ref().map(|p| p.value.as_str()) {
                Some("high") => Priority::High,
                Some("low") => Priority::Low,
                _ => Priority::Medium,
            };
            let message = self.template(env, message);
            let assignee = def.assignee.as_ref().map(|t| self.template(env, t));
            let dedup_key = def.dedup_key.as_ref().map(|t| self.template(env, t));
            out.push(Playbook {
                name: def.name.value.clone(),
                about: def.about.clone(),
                when: typed,
                when_text: print(when),
                action: action.value.clone(),
                priority,
                assignee,
                message,
                dedup_key,
                cooldown,
                span: def.name.span,
            });
        }
        out
    }

    fn outputs(&mut self, name: &str) -> Outputs {
        let def = self.pipeline.outputs.as_ref();
        let dir = def
            .and_then(|o| o.dir.as_ref())
            .map(|d| self.file.resolve(&d.value))
            .unwrap_or_else(|| PathBuf::from("out").join(name));
        let format = def
            .and_then(|o| o.format.as_ref())
            .and_then(|f| FileFormat::from_name(&f.value))
            .unwrap_or(FileFormat::Parquet);
        let engine = def.and_then(|o| o.engine.as_ref()).and_then(|e| {
            match crate::base::engine::EngineChoice::parse(&e.value) {
                Ok(_) => Some(e.value.trim().to_string()),
                Err(why) => {
                    self.error(
                        Code::InvalidValue,
                        e.span,
                        why,
                        "not an engine",
                        "write `local` or `ballista://HOST:PORT` (see docs/distributed.md)".into(),
                    );
                    None
                }
            }
        });
        Outputs {
            dir,
            format,
            engine,
        }
    }

    /// A column the pipeline reads must be in every file of its source,
    /// unless the source says it may read as null.
    fn columns_in_every_file(&mut self, model: &Model) {
        for source in &model.sources {
            if source.missing_columns == MissingColumns::ReadAsNull {
                continue;
            }
            for column in model.columns_read(&source.name) {
                let lacking = self.sources.files_lacking(&source.name, &column);
                if lacking.is_empty() {
                    continue;
                }
                let mut listed = lacking
                    .iter()
                    .take(3)
                    .map(|f| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                if lacking.len() > 3 {
                    listed.push_str(&format!(" and {} more", lacking.len() - 3));
                }
                let files = if lacking.len() == 1 {
                    "1 file"
                } else {
                    &format!("{} files", lacking.len())
                };
                self.error(
                    Code::SchemaMismatch,
                    source.span,
                    format!("column `{column}` of source `{}` is missing from {files}: {listed}", source.name),
                    "some files lack a column",
                    format!("add `{column}` to those files, or set `missing_columns: read_as_null` on `{}` if they are meant to lack it", source.name),
                );
            }
        }
    }

    fn unused(&mut self, model: &Model) {
        let used: BTreeSet<&str> = model
            .edges
            .iter()
            .filter_map(|(from, to)| match (from, to) {
                (Node::Metric(m), to) if !matches!(to, Node::Metric(n) if n == m) => {
                    Some(m.as_str())
                }
                _ => None,
            })
            .collect();
        for metric in &model.metrics {
            if !metric.unused && !used.contains(metric.name.as_str()) {
                let d = Diagnostic::warning(
                    Code::Unused,
                    format!(
                        "metric `{}` is not used by any indicator, playbook or other metric",
                        metric.name
                    ),
                )
                .at(&self.file, metric.span, "unused")
                .help("use it, remove it, or mark it `unused: true` if it is kept for reporting");
                self.push(d);
            }
        }
    }
}
