//! A source side's columns described as windows over the source's time
//! column and conditions apart from them: what lets many nights share one
//! pass over the source ([`super::nights`]).

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{Expr, LogicalPlan};

use crate::base::units::Micros;

/// `[lo, hi)` of one evaluation of an aggregate; `lo` is absent when it
/// looks at all history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The first instant inside, if any.
    pub lo: Option<Micros>,
    /// The first instant after.
    pub hi: Micros,
}

/// One aggregate of a source's main aggregation, apart from its window.
#[derive(Debug, Clone)]
pub struct WindowedAggregate {
    /// The side's column holding it.
    pub column: String,
    /// The aggregate call, without any condition.
    pub aggregate: Expr,
    /// Its condition other than the window (`where`, `count_if`'s).
    pub condition: Option<Expr>,
    /// Its window.
    pub window: Window,
}

/// One distinct count, apart from its window.
#[derive(Debug, Clone)]
pub struct WindowedCount {
    /// The side's column holding it.
    pub column: String,
    /// Its condition other than the window.
    pub condition: Option<Expr>,
    /// Its window.
    pub window: Window,
}

/// What a source side computes.
#[derive(Debug, Clone)]
pub enum Shape {
    /// The main aggregation, and the column counting the rows it read.
    Aggregates {
        /// Every aggregate column.
        aggregates: Vec<WindowedAggregate>,
        /// The rows-read column.
        rows: String,
    },
    /// Distinct counts of one value.
    Distinct {
        /// The counted value.
        value: Expr,
        /// Every count column.
        counts: Vec<WindowedCount>,
    },
}

/// A source side described as windows over the source's time column.
#[derive(Debug, Clone)]
pub struct Windowed {
    /// The source's (typed) scan.
    pub scan: LogicalPlan,
    /// The source's key column.
    pub key: String,
    /// The source's time column.
    pub time: String,
    /// Its type.
    pub time_type: DataType,
    /// What the side computes.
    pub shape: Shape,
}
