//! Snapshots of what reviewers read: the optimized logical plan of a small
//! pipeline (one scan and one aggregation per source, windows pushed down),
//! the plan of a backfill's shared pass, and `explain` on an example account.

use std::path::{Path, PathBuf};

use vane::commands::{self, Exit, Stage};
use vane::run::RunOptions;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn options() -> RunOptions {
    RunOptions {
        as_of: chrono::NaiveDate::from_ymd_opt(2026, 11, 1),
        threads: Some(2),
        ..RunOptions::default()
    }
}

#[test]
fn the_logical_plan_fuses_each_source_into_one_aggregation() {
    let report = commands::plan(
        &repo("pipelines/supply_chain.yaml"),
        &options(),
        Stage::Optimized,
    );
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    let aggregates = report.output.matches("Aggregate:").count();
    // orders (all metrics fused) + targets; entity steps and actions are expressions.
    assert_eq!(aggregates, 2, "{}", report.output);
    assert!(
        report.output.contains("TableScan: orders"),
        "{}",
        report.output
    );
    insta::assert_snapshot!(report.output);
}

#[test]
fn the_nights_plan_shares_each_source_and_says_why_a_side_is_not_shared() {
    let nights = vane::run::Nights {
        from: chrono::NaiveDate::from_ymd_opt(2026, 8, 2).expect("date"),
        to: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"),
        every_days: 7,
        force: true,
    };
    let report = commands::plan_nights(
        &repo("pipelines/customer_health.yaml"),
        &options(),
        &nights,
        Stage::Optimized,
    );
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    // events (main and two distinct counts), subscriptions, nps, orders
    // share one pass each, the targets one read of their rows; tickets'
    // conditions read as_of.
    assert_eq!(
        report.output.matches("== shared side").count(),
        7,
        "{}",
        report.output
    );
    assert!(
        report
            .output
            .contains("side `tickets`: night by night, because a condition reads `as_of`"),
        "{}",
        report.output
    );
    insta::assert_snapshot!(report.output);
}

#[test]
fn the_model_stage_lists_metrics_in_dependency_order() {
    let report = commands::plan(
        &repo("pipelines/customer_health.yaml"),
        &options(),
        Stage::Model,
    );
    assert_eq!(report.exit, Exit::Ok);
    let position = |name: &str| {
        report
            .output
            .find(&format!("metric {name} "))
            .unwrap_or(usize::MAX)
    };
    assert!(position("logins_30d") < position("login_change"));
    assert!(position("active_users_30d") < position("seat_utilization"));
    insta::assert_snapshot!(report.output);
}

#[test]
fn explain_shows_why_an_account_scores_as_it_does() {
    let report = commands::explain(
        &repo("pipelines/customer_health.yaml"),
        "A00007",
        &options(),
    );
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    insta::assert_snapshot!(report.output);
    let missing = commands::explain(&repo("pipelines/customer_health.yaml"), "A0007", &options());
    assert_eq!(missing.exit, Exit::Error);
    assert!(
        missing.diagnostics[0]
            .help
            .as_deref()
            .is_some_and(|h| h.contains("did you mean")),
        "{:?}",
        missing.diagnostics[0].help
    );
}

#[test]
fn a_small_memory_limit_still_completes() {
    let out = tempfile::tempdir().expect("temp dir");
    let options = RunOptions {
        out: Some(out.path().to_path_buf()),
        memory_limit: Some(32 * 1024 * 1024),
        ..options()
    };
    let report = commands::run(&repo("pipelines/customer_health.yaml"), &options, &|_| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
}
