//! `vane changes`: two nights of the example written to a temporary output
//! folder and compared — the band matrix against the scorecards, a mover
//! against the stored healths, the definition/data split against a night
//! scored by the new definitions, every output format, and the diagnostics
//! for nights that are not there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use serde_json::Value;
use vane::base::FileFormat;
use vane::commands::{self, ChangesFormat, ChangesOptions, Exit};
use vane::diagnostics::{Code, render_human};
use vane::run::RunOptions;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn date(text: &str) -> NaiveDate {
    text.parse().expect("date")
}

/// The example pipeline with its data paths made absolute.
fn example_pipeline() -> String {
    std::fs::read_to_string(repo("pipelines/customer_health.yaml"))
        .expect("example")
        .replace(
            "../examples/data",
            &repo("examples/data").display().to_string(),
        )
}

/// A temporary folder with a pipeline file and an output folder.
struct Book {
    dir: tempfile::TempDir,
}

impl Book {
    fn new() -> Book {
        Book {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn pipeline(&self) -> PathBuf {
        self.dir.path().join("p.yaml")
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// Write `text` as the pipeline and run it for `as_of` into the output folder.
    fn night(&self, text: &str, as_of: &str, format: FileFormat) {
        std::fs::write(self.pipeline(), text).expect("write pipeline");
        let options = RunOptions {
            as_of: Some(date(as_of)),
            out: Some(self.out()),
            format: Some(format),
            threads: Some(2),
            ..RunOptions::default()
        };
        let report = commands::run(&self.pipeline(), &options, &|_| {});
        assert_eq!(
            report.exit,
            Exit::Ok,
            "{}",
            render_human(&report.diagnostics, false)
        );
    }

    fn changes(&self, since: &str, as_of: Option<&str>, format: ChangesFormat) -> commands::Report {
        commands::changes(
            &self.pipeline(),
            &ChangesOptions {
                since: date(since),
                as_of: as_of.map(date),
                run: RunOptions {
                    out: Some(self.out()),
                    threads: Some(2),
                    ..RunOptions::default()
                },
                format,
                top: 10,
            },
        )
    }

    /// The report as JSON; the command must succeed.
    fn json(&self, since: &str, as_of: Option<&str>) -> Value {
        let report = self.changes(since, as_of, ChangesFormat::Json);
        assert_eq!(
            report.exit,
            Exit::Ok,
            "{}",
            render_human(&report.diagnostics, false)
        );
        serde_json::from_str(&report.output).expect("the JSON output parses")
    }

    /// A night's scorecard, read with the Parquet reader (not Vane's).
    fn scorecard(&self, as_of: &str) -> Vec<RecordBatch> {
        crate::support::read_parquet(&self.out().join(format!("as_of={as_of}/scorecard.parquet")))
    }
}

/// `column` of every row by key, as text ("" for null).
fn by_key(batches: &[RecordBatch], column: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for batch in batches {
        let keys = batch.column_by_name("account_id").expect("key");
        let values = batch.column_by_name(column).expect("column");
        for row in 0..batch.num_rows() {
            let value = if values.is_null(row) {
                String::new()
            } else {
                array_value_to_string(values, row).expect("text")
            };
            out.insert(array_value_to_string(keys, row).expect("key"), value);
        }
    }
    out
}

fn counts(values: impl Iterator<Item = String>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for v in values {
        *out.entry(v).or_default() += 1;
    }
    out
}

fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is a number"))
}

/// Whether a number read from the JSON output is `expected`: serde_json
/// parses floats to within an ulp or so, not always exactly.
fn same(actual: &Value, expected: f64) -> bool {
    (number(actual) - expected).abs() <= 1e-9 * expected.abs().max(1.0)
}

#[test]
fn the_band_matrix_adds_up_to_each_nights_scorecard_and_movers_are_the_stored_healths_apart() {
    let book = Book::new();
    let text = example_pipeline();
    book.night(&text, "2026-10-25", FileFormat::Parquet);
    book.night(&text, "2026-11-01", FileFormat::Parquet);
    // --as-of defaults to the newest night.
    let json = book.json("2026-10-25", None);
    assert_eq!(json["as_of"], "2026-11-01");
    // Top-level keys in a fixed order.
    let report = book.changes("2026-10-25", None, ChangesFormat::Json);
    let keys: Vec<&str> = report
        .output
        .lines()
        .filter_map(|line| line.strip_prefix("  \""))
        .filter_map(|line| line.split_once('"').map(|(key, _)| key))
        .collect();
    assert_eq!(
        keys,
        [
            "pipeline",
            "entity",
            "output_folder",
            "since",
            "as_of",
            "definitions",
            "summary",
            "band_order",
            "band_transitions",
            "movers",
            "entered",
            "left",
            "playbooks",
            "metrics",
            "rollups"
        ]
    );
    assert_eq!(json["definitions"]["changed"], false);
    assert_eq!(json["definitions"]["split"], Value::Null);

    // Row sums are the older night's bands, column sums the newer night's.
    let (before, after) = (book.scorecard("2026-10-25"), book.scorecard("2026-11-01"));
    let (bands_before, bands_after) = (by_key(&before, "band"), by_key(&after, "band"));
    // The rollup `accounts` (by band) at both nights is each night's band count.
    let rollups = json["rollups"].as_array().expect("rollup rows");
    for (band, n) in counts(bands_before.values().cloned()) {
        let row = rollups
            .iter()
            .find(|r| {
                r["rollup"] == "accounts" && r["group"] == serde_json::json!([["band", band]])
            })
            .unwrap_or_else(|| panic!("accounts in {band}"));
        assert!(same(&row["before"], n as f64), "{row}");
    }
    for (band, n) in counts(bands_after.values().cloned()) {
        let row = rollups
            .iter()
            .find(|r| {
                r["rollup"] == "accounts" && r["group"] == serde_json::json!([["band", band]])
            })
            .unwrap_or_else(|| panic!("accounts in {band}"));
        assert!(same(&row["after"], n as f64), "{row}");
    }
    let mut rows: BTreeMap<String, u64> = BTreeMap::new();
    let mut columns: BTreeMap<String, u64> = BTreeMap::new();
    for t in json["band_transitions"].as_array().expect("matrix") {
        let n = t["entities"].as_u64().expect("count");
        let (from, to) = (
            t["from"].as_str().expect("from"),
            t["to"].as_str().expect("to"),
        );
        if from != "(entered)" {
            *rows.entry(from.to_string()).or_default() += n;
        }
        if to != "(left)" {
            *columns.entry(to.to_string()).or_default() += n;
        }
    }
    assert_eq!(rows, counts(bands_before.values().cloned()));
    assert_eq!(columns, counts(bands_after.values().cloned()));
    let summary = &json["summary"];
    assert_eq!(summary["entities_since"], bands_before.len());
    assert_eq!(summary["entities_as_of"], bands_after.len());
    let left: Vec<&str> = bands_before
        .keys()
        .filter(|k| !bands_after.contains_key(*k))
        .map(String::as_str)
        .collect();
    let reported_left: Vec<&str> = json["left"]
        .as_array()
        .expect("left")
        .iter()
        .map(|e| e["key"].as_str().expect("key"))
        .collect();
    assert_eq!(reported_left, left);
    assert!(
        !left.is_empty(),
        "the example loses an account in that week"
    );

    // Every mover's health is the stored one; the biggest comes first.
    let (health_before, health_after) = (by_key(&before, "health"), by_key(&after, "health"));
    let movers = json["movers"].as_array().expect("movers");
    let moved = health_before
        .iter()
        .filter(|(k, h)| health_after.get(*k).is_some_and(|a| a != *h))
        .count();
    assert_eq!(movers.len(), moved);
    assert_eq!(summary["health_changed"], moved);
    for mover in movers {
        let key = mover["key"].as_str().expect("key");
        let stored = |night: &BTreeMap<String, String>| -> f64 {
            night[key].parse().expect("stored health")
        };
        assert!(
            same(&mover["health_before"], stored(&health_before)),
            "{mover}"
        );
        assert!(
            same(&mover["health_after"], stored(&health_after)),
            "{mover}"
        );
        assert!(
            same(
                &mover["delta"],
                stored(&health_after) - stored(&health_before)
            ),
            "{mover}"
        );
        assert_eq!(
            mover["band_before"].as_str(),
            Some(bands_before[key].as_str())
        );
    }
    let sizes: Vec<(f64, &str)> = movers
        .iter()
        .map(|m| (number(&m["delta"]).abs(), m["key"].as_str().expect("key")))
        .collect();
    for pair in sizes.windows(2) {
        assert!(
            pair[0].0 > pair[1].0 || (pair[0].0 == pair[1].0 && pair[0].1 < pair[1].1),
            "by |delta| then key: {pair:?}"
        );
    }
    // The top mover's causes are indicators whose stored scores moved.
    let top = &movers[0];
    let key = top["key"].as_str().expect("key");
    let cause = &top["causes"][0];
    let indicator = cause["indicator"].as_str().expect("indicator");
    let column = format!("score__{indicator}");
    assert_ne!(by_key(&before, &column)[key], by_key(&after, &column)[key]);

    // Playbooks: firings in one night's actions file and not the other's.
    let fired = |as_of: &str| -> Vec<(String, String)> {
        let path = book.out().join(format!("as_of={as_of}/actions.parquet"));
        let file = std::fs::File::open(path).expect("actions");
        let batches: Vec<RecordBatch> =
            datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                file,
            )
            .expect("parquet")
            .build()
            .expect("reader")
            .collect::<Result<Vec<_>, _>>()
            .expect("batches");
        let mut out = Vec::new();
        for b in &batches {
            let (p, e) = (
                b.column_by_name("playbook").expect("playbook"),
                b.column_by_name("entity").expect("entity"),
            );
            for row in 0..b.num_rows() {
                out.push((
                    array_value_to_string(p, row).expect("text"),
                    array_value_to_string(e, row).expect("text"),
                ));
            }
        }
        out
    };
    let (was, now) = (fired("2026-10-25"), fired("2026-11-01"));
    let newly = now.iter().filter(|f| !was.contains(f)).count();
    let stopped = was.iter().filter(|f| !now.contains(f)).count();
    assert_eq!(summary["newly_firing"], newly);
    assert_eq!(summary["stopped_firing"], stopped);
    for change in json["playbooks"].as_array().expect("playbooks") {
        let playbook = change["playbook"].as_str().expect("playbook");
        for entity in change["newly_firing"].as_array().expect("keys") {
            let pair = (
                playbook.to_string(),
                entity.as_str().expect("key").to_string(),
            );
            assert!(now.contains(&pair) && !was.contains(&pair), "{pair:?}");
        }
    }

    // The Markdown names the same top mover and the matrix.
    let report = book.changes("2026-10-25", Some("2026-11-01"), ChangesFormat::Markdown);
    assert_eq!(report.exit, Exit::Ok);
    let markdown = &report.output;
    assert!(markdown.contains("### Band transitions"), "{markdown}");
    assert!(
        markdown.contains(&format!("| `{key}` |")),
        "{key} is listed: {markdown}"
    );
    assert!(
        markdown.contains(&format!("left ({}): `{}`", left.len(), left[0])),
        "{markdown}"
    );
}

#[test]
fn a_weight_changed_between_nights_is_named_and_each_move_splits_into_definition_and_data() {
    let book = Book::new();
    let original = example_pipeline();
    let reweighted = original.replace(
        "    score: ramp(value, 20%, 85%)\n    weight: 2",
        "    score: ramp(value, 20%, 85%)\n    weight: 5",
    );
    assert_ne!(original, reweighted);
    book.night(&original, "2026-10-25", FileFormat::Parquet);
    book.night(&reweighted, "2026-11-01", FileFormat::Parquet);
    let json = book.json("2026-10-25", None);
    let definitions = &json["definitions"];
    assert_eq!(definitions["changed"], true, "{definitions}");
    assert_ne!(definitions["since_sha256"], definitions["as_of_sha256"]);
    assert_eq!(definitions["as_of_sha256"], definitions["current_sha256"]);
    let split = &definitions["split"];
    assert_eq!(split["rescored"], "2026-10-25");
    assert_eq!(split["as_of_scored_by_current"], true);
    assert!(split["moved_by_definition"].as_u64().expect("count") > 0);

    // The re-scored night is the older night as the new definitions score it.
    let other = Book::new();
    other.night(&reweighted, "2026-10-25", FileFormat::Parquet);
    let rescored = by_key(&other.scorecard("2026-10-25"), "health");
    let stored = by_key(&book.scorecard("2026-10-25"), "health");
    let mut both_parts = 0;
    for mover in json["movers"].as_array().expect("movers") {
        let key = mover["key"].as_str().expect("key");
        let part = &mover["split"];
        if mover["delta"].is_null() {
            continue;
        }
        let rescored_health: f64 = rescored[key].parse().expect("health");
        assert!(same(&part["rescored_health"], rescored_health), "{mover}");
        let stored_health: f64 = stored[key].parse().expect("health");
        assert!(
            same(&part["definition"], rescored_health - stored_health),
            "{mover}"
        );
        let (definition, data) = (number(&part["definition"]), number(&part["data"]));
        assert!(
            (definition + data - number(&mover["delta"])).abs() < 1e-9,
            "{key}: {definition} + {data} is the whole move {}",
            mover["delta"]
        );
        if definition.abs() > 0.1 && data.abs() > 0.1 {
            both_parts += 1;
        }
    }
    assert!(both_parts > 0, "some accounts moved for both reasons");

    let report = book.changes("2026-10-25", None, ChangesFormat::Markdown);
    assert!(
        report
            .output
            .contains("**The definitions changed between the two nights**"),
        "{}",
        report.output
    );
    assert!(report.output.contains("| Δ definition | Δ data |"));

    // Without the data files the older night cannot be re-scored: the
    // moves are shown unsplit, with the reason.
    let moved = book.dir.path().join("moved");
    let elsewhere = reweighted.replace(
        &repo("examples/data").display().to_string(),
        &moved.display().to_string(),
    );
    std::fs::write(book.pipeline(), elsewhere).expect("write");
    let json = book.json("2026-10-25", None);
    assert_eq!(json["definitions"]["changed"], true);
    assert_eq!(json["definitions"]["split"], Value::Null);
    let reason = json["definitions"]["split_skipped"].as_str().expect("why");
    assert!(reason.contains("V501"), "{reason}");
    assert!(json["movers"][0]["split"].is_null());
    let report = book.changes("2026-10-25", None, ChangesFormat::Markdown);
    assert!(
        report
            .output
            .contains("The moves are not split into definition and data: the pipeline cannot be checked against its data (V501"),
        "{}",
        report.output
    );
}

#[test]
fn nights_written_as_csv_or_json_lines_read_back_as_parquet_ones_do() {
    let text = example_pipeline();
    let reports: Vec<Value> = [FileFormat::Parquet, FileFormat::Csv, FileFormat::JsonLines]
        .into_iter()
        .map(|format| {
            let book = Book::new();
            book.night(&text, "2026-10-25", format);
            book.night(&text, "2026-11-01", format);
            let mut json = book.json("2026-10-25", None);
            json["output_folder"] = Value::Null;
            json
        })
        .collect();
    assert_eq!(reports[0], reports[1], "CSV");
    assert_eq!(reports[0], reports[2], "JSON lines");
}

#[test]
fn nights_that_are_not_there_are_diagnostics_listing_those_that_are() {
    let book = Book::new();
    let text = example_pipeline();
    std::fs::write(book.pipeline(), &text).expect("write");
    let mut rendered = String::new();
    let mut check = |since: &str, as_of: Option<&str>, code: Code| {
        let report = book.changes(since, as_of, ChangesFormat::Markdown);
        assert_eq!(report.exit, Exit::Error, "{}", report.output);
        assert_eq!(report.diagnostics[0].code, code);
        rendered.push_str(&format!(
            "$ vane changes --since {since}{}\n",
            as_of.map(|d| format!(" --as-of {d}")).unwrap_or_default()
        ));
        // The folder's name is hidden before rendering, so lines wrap alike anywhere.
        let tmp = book.dir.path().display().to_string();
        let diagnostics: Vec<_> = report
            .diagnostics
            .into_iter()
            .map(|mut d| {
                d.message = d.message.replace(&tmp, "<tmp>");
                d.help = d.help.map(|h| h.replace(&tmp, "<tmp>"));
                d
            })
            .collect();
        rendered.push_str(&render_human(&diagnostics, false));
        rendered.push('\n');
    };
    check("2026-10-25", None, Code::NightMissing);
    book.night(&text, "2026-10-18", FileFormat::Parquet);
    book.night(&text, "2026-10-25", FileFormat::Parquet);
    check("2026-10-20", None, Code::NightMissing);
    check("2026-10-18", Some("2026-11-01"), Code::NightMissing);
    check("2026-10-25", None, Code::InvalidArgument);
    check("2026-10-25", Some("2026-10-18"), Code::InvalidArgument);
    insta::assert_snapshot!(rendered);
}
