//! `vane docs PIPELINE... --out DIR`: the metric catalog as Markdown and HTML.

use std::path::{Path, PathBuf};

use super::{Report, check_path};
use crate::Data;
use crate::diagnostics::{Code, Diagnostic};
use crate::docs::{catalog, html, markdown};

/// Write `<name>.md` and `<name>.html` per pipeline, and `index.md`.
pub fn docs(paths: &[PathBuf], out: &Path) -> Report {
    let mut diagnostics = Vec::new();
    let mut output = String::new();
    let mut index = String::from("# Metric catalogs\n\n");
    let write = |path: &Path, text: &str| -> Result<(), Diagnostic> {
        std::fs::write(path, text).map_err(|e| {
            Diagnostic::error(
                Code::OutputFailed,
                format!("cannot write {}: {e}", path.display()),
            )
            .help("check that the output folder is writable")
        })
    };
    if let Err(e) = std::fs::create_dir_all(out) {
        return Report::error(
            Diagnostic::error(
                Code::OutputFailed,
                format!("cannot create {}: {e}", out.display()),
            )
            .help("check that the output folder is writable"),
        );
    }
    for path in paths {
        let (checked, found) = check_path(path, Data::Unread);
        let Some(checked) = checked else {
            diagnostics.extend(found);
            continue;
        };
        let model = &checked.model;
        let blocks = catalog(model);
        let md = out.join(format!("{}.md", model.name));
        let page = out.join(format!("{}.html", model.name));
        let written = write(&md, &markdown(&blocks)).and_then(|_| {
            write(
                &page,
                &html(&format!("{} — metric catalog", model.name), &blocks),
            )
        });
        match written {
            Ok(()) => {
                index.push_str(&format!(
                    "- [{}]({}.md) — {} metrics, {} indicators, {} playbooks\n",
                    model.name,
                    model.name,
                    model.metrics.len(),
                    model.indicators.len(),
                    model.playbooks.len()
                ));
                output.push_str(&format!("wrote {} and {}\n", md.display(), page.display()));
            }
            Err(d) => diagnostics.push(d),
        }
    }
    if let Err(d) = write(&out.join("index.md"), &index) {
        diagnostics.push(d);
    }
    Report::from_diagnostics(output, diagnostics)
}
