//! The one canonical printer: `parse(print(e)) == e` for every expression.
//!
//! Canonical means: lowercase keywords, single spaces around binary
//! operators, no redundant parentheses, `!=` for inequality, strings in
//! single quotes. `fmt` and `diff` both rely on it.

use std::fmt::Write;

use super::expr::{
    BinaryOp, Expr, ExprKind, Ident, Literal, PREC_COMPARE, PREC_NEG, PREC_NOT, Template,
    TemplatePart, UnaryOp, is_identifier, is_keyword,
};

/// Print an expression in canonical form.
pub fn print(expr: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, expr);
    out
}

/// Print a template in canonical form (holes printed canonically).
pub fn print_template(template: &Template) -> String {
    let mut out = String::new();
    for part in &template.parts {
        match part {
            TemplatePart::Text(text) => out.push_str(&text.replace('{', "{{").replace('}', "}}")),
            TemplatePart::Hole(expr) => {
                out.push('{');
                write_expr(&mut out, expr);
                out.push('}');
            }
        }
    }
    out
}

/// Print a name, with backticks when it is not a plain identifier or is a keyword.
pub fn print_ident(name: &str) -> String {
    if is_identifier(name) && !is_keyword(name) {
        name.to_string()
    } else {
        format!("`{name}`")
    }
}

/// Format a decimal so that it reads back as a decimal (`1.0`, `0.25`, `1e-7`).
fn decimal(value: f64) -> String {
    format!("{value:?}")
}

/// Format a percentage's number without a needless `.0`, and never with
/// an exponent, which a percentage literal cannot have (`1e20%` is no
/// literal; `100000000000000000000%` is).
fn percent(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// Print a literal.
pub fn print_literal(literal: &Literal) -> String {
    match literal {
        Literal::Integer(i) => i.to_string(),
        Literal::Decimal(d) => decimal(*d),
        Literal::Percent(p) => format!("{}%", percent(*p)),
        Literal::String(s) => format!("'{}'", s.replace('\'', "''")),
        Literal::Boolean(b) => b.to_string(),
        Literal::Null => "null".to_string(),
        Literal::Duration(n, unit) => format!("{n}{}", unit.suffix()),
        Literal::Date(d) => format!("@{}", d.format("%Y-%m-%d")),
        Literal::Timestamp(t) => format!("@{}Z", t.format("%Y-%m-%dT%H:%M:%S")),
    }
}

fn write_ident(out: &mut String, ident: &Ident) {
    out.push_str(&print_ident(&ident.name));
}

fn write_list(out: &mut String, items: &[Expr]) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_expr(out, item);
    }
    out.push(']');
}

/// Write `expr`, parenthesized when it binds looser than `min`.
fn write_operand(out: &mut String, expr: &Expr, min: u8) {
    if expr.precedence() < min {
        out.push('(');
        write_expr(out, expr);
        out.push(')');
    } else {
        write_expr(out, expr);
    }
}

fn write_expr(out: &mut String, expr: &Expr) {
    match &expr.kind {
        ExprKind::Literal(literal) => out.push_str(&print_literal(literal)),
        ExprKind::Name(ident) => write_ident(out, ident),
        ExprKind::Attribute { entity, attribute } => {
            write_ident(out, entity);
            out.push('.');
            write_ident(out, attribute);
        }
        ExprKind::Unary { op, operand } => match op {
            UnaryOp::Neg => {
                out.push('-');
                let nested_neg = matches!(
                    operand.kind,
                    ExprKind::Unary {
                        op: UnaryOp::Neg,
                        ..
                    }
                );
                if nested_neg {
                    write_operand(out, operand, PREC_NEG + 1);
                } else {
                    write_operand(out, operand, PREC_NEG);
                }
            }
            UnaryOp::Not => {
                out.push_str("not ");
                write_operand(out, operand, PREC_NOT);
            }
        },
        ExprKind::Binary { op, left, right } => {
            let prec = op.precedence();
            write_operand(out, left, prec);
            let _ = write!(out, " {} ", op.symbol());
            write_operand(out, right, prec + 1);
        }
        ExprKind::IsNull { operand, negated } => {
            write_operand(out, operand, PREC_COMPARE + 1);
            out.push_str(if *negated { " is not null" } else { " is null" });
        }
        ExprKind::InList {
            operand,
            list,
            negated,
        } => {
            write_operand(out, operand, PREC_COMPARE + 1);
            out.push_str(if *negated { " not in " } else { " in " });
            write_list(out, list);
        }
        ExprKind::Between {
            operand,
            low,
            high,
            negated,
        } => {
            write_operand(out, operand, PREC_COMPARE + 1);
            out.push_str(if *negated {
                " not between "
            } else {
                " between "
            });
            write_operand(out, low, PREC_COMPARE + 1);
            out.push_str(" and ");
            write_operand(out, high, PREC_COMPARE + 1);
        }
        ExprKind::Case {
            branches,
            otherwise,
        } => {
            out.push_str("case");
            for (condition, value) in branches {
                out.push_str(" when ");
                write_expr(out, condition);
                out.push_str(" then ");
                write_expr(out, value);
            }
            if let Some(otherwise) = otherwise {
                out.push_str(" else ");
                write_expr(out, otherwise);
            }
            out.push_str(" end");
        }
        ExprKind::Call { function, args } => {
            write_ident(out, function);
            out.push('(');
            for (i, arg) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, arg);
            }
            out.push(')');
        }
        ExprKind::List(items) => write_list(out, items),
    }
}

/// The operator a binary expression uses, if it is one (for tests and diff).
pub fn binary_op(expr: &Expr) -> Option<BinaryOp> {
    match expr.kind {
        ExprKind::Binary { op, .. } => Some(op),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse_expr::parse_str;

    fn canonical(text: &str) -> String {
        print(&parse_str(text).unwrap_or_else(|e| panic!("{text}: {}", e[0])))
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical("a+b*c"), "a + b * c");
        assert_eq!(canonical("(a+b)*c"), "(a + b) * c");
        assert_eq!(canonical("a - (b - c)"), "a - (b - c)");
        assert_eq!(canonical("(a - b) - c"), "a - b - c");
        assert_eq!(canonical("NOT (a AND b)"), "not (a and b)");
        assert_eq!(canonical("x <> 1"), "x != 1");
        assert_eq!(canonical("- (-x)"), "-(-x)");
        assert_eq!(canonical("x BETWEEN 1+1 AND 3"), "x between 1 + 1 and 3");
        assert_eq!(
            canonical("CASE WHEN a THEN 1 ELSE 2 END"),
            "case when a then 1 else 2 end"
        );
        assert_eq!(canonical("`order`.`my col`"), "order.`my col`");
        assert_eq!(canonical("`end`.x"), "`end`.x");
        assert_eq!(canonical("1.50"), "1.5");
        assert_eq!(canonical("(a = b) is null"), "(a = b) is null");
    }
}
