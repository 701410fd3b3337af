//! Rendering the pages through the templates (minijinja, HTML escaped by
//! default) and writing the site: into a staging folder beside the
//! target, renamed into place when every page is written, so a failed
//! render leaves the previous report whole.

use std::path::{Path, PathBuf};

use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment};
use serde::Serialize;

use crate::diagnostics::{Code, Diagnostic};
use crate::run::outputs::Staged;

/// The templates, compiled into the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("overview.html", include_str!("templates/overview.html")),
    ("list.html", include_str!("templates/list.html")),
    ("owner.html", include_str!("templates/owner.html")),
    ("entity.html", include_str!("templates/entity.html")),
    ("report.css", include_str!("templates/report.css")),
];

/// The file that marks a folder as a report Vane wrote (and may replace).
pub const MARKER: &str = ".vane-report";

/// A template failed: the templates are Vane's own, so this is a bug.
fn template_bug(what: &str, error: &minijinja::Error) -> Diagnostic {
    let mut text = format!("{error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    Diagnostic::error(
        Code::Internal,
        format!("the report's {what} cannot be rendered: {text}"),
    )
    .help("this is a bug in Vane; please report it")
}

/// The templates, ready to render: HTML escaped in `.html` templates,
/// nothing escaped in the stylesheet (which takes no user text).
pub fn environment() -> Result<Environment<'static>, Diagnostic> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .map_err(|e| template_bug(name, &e))?;
    }
    Ok(env)
}

/// Render `template` with `page`.
pub fn render<T: Serialize>(
    env: &Environment<'_>,
    template: &str,
    page: &T,
) -> Result<String, Diagnostic> {
    env.get_template(template)
        .and_then(|t| t.render(Serde(page)))
        .map_err(|e| template_bug(template, &e))
}

/// A folder could not be written.
pub fn write_failed(path: &Path, error: &std::io::Error) -> Diagnostic {
    Diagnostic::error(
        Code::OutputFailed,
        format!("cannot write {}: {error}", path.display()),
    )
    .help("check that the report's folder (--out) is writable and the disk has room; the previous report is untouched")
}

/// A site being written: a hidden folder beside the target (the run's
/// [`Staged`] partition, which replaces its target as a whole) that becomes
/// the target on [`Staging::commit`], or disappears when dropped.
pub struct Staging {
    staged: Staged,
    target: PathBuf,
}

impl Staging {
    /// Start writing the site `target`. An existing `target` must be a
    /// report Vane wrote (it holds [`MARKER`]) or an empty folder: the
    /// report replaces it as a whole and must not take anything else
    /// with it.
    pub fn new(target: &Path) -> Result<Staging, Diagnostic> {
        if target.exists() {
            let is_report = target.join(MARKER).is_file();
            let is_empty = std::fs::read_dir(target)
                .map(|mut entries| entries.next().is_none())
                .unwrap_or(false);
            if !is_report && !is_empty {
                return Err(Diagnostic::error(
                    Code::OutputFailed,
                    format!(
                        "{} exists and is not a report Vane wrote; it is left as it is",
                        target.display()
                    ),
                )
                .help("choose another folder with --out, or remove that one; a report replaces its folder as a whole"));
            }
        }
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "report".to_string());
        let parent = target.parent().map(Path::to_path_buf).unwrap_or_default();
        let staged = Staged::new(&parent, &name).map_err(|e| write_failed(&parent, &e))?;
        let marker = staged.dir.join(MARKER);
        std::fs::write(&marker, "a report written by `vane report`\n")
            .map_err(|e| write_failed(&marker, &e))?;
        Ok(Staging {
            staged,
            target: target.to_path_buf(),
        })
    }

    /// Write one file of the site, `relative` to its root.
    pub fn write(&self, relative: &str, bytes: &[u8]) -> Result<(), Diagnostic> {
        let path = self.staged.dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| write_failed(parent, &e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| write_failed(&path, &e))
    }

    /// Put the finished site in place of the target.
    pub fn commit(self) -> Result<PathBuf, Diagnostic> {
        let target = self.target;
        self.staged.commit().map_err(|e| write_failed(&target, &e))
    }
}
