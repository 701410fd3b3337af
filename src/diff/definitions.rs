//! Definition changes between two checked pipelines, compared in canonical
//! form (so reformatting or reordering keys is no change), with renames
//! detected and each change's downstream lineage.

use crate::check::definitions::descriptors;
use crate::check::model::{Model, Node};

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
        Node::Outcome(_) => 8,
        Node::Rollup(_) => 9,
    }
}
