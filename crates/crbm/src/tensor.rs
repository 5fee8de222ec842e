//! The batched hot path on a burn [`Device`] (Flex CPU by default, wgpu with
//! the `wgpu` feature): tensor versions of log-erfcx and the dReLU Φ, Φ′, and a
//! block-Gibbs sampler whose v → I → v products and Bernoulli draws run as
//! tensor ops on the device.
//!
//! Tensors are f32, so these functions carry f32 accuracy (tested to ~1e-4
//! relative against the f64 host versions in [`crate::erfcx`] and
//! [`crate::layers::drelu`]); the exact dReLU hidden sampling (truncated
//! Gaussians with rejection, [B, M] values only) runs on the host in f64.
//! [`crate::tensor_train`] trains on these tensors; the CPU trainer
//! ([`crate::train`]) uses the sparse host kernels of [`crate::gibbs`], which
//! are ~4× faster for binary rasters on a CPU.

use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

use crate::batch::SparseBatch;
use crate::layers::DRelu;
use crate::model::Crbm;

const SQRT_PI: f64 = 1.772_453_850_905_516;
/// Below this the erfc branch is used, above it the continued fraction.
const CF_FROM: f64 = 1.5;
const CF_TERMS: usize = 40;

/// Element-wise `ln erfcx(x)` (f32): `x² + ln(1 − erf x)` for x < 1.5 (no
/// cancellation there: erfc ≥ 0.034), and for x ≥ 1.5 the Laplace continued
/// fraction `erfcx(x) = 1/(√π (x + ½/(x + 1/(x + 3/2/(x + …)))))`, which is
/// accurate in the tail where erfc underflows.
pub fn log_erfcx<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let small = x.clone().lower_elem(CF_FROM);
    let xa = x.clone().clamp_max(CF_FROM);
    let a = xa.clone().square() + xa.erf().neg().add_scalar(1.0).log();
    let xb = x.clamp_min(CF_FROM);
    let mut cf = xb.clone();
    for k in (1..=CF_TERMS).rev() {
        cf = xb.clone() + cf.recip().mul_scalar(k as f64 / 2.0);
    }
    let b = cf.mul_scalar(SQRT_PI).log().neg();
    b.mask_where(small, a)
}

/// A [1, K] row tensor of f64 values (stored as f32).
pub(crate) fn row(values: &[f64], device: &Device) -> Tensor<2> {
    let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
    Tensor::<2>::from_data(TensorData::new(v, [1, values.len()]), device)
}

/// Host f64 copy of a tensor, row-major.
pub(crate) fn host(t: &Tensor<2>) -> Vec<f64> {
    t.to_data()
        .try_to_vec::<f32>()
        .unwrap_or_default()
        .into_iter()
        .map(f64::from)
        .collect()
}

/// The hidden layer on the host from its [1, M] parameter tensors γ+, γ−, θ+, θ−.
pub(crate) fn drelu_from_tensors(columns: [&Tensor<2>; 4]) -> Vec<DRelu> {
    let [gp, gm, tp, tm] = columns.map(host);
    DRelu::from_columns([&gp, &gm, &tp, &tm])
}

/// Exact h ~ p(h|I) of the hidden layer `units` for device inputs I [B, M]: drawn on the
/// host in f64 by [`DRelu::sample_rows`] (row b from the stream `(seed, step, b)`), returned
/// to `device` as [B, M].
pub(crate) fn sample_hidden_on_host(
    units: &[DRelu],
    inputs: Tensor<2>,
    seed: u64,
    step: u64,
    device: &Device,
) -> Tensor<2> {
    let [b, m] = inputs.dims();
    let mut h = inputs.into_data().try_to_vec::<f32>().unwrap_or_default();
    DRelu::sample_rows(units, &mut h, seed, step);
    Tensor::<2>::from_data(TensorData::new(h, [b, m]), device)
}

/// dReLU parameters as [1, M] tensors (broadcast over a batch).
#[derive(Clone, Debug)]
pub struct DReluTensors {
    pub gamma_plus: Tensor<2>,
    pub gamma_minus: Tensor<2>,
    pub theta_plus: Tensor<2>,
    pub theta_minus: Tensor<2>,
}

