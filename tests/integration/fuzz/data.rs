//! Random data: generated rows, the pipeline over them, and the expected values.

use super::*;

/// One event row: the entity key, the time in microseconds, an integer,
/// a float, a user and a kind.
#[derive(Debug, Clone)]
pub(super) struct Event {
    pub(super) key: Option<String>,
    pub(super) time: Option<i64>,
    pub(super) v: Option<i64>,
    pub(super) x: Option<f64>,
    pub(super) u: Option<String>,
    pub(super) k: Option<String>,
}

/// A random dataset, the night it is computed for, and the window.
#[derive(Debug)]
pub(super) struct Dataset {
    pub(super) as_of: NaiveDate,
    /// The window as written (`30d`) and in seconds.
    pub(super) window: (String, i64),
    pub(super) threads: usize,
    /// The entity table's keys, in file order (duplicates and nulls included).
    pub(super) keys: Vec<Option<String>>,
    pub(super) events: Vec<Event>,
}

/// One metric of the data pipeline.
pub(super) struct DataMetric {
    pub(super) name: &'static str,
    pub(super) over: Over,
    /// Its `where:`.
    pub(super) filter: Option<&'static str>,
    /// Its `value:`.
    pub(super) value: &'static str,
    /// What the metric reads that can make a run fail, for the safe rerun.
    pub(super) risk: Risk,
}

/// What a metric of the data pipeline aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Over {
    /// The events in the seed's window.
    Window,
    /// Every event before as-of.
    AllHistory,
    /// Nothing: a derived metric.
    Derived,
}

/// What can make a metric of the data pipeline fail a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Risk {
    /// Nothing: counts, extremes, integer means.
    None,
    /// An integer sum (or a product of one) beyond 64 bits.
    IntegerSum,
    /// A float summed as a decimal.
    FloatSum,
}

/// A metric of the random-data pipeline.
pub(super) const fn data_metric(
    name: &'static str,
    over: Over,
    filter: Option<&'static str>,
    value: &'static str,
    risk: Risk,
) -> DataMetric {
    DataMetric {
        name,
        over,
        filter,
        value,
        risk,
    }
}

/// The metrics of the random-data pipeline.
pub(super) const DATA_METRICS: &[DataMetric] = &[
    data_metric("n", Over::Window, None, "count()", Risk::None),
    data_metric("n_all", Over::AllHistory, None, "count()", Risk::None),
    data_metric("n_v", Over::Window, None, "count(v)", Risk::None),
    data_metric("n_x", Over::Window, None, "count(x)", Risk::None),
    data_metric("total", Over::Window, None, "sum(v)", Risk::IntegerSum),
    data_metric(
        "doubled",
        Over::Derived,
        None,
        "total * 2",
        Risk::IntegerSum,
    ),
    data_metric("lo", Over::Window, None, "min(v)", Risk::None),
    data_metric("hi", Over::Window, None, "max(v)", Risk::None),
    data_metric("mean_v", Over::Window, None, "avg(v)", Risk::None),
    data_metric("total_x", Over::Window, None, "sum(x)", Risk::FloatSum),
    data_metric("mean_x", Over::Window, None, "avg(x)", Risk::FloatSum),
    data_metric("users", Over::Window, None, "count_distinct(u)", Risk::None),
    data_metric(
        "a_total",
        Over::Window,
        None,
        "sum_if(v, k = 'a')",
        Risk::IntegerSum,
    ),
    data_metric(
        "a_users",
        Over::Window,
        None,
        "count_distinct_if(u, k = 'a')",
        Risk::None,
    ),
    data_metric(
        "positive",
        Over::Window,
        Some("v > 0"),
        "sum(v)",
        Risk::IntegerSum,
    ),
];

/// What the docs say one metric of one entity is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Want {
    /// An integer, or null.
    Int(Option<i64>),
    /// A float and how far off it may be.
    Float(Option<f64>, f64),
    /// A float sum beyond the 76-digit decimal's precision: the value or an error.
    FloatOrFail(f64, f64),
    /// The run must fail with this code.
    Fail(Code),
}

