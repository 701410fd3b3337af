//! Execute a [`NightsPlan`]'s shared sides once, then cut each into every
//! night's side: the batch that night's own plan would have computed, row
//! for row (one row per key with rows in the night's windows), so the
//! facts, and everything after them, are the same.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Array, Decimal256Array, Float64Array, Int64Array,
    RecordBatch, UInt32Array,
};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Int64Type, i256};
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;

use super::cut::{Keys, assemble, column, internal};
use super::facts::{JoinedAhead, compute_parts, join_ahead};
use super::running_sums::{Lane, RunningSums};
use super::targets::PreparedTargets;
use crate::base::units::Micros;
use crate::plan::nights::{
    BUCKET, BucketRange, Combine, Combined, NIGHTS_PER_WORD, NightsPlan, Recipe, SharedSide,
};

/// Every shared side's groups, prepared to be cut into any night's side.
/// Nights are cut one at a time (in date order), so memory holds the
/// groups, not every night's sides at once.
#[derive(Default)]
pub struct SharedNights {
    nights: Vec<Micros>,
    sides: Vec<Prepared>,
    /// Groups the shared aggregations produced.
    grouped: usize,
    /// Seconds aggregating, and seconds preparing the groups to be cut.
    seconds: (f64, f64),
}

impl SharedNights {
    /// The shared sides of `night`, by side name (none for a night that
    /// was not planned).
    pub fn for_night(&mut self, night: Micros) -> Result<BTreeMap<String, RecordBatch>> {
        let Some(index) = self.nights.iter().position(|n| *n == night) else {
            return Ok(BTreeMap::new());
        };
        let nights = self.nights.len();
        self.sides
            .iter_mut()
            .map(|side| Ok((side.name().to_string(), side.night(index, nights, night)?)))
            .collect()
    }

    /// How many groups the shared aggregations produced.
    pub fn groups(&self) -> usize {
        self.grouped
    }

    /// Seconds spent aggregating the sources, and preparing the groups.
    pub fn seconds(&self) -> (f64, f64) {
        self.seconds
    }
}

/// Run every shared side's aggregation (at once, or one by one when that
/// exhausts the memory limit) and prepare each to be cut into nights.
pub async fn compute_shared(ctx: &SessionContext, plan: &NightsPlan) -> Result<SharedNights> {
    let started = std::time::Instant::now();
    let parts: Vec<LogicalPlan> = plan.shared.iter().map(|s| s.plan.clone()).collect();
    let computed = compute_parts(ctx, &parts).await?;
    let aggregated = started.elapsed().as_secs_f64();
    let mut shared = SharedNights {
        nights: plan.nights.clone(),
        ..SharedNights::default()
    };
    // Each side is prepared on a thread of its own: they are independent.
    let mut preparing = Vec::with_capacity(computed.len());
    for (side, batch) in plan.shared.iter().zip(computed) {
        shared.grouped += batch.num_rows();
        let side = side.clone();
        preparing.push(tokio::task::spawn_blocking(move || {
            Prepared::new(side, batch)
        }));
    }
    for task in preparing {
        let prepared = task
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))??;
        shared.sides.push(prepared);
    }
    shared.seconds = (aggregated, started.elapsed().as_secs_f64() - aggregated);
    Ok(shared)
}

/// How many nights the parts computed ahead may run in advance.
const AHEAD: usize = 2;

/// Each night's facts that need no earlier night — its shared sides cut
/// from the groups, and its own parts (see [`NightsPlan::own`]) — computed
/// in date order while the earlier nights finish: their entity steps,
/// playbooks and writing are one core's work, and this keeps the other
/// busy. Two stages overlap: the own parts' queries run on the runtime
/// while a blocking thread cuts and joins the nights before them.
pub struct Ahead {
    receiver: tokio::sync::mpsc::Receiver<Result<(Micros, JoinedAhead)>>,
    queries: tokio::task::JoinHandle<()>,
}

type Parts = Vec<(String, LogicalPlan)>;

