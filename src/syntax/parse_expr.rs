//! Expression text → [`Expr`], with pest and a Pratt parser.
//!
//! Each expression is parsed on its own (pest cannot recover inside one
//! input), and every span is mapped through [`ScalarText`] into the file.

use std::sync::{Arc, LazyLock};

use chrono::{NaiveDate, NaiveDateTime};
use pest::Parser;
use pest::error::InputLocation;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};

use super::expr::{
    BinaryOp, DurationUnit, Expr, ExprKind, Ident, Literal, Template, TemplatePart, UnaryOp,
};
use super::scalar::ScalarText;
use crate::base::{SourceFile, Span};
use crate::diagnostics::{Code, Diagnostic};

/// Deepest nesting of parentheses, brackets and `case` accepted.
pub const MAX_NESTING: usize = 64;
/// Deepest expression tree accepted: a chain of N operators (`1 + 1 + …`)
/// nests N deep, and every later stage walks the tree recursively.
pub const MAX_DEPTH: usize = 256;
/// Longest expression accepted, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 16 * 1024;
/// Longest run of prefix operators (`- - - x`, `not not x`) accepted.
const MAX_PREFIX_RUN: usize = 16;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/expr.pest"]
struct ExprGrammar;

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::or, Assoc::Left))
        .op(Op::infix(Rule::and, Assoc::Left))
        .op(Op::prefix(Rule::not))
        .op(Op::infix(Rule::eq, Assoc::Left)
            | Op::infix(Rule::ne, Assoc::Left)
            | Op::infix(Rule::lt, Assoc::Left)
            | Op::infix(Rule::le, Assoc::Left)
            | Op::infix(Rule::gt, Assoc::Left)
            | Op::infix(Rule::ge, Assoc::Left)
            | Op::postfix(Rule::is_null)
            | Op::postfix(Rule::is_not_null)
            | Op::postfix(Rule::in_list)
            | Op::postfix(Rule::not_in_list)
            | Op::postfix(Rule::between)
            | Op::postfix(Rule::not_between))
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left) | Op::infix(Rule::div, Assoc::Left))
        .op(Op::prefix(Rule::neg))
});

/// Parses expressions found in one YAML scalar and maps spans into the file.
struct Converter<'a> {
    scalar: &'a ScalarText,
    file: &'a Arc<SourceFile>,
    errors: std::cell::RefCell<Vec<Diagnostic>>,
}

