//! Fuzzing as part of the normal test suite (issue 11, item 20: "Keep it
//! fixed"). Two deterministic loops, seeded ([`DEFAULT_SEED`], or
//! `VANE_FUZZ_SEED=<n>` to explore) so that a failure in CI reproduces:
//! every input has its own RNG stream of the seed, and a failure prints the
//! seed, the input's index and the input itself.
//!
//! 1. [`front_end_survives_random_and_mutated_pipelines`] puts
//!    [`FRONT_END_INPUTS`] inputs through load → check → fmt, on one worker
//!    thread per core: pipelines built from a grammar of plausible pieces
//!    (sources, entity, metrics, targets, indicators, health, playbooks,
//!    outputs, tests) with random expressions typed from the function
//!    table in `check::functions`, the same pipelines mutated, byte-level
//!    mutations of the example pipelines and of `tests/corpus`, and random
//!    expressions in a small pipeline. No input may panic or take longer
//!    than [`INPUT_BUDGET`]; every diagnostic must have a help line, not
//!    be a bug (`V999`) and point inside the file at character
//!    boundaries; `fmt`'s output must load as cleanly, keep every
//!    expression's canonical form and what check reports, and be its own
//!    fixed point. Every [`COMMAND_EVERY`]th input also goes through
//!    `vane validate` and `vane fmt --check` on a file, whose exit codes
//!    must be 0, 1 or 2 and follow from the library's diagnostics (every
//!    [`BINARY_EVERY`]th through the `vane` binary too), and every
//!    [`RUN_EVERY`]th generated pipeline that checks cleanly against the
//!    fixture's schemas is run by the `vane run` binary over small Parquet
//!    files: a crash, a bug (`V999`) or a run longer than [`RUN_BUDGET`]
//!    is a finding (the binary, so that a stack overflow cannot take the
//!    test process down with it).
//! 2. [`random_data_runs_match_an_independent_computation`] writes random
//!    Parquet data (extreme integers, nulls, NaN and infinities, instants
//!    from year 1 to 9999, at the window's edges and at the limits of a
//!    timestamp, empty strings, duplicate and missing entity keys) and
//!    runs a pipeline of counts, sums, extremes, means and distinct counts
//!    over it with `commands::run`. Every value must equal the same
//!    computation done in plain Rust from the generated rows, following
//!    `docs/language.md` (half-open windows, exact integer sums, floats
//!    summed as 18-place decimals), or the run must stop with the
//!    diagnostic the docs name: `V502` for an integer beyond 64 bits,
//!    `V500` for a float that is not finite or too large and for a
//!    duplicate or missing entity key, `V600` for a window reaching before
//!    the earliest timestamp.
//!
//! Both loops go on after a problem and report every kind of problem
//! found, each with its shortest input. The `regression_*` tests at the end
//! are the smallest reproducers of the bugs the loops found, kept so they
//! stay fixed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, i256};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vane::Data;
use vane::base::types::{ColumnType, Schemas, SourceSchema, Type};
use vane::check::functions::{FUNCTIONS, FunctionDef, Param, Place, Returns};
use vane::commands::{self, Exit, Report};
use vane::diagnostics::{Code, Diagnostic};
use vane::run::RunOptions;

/// The seed both loops use unless `VANE_FUZZ_SEED` gives another.
const DEFAULT_SEED: u64 = 0x1120;
/// Inputs through load → check → fmt.
const FRONT_END_INPUTS: usize = 100_000;
/// Every this many inputs also go through `validate` and `fmt --check` on a file.
const COMMAND_EVERY: usize = 40;
/// Every this many inputs also go through the `vane validate` binary.
const BINARY_EVERY: usize = 400;
/// Every this many inputs, a generated pipeline that checks cleanly against
/// the fixture's schemas is also run by the `vane run` binary.
const RUN_EVERY: usize = 60;
/// Random datasets, each run through the data pipeline once or twice.
const DATA_SEEDS: u64 = 100;
/// The longest one input may take through the front end or a command.
const INPUT_BUDGET: Duration = Duration::from_secs(2);
/// The longest one run on a few fixture rows may take (a run starts a query engine).
const RUN_BUDGET: Duration = Duration::from_secs(10);
/// An input still running after this long is a hang: the watchdog prints
/// it and aborts, rather than leaving CI to time out without a reproducer.
const HANG_LIMIT: Duration = Duration::from_secs(120);
/// Problems after which a worker stops early: something fails everywhere.
const MAX_FINDINGS: usize = 5_000;
/// The stack of a front-end worker. Checking walks expressions
/// recursively, and a flat chain within the 16 KiB expression limit
/// (`1+1+…`, 8,000 terms) nests that deep; a debug build needs more than
/// the 2 MiB a test thread has. (The `vane` binary's own stacks are
/// exercised through the binary.)
const WORKER_STACK: usize = 256 << 20;

// ---------------------------------------------------------------------------
// The two loops
// ---------------------------------------------------------------------------

#[test]
fn front_end_survives_random_and_mutated_pipelines() {
    let seed = seed();
    let corpus = Corpus::load();
    let fixture = Fixture::write();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    let results: Vec<(FrontEndStats, Findings)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let (corpus, fixture) = (&corpus, &fixture);
                std::thread::Builder::new()
                    .name(format!("fuzz-{worker}"))
                    .stack_size(WORKER_STACK)
                    .spawn_scoped(scope, move || {
                        front_end_worker(seed, worker, workers, corpus, fixture)
                    })
                    .expect("a worker thread")
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a worker"))
            .collect()
    });
    let mut stats = FrontEndStats::default();
    let mut findings = Findings::new(seed, "front end");
    for (s, f) in results {
        stats.merge(s);
        findings.merge(f);
    }
    eprintln!("front end, seed {seed:#x}: {stats:#?}");
    findings.assert_none();
    assert_eq!(stats.inputs, FRONT_END_INPUTS, "every input ran");
    // The generator must keep reaching every stage, or the loop tests little.
    let share = |n: usize| n * 100 / FRONT_END_INPUTS;
    assert!(share(stats.clean) >= 10, "too few inputs check cleanly");
    assert!(share(stats.check_errors) >= 5, "too few inputs reach check");
    assert!(share(stats.load_errors) >= 5, "too few inputs fail to load");
    assert!(stats.reformatted >= 2_000, "too few inputs are reformatted");
    assert!(stats.runs_ok >= 50, "too few generated pipelines run");
}

/// One worker's share of the front-end inputs: every `workers`th index
/// from `worker` on, with its own watchdog and pipeline file.
fn front_end_worker(
    seed: u64,
    worker: usize,
    workers: usize,
    corpus: &Corpus,
    fixture: &Fixture,
) -> (FrontEndStats, Findings) {
    let watchdog = Watchdog::start(seed, "front end");
    let mut findings = Findings::new(seed, "front end");
    let mut stats = FrontEndStats::default();
    let file = fixture.dir.path().join(format!("p{worker}.yaml"));
    for index in (worker..FRONT_END_INPUTS).step_by(workers) {
        let mut rng = case_rng(seed, index as u64);
        let input = Input::generate(&mut rng, corpus);
        let will_run = index % RUN_EVERY == 0 && input.kind == Kind::Generated;
        let typed = will_run || rng.random_bool(0.3);
        let verify_fmt = rng.random_bool(0.25);
        watchdog.enter(index, &input.bytes);
        let outcome = match guarded(INPUT_BUDGET, || {
            front_end(&input.bytes, typed.then_some(&fixture.schemas), verify_fmt)
        }) {
            Ok(outcome) => {
                stats.count(input.kind, outcome);
                Some(outcome)
            }
            Err(problem) => {
                findings.add(index, input.kind.name(), &problem, &input.bytes);
                None
            }
        };
        if index % COMMAND_EVERY == 0 {
            stats.commands += 1;
            let binary = index % BINARY_EVERY == 0;
            if let Err(problem) =
                guarded(INPUT_BUDGET, || commands_agree(&file, &input.bytes, binary))
            {
                findings.add(index, "commands", &problem, &input.bytes);
            }
        }
        if will_run && matches!(outcome, Some(Outcome::Clean { typed: true, .. })) {
            match guarded(RUN_BUDGET * 2, || {
                run_binary(fixture, &file, index, &input.bytes)
            }) {
                Ok(exit) => stats.run(exit),
                Err(problem) => findings.add(index, "run", &problem, &input.bytes),
            }
        }
        stats.inputs += 1;
        if findings.full() {
            break;
        }
    }
    (stats, findings)
}

#[test]
fn random_data_runs_match_an_independent_computation() {
    let seed = seed();
    let watchdog = Watchdog::start(seed, "random data");
    let mut findings = Findings::new(seed, "random data");
    let mut stats = DataStats::default();
    for case in 0..DATA_SEEDS {
        let mut rng = case_rng(seed ^ 0xDA7A, case);
        let dataset = Dataset::generate(&mut rng);
        let description = dataset.describe();
        watchdog.enter(case as usize, description.as_bytes());
        match guarded(RUN_BUDGET * 2, || dataset.check(&mut stats)) {
            Ok(()) => {}
            Err(problem) => {
                findings.add(case as usize, "dataset", &problem, description.as_bytes())
            }
        }
        stats.datasets += 1;
        if findings.full() {
            break;
        }
    }
    drop(watchdog);
    eprintln!("random data, seed {seed:#x}: {stats:#?}");
    findings.assert_none();
    assert_eq!(stats.datasets, DATA_SEEDS as usize, "every dataset ran");
    assert!(stats.runs_ok >= 20, "too few runs gave values to compare");
    assert!(stats.runs_failed >= 5, "too few runs met documented errors");
    assert!(stats.values >= 1_000, "too few values compared");
}

// ---------------------------------------------------------------------------
// Harness: seeds, panics, time budgets, hangs, findings
// ---------------------------------------------------------------------------

/// The seed: `VANE_FUZZ_SEED` (decimal or `0x` hex) or [`DEFAULT_SEED`].
fn seed() -> u64 {
    let Ok(text) = std::env::var("VANE_FUZZ_SEED") else {
        return DEFAULT_SEED;
    };
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.unwrap_or_else(|_| panic!("VANE_FUZZ_SEED `{text}` is not a number"))
}

/// The RNG of one input: its own stream of the seed, so every input can be
/// regenerated alone from the seed and its index.
fn case_rng(seed: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    rng
}

/// Run one input's checks: a panic becomes an error, and so does taking
/// longer than `budget`.
fn guarded<T>(budget: Duration, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    let start = Instant::now();
    let result = panic::catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|payload| Err(format!("panicked: {}", panic_message(&*payload))));
    let elapsed = start.elapsed();
    match result {
        Ok(_) if elapsed > budget => Err(format!(
            "took longer than the budget of {budget:?}\n  it took {elapsed:.2?}"
        )),
        other => other,
    }
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a non-text panic)".to_string())
}

/// Aborts the process when one input runs longer than [`HANG_LIMIT`],
/// after printing it straight to standard error (the test harness's
/// capture would be lost with the process).
struct Watchdog {
    current: Arc<Mutex<(Instant, usize, Vec<u8>)>>,
    _stop: mpsc::Sender<()>,
}

impl Watchdog {
    /// Start watching; the watch ends when the watchdog is dropped.
    fn start(seed: u64, name: &'static str) -> Watchdog {
        let current = Arc::new(Mutex::new((Instant::now(), 0, Vec::new())));
        let (stop, stopped) = mpsc::channel::<()>();
        let watched = Arc::clone(&current);
        std::thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(Duration::from_secs(1))
            {
                let Ok(guard) = watched.lock() else { return };
                let (since, index, input) = &*guard;
                if since.elapsed() > HANG_LIMIT {
                    use std::io::Write as _;
                    let _ = writeln!(
                        std::io::stderr(),
                        "fuzz {name}: input {index} (seed {seed:#x}) hangs: still running after {HANG_LIMIT:?}\n{}",
                        String::from_utf8_lossy(input)
                    );
                    std::process::abort();
                }
            }
        });
        Watchdog {
            current,
            _stop: stop,
        }
    }

    /// Note that input `index` starts now.
    fn enter(&self, index: usize, input: &[u8]) {
        if let Ok(mut guard) = self.current.lock() {
            *guard = (Instant::now(), index, input.to_vec());
        }
    }
}

/// The problems one loop found, reported together at its end: grouped by
/// kind ([`signature`]), each kind with its shortest input, so that one run
/// shows every distinct problem with a small reproducer.
struct Findings {
    seed: u64,
    name: &'static str,
    total: usize,
    kinds: BTreeMap<String, Finding>,
}

/// One kind of problem: how often it came up, and its shortest input.
struct Finding {
    count: usize,
    index: usize,
    source: String,
    problem: String,
    input: Vec<u8>,
}

impl Findings {
    /// No findings yet, for the loop `name` run with `seed`.
    fn new(seed: u64, name: &'static str) -> Findings {
        Findings {
            seed,
            name,
            total: 0,
            kinds: BTreeMap::new(),
        }
    }

    /// Note `problem` with input `index` (from `source`).
    fn add(&mut self, index: usize, source: &str, problem: &str, input: &[u8]) {
        self.keep(Finding {
            count: 1,
            index,
            source: source.to_string(),
            problem: problem.to_string(),
            input: input.to_vec(),
        });
    }

