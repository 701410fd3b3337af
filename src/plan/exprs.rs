//! Typed Vane expressions → DataFusion `Expr`s.
//!
//! Conventions that make Vane's semantics hold in DataFusion:
//! - `/` always divides as floats and gives null for a zero divisor;
//! - durations are Int64 microseconds; timestamps are compared and
//!   subtracted through their microseconds since the epoch;
//! - scoring helpers (`ramp`, `bands`, `attainment`) are CASE expressions
//!   that keep null as null (a null score drops out of health).

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::functions::{core as core_fn, math, string};
use datafusion::logical_expr::{
    Cast, Expr, Operator, binary_expr, cast, ident, in_list, lit, when,
};

use super::PlanError;
use crate::base::names;
use crate::base::units::{Micros, Seconds};
use crate::check::functions::Function;
use crate::check::model::{Constant, TypedExpr, TypedKind, Unary};
use crate::syntax::expr::BinaryOp;

/// Microseconds per day.
pub const MICROS_PER_DAY: f64 = 86_400_000_000.0;

/// Where a lowered expression finds the as-of instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AsOf {
    /// A literal: the instant, already shifted for `previous`. Plans over
    /// events (facts) use it, so that windows prune files and row groups.
    Literal(Micros),
    /// The column [`names::AS_OF`], shifted back by the lowering's
    /// `shift`. The entity steps and playbooks use it, so that one
    /// compiled program serves every night of a backfill.
    Column,
}

/// What names mean while lowering one expression.
#[derive(Debug, Clone, Copy)]
pub struct Lowering<'a> {
    /// Where the as-of instant comes from.
    pub as_of: AsOf,
    /// What to add to every metric reference's shift (evaluating a derived metric in the past).
    pub shift: Seconds,
    /// The entity key column.
    pub key: &'a str,
}

/// The result of lowering: a plan or expression, or why not.
pub type LowerResult<T> = Result<T, super::PlanError>;

/// A timestamp literal (UTC, microseconds).
pub fn timestamp_micros(micros: i64) -> Expr {
    lit(ScalarValue::TimestampMicrosecond(Some(micros), None))
}

/// Microseconds since the epoch of a timestamp or date expression, as Int64.
pub fn epoch_micros(e: Expr) -> Expr {
    cast(
        cast(e, DataType::Timestamp(TimeUnit::Microsecond, None)),
        DataType::Int64,
    )
}

fn float(e: Expr) -> Expr {
    cast(e, DataType::Float64)
}

/// A null of the engine type Vane computes `ty` in.
fn null_of(ty: Type) -> Expr {
    let data_type = match ty {
        Type::Integer | Type::Duration => DataType::Int64,
        Type::Boolean => DataType::Boolean,
        Type::String => DataType::Utf8,
        Type::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        Type::Date => DataType::Date32,
        Type::Null | Type::Unknown => return lit(ScalarValue::Null),
        Type::Number => DataType::Float64,
    };
    cast(lit(ScalarValue::Null), data_type)
}

/// A decimal wide enough for the sum, difference or product of any two
/// 64-bit integers.
pub const EXACT_INTEGER: DataType = DataType::Decimal128(38, 0);

/// `a op b` for 64-bit integers, exact or an error: computed as a 38-digit
/// decimal and cast back, and the cast fails (never wraps) when the result
/// is beyond a 64-bit integer.
///
/// An operand that is itself such a result joins the decimal arithmetic
/// without its cast back, so a chain casts back once: exact while the
/// decimal holds it (38 digits; beyond, the decimal operation fails), and
/// the engine's type derivation, which visits both sides of every cast
/// again, stays linear in the chain's length instead of exponential.
pub fn exact_integer(a: Expr, op: BinaryOp, b: Expr) -> Expr {
    let wide = binary_expr(widened(a), operator(op), widened(b));
    cast(wide, DataType::Int64)
}

