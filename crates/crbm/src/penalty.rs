//! Weight penalties R(w); training ascends `log-likelihood − R(w)`.
//!
//! * `L1`: `R = λ Σ_iμ |w_iμ|`
//! * `L2`: `R = (λ/2) Σ_iμ w_iμ²`
//! * `L2L1` (spec): `R = (λ/(2N)) Σ_μ (Σ_i |w_iμ|)²`, so
//!   `∂R/∂w_iμ = (λ/N)·sign(w_iμ)·Σ_j |w_jμ|` — sparse and evenly spread weights.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{CrbmError, Result};

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Penalty {
    #[default]
    None,
    L1 {
        lambda: f64,
    },
    L2 {
        lambda: f64,
    },
    L2L1 {
        lambda: f64,
    },
}

impl Penalty {
    pub fn lambda(&self) -> f64 {
        match *self {
            Penalty::None => 0.0,
            Penalty::L1 { lambda } | Penalty::L2 { lambda } | Penalty::L2L1 { lambda } => lambda,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let l = self.lambda();
        if !(l.is_finite() && l >= 0.0) {
            return Err(CrbmError::InvalidConfig {
                field: "penalty.lambda",
                value: l.to_string(),
                reason: "must be finite and ≥ 0",
            });
        }
        Ok(())
    }

    /// R(w) for weights of shape [N, M] row-major.
    pub fn value(&self, w: &[f64], n: usize, m: usize) -> f64 {
        match *self {
            Penalty::None => 0.0,
            Penalty::L1 { lambda } => lambda * w.iter().map(|x| x.abs()).sum::<f64>(),
            Penalty::L2 { lambda } => 0.5 * lambda * w.iter().map(|x| x * x).sum::<f64>(),
            Penalty::L2L1 { lambda } => {
                let cols = column_abs_sums(w, n, m);
                lambda / (2.0 * n as f64) * cols.iter().map(|c| c * c).sum::<f64>()
            }
        }
    }

    /// The per-column factors of ∂R/∂w for weights whose column sums Σ_i |w_iμ| are
    /// `col_abs` ([M]): λ/N · Σ_i |w_iμ| for L2L1, unused (zeros) otherwise.
    pub fn column_scales(&self, col_abs: &[f64], n: usize) -> Vec<f64> {
        match *self {
            Penalty::L2L1 { lambda } => col_abs.iter().map(|c| lambda / n as f64 * c).collect(),
            _ => vec![0.0; col_abs.len()],
        }
    }

    /// Whether ∂R/∂w needs the column sums Σ_i |w_iμ| ([`Penalty::column_scales`]).
    pub fn needs_column_sums(&self) -> bool {
        matches!(self, Penalty::L2L1 { .. })
    }

    /// ∂R/∂w_iμ for one weight `w` whose column factor is `scale` (from
    /// [`Penalty::column_scales`]).
    #[inline(always)]
    pub fn element_gradient(&self, w: f64, scale: f64) -> f64 {
        match *self {
            Penalty::None => 0.0,
            Penalty::L1 { lambda } => lambda * sign(w),
            Penalty::L2 { lambda } => lambda * w,
            Penalty::L2L1 { .. } => scale * sign(w),
        }
    }

    /// `grad −= ∂R/∂w` (grad is an ascent direction), shapes [N, M].
    pub fn subtract_gradient(&self, w: &[f64], n: usize, m: usize, grad: &mut [f64]) {
        match *self {
            Penalty::None => {}
            Penalty::L1 { lambda } => grad
                .iter_mut()
                .zip(w)
                .for_each(|(g, x)| *g -= lambda * sign(*x)),
            Penalty::L2 { lambda } => grad.iter_mut().zip(w).for_each(|(g, x)| *g -= lambda * x),
            Penalty::L2L1 { .. } => {
                let scale = self.column_scales(&column_abs_sums(w, n, m), n);
                grad.par_chunks_mut(m)
                    .zip(w.par_chunks(m))
                    .for_each(|(grow, wrow)| {
                        for ((g, x), s) in grow.iter_mut().zip(wrow).zip(&scale) {
                            *g -= self.element_gradient(*x, *s);
                        }
                    });
            }
        }
    }
}

#[inline]
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Σ_i |w_iμ| for each μ, shape [M].
pub fn column_abs_sums(w: &[f64], _n: usize, m: usize) -> Vec<f64> {
    let mut cols = vec![0.0; m];
    for row in w.chunks(m) {
        cols.iter_mut().zip(row).for_each(|(c, x)| *c += x.abs());
    }
    cols
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradients_match_finite_differences() {
        let (n, m) = (7, 3);
        // Weights away from 0 so |·| is differentiable at the probe points.
        let w: Vec<f64> = (0..n * m)
            .map(|k| ((k as f64 * 1.7).sin() + 0.05).signum() * (0.1 + (k % 5) as f64 * 0.2))
            .collect();
        for p in [
            Penalty::L1 { lambda: 0.3 },
            Penalty::L2 { lambda: 0.7 },
            Penalty::L2L1 { lambda: 1.3 },
        ] {
            let mut grad = vec![0.0; n * m];
            p.subtract_gradient(&w, n, m, &mut grad);
            let d = 1e-6;
            for k in 0..n * m {
                let (mut a, mut b) = (w.clone(), w.clone());
                a[k] += d;
                b[k] -= d;
                let fd = (p.value(&a, n, m) - p.value(&b, n, m)) / (2.0 * d);
                assert!(
                    (-grad[k] - fd).abs() < 1e-7,
                    "{p:?} k={k}: {} vs {fd}",
                    -grad[k]
                );
            }
        }
        assert_eq!(Penalty::None.value(&w, n, m), 0.0);
        assert!(Penalty::L2L1 { lambda: -1.0 }.validate().is_err());
    }
}
