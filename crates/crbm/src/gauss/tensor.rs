//! The Gaussian-visible cRBM on a burn [`Device`] (f32): the plain model's tensors,
//! block-Gibbs sweeps v → h → v, and the standardised parameters with their
//! conversions (the tensor twins of [`super::standardized`]).
//!
//! Per sweep: `I = v·W` ([C, M], one matmul), exact dReLU draws of h on the host in f64
//! ([C, M] values only, the same sampler as the Bernoulli path), then
//! `v = (θ + h·Wᵀ)/γ + ξ/√γ` with ξ ~ N(0, 1) from the device's generator.

use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;

use super::model::GaussCrbm;
use super::standardized::{Standardization, StandardizedGauss};
use crate::frames::Frames;
use crate::layers::DRelu;
use crate::rng::lane_rng;
use crate::tensor::{drelu_from_tensors, sample_hidden_on_host, DReluTensors};
pub(crate) use crate::tensor::{host, row};

/// Frames [T, N] as a device tensor.
pub fn upload_frames(frames: &Frames, device: &Device) -> Tensor<2> {
    Tensor::<2>::from_data(
        TensorData::new(frames.values.clone(), [frames.len(), frames.n_units]),
        device,
    )
}

/// Frames of a [T, N] tensor.
pub fn download_frames(v: &Tensor<2>) -> Frames {
    let [_, n] = v.dims();
    Frames {
        n_units: n,
        values: v.to_data().try_to_vec::<f32>().unwrap_or_default(),
    }
}

/// Model tensors in the layout of [`GaussCrbm`]: w [N, M], γ, θ [1, N], γ±, θ± [1, M].
#[derive(Clone, Debug)]
pub struct GaussTensors {
    pub weights: Tensor<2>,
    pub gamma: Tensor<2>,
    pub theta: Tensor<2>,
    pub gamma_plus: Tensor<2>,
    pub gamma_minus: Tensor<2>,
    pub theta_plus: Tensor<2>,
    pub theta_minus: Tensor<2>,
}

impl GaussTensors {
    pub fn upload(model: &GaussCrbm, device: &Device) -> Self {
        let (n, m) = (model.n_visible, model.n_hidden);
        let w: Vec<f32> = model.weights.iter().map(|&x| x as f32).collect();
        let [gamma_plus, gamma_minus, theta_plus, theta_minus] =
            DRelu::columns(&model.hidden).map(|c| row(&c, device));
        Self {
            weights: Tensor::<2>::from_data(TensorData::new(w, [n, m]), device),
            gamma: row(&model.gamma, device),
            theta: row(&model.theta, device),
            gamma_plus,
            gamma_minus,
            theta_plus,
            theta_minus,
        }
    }

    pub fn download(&self) -> GaussCrbm {
        let [n, m] = self.weights.dims();
        GaussCrbm {
            n_visible: n,
            n_hidden: m,
            weights: host(&self.weights),
            gamma: host(&self.gamma),
            theta: host(&self.theta),
            hidden: self.hidden_host(),
        }
    }

    /// The seven tensors in a fixed order (for optimiser state).
    pub fn to_array(&self) -> [Tensor<2>; 7] {
        [
            self.weights.clone(),
            self.gamma.clone(),
            self.theta.clone(),
            self.gamma_plus.clone(),
            self.gamma_minus.clone(),
            self.theta_plus.clone(),
            self.theta_minus.clone(),
        ]
    }

    pub fn from_array(t: [Tensor<2>; 7]) -> Self {
        let [weights, gamma, theta, gamma_plus, gamma_minus, theta_plus, theta_minus] = t;
        Self {
            weights,
            gamma,
            theta,
            gamma_plus,
            gamma_minus,
            theta_plus,
            theta_minus,
        }
    }

    /// dReLU tensors (broadcast over a batch).
    pub fn hidden(&self) -> DReluTensors {
        DReluTensors {
            gamma_plus: self.gamma_plus.clone(),
            gamma_minus: self.gamma_minus.clone(),
            theta_plus: self.theta_plus.clone(),
            theta_minus: self.theta_minus.clone(),
        }
    }

    /// dReLU parameters on the host, shape [M] (for exact hidden sampling).
    pub fn hidden_host(&self) -> Vec<DRelu> {
        drelu_from_tensors([
            &self.gamma_plus,
            &self.gamma_minus,
            &self.theta_plus,
            &self.theta_minus,
        ])
    }