    /// Count a finding under its kind, keeping the shortest input (the
    /// first, by index, among equally short ones).
    fn keep(&mut self, finding: Finding) {
        self.total += finding.count;
        match self.kinds.entry(signature(&finding.problem)) {
            std::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert(finding);
            }
            std::collections::btree_map::Entry::Occupied(mut entry) => {
                let kept = entry.get_mut();
                let count = kept.count + finding.count;
                if (finding.input.len(), finding.index) < (kept.input.len(), kept.index) {
                    *kept = finding;
                }
                kept.count = count;
            }
        }
    }

    /// Take in another worker's findings.
    fn merge(&mut self, other: Findings) {
        for finding in other.kinds.into_values() {
            self.keep(finding);
        }
    }

    /// Whether so much fails that going on would only repeat it.
    fn full(&self) -> bool {
        self.total >= MAX_FINDINGS
    }

    /// Fail with every kind of problem and its shortest input, if any.
    fn assert_none(&self) {
        if self.kinds.is_empty() {
            return;
        }
        let mut report = format!(
            "fuzz {}: {} problem(s) of {} kind(s) with seed {:#x} (rerun with VANE_FUZZ_SEED={:#x}); the shortest input of each kind:\n",
            self.name,
            self.total,
            self.kinds.len(),
            self.seed,
            self.seed
        );
        for f in self.kinds.values() {
            let text = String::from_utf8_lossy(&f.input);
            let _ = write!(
                report,
                "\n{}× like input {} ({}): {}\n--- input ({} bytes) ---\n{text}\n--- as a Rust string ---\n{text:?}\n",
                f.count,
                f.index,
                f.source,
                f.problem,
                f.input.len()
            );
        }
        panic!("{report}");
    }
}

/// What kind of problem a message describes: its first line (problems
/// say what went wrong there and give the details below) with numbers
/// blanked out, but for diagnostic codes (`V103`).
fn signature(problem: &str) -> String {
    let line = problem.lines().next().unwrap_or_default();
    let mut out = String::new();
    let mut code = false;
    for c in line.chars() {
        code = c == 'V' || (code && c.is_ascii_digit());
        if code || !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('#') {
            out.push('#');
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Front end: the checks every input gets
// ---------------------------------------------------------------------------

/// How far an input got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Not UTF-8 or too large.
    Unreadable,
    /// Loading reported errors.
    LoadErrors,
    /// Loaded, but checking reported errors.
    CheckErrors,
    /// Loaded and checked without errors; `typed` when also against the
    /// fixture's schemas.
    Clean { reformatted: bool, typed: bool },
}

/// Counts for the report, and for the checks that the generator still
/// reaches every stage.
#[derive(Debug, Default)]
struct FrontEndStats {
    inputs: usize,
    by_kind: BTreeMap<&'static str, usize>,
    unreadable: usize,
    load_errors: usize,
    check_errors: usize,
    clean: usize,
    reformatted: usize,
    commands: usize,
    runs_ok: usize,
    runs_failed: usize,
}

impl FrontEndStats {
    /// Count one input and how far it got.
    fn count(&mut self, kind: Kind, outcome: Outcome) {
        *self.by_kind.entry(kind.name()).or_default() += 1;
        match outcome {
            Outcome::Unreadable => self.unreadable += 1,
            Outcome::LoadErrors => self.load_errors += 1,
            Outcome::CheckErrors => self.check_errors += 1,
            Outcome::Clean { reformatted, .. } => {
                self.clean += 1;
                self.reformatted += usize::from(reformatted);
            }
        }
    }

    /// Count one run by its exit code.
    fn run(&mut self, exit: i32) {
        if exit == 0 {
            self.runs_ok += 1;
        } else {
            self.runs_failed += 1;
        }
    }

    /// Add another worker's counts.
    fn merge(&mut self, other: FrontEndStats) {
        self.inputs += other.inputs;
        for (kind, n) in other.by_kind {
            *self.by_kind.entry(kind).or_default() += n;
        }
        self.unreadable += other.unreadable;
        self.load_errors += other.load_errors;
        self.check_errors += other.check_errors;
        self.clean += other.clean;
        self.reformatted += other.reformatted;
        self.commands += other.commands;
        self.runs_ok += other.runs_ok;
        self.runs_failed += other.runs_failed;
    }
}

/// The name every front-end input is loaded under.
const FUZZ_PATH: &str = "fuzz.yaml";

/// load → check → fmt, and the invariants each stage keeps. The pipeline
/// is checked three ways: without sources (the bare library call), with
/// its sources resolved as `vane validate` does (nothing is read), and,
/// when `schemas` is given, with the fixture's schemas as `--data` would
/// read them. With `verify_fmt`, `fmt`'s output is loaded and checked
/// again (which costs a second load, so not for every input).
fn front_end(bytes: &[u8], schemas: Option<&Schemas>, verify_fmt: bool) -> Result<Outcome, String> {
    let path = Path::new(FUZZ_PATH);
    let file = match vane::syntax::yaml::read_source(path, bytes.to_vec()) {
        Ok(file) => Arc::new(file),
        Err(d) => {
            sound(std::slice::from_ref(&d))?;
            return Ok(Outcome::Unreadable);
        }
    };
    let (loaded, load_diagnostics) = vane::syntax::load_file(&file);
    sound(&load_diagnostics)?;
    let load_errors = has_error(&load_diagnostics);
    let Some(loaded) = loaded else {
        if !load_errors {
            return Err("loading gave no pipeline and no error".into());
        }
        return Ok(Outcome::LoadErrors);
    };
    let pipeline = &loaded.pipeline;
    let (model, bare) = vane::check::check(pipeline, &Default::default());
    sound(&bare)?;
    if model.is_none() && !load_errors && !has_error(&bare) {
        return Err("checking without sources gave no model and no error".into());
    }
    let (mut sources, resolved) = vane::sources::resolve(pipeline);
    sound(&resolved)?;
    let (model, checked) = vane::check::check(pipeline, &sources);
    sound(&checked)?;
    if model.is_none() && !load_errors && !has_error(&checked) {
        return Err("checking gave no model and no error".into());
    }
    let typed = match schemas {
        Some(schemas) => {
            sources.schemas = schemas
                .iter()
                .filter(|(name, _)| sources.location(name).is_some())
                .map(|(name, schema)| (name.clone(), schema.clone()))
                .collect();
            let (_, typed) = vane::check::check(pipeline, &sources);
            sound(&typed)?;
            !has_error(&typed)
        }
        None => false,
    };
    let text = &pipeline.file.text;
    let formatted = vane::syntax::fmt::format_text(text, &loaded.sites);
    if load_errors {
        return Ok(Outcome::LoadErrors);
    }
    let reformatted = &formatted != text;
    if reformatted && verify_fmt {
        fmt_keeps_meaning(&loaded, &formatted, &checked)?;
    }
    Ok(if has_error(&resolved) || has_error(&checked) {
        Outcome::CheckErrors
    } else {
        Outcome::Clean { reformatted, typed }
    })
}

/// Whether any of `diagnostics` is an error.
fn has_error(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}

/// `fmt`'s output of a file without loading errors loads without errors,
/// has the same expressions in the same canonical form, checks with the
/// same diagnostic codes, and is its own fixed point.
fn fmt_keeps_meaning(
    original: &vane::syntax::load::Loaded,
    formatted: &str,
    checked: &[Diagnostic],
) -> Result<(), String> {
    let (again, diagnostics) = vane::syntax::load_text(FUZZ_PATH, formatted.to_string());
    if let Some(d) = diagnostics.iter().find(|d| d.is_error()) {
        return Err(format!(
            "fmt's output does not load ({})\n  {}\n--- fmt's output ---\n{formatted}",
            d.code.as_str(),
            d.message
        ));
    }
    let Some(again) = again else {
        return Err("fmt's output loads to nothing".into());
    };
    let canonical = |sites: &[vane::syntax::load::ExpressionSite]| -> Vec<String> {
        sites.iter().map(|s| s.canonical.clone()).collect()
    };
    if canonical(&original.sites) != canonical(&again.sites) {
        return Err(format!(
            "fmt changed the canonical expressions\n  {:?}\n  became {:?}\n--- fmt's output ---\n{formatted}",
            canonical(&original.sites),
            canonical(&again.sites)
        ));
    }
    let codes = |ds: &[Diagnostic]| -> Vec<&'static str> {
        let mut codes: Vec<_> = ds.iter().map(|d| d.code.as_str()).collect();
        codes.sort_unstable();
        codes
    };
    let (sources, _) = vane::sources::resolve(&again.pipeline);
    let (_, rechecked) = vane::check::check(&again.pipeline, &sources);
    if codes(checked) != codes(&rechecked) {
        return Err(format!(
            "fmt changed what check reports\n  {:?}\n  became {:?}\n--- fmt's output ---\n{formatted}",
            codes(checked),
            codes(&rechecked)
        ));
    }
    let twice = vane::syntax::fmt::format_text(formatted, &again.sites);
    if twice != formatted {
        return Err(format!(
            "fmt is not idempotent\n--- once ---\n{formatted}\n--- twice ---\n{twice}"
        ));
    }
    Ok(())
}

/// Every diagnostic has a message, a help line when it is an error, is not
/// a bug (`V999`), and points inside its file at character boundaries.
fn sound(diagnostics: &[Diagnostic]) -> Result<(), String> {
    for d in diagnostics {
        let code = d.code.as_str();
        let what = format!("  {code} `{}`", d.message);
        if d.message.is_empty() {
            return Err(format!("a {code} diagnostic without a message\n{what}"));
        }
        if d.code == Code::Internal {
            return Err(format!(
                "an internal error ({code}): a bug by its own words\n{what}"
            ));
        }
        if d.is_error() && d.help.is_none() {
            return Err(format!("a {code} error without a help line\n{what}"));
        }
        let Some(file) = &d.file else { continue };
        for label in d.primary.iter().chain(&d.secondary) {
            let span = label.span;
            let inside = span.start <= span.end
                && span.end <= file.text.len()
                && file.text.is_char_boundary(span.start)
                && file.text.is_char_boundary(span.end);
            if !inside {
                return Err(format!(
                    "a {code} span that is not inside the file at character boundaries\n{what}: bytes {}..{} of {}",
                    span.start,
                    span.end,
                    file.text.len()
                ));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Commands on a file
// ---------------------------------------------------------------------------

/// `vane validate` and `vane fmt --check` on the input written to `path`:
/// each exit code is 0, 1 or 2 and is the one the library's diagnostics
/// call for, and the diagnostics can be drawn in every output format.
/// With `binary`, the `vane validate` binary must exit as the library
/// command does.
fn commands_agree(path: &Path, bytes: &[u8], binary: bool) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write the input: {e}"))?;

    // What the library says, stage by stage, as `check_file` combines it.
    let (expected_validate, expected_fmt) =
        match vane::syntax::yaml::read_source(path, bytes.to_vec()) {
            Err(d) => (Report::exit_for(&[d]), Exit::Error),
            Ok(file) => {
                let (loaded, mut diagnostics) = vane::syntax::load_file(&Arc::new(file));
                let fmt_exit = match &loaded {
                    _ if has_error(&diagnostics) => Exit::Error,
                    Some(l)
                        if vane::syntax::fmt::format_text(&l.pipeline.file.text, &l.sites)
                            != l.pipeline.file.text =>
                    {
                        Exit::Findings
                    }
                    _ => Exit::Ok,
                };
                if let Some(loaded) = &loaded {
                    let (sources, found) = vane::sources::resolve(&loaded.pipeline);
                    diagnostics.extend(found);
                    let earlier_errors = has_error(&diagnostics);
                    let (_, found) = vane::check::check(&loaded.pipeline, &sources);
                    diagnostics.extend(
                        found
                            .into_iter()
                            .filter(|d| !(earlier_errors && d.code == Code::Unused)),
                    );
                }
                (Report::exit_for(&diagnostics), fmt_exit)
            }
        };

    let paths = [path.to_path_buf()];
    let validate = commands::validate(&paths, Data::Unread);
    report_sound("validate", &validate)?;
    if validate.exit != expected_validate {
        return Err(format!(
            "validate exits {:?}, but the library's diagnostics call for {expected_validate:?}\n  {}",
            validate.exit,
            codes_of(&validate)
        ));
    }
    let fmt = commands::fmt(&paths, true);
    report_sound("fmt --check", &fmt)?;
    if fmt.exit != expected_fmt {
        return Err(format!(
            "fmt --check exits {:?}, but loading and formatting call for {expected_fmt:?}\n  {}",
            fmt.exit,
            codes_of(&fmt)
        ));
    }
    let _ = vane::diagnostics::render_human(&validate.diagnostics, false);
    let _ = vane::diagnostics::render_json(&validate.diagnostics);
    let _ = vane::diagnostics::render_github(&validate.diagnostics);
    if binary {
        let format = ["human", "json", "github"][bytes.len() % 3];
        let args = [
            "validate".as_ref(),
            "--output-format".as_ref(),
            format.as_ref(),
            path.as_os_str(),
        ];
        let exit = vane_binary(&args, INPUT_BUDGET, &path.with_extension("stderr"))?;
        if exit != validate.exit as i32 {
            return Err(format!(
                "the vane binary's validate exits otherwise than the library's\n  {exit} and {}",
                validate.exit as i32
            ));
        }
    }
    Ok(())
}

/// `vane run` (the binary, whose crashes cannot take the tests down) on a
/// generated pipeline that checks cleanly against the fixture's schemas,
/// over the fixture's files: it exits 0, 1 or 2, without a bug (`V999`).
fn run_binary(fixture: &Fixture, path: &Path, index: usize, bytes: &[u8]) -> Result<i32, String> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write the input: {e}"))?;
    let out = fixture.dir.path().join(format!("out-{index}"));
    let exit = vane_run(path, &out, RUN_BUDGET);
    let _ = std::fs::remove_dir_all(&out);
    exit
}

/// `vane run PATH --as-of 2026-11-01 --threads 2 --out OUT` (the binary),
/// killed after `budget`.
fn vane_run(path: &Path, out: &Path, budget: Duration) -> Result<i32, String> {
    let args = [
        "run".as_ref(),
        path.as_os_str(),
        "--as-of".as_ref(),
        "2026-11-01".as_ref(),
        "--threads".as_ref(),
        "2".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ];
    vane_binary(&args, budget, &path.with_extension("stderr"))
}

/// Run the `vane` binary, killing it after `budget`: its exit code, which
/// must be 0, 1 or 2, with no bug (`V999`) among its diagnostics. Its
/// standard error goes to `stderr` (a pipe could fill while it runs).
fn vane_binary(args: &[&std::ffi::OsStr], budget: Duration, stderr: &Path) -> Result<i32, String> {
    use std::process::{Command, Stdio};
    let name = args
        .first()
        .map(|a| a.to_string_lossy())
        .unwrap_or_default();
    let command = args
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let log = std::fs::File::create(stderr).map_err(|e| format!("cannot create a log: {e}"))?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_vane"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start vane: {e}"))?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < budget => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`vane {name}` still runs after {budget:?}: killed\n  vane {command}"
                ));
            }
            Err(e) => return Err(format!("cannot wait for vane: {e}")),
        }
    };
    let text = std::fs::read_to_string(stderr).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(6)..].join("\n");
    // V999 as each output format writes it (human, GitHub, JSON).
    let bug = text.contains("V999::") || text.contains("\"V999\"");
    match status.code() {
        Some(code @ 0..=2) if !bug => Ok(code),
        Some(code @ 0..=2) => Err(format!(
            "`vane {name}` exits {code} with a bug (V999)\n  vane {command}\n{tail}"
        )),
        _ => Err(format!(
            "`vane {name}` ended with {status}\n  vane {command}\n{tail}"
        )),
    }
}

