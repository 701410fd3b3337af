//! `vane fmt`: rewrite expressions into canonical form in place, or with
//! `--check` report which files would change.

use std::path::PathBuf;

use super::{Exit, Report};
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::{self, fmt::format_text};

/// The canonical text of a file, or its diagnostics when it cannot be loaded.
pub fn formatted(path: &std::path::Path) -> Result<(String, String), Vec<Diagnostic>> {
    let (loaded, diagnostics) = syntax::load_path(path);
    let errors: Vec<Diagnostic> = diagnostics
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect();
    match loaded {
        Some(loaded) if errors.is_empty() => {
            let text = &loaded.pipeline.file.text;
            Ok((text.clone(), format_text(text, &loaded.sites)))
        }
        _ => Err(errors),
    }
}

/// `vane fmt [--check] FILE...`.
pub fn fmt(paths: &[PathBuf], check: bool) -> Report {
    let mut output = String::new();
    let mut diagnostics = Vec::new();
    let mut changed = 0;
    for path in paths {
        match formatted(path) {
            Ok((before, after)) if before != after => {
                changed += 1;
                if check {
                    output.push_str(&format!("would reformat {}\n", path.display()));
                } else if let Err(e) = write_atomically(path, &after) {
                    diagnostics.push(
                        Diagnostic::error(
                            Code::OutputFailed,
                            format!("cannot write {}: {e}", path.display()),
                        )
                        .help("check the file's permissions"),
                    );
                } else {
                    output.push_str(&format!("reformatted {}\n", path.display()));
                }
            }
            Ok(_) => {}
            Err(errors) => diagnostics.extend(errors),
        }
    }
    let exit = if diagnostics.iter().any(Diagnostic::is_error) {
        Exit::Error
    } else if check && changed > 0 {
        Exit::Findings
    } else {
        Exit::Ok
    };
    if exit != Exit::Error && changed == 0 {
        output.push_str(&format!(
            "{} file{} already formatted\n",
            paths.len(),
            if paths.len() == 1 { "" } else { "s" }
        ));
    }
    Report {
        exit,
        output,
        diagnostics,
    }
}

/// Replace a file's contents via a temporary file and a rename, so a crash
/// never leaves a half-written pipeline.
fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.vane-fmt.tmp"));
    std::fs::write(&temp, text)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&temp, meta.permissions());
    }
    std::fs::rename(&temp, path)
}
