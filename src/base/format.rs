//! The file formats sources and outputs are read and written in.

/// File formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileFormat {
    /// Apache Parquet.
    Parquet,
    /// Comma-separated values with a header row.
    Csv,
    /// JSON lines (one object per line).
    JsonLines,
    /// Arrow IPC files.
    Arrow,
}

impl FileFormat {
    /// The format's name in pipeline files.
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Parquet => "parquet",
            FileFormat::Csv => "csv",
            FileFormat::JsonLines => "jsonl",
            FileFormat::Arrow => "arrow",
        }
    }

    /// Parse a format name.
    pub fn from_name(name: &str) -> Option<FileFormat> {
        match name {
            "parquet" => Some(FileFormat::Parquet),
            "csv" => Some(FileFormat::Csv),
            "jsonl" | "json" | "ndjson" => Some(FileFormat::JsonLines),
            "arrow" | "ipc" | "feather" => Some(FileFormat::Arrow),
            _ => None,
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Parquet => "parquet",
            FileFormat::Csv => "csv",
            FileFormat::JsonLines => "jsonl",
            FileFormat::Arrow => "arrow",
        }
    }

    /// Guess a format from a path's extension (`.parquet`, `.csv`, …).
    pub fn from_path(path: &str) -> Option<FileFormat> {
        let lower = path.to_ascii_lowercase();
        let lower = lower.trim_end_matches(['/', '*']);
        let ext = lower.rsplit('.').next()?;
        match ext {
            "parquet" | "pq" => Some(FileFormat::Parquet),
            "csv" => Some(FileFormat::Csv),
            "jsonl" | "ndjson" | "json" => Some(FileFormat::JsonLines),
            "arrow" | "ipc" | "feather" => Some(FileFormat::Arrow),
            _ => None,
        }
    }
}
