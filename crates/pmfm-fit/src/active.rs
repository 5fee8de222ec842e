//! Surrogate-assisted fitting with active learning: a trust-region loop in which the surrogate
//! chooses what the simulator runs next.
//!
//! Each round
//! 1. learns a surrogate from every simulated row so far (the starting table plus all earlier
//!    rounds): seed ensembles trained from scratch, or a pretrained surrogate fine-tuned on
//!    them ([`crate::learner`]; with one and nothing valid simulated yet, the round searches
//!    its prior box instead of steps 2–3, so no starting table is needed);
//! 2. takes as *centre* the simulated θ ranked best by `w·observed + (1 − w)·predicted` cost
//!    (the ensemble's mean smooths the simulation noise of one observation; the observation
//!    keeps what a smooth surrogate misses);
//! 3. adapts the trust-region radius: a round succeeds when the new centre is one of the θ the
//!    previous round simulated; `success_tol` successes in a row double the radius (up to
//!    `radius_max`), `failure_tol` failures in a row halve it (down to `radius_min`);
//! 4. searches the surrogate inside the trust region — a box of `radius` training standard
//!    deviations per coordinate around the centre, intersected with the feasible set — with a
//!    few CMA-ES runs on the optimistic cost `mean − explore_weight·spread`, and picks the best
//!    distinct points, plus a few uniform draws from the region (so the surrogate also learns
//!    where it is wrong);
//! 5. simulates the picks and adds them to the data.
//!
//! The region keeps the search where the surrogate has data (a global surrogate searched freely
//! exploits its own extrapolation errors), and the loop corrects the surrogate exactly where the
//! search goes. After the last round a final ensemble ranks every simulated θ (same score), and the best
//! distinct ones are the candidates that [`crate::methods`] validates.
//!
//! With a directory, every round is written as `round-NNN.parquet` (the simulated rows) and then
//! `round-NNN.json` (the round's record, written last and atomically): a killed run resumes at the
//! first missing round and, training being seeded, continues exactly as an uninterrupted run.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::Device;
use jobs::shard::batch_seed;
use optimize::cma::{minimize, BoundsHandling, CmaConfig};
use optimize::objective::{exact, Evaluation, Objective};
use optimize::OptimizeError;
use pmfm_sim::params::{Theta, N_THETA};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use surrogate::ensemble::Ensemble;
use surrogate::evaluator::Evaluator;
use surrogate::models::ModelConfig;
use surrogate::samples::Samples;
use surrogate::train::TrainConfig;

use crate::inputs::SimInputs;
use crate::learner::{any_valid, flat_coordinate, Learner, PriorBox};
use crate::run_table::RunTable;
use crate::sim_objective::{to_theta, to_thetas};

/// The expensive side of the loop: turns θ into dataset rows.
pub trait Simulate {
    /// Simulates `thetas` (all feasible) as the batch of `round`; one row per θ, in order, with
    /// global indices from `first_index`.
    fn simulate(
        &mut self,
        thetas: &[Theta],
        round: usize,
        first_index: u64,
    ) -> Result<Samples, OptimizeError>;

    /// Whether θ may be simulated (for the pMFM: derived regional values inside their bounds).
    fn is_feasible(&self, theta: &Theta) -> bool;

    /// What the rows depend on besides θ, the round and the seed (for the pMFM: the schedule,
    /// the FCD window, a fingerprint of the empirical data, the duplicates per θ). A resumable
    /// run binds it into its manifest.
    fn inputs(&self) -> serde_json::Value;
}

/// The Euler simulator as the loop's [`Simulate`]: `n_dup` duplicates per θ, round r with noise
/// seed `batch_seed(seed, r)`.
pub struct EulerSimulate<'a> {
    pub evaluator: &'a Evaluator,
    /// The schedule, FCD window and data behind `evaluator` (bound into resumable rounds).
    pub inputs: &'a SimInputs,
    pub n_dup: usize,
    pub seed: u64,
}

impl Simulate for EulerSimulate<'_> {
    fn simulate(
        &mut self,
        thetas: &[Theta],
        round: usize,
        first_index: u64,
    ) -> Result<Samples, OptimizeError> {
        self.evaluator
            .samples(
                thetas,
                first_index,
                self.n_dup,
                batch_seed(self.seed, round),
                DESIGN,
            )
            .map_err(|e| OptimizeError::Objective {
                objective: "euler".into(),
                message: e.to_string(),
            })
    }

    fn is_feasible(&self, theta: &Theta) -> bool {
        self.evaluator.is_feasible(theta)
    }

    fn inputs(&self) -> serde_json::Value {
        serde_json::json!({ "euler": self.inputs, "n_dup": self.n_dup })
    }
}

/// The `design` column of the rows the loop simulates.
pub const DESIGN: &str = "active";

/// Settings of the loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActiveConfig {
    /// Rounds (each: train, search, simulate). Default 10.
    pub rounds: usize,
    /// θ simulated per round. Default 32.
    pub batch: usize,
    /// Noise duplicates per simulated θ. Default 1.
    pub n_dup: usize,
    /// Ensemble members trained each round. Default 3.
    pub ensemble: usize,
    pub model: ModelConfig,
    /// Default: 200 epochs, patience 20, otherwise [`TrainConfig`]'s defaults.
    pub train: TrainConfig,
    /// Trust-region half-width in standard deviations of the starting table's θ, per
    /// coordinate: initial, smallest and largest. Defaults 1, 0.05, 2.
    pub radius0: f64,
    pub radius_min: f64,
    pub radius_max: f64,
    /// Successes (failures) in a row that double (halve) the radius. Defaults 3 and 2.
    pub success_tol: usize,
    pub failure_tol: usize,
    /// CMA-ES runs on the surrogate per round, their population and generations. The first
    /// starts at the centre, the others at uniform points of the region. Defaults 4, 32, 30.
    pub searches: usize,
    pub search_population: usize,
    pub search_generations: usize,
    /// k in the search cost `mean − k·spread` (optimism where the members disagree). Default 1.
    pub explore_weight: f64,
    /// Fraction of each batch drawn uniformly from the trust region. Default 0.125.
    pub random_fraction: f64,
    /// Weight w of a simulated θ's own (observed) cost in the score that ranks simulated θ, for
    /// the centre and the final candidates: `w·observed + (1 − w)·predicted`. 0 trusts the
    /// ensemble alone (it smooths the simulation noise); with several duplicates per θ the
    /// observation carries what a smooth surrogate misses (e.g. a narrow low-KS regime).
    /// Default 0.5.
    pub observed_weight: f64,
    /// Smallest distance between two picks of a round, as a fraction of the radius (RMS over
    /// coordinates in trust-region units). Default 0.1.
    pub min_separation: f64,
}

impl Default for ActiveConfig {
    fn default() -> Self {
        Self {
            rounds: 10,
            batch: 32,
            n_dup: 1,
            ensemble: 3,
            model: ModelConfig::default(),
            train: TrainConfig {
                epochs: 200,
                patience: 20,
                ..TrainConfig::default()
            },
            radius0: 1.0,
            radius_min: 0.05,
            radius_max: 2.0,
            success_tol: 3,
            failure_tol: 2,
            searches: 4,
            search_population: 32,
            search_generations: 30,
            explore_weight: 1.0,
            random_fraction: 0.125,
            observed_weight: 0.5,
            min_separation: 0.1,
        }
    }
}

