//! The backtest summary on the overview: read from the JSON report that
//! `vane backtest --format json --out FILE` writes — by default the file
//! `backtest.json` in the output folder — and never recomputed, so the
//! report stays a rendering of files already written.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::base::display::{format_number, with_unit};
use crate::diagnostics::{Code, Diagnostic};

/// The file a backtest's JSON report is looked for in the output folder.
pub const DEFAULT_FILE: &str = "backtest.json";

/// What the overview shows of a backtest, as text.
#[derive(Debug, Clone, Serialize)]
pub struct BacktestSummary {
    /// The outcome measured (`churned`).
    pub outcome: String,
    /// Its horizon (`90d`).
    pub horizon: String,
    /// The nights: first, last, step and how many were scored.
    pub nights: String,
    /// Entity-nights measured and the base rate of the outcome.
    pub measured: String,
    /// The AUC of health with its interval ("0.751 (0.672–0.834)").
    pub auc: String,
    /// Per band, lowest first.
    pub bands: Vec<BacktestBand>,
    /// Indicators and metrics the backtest found no signal in.
    pub no_signal: Vec<String>,
    /// The file it was read from.
    pub file: String,
}

/// One band's row of the backtest.
#[derive(Debug, Clone, Serialize)]
pub struct BacktestBand {
    /// The band.
    pub band: String,
    /// Entity-nights in it.
    pub entity_nights: String,
    /// Of those, followed by the outcome.
    pub outcomes: String,
    /// The outcome rate.
    pub rate: String,
    /// The rate over the base rate.
    pub lift: String,
    /// The share of all outcomes that were in it.
    pub share: String,
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_string(),
        other => other.to_string(),
    }
}

fn count(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| "—".to_string(), |n| with_unit(n, None))
}

fn percent(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| "—".to_string(), |n| with_unit(n, Some("percent")))
}

fn ratio(value: &Value, digits: i64) -> String {
    value
        .as_f64()
        .and_then(|n| format_number(n, digits))
        .unwrap_or_else(|| "—".to_string())
}

/// The summary of the backtest report in `path`. `Ok(None)` when `path`
/// does not exist and was not asked for (`required` false); a file that
/// is not a backtest's JSON report is an error naming it.
pub fn read_backtest(path: &Path, required: bool) -> Result<Option<BacktestSummary>, Diagnostic> {
    let unreadable = |why: String| {
        Diagnostic::error(
            Code::DataUnreadable,
            format!("cannot read the backtest {}: {why}", path.display()),
        )
        .help("write it with `vane backtest PIPELINE --from D --to D --outcome NAME --format json --out FILE`")
    };
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(None),
        Err(e) => return Err(unreadable(e.to_string())),
    };
    let report: Value = serde_json::from_slice(&bytes).map_err(|e| unreadable(e.to_string()))?;
    let (Some(outcome), Some(nights), Some(auc)) = (
        report["outcome"].as_str(),
        report["nights"].as_object(),
        report["auc"].as_object(),
    ) else {
        return Err(unreadable(
            "it is not the JSON report of `vane backtest` (no outcome, nights or AUC)".into(),
        ));
    };
    let auc = match (
        auc.get("value").and_then(Value::as_f64),
        auc.get("low").and_then(Value::as_f64),
        auc.get("high").and_then(Value::as_f64),
    ) {
        (Some(v), Some(low), Some(high)) => format!("{v:.3} ({low:.3}–{high:.3})"),
        (Some(v), _, _) => format!("{v:.3}"),
        _ => "undefined".to_string(),
    };
    let every = nights.get("every_days").map_or("—".to_string(), text);
    let bands = report["bands"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| BacktestBand {
            band: text(&b["band"]),
            entity_nights: count(&b["entity_nights"]),
            outcomes: count(&b["outcomes"]),
            rate: percent(&b["rate"]),
            lift: format!("{}×", ratio(&b["lift"], 2)),
            share: percent(&b["share_of_outcomes"]),
        })
        .collect();
    let no_signal = ["indicators", "metrics"]
        .iter()
        .flat_map(|kind| report[*kind].as_array().into_iter().flatten())
        .filter(|s| s["verdict"].as_str() == Some("no signal"))
        .filter_map(|s| s["name"].as_str().map(str::to_string))
        .collect();
    Ok(Some(BacktestSummary {
        outcome: outcome.to_string(),
        horizon: text(&report["horizon"]),
        nights: format!(
            "{} to {}, every {every} days: {} nights scored",
            nights.get("from").map_or("—".to_string(), text),
            nights.get("to").map_or("—".to_string(), text),
            nights.get("scored").map_or("—".to_string(), text),
        ),
        measured: format!(
            "{} entity-nights, {} followed by the outcome (base rate {})",
            count(&report["entity_nights"]),
            count(&report["outcomes"]),
            percent(&report["base_rate"]),
        ),
        auc,
        bands,
        no_signal,
        file: path.display().to_string(),
    }))
}
