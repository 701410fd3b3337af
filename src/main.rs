//! The `vane` command line: parse flags, call the library, print.

// Diagnostics are the error type everywhere (see lib.rs).
#![allow(clippy::result_large_err)]

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use vane::base::FileFormat;
use vane::commands::{self, Report};
use vane::diagnostics::{self, Code, Diagnostic};
use vane::run::RunOptions;
use vane::sample::SampleOptions;

/// DataFusion allocates heavily while planning and aggregating; mimalloc is
/// markedly faster than the system allocator for it (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Customer-success metrics as code: type-checked KPIs, indicators and
/// playbooks compiled to DataFusion plans.
///
/// Exit codes: 0 ok, 1 findings (warnings, files that would change), 2 errors.
/// `vane --version`: the version and the engines this build has.
const VERSION: &str = if vane::run::remote::BALLISTA_BUILT {
    concat!(env!("CARGO_PKG_VERSION"), " (engines: local, ballista)")
} else {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (engines: local; built without the `ballista` feature)"
    )
};

#[derive(Parser)]
#[command(name = "vane", version = VERSION, about, propagate_version = true)]
struct Cli {
    /// How to print diagnostics.
    #[arg(long, global = true, value_enum, default_value = "human")]
    output_format: DiagnosticsFormat,
    #[command(subcommand)]
    command: Command,
}

/// Flags shared by the commands that read data for one night.
#[derive(Args)]
struct DataFlags {
    /// The as-of date (YYYY-MM-DD): windows end at its midnight UTC, exclusive. Default: today (UTC).
    #[arg(long)]
    as_of: Option<String>,
    #[command(flatten)]
    engine: EngineFlags,
}

/// How a night's files are written.
#[derive(Args)]
struct OutputFlags {
    /// Output format (default: the pipeline's `outputs.format`, else parquet).
    #[arg(long, value_parser = ["parquet", "csv", "jsonl"])]
    format: Option<String>,
    /// Write CSV cells exactly as computed, even text a spreadsheet would
    /// run as a formula (by default such cells get a leading `'`).
    #[arg(long)]
    raw_csv: bool,
}

impl OutputFlags {
    /// `options` with the format and CSV handling these flags ask for.
    fn apply(self, options: RunOptions) -> RunOptions {
        RunOptions {
            format: self.format.as_deref().and_then(FileFormat::from_name),
            raw_csv: self.raw_csv,
            ..options
        }
    }
}

