//! `vane backtest`: every entity-night a backfill would score, paired with
//! whether the outcome followed within its horizon, recounted here from
//! the backfill's own scorecards and the outcome's source file; bad input
//! gets diagnostics; the report is reproducible.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use vane::backtest::Bootstrap;
use vane::commands::{self, BacktestFormat, Exit};
use vane::diagnostics::Code;
use vane::run::{Nights, RunOptions};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn date(text: &str) -> NaiveDate {
    text.parse().expect("date")
}

fn request(outcome: &str, from: &str, to: &str) -> vane::BacktestRequest {
    vane::BacktestRequest {
        nights: Nights {
            from: date(from),
            to: date(to),
            every_days: 14,
            force: false,
        },
        outcome: outcome.to_string(),
        bootstrap: Bootstrap {
            resamples: 50,
            seed: 7,
        },
        suggest_weights: true,
    }
}

fn options(out: &Path) -> RunOptions {
    RunOptions {
        out: Some(out.to_path_buf()),
        threads: Some(2),
        ..RunOptions::default()
    }
}

fn json_report(request: &vane::BacktestRequest, out: &Path) -> serde_json::Value {
    let report = commands::backtest(
        &repo("pipelines/customer_health.yaml"),
        &options(out),
        request,
        BacktestFormat::Json,
        None,
    );
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    serde_json::from_str(&report.output).expect("JSON")
}

fn read(path: &Path) -> Vec<RecordBatch> {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let ctx = SessionContext::new();
        ctx.read_parquet(path.display().to_string(), ParquetReadOptions::default())
            .await
            .expect("read")
            .collect()
            .await
            .expect("collect")
    })
}

