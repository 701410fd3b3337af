//! Rendering the pages through the templates (minijinja, HTML escaped by
//! default) and writing the site: into a staging folder beside the
//! target, renamed into place when every page is written, so a failed
//! render leaves the previous report whole.

use std::path::{Path, PathBuf};

use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment};
use serde::Serialize;

use crate::diagnostics::{Code, Diagnostic};

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

/// A site being written: a hidden folder beside the target that becomes
/// the target on [`Staging::commit`], or disappears when dropped.
pub struct Staging {
    /// The folder pages are written into.
    pub dir: PathBuf,
    target: PathBuf,
    committed: bool,
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
        let dir = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        let start = || -> std::io::Result<()> {
            std::fs::create_dir_all(&parent)?;
            if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
            std::fs::create_dir(&dir)?;
            std::fs::write(dir.join(MARKER), "a report written by `vane report`\n")
        };
        start().map_err(|e| write_failed(&dir, &e))?;
        Ok(Staging {
            dir,
            target: target.to_path_buf(),
            committed: false,
        })
    }

    /// Write one file of the site, `relative` to its root.
    pub fn write(&self, relative: &str, bytes: &[u8]) -> Result<(), Diagnostic> {
        let path = self.dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| write_failed(parent, &e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| write_failed(&path, &e))
    }

    /// Put the finished site in place of the target.
    pub fn commit(mut self) -> Result<PathBuf, Diagnostic> {
        let old = self.target.with_file_name(format!(
            ".{}.old-{}",
            self.target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        let replaced = self.target.exists();
        if replaced {
            std::fs::rename(&self.target, &old).map_err(|e| write_failed(&self.target, &e))?;
        }
        if let Err(e) = std::fs::rename(&self.dir, &self.target) {
            if replaced {
                let _ = std::fs::rename(&old, &self.target);
            }
            return Err(write_failed(&self.target, &e));
        }
        self.committed = true;
        if replaced {
            let _ = std::fs::remove_dir_all(&old);
        }
        Ok(self.target.clone())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
