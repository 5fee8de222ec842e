//! Best-so-far checkpoints of a finished search, validated on the simulator after the search
//! with the noise of every method's validation, so that a checkpoint's validated cost compares
//! across methods (the rows of [`crate::time_to_quality`]).
//!
//! A checkpoint is the end of a search generation (CMA-ES generation, active-learning round,
//! the one batch of random search or gradient descent) in which the best-so-far θ — lowest valid
//! search cost — changed. At most `k` of them are validated, log-spaced in search time; the
//! method's own validation is the last row. The checkpoint validation is bookkeeping: its wall
//! time is recorded apart and never added to the method's clock.

use std::time::Instant;

use optimize::objective::{evaluate_batch, Evaluation};
use optimize::OptimizeError;
use surrogate::ensemble::Ensemble;
use surrogate::evaluator::Evaluator;

use crate::methods::{validation_objective, Method, MethodConfig, Outcome};
use crate::run_table::RunTable;
use crate::time_to_quality::{BuildCost, CheckpointRow};

/// The best-so-far θ of a search at the end of one generation.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub generation: u32,
    /// Cumulative search wall time at the end of the generation (s).
    pub search_s: f64,
    /// Cumulative Euler simulations of the search at the end of the generation.
    pub simulations: u64,
    /// The best-so-far θ (10 coefficients) and its search cost (predicted for surrogates).
    pub theta: Vec<f64>,
    pub search_cost: f64,
}

/// Whether `method`'s search rows carry the clock at the *start* of their batch (CMA-ES observer
/// rows), rather than at its end (active rounds, random search, gradient descent).
pub fn stamped_at_batch_start(method: Method) -> bool {
    matches!(method, Method::EulerCmaes | Method::SurrogateCmaes)
}

/// One checkpoint per search generation in which the best-so-far θ changed, in run order. Its
/// time is when the generation's costs were known: the latest row time of the generation, or,
/// when rows carry the clock at the start of their batch (`batch_start_stamps`), the next
/// generation's start, and `search_end_s` after the last generation.
pub fn search_checkpoints(
    table: &RunTable,
    batch_start_stamps: bool,
    search_end_s: f64,
) -> Vec<Checkpoint> {
    let search: Vec<_> = table.rows.iter().filter(|r| r.phase == "search").collect();
    let mut out: Vec<Checkpoint> = Vec::new();
    let mut best: Option<(f64, &Vec<f64>)> = None;
    let mut changed = false;
    for (k, r) in search.iter().enumerate() {
        if r.valid && r.cost.is_finite() && best.is_none_or(|(c, _)| r.cost < c) {
            best = Some((r.cost, &r.theta));
            changed = true;
        }
        let generation_ends = search
            .get(k + 1)
            .is_none_or(|n| n.generation != r.generation);
        if generation_ends && changed {
            let (cost, theta) = best.expect("changed implies a best");
            let same_generation = search[..=k]
                .iter()
                .rev()
                .take_while(|x| x.generation == r.generation);
            let ended = same_generation
                .map(|x| x.elapsed_s)
                .fold(r.elapsed_s, f64::max);
            let search_s = match (batch_start_stamps, search.get(k + 1)) {
                (false, _) => ended,
                (true, Some(next)) => next.elapsed_s.max(ended),
                (true, None) => search_end_s.max(ended),
            };
            out.push(Checkpoint {
                generation: r.generation,
                search_s,
                simulations: r.simulations,
                theta: theta.clone(),
                search_cost: cost,
            });
            changed = false;
        }
    }
    out
}

/// At most `k` (≥ 1) of `checkpoints`, log-spaced in search time between the first and the
/// last, the last always kept: for each of `k` target times the latest checkpoint not after it.
pub fn log_spaced(checkpoints: &[Checkpoint], k: usize) -> Vec<Checkpoint> {
    let n = checkpoints.len();
    if n <= k {
        return checkpoints.to_vec();
    }
    let t = |j: usize| checkpoints[j].search_s.max(1e-6);
    let (first, last) = (t(0), t(n - 1));
    let mut picked: Vec<usize> = (0..k)
        .map(|i| {
            let frac = if k == 1 {
                1.0
            } else {
                i as f64 / (k - 1) as f64
            };
            let target = first * (last / first).powf(frac);
            (0..n)
                .rev()
                .find(|&j| t(j) <= target * (1.0 + 1e-12))
                .unwrap_or(0)
        })
        .collect();
    picked.push(n - 1);
    picked.sort_unstable();
    picked.dedup();
    picked.into_iter().map(|j| checkpoints[j].clone()).collect()
}

/// Validates `checkpoints` as one batch with the validation simulator of
/// [`validation_objective`] (same noise as every method's validation); returns the
/// evaluations and the wall time spent (s).
pub fn validate_checkpoints(
    evaluator: &Evaluator,
    cfg: &MethodConfig,
    checkpoints: &[Checkpoint],
) -> Result<(Vec<Evaluation>, f64), OptimizeError> {
    let t0 = Instant::now();
    if checkpoints.is_empty() {
        return Ok((vec![], 0.0));
    }
    let xs: Vec<Vec<f64>> = checkpoints.iter().map(|c| c.theta.clone()).collect();
    let evals = evaluate_batch(&mut validation_objective(evaluator, cfg), &xs)?;
    Ok((evals, t0.elapsed().as_secs_f64()))
}