fn texts(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    let array = cast(batch.column_by_name(column).expect(column), &DataType::Utf8).expect("text");
    array
        .as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

fn micros(batch: &RecordBatch, column: &str) -> Vec<i64> {
    let time = cast(
        batch.column_by_name(column).expect(column),
        &DataType::Timestamp(TimeUnit::Microsecond, None),
    )
    .and_then(|t| cast(&t, &DataType::Int64))
    .expect("time");
    let values = time.as_primitive::<Int64Type>();
    (0..values.len()).map(|i| values.value(i)).collect()
}

#[test]
fn every_scored_entity_night_is_paired_with_the_outcome_that_followed() {
    let out = tempfile::tempdir().expect("temp dir");
    let (from, to) = ("2025-12-07", "2026-07-26");
    let request = request("churned", from, to);
    // The nights a backfill writes are the nights the backtest scores.
    let report = commands::backfill(
        &repo("pipelines/customer_health.yaml"),
        &options(out.path()),
        &request.nights,
        &mut |_, _| {},
    );
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    let mut churns: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for batch in read(&repo("examples/data/subscription_events.parquet")) {
        let (accounts, kinds, times) = (
            texts(&batch, "account_id"),
            texts(&batch, "kind"),
            micros(&batch, "event_time"),
        );
        for ((account, kind), time) in accounts.into_iter().zip(kinds).zip(times) {
            if kind.as_deref() == Some("churn") {
                churns.entry(account.expect("key")).or_default().push(time);
            }
        }
    }
    let horizon = 90 * 86_400_000_000_i64;
    let (mut entity_nights, mut outcomes) = (0, 0);
    let mut per_band: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for night in request.nights.dates().expect("nights") {
        let start = night
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_micros();
        let scorecard = out
            .path()
            .join(format!("as_of={night}"))
            .join("scorecard.parquet");
        for batch in read(&scorecard) {
            for (account, band) in texts(&batch, "account_id")
                .into_iter()
                .zip(texts(&batch, "band"))
            {
                let followed = churns
                    .get(&account.expect("key"))
                    .is_some_and(|times| times.iter().any(|t| *t >= start && *t - start < horizon));
                entity_nights += 1;
                outcomes += u64::from(followed);
                let entry = per_band.entry(band.unwrap_or_default()).or_default();
                entry.0 += 1;
                entry.1 += u64::from(followed);
            }
        }
    }
    let json = json_report(&request, out.path());
    assert_eq!(json["entity_nights"], entity_nights);
    assert_eq!(json["outcomes"], outcomes);
    assert!(outcomes > 0, "the example has churns in the range");
    for band in json["bands"].as_array().expect("bands") {
        let name = band["band"].as_str().expect("name");
        let (rows, hits) = per_band.get(name).copied().unwrap_or_default();
        assert_eq!(band["entity_nights"], rows, "{name}");
        assert_eq!(band["outcomes"], hits, "{name}");
    }
    let base = json["base_rate"].as_f64().expect("base rate");
    assert!((base - outcomes as f64 / entity_nights as f64).abs() < 1e-12);
    let auc = json["auc"]["value"].as_f64().expect("AUC");
    let (low, high) = (
        json["auc"]["low"].as_f64().expect("low"),
        json["auc"]["high"].as_f64().expect("high"),
    );
    assert!(low <= auc && auc <= high, "{low} ≤ {auc} ≤ {high}");
    // Weights fitted on the earlier nights, judged on the later ones.
    let suggestion = &json["suggestion"];
    assert_eq!(
        suggestion["weights"].as_array().expect("weights").len(),
        11,
        "one per indicator"
    );
    let fitted = suggestion["fitted"].as_u64().expect("fitted");
    assert_eq!(
        fitted + suggestion["judged"].as_u64().expect("judged"),
        entity_nights
    );
    // Nothing was written by the backtest: only the backfill's nights.
    let written = std::fs::read_dir(out.path()).expect("out").count();
    assert_eq!(written, request.nights.dates().expect("nights").len());
    // The same request gives the same report, byte for byte.
    assert_eq!(json, json_report(&request, out.path()));
}

#[test]
fn an_entity_date_outcome_counts_the_nights_before_it() {
    let out = tempfile::tempdir().expect("temp dir");
    let json = json_report(&request("left", "2025-12-07", "2026-07-26"), out.path());
    assert!(json["outcomes"].as_u64().expect("outcomes") > 0);
    let markdown = commands::backtest(
        &repo("pipelines/customer_health.yaml"),
        &options(out.path()),
        &request("left", "2025-12-07", "2026-07-26"),
        BacktestFormat::Markdown,
        None,
    );
    assert!(
        markdown.output.contains("## By band"),
        "{}",
        markdown.output
    );
    assert!(!markdown.output.contains("NaN"), "{}", markdown.output);
}

#[test]
fn bad_requests_are_diagnostics() {
    let out = tempfile::tempdir().expect("temp dir");
    let run = |request: &vane::BacktestRequest| {
        commands::backtest(
            &repo("pipelines/customer_health.yaml"),
            &options(out.path()),
            request,
            BacktestFormat::Markdown,
            None,
        )
    };
    let unknown = run(&request("churn", "2026-01-04", "2026-03-01"));
    assert_eq!(unknown.exit, Exit::Error);
    assert_eq!(unknown.diagnostics[0].code, Code::InvalidArgument);
    assert!(
        unknown.diagnostics[0]
            .help
            .as_deref()
            .is_some_and(|h| h.contains("churned")),
        "{:?}",
        unknown.diagnostics
    );
    let censored = run(&request("churned", "2026-09-06", "2026-10-25"));
    assert_eq!(censored.exit, Exit::Error);
    assert!(
        censored.diagnostics[0]
            .message
            .contains("horizon past the end of the data"),
        "{:?}",
        censored.diagnostics
    );
    let backwards = run(&request("churned", "2026-03-01", "2026-01-04"));
    assert_eq!(backwards.exit, Exit::Error);
    assert!(
        std::fs::read_dir(out.path()).expect("out").next().is_none(),
        "nothing written"
    );
}

#[test]
fn the_report_matches_an_independent_duckdb_computation() {
    let Some(python) = crate::support::python_with_duckdb() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let nights = dir.path().join("nights");
    let request = vane::BacktestRequest {
        nights: Nights {
            every_days: 7,
            ..request("churned", "2025-11-02", "2026-07-26").nights
        },
        ..request("churned", "2025-11-02", "2026-07-26")
    };
    let report = commands::backfill(
        &repo("pipelines/customer_health.yaml"),
        &options(&nights),
        &request.nights,
        &mut |_, _| {},
    );
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    let json = dir.path().join("report.json");
    let report = commands::backtest(
        &repo("pipelines/customer_health.yaml"),
        &options(&nights),
        &request,
        BacktestFormat::Json,
        Some(&json),
    );
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    crate::support::run_differential(
        &python,
        &repo("tests/differential/backtest.py"),
        &[
            nights.as_os_str(),
            repo("examples/data/subscription_events.parquet").as_os_str(),
            std::ffi::OsStr::new("90"),
            json.as_os_str(),
        ],
    );
}

#[test]
fn diff_shows_base_and_head_backtests_side_by_side() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = repo("examples/data");
    let text = std::fs::read_to_string(repo("pipelines/customer_health.yaml"))
        .expect("pipeline")
        .replace("../examples/data", &data.display().to_string());
    let (base, head) = (dir.path().join("base.yaml"), dir.path().join("head.yaml"));
    std::fs::write(&base, &text).expect("base");
    std::fs::write(&head, text.replace("sentiment: 15", "sentiment: 40")).expect("head");
    let diff = |format| {
        commands::diff(
            &commands::Base::File(base.clone()),
            &head,
            &commands::DiffOptions {
                data: true,
                run: RunOptions {
                    as_of: Some(date("2026-11-01")),
                    ..options(&dir.path().join("out"))
                },
                format,
                backtest: Some(request("churned", "2025-12-07", "2026-07-26")),
            },
        )
    };
    let markdown = diff(commands::DiffFormat::Markdown);
    assert_eq!(markdown.exit, Exit::Findings, "{:?}", markdown.diagnostics);
    for wanted in [
        "## Backtest: does health predict `churned` within 90d?",
        "| AUC of health |",
        "| precision of red |",
        "### Indicators alone (AUC)",
        "| `nps` |",
        "### Playbooks (lift over the base rate, firings)",
    ] {
        assert!(
            markdown.output.contains(wanted),
            "{wanted}\n{}",
            markdown.output
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&diff(commands::DiffFormat::Json).output).expect("JSON");
    let (base_auc, head_auc) = (
        &json["backtest"]["base"]["auc"]["value"],
        &json["backtest"]["head"]["auc"]["value"],
    );
    assert!(base_auc.is_f64() && head_auc.is_f64(), "{json}");
    assert_ne!(
        base_auc, head_auc,
        "another weight ranks entities differently"
    );
}

/// A copy of the example pipeline, changed by `edit`, reading the example
/// data; backtested as JSON and as Markdown.
fn edited_backtest(
    edit: impl Fn(String) -> String,
    request: &vane::BacktestRequest,
) -> (serde_json::Value, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = repo("examples/data");
    let text = std::fs::read_to_string(repo("pipelines/customer_health.yaml"))
        .expect("pipeline")
        .replace("../examples/data", &data.display().to_string());
    let pipeline = dir.path().join("edited.yaml");
    std::fs::write(&pipeline, edit(text)).expect("pipeline");
    let run = |format| {
        let report = commands::backtest(
            &pipeline,
            &options(&dir.path().join("out")),
            request,
            format,
            None,
        );
        assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
        report.output
    };
    let json = serde_json::from_str(&run(BacktestFormat::Json)).expect("JSON");
    let markdown = run(BacktestFormat::Markdown);
    assert!(
        !markdown.contains("NaN") && !markdown.contains("inf"),
        "{markdown}"
    );
    (json, markdown)
}

#[test]
fn an_outcome_that_never_happens_says_why_its_figures_are_undefined() {
    let (json, markdown) = edited_backtest(
        |text| text.replace("where: kind = 'contraction'", "where: kind = 'refund'"),
        &request("contracted", "2026-02-01", "2026-07-26"),
    );
    assert_eq!(json["outcomes"], 0);
    assert!(json["auc"]["value"].is_null() && json["flags"][0]["recall"].is_null());
    assert!(
        json["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("never followed")),
        "{}",
        json["notes"]
    );
    assert!(markdown.contains("never followed"), "{markdown}");
}

#[test]
fn an_outcome_that_always_happens_says_why_its_figures_are_undefined() {
    // The busiest account, and an outcome that is any product event within
    // 30 days: it follows every night.
    let (json, markdown) = edited_backtest(
        |text| {
            text.replace(
                "  population: signed_at < as_of and (churned_at is null or churned_at >= as_of)",
                "  population: account_id = 'A00298'",
            )
            .replace(
                "outcomes:\n",
                "outcomes:\n  used:\n    from: events\n    horizon: 30d\n",
            )
        },
        &request("used", "2026-02-01", "2026-07-26"),
    );
    let nights = json["entity_nights"].as_u64().expect("entity-nights");
    assert!(nights >= 12, "{json}");
    assert_eq!(json["outcomes"].as_u64(), Some(nights));
    assert_eq!(json["base_rate"], 1.0);
    assert!(json["auc"]["value"].is_null(), "{}", json["auc"]);
    assert!(
        json["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("followed every entity-night")),
        "{}",
        json["notes"]
    );
    assert!(
        markdown.contains("followed every entity-night"),
        "{markdown}"
    );
}