/// `e` as a 38-digit decimal: the decimal inside an [`exact_integer`]
/// result, or `e` cast.
fn widened(e: Expr) -> Expr {
    match e {
        Expr::Cast(Cast { expr, field })
            if *field.data_type() == DataType::Int64 && is_wide(&expr) =>
        {
            *expr
        }
        other => cast(other, EXACT_INTEGER),
    }
}

/// Whether `e` is decimal arithmetic [`exact_integer`] built.
fn is_wide(e: &Expr) -> bool {
    let Expr::BinaryExpr(binary) = e else {
        return false;
    };
    [&binary.left, &binary.right].into_iter().all(|side| {
        is_wide(side)
            || matches!(side.as_ref(), Expr::Cast(c) if *c.field.data_type() == EXACT_INTEGER)
    })
}

/// `a / b` as floats, null when `b` is zero.
pub fn safe_div(a: Expr, b: Expr) -> Expr {
    float(a) / core_fn::nullif().call(vec![float(b), lit(0.0)])
}

fn null_if_null(x: &Expr, then: Expr) -> Expr {
    when(x.clone().is_null(), lit(ScalarValue::Float64(None)))
        .otherwise(then)
        .unwrap_or_else(|_| lit(ScalarValue::Float64(None)))
}

/// `clamp(x, lo, hi)`, keeping null as null.
pub fn clamp(x: Expr, lo: Expr, hi: Expr) -> Expr {
    let inner = core_fn::least().call(vec![
        core_fn::greatest().call(vec![float(x.clone()), float(lo)]),
        float(hi),
    ]);
    null_if_null(&x, inner)
}

/// A time the plan needs that a timestamp cannot hold.
pub fn out_of_range(what: &str) -> PlanError {
    PlanError::OutOfRange(format!(
        "{what} lies outside the range of a timestamp (about 292,000 years either side of 1970)"
    ))
}

/// A constant as a literal.
pub fn constant(c: &Constant) -> LowerResult<Expr> {
    Ok(match c {
        Constant::Null => lit(ScalarValue::Null),
        Constant::Boolean(b) => lit(*b),
        Constant::Integer(i) => lit(*i),
        Constant::Number(n) => lit(*n),
        Constant::String(s) => lit(s.clone()),
        Constant::Duration(length) => lit(length
            .micros()
            .ok_or_else(|| out_of_range(&format!("the duration {length}")))?
            .get()),
        Constant::Date(d) => lit(ScalarValue::Date32(
            i32::try_from(days_since_epoch(*d)).ok(),
        )),
        Constant::Timestamp(t) => timestamp_micros(t.and_utc().timestamp_micros()),
    })
}

fn operator(op: BinaryOp) -> Operator {
    match op {
        BinaryOp::Add => Operator::Plus,
        BinaryOp::Sub => Operator::Minus,
        BinaryOp::Mul => Operator::Multiply,
        BinaryOp::Div => Operator::Divide,
        BinaryOp::Eq => Operator::Eq,
        BinaryOp::Ne => Operator::NotEq,
        BinaryOp::Lt => Operator::Lt,
        BinaryOp::Le => Operator::LtEq,
        BinaryOp::Gt => Operator::Gt,
        BinaryOp::Ge => Operator::GtEq,
        BinaryOp::And => Operator::And,
        BinaryOp::Or => Operator::Or,
    }
}

use crate::base::types::Type;