/// Start computing the nights in `wanted`, in order.
pub fn compute_ahead(
    ctx: &SessionContext,
    plan: &NightsPlan,
    mut shared: SharedNights,
    wanted: &[Micros],
) -> Ahead {
    let (sender, receiver) = tokio::sync::mpsc::channel(AHEAD);
    let (parts_sender, mut parts_receiver) = tokio::sync::mpsc::channel(AHEAD);
    let jobs: Vec<(Micros, Parts)> = plan
        .nights
        .iter()
        .zip(&plan.own)
        .filter(|(night, _)| wanted.contains(night))
        .map(|(night, parts)| (*night, parts.clone()))
        .collect();
    let nights: Vec<(Micros, Vec<String>)> = jobs
        .iter()
        .map(|(night, parts)| (*night, parts.iter().map(|(name, _)| name.clone()).collect()))
        .collect();
    let ctx = ctx.clone();
    let (order, key) = (plan.join_order.clone(), plan.key.clone());
    let queries = tokio::spawn(async move {
        for (_, parts) in jobs {
            let plans: Vec<LogicalPlan> = parts.into_iter().map(|(_, p)| p).collect();
            let computed = compute_parts(&ctx, &plans).await;
            let failed = computed.is_err();
            if parts_sender.send(computed).await.is_err() || failed {
                break;
            }
        }
    });
    tokio::task::spawn_blocking(move || {
        for (night, names) in nights {
            let computed = shared.for_night(night).and_then(|mut sides| {
                let batches = parts_receiver
                    .blocking_recv()
                    .ok_or_else(|| internal("the nights' own parts stopped early"))??;
                sides.extend(names.into_iter().zip(batches));
                Ok((night, join_ahead(sides, &order, &key)?))
            });
            let failed = computed.is_err();
            if sender.blocking_send(computed).is_err() || failed {
                break;
            }
        }
    });
    Ahead { receiver, queries }
}

impl Ahead {
    /// The facts computed ahead for `night`, the next night in order.
    pub async fn next(&mut self, night: Micros) -> Result<JoinedAhead> {
        match self.receiver.recv().await {
            Some(Ok((computed, parts))) if computed == night => Ok(parts),
            Some(Ok(_)) => Err(internal("the nights computed ahead came out of order")),
            Some(Err(e)) => Err(e),
            None => Err(internal("the nights computed ahead stopped early")),
        }
    }
}

/// Dropping the receiver stops the cutting thread at its next night; the
/// queries stop here.
impl Drop for Ahead {
    fn drop(&mut self) {
        self.queries.abort();
    }
}

/// A shared side's groups, ready to be cut into nights.
enum Prepared {
    Aggregates(PreparedAggregates),
    Distinct(PreparedDistinct),
    Targets(PreparedTargets),
}

impl Prepared {
    fn new(side: SharedSide, batch: RecordBatch) -> Result<Prepared> {
        if batch.num_columns() == 0 {
            return Err(internal("the shared aggregation has no key"));
        }
        let keys = Keys::of(batch.column(0))?;
        Ok(match &side.recipe {
            Recipe::Aggregates { .. } => {
                Prepared::Aggregates(PreparedAggregates::new(side, batch, keys)?)
            }
            Recipe::Distinct { .. } => Prepared::Distinct(PreparedDistinct {
                side,
                batch,
                keys,
                word: None,
            }),
            Recipe::Effective { .. } => Prepared::Targets(PreparedTargets::new(side, batch, keys)?),
        })
    }

    fn name(&self) -> &str {
        match self {
            Prepared::Aggregates(p) => &p.side.name,
            Prepared::Distinct(p) => &p.side.name,
            Prepared::Targets(p) => p.name(),
        }
    }

    /// The side of night `index` (of `nights`, at `as_of`).
    fn night(&mut self, index: usize, nights: usize, as_of: Micros) -> Result<RecordBatch> {
        match self {
            Prepared::Aggregates(p) => p.night(index),
            Prepared::Distinct(p) => p.night(index, nights),
            Prepared::Targets(p) => p.night(as_of),
        }
    }
}

/// A column of one night being built.
enum Built {
    Int(Vec<Option<i64>>),
    Dec128(Vec<Option<i128>>),
    Dec256(Vec<Option<i256>>),
    Float(Vec<Option<f64>>),
    Take(Vec<Option<u32>>),
}