impl ActiveConfig {
    /// Checks the values once, before a run.
    pub fn check(&self) -> Result<(), OptimizeError> {
        let bad = |f: &str, r: String| Err(OptimizeError::config(format!("active.{f}"), r));
        if self.n_dup == 0 {
            return bad(
                "n_dup",
                "duplicates per simulated θ must be ≥ 1, got 0".into(),
            );
        }
        if self.batch == 0 || self.ensemble == 0 || self.searches == 0 {
            return bad(
                "batch",
                "batch, ensemble and searches must be positive".into(),
            );
        }
        if self.search_population < 2 || self.search_generations == 0 {
            return bad(
                "search_population",
                "the surrogate search needs a population ≥ 2 and ≥ 1 generation".into(),
            );
        }
        let pos = |x: f64| x.is_finite() && x > 0.0;
        if !(pos(self.radius0) && pos(self.radius_min) && pos(self.radius_max))
            || self.radius_min > self.radius0
            || self.radius0 > self.radius_max
        {
            return bad(
                "radius0",
                format!(
                    "need 0 < radius_min ≤ radius0 ≤ radius_max (got {}, {}, {})",
                    self.radius_min, self.radius0, self.radius_max
                ),
            );
        }
        if self.success_tol == 0 || self.failure_tol == 0 {
            return bad(
                "success_tol",
                "success_tol and failure_tol must be ≥ 1".into(),
            );
        }
        if !(self.explore_weight.is_finite() && self.explore_weight >= 0.0) {
            return bad(
                "explore_weight",
                format!("{} must be ≥ 0", self.explore_weight),
            );
        }
        if !(0.0..=1.0).contains(&self.random_fraction) {
            return bad(
                "random_fraction",
                format!("{} is not in [0, 1]", self.random_fraction),
            );
        }
        if !(0.0..=1.0).contains(&self.observed_weight) {
            return bad(
                "observed_weight",
                format!("{} is not in [0, 1]", self.observed_weight),
            );
        }
        if !(self.min_separation.is_finite() && self.min_separation >= 0.0) {
            return bad(
                "min_separation",
                format!("{} must be ≥ 0", self.min_separation),
            );
        }
        self.model
            .check()
            .and_then(|_| self.train.check())
            .map_err(|e| OptimizeError::config("active.model", e.to_string()))
    }
}

/// What one round did (its JSON record). Floats are written as exact strings
/// ([`optimize::objective::exact`]), so a resumed run reads back the very numbers an
/// uninterrupted run keeps in memory (its run table is then identical, not merely close).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    pub round: usize,
    /// The trust region's centre (best-ranked simulated θ) and its ranking score.
    #[serde(with = "exact::vector")]
    pub centre: Vec<f64>,
    #[serde(with = "exact::scalar")]
    pub centre_score: f64,
    /// Whether the centre came from the previous round's batch (None in round 0).
    pub success: Option<bool>,
    /// Whether this round searched the pretrained surrogate's prior region (nothing valid
    /// simulated yet; `radius` = the prior radius) rather than a
    /// trust region; the trust region then starts afresh.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prior: bool,
    /// A prior round's centre: `training mean` or the training group whose best θ it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior_centre: Option<String>,
    /// Radius of this round's search and the counters after its update.
    #[serde(with = "exact::scalar")]
    pub radius: f64,
    pub successes: usize,
    pub failures: usize,
    /// The simulated θ, the ensemble's mean and spread there, and the simulated total costs.
    #[serde(with = "exact::matrix")]
    pub picks: Vec<Vec<f64>>,
    #[serde(with = "exact::vector")]
    pub predicted: Vec<f64>,
    #[serde(with = "exact::vector")]
    pub spread: Vec<f64>,
    #[serde(with = "exact::vector")]
    pub true_total: Vec<f64>,
    /// Wall times of the round's training, search and simulation (s).
    #[serde(with = "exact::scalar")]
    pub train_s: f64,
    #[serde(with = "exact::scalar")]
    pub search_s: f64,
    #[serde(with = "exact::scalar")]
    pub simulate_s: f64,
}

/// What a rounds directory was started with, compared key by key on resume
/// ([`jobs::settings::Manifest`]): the loop's settings, the seed, the starting table (rows and
/// summed valid cost), and what the simulations depend on besides θ ([`Simulate::inputs`]:
/// schedule, FCD window, data fingerprint), so a resume with another `--duration` or `--data`
/// is refused instead of mixing old rounds into a new run.
#[derive(Debug, Clone, Serialize)]
struct Manifest {
    config: ActiveConfig,
    seed: u64,
    /// Rows and summed valid total cost of the starting table (a run on other data is refused).
    initial_rows: usize,
    initial_cost_sum: f64,
    simulation: serde_json::Value,
    /// A pretrained surrogate's fine-tuning settings and fingerprint (absent when learning from
    /// scratch, so earlier manifests stay valid).
    #[serde(skip_serializing_if = "Option::is_none")]
    learner: Option<serde_json::Value>,
}

/// What the loop found.
#[derive(Debug, Clone)]
pub struct ActiveOutcome {
    /// The starting table and every simulated round.
    pub data: Samples,
    pub records: Vec<RoundRecord>,
    /// Best distinct simulated θ by the final ranking score (best first), with that score.
    pub candidates: Vec<(Theta, f64)>,
    /// The final ensemble (trained on `data`).
    pub ensemble: Ensemble,
}

/// Per-coordinate standard deviation of the valid θ of `samples`.
fn theta_scale(samples: &Samples) -> Result<[f64; N_THETA], OptimizeError> {
    let rows: Vec<&Theta> = samples
        .theta
        .iter()
        .zip(&samples.valid)
        .filter(|(_, v)| **v)
        .map(|(t, _)| t)
        .collect();
    if rows.len() < 2 {
        return Err(OptimizeError::config(
            "table",
            format!(
                "the starting table has {} valid rows; the loop needs at least 2",
                rows.len()
            ),
        ));
    }
    let n = rows.len() as f64;
    let mut scale = [0.0; N_THETA];
    for (d, s) in scale.iter_mut().enumerate() {
        let mean = rows.iter().map(|t| t[d]).sum::<f64>() / n;
        *s = (rows.iter().map(|t| (t[d] - mean).powi(2)).sum::<f64>() / n).sqrt();
    }
    if let Some(d) = flat_coordinate(&scale) {
        return Err(OptimizeError::config(
            "table",
            format!(
                "θ coordinate {} ({}) does not vary in the starting table; the trust region \
                 is measured in its standard deviations",
                d,
                pmfm_sim::params::THETA_NAMES[d]
            ),
        ));
    }
    Ok(scale)
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OptimizeError + '_ {
    move |source| OptimizeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn bad_file(path: &Path, message: impl Into<String>) -> OptimizeError {
    OptimizeError::Checkpoint {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn round_paths(dir: &Path, round: usize) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("round-{round:03}.parquet")),
        dir.join(format!("round-{round:03}.json")),
    )
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), OptimizeError> {
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| bad_file(path, format!("serialising: {e}")))?;
    Ok(jobs::durable::write_atomic(path, &bytes)?)
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, OptimizeError> {
    let bytes = fs::read(path).map_err(io_err(path))?;
    serde_json::from_slice(&bytes).map_err(|e| bad_file(path, format!("not a valid record: {e}")))
}