impl DReluTensors {
    pub fn new(units: &[DRelu], device: &Device) -> Self {
        let [gamma_plus, gamma_minus, theta_plus, theta_minus] =
            DRelu::columns(units).map(|c| row(&c, device));
        Self {
            gamma_plus,
            gamma_minus,
            theta_plus,
            theta_minus,
        }
    }

    /// (Φ+, Φ−, x+, x−) for inputs [B, M].
    fn parts(&self, input: Tensor<2>) -> [Tensor<2>; 4] {
        let sp = self.gamma_plus.clone().mul_scalar(2.0).sqrt();
        let sm = self.gamma_minus.clone().mul_scalar(2.0).sqrt();
        let xp = (self.theta_plus.clone() - input.clone()) / sp;
        let xm = (self.theta_minus.clone() + input) / sm;
        let half_ln_pi_2 = 0.5 * (std::f64::consts::PI / 2.0).ln();
        let pp =
            log_erfcx(xp.clone()) - self.gamma_plus.clone().log().mul_scalar(0.5) + half_ln_pi_2;
        let pm =
            log_erfcx(xm.clone()) - self.gamma_minus.clone().log().mul_scalar(0.5) + half_ln_pi_2;
        [pp, pm, xp, xm]
    }

    /// Φ(I) for inputs [B, M].
    pub fn cgf(&self, input: Tensor<2>) -> Tensor<2> {
        let [pp, pm, _, _] = self.parts(input);
        logaddexp(pp, pm)
    }

    /// Φ′(I) = E[h|I] for inputs [B, M]: `p+ m+ − p− m−`, branch means
    /// `m = σ(λ(α) − α)`, `λ = √(2/π)/erfcx(x)`, `α = √2 x`.
    pub fn mean(&self, input: Tensor<2>) -> Tensor<2> {
        let [pp, pm, xp, xm] = self.parts(input);
        let phi = logaddexp(pp.clone(), pm.clone());
        let (wp, wm) = ((pp - phi.clone()).exp(), (pm - phi).exp());
        let c = (2.0 / std::f64::consts::PI).sqrt();
        let branch = |x: Tensor<2>, gamma: &Tensor<2>| {
            let lambda = log_erfcx(x.clone()).neg().exp().mul_scalar(c);
            (lambda - x.mul_scalar(std::f64::consts::SQRT_2)) / gamma.clone().sqrt()
        };
        wp * branch(xp, &self.gamma_plus) - wm * branch(xm, &self.gamma_minus)
    }
}

/// Conditional statistics of p(h|I) as [B, M] tensors: Φ′ and the sufficient
/// statistics of U (E[h+], E[h+²], E[h−], E[h−²]).
#[derive(Clone, Debug)]
pub struct HiddenStatistics {
    pub mean: Tensor<2>,
    pub e_hp: Tensor<2>,
    pub e_hp2: Tensor<2>,
    pub e_hm: Tensor<2>,
    pub e_hm2: Tensor<2>,
}

impl DReluTensors {
    /// Φ′ and the branch statistics for inputs [B, M] (f32; the branch variance
    /// `1 − λ(λ−α)` loses relative precision ~ε·α⁴, fine for |α| ≲ 30).
    pub fn statistics(&self, input: Tensor<2>) -> HiddenStatistics {
        let [pp, pm, xp, xm] = self.parts(input);
        let phi = logaddexp(pp.clone(), pm.clone());
        let (wp, wm) = ((pp - phi.clone()).exp(), (pm - phi).exp());
        let c = (2.0 / std::f64::consts::PI).sqrt();
        // (magnitude m, variance v) of one branch: m = (λ − α)/√γ, v = (1 − λ(λ − α))/γ.
        let branch = |x: Tensor<2>, gamma: &Tensor<2>| {
            let lambda = log_erfcx(x.clone()).neg().exp().mul_scalar(c);
            let excess = lambda.clone() - x.mul_scalar(std::f64::consts::SQRT_2);
            let var = (lambda * excess.clone())
                .neg()
                .add_scalar(1.0)
                .clamp_min(0.0)
                / gamma.clone();
            (excess / gamma.clone().sqrt(), var)
        };
        let (mp, vp) = branch(xp, &self.gamma_plus);
        let (mm, vm) = branch(xm, &self.gamma_minus);
        HiddenStatistics {
            mean: wp.clone() * mp.clone() - wm.clone() * mm.clone(),
            e_hp: wp.clone() * mp.clone(),
            e_hp2: wp * (vp + mp.square()),
            e_hm: wm.clone() * mm.clone(),
            e_hm2: wm * (vm + mm.square()),
        }
    }
}

