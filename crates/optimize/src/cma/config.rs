//! The settings of a CMA-ES run ([`CmaConfig`]): bounds handling, stopping rules, IPOP restarts,
//! derived population sizes, and the one-time check that lets the strategy trust them.

use serde::{Deserialize, Serialize};

use crate::error::OptimizeError;

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

impl StartBox {
    /// The first of up to `tries` uniform draws from the box that `objective` finds feasible
    /// (None if none was).
    pub fn draw_feasible<O: crate::objective::Objective + ?Sized>(
        &self,
        rng: &mut impl rand::Rng,
        objective: &O,
        tries: usize,
    ) -> Option<Vec<f64>> {
        (0..tries).find_map(|_| {
            let x: Vec<f64> = self
                .lower
                .iter()
                .zip(&self.upper)
                .map(|(l, u)| l + (u - l) * rng.random::<f64>())
                .collect();
            objective.is_feasible(&x).then_some(x)
        })
    }
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
/// `pmfm_fit::kong2021` builds the reference pMFM settings. Checked by [`CmaConfig::check`] before
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

impl CmaConfig {
    /// Textbook defaults around `start` with step size `sigma0`.
    pub fn new(start: Vec<f64>, sigma0: f64) -> Self {
        Self {
            start,
            sigma0,
            ..Self::default()
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

    pub(super) fn scale_vector(&self) -> Vec<f64> {
        self.initial_scale
            .clone()
            .unwrap_or_else(|| vec![1.0; self.dim()])
    }

    /// Checks every value once, so the solver can trust its inputs.
    pub fn check(&self) -> Result<(), OptimizeError> {
        self.check_start()?;
        self.check_population()?;
        self.check_stopping()?;
        self.check_bounds_and_restarts()
    }

    /// Start, σ₀ and the initial per-coordinate scale.
    fn check_start(&self) -> Result<(), OptimizeError> {
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
        Ok(())
    }

    /// λ ≥ 2 and 1 ≤ μ ≤ λ.
    fn check_population(&self) -> Result<(), OptimizeError> {
        check_population(self.lambda(), self.mu())
    }

    /// σ bounds, budgets, tolerances and the early stop.
    fn check_stopping(&self) -> Result<(), OptimizeError> {
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
        Ok(())
    }

    /// Bounds handling, IPOP restarts (the start box has the problem's dimension) and the
    /// eigendecomposition interval.
    fn check_bounds_and_restarts(&self) -> Result<(), OptimizeError> {
        let n = self.dim();
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

/// Checks a CMA-ES population, the one rule every caller applies: λ ≥ 2 offspring and
/// 1 ≤ μ ≤ λ parents. The error names the field at fault (`population` or `parents`).
pub fn check_population(lambda: usize, mu: usize) -> Result<(), OptimizeError> {
    if lambda < 2 {
        return Err(OptimizeError::config(
            "population",
            format!("must be ≥ 2, got {lambda}"),
        ));
    }
    if mu < 1 || mu > lambda {
        return Err(OptimizeError::config(
            "parents",
            format!("must be in 1..=λ = {lambda}, got {mu}"),
        ));
    }
    Ok(())
}
