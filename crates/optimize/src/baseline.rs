//! The `cmaes` crate (0.2.2) as the independent baseline of [`crate::cma`], and as the solver
//! for objectives that can only be evaluated one point at a time.
//!
//! The `cmaes` crate has no ask/tell interface: it draws its population internally and calls
//! its objective once per point (`ObjectiveFunction::evaluate`). [`minimize_per_point`] wraps
//! an [`Objective`] accordingly, one single-point [`Objective::cost`] call per evaluation, with
//! the same [`CmaConfig`] as [`crate::cma::minimize`] where the crate can express it:
//! positive weights (`Weights::Positive`, the same (μ/μ_w, λ) variant as ours), μ = ⌊λ/2⌋,
//! per-coordinate initial scale by optimising `u` with `x = scale ∘ u`, IPOP restarts done here
//! around single runs of the crate. It cannot cap σ, expose ‖p_σ‖ for the reference's early
//! stop, choose μ ≠ ⌊λ/2⌋ or re-draw infeasible offspring; the first three are rejected with
//! [`OptimizeError::Baseline`], and an infeasible offspring is not evaluated but costs
//! `worst feasible cost seen so far + weight · constraint_violation` (weight 1 under
//! `Resample`).
//!
//! [`compare`] runs both solvers on the standard test functions and [`comparison_table`] prints
//! the result.

use std::cell::RefCell;

use cmaes::{CMAESOptions, DVector, ObjectiveFunction, TerminationReason, Weights, CMAES};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::cma::{
    minimize, BoundsHandling, CmaConfig, CmaResult, Ipop, RestartSummary, StopReason,
};
use crate::error::OptimizeError;
use crate::incumbent::{median, Incumbent};
use crate::objective::{evaluate_batch, GenerationReport, Objective};
use crate::test_functions::{rastrigin_ipop, to_optimum, TestFunction, TestObjective};

/// What the per-point wrapper accumulates while the crate runs.
struct Tally {
    evaluations: usize,
    simulations: usize,
    best: Incumbent,
    worst_feasible: f64,
    /// (point, cost, parts) of the current generation's evaluations.
    generation: Vec<(Vec<f64>, f64, Vec<(String, f64)>)>,
    error: Option<OptimizeError>,
}

fn stop_reason(reasons: &[TerminationReason]) -> StopReason {
    use TerminationReason as T;
    let map = |r: &T| match r {
        T::FunTarget => StopReason::TargetCost,
        T::MaxFunctionEvals => StopReason::MaxEvaluations,
        T::MaxGenerations => StopReason::MaxGenerations,
        T::TolX => StopReason::TolX,
        T::TolFun | T::TolFunRel | T::TolFunHist => StopReason::TolFun,
        T::TolConditionCov => StopReason::ConditionNumber,
        T::NoEffectAxis | T::NoEffectCoord => StopReason::NoEffect,
        T::TolStagnation => StopReason::Stagnation,
        T::TolXUp | T::PosDefCov | T::InvalidFunctionValue | T::MaxTime => StopReason::Numerical,
    };
    let all: Vec<StopReason> = reasons.iter().map(map).collect();
    all.iter()
        .copied()
        .find(|r| r.ends_run())
        .or_else(|| all.first().copied())
        .unwrap_or(StopReason::Numerical)
}

impl Tally {
    fn new(start: &[f64]) -> Self {
        Self {
            evaluations: 0,
            simulations: 0,
            best: Incumbent::new(start),
            worst_feasible: f64::NEG_INFINITY,
            generation: Vec::new(),
            error: None,
        }
    }

    /// The crate's objective at `x`: an infeasible point is not evaluated but costs the worst
    /// feasible cost so far plus `weight · violation`; a feasible one is one single-point
    /// [`Objective::cost`] call, tallied. After an error every call returns NaN (the error is
    /// kept for the caller).
    fn evaluate<O: Objective + ?Sized>(&mut self, obj: &mut O, x: Vec<f64>, weight: f64) -> f64 {
        if self.error.is_some() {
            return f64::NAN;
        }
        if !obj.is_feasible(&x) {
            let base = if self.worst_feasible.is_finite() {
                self.worst_feasible
            } else {
                0.0
            };
            let v = obj.constraint_violation(&x);
            return base + weight * if v > 0.0 { v } else { 1.0 };
        }
        match evaluate_batch(obj, std::slice::from_ref(&x)) {
            Ok(mut evals) => {
                let e = evals.remove(0);
                self.evaluations += 1;
                self.simulations += e.simulations;
                if e.cost.is_finite() {
                    self.worst_feasible = self.worst_feasible.max(e.cost);
                }
                self.best.offer(&x, &e);
                let cost = if e.cost.is_nan() {
                    f64::INFINITY
                } else {
                    e.cost
                };
                self.generation.push((x, cost, e.parts));
                cost
            }
            Err(err) => {
                self.error = Some(err);
                f64::NAN
            }
        }
    }

