//! A checked model's definitions in canonical form: per definition (a
//! source, a metric, an indicator, health, a playbook), its fields as text
//! printed from the typed model, so reformatting or reordering keys
//! changes nothing. `diff` compares them; runs record their hash so a
//! night can tell whether the night before was scored by the same
//! definitions.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::base::units::Seconds;
use crate::check::model::{
    MetricKind, MissingColumns, Model, Node, OutcomeKind, ParseFailureLimit, RollupOver,
};

/// One definition's fields, by name.
pub type Descriptor = BTreeMap<&'static str, String>;

fn window(length: Option<Seconds>) -> String {
    length.map_or_else(|| "all history".into(), |w| w.to_string())
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Every definition of a model as `node → field → canonical text`.
pub fn descriptors(model: &Model) -> BTreeMap<Node, Descriptor> {
    let mut out: BTreeMap<Node, Descriptor> = BTreeMap::new();
    for s in &model.sources {
        let mut d = Descriptor::new();
        d.insert("path", s.path.clone());
        d.insert("format", s.location.format.name().into());
        d.insert("time", s.time.clone().unwrap_or_default());
        d.insert("key", s.key.clone());
        d.insert("partitions", s.location.partitions.join(", "));
        d.insert(
            "missing_columns",
            match s.missing_columns {
                MissingColumns::Error => "error",
                MissingColumns::ReadAsNull => "read_as_null",
            }
            .into(),
        );
        d.insert(
            "columns",
            s.columns
                .iter()
                .map(|c| format!("{}: {}", c.name, c.describe()))
                .collect::<Vec<_>>()
                .join(", "),
        );
        d.insert(
            "max_parse_failures",
            match s.max_parse_failures {
                ParseFailureLimit::Count(n) => n.to_string(),
                ParseFailureLimit::Share(p) => format!("{p}%"),
            },
        );
        out.insert(Node::Source(s.name.clone()), d);
    }
    let e = &model.entity;
    let mut entity = Descriptor::new();
    entity.insert("source", e.source.clone());
    entity.insert("key", e.key.clone());
    entity.insert("attributes", e.attributes.join(", "));
    out.insert(Node::Attribute(format!("{} (entity)", e.name)), entity);
    for m in &model.metrics {
        let mut d = Descriptor::new();
        match &m.kind {
            MetricKind::Aggregate {
                source, window: w, ..
            } => {
                d.insert("from", source.clone());
                d.insert("window", window(*w));
                d.insert("where", m.filter_text.clone().unwrap_or_default());
            }
            MetricKind::Derived { .. } => {
                d.insert("from", "(derived)".into());
            }
        }
        d.insert("value", m.value_text.clone());
        d.insert("unit", m.unit.clone().unwrap_or_default());
        out.insert(Node::Metric(m.name.clone()), d);
    }
    if let Some(t) = &model.targets {
        let mut d = Descriptor::new();
        d.insert("source", t.source.clone());
        d.insert(
            "columns",
            format!(
                "key {}, kpi {}, value {}, direction {}",
                t.key, t.kpi, t.value, t.direction
            ),
        );
        d.insert(
            "effective",
            format!(
                "{} – {}",
                t.effective_from.clone().unwrap_or_default(),
                t.effective_to.clone().unwrap_or_default()
            ),
        );
        out.insert(Node::Target("(targets)".into()), d);
    }
    for i in &model.indicators {
        let mut d = Descriptor::new();
        d.insert("kind", i.kind.name().into());
        d.insert("metric", i.metric.clone());
        d.insert("score", i.score_text.clone());
        d.insert("weight", number(i.weight));
        d.insert("group", i.group.clone());
        out.insert(Node::Indicator(i.name.clone()), d);
    }
    if let Some(h) = &model.health {
        for g in &h.groups {
            let mut d = Descriptor::new();
            d.insert("weight", number(g.weight));
            out.insert(Node::Group(g.name.clone()), d);
        }
        let mut d = Descriptor::new();
        d.insert(
            "bands",
            h.bands
                .iter()
                .map(|b| format!("{} [{}, {})", b.name, number(b.from), number(b.to)))
                .collect::<Vec<_>>()
                .join(", "),
        );
        for (k, m) in h.models.iter().enumerate() {
            let weights = m
                .group_weights
                .iter()
                .map(|(g, w)| format!("{g} {}", number(*w)))
                .chain(
                    m.indicator_weights
                        .iter()
                        .map(|(i, w)| format!("{i} {}", number(*w))),
                )
                .collect::<Vec<_>>()
                .join(", ");
            d.insert(
                ["model 1", "model 2", "model 3", "model 4", "model 5"]
                    .get(k)
                    .copied()
                    .unwrap_or("model"),
                format!("{} when {} → {weights}", m.name, m.when_text),
            );
        }
        out.insert(Node::Health, d);
    }
    for p in &model.playbooks {
        let mut d = Descriptor::new();
        d.insert("when", p.when_text.clone());
        d.insert("action", p.action.clone());
        d.insert("priority", p.priority.name().into());
        d.insert(
            "owner",
            p.assignee
                .as_ref()
                .map(|t| t.text.clone())
                .unwrap_or_default(),
        );
        d.insert("message", p.message.text.clone());
        d.insert(
            "dedup_key",
            p.dedup_key
                .as_ref()
                .map(|t| t.text.clone())
                .unwrap_or_default(),
        );
        d.insert(
            "cooldown",
            p.cooldown.map(|c| c.to_string()).unwrap_or_default(),
        );
        out.insert(Node::Playbook(p.name.clone()), d);
    }
    for o in &model.outcomes {
        let mut d = Descriptor::new();
        match &o.kind {
            OutcomeKind::Rows {
                source,
                filter_text,
                value_text,
                ..
            } => {
                d.insert("from", source.clone());
                d.insert("where", filter_text.clone().unwrap_or_default());
                d.insert("value", value_text.clone().unwrap_or_default());
            }
            OutcomeKind::Attribute(a) => {
                d.insert("at", format!("{}.{a}", model.entity.name));
            }
        }
        d.insert("horizon", o.horizon.to_string());
        out.insert(Node::Outcome(o.name.clone()), d);
    }
    for r in &model.rollups {
        let mut d = Descriptor::new();
        d.insert(
            "over",
            match r.over {
                RollupOver::Population => "population",
                RollupOver::Entities => "entities",
            }
            .into(),
        );
        d.insert("by", r.by.join(", "));
        d.insert("value", r.value_text.clone());
        d.insert("unit", r.unit.clone().unwrap_or_default());
        out.insert(Node::Rollup(r.name.clone()), d);
    }
    out
}

/// The SHA-256 (hex) of the definitions that decide the scores: every
/// descriptor but where a source's files are and their format, which move
/// without changing what is computed, and the outcomes, which no score
/// reads, nor the rollups, which read the scores but change none.
pub fn definitions_hash(model: &Model) -> String {
    let mut text = String::new();
    for (node, fields) in descriptors(model) {
        if matches!(node, Node::Outcome(_) | Node::Rollup(_)) {
            continue;
        }
        text.push_str(&format!("{node:?}\n"));
        for (field, value) in fields {
            if matches!(node, Node::Source(_)) && matches!(field, "path" | "format") {
                continue;
            }
            text.push_str(&format!("  {field}: {value:?}\n"));
        }
    }
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
