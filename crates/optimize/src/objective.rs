//! The problem side of the problem/solver split: a batched [`Objective`], the [`Evaluation`] it
//! returns per point, and the [`Observer`]s that watch a run (run tables, progress lines).
//!
//! Solvers see only [`Objective`]. The Euler simulator, surrogates and the analytic test
//! functions all implement it, and every solver hands it a whole population at once, so a
//! batched tensor computation evaluates one generation in one call.

use serde::{Deserialize, Serialize};

use crate::error::OptimizeError;

/// The objective's verdict on one parameter vector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The cost to minimise (for the pMFM: FC cost + KS cost).
    pub cost: f64,
    /// False when the objective could not score the point properly (e.g. every duplicate of a
    /// simulation failed and the cost is the reference's fallback 10, or the cost is NaN).
    /// Solvers still rank such points by `cost` but never report them as the best point.
    pub valid: bool,
    /// Named components of the cost, e.g. `("fc", 0.31)`, `("ks", 0.85)`, `("spread", 0.02)`.
    pub parts: Vec<(String, f64)>,
    /// Euler simulations spent on this point (parameter sets × duplicates); 0 for surrogates and
    /// analytic functions.
    pub simulations: usize,
}

impl Evaluation {
    /// A point with only a total cost; valid when the cost is finite.
    pub fn new(cost: f64) -> Self {
        Self {
            cost,
            valid: cost.is_finite(),
            parts: Vec::new(),
            simulations: 0,
        }
    }

    /// A point the objective could not score properly; it is ranked by `cost`.
    pub fn invalid(cost: f64) -> Self {
        Self {
            valid: false,
            ..Self::new(cost)
        }
    }

    pub fn with_part(mut self, name: impl Into<String>, value: f64) -> Self {
        self.parts.push((name.into(), value));
        self
    }

    pub fn with_simulations(mut self, simulations: usize) -> Self {
        self.simulations = simulations;
        self
    }

    /// The value of a named cost component, if present.
    pub fn part(&self, name: &str) -> Option<f64> {
        self.parts.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
}

/// A cost over parameter vectors of a fixed dimension, evaluated a population at a time.
pub trait Objective {
    /// Length of every parameter vector.
    fn dim(&self) -> usize;

    /// Costs of a whole population, one [`Evaluation`] per point, in order. Solvers call this
    /// once per generation with every point to be evaluated in it.
    fn cost(&mut self, population: &[Vec<f64>]) -> Result<Vec<Evaluation>, OptimizeError>;

    /// Whether `x` lies in the region where the objective is defined (for the pMFM: derived
    /// regional values inside their bounds). Solvers never pass an infeasible point to
    /// [`cost`](Self::cost).
    fn is_feasible(&self, _x: &[f64]) -> bool {
        true
    }

    /// How far `x` is outside the feasible region (0 when feasible), used to order infeasible
    /// points under a penalty. The default only distinguishes feasible (0) from infeasible (1).
    fn constraint_violation(&self, x: &[f64]) -> f64 {
        if self.is_feasible(x) {
            0.0
        } else {
            1.0
        }
    }

    /// Short name for tables and logs, e.g. `euler(n_dup=3)` or `sphere`.
    fn name(&self) -> String;
}

/// [`Objective`] for pointers to an objective (`&mut T`, `Box<T>`): every method forwards.
macro_rules! forward_objective {
    ($($pointer:ty),*) => {$(
        impl<T: Objective + ?Sized> Objective for $pointer {
            fn dim(&self) -> usize {
                (**self).dim()
            }
            fn cost(&mut self, population: &[Vec<f64>]) -> Result<Vec<Evaluation>, OptimizeError> {
                (**self).cost(population)
            }
            fn is_feasible(&self, x: &[f64]) -> bool {
                (**self).is_feasible(x)
            }
            fn constraint_violation(&self, x: &[f64]) -> f64 {
                (**self).constraint_violation(x)
            }
            fn name(&self) -> String {
                (**self).name()
            }
        }
    )*};
}

forward_objective!(&mut T, Box<T>);

/// Evaluates `population` with `objective` and checks that one evaluation came back per point.
pub fn evaluate_batch<O: Objective + ?Sized>(
    objective: &mut O,
    population: &[Vec<f64>],
) -> Result<Vec<Evaluation>, OptimizeError> {
    let evals = objective.cost(population)?;
    if evals.len() != population.len() {
        return Err(OptimizeError::EvaluationCount {
            objective: objective.name(),
            expected: population.len(),
            got: evals.len(),
        });
    }
    Ok(evals)
}

/// Where in a run a batch of evaluations was made.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchContext {
    /// Restart index (0 for the first run; IPOP restarts count up).
    pub restart: usize,
    /// Generation over the whole run, 1-based.
    pub generation: usize,
    /// Generation within the current restart, 1-based.
    pub generation_in_restart: usize,
    /// Points evaluated by the objective before this batch.
    pub evaluations_before: usize,
    /// Wall time since the run started (including time before a resume), seconds.
    pub elapsed_s: f64,
}

