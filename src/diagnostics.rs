//! One diagnostic type for every stage, with stable codes and spans into the
//! user's file, and one renderer per output format (human, JSON, GitHub).
//!
//! Stages never print: they return `Vec<Diagnostic>` and keep going, so one
//! run reports every problem in a file. `main.rs` picks the renderer.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};
use serde::Serialize;

use crate::base::{SourceFile, Span};

/// Stable diagnostic codes. The number never changes meaning once released;
/// `docs/errors.md` documents every one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// The file could not be read at all.
    FileUnreadable,
    /// The file is not UTF-8 text.
    FileNotText,
    /// The file is larger than Vane accepts.
    FileTooLarge,
    /// The YAML itself is malformed.
    YamlSyntax,
    /// The file has no content.
    EmptyFile,
    /// A value has the wrong shape (a list where a map belongs, …).
    WrongShape,
    /// A key Vane does not know.
    UnknownKey,
    /// A required key is missing.
    MissingKey,
    /// A key appears twice in one mapping.
    DuplicateKey,
    /// The `vane:` spec version is missing or unsupported.
    SpecVersion,
    /// A value is not one of the allowed words, or is out of range.
    InvalidValue,
    /// An expression does not parse.
    ExprSyntax,
    /// An expression is nested too deeply or is too long.
    ExprTooComplex,
    /// A literal cannot be represented (a number too large, a date that does not exist).
    InvalidLiteral,
    /// A name (metric, column, source, attribute, …) is not defined.
    UnknownName,
    /// Two definitions share one name.
    DuplicateName,
    /// A function name is not known.
    UnknownFunction,
    /// A function was called with the wrong number of arguments.
    WrongArity,
    /// Operand or argument types do not fit.
    TypeMismatch,
    /// An aggregate where a row value is expected, or a row value where an aggregate is expected.
    AggregateContext,
    /// Definitions depend on each other in a cycle.
    DependencyCycle,
    /// Weights, bands or health models are inconsistent.
    InvalidHealth,
    /// A metric, indicator or playbook reads an outcome.
    OutcomeRead,
    /// A data file's schema does not match what the pipeline needs.
    SchemaMismatch,
    /// A data file is missing or unreadable.
    DataUnreadable,
    /// A computed value is beyond what its type holds (a 64-bit integer).
    OutOfRange,
    /// Values of a declared column that do not parse, beyond the source's limit.
    UnparsableValues,
    /// The run could not complete.
    RunFailed,
    /// Outputs could not be written.
    OutputFailed,
    /// A command-line argument is invalid.
    InvalidArgument,
    /// A night asked for is not in the output folder, or the folder holds none.
    NightMissing,
    /// The engine asked for cannot be used: a build without it, an
    /// unreachable scheduler.
    EngineUnavailable,
    /// `vane sql`: the dialect cannot say a construct as Vane computes it.
    SqlInexpressible,
    /// A metric test failed.
    TestFailed,
    /// A definition is never used.
    Unused,
    /// Two playbooks fire on the same condition.
    DuplicateCondition,
    /// A bug in Vane.
    Internal,
}

