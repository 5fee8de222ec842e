//! The Gaussian-visible block-Gibbs sweep on the host (f32), the CPU engine beside
//! [`super::tensor::GaussGibbs`].
//!
//! Per sweep, for C chains of N visible and M hidden units:
//! * `I = v·W` ([C, M]) and `X = h·Wᵀ` ([C, N]) as dense f32 GEMMs (the `gemm` crate, the
//!   kernel burn's Flex backend also calls), rayon-parallel;
//! * exact dReLU draws of h in f64 (row r on lane `r` of `(seed, step)`);
//! * `v = (θ + X)/γ + ξ/√γ`, with ξ ~ N(0, 1) on lane `2⁴⁰ + r`, fused with the draw so the
//!   [C, N] state is touched once.
//!
//! The random streams, their order and the f32 arithmetic are those of the tensor engine, so
//! both engines give the same chains up to the GEMMs' summation order (tested below). What the
//! host engine saves is the per-sweep tensor traffic: no upload of the [C, N] noise, no
//! download of the [C, M] inputs, no intermediate [C, N] tensors.

use rand_distr::{Distribution as _, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::GaussCrbm;
use crate::dense::{product, View};
use crate::frames::Frames;
use crate::layers::DRelu;
use crate::rng::lane_rng;

/// Where the Gibbs sweeps of training and evaluation sampling run. Both engines draw the
/// same random streams; the rest of training (gradients, optimiser, standardisation) is on
/// the trainer's device either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GibbsEngine {
    /// Burn tensors on the trainer's device (any backend).
    #[default]
    Tensor,
    /// Host f32 kernels ([`HostGibbs`]): for the CPU device.
    Host,
}

/// Lane offset of the visible noise streams (apart from the hidden draws' lanes `0..C`).
pub(crate) const VISIBLE_NOISE_LANE: u64 = 1 << 40;

/// f32 copy of a plain model for host sampling.
#[derive(Clone, Debug)]
pub struct HostGibbs {
    n: usize,
    m: usize,
    /// w, [N, M] row-major.
    weights: Vec<f32>,
    /// θ_i and γ_i, [N].
    theta: Vec<f32>,
    gamma: Vec<f32>,
    /// 1/√γ_i, [N].
    inv_sd: Vec<f32>,
    /// dReLU units, [M].
    hidden: Vec<DRelu>,
}

impl HostGibbs {
    pub fn new(model: &GaussCrbm) -> Self {
        let f = |x: &[f64]| x.iter().map(|&v| v as f32).collect::<Vec<f32>>();
        let gamma = f(&model.gamma);
        Self {
            n: model.n_visible,
            m: model.n_hidden,
            weights: f(&model.weights),
            theta: f(&model.theta),
            inv_sd: gamma.iter().map(|g| g.sqrt().recip()).collect(),
            gamma,
            // Rounded through f32 like every other parameter (and like the tensor engine).
            hidden: model
                .hidden
                .iter()
                .map(|u| DRelu {
                    gamma_plus: u.gamma_plus as f32 as f64,
                    gamma_minus: u.gamma_minus as f32 as f64,
                    theta_plus: u.theta_plus as f32 as f64,
                    theta_minus: u.theta_minus as f32 as f64,
                })
                .collect(),
        }
    }

    /// Exact h ~ p(h | v) for chains `v` [C, N]; writes `h` [C, M]. Non-finite inputs (a
    /// chain that ran away) give NaN, which the explosion checks see.
    pub fn sample_hidden(&self, v: &[f32], h: &mut [f32], seed: u64, step: u64) {
        let c = v.len() / self.n.max(1);
        // I = v·W: [C, N]·[N, M].
        product(
            h,
            View::rows(v, c, self.n),
            View::rows(&self.weights, self.n, self.m),
        );
        DRelu::sample_rows(&self.hidden, h, seed, step);
    }

    /// v ~ p(v | h) = N((θ + h·Wᵀ)/γ, 1/γ) for hidden states `h` [C, M]; writes `v` [C, N].
    pub fn sample_visible(&self, h: &[f32], v: &mut [f32], seed: u64, step: u64) {
        let c = h.len() / self.m.max(1);
        // X = h·Wᵀ: [C, M]·[M, N], Wᵀ read from W [N, M] with swapped strides.
        product(
            v,
            View::rows(h, c, self.m),
            View::transposed(&self.weights, self.m, self.n),
        );
        v.par_chunks_mut(self.n.max(1))
            .enumerate()
            .for_each(|(r, row)| {
                let mut rng = lane_rng(seed, step, VISIBLE_NOISE_LANE + r as u64);
                for (((x, &th), &g), &s) in row
                    .iter_mut()
                    .zip(&self.theta)
                    .zip(&self.gamma)
                    .zip(&self.inv_sd)
                {
                    let z: f32 = StandardNormal.sample(&mut rng);
                    *x = (*x + th) / g + z * s;
                }
            });
    }

    /// One sweep v → h → v of the chains `v` [C, N], in place; `h` is scratch of [C, M].
    pub fn sweep(&self, v: &mut [f32], h: &mut Vec<f32>, seed: u64, step: u64) {
        let c = v.len() / self.n.max(1);
        h.resize(c * self.m, 0.0);
        self.sample_hidden(v, h, seed, step);
        self.sample_visible(h, v, seed, step);
    }