fn logaddexp<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    let m = a.clone().max_pair(b.clone());
    m.clone() + ((a - m.clone()).exp() + (b - m).exp()).log()
}

/// Block-Gibbs sampler on a device. Visible states are dense 0/1 f32 tensors [B, N].
#[derive(Clone, Debug)]
pub struct TensorSampler {
    pub device: Device,
    /// [N, M].
    weights: Tensor<2>,
    /// [M, N].
    weights_t: Tensor<2>,
    /// [1, N].
    fields: Tensor<2>,
    hidden: Vec<DRelu>,
    n_visible: usize,
}

impl TensorSampler {
    /// Upload the model; seeds the device's random generator with `seed`.
    pub fn new(model: &Crbm, device: &Device, seed: u64) -> Self {
        let (n, m) = (model.n_visible, model.n_hidden);
        let w: Vec<f32> = model.weights.iter().map(|&x| x as f32).collect();
        let g: Vec<f32> = model.fields.iter().map(|&x| x as f32).collect();
        let weights = Tensor::<2>::from_data(TensorData::new(w, [n, m]), device);
        device.seed(seed);
        Self {
            device: device.clone(),
            weights_t: weights.clone().transpose(),
            weights,
            fields: Tensor::<2>::from_data(TensorData::new(g, [1, n]), device),
            hidden: model.hidden.clone(),
            n_visible: n,
        }
    }

    /// Sampler sharing parameter tensors already on the device (`hidden` on the host).
    pub fn from_params(
        params: &crate::tensor_train::DeviceParams,
        hidden: Vec<DRelu>,
        device: &Device,
    ) -> Self {
        let [n, _] = params.tensors[0].dims();
        Self {
            device: device.clone(),
            weights: params.tensors[0].clone(),
            weights_t: params.tensors[0].clone().transpose(),
            fields: params.tensors[1].clone(),
            hidden,
            n_visible: n,
        }
    }

    /// Dense [B, N] 0/1 tensor of a sparse batch.
    pub fn upload(&self, batch: &SparseBatch) -> Tensor<2> {
        let n = self.n_visible;
        let mut dense = vec![0f32; batch.len() * n];
        for (b, r) in batch.rows.iter().enumerate() {
            for &i in r {
                dense[b * n + i as usize] = 1.0;
            }
        }
        Tensor::<2>::from_data(TensorData::new(dense, [batch.len(), n]), &self.device)
    }

    /// Sparse batch of a dense [B, N] 0/1 tensor.
    pub fn download(&self, v: Tensor<2>) -> SparseBatch {
        let [_, n] = v.dims();
        let data = v.into_data().try_to_vec::<f32>().unwrap_or_default();
        SparseBatch {
            n_visible: n,
            rows: data
                .chunks(n.max(1))
                .map(|r| {
                    r.iter()
                        .enumerate()
                        .filter(|(_, &x)| x > 0.5)
                        .map(|(i, _)| i as u32)
                        .collect()
                })
                .collect(),
        }
    }

    /// I = v·W, [B, M].
    pub fn hidden_inputs(&self, v: Tensor<2>) -> Tensor<2> {
        v.matmul(self.weights.clone())
    }

    /// Exact h ~ p(h|I) (host, f64), [B, M].
    pub fn sample_hidden(&self, inputs: Tensor<2>, seed: u64, step: u64) -> Tensor<2> {
        sample_hidden_on_host(&self.hidden, inputs, seed, step, &self.device)
    }

    /// v ~ Bernoulli(sigmoid(g + h·Wᵀ)) with the device's generator, [B, N].
    pub fn sample_visible(&self, h: Tensor<2>) -> Tensor<2> {
        let p = sigmoid(h.matmul(self.weights_t.clone()) + self.fields.clone());
        let u = Tensor::<2>::random(p.dims(), Distribution::Default, &self.device);
        u.lower(p).float()
    }

