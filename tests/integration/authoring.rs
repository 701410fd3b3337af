//! The review and authoring workflows: `vane test` (and later `diff`, `docs`).

use std::path::{Path, PathBuf};

use vane::commands::{self, Exit};
use vane::diagnostics::{Code, render_human};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn the_example_pipelines_tests_pass() {
    let report = commands::test(&[
        repo("pipelines/customer_health.yaml"),
        repo("pipelines/supply_chain.yaml"),
    ]);
    assert_eq!(
        report.exit,
        Exit::Ok,
        "{}{}",
        report.output,
        render_human(&report.diagnostics, false)
    );
    assert!(
        report.output.contains("2 passed, 0 failed"),
        "{}",
        report.output
    );
    assert!(
        report.output.contains("1 passed, 0 failed"),
        "{}",
        report.output
    );
}

#[test]
fn failing_tests_show_expected_and_actual_at_the_expectation() {
    let report = commands::test(&[PathBuf::from("tests/corpus/tests/failing.yaml")]);
    assert_eq!(report.exit, Exit::Findings);
    let codes: Vec<Code> = report.diagnostics.iter().map(|d| d.code).collect();
    assert!(codes.contains(&Code::TestFailed));
    assert!(
        codes.contains(&Code::DuplicateCondition),
        "identical playbook conditions are flagged"
    );
    let mut rendered = report.output.clone();
    rendered.push_str(&render_human(&report.diagnostics, false));
    insta::assert_snapshot!(rendered);
}

/// The example pipeline with its data paths made absolute, so copies run anywhere.
fn example_pipeline() -> String {
    let text = std::fs::read_to_string(repo("pipelines/customer_health.yaml")).expect("example");
    text.replace(
        "../examples/data",
        &repo("examples/data").display().to_string(),
    )
}

/// Diff the example against an edited copy and return the Markdown, with the temp path hidden.
fn diff_markdown(edit: impl Fn(&str) -> String, data: bool) -> (Exit, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let base = dir.path().join("base.yaml");
    let head = dir.path().join("head.yaml");
    let text = example_pipeline();
    std::fs::write(&base, &text).expect("write");
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit must change the file");
    std::fs::write(&head, edited).expect("write");
    let options = commands::DiffOptions {
        data,
        run: vane::run::RunOptions {
            as_of: chrono::NaiveDate::from_ymd_opt(2026, 11, 1),
            threads: Some(2),
            ..Default::default()
        },
        format: commands::DiffFormat::Markdown,
        backtest: None,
    };
    let report = commands::diff(&commands::Base::File(base), &head, &options);
    assert!(
        report.diagnostics.is_empty(),
        "{}",
        render_human(&report.diagnostics, false)
    );
    (
        report.exit,
        report
            .output
            .replace(&dir.path().display().to_string(), "<tmp>"),
    )
}

#[test]
fn a_reformat_or_reordering_is_no_change() {
    let (exit, markdown) = diff_markdown(
        |t| {
            t.replace(
                "value: count_distinct(user_id)",
                "value: \"COUNT_DISTINCT( user_id )\"",
            )
            .replace(
                "    kind: leading\n    metric: seat_utilization\n",
                "    metric: seat_utilization\n    kind: leading\n",
            )
            .replace("# Onboarding\n", "# Onboarding, reworded\n")
        },
        true,
    );
    assert_eq!(exit, Exit::Ok, "{markdown}");
    assert!(markdown.contains("No changes"), "{markdown}");
}

#[test]
fn a_weight_change_moves_health_but_no_metric() {
    let (exit, markdown) = diff_markdown(
        |t| {
            t.replace(
                "    score: ramp(value, 20%, 85%)\n    weight: 2",
                "    score: ramp(value, 20%, 85%)\n    weight: 4",
            )
        },
        true,
    );
    assert_eq!(exit, Exit::Findings);
    assert!(
        !markdown.contains("#### Metric values"),
        "weights move scores, not metrics: {markdown}"
    );
    insta::assert_snapshot!(markdown);
}

