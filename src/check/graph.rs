//! The dependency graph: metric order (with cycle detection), the
//! `(metric, shift)` evaluations the planner must produce, and the lineage
//! edges that `docs` and `diff` show.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::Checker;
use super::exprs::Env;
use super::model::{
    MetricKind, Model, Node, OutcomeKind, TypedExpr, TypedKind, TypedPart, TypedTemplate,
};
use crate::base::Span;
use crate::base::units::Seconds;
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::ast::MetricDef;
use crate::syntax::expr::ExprKind;

/// Metric names a derived metric's value mentions, with the span of each mention.
fn mentions(def: &MetricDef, env: &Env) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    if def.from.is_some() {
        return out;
    }
    if let Some(value) = &def.value {
        value.walk(&mut |e| {
            if let ExprKind::Name(ident) = &e.kind
                && env.metrics.contains_key(&ident.name)
            {
                out.push((ident.name.clone(), ident.span));
            }
        });
    }
    out
}

/// Order metric definitions so each comes after what it reads. Metrics on a
/// cycle are reported (with the whole cycle path) and left out.
pub(super) fn metric_order(checker: &mut Checker<'_>, defs: &[MetricDef], env: &Env) -> Vec<usize> {
    let index: BTreeMap<&str, usize> = defs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name.value.as_str(), i))
        .collect();
    let deps: Vec<Vec<(usize, Span)>> = defs
        .iter()
        .map(|d| {
            mentions(d, env)
                .into_iter()
                .filter_map(|(name, span)| index.get(name.as_str()).map(|&i| (i, span)))
                .collect()
        })
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
        Cyclic,
    }
    let mut marks = vec![Mark::New; defs.len()];
    let mut order = Vec::new();
    let mut reported: BTreeSet<Vec<usize>> = BTreeSet::new();
    for start in 0..defs.len() {
        if marks[start] != Mark::New {
            continue;
        }
        // Iterative depth-first search; `stack` holds (node, next edge to try).
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        marks[start] = Mark::Active;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&(dep, _)) = deps[node].get(*next) {
                *next += 1;
                match marks[dep] {
                    Mark::New => {
                        marks[dep] = Mark::Active;
                        stack.push((dep, 0));
                    }
                    Mark::Active => {
                        let from = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                        let cycle: Vec<usize> = stack[from..].iter().map(|(n, _)| *n).collect();
                        let mut key = cycle.clone();
                        key.sort_unstable();
                        if reported.insert(key) {
                            report_cycle(checker, defs, &deps, &cycle);
                        }
                        for &n in &cycle {
                            marks[n] = Mark::Cyclic;
                        }
                    }
                    _ => {}
                }
            } else {
                stack.pop();
                if marks[node] == Mark::Active {
                    let blocked = deps[node].iter().any(|(d, _)| marks[*d] == Mark::Cyclic);
                    marks[node] = if blocked { Mark::Cyclic } else { Mark::Done };
                    if !blocked {
                        order.push(node);
                    }
                }
            }
        }
    }
    order
}

fn report_cycle(
    checker: &mut Checker<'_>,
    defs: &[MetricDef],
    deps: &[Vec<(usize, Span)>],
    cycle: &[usize],
) {
    let mut path: Vec<&str> = cycle.iter().map(|&i| defs[i].name.value.as_str()).collect();
    path.push(&defs[cycle[0]].name.value);
    let edge_span =
        |from: usize, to: usize| deps[from].iter().find(|(d, _)| *d == to).map(|(_, s)| *s);
    let first = cycle[0];
    let second = cycle.get(1).copied().unwrap_or(first);
    let primary = edge_span(first, second).unwrap_or(defs[first].name.span);
    let mut d = Diagnostic::error(Code::DependencyCycle, format!("metrics depend on each other in a cycle: {}", path.join(" → ")))
        .at(&checker.file, primary, format!("`{}` reads `{}`", defs[first].name.value, defs[second].name.value))
        .help("a metric cannot depend on itself, directly or through others; break the cycle by computing one of them from its source");
    for (k, &from) in cycle.iter().enumerate().skip(1) {
        let to = cycle[(k + 1) % cycle.len()];
        if let Some(span) = edge_span(from, to) {
            d = d.also(
                span,
                format!(
                    "`{}` reads `{}`",
                    defs[from].name.value, defs[to].name.value
                ),
            );
        }
    }
    checker.push(d);
}

/// Every `(metric, shift)` evaluation needed: each metric now, plus whatever
/// `previous`/`change` reach back to, followed through derived metrics.
/// Fails with the metric whose shifts add up past what a timestamp can hold.
pub(super) fn evaluations(model: &Model) -> Result<Vec<(String, Seconds)>, String> {
    let mut stack: Vec<(String, Seconds)> = model
        .metrics
        .iter()
        .map(|m| (m.name.clone(), Seconds::ZERO))
        .collect();
    each_expression(model, &mut |_, e| stack.extend(e.metric_refs()));
    let by_name: HashMap<&str, &MetricKind> = model
        .metrics
        .iter()
        .map(|m| (m.name.as_str(), &m.kind))
        .collect();
    let mut needed = BTreeSet::new();
    while let Some((name, shift)) = stack.pop() {
        if !needed.insert((name.clone(), shift)) {
            continue;
        }
        if let Some(MetricKind::Derived { value }) = by_name.get(name.as_str()) {
            for (dep, s) in value.metric_refs() {
                let total = s.checked_add(shift).ok_or_else(|| name.clone())?;
                stack.push((dep, total));
            }
        }
    }
    Ok(needed.into_iter().collect())
}

