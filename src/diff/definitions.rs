//! Definition changes between two checked pipelines, compared in canonical
//! form (so reformatting or reordering keys is no change), with renames
//! detected and each change's downstream lineage.

use std::collections::BTreeMap;

use crate::base::units::Seconds;
use crate::check::model::{MetricKind, MissingColumns, Model, Node, ParseFailureLimit};

/// What happened to a definition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    /// Only in head.
    Added,
    /// Only in base.
    Removed,
    /// In both, different.
    Changed,
    /// Same definition under a new name (`from` is the old name).
    Renamed {
        /// The old name.
        from: String,
    },
}

/// One changed definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The definition (in head; in base for removals).
    pub node: Node,
    /// What happened.
    pub kind: ChangeKind,
    /// `(field, old, new)` for changed fields.
    pub fields: Vec<(String, Option<String>, Option<String>)>,
    /// Everything downstream of it (in head; in base for removals).
    pub downstream: Vec<Node>,
}

type Descriptor = BTreeMap<&'static str, String>;

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
    out
}

fn same_kind(a: &Node, b: &Node) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// Definition changes from `base` to `head`, in a stable order.
pub fn changes(base: &Model, head: &Model) -> Vec<Change> {
    let old = descriptors(base);
    let new = descriptors(head);
    let mut removed: Vec<&Node> = old.keys().filter(|n| !new.contains_key(*n)).collect();
    let mut added: Vec<&Node> = new.keys().filter(|n| !old.contains_key(*n)).collect();
    let mut out = Vec::new();
    // A removal and an addition of the same kind with identical fields is a rename.
    let mut renames = Vec::new();
    for r in &removed {
        if let Some(position) = added.iter().position(|a| {
            same_kind(a, r) && new.get(*a) == old.get(*r) && !matches!(r, Node::Health)
        }) {
            renames.push(((*r).clone(), added.remove(position).clone()));
        }
    }
    removed.retain(|r| !renames.iter().any(|(from, _)| from == *r));
    for (from, to) in renames {
        out.push(Change {
            kind: ChangeKind::Renamed { from: from.name() },
            downstream: base
                .downstream_of(&from)
                .into_iter()
                .map(|n| renamed_in_head(&n, &from, &to))
                .collect(),
            node: to,
            fields: Vec::new(),
        });
    }
    for node in removed {
        out.push(Change {
            node: node.clone(),
            kind: ChangeKind::Removed,
            fields: Vec::new(),
            downstream: base.downstream_of(node),
        });
    }
    for node in added {
        let fields = new[node]
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), None, Some(v.clone())))
            .collect();
        out.push(Change {
            node: node.clone(),
            kind: ChangeKind::Added,
            fields,
            downstream: head.downstream_of(node),
        });
    }
    for (node, before) in &old {
        let Some(after) = new.get(node) else { continue };
        let keys: std::collections::BTreeSet<&&str> = before.keys().chain(after.keys()).collect();
        let fields: Vec<(String, Option<String>, Option<String>)> = keys
            .into_iter()
            .filter(|k| before.get(**k) != after.get(**k))
            .map(|k| {
                (
                    k.to_string(),
                    before.get(*k).cloned(),
                    after.get(*k).cloned(),
                )
            })
            .collect();
        if !fields.is_empty() {
            out.push(Change {
                node: node.clone(),
                kind: ChangeKind::Changed,
                fields,
                downstream: head.downstream_of(node),
            });
        }
    }
    out.sort_by(|a, b| (order(&a.node), &a.node).cmp(&(order(&b.node), &b.node)));
    out
}

fn renamed_in_head(node: &Node, from: &Node, to: &Node) -> Node {
    if node == from {
        to.clone()
    } else {
        node.clone()
    }
}

fn order(node: &Node) -> u8 {
    match node {
        Node::Source(_) => 0,
        Node::Attribute(_) => 1,
        Node::Metric(_) => 2,
        Node::Target(_) => 3,
        Node::Indicator(_) => 4,
        Node::Group(_) => 5,
        Node::Health => 6,
        Node::Playbook(_) => 7,
    }
}
