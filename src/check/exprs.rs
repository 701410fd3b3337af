//! Typing one expression: resolve names in its scope, check operand and
//! argument types, desugar conveniences (`count_if`, `previous`, percentages)
//! and keep aggregates apart from row values.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::functions::{self, Aggregate, Function, FunctionDef, Kind, Param, Place, Returns};
use super::model::{Constant, TypedExpr, TypedKind, Unary};
use crate::base::types::{ColumnType, SourceSchema, Type};
use crate::base::units::Seconds;
use crate::base::{SourceFile, Span};
use crate::diagnostics::{Code, Diagnostic, suggestion};
use crate::syntax::expr::{BinaryOp, DurationUnit, Expr, ExprKind, Ident, Literal, UnaryOp};

/// What a metric looks like from the outside, for typing references to it.
#[derive(Debug, Clone)]
pub struct MetricInfo {
    /// Its type, once checked (`Unknown` until then or without schemas).
    pub ty: Type,
    /// The window of an aggregate metric with one.
    pub window: Option<Seconds>,
    /// Whether it aggregates a source.
    pub is_aggregate: bool,
}

/// Everything names can resolve to.
#[derive(Debug, Default)]
pub struct Env {
    /// Metrics by name.
    pub metrics: BTreeMap<String, MetricInfo>,
    /// The entity's name.
    pub entity_name: String,
    /// The entity's key column.
    pub entity_key: String,
    /// The entity table's source.
    pub entity_source: String,
    /// Declared entity attributes with their types.
    pub attributes: BTreeMap<String, Type>,
    /// The entity table's schema, when known.
    pub entity_schema: Option<SourceSchema>,
    /// Indicator names.
    pub indicators: Vec<String>,
    /// Whether a `targets:` section exists.
    pub has_targets: bool,
    /// Whether a `health:` section exists (playbooks may read `health` and `band`).
    pub has_health: bool,
    /// Column names of every source, for hints.
    pub all_columns: BTreeMap<String, String>,
    /// Outcome names: no score may read them.
    pub outcomes: Vec<String>,
    /// Rollup names, each with whether it has groups (`by:`); a rollup
    /// may read the ones without.
    pub rollups: BTreeMap<String, bool>,
}

/// Where an expression stands, which decides what names and functions mean.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// One row of a source: columns, constants, scalar functions.
    Row {
        /// The source's name.
        source: &'a str,
        /// Its schema, when known.
        schema: Option<&'a SourceSchema>,
    },
    /// The value of an aggregate metric: aggregates over rows, combined.
    Aggregate {
        /// The source's name.
        source: &'a str,
        /// Its schema, when known.
        schema: Option<&'a SourceSchema>,
    },
    /// Per entity: metrics, attributes, targets.
    Entity {
        /// For an indicator's score: the metric that `value` means.
        value_metric: Option<&'a str>,
        /// In a playbook: `health`, `band` and `score(...)` are available.
        playbook: bool,
    },
    /// A rollup's value: aggregates over entities, combined with
    /// arithmetic and rollups without groups.
    Rollup {
        /// `over: entities`: the aggregates read every row of the entity
        /// table, whose attributes are all there is.
        entities: bool,
    },
    /// An entity-table row inside a rollup `over: entities`: attributes
    /// and as-of, nothing computed per scored entity.
    EntityTable,
}

/// Types expressions and collects diagnostics.
pub struct ExprChecker<'a> {
    /// Names.
    pub env: &'a Env,
    /// The pipeline file.
    pub file: &'a Arc<SourceFile>,
    /// Problems found.
    pub diagnostics: &'a mut Vec<Diagnostic>,
}

fn typed(kind: TypedKind, ty: Type, span: Span) -> TypedExpr {
    TypedExpr { kind, ty, span }
}

fn unknown(span: Span) -> TypedExpr {
    typed(TypedKind::Constant(Constant::Null), Type::Unknown, span)
}

fn column_type(column: &ColumnType) -> Type {
    match column {
        ColumnType::Known(t) => *t,
        ColumnType::Unsupported(_) => Type::Unknown,
    }
}

