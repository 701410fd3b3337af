//! Tidy tests of the code's shape (in the spirit of rust-analyzer's): data
//! flows one way through the stages, no two files of a stage import each
//! other in a circle, every file says what it is for, the stages below
//! `sources` never import DataFusion, and only `main.rs` prints. The
//! allowed directions are the table in `docs/architecture.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each part of `src/` and its layer: a file may use its own part and the
/// parts of lower layers only. `lib` is the chain in `src/lib.rs`.
const LAYERS: &[(&str, usize)] = &[
    ("base", 0),
    ("diagnostics", 1),
    ("syntax", 2),
    ("sources", 3),
    ("check", 4),
    ("plan", 5),
    ("run", 6),
    ("backtest", 7),
    ("lib", 8),
    ("diff", 9),
    ("docs", 9),
    ("report", 9),
    ("sql", 9),
    ("test", 9),
    ("sample", 9),
    ("commands", 10),
    ("main", 11),
];

/// Parts that never import DataFusion (or Arrow through it).
const WITHOUT_DATAFUSION: &[&str] = &["base", "diagnostics", "syntax", "check"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The part of `src/` a file belongs to (`run` for `src/run/engine.rs`).
fn part_of(file: &Path) -> String {
    let relative = file.strip_prefix(src()).expect("under src");
    let first = relative
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    let part = first.trim_end_matches(".rs");
    // The binaries in src/bin/ are, like main.rs, the outermost layer.
    if part == "bin" {
        "main".to_string()
    } else {
        part.to_string()
    }
}

/// The code without comments, string and char literals (so paths inside
/// them do not count), and without `#[cfg(test)]` modules.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && is_raw_string(&chars, i) {
            let mut hashes = 0;
            i += 1;
            while chars.get(i) == Some(&'#') {
                hashes += 1;
                i += 1;
            }
            i += 1;
            loop {
                if i >= chars.len() {
                    break;
                }
                if chars[i] == '"' && (1..=hashes).all(|h| chars.get(i + h) == Some(&'#')) {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && next == Some('\\') {
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_raw_string(chars: &[char], at: usize) -> bool {
    let before_ok = at == 0 || !(chars[at - 1].is_alphanumeric() || chars[at - 1] == '_');
    let mut j = at + 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    before_ok && chars.get(j) == Some(&'"')
}

/// Expand a `use` tree (`a::{b, c::{d, e}}`) into its paths.
fn expand_use(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| {
            expand_use(p)
                .into_iter()
                .map(move |q| format!("{prefix}{q}"))
        })
        .collect()
}

/// Every `crate::…`, `super::…` and (in `mod.rs`) child-module path a file uses.
fn paths_used(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        let boundary = i == 0 || !rest[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_');
        let after = &rest[i + 4..];
        let end = after.find(';').unwrap_or(after.len());
        if boundary {
            paths.extend(expand_use(&after[..end]));
        }
        rest = &after[end.min(after.len())..];
    }
    let words: Vec<char> = code.chars().collect();
    let text: String = words.iter().collect();
    for prefix in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(prefix) {
            let at = from + i;
            let boundary = at == 0
                || !text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':');
            let path: String = text[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            if boundary {
                paths.push(path.trim_end_matches(':').to_string());
            }
            from = at + prefix.len();
        }
    }
    paths
}

/// The top-level parts of `src/`.
fn parts() -> BTreeSet<String> {
    rust_files(&src()).iter().map(|f| part_of(f)).collect()
}

/// The part a path used by `file` points into.
fn target_part(file: &Path, path: &str, parts: &BTreeSet<String>) -> Option<String> {
    let own = part_of(file);
    let segments: Vec<&str> = path.split("::").collect();
    match segments.first().copied() {
        Some("crate") => {
            let first = segments.get(1).copied().unwrap_or("");
            if parts.contains(first) && first != "lib" && first != "main" {
                Some(first.to_string())
            } else {
                Some("lib".to_string())
            }
        }
        Some("super") => {
            let in_mod = file.file_name().is_some_and(|n| n == "mod.rs");
            if in_mod || own == "lib" {
                Some("lib".to_string())
            } else {
                Some(own)
            }
        }
        Some("vane") => segments.get(1).map(|s| s.to_string()),
        // The crate root names its modules without `crate::`.
        Some(first) if own == "lib" && parts.contains(first) => Some(first.to_string()),
        _ => None,
    }
}

fn layer(part: &str) -> Option<usize> {
    LAYERS.iter().find(|(p, _)| *p == part).map(|(_, l)| *l)
}

#[test]
fn every_part_of_src_has_a_layer() {
    for part in parts() {
        assert!(
            layer(&part).is_some(),
            "src/{part} has no layer: add it to LAYERS here and to docs/architecture.md"
        );
    }
}

#[test]
fn stages_only_use_their_own_part_and_lower_ones() {
    let parts = parts();
    let mut violations = Vec::new();
    for file in rust_files(&src()) {
        let own = part_of(&file);
        let own_layer = layer(&own).unwrap_or(usize::MAX);
        let code = code_of(&std::fs::read_to_string(&file).expect("read"));
        for path in paths_used(&code) {
            let Some(target) = target_part(&file, &path, &parts) else {
                continue;
            };
            if target == own {
                continue;
            }
            let target_layer = layer(&target).unwrap_or(usize::MAX);
            if target_layer >= own_layer {
                violations.push(format!(
                    "{} (layer {own_layer}) uses `{path}` of `{target}` (layer {target_layer})",
                    file.strip_prefix(src()).unwrap_or(&file).display()
                ));
            }
        }
    }
    violations.sort();
    violations.dedup();
    assert!(
        violations.is_empty(),
        "lower stages must not use higher ones:\n{}",
        violations.join("\n")
    );
}

/// `file → sibling files it uses` within each folder of `src/`, with items
/// a folder's `mod.rs` re-exports traced to the file defining them.
fn sibling_edges() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for file in rust_files(&src()) {
        let dir = file.parent().expect("dir").to_path_buf();
        if dir == src() || file.file_name().is_some_and(|n| n == "mod.rs") {
            continue;
        }
        let part = part_of(&file);
        let module = dir.join("mod.rs");
        let reexports: BTreeMap<String, String> = std::fs::read_to_string(&module)
            .map(|text| {
                paths_used(&code_of(&text))
                    .into_iter()
                    .filter_map(|p| {
                        let segments: Vec<&str> = p.split("::").collect();
                        match segments.as_slice() {
                            [child, .., item] if *child != "crate" && *child != "super" => {
                                Some((item.to_string(), child.to_string()))
                            }
                            _ => None,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let code = code_of(&std::fs::read_to_string(&file).expect("read"));
        for path in paths_used(&code) {
            let segments: Vec<&str> = path.split("::").collect();
            let inside: &[&str] = match segments.as_slice() {
                ["super", rest @ ..] => rest,
                ["crate", first, rest @ ..] if *first == part => rest,
                _ => continue,
            };
            let Some(first) = inside.first() else {
                continue;
            };
            let sibling = dir.join(format!("{first}.rs"));
            let target = if sibling.is_file() {
                Some(sibling)
            } else {
                reexports
                    .get(*first)
                    .map(|child| dir.join(format!("{child}.rs")))
                    .filter(|p| p.is_file())
            };
            if let Some(target) = target.filter(|t| *t != file) {
                edges.entry(file.clone()).or_default().insert(target);
            }
        }
    }
    edges
}

#[test]
fn no_two_files_of_a_stage_use_each_other_in_a_circle() {
    let edges = sibling_edges();
    let mut cycles = Vec::new();
    for start in edges.keys() {
        // Depth-first search for a path back to `start`.
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for next in edges.get(&node).into_iter().flatten() {
                if next == start {
                    let names: Vec<String> = path
                        .iter()
                        .chain([start])
                        .map(|p| p.strip_prefix(src()).unwrap_or(p).display().to_string())
                        .collect();
                    cycles.push(names.join(" → "));
                } else if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    assert!(cycles.is_empty(), "import circles:\n{}", cycles.join("\n"));
}

#[test]
fn the_circle_check_sees_circles() {
    let uses_each_other = "use super::b::thing;\nfn f() { crate::run::c::g(); }";
    assert_eq!(
        paths_used(&code_of(uses_each_other)),
        vec!["super::b::thing", "crate::run::c::g", "super::b::thing"]
    );
    assert_eq!(
        expand_use("super::{a, b::{c, d}}"),
        vec!["super::a", "super::b::c", "super::b::d"]
    );
    let ignored = "// use crate::run::x;\nlet s = \"crate::plan::y\";";
    assert!(paths_used(&code_of(ignored)).is_empty());
}

#[test]
fn every_file_says_what_it_is_for() {
    for file in rust_files(&src()) {
        let text = std::fs::read_to_string(&file).expect("read");
        assert!(
            text.starts_with("//!"),
            "{} must start with a `//!` line saying what it is for",
            file.display()
        );
    }
}

#[test]
fn the_stages_below_sources_never_import_datafusion() {
    for file in rust_files(&src()) {
        let part = part_of(&file);
        if !WITHOUT_DATAFUSION.contains(&part.as_str()) {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&file).expect("read"));
        assert!(
            !code.contains("datafusion") && !code.contains("arrow::"),
            "{} imports DataFusion",
            file.display()
        );
    }
}

#[test]
fn only_main_prints() {
    for file in rust_files(&src()) {
        if part_of(&file) == "main" {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&file).expect("read"));
        for printer in ["println!", "eprintln!", "print!(", "eprint!(", "dbg!("] {
            assert!(
                !code.contains(printer),
                "{} uses {printer}; return text and let main.rs print",
                file.display()
            );
        }
    }
}
