//! One pMFM fit with a chosen method and objective on a data directory or the synthetic default;
//! writes its run table (Parquet) and prints the best validated parameter set.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Parser;
use experiments::method_args::MethodArgs;
use experiments::output::exit_on_error;
use experiments::sim_args::PmfmArgs;
use pmfm_fit::inputs::SimInputs;
use pmfm_fit::methods::{run_method, FitTarget, Method};
use pmfm_sim::params::THETA_NAMES;
use surrogate::ensemble::Ensemble;

#[derive(Parser, Debug)]
#[command(about = "Fit the pMFM's 10 parameters with one method (simulator or surrogate)")]
struct Args {
    /// euler-cmaes, surrogate-cmaes, surrogate-gd, surrogate-active (with --table),
    /// surrogate-tuned (the active loop from --surrogate, fine-tuned each round) or random.
    #[arg(long, default_value = "euler-cmaes")]
    method: String,
    /// Trained surrogate directory (for the surrogate methods).
    #[arg(long)]
    surrogate: Option<PathBuf>,
    #[command(flatten)]
    method_args: MethodArgs,
    #[arg(long, default_value = "out/fit")]
    out: PathBuf,
    #[command(flatten)]
    pmfm: PmfmArgs,
}

fn main() {
    exit_on_error(run(Args::parse()));
}

fn run(args: Args) -> Result<()> {
    let method = Method::parse(&args.method)?;
    if method.needs_surrogate() && args.surrogate.is_none() {
        bail!(
            "--method {} needs --surrogate DIR (train one with train-surrogate)",
            method.name()
        );
    }
    let table = args.method_args.table()?;
    if method.needs_table() && table.is_none() {
        bail!(
            "--method {} needs --table FILE_OR_DIR (a parameter→cost table from pmfm-dataset)",
            method.name()
        );
    }
    let (device, sim) = args.pmfm.device_and_config()?;
    let (data, evaluator) = args.pmfm.evaluator(&device, sim)?;
    let surrogate = match &args.surrogate {
        Some(dir) => {
            let (m, group) = Ensemble::load(dir, &device)?.for_group(&data)?;
            if let Some(g) = group {
                println!("{}: {g}", dir.display());
            }
            Some(m)
        }
        None => None,
    };
    let cfg = args.method_args.config()?;
    let path = args.out.join(format!("{}.parquet", method.name()));
    let inputs = SimInputs::new(&data, sim, args.pmfm.sim.fcd_window);
    let support = args.method_args.support(surrogate.as_ref())?;
    let target = FitTarget {
        evaluator: &evaluator,
        inputs: &inputs,
        surrogate: surrogate.as_ref(),
        table: table.as_ref(),
        support: support.as_ref(),
    };
    let o = run_method(method, &target, &cfg, method.name(), &device, Some(&path))?;
    println!(
        "{}: best validated total cost {:.4} (search cost {:.4}); search {:.1} s, validation {:.1} s, {} + {} Euler simulations",
        method.name(),
        o.best_cost,
        o.best_search_cost,
        o.search_s,
        o.validate_s,
        o.search_simulations,
        o.validate_simulations
    );
    match o.best_theta {
        Some(theta) => {
            for (name, v) in THETA_NAMES.iter().zip(theta) {
                println!("  {name:<9} {v:.6e}");
            }
        }
        None => println!("  no valid candidate: every validated θ had an invalid cost"),
    }
    println!("run table: {}", path.display());
    Ok(())
}