/// The expressions in a template's holes.
pub fn template_exprs(t: &TypedTemplate) -> impl Iterator<Item = &TypedExpr> {
    t.parts.iter().filter_map(|p| match p {
        TypedPart::Hole(e) => Some(e),
        TypedPart::Text(_) => None,
    })
}

/// The KPIs whose targets the pipeline reads, sorted.
pub(super) fn kpis_used(model: &Model) -> Vec<String> {
    let mut kpis = BTreeSet::new();
    each_expression(model, &mut |_, e| kpis.extend(e.kpi_refs()));
    kpis.into_iter().collect()
}

/// Call `visit(owner, expr)` for every per-entity expression in the model.
fn each_expression<'a>(model: &'a Model, visit: &mut dyn FnMut(Node, &'a TypedExpr)) {
    for m in &model.metrics {
        match &m.kind {
            MetricKind::Derived { value } => visit(Node::Metric(m.name.clone()), value),
            MetricKind::Aggregate { value, filter, .. } => {
                visit(Node::Metric(m.name.clone()), value);
                if let Some(f) = filter {
                    visit(Node::Metric(m.name.clone()), f);
                }
            }
        }
    }
    for i in &model.indicators {
        visit(Node::Indicator(i.name.clone()), &i.score);
    }
    if let Some(h) = &model.health {
        for m in &h.models {
            visit(Node::Health, &m.when);
        }
    }
    for r in &model.rollups {
        visit(Node::Rollup(r.name.clone()), &r.value);
    }
    for p in &model.playbooks {
        let node = Node::Playbook(p.name.clone());
        visit(node.clone(), &p.when);
        for t in [Some(&p.message), p.assignee.as_ref(), p.dedup_key.as_ref()]
            .into_iter()
            .flatten()
        {
            for e in template_exprs(t) {
                visit(node.clone(), e);
            }
        }
    }
}

/// Lineage edges `(input, user)`, deduplicated and sorted.
pub(super) fn edges(model: &Model) -> Vec<(Node, Node)> {
    let mut edges = BTreeSet::new();
    for m in &model.metrics {
        if let MetricKind::Aggregate { source, .. } = &m.kind {
            edges.insert((Node::Source(source.clone()), Node::Metric(m.name.clone())));
        }
    }
    each_expression(model, &mut |owner, e| {
        e.walk(&mut |x| {
            let input = match &x.kind {
                TypedKind::Metric { name, .. } => Some(Node::Metric(name.clone())),
                TypedKind::Attribute(a) => Some(Node::Attribute(a.clone())),
                TypedKind::IndicatorScore(i) => Some(Node::Indicator(i.clone())),
                TypedKind::Health | TypedKind::Band => Some(Node::Health),
                TypedKind::Rollup(r) => Some(Node::Rollup(r.clone())),
                _ => None,
            };
            if let Some(input) = input
                && input != owner
            {
                edges.insert((input, owner.clone()));
            }
        });
        for kpi in e.kpi_refs() {
            edges.insert((Node::Target(kpi), owner.clone()));
        }
    });
    for i in &model.indicators {
        edges.insert((
            Node::Metric(i.metric.clone()),
            Node::Indicator(i.name.clone()),
        ));
        if model.health.is_some() {
            edges.insert((
                Node::Indicator(i.name.clone()),
                Node::Group(i.group.clone()),
            ));
        }
    }
    if let Some(h) = &model.health {
        for g in &h.groups {
            edges.insert((Node::Group(g.name.clone()), Node::Health));
        }
    }
    for o in &model.outcomes {
        let input = match &o.kind {
            OutcomeKind::Rows { source, .. } => Node::Source(source.clone()),
            OutcomeKind::Attribute(a) => Node::Attribute(a.clone()),
        };
        edges.insert((input, Node::Outcome(o.name.clone())));
    }
    for r in &model.rollups {
        for group in &r.by {
            let input = if model.entity.attributes.contains(group) {
                Node::Attribute(group.clone())
            } else {
                Node::Health
            };
            edges.insert((input, Node::Rollup(r.name.clone())));
        }
    }
    if let Some(t) = &model.targets {
        for kpi in &t.kpis {
            edges.insert((Node::Source(t.source.clone()), Node::Target(kpi.clone())));
        }
    }
    for a in &model.entity.attributes {
        edges.insert((
            Node::Source(model.entity.source.clone()),
            Node::Attribute(a.clone()),
        ));
    }
    edges.into_iter().collect()
}
