//! Standardised training of Bernoulli-visible cRBMs (RestrictedBoltzmannMachines.jl's
//! `StandardizedRBM`; spec, "Standardised training").
//!
//! The interaction uses standardised variables,
//! `E(v, h) = −Σ_i g̃_i v_i + Σ_μ Ũ_μ(h_μ) − Σ_iμ ((v_i − o_i)/s_i) w̃_iμ ((h_μ − ō_μ)/σ_μ)`,
//! with o, s the visible offsets and scales (data mean and √(var + ε_v), fixed) and ō, σ the
//! hidden ones (tracked over the data batches). Expanding the product gives the equivalent
//! plain cRBM, up to the constant `Σ_iμ o_i W_iμ ō_μ`:
//! * `W_iμ = w̃_iμ / (s_i σ_μ)`,
//! * `g_i = g̃_i − Σ_μ W_iμ ō_μ`,
//! * `θ+_μ = θ̃+_μ + c_μ`, `θ−_μ = θ̃−_μ − c_μ` with `c_μ = Σ_i o_i W_iμ` (h = h+ − h−),
//! * `γ±_μ = γ̃±_μ`.
//!
//! The trainer keeps the plain model (the chains sample it); [`Standardization`] converts
//! parameters and gradients. Changing ō or σ is a reparameterisation: the plain model is
//! unchanged, only the standardised coordinates move.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::batch::SparseBatch;
use crate::error::{invalid_config, Result};
use crate::model::{Crbm, Gradient};

/// Settings of standardised training (defaults: on, with the reference wrapper's ε_v = 0.1,
/// ε_h = 0 and damping 0.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StandardizeConfig {
    /// Train the standardised cRBM (gradients taken with respect to w̃, g̃, θ̃±, γ±).
    pub enabled: bool,
    /// Pseudo-variance added to each visible unit's variance: s_i = √(⟨v_i⟩(1 − ⟨v_i⟩) + ε_v).
    /// Keeps rare neurons from getting huge standardised inputs.
    pub epsilon_v: f64,
    /// Pseudo-variance added to each hidden unit's total variance: σ_μ = √(Var h_μ + ε_h).
    pub epsilon_h: f64,
    /// Damping d of the hidden offsets and scales: new = (1 − d)·old + d·batch value.
    pub damping: f64,
}

impl Default for StandardizeConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            epsilon_v: 0.1,
            epsilon_h: 0.0,
            damping: 0.1,
        }
    }
}

impl StandardizeConfig {
    /// Plain training (the default settings, switched off).
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.epsilon_v.is_finite() && self.epsilon_v >= 0.0) {
            return invalid_config(
                "standardize.epsilon_v",
                self.epsilon_v,
                "must be finite and ≥ 0",
            );
        }
        if !(self.epsilon_h.is_finite() && self.epsilon_h >= 0.0) {
            return invalid_config(
                "standardize.epsilon_h",
                self.epsilon_h,
                "must be finite and ≥ 0",
            );
        }
        if !(0.0..=1.0).contains(&self.damping) {
            return invalid_config("standardize.damping", self.damping, "must be in [0, 1]");
        }
        Ok(())
    }
}

/// Offsets and scales of a standardised cRBM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standardization {
    /// Visible offsets o_i, shape [N].
    pub offset_v: Vec<f64>,
    /// Visible scales s_i > 0, shape [N].
    pub scale_v: Vec<f64>,
    /// Hidden offsets ō_μ, shape [M].
    pub offset_h: Vec<f64>,
    /// Hidden scales σ_μ > 0, shape [M].
    pub scale_h: Vec<f64>,
}

impl Standardization {
    /// o = ō = 0, s = σ = 1: the standardised parameters are the plain ones.
    pub fn identity(n_visible: usize, n_hidden: usize) -> Self {
        Self {
            offset_v: vec![0.0; n_visible],
            scale_v: vec![1.0; n_visible],
            offset_h: vec![0.0; n_hidden],
            scale_h: vec![1.0; n_hidden],
        }
    }