/// Where nights are written and what the engine may use.
#[derive(Args)]
struct EngineFlags {
    /// Output folder (default: the pipeline's `outputs.dir`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Memory limit, e.g. 2GB; operators spill to disk beyond it.
    #[arg(long)]
    memory_limit: Option<String>,
    /// Threads to use, 1 to 1024 (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Where the facts run: `local`, or `ballista://HOST:PORT` for an Apache
    /// Ballista scheduler (default: $VANE_ENGINE, else the pipeline's
    /// `outputs.engine`, else local).
    #[arg(long)]
    engine: Option<String>,
    /// The longest one part of the facts may take on a cluster, e.g. 90s,
    /// 10m or 2h (default 1h); past it the run fails and writes nothing.
    #[arg(long)]
    engine_timeout: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Check pipeline files without running them (exit 0 ok, 1 warnings, 2 errors).
    Validate {
        /// Pipeline files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also read the data files' schemas (not their rows) and check columns and types.
        #[arg(long)]
        data: bool,
    },
    /// Rewrite expressions into canonical form (exit 1 with --check when a file would change).
    Fmt {
        /// Pipeline files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Report files that would change instead of changing them.
        #[arg(long)]
        check: bool,
    },
    /// Print the JSON Schema of the pipeline file format, for editor completion.
    Schema,
    /// Run the metric tests in pipeline files and the built-in checks (exit 1 on failures).
    Test {
        /// Pipeline files (default: pipelines/*.yaml).
        files: Vec<PathBuf>,
    },
    /// Compute one night's scorecard, actions and manifest, written atomically under `as_of=DATE/`.
    Run {
        /// The pipeline file.
        pipeline: PathBuf,
        #[command(flatten)]
        data: DataFlags,
        #[command(flatten)]
        output: OutputFlags,
    },
    /// Compute and write many nights in date order, each as `vane run --as-of` would after the earlier ones.
    Backfill {
        /// The pipeline file.
        pipeline: PathBuf,
        /// The first night (YYYY-MM-DD).
        #[arg(long)]
        from: String,
        /// The last night (YYYY-MM-DD), included when --every divides the range.
        #[arg(long)]
        to: String,
        /// Days between nights: `1d`, `7d`, `2w`.
        #[arg(long, default_value = "1d")]
        every: String,
        /// Compute nights already in the output folder again (each replaced atomically).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        engine: EngineFlags,
        #[command(flatten)]
        output: OutputFlags,
    },
    /// Score past nights in memory and measure how well health, indicators, metrics and playbooks predicted an outcome.
    Backtest {
        /// The pipeline file.
        pipeline: PathBuf,
        /// The first night (YYYY-MM-DD).
        #[arg(long)]
        from: String,
        /// The last night (YYYY-MM-DD), included when --every divides the range.
        #[arg(long)]
        to: String,
        /// Days between nights: `1d`, `7d`, `2w`.
        #[arg(long, default_value = "7d")]
        every: String,
        /// The outcome (a name under `outcomes:`).
        #[arg(long)]
        outcome: String,
        /// Report format.
        #[arg(long, value_parser = ["markdown", "json"], default_value = "markdown")]
        format: String,
        /// Write the report to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also fit indicator weights on the earlier two thirds of the nights and judge them on the rest.
        #[arg(long)]
        suggest_weights: bool,
        /// Bootstrap resamples for the AUC intervals.
        #[arg(long, default_value_t = vane::backtest::Bootstrap::default().resamples)]
        resamples: usize,
        /// The bootstrap's seed (the report is reproducible for a seed).
        #[arg(long, default_value_t = vane::backtest::Bootstrap::default().seed)]
        seed: u64,
        /// Memory limit, e.g. 2GB; operators spill to disk beyond it.
        #[arg(long)]
        memory_limit: Option<String>,
        /// Threads to use, 1 to 1024 (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Where the facts run: `local` or `ballista://HOST:PORT` (as `run --engine`).
        #[arg(long)]
        engine: Option<String>,
    },
    /// Print the DataFusion plans a run executes.
    Plan {
        /// The pipeline file.
        pipeline: PathBuf,
        #[command(flatten)]
        data: DataFlags,
        /// Which stage to show.
        #[arg(long, value_enum, default_value = "all")]
        stage: PlanStage,
        /// Show the plan of a backfill over these nights (FROM..TO): the
        /// aggregations they share and the sides computed night by night.
        #[arg(long, value_name = "FROM..TO")]
        nights: Option<String>,
        /// Days between those nights: `1d`, `7d`, `2w`.
        #[arg(long, default_value = "1d", requires = "nights")]
        every: String,
    },
    /// What a pipeline change means: definitions, lineage and which entities it moves (exit 1 on changes).
    Diff {
        /// The base pipeline (or, with --git, the pipeline to compare with its past).
        base: PathBuf,
        /// The head pipeline (omit with --git).
        head: Option<PathBuf>,
        /// Take the base from this git revision of the pipeline file.
        #[arg(long, value_name = "REV")]
        git: Option<String>,
        /// Compare definitions only; do not run on data.
        #[arg(long)]
        no_data: bool,
        /// Markdown (for a pull-request comment) or JSON.
        #[arg(long, value_enum, default_value = "markdown")]
        format: DiffFormat,
        /// Also backtest base and head over these nights (FROM..TO) and show them side by side.
        #[arg(
            long,
            value_name = "FROM..TO",
            conflicts_with = "no_data",
            requires = "outcome"
        )]
        backtest: Option<String>,
        /// Days between the backtest's nights: `1d`, `7d`, `2w`.
        #[arg(long, default_value = "7d", requires = "backtest")]
        every: String,
        /// The outcome the backtest measures (a name under `outcomes:`).
        #[arg(long, requires = "backtest")]
        outcome: Option<String>,
        #[command(flatten)]
        data: DataFlags,
    },
    /// What changed between two nights already written: health, bands, the indicators and metrics that moved each entity, playbooks started and stopped.
    Changes {
        /// The pipeline file.
        pipeline: PathBuf,
        /// The older night (YYYY-MM-DD), a partition of the output folder.
        #[arg(long)]
        since: String,
        /// The newer night (YYYY-MM-DD). Default: the newest night in the output folder.
        #[arg(long)]
        as_of: Option<String>,
        /// Markdown (for a chat message or pull-request comment) or JSON.
        #[arg(long, value_enum, default_value = "markdown")]
        format: DiffFormat,
        /// How many movers the Markdown lists (JSON lists every one).
        #[arg(long, default_value_t = 10)]
        top: usize,
        #[command(flatten)]
        engine: EngineFlags,
    },
    /// Write the metric catalog (Markdown and an offline HTML page, with the lineage graph).
    Docs {
        /// Pipeline files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output folder.
        #[arg(long, default_value = "out/docs")]
        out: PathBuf,
    },
    /// Write a static HTML report of the nights already written: overview, a page per owner and per entity (offline, deterministic).
    Report {
        /// The pipeline file.
        pipeline: PathBuf,
        /// The folder the site is written to (default: `report` inside the output folder). Replaced as a whole.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The night shown (YYYY-MM-DD), a partition of the output folder. Default: the newest night written.
        #[arg(long)]
        as_of: Option<String>,
        /// The output folder the nights were written to (default: the pipeline's `outputs.dir`).
        #[arg(long)]
        outputs: Option<PathBuf>,
        /// The JSON report of `vane backtest --format json` to summarise (default: `backtest.json` in the output folder, when there is one).
        #[arg(long)]
        backtest: Option<PathBuf>,
    },
    /// Explain one entity's health: groups, indicators, metrics, windows and targets.
    Explain {
        /// The pipeline file.
        pipeline: PathBuf,
        /// The entity's key.
        #[arg(long)]
        entity: String,
        #[command(flatten)]
        data: DataFlags,
    },
    /// Print a night's scorecard as one SQL query for a warehouse (DuckDB, PostgreSQL, Snowflake), written from the plans `run` executes.
    Sql {
        /// The pipeline file.
        pipeline: PathBuf,
        /// The as-of date (YYYY-MM-DD): windows end at its midnight UTC, exclusive. Default: today (UTC).
        #[arg(long)]
        as_of: Option<String>,
        /// The warehouse: duckdb, postgres or snowflake.
        #[arg(long, default_value = "duckdb")]
        dialect: String,
        /// The table holding a source, as SOURCE=TABLE (repeatable; default: the source's own name).
        #[arg(long = "table", value_name = "SOURCE=TABLE")]
        tables: Vec<String>,
        /// DuckDB: read the sources' files where the pipeline names them (read_parquet, read_csv).
        #[arg(long)]
        files: bool,
        /// The table holding the previous night's scorecard (key and health), for previous_health and trend.
        #[arg(long)]
        previous: Option<String>,
        /// Write the night's actions (the playbooks that fire) instead of its scorecard.
        #[arg(long)]
        actions: bool,
        /// With --actions: the table of actions fired on earlier nights (as_of, playbook, dedup_key), for cooldowns.
        #[arg(long, value_name = "TABLE")]
        earlier_actions: Option<String>,
    },
    /// Write a deterministic synthetic book of business (Parquet).
    SampleData {
        /// Output folder.
        #[arg(long, default_value = "examples/data")]
        out: PathBuf,
        /// Number of accounts.
        #[arg(long, default_value_t = 400)]
        accounts: usize,
        /// Mean product events per account over the history.
        #[arg(long, default_value_t = 600)]
        events_per_account: usize,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// The day the data ends (exclusive), YYYY-MM-DD.
        #[arg(long, default_value = "2026-11-01")]
        end: String,
        /// Days of event history.
        #[arg(long, default_value_t = 365)]
        days: i64,
    },
}

