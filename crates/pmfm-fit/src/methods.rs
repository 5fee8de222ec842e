//! The pMFM fitting methods that `fit` and `compare-optimizers` run, each ending with the same
//! validation step: the top-K distinct candidates of the search are re-simulated with the Euler
//! simulator (fresh noise, `n_dup_validate` duplicates), and the best *validated* cost is the
//! method's result.
//!
//! * `euler-cmaes`: CMA-ES on the simulator (the reference procedure).
//! * `surrogate-cmaes`: CMA-ES on a surrogate (ensemble), no simulation during the search.
//! * `surrogate-gd`: multi-start Adam through the surrogate.
//!   With `anchor_candidates` = k, both validate the k training groups' best θ (the surrogate's
//!   anchors) that the surrogate scores lowest for the fitted group, beside their own best.
//! * `random`: uniform random search with the simulator (baseline).
//! * `surrogate-active`: the active-learning trust-region loop of [`crate::active`], from a
//!   starting table: the surrogate picks what the simulator runs next, round after round, and
//!   the best-ranked simulated θ (observed and predicted cost) are the candidates.
//! * `surrogate-tuned`: the same loop from the trained surrogate instead of seed ensembles
//!   trained from scratch ([`crate::learner`]): each round fine-tunes it on the fitted group's
//!   simulations so far; no starting table needed (one is used if given).
//! * `reference`: no search; given candidates (e.g. the published fit's) go through the same
//!   validation, so they sit in the comparison table on equal terms.

use std::path::Path;
use std::time::Instant;

use burn::tensor::Device;
use optimize::cma::{check_population, minimize, BoundsHandling, CmaConfig};
use optimize::objective::{
    evaluate_batch, BatchContext, Evaluation, LogObserver, Objective, Observer,
};
use optimize::OptimizeError;
use pmfm_sim::params::{fit_linear_map, is_feasible, Bounds, Theta, N_THETA};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use surrogate::design::{Design, DesignSpace};
use surrogate::ensemble::Ensemble;
use surrogate::evaluator::Evaluator;
use surrogate::samples::Samples;

use crate::active::{run_active, ActiveConfig, EulerSimulate};
use crate::gradient::{descend, GradientConfig};
use crate::inputs::SimInputs;
use crate::learner::{Learner, Pretrained, TuneConfig};
use crate::run_table::{RunRow, RunTable};
use crate::sim_objective::{to_theta, EulerObjective};
use crate::support::{DataSupport, SupportGuard};
use crate::surrogate_objective::{SurrogateCostConfig, SurrogateObjective};

/// A fitting method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    EulerCmaes,
    SurrogateCmaes,
    SurrogateGd,
    SurrogateActive,
    SurrogateTuned,
    Random,
    Reference,
}

impl Method {
    pub fn name(&self) -> &'static str {
        match self {
            Method::EulerCmaes => "euler-cmaes",
            Method::SurrogateCmaes => "surrogate-cmaes",
            Method::SurrogateGd => "surrogate-gd",
            Method::SurrogateActive => "surrogate-active",
            Method::SurrogateTuned => "surrogate-tuned",
            Method::Random => "random",
            Method::Reference => "reference",
        }
    }

    pub fn parse(s: &str) -> Result<Self, OptimizeError> {
        match s.trim() {
            "euler-cmaes" => Ok(Method::EulerCmaes),
            "surrogate-cmaes" => Ok(Method::SurrogateCmaes),
            "surrogate-gd" => Ok(Method::SurrogateGd),
            "surrogate-active" => Ok(Method::SurrogateActive),
            "surrogate-tuned" => Ok(Method::SurrogateTuned),
            "random" => Ok(Method::Random),
            "reference" => Ok(Method::Reference),
            other => Err(OptimizeError::config(
                "method",
                format!(
                    "unknown method '{other}' (euler-cmaes, surrogate-cmaes, surrogate-gd, surrogate-active, surrogate-tuned, random, reference)"
                ),
            )),
        }
    }

    pub fn needs_surrogate(&self) -> bool {
        matches!(
            self,
            Method::SurrogateCmaes | Method::SurrogateGd | Method::SurrogateTuned
        )
    }

    /// Whether the method starts from a parameter→cost table (and trains its own surrogates).
    pub fn needs_table(&self) -> bool {
        matches!(self, Method::SurrogateActive)
    }
}

