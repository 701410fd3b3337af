//! The static types of the Vane language.

use std::fmt;

/// A value's static type. `Unknown` stands for a column whose type is not
/// known yet (no data schema was read); it fits anywhere, and the check is
/// repeated with real schemas before anything runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    /// A 64-bit float.
    Number,
    /// A 64-bit integer (promotes to `Number` in arithmetic with numbers).
    Integer,
    /// `true` / `false`.
    Boolean,
    /// Text.
    String,
    /// A point in time (UTC, microseconds).
    Timestamp,
    /// A calendar day.
    Date,
    /// A length of time.
    Duration,
    /// The type of the `null` literal; fits anywhere.
    Null,
    /// Not known without the data's schema.
    Unknown,
}

impl Type {
    /// The type's name after "a" or "an", for messages ("an integer").
    pub fn with_article(self) -> String {
        let name = self.name();
        if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
            format!("an {name}")
        } else {
            format!("a {name}")
        }
    }

    /// Integer or number.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Type::Number | Type::Integer | Type::Null | Type::Unknown
        )
    }

    /// Timestamp or date.
    pub fn is_temporal(self) -> bool {
        matches!(
            self,
            Type::Timestamp | Type::Date | Type::Null | Type::Unknown
        )
    }

    /// Null or unknown: fits any expected type.
    pub fn is_flexible(self) -> bool {
        matches!(self, Type::Null | Type::Unknown)
    }

    /// Whether a value of this type may be used where `expected` is wanted.
    pub fn fits(self, expected: Type) -> bool {
        self == expected
            || self.is_flexible()
            || expected.is_flexible()
            || (self == Type::Integer && expected == Type::Number)
    }

    /// The common type of two branches (`coalesce`, `case`), if there is one.
    pub fn unify(self, other: Type) -> Option<Type> {
        match (self, other) {
            (a, b) if a == b => Some(a),
            (Type::Null, t) | (t, Type::Null) => Some(t),
            (Type::Unknown, _) | (_, Type::Unknown) => Some(Type::Unknown),
            (Type::Integer, Type::Number) | (Type::Number, Type::Integer) => Some(Type::Number),
            (Type::Date, Type::Timestamp) | (Type::Timestamp, Type::Date) => Some(Type::Timestamp),
            _ => None,
        }
    }

    /// The word used in messages and docs.
    pub fn name(self) -> &'static str {
        match self {
            Type::Number => "number",
            Type::Integer => "integer",
            Type::Boolean => "boolean",
            Type::String => "string",
            Type::Timestamp => "timestamp",
            Type::Date => "date",
            Type::Duration => "duration",
            Type::Null => "null",
            Type::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A column's type as read from a data file's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnType {
    /// A type Vane works with.
    Known(Type),
    /// A type Vane cannot use in expressions (lists, structs, binary, …), by name.
    Unsupported(String),
}

/// The columns of one source, as read from its files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceSchema {
    /// Column names and types, in file order.
    pub columns: Vec<(String, ColumnType)>,
    /// The file the schema was read from, for messages.
    pub origin: String,
}

impl SourceSchema {
    /// The type of a column, if the source has it.
    pub fn column(&self, name: &str) -> Option<&ColumnType> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// Column names, for "did you mean".
    pub fn names(&self) -> impl Iterator<Item = &str> + Clone {
        self.columns.iter().map(|(n, _)| n.as_str())
    }
}

/// Schemas per source name; empty when validating without data.
pub type Schemas = std::collections::BTreeMap<String, SourceSchema>;
