//! L2-regularised logistic regression fitted by Newton's method (IRLS), to
//! suggest indicator weights: which weighting of the indicators best
//! predicts the outcome. Deliberately small: a few columns, many rows, no
//! linear-algebra dependency (the Newton system is solved by a Cholesky
//! factorisation written here).
//!
//! The objective minimised is the summed log-loss plus `l2 / 2 · ‖β‖²`,
//! where β are the coefficients and the intercept is not penalised (a
//! penalised intercept would pull the base rate towards one half).

/// Newton stops once no parameter moves by this much in one step.
const STEP_TOLERANCE: f64 = 1e-10;

/// Newton gives up after this many steps (then `converged` is false).
const MAX_ITERATIONS: usize = 100;

/// A Newton step is halved at most this many times while it makes the
/// objective worse.
const MAX_HALVINGS: usize = 50;

/// A step that raises the objective by less than this share of it is
/// rounding, not overshooting, and is taken whole.
const OBJECTIVE_ROUNDING: f64 = 1e-12;

/// A Cholesky pivot below this share of the largest diagonal entry counts
/// as zero: the system is singular (say, a column repeated with `l2 = 0`).
const SINGULAR_PIVOT: f64 = 1e-12;

/// A fitted model: the probability of the outcome for a row `x` is
/// `σ(intercept + Σ coefficients[j] · x[j])` (see [`predict`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// The log-odds of the outcome when every feature is zero.
    pub intercept: f64,
    /// One weight per feature column, in column order.
    pub coefficients: Vec<f64>,
    /// Newton steps taken.
    pub iterations: usize,
    /// Whether the last step moved every parameter by less than 1e-10;
    /// false when Newton stopped after 100 steps.
    pub converged: bool,
}

/// Fit the outcome on `features` (one row per observation, one value per
/// column), minimising the summed log-loss plus `l2 / 2 · ‖β‖²` over the
/// coefficients β (the intercept is not penalised).
///
/// Newton starts from all zeros; a step that makes the objective clearly
/// worse is halved until it does not, which keeps the fit going downhill where a
/// full step would overshoot. `None` for no rows, rows of unequal length,
/// an outcome of another length than the rows, a non-finite value, a
/// negative or non-finite `l2`, or a singular Newton system (a constant or
/// repeated column with `l2 = 0`). Separable data with `l2 = 0` has its
/// optimum at infinity: the Hessian vanishes on the way there, so it has
/// no fit either (or, short of that, one that did not converge); a
/// positive `l2` always has a finite optimum.
pub fn fit(features: &[Vec<f64>], outcome: &[bool], l2: f64) -> Option<Fit> {
    let columns = features.first()?.len();
    let well_formed = outcome.len() == features.len()
        && features
            .iter()
            .all(|row| row.len() == columns && row.iter().all(|v| v.is_finite()));
    if !well_formed || !l2.is_finite() || l2 < 0.0 {
        return None;
    }
    let problem = Problem {
        features,
        outcome,
        l2,
    };
    let mut parameters = vec![0.0; columns + 1];
    let mut objective = problem.objective(&parameters);
    for iteration in 1..=MAX_ITERATIONS {
        let (gradient, hessian) = problem.gradient_and_hessian(&parameters);
        let step = solve_cholesky(hessian, gradient)?;
        let largest_step = step.iter().fold(0.0f64, |m, s| m.max(s.abs()));
        if largest_step < STEP_TOLERANCE {
            subtract_scaled(&mut parameters, &step, 1.0);
            return Some(Fit::from_parameters(parameters, iteration, true));
        }
        // Near the optimum a step changes the objective by less than its
        // rounding error; only a clear increase counts as overshooting.
        let rounding = OBJECTIVE_ROUNDING * objective.abs().max(1.0);
        let mut scale = 1.0;
        let mut candidate = parameters.clone();
        let mut candidate_objective = objective;
        for _ in 0..MAX_HALVINGS {
            candidate.copy_from_slice(&parameters);
            subtract_scaled(&mut candidate, &step, scale);
            candidate_objective = problem.objective(&candidate);
            if candidate_objective <= objective + rounding {
                break;
            }
            scale /= 2.0;
        }
        parameters = candidate;
        objective = candidate_objective;
    }
    Some(Fit::from_parameters(parameters, MAX_ITERATIONS, false))
}

