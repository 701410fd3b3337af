//! The run manifest: what produced a partition (pipeline hash, Vane
//! version, as-of, the settings in effect, every input file with size and
//! modification time), row counts and stage timings. Timings make it the
//! one output file that differs between identical runs.

use chrono::NaiveDate;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::inputs::InputFile;
use super::settings::RunSettings;
use crate::check::model::Model;
use crate::sources::SourceLocation;

/// Everything the manifest records.
pub struct ManifestInput<'a> {
    /// The pipeline.
    pub model: &'a Model,
    /// The settings the run used.
    pub settings: &'a RunSettings,
    /// Each source's location and the files it listed.
    pub inputs: &'a [(&'a SourceLocation, Vec<InputFile>)],
    /// The night the previous health came from, if any.
    pub previous_night: Option<NaiveDate>,
    /// The hash of the canonical definitions the night was scored by.
    pub definitions_sha256: &'a str,
    /// The partitions the engine split work into.
    pub partitions: usize,
    /// `(table, file name, rows)` of the outputs.
    pub files: &'a [(&'a str, &'a str, usize)],
    /// Actions held back by cooldowns, per playbook.
    pub held_back: &'a [(String, usize)],
    /// `(source, rows)` read with a key that is no entity's.
    pub orphan_rows: &'a [(String, u64)],
    /// Per declared column, the values that did not parse.
    pub parse_failures: &'a [super::parsing::ParseFailures],
    /// Stage timings in milliseconds.
    pub timings: &'a [(String, f64)],
}

/// `{source: {column: {failures, rows, example}}}` for the declared columns.
fn parse_failures(counted: &[super::parsing::ParseFailures]) -> Value {
    let mut sources = serde_json::Map::new();
    for c in counted {
        let columns = sources
            .entry(c.source.clone())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Value::Object(columns) = columns {
            columns.insert(
                c.column.clone(),
                json!({ "failures": c.failures, "rows": c.rows, "example": c.example }),
            );
        }
    }
    Value::Object(sources)
}

/// The SHA-256 of a text, in hex.
fn sha256_hex(text: &[u8]) -> String {
    Sha256::digest(text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn day(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// The manifest as pretty JSON.
pub fn manifest(input: &ManifestInput<'_>) -> String {
    let inputs: Vec<Value> = input
        .inputs
        .iter()
        .map(|(location, files)| {
            json!({
                "source": location.name,
                "path": location.path.display().to_string(),
                "format": location.format.name(),
                "files": files.iter().map(|f| json!({
                    "path": f.path,
                    "bytes": f.bytes,
                    "modified": f.modified,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let outputs: Vec<Value> = input
        .files
        .iter()
        .map(|(table, file, rows)| json!({ "table": table, "file": file, "rows": rows }))
        .collect();
    let timings: serde_json::Map<String, Value> = input
        .timings
        .iter()
        .map(|(stage, ms)| (stage.clone(), json!((ms * 1000.0).round() / 1000.0)))
        .collect();
    let settings = input.settings;
    let value = json!({
        "vane_version": env!("CARGO_PKG_VERSION"),
        "pipeline": {
            "name": input.model.name,
            "path": input.model.file.name,
            "sha256": sha256_hex(input.model.file.text.as_bytes()),
            "definitions_sha256": input.definitions_sha256,
        },
        "as_of": day(settings.as_of),
        "window_end_exclusive": format!("{}T00:00:00Z", day(settings.as_of)),
        "previous_scorecard": input.previous_night.map(day),
        "format": settings.format.name(),
        "inputs": inputs,
        "outputs": outputs,
        "actions_suppressed_by_cooldown": input.held_back.iter().map(|(_, n)| n).sum::<usize>(),
        "actions_held_back": input.held_back.iter().map(|(p, n)| (p.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "orphan_rows": input.orphan_rows.iter().map(|(s, n)| (s.clone(), json!(n))).collect::<serde_json::Map<String, Value>>(),
        "parse_failures": parse_failures(input.parse_failures),
        "backfill": settings.backfill.as_ref().map(|n| json!({
            "from": day(n.from),
            "to": day(n.to),
            "every_days": n.every_days,
        })),
        "settings": {
            "engine": settings.engine,
            "threads": settings.threads,
            "partitions": input.partitions,
            "memory_limit_bytes": settings.memory_limit,
            "csv_formulas": if settings.raw_csv { "kept" } else { "neutralised" },
        },
        "timings_ms": timings,
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}