/// A command's report: exit 0, 1 or 2, 2 exactly when it has an error,
/// and its diagnostics sound.
fn report_sound(command: &str, report: &Report) -> Result<(), String> {
    let code = report.exit as i32;
    if !(0..=2).contains(&code) {
        return Err(format!("{command} exits {code}"));
    }
    let has_error = report.diagnostics.iter().any(Diagnostic::is_error);
    if (report.exit == Exit::Error) != has_error {
        return Err(format!(
            "{command} exits {code} with {}",
            if has_error { "errors" } else { "no error" }
        ));
    }
    sound(&report.diagnostics).map_err(|e| format!("{command}: {e}"))
}

/// A report's diagnostics, briefly.
fn codes_of(report: &Report) -> String {
    report
        .diagnostics
        .iter()
        .map(|d| format!("{} {}", d.code.as_str(), d.message))
        .collect::<Vec<_>>()
        .join("; ")
}

// ---------------------------------------------------------------------------
// Fixture files for commands and runs
// ---------------------------------------------------------------------------

/// A type expressions are generated for (and fixture columns have).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
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
    const ALL: [Ty; 7] = [
        Ty::Bool,
        Ty::Int,
        Ty::Num,
        Ty::Str,
        Ty::Time,
        Ty::Date,
        Ty::Dur,
    ];

    /// The language's type.
    fn vane(self) -> Type {
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
    fn literals(self) -> Literals {
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
    fn fits(self, want: Ty) -> bool {
        self == want
            || (self == Ty::Int && want == Ty::Num)
            || (self == Ty::Date && want == Ty::Time)
    }
}

/// Literals of one type the generator writes.
struct Literals {
    /// Ones the language accepts.
    accepted: &'static [&'static str],
    /// Ones it rejects (`V200`, `V202`, `V400`).
    rejected: &'static [&'static str],
}

/// A fixture source: its name, its `time:` column, its columns.
type FixtureSource = (
    &'static str,
    Option<&'static str>,
    &'static [(&'static str, Ty)],
);

/// The fixture's sources.
const FIXTURE: &[FixtureSource] = &[
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
const KPIS: &[&str] = &["difot", "cycle_time_days", "nps"];

/// A folder with the fixture sources as Parquet files under `data/`, and
/// their schemas as `vane validate --data` would read them.
struct Fixture {
    dir: tempfile::TempDir,
    schemas: Schemas,
}

impl Fixture {
    /// Write the fixture's files into a new temporary folder.
    fn write() -> Fixture {
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
fn fixture_column(
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

/// Write columns to a Parquet file, creating its folder.
fn write_parquet(path: &Path, columns: Vec<(String, ArrayRef)>) {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(name, array.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let arrays = columns.into_iter().map(|(_, a)| a).collect();
    let batch = RecordBatch::try_new(Arc::clone(&schema), arrays).expect("batch");
    std::fs::create_dir_all(path.parent().expect("folder")).expect("mkdir");
    let file = std::fs::File::create(path).expect("create");
    let mut writer =
        datafusion::parquet::arrow::ArrowWriter::try_new(file, schema, None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
}

/// Midnight UTC at the start of `date`, in microseconds.
fn micros(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_micros()
}

// ---------------------------------------------------------------------------
// Inputs: what each front-end case is made of
// ---------------------------------------------------------------------------

/// Where an input comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A pipeline built from the grammar.
    Generated,
    /// A generated pipeline, then mutated.
    GeneratedMutated,
    /// An example pipeline (`pipelines/*.yaml`), mutated.
    Example,
    /// A file of `tests/corpus`, mutated.
    Corpus,
    /// A small pipeline with one random or mutated expression.
    Expression,
}

impl Kind {
    /// The kind's name in reports.
    fn name(self) -> &'static str {
        match self {
            Kind::Generated => "generated",
            Kind::GeneratedMutated => "generated, mutated",
            Kind::Example => "example, mutated",
            Kind::Corpus => "corpus, mutated",
            Kind::Expression => "expression",
        }
    }
}

/// One input: its bytes and where they come from.
struct Input {
    kind: Kind,
    bytes: Vec<u8>,
}

impl Input {
    /// A random input of a random kind.
    fn generate(rng: &mut ChaCha8Rng, corpus: &Corpus) -> Input {
        // Shares, in thousandths, weighed by cost: an example pipeline
        // takes ten times as long as a generated one to load in a debug build.
        let (kind, bytes) = match rng.random_range(0..1000) {
            0..400 => (Kind::Generated, Gen::new(rng).pipeline().into_bytes()),
            400..500 => {
                let mut bytes = Gen::new(rng).pipeline().into_bytes();
                mutate(rng, &mut bytes, corpus);
                (Kind::GeneratedMutated, bytes)
            }
            500..510 => {
                let mut bytes = corpus.examples[rng.random_range(0..corpus.examples.len())].clone();
                mutate(rng, &mut bytes, corpus);
                (Kind::Example, bytes)
            }
            510..880 => {
                let files = &corpus.files;
                let mut bytes = files[rng.random_range(0..files.len())].clone();
                mutate(rng, &mut bytes, corpus);
                (Kind::Corpus, bytes)
            }
            _ => (
                Kind::Expression,
                Gen::new(rng).expression_pipeline().into_bytes(),
            ),
        };
        Input { kind, bytes }
    }
}

/// The files mutations start from and splice in.
struct Corpus {
    /// `pipelines/*.yaml`.
    examples: Vec<Vec<u8>>,
    /// The files under `tests/corpus`, but alias bombs: expanding one to
    /// the YAML limits takes most of a second in a debug build (as long
    /// again under load), so they would make the time budget flaky; the
    /// corpus test covers them.
    files: Vec<Vec<u8>>,
    /// Every line of all of them, to splice into others.
    lines: Vec<Vec<u8>>,
}

impl Corpus {
    /// Read the example pipelines and the corpus.
    fn load() -> Corpus {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let read_all = |dir: &Path| -> Vec<Vec<u8>> {
            let mut paths = Vec::new();
            let mut pending = vec![dir.to_path_buf()];
            while let Some(dir) = pending.pop() {
                for entry in std::fs::read_dir(&dir).expect("corpus folder") {
                    let path = entry.expect("entry").path();
                    if path.is_dir() {
                        pending.push(path);
                    } else if path.extension().is_some_and(|e| e == "yaml") {
                        paths.push(path);
                    }
                }
            }
            paths.sort();
            paths
                .iter()
                .map(|p| std::fs::read(p).expect("corpus file"))
                .collect()
        };
        let examples = read_all(&root.join("pipelines"));
        let anchors = |f: &Vec<u8>| {
            f.windows(2)
                .filter(|w| w[0] == b'&' && w[1].is_ascii_alphabetic())
                .count()
        };
        let files: Vec<Vec<u8>> = read_all(&root.join("tests/corpus"))
            .into_iter()
            .filter(|f| anchors(f) < 3)
            .collect();
        assert!(
            examples.len() >= 2 && files.len() >= 10,
            "the corpus is missing"
        );
        let lines = examples
            .iter()
            .chain(&files)
            .flat_map(|f| f.split(|&b| b == b'\n').map(<[u8]>::to_vec))
            .filter(|l| !l.is_empty())
            .collect();
        Corpus {
            examples,
            files,
            lines,
        }
    }
}

// ---------------------------------------------------------------------------
// Byte-level mutations
// ---------------------------------------------------------------------------

/// Pieces inserted by mutations: YAML syntax, expression syntax, extreme
/// literals and keys.
#[rustfmt::skip]
const TOKENS: &[&str] = &[
    ":", ": ", "- ", "-", "[", "]", "{", "}", ",", "'", "\"", "|", ">", "|-", "#", " #", "&a ",
    "*a", "<<: *a", "!!str ", "!!int ", "? ", "---\n", "...\n", "\t", "\n", "\r\n", "  ",
    "\u{feff}", "\0", "é", "\\", "@", "`", "%", "(", ")", "and ", " or ", "not ", "null", "~",
    "true", "1", "-1", "0.5", "1e309", "9223372036854775808", "110000000d", "106751991d", "30d",
    "@9999-12-31", "@0001-01-01T00:00:00Z", "case when ", " end", "count()", "sum(", "previous(",
    "change(", "score(", "{{", "}}", "value: ", "from: events\n", "window: ", "where: ",
    "vane: 1\n", "as_of", "account.", "between 1 and ", " is not null", " in ['a', null]",
];

/// Numbers swapped in for a run of digits.
#[rustfmt::skip]
const NUMBERS: &[&str] = &[
    "0", "1", "-1", "100", "0.0", "9223372036854775807", "9223372036854775808",
    "99999999999999999999", "1e309", "0.5", "110000000", "106751991", "1e-320",
];

/// Apply 1–8 random edits to `bytes`: insertions, deletions, lines
/// duplicated, dropped, swapped, re-indented or spliced from other files,
/// numbers and words replaced, bits flipped.
fn mutate(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>, corpus: &Corpus) {
    let edits = 1 + rng.random_range(0..4) + rng.random_range(0..5);
    for _ in 0..edits {
        let at = boundary(bytes, rng.random_range(0..=bytes.len()));
        match rng.random_range(0..24) {
            0..6 => {
                let token = TOKENS[rng.random_range(0..TOKENS.len())];
                bytes.splice(at..at, token.bytes());
            }
            6..9 => {
                let end = boundary(bytes, (at + rng.random_range(1..24)).min(bytes.len()));
                bytes.drain(at..end.max(at));
            }
            9..11 => {
                let lines = line_starts(bytes);
                let (from, to) = line_range(bytes, &lines, rng.random_range(0..lines.len()));
                let line = bytes[from..to].to_vec();
                let target = lines[rng.random_range(0..lines.len())];
                bytes.splice(target..target, line);
            }
            11 => {
                let lines = line_starts(bytes);
                let (from, to) = line_range(bytes, &lines, rng.random_range(0..lines.len()));
                bytes.drain(from..to);
            }
            12 => {
                let lines = line_starts(bytes);
                let a = line_range(bytes, &lines, rng.random_range(0..lines.len()));
                let b = line_range(bytes, &lines, rng.random_range(0..lines.len()));
                let (first, second) = if a.0 <= b.0 { (a, b) } else { (b, a) };
                if first.1 <= second.0 {
                    let mut swapped = bytes[..first.0].to_vec();
                    swapped.extend_from_slice(&bytes[second.0..second.1]);
                    swapped.extend_from_slice(&bytes[first.1..second.0]);
                    swapped.extend_from_slice(&bytes[first.0..first.1]);
                    swapped.extend_from_slice(&bytes[second.1..]);
                    *bytes = swapped;
                }
            }
            13..15 => {
                let lines = line_starts(bytes);
                let start = lines[rng.random_range(0..lines.len())];
                match rng.random_range(0..4) {
                    0 => {
                        bytes.insert(start, b'\t');
                    }
                    1 if bytes.get(start) == Some(&b' ') => {
                        bytes.remove(start);
                    }
                    _ => {
                        bytes.splice(start..start, *b"  ");
                    }
                }
            }
            15..17 => {
                if let Some((from, to)) = pick_run(rng, bytes, |b| b.is_ascii_digit()) {
                    let number = NUMBERS[rng.random_range(0..NUMBERS.len())];
                    bytes.splice(from..to, number.bytes());
                }
            }
            17..20 => {
                let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
                if let (Some((from, to)), Some((a, b))) =
                    (pick_run(rng, bytes, word), pick_run(rng, bytes, word))
                {
                    let replacement = bytes[a..b].to_vec();
                    bytes.splice(from..to, replacement);
                }
            }
            20..22 => {
                let line = &corpus.lines[rng.random_range(0..corpus.lines.len())];
                let lines = line_starts(bytes);
                let target = lines[rng.random_range(0..lines.len())];
                let mut spliced = line.clone();
                spliced.push(b'\n');
                bytes.splice(target..target, spliced);
            }
            22 => {
                if !bytes.is_empty() {
                    let i = rng.random_range(0..bytes.len());
                    bytes[i] ^= 1 << rng.random_range(0..8);
                }
            }
            _ => {
                if rng.random_bool(0.3) {
                    bytes.truncate(at);
                }
            }
        }
    }
}

/// The nearest character boundary at or before `at` (bytes that are not
/// UTF-8 continuation bytes).
fn boundary(bytes: &[u8], at: usize) -> usize {
    let mut at = at.min(bytes.len());
    while at > 0 && at < bytes.len() && bytes[at] & 0xC0 == 0x80 {
        at -= 1;
    }
    at
}

/// Where each line starts.
fn line_starts(bytes: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1)
                .filter(|&i| i < bytes.len()),
        )
        .collect()
}

/// Line `n`, with its newline.
fn line_range(bytes: &[u8], starts: &[usize], n: usize) -> (usize, usize) {
    let from = starts[n];
    let to = starts.get(n + 1).copied().unwrap_or(bytes.len());
    (from, to)
}

/// A random maximal run of bytes for which `class` holds.
fn pick_run(
    rng: &mut ChaCha8Rng,
    bytes: &[u8],
    class: impl Fn(u8) -> bool,
) -> Option<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if class(bytes[i]) {
            let start = i;
            while i < bytes.len() && class(bytes[i]) {
                i += 1;
            }
            runs.push((start, i));
        } else {
            i += 1;
        }
    }
    (!runs.is_empty()).then(|| runs[rng.random_range(0..runs.len())])
}

