//! Fused CPU integration engine (f32). The tensor engine issues ~45 small tensor operations
//! per Euler step, each a pass over memory plus dispatch overhead; here one pass per step does
//! the coupling product, the transfer function, the Euler–Maruyama update and the
//! Balloon–Windkessel step for every element, with vectorisable exp/ln ([`crate::fastmath`]).
//! Series are independent, so each thread owns a block of series for the whole run; threads
//! only meet once per noise chunk. Same equations, same schedule, same noise as the tensor
//! engine (tested to agree to f32 precision).

use crate::fastmath::{exp_f32, ln_f32};
use crate::neural::TAYLOR_THRESHOLD;
use crate::noise::{F32Chunks, NoiseSource};
use crate::params::RegionalParams;
use crate::simulator::{HostBatch, SimConfig, SimError, StepCoefficients};
use machine::{CpuFeatures, SimdBuild};
use rayon::prelude::*;

/// Coefficients of one block of series, each [regions, width] row-major, or [width].
struct Block {
    /// First global series index of the block.
    m0: usize,
    width: usize,
    self_gain: Vec<f32>,
    drive0: Vec<f32>,
    noise_gain: Vec<f32>,
    coupling_gain: Vec<f32>,
    /// Runs of columns under one noise duplicate: (first column, end column, duplicate).
    segments: Vec<(usize, usize, usize)>,
    s: Vec<f32>,
    cs: Vec<f32>,
    z: Vec<f32>,
    f: Vec<f32>,
    v: Vec<f32>,
    q: Vec<f32>,
    /// Kept BOLD frames, [frames, regions, width].
    frames: Vec<f32>,
}

/// Runs the whole schedule and returns BOLD as host values, [series, frames, regions].
pub(crate) fn simulate_fused(
    batch: HostBatch,
    noise: &mut dyn NoiseSource,
) -> Result<Vec<f32>, SimError> {
    simulate_fused_with(batch, noise, CpuFeatures::detect().widest_build())
}

/// [`simulate_fused`] with a given step build (`build` must be one the CPU supports).
pub(crate) fn simulate_fused_with(
    batch: HostBatch,
    noise: &mut dyn NoiseSource,
    build: SimdBuild,
) -> Result<Vec<f32>, SimError> {
    let (cfg, n, params, n_dup) = (batch.cfg, batch.n, batch.params, batch.n_dup);
    let (b, m) = (params.len(), batch.n_series());
    let c32 = SparseRows::new(batch.coupling, n);
    let threads = rayon::current_num_threads().max(1);
    // Blocks of at least 8 series keep the inner loops vector-friendly.
    let per = m.div_ceil(threads).max(8);
    let mut blocks: Vec<Block> = (0..m)
        .step_by(per)
        .map(|m0| {
            let width = per.min(m - m0);
            let col = |f: &dyn Fn(&RegionalParams, usize) -> f64| -> Vec<f32> {
                let mut v = vec![0.0f32; n * width];
                for r in 0..n {
                    for c in 0..width {
                        v[r * width + c] = f(&params[(m0 + c) % b], r) as f32;
                    }
                }
                v
            };
            Block {
                m0,
                width,
                self_gain: col(&|p, r| StepCoefficients::new(cfg, p, r).self_gain),
                drive0: col(&|p, r| StepCoefficients::new(cfg, p, r).drive0),
                noise_gain: col(&|p, r| StepCoefficients::new(cfg, p, r).noise_gain),
                coupling_gain: (0..width)
                    .map(|c| {
                        StepCoefficients::new(cfg, &params[(m0 + c) % b], 0).coupling_gain as f32
                    })
                    .collect(),
                segments: dup_segments(m0, width, b),
                s: vec![cfg.s_init as f32; n * width],
                cs: vec![0.0; n * width],
                z: vec![0.0; n * width],
                f: vec![1.0; n * width],
                v: vec![1.0; n * width],
                q: vec![1.0; n * width],
                frames: Vec::with_capacity(cfg.n_frames() * n * width),
            }
        })
        .collect();

    let total = cfg.warmup_steps + cfg.main_steps();
    let mut chunks = F32Chunks::new(noise, n_dup * n, batch.chunk, total);
    while let Some((done, k, xi)) = chunks.next()? {
        blocks.par_iter_mut().for_each(|blk| {
            for t in 0..k {
                blk.step(
                    build,
                    cfg,
                    &c32,
                    n,
                    &xi[t * n_dup * n..(t + 1) * n_dup * n],
                    done + t,
                );
            }
        });
    }

    let frames = cfg.n_frames();
    let mut out = vec![0.0f32; m * frames * n];
    for blk in &blocks {
        for t in 0..frames {
            for r in 0..n {
                for c in 0..blk.width {
                    out[((blk.m0 + c) * frames + t) * n + r] =
                        blk.frames[(t * n + r) * blk.width + c];
                }
            }
        }
    }
    Ok(out)
}

