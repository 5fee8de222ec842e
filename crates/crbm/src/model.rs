//! The cRBM: Bernoulli visible units (fields g), dReLU hidden units, weights W.
//!
//! `E(v,h) = −Σ_i g_i v_i + Σ_μ U_μ(h_μ) − Σ_iμ v_i w_iμ h_μ`,
//! `log P(v) = Σ_i g_i v_i + Σ_μ Φ_μ(I_μ(v)) − log Z`, `I_μ(v) = Σ_i w_iμ v_i`.
//!
//! Parameters are kept in f64 (the optimiser and the exact math need it); the
//! sampling hot path works on an f32 copy ([`crate::gibbs::SamplerWeights`]).

use rand::Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::batch::SparseBatch;
use crate::error::{CrbmError, Result};
use crate::layers::bernoulli::logit;
use crate::layers::DRelu;
use crate::rng::lane_rng;

/// Largest N for which `2^N` enumeration is offered.
pub const MAX_EXACT_VISIBLE: usize = 24;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Crbm {
    pub n_visible: usize,
    pub n_hidden: usize,
    /// w_iμ, shape [N, M] row-major (row i holds neuron i's M weights).
    pub weights: Vec<f64>,
    /// g_i, shape [N].
    pub fields: Vec<f64>,
    /// dReLU parameters of each hidden unit, shape [M].
    pub hidden: Vec<DRelu>,
}

/// Gradient of the mean log-likelihood (ascent direction), same layout as [`Crbm`].
#[derive(Clone, Debug, PartialEq)]
pub struct Gradient {
    /// Shape [N, M].
    pub weights: Vec<f64>,
    /// Shape [N].
    pub fields: Vec<f64>,
    /// Shape [M] each.
    pub gamma_plus: Vec<f64>,
    pub gamma_minus: Vec<f64>,
    pub theta_plus: Vec<f64>,
    pub theta_minus: Vec<f64>,
}

impl Gradient {
    pub fn zeros(n: usize, m: usize) -> Self {
        Self {
            weights: vec![0.0; n * m],
            fields: vec![0.0; n],
            gamma_plus: vec![0.0; m],
            gamma_minus: vec![0.0; m],
            theta_plus: vec![0.0; m],
            theta_minus: vec![0.0; m],
        }
    }

    /// The per-unit parts (fields, γ+, γ−, θ+, θ−), everything but the weights.
    pub fn unit_parts(&self) -> [&Vec<f64>; 5] {
        [
            &self.fields,
            &self.gamma_plus,
            &self.gamma_minus,
            &self.theta_plus,
            &self.theta_minus,
        ]
    }

    /// `x ← f(x)` for every component (the weights in parallel).
    pub fn map_in_place(&mut self, f: impl Fn(f64) -> f64 + Sync) {
        self.weights.par_iter_mut().for_each(|x| *x = f(*x));
        for v in [
            &mut self.fields,
            &mut self.gamma_plus,
            &mut self.gamma_minus,
            &mut self.theta_plus,
            &mut self.theta_minus,
        ] {
            v.iter_mut().for_each(|x| *x = f(*x));
        }
    }
}

impl Crbm {
    /// All-zero weights and fields, γ± = 1, θ± = 0.
    pub fn zeros(n_visible: usize, n_hidden: usize) -> Self {
        Self {
            n_visible,
            n_hidden,
            weights: vec![0.0; n_visible * n_hidden],
            fields: vec![0.0; n_visible],
            hidden: vec![DRelu::default(); n_hidden],
        }
    }

    /// The spec's initialisation: w ~ N(0, weight_std²) (default σ² = 0.1/N),
    /// g_i = logit(⟨v_i⟩_train) (clamped at 1e-4 so silent neurons stay finite),
    /// γ± = 1, θ± = 0.
    pub fn init(visible_mean: &[f64], n_hidden: usize, weight_std: Option<f64>, seed: u64) -> Self {
        let n = visible_mean.len();
        let std = weight_std.unwrap_or((0.1 / n.max(1) as f64).sqrt());
        let mut rng = lane_rng(seed, u64::MAX, 0);
        let normal =
            Normal::new(0.0, std).unwrap_or(Normal::new(0.0, 0.0).expect("σ = 0 is valid"));
        let mut m = Self::zeros(n, n_hidden);
        m.weights
            .iter_mut()
            .for_each(|w| *w = normal.sample(&mut rng));
        m.fields = visible_mean.iter().map(|&p| logit(p, 1e-4)).collect();
        m
    }

    #[inline]
    pub fn weight(&self, i: usize, mu: usize) -> f64 {
        self.weights[i * self.n_hidden + mu]
    }