    /// One sweep v → h → v.
    pub fn gibbs_sweep(&self, v: Tensor<2>, seed: u64, step: u64) -> Tensor<2> {
        let h = self.sample_hidden(self.hidden_inputs(v), seed, step);
        self.sample_visible(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests_support::random_model;

    fn host(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn tensor_log_erfcx_matches_f64() {
        let device = Device::flex();
        let xs: Vec<f32> = (-40..=400).map(|k| k as f32 * 0.25).collect();
        let t = Tensor::<2>::from_data(TensorData::new(xs.clone(), [1, xs.len()]), &device);
        let got = host(log_erfcx(t));
        for (x, g) in xs.iter().zip(&got) {
            let want = crate::erfcx::log_erfcx(*x as f64);
            assert!(
                (*g as f64 - want).abs() < 2e-5 * want.abs().max(1.0),
                "x={x}: {g} vs {want}"
            );
        }
    }

    #[test]
    fn tensor_drelu_cgf_and_mean_match_f64() {
        let device = Device::flex();
        let units = [
            DRelu {
                gamma_plus: 0.3,
                gamma_minus: 4.0,
                theta_plus: 1.0,
                theta_minus: -2.0,
            },
            DRelu {
                gamma_plus: 2.0,
                gamma_minus: 0.5,
                theta_plus: -1.5,
                theta_minus: 0.5,
            },
        ];
        let inputs: Vec<f32> = (-20..=20)
            .flat_map(|k| [k as f32 * 0.5, -(k as f32) * 0.3])
            .collect();
        let b = inputs.len() / 2;
        let dt = DReluTensors::new(&units, &device);
        let t = Tensor::<2>::from_data(TensorData::new(inputs.clone(), [b, 2]), &device);
        let (phi, mean) = (host(dt.cgf(t.clone())), host(dt.mean(t)));
        for k in 0..inputs.len() {
            let m = units[k % 2].moments(inputs[k] as f64);
            assert!(
                (phi[k] as f64 - m.cgf).abs() < 1e-4 * m.cgf.abs().max(1.0),
                "Φ {k}: {} vs {}",
                phi[k],
                m.cgf
            );
            assert!(
                (mean[k] as f64 - m.mean).abs() < 1e-4 * m.mean.abs().max(1.0),
                "Φ′ {k}: {} vs {}",
                mean[k],
                m.mean
            );
        }
    }

    #[test]
    fn tensor_gibbs_chains_reach_exact_marginals() {
        let mut c = random_model(8, 2, 6);
        c.weights.iter_mut().for_each(|w| *w *= 0.7);
        // Exact ⟨v_i⟩ by enumeration.
        let states: Vec<Vec<u32>> = (0..1u64 << 8)
            .map(|s| (0..8u32).filter(|&i| s >> i & 1 == 1).collect())
            .collect();
        let lz = c.log_partition_exact().unwrap();
        let mut exact = [0.0f64; 8];
        for s in &states {
            let p = (-c.free_energy(s) - lz).exp();
            s.iter().for_each(|&i| exact[i as usize] += p);
        }
        let device = Device::flex();
        let ts = TensorSampler::new(&c, &device, 5);
        let chains = 1000;
        let mut v = ts.upload(&SparseBatch {
            n_visible: 8,
            rows: vec![vec![]; chains],
        });
        let mut mean = [0.0f64; 8];
        let (burn, keep) = (30, 40);
        for step in 0..burn + keep {
            v = ts.gibbs_sweep(v, 9, step as u64);
            if step >= burn {
                let b = ts.download(v.clone());
                b.rows
                    .iter()
                    .flatten()
                    .for_each(|&i| mean[i as usize] += 1.0 / (chains * keep) as f64);
            }
        }
        for i in 0..8 {
            // 40k correlated draws: s.e. ≤ ~0.005; allow 0.02.
            assert!(
                (mean[i] - exact[i]).abs() < 0.02,
                "v{i}: {} vs {}",
                mean[i],
                exact[i]
            );
        }
    }
}
