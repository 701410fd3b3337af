//! Where each character of a YAML string value sits in the file.
//!
//! An expression inside a YAML string is parsed on its own, so its spans are
//! offsets into the *value*. Quotes, escapes and block-scalar indentation make
//! the value differ from the file text, so we align the value's characters
//! with the raw text of the scalar (the value is, up to escapes and folding, a
//! subsequence of the raw text) and keep the file offset of every value byte.

use super::yaml::Node;
use crate::base::{SourceFile, Span};

/// How far ahead in the raw text a value character is looked for before
/// the alignment gives up on it (an escape such as `\n` has no raw twin).
const LOOKAHEAD: usize = 8;

/// How a scalar was written, which decides how `fmt` may rewrite it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    /// No quotes.
    Plain,
    /// `'…'`.
    SingleQuoted,
    /// `"…"`.
    DoubleQuoted,
    /// `|` or `>` with the text on the following lines.
    Block,
}

/// A string value together with the file offset of each of its bytes.
#[derive(Debug, Clone)]
pub struct ScalarText {
    /// The value as YAML delivered it.
    pub value: String,
    /// The span of the scalar's raw text in the file.
    pub span: Span,
    /// How it was written.
    pub style: ScalarStyle,
    /// `offsets[i]` is the file offset of value byte `i`; one extra entry for the end.
    offsets: Vec<usize>,
}

impl ScalarText {
    /// Align `value` with the raw text of `node` in `file`.
    pub fn new(file: &SourceFile, node: &Node, value: &str) -> Self {
        let raw = file.slice(node.span);
        let style = style_of(file, node.span);
        let mut offsets = Vec::with_capacity(value.len() + 1);
        let raw_chars: Vec<(usize, char)> = raw.char_indices().collect();
        let mut cursor = 0usize;
        for ch in value.chars() {
            let found = raw_chars
                .iter()
                .skip(cursor)
                .take(LOOKAHEAD)
                .position(|&(_, r)| r == ch);
            let at = match found {
                Some(step) => {
                    let index = cursor + step;
                    cursor = index + 1;
                    raw_chars[index].0
                }
                None => raw_chars.get(cursor).map(|&(i, _)| i).unwrap_or(raw.len()),
            };
            for _ in 0..ch.len_utf8() {
                offsets.push(node.span.start + at);
            }
        }
        let end = raw_chars
            .get(cursor)
            .map(|&(i, _)| node.span.start + i)
            .unwrap_or(node.span.end);
        offsets.push(end.max(offsets.last().copied().unwrap_or(node.span.start)));
        ScalarText {
            value: value.to_string(),
            span: node.span,
            style,
            offsets,
        }
    }

    /// The file span of a byte range of the value.
    pub fn file_span(&self, start: usize, end: usize) -> Span {
        let at = |i: usize| {
            self.offsets
                .get(i.min(self.offsets.len().saturating_sub(1)))
                .copied()
                .unwrap_or(self.span.start)
        };
        if end > start {
            Span::new(at(start), at(end - 1) + 1)
        } else {
            let s = at(start);
            Span::new(s, s)
        }
    }
}

/// Decide how the scalar at `span` was written by looking at the file text.
pub fn style_of(file: &SourceFile, span: Span) -> ScalarStyle {
    // A block scalar's span starts at its content, which may itself start
    // with a quote (`|-` over `'a' = seg`): look for the header first.
    let before = file.text.get(..span.start).unwrap_or("");
    let previous = before
        .trim_end_matches([' ', '\t', '\n', '\r'])
        .trim_end_matches(|c: char| c == '-' || c == '+' || c.is_ascii_digit());
    let header_has_newline = before.trim_end_matches([' ', '\t']).ends_with('\n');
    if header_has_newline && (previous.ends_with('|') || previous.ends_with('>')) {
        return ScalarStyle::Block;
    }
    match file.slice(span).chars().next() {
        Some('"') => ScalarStyle::DoubleQuoted,
        Some('\'') => ScalarStyle::SingleQuoted,
        _ => ScalarStyle::Plain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::yaml::NodeKind;

    fn scalar(text: &str, start: usize, len: usize, value: &str) -> (SourceFile, ScalarText) {
        let file = SourceFile::new("t.yaml", text.to_string());
        let node = Node {
            kind: NodeKind::Str(value.into()),
            span: Span::new(start, start + len),
        };
        let s = ScalarText::new(&file, &node, value);
        (file, s)
    }

    #[test]
    fn double_quoted_values_shift_by_the_quote() {
        let (file, s) = scalar("a: \"x + y\"\n", 3, 7, "x + y");
        assert_eq!(s.style, ScalarStyle::DoubleQuoted);
        assert_eq!(file.slice(s.file_span(4, 5)), "y");
    }

    #[test]
    fn block_scalars_skip_indentation() {
        let text = "a: |\n  x +\n    y\n";
        let (file, s) = scalar(text, 7, 10, "x +\n  y\n");
        assert_eq!(s.style, ScalarStyle::Block);
        assert_eq!(file.slice(s.file_span(6, 7)), "y");
        assert_eq!(file.line_column(s.file_span(6, 7).start), (3, 5));
    }

    #[test]
    fn escaped_quotes_stay_aligned() {
        let (file, s) = scalar(r#"a: "say \"hi\" to b""#, 3, 17, "say \"hi\" to b");
        let b = "say \"hi\" to b".find('b').unwrap();
        assert_eq!(file.slice(s.file_span(b, b + 1)), "b");
    }
}
