//! The plain Gaussian-visible cRBM and its exact math for tiny models.
//!
//! `E(v, h) = Σ_i (γ_i v_i²/2 − θ_i v_i) + Σ_μ U_μ(h_μ) − Σ_iμ v_i w_iμ h_μ` (spec,
//! "Gaussian visible units"), γ_i > 0, U the dReLU potential.
//! * `F(v) = Σ_i (γ_i v_i²/2 − θ_i v_i) − Σ_μ Φ_μ(I_μ(v))`, `I_μ = Σ_i w_iμ v_i`.
//! * Integrating v out: `log ∫ exp(−γ v²/2 + (θ + x) v) dv = (θ + x)²/(2γ) + ½ log(2π/γ)`,
//!   so the hidden marginal is `log p̃(h) = −Σ_μ U_μ(h_μ) + Σ_i [(θ_i + (Wh)_i)²/(2γ_i) + ½ log(2π/γ_i)]`.
//!   For M ≤ 2 hidden units that is a 1-D or 2-D integral, done here by composite
//!   Simpson quadrature with a node at h = 0 (where U has its kink): exact log Z, exact
//!   model moments and so the exact log-likelihood gradient.
//! * Stability: the quadratic gain `hᵀ Wᵀ diag(1/γ) W h / 2` must stay below the dReLU
//!   curvature; `min_μ min(γ+, γ−) − λ_max(Wᵀ diag(1/γ) W) > 0` is sufficient.

use rand::Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::error::{CrbmError, Result};
use crate::frames::Frames;
use crate::layers::DRelu;
use crate::quadrature::simpson_weight;
use crate::rng::lane_rng;

/// Largest M for which [`GaussCrbm::quadrature`] is offered.
pub const MAX_QUADRATURE_HIDDEN: usize = 2;

/// A plain (unstandardised) cRBM with Gaussian visible units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GaussCrbm {
    pub n_visible: usize,
    pub n_hidden: usize,
    /// w_iμ, shape [N, M] row-major.
    pub weights: Vec<f64>,
    /// Visible precisions γ_i > 0, shape [N].
    pub gamma: Vec<f64>,
    /// Visible fields θ_i, shape [N].
    pub theta: Vec<f64>,
    /// dReLU parameters, shape [M].
    pub hidden: Vec<DRelu>,
}

/// Ascent direction of the mean log-likelihood, same layout as [`GaussCrbm`].
#[derive(Clone, Debug, PartialEq)]
pub struct GaussGradient {
    /// Shape [N, M].
    pub weights: Vec<f64>,
    /// Shape [N] each.
    pub gamma: Vec<f64>,
    pub theta: Vec<f64>,
    /// Shape [M] each.
    pub gamma_plus: Vec<f64>,
    pub gamma_minus: Vec<f64>,
    pub theta_plus: Vec<f64>,
    pub theta_minus: Vec<f64>,
}

impl GaussGradient {
    pub fn zeros(n: usize, m: usize) -> Self {
        Self {
            weights: vec![0.0; n * m],
            gamma: vec![0.0; n],
            theta: vec![0.0; n],
            gamma_plus: vec![0.0; m],
            gamma_minus: vec![0.0; m],
            theta_plus: vec![0.0; m],
            theta_minus: vec![0.0; m],
        }
    }

    /// All components in one flat vector (weights, γ, θ, γ+, γ−, θ+, θ−).
    pub fn flat(&self) -> Vec<f64> {
        [
            &self.weights,
            &self.gamma,
            &self.theta,
            &self.gamma_plus,
            &self.gamma_minus,
            &self.theta_plus,
            &self.theta_minus,
        ]
        .iter()
        .flat_map(|v| v.iter().copied())
        .collect()
    }
}

/// Expected sufficient statistics of one distribution over (v, h): the quantities the
/// gradient is a data-minus-model difference of.
#[derive(Clone, Debug, PartialEq)]
pub struct SufficientStatistics {
    /// ⟨v_i E[h_μ|v]⟩, shape [N, M].
    pub vh: Vec<f64>,
    /// ⟨v_i⟩, ⟨v_i²⟩, shape [N].
    pub v: Vec<f64>,
    pub v2: Vec<f64>,
    /// ⟨E[h±|v]⟩, ⟨E[h±²|v]⟩, shape [M].
    pub hp: Vec<f64>,
    pub hp2: Vec<f64>,
    pub hm: Vec<f64>,
    pub hm2: Vec<f64>,
}