impl Converter<'_> {
    fn span(&self, pest_span: pest::Span<'_>) -> Span {
        self.scalar.file_span(pest_span.start(), pest_span.end())
    }

    fn error(&self, code: Code, span: Span, message: String, label: &str, help: &str) {
        self.errors.borrow_mut().push(
            Diagnostic::error(code, message)
                .at(self.file, span, label)
                .help(help),
        );
    }

    fn expr(&self, pairs: Pairs<'_, Rule>) -> Expr {
        PRATT
            .map_primary(|p| self.primary(p))
            .map_prefix(|op, operand| {
                let span = self.span(op.as_span()).to(operand.span);
                let op = if op.as_rule() == Rule::neg {
                    UnaryOp::Neg
                } else {
                    UnaryOp::Not
                };
                Expr {
                    kind: ExprKind::Unary {
                        op,
                        operand: Box::new(operand),
                    },
                    span,
                }
            })
            .map_postfix(|operand, op| self.postfix(operand, op))
            .map_infix(|left, op, right| {
                let op = match op.as_rule() {
                    Rule::add => BinaryOp::Add,
                    Rule::sub => BinaryOp::Sub,
                    Rule::mul => BinaryOp::Mul,
                    Rule::div => BinaryOp::Div,
                    Rule::eq => BinaryOp::Eq,
                    Rule::ne => BinaryOp::Ne,
                    Rule::lt => BinaryOp::Lt,
                    Rule::le => BinaryOp::Le,
                    Rule::gt => BinaryOp::Gt,
                    Rule::ge => BinaryOp::Ge,
                    Rule::and => BinaryOp::And,
                    _ => BinaryOp::Or,
                };
                let span = left.span.to(right.span);
                Expr {
                    kind: ExprKind::Binary {
                        op,
                        left: Box::new(left),
                        right: Box::new(right),
                    },
                    span,
                }
            })
            .parse(pairs)
    }

    fn postfix(&self, operand: Expr, op: Pair<'_, Rule>) -> Expr {
        let span = operand.span.to(self.span(op.as_span()));
        let rule = op.as_rule();
        let operand = Box::new(operand);
        let kind = match rule {
            Rule::is_null | Rule::is_not_null => ExprKind::IsNull {
                operand,
                negated: rule == Rule::is_not_null,
            },
            Rule::in_list | Rule::not_in_list => ExprKind::InList {
                operand,
                list: op
                    .into_inner()
                    .filter(|p| p.as_rule() == Rule::expr)
                    .map(|p| self.expr(p.into_inner()))
                    .collect(),
                negated: rule == Rule::not_in_list,
            },
            _ => {
                let mut bounds = op
                    .into_inner()
                    .filter(|p| p.as_rule() == Rule::arith)
                    .map(|p| self.expr(p.into_inner()));
                let low = bounds.next().unwrap_or_else(|| null_at(span));
                let high = bounds.next().unwrap_or_else(|| null_at(span));
                ExprKind::Between {
                    operand,
                    low: Box::new(low),
                    high: Box::new(high),
                    negated: rule == Rule::not_between,
                }
            }
        };
        Expr { kind, span }
    }

    fn primary(&self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(pair.as_span());
        let kind = match pair.as_rule() {
            Rule::expr => return self.expr(pair.into_inner()),
            Rule::number => self.number(&pair, span),
            Rule::percent => {
                let digits = pair.as_str().trim_end_matches('%');
                ExprKind::Literal(Literal::Percent(digits.parse().unwrap_or(0.0)))
            }
            Rule::duration => self.duration(&pair, span),
            Rule::date => {
                let text = &pair.as_str()[1..];
                match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                    Ok(d) => ExprKind::Literal(Literal::Date(d)),
                    Err(_) => {
                        self.bad_literal(span, format!("`{}` is not a valid date", pair.as_str()))
                    }
                }
            }
            Rule::timestamp => {
                let text = pair.as_str()[1..].trim_end_matches('Z');
                let parsed = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
                    .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"));
                match parsed {
                    Ok(t) => ExprKind::Literal(Literal::Timestamp(t)),
                    Err(_) => self.bad_literal(
                        span,
                        format!("`{}` is not a valid timestamp", pair.as_str()),
                    ),
                }
            }
            Rule::string => {
                let inner = pair.into_inner().next().map(|p| p.as_str()).unwrap_or("");
                ExprKind::Literal(Literal::String(inner.replace("''", "'")))
            }
            Rule::boolean => {
                ExprKind::Literal(Literal::Boolean(pair.as_str().eq_ignore_ascii_case("true")))
            }
            Rule::null => ExprKind::Literal(Literal::Null),
            Rule::path => {
                let mut idents = pair.into_inner().map(|p| self.ident(p));
                let first = idents.next();
                match (first, idents.next()) {
                    (Some(entity), Some(attribute)) => ExprKind::Attribute { entity, attribute },
                    (Some(name), None) => ExprKind::Name(name),
                    _ => ExprKind::Literal(Literal::Null),
                }
            }
            Rule::call => {
                let mut inner = pair.into_inner();
                // Function names are case-insensitive; the AST keeps them lowercase.
                let function = match inner.next() {
                    Some(p) => {
                        let mut ident = self.ident(p);
                        ident.name = ident.name.to_lowercase();
                        ident
                    }
                    None => Ident {
                        name: String::new(),
                        span,
                    },
                };
                ExprKind::Call {
                    function,
                    args: inner.map(|p| self.expr(p.into_inner())).collect(),
                }
            }
            Rule::list => ExprKind::List(
                pair.into_inner()
                    .map(|p| self.expr(p.into_inner()))
                    .collect(),
            ),
            Rule::case_expr => {
                let mut branches = Vec::new();
                let mut otherwise = None;
                for part in pair.into_inner() {
                    if part.as_rule() == Rule::case_branch {
                        let mut cv = part
                            .into_inner()
                            .filter(|p| p.as_rule() == Rule::expr)
                            .map(|p| self.expr(p.into_inner()));
                        let condition = cv.next().unwrap_or_else(|| null_at(span));
                        let value = cv.next().unwrap_or_else(|| null_at(span));
                        branches.push((condition, value));
                    } else if part.as_rule() == Rule::expr {
                        otherwise = Some(Box::new(self.expr(part.into_inner())));
                    }
                }
                ExprKind::Case {
                    branches,
                    otherwise,
                }
            }
            _ => ExprKind::Literal(Literal::Null),
        };
        Expr { kind, span }
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        let span = self.span(pair.as_span());
        let text = pair.as_str();
        let name = text
            .strip_prefix('`')
            .and_then(|t| t.strip_suffix('`'))
            .unwrap_or(text);
        Ident {
            name: name.to_string(),
            span,
        }
    }

    fn number(&self, pair: &Pair<'_, Rule>, span: Span) -> ExprKind {
        let text = pair.as_str();
        let is_decimal = text.contains(['.', 'e', 'E']);
        if is_decimal {
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => ExprKind::Literal(Literal::Decimal(v)),
                _ => self.bad_literal(span, format!("`{text}` is too large a number")),
            }
        } else {
            match text.parse::<i64>() {
                Ok(v) => ExprKind::Literal(Literal::Integer(v)),
                Err(_) => {
                    self.bad_literal(span, format!("`{text}` does not fit in a 64-bit integer"))
                }
            }
        }
    }

    fn duration(&self, pair: &Pair<'_, Rule>, span: Span) -> ExprKind {
        let text = pair.as_str();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, suffix) = text.split_at(split);
        let unit = match suffix {
            "w" => DurationUnit::Weeks,
            "d" => DurationUnit::Days,
            "h" => DurationUnit::Hours,
            "min" => DurationUnit::Minutes,
            _ => DurationUnit::Seconds,
        };
        match digits.parse::<i64>() {
            Ok(n) if n.checked_mul(unit.seconds()).is_some() => {
                ExprKind::Literal(Literal::Duration(n, unit))
            }
            _ => self.bad_literal(span, format!("`{text}` is too long a duration")),
        }
    }

    fn bad_literal(&self, span: Span, message: String) -> ExprKind {
        self.error(
            Code::InvalidLiteral,
            span,
            message,
            "this literal",
            "write a smaller value, or a valid date such as `@2026-01-31`",
        );
        ExprKind::Literal(Literal::Null)
    }
}

