//! `vane sql --actions`: the night's actions as the end of the query —
//! each playbook's condition and action columns over the working
//! scorecard (the plans `run` fires), then what `run`'s cooldowns do:
//! an action whose playbook fired for the same dedup key on an earlier
//! night within its cooldown is held back (read from a table of earlier
//! actions), and only the first action per playbook and dedup key fires
//! tonight.
//!
//! Messages and reasons show values as text, exactly as `run` writes
//! them; a number's text needs its digits more than once, so each shown
//! value becomes a column of its own first ([`lower::Shown`]).

use std::sync::Arc;

use chrono::Duration;
use datafusion::arrow::datatypes::{FieldRef, Schema};
use datafusion::common::DFSchema;

use super::{Query, SqlDialect, lower, unparser};
use crate::base::names;
use crate::plan::Plan;

/// The column giving each playbook's place in the output order.
const ORDER_COLUMN: &str = "vane_order";
/// The column numbering the actions of one playbook and dedup key tonight.
const NTH_COLUMN: &str = "vane_nth";

/// One playbook's CTE, before the shown values are known.
struct Firing {
    name: String,
    condition: String,
    columns: Vec<String>,
}

impl Query<'_> {
    /// The CTEs of the actions over the working scorecard `last` (with
    /// the columns `working`); returns the final `SELECT`.
    pub(super) fn actions(
        &mut self,
        plan: &Plan,
        lowering: &mut lower::Lowering<'_>,
        last: &str,
        working: Vec<FieldRef>,
    ) -> datafusion::error::Result<String> {
        let unparser = unparser(self.target);
        let schema = Arc::new(DFSchema::try_from(Schema::new(working))?);
        lowering.showing = true;
        let sql = |query: &Self,
                   lowering: &mut lower::Lowering<'_>,
                   e: &datafusion::logical_expr::Expr|
         -> datafusion::error::Result<String> {
            let lowered = lowering
                .expr(query.coerced(e.clone(), &schema)?, &schema)?
                .data;
            Ok(unparser.expr_to_sql(&lowered)?.to_string())
        };
        let mut firings = Vec::with_capacity(plan.actions.len());
        for playbook in &plan.actions {
            lowering.playbook = Some(playbook.name.clone());
            let mut columns = Vec::new();
            for (name, e) in &playbook.columns {
                columns.push(format!(
                    "{} AS {}",
                    sql(self, lowering, e)?,
                    self.quote(name)
                ));
            }
            for (column, attribute) in &plan.action_attributes {
                columns.push(format!(
                    "{} AS {}",
                    self.quote(attribute),
                    self.quote(column)
                ));
            }
            firings.push(Firing {
                name: playbook.name.clone(),
                condition: sql(self, lowering, &playbook.condition)?,
                columns,
            });
        }
        lowering.playbook = None;
        let source = self.shown(lowering, last);
        let entity = self.quote(names::ACTION_ENTITY);
        let mut fired = Vec::new();
        for (order, firing) in firings.into_iter().enumerate() {
            let name = self.cte_name(&format!("playbook{}", order + 1));
            self.push(
                &name,
                self.playbook_comment(&firing.name),
                format!(
                    "SELECT\n  {order} AS {},\n  {}\nFROM {}\nWHERE {}",
                    self.quote(ORDER_COLUMN),
                    firing.columns.join(",\n  "),
                    self.quote(&source),
                    firing.condition
                ),
            );
            fired.push(format!("SELECT * FROM {}", self.quote(&name)));
        }
        let all = self.cte_name("actions");
        self.push(
            &all,
            "every playbook's actions, before cooldowns".to_string(),
            fired.join("\nUNION ALL\n"),
        );
        let cooled = self.cooldowns(&all);
        let collate = match self.options.dialect {
            SqlDialect::Postgres => " COLLATE \"C\"",
            _ => "",
        };
        let first = self.cte_name("first");
        let (playbook, dedup) = (
            self.quote(names::ACTION_PLAYBOOK),
            self.quote(names::ACTION_DEDUP_KEY),
        );
        self.push(
            &first,
            "one action per playbook and dedup key tonight: the first by entity".to_string(),
            format!(
                "SELECT *, row_number() OVER (PARTITION BY {playbook}, {dedup} ORDER BY {entity}{collate}) AS {}\nFROM {}",
                self.quote(NTH_COLUMN),
                self.quote(&cooled)
            ),
        );
        let mut outputs: Vec<String> = names::ACTION_COLUMNS
            .iter()
            .map(|c| self.quote(c))
            .collect();
        outputs.extend(plan.action_attributes.iter().map(|(c, _)| self.quote(c)));
        Ok(format!(
            "SELECT\n  {}\nFROM {}\nWHERE {} = 1\nORDER BY {}, {entity}{collate}\n",
            outputs.join(",\n  "),
            self.quote(&first),
            self.quote(NTH_COLUMN),
            self.quote(ORDER_COLUMN)
        ))
    }

    /// The CTEs computing the values the actions show, over `last`;
    /// returns the name of the one the playbooks read.
    fn shown(&mut self, lowering: &lower::Lowering<'_>, last: &str) -> String {
        let shown = &lowering.written.shown;
        if shown.is_empty() {
            return last.to_string();
        }
        let values = self.cte_name("shown");
        let columns: Vec<String> = shown
            .iter()
            .map(|s| format!("{} AS {}", s.sql, self.quote(&s.column)))
            .collect();
        self.push(
            &values,
            "the values the actions show (numbers as the warehouse writes them)".to_string(),
            format!(
                "SELECT\n  *,\n  {}\nFROM {}",
                columns.join(",\n  "),
                self.quote(last)
            ),
        );
        let texts: Vec<String> = shown
            .iter()
            .filter(|s| s.as_text)
            .flat_map(|s| {
                let (digits, point) = lower::digits_and_point(&self.quote(&s.column));
                [
                    format!(
                        "{digits} AS {}",
                        self.quote(&lower::digits_column(&s.column))
                    ),
                    format!("{point} AS {}", self.quote(&lower::point_column(&s.column))),
                ]
            })
            .collect();
        if texts.is_empty() {
            return values;
        }
        let digits = self.cte_name("shown_digits");
        self.push(
            &digits,
            "each number's significant digits and decimal point, to write it as vane run does"
                .to_string(),
            format!(
                "SELECT\n  *,\n  {}\nFROM {}",
                texts.join(",\n  "),
                self.quote(&values)
            ),
        );
        digits
    }

    /// The CTE holding back what cooldowns hold back, over `all`; returns
    /// its name (`all` when nothing can be held back).
    fn cooldowns(&mut self, all: &str) -> String {
        let as_of = self.options.as_of;
        let windows: Vec<(String, chrono::NaiveDate)> = self
            .model
            .playbooks
            .iter()
            .filter_map(|p| Some((p.name.clone(), crate::run::quiet_since(as_of, p.cooldown?)?)))
            .collect();
        if windows.is_empty() {
            return all.to_string();
        }
        let Some(earlier) = self.options.earlier_actions.clone() else {
            self.notes.push(
                "No --earlier-actions table: no cooldown holds an action back, as on a first night."
                    .to_string(),
            );
            return all.to_string();
        };
        let table = self.cte_name("earlier_actions");
        self.push(
            &table,
            "the actions fired on earlier nights (as_of, playbook, dedup_key)".to_string(),
            format!("SELECT * FROM {earlier}"),
        );
        let yesterday = as_of - Duration::days(1);
        let (playbook, dedup, night) = (
            self.quote(names::ACTION_PLAYBOOK),
            self.quote(names::ACTION_DEDUP_KEY),
            self.quote(names::AS_OF_DATE),
        );
        let within: Vec<String> = windows
            .iter()
            .map(|(name, from)| {
                format!(
                    "(a.{playbook} = '{}' AND CAST(e.{night} AS DATE) BETWEEN DATE '{from}' AND DATE '{yesterday}')",
                    name.replace('\'', "''")
                )
            })
            .collect();
        let cooled = self.cte_name("cooled");
        self.push(
            &cooled,
            "without the actions an earlier night's firing still holds back (cooldowns)".to_string(),
            format!(
                "SELECT a.*\nFROM {} AS a\nWHERE NOT EXISTS (\n  SELECT 1 FROM {} AS e\n  WHERE e.{playbook} = a.{playbook} AND e.{dedup} = a.{dedup}\n    AND ({})\n)",
                self.quote(all),
                self.quote(&table),
                within.join("\n      OR ")
            ),
        );
        cooled
    }

    /// A playbook's CTE comment: its name, priority and condition.
    fn playbook_comment(&self, name: &str) -> String {
        match self.model.playbooks.iter().find(|p| p.name == name) {
            Some(p) => format!(
                "playbook `{name}` ({} priority): fires when {}",
                p.priority.name(),
                p.when_text.lines().collect::<Vec<_>>().join(" ")
            ),
            None => format!("playbook `{name}`"),
        }
    }
}
