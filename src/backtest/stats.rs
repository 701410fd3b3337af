//! The statistics a backtest reports, over entity-nights: ROC AUC (ties
//! count a half) and its bootstrap interval by entity, precision and
//! recall, lift, calibration bins and medians. Undefined figures are
//! `None`, never NaN.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

/// Rows sorted by risk, cut into runs of equal risk: the order every AUC
/// over the same rows (and any weighting of them) reuses.
struct Ranked {
    order: Vec<usize>,
    /// Where each run of equal risk starts in `order` (and the end).
    runs: Vec<usize>,
}

impl Ranked {
    fn new(risk: &[f64]) -> Ranked {
        let mut order: Vec<usize> = (0..risk.len()).collect();
        order.sort_by(|a, b| risk[*a].total_cmp(&risk[*b]));
        let mut runs = vec![0];
        for i in 1..order.len() {
            if risk[order[i]].total_cmp(&risk[order[i - 1]]).is_ne() {
                runs.push(i);
            }
        }
        runs.push(order.len());
        Ranked { order, runs }
    }

    /// The share of (positive, negative) pairs where the positive has the
    /// higher risk, ties counting a half.
    fn auc(&self, positive: &[bool]) -> Option<f64> {
        let (mut below, mut pairs, mut positives) = (0.0, 0.0, 0.0);
        for run in self.runs.windows(2) {
            let (mut p, mut n) = (0.0, 0.0);
            for row in &self.order[run[0]..run[1]] {
                if positive[*row] {
                    p += 1.0;
                } else {
                    n += 1.0;
                }
            }
            pairs += p * (below + n / 2.0);
            below += n;
            positives += p;
        }
        (positives > 0.0 && below > 0.0).then(|| pairs / (positives * below))
    }
}

/// ROC AUC: the probability that a random row with the outcome has a
/// higher `risk` than a random row without it, ties counting a half (the
/// Mann–Whitney U over the product of the counts). `None` without rows of
/// both kinds. Callers drop missing risks first; NaN sorts last and never
/// panics.
pub fn auc(risk: &[f64], positive: &[bool]) -> Option<f64> {
    let ranked = Ranked::new(risk);
    ranked.auc(positive)
}

/// An index below `n` from the generator: Lemire's multiply-and-shift with
/// rejection, so the draw is unbiased and depends only on the generator's
/// stream (ChaCha's output is specified; `rand`'s range sampling may
/// change between versions, which would change published intervals).
fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    let mut product = u128::from(rng.next_u64()) * u128::from(n);
    if (product as u64) < n {
        let threshold = n.wrapping_neg() % n;
        while (product as u64) < threshold {
            product = u128::from(rng.next_u64()) * u128::from(n);
        }
    }
    (product >> 64) as u64
}

/// The 95% bootstrap interval of [`auc`], resampling `group`s (entities)
/// with replacement: each resample draws as many groups as there are, and
/// counts every row of a group as often as the group was drawn, so the
/// interval reflects that one entity's nights are not independent.
/// Resamples without rows of both kinds are skipped; `None` when fewer
/// than half are defined. The ends are the sorted resamples at ranks
/// ⌊0.025·(m−1)⌋ and ⌈0.975·(m−1)⌉. Reproducible for a `seed`.
pub fn auc_interval(
    risk: &[f64],
    positive: &[bool],
    group: &[u32],
    resamples: usize,
    seed: u64,
) -> Option<(f64, f64)> {
    interval(&Ranked::new(risk), positive, group, resamples, seed)
}

/// [`auc`] and [`auc_interval`] together, sorting the rows once (the
/// interval only when the AUC is defined).
pub fn auc_with_interval(
    risk: &[f64],
    positive: &[bool],
    group: &[u32],
    resamples: usize,
    seed: u64,
) -> (Option<f64>, Option<(f64, f64)>) {
    let ranked = Ranked::new(risk);
    let point = ranked.auc(positive);
    let interval = point.and_then(|_| interval(&ranked, positive, group, resamples, seed));
    (point, interval)
}

