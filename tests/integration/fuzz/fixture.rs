//! The fixture files commands and runs read.

use super::*;

/// A type expressions are generated for (and fixture columns have).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ty {
    Bool,
    Int,
    Num,
    Str,
    Time,
    Date,
    Dur,
}

impl Ty {
    /// Every type.
    pub(super) const ALL: [Ty; 7] = [
        Ty::Bool,
        Ty::Int,
        Ty::Num,
        Ty::Str,
        Ty::Time,
        Ty::Date,
        Ty::Dur,
    ];

    /// The language's type.
    pub(super) fn vane(self) -> Type {
        match self {
            Ty::Bool => Type::Boolean,
            Ty::Int => Type::Integer,
            Ty::Num => Type::Number,
            Ty::Str => Type::String,
            Ty::Time => Type::Timestamp,
            Ty::Date => Type::Date,
            Ty::Dur => Type::Duration,
        }
    }

    /// Literals of this type: some the language accepts (extremes among
    /// them), some it rejects.
    #[rustfmt::skip]
    pub(super) fn literals(self) -> Literals {
        match self {
            Ty::Bool => Literals {
                accepted: &["true", "false", "TRUE", "False"],
                rejected: &["yes", "'true'", "t"],
            },
            Ty::Int => Literals {
                accepted: &["0", "1", "2", "7", "42", "100", "86400", "2147483648", "9223372036854775807"],
                rejected: &["9223372036854775808", "99999999999999999999", "1_000", "0x10", "007"],
            },
            Ty::Num => Literals {
                accepted: &["0.5", "1.5", "0.0", "1e3", "2.5E6", "1e-3", "1.50", "100.0", "95.0%", "12.5%", "1e308", "1e-320", "0.1"],
                rejected: &["1e309", ".5", "1.", "1e", "5%%", "1,5", "-0.0e-0"],
            },
            Ty::Str => Literals {
                accepted: &["'login'", "'a'", "''", "'it''s'", "'ü'", "'{x}'", "'smb'", "'difot'", "'p1'", "'a b'", "' Lower '", "'=1+1'"],
                rejected: &["'abc", "\"dq\"", "'''", "'a''", "`x`"],
            },
            Ty::Time => Literals {
                accepted: &["@2026-11-01T00:00:00Z", "@2026-01-31T08:00", "@0001-01-01T00:00:00Z", "@9999-12-31T23:59:59Z", "@1970-01-01T00:00:00"],
                rejected: &["@2026-02-30T00:00", "@2026-01-31T25:00", "@2026-01-31T08:00:00.5Z", "@2026-01-31T08:00:00+01:00", "@10000-01-01T00:00:00Z", "@2026-10-31t23:59:59z"],
            },
            Ty::Date => Literals {
                accepted: &["@2026-01-31", "@0001-01-01", "@9999-12-31", "@2024-02-29", "@2026-11-01"],
                rejected: &["@2023-02-29", "@2026-1-1", "@0000-01-01", "@2026-00-10"],
            },
            Ty::Dur => Literals {
                accepted: &["30d", "4w", "6h", "15min", "90s", "1d", "0d", "365d", "52w", "30d", "7d", "106751991d", "9223372036854s"],
                rejected: &["30 days", "1mo", "1y", "1.5d", "30D", "-1d", "110000000d", "106751992d", "9223372036854775807s"],
            },
        }
    }

    /// Whether a value of this type can stand where `want` is expected.
    pub(super) fn fits(self, want: Ty) -> bool {
        self == want
            || (self == Ty::Int && want == Ty::Num)
            || (self == Ty::Date && want == Ty::Time)
    }
}

/// Literals of one type the generator writes.
pub(super) struct Literals {
    /// Ones the language accepts.
    pub(super) accepted: &'static [&'static str],
    /// Ones it rejects (`V200`, `V202`, `V400`).
    pub(super) rejected: &'static [&'static str],
}

/// A fixture source: its name, its `time:` column, its columns.
pub(super) type FixtureSource = (
    &'static str,
    Option<&'static str>,
    &'static [(&'static str, Ty)],
);

/// The fixture's sources.
pub(super) const FIXTURE: &[FixtureSource] = &[
    (
        "accounts",
        None,
        &[
            ("account_id", Ty::Str),
            ("seats", Ty::Int),
            ("arr", Ty::Num),
            ("segment", Ty::Str),
            ("signed_at", Ty::Time),
            ("renewal_date", Ty::Date),
            ("churned_at", Ty::Time),
            ("active", Ty::Bool),
        ],
    ),
    (
        "events",
        Some("event_time"),
        &[
            ("account_id", Ty::Str),
            ("event_time", Ty::Time),
            ("user_id", Ty::Str),
            ("event_type", Ty::Str),
            ("amount", Ty::Int),
            ("score", Ty::Num),
            ("day", Ty::Date),
            ("ok", Ty::Bool),
        ],
    ),
    (
        "targets",
        None,
        &[
            ("account_id", Ty::Str),
            ("kpi", Ty::Str),
            ("target", Ty::Num),
            ("direction", Ty::Str),
            ("effective_from", Ty::Date),
            ("effective_to", Ty::Date),
        ],
    ),
];