impl Lowering<'_> {
    /// The as-of instant: a literal, or the as-of column shifted back.
    fn as_of_expr(&self) -> LowerResult<Expr> {
        match self.as_of {
            AsOf::Literal(instant) => Ok(timestamp_micros(instant.get())),
            AsOf::Column if self.shift == Seconds::ZERO => Ok(ident(names::AS_OF)),
            AsOf::Column => {
                let shift = self.shift;
                let micros = shift
                    .micros()
                    .ok_or_else(|| out_of_range(&format!("as-of shifted by {shift}")))?;
                let shifted = exact_integer(
                    epoch_micros(ident(names::AS_OF)),
                    BinaryOp::Sub,
                    lit(micros.get()),
                );
                Ok(cast(
                    shifted,
                    DataType::Timestamp(TimeUnit::Microsecond, None),
                ))
            }
        }
    }

    /// Lower a typed expression. Aggregates are handled by the caller
    /// (`aggregate::lower_value`); here they are a bug.
    pub fn lower(&self, e: &TypedExpr) -> LowerResult<Expr> {
        self.lower_with(e, &mut |_| {
            Err("aggregate outside an aggregate metric".into())
        })
    }

    /// Lower, letting `on_aggregate` replace each aggregate node.
    pub fn lower_with(
        &self,
        e: &TypedExpr,
        on_aggregate: &mut dyn FnMut(&TypedExpr) -> LowerResult<Expr>,
    ) -> LowerResult<Expr> {
        let mut go = |x: &TypedExpr| self.lower_with(x, on_aggregate);
        Ok(match &e.kind {
            TypedKind::Constant(c) => constant(c)?,
            TypedKind::Column(name) => ident(name),
            TypedKind::Attribute(name) => ident(name),
            TypedKind::EntityKey => ident(self.key),
            TypedKind::Metric { name, shift } => {
                let shift = shift.checked_add(self.shift).ok_or_else(|| {
                    out_of_range(&format!("`{name}` shifted by {shift} and {}", self.shift))
                })?;
                ident(names::metric(name, shift))
            }
            TypedKind::IndicatorScore(name) => ident(names::score(name)),
            TypedKind::Health => ident(names::HEALTH),
            TypedKind::Band => ident(names::BAND),
            TypedKind::AsOf => self.as_of_expr()?,
            TypedKind::Rollup(name) => ident(names::rollup(name)),
            TypedKind::Unary(Unary::Neg, x) => match (&x.kind, x.ty) {
                // A negative literal reads as one in plans.
                (TypedKind::Constant(Constant::Integer(n)), _) if *n >= 0 => lit(-n),
                (_, Type::Integer | Type::Duration) => cast(
                    Expr::Negative(Box::new(cast(go(x)?, EXACT_INTEGER))),
                    DataType::Int64,
                ),
                _ => Expr::Negative(Box::new(go(x)?)),
            },
            TypedKind::Unary(Unary::Not, x) => !go(x)?,
            TypedKind::Binary(op, a, b) => {
                let (ta, tb) = (a.ty, b.ty);
                let (la, lb) = (go(a)?, go(b)?);
                self.binary(*op, la, ta, lb, tb, e.ty)
            }
            TypedKind::IsNull(x, negated) => {
                let x = go(x)?;
                if *negated {
                    x.is_not_null()
                } else {
                    x.is_null()
                }
            }
            TypedKind::InList(x, list, negated) => {
                let x = go(x)?;
                let list = list.iter().map(&mut go).collect::<LowerResult<Vec<_>>>()?;
                in_list(x, list, *negated)
            }
            TypedKind::Between(x, lo, hi, negated) => {
                let (x, lo, hi) = (
                    self.comparable(go(x)?, x.ty),
                    self.comparable(go(lo)?, lo.ty),
                    self.comparable(go(hi)?, hi.ty),
                );
                if *negated {
                    x.not_between(lo, hi)
                } else {
                    x.between(lo, hi)
                }
            }
            TypedKind::Case(branches, otherwise) => {
                let mut iter = branches.iter();
                let Some((c, v)) = iter.next() else {
                    return Err("case without branches".into());
                };
                let mut builder = when(go(c)?, go(v)?);
                for (c, v) in iter {
                    builder = builder.when(go(c)?, go(v)?);
                }
                match otherwise {
                    Some(o) => builder.otherwise(go(o)?),
                    None => builder.end(),
                }
                .map_err(|err| err.to_string())?
            }
            TypedKind::Call(function, args) => {
                // List arguments (of `bands`) are read as constants by `call`.
                let lowered = args
                    .iter()
                    .map(|a| {
                        if matches!(a.kind, TypedKind::List(_)) {
                            Ok(lit(ScalarValue::Null))
                        } else {
                            go(a)
                        }
                    })
                    .collect::<LowerResult<Vec<_>>>()?;
                self.call(*function, args, lowered)?
            }
            TypedKind::List(_) => return Err("list outside a function".into()),
            TypedKind::Aggregate { .. } => on_aggregate(e)?,
        })
    }

    /// Timestamps and dates compare through microseconds, so dates,
    /// timestamps of any unit and time zone compare correctly.
    fn comparable(&self, e: Expr, ty: Type) -> Expr {
        if matches!(ty, Type::Timestamp | Type::Date) {
            epoch_micros(e)
        } else {
            e
        }
    }

    fn binary(&self, op: BinaryOp, a: Expr, ta: Type, b: Expr, tb: Type, result: Type) -> Expr {
        let temporal = |t: Type| matches!(t, Type::Timestamp | Type::Date);
        // Integers and durations (whole microseconds) are 64-bit integers.
        let whole = |t: Type| matches!(t, Type::Integer | Type::Duration);
        // Arithmetic with the `null` literal is null, in the result's type
        // (lowered as it stands, `as_of + null` would add two timestamps).
        let arithmetic = matches!(
            op,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div
        );
        if arithmetic && (ta == Type::Null || tb == Type::Null) {
            return null_of(result);
        }
        match op {
            BinaryOp::Div => safe_div(a, b),
            BinaryOp::Add | BinaryOp::Sub if result == Type::Timestamp => {
                let micros = |e: Expr, t: Type| if temporal(t) { epoch_micros(e) } else { e };
                let sum = exact_integer(micros(a, ta), op, micros(b, tb));
                cast(sum, DataType::Timestamp(TimeUnit::Microsecond, None))
            }
            BinaryOp::Sub if temporal(ta) && temporal(tb) => {
                exact_integer(epoch_micros(a), op, epoch_micros(b))
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul
                if whole(ta) && whole(tb) && whole(result) =>
            {
                exact_integer(a, op, b)
            }
            _ if op.is_comparison() && (temporal(ta) || temporal(tb)) => {
                binary_expr(self.comparable(a, ta), operator(op), self.comparable(b, tb))
            }
            _ => binary_expr(a, operator(op), b),
        }
    }

    fn call(
        &self,
        function: Function,
        typed: &[TypedExpr],
        mut args: Vec<Expr>,
    ) -> LowerResult<Expr> {
        let arg = |i: usize| {
            typed
                .get(i)
                .ok_or_else(|| format!("{function:?} is missing argument {i}"))
        };
        let mut take = |i: usize| -> LowerResult<Expr> {
            args.get_mut(i)
                .map(|a| std::mem::replace(a, lit(ScalarValue::Null)))
                .ok_or_else(|| format!("{function:?} is missing argument {i}").into())
        };
        Ok(match function {
            Function::Round => {
                let x = take(0)?;
                let digits = take(1).unwrap_or_else(|_| lit(0i64));
                math::round().call(vec![float(x), cast(digits, DataType::Int64)])
            }
            Function::Abs => math::abs().call(vec![take(0)?]),
            Function::Floor => math::floor().call(vec![float(take(0)?)]),
            Function::Ceil => math::ceil().call(vec![float(take(0)?)]),
            Function::Sqrt => {
                let x = float(take(0)?);
                when(x.clone().lt(lit(0.0)), lit(ScalarValue::Float64(None)))
                    .otherwise(math::sqrt().call(vec![x]))
                    .map_err(|e| e.to_string())?
            }
            Function::Ln => {
                let x = float(take(0)?);
                when(x.clone().lt_eq(lit(0.0)), lit(ScalarValue::Float64(None)))
                    .otherwise(math::ln().call(vec![x]))
                    .map_err(|e| e.to_string())?
            }
            Function::Least => core_fn::least().call(args),
            Function::Greatest => core_fn::greatest().call(args),
            Function::Coalesce => core_fn::coalesce().call(args),
            Function::Clamp => clamp(take(0)?, take(1)?, take(2)?),
            Function::If => when(take(0)?, take(1)?)
                .otherwise(take(2)?)
                .map_err(|e| e.to_string())?,
            Function::DaysBetween => {
                let (start, end) = (take(0)?, take(1)?);
                float(epoch_micros(end) - epoch_micros(start)) / lit(MICROS_PER_DAY)
            }
            Function::Days => float(take(0)?) / lit(MICROS_PER_DAY),
            Function::Date => cast(take(0)?, DataType::Date32),
            Function::Lower => string::lower().call(vec![take(0)?]),
            Function::FormatNumber => {
                let x = take(0)?;
                let digits = take(1).unwrap_or_else(|_| lit(0i64));
                super::format_number::format_number_udf()
                    .call(vec![float(x), cast(digits, DataType::Int64)])
            }
            Function::Upper => string::upper().call(vec![take(0)?]),
            Function::Ramp => {
                let (x, zero, full) = (float(take(0)?), float(take(1)?), float(take(2)?));
                let scaled = safe_div(x.clone() - zero.clone(), full - zero) * lit(100.0);
                clamp_0_100(scaled)
            }
            Function::Bands => {
                let x = float(take(0)?);
                let list = |i: usize| -> LowerResult<Vec<f64>> {
                    match &arg(i)?.kind {
                        TypedKind::List(items) => Ok(items
                            .iter()
                            .filter_map(crate::check::constant_value)
                            .collect()),
                        _ => Err("bands without lists".into()),
                    }
                };
                let (thresholds, scores) = (list(1)?, list(2)?);
                let mut builder = when(x.clone().is_null(), lit(ScalarValue::Float64(None)));
                for (t, s) in thresholds.iter().zip(&scores) {
                    builder = builder.when(x.clone().lt(lit(*t)), lit(*s));
                }
                builder
                    .otherwise(lit(scores.last().copied().unwrap_or(0.0)))
                    .map_err(|e| e.to_string())?
            }
            Function::Target => ident(names::target(&kpi_name(arg(0)?)?)),
            Function::Attainment => {
                let kpi = kpi_name(arg(1)?)?;
                let x = float(take(0)?);
                let target = float(ident(names::target(&kpi)));
                let lower_is_better = ident(names::direction(&kpi)).eq(lit("lower"));
                let higher = safe_div(x.clone(), target.clone()) * lit(100.0);
                let lower = when(x.clone().lt_eq(lit(0.0)), lit(100.0))
                    .otherwise(safe_div(target.clone(), x.clone()) * lit(100.0))
                    .map_err(|e| e.to_string())?;
                let raw = when(target.is_null(), lit(ScalarValue::Float64(None)))
                    .when(lower_is_better, lower)
                    .otherwise(higher)
                    .map_err(|e| e.to_string())?;
                clamp_0_100(raw)
            }
            Function::Change => {
                let (now, before) = (take(0)?, take(1)?);
                safe_div(
                    float(now) - float(before.clone()),
                    math::abs().call(vec![float(before)]),
                )
            }
        })
    }
}

/// Clamp a score into 0–100, keeping null as null (DataFusion's `greatest` skips nulls).
fn clamp_0_100(value: Expr) -> Expr {
    let inner = core_fn::least().call(vec![
        core_fn::greatest().call(vec![value.clone(), lit(0.0)]),
        lit(100.0),
    ]);
    null_if_null(&value, inner)
}

/// Days from 1970-01-01 to `date`.
pub fn days_since_epoch(date: chrono::NaiveDate) -> i64 {
    date.signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default())
        .num_days()
}

fn kpi_name(e: &TypedExpr) -> LowerResult<String> {
    match &e.kind {
        TypedKind::Constant(Constant::String(s)) => Ok(s.clone()),
        _ => Err("a KPI name that is not a string literal".into()),
    }
}