/// How to print diagnostics (`--output-format`).
#[derive(Clone, Copy, ValueEnum)]
enum DiagnosticsFormat {
    /// Source snippets with labels, for people.
    Human,
    /// One JSON array, for editors and tools.
    Json,
    /// GitHub Actions workflow commands, for annotations on pull requests.
    Github,
}

impl From<DiagnosticsFormat> for diagnostics::Format {
    fn from(format: DiagnosticsFormat) -> Self {
        match format {
            DiagnosticsFormat::Human => diagnostics::Format::Human,
            DiagnosticsFormat::Json => diagnostics::Format::Json,
            DiagnosticsFormat::Github => diagnostics::Format::Github,
        }
    }
}

/// Which plans `vane plan` prints (`--stage`).
#[derive(Clone, Copy, ValueEnum)]
enum PlanStage {
    /// The typed model's metrics in dependency order.
    Model,
    /// The logical plans as built, before optimization.
    Logical,
    /// The optimized logical plans.
    Optimized,
    /// The physical plans DataFusion executes.
    Physical,
    /// Optimized logical and physical plans.
    All,
    /// Execute the facts and show each operator's metrics (rows, time, memory).
    Analyze,
}

impl From<PlanStage> for commands::Stage {
    fn from(stage: PlanStage) -> Self {
        match stage {
            PlanStage::Model => commands::Stage::Model,
            PlanStage::Logical => commands::Stage::Logical,
            PlanStage::Optimized => commands::Stage::Optimized,
            PlanStage::Physical => commands::Stage::Physical,
            PlanStage::All => commands::Stage::All,
            PlanStage::Analyze => commands::Stage::Analyze,
        }
    }
}

