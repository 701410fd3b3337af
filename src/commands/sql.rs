//! `vane sql`: a night's scorecard as one query for a warehouse.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Report, check_path};
use crate::Data;
use crate::diagnostics::{Code, Diagnostic};
use crate::sql::{SqlDialect, SqlOptions, scorecard_sql};

/// The dialect `name` names, or a diagnostic listing the known ones.
pub fn sql_dialect(name: &str) -> Result<SqlDialect, Diagnostic> {
    SqlDialect::parse(name).ok_or_else(|| {
        Diagnostic::error(
            Code::InvalidArgument,
            format!("--dialect `{name}` is not a dialect vane sql writes"),
        )
        .help(format!(
            "write one of: {}",
            SqlDialect::ALL
                .iter()
                .map(|d| d.name())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// `--table SOURCE=TABLE` flags as a map, or a diagnostic per malformed one.
pub fn table_mappings(flags: &[String]) -> Result<BTreeMap<String, String>, Vec<Diagnostic>> {
    let mut tables = BTreeMap::new();
    let mut errors = Vec::new();
    for flag in flags {
        match flag.split_once('=') {
            Some((source, table)) if !source.trim().is_empty() && !table.trim().is_empty() => {
                tables.insert(source.trim().to_string(), table.trim().to_string());
            }
            _ => errors.push(
                Diagnostic::error(
                    Code::InvalidArgument,
                    format!("--table `{flag}` does not name a source and a table"),
                )
                .help("write --table SOURCE=TABLE, e.g. --table events=analytics.events"),
            ),
        }
    }
    if errors.is_empty() {
        Ok(tables)
    } else {
        Err(errors)
    }
}

/// `vane sql`: check the pipeline against its sources, plan the night and
/// write the plans as one query in the dialect.
pub fn sql(pipeline: &Path, options: &SqlOptions) -> Report {
    let (checked, diagnostics) = check_path(pipeline, Data::Opened);
    let Some(checked) = checked else {
        return Report::failed(diagnostics);
    };
    // As with `run`, warnings (an unused metric) are `validate`'s to show:
    // the query is what was asked for.
    match scorecard_sql(&checked, options) {
        Ok(text) => Report::ok(text),
        Err(errors) => Report::failed(errors),
    }
}