    /// The report of the generation the crate just finished (its evaluations are taken out of
    /// the tally); `strategy` is the crate's state after it.
    fn generation_report(
        &mut self,
        at: Position,
        strategy: Strategy,
        elapsed_s: f64,
    ) -> GenerationReport {
        let mut batch = std::mem::take(&mut self.generation);
        batch.sort_by(|a, b| a.1.total_cmp(&b.1));
        let costs: Vec<f64> = batch.iter().map(|g| g.1).collect();
        let median_cost = median(costs.clone());
        let (best_cost, best_x, best_parts) = batch
            .into_iter()
            .next()
            .map_or((f64::INFINITY, Vec::new(), Vec::new()), |g| (g.1, g.0, g.2));
        GenerationReport {
            restart: at.restart,
            generation: at.generation,
            generation_in_restart: strategy.generation,
            population: at.lambda,
            evaluations: self.evaluations,
            simulations: self.simulations,
            rejected: at.lambda - costs.len(),
            best_cost,
            best_x,
            best_parts,
            median_cost,
            best_so_far_cost: self.best.cost,
            mean: strategy.mean,
            step_size: strategy.sigma,
            diagnostics: vec![("axis_ratio".into(), strategy.axis_ratio)],
            elapsed_s,
        }
    }
}

/// Where a generation of the per-point run sits: restart, generation over the whole run, λ.
#[derive(Clone, Copy)]
struct Position {
    restart: usize,
    generation: usize,
    lambda: usize,
}

/// What the report needs of the crate's state (mean already in x units).
struct Strategy {
    generation: usize,
    mean: Vec<f64>,
    sigma: f64,
    axis_ratio: f64,
}

impl Strategy {
    fn of<F: ObjectiveFunction>(state: &CMAES<F>, scale: &[f64]) -> Self {
        Self {
            generation: state.generation(),
            mean: state.mean().iter().zip(scale).map(|(v, s)| v * s).collect(),
            sigma: state.sigma(),
            axis_ratio: state.axis_ratio(),
        }
    }
}

/// Refuses configurations and objectives the crate cannot run as asked.
fn check_expressible<O: Objective + ?Sized>(
    objective: &O,
    config: &CmaConfig,
) -> Result<(), OptimizeError> {
    config.check()?;
    let n = config.dim();
    if objective.dim() != n {
        return Err(OptimizeError::DimensionMismatch {
            what: format!("objective '{}' vs start", objective.name()),
            expected: n,
            got: objective.dim(),
        });
    }
    if config.sigma_max.is_some() {
        return Err(OptimizeError::Baseline(
            "the cmaes crate cannot cap σ (sigma_max)".into(),
        ));
    }
    if config.early_stop.is_some() {
        return Err(OptimizeError::Baseline(
            "the cmaes crate does not expose ‖p_σ‖, which the reference's early stop needs".into(),
        ));
    }
    if config.mu() != config.lambda() / 2 {
        return Err(OptimizeError::Baseline(format!(
            "the cmaes crate fixes μ = ⌊λ/2⌋ = {}, config asks for μ = {}",
            config.lambda() / 2,
            config.mu()
        )));
    }
    Ok(())
}

/// The start of restart `restart`: the configured start, or (IPOP with a start box, after the
/// first run) the first feasible uniform draw from the box within 1000 draws.
fn restart_start<O: Objective + ?Sized>(
    config: &CmaConfig,
    restart: usize,
    rng: &mut ChaCha8Rng,
    objective: &O,
) -> Vec<f64> {
    let mut start = config.start.clone();
    if restart > 0 {
        if let Some(b) = config.restarts.as_ref().and_then(|i| i.start_box.as_ref()) {
            if let Some(x) = b.draw_feasible(rng, objective, 1000) {
                start = x;
            }
        }
    }
    start
}