// ---------------------------------------------------------------------------
// The pipeline grammar
// ---------------------------------------------------------------------------

/// A YAML value of a generated pipeline, rendered with random layout and quoting.
#[derive(Debug, Clone)]
enum Y {
    /// A scalar written as is (numbers, booleans, plain words).
    Raw(String),
    /// Text (an expression, a template, a path), quoted as its content needs.
    Str(String),
    /// A mapping, in block or flow style.
    Map(Vec<(String, Y)>),
    /// A list, in block or flow style.
    List(Vec<Y>),
}

/// A scalar written as is.
fn raw(text: impl Into<String>) -> Y {
    Y::Raw(text.into())
}

/// Text, quoted as its content needs.
fn text(text: impl Into<String>) -> Y {
    Y::Str(text.into())
}

/// A mapping with these entries, in order.
fn map(entries: Vec<(&str, Y)>) -> Y {
    Y::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// Where an expression is, which decides what it may name and call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// A row of the source at this index (`where:`, `population:`, aggregate arguments).
    Row(usize),
    /// The `value:` of a metric over the source at this index.
    Aggregate(usize),
    /// A derived metric or a health model.
    Entity,
    /// An indicator's score (`value` is the metric's value).
    Score,
    /// A playbook (`health`, `band`, `score(…)`).
    Playbook,
}

/// A source the generated pipeline declares.
struct SourceDef {
    name: String,
    time: Option<String>,
    columns: Vec<(String, Ty)>,
}

/// The names a generated pipeline declares, for its expressions to use.
struct World {
    sources: Vec<SourceDef>,
    entity: String,
    attributes: Vec<(String, Ty)>,
    metrics: Vec<(String, Ty)>,
    indicators: Vec<String>,
    /// Whether the pipeline has a `targets:` section (for `target`, `attainment`).
    has_targets: bool,
    /// Whether it has a `health:` section (for `health`, `band`).
    has_health: bool,
}

impl World {
    /// The fixture's sources and an `account` entity.
    fn fixture() -> World {
        World {
            sources: FIXTURE
                .iter()
                .map(|(name, time, columns)| SourceDef {
                    name: name.to_string(),
                    time: time.map(str::to_string),
                    columns: columns.iter().map(|(c, t)| (c.to_string(), *t)).collect(),
                })
                .collect(),
            entity: "account".to_string(),
            attributes: FIXTURE[0].2[1..]
                .iter()
                .map(|(c, t)| (c.to_string(), *t))
                .collect(),
            metrics: Vec::new(),
            indicators: Vec::new(),
            has_targets: true,
            has_health: true,
        }
    }
}

/// An expression's text and whether it can be an operand without parentheses.
struct E {
    text: String,
    atomic: bool,
}

/// An expression that is an operand as it is.
fn atom(text: impl Into<String>) -> E {
    E {
        text: text.into(),
        atomic: true,
    }
}

/// An expression that needs parentheses as an operand.
fn compound(text: impl Into<String>) -> E {
    E {
        text: text.into(),
        atomic: false,
    }
}

/// Names for definitions.
#[rustfmt::skip]
const NAMES: &[&str] = &[
    "logins", "users", "revenue", "tickets", "nps", "usage", "trend", "ratio", "first_seen",
    "churn_risk", "m", "x1", "_hidden", "Seats",
];
/// Names the language rejects for definitions (keywords, names that are
/// not identifiers, names of columns Vane adds or of attributes).
#[rustfmt::skip]
const BAD_NAMES: &[&str] = &[
    "and", "bad name", "1st", "health", "score__x", "__x", "account_id", "é", "value", "band",
    "case", "seats",
];
/// Identifiers that are nobody's, and near misses of real ones.
#[rustfmt::skip]
const STRANGERS: &[&str] = &[
    "nope", "logns", "acount", "evnt_type", "user", "x", "_", "ü", "END", "Null", "as_of2",
];
/// The types of generated metrics, numbers the most often.
#[rustfmt::skip]
const METRIC_TYPES: &[Ty] = &[
    Ty::Int, Ty::Int, Ty::Num, Ty::Num, Ty::Num, Ty::Time, Ty::Str, Ty::Bool, Ty::Dur,
];
/// Windows: ones the language accepts, and ones it rejects.
#[rustfmt::skip]
const WINDOWS: Literals = Literals {
    accepted: &["30d", "7d", "90d", "4w", "1h", "365d", "1s", "36500d"],
    rejected: &["0d", "-1d", "30", "1mo", "110000000d", "30 days", "1.5d", "'30d'", "[30d]"],
};
/// Names of functions the language does not have, some near real ones.
#[rustfmt::skip]
const UNKNOWN_FUNCTIONS: &[&str] = &[
    "cout", "sum_iff", "Avg", "percentil", "prev", "lower_", "now", "date_trunc",
];
/// Literal text of message templates (a `#` is not a comment there).
#[rustfmt::skip]
const TEMPLATE_TEXT: &[&str] = &["Account ", " has ", " logins", ": ", "x", "ü ", " # not a comment"];
/// Token soup for broken expressions.
#[rustfmt::skip]
const EXPR_TOKENS: &[&str] = &[
    "(", ")", "[", "]", "{", "}", ",", "+", "-", "*", "/", "=", "!=", "<>", "<", "<=", ">", ">=",
    "==", "&&", "||", "and", "or", "not", "in", "is", "null", "between", "case", "when", "then",
    "else", "end", "true", "as_of", "value", "health", "band", "account", ".", "account.seats",
    "`", "'", "''", "\"", "@", "@2026-01-31", "@2026-02-30", "30d", "0d", "110000000d", "1e309",
    "9223372036854775808", "%", "95%", "1.5", "0", "count(", "sum(", "previous(", "change(",
    "score(", "x", "é", "\\", "#", ":", "|", "\t", "\n", "..", "1.", ".5", "30 days", "1mo",
];

/// A pipeline and expression generator over one RNG stream.
struct Gen<'r> {
    rng: &'r mut ChaCha8Rng,
    world: World,
    /// The chance that an expression node is something off the grammar.
    noise: f64,
    /// How many expressions are being generated inside one another; past
    /// [`MAX_NESTING`] only literals are.
    nesting: u32,
}

/// The deepest generated expressions nest (noise aside, which writes its
/// deep nesting as text).
const MAX_NESTING: u32 = 24;