/// Settings shared by the methods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MethodConfig {
    /// CMA-ES population λ and parents μ.
    pub population: usize,
    pub parents: usize,
    pub sigma0: f64,
    /// CMA-ES generations.
    pub generations: usize,
    /// Population and generations of CMA-ES on a surrogate, where evaluations cost next to
    /// nothing (default: the same as on the simulator). Parents keep their ratio to λ.
    pub surrogate_population: Option<usize>,
    pub surrogate_generations: Option<usize>,
    /// Duplicates per θ during a simulator-driven search.
    pub n_dup: usize,
    /// Candidates re-simulated at the end, and their duplicates.
    pub validate_top: usize,
    pub n_dup_validate: usize,
    /// Of the `validate_top` candidates of `surrogate-cmaes` and `surrogate-gd`, this many are
    /// the surrogate's anchors (its training groups' best simulated θ) that it scores lowest
    /// for the fitted group; the search's best fill the rest. 0: the search's best only (not
    /// written when 0, so the settings of earlier runs read back unchanged).
    #[serde(skip_serializing_if = "jobs::settings::is_zero")]
    pub anchor_candidates: usize,
    /// Multi-start gradient descent: starts and Adam settings.
    pub gd_starts: usize,
    pub gradient: GradientConfig,
    /// Random search: simulated θ.
    pub random_budget: usize,
    /// Surrogate objective settings (ensemble spread weight, validity threshold).
    pub surrogate_cost: SurrogateCostConfig,
    /// Candidates of the `reference` method: θ and the cost reported with it (NaN if none).
    pub candidates: Vec<(Vec<f64>, f64)>,
    /// The active-learning loop of `surrogate-active` and `surrogate-tuned`.
    pub active: ActiveConfig,
    /// How `surrogate-tuned` fine-tunes the trained surrogate.
    pub tune: TuneConfig,
    pub seed: u64,
    /// Log a progress line every this many generations (0: silent).
    pub log_every: usize,
}

impl Default for MethodConfig {
    fn default() -> Self {
        Self {
            population: 32,
            parents: 8,
            sigma0: 0.15,
            generations: 30,
            surrogate_population: None,
            surrogate_generations: None,
            n_dup: 1,
            validate_top: 8,
            n_dup_validate: 3,
            anchor_candidates: 0,
            gd_starts: 32,
            gradient: GradientConfig::default(),
            random_budget: 512,
            surrogate_cost: SurrogateCostConfig::default(),
            candidates: Vec::new(),
            active: ActiveConfig::default(),
            tune: TuneConfig::default(),
            seed: 0,
            log_every: 10,
        }
    }
}

impl MethodConfig {
    /// Checks the values once, before a run: every count that a run divides by or loops over is
    /// at least 1 (no silent `0 → 1`), CMA-ES needs λ ≥ 2 and 1 ≤ μ ≤ λ, weights are finite.
    pub fn check(&self) -> Result<(), OptimizeError> {
        let bad = |f: &str, r: String| Err(OptimizeError::config(f, r));
        check_population(self.population, self.parents)?;
        if !(self.sigma0.is_finite() && self.sigma0 > 0.0) {
            return bad(
                "sigma0",
                format!("must be positive and finite, got {}", self.sigma0),
            );
        }
        if let Some(p) = self.surrogate_population.filter(|&p| p < 2) {
            return bad(
                "surrogate_population",
                format!("CMA-ES needs λ ≥ 2, got {p}"),
            );
        }
        let counts = [
            ("generations", self.generations),
            (
                "surrogate_generations",
                self.surrogate_generations.unwrap_or(1),
            ),
            ("n_dup", self.n_dup),
            ("validate_top", self.validate_top),
            ("n_dup_validate", self.n_dup_validate),
            ("gd_starts", self.gd_starts),
            ("gradient.steps", self.gradient.steps),
            ("random_budget", self.random_budget),
        ];
        if let Some((name, _)) = counts.iter().find(|(_, v)| *v == 0) {
            return bad(*name, "must be at least 1, got 0".into());
        }
        if self.anchor_candidates > self.validate_top {
            return bad(
                "anchor_candidates",
                format!(
                    "must be at most validate_top ({}), got {}",
                    self.validate_top, self.anchor_candidates
                ),
            );
        }
        if !self.surrogate_cost.spread_weight.is_finite() {
            return bad(
                "spread_weight",
                format!("must be finite, got {}", self.surrogate_cost.spread_weight),
            );
        }
        if let Some(z) = self
            .surrogate_cost
            .max_z
            .filter(|z| !(z.is_finite() && *z > 0.0))
        {
            return bad("support_z", format!("must be positive and finite, got {z}"));
        }
        if let Some(r) = self
            .surrogate_cost
            .support_radius
            .filter(|r| !(r.is_finite() && *r > 0.0))
        {
            return bad(
                "support_radius",
                format!("must be positive and finite, got {r}"),
            );
        }
        self.active.check()?;
        self.tune.check()
    }

    /// The settings of a CMA-ES on a surrogate: its own population (parents scaled with it) and
    /// generations where given.
    pub fn on_surrogate(&self) -> MethodConfig {
        let mut c = self.clone();
        if let Some(p) = self.surrogate_population {
            let ratio = self.parents as f64 / self.population.max(1) as f64;
            c.population = p;
            c.parents = ((p as f64 * ratio).round() as usize).clamp(1, p);
        }
        if let Some(g) = self.surrogate_generations {
            c.generations = g;
        }
        c
    }
}

/// What a method found.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub method: Method,
    /// Best validated θ and its validated total cost; `None` (and cost ∞) when no candidate
    /// was valid after validation — never the unvalidated start.
    pub best_theta: Option<Theta>,
    pub best_cost: f64,
    /// Predicted (search) cost of that candidate.
    pub best_search_cost: f64,
    /// Wall time of the search alone and of the validation (s).
    pub search_s: f64,
    pub validate_s: f64,
    /// Euler simulations spent in the search and in the validation.
    pub search_simulations: u64,
    pub validate_simulations: u64,
    /// The run table (search + validation rows).
    pub table: RunTable,
}

