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
//! found, each with its shortest input. The tests in `regressions.rs` are
//! the smallest reproducers of the bugs the loops found, kept so they stay
//! fixed. The other modules: `harness` (seeds, budgets, findings),
//! `inputs`, `grammar` and `mutate` (what the front end is fed),
//! `front_end` and `on_file` (what every input is checked for), `fixture`
//! (the files commands and runs read) and `data` (the random-data loop).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, i256};
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
/// The longest one input may take through the front end or a command. It
/// catches blow-ups (an input that takes seconds where others take
/// milliseconds), not speed: the fuzzer shares two cores with the other
/// tests (a Ballista cluster, PostgreSQL, DuckDB, Chromium), and a command
/// on an ordinary input took 2.09 s there once.
const INPUT_BUDGET: Duration = Duration::from_secs(5);
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

mod data;
mod fixture;
mod front_end;
mod grammar;
mod harness;
mod inputs;
mod mutate;
mod on_file;
mod regressions;

use data::*;
use fixture::*;
use front_end::*;
use grammar::*;
use harness::*;
use inputs::*;
use mutate::*;
use on_file::*;