/// The fitted probability of the outcome for `row`, which has one value
/// per coefficient, in the order the fit's columns had.
pub fn predict(fit: &Fit, row: &[f64]) -> f64 {
    debug_assert_eq!(
        row.len(),
        fit.coefficients.len(),
        "one value per coefficient"
    );
    let log_odds = fit.intercept
        + fit
            .coefficients
            .iter()
            .zip(row)
            .map(|(c, x)| c * x)
            .sum::<f64>();
    sigmoid(log_odds)
}

impl Fit {
    /// Split Newton's parameter vector (intercept first) into a fit.
    fn from_parameters(parameters: Vec<f64>, iterations: usize, converged: bool) -> Fit {
        let mut coefficients = parameters;
        let intercept = coefficients.remove(0);
        Fit {
            intercept,
            coefficients,
            iterations,
            converged,
        }
    }
}

/// The data and penalty of one fit. Parameters are `[intercept, β…]`.
struct Problem<'a> {
    features: &'a [Vec<f64>],
    outcome: &'a [bool],
    l2: f64,
}

impl Problem<'_> {
    /// The log-odds of one row.
    fn log_odds(&self, parameters: &[f64], row: &[f64]) -> f64 {
        parameters[0]
            + parameters[1..]
                .iter()
                .zip(row)
                .map(|(b, x)| b * x)
                .sum::<f64>()
    }

    /// Summed log-loss plus the penalty: what Newton minimises.
    fn objective(&self, parameters: &[f64]) -> f64 {
        let loss: f64 = self
            .features
            .iter()
            .zip(self.outcome)
            .map(|(row, &positive)| {
                let z = self.log_odds(parameters, row);
                // −log σ(z) when positive, −log(1 − σ(z)) = −log σ(−z) when not.
                log_one_plus_exp(if positive { -z } else { z })
            })
            .sum();
        let penalty: f64 = parameters[1..].iter().map(|b| b * b).sum();
        loss + self.l2 / 2.0 * penalty
    }

    /// The objective's gradient and Hessian (row-major, symmetric) at
    /// `parameters`; the row of ones for the intercept is implicit.
    fn gradient_and_hessian(&self, parameters: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let size = parameters.len();
        let mut gradient = vec![0.0; size];
        let mut hessian = vec![0.0; size * size];
        let mut design = vec![1.0; size];
        for (row, &positive) in self.features.iter().zip(self.outcome) {
            design[1..].copy_from_slice(row);
            let probability = sigmoid(self.log_odds(parameters, row));
            let residual = probability - if positive { 1.0 } else { 0.0 };
            let weight = probability * (1.0 - probability);
            for i in 0..size {
                gradient[i] += residual * design[i];
                for j in 0..=i {
                    hessian[i * size + j] += weight * design[i] * design[j];
                }
            }
        }
        for i in 1..size {
            gradient[i] += self.l2 * parameters[i];
            hessian[i * size + i] += self.l2;
        }
        for i in 0..size {
            for j in 0..i {
                hessian[j * size + i] = hessian[i * size + j];
            }
        }
        (gradient, hessian)
    }
}

/// `parameters -= scale · step`, element by element.
fn subtract_scaled(parameters: &mut [f64], step: &[f64], scale: f64) {
    for (p, s) in parameters.iter_mut().zip(step) {
        *p -= scale * s;
    }
}

