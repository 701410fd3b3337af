//! Byte-level mutations of pipelines.

use super::*;

/// Pieces inserted by mutations: YAML syntax, expression syntax, extreme
/// literals and keys.
#[rustfmt::skip]
pub(super) const TOKENS: &[&str] = &[
    ":", ": ", "- ", "-", "[", "]", "{", "}", ",", "'", "\"", "|", ">", "|-", "#", " #", "&a ",
    "*a", "<<: *a", "!!str ", "!!int ", "? ", "---\n", "...\n", "\t", "\n", "\r\n", "  ",
    "\u{feff}", "\0", "é", "\\", "@", "`", "%", "(", ")", "and ", " or ", "not ", "null", "~",
    "true", "1", "-1", "0.5", "1e309", "9223372036854775808", "110000000d", "106751991d", "30d",
    "@9999-12-31", "@0001-01-01T00:00:00Z", "case when ", " end", "count()", "sum(", "previous(",
    "change(", "score(", "{{", "}}", "value: ", "from: events\n", "window: ", "where: ",
    "vane: 1\n", "as_of", "account.", "between 1 and ", " is not null", " in ['a', null]",
];

/// Numbers swapped in for a run of digits.
#[rustfmt::skip]
pub(super) const NUMBERS: &[&str] = &[
    "0", "1", "-1", "100", "0.0", "9223372036854775807", "9223372036854775808",
    "99999999999999999999", "1e309", "0.5", "110000000", "106751991", "1e-320",
];

/// Apply 1–8 random edits to `bytes`: insertions, deletions, lines
/// duplicated, dropped, swapped, re-indented or spliced from other files,
/// numbers and words replaced, bits flipped.
pub(super) fn mutate(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>, corpus: &Corpus) {
    let edits = 1 + rng.random_range(0..4) + rng.random_range(0..5);
    for _ in 0..edits {
        let at = boundary(bytes, rng.random_range(0..=bytes.len()));
        match rng.random_range(0..24) {
            0..6 => {
                let token = TOKENS[rng.random_range(0..TOKENS.len())];
                bytes.splice(at..at, token.bytes());
            }
            6..9 => {
                let end = boundary(bytes, (at + rng.random_range(1..24)).min(bytes.len()));
                bytes.drain(at..end.max(at));
            }
            9..11 => {
                let lines = line_starts(bytes);
                let (from, to) = line_range(bytes, &lines, rng.random_range(0..lines.len()));
                let line = bytes[from..to].to_vec();
                let target = lines[rng.random_range(0..lines.len())];
                bytes.splice(target..target, line);
            }
            11 => {
                let lines = line_starts(bytes);
                let (from, to) = line_range(bytes, &lines, rng.random_range(0..lines.len()));
                bytes.drain(from..to);
            }
            12 => {
                let lines = line_starts(bytes);
                let a = line_range(bytes, &lines, rng.random_range(0..lines.len()));
                let b = line_range(bytes, &lines, rng.random_range(0..lines.len()));
                let (first, second) = if a.0 <= b.0 { (a, b) } else { (b, a) };
                if first.1 <= second.0 {
                    let mut swapped = bytes[..first.0].to_vec();
                    swapped.extend_from_slice(&bytes[second.0..second.1]);
                    swapped.extend_from_slice(&bytes[first.1..second.0]);
                    swapped.extend_from_slice(&bytes[first.0..first.1]);
                    swapped.extend_from_slice(&bytes[second.1..]);
                    *bytes = swapped;
                }
            }
            13..15 => {
                let lines = line_starts(bytes);
                let start = lines[rng.random_range(0..lines.len())];
                match rng.random_range(0..4) {
                    0 => {
                        bytes.insert(start, b'\t');
                    }
                    1 if bytes.get(start) == Some(&b' ') => {
                        bytes.remove(start);
                    }
                    _ => {
                        bytes.splice(start..start, *b"  ");
                    }
                }
            }
            15..17 => {
                if let Some((from, to)) = pick_run(rng, bytes, |b| b.is_ascii_digit()) {
                    let number = NUMBERS[rng.random_range(0..NUMBERS.len())];
                    bytes.splice(from..to, number.bytes());
                }
            }
            17..20 => {
                let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
                if let (Some((from, to)), Some((a, b))) =
                    (pick_run(rng, bytes, word), pick_run(rng, bytes, word))
                {
                    let replacement = bytes[a..b].to_vec();
                    bytes.splice(from..to, replacement);
                }
            }
            20..22 => {
                let line = &corpus.lines[rng.random_range(0..corpus.lines.len())];
                let lines = line_starts(bytes);
                let target = lines[rng.random_range(0..lines.len())];
                let mut spliced = line.clone();
                spliced.push(b'\n');
                bytes.splice(target..target, spliced);
            }
            22 => {
                if !bytes.is_empty() {
                    let i = rng.random_range(0..bytes.len());
                    bytes[i] ^= 1 << rng.random_range(0..8);
                }
            }
            _ => {
                if rng.random_bool(0.3) {
                    bytes.truncate(at);
                }
            }
        }
    }
}

/// The nearest character boundary at or before `at` (bytes that are not
/// UTF-8 continuation bytes).
pub(super) fn boundary(bytes: &[u8], at: usize) -> usize {
    let mut at = at.min(bytes.len());
    while at > 0 && at < bytes.len() && bytes[at] & 0xC0 == 0x80 {
        at -= 1;
    }
    at
}

/// Where each line starts.
pub(super) fn line_starts(bytes: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1)
                .filter(|&i| i < bytes.len()),
        )
        .collect()
}

/// Line `n`, with its newline.
pub(super) fn line_range(bytes: &[u8], starts: &[usize], n: usize) -> (usize, usize) {
    let from = starts[n];
    let to = starts.get(n + 1).copied().unwrap_or(bytes.len());
    (from, to)
}

/// A random maximal run of bytes for which `class` holds.
pub(super) fn pick_run(
    rng: &mut ChaCha8Rng,
    bytes: &[u8],
    class: impl Fn(u8) -> bool,
) -> Option<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if class(bytes[i]) {
            let start = i;
            while i < bytes.len() && class(bytes[i]) {
                i += 1;
            }
            runs.push((start, i));
        } else {
            i += 1;
        }
    }
    (!runs.is_empty()).then(|| runs[rng.random_range(0..runs.len())])
}