fn null_at(span: Span) -> Expr {
    Expr {
        kind: ExprKind::Literal(Literal::Null),
        span,
    }
}

/// Reject inputs that would recurse too deeply in the parser, before parsing.
fn check_complexity(text: &str) -> Result<(), (usize, String)> {
    if text.len() > MAX_EXPRESSION_BYTES {
        return Err((
            0,
            format!(
                "expression is {} bytes long; at most {MAX_EXPRESSION_BYTES} are accepted",
                text.len()
            ),
        ));
    }
    let mut depth = 0usize;
    let mut prefix_run = 0usize;
    let mut in_string = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            if b == b'\'' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match b {
            b'\'' => in_string = true,
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        let word_start = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if word_start && b.is_ascii_alphabetic() {
            let end = bytes[i..]
                .iter()
                .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                .map_or(bytes.len(), |p| i + p);
            let word = text[i..end].to_ascii_lowercase();
            match word.as_str() {
                "case" => depth += 1,
                "end" => depth = depth.saturating_sub(1),
                "not" => prefix_run += 1,
                _ => prefix_run = 0,
            }
            i = end;
        } else {
            if b == b'-' {
                prefix_run += 1;
            } else if !b.is_ascii_whitespace() && b != b'(' {
                prefix_run = 0;
            }
            i += 1;
        }
        if depth > MAX_NESTING {
            return Err((
                i,
                format!("expression is nested more than {MAX_NESTING} levels deep"),
            ));
        }
        if prefix_run > MAX_PREFIX_RUN {
            return Err((
                i,
                format!("more than {MAX_PREFIX_RUN} `-` or `not` in a row"),
            ));
        }
    }
    Ok(())
}

