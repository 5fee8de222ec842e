//! Local neural dynamics of the pMFM: input current, transfer function H and synaptic gating
//! (`pmfm-model.md`, "Neural dynamics"). Each piece exists as a scalar f64 reference and as a
//! batched tensor function; the tests check one against the other and against the math.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Constants of the neural mass model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NeuralConstants {
    /// Synaptic coupling J (nA).
    pub j: f64,
    /// Transfer-function gain a (n/C).
    pub a: f64,
    /// Transfer-function threshold b (Hz).
    pub b: f64,
    /// Transfer-function curvature d (s).
    pub d: f64,
    /// Synaptic time constant τ_s (s).
    pub tau_s: f64,
    /// Kinetic parameter γ.
    pub gamma: f64,
}

impl Default for NeuralConstants {
    fn default() -> Self {
        Self {
            j: 0.2609,
            a: 270.0,
            b: 108.0,
            d: 0.154,
            tau_s: 0.1,
            gamma: 0.641,
        }
    }
}

/// Below this |d·(a·x − b)| the transfer function uses its Taylor series: the closed form
/// divides two vanishing quantities there (0/0 at the threshold itself), and in f32
/// `1 − exp(−z)` keeps only a few correct digits for |z| < 10⁻².
pub const TAYLOR_THRESHOLD: f64 = 1e-2;

/// Transfer function `H(x) = (a·x − b) / (1 − exp(−d·(a·x − b)))` (firing rate, Hz), with its
/// limit `1/d` at `a·x − b = 0`.
pub fn transfer(x: f64, c: &NeuralConstants) -> f64 {
    let y = c.a * x - c.b;
    let z = c.d * y;
    if z.abs() < TAYLOR_THRESHOLD {
        // z/(1 − e^{−z}) = 1 + z/2 + z²/12 − z⁴/720 + O(z⁶)
        (1.0 + z / 2.0 + z * z / 12.0 - z.powi(4) / 720.0) / c.d
    } else {
        y / (1.0 - (-z).exp())
    }
}

/// Synaptic gating derivative `dS/dt = −S/τ_s + γ·(1 − S)·H(x)` (1/s).
pub fn ds_dt(s: f64, x: f64, c: &NeuralConstants) -> f64 {
    -s / c.tau_s + c.gamma * (1.0 - s) * transfer(x, c)
}

/// Input current `x_i = J·w_i·S_i + J·G·Σ_j C_ij·S_j + I_i` for one region, given the
/// already summed coupling input `cs_i = Σ_j C_ij·S_j`.
pub fn input_current(s: f64, cs: f64, w: f64, g: f64, i_ext: f64, c: &NeuralConstants) -> f64 {
    c.j * w * s + c.j * g * cs + i_ext
}

/// Batched transfer function on `y = a·x − b`, any shape. Uses the Taylor branch where
/// |d·y| < [`TAYLOR_THRESHOLD`], elsewhere the closed form.
pub fn transfer_of_drive<const D: usize>(y: Tensor<D>, c: &NeuralConstants) -> Tensor<D> {
    let z = y.clone().mul_scalar(c.d);
    let near = z.clone().abs().lower_elem(TAYLOR_THRESHOLD);
    // Keep the closed form finite where it is not used (0/0 would poison nothing, but a NaN
    // in an unused branch is still a NaN to debuggers and to some backends' select).
    let z_safe = z.clone().mask_fill(near.clone(), TAYLOR_THRESHOLD);
    let y_safe = z_safe.clone().div_scalar(c.d);
    let closed = y_safe / (z_safe.neg().exp().neg().add_scalar(1.0));
    let z2 = z.clone().square();
    let series = z
        .div_scalar(2.0)
        .add(z2.clone().div_scalar(12.0))
        .sub(z2.square().div_scalar(720.0))
        .add_scalar(1.0)
        .div_scalar(c.d);
    closed.mask_where(near, series)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn transfer_at_threshold_is_one_over_d() {
        let c = NeuralConstants::default();
        let x0 = c.b / c.a; // a·x − b = 0
        assert!((transfer(x0, &c) - 1.0 / c.d).abs() < 1e-12);
    }

    #[test]
    fn transfer_is_continuous_across_the_taylor_switch() {
        let c = NeuralConstants::default();
        let x0 = c.b / c.a;
        // Just inside and just outside the switch, both sides agree with the exact form
        // evaluated in high precision through expm1.
        for &z in &[
            0.999e-2, 1.001e-2, -0.999e-2, -1.001e-2, 1e-6, -1e-6, 0.3, -5.0,
        ] {
            let y = z / c.d;
            let x = x0 + y / c.a;
            let exact = y / -f64::exp_m1(-z);
            let h = transfer(x, &c);
            assert!(((h - exact) / exact).abs() < 1e-9, "z={z}: {h} vs {exact}");
        }
    }

    #[test]
    fn transfer_asymptotes() {
        let c = NeuralConstants::default();
        // Far above threshold H ≈ a·x − b; far below it vanishes.
        let x = 2.0;
        assert!((transfer(x, &c) - (c.a * x - c.b)).abs() < 1e-9);
        assert!(transfer(-1.0, &c) < 1e-10);
    }

    #[test]
    fn tensor_transfer_matches_scalar() {
        let c = NeuralConstants::default();
        let device = Device::flex();
        let ys: Vec<f64> = vec![
            -50.0, -1.0, -0.05, -1e-3, 0.0, 1e-5, 0.064, 0.07, 3.0, 120.0,
        ];
        let t = Tensor::<1>::from_data(
            TensorData::new(ys.clone(), [ys.len()]),
            (&device, burn::tensor::DType::F64),
        );
        let h = transfer_of_drive(t, &c)
            .into_data()
            .try_to_vec::<f64>()
            .unwrap();
        for (y, h) in ys.iter().zip(h) {
            let x = (y + c.b) / c.a;
            let r = transfer(x, &c);
            assert!(
                (h - r).abs() <= 1e-9 * r.abs().max(1.0),
                "y={y}: {h} vs {r}"
            );
        }
    }
}