/// Counts for the report.
#[derive(Debug, Default)]
pub(super) struct DataStats {
    pub(super) datasets: usize,
    pub(super) runs_ok: usize,
    pub(super) runs_failed: usize,
    pub(super) failures: BTreeMap<&'static str, usize>,
    pub(super) values: usize,
    /// Float sums beyond the decimal's 76 digits that came out right.
    pub(super) beyond_decimal: usize,
}

/// 0001-01-01T00:00:00Z in microseconds.
pub(super) const YEAR_1: i64 = -62_135_596_800_000_000;
/// 9999-12-31T23:59:59.999999Z in microseconds.
pub(super) const YEAR_9999_END: i64 = 253_402_300_799_999_999;

/// Whether a float is one the docs say a sum or mean cannot take: not
/// finite, or of magnitude 10^58 or more. (The generator leaves out
/// [10^58, 10^59), where the decimal's 76 digits and its 256-bit storage
/// disagree about what fits.)
pub(super) fn bad_float(x: f64) -> bool {
    !x.is_finite() || x.abs() >= 1e58
}

/// `x` as the decimal with 18 places that the docs say floats are summed
/// in, scaled by 10^18 and rounded half away from zero, computed exactly
/// from the float's bits; `None` for a bad float.
pub(super) fn scaled(x: f64) -> Option<i256> {
    if bad_float(x) {
        return None;
    }
    if x == 0.0 {
        return Some(i256::ZERO);
    }
    let bits = x.to_bits();
    let negative = bits >> 63 == 1;
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, power) = if exponent == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), exponent - 1075)
    };
    let ten18 = i256::from_i128(1_000_000_000_000_000_000);
    let m = i256::from_i128(i128::from(mantissa)).checked_mul(ten18)?;
    let magnitude = if power >= 0 {
        m.checked_mul(i256::from_i128(2).checked_pow(power as u32)?)?
    } else if -power >= 200 {
        i256::ZERO
    } else {
        let divisor = i256::from_i128(2).checked_pow((-power) as u32)?;
        let quotient = m.checked_div(divisor)?;
        let remainder = m.checked_rem(divisor)?;
        let twice = remainder.checked_mul(i256::from_i128(2))?;
        if twice >= divisor {
            quotient.checked_add(i256::ONE)?
        } else {
            quotient
        }
    };
    Some(if negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    })
}

/// A scaled decimal as a float, correctly rounded.
pub(super) fn unscaled(value: i256) -> f64 {
    value.to_string().parse::<f64>().expect("a number") / 1e18
}

impl Dataset {
    /// A random dataset: its night, window, entities and events, some dirty.
    pub(super) fn generate(rng: &mut ChaCha8Rng) -> Dataset {
        let dates = [
            (2026, 11, 1),
            (1970, 1, 1),
            (1, 1, 2),
            (9999, 12, 31),
            (2000, 3, 1),
        ];
        let (y, m, d) = dates[rng.random_range(0..dates.len())];
        let as_of = NaiveDate::from_ymd_opt(y, m, d).expect("date");
        let windows = [
            ("1s", 1),
            ("1h", 3_600),
            ("1d", 86_400),
            ("30d", 30 * 86_400),
            ("30d", 30 * 86_400),
            ("36500d", 36_500 * 86_400),
            ("100000000d", 100_000_000 * 86_400),
            ("106751991d", 106_751_991 * 86_400),
        ];
        let (text, seconds) = windows[rng.random_range(0..windows.len())];
        let window = (text.to_string(), seconds);

        // The entity table: unique keys, sometimes a duplicate or a null.
        let pool = ["a1", "a2", "", "ä", "x y", "=1+1", "A1", "a1 "];
        let count = rng.random_range(0..=5);
        let mut keys: Vec<Option<String>> = pool
            .iter()
            .filter(|_| rng.random_bool(0.5))
            .take(count)
            .map(|k| Some(k.to_string()))
            .collect();
        if rng.random_bool(0.08) && !keys.is_empty() {
            keys.push(keys[0].clone());
        }
        if rng.random_bool(0.06) {
            keys.push(None);
        }

        // How dirty this dataset is.
        let bad_x = if rng.random_bool(0.5) { 0.0 } else { 0.06 };
        let extreme_v = if rng.random_bool(0.4) { 0.0 } else { 0.15 };
        let huge_x = match rng.random_range(0..20) {
            0..2 => 1.0,
            2 => -1.0,
            _ => 0.0,
        };
        let hi = micros(as_of);
        let lo = hi.checked_sub(window.1 * 1_000_000);
        // Huge floats pile up on the first entity, so that its sums go
        // beyond what the decimal holds.
        let rows = if huge_x == 0.0 {
            rng.random_range(0..40)
        } else {
            rng.random_range(10..40)
        };
        let events = (0..rows)
            .map(|_| Event {
                key: match rng.random_range(0..20) {
                    0..12 if huge_x != 0.0 && !keys.is_empty() => keys[0].clone(),
                    0..14 if !keys.is_empty() => keys[rng.random_range(0..keys.len())].clone(),
                    14 => None,
                    _ => Some(pool[rng.random_range(0..pool.len())].to_string()),
                },
                time: if huge_x != 0.0 && rng.random_bool(0.5) {
                    Some(hi - 1)
                } else {
                    random_time(rng, lo, hi)
                },
                v: random_v(rng, extreme_v),
                x: random_x(rng, bad_x, huge_x),
                u: (!rng.random_bool(0.15)).then(|| {
                    ["", "u1", "u2", "U1", " u1", "ü", "u3"][rng.random_range(0..7)].to_string()
                }),
                k: (!rng.random_bool(0.15))
                    .then(|| ["a", "b", "", "A"][rng.random_range(0..4)].to_string()),
            })
            .collect();
        Dataset {
            as_of,
            window,
            threads: rng.random_range(1..=4),
            keys,
            events,
        }
    }

