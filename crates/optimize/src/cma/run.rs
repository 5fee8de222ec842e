//! The driver ([`CmaRun`]) of the ask/tell strategy over an [`Objective`]: stopping rules, IPOP
//! restarts, observers, checkpoints and resume, and the one-call drivers [`minimize`] and
//! [`minimize_resumable`].

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::config::{BoundsHandling, CmaConfig};
use super::strategy::{CmaEs, CmaState, StrategyParams};
use crate::error::OptimizeError;
use crate::incumbent::{median, Incumbent};
use crate::objective::{
    evaluate_batch, exact, BatchContext, Evaluation, GenerationReport, Objective, Observer,
};

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
    /// Writes the checkpoint as JSON, durably and atomically ([`jobs::durable::write_atomic`]:
    /// a kill leaves the previous checkpoint or this one, never a torn file).
    pub fn save(&self, path: &Path) -> Result<(), OptimizeError> {
        let json = serde_json::to_string(self).map_err(|e| OptimizeError::Checkpoint {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(jobs::durable::write_atomic(path, json.as_bytes())?)
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
    /// numbers, so floats are compared as [`jobs::settings::same_settings`] does).
    pub fn matches(&self, config: &CmaConfig) -> bool {
        match (
            serde_json::to_value(&self.config),
            serde_json::to_value(config),
        ) {
            (Ok(a), Ok(b)) => jobs::settings::same_settings(&a, &b),
            _ => false,
        }
    }
}

/// One generation's offspring: all λ drawn points, which of them are evaluated, those points
/// (the batch), and the draws rejected as infeasible.
struct Offspring {
    xs: Vec<Vec<f64>>,
    evaluate: Vec<bool>,
    batch: Vec<Vec<f64>>,
    rejected: usize,
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
    best: Incumbent,
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
            best: Incumbent::new(&config.start),
            config,
            es,
            restart: 0,
            generations: 0,
            evaluations: 0,
            simulations: 0,
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
            best: Incumbent {
                x: c.best_x,
                cost: c.best_cost,
                parts: c.best_parts,
                restart_cost: c.restart_best,
            },
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
            best_x: self.best.x.clone(),
            best_cost: self.best.cost,
            best_parts: self.best.parts.clone(),
            restart_best: self.best.restart_cost,
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
        (&self.best.x, self.best.cost)
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
        let offspring = match self.offspring(objective)? {
            Ok(o) => o,
            Err(reason) => return Ok(Some(self.finish(reason))),
        };
        let evals = self.evaluate(objective, &offspring.batch, observers)?;
        let costs = self.ranking_costs(objective, &offspring, &evals);
        let gen_best = self.record_bests(&offspring.batch, &evals);
        let numerical = match self.es.tell(&costs) {
            Ok(()) => false,
            Err(OptimizeError::Numerical(_)) => true,
            Err(e) => return Err(e),
        };
        self.generations += 1;
        let report = self.generation_report(&offspring, &evals, gen_best);
        let best_cost = report.best_cost;
        for o in observers.iter_mut() {
            o.on_generation(&report)?;
        }
        self.history.push(report);
        let stop = if numerical {
            Some(StopReason::Numerical)
        } else {
            self.check_stop(best_cost, &costs)
        };
        self.after_stop(stop, objective)
    }

    /// Draws λ offspring and picks those to evaluate: with resampling all of them (re-drawn
    /// until feasible; `Err(ResampleExhausted)` when the budget runs out), with penalties the
    /// feasible ones.
    fn offspring<O: Objective + ?Sized>(
        &mut self,
        objective: &O,
    ) -> Result<Result<Offspring, StopReason>, OptimizeError> {
        let (xs, mut rejected) = match self.config.bounds {
            BoundsHandling::Resample { max_tries } => {
                match self
                    .es
                    .ask_feasible(|x| objective.is_feasible(x), max_tries)
                {
                    Ok(v) => v,
                    Err(OptimizeError::ResampleExhausted { .. }) => {
                        return Ok(Err(StopReason::ResampleExhausted));
                    }
                    Err(e) => return Err(e),
                }
            }
            BoundsHandling::Penalty { .. } => (self.es.ask(), 0),
        };
        let evaluate: Vec<bool> = match self.config.bounds {
            BoundsHandling::Resample { .. } => vec![true; xs.len()],
            BoundsHandling::Penalty { .. } => xs.iter().map(|x| objective.is_feasible(x)).collect(),
        };
        let batch: Vec<Vec<f64>> = xs
            .iter()
            .zip(&evaluate)
            .filter(|(_, e)| **e)
            .map(|(x, _)| x.clone())
            .collect();
        rejected += xs.len() - batch.len();
        Ok(Ok(Offspring {
            xs,
            evaluate,
            batch,
            rejected,
        }))
    }

    /// One batched evaluation of `batch`, counted and shown to the observers.
    fn evaluate<O: Objective + ?Sized>(
        &mut self,
        objective: &mut O,
        batch: &[Vec<f64>],
        observers: &mut [&mut dyn Observer],
    ) -> Result<Vec<Evaluation>, OptimizeError> {
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
            evaluate_batch(objective, batch)?
        };
        self.evaluations += batch.len();
        self.simulations += evals.iter().map(|e| e.simulations).sum::<usize>();
        for o in observers.iter_mut() {
            o.on_evaluations(&context, batch, &evals)?;
        }
        Ok(evals)
    }

    /// Costs of all λ offspring for the ranking: penalised infeasible offspring rank behind
    /// every feasible one.
    fn ranking_costs<O: Objective + ?Sized>(
        &self,
        objective: &O,
        offspring: &Offspring,
        evals: &[Evaluation],
    ) -> Vec<f64> {
        let worst = evals
            .iter()
            .map(|e| e.cost)
            .filter(|c| c.is_finite())
            .fold(f64::NEG_INFINITY, f64::max);
        let worst = if worst.is_finite() { worst } else { 0.0 };
        let mut costs = Vec::with_capacity(offspring.xs.len());
        let mut next_eval = evals.iter();
        for (x, e) in offspring.xs.iter().zip(&offspring.evaluate) {
            if *e {
                costs.push(next_eval.next().map_or(f64::NAN, |ev| ev.cost));
            } else if let BoundsHandling::Penalty { weight } = self.config.bounds {
                let v = objective.constraint_violation(x);
                costs.push(worst + weight * if v > 0.0 { v } else { 1.0 });
            }
        }
        costs
    }

    /// Updates the run's and the restart's best valid point; returns the index of the
    /// generation's best evaluation (NaN last).
    fn record_bests(&mut self, batch: &[Vec<f64>], evals: &[Evaluation]) -> Option<usize> {
        let gen_best = evals
            .iter()
            .enumerate()
            .min_by(|a, b| nan_last(a.1.cost).total_cmp(&nan_last(b.1.cost)))
            .map(|(i, _)| i);
        for (x, e) in batch.iter().zip(evals) {
            self.best.offer(x, e);
        }
        gen_best
    }

    /// The report of the generation just told to the strategy.
    fn generation_report(
        &self,
        offspring: &Offspring,
        evals: &[Evaluation],
        gen_best: Option<usize>,
    ) -> GenerationReport {
        let (best_cost, best_x, best_parts) = match gen_best {
            Some(i) => (
                evals[i].cost,
                offspring.batch[i].clone(),
                evals[i].parts.clone(),
            ),
            None => (f64::INFINITY, Vec::new(), Vec::new()),
        };
        let median_cost = median(evals.iter().map(|e| nan_last(e.cost)).collect());
        let std_devs = self.es.std_devs();
        GenerationReport {
            restart: self.restart,
            generation: self.generations,
            generation_in_restart: self.es.generation(),
            population: offspring.xs.len(),
            evaluations: self.evaluations,
            simulations: self.simulations,
            rejected: offspring.rejected,
            best_cost,
            best_x,
            best_parts,
            median_cost,
            best_so_far_cost: self.best.cost,
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
        }
    }

    /// Acts on a stopping rule that fired: ends the run, or restarts (IPOP) when restarts are
    /// left and the rule allows it.
    fn after_stop<O: Objective + ?Sized>(
        &mut self,
        stop: Option<StopReason>,
        objective: &O,
    ) -> Result<Option<StopReason>, OptimizeError> {
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
        if c.target_cost.is_some_and(|t| self.best.cost <= t) {
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
            best_cost: self.best.restart_cost,
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
            if let Some(x) = b.draw_feasible(self.es.rng_mut(), objective, max_tries) {
                mean = x;
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
        self.best.restart_cost = f64::INFINITY;
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
            best_x: self.best.x,
            best_cost: self.best.cost,
            best_parts: self.best.parts,
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
