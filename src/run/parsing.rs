//! Values of declared columns that did not parse: counted per column by
//! the plan's parse checks, reported in the run summary and the manifest,
//! and an error (`V503`) beyond the source's `max_parse_failures`.

use datafusion::arrow::array::{Array, Int64Array, RecordBatch};
use datafusion::prelude::SessionContext;

use super::cells::TextColumn;
use crate::check::model::ParseFailureLimit;
use crate::diagnostics::{Code, Diagnostic, printable};
use crate::plan::ParseCheck;
use crate::plan::columns::{ROWS, example_column, failures_column};

/// One declared column's parse result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseFailures {
    /// The source.
    pub source: String,
    /// The declared column.
    pub column: String,
    /// Values that were present but did not parse (they read as null).
    pub failures: u64,
    /// Rows of the source.
    pub rows: u64,
    /// One value that did not parse (the least, as text), if any.
    pub example: Option<String>,
}

/// Run every parse check: each declared column's failures, in check order.
pub async fn count_failures(
    ctx: &SessionContext,
    checks: &[ParseCheck],
) -> datafusion::error::Result<Vec<ParseFailures>> {
    let mut out = Vec::new();
    for check in checks {
        let batches = ctx
            .execute_logical_plan(check.plan.clone())
            .await?
            .collect()
            .await?;
        let first = batches.iter().find(|b| b.num_rows() > 0);
        let rows = first.map_or(0, |b| int(b, ROWS));
        for (i, column) in check.columns.iter().enumerate() {
            out.push(ParseFailures {
                source: check.source.clone(),
                column: column.name.clone(),
                failures: first.map_or(0, |b| int(b, &failures_column(i))),
                rows,
                example: first
                    .and_then(|b| TextColumn::of(b, &example_column(i)).and_then(|c| c.get(0))),
            });
        }
    }
    Ok(out)
}

fn int(batch: &RecordBatch, name: &str) -> u64 {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned())
        .filter(|c| !c.is_empty() && c.is_valid(0))
        .map_or(0, |c| u64::try_from(c.value(0)).unwrap_or(0))
}

/// A `V503` for every declared column whose failures pass its source's limit.
pub fn over_limit(checks: &[ParseCheck], counted: &[ParseFailures]) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    for check in checks {
        for column in &check.columns {
            let Some(found) = counted
                .iter()
                .find(|c| c.source == check.source && c.column == column.name)
            else {
                continue;
            };
            if check.limit.allows(found.failures, found.rows) {
                continue;
            }
            let allowed = match check.limit {
                ParseFailureLimit::Count(0) => "none are allowed".to_string(),
                ParseFailureLimit::Count(n) => format!("at most {n} are allowed"),
                ParseFailureLimit::Share(p) => format!("at most {p}% of the rows are allowed"),
            };
            let example = found
                .example
                .as_deref()
                .map(|e| format!(", e.g. `{}`", printable(e)))
                .unwrap_or_default();
            errors.push(
                Diagnostic::error(
                    Code::UnparsableValues,
                    format!(
                        "{} of {} values of column `{}` in `{}` cannot be read as {}{example}; {allowed}",
                        found.failures,
                        found.rows,
                        column.name,
                        check.source,
                        column.describe()
                    ),
                )
                .at(&check.file, column.span, "declared here")
                .help(format!(
                    "fix those values in the data, declare the format they are written in, or allow some with `max_parse_failures:` on `{}` (a count or a share such as `1%`); values that do not parse read as null",
                    check.source
                )),
            );
        }
    }
    errors
}