    /// Visible offsets and scales from the training frames (o_i = ⟨v_i⟩,
    /// s_i = √(⟨v_i⟩(1 − ⟨v_i⟩) + ε_v), 1 where that is 0); hidden ones at ō = 0, σ = 1
    /// (a fresh dReLU unit with γ± = 1, θ± = 0 and small weights has mean ≈ 0, variance ≈ 1).
    pub fn from_data(data: &SparseBatch, n_hidden: usize, epsilon_v: f64) -> Self {
        let mean = data.mean_activity();
        let var: Vec<f64> = mean.iter().map(|&p| p * (1.0 - p)).collect();
        Self::from_moments(&mean, &var, epsilon_v, n_hidden)
    }

    /// Visible offsets and scales from per-unit moments, shapes [N]: o = mean,
    /// s = √(var + ε_v) (1 where that is 0); hidden o = 0, s = 1. Serves Bernoulli units
    /// (var = p(1 − p)) and Gaussian ones (the data variance).
    pub fn from_moments(mean: &[f64], var: &[f64], epsilon_v: f64, n_hidden: usize) -> Self {
        let scale_v = var
            .iter()
            .map(|v| {
                let s = (v + epsilon_v).sqrt();
                if s > 0.0 {
                    s
                } else {
                    1.0
                }
            })
            .collect();
        Self {
            offset_v: mean.to_vec(),
            scale_v,
            offset_h: vec![0.0; n_hidden],
            scale_h: vec![1.0; n_hidden],
        }
    }

    /// `c_μ = Σ_i o_i W_iμ` for plain weights W, shape [M].
    fn visible_offset_input(&self, plain_weights: &[f64], m: usize) -> Vec<f64> {
        let mut c = vec![0.0; m];
        for (row, &o) in plain_weights.chunks(m).zip(&self.offset_v) {
            if o != 0.0 {
                c.iter_mut().zip(row).for_each(|(c, w)| *c += o * w);
            }
        }
        c
    }

    /// `Σ_μ W_iμ ō_μ` for plain weights W, shape [N].
    fn hidden_offset_field(&self, plain_weights: &[f64], m: usize) -> Vec<f64> {
        plain_weights
            .par_chunks(m)
            .map(|row| row.iter().zip(&self.offset_h).map(|(w, o)| w * o).sum())
            .collect()
    }

    /// The standardised parameters (w̃ in `weights`, g̃ in `fields`, Ũ in `hidden`) of a
    /// plain model.
    pub fn standardize(&self, plain: &Crbm) -> Crbm {
        let m = plain.n_hidden;
        let c = self.visible_offset_input(&plain.weights, m);
        let shift = self.hidden_offset_field(&plain.weights, m);
        let mut std = plain.clone();
        std.weights
            .par_chunks_mut(m)
            .zip(self.scale_v.par_iter())
            .for_each(|(row, &s)| {
                row.iter_mut()
                    .zip(&self.scale_h)
                    .for_each(|(w, sh)| *w *= s * sh)
            });
        std.fields.iter_mut().zip(&shift).for_each(|(g, d)| *g += d);
        for (u, c) in std.hidden.iter_mut().zip(&c) {
            u.theta_plus -= c;
            u.theta_minus += c;
        }
        std
    }

    /// The plain model of standardised parameters (inverse of [`Self::standardize`]).
    pub fn unstandardize(&self, std: &Crbm) -> Crbm {
        let m = std.n_hidden;
        let mut plain = std.clone();
        plain
            .weights
            .par_chunks_mut(m)
            .zip(self.scale_v.par_iter())
            .for_each(|(row, &s)| {
                row.iter_mut()
                    .zip(&self.scale_h)
                    .for_each(|(w, sh)| *w /= s * sh)
            });
        let c = self.visible_offset_input(&plain.weights, m);
        let shift = self.hidden_offset_field(&plain.weights, m);
        plain
            .fields
            .iter_mut()
            .zip(&shift)
            .for_each(|(g, d)| *g -= d);
        for (u, c) in plain.hidden.iter_mut().zip(&c) {
            u.theta_plus += c;
            u.theta_minus -= c;
        }
        plain
    }

