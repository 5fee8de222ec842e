//! Whether a Gaussian-visible cRBM is a distribution at all: an exact certificate that
//! log Z = +∞ (spec, "Why models explode").
//!
//! Integrating v out leaves `log p̃(h) = ½ hᵀ A h − Σ_μ U_μ(h_μ) + (linear in h) + const`
//! with `A = Wᵀ diag(1/γ) W` ([M, M], positive semi-definite). The quadratic part of
//! `U_μ` is `γ+_μ h²/2` for h ≥ 0 and `γ−_μ h²/2` for h < 0, so along a ray `t·u`
//! (|u| = 1, t → ∞) `log p̃(t u) = t² q(u)/2 + O(t)` with the growth rate
//!
//! `q(u) = uᵀ A u − Σ_μ γ_μ(sign u_μ) u_μ²`.
//!
//! q is continuous, so `q(u) > 0` at one u makes it positive on an open cone around u, and
//! p̃ is not integrable there: the model is improper (its chains run off to infinity, its
//! free energies and statistics are infinite). If `q < 0` on the whole sphere the model is
//! proper. The maximum of q is a copositivity problem (one quadratic form per orthant of
//! h), so this module answers in three ways:
//! * [`Verdict::Improper`]: an ascent from several starts found `q(u) > 0` — a certificate
//!   (the direction is returned and [`growth_rate`] checks it in one line).
//! * [`Verdict::Proper`]: the orthant-free upper bound `λ_max(A − diag(min(γ+_μ, γ−_μ)))`
//!   is negative — a certificate (it is at least as tight as the stability margin
//!   `min_μ min γ± − λ_max(A)`, which bounds the same maximum from above).
//! * [`Verdict::Undecided`]: neither (no direction with positive growth was found).

use rand_distr::{Distribution, StandardNormal};

use super::model::GaussCrbm;
use crate::rng::lane_rng;

/// Ascent iterations per start.
const ITERATIONS: usize = 400;
/// Random starts on top of the eigenvector starts.
const RANDOM_STARTS: usize = 32;

/// What [`normalisability`] could establish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A direction with positive growth rate was found: log Z = +∞.
    Improper,
    /// The upper bound on the growth rate is negative: log Z is finite.
    Proper,
    /// Neither certificate.
    Undecided,
}

/// The answer of [`normalisability`].
#[derive(Clone, Debug, PartialEq)]
pub struct Normalisability {
    /// The largest growth rate `q(u)` found (a lower bound on the maximum over |u| = 1).
    pub best_growth: f64,
    /// Where it was found, |u| = 1, shape [M].
    pub direction: Vec<f64>,
    /// `λ_max(A − diag(min γ±))`, an upper bound on the maximum of q.
    pub upper_bound: f64,
    /// What the two bounds establish (growth rates within `tolerance` of 0 decide nothing).
    pub verdict: Verdict,
}

/// The growth rate `q(u) = uᵀ A u − Σ_μ γ_μ(sign u_μ) u_μ²` of `log p̃(t u)/t²·2` (see the
/// module notes); `u` of length M, not necessarily normalised.
pub fn growth_rate(model: &GaussCrbm, u: &[f64]) -> f64 {
    let a = hidden_gain(model);
    quadratic_growth(&a, model, u)
}

