//! `vane diff BASE HEAD` and `vane diff --git REV PIPELINE`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Exit, Report, check_loaded, check_path, run_blocking};
use crate::base::SourceFile;
use crate::diagnostics::{Code, Diagnostic};
use crate::diff::{self, DiffReport};
use crate::run::{RunOptions, Stopwatch};
use crate::{Data, compute_night};

/// Where the base pipeline comes from.
#[derive(Debug, Clone)]
pub enum Base {
    /// Another file.
    File(PathBuf),
    /// The head file as it was at a git revision.
    Git(String),
}

/// Output formats of `vane diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffFormat {
    /// Markdown for a pull-request comment.
    Markdown,
    /// JSON for tools.
    Json,
}

/// How to diff.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// Compute the data impact (run base and head on the same data).
    pub data: bool,
    /// As-of and engine settings for the data impact.
    pub run: RunOptions,
    /// Output format.
    pub format: DiffFormat,
    /// Also backtest base and head over these nights, side by side.
    pub backtest: Option<crate::BacktestRequest>,
}

fn git_base(head: &Path, rev: &str) -> Result<Arc<SourceFile>, Diagnostic> {
    // A revision is never an option: `--output=FILE` would make git write a file.
    if rev.starts_with('-') || rev.is_empty() {
        return Err(Diagnostic::error(
            Code::InvalidArgument,
            format!("`{rev}` is not a git revision"),
        )
        .help("name a commit, branch or tag, e.g. --git HEAD~1 or --git main"));
    }
    let dir = head
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = head
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .arg("show")
        .arg("--end-of-options")
        .arg(format!("{rev}:./{name}"))
        .output()
        .map_err(|e| {
            Diagnostic::error(Code::InvalidArgument, format!("cannot run git: {e}"))
                .help("install git, or diff two files: vane diff BASE HEAD")
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(Diagnostic::error(
            Code::InvalidArgument,
            format!(
                "git cannot show {} at `{rev}`: {}",
                head.display(),
                stderr.trim()
            ),
        )
        .help("check the revision, and that the file existed then"));
    }
    let file = crate::syntax::yaml::read_source(head, output.stdout)?;
    let mut file = file;
    file.name = format!("{}@{rev}", head.display());
    Ok(Arc::new(file))
}

/// `vane diff`: exit 0 without changes, 1 with changes, 2 on errors.
pub fn diff(base: &Base, head: &Path, options: &DiffOptions) -> Report {
    let data = if options.data {
        Data::Opened
    } else {
        Data::Unread
    };
    let (head_checked, mut diagnostics) = check_path(head, data);
    let (base_checked, base_diagnostics) = match base {
        Base::File(path) => check_path(path, data),
        Base::Git(rev) => match git_base(head, rev) {
            Ok(file) => check_loaded(crate::syntax::load_file(&file), data),
            Err(d) => (None, vec![d]),
        },
    };
    diagnostics.extend(base_diagnostics);
    diagnostics.retain(Diagnostic::is_error);
    let (Some(base_checked), Some(head_checked)) = (base_checked, head_checked) else {
        return Report::failed(diagnostics);
    };
    let (base_model, head_model) = (&base_checked.model, &head_checked.model);
    let mut report = DiffReport {
        pipeline: head.display().to_string(),
        entity: head_model.entity.name.clone(),
        changes: diff::changes(base_model, head_model),
        impact: None,
        skipped: (!options.data).then(|| "--no-data was given".to_string()),
        as_of: None,
        band_order: diff::band_order(base_model, head_model),
        rollups: Vec::new(),
    };
    if options.data {
        let as_of = options
            .run
            .as_of
            .unwrap_or_else(|| chrono::Utc::now().date_naive());
        let run = RunOptions {
            as_of: Some(as_of),
            ..options.run.clone()
        };
        let computed = run_blocking(async {
            let base = compute_night(&base_checked, &run, &mut Stopwatch::start(), &|_| {}).await?;
            let head = compute_night(&head_checked, &run, &mut Stopwatch::start(), &|_| {}).await?;
            Ok((base.computed, head.computed))
        });
        match computed {
            Ok((b, h)) => {
                let renamed = diff::renames(&report.changes);
                report.impact = Some(diff::impact(&diff::Sides {
                    base: base_model,
                    base_working: &b.working,
                    base_actions: &b.actions,
                    head: head_model,
                    head_working: &h.working,
                    head_actions: &h.actions,
                    renamed: &renamed,
                }));
                report.as_of = Some(as_of);
                let rollups = |c: &crate::run::Computed| {
                    c.rollups
                        .as_ref()
                        .map(|r| r.batches.clone())
                        .unwrap_or_default()
                };
                report.rollups = diff::rollup_deltas(head_model, &rollups(&b), &rollups(&h));
            }
            Err(errors) => return Report::failed(errors),
        }
    }
    let backtests = match &options.backtest {
        Some(request) => {
            let run =
                |checked| run_blocking(crate::backtest(checked, &options.run, request, &|_| {}));
            match (run(&base_checked), run(&head_checked)) {
                (Ok(base), Ok(head)) => Some((base, head)),
                (Err(errors), _) | (_, Err(errors)) => return Report::failed(errors),
            }
        }
        None => None,
    };
    let output = match options.format {
        DiffFormat::Markdown => {
            let mut text = diff::markdown(&report);
            if let Some((base, head)) = &backtests {
                text.push('\n');
                text.push_str(&crate::backtest::render::comparison(base, head));
            }
            text
        }
        DiffFormat::Json => {
            let mut json = diff::to_json(&report);
            if let (Some((base, head)), Some(fields)) = (&backtests, json.as_object_mut()) {
                fields.insert(
                    "backtest".into(),
                    serde_json::json!({ "base": base, "head": head }),
                );
            }
            serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"
        }
    };
    Report {
        exit: if report.has_changes() {
            Exit::Findings
        } else {
            Exit::Ok
        },
        output,
        diagnostics: Vec::new(),
    }
}
