//! What every front-end input is checked for.

use super::*;

/// How far an input got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Not UTF-8 or too large.
    Unreadable,
    /// Loading reported errors.
    LoadErrors,
    /// Loaded, but checking reported errors.
    CheckErrors,
    /// Loaded and checked without errors; `typed` when also against the
    /// fixture's schemas.
    Clean { reformatted: bool, typed: bool },
}

/// Counts for the report, and for the checks that the generator still
/// reaches every stage.
#[derive(Debug, Default)]
pub(super) struct FrontEndStats {
    pub(super) inputs: usize,
    pub(super) by_kind: BTreeMap<&'static str, usize>,
    pub(super) unreadable: usize,
    pub(super) load_errors: usize,
    pub(super) check_errors: usize,
    pub(super) clean: usize,
    pub(super) reformatted: usize,
    pub(super) commands: usize,
    pub(super) runs_ok: usize,
    pub(super) runs_failed: usize,
}

impl FrontEndStats {
    /// Count one input and how far it got.
    pub(super) fn count(&mut self, kind: Kind, outcome: Outcome) {
        *self.by_kind.entry(kind.name()).or_default() += 1;
        match outcome {
            Outcome::Unreadable => self.unreadable += 1,
            Outcome::LoadErrors => self.load_errors += 1,
            Outcome::CheckErrors => self.check_errors += 1,
            Outcome::Clean { reformatted, .. } => {
                self.clean += 1;
                self.reformatted += usize::from(reformatted);
            }
        }
    }

    /// Count one run by its exit code.
    pub(super) fn run(&mut self, exit: i32) {
        if exit == 0 {
            self.runs_ok += 1;
        } else {
            self.runs_failed += 1;
        }
    }

    /// Add another worker's counts.
    pub(super) fn merge(&mut self, other: FrontEndStats) {
        self.inputs += other.inputs;
        for (kind, n) in other.by_kind {
            *self.by_kind.entry(kind).or_default() += n;
        }
        self.unreadable += other.unreadable;
        self.load_errors += other.load_errors;
        self.check_errors += other.check_errors;
        self.clean += other.clean;
        self.reformatted += other.reformatted;
        self.commands += other.commands;
        self.runs_ok += other.runs_ok;
        self.runs_failed += other.runs_failed;
    }
}

/// The name every front-end input is loaded under.
pub(super) const FUZZ_PATH: &str = "fuzz.yaml";

/// load → check → fmt, and the invariants each stage keeps. The pipeline
/// is checked three ways: without sources (the bare library call), with
/// its sources resolved as `vane validate` does (nothing is read), and,
/// when `schemas` is given, with the fixture's schemas as `--data` would
/// read them. With `verify_fmt`, `fmt`'s output is loaded and checked
/// again (which costs a second load, so not for every input).
pub(super) fn front_end(
    bytes: &[u8],
    schemas: Option<&Schemas>,
    verify_fmt: bool,
) -> Result<Outcome, String> {
    let path = Path::new(FUZZ_PATH);
    let file = match vane::syntax::yaml::read_source(path, bytes.to_vec()) {
        Ok(file) => Arc::new(file),
        Err(d) => {
            sound(std::slice::from_ref(&d))?;
            return Ok(Outcome::Unreadable);
        }
    };
    let (loaded, load_diagnostics) = vane::syntax::load_file(&file);
    sound(&load_diagnostics)?;
    let load_errors = has_error(&load_diagnostics);
    let Some(loaded) = loaded else {
        if !load_errors {
            return Err("loading gave no pipeline and no error".into());
        }
        return Ok(Outcome::LoadErrors);
    };
    let pipeline = &loaded.pipeline;
    let (model, bare) = vane::check::check(pipeline, &Default::default());
    sound(&bare)?;
    if model.is_none() && !load_errors && !has_error(&bare) {
        return Err("checking without sources gave no model and no error".into());
    }
    let (mut sources, resolved) = vane::sources::resolve(pipeline);
    sound(&resolved)?;
    let (model, checked) = vane::check::check(pipeline, &sources);
    sound(&checked)?;
    if model.is_none() && !load_errors && !has_error(&checked) {
        return Err("checking gave no model and no error".into());
    }
    let typed = match schemas {
        Some(schemas) => {
            sources.schemas = schemas
                .iter()
                .filter(|(name, _)| sources.location(name).is_some())
                .map(|(name, schema)| (name.clone(), schema.clone()))
                .collect();
            let (_, typed) = vane::check::check(pipeline, &sources);
            sound(&typed)?;
            !has_error(&typed)
        }
        None => false,
    };
    let text = &pipeline.file.text;
    let formatted = vane::syntax::fmt::format_text(text, &loaded.sites);
    if load_errors {
        return Ok(Outcome::LoadErrors);
    }
    let reformatted = &formatted != text;
    if reformatted && verify_fmt {
        fmt_keeps_meaning(&loaded, &formatted, &checked)?;
    }
    Ok(if has_error(&resolved) || has_error(&checked) {
        Outcome::CheckErrors
    } else {
        Outcome::Clean { reformatted, typed }
    })
}