/// The height, in nats, of the barrier that chains leaving h = 0 along the ray `t·u`
/// (t ≥ 0, |u| = 1, `q = growth_rate(u)` > 0) must climb before the ray runs off: on the ray
/// the signs of h are fixed, so `log p̃(t u) − log p̃(0) = q t²/2 + b t` exactly, with slope
/// `b = Σ_i θ_i (W u)_i / γ_i − Σ_μ θ±_μ(sign u_μ) |u_μ|` (θ+ for u_μ ≥ 0, θ− otherwise, the
/// dReLU convention `U(h) = γ−h²/2 − θ−h` for h < 0). The barrier is `b²/(2q)` when b < 0,
/// 0 when b ≥ 0 (nothing holds the chains), +∞ when q ≤ 0 (the ray never runs off).
pub fn escape_barrier(model: &GaussCrbm, u: &[f64]) -> f64 {
    let m = model.n_hidden;
    let q = growth_rate(model, u);
    if !(q > 0.0) {
        return f64::INFINITY;
    }
    let norm = u.iter().map(|x| x * x).sum::<f64>().sqrt();
    let visible: f64 = (0..model.n_visible)
        .map(|i| {
            let wu: f64 = (0..m).map(|mu| model.weights[i * m + mu] * u[mu]).sum();
            model.theta[i] * wu / model.gamma[i]
        })
        .sum();
    let hidden: f64 = model
        .hidden
        .iter()
        .zip(u)
        .map(|(d, &x)| {
            if x >= 0.0 {
                d.theta_plus * x
            } else {
                -d.theta_minus * x
            }
        })
        .sum();
    let b = (visible - hidden) / norm;
    if b >= 0.0 {
        0.0
    } else {
        b * b / (2.0 * q)
    }
}

/// Decides (when it can) whether `model` is normalisable; `seed` picks the random starts of
/// the ascent (same seed → same answer).
pub fn normalisability(model: &GaussCrbm, seed: u64) -> Normalisability {
    let m = model.n_hidden;
    let a = hidden_gain(model);
    let floor: Vec<f64> = model
        .hidden
        .iter()
        .map(|u| u.gamma_plus.min(u.gamma_minus))
        .collect();
    let mut shifted = a.clone();
    (0..m).for_each(|mu| shifted[mu * m + mu] -= floor[mu]);
    let (values, vectors) = symmetric_eigen(&shifted, m);
    let upper_bound = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut best = (f64::NEG_INFINITY, vec![0.0; m]);
    for start in starts(&values, &vectors, m, seed) {
        let (q, u) = ascend(&a, model, start);
        if q > best.0 {
            best = (q, u);
        }
    }
    let tolerance = 1e-9 * scale(&a, model);
    let verdict = if best.0 > tolerance {
        Verdict::Improper
    } else if upper_bound < -tolerance {
        Verdict::Proper
    } else {
        Verdict::Undecided
    };
    Normalisability {
        best_growth: best.0,
        direction: best.1,
        upper_bound,
        verdict,
    }
}

/// `A = Wᵀ diag(1/γ) W`, [M, M] row-major.
fn hidden_gain(model: &GaussCrbm) -> Vec<f64> {
    let (n, m) = (model.n_visible, model.n_hidden);
    let mut a = vec![0.0; m * m];
    for i in 0..n {
        let row = &model.weights[i * m..(i + 1) * m];
        let inv = 1.0 / model.gamma[i];
        for mu in 0..m {
            let x = row[mu] * inv;
            for nu in 0..m {
                a[mu * m + nu] += x * row[nu];
            }
        }
    }
    a
}

/// q(u) for a given gain matrix.
fn quadratic_growth(a: &[f64], model: &GaussCrbm, u: &[f64]) -> f64 {
    let m = model.n_hidden;
    let gain: f64 = (0..m)
        .map(|mu| u[mu] * (0..m).map(|nu| a[mu * m + nu] * u[nu]).sum::<f64>())
        .sum();
    let curvature: f64 = model
        .hidden
        .iter()
        .zip(u)
        .map(|(d, &x)| {
            let g = if x >= 0.0 {
                d.gamma_plus
            } else {
                d.gamma_minus
            };
            g * x * x
        })
        .sum();
    (gain - curvature) / u.iter().map(|x| x * x).sum::<f64>()
}

/// A size for the tolerance: the mean diagonal of A plus the largest curvature.
fn scale(a: &[f64], model: &GaussCrbm) -> f64 {
    let m = model.n_hidden.max(1);
    let trace: f64 = (0..model.n_hidden).map(|mu| a[mu * m + mu].abs()).sum();
    let curvature = model
        .hidden
        .iter()
        .map(|d| d.gamma_plus.max(d.gamma_minus))
        .fold(0.0, f64::max);
    trace / m as f64 + curvature
}