impl SufficientStatistics {
    fn zeros(n: usize, m: usize) -> Self {
        Self {
            vh: vec![0.0; n * m],
            v: vec![0.0; n],
            v2: vec![0.0; n],
            hp: vec![0.0; m],
            hp2: vec![0.0; m],
            hm: vec![0.0; m],
            hm2: vec![0.0; m],
        }
    }

    /// `self − other` as an ascent direction: ∂/∂w = Δ⟨vh⟩, ∂/∂θ = Δ⟨v⟩,
    /// ∂/∂γ = −½Δ⟨v²⟩, ∂/∂θ± = −Δ⟨h±⟩, ∂/∂γ± = −½Δ⟨h±²⟩.
    pub fn minus(&self, model: &Self) -> GaussGradient {
        let d = |a: &[f64], b: &[f64], k: f64| -> Vec<f64> {
            a.iter().zip(b).map(|(x, y)| k * (x - y)).collect()
        };
        GaussGradient {
            weights: d(&self.vh, &model.vh, 1.0),
            gamma: d(&self.v2, &model.v2, -0.5),
            theta: d(&self.v, &model.v, 1.0),
            gamma_plus: d(&self.hp2, &model.hp2, -0.5),
            gamma_minus: d(&self.hm2, &model.hm2, -0.5),
            theta_plus: d(&self.hp, &model.hp, -1.0),
            theta_minus: d(&self.hm, &model.hm, -1.0),
        }
    }
}

impl GaussCrbm {
    /// The reference initialisation: weights `weight_std·N(0,1)` (reference 0.01),
    /// visible units matched to the data (γ_i = 1/var_i, θ_i = mean_i/var_i, so a
    /// z-scored unit starts at γ = 1, θ = 0), dReLU γ± = 1, θ± = 0.
    pub fn init(mean: &[f64], var: &[f64], n_hidden: usize, weight_std: f64, seed: u64) -> Self {
        let n = mean.len();
        let mut rng = lane_rng(seed, u64::MAX, 0);
        let normal = Normal::new(0.0, weight_std.max(0.0)).expect("σ ≥ 0 is valid");
        let gamma: Vec<f64> = var.iter().map(|v| 1.0 / v.max(1e-6)).collect();
        Self {
            n_visible: n,
            n_hidden,
            weights: (0..n * n_hidden).map(|_| normal.sample(&mut rng)).collect(),
            theta: mean.iter().zip(&gamma).map(|(m, g)| m * g).collect(),
            gamma,
            hidden: vec![DRelu::default(); n_hidden],
        }
    }

    /// Random parameters for tests: weights `scale·U(−1,1)`, γ U(0.7,1.5),
    /// θ U(−0.5,0.5), γ± U(1,2), θ± U(−0.5,0.5).
    pub fn random(n_visible: usize, n_hidden: usize, scale: f64, seed: u64) -> Self {
        let mut rng = lane_rng(seed, 0, 0);
        let mut u = |lo: f64, hi: f64| rng.random_range(lo..hi);
        let weights = (0..n_visible * n_hidden)
            .map(|_| scale * u(-1.0, 1.0))
            .collect();
        let gamma = (0..n_visible).map(|_| u(0.7, 1.5)).collect();
        let theta = (0..n_visible).map(|_| u(-0.5, 0.5)).collect();
        let hidden = (0..n_hidden)
            .map(|_| DRelu {
                gamma_plus: u(1.0, 2.0),
                gamma_minus: u(1.0, 2.0),
                theta_plus: u(-0.5, 0.5),
                theta_minus: u(-0.5, 0.5),
            })
            .collect();
        Self {
            n_visible,
            n_hidden,
            weights,
            gamma,
            theta,
            hidden,
        }
    }

    #[inline]
    pub fn weight(&self, i: usize, mu: usize) -> f64 {
        self.weights[i * self.n_hidden + mu]
    }

