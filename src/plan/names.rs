//! Column names in plans and outputs, in one place so the planner, the
//! writers, `explain` and `diff` agree.

/// The health score column.
pub const HEALTH: &str = "health";
/// The band column.
pub const BAND: &str = "band";
/// The name of the health model applied to the row.
pub const HEALTH_MODEL: &str = "health_model";
/// Health in the previous scorecard.
pub const PREVIOUS_HEALTH: &str = "previous_health";
/// Health minus previous health.
pub const TREND: &str = "trend";

/// Names the scorecard reserves for itself; metrics and attributes may not use them.
pub const RESERVED: &[&str] = &[HEALTH, BAND, HEALTH_MODEL, PREVIOUS_HEALTH, TREND];

/// A metric's column at a shift (seconds before as-of); shift 0 is the metric's own name.
pub fn metric(name: &str, shift: i64) -> String {
    if shift == 0 {
        name.to_string()
    } else {
        format!("__{name}__minus_{shift}s")
    }
}

/// An indicator's score column.
pub fn score(indicator: &str) -> String {
    format!("score__{indicator}")
}

/// A health group's score column.
pub fn group(group: &str) -> String {
    format!("group__{group}")
}

/// The target value column for a KPI.
pub fn target(kpi: &str) -> String {
    format!("__target__{kpi}")
}

/// The target direction column for a KPI.
pub fn direction(kpi: &str) -> String {
    format!("__direction__{kpi}")
}

/// The entity key as carried by a joined side.
pub fn side_key(side: &str) -> String {
    format!("__key__{side}")
}

/// The k-th aggregate of a source.
pub fn aggregate(source: &str, k: usize) -> String {
    format!("__{source}__agg{k}")
}