impl Code {
    /// Every code, in documentation order.
    pub const ALL: &'static [Code] = &[
        Code::FileUnreadable,
        Code::FileNotText,
        Code::FileTooLarge,
        Code::YamlSyntax,
        Code::EmptyFile,
        Code::WrongShape,
        Code::UnknownKey,
        Code::MissingKey,
        Code::DuplicateKey,
        Code::SpecVersion,
        Code::InvalidValue,
        Code::ExprSyntax,
        Code::ExprTooComplex,
        Code::InvalidLiteral,
        Code::UnknownName,
        Code::DuplicateName,
        Code::UnknownFunction,
        Code::WrongArity,
        Code::TypeMismatch,
        Code::AggregateContext,
        Code::DependencyCycle,
        Code::InvalidHealth,
        Code::OutcomeRead,
        Code::SchemaMismatch,
        Code::DataUnreadable,
        Code::OutOfRange,
        Code::UnparsableValues,
        Code::RunFailed,
        Code::OutputFailed,
        Code::InvalidArgument,
        Code::NightMissing,
        Code::EngineUnavailable,
        Code::SqlInexpressible,
        Code::TestFailed,
        Code::Unused,
        Code::DuplicateCondition,
        Code::Internal,
    ];

    /// The stable code printed to users, e.g. `V104`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::FileUnreadable => "V100",
            Code::FileNotText => "V101",
            Code::FileTooLarge => "V102",
            Code::YamlSyntax => "V103",
            Code::EmptyFile => "V104",
            Code::WrongShape => "V110",
            Code::UnknownKey => "V111",
            Code::MissingKey => "V112",
            Code::DuplicateKey => "V113",
            Code::SpecVersion => "V114",
            Code::InvalidValue => "V115",
            Code::ExprSyntax => "V200",
            Code::ExprTooComplex => "V201",
            Code::InvalidLiteral => "V202",
            Code::UnknownName => "V300",
            Code::DuplicateName => "V301",
            Code::UnknownFunction => "V302",
            Code::WrongArity => "V303",
            Code::TypeMismatch => "V400",
            Code::AggregateContext => "V401",
            Code::DependencyCycle => "V402",
            Code::InvalidHealth => "V403",
            Code::OutcomeRead => "V404",
            Code::SchemaMismatch => "V500",
            Code::DataUnreadable => "V501",
            Code::OutOfRange => "V502",
            Code::UnparsableValues => "V503",
            Code::RunFailed => "V600",
            Code::OutputFailed => "V601",
            Code::InvalidArgument => "V602",
            Code::NightMissing => "V603",
            Code::EngineUnavailable => "V604",
            Code::SqlInexpressible => "V605",
            Code::TestFailed => "V700",
            Code::Unused => "V701",
            Code::DuplicateCondition => "V702",
            Code::Internal => "V999",
        }
    }

    /// A short slug naming the code, used in docs and JSON output.
    pub fn slug(self) -> &'static str {
        match self {
            Code::FileUnreadable => "file-unreadable",
            Code::FileNotText => "file-not-text",
            Code::FileTooLarge => "file-too-large",
            Code::YamlSyntax => "yaml-syntax",
            Code::EmptyFile => "empty-file",
            Code::WrongShape => "wrong-shape",
            Code::UnknownKey => "unknown-key",
            Code::MissingKey => "missing-key",
            Code::DuplicateKey => "duplicate-key",
            Code::SpecVersion => "spec-version",
            Code::InvalidValue => "invalid-value",
            Code::ExprSyntax => "expression-syntax",
            Code::ExprTooComplex => "expression-too-complex",
            Code::InvalidLiteral => "invalid-literal",
            Code::UnknownName => "unknown-name",
            Code::DuplicateName => "duplicate-name",
            Code::UnknownFunction => "unknown-function",
            Code::WrongArity => "wrong-arity",
            Code::TypeMismatch => "type-mismatch",
            Code::AggregateContext => "aggregate-context",
            Code::DependencyCycle => "dependency-cycle",
            Code::InvalidHealth => "invalid-health",
            Code::OutcomeRead => "outcome-read",
            Code::SchemaMismatch => "schema-mismatch",
            Code::DataUnreadable => "data-unreadable",
            Code::OutOfRange => "value-out-of-range",
            Code::UnparsableValues => "unparsable-values",
            Code::RunFailed => "run-failed",
            Code::OutputFailed => "output-failed",
            Code::InvalidArgument => "invalid-argument",
            Code::NightMissing => "night-missing",
            Code::EngineUnavailable => "engine-unavailable",
            Code::SqlInexpressible => "sql-inexpressible",
            Code::TestFailed => "test-failed",
            Code::Unused => "unused",
            Code::DuplicateCondition => "duplicate-condition",
            Code::Internal => "internal",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How serious a diagnostic is. Errors make a command exit 2; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The input cannot be used.
    Error,
    /// The input works but is probably not what was meant.
    Warning,
}

/// A span with a short text shown beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Where in the file.
    pub span: Span,
    /// What to say there (may be empty).
    pub text: String,
}

