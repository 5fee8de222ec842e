//! Seconds per PCD update of the Gaussian-visible trainer at the study's scale, next to
//! a floor computed from this machine's measured rates.
//!
//! `gauss_bench [K M BATCH SWEEPS UPDATES] [wgpu]` (defaults 2000 30 100 50 5). Data: K
//! z-scored Gaussian units with a planted low-rank structure. The floor of one update
//! (C = B chains):
//! * multiply-adds: per sweep `v·W` and `h·Wᵀ` (2·2·C·K·M) plus the visible affine map and
//!   noise scaling (≈ 4·C·K); per update the data/chain inputs, the two outer products and
//!   the re-standardisation input (2·K·M·(3B + 2C)), at the f32 GEMM rate of one sweep's
//!   two products measured here through the `gemm` crate (the kernel of both CPU engines);
//! * random draws: `SWEEPS·C·K` normals at the measured rate of a rayon-parallel
//!   ziggurat sampler, and `SWEEPS·C·M` exact dReLU draws at the measured host rate.
//!
//! Rates and the floor are printed with the CPU's vector features, so the ratio can be
//! read on any machine. The first update is untimed (allocation, shader compilation).
//! Engines: the host Gibbs kernels and the tensor sweeps on the CPU (flex) device, and the
//! tensor sweeps on wgpu when `wgpu` is given.

mod common;

use std::time::Instant;

use burn::tensor::Device;
use crbm::dense::{product, View};
use crbm::gauss::{GaussCrbm, GaussTrainConfig, GaussTrainer, GibbsEngine, Standardization};
use crbm::rng::lane_rng;
use crbm::Frames;
use rand_distr::{Distribution as _, StandardNormal};
use rayon::prelude::*;

fn main() {
    let [k, m, batch, sweeps, updates] = common::sizes_from_args([2000, 30, 100, 50, 5]);
    println!(
        "K={k} M={m} batch={batch} chains={batch} sweeps={sweeps} threads={} cpu: {}",
        rayon::current_num_threads(),
        cpu_features()
    );
    let data = planted_frames(k, m, 2000);

    let rates_before = (
        gemm_rate(batch, k, m),
        normal_rate(batch * k),
        drelu_rate(batch * m),
    );
    let mut engines = vec![
        ("host Gibbs, flex (CPU)", GibbsEngine::Host, Device::flex()),
        ("tensor, flex (CPU)", GibbsEngine::Tensor, Device::flex()),
    ];
    #[cfg(feature = "wgpu")]
    if std::env::args().any(|a| a == "wgpu") {
        engines.push((
            "tensor, wgpu",
            GibbsEngine::Tensor,
            Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        ));
    }
    let mut per_update = Vec::new();
    for (name, engine, device) in &engines {
        let s = seconds_per_update(&data, m, batch, sweeps, updates, *engine, device);
        println!("trainer ({name}): {s:.4} s per PCD update");
        per_update.push((name, s));
    }

    // Rates measured before and after the trainers, the better of the two kept: on a
    // shared machine the floor must not be inflated by a busy moment.
    let rates = |_: ()| {
        (
            gemm_rate(batch, k, m),
            normal_rate(batch * k),
            drelu_rate(batch * m),
        )
    };
    let (before, after) = (rates_before, rates(()));
    let gemm_rate = before.0.max(after.0);
    let normal_rate = before.1.max(after.1);
    let drelu_rate = before.2.max(after.2);
    let (c, b, kf, mf, sf) = (
        batch as f64,
        batch as f64,
        k as f64,
        m as f64,
        sweeps as f64,
    );
    let flops = sf * (4.0 * c * kf * mf + 4.0 * c * kf) + 2.0 * kf * mf * (3.0 * b + 2.0 * c);
    let floor = flops / gemm_rate + sf * c * kf / normal_rate + sf * c * mf / drelu_rate;
    println!(
        "measured rates: f32 GEMM (gemm crate, [{batch},{k}]x[{k},{m}] and [{batch},{m}]x[{m},{k}]) {:.1} GFLOP/s; normals {:.0} M/s; dReLU draws {:.1} M/s",
        gemm_rate / 1e9,
        normal_rate / 1e6,
        drelu_rate / 1e6
    );
    println!(
        "floor per update: {:.3} GFLOP + {:.1} M normals + {:.2} M dReLU draws = {floor:.4} s",
        flops / 1e9,
        sf * c * kf / 1e6,
        sf * c * mf / 1e6
    );
    for (name, s) in per_update {
        println!("ratio to floor ({name}): {:.2}", s / floor);
    }
}

