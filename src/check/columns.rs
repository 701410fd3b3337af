//! Declared column types (`columns:` on a source): which declarations are
//! valid, whether the data's column can be read as the declared type, and
//! the schemas the rest of the checker sees — with declared types in place
//! of the stored ones, since the plan converts them when it scans.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::model::{ColumnFormat, DeclaredColumn, ParseFailureLimit};
use crate::base::SourceFile;
use crate::base::types::{ColumnType, Schemas, Type};
use crate::diagnostics::{Code, Diagnostic, suggestion};
use crate::syntax::ast::{Pipeline, SourceDef, Text};

/// Each source's declared columns and failure limit, the schemas with the
/// declared types applied, and any problems found.
pub struct Declared {
    /// Per source name, its declared columns (in file order) and limit.
    pub sources: BTreeMap<String, (Vec<DeclaredColumn>, ParseFailureLimit)>,
    /// The opened sources' schemas as the pipeline reads them.
    pub schemas: Schemas,
    /// Problems with the declarations.
    pub diagnostics: Vec<Diagnostic>,
}

/// Check every source's `columns:` and `max_parse_failures:` against the
/// opened schemas (when there are any).
pub fn declared(pipeline: &Pipeline, schemas: &Schemas) -> Declared {
    let mut out = Declared {
        sources: BTreeMap::new(),
        schemas: schemas.clone(),
        diagnostics: Vec::new(),
    };
    for def in &pipeline.sources {
        let limit = limit(&pipeline.file, def, &mut out.diagnostics);
        let mut columns = Vec::new();
        for decl in &def.columns {
            let Some(column) = declaration(&pipeline.file, decl, &mut out.diagnostics) else {
                continue;
            };
            if let Some(schema) = out.schemas.get_mut(&def.name.value) {
                let Some(stored) = schema.column(&column.name).cloned() else {
                    out.diagnostics.push(
                        Diagnostic::error(
                            Code::SchemaMismatch,
                            format!(
                                "source `{}` has no column `{}` (read from {})",
                                def.name.value, column.name, schema.origin
                            ),
                        )
                        .at(&pipeline.file, decl.name.span, "not in the data")
                        .help(suggestion(
                            &decl.name.value,
                            "column",
                            schema.names(),
                        )),
                    );
                    continue;
                };
                if let Err(help) = readable(&stored, &column) {
                    out.diagnostics.push(
                        Diagnostic::error(
                            Code::SchemaMismatch,
                            format!(
                                "column `{}` of `{}` is stored as {}, which cannot be read as {}",
                                column.name,
                                def.name.value,
                                stored_type(&stored),
                                column.describe()
                            ),
                        )
                        .at(&pipeline.file, decl.ty.span, "cannot be read so")
                        .help(help),
                    );
                    continue;
                }
                for (name, ty) in &mut schema.columns {
                    if *name == column.name {
                        *ty = ColumnType::Known(column.ty);
                    }
                }
            }
            columns.push(column);
        }
        out.sources.insert(def.name.value.clone(), (columns, limit));
    }
    out
}

fn stored_type(stored: &ColumnType) -> String {
    match stored {
        ColumnType::Known(t) => t.with_article(),
        ColumnType::Unsupported(t) => format!("`{t}`"),
    }
}