/// The reference start: every derived regional value drawn uniformly inside its bound, then
/// fitted onto [1, myelin, gradient] by least squares; redrawn until the fit is feasible.
pub fn reference_start(myelin: &[f64], gradient: &[f64], bounds: &Bounds, seed: u64) -> Theta {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut last = [0.0; N_THETA];
    for _ in 0..1000 {
        let n = myelin.len();
        let mut draw = |(lo, hi): (f64, f64)| -> Vec<f64> {
            (0..n).map(|_| rng.random_range(lo..=hi)).collect()
        };
        let w = fit_linear_map(&draw(bounds.w), myelin, gradient);
        let i = fit_linear_map(&draw(bounds.i), myelin, gradient);
        let s = fit_linear_map(&draw(bounds.sigma), myelin, gradient);
        let g = rng.random_range(bounds.g.0..=bounds.g.1);
        let t = [w[0], w[1], w[2], i[0], i[1], i[2], g, s[0], s[1], s[2]];
        last = t;
        if pmfm_sim::params::is_feasible(&t, myelin, gradient, bounds) {
            return t;
        }
    }
    last
}

/// CMA-ES settings of the methods: the reference's initial per-coordinate scale around `start`,
/// with this run's population, parents, σ₀ and generations.
pub fn cma_config(start: &Theta, cfg: &MethodConfig, seed: u64) -> CmaConfig {
    let mut c = crate::kong2021::cma_config(start);
    c.population = Some(cfg.population);
    c.parents = Some(cfg.parents.min(cfg.population));
    c.sigma0 = cfg.sigma0;
    c.max_generations = cfg.generations;
    c.early_stop = None;
    c.bounds = BoundsHandling::Resample { max_tries: 10_000 };
    c.seed = seed;
    c
}

/// CMA-ES settings of a search confined to within `radius` training sd of the training rows:
/// steps on the data's scale (`scale`, the training sd per coordinate), σ₀ the radius, so the
/// first samples land about one radius from the start. The preset's σ bounds are for its own
/// scale: σ_max is raised to at least the radius, and σ_min lowered to at most a tenth of it,
/// so that a small radius does not stop the run in its first generation.
pub fn guarded_cma_config(
    start: &Theta,
    cfg: &MethodConfig,
    seed: u64,
    radius: f64,
    scale: &[f64],
) -> CmaConfig {
    let mut c = cma_config(start, cfg, seed);
    c.initial_scale = Some(scale.to_vec());
    c.sigma0 = radius;
    c.sigma_max = c.sigma_max.map(|m| m.max(radius));
    c.sigma_min = c.sigma_min.map(|m| m.min(0.1 * radius));
    c
}

fn top_distinct(table: &RunTable, k: usize) -> Vec<(Vec<f64>, f64)> {
    let mut rows: Vec<(Vec<f64>, f64)> = table
        .rows
        .iter()
        .filter(|r| r.valid && r.cost.is_finite())
        .map(|r| (r.theta.clone(), r.cost))
        .collect();
    rows.sort_by(|a, b| a.1.total_cmp(&b.1));
    rows.dedup_by(|a, b| a.0 == b.0);
    rows.truncate(k);
    rows
}

/// The validation candidates of a search on a surrogate: the `k` θ of `anchors` that
/// `objective` scores lowest (valid, finite scores only; ties keep the anchors' order), then
/// the search's best distinct rows ([`top_distinct`]) not already taken, `validate_top` in all
/// (fewer when there are not enough). Each candidate comes with its score.
fn candidates_with_anchors<O: Objective>(
    objective: &mut O,
    anchors: &[Theta],
    k: usize,
    table: &RunTable,
    validate_top: usize,
) -> Result<Vec<(Vec<f64>, f64)>, OptimizeError> {
    let xs: Vec<Vec<f64>> = anchors.iter().map(|t| t.to_vec()).collect();
    let evals = if xs.is_empty() {
        Vec::new()
    } else {
        evaluate_batch(objective, &xs)?
    };
    let mut scored: Vec<(Vec<f64>, f64)> = xs
        .into_iter()
        .zip(&evals)
        .filter(|(_, e)| e.valid && e.cost.is_finite())
        .map(|(x, e)| (x, e.cost))
        .collect();
    scored.sort_by(|a, b| a.1.total_cmp(&b.1));
    scored.dedup_by(|a, b| a.0 == b.0);
    scored.truncate(k.min(validate_top));
    for row in top_distinct(table, validate_top) {
        if scored.len() == validate_top {
            break;
        }
        if !scored.iter().any(|c| c.0 == row.0) {
            scored.push(row);
        }
    }
    Ok(scored)
}

/// What a method runs against: the simulator, what it depends on, and the method's own inputs.
#[derive(Clone, Copy)]
pub struct FitTarget<'a> {
    pub evaluator: &'a Evaluator,
    /// Schedule, FCD window and data fingerprint behind `evaluator` (bound into resumable runs).
    pub inputs: &'a SimInputs,
    /// A trained surrogate (`surrogate-cmaes`, `surrogate-gd`, `surrogate-tuned`), ready for
    /// the fitted group.
    pub surrogate: Option<&'a Ensemble>,
    /// A starting parameter→cost table (`surrogate-active`; optional for `surrogate-tuned`).
    pub table: Option<&'a Samples>,
    /// The surrogate's training rows, for the data-support guard of `surrogate-cmaes` and
    /// `surrogate-gd` (needed when `surrogate_cost.support_radius` is set).
    pub support: Option<&'a DataSupport>,
}