/// The rounds already on disk (in order, stopping at the first missing record), each checked
/// against its Parquet rows.
fn finished_rounds(dir: &Path) -> Result<Vec<(RoundRecord, Samples)>, OptimizeError> {
    let mut done = Vec::new();
    loop {
        let (rows_path, record_path) = round_paths(dir, done.len());
        if !record_path.exists() {
            return Ok(done);
        }
        let mut record: RoundRecord = read_json(&record_path)?;
        let rows = surrogate::table::read_samples(&rows_path)
            .map_err(|e| bad_file(&rows_path, e.to_string()))?;
        // The record's θ must be the rows' θ (compared with a tolerance so that a record edited
        // by hand in plain decimals still matches); the Parquet rows replace them.
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-300);
        let same =
            record.round == done.len()
                && rows.len() == record.picks.len()
                && rows.theta.iter().zip(&record.picks).all(|(t, p)| {
                    p.len() == N_THETA && t.iter().zip(p).all(|(a, b)| close(*a, *b))
                });
        if !same {
            return Err(bad_file(
                &rows_path,
                format!(
                    "does not hold the θ that {} records; delete both files to redo the round",
                    record_path.display()
                ),
            ));
        }
        record.picks = rows.theta.iter().map(|t| t.to_vec()).collect();
        record.true_total = rows.total_cost.clone();
        done.push((record, rows));
    }
}

fn predict(
    ens: &Ensemble,
    thetas: &[Theta],
) -> Result<surrogate::ensemble::EnsemblePrediction, OptimizeError> {
    ens.predict(thetas).map_err(|e| OptimizeError::Objective {
        objective: "surrogate".into(),
        message: e.to_string(),
    })
}

/// Rows of `data` ranked by `w·observed + (1 − w)·predicted` total cost (w = `observed_weight`;
/// valid rows the ensemble also believes valid; best first), as (row, score).
fn ranked_rows(
    ens: &Ensemble,
    data: &Samples,
    observed_weight: f64,
) -> Result<Vec<(usize, f64)>, OptimizeError> {
    let p = predict(ens, &data.theta)?;
    let w = observed_weight;
    let mut rows: Vec<(usize, f64)> = (0..data.len())
        .filter(|&k| data.valid[k] && p.p_valid[k] >= 0.5 && p.total[k].is_finite())
        .map(|k| (k, w * data.total_cost[k] + (1.0 - w) * p.total[k]))
        .collect();
    rows.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    if rows.is_empty() {
        return Err(OptimizeError::config(
            "table",
            "no simulated θ is valid: nothing to centre the trust region on",
        ));
    }
    Ok(rows)
}

/// The surrogate inside a trust region: `mean − k·spread` at θ in the box (and feasible).
struct RegionObjective<'a> {
    ens: &'a Ensemble,
    feasible: &'a dyn Fn(&Theta) -> bool,
    centre: Theta,
    half: Theta,
    explore_weight: f64,
}

impl RegionObjective<'_> {
    fn inside(&self, t: &Theta) -> bool {
        (0..N_THETA).all(|d| (t[d] - self.centre[d]).abs() <= self.half[d]) && (self.feasible)(t)
    }
}

impl Objective for RegionObjective<'_> {
    fn dim(&self) -> usize {
        N_THETA
    }

    fn cost(&mut self, population: &[Vec<f64>]) -> Result<Vec<Evaluation>, OptimizeError> {
        let thetas = to_thetas(population)?;
        let p = predict(self.ens, &thetas)?;
        Ok((0..thetas.len())
            .map(|k| {
                let c = p.total[k] - self.explore_weight * p.spread[k];
                if p.p_valid[k] >= 0.5 && c.is_finite() {
                    Evaluation::new(c).with_part("spread", p.spread[k])
                } else {
                    Evaluation::invalid(f64::MAX)
                }
            })
            .collect())
    }

    fn is_feasible(&self, x: &[f64]) -> bool {
        to_theta(x).is_ok_and(|t| self.inside(&t))
    }

    fn name(&self) -> String {
        format!("trust-region(k={})", self.explore_weight)
    }
}

/// A uniform draw from the trust region (rejection against feasibility; None if 10,000 draws
/// all fail).
fn draw_inside(region: &RegionObjective, rng: &mut ChaCha8Rng) -> Option<Theta> {
    (0..10_000).find_map(|_| {
        let t: Theta = std::array::from_fn(|d| {
            region.centre[d] + region.half[d] * rng.random_range(-1.0..=1.0)
        });
        region.inside(&t).then_some(t)
    })
}

/// RMS distance of two θ in units of the region's half-widths.
fn region_distance(a: &Theta, b: &Theta, half: &Theta) -> f64 {
    ((0..N_THETA)
        .map(|d| ((a[d] - b[d]) / half[d]).powi(2))
        .sum::<f64>()
        / N_THETA as f64)
        .sqrt()
}

/// The round's picks: the best distinct points of CMA-ES runs on the surrogate inside the
/// region, then uniform draws from it.
fn search(
    region: &mut RegionObjective,
    cfg: &ActiveConfig,
    seed: u64,
) -> Result<Vec<Theta>, OptimizeError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut seen: Vec<(Theta, f64)> = Vec::new();
    for s in 0..cfg.searches {
        let start = if s == 0 {
            Some(region.centre)
        } else {
            draw_inside(region, &mut rng)
        };
        let Some(start) = start else { continue };
        let mut cc = CmaConfig::new(start.to_vec(), 0.5);
        cc.initial_scale = Some(region.half.to_vec());
        cc.population = Some(cfg.search_population);
        cc.max_generations = cfg.search_generations;
        cc.bounds = BoundsHandling::Resample { max_tries: 10_000 };
        cc.seed = seed.wrapping_add(1 + s as u64);
        let mut table = RunTable::new("active", "search", "region");
        let mut observers: [&mut dyn optimize::objective::Observer; 1] = [&mut table];
        match minimize(&mut *region, &cc, &mut observers) {
            // A region that is nearly all infeasible ends a search early; its points still count.
            Ok(_) | Err(OptimizeError::ResampleExhausted { .. }) => {}
            Err(e) => return Err(e),
        }
        seen.extend(
            table
                .rows
                .iter()
                .filter(|r| r.valid)
                .filter_map(|r| Some((to_theta(&r.theta).ok()?, r.cost))),
        );
    }
    seen.sort_by(|a, b| a.1.total_cmp(&b.1));
    let n_random = ((cfg.batch as f64 * cfg.random_fraction).round() as usize).min(cfg.batch);
    let mut picks: Vec<Theta> = Vec::with_capacity(cfg.batch);
    let far = |p: &[Theta], t: &Theta| {
        p.iter()
            .all(|q| region_distance(q, t, &region.half) >= cfg.min_separation)
    };
    for (t, _) in &seen {
        if picks.len() >= cfg.batch - n_random {
            break;
        }
        if far(&picks, t) {
            picks.push(*t);
        }
    }
    while picks.len() < cfg.batch {
        match draw_inside(region, &mut rng) {
            Some(t) => picks.push(t),
            None => break,
        }
    }
    Ok(picks)
}

