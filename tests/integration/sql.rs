//! `vane sql` in real databases: the query it writes for each example
//! pipeline, run in DuckDB and in a PostgreSQL server the test starts,
//! gives the scorecard `vane run` writes, value by value — on the night
//! the data ends, on a night before most of it, and on a night after
//! another (previous health and trend) — and, with `--actions`, the
//! actions `run` writes, text for text, cooldowns included.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use vane::Data;
use vane::commands::{self, Exit};
use vane::diagnostics::Code;
use vane::run::RunOptions;
use vane::sql::{SqlDialect, SqlOptions};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
}

/// The pipelines the tests write SQL for: the examples, and the corpus
/// file that calls every function of the language.
const PIPELINES: [&str; 3] = [
    "pipelines/customer_health.yaml",
    "pipelines/supply_chain.yaml",
    "tests/corpus/good/every_function.yaml",
];

/// Write `pipeline`'s night `as_of` into `out` (after the nights already there).
fn run_night(pipeline: &Path, out: &Path, as_of: &str) -> PathBuf {
    let options = RunOptions {
        as_of: Some(date(as_of)),
        out: Some(out.to_path_buf()),
        ..RunOptions::default()
    };
    let report = commands::run(pipeline, &options, &|_| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    out.join(format!("as_of={as_of}/scorecard.parquet"))
}

fn options(as_of: &str, dialect: SqlDialect) -> SqlOptions {
    SqlOptions {
        as_of: date(as_of),
        dialect,
        tables: BTreeMap::new(),
        files: false,
        previous: None,
        actions: false,
        earlier_actions: None,
    }
}

/// The SQL `vane sql` writes, in a file.
fn write_sql(pipeline: &Path, options: &SqlOptions, file: &Path) -> PathBuf {
    let report = commands::sql(pipeline, options);
    assert_eq!(
        report.exit,
        Exit::Ok,
        "{}",
        vane::diagnostics::render_human(&report.diagnostics, false)
    );
    std::fs::write(file, &report.output).expect("write sql");
    file.to_path_buf()
}

/// Run `tests/differential/generated_sql.py` with `args`: it prints `ok: …`.
fn compare(python: &Path, args: &[&OsStr]) {
    crate::support::run_differential(python, &repo("tests/differential/generated_sql.py"), args);
}

/// A night `vane run` wrote, and what the SQL of it is compared with.
struct Night {
    name: String,
    pipeline: PathBuf,
    as_of: &'static str,
    /// The night's scorecard; its actions are beside it.
    scorecard: PathBuf,
    /// The scorecard of the night before, when there is one.
    previous: Option<PathBuf>,
}

impl Night {
    fn actions(&self) -> PathBuf {
        self.scorecard.with_file_name("actions.parquet")
    }

    /// Write the night's scorecard SQL, then its actions SQL (earlier
    /// actions from the table `earlier_actions`), into `out`; run each in
    /// DuckDB, or in PostgreSQL at `dsn`, and compare it with what `vane
    /// run` wrote.
    fn check(
        &self,
        python: &Path,
        out: &Path,
        mut options: SqlOptions,
        earlier_actions: String,
        dsn: Option<&str>,
    ) {
        let engine = options.dialect.name();
        for (what, expected) in [
            ("scorecard", self.scorecard.clone()),
            ("actions", self.actions()),
        ] {
            options.actions = what == "actions";
            options.earlier_actions = options.actions.then(|| earlier_actions.clone());
            let file = out.join(format!("{}-{}.{what}.{engine}.sql", self.name, self.as_of));
            let sql = write_sql(&self.pipeline, &options, &file);
            let mut args = vec![OsStr::new(engine), sql.as_os_str(), expected.as_os_str()];
            args.extend(dsn.map(OsStr::new));
            compare(python, &args);
        }
    }

    /// Every night's actions in the output folder (the SQL keeps the
    /// earlier ones), as a pattern through their `as_of=` folders.
    fn earlier_actions(&self) -> PathBuf {
        self.scorecard
            .parent()
            .and_then(Path::parent)
            .expect("an output folder")
            .join("as_of=*/actions.parquet")
    }
}

/// Values of every layout Arrow writes a float in (plain, with `.0`,
/// small with zeros, with an exponent either way, negative zero, NaN and
/// the infinities), and timestamps with and without fractions: each
/// account reads one, and its actions show it. (Minus infinity comes from
/// negating infinity: DataFusion 55's grouped `max` of a group holding
/// only minus infinity is the lowest finite float, apache/datafusion#24432.
/// No value overflows when doubled: PostgreSQL raises an error there.)
const SHOWN_VALUES_BOOK: &str = r#"
import sys
import duckdb

folder = sys.argv[1]
values = [0.1, 114870.0, 0.000025, 1e20, 1e16, 1e15, -0.0, 0.0, 2.5e-7, 1e-5, 0.0001,
          123456789.125, -1234.5, 0.125, 999.5, 1 / 3, 5e-324, 1.5e300,
          12345678901234567.0, -0.004, 44.99, 1e-300, -2.5e-5, 0.1 + 0.2, 39.0, -45.0,
          9999999999999998.0, 0.5, 2.675, float("nan"), float("inf")]
times = ["2026-10-01 10:00:00", "2026-10-01 10:00:05.123", "2026-10-01 10:00:05.123456",
         "2026-10-31 23:59:59.000001", "2026-06-30 00:00:00.5"]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute("CREATE TABLE readings (account_id VARCHAR, read_at TIMESTAMP, value DOUBLE)")
for i, value in enumerate(values):
    con.execute("INSERT INTO readings VALUES (?, CAST(? AS TIMESTAMP), ?)",
                [f"a{i:02}", times[i % len(times)], value])
con.execute(f"COPY (SELECT account_id, 'Account ' || account_id AS name FROM readings) TO '{folder}/accounts.parquet'")
con.execute(f"COPY readings TO '{folder}/readings.parquet'")
"#;

const SHOWN_VALUES_PIPELINE: &str = r#"vane: 1
name: shown_values
timezone: UTC
sources:
  accounts:
    path: accounts.parquet
  readings:
    path: readings.parquet
    time: read_at
entity:
  name: account
  source: accounts
  key: account_id
  attributes: [name]
metrics:
  x:
    from: readings
    window: 365d
    value: max(value)
  seen_at:
    from: readings
    window: 365d
    value: max(read_at)
playbooks:
  shown:
    when: x is not null
    action: look
    message: "{account.name} read {x} at {seen_at}; twice {x * 2}, negated {-(x * 2)}"
  formatted:
    when: x > -1e15 and x < 1e15
    action: look
    message: "{format_number(x)} | {format_number(x, 2)} | {format_number(x, 15)} | {format_number(-x, 1)}"
"#;

/// Run `python` with `args`; it must succeed.
fn run_python<S: AsRef<OsStr>>(python: &Path, args: &[S]) {
    let output = Command::new(python)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The book of [`SHOWN_VALUES_BOOK`] in `folder`, and its pipeline.
fn shown_values_book(python: &Path, folder: &Path) -> PathBuf {
    std::fs::create_dir_all(folder).expect("folder");
    run_python(
        python,
        &[
            OsStr::new("-c"),
            OsStr::new(SHOWN_VALUES_BOOK),
            folder.as_os_str(),
        ],
    );
    let pipeline = folder.join("shown_values.yaml");
    std::fs::write(&pipeline, SHOWN_VALUES_PIPELINE).expect("write pipeline");
    pipeline
}

/// Each pipeline's nights, and a night of [`shown_values_book`].
fn nights(out: &Path, python: &Path) -> Vec<Night> {
    let mut nights = Vec::new();
    for pipeline in PIPELINES {
        let path = repo(pipeline);
        let name = path
            .file_stem()
            .and_then(OsStr::to_str)
            .expect("name")
            .to_string();
        let folder = out.join(&name);
        // A night before most of the events (windows reaching before the
        // first one), then two nights a week apart (the second has a
        // previous night: previous health and trend).
        let early = run_night(&path, &folder.join("early"), "2026-01-15");
        nights.push(Night {
            name: name.clone(),
            pipeline: path.clone(),
            as_of: "2026-01-15",
            scorecard: early,
            previous: None,
        });
        let week_before = run_night(&path, &folder.join("weekly"), "2026-10-25");
        let last = run_night(&path, &folder.join("weekly"), "2026-11-01");
        nights.push(Night {
            name,
            pipeline: path,
            as_of: "2026-11-01",
            scorecard: last,
            previous: Some(week_before),
        });
    }
    let pipeline = shown_values_book(python, &out.join("shown_values"));
    let scorecard = run_night(&pipeline, &out.join("shown_values/out"), "2026-11-01");
    nights.push(Night {
        name: "shown_values".to_string(),
        pipeline,
        as_of: "2026-11-01",
        scorecard,
        previous: None,
    });
    nights
}

#[test]
fn the_sql_gives_each_pipeline_s_scorecard_in_duckdb() {
    let Some(python) = crate::support::python_with_duckdb() else {
        return;
    };
    let out = tempfile::tempdir().expect("temp dir");
    for night in nights(out.path(), &python) {
        let mut options = options(night.as_of, SqlDialect::DuckDb);
        options.files = true;
        options.previous = night
            .previous
            .as_ref()
            .map(|p| format!("read_parquet('{}')", p.display()));
        let earlier = format!(
            "read_parquet('{}', hive_partitioning = true)",
            night.earlier_actions().display()
        );
        night.check(&python, out.path(), options, earlier, None);
    }
}

/// A PostgreSQL server on a private socket in a temporary folder, run as
/// the `postgres` system user when the tests run as root (PostgreSQL
/// refuses root); stopped when dropped, also when a test fails.
struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Postgres {
    /// Start a server, or `None` (a skip) when PostgreSQL is not installed
    /// and the tests do not require every tool.
    fn start() -> Option<Postgres> {
        let Some(bin) = postgres_bin() else {
            crate::support::skip_without("PostgreSQL");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if as_postgres {
            let status = Command::new("chown")
                .args([OsStr::new("postgres"), dir.path().as_os_str()])
                .status()
                .expect("chown");
            assert!(status.success(), "chown the server's folder to postgres");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = Postgres {
            dir,
            bin,
            port,
            as_postgres,
        };
        let data = server.dir.path().join("data");
        server.pg(
            "initdb",
            &[
                OsStr::new("-D"),
                data.as_os_str(),
                OsStr::new("-A"),
                OsStr::new("trust"),
                OsStr::new("-U"),
                OsStr::new("postgres"),
                OsStr::new("--no-sync"),
            ],
        );
        let settings = format!(
            "-c listen_addresses='' -k {} -p {port} -c fsync=off",
            server.dir.path().display()
        );
        let log = server.dir.path().join("log");
        server.pg(
            "pg_ctl",
            &[
                OsStr::new("-D"),
                data.as_os_str(),
                OsStr::new("-o"),
                OsStr::new(&settings),
                OsStr::new("-l"),
                log.as_os_str(),
                OsStr::new("-w"),
                OsStr::new("start"),
            ],
        );
        Some(server)
    }

    /// Run a PostgreSQL program; it must succeed.
    fn pg(&self, program: &str, args: &[&OsStr]) {
        let program = self.bin.join(program);
        let output = if self.as_postgres {
            Command::new("runuser")
                .args([OsStr::new("-u"), OsStr::new("postgres"), OsStr::new("--")])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        }
        .expect("a PostgreSQL program runs");
        assert!(
            output.status.success(),
            "{}: {}{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn dsn(&self, database: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={database}",
            self.dir.path().display(),
            self.port
        )
    }

    fn create_database(&self, name: &str) {
        let output = Command::new(self.bin.join("psql"))
            .args(["-d", &self.dsn("postgres"), "-c"])
            .arg(format!("CREATE DATABASE {name}"))
            .output()
            .expect("psql runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let program = self.bin.join("pg_ctl");
        let args = [
            OsStr::new("-D"),
            data.as_os_str(),
            OsStr::new("-m"),
            OsStr::new("immediate"),
            OsStr::new("stop"),
        ];
        let _ = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        };
    }
}

/// The folder of PostgreSQL's programs: Debian's newest version's, or the
/// one `pg_ctl` is found in on the PATH.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("pg_ctl").is_file() && bin.join("psql").is_file())
        .collect();
    versions.sort();
    versions.pop().or_else(|| {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .find(|dir| dir.join("pg_ctl").is_file() && dir.join("psql").is_file())
        })
    })
}

#[test]
fn the_sql_gives_each_pipeline_s_scorecard_in_postgresql() {
    let Some(python) = crate::support::python_with_duckdb() else {
        return;
    };
    let has_psycopg = Command::new(&python)
        .args(["-c", "import psycopg"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_psycopg {
        crate::support::skip_without("psycopg in .venv");
        return;
    }
    let Some(server) = Postgres::start() else {
        return;
    };
    let out = tempfile::tempdir().expect("temp dir");
    for (i, night) in nights(out.path(), &python).into_iter().enumerate() {
        // One database per night: each pipeline has its own tables.
        let database = format!("night{i}");
        server.create_database(&database);
        let dsn = server.dsn(&database);
        let (checked, diagnostics) = commands::check_path(&night.pipeline, Data::Opened);
        let checked = checked.unwrap_or_else(|| panic!("{diagnostics:?}"));
        let mut load: Vec<OsString> = vec![
            repo("tests/differential/load_postgres.py").into(),
            dsn.clone().into(),
        ];
        for source in &checked.model.sources {
            let path = std::path::absolute(&source.location.path).expect("absolute path");
            load.push(format!("{}={}", source.name, path.display()).into());
        }
        let mut options = options(night.as_of, SqlDialect::Postgres);
        if let Some(previous) = &night.previous {
            load.push(format!("previous_scorecard={}", previous.display()).into());
            options.previous = Some("previous_scorecard".to_string());
        }
        load.push(format!("earlier_actions={}", night.earlier_actions().display()).into());
        run_python(&python, &load);
        night.check(
            &python,
            out.path(),
            options,
            "earlier_actions".to_string(),
            Some(&dsn),
        );
    }
}

#[test]
fn the_duckdb_sql_reads_as_a_chain_of_named_steps() {
    let report = commands::sql(
        &repo("pipelines/customer_health.yaml"),
        &options("2026-11-01", SqlDialect::DuckDb),
    );
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    insta::assert_snapshot!(report.output);
}

#[test]
fn snowflake_sql_parses_as_snowflake_sql_and_names_every_table() {
    let pipeline = repo("pipelines/customer_health.yaml");
    let (checked, _) = commands::check_path(&pipeline, Data::Opened);
    let sources: Vec<String> = checked
        .expect("checks")
        .model
        .sources
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let unmapped = commands::sql(&pipeline, &options("2026-11-01", SqlDialect::Snowflake));
    assert_eq!(unmapped.exit, Exit::Error);
    assert_eq!(unmapped.diagnostics[0].code, Code::InvalidArgument);
    assert!(
        unmapped.diagnostics[0].message.contains("`events`"),
        "{}",
        unmapped.diagnostics[0].message
    );
    let mut mapped = options("2026-11-01", SqlDialect::Snowflake);
    mapped.tables = sources
        .iter()
        .map(|s| (s.clone(), format!("ANALYTICS.PUBLIC.{}", s.to_uppercase())))
        .collect();
    let report = commands::sql(&pipeline, &mapped);
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    let parsed = datafusion::sql::sqlparser::parser::Parser::parse_sql(
        &datafusion::sql::sqlparser::dialect::SnowflakeDialect {},
        &report.output,
    );
    assert!(parsed.is_ok(), "{parsed:?}");
    assert!(
        !report.output.contains("FILTER (WHERE"),
        "Snowflake has no FILTER clause"
    );
    assert!(report.output.contains("FROM ANALYTICS.PUBLIC.EVENTS"));

    // The actions' text is written only where a real database checks it.
    mapped.actions = true;
    let actions = commands::sql(&pipeline, &mapped);
    assert_eq!(actions.exit, Exit::Error);
    assert!(
        actions
            .diagnostics
            .iter()
            .all(|d| d.code == Code::SqlInexpressible),
        "{:?}",
        actions.diagnostics
    );
    let rendered = vane::diagnostics::render_human(&actions.diagnostics, false);
    assert!(
        rendered.contains("playbook `login_plateau_call` shows it"),
        "{rendered}"
    );
    assert!(
        actions.diagnostics[0]
            .help
            .as_deref()
            .is_some_and(|h| h.contains("(duckdb, postgres)")),
        "{rendered}"
    );
}

#[test]
fn the_duckdb_actions_sql_reads_as_one_step_per_playbook_then_the_cooldowns() {
    let mut options = options("2026-11-01", SqlDialect::DuckDb);
    options.actions = true;
    options.earlier_actions = Some("actions_history".to_string());
    let report = commands::sql(&repo("pipelines/customer_health.yaml"), &options);
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    let from = report
        .output
        .find("-- the values the actions show")
        .expect("the actions' part");
    insta::assert_snapshot!(&report.output[from..]);
}

/// `vane sql` refuses `options` with a first diagnostic saying `words`.
fn fails_with(pipeline: &Path, options: &SqlOptions, words: &str) {
    let report = commands::sql(pipeline, options);
    assert_eq!(report.exit, Exit::Error);
    assert!(
        report.diagnostics[0].message.contains(words),
        "{:?}",
        report.diagnostics
    );
}

#[test]
fn bad_sql_arguments_are_diagnostics() {
    let pipeline = repo("pipelines/customer_health.yaml");
    let unknown = commands::sql_dialect("oracle").expect_err("not a dialect");
    assert_eq!(unknown.code, Code::InvalidArgument);
    assert!(
        unknown
            .help
            .as_deref()
            .is_some_and(|h| h.contains("duckdb, postgres, snowflake")),
        "{unknown:?}"
    );
    let malformed = commands::table_mappings(&["events".to_string()]).expect_err("no table");
    assert_eq!(malformed[0].code, Code::InvalidArgument);

    let mut files_elsewhere = options("2026-11-01", SqlDialect::Postgres);
    files_elsewhere.files = true;
    files_elsewhere
        .tables
        .insert("clicks".to_string(), "raw.clicks".to_string());
    let report = commands::sql(&pipeline, &files_elsewhere);
    assert_eq!(report.exit, Exit::Error);
    let messages: Vec<&str> = report
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].contains("no source `clicks`"), "{messages:?}");
    assert!(messages[1].contains("--files"), "{messages:?}");

    let mut earlier_alone = options("2026-11-01", SqlDialect::DuckDb);
    earlier_alone.earlier_actions = Some("actions_history".to_string());
    fails_with(&pipeline, &earlier_alone, "--earlier-actions");

    let dir = tempfile::tempdir().expect("temp dir");
    let quiet = dir.path().join("quiet.yaml");
    std::fs::write(
        &quiet,
        format!(
            "vane: 1\nname: quiet\nsources:\n  accounts:\n    path: {}\nentity:\n  name: account\n  source: accounts\n  key: account_id\n  attributes: [name]\n",
            repo("examples/data/accounts.parquet").display()
        ),
    )
    .expect("write");
    let mut actions = options("2026-11-01", SqlDialect::DuckDb);
    actions.actions = true;
    fails_with(&quiet, &actions, "has no playbooks");

    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "vane: 1\nname: broken\nsources: {}\n").expect("write");
    let report = commands::sql(&broken, &options("2026-11-01", SqlDialect::DuckDb));
    assert_eq!(report.exit, Exit::Error);
    assert!(!report.diagnostics.is_empty());
}

#[test]
fn a_source_s_table_key_names_its_table_and_table_flags_override_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = repo("examples/data");
    let text = std::fs::read_to_string(repo("pipelines/customer_health.yaml"))
        .expect("example")
        .replace(
            "    path: ../examples/data/events\n",
            "    path: ../examples/data/events\n    table: raw.product_events\n",
        )
        .replace("../examples/data", &data.display().to_string());
    let pipeline = dir.path().join("p.yaml");
    std::fs::write(&pipeline, text).expect("write");
    let report = commands::sql(&pipeline, &options("2026-11-01", SqlDialect::Postgres));
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    assert!(
        report
            .output
            .contains("\"events\" AS (\n  SELECT * FROM raw.product_events\n)"),
        "{}",
        &report.output[..800]
    );
    let mut flagged = options("2026-11-01", SqlDialect::Postgres);
    flagged
        .tables
        .insert("events".to_string(), "staging.events".to_string());
    let report = commands::sql(&pipeline, &flagged);
    assert!(report.output.contains("SELECT * FROM staging.events"));
    assert!(!report.output.contains("raw.product_events"));
}