/// The time-to-quality rows of one method's run: up to `k` validated search checkpoints, then
/// the method's own result (its validation, at search + validation wall time).
pub fn checkpoint_rows(
    outcome: &Outcome,
    evaluator: &Evaluator,
    cfg: &MethodConfig,
    k: usize,
    build: BuildCost,
) -> Result<Vec<CheckpointRow>, OptimizeError> {
    if k == 0 {
        return Err(OptimizeError::config(
            "ttq_checkpoints",
            "must be at least 1, got 0",
        ));
    }
    let all = search_checkpoints(
        &outcome.table,
        stamped_at_batch_start(outcome.method),
        outcome.search_s,
    );
    let picked = log_spaced(&all, k);
    let (evals, validate_s) = validate_checkpoints(evaluator, cfg, &picked)?;
    let method = outcome.method.name().to_string();
    let row = |j: usize, kind: &str| CheckpointRow {
        method: method.clone(),
        checkpoint: j as u32,
        kind: kind.into(),
        generation: 0,
        wall_s: 0.0,
        simulations: 0,
        search_cost: f64::NAN,
        checkpoint_cost: f64::INFINITY,
        theta: vec![f64::NAN; pmfm_sim::params::N_THETA],
        build,
        checkpoint_validate_s: validate_s,
    };
    let mut rows: Vec<CheckpointRow> = picked
        .iter()
        .zip(&evals)
        .enumerate()
        .map(|(j, (c, e))| CheckpointRow {
            generation: c.generation,
            wall_s: c.search_s,
            simulations: c.simulations,
            search_cost: c.search_cost,
            checkpoint_cost: if e.valid { e.cost } else { f64::INFINITY },
            theta: c.theta.clone(),
            ..row(j, "search")
        })
        .collect();
    let last_generation = picked.last().map_or(0, |c| c.generation);
    rows.push(CheckpointRow {
        generation: last_generation,
        wall_s: outcome.search_s + outcome.validate_s,
        simulations: outcome.search_simulations + outcome.validate_simulations,
        search_cost: outcome.best_search_cost,
        checkpoint_cost: outcome.best_cost,
        theta: outcome
            .best_theta
            .map_or(vec![f64::NAN; pmfm_sim::params::N_THETA], |t| t.to_vec()),
        ..row(picked.len(), "final")
    });
    Ok(rows)
}

/// What a trained surrogate cost to build, from its own metadata: the dataset's simulation
/// time (the `wall_s` of the rows of every dataset its provenance names; NaN when one cannot be
/// read) and the training time (the members' fit wall times, trained one after another).
pub fn surrogate_build_cost(model: &Ensemble) -> (BuildCost, Vec<String>) {
    let training_s = model.members.iter().map(|m| m.fit_summary().wall_s).sum();
    let mut notes = Vec::new();
    let mut dataset_s = 0.0;
    let sources = model
        .members
        .first()
        .map(|m| m.provenance().datasets.clone())
        .unwrap_or_default();
    if sources.is_empty() {
        notes.push("the surrogate names no dataset: dataset time unknown".to_string());
        dataset_s = f64::NAN;
    }
    for d in &sources {
        match surrogate::table::read_samples(std::path::Path::new(&d.path)) {
            Ok(s) => dataset_s += s.wall_s.iter().sum::<f64>(),
            Err(e) => {
                notes.push(format!("{}: dataset time unknown ({e})", d.path));
                dataset_s = f64::NAN;
            }
        }
    }
    (
        BuildCost {
            dataset_s,
            training_s,
        },
        notes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_table::RunRow;

    fn row(generation: u32, cost: f64, elapsed_s: f64, simulations: u64) -> RunRow {
        let valid = cost.is_finite();
        RunRow::test(
            "search",
            generation,
            cost,
            valid,
            f64::NAN,
            (elapsed_s, simulations),
        )
    }

    #[test]
    fn checkpoints_follow_the_best_so_far_per_generation() {
        let mut t = RunTable::new("r", "euler-cmaes", "test");
        t.rows = vec![
            row(1, 2.0, 1.0, 1),
            row(1, 1.5, 1.2, 2),
            row(2, 1.8, 2.0, 3), // no improvement: no checkpoint for generation 2
            row(2, f64::NAN, 2.1, 4),
            row(3, 1.0, 3.0, 5),
            row(3, 1.2, 3.5, 6),
        ];
        let mut v = row(4, 0.1, 9.0, 9);
        v.phase = "validation".into();
        t.rows.push(v);
        let c = search_checkpoints(&t, false, 4.0);
        assert_eq!(c.len(), 2);
        assert_eq!(
            (
                c[0].generation,
                c[0].search_s,
                c[0].simulations,
                c[0].search_cost
            ),
            (1, 1.2, 2, 1.5)
        );
        assert_eq!(c[0].theta, vec![1.5; 10]);
        assert_eq!(
            (
                c[1].generation,
                c[1].search_s,
                c[1].simulations,
                c[1].search_cost
            ),
            (3, 3.5, 6, 1.0)
        );
        // Rows stamped at the start of their batch: a generation ends where the next starts,
        // the last one at the end of the search.
        let c = search_checkpoints(&t, true, 4.0);
        assert_eq!((c[0].search_s, c[1].search_s), (2.0, 4.0));
    }

    #[test]
    fn log_spacing_keeps_the_last_and_at_most_k() {
        let cps: Vec<Checkpoint> = (1..=100)
            .map(|g| Checkpoint {
                generation: g,
                search_s: g as f64,
                simulations: g as u64,
                theta: vec![0.0; 10],
                search_cost: 1.0 / g as f64,
            })
            .collect();
        let p = log_spaced(&cps, 5);
        let times: Vec<f64> = p.iter().map(|c| c.search_s).collect();
        // Targets 1, 3.16, 10, 31.6, 100: the latest checkpoint not after each.
        assert_eq!(times, vec![1.0, 3.0, 10.0, 31.0, 100.0]);
        assert_eq!(log_spaced(&cps[..3], 8).len(), 3);
        assert_eq!(log_spaced(&cps, 1).last().unwrap().search_s, 100.0);
    }
}