/// Puts `centre` first among `picks` (when feasible and not already picked), dropping the last
/// pick if the batch of `batch` is full: a prior box centred on an anchor simulates the anchor
/// itself, the one θ in it whose cost is known for a training group.
fn with_centre_first(
    picks: &mut Vec<Theta>,
    centre: &Theta,
    batch: usize,
    feasible: &dyn Fn(&Theta) -> bool,
) {
    if !feasible(centre) || picks.iter().any(|p| p == centre) {
        return;
    }
    if picks.len() >= batch {
        picks.truncate(batch.saturating_sub(1));
    }
    picks.insert(0, *centre);
}

/// Best distinct rows by the ranking score: at most `top`, each at least `min_separation`
/// (in starting-table standard deviations, RMS) from the ones before it.
fn best_distinct(
    ranked: &[(usize, f64)],
    data: &Samples,
    scale: &Theta,
    top: usize,
    min_separation: f64,
) -> Vec<(Theta, f64)> {
    let mut out: Vec<(Theta, f64)> = Vec::new();
    for &(k, p) in ranked {
        if out.len() >= top {
            break;
        }
        let t = data.theta[k];
        if out
            .iter()
            .all(|(q, _)| region_distance(q, &t, scale) > min_separation)
        {
            out.push((t, p));
        }
    }
    out
}

/// Where the loop stands between rounds: the data so far, the round records, the next global
/// row index and the trust region's radius with its success/failure counters.
struct LoopState {
    data: Samples,
    records: Vec<RoundRecord>,
    first_index: u64,
    radius: f64,
    successes: usize,
    failures: usize,
}

impl LoopState {
    /// The state after `records` (empty for a fresh run) on top of `data`.
    fn after(data: Samples, records: Vec<RoundRecord>, cfg: &ActiveConfig) -> Self {
        let first_index = data.index.iter().max().map_or(0, |m| m + 1);
        let (radius, successes, failures) = records
            .last()
            .filter(|r| !r.prior)
            .map_or((cfg.radius0, 0, 0), |r| (r.radius, r.successes, r.failures));
        Self {
            data,
            records,
            first_index,
            radius,
            successes,
            failures,
        }
    }

    /// Trust-region update for a round whose centre did (`Some(true)`) or did not come from the
    /// previous round's batch: `success_tol` successes in a row double the radius,
    /// `failure_tol` failures in a row halve it.
    fn update_radius(&mut self, success: Option<bool>, cfg: &ActiveConfig) {
        match success {
            Some(true) => {
                self.successes += 1;
                self.failures = 0;
            }
            Some(false) => {
                self.failures += 1;
                self.successes = 0;
            }
            None => {}
        }
        if self.successes >= cfg.success_tol {
            self.radius = (2.0 * self.radius).min(cfg.radius_max);
            self.successes = 0;
        }
        if self.failures >= cfg.failure_tol {
            self.radius = (0.5 * self.radius).max(cfg.radius_min);
            self.failures = 0;
        }
    }
}

/// Binds `dir` to this run ([`Manifest`], refused naming the first differing setting) and reads
/// the rounds already finished there.
fn resume<S: Simulate>(
    dir: &Path,
    initial: &Samples,
    sim: &S,
    learner: &Learner,
    cfg: &ActiveConfig,
    seed: u64,
) -> Result<Vec<(RoundRecord, Samples)>, OptimizeError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    // More rounds may be asked of a finished run; everything else must match.
    let manifest = Manifest {
        config: ActiveConfig {
            rounds: 0,
            ..cfg.clone()
        },
        seed,
        initial_rows: initial.len(),
        initial_cost_sum: (0..initial.len())
            .filter(|&k| initial.valid[k])
            .map(|k| initial.total_cost[k])
            .sum(),
        simulation: sim.inputs(),
        learner: learner.identity(),
    };
    let path = dir.join("active.json");
    let now = serde_json::to_value(&manifest)
        .map_err(|e| bad_file(&path, format!("serialising: {e}")))?;
    jobs::settings::Manifest::new(
        &path,
        "use another directory (--out) or the settings, data and schedule it was made with",
    )
    .check_or_write(&now)?;
    finished_rounds(dir)
}

/// Where a round searches.
struct RoundRegion {
    centre: Theta,
    centre_score: f64,
    /// Half-widths of the box, per coordinate, and the radius they came from.
    half: Theta,
    radius: f64,
    success: Option<bool>,
    /// A prior round's centre label.
    prior: Option<String>,
    /// Whether the batch simulates the centre itself (a prior round's anchor).
    simulate_centre: bool,
}

impl RoundRegion {
    /// The trust region: centred on the best-ranked simulated θ, its radius updated by whether
    /// the last batch produced that θ.
    fn trust(
        ens: &Ensemble,
        state: &mut LoopState,
        cfg: &ActiveConfig,
        scale: &Theta,
    ) -> Result<Self, OptimizeError> {
        let ranked = ranked_rows(ens, &state.data, cfg.observed_weight)?;
        let (centre_row, centre_score) = ranked[0];
        let centre = state.data.theta[centre_row];
        let success = state
            .records
            .last()
            .map(|r| r.picks.iter().any(|p| p[..] == centre[..]));
        state.update_radius(success, cfg);
        let radius = state.radius;
        Ok(Self {
            centre,
            centre_score,
            half: std::array::from_fn(|d| radius * scale[d]),
            radius,
            success,
            prior: None,
            simulate_centre: false,
        })
    }

    /// A pretrained surrogate's prior region (nothing valid simulated yet), its centre scored
    /// by the surrogate.
    fn prior(ens: &Ensemble, prior: PriorBox) -> Result<Self, OptimizeError> {
        let centre_score = predict(ens, &[prior.centre])?.total[0];
        Ok(Self {
            centre: prior.centre,
            centre_score,
            half: prior.half,
            radius: prior.radius,
            success: None,
            prior: Some(prior.label),
            simulate_centre: prior.simulate_centre,
        })
    }
}

