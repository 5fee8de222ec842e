//! The plain PCD weight update in one pass over the N×M buffers.
//!
//! Unfused, the weight part of an update walks the N×M buffers seven times: zero the
//! gradient, column sums |w| (L2L1), subtract ∂R/∂w, the Adam step, finiteness, max |w| and
//! the f32 copy for the sampler. At zebrafish scale (N = 40,000, M = 200: 64 MB per f64
//! buffer) those passes are memory traffic, not arithmetic. Here one pass, in fixed row
//! chunks on all threads, does per weight: g − ∂R/∂w (with last pass's column sums), the Adam
//! step of (w, m, v), the f32 copy, max |w| and finiteness, this pass's column sums for the
//! next update's penalty, and the gradient reset to 0 for the next accumulation. The
//! arithmetic per weight is that of [`crate::penalty::Penalty::subtract_gradient`] followed
//! by [`crate::optim::OptimizerState::step`]; only the order of the column sums differs
//! (chunk partial sums added in chunk order: the same for any thread count).

use rayon::prelude::*;

use crate::optim::AdamStep;
use crate::penalty::Penalty;

/// Rows per chunk of the pass (fixed, so the column sums do not depend on the thread count).
const ROWS: usize = 256;

/// The N×M buffers one pass reads and writes (all row-major [N, M]).
pub(super) struct WeightBuffers<'a> {
    pub weights: &'a mut [f64],
    /// Ascent direction of the log-likelihood (no penalty); reset to 0 by the pass.
    pub grad: &'a mut [f64],
    /// Adam's first and second moments.
    pub m: &'a mut [f64],
    pub v: &'a mut [f64],
    /// The sampler's f32 copy of the weights.
    pub mirror: &'a mut [f32],
}

/// What the pass saw of the updated weights.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct PassSummary {
    /// max |w| (NaN counts as not finite, not as large).
    pub max_abs: f64,
    pub finite: bool,
    /// Σ_i |w_iμ| of the updated weights, shape [M].
    pub col_abs: Vec<f64>,
}

/// One fused ascent step of the weights (shapes [N, M] with `m_hidden` = M columns): penalty
/// with the column sums `col_abs` of the current weights, then `adam`.
pub(super) fn fused_weight_step(
    buf: WeightBuffers<'_>,
    m_hidden: usize,
    penalty: &Penalty,
    col_abs: &[f64],
    adam: AdamStep,
) -> PassSummary {
    let m = m_hidden;
    let n = if m == 0 { 0 } else { buf.weights.len() / m };
    let scale = penalty.column_scales(col_abs, n);
    let chunk = ROWS * m.max(1);
    let parts: Vec<PassSummary> = buf
        .weights
        .par_chunks_mut(chunk)
        .zip(buf.grad.par_chunks_mut(chunk))
        .zip(buf.m.par_chunks_mut(chunk))
        .zip(buf.v.par_chunks_mut(chunk))
        .zip(buf.mirror.par_chunks_mut(chunk))
        .map(|((((w, g), am), av), f)| {
            let mut part = PassSummary {
                max_abs: 0.0,
                finite: true,
                col_abs: vec![0.0; m],
            };
            for ((((w, g), am), av), f) in w
                .chunks_mut(m)
                .zip(g.chunks_mut(m))
                .zip(am.chunks_mut(m))
                .zip(av.chunks_mut(m))
                .zip(f.chunks_mut(m))
            {
                step_row(w, g, am, av, f, penalty, &scale, adam, &mut part);
            }
            part
        })
        .collect();
    let mut total = PassSummary {
        max_abs: 0.0,
        finite: true,
        col_abs: vec![0.0; m],
    };
    for p in parts {
        total.max_abs = total.max_abs.max(p.max_abs);
        total.finite &= p.finite;
        total
            .col_abs
            .iter_mut()
            .zip(&p.col_abs)
            .for_each(|(t, c)| *t += c);
    }
    total
}