/// The coupling matrix's nonzero entries row by row (f32), in increasing column order.
struct SparseRows {
    starts: Vec<usize>,
    cols: Vec<usize>,
    vals: Vec<f32>,
}

impl SparseRows {
    /// From a row-major [n, n] matrix.
    fn new(c: &[f64], n: usize) -> Self {
        let (mut starts, mut cols, mut vals) = (vec![0], Vec::new(), Vec::new());
        for i in 0..n {
            for j in 0..n {
                let cij = c[i * n + j] as f32;
                if cij != 0.0 {
                    cols.push(j);
                    vals.push(cij);
                }
            }
            starts.push(cols.len());
        }
        Self { starts, cols, vals }
    }

    fn row(&self, i: usize) -> (&[usize], &[f32]) {
        let r = self.starts[i]..self.starts[i + 1];
        (&self.cols[r.clone()], &self.vals[r])
    }
}

/// `row[c0..]` = Σ_j C_ij·S_j over tiles of `L` columns while whole tiles fit; returns the first
/// column not done. `s` is [regions, w].
#[inline(always)]
fn coupling_tiles<const L: usize>(
    row: &mut [f32],
    s: &[f32],
    w: usize,
    cols: &[usize],
    vals: &[f32],
    mut c0: usize,
) -> usize {
    while c0 + L <= w {
        let mut acc = [0.0f32; L];
        for (&j, &cij) in cols.iter().zip(vals) {
            let sj: &[f32; L] = s[j * w + c0..j * w + c0 + L].try_into().unwrap();
            for (a, &x) in acc.iter_mut().zip(sj) {
                *a += cij * x;
            }
        }
        row[c0..c0 + L].copy_from_slice(&acc);
        c0 += L;
    }
    c0
}

/// Column runs of a block that share one noise duplicate (column m belongs to duplicate m / B).
fn dup_segments(m0: usize, width: usize, b: usize) -> Vec<(usize, usize, usize)> {
    let mut v = Vec::new();
    let mut c = 0;
    while c < width {
        let d = (m0 + c) / b;
        let end = ((d + 1) * b - m0).min(width);
        v.push((c, end, d));
        c = end;
    }
    v
}

