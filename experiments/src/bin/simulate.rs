//! Simulate the pMFM for one or more θ on a data directory or the synthetic default; write
//! BOLD (.npy, frames × regions × series, series m = d·B + j), FC (CSV) and costs (CSV).

use anyhow::{bail, Context, Result};
use clap::Parser;
use experiments::output::{exit_on_error, write_csv};
use experiments::sim_args::PmfmArgs;
use experiments::theta_input::{parse_theta, read_theta_csv};
use pmfm_sim::data::write_npy_f64;
use pmfm_sim::noise::{FileNoise, NoiseSource, SeededNoise};
use pmfm_sim::observables::{evaluate, fc_host, upper_triangle, Cost, Targets};
use pmfm_sim::params::{Bounds, RegionalParams, Theta, THETA_NAMES};
use pmfm_sim::synthetic::TRUE_THETA;
use pmfm_sim::{Bold, Simulator};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    about = "Simulate the pMFM for parameter vectors θ and score them against empirical FC/FCD"
)]
struct Args {
    #[command(flatten)]
    pmfm: PmfmArgs,
    /// A parameter vector "w0,w_myelin,w_grad,I0,I_myelin,I_grad,G,s0,s_myelin,s_grad" (repeatable).
    #[arg(long, allow_hyphen_values = true)]
    theta: Vec<String>,
    /// CSV file of parameter vectors, one per row (or per column with --theta-by-column).
    #[arg(long)]
    theta_file: Option<PathBuf>,
    /// The θ file stores one vector per column (as kong2021_example_expected_output.csv).
    #[arg(long)]
    theta_by_column: bool,
    /// Noise duplicates per parameter set.
    #[arg(long, default_value_t = 3)]
    n_dup: usize,
    /// Noise seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Standard-normal noise from a .npy file, shape [warm-up + steps, n_dup, regions], float64.
    #[arg(long)]
    noise: Option<PathBuf>,
    /// Output directory.
    #[arg(long, default_value = "out/simulate")]
    out: PathBuf,
}

fn main() {
    exit_on_error(run(Args::parse()));
}

fn run(args: Args) -> Result<()> {
    let device = args.pmfm.device.device()?;
    let thetas = thetas_of(&args)?;
    let cfg = args.pmfm.sim.config()?;
    let data = args.pmfm.load_data(&device, &cfg)?;
    let n = data.n_regions();
    let sim = Simulator::new(&data.sc.data, n, cfg, &device)?;
    let bounds = Bounds::default();
    let params: Vec<RegionalParams> = thetas
        .iter()
        .map(|t| RegionalParams::from_theta(t, &data.myelin, &data.gradient))
        .collect();
    for (j, p) in params.iter().enumerate() {
        if let Some(inf) = p.infeasibility(&bounds) {
            eprintln!(
                "warning: θ #{j} is infeasible ({} = {} in region {:?}); simulating anyway",
                inf.quantity, inf.value, inf.region
            );
        }
    }
    let mut noise: Box<dyn NoiseSource> = match &args.noise {
        Some(p) => Box::new(FileNoise::open(p, sim.total_steps(), args.n_dup, n)?),
        None => Box::new(SeededNoise::new(args.seed)),
    };
    eprintln!(
        "simulating {} parameter set(s) × {} duplicate(s), {} regions, {} + {} steps on {:?}",
        params.len(),
        args.n_dup,
        n,
        cfg.warmup_steps,
        cfg.main_steps(),
        device
    );
    let t0 = Instant::now();
    let bold = sim.simulate(&params, args.n_dup, noise.as_mut())?;
    let t_sim = t0.elapsed().as_secs_f64();
    let targets = Targets::new(&data.fc.data, n, data.fcd_cdf.clone());
    let t1 = Instant::now();
    let costs = evaluate(&bold, &targets, args.pmfm.sim.fcd_window);
    let t_cost = t1.elapsed().as_secs_f64();

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    write_bold(&args.out.join("bold.npy"), &bold, n)?;
    write_fc(&args.out.join("fc.csv"), &bold, params.len(), n)?;
    let feasible: Vec<bool> = params.iter().map(|p| p.is_feasible(&bounds)).collect();
    write_costs(&args, &thetas, &feasible, &costs)?;
    print_costs(&costs, args.n_dup);
    println!(
        "data: {}; simulate {:.2} s, FC/FCD/cost {:.2} s; wrote {}",
        data.name,
        t_sim,
        t_cost,
        args.out.display()
    );
    Ok(())
}

