//! The data-driven corpus: every file under `tests/corpus/bad` is validated
//! and the rendered diagnostics are snapshotted, so a reviewer sees exactly
//! what a user sees; every good pipeline validates cleanly and formats
//! idempotently.

use std::path::{Path, PathBuf};

use vane::commands::{self, Exit};
use vane::diagnostics::{render_human, render_json};

fn relative(path: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Run validate the way the CLI does and render what a user would see.
fn validate_rendered(path: &Path) -> (Exit, String) {
    let report = commands::validate(&[relative(path)], vane::Data::Unread);
    let mut text = format!("exit: {:?}\n", report.exit);
    text.push_str(&report.output);
    text.push_str(&render_human(&report.diagnostics, false));
    (report.exit, text)
}

#[test]
fn bad_files_get_diagnostics_not_panics() {
    insta::glob!("..", "corpus/bad/*.yaml", |path| {
        let (exit, rendered) = validate_rendered(path);
        assert_eq!(exit, Exit::Error, "{} should be rejected", path.display());
        insta::assert_snapshot!(rendered);
    });
}

#[test]
fn every_error_has_a_code_a_message_and_a_help_line() {
    insta::glob!("..", "corpus/bad/*.yaml", |path| {
        let report = commands::validate(&[relative(path)], vane::Data::Unread);
        for d in &report.diagnostics {
            assert!(!d.message.is_empty());
            assert!(
                d.help.is_some(),
                "{}: `{}` has no help",
                path.display(),
                d.message
            );
            assert!(
                d.message.chars().next().is_some_and(|c| !c.is_uppercase()),
                "messages are lowercase phrases: {}",
                d.message
            );
        }
    });
}

fn good_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["pipelines", "tests/corpus/good"] {
        for entry in std::fs::read_dir(root.join(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 3, "the good corpus is missing");
    files
}

#[test]
fn good_pipelines_validate_cleanly() {
    for path in good_files() {
        let (exit, rendered) = validate_rendered(&path);
        assert_eq!(exit, Exit::Ok, "{rendered}");
    }
}

#[test]
fn formatting_is_idempotent_and_keeps_meaning() {
    for path in good_files() {
        let (original, once) = commands::formatted(&path).expect("good files load");
        let (loaded, diagnostics) = vane::syntax::load_text(&path, once.clone());
        assert!(
            diagnostics.iter().all(|d| !d.is_error()),
            "{}: formatting broke the file",
            path.display()
        );
        let loaded = loaded.expect("formatted file loads");
        let twice = vane::syntax::fmt::format_text(&once, &loaded.sites);
        assert_eq!(once, twice, "{}: fmt is not idempotent", path.display());
        let (before, _) = vane::syntax::load_text(&path, original);
        let canonical = |l: &vane::syntax::load::Loaded| {
            l.sites
                .iter()
                .map(|s| s.canonical.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            canonical(&before.expect("loads")),
            canonical(&loaded),
            "{}: fmt changed meaning",
            path.display()
        );
    }
}

#[test]
fn fmt_keeps_comments_and_fixes_expressions() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/good/unformatted.yaml");
    let (original, formatted) = commands::formatted(&path).expect("loads");
    assert_ne!(original, formatted);
    insta::assert_snapshot!(formatted);
    for line in original.lines().filter(|l| l.trim_start().starts_with('#')) {
        assert!(formatted.contains(line), "comment lost: {line}");
    }
}

#[test]
fn fmt_check_reports_without_writing() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/good/unformatted.yaml");
    let before = std::fs::read_to_string(&path).expect("readable");
    let report = commands::fmt(&[relative(&path)], true);
    assert_eq!(report.exit, Exit::Findings);
    assert!(report.output.contains("would reformat"));
    assert_eq!(before, std::fs::read_to_string(&path).expect("readable"));
    let clean = commands::fmt(&[PathBuf::from("pipelines/customer_health.yaml")], true);
    assert_eq!(clean.exit, Exit::Ok, "{}", clean.output);
}

#[test]
fn fmt_writes_in_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("p.yaml");
    std::fs::write(&path, "vane: 1 # keep\nsources:\n  a: { path: a.csv }\nentity: { name: e, source: a, key: k, population: \"K  =1\" }\n").expect("write");
    let report = commands::fmt(std::slice::from_ref(&path), false);
    assert_eq!(report.exit, Exit::Ok);
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(
        text.contains("population: k = 1")
            || text.contains("population: \"K = 1\"")
            || text.contains("K = 1"),
        "{text}"
    );
    assert!(text.contains("# keep"));
}