/// Summary of one generation (one iteration of a gradient solver), handed to observers and kept
/// in the run's history.
///
/// Its serde form writes floats as exact decimal strings (e.g. `"0.15"`, `"inf"`) so that a
/// checkpointed history resumes bit for bit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerationReport {
    pub restart: usize,
    /// 1-based, over the whole run.
    pub generation: usize,
    /// 1-based, within the current restart.
    pub generation_in_restart: usize,
    /// Offspring drawn this generation (λ).
    pub population: usize,
    /// Points evaluated by the objective so far (cumulative).
    pub evaluations: usize,
    /// Euler simulations spent so far (cumulative).
    pub simulations: usize,
    /// Infeasible draws this generation: re-drawn (resampling) or penalised without evaluation.
    pub rejected: usize,
    /// Lowest cost among this generation's evaluated points.
    #[serde(with = "exact::scalar")]
    pub best_cost: f64,
    /// The point with `best_cost`.
    #[serde(with = "exact::vector")]
    pub best_x: Vec<f64>,
    #[serde(with = "exact::parts")]
    pub best_parts: Vec<(String, f64)>,
    /// Median cost of this generation's evaluated points.
    #[serde(with = "exact::scalar")]
    pub median_cost: f64,
    /// Lowest valid cost seen so far in the run.
    #[serde(with = "exact::scalar")]
    pub best_so_far_cost: f64,
    /// Search-distribution mean after this generation's update.
    #[serde(with = "exact::vector")]
    pub mean: Vec<f64>,
    /// Step size after the update (σ for CMA-ES, learning rate for gradient solvers).
    #[serde(with = "exact::scalar")]
    pub step_size: f64,
    /// Solver-specific diagnostics, e.g. `ps_norm`, `axis_ratio`, `min_std`, `max_std`.
    #[serde(with = "exact::parts")]
    pub diagnostics: Vec<(String, f64)>,
    /// Wall time since the run started (including time before a resume), seconds.
    #[serde(with = "exact::scalar")]
    pub elapsed_s: f64,
}

impl GenerationReport {
    /// The value of a named diagnostic, if present.
    pub fn diagnostic(&self, name: &str) -> Option<f64> {
        self.diagnostics
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }
}

/// Watches a run: run-table writers, progress displays. Both hooks default to doing nothing.
///
/// Per generation, the solver calls [`on_evaluations`](Self::on_evaluations) with exactly the
/// points the objective evaluated (in the order they were passed to it), then
/// [`on_generation`](Self::on_generation). An error aborts the run.
pub trait Observer {
    fn on_evaluations(
        &mut self,
        _context: &BatchContext,
        _xs: &[Vec<f64>],
        _evals: &[Evaluation],
    ) -> Result<(), OptimizeError> {
        Ok(())
    }

    fn on_generation(&mut self, _report: &GenerationReport) -> Result<(), OptimizeError> {
        Ok(())
    }
}

/// Prints one progress line to stderr every `every` generations.
#[derive(Clone, Debug)]
pub struct LogObserver {
    pub every: usize,
    pub label: String,
}

impl LogObserver {
    pub fn new(label: impl Into<String>, every: usize) -> Self {
        Self {
            every: every.max(1),
            label: label.into(),
        }
    }
}

impl Observer for LogObserver {
    fn on_generation(&mut self, r: &GenerationReport) -> Result<(), OptimizeError> {
        if r.generation % self.every == 0 || r.generation == 1 {
            let parts: Vec<String> = r
                .best_parts
                .iter()
                .map(|(n, v)| format!("{n} {v:.4}"))
                .collect();
            eprintln!(
                "[{}] restart {} gen {:>4} | evals {:>7} | best {:.6} ({}) | best so far {:.6} | step {:.3e} | {:.1} s",
                self.label,
                r.restart,
                r.generation,
                r.evaluations,
                r.best_cost,
                parts.join(", "),
                r.best_so_far_cost,
                r.step_size,
                r.elapsed_s
            );
        }
        Ok(())
    }
}

