//! `vane docs`: a metric catalog per pipeline — every source, metric,
//! target, indicator, health group and playbook with its description, owner,
//! kind, canonical definition, inputs and users — and a lineage graph
//! from sources to health and playbooks. Written as Markdown (the graph as
//! Mermaid) and as a static HTML page that works offline (the graph as
//! inline SVG) from one document model.

mod svg;

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::check::model::{MetricKind, Model, Node};
use crate::syntax::ast::About;

/// A block of the catalog, rendered to Markdown or HTML.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A heading (level 1–3).
    Heading(u8, String),
    /// A paragraph; `` `code` `` spans are kept.
    Text(String),
    /// A table.
    Table(Vec<String>, Vec<Vec<String>>),
    /// A code block.
    Code(String),
    /// The lineage graph: Mermaid text (for Markdown) and an SVG drawing
    /// (for HTML, which must work offline).
    Lineage {
        /// The graph as Mermaid `flowchart` text.
        mermaid: String,
        /// The graph as an inline `<svg>` element.
        svg: String,
    },
}

/// A name as text inside a quoted Mermaid label: quotes, angle brackets,
/// ampersands and `#` become Mermaid's entity codes and line breaks and
/// other control characters become spaces, so a name can neither end the
/// label nor start a statement (`click …`, `%%{init…}%%`).
fn mermaid_label(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '#' => out.push_str("#35;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn mermaid_id(node: &Node) -> String {
    let prefix = match node {
        Node::Source(_) => "src",
        Node::Attribute(_) => "attr",
        Node::Target(_) => "tgt",
        Node::Metric(_) => "m",
        Node::Indicator(_) => "ind",
        Node::Group(_) => "grp",
        Node::Health => "health",
        Node::Playbook(_) => "pb",
        Node::Outcome(_) => "out",
        Node::Rollup(_) => "roll",
    };
    let raw = node.name();
    let name: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if name == raw {
        format!("{prefix}_{name}")
    } else {
        // Names that differ only in the characters replaced stay apart.
        let digest: u32 = raw.bytes().fold(2_166_136_261, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(16_777_619)
        });
        format!("{prefix}_{name}_{digest:08x}")
    }
}

fn mermaid_node(node: &Node) -> String {
    let id = mermaid_id(node);
    let name = mermaid_label(&node.name());
    match node {
        Node::Source(_) => format!("{id}[(\"{name}\")]"),
        Node::Attribute(_) => format!("{id}[/\"{name}\"/]"),
        Node::Target(_) => format!("{id}{{{{\"target: {name}\"}}}}"),
        Node::Metric(_) => format!("{id}[\"{name}\"]"),
        Node::Indicator(_) => format!("{id}([\"{name}\"])"),
        Node::Group(_) => format!("{id}[[\"{name}\"]]"),
        Node::Health => format!("{id}{{\"health\"}}"),
        Node::Playbook(_) => format!("{id}>\"{name}\"]"),
        Node::Outcome(_) => format!("{id}[\\\"{name}\"\\]"),
        Node::Rollup(_) => format!("{id}[/\"{name}\"\\]"),
    }
}

/// The lineage graph as Mermaid `flowchart LR` text.
pub fn lineage(model: &Model) -> String {
    let mut out = String::from("flowchart LR\n");
    let nodes: BTreeSet<&Node> = model.edges.iter().flat_map(|(a, b)| [a, b]).collect();
    for node in &nodes {
        let _ = writeln!(out, "  {}", mermaid_node(node));
    }
    for (from, to) in &model.edges {
        let _ = writeln!(out, "  {} --> {}", mermaid_id(from), mermaid_id(to));
    }
    out
}

fn about_lines(about: &About) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(d) = &about.description {
        lines.push(d.value.clone());
    }
    if let Some(o) = &about.owner {
        lines.push(format!("Owner: {}.", o.value));
    }
    lines
}

