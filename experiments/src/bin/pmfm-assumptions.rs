//! The prototype's two assumptions, measured: how much simulated FC/FCD and costs vary across
//! groups (same θ, same noise) versus across θ and across noise duplicates
//! (`surrogate::assumptions`). Writes `assumptions.parquet` (one row per source and statistic),
//! `assumptions_pairs.parquet`, `assumptions_cells.parquet` and `assumptions.png`, and prints
//! the summary and the verdict.

use anyhow::{bail, Context, Result};
use clap::Parser;
use experiments::dataset::{parse_groups, GroupArgs};
use experiments::device::DeviceArgs;
use experiments::output::{one_line, write_parquet};
use experiments::plots::{scatter, Axes, Series};
use experiments::sim_args::SimArgs;
use experiments::theta_input::parse_theta;
use pmfm_sim::synthetic::TRUE_THETA;
use std::path::PathBuf;
use std::time::Instant;
use surrogate::assumptions::{draw_thetas, measure, AssumptionsConfig, Report, Source};
use surrogate::design::Design;

#[derive(Parser, Debug)]
#[command(
    about = "Measure how much simulated FC/FCD and costs vary across groups, across θ and across noise duplicates"
)]
struct Args {
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    groups: GroupArgs,
    #[command(flatten)]
    sim: SimArgs,
    /// Parameter vectors θ simulated on every group.
    #[arg(long, default_value_t = 8)]
    n_theta: usize,
    /// Noise duplicates per (group, θ).
    #[arg(long, default_value_t = 3)]
    n_dup: usize,
    /// Noise seed, shared by every group (common random numbers).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How θ is drawn: `local` (Gaussian around --centre, the neighbourhood a search visits) or
    /// `uniform` (the whole feasible region of the first group's maps). Only θ feasible on every
    /// group's maps are kept.
    #[arg(long, default_value = "local", value_parser = ["local", "uniform"])]
    design: String,
    /// Centre of the local design (default: the synthetic ground truth θ*).
    #[arg(long, allow_hyphen_values = true)]
    centre: Option<String>,
    /// Per-coefficient sd of the local design, relative to |centre|.
    #[arg(long, default_value_t = 0.1)]
    relative_sd: f64,
    /// Seed of the θ draws.
    #[arg(long, default_value_t = 7)]
    theta_seed: u64,
    /// Output directory.
    #[arg(long, default_value = "out/assumptions")]
    out: PathBuf,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {}", one_line(&e));
        std::process::exit(1);
    }
}

/// Flag-level checks, before any group is loaded or simulated.
fn check(args: &Args) -> Result<Design> {
    if args.n_theta < 2 {
        bail!("--n-theta must be ≥ 2, got {}", args.n_theta);
    }
    if args.n_dup < 2 {
        bail!(
            "--n-dup must be ≥ 2 (the noise floor needs two duplicates), got {}",
            args.n_dup
        );
    }
    let Some(spec) = &args.groups.groups else {
        bail!("--groups is required (e.g. synthetic:0-3 or DIR:train,DIR:vali,DIR:test)");
    };
    let n = parse_groups(spec)?.len();
    if n < 2 {
        bail!("--groups must name at least 2 groups, got {n}");
    }
    if !(args.relative_sd.is_finite() && args.relative_sd >= 0.0) {
        bail!(
            "--relative-sd must be finite and ≥ 0, got {}",
            args.relative_sd
        );
    }
    Ok(match args.design.as_str() {
        "uniform" => Design::Uniform,
        _ => Design::Gaussian {
            centres: vec![match &args.centre {
                Some(c) => parse_theta(c).context("--centre")?,
                None => TRUE_THETA,
            }],
            relative_sd: args.relative_sd,
            absolute_sd: vec![],
            max_tries: 1000,
        },
    })
}

fn run(args: Args) -> Result<()> {
    let design = check(&args)?;
    let device = args.device.device()?;
    let sim = args.sim.config()?;
    let t0 = Instant::now();
    let groups = args
        .groups
        .load(&device, &sim, args.sim.fcd_window)?
        .context("--groups is required")?;
    let t_groups = t0.elapsed().as_secs_f64();
    let thetas = draw_thetas(&groups, &design, args.n_theta, args.theta_seed)?;
    let cfg = AssumptionsConfig {
        sim,
        fcd_window: args.sim.fcd_window,
        n_dup: args.n_dup,
        seed: args.seed,
    };
    eprintln!(
        "simulating {} θ ({} design) × {} duplicates on {} groups, {} + {} steps",
        thetas.len(),
        design.name(),
        args.n_dup,
        groups.len(),
        sim.warmup_steps,
        sim.main_steps()
    );
    let t1 = Instant::now();
    let report = measure(&groups, &thetas, &cfg, &device)?;
    let t_measure = t1.elapsed().as_secs_f64();

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    write_parquet(
        &args.out.join("assumptions.parquet"),
        &mut report.summary_frame()?,
    )?;
    write_parquet(
        &args.out.join("assumptions_pairs.parquet"),
        &mut report.pairs_frame()?,
    )?;
    write_parquet(
        &args.out.join("assumptions_cells.parquet"),
        &mut report.cells_frame()?,
    )?;
    plot(&report, &args.out.join("assumptions.png"))?;

    println!("groups: {}", report.cube.groups.join(", "));
    print!("{}", report.group_cost_table());
    print!("{}", report.text_table());
    println!("{}", report.verdict.text());
    println!(
        "groups loaded in {t_groups:.1} s, measured in {t_measure:.1} s ({} series); wrote {}",
        report.cube.cells.len(),
        args.out.display()
    );
    Ok(())
}

/// Strip plot of the pair distances: θ, noise and groups at x = 1, 2, 3 (groups last, where the
/// legend sits: their distances are the smallest where a θ-only surrogate transfers), FC just
/// left and FCD just right, spread by a deterministic jitter; log y, so identical pairs
/// (distance 0) drop out.
fn plot(report: &Report, path: &std::path::Path) -> Result<()> {
    let jitter = |i: usize| ((i as f64 * 0.618_034) % 1.0 - 0.5) * 0.2;
    let mut fc_pts = Vec::new();
    let mut fcd_pts = Vec::new();
    for (x, source) in [Source::Theta, Source::Noise, Source::Groups]
        .iter()
        .enumerate()
    {
        let (fc, fcd) = report.distances(*source);
        let x = x as f64 + 1.0;
        fc_pts.extend(
            fc.iter()
                .enumerate()
                .map(|(i, &d)| (x - 0.17 + jitter(i), d)),
        );
        fcd_pts.extend(
            fcd.iter()
                .enumerate()
                .map(|(i, &d)| (x + 0.17 + jitter(i), d)),
        );
    }
    scatter(
        path,
        &[
            Series::new("FC distance 1 − r", fc_pts),
            Series::new("FCD KS distance", fcd_pts),
        ],
        &Axes {
            title: "pairwise distances: 1 = across θ, 2 = across noise, 3 = across groups".into(),
            x_label: "source of variation (1 θ, 2 noise duplicates, 3 groups)".into(),
            y_label: "distance".into(),
            log_y: true,
            ..Default::default()
        },
    )
}