    /// Free energies F(v) of a batch [B, N], shape [B, 1].
    pub fn free_energy(&self, v: Tensor<2>) -> Tensor<2> {
        let visible = (v.clone().square() * self.gamma.clone()).mul_scalar(0.5)
            - v.clone() * self.theta.clone();
        let phi = self.hidden().cgf(v.matmul(self.weights.clone()));
        visible.sum_dim(1) - phi.sum_dim(1)
    }
}

/// Offsets and scales as device rows: o_v, s_v [1, N], o_h, s_h [1, M].
#[derive(Clone, Debug)]
pub struct StandardizationTensors {
    pub offset_v: Tensor<2>,
    pub scale_v: Tensor<2>,
    pub offset_h: Tensor<2>,
    pub scale_h: Tensor<2>,
}

impl StandardizationTensors {
    pub fn upload(s: &Standardization, device: &Device) -> Self {
        Self {
            offset_v: row(&s.offset_v, device),
            scale_v: row(&s.scale_v, device),
            offset_h: row(&s.offset_h, device),
            scale_h: row(&s.scale_h, device),
        }
    }

    pub fn download(&self) -> Standardization {
        Standardization {
            offset_v: host(&self.offset_v),
            scale_v: host(&self.scale_v),
            offset_h: host(&self.offset_h),
            scale_h: host(&self.scale_h),
        }
    }

    /// Plain parameters of standardised ones: `W = w̃/(s_v s_h)`, `θ = θ̃ − W o_h`,
    /// `θ± = θ̃± ± Wᵀo_v` (see [`super::standardized`]).
    pub fn to_plain(&self, std: &GaussTensors) -> GaussTensors {
        let w = std.weights.clone() / self.scale_v.clone().transpose() / self.scale_h.clone();
        let c = self.offset_v.clone().matmul(w.clone());
        GaussTensors {
            theta: std.theta.clone() - self.offset_h.clone().matmul(w.clone().transpose()),
            theta_plus: std.theta_plus.clone() + c.clone(),
            theta_minus: std.theta_minus.clone() - c,
            weights: w,
            gamma: std.gamma.clone(),
            gamma_plus: std.gamma_plus.clone(),
            gamma_minus: std.gamma_minus.clone(),
        }
    }

    /// Standardised parameters of plain ones (inverse of [`Self::to_plain`]).
    pub fn from_plain(&self, plain: &GaussTensors) -> GaussTensors {
        let w = plain.weights.clone();
        let c = self.offset_v.clone().matmul(w.clone());
        GaussTensors {
            theta: plain.theta.clone() + self.offset_h.clone().matmul(w.clone().transpose()),
            theta_plus: plain.theta_plus.clone() - c.clone(),
            theta_minus: plain.theta_minus.clone() + c,
            weights: w * self.scale_v.clone().transpose() * self.scale_h.clone(),
            gamma: plain.gamma.clone(),
            gamma_plus: plain.gamma_plus.clone(),
            gamma_minus: plain.gamma_minus.clone(),
        }
    }
}

/// Host copy of a standardised model.
pub fn download_standardized(std: &GaussTensors, st: &StandardizationTensors) -> StandardizedGauss {
    StandardizedGauss {
        params: std.download(),
        standardization: st.download(),
    }
}

/// Block-Gibbs sampler of a plain model on a device.
#[derive(Clone, Debug)]
pub struct GaussGibbs {
    pub device: Device,
    plain: GaussTensors,
    weights_t: Tensor<2>,
    inv_sd: Tensor<2>,
    hidden: Vec<DRelu>,
}

impl GaussGibbs {
    pub fn new(plain: GaussTensors, device: &Device) -> Self {
        Self {
            device: device.clone(),
            weights_t: plain.weights.clone().transpose(),
            inv_sd: plain.gamma.clone().sqrt().recip(),
            hidden: plain.hidden_host(),
            plain,
        }
    }

    /// v ~ p(v | visible input x) = N((θ + x)/γ, 1/γ), [B, N]. The standard normals come
    /// from per-row host streams `(seed, step, row)`, so a run does not depend on other users
    /// of the device's generator (same seed, same backend → same result, even with several
    /// trainers in one process).
    pub fn sample_visible_given_input(&self, x: Tensor<2>, seed: u64, step: u64) -> Tensor<2> {
        let mean = (x + self.plain.theta.clone()) / self.plain.gamma.clone();
        let [b, n] = mean.dims();
        let noise = standard_normals(b, n, seed, step, &self.device);
        mean + noise * self.inv_sd.clone()
    }

