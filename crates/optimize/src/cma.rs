//! Ask/tell (μ/μ_w, λ)-CMA-ES whose whole population is evaluated as one batch.
//!
//! The update is the standard one of Hansen, "The CMA Evolution Strategy: A Tutorial" (2016),
//! with positive recombination weights only, as the reference pMFM fit uses it:
//! * weights `w_k ∝ ln(μ + ½) − ln k`, k = 1..μ, normalised to sum 1; `μ_eff = 1/Σ w_k²`;
//! * mean `m' = Σ w_k x_{k:λ}`, `ȳ = (m' − m)/σ`;
//! * step-size path `p_σ ← (1 − c_σ) p_σ + √(c_σ(2 − c_σ)μ_eff) C^{−½} ȳ` and
//!   `σ ← σ·exp(c_σ/d_σ·(‖p_σ‖/E‖N(0, I)‖ − 1))` (cumulative step-size adaptation), then capped
//!   at `sigma_max` when set (the reference caps σ at 0.15 every generation);
//! * covariance path `p_c ← (1 − c_c) p_c + h_σ √(c_c(2 − c_c)μ_eff) ȳ` and
//!   `C ← (1 − c₁ − c_μ) C + c₁ (p_c p_cᵀ + (1 − h_σ) c_c(2 − c_c) C) + c_μ Σ w_k y_k y_kᵀ`
//!   with `y_k = (x_{k:λ} − m)/σ` (rank-one plus rank-μ update);
//! * `C = B D² Bᵀ` re-decomposed every `⌈1/((c₁ + c_μ)·n·10)⌉` generations (every generation for
//!   the reference's settings); offspring `x = m + σ B (D ∘ z)`, `z ~ N(0, I)`.
//!
//! [`CmaEs`] is the bare ask/tell strategy; [`CmaRun`] drives it over an [`Objective`]: bounds
//! handling, stopping rules, IPOP restarts (population doubling), observers and checkpoints.
//! [`minimize`] and [`minimize_resumable`] are the one-call drivers.
//!
//! Every random draw comes from one `ChaCha8Rng` seeded by [`CmaConfig::seed`], whose position
//! is part of the checkpoint, so the same seed gives the same run and a resumed run continues
//! the interrupted one bit for bit.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Instant;

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::error::OptimizeError;
use crate::objective::{
    evaluate_batch, exact, BatchContext, Evaluation, GenerationReport, Objective, Observer,
};

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// What to do with offspring outside the objective's feasible region
/// ([`Objective::is_feasible`]). Infeasible points are never passed to the objective.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BoundsHandling {
    /// Re-draw each infeasible offspring until it is feasible, as the reference does; give up
    /// (stop reason [`StopReason::ResampleExhausted`]) after `max_tries` draws for one offspring.
    Resample { max_tries: usize },
    /// Keep infeasible offspring in the ranking without evaluating them, at cost
    /// `worst feasible cost of the generation + weight · constraint_violation(x)`, so they rank
    /// behind every feasible offspring, ordered by how far out they are.
    Penalty { weight: f64 },
}

impl Default for BoundsHandling {
    fn default() -> Self {
        Self::Resample { max_tries: 1000 }
    }
}

/// The reference's early stop: count the generations whose best cost is below `cost_below`
/// while `‖p_σ‖ < ps_norm_below`; stop once `generations` were counted. The reference counts
/// over the whole run (not necessarily consecutive); `consecutive = true` resets the count on a
/// generation that fails the test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStop {
    pub cost_below: f64,
    pub ps_norm_below: f64,
    pub generations: usize,
    #[serde(default)]
    pub consecutive: bool,
}

/// Box from which each IPOP restart draws its initial mean uniformly (re-drawn until
/// feasible).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartBox {
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
}

/// IPOP restarts (Auger & Hansen 2005): after a local stop, restart with the population
/// multiplied by `population_factor`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ipop {
    /// Restarts after the first run (so at most `max_restarts + 1` runs).
    pub max_restarts: usize,
    /// λ of restart r is `round(λ₀ · factor^r)`; μ scales with it.
    pub population_factor: f64,
    /// Where restarts start: uniformly in this box, or at [`CmaConfig::start`] when `None`.
    pub start_box: Option<StartBox>,
}

impl Default for Ipop {
    fn default() -> Self {
        Self {
            max_restarts: 9,
            population_factor: 2.0,
            start_box: None,
        }
    }
}

/// Settings of a CMA-ES run. `CmaConfig::new(start, sigma0)` gives the textbook defaults;
/// [`CmaConfig::kong2021`] the reference pMFM settings. Checked by [`CmaConfig::check`] before
/// a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CmaConfig {
    /// Initial mean; its length is the problem dimension n.
    pub start: Vec<f64>,
    /// Initial step size σ₀. Default 0.3.
    pub sigma0: f64,
    /// Per-coordinate initial standard deviations (the initial `D`, so `C₀ = diag(scale²)` and
    /// coordinate i starts with spread `σ₀·scaleᵢ`). Default: all ones.
    pub initial_scale: Option<Vec<f64>>,
    /// Population λ. Default `4 + ⌊3 ln n⌋`.
    pub population: Option<usize>,
    /// Parents μ. Default `⌊λ/2⌋`.
    pub parents: Option<usize>,
    /// Cap on σ, applied after every update. Default none.
    pub sigma_max: Option<f64>,
    /// Stop (locally; IPOP may restart) when σ falls below this. Default none.
    pub sigma_min: Option<f64>,
    /// Generations per run (per restart). Default 10,000.
    pub max_generations: usize,
    /// Objective evaluations over the whole run, restarts included. Default none.
    pub max_evaluations: Option<usize>,
    /// Stop the whole run once a valid cost ≤ this is found. Default none.
    pub target_cost: Option<f64>,
    /// Stop when `σ·√Cᵢᵢ < tol_x` and `σ·|p_c,ᵢ| < tol_x` for every i (0 disables). Default 1e-11.
    pub tol_x: f64,
    /// Stop when the best costs of the last `10 + ⌈30n/λ⌉` generations and all costs of the
    /// current one lie within `tol_fun` (0 disables). Default 1e-12.
    pub tol_fun: f64,
    /// Stop when the condition number of C exceeds this. Default 1e14.
    pub max_condition: f64,
    /// The reference's early stop. Default none.
    pub early_stop: Option<EarlyStop>,
    /// Infeasible offspring. Default `Resample { max_tries: 1000 }`.
    pub bounds: BoundsHandling,
    /// IPOP restarts. Default none (one run).
    pub restarts: Option<Ipop>,
    /// Generations between eigendecompositions of C. Default `⌈1/((c₁ + c_μ)·n·10)⌉`.
    pub eigen_every: Option<usize>,
    /// Seed of the one random stream of the run.
    pub seed: u64,
}

impl Default for CmaConfig {
    fn default() -> Self {
        Self {
            start: Vec::new(),
            sigma0: 0.3,
            initial_scale: None,
            population: None,
            parents: None,
            sigma_max: None,
            sigma_min: None,
            max_generations: 10_000,
            max_evaluations: None,
            target_cost: None,
            tol_x: 1e-11,
            tol_fun: 1e-12,
            max_condition: 1e14,
            early_stop: None,
            bounds: BoundsHandling::default(),
            restarts: None,
            eigen_every: None,
            seed: 0,
        }
    }
}

/// θ indices of the pMFM's coefficient groups (`pmfm-model.md`, "Parameters").
const KONG_W: std::ops::Range<usize> = 0..3;
const KONG_I: std::ops::Range<usize> = 3..6;
const KONG_G: usize = 6;
const KONG_S: std::ops::Range<usize> = 7..10;

impl CmaConfig {
    /// Textbook defaults around `start` with step size `sigma0`.
    pub fn new(start: Vec<f64>, sigma0: f64) -> Self {
        Self {
            start,
            sigma0,
            ..Self::default()
        }
    }

