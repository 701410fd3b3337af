//! DataFusion's errors in the user's words. An error is classified by the
//! types in its chain of causes (DataFusion wraps Arrow, Parquet, object
//! store and I/O errors, and adds context), never by its text.

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use datafusion::parquet::errors::ParquetError;

use super::entity::ValueError;
use crate::diagnostics::{Code, Diagnostic};
use crate::sources::error_text;

/// What went wrong, as far as the user is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// The memory pool refused an allocation.
    OutOfMemory,
    /// A value in a file does not parse as its column's type.
    UnparseableValue,
    /// A value could not be cast to the type an expression needs.
    Cast,
    /// Integer arithmetic would have wrapped.
    Overflow,
    /// A data file is missing, truncated or not in its format.
    UnreadableFile,
    /// Anything else.
    Other,
}

fn arrow_cause(error: &ArrowError) -> Option<Cause> {
    Some(match error {
        ArrowError::ParseError(_) | ArrowError::CsvError(_) | ArrowError::JsonError(_) => {
            Cause::UnparseableValue
        }
        ArrowError::CastError(_) => Cause::Cast,
        ArrowError::ArithmeticOverflow(_) => Cause::Overflow,
        ArrowError::IoError(..) | ArrowError::ParquetError(_) | ArrowError::IpcError(_) => {
            Cause::UnreadableFile
        }
        _ => return None,
    })
}

