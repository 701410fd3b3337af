//! The run manifest: what produced a partition (pipeline hash, Vane
//! version, as-of, every input file with size and modification time), row
//! counts and stage timings. Timings make it the one output file that
//! differs between identical runs.

use futures::TryStreamExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::execute::{Prepared, RunOptions};
use super::sources::SourceLocation;
use crate::check::model::Model;

/// Everything the manifest records.
pub struct ManifestInput<'a> {
    /// The pipeline.
    pub model: &'a Model,
    /// The prepared run.
    pub prepared: &'a Prepared,
    /// `(table, file name, rows)` of the outputs.
    pub files: [(&'a str, &'a str, usize); 2],
    /// Actions held back by cooldowns.
    pub suppressed: usize,
    /// Stage timings in milliseconds.
    pub timings: &'a [(String, f64)],
    /// The run's options.
    pub options: &'a RunOptions,
}

/// The SHA-256 of a text, in hex.
pub fn sha256_hex(text: &[u8]) -> String {
    Sha256::digest(text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn input_files(prepared: &Prepared, location: &SourceLocation) -> Value {
    let listed = async {
        let absolute = std::path::absolute(&location.path).ok()?;
        let mut text = absolute.to_string_lossy().into_owned();
        if absolute.is_dir() && !text.ends_with('/') {
            text.push('/');
        }
        let url = datafusion::datasource::listing::ListingTableUrl::parse(text).ok()?;
        let store = prepared.ctx.runtime_env().object_store(&url).ok()?;
        let state = prepared.ctx.state();
        let stream = url.list_all_files(&state, store.as_ref(), "").await.ok()?;
        let mut files: Vec<_> = stream.try_collect().await.ok()?;
        files.sort_by(|a, b| a.location.cmp(&b.location));
        Some(
            files
                .into_iter()
                .map(|f| {
                    json!({
                        "path": format!("/{}", f.location),
                        "bytes": f.size,
                        "modified": f.last_modified.to_rfc3339(),
                    })
                })
                .collect::<Vec<_>>(),
        )
    };
    json!({
        "source": location.name,
        "path": location.path.display().to_string(),
        "format": location.format.name(),
        "files": listed.await.unwrap_or_default(),
    })
}

/// The manifest as pretty JSON.
pub async fn manifest(input: &ManifestInput<'_>) -> String {
    let mut inputs = Vec::new();
    for location in &input.prepared.locations {
        inputs.push(input_files(input.prepared, location).await);
    }
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
    let value = json!({
        "vane_version": env!("CARGO_PKG_VERSION"),
        "pipeline": {
            "name": input.model.name,
            "path": input.model.file.name,
            "sha256": sha256_hex(input.model.file.text.as_bytes()),
        },
        "as_of": input.prepared.as_of.format("%Y-%m-%d").to_string(),
        "window_end_exclusive": format!("{}T00:00:00Z", input.prepared.as_of.format("%Y-%m-%d")),
        "previous_scorecard": input.prepared.previous.as_ref().map(|(d, _)| d.format("%Y-%m-%d").to_string()),
        "format": input.prepared.format.name(),
        "inputs": inputs,
        "outputs": outputs,
        "actions_suppressed_by_cooldown": input.suppressed,
        "settings": {
            "threads": input.options.threads,
            "memory_limit_bytes": input.options.memory_limit,
        },
        "timings_ms": timings,
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}
