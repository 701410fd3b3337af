//! `rollups:` — book-level numbers per night: aggregates over the scored
//! entities (or every row of the entity table), for the whole book or per
//! group of an attribute or the band, combined with arithmetic and with
//! other rollups that are one number.

use std::collections::{BTreeMap, BTreeSet};

use super::Checker;
use super::exprs::{Env, Scope};
use super::model::{Rollup, RollupOver};
use crate::base::names;
use crate::base::types::Type;
use crate::diagnostics::{Code, suggestion};
use crate::syntax::ast::RollupDef;
use crate::syntax::print::print;

/// Columns of the rollups file besides the groups: a group may not take
/// their names.
const FIXED_COLUMNS: [&str; 3] = [names::AS_OF_DATE, "rollup", "value"];

impl Checker<'_> {
    /// Check every rollup (in file order); rollups that read each other in
    /// a cycle are reported and left out.
    pub(super) fn rollups(&mut self, env: &mut Env) -> Vec<Rollup> {
        env.rollups = self
            .pipeline
            .rollups
            .iter()
            .map(|r| (r.name.value.clone(), !r.by.is_empty()))
            .collect();
        let checked: Vec<Rollup> = self
            .pipeline
            .rollups
            .iter()
            .filter_map(|def| self.rollup(def, env))
            .collect();
        self.without_cycles(checked)
    }

    fn rollup(&mut self, def: &RollupDef, env: &Env) -> Option<Rollup> {
        let over = match def.over.as_ref().map(|o| o.value.as_str()) {
            Some("entities") => RollupOver::Entities,
            _ => RollupOver::Population,
        };
        let by = self.groups(def, over, env);
        let value = def.value.as_ref()?;
        let scope = Scope::Rollup {
            entities: over == RollupOver::Entities,
        };
        let typed = self.typed(env, value, scope, Type::Number, "a rollup's value");
        Some(Rollup {
            name: def.name.value.clone(),
            about: def.about.clone(),
            over,
            by: by?,
            value: typed,
            value_text: print(value),
            unit: def.unit.as_ref().map(|u| u.value.clone()),
            span: def.name.span,
        })
    }

    /// The `by:` names: each an entity attribute, or `band` over the
    /// population; none twice, none named like a fixed column.
    fn groups(&mut self, def: &RollupDef, over: RollupOver, env: &Env) -> Option<Vec<String>> {
        let mut ok = true;
        let mut seen = BTreeSet::new();
        for group in &def.by {
            let name = group.value.as_str();
            if !seen.insert(name) {
                self.error(
                    Code::DuplicateName,
                    group.span,
                    format!("rollup `{}` groups by `{name}` twice", def.name.value),
                    "second time",
                    "remove one of them".into(),
                );
                ok = false;
                continue;
            }
            if FIXED_COLUMNS.contains(&name) {
                self.error(
                    Code::DuplicateName,
                    group.span,
                    format!("a rollup cannot group by `{name}`"),
                    "a column of the rollups file",
                    format!(
                        "the rollups file has the columns {} beside the groups; rename the attribute in the entity table",
                        FIXED_COLUMNS.map(|c| format!("`{c}`")).join(", ")
                    ),
                );
                ok = false;
                continue;
            }
            let is_attribute = env.attributes.contains_key(name) || name == env.entity_key;
            if name == "band" && !is_attribute {
                if over == RollupOver::Entities {
                    self.error(
                        Code::AggregateContext,
                        group.span,
                        format!(
                            "rollup `{}` is `over: entities` and groups by `band`",
                            def.name.value
                        ),
                        "scored entities only",
                        "only scored entities have a band: remove `over: entities`, or group by an attribute".into(),
                    );
                    ok = false;
                } else if !env.has_health {
                    self.error(
                        Code::UnknownName,
                        group.span,
                        "`band` needs a `health:` section".into(),
                        "no health here",
                        "define `health:` with bands, or group by an attribute".into(),
                    );
                    ok = false;
                }
                continue;
            }
            if !is_attribute {
                let candidates =
                    env.attributes.keys().map(String::as_str).chain(
                        (over == RollupOver::Population && env.has_health).then_some("band"),
                    );
                let mut help = suggestion(name, "attribute", candidates);
                if env.metrics.contains_key(name) {
                    help = format!(
                        "`{name}` is a metric, one number per entity; group by an attribute or `band`, or bucket the metric in an attribute of the entity table"
                    );
                }
                self.error(
                    Code::UnknownName,
                    group.span,
                    format!(
                        "`{}` has no attribute `{name}` to group by",
                        env.entity_name
                    ),
                    "not an attribute",
                    help,
                );
                ok = false;
            }
        }
        ok.then(|| def.by.iter().map(|g| g.value.clone()).collect())
    }

    /// `rollups` in file order but the members of a cycle, which are
    /// reported: each rollup left can be computed after the ones it reads.
    fn without_cycles(&mut self, rollups: Vec<Rollup>) -> Vec<Rollup> {
        let reads: BTreeMap<String, Vec<String>> = rollups
            .iter()
            .map(|r| (r.name.clone(), r.reads()))
            .collect();
        let mut placed: BTreeSet<String> = BTreeSet::new();
        loop {
            let before = placed.len();
            for r in &rollups {
                let ready = reads[&r.name]
                    .iter()
                    .all(|x| placed.contains(x) || !reads.contains_key(x));
                if ready {
                    placed.insert(r.name.clone());
                }
            }
            if placed.len() == before {
                break;
            }
        }
        let (ordered, pending): (Vec<Rollup>, Vec<Rollup>) =
            rollups.into_iter().partition(|r| placed.contains(&r.name));
        for r in &pending {
            let cycle = reads[&r.name]
                .iter()
                .filter(|x| !placed.contains(*x))
                .cloned()
                .collect::<Vec<_>>()
                .join("`, `");
            self.error(
                Code::DependencyCycle,
                r.span,
                format!("rollup `{}` is part of a cycle", r.name),
                "in a cycle",
                format!("it reads `{cycle}`, which read it back; one of them must be computed from aggregates alone"),
            );
        }
        ordered
    }
}