    /// Hidden inputs `I_μ(v) = Σ_i w_iμ v_i`, shape [M].
    pub fn hidden_input(&self, v: &[f64]) -> Vec<f64> {
        let m = self.n_hidden;
        let mut out = vec![0.0; m];
        for (i, &x) in v.iter().enumerate() {
            let row = &self.weights[i * m..(i + 1) * m];
            out.iter_mut().zip(row).for_each(|(o, w)| *o += w * x);
        }
        out
    }

    /// Visible inputs `(Wh)_i`, shape [N].
    pub fn visible_input(&self, h: &[f64]) -> Vec<f64> {
        self.weights
            .chunks(self.n_hidden.max(1))
            .map(|row| row.iter().zip(h).map(|(w, x)| w * x).sum())
            .collect()
    }

    /// Visible energy `Σ_i (γ_i v_i²/2 − θ_i v_i)`.
    pub fn visible_energy(&self, v: &[f64]) -> f64 {
        v.iter()
            .zip(&self.gamma)
            .zip(&self.theta)
            .map(|((x, g), t)| 0.5 * g * x * x - t * x)
            .sum()
    }

    /// `E(v, h)`.
    pub fn energy(&self, v: &[f64], h: &[f64]) -> f64 {
        let input = self.hidden_input(v);
        let coupling: f64 = input.iter().zip(h).map(|(a, b)| a * b).sum();
        let u = DRelu::potential_sum(&self.hidden, h);
        self.visible_energy(v) + u - coupling
    }

    /// Free energy `F(v)`; `log P(v) = −F(v) − log Z`.
    pub fn free_energy(&self, v: &[f64]) -> f64 {
        let phi = DRelu::cgf_sum(&self.hidden, &self.hidden_input(v));
        self.visible_energy(v) - phi
    }

    /// Unnormalised log-marginal of h (v integrated out analytically).
    pub fn hidden_log_marginal(&self, h: &[f64]) -> f64 {
        let x = self.visible_input(h);
        let visible: f64 = x
            .iter()
            .zip(&self.gamma)
            .zip(&self.theta)
            .map(|((x, g), t)| {
                (t + x).powi(2) / (2.0 * g) + 0.5 * (2.0 * std::f64::consts::PI / g).ln()
            })
            .sum();
        let u = DRelu::potential_sum(&self.hidden, h);
        visible - u
    }

    /// The stability margin `min_μ min(γ+, γ−) − λ_max(Wᵀ diag(1/γ) W)`: positive is a
    /// sufficient condition for a normalisable model (spec, "Why models explode").
    pub fn stability_margin(&self) -> f64 {
        let (n, m) = (self.n_visible, self.n_hidden);
        let mut a = vec![0.0; m * m];
        for i in 0..n {
            let row = &self.weights[i * m..(i + 1) * m];
            let inv = 1.0 / self.gamma[i];
            for mu in 0..m {
                for nu in 0..m {
                    a[mu * m + nu] += row[mu] * row[nu] * inv;
                }
            }
        }
        let curvature = self
            .hidden
            .iter()
            .map(|u| u.gamma_plus.min(u.gamma_minus))
            .fold(f64::INFINITY, f64::min);
        curvature - largest_eigenvalue_psd(&a, m)
    }

    /// Whether every parameter is finite and every precision positive.
    pub fn is_valid(&self) -> bool {
        self.weights
            .iter()
            .chain(&self.theta)
            .all(|x| x.is_finite())
            && self.gamma.iter().all(|g| g.is_finite() && *g > 0.0)
            && self.hidden.iter().all(DRelu::is_valid)
    }

    /// Flip every hidden unit whose weights sum to a negative number (P(v) unchanged).
    pub fn fix_signs(&mut self) -> Vec<usize> {
        crate::model::flip_negative_units(&mut self.weights, &mut self.hidden)
    }