fn interval(
    ranked: &Ranked,
    positive: &[bool],
    group: &[u32],
    resamples: usize,
    seed: u64,
) -> Option<(f64, f64)> {
    // Groups numbered densely in order of appearance.
    let mut dense: Vec<Option<usize>> =
        vec![None; group.iter().max().map_or(0, |g| *g as usize + 1)];
    let mut groups = 0;
    let members: Vec<usize> = group
        .iter()
        .map(|g| {
            *dense[*g as usize].get_or_insert_with(|| {
                groups += 1;
                groups - 1
            })
        })
        .collect();
    if groups == 0 || resamples == 0 {
        return None;
    }
    let runs = GroupRuns::new(ranked, &members, positive);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut drawn = vec![0.0f64; groups];
    let mut values = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        drawn.iter_mut().for_each(|d| *d = 0.0);
        for _ in 0..groups {
            drawn[below(&mut rng, groups as u64) as usize] += 1.0;
        }
        if let Some(v) = runs.auc(&drawn) {
            values.push(v);
        }
    }
    if values.len() * 2 < resamples {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let last = (values.len() - 1) as f64;
    let low = values[(0.025 * last).floor() as usize];
    let high = values[(0.975 * last).ceil() as usize];
    Some((low, high))
}

/// Each run of equal risk as its groups' counts of rows with and without
/// the outcome: a resample weighs a group's rows alike, so one entry per
/// (run, group) does what one per row did — far fewer where an entity
/// keeps the same score night after night. Read in order by each resample.
struct GroupRuns {
    /// Per entry: its group, rows with the outcome, rows without.
    entries: Vec<(usize, f64, f64)>,
    /// Where each run's entries start (and the end).
    starts: Vec<usize>,
}

impl GroupRuns {
    fn new(ranked: &Ranked, members: &[usize], positive: &[bool]) -> GroupRuns {
        let mut entries: Vec<(usize, f64, f64)> = Vec::new();
        let mut starts = vec![0];
        for run in ranked.runs.windows(2) {
            let mut rows: Vec<(usize, bool)> = ranked.order[run[0]..run[1]]
                .iter()
                .map(|r| (members[*r], positive[*r]))
                .collect();
            rows.sort_unstable();
            let run_start = entries.len();
            for (group, is_positive) in rows {
                let same_group = entries.len() > run_start && entries[entries.len() - 1].0 == group;
                if !same_group {
                    entries.push((group, 0.0, 0.0));
                }
                if let Some(last) = entries.last_mut() {
                    if is_positive {
                        last.1 += 1.0;
                    } else {
                        last.2 += 1.0;
                    }
                }
            }
            starts.push(entries.len());
        }
        GroupRuns { entries, starts }
    }

    /// The AUC with each group's rows counted `drawn[group]` times.
    fn auc(&self, drawn: &[f64]) -> Option<f64> {
        let (mut below, mut pairs, mut positives) = (0.0, 0.0, 0.0);
        for run in self.starts.windows(2) {
            let (mut p, mut n) = (0.0, 0.0);
            for (group, with, without) in &self.entries[run[0]..run[1]] {
                let w = drawn[*group];
                p += w * with;
                n += w * without;
            }
            pairs += p * (below + n / 2.0);
            below += n;
            positives += p;
        }
        (positives > 0.0 && below > 0.0).then(|| pairs / (positives * below))
    }
}

/// Counts of flagged rows against the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Confusion {
    /// Flagged, with the outcome.
    pub true_positives: u64,
    /// Flagged, without.
    pub false_positives: u64,
    /// Not flagged, with the outcome.
    pub false_negatives: u64,
    /// Not flagged, without.
    pub true_negatives: u64,
}

impl Confusion {
    /// Count `flagged` against `positive`, row by row.
    pub fn of(flagged: &[bool], positive: &[bool]) -> Confusion {
        let mut c = Confusion::default();
        for (f, p) in flagged.iter().zip(positive) {
            match (f, p) {
                (true, true) => c.true_positives += 1,
                (true, false) => c.false_positives += 1,
                (false, true) => c.false_negatives += 1,
                (false, false) => c.true_negatives += 1,
            }
        }
        c
    }

    /// Flagged rows with the outcome, over flagged rows (`None`: none flagged).
    pub fn precision(&self) -> Option<f64> {
        ratio(
            self.true_positives as f64,
            (self.true_positives + self.false_positives) as f64,
        )
    }

    /// Flagged rows with the outcome, over rows with it (`None`: none has it).
    pub fn recall(&self) -> Option<f64> {
        ratio(
            self.true_positives as f64,
            (self.true_positives + self.false_negatives) as f64,
        )
    }

    /// The harmonic mean of precision and recall (0 when both are 0).
    pub fn f1(&self) -> Option<f64> {
        f1(self.precision()?, self.recall()?)
    }
}