    /// Hidden inputs I_μ(v) for a frame given by its active indices; shape [M].
    pub fn hidden_input(&self, active: &[u32]) -> Vec<f64> {
        let m = self.n_hidden;
        let mut out = vec![0.0; m];
        for &i in active {
            let row = &self.weights[i as usize * m..(i as usize + 1) * m];
            out.iter_mut().zip(row).for_each(|(o, w)| *o += w);
        }
        out
    }

    /// Free energy `F(v) = −Σ_i g_i v_i − Σ_μ Φ_μ(I_μ(v))`, so `log P(v) = −F(v) − log Z`.
    pub fn free_energy(&self, active: &[u32]) -> f64 {
        let input = self.hidden_input(active);
        let gv: f64 = active.iter().map(|&i| self.fields[i as usize]).sum();
        let phi = DRelu::cgf_sum(&self.hidden, &input);
        -gv - phi
    }

    /// Energy E(v, h) for a dense 0/1 frame v (shape [N]) and hidden state h (shape [M]).
    pub fn energy(&self, v: &[u8], h: &[f64]) -> f64 {
        let mut e = 0.0;
        for i in 0..self.n_visible {
            if v[i] != 0 {
                e -= self.fields[i];
                for mu in 0..self.n_hidden {
                    e -= self.weight(i, mu) * h[mu];
                }
            }
        }
        e + DRelu::potential_sum(&self.hidden, h)
    }

    /// Exact log Z by enumerating all 2^N visible states (N ≤ [`MAX_EXACT_VISIBLE`]).
    pub fn log_partition_exact(&self) -> Result<f64> {
        let (logp, _) = self.enumerate_states()?;
        Ok(log_sum_exp(&logp))
    }

    /// Unnormalised log-probabilities −F(v) of all 2^N states (state s has v_i = bit i of s).
    fn enumerate_states(&self) -> Result<(Vec<f64>, Vec<Vec<u32>>)> {
        let n = self.n_visible;
        if n > MAX_EXACT_VISIBLE {
            return Err(CrbmError::TooLargeForExact {
                what: "exact enumeration",
                n,
                max: MAX_EXACT_VISIBLE,
            });
        }
        let states: Vec<Vec<u32>> = (0..1u64 << n)
            .map(|s| (0..n as u32).filter(|&i| s >> i & 1 == 1).collect())
            .collect();
        let logp = states.iter().map(|a| -self.free_energy(a)).collect();
        Ok((logp, states))
    }

    /// Exact mean log-likelihood of the frames, `⟨log P(v)⟩_data` (small N only).
    pub fn log_likelihood_exact(&self, data: &SparseBatch) -> Result<f64> {
        let log_z = self.log_partition_exact()?;
        Ok(
            data.rows.iter().map(|r| -self.free_energy(r)).sum::<f64>() / data.len().max(1) as f64
                - log_z,
        )
    }

    /// Adds `scale · ∂(−F(v))/∂θ` for one frame to `grad`: the per-frame sufficient
    /// statistics v_i·Φ′_μ, v_i, −E[h±²]/2, −E[h±] (the data-minus-model form of the spec).
    pub fn accumulate_statistics(&self, active: &[u32], scale: f64, grad: &mut Gradient) {
        let m = self.n_hidden;
        let input = self.hidden_input(active);
        let mut mean = vec![0.0; m];
        for (mu, (u, &x)) in self.hidden.iter().zip(&input).enumerate() {
            let mo = u.moments(x);
            mean[mu] = mo.mean;
            grad.gamma_plus[mu] -= 0.5 * scale * mo.e_hp2;
            grad.gamma_minus[mu] -= 0.5 * scale * mo.e_hm2;
            grad.theta_plus[mu] -= scale * mo.e_hp;
            grad.theta_minus[mu] -= scale * mo.e_hm;
        }
        for &i in active {
            let i = i as usize;
            grad.fields[i] += scale;
            let row = &mut grad.weights[i * m..(i + 1) * m];
            row.iter_mut().zip(&mean).for_each(|(g, h)| *g += scale * h);
        }
    }

    /// Exact gradient of `⟨log P(v)⟩_data` by enumerating all 2^N states for the
    /// model term (small N only).
    pub fn log_likelihood_gradient_exact(&self, data: &SparseBatch) -> Result<Gradient> {
        let (logp, states) = self.enumerate_states()?;
        let log_z = log_sum_exp(&logp);
        let mut g = Gradient::zeros(self.n_visible, self.n_hidden);
        let t = data.len().max(1) as f64;
        for r in &data.rows {
            self.accumulate_statistics(r, 1.0 / t, &mut g);
        }
        for (s, lp) in states.iter().zip(&logp) {
            let p = (lp - log_z).exp();
            if p > 0.0 {
                self.accumulate_statistics(s, -p, &mut g);
            }
        }
        Ok(g)
    }

