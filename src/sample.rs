//! `vane sample-data`: a deterministic, realistic synthetic book of business.
//!
//! Every account draws from its own seeded random stream (seed, account,
//! table), so the output is byte-identical for the same arguments however
//! the work is chunked. Events are written month by month in bounded
//! batches, so 50M+ events need no more memory than a few batches.
//!
//! Outcomes follow the signals, so a backtest has something to find: a
//! quarter of the accounts (profiles `Declining` and `Idle`) run into
//! trouble at some point. From then on their usage fades or stops, fewer
//! features are used, NPS answers fall, tickets and escalations come more
//! often, and their own deliveries miss more (DIFOT, cycle time). Most of
//! them contract and then churn 60–150 days later; the rest recover. A few
//! other accounts churn without warning. Ticket resolution time is drawn
//! the same way for everyone: the one measured signal with no effect.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use datafusion::arrow::array::{
    ArrayRef, Date32Builder, Float64Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::diagnostics::{Code, Diagnostic};

/// What to generate.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    /// Output folder.
    pub out: PathBuf,
    /// Number of accounts.
    pub accounts: usize,
    /// Mean product events per account over the whole history.
    pub events_per_account: usize,
    /// Random seed.
    pub seed: u64,
    /// The last day of data (exclusive): the natural as-of for the sample.
    pub end: NaiveDate,
    /// Days of history before `end`.
    pub days: i64,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct SampleSummary {
    /// `(table, rows)` in writing order.
    pub tables: Vec<(String, usize)>,
}

const SEGMENTS: &[(&str, f64)] = &[("enterprise", 0.15), ("mid_market", 0.35), ("smb", 0.5)];
const REGIONS: &[&str] = &["amer", "emea", "apac"];
const CSMS: &[&str] = &[
    "ana.lopez",
    "ben.okafor",
    "chen.wei",
    "dana.kim",
    "eli.novak",
    "fatima.haddad",
    "gus.moreau",
    "hana.sato",
];
const NAME_A: &[&str] = &[
    "Acme",
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Hooli",
    "Vandelay",
    "Wonka",
    "Gringotts",
    "Oceanic",
    "Aperture",
];
const NAME_B: &[&str] = &[
    "Logistics",
    "Foods",
    "Retail",
    "Health",
    "Freight",
    "Pharma",
    "Textiles",
    "Motors",
    "Energy",
    "Labs",
    "Supply",
    "Outfitters",
];
const FEATURES: &[&str] = &[
    "dashboards",
    "alerts",
    "forecasting",
    "routing",
    "inventory",
    "billing",
    "api",
    "sso",
    "exports",
    "workflows",
    "mobile",
    "audit",
];
const EVENT_TYPES: &[(&str, f64)] = &[
    ("login", 0.35),
    ("feature_use", 0.4),
    ("report_created", 0.05),
    ("export", 0.1),
    ("admin", 0.1),
];

/// The share of troubled accounts that churn, 60–150 days after their
/// trouble starts; the rest recover as long after it (noise: saved
/// accounts).
const TROUBLED_CHURN: f64 = 0.7;
/// The share of other accounts that churn anyway, without warning (noise:
/// an acquisition, a budget cut).
const SURPRISE_CHURN: f64 = 0.03;

/// How an account behaves over time.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Profile {
    Healthy,
    Declining,
    Idle,
    Growing,
}

#[derive(Debug, Clone)]
struct Account {
    id: String,
    name: String,
    segment: &'static str,
    region: &'static str,
    csm: &'static str,
    seats: i64,
    arr: f64,
    signed_at: NaiveDateTime,
    provisioned_at: Option<NaiveDateTime>,
    go_live_at: Option<NaiveDateTime>,
    renewal_date: NaiveDate,
    churned_at: Option<NaiveDateTime>,
    profile: Profile,
    /// When a declining or idle account starts to go wrong: from then on
    /// its usage fades, its NPS falls, its tickets and missed deliveries
    /// rise — and most such accounts churn some weeks later.
    trouble_from: Option<NaiveDateTime>,
    /// When a troubled account that did not churn recovered.
    recovered_at: Option<NaiveDateTime>,
    has_orders: bool,
}