/// The ascent's starting points: every eigenvector of `A − diag(min γ±)` with both signs,
/// their positive and negative parts (improper directions often lie on a face of an
/// orthant), and `RANDOM_STARTS` Gaussian directions.
fn starts(values: &[f64], vectors: &[f64], m: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&x, &y| values[y].total_cmp(&values[x]));
    let mut out = Vec::new();
    for &k in &order {
        let e: Vec<f64> = (0..m).map(|r| vectors[r * m + k]).collect();
        for sign in [1.0, -1.0] {
            let s: Vec<f64> = e.iter().map(|x| sign * x).collect();
            let part: Vec<f64> = s.iter().map(|x| x.max(0.0)).collect();
            out.push(s);
            if part.iter().any(|&x| x > 0.0) {
                out.push(part);
            }
        }
    }
    let mut rng = lane_rng(seed, 0, 0);
    for _ in 0..RANDOM_STARTS {
        out.push((0..m).map(|_| StandardNormal.sample(&mut rng)).collect());
    }
    out
}

/// Shifted power ascent on the sphere: `u ← normalise((A + c) u − γ(sign u) ∘ u)` with
/// c = the largest curvature, so that within an orthant each step does not lower q
/// (`A + c − diag(γ_s)` is positive semi-definite); the best q met is returned.
fn ascend(a: &[f64], model: &GaussCrbm, start: Vec<f64>) -> (f64, Vec<f64>) {
    let m = model.n_hidden;
    let c = model
        .hidden
        .iter()
        .map(|d| d.gamma_plus.max(d.gamma_minus))
        .fold(0.0, f64::max);
    let mut u = start;
    if !normalise(&mut u) {
        return (f64::NEG_INFINITY, u);
    }
    let mut best = (quadratic_growth(a, model, &u), u.clone());
    for _ in 0..ITERATIONS {
        let mut next: Vec<f64> = (0..m)
            .map(|mu| {
                let d = &model.hidden[mu];
                let g = if u[mu] >= 0.0 {
                    d.gamma_plus
                } else {
                    d.gamma_minus
                };
                (0..m).map(|nu| a[mu * m + nu] * u[nu]).sum::<f64>() + (c - g) * u[mu]
            })
            .collect();
        if !normalise(&mut next) {
            break;
        }
        let q = quadratic_growth(a, model, &next);
        let moved: f64 = next.iter().zip(&u).map(|(x, y)| (x - y).abs()).sum();
        u = next;
        if q > best.0 {
            best = (q, u.clone());
        }
        if moved < 1e-13 {
            break;
        }
    }
    best
}

/// Scales `u` to unit length; false when it is zero or not finite.
fn normalise(u: &mut [f64]) -> bool {
    let norm = u.iter().map(|x| x * x).sum::<f64>().sqrt();
    if !(norm > 0.0 && norm.is_finite()) {
        return false;
    }
    u.iter_mut().for_each(|x| *x /= norm);
    true
}

/// Eigenvalues and eigenvectors (columns of the [M, M] row-major matrix) of a symmetric
/// matrix by cyclic Jacobi rotations, to machine precision.
fn symmetric_eigen(matrix: &[f64], m: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = matrix.to_vec();
    let mut v = vec![0.0; m * m];
    (0..m).for_each(|k| v[k * m + k] = 1.0);
    let total: f64 = a.iter().map(|x| x * x).sum();
    for _sweep in 0..100 {
        let off: f64 = (0..m)
            .flat_map(|p| (0..m).filter(move |&q| q != p).map(move |q| (p, q)))
            .map(|(p, q)| a[p * m + q] * a[p * m + q])
            .sum();
        if off <= 1e-30 * total.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..m {
            for q in p + 1..m {
                rotate(&mut a, &mut v, m, p, q);
            }
        }
    }
    ((0..m).map(|k| a[k * m + k]).collect(), v)
}

