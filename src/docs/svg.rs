//! The lineage graph drawn as inline SVG, so the HTML catalog shows it
//! offline, with no script: a column per depth (sources and attributes on
//! the left, health and playbooks on the right), one box per definition,
//! an arrow per edge.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::check::model::Node;

const ROW: usize = 34;
const BOX: usize = 24;
const CHAR: usize = 7;
const GAP: usize = 60;
const MARGIN: usize = 10;

/// XML text: `&`, `<`, `>` and `"` as entities, control characters as spaces.
fn text(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            c if c.is_control() => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn colour(node: &Node) -> &'static str {
    match node {
        Node::Source(_) => "#dbeafe",
        Node::Attribute(_) | Node::Target(_) => "#e0f2fe",
        Node::Metric(_) => "#f3f4f6",
        Node::Indicator(_) => "#fef3c7",
        Node::Group(_) | Node::Health => "#dcfce7",
        Node::Playbook(_) => "#fce7f3",
        Node::Outcome(_) => "#ede9fe",
        Node::Rollup(_) => "#ffedd5",
    }
}

fn label(node: &Node) -> String {
    match node {
        Node::Health => "health".to_string(),
        Node::Target(name) => format!("target: {name}"),
        other => other.name(),
    }
}

/// Each node's depth: 0 without inputs, else one more than its deepest input.
fn depths(edges: &[(Node, Node)]) -> BTreeMap<&Node, usize> {
    let mut depth: BTreeMap<&Node, usize> =
        edges.iter().flat_map(|(a, b)| [(a, 0), (b, 0)]).collect();
    // The graph has no cycles, so at most one pass per node settles it.
    for _ in 0..depth.len() {
        let mut changed = false;
        for (from, to) in edges {
            let wanted = depth[from] + 1;
            if depth[to] < wanted {
                depth.insert(to, wanted);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    depth
}

/// The lineage `edges` (`to` reads `from`) as an `<svg>` element.
pub fn lineage_svg(edges: &[(Node, Node)]) -> String {
    let depth = depths(edges);
    let mut columns: Vec<BTreeSet<&Node>> = Vec::new();
    for (node, d) in &depth {
        if columns.len() <= *d {
            columns.resize_with(d + 1, BTreeSet::new);
        }
        columns[*d].insert(node);
    }
    let widths: Vec<usize> = columns
        .iter()
        .map(|c| {
            c.iter()
                .map(|n| label(n).chars().count())
                .max()
                .unwrap_or(0)
                * CHAR
                + 16
        })
        .collect();
    let mut place: BTreeMap<&Node, (usize, usize, usize)> = BTreeMap::new();
    let mut x = MARGIN;
    for (column, width) in columns.iter().zip(&widths) {
        for (row, node) in column.iter().enumerate() {
            place.insert(node, (x, MARGIN + row * ROW, *width));
        }
        x += width + GAP;
    }
    let width = x.saturating_sub(GAP) + MARGIN;
    let height = columns.iter().map(BTreeSet::len).max().unwrap_or(0) * ROW + 2 * MARGIN;
    let mut out = format!(
        "<svg class=\"lineage\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"lineage\" font-family=\"system-ui,sans-serif\" font-size=\"12\">\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#666\"/></marker></defs>\n"
    );
    for (from, to) in edges {
        let (Some(&(x1, y1, w1)), Some(&(x2, y2, _))) = (place.get(from), place.get(to)) else {
            continue;
        };
        let _ = writeln!(
            out,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{x2}\" y2=\"{}\" stroke=\"#999\" marker-end=\"url(#arrow)\"/>",
            x1 + w1,
            y1 + BOX / 2,
            y2 + BOX / 2
        );
    }
    for (node, (x, y, w)) in &place {
        let _ = writeln!(
            out,
            "<g><title>{} {}</title><rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{BOX}\" rx=\"4\" fill=\"{}\" stroke=\"#888\"/><text x=\"{}\" y=\"{}\">{}</text></g>",
            node.kind(),
            text(&node.name()),
            colour(node),
            x + 8,
            y + 16,
            text(&label(node))
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_definition_is_drawn_left_of_what_reads_it() {
        let edges = vec![
            (Node::Source("events".into()), Node::Metric("logins".into())),
            (
                Node::Metric("logins".into()),
                Node::Indicator("usage".into()),
            ),
            (Node::Source("events".into()), Node::Metric("<b>".into())),
        ];
        let svg = lineage_svg(&edges);
        assert_eq!(svg.matches("<rect").count(), 4);
        assert_eq!(svg.matches("<line").count(), 3);
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"), "{svg}");
        let x = |name: &str| {
            let at = svg.find(&format!(">{name}</text>")).expect(name);
            let rect = svg[..at].rfind("<rect x=\"").expect("rect") + 9;
            svg[rect..]
                .split('"')
                .next()
                .and_then(|v| v.parse::<usize>().ok())
                .expect("x")
        };
        assert!(x("events") < x("logins") && x("logins") < x("usage"));
    }
}
