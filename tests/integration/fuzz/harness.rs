//! The harness both loops share: seeds, panics, time budgets, hangs and findings.

use super::*;

/// The seed: `VANE_FUZZ_SEED` (decimal or `0x` hex) or [`DEFAULT_SEED`].
pub(super) fn seed() -> u64 {
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
pub(super) fn case_rng(seed: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    rng
}

/// Run one input's checks: a panic becomes an error, and so does taking
/// longer than `budget`.
pub(super) fn guarded<T>(
    budget: Duration,
    f: impl FnOnce() -> Result<T, String>,
) -> Result<T, String> {
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
pub(super) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a non-text panic)".to_string())
}

/// Aborts the process when one input runs longer than [`HANG_LIMIT`],
/// after printing it straight to standard error (the test harness's
/// capture would be lost with the process).
pub(super) struct Watchdog {
    pub(super) current: Arc<Mutex<(Instant, usize, Vec<u8>)>>,
    pub(super) _stop: mpsc::Sender<()>,
}

impl Watchdog {
    /// Start watching; the watch ends when the watchdog is dropped.
    pub(super) fn start(seed: u64, name: &'static str) -> Watchdog {
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
    pub(super) fn enter(&self, index: usize, input: &[u8]) {
        if let Ok(mut guard) = self.current.lock() {
            *guard = (Instant::now(), index, input.to_vec());
        }
    }
}

/// The problems one loop found, reported together at its end: grouped by
/// kind ([`signature`]), each kind with its shortest input, so that one run
/// shows every distinct problem with a small reproducer.
pub(super) struct Findings {
    pub(super) seed: u64,
    pub(super) name: &'static str,
    pub(super) total: usize,
    pub(super) kinds: BTreeMap<String, Finding>,
}

/// One kind of problem: how often it came up, and its shortest input.
pub(super) struct Finding {
    pub(super) count: usize,
    pub(super) index: usize,
    pub(super) source: String,
    pub(super) problem: String,
    pub(super) input: Vec<u8>,
}

impl Findings {
    /// No findings yet, for the loop `name` run with `seed`.
    pub(super) fn new(seed: u64, name: &'static str) -> Findings {
        Findings {
            seed,
            name,
            total: 0,
            kinds: BTreeMap::new(),
        }
    }

    /// Note `problem` with input `index` (from `source`).
    pub(super) fn add(&mut self, index: usize, source: &str, problem: &str, input: &[u8]) {
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
    pub(super) fn keep(&mut self, finding: Finding) {
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
    pub(super) fn merge(&mut self, other: Findings) {
        for finding in other.kinds.into_values() {
            self.keep(finding);
        }
    }

    /// Whether so much fails that going on would only repeat it.
    pub(super) fn full(&self) -> bool {
        self.total >= MAX_FINDINGS
    }

    /// Fail with every kind of problem and its shortest input, if any.
    pub(super) fn assert_none(&self) {
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
pub(super) fn signature(problem: &str) -> String {
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