/// The crate's options for one run from `start` (optimising `u = x / scale`) with population
/// λ, its seed drawn from `rng`; the evaluation budget is what the earlier restarts left.
fn crate_options(
    config: &CmaConfig,
    start: &[f64],
    scale: &[f64],
    lambda: usize,
    rng: &mut ChaCha8Rng,
    spent: usize,
) -> CMAESOptions {
    let u0: Vec<f64> = start.iter().zip(scale).map(|(x, s)| x / s).collect();
    let mut options = CMAESOptions::new(u0, config.sigma0)
        .population_size(lambda)
        .weights(Weights::Positive)
        .seed(rng.random::<u64>())
        .max_generations(config.max_generations)
        .tol_condition_cov(config.max_condition);
    options.tol_fun = config.tol_fun;
    options.tol_fun_hist = config.tol_fun;
    options.tol_x = Some(config.tol_x);
    if let Some(t) = config.target_cost {
        options = options.fun_target(t);
    }
    if let Some(m) = config.max_evaluations {
        options = options.max_function_evals(m.saturating_sub(spent).max(1));
    }
    options
}

/// Minimises `objective` with the `cmaes` crate, one point per [`Objective::cost`] call.
pub fn minimize_per_point<O: Objective + ?Sized>(
    objective: &mut O,
    config: &CmaConfig,
) -> Result<CmaResult, OptimizeError> {
    check_expressible(objective, config)?;
    let weight = match config.bounds {
        BoundsHandling::Penalty { weight } => weight,
        BoundsHandling::Resample { .. } => 1.0,
    };
    let scale = config
        .initial_scale
        .clone()
        .unwrap_or_else(|| vec![1.0; config.dim()]);
    let started = std::time::Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let tally = RefCell::new(Tally::new(&config.start));
    let objective = RefCell::new(objective);
    let max_restarts = config.restarts.as_ref().map_or(0, |i| i.max_restarts);
    let mut history: Vec<GenerationReport> = Vec::new();
    let mut restarts: Vec<RestartSummary> = Vec::new();
    let mut total_generations = 0;
    let mut final_sigma = config.sigma0;
    let mut reason = StopReason::MaxGenerations;

    for restart in 0..=max_restarts {
        let (lambda, mu) = config.population_for_restart(restart);
        let start = restart_start(config, restart, &mut rng, &**objective.borrow());
        let spent = tally.borrow().evaluations;
        let options = crate_options(config, &start, &scale, lambda, &mut rng, spent);
        tally.borrow_mut().best.restart_cost = f64::INFINITY;
        let evaluate = |u: &DVector<f64>| -> f64 {
            let x: Vec<f64> = u.iter().zip(&scale).map(|(v, s)| v * s).collect();
            tally
                .borrow_mut()
                .evaluate(&mut **objective.borrow_mut(), x, weight)
        };
        let mut state = options
            .build(evaluate)
            .map_err(|e| OptimizeError::Baseline(format!("invalid options: {e:?}")))?;
        let restart_reason = loop {
            let term = state.next();
            total_generations += 1;
            let mut t = tally.borrow_mut();
            if let Some(err) = t.error.take() {
                return Err(err);
            }
            let at = Position {
                restart,
                generation: total_generations,
                lambda,
            };
            let strategy = Strategy::of(&state, &scale);
            history.push(t.generation_report(at, strategy, started.elapsed().as_secs_f64()));
            final_sigma = state.sigma();
            if config.sigma_min.is_some_and(|s| state.sigma() < s) {
                break StopReason::SigmaBelowMin;
            }
            if let Some(data) = term {
                break stop_reason(&data.reasons);
            }
        };
        let generations = state.generation();
        drop(state);
        let t = tally.borrow();
        restarts.push(RestartSummary {
            restart,
            population: lambda,
            parents: mu,
            generations,
            evaluations: t.evaluations,
            best_cost: t.best.restart_cost,
            reason: restart_reason,
        });
        reason = restart_reason;
        if restart_reason.ends_run() {
            break;
        }
    }

    let final_mean = history
        .last()
        .map_or_else(|| config.start.clone(), |r| r.mean.clone());
    let t = tally.into_inner();
    Ok(CmaResult {
        best_x: t.best.x,
        best_cost: t.best.cost,
        best_parts: t.best.parts,
        generations: total_generations,
        evaluations: t.evaluations,
        simulations: t.simulations,
        stop_reason: reason,
        restarts,
        history,
        final_mean,
        final_sigma,
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}

// ---------------------------------------------------------------------------------------------
// Comparison with the ask/tell implementation
// ---------------------------------------------------------------------------------------------

/// One test function to run with both solvers over several seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComparisonCase {
    pub function: TestFunction,
    pub dim: usize,
    /// Shared settings; `seed` is replaced by each of `seeds`.
    pub config: CmaConfig,
    pub seeds: Vec<u64>,
    /// A run succeeds when its best cost is below this.
    pub success_below: f64,
}

/// One solver's runs of a case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SolverSummary {
    pub runs: usize,
    pub successes: usize,
    /// Median over runs of the evaluations spent until the run stopped.
    pub median_evaluations: f64,
    pub median_final_cost: f64,
    pub worst_final_cost: f64,
    /// Mean restarts per run (IPOP).
    pub mean_restarts: f64,
}