impl Block {
    /// One Euler–Maruyama step (global index `step`, warm-up included); `xi` is [n_dup, regions].
    /// Runs `build` of the step: an AVX-512 build (16 lanes of f32) or an AVX2/FMA build (8
    /// lanes) of the same code, or the portable one. The code has no fused multiply-adds of its
    /// own (Rust does not contract `a * b + c`) and fixed summation orders, so every build gives
    /// the same bits (tested).
    fn step(
        &mut self,
        build: SimdBuild,
        cfg: &SimConfig,
        c: &SparseRows,
        n: usize,
        xi: &[f32],
        step: usize,
    ) {
        match build {
            // SAFETY: `build` is one the CPU supports (CpuFeatures::widest_build or narrower).
            #[cfg(target_arch = "x86_64")]
            SimdBuild::Avx512 => unsafe { self.step_avx512(cfg, c, n, xi, step) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            SimdBuild::Avx2 => unsafe { self.step_avx2(cfg, c, n, xi, step) },
            _ => self.step_portable(cfg, c, n, xi, step),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn step_avx512(
        &mut self,
        cfg: &SimConfig,
        c: &SparseRows,
        n: usize,
        xi: &[f32],
        step: usize,
    ) {
        self.step_portable(cfg, c, n, xi, step);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn step_avx2(
        &mut self,
        cfg: &SimConfig,
        c: &SparseRows,
        n: usize,
        xi: &[f32],
        step: usize,
    ) {
        self.step_portable(cfg, c, n, xi, step);
    }

    #[inline(always)]
    fn step_portable(
        &mut self,
        cfg: &SimConfig,
        c: &SparseRows,
        n: usize,
        xi: &[f32],
        step: usize,
    ) {
        let w = self.width;
        let nc = &cfg.neural;
        // Coupling input C·S over the connections present (SC is sparse), columns in register
        // tiles of 32, 16, 8 and 1: each tile's sums stay in registers across the row, and each
        // sum runs over j in increasing order from 0, whatever the tile.
        for i in 0..n {
            let (cols, vals) = c.row(i);
            let row = &mut self.cs[i * w..(i + 1) * w];
            let mut c0 = 0;
            c0 = coupling_tiles::<32>(row, &self.s, w, cols, vals, c0);
            c0 = coupling_tiles::<16>(row, &self.s, w, cols, vals, c0);
            c0 = coupling_tiles::<8>(row, &self.s, w, cols, vals, c0);
            coupling_tiles::<1>(row, &self.s, w, cols, vals, c0);
        }
        let (d, inv_d) = (nc.d as f32, 1.0 / nc.d as f32);
        let thr = TAYLOR_THRESHOLD as f32;
        let (dt, decay, gamma) = (cfg.dt as f32, (-1.0 / nc.tau_s) as f32, nc.gamma as f32);
        for i in 0..n {
            let range = i * w..(i + 1) * w;
            let s = &mut self.s[range.clone()];
            let cs = &self.cs[range.clone()];
            let sg = &self.self_gain[range.clone()];
            let d0 = &self.drive0[range.clone()];
            let ng = &self.noise_gain[range];
            for &(c0, c1, dup) in &self.segments {
                let noise = xi[dup * n + i];
                // Zipped slices of one segment: no index checks or aliasing questions in the
                // way of the vectoriser.
                for (((((s, &cs), &sg), &d0), &ng), &cg) in s[c0..c1]
                    .iter_mut()
                    .zip(&cs[c0..c1])
                    .zip(&sg[c0..c1])
                    .zip(&d0[c0..c1])
                    .zip(&ng[c0..c1])
                    .zip(&self.coupling_gain[c0..c1])
                {
                    let x = *s;
                    let y = sg * x + cg * cs + d0;
                    let z = d * y;
                    let near = z.abs() < thr;
                    let zs = if near { thr } else { z };
                    let closed = zs * inv_d / (1.0 - exp_f32(-zs));
                    let series = (1.0 + z * 0.5 + z * z * (1.0 / 12.0)
                        - z * z * z * z * (1.0 / 720.0))
                        * inv_d;
                    let h = if near { series } else { closed };
                    let ds = decay * x + gamma * (1.0 - x) * h;
                    *s = x + dt * ds + ng * noise;
                }
            }
        }
        if step < cfg.warmup_steps {
            return;
        }
        let hc = &cfg.hemo;
        let (kappa, gh, dt_tau) = (hc.kappa as f32, hc.gamma_h as f32, (cfg.dt / hc.tau) as f32);
        let (inv_alpha, ln_1mrho, inv_rho) = (
            (1.0 / hc.alpha) as f32,
            (1.0 - hc.rho).ln() as f32,
            (1.0 / hc.rho) as f32,
        );
        for ((((zr, fr), vr), qr), &s) in self
            .z
            .iter_mut()
            .zip(self.f.iter_mut())
            .zip(self.v.iter_mut())
            .zip(self.q.iter_mut())
            .zip(&self.s)
        {
            let (z, f, v, q) = (*zr, *fr, *vr, *qr);
            let v_pow = exp_f32(ln_f32(v) * inv_alpha);
            let extraction = 1.0 - exp_f32(ln_1mrho / f);
            let dz = s - kappa * z - gh * (f - 1.0);
            *zr = z + dt * dz;
            *fr = f + dt * z;
            *vr = v + dt_tau * (f - v_pow);
            *qr = q + dt_tau * (f * extraction * inv_rho - q * v_pow / v);
        }
        if cfg.kept_frame(step).is_some() {
            let (k1, k2, k3) = hc.k();
            let (k1, k2, k3, scale) = (
                k1 as f32,
                k2 as f32,
                k3 as f32,
                (100.0 / hc.rho * hc.v0) as f32,
            );
            for e in 0..n * w {
                let (v, q) = (self.v[e], self.q[e]);
                self.frames
                    .push(scale * (k1 * (1.0 - q) + k2 * (1.0 - q / v) + k3 * (1.0 - v)));
            }
        }
    }
}
