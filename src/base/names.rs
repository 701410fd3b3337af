//! Every name Vane gives to something it generates — scorecard and action
//! columns, the internal columns of plans, sides of the facts, tables it
//! registers — in one place, so the planner, the engine, the writers,
//! `explain`, `diff` and `test` agree, and so the checker can keep users'
//! names clear of them.

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
/// Whether the previous night was scored by other definitions than this one.
pub const TREND_DEFINITION_CHANGED: &str = "trend_definition_changed";
/// The night a scorecard row is for (a date), so rows of many nights can
/// be read together.
pub const AS_OF_DATE: &str = "as_of";

use super::units::Seconds;

/// Scorecard columns Vane adds under these exact names.
const RESERVED: &[&str] = &[
    AS_OF_DATE,
    HEALTH,
    BAND,
    HEALTH_MODEL,
    PREVIOUS_HEALTH,
    TREND,
    TREND_DEFINITION_CHANGED,
];

/// Prefixes of the columns Vane generates ([`score`], [`group`],
/// [`rows_counted`], [`target`], [`direction`], and every internal `__`
/// column).
const RESERVED_PREFIXES: &[&str] = &[
    "score__",
    "group__",
    "rows__",
    "target__",
    "direction__",
    "__",
];

/// Whether a user's name (a metric, an entity attribute) would clash with a
/// column Vane adds to the scorecard or uses internally.
pub fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name) || RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// A metric's column at a shift before as-of; shift zero is the metric's own name.
pub fn metric(name: &str, shift: Seconds) -> String {
    if shift == Seconds::ZERO {
        name.to_string()
    } else {
        format!("__{name}__minus_{}s", shift.get())
    }
}

/// What a scorecard column holds, in words, for messages: "metric
/// `logins`", "metric `logins` 30d back", "the score of indicator `usage`".
pub fn describe(column: &str) -> String {
    if let Some(indicator) = column.strip_prefix("score__") {
        return format!("the score of indicator `{indicator}`");
    }
    if let Some(group) = column.strip_prefix("group__") {
        return format!("group `{group}`");
    }
    if let Some(metric) = column.strip_prefix("rows__") {
        return format!("the rows metric `{metric}` counted");
    }
    if let Some(kpi) = column.strip_prefix("target__") {
        return format!("the target of KPI `{kpi}`");
    }
    if let Some(kpi) = column.strip_prefix("direction__") {
        return format!("the target direction of KPI `{kpi}`");
    }
    if let Some((name, seconds)) = column
        .strip_prefix("__")
        .and_then(|rest| rest.rsplit_once("__minus_"))
        .and_then(|(name, shift)| Some((name, shift.strip_suffix('s')?.parse::<i64>().ok()?)))
    {
        let back = Seconds::of(seconds, 1).map_or(format!("{seconds}s"), |s| s.to_string());
        return format!("metric `{name}` {back} back");
    }
    if RESERVED.contains(&column) || column.starts_with("__") {
        return format!("`{column}`");
    }
    format!("metric `{column}`")
}

/// An indicator's score column.
pub fn score(indicator: &str) -> String {
    format!("score__{indicator}")
}

/// The indicator whose score a column holds, when it is a score column
/// (the inverse of [`score`]).
pub fn score_indicator(column: &str) -> Option<&str> {
    column.strip_prefix("score__")
}

/// A health group's score column.
pub fn group(group: &str) -> String {
    format!("group__{group}")
}

/// The scorecard column with the KPI target in effect for the entity
/// that night (null when none is).
pub fn target(kpi: &str) -> String {
    format!("target__{kpi}")
}

/// The scorecard column with the direction (`higher` or `lower` is
/// better) of the KPI target in effect.
pub fn direction(kpi: &str) -> String {
    format!("direction__{kpi}")
}

/// The scorecard column with how many rows an aggregate metric read: its
/// source's rows in its window that meet its `where` (an aggregate's own
/// condition aside), so a value from one NPS answer shows as such.
pub fn rows_counted(metric: &str) -> String {
    format!("rows__{metric}")
}

/// The side of the facts holding the effective KPI targets.
pub const TARGETS_SIDE: &str = "targets";
/// The side of the facts holding the previous night's health.
pub const PREVIOUS_SIDE: &str = "previous";
/// The as-of instant as a column of the working scorecard, which the
/// entity steps and playbooks read (a night's constant), so that one
/// compiled program serves every night.
pub const AS_OF: &str = "__as_of";
/// The population, among the facts' parts a backfill computes ahead of a night.
pub const POPULATION_PART: &str = "__population";

