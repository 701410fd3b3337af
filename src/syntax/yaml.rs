//! YAML text → a tree of spanned nodes.
//!
//! serde-saphyr parses the YAML (it is maintained, gives byte spans for every
//! value, and bounds alias expansion, nesting and size). We deserialize into a
//! generic [`Node`] tree rather than into typed structs so that the loader can
//! walk the whole file and report every wrong key and shape, not only the first.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::base::{SourceFile, Span};
use crate::diagnostics::{Code, Diagnostic};

/// Largest pipeline file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;
/// Most YAML values (mappings, lists and scalars, each alias expanded) in a file.
pub const MAX_VALUES: usize = 250_000;
/// Deepest nesting of mappings and lists, the top-level mapping included.
pub const MAX_DEPTH: usize = 64;

/// A YAML value with the span of its text in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the value is.
    pub kind: NodeKind,
    /// The scalar's text (quotes included), or the start of a collection.
    pub span: Span,
}

/// The kinds of YAML values.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A number with a fraction or exponent.
    Float(f64),
    /// Any other scalar.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order (duplicates kept, so they can be reported).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The word for this node's shape, for messages ("a list", "text", …).
    pub fn shape_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "nothing",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) | NodeKind::Float(_) => "a number",
            NodeKind::Str(_) => "text",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// The scalar as text: strings as they are, numbers and booleans as written.
    pub fn scalar_text<'a>(&'a self, file: &'a SourceFile) -> Option<&'a str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_) => {
                Some(file.slice(self.span))
            }
            _ => None,
        }
    }
}

struct RawNode(NodeKind);

struct RawVisitor;