    /// Exact sample of h ~ p(h|v), shape [M].
    pub fn sample_hidden<R: Rng + ?Sized>(&self, active: &[u32], rng: &mut R) -> Vec<f64> {
        let input = self.hidden_input(active);
        self.hidden
            .iter()
            .zip(&input)
            .map(|(u, &x)| u.sample(x, rng))
            .collect()
    }

    /// Flip every hidden unit whose weights sum to a negative number (w → −w,
    /// γ+↔γ−, θ+↔θ−); P(v) is unchanged, assemblies read as positive weights.
    /// Returns the flipped unit indices.
    pub fn fix_signs(&mut self) -> Vec<usize> {
        flip_negative_units(&mut self.weights, &mut self.hidden)
    }

    /// Whether every parameter is finite.
    pub fn is_finite(&self) -> bool {
        self.weight_extent().1 && self.is_finite_except_weights()
    }

    /// Whether the fields and hidden-unit parameters (not the weights) are all finite.
    pub fn is_finite_except_weights(&self) -> bool {
        self.fields.iter().all(|x| x.is_finite()) && self.hidden.iter().all(DRelu::is_finite)
    }

    /// max |w_iμ| (NaN weights ignored, as `f64::max` does).
    pub fn max_abs_weight(&self) -> f64 {
        self.weight_extent().0
    }

    /// (max |w_iμ| over the non-NaN weights, whether every weight is finite), in one parallel
    /// pass over the weights: the trainer's divergence check after every update reads both.
    pub fn weight_extent(&self) -> (f64, bool) {
        self.weights
            .par_chunks(1 << 16)
            .map(extent_of)
            .reduce(|| (0.0, true), |a, b| (larger(a.0, b.0), a.1 && b.1))
    }
}