/// Round `round`: learn from all data, centre the trust region on the best-ranked simulated θ
/// and update its radius (or, with a pretrained learner and nothing valid simulated yet, take
/// its prior region), search the surrogate inside the region and simulate the picks.
#[allow(clippy::too_many_arguments)]
fn run_round<S: Simulate>(
    state: &mut LoopState,
    sim: &mut S,
    learner: &Learner,
    cfg: &ActiveConfig,
    seed: u64,
    scale: &Theta,
    round: usize,
    device: &Device,
) -> Result<(RoundRecord, Samples), OptimizeError> {
    let t0 = Instant::now();
    let ens = learner.learn(&state.data, cfg, seed, round, device)?;
    let prior = if any_valid(&state.data) {
        None
    } else {
        learner.prior_region()?
    };
    let region = match prior {
        Some(prior) => RoundRegion::prior(&ens, prior)?,
        None => RoundRegion::trust(&ens, state, cfg, scale)?,
    };
    let train_s = t0.elapsed().as_secs_f64();
    let RoundRegion {
        centre,
        centre_score,
        half,
        radius,
        success,
        prior: prior_centre,
        simulate_centre,
    } = region;

    let t1 = Instant::now();
    let feasible = |t: &Theta| sim.is_feasible(t);
    let mut region = RegionObjective {
        ens: &ens,
        feasible: &feasible,
        centre,
        half,
        explore_weight: cfg.explore_weight,
    };
    let mut picks = search(&mut region, cfg, batch_seed(seed ^ 0xAC71_5EA5, round))?;
    if simulate_centre {
        with_centre_first(&mut picks, &centre, cfg.batch, &feasible);
    }
    let search_s = t1.elapsed().as_secs_f64();
    if picks.is_empty() {
        return Err(OptimizeError::config(
            "active",
            format!("round {round}: no feasible θ in the trust region around {centre:?}"),
        ));
    }
    let p = predict(&ens, &picks)?;

    let t2 = Instant::now();
    let rows = sim.simulate(&picks, round, state.first_index)?;
    let simulate_s = t2.elapsed().as_secs_f64();
    if rows.len() != picks.len() {
        return Err(OptimizeError::EvaluationCount {
            objective: "simulator".into(),
            expected: picks.len(),
            got: rows.len(),
        });
    }
    state.first_index += picks.len() as u64;
    let record = RoundRecord {
        round,
        centre: centre.to_vec(),
        centre_score,
        success,
        prior: prior_centre.is_some(),
        prior_centre,
        radius,
        successes: state.successes,
        failures: state.failures,
        picks: picks.iter().map(|t| t.to_vec()).collect(),
        predicted: p.total.clone(),
        spread: p.spread.clone(),
        true_total: rows.total_cost.clone(),
        train_s,
        search_s,
        simulate_s,
    };
    Ok((record, rows))
}

/// Writes a finished round: its rows, then its record (last, atomically), so a record on disk
/// always has its rows.
fn save_round(dir: &Path, record: &RoundRecord, rows: &Samples) -> Result<(), OptimizeError> {
    let (rows_path, record_path) = round_paths(dir, record.round);
    surrogate::table::write_samples(&rows_path, rows)
        .map_err(|e| bad_file(&rows_path, e.to_string()))?;
    write_json(&record_path, record)
}

/// One progress line for a finished round.
fn log_round(r: &RoundRecord, rows: &Samples) {
    let valid: Vec<f64> = (0..rows.len())
        .filter(|&k| rows.valid[k])
        .map(|k| rows.total_cost[k])
        .collect();
    let best = valid.iter().copied().fold(f64::INFINITY, f64::min);
    let mean = valid.iter().sum::<f64>() / valid.len().max(1) as f64;
    eprintln!(
        "active round {}: centre score {:.4}, radius {:.3}{}, batch of {} simulated: mean \
         {mean:.4}, best {best:.4} (train {:.1} s, search {:.1} s, simulate {:.1} s)",
        r.round,
        r.centre_score,
        r.radius,
        match (&r.prior_centre, r.success) {
            (Some(c), _) => format!(" (prior box around the {c})"),
            (None, Some(true)) => " (success)".into(),
            (None, Some(false)) => " (failure)".into(),
            (None, None) => String::new(),
        },
        rows.len(),
        r.train_s,
        r.search_s,
        r.simulate_s
    );
}