impl Built {
    fn finish(self, data_type: &DataType, input: &ArrayRef) -> Result<ArrayRef> {
        Ok(match (self, data_type) {
            (Built::Int(v), _) => Arc::new(Int64Array::from(v)),
            (Built::Dec128(v), DataType::Decimal128(p, s)) => {
                Arc::new(Decimal128Array::from(v).with_precision_and_scale(*p, *s)?)
            }
            (Built::Dec256(v), DataType::Decimal256(p, s)) => {
                Arc::new(Decimal256Array::from(v).with_precision_and_scale(*p, *s)?)
            }
            (Built::Float(v), _) => Arc::new(Float64Array::from(v)),
            (Built::Take(v), _) => take(input, &UInt32Array::from(v), None)?,
            (_, other) => return Err(internal(format!("a decimal column of type {other}"))),
        })
    }
}

/// One aggregate column's inputs, in (entity, bucket) order.
struct Source {
    combined: Combined,
    input: ArrayRef,
    /// Its running sums, for counts and sums.
    sums: Option<Lane>,
    /// The integer lane counting its non-null values, when a sum needs one.
    values: Option<usize>,
    /// For minima and maxima: comparable rows and, per position, the best
    /// row so far within its entity.
    ordered: Option<(Rows, Vec<Option<u32>>)>,
}

fn better(combine: Combine, rows: &Rows, candidate: u32, best: Option<u32>) -> bool {
    best.is_none_or(|best| {
        let (c, b) = (rows.row(candidate as usize), rows.row(best as usize));
        match combine {
            Combine::Max => c > b,
            _ => c < b,
        }
    })
}

/// A main side's groups in (entity, bucket) order, with running sums.
struct PreparedAggregates {
    side: SharedSide,
    batch: RecordBatch,
    keys: Keys,
    /// Where each entity's groups start in `order`.
    starts: Vec<usize>,
    /// Group rows in (entity, bucket) order.
    order: Vec<u32>,
    /// Their buckets, in that order.
    sorted: Vec<i64>,
    /// Where each window edge of the nights being cut falls in each
    /// entity's buckets, found for a chunk of nights at a time.
    edges: Option<Edges>,
    /// Running sums of the row-count columns and the sources' columns.
    sums: RunningSums,
    /// The integer lanes of the row-count columns, by name.
    row_counts: BTreeMap<String, usize>,
    sources: Vec<Source>,
}

impl PreparedAggregates {
    fn new(side: SharedSide, batch: RecordBatch, keys: Keys) -> Result<PreparedAggregates> {
        let Recipe::Aggregates {
            columns,
            row_ranges,
            ..
        } = &side.recipe
        else {
            return Err(internal("not a main side"));
        };
        let buckets = column(&batch, BUCKET)?.as_primitive::<Int64Type>();
        // Rows in (entity, bucket) order, and where each entity's rows start.
        let starts = keys.starts();
        let mut next = starts.clone();
        let mut order = vec![0u32; keys.of_row.len()];
        for (row, &k) in keys.of_row.iter().enumerate() {
            order[next[k as usize]] = row as u32;
            next[k as usize] += 1;
        }
        for k in 0..keys.len() {
            order[starts[k]..starts[k + 1]].sort_unstable_by_key(|&r| buckets.value(r as usize));
        }
        let sorted: Vec<i64> = order.iter().map(|&r| buckets.value(r as usize)).collect();

        // Every column with running sums, in one table: the row counts
        // first, then each source's sums and its count of values.
        let mut summed: Vec<&ArrayRef> = Vec::new();
        let mut count_names: Vec<&String> = Vec::new();
        for (_, name) in row_ranges.iter().flatten() {
            if !count_names.contains(&name) {
                count_names.push(name);
                summed.push(column(&batch, name)?);
            }
        }
        let mut sources = Vec::with_capacity(columns.len());
        // Per source, where its sums and values sit in `summed`.
        let mut at: Vec<(Option<usize>, Option<usize>)> = Vec::with_capacity(columns.len());
        for combined in columns {
            let read = column(&batch, &combined.input)?;
            let input = Arc::clone(read);
            let mut source = Source {
                combined: combined.clone(),
                input: Arc::clone(&input),
                sums: None,
                values: None,
                ordered: None,
            };
            let mut sums_at = None;
            match combined.combine {
                Combine::Count | Combine::Sum => {
                    sums_at = Some(summed.len());
                    summed.push(read);
                }
                Combine::Min | Combine::Max => {
                    let converter =
                        RowConverter::new(vec![SortField::new(input.data_type().clone())])?;
                    let rows = converter.convert_columns(&[Arc::clone(&input)])?;
                    let mut best_so_far = vec![None; order.len()];
                    for k in 0..keys.len() {
                        let mut best: Option<u32> = None;
                        for position in starts[k]..starts[k + 1] {
                            let row = order[position];
                            if input.is_valid(row as usize)
                                && better(combined.combine, &rows, row, best)
                            {
                                best = Some(row);
                            }
                            best_so_far[position] = best;
                        }
                    }
                    source.ordered = Some((rows, best_so_far));
                }
            }
            let values_at = match &combined.values {
                Some(values) => {
                    summed.push(column(&batch, values)?);
                    Some(summed.len() - 1)
                }
                None => None,
            };
            at.push((sums_at, values_at));
            sources.push(source);
        }
        let (sums, lanes) = RunningSums::of(&summed, &order)?;
        // Row counts and counts of values are integers by construction.
        let int_lane = |i: usize| match lanes.get(i) {
            Some(Lane::Int(lane)) => Ok(*lane),
            _ => Err(internal("a count that is not an integer")),
        };
        let row_counts = count_names
            .into_iter()
            .enumerate()
            .map(|(i, name)| Ok((name.clone(), int_lane(i)?)))
            .collect::<Result<_>>()?;
        for (source, (sums_at, values_at)) in sources.iter_mut().zip(at) {
            source.sums = sums_at.and_then(|i| lanes.get(i).copied());
            source.values = values_at.map(int_lane).transpose()?;
        }

        Ok(PreparedAggregates {
            side,
            batch,
            keys,
            starts,
            order,
            sorted,
            edges: None,
            sums,
            row_counts,
            sources,
        })
    }