fn syntax_error(
    file: &Arc<SourceFile>,
    scalar: &ScalarText,
    error: pest::error::Error<Rule>,
) -> Diagnostic {
    let (start, end) = match error.location {
        InputLocation::Pos(p) => (p, p + 1),
        InputLocation::Span((s, e)) => (s, e.max(s + 1)),
    };
    let end = end.min(scalar.value.len()).max(start);
    let found = scalar.value.get(start..).and_then(|rest| {
        let token: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace())
            .take(20)
            .collect();
        (!token.is_empty()).then_some(token)
    });
    let expected = match &error.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => describe_expected(positives),
        pest::error::ErrorVariant::CustomError { message } => message.clone(),
    };
    let span = match &found {
        Some(_) => {
            let word = scalar.value.get(start..).map_or(0, token_length);
            scalar.file_span(start, end.max(start + word))
        }
        None => scalar.file_span(scalar.value.trim_end().len(), scalar.value.trim_end().len()),
    };
    let after_number = scalar
        .value
        .get(..start)
        .is_some_and(|before| before.trim_end().ends_with(|c: char| c.is_ascii_digit()));
    let glued_unit = found.as_deref().and_then(|token| {
        let unit = token.trim_start_matches(|c: char| c.is_ascii_digit());
        (unit.len() < token.len()).then_some(unit)
    });
    let unit = match glued_unit {
        Some(unit) => Some(unit),
        None => found.as_deref().filter(|_| after_number),
    };
    if let Some((word, kind)) = unit.and_then(|w| Some((w, unit_word(w)?))) {
        return unit_word_error(file, span, word, kind);
    }
    let message = match &found {
        Some(token) => format!("unexpected `{token}` in expression"),
        None => "expression ends too early".to_string(),
    };
    let open = scalar.value.matches('(').count() > scalar.value.matches(')').count();
    let in_flow = scalar.style == super::scalar::ScalarStyle::Plain
        && file
            .text
            .get(scalar.span.end..)
            .is_some_and(|rest| rest.trim_start().starts_with(','));
    let help = if open && in_flow {
        "inside `{ … }` or `[ … ]` a comma ends the YAML value: quote the expression".to_string()
    } else if scalar.value.contains('"') {
        "strings in expressions use single quotes: 'gold'".to_string()
    } else if found.as_deref().is_some_and(|t| t.starts_with("=="))
        || (start > 0 && scalar.value.get(start - 1..=start) == Some("=="))
    {
        "equality is a single `=`".to_string()
    } else if found
        .as_deref()
        .is_some_and(|t| t.starts_with("&&") || t.starts_with("||"))
    {
        "use `and` / `or`".to_string()
    } else {
        format!("expected {expected}")
    };
    Diagnostic::error(Code::ExprSyntax, message)
        .at(file, span, "here")
        .help(help)
}

/// Bytes of the token at the start of `rest`: a whole word or number, a run
/// of operator characters, or one character.
fn token_length(rest: &str) -> usize {
    #[derive(PartialEq)]
    enum Kind {
        Word,
        Operator,
        Other,
    }
    let kind = |c: char| match c {
        c if c.is_alphanumeric() || c == '_' => Kind::Word,
        c if "=<>!&|".contains(c) => Kind::Operator,
        _ => Kind::Other,
    };
    match rest.chars().next() {
        None => 0,
        Some(first) if kind(first) == Kind::Other => first.len_utf8(),
        Some(first) => {
            let first = kind(first);
            rest.find(|c: char| kind(c) != first).unwrap_or(rest.len())
        }
    }
}

/// A duration unit written as a word after a number (`1 month`, `30 days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnitWord {
    /// Months, quarters and years: no fixed length.
    Calendar,
    /// A unit Vane has, spelled out; the suffix to write instead.
    Spelled(&'static str),
    /// `m`: minutes or months?
    BareM,
}