/// Runs the loop from the starting table `initial` (see the module documentation). `seed` fixes
/// the surrogates, the searches and (through `sim`) the simulation noise; `dir` (if given) holds
/// the rounds and makes the run resumable; `top` candidates are returned; `log` prints a line per
/// round.
#[allow(clippy::too_many_arguments)]
pub fn run_active<S: Simulate>(
    initial: &Samples,
    sim: &mut S,
    learner: &Learner,
    cfg: &ActiveConfig,
    seed: u64,
    top: usize,
    device: &Device,
    dir: Option<&Path>,
    log: bool,
) -> Result<ActiveOutcome, OptimizeError> {
    cfg.check()?;
    if top == 0 {
        return Err(OptimizeError::config(
            "validate_top",
            "need at least one candidate to validate, got 0",
        ));
    }
    let scale = learner.scale(initial, theta_scale)?;
    let mut data = initial.clone();
    let mut records: Vec<RoundRecord> = Vec::new();
    if let Some(dir) = dir {
        for (record, rows) in resume(dir, initial, sim, learner, cfg, seed)? {
            data.extend(&rows);
            records.push(record);
        }
        if log && !records.is_empty() {
            eprintln!("active: resuming after {} finished rounds", records.len());
        }
    }
    let mut state = LoopState::after(data, records, cfg);
    for round in state.records.len()..cfg.rounds {
        let (record, rows) = run_round(&mut state, sim, learner, cfg, seed, &scale, round, device)?;
        if let Some(dir) = dir {
            save_round(dir, &record, &rows)?;
        }
        if log {
            log_round(&record, &rows);
        }
        state.data.extend(&rows);
        state.records.push(record);
    }
    let LoopState { data, records, .. } = state;
    let ensemble = learner.learn(&data, cfg, seed, records.len(), device)?;
    let ranked = ranked_rows(&ensemble, &data, cfg.observed_weight)?;
    let candidates = best_distinct(&ranked, &data, &scale, top, 0.01);
    Ok(ActiveOutcome {
        data,
        records,
        candidates,
        ensemble,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A noisy bowl in θ (standardised by `scale`): cost = 0.05·‖(θ − θ*)/scale‖² + noise,
    /// feasible in a box. Known optimum, so the loop's progress is measurable.
    struct Bowl {
        optimum: Theta,
        scale: Theta,
        lower: Theta,
        upper: Theta,
        noise_sd: f64,
        calls: usize,
    }

    impl Bowl {
        fn new() -> Self {
            let optimum = [
                0.6, -0.05, 0.01, 0.27, 0.01, -0.01, 6.4, 0.0056, -0.0002, 0.0001,
            ];
            let scale = [
                0.1, 0.05, 0.05, 0.03, 0.02, 0.02, 0.5, 0.0004, 0.0002, 0.0002,
            ];
            Self {
                optimum,
                scale,
                lower: std::array::from_fn(|d| optimum[d] - 6.0 * scale[d]),
                upper: std::array::from_fn(|d| optimum[d] + 6.0 * scale[d]),
                noise_sd: 0.02,
                calls: 0,
            }
        }

        fn truth(&self, t: &Theta) -> f64 {
            0.05 * (0..N_THETA)
                .map(|d| ((t[d] - self.optimum[d]) / self.scale[d]).powi(2))
                .sum::<f64>()
        }

        /// `n` θ uniform in a box of ±1.5 scale around a start 3 scales off the optimum.
        fn start_table(&mut self, n: usize, seed: u64) -> Samples {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let thetas: Vec<Theta> = (0..n)
                .map(|_| {
                    std::array::from_fn(|d| {
                        self.optimum[d] + self.scale[d] * (3.0 + rng.random_range(-1.5..=1.5))
                    })
                })
                .collect();
            self.rows(&thetas, 0, 99)
        }

        fn rows(&self, thetas: &[Theta], first_index: u64, seed: u64) -> Samples {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let n = thetas.len();
            let total: Vec<f64> = thetas
                .iter()
                .map(|t| {
                    let z: f64 = rng.sample(rand_distr::StandardNormal);
                    self.truth(t) + self.noise_sd * z
                })
                .collect();
            Samples {
                index: (first_index..first_index + n as u64).collect(),
                theta: thetas.to_vec(),
                fc_cost: total.iter().map(|c| 0.5 * c).collect(),
                ks_cost: total.iter().map(|c| 0.5 * c).collect(),
                total_cost: total,
                valid: vec![true; n],
                n_dup: vec![1; n],
                seed: vec![seed; n],
                dataset: vec!["bowl".into(); n],
                design: vec![DESIGN.into(); n],
                wall_s: vec![0.0; n],
            }
        }
    }

    impl Simulate for Bowl {
        fn simulate(
            &mut self,
            thetas: &[Theta],
            round: usize,
            first_index: u64,
        ) -> Result<Samples, OptimizeError> {
            assert!(
                thetas.iter().all(|t| self.is_feasible(t)),
                "infeasible θ simulated"
            );
            self.calls += 1;
            Ok(self.rows(thetas, first_index, 1000 + round as u64))
        }

        fn is_feasible(&self, t: &Theta) -> bool {
            (0..N_THETA).all(|d| (self.lower[d]..=self.upper[d]).contains(&t[d]))
        }

        fn inputs(&self) -> serde_json::Value {
            serde_json::json!({ "noise_sd": self.noise_sd })
        }
    }

    fn small(rounds: usize) -> ActiveConfig {
        ActiveConfig {
            rounds,
            batch: 16,
            ensemble: 2,
            model: ModelConfig {
                depth: 2,
                width: 32,
                ..ModelConfig::default()
            },
            train: TrainConfig {
                epochs: 150,
                batch_size: 32,
                learning_rate: 3e-3,
                patience: 20,
                ..TrainConfig::default()
            },
            searches: 2,
            search_population: 16,
            search_generations: 20,
            ..ActiveConfig::default()
        }
    }

    fn device() -> Device {
        Device::flex()
    }

    /// The loop on a fresh bowl (seed 5, 3 candidates); also returns the simulator calls.
    fn run_bowl(
        initial: &Samples,
        cfg: &ActiveConfig,
        dir: Option<&Path>,
    ) -> (Result<ActiveOutcome, OptimizeError>, usize) {
        let mut sim = Bowl::new();
        let out = run_active(
            initial,
            &mut sim,
            &Learner::Scratch,
            cfg,
            5,
            3,
            &device(),
            dir,
            false,
        );
        (out, sim.calls)
    }

    /// Eight rounds of [`small`] on `bowl` from `initial` (seed 3, 4 candidates).
    fn eight_rounds(initial: &Samples, bowl: &mut Bowl, learner: &Learner) -> ActiveOutcome {
        run_active(
            initial,
            bowl,
            learner,
            &small(8),
            3,
            4,
            &device(),
            None,
            false,
        )
        .unwrap()
    }

    #[test]
    fn rounds_move_the_simulated_points_to_the_optimum() {
        let mut bowl = Bowl::new();
        let initial = bowl.start_table(128, 1);
        let best_initial = initial
            .theta
            .iter()
            .map(|t| bowl.truth(t))
            .fold(f64::INFINITY, f64::min);
        let out = eight_rounds(&initial, &mut bowl, &Learner::Scratch);
        assert_eq!(bowl.calls, 8);
        assert_eq!(out.data.len(), 128 + 8 * 16);
        let round_mean = |r: &RoundRecord| {
            r.picks
                .iter()
                .map(|p| bowl.truth(&to_theta(p).unwrap()))
                .sum::<f64>()
                / r.picks.len() as f64
        };
        let means: Vec<f64> = out.records.iter().map(round_mean).collect();
        for r in &out.records {
            eprintln!(
                "round {}: radius {} success {:?} centre truth {:.3}",
                r.round,
                r.radius,
                r.success,
                bowl.truth(&to_theta(&r.centre).unwrap())
            );
        }
        eprintln!("initial best {best_initial:.3}, round means {means:.3?}");
        // The last rounds' picks are, on average, five times better than the best starting θ,
        // and so is the candidate the final ensemble ranks best.
        let late = (means[6] + means[7]) / 2.0;
        assert!(
            late < 0.2 * best_initial,
            "late rounds {late} vs initial best {best_initial}"
        );
        assert!(means[7] < means[0], "rounds did not improve: {means:?}");
        let cand = bowl.truth(&out.candidates[0].0);
        assert!(
            cand < 0.2 * best_initial,
            "candidate {cand} vs initial best {best_initial}"
        );
        // Every pick stayed inside its round's trust region.
        for r in &out.records {
            for p in &r.picks {
                for d in 0..N_THETA {
                    let half = r.radius * theta_scale(&initial).unwrap()[d];
                    assert!((p[d] - r.centre[d]).abs() <= half * (1.0 + 1e-12));
                }
            }
        }
    }

    /// A record without its wall times (which differ between runs).
    fn untimed(r: &RoundRecord) -> RoundRecord {
        RoundRecord {
            train_s: 0.0,
            search_s: 0.0,
            simulate_s: 0.0,
            ..r.clone()
        }
    }

    #[test]
    fn a_killed_run_resumes_to_the_uninterrupted_result() {
        let dir = std::env::temp_dir().join(format!("active-resume-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let initial = Bowl::new().start_table(96, 2);
        let cfg = small(3);
        let full = run_bowl(&initial, &cfg, None).0.unwrap();

        // Killed after two rounds, while the third round's rows were being written.
        let (first, calls) = run_bowl(&initial, &small(2), Some(&dir));
        first.unwrap();
        assert_eq!(calls, 2);
        fs::write(dir.join("round-002.parquet"), b"half a file").unwrap();
        let (resumed, calls) = run_bowl(&initial, &cfg, Some(&dir));
        let resumed = resumed.unwrap();
        assert_eq!(calls, 1, "only the missing round is simulated");
        assert_eq!(resumed.records.len(), 3);
        for (a, b) in resumed.records.iter().zip(&full.records) {
            let (a, b) = (untimed(a), untimed(b));
            assert_eq!(
                (a.round, a.success, a.radius),
                (b.round, b.success, b.radius)
            );
            assert_eq!((a.successes, a.failures), (b.successes, b.failures));
            assert_eq!((&a.picks, &a.true_total), (&b.picks, &b.true_total));
            let near = |x: &[f64], y: &[f64]| {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|(p, q)| (p - q).abs() <= 1e-12 * q.abs())
            };
            assert!(near(&a.centre, &b.centre) && near(&a.predicted, &b.predicted));
        }
        assert_eq!(resumed.data.theta, full.data.theta);
        assert_eq!(resumed.data.total_cost, full.data.total_cost);
        assert_eq!(resumed.candidates, full.candidates);

        // Another batch size is refused, naming the manifest.
        let other = ActiveConfig {
            batch: 8,
            ..cfg.clone()
        };
        let err = run_bowl(&initial, &other, Some(&dir))
            .0
            .unwrap_err()
            .to_string();
        assert!(err.contains("active.json"), "{err}");

        // A round file that does not hold its record's θ is named.
        let mut rec: RoundRecord = read_json(&dir.join("round-001.json")).unwrap();
        rec.picks[0][0] += 1.0;
        write_json(&dir.join("round-001.json"), &rec).unwrap();
        let err = run_bowl(&initial, &cfg, Some(&dir))
            .0
            .unwrap_err()
            .to_string();
        assert!(err.contains("round-001.parquet"), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_resume_with_other_simulation_inputs_is_refused_naming_them() {
        let dir = std::env::temp_dir().join(format!("active-inputs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let initial = Bowl::new().start_table(64, 4);
        let (first, calls) = run_bowl(&initial, &small(1), Some(&dir));
        first.unwrap();
        assert_eq!(calls, 1);
        let mut noisier = Bowl {
            noise_sd: 2.0 * Bowl::new().noise_sd,
            ..Bowl::new()
        };
        let err = run_active(
            &initial,
            &mut noisier,
            &Learner::Scratch,
            &small(2),
            5,
            3,
            &device(),
            Some(&dir),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("active.json") && err.contains("simulation.noise_sd"),
            "{err}"
        );
        assert_eq!(
            noisier.calls, 0,
            "nothing is simulated for a refused resume"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_settings_and_tables_are_refused() {
        let initial = Bowl::new().start_table(32, 3);
        let bad = ActiveConfig {
            radius0: 5.0,
            ..small(1)
        };
        let err = run_bowl(&initial, &bad, None).0.unwrap_err().to_string();
        assert!(err.contains("radius"), "{err}");
        let mut flat = initial.clone();
        for t in &mut flat.theta {
            t[6] = 6.0;
        }
        let err = run_bowl(&flat, &small(1), None).0.unwrap_err().to_string();
        assert!(err.contains("coordinate 6 (g) does not vary"), "{err}");
    }

    /// An MLP ensemble trained on 384 rows of a bowl whose optimum lies 1.5 scales off the true
    /// one on every coordinate (a surrogate of a similar but different group), `members`
    /// members from `seed`.
    fn pretrained_on_a_shifted_bowl(members: u64, seed: u64) -> Ensemble {
        let truth = Bowl::new();
        let mut prior = Bowl::new();
        prior.optimum = std::array::from_fn(|d| truth.optimum[d] + 1.5 * truth.scale[d]);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let thetas: Vec<Theta> = (0..384)
            .map(|_| {
                std::array::from_fn(|d| {
                    prior.optimum[d] + prior.scale[d] * rng.random_range(-3.0..=3.0)
                })
            })
            .collect();
        let rows = prior.rows(&thetas, 0, seed);
        let cfg = small(1);
        let seeds: Vec<u64> = (0..members).map(|m| seed + m).collect();
        Ensemble::fit(
            &rows,
            None,
            &cfg.model,
            &cfg.train,
            &seeds,
            &device(),
            &mut |_, _| {},
        )
        .unwrap()
        .0
    }

    /// `ens` as the loop's pretrained learner with `tune`.
    fn pretrained<'a>(ens: &'a Ensemble, tune: &crate::learner::TuneConfig) -> Learner<'a> {
        Learner::Pretrained(crate::learner::Pretrained::new(ens, tune).unwrap())
    }

    /// [`tune`] with seed ensembles trained from scratch after the prior round.
    fn then_scratch() -> crate::learner::TuneConfig {
        crate::learner::TuneConfig {
            then: crate::learner::LaterRounds::Scratch,
            ..tune()
        }
    }

    /// Fine-tuning settings of the tests, the prior box around the training mean.
    fn tune() -> crate::learner::TuneConfig {
        crate::learner::TuneConfig {
            epochs: 30,
            learning_rate: Some(3e-3),
            batch_size: 8,
            prior_radius: 3.0,
            then: crate::learner::LaterRounds::FineTune,
            prior_centre: crate::learner::PriorCentre::Mean,
        }
    }

    /// An MLP ensemble trained on two groups' rows: 96 of `near` (the true bowl, θ within ±2
    /// scales of its optimum) and 288 of `far` (a bowl 6 scales off on every coordinate whose
    /// costs are 1 higher, θ within ±1.5 scales of its optimum), so the training mean lies
    /// 4.5 scales off, in the far group's region.
    fn pretrained_on_two_groups(seed: u64) -> Ensemble {
        let near = Bowl::new();
        let mut far = Bowl::new();
        far.optimum = std::array::from_fn(|d| near.optimum[d] + 6.0 * near.scale[d]);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut cloud = |bowl: &Bowl, n: usize, half: f64| -> Vec<Theta> {
            (0..n)
                .map(|_| {
                    std::array::from_fn(|d| {
                        bowl.optimum[d] + bowl.scale[d] * rng.random_range(-half..=half)
                    })
                })
                .collect()
        };
        let (tn, tf) = (cloud(&near, 96, 2.0), cloud(&far, 288, 1.5));
        let mut rows = near.rows(&tn, 0, seed);
        rows.dataset = vec!["near".into(); 96];
        let mut far_rows = far.rows(&tf, 96, seed + 1);
        far_rows.dataset = vec!["far".into(); 288];
        for k in 0..far_rows.len() {
            far_rows.total_cost[k] += 1.0;
            far_rows.fc_cost[k] += 1.0;
        }
        rows.extend(&far_rows);
        let cfg = small(1);
        Ensemble::fit(
            &rows,
            None,
            &cfg.model,
            &cfg.train,
            &[seed],
            &device(),
            &mut |_, _| {},
        )
        .unwrap()
        .0
    }

    /// The centre goes first and the batch keeps its size; an infeasible centre or one already
    /// picked changes nothing; a short batch grows by one.
    #[test]
    fn the_centre_is_put_first_once_and_only_when_feasible() {
        let t = |v: f64| -> Theta { [v; N_THETA] };
        let yes = |_: &Theta| true;
        let mut picks = vec![t(1.0), t(2.0), t(3.0)];
        with_centre_first(&mut picks, &t(0.0), 3, &yes);
        assert_eq!(picks, [t(0.0), t(1.0), t(2.0)]);
        with_centre_first(&mut picks, &t(1.0), 3, &yes);
        assert_eq!(picks, [t(0.0), t(1.0), t(2.0)]);
        let no = |x: &Theta| x[0] != 9.0;
        with_centre_first(&mut picks, &t(9.0), 3, &no);
        assert_eq!(picks, [t(0.0), t(1.0), t(2.0)]);
        let mut short = vec![t(1.0)];
        with_centre_first(&mut short, &t(0.0), 3, &yes);
        assert_eq!(short, [t(0.0), t(1.0)]);
    }

    /// With anchors, the prior box centres on the training group's best θ that the surrogate
    /// predicts lowest (the near group's; the mean of all training θ is 4.5 scales away), and
    /// its first batch gets below the lowest true cost anywhere in the mean's box.
    #[test]
    fn the_prior_box_centres_on_the_best_predicted_anchor() {
        let ens = pretrained_on_two_groups(5);
        let anchors = ens.anchors();
        let names: Vec<&str> = anchors.iter().map(|a| a.group.as_str()).collect();
        assert_eq!(names, ["far", "near"]);
        let support = ens.input_support().unwrap();
        let first_round = |centre: crate::learner::PriorCentre| {
            let t = crate::learner::TuneConfig {
                prior_radius: 1.0,
                prior_centre: centre,
                ..tune()
            };
            let learner = pretrained(&ens, &t);
            let mut bowl = Bowl::new();
            let out = run_active(
                &Samples::default(),
                &mut bowl,
                &learner,
                &small(1),
                3,
                4,
                &device(),
                None,
                false,
            )
            .unwrap();
            let r = out.records[0].clone();
            let best = r
                .picks
                .iter()
                .map(|p| bowl.truth(&std::array::from_fn(|d| p[d])))
                .fold(f64::INFINITY, f64::min);
            (r, best)
        };
        let (best, best_cost) = first_round(crate::learner::PriorCentre::Best);
        assert_eq!(best.prior_centre.as_deref(), Some("best θ of near"));
        assert_eq!(best.centre, anchors[1].theta.to_vec());
        // The anchor itself is simulated first, and the batch keeps its size.
        assert_eq!(best.picks[0], anchors[1].theta.to_vec());
        for p in &best.picks {
            for d in 0..N_THETA {
                assert!((p[d] - best.centre[d]).abs() <= support.std[d] * (1.0 + 1e-12));
            }
        }
        let (mean, mean_cost) = first_round(crate::learner::PriorCentre::Mean);
        assert_eq!(mean.prior_centre.as_deref(), Some("training mean"));
        assert_eq!(mean.centre, support.mean);
        assert!(mean.picks.iter().all(|p| p[..] != support.mean[..]));
        assert_eq!(best.picks.len(), mean.picks.len());
        // The lowest true cost in the mean's box: each coordinate as close to the optimum as
        // the box allows.
        let bowl = Bowl::new();
        let floor = 0.05
            * (0..N_THETA)
                .map(|d| {
                    let gap = (mean.centre[d] - bowl.optimum[d]).abs() - support.std[d];
                    (gap.max(0.0) / bowl.scale[d]).powi(2)
                })
                .sum::<f64>();
        eprintln!(
            "first batch's best truth: anchor box {best_cost:.3}, mean box {mean_cost:.3} \
             (its floor {floor:.3})"
        );
        assert!(
            floor > 0.5,
            "the mean's box should exclude the optimum: floor {floor}"
        );
        assert!(mean_cost >= floor);
        assert!(
            best_cost < floor,
            "{best_cost} vs the mean box's floor {floor}"
        );
    }

    /// From a surrogate of a shifted bowl and nothing simulated: the first round searches the
    /// prior box (training mean ± 3 training sd) and later rounds, fine-tuning on the true
    /// bowl's rows, bring the candidate to within a fifth of the cost of the surrogate's own
    /// optimum (1.125 on the true bowl). Learning from scratch cannot start without a table.
    #[test]
    fn a_pretrained_surrogate_starts_the_loop_without_a_table_and_is_corrected() {
        let ens = pretrained_on_a_shifted_bowl(2, 11);
        let learner = pretrained(&ens, &tune());
        let mut bowl = Bowl::new();
        let shifted: Theta = std::array::from_fn(|d| bowl.optimum[d] + 1.5 * bowl.scale[d]);
        let at_prior_optimum = bowl.truth(&shifted);
        let empty = Samples::default();
        let out = eight_rounds(&empty, &mut bowl, &learner);
        assert_eq!(bowl.calls, 8);
        assert_eq!(out.data.len(), 8 * 16);
        let support = ens.input_support().unwrap();
        let first = &out.records[0];
        assert!(first.prior && first.success.is_none() && first.radius == 3.0);
        assert!(out.records[1..].iter().all(|r| !r.prior));
        assert_eq!(out.records[1].radius, small(8).radius0);
        for (d, m) in support.mean.iter().enumerate() {
            assert_eq!(first.centre[d], *m);
            for p in &first.picks {
                assert!((p[d] - m).abs() <= 3.0 * support.std[d] * (1.0 + 1e-12));
            }
        }
        let cand = bowl.truth(&out.candidates[0].0);
        eprintln!(
            "candidate truth {cand:.4} against {at_prior_optimum:.4} at the surrogate's optimum"
        );
        assert!(
            cand < 0.2 * at_prior_optimum,
            "candidate {cand} vs {at_prior_optimum} at the pretrained optimum"
        );

        // The same with seed ensembles trained from scratch after the prior round.
        let learner = pretrained(&ens, &then_scratch());
        let out = eight_rounds(&empty, &mut Bowl::new(), &learner);
        assert!(out.records[0].prior && out.records[0].centre == first.centre);
        assert_eq!(out.records[0].picks, first.picks, "the same prior round");
        let cand = Bowl::new().truth(&out.candidates[0].0);
        assert!(cand < 0.2 * at_prior_optimum, "then scratch: {cand}");

        let err = run_bowl(&empty, &small(1), None).0.unwrap_err().to_string();
        assert!(err.contains("0 valid rows"), "{err}");
    }

    #[test]
    fn a_pretrained_run_resumes_and_refuses_another_surrogate() {
        let dir = std::env::temp_dir().join(format!("active-tuned-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let ens = pretrained_on_a_shifted_bowl(1, 11);
        let learner = pretrained(&ens, &tune());
        let empty = Samples::default();
        let run = |rounds: usize, learner: &Learner, dir: Option<&Path>| {
            let mut bowl = Bowl::new();
            let out = run_active(
                &empty,
                &mut bowl,
                learner,
                &small(rounds),
                5,
                3,
                &device(),
                dir,
                false,
            );
            (out, bowl.calls)
        };
        let full = run(3, &learner, None).0.unwrap();
        let (first, calls) = run(2, &learner, Some(&dir));
        first.unwrap();
        assert_eq!(calls, 2);
        let (resumed, calls) = run(3, &learner, Some(&dir));
        let resumed = resumed.unwrap();
        assert_eq!(calls, 1, "only the missing round is simulated");
        for (a, b) in resumed.records.iter().zip(&full.records) {
            assert_eq!(
                (a.prior, a.radius, a.success),
                (b.prior, b.radius, b.success)
            );
            assert_eq!((&a.picks, &a.true_total), (&b.picks, &b.true_total));
        }
        assert_eq!(resumed.candidates, full.candidates);

        // Another pretrained surrogate (other weights) is refused, naming its fingerprint.
        let other = pretrained_on_a_shifted_bowl(1, 12);
        let learner = pretrained(&other, &tune());
        let err = run(3, &learner, Some(&dir)).0.unwrap_err().to_string();
        assert!(
            err.contains("active.json") && err.contains("learner.surrogate_fingerprint"),
            "{err}"
        );
        // So is the same surrogate with scratch ensembles after the prior round.
        let learner = pretrained(&ens, &then_scratch());
        let err = run(3, &learner, Some(&dir)).0.unwrap_err().to_string();
        assert!(err.contains("learner.then"), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_tuning_settings_are_refused_naming_them() {
        let ens = pretrained_on_a_shifted_bowl(1, 11);
        for (t, field) in [
            (
                crate::learner::TuneConfig {
                    epochs: 0,
                    ..tune()
                },
                "tune.epochs",
            ),
            (
                crate::learner::TuneConfig {
                    batch_size: 0,
                    ..tune()
                },
                "tune.batch_size",
            ),
            (
                crate::learner::TuneConfig {
                    learning_rate: Some(-1.0),
                    ..tune()
                },
                "tune.learning_rate",
            ),
            (
                crate::learner::TuneConfig {
                    prior_radius: f64::NAN,
                    ..tune()
                },
                "tune.prior_radius",
            ),
        ] {
            let err = crate::learner::Pretrained::new(&ens, &t)
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
    }
}