fn list(nodes: &[&Node]) -> String {
    if nodes.is_empty() {
        return "—".into();
    }
    nodes
        .iter()
        .map(|n| match n {
            Node::Health => "health".to_string(),
            other => format!("{} `{}`", other.kind(), other.name()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The catalog of one pipeline.
pub fn catalog(model: &Model) -> Vec<Block> {
    let mut blocks = vec![Block::Heading(
        1,
        format!("{} — metric catalog", model.name),
    )];
    for line in about_lines(&model.about) {
        blocks.push(Block::Text(line));
    }
    blocks.push(Block::Text(format!(
        "Source file `{}`. One scorecard row per `{}` (key `{}`); {} metrics, {} indicators, {} playbooks.",
        model.file.name,
        model.entity.name,
        model.entity.key,
        model.metrics.len(),
        model.indicators.len(),
        model.playbooks.len()
    )));
    blocks.push(Block::Heading(2, "Lineage".into()));
    blocks.push(Block::Lineage {
        mermaid: lineage(model),
        svg: svg::lineage_svg(&model.edges),
    });

    blocks.push(Block::Heading(2, "Sources".into()));
    let rows = model
        .sources
        .iter()
        .map(|s| {
            vec![
                format!("`{}`", s.name),
                format!("`{}` ({})", s.path, s.location.format.name()),
                s.time.as_ref().map_or("—".into(), |t| format!("`{t}`")),
                about_lines(&s.about).join(" "),
                list(&model.users_of(&Node::Source(s.name.clone()))),
            ]
        })
        .collect();
    blocks.push(Block::Table(
        vec![
            "source".into(),
            "path".into(),
            "time".into(),
            "about".into(),
            "used by".into(),
        ],
        rows,
    ));

    blocks.push(Block::Heading(2, format!("Entity `{}`", model.entity.name)));
    blocks.extend(
        about_lines(&model.entity.about)
            .into_iter()
            .map(Block::Text),
    );
    let mut entity = format!(
        "From `{}`, keyed by `{}`",
        model.entity.source, model.entity.key
    );
    if !model.entity.attributes.is_empty() {
        let _ = write!(
            entity,
            "; attributes {}",
            model
                .entity
                .attributes
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    entity.push('.');
    blocks.push(Block::Text(entity));

    blocks.push(Block::Heading(2, "Metrics".into()));
    for m in &model.metrics {
        blocks.push(Block::Heading(3, format!("`{}`", m.name)));
        blocks.extend(about_lines(&m.about).into_iter().map(Block::Text));
        let kind = match &m.kind {
            MetricKind::Aggregate { source, window, .. } => format!(
                "Aggregate over `{source}`, {}{}.",
                window.map_or("all history before as-of".into(), |w| format!(
                    "window {w} before as-of"
                )),
                m.filter_text
                    .as_ref()
                    .map(|f| format!(", rows where `{f}`"))
                    .unwrap_or_default()
            ),
            MetricKind::Derived { .. } => "Derived from other metrics and attributes.".into(),
        };
        let unit = m
            .unit
            .as_ref()
            .map(|u| format!(" Unit: {u}."))
            .unwrap_or_default();
        blocks.push(Block::Text(format!("{kind} Type: {}.{unit}", m.ty)));
        blocks.push(Block::Code(m.value_text.clone()));
        let node = Node::Metric(m.name.clone());
        blocks.push(Block::Text(format!(
            "Reads: {}. Used by: {}.",
            list(&model.inputs_of(&node)),
            list(&model.users_of(&node))
        )));
    }

    if let Some(t) = &model.targets {
        blocks.push(Block::Heading(2, "KPI targets".into()));
        blocks.extend(about_lines(&t.about).into_iter().map(Block::Text));
        let effective = match (&t.effective_from, &t.effective_to) {
            (Some(f), Some(e)) => {
                format!(", effective from `{f}` (inclusive) to `{e}` (exclusive)")
            }
            (Some(f), None) => format!(", effective from `{f}`"),
            _ => String::new(),
        };
        blocks.push(Block::Text(format!(
            "From `{}`: entity `{}`, KPI `{}`, target `{}`, direction `{}`{effective}. KPIs read: {}.",
            t.source,
            t.key,
            t.kpi,
            t.value,
            t.direction,
            t.kpis.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        )));
    }

    blocks.push(Block::Heading(2, "Indicators".into()));
    let rows = model
        .indicators
        .iter()
        .map(|i| {
            vec![
                format!("`{}`", i.name),
                i.kind.name().into(),
                format!("`{}`", i.metric),
                format!("`{}`", i.score_text),
                format!("{}", i.weight),
                format!("`{}`", i.group),
                about_lines(&i.about).join(" "),
            ]
        })
        .collect();
    blocks.push(Block::Table(
        [
            "indicator",
            "kind",
            "metric",
            "score",
            "weight",
            "group",
            "about",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    ));

    if let Some(h) = &model.health {
        blocks.push(Block::Heading(2, "Health".into()));
        blocks.extend(about_lines(&h.about).into_iter().map(Block::Text));
        blocks.push(Block::Text("A group's score is the weighted mean of its indicators' scores; health is the weighted mean of the group scores. A null score drops out and the remaining weights are renormalized.".into()));
        let rows = h
            .groups
            .iter()
            .map(|g| {
                vec![
                    format!("`{}`", g.name),
                    format!("{}", g.weight),
                    g.indicators
                        .iter()
                        .map(|i| format!("`{i}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ]
            })
            .collect();
        blocks.push(Block::Table(
            vec!["group".into(), "weight".into(), "indicators".into()],
            rows,
        ));
        let bands = h
            .bands
            .iter()
            .map(|b| vec![format!("`{}`", b.name), format!("[{}, {})", b.from, b.to)])
            .collect();
        blocks.push(Block::Table(vec!["band".into(), "health".into()], bands));
        for m in &h.models {
            let weights = m
                .group_weights
                .iter()
                .map(|(g, w)| format!("group `{g}` {w}"))
                .chain(
                    m.indicator_weights
                        .iter()
                        .map(|(i, w)| format!("indicator `{i}` {w}")),
                )
                .collect::<Vec<_>>()
                .join(", ");
            blocks.push(Block::Text(format!(
                "Model `{}`: when `{}`, weights {weights}. {}",
                m.name,
                m.when_text,
                about_lines(&m.about).join(" ")
            )));
        }
    }

    if !model.playbooks.is_empty() {
        blocks.push(Block::Heading(2, "Playbooks".into()));
        for p in &model.playbooks {
            blocks.push(Block::Heading(3, format!("`{}`", p.name)));
            blocks.extend(about_lines(&p.about).into_iter().map(Block::Text));
            let mut facts = vec![
                format!("When `{}`", p.when_text),
                format!("action `{}`", p.action),
                format!("priority {}", p.priority.name()),
            ];
            if let Some(a) = &p.assignee {
                facts.push(format!("owner `{}`", a.text));
            }
            if let Some(c) = p.cooldown {
                facts.push(format!("cooldown {c}"));
            }
            blocks.push(Block::Text(facts.join(", ") + "."));
            blocks.push(Block::Code(p.message.text.clone()));
            let node = Node::Playbook(p.name.clone());
            blocks.push(Block::Text(format!(
                "Reads: {}.",
                list(&model.inputs_of(&node))
            )));
        }
    }

    if !model.outcomes.is_empty() {
        blocks.push(Block::Heading(2, "Outcomes".into()));
        blocks.push(Block::Text(
            "What happened to entities afterwards, for `vane backtest`: an outcome holds for an entity on night D when it happens in [D, D + horizon). No score reads them.".into(),
        ));
        for o in &model.outcomes {
            blocks.push(Block::Heading(3, format!("`{}`", o.name)));
            blocks.extend(about_lines(&o.about).into_iter().map(Block::Text));
            let what = match &o.kind {
                crate::check::model::OutcomeKind::Rows {
                    source,
                    filter_text,
                    value_text,
                    ..
                } => {
                    let mut what = format!("Rows of `{source}`");
                    if let Some(f) = filter_text {
                        what.push_str(&format!(" where `{f}`"));
                    }
                    if let Some(v) = value_text {
                        what.push_str(&format!(", valued by `{v}`"));
                    }
                    what
                }
                crate::check::model::OutcomeKind::Attribute(a) => {
                    format!("At `{}.{a}`", model.entity.name)
                }
            };
            blocks.push(Block::Text(format!("{what}; horizon {}.", o.horizon)));
        }
    }

    if !model.rollups.is_empty() {
        blocks.push(Block::Heading(2, "Rollups".into()));
        blocks.push(Block::Text(
            "Book-level numbers, written every night as `rollups.<ext>`.".into(),
        ));
        for r in &model.rollups {
            blocks.push(Block::Heading(3, format!("`{}`", r.name)));
            blocks.extend(about_lines(&r.about).into_iter().map(Block::Text));
            let mut facts = vec![match r.over {
                crate::check::model::RollupOver::Population => "Over the scored entities".into(),
                crate::check::model::RollupOver::Entities => {
                    "Over every row of the entity table".to_string()
                }
            }];
            if !r.by.is_empty() {
                facts.push(format!(
                    "by {}",
                    r.by.iter()
                        .map(|b| format!("`{b}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if let Some(unit) = &r.unit {
                facts.push(format!("in {unit}"));
            }
            blocks.push(Block::Text(facts.join(", ") + "."));
            blocks.push(Block::Code(r.value_text.clone()));
            let node = Node::Rollup(r.name.clone());
            blocks.push(Block::Text(format!(
                "Reads: {}.",
                list(&model.inputs_of(&node))
            )));
        }
    }
    blocks
}

/// Text for Markdown: outside `` `code` `` spans, `&`, `<` and `>` as
/// entities, so a description or a message is shown, never run as HTML
/// (inside a closed code span Markdown shows them as they are); control
/// characters become spaces.
fn md_text(text: &str) -> String {
    let parts: Vec<&str> = text.split('`').collect();
    let last = parts.len() - 1;
    let mut out = String::with_capacity(text.len());
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('`');
        }
        let code = i % 2 == 1 && i < last;
        for c in part.chars() {
            match c {
                c if c.is_control() && c != '\n' => out.push(' '),
                '&' if !code => out.push_str("&amp;"),
                '<' if !code => out.push_str("&lt;"),
                '>' if !code => out.push_str("&gt;"),
                c => out.push(c),
            }
        }
    }
    out
}

fn md_cell(text: &str) -> String {
    md_text(text).replace('|', "\\|").replace('\n', " ")
}

/// A code fence longer than any run of backticks in `text`, so the text
/// cannot close it.
fn fence(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// Render blocks as Markdown.
pub fn markdown(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                let text = md_text(text).replace('\n', " ");
                let _ = writeln!(out, "{} {text}\n", "#".repeat(usize::from(*level)));
            }
            Block::Text(text) => {
                let _ = writeln!(out, "{}\n", md_text(text));
            }
            Block::Table(headers, rows) => {
                let _ = writeln!(out, "| {} |", headers.join(" | "));
                let _ = writeln!(out, "|{}", "---|".repeat(headers.len()));
                for row in rows {
                    let _ = writeln!(
                        out,
                        "| {} |",
                        row.iter()
                            .map(|c| md_cell(c))
                            .collect::<Vec<_>>()
                            .join(" | ")
                    );
                }
                out.push('\n');
            }
            Block::Code(text) => {
                let fence = fence(text);
                let _ = writeln!(out, "{fence}text\n{text}\n{fence}\n");
            }
            Block::Lineage { mermaid, .. } => {
                let _ = writeln!(out, "```mermaid\n{mermaid}```\n");
            }
        }
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Escape text and turn `` `code` `` spans into `<code>`.
fn inline(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in escape(text).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// Render blocks as one static HTML page.
pub fn html(title: &str, blocks: &[Block]) -> String {
    let mut body = String::new();
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(body, "<h{level}>{}</h{level}>", inline(text));
            }
            Block::Text(text) => {
                let _ = writeln!(body, "<p>{}</p>", inline(text));
            }
            Block::Table(headers, rows) => {
                body.push_str("<table><thead><tr>");
                for h in headers {
                    let _ = write!(body, "<th>{}</th>", inline(h));
                }
                body.push_str("</tr></thead><tbody>\n");
                for row in rows {
                    body.push_str("<tr>");
                    for cell in row {
                        let _ = write!(body, "<td>{}</td>", inline(cell));
                    }
                    body.push_str("</tr>\n");
                }
                body.push_str("</tbody></table>\n");
            }
            Block::Code(text) => {
                let _ = writeln!(body, "<pre><code>{}</code></pre>", escape(text));
            }
            Block::Lineage { mermaid, svg } => {
                let _ = writeln!(
                    body,
                    "<figure>{svg}</figure>\n<details><summary>The graph as Mermaid text</summary><pre class=\"mermaid\">{}</pre></details>",
                    escape(mermaid)
                );
            }
        }
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>\nbody{{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#222}}\ntable{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #ccc;padding:.3rem .6rem;vertical-align:top;text-align:left}}\ncode,pre{{background:#f5f5f5;border-radius:3px}}pre{{padding:.6rem;overflow-x:auto}}code{{padding:0 .2rem}}figure{{overflow-x:auto;margin:1rem 0}}\n</style></head>\n<body>\n{body}</body></html>\n",
        escape(title)
    )
}
