//! The reference pMFM fit's CMA-ES settings (Kong et al. 2021; `pmfm-model.md`, "Reference
//! fitting procedure"), as a preset of the generic [`CmaConfig`].

use optimize::cma::{BoundsHandling, CmaConfig, EarlyStop};

/// θ indices of the pMFM's coefficient groups (`pmfm-model.md`, "Parameters").
const KONG_W: std::ops::Range<usize> = 0..3;
const KONG_I: std::ops::Range<usize> = 3..6;
const KONG_G: usize = 6;
const KONG_S: std::ops::Range<usize> = 7..10;

/// The reference pMFM fit (`pmfm-model.md`, "Reference fitting procedure"): λ = 500,
/// μ = 40, σ₀ = 0.15 capped at 0.15 every generation, initial per-coordinate scale
/// `|w₀|/2` for the three w coefficients and `|I₀|/2` for the three I coefficients (the
/// starting intercepts), 0.4 for G and 0.0005 for the three σ coefficients, infeasible
/// offspring re-drawn, 500 generations, early stop when the best cost is < 0.3 with
/// ‖p_σ‖ < 11 in 5 generations (counted as the reference does) or σ < 0.001. The reference's
/// run has no tolX/tolFun rule, so both are off. `start` is the 10-entry θ
/// `[w0, w_m, w_g, I0, I_m, I_g, G, s0, s_m, s_g]`; a start of another length fails
/// [`CmaConfig::check`].
pub fn cma_config(start: &[f64]) -> CmaConfig {
    let at = |i: usize| start.get(i).copied().unwrap_or(f64::NAN);
    let mut scale = vec![f64::NAN; 10];
    for i in KONG_W {
        scale[i] = 0.5 * at(0).abs();
    }
    for i in KONG_I {
        scale[i] = 0.5 * at(3).abs();
    }
    scale[KONG_G] = 0.4;
    for i in KONG_S {
        scale[i] = 0.0005;
    }
    CmaConfig {
        start: start.to_vec(),
        sigma0: 0.15,
        initial_scale: Some(scale),
        population: Some(500),
        parents: Some(40),
        sigma_max: Some(0.15),
        sigma_min: Some(0.001),
        max_generations: 500,
        max_evaluations: None,
        target_cost: None,
        tol_x: 0.0,
        tol_fun: 0.0,
        max_condition: 1e14,
        early_stop: Some(EarlyStop {
            cost_below: 0.3,
            ps_norm_below: 11.0,
            generations: 5,
            consecutive: false,
        }),
        bounds: BoundsHandling::Resample { max_tries: 100_000 },
        restarts: None,
        eigen_every: None,
        seed: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use optimize::baseline::minimize_per_point;
    use optimize::cma::CmaEs;
    use optimize::test_functions::{TestFunction, TestObjective};
    use optimize::OptimizeError;

    #[test]
    fn kong2021_preset_has_the_reference_settings() {
        let start = [0.6, -0.1, 0.2, 0.3, 0.05, -0.02, 5.0, 0.004, 0.001, -0.0005];
        let c = cma_config(&start);
        c.check().unwrap();
        assert_eq!((c.lambda(), c.mu()), (500, 40));
        assert_eq!(c.sigma0, 0.15);
        assert_eq!(c.sigma_max, Some(0.15));
        assert_eq!(c.sigma_min, Some(0.001));
        assert_eq!(c.max_generations, 500);
        assert_eq!(c.start, start.to_vec());
        let scale = c.initial_scale.clone().unwrap();
        assert_eq!(&scale[0..3], &[0.3; 3]);
        assert_eq!(&scale[3..6], &[0.15; 3]);
        assert_eq!(scale[6], 0.4);
        assert_eq!(&scale[7..10], &[0.0005; 3]);
        assert!(matches!(c.bounds, BoundsHandling::Resample { .. }));
        assert_eq!(
            c.early_stop,
            Some(EarlyStop {
                cost_below: 0.3,
                ps_norm_below: 11.0,
                generations: 5,
                consecutive: false
            })
        );
        let es = CmaEs::from_config(&c).unwrap();
        let p = es.params();
        // Weights ∝ ln(40.5) − ln k, normalised.
        let w1 = (40.5f64.ln())
            / (1..=40)
                .map(|k| 40.5f64.ln() - (k as f64).ln())
                .sum::<f64>();
        assert!((p.weights[0] - w1).abs() < 1e-15);
        assert!((p.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(
            p.eigen_every, 1,
            "the reference decomposes every generation"
        );
        assert!((es.std_devs()[6] - 0.15 * 0.4).abs() < 1e-15);
        // A start of the wrong length fails the check instead of panicking.
        assert!(cma_config(&start[..4]).check().is_err());
        // The preset round-trips through JSON.
        let back: CmaConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    /// The `cmaes` crate cannot express the reference's settings (resampled bounds, σ cap, early
    /// stop), so the per-point baseline refuses them instead of running something else.
    #[test]
    fn the_baseline_refuses_the_reference_preset() {
        let start = [0.6, -0.1, 0.2, 0.3, 0.05, -0.02, 5.0, 0.004, 0.001, -0.0005];
        let mut f = TestObjective::new(TestFunction::Sphere, 10);
        assert!(matches!(
            minimize_per_point(&mut f, &cma_config(&start)),
            Err(OptimizeError::Baseline(_))
        ));
        assert_eq!(f.evaluations, 0);
    }
}