fn unit_word(token: &str) -> Option<UnitWord> {
    let word = unit_letters(token).to_lowercase();
    Some(match word.as_str() {
        "month" | "months" | "mo" | "mon" | "quarter" | "quarters" | "year" | "years" | "y"
        | "yr" | "yrs" => UnitWord::Calendar,
        "week" | "weeks" | "wk" | "wks" => UnitWord::Spelled("w"),
        "day" | "days" => UnitWord::Spelled("d"),
        "hour" | "hours" | "hr" | "hrs" => UnitWord::Spelled("h"),
        "minute" | "minutes" | "mins" => UnitWord::Spelled("min"),
        "m" => UnitWord::BareM,
        "second" | "seconds" | "sec" | "secs" => UnitWord::Spelled("s"),
        _ => return None,
    })
}

/// The letters a unit word starts with (`months` of `months)`).
fn unit_letters(token: &str) -> &str {
    let end = token
        .find(|c: char| !c.is_alphabetic())
        .unwrap_or(token.len());
    &token[..end]
}

fn unit_word_error(file: &Arc<SourceFile>, span: Span, token: &str, unit: UnitWord) -> Diagnostic {
    let word = unit_letters(token);
    match unit {
        UnitWord::Calendar => Diagnostic::error(
            Code::TypeMismatch,
            "months, quarters and years are not durations: their length in days varies",
        )
        .at(file, span, "not a duration unit")
        .help(
            "write days or weeks: `30d` or `4w` for about a month, `13w` or `90d` for a quarter, \
             `52w` or `365d` for a year",
        ),
        UnitWord::Spelled(suffix) => Diagnostic::error(
            Code::ExprSyntax,
            format!("`{word}` is not a duration unit"),
        )
        .at(file, span, "not a duration unit")
        .help(format!(
            "write the number and `{suffix}` together, e.g. `30{suffix}`; units: w (weeks), d (days), h (hours), min, s"
        )),
        UnitWord::BareM => Diagnostic::error(Code::ExprSyntax, "`m` is not a duration unit")
            .at(file, span, "minutes or months?")
            .help(
                "write `min` for minutes (`15min`); months have no fixed length, so write `30d` \
                 or `4w` for about a month",
            ),
    }
}

fn describe_expected(rules: &[Rule]) -> String {
    let mut words: Vec<&str> = rules
        .iter()
        .map(|r| match r {
            Rule::expr
            | Rule::arith
            | Rule::number
            | Rule::percent
            | Rule::duration
            | Rule::date
            | Rule::timestamp
            | Rule::string
            | Rule::boolean
            | Rule::null
            | Rule::ident
            | Rule::path
            | Rule::call
            | Rule::list
            | Rule::case_expr
            | Rule::neg
            | Rule::not => "a value",
            Rule::EOI => "the end of the expression",
            Rule::case_branch => "`when`",
            Rule::template_hole => "`{`",
            _ => "an operator",
        })
        .collect();
    words.sort_unstable();
    words.dedup();
    match words.len() {
        0 => "a value".to_string(),
        1 => words[0].to_string(),
        _ => {
            let last = words.pop().unwrap_or_default();
            format!("{} or {last}", words.join(", "))
        }
    }
}

fn too_complex(
    file: &Arc<SourceFile>,
    scalar: &ScalarText,
    at: usize,
    message: String,
) -> Diagnostic {
    Diagnostic::error(Code::ExprTooComplex, message)
        .at(file, scalar.file_span(at.saturating_sub(1), at), "here")
        .help("split the expression into smaller metrics")
}

fn reject_prefix_runs(pairs: &Pairs<'_, Rule>) -> bool {
    let mut run = 0;
    for pair in pairs.clone().flatten() {
        match pair.as_rule() {
            Rule::neg | Rule::not => {
                run += 1;
                if run > MAX_PREFIX_RUN {
                    return true;
                }
            }
            _ => run = 0,
        }
    }
    false
}

