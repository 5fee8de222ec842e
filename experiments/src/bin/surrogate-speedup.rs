//! Times, in one run and on the same θ, the real simulator (simulate + FC/FCD cost, per parameter
//! set, at its best batch size) and trained surrogates (per parameter set, at their best batch
//! size), and prints the per-evaluation speedup.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use experiments::output::exit_on_error;
use experiments::sim_args::PmfmArgs;
use pmfm_sim::params::{Bounds, Theta};
use surrogate::design::{Design, DesignSpace};
use surrogate::ensemble::Ensemble;

#[derive(Parser, Debug)]
#[command(about = "Per-evaluation speedup of pMFM surrogates over the Euler simulator")]
struct Args {
    /// Saved surrogates (directories written by train-surrogate), repeatable.
    #[arg(long = "model", required = true)]
    models: Vec<PathBuf>,
    /// Simulator batch sizes to try (parameter sets simulated together).
    #[arg(long, default_value = "16,64", value_delimiter = ',')]
    sim_batches: Vec<usize>,
    /// Surrogate batch sizes to try.
    #[arg(long, default_value = "256,4096,32768", value_delimiter = ',')]
    surrogate_batches: Vec<usize>,
    /// Noise duplicates per simulated parameter set (the cost of one evaluation).
    #[arg(long, default_value_t = 1)]
    n_dup: usize,
    /// Repetitions of each surrogate timing (the best is kept).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    pmfm: PmfmArgs,
}

/// Largest batch size timed (θ are drawn up front for the largest one).
const MAX_BATCH: usize = 1 << 22;

fn main() {
    exit_on_error(run(Args::parse()));
}

fn run(args: Args) -> Result<()> {
    if args.sim_batches.is_empty() || args.surrogate_batches.is_empty() {
        bail!("give at least one batch size for the simulator and for the surrogate");
    }
    let mut batches = args.sim_batches.iter().chain(&args.surrogate_batches);
    if let Some(b) = batches.find(|&&b| b == 0 || b > MAX_BATCH) {
        bail!("--sim-batches/--surrogate-batches: batch size {b} is outside 1..={MAX_BATCH}");
    }
    if args.n_dup == 0 || args.repeats == 0 {
        bail!("--n-dup and --repeats must be at least 1");
    }
    let (device, sim) = args.pmfm.device_and_config()?;
    // Every model loads before the (slow) simulator timings, so a bad path fails at once.
    let models = args
        .models
        .iter()
        .map(|d| Ensemble::load(d, &device).with_context(|| format!("loading {}", d.display())))
        .collect::<Result<Vec<_>>>()?;
    let (data, evaluator) = args.pmfm.evaluator(&device, sim)?;
    let space = DesignSpace::new(&data.myelin, &data.gradient, Bounds::default())?;
    let max_b = *args
        .surrogate_batches
        .iter()
        .chain(&args.sim_batches)
        .max()
        .unwrap_or(&1);
    let thetas: Vec<Theta> = (0..max_b as u64)
        .map(|k| space.draw(&Design::Lhs { block: max_b }, args.seed, k))
        .collect();

    println!(
        "Euler simulator ({} s simulated, n_dup {}), device {}:",
        sim.duration, args.n_dup, args.pmfm.device.device
    );
    println!("{:>8} {:>12} {:>14}", "batch", "wall s", "s per θ");
    let mut best_sim = f64::INFINITY;
    for &b in &args.sim_batches {
        let t0 = Instant::now();
        let scored = evaluator.score(&thetas[..b], args.n_dup, args.seed)?;
        let wall = t0.elapsed().as_secs_f64();
        let per = wall / b as f64;
        best_sim = best_sim.min(per);
        println!(
            "{b:>8} {wall:>12.3} {per:>14.6}  ({} valid)",
            scored.iter().filter(|s| s.is_valid()).count()
        );
    }

    println!("\nSurrogates:");
    println!(
        "{:>10} {:>8} {:>14} {:>14} {:>12}",
        "model", "batch", "s per batch", "s per θ", "speedup"
    );
    let mut summary = Vec::new();
    for (dir, model) in args.models.iter().zip(&models) {
        let name = dir
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("model")
            .to_string();
        // Warm-up (allocations, kernel compilation on GPUs).
        model.predict(&thetas[..args.surrogate_batches[0].min(thetas.len())])?;
        let mut best = f64::INFINITY;
        for &b in &args.surrogate_batches {
            let xs = &thetas[..b.min(thetas.len())];
            let mut wall = f64::INFINITY;
            for _ in 0..args.repeats {
                let t0 = Instant::now();
                let p = model.predict(xs)?;
                std::hint::black_box(&p);
                wall = wall.min(t0.elapsed().as_secs_f64());
            }
            let per = wall / xs.len() as f64;
            best = best.min(per);
            println!(
                "{name:>10} {:>8} {wall:>14.6} {per:>14.3e} {:>11.0}×",
                xs.len(),
                best_sim / per
            );
        }
        summary.push((name, best));
    }
    println!("\nPer-evaluation speedup at the best batch size of each (simulator {best_sim:.4} s per θ):");
    for (name, per) in summary {
        println!(
            "  {name:<10} {per:.3e} s per θ → {:.0}× faster than the Euler simulator",
            best_sim / per
        );
    }
    Ok(())
}