#[test]
fn json_diagnostics_have_positions() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/bad/unknown_names.yaml");
    let report = commands::validate(&[relative(&path)], vane::Data::Unread);
    let json: serde_json::Value =
        serde_json::from_str(&render_json(&report.diagnostics)).expect("valid JSON");
    let first = &json[0];
    assert_eq!(first["code"], "V300");
    assert!(first["line"].as_u64().is_some_and(|l| l > 1));
    assert!(first["column"].as_u64().is_some_and(|c| c > 1));
    assert!(first["help"].is_string());
}

#[test]
fn deep_nesting_in_a_file_is_a_diagnostic() {
    let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    let text = format!(
        "vane: 1\nsources:\n  a: {{ path: a.csv }}\nentity: {{ name: e, source: a, key: k }}\nmetrics:\n  m:\n    value: \"{deep}\"\n"
    );
    let (_, diagnostics) = vane::syntax::load_text("deep.yaml", text);
    assert_eq!(diagnostics[0].code, vane::diagnostics::Code::ExprTooComplex);
    let yaml_deep = format!("vane: 1\nx: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let (_, diagnostics) = vane::syntax::load_text("deep.yaml", yaml_deep);
    assert_eq!(diagnostics[0].code, vane::diagnostics::Code::YamlSyntax);
}

#[test]
fn json_schema_lists_every_key_the_loader_accepts() {
    let schema = vane::syntax::json_schema::pipeline_schema();
    let properties = schema["properties"].as_object().expect("object");
    for field in vane::syntax::spec::PIPELINE.fields {
        assert!(
            properties.contains_key(field.key),
            "schema lacks {}",
            field.key
        );
    }
    let metric = &properties["metrics"]["additionalProperties"]["properties"];
    for field in vane::syntax::spec::METRIC.fields {
        assert!(
            metric.get(field.key).is_some(),
            "metric schema lacks {}",
            field.key
        );
    }
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/vane.schema.json"),
    )
    .expect("docs/vane.schema.json exists");
    assert_eq!(
        committed,
        vane::syntax::json_schema::pipeline_schema_text(),
        "docs/vane.schema.json is stale: run `vane schema > docs/vane.schema.json`"
    );
}

#[test]
fn every_diagnostic_code_is_documented() {
    let errors =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/errors.md"))
            .expect("docs/errors.md exists");
    for code in vane::diagnostics::Code::ALL {
        assert!(
            errors.contains(code.as_str()),
            "docs/errors.md does not document {code}"
        );
        assert!(
            errors.contains(code.slug()),
            "docs/errors.md does not name {}",
            code.slug()
        );
    }
}

#[test]
fn the_function_reference_is_generated_from_the_function_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/language.md");
    let text = std::fs::read_to_string(&path).expect("docs/language.md exists");
    let current = vane::check::functions::reference_markdown(&text);
    if std::env::var_os("VANE_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &current).expect("write docs/language.md");
        return;
    }
    for function in vane::check::functions::FUNCTIONS {
        assert!(
            current.contains(&format!("`{}(", function.name)),
            "the reference lacks `{}`",
            function.name
        );
    }
    assert!(
        text == current,
        "the function tables in docs/language.md are stale: run \
         `VANE_UPDATE_DOCS=1 cargo test --test integration function_reference`"
    );
}