impl ExprChecker<'_> {
    fn error(&mut self, code: Code, span: Span, message: String, label: &str, help: String) {
        self.diagnostics.push(
            Diagnostic::error(code, message)
                .at(self.file, span, label)
                .help(help),
        );
    }

    fn mismatch(&mut self, span: Span, message: String, help: impl Into<String>) {
        self.error(Code::TypeMismatch, span, message, "here", help.into());
    }

    /// Check `expr` in `scope`, expecting `expected` (use `Type::Unknown` for "anything").
    pub fn check_as(
        &mut self,
        expr: &Expr,
        scope: Scope<'_>,
        expected: Type,
        what: &str,
    ) -> TypedExpr {
        let typed = self.check(expr, scope);
        if !typed.ty.fits(expected) {
            self.mismatch(
                expr.span,
                format!(
                    "{what} must be {}, but this is {}",
                    a(expected),
                    a(typed.ty)
                ),
                match expected {
                    Type::Boolean => {
                        "write a condition such as `x > 0` or `segment = 'smb'`".to_string()
                    }
                    Type::Number | Type::Integer => "write an arithmetic expression".to_string(),
                    _ => format!("give a {expected} value"),
                },
            );
        }
        typed
    }

    /// Check an expression in a scope.
    pub fn check(&mut self, expr: &Expr, scope: Scope<'_>) -> TypedExpr {
        let span = expr.span;
        match &expr.kind {
            ExprKind::Literal(literal) => self.literal(literal, span),
            ExprKind::Name(ident) => self.name(ident, scope),
            ExprKind::Attribute { entity, attribute } => self.attribute(entity, attribute, scope),
            ExprKind::Unary { op, operand } => {
                let inner = self.check(operand, scope);
                match op {
                    UnaryOp::Neg => {
                        if !(inner.ty.is_numeric() || inner.ty == Type::Duration) {
                            self.mismatch(
                                span,
                                format!("cannot negate {}", a(inner.ty)),
                                "`-` applies to numbers and durations",
                            );
                        }
                        let ty = inner.ty;
                        typed(TypedKind::Unary(Unary::Neg, Box::new(inner)), ty, span)
                    }
                    UnaryOp::Not => {
                        if !inner.ty.fits(Type::Boolean) {
                            self.mismatch(
                                span,
                                format!("`not` needs a boolean, but this is {}", a(inner.ty)),
                                "`not` applies to conditions",
                            );
                        }
                        typed(
                            TypedKind::Unary(Unary::Not, Box::new(inner)),
                            Type::Boolean,
                            span,
                        )
                    }
                }
            }
            ExprKind::Binary { op, left, right } => {
                let l = self.check(left, scope);
                let r = self.check(right, scope);
                let ty = self.binary_type(*op, &l, &r, span);
                typed(TypedKind::Binary(*op, Box::new(l), Box::new(r)), ty, span)
            }
            ExprKind::IsNull { operand, negated } => {
                let inner = self.check(operand, scope);
                typed(
                    TypedKind::IsNull(Box::new(inner), *negated),
                    Type::Boolean,
                    span,
                )
            }
            ExprKind::InList {
                operand,
                list,
                negated,
            } => {
                let inner = self.check(operand, scope);
                let items: Vec<TypedExpr> = list.iter().map(|e| self.check(e, scope)).collect();
                for item in &items {
                    if inner.ty.unify(item.ty).is_none() {
                        self.mismatch(
                            item.span,
                            format!("cannot compare {} with {}", a(inner.ty), a(item.ty)),
                            "list items must have the tested value's type",
                        );
                    }
                }
                typed(
                    TypedKind::InList(Box::new(inner), items, *negated),
                    Type::Boolean,
                    span,
                )
            }
            ExprKind::Between {
                operand,
                low,
                high,
                negated,
            } => {
                let inner = self.check(operand, scope);
                let lo = self.check(low, scope);
                let hi = self.check(high, scope);
                for bound in [&lo, &hi] {
                    if !comparable(inner.ty, bound.ty) {
                        self.mismatch(
                            bound.span,
                            format!("cannot compare {} with {}", a(inner.ty), a(bound.ty)),
                            "bounds must have the tested value's type",
                        );
                    }
                }
                typed(
                    TypedKind::Between(Box::new(inner), Box::new(lo), Box::new(hi), *negated),
                    Type::Boolean,
                    span,
                )
            }
            ExprKind::Case {
                branches,
                otherwise,
            } => {
                let mut ty = Type::Null;
                let mut typed_branches = Vec::new();
                for (condition, value) in branches {
                    let c = self.check_as(condition, scope, Type::Boolean, "a `when` condition");
                    let v = self.check(value, scope);
                    ty = self.unify_or_report(ty, &v);
                    typed_branches.push((c, v));
                }
                let otherwise = otherwise.as_ref().map(|o| {
                    let v = self.check(o, scope);
                    ty = self.unify_or_report(ty, &v);
                    Box::new(v)
                });
                typed(TypedKind::Case(typed_branches, otherwise), ty, span)
            }
            ExprKind::Call { function, args } => self.call(function, args, scope, span),
            ExprKind::List(items) => {
                self.error(
                    Code::TypeMismatch,
                    span,
                    "a list can only be an argument of `bands` or follow `in`".into(),
                    "list here",
                    "write `x in [a, b]`, or `bands(x, [10, 20], [0, 50, 100])`".into(),
                );
                let items = items.iter().map(|e| self.check(e, scope)).collect();
                typed(TypedKind::List(items), Type::Unknown, span)
            }
        }
    }

    fn unify_or_report(&mut self, so_far: Type, value: &TypedExpr) -> Type {
        match so_far.unify(value.ty) {
            Some(t) => t,
            None => {
                self.mismatch(
                    value.span,
                    format!(
                        "this is {}, but earlier branches give {}",
                        a(value.ty),
                        a(so_far)
                    ),
                    "every branch must give the same type",
                );
                so_far
            }
        }
    }

    fn literal(&mut self, literal: &Literal, span: Span) -> TypedExpr {
        let (constant, ty) = match literal {
            Literal::Integer(i) => (Constant::Integer(*i), Type::Integer),
            Literal::Decimal(d) => (Constant::Number(*d), Type::Number),
            Literal::Percent(p) => (Constant::Number(p / 100.0), Type::Number),
            Literal::String(s) => (Constant::String(s.clone()), Type::String),
            Literal::Boolean(b) => (Constant::Boolean(*b), Type::Boolean),
            Literal::Null => (Constant::Null, Type::Null),
            Literal::Duration(n, unit) => match duration(*n, *unit) {
                Some(seconds) => (Constant::Duration(seconds), Type::Duration),
                None => {
                    self.diagnostics
                        .push(too_long(self.file, span, *n, *unit, "this duration"));
                    return unknown(span);
                }
            },
            Literal::Date(d) => (Constant::Date(*d), Type::Date),
            Literal::Timestamp(t) => (Constant::Timestamp(*t), Type::Timestamp),
        };
        typed(TypedKind::Constant(constant), ty, span)
    }

    fn column(
        &mut self,
        ident: &Ident,
        source: &str,
        schema: Option<&SourceSchema>,
    ) -> Option<TypedExpr> {
        let name = &ident.name;
        match schema {
            Some(schema) => match schema.column(name) {
                Some(column) => {
                    if let ColumnType::Unsupported(t) = column {
                        self.error(
                            Code::SchemaMismatch,
                            ident.span,
                            format!("column `{name}` of `{source}` has type {t}, which expressions cannot use"),
                            "unsupported type",
                            "convert the column to a number, string, boolean, date or timestamp in the data".into(),
                        );
                    }
                    Some(typed(
                        TypedKind::Column(name.clone()),
                        column_type(column),
                        ident.span,
                    ))
                }
                None => None,
            },
            None => Some(typed(
                TypedKind::Column(name.clone()),
                Type::Unknown,
                ident.span,
            )),
        }
    }

    fn name(&mut self, ident: &Ident, scope: Scope<'_>) -> TypedExpr {
        let name = ident.name.as_str();
        let span = ident.span;
        if name == "as_of" {
            return typed(TypedKind::AsOf, Type::Timestamp, span);
        }
        match scope {
            Scope::Row { source, schema } => {
                if let Some(column) = self.column(ident, source, schema) {
                    return column;
                }
                let mut help = suggestion(
                    name,
                    "column",
                    schema.map(|s| s.names()).into_iter().flatten(),
                );
                if self.env.metrics.contains_key(name) {
                    help = format!(
                        "`{name}` is a metric; row conditions can only read columns of `{source}`"
                    );
                }
                self.error(
                    Code::UnknownName,
                    span,
                    format!("source `{source}` has no column `{name}`"),
                    "unknown column",
                    help,
                );
                unknown(span)
            }
            Scope::Aggregate { source, schema } => {
                if self.env.metrics.contains_key(name) {
                    self.error(
                        Code::AggregateContext,
                        span,
                        format!("metric `{name}` is read inside an aggregate metric"),
                        "a metric",
                        "a metric with `from:` aggregates rows; to combine metrics, remove `from:` and make this a derived metric".into(),
                    );
                    return unknown(span);
                }
                if self.column(ident, source, schema).is_some() {
                    self.error(
                        Code::AggregateContext,
                        span,
                        format!("column `{name}` is used outside an aggregate"),
                        "a row value",
                        format!("a metric's value is one number per entity: wrap the column in an aggregate, e.g. `sum({name})` or `max({name})`"),
                    );
                } else {
                    let help = suggestion(
                        name,
                        "column",
                        schema.map(|s| s.names()).into_iter().flatten(),
                    );
                    self.error(
                        Code::UnknownName,
                        span,
                        format!("source `{source}` has no column `{name}`"),
                        "unknown column",
                        help,
                    );
                }
                unknown(span)
            }
            Scope::Rollup { .. } => self.rollup_name(ident),
            Scope::EntityTable => self.entity_table_name(ident),
            Scope::Entity {
                value_metric,
                playbook,
            } => {
                if name == "value"
                    && let Some(metric) = value_metric
                {
                    let ty = self.env.metrics.get(metric).map_or(Type::Unknown, |m| m.ty);
                    return typed(
                        TypedKind::Metric {
                            name: metric.to_string(),
                            shift: Seconds::ZERO,
                        },
                        ty,
                        span,
                    );
                }
                if playbook && (name == "health" || name == "band") {
                    if !self.env.has_health {
                        self.error(
                            Code::UnknownName,
                            span,
                            format!("`{name}` needs a `health:` section"),
                            "no health here",
                            "define `health:` with groups and bands, or remove this condition"
                                .into(),
                        );
                        return unknown(span);
                    }
                    return if name == "health" {
                        typed(TypedKind::Health, Type::Number, span)
                    } else {
                        typed(TypedKind::Band, Type::String, span)
                    };
                }
                if let Some(info) = self.env.metrics.get(name) {
                    return typed(
                        TypedKind::Metric {
                            name: name.to_string(),
                            shift: Seconds::ZERO,
                        },
                        info.ty,
                        span,
                    );
                }
                let specials: &[&str] = if playbook {
                    &["health", "band", "as_of"]
                } else {
                    &["as_of"]
                };
                let candidates = self
                    .env
                    .metrics
                    .keys()
                    .map(String::as_str)
                    .chain(specials.iter().copied());
                let mut help = match crate::diagnostics::closest(name, candidates) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!(
                        "no metric is called `{name}`; a source's columns are read by metrics with `from:`"
                    ),
                };
                if self.env.attributes.contains_key(name) || name == self.env.entity_key {
                    help = format!(
                        "entity attributes are written `{}.{name}`",
                        self.env.entity_name
                    );
                } else if let Some(source) = self.env.all_columns.get(name) {
                    help = format!(
                        "`{name}` is a column of `{source}`; columns are read by metrics with `from: {source}`, then used here by the metric's name"
                    );
                } else if playbook && self.env.indicators.iter().any(|i| i == name) {
                    help = format!("an indicator's score is written `score({name})`");
                }
                if self.env.outcomes.iter().any(|o| o == name) {
                    self.error(
                        Code::OutcomeRead,
                        span,
                        format!("outcome `{name}` is read where scores are computed"),
                        "an outcome",
                        format!(
                            "`{name}` is an outcome: it says what happened after each night, so a score that read it would see the future it is judged on. Outcomes are read by `vane backtest` only"
                        ),
                    );
                    return unknown(span);
                }
                self.error(
                    Code::UnknownName,
                    span,
                    format!("unknown metric `{name}`"),
                    "not defined",
                    help,
                );
                unknown(span)
            }
        }
    }

    /// A name in a rollup's value: another rollup, or an error saying why
    /// a per-entity value needs an aggregate here.
    fn rollup_name(&mut self, ident: &Ident) -> TypedExpr {
        let (name, span) = (ident.name.as_str(), ident.span);
        match self.env.rollups.get(name) {
            Some(false) => return typed(TypedKind::Rollup(name.to_string()), Type::Number, span),
            Some(true) => {
                self.error(
                    Code::AggregateContext,
                    span,
                    format!("rollup `{name}` has groups (`by:`), so it is not one number"),
                    "grouped rollup",
                    "a rollup may read rollups without `by:`; aggregate per group here instead"
                        .into(),
                );
                return unknown(span);
            }
            None => {}
        }
        let per_entity = self.env.metrics.contains_key(name)
            || matches!(name, "health" | "band")
            || self.env.attributes.contains_key(name)
            || name == self.env.entity_key;
        if per_entity {
            self.error(
                Code::AggregateContext,
                span,
                format!("`{name}` is read outside an aggregate in a rollup"),
                "one value per entity",
                format!("a rollup is one number for the book (or a group): aggregate it over the entities, e.g. `avg({name})`, `sum({name})` or `count_if({name} is not null)`"),
            );
            return unknown(span);
        }
        if self.row_column(ident) {
            return unknown(span);
        }
        let help = suggestion(name, "rollup", self.env.rollups.keys().map(String::as_str));
        self.error(
            Code::UnknownName,
            span,
            format!("unknown rollup `{name}`"),
            "not defined",
            help,
        );
        unknown(span)
    }

    /// A name inside an aggregate of a rollup `over: entities`: only the
    /// entity table's attributes exist there.
    fn entity_table_name(&mut self, ident: &Ident) -> TypedExpr {
        let (name, span) = (ident.name.as_str(), ident.span);
        let entity = &self.env.entity_name;
        if self.env.metrics.contains_key(name) || matches!(name, "health" | "band") {
            self.error(
                Code::AggregateContext,
                span,
                format!("`{name}` is read by a rollup `over: entities`"),
                "computed for scored entities only",
                format!("`over: entities` reads every row of the entity table, and metrics, `health` and `band` exist only for the scored ones: read `{entity}.<attribute>`s here, or remove `over: entities` to aggregate over the population"),
            );
            return unknown(span);
        }
        if self.env.attributes.contains_key(name) || name == self.env.entity_key {
            self.error(
                Code::UnknownName,
                span,
                format!("unknown name `{name}`"),
                "an attribute?",
                format!("entity attributes are written `{entity}.{name}`"),
            );
            return unknown(span);
        }
        if self.row_column(ident) {
            return unknown(span);
        }
        self.error(
            Code::UnknownName,
            span,
            format!("unknown name `{name}`"),
            "not defined",
            format!("a rollup `over: entities` reads the entity's attributes, written `{entity}.<attribute>`"),
        );
        unknown(span)
    }

    /// Report a source column read by a rollup (which sees entities, not
    /// rows); whether `ident` was one.
    fn row_column(&mut self, ident: &Ident) -> bool {
        let Some(source) = self.env.all_columns.get(&ident.name) else {
            return false;
        };
        let name = &ident.name;
        self.error(
            Code::AggregateContext,
            ident.span,
            format!("`{name}` is a column of `{source}`, read by a rollup"),
            "a row column",
            format!("rollups aggregate entities, not source rows: compute it per entity in a metric with `from: {source}`, then aggregate that metric here"),
        );
        true
    }

    fn attribute(&mut self, entity: &Ident, attribute: &Ident, scope: Scope<'_>) -> TypedExpr {
        let span = entity.span.to(attribute.span);
        if entity.name != self.env.entity_name {
            let help = if self.env.entity_name.is_empty() {
                "define `entity:` with a name first".to_string()
            } else {
                format!("the entity is called `{}`", self.env.entity_name)
            };
            self.error(
                Code::UnknownName,
                entity.span,
                format!("unknown entity `{}`", entity.name),
                "not the entity",
                help,
            );
            return unknown(span);
        }
        if let Scope::Row { source, .. } | Scope::Aggregate { source, .. } = scope {
            let help = if self.env.entity_source == source {
                format!(
                    "the population filter reads the entity table's columns by name: write `{}`",
                    attribute.name
                )
            } else {
                "row filters and aggregates read the source's own columns; combine metrics with attributes in a derived metric".to_string()
            };
            self.error(
                Code::AggregateContext,
                span,
                format!(
                    "entity attribute `{}.{}` is read in a row expression",
                    entity.name, attribute.name
                ),
                "entity attribute",
                help,
            );
            return unknown(span);
        }
        if let Scope::Rollup { .. } = scope {
            let written = format!("{}.{}", entity.name, attribute.name);
            self.error(
                Code::AggregateContext,
                span,
                format!("`{written}` is read outside an aggregate in a rollup"),
                "one value per entity",
                format!("a rollup is one number for the book (or a group): aggregate the attribute, e.g. `sum({written})`, or group by it with `by: [{}]`", attribute.name),
            );
            return unknown(span);
        }
        let name = attribute.name.as_str();
        if name == self.env.entity_key {
            let ty = self
                .env
                .entity_schema
                .as_ref()
                .and_then(|s| s.column(name))
                .map_or(Type::Unknown, column_type);
            return typed(TypedKind::EntityKey, ty, span);
        }
        if let Some(ty) = self.env.attributes.get(name) {
            return typed(TypedKind::Attribute(name.to_string()), *ty, span);
        }
        let in_table = self
            .env
            .entity_schema
            .as_ref()
            .is_some_and(|s| s.column(name).is_some());
        let help = if in_table {
            format!("`{name}` is a column of the entity table; add it to `entity.attributes`")
        } else {
            suggestion(
                name,
                "attribute",
                self.env.attributes.keys().map(String::as_str),
            )
        };
        self.error(
            Code::UnknownName,
            attribute.span,
            format!("`{}` has no attribute `{name}`", self.env.entity_name),
            "unknown attribute",
            help,
        );
        unknown(span)
    }

    fn binary_type(&mut self, op: BinaryOp, l: &TypedExpr, r: &TypedExpr, span: Span) -> Type {
        use Type::*;
        let (ta, tb) = (l.ty, r.ty);
        let flexible = ta.is_flexible() || tb.is_flexible();
        match op {
            BinaryOp::And | BinaryOp::Or => {
                for side in [l, r] {
                    if !side.ty.fits(Boolean) {
                        self.mismatch(
                            side.span,
                            format!(
                                "`{}` needs conditions, but this is {}",
                                op.symbol(),
                                a(side.ty)
                            ),
                            "compare values first, e.g. `x > 0`",
                        );
                    }
                }
                Boolean
            }
            _ if op.is_comparison() => {
                if !comparable(ta, tb) {
                    self.mismatch(
                        span,
                        format!("cannot compare {} with {}", a(ta), a(tb)),
                        comparison_hint(ta, tb),
                    );
                }
                Boolean
            }
            BinaryOp::Div => {
                match (ta, tb) {
                    _ if ta.is_numeric() && tb.is_numeric() => {}
                    (Duration, Duration) => {}
                    _ if flexible && (ta == Duration || tb == Duration) => {}
                    _ => self.mismatch(
                        span,
                        format!("cannot divide {} by {}", a(ta), a(tb)),
                        arithmetic_hint(ta, tb),
                    ),
                }
                Number
            }
            BinaryOp::Mul => match (ta, tb) {
                (Integer, Integer) => Integer,
                (Duration, x) | (x, Duration) if x.is_numeric() => Duration,
                _ if ta.is_numeric() && tb.is_numeric() => {
                    if flexible {
                        Unknown
                    } else {
                        Number
                    }
                }
                _ => {
                    self.mismatch(
                        span,
                        format!("cannot multiply {} by {}", a(ta), a(tb)),
                        arithmetic_hint(ta, tb),
                    );
                    Unknown
                }
            },
            BinaryOp::Add | BinaryOp::Sub => match (ta, tb) {
                (Integer, Integer) => Integer,
                (Timestamp | Date, Duration) => Timestamp,
                (Duration, Timestamp | Date) if op == BinaryOp::Add => Timestamp,
                (Timestamp | Date, Timestamp | Date) if op == BinaryOp::Sub => Duration,
                (Duration, Duration) => Duration,
                _ if flexible => {
                    if ta.is_temporal()
                        && tb.is_temporal()
                        && !(ta.is_flexible() && tb.is_flexible())
                        && op == BinaryOp::Sub
                    {
                        Duration
                    } else if (ta == Duration || tb == Duration)
                        && (ta.is_temporal() || tb.is_temporal())
                    {
                        Timestamp
                    } else if ta == Duration || tb == Duration {
                        Duration
                    } else if ta == Number || tb == Number {
                        Number
                    } else {
                        Unknown
                    }
                }
                _ if ta.is_numeric() && tb.is_numeric() => Number,
                _ => {
                    self.mismatch(
                        span,
                        format!(
                            "cannot {} {} and {}",
                            if op == BinaryOp::Add {
                                "add"
                            } else {
                                "subtract"
                            },
                            a(ta),
                            a(tb)
                        ),
                        arithmetic_hint(ta, tb),
                    );
                    Unknown
                }
            },
            _ => Unknown,
        }
    }

    /// Check a call's argument count against its declaration.
    fn arity(&mut self, function: &Ident, def: &FunctionDef, args: &[Expr]) -> bool {
        let (n, min, max) = (args.len(), def.min_args(), def.max_args());
        if n < min || n > max {
            let expected = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            self.error(
                Code::WrongArity,
                function.span,
                format!(
                    "`{}` takes {expected} argument{}, but {n} {} given",
                    function.name,
                    if expected == "1" { "" } else { "s" },
                    if n == 1 { "was" } else { "were" }
                ),
                "this call",
                format!("usage: {}", def.usage),
            );
            return false;
        }
        true
    }

    fn expect_arg(&mut self, arg: &TypedExpr, ok: bool, function: &str, wanted: &str) {
        if !ok {
            let column = match &arg.kind {
                TypedKind::Column(name) | TypedKind::Attribute(name) => Some(name),
                _ => None,
            };
            let wanted_type = match wanted {
                "a number" => Some(Type::Number),
                "a date or timestamp" | "a timestamp" => Some(Type::Timestamp),
                _ => None,
            };
            let advice = column
                .zip(wanted_type)
                .and_then(|(name, w)| super::columns::declare_advice(name, arg.ty, w));
            self.mismatch(
                arg.span,
                format!(
                    "`{function}` needs {wanted} here, but this is {}",
                    a(arg.ty)
                ),
                advice.unwrap_or_else(|| format!("see `{function}` in docs/language.md")),
            );
        }
    }

    fn constant_number(&mut self, arg: &TypedExpr, function: &str) -> Option<f64> {
        match &arg.kind {
            TypedKind::Constant(Constant::Integer(i)) => Some(*i as f64),
            TypedKind::Constant(Constant::Number(n)) => Some(*n),
            TypedKind::Unary(Unary::Neg, inner) => {
                self.constant_number(inner, function).map(|v| -v)
            }
            _ => {
                self.mismatch(
                    arg.span,
                    format!("`{function}` needs a constant number here"),
                    "write a literal such as `0.9` or `90%`",
                );
                None
            }
        }
    }

    fn call(&mut self, function: &Ident, args: &[Expr], scope: Scope<'_>, span: Span) -> TypedExpr {
        let Some(def) = functions::lookup(&function.name) else {
            let name = function.name.to_ascii_lowercase();
            self.error(
                Code::UnknownFunction,
                function.span,
                format!("unknown function `{}`", function.name),
                "not a function",
                suggestion(&name, "function", functions::names()),
            );
            for arg in args {
                self.check(arg, scope);
            }
            return unknown(span);
        };
        match def.kind {
            Kind::Aggregate(aggregate, conditional) => {
                self.aggregate(function, def, aggregate, conditional, args, scope, span)
            }
            Kind::Previous | Kind::Scalar(Function::Change) => {
                self.time_shift(function, def, args, scope, span)
            }
            Kind::Score => self.score_ref(function, def, args, scope, span),
            Kind::Scalar(Function::Target | Function::Attainment) => {
                self.target_call(function, def, args, scope, span)
            }
            Kind::Scalar(Function::Bands) => self.bands(function, def, args, scope, span),
            Kind::Scalar(scalar) => self.scalar(function, def, scalar, args, scope, span),
        }
    }

    /// A scalar function checked by its declaration alone: argument
    /// count, each argument's type, and the declared result type.
    fn scalar(
        &mut self,
        function: &Ident,
        def: &FunctionDef,
        scalar: Function,
        args: &[Expr],
        scope: Scope<'_>,
        span: Span,
    ) -> TypedExpr {
        let typed_args: Vec<TypedExpr> = args.iter().map(|a| self.check(a, scope)).collect();
        if !self.arity(function, def, args) {
            return unknown(span);
        }
        if !allowed(def.place, scope) {
            let name = def.name;
            self.error(
                Code::AggregateContext,
                function.span,
                format!("`{name}` works per entity and cannot be used on rows"),
                "here",
                "use it in a derived metric, a score or a playbook message".into(),
            );
            return unknown(span);
        }
        for (position, arg) in typed_args.iter().enumerate() {
            match def.param(position) {
                Param::Any => {}
                Param::Digits => {
                    if !matches!(arg.kind, TypedKind::Constant(Constant::Integer(0..=15))) {
                        self.mismatch(
                            arg.span,
                            format!("`{}` needs {}", def.name, Param::Digits.wanted()),
                            "write e.g. `round(x, 1)`",
                        );
                    }
                }
                param => self.expect_arg(arg, param.accepts(arg.ty), def.name, param.wanted()),
            }
        }
        if scalar == Function::Ramp
            && let (Some(a), Some(b)) = (
                constant_value(&typed_args[1]),
                constant_value(&typed_args[2]),
            )
            && a == b
        {
            self.mismatch(
                typed_args[2].span,
                "`ramp` needs two different points".into(),
                "the score goes from 0 at the first point to 100 at the second",
            );
        }
        let ty = self.result_type(def, &typed_args);
        typed(TypedKind::Call(scalar, typed_args), ty, span)
    }

    /// The type a call returns, as its declaration says; reports arguments
    /// that have no common type.
    fn result_type(&mut self, def: &FunctionDef, args: &[TypedExpr]) -> Type {
        let first = args.first().map_or(Type::Unknown, |a| a.ty);
        match def.returns {
            Returns::Fixed(ty) => ty,
            Returns::Numeric { keep_unknown } => match first {
                Type::Integer => Type::Integer,
                Type::Unknown if keep_unknown => Type::Unknown,
                _ => Type::Number,
            },
            Returns::First => first,
            Returns::Common(from) => {
                let mut ty = Type::Null;
                for arg in args.iter().skip(from) {
                    ty = self.unify_or_report(ty, arg);
                }
                ty
            }
            Returns::MetricType => first,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn aggregate(
        &mut self,
        function: &Ident,
        def: &FunctionDef,
        aggregate: Aggregate,
        conditional: bool,
        args: &[Expr],
        scope: Scope<'_>,
        span: Span,
    ) -> TypedExpr {
        let name = def.name;
        let row = match scope {
            Scope::Aggregate { source, schema } => Scope::Row { source, schema },
            Scope::Rollup { entities: true } => Scope::EntityTable,
            Scope::Rollup { entities: false } => Scope::Entity {
                value_metric: None,
                playbook: true,
            },
            Scope::Row { .. } | Scope::EntityTable => {
                self.error(
                    Code::AggregateContext,
                    function.span,
                    format!("aggregate `{name}` is used where a row value is expected"),
                    "aggregate",
                    "a row condition or an aggregate's argument looks at one row; aggregates cannot nest".into(),
                );
                return unknown(span);
            }
            Scope::Entity { .. } => {
                self.error(
                    Code::AggregateContext,
                    function.span,
                    format!("aggregate `{name}` is used outside a metric with `from:`"),
                    "aggregate",
                    "aggregates read a source's rows: define a metric with `from: <source>` and use it here by name".into(),
                );
                return unknown(span);
            }
        };
        if !self.arity(function, def, args) {
            return unknown(span);
        }
        let (value_args, filter) = if conditional {
            let filter = self.check_as(&args[args.len() - 1], row, Type::Boolean, "the condition");
            (&args[..args.len() - 1], Some(Box::new(filter)))
        } else {
            (args, None)
        };
        let mut typed_args: Vec<TypedExpr> =
            value_args.iter().map(|a| self.check(a, row)).collect();
        // Messages name the aggregate itself (`sum`), also for its `_if` form.
        let base = aggregate.name();
        for (position, arg) in typed_args.iter_mut().enumerate() {
            match def.param(position) {
                Param::Any | Param::RowCondition => {}
                Param::Fraction => {
                    if let Some(p) = self.constant_number(arg, base)
                        && !(0.0..=1.0).contains(&p)
                    {
                        self.mismatch(
                            arg.span,
                            format!("{base} {p} is outside 0–1"),
                            "write e.g. `0.9` or `90%`",
                        );
                    }
                    if let Some(p) = constant_value(arg) {
                        *arg = typed(
                            TypedKind::Constant(Constant::Number(p)),
                            Type::Number,
                            arg.span,
                        );
                    }
                }
                param => self.expect_arg(arg, param.accepts(arg.ty), base, param.wanted()),
            }
        }
        let ty = self.result_type(def, &typed_args);
        typed(
            TypedKind::Aggregate {
                function: aggregate,
                args: typed_args,
                filter,
            },
            ty,
            span,
        )
    }

    fn time_shift(
        &mut self,
        function: &Ident,
        def: &FunctionDef,
        args: &[Expr],
        scope: Scope<'_>,
        span: Span,
    ) -> TypedExpr {
        let name = def.name;
        if !self.arity(function, def, args) {
            return unknown(span);
        }
        if !allowed(def.place, scope) {
            self.error(
                Code::AggregateContext,
                function.span,
                format!("`{name}` compares a metric over time and needs a metric, not rows"),
                "here",
                "use it in a derived metric, a score or a playbook condition".into(),
            );
            return unknown(span);
        }
        let metric = self.check(&args[0], scope);
        let TypedKind::Metric {
            name: metric_name,
            shift,
        } = &metric.kind
        else {
            // An unknown name was reported already; anything else is not a metric.
            let already_reported = metric.ty == Type::Unknown
                && matches!(metric.kind, TypedKind::Constant(Constant::Null));
            if !already_reported {
                self.mismatch(
                    args[0].span,
                    format!("`{name}` needs a metric's name here"),
                    format!("write e.g. `{name}(active_users)`; attributes and expressions have no history"),
                );
            }
            return unknown(span);
        };
        let info = self.env.metrics.get(metric_name);
        let period = if args.len() == 2 {
            let period = self.check(&args[1], scope);
            match period.kind {
                TypedKind::Constant(Constant::Duration(seconds)) if seconds > Seconds::ZERO => {
                    Some(seconds)
                }
                _ => {
                    self.mismatch(
                        args[1].span,
                        format!("`{name}` needs a positive duration literal here"),
                        "write e.g. `30d`",
                    );
                    return unknown(span);
                }
            }
        } else {
            info.and_then(|i| i.window)
        };
        let Some(period) = period else {
            self.error(
                Code::TypeMismatch,
                args[0].span,
                format!(
                    "`{metric_name}` has no window, so `{name}` cannot tell how far back to look"
                ),
                "no window",
                format!("give the period: `{name}({metric_name}, 30d)`"),
            );
            return unknown(span);
        };
        let ty = metric.ty;
        let Some(shift) = shift.checked_add(period) else {
            self.diagnostics.push(
                Diagnostic::error(
                    Code::InvalidLiteral,
                    format!("`{name}` reaches further back than a timestamp can"),
                )
                .at(self.file, span, "too far back")
                .help(RANGE_HELP),
            );
            return unknown(span);
        };
        let earlier = typed(
            TypedKind::Metric {
                name: metric_name.clone(),
                shift,
            },
            ty,
            metric.span,
        );
        if def.kind == Kind::Previous {
            return typed(earlier.kind, ty, span);
        }
        if !ty.is_numeric() {
            self.mismatch(
                args[0].span,
                format!(
                    "`change` needs a numeric metric, but `{metric_name}` is {}",
                    a(ty)
                ),
                "compare numbers",
            );
        }
        typed(
            TypedKind::Call(Function::Change, vec![metric, earlier]),
            Type::Number,
            span,
        )
    }

    fn score_ref(
        &mut self,
        function: &Ident,
        def: &FunctionDef,
        args: &[Expr],
        scope: Scope<'_>,
        span: Span,
    ) -> TypedExpr {
        if !self.arity(function, def, args) {
            return unknown(span);
        }
        if !allowed(def.place, scope) {
            self.error(Code::UnknownFunction, function.span, "`score` is only available in playbooks".into(), "here", "indicator scores exist after scoring; read them in playbook conditions and messages".into());
            return unknown(span);
        }
        let ExprKind::Name(ident) = &args[0].kind else {
            self.mismatch(
                args[0].span,
                "`score` needs an indicator's name".into(),
                "write e.g. `score(seat_utilization)`",
            );
            return unknown(span);
        };
        if !self.env.indicators.contains(&ident.name) {
            let help = suggestion(
                &ident.name,
                "indicator",
                self.env.indicators.iter().map(String::as_str),
            );
            self.error(
                Code::UnknownName,
                ident.span,
                format!("unknown indicator `{}`", ident.name),
                "not an indicator",
                help,
            );
            return unknown(span);
        }
        typed(
            TypedKind::IndicatorScore(ident.name.clone()),
            Type::Number,
            span,
        )
    }

    fn target_call(
        &mut self,
        function: &Ident,
        def: &FunctionDef,
        args: &[Expr],
        scope: Scope<'_>,
        span: Span,
    ) -> TypedExpr {
        let (name, usage) = (def.name, def.usage);
        if !self.arity(function, def, args) {
            return unknown(span);
        }
        let typed_args: Vec<TypedExpr> = args.iter().map(|a| self.check(a, scope)).collect();
        if !allowed(def.place, scope) {
            self.error(
                Code::AggregateContext,
                function.span,
                format!("`{name}` reads per-entity targets and cannot be used on rows"),
                "here",
                "use it in a derived metric, a score or a playbook".into(),
            );
            return unknown(span);
        }
        if let Scope::EntityTable = scope {
            self.error(
                Code::AggregateContext,
                function.span,
                format!("`{name}` is read by a rollup `over: entities`"),
                "targets are joined to scored entities only",
                "remove `over: entities` to aggregate over the population".into(),
            );
            return unknown(span);
        }
        if !self.env.has_targets {
            self.error(
                Code::UnknownName,
                function.span,
                format!("`{name}` needs a `targets:` section"),
                "no targets",
                "add `targets:` naming the source of per-entity KPI targets".into(),
            );
        }
        let kpi = &typed_args[typed_args.len() - 1];
        if !matches!(kpi.kind, TypedKind::Constant(Constant::String(_))) {
            self.mismatch(
                kpi.span,
                format!("`{name}` needs the KPI's name as a quoted string"),
                format!("write e.g. `{usage}`"),
            );
        }
        if name == "attainment" {
            self.expect_arg(
                &typed_args[0],
                typed_args[0].ty.is_numeric(),
                name,
                "a number",
            );
        }
        let func = if name == "target" {
            Function::Target
        } else {
            Function::Attainment
        };
        typed(TypedKind::Call(func, typed_args), Type::Number, span)
    }

    fn bands(
        &mut self,
        function: &Ident,
        def: &FunctionDef,
        args: &[Expr],
        scope: Scope<'_>,
        span: Span,
    ) -> TypedExpr {
        let usage = def.usage;
        if !self.arity(function, def, args) {
            return unknown(span);
        }
        let value = self.check(&args[0], scope);
        self.expect_arg(&value, value.ty.is_numeric(), "bands", "a number");
        let mut lists = Vec::new();
        for arg in &args[1..] {
            let ExprKind::List(items) = &arg.kind else {
                self.mismatch(
                    arg.span,
                    "`bands` needs a list of numbers here".into(),
                    format!("usage: {usage}"),
                );
                return unknown(span);
            };
            let mut numbers = Vec::new();
            for item in items {
                let t = self.check(item, scope);
                if let Some(v) = self.constant_number(&t, "bands") {
                    numbers.push(typed(
                        TypedKind::Constant(Constant::Number(v)),
                        Type::Number,
                        t.span,
                    ));
                }
            }
            if numbers.len() != items.len() {
                return unknown(span);
            }
            lists.push((arg.span, numbers));
        }
        let (thresholds_span, thresholds) = &lists[0];
        let (scores_span, scores) = &lists[1];
        if scores.len() != thresholds.len() + 1 {
            self.mismatch(
                *scores_span,
                format!(
                    "`bands` with {} thresholds needs {} scores, but has {}",
                    thresholds.len(),
                    thresholds.len() + 1,
                    scores.len()
                ),
                "one score below the first threshold, then one per threshold",
            );
        }
        let values: Vec<f64> = thresholds.iter().filter_map(constant_value).collect();
        if values.windows(2).any(|w| w[0] >= w[1]) {
            self.mismatch(
                *thresholds_span,
                "`bands` thresholds must increase".into(),
                "list thresholds from lowest to highest",
            );
        }
        let args = vec![
            value,
            typed(
                TypedKind::List(thresholds.clone()),
                Type::Number,
                *thresholds_span,
            ),
            typed(TypedKind::List(scores.clone()), Type::Number, *scores_span),
        ];
        typed(TypedKind::Call(Function::Bands, args), Type::Number, span)
    }
}

/// What a duration must fit in, for messages.
const RANGE_HELP: &str = "durations and time shifts must stay within about 292,000 years (the range of a timestamp in microseconds)";

/// `n` units as a duration, when it fits the engine's timestamps.
pub(super) fn duration(n: i64, unit: DurationUnit) -> Option<Seconds> {
    Seconds::of(n, unit.seconds())
}

/// The error for a duration that does not fit.
pub(super) fn too_long(
    file: &Arc<SourceFile>,
    span: Span,
    n: i64,
    unit: DurationUnit,
    what: &str,
) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidLiteral,
        format!("{what} (`{n}{}`) is too long", unit.suffix()),
    )
    .at(file, span, "too long")
    .help(RANGE_HELP)
}