fn spanned_to_node(spanned: Spanned<RawNode>) -> Node {
    let span = spanned.referenced.span();
    let start = span.byte_offset().unwrap_or(0) as usize;
    let len = span.byte_len().unwrap_or(0) as usize;
    Node {
        kind: spanned.value.0,
        span: Span::new(start, start + len),
    }
}

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<RawNode, E> {
        Ok(RawNode(NodeKind::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<RawNode, E> {
        Ok(RawNode(NodeKind::Int(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<RawNode, E> {
        Ok(RawNode(match i64::try_from(v) {
            Ok(i) => NodeKind::Int(i),
            Err(_) => NodeKind::Float(v as f64),
        }))
    }
    fn visit_i128<E>(self, v: i128) -> Result<RawNode, E> {
        Ok(RawNode(match i64::try_from(v) {
            Ok(i) => NodeKind::Int(i),
            Err(_) => NodeKind::Float(v as f64),
        }))
    }
    fn visit_u128<E>(self, v: u128) -> Result<RawNode, E> {
        Ok(RawNode(match i64::try_from(v) {
            Ok(i) => NodeKind::Int(i),
            Err(_) => NodeKind::Float(v as f64),
        }))
    }
    fn visit_f64<E>(self, v: f64) -> Result<RawNode, E> {
        Ok(RawNode(NodeKind::Float(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<RawNode, E> {
        Ok(RawNode(NodeKind::Str(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<RawNode, E> {
        Ok(RawNode(NodeKind::Str(v)))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<RawNode, E> {
        Ok(RawNode(NodeKind::Str(
            String::from_utf8_lossy(v).into_owned(),
        )))
    }
    fn visit_unit<E>(self) -> Result<RawNode, E> {
        Ok(RawNode(NodeKind::Null))
    }
    fn visit_none<E>(self) -> Result<RawNode, E> {
        Ok(RawNode(NodeKind::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawNode, D::Error> {
        RawNode::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<RawNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = access.next_element::<Spanned<RawNode>>()? {
            items.push(spanned_to_node(item));
        }
        Ok(RawNode(NodeKind::Seq(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<RawNode, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = access.next_key::<Spanned<RawNode>>()? {
            let value = access.next_value::<Spanned<RawNode>>()?;
            entries.push((spanned_to_node(key), spanned_to_node(value)));
        }
        Ok(RawNode(NodeKind::Map(entries)))
    }
}

impl<'de> Deserialize<'de> for RawNode {
    /// Each level of nesting recurses through the YAML deserializer, whose
    /// frames are large; the stack grows on demand so that the documented
    /// depth parses on any thread (test threads have 2 MiB).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawNode, D::Error> {
        stacker::maybe_grow(256 * 1024, 4 * 1024 * 1024, || {
            d.deserialize_any(RawVisitor)
        })
    }
}

fn options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = MAX_VALUES;
    budget.max_events = 4 * MAX_VALUES;
    budget.max_depth = MAX_DEPTH;
    budget.flow_nesting_limit = MAX_DEPTH;
    options.budget = Some(budget);
    options
}

/// Read a file's bytes into a [`SourceFile`], or say why not.
pub fn read_source(path: &std::path::Path, bytes: Vec<u8>) -> Result<SourceFile, Diagnostic> {
    let name = path.display().to_string();
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::error(
            Code::FileTooLarge,
            format!(
                "{name} is {} bytes; pipeline files may be at most {} bytes",
                bytes.len(),
                MAX_FILE_BYTES
            ),
        )
        .help("split the pipeline, or check that this is the right file"));
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(SourceFile::new(path, text)),
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let valid = String::from_utf8_lossy(&e.as_bytes()[..offset]).into_owned();
            let line = valid.matches('\n').count() + 1;
            Err(Diagnostic::error(
                Code::FileNotText,
                format!("{name} is not UTF-8 text (invalid byte at offset {offset}, line {line})"),
            )
            .help("pipeline files are YAML text in UTF-8; check that this is the right file"))
        }
    }
}

/// Parse a file's YAML into a node tree. Malformed YAML gives one diagnostic
/// at the place the parser stopped.
pub fn parse_yaml(file: &Arc<SourceFile>) -> Result<Node, Diagnostic> {
    if file.text.trim().is_empty()
        || file
            .text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(
            Diagnostic::error(Code::EmptyFile, "the pipeline file is empty")
                .at(file, Span::new(0, 0), "nothing here")
                .help("start from `vane: 1` and a `sources:` section; see docs/language.md"),
        );
    }
    match serde_saphyr::from_str_with_options::<Spanned<RawNode>>(&file.text, options()) {
        Ok(root) => Ok(spanned_to_node(root)),
        Err(error) => {
            let offset = error
                .location()
                .map(|l| file.offset_of(l.line() as usize, l.column() as usize))
                .unwrap_or(0);
            let message = error.without_snippet().to_string();
            let mut message = first_line(&message);
            let mut help =
                "fix the YAML syntax at this place; strings holding `: ` or ` #` need quotes";
            match limit_hit(&message) {
                Some(Limit::Values) => {
                    message = format!(
                        "the document has more than {MAX_VALUES} values (mappings, lists, keys and scalars, each alias expanded)"
                    );
                    help = "split the pipeline into several files, or remove repeated `*alias` references";
                }
                Some(Limit::Depth) => {
                    message = format!("the document is nested more than {MAX_DEPTH} levels deep");
                    help = "pipelines need a few levels of nesting; check for unbalanced brackets or runaway indentation";
                }
                Some(Limit::Aliases) => {
                    message =
                        "the document uses too many anchors, aliases or merge keys".to_string();
                    help = "pipeline files do not need large alias expansions; remove repeated `*alias` references";
                }
                None if message.contains("after single-quoted scalar") => {
                    help = "a `'` inside a single-quoted YAML value is written `''` (`'event = ''login'''`), or put the whole value in double quotes: `\"event = 'login'\"`";
                }
                None if message.contains("after double-quoted scalar") => {
                    help = "a `\"` inside a double-quoted YAML value is written `\\\"`; expression strings use single quotes, so `\"event = 'login'\"` needs neither";
                }
                None if message.to_lowercase().contains("tab") => {
                    help = "YAML does not allow tabs for indentation; indent with spaces";
                }
                None => {}
            }
            Err(
                Diagnostic::error(Code::YamlSyntax, format!("invalid YAML: {message}"))
                    .at(file, Span::new(offset, offset + 1), "here")
                    .help(help),
            )
        }
    }
}

/// Which of the documented limits a YAML error is (see `docs/language.md`, Limits).
enum Limit {
    Values,
    Depth,
    Aliases,
}

/// The limit a parser message reports. serde-saphyr wraps its budget
/// breaches on the way out through `Spanned`, so the breach is read from
/// its message (`budget breached: Depth { depth: 65 }`).
fn limit_hit(message: &str) -> Option<Limit> {
    if message.contains("recursion limit exceeded") {
        return Some(Limit::Depth);
    }
    let breach = message.split("budget breached: ").nth(1)?;
    let name = breach.split([' ', '{']).next().unwrap_or("");
    Some(match name {
        "Depth" => Limit::Depth,
        "Nodes" | "Events" | "ScalarBytes" | "Documents" => Limit::Values,
        _ => Limit::Aliases,
    })
}

fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("").trim();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    let line = line.find(" at line ").map_or(line, |i| &line[..i]);
    let mut text = line.to_string();
    if let Some(first) = text.get(..1) {
        text = first.to_lowercase() + &text[1..];
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: String) -> Result<Node, Diagnostic> {
        parse_yaml(&Arc::new(SourceFile::new("p.yaml", text)))
    }

    fn nested(depth: usize) -> String {
        format!("a: {}{}\n", "[".repeat(depth - 1), "]".repeat(depth - 1))
    }

    fn values(count: usize) -> String {
        format!("a: [{}]\n", vec!["1"; count - 3].join(","))
    }

    #[test]
    fn the_documented_nesting_limit_is_the_enforced_one() {
        assert!(parse(nested(MAX_DEPTH)).is_ok());
        for depth in [MAX_DEPTH + 1, MAX_DEPTH + 6, 1000] {
            let error = parse(nested(depth)).unwrap_err();
            assert_eq!(
                error.message, "invalid YAML: the document is nested more than 64 levels deep",
                "depth {depth}"
            );
        }
    }

    #[test]
    fn the_documented_value_limit_is_the_enforced_one() {
        assert!(parse(values(MAX_VALUES)).is_ok());
        let error = parse(values(MAX_VALUES + 1)).unwrap_err();
        assert!(
            error.message.contains("more than 250000 values"),
            "{}",
            error.message
        );
    }

    #[test]
    fn a_quote_inside_a_quoted_value_gets_quoting_advice() {
        let error = parse("where: 'event = 'login''\n".to_string()).unwrap_err();
        let help = error.help.unwrap();
        assert!(help.contains("''login'''"), "{help}");
        assert!(help.contains("\"event = 'login'\""), "{help}");
        let error = parse("where: \"event = \"login\"\"\n".to_string()).unwrap_err();
        assert!(error.help.unwrap().contains("single quotes"));
    }
}