    /// The dataset in a form to print with a failure.
    pub(super) fn describe(&self) -> String {
        let mut out = format!(
            "as_of {} window {} threads {}\nentity keys {:?}\nevents (key, time µs, v, x, u, k):\n",
            self.as_of, self.window.0, self.threads, self.keys
        );
        for e in &self.events {
            let _ = writeln!(
                out,
                "  {:?}, {:?}, {:?}, {:?}, {:?}, {:?}",
                e.key, e.time, e.v, e.x, e.u, e.k
            );
        }
        out
    }

    /// The pipeline over `metrics`.
    pub(super) fn pipeline(&self, metrics: &[&DataMetric]) -> String {
        let mut text = String::from(
            "vane: 1
sources:
  accounts: { path: accounts.parquet }
  events: { path: events.parquet, time: event_time }
entity: { name: account, source: accounts, key: account_id }
metrics:
",
        );
        for m in metrics {
            let _ = writeln!(text, "  {}:", m.name);
            if m.over != Over::Derived {
                text.push_str("    from: events\n");
            }
            if m.over == Over::Window {
                let _ = writeln!(text, "    window: {}", self.window.0);
            }
            if let Some(filter) = m.filter {
                let _ = writeln!(text, "    where: \"{filter}\"");
            }
            let _ = writeln!(text, "    value: \"{}\"\n    unused: true", m.value);
        }
        text
    }

    /// Write `accounts.parquet` and `events.parquet` into `dir`.
    pub(super) fn write(&self, dir: &Path) {
        write_parquet(
            &dir.join("accounts.parquet"),
            vec![(
                "account_id".into(),
                Arc::new(StringArray::from(self.keys.clone())) as ArrayRef,
            )],
        );
        let events = &self.events;
        write_parquet(
            &dir.join("events.parquet"),
            vec![
                (
                    "account_id".into(),
                    Arc::new(StringArray::from(
                        events.iter().map(|e| e.key.clone()).collect::<Vec<_>>(),
                    )) as ArrayRef,
                ),
                (
                    "event_time".into(),
                    Arc::new(TimestampMicrosecondArray::from(
                        events.iter().map(|e| e.time).collect::<Vec<_>>(),
                    )),
                ),
                (
                    "v".into(),
                    Arc::new(Int64Array::from(
                        events.iter().map(|e| e.v).collect::<Vec<_>>(),
                    )),
                ),
                (
                    "x".into(),
                    Arc::new(Float64Array::from(
                        events.iter().map(|e| e.x).collect::<Vec<_>>(),
                    )),
                ),
                (
                    "u".into(),
                    Arc::new(StringArray::from(
                        events.iter().map(|e| e.u.clone()).collect::<Vec<_>>(),
                    )),
                ),
                (
                    "k".into(),
                    Arc::new(StringArray::from(
                        events.iter().map(|e| e.k.clone()).collect::<Vec<_>>(),
                    )),
                ),
            ],
        );
    }