#[test]
fn a_changed_window_shows_lineage_and_moved_customers() {
    let (exit, markdown) = diff_markdown(
        |t| {
            t.replace(
                "    window: 30d\n    value: count_distinct(user_id)",
                "    window: 14d\n    value: count_distinct(user_id)",
            )
        },
        true,
    );
    assert_eq!(exit, Exit::Findings);
    assert!(markdown.contains("window: `30d` → `14d`"), "{markdown}");
    assert!(
        markdown.contains("indicator `seat_utilization`"),
        "downstream of the metric: {markdown}"
    );
    insta::assert_snapshot!(markdown);
}

#[test]
fn a_new_metric_and_a_rename_are_named_as_such() {
    let (exit, markdown) = diff_markdown(
        |t| {
            t.replace("nps_responses_90d", "nps_answers_90d").replace(
                "metrics:\n",
                "metrics:\n  exports_30d:\n    from: events\n    window: 30d\n    where: event_type = 'export'\n    value: count()\n    unused: true\n",
            )
        },
        true,
    );
    assert_eq!(exit, Exit::Findings);
    assert!(
        markdown.contains("renamed from `nps_responses_90d`"),
        "{markdown}"
    );
    assert!(
        markdown.contains("metric `exports_30d` | added"),
        "{markdown}"
    );
    assert!(
        !markdown.contains("Health changes"),
        "neither change moves health: {markdown}"
    );
    insta::assert_snapshot!(markdown);
}

#[test]
fn diff_against_a_git_revision_and_as_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .arg("-C")
            .arg(dir.path())
            .args(args)
            .output()
            .expect("git runs");
        assert!(
            status.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    };
    git(&["init", "-q"]);
    let path = dir.path().join("p.yaml");
    std::fs::write(&path, example_pipeline()).expect("write");
    git(&["add", "p.yaml"]);
    git(&[
        "-c",
        "user.email=ci@example.com",
        "-c",
        "user.name=ci",
        "commit",
        "-qm",
        "base",
    ]);
    std::fs::write(
        &path,
        example_pipeline().replace("    cooldown: 14d", "    cooldown: 7d"),
    )
    .expect("write");
    let options = commands::DiffOptions {
        data: false,
        run: Default::default(),
        format: commands::DiffFormat::Json,
        backtest: None,
    };
    let report = commands::diff(&commands::Base::Git("HEAD".into()), &path, &options);
    assert_eq!(report.exit, Exit::Findings, "{:?}", report.diagnostics);
    let json: serde_json::Value = serde_json::from_str(&report.output).expect("json");
    assert_eq!(
        json["definitions"][0]["definition"]["name"],
        "login_plateau_call"
    );
    assert_eq!(json["definitions"][0]["fields"][0]["old"], "14d");
    assert_eq!(json["definitions"][0]["fields"][0]["new"], "7d");
    assert!(json["data_impact"].is_null());
    let bad = commands::diff(&commands::Base::Git("no-such-rev".into()), &path, &options);
    assert_eq!(bad.exit, Exit::Error);
}

#[test]
fn a_git_revision_is_never_passed_to_git_as_an_option() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("p.yaml");
    std::fs::write(&path, example_pipeline()).expect("write");
    let written = dir.path().join("written-by-git");
    let options = commands::DiffOptions {
        data: false,
        run: Default::default(),
        format: commands::DiffFormat::Markdown,
        backtest: None,
    };
    for rev in [
        format!("--output={}", written.display()),
        "-p".into(),
        String::new(),
    ] {
        let report = commands::diff(&commands::Base::Git(rev.clone()), &path, &options);
        assert_eq!(report.exit, Exit::Error, "{rev}");
        assert_eq!(report.diagnostics[0].code, Code::InvalidArgument, "{rev}");
    }
    assert!(!written.exists(), "git wrote a file");
}

