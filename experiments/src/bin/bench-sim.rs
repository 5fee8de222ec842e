//! Benchmark of the pMFM simulator: seconds per simulated parameter set (simulation + FC/FCD/cost)
//! for several batch sizes and devices, measured side by side in one run, next to the floor of
//! the work at this machine's measured rates: the CPU features in use, the FMA peak, the f32
//! GEMM rate of a large square product and of each hot shape (the coupling product at each B,
//! the FCD Gram product), and the vectorised exp/ln rate.

use anyhow::Result;
use clap::Parser;
use crbm::dense::machine;
use experiments::device::select;
use experiments::output::exit_on_error;
use experiments::sim_args::SimArgs;
use pmfm_sim::noise::SeededNoise;
use pmfm_sim::observables::{evaluate, Targets};
use pmfm_sim::params::RegionalParams;
use pmfm_sim::synthetic::{region_positions, synthetic_maps, synthetic_sc, TRUE_THETA};
use pmfm_sim::{Engine, Simulator};
use rand::SeedableRng;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(about = "Seconds per simulated parameter set for several batch sizes and devices")]
struct Args {
    /// Batch sizes B (parameter sets simulated together).
    #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
    batches: Vec<usize>,
    /// Devices to compare (see --help of any binary for names).
    #[arg(long, value_delimiter = ',', default_value = "flex")]
    devices: Vec<String>,
    /// Engines to compare on each device: auto, tensor, fused, kernel (overrides --engine).
    #[arg(long, value_delimiter = ',')]
    engines: Vec<String>,
    /// Noise duplicates per parameter set.
    #[arg(long, default_value_t = 1)]
    n_dup: usize,
    /// Repetitions per cell (the best is reported).
    #[arg(long, default_value_t = 1)]
    reps: usize,
    /// Skip the untimed first pass per device and engine (shader compilation, autotuning).
    #[arg(long)]
    no_warmup: bool,
    #[command(flatten)]
    sim: SimArgs,
}

fn main() {
    exit_on_error(run(Args::parse()));
}

/// The synthetic subject every cell simulates.
struct Subject {
    n: usize,
    sc: Vec<f64>,
    myelin: Vec<f64>,
    gradient: Vec<f64>,
}

impl Subject {
    fn synthetic(n: usize) -> Self {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2021);
        let pos = region_positions(n, &mut rng);
        let sc = synthetic_sc(&pos, &mut rng);
        let (myelin, gradient) = synthetic_maps(&pos, &mut rng);
        Subject {
            n,
            sc: sc.data,
            myelin,
            gradient,
        }
    }
}

fn run(args: Args) -> Result<()> {
    let subject = Subject::synthetic(68);
    let n = subject.n;
    let cfg = args.sim.config()?;
    if args.reps == 0 {
        anyhow::bail!("--reps 0: need at least one repetition per cell");
    }
    let frames = cfg.n_frames();
    let windows = frames + 1 - args.sim.fcd_window;
    println!(
        "pMFM benchmark: {n} regions, {} + {} steps, {frames} frames, FCD window {} ({windows} windows), n_dup {}, {:?}",
        cfg.warmup_steps,
        cfg.main_steps(),
        args.sim.fcd_window,
        args.n_dup,
        cfg.precision
    );
    let floor = Floor::measure(
        n,
        cfg.warmup_steps + cfg.main_steps(),
        windows,
        &args.batches,
    );
    let targets = flat_targets(n, windows);
    let engines: Vec<String> = if args.engines.is_empty() {
        vec![args.sim.engine.clone()]
    } else {
        args.engines.clone()
    };
    println!(
        "{:<12} {:<7} {:>6} {:>12} {:>12} {:>14} {:>12} {:>8}",
        "device", "engine", "B", "simulate s", "cost s", "s per set", "floor", "ratio"
    );
    for (name, engine) in args
        .devices
        .iter()
        .flat_map(|d| engines.iter().map(move |e| (d, e)))
    {
        bench_cell(&args, name, engine, &subject, &targets, &floor)?;
    }
    Ok(())
}

/// Targets with an all-zero FC and a linear FCD CDF: the costs are computed, not meaningful.
fn flat_targets(n: usize, windows: usize) -> Targets {
    Targets::new(&vec![0.0; n * n], n, {
        let mut c = vec![0.0; pmfm_sim::observables::FCD_BINS];
        let total = (windows * (windows - 1) / 2) as f64;
        for (k, x) in c.iter_mut().enumerate() {
            *x = total * (k + 1) as f64 / pmfm_sim::observables::FCD_BINS as f64;
        }
        c
    })
}

