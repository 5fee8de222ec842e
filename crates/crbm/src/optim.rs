//! Hand-written first-order optimisers on flat f64 buffers. The cRBM gradient is
//! an analytic difference of moments, so no autodiff graph is needed.
//! All steps are *ascent* steps (the log-likelihood is maximised).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Elements per rayon task in the element-wise updates.
const CHUNK: usize = 1 << 14;

use crate::error::{invalid_config, Result};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Optimizer {
    Sgd,
    Adam {
        beta1: f64,
        beta2: f64,
        epsilon: f64,
    },
    Rmsprop {
        rho: f64,
        epsilon: f64,
    },
}

impl Default for Optimizer {
    fn default() -> Self {
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }
}

impl Optimizer {
    pub fn validate(&self) -> Result<()> {
        match *self {
            Optimizer::Sgd => Ok(()),
            Optimizer::Adam {
                beta1,
                beta2,
                epsilon,
            } => {
                if !(0.0..1.0).contains(&beta1) {
                    return invalid_config("optimizer.beta1", beta1, "must be in [0, 1)");
                }
                if !(0.0..1.0).contains(&beta2) {
                    return invalid_config("optimizer.beta2", beta2, "must be in [0, 1)");
                }
                if !(epsilon > 0.0) {
                    return invalid_config("optimizer.epsilon", epsilon, "must be > 0");
                }
                Ok(())
            }
            Optimizer::Rmsprop { rho, epsilon } => {
                if !(0.0..1.0).contains(&rho) {
                    return invalid_config("optimizer.rho", rho, "must be in [0, 1)");
                }
                if !(epsilon > 0.0) {
                    return invalid_config("optimizer.epsilon", epsilon, "must be > 0");
                }
                Ok(())
            }
        }
    }
}

/// One Adam step's constants (bias corrections folded in), applied element by element, so
/// that fused passes over a buffer do exactly what [`OptimizerState::step`] does.
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    beta1: f64,
    beta2: f64,
    epsilon: f64,
    /// lr / (1 − β1ᵗ).
    step: f64,
    /// 1 / √(1 − β2ᵗ).
    inv_sqrt_c2: f64,
}

impl AdamStep {
    /// One ascent step of parameter `p` along gradient `g`, with its moments `m` and `v`.
    #[inline(always)]
    pub fn apply(&self, p: &mut f64, g: f64, m: &mut f64, v: &mut f64) {
        *m = self.beta1 * *m + (1.0 - self.beta1) * g;
        *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
        *p += self.step * *m / (v.sqrt() * self.inv_sqrt_c2 + self.epsilon);
    }
}

/// Optimiser state for one parameter buffer.
#[derive(Clone, Debug)]
pub struct OptimizerState {
    pub kind: Optimizer,
    /// First moments (Adam), shape of the buffer; empty otherwise.
    pub m: Vec<f64>,
    /// Second moments (Adam, RMSprop), shape of the buffer; empty for SGD.
    pub v: Vec<f64>,
}

impl OptimizerState {
    pub fn new(kind: Optimizer, len: usize) -> Self {
        let (m, v) = match kind {
            Optimizer::Sgd => (vec![], vec![]),
            Optimizer::Adam { .. } => (vec![0.0; len], vec![0.0; len]),
            Optimizer::Rmsprop { .. } => (vec![], vec![0.0; len]),
        };
        Self { kind, m, v }
    }