    /// Expected sufficient statistics over data frames (hidden terms as E[·|v]).
    pub fn data_statistics(&self, frames: &Frames) -> SufficientStatistics {
        let (n, m) = (self.n_visible, self.n_hidden);
        let mut s = SufficientStatistics::zeros(n, m);
        let t = frames.len().max(1) as f64;
        for k in 0..frames.len() {
            let v: Vec<f64> = frames.row(k).iter().map(|&x| x as f64).collect();
            let moments: Vec<_> = self
                .hidden
                .iter()
                .zip(self.hidden_input(&v))
                .map(|(u, x)| u.moments(x))
                .collect();
            for (i, &x) in v.iter().enumerate() {
                s.v[i] += x / t;
                s.v2[i] += x * x / t;
                for (mu, mo) in moments.iter().enumerate() {
                    s.vh[i * m + mu] += x * mo.mean / t;
                }
            }
            for (mu, mo) in moments.iter().enumerate() {
                s.hp[mu] += mo.e_hp / t;
                s.hp2[mu] += mo.e_hp2 / t;
                s.hm[mu] += mo.e_hm / t;
                s.hm2[mu] += mo.e_hm2 / t;
            }
        }
        s
    }

    /// Exact log Z and the model's expected sufficient statistics by quadrature over h
    /// (M ≤ [`MAX_QUADRATURE_HIDDEN`]; `nodes` Simpson intervals per half-axis on
    /// [−range, range]). Given h, v is Gaussian with mean `m_i = (θ_i + (Wh)_i)/γ_i` and
    /// variance `1/γ_i`, and E[v_i E[h_μ|v]] = E[v_i h_μ].
    pub fn quadrature(&self, range: f64, nodes: usize) -> Result<(f64, SufficientStatistics)> {
        let (n, m) = (self.n_visible, self.n_hidden);
        if m == 0 || m > MAX_QUADRATURE_HIDDEN {
            return Err(CrbmError::TooLargeForExact {
                what: "quadrature over hidden units",
                n: m,
                max: MAX_QUADRATURE_HIDDEN,
            });
        }
        let (xs, ws) = simpson_nodes(range, nodes.max(2));
        let grid: Vec<(Vec<f64>, f64)> = if m == 1 {
            xs.iter().zip(&ws).map(|(&x, &w)| (vec![x], w)).collect()
        } else {
            let mut g = Vec::with_capacity(xs.len() * xs.len());
            for (&a, &wa) in xs.iter().zip(&ws) {
                for (&b, &wb) in xs.iter().zip(&ws) {
                    g.push((vec![a, b], wa * wb));
                }
            }
            g
        };
        let logs: Vec<f64> = grid
            .iter()
            .map(|(h, w)| self.hidden_log_marginal(h) + w.ln())
            .collect();
        let log_z = crate::model::log_sum_exp(&logs);
        let mut s = SufficientStatistics::zeros(n, m);
        for ((h, _), lp) in grid.iter().zip(&logs) {
            let p = (lp - log_z).exp();
            let x = self.visible_input(h);
            for i in 0..n {
                let mean = (self.theta[i] + x[i]) / self.gamma[i];
                s.v[i] += p * mean;
                s.v2[i] += p * (mean * mean + 1.0 / self.gamma[i]);
                for mu in 0..m {
                    s.vh[i * m + mu] += p * mean * h[mu];
                }
            }
            for mu in 0..m {
                let (hp, hm) = (h[mu].max(0.0), (-h[mu]).max(0.0));
                s.hp[mu] += p * hp;
                s.hp2[mu] += p * hp * hp;
                s.hm[mu] += p * hm;
                s.hm2[mu] += p * hm * hm;
            }
        }
        Ok((log_z, s))
    }

    /// Exact mean log-likelihood of `frames` (M ≤ 2, by quadrature).
    pub fn log_likelihood_exact(&self, frames: &Frames, range: f64, nodes: usize) -> Result<f64> {
        let (log_z, _) = self.quadrature(range, nodes)?;
        let t = frames.len().max(1) as f64;
        let f: f64 = (0..frames.len())
            .map(|k| {
                let v: Vec<f64> = frames.row(k).iter().map(|&x| x as f64).collect();
                self.free_energy(&v)
            })
            .sum();
        Ok(-f / t - log_z)
    }