/// Serde helpers that write `f64` as the shortest decimal string that parses back to the same
/// bits (Rust's `{:?}`), including `inf` and `NaN`. Checkpoints use them because JSON has no
/// non-finite numbers and serde_json's default float parser is not always correctly rounded.
pub mod exact {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn encode(x: f64) -> String {
        format!("{x:?}")
    }

    pub fn decode<E: serde::de::Error>(s: &str) -> Result<f64, E> {
        s.parse::<f64>()
            .map_err(|e| E::custom(format!("not a float: {s:?} ({e})")))
    }

    pub mod scalar {
        use super::*;
        pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&encode(*x))
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
            decode(&String::deserialize(d)?)
        }
    }

    pub mod option {
        use super::*;
        pub fn serialize<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            match x {
                Some(v) => s.serialize_some(&encode(*v)),
                None => s.serialize_none(),
            }
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|v| decode(&v))
                .transpose()
        }
    }

    pub mod vector {
        use super::*;
        pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|x| encode(*x)))
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
            Vec::<String>::deserialize(d)?
                .iter()
                .map(|x| decode(x))
                .collect()
        }
    }

    pub mod matrix {
        use super::*;
        pub fn serialize<S: Serializer>(v: &[Vec<f64>], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(
                v.iter()
                    .map(|row| row.iter().map(|x| encode(*x)).collect::<Vec<_>>()),
            )
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
            Vec::<Vec<String>>::deserialize(d)?
                .iter()
                .map(|row| row.iter().map(|x| decode(x)).collect())
                .collect()
        }
    }

    pub mod option_matrix {
        use super::*;
        pub fn serialize<S: Serializer>(
            v: &Option<Vec<Vec<f64>>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match v {
                Some(m) => s.serialize_some(
                    &m.iter()
                        .map(|row| row.iter().map(|x| encode(*x)).collect::<Vec<_>>())
                        .collect::<Vec<_>>(),
                ),
                None => s.serialize_none(),
            }
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Vec<Vec<f64>>>, D::Error> {
            Option::<Vec<Vec<String>>>::deserialize(d)?
                .map(|m| {
                    m.iter()
                        .map(|row| row.iter().map(|x| decode(x)).collect())
                        .collect()
                })
                .transpose()
        }
    }

    pub mod parts {
        use super::*;
        pub fn serialize<S: Serializer>(v: &[(String, f64)], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|(n, x)| (n, encode(*x))))
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Vec<(String, f64)>, D::Error> {
            Vec::<(String, String)>::deserialize(d)?
                .into_iter()
                .map(|(n, x)| Ok((n, decode::<D::Error>(&x)?)))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_float_encoding_round_trips_bits() {
        let values = [
            0.1,
            1.0 / 3.0,
            0.123_456_789_012_345_68,
            1e-300,
            5e-324,
            f64::MAX,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for v in values {
            let back: f64 = exact::decode::<serde_json::Error>(&exact::encode(v)).unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{v:?}");
        }
        let nan: f64 = exact::decode::<serde_json::Error>(&exact::encode(f64::NAN)).unwrap();
        assert!(nan.is_nan());
    }

    #[test]
    fn generation_report_json_round_trip_is_exact() {
        let r = GenerationReport {
            restart: 1,
            generation: 7,
            generation_in_restart: 3,
            population: 10,
            evaluations: 70,
            simulations: 0,
            rejected: 2,
            best_cost: 0.1 + 0.2,
            best_x: vec![1.0 / 3.0, -2.5e-17],
            best_parts: vec![("fc".into(), 0.3), ("ks".into(), f64::INFINITY)],
            median_cost: f64::NAN,
            best_so_far_cost: 0.1 + 0.2,
            mean: vec![std::f64::consts::PI],
            step_size: 0.15,
            diagnostics: vec![("ps_norm".into(), 2.0_f64.sqrt())],
            elapsed_s: 1.25,
        };
        let json = serde_json::to_string(&r).unwrap();
        let back: GenerationReport = serde_json::from_str(&json).unwrap();
        assert!(back.median_cost.is_nan());
        let strip = |mut g: GenerationReport| {
            g.median_cost = 0.0;
            g
        };
        assert_eq!(strip(back), strip(r));
    }

    #[test]
    fn evaluation_builders() {
        let e = Evaluation::new(1.5)
            .with_part("fc", 0.5)
            .with_simulations(3);
        assert!(e.valid);
        assert_eq!(e.part("fc"), Some(0.5));
        assert_eq!(e.part("ks"), None);
        assert_eq!(e.simulations, 3);
        assert!(!Evaluation::new(f64::NAN).valid);
        assert!(!Evaluation::invalid(10.0).valid);
    }
}