/// The output of `vane diff` and `vane changes` (`--format`).
#[derive(Clone, Copy, ValueEnum)]
enum DiffFormat {
    /// Markdown for a pull-request comment.
    Markdown,
    /// JSON for tools.
    Json,
}

impl From<DiffFormat> for commands::DiffFormat {
    fn from(format: DiffFormat) -> Self {
        match format {
            DiffFormat::Markdown => commands::DiffFormat::Markdown,
            DiffFormat::Json => commands::DiffFormat::Json,
        }
    }
}

/// The most threads `--threads` accepts: DataFusion starts a partition of
/// every operator per thread, so an absurd count exhausts memory or panics.
const MAX_THREADS: usize = 1024;

/// Parse a date flag (`--as-of`, `--end`): `YYYY-MM-DD`.
fn parse_date(flag: &str, text: &str) -> Result<NaiveDate, Diagnostic> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        Diagnostic::error(
            Code::InvalidArgument,
            format!("{flag} `{text}` is not a date"),
        )
        .help(format!(
            "write the date as YYYY-MM-DD, e.g. {flag} 2026-11-01"
        ))
    })
}

/// Parse `--nights FROM..TO` (with `--every`) into the nights of a backfill plan.
fn parse_nights(range: &str, every: &str) -> Result<vane::run::Nights, Diagnostic> {
    let (from, to) = range.split_once("..").ok_or_else(|| {
        Diagnostic::error(
            Code::InvalidArgument,
            format!("--nights `{range}` is not a range of dates"),
        )
        .help("write the first and last night, e.g. --nights 2026-01-04..2026-11-01")
    })?;
    let (from, to) = (parse_date("--nights", from)?, parse_date("--nights", to)?);
    if from > to {
        return Err(Diagnostic::error(
            Code::InvalidArgument,
            format!("--nights `{range}` runs backwards: {from} is after {to}"),
        )
        .help(format!(
            "give the earliest night first: --nights {to}..{from}"
        )));
    }
    Ok(vane::run::Nights {
        from,
        to,
        every_days: parse_every(every)?,
        force: true,
    })
}

