//! `--suggest-weights`: which indicator weights would have ranked the
//! outcome best? A logistic regression of the outcome on the indicator
//! scores is fitted on the earlier nights and judged on the later ones (a
//! split in time, so the judgement is out of time, as the score will be
//! used), against the pipeline's own health on the same rows.
//!
//! Method: scores are standardised on the earlier nights (a missing score
//! counts as that mean, i.e. 0); the regression is L2-penalised (λ = 1).
//! Health is a weighted mean of scores, higher = less risk, so an
//! indicator's suggested weight is its coefficient per score point,
//! negated, clipped at 0 (a weight cannot be negative: an indicator that
//! points the wrong way gets 0), as shares of 100. Suggested health on a
//! row is the weighted mean of its present scores, renormalised over them
//! as Vane's health is. Health models (segment weights) are not fitted.

use serde::Serialize;

use super::collect::Collected;
use super::logistic;
use super::stats;
use crate::check::model::Model;

/// Penalty of the regression, on standardised scores.
const L2: f64 = 1.0;

/// One indicator's weight, now and suggested (shares of 100).
#[derive(Debug, Clone, Serialize)]
pub struct SuggestedWeight {
    /// The indicator.
    pub indicator: String,
    /// Its group.
    pub group: String,
    /// Its share of health now: group weight × weight within the group.
    pub current: f64,
    /// Its suggested share.
    pub suggested: f64,
}

/// What `--suggest-weights` found.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    /// The first night judged (the nights before it are fitted).
    pub split: chrono::NaiveDate,
    /// Entity-nights fitted.
    pub fitted: usize,
    /// Entity-nights judged.
    pub judged: usize,
    /// Per indicator.
    pub weights: Vec<SuggestedWeight>,
    /// Out-of-time AUC of the pipeline's health on the judged rows.
    pub auc_current: Option<f64>,
    /// Out-of-time AUC of the suggested health on the same rows.
    pub auc_suggested: Option<f64>,
    /// Whether the regression converged.
    pub converged: bool,
    /// Why the comparison is undefined, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caveat: Option<String>,
}

/// Each indicator's share of health now: its group's share times its
/// share of the group.
fn current_shares(model: &Model) -> Vec<f64> {
    let Some(health) = &model.health else {
        return vec![0.0; model.indicators.len()];
    };
    let total: f64 = health.groups.iter().map(|g| g.weight).sum();
    model
        .indicators
        .iter()
        .map(|i| {
            let Some(group) = health.groups.iter().find(|g| g.name == i.group) else {
                return 0.0;
            };
            let in_group: f64 = model
                .indicators
                .iter()
                .filter(|o| o.group == i.group)
                .map(|o| o.weight)
                .sum();
            if total > 0.0 && in_group > 0.0 {
                100.0 * group.weight / total * i.weight / in_group
            } else {
                0.0
            }
        })
        .collect()
}

/// Fit on the first two thirds of the nights, judge on the rest; `None`
/// with fewer than two nights, no indicators, or no outcome to fit.
pub fn suggest(data: &Collected, model: &Model) -> Option<Suggestion> {
    let k = data.indicators.len();
    if data.nights.len() < 2 || k == 0 {
        return None;
    }
    let split_index = (data.nights.len() * 2)
        .div_ceil(3)
        .min(data.nights.len() - 1);
    let first_judged = data.night_rows(split_index).start;
    let (fit_rows, judge_rows) = (0..first_judged, first_judged..data.len());
    let mut means = vec![0.0; k];
    let mut deviations = vec![1.0; k];
    for (j, (_, scores)) in data.indicators.iter().enumerate() {
        let present: Vec<f64> = fit_rows.clone().filter_map(|r| scores[r]).collect();
        if present.is_empty() {
            continue;
        }
        let mean = present.iter().sum::<f64>() / present.len() as f64;
        let variance =
            present.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / present.len() as f64;
        means[j] = mean;
        deviations[j] = if variance > 0.0 { variance.sqrt() } else { 1.0 };
    }
    let features: Vec<Vec<f64>> = fit_rows
        .clone()
        .map(|r| {
            data.indicators
                .iter()
                .enumerate()
                .map(|(j, (_, s))| s[r].map_or(0.0, |v| (v - means[j]) / deviations[j]))
                .collect()
        })
        .collect();
    let outcome: Vec<bool> = fit_rows.clone().map(|r| data.outcome[r]).collect();
    let fit = logistic::fit(&features, &outcome, L2)?;
    let raw: Vec<f64> = fit
        .coefficients
        .iter()
        .zip(&deviations)
        .map(|(beta, sd)| (-beta / sd).max(0.0))
        .collect();
    let total: f64 = raw.iter().sum();
    let suggested: Vec<f64> = raw
        .iter()
        .map(|w| if total > 0.0 { 100.0 * w / total } else { 0.0 })
        .collect();
    let current = current_shares(model);
    // Both healths are judged on the same rows: those where each is defined.
    let mut risk_current = Vec::new();
    let mut risk_suggested = Vec::new();
    let mut positive = Vec::new();
    for r in judge_rows.clone() {
        let (mut sum, mut weight) = (0.0, 0.0);
        for (j, (_, scores)) in data.indicators.iter().enumerate() {
            if let Some(s) = scores[r] {
                sum += suggested[j] * s;
                weight += suggested[j];
            }
        }
        if let (Some(health), true) = (data.health[r], weight > 0.0) {
            risk_current.push(-health);
            risk_suggested.push(-sum / weight);
            positive.push(data.outcome[r]);
        }
    }
    let judged_outcomes = judge_rows.clone().filter(|r| data.outcome[*r]).count();
    let weights = model
        .indicators
        .iter()
        .zip(current.iter().zip(&suggested))
        .map(|(i, (c, s))| SuggestedWeight {
            indicator: i.name.clone(),
            group: i.group.clone(),
            current: *c,
            suggested: *s,
        })
        .collect();
    Some(Suggestion {
        split: data.nights[split_index],
        fitted: fit_rows.len(),
        judged: judge_rows.len(),
        weights,
        auc_current: stats::auc(&risk_current, &positive),
        auc_suggested: stats::auc(&risk_suggested, &positive),
        converged: fit.converged,
        caveat: if total == 0.0 {
            Some("on the fitted nights no indicator's score falls as the outcome grows more likely (or none varies), so every suggested weight is 0".into())
        } else if judged_outcomes == 0 || judged_outcomes == judge_rows.len() {
            Some("the outcome never (or always) followed the judged nights, so their AUC is undefined: judge on a longer range".into())
        } else {
            None
        },
    })
}