/// `b` where it is larger than `a`, else `a` (a NaN `b` never wins).
#[inline(always)]
fn larger(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// (max |x| over the non-NaN values, whether all are finite) of one chunk: eight independent
/// lanes so the loop vectorises (the maximum does not depend on the order, so the result is the
/// sequential fold's).
fn extent_of(chunk: &[f64]) -> (f64, bool) {
    const LANES: usize = 8;
    let mut max = [0.0f64; LANES];
    let mut finite = [true; LANES];
    let mut parts = chunk.chunks_exact(LANES);
    for p in &mut parts {
        for k in 0..LANES {
            let x = p[k].abs();
            max[k] = larger(max[k], x);
            finite[k] &= x < f64::INFINITY;
        }
    }
    let mut m = max.iter().fold(0.0, |a, &b| larger(a, b));
    let mut f = finite.iter().all(|&b| b);
    for &w in parts.remainder() {
        m = larger(m, w.abs());
        f &= w.abs() < f64::INFINITY;
    }
    (m, f)
}

/// The sign fix-up of either model kind: flip every hidden unit μ whose weight column
/// (`weights` [N, M] row-major, M = `hidden.len()`) sums to a negative number (w → −w,
/// γ+↔γ−, θ+↔θ−). Returns the flipped unit indices.
pub(crate) fn flip_negative_units(weights: &mut [f64], hidden: &mut [DRelu]) -> Vec<usize> {
    let m = hidden.len();
    let n = if m == 0 { 0 } else { weights.len() / m };
    let mut flipped = Vec::new();
    for mu in 0..m {
        let s: f64 = (0..n).map(|i| weights[i * m + mu]).sum();
        if s < 0.0 {
            for i in 0..n {
                weights[i * m + mu] = -weights[i * m + mu];
            }
            hidden[mu] = hidden[mu].flipped();
            flipped.push(mu);
        }
    }
    flipped
}

/// ln Σ exp(x_k) without overflow.
pub fn log_sum_exp(x: &[f64]) -> f64 {
    let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + x.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}

impl Crbm {
    /// A model with random parameters, for tests, benchmarks and backend checks: weights
    /// U(−1,1), fields U(−1.5,0.5), γ± U(0.5,2), θ± U(−1,1).
    pub fn random(n_visible: usize, n_hidden: usize, seed: u64) -> Crbm {
        let mut rng = lane_rng(seed, 0, 0);
        let mut c = Crbm::zeros(n_visible, n_hidden);
        c.weights
            .iter_mut()
            .for_each(|w| *w = rng.random_range(-1.0..1.0));
        c.fields
            .iter_mut()
            .for_each(|g| *g = rng.random_range(-1.5..0.5));
        for u in &mut c.hidden {
            *u = DRelu {
                gamma_plus: rng.random_range(0.5..2.0),
                gamma_minus: rng.random_range(0.5..2.0),
                theta_plus: rng.random_range(-1.0..1.0),
                theta_minus: rng.random_range(-1.0..1.0),
            };
        }
        c
    }
}

/// Random models for tests across modules.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    pub(crate) fn random_model(n: usize, m: usize, seed: u64) -> Crbm {
        Crbm::random(n, m, seed)
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::random_model as tiny_model;
    use super::*;

    /// The one-pass weight extent is the sequential fold's maximum and `all(is_finite)`, at
    /// every length around the 8-lane blocks and across the parallel chunks, with NaN and ±∞
    /// at every position of a short vector (NaN ignored by the maximum, ∞ counted).
    #[test]
    fn weight_extent_is_the_sequential_max_and_finiteness() {
        let naive = |w: &[f64]| {
            (
                w.iter().fold(0.0f64, |a, x| a.max(x.abs())),
                w.iter().all(|x| x.is_finite()),
            )
        };
        let extent = |w: Vec<f64>| {
            let mut c = Crbm::zeros(w.len(), 1);
            c.weights = w;
            c.weight_extent()
        };
        let base = Crbm::random(200_003, 1, 9).weights;
        for len in (0..40).chain([1 << 16, (1 << 16) + 5, 200_003]) {
            let w = base[..len].to_vec();
            assert_eq!(extent(w.clone()), naive(&w), "length {len}");
        }
        for len in [1usize, 7, 8, 9, 17] {
            for pos in 0..len {
                for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                    let mut w = base[..len].to_vec();
                    w[pos] = bad;
                    let (m, f) = extent(w.clone());
                    let (m0, f0) = naive(&w);
                    assert!(
                        m == m0 && f == f0,
                        "length {len}, {bad} at {pos}: {m} {f} vs {m0} {f0}"
                    );
                }
            }
        }
        let mut w = base.clone();
        w[150_000] = f64::NAN;
        w[7] = -1e6;
        assert_eq!(extent(w), (1e6, false));
    }

    #[test]
    fn free_energy_integrates_energy_over_h() {
        // For N=1, M=1: −F(v) = log ∫ exp(−E(v,h)) dh, checked by quadrature.
        let c = tiny_model(1, 1, 5);
        for v in [0u8, 1] {
            let active: Vec<u32> = if v == 1 { vec![0] } else { vec![] };
            let (lo, hi, n) = (-30.0, 30.0, 600_000);
            let dh = (hi - lo) / n as f64;
            let s: f64 = (0..n)
                .map(|k| (-c.energy(&[v], &[lo + (k as f64 + 0.5) * dh])).exp())
                .sum();
            assert!(((s * dh).ln() + c.free_energy(&active)).abs() < 1e-6);
        }
    }

    #[test]
    fn exact_gradient_matches_finite_differences() {
        let c = tiny_model(6, 2, 1);
        let mut rng = lane_rng(9, 0, 0);
        let frames: Vec<Vec<u8>> = (0..20)
            .map(|_| (0..6).map(|_| rng.random_bool(0.4) as u8).collect())
            .collect();
        let data = SparseBatch::from_dense(6, &frames);
        let g = c.log_likelihood_gradient_exact(&data).unwrap();
        let ll = |c: &Crbm| c.log_likelihood_exact(&data).unwrap();
        let d = 1e-5;
        let fd = |f: &dyn Fn(&mut Crbm, f64)| {
            let (mut a, mut b) = (c.clone(), c.clone());
            f(&mut a, d);
            f(&mut b, -d);
            (ll(&a) - ll(&b)) / (2.0 * d)
        };
        let close = |a: f64, b: f64| (a - b).abs() < 1e-7 * (1.0 + b.abs());
        for k in 0..c.weights.len() {
            assert!(close(g.weights[k], fd(&|c, e| c.weights[k] += e)), "w[{k}]");
        }
        for i in 0..6 {
            assert!(close(g.fields[i], fd(&|c, e| c.fields[i] += e)), "g[{i}]");
        }
        for mu in 0..2 {
            assert!(close(
                g.gamma_plus[mu],
                fd(&|c, e| c.hidden[mu].gamma_plus += e)
            ));
            assert!(close(
                g.gamma_minus[mu],
                fd(&|c, e| c.hidden[mu].gamma_minus += e)
            ));
            assert!(close(
                g.theta_plus[mu],
                fd(&|c, e| c.hidden[mu].theta_plus += e)
            ));
            assert!(close(
                g.theta_minus[mu],
                fd(&|c, e| c.hidden[mu].theta_minus += e)
            ));
        }
    }

    #[test]
    fn sign_fix_keeps_the_distribution() {
        let mut c = tiny_model(5, 3, 2);
        let before = c.log_partition_exact().unwrap();
        let f0 = c.free_energy(&[0, 3]);
        c.fix_signs();
        for mu in 0..3 {
            assert!((0..5).map(|i| c.weight(i, mu)).sum::<f64>() >= 0.0);
        }
        assert!((c.log_partition_exact().unwrap() - before).abs() < 1e-12);
        assert!((c.free_energy(&[0, 3]) - f0).abs() < 1e-12);
    }
}