/// What a search left for the validation: its run table and, for methods that choose them
/// themselves, the candidates (otherwise the best rows of the table).
struct Search {
    table: RunTable,
    chosen: Option<Vec<(Vec<f64>, f64)>>,
}

impl Search {
    fn of(table: RunTable) -> Self {
        Self {
            table,
            chosen: None,
        }
    }
}

/// Refuses a method without the inputs it needs, and bad settings.
fn check_inputs(
    method: Method,
    target: &FitTarget,
    cfg: &MethodConfig,
) -> Result<(), OptimizeError> {
    if method.needs_surrogate() && target.surrogate.is_none() {
        return Err(OptimizeError::config(
            "surrogate",
            format!("{} needs a trained surrogate", method.name()),
        ));
    }
    if method.needs_table() && target.table.is_none() {
        return Err(OptimizeError::config(
            "table",
            format!("{} needs a starting parameter→cost table", method.name()),
        ));
    }
    cfg.check()?;
    if matches!(method, Method::SurrogateCmaes | Method::SurrogateGd)
        && cfg.surrogate_cost.support_radius.is_some()
        && target.support.is_none()
    {
        return Err(OptimizeError::config(
            "support_radius",
            "the data-support guard needs the surrogate's training rows (--support-table)",
        ));
    }
    if method == Method::Reference && cfg.candidates.is_empty() {
        return Err(OptimizeError::config(
            "candidates",
            "the reference method needs candidates (θ with their reported costs)",
        ));
    }
    Ok(())
}

/// The run's observers: its table, and a progress line every `log_every` generations.
fn observers<'a>(
    table: &'a mut RunTable,
    log: &'a mut LogObserver,
    cfg: &MethodConfig,
) -> Vec<&'a mut dyn Observer> {
    let mut obs: Vec<&mut dyn Observer> = vec![table];
    if cfg.log_every > 0 {
        obs.push(log);
    }
    obs
}

/// One method's search: what it runs against, its settings, and the run id its table rows
/// carry.
struct MethodRun<'r, 'a> {
    target: &'r FitTarget<'a>,
    cfg: &'r MethodConfig,
    run_id: &'r str,
}

impl MethodRun<'_, '_> {
    /// The regional maps (myelin, gradient) the parameters are fitted onto, [regions] each.
    fn maps(&self) -> (&[f64], &[f64]) {
        (
            self.target.evaluator.myelin(),
            self.target.evaluator.gradient(),
        )
    }

    /// Runs the search of `method` (everything before the validation).
    fn search(
        &self,
        method: Method,
        device: &Device,
        out: Option<&Path>,
        t0: Instant,
    ) -> Result<Search, OptimizeError> {
        let (myelin, gradient) = self.maps();
        let bounds = self.target.evaluator.bounds();
        let start = reference_start(myelin, gradient, bounds, self.cfg.seed);
        let surrogate = || self.target.surrogate.expect("checked by check_inputs");
        match method {
            Method::EulerCmaes => self.euler_cmaes(&start),
            Method::SurrogateCmaes => self.surrogate_cmaes(surrogate(), &start),
            Method::SurrogateGd => self.surrogate_gd(surrogate(), device),
            Method::SurrogateActive => {
                let initial = self.target.table.expect("checked by check_inputs");
                self.active(
                    Method::SurrogateActive,
                    &Learner::Scratch,
                    initial,
                    device,
                    out,
                )
            }
            Method::SurrogateTuned => {
                let learner = Learner::Pretrained(Pretrained::new(surrogate(), &self.cfg.tune)?);
                let empty = Samples::default();
                let initial = self.target.table.unwrap_or(&empty);
                self.active(Method::SurrogateTuned, &learner, initial, device, out)
            }
            Method::Random => self.random(t0),
            Method::Reference => self.reference(),
        }
    }

    /// CMA-ES on the Euler simulator from the reference start.
    fn euler_cmaes(&self, start: &Theta) -> Result<Search, OptimizeError> {
        let mut euler = EulerObjective::new(self.target.evaluator, self.cfg.n_dup, self.cfg.seed);
        self.cma_search(&mut euler, Method::EulerCmaes, start, self.cfg)
    }

    /// CMA-ES on the surrogate. With a box guard (`max_z`) it starts at the mean of the
    /// surrogate's data; with a data-support guard (`support_radius`) at the training group's
    /// best θ (anchor) that the surrogate scores lowest for the fitted group, a training row.
    fn surrogate_cmaes(&self, model: &Ensemble, start: &Theta) -> Result<Search, OptimizeError> {
        let mut obj = self.surrogate_objective(model);
        let mean_start = match (self.cfg.surrogate_cost.max_z, model.input_support()) {
            (Some(_), Some(s)) if s.mean.len() == N_THETA => std::array::from_fn(|d| s.mean[d]),
            _ => *start,
        };
        let start = if self.cfg.surrogate_cost.support_radius.is_some() {
            self.ranked_feasible_anchors(&mut obj, model)?
                .first()
                .copied()
                .unwrap_or(mean_start)
        } else {
            mean_start
        };
        let cma = self.cfg.on_surrogate();
        let search = match (
            self.cfg.surrogate_cost.support_radius,
            model.input_support(),
        ) {
            (Some(radius), Some(s)) => {
                let c = guarded_cma_config(&start, &cma, self.cfg.seed, radius, &s.std);
                self.cma_search_with(&mut obj, Method::SurrogateCmaes, &c)?
            }
            _ => self.cma_search(&mut obj, Method::SurrogateCmaes, &start, &cma)?,
        };
        self.with_anchors(search, model)
    }