    /// The side of night `night`: one row per entity with rows in its windows.
    fn night(&mut self, night: usize) -> Result<RecordBatch> {
        if self
            .edges
            .as_ref()
            .is_none_or(|e| !e.nights.contains(&night))
        {
            self.edges = Some(Edges::of_chunk(self, night)?);
        }
        let Recipe::Aggregates {
            rows, row_ranges, ..
        } = &self.side.recipe
        else {
            return Err(internal("not a main side"));
        };
        let night_rows = row_ranges
            .get(night)
            .ok_or_else(|| internal("a night that was not planned"))?;
        let Some(edges) = &self.edges else {
            return Err(internal("no window edges"));
        };
        // Each range as its two edges' rows in `edges.positions`.
        let edges_of = |range: &BucketRange| -> Result<(Option<usize>, usize)> {
            Ok((
                range.lo.map(|lo| edges.index(lo)).transpose()?,
                edges.index(range.hi)?,
            ))
        };
        let night_counts: Vec<((Option<usize>, usize), usize)> = night_rows
            .iter()
            .filter_map(|(range, name)| Some((range, *self.row_counts.get(name.as_str())?)))
            .map(|(range, counts)| Ok((edges_of(range)?, counts)))
            .collect::<Result<_>>()?;
        let source_edges: Vec<(Option<usize>, usize)> = self
            .sources
            .iter()
            .map(|s| {
                let range = s.combined.ranges.get(night);
                edges_of(range.ok_or_else(|| internal("a night that was not planned"))?)
            })
            .collect::<Result<_>>()?;
        let (side, keys, starts, order, sources, sums) = (
            &self.side,
            &self.keys,
            &self.starts,
            &self.order,
            &self.sources,
            &self.sums,
        );
        // At most one row per entity: room for all, so no column grows.
        let entities = keys.len();
        let mut reps = Vec::with_capacity(entities);
        let mut rows_read = Vec::with_capacity(entities);
        let mut built: Vec<Built> = sources
            .iter()
            .map(|s| match (s.sums, s.combined.combine) {
                (_, Combine::Min | Combine::Max) => Built::Take(Vec::with_capacity(entities)),
                (Some(Lane::Dec128(_)), _) => Built::Dec128(Vec::with_capacity(entities)),
                (Some(Lane::Dec256(_)), _) => Built::Dec256(Vec::with_capacity(entities)),
                (Some(Lane::Float(_)), _) => Built::Float(Vec::with_capacity(entities)),
                _ => Built::Int(Vec::with_capacity(entities)),
            })
            .collect();
        for (k, &first) in starts.iter().enumerate().take(keys.len()) {
            // The entity's groups in a range: a span of `order`.
            let span = |(lo, hi): (Option<usize>, usize)| {
                let s = lo.map_or(first, |lo| edges.positions[lo][k] as usize);
                (s, (edges.positions[hi][k] as usize).max(s))
            };
            let read: i64 = night_counts
                .iter()
                .map(|(range, lane)| sums.int(*lane, span(*range)))
                .sum();
            if read == 0 {
                continue;
            }
            reps.push(keys.row_of(k));
            rows_read.push(Some(read));
            for ((source, column), &range) in
                sources.iter().zip(built.iter_mut()).zip(&source_edges)
            {
                let (s, e) = span(range);
                let has_values = source.values.is_none_or(|v| sums.int(v, (s, e)) > 0);
                match (column, source.sums, &source.ordered) {
                    (Built::Take(v), _, Some((rows, best_so_far))) => {
                        let best = if range.0.is_none() {
                            (e > first).then(|| best_so_far[e - 1]).flatten()
                        } else {
                            let mut best = None;
                            for &row in &order[s..e] {
                                if source.input.is_valid(row as usize)
                                    && better(source.combined.combine, rows, row, best)
                                {
                                    best = Some(row);
                                }
                            }
                            best
                        };
                        v.push(best);
                    }
                    (Built::Int(v), Some(Lane::Int(lane)), _) => {
                        v.push(has_values.then(|| sums.int(lane, (s, e))));
                    }
                    (Built::Dec128(v), Some(Lane::Dec128(lane)), _) => {
                        v.push(has_values.then(|| sums.dec128(lane, (s, e))));
                    }
                    (Built::Dec256(v), Some(Lane::Dec256(lane)), _) => {
                        v.push(has_values.then(|| sums.dec256(lane, (s, e))));
                    }
                    (Built::Float(v), Some(Lane::Float(lane)), _) => {
                        v.push(has_values.then(|| sums.float(lane, (s, e))));
                    }
                    _ => return Err(internal("a shared column lost its kind")),
                }
            }
        }
        let mut by_name: BTreeMap<&str, ArrayRef> = BTreeMap::new();
        for (source, column) in sources.iter().zip(built) {
            let data_type = side
                .schema
                .field_with_name(&source.combined.column)?
                .data_type();
            by_name.insert(
                &source.combined.column,
                column.finish(data_type, &source.input)?,
            );
        }
        by_name.insert(rows, Arc::new(Int64Array::from(rows_read)));
        let key_type = side.schema.field(0).data_type();
        let key_column = keys.column(self.batch.column(0), reps, key_type)?;
        assemble(side, key_column, by_name)
    }
}

