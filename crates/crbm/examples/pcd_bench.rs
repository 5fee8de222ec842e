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
//! The memory floor adds the bytes the update's other stages cannot avoid moving — W's active
//! rows read once per sweep by the v·W gather (at the triad bandwidth of a working set of W's
//! size, which a large last-level cache may hold), and one pass of the parameter step over the
//! f64 weights, their gradient and optimiser moments (at the triad bandwidth from memory) —
//! measured in the same run; 1.3 × the flop floor is reachable only if that memory floor fits
//! in 0.3 × it.
//! Add `device` to the arguments to also time the tensor trainer
//! (`tensor_train::DeviceTrainer`) on the flex (CPU) device, and `wgpu` (build with the `wgpu`
//! feature) to time it on the GPU; the first update is untimed (shader compilation).

mod common;

use std::time::Instant;

use crbm::dense::machine;
use crbm::gibbs::SamplerWeights;
use crbm::synthetic::SyntheticConfig;
use crbm::train::{PcdTrainer, TrainConfig};

/// Sizes from the command line: N, M, batch (= chains), sweeps per update, timed updates.
struct Sizes {
    n: usize,
    m: usize,
    batch: usize,
    sweeps: usize,
    updates: usize,
}

fn main() {
    let [n, m, batch, sweeps, updates] = common::sizes_from_args([40_000, 200, 100, 15, 5]);
    let sz = Sizes {
        n,
        m,
        batch,
        sweeps,
        updates,
    };

    let baseline = machine::Baseline::measure();
    println!("{baseline}");
    let data = synthetic_raster(sz.n);
    let density = data.density();
    let mut trainer = PcdTrainer::new(&data, bench_config(&sz)).expect("valid config");
    let per_update = seconds_per_update(&mut trainer, sz.updates);
    let sw = SamplerWeights::from(&trainer.model);
    let gemm_s = gemm_seconds(&sw, sz.batch);
    let rate = 2.0 * (sz.batch * sz.m * sz.n) as f64 / gemm_s;
    let stage = sweep_stages(&sw, trainer.chains(), sz.sweeps);

    let nnz = density * sz.n as f64; // active neurons per frame
    let (c, b, mf, nf, kf) = (
        sz.batch as f64,
        sz.batch as f64,
        sz.m as f64,
        sz.n as f64,
        sz.sweeps as f64,
    );
    let flops = kf * (2.0 * c * mf * nf + 2.0 * c * mf * nnz)
        + 2.0 * b * mf * nnz
        + 2.0 * (b + c) * mf * nnz;
    let floor = flops / rate;
    println!(
        "N={} M={} batch={} chains={} sweeps={} threads={}",
        sz.n,
        sz.m,
        sz.batch,
        sz.batch,
        sz.sweeps,
        rayon::current_num_threads()
    );
    println!(
        "seconds per PCD update: {per_update:.3} (chain density {:.4})",
        trainer.chains().density()
    );
    println!(
        "f32 GEMM h·Wᵀ [{}×{}]·[{}×{}] (Wᵀ strided, all threads): {}",
        sz.batch,
        sz.m,
        sz.m,
        sz.n,
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
    let memory = MemoryFloor::of(&trainer, sz.sweeps, baseline.memory_bandwidth);
    println!("{}", memory.describe(floor, per_update));
    println!(
        "{} sweeps: v·W gather {:.3} s, dReLU sampling {:.3} s, h·Wᵀ GEMM {:.3} s, Bernoulli sampling {:.3} s; rest of the update (statistics, parameter step) {:.3} s",
        sz.sweeps,
        stage[0],
        stage[1],
        stage[2],
        stage[3],
        per_update - stage.iter().sum::<f64>()
    );
    bernoulli_builds(&sw, trainer.chains(), sz.sweeps);
    fused_block_sizes(&sw, trainer.chains(), sz.sweeps);
    fused_against_unfused(&sw, trainer.chains(), sz.sweeps);
    time_tensor_trainer(&trainer, &data);
}

/// The bytes an update moves outside its GEMMs that no fusion removes, at the measured
/// bandwidth.
struct MemoryFloor {
    /// Bytes of W (f32) the v·W gathers read: each neuron active in some chain, one row of M
    /// per sweep.
    gather_bytes: f64,
    /// Bytes of the parameter step: the f64 gradient written once and read once, the f64
    /// weights and each optimiser moment read and written, the f32 sampler copy written.
    step_bytes: f64,
    /// Triad bandwidth (bytes/s) over a working set of W's f32 size.
    gather_bandwidth: f64,
    /// Triad bandwidth (bytes/s) from memory.
    bandwidth: f64,
}

impl MemoryFloor {
    fn of(trainer: &PcdTrainer, sweeps: usize, bandwidth: f64) -> Self {
        let model = &trainer.model;
        let (n, m) = (model.n_visible, model.n_hidden);
        let mut active = vec![false; n];
        for &i in trainer.chains().rows.iter().flatten() {
            active[i as usize] = true;
        }
        let rows = active.iter().filter(|&&a| a).count();
        // Moments per weight as the trainer allocates them (Adam 2, RMSprop 1, SGD 0).
        let state = crbm::optim::OptimizerState::new(trainer.config.optimizer, 1);
        let moments = (state.m.len() + state.v.len()) as f64;
        let w_bytes = n * m * 4;
        Self {
            gather_bandwidth: machine::triad_bandwidth(w_bytes / 24, 20),
            gather_bytes: (sweeps * rows * m * 4) as f64,
            step_bytes: (n * m) as f64 * (8.0 + 8.0 + 16.0 + 16.0 * moments + 4.0),
            bandwidth,
        }
    }

    fn seconds(&self) -> f64 {
        self.gather_bytes / self.gather_bandwidth + self.step_bytes / self.bandwidth
    }

    /// The floor's lines: the bytes, flop + memory floor and the ratio to it, and what the
    /// 1.3× target leaves for everything that is not GEMM.
    fn describe(&self, flop_floor: f64, per_update: f64) -> String {
        let mem = self.seconds();
        format!(
            "memory floor: v·W gathers {:.0} MB at {:.1} GB/s (triad over W's size) + parameter step {:.0} MB at {:.1} GB/s (triad from memory) = {mem:.3} s\n\
             flop + memory floor: {:.3} s, ratio {:.2}; 1.3 × the flop floor leaves {:.3} s for all non-GEMM work, \
             whose memory floor alone is {mem:.3} s ({:.2} × the flop floor)",
            self.gather_bytes / 1e6,
            self.gather_bandwidth / 1e9,
            self.step_bytes / 1e6,
            self.bandwidth / 1e9,
            flop_floor + mem,
            per_update / (flop_floor + mem),
            0.3 * flop_floor,
            mem / flop_floor
        )
    }
}

/// Seconds of an update's Bernoulli draws (`sweeps` of them) with each build this CPU runs,
/// on the same pre-activations.
fn bernoulli_builds(sw: &SamplerWeights, chains: &crbm::SparseBatch, sweeps: usize) {
    let h = sw.sample_hidden(&sw.hidden_inputs(chains), 7, 0);
    let mut pre = Vec::new();
    sw.visible_preactivations(&h, &mut pre);
    let line: Vec<String> = machine::CpuFeatures::detect()
        .runnable_builds()
        .into_iter()
        .map(|build| {
            let t = Instant::now();
            for s in 0..sweeps as u64 {
                std::hint::black_box(sw.sample_visible_with(&pre, 7, 2 * s + 1, build));
            }
            format!("{build:?} {:.3} s", t.elapsed().as_secs_f64())
        })
        .collect();
    println!(
        "Bernoulli sampling per update by build (same draws): {}",
        line.join(", ")
    );
}

/// Seconds of the fused h → v pass per update (`sweeps` passes) for several block sizes.
fn fused_block_sizes(sw: &SamplerWeights, chains: &crbm::SparseBatch, sweeps: usize) {
    let inputs = sw.hidden_inputs(chains);
    let h = sw.sample_hidden(&inputs, 7, 0);
    let times: Vec<String> = [64, 128, 256, 512, 1024, 2048]
        .iter()
        .map(|&block| {
            let t = Instant::now();
            for s in 0..sweeps as u64 {
                std::hint::black_box(sw.sample_visible_fused_in_blocks(
                    &h,
                    chains.len(),
                    7,
                    s,
                    block,
                ));
            }
            format!("{block}: {:.3} s", t.elapsed().as_secs_f64())
        })
        .collect();
    println!(
        "fused h → v pass (GEMM + Bernoulli + next v·W; not the default) per update by block size (default {}): {}",
        crbm::sweeps::BLOCK,
        times.join(", ")
    );
}

/// The h → v half of `sweeps` sweeps plus the next v·W, unfused (GEMM, Bernoulli rows,
/// gather) and fused (default block), timed alternately in 7 pairs on the same h so that the
/// VM's swings in speed hit both alike; prints the medians.
fn fused_against_unfused(sw: &SamplerWeights, chains: &crbm::SparseBatch, sweeps: usize) {
    let h = sw.sample_hidden(&sw.hidden_inputs(chains), 7, 0);
    let mut scratch = Vec::new();
    let (mut unfused, mut fused) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let t = Instant::now();
        for s in 0..sweeps as u64 {
            sw.visible_preactivations(&h, &mut scratch);
            let v = sw.sample_visible(&scratch, 7, s);
            std::hint::black_box(sw.hidden_inputs(&v));
        }
        unfused.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for s in 0..sweeps as u64 {
            std::hint::black_box(sw.sample_visible_fused(&h, chains.len(), 7, s));
        }
        fused.push(t.elapsed().as_secs_f64());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (u, f) = (median(&mut unfused), median(&mut fused));
    println!(
        "h → v + next v·W per update, 7 alternating pairs, medians: unfused {u:.3} s, fused {f:.3} s (fused/unfused {:.2})",
        f / u
    );
}

/// The synthetic generator's raster at N neurons (2,000 frames, ~3.5% ones).
fn synthetic_raster(n: usize) -> crbm::SparseBatch {
    let t0 = Instant::now();
    let synth = SyntheticConfig {
        n_neurons: n,
        n_frames: 2000,
        ..Default::default()
    }
    .generate()
    .expect("valid config");
    let data = synth.recording.raster;
    println!(
        "synthetic data N={n} T={} density {:.4} in {:.2} s",
        data.len(),
        data.density(),
        t0.elapsed().as_secs_f64()
    );
    data
}

/// Plain PCD at the bench sizes.
fn bench_config(sz: &Sizes) -> TrainConfig {
    TrainConfig {
        n_hidden: sz.m,
        batch_size: sz.batch,
        n_chains: sz.batch,
        gibbs_steps: sz.sweeps,
        n_updates: sz.updates + 1,
        // A small rate keeps the chains at data-like density (~3.5% ones) during
        // the few timed updates, as in a converged run.
        learning_rate: 1e-5,
        learning_rate_final: 1e-5,
        log_every: 0,
        // Plain PCD: the update PGM and the floor describe (and the tensor engine runs).
        standardize: crbm::train::StandardizeConfig::disabled(),
        ..TrainConfig::default()
    }
}

/// Mean seconds of `updates` PCD updates after one untimed warm-up update.
fn seconds_per_update(trainer: &mut PcdTrainer, updates: usize) -> f64 {
    trainer.step(); // warm-up (allocations, rayon pool)
    let t1 = Instant::now();
    for _ in 0..updates {
        trainer.step();
    }
    t1.elapsed().as_secs_f64() / updates as f64
}

/// Seconds of the unfused h·Wᵀ product through the sampler's own call (best of 10).
fn gemm_seconds(sw: &SamplerWeights, batch: usize) -> f64 {
    let h: Vec<f32> = (0..batch * sw.n_hidden)
        .map(|k| ((k % 17) as f32 - 8.0) * 0.1)
        .collect();
    let mut out = Vec::new();
    sw.visible_preactivations(&h, &mut out);
    (0..10)
        .map(|_| {
            let t2 = Instant::now();
            sw.visible_preactivations(&h, &mut out);
            t2.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Where one update's sweeps spend their time, on a copy of the chains: the four stages of
/// a sweep (v·W gather, dReLU draws, h·Wᵀ GEMM, Bernoulli rows), each summed over `sweeps`.
fn sweep_stages(sw: &SamplerWeights, chains: &crbm::SparseBatch, sweeps: usize) -> [f64; 4] {
    let mut v = chains.clone();
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
    stage
}

/// With `device` (and `wgpu`) among the arguments: seconds per update of the tensor trainer.
fn time_tensor_trainer(trainer: &PcdTrainer, data: &crbm::SparseBatch) {
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
            crbm::tensor_train::DeviceTrainer::from_model(&trainer.model, data, config, &device)
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
