//! Seconds per PCD update at zebrafish scale, next to the flop floor.
//!
//! `cargo run --release -p crbm --example pcd_bench [-- N M BATCH SWEEPS UPDATES]`
//! (defaults 40000 200 100 15 5). Data: the synthetic generator (~3.5% ones).
//! The floor counts the unavoidable multiply-adds of one update —
//! per sweep the dense `h·Wᵀ` (2·C·M·N) and the sparse `v·W` (2·C·M·nnz), plus the
//! data-term gather and the two ⟨v·Φ′⟩ scatters — and divides by the f32 GEMM
//! throughput measured on this machine for the same `h·Wᵀ` shape. The machine block first
//! (CPU features in use, FMA peak from the measured clock, a large square GEMM) states what
//! that rate is against what the machine can do.
//! Add `device` to the arguments to also time the tensor trainer
//! (`tensor_train::DeviceTrainer`) on the flex (CPU) device, and `wgpu` (build with the `wgpu`
//! feature) to time it on the GPU; the first update is untimed (shader compilation).

use std::time::Instant;

use crbm::dense::machine;
use crbm::gibbs::SamplerWeights;
use crbm::synthetic::SyntheticConfig;
use crbm::train::{PcdTrainer, TrainConfig};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let get = |k: usize, d: usize| args.get(k).copied().unwrap_or(d);
    let (n, m, batch, sweeps, updates) = (
        get(0, 40_000),
        get(1, 200),
        get(2, 100),
        get(3, 15),
        get(4, 5),
    );

    let baseline = machine::Baseline::measure();
    println!("{baseline}");

    let t0 = Instant::now();
    let synth = SyntheticConfig {
        n_neurons: n,
        n_frames: 2000,
        ..Default::default()
    }
    .generate()
    .expect("valid config");
    let data = synth.recording.raster;
    let density = data.density();
    println!(
        "synthetic data N={n} T={} density {:.4} in {:.2} s",
        data.len(),
        density,
        t0.elapsed().as_secs_f64()
    );

    let config = TrainConfig {
        n_hidden: m,
        batch_size: batch,
        n_chains: batch,
        gibbs_steps: sweeps,
        n_updates: updates + 1,
        // A small rate keeps the chains at data-like density (~3.5% ones) during
        // the few timed updates, as in a converged run.
        learning_rate: 1e-5,
        learning_rate_final: 1e-5,
        log_every: 0,
        // Plain PCD: the update PGM and the floor describe (and the tensor engine runs).
        standardize: crbm::train::StandardizeConfig::disabled(),
        ..TrainConfig::default()
    };
    let mut trainer = PcdTrainer::new(&data, config).expect("valid config");
    trainer.step(); // warm-up (allocations, rayon pool)
    let t1 = Instant::now();
    for _ in 0..updates {
        trainer.step();
    }
    let per_update = t1.elapsed().as_secs_f64() / updates as f64;
    let chain_density = trainer.chains().density();

    // Measured GEMM throughput for the h·Wᵀ shape, through the sampler's own call (best of 10).
    let sw = SamplerWeights::from(&trainer.model);
    let h: Vec<f32> = (0..batch * m)
        .map(|k| ((k % 17) as f32 - 8.0) * 0.1)
        .collect();
    let mut out = Vec::new();
    sw.visible_preactivations(&h, &mut out);
    let gemm_s = (0..10)
        .map(|_| {
            let t2 = Instant::now();
            sw.visible_preactivations(&h, &mut out);
            t2.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    let gemm_flops = 2.0 * (batch * m * n) as f64;
    let rate = gemm_flops / gemm_s;

    // Where one update's sweeps spend their time: the four stages of `gibbs_sweep`, summed
    // over `sweeps` sweeps of a copy of the chains; the rest of the update is the gradient
    // statistics and the parameter step.
    let mut v = trainer.chains().clone();
    let mut stage = [0.0f64; 4];
    let mut scratch = Vec::new();
    for s in 0..sweeps as u64 {
        let t = Instant::now();
        let inputs = sw.hidden_inputs(&v);
        stage[0] += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let h = sw.sample_hidden(&inputs, 7, 2 * s);
        stage[1] += t.elapsed().as_secs_f64();
        let t = Instant::now();
        sw.visible_preactivations(&h, &mut scratch);
        stage[2] += t.elapsed().as_secs_f64();
        let t = Instant::now();
        v = sw.sample_visible(&scratch, 7, 2 * s + 1);
        stage[3] += t.elapsed().as_secs_f64();
    }

    let nnz = density * n as f64; // active neurons per frame
    let (c, b, mf, nf, kf) = (
        batch as f64,
        batch as f64,
        m as f64,
        n as f64,
        sweeps as f64,
    );
    let flops = kf * (2.0 * c * mf * nf + 2.0 * c * mf * nnz)
        + 2.0 * b * mf * nnz
        + 2.0 * (b + c) * mf * nnz;
    let floor = flops / rate;
    println!(
        "N={n} M={m} batch={batch} chains={batch} sweeps={sweeps} threads={}",
        rayon::current_num_threads()
    );
    println!("seconds per PCD update: {per_update:.3} (chain density {chain_density:.4})");
    println!(
        "f32 GEMM h·Wᵀ [{batch}×{m}]·[{m}×{n}] (Wᵀ strided, all threads): {}",
        baseline.rate(rate)
    );
    println!(
        "flop floor: {:.2} GFLOP per update / {:.1} GFLOP/s (measured f32 GEMM, h·Wᵀ shape) = {floor:.3} s",
        flops / 1e9,
        rate / 1e9
    );
    if let Some(p) = baseline.peak.map(|p| p.peak_flops) {
        println!(
            "at the FMA peak ({:.1} GFLOP/s) the same flops take {:.3} s: ratio {:.2}",
            p / 1e9,
            flops / p,
            per_update / (flops / p)
        );
    }
    println!("ratio to floor: {:.2}", per_update / floor);
    println!(
        "{sweeps} sweeps: v·W gather {:.3} s, dReLU sampling {:.3} s, h·Wᵀ GEMM {:.3} s, Bernoulli sampling {:.3} s; rest of the update (statistics, parameter step) {:.3} s",
        stage[0],
        stage[1],
        stage[2],
        stage[3],
        per_update - stage.iter().sum::<f64>()
    );

    let mut devices = Vec::new();
    if std::env::args().any(|a| a == "device") {
        devices.push(burn::tensor::Device::flex());
    }
    #[cfg(feature = "wgpu")]
    if std::env::args().any(|a| a == "wgpu") {
        devices.push(burn::tensor::Device::wgpu(
            burn::tensor::DeviceKind::DefaultDevice,
        ));
    }
    for device in devices {
        let config = TrainConfig {
            n_updates: 3,
            ..trainer.config.clone()
        };
        let mut dt =
            crbm::tensor_train::DeviceTrainer::from_model(&trainer.model, &data, config, &device)
                .expect("valid config");
        dt.step();
        let t3 = Instant::now();
        for _ in 0..2 {
            dt.step();
        }
        println!(
            "tensor trainer on {device:?}: {:.3} s per PCD update",
            t3.elapsed().as_secs_f64() / 2.0
        );
    }
}
