//! A trained surrogate (or seed ensemble) as an [`Objective`]: the whole population is one
//! batched inference call; no Euler simulation is spent. With an ensemble the cost can be made
//! pessimistic, `mean + k·spread`, so the search distrusts θ where the members disagree
//! (typically outside the training data).

use optimize::objective::{Evaluation, Objective};
use optimize::OptimizeError;
use pmfm_sim::params::{Bounds, Theta, N_THETA};
use serde::{Deserialize, Serialize};
use surrogate::ensemble::Ensemble;

use crate::sim_objective::{to_theta, to_thetas, violation};
use crate::support::DataSupport;

/// How an ensemble's prediction becomes a cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SurrogateCostConfig {
    /// Weight k of the ensemble spread in `mean + k·spread` (0: plain mean).
    pub spread_weight: f64,
    /// θ whose predicted validity probability is below this are marked invalid and, as the
    /// simulator does for failed runs, cost `invalid_cost`.
    pub min_p_valid: f64,
    pub invalid_cost: f64,
    /// Support guard: θ with a coordinate more than this many training standard deviations from
    /// the training mean are outside the data the surrogate has seen; they are marked invalid
    /// and cost `invalid_cost` (the search then starts at the training mean). None: no guard.
    #[serde(default)]
    pub max_z: Option<f64>,
    /// Data-support guard: θ with some coordinate more than this many training sd from every
    /// training row ([`DataSupport`]) are marked invalid and cost `invalid_cost` plus the distance beyond
    /// the radius (so CMA-ES ranks them by how far out they are, and returns). None: no guard;
    /// not written when None, so earlier runs' settings read back unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_radius: Option<f64>,
}

impl Default for SurrogateCostConfig {
    fn default() -> Self {
        Self {
            spread_weight: 0.0,
            min_p_valid: 0.5,
            invalid_cost: 20.0,
            max_z: None,
            support_radius: None,
        }
    }
}

/// Predicted total cost of θ.
pub struct SurrogateObjective<'a> {
    model: &'a Ensemble,
    myelin: Vec<f64>,
    gradient: Vec<f64>,
    bounds: Bounds,
    /// The training rows for `config.support_radius` (ignored without a radius).
    support: Option<&'a DataSupport>,
    pub config: SurrogateCostConfig,
}

impl<'a> SurrogateObjective<'a> {
    pub fn new(
        model: &'a Ensemble,
        myelin: &[f64],
        gradient: &[f64],
        config: SurrogateCostConfig,
    ) -> Self {
        Self {
            model,
            myelin: myelin.to_vec(),
            gradient: gradient.to_vec(),
            bounds: Bounds::default(),
            support: None,
            config,
        }
    }

    /// The same objective with a data-support guard on `support` (active when
    /// `config.support_radius` is set).
    pub fn with_support(mut self, support: Option<&'a DataSupport>) -> Self {
        self.support = support;
        self
    }

    /// How far θ lies outside the support radius (0 inside, or without a guard).
    fn outside_support(&self, t: &Theta) -> f64 {
        match (self.config.support_radius, self.support) {
            (Some(r), Some(s)) => (s.distance(t) - r).max(0.0),
            _ => 0.0,
        }
    }
}

impl Objective for SurrogateObjective<'_> {
    fn dim(&self) -> usize {
        N_THETA
    }

    fn cost(&mut self, population: &[Vec<f64>]) -> Result<Vec<Evaluation>, OptimizeError> {
        let thetas = to_thetas(population)?;
        let p = self
            .model
            .predict(&thetas)
            .map_err(|e| OptimizeError::Objective {
                objective: self.name(),
                message: e.to_string(),
            })?;
        let support = self
            .config
            .max_z
            .and_then(|z| Some((z, self.model.input_support()?)));
        let inside = |t: &Theta| {
            support.as_ref().is_none_or(|(z, s)| {
                t.iter()
                    .zip(s.mean.iter().zip(&s.std))
                    .all(|(x, (m, sd))| ((x - m) / sd).abs() <= *z)
            })
        };
        Ok((0..thetas.len())
            .map(|k| {
                let beyond = self.outside_support(&thetas[k]);
                let ok = p.p_valid[k] >= self.config.min_p_valid
                    && p.total[k].is_finite()
                    && inside(&thetas[k])
                    && beyond == 0.0;
                let cost = if ok {
                    p.total[k] + self.config.spread_weight * p.spread[k]
                } else {
                    self.config.invalid_cost + beyond
                };
                let e = Evaluation::new(cost)
                    .with_part("fc", p.fc[k])
                    .with_part("ks", p.ks[k])
                    .with_part("spread", p.spread[k])
                    .with_part("p_valid", p.p_valid[k]);
                if ok {
                    e
                } else {
                    Evaluation { valid: false, ..e }
                }
            })
            .collect())
    }

    fn is_feasible(&self, x: &[f64]) -> bool {
        to_theta(x)
            .map(|t| pmfm_sim::params::is_feasible(&t, &self.myelin, &self.gradient, &self.bounds))
            .unwrap_or(false)
    }

    fn constraint_violation(&self, x: &[f64]) -> f64 {
        violation(x, &self.myelin, &self.gradient, &self.bounds)
    }

    fn name(&self) -> String {
        let kind = self.model.kind().map(|k| k.name()).unwrap_or("surrogate");
        if self.model.len() > 1 {
            format!(
                "{kind}-ensemble{}(k={})",
                self.model.len(),
                self.config.spread_weight
            )
        } else {
            kind.to_string()
        }
    }
}