/// Ask/tell CMA-ES next to the `cmaes` crate on one case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComparisonRow {
    pub function: String,
    pub dim: usize,
    pub ipop: bool,
    pub ours: SolverSummary,
    pub cmaes: SolverSummary,
}

impl ComparisonRow {
    /// Ours / cmaes median evaluations.
    pub fn evaluation_ratio(&self) -> f64 {
        self.ours.median_evaluations / self.cmaes.median_evaluations
    }
}

fn summarise(results: &[CmaResult], success_below: f64) -> SolverSummary {
    SolverSummary {
        runs: results.len(),
        successes: results
            .iter()
            .filter(|r| r.best_cost < success_below)
            .count(),
        median_evaluations: median(results.iter().map(|r| r.evaluations as f64).collect()),
        median_final_cost: median(results.iter().map(|r| r.best_cost).collect()),
        worst_final_cost: results
            .iter()
            .map(|r| r.best_cost)
            .fold(f64::NEG_INFINITY, f64::max),
        mean_restarts: results
            .iter()
            .map(|r| r.restarts.len().saturating_sub(1) as f64)
            .sum::<f64>()
            / results.len().max(1) as f64,
    }
}

/// The standard comparison: sphere, ellipsoid and Rosenbrock in 10-D, Rastrigin in 5-D with
/// IPOP restarts, 5 seeds each, run to a target cost of 1e-10 with textbook settings.
pub fn standard_cases() -> Vec<ComparisonCase> {
    let seeds: Vec<u64> = (1..=5).collect();
    // The seed is replaced by each of `seeds`.
    let target = |start: Vec<f64>, sigma0: f64| to_optimum(start, sigma0, 0);
    vec![
        ComparisonCase {
            function: TestFunction::Sphere,
            dim: 10,
            config: target(vec![2.0; 10], 1.0),
            seeds: seeds.clone(),
            success_below: 1e-8,
        },
        ComparisonCase {
            function: TestFunction::Ellipsoid,
            dim: 10,
            config: target(vec![1.0; 10], 1.0),
            seeds: seeds.clone(),
            success_below: 1e-8,
        },
        ComparisonCase {
            function: TestFunction::Rosenbrock,
            dim: 10,
            // Restarts from the same start rescue the runs that fall into Rosenbrock's local
            // minimum near x₁ = −1 (both solvers get the same rule).
            config: CmaConfig {
                restarts: Some(Ipop {
                    max_restarts: 4,
                    ..Ipop::default()
                }),
                ..target(vec![0.0; 10], 0.5)
            },
            seeds: seeds.clone(),
            success_below: 1e-6,
        },
        ComparisonCase {
            function: TestFunction::Rastrigin,
            dim: 5,
            config: rastrigin_ipop(0),
            seeds,
            success_below: 1e-8,
        },
    ]
}

/// Runs every case with [`minimize`] (batched ask/tell) and [`minimize_per_point`] (`cmaes`
/// crate).
pub fn compare(cases: &[ComparisonCase]) -> Result<Vec<ComparisonRow>, OptimizeError> {
    cases
        .iter()
        .map(|case| {
            let mut ours = Vec::new();
            let mut theirs = Vec::new();
            for &seed in &case.seeds {
                let config = CmaConfig {
                    seed,
                    ..case.config.clone()
                };
                ours.push(minimize(
                    &mut TestObjective::new(case.function, case.dim),
                    &config,
                    &mut [],
                )?);
                theirs.push(minimize_per_point(
                    &mut TestObjective::new(case.function, case.dim),
                    &config,
                )?);
            }
            Ok(ComparisonRow {
                function: case.function.name().to_string(),
                dim: case.dim,
                ipop: case.config.restarts.is_some(),
                ours: summarise(&ours, case.success_below),
                cmaes: summarise(&theirs, case.success_below),
            })
        })
        .collect()
}

