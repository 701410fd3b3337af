//! Property tests: the printer and parser agree on every expression, and
//! no input — random text, mutated pipelines — makes the loader or checker panic.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use proptest::prelude::*;
use vane::base::Span;
use vane::syntax::expr::{BinaryOp, DurationUnit, Expr, ExprKind, Ident, Literal, UnaryOp};
use vane::syntax::parse_expr::parse_str;
use vane::syntax::print::print;

fn node(kind: ExprKind) -> Expr {
    Expr {
        kind,
        span: Span::default(),
    }
}

fn ident() -> impl Strategy<Value = Ident> {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,8}",
        Just("and".to_string()),
        Just("End".to_string()),
        "[A-Za-z][A-Za-z0-9 ]{0,6}[a-z]",
    ]
    .prop_map(|name| Ident {
        name,
        span: Span::default(),
    })
}

fn literal() -> impl Strategy<Value = Literal> {
    let date = (1000i32..9999, 1u32..=12, 1u32..=28)
        .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default());
    prop_oneof![
        (0i64..=i64::MAX).prop_map(Literal::Integer),
        (0.0f64..1e300).prop_map(Literal::Decimal),
        prop_oneof![0.0f64..1e6, 0.0f64..1e300].prop_map(Literal::Percent),
        ".*".prop_map(Literal::String),
        any::<bool>().prop_map(Literal::Boolean),
        Just(Literal::Null),
        (
            0i64..1_000_000,
            prop_oneof![
                Just(DurationUnit::Weeks),
                Just(DurationUnit::Days),
                Just(DurationUnit::Hours),
                Just(DurationUnit::Minutes),
                Just(DurationUnit::Seconds)
            ]
        )
            .prop_map(|(n, u)| Literal::Duration(n, u)),
        date.clone().prop_map(Literal::Date),
        (date, 0u32..24, 0u32..60, 0u32..60).prop_map(|(d, h, m, s)| {
            Literal::Timestamp(NaiveDateTime::new(
                d,
                NaiveTime::from_hms_opt(h, m, s).unwrap_or_default(),
            ))
        }),
    ]
}

fn binary_op() -> impl Strategy<Value = BinaryOp> {
    prop_oneof![
        Just(BinaryOp::Add),
        Just(BinaryOp::Sub),
        Just(BinaryOp::Mul),
        Just(BinaryOp::Div),
        Just(BinaryOp::Eq),
        Just(BinaryOp::Ne),
        Just(BinaryOp::Lt),
        Just(BinaryOp::Le),
        Just(BinaryOp::Gt),
        Just(BinaryOp::Ge),
        Just(BinaryOp::And),
        Just(BinaryOp::Or),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        literal().prop_map(|l| node(ExprKind::Literal(l))),
        ident().prop_map(|i| node(ExprKind::Name(i))),
        (ident(), ident())
            .prop_map(|(entity, attribute)| node(ExprKind::Attribute { entity, attribute })),
    ];
    leaf.prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            (
                prop_oneof![Just(UnaryOp::Neg), Just(UnaryOp::Not)],
                inner.clone()
            )
                .prop_map(|(op, e)| node(ExprKind::Unary {
                    op,
                    operand: Box::new(e)
                })),
            (binary_op(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| node(
                ExprKind::Binary {
                    op,
                    left: Box::new(l),
                    right: Box::new(r)
                }
            )),
            (inner.clone(), any::<bool>()).prop_map(|(e, negated)| node(ExprKind::IsNull {
                operand: Box::new(e),
                negated
            })),
            (
                inner.clone(),
                prop::collection::vec(inner.clone(), 0..3),
                any::<bool>()
            )
                .prop_map(|(e, list, negated)| node(ExprKind::InList {
                    operand: Box::new(e),
                    list,
                    negated
                })),
            (inner.clone(), inner.clone(), inner.clone(), any::<bool>()).prop_map(
                |(e, low, high, negated)| {
                    node(ExprKind::Between {
                        operand: Box::new(e),
                        low: Box::new(low),
                        high: Box::new(high),
                        negated,
                    })
                }
            ),
            (
                prop::collection::vec((inner.clone(), inner.clone()), 1..3),
                prop::option::of(inner.clone())
            )
                .prop_map(|(branches, otherwise)| node(ExprKind::Case {
                    branches,
                    otherwise: otherwise.map(Box::new)
                })),
            (ident(), prop::collection::vec(inner.clone(), 0..3)).prop_map(
                |(mut function, args)| {
                    function.name = function.name.to_lowercase();
                    node(ExprKind::Call { function, args })
                }
            ),
            prop::collection::vec(inner, 0..3).prop_map(|items| node(ExprKind::List(items))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parse_of_print_is_identity(e in expr()) {
        let printed = print(&e);
        let parsed = parse_str(&printed).map_err(|d| TestCaseError::fail(format!("{printed}: {}", d[0].message)))?;
        prop_assert_eq!(parsed.without_spans(), e, "printed as {}", printed);
    }

    #[test]
    fn printing_is_a_fixed_point(e in expr()) {
        let printed = print(&e);
        let reparsed = parse_str(&printed).map_err(|d| TestCaseError::fail(d[0].message.clone()))?;
        prop_assert_eq!(print(&reparsed), printed);
    }

    #[test]
    fn random_expressions_never_panic(text in "\\PC{0,80}") {
        let _ = parse_str(&text);
    }

    #[test]
    fn random_bytes_never_panic_the_loader(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let path = std::path::Path::new("fuzz.yaml");
        if let Ok(file) = vane::syntax::yaml::read_source(path, bytes) {
            let (loaded, _) = vane::syntax::load_text(path, file.text);
            if let Some(loaded) = loaded {
                let _ = vane::check::check(&loaded.pipeline, &Default::default());
            }
        }
    }

    #[test]
    fn mutated_pipelines_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(vec!["", ":", "-", "[", "]", "{", "(", ")", "'", "\"", "|", " ", "\n", "\t", "#", "&a", "*a", "x", "1", "%", "@", "`", "..", "and", "sum("])), 1..6)) {
        let mut text = include_str!("../../pipelines/customer_health.yaml").to_string();
        for (index, insert) in edits {
            let mut at = index.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            if insert.is_empty() {
                let end = (at + 1..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(at);
                text.replace_range(at..end, "");
            } else {
                text.insert_str(at, insert);
            }
        }
        let (loaded, _) = vane::syntax::load_text("mutated.yaml", text);
        if let Some(loaded) = loaded {
            let _ = vane::check::check(&loaded.pipeline, &Default::default());
            let _ = vane::syntax::fmt::format_text(&loaded.pipeline.file.text, &loaded.sites);
        }
    }
}
