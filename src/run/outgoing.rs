//! Computed nights on their way out: their rollups, computed one night
//! at a time for `run` and a chunk of nights at a time for a backfill,
//! and a backfill's nights written whole, in date order, on another
//! thread while the next chunk is computed.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::error::Result;
use datafusion::prelude::SessionContext;

use super::execute::Computed;
use super::rollups::{NightScorecard, compute_rollups};
use super::write::{RunSummary, SettledNight, StagedNight, stage_settled};
use crate::base::units::Micros;
use crate::check::model::Model;
use crate::diagnostics::{Code, Diagnostic};
use crate::plan::rollups::RollupsPlan;

/// What computes nights' rollups: the plan (the same for every night) and
/// the session it runs on.
#[derive(Clone)]
pub struct RollupsRunner {
    plan: RollupsPlan,
    session: SessionContext,
}

impl RollupsRunner {
    /// Compute `plan` on `session`.
    pub fn new(plan: RollupsPlan, session: SessionContext) -> Self {
        RollupsRunner { plan, session }
    }

    /// Compute the rollups of `nights` (each its as-of instant and its
    /// results, in date order) together, and hand each its own.
    pub async fn compute(&self, nights: &mut [(Micros, &mut Computed)]) -> Result<()> {
        let Some((_, first)) = nights.first() else {
            return Ok(());
        };
        let schema = Arc::clone(&first.working_schema);
        let scorecards: Vec<NightScorecard<'_>> = nights
            .iter()
            .map(|(as_of, computed)| NightScorecard {
                as_of: *as_of,
                working: &computed.working,
            })
            .collect();
        let rollups = compute_rollups(&self.session, &self.plan, schema, &scorecards).await?;
        for ((_, computed), rollups) in nights.iter_mut().zip(rollups) {
            computed.rollups = rollups;
        }
        Ok(())
    }
}

/// Nights whose rollups are computed together: planning and running the
/// rollups' aggregations is paid once per chunk, not once per night, and
/// a chunk's scorecards are small next to the memory a night needs.
pub const NIGHTS_PER_CHUNK: usize = 8;

/// What a backfill did with one night.
#[derive(Debug, Clone)]
pub enum NightDone {
    /// Computed and written.
    Written(NaiveDate, Box<RunSummary>),
    /// Already in the output folder, kept (no `--force`).
    Kept(NaiveDate),
}

impl NightDone {
    /// The night.
    pub fn date(&self) -> NaiveDate {
        match self {
            NightDone::Written(date, _) | NightDone::Kept(date) => *date,
        }
    }
}

/// What the task carrying the nights out hears from the thread computing
/// them.
enum Job {
    /// The next night in date order, and what computes its rollups.
    Night(Box<(SettledNight, RollupsRunner)>),
    /// Send the held nights out; answer once every night so far is written
    /// (or writing one failed).
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Where the task tells what became of each night.
type Teller = tokio::sync::mpsc::UnboundedSender<Heard>;

/// What the thread computing the nights hears back, in date order.
enum Heard {
    /// A night and how its writing went.
    Written(NaiveDate, Box<Result<RunSummary, Vec<Diagnostic>>>),
    /// The rollups of the nights held failed; nothing after is written.
    Failed(Vec<Diagnostic>),
}

/// A backfill's computed nights on their way out, in date order. A task
/// of their own holds them until a chunk of [`NIGHTS_PER_CHUNK`] is
/// complete, computes the chunk's rollups together, and writes its nights
/// (staged side by side, put in place in date order) while the next chunk
/// gathers: the thread computing the nights hands each over and goes on
/// to the next, so the rollups and the writing take none of its time.
/// What each night became is heard as it is known.
pub struct Outgoing {
    jobs: Option<tokio::sync::mpsc::Sender<Job>>,
    heard: tokio::sync::mpsc::UnboundedReceiver<Heard>,
    carrying: Option<tokio::task::JoinHandle<()>>,
    done: Vec<NightDone>,
}

impl Outgoing {
    /// Nothing held, nothing written yet; the task carrying the nights out
    /// starts on the current runtime.
    pub fn new(model: &Model) -> Self {
        // One night waits while the task sends a chunk out: memory holds at
        // most the chunk gathering, that night and the chunk being written.
        let (jobs, receiver) = tokio::sync::mpsc::channel(1);
        let (teller, heard) = tokio::sync::mpsc::unbounded_channel();
        let carrying = tokio::spawn(carry(Arc::new(model.clone()), receiver, teller));
        Outgoing {
            jobs: Some(jobs),
            heard,
            carrying: Some(carrying),
            done: Vec::new(),
        }
    }