    /// `sweeps` sweeps of the chains (steps `first_step..first_step + sweeps`).
    pub fn run(&self, chains: &mut Frames, seed: u64, first_step: u64, sweeps: usize) {
        let mut h = Vec::new();
        for s in 0..sweeps as u64 {
            self.sweep(&mut chains.values, &mut h, seed, first_step + s);
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;
    use crate::gauss::tensor::{download_frames, upload_frames, GaussGibbs, GaussTensors};

    fn model() -> GaussCrbm {
        let mut m = GaussCrbm::random(37, 5, 0.3, 4);
        m.gamma
            .iter_mut()
            .enumerate()
            .for_each(|(i, g)| *g = 1.0 + 0.05 * i as f64);
        m.theta
            .iter_mut()
            .enumerate()
            .for_each(|(i, t)| *t = 0.1 * (i % 3) as f64 - 0.1);
        m
    }

    fn start(c: usize, n: usize) -> Frames {
        Frames {
            n_units: n,
            values: (0..c * n)
                .map(|k| ((k * 7919) % 23) as f32 / 11.0 - 1.0)
                .collect(),
        }
    }

    /// Both engines draw the same streams: after several sweeps the chains agree up to the
    /// GEMMs' f32 rounding.
    #[test]
    fn host_sweeps_follow_the_tensor_sweeps() {
        let model = model();
        let device = Device::flex();
        let tensors = GaussGibbs::new(GaussTensors::upload(&model, &device), &device);
        let host = HostGibbs::new(&model);
        let mut chains = start(9, model.n_visible);
        let mut t = upload_frames(&chains, &device);
        for step in 0..4 {
            t = tensors.sweep(t, 17, step);
        }
        host.run(&mut chains, 17, 0, 4);
        let expected = download_frames(&t);
        let worst = chains
            .values
            .iter()
            .zip(&expected.values)
            .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
            .fold(0f32, f32::max);
        assert!(worst < 1e-4, "largest relative difference {worst}");
        // Different seeds give different chains (the test is not vacuous).
        let mut other = start(9, model.n_visible);
        host.run(&mut other, 18, 0, 4);
        assert!(other.values != chains.values);
    }

    /// Evaluation sampling on either engine: the same samples up to f32 rounding, from the
    /// prior and from data frames.
    #[test]
    fn host_sampling_follows_tensor_sampling() {
        use crate::gauss::evaluate::{sample_model, ChainStart, GaussSamplingConfig};
        let model = model();
        let train = start(20, model.n_visible);
        for start in [ChainStart::Prior, ChainStart::Data] {
            let cfg = GaussSamplingConfig {
                start,
                n_chains: 8,
                burn_in: 5,
                samples_per_chain: 3,
                thinning: 2,
                ..Default::default()
            };
            let t = sample_model(&model, &train, &cfg, &Device::flex())
                .unwrap()
                .unwrap();
            let host_cfg = GaussSamplingConfig {
                engine: GibbsEngine::Host,
                ..cfg
            };
            let h = sample_model(&model, &train, &host_cfg, &Device::flex())
                .unwrap()
                .unwrap();
            assert_eq!((h.len(), h.n_units), (24, model.n_visible));
            assert_eq!((t.len(), t.n_units), (24, model.n_visible));
            let worst = h
                .values
                .iter()
                .zip(&t.values)
                .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
                .fold(0f32, f32::max);
            assert!(
                worst < 1e-4,
                "{start:?}: largest relative difference {worst}"
            );
        }
    }

    /// The visible conditional is N((θ + x)/γ, 1/γ): mean and variance over many chains.
    #[test]
    fn visible_draws_have_the_conditional_moments() {
        let model = model();
        let host = HostGibbs::new(&model);
        let (c, n, m) = (4000, model.n_visible, model.n_hidden);
        let h: Vec<f32> = (0..c * m).map(|k| (k % m) as f32 * 0.2 - 0.3).collect();
        let mut v = vec![0f32; c * n];
        host.sample_visible(&h, &mut v, 3, 0);
        let h0: Vec<f64> = h[..m].iter().map(|&x| x as f64).collect();
        let x = model.visible_input(&h0);
        for i in [0, 11, 36] {
            let col: Vec<f64> = (0..c).map(|r| v[r * n + i] as f64).collect();
            let mean = col.iter().sum::<f64>() / c as f64;
            let var = col.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / (c - 1) as f64;
            let (mu, s2) = (
                (model.theta[i] + x[i]) / model.gamma[i],
                1.0 / model.gamma[i],
            );
            // 5 standard errors of the mean and of the variance.
            assert!(
                (mean - mu).abs() < 5.0 * (s2 / c as f64).sqrt(),
                "unit {i}: {mean} vs {mu}"
            );
            assert!(
                (var - s2).abs() < 5.0 * s2 * (2.0 / c as f64).sqrt(),
                "unit {i}: {var} vs {s2}"
            );
        }
    }
}