    /// Free energy of a frame (active indices) under the standardised parameters `std`,
    /// computed directly from the standardised energy:
    /// `F̃(v) = −Σ_i g̃_i v_i − Σ_μ [Φ̃_μ(x_μ/σ_μ) − x_μ ō_μ/σ_μ]`,
    /// `x_μ = Σ_i (v_i − o_i) w̃_iμ / s_i`. Equals the plain free energy plus a constant.
    pub fn free_energy(&self, std: &Crbm, active: &[u32]) -> f64 {
        let (n, m) = (std.n_visible, std.n_hidden);
        let mut v = vec![0.0; n];
        active.iter().for_each(|&i| v[i as usize] = 1.0);
        let mut x = vec![0.0; m];
        for i in 0..n {
            let z = (v[i] - self.offset_v[i]) / self.scale_v[i];
            x.iter_mut()
                .zip(&std.weights[i * m..(i + 1) * m])
                .for_each(|(x, w)| *x += z * w);
        }
        let gv: f64 = active.iter().map(|&i| std.fields[i as usize]).sum();
        let hidden: f64 = (0..m)
            .map(|mu| {
                let y = x[mu] / self.scale_h[mu];
                std.hidden[mu].cgf(y) - y * self.offset_h[mu]
            })
            .sum();
        -gv - hidden
    }

    /// Turn a plain ascent direction (data-minus-chains statistics, penalty included in the
    /// weight part) into the one of the standardised parameters, in place:
    /// `G̃_iμ = (G_iμ − ō_μ G_g,i + o_i (G_θ+,μ − G_θ−,μ)) / (s_i σ_μ)`, which is
    /// `⟨(v_i − o_i)/s_i · (E[h_μ|v] − ō_μ)/σ_μ⟩_data − ⟨…⟩_chains` (Δ⟨h⟩ = G_θ− − G_θ+),
    /// and a penalty term `−∂R/∂W` becomes `−∂R/∂W ÷ (s σ)`. The field and hidden-unit
    /// directions are unchanged (g̃, θ̃±, γ± enter the energy as g, θ±, γ± do).
    pub fn standardize_gradient(&self, grad: &mut Gradient) {
        let m = grad.theta_plus.len();
        let dh: Vec<f64> = grad
            .theta_plus
            .iter()
            .zip(&grad.theta_minus)
            .map(|(p, q)| p - q)
            .collect();
        let inv_h: Vec<f64> = self.scale_h.iter().map(|s| 1.0 / s).collect();
        grad.weights
            .par_chunks_mut(m)
            .zip(grad.fields.par_iter())
            .zip(self.offset_v.par_iter().zip(self.scale_v.par_iter()))
            .for_each(|((row, &gg), (&o, &s))| {
                for (mu, x) in row.iter_mut().enumerate() {
                    *x = (*x - self.offset_h[mu] * gg + o * dh[mu]) * inv_h[mu] / s;
                }
            });
    }

    /// Track the hidden offsets and scales over a data batch under the plain `model`:
    /// ō ← (1 − d)·ō + d·⟨E[h|v]⟩, σ ← (1 − d)·σ + d·√(Var_batch E[h|v] + ⟨Var[h|v]⟩ + ε_h).
    /// A reparameterisation: the plain model is unchanged.
    pub fn track_hidden(&mut self, model: &Crbm, batch: &SparseBatch, cfg: &StandardizeConfig) {
        let m = model.n_hidden;
        let b = batch.len();
        if b == 0 {
            return;
        }
        let moments: Vec<Vec<(f64, f64)>> = batch
            .rows
            .par_iter()
            .map(|r| {
                let input = model.hidden_input(r);
                model
                    .hidden
                    .iter()
                    .zip(&input)
                    .map(|(u, &x)| {
                        let mo = u.moments(x);
                        (mo.mean, mo.var)
                    })
                    .collect()
            })
            .collect();
        let d = cfg.damping;
        for mu in 0..m {
            let mean = moments.iter().map(|r| r[mu].0).sum::<f64>() / b as f64;
            let var = moments
                .iter()
                .map(|r| (r[mu].0 - mean).powi(2) + r[mu].1)
                .sum::<f64>()
                / b as f64;
            let sd = (var + cfg.epsilon_h).sqrt();
            if !(mean.is_finite() && sd.is_finite() && sd > 0.0) {
                continue;
            }
            self.offset_h[mu] = (1.0 - d) * self.offset_h[mu] + d * mean;
            self.scale_h[mu] = (1.0 - d) * self.scale_h[mu] + d * sd;
        }
    }