/// Parse one expression from a YAML scalar. On failure the diagnostics say
/// exactly where, in file coordinates.
pub fn parse_expression(
    file: &Arc<SourceFile>,
    scalar: &ScalarText,
) -> Result<Expr, Vec<Diagnostic>> {
    if let Err((at, message)) = check_complexity(&scalar.value) {
        return Err(vec![too_complex(file, scalar, at, message)]);
    }
    let pairs = ExprGrammar::parse(Rule::expression, &scalar.value)
        .map_err(|e| vec![syntax_error(file, scalar, e)])?;
    if reject_prefix_runs(&pairs) {
        return Err(vec![too_complex(
            file,
            scalar,
            1,
            format!("more than {MAX_PREFIX_RUN} `-` or `not` in a row"),
        )]);
    }
    let converter = Converter {
        scalar,
        file,
        errors: Default::default(),
    };
    let expr_pair = pairs
        .into_iter()
        .next()
        .and_then(|p| p.into_inner().find(|p| p.as_rule() == Rule::expr));
    let expr = match expr_pair {
        Some(p) => converter.expr(p.into_inner()),
        None => null_at(scalar.span),
    };
    let errors = converter.errors.into_inner();
    if !errors.is_empty() {
        return Err(errors);
    }
    if depth(&expr) > MAX_DEPTH {
        return Err(vec![too_complex(
            file,
            scalar,
            0,
            format!(
                "expression is more than {MAX_DEPTH} operations deep (a chain of operators nests one level per operator)"
            ),
        )]);
    }
    Ok(expr)
}

/// The depth of an expression tree, counted without recursion.
fn depth(expr: &Expr) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(expr, 1)];
    while let Some((e, d)) = stack.pop() {
        deepest = deepest.max(d);
        stack.extend(e.children().into_iter().map(|c| (c, d + 1)));
    }
    deepest
}

/// Parse a message template (`"{account.name} fell {round(x, 1)} points"`).
pub fn parse_template(
    file: &Arc<SourceFile>,
    scalar: &ScalarText,
) -> Result<Template, Vec<Diagnostic>> {
    if let Err((at, message)) = check_complexity(&scalar.value) {
        return Err(vec![too_complex(file, scalar, at, message)]);
    }
    let pairs = ExprGrammar::parse(Rule::template, &scalar.value).map_err(|e| {
        let mut d = syntax_error(file, scalar, e);
        d.help =
            Some("holes are written `{expression}`; write `{{` or `}}` for a literal brace".into());
        vec![d]
    })?;
    if reject_prefix_runs(&pairs) {
        return Err(vec![too_complex(
            file,
            scalar,
            1,
            format!("more than {MAX_PREFIX_RUN} `-` or `not` in a row"),
        )]);
    }
    let converter = Converter {
        scalar,
        file,
        errors: Default::default(),
    };
    let mut parts = Vec::new();
    for pair in pairs
        .into_iter()
        .next()
        .into_iter()
        .flat_map(|p| p.into_inner())
    {
        match pair.as_rule() {
            Rule::template_text => parts.push(TemplatePart::Text(pair.as_str().to_string())),
            Rule::template_escape => parts.push(TemplatePart::Text(pair.as_str()[..1].to_string())),
            Rule::template_hole => {
                if let Some(inner) = pair.into_inner().next() {
                    parts.push(TemplatePart::Hole(converter.expr(inner.into_inner())));
                }
            }
            _ => {}
        }
    }
    let mut merged: Vec<TemplatePart> = Vec::new();
    for part in parts {
        match (merged.last_mut(), part) {
            (Some(TemplatePart::Text(a)), TemplatePart::Text(b)) => a.push_str(&b),
            (_, part) => merged.push(part),
        }
    }
    let errors = converter.errors.into_inner();
    if errors.is_empty() {
        Ok(Template {
            parts: merged,
            span: scalar.span,
        })
    } else {
        Err(errors)
    }
}

