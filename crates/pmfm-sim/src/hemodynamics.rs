//! Balloon–Windkessel hemodynamic observer (`pmfm-model.md`, "Hemodynamics"): turns synaptic
//! gating S into BOLD. Scalar f64 reference and batched tensor step.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Constants of the Balloon–Windkessel model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HemoConstants {
    /// Rate of signal decay κ (1/s).
    pub kappa: f64,
    /// Rate of flow-dependent elimination γ_h (1/s).
    pub gamma_h: f64,
    /// Hemodynamic transit time τ (s).
    pub tau: f64,
    /// Grubb's exponent α.
    pub alpha: f64,
    /// Resting oxygen extraction fraction ρ.
    pub rho: f64,
    /// Resting blood volume fraction V0.
    pub v0: f64,
}

impl Default for HemoConstants {
    fn default() -> Self {
        Self {
            kappa: 0.65,
            gamma_h: 0.41,
            tau: 0.98,
            alpha: 0.33,
            rho: 0.34,
            v0: 0.02,
        }
    }
}

impl HemoConstants {
    /// BOLD coefficients (k1, k2, k3).
    pub fn k(&self) -> (f64, f64, f64) {
        (
            4.3 * 28.265 * 3.0 * 0.0331 * self.rho,
            0.47 * 110.0 * 0.0331 * self.rho,
            0.53,
        )
    }
}

/// Hemodynamic state of one region: vasodilatory signal z, inflow f, volume v, deoxyhemoglobin q.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HemoState {
    pub z: f64,
    pub f: f64,
    pub v: f64,
    pub q: f64,
}

impl HemoState {
    /// The resting state (0, 1, 1, 1), also the initial state.
    pub const REST: HemoState = HemoState {
        z: 0.0,
        f: 1.0,
        v: 1.0,
        q: 1.0,
    };

    /// Time derivatives (dz, df, dv, dq) per second, driven by gating S.
    pub fn derivatives(&self, s: f64, c: &HemoConstants) -> HemoState {
        let HemoState { z, f, v, q } = *self;
        let v_pow = v.powf(1.0 / c.alpha);
        HemoState {
            z: s - c.kappa * z - c.gamma_h * (f - 1.0),
            f: z,
            v: (f - v_pow) / c.tau,
            q: (f * (1.0 - (1.0 - c.rho).powf(1.0 / f)) / c.rho - q * v_pow / v) / c.tau,
        }
    }

    /// One explicit Euler step of length `dt` (s), all derivatives taken at the old state.
    pub fn euler_step(&self, s: f64, dt: f64, c: &HemoConstants) -> HemoState {
        let d = self.derivatives(s, c);
        HemoState {
            z: self.z + dt * d.z,
            f: self.f + dt * d.f,
            v: self.v + dt * d.v,
            q: self.q + dt * d.q,
        }
    }

    /// BOLD signal (percent signal change).
    pub fn bold(&self, c: &HemoConstants) -> f64 {
        let (k1, k2, k3) = c.k();
        100.0 / c.rho
            * c.v0
            * (k1 * (1.0 - self.q) + k2 * (1.0 - self.q / self.v) + k3 * (1.0 - self.v))
    }
}

/// Batched hemodynamic state, each tensor of shape [regions, series].
#[derive(Debug, Clone)]
pub struct HemoTensors {
    pub z: Tensor<2>,
    pub f: Tensor<2>,
    pub v: Tensor<2>,
    pub q: Tensor<2>,
}

impl HemoTensors {
    /// Resting state shaped like `like`.
    pub fn rest(like: &Tensor<2>) -> Self {
        let zeros = like.zeros_like();
        let ones = like.ones_like();
        Self {
            z: zeros,
            f: ones.clone(),
            v: ones.clone(),
            q: ones,
        }
    }

    /// One explicit Euler step driven by gating `s` [regions, series].
    pub fn euler_step(self, s: Tensor<2>, dt: f64, c: &HemoConstants) -> Self {
        let HemoTensors { z, f, v, q } = self;
        // v^(1/α) and v^(1/α − 1) share one log; (1−ρ)^(1/f) = exp(ln(1−ρ)/f).
        let v_pow = v.clone().log().mul_scalar(1.0 / c.alpha).exp();
        let extraction = f
            .clone()
            .recip()
            .mul_scalar((1.0 - c.rho).ln())
            .exp()
            .neg()
            .add_scalar(1.0);
        let dz =
            s - z.clone().mul_scalar(c.kappa) - f.clone().sub_scalar(1.0).mul_scalar(c.gamma_h);
        let dv = (f.clone() - v_pow.clone()).mul_scalar(dt / c.tau);
        let dq = (f.clone().mul(extraction).div_scalar(c.rho)
            - q.clone().mul(v_pow).div(v.clone()))
        .mul_scalar(dt / c.tau);
        let f_new = f + z.clone().mul_scalar(dt);
        Self {
            z: z + dz.mul_scalar(dt),
            f: f_new,
            v: v + dv,
            q: q + dq,
        }
    }

    /// BOLD signal [regions, series].
    pub fn bold(&self, c: &HemoConstants) -> Tensor<2> {
        let (k1, k2, k3) = c.k();
        let one_minus_q = self.q.clone().neg().add_scalar(1.0).mul_scalar(k1);
        let one_minus_qv = (self.q.clone() / self.v.clone())
            .neg()
            .add_scalar(1.0)
            .mul_scalar(k2);
        let one_minus_v = self.v.clone().neg().add_scalar(1.0).mul_scalar(k3);
        (one_minus_q + one_minus_qv + one_minus_v).mul_scalar(100.0 / c.rho * c.v0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_is_a_fixed_point_with_zero_bold() {
        let c = HemoConstants::default();
        let d = HemoState::REST.derivatives(0.0, &c);
        assert_eq!((d.z, d.f, d.v), (0.0, 0.0, 0.0));
        assert!(d.q.abs() < 1e-15);
        let mut st = HemoState::REST;
        for _ in 0..10_000 {
            st = st.euler_step(0.0, 0.01, &c);
        }
        assert!(st.bold(&c).abs() < 1e-12);
        assert!((st.f - 1.0).abs() < 1e-12 && (st.v - 1.0).abs() < 1e-12);
    }

    #[test]
    fn constant_drive_reaches_the_analytic_steady_state() {
        // With S constant: z* = 0, f* = 1 + S/γ_h, v* = f*^α,
        // q* = f*·(1 − (1−ρ)^(1/f*))/ρ · v*/v*^(1/α) .
        let c = HemoConstants::default();
        let s = 0.05;
        let mut st = HemoState::REST;
        for _ in 0..200_000 {
            st = st.euler_step(s, 0.01, &c);
        }
        let f = 1.0 + s / c.gamma_h;
        let v = f.powf(c.alpha);
        let q = f * (1.0 - (1.0 - c.rho).powf(1.0 / f)) / c.rho * v / v.powf(1.0 / c.alpha);
        assert!(st.z.abs() < 1e-9);
        assert!((st.f - f).abs() < 1e-9 && (st.v - v).abs() < 1e-9 && (st.q - q).abs() < 1e-9);
        // More flow than extraction: the BOLD signal rises.
        assert!(st.bold(&c) > 0.0);
    }
}
