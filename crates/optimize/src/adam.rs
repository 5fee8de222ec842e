//! The Adam update (Kingma & Ba 2015) in per-coordinate scaled units, for gradient descent on
//! any differentiable cost: with `u = x / scale`, the gradient in u is `g·scale`, and
//!
//! `m ← β₁ m + (1 − β₁) g_u`, `v ← β₂ v + (1 − β₂) g_u²`,
//! `x ← x − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + 1e-12) · scale`.
//!
//! Scaling makes one learning rate fit coordinates whose natural sizes differ by orders of
//! magnitude. Several points can be descended at once: `x` holds them back to back and
//! `scales` (one period) is applied cyclically.

use crate::error::OptimizeError;

/// Adam's state over a flat vector of coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Adam {
    /// Step size, in units of each coordinate's scale.
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    m1: Vec<f64>,
    m2: Vec<f64>,
    steps: usize,
}

impl Adam {
    /// Zero moments for `len` coordinates.
    pub fn new(len: usize, learning_rate: f64, beta1: f64, beta2: f64) -> Self {
        Self {
            learning_rate,
            beta1,
            beta2,
            m1: vec![0.0; len],
            m2: vec![0.0; len],
            steps: 0,
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// One descent step of `x` along `grad` (∂cost/∂x, same length as `x`); coordinate k has
    /// scale `scales[k % scales.len()]`. A non-finite scaled gradient is a
    /// [`OptimizeError::Numerical`] naming the step.
    pub fn step(
        &mut self,
        x: &mut [f64],
        grad: &[f64],
        scales: &[f64],
    ) -> Result<(), OptimizeError> {
        if x.len() != self.m1.len() || grad.len() != x.len() || scales.is_empty() {
            return Err(OptimizeError::DimensionMismatch {
                what: "adam step (x, gradient)".into(),
                expected: self.m1.len(),
                got: x.len().min(grad.len()),
            });
        }
        self.steps += 1;
        let step = self.steps;
        let bc1 = 1.0 - self.beta1.powi(step as i32);
        let bc2 = 1.0 - self.beta2.powi(step as i32);
        for k in 0..x.len() {
            let scale = scales[k % scales.len()];
            let gu = grad[k] * scale;
            if !gu.is_finite() {
                return Err(OptimizeError::Numerical(format!(
                    "non-finite gradient at step {step}"
                )));
            }
            self.m1[k] = self.beta1 * self.m1[k] + (1.0 - self.beta1) * gu;
            self.m2[k] = self.beta2 * self.m2[k] + (1.0 - self.beta2) * gu * gu;
            let stepu =
                self.learning_rate * (self.m1[k] / bc1) / ((self.m2[k] / bc2).sqrt() + 1e-12);
            x[k] -= stepu * scale;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_each_coordinate_by_the_learning_rate_times_its_scale() {
        // At t = 1 the bias-corrected ratio m̂/√v̂ is sign(g), so every coordinate moves by
        // lr·scale against its gradient, whatever the gradient's size.
        let mut adam = Adam::new(4, 0.1, 0.9, 0.999);
        let mut x = vec![1.0, 1.0, 1.0, 1.0];
        adam.step(&mut x, &[3.0, -0.001, 5.0, -7.0], &[1.0, 10.0])
            .unwrap();
        let moved: Vec<f64> = x.iter().map(|v| v - 1.0).collect();
        for (m, want) in moved.iter().zip([-0.1, 1.0, -0.1, 1.0]) {
            assert!((m - want).abs() < 1e-9, "{moved:?}");
        }
        assert_eq!(adam.steps(), 1);
    }

    #[test]
    fn descends_a_badly_scaled_quadratic_to_its_minimum() {
        // cost = (x₀/1000)² + (x₁ − 3)²: coordinates a thousandfold apart in size.
        let scales = [1000.0, 1.0];
        let mut x = vec![2000.0, -1.0];
        let mut adam = Adam::new(2, 0.05, 0.9, 0.999);
        for _ in 0..2000 {
            let g = [2.0 * x[0] / 1e6, 2.0 * (x[1] - 3.0)];
            adam.step(&mut x, &g, &scales).unwrap();
        }
        assert!(x[0].abs() < 5.0, "{x:?}");
        assert!((x[1] - 3.0).abs() < 5e-3, "{x:?}");
    }

    #[test]
    fn non_finite_gradients_and_wrong_lengths_are_errors() {
        let mut adam = Adam::new(2, 0.1, 0.9, 0.999);
        let mut x = vec![0.0, 0.0];
        assert!(matches!(
            adam.step(&mut x, &[f64::NAN, 0.0], &[1.0]),
            Err(OptimizeError::Numerical(m)) if m.contains("step 1")
        ));
        assert!(adam.step(&mut x, &[0.0], &[1.0]).is_err());
    }
}
