//! Computed nights on their way out: their rollups, computed one night
//! at a time for `run` and a chunk of nights at a time for a backfill,
//! and a backfill's nights written whole, in date order, on another
//! thread while the next chunk is computed.

use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::error::Result;
use datafusion::prelude::SessionContext;

use super::execute::Computed;
use super::rollups::{NightScorecard, compute_rollups};
use super::write::{RunSummary, SettledNight, write_settled};
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

/// Writing a chunk of nights, one after another, on a blocking thread:
/// each night and how its writing went, up to the first that failed.
type WriteTask = tokio::task::JoinHandle<Vec<(NaiveDate, Result<RunSummary, Vec<Diagnostic>>)>>;

/// A backfill's computed nights on their way out, in date order: held
/// until a chunk of [`NIGHTS_PER_CHUNK`] is complete, their rollups
/// computed together, then written on a blocking thread while the next
/// chunk is computed. What each night became is heard as it is known.
pub struct Outgoing {
    model: Arc<Model>,
    chunk: Vec<SettledNight>,
    rollups: Option<RollupsRunner>,
    writing: Option<WriteTask>,
    done: Vec<NightDone>,
}

impl Outgoing {
    /// Nothing held, nothing written yet.
    pub fn new(model: &Model) -> Self {
        Outgoing {
            model: Arc::new(model.clone()),
            chunk: Vec::new(),
            rollups: None,
            writing: None,
            done: Vec::new(),
        }
    }

    /// Hold `night` (computed after the nights held before it); a full
    /// chunk goes out. A night that later nights read back from its files
    /// goes out at once, with the nights held before it.
    pub async fn push(
        &mut self,
        night: SettledNight,
        rollups: RollupsRunner,
        on_night: &mut dyn FnMut(&NightDone),
    ) -> Result<(), Vec<Diagnostic>> {
        let read_back = !night.reads_back_as_computed();
        self.chunk.push(night);
        self.rollups = Some(rollups);
        if read_back {
            self.send(on_night).await?;
            return self.finish(on_night).await;
        }
        if self.chunk.len() >= NIGHTS_PER_CHUNK {
            self.send(on_night).await?;
        }
        self.report_written(on_night).await
    }

    /// A night already written and kept: the nights before it go out first.
    pub async fn kept(
        &mut self,
        date: NaiveDate,
        on_night: &mut dyn FnMut(&NightDone),
    ) -> Result<(), Vec<Diagnostic>> {
        self.send(on_night).await?;
        self.finish(on_night).await?;
        self.report(NightDone::Kept(date), on_night);
        Ok(())
    }

    /// Send the held nights out and wait until every night is written:
    /// what each night became, in date order.
    pub async fn close(
        mut self,
        on_night: &mut dyn FnMut(&NightDone),
    ) -> Result<Vec<NightDone>, Vec<Diagnostic>> {
        self.send(on_night).await?;
        self.finish(on_night).await?;
        Ok(self.done)
    }

    /// Compute the held nights' rollups and start writing them, once the
    /// chunk before is written.
    async fn send(&mut self, on_night: &mut dyn FnMut(&NightDone)) -> Result<(), Vec<Diagnostic>> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let mut chunk = std::mem::take(&mut self.chunk);
        if let Some(rollups) = &self.rollups {
            let started = std::time::Instant::now();
            let mut nights: Vec<(Micros, &mut super::Computed)> = chunk
                .iter_mut()
                .map(|n| (Micros::midnight(n.as_of()), n.computed_mut()))
                .collect();
            rollups
                .compute(&mut nights)
                .await
                .map_err(|e| vec![super::execution_error(&e)])?;
            let ms = started.elapsed().as_secs_f64() * 1e3;
            let share = ms / chunk.len() as f64;
            for night in &mut chunk {
                night.record("rollups", share);
            }
        }
        self.finish(on_night).await?;
        let model = Arc::clone(&self.model);
        self.writing = Some(tokio::task::spawn_blocking(move || {
            let mut written = Vec::with_capacity(chunk.len());
            for night in chunk {
                let date = night.as_of();
                let result = write_settled(&model, night);
                let failed = result.is_err();
                written.push((date, result));
                if failed {
                    break;
                }
            }
            written
        }));
        Ok(())
    }

    /// Report the chunk being written if it is done, without waiting.
    async fn report_written(
        &mut self,
        on_night: &mut dyn FnMut(&NightDone),
    ) -> Result<(), Vec<Diagnostic>> {
        match &self.writing {
            Some(task) if task.is_finished() => self.finish(on_night).await,
            _ => Ok(()),
        }
    }

    /// Wait for the chunk being written, if any, and report its nights.
    async fn finish(
        &mut self,
        on_night: &mut dyn FnMut(&NightDone),
    ) -> Result<(), Vec<Diagnostic>> {
        let Some(task) = self.writing.take() else {
            return Ok(());
        };
        let written = task.await.map_err(|e| {
            vec![
                Diagnostic::error(
                    Code::OutputFailed,
                    format!("writing the nights stopped: {e}"),
                )
                .help("earlier nights are whole; run the backfill again to resume"),
            ]
        })?;
        for (date, result) in written {
            self.report(NightDone::Written(date, Box::new(result?)), on_night);
        }
        Ok(())
    }

    fn report(&mut self, night: NightDone, on_night: &mut dyn FnMut(&NightDone)) {
        on_night(&night);
        self.done.push(night);
    }
}
