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

fn double_quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn single_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The scalar text to put in the file for a site's canonical value.
fn render(site: &ExpressionSite, raw: &str) -> String {
    match site.style {
        ScalarStyle::Plain if plain_safe(&site.canonical) => site.canonical.clone(),
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
        out.push_str(&render(site, raw));
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
}
