//! Batched block-Gibbs sampling v → h → v on the CPU (the PCD hot path).
//!
//! * v → h: `I = v·W` as a sparse gather-sum over each frame's active neurons
//!   (rows of W are contiguous), then exact dReLU sampling in f64.
//! * h → v: `X = h·Wᵀ + g` as one dense f32 GEMM (the `gemm` crate, also what
//!   burn's Flex backend uses), then exact Bernoulli sampling by logit-table
//!   look-up (no exp in ~255/256 cases; [`crate::visible_draws`]) with one xoshiro256++
//!   stream per row.
//!   [`crate::sweeps`] holds a fused form of this half (measured, not yet the default).
//!
//! Rows are processed in parallel with rayon; every row's random stream is
//! derived from `(seed, step, row)` and every reduction has a fixed order, so
//! results are independent of the number of threads.

use rayon::prelude::*;

use crate::batch::SparseBatch;
use crate::dense::{product, View};
use crate::layers::{DRelu, DReluMoments};
use crate::model::Crbm;
use crate::rng::lane_rng;
use crate::visible_draws::{logit_table, BernoulliRow};

/// Neuron ranges summed separately in [`SamplerWeights::hidden_inputs`].
const GATHER_PARTS: usize = 8;

/// f32 copy of a model's parameters for sampling.
#[derive(Clone, Debug)]
pub struct SamplerWeights {
    pub n_visible: usize,
    pub n_hidden: usize,
    /// Shape [N, M] row-major.
    pub weights: Vec<f32>,
    /// Shape [N].
    pub fields: Vec<f32>,
    /// Shape [M].
    pub hidden: Vec<DRelu>,
}

impl From<&Crbm> for SamplerWeights {
    fn from(c: &Crbm) -> Self {
        let mut s = Self {
            n_visible: c.n_visible,
            n_hidden: c.n_hidden,
            weights: vec![0.0; c.weights.len()],
            fields: vec![0.0; c.n_visible],
            hidden: c.hidden.clone(),
        };
        s.refresh(c);
        s
    }
}

impl SamplerWeights {
    /// Copy the current parameters of `c` (same shapes) into this f32 mirror.
    pub fn refresh(&mut self, c: &Crbm) {
        self.weights
            .par_chunks_mut(1 << 16)
            .zip(c.weights.par_chunks(1 << 16))
            .for_each(|(d, s)| {
                d.iter_mut().zip(s).for_each(|(d, s)| *d = *s as f32);
            });
        self.refresh_except_weights(c);
    }

    /// [`SamplerWeights::refresh`] of the fields and hidden units only (for a trainer whose
    /// weight pass writes the f32 weights itself).
    pub fn refresh_except_weights(&mut self, c: &Crbm) {
        self.fields
            .iter_mut()
            .zip(&c.fields)
            .for_each(|(d, s)| *d = *s as f32);
        self.hidden.clone_from(&c.hidden);
    }

    /// Hidden inputs `I = v·W` for every frame, shape [B, M] row-major.
    ///
    /// Neuron-major gather: the batch is inverted into "frames in which neuron i
    /// is active", so each row of W is read once per call (W is far larger than
    /// cache at zebrafish scale) while the [B, M] accumulators stay in cache.
    /// Neuron ranges are split over threads, each with its own accumulator.
    pub fn hidden_inputs(&self, batch: &SparseBatch) -> Vec<f32> {
        let (n, m, bsz) = (self.n_visible, self.n_hidden, batch.len());
        // CSC inversion: starts[i]..starts[i+1] indexes frames_of for neuron i.
        let mut starts = vec![0u32; n + 1];
        for r in &batch.rows {
            for &i in r {
                starts[i as usize + 1] += 1;
            }
        }
        for i in 0..n {
            starts[i + 1] += starts[i];
        }
        let mut fill = starts.clone();
        let mut frames_of = vec![0u32; starts[n] as usize];
        for (b, r) in batch.rows.iter().enumerate() {
            for &i in r {
                let k = &mut fill[i as usize];
                frames_of[*k as usize] = b as u32;
                *k += 1;
            }
        }
        // A fixed number of neuron ranges (not the thread count) keeps the f32
        // summation order, hence the result, independent of the machine.
        let parts = GATHER_PARTS;
        let per = n.div_ceil(parts).max(1);
        let build = machine::CpuFeatures::detect().widest_build();
        let partial: Vec<Vec<f32>> = (0..parts)
            .into_par_iter()
            .map(|p| {
                let mut acc = vec![0.0f32; bsz * m];
                let part = GatherPart {
                    build,
                    weights: &self.weights,
                    m,
                    starts: &starts,
                    frames_of: &frames_of,
                    neurons: p * per..((p + 1) * per).min(n),
                };
                part.add_into(&mut acc);
                acc
            })
            .collect();
        let mut it = partial.into_iter();
        let mut out = it.next().unwrap_or_else(|| vec![0.0; bsz * m]);
        for p in it {
            out.iter_mut().zip(&p).for_each(|(o, x)| *o += x);
        }
        out
    }

