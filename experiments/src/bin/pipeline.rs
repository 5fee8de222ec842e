//! The main job on the built-in synthetic default (README's first command), end to end:
//! build the synthetic data set from a hidden θ*, generate a parameter→cost dataset with the
//! Euler simulator, train an MLP surrogate ensemble, fit θ with Euler-CMA-ES, surrogate-CMA-ES
//! and surrogate gradient descent (both validated on the simulator) and random search, and
//! print the comparison table (polars, from the run tables) with convergence plots.
//!
//! Unless `--duration` is given it simulates 400 s (40 s burn-in) instead of the reference's
//! 984 s, for both the synthetic "empirical" data and every fit, so the whole job takes a few
//! minutes on two cores.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use experiments::comparison::{build_surrogate, print_table, report, run_methods};
use experiments::dataset::DataArgs;
use experiments::device::DeviceArgs;
use experiments::sim_args::SimArgs;
use optimize::methods::{Method, MethodConfig};
use surrogate::evaluator::Evaluator;

#[derive(Parser, Debug)]
#[command(
    about = "End-to-end pMFM pipeline on the synthetic default: dataset, surrogate, fits, comparison"
)]
struct Args {
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    sim: SimArgs,
    /// Parameter sets simulated for the surrogate's training data.
    #[arg(long, default_value_t = 1024)]
    dataset_size: usize,
    /// Surrogate ensemble members.
    #[arg(long, default_value_t = 3)]
    ensemble: usize,
    /// Training epochs of each member (default: the surrogate crate's).
    #[arg(long)]
    epochs: Option<usize>,
    /// CMA-ES population and generations (both CMA-ES runs).
    #[arg(long, default_value_t = 32)]
    population: usize,
    #[arg(long, default_value_t = 25)]
    generations: usize,
    /// Random-search budget (Euler simulations).
    #[arg(long, default_value_t = 256)]
    random_budget: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory.
    #[arg(long, default_value = "out/pipeline")]
    out: PathBuf,
}

/// The pipeline's shorter default schedule, applied unless the command line sets one.
fn with_quick_schedule(args: Vec<String>) -> Vec<String> {
    let mut args = args;
    if !args
        .iter()
        .any(|a| a == "--duration" || a.starts_with("--duration="))
    {
        args.extend(["--duration", "400"].map(String::from));
        if !args
            .iter()
            .any(|a| a == "--burn-in" || a.starts_with("--burn-in="))
        {
            args.extend(["--burn-in", "40"].map(String::from));
        }
    }
    args
}

fn main() {
    let args = Args::parse_from(with_quick_schedule(std::env::args().collect()));
    if let Err(e) = run(args) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    let t0 = Instant::now();
    let device = args.device.device()?;
    let sim = args.sim.config();
    let data = args.data.load(&device, &sim, args.sim.fcd_window)?;
    let evaluator = Evaluator::new(&data, sim, args.sim.fcd_window, &device)?;
    eprintln!(
        "data {} ready in {:.1} s ({} s simulated per parameter set)",
        data.name,
        t0.elapsed().as_secs_f64(),
        sim.duration
    );
    let (model, samples, gen_s, train_s) = build_surrogate(
        &evaluator,
        args.dataset_size,
        64,
        args.ensemble,
        args.epochs,
        args.seed,
        &device,
        &args.out,
    )?;
    let n_valid = samples.valid.iter().filter(|v| **v).count();
    let cfg = MethodConfig {
        population: args.population,
        parents: (args.population / 4).max(2),
        generations: args.generations,
        random_budget: args.random_budget,
        seed: args.seed,
        ..MethodConfig::default()
    };
    let methods = [
        Method::EulerCmaes,
        Method::SurrogateCmaes,
        Method::SurrogateGd,
        Method::Random,
    ];
    let outcomes = run_methods(&methods, &evaluator, Some(&model), &cfg, &device, &args.out)?;
    let table = report(&args.out)?;
    let truth = args
        .data
        .data
        .is_none()
        .then_some(pmfm_sim::synthetic::TRUE_THETA);
    print_table(&table, truth.as_ref().map(|t| (outcomes.as_slice(), t)));
    let euler = outcomes.iter().find(|o| o.method == Method::EulerCmaes);
    let surr = outcomes.iter().find(|o| o.method == Method::SurrogateCmaes);
    if let (Some(e), Some(s)) = (euler, surr) {
        println!(
            "surrogate dataset: {} θ ({n_valid} valid) simulated in {gen_s:.1} s, ensemble trained in {train_s:.1} s; \
             surrogate-CMA-ES search {:.2} s vs Euler-CMA-ES {:.1} s ({:.0}× faster search; {:.1}× including dataset and training once)",
            samples.len(),
            s.search_s,
            e.search_s,
            e.search_s / s.search_s.max(1e-9),
            e.search_s / (s.search_s + gen_s + train_s)
        );
    }
    println!(
        "done in {:.1} s; run tables, comparison.parquet, convergence plots and the surrogate in {}",
        t0.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}