#[test]
fn the_catalog_lists_every_definition_with_lineage() {
    let out = tempfile::tempdir().expect("temp dir");
    let report = commands::docs(
        &[
            PathBuf::from("pipelines/supply_chain.yaml"),
            PathBuf::from("pipelines/customer_health.yaml"),
        ],
        out.path(),
    );
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    let markdown = std::fs::read_to_string(out.path().join("supply_chain.md")).expect("markdown");
    let page = std::fs::read_to_string(out.path().join("customer_health.html")).expect("html");
    assert!(
        page.contains("<pre class=\"mermaid\">flowchart LR"),
        "the HTML page draws the lineage"
    );
    assert!(page.contains("<code>count_distinct(user_id)</code>"));
    assert!(
        page.contains("<svg class=\"lineage\""),
        "drawn without a script"
    );
    assert!(
        !page.contains("<script") && !page.contains("http://") && !page.contains("https://"),
        "the page loads nothing: it works offline"
    );
    let index = std::fs::read_to_string(out.path().join("index.md")).expect("index");
    assert!(index.contains("[customer_health](customer_health.md)"));
    insta::assert_snapshot!(markdown);
}

#[test]
fn hostile_names_and_descriptions_cannot_inject_into_the_catalog() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pipeline = "vane: 1
description: \"</pre><script>alert(1)</script> and `x > 1`\"
sources:
  accounts: { path: accounts.csv }
entity:
  name: account
  source: accounts
  key: account_id
  attributes: [\"seats\\n  click attr_seats call alert()\\n%%{init: {}}%%\", \"a\\\"]; b[\\\"x\"]
metrics:
  wide: { value: \"account.`seats\\n  click attr_seats call alert()\\n%%{init: {}}%%` + 1\", unused: true }
";
    let path = dir.path().join("p.yaml");
    std::fs::write(&path, pipeline).expect("write");
    let out = dir.path().join("docs");
    let report = commands::docs(&[path], &out);
    assert_eq!(
        report.exit,
        Exit::Ok,
        "{}",
        render_human(&report.diagnostics, false)
    );
    let markdown = std::fs::read_to_string(out.join("p.md")).expect("markdown");
    assert!(!markdown.contains("<script>"), "{markdown}");
    assert!(markdown.contains("&lt;script&gt;"), "{markdown}");
    assert!(
        markdown.contains("`x > 1`"),
        "code spans stay as written: {markdown}"
    );
    let graph = markdown
        .split("```mermaid")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a mermaid block");
    for line in graph.lines().filter(|l| l.trim() != "flowchart LR") {
        let line = line.trim_start();
        assert!(
            line.is_empty()
                || line.contains("-->")
                || line.contains("[")
                || line.contains("{")
                || line.contains("("),
            "a statement of its own: {line:?}"
        );
        assert!(
            !line.starts_with("click") && !line.starts_with("%%"),
            "{line:?}"
        );
    }
    let html = std::fs::read_to_string(out.join("p.html")).expect("html");
    assert!(!html.contains("<script>alert"), "the HTML escapes too");
}

#[test]
fn rollups_that_read_rows_or_text_are_refused_against_the_real_schemas() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("p.yaml");
    let text = example_pipeline().replace(
        "rollups:\n",
        "rollups:\n  logins_in_the_book:\n    value: count_if(event_type = 'login')\n  a_name:\n    value: max(account.name)\n",
    );
    std::fs::write(&path, text).expect("write");
    let report = commands::validate(&[path], vane::Data::Opened);
    assert_eq!(report.exit, Exit::Error);
    let found: Vec<(Code, String, String)> = report
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.code,
                d.message.clone(),
                d.help.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].0, Code::UnknownName);
    assert!(
        found[0].2.contains("`event_type` is a column of `events`"),
        "{found:?}"
    );
    assert_eq!(found[1].0, Code::TypeMismatch);
    assert!(
        found[1].1.contains("a rollup's value must be a number"),
        "{found:?}"
    );
}