    /// Samples from the visible layer alone (zero input): chains' random start, [B, N].
    pub fn sample_visible_prior(&self, b: usize, seed: u64) -> Tensor<2> {
        let n = self.plain.gamma.dims()[1];
        self.sample_visible_given_input(Tensor::<2>::zeros([b, n], &self.device), seed, u64::MAX)
    }

    /// Exact h ~ p(h|v) (host, f64), [B, M].
    pub fn sample_hidden(&self, v: Tensor<2>, seed: u64, step: u64) -> Tensor<2> {
        let inputs = v.matmul(self.plain.weights.clone());
        sample_hidden_on_host(&self.hidden, inputs, seed, step, &self.device)
    }

    /// One sweep v → h → v.
    pub fn sweep(&self, v: Tensor<2>, seed: u64, step: u64) -> Tensor<2> {
        let h = self.sample_hidden(v, seed, step);
        self.sample_visible_given_input(h.matmul(self.weights_t.clone()), seed, step)
    }
}

/// A [b, n] tensor of standard normals from host streams, one per row (lane `row + 2⁴⁰`,
/// apart from the hidden draws' lanes).
fn standard_normals(b: usize, n: usize, seed: u64, step: u64, device: &Device) -> Tensor<2> {
    use rand_distr::{Distribution as _, StandardNormal};
    let mut z = vec![0f32; b * n];
    z.par_chunks_mut(n.max(1)).enumerate().for_each(|(r, row)| {
        let mut rng = lane_rng(seed, step, (1 << 40) + r as u64);
        row.iter_mut()
            .for_each(|x| *x = StandardNormal.sample(&mut rng));
    });
    Tensor::<2>::from_data(TensorData::new(z, [b, n]), device)
}

/// Largest |x| of a tensor and whether every entry is finite (one device→host read).
pub fn max_abs_finite(t: &Tensor<2>) -> (f64, bool) {
    let m = t.clone().abs().max().into_scalar::<f32>() as f64;
    (m, m.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gauss::standardized::StandardizedGauss;
    use crate::rng::lane_rng;
    use rand::Rng;

    #[test]
    fn tensor_conversions_match_the_host_ones() {
        let device = Device::flex();
        let plain = GaussCrbm::random(6, 3, 0.5, 2);
        let mut rng = lane_rng(1, 0, 0);
        let st = Standardization {
            offset_v: (0..6).map(|_| rng.random_range(-1.0..1.0)).collect(),
            scale_v: (0..6).map(|_| rng.random_range(0.5..2.0)).collect(),
            offset_h: (0..3).map(|_| rng.random_range(-1.0..1.0)).collect(),
            scale_h: (0..3).map(|_| rng.random_range(0.5..2.0)).collect(),
        };
        let want = StandardizedGauss::from_plain(&plain, st.clone());
        let stt = StandardizationTensors::upload(&st, &device);
        let got = stt
            .from_plain(&GaussTensors::upload(&plain, &device))
            .download();
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);
        assert!(close(&got.weights, &want.params.weights));
        assert!(close(&got.theta, &want.params.theta));
        let tp = |c: &GaussCrbm| c.hidden.iter().map(|u| u.theta_plus).collect::<Vec<_>>();
        let tm = |c: &GaussCrbm| c.hidden.iter().map(|u| u.theta_minus).collect::<Vec<_>>();
        assert!(close(&tp(&got), &tp(&want.params)));
        assert!(close(&tm(&got), &tm(&want.params)));
        let back = stt
            .to_plain(&GaussTensors::upload(&want.params, &device))
            .download();
        assert!(close(&back.weights, &plain.weights));
        assert!(close(&back.theta, &plain.theta));
        assert!(close(&tp(&back), &tp(&plain)));
    }

    #[test]
    fn tensor_free_energy_matches_host() {
        let device = Device::flex();
        let c = GaussCrbm::random(5, 3, 0.4, 9);
        let v = [0.2, -1.0, 0.5, 1.5, -0.3];
        let t = Tensor::<2>::from_data(
            TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<_>>(), [1, 5]),
            &device,
        );
        let got = host(&GaussTensors::upload(&c, &device).free_energy(t))[0];
        let want = c.free_energy(&v);
        assert!(
            (got - want).abs() < 1e-4 * want.abs().max(1.0),
            "{got} vs {want}"
        );
    }
}