fn rng_for(seed: u64, account: usize, stream: u64) -> ChaCha8Rng {
    let mixed = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((account as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9))
        .wrapping_add(stream.wrapping_mul(0x94D0_49BB_1331_11EB));
    ChaCha8Rng::seed_from_u64(mixed)
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn pick_str(rng: &mut ChaCha8Rng, items: &[&'static str]) -> &'static str {
    items[rng.random_range(0..items.len())]
}

fn pick_weighted(rng: &mut ChaCha8Rng, items: &[(&'static str, f64)]) -> &'static str {
    let mut x: f64 = rng.random();
    for (item, weight) in items {
        if x < *weight {
            return item;
        }
        x -= weight;
    }
    items[items.len() - 1].0
}

fn midnight(date: NaiveDate) -> NaiveDateTime {
    date.and_hms_opt(0, 0, 0).unwrap_or_default()
}

fn random_time(rng: &mut ChaCha8Rng, from: NaiveDateTime, to: NaiveDateTime) -> NaiveDateTime {
    let span = (to - from).num_seconds().max(1);
    from + Duration::seconds(rng.random_range(0..span))
}

fn micros(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

fn days(d: NaiveDate) -> i32 {
    crate::plan::exprs::days_since_epoch(d) as i32
}

fn account(options: &SampleOptions, index: usize) -> Account {
    let mut rng = rng_for(options.seed, index, 0);
    let end = midnight(options.end);
    let segment = pick_weighted(&mut rng, SEGMENTS);
    let seats = match segment {
        "enterprise" => rng.random_range(50..200),
        "mid_market" => rng.random_range(15..50),
        _ => rng.random_range(3..15),
    };
    let price = match segment {
        "enterprise" => 1200.0,
        "mid_market" => 900.0,
        _ => 600.0,
    };
    let signed_at = random_time(
        &mut rng,
        end - Duration::days(3 * 365),
        end - Duration::days(10),
    );
    let stalled = rng.random_bool(0.04) && (end - signed_at).num_days() < 120;
    let provisioned_at =
        (!stalled).then(|| signed_at + Duration::hours(rng.random_range(12..24 * 20)));
    let go_live_at = provisioned_at.map(|p| p + Duration::hours(rng.random_range(24..24 * 60)));
    let mut renewal = NaiveDate::from_ymd_opt(
        options.end.year(),
        signed_at.month(),
        signed_at.day().min(28),
    )
    .unwrap_or(options.end);
    while renewal < options.end {
        renewal = renewal
            .with_year(renewal.year() + 1)
            .unwrap_or(renewal + Duration::days(365));
    }
    let profile = match rng.random_range(0..100) {
        0..55 => Profile::Healthy,
        55..75 => Profile::Growing,
        75..92 => Profile::Declining,
        _ => Profile::Idle,
    };
    let window_start = end - Duration::days(options.days);
    let trouble_from = match (profile, go_live_at) {
        (Profile::Declining | Profile::Idle, Some(live)) => {
            let from = (window_start - Duration::days(30)).max(live + Duration::days(30));
            let to = end + Duration::days(60);
            (from < to).then(|| random_time(&mut rng, from, to))
        }
        _ => None,
    };
    let (churned_at, recovered_at) = match trouble_from {
        Some(onset) => {
            let after = onset
                + Duration::days(rng.random_range(60..150))
                + Duration::seconds(rng.random_range(0..86_400));
            if rng.random_bool(TROUBLED_CHURN) {
                (Some(after), None)
            } else {
                (None, Some(after))
            }
        }
        None => {
            let surprise = rng.random_bool(SURPRISE_CHURN) && (end - signed_at).num_days() > 200;
            let at = surprise.then(|| {
                random_time(
                    &mut rng,
                    signed_at + Duration::days(180),
                    end - Duration::days(1),
                )
            });
            (at, None)
        }
    };
    let churned_at =
        churned_at.filter(|churn| *churn < end && *churn > signed_at + Duration::days(90));
    let has_orders = segment != "smb" || rng.random_bool(0.3);
    Account {
        id: format!("A{:05}", index + 1),
        name: format!(
            "{} {} {}",
            pick(&mut rng, NAME_A),
            pick(&mut rng, NAME_B),
            index + 1
        ),
        segment,
        region: pick_str(&mut rng, REGIONS),
        csm: pick_str(&mut rng, CSMS),
        seats,
        arr: (seats as f64 * price * rng.random_range(0.8..1.2)).round(),
        signed_at,
        provisioned_at,
        go_live_at,
        renewal_date: renewal,
        churned_at,
        profile,
        trouble_from,
        recovered_at,
        has_orders,
    }
}

/// The schema of each table, so the docs and the tests can name them.
fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, None)
}

fn schema(fields: Vec<(&str, DataType, bool)>) -> SchemaRef {
    Arc::new(Schema::new(
        fields
            .into_iter()
            .map(|(n, t, null)| Field::new(n, t, null))
            .collect::<Vec<_>>(),
    ))
}

fn writer(path: &Path, schema: &SchemaRef) -> Result<ArrowWriter<File>, Diagnostic> {
    let file = File::create(path).map_err(|e| io_error(path, &e.to_string()))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(1 << 20))
        .set_created_by("vane sample-data".to_string())
        .build();
    ArrowWriter::try_new(file, schema.clone(), Some(properties))
        .map_err(|e| io_error(path, &e.to_string()))
}

fn io_error(path: &Path, message: &str) -> Diagnostic {
    Diagnostic::error(
        Code::OutputFailed,
        format!("cannot write {}: {message}", path.display()),
    )
    .help("check that the output folder is writable and the disk has room")
}

fn write_batch(
    writer: &mut ArrowWriter<File>,
    path: &Path,
    schema: &SchemaRef,
    columns: Vec<ArrayRef>,
) -> Result<(), Diagnostic> {
    let batch = RecordBatch::try_new(schema.clone(), columns)
        .map_err(|e| io_error(path, &e.to_string()))?;
    writer
        .write(&batch)
        .map_err(|e| io_error(path, &e.to_string()))
}

fn finish(writer: ArrowWriter<File>, path: &Path) -> Result<(), Diagnostic> {
    writer
        .close()
        .map(|_| ())
        .map_err(|e| io_error(path, &e.to_string()))
}

fn write_accounts(options: &SampleOptions, accounts: &[Account]) -> Result<usize, Diagnostic> {
    let path = options.out.join("accounts.parquet");
    let schema = schema(vec![
        ("account_id", DataType::Utf8, false),
        ("name", DataType::Utf8, false),
        ("segment", DataType::Utf8, false),
        ("region", DataType::Utf8, false),
        ("csm", DataType::Utf8, false),
        ("seats", DataType::Int64, false),
        ("arr", DataType::Float64, false),
        ("signed_at", ts(), false),
        ("provisioned_at", ts(), true),
        ("go_live_at", ts(), true),
        ("renewal_date", DataType::Date32, false),
        ("churned_at", ts(), true),
    ]);
    let mut w = writer(&path, &schema)?;
    let mut id = StringBuilder::new();
    let mut name = StringBuilder::new();
    let mut segment = StringBuilder::new();
    let mut region = StringBuilder::new();
    let mut csm = StringBuilder::new();
    let mut seats = Int64Builder::new();
    let mut arr = Float64Builder::new();
    let mut signed = TimestampMicrosecondBuilder::new();
    let mut provisioned = TimestampMicrosecondBuilder::new();
    let mut live = TimestampMicrosecondBuilder::new();
    let mut renewal = Date32Builder::new();
    let mut churned = TimestampMicrosecondBuilder::new();
    for a in accounts {
        id.append_value(&a.id);
        name.append_value(&a.name);
        segment.append_value(a.segment);
        region.append_value(a.region);
        csm.append_value(a.csm);
        seats.append_value(a.seats);
        arr.append_value(a.arr);
        signed.append_value(micros(a.signed_at));
        provisioned.append_option(a.provisioned_at.map(micros));
        live.append_option(a.go_live_at.map(micros));
        renewal.append_value(days(a.renewal_date));
        churned.append_option(a.churned_at.map(micros));
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(name.finish()),
        Arc::new(segment.finish()),
        Arc::new(region.finish()),
        Arc::new(csm.finish()),
        Arc::new(seats.finish()),
        Arc::new(arr.finish()),
        Arc::new(signed.finish()),
        Arc::new(provisioned.finish()),
        Arc::new(live.finish()),
        Arc::new(renewal.finish()),
        Arc::new(churned.finish()),
    ];
    write_batch(&mut w, &path, &schema, columns)?;
    finish(w, &path)?;
    Ok(accounts.len())
}

/// Days since the account's trouble started, when it has.
fn days_in_trouble(a: &Account, at: NaiveDateTime) -> Option<f64> {
    let onset = a.trouble_from?;
    let recovered = a.recovered_at.is_some_and(|r| at >= r);
    (at >= onset && !recovered).then(|| (at - onset).num_seconds() as f64 / 86_400.0)
}

/// Relative activity of an account at a time: healthy accounts hold
/// steady, growing ones rise over the last two months, declining ones fade
/// to a quarter over the 60 days after their trouble starts, idle ones stop
/// within three weeks of it.
fn activity(a: &Account, at: NaiveDateTime, end: NaiveDateTime) -> f64 {
    let days_left = (end - at).num_days() as f64;
    match (a.profile, days_in_trouble(a, at)) {
        (Profile::Growing, _) => 1.0 + (60.0 - days_left.min(60.0)) / 60.0,
        (Profile::Declining, Some(days)) => (1.0 - days / 80.0).max(0.25),
        (Profile::Idle, Some(days)) => (1.0 - days / 21.0).max(0.0),
        _ => 1.0,
    }
}

fn live_span(
    a: &Account,
    start: NaiveDateTime,
    end: NaiveDateTime,
) -> Option<(NaiveDateTime, NaiveDateTime)> {
    let from = a.go_live_at?.max(start);
    let to = a.churned_at.unwrap_or(end).min(end);
    (from < to).then_some((from, to))
}

struct EventColumns {
    account: StringBuilder,
    user: StringBuilder,
    time: TimestampMicrosecondBuilder,
    kind: StringBuilder,
    feature: StringBuilder,
    rows: usize,
}

impl EventColumns {
    fn new() -> Self {
        EventColumns {
            account: StringBuilder::new(),
            user: StringBuilder::new(),
            time: TimestampMicrosecondBuilder::new(),
            kind: StringBuilder::new(),
            feature: StringBuilder::new(),
            rows: 0,
        }
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        self.rows = 0;
        vec![
            Arc::new(self.account.finish()),
            Arc::new(self.user.finish()),
            Arc::new(self.time.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.feature.finish()),
        ]
    }
}

/// Events, one Parquet file per calendar month under `events/`.
fn write_events(options: &SampleOptions, accounts: &[Account]) -> Result<usize, Diagnostic> {
    let dir = options.out.join("events");
    std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, &e.to_string()))?;
    let schema = schema(vec![
        ("account_id", DataType::Utf8, false),
        ("user_id", DataType::Utf8, false),
        ("event_time", ts(), false),
        ("event_type", DataType::Utf8, false),
        ("feature", DataType::Utf8, true),
    ]);
    let end = midnight(options.end);
    let start = end - Duration::days(options.days);
    // Larger accounts have more users and so more events; the mean per
    // account stays `events_per_account`.
    let mean_seats = accounts.iter().map(|a| a.seats as f64).sum::<f64>() / accounts.len() as f64;
    let per_seat_day = options.events_per_account as f64 / options.days as f64 / mean_seats;
    let mut total = 0;
    let mut month_start =
        midnight(NaiveDate::from_ymd_opt(start.year(), start.month(), 1).unwrap_or(options.end));
    while month_start < end {
        let next = if month_start.month() == 12 {
            NaiveDate::from_ymd_opt(month_start.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(month_start.year(), month_start.month() + 1, 1)
        }
        .map(midnight)
        .unwrap_or(end);
        let path = dir.join(format!("events-{}.parquet", month_start.format("%Y-%m")));
        let mut w = writer(&path, &schema)?;
        let mut cols = EventColumns::new();
        for (index, a) in accounts.iter().enumerate() {
            let Some((from, to)) = live_span(a, start.max(month_start), end.min(next)) else {
                continue;
            };
            let mut rng = rng_for(
                options.seed,
                index,
                1000 + month_start.month() as u64 + 12 * month_start.year() as u64,
            );
            let users = ((a.seats as f64) * rng.random_range(0.3..0.95)).max(1.0) as usize;
            let mut day = from;
            while day < to {
                let day_end = (day + Duration::days(1)).min(to);
                let rate = per_seat_day
                    * a.seats as f64
                    * activity(a, day, end)
                    * (day_end - day).num_seconds() as f64
                    / 86_400.0;
                let n = poisson(&mut rng, rate);
                for _ in 0..n {
                    let kind = pick_weighted(&mut rng, EVENT_TYPES);
                    // Active users concentrate on a core that shrinks for declining accounts.
                    let pool =
                        ((users as f64) * activity(a, day, end).clamp(0.2, 1.0)).max(1.0) as usize;
                    cols.account.append_value(&a.id);
                    cols.user
                        .append_value(format!("{}-u{:04}", a.id, rng.random_range(0..pool)));
                    cols.time
                        .append_value(micros(random_time(&mut rng, day, day_end)));
                    cols.kind.append_value(kind);
                    if kind == "feature_use" {
                        let breadth = if days_in_trouble(a, day).is_some() {
                            4
                        } else {
                            FEATURES.len()
                        };
                        cols.feature
                            .append_value(FEATURES[rng.random_range(0..breadth)]);
                    } else {
                        cols.feature.append_null();
                    }
                    cols.rows += 1;
                    total += 1;
                }
                if cols.rows >= 65_536 {
                    write_batch(&mut w, &path, &schema, cols.finish())?;
                }
                day = day_end;
            }
        }
        if cols.rows > 0 {
            write_batch(&mut w, &path, &schema, cols.finish())?;
        }
        finish(w, &path)?;
        month_start = next;
    }
    Ok(total)
}

/// A Poisson draw (Knuth for small rates, a rounded normal for large ones).
fn poisson(rng: &mut ChaCha8Rng, rate: f64) -> usize {
    if rate <= 0.0 {
        return 0;
    }
    if rate > 30.0 {
        let u1: f64 = rng.random::<f64>().max(1e-12);
        let u2: f64 = rng.random();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        return (rate + z * rate.sqrt()).round().max(0.0) as usize;
    }
    let limit = (-rate).exp();
    let mut product: f64 = rng.random();
    let mut n = 0;
    while product > limit {
        product *= rng.random::<f64>();
        n += 1;
    }
    n
}

/// Writes one table and returns its row count.
type TableWriter = fn(&SampleOptions, &[Account]) -> Result<usize, Diagnostic>;

/// A table written in one go from rows, for the small tables.
struct Table {
    name: &'static str,
    schema: SchemaRef,
}

fn write_subscriptions(options: &SampleOptions, accounts: &[Account]) -> Result<usize, Diagnostic> {
    let table = Table {
        name: "subscription_events.parquet",
        schema: schema(vec![
            ("account_id", DataType::Utf8, false),
            ("event_time", ts(), false),
            ("kind", DataType::Utf8, false),
            ("amount_usd", DataType::Float64, false),
        ]),
    };
    let end = midnight(options.end);
    let (mut id, mut time, mut kind, mut amount) = (
        StringBuilder::new(),
        TimestampMicrosecondBuilder::new(),
        StringBuilder::new(),
        Float64Builder::new(),
    );
    let mut rows = 0;
    for (index, a) in accounts.iter().enumerate() {
        let mut rng = rng_for(options.seed, index, 2);
        let mut anniversary = a.signed_at + Duration::days(365);
        let stop = a.churned_at.unwrap_or(end).min(end);
        while anniversary < stop {
            id.append_value(&a.id);
            time.append_value(micros(anniversary));
            kind.append_value("renewal");
            amount.append_value(a.arr);
            rows += 1;
            anniversary += Duration::days(365);
        }
        let mut changes: Vec<(NaiveDateTime, &str, f64)> = Vec::new();
        let life = |rng: &mut ChaCha8Rng| {
            random_time(rng, a.signed_at, stop.max(a.signed_at + Duration::days(1)))
        };
        if matches!(a.profile, Profile::Growing | Profile::Healthy) {
            for _ in 0..rng.random_range(0..3) {
                let at = life(&mut rng);
                changes.push((at, "expansion", rng.random_range(0.05..0.3)));
            }
        }
        if rng.random_bool(0.08) {
            let at = life(&mut rng);
            changes.push((at, "contraction", rng.random_range(0.05..0.25)));
        }
        if let Some(onset) = a.trouble_from
            && rng.random_bool(0.6)
        {
            let at = onset + Duration::hours(rng.random_range(24 * 10..24 * 100));
            let share = rng.random_range(0.1..0.4);
            if at < stop {
                changes.push((at, "contraction", share));
            }
        }
        for (at, k, share) in changes {
            id.append_value(&a.id);
            time.append_value(micros(at.min(end - Duration::seconds(1))));
            kind.append_value(k);
            amount.append_value((a.arr * share).round());
            rows += 1;
        }
        if let Some(churned) = a.churned_at {
            id.append_value(&a.id);
            time.append_value(micros(churned));
            kind.append_value("churn");
            amount.append_value(a.arr);
            rows += 1;
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(time.finish()),
        Arc::new(kind.finish()),
        Arc::new(amount.finish()),
    ];
    write_table(options, &table, columns)?;
    Ok(rows)
}

fn write_table(
    options: &SampleOptions,
    table: &Table,
    columns: Vec<ArrayRef>,
) -> Result<(), Diagnostic> {
    let path = options.out.join(table.name);
    let mut w = writer(&path, &table.schema)?;
    write_batch(&mut w, &path, &table.schema, columns)?;
    finish(w, &path)
}

fn write_tickets(options: &SampleOptions, accounts: &[Account]) -> Result<usize, Diagnostic> {
    let table = Table {
        name: "tickets.parquet",
        schema: schema(vec![
            ("ticket_id", DataType::Utf8, false),
            ("account_id", DataType::Utf8, false),
            ("opened_at", ts(), false),
            ("closed_at", ts(), true),
            ("priority", DataType::Utf8, false),
        ]),
    };
    let end = midnight(options.end);
    let start = end - Duration::days(options.days);
    let (mut tid, mut id, mut opened, mut closed, mut priority) = (
        StringBuilder::new(),
        StringBuilder::new(),
        TimestampMicrosecondBuilder::new(),
        TimestampMicrosecondBuilder::new(),
        StringBuilder::new(),
    );
    let mut rows = 0;
    for (index, a) in accounts.iter().enumerate() {
        let Some((from, to)) = live_span(a, start, end) else {
            continue;
        };
        let mut rng = rng_for(options.seed, index, 3);
        // Tickets arrive four times as often once trouble starts, and more
        // of them are escalations: drawn at the troubled rate and thinned
        // to a quarter outside trouble.
        let n = poisson(&mut rng, 4.0 * (to - from).num_days() as f64 / 45.0);
        for k in 0..n {
            let at = random_time(&mut rng, from, to);
            let troubled = days_in_trouble(a, at).is_some();
            let kept = troubled || rng.random_bool(0.25);
            let escalated = if troubled { 50 } else { 28 };
            let p = match rng.random_range(0..100) {
                0..6 => "p1",
                x if x < escalated => "p2",
                _ => "p3",
            };
            // Resolution time has nothing to do with trouble: the one
            // measured signal with no effect on the outcomes.
            let resolution = Duration::minutes(
                (rng.random::<f64>().max(1e-9).ln() * -60.0 * 24.0 * 4.0) as i64 + 30,
            );
            if !kept {
                continue;
            }
            let close = at + resolution;
            tid.append_value(format!("{}-T{k:04}", a.id));
            id.append_value(&a.id);
            opened.append_value(micros(at));
            closed.append_option((close < end && rng.random_bool(0.93)).then(|| micros(close)));
            priority.append_value(p);
            rows += 1;
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(tid.finish()),
        Arc::new(id.finish()),
        Arc::new(opened.finish()),
        Arc::new(closed.finish()),
        Arc::new(priority.finish()),
    ];
    write_table(options, &table, columns)?;
    Ok(rows)
}

fn write_nps(options: &SampleOptions, accounts: &[Account]) -> Result<usize, Diagnostic> {
    let table = Table {
        name: "nps.parquet",
        schema: schema(vec![
            ("account_id", DataType::Utf8, false),
            ("respondent", DataType::Utf8, false),
            ("answered_at", ts(), false),
            ("score", DataType::Int64, false),
        ]),
    };
    let end = midnight(options.end);
    let start = end - Duration::days(options.days);
    let (mut id, mut who, mut at, mut score) = (
        StringBuilder::new(),
        StringBuilder::new(),
        TimestampMicrosecondBuilder::new(),
        Int64Builder::new(),
    );
    let mut rows = 0;
    for (index, a) in accounts.iter().enumerate() {
        let Some((from, to)) = live_span(a, start, end) else {
            continue;
        };
        let mut rng = rng_for(options.seed, index, 4);
        let n = poisson(&mut rng, (to - from).num_days() as f64 / 30.0);
        for _ in 0..n {
            let answered = random_time(&mut rng, from, to);
            let mean = match (a.profile, days_in_trouble(a, answered)) {
                (Profile::Growing, _) => 8.5,
                (Profile::Declining, Some(_)) => 5.0,
                (Profile::Idle, Some(_)) => 4.0,
                _ => 7.8,
            };
            let s = (mean + rng.random_range(-3.0..3.0f64))
                .round()
                .clamp(0.0, 10.0) as i64;
            id.append_value(&a.id);
            who.append_value(format!("{}-u{:04}", a.id, rng.random_range(0..a.seats)));
            at.append_value(micros(answered));
            score.append_value(s);
            rows += 1;
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(who.finish()),
        Arc::new(at.finish()),
        Arc::new(score.finish()),
    ];
    write_table(options, &table, columns)?;
    Ok(rows)
}

fn write_orders(options: &SampleOptions, accounts: &[Account]) -> Result<usize, Diagnostic> {
    let table = Table {
        name: "orders.parquet",
        schema: schema(vec![
            ("order_id", DataType::Utf8, false),
            ("account_id", DataType::Utf8, false),
            ("ordered_at", ts(), false),
            ("promised_at", ts(), false),
            ("delivered_at", ts(), true),
            ("ordered_qty", DataType::Int64, false),
            ("delivered_qty", DataType::Int64, false),
        ]),
    };
    let end = midnight(options.end);
    let start = end - Duration::days(options.days);
    let (mut oid, mut id, mut ordered, mut promised, mut delivered, mut oqty, mut dqty) = (
        StringBuilder::new(),
        StringBuilder::new(),
        TimestampMicrosecondBuilder::new(),
        TimestampMicrosecondBuilder::new(),
        TimestampMicrosecondBuilder::new(),
        Int64Builder::new(),
        Int64Builder::new(),
    );
    let mut rows = 0;
    for (index, a) in accounts.iter().enumerate() {
        if !a.has_orders {
            continue;
        }
        let Some((from, to)) = live_span(a, start, end) else {
            continue;
        };
        let mut rng = rng_for(options.seed, index, 5);
        let reliability = rng.random_range(0.75..0.99);
        let n = poisson(&mut rng, (to - from).num_days() as f64 * 0.6);
        for k in 0..n {
            let at = random_time(&mut rng, from, to);
            let promise = at + Duration::days(rng.random_range(2..10));
            // Trouble shows in the customer's own deliveries too.
            let troubled = days_in_trouble(a, promise).is_some();
            let on_time = if troubled {
                reliability - 0.25
            } else {
                reliability
            };
            let late = !rng.random_bool(on_time);
            let delivery = promise
                + Duration::hours(if late {
                    rng.random_range(1..if troubled { 360 } else { 120 })
                } else {
                    -rng.random_range(0..72)
                });
            let qty = rng.random_range(1..500);
            let short = rng.random_bool(if troubled { 0.12 } else { 0.04 });
            oid.append_value(format!("{}-O{k:05}", a.id));
            id.append_value(&a.id);
            ordered.append_value(micros(at));
            promised.append_value(micros(promise));
            delivered.append_option(
                (delivery < end && rng.random_bool(0.985)).then(|| micros(delivery)),
            );
            oqty.append_value(qty);
            dqty.append_value(if short {
                qty - rng.random_range(1..=qty.max(1))
            } else {
                qty
            });
            rows += 1;
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(oid.finish()),
        Arc::new(id.finish()),
        Arc::new(ordered.finish()),
        Arc::new(promised.finish()),
        Arc::new(delivered.finish()),
        Arc::new(oqty.finish()),
        Arc::new(dqty.finish()),
    ];
    write_table(options, &table, columns)?;
    Ok(rows)
}

fn write_targets(options: &SampleOptions, accounts: &[Account]) -> Result<usize, Diagnostic> {
    let table = Table {
        name: "kpi_targets.parquet",
        schema: schema(vec![
            ("account_id", DataType::Utf8, false),
            ("kpi", DataType::Utf8, false),
            ("target", DataType::Float64, false),
            ("direction", DataType::Utf8, false),
            ("effective_from", DataType::Date32, false),
            ("effective_to", DataType::Date32, true),
        ]),
    };
    let (mut id, mut kpi, mut target, mut direction, mut from, mut to) = (
        StringBuilder::new(),
        StringBuilder::new(),
        Float64Builder::new(),
        StringBuilder::new(),
        Date32Builder::new(),
        Date32Builder::new(),
    );
    let mut rows = 0;
    for (index, a) in accounts.iter().enumerate() {
        if !a.has_orders {
            continue;
        }
        let mut rng = rng_for(options.seed, index, 6);
        let signed = a.signed_at.date();
        for (name, dir, low, high) in [
            ("difot", "higher", 0.85, 0.98),
            ("cycle_time_days", "lower", 4.0, 9.0),
        ] {
            let first = (rng.random_range(low..high) * 100.0f64).round() / 100.0;
            let revised = rng.random_bool(0.3);
            let change = options.end - Duration::days(rng.random_range(5..120));
            let change = change.max(signed + Duration::days(1));
            id.append_value(&a.id);
            kpi.append_value(name);
            target.append_value(first);
            direction.append_value(dir);
            from.append_value(days(signed));
            to.append_option(revised.then(|| days(change)));
            rows += 1;
            if revised {
                id.append_value(&a.id);
                kpi.append_value(name);
                target.append_value((rng.random_range(low..high) * 100.0f64).round() / 100.0);
                direction.append_value(dir);
                from.append_value(days(change));
                to.append_null();
                rows += 1;
            }
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(kpi.finish()),
        Arc::new(target.finish()),
        Arc::new(direction.finish()),
        Arc::new(from.finish()),
        Arc::new(to.finish()),
    ];
    write_table(options, &table, columns)?;
    Ok(rows)
}

/// Write the whole sample book of business under `options.out`.
pub fn generate(
    options: &SampleOptions,
    progress: &dyn Fn(&str),
) -> Result<SampleSummary, Diagnostic> {
    if options.accounts == 0 {
        return Err(
            Diagnostic::error(Code::InvalidArgument, "--accounts must be at least 1")
                .help("try --accounts 200"),
        );
    }
    if options.days < 31 {
        return Err(
            Diagnostic::error(Code::InvalidArgument, "--days must be at least 31")
                .help("the example pipelines look back up to a year; try --days 400"),
        );
    }
    std::fs::create_dir_all(&options.out).map_err(|e| io_error(&options.out, &e.to_string()))?;
    let accounts: Vec<Account> = (0..options.accounts).map(|i| account(options, i)).collect();
    let mut summary = SampleSummary::default();
    let steps: [(&str, TableWriter); 7] = [
        ("accounts", write_accounts),
        ("subscription_events", write_subscriptions),
        ("tickets", write_tickets),
        ("nps", write_nps),
        ("orders", write_orders),
        ("kpi_targets", write_targets),
        ("events", write_events),
    ];
    for (name, step) in steps {
        progress(&format!("writing {name}"));
        let rows = step(options, &accounts)?;
        summary.tables.push((name.to_string(), rows));
    }
    Ok(summary)
}