/// The θ of --theta and --theta-file; the synthetic truth when none is given and no data
/// directory is.
fn thetas_of(args: &Args) -> Result<Vec<Theta>> {
    let mut thetas = Vec::new();
    for t in &args.theta {
        thetas.push(parse_theta(t)?);
    }
    if let Some(f) = &args.theta_file {
        thetas.extend(read_theta_csv(f, args.theta_by_column)?);
    }
    if thetas.is_empty() {
        if args.pmfm.data.data.is_some() {
            bail!("give parameter vectors with --theta or --theta-file");
        }
        eprintln!("no θ given: simulating the synthetic default's ground truth");
        thetas.push(TRUE_THETA);
    }
    Ok(thetas)
}

/// BOLD as .npy: [series, frames, regions] → [frames, regions, series].
fn write_bold(path: &Path, bold: &Bold, n: usize) -> Result<()> {
    let [series, frames, _] = bold.signal.dims();
    let bold_host = bold
        .signal
        .clone()
        .permute([1, 2, 0])
        .into_data()
        .try_into_vec_as::<f64>()
        .map_err(|e| anyhow::anyhow!("reading BOLD back: {e:?}"))?;
    write_npy_f64(path, &[frames, n, series], &bold_host)?;
    Ok(())
}

/// Each series' FC upper triangle, one row per region pair (series m = dup · sets + set).
fn write_fc(path: &Path, bold: &Bold, n_sets: usize, n: usize) -> Result<()> {
    let fcs = fc_host(bold.signal.clone());
    let mut fc_rows = Vec::new();
    for (m, f) in fcs.iter().enumerate() {
        let (d, j) = (m / n_sets, m % n_sets);
        let upper = upper_triangle(f, n);
        let mut k = 0;
        for i in 0..n {
            for jj in i + 1..n {
                fc_rows.push(vec![
                    m.to_string(),
                    j.to_string(),
                    d.to_string(),
                    i.to_string(),
                    jj.to_string(),
                    format!("{}", upper[k]),
                ]);
                k += 1;
            }
        }
    }
    write_csv(path, &["series", "set", "dup", "i", "j", "fc"], &fc_rows)
}

/// One row per parameter set: θ, feasibility, costs and valid duplicates (`costs.csv`).
fn write_costs(args: &Args, thetas: &[Theta], feasible: &[bool], costs: &[Cost]) -> Result<()> {
    let mut header: Vec<&str> = vec!["set"];
    header.extend(THETA_NAMES);
    header.extend([
        "feasible",
        "fc_cost",
        "ks_cost",
        "total_cost",
        "valid_fc_dups",
        "valid_ks_dups",
        "n_dup",
        "seed",
    ]);
    let rows: Vec<Vec<String>> = costs
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let mut r = vec![j.to_string()];
            r.extend(thetas[j].iter().map(|x| format!("{x:e}")));
            r.extend([
                feasible[j].to_string(),
                format!("{:.6}", c.fc),
                format!("{:.6}", c.ks),
                format!("{:.6}", c.total),
                c.valid_fc_dups.to_string(),
                c.valid_ks_dups.to_string(),
                args.n_dup.to_string(),
                args.seed.to_string(),
            ]);
            r
        })
        .collect();
    write_csv(&args.out.join("costs.csv"), &header, &rows)
}

fn print_costs(costs: &[Cost], n_dup: usize) {
    println!(
        "{:>4} {:>9} {:>9} {:>9} {:>6}",
        "set", "fc_cost", "ks_cost", "total", "valid"
    );
    for (j, c) in costs.iter().enumerate() {
        println!(
            "{j:>4} {:>9.4} {:>9.4} {:>9.4} {:>3}/{}",
            c.fc,
            c.ks,
            c.total,
            c.valid_fc_dups.min(c.valid_ks_dups),
            n_dup
        );
    }
}
