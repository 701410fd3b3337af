//! The expression AST: what a metric value, filter, score or condition says,
//! with a span into the pipeline file on every node.

use chrono::{NaiveDate, NaiveDateTime};

use crate::base::Span;

/// Words of the expression language that cannot be bare names (any case).
const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "is", "null", "true", "false", "between", "case", "when", "then",
    "else", "end",
];

/// Whether `name` is a keyword of the expression language.
pub fn is_keyword(name: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(name))
}

/// Whether `name` can be written without backticks if it is not a keyword:
/// a letter or `_`, then letters, digits and `_`.
pub fn is_identifier(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A name as written, with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    /// The name (without backticks).
    pub name: String,
    /// Where it is.
    pub span: Span,
}

/// An expression node.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is in the file.
    pub span: Span,
}

/// Units a duration literal may use. Months and years are not fixed lengths
/// and are deliberately absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DurationUnit {
    /// `w`, seven days.
    Weeks,
    /// `d`, 24 hours.
    Days,
    /// `h`.
    Hours,
    /// `min`.
    Minutes,
    /// `s`.
    Seconds,
}

impl DurationUnit {
    /// The suffix written after the number.
    pub fn suffix(self) -> &'static str {
        match self {
            DurationUnit::Weeks => "w",
            DurationUnit::Days => "d",
            DurationUnit::Hours => "h",
            DurationUnit::Minutes => "min",
            DurationUnit::Seconds => "s",
        }
    }

    /// Seconds in one unit.
    pub fn seconds(self) -> i64 {
        match self {
            DurationUnit::Weeks => 7 * 86_400,
            DurationUnit::Days => 86_400,
            DurationUnit::Hours => 3_600,
            DurationUnit::Minutes => 60,
            DurationUnit::Seconds => 1,
        }
    }
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `42`.
    Integer(i64),
    /// `4.2`, `1e-3`.
    Decimal(f64),
    /// `95%`, holding 95 (the value is 0.95).
    Percent(f64),
    /// `'text'`.
    String(String),
    /// `true` / `false`.
    Boolean(bool),
    /// `null`.
    Null,
    /// `30d`.
    Duration(i64, DurationUnit),
    /// `@2026-01-31`.
    Date(NaiveDate),
    /// `@2026-01-31T08:00:00Z` (always UTC).
    Timestamp(NaiveDateTime),
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-x`.
    Neg,
    /// `not x`.
    Not,
}

/// Infix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/` (always a decimal result; division by zero gives null).
    Div,
    /// `=`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `and`.
    And,
    /// `or`.
    Or,
}

impl BinaryOp {
    /// The operator as printed.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Eq => "=",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
        }
    }

    /// Binding strength; higher binds tighter. Shared by parser and printer.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => PREC_OR,
            BinaryOp::And => PREC_AND,
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge => PREC_COMPARE,
            BinaryOp::Add | BinaryOp::Sub => PREC_SUM,
            BinaryOp::Mul | BinaryOp::Div => PREC_PRODUCT,
        }
    }

    /// True for `= != < <= > >=`.
    pub fn is_comparison(self) -> bool {
        self.precedence() == PREC_COMPARE
    }
}

/// `or`.
pub const PREC_OR: u8 = 1;
/// `and`.
pub const PREC_AND: u8 = 2;
/// `not`.
pub const PREC_NOT: u8 = 3;
/// Comparisons, `is null`, `in`, `between`.
pub const PREC_COMPARE: u8 = 4;
/// `+ -`.
pub const PREC_SUM: u8 = 5;
/// `* /`.
pub const PREC_PRODUCT: u8 = 6;
/// Unary minus.
pub const PREC_NEG: u8 = 7;
/// Literals, names, calls, parentheses.
pub const PREC_ATOM: u8 = 8;

/// The kinds of expressions.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A literal.
    Literal(Literal),
    /// A bare name: a column, a metric, or a keyword-like name (`value`, `as_of`, `health`).
    Name(Ident),
    /// `entity.attribute`.
    Attribute {
        /// The entity's name.
        entity: Ident,
        /// The attribute (a column of the entity table).
        attribute: Ident,
    },
    /// `-x`, `not x`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// Its operand.
        operand: Box<Expr>,
    },
    /// `a + b`, `a and b`, …
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `x is null`, `x is not null`.
    IsNull {
        /// The tested value.
        operand: Box<Expr>,
        /// `is not null`.
        negated: bool,
    },
    /// `x in [a, b]`, `x not in [a, b]`.
    InList {
        /// The tested value.
        operand: Box<Expr>,
        /// The candidates.
        list: Vec<Expr>,
        /// `not in`.
        negated: bool,
    },
    /// `x between a and b` (both ends included).
    Between {
        /// The tested value.
        operand: Box<Expr>,
        /// Lower bound.
        low: Box<Expr>,
        /// Upper bound.
        high: Box<Expr>,
        /// `not between`.
        negated: bool,
    },
    /// `case when c then v … else e end`.
    Case {
        /// `(condition, value)` pairs, tried in order.
        branches: Vec<(Expr, Expr)>,
        /// The `else` value (null when absent).
        otherwise: Option<Box<Expr>>,
    },
    /// `f(a, b)`.
    Call {
        /// The function name.
        function: Ident,
        /// The arguments.
        args: Vec<Expr>,
    },
    /// `[a, b, c]`, used by `bands(...)`.
    List(Vec<Expr>),
}