/// How many nights' window edges are found in one sweep: bounds the
/// memory they take (edges × entities positions).
const NIGHTS_PER_EDGE_CHUNK: usize = 16;

/// The window edges of a chunk of nights, and per edge where it falls in
/// each entity's buckets (the first of its groups in `order` at or after
/// the edge): one sweep over the groups finds them all, where searching
/// each entity's buckets again for each night and window did not pay.
struct Edges {
    /// The nights of the chunk.
    nights: std::ops::Range<usize>,
    /// Every bucket edge of their windows, ascending, without repeats.
    values: Vec<i64>,
    /// Per edge, per entity, a position in `order`.
    positions: Vec<Vec<u32>>,
}

impl Edges {
    /// The edges of the chunk holding `night`.
    fn of_chunk(side: &PreparedAggregates, night: usize) -> Result<Edges> {
        let Recipe::Aggregates { row_ranges, .. } = &side.side.recipe else {
            return Err(internal("not a main side"));
        };
        let start = night - night % NIGHTS_PER_EDGE_CHUNK;
        let nights = start..(start + NIGHTS_PER_EDGE_CHUNK).min(row_ranges.len());
        let mut values: Vec<i64> = Vec::new();
        for n in nights.clone() {
            let counted = row_ranges.get(n).into_iter().flatten().map(|(r, _)| *r);
            let read = side
                .sources
                .iter()
                .filter_map(|s| s.combined.ranges.get(n).copied());
            for range in counted.chain(read) {
                values.extend(range.lo);
                values.push(range.hi);
            }
        }
        values.sort_unstable();
        values.dedup();
        let entities = side.keys.len();
        let mut positions = vec![vec![0u32; entities]; values.len()];
        for (k, bounds) in side.starts.windows(2).enumerate().take(entities) {
            let (first, end) = (bounds[0], bounds[1]);
            let buckets = &side.sorted[first..end];
            let mut at = values
                .first()
                .map_or(0, |v| buckets.partition_point(|&b| b < *v));
            for (edge, value) in values.iter().enumerate() {
                while at < buckets.len() && buckets[at] < *value {
                    at += 1;
                }
                positions[edge][k] = u32::try_from(first + at)
                    .map_err(|_| internal("more groups than a position holds"))?;
            }
        }
        Ok(Edges {
            nights,
            values,
            positions,
        })
    }