/// One Jacobi rotation zeroing `a[p][q]` (and `a[q][p]`); `v` accumulates the rotations.
fn rotate(a: &mut [f64], v: &mut [f64], m: usize, p: usize, q: usize) {
    let apq = a[p * m + q];
    if apq == 0.0 {
        return;
    }
    let theta = (a[q * m + q] - a[p * m + p]) / (2.0 * apq);
    let sign = if theta >= 0.0 { 1.0 } else { -1.0 };
    let t = sign / (theta.abs() + (theta * theta + 1.0).sqrt());
    let c = 1.0 / (t * t + 1.0).sqrt();
    let s = t * c;
    for k in 0..m {
        let (akp, akq) = (a[k * m + p], a[k * m + q]);
        a[k * m + p] = c * akp - s * akq;
        a[k * m + q] = s * akp + c * akq;
    }
    for k in 0..m {
        let (apk, aqk) = (a[p * m + k], a[q * m + k]);
        a[p * m + k] = c * apk - s * aqk;
        a[q * m + k] = s * apk + c * aqk;
    }
    for k in 0..m {
        let (vkp, vkq) = (v[k * m + p], v[k * m + q]);
        v[k * m + p] = c * vkp - s * vkq;
        v[k * m + q] = s * vkp + c * vkq;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::DRelu;

    /// A model with the given weights [N, M], unit visible precisions and dReLU curvatures.
    fn model(weights: Vec<f64>, n: usize, curvatures: &[(f64, f64)]) -> GaussCrbm {
        GaussCrbm {
            n_visible: n,
            n_hidden: curvatures.len(),
            weights,
            gamma: vec![1.0; n],
            theta: vec![0.0; n],
            hidden: curvatures
                .iter()
                .map(|&(gamma_plus, gamma_minus)| DRelu {
                    gamma_plus,
                    gamma_minus,
                    theta_plus: 0.2,
                    theta_minus: -0.1,
                })
                .collect(),
        }
    }

    /// log Z by quadrature on [−R, R]^M at two ranges: finite models converge.
    fn log_z_growth(c: &GaussCrbm) -> f64 {
        let (small, _) = c.quadrature(12.0, 200).unwrap();
        let (large, _) = c.quadrature(24.0, 400).unwrap();
        large - small
    }

    #[test]
    fn the_escape_barrier_is_the_exact_dip_of_the_log_marginal_along_the_ray() {
        // Improper along (1, 1)/√2 (q = 1.5, see below); the log-marginal along the ray,
        // from hidden_log_marginal, must be exactly q t²/2 + b t, its minimum −b²/(2q).
        let mut c = model(vec![1.0, 1.0, 1.0, 1.0], 2, &[(2.5, 30.0), (2.5, 30.0)]);
        c.hidden.iter_mut().for_each(|d| d.theta_plus = 1.3);
        c.theta = vec![0.4, -0.1];
        let u = [0.5f64.sqrt(), 0.5f64.sqrt()];
        let barrier = escape_barrier(&c, &u);
        let at = |t: f64| {
            c.hidden_log_marginal(&[t * u[0], t * u[1]]) - c.hidden_log_marginal(&[0.0, 0.0])
        };
        let dip = (0..=4000)
            .map(|k| at(k as f64 * 0.001))
            .fold(f64::INFINITY, f64::min);
        assert!(
            barrier > 0.1 && (barrier + dip).abs() < 1e-5,
            "{barrier} vs {dip}"
        );
        // A positive slope holds nothing back; a proper direction never runs off.
        c.hidden.iter_mut().for_each(|d| d.theta_plus = -1.0);
        assert_eq!(escape_barrier(&c, &u), 0.0);
        assert_eq!(escape_barrier(&c, &[1.0, 0.0]), f64::INFINITY);
    }

    #[test]
    fn jacobi_recovers_a_known_spectrum() {
        // R diag(3, −1, 0.5) Rᵀ for a rotation R.
        let (c, s) = (0.6f64, 0.8f64);
        let r = [c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0];
        let d = [3.0, -1.0, 0.5];
        let mut a = vec![0.0; 9];
        for i in 0..3 {
            for j in 0..3 {
                a[i * 3 + j] = (0..3).map(|k| r[i * 3 + k] * d[k] * r[j * 3 + k]).sum();
            }
        }
        let (mut values, vectors) = symmetric_eigen(&a, 3);
        for k in 0..3 {
            let e: Vec<f64> = (0..3).map(|r| vectors[r * 3 + k]).collect();
            let ae: Vec<f64> = (0..3)
                .map(|i| (0..3).map(|j| a[i * 3 + j] * e[j]).sum())
                .collect();
            (0..3).for_each(|i| assert!((ae[i] - values[k] * e[i]).abs() < 1e-12));
        }
        values.sort_by(f64::total_cmp);
        for (x, y) in values.iter().zip([-1.0, 0.5, 3.0]) {
            assert!((x - y).abs() < 1e-12, "{values:?}");
        }
    }

    #[test]
    fn one_hidden_unit_is_improper_exactly_when_its_gain_beats_one_side() {
        // A = |w|² = 2.0; improper iff 2 > min(γ+, γ−); check by quadrature.
        let w = vec![1.0, 1.0];
        for (curv, improper) in [((1.5, 3.0), true), ((3.0, 1.5), true), ((2.5, 3.0), false)] {
            let c = model(w.clone(), 2, &[curv]);
            let n = normalisability(&c, 1);
            let growth = log_z_growth(&c);
            if improper {
                assert_eq!(n.verdict, Verdict::Improper, "{curv:?} {n:?}");
                assert!(growth > 10.0, "log Z should diverge: {growth}");
            } else {
                assert_eq!(n.verdict, Verdict::Proper, "{curv:?} {n:?}");
                assert!(growth.abs() < 1e-6, "log Z should converge: {growth}");
            }
        }
    }

    #[test]
    fn a_proper_model_with_a_negative_stability_margin_is_not_called_improper() {
        // w2 = −w1: the gain's top direction (1, −1) needs unit 2 on its stiff side.
        // A = [[2, −2], [−2, 2]], γ+ = 2.5, γ− = 20: margin 2.5 − 4 < 0, yet every
        // direction has q < 0 (e.g. (1, −1)/√2: 4 − (2.5 + 20)/2 < 0; (1, 0): 2 − 2.5).
        let w = vec![1.0, -1.0, 1.0, -1.0];
        let c = model(w, 2, &[(2.5, 20.0), (2.5, 20.0)]);
        assert!(c.stability_margin() < 0.0);
        let n = normalisability(&c, 3);
        assert!(n.best_growth < 0.0, "{n:?}");
        assert_ne!(n.verdict, Verdict::Improper);
        assert!(log_z_growth(&c).abs() < 1e-6, "log Z converges");
    }

    #[test]
    fn an_improper_direction_inside_one_orthant_is_found_and_checks_out() {
        // w2 = w1, A = [[2, 2], [2, 2]], γ+ = 2.5, γ− = 30: each unit alone is proper
        // (q(1, 0) = 2 − 2.5), but together on their soft sides they are not: the maximum,
        // at (1, 1)/√2, is q = 4 − 2.5 = 1.5.
        let w = vec![1.0, 1.0, 1.0, 1.0];
        let c = model(w, 2, &[(2.5, 30.0), (2.5, 30.0)]);
        let n = normalisability(&c, 5);
        assert_eq!(n.verdict, Verdict::Improper, "{n:?}");
        assert!((growth_rate(&c, &n.direction) - n.best_growth).abs() < 1e-12);
        assert!(n.direction.iter().all(|&x| x > 0.0), "{:?}", n.direction);
        assert!((n.best_growth - 1.5).abs() < 1e-9, "{n:?}");
        assert!(log_z_growth(&c) > 10.0);
    }

    #[test]
    fn the_upper_bound_is_never_below_the_growth_found_and_the_answer_is_seeded() {
        for seed in 0..20 {
            let c = GaussCrbm::random(12, 6, 0.6, seed);
            let n = normalisability(&c, seed);
            assert!(n.best_growth <= n.upper_bound + 1e-9, "{n:?}");
            // λ_max(A − diag(min γ±_μ)) ≤ λ_max(A) − min_μ min γ±_μ = −margin.
            assert!(n.upper_bound <= -c.stability_margin() + 1e-9, "{n:?}");
            assert_eq!(n, normalisability(&c, seed));
        }
    }
}