/// Whether any of `diagnostics` is an error.
pub(super) fn has_error(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}

/// `fmt`'s output of a file without loading errors loads without errors,
/// has the same expressions in the same canonical form, checks with the
/// same diagnostic codes, and is its own fixed point.
pub(super) fn fmt_keeps_meaning(
    original: &vane::syntax::load::Loaded,
    formatted: &str,
    checked: &[Diagnostic],
) -> Result<(), String> {
    let (again, diagnostics) = vane::syntax::load_text(FUZZ_PATH, formatted.to_string());
    if let Some(d) = diagnostics.iter().find(|d| d.is_error()) {
        return Err(format!(
            "fmt's output does not load ({})\n  {}\n--- fmt's output ---\n{formatted}",
            d.code.as_str(),
            d.message
        ));
    }
    let Some(again) = again else {
        return Err("fmt's output loads to nothing".into());
    };
    let canonical = |sites: &[vane::syntax::load::ExpressionSite]| -> Vec<String> {
        sites.iter().map(|s| s.canonical.clone()).collect()
    };
    if canonical(&original.sites) != canonical(&again.sites) {
        return Err(format!(
            "fmt changed the canonical expressions\n  {:?}\n  became {:?}\n--- fmt's output ---\n{formatted}",
            canonical(&original.sites),
            canonical(&again.sites)
        ));
    }
    let codes = |ds: &[Diagnostic]| -> Vec<&'static str> {
        let mut codes: Vec<_> = ds.iter().map(|d| d.code.as_str()).collect();
        codes.sort_unstable();
        codes
    };
    let (sources, _) = vane::sources::resolve(&again.pipeline);
    let (_, rechecked) = vane::check::check(&again.pipeline, &sources);
    if codes(checked) != codes(&rechecked) {
        return Err(format!(
            "fmt changed what check reports\n  {:?}\n  became {:?}\n--- fmt's output ---\n{formatted}",
            codes(checked),
            codes(&rechecked)
        ));
    }
    let twice = vane::syntax::fmt::format_text(formatted, &again.sites);
    if twice != formatted {
        return Err(format!(
            "fmt is not idempotent\n--- once ---\n{formatted}\n--- twice ---\n{twice}"
        ));
    }
    Ok(())
}

/// Every diagnostic has a message, a help line when it is an error, is not
/// a bug (`V999`), and points inside its file at character boundaries.
pub(super) fn sound(diagnostics: &[Diagnostic]) -> Result<(), String> {
    for d in diagnostics {
        let code = d.code.as_str();
        let what = format!("  {code} `{}`", d.message);
        if d.message.is_empty() {
            return Err(format!("a {code} diagnostic without a message\n{what}"));
        }
        if d.code == Code::Internal {
            return Err(format!(
                "an internal error ({code}): a bug by its own words\n{what}"
            ));
        }
        if d.is_error() && d.help.is_none() {
            return Err(format!("a {code} error without a help line\n{what}"));
        }
        let Some(file) = &d.file else { continue };
        for label in d.primary.iter().chain(&d.secondary) {
            let span = label.span;
            let inside = span.start <= span.end
                && span.end <= file.text.len()
                && file.text.is_char_boundary(span.start)
                && file.text.is_char_boundary(span.end);
            if !inside {
                return Err(format!(
                    "a {code} span that is not inside the file at character boundaries\n{what}: bytes {}..{} of {}",
                    span.start,
                    span.end,
                    file.text.len()
                ));
            }
        }
    }
    Ok(())
}
