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