/// Another rollup's value, as a rollup's value reads it until the run
/// puts the number in its place.
pub fn rollup(name: &str) -> String {
    format!("__rollup__{name}")
}

/// The k-th aggregate of the rollup at `position` (unique among all
/// rollups, which share aggregations).
pub fn rollup_aggregate(position: usize, k: usize) -> String {
    format!("__rollup{position}_agg{k}")
}

/// The entity key as carried by a joined side.
pub fn side_key(side: &str) -> String {
    format!("__key__{side}")
}

/// The k-th aggregate of a source.
pub fn aggregate(source: &str, k: usize) -> String {
    format!("__{source}__agg{k}")
}

/// The count of a source's rows that its aggregates read, per entity key
/// (to count the rows whose key is not in the population).
pub fn rows_read(source: &str) -> String {
    format!("__{source}__rows")
}

/// The side holding a source's `branch`-th distinct-count branch.
pub fn distinct_side(source: &str, branch: usize) -> String {
    format!("{source}__distinct{branch}")
}

/// The `count`-th distinct count of a source's `branch`-th branch.
pub fn distinct_count(source: &str, branch: usize, count: usize) -> String {
    format!("__{source}__distinct{branch}_{count}")
}

/// The counted value of a distinct-count branch (grouped with the key).
pub const DISTINCT_VALUE: &str = "__value";

/// The flag saying whether a (key, value) pair met the `count`-th condition.
pub fn distinct_flag(count: usize) -> String {
    format!("__flag{count}")
}

/// The scorecard output table (and file stem).
pub const SCORECARD_TABLE: &str = "scorecard";
/// The actions output table (and file stem).
pub const ACTIONS_TABLE: &str = "actions";
/// The actions held back by cooldowns (and repeats within a night), without extension.
pub const HELD_BACK_TABLE: &str = "held_back";
/// Why an action was held back.
pub const HELD_BECAUSE: &str = "held_because";
/// The night a held-back action last fired.
pub const LAST_FIRED: &str = "last_fired";
/// The first night a held-back action may fire again (null without a cooldown).
pub const COOLDOWN_ENDS: &str = "cooldown_ends";
/// The rollups file of a night, without extension.
pub const ROLLUPS_TABLE: &str = "rollups";
/// The manifest's file name in a partition.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The file a run holds in its output folder while it writes.
pub const LOCK_FILE: &str = ".vane.lock";

/// The name an earlier night's output table is registered under.
pub fn earlier_table(table: &str, as_of: chrono::NaiveDate) -> String {
    format!("previous_{table}_{}", as_of.format("%Y%m%d"))
}

/// The entity an action is for.
pub const ACTION_ENTITY: &str = "entity";
/// The playbook that fired.
pub const ACTION_PLAYBOOK: &str = "playbook";
/// What identifies a repeat of the same action (for cooldowns).
pub const ACTION_DEDUP_KEY: &str = "dedup_key";
/// The rendered message.
pub const ACTION_MESSAGE: &str = "message";

/// Columns of the actions output, in order.
pub const ACTION_COLUMNS: &[&str] = &[
    ACTION_ENTITY,
    ACTION_PLAYBOOK,
    "action",
    "priority",
    "owner",
    ACTION_MESSAGE,
    ACTION_DEDUP_KEY,
    "reason",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_column_is_reserved() {
        for generated in [
            metric("m", Seconds::of(1, 86_400).expect("a day")),
            score("i"),
            group("g"),
            target("k"),
            direction("k"),
            side_key("s"),
            aggregate("s", 0),
            distinct_count("s", 0, 1),
            distinct_flag(0),
            DISTINCT_VALUE.to_string(),
        ] {
            assert!(is_reserved(&generated), "{generated}");
        }
        for name in [HEALTH, BAND, HEALTH_MODEL, PREVIOUS_HEALTH, TREND] {
            assert!(is_reserved(name));
        }
        assert!(!is_reserved("logins_30d"));
    }

    #[test]
    fn generated_columns_are_described_in_words() {
        let day = Seconds::of(1, 86_400).expect("a day");
        assert_eq!(describe(&metric("logins", day)), "metric `logins` 1d back");
        assert_eq!(describe("logins"), "metric `logins`");
        assert_eq!(describe(&score("usage")), "the score of indicator `usage`");
        assert_eq!(describe(HEALTH), "`health`");
        assert_eq!(score_indicator(&score("usage")), Some("usage"));
        assert_eq!(score_indicator("usage"), None);
    }
}
