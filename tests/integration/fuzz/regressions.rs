//! The bugs the loops found, each as a small reproducer that keeps it fixed.

use super::*;

// Bugs the loops found, each as a small reproducer that keeps it fixed.

/// A pipeline over one entity table, `accounts.parquet` (keys a1, a2),
/// and one event source, `events.parquet` (a few rows in October 2026),
/// with `metrics` appended: the folder and the pipeline's path.
pub(super) fn small_pipeline(metrics: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys: ArrayRef = Arc::new(StringArray::from(vec!["a1", "a2"]));
    write_parquet(
        &dir.path().join("accounts.parquet"),
        vec![("account_id".into(), keys)],
    );
    let october = micros(NaiveDate::from_ymd_opt(2026, 10, 15).expect("date"));
    let events: Vec<(String, ArrayRef)> = vec![
        (
            "account_id".into(),
            Arc::new(StringArray::from(vec!["a1", "a1", "a2"])),
        ),
        (
            "event_time".into(),
            Arc::new(TimestampMicrosecondArray::from(vec![
                october,
                october + 1,
                october,
            ])),
        ),
    ];
    write_parquet(&dir.path().join("events.parquet"), events);
    let path = dir.path().join("p.yaml");
    let text = format!(
        "vane: 1
sources:
  accounts: {{ path: accounts.parquet }}
  events: {{ path: events.parquet, time: event_time }}
entity: {{ name: account, source: accounts, key: account_id }}
metrics:
{metrics}"
    );
    std::fs::write(&path, text).expect("write the pipeline");
    (dir, path)
}

/// `fmt` on `text`, held to what the front-end loop checks of it.
pub(super) fn fmt_round_trip(text: &str) -> Result<(), String> {
    let (loaded, diagnostics) = vane::syntax::load_text(FUZZ_PATH, text.to_string());
    assert!(!has_error(&diagnostics), "the input loads");
    let loaded = loaded.expect("a pipeline");
    let (sources, _) = vane::sources::resolve(&loaded.pipeline);
    let (_, checked) = vane::check::check(&loaded.pipeline, &sources);
    let formatted = vane::syntax::fmt::format_text(text, &loaded.sites);
    assert_ne!(formatted, text, "the input is not in canonical form");
    fmt_keeps_meaning(&loaded, &formatted, &checked)
}

/// Regression (the random-data loop found it): float sums are added as `Decimal256(76,
/// 18)` without an overflow check, so past 2^255 / 10^18 ≈ 5.8 × 10^58 the
/// sum wraps around and the run writes a wrong number. Six values of
/// 9.9 × 10^57 (each below the documented 10^58) give -3.7 × 10^58
/// instead of 5.94 × 10^58; the docs promise the value or `V500`.
#[test]
pub(super) fn regression_float_sums_beyond_the_decimal_wrap_around() {
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 1).expect("date");
    let event = Event {
        key: Some("a1".into()),
        time: Some(micros(as_of) - 1),
        v: None,
        x: Some(9.9e57),
        u: None,
        k: None,
    };
    let dataset = Dataset {
        as_of,
        window: ("30d".into(), 30 * 86_400),
        threads: 1,
        keys: vec![Some("a1".into())],
        events: vec![event; 6],
    };
    let sums: Vec<&DataMetric> = DATA_METRICS
        .iter()
        .filter(|m| m.name == "total_x" || m.name == "mean_x")
        .collect();
    let outcome = dataset.run_and_compare(&sums, &dataset.dirt(), &mut DataStats::default());
    assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
}

/// Regression (the front-end loop found it): `fmt` keeps a value plain inside a flow
/// mapping when its canonical form holds `[` or `]`, which end the YAML
/// value there: `population: seg IN ('a')` inside `{ … }` becomes
/// `population: seg in ['a']`, and the file no longer loads (`V103`).
#[test]
pub(super) fn regression_fmt_leaves_brackets_plain_inside_flow_mappings() {
    let text = "vane: 1
sources:
  accounts: { path: a.csv }
entity: { name: account, source: accounts, key: id, population: seg IN ('a') }
";
    fmt_round_trip(text).unwrap_or_else(|e| panic!("{e}"));
}

/// Regression (the front-end loop found it): `fmt` rewrites an expression in a block
/// scalar (`|-`, `>`) that starts with a quote as a single-quoted YAML
/// string, and drops the line break after it, gluing the next key on:
/// `population: |-` over `'a'  =  seg` becomes `'''a'' = seg'outputs: …`.
#[test]
pub(super) fn regression_fmt_breaks_block_scalars_that_start_with_a_quote() {
    let text = "vane: 1
sources:
  accounts: { path: a.csv }
entity:
  name: account
  source: accounts
  key: id
  population: |-
    'a'  =  seg
outputs: { dir: out }
";
    fmt_round_trip(text).unwrap_or_else(|e| panic!("{e}"));
}

