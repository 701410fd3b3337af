//! `outcomes:` — what happened to entities afterwards (a churn, a
//! contraction), for backtests. An outcome comes from a source's rows (at
//! the source's time column, filtered by `where:`, optionally valued by an
//! aggregate) or from an entity date attribute, and counts for a night
//! when it happens within `horizon` after it. Nothing that scores may read
//! an outcome: that would let the score see the future it is judged on.

use super::Checker;
use super::exprs::{Env, ExprChecker, Scope};
use super::model::{Outcome, OutcomeKind, Source, TypedKind};
use crate::base::types::Type;
use crate::base::units::Seconds;
use crate::diagnostics::{Code, suggestion};
use crate::syntax::ast::OutcomeDef;
use crate::syntax::expr::{ExprKind, Literal};
use crate::syntax::print::print;

impl Checker<'_> {
    /// Check every outcome; also names them in `env`, so that a metric,
    /// indicator or playbook reading one is told why it may not.
    pub(super) fn outcomes(&mut self, sources: &[Source], env: &Env) -> Vec<Outcome> {
        let mut out = Vec::new();
        for def in &self.pipeline.outcomes {
            let taken = env.metrics.contains_key(&def.name.value)
                || env.indicators.contains(&def.name.value);
            if taken {
                self.error(
                    Code::DuplicateName,
                    def.name.span,
                    format!(
                        "outcome `{}` has the name of a metric or indicator",
                        def.name.value
                    ),
                    "name taken",
                    "give the outcome its own name, e.g. `churned`".into(),
                );
            }
            if let Some(outcome) = self.outcome(def, sources, env) {
                out.push(outcome);
            }
        }
        out
    }

    fn outcome(&mut self, def: &OutcomeDef, sources: &[Source], env: &Env) -> Option<Outcome> {
        let horizon = self.horizon(def);
        let kind = match (&def.from, &def.at) {
            (Some(_), Some(at)) => {
                self.error(
                    Code::InvalidValue,
                    at.span,
                    format!("outcome `{}` has both `from` and `at`", def.name.value),
                    "one or the other",
                    "an outcome is the rows of a source (`from`, `where`) or an entity date attribute (`at`), not both".into(),
                );
                None
            }
            (None, None) => {
                self.error(
                    Code::MissingKey,
                    def.name.span,
                    format!("outcome `{}` says neither `from` nor `at`", def.name.value),
                    "no outcome",
                    "write `from: <source>` with `where: <condition>`, or `at: <entity>.<date attribute>`".into(),
                );
                None
            }
            (Some(from), None) => {
                let source = &sources[self.source_ref(sources, from)?];
                self.rows(def, source, env)
            }
            (None, Some(at)) => {
                for (key, expr) in [("where", &def.filter), ("value", &def.value)] {
                    if let Some(expr) = expr {
                        self.error(
                            Code::InvalidValue,
                            expr.span,
                            format!("`{key}` applies to outcomes read `from` a source"),
                            "not with `at`",
                            format!("remove `{key}:`, or read the outcome from a source's rows with `from:`"),
                        );
                    }
                }
                self.attribute(at, env)
            }
        };
        Some(Outcome {
            name: def.name.value.clone(),
            about: def.about.clone(),
            kind: kind?,
            horizon: horizon?,
            span: def.name.span,
        })
    }

    fn horizon(&mut self, def: &OutcomeDef) -> Option<Seconds> {
        let horizon = def.horizon.as_ref()?;
        match &horizon.kind {
            ExprKind::Literal(Literal::Duration(n, unit)) if *n > 0 => {
                let seconds = self.duration(*n, *unit, horizon.span, "this horizon")?;
                if seconds.get() % 86_400 != 0 {
                    self.error(
                        Code::InvalidValue,
                        horizon.span,
                        "a horizon is a whole number of days".into(),
                        "not whole days",
                        "nights are dates, so horizons are too: write days or weeks, e.g. `90d` or `12w`".into(),
                    );
                    return None;
                }
                Some(seconds)
            }
            _ => {
                self.error(
                    Code::TypeMismatch,
                    horizon.span,
                    "a horizon must be a positive duration such as `90d`".into(),
                    "not a positive duration",
                    "units: w (weeks), d (days), h (hours), min, s".into(),
                );
                None
            }
        }
    }

    fn rows(&mut self, def: &OutcomeDef, source: &Source, env: &Env) -> Option<OutcomeKind> {
        if source.time.is_none() {
            let span = def.from.as_ref().map_or(def.name.span, |f| f.span);
            self.error(
                Code::MissingKey,
                span,
                format!(
                    "source `{}` has no `time` column, so its rows have no date",
                    source.name
                ),
                "no time",
                format!("add `time: <column>` to source `{}`", source.name),
            );
            return None;
        }
        let from = def.from.as_ref().map_or(def.name.span, |f| f.span);
        let (filter, value) =
            self.source_rows(env, source, from, def.filter.as_ref(), def.value.as_ref());
        if let (Some(v), Some((typed, has_aggregate))) = (&def.value, &value)
            && typed.ty != Type::Unknown
            && (!has_aggregate || !typed.ty.is_numeric())
        {
            self.error(
                Code::AggregateContext,
                v.span,
                format!(
                    "outcome `{}`'s value must be a numeric aggregate",
                    def.name.value
                ),
                "not a numeric aggregate",
                "value the outcome's rows with an aggregate such as `sum(amount_usd)`".into(),
            );
        }
        Some(OutcomeKind::Rows {
            source: source.name.clone(),
            filter,
            filter_text: def.filter.as_ref().map(print),
            value_text: def.value.as_ref().map(print),
            value: value.map(|(typed, _)| typed),
        })
    }

    fn attribute(&mut self, at: &crate::syntax::expr::Expr, env: &Env) -> Option<OutcomeKind> {
        let mut checker = ExprChecker {
            env,
            file: &self.file,
            diagnostics: &mut self.diagnostics,
        };
        let typed = checker.check(
            at,
            Scope::Entity {
                value_metric: None,
                playbook: false,
            },
        );
        match (&typed.kind, typed.ty) {
            (
                TypedKind::Attribute(name),
                Type::Timestamp | Type::Date | Type::Null | Type::Unknown,
            ) => Some(OutcomeKind::Attribute(name.clone())),
            (_, Type::Unknown) => None,
            _ => {
                let attributes: Vec<String> = env
                    .attributes
                    .iter()
                    .filter(|(_, t)| matches!(t, Type::Timestamp | Type::Date))
                    .map(|(a, _)| format!("{}.{a}", env.entity_name))
                    .collect();
                let help = suggestion(
                    &print(at),
                    "date attribute",
                    attributes.iter().map(String::as_str),
                );
                self.error(
                    Code::TypeMismatch,
                    at.span,
                    "`at` must be an entity date or timestamp attribute".into(),
                    "not an entity date",
                    format!(
                        "{help}; list the attribute under `entity.attributes` and write `{}.<attribute>`",
                        env.entity_name
                    ),
                );
                None
            }
        }
    }
}