/// The comparison as a Markdown table.
pub fn comparison_table(rows: &[ComparisonRow]) -> String {
    let mut s = String::from(
        "| function | dim | restarts | ours: solved | ours: median evals | ours: median / worst f | cmaes: solved | cmaes: median evals | cmaes: median / worst f | evals ours/cmaes |\n\
         |---|---:|---|---:|---:|---|---:|---:|---|---:|\n",
    );
    for r in rows {
        let side = |x: &SolverSummary| {
            format!(
                "{}/{} | {:.0} | {:.1e} / {:.1e}",
                x.successes, x.runs, x.median_evaluations, x.median_final_cost, x.worst_final_cost
            )
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.2} |\n",
            r.function,
            r.dim,
            if r.ipop {
                format!(
                    "IPOP ({:.1} / {:.1})",
                    r.ours.mean_restarts, r.cmaes.mean_restarts
                )
            } else {
                "none".to_string()
            },
            side(&r.ours),
            side(&r.cmaes),
            r.evaluation_ratio()
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_functions::BoxConstrained;

    #[test]
    fn cmaes_crate_and_ask_tell_reach_the_optima_with_comparable_evaluations() {
        let rows = compare(&standard_cases()).unwrap();
        println!("{}", comparison_table(&rows));
        for r in &rows {
            assert_eq!(
                r.ours.successes, r.ours.runs,
                "ours failed on {}",
                r.function
            );
            assert_eq!(
                r.cmaes.successes, r.cmaes.runs,
                "cmaes failed on {}",
                r.function
            );
            let ratio = r.evaluation_ratio();
            assert!(
                (1.0 / 3.0..=3.0).contains(&ratio),
                "{}: evaluation ratio {ratio}",
                r.function
            );
        }
    }

    #[test]
    fn per_point_solver_calls_the_objective_one_point_at_a_time() {
        let mut f = TestObjective::new(TestFunction::Sphere, 6);
        let config = to_optimum(vec![1.0; 6], 0.5, 3);
        let r = minimize_per_point(&mut f, &config).unwrap();
        assert!(r.best_cost < 1e-8);
        assert_eq!(r.stop_reason, StopReason::TargetCost);
        assert_eq!(f.batches, f.evaluations);
        assert_eq!(f.evaluations, r.evaluations);
        assert_eq!(r.history.len(), r.generations);
        // Deterministic per seed.
        let again =
            minimize_per_point(&mut TestObjective::new(TestFunction::Sphere, 6), &config).unwrap();
        assert_eq!(again.best_x, r.best_x);
        assert_eq!(again.evaluations, r.evaluations);
    }

    #[test]
    fn per_point_solver_honours_the_initial_scale_and_the_box() {
        // Badly scaled start: the scale vector tells the crate about it.
        let mut f = BoxConstrained::new(
            TestObjective::new(TestFunction::Sphere, 3),
            vec![0.5, -10.0, -10.0],
            vec![3.0, 10.0, 10.0],
        )
        .unwrap();
        let config = CmaConfig {
            initial_scale: Some(vec![1.0, 0.01, 0.01]),
            max_generations: 400,
            seed: 1,
            ..CmaConfig::new(vec![2.0, 0.05, -0.05], 0.5)
        };
        let r = minimize_per_point(&mut f, &config).unwrap();
        assert_eq!(
            f.infeasible_evaluations, 0,
            "infeasible points are penalised, not evaluated"
        );
        assert!((r.best_cost - 0.25).abs() < 1e-3, "{}", r.best_cost);
        assert!(r.best_x[0] >= 0.5);
    }

    #[test]
    fn baseline_rejects_settings_the_crate_cannot_express() {
        let start = [0.6, -0.1, 0.2, 0.3, 0.05, -0.02, 5.0, 0.004, 0.001, -0.0005];
        let mut f = TestObjective::new(TestFunction::Sphere, 10);
        let capped = CmaConfig {
            sigma_max: Some(0.15),
            ..CmaConfig::new(start.to_vec(), 0.15)
        };
        assert!(matches!(
            minimize_per_point(&mut f, &capped),
            Err(OptimizeError::Baseline(_))
        ));
        let odd_mu = CmaConfig {
            population: Some(10),
            parents: Some(3),
            ..CmaConfig::new(vec![0.0; 10], 1.0)
        };
        assert!(matches!(
            minimize_per_point(&mut f, &odd_mu),
            Err(OptimizeError::Baseline(_))
        ));
        assert_eq!(f.evaluations, 0);
    }

    #[test]
    fn comparison_table_has_one_line_per_case() {
        let case = ComparisonCase {
            seeds: vec![1],
            ..standard_cases().remove(0)
        };
        let rows = compare(&[case]).unwrap();
        let table = comparison_table(&rows);
        assert_eq!(table.lines().count(), 3);
        assert!(table.contains("| sphere | 10 | none | 1/1 |"), "{table}");
    }
}