/// One declaration, or a diagnostic when its type and format do not go together.
fn declaration(
    file: &Arc<SourceFile>,
    decl: &crate::syntax::ast::ColumnDecl,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<DeclaredColumn> {
    let ty = match decl.ty.value.as_str() {
        "timestamp" => Type::Timestamp,
        "date" => Type::Date,
        "number" => Type::Number,
        "integer" => Type::Integer,
        "string" => Type::String,
        "boolean" => Type::Boolean,
        _ => return None,
    };
    let format = match decl.format.as_ref().map(|f| f.value.as_str()) {
        None | Some("iso8601") => ColumnFormat::Iso8601,
        Some("epoch_seconds") => ColumnFormat::EpochSeconds,
        Some("epoch_millis") => ColumnFormat::EpochMillis,
        Some("epoch_micros") => ColumnFormat::EpochMicros,
        Some(_) => return None,
    };
    if let Some(f) = &decl.format
        && !matches!(ty, Type::Timestamp | Type::Date)
    {
        diagnostics.push(
            Diagnostic::error(
                Code::InvalidValue,
                format!("`format:` applies to timestamps and dates, not to a {ty:?} column")
                    .to_lowercase(),
            )
            .at(file, f.span, "not for this type")
            .help("remove `format:`, or declare the column `timestamp` or `date`"),
        );
        return None;
    }
    Some(DeclaredColumn {
        name: decl.name.value.clone(),
        ty,
        format,
        span: decl.name.span,
    })
}

/// Whether a stored column can be read as the declared one; if not, the advice.
fn readable(stored: &ColumnType, column: &DeclaredColumn) -> Result<(), String> {
    let ColumnType::Known(stored) = stored else {
        return Err("Vane cannot read this type; store the column as text or a number".into());
    };
    let epoch = column.format != ColumnFormat::Iso8601;
    let fine = match (stored, column.ty) {
        (Type::String | Type::Null, _) => true,
        (_, Type::String) => true,
        (Type::Integer | Type::Number, Type::Timestamp | Type::Date) => epoch,
        (Type::Integer | Type::Number, Type::Number) => true,
        (Type::Integer, Type::Integer) => true,
        (Type::Timestamp | Type::Date, Type::Timestamp | Type::Date) => !epoch,
        (Type::Boolean, Type::Boolean) => true,
        _ => false,
    };
    if fine {
        return Ok(());
    }
    Err(match (stored, column.ty) {
        (Type::Integer | Type::Number, Type::Timestamp | Type::Date) => format!(
            "numbers are read as times since 1970: write `{}: {{ type: {}, format: epoch_seconds }}` (or `epoch_millis`, `epoch_micros`)",
            column.name,
            if column.ty == Type::Timestamp {
                "timestamp"
            } else {
                "date"
            }
        ),
        (Type::Timestamp | Type::Date, _) => format!(
            "the column is already {}: remove `format:`, or declare it `timestamp`, `date` or `string`",
            stored.with_article()
        ),
        (Type::Number, Type::Integer) => format!(
            "the column holds numbers with fractions: declare `{}: number`",
            column.name
        ),
        _ => format!(
            "declare it `{}` or `string`, or drop the declaration",
            type_word(*stored)
        ),
    })
}

/// The `columns:` word for a type.
fn type_word(ty: Type) -> &'static str {
    match ty {
        Type::Timestamp => "timestamp",
        Type::Date => "date",
        Type::Integer => "integer",
        Type::Boolean => "boolean",
        Type::String => "string",
        _ => "number",
    }
}

/// `max_parse_failures:`: a count or a percentage of the rows (default 0).
fn limit(
    file: &Arc<SourceFile>,
    def: &SourceDef,
    diagnostics: &mut Vec<Diagnostic>,
) -> ParseFailureLimit {
    let Some(Text { value, span }) = &def.max_parse_failures else {
        return ParseFailureLimit::Count(0);
    };
    let parsed = match value.trim().strip_suffix('%') {
        Some(share) => share
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|p| (0.0..=100.0).contains(p))
            .map(ParseFailureLimit::Share),
        None => value
            .trim()
            .parse::<u64>()
            .ok()
            .map(ParseFailureLimit::Count),
    };
    parsed.unwrap_or_else(|| {
        diagnostics.push(
            Diagnostic::error(
                Code::InvalidValue,
                format!("`{value}` is not a count or a percentage"),
            )
            .at(file, *span, "not a limit")
            .help("write a number of values (`0`, `25`) or a share of the rows from 0% to 100% (`1%`)"),
        );
        ParseFailureLimit::Count(0)
    })
}

/// Advice for a stored column whose type is not the one needed: declare
/// the type the pipeline reads it as.
pub fn declare_advice(column: &str, stored: Type, wanted: Type) -> Option<String> {
    let word = type_word(wanted);
    match (stored, wanted) {
        (Type::String, _) if wanted != Type::String => Some(format!(
            "if the text holds {}, declare it on the source: `columns: {{ {column}: {word} }}`{}",
            wanted.with_article(),
            match wanted {
                Type::Timestamp => " (ISO-8601: `2026-10-20T10:00:00Z`, with or without an offset)",
                Type::Date => " (ISO-8601: `2026-10-20`)",
                _ => "",
            }
        )),
        (Type::Integer | Type::Number, Type::Timestamp | Type::Date) => Some(format!(
            "if the numbers are times since 1970, declare it on the source: `columns: {{ {column}: {{ type: {word}, format: epoch_millis }} }}` (or `epoch_seconds`, `epoch_micros`)"
        )),
        _ => None,
    }
}