    /// `model` as the searches' objective for the fitted group: this run's cost settings, with
    /// the data-support guard when `support_radius` is set.
    fn surrogate_objective<'m>(&'m self, model: &'m Ensemble) -> SurrogateObjective<'m> {
        let (myelin, gradient) = self.maps();
        SurrogateObjective::new(model, myelin, gradient, self.cfg.surrogate_cost)
            .with_support(self.target.support)
    }

    /// The anchors of `model` (its training groups' best θ) that are feasible for the fitted
    /// group's maps and bounds.
    fn feasible_anchors(&self, model: &Ensemble) -> Vec<Theta> {
        let (myelin, gradient) = self.maps();
        let bounds = self.target.evaluator.bounds();
        model
            .anchors()
            .iter()
            .map(|a| a.theta)
            .filter(|t| is_feasible(t, myelin, gradient, bounds))
            .collect()
    }

    /// The feasible anchors of `model`, lowest score by `objective` first: valid scores first,
    /// then (when the objective calls an anchor invalid, e.g. for a low predicted validity) by
    /// predicted `fc + ks`. Empty without a feasible anchor.
    fn ranked_feasible_anchors<O: Objective>(
        &self,
        objective: &mut O,
        model: &Ensemble,
    ) -> Result<Vec<Theta>, OptimizeError> {
        let feasible: Vec<Vec<f64>> = self
            .feasible_anchors(model)
            .iter()
            .map(|t| t.to_vec())
            .collect();
        if feasible.is_empty() {
            return Ok(Vec::new());
        }
        let evals = evaluate_batch(objective, &feasible)?;
        let key = |e: &Evaluation| {
            if e.valid && e.cost.is_finite() {
                (0, e.cost)
            } else {
                let p = e.part("fc").unwrap_or(f64::NAN) + e.part("ks").unwrap_or(f64::NAN);
                (1, if p.is_finite() { p } else { f64::INFINITY })
            }
        };
        let mut ranked: Vec<(&Vec<f64>, &Evaluation)> = feasible.iter().zip(&evals).collect();
        ranked.sort_by(|a, b| {
            let (ka, kb) = (key(a.1), key(b.1));
            ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
        });
        Ok(ranked
            .into_iter()
            .map(|(x, _)| std::array::from_fn(|d| x[d]))
            .collect())
    }

    /// Starts of a guarded descent: the feasible anchors, lowest score first, then as many
    /// points drawn uniformly within `radius` training sd of them in turn (`scale`: the
    /// training sd per coordinate; seeded by the run's seed) as make `gd_starts`; a draw that
    /// is not feasible is replaced by its anchor. `gd_starts` ≥ 1 by [`MethodConfig::check`].
    fn guarded_starts(&self, ranked: &[Theta], scale: &[f64], radius: f64) -> Vec<Theta> {
        let (myelin, gradient) = self.maps();
        let bounds = self.target.evaluator.bounds();
        let mut rng = ChaCha8Rng::seed_from_u64(self.cfg.seed);
        (0..self.cfg.gd_starts)
            .map(|k| {
                let anchor = ranked[k % ranked.len()];
                if k < ranked.len() {
                    return anchor;
                }
                let t: Theta = std::array::from_fn(|d| {
                    anchor[d] + radius * scale[d] * rng.random_range(-1.0..=1.0)
                });
                if is_feasible(&t, myelin, gradient, bounds) {
                    t
                } else {
                    anchor
                }
            })
            .collect()
    }

    /// `search` with its validation candidates chosen by [`candidates_with_anchors`] when
    /// `anchor_candidates` > 0 (scored by the surrogate objective the searches use).
    fn with_anchors(&self, search: Search, model: &Ensemble) -> Result<Search, OptimizeError> {
        if self.cfg.anchor_candidates == 0 {
            return Ok(search);
        }
        let mut obj = self.surrogate_objective(model);
        let feasible = self.feasible_anchors(model);
        let chosen = candidates_with_anchors(
            &mut obj,
            &feasible,
            self.cfg.anchor_candidates,
            &search.table,
            self.cfg.validate_top,
        )?;
        Ok(Search {
            chosen: Some(chosen),
            ..search
        })
    }

    /// CMA-ES of `method` on `objective` from `start` with the population, σ₀ and generations
    /// of `cma` (the run's seed and logging from its own settings), recorded in a run table.
    fn cma_search<O: Objective>(
        &self,
        objective: &mut O,
        method: Method,
        start: &Theta,
        cma: &MethodConfig,
    ) -> Result<Search, OptimizeError> {
        self.cma_search_with(objective, method, &cma_config(start, cma, self.cfg.seed))
    }