impl<'r> Gen<'r> {
    /// A generator over the fixture's world, with a random amount of noise.
    fn new(rng: &'r mut ChaCha8Rng) -> Gen<'r> {
        let noise = [0.0, 0.0, 0.003, 0.01, 0.04][rng.random_range(0..5)];
        Gen {
            rng,
            world: World::fixture(),
            noise,
            nesting: 0,
        }
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    /// One of `items`.
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// A keyword, sometimes in upper or title case.
    fn kw(&mut self, word: &str) -> String {
        match self.below(10) {
            0 => word.to_uppercase(),
            1 => {
                let mut chars = word.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or_default()
            }
            _ => word.to_string(),
        }
    }

    /// A name as written in an expression: plain, or in backticks.
    fn name(&mut self, name: &str) -> String {
        let plain = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plain || self.chance(0.04) {
            format!("`{name}`")
        } else {
            name.to_string()
        }
    }

    // --- expressions -------------------------------------------------------

    /// An expression of type `want` in `scope`, at most `depth` levels deep.
    fn expr(&mut self, scope: Scope, want: Ty, depth: u32) -> E {
        if self.nesting >= MAX_NESTING {
            return self.literal(want);
        }
        self.nesting += 1;
        let e = if self.chance(self.noise) {
            self.noise(scope, want, depth)
        } else if depth == 0 || self.chance(0.3) {
            self.leaf(scope, want)
        } else {
            self.compound(scope, want, depth - 1)
        };
        self.nesting -= 1;
        e
    }

    /// An operand: parenthesised unless atomic (and sometimes anyway, or
    /// sometimes not, which may regroup it).
    fn operand(&mut self, scope: Scope, want: Ty, depth: u32) -> String {
        let e = self.expr(scope, want, depth);
        if (!e.atomic && !self.chance(0.03)) || self.chance(0.03) {
            format!("({})", e.text)
        } else {
            e.text
        }
    }

    /// A name `scope` can see of type `want`, a literal, or (in an aggregate
    /// metric) an aggregate call.
    fn leaf(&mut self, scope: Scope, want: Ty) -> E {
        let mut names: Vec<String> = Vec::new();
        match scope {
            Scope::Row(s) => {
                let columns: Vec<String> = self.world.sources[s]
                    .columns
                    .iter()
                    .filter(|(_, t)| t.fits(want))
                    .map(|(c, _)| c.clone())
                    .collect();
                for c in columns {
                    names.push(self.name(&c));
                }
            }
            Scope::Aggregate(s) => {
                if self.chance(0.8)
                    && let Some(call) = self.call(Scope::Aggregate(s), want, 1, true)
                {
                    return call;
                }
            }
            Scope::Entity | Scope::Score | Scope::Playbook => {
                let metrics: Vec<String> = self
                    .world
                    .metrics
                    .iter()
                    .filter(|(_, t)| t.fits(want))
                    .map(|(m, _)| m.clone())
                    .collect();
                for m in metrics {
                    names.push(self.name(&m));
                }
                let attributes: Vec<String> = self
                    .world
                    .attributes
                    .iter()
                    .filter(|(_, t)| t.fits(want))
                    .map(|(a, _)| a.clone())
                    .collect();
                for a in attributes {
                    let attribute = self.name(&a);
                    names.push(format!("{}.{attribute}", self.world.entity));
                }
                let health = self.world.has_health || self.chance(self.noise);
                match (scope, want) {
                    (Scope::Score, Ty::Num | Ty::Int) => names.push("value".into()),
                    (Scope::Playbook, Ty::Num) if health => names.push("health".into()),
                    (Scope::Playbook, Ty::Str) if health => names.push("band".into()),
                    _ => {}
                }
            }
        }
        if want == Ty::Time {
            names.push("as_of".into());
        }
        if names.is_empty() || self.chance(0.35) {
            self.literal(want)
        } else {
            let i = self.below(names.len());
            atom(names.swap_remove(i))
        }
    }

    /// A literal of type `want` (or `null`; with noise, one the language rejects).
    fn literal(&mut self, want: Ty) -> E {
        if self.chance(0.04) {
            return atom(self.kw("null"));
        }
        let literals = want.literals();
        if self.chance(self.noise) {
            return atom(self.pick(literals.rejected));
        }
        let text = match (want, self.below(3)) {
            (Ty::Int, 0) => self.rng.random_range(0..1000u32).to_string(),
            (Ty::Num, 0) => format!("{}.{}", self.below(100), self.below(100)),
            (Ty::Num, 1) => format!("{}%", self.below(150)),
            (Ty::Dur, 0) => format!(
                "{}{}",
                self.below(1000),
                self.pick(&["w", "d", "h", "min", "s"])
            ),
            _ => self.pick(literals.accepted).to_string(),
        };
        atom(text)
    }

    /// An operator, a call or a `case` giving `want`, its operands at most
    /// `depth` deep.
    fn compound(&mut self, scope: Scope, want: Ty, depth: u32) -> E {
        if self.chance(0.25)
            && let Some(call) = self.call(scope, want, depth, false)
        {
            return call;
        }
        if self.chance(0.06) {
            return self.case(scope, want, depth);
        }
        match want {
            Ty::Bool => self.condition(scope, depth),
            Ty::Int | Ty::Num => {
                let ops: &[&str] = if want == Ty::Int {
                    &["+", "-", "*"]
                } else {
                    &["+", "-", "*", "/"]
                };
                if self.chance(0.1) {
                    let operand = self.operand(scope, want, depth);
                    return compound(format!("-{operand}"));
                }
                if self.chance(0.004) {
                    // A long flat chain: deep trees without any nesting.
                    let n = 20 + self.below(500);
                    let terms: Vec<String> =
                        (0..n).map(|_| self.leaf(scope, Ty::Int).text).collect();
                    return compound(terms.join(self.pick(&[" + ", "+", " * ", "-"])));
                }
                let op = self.pick(ops);
                let operand_ty = if want == Ty::Num && self.chance(0.5) {
                    Ty::Int
                } else {
                    want
                };
                let left = self.operand(scope, operand_ty, depth);
                let right = self.operand(scope, want, depth);
                compound(self.binary(&left, op, &right))
            }
            Ty::Time | Ty::Date => {
                let time = self.operand(scope, Ty::Time, depth);
                let duration = self.operand(scope, Ty::Dur, depth);
                let op = self.pick(&["+", "-"]);
                compound(self.binary(&time, op, &duration))
            }
            Ty::Dur => match self.below(3) {
                0 => {
                    let a = self.operand(scope, Ty::Time, depth);
                    let b = self.operand(scope, Ty::Time, depth);
                    compound(self.binary(&a, "-", &b))
                }
                1 => {
                    let a = self.operand(scope, Ty::Dur, depth);
                    let b = self.operand(scope, Ty::Num, depth);
                    compound(self.binary(&a, "*", &b))
                }
                _ => {
                    let a = self.operand(scope, Ty::Dur, depth);
                    let b = self.operand(scope, Ty::Dur, depth);
                    let op = self.pick(&["+", "-"]);
                    compound(self.binary(&a, op, &b))
                }
            },
            Ty::Str => self
                .call(scope, want, depth, false)
                .unwrap_or_else(|| self.leaf(scope, want)),
        }
    }

    /// `left op right` with random spacing (words always get spaces).
    fn binary(&mut self, left: &str, op: &str, right: &str) -> String {
        let space = if op.chars().all(char::is_alphabetic) {
            " "
        } else {
            self.pick(&[" ", " ", " ", "", "  "])
        };
        let op = if op.chars().all(char::is_alphabetic) {
            self.kw(op)
        } else {
            op.to_string()
        };
        format!("{left}{space}{op}{space}{right}")
    }

    /// A boolean: a comparison, `and`/`or`/`not`, `is [not] null`,
    /// `[not] in`, `[not] between`.
    fn condition(&mut self, scope: Scope, depth: u32) -> E {
        match self.below(8) {
            0 | 1 => {
                let ty = self.pick(&Ty::ALL);
                let op = self.pick(&["=", "!=", "<>", "<", "<=", ">", ">="]);
                let left = self.operand(scope, ty, depth);
                let right = self.operand(scope, ty, depth);
                compound(self.binary(&left, op, &right))
            }
            2 | 3 => {
                let op = self.pick(&["and", "or"]);
                let left = self.operand(scope, Ty::Bool, depth);
                let right = self.operand(scope, Ty::Bool, depth);
                compound(self.binary(&left, op, &right))
            }
            4 => {
                let not = self.kw("not");
                let operand = self.operand(scope, Ty::Bool, depth);
                compound(format!("{not} {operand}"))
            }
            5 => {
                let ty = self.pick(&Ty::ALL);
                let operand = self.operand(scope, ty, depth);
                let is = self.kw("is");
                let not = if self.chance(0.5) {
                    format!(" {}", self.kw("not"))
                } else {
                    String::new()
                };
                let null = self.kw("null");
                compound(format!("{operand} {is}{not} {null}"))
            }
            6 => {
                let ty = self.pick(&[Ty::Int, Ty::Num, Ty::Str, Ty::Date]);
                let operand = self.operand(scope, ty, depth);
                let n = self.below(4);
                let items: Vec<String> = (0..n)
                    .map(|_| self.operand(scope, ty, depth.min(1)))
                    .collect();
                let (open, close) = if self.chance(0.8) {
                    ("[", "]")
                } else {
                    ("(", ")")
                };
                let not = if self.chance(0.3) {
                    format!("{} ", self.kw("not"))
                } else {
                    String::new()
                };
                let in_ = self.kw("in");
                compound(format!(
                    "{operand} {not}{in_} {open}{}{close}",
                    items.join(", ")
                ))
            }
            _ => {
                let ty = self.pick(&[Ty::Int, Ty::Num, Ty::Time, Ty::Str]);
                let operand = self.operand(scope, ty, depth);
                let low = self.operand(scope, ty, depth.min(1));
                let high = self.operand(scope, ty, depth.min(1));
                let not = if self.chance(0.3) {
                    format!("{} ", self.kw("not"))
                } else {
                    String::new()
                };
                let between = self.kw("between");
                let and = self.kw("and");
                compound(format!("{operand} {not}{between} {low} {and} {high}"))
            }
        }
    }

    /// `case when … then … [else …] end` giving `want`.
    fn case(&mut self, scope: Scope, want: Ty, depth: u32) -> E {
        let mut text = self.kw("case");
        for _ in 0..1 + self.below(3) {
            let when = self.kw("when");
            let then = self.kw("then");
            let condition = self.expr(scope, Ty::Bool, depth).text;
            let value = self.expr(scope, want, depth).text;
            write!(text, " {when} {condition} {then} {value}").expect("write");
        }
        if self.chance(0.6) {
            let value = self.expr(scope, want, depth).text;
            write!(text, " {} {value}", self.kw("else")).expect("write");
        }
        write!(text, " {}", self.kw("end")).expect("write");
        atom(text)
    }

    /// A call of a function from the language's table that may be called
    /// in `scope` (only an aggregate with `aggregates_only`) and can give
    /// `want`, with arguments typed from its parameters; `None` when no
    /// function fits.
    fn call(&mut self, scope: Scope, want: Ty, depth: u32, aggregates_only: bool) -> Option<E> {
        let anything = self.chance(self.noise);
        let world = &self.world;
        let fits = |f: &&FunctionDef| {
            let needs = |p: Param| f.params.contains(&p);
            place_fits(f.place, scope)
                && returns_fit(f, want)
                && (!aggregates_only || f.place == Place::Aggregate)
                && (anything || !needs(Param::Kpi) || world.has_targets)
                && (anything || !needs(Param::Indicator) || !world.indicators.is_empty())
                && (anything || !needs(Param::Metric) || !world.metrics.is_empty())
        };
        let candidates: Vec<&FunctionDef> = FUNCTIONS.iter().filter(fits).collect();
        if candidates.is_empty() {
            return None;
        }
        let f = candidates[self.below(candidates.len())];
        let extra = match f.max_args() {
            usize::MAX => self.below(3),
            max => self.below(max - f.min_args() + 1),
        };
        let count = if self.chance(self.noise) {
            self.below(5)
        } else if f.params.contains(&Param::Period) && self.chance(0.85) {
            // A metric without a window needs the period.
            f.params.len()
        } else {
            f.min_args() + extra
        };
        let arguments_scope = match (f.place, scope) {
            (Place::Aggregate, Scope::Aggregate(s)) => Scope::Row(s),
            _ => scope,
        };
        let mut args = Vec::new();
        let mut thresholds = None;
        for i in 0..count {
            args.push(self.argument(f, i, arguments_scope, want, depth, &mut thresholds));
        }
        let name = match self.below(40) {
            0 => f.name.to_uppercase(),
            1 if self.noise > 0.0 => format!("{}s", f.name),
            _ => f.name.to_string(),
        };
        Some(atom(format!("{name}({})", args.join(", "))))
    }

    /// Argument `i` of a call of `f` that should give `want`.
    fn argument(
        &mut self,
        f: &FunctionDef,
        i: usize,
        scope: Scope,
        want: Ty,
        depth: u32,
        thresholds: &mut Option<usize>,
    ) -> String {
        let param = f.param(i);
        let follows = match f.returns {
            Returns::First | Returns::Numeric { .. } => i == 0,
            Returns::Common(from) => i >= from,
            _ => false,
        };
        if follows && param.accepts(want.vane()) && !matches!(param, Param::Metric) {
            return self.expr(scope, want, depth).text;
        }
        match param {
            Param::Digits => self.pick(&["0", "1", "2", "15", "16", "-1", "1.5"]).into(),
            Param::Fraction => self
                .pick(&["0.9", "90%", "0", "1", "50%", "1.5", "0.25"])
                .into(),
            Param::Numbers => {
                let n = match thresholds.take() {
                    Some(n) => n + 1,
                    None => {
                        let n = 1 + self.below(3);
                        *thresholds = Some(n);
                        n
                    }
                };
                let mut value = 0i64;
                let items: Vec<String> = (0..n)
                    .map(|_| {
                        value += self.rng.random_range(1..40);
                        value.to_string()
                    })
                    .collect();
                format!("[{}]", items.join(", "))
            }
            Param::Metric => {
                if scope == Scope::Score && self.chance(0.3) {
                    return "value".into();
                }
                let names: Vec<String> =
                    self.world.metrics.iter().map(|(m, _)| m.clone()).collect();
                match names.len() {
                    0 => self.pick(STRANGERS).into(),
                    n => names[self.below(n)].clone(),
                }
            }
            Param::Period if self.chance(self.noise * 3.0) => {
                self.pick(&["0d", "110000000d", "x", "-1d"]).into()
            }
            Param::Period => self.pick(&["30d", "7d", "4w", "1h", "52w"]).into(),
            Param::Kpi => {
                if !self.chance(self.noise * 3.0) {
                    format!("'{}'", self.pick(KPIS))
                } else {
                    self.pick(&["difot", "'nope'", "1"]).into()
                }
            }
            Param::Indicator => {
                let names = self.world.indicators.clone();
                match names.len() {
                    0 => self.pick(STRANGERS).into(),
                    n => names[self.below(n)].clone(),
                }
            }
            other => {
                let ty = match other {
                    Param::Number => self.pick(&[Ty::Num, Ty::Int]),
                    Param::Temporal | Param::Timestamp => self.pick(&[Ty::Time, Ty::Date]),
                    Param::Duration => Ty::Dur,
                    Param::Text => Ty::Str,
                    Param::Condition | Param::RowCondition => Ty::Bool,
                    Param::Ordered => self.pick(&[Ty::Num, Ty::Int, Ty::Time, Ty::Str]),
                    _ => self.pick(&Ty::ALL),
                };
                self.expr(scope, ty, depth).text
            }
        }
    }

    /// Something off the grammar: a stranger's name, token soup, another
    /// type, a name from another scope, a misspelled call, deep nesting,
    /// long prefix chains, a very long expression, or a cut-off one.
    fn noise(&mut self, scope: Scope, want: Ty, depth: u32) -> E {
        match self.below(11) {
            0 => atom(self.pick(STRANGERS)),
            1 => {
                let n = 1 + self.below(6);
                let tokens: Vec<&str> = (0..n).map(|_| self.pick(EXPR_TOKENS)).collect();
                compound(tokens.join(self.pick(&[" ", ""])))
            }
            2 => {
                let other = self.pick(&Ty::ALL);
                self.expr(scope, other, depth)
            }
            3 => {
                let other = match scope {
                    Scope::Row(_) | Scope::Aggregate(_) => {
                        self.pick(&[Scope::Entity, Scope::Playbook, Scope::Aggregate(1)])
                    }
                    _ => self.pick(&[Scope::Row(1), Scope::Aggregate(1), Scope::Playbook]),
                };
                self.expr(other, want, depth)
            }
            4 => atom(format!(
                "{}({})",
                self.pick(UNKNOWN_FUNCTIONS),
                self.expr(scope, want, depth).text
            )),
            5 => {
                let n = 60 + self.below(8);
                let (open, close) =
                    self.pick(&[("(", ")"), ("[", "]"), ("case when true then ", " end")]);
                let leaf = self.leaf(scope, want).text;
                compound(format!("{}{leaf}{}", open.repeat(n), close.repeat(n)))
            }
            6 => {
                let n = 14 + self.below(5);
                let prefix = if want == Ty::Bool {
                    "not "
                } else {
                    self.pick(&["- ", "-"])
                };
                let leaf = self.leaf(scope, want).text;
                compound(format!("{}{leaf}", prefix.repeat(n)))
            }
            7 => {
                let n = if self.chance(0.02) { 3_000 } else { 50 };
                let leaf = self.leaf(scope, want).text;
                compound(vec![leaf; n].join(" + "))
            }
            8 => {
                let full = self.expr(scope, want, depth).text;
                let cut = boundary(full.as_bytes(), self.below(full.len() + 1));
                compound(full[..cut].to_string())
            }
            9 => compound(format!(
                "{}{}",
                self.expr(scope, want, depth).text,
                self.pick(&[")", "]", ",", " end", " and", "'", " #x"])
            )),
            _ => {
                let other = self.pick(&Ty::ALL);
                self.literal(other)
            }
        }
    }

    // --- pipelines ---------------------------------------------------------

    /// A whole pipeline: every section with plausible, mostly valid
    /// content, then some structural damage, rendered as YAML.
    fn pipeline(&mut self) -> String {
        let mut top: Vec<(String, Y)> = Vec::new();
        let version = if !self.chance(self.noise * 2.0) {
            "1"
        } else {
            self.pick(&["2", "\"1\"", "1.0", "true", "", "[1]"])
        };
        top.push(("vane".into(), raw(version)));
        if self.chance(0.4) {
            let name = if !self.chance(self.noise * 5.0) {
                "fuzzed"
            } else {
                self.pick(&["bad name", "../x", ""])
            };
            top.push(("name".into(), text(name)));
        }
        if self.chance(0.3) {
            top.push((
                "description".into(),
                text("A fuzzed pipeline: {not a template}"),
            ));
        }
        if self.chance(0.2) {
            let zone = if self.chance(self.noise * 5.0) {
                "Europe/Paris"
            } else {
                self.pick(&["UTC", "Etc/UTC", "utc", "Z"])
            };
            top.push(("timezone".into(), text(zone)));
        }

        // Sources: the fixture's, sometimes one more that is nowhere.
        if self.chance(0.2) {
            self.world.sources.pop();
        }
        if self.chance(0.05) {
            self.world.sources.push(SourceDef {
                name: "misc".into(),
                time: Some("t".into()),
                columns: vec![
                    ("t".into(), Ty::Time),
                    ("n".into(), Ty::Int),
                    ("s".into(), Ty::Str),
                ],
            });
        }
        let sources = self.sources();
        top.push(("sources".into(), sources));
        let entity = self.entity();
        top.push(("entity".into(), entity));
        let has_targets =
            self.world.sources.iter().any(|s| s.name == "targets") && self.chance(0.9);
        if has_targets {
            top.push(("targets".into(), self.targets()));
        }
        self.world.has_targets = has_targets;
        self.world.has_health = false;

        // Metrics: names and types first; each metric reads those before it
        // (and rarely any, which may make a cycle).
        let count = self.below(5);
        let mut plans = Vec::new();
        for i in 0..count {
            let name = if self.chance(self.noise * 2.0) {
                self.pick(BAD_NAMES).to_string()
            } else {
                format!("{}_{i}", self.pick(NAMES))
            };
            let ty = self.pick(METRIC_TYPES);
            let source = self.chance(0.7).then(|| {
                if self.chance(0.8) {
                    self.world
                        .sources
                        .iter()
                        .position(|s| s.name == "events")
                        .unwrap_or(0)
                } else {
                    self.below(self.world.sources.len())
                }
            });
            plans.push((name.clone(), ty, source));
            self.world.metrics.push((name, ty));
        }
        let indicator_count = if plans.is_empty() { 0 } else { self.below(3) };
        self.world.indicators = (0..indicator_count).map(|i| format!("ind_{i}")).collect();
        let all_metrics = std::mem::take(&mut self.world.metrics);
        let mut metrics = Vec::new();
        for (i, (name, ty, source)) in plans.iter().enumerate() {
            self.world.metrics = if self.chance(0.05) {
                all_metrics.clone()
            } else {
                all_metrics[..i].to_vec()
            };
            metrics.push((name.clone(), self.metric(*ty, *source)));
        }
        self.world.metrics = all_metrics;
        if !metrics.is_empty() || self.chance(0.1) {
            top.push(("metrics".into(), Y::Map(metrics)));
        }

        let groups = ["adoption", "support", "outcomes", "sentiment"];
        let mut used_groups = BTreeSet::new();
        let mut indicators = Vec::new();
        for name in self.world.indicators.clone() {
            let some = 1 + self.below(groups.len());
            let group = self.pick(&groups[..some]);
            used_groups.insert(group);
            indicators.push((name, self.indicator(&plans, group)));
        }
        if !indicators.is_empty() {
            top.push(("indicators".into(), Y::Map(indicators)));
        }
        if !used_groups.is_empty() && self.chance(0.9) || self.chance(0.05) {
            top.push(("health".into(), self.health(&used_groups)));
            self.world.has_health = true;
        }
        let playbook_count = self.below(3);
        if playbook_count > 0 {
            let playbooks = (0..playbook_count)
                .map(|i| (format!("play_{i}"), self.playbook()))
                .collect();
            top.push(("playbooks".into(), Y::Map(playbooks)));
        }
        if self.chance(0.3) {
            let format = if self.chance(self.noise * 5.0) {
                "xml"
            } else {
                self.pick(&["parquet", "csv", "jsonl"])
            };
            top.push((
                "outputs".into(),
                map(vec![("dir", text("out")), ("format", raw(format))]),
            ));
        }
        if self.chance(0.15) {
            top.push(("tests".into(), self.tests(&plans)));
        }
        if self.chance(0.1) {
            let i = self.below(top.len());
            let j = self.below(top.len());
            top.swap(i, j);
        }
        let mut root = Y::Map(top);
        if self.chance(self.noise * 5.0 + 0.05) {
            for _ in 0..1 + self.below(3) {
                self.damage(&mut root);
            }
        }
        self.render(&root)
    }

    /// The `sources:` section for the world's sources.
    fn sources(&mut self) -> Y {
        let mut entries = Vec::new();
        for i in 0..self.world.sources.len() {
            let source = &self.world.sources[i];
            let (name, time) = (source.name.clone(), source.time.clone());
            let path = if name == "misc" {
                "nowhere/*.csv".to_string()
            } else {
                format!("data/{name}.parquet")
            };
            let mut fields = vec![("path", text(path))];
            if self.chance(0.1) {
                let format = if self.chance(self.noise * 5.0) {
                    self.pick(&["csv", "jsonl", "arrow", "xlsx"])
                } else {
                    "parquet"
                };
                fields.push(("format", raw(format)));
            }
            if let Some(time) = time {
                fields.push(("time", text(time)));
            }
            if self.chance(0.05) {
                fields.push(("key", text("account_id")));
            }
            if self.chance(0.05) {
                fields.push((
                    "missing_columns",
                    raw(if self.chance(self.noise * 5.0) {
                        "ignore"
                    } else {
                        self.pick(&["error", "read_as_null"])
                    }),
                ));
            }
            if self.chance(0.03) {
                fields.push(("partitions", Y::List(vec![raw("region")])));
            }
            if self.chance(0.1) {
                fields.push(("description", text("where: rows # not a comment")));
            }
            entries.push((name, map(fields)));
        }
        Y::Map(entries)
    }

    /// The `entity:` section, with some of the fixture's attributes.
    fn entity(&mut self) -> Y {
        let mut attributes: Vec<(String, Ty)> = self.world.attributes.clone();
        attributes.retain(|_| self.rng.random_bool(0.7));
        let mut listed: Vec<Y> = attributes.iter().map(|(a, _)| raw(a.clone())).collect();
        if self.chance(self.noise * 3.0) {
            listed.push(raw(self.pick(&["csm", "health", "account_id", "seats"])));
        }
        self.world.attributes = attributes;
        let mut fields = vec![
            ("name", raw(self.world.entity.clone())),
            ("source", raw("accounts")),
            ("key", raw("account_id")),
            ("attributes", Y::List(listed)),
        ];
        if self.chance(0.4) {
            let population = self.expr(Scope::Row(0), Ty::Bool, 2).text;
            fields.push(("population", text(population)));
        }
        map(fields)
    }

    /// The `targets:` section (some columns named, rarely wrongly).
    fn targets(&mut self) -> Y {
        let mut fields = vec![("source", raw("targets"))];
        for (key, column) in [
            ("kpi", "kpi"),
            ("value", "target"),
            ("direction", "direction"),
            ("effective_from", "effective_from"),
            ("effective_to", "effective_to"),
        ] {
            if self.chance(0.6) {
                let column = if self.chance(self.noise * 3.0) {
                    "nope"
                } else {
                    column
                };
                fields.push((key, raw(column)));
            }
        }
        map(fields)
    }

    /// A `window:` value.
    fn window(&mut self) -> Y {
        let windows = if self.chance(self.noise * 3.0) {
            WINDOWS.rejected
        } else {
            WINDOWS.accepted
        };
        raw(self.pick(windows))
    }

    /// A metric of type `ty`: an aggregate one over `source`, or a derived one.
    fn metric(&mut self, ty: Ty, source: Option<usize>) -> Y {
        let mut fields = Vec::new();
        match source {
            Some(s) => {
                fields.push(("from", raw(self.world.sources[s].name.clone())));
                if (self.world.sources[s].time.is_some() || self.chance(self.noise * 3.0))
                    && self.chance(0.6)
                {
                    let window = self.window();
                    fields.push(("window", window));
                }
                if self.chance(0.3) {
                    let filter = self.expr(Scope::Row(s), Ty::Bool, 2).text;
                    fields.push(("where", text(filter)));
                }
                let value = self.expr(Scope::Aggregate(s), ty, 2).text;
                fields.push(("value", text(value)));
            }
            None => {
                let value = self.expr(Scope::Entity, ty, 2).text;
                fields.push(("value", text(value)));
                if self.chance(self.noise * 3.0) {
                    let window = self.window();
                    fields.push(("window", window));
                }
            }
        }
        if self.chance(0.2) {
            fields.push(("unit", text(self.pick(&["days", "usd", "percent", "%"]))));
        }
        if self.chance(0.6) {
            fields.push((
                "unused",
                raw(if self.chance(self.noise * 3.0) {
                    "yes"
                } else {
                    "true"
                }),
            ));
        }
        if self.chance(0.1) {
            fields.push(("description", text("Counts things, or not: 'quoted'")));
        }
        if self.chance(self.noise * 2.0) {
            fields.swap_remove(self.below(fields.len()));
        }
        map(fields)
    }

    /// An indicator in `group` scoring one of the planned metrics.
    fn indicator(&mut self, plans: &[(String, Ty, Option<usize>)], group: &str) -> Y {
        let numeric: Vec<&String> = plans
            .iter()
            .filter(|(_, t, _)| matches!(t, Ty::Int | Ty::Num))
            .map(|(n, _, _)| n)
            .collect();
        let metric = match (numeric.len(), plans.len()) {
            (0, 0) => "nope".to_string(),
            (0, n) => plans[self.below(n)].0.clone(),
            (n, _) => numeric[self.below(n)].clone(),
        };
        let kind = if !self.chance(self.noise * 3.0) {
            self.pick(&["leading", "lagging"])
        } else {
            "trailing"
        };
        let score = self.expr(Scope::Score, Ty::Num, 2).text;
        let mut fields = vec![
            ("kind", raw(kind)),
            ("metric", raw(metric)),
            ("score", text(score)),
            ("group", raw(group)),
        ];
        if self.chance(0.4) {
            fields.push(("weight", raw(self.weight())));
        }
        map(fields)
    }

    /// A weight (with noise, one the language rejects).
    fn weight(&mut self) -> String {
        if self.chance(self.noise * 3.0) {
            self.pick(&["-1", "x", "1e999", "[1]", "''", ".inf", "~"])
                .into()
        } else {
            self.pick(&["1", "2", "35", "2.5", "1", "0.001", "3"])
                .into()
        }
    }

    /// The `health:` section: the groups in `used`, bands, sometimes models.
    fn health(&mut self, used: &BTreeSet<&str>) -> Y {
        let mut groups: Vec<(String, Y)> = Vec::new();
        for group in used {
            let weight = self.weight();
            let value = if self.chance(0.2) {
                map(vec![
                    ("weight", raw(weight)),
                    ("description", text("a group")),
                ])
            } else {
                raw(weight)
            };
            groups.push((group.to_string(), value));
        }
        if self.chance(0.1) {
            groups.push(("empty".into(), raw("1")));
        }
        let bands: Vec<(&str, &str, &str)> = if self.chance(self.noise * 4.0) {
            vec![
                ("red", "0", "50"),
                ("green", "40", "100.5"),
                ("blue", "-1", "x"),
            ]
        } else {
            match self.below(3) {
                0 => vec![
                    ("red", "0", "40"),
                    ("yellow", "40", "70"),
                    ("green", "70", "100"),
                ],
                1 => vec![("low", "0", "50"), ("high", "50", "100")],
                _ => vec![("at risk", "0", "100")],
            }
        };
        let bands = bands
            .into_iter()
            .map(|(name, from, to)| {
                (
                    name.to_string(),
                    map(vec![("from", raw(from)), ("to", raw(to))]),
                )
            })
            .collect();
        let mut fields = vec![("groups", Y::Map(groups)), ("bands", Y::Map(bands))];
        if self.chance(0.3) {
            let mut models = Vec::new();
            for i in 0..1 + self.below(2) {
                let when = self.expr(Scope::Entity, Ty::Bool, 2).text;
                let mut model = vec![("when", text(when))];
                if let Some(group) = used.iter().next() {
                    let weight = self.weight();
                    model.push(("groups", map(vec![(group, raw(weight))])));
                }
                if let Some(indicator) = self.world.indicators.first().cloned()
                    && self.chance(0.5)
                {
                    model.push(("indicators", Y::Map(vec![(indicator, raw("0"))])));
                }
                models.push((format!("model_{i}"), map(model)));
            }
            fields.push(("models", Y::Map(models)));
        }
        map(fields)
    }

    /// A message template: text with `{expression}` holes and `{{`/`}}`.
    fn template(&mut self) -> String {
        let mut text = String::new();
        for _ in 0..1 + self.below(3) {
            match self.below(6) {
                0 | 1 => text.push_str(self.pick(TEMPLATE_TEXT)),
                2 => text.push_str(self.pick(&["{{", "}}", "{{literal}}"])),
                3 if self.chance(self.noise * 5.0) => {
                    text.push_str(self.pick(&["}", "{", "{}", "{ "]))
                }
                _ => {
                    let ty = self.pick(&Ty::ALL);
                    let hole = self.expr(Scope::Playbook, ty, 1).text;
                    write!(text, "{{{hole}}}").expect("write");
                }
            }
        }
        text
    }

    /// A playbook with a condition, templates and sometimes a cooldown.
    fn playbook(&mut self) -> Y {
        let when = self.expr(Scope::Playbook, Ty::Bool, 2).text;
        let mut fields = vec![
            ("when", text(when)),
            (
                "action",
                text(self.pick(&["call", "email", "exec_escalation"])),
            ),
            ("message", text(self.template())),
        ];
        if self.chance(0.5) {
            let priority = if !self.chance(self.noise * 3.0) {
                self.pick(&["high", "medium", "low"])
            } else {
                "urgent"
            };
            fields.push(("priority", raw(priority)));
        }
        if self.chance(0.5) {
            fields.push(("owner", text(self.template())));
        }
        if self.chance(0.3) {
            fields.push(("dedup_key", text(self.template())));
        }
        if self.chance(0.4) {
            let cooldown = if self.chance(self.noise * 3.0) {
                self.pick(&["-1d", "1.5d", "forever", "110000000d"])
            } else {
                self.pick(&["7d", "14d", "0d", "1d", "36h"])
            };
            fields.push(("cooldown", raw(cooldown)));
        }
        if self.chance(self.noise * 2.0) {
            fields.swap_remove(self.below(fields.len()));
        }
        map(fields)
    }

    /// A `tests:` section with fixture rows and expectations.
    fn tests(&mut self, plans: &[(String, Ty, Option<usize>)]) -> Y {
        let mut given = Vec::new();
        for s in 0..self.world.sources.len() {
            if self.chance(0.4) {
                continue;
            }
            let source = &self.world.sources[s];
            let (name, columns) = (source.name.clone(), source.columns.clone());
            let mut rows = Vec::new();
            for r in 0..self.below(4) {
                let mut row = Vec::new();
                for (column, ty) in &columns {
                    if self.chance(0.9) {
                        row.push((column.clone(), self.fixture_value(*ty, r)));
                    }
                }
                rows.push(Y::Map(row));
            }
            given.push((name, Y::List(rows)));
        }
        let mut expect = Vec::new();
        for (name, ty, _) in plans.iter().take(3) {
            expect.push((name.clone(), self.fixture_value(*ty, 0)));
        }
        if let Some(indicator) = self.world.indicators.first() {
            expect.push((format!("score.{indicator}"), raw("50")));
        }
        if self.chance(0.5) {
            expect.push(("playbooks".into(), Y::List(vec![raw("play_0")])));
        }
        if self.chance(self.noise * 3.0) {
            expect.push(("nope".into(), raw("1")));
        }
        let as_of = if self.chance(0.95) {
            "2026-11-01"
        } else {
            self.pick(&["2026-13-01", "today", "1"])
        };
        let test = map(vec![
            ("as_of", raw(as_of)),
            ("given", Y::Map(given)),
            ("expect", map(vec![("a1", Y::Map(expect))])),
        ]);
        map(vec![("a_test", test)])
    }

    /// A value for a fixture row or an expectation.
    fn fixture_value(&mut self, ty: Ty, row: usize) -> Y {
        if self.chance(0.1) {
            return raw("null");
        }
        match ty {
            Ty::Str => text(format!("a{}", row + 1)),
            Ty::Int => raw(self.rng.random_range(0..100u32).to_string()),
            Ty::Num => raw(self.pick(&["1.5", "30%", "0", "-2.25"])),
            Ty::Time => raw(self.pick(&[
                "2026-10-30T09:00:00",
                "2026-10-31T23:59:59Z",
                "2026-11-01T00:00:00",
            ])),
            Ty::Date => raw(self.pick(&["2026-10-30", "2024-02-29"])),
            Ty::Bool => raw(self.pick(&["true", "false"])),
            Ty::Dur => raw("30d"),
        }
    }

    /// Structural damage: drop, duplicate or misspell a key, or give a
    /// value the wrong shape.
    fn damage(&mut self, root: &mut Y) {
        let kind = self.below(4);
        let mut shapes = vec![
            raw("1"),
            Y::List(vec![raw("a")]),
            Y::Map(Vec::new()),
            text(""),
            raw("null"),
            raw("&a x"),
            raw("*a"),
        ];
        let replacement = shapes.swap_remove(self.below(shapes.len()));
        let stranger = self
            .pick(&["vlaue", "windw", "x", "metric", "from ", "Value"])
            .to_string();
        let Some(entries) = random_map(self.rng, root) else {
            return;
        };
        if entries.is_empty() {
            entries.push((stranger, replacement));
            return;
        }
        let i = self.rng.random_range(0..entries.len());
        match kind {
            0 => {
                entries.remove(i);
            }
            1 => {
                let copy = entries[i].clone();
                entries.push(copy);
            }
            2 => entries.push((stranger, replacement)),
            _ => entries[i].1 = replacement,
        }
    }

    // --- expressions alone -------------------------------------------------

    /// A small valid pipeline with one expression site replaced by a random
    /// expression, token soup, or a mutated expression.
    fn expression_pipeline(&mut self) -> String {
        self.world.metrics = vec![("logins".into(), Ty::Int), ("derived".into(), Ty::Num)];
        self.world.indicators = vec!["usage".into()];
        let sites = [
            ("POPULATION", Scope::Row(0), Ty::Bool, "seats > 0"),
            ("WHERE", Scope::Row(1), Ty::Bool, "event_type = 'login'"),
            ("AGGREGATE", Scope::Aggregate(1), Ty::Int, "count()"),
            ("DERIVED", Scope::Entity, Ty::Num, "logins / account.seats"),
            ("SCORE", Scope::Score, Ty::Num, "ramp(value, 0, 10)"),
            ("WHEN", Scope::Playbook, Ty::Bool, "band = 'red'"),
            (
                "MESSAGE",
                Scope::Playbook,
                Ty::Str,
                "{account.account_id} has {logins} logins",
            ),
        ];
        let site = self.below(sites.len());
        let (_, scope, want, _) = sites[site];
        let noise = self.noise;
        self.noise = noise.max(0.05);
        let expression = match self.below(10) {
            0..5 => self.expr(scope, want, 4).text,
            5..7 => {
                let n = 1 + self.below(12);
                (0..n)
                    .map(|_| self.pick(EXPR_TOKENS))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            _ => {
                let mut bytes = self.expr(scope, want, 3).text.into_bytes();
                for _ in 0..1 + self.below(3) {
                    let at = boundary(&bytes, self.below(bytes.len() + 1));
                    let token = self.pick(EXPR_TOKENS);
                    if self.chance(0.5) {
                        bytes.splice(at..at, token.bytes());
                    } else {
                        let end = boundary(&bytes, (at + 1 + self.below(4)).min(bytes.len()));
                        bytes.drain(at..end.max(at));
                    }
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }
        };
        self.noise = noise;
        let _ = vane::syntax::parse_expr::parse_str(&expression);
        let mut text = String::from(
            "vane: 1
sources:
  accounts: { path: data/accounts.parquet }
  events: { path: data/events.parquet, time: event_time }
entity:
  name: account
  source: accounts
  key: account_id
  attributes: [seats, arr, segment, signed_at, renewal_date, churned_at, active]
  population: POPULATION
metrics:
  logins:
    from: events
    window: 30d
    where: WHERE
    value: AGGREGATE
  derived:
    value: DERIVED
    unused: true
indicators:
  usage:
    kind: leading
    metric: logins
    score: SCORE
    group: adoption
health:
  groups: { adoption: 1 }
  bands:
    red: { from: 0, to: 50 }
    green: { from: 50, to: 100 }
playbooks:
  quiet:
    when: WHEN
    action: call
    message: MESSAGE
",
        );
        for (i, (marker, _, _, valid)) in sites.iter().enumerate() {
            let value = if i == site {
                expression.as_str()
            } else {
                valid
            };
            let (scalar, _) = self.scalar(value, false, None);
            text = text.replacen(marker, &scalar, 1);
        }
        text
    }

    // --- rendering ---------------------------------------------------------

    /// The pipeline as YAML, sometimes with the schema comment and `---`.
    fn render(&mut self, root: &Y) -> String {
        let mut out = String::new();
        if self.chance(0.2) {
            out.push_str("# yaml-language-server: $schema=../docs/vane.schema.json\n");
        }
        if self.chance(0.05) {
            out.push_str("---\n");
        }
        match root {
            Y::Map(entries) => self.block_map(entries, 0, &mut out),
            other => {
                let flow = self.flow(other);
                out.push_str(&flow);
                out.push('\n');
            }
        }
        out
    }

    /// A block mapping's entries at `indent`.
    fn block_map(&mut self, entries: &[(String, Y)], indent: usize, out: &mut String) {
        for (key, value) in entries {
            out.push_str(&" ".repeat(indent));
            out.push_str(&yaml_key(key));
            out.push(':');
            self.block_value(value, indent, out);
        }
    }

    /// The value of a block mapping's entry, after its `key:`.
    fn block_value(&mut self, value: &Y, indent: usize, out: &mut String) {
        match value {
            Y::Raw(s) => {
                out.push(' ');
                out.push_str(s);
                self.comment(out);
                out.push('\n');
            }
            Y::Str(s) => {
                out.push(' ');
                let (scalar, ends_line) = self.scalar(s, false, Some(indent));
                out.push_str(&scalar);
                if !ends_line {
                    self.comment(out);
                    out.push('\n');
                }
            }
            Y::Map(entries) if entries.is_empty() || self.chance(0.2) => {
                out.push(' ');
                let flow = self.flow(value);
                out.push_str(&flow);
                out.push('\n');
            }
            Y::Map(entries) => {
                self.comment(out);
                out.push('\n');
                self.block_map(entries, indent + 2, out);
            }
            Y::List(items) if items.is_empty() || self.chance(0.6) => {
                out.push(' ');
                let flow = self.flow(value);
                out.push_str(&flow);
                out.push('\n');
            }
            Y::List(items) => {
                out.push('\n');
                for item in items {
                    self.block_item(item, indent + 2, out);
                }
            }
        }
    }

    /// One `- item` of a block list at `indent`.
    fn block_item(&mut self, item: &Y, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match item {
            Y::Map(entries) if !entries.is_empty() && self.chance(0.5) => {
                let mut body = String::new();
                self.block_map(entries, indent + 2, &mut body);
                // `- ` takes the place of the first entry's indentation.
                out.push_str(&pad);
                out.push_str("- ");
                out.push_str(&body[indent + 2..]);
            }
            Y::Raw(s) => {
                let _ = writeln!(out, "{pad}- {s}");
            }
            other => {
                let flow = self.flow(other);
                let _ = writeln!(out, "{pad}- {flow}");
            }
        }
    }

    /// A value in flow style (`{ … }`, `[ … ]`).
    fn flow(&mut self, value: &Y) -> String {
        match value {
            Y::Raw(s) => s.clone(),
            Y::Str(s) => self.scalar(s, true, None).0,
            Y::Map(entries) if entries.is_empty() => "{}".into(),
            Y::Map(entries) => {
                let parts: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{}: {}", yaml_key(k), self.flow(v)))
                    .collect();
                format!("{{ {} }}", parts.join(", "))
            }
            Y::List(items) => {
                let parts: Vec<String> = items.iter().map(|v| self.flow(v)).collect();
                format!("[{}]", parts.join(", "))
            }
        }
    }

    /// A scalar in one of YAML's styles: plain when that is safe (and
    /// rarely when it is not), double- or single-quoted, or a block scalar
    /// when `block_indent` allows one. The flag says the text ends its line.
    fn scalar(&mut self, s: &str, flow: bool, block_indent: Option<usize>) -> (String, bool) {
        if (plain_safe(s, flow) && self.chance(0.75)) || self.chance(0.005) {
            return (s.to_string(), false);
        }
        match self.below(6) {
            0..3 => (double_quoted(s), false),
            3 | 4 => (format!("'{}'", s.replace('\'', "''")), false),
            _ => match block_indent {
                Some(indent) if !s.is_empty() && !s.contains('\n') && !s.starts_with(' ') => {
                    let style = self.pick(&["|", "|-", ">-", ">"]);
                    (format!("{style}\n{}{s}\n", " ".repeat(indent + 2)), true)
                }
                _ => (double_quoted(s), false),
            },
        }
    }

    /// Sometimes a comment at the end of the line.
    fn comment(&mut self, out: &mut String) {
        if self.chance(0.03) {
            out.push_str(" # a comment: with {braces}");
        }
    }
}

/// Whether a place allows a function to be called in `scope`.
fn place_fits(place: Place, scope: Scope) -> bool {
    match place {
        Place::Anywhere => true,
        Place::Aggregate => matches!(scope, Scope::Aggregate(_)),
        Place::Entity => matches!(scope, Scope::Entity | Scope::Score | Scope::Playbook),
        Place::Playbook => scope == Scope::Playbook,
    }
}

/// Whether `f` can return a value of type `want`.
fn returns_fit(f: &FunctionDef, want: Ty) -> bool {
    match f.returns {
        Returns::Fixed(t) => t == want.vane() || (t == Type::Integer && want == Ty::Num),
        Returns::Numeric { .. } => matches!(want, Ty::Int | Ty::Num),
        Returns::First => f.param(0).accepts(want.vane()),
        Returns::Common(from) => f.param(from).accepts(want.vane()),
        Returns::MetricType => true,
    }
}

/// Whether `s` reads back as the same string when written plain in YAML.
fn plain_safe(s: &str, flow: bool) -> bool {
    /// Characters that start YAML syntax.
    const SPECIAL_START: &[char] = &[
        '@', '\'', '"', '`', '%', '!', '&', '*', '|', '>', '[', ']', '{', '}', '#', ',', '?', ':',
        '-',
    ];
    !s.is_empty()
        && s.trim() == s
        && !s.chars().any(char::is_control)
        && !s.starts_with(SPECIAL_START)
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && !(flow && s.contains([',', '[', ']', '{', '}']))
}

/// `s` as a double-quoted YAML scalar.
fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A mapping key: plain when it is a simple name, else double-quoted.
fn yaml_key(key: &str) -> String {
    let simple = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if simple {
        key.to_string()
    } else {
        double_quoted(key)
    }
}

/// A random mapping somewhere in `y` (the root or a nested one).
fn random_map<'y>(rng: &mut ChaCha8Rng, y: &'y mut Y) -> Option<&'y mut Vec<(String, Y)>> {
    match y {
        Y::Map(entries) => {
            let nested: Vec<usize> = (0..entries.len())
                .filter(|&i| matches!(entries[i].1, Y::Map(_) | Y::List(_)))
                .collect();
            if nested.is_empty() || rng.random_bool(0.35) {
                return Some(entries);
            }
            let i = nested[rng.random_range(0..nested.len())];
            random_map(rng, &mut entries[i].1)
        }
        Y::List(items) if !items.is_empty() => {
            let i = rng.random_range(0..items.len());
            random_map(rng, &mut items[i])
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Random data: generated rows, the pipeline, and the expected values
// ---------------------------------------------------------------------------

/// One event row: the entity key, the time in microseconds, an integer,
/// a float, a user and a kind.
#[derive(Debug, Clone)]
struct Event {
    key: Option<String>,
    time: Option<i64>,
    v: Option<i64>,
    x: Option<f64>,
    u: Option<String>,
    k: Option<String>,
}

/// A random dataset, the night it is computed for, and the window.
#[derive(Debug)]
struct Dataset {
    as_of: NaiveDate,
    /// The window as written (`30d`) and in seconds.
    window: (String, i64),
    threads: usize,
    /// The entity table's keys, in file order (duplicates and nulls included).
    keys: Vec<Option<String>>,
    events: Vec<Event>,
}

/// One metric of the data pipeline.
struct DataMetric {
    name: &'static str,
    over: Over,
    /// Its `where:`.
    filter: Option<&'static str>,
    /// Its `value:`.
    value: &'static str,
    /// What the metric reads that can make a run fail, for the safe rerun.
    risk: Risk,
}

/// What a metric of the data pipeline aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Over {
    /// The events in the seed's window.
    Window,
    /// Every event before as-of.
    AllHistory,
    /// Nothing: a derived metric.
    Derived,
}

/// What can make a metric of the data pipeline fail a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Risk {
    /// Nothing: counts, extremes, integer means.
    None,
    /// An integer sum (or a product of one) beyond 64 bits.
    IntegerSum,
    /// A float summed as a decimal.
    FloatSum,
}

/// A metric of the random-data pipeline.
const fn data_metric(
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
const DATA_METRICS: &[DataMetric] = &[
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
enum Want {
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
struct DataStats {
    datasets: usize,
    runs_ok: usize,
    runs_failed: usize,
    failures: BTreeMap<&'static str, usize>,
    values: usize,
    /// Float sums beyond the decimal's 76 digits that came out right.
    beyond_decimal: usize,
}

/// 0001-01-01T00:00:00Z in microseconds.
const YEAR_1: i64 = -62_135_596_800_000_000;
/// 9999-12-31T23:59:59.999999Z in microseconds.
const YEAR_9999_END: i64 = 253_402_300_799_999_999;

/// Whether a float is one the docs say a sum or mean cannot take: not
/// finite, or of magnitude 10^58 or more. (The generator leaves out
/// [10^58, 10^59), where the decimal's 76 digits and its 256-bit storage
/// disagree about what fits.)
fn bad_float(x: f64) -> bool {
    !x.is_finite() || x.abs() >= 1e58
}

/// `x` as the decimal with 18 places that the docs say floats are summed
/// in, scaled by 10^18 and rounded half away from zero, computed exactly
/// from the float's bits; `None` for a bad float.
fn scaled(x: f64) -> Option<i256> {
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
fn unscaled(value: i256) -> f64 {
    value.to_string().parse::<f64>().expect("a number") / 1e18
}

impl Dataset {
    /// A random dataset: its night, window, entities and events, some dirty.
    fn generate(rng: &mut ChaCha8Rng) -> Dataset {
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
    fn describe(&self) -> String {
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
    fn pipeline(&self, metrics: &[&DataMetric]) -> String {
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
    fn write(&self, dir: &Path) {
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
    fn bounds(&self) -> (Option<i64>, i64) {
        let hi = micros(self.as_of);
        (hi.checked_sub(self.window.1 * 1_000_000), hi)
    }

    /// The population: the entity keys, when they are unique and none is null.
    fn population(&self) -> Option<Vec<String>> {
        let keys: Option<Vec<String>> = self.keys.iter().cloned().collect();
        let keys = keys?;
        let unique: BTreeSet<&String> = keys.iter().collect();
        (unique.len() == keys.len()).then_some(keys)
    }

    /// What each metric is for the rows of `key` (any key, orphans and the
    /// null key included), computed from the rows as the docs define it.
    fn expected(&self, key: Option<&str>, metric: &DataMetric) -> Want {
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
    fn check(&self, stats: &mut DataStats) -> Result<(), String> {
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
    fn dirt(&self) -> BTreeSet<Risk> {
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
    fn run_and_compare(
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
    fn mismatches(
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
fn random_time(rng: &mut ChaCha8Rng, lo: Option<i64>, hi: i64) -> Option<i64> {
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
fn random_v(rng: &mut ChaCha8Rng, extreme: f64) -> Option<i64> {
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
fn random_x(rng: &mut ChaCha8Rng, bad: f64, huge: f64) -> Option<f64> {
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
enum Cell {
    Int(Option<i64>),
    Float(Option<f64>),
}

/// The scorecard written for `as_of` under `dir/out`, by key and column.
fn read_scorecard(
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
                    other => return Err(format!("column {} is a {other}", field.name())),
                };
                cells.insert(field.name().clone(), cell);
            }
            card.insert(keys.value(row).to_string(), cells);
        }
    }
    Ok(card)
}

// Bugs the loops found, each as a small reproducer that keeps it fixed.

/// A pipeline over one entity table, `accounts.parquet` (keys a1, a2),
/// and one event source, `events.parquet` (a few rows in October 2026),
/// with `metrics` appended: the folder and the pipeline's path.
fn small_pipeline(metrics: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys: ArrayRef = Arc::new(StringArray::from(vec!["a1", "a2"]));
    write_parquet(
        &dir.path().join("accounts.parquet"),
        vec![("account_id".into(), keys)],
    );
    let october = micros(NaiveDate::from_ymd_opt(2026, 10, 15).expect("date"));
    let events: Vec<(String, ArrayRef)> = vec![
        (
            "account_id".into(),
            Arc::new(StringArray::from(vec!["a1", "a1", "a2"])),
        ),
        (
            "event_time".into(),
            Arc::new(TimestampMicrosecondArray::from(vec![
                october,
                october + 1,
                october,
            ])),
        ),
    ];
    write_parquet(&dir.path().join("events.parquet"), events);
    let path = dir.path().join("p.yaml");
    let text = format!(
        "vane: 1
sources:
  accounts: {{ path: accounts.parquet }}
  events: {{ path: events.parquet, time: event_time }}
entity: {{ name: account, source: accounts, key: account_id }}
metrics:
{metrics}"
    );
    std::fs::write(&path, text).expect("write the pipeline");
    (dir, path)
}

/// `fmt` on `text`, held to what the front-end loop checks of it.
fn fmt_round_trip(text: &str) -> Result<(), String> {
    let (loaded, diagnostics) = vane::syntax::load_text(FUZZ_PATH, text.to_string());
    assert!(!has_error(&diagnostics), "the input loads");
    let loaded = loaded.expect("a pipeline");
    let (sources, _) = vane::sources::resolve(&loaded.pipeline);
    let (_, checked) = vane::check::check(&loaded.pipeline, &sources);
    let formatted = vane::syntax::fmt::format_text(text, &loaded.sites);
    assert_ne!(formatted, text, "the input is not in canonical form");
    fmt_keeps_meaning(&loaded, &formatted, &checked)
}

/// Regression (the random-data loop found it): float sums are added as `Decimal256(76,
/// 18)` without an overflow check, so past 2^255 / 10^18 ≈ 5.8 × 10^58 the
/// sum wraps around and the run writes a wrong number. Six values of
/// 9.9 × 10^57 (each below the documented 10^58) give -3.7 × 10^58
/// instead of 5.94 × 10^58; the docs promise the value or `V500`.
#[test]
fn regression_float_sums_beyond_the_decimal_wrap_around() {
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 1).expect("date");
    let event = Event {
        key: Some("a1".into()),
        time: Some(micros(as_of) - 1),
        v: None,
        x: Some(9.9e57),
        u: None,
        k: None,
    };
    let dataset = Dataset {
        as_of,
        window: ("30d".into(), 30 * 86_400),
        threads: 1,
        keys: vec![Some("a1".into())],
        events: vec![event; 6],
    };
    let sums: Vec<&DataMetric> = DATA_METRICS
        .iter()
        .filter(|m| m.name == "total_x" || m.name == "mean_x")
        .collect();
    let outcome = dataset.run_and_compare(&sums, &dataset.dirt(), &mut DataStats::default());
    assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
}

/// Regression (the front-end loop found it): `fmt` keeps a value plain inside a flow
/// mapping when its canonical form holds `[` or `]`, which end the YAML
/// value there: `population: seg IN ('a')` inside `{ … }` becomes
/// `population: seg in ['a']`, and the file no longer loads (`V103`).
#[test]
fn regression_fmt_leaves_brackets_plain_inside_flow_mappings() {
    let text = "vane: 1
sources:
  accounts: { path: a.csv }
entity: { name: account, source: accounts, key: id, population: seg IN ('a') }
";
    fmt_round_trip(text).unwrap_or_else(|e| panic!("{e}"));
}

/// Regression (the front-end loop found it): `fmt` rewrites an expression in a block
/// scalar (`|-`, `>`) that starts with a quote as a single-quoted YAML
/// string, and drops the line break after it, gluing the next key on:
/// `population: |-` over `'a'  =  seg` becomes `'''a'' = seg'outputs: …`.
#[test]
fn regression_fmt_breaks_block_scalars_that_start_with_a_quote() {
    let text = "vane: 1
sources:
  accounts: { path: a.csv }
entity:
  name: account
  source: accounts
  key: id
  population: |-
    'a'  =  seg
outputs: { dir: out }
";
    fmt_round_trip(text).unwrap_or_else(|e| panic!("{e}"));
}

/// Regression (the front-end loop found it): `fmt` writes a template's line break into
/// a double-quoted value as a raw line break, which YAML folds into a
/// space: `message: "total {m+1}\n"` becomes the message `total {m + 1} `.
#[test]
fn regression_fmt_turns_a_line_break_in_a_double_quoted_template_into_a_space() {
    let text = r#"vane: 1
sources:
  accounts: { path: a.csv }
entity: { name: account, source: accounts, key: id }
metrics:
  m: { value: 1 }
playbooks:
  p:
    when: m > 0
    action: call
    message: "total {m+1}\n"
"#;
    fmt_round_trip(text).unwrap_or_else(|e| panic!("{e}"));
}

/// Regression (the front-end loop found it): a diagnostic's span must lie inside the
/// file at character boundaries (JSON output hands its bytes, lines and
/// columns to editors). An unexpected non-ASCII character in an
/// expression (`V200`) or at the start of a plain YAML value (`V103`)
/// gets a one-byte span that ends inside the character, and its end
/// column is then counted in bytes; a file that is only a tag (`!!str`)
/// gets a `V110` span past its end.
#[test]
fn regression_diagnostic_spans_split_characters_or_leave_the_file() {
    let inputs = [
        "vane: 1\nsources:\n  accounts: { path: a.csv }\nentity: { name: account, source: accounts, key: id, population: \"'ééééé' = ü\" }\n",
        "vane: 1\nx: üüü \u{7f}\n",
        "!!str",
    ];
    let problems: Vec<String> = inputs
        .iter()
        .filter_map(|text| {
            let (_, diagnostics) = vane::syntax::load_text(FUZZ_PATH, text.to_string());
            sound(&diagnostics).err().map(|e| format!("{text:?}: {e}"))
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Regression (the front-end loop found it): the checker types `timestamp + null` as a
/// timestamp, but the planner lowers that `null` as a timestamp too, and
/// DataFusion cannot add two timestamps: `value: as_of + null` validates,
/// then fails the run (`V600`, "the query failed"); inside an aggregate,
/// `min(event_time + null)`, it is an internal error (`V999`). The docs
/// say arithmetic with null gives null.
#[test]
fn regression_a_time_plus_null_checks_but_cannot_run() {
    let failures: Vec<String> = [
        "  m: { value: as_of + null, unused: true }\n",
        "  m: { from: events, value: min(event_time + null), unused: true }\n",
    ]
    .iter()
    .filter_map(|metrics| {
        let (dir, path) = small_pipeline(metrics);
        let options = RunOptions {
            as_of: NaiveDate::from_ymd_opt(2026, 11, 1),
            out: Some(dir.path().join("out")),
            threads: Some(1),
            ..RunOptions::default()
        };
        let report = commands::run(&path, &options, &|_| {});
        (report.exit != Exit::Ok).then(|| format!("{}: {}", metrics.trim(), codes_of(&report)))
    })
    .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Regression (front-end loop found it): a long flat chain of operators
/// nests the expression tree as deep as it is long, and the run compiled
/// it recursively (`run::entity::compile`, DataFusion's tree rewrites):
/// `value: 1+1+…+1` with 400 terms (800 bytes, far below the 16 KiB
/// expression limit) aborted `vane run` with a stack overflow. Now a tree
/// deeper than 256 is `V201`, and the deepest accepted one runs.
#[test]
fn long_operator_chains_run_or_are_refused_never_overflow() {
    for (terms, wanted) in [(256, 0), (400, 2), (4000, 2)] {
        let chain = vec!["1.5"; terms].join("+");
        let (dir, path) = small_pipeline(&format!("  m: {{ value: \"{chain}\", unused: true }}\n"));
        let exit = vane_run(&path, &dir.path().join("out"), RUN_BUDGET);
        assert_eq!(
            exit.unwrap_or_else(|e| panic!("{e}")),
            wanted,
            "{terms} terms"
        );
    }
    let chain = vec!["1"; 400].join("+");
    let (_, diagnostics) = vane::syntax::load_text(
        FUZZ_PATH,
        format!("vane: 1\nmetrics:\n  m: {{ value: \"{chain}\" }}\n"),
    );
    assert!(
        diagnostics
            .iter()
            .any(|d| d.code == Code::ExprTooComplex && d.message.contains("256")),
        "{diagnostics:?}"
    );
}

/// Regression (the front-end loop found it, a run killed after its time budget): an
/// indicator's score that multiplies an integer metric's `value` takes
/// time exponential in the number of factors to run, each factor about
/// 2.7 times longer: 12 factors take 0.7 s, 14 take 5 s, 16 take 40 s,
/// 18 more than a minute (release build; products in derived metrics or
/// of float metrics are fast).
#[test]
fn regression_integer_products_in_scores_take_exponential_time() {
    let product = vec!["value"; 14].join(" * ");
    let (dir, path) = small_pipeline(&format!(
        "  m: {{ value: 1 }}
indicators:
  i: {{ kind: leading, metric: m, score: {product}, group: g }}
"
    ));
    let exit = vane_run(&path, &dir.path().join("out"), INPUT_BUDGET);
    assert_eq!(exit.unwrap_or_else(|e| panic!("{e}")), 0);
}