    /// `[lo, hi)` of the window in microseconds; `lo` is `None` when the
    /// window reaches before the earliest timestamp.
    pub(super) fn bounds(&self) -> (Option<i64>, i64) {
        let hi = micros(self.as_of);
        (hi.checked_sub(self.window.1 * 1_000_000), hi)
    }

    /// The population: the entity keys, when they are unique and none is null.
    pub(super) fn population(&self) -> Option<Vec<String>> {
        let keys: Option<Vec<String>> = self.keys.iter().cloned().collect();
        let keys = keys?;
        let unique: BTreeSet<&String> = keys.iter().collect();
        (unique.len() == keys.len()).then_some(keys)
    }

    /// What each metric is for the rows of `key` (any key, orphans and the
    /// null key included), computed from the rows as the docs define it.
    pub(super) fn expected(&self, key: Option<&str>, metric: &DataMetric) -> Want {
        let (lo, hi) = self.bounds();
        let mine = |e: &&Event| e.key.as_deref() == key;
        let in_window = |e: &&Event| match (e.time, lo) {
            (Some(t), Some(lo)) => lo <= t && t < hi,
            _ => false,
        };
        let rows: Vec<&Event> = match metric.over {
            Over::AllHistory => self
                .events
                .iter()
                .filter(mine)
                .filter(|e| e.time.is_some_and(|t| t < hi))
                .collect(),
            _ => self.events.iter().filter(mine).filter(in_window).collect(),
        };
        let ints = |keep: &dyn Fn(&Event) -> bool| -> Vec<i64> {
            rows.iter()
                .filter(|e| keep(e))
                .filter_map(|e| e.v)
                .collect()
        };
        let exact_sum = |values: Vec<i64>| -> Want {
            let sum: i128 = values.iter().map(|&v| i128::from(v)).sum();
            i64::try_from(sum).map_or(Want::Fail(Code::OutOfRange), |s| Want::Int(Some(s)))
        };
        let distinct = |keep: &dyn Fn(&Event) -> bool| -> Want {
            let values: BTreeSet<&String> = rows
                .iter()
                .filter(|e| keep(e))
                .filter_map(|e| e.u.as_ref())
                .collect();
            Want::Int(Some(values.len() as i64))
        };
        let count = |n: usize| Want::Int(Some(n as i64));
        match metric.name {
            "n" | "n_all" => count(rows.len()),
            "n_v" => count(rows.iter().filter(|e| e.v.is_some()).count()),
            "n_x" => count(rows.iter().filter(|e| e.x.is_some()).count()),
            "total" => exact_sum(ints(&|_| true)),
            "positive" => exact_sum(ints(&|e| e.v.is_some_and(|v| v > 0))),
            "a_total" => exact_sum(ints(&|e| e.k.as_deref() == Some("a"))),
            "doubled" => match exact_sum(ints(&|_| true)) {
                Want::Int(Some(total)) => total
                    .checked_mul(2)
                    .map_or(Want::Fail(Code::OutOfRange), |d| Want::Int(Some(d))),
                other => other,
            },
            "lo" => Want::Int(ints(&|_| true).into_iter().min()),
            "hi" => Want::Int(ints(&|_| true).into_iter().max()),
            "mean_v" => {
                let values = ints(&|_| true);
                if values.is_empty() {
                    return Want::Float(None, 0.0);
                }
                let sum: i128 = values.iter().map(|&v| i128::from(v)).sum();
                let mean = sum as f64 / values.len() as f64;
                Want::Float(Some(mean), mean.abs() * 1e-9)
            }
            "total_x" | "mean_x" => {
                let values: Vec<f64> = rows.iter().filter_map(|e| e.x).collect();
                if values.iter().any(|&x| bad_float(x)) {
                    return Want::Fail(Code::SchemaMismatch);
                }
                let n = values.len();
                let limit = i256::from_i128(10).checked_pow(76).expect("10^76");
                // The exact sum, or (beyond even 256 bits) the floats' own.
                let exact = values
                    .iter()
                    .try_fold(i256::ZERO, |sum, &x| sum.checked_add(scaled(x)?));
                let (sum, beyond) = match exact {
                    Some(sum) => (unscaled(sum), sum.checked_abs().is_none_or(|s| s >= limit)),
                    None => (values.iter().sum(), true),
                };
                // Each float is rounded to 18 places as a float product
                // (relative error 2^-53) before it is added exactly.
                let magnitude: f64 = values.iter().map(|x| x.abs()).sum();
                let slack = magnitude * f64::EPSILON * 4.0 + n as f64 * 1e-18;
                let (value, slack) = match metric.name {
                    "total_x" => (Some(sum), slack),
                    _ if n == 0 => (None, 0.0),
                    _ => (Some(sum / n as f64), slack / n as f64),
                };
                let tolerance = value.map_or(0.0, |v| v.abs() * 1e-9) + slack;
                if beyond {
                    Want::FloatOrFail(value.unwrap_or(0.0), tolerance)
                } else {
                    Want::Float(value, tolerance)
                }
            }
            "users" => distinct(&|_| true),
            "a_users" => distinct(&|e| e.k.as_deref() == Some("a")),
            other => unreachable!("no expectation for {other}"),
        }
    }

