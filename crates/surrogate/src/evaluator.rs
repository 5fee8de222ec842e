//! The real simulator as a batched cost function: θ → (FC, KS, total) on one empirical data set.
//! This is what datasets record and what surrogates imitate.

use std::time::Instant;

use burn::tensor::Device;
use pmfm_sim::data::EmpiricalData;
use pmfm_sim::noise::SeededNoise;
use pmfm_sim::observables::{evaluate, INVALID_COST};
use pmfm_sim::params::{Bounds, RegionalParams, Theta};
use pmfm_sim::{Cost, SimConfig, Simulator, Targets};

use crate::error::{Result, SurrogateError};
use crate::samples::{Connectome, Samples};

/// Euler–Maruyama simulation + FC/FCD cost of batches of θ against one data set.
pub struct Evaluator {
    simulator: Simulator,
    targets: Targets,
    myelin: Vec<f64>,
    gradient: Vec<f64>,
    bounds: Bounds,
    fcd_window: usize,
    /// Name written into the `dataset` column.
    pub dataset_name: String,
}

/// Costs of one θ, and whether it was simulated at all (infeasible θ are not).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub cost: Cost,
    pub feasible: bool,
}

impl Scored {
    /// Valid costs of a feasible θ.
    pub fn is_valid(&self) -> bool {
        self.feasible && self.cost.is_valid() && self.cost.total.is_finite()
    }
}

impl Evaluator {
    pub fn new(
        data: &EmpiricalData,
        sim: SimConfig,
        fcd_window: usize,
        device: &Device,
    ) -> Result<Self> {
        let n = data.n_regions();
        let simulator = Simulator::new(&data.sc.data, n, sim, device)
            .and_then(|s| sim.validate_fcd_window(fcd_window).map(|()| s))
            .map_err(|e| SurrogateError::Config(e.to_string()))?;
        Ok(Self {
            simulator,
            targets: Targets::new(&data.fc.data, n, data.fcd_cdf.clone()),
            myelin: data.myelin.clone(),
            gradient: data.gradient.clone(),
            bounds: Bounds::default(),
            fcd_window,
            dataset_name: data.name.clone(),
        })
    }

    pub fn bounds(&self) -> &Bounds {
        &self.bounds
    }

    pub fn myelin(&self) -> &[f64] {
        &self.myelin
    }

    pub fn gradient(&self) -> &[f64] {
        &self.gradient
    }

    pub fn is_feasible(&self, theta: &Theta) -> bool {
        pmfm_sim::params::is_feasible(theta, &self.myelin, &self.gradient, &self.bounds)
    }

    /// Simulates the feasible θ of `thetas` as one batch (`n_dup` duplicates, common random
    /// numbers from `seed`) and scores them; infeasible θ cost [`INVALID_COST`] per term.
    pub fn score(&self, thetas: &[Theta], n_dup: usize, seed: u64) -> Result<Vec<Scored>> {
        let feasible: Vec<usize> = (0..thetas.len())
            .filter(|&k| self.is_feasible(&thetas[k]))
            .collect();
        let infeasible_cost = Cost {
            fc: INVALID_COST,
            ks: INVALID_COST,
            total: 2.0 * INVALID_COST,
            valid_fc_dups: 0,
            valid_ks_dups: 0,
        };
        let mut out = vec![
            Scored {
                cost: infeasible_cost,
                feasible: false
            };
            thetas.len()
        ];
        if feasible.is_empty() {
            return Ok(out);
        }
        let params: Vec<RegionalParams> = feasible
            .iter()
            .map(|&k| RegionalParams::from_theta(&thetas[k], &self.myelin, &self.gradient))
            .collect();
        let bold = self
            .simulator
            .simulate(&params, n_dup, &mut SeededNoise::new(seed))
            .map_err(|e| SurrogateError::Input(e.to_string()))?;
        let costs = evaluate(&bold, &self.targets, self.fcd_window);
        for (&k, c) in feasible.iter().zip(costs) {
            out[k] = Scored {
                cost: c,
                feasible: true,
            };
        }
        Ok(out)
    }

    /// Scores a batch and returns it as dataset rows with global indices `first_index..`.
    pub fn samples(
        &self,
        thetas: &[Theta],
        first_index: u64,
        n_dup: usize,
        seed: u64,
        design: &str,
    ) -> Result<Samples> {
        let t0 = Instant::now();
        let scored = self.score(thetas, n_dup, seed)?;
        let per = t0.elapsed().as_secs_f64() / thetas.len().max(1) as f64;
        let n = thetas.len();
        Ok(Samples {
            index: (0..n as u64).map(|k| first_index + k).collect(),
            theta: thetas.to_vec(),
            fc_cost: scored.iter().map(|s| s.cost.fc).collect(),
            ks_cost: scored.iter().map(|s| s.cost.ks).collect(),
            total_cost: scored.iter().map(|s| s.cost.total).collect(),
            valid: scored.iter().map(|s| s.is_valid()).collect(),
            n_dup: vec![n_dup as u32; n],
            seed: vec![seed; n],
            dataset: vec![self.dataset_name.clone(); n],
            design: vec![design.to_string(); n],
            wall_s: vec![per; n],
        })
    }
}

/// The connectome-aware surrogate's view of a data set.
pub fn connectome_of(data: &EmpiricalData) -> Connectome {
    Connectome {
        n_regions: data.n_regions(),
        sc: data.sc.data.clone(),
        myelin: data.myelin.clone(),
        gradient: data.gradient.clone(),
    }
}