    /// h ~ p(h | I) for inputs of shape [B, M]; returns h of shape [B, M].
    pub fn sample_hidden(&self, inputs: &[f32], seed: u64, step: u64) -> Vec<f32> {
        let mut h = inputs.to_vec();
        DRelu::sample_rows(&self.hidden, &mut h, seed, step);
        h
    }

    /// Conditional moments of h for inputs of shape [B, M] (row-major result).
    pub fn hidden_moments(&self, inputs: &[f32]) -> Vec<DReluMoments> {
        let m = self.n_hidden;
        inputs
            .par_chunks(m)
            .flat_map_iter(|x| {
                x.iter()
                    .zip(&self.hidden)
                    .map(|(&x, u)| u.moments(x as f64))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Visible pre-activations `X = h·Wᵀ` (without g), shape [B, N] row-major.
    pub fn visible_preactivations(&self, h: &[f32], out: &mut Vec<f32>) {
        let (n, m) = (self.n_visible, self.n_hidden);
        let b = h.len() / m.max(1);
        // The product overwrites every element, so a buffer of the right size is not cleared
        // (16 MB per sweep at zebrafish scale).
        if out.len() != b * n {
            out.clear();
            out.resize(b * n, 0.0);
        }
        if b == 0 || n == 0 {
            return;
        }
        if m == 0 {
            out.fill(0.0);
            return;
        }
        product(
            out,
            View::rows(h, b, m),
            View::transposed(&self.weights, m, n),
        );
    }

    /// v ~ Bernoulli(sigmoid(g + X)) for pre-activations X of shape [B, N].
    pub fn sample_visible(&self, pre: &[f32], seed: u64, step: u64) -> SparseBatch {
        let build = machine::CpuFeatures::detect().widest_build();
        self.sample_visible_with(pre, seed, step, build)
    }

    /// [`SamplerWeights::sample_visible`] with a given build of the draw loop (one this CPU
    /// runs: `CpuFeatures::runnable_builds`); every build gives the same rows.
    pub fn sample_visible_with(
        &self,
        pre: &[f32],
        seed: u64,
        step: u64,
        build: machine::SimdBuild,
    ) -> SparseBatch {
        let n = self.n_visible;
        let table = logit_table();
        let rows = pre
            .par_chunks(n)
            .enumerate()
            .map(|(b, x)| {
                let mut rng = lane_rng(seed, step, b as u64);
                BernoulliRow {
                    x,
                    g: &self.fields,
                    table: &table,
                }
                .sample(build, &mut rng)
            })
            .collect();
        SparseBatch { n_visible: n, rows }
    }

    /// One full sweep v → h → v, in place. `step` must differ between calls that share a seed
    /// (it indexes the random streams).
    pub fn gibbs_sweep(&self, v: &mut SparseBatch, seed: u64, step: u64) {
        self.gibbs_sweeps(v, 1, seed, step);
    }
}

/// One thread's share of the neuron-major gather `I = v·W`: the weight rows of the neurons in
/// `neurons` added to the accumulators of the frames each is active in.
struct GatherPart<'a> {
    /// The build of the loop that runs (one the CPU supports).
    build: machine::SimdBuild,
    /// W, [N, M] row-major.
    weights: &'a [f32],
    m: usize,
    /// CSC starts: `frames_of[starts[i]..starts[i + 1]]` are the frames where neuron i is on.
    starts: &'a [u32],
    frames_of: &'a [u32],
    neurons: std::ops::Range<usize>,
}

impl GatherPart<'_> {
    /// Adds into `acc` ([B, M] row-major) with the part's build of the loop: AVX-512 or AVX2
    /// (16 or 8 lanes) or portable; the adds are elementwise, so every build gives the same bits.
    fn add_into(&self, acc: &mut [f32]) {
        use machine::SimdBuild;
        match self.build {
            // SAFETY: `build` is one the CPU supports (CpuFeatures::widest_build or narrower).
            #[cfg(target_arch = "x86_64")]
            SimdBuild::Avx512 => unsafe { self.add_into_avx512(acc) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            SimdBuild::Avx2 => unsafe { self.add_into_avx2(acc) },
            _ => self.add_into_portable(acc),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2")]
    unsafe fn add_into_avx512(&self, acc: &mut [f32]) {
        self.add_into_portable(acc);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn add_into_avx2(&self, acc: &mut [f32]) {
        self.add_into_portable(acc);
    }

    #[inline(always)]
    fn add_into_portable(&self, acc: &mut [f32]) {
        let m = self.m;
        for i in self.neurons.clone() {
            let (lo, hi) = (self.starts[i] as usize, self.starts[i + 1] as usize);
            if lo == hi {
                continue;
            }
            let w = &self.weights[i * m..(i + 1) * m];
            for &b in &self.frames_of[lo..hi] {
                let o = &mut acc[b as usize * m..(b as usize + 1) * m];
                o.iter_mut().zip(w).for_each(|(o, w)| *o += w);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use rand::rngs::SmallRng;

    use super::*;
    use crate::layers::bernoulli::sigmoid;

    /// A rate test: `n` units with inputs x ramping from `from` over `span` and one field,
    /// `reps` rows drawn (row r from the stream `(seed, r, 0)`), pooled rates checked by
    /// [`assert_pooled_rates`].
    pub(crate) struct RateRamp {
        pub n: usize,
        pub from: f32,
        pub span: f32,
        pub field: f32,
        pub reps: u64,
        pub seed: u64,
        pub pool: usize,
    }

    impl RateRamp {
        /// Draw the rows with `draw(x, g, rng)` (the active indices) and check the rates.
        pub(crate) fn check(
            &self,
            mut draw: impl FnMut(&[f32], &[f32], &mut SmallRng) -> Vec<u32>,
        ) {
            let n = self.n;
            let x: Vec<f32> = (0..n)
                .map(|i| self.from + self.span * i as f32 / n as f32)
                .collect();
            let g = vec![self.field; n];
            let mut counts = vec![0u32; n];
            for r in 0..self.reps {
                let mut rng = lane_rng(self.seed, r, 0);
                for i in draw(&x, &g, &mut rng) {
                    counts[i as usize] += 1;
                }
            }
            assert_pooled_rates(&x, &g, &counts, self.reps, self.pool);
        }
    }

    /// Units pooled in groups of `pool` neighbours (similar p): each group's count of ones over
    /// `reps` draws is within 5 standard errors of Σ σ(x + g).
    pub(crate) fn assert_pooled_rates(
        x: &[f32],
        g: &[f32],
        counts: &[u32],
        reps: u64,
        pool: usize,
    ) {
        for grp in 0..x.len() / pool {
            let idx = grp * pool..(grp + 1) * pool;
            let p: f64 = idx
                .clone()
                .map(|i| sigmoid((x[i] + g[i]) as f64))
                .sum::<f64>()
                / pool as f64;
            let c: u32 = counts[idx].iter().sum();
            let t = (pool as u64 * reps) as f64;
            let se = (p * (1.0 - p) / t).sqrt();
            assert!(
                (c as f64 / t - p).abs() < 5.0 * se + 1e-9,
                "group {grp}: {} vs {p}",
                c as f64 / t
            );
        }
    }

    /// The gather's vector builds (whichever this CPU has) give the portable build's bits.
    #[test]
    fn every_build_of_the_gather_gives_the_same_bits() {
        let (n, m, b) = (300, 67, 9);
        let weights: Vec<f32> = (0..n * m)
            .map(|k| ((k as f32) * 0.731).sin() * 0.3)
            .collect();
        // Neuron i is active in frames (i + j) % b for j < i % 4.
        let mut starts = vec![0u32];
        let mut frames_of = Vec::new();
        for i in 0..n {
            frames_of.extend((0..i % 4).map(|j| ((i + j) % b) as u32));
            starts.push(frames_of.len() as u32);
        }
        use machine::SimdBuild;
        let run = |build| {
            let part = GatherPart {
                build,
                weights: &weights,
                m,
                starts: &starts,
                frames_of: &frames_of,
                neurons: 3..n - 5,
            };
            let mut acc = vec![0.25f32; b * m];
            part.add_into(&mut acc);
            acc.iter().map(|x| x.to_bits()).collect::<Vec<u32>>()
        };
        let plain = run(SimdBuild::Portable);
        let quarter = 0.25f32.to_bits();
        assert!(plain.iter().filter(|&&x| x != quarter).count() > b * m / 2);
        for build in machine::CpuFeatures::detect().runnable_builds() {
            assert!(run(build) == plain, "{build:?} differs from portable");
        }
    }

    #[test]
    fn gemm_and_gather_match_plain_products() {
        let c = crate::model::tests_support::random_model(37, 5, 3);
        let s = SamplerWeights::from(&c);
        let batch = SparseBatch {
            n_visible: 37,
            rows: vec![vec![0, 5, 36], vec![], vec![1, 2, 3, 4]],
        };
        let inputs = s.hidden_inputs(&batch);
        for (b, r) in batch.rows.iter().enumerate() {
            let want = c.hidden_input(r);
            for mu in 0..5 {
                assert!((inputs[b * 5 + mu] as f64 - want[mu]).abs() < 1e-5);
            }
        }
        let h: Vec<f32> = (0..15).map(|k| (k as f32 * 0.37).sin()).collect();
        let mut pre = Vec::new();
        s.visible_preactivations(&h, &mut pre);
        for b in 0..3 {
            for i in 0..37 {
                let want: f64 = (0..5)
                    .map(|mu| c.weight(i, mu) * h[b * 5 + mu] as f64)
                    .sum();
                assert!((pre[b * 37 + i] as f64 - want).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn sweeps_are_reproducible() {
        let c = crate::model::tests_support::random_model(50, 4, 8);
        let s = SamplerWeights::from(&c);
        let start = SparseBatch {
            n_visible: 50,
            rows: vec![vec![1, 2]; 6],
        };
        let run = || {
            let mut v = start.clone();
            for t in 0..5 {
                s.gibbs_sweep(&mut v, 42, t);
            }
            v
        };
        assert_eq!(run(), run());
    }
}