    /// Exact gradient of the mean log-likelihood: data statistics minus the model's
    /// (by quadrature, M ≤ 2).
    pub fn log_likelihood_gradient_exact(
        &self,
        frames: &Frames,
        range: f64,
        nodes: usize,
    ) -> Result<GaussGradient> {
        let (_, model) = self.quadrature(range, nodes)?;
        Ok(self.data_statistics(frames).minus(&model))
    }

    /// One exact block-Gibbs sweep v → h → v on host f64 (reference sampler for tests).
    pub fn gibbs_sweep<R: Rng + ?Sized>(&self, v: &mut [f64], rng: &mut R) -> Vec<f64> {
        let h: Vec<f64> = self
            .hidden
            .iter()
            .zip(self.hidden_input(v))
            .map(|(u, x)| u.sample(x, rng))
            .collect();
        let x = self.visible_input(&h);
        let normal = Normal::new(0.0, 1.0).expect("unit normal");
        for i in 0..self.n_visible {
            let g = self.gamma[i];
            v[i] = (self.theta[i] + x[i]) / g + normal.sample(rng) / g.sqrt();
        }
        h
    }
}

/// Composite Simpson nodes and weights on [−range, range] with a node at 0:
/// `n` (even) intervals on each half-axis.
fn simpson_nodes(range: f64, n: usize) -> (Vec<f64>, Vec<f64>) {
    let n = n + n % 2;
    let dx = range / n as f64;
    let mut xs = Vec::with_capacity(2 * n + 1);
    let mut ws = Vec::with_capacity(2 * n + 1);
    for k in 0..=2 * n {
        xs.push(-range + k as f64 * dx);
        // Each half is its own Simpson rule, so the node at 0 gets both end weights.
        let left = if k <= n { simpson_weight(k, n) } else { 0.0 };
        let right = if k >= n {
            simpson_weight(k - n, n)
        } else {
            0.0
        };
        let w = left + right;
        ws.push(w * dx / 3.0);
    }
    (xs, ws)
}

