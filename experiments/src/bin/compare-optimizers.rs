//! Runs (or reads back from Parquet) several pMFM fits — Euler-CMA-ES, surrogate-CMA-ES and
//! surrogate gradient descent (both validated on the simulator), random search — and prints one
//! comparison table built with polars from the run tables, plus convergence plots; then the
//! time to quality: up to --ttq-checkpoints best-so-far θ of each search validated with the same
//! noise for every method, the validated cost against wall time and simulations
//! (`time_to_quality.parquet` and plots), and the speedup at equal validated cost against
//! Euler-CMA-ES, with the surrogate's dataset and training time amortised over --groups-served.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Parser;
use experiments::comparison::{
    best_thetas, build_surrogate, print_outcomes, print_speedups, print_table, report, run_methods,
    time_to_quality_report, write_checkpoints, Truth,
};
use experiments::method_args::MethodArgs;
use experiments::output::exit_on_error;
use experiments::sim_args::PmfmArgs;
use experiments::theta_input::read_candidates;
use pmfm_fit::checkpoints::surrogate_build_cost;
use pmfm_fit::inputs::SimInputs;
use pmfm_fit::methods::{FitTarget, Method, MethodConfig};
use pmfm_fit::time_to_quality::BuildCost;
use surrogate::ensemble::Ensemble;
use surrogate::evaluator::Evaluator;

#[derive(Parser, Debug)]
#[command(about = "Compare pMFM fitting methods (simulator vs surrogate) in one table")]
struct Args {
    /// Only rebuild the table and plots from the run tables in OUT/runs/*.parquet.
    #[arg(long)]
    from_runs: bool,
    /// Methods, comma-separated: euler-cmaes, surrogate-cmaes, surrogate-gd, surrogate-active,
    /// surrogate-tuned, random (and reference, added by --reference).
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
    /// Training epochs of each member of the in-process surrogate (default: the surrogate
    /// crate's).
    #[arg(long)]
    epochs: Option<usize>,
    /// Best-so-far checkpoints of each search validated for the time-to-quality curves
    /// (log-spaced in time; the method's own validation is added as its last point).
    #[arg(long, default_value_t = 8)]
    ttq_checkpoints: usize,
    /// Groups one trained surrogate serves: its dataset and training time are divided by this
    /// in the amortised speedup.
    #[arg(long, default_value_t = 1)]
    groups_served: usize,
    #[command(flatten)]
    method_args: MethodArgs,
    #[arg(long, default_value = "out/compare-optimizers")]
    out: PathBuf,
    #[command(flatten)]
    pmfm: PmfmArgs,
}

fn main() {
    exit_on_error(run(Args::parse()));
}

fn run(args: Args) -> Result<()> {
    if args.ttq_checkpoints == 0 || args.groups_served == 0 {
        bail!(
            "--ttq-checkpoints and --groups-served must be at least 1 (got {} and {})",
            args.ttq_checkpoints,
            args.groups_served
        );
    }
    if args.from_runs {
        return rebuild_from_runs(&args);
    }
    let (methods, cfg) = methods_and_config(&args)?;
    let (device, sim) = args.pmfm.device_and_config()?;
    let (data, evaluator) = args.pmfm.evaluator(&device, sim)?;
    let mut start_table = args.method_args.table()?;
    let (surrogate, surrogate_build) = if methods.iter().any(|m| m.needs_surrogate()) {
        let (m, cost) = surrogate_for(&args, &data, &evaluator, &device, &mut start_table)?;
        (Some(m), cost)
    } else {
        (None, BuildCost::default())
    };
    if start_table.is_none() {
        if let Some(m) = methods.iter().find(|m| m.needs_table()) {
            bail!(
                "{} needs --table FILE_OR_DIR (or no --surrogate, so that a dataset is simulated here)",
                m.name()
            );
        }
    }
    let inputs = SimInputs::new(&data, sim, args.pmfm.sim.fcd_window);
    let support = args.method_args.support(surrogate.as_ref())?;
    let target = FitTarget {
        evaluator: &evaluator,
        inputs: &inputs,
        surrogate: surrogate.as_ref(),
        table: start_table.as_ref(),
        support: support.as_ref(),
    };
    let outcomes = run_methods(&methods, &target, &cfg, &device, &args.out)?;
    // surrogate-active trains its own models inside its search clock; its start table is its
    // dataset (each row carries its share of the batch's simulation time).
    let active_dataset_s = start_table
        .as_ref()
        .map_or(0.0, |t| t.wall_s.iter().sum::<f64>());
    let build = |m: Method| match m {
        _ if m.needs_surrogate() => surrogate_build,
        Method::SurrogateActive => BuildCost {
            dataset_s: active_dataset_s,
            training_s: 0.0,
        },
        _ => BuildCost::default(),
    };
    write_checkpoints(
        &outcomes,
        &evaluator,
        &cfg,
        args.ttq_checkpoints,
        &build,
        &args.out,
    )?;
    let synthetic = args.pmfm.data.data.is_none();
    print_outcomes(&report(&args.out)?, &outcomes, &evaluator, synthetic);
    if let Some(s) = time_to_quality_report(&args.out, args.groups_served)? {
        print_speedups(&s, args.groups_served);
    }
    println!(
        "run tables, comparison.parquet, time_to_quality.parquet and their plots in {}",
        args.out.display()
    );
    Ok(())
}

/// `--from-runs`: the comparison and time-to-quality tables and plots from OUT's saved tables.
fn rebuild_from_runs(args: &Args) -> Result<()> {
    let t = report(&args.out)?;
    if args.pmfm.data.data.is_some() {
        print_table(&t, None);
    } else {
        // Synthetic runs: θ recovery too, against the ground truth and the default's maps.
        let (device, sim) = args.pmfm.device_and_config()?;
        let data = args.pmfm.load_data(&device, &sim)?;
        let found = best_thetas(&args.out)?;
        let truth = Truth::synthetic(&data.myelin, &data.gradient);
        print_table(&t, Some((found.as_slice(), &truth)));
    }
    if let Some(s) = time_to_quality_report(&args.out, args.groups_served)? {
        print_speedups(&s, args.groups_served);
    }
    Ok(())
}

/// The methods named by `--methods` (plus `reference` with `--reference`) and their settings.
fn methods_and_config(args: &Args) -> Result<(Vec<Method>, MethodConfig)> {
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
    Ok((methods, cfg))
}

/// The surrogate the surrogate methods query: `--surrogate`'s, or one trained here on a fresh
/// dataset (which then also becomes the start table unless `--table` gave one); with what its
/// dataset and training cost.
fn surrogate_for(
    args: &Args,
    data: &pmfm_sim::data::EmpiricalData,
    evaluator: &Evaluator,
    device: &burn::tensor::Device,
    start_table: &mut Option<surrogate::Samples>,
) -> Result<(Ensemble, BuildCost)> {
    if let Some(dir) = &args.surrogate {
        let (m, group) = Ensemble::load(dir, device)?.for_group(data)?;
        if let Some(g) = group {
            println!("{}: {g}", dir.display());
        }
        let (cost, notes) = surrogate_build_cost(&m);
        for n in notes {
            eprintln!("{}: {n}", dir.display());
        }
        return Ok((m, cost));
    }
    let (m, s, gen_s, train_s) = build_surrogate(
        evaluator,
        args.dataset_size,
        64,
        args.ensemble,
        args.epochs,
        args.method_args.seed,
        device,
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
    Ok((
        m,
        BuildCost {
            dataset_s: gen_s,
            training_s: train_s,
        },
    ))
}