    /// The row of `value` in `positions`.
    fn index(&self, value: i64) -> Result<usize> {
        self.values
            .binary_search(&value)
            .map_err(|_| internal("a window edge that was not found"))
    }
}

/// A distinct side's (entity, value) groups with their night masks; the
/// tallies of one mask word (62 nights) at a time.
struct PreparedDistinct {
    side: SharedSide,
    batch: RecordBatch,
    keys: Keys,
    /// The word tallied last, and per list (presence, then each count) and
    /// entity, the values counting for each of its nights.
    word: Option<(usize, Vec<Vec<u32>>)>,
}

impl PreparedDistinct {
    fn tally(&self, word: usize) -> Result<Vec<Vec<u32>>> {
        let Recipe::Distinct { presence, counts } = &self.side.recipe else {
            return Err(internal("not a distinct side"));
        };
        let lists: Vec<&String> = std::iter::once(presence.get(word))
            .chain(counts.iter().map(|(_, masks)| masks.get(word)))
            .collect::<Option<_>>()
            .ok_or_else(|| internal("a night beyond the masks"))?;
        let mut tallies = vec![vec![0u32; self.keys.len() * NIGHTS_PER_WORD]; lists.len()];
        for (name, tally) in lists.iter().zip(tallies.iter_mut()) {
            let mask = column(&self.batch, name)?.as_primitive::<Int64Type>();
            for row in 0..self.batch.num_rows() {
                if mask.is_null(row) {
                    continue;
                }
                let entity = self.keys.of_row[row] as usize * NIGHTS_PER_WORD;
                let mut bits = mask.value(row) as u64;
                while bits != 0 {
                    let bit = bits.trailing_zeros() as usize;
                    if bit < NIGHTS_PER_WORD {
                        tally[entity + bit] += 1;
                    }
                    bits &= bits - 1;
                }
            }
        }
        Ok(tallies)
    }

    /// The side of night `night` (of `nights`): the entities with a value
    /// in its branch range, and their counts.
    fn night(&mut self, night: usize, nights: usize) -> Result<RecordBatch> {
        if night >= nights {
            return Err(internal("a night that was not planned"));
        }
        let (word, bit) = (night / NIGHTS_PER_WORD, night % NIGHTS_PER_WORD);
        if self.word.as_ref().is_none_or(|(w, _)| *w != word) {
            self.word = Some((word, self.tally(word)?));
        }
        let Some((_, tallies)) = &self.word else {
            return Err(internal("no tallies"));
        };
        let Recipe::Distinct { counts, .. } = &self.side.recipe else {
            return Err(internal("not a distinct side"));
        };
        let at = |k: usize| k * NIGHTS_PER_WORD + bit;
        let present: Vec<usize> = (0..self.keys.len())
            .filter(|&k| tallies[0][at(k)] > 0)
            .collect();
        let mut by_name: BTreeMap<&str, ArrayRef> = BTreeMap::new();
        for ((column_name, _), tally) in counts.iter().zip(&tallies[1..]) {
            let values: Int64Array = present
                .iter()
                .map(|&k| Some(i64::from(tally[at(k)])))
                .collect();
            by_name.insert(column_name, Arc::new(values));
        }
        let reps = present.iter().map(|&k| self.keys.row_of(k)).collect();
        let key_type = self.side.schema.field(0).data_type();
        let key_column = self.keys.column(self.batch.column(0), reps, key_type)?;
        assemble(&self.side, key_column, by_name)
    }
}
