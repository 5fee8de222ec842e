//! The bare ask/tell strategy ([`CmaEs`]): constants derived from (n, λ, μ), sampling, the
//! mean, step-size and covariance updates, the eigendecomposition of C, and its exactly
//! serialisable state ([`CmaState`], [`RngState`]).

use std::path::PathBuf;

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use super::config::{check_population, CmaConfig};
use crate::error::OptimizeError;
use crate::objective::exact;

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
    pub(super) params: StrategyParams,
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
    pub(super) rng: ChaCha8Rng,
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
        check_population(params.lambda, params.mu)?;
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

    pub(super) fn rng_mut(&mut self) -> &mut ChaCha8Rng {
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
pub(super) fn ranking(costs: &[f64]) -> Vec<usize> {
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