/// One table row per batch size of one device and engine (or one "not run" row when the
/// device cannot run the engine).
fn bench_cell(
    args: &Args,
    name: &str,
    engine: &str,
    subject: &Subject,
    targets: &Targets,
    floor: &Floor,
) -> Result<()> {
    let device = select(name)?;
    let mut sim_args = args.sim.clone();
    sim_args.engine = engine.to_string();
    let built = sim_args
        .config()
        .and_then(|c| Ok(Simulator::new(&subject.sc, subject.n, c, &device)?));
    let sim = match built {
        Ok(sim) => sim,
        // An engine the device cannot run (the GPU kernel on the CPU, say) is a row, not
        // the end of the table.
        Err(e) => {
            println!("{name:<12} {engine:<7} {:>6} not run: {e}", "-");
            return Ok(());
        }
    };
    let engine_used = match sim.engine() {
        Engine::Fused => "fused",
        Engine::Kernel => "kernel",
        _ => "tensor",
    };
    let params_of = |b: usize| batch_params(b, &subject.myelin, &subject.gradient);
    if let Some(&b) = args.batches.first().filter(|_| !args.no_warmup) {
        // Untimed pass: shader compilation and autotuning on GPU devices (seconds on the
        // first launch) would otherwise land in the first row.
        let bold = sim.simulate(&params_of(b), args.n_dup, &mut SeededNoise::new(u64::MAX))?;
        let _ = evaluate(&bold, targets, args.sim.fcd_window);
    }
    for &b in &args.batches {
        let params = params_of(b);
        let mut best = (f64::INFINITY, f64::INFINITY);
        for rep in 0..args.reps {
            let t0 = Instant::now();
            let bold = sim.simulate(&params, args.n_dup, &mut SeededNoise::new(rep as u64))?;
            // Force completion before timing (lazy/asynchronous backends).
            let _ = device.sync();
            let t_sim = t0.elapsed().as_secs_f64();
            let t1 = Instant::now();
            let costs = evaluate(&bold, targets, args.sim.fcd_window);
            let t_cost = t1.elapsed().as_secs_f64();
            assert_eq!(costs.len(), b);
            if t_sim + t_cost < best.0 + best.1 {
                best = (t_sim, t_cost);
            }
        }
        let per_set = (best.0 + best.1) / b as f64;
        let floor_b = floor.per_set(b);
        println!(
            "{:<12} {:<7} {:>6} {:>12.2} {:>12.2} {:>14.4} {:>12.4} {:>8.2}",
            name,
            engine_used,
            b,
            best.0,
            best.1,
            per_set,
            floor_b,
            per_set / floor_b
        );
    }
    Ok(())
}

/// The work of one series at this machine's measured rates.
struct Floor {
    coupling_flop: f64,
    fcd_flop: f64,
    transcendental: f64,
    /// f32 GEMM rate of the FCD Gram product (flop/s).
    fcd_rate: f64,
    /// exp/ln evaluations per second.
    exp_rate: f64,
    /// (B, f32 GEMM rate of one step's coupling products [n×n]·[n×B]).
    coupling_rates: Vec<(usize, f64)>,
}

impl Floor {
    /// Measures (and prints) the machine's rates for a series of `steps` steps over `n`
    /// regions with `windows` FCD windows, at each batch size.
    fn measure(n: usize, steps: usize, windows: usize, batches: &[usize]) -> Self {
        let pairs = n * (n - 1) / 2;
        // Floor per series: coupling products 2·N²·steps; FCD correlation as a symmetric
        // product W²·P (half of 2·W²·P); four exp/log evaluations per region and step.
        let coupling_flop = 2.0 * (n * n) as f64 * steps as f64;
        let fcd_flop = (windows * windows) as f64 * pairs as f64;
        let transcendental = 4.0 * n as f64 * steps as f64;
        println!(
            "floor per series: coupling {:.2} GFLOP, FCD {:.2} GFLOP (symmetric), {:.1} M exp/log",
            coupling_flop / 1e9,
            fcd_flop / 1e9,
            transcendental / 1e6
        );
        let baseline = machine::Baseline::measure();
        println!("{baseline}");
        let fcd_rate = machine::gemm_rate(windows, pairs, windows, true);
        println!(
            "f32 GEMM FCD Gram [{windows}×{pairs}]·[{pairs}×{windows}] (all threads): {}",
            baseline.rate(fcd_rate)
        );
        let exp_rate = machine::fastmath::transcendental_rate();
        println!(
            "vectorised exp/ln (all threads): {:.2} G/s ({:.2} ns each per core)",
            exp_rate / 1e9,
            baseline.threads as f64 / exp_rate * 1e9
        );
        let floor = Floor {
            coupling_flop,
            fcd_flop,
            transcendental,
            fcd_rate,
            exp_rate,
            coupling_rates: batches
                .iter()
                .map(|&b| (b, machine::gemm_rate(n, n, b, false)))
                .collect(),
        };
        for &(b, r) in &floor.coupling_rates {
            println!(
                "f32 GEMM coupling [{n}×{n}]·[{n}×{b}] (all threads): {}; floor per set at B = {b}: {:.4} s",
                baseline.rate(r),
                floor.per_set(b)
            );
        }
        if let Some(p) = &baseline.peak {
            println!(
                "at the FMA peak every flop of a series takes {:.4} s, plus {:.4} s of exp/ln",
                (coupling_flop + fcd_flop) / p.peak_flops,
                transcendental / exp_rate
            );
        }
        floor
    }

    /// Seconds per parameter set: the coupling products at their shape's GEMM rate, the FCD at
    /// the Gram product's rate, the exp/ln at the vectorised rate.
    fn per_set(&self, b: usize) -> f64 {
        let rate = self
            .coupling_rates
            .iter()
            .find(|(bb, _)| *bb == b)
            .map_or(f64::NAN, |(_, r)| *r);
        self.coupling_flop / rate
            + self.fcd_flop / self.fcd_rate
            + self.transcendental / self.exp_rate
    }
}

/// B distinct parameter sets around the synthetic truth (G stepped by 0.01).
fn batch_params(b: usize, myelin: &[f64], gradient: &[f64]) -> Vec<RegionalParams> {
    (0..b)
        .map(|j| {
            let mut t = TRUE_THETA;
            t[6] += 0.01 * j as f64;
            RegionalParams::from_theta(&t, myelin, gradient)
        })
        .collect()
}