    /// CMA-ES of `method` on `objective` with the settings `config`, recorded in a run table.
    fn cma_search_with<O: Objective>(
        &self,
        objective: &mut O,
        method: Method,
        config: &CmaConfig,
    ) -> Result<Search, OptimizeError> {
        let mut table = RunTable::new(self.run_id, method.name(), &objective.name());
        let mut log = LogObserver::new(self.run_id.to_string(), self.cfg.log_every.max(1));
        minimize(
            objective,
            config,
            &mut observers(&mut table, &mut log, self.cfg),
        )?;
        Ok(Search::of(table))
    }

    /// Multi-start Adam through the surrogate from `gd_starts` reference starts; with a
    /// data-support guard (`support_radius`) from the anchors and points near them
    /// ([`Self::guarded_starts`]), every step kept within the radius of the training rows.
    fn surrogate_gd(&self, model: &Ensemble, device: &Device) -> Result<Search, OptimizeError> {
        let (myelin, gradient) = self.maps();
        let bounds = *self.target.evaluator.bounds();
        let objective_name = format!(
            "{}-gradient",
            model.kind().map(|k| k.name()).unwrap_or("surrogate")
        );
        let mut table = RunTable::new(self.run_id, Method::SurrogateGd.name(), &objective_name);
        let reference_starts = || -> Vec<Theta> {
            (0..self.cfg.gd_starts as u64)
                .map(|k| {
                    reference_start(myelin, gradient, &bounds, self.cfg.seed.wrapping_add(1 + k))
                })
                .collect()
        };
        let guard = match (self.cfg.surrogate_cost.support_radius, self.target.support) {
            (Some(radius), Some(support)) => Some(SupportGuard { support, radius }),
            _ => None,
        };
        let starts = match (guard, model.input_support()) {
            (Some(g), Some(s)) => {
                let mut obj = self.surrogate_objective(model);
                let ranked = self.ranked_feasible_anchors(&mut obj, model)?;
                if ranked.is_empty() {
                    reference_starts()
                } else {
                    self.guarded_starts(&ranked, &s.std, g.radius)
                }
            }
            _ => reference_starts(),
        };
        let mut obs: Vec<&mut dyn Observer> = vec![&mut table];
        descend(
            model,
            myelin,
            gradient,
            &starts,
            &self.cfg.gradient,
            guard,
            device,
            &mut obs,
        )?;
        self.with_anchors(Search::of(table), model)
    }

    /// The active-learning loop of `method` with `learner` from the starting table; its rounds
    /// live beside the run table (`out` with the extension `rounds`). One table row per
    /// simulated θ: the ensemble's prediction when it was picked, and the simulated truth; the
    /// clock is the rounds' own (so a resumed run keeps it).
    fn active(
        &self,
        method: Method,
        learner: &Learner,
        initial: &Samples,
        device: &Device,
        out: Option<&Path>,
    ) -> Result<Search, OptimizeError> {
        let a = &self.cfg.active;
        let mut sim = EulerSimulate {
            evaluator: self.target.evaluator,
            inputs: self.target.inputs,
            n_dup: a.n_dup,
            seed: self.cfg.seed,
        };
        let rounds_dir = out.map(|p| p.with_extension("rounds"));
        let o = run_active(
            initial,
            &mut sim,
            learner,
            a,
            self.cfg.seed,
            self.cfg.validate_top,
            device,
            rounds_dir.as_deref(),
            self.cfg.log_every > 0,
        )?;
        let objective_name = format!("euler(n_dup={})+{}", a.n_dup, learner.describe(a));
        let mut table = RunTable::new(self.run_id, method.name(), &objective_name);
        let mut elapsed = 0.0;
        let mut row = initial.len();
        for r in &o.records {
            elapsed += r.train_s + r.search_s + r.simulate_s;
            for (k, pick) in r.picks.iter().enumerate() {
                table.push(
                    RunRow {
                        phase: "search".into(),
                        restart: 0,
                        generation: r.round as u32 + 1,
                        theta: pick.clone(),
                        cost: r.predicted[k],
                        valid: o.data.valid[row],
                        fc: f64::NAN,
                        ks: f64::NAN,
                        spread: r.spread[k],
                        true_fc: o.data.fc_cost[row],
                        true_ks: o.data.ks_cost[row],
                        true_total: o.data.total_cost[row],
                        elapsed_s: elapsed,
                        simulations: 0,
                    },
                    o.data.n_dup[row] as u64,
                );
                row += 1;
            }
        }
        let chosen = o.candidates.iter().map(|(t, p)| (t.to_vec(), *p)).collect();
        Ok(Search {
            table,
            chosen: Some(chosen),
        })
    }

    /// `random_budget` uniform draws from the feasible design space, simulated as one batch.
    fn random(&self, t0: Instant) -> Result<Search, OptimizeError> {
        let ev = self.target.evaluator;
        let mut euler = EulerObjective::new(ev, self.cfg.n_dup, self.cfg.seed);
        let mut table = RunTable::new(self.run_id, Method::Random.name(), &euler.name());
        let space = DesignSpace::new(ev.myelin(), ev.gradient(), *ev.bounds())
            .map_err(|e| OptimizeError::config("maps", e.to_string()))?;
        let xs: Vec<Vec<f64>> = (0..self.cfg.random_budget as u64)
            .map(|k| space.draw(&Design::Uniform, self.cfg.seed, k).to_vec())
            .collect();
        let evals = evaluate_batch(&mut euler, &xs)?;
        table.on_evaluations(&first_batch(t0.elapsed().as_secs_f64()), &xs, &evals)?;
        Ok(Search::of(table))
    }