/// One problem found in the user's input, with everything needed to show it.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// The stable code.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// A lowercase phrase saying what is wrong.
    pub message: String,
    /// The file the spans point into, when there is one.
    pub file: Option<Arc<SourceFile>>,
    /// The exact place of the problem.
    pub primary: Option<Label>,
    /// Related places (the other definition of a duplicate, the rest of a cycle).
    pub secondary: Vec<Label>,
    /// What to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with a code and a message, and no place yet.
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            file: None,
            primary: None,
            secondary: Vec::new(),
            help: None,
        }
    }

    /// A warning with a code and a message.
    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Point at `span` in `file`, with a label text. The span is kept
    /// inside the file and widened to whole characters, so editors reading
    /// the JSON output get valid positions.
    pub fn at(mut self, file: &Arc<SourceFile>, span: Span, label: impl Into<String>) -> Self {
        self.file = Some(file.clone());
        self.primary = Some(Label {
            span: whole_characters(&file.text, span),
            text: label.into(),
        });
        self
    }

    /// Add a related place in the same file (kept inside it like [`Diagnostic::at`]).
    pub fn also(mut self, span: Span, label: impl Into<String>) -> Self {
        let span = match &self.file {
            Some(file) => whole_characters(&file.text, span),
            None => span,
        };
        self.secondary.push(Label {
            span,
            text: label.into(),
        });
        self
    }

    /// Add the hint line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// True for errors (as opposed to warnings).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `line:column` (1-based) of the primary span, when there is one.
    pub fn line_column(&self) -> Option<(usize, usize)> {
        let file = self.file.as_ref()?;
        let label = self.primary.as_ref()?;
        Some(file.line_column(label.span.start))
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// `span` inside `text`, its start moved back and its end forward to
/// character boundaries.
fn whole_characters(text: &str, span: Span) -> Span {
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end.clamp(start, text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    Span::new(start, end)
}

/// Adapter that lets miette draw a [`Diagnostic`] with its source snippet.
struct MietteView<'a> {
    diagnostic: &'a Diagnostic,
    source: Option<&'a IndexedSource>,
}

impl fmt::Debug for MietteView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.diagnostic.fmt(f)
    }
}

impl fmt::Display for MietteView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for MietteView<'_> {}

fn to_source_span(span: Span) -> SourceSpan {
    SourceSpan::new(span.start.into(), span.end.saturating_sub(span.start))
}

impl miette::Diagnostic for MietteView<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(format!(
            "vane::{}::{}",
            self.diagnostic.code.as_str(),
            self.diagnostic.code.slug()
        )))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|h| Box::new(h.as_str()) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.source.as_ref()?;
        let primary = self.diagnostic.primary.iter().map(|l| {
            LabeledSpan::new_primary_with_span(non_empty(&l.text), to_source_span(l.span))
        });
        let secondary = self
            .diagnostic
            .secondary
            .iter()
            .map(|l| LabeledSpan::new_with_span(non_empty(&l.text), to_source_span(l.span)));
        Some(Box::new(primary.chain(secondary)))
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

/// The output formats for diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Source snippets with labels, for people.
    Human,
    /// One JSON array, for editors and tools.
    Json,
    /// GitHub Actions workflow commands (`::error file=…`), for annotations on pull requests.
    Github,
}

/// `text` with control characters (terminal escapes among them) shown as
/// `\u{1b}` rather than sent to the terminal; line breaks and tabs stay.
pub fn printable(text: &str) -> Cow<'_, str> {
    let hidden = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match hidden(c) {
                true => format!("\\u{{{:x}}}", c as u32),
                false => c.to_string(),
            })
            .collect(),
    )
}

/// A file's text with control characters replaced by visible ones of the
/// same length in bytes, so spans still point where they did.
fn printable_source(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => c,
            c if c.is_control() && c.len_utf8() == 1 => '?',
            c if c.is_control() => '¿',
            c => c,
        })
        .collect()
}

/// A file's printable text with a line index, so that drawing a snippet
/// reads only the lines around it. miette's own `str` source scans from the
/// start of the file for every snippet, which made rendering N diagnostics
/// of an N-item file quadratic.
struct IndexedSource {
    name: String,
    text: String,
    /// Byte offset of each line's first byte; lines end at `\n`, `\r\n`
    /// or a lone `\r`, as miette counts them.
    line_starts: Vec<usize>,
}

impl IndexedSource {
    fn new(file: &SourceFile) -> Self {
        let text = printable_source(&file.text);
        let bytes = text.as_bytes();
        let mut line_starts = vec![0];
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                    i += 1;
                    line_starts.push(i + 1);
                }
                b'\r' | b'\n' => line_starts.push(i + 1),
                _ => {}
            }
            i += 1;
        }
        IndexedSource {
            name: printable(&file.name).into_owned(),
            text,
            line_starts,
        }
    }

    /// The 0-based line holding byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= offset) - 1
    }
}

impl SourceCode for IndexedSource {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let first_line = self
            .line_of(span.offset())
            .saturating_sub(context_lines_before);
        let end_line = self.line_of(span.offset() + span.len()) + context_lines_after + 2;
        let window_start = self.line_starts[first_line];
        let window_end = self
            .line_starts
            .get(end_line)
            .copied()
            .unwrap_or(self.text.len());
        let window = &self.text.as_bytes()[window_start..window_end];
        let local = SourceSpan::new((span.offset() - window_start).into(), span.len());
        let contents = window.read_span(&local, context_lines_before, context_lines_after)?;
        let shown = contents.span();
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            contents.data(),
            SourceSpan::new((shown.offset() + window_start).into(), shown.len()),
            contents.line() + first_line,
            contents.column(),
            contents.line_count() + first_line,
        )))
    }
}