impl Expr {
    /// How tightly this expression binds, for the printer.
    pub fn precedence(&self) -> u8 {
        match &self.kind {
            ExprKind::Binary { op, .. } => op.precedence(),
            ExprKind::Unary {
                op: UnaryOp::Not, ..
            } => PREC_NOT,
            ExprKind::Unary {
                op: UnaryOp::Neg, ..
            } => PREC_NEG,
            ExprKind::IsNull { .. } | ExprKind::InList { .. } | ExprKind::Between { .. } => {
                PREC_COMPARE
            }
            _ => PREC_ATOM,
        }
    }

    /// Visit this expression and every sub-expression, parents first.
    pub fn walk<'a>(&'a self, visit: &mut dyn FnMut(&'a Expr)) {
        visit(self);
        for child in self.children() {
            child.walk(visit);
        }
    }

    /// The direct sub-expressions, in source order.
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Literal(_) | ExprKind::Name(_) | ExprKind::Attribute { .. } => vec![],
            ExprKind::Unary { operand, .. } | ExprKind::IsNull { operand, .. } => vec![operand],
            ExprKind::Binary { left, right, .. } => vec![left, right],
            ExprKind::InList { operand, list, .. } => {
                std::iter::once(operand.as_ref()).chain(list).collect()
            }
            ExprKind::Between {
                operand, low, high, ..
            } => vec![operand, low, high],
            ExprKind::Case {
                branches,
                otherwise,
            } => branches
                .iter()
                .flat_map(|(c, v)| [c, v])
                .chain(otherwise.as_deref())
                .collect(),
            ExprKind::Call { args, .. } => args.iter().collect(),
            ExprKind::List(items) => items.iter().collect(),
        }
    }

    /// The same expression with every span zeroed, for comparing meaning.
    pub fn without_spans(&self) -> Expr {
        let zero = Span::default();
        let strip = |e: &Expr| Box::new(e.without_spans());
        let ident = |i: &Ident| Ident {
            name: i.name.clone(),
            span: zero,
        };
        let kind = match &self.kind {
            ExprKind::Literal(l) => ExprKind::Literal(l.clone()),
            ExprKind::Name(i) => ExprKind::Name(ident(i)),
            ExprKind::Attribute { entity, attribute } => ExprKind::Attribute {
                entity: ident(entity),
                attribute: ident(attribute),
            },
            ExprKind::Unary { op, operand } => ExprKind::Unary {
                op: *op,
                operand: strip(operand),
            },
            ExprKind::Binary { op, left, right } => ExprKind::Binary {
                op: *op,
                left: strip(left),
                right: strip(right),
            },
            ExprKind::IsNull { operand, negated } => ExprKind::IsNull {
                operand: strip(operand),
                negated: *negated,
            },
            ExprKind::InList {
                operand,
                list,
                negated,
            } => ExprKind::InList {
                operand: strip(operand),
                list: list.iter().map(Expr::without_spans).collect(),
                negated: *negated,
            },
            ExprKind::Between {
                operand,
                low,
                high,
                negated,
            } => ExprKind::Between {
                operand: strip(operand),
                low: strip(low),
                high: strip(high),
                negated: *negated,
            },
            ExprKind::Case {
                branches,
                otherwise,
            } => ExprKind::Case {
                branches: branches
                    .iter()
                    .map(|(c, v)| (c.without_spans(), v.without_spans()))
                    .collect(),
                otherwise: otherwise.as_deref().map(strip),
            },
            ExprKind::Call { function, args } => ExprKind::Call {
                function: ident(function),
                args: args.iter().map(Expr::without_spans).collect(),
            },
            ExprKind::List(items) => {
                ExprKind::List(items.iter().map(Expr::without_spans).collect())
            }
        };
        Expr { kind, span: zero }
    }
}

/// A message template: text with `{expression}` holes.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// The pieces in order.
    pub parts: Vec<TemplatePart>,
    /// The whole template's span.
    pub span: Span,
}

/// One piece of a [`Template`].
#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    /// Literal text (with `{{`/`}}` already unescaped).
    Text(String),
    /// A value to insert.
    Hole(Expr),
}