/// [`Confusion`] with every row counted by its weight (say, the
/// account's annual revenue), for dollar-weighted precision and recall.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WeightedConfusion {
    /// Weight flagged, with the outcome.
    pub true_positives: f64,
    /// Weight flagged, without.
    pub false_positives: f64,
    /// Weight not flagged, with the outcome.
    pub false_negatives: f64,
    /// Weight not flagged, without.
    pub true_negatives: f64,
}

impl Confusion {
    /// Sum `weight` of `flagged` against `positive`, row by row. Weights
    /// are not negative; callers drop (or zero) missing weights first, as
    /// a NaN leaves the figures it touches undefined.
    pub fn weighted(flagged: &[bool], positive: &[bool], weight: &[f64]) -> WeightedConfusion {
        let mut c = WeightedConfusion::default();
        for ((f, p), w) in flagged.iter().zip(positive).zip(weight) {
            match (f, p) {
                (true, true) => c.true_positives += w,
                (true, false) => c.false_positives += w,
                (false, true) => c.false_negatives += w,
                (false, false) => c.true_negatives += w,
            }
        }
        c
    }
}

impl WeightedConfusion {
    /// Flagged weight with the outcome, over flagged weight (`None`: none flagged).
    pub fn precision(&self) -> Option<f64> {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// Flagged weight with the outcome, over weight with it (`None`: none has it).
    pub fn recall(&self) -> Option<f64> {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    /// The harmonic mean of weighted precision and recall (0 when both are 0).
    pub fn f1(&self) -> Option<f64> {
        f1(self.precision()?, self.recall()?)
    }
}

fn ratio(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| part / whole)
}

fn f1(precision: f64, recall: f64) -> Option<f64> {
    if precision + recall == 0.0 {
        Some(0.0)
    } else {
        Some(2.0 * precision * recall / (precision + recall))
    }
}

/// A rate over the base rate (`None` when the base rate is 0).
pub fn lift(rate: f64, base_rate: f64) -> Option<f64> {
    (base_rate > 0.0).then(|| rate / base_rate)
}

/// One calibration bin.
#[derive(Debug, Clone, PartialEq)]
pub struct Bin {
    /// Its lowest score.
    pub lo: f64,
    /// Its highest score.
    pub hi: f64,
    /// Rows in it.
    pub count: usize,
    /// Of those, with the outcome.
    pub positives: usize,
    /// Their mean score.
    pub mean_score: f64,
}

/// Rows cut into `bins` bins of about equal count by ascending score
/// (deciles for 10). Equal scores never straddle two bins, so with ties
/// bins can be unequal (or fewer).
pub fn calibration(score: &[f64], positive: &[bool], bins: usize) -> Vec<Bin> {
    if score.is_empty() || bins == 0 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|a, b| score[*a].total_cmp(&score[*b]));
    let mut out: Vec<Bin> = Vec::new();
    let mut start = 0;
    for k in 1..=bins {
        let mut end = (score.len() * k / bins).max(start);
        while end < order.len() && end > 0 && score[order[end]] == score[order[end - 1]] {
            end += 1;
        }
        if end > start {
            let rows = &order[start..end];
            let sum: f64 = rows.iter().map(|r| score[*r]).sum();
            out.push(Bin {
                lo: score[rows[0]],
                hi: score[rows[rows.len() - 1]],
                count: rows.len(),
                positives: rows.iter().filter(|r| positive[**r]).count(),
                mean_score: sum / rows.len() as f64,
            });
        }
        start = end;
    }
    out
}