    /// No search: the given candidates, with their reported costs.
    fn reference(&self) -> Result<Search, OptimizeError> {
        let mut table = RunTable::new(self.run_id, Method::Reference.name(), "reported");
        let xs: Vec<Vec<f64>> = self.cfg.candidates.iter().map(|c| c.0.clone()).collect();
        for x in &xs {
            to_theta(x)?;
        }
        let evals: Vec<Evaluation> = self
            .cfg
            .candidates
            .iter()
            .map(|c| Evaluation::new(c.1))
            .collect();
        table.on_evaluations(&first_batch(0.0), &xs, &evals)?;
        Ok(Search {
            table,
            chosen: Some(self.cfg.candidates.clone()),
        })
    }
}

/// The context of a method's one and only batch.
fn first_batch(elapsed_s: f64) -> BatchContext {
    BatchContext {
        restart: 0,
        generation: 1,
        generation_in_restart: 1,
        evaluations_before: 0,
        elapsed_s,
    }
}

/// The simulator of every validation: `n_dup_validate` duplicates with noise seeded from the
/// run's seed alone (not the method), and common random numbers within a batch, so the same θ
/// validated by two methods of one comparison sees the same noise and gets the same cost.
pub fn validation_objective<'a>(
    evaluator: &'a Evaluator,
    cfg: &MethodConfig,
) -> EulerObjective<'a> {
    EulerObjective::new(
        evaluator,
        cfg.n_dup_validate,
        cfg.seed ^ 0x5EED_0F_7A11_DA7E,
    )
}

/// The validation: the candidates re-simulated with fresh noise and `n_dup_validate`
/// duplicates, appended to the table; returns the candidates, their search costs and their
/// validated evaluations.
fn validate(
    evaluator: &Evaluator,
    cfg: &MethodConfig,
    cands: &[(Vec<f64>, f64)],
) -> Result<(Vec<Vec<f64>>, Vec<f64>, Vec<Evaluation>), OptimizeError> {
    let xs: Vec<Vec<f64>> = cands.iter().map(|c| c.0.clone()).collect();
    let predicted: Vec<f64> = cands.iter().map(|c| c.1).collect();
    let mut validator = validation_objective(evaluator, cfg);
    let evals: Vec<Evaluation> = if xs.is_empty() {
        vec![]
    } else {
        evaluate_batch(&mut validator, &xs)?
    };
    Ok((xs, predicted, evals))
}

/// The best *valid* validated candidate: (θ, validated cost, search cost); `None` and ∞ when no
/// candidate was valid — never the unvalidated start.
fn best_validated(
    xs: &[Vec<f64>],
    predicted: &[f64],
    evals: &[Evaluation],
) -> (Option<Theta>, f64, f64) {
    let best = evals
        .iter()
        .enumerate()
        .filter(|(_, e)| e.valid)
        .min_by(|a, b| a.1.cost.total_cmp(&b.1.cost));
    match best {
        Some((k, e)) => (
            Some(std::array::from_fn(|d| xs[k][d])),
            e.cost,
            predicted[k],
        ),
        None => (None, f64::INFINITY, f64::INFINITY),
    }
}