fn cause_of(link: &(dyn std::error::Error + 'static)) -> Option<Cause> {
    if let Some(e) = link.downcast_ref::<DataFusionError>() {
        return match e {
            DataFusionError::ResourcesExhausted(_) => Some(Cause::OutOfMemory),
            DataFusionError::ArrowError(arrow, _) => arrow_cause(arrow),
            DataFusionError::ParquetError(_)
            | DataFusionError::ObjectStore(_)
            | DataFusionError::IoError(_) => Some(Cause::UnreadableFile),
            _ => None,
        };
    }
    if let Some(arrow) = link.downcast_ref::<ArrowError>() {
        return arrow_cause(arrow);
    }
    if link.is::<ParquetError>() || link.is::<object_store::Error>() || link.is::<std::io::Error>()
    {
        return Some(Cause::UnreadableFile);
    }
    None
}

/// The first cause in the error's chain that says what went wrong.
fn classify(error: &DataFusionError) -> Cause {
    let mut link: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = link {
        if let Some(cause) = cause_of(current) {
            return cause;
        }
        link = current.source();
    }
    Cause::Other
}

/// Whether the memory pool refused an allocation somewhere in the chain.
pub fn is_out_of_memory(error: &DataFusionError) -> bool {
    classify(error) == Cause::OutOfMemory
}

/// A DataFusion error from executing a plan, as a diagnostic.
pub fn execution_error(error: &DataFusionError) -> Diagnostic {
    if let Some(failure) = cluster_failure(error) {
        return failure.diagnostic();
    }
    let text = error_text(error);
    match classify(error) {
        Cause::OutOfMemory => Diagnostic::error(
            Code::RunFailed,
            format!("the run ran out of memory: {text}"),
        )
        .help("raise --memory-limit, or lower --threads so fewer operators run at once"),
        Cause::UnparseableValue => Diagnostic::error(
            Code::DataUnreadable,
            format!("a value in a data file does not match its column's type: {text}"),
        )
        .help("CSV and JSON types are inferred from the first rows; fix the value, or convert the source to Parquet with explicit types"),
        Cause::UnreadableFile => Diagnostic::error(
            Code::DataUnreadable,
            format!("a data file could not be read: {text}"),
        )
        .help("check that the source files are complete and in the format the pipeline says"),
        Cause::Overflow => out_of_range("a computed value", &text),
        Cause::Cast => Diagnostic::error(
            Code::SchemaMismatch,
            format!("a value could not be converted: {text}"),
        )
        .help("a column holds values of another type than the pipeline expects; check the source's schema with `vane validate --data`"),
        Cause::Other => Diagnostic::error(Code::RunFailed, format!("the query failed: {text}"))
            .help("see the message; if it names a file or column, check the data"),
    }
}

/// The cluster's failure inside `error`, when a part ran on Ballista.
fn cluster_failure(error: &DataFusionError) -> Option<&super::remote::ClusterFailure> {
    match error {
        DataFusionError::External(inner) => inner.downcast_ref(),
        DataFusionError::Context(_, inner) => cluster_failure(inner),
        DataFusionError::Shared(inner) => cluster_failure(inner),
        _ => None,
    }
}

/// V502: `what` does not fit a 64-bit integer.
fn out_of_range(what: &str, text: &str) -> Diagnostic {
    // Float sums and means add as 76-digit decimals; the plan makes a sum
    // that would leave them fail a cast to that decimal.
    if text.contains("Decimal256") {
        return Diagnostic::error(
            Code::OutOfRange,
            format!("{what} is a sum of numbers too large to add exactly (their magnitudes add up to 5.7 × 10^58 or more)"),
        )
        .help("float sums and means are exact or an error, never wrapped: check the data for a sentinel such as 1e300, or scale the values down");
    }
    Diagnostic::error(
        Code::OutOfRange,
        format!("{what} is beyond what a 64-bit integer holds: {text}"),
    )
    .help("integers are exact or an error, never wrapped: check the data for a sentinel such as 9223372036854775807, or compute in numbers (`x * 1.0`) where a float is good enough")
}

/// A value of one entity that could not be computed, naming it and the entity.
pub fn value_error(error: &ValueError, entity: &str) -> Diagnostic {
    let text = error_text(&error.error);
    let whose = match &error.entity {
        Some(key) => format!("{} for {entity} `{key}`", error.what),
        None => error.what.clone(),
    };
    match classify(&error.error) {
        Cause::Cast | Cause::Overflow => out_of_range(&whose, &text),
        _ => {
            let mut d = execution_error(&error.error);
            d.message = format!("{whose}: {}", d.message);
            d
        }
    }
}

/// A bug: the planner or engine could not build what the checker accepted.
pub fn internal(message: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(
        Code::Internal,
        format!("could not build the plan: {message}"),
    )
    .help("this is a bug in Vane; please report it with the pipeline file")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn code(error: DataFusionError) -> Code {
        execution_error(&error).code
    }

    #[test]
    fn memory_exhaustion_is_recognised_under_added_context() {
        let exhausted = DataFusionError::ResourcesExhausted("8 MB for an aggregate".into())
            .context("computing a side");
        assert!(is_out_of_memory(&exhausted));
        let shared = DataFusionError::Shared(Arc::new(exhausted));
        assert!(is_out_of_memory(&shared));
        assert!(!is_out_of_memory(&DataFusionError::Plan("no".into())));
    }

    #[test]
    fn errors_are_classified_by_their_causes_not_their_words() {
        let parse = ArrowError::ParseError("Error while parsing value 'x' as Int64".into());
        assert_eq!(
            code(DataFusionError::ArrowError(Box::new(parse), None).context("scanning")),
            Code::DataUnreadable
        );
        let cast = ArrowError::CastError("Cannot cast string 'many' to Int64".into());
        assert_eq!(
            code(DataFusionError::External(Box::new(cast))),
            Code::SchemaMismatch
        );
        let missing = std::io::Error::new(std::io::ErrorKind::NotFound, "events.parquet");
        assert_eq!(
            code(DataFusionError::External(Box::new(missing))),
            Code::DataUnreadable
        );
        let corrupt = ParquetError::General("invalid footer".into());
        assert_eq!(
            code(DataFusionError::ParquetError(Box::new(corrupt))),
            Code::DataUnreadable
        );
        // Words alone decide nothing: this mentions memory and Parquet.
        let words = DataFusionError::Execution("memory of a Parquet file".into());
        assert_eq!(code(words), Code::RunFailed);
    }
}