/// The median (the mean of the middle two for an even count; `None` when empty).
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ties_as_a_half() {
        // Positives at risk 2 and 3, negatives at 1 and 2. Pairs (p, n):
        // (2,1) 1, (2,2) ½, (3,1) 1, (3,2) 1 → 3.5 of 4 = 0.875.
        let auc = auc(&[1.0, 2.0, 2.0, 3.0], &[false, true, false, true]);
        assert_eq!(auc, Some(0.875));
        assert_eq!(super::auc(&[1.0, 2.0], &[false, true]), Some(1.0));
        assert_eq!(super::auc(&[1.0, 2.0], &[true, false]), Some(0.0));
        assert_eq!(
            super::auc(&[5.0, 5.0, 5.0], &[true, false, false]),
            Some(0.5)
        );
        assert_eq!(super::auc(&[1.0, 2.0], &[true, true]), None);
        assert_eq!(super::auc(&[], &[]), None);
    }

    #[test]
    fn the_bootstrap_is_reproducible_and_holds_a_clear_signal() {
        let risk: Vec<f64> = (0..200).map(|i| f64::from(i % 50)).collect();
        let positive: Vec<bool> = (0..200).map(|i| i % 50 > 30 || i % 7 == 0).collect();
        let group: Vec<u32> = (0..200).map(|i| i / 4).collect();
        let point = auc(&risk, &positive).expect("defined");
        let a = auc_interval(&risk, &positive, &group, 300, 7).expect("interval");
        let b = auc_interval(&risk, &positive, &group, 300, 7).expect("interval");
        assert_eq!(a, b, "same seed, same interval");
        assert!(a.0 <= point && point <= a.1, "{a:?} holds {point}");
        assert!(a.0 > 0.5, "a clear signal: {a:?}");
        let c = auc_interval(&risk, &positive, &group, 300, 8).expect("interval");
        assert_ne!(a, c, "another seed draws other entities");
        assert_eq!(auc_interval(&risk, &[false; 200], &group, 50, 1), None);
    }

    #[test]
    fn draws_are_unbiased_indices_below_n() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut seen = [0usize; 3];
        for _ in 0..3000 {
            seen[below(&mut rng, 3) as usize] += 1;
        }
        assert!(seen.iter().all(|s| (900..1100).contains(s)), "{seen:?}");
    }

    #[test]
    fn precision_recall_and_f1_by_hand() {
        // Flagged 4: 3 with the outcome; 5 rows have it.
        let flagged = [true, true, true, true, false, false, false, false];
        let positive = [true, true, true, false, true, true, false, false];
        let c = Confusion::of(&flagged, &positive);
        assert_eq!(
            (
                c.true_positives,
                c.false_positives,
                c.false_negatives,
                c.true_negatives
            ),
            (3, 1, 2, 2)
        );
        assert_eq!(c.precision(), Some(0.75));
        assert_eq!(c.recall(), Some(0.6));
        let f1 = c.f1().expect("defined");
        assert!((f1 - 2.0 * 0.75 * 0.6 / 1.35).abs() < 1e-12);
        let none = Confusion::of(&[false, false], &[false, false]);
        assert_eq!(
            (none.precision(), none.recall(), none.f1()),
            (None, None, None)
        );
        assert_eq!(lift(0.3, 0.1).map(|l| (l * 1e9).round()), Some(3e9));
        assert_eq!(lift(0.3, 0.0), None);
    }

    #[test]
    fn weighted_precision_recall_and_f1_by_hand() {
        // Dollars: flagged 100 with the outcome and 50 without; 300 with
        // the outcome not flagged. Precision 100/150 = 2/3, recall
        // 100/400 = 1/4, F1 = 2·(2/3)(1/4) / (2/3 + 1/4) = 4/11.
        let flagged = [true, true, false, false];
        let positive = [true, false, true, false];
        let c = Confusion::weighted(&flagged, &positive, &[100.0, 50.0, 300.0, 25.0]);
        let expected = WeightedConfusion {
            true_positives: 100.0,
            false_positives: 50.0,
            false_negatives: 300.0,
            true_negatives: 25.0,
        };
        assert_eq!(c, expected);
        assert!((c.precision().expect("defined") - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(c.recall(), Some(0.25));
        assert!((c.f1().expect("defined") - 4.0 / 11.0).abs() < 1e-12);
        let nothing_flagged = Confusion::weighted(&[false], &[true], &[10.0]);
        assert_eq!(nothing_flagged.precision(), None);
        assert_eq!(nothing_flagged.recall(), Some(0.0));
        assert_eq!(nothing_flagged.f1(), None);
    }

    #[test]
    fn calibration_bins_keep_ties_together() {
        let score = [1.0, 1.0, 1.0, 2.0, 3.0, 4.0];
        let positive = [true, false, false, false, true, true];
        let bins = calibration(&score, &positive, 3);
        let shape: Vec<(f64, f64, usize, usize)> = bins
            .iter()
            .map(|b| (b.lo, b.hi, b.count, b.positives))
            .collect();
        assert_eq!(
            shape,
            [(1.0, 1.0, 3, 1), (2.0, 2.0, 1, 0), (3.0, 4.0, 2, 2)]
        );
        assert!(calibration(&[], &[], 10).is_empty());
    }

    #[test]
    fn medians_of_odd_even_and_empty() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }
}