    /// Run the pipeline over every metric; when the data holds something
    /// that may fail the run, run again over the metrics it cannot touch.
    pub(super) fn check(&self, stats: &mut DataStats) -> Result<(), String> {
        let all: Vec<&DataMetric> = DATA_METRICS.iter().collect();
        let dirty = self.dirt();
        self.run_and_compare(&all, &dirty, stats)?;
        if self.population().is_some() && (self.bounds().0.is_some()) && !dirty.is_empty() {
            let safe: Vec<&DataMetric> = DATA_METRICS
                .iter()
                .filter(|m| !dirty.contains(&m.risk))
                .collect();
            self.run_and_compare(&safe, &BTreeSet::new(), stats)
                .map_err(|e| format!("rerun over the metrics the data cannot fail: {e}"))?;
        }
        Ok(())
    }

    /// Which kinds of metric the data may fail anywhere in the file: a bad
    /// float in any row, an integer sum or product beyond 64 bits or a float
    /// sum beyond the decimal for any key's window (orphans and null keys too).
    pub(super) fn dirt(&self) -> BTreeSet<Risk> {
        let mut dirt = BTreeSet::new();
        if self.events.iter().any(|e| e.x.is_some_and(bad_float)) {
            dirt.insert(Risk::FloatSum);
        }
        let keys: BTreeSet<Option<&str>> = self.events.iter().map(|e| e.key.as_deref()).collect();
        for key in keys {
            for metric in DATA_METRICS {
                match self.expected(key, metric) {
                    Want::Fail(_) | Want::FloatOrFail(..) => {
                        dirt.insert(metric.risk);
                    }
                    _ => {}
                }
            }
        }
        dirt
    }