    /// The reference pMFM fit (`pmfm-model.md`, "Reference fitting procedure"): λ = 500,
    /// μ = 40, σ₀ = 0.15 capped at 0.15 every generation, initial per-coordinate scale
    /// `|w₀|/2` for the three w coefficients and `|I₀|/2` for the three I coefficients (the
    /// starting intercepts), 0.4 for G and 0.0005 for the three σ coefficients, infeasible
    /// offspring re-drawn, 500 generations, early stop when the best cost is < 0.3 with
    /// ‖p_σ‖ < 11 in 5 generations (counted as the reference does) or σ < 0.001. The reference's
    /// run has no tolX/tolFun rule, so both are off. `start` is the 10-entry θ
    /// `[w0, w_m, w_g, I0, I_m, I_g, G, s0, s_m, s_g]`; a start of another length fails
    /// [`check`](Self::check).
    pub fn kong2021(start: &[f64]) -> Self {
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
        Self {
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

    /// Problem dimension n.
    pub fn dim(&self) -> usize {
        self.start.len()
    }

    /// λ of the first run.
    pub fn lambda(&self) -> usize {
        self.population
            .unwrap_or_else(|| 4 + (3.0 * (self.dim().max(1) as f64).ln()).floor() as usize)
    }

    /// μ of the first run.
    pub fn mu(&self) -> usize {
        self.parents.unwrap_or(self.lambda() / 2)
    }

    /// (λ, μ) of restart `r` (IPOP population growth; μ keeps its ratio to λ).
    pub fn population_for_restart(&self, r: usize) -> (usize, usize) {
        let (l0, m0) = (self.lambda(), self.mu());
        if r == 0 {
            return (l0, m0);
        }
        let factor = self
            .restarts
            .as_ref()
            .map_or(1.0, |ipop| ipop.population_factor);
        let lambda = ((l0 as f64) * factor.powi(r as i32)).round().max(2.0) as usize;
        let mu = match self.parents {
            Some(_) => ((m0 as f64) * lambda as f64 / l0 as f64).round() as usize,
            None => lambda / 2,
        };
        (lambda, mu.clamp(1, lambda))
    }

    fn scale_vector(&self) -> Vec<f64> {
        self.initial_scale
            .clone()
            .unwrap_or_else(|| vec![1.0; self.dim()])
    }

    /// Checks every value once, so the solver can trust its inputs.
    pub fn check(&self) -> Result<(), OptimizeError> {
        let n = self.dim();
        if n == 0 {
            return Err(OptimizeError::config(
                "start",
                "must have at least one coordinate",
            ));
        }
        if self.start.iter().any(|v| !v.is_finite()) {
            return Err(OptimizeError::config("start", "must be finite"));
        }
        if !(self.sigma0 > 0.0 && self.sigma0.is_finite()) {
            return Err(OptimizeError::config(
                "sigma0",
                format!("must be positive and finite, got {}", self.sigma0),
            ));
        }
        if let Some(scale) = &self.initial_scale {
            if scale.len() != n {
                return Err(OptimizeError::DimensionMismatch {
                    what: "initial_scale".into(),
                    expected: n,
                    got: scale.len(),
                });
            }
            if let Some(i) = scale.iter().position(|s| !(*s > 0.0 && s.is_finite())) {
                return Err(OptimizeError::config(
                    "initial_scale",
                    format!("entry {i} must be positive and finite, got {}", scale[i]),
                ));
            }
        }
        let lambda = self.lambda();
        if lambda < 2 {
            return Err(OptimizeError::config(
                "population",
                format!("must be ≥ 2, got {lambda}"),
            ));
        }
        let mu = self.mu();
        if mu < 1 || mu > lambda {
            return Err(OptimizeError::config(
                "parents",
                format!("must be in 1..=λ = {lambda}, got {mu}"),
            ));
        }
        if let Some(s) = self.sigma_max {
            if !(s > 0.0) {
                return Err(OptimizeError::config(
                    "sigma_max",
                    format!("must be positive, got {s}"),
                ));
            }
        }
        if let Some(s) = self.sigma_min {
            if !(s >= 0.0 && s.is_finite()) {
                return Err(OptimizeError::config(
                    "sigma_min",
                    format!("must be ≥ 0 and finite, got {s}"),
                ));
            }
        }
        if self.max_generations == 0 {
            return Err(OptimizeError::config("max_generations", "must be ≥ 1"));
        }
        if self.max_evaluations == Some(0) {
            return Err(OptimizeError::config("max_evaluations", "must be ≥ 1"));
        }
        if let Some(t) = self.target_cost {
            if t.is_nan() {
                return Err(OptimizeError::config("target_cost", "must not be NaN"));
            }
        }
        if !(self.tol_x >= 0.0) || !(self.tol_fun >= 0.0) {
            return Err(OptimizeError::config("tol_x/tol_fun", "must be ≥ 0"));
        }
        if !(self.max_condition > 1.0) {
            return Err(OptimizeError::config("max_condition", "must be > 1"));
        }
        if let Some(e) = &self.early_stop {
            if e.generations == 0 || e.cost_below.is_nan() || e.ps_norm_below.is_nan() {
                return Err(OptimizeError::config(
                    "early_stop",
                    "needs generations ≥ 1 and non-NaN thresholds",
                ));
            }
        }
        match &self.bounds {
            BoundsHandling::Resample { max_tries } if *max_tries == 0 => {
                return Err(OptimizeError::config("bounds.max_tries", "must be ≥ 1"))
            }
            BoundsHandling::Penalty { weight } if !(*weight > 0.0 && weight.is_finite()) => {
                return Err(OptimizeError::config(
                    "bounds.weight",
                    "must be positive and finite",
                ))
            }
            _ => {}
        }
        if let Some(ipop) = &self.restarts {
            if !(ipop.population_factor >= 1.0 && ipop.population_factor.is_finite()) {
                return Err(OptimizeError::config(
                    "restarts.population_factor",
                    "must be ≥ 1",
                ));
            }
            if let Some(b) = &ipop.start_box {
                if b.lower.len() != n || b.upper.len() != n {
                    return Err(OptimizeError::DimensionMismatch {
                        what: "restarts.start_box".into(),
                        expected: n,
                        got: b.lower.len().min(b.upper.len()),
                    });
                }
                if b.lower
                    .iter()
                    .zip(&b.upper)
                    .any(|(l, u)| !(l < u) || !l.is_finite() || !u.is_finite())
                {
                    return Err(OptimizeError::config(
                        "restarts.start_box",
                        "needs finite lower < upper",
                    ));
                }
            }
        }
        if self.eigen_every == Some(0) {
            return Err(OptimizeError::config("eigen_every", "must be ≥ 1"));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Strategy parameters and the bare ask/tell strategy
// ---------------------------------------------------------------------------------------------

/// Constants derived from (n, λ, μ): Hansen (2016), Table 1, with the rank-μ learning rate
/// `c_μ = min(1 − c₁, 2(μ_eff − 2 + 1/μ_eff)/((n + 2)² + μ_eff))` of the reference code.
#[derive(Clone, Debug, PartialEq)]
pub struct StrategyParams {
    pub dim: usize,
    pub lambda: usize,
    pub mu: usize,
    /// Recombination weights, length μ, sum 1.
    pub weights: Vec<f64>,
    pub mu_eff: f64,
    pub c_sigma: f64,
    pub d_sigma: f64,
    pub c_c: f64,
    pub c_1: f64,
    pub c_mu: f64,
    /// E‖N(0, I)‖ ≈ √n (1 − 1/(4n) + 1/(21n²)).
    pub chi_n: f64,
    /// Generations between eigendecompositions.
    pub eigen_every: usize,
}

impl StrategyParams {
    pub fn new(dim: usize, lambda: usize, mu: usize, eigen_every: Option<usize>) -> Self {
        let n = dim as f64;
        let raw: Vec<f64> = (1..=mu)
            .map(|k| (mu as f64 + 0.5).ln() - (k as f64).ln())
            .collect();
        let total: f64 = raw.iter().sum();
        let weights: Vec<f64> = raw.iter().map(|w| w / total).collect();
        let mu_eff = 1.0 / weights.iter().map(|w| w * w).sum::<f64>();
        let c_sigma = (mu_eff + 2.0) / (n + mu_eff + 5.0);
        let d_sigma = 1.0 + 2.0 * (((mu_eff - 1.0) / (n + 1.0)).sqrt() - 1.0).max(0.0) + c_sigma;
        let c_c = (4.0 + mu_eff / n) / (n + 4.0 + 2.0 * mu_eff / n);
        let c_1 = 2.0 / ((n + 1.3).powi(2) + mu_eff);
        let c_mu =
            (1.0 - c_1).min(2.0 * (mu_eff - 2.0 + 1.0 / mu_eff) / ((n + 2.0).powi(2) + mu_eff));
        let chi_n = n.sqrt() * (1.0 - 1.0 / (4.0 * n) + 1.0 / (21.0 * n * n));
        let lazy = (1.0 / ((c_1 + c_mu) * n * 10.0)).ceil().max(1.0) as usize;
        Self {
            dim,
            lambda,
            mu,
            weights,
            mu_eff,
            c_sigma,
            d_sigma,
            c_c,
            c_1,
            c_mu,
            chi_n,
            eigen_every: eigen_every.unwrap_or(lazy),
        }
    }
}

/// Position of a `ChaCha8Rng` stream: seed, stream and word position restore it exactly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// The 32-byte seed, hex.
    pub seed: String,
    pub stream: u64,
    /// Word position in the stream (u128, decimal).
    pub word_pos: String,
}

impl RngState {
    pub fn capture(rng: &ChaCha8Rng) -> Self {
        Self {
            seed: rng.get_seed().iter().map(|b| format!("{b:02x}")).collect(),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos().to_string(),
        }
    }

    pub fn restore(&self) -> Result<ChaCha8Rng, String> {
        if self.seed.len() != 64 {
            return Err(format!(
                "rng seed must be 64 hex digits, got {}",
                self.seed.len()
            ));
        }
        let mut seed = [0u8; 32];
        for (i, b) in seed.iter_mut().enumerate() {
            *b = u8::from_str_radix(&self.seed[2 * i..2 * i + 2], 16)
                .map_err(|e| format!("rng seed: {e}"))?;
        }
        let word_pos: u128 = self
            .word_pos
            .parse()
            .map_err(|e| format!("rng word_pos: {e}"))?;
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(word_pos);
        Ok(rng)
    }
}

/// The complete state of a [`CmaEs`], exactly serialisable (floats as exact strings).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CmaState {
    pub dim: usize,
    pub lambda: usize,
    pub mu: usize,
    pub eigen_every: usize,
    #[serde(with = "exact::vector")]
    pub mean: Vec<f64>,
    #[serde(with = "exact::scalar")]
    pub sigma: f64,
    #[serde(with = "exact::option")]
    pub sigma_max: Option<f64>,
    /// C, rows.
    #[serde(with = "exact::matrix")]
    pub cov: Vec<Vec<f64>>,
    /// Eigenvectors of C (columns of B), rows of B.
    #[serde(with = "exact::matrix")]
    pub b: Vec<Vec<f64>>,
    /// Square roots of C's eigenvalues.
    #[serde(with = "exact::vector")]
    pub d: Vec<f64>,
    #[serde(with = "exact::vector")]
    pub pc: Vec<f64>,
    #[serde(with = "exact::vector")]
    pub ps: Vec<f64>,
    /// Completed generations (tells).
    pub generation: usize,
    /// Generation of the last eigendecomposition.
    pub last_eigen: usize,
    pub rng: RngState,
    /// Offspring asked for but not yet told.
    #[serde(with = "exact::option_matrix")]
    pub pending: Option<Vec<Vec<f64>>>,
}

/// The bare (μ/μ_w, λ)-CMA-ES: [`ask`](Self::ask) for a population, evaluate it however you
/// like, [`tell`](Self::tell) its costs.
///
/// ```
/// use optimize::cma::{CmaConfig, CmaEs};
/// let mut es = CmaEs::from_config(&CmaConfig::new(vec![1.0; 4], 0.5)).unwrap();
/// for _ in 0..200 {
///     let xs = es.ask();
///     let costs: Vec<f64> = xs.iter().map(|x| x.iter().map(|v| v * v).sum()).collect();
///     es.tell(&costs).unwrap();
/// }
/// assert!(es.mean().iter().all(|v| v.abs() < 1e-6));
/// ```
#[derive(Clone, Debug)]
pub struct CmaEs {
    params: StrategyParams,
    mean: DVector<f64>,
    sigma: f64,
    sigma_max: Option<f64>,
    cov: DMatrix<f64>,
    b: DMatrix<f64>,
    d: DVector<f64>,
    pc: DVector<f64>,
    ps: DVector<f64>,
    generation: usize,
    last_eigen: usize,
    rng: ChaCha8Rng,
    pending: Option<Vec<Vec<f64>>>,
}

impl CmaEs {
    /// The first run of `config` (λ, μ, σ₀, scale, seed from the config).
    pub fn from_config(config: &CmaConfig) -> Result<Self, OptimizeError> {
        config.check()?;
        let (lambda, mu) = config.population_for_restart(0);
        Self::new(
            StrategyParams::new(config.dim(), lambda, mu, config.eigen_every),
            config.start.clone(),
            config.sigma0,
            &config.scale_vector(),
            config.sigma_max,
            ChaCha8Rng::seed_from_u64(config.seed),
        )
    }

    /// A fresh strategy at `mean` with `C = diag(scale²)` and step size `sigma0` (capped at
    /// `sigma_max`).
    pub fn new(
        params: StrategyParams,
        mean: Vec<f64>,
        sigma0: f64,
        scale: &[f64],
        sigma_max: Option<f64>,
        rng: ChaCha8Rng,
    ) -> Result<Self, OptimizeError> {
        let n = params.dim;
        for (what, len) in [("mean", mean.len()), ("scale", scale.len())] {
            if len != n {
                return Err(OptimizeError::DimensionMismatch {
                    what: what.into(),
                    expected: n,
                    got: len,
                });
            }
        }
        if params.lambda < 2 || params.mu == 0 || params.mu > params.lambda {
            return Err(OptimizeError::config(
                "population",
                format!(
                    "need λ ≥ 2 and 1 ≤ μ ≤ λ, got λ = {}, μ = {}",
                    params.lambda, params.mu
                ),
            ));
        }
        let d = DVector::from_column_slice(scale);
        let cov = DMatrix::from_diagonal(&d.component_mul(&d));
        let sigma = sigma_max.map_or(sigma0, |cap| sigma0.min(cap));
        Ok(Self {
            params,
            mean: DVector::from_vec(mean),
            sigma,
            sigma_max,
            cov,
            b: DMatrix::identity(n, n),
            d,
            pc: DVector::zeros(n),
            ps: DVector::zeros(n),
            generation: 0,
            last_eigen: 0,
            rng,
            pending: None,
        })
    }

    /// Draws λ offspring `m + σ B (D ∘ z)`. Asking again before telling replaces them.
    pub fn ask(&mut self) -> Vec<Vec<f64>> {
        let xs: Vec<Vec<f64>> = (0..self.params.lambda).map(|_| self.sample()).collect();
        self.pending = Some(xs.clone());
        xs
    }

    /// Draws λ offspring, re-drawing each one until `is_feasible` accepts it (at most
    /// `max_tries` draws per offspring). Returns the offspring and the number of rejected draws.
    pub fn ask_feasible(
        &mut self,
        mut is_feasible: impl FnMut(&[f64]) -> bool,
        max_tries: usize,
    ) -> Result<(Vec<Vec<f64>>, usize), OptimizeError> {
        let mut xs = Vec::with_capacity(self.params.lambda);
        let mut rejected = 0;
        for _ in 0..self.params.lambda {
            let mut tries = 0;
            loop {
                let x = self.sample();
                tries += 1;
                if is_feasible(&x) {
                    xs.push(x);
                    break;
                }
                rejected += 1;
                if tries >= max_tries {
                    self.pending = None;
                    return Err(OptimizeError::ResampleExhausted { tries });
                }
            }
        }
        self.pending = Some(xs.clone());
        Ok((xs, rejected))
    }

    fn sample(&mut self) -> Vec<f64> {
        let n = self.params.dim;
        let z =
            DVector::from_iterator(n, (0..n).map(|_| self.rng.sample::<f64, _>(StandardNormal)));
        let y = &self.b * z.component_mul(&self.d);
        (&self.mean + y * self.sigma).as_slice().to_vec()
    }

    /// Updates the distribution from the costs of the last [`ask`](Self::ask)ed offspring (same
    /// order; lower is better, NaN ranks last, ties keep the drawing order).
    pub fn tell(&mut self, costs: &[f64]) -> Result<(), OptimizeError> {
        let xs = self
            .pending
            .take()
            .ok_or_else(|| OptimizeError::AskTell("tell without a pending ask".into()))?;
        if costs.len() != xs.len() {
            let msg = format!("{} costs for {} offspring", costs.len(), xs.len());
            self.pending = Some(xs);
            return Err(OptimizeError::AskTell(msg));
        }
        let p = &self.params;
        let n = p.dim;
        let order = ranking(costs);
        let old = self.mean.clone();
        let sigma = self.sigma;

        let parents: Vec<DVector<f64>> = order[..p.mu]
            .iter()
            .map(|&k| DVector::from_column_slice(&xs[k]))
            .collect();
        let mut mean = DVector::zeros(n);
        for (w, x) in p.weights.iter().zip(&parents) {
            mean.axpy(*w, x, 1.0);
        }
        let y_w = (&mean - &old) / sigma;

        // C^{-1/2} ȳ = B D⁻¹ Bᵀ ȳ, with the current decomposition.
        let c_inv_sqrt_y = &self.b * self.b.tr_mul(&y_w).component_div(&self.d);
        let cs = p.c_sigma;
        self.ps = &self.ps * (1.0 - cs) + c_inv_sqrt_y * (cs * (2.0 - cs) * p.mu_eff).sqrt();
        self.generation += 1;
        let ps_norm = self.ps.norm();
        let h_sigma =
            ps_norm / (1.0 - (1.0 - cs).powi(2 * self.generation as i32)).sqrt() / p.chi_n
                < 1.4 + 2.0 / (n as f64 + 1.0);
        let h = if h_sigma { 1.0 } else { 0.0 };
        let cc = p.c_c;
        self.pc = &self.pc * (1.0 - cc) + &y_w * (h * (cc * (2.0 - cc) * p.mu_eff).sqrt());

        let delta = (1.0 - h) * cc * (2.0 - cc);
        let mut cov = &self.cov * (1.0 - p.c_1 - p.c_mu + p.c_1 * delta);
        cov.ger(p.c_1, &self.pc, &self.pc, 1.0);
        for (w, x) in p.weights.iter().zip(&parents) {
            let y = (x - &old) / sigma;
            cov.ger(p.c_mu * w, &y, &y, 1.0);
        }
        self.cov = cov;
        self.mean = mean;

        self.sigma *= ((cs / p.d_sigma) * (ps_norm / p.chi_n - 1.0)).exp();
        if let Some(cap) = self.sigma_max {
            self.sigma = self.sigma.min(cap);
        }
        if !self.sigma.is_finite() || self.sigma <= 0.0 {
            return Err(OptimizeError::Numerical(format!(
                "step size became {}",
                self.sigma
            )));
        }
        if self.generation - self.last_eigen >= self.params.eigen_every {
            self.decompose()?;
        }
        Ok(())
    }

    /// `C = B D² Bᵀ` from the upper triangle of C (as the reference symmetrises it).
    fn decompose(&mut self) -> Result<(), OptimizeError> {
        let n = self.params.dim;
        for i in 0..n {
            for j in 0..i {
                self.cov[(i, j)] = self.cov[(j, i)];
            }
        }
        if self.cov.iter().any(|v| !v.is_finite()) {
            return Err(OptimizeError::Numerical(
                "covariance matrix is not finite".into(),
            ));
        }
        let eig = SymmetricEigen::new(self.cov.clone());
        if let Some(v) = eig
            .eigenvalues
            .iter()
            .find(|v| !(**v > 0.0) || !v.is_finite())
        {
            return Err(OptimizeError::Numerical(format!(
                "covariance matrix is not positive definite (eigenvalue {v:e})"
            )));
        }
        self.d = eig.eigenvalues.map(f64::sqrt);
        self.b = eig.eigenvectors;
        self.last_eigen = self.generation;
        Ok(())
    }

    pub fn params(&self) -> &StrategyParams {
        &self.params
    }
    pub fn mean(&self) -> &[f64] {
        self.mean.as_slice()
    }
    pub fn sigma(&self) -> f64 {
        self.sigma
    }
    /// Completed generations (tells).
    pub fn generation(&self) -> usize {
        self.generation
    }
    pub fn ps_norm(&self) -> f64 {
        self.ps.norm()
    }
    /// max(D)/min(D): square root of C's condition number.
    pub fn axis_ratio(&self) -> f64 {
        self.d.max() / self.d.min()
    }
    /// Per-coordinate standard deviations σ·√Cᵢᵢ.
    pub fn std_devs(&self) -> Vec<f64> {
        (0..self.params.dim)
            .map(|i| self.sigma * self.cov[(i, i)].sqrt())
            .collect()
    }
    /// The covariance matrix C (without σ²), rows.
    pub fn covariance(&self) -> Vec<Vec<f64>> {
        rows(&self.cov)
    }
    pub fn pc(&self) -> &[f64] {
        self.pc.as_slice()
    }
    /// The offspring of the last ask, when not yet told.
    pub fn pending(&self) -> Option<&[Vec<f64>]> {
        self.pending.as_deref()
    }

    pub(crate) fn rng_mut(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// The complete state, for checkpoints.
    pub fn state(&self) -> CmaState {
        CmaState {
            dim: self.params.dim,
            lambda: self.params.lambda,
            mu: self.params.mu,
            eigen_every: self.params.eigen_every,
            mean: self.mean.as_slice().to_vec(),
            sigma: self.sigma,
            sigma_max: self.sigma_max,
            cov: rows(&self.cov),
            b: rows(&self.b),
            d: self.d.as_slice().to_vec(),
            pc: self.pc.as_slice().to_vec(),
            ps: self.ps.as_slice().to_vec(),
            generation: self.generation,
            last_eigen: self.last_eigen,
            rng: RngState::capture(&self.rng),
            pending: self.pending.clone(),
        }
    }

    /// Rebuilds the strategy from [`state`](Self::state).
    pub fn from_state(s: &CmaState) -> Result<Self, OptimizeError> {
        let bad = |m: String| OptimizeError::Checkpoint {
            path: PathBuf::new(),
            message: m,
        };
        let n = s.dim;
        if n == 0 || s.lambda < 2 || s.mu == 0 || s.mu > s.lambda || s.eigen_every == 0 {
            return Err(bad(format!(
                "inconsistent sizes: n = {n}, λ = {}, μ = {}, eigen_every = {}",
                s.lambda, s.mu, s.eigen_every
            )));
        }
        let vec_ok = |v: &Vec<f64>| v.len() == n;
        let mat_ok = |m: &Vec<Vec<f64>>| m.len() == n && m.iter().all(|r| r.len() == n);
        if !(vec_ok(&s.mean)
            && vec_ok(&s.d)
            && vec_ok(&s.pc)
            && vec_ok(&s.ps)
            && mat_ok(&s.cov)
            && mat_ok(&s.b))
        {
            return Err(bad(format!(
                "state vectors/matrices do not all have dimension {n}"
            )));
        }
        if let Some(p) = &s.pending {
            if p.len() != s.lambda || p.iter().any(|x| x.len() != n) {
                return Err(bad("pending offspring have the wrong shape".into()));
            }
        }
        let rng = s.rng.restore().map_err(bad)?;
        Ok(Self {
            params: StrategyParams::new(n, s.lambda, s.mu, Some(s.eigen_every)),
            mean: DVector::from_column_slice(&s.mean),
            sigma: s.sigma,
            sigma_max: s.sigma_max,
            cov: from_rows(&s.cov),
            b: from_rows(&s.b),
            d: DVector::from_column_slice(&s.d),
            pc: DVector::from_column_slice(&s.pc),
            ps: DVector::from_column_slice(&s.ps),
            generation: s.generation,
            last_eigen: s.last_eigen,
            rng,
            pending: s.pending.clone(),
        })
    }
}

/// Indices sorted by cost, NaN last, stable.
fn ranking(costs: &[f64]) -> Vec<usize> {
    let key = |c: f64| if c.is_nan() { f64::INFINITY } else { c };
    let mut idx: Vec<usize> = (0..costs.len()).collect();
    idx.sort_by(|&a, &b| key(costs[a]).total_cmp(&key(costs[b])));
    idx
}

fn rows(m: &DMatrix<f64>) -> Vec<Vec<f64>> {
    (0..m.nrows())
        .map(|i| (0..m.ncols()).map(|j| m[(i, j)]).collect())
        .collect()
}

fn from_rows(r: &[Vec<f64>]) -> DMatrix<f64> {
    let n = r.len();
    DMatrix::from_fn(n, n, |i, j| r[i][j])
}

// ---------------------------------------------------------------------------------------------
// The driver: stopping rules, restarts, observers, checkpoints
// ---------------------------------------------------------------------------------------------

/// Why a run (or one restart of it) stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// A valid cost ≤ `target_cost` was found.
    TargetCost,
    /// `max_evaluations` objective evaluations were spent.
    MaxEvaluations,
    /// The reference's early stop ([`EarlyStop`]).
    ReferenceEarlyStop,
    /// An offspring stayed infeasible for `max_tries` draws.
    ResampleExhausted,
    /// `max_generations` generations in this run.
    MaxGenerations,
    /// σ < `sigma_min`.
    SigmaBelowMin,
    /// All coordinates' spread below `tol_x`.
    TolX,
    /// Costs flat within `tol_fun`.
    TolFun,
    /// C's condition number above `max_condition`.
    ConditionNumber,
    /// Adding 0.2 standard deviations no longer changes a coordinate of the mean.
    NoEffect,
    /// No improvement of best and median costs for many generations (`cmaes` crate only).
    Stagnation,
    /// σ or C became non-finite or not positive definite.
    Numerical,
}

impl StopReason {
    /// True for reasons that end the whole run; the others end one restart (IPOP restarts if
    /// restarts remain).
    pub fn ends_run(self) -> bool {
        matches!(
            self,
            Self::TargetCost
                | Self::MaxEvaluations
                | Self::ReferenceEarlyStop
                | Self::ResampleExhausted
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TargetCost => "target_cost",
            Self::MaxEvaluations => "max_evaluations",
            Self::ReferenceEarlyStop => "reference_early_stop",
            Self::ResampleExhausted => "resample_exhausted",
            Self::MaxGenerations => "max_generations",
            Self::SigmaBelowMin => "sigma_below_min",
            Self::TolX => "tol_x",
            Self::TolFun => "tol_fun",
            Self::ConditionNumber => "condition_number",
            Self::NoEffect => "no_effect",
            Self::Stagnation => "stagnation",
            Self::Numerical => "numerical",
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One run between restarts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestartSummary {
    pub restart: usize,
    pub population: usize,
    pub parents: usize,
    pub generations: usize,
    /// Cumulative evaluations when this run stopped.
    pub evaluations: usize,
    /// Lowest valid cost found in this run.
    #[serde(with = "exact::scalar")]
    pub best_cost: f64,
    pub reason: StopReason,
}

/// Outcome of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CmaResult {
    /// Best valid point seen (the start when none was valid).
    #[serde(with = "exact::vector")]
    pub best_x: Vec<f64>,
    /// Its cost (∞ when no valid point was seen).
    #[serde(with = "exact::scalar")]
    pub best_cost: f64,
    #[serde(with = "exact::parts")]
    pub best_parts: Vec<(String, f64)>,
    /// Generations over all restarts.
    pub generations: usize,
    /// Points evaluated by the objective.
    pub evaluations: usize,
    /// Euler simulations spent.
    pub simulations: usize,
    pub stop_reason: StopReason,
    pub restarts: Vec<RestartSummary>,
    /// One report per generation.
    pub history: Vec<GenerationReport>,
    #[serde(with = "exact::vector")]
    pub final_mean: Vec<f64>,
    #[serde(with = "exact::scalar")]
    pub final_sigma: f64,
    #[serde(with = "exact::scalar")]
    pub elapsed_s: f64,
}

/// Everything needed to continue a [`CmaRun`] after a kill, as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CmaCheckpoint {
    pub format: u32,
    pub config: CmaConfig,
    pub es: CmaState,
    pub restart: usize,
    pub generations: usize,
    pub evaluations: usize,
    pub simulations: usize,
    #[serde(with = "exact::vector")]
    pub best_x: Vec<f64>,
    #[serde(with = "exact::scalar")]
    pub best_cost: f64,
    #[serde(with = "exact::parts")]
    pub best_parts: Vec<(String, f64)>,
    #[serde(with = "exact::scalar")]
    pub restart_best: f64,
    #[serde(with = "exact::vector")]
    pub recent_best: Vec<f64>,
    pub early_stop_count: usize,
    pub history: Vec<GenerationReport>,
    pub restarts: Vec<RestartSummary>,
    pub finished: Option<StopReason>,
    #[serde(with = "exact::scalar")]
    pub elapsed_s: f64,
}

const CHECKPOINT_FORMAT: u32 = 1;

impl CmaCheckpoint {
    /// Writes the checkpoint as JSON, atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), OptimizeError> {
        let json = serde_json::to_string(self).map_err(|e| OptimizeError::Checkpoint {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let tmp = PathBuf::from(format!("{}.tmp", path.display()));
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| OptimizeError::Io { path: p, source }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        std::fs::write(&tmp, json).map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))
    }

    pub fn load(path: &Path) -> Result<Self, OptimizeError> {
        let text = std::fs::read_to_string(path).map_err(|source| OptimizeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let ckpt: Self = serde_json::from_str(&text).map_err(|e| OptimizeError::Checkpoint {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if ckpt.format != CHECKPOINT_FORMAT {
            return Err(OptimizeError::Checkpoint {
                path: path.to_path_buf(),
                message: format!("format {} (expected {CHECKPOINT_FORMAT})", ckpt.format),
            });
        }
        Ok(ckpt)
    }

    /// Whether this checkpoint was made with `config` (the config is stored as plain JSON
    /// numbers, so floats are compared as [`surrogate::json::same_settings`] does).
    pub fn matches(&self, config: &CmaConfig) -> bool {
        match (
            serde_json::to_value(&self.config),
            serde_json::to_value(config),
        ) {
            (Ok(a), Ok(b)) => surrogate::json::same_settings(&a, &b),
            _ => false,
        }
    }
}

/// A CMA-ES run over an objective: generation by generation ([`step`](Self::step)), with
/// stopping rules, IPOP restarts, observers and checkpoints.
#[derive(Debug)]
pub struct CmaRun {
    config: CmaConfig,
    es: CmaEs,
    restart: usize,
    generations: usize,
    evaluations: usize,
    simulations: usize,
    best_x: Vec<f64>,
    best_cost: f64,
    best_parts: Vec<(String, f64)>,
    restart_best: f64,
    recent_best: VecDeque<f64>,
    early_stop_count: usize,
    history: Vec<GenerationReport>,
    restarts: Vec<RestartSummary>,
    finished: Option<StopReason>,
    elapsed_before: f64,
    started: Instant,
}

impl CmaRun {
    /// A fresh run; checks the config.
    pub fn new(config: CmaConfig) -> Result<Self, OptimizeError> {
        let es = CmaEs::from_config(&config)?;
        Ok(Self {
            best_x: config.start.clone(),
            config,
            es,
            restart: 0,
            generations: 0,
            evaluations: 0,
            simulations: 0,
            best_cost: f64::INFINITY,
            best_parts: Vec::new(),
            restart_best: f64::INFINITY,
            recent_best: VecDeque::new(),
            early_stop_count: 0,
            history: Vec::new(),
            restarts: Vec::new(),
            finished: None,
            elapsed_before: 0.0,
            started: Instant::now(),
        })
    }

    /// Continues from a checkpoint, with the config stored in it.
    pub fn resume(checkpoint: CmaCheckpoint) -> Result<Self, OptimizeError> {
        let config = checkpoint.config.clone();
        Self::resume_with_config(checkpoint, config)
    }

    /// Continues from a checkpoint with `config` (which must [match](CmaCheckpoint::matches)
    /// it; the caller's copy keeps every float's exact bits).
    pub fn resume_with_config(c: CmaCheckpoint, config: CmaConfig) -> Result<Self, OptimizeError> {
        config.check()?;
        if !c.matches(&config) {
            return Err(OptimizeError::Checkpoint {
                path: PathBuf::new(),
                message: "checkpoint was made with a different configuration".into(),
            });
        }
        let es = CmaEs::from_state(&c.es)?;
        if es.params.dim != config.dim() {
            return Err(OptimizeError::DimensionMismatch {
                what: "checkpoint state".into(),
                expected: config.dim(),
                got: es.params.dim,
            });
        }
        Ok(Self {
            config,
            es,
            restart: c.restart,
            generations: c.generations,
            evaluations: c.evaluations,
            simulations: c.simulations,
            best_x: c.best_x,
            best_cost: c.best_cost,
            best_parts: c.best_parts,
            restart_best: c.restart_best,
            recent_best: c.recent_best.into(),
            early_stop_count: c.early_stop_count,
            history: c.history,
            restarts: c.restarts,
            finished: c.finished,
            elapsed_before: c.elapsed_s,
            started: Instant::now(),
        })
    }

    /// The run's state between generations.
    pub fn checkpoint(&self) -> CmaCheckpoint {
        CmaCheckpoint {
            format: CHECKPOINT_FORMAT,
            config: self.config.clone(),
            es: self.es.state(),
            restart: self.restart,
            generations: self.generations,
            evaluations: self.evaluations,
            simulations: self.simulations,
            best_x: self.best_x.clone(),
            best_cost: self.best_cost,
            best_parts: self.best_parts.clone(),
            restart_best: self.restart_best,
            recent_best: self.recent_best.iter().copied().collect(),
            early_stop_count: self.early_stop_count,
            history: self.history.clone(),
            restarts: self.restarts.clone(),
            finished: self.finished,
            elapsed_s: self.elapsed_s(),
        }
    }

    pub fn config(&self) -> &CmaConfig {
        &self.config
    }
    pub fn strategy(&self) -> &CmaEs {
        &self.es
    }
    pub fn generations(&self) -> usize {
        self.generations
    }
    pub fn evaluations(&self) -> usize {
        self.evaluations
    }
    pub fn best(&self) -> (&[f64], f64) {
        (&self.best_x, self.best_cost)
    }
    pub fn history(&self) -> &[GenerationReport] {
        &self.history
    }
    pub fn finished(&self) -> Option<StopReason> {
        self.finished
    }

    fn elapsed_s(&self) -> f64 {
        self.elapsed_before + self.started.elapsed().as_secs_f64()
    }

    /// One generation: draw λ offspring, evaluate the feasible ones as ONE call of
    /// [`Objective::cost`], update, report, check the stopping rules (restarting when IPOP
    /// allows). Returns the reason once the whole run has stopped.
    pub fn step<O: Objective + ?Sized>(
        &mut self,
        objective: &mut O,
        observers: &mut [&mut dyn Observer],
    ) -> Result<Option<StopReason>, OptimizeError> {
        if let Some(reason) = self.finished {
            return Ok(Some(reason));
        }
        if objective.dim() != self.config.dim() {
            return Err(OptimizeError::DimensionMismatch {
                what: format!("objective '{}' vs start", objective.name()),
                expected: self.config.dim(),
                got: objective.dim(),
            });
        }

        // 1. Offspring.
        let (xs, mut rejected) = match self.config.bounds {
            BoundsHandling::Resample { max_tries } => {
                match self
                    .es
                    .ask_feasible(|x| objective.is_feasible(x), max_tries)
                {
                    Ok(v) => v,
                    Err(OptimizeError::ResampleExhausted { .. }) => {
                        return Ok(Some(self.finish(StopReason::ResampleExhausted)));
                    }
                    Err(e) => return Err(e),
                }
            }
            BoundsHandling::Penalty { .. } => (self.es.ask(), 0),
        };
        let lambda = xs.len();
        let evaluate: Vec<bool> = match self.config.bounds {
            BoundsHandling::Resample { .. } => vec![true; lambda],
            BoundsHandling::Penalty { .. } => xs.iter().map(|x| objective.is_feasible(x)).collect(),
        };
        let batch: Vec<Vec<f64>> = xs
            .iter()
            .zip(&evaluate)
            .filter(|(_, e)| **e)
            .map(|(x, _)| x.clone())
            .collect();
        rejected += lambda - batch.len();

        // 2. One batched evaluation.
        let context = BatchContext {
            restart: self.restart,
            generation: self.generations + 1,
            generation_in_restart: self.es.generation() + 1,
            evaluations_before: self.evaluations,
            elapsed_s: self.elapsed_s(),
        };
        let evals: Vec<Evaluation> = if batch.is_empty() {
            Vec::new()
        } else {
            evaluate_batch(objective, &batch)?
        };
        self.evaluations += batch.len();
        self.simulations += evals.iter().map(|e| e.simulations).sum::<usize>();
        for o in observers.iter_mut() {
            o.on_evaluations(&context, &batch, &evals)?;
        }

        // 3. Costs for the ranking (penalised infeasible offspring rank behind every feasible one).
        let worst = evals
            .iter()
            .map(|e| e.cost)
            .filter(|c| c.is_finite())
            .fold(f64::NEG_INFINITY, f64::max);
        let worst = if worst.is_finite() { worst } else { 0.0 };
        let mut costs = Vec::with_capacity(lambda);
        let mut next_eval = evals.iter();
        for (x, e) in xs.iter().zip(&evaluate) {
            if *e {
                costs.push(next_eval.next().map_or(f64::NAN, |ev| ev.cost));
            } else if let BoundsHandling::Penalty { weight } = self.config.bounds {
                let v = objective.constraint_violation(x);
                costs.push(worst + weight * if v > 0.0 { v } else { 1.0 });
            }
        }

        // 4. Bests.
        let gen_best = evals
            .iter()
            .enumerate()
            .min_by(|a, b| nan_last(a.1.cost).total_cmp(&nan_last(b.1.cost)))
            .map(|(i, _)| i);
        for (x, e) in batch.iter().zip(&evals) {
            if e.valid && e.cost < self.best_cost {
                self.best_cost = e.cost;
                self.best_x = x.clone();
                self.best_parts = e.parts.clone();
            }
            if e.valid && e.cost < self.restart_best {
                self.restart_best = e.cost;
            }
        }

        // 5. Update.
        let numerical = match self.es.tell(&costs) {
            Ok(()) => false,
            Err(OptimizeError::Numerical(_)) => true,
            Err(e) => return Err(e),
        };
        self.generations += 1;

        // 6. Report.
        let (best_cost, best_x, best_parts) = match gen_best {
            Some(i) => (evals[i].cost, batch[i].clone(), evals[i].parts.clone()),
            None => (f64::INFINITY, Vec::new(), Vec::new()),
        };
        let mut sorted: Vec<f64> = evals.iter().map(|e| nan_last(e.cost)).collect();
        sorted.sort_by(f64::total_cmp);
        let median_cost = match sorted.len() {
            0 => f64::NAN,
            m if m % 2 == 1 => sorted[m / 2],
            m => 0.5 * (sorted[m / 2 - 1] + sorted[m / 2]),
        };
        let std_devs = self.es.std_devs();
        let report = GenerationReport {
            restart: self.restart,
            generation: self.generations,
            generation_in_restart: self.es.generation(),
            population: lambda,
            evaluations: self.evaluations,
            simulations: self.simulations,
            rejected,
            best_cost,
            best_x,
            best_parts,
            median_cost,
            best_so_far_cost: self.best_cost,
            mean: self.es.mean().to_vec(),
            step_size: self.es.sigma(),
            diagnostics: vec![
                ("ps_norm".into(), self.es.ps_norm()),
                ("axis_ratio".into(), self.es.axis_ratio()),
                (
                    "min_std".into(),
                    std_devs.iter().copied().fold(f64::INFINITY, f64::min),
                ),
                (
                    "max_std".into(),
                    std_devs.iter().copied().fold(0.0, f64::max),
                ),
            ],
            elapsed_s: self.elapsed_s(),
        };
        for o in observers.iter_mut() {
            o.on_generation(&report)?;
        }
        self.history.push(report);

        // 7. Stopping rules.
        let stop = if numerical {
            Some(StopReason::Numerical)
        } else {
            self.check_stop(best_cost, &costs)
        };
        match stop {
            None => Ok(None),
            Some(reason) if reason.ends_run() => Ok(Some(self.finish(reason))),
            Some(reason) => {
                let restarts_left = self
                    .config
                    .restarts
                    .as_ref()
                    .is_some_and(|ipop| self.restart < ipop.max_restarts);
                if restarts_left {
                    self.start_restart(reason, objective)?;
                    Ok(None)
                } else {
                    Ok(Some(self.finish(reason)))
                }
            }
        }
    }

    fn check_stop(&mut self, gen_best: f64, costs: &[f64]) -> Option<StopReason> {
        let c = &self.config;
        if c.target_cost.is_some_and(|t| self.best_cost <= t) {
            return Some(StopReason::TargetCost);
        }
        if let Some(e) = &c.early_stop {
            if gen_best < e.cost_below && self.es.ps_norm() < e.ps_norm_below {
                self.early_stop_count += 1;
            } else if e.consecutive {
                self.early_stop_count = 0;
            }
            if self.early_stop_count >= e.generations {
                return Some(StopReason::ReferenceEarlyStop);
            }
        }
        if c.max_evaluations.is_some_and(|m| self.evaluations >= m) {
            return Some(StopReason::MaxEvaluations);
        }
        let es = &self.es;
        if c.sigma_min.is_some_and(|s| es.sigma() < s) {
            return Some(StopReason::SigmaBelowMin);
        }
        if c.tol_x > 0.0
            && es.std_devs().iter().all(|s| *s < c.tol_x)
            && es.pc().iter().all(|p| es.sigma() * p.abs() < c.tol_x)
        {
            return Some(StopReason::TolX);
        }
        // tolFun: best costs of the recent generations and all of this one within tol_fun.
        let window = 10 + (30.0 * c.dim() as f64 / es.params().lambda as f64).ceil() as usize;
        if gen_best.is_finite() {
            self.recent_best.push_back(gen_best);
            while self.recent_best.len() > window {
                self.recent_best.pop_front();
            }
        }
        if c.tol_fun > 0.0 && self.recent_best.len() >= window {
            let finite = costs.iter().copied().filter(|v| v.is_finite());
            let all = self.recent_best.iter().copied().chain(finite);
            let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
            if hi - lo < c.tol_fun {
                return Some(StopReason::TolFun);
            }
        }
        if es.axis_ratio().powi(2) > c.max_condition {
            return Some(StopReason::ConditionNumber);
        }
        let m = es.mean();
        if es
            .std_devs()
            .iter()
            .zip(m)
            .any(|(s, mi)| *mi + 0.2 * s == *mi)
        {
            return Some(StopReason::NoEffect);
        }
        if es.generation() >= c.max_generations {
            return Some(StopReason::MaxGenerations);
        }
        None
    }

    fn close_restart(&mut self, reason: StopReason) {
        let p = self.es.params();
        self.restarts.push(RestartSummary {
            restart: self.restart,
            population: p.lambda,
            parents: p.mu,
            generations: self.es.generation(),
            evaluations: self.evaluations,
            best_cost: self.restart_best,
            reason,
        });
    }

    fn finish(&mut self, reason: StopReason) -> StopReason {
        self.close_restart(reason);
        self.finished = Some(reason);
        reason
    }

    fn start_restart<O: Objective + ?Sized>(
        &mut self,
        reason: StopReason,
        objective: &O,
    ) -> Result<(), OptimizeError> {
        self.close_restart(reason);
        self.restart += 1;
        let (lambda, mu) = self.config.population_for_restart(self.restart);
        let max_tries = match self.config.bounds {
            BoundsHandling::Resample { max_tries } => max_tries,
            BoundsHandling::Penalty { .. } => 1000,
        };
        let mut mean = self.config.start.clone();
        if let Some(b) = self
            .config
            .restarts
            .as_ref()
            .and_then(|i| i.start_box.as_ref())
        {
            let rng = self.es.rng_mut();
            for _ in 0..max_tries {
                let x: Vec<f64> = b
                    .lower
                    .iter()
                    .zip(&b.upper)
                    .map(|(l, u)| l + (u - l) * rng.random::<f64>())
                    .collect();
                if objective.is_feasible(&x) {
                    mean = x;
                    break;
                }
            }
        }
        let rng = self.es.rng.clone();
        self.es = CmaEs::new(
            StrategyParams::new(self.config.dim(), lambda, mu, self.config.eigen_every),
            mean,
            self.config.sigma0,
            &self.config.scale_vector(),
            self.config.sigma_max,
            rng,
        )?;
        self.restart_best = f64::INFINITY;
        self.recent_best.clear();
        Ok(())
    }

    /// Runs until a stopping rule ends the run.
    pub fn run<O: Objective + ?Sized>(
        mut self,
        objective: &mut O,
        observers: &mut [&mut dyn Observer],
    ) -> Result<CmaResult, OptimizeError> {
        while self.step(objective, observers)?.is_none() {}
        Ok(self.into_result())
    }

    /// The outcome so far (the stop reason is `MaxGenerations` if the run has not finished).
    pub fn into_result(self) -> CmaResult {
        let elapsed_s = self.elapsed_s();
        CmaResult {
            best_x: self.best_x,
            best_cost: self.best_cost,
            best_parts: self.best_parts,
            generations: self.generations,
            evaluations: self.evaluations,
            simulations: self.simulations,
            stop_reason: self.finished.unwrap_or(StopReason::MaxGenerations),
            restarts: self.restarts,
            history: self.history,
            final_mean: self.es.mean().to_vec(),
            final_sigma: self.es.sigma(),
            elapsed_s,
        }
    }
}

fn nan_last(c: f64) -> f64 {
    if c.is_nan() {
        f64::INFINITY
    } else {
        c
    }
}

/// Minimises `objective` with CMA-ES, each generation's offspring evaluated as one batch.
pub fn minimize<O: Objective + ?Sized>(
    objective: &mut O,
    config: &CmaConfig,
    observers: &mut [&mut dyn Observer],
) -> Result<CmaResult, OptimizeError> {
    CmaRun::new(config.clone())?.run(objective, observers)
}

/// Where and how often [`minimize_resumable`] checkpoints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointPolicy {
    pub path: PathBuf,
    /// Generations between checkpoints (≥ 1); the final state is always written.
    pub every: usize,
}

/// [`minimize`] that survives a kill: resumes from `policy.path` when a checkpoint made with the
/// same config exists there (an error when it was made with another config), and writes one
/// every `policy.every` generations and at the end. Resuming continues the interrupted run
/// exactly; observers only see the generations run after the resume.
pub fn minimize_resumable<O: Objective + ?Sized>(
    objective: &mut O,
    config: &CmaConfig,
    observers: &mut [&mut dyn Observer],
    policy: &CheckpointPolicy,
) -> Result<CmaResult, OptimizeError> {
    if policy.every == 0 {
        return Err(OptimizeError::config("checkpoint.every", "must be ≥ 1"));
    }
    let mut run = if policy.path.exists() {
        let ckpt = CmaCheckpoint::load(&policy.path)?;
        if !ckpt.matches(config) {
            return Err(OptimizeError::Checkpoint {
                path: policy.path.clone(),
                message: "made with a different configuration; remove it to start afresh".into(),
            });
        }
        CmaRun::resume_with_config(ckpt, config.clone())?
    } else {
        CmaRun::new(config.clone())?
    };
    loop {
        let stop = run.step(objective, observers)?;
        if stop.is_some() || run.generations() % policy.every == 0 {
            run.checkpoint().save(&policy.path)?;
        }
        if stop.is_some() {
            return Ok(run.into_result());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_functions::{BoxConstrained, TestFunction, TestObjective};

    fn sphere_config(dim: usize, seed: u64) -> CmaConfig {
        CmaConfig {
            target_cost: Some(1e-10),
            seed,
            ..CmaConfig::new(vec![2.0; dim], 1.0)
        }
    }

    /// Observer that records what it is shown.
    #[derive(Default)]
    struct Recorder {
        batches: Vec<(BatchContext, usize)>,
        generations: Vec<usize>,
    }

    impl Observer for Recorder {
        fn on_evaluations(
            &mut self,
            ctx: &BatchContext,
            xs: &[Vec<f64>],
            evals: &[Evaluation],
        ) -> Result<(), OptimizeError> {
            assert_eq!(xs.len(), evals.len());
            self.batches.push((ctx.clone(), xs.len()));
            Ok(())
        }
        fn on_generation(&mut self, r: &GenerationReport) -> Result<(), OptimizeError> {
            self.generations.push(r.generation);
            Ok(())
        }
    }

    #[test]
    fn sphere_10d_reaches_optimum_with_one_batch_per_generation() {
        let mut f = TestObjective::new(TestFunction::Sphere, 10);
        let mut rec = Recorder::default();
        let r = minimize(&mut f, &sphere_config(10, 1), &mut [&mut rec]).unwrap();
        assert!(r.best_cost < 1e-8, "{}", r.best_cost);
        assert_eq!(r.stop_reason, StopReason::TargetCost);
        assert!(r.best_x.iter().all(|v| v.abs() < 1e-4));
        assert_eq!(
            f.batches, r.generations,
            "one objective call per generation"
        );
        assert_eq!(f.evaluations, r.evaluations);
        assert_eq!(r.evaluations, 10 * r.generations, "λ = 4 + ⌊3 ln 10⌋ = 10");
        assert_eq!(rec.generations, (1..=r.generations).collect::<Vec<_>>());
        assert!(rec.batches.iter().all(|(_, n)| *n == 10));
        assert_eq!(rec.batches[3].0.evaluations_before, 30);
        assert!(r.evaluations < 4000, "{} evaluations", r.evaluations);
    }

    #[test]
    fn rosenbrock_10d_reaches_optimum() {
        let mut f = TestObjective::new(TestFunction::Rosenbrock, 10);
        let config = CmaConfig {
            target_cost: Some(1e-10),
            seed: 3,
            ..CmaConfig::new(vec![0.0; 10], 0.5)
        };
        let r = minimize(&mut f, &config, &mut []).unwrap();
        assert!(r.best_cost < 1e-6, "{} ({:?})", r.best_cost, r.stop_reason);
        assert!(
            r.best_x.iter().all(|v| (v - 1.0).abs() < 1e-3),
            "{:?}",
            r.best_x
        );
    }

    #[test]
    fn ellipsoid_10d_learns_the_scaling() {
        let mut f = TestObjective::new(TestFunction::Ellipsoid, 10);
        let r = minimize(&mut f, &sphere_config(10, 5), &mut []).unwrap();
        assert!(r.best_cost < 1e-8, "{} ({:?})", r.best_cost, r.stop_reason);
        let last = r.history.last().unwrap();
        // C's axes must have adapted to the 10³ ratio of the ellipsoid's axes.
        assert!(last.diagnostic("axis_ratio").unwrap() > 100.0);
    }

    fn rastrigin_ipop(seed: u64) -> CmaConfig {
        CmaConfig {
            target_cost: Some(1e-10),
            seed,
            restarts: Some(Ipop {
                max_restarts: 9,
                population_factor: 2.0,
                start_box: Some(StartBox {
                    lower: vec![-5.12; 5],
                    upper: vec![5.12; 5],
                }),
            }),
            ..CmaConfig::new(vec![3.0; 5], 2.0)
        }
    }

    #[test]
    fn rastrigin_5d_ipop_finds_global_optimum() {
        let mut f = TestObjective::new(TestFunction::Rastrigin, 5);
        let r = minimize(&mut f, &rastrigin_ipop(2), &mut []).unwrap();
        assert!(
            r.best_cost < 1e-8,
            "{} after {} restarts",
            r.best_cost,
            r.restarts.len()
        );
        assert!(r.best_x.iter().all(|v| v.abs() < 1e-4), "{:?}", r.best_x);
        assert_eq!(r.stop_reason, StopReason::TargetCost);
        // Populations double from restart to restart.
        for (k, s) in r.restarts.iter().enumerate() {
            assert_eq!(s.restart, k);
            assert_eq!(s.population, 8 << k);
        }
        eprintln!(
            "rastrigin 5-D IPOP: {} evaluations, restarts {:?}",
            r.evaluations,
            r.restarts
                .iter()
                .map(|s| (s.population, s.reason, s.best_cost))
                .collect::<Vec<_>>()
        );
    }

    fn shifted_box() -> BoxConstrained<TestObjective> {
        // Sphere with its optimum at the origin but the box [0.5, 3]^4: the constrained optimum
        // is the corner (0.5, …) with cost 1, on the boundary.
        BoxConstrained::new(
            TestObjective::new(TestFunction::Sphere, 4),
            vec![0.5; 4],
            vec![3.0; 4],
        )
        .unwrap()
    }

    #[test]
    fn resample_never_evaluates_an_infeasible_point() {
        let mut f = shifted_box();
        let config = CmaConfig {
            max_generations: 300,
            seed: 7,
            ..CmaConfig::new(vec![2.0; 4], 1.0)
        };
        let r = minimize(&mut f, &config, &mut []).unwrap();
        assert_eq!(f.infeasible_evaluations, 0);
        assert!(f.inner.evaluations > 0);
        assert!(
            r.history.iter().map(|g| g.rejected).sum::<usize>() > 0,
            "the bound was active"
        );
        assert!((r.best_cost - 1.0).abs() < 1e-3, "{}", r.best_cost);
        assert!(r.best_x.iter().all(|v| *v >= 0.5));
    }

    #[test]
    fn penalty_never_evaluates_an_infeasible_point_and_respects_the_box() {
        let mut f = shifted_box();
        let config = CmaConfig {
            max_generations: 300,
            seed: 7,
            bounds: BoundsHandling::Penalty { weight: 10.0 },
            ..CmaConfig::new(vec![2.0; 4], 1.0)
        };
        let r = minimize(&mut f, &config, &mut []).unwrap();
        assert_eq!(f.infeasible_evaluations, 0);
        let gens: usize = r.history.iter().map(|g| g.population).sum();
        assert_eq!(
            f.inner.evaluations + r.history.iter().map(|g| g.rejected).sum::<usize>(),
            gens
        );
        assert!((r.best_cost - 1.0).abs() < 1e-2, "{}", r.best_cost);
    }

    #[test]
    fn resample_gives_up_with_a_stop_reason() {
        // A feasible region the distribution essentially never hits.
        let mut f = BoxConstrained::new(
            TestObjective::new(TestFunction::Sphere, 2),
            vec![100.0, 100.0],
            vec![100.001, 100.001],
        )
        .unwrap();
        let config = CmaConfig {
            bounds: BoundsHandling::Resample { max_tries: 50 },
            ..CmaConfig::new(vec![0.0; 2], 0.1)
        };
        let r = minimize(&mut f, &config, &mut []).unwrap();
        assert_eq!(r.stop_reason, StopReason::ResampleExhausted);
        assert_eq!(f.inner.evaluations, 0);
    }

    #[test]
    fn same_seed_same_run_other_seed_other_run() {
        let run = |seed| {
            let mut f = TestObjective::new(TestFunction::Rosenbrock, 6);
            let config = CmaConfig {
                max_generations: 150,
                seed,
                ..CmaConfig::new(vec![0.0; 6], 0.5)
            };
            minimize(&mut f, &config, &mut []).unwrap()
        };
        let (a, b, c) = (
            strip_times(run(11)),
            strip_times(run(11)),
            strip_times(run(12)),
        );
        assert_eq!(a, b);
        assert_ne!(a.best_x, c.best_x);
    }

    fn strip_times(mut r: CmaResult) -> CmaResult {
        r.elapsed_s = 0.0;
        for g in &mut r.history {
            g.elapsed_s = 0.0;
        }
        r
    }

    #[test]
    fn checkpoint_resume_continues_the_same_trajectory() {
        // Rastrigin with IPOP: the interruption falls inside a restart sequence, so the RNG, the
        // restart bookkeeping and the tolFun window must all survive the round trip.
        let config = CmaConfig {
            max_evaluations: Some(6000),
            target_cost: None,
            ..rastrigin_ipop(4)
        };
        let mut f = TestObjective::new(TestFunction::Rastrigin, 5);
        let full = strip_times(minimize(&mut f, &config, &mut []).unwrap());
        assert!(full.restarts.len() >= 2, "interrupt across restarts");

        let cut = full.restarts[0].generations + 7;
        let mut f2 = TestObjective::new(TestFunction::Rastrigin, 5);
        let mut run = CmaRun::new(config.clone()).unwrap();
        for _ in 0..cut {
            assert!(run.step(&mut f2, &mut []).unwrap().is_none());
        }
        let json = serde_json::to_string(&run.checkpoint()).unwrap();
        drop(run);
        let ckpt: CmaCheckpoint = serde_json::from_str(&json).unwrap();
        let resumed = CmaRun::resume(ckpt).unwrap();
        let rest = strip_times(resumed.run(&mut f2, &mut []).unwrap());
        assert_eq!(rest, full);
        assert_eq!(f2.evaluations, f.evaluations);
    }

    #[test]
    fn minimize_resumable_picks_up_after_a_kill() {
        let dir = std::env::temp_dir().join(format!("optimize-ckpt-{}", std::process::id()));
        let path = dir.join("run.json");
        let _ = std::fs::remove_file(&path);
        let config = CmaConfig {
            max_generations: 120,
            target_cost: None,
            tol_fun: 0.0,
            tol_x: 0.0,
            seed: 9,
            ..CmaConfig::new(vec![0.0; 6], 0.5)
        };
        let full = strip_times(
            minimize(
                &mut TestObjective::new(TestFunction::Rosenbrock, 6),
                &config,
                &mut [],
            )
            .unwrap(),
        );

        // "Kill" after 50 generations: an observer that fails aborts the run.
        struct Killer(usize);
        impl Observer for Killer {
            fn on_generation(&mut self, r: &GenerationReport) -> Result<(), OptimizeError> {
                if r.generation > self.0 {
                    return Err(OptimizeError::Observer("killed".into()));
                }
                Ok(())
            }
        }
        let policy = CheckpointPolicy {
            path: path.clone(),
            every: 10,
        };
        let mut f = TestObjective::new(TestFunction::Rosenbrock, 6);
        let err = minimize_resumable(&mut f, &config, &mut [&mut Killer(50)], &policy);
        assert!(matches!(err, Err(OptimizeError::Observer(_))));
        let saved = CmaCheckpoint::load(&path).unwrap();
        assert_eq!(saved.generations, 50);

        let mut rec = Recorder::default();
        let resumed =
            strip_times(minimize_resumable(&mut f, &config, &mut [&mut rec], &policy).unwrap());
        assert_eq!(resumed, full);
        assert_eq!(rec.generations.first(), Some(&51));

        // A checkpoint from another configuration is refused.
        let other = CmaConfig { seed: 10, ..config };
        assert!(matches!(
            minimize_resumable(&mut f, &other, &mut [], &policy),
            Err(OptimizeError::Checkpoint { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn kong2021_preset_has_the_reference_settings() {
        let start = [0.6, -0.1, 0.2, 0.3, 0.05, -0.02, 5.0, 0.004, 0.001, -0.0005];
        let c = CmaConfig::kong2021(&start);
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
        assert!(CmaConfig::kong2021(&start[..4]).check().is_err());
        // The preset round-trips through JSON.
        let back: CmaConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn sigma_cap_holds_every_generation() {
        let mut f = TestObjective::new(TestFunction::Sphere, 5);
        let config = CmaConfig {
            sigma_max: Some(0.15),
            max_generations: 200,
            ..CmaConfig::new(vec![50.0; 5], 0.15)
        };
        let r = minimize(&mut f, &config, &mut []).unwrap();
        assert!(r.history.iter().all(|g| g.step_size <= 0.15));
        assert!(
            r.history.iter().any(|g| g.step_size == 0.15),
            "the cap was active"
        );
    }

    #[test]
    fn invalid_configs_are_rejected_with_typed_errors() {
        let base = CmaConfig::new(vec![0.0; 3], 0.5);
        let cases = [
            CmaConfig {
                start: vec![],
                ..base.clone()
            },
            CmaConfig {
                sigma0: 0.0,
                ..base.clone()
            },
            CmaConfig {
                population: Some(1),
                ..base.clone()
            },
            CmaConfig {
                parents: Some(11),
                population: Some(10),
                ..base.clone()
            },
            CmaConfig {
                initial_scale: Some(vec![1.0, 0.0, 1.0]),
                ..base.clone()
            },
            CmaConfig {
                bounds: BoundsHandling::Resample { max_tries: 0 },
                ..base.clone()
            },
            CmaConfig {
                bounds: BoundsHandling::Penalty { weight: -1.0 },
                ..base.clone()
            },
            CmaConfig {
                eigen_every: Some(0),
                ..base.clone()
            },
        ];
        for c in cases {
            assert!(
                matches!(c.check(), Err(OptimizeError::InvalidConfig { .. })),
                "{c:?}"
            );
        }
        assert!(matches!(
            CmaConfig {
                initial_scale: Some(vec![1.0]),
                ..base.clone()
            }
            .check(),
            Err(OptimizeError::DimensionMismatch { .. })
        ));
        let mut f = TestObjective::new(TestFunction::Sphere, 4);
        assert!(matches!(
            minimize(&mut f, &base, &mut []),
            Err(OptimizeError::DimensionMismatch { .. })
        ));
    }

    #[test]
    fn ask_tell_protocol_errors() {
        let mut es = CmaEs::from_config(&CmaConfig::new(vec![0.0; 3], 0.5)).unwrap();
        assert!(matches!(es.tell(&[1.0]), Err(OptimizeError::AskTell(_))));
        let xs = es.ask();
        assert!(matches!(es.tell(&[1.0]), Err(OptimizeError::AskTell(_))));
        // The offspring are still pending after a wrong-length tell.
        let costs: Vec<f64> = xs.iter().map(|x| TestFunction::Sphere.value(x)).collect();
        es.tell(&costs).unwrap();
        assert_eq!(es.generation(), 1);
    }

    #[test]
    fn nan_costs_rank_last() {
        assert_eq!(ranking(&[2.0, f64::NAN, 1.0, 1.0]), vec![2, 3, 0, 1]);
    }
}