/// Largest eigenvalue of a symmetric positive semi-definite `m × m` matrix (power iteration).
pub fn largest_eigenvalue_psd(a: &[f64], m: usize) -> f64 {
    if m == 0 {
        return 0.0;
    }
    let mut x: Vec<f64> = (0..m).map(|k| 1.0 + 0.01 * k as f64).collect();
    let mut lambda = 0.0;
    for _ in 0..500 {
        let y: Vec<f64> = (0..m)
            .map(|r| (0..m).map(|c| a[r * m + c] * x[c]).sum())
            .collect();
        let norm = y.iter().map(|v| v * v).sum::<f64>().sqrt();
        if !(norm > 0.0) || !norm.is_finite() {
            return if norm.is_finite() { 0.0 } else { f64::INFINITY };
        }
        let next: f64 = y.iter().zip(&x).map(|(a, b)| a * b).sum::<f64>()
            / x.iter().map(|v| v * v).sum::<f64>();
        x = y.iter().map(|v| v / norm).collect();
        if (next - lambda).abs() <= 1e-13 * next.abs() {
            return next;
        }
        lambda = next;
    }
    lambda
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_from(model: &GaussCrbm, t: usize, seed: u64) -> Frames {
        // Exact samples by long host Gibbs chains (one chain per frame).
        let mut rng = lane_rng(seed, 0, 0);
        let mut values = Vec::with_capacity(t * model.n_visible);
        for _ in 0..t {
            let mut v = vec![0.0; model.n_visible];
            for _ in 0..30 {
                model.gibbs_sweep(&mut v, &mut rng);
            }
            values.extend(v.iter().map(|&x| x as f32));
        }
        Frames::new(model.n_visible, values, "test").unwrap()
    }

    #[test]
    fn free_energy_integrates_the_energy_over_h() {
        let c = GaussCrbm::random(3, 1, 0.6, 4);
        let v = [0.3, -1.2, 0.8];
        let (xs, ws) = simpson_nodes(25.0, 4000);
        let s: f64 = xs
            .iter()
            .zip(&ws)
            .map(|(&h, w)| w * (-c.energy(&v, &[h])).exp())
            .sum();
        assert!((s.ln() + c.free_energy(&v)).abs() < 1e-8);
    }

    #[test]
    fn quadrature_log_z_matches_direct_integration_over_v() {
        // N = 1, M = 1: Z = ∫∫ exp(−E(v,h)) dv dh, here integrated over v instead of h.
        let c = GaussCrbm::random(1, 1, 0.5, 2);
        let (log_z, _) = c.quadrature(20.0, 2000).unwrap();
        let (xs, ws) = simpson_nodes(20.0, 2000);
        let z: f64 = xs
            .iter()
            .zip(&ws)
            .map(|(&v, w)| w * (-c.free_energy(&[v])).exp())
            .sum();
        assert!((z.ln() - log_z).abs() < 1e-8, "{} vs {log_z}", z.ln());
    }

    #[test]
    fn exact_gradient_matches_finite_differences() {
        let c = GaussCrbm::random(3, 2, 0.4, 7);
        let data = frames_from(&GaussCrbm::random(3, 2, 0.5, 8), 40, 1);
        let (range, nodes) = (14.0, 160);
        let g = c
            .log_likelihood_gradient_exact(&data, range, nodes)
            .unwrap();
        let ll = |c: &GaussCrbm| c.log_likelihood_exact(&data, range, nodes).unwrap();
        let d = 1e-5;
        let fd = |f: &dyn Fn(&mut GaussCrbm, f64)| {
            let (mut a, mut b) = (c.clone(), c.clone());
            f(&mut a, d);
            f(&mut b, -d);
            (ll(&a) - ll(&b)) / (2.0 * d)
        };
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6 * (1.0 + b.abs());
        for k in 0..c.weights.len() {
            assert!(close(g.weights[k], fd(&|c, e| c.weights[k] += e)), "w[{k}]");
        }
        for i in 0..3 {
            assert!(close(g.theta[i], fd(&|c, e| c.theta[i] += e)), "θ[{i}]");
            assert!(close(g.gamma[i], fd(&|c, e| c.gamma[i] += e)), "γ[{i}]");
        }
        for mu in 0..2 {
            let fds = [
                fd(&|c, e| c.hidden[mu].gamma_plus += e),
                fd(&|c, e| c.hidden[mu].gamma_minus += e),
                fd(&|c, e| c.hidden[mu].theta_plus += e),
                fd(&|c, e| c.hidden[mu].theta_minus += e),
            ];
            let gs = [
                g.gamma_plus[mu],
                g.gamma_minus[mu],
                g.theta_plus[mu],
                g.theta_minus[mu],
            ];
            for (a, b) in gs.iter().zip(fds) {
                assert!(close(*a, b), "hidden {mu}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn stability_margin_is_the_documented_bound() {
        // One hidden unit: λ_max = Σ_i w_i²/γ_i exactly.
        let mut c = GaussCrbm::random(4, 1, 0.5, 3);
        let want = c.hidden[0].gamma_plus.min(c.hidden[0].gamma_minus)
            - (0..4)
                .map(|i| c.weights[i].powi(2) / c.gamma[i])
                .sum::<f64>();
        assert!((c.stability_margin() - want).abs() < 1e-12);
        c.weights.iter_mut().for_each(|w| *w *= 10.0);
        assert!(c.stability_margin() < 0.0);
        // Two units with orthogonal weight columns: λ_max is the larger column norm.
        let mut d = GaussCrbm::random(2, 2, 0.0, 1);
        d.gamma = vec![1.0, 2.0];
        d.weights = vec![1.0, 0.0, 0.0, 3.0];
        let curv = d
            .hidden
            .iter()
            .map(|u| u.gamma_plus.min(u.gamma_minus))
            .fold(f64::INFINITY, f64::min);
        assert!((d.stability_margin() - (curv - 4.5)).abs() < 1e-9);
    }

    #[test]
    fn sign_fix_keeps_the_free_energy() {
        let mut c = GaussCrbm::random(4, 2, 0.6, 5);
        let v = [0.1, -0.4, 1.0, 0.3];
        let f0 = c.free_energy(&v);
        c.fix_signs();
        assert!((c.free_energy(&v) - f0).abs() < 1e-12);
    }
}