/// Runs `method`, validates its top candidates, and writes the run table to `out` (if given).
/// `surrogate-active` needs `target.table` (its starting data) and keeps its rounds beside the
/// run table (`out` with the extension `rounds`), so that it resumes after a kill.
pub fn run_method(
    method: Method,
    target: &FitTarget,
    cfg: &MethodConfig,
    run_id: &str,
    device: &Device,
    out: Option<&Path>,
) -> Result<Outcome, OptimizeError> {
    check_inputs(method, target, cfg)?;
    let run = MethodRun {
        target,
        cfg,
        run_id,
    };
    let t0 = Instant::now();
    let Search { mut table, chosen } = run.search(method, device, out, t0)?;
    // A resumed active run's rows carry the clock of its earlier rounds.
    let search_s = t0
        .elapsed()
        .as_secs_f64()
        .max(table.rows.last().map_or(0.0, |r| r.elapsed_s));
    let search_simulations = table.simulations();

    let t1 = Instant::now();
    let cands = chosen.unwrap_or_else(|| top_distinct(&table, cfg.validate_top));
    let (xs, predicted, evals) = validate(target.evaluator, cfg, &cands)?;
    let validate_s = t1.elapsed().as_secs_f64();
    let last_gen = table.rows.iter().map(|r| r.generation).max().unwrap_or(0);
    table.add_validation(last_gen + 1, search_s + validate_s, &xs, &predicted, &evals);
    let validate_simulations = table.simulations() - search_simulations;
    let (best_theta, best_cost, best_search_cost) = best_validated(&xs, &predicted, &evals);
    if let Some(path) = out {
        table = table.writing_to(path, 10);
        table.finish()?;
    }
    Ok(Outcome {
        method,
        best_theta,
        best_cost,
        best_search_cost,
        search_s,
        validate_s,
        search_simulations,
        validate_simulations,
        table,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use optimize::test_functions::{TestFunction, TestObjective};

    /// On the sphere (cost Σx²): the `k` anchors with the lowest cost come first, invalid
    /// scores never count, an anchor the search also found is not validated twice, and the
    /// search's best rows fill the slots left.
    #[test]
    fn anchor_candidates_come_first_and_the_search_fills_the_rest() {
        let anchor = |v: f64| -> Theta { [v; N_THETA] };
        // Sphere costs 10·v²: 0.1 → 0.1, 0.2 → 0.4, 0.5 → 2.5, 1.0 → 10.
        let anchors = [anchor(1.0), anchor(0.2), anchor(0.5), anchor(0.1)];
        let mut table = RunTable::new("t", "surrogate-cmaes", "sphere");
        // RunRow::test puts θ = [cost; 10]; search costs as the table reports them.
        for (g, c) in [(1, 0.3), (1, 0.2), (2, 0.05), (2, 0.7), (3, 0.05)] {
            table.push(RunRow::test("search", g, c, true, f64::NAN, (0.0, 0)), 0);
        }
        table.push(
            RunRow::test("search", 3, 0.01, false, f64::NAN, (0.0, 0)),
            0,
        );
        let mut sphere = TestObjective::new(TestFunction::Sphere, N_THETA);
        let c = candidates_with_anchors(&mut sphere, &anchors, 2, &table, 4).unwrap();
        let firsts: Vec<f64> = c.iter().map(|(x, _)| x[0]).collect();
        // Anchors 0.1 and 0.2 (scored 0.1 and 0.4), then the search's 0.05 (once) and 0.2 is
        // already taken as an anchor, so 0.3.
        assert_eq!(firsts, [0.1, 0.2, 0.05, 0.3]);
        assert!((c[0].1 - 0.1).abs() < 1e-12 && (c[1].1 - 0.4).abs() < 1e-12);
        assert_eq!(c[2].1, 0.05);
        // k = 0: exactly the search's best distinct rows.
        let plain = candidates_with_anchors(&mut sphere, &anchors, 0, &table, 4).unwrap();
        assert_eq!(plain, top_distinct(&table, 4));
        // More anchors than slots: the slots hold the best-scored anchors only.
        let all = candidates_with_anchors(&mut sphere, &anchors, 8, &table, 3).unwrap();
        let firsts: Vec<f64> = all.iter().map(|(x, _)| x[0]).collect();
        assert_eq!(firsts, [0.1, 0.2, 0.5]);
        // An objective that calls every point invalid leaves the search's rows only.
        let mut invalid = Invalid;
        let none = candidates_with_anchors(&mut invalid, &anchors, 2, &table, 2).unwrap();
        assert_eq!(none, top_distinct(&table, 2));
    }

    #[test]
    fn a_guarded_search_with_a_small_radius_runs_its_generations() {
        use optimize::test_functions::{TestFunction, TestObjective};
        let start = [0.5; N_THETA];
        let cfg = MethodConfig {
            generations: 20,
            ..Default::default()
        };
        for radius in [0.0005, 0.001, 0.002, 0.05, 0.3] {
            let c = guarded_cma_config(&start, &cfg, 7, radius, &[0.2; N_THETA]);
            c.check().unwrap();
            assert_eq!(c.sigma0, radius);
            assert!(c.sigma_min.unwrap() <= 0.1 * radius && c.sigma_max.unwrap() >= radius);
            let mut sphere = TestObjective::new(TestFunction::Sphere, N_THETA);
            let r = minimize(&mut sphere, &c, &mut []).unwrap();
            assert_eq!(
                r.generations, 20,
                "radius {radius}: stopped by {:?}",
                r.stop_reason
            );
        }
    }

    /// Scores every point 0 but calls it invalid.
    struct Invalid;
    impl Objective for Invalid {
        fn dim(&self) -> usize {
            N_THETA
        }
        fn cost(&mut self, xs: &[Vec<f64>]) -> Result<Vec<Evaluation>, OptimizeError> {
            Ok(xs
                .iter()
                .map(|_| Evaluation {
                    valid: false,
                    ..Evaluation::new(0.0)
                })
                .collect())
        }
        fn name(&self) -> String {
            "invalid".into()
        }
    }

    #[test]
    fn more_anchor_candidates_than_validated_ones_is_an_error_naming_the_setting() {
        let cfg = MethodConfig {
            validate_top: 4,
            anchor_candidates: 5,
            ..MethodConfig::default()
        };
        let e = cfg.check().unwrap_err().to_string();
        assert!(e.contains("anchor_candidates"), "{e}");
        let ok = MethodConfig {
            anchor_candidates: 4,
            ..cfg
        };
        ok.check().unwrap();
    }

    #[test]
    fn surrogate_searches_get_their_own_population_and_generations() {
        let cfg = MethodConfig {
            population: 32,
            parents: 8,
            generations: 30,
            ..MethodConfig::default()
        };
        assert_eq!(cfg.on_surrogate(), cfg);
        let s = MethodConfig {
            surrogate_population: Some(500),
            surrogate_generations: Some(100),
            ..cfg.clone()
        }
        .on_surrogate();
        assert_eq!((s.population, s.parents, s.generations), (500, 125, 100));
        let c = cma_config(&[0.5; 10], &s, 1);
        assert_eq!((c.lambda(), c.mu(), c.max_generations), (500, 125, 100));
        // The simulator side keeps the plain settings.
        let e = cma_config(&[0.5; 10], &cfg, 1);
        assert_eq!((e.lambda(), e.mu()), (32, 8));
    }
}