/// One row of the pass: every weight μ of neuron i.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn step_row(
    w: &mut [f64],
    g: &mut [f64],
    am: &mut [f64],
    av: &mut [f64],
    f: &mut [f32],
    penalty: &Penalty,
    scale: &[f64],
    adam: AdamStep,
    part: &mut PassSummary,
) {
    for mu in 0..w.len() {
        let grad = g[mu] - penalty.element_gradient(w[mu], scale[mu]);
        adam.apply(&mut w[mu], grad, &mut am[mu], &mut av[mu]);
        g[mu] = 0.0;
        let a = w[mu].abs();
        f[mu] = w[mu] as f32;
        part.finite &= a.is_finite();
        part.max_abs = part.max_abs.max(a);
        part.col_abs[mu] += a;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Optimizer, OptimizerState};
    use crate::penalty::column_abs_sums;

    /// The fused pass equals the unfused sequence (penalty, Adam step, f32 copy, max |w|,
    /// column sums) on random buffers with a partial last chunk, for every penalty.
    #[test]
    fn fused_pass_is_the_unfused_update() {
        let (n, m) = (2 * ROWS + 37, 9);
        let val =
            |k: usize, s: f64| ((k as f64 * s).sin() * 0.7) + if k % 13 == 0 { 0.0 } else { 0.01 };
        for penalty in [
            Penalty::None,
            Penalty::L1 { lambda: 0.3 },
            Penalty::L2 { lambda: 0.2 },
            Penalty::L2L1 { lambda: 1.5 },
        ] {
            let w0: Vec<f64> = (0..n * m).map(|k| val(k, 0.37)).collect();
            let g0: Vec<f64> = (0..n * m).map(|k| val(k, 1.91)).collect();
            let mut st = OptimizerState::new(Optimizer::default(), n * m);
            st.m.iter_mut()
                .enumerate()
                .for_each(|(k, x)| *x = val(k, 0.11) * 0.1);
            st.v.iter_mut()
                .enumerate()
                .for_each(|(k, x)| *x = val(k, 0.23).abs() * 0.1);
            let (lr, t) = (0.01, 7);

            let mut w_ref = w0.clone();
            let mut g_ref = g0.clone();
            let mut st_ref = st.clone();
            penalty.subtract_gradient(&w_ref, n, m, &mut g_ref);
            st_ref.step(&mut w_ref, &g_ref, lr, t);

            let (mut w, mut g) = (w0.clone(), g0.clone());
            let (mut am, mut av) = (st.m.clone(), st.v.clone());
            let mut mirror = vec![0.0f32; n * m];
            let summary = fused_weight_step(
                WeightBuffers {
                    weights: &mut w,
                    grad: &mut g,
                    m: &mut am,
                    v: &mut av,
                    mirror: &mut mirror,
                },
                m,
                &penalty,
                &column_abs_sums(&w0, n, m),
                st.adam_step(lr, t).expect("Adam"),
            );
            // Same column sums, same arithmetic per weight: bit for bit the unfused update.
            for k in 0..n * m {
                assert_eq!(w[k].to_bits(), w_ref[k].to_bits(), "{penalty:?} w[{k}]");
                assert_eq!(am[k].to_bits(), st_ref.m[k].to_bits(), "{penalty:?} m[{k}]");
                assert_eq!(av[k].to_bits(), st_ref.v[k].to_bits(), "{penalty:?} v[{k}]");
                assert_eq!(mirror[k], w[k] as f32);
                assert_eq!(g[k], 0.0);
            }
            let max_ref = w_ref.iter().fold(0.0f64, |a, x| a.max(x.abs()));
            assert!((summary.max_abs - max_ref).abs() <= 1e-12 * max_ref);
            assert!(summary.finite);
            for (c, r) in summary.col_abs.iter().zip(column_abs_sums(&w, n, m)) {
                assert!((c - r).abs() <= 1e-12 * r.max(1.0));
            }
        }
    }

    /// A non-finite weight is reported as not finite.
    #[test]
    fn non_finite_weights_are_flagged() {
        let (n, m) = (3, 2);
        let mut w = vec![0.1; n * m];
        w[4] = f64::NAN;
        let mut g = vec![0.0; n * m];
        let (mut am, mut av) = (vec![0.0; n * m], vec![0.0; n * m]);
        let mut mirror = vec![0.0f32; n * m];
        let st = OptimizerState::new(Optimizer::default(), n * m);
        let summary = fused_weight_step(
            WeightBuffers {
                weights: &mut w,
                grad: &mut g,
                m: &mut am,
                v: &mut av,
                mirror: &mut mirror,
            },
            m,
            &Penalty::None,
            &[0.0; 2],
            st.adam_step(0.01, 1).expect("Adam"),
        );
        assert!(!summary.finite);
        assert!((summary.max_abs - 0.1).abs() < 1e-3);
    }
}