/// KPI names the fixture's targets hold.
pub(super) const KPIS: &[&str] = &["difot", "cycle_time_days", "nps"];

/// A folder with the fixture sources as Parquet files under `data/`, and
/// their schemas as `vane validate --data` would read them.
pub(super) struct Fixture {
    pub(super) dir: tempfile::TempDir,
    pub(super) schemas: Schemas,
}

impl Fixture {
    /// Write the fixture's files into a new temporary folder.
    pub(super) fn write() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut schemas = Schemas::new();
        for (name, _, columns) in FIXTURE {
            let rows = match *name {
                "accounts" => 5,
                "events" => 60,
                _ => 8,
            };
            let arrays: Vec<(String, ArrayRef)> = columns
                .iter()
                .map(|(column, ty)| {
                    let array = fixture_column(&mut rng, name, column, *ty, rows);
                    (column.to_string(), array)
                })
                .collect();
            let relative = format!("data/{name}.parquet");
            write_parquet(&dir.path().join(&relative), arrays);
            schemas.insert(
                name.to_string(),
                SourceSchema {
                    columns: columns
                        .iter()
                        .map(|(c, ty)| (c.to_string(), ColumnType::Known(ty.vane())))
                        .collect(),
                    origin: relative,
                },
            );
        }
        Fixture { dir, schemas }
    }
}

/// One column of fixture data: keys a1–a5 (accounts hold a1–a4, so some
/// events are nobody's), other values random with some nulls.
pub(super) fn fixture_column(
    rng: &mut ChaCha8Rng,
    table: &str,
    column: &str,
    ty: Ty,
    rows: usize,
) -> ArrayRef {
    let null = |rng: &mut ChaCha8Rng| rng.random_bool(0.15);
    let base = micros(NaiveDate::from_ymd_opt(2026, 9, 1).expect("date"));
    let day = 86_400_000_000i64;
    match (column, ty) {
        ("account_id", _) => Arc::new(StringArray::from_iter_values((0..rows).map(
            |i| match table {
                "accounts" => format!("a{}", i + 1),
                _ => format!("a{}", rng.random_range(1..=5)),
            },
        ))),
        ("kpi", _) => Arc::new(StringArray::from_iter_values(
            (0..rows).map(|i| KPIS[i % KPIS.len()].to_string()),
        )),
        ("direction", _) => {
            Arc::new(StringArray::from_iter_values((0..rows).map(|i| {
                if i % 2 == 0 { "higher" } else { " Lower " }.to_string()
            })))
        }
        (_, Ty::Str) => Arc::new(StringArray::from(
            (0..rows)
                .map(|_| {
                    (!null(rng)).then(|| {
                        ["login", "feature_use", "smb", "ent", "", "u1", "u2", "=1+1"]
                            [rng.random_range(0..8)]
                        .to_string()
                    })
                })
                .collect::<Vec<_>>(),
        )),
        (_, Ty::Int) => Arc::new(Int64Array::from(
            (0..rows)
                .map(|_| (!null(rng)).then(|| rng.random_range(-5..100)))
                .collect::<Vec<_>>(),
        )),
        (_, Ty::Num) => Arc::new(Float64Array::from(
            (0..rows)
                .map(|_| (!null(rng)).then(|| f64::from(rng.random_range(-400..400i32)) / 4.0))
                .collect::<Vec<_>>(),
        )),
        (_, Ty::Time) => Arc::new(TimestampMicrosecondArray::from(
            (0..rows)
                .map(|_| (!null(rng)).then(|| base + rng.random_range(0..70 * day)))
                .collect::<Vec<_>>(),
        )),
        (_, Ty::Date) => Arc::new(Date32Array::from(
            (0..rows)
                .map(|_| (!null(rng)).then(|| 20_000 + rng.random_range(0..700)))
                .collect::<Vec<_>>(),
        )),
        (_, Ty::Bool) => Arc::new(BooleanArray::from(
            (0..rows)
                .map(|_| (!null(rng)).then(|| rng.random_bool(0.5)))
                .collect::<Vec<_>>(),
        )),
        (_, Ty::Dur) => unreachable!("no fixture column is a duration"),
    }
}

pub(super) use crate::support::write_parquet;

/// Midnight UTC at the start of `date`, in microseconds.
pub(super) fn micros(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_micros()
}