/// A diagnostic whose texts are [`printable`].
fn printable_diagnostic(diagnostic: &Diagnostic) -> Diagnostic {
    let label = |l: &Label| Label {
        span: l.span,
        text: printable(&l.text).into_owned(),
    };
    Diagnostic {
        message: printable(&diagnostic.message).into_owned(),
        help: diagnostic
            .help
            .as_deref()
            .map(|h| printable(h).into_owned()),
        primary: diagnostic.primary.as_ref().map(label),
        secondary: diagnostic.secondary.iter().map(label).collect(),
        ..diagnostic.clone()
    }
}

/// Render diagnostics for a person: code, message, the source snippet with
/// labels and the help line. `color` adds ANSI colours. Control characters
/// in messages and in the file are shown, never sent to the terminal.
pub fn render_human(diagnostics: &[Diagnostic], color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    let mut sources: Vec<(Arc<SourceFile>, IndexedSource)> = Vec::new();
    for diagnostic in diagnostics {
        let diagnostic = &printable_diagnostic(diagnostic);
        let source = match &diagnostic.file {
            Some(file) => {
                let at = match sources.iter().position(|(f, _)| Arc::ptr_eq(f, file)) {
                    Some(at) => at,
                    None => {
                        sources.push((file.clone(), IndexedSource::new(file)));
                        sources.len() - 1
                    }
                };
                Some(&sources[at].1)
            }
            None => None,
        };
        let view = MietteView { diagnostic, source };
        if handler.render_report(&mut out, &view).is_err() {
            out.push_str(&format!("{}: {}\n", diagnostic.code, diagnostic.message));
        }
        if diagnostic.primary.is_none()
            && let Some(file) = &diagnostic.file
        {
            out.push_str(&format!("  in {}\n", file.name));
        }
    }
    out
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    start_byte: usize,
    end_byte: usize,
    text: &'a str,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'static str,
    name: &'static str,
    severity: Severity,
    message: &'a str,
    file: Option<&'a str>,
    #[serde(flatten)]
    primary: Option<JsonLabel<'a>>,
    related: Vec<JsonLabel<'a>>,
    help: Option<&'a str>,
}

fn json_label<'a>(file: &SourceFile, label: &'a Label) -> JsonLabel<'a> {
    let (line, column) = file.line_column(label.span.start);
    let (end_line, end_column) = file.line_column(label.span.end);
    JsonLabel {
        line,
        column,
        end_line,
        end_column,
        start_byte: label.span.start,
        end_byte: label.span.end,
        text: &label.text,
    }
}

/// Render diagnostics as a JSON array (stable field names, 1-based lines and columns).
pub fn render_json(diagnostics: &[Diagnostic]) -> String {
    let items: Vec<JsonDiagnostic<'_>> = diagnostics
        .iter()
        .map(|d| {
            let file = d.file.as_deref();
            JsonDiagnostic {
                code: d.code.as_str(),
                name: d.code.slug(),
                severity: d.severity,
                message: &d.message,
                file: file.map(|f| f.name.as_str()),
                primary: file.zip(d.primary.as_ref()).map(|(f, l)| json_label(f, l)),
                related: file
                    .map(|f| d.secondary.iter().map(|l| json_label(f, l)).collect())
                    .unwrap_or_default(),
                help: d.help.as_deref(),
            }
        })
        .collect();
    serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".to_string()) + "\n"
}

/// Render diagnostics as GitHub Actions workflow commands, one per line.
pub fn render_github(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties = Vec::new();
        if let Some(file) = &d.file {
            properties.push(format!("file={}", escape_property(&file.name)));
            if let Some(label) = &d.primary {
                let (line, col) = file.line_column(label.span.start);
                let (end_line, end_col) = file.line_column(label.span.end);
                properties.push(format!("line={line},col={col}"));
                properties.push(format!("endLine={end_line},endColumn={end_col}"));
            }
        }
        properties.push(format!("title={}", d.code));
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        out.push_str(&format!(
            "::{level} {}::{}\n",
            properties.join(","),
            escape_data(&message)
        ));
    }
    out
}

