//! Standard analytic test functions with known optima, as batched [`Objective`]s, for testing
//! solvers (and comparing them with the `cmaes` crate, see [`crate::baseline`]).

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

use crate::cma::{CmaConfig, Ipop, StartBox};
use crate::error::OptimizeError;
use crate::objective::{Evaluation, Objective};

/// A CMA-ES from `start` with step size `sigma0` and `seed` that stops once the cost falls to
/// 1e-10: the test functions' optimum 0, to within rounding.
pub fn to_optimum(start: Vec<f64>, sigma0: f64, seed: u64) -> CmaConfig {
    CmaConfig {
        target_cost: Some(1e-10),
        seed,
        ..CmaConfig::new(start, sigma0)
    }
}

/// Rastrigin in 5-D from 3.0 (σ₀ = 2) to the optimum with up to 9 IPOP restarts (population
/// doubling), each from a uniform start in the search box [−5.12, 5.12]⁵.
pub fn rastrigin_ipop(seed: u64) -> CmaConfig {
    CmaConfig {
        restarts: Some(Ipop {
            max_restarts: 9,
            population_factor: 2.0,
            start_box: Some(StartBox {
                lower: vec![-5.12; 5],
                upper: vec![5.12; 5],
            }),
        }),
        ..to_optimum(vec![3.0; 5], 2.0, seed)
    }
}

/// Which analytic function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestFunction {
    /// `f(x) = Σ xᵢ²`; minimum 0 at 0.
    Sphere,
    /// `f(x) = Σᵢ 100 (xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)²`; minimum 0 at (1, …, 1). For n ≥ 4 it has a
    /// second, local minimum near x₁ = −1.
    Rosenbrock,
    /// `f(x) = 10 n + Σ (xᵢ² − 10 cos 2πxᵢ)`; global minimum 0 at 0, a local minimum near every
    /// integer lattice point.
    Rastrigin,
    /// `f(x) = Σ 10^(6 (i−1)/(n−1)) xᵢ²`; minimum 0 at 0, condition number 10⁶.
    Ellipsoid,
}

impl TestFunction {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sphere => "sphere",
            Self::Rosenbrock => "rosenbrock",
            Self::Rastrigin => "rastrigin",
            Self::Ellipsoid => "ellipsoid",
        }
    }

    /// f(x).
    pub fn value(self, x: &[f64]) -> f64 {
        let n = x.len();
        match self {
            Self::Sphere => x.iter().map(|v| v * v).sum(),
            Self::Rosenbrock => x
                .windows(2)
                .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
                .sum(),
            Self::Rastrigin => {
                10.0 * n as f64
                    + x.iter()
                        .map(|v| v * v - 10.0 * (2.0 * PI * v).cos())
                        .sum::<f64>()
            }
            Self::Ellipsoid => {
                let denom = (n.max(2) - 1) as f64;
                x.iter()
                    .enumerate()
                    .map(|(i, v)| 10f64.powf(6.0 * i as f64 / denom) * v * v)
                    .sum()
            }
        }
    }

    /// The global minimiser in `dim` dimensions.
    pub fn optimum(self, dim: usize) -> Vec<f64> {
        match self {
            Self::Rosenbrock => vec![1.0; dim],
            _ => vec![0.0; dim],
        }
    }

    /// The global minimum value.
    pub fn optimal_cost(self) -> f64 {
        0.0
    }
}

/// A [`TestFunction`] in a fixed dimension, counting how it is called.
#[derive(Clone, Debug)]
pub struct TestObjective {
    pub function: TestFunction,
    pub dim: usize,
    /// Points evaluated so far.
    pub evaluations: usize,
    /// Calls of [`Objective::cost`] so far (batches).
    pub batches: usize,
}

impl TestObjective {
    pub fn new(function: TestFunction, dim: usize) -> Self {
        Self {
            function,
            dim,
            evaluations: 0,
            batches: 0,
        }
    }
}

impl Objective for TestObjective {
    fn dim(&self) -> usize {
        self.dim
    }

    fn cost(&mut self, population: &[Vec<f64>]) -> Result<Vec<Evaluation>, OptimizeError> {
        self.batches += 1;
        self.evaluations += population.len();
        population
            .iter()
            .map(|x| {
                if x.len() != self.dim {
                    return Err(OptimizeError::DimensionMismatch {
                        what: format!("{} point", self.function.name()),
                        expected: self.dim,
                        got: x.len(),
                    });
                }
                Ok(Evaluation::new(self.function.value(x)))
            })
            .collect()
    }

