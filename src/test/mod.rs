//! `vane test`: metric tests declared in pipeline files. Each test's
//! fixture rows are written as small CSV files, the pipeline's sources are
//! pointed at them, and the real planner and engine compute the scorecard
//! and actions as of the test's date; expectations are compared value by
//! value. Also runs the built-in checks every pipeline should pass.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;

use crate::Checked;
use crate::base::{FileFormat, SourceFile, Span};
use crate::check::model::{ExpectedValue, Fixture, Model, Target, Test};
use crate::diagnostics::{Code, Diagnostic};
use crate::run::{RunOptions, Stopwatch, TextColumn, cell, fired};

/// The outcome of one test.
#[derive(Debug)]
pub struct TestResult {
    /// `file::test`.
    pub name: String,
    /// Failures (empty when the test passed).
    pub failures: Vec<Diagnostic>,
}

/// Relative tolerance for comparing numbers.
const TOLERANCE: f64 = 1e-9;

/// A fixture value as a CSV field (empty for none).
fn csv_field(text: Option<&str>) -> String {
    let raw = text.unwrap_or_default();
    if raw.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", raw.replace('"', "\"\""))
    } else {
        raw.to_string()
    }
}

fn failure(file: &Arc<SourceFile>, span: Span, message: String, help: &str) -> Diagnostic {
    Diagnostic::error(Code::TestFailed, message)
        .at(file, span, "here")
        .help(help)
}

/// Write one source's fixture rows as CSV; returns an error for missing columns.
fn write_fixture(
    model: &Model,
    source: &str,
    fixture: Option<&Fixture>,
    dir: &Path,
) -> Result<PathBuf, Diagnostic> {
    let path = dir.join(format!("{source}.csv"));
    let needed = model.columns_read(source);
    let rows = fixture.map_or(&[][..], |f| f.rows.as_slice());
    let mut header: Vec<String> = Vec::new();
    for row in rows {
        for (column, _) in row {
            if !header.contains(column) {
                header.push(column.clone());
            }
        }
    }
    if let Some(fixture) = fixture.filter(|f| !f.rows.is_empty()) {
        let missing: Vec<&String> = needed.iter().filter(|c| !header.contains(c)).collect();
        if !missing.is_empty() {
            let list = missing
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(failure(
                &model.file,
                fixture.span,
                format!("fixture rows for `{source}` lack {list}, which the pipeline reads"),
                "give every column the pipeline reads in at least one row (others may be null)",
            ));
        }
    } else {
        header = needed.into_iter().collect();
    }
    let mut text = header.join(",") + "\n";
    for row in rows {
        let values: BTreeMap<&str, Option<&str>> = row
            .iter()
            .map(|(c, v)| (c.as_str(), v.as_deref()))
            .collect();
        let line: Vec<String> = header
            .iter()
            .map(|c| csv_field(values.get(c.as_str()).copied().flatten()))
            .collect();
        text.push_str(&line.join(","));
        text.push('\n');
    }
    std::fs::write(&path, text).map_err(|e| {
        Diagnostic::error(
            Code::OutputFailed,
            format!("cannot write test fixtures to {}: {e}", path.display()),
        )
        .help("check that the temporary folder is writable")
    })?;
    Ok(path)
}

fn numbers_match(expected: &str, actual: &str) -> Option<bool> {
    let parse = |t: &str| -> Option<f64> {
        t.trim().strip_suffix('%').map_or_else(
            || t.trim().parse().ok(),
            |p| p.parse::<f64>().ok().map(|v| v / 100.0),
        )
    };
    let (e, a) = (parse(expected)?, actual.parse::<f64>().ok()?);
    Some((e - a).abs() <= TOLERANCE * e.abs().max(a.abs()) + 1e-12)
}

fn compare(
    model: &Model,
    test: &Test,
    working: &[RecordBatch],
    actions: &[RecordBatch],
) -> Vec<Diagnostic> {
    let file = &model.file;
    let key = &model.entity.key;
    let mut failures = Vec::new();
    for expectation in &test.expectations {
        let entity = expectation.entity.as_str();
        let found = working.iter().find_map(|b| {
            let keys = TextColumn::of(b, key)?;
            let row = keys.all().position(|k| k.as_deref() == Some(entity))?;
            Some((b, row))
        });
        let Some((batch, row)) = found else {
            failures.push(failure(file, expectation.span, format!("no {} `{entity}` in the scorecard", model.entity.name), "check the key and the population filter; fixture rows for the entity source decide who is scored"));
            continue;
        };
        for expected in &expectation.checks {
            match &expected.target {
                Target::Playbooks => {
                    let fired: Vec<String> = fired(actions)
                        .into_iter()
                        .filter(|(_, e)| e == entity)
                        .map(|(p, _)| p)
                        .collect();
                    let mut wanted: Vec<String> = match &expected.value {
                        ExpectedValue::Null => Vec::new(),
                        ExpectedValue::Text(t) => vec![t.clone()],
                        ExpectedValue::List(items) => items.clone(),
                    };
                    wanted.sort();
                    if fired != wanted {
                        failures.push(failure(
                            file,
                            expected.span,
                            format!(
                                "{entity}: expected playbooks [{}], fired [{}]",
                                wanted.join(", "),
                                fired.join(", ")
                            ),
                            "the playbooks fired for this entity differ",
                        ));
                    }
                }
                Target::Column(column) => {
                    let actual = cell(batch, column, row).flatten();
                    let wanted = match &expected.value {
                        ExpectedValue::Null => None,
                        ExpectedValue::Text(t) => Some(t.clone()),
                        ExpectedValue::List(_) => Some(String::new()),
                    };
                    let ok = match (&wanted, &actual) {
                        (None, None) => true,
                        (Some(w), Some(a)) => numbers_match(w, a).unwrap_or_else(|| w == a),
                        _ => false,
                    };
                    if !ok {
                        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "null".into());
                        failures.push(failure(
                            file,
                            expected.span,
                            format!(
                                "{entity}.{}: expected {}, got {}",
                                expected.name,
                                show(&wanted),
                                show(&actual)
                            ),
                            "the computed value differs (numbers compare within 1e-9, relative)",
                        ));
                    }
                }
            }
        }
    }
    failures
}