    /// One run over `metrics` with `commands::run`, then its scorecard
    /// against the expectations.
    pub(super) fn run_and_compare(
        &self,
        metrics: &[&DataMetric],
        dirt: &BTreeSet<Risk>,
        stats: &mut DataStats,
    ) -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        self.write(dir.path());
        let pipeline = self.pipeline(metrics);
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, &pipeline).map_err(|e| e.to_string())?;
        let options = RunOptions {
            as_of: Some(self.as_of),
            out: Some(dir.path().join("out")),
            threads: Some(self.threads),
            ..RunOptions::default()
        };
        let report = commands::run(&path, &options, &|_| {});
        report_sound("run", &report).map_err(|e| format!("{e}\n{pipeline}"))?;

        // Which codes the run may stop with, and whether it must.
        let mut must: BTreeSet<Code> = BTreeSet::new();
        let mut may: BTreeSet<Code> = BTreeSet::new();
        let population = self.population();
        if population.is_none() {
            must.insert(Code::SchemaMismatch);
        }
        if self.bounds().0.is_none() && metrics.iter().any(|m| m.over == Over::Window) {
            must.insert(Code::RunFailed);
        }
        for risk in dirt {
            if metrics.iter().any(|m| m.risk == *risk) {
                may.extend([Code::SchemaMismatch, Code::OutOfRange]);
            }
        }
        let mut expected: BTreeMap<(String, &str), Want> = BTreeMap::new();
        for key in population.iter().flatten() {
            for metric in metrics {
                let want = self.expected(Some(key), metric);
                match &want {
                    Want::Fail(code) => {
                        must.insert(*code);
                    }
                    Want::FloatOrFail(..) => {
                        may.extend([Code::SchemaMismatch, Code::OutOfRange]);
                    }
                    _ => {}
                }
                expected.insert((key.clone(), metric.name), want);
            }
        }

        if report.exit == Exit::Error {
            stats.runs_failed += 1;
            let first = &report.diagnostics[0];
            *stats.failures.entry(first.code.as_str()).or_default() += 1;
            let allowed = report
                .diagnostics
                .iter()
                .all(|d| must.contains(&d.code) || may.contains(&d.code));
            return if allowed {
                Ok(())
            } else {
                Err(format!(
                    "the run failed with {}, but the data allows only {:?} (must: {:?})\n{pipeline}",
                    codes_of(&report),
                    may.union(&must).map(|c| c.as_str()).collect::<Vec<_>>(),
                    must.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                ))
            };
        }
        stats.runs_ok += 1;
        if !must.is_empty() {
            return Err(format!(
                "the run succeeded, but the docs say it must fail with {:?}\n{}\n{pipeline}",
                must.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                self.mismatches(&expected, &read_scorecard(dir.path(), self.as_of)?)
                    .join("\n"),
            ));
        }
        let card = read_scorecard(dir.path(), self.as_of)?;
        let population: BTreeSet<&String> = population.iter().flatten().collect();
        let keys: BTreeSet<&String> = card.keys().collect();
        if keys != population {
            return Err(format!(
                "the scorecard's keys {keys:?} are not the population {population:?}"
            ));
        }
        stats.values += expected.len();
        stats.beyond_decimal += expected
            .values()
            .filter(|w| matches!(w, Want::FloatOrFail(..)))
            .count();
        let mismatches = self.mismatches(&expected, &card);
        if mismatches.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "values differ from the independent computation:\n{}\n{pipeline}",
                mismatches.join("\n")
            ))
        }
    }

    /// Every expected value the scorecard does not hold.
    pub(super) fn mismatches(
        &self,
        expected: &BTreeMap<(String, &str), Want>,
        card: &BTreeMap<String, BTreeMap<String, Cell>>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for ((key, metric), want) in expected {
            let got = card.get(key).and_then(|row| row.get(*metric));
            let same = match (want, got) {
                (Want::Int(w), Some(Cell::Int(g))) => w == g,
                (Want::Float(None, _), Some(Cell::Float(None))) => true,
                (
                    Want::Float(Some(w), tolerance) | Want::FloatOrFail(w, tolerance),
                    Some(Cell::Float(Some(g))),
                ) => (w - g).abs() <= *tolerance,
                _ => false,
            };
            if !same {
                out.push(format!(
                    "  {key:?}.{metric}: expected {want:?}, got {got:?}"
                ));
            }
        }
        out
    }
}

/// A time for an event row: the window's edges and their neighbours,
/// inside, before and after it, year 1 and 9999, the extremes of a
/// 64-bit microsecond timestamp, or null.
pub(super) fn random_time(rng: &mut ChaCha8Rng, lo: Option<i64>, hi: i64) -> Option<i64> {
    let lo = lo.unwrap_or(i64::MIN);
    let inside = |rng: &mut ChaCha8Rng| {
        if lo < hi {
            rng.random_range(lo..hi)
        } else {
            lo
        }
    };
    Some(match rng.random_range(0..16) {
        0 => return None,
        1 => lo.saturating_sub(1),
        2 => lo,
        3 => lo.saturating_add(1),
        4 => hi - 1,
        5 => hi,
        6 => hi.saturating_add(1),
        7 => YEAR_1,
        8 => YEAR_9999_END,
        9 => [i64::MIN, i64::MAX, 0, -1][rng.random_range(0..4)],
        10 => lo.saturating_sub(rng.random_range(0..1_000_000_000_000)),
        11 => hi.saturating_add(rng.random_range(0..1_000_000_000_000)),
        _ => inside(rng),
    })
}