/// T frames of K units driven by M planted factors, z-scored.
fn planted_frames(k: usize, m: usize, t: usize) -> Frames {
    let mut rng = lane_rng(1, 0, 0);
    let loadings: Vec<f32> = (0..k * m)
        .map(|_| {
            let x: f32 = StandardNormal.sample(&mut rng);
            0.3 * x
        })
        .collect();
    let mut values = Vec::with_capacity(t * k);
    for _ in 0..t {
        let f: Vec<f32> = (0..m).map(|_| StandardNormal.sample(&mut rng)).collect();
        for i in 0..k {
            let noise: f32 = StandardNormal.sample(&mut rng);
            let s: f32 = (0..m).map(|j| loadings[i * m + j] * f[j]).sum();
            values.push(s + noise);
        }
    }
    Frames::new(k, values, "planted")
        .and_then(|f| f.z_scored("planted"))
        .expect("finite, non-constant frames")
}

fn seconds_per_update(
    data: &Frames,
    m: usize,
    batch: usize,
    sweeps: usize,
    updates: usize,
    engine: GibbsEngine,
    device: &Device,
) -> f64 {
    let (mean, var) = data.mean_var();
    let model = GaussCrbm::init(&mean, &var, m, 0.01, 0);
    let cfg = GaussTrainConfig {
        n_hidden: m,
        batch_size: batch,
        gibbs_steps: sweeps,
        n_updates: updates + 1,
        log_every: 0,
        engine,
        ..Default::default()
    };
    let st = Standardization::from_moments(&mean, &var, cfg.eps_v, m);
    let mut t = GaussTrainer::from_model(&model, st, data, cfg, device).expect("valid config");
    t.step();
    let start = Instant::now();
    for _ in 0..updates {
        t.step();
    }
    start.elapsed().as_secs_f64() / updates as f64
}

/// f32 GEMM rate of one sweep's two products, `[b, k]·[k, m]` and `[b, m]·[m, k]`, through
/// the `gemm` crate on all threads (the kernel both CPU engines call; best of 10).
fn gemm_rate(b: usize, k: usize, m: usize) -> f64 {
    let v: Vec<f32> = (0..b * k).map(|i| (i % 17) as f32 * 0.1 - 0.8).collect();
    let w: Vec<f32> = (0..k * m).map(|i| (i % 13) as f32 * 0.1 - 0.6).collect();
    let (mut h, mut x) = (vec![0f32; b * m], vec![0f32; b * k]);
    let reps = 20;
    let mut best = f64::INFINITY;
    for _ in 0..10 {
        let t = Instant::now();
        for _ in 0..reps {
            product(&mut h, View::rows(&v, b, k), View::rows(&w, k, m));
            product(&mut x, View::rows(&h, b, m), View::transposed(&w, m, k));
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    std::hint::black_box((&h, &x));
    4.0 * (b * k * m) as f64 / best
}

/// Normal draws per second (ziggurat, one xoshiro stream per 4096-block, all threads).
fn normal_rate(n: usize) -> f64 {
    let mut out = vec![0f32; n];
    let mut best = f64::INFINITY;
    for rep in 0..5 {
        let t = Instant::now();
        out.par_chunks_mut(4096).enumerate().for_each(|(c, chunk)| {
            let mut rng = lane_rng(rep, c as u64, 0);
            chunk
                .iter_mut()
                .for_each(|x| *x = StandardNormal.sample(&mut rng));
        });
        best = best.min(t.elapsed().as_secs_f64());
    }
    std::hint::black_box(&out);
    n as f64 / best
}

/// Exact dReLU draws per second on the host (all threads).
fn drelu_rate(n: usize) -> f64 {
    let u = crbm::DRelu {
        gamma_plus: 1.2,
        gamma_minus: 0.8,
        theta_plus: 0.3,
        theta_minus: -0.2,
    };
    let mut out = vec![0f64; n * 20];
    let mut best = f64::INFINITY;
    for rep in 0..5 {
        let t = Instant::now();
        out.par_chunks_mut(256).enumerate().for_each(|(c, chunk)| {
            let mut rng = lane_rng(7, c as u64, rep);
            for (j, x) in chunk.iter_mut().enumerate() {
                *x = u.sample((j % 7) as f64 * 0.5 - 1.5, &mut rng);
            }
        });
        best = best.min(t.elapsed().as_secs_f64());
    }
    std::hint::black_box(&out);
    out.len() as f64 / best
}

fn cpu_features() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let f = [
            ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("fma", std::arch::is_x86_feature_detected!("fma")),
        ];
        f.iter()
            .filter(|(_, on)| *on)
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join("+")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::env::consts::ARCH.to_string()
    }
}