/// Whether a function declared for `place` may be called in `scope`.
fn allowed(place: Place, scope: Scope<'_>) -> bool {
    match place {
        Place::Anywhere => true,
        Place::Aggregate => matches!(scope, Scope::Aggregate { .. } | Scope::Rollup { .. }),
        Place::Entity => matches!(scope, Scope::Entity { .. } | Scope::EntityTable),
        Place::Playbook => matches!(scope, Scope::Entity { playbook: true, .. }),
    }
}

/// A type's name with its article: "a number", "an integer".
pub(super) fn a(ty: Type) -> String {
    ty.with_article()
}

/// A constant number's value (percentages already scaled).
pub fn constant_value(expr: &TypedExpr) -> Option<f64> {
    match &expr.kind {
        TypedKind::Constant(Constant::Integer(i)) => Some(*i as f64),
        TypedKind::Constant(Constant::Number(n)) => Some(*n),
        TypedKind::Unary(Unary::Neg, inner) => constant_value(inner).map(|v| -v),
        _ => None,
    }
}

fn comparable(a: Type, b: Type) -> bool {
    a.unify(b).is_some()
}

fn comparison_hint(a: Type, b: Type) -> String {
    if (a == Type::String && b.is_temporal()) || (b == Type::String && a.is_temporal()) {
        "write dates as `@2026-01-31`, not as strings".into()
    } else if (a == Type::Duration && b.is_numeric()) || (b == Type::Duration && a.is_numeric()) {
        "compare durations with durations (`30d`), or convert with `days(...)`".into()
    } else {
        "both sides must have the same type".into()
    }
}

fn arithmetic_hint(a: Type, b: Type) -> String {
    if a.is_temporal() && b.is_temporal() {
        "to get days between two dates use `days_between(start, end)`".into()
    } else if a == Type::String || b == Type::String {
        "arithmetic needs numbers; text cannot be added or multiplied".into()
    } else if a.is_temporal() || b.is_temporal() {
        "a date plus a duration (`30d`) is a date; dates cannot be multiplied or added together"
            .into()
    } else {
        "arithmetic needs numbers".into()
    }
}