    fn name(&self) -> String {
        self.function.name().to_string()
    }
}

/// Restricts an objective to the box `lower ≤ x ≤ upper`, and counts the infeasible points it
/// was nevertheless asked to evaluate (a correct solver makes that count 0).
#[derive(Clone, Debug)]
pub struct BoxConstrained<O> {
    pub inner: O,
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
    /// Points outside the box that were passed to [`Objective::cost`].
    pub infeasible_evaluations: usize,
    /// Calls of [`Objective::is_feasible`] so far.
    pub feasibility_checks: std::cell::Cell<usize>,
}

impl<O: Objective> BoxConstrained<O> {
    pub fn new(inner: O, lower: Vec<f64>, upper: Vec<f64>) -> Result<Self, OptimizeError> {
        let n = inner.dim();
        for (what, v) in [("lower", &lower), ("upper", &upper)] {
            if v.len() != n {
                return Err(OptimizeError::DimensionMismatch {
                    what: format!("box {what} bound"),
                    expected: n,
                    got: v.len(),
                });
            }
        }
        if lower.iter().zip(&upper).any(|(l, u)| !(l <= u)) {
            return Err(OptimizeError::config(
                "box",
                "every lower bound must be ≤ its upper bound",
            ));
        }
        Ok(Self {
            inner,
            lower,
            upper,
            infeasible_evaluations: 0,
            feasibility_checks: std::cell::Cell::new(0),
        })
    }
}

impl<O: Objective> Objective for BoxConstrained<O> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn cost(&mut self, population: &[Vec<f64>]) -> Result<Vec<Evaluation>, OptimizeError> {
        self.infeasible_evaluations += population
            .iter()
            .filter(|x| self.constraint_violation(x) > 0.0)
            .count();
        self.inner.cost(population)
    }

    fn is_feasible(&self, x: &[f64]) -> bool {
        self.feasibility_checks
            .set(self.feasibility_checks.get() + 1);
        self.constraint_violation(x) == 0.0
    }

    /// Total distance outside the box, summed over coordinates.
    fn constraint_violation(&self, x: &[f64]) -> f64 {
        x.iter()
            .zip(self.lower.iter().zip(&self.upper))
            .map(|(v, (l, u))| (l - v).max(0.0) + (v - u).max(0.0))
            .sum()
    }

    fn name(&self) -> String {
        format!("{}(box)", self.inner.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optima_have_known_values() {
        for f in [
            TestFunction::Sphere,
            TestFunction::Rosenbrock,
            TestFunction::Rastrigin,
            TestFunction::Ellipsoid,
        ] {
            for dim in [2, 5, 10] {
                let v = f.value(&f.optimum(dim));
                assert!(v.abs() < 1e-12, "{f:?} {dim}: {v}");
                // any displaced point is worse
                let mut x = f.optimum(dim);
                x[0] += 0.1;
                assert!(f.value(&x) > v, "{f:?} {dim}");
            }
        }
        assert!((TestFunction::Rosenbrock.value(&[0.0, 0.0]) - 1.0).abs() < 1e-15);
        assert!((TestFunction::Rastrigin.value(&[1.0]) - 1.0).abs() < 1e-12);
        assert!((TestFunction::Ellipsoid.value(&[0.0, 1.0]) - 1e6).abs() < 1e-6);
    }

    #[test]
    fn batched_cost_counts_calls_and_checks_dimension() {
        let mut f = TestObjective::new(TestFunction::Sphere, 3);
        let e = f.cost(&[vec![1.0, 2.0, 2.0], vec![0.0; 3]]).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].cost, 9.0);
        assert_eq!((f.batches, f.evaluations), (1, 2));
        assert!(matches!(
            f.cost(&[vec![1.0]]),
            Err(OptimizeError::DimensionMismatch { .. })
        ));
    }

    #[test]
    fn box_constraint_measures_violation() {
        let b = BoxConstrained::new(
            TestObjective::new(TestFunction::Sphere, 2),
            vec![0.0, 0.0],
            vec![1.0, 1.0],
        )
        .unwrap();
        assert!(b.is_feasible(&[0.5, 1.0]));
        assert!(!b.is_feasible(&[-0.5, 1.0]));
        assert!((b.constraint_violation(&[-0.5, 1.25]) - 0.75).abs() < 1e-15);
    }
}