/// Solve `matrix · x = rhs` for a symmetric positive-definite `matrix`
/// (row-major, `rhs.len()` square) by Cholesky factorisation `L·Lᵀ`;
/// `None` when a pivot is not clearly positive (singular or indefinite).
fn solve_cholesky(mut matrix: Vec<f64>, mut rhs: Vec<f64>) -> Option<Vec<f64>> {
    let n = rhs.len();
    let largest_diagonal = (0..n).fold(0.0f64, |m, i| m.max(matrix[i * n + i].abs()));
    let smallest_pivot = SINGULAR_PIVOT * largest_diagonal;
    // Overwrite the lower triangle with L.
    for j in 0..n {
        let pivot = matrix[j * n + j] - (0..j).map(|k| matrix[j * n + k].powi(2)).sum::<f64>();
        if pivot.is_nan() || pivot <= smallest_pivot {
            return None;
        }
        let root = pivot.sqrt();
        matrix[j * n + j] = root;
        for i in j + 1..n {
            let dot: f64 = (0..j).map(|k| matrix[i * n + k] * matrix[j * n + k]).sum();
            matrix[i * n + j] = (matrix[i * n + j] - dot) / root;
        }
    }
    // L·y = rhs, then Lᵀ·x = y, both in place.
    for i in 0..n {
        let dot: f64 = (0..i).map(|k| matrix[i * n + k] * rhs[k]).sum();
        rhs[i] = (rhs[i] - dot) / matrix[i * n + i];
    }
    for i in (0..n).rev() {
        let dot: f64 = (i + 1..n).map(|k| matrix[k * n + i] * rhs[k]).sum();
        rhs[i] = (rhs[i] - dot) / matrix[i * n + i];
    }
    Some(rhs)
}

