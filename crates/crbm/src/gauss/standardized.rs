//! The standardised RBM (spec, "Standardised training"; RestrictedBoltzmannMachines.jl's
//! `StandardizedRBM`): the interaction uses `(v − o_v)/s_v` and `(h − o_h)/s_h`,
//!
//! `E(v, h) = Σ_i (γ_i v_i²/2 − θ̃_i v_i) + Σ_μ Ũ_μ(h_μ) − Σ_iμ (v_i − o_vi)/s_vi · w̃_iμ · (h_μ − o_hμ)/s_hμ`
//!
//! (up to a constant). Expanding the interaction gives the equivalent plain model:
//! `W = w̃/(s_v s_h)`, `θ = θ̃ − W o_h`, and the hidden linear term `(Wᵀo_v)_μ h_μ` moves
//! into the dReLU thresholds, `θ+ = θ̃+ + Wᵀo_v`, `θ− = θ̃− − Wᵀo_v` (h = h+ − h−).
//! Gradients of the trainer are taken with respect to the standardised parameters;
//! the L2L1 penalty applies to the plain W, so λ keeps its meaning.

use serde::{Deserialize, Serialize};

use super::model::GaussCrbm;

/// Offsets and scales of the standardised parametrisation: the Bernoulli trainer's type
/// ([`crate::train::Standardization`]), built here with
/// [`Standardization::from_moments`] from the data's mean and variance.
pub use crate::train::Standardization;

/// A Gaussian-visible cRBM in standardised coordinates: `params` holds w̃, γ, θ̃ and
/// the dReLU (γ±, θ̃±), all in the layout of [`GaussCrbm`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StandardizedGauss {
    pub params: GaussCrbm,
    pub standardization: Standardization,
}

impl StandardizedGauss {
    /// The standardised parameters that represent `plain` under `standardization`.
    pub fn from_plain(plain: &GaussCrbm, standardization: Standardization) -> Self {
        let (n, m) = (plain.n_visible, plain.n_hidden);
        let st = &standardization;
        let mut p = plain.clone();
        for i in 0..n {
            for mu in 0..m {
                p.weights[i * m + mu] = plain.weight(i, mu) * st.scale_v[i] * st.scale_h[mu];
            }
            let shift: f64 = (0..m).map(|mu| plain.weight(i, mu) * st.offset_h[mu]).sum();
            p.theta[i] = plain.theta[i] + shift;
        }
        for mu in 0..m {
            let c: f64 = (0..n).map(|i| plain.weight(i, mu) * st.offset_v[i]).sum();
            p.hidden[mu].theta_plus = plain.hidden[mu].theta_plus - c;
            p.hidden[mu].theta_minus = plain.hidden[mu].theta_minus + c;
        }
        Self {
            params: p,
            standardization,
        }
    }

    /// The equivalent plain model (same P(v)).
    pub fn to_plain(&self) -> GaussCrbm {
        let (n, m) = (self.params.n_visible, self.params.n_hidden);
        let st = &self.standardization;
        let mut p = self.params.clone();
        for i in 0..n {
            for mu in 0..m {
                p.weights[i * m + mu] =
                    self.params.weight(i, mu) / (st.scale_v[i] * st.scale_h[mu]);
            }
        }
        for i in 0..n {
            let shift: f64 = (0..m)
                .map(|mu| p.weights[i * m + mu] * st.offset_h[mu])
                .sum();
            p.theta[i] = self.params.theta[i] - shift;
        }
        for mu in 0..m {
            let c: f64 = (0..n).map(|i| p.weights[i * m + mu] * st.offset_v[i]).sum();
            p.hidden[mu].theta_plus = self.params.hidden[mu].theta_plus + c;
            p.hidden[mu].theta_minus = self.params.hidden[mu].theta_minus - c;
        }
        p
    }

    /// Free energy from the standardised formula itself (not via [`Self::to_plain`]):
    /// with `a_μ = Σ_i (v_i − o_vi)/s_vi · w̃_iμ`, integrating h gives
    /// `F(v) = Σ_i (γ_i v_i²/2 − θ̃_i v_i) − Σ_μ [Φ̃_μ(a_μ/s_hμ) − a_μ o_hμ/s_hμ]`.
    pub fn free_energy(&self, v: &[f64]) -> f64 {
        let st = &self.standardization;
        let p = &self.params;
        let m = p.n_hidden;
        let mut a = vec![0.0; m];
        for (i, &x) in v.iter().enumerate() {
            let z = (x - st.offset_v[i]) / st.scale_v[i];
            for (mu, a) in a.iter_mut().enumerate() {
                *a += z * p.weight(i, mu);
            }
        }
        let hidden: f64 = (0..m)
            .map(|mu| {
                let x = a[mu] / st.scale_h[mu];
                p.hidden[mu].cgf(x) - x * st.offset_h[mu]
            })
            .sum();
        p.visible_energy(v) - hidden
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::lane_rng;
    use rand::Rng;

    fn some_standardization(n: usize, m: usize, seed: u64) -> Standardization {
        let mut rng = lane_rng(seed, 0, 0);
        Standardization {
            offset_v: (0..n).map(|_| rng.random_range(-1.0..1.0)).collect(),
            scale_v: (0..n).map(|_| rng.random_range(0.5..2.0)).collect(),
            offset_h: (0..m).map(|_| rng.random_range(-1.0..1.0)).collect(),
            scale_h: (0..m).map(|_| rng.random_range(0.5..2.0)).collect(),
        }
    }

    #[test]
    fn conversion_leaves_the_free_energy_unchanged_up_to_a_constant() {
        let plain = GaussCrbm::random(5, 3, 0.5, 1);
        let std = StandardizedGauss::from_plain(&plain, some_standardization(5, 3, 2));
        let mut rng = lane_rng(3, 0, 0);
        let mut diffs = Vec::new();
        for _ in 0..20 {
            let v: Vec<f64> = (0..5).map(|_| rng.random_range(-3.0..3.0)).collect();
            diffs.push(std.free_energy(&v) - plain.free_energy(&v));
        }
        let spread = diffs
            .iter()
            .fold(0.0f64, |a, d| a.max((d - diffs[0]).abs()));
        assert!(spread < 1e-10, "{diffs:?}");
        // And back: the plain model is recovered exactly.
        let back = std.to_plain();
        for (a, b) in back.weights.iter().zip(&plain.weights) {
            assert!((a - b).abs() < 1e-12);
        }
        for (a, b) in back.theta.iter().zip(&plain.theta) {
            assert!((a - b).abs() < 1e-12);
        }
        for (a, b) in back.hidden.iter().zip(&plain.hidden) {
            assert!((a.theta_plus - b.theta_plus).abs() < 1e-12);
            assert!((a.theta_minus - b.theta_minus).abs() < 1e-12);
        }
    }

    #[test]
    fn a_wrong_shift_sign_would_be_caught() {
        // The test above is sensitive: perturbing one threshold changes F(v) − F_plain(v)
        // with v (guards against a conversion that is wrong but self-consistent).
        let plain = GaussCrbm::random(4, 2, 0.5, 4);
        let mut std = StandardizedGauss::from_plain(&plain, some_standardization(4, 2, 5));
        std.params.hidden[0].theta_plus += 0.3;
        let d = |v: &[f64]| std.free_energy(v) - plain.free_energy(v);
        assert!((d(&[2.0, 1.0, -1.0, 0.5]) - d(&[-2.0, 0.0, 1.0, 0.0])).abs() > 1e-3);
    }
}