/// Regression (the front-end loop found it): `fmt` writes a template's line break into
/// a double-quoted value as a raw line break, which YAML folds into a
/// space: `message: "total {m+1}\n"` becomes the message `total {m + 1} `.
#[test]
pub(super) fn regression_fmt_turns_a_line_break_in_a_double_quoted_template_into_a_space() {
    let text = r#"vane: 1
sources:
  accounts: { path: a.csv }
entity: { name: account, source: accounts, key: id }
metrics:
  m: { value: 1 }
playbooks:
  p:
    when: m > 0
    action: call
    message: "total {m+1}\n"
"#;
    fmt_round_trip(text).unwrap_or_else(|e| panic!("{e}"));
}

/// Regression (the front-end loop found it): a diagnostic's span must lie inside the
/// file at character boundaries (JSON output hands its bytes, lines and
/// columns to editors). An unexpected non-ASCII character in an
/// expression (`V200`) or at the start of a plain YAML value (`V103`)
/// gets a one-byte span that ends inside the character, and its end
/// column is then counted in bytes; a file that is only a tag (`!!str`)
/// gets a `V110` span past its end.
#[test]
pub(super) fn regression_diagnostic_spans_split_characters_or_leave_the_file() {
    let inputs = [
        "vane: 1\nsources:\n  accounts: { path: a.csv }\nentity: { name: account, source: accounts, key: id, population: \"'ééééé' = ü\" }\n",
        "vane: 1\nx: üüü \u{7f}\n",
        "!!str",
    ];
    let problems: Vec<String> = inputs
        .iter()
        .filter_map(|text| {
            let (_, diagnostics) = vane::syntax::load_text(FUZZ_PATH, text.to_string());
            sound(&diagnostics).err().map(|e| format!("{text:?}: {e}"))
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Regression (the front-end loop found it): the checker types `timestamp + null` as a
/// timestamp, but the planner lowers that `null` as a timestamp too, and
/// DataFusion cannot add two timestamps: `value: as_of + null` validates,
/// then fails the run (`V600`, "the query failed"); inside an aggregate,
/// `min(event_time + null)`, it is an internal error (`V999`). The docs
/// say arithmetic with null gives null.
#[test]
pub(super) fn regression_a_time_plus_null_checks_but_cannot_run() {
    let failures: Vec<String> = [
        "  m: { value: as_of + null, unused: true }\n",
        "  m: { from: events, value: min(event_time + null), unused: true }\n",
    ]
    .iter()
    .filter_map(|metrics| {
        let (dir, path) = small_pipeline(metrics);
        let options = RunOptions {
            as_of: NaiveDate::from_ymd_opt(2026, 11, 1),
            out: Some(dir.path().join("out")),
            threads: Some(1),
            ..RunOptions::default()
        };
        let report = commands::run(&path, &options, &|_| {});
        (report.exit != Exit::Ok).then(|| format!("{}: {}", metrics.trim(), codes_of(&report)))
    })
    .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Regression (front-end loop found it): a long flat chain of operators
/// nests the expression tree as deep as it is long, and the run compiled
/// it recursively (`run::entity::compile`, DataFusion's tree rewrites):
/// `value: 1+1+…+1` with 400 terms (800 bytes, far below the 16 KiB
/// expression limit) aborted `vane run` with a stack overflow. Now a tree
/// deeper than 256 is `V201`, and the deepest accepted one runs.
#[test]
pub(super) fn long_operator_chains_run_or_are_refused_never_overflow() {
    for (terms, wanted) in [(256, 0), (400, 2), (4000, 2)] {
        let chain = vec!["1.5"; terms].join("+");
        let (dir, path) = small_pipeline(&format!("  m: {{ value: \"{chain}\", unused: true }}\n"));
        let exit = vane_run(&path, &dir.path().join("out"), RUN_BUDGET);
        assert_eq!(
            exit.unwrap_or_else(|e| panic!("{e}")),
            wanted,
            "{terms} terms"
        );
    }
    let chain = vec!["1"; 400].join("+");
    let (_, diagnostics) = vane::syntax::load_text(
        FUZZ_PATH,
        format!("vane: 1\nmetrics:\n  m: {{ value: \"{chain}\" }}\n"),
    );
    assert!(
        diagnostics
            .iter()
            .any(|d| d.code == Code::ExprTooComplex && d.message.contains("256")),
        "{diagnostics:?}"
    );
}

/// Regression (the front-end loop found it, a run killed after its time budget): an
/// indicator's score that multiplies an integer metric's `value` takes
/// time exponential in the number of factors to run, each factor about
/// 2.7 times longer: 12 factors take 0.7 s, 14 take 5 s, 16 take 40 s,
/// 18 more than a minute (release build; products in derived metrics or
/// of float metrics are fast).
#[test]
pub(super) fn regression_integer_products_in_scores_take_exponential_time() {
    let product = vec!["value"; 14].join(" * ");
    let (dir, path) = small_pipeline(&format!(
        "  m: {{ value: 1 }}
indicators:
  i: {{ kind: leading, metric: m, score: {product}, group: g }}
"
    ));
    let exit = vane_run(&path, &dir.path().join("out"), INPUT_BUDGET);
    assert_eq!(exit.unwrap_or_else(|e| panic!("{e}")), 0);
}