/// `1 / (1 + e^(−z))`, without overflow for large |z|.
fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + e^z)`, without overflow for large z.
fn log_one_plus_exp(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 20 rows, 2 features; not separable.
    fn fixture() -> (Vec<Vec<f64>>, Vec<bool>) {
        let features = [
            [0.5, 3.0],
            [1.0, 1.0],
            [1.5, 2.5],
            [2.0, 0.5],
            [2.5, 2.0],
            [3.0, 1.5],
            [3.5, 0.0],
            [4.0, 2.5],
            [4.5, 1.0],
            [5.0, 0.5],
            [0.8, 1.8],
            [1.2, 2.2],
            [1.9, 0.3],
            [2.4, 1.1],
            [2.9, 2.7],
            [3.3, 0.9],
            [3.8, 1.6],
            [4.2, 0.2],
            [4.7, 2.1],
            [5.5, 1.3],
        ];
        let outcome = [0, 0, 1, 0, 0, 1, 0, 1, 1, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 1];
        (
            features.iter().map(|r| r.to_vec()).collect(),
            outcome.iter().map(|y| *y == 1).collect(),
        )
    }

    fn assert_close(fit: &Fit, expected: [f64; 3]) {
        let got = [fit.intercept, fit.coefficients[0], fit.coefficients[1]];
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() < 1e-6, "{got:?} against {expected:?}");
        }
    }

    // The reference values come from scipy 1.17.1 / numpy 2.4.6, minimising
    // the same objective to tolerance 1e-12 (gradient below 1e-11 at the end):
    //
    //     import numpy as np
    //     from scipy.optimize import minimize
    //     x = np.array([[0.5, 3.0], [1.0, 1.0], [1.5, 2.5], [2.0, 0.5], [2.5, 2.0],
    //                   [3.0, 1.5], [3.5, 0.0], [4.0, 2.5], [4.5, 1.0], [5.0, 0.5],
    //                   [0.8, 1.8], [1.2, 2.2], [1.9, 0.3], [2.4, 1.1], [2.9, 2.7],
    //                   [3.3, 0.9], [3.8, 1.6], [4.2, 0.2], [4.7, 2.1], [5.5, 1.3]])
    //     y = np.array([0, 0, 1, 0, 0, 1, 0, 1, 1, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 1])
    //     def objective(w, l2):
    //         z = w[0] + x @ w[1:]
    //         return np.sum(np.logaddexp(0, z) - y * z) + l2 / 2 * np.sum(w[1:] ** 2)
    //     def gradient(w, l2):
    //         z = w[0] + x @ w[1:]
    //         r = 1 / (1 + np.exp(-z)) - y
    //         return np.concatenate([[r.sum()], x.T @ r + l2 * w[1:]])
    //     def hessian(w, l2):
    //         z = w[0] + x @ w[1:]
    //         p = 1 / (1 + np.exp(-z))
    //         design = np.column_stack([np.ones(len(x)), x])
    //         return (design.T @ (design * (p * (1 - p))[:, None])
    //                 + np.diag([0.0] + [l2] * x.shape[1]))
    //     for l2 in (1.0, 0.0):
    //         best = minimize(objective, np.zeros(3), args=(l2,), jac=gradient,
    //                         hess=hessian, method="trust-exact", tol=1e-12)
    //         print(l2, best.x.tolist())
    //
    // BFGS (gtol 1e-12) agrees to 1e-9.

    #[test]
    fn penalised_fit_matches_scipy() {
        let (features, outcome) = fixture();
        let fit = fit(&features, &outcome, 1.0).expect("a fit");
        assert!(fit.converged, "{fit:?}");
        assert_close(
            &fit,
            [-4.871213248090183, 1.0199708079359568, 1.3420203933175616],
        );
    }

    #[test]
    fn unpenalised_fit_on_non_separable_data_matches_scipy() {
        let (features, outcome) = fixture();
        let fit = fit(&features, &outcome, 0.0).expect("a fit");
        assert!(fit.converged, "{fit:?}");
        assert_close(
            &fit,
            [-13.007661460810297, 2.5438868985608387, 3.924525477991297],
        );
    }

    #[test]
    fn separable_data_with_a_penalty_converges_to_a_stationary_point() {
        let features: Vec<Vec<f64>> = [1.0, 2.0, 3.0, 4.0].iter().map(|x| vec![*x]).collect();
        let outcome = [false, false, true, true];
        let l2 = 0.5;
        let fit = fit(&features, &outcome, l2).expect("a fit");
        assert!(fit.converged, "{fit:?}");
        assert!(fit.coefficients[0] > 0.0, "{fit:?}");
        // The gradient vanishes: Σ(p − y) = 0 and Σ(p − y)·x + l2·β = 0.
        let residuals: Vec<(f64, f64)> = features
            .iter()
            .zip(outcome)
            .map(|(row, y)| (row[0], predict(&fit, row) - if y { 1.0 } else { 0.0 }))
            .collect();
        let intercept_gradient: f64 = residuals.iter().map(|(_, r)| r).sum();
        let slope_gradient: f64 =
            residuals.iter().map(|(x, r)| x * r).sum::<f64>() + l2 * fit.coefficients[0];
        assert!(intercept_gradient.abs() < 1e-9, "{intercept_gradient}");
        assert!(slope_gradient.abs() < 1e-9, "{slope_gradient}");
    }

    #[test]
    fn separable_data_without_a_penalty_has_no_converged_fit() {
        let features: Vec<Vec<f64>> = [1.0, 2.0, 3.0, 4.0].iter().map(|x| vec![*x]).collect();
        let outcome = [false, false, true, true];
        // The optimum is at infinity: Newton either runs out of steps or the
        // Hessian vanishes on the way.
        if let Some(fit) = fit(&features, &outcome, 0.0) {
            assert!(!fit.converged, "{fit:?}");
        }
    }

    #[test]
    fn no_features_gives_the_log_odds_of_the_base_rate() {
        // 1 positive in 4: intercept ln(1/3), probability 1/4.
        let features = vec![Vec::new(); 4];
        let fit = fit(&features, &[true, false, false, false], 0.0).expect("a fit");
        assert!(
            (fit.intercept - (1.0f64 / 3.0).ln()).abs() < 1e-12,
            "{fit:?}"
        );
        assert!((predict(&fit, &[]) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn malformed_input_and_singular_systems_have_no_fit() {
        let (features, outcome) = fixture();
        assert_eq!(fit(&[], &[], 1.0), None);
        assert_eq!(fit(&[vec![1.0, 2.0], vec![1.0]], &[true, false], 1.0), None);
        assert_eq!(fit(&features, &outcome[1..], 1.0), None);
        assert_eq!(fit(&[vec![f64::NAN], vec![1.0]], &[true, false], 1.0), None);
        assert_eq!(fit(&features, &outcome, -1.0), None);
        let repeated: Vec<Vec<f64>> = features.iter().map(|r| vec![r[0], r[0]]).collect();
        assert_eq!(fit(&repeated, &outcome, 0.0), None);
        assert!(fit(&repeated, &outcome, 1.0).is_some_and(|f| f.converged));
    }

    #[test]
    fn predictions_are_probabilities_even_far_out() {
        let fit = Fit {
            intercept: 0.0,
            coefficients: vec![1.0],
            iterations: 0,
            converged: true,
        };
        assert_eq!(predict(&fit, &[0.0]), 0.5);
        assert_eq!(predict(&fit, &[1000.0]), 1.0);
        assert_eq!(predict(&fit, &[-1000.0]), 0.0);
    }
}
