//! Stage timings for the manifest and `vane run`'s summary.

use std::time::Instant;

/// Times the stages of a run, in milliseconds, in the order they ran.
#[derive(Debug)]
pub struct Stopwatch {
    started: Instant,
    lap_started: Instant,
    timings: Vec<(String, f64)>,
}

fn millis(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

impl Stopwatch {
    /// Start timing now.
    pub fn start() -> Self {
        let now = Instant::now();
        Stopwatch {
            started: now,
            lap_started: now,
            timings: Vec::new(),
        }
    }

    /// Record the time since the previous lap as `stage`.
    pub fn lap(&mut self, stage: &str) {
        self.record(stage, millis(self.lap_started));
        self.lap_started = Instant::now();
    }

    /// Start the next stage now: the time since the last lap was spent
    /// waiting (for other nights to be written, say), in no stage.
    pub fn restart_lap(&mut self) {
        self.lap_started = Instant::now();
    }

    /// Record a stage timed elsewhere (on another thread, say).
    pub fn record(&mut self, stage: &str, ms: f64) {
        self.timings.push((stage.to_string(), ms));
    }

    /// Record the time since [`Stopwatch::start`] as `total`, and hand over every timing.
    pub fn finish(mut self) -> Vec<(String, f64)> {
        self.record("total", millis(self.started));
        self.timings
    }
}

/// Run `work` and return its result with the milliseconds it took.
pub fn timed<T>(work: impl FnOnce() -> T) -> (T, f64) {
    let started = Instant::now();
    let result = work();
    (result, millis(started))
}
