//! Annealed importance sampling (AIS) of log Z for the Gaussian-visible cRBM.
//!
//! Path: weights scaled by β from 0 to 1, `P_β(v) ∝ exp(−Σ_i (γ_i v_i²/2 − θ_i v_i) + Σ_μ Φ_μ(β I_μ(v)))`,
//! the marginal of the model with weights βW, so an exact Gibbs sweep of that model is a
//! valid transition. At β = 0 the units are independent:
//! `log Z_0 = Σ_i [θ_i²/(2γ_i) + ½ log(2π/γ_i)] + Σ_μ Φ_μ(0)`. Weight increments:
//! `Σ_μ [Φ_μ(β_{k+1} I) − Φ_μ(β_k I)]`.

use rand_distr::{Distribution, Normal};
use rayon::prelude::*;

use super::model::GaussCrbm;
use crate::ais::{ais_estimate, weight_increment, AisConfig};
use crate::rng::lane_rng;

/// AIS estimate of log Z and the standard error of the log-mean-weight (delta method).
pub fn ais_log_partition(model: &GaussCrbm, cfg: &AisConfig) -> (f64, f64) {
    let n = model.n_visible;
    let log_z0: f64 = model
        .gamma
        .iter()
        .zip(&model.theta)
        .map(|(g, t)| t * t / (2.0 * g) + 0.5 * (2.0 * std::f64::consts::PI / g).ln())
        .sum::<f64>()
        + model.hidden.iter().map(|u| u.cgf(0.0)).sum::<f64>();
    let k = cfg.n_betas.max(1);
    let normal = Normal::new(0.0, 1.0).expect("unit normal");
    let log_w: Vec<f64> = (0..cfg.n_chains)
        .into_par_iter()
        .map(|c| {
            let mut rng = lane_rng(cfg.seed, 11, c as u64);
            let mut v: Vec<f64> = (0..n)
                .map(|i| {
                    let g = model.gamma[i];
                    model.theta[i] / g + normal.sample(&mut rng) / g.sqrt()
                })
                .collect();
            let mut scaled = model.clone();
            let mut lw = 0.0;
            for step in 0..k {
                let (b0, b1) = (step as f64 / k as f64, (step + 1) as f64 / k as f64);
                let input = model.hidden_input(&v);
                lw += weight_increment(&model.hidden, &input, b0, b1);
                scaled
                    .weights
                    .iter_mut()
                    .zip(&model.weights)
                    .for_each(|(s, w)| *s = b1 * w);
                scaled.gibbs_sweep(&mut v, &mut rng);
            }
            lw
        })
        .collect();
    ais_estimate(log_z0, &log_w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ais_agrees_with_quadrature_on_a_tiny_model() {
        // 3 visible, 2 hidden (the tiny model), weights strong enough to matter.
        let c = GaussCrbm::random(3, 2, 0.6, 21);
        assert!(c.stability_margin() > 0.0);
        let (exact, _) = c.quadrature(16.0, 400).unwrap();
        let (est, se) = ais_log_partition(
            &c,
            &AisConfig {
                n_chains: 400,
                n_betas: 400,
                seed: 3,
            },
        );
        // Independent start: log Z_0 alone is off by the interaction's contribution.
        let naive = c
            .gamma
            .iter()
            .zip(&c.theta)
            .map(|(g, t)| t * t / (2.0 * g) + 0.5 * (2.0 * std::f64::consts::PI / g).ln())
            .sum::<f64>()
            + c.hidden.iter().map(|u| u.cgf(0.0)).sum::<f64>();
        assert!(
            (naive - exact).abs() > 0.05,
            "the test model must be coupled"
        );
        assert!(se < 0.01, "se {se}");
        assert!(
            (est - exact).abs() < 0.02,
            "AIS {est} vs quadrature {exact}"
        );
    }
}
