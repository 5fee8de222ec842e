//! The Euler simulator as an [`Objective`]: each call simulates the whole population as one
//! batch (n_dup noise duplicates, common random numbers within the call) and scores it against
//! the empirical FC/FCD. The noise seed advances with every call, as in a simulator-driven
//! CMA-ES run where each generation sees fresh noise.

use jobs::shard::batch_seed;
use optimize::objective::{Evaluation, Objective};
use optimize::OptimizeError;
use pmfm_sim::params::{Theta, N_THETA};
use surrogate::evaluator::Evaluator;

/// Total cost (FC + KS) of θ by simulation.
pub struct EulerObjective<'a> {
    evaluator: &'a Evaluator,
    /// Noise duplicates per θ (the reference uses 3 for training costs).
    pub n_dup: usize,
    seed: u64,
    calls: usize,
    /// Largest number of θ simulated in one batch (bounded by memory); a larger population is
    /// simulated in several batches with the same seed.
    pub max_batch: usize,
}

impl<'a> EulerObjective<'a> {
    pub fn new(evaluator: &'a Evaluator, n_dup: usize, seed: u64) -> Self {
        Self {
            evaluator,
            n_dup,
            seed,
            calls: 0,
            max_batch: 256,
        }
    }

    /// Calls made so far (each one a batch of simulations).
    pub fn calls(&self) -> usize {
        self.calls
    }
}

/// θ from a solver's vector (checked length).
pub fn to_theta(x: &[f64]) -> Result<Theta, OptimizeError> {
    if x.len() != N_THETA {
        return Err(OptimizeError::DimensionMismatch {
            what: "θ".into(),
            expected: N_THETA,
            got: x.len(),
        });
    }
    Ok(std::array::from_fn(|d| x[d]))
}

/// θ of a whole population (each length checked).
pub fn to_thetas(population: &[Vec<f64>]) -> Result<Vec<Theta>, OptimizeError> {
    population.iter().map(|x| to_theta(x)).collect()
}

impl Objective for EulerObjective<'_> {
    fn dim(&self) -> usize {
        N_THETA
    }

    fn cost(&mut self, population: &[Vec<f64>]) -> Result<Vec<Evaluation>, OptimizeError> {
        let thetas = to_thetas(population)?;
        let seed = batch_seed(self.seed, self.calls);
        self.calls += 1;
        let mut out = Vec::with_capacity(thetas.len());
        for chunk in thetas.chunks(self.max_batch.max(1)) {
            let scored = self.evaluator.score(chunk, self.n_dup, seed).map_err(|e| {
                OptimizeError::Objective {
                    objective: self.name(),
                    message: e.to_string(),
                }
            })?;
            for s in scored {
                let e = Evaluation::new(s.cost.total)
                    .with_part("fc", s.cost.fc)
                    .with_part("ks", s.cost.ks)
                    .with_simulations(if s.feasible { self.n_dup } else { 0 });
                out.push(if s.is_valid() {
                    e
                } else {
                    Evaluation { valid: false, ..e }
                });
            }
        }
        Ok(out)
    }

    fn is_feasible(&self, x: &[f64]) -> bool {
        to_theta(x)
            .map(|t| self.evaluator.is_feasible(&t))
            .unwrap_or(false)
    }

    fn constraint_violation(&self, x: &[f64]) -> f64 {
        violation(
            x,
            self.evaluator.myelin(),
            self.evaluator.gradient(),
            self.evaluator.bounds(),
        )
    }

    fn name(&self) -> String {
        format!("euler(n_dup={})", self.n_dup)
    }
}

/// Summed distance of θ's derived regional values outside their bounds, each quantity scaled by
/// its bound's width (0 when feasible).
pub fn violation(x: &[f64], myelin: &[f64], gradient: &[f64], b: &pmfm_sim::Bounds) -> f64 {
    let Ok(t) = to_theta(x) else {
        return f64::INFINITY;
    };
    let p = pmfm_sim::RegionalParams::from_theta(&t, myelin, gradient);
    let out = |v: f64, (lo, hi): (f64, f64)| {
        if !v.is_finite() {
            return f64::INFINITY;
        }
        ((lo - v).max(0.0) + (v - hi).max(0.0)) / (hi - lo)
    };
    let mut s = out(p.g, b.g);
    for (vals, r) in [(&p.w, b.w), (&p.i, b.i), (&p.sigma, b.sigma)] {
        s += vals.iter().map(|&v| out(v, r)).sum::<f64>();
    }
    s
}