async fn run_test(checked: &Checked, test: &Test) -> Vec<Diagnostic> {
    let model = &checked.model;
    let file = &model.file;
    let Some(as_of) = test.as_of else {
        return vec![failure(
            file,
            test.span,
            format!("test `{}` has no valid `as_of`", test.name),
            "write `as_of: 2026-11-01`",
        )];
    };
    let dir = match tempfile_dir() {
        Ok(dir) => dir,
        Err(d) => return vec![d],
    };
    let mut fixtures = BTreeMap::new();
    for source in &model.sources {
        let fixture = test.fixtures.iter().find(|f| f.source == source.name);
        match write_fixture(model, &source.name, fixture, dir.path()) {
            Ok(path) => {
                fixtures.insert(source.name.clone(), path);
            }
            Err(d) => return vec![d],
        }
    }
    let fixture_checked = match check_against_fixtures(checked, &fixtures).await {
        Ok(c) => c,
        Err(errors) => {
            return errors
                .into_iter()
                .map(|e| {
                    failure(
                        file,
                        e.primary.as_ref().map_or(test.span, |l| l.span),
                        format!("test `{}`: {}", test.name, e.message),
                        e.help.as_deref().unwrap_or("check the fixture rows"),
                    )
                })
                .collect();
        }
    };
    let options = RunOptions {
        as_of: Some(as_of),
        out: Some(dir.path().join("out")),
        threads: Some(1),
        ..RunOptions::default()
    };
    let night =
        crate::compute_night(&fixture_checked, &options, &mut Stopwatch::start(), &|_| {}).await;
    match night {
        Ok(night) => compare(
            model,
            test,
            &night.computed.working,
            &night.computed.actions,
        ),
        Err(errors) => errors
            .into_iter()
            .map(|e| {
                failure(
                    file,
                    test.span,
                    format!("test `{}` could not run: {}", test.name, e.message),
                    e.help.as_deref().unwrap_or("check the fixture rows"),
                )
            })
            .collect(),
    }
}

/// The pipeline checked again with its sources read from the fixtures, so
/// every column has the type the fixture rows give it (as a run checks
/// against the data's schemas).
async fn check_against_fixtures(
    checked: &Checked,
    fixtures: &BTreeMap<String, PathBuf>,
) -> Result<Checked, Vec<Diagnostic>> {
    let (mut sources, _) = crate::sources::resolve(&checked.pipeline);
    for (name, path) in fixtures {
        sources.relocate(name, path.clone(), FileFormat::Csv);
    }
    let (sources, unreadable) = crate::sources::open(sources, &checked.model.file).await;
    if !unreadable.is_empty() {
        return Err(unreadable);
    }
    let (model, diagnostics) = crate::check::check(&checked.pipeline, &sources);
    match model {
        Some(model) => Ok(Checked {
            pipeline: checked.pipeline.clone(),
            sources,
            model,
        }),
        None => Err(diagnostics
            .into_iter()
            .filter(Diagnostic::is_error)
            .collect()),
    }
}

/// A private temporary folder, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> Result<TempDir, Diagnostic> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "vane-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| {
        Diagnostic::error(
            Code::OutputFailed,
            format!("cannot create a temporary folder: {e}"),
        )
        .help("check TMPDIR")
    })?;
    Ok(TempDir(dir))
}

/// Checks every pipeline should pass: metrics used (or marked unused) and no
/// two playbooks with the same condition.
pub fn builtin_checks(model: &Model) -> Vec<Diagnostic> {
    let mut findings = Vec::new();
    let mut by_condition: BTreeMap<&str, &crate::check::model::Playbook> = BTreeMap::new();
    for playbook in &model.playbooks {
        if let Some(first) = by_condition.get(playbook.when_text.as_str()) {
            findings.push(
                Diagnostic::warning(
                    Code::DuplicateCondition,
                    format!(
                        "playbooks `{}` and `{}` fire on the same condition",
                        first.name, playbook.name
                    ),
                )
                .at(&model.file, playbook.span, "same condition")
                .also(first.span, "first")
                .help("merge them into one playbook, or make the conditions differ"),
            );
        } else {
            by_condition.insert(&playbook.when_text, playbook);
        }
    }
    findings
}

/// Run every test of a checked pipeline.
pub async fn run_tests(checked: &Checked) -> Vec<TestResult> {
    let model = &checked.model;
    let mut results = Vec::new();
    for test in &model.tests {
        results.push(TestResult {
            name: format!("{}::{}", model.file.name, test.name),
            failures: run_test(checked, test).await,
        });
    }
    results
}

/// A one-line-per-test report.
pub fn report(results: &[TestResult]) -> String {
    let mut out = String::new();
    for r in results {
        let _ = writeln!(
            out,
            "test {} ... {}",
            r.name,
            if r.failures.is_empty() {
                "ok"
            } else {
                "FAILED"
            }
        );
    }
    let failed = results.iter().filter(|r| !r.failures.is_empty()).count();
    let _ = writeln!(out, "\n{} passed, {failed} failed", results.len() - failed);
    out
}