/// Parse a standalone expression string (not from a file); spans are offsets into `text`.
pub fn parse_str(text: &str) -> Result<Expr, Vec<Diagnostic>> {
    let file = Arc::new(SourceFile::new("<expression>", text.to_string()));
    let node = super::yaml::Node {
        kind: super::yaml::NodeKind::Str(text.to_string()),
        span: Span::new(0, text.len()),
    };
    let scalar = ScalarText::new(&file, &node, text);
    parse_expression(&file, &scalar)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> ExprKind {
        parse_str(text)
            .map(|e| e.without_spans().kind)
            .unwrap_or_else(|e| panic!("{text}: {}", e[0]))
    }

    #[test]
    fn precedence_follows_sql() {
        let ExprKind::Binary { op, .. } = kind("a or b and c") else {
            panic!()
        };
        assert_eq!(op, BinaryOp::Or);
        let ExprKind::Unary { op, operand } = kind("not a = b") else {
            panic!()
        };
        assert_eq!(op, UnaryOp::Not);
        assert!(matches!(
            operand.kind,
            ExprKind::Binary {
                op: BinaryOp::Eq,
                ..
            }
        ));
    }

    #[test]
    fn between_bounds_do_not_swallow_and() {
        let ExprKind::Binary { op, left, .. } = kind("x between 1 and 10 and y") else {
            panic!()
        };
        assert_eq!(op, BinaryOp::And);
        assert!(matches!(left.kind, ExprKind::Between { .. }));
    }

    #[test]
    fn literals() {
        assert_eq!(kind("95%"), ExprKind::Literal(Literal::Percent(95.0)));
        assert_eq!(
            kind("30d"),
            ExprKind::Literal(Literal::Duration(30, DurationUnit::Days))
        );
        assert_eq!(
            kind("'it''s'"),
            ExprKind::Literal(Literal::String("it's".into()))
        );
        assert!(matches!(
            kind("@2026-02-28"),
            ExprKind::Literal(Literal::Date(_))
        ));
    }

    #[test]
    fn deep_nesting_is_rejected_without_overflow() {
        let text = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        let errors = parse_str(&text).unwrap_err();
        assert_eq!(errors[0].code, Code::ExprTooComplex);
        let text = format!("{}1", "- ".repeat(5_000));
        assert_eq!(parse_str(&text).unwrap_err()[0].code, Code::ExprTooComplex);
    }

    #[test]
    fn invalid_dates_are_diagnosed() {
        let errors = parse_str("@2026-02-30").unwrap_err();
        assert_eq!(errors[0].code, Code::InvalidLiteral);
    }

    fn first_error(text: &str) -> (Code, String, String, Span) {
        let error = parse_str(text).unwrap_err().remove(0);
        let span = error.primary.as_ref().map(|l| l.span).unwrap();
        (error.code, error.message, error.help.unwrap(), span)
    }

    #[test]
    fn calendar_units_are_explained_not_unexpected() {
        for text in ["1 month", "as_of - 2 years", "1 quarter", "3mo"] {
            let (code, message, help, span) = first_error(text);
            assert_eq!(code, Code::TypeMismatch, "{text}");
            assert!(message.contains("are not durations"), "{text}: {message}");
            assert!(help.contains("`30d` or `4w`"), "{text}: {help}");
            let word = text[span.start..span.end].trim_start_matches(|c: char| c.is_ascii_digit());
            assert!(
                word.len() > 1 && word.chars().all(char::is_alphabetic),
                "{text}: {word:?}"
            );
        }
        let (code, message, help, _) = first_error("30 days");
        assert_eq!(code, Code::ExprSyntax);
        assert_eq!(message, "`days` is not a duration unit");
        assert!(help.contains("`30d`"), "{help}");
        let (_, _, help, _) = first_error("5m");
        assert!(help.contains("`min`") && help.contains("`30d`"), "{help}");
    }

    #[test]
    fn unexpected_words_are_underlined_whole() {
        let (code, message, _, span) = first_error("a b_c");
        assert_eq!(code, Code::ExprSyntax);
        assert_eq!(message, "unexpected `b_c` in expression");
        assert_eq!((span.start, span.end), (2, 5));
    }
}
