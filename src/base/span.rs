//! Pipeline files and byte spans into them.

use std::path::{Path, PathBuf};

/// A half-open byte range `[start, end)` into one [`SourceFile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start,
            end: end.max(start),
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A pipeline file's name (as the user gave it) and text, with a line index
/// for turning byte offsets into `line:column`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The path as given on the command line; shown in diagnostics.
    pub name: String,
    /// The full text.
    pub text: String,
    /// Where the file lives, to resolve relative data paths against.
    pub path: PathBuf,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Wrap a file's text.
    pub fn new(path: impl AsRef<Path>, text: String) -> Self {
        let path = path.as_ref().to_path_buf();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            name: path.display().to_string(),
            text,
            path,
            line_starts,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        (line + 1, column + 1)
    }

    /// Byte offset of a 1-based line and column (in characters), clamped to the file.
    pub fn offset_of(&self, line: usize, column: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        rest.char_indices()
            .nth(column.saturating_sub(1))
            .map(|(i, _)| start + i)
            .unwrap_or(self.text.len())
    }

    /// The text under a span (empty when out of range).
    pub fn slice(&self, span: Span) -> &str {
        let end = span.end.min(self.text.len());
        self.text.get(span.start.min(end)..end).unwrap_or("")
    }

    /// The folder relative data paths are resolved against.
    pub fn dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// A path written in the file (a source's `path:`, `outputs.dir`),
    /// resolved against the file's folder.
    pub fn resolve(&self, relative: &str) -> PathBuf {
        clean_path(&self.dir().join(relative))
    }
}

/// `dir/../x` → `x`: resolve `.` and `..` lexically, so paths in messages
/// and manifests read the way a person would write them.
fn clean_path(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                let can_pop = matches!(out.components().next_back(), Some(Component::Normal(_)));
                if can_pop {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_columns_are_one_based_and_count_characters() {
        let file = SourceFile::new("x.yaml", "ab\ncé d\n".to_string());
        assert_eq!(file.line_column(0), (1, 1));
        assert_eq!(file.line_column(3), (2, 1));
        assert_eq!(file.line_column(6), (2, 3));
        assert_eq!(file.offset_of(2, 3), 6);
    }

    #[test]
    fn paths_resolve_against_the_files_folder_lexically() {
        let file = SourceFile::new("pipelines/p.yaml", String::new());
        assert_eq!(
            file.resolve("../examples/data/events.parquet"),
            PathBuf::from("examples/data/events.parquet")
        );
        assert_eq!(file.resolve("./x.csv"), PathBuf::from("pipelines/x.csv"));
        assert_eq!(
            SourceFile::new("p.yaml", String::new()).resolve("../up.csv"),
            PathBuf::from("../up.csv")
        );
    }
}
