//! Annealed importance sampling (AIS) estimate of log Z (practical for small N).
//!
//! Path: the weights are scaled by β from 0 to 1, `P_β(v) ∝ exp(Σ g_i v_i + Σ_μ Φ_μ(β I_μ(v)))`,
//! which is the marginal of the cRBM with weights βW, so an exact Gibbs sweep of
//! that RBM is a valid transition. At β = 0 the units are independent:
//! `log Z_0 = Σ_i softplus(g_i) + Σ_μ Φ_μ(0)`. Weight increments:
//! `Σ_μ [Φ_μ(β_{k+1} I) − Φ_μ(β_k I)]`.

use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::layers::bernoulli::{sigmoid, softplus};
use crate::layers::DRelu;
use crate::model::Crbm;
use crate::rng::lane_rng;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AisConfig {
    pub n_chains: usize,
    /// Number of intermediate temperatures (linear in β).
    pub n_betas: usize,
    pub seed: u64,
}

impl Default for AisConfig {
    fn default() -> Self {
        Self {
            n_chains: 200,
            n_betas: 2000,
            seed: 0,
        }
    }
}

/// AIS estimate of log Z and the standard error of the log-mean-weight (delta method).
pub fn ais_log_partition(model: &Crbm, cfg: &AisConfig) -> (f64, f64) {
    let (n, m) = (model.n_visible, model.n_hidden);
    let log_z0: f64 = model.fields.iter().map(|&g| softplus(g)).sum::<f64>()
        + model.hidden.iter().map(|u| u.cgf(0.0)).sum::<f64>();
    let k = cfg.n_betas.max(1);
    let log_w: Vec<f64> = (0..cfg.n_chains)
        .into_par_iter()
        .map(|c| {
            let mut rng = lane_rng(cfg.seed, 7, c as u64);
            let mut v: Vec<u32> = (0..n as u32)
                .filter(|&i| rng.random::<f64>() < sigmoid(model.fields[i as usize]))
                .collect();
            let mut lw = 0.0;
            let mut h = vec![0.0; m];
            for step in 0..k {
                let (b0, b1) = (step as f64 / k as f64, (step + 1) as f64 / k as f64);
                let input = model.hidden_input(&v);
                lw += weight_increment(&model.hidden, &input, b0, b1);
                // Transition at β1 (leaves P_β1 invariant).
                for ((hm, u), &x) in h.iter_mut().zip(&model.hidden).zip(&input) {
                    *hm = u.sample(b1 * x, &mut rng);
                }
                v = (0..n)
                    .filter(|&i| {
                        let x: f64 = model.fields[i]
                            + b1 * (0..m).map(|mu| model.weight(i, mu) * h[mu]).sum::<f64>();
                        rng.random::<f64>() < sigmoid(x)
                    })
                    .map(|i| i as u32)
                    .collect();
            }
            lw
        })
        .collect();
    ais_estimate(log_z0, &log_w)
}

/// The AIS weight increment from β0 to β1 at hidden inputs `input` [M]:
/// `Σ_μ [Φ_μ(β1 I_μ) − Φ_μ(β0 I_μ)]`.
pub(crate) fn weight_increment(hidden: &[DRelu], input: &[f64], b0: f64, b1: f64) -> f64 {
    hidden
        .iter()
        .zip(input)
        .map(|(u, &x)| u.cgf(b1 * x) - u.cgf(b0 * x))
        .sum::<f64>()
}

/// The AIS estimate `log Z_0 + ln mean_c exp(log_w_c)` from the chains' log-weights, and
/// the standard error of the log-mean-weight (delta method).
pub(crate) fn ais_estimate(log_z0: f64, log_w: &[f64]) -> (f64, f64) {
    let mx = log_w.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = log_w.iter().map(|l| (l - mx).exp()).collect();
    let mean = w.iter().sum::<f64>() / w.len().max(1) as f64;
    let var = w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (w.len().max(2) - 1) as f64;
    let se = (var / w.len().max(1) as f64).sqrt() / mean;
    (log_z0 + mx + mean.ln(), se)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests_support::random_model;

    #[test]
    fn ais_matches_exact_enumeration() {
        let c = random_model(10, 3, 21);
        let exact = c.log_partition_exact().unwrap();
        let (est, se) = ais_log_partition(
            &c,
            &AisConfig {
                n_chains: 100,
                n_betas: 500,
                seed: 1,
            },
        );
        assert!(
            (est - exact).abs() < 0.05 + 4.0 * se,
            "AIS {est} ± {se} vs exact {exact}"
        );
    }
}