/// Parse a size flag: `512MB`, `2GB`, `1.5GiB`, `800000` (bytes).
fn parse_size(text: &str) -> Option<usize> {
    let t = text.trim().to_ascii_lowercase();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0f64.powi(4),
        _ => return None,
    };
    let bytes = value * factor;
    (bytes.is_finite() && bytes >= 1.0).then_some(bytes as usize)
}

fn progress_printer() -> Box<dyn Fn(&str)> {
    if std::io::stderr().is_terminal() {
        Box::new(|stage: &str| eprintln!("vane: {stage}…"))
    } else {
        Box::new(|_: &str| {})
    }
}

/// `--every`: whole days (`1d`) or weeks (`2w`).
fn parse_every(text: &str) -> Result<u32, Diagnostic> {
    let t = text.trim();
    let days = if let Some(n) = t.strip_suffix('d') {
        n.parse::<u32>().ok()
    } else if let Some(n) = t.strip_suffix('w') {
        n.parse::<u32>().ok().and_then(|n| n.checked_mul(7))
    } else {
        None
    };
    days.ok_or_else(|| {
        Diagnostic::error(
            Code::InvalidArgument,
            format!("--every `{text}` is not a number of days or weeks"),
        )
        .help("nights are whole days apart: write e.g. --every 1d, --every 7d or --every 2w")
    })
}

/// A backfill's progress on stderr: a bar on a terminal (nights done,
/// source rows read per second, ETA, the last night's line), else a line
/// per night.
struct NightsBar {
    bar: Option<ProgressBar>,
    started: std::time::Instant,
}

impl NightsBar {
    fn start() -> NightsBar {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} nights  elapsed {elapsed}  ETA {eta}  {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        NightsBar {
            bar,
            started: std::time::Instant::now(),
        }
    }

