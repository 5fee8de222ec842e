//! Bookkeeping every solver of the crate shares: the best valid point of a run (and the best
//! valid cost of its current restart), and the median cost of a generation.

use crate::objective::Evaluation;

/// The best valid point seen so far, and the best valid cost of the current restart.
#[derive(Clone, Debug)]
pub(crate) struct Incumbent {
    /// The point (the start until a valid point is seen).
    pub x: Vec<f64>,
    /// Its cost (∞ until a valid point is seen).
    pub cost: f64,
    /// Its named cost components.
    pub parts: Vec<(String, f64)>,
    /// Best valid cost since the current restart began (∞ at its start).
    pub restart_cost: f64,
}

impl Incumbent {
    /// Nothing valid seen yet: the start, at cost ∞.
    pub fn new(start: &[f64]) -> Self {
        Self {
            x: start.to_vec(),
            cost: f64::INFINITY,
            parts: Vec::new(),
            restart_cost: f64::INFINITY,
        }
    }

    /// Takes `x` with its evaluation `e` as the run's best and lowers the restart's best cost,
    /// where `e` is valid and cheaper.
    pub fn offer(&mut self, x: &[f64], e: &Evaluation) {
        if e.valid && e.cost < self.cost {
            self.cost = e.cost;
            self.x = x.to_vec();
            self.parts = e.parts.clone();
        }
        if e.valid && e.cost < self.restart_cost {
            self.restart_cost = e.cost;
        }
    }
}

/// The median of `v` (NaN when empty); NaNs sort last.
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        m if m % 2 == 1 => v[m / 2],
        m => 0.5 * (v[m / 2 - 1] + v[m / 2]),
    }
}
