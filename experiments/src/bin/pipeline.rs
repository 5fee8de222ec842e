//! The main job on the built-in synthetic default (README's first command), end to end:
//! build the synthetic data set from a hidden θ*, generate a parameter→cost dataset with the
//! Euler simulator, train an MLP surrogate ensemble, fit θ with Euler-CMA-ES, surrogate-CMA-ES
//! and surrogate gradient descent (both validated on the simulator), a short active-learning
//! fit (surrogate-active: the surrogate picks what the simulator runs next) and random search, and
//! print the comparison table (polars, from the run tables) with convergence plots; then a
//! small λ sweep of Gaussian-visible cRBMs on the voxelised synthetic brain
//! (`SweepConfig::quick`: 4 λ × 2 seeds, the study's model and rules) and its report (model
//! selection with explosions, connectivity clusters of the good models, plots, `summary.md`).
//!
//! Unless `--duration` is given it simulates 400 s (40 s burn-in) instead of the reference's
//! 984 s, for both the synthetic "empirical" data and every fit, so the whole job takes a few
//! minutes on two cores.

use std::path::PathBuf;
use std::time::Instant;

use analysis::SweepConfig;
use anyhow::Result;
use burn::tensor::Device;
use clap::Parser;
use experiments::comparison::{build_surrogate, print_outcomes, report, run_methods};
use experiments::output::exit_on_error;
use experiments::sim_args::PmfmArgs;
use experiments::sweep_report::{print_summary, write_report, ConnectivityModels, ReportOptions};
use experiments::sweep_run::run_sweep;
use jobs::shard::Shard;
use pmfm_fit::inputs::SimInputs;
use pmfm_fit::methods::{FitTarget, Method, MethodConfig};

#[derive(Parser, Debug)]
#[command(
    about = "The main job on the synthetic default: pMFM dataset, surrogate, fits, comparison; then a small cRBM λ sweep and its report"
)]
struct Args {
    #[command(flatten)]
    pmfm: PmfmArgs,
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
    /// Rounds of the active-learning fit (surrogate-active: 16 θ simulated per round, from the
    /// same dataset); 0 leaves it out.
    #[arg(long, default_value_t = 4)]
    active_rounds: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory.
    #[arg(long, default_value = "out/pipeline")]
    out: PathBuf,
    /// Skip the cRBM λ sweep (the pMFM part only).
    #[arg(long)]
    no_crbm_sweep: bool,
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
    exit_on_error(run(args));
}

fn run(args: Args) -> Result<()> {
    let t0 = Instant::now();
    let device = args.pmfm.device.device()?;
    fit_part(&args, &device, t0)?;
    if !args.no_crbm_sweep {
        sweep_part(&args, &device, t0)?;
    }
    Ok(())
}

/// The fitting methods' shared settings: the command line's CMA-ES budget, and a short
/// active-learning run from the same dataset (rounds of 16 θ, 2-member ensembles).
fn method_config(args: &Args) -> Result<MethodConfig> {
    let mut cfg = MethodConfig {
        population: args.population,
        parents: (args.population / 4).max(2),
        generations: args.generations,
        random_budget: args.random_budget,
        seed: args.seed,
        ..MethodConfig::default()
    };
    cfg.active.rounds = args.active_rounds;
    cfg.active.batch = 16;
    cfg.active.ensemble = 2;
    cfg.active.train.epochs = 100;
    cfg.check()?;
    Ok(cfg)
}

/// The pMFM part: data, surrogate dataset and ensemble, every method, the comparison table.
fn fit_part(args: &Args, device: &Device, t0: Instant) -> Result<()> {
    let sim = args.pmfm.sim.config()?;
    let cfg = method_config(args)?;
    let (data, evaluator) = args.pmfm.evaluator(device, sim)?;
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
        device,
        &args.out,
    )?;
    let n_valid = samples.valid.iter().filter(|v| **v).count();
    let mut methods = vec![
        Method::EulerCmaes,
        Method::SurrogateCmaes,
        Method::SurrogateGd,
        Method::Random,
    ];
    if args.active_rounds > 0 {
        methods.push(Method::SurrogateActive);
    }
    let inputs = SimInputs::new(&data, sim, args.pmfm.sim.fcd_window);
    let target = FitTarget {
        evaluator: &evaluator,
        inputs: &inputs,
        surrogate: Some(&model),
        table: Some(&samples),
        support: None,
    };
    let outcomes = run_methods(&methods, &target, &cfg, device, &args.out)?;
    let synthetic = args.pmfm.data.data.is_none();
    print_outcomes(&report(&args.out)?, &outcomes, &evaluator, synthetic);
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
        "pMFM part done in {:.1} s; run tables, comparison.parquet, convergence plots and the surrogate in {}",
        t0.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}

/// The cRBM part: the quick λ sweep (resumable: a killed pipeline keeps the finished models)
/// and its report.
fn sweep_part(args: &Args, device: &Device, t0: Instant) -> Result<()> {
    let t1 = Instant::now();
    let dir = args.out.join("crbm-sweep");
    run_sweep(
        &SweepConfig::quick(),
        &dir,
        true,
        Shard::default(),
        None,
        device,
    )?;
    let opts = ReportOptions {
        connectivity: ConnectivityModels::Good,
        ..ReportOptions::default()
    };
    let summary = write_report(&dir, &dir.join("report"), &opts)?;
    println!(
        "cRBM λ sweep (Gaussian units, voxelised synthetic brain, {} models):",
        summary.n_models
    );
    print_summary(&summary);
    println!(
        "cRBM sweep done in {:.1} s; total {:.1} s",
        t1.elapsed().as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