    /// Hand over `night` (computed after the nights handed over before
    /// it). A night that later nights read back from its files is written,
    /// with the nights before it, before this returns.
    pub async fn push(
        &mut self,
        night: SettledNight,
        rollups: RollupsRunner,
        on_night: &mut dyn FnMut(&NightDone),
    ) -> Result<(), Vec<Diagnostic>> {
        let read_back = !night.reads_back_as_computed();
        if self.send(Job::Night(Box::new((night, rollups)))).await {
            if read_back {
                self.flush().await;
            }
            return self.report_or_stop(on_night).await;
        }
        // The task stopped: a night failed to be written. Say which.
        self.wait(on_night).await?;
        Err(stopped("a night could not be handed over"))
    }

    /// A night already written and kept: the nights before it go out first.
    pub async fn kept(
        &mut self,
        date: NaiveDate,
        on_night: &mut dyn FnMut(&NightDone),
    ) -> Result<(), Vec<Diagnostic>> {
        self.flush().await;
        self.report_or_stop(on_night).await?;
        self.report(NightDone::Kept(date), on_night);
        Ok(())
    }

    /// Send the held nights out and wait until every night is written:
    /// what each night became, in date order.
    pub async fn close(
        mut self,
        on_night: &mut dyn FnMut(&NightDone),
    ) -> Result<Vec<NightDone>, Vec<Diagnostic>> {
        self.wait(on_night).await?;
        Ok(std::mem::take(&mut self.done))
    }

    /// Hand over nothing more, wait for the task to end and report what
    /// it did.
    async fn wait(&mut self, on_night: &mut dyn FnMut(&NightDone)) -> Result<(), Vec<Diagnostic>> {
        self.end().await.map_err(|e| stopped(&e.to_string()))?;
        self.report_heard(on_night)
    }

    /// Hand over nothing more and wait until the task (and the nights it
    /// is writing) have stopped.
    async fn end(&mut self) -> Result<(), tokio::task::JoinError> {
        self.jobs = None;
        match self.carrying.take() {
            Some(carrying) => carrying.await,
            None => Ok(()),
        }
    }

    /// Report the nights heard of so far; on the first failure, wait until
    /// the task and the nights it was writing have stopped (the nights
    /// staged after the failed one removed) before returning it.
    async fn report_or_stop(
        &mut self,
        on_night: &mut dyn FnMut(&NightDone),
    ) -> Result<(), Vec<Diagnostic>> {
        let failed = match self.report_heard(on_night) {
            Ok(()) => return Ok(()),
            Err(failed) => failed,
        };
        // The failure told is the one returned, however the task ended.
        let _ = self.end().await;
        Err(failed)
    }

    /// Whether the task took the job (it stops at the first failure).
    async fn send(&mut self, job: Job) -> bool {
        match &self.jobs {
            Some(jobs) => jobs.send(job).await.is_ok(),
            None => false,
        }
    }

    /// Wait until every night handed over is written or writing stopped.
    async fn flush(&mut self) {
        let (ack, answer) = tokio::sync::oneshot::channel();
        if self.send(Job::Flush(ack)).await {
            // A dropped answer means the task stopped: what it heard says why.
            let _ = answer.await;
        }
    }

    /// Report the nights heard of so far; the first failure is returned.
    fn report_heard(
        &mut self,
        on_night: &mut dyn FnMut(&NightDone),
    ) -> Result<(), Vec<Diagnostic>> {
        while let Ok(heard) = self.heard.try_recv() {
            match heard {
                Heard::Written(date, written) => {
                    let summary = (*written)?;
                    self.report(NightDone::Written(date, Box::new(summary)), on_night);
                }
                Heard::Failed(failed) => return Err(failed),
            }
        }
        Ok(())
    }