fn escape_data(text: &str) -> String {
    printable(text)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Render in the chosen format.
pub fn render(diagnostics: &[Diagnostic], format: Format, color: bool) -> String {
    match format {
        Format::Human => render_human(diagnostics, color),
        Format::Json => render_json(diagnostics),
        Format::Github => render_github(diagnostics),
    }
}

/// Suggest the closest of `candidates` to `name`, for "did you mean" hints.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// A "did you mean" help line, or a list of what exists when nothing is close.
pub fn suggestion<'a>(
    name: &str,
    what: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
) -> String {
    match closest(name, candidates.clone()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => {
            let mut all: Vec<&str> = candidates.into_iter().collect();
            all.sort_unstable();
            all.dedup();
            if all.is_empty() {
                format!("no {what} is defined here")
            } else if all.len() <= 12 {
                format!(
                    "known {what}s: {}",
                    all.iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                format!("{} {what}s are defined; check the spelling", all.len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
        }
    }

    #[test]
    fn terminal_escapes_in_messages_and_files_are_shown_not_sent() {
        let hostile = "key \u{1b}]0;pwned\u{7}\u{1b}[31m";
        let file = Arc::new(SourceFile::new("p.yaml", format!("name: \"{hostile}\"\n")));
        let d = Diagnostic::error(Code::InvalidValue, format!("no account `{hostile}`"))
            .at(&file, Span::new(7, 9), hostile)
            .help(hostile);
        for text in [
            render_human(std::slice::from_ref(&d), false),
            render_github(std::slice::from_ref(&d)),
        ] {
            assert!(
                !text.contains('\u{1b}') && !text.contains('\u{7}'),
                "{text:?}"
            );
            assert!(text.contains("\\u{1b}]0;pwned"), "{text}");
        }
        assert!(render_json(&[d]).contains("\\u001b"));
        assert_eq!(printable("tab\tand\nline"), "tab\tand\nline");
    }

    /// Snippets drawn from the line index are exactly those miette draws by
    /// scanning the whole text, for every span of files with `\n`, `\r\n`
    /// and lone `\r` line ends, at the first and last lines too.
    #[test]
    fn indexed_snippets_match_miettes_own() {
        let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
            .with_width(100)
            .with_links(false);
        let texts = [
            "a: 1\nbb: two\nccc: [3]\n\ndddd: 4\neeeee: 5\nf: 6",
            "a: 1\r\nb: 2\r\nc: 3\r\nd: é\r\n",
            "a: 1\rb: 2\rc: 3\n\nd: 4\n",
            "only",
        ];
        for text in texts {
            let file = Arc::new(SourceFile::new("p.yaml", text.to_string()));
            let indexed = IndexedSource::new(&file);
            for start in 0..=text.len() {
                for end in start..=(start + 9).min(text.len()) {
                    if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
                        continue;
                    }
                    let d = Diagnostic::error(Code::InvalidValue, "m")
                        .at(&file, Span::new(start, end), "here")
                        .also(Span::new(end, end), "there");
                    let ours = render_human(std::slice::from_ref(&d), false);
                    let view = MietteView {
                        diagnostic: &d,
                        source: Some(&indexed),
                    };
                    assert!(ours.contains("p.yaml"), "{ours}");
                    let mut theirs = String::new();
                    let scanned = miette::NamedSource::new("p.yaml", text.to_string());
                    let plain = PlainView { view, scanned };
                    handler.render_report(&mut theirs, &plain).unwrap();
                    assert_eq!(ours, theirs, "{text:?} {start}..{end}");
                }
            }
        }
    }

    /// A [`MietteView`] whose source is miette's own scanning `NamedSource`.
    struct PlainView<'a> {
        view: MietteView<'a>,
        scanned: miette::NamedSource<String>,
    }

    impl fmt::Debug for PlainView<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.view.fmt(f)
        }
    }

    impl fmt::Display for PlainView<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Display::fmt(&self.view, f)
        }
    }

    impl std::error::Error for PlainView<'_> {}

    impl miette::Diagnostic for PlainView<'_> {
        fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
            self.view.code()
        }
        fn severity(&self) -> Option<miette::Severity> {
            self.view.severity()
        }
        fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
            self.view.help()
        }
        fn source_code(&self) -> Option<&dyn miette::SourceCode> {
            Some(&self.scanned)
        }
        fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
            self.view.labels()
        }
    }

    #[test]
    fn closest_finds_typos() {
        assert_eq!(
            closest("activ_users", ["active_users", "nps"]),
            Some("active_users")
        );
        assert_eq!(closest("zzz", ["active_users", "nps"]), None);
    }
}
