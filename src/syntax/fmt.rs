//! `vane fmt`: rewrite every expression and template into canonical form,
//! in place. Only the expression scalars change; comments, key order and
//! everything else in the file are kept byte for byte.

use super::load::ExpressionSite;
use super::scalar::ScalarStyle;

/// Characters that may not start a plain YAML scalar.
const INDICATORS: &[char] = &[
    '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`',
];

/// Can `text` be written as a plain (unquoted) YAML scalar and read back as the same string?
pub fn plain_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    let starts_ok = !INDICATORS.contains(&first)
        || (matches!(first, '-' | '?' | ':')
            && text.chars().nth(1).is_some_and(|c| !c.is_whitespace()));
    starts_ok
        && text.trim() == text
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.ends_with(':')
        && !text.contains('\n')
        && !text.contains('\t')
}

/// Whether the scalar ending at `end` sits inside `{ … }` or `[ … ]`:
/// there the next thing after it (past spaces, line breaks and comments)
/// is `,`, `}` or `]`; in block context it never is.
fn in_flow(text: &str, end: usize) -> bool {
    let mut rest = text.get(end..).unwrap_or("");
    loop {
        rest = rest.trim_start();
        match rest.strip_prefix('#') {
            Some(comment) => rest = comment.split_once('\n').map_or("", |(_, after)| after),
            None => break,
        }
    }
    rest.starts_with([',', '}', ']'])
}

/// `text` as a double-quoted YAML scalar, escaping what YAML would
/// otherwise fold or misread (a raw line break inside quotes reads as a space).
fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `text` as a single-quoted YAML scalar, or double-quoted when it holds
/// what single quotes cannot (line breaks, control characters).
fn single_quoted(text: &str) -> String {
    if text.chars().any(char::is_control) {
        return double_quoted(text);
    }
    format!("'{}'", text.replace('\'', "''"))
}

/// The scalar text to put in the file for a site's canonical value;
/// `flow` when the site is inside `{ … }` or `[ … ]`, where `,` and
/// brackets end a plain value.
fn render(site: &ExpressionSite, raw: &str, flow: bool) -> String {
    let flow_safe = !flow || !site.canonical.contains(['[', ']', '{', '}', ',']);
    match site.style {
        ScalarStyle::Plain if flow_safe && plain_safe(&site.canonical) => site.canonical.clone(),
        ScalarStyle::Plain | ScalarStyle::DoubleQuoted => double_quoted(&site.canonical),
        ScalarStyle::SingleQuoted => single_quoted(&site.canonical),
        ScalarStyle::Block => {
            let mut text = site.canonical.clone();
            if raw.contains('\n') {
                text.push('\n');
            }
            text
        }
    }
}

/// The formatted text of a file, given its expression sites.
pub fn format_text(text: &str, sites: &[ExpressionSite]) -> String {
    let mut changed: Vec<&ExpressionSite> = sites
        .iter()
        .filter(|s| s.original.trim_end() != s.canonical)
        .collect();
    changed.sort_by_key(|s| s.span.start);
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for site in changed {
        let Some(raw) = text.get(site.span.start..site.span.end) else {
            continue;
        };
        if site.span.start < cursor {
            continue;
        }
        let end = match site.style {
            // A block scalar's span runs on to the next key's indentation;
            // replace only its content lines.
            ScalarStyle::Block => raw
                .rfind('\n')
                .map_or(site.span.end, |i| site.span.start + i + 1),
            _ => site.span.end,
        };
        out.push_str(&text[cursor..site.span.start]);
        out.push_str(&render(site, raw, in_flow(text, site.span.end)));
        cursor = end;
    }
    out.push_str(&text[cursor..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_safety() {
        assert!(plain_safe("count_distinct(user_id)"));
        assert!(plain_safe("-20%"));
        assert!(!plain_safe("@2026-01-01"));
        assert!(!plain_safe("'gold' = segment"));
        assert!(!plain_safe("a: b"));
        assert!(!plain_safe("x #y"));
    }

    #[test]
    fn flow_context_is_seen_past_spaces_and_comments() {
        let text = "a: { b: x in [1], c: y }\nd: z, w\ne: [ v # note\n ]\n";
        let end = |s: &str| text.find(s).unwrap() + s.len();
        assert!(in_flow(text, end("x in [1]")));
        assert!(in_flow(text, end("c: y")));
        assert!(!in_flow(text, end("d: z, w")));
        assert!(in_flow(text, end("[ v")));
    }
}