/// An integer: extremes with probability `extreme`, else small, or null.
pub(super) fn random_v(rng: &mut ChaCha8Rng, extreme: f64) -> Option<i64> {
    if rng.random_bool(0.1) {
        return None;
    }
    if rng.random_bool(extreme) {
        return Some(
            [
                i64::MIN,
                i64::MAX,
                i64::MAX - 1,
                i64::MIN + 1,
                4_611_686_018_427_387_904,
            ][rng.random_range(0..5)],
        );
    }
    Some(match rng.random_range(0..4) {
        0 => [0, -1, 1][rng.random_range(0..3)],
        1 => rng.random_range(-1_000_000_000_000..1_000_000_000_000),
        _ => rng.random_range(-100..100),
    })
}

/// A float: NaN, infinities or too-large values with probability `bad`,
/// often values near the decimal's limit, mostly of the sign of `huge`
/// (none when it is 0), else ordinary and awkward ones (tiny, negative
/// zero, beyond 18 places), or null.
pub(super) fn random_x(rng: &mut ChaCha8Rng, bad: f64, huge: f64) -> Option<f64> {
    if rng.random_bool(0.1) {
        return None;
    }
    if rng.random_bool(bad) {
        return Some(
            [
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                1e59,
                -2e60,
                f64::MAX,
            ][rng.random_range(0..6)],
        );
    }
    if huge != 0.0 && rng.random_bool(0.7) {
        return Some(huge * [9.9e57, 9.9e57, 5e57, 1e57][rng.random_range(0..4)]);
    }
    Some(match rng.random_range(0..4) {
        0 => [
            0.0,
            -0.0,
            0.1,
            -0.1,
            1.5,
            1e-19,
            5e-19,
            1.5e-18,
            f64::MIN_POSITIVE,
            1e15 + 0.5,
            123_456.789,
        ][rng.random_range(0..11)],
        1 => rng.random_range(-1e6..1e6),
        _ => f64::from(rng.random_range(-800..800i32)) / 8.0,
    })
}

/// A value read back from a scorecard.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cell {
    Int(Option<i64>),
    Float(Option<f64>),
}

/// The scorecard written for `as_of` under `dir/out`, by key and column.
pub(super) fn read_scorecard(
    dir: &Path,
    as_of: NaiveDate,
) -> Result<BTreeMap<String, BTreeMap<String, Cell>>, String> {
    use datafusion::arrow::compute::cast;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let path = dir
        .join("out")
        .join(format!("as_of={as_of}"))
        .join("scorecard.parquet");
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?;
    let mut card = BTreeMap::new();
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        let keys = cast(batch.column(0), &DataType::Utf8).map_err(|e| e.to_string())?;
        let keys = keys
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or("keys are not text")?;
        for row in 0..batch.num_rows() {
            let mut cells = BTreeMap::new();
            for (field, column) in batch.schema().fields().iter().zip(batch.columns()).skip(1) {
                let cell = match column.data_type() {
                    DataType::Int64 => {
                        let a = column
                            .as_any()
                            .downcast_ref::<Int64Array>()
                            .ok_or("int64")?;
                        Cell::Int((!a.is_null(row)).then(|| a.value(row)))
                    }
                    DataType::Float64 => {
                        let a = column
                            .as_any()
                            .downcast_ref::<Float64Array>()
                            .ok_or("float64")?;
                        Cell::Float((!a.is_null(row)).then(|| a.value(row)))
                    }
                    DataType::Date32 if field.name() == "as_of" => {
                        let night = column
                            .as_any()
                            .downcast_ref::<Date32Array>()
                            .and_then(|a| a.value_as_date(row));
                        if night != Some(as_of) {
                            return Err(format!("as_of is {night:?}, not {as_of}"));
                        }
                        continue;
                    }
                    other => return Err(format!("column {} is a {other}", field.name())),
                };
                cells.insert(field.name().clone(), cell);
            }
            card.insert(keys.value(row).to_string(), cells);
        }
    }
    Ok(card)
}