    fn night(&self, done: commands::NightsDone, line: &str) {
        match &self.bar {
            Some(bar) => {
                let seconds = self.started.elapsed().as_secs_f64().max(1e-3);
                let rate = done.rows_read as f64 / seconds;
                bar.set_length(done.total as u64);
                bar.set_position(done.done as u64);
                bar.set_message(format!("{:.2}M events/s  {line}", rate / 1e6));
            }
            None => eprintln!("vane: {line}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn run_options(flags: DataFlags) -> Result<RunOptions, Report> {
    let as_of = flags
        .as_of
        .as_deref()
        .map(|text| parse_date("--as-of", text))
        .transpose()
        .map_err(Report::error)?;
    Ok(RunOptions {
        as_of,
        ..engine_options(flags.engine)?
    })
}

/// The nights `--from`, `--to` and `--every` name.
fn nights_of(
    from: &str,
    to: &str,
    every: &str,
    force: bool,
) -> Result<vane::run::Nights, Diagnostic> {
    Ok(vane::run::Nights {
        from: parse_date("--from", from)?,
        to: parse_date("--to", to)?,
        every_days: parse_every(every)?,
        force,
    })
}

/// `90s`, `10m`, `2h` as a duration of at least a second.
fn parse_timeout(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => number,
        "m" | "min" => number.checked_mul(60)?,
        "h" => number.checked_mul(3600)?,
        _ => return None,
    };
    (seconds > 0).then(|| std::time::Duration::from_secs(seconds))
}

/// `flag`'s value read by `parse`, or V602 saying it is not `what`.
fn parsed_flag<T>(
    text: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
    flag: &str,
    what: &str,
    help: &str,
) -> Result<Option<T>, Report> {
    text.map(|text| {
        parse(text).ok_or_else(|| {
            Report::error(
                Diagnostic::error(
                    Code::InvalidArgument,
                    format!("{flag} `{text}` is not {what}"),
                )
                .help(help.to_string()),
            )
        })
    })
    .transpose()
}

fn engine_options(flags: EngineFlags) -> Result<RunOptions, Report> {
    let memory_limit = parsed_flag(
        flags.memory_limit.as_deref(),
        parse_size,
        "--memory-limit",
        "a size",
        "write e.g. 512MB or 2GB",
    )?;
    if let Some(threads) = flags.threads.filter(|n| !(1..=MAX_THREADS).contains(n)) {
        return Err(Report::error(
            Diagnostic::error(
                Code::InvalidArgument,
                format!("--threads {threads} is not between 1 and {MAX_THREADS}"),
            )
            .help(
                "give the number of cores to use, e.g. --threads 4; leave it out to use them all",
            ),
        ));
    }
    let engine_timeout = parsed_flag(
        flags.engine_timeout.as_deref(),
        parse_timeout,
        "--engine-timeout",
        "a duration",
        "write seconds, minutes or hours, e.g. 90s, 10m or 2h",
    )?;
    Ok(RunOptions {
        out: flags.out,
        memory_limit,
        threads: flags.threads,
        engine: flags.engine,
        engine_timeout,
        ..RunOptions::default()
    })
}

fn print_report(report: Report, format: DiagnosticsFormat) -> ExitCode {
    let stderr = std::io::stderr();
    let color = stderr.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    if !report.diagnostics.is_empty() {
        let text = diagnostics::render(&report.diagnostics, format.into(), color);
        let _ = stderr.lock().write_all(text.as_bytes());
    }
    let _ = std::io::stdout().lock().write_all(report.output.as_bytes());
    ExitCode::from(report.exit as u8)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let progress = progress_printer();
    let report = match cli.command {
        Command::Validate { files, data } => {
            let data = if data {
                vane::Data::Opened
            } else {
                vane::Data::Unread
            };
            commands::validate(&files, data)
        }
        Command::Fmt { files, check } => commands::fmt(&files, check),
        Command::Schema => commands::schema(),
        Command::Test { files } => commands::test(&files),
        Command::Run {
            pipeline,
            data,
            output,
        } => match run_options(data) {
            Ok(options) => commands::run(&pipeline, &output.apply(options), progress.as_ref()),
            Err(report) => report,
        },
        Command::Backfill {
            pipeline,
            from,
            to,
            every,
            force,
            engine,
            output,
        } => {
            let nights = nights_of(&from, &to, &every, force);
            match (nights, engine_options(engine)) {
                (Ok(nights), Ok(options)) => {
                    let options = output.apply(options);
                    let bar = NightsBar::start();
                    let report =
                        commands::backfill(&pipeline, &options, &nights, &mut |done, line| {
                            bar.night(done, line)
                        });
                    bar.finish();
                    report
                }
                (Err(diagnostic), _) => Report::error(diagnostic),
                (_, Err(report)) => report,
            }
        }
        Command::Backtest {
            pipeline,
            from,
            to,
            every,
            outcome,
            format,
            out,
            suggest_weights,
            resamples,
            seed,
            memory_limit,
            threads,
            engine,
        } => {
            let nights = nights_of(&from, &to, &every, false);
            let engine = EngineFlags {
                out: None,
                memory_limit,
                threads,
                engine,
                engine_timeout: None,
            };
            match (nights, engine_options(engine)) {
                (Ok(nights), Ok(options)) => {
                    let request = vane::BacktestRequest {
                        nights,
                        outcome,
                        bootstrap: vane::backtest::Bootstrap { resamples, seed },
                        suggest_weights,
                    };
                    let format = if format == "json" {
                        commands::BacktestFormat::Json
                    } else {
                        commands::BacktestFormat::Markdown
                    };
                    commands::backtest(&pipeline, &options, &request, format, out.as_ref())
                }
                (Err(diagnostic), _) => Report::error(diagnostic),
                (_, Err(report)) => report,
            }
        }
        Command::Plan {
            pipeline,
            data,
            stage,
            nights: None,
            ..
        } => match run_options(data) {
            Ok(options) => commands::plan(&pipeline, &options, stage.into()),
            Err(report) => report,
        },
        Command::Plan {
            pipeline,
            data,
            stage,
            nights: Some(range),
            every,
        } => {
            let nights = parse_nights(&range, &every);
            match (nights, run_options(data)) {
                (Ok(nights), Ok(options)) => {
                    commands::plan_nights(&pipeline, &options, &nights, stage.into())
                }
                (Err(diagnostic), _) => Report::error(diagnostic),
                (_, Err(report)) => report,
            }
        }
        Command::Diff {
            base,
            head,
            git,
            no_data,
            format,
            backtest,
            every,
            outcome,
            data,
        } => {
            let backtest = match (backtest, outcome) {
                (Some(range), Some(outcome)) => parse_nights(&range, &every).map(|nights| {
                    Some(vane::BacktestRequest {
                        nights,
                        outcome,
                        bootstrap: vane::backtest::Bootstrap::default(),
                        suggest_weights: false,
                    })
                }),
                _ => Ok(None),
            };
            let target = match (&git, head) {
                (Some(rev), None) => Ok((commands::Base::Git(rev.clone()), base)),
                (None, Some(head)) => Ok((commands::Base::File(base), head)),
                (Some(_), Some(_)) => {
                    Err("with --git, name only the pipeline: vane diff --git REV PIPELINE")
                }
                (None, None) => {
                    Err("name two pipelines: vane diff BASE HEAD (or vane diff --git REV PIPELINE)")
                }
            };
            match (target, run_options(data), backtest) {
                (_, _, Err(diagnostic)) => Report::error(diagnostic),
                (Ok((base, head)), Ok(run), Ok(backtest)) => commands::diff(
                    &base,
                    &head,
                    &commands::DiffOptions {
                        data: !no_data,
                        run,
                        format: format.into(),
                        backtest,
                    },
                ),
                (Err(message), _, _) => Report::error(
                    Diagnostic::error(Code::InvalidArgument, message).help("see vane diff --help"),
                ),
                (_, Err(report), _) => report,
            }
        }
        Command::Changes {
            pipeline,
            since,
            as_of,
            format,
            top,
            engine,
        } => {
            let since = parse_date("--since", &since);
            let as_of = as_of
                .as_deref()
                .map(|text| parse_date("--as-of", text))
                .transpose();
            match (since, as_of, engine_options(engine)) {
                (Ok(since), Ok(as_of), Ok(run)) => commands::changes(
                    &pipeline,
                    &commands::ChangesOptions {
                        since,
                        as_of,
                        run,
                        format: match format {
                            DiffFormat::Markdown => commands::ChangesFormat::Markdown,
                            DiffFormat::Json => commands::ChangesFormat::Json,
                        },
                        top,
                    },
                ),
                (Err(diagnostic), _, _) | (_, Err(diagnostic), _) => Report::error(diagnostic),
                (_, _, Err(report)) => report,
            }
        }
        Command::Docs { files, out } => commands::docs(&files, &out),
        Command::Report {
            pipeline,
            out,
            as_of,
            outputs,
            backtest,
        } => match as_of
            .as_deref()
            .map(|text| parse_date("--as-of", text))
            .transpose()
        {
            Ok(as_of) => commands::report(
                &pipeline,
                &vane::report::ReportOptions {
                    outputs,
                    site: out,
                    as_of,
                    backtest,
                },
            ),
            Err(diagnostic) => Report::error(diagnostic),
        },
        Command::Explain {
            pipeline,
            entity,
            data,
        } => match run_options(data) {
            Ok(options) => commands::explain(&pipeline, &entity, &options),
            Err(report) => report,
        },
        Command::Sql {
            pipeline,
            as_of,
            dialect,
            tables,
            files,
            previous,
            actions,
            earlier_actions,
        } => {
            let as_of = match as_of {
                Some(text) => parse_date("--as-of", &text),
                None => Ok(chrono::Utc::now().date_naive()),
            };
            match (
                as_of,
                commands::sql_dialect(&dialect),
                commands::table_mappings(&tables),
            ) {
                (Ok(as_of), Ok(dialect), Ok(tables)) => commands::sql(
                    &pipeline,
                    &vane::sql::SqlOptions {
                        as_of,
                        dialect,
                        tables,
                        files,
                        previous,
                        actions,
                        earlier_actions,
                    },
                ),
                (as_of, dialect, tables) => Report::failed(
                    as_of
                        .err()
                        .into_iter()
                        .chain(dialect.err())
                        .chain(tables.err().into_iter().flatten())
                        .collect(),
                ),
            }
        }
        Command::SampleData {
            out,
            accounts,
            events_per_account,
            seed,
            end,
            days,
        } => match parse_date("--end", &end) {
            Ok(end) => commands::sample_data(
                &SampleOptions {
                    out,
                    accounts,
                    events_per_account,
                    seed,
                    end,
                    days,
                },
                progress.as_ref(),
            ),
            Err(d) => Report::error(d),
        },
    };
    print_report(report, cli.output_format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_dates_parse_or_say_why_not() {
        assert_eq!(parse_size("2GB"), Some(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_size("512mb"), Some(512 * 1024 * 1024));
        assert_eq!(parse_size("800000"), Some(800_000));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("0"), None);
        assert_eq!(
            parse_date("--as-of", "2026-11-01").ok(),
            NaiveDate::from_ymd_opt(2026, 11, 1)
        );
        let error = parse_date("--as-of", "2026-13-01").expect_err("not a date");
        assert_eq!(error.code, Code::InvalidArgument);
        assert!(error.message.contains("2026-13-01"), "{}", error.message);
    }

    #[test]
    fn night_ranges_parse_or_say_why_not() {
        let nights = parse_nights("2026-01-04..2026-11-01", "7d").expect("nights");
        assert_eq!(nights.every_days, 7);
        assert_eq!(nights.dates().expect("dates").len(), 44);
        for (range, says) in [
            ("2026-01-04", "not a range"),
            ("2026-11-01..2026-01-04", "runs backwards"),
            ("2026-01-04..soon", "soon"),
        ] {
            let error = parse_nights(range, "1d").expect_err(range);
            assert_eq!(error.code, Code::InvalidArgument);
            assert!(error.message.contains(says), "{}", error.message);
        }
        assert!(parse_nights("2026-01-04..2026-11-01", "0x").is_err());
    }

    #[test]
    fn thread_counts_outside_1_to_1024_are_refused() {
        let flags = |threads| DataFlags {
            as_of: None,
            engine: EngineFlags {
                out: None,
                memory_limit: None,
                threads: Some(threads),
                engine: None,
                engine_timeout: None,
            },
        };
        for threads in [0, 1025, usize::MAX] {
            let report = run_options(flags(threads)).expect_err("out of range");
            assert_eq!(report.diagnostics[0].code, Code::InvalidArgument);
        }
        for threads in [1, 2, 1024] {
            let options = run_options(flags(threads)).map_err(|r| r.diagnostics);
            assert_eq!(options.expect("in range").threads, Some(threads));
        }
    }

    #[test]
    fn engine_timeouts_are_seconds_minutes_or_hours() {
        use std::time::Duration;
        assert_eq!(parse_timeout("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_timeout("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_timeout("10min"), Some(Duration::from_secs(600)));
        assert_eq!(parse_timeout("2h"), Some(Duration::from_secs(7200)));
        for bad in ["", "0s", "10", "h", "-5m", "1.5h", "99999999999999999999h"] {
            assert_eq!(parse_timeout(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_is_whole_days_or_weeks() {
        assert_eq!(parse_every("1d").ok(), Some(1));
        assert_eq!(parse_every("2w").ok(), Some(14));
        for bad in ["12h", "7", "-1d", "1.5d", "d"] {
            let error = parse_every(bad).expect_err("not days");
            assert_eq!(error.code, Code::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