    /// One ascent step `param += lr · direction(grad)`; `t` is the 1-based step
    /// count (Adam's bias correction).
    pub fn step(&mut self, param: &mut [f64], grad: &[f64], lr: f64, t: u64) {
        match self.kind {
            Optimizer::Sgd => param
                .par_iter_mut()
                .zip(grad)
                .for_each(|(p, g)| *p += lr * g),
            Optimizer::Adam { .. } => {
                let Some(adam) = self.adam_step(lr, t) else {
                    return;
                };
                param
                    .par_chunks_mut(CHUNK)
                    .zip(grad.par_chunks(CHUNK))
                    .zip(self.m.par_chunks_mut(CHUNK))
                    .zip(self.v.par_chunks_mut(CHUNK))
                    .for_each(|(((p, g), m), v)| {
                        for (((p, g), m), v) in p.iter_mut().zip(g).zip(m).zip(v) {
                            adam.apply(p, *g, m, v);
                        }
                    });
            }
            Optimizer::Rmsprop { rho, epsilon } => {
                param
                    .par_chunks_mut(CHUNK)
                    .zip(grad.par_chunks(CHUNK))
                    .zip(self.v.par_chunks_mut(CHUNK))
                    .for_each(|((p, g), v)| {
                        for ((p, g), v) in p.iter_mut().zip(g).zip(v) {
                            *v = rho * *v + (1.0 - rho) * g * g;
                            *p += lr * g / (v.sqrt() + epsilon);
                        }
                    });
            }
        }
    }

    /// Adam's constants for step `t` (1-based) at rate `lr`; None for the other optimisers.
    pub fn adam_step(&self, lr: f64, t: u64) -> Option<AdamStep> {
        let Optimizer::Adam {
            beta1,
            beta2,
            epsilon,
        } = self.kind
        else {
            return None;
        };
        let c1 = 1.0 - beta1.powi(t.min(i32::MAX as u64) as i32);
        let c2 = 1.0 - beta2.powi(t.min(i32::MAX as u64) as i32);
        Some(AdamStep {
            beta1,
            beta2,
            epsilon,
            step: lr / c1,
            inv_sqrt_c2: 1.0 / c2.sqrt(),
        })
    }

    /// Re-express the state after the parameter was rescaled `p → p·s` (per
    /// element scale `s` given by `scale(k)`), so that Adam/RMSprop steps keep
    /// their meaning after an exact reparameterisation.
    pub fn rescale(&mut self, scale: impl Fn(usize) -> f64) {
        for (k, m) in self.m.iter_mut().enumerate() {
            *m *= scale(k);
        }
        for (k, v) in self.v.iter_mut().enumerate() {
            let s = scale(k);
            *v *= s * s;
        }
    }
}

/// The schedule's rates as configs name them: `learning_rate` finite and > 0, then
/// `learning_rate_final` in (0, learning_rate].
pub(crate) fn validate_learning_rates(initial: f64, last: f64) -> Result<()> {
    if !(initial.is_finite() && initial > 0.0) {
        return invalid_config("learning_rate", initial, "must be finite and > 0");
    }
    if !(last > 0.0 && last <= initial) {
        return invalid_config("learning_rate_final", last, "must be in (0, learning_rate]");
    }
    Ok(())
}

/// Learning rate at update `t` (0-based) of `n_updates`: `initial` until the fraction
/// `decay_after` of training, then geometric decay to `last` at the last update.
pub fn learning_rate_at(
    initial: f64,
    last: f64,
    decay_after: f64,
    n_updates: usize,
    t: usize,
) -> f64 {
    let total = n_updates.max(1) as f64;
    let start = decay_after * total;
    let t = t as f64;
    if t < start || total - start < 1.0 {
        return initial;
    }
    let frac = ((t - start) / (total - 1.0 - start).max(1.0)).min(1.0);
    initial * (last / initial).powf(frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimisers_climb_a_concave_quadratic() {
        // maximise −Σ (p − c)²/2: gradient c − p.
        let c = [1.0, -2.0, 0.5];
        for kind in [
            Optimizer::Sgd,
            Optimizer::default(),
            Optimizer::Rmsprop {
                rho: 0.9,
                epsilon: 1e-8,
            },
        ] {
            let mut p = vec![0.0; 3];
            let mut st = OptimizerState::new(kind, 3);
            for t in 1..=3000 {
                let g: Vec<f64> = p.iter().zip(&c).map(|(p, c)| c - p).collect();
                let lr = if t > 2000 { 1e-3 } else { 1e-2 };
                st.step(&mut p, &g, lr, t);
            }
            for (p, c) in p.iter().zip(&c) {
                assert!((p - c).abs() < 1e-2, "{kind:?}: {p} vs {c}");
            }
        }
    }
}