    /// Absorb σ into the hidden units by the exact symmetry h → h/σ of the plain model
    /// (W → W·σ, γ± → γ±·σ², θ± → θ±·σ; ō → ō/σ, σ → 1), so the standardised weights are
    /// unchanged and the units keep unit total variance. Returns the factors σ, shape [M].
    pub fn absorb_hidden_scale(&mut self, model: &mut Crbm) -> Vec<f64> {
        let sigma = std::mem::replace(&mut self.scale_h, vec![1.0; model.n_hidden]);
        model
            .weights
            .par_chunks_mut(model.n_hidden)
            .for_each(|row| {
                row.iter_mut().zip(&sigma).for_each(|(w, s)| *w *= s);
            });
        for ((u, s), o) in model.hidden.iter_mut().zip(&sigma).zip(&mut self.offset_h) {
            u.gamma_plus *= s * s;
            u.gamma_minus *= s * s;
            u.theta_plus *= s;
            u.theta_minus *= s;
            *o /= s;
        }
        sigma
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests_support::random_model;
    use crate::rng::lane_rng;
    use rand::Rng;

    /// A non-trivial standardisation: offsets in (0, 0.6), scales in (0.4, 1.6).
    fn some_standardization(n: usize, m: usize, seed: u64) -> Standardization {
        let mut rng = lane_rng(seed, 7, 7);
        let mut s = Standardization::identity(n, m);
        s.offset_v
            .iter_mut()
            .for_each(|x| *x = rng.random_range(0.0..0.6));
        s.scale_v
            .iter_mut()
            .for_each(|x| *x = rng.random_range(0.4..1.6));
        s.offset_h
            .iter_mut()
            .for_each(|x| *x = rng.random_range(-0.8..0.8));
        s.scale_h
            .iter_mut()
            .for_each(|x| *x = rng.random_range(0.4..1.6));
        s
    }

    fn all_states(n: usize) -> Vec<Vec<u32>> {
        (0..1u64 << n)
            .map(|s| (0..n as u32).filter(|&i| s >> i & 1 == 1).collect())
            .collect()
    }

    #[test]
    fn conversion_keeps_the_free_energy_up_to_a_constant() {
        let (n, m) = (7, 3);
        let std_params = random_model(n, m, 21);
        let st = some_standardization(n, m, 22);
        let plain = st.unstandardize(&std_params);
        let states = all_states(n);
        let diffs: Vec<f64> = states
            .iter()
            .map(|a| st.free_energy(&std_params, a) - plain.free_energy(a))
            .collect();
        // The constant is −Σ_iμ o_i W_iμ ō_μ (the interaction at v = o, h = ō … expanded).
        let c: f64 = (0..n)
            .flat_map(|i| (0..m).map(move |mu| (i, mu)))
            .map(|(i, mu)| st.offset_v[i] * plain.weight(i, mu) * st.offset_h[mu])
            .sum();
        for d in &diffs {
            assert!((d - (-c)).abs() < 1e-10, "F̃ − F = {d}, want {}", -c);
        }
        // Hence identical probabilities: log P̃(v) = log P(v) for every state.
        let log_z = plain.log_partition_exact().unwrap();
        let log_z_std = crate::model::log_sum_exp(
            &states
                .iter()
                .map(|a| -st.free_energy(&std_params, a))
                .collect::<Vec<_>>(),
        );
        for a in &states {
            let lp = -plain.free_energy(a) - log_z;
            let lp_std = -st.free_energy(&std_params, a) - log_z_std;
            assert!((lp - lp_std).abs() < 1e-10);
        }
        // And the round trip is the identity.
        let back = st.standardize(&plain);
        for (a, b) in back.weights.iter().zip(&std_params.weights) {
            assert!((a - b).abs() < 1e-12);
        }
        for (a, b) in back.fields.iter().zip(&std_params.fields) {
            assert!((a - b).abs() < 1e-12);
        }
        for (a, b) in back.hidden.iter().zip(&std_params.hidden) {
            assert!((a.theta_plus - b.theta_plus).abs() < 1e-12);
            assert!((a.theta_minus - b.theta_minus).abs() < 1e-12);
        }
    }

    #[test]
    fn standardized_gradient_matches_finite_differences() {
        // d⟨log P⟩/d(standardised parameter) by finite differences through unstandardize,
        // against the exact plain gradient turned by standardize_gradient.
        let (n, m) = (6, 2);
        let st = some_standardization(n, m, 3);
        let std_params = random_model(n, m, 4);
        let plain = st.unstandardize(&std_params);
        let mut rng = lane_rng(5, 0, 0);
        let frames: Vec<Vec<u8>> = (0..30)
            .map(|_| (0..n).map(|_| rng.random_bool(0.35) as u8).collect())
            .collect();
        let data = SparseBatch::from_dense(n, &frames);
        let mut g = plain.log_likelihood_gradient_exact(&data).unwrap();
        st.standardize_gradient(&mut g);
        let ll = |p: &Crbm| st.unstandardize(p).log_likelihood_exact(&data).unwrap();
        let d = 1e-5;
        let fd = |f: &dyn Fn(&mut Crbm, f64)| {
            let (mut a, mut b) = (std_params.clone(), std_params.clone());
            f(&mut a, d);
            f(&mut b, -d);
            (ll(&a) - ll(&b)) / (2.0 * d)
        };
        let close = |a: f64, b: f64| (a - b).abs() < 1e-7 * (1.0 + b.abs());
        for k in 0..n * m {
            let want = fd(&|p, e| p.weights[k] += e);
            assert!(
                close(g.weights[k], want),
                "w̃[{k}]: {} vs {want}",
                g.weights[k]
            );
        }
        for i in 0..n {
            assert!(close(g.fields[i], fd(&|p, e| p.fields[i] += e)), "g̃[{i}]");
        }
        for mu in 0..m {
            assert!(close(
                g.theta_plus[mu],
                fd(&|p, e| p.hidden[mu].theta_plus += e)
            ));
            assert!(close(
                g.theta_minus[mu],
                fd(&|p, e| p.hidden[mu].theta_minus += e)
            ));
            assert!(close(
                g.gamma_plus[mu],
                fd(&|p, e| p.hidden[mu].gamma_plus += e)
            ));
        }
    }

    #[test]
    fn tracking_and_absorbing_keep_the_distribution() {
        let (n, m) = (7, 3);
        let model = random_model(n, m, 31);
        let mut rng = lane_rng(6, 0, 0);
        let frames: Vec<Vec<u8>> = (0..40)
            .map(|_| (0..n).map(|_| rng.random_bool(0.4) as u8).collect())
            .collect();
        let data = SparseBatch::from_dense(n, &frames);
        let ll0 = model.log_likelihood_exact(&data).unwrap();
        let mut st = Standardization::from_data(&data, m, 0.1);
        let cfg = StandardizeConfig {
            damping: 1.0,
            ..Default::default()
        };
        st.track_hidden(&model, &data, &cfg);
        // With d = 1, ō and σ are the batch mean and total sd of h.
        for mu in 0..m {
            let (mut mean, mut second) = (0.0, 0.0);
            for r in &data.rows {
                let mo = model.hidden[mu].moments(model.hidden_input(r)[mu]);
                mean += mo.mean / 40.0;
                second += (mo.var + mo.mean * mo.mean) / 40.0;
            }
            assert!((st.offset_h[mu] - mean).abs() < 1e-12);
            assert!((st.scale_h[mu] - (second - mean * mean).sqrt()).abs() < 1e-10);
        }
        let std_params = st.standardize(&model);
        let mut absorbed = model.clone();
        st.absorb_hidden_scale(&mut absorbed);
        assert!(st.scale_h.iter().all(|&s| s == 1.0));
        assert!((absorbed.log_likelihood_exact(&data).unwrap() - ll0).abs() < 1e-10);
        // The standardised weights do not move when σ is absorbed.
        let after = st.standardize(&absorbed);
        for (a, b) in after.weights.iter().zip(&std_params.weights) {
            assert!((a - b).abs() < 1e-12);
        }
        // The absorbed units have unit total variance over the batch.
        let mut again = st.clone();
        again.track_hidden(&absorbed, &data, &cfg);
        for s in &again.scale_h {
            assert!((s - 1.0).abs() < 1e-10, "σ after absorbing: {s}");
        }
    }
}