    fn report(&mut self, night: NightDone, on_night: &mut dyn FnMut(&NightDone)) {
        on_night(&night);
        self.done.push(night);
    }
}

/// A dropped backfill stops carrying its nights out at the next chunk
/// (the chunk being written is finished whole by its thread).
impl Drop for Outgoing {
    fn drop(&mut self) {
        if let Some(carrying) = &self.carrying {
            carrying.abort();
        }
    }
}

fn stopped(why: &str) -> Vec<Diagnostic> {
    vec![
        Diagnostic::error(
            Code::OutputFailed,
            format!("writing the nights stopped: {why}"),
        )
        .help("earlier nights are whole; run the backfill again to resume"),
    ]
}

/// The task carrying the nights out: gather a chunk, compute its rollups,
/// write it on a blocking thread once the chunk before is written, until
/// the nights end or a night fails.
async fn carry(model: Arc<Model>, mut jobs: tokio::sync::mpsc::Receiver<Job>, teller: Teller) {
    let mut chunk: Vec<SettledNight> = Vec::new();
    let mut rollups: Option<RollupsRunner> = None;
    let mut writing: Option<tokio::task::JoinHandle<bool>> = None;
    while let Some(job) = jobs.recv().await {
        let answer = match job {
            Job::Night(job) => {
                let (night, runner) = *job;
                chunk.push(night);
                rollups = Some(runner);
                if chunk.len() < NIGHTS_PER_CHUNK {
                    continue;
                }
                None
            }
            Job::Flush(answer) => Some(answer),
        };
        let sent = send_chunk(&model, &mut chunk, rollups.as_ref(), &mut writing, &teller).await;
        let written = match answer {
            Some(answer) => {
                let written = sent && finish(&mut writing, &teller).await;
                let _ = answer.send(());
                written
            }
            None => sent,
        };
        if !written {
            return;
        }
    }
    // The last chunk's rollups are computed while the chunk before is
    // written; it is written only if that one was.
    if send_chunk(&model, &mut chunk, rollups.as_ref(), &mut writing, &teller).await {
        finish(&mut writing, &teller).await;
    }
}

/// Compute the chunk's rollups and start writing its nights once the
/// chunk before is written: false when anything failed (and was told).
async fn send_chunk(
    model: &Arc<Model>,
    chunk: &mut Vec<SettledNight>,
    rollups: Option<&RollupsRunner>,
    writing: &mut Option<tokio::task::JoinHandle<bool>>,
    teller: &Teller,
) -> bool {
    if chunk.is_empty() {
        return true;
    }
    let mut chunk = std::mem::take(chunk);
    if let Some(rollups) = rollups {
        let started = std::time::Instant::now();
        let mut nights: Vec<(Micros, &mut super::Computed)> = chunk
            .iter_mut()
            .map(|n| (Micros::midnight(n.as_of()), n.computed_mut()))
            .collect();
        if let Err(e) = rollups.compute(&mut nights).await {
            let _ = teller.send(Heard::Failed(vec![super::execution_error(&e)]));
            return false;
        }
        let share = started.elapsed().as_secs_f64() * 1e3 / chunk.len() as f64;
        for night in &mut chunk {
            night.record("rollups", share);
        }
    }
    if !finish(writing, teller).await {
        return false;
    }
    let (model, teller) = (Arc::clone(model), teller.clone());
    *writing = Some(tokio::task::spawn_blocking(move || {
        write_chunk(&model, chunk, &teller)
    }));
    true
}

/// Write a chunk's nights: staged side by side on up to `threads`
/// threads (the run's own limit), each put in place in date order as soon
/// as it and the nights before it are staged, and told. Stops at the
/// first night that fails; the nights staged after it are dropped, so the
/// folder holds every night up to it and none after. Whether all went in.
fn write_chunk(model: &Model, chunk: Vec<SettledNight>, teller: &Teller) -> bool {
    let threads = chunk
        .first()
        .map_or(1, |n| n.threads())
        .clamp(1, chunk.len().max(1));
    let dates: Vec<NaiveDate> = chunk.iter().map(SettledNight::as_of).collect();
    let queue = std::sync::Mutex::new(chunk.into_iter().enumerate());
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (stager, staged) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let (queue, stop, stager) = (&queue, &stop, stager.clone());
            scope.spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let next = match queue.lock() {
                        Ok(mut queue) => queue.next(),
                        Err(_) => None,
                    };
                    let Some((index, night)) = next else { break };
                    if stager.send((index, stage_settled(model, night))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(stager);
        let mut waiting = BTreeMap::new();
        let mut next = 0;
        for (index, result) in staged {
            waiting.insert(index, result);
            while let Some(result) = waiting.remove(&next) {
                let written = result.and_then(StagedNight::commit);
                let failed = written.is_err();
                if teller
                    .send(Heard::Written(dates[next], Box::new(written)))
                    .is_err()
                    || failed
                {
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    return false;
                }
                next += 1;
            }
        }
        next == dates.len()
    })
}

/// Wait for the chunk being written, if any: whether all of it was.
async fn finish(writing: &mut Option<tokio::task::JoinHandle<bool>>, teller: &Teller) -> bool {
    match writing.take() {
        Some(task) => task.await.unwrap_or_else(|e| {
            let _ = teller.send(Heard::Failed(stopped(&e.to_string())));
            false
        }),
        None => true,
    }
}
