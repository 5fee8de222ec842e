//! Runs (or reads back from Parquet) several pMFM fits — Euler-CMA-ES, surrogate-CMA-ES and
//! surrogate gradient descent (both validated on the simulator), random search — and prints one
//! comparison table built with polars from the run tables, plus convergence plots.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Parser;
use experiments::comparison::{
    best_thetas, build_surrogate, outcome_thetas, print_table, report, run_methods, Truth,
};
use experiments::dataset::DataArgs;
use experiments::device::DeviceArgs;
use experiments::method_args::MethodArgs;
use experiments::sim_args::SimArgs;
use experiments::theta_input::read_candidates;
use pmfm_fit::inputs::SimInputs;
use pmfm_fit::methods::{FitTarget, Method};
use surrogate::ensemble::Ensemble;
use surrogate::evaluator::Evaluator;

#[derive(Parser, Debug)]
#[command(about = "Compare pMFM fitting methods (simulator vs surrogate) in one table")]
struct Args {
    /// Only rebuild the table and plots from the run tables in OUT/runs/*.parquet.
    #[arg(long)]
    from_runs: bool,
    /// Methods, comma-separated: euler-cmaes, surrogate-cmaes, surrogate-gd, surrogate-active,
    /// random (and reference, added by --reference).
    #[arg(
        long,
        default_value = "euler-cmaes,surrogate-cmaes,surrogate-gd,random"
    )]
    methods: String,
    /// A trained surrogate (directory from train-surrogate); without it one is trained here on a
    /// fresh dataset of --dataset-size θ.
    #[arg(long)]
    surrogate: Option<PathBuf>,
    #[arg(long, default_value_t = 1024)]
    dataset_size: usize,
    /// Candidates to validate beside the fits (the `reference` row), e.g.
    /// `kong2021_example_expected_output.csv` with --reference-by-column: θ, and the reported
    /// total cost as the 13th value when present.
    #[arg(long)]
    reference: Option<PathBuf>,
    #[arg(long)]
    reference_by_column: bool,
    #[arg(long, default_value_t = 3)]
    ensemble: usize,
    #[command(flatten)]
    method_args: MethodArgs,
    #[arg(long, default_value = "out/compare-optimizers")]
    out: PathBuf,
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    sim: SimArgs,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    if args.from_runs {
        let t = report(&args.out)?;
        if args.data.data.is_some() {
            print_table(&t, None);
        } else {
            // Synthetic runs: θ recovery too, against the ground truth and the default's maps.
            let device = args.device.device()?;
            let sim = args.sim.config()?;
            let data = args.data.load(&device, &sim, args.sim.fcd_window)?;
            let found = best_thetas(&args.out)?;
            let truth = Truth::synthetic(&data.myelin, &data.gradient);
            print_table(&t, Some((found.as_slice(), &truth)));
        }
        return Ok(());
    }
    let mut methods: Vec<Method> = args
        .methods
        .split(',')
        .map(Method::parse)
        .collect::<Result<_, _>>()?;
    let mut cfg = args.method_args.config()?;
    if let Some(path) = &args.reference {
        cfg.candidates = read_candidates(path, args.reference_by_column)?
            .into_iter()
            .map(|(t, c)| (t.to_vec(), c))
            .collect();
        if !methods.contains(&Method::Reference) {
            methods.push(Method::Reference);
        }
    } else if methods.contains(&Method::Reference) {
        bail!("the reference method needs --reference FILE");
    }
    if methods.is_empty() {
        bail!("--methods names no method");
    }
    let device = args.device.device()?;
    let sim = args.sim.config()?;
    let data = args.data.load(&device, &sim, args.sim.fcd_window)?;
    let evaluator = Evaluator::new(&data, sim, args.sim.fcd_window, &device)?;
    let mut start_table = args.method_args.table()?;
    let surrogate = if methods.iter().any(|m| m.needs_surrogate()) {
        Some(match &args.surrogate {
            Some(dir) => Ensemble::load(dir, &device)?,
            None => {
                let (m, s, gen_s, train_s) = build_surrogate(
                    &evaluator,
                    args.dataset_size,
                    64,
                    args.ensemble,
                    None,
                    args.method_args.seed,
                    &device,
                    &args.out,
                )?;
                println!(
                    "surrogate: dataset of {} θ ({} valid) simulated in {gen_s:.1} s, {}-member MLP ensemble trained in {train_s:.1} s",
                    s.len(),
                    s.valid.iter().filter(|v| **v).count(),
                    args.ensemble
                );
                // surrogate-active starts from the same data unless --table says otherwise.
                start_table.get_or_insert(s);
                m
            }
        })
    } else {
        None
    };
    if start_table.is_none() {
        if let Some(m) = methods.iter().find(|m| m.needs_table()) {
            bail!(
                "{} needs --table FILE_OR_DIR (or no --surrogate, so that a dataset is simulated here)",
                m.name()
            );
        }
    }
    let inputs = SimInputs::new(&data, sim, args.sim.fcd_window);
    let target = FitTarget {
        evaluator: &evaluator,
        inputs: &inputs,
        surrogate: surrogate.as_ref(),
        table: start_table.as_ref(),
    };
    let outcomes = run_methods(&methods, &target, &cfg, &device, &args.out)?;
    let table = report(&args.out)?;
    let truth = args
        .data
        .data
        .is_none()
        .then(|| Truth::synthetic(evaluator.myelin(), evaluator.gradient()));
    let found = outcome_thetas(&outcomes);
    print_table(&table, truth.as_ref().map(|t| (found.as_slice(), t)));
    println!(
        "run tables, comparison.parquet and convergence plots in {}",
        args.out.display()
    );
    Ok(())
}
