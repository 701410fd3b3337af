//! `vane test`: metric tests declared in pipeline files. Each test's
//! fixture rows are written as small CSV files, the pipeline's sources are
//! pointed at them, and the real planner and engine compute the scorecard
//! and actions as of the test's date; expectations are compared value by
//! value. Also runs the built-in checks every pipeline should pass.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;

use crate::check::model::{FileFormat, MetricKind, Model, TypedExpr, TypedKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::plan::names;
use crate::run::RunOptions;
use crate::run::execute;
use crate::syntax::SourceFile;
use crate::syntax::ast::{Row, TestDef, Text};
use crate::syntax::yaml::{Node, NodeKind};

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

fn csv_field(node: &Node, file: &SourceFile) -> String {
    let raw = match &node.kind {
        NodeKind::Null => return String::new(),
        NodeKind::Str(s) => s.clone(),
        NodeKind::Bool(b) => b.to_string(),
        NodeKind::Int(_) | NodeKind::Float(_) => file.slice(node.span).to_string(),
        NodeKind::Seq(_) | NodeKind::Map(_) => String::new(),
    };
    if raw.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", raw.replace('"', "\"\""))
    } else {
        raw
    }
}

/// Columns the pipeline reads from a source, so an empty fixture still has them.
fn columns_read(model: &Model, source: &str) -> BTreeSet<String> {
    let mut columns = BTreeSet::new();
    let add = |e: &TypedExpr, columns: &mut BTreeSet<String>| {
        e.walk(&mut |x| {
            if let TypedKind::Column(c) = &x.kind {
                columns.insert(c.clone());
            }
        })
    };
    for metric in &model.metrics {
        if let MetricKind::Aggregate {
            source: s,
            filter,
            value,
            ..
        } = &metric.kind
            && s == source
        {
            add(value, &mut columns);
            if let Some(f) = filter {
                add(f, &mut columns);
            }
        }
    }
    if let Some(s) = model.source(source) {
        columns.insert(s.key.clone());
        columns.extend(s.time.clone());
    }
    if model.entity.source == source {
        columns.insert(model.entity.key.clone());
        columns.extend(model.entity.attributes.iter().cloned());
        if let Some(p) = &model.entity.population {
            add(p, &mut columns);
        }
    }
    if let Some(t) = model.targets.as_ref().filter(|t| t.source == source) {
        columns.extend([
            t.key.clone(),
            t.kpi.clone(),
            t.value.clone(),
            t.direction.clone(),
        ]);
        columns.extend(t.effective_from.clone());
        columns.extend(t.effective_to.clone());
    }
    columns
}

fn failure(
    file: &Arc<SourceFile>,
    span: crate::syntax::Span,
    message: String,
    help: &str,
) -> Diagnostic {
    Diagnostic::error(Code::TestFailed, message)
        .at(file, span, "here")
        .help(help)
}

