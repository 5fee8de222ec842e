//! The in-memory parameter→cost table that datasets, surrogates and optimizers exchange.

use pmfm_sim::params::{Theta, N_THETA};
use serde::{Deserialize, Serialize};

/// Simulated parameter sets and their costs, one entry per row; all vectors have the same length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    /// Global index of the parameter set in its design (stable across shards and resumes).
    pub index: Vec<u64>,
    /// θ = `[w0, w_myelin, w_grad, I0, I_myelin, I_grad, G, s0, s_myelin, s_grad]`.
    pub theta: Vec<Theta>,
    /// FC cost `1 − corr(atanh FC_sim, atanh FC_emp)`, in [0, 2], or 10 when no duplicate was valid.
    pub fc_cost: Vec<f64>,
    /// KS distance between simulated and empirical FCD CDFs, in [0, 1], or 10.
    pub ks_cost: Vec<f64>,
    /// `fc_cost + ks_cost`.
    pub total_cost: Vec<f64>,
    /// Finite costs below 10 and θ inside the bounds.
    pub valid: Vec<bool>,
    /// Noise duplicates simulated per θ.
    pub n_dup: Vec<u32>,
    /// Noise seed of the batch that simulated θ.
    pub seed: Vec<u64>,
    /// Name of the empirical data set the costs refer to (e.g. `kong2021/train`).
    pub dataset: Vec<String>,
    /// How θ was drawn (`uniform`, `lhs`, `gaussian`, `cmaes`).
    pub design: Vec<String>,
    /// Wall time of the batch that simulated θ, divided by its size (s per parameter set).
    pub wall_s: Vec<f64>,
}

impl Samples {
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Appends every row of `other`.
    pub fn extend(&mut self, other: &Samples) {
        self.index.extend_from_slice(&other.index);
        self.theta.extend_from_slice(&other.theta);
        self.fc_cost.extend_from_slice(&other.fc_cost);
        self.ks_cost.extend_from_slice(&other.ks_cost);
        self.total_cost.extend_from_slice(&other.total_cost);
        self.valid.extend_from_slice(&other.valid);
        self.n_dup.extend_from_slice(&other.n_dup);
        self.seed.extend_from_slice(&other.seed);
        self.dataset.extend_from_slice(&other.dataset);
        self.design.extend_from_slice(&other.design);
        self.wall_s.extend_from_slice(&other.wall_s);
    }

    /// The rows at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Samples {
        let pick = |k: &usize| *k;
        Samples {
            index: rows.iter().map(|&k| self.index[pick(&k)]).collect(),
            theta: rows.iter().map(|&k| self.theta[k]).collect(),
            fc_cost: rows.iter().map(|&k| self.fc_cost[k]).collect(),
            ks_cost: rows.iter().map(|&k| self.ks_cost[k]).collect(),
            total_cost: rows.iter().map(|&k| self.total_cost[k]).collect(),
            valid: rows.iter().map(|&k| self.valid[k]).collect(),
            n_dup: rows.iter().map(|&k| self.n_dup[k]).collect(),
            seed: rows.iter().map(|&k| self.seed[k]).collect(),
            dataset: rows.iter().map(|&k| self.dataset[k].clone()).collect(),
            design: rows.iter().map(|&k| self.design[k].clone()).collect(),
            wall_s: rows.iter().map(|&k| self.wall_s[k]).collect(),
        }
    }

    /// Rows sorted by `index` (the canonical order of a finished table).
    pub fn sorted_by_index(&self) -> Samples {
        let mut rows: Vec<usize> = (0..self.len()).collect();
        rows.sort_by_key(|&k| self.index[k]);
        self.select(&rows)
    }

    /// Appends θ (its `index` in the design) with its FC and KS costs (total = fc + ks), its
    /// validity and where it comes from.
    pub fn push(
        &mut self,
        index: u64,
        theta: Theta,
        (fc_cost, ks_cost): (f64, f64),
        valid: bool,
        source: &RowSource,
    ) {
        self.index.push(index);
        self.theta.push(theta);
        self.fc_cost.push(fc_cost);
        self.ks_cost.push(ks_cost);
        self.total_cost.push(fc_cost + ks_cost);
        self.valid.push(valid);
        self.n_dup.push(source.n_dup);
        self.seed.push(source.seed);
        self.dataset.push(source.dataset.clone());
        self.design.push(source.design.clone());
        self.wall_s.push(source.wall_s);
    }

    /// Rows whose costs are valid.
    pub fn valid_rows(&self) -> Vec<usize> {
        (0..self.len()).filter(|&k| self.valid[k]).collect()
    }
}

/// The columns of a [`Samples`] row besides θ and its costs: how and where it was simulated.
#[derive(Debug, Clone, PartialEq)]
pub struct RowSource {
    /// Noise duplicates simulated per θ.
    pub n_dup: u32,
    /// Noise seed of the batch.
    pub seed: u64,
    /// Name of the empirical data set.
    pub dataset: String,
    /// How θ was drawn (`uniform`, `lhs`, `gaussian`, `cmaes`).
    pub design: String,
    /// Wall time per parameter set (s).
    pub wall_s: f64,
}

impl RowSource {
    /// Rows of a made-up table for tests: one duplicate, seed 0, drawn `uniform`, no wall time.
    pub fn test(dataset: &str) -> Self {
        Self {
            n_dup: 1,
            seed: 0,
            dataset: dataset.into(),
            design: "uniform".into(),
            wall_s: 0.0,
        }
    }
}

/// What a connectome-aware surrogate (the region-token model) sees of a data set besides θ:
/// the structural connectivity and the two regional maps that turn θ into regional parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connectome {
    /// Regions n.
    pub n_regions: usize,
    /// Raw structural connectivity, row-major `[n, n]`.
    pub sc: Vec<f64>,
    /// Myelin (T1w/T2w) per region, `[n]`.
    pub myelin: Vec<f64>,
    /// Principal RSFC gradient per region, `[n]`.
    pub gradient: Vec<f64>,
}

/// Number of θ coefficients (re-exported for the models).
pub const THETA_DIM: usize = N_THETA;