/// Write one source's fixture rows as CSV; returns an error for missing columns.
fn write_fixture(
    model: &Model,
    source: &str,
    rows: Option<&(Text, Vec<Row>)>,
    dir: &Path,
) -> Result<std::path::PathBuf, Diagnostic> {
    let path = dir.join(format!("{source}.csv"));
    let needed = columns_read(model, source);
    let mut header: Vec<String> = Vec::new();
    if let Some((_, rows)) = rows {
        for row in rows {
            for (column, _) in row {
                if !header.contains(&column.value) {
                    header.push(column.value.clone());
                }
            }
        }
    }
    if let Some((name, rows)) = rows
        && !rows.is_empty()
    {
        let missing: Vec<&String> = needed.iter().filter(|c| !header.contains(c)).collect();
        if !missing.is_empty() {
            let list = missing
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(failure(
                &model.file,
                name.span,
                format!("fixture rows for `{source}` lack {list}, which the pipeline reads"),
                "give every column the pipeline reads in at least one row (others may be null)",
            ));
        }
    } else {
        header = needed.into_iter().collect();
    }
    let mut text = header.join(",") + "\n";
    if let Some((_, rows)) = rows {
        for row in rows {
            let values: BTreeMap<&str, &Node> =
                row.iter().map(|(c, v)| (c.value.as_str(), v)).collect();
            let line: Vec<String> = header
                .iter()
                .map(|c| {
                    values
                        .get(c.as_str())
                        .map(|v| csv_field(v, &model.file))
                        .unwrap_or_default()
                })
                .collect();
            text.push_str(&line.join(","));
            text.push('\n');
        }
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

fn cell(batch: &RecordBatch, column: &str, row: usize) -> Option<Option<String>> {
    let array = batch.column_by_name(column)?;
    if array.is_null(row) {
        return Some(None);
    }
    Some(array_value_to_string(array, row).ok())
}

fn expected_text(node: &Node, file: &SourceFile) -> Option<String> {
    match &node.kind {
        NodeKind::Null => None,
        NodeKind::Str(s) => Some(s.clone()),
        NodeKind::Bool(b) => Some(b.to_string()),
        NodeKind::Int(_) | NodeKind::Float(_) => Some(file.slice(node.span).to_string()),
        _ => Some(String::new()),
    }
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

/// The column an expectation name refers to.
fn expectation_column(model: &Model, name: &str) -> Option<String> {
    if let Some(indicator) = name.strip_prefix("score.") {
        return model
            .indicators
            .iter()
            .any(|i| i.name == indicator)
            .then(|| names::score(indicator));
    }
    if let Some(group) = name.strip_prefix("group.") {
        return model
            .health
            .as_ref()?
            .groups
            .iter()
            .any(|g| g.name == group)
            .then(|| names::group(group));
    }
    if [names::HEALTH, names::BAND, names::HEALTH_MODEL].contains(&name) && model.health.is_some() {
        return Some(name.to_string());
    }
    (model.metric(name).is_some() || model.entity.attributes.iter().any(|a| a == name))
        .then(|| name.to_string())
}

fn compare(
    model: &Model,
    test: &TestDef,
    working: &[RecordBatch],
    actions: &[RecordBatch],
) -> Vec<Diagnostic> {
    let file = &model.file;
    let key = &model.entity.key;
    let mut failures = Vec::new();
    for (entity, expectations) in &test.expect {
        let found = working.iter().find_map(|b| {
            (0..b.num_rows())
                .find(|r| cell(b, key, *r).flatten().as_deref() == Some(entity.value.as_str()))
                .map(|r| (b, r))
        });
        let Some((batch, row)) = found else {
            failures.push(failure(file, entity.span, format!("no {} `{}` in the scorecard", model.entity.name, entity.value), "check the key and the population filter; fixture rows for the entity source decide who is scored"));
            continue;
        };
        for (name, node) in expectations {
            if name.value == "playbooks" {
                let mut fired: Vec<String> = Vec::new();
                for b in actions {
                    for r in 0..b.num_rows() {
                        if cell(b, "entity", r).flatten().as_deref() == Some(entity.value.as_str())
                            && let Some(Some(p)) = cell(b, "playbook", r)
                        {
                            fired.push(p);
                        }
                    }
                }
                fired.sort();
                let mut wanted: Vec<String> = match &node.kind {
                    NodeKind::Seq(items) => items
                        .iter()
                        .filter_map(|i| expected_text(i, file))
                        .collect(),
                    NodeKind::Null => Vec::new(),
                    _ => expected_text(node, file).into_iter().collect(),
                };
                wanted.sort();
                if fired != wanted {
                    failures.push(failure(
                        file,
                        node.span,
                        format!(
                            "{}: expected playbooks [{}], fired [{}]",
                            entity.value,
                            wanted.join(", "),
                            fired.join(", ")
                        ),
                        "the playbooks fired for this entity differ",
                    ));
                }
                continue;
            }
            let Some(column) = expectation_column(model, &name.value) else {
                failures.push(failure(file, name.span, format!("`{}` is not something a test can check", name.value), "expect a metric, an attribute, `score.<indicator>`, `group.<group>`, `health`, `band`, `health_model` or `playbooks`"));
                continue;
            };
            let actual = cell(batch, &column, row).flatten();
            let wanted = expected_text(node, file);
            let ok = match (&wanted, &actual) {
                (None, None) => true,
                (Some(w), Some(a)) => numbers_match(w, a).unwrap_or_else(|| w == a),
                _ => false,
            };
            if !ok {
                let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "null".into());
                failures.push(failure(
                    file,
                    node.span,
                    format!(
                        "{}.{}: expected {}, got {}",
                        entity.value,
                        name.value,
                        show(&wanted),
                        show(&actual)
                    ),
                    "the computed value differs (numbers compare within 1e-9, relative)",
                ));
            }
        }
    }
    failures
}

async fn run_test(model: &Model, test: &TestDef) -> Vec<Diagnostic> {
    let file = &model.file;
    let Some(as_of) = test
        .as_of
        .as_ref()
        .and_then(|t| NaiveDate::parse_from_str(&t.value, "%Y-%m-%d").ok())
    else {
        return vec![failure(
            file,
            test.name.span,
            format!("test `{}` has no valid `as_of`", test.name.value),
            "write `as_of: 2026-11-01`",
        )];
    };
    let dir = match tempfile_dir() {
        Ok(dir) => dir,
        Err(d) => return vec![d],
    };
    let mut fixtures = BTreeMap::new();
    for source in &model.sources {
        let rows = test.given.iter().find(|(s, _)| s.value == source.name);
        match write_fixture(model, &source.name, rows, dir.path()) {
            Ok(path) => {
                fixtures.insert(source.name.clone(), path);
            }
            Err(d) => return vec![d],
        }
    }
    let mut fixture_model = match typed_for_fixtures(model, &fixtures).await {
        Ok(m) => m,
        Err(errors) => {
            return errors
                .into_iter()
                .map(|e| {
                    failure(
                        file,
                        e.primary.as_ref().map_or(test.name.span, |l| l.span),
                        format!("test `{}`: {}", test.name.value, e.message),
                        e.help.as_deref().unwrap_or("check the fixture rows"),
                    )
                })
                .collect();
        }
    };
    for source in &mut fixture_model.sources {
        if let Some(path) = fixtures.get(&source.name) {
            source.resolved_path = path.clone();
            source.format = FileFormat::Csv;
            source.partitions.clear();
        }
    }
    let options = RunOptions {
        as_of: Some(as_of),
        out: Some(dir.path().join("out")),
        threads: Some(1),
        ..RunOptions::default()
    };
    let computed = async {
        let prepared = execute::prepare(&fixture_model, &options).await?;
        execute::compute(&fixture_model, &prepared, &|_| {}).await
    }
    .await;
    match computed {
        Ok(c) => compare(model, test, &c.working, &c.actions),
        Err(errors) => errors
            .into_iter()
            .map(|e| {
                failure(
                    file,
                    test.name.span,
                    format!("test `{}` could not run: {}", test.name.value, e.message),
                    e.help.as_deref().unwrap_or("check the fixture rows"),
                )
            })
            .collect(),
    }
}

/// Check the pipeline again with the fixtures' schemas, so every column has
/// its real type (as a run checks against the data's schemas).
async fn typed_for_fixtures(
    model: &Model,
    fixtures: &BTreeMap<String, std::path::PathBuf>,
) -> Result<Model, Vec<Diagnostic>> {
    let (loaded, diagnostics) = crate::syntax::load_file(&model.file);
    let Some(loaded) = loaded else {
        return Err(diagnostics);
    };
    let ctx = datafusion::prelude::SessionContext::new();
    let mut schemas = crate::check::types::Schemas::new();
    for (name, path) in fixtures {
        let location = crate::run::sources::SourceLocation {
            name: name.clone(),
            path: path.clone(),
            format: FileFormat::Csv,
            partitions: Vec::new(),
            span: Default::default(),
        };
        let table = crate::run::sources::listing_table(&ctx, &location)
            .await
            .map_err(|e| {
                vec![crate::run::sources::unreadable(
                    &loaded.pipeline,
                    &location,
                    &e,
                )]
            })?;
        use datafusion::datasource::TableProvider;
        schemas.insert(
            name.clone(),
            crate::run::sources::source_schema(
                &table.schema(),
                format!("the fixture rows for `{name}`"),
            ),
        );
    }
    let (checked, diagnostics) = crate::check::check(&loaded.pipeline, &schemas);
    checked.ok_or_else(|| {
        diagnostics
            .into_iter()
            .filter(Diagnostic::is_error)
            .collect()
    })
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
pub async fn run_tests(model: &Model) -> Vec<TestResult> {
    let mut results = Vec::new();
    for test in &model.tests {
        results.push(TestResult {
            name: format!("{}::{}", model.file.name, test.name.value),
            failures: run_test(model, test).await,
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
