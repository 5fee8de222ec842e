//! FC, FCD CDF and costs of BOLD produced elsewhere (`.npy`, frames × regions × series, series
//! m = d·B + j) against a data directory or the synthetic default.

use anyhow::{bail, Context, Result};
use burn::tensor::{DType, Tensor, TensorData};
use clap::Parser;
use experiments::output::{exit_on_error, write_csv};
use experiments::sim_args::PmfmArgs;
use pmfm_sim::data::read_npy;
use pmfm_sim::observables::{evaluate, Targets};
use pmfm_sim::Bold;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(about = "Score BOLD series (.npy, frames × regions × series) against empirical FC/FCD")]
struct Args {
    // The schedule sets the FCD window, the precision and (for the synthetic default's
    // "empirical" data) how that data is simulated.
    #[command(flatten)]
    pmfm: PmfmArgs,
    /// BOLD file, float32 or float64, shape [frames, regions, series].
    #[arg(long)]
    bold: PathBuf,
    /// Noise duplicates per parameter set (series = n_dup · B).
    #[arg(long, default_value_t = 3)]
    n_dup: usize,
    /// Where to write the cost table.
    #[arg(long, default_value = "out/cost/costs.csv")]
    out: PathBuf,
}

fn main() {
    exit_on_error(run(Args::parse()));
}

fn run(args: Args) -> Result<()> {
    let device = args.pmfm.device.device()?;
    let (shape, values) = read_npy(&args.bold)?;
    let path = args.bold.display();
    let [frames, regions, series] = shape[..] else {
        bail!("{path}: expected a 3-D array [frames, regions, series], got shape {shape:?}");
    };
    if args.n_dup == 0 || series % args.n_dup != 0 {
        bail!(
            "{path}: {series} series is not a multiple of --n-dup {}",
            args.n_dup
        );
    }
    pmfm_sim::simulator::validate_fcd_window(args.pmfm.sim.fcd_window, frames)
        .with_context(|| format!("{path}: --fcd-window"))?;
    let data = args.pmfm.load_data(&device, &args.pmfm.sim.config()?)?;
    if data.n_regions() != regions {
        bail!(
            "{path}: {regions} regions, but the data ({}) has {}",
            data.name,
            data.n_regions()
        );
    }
    let dtype = if args.pmfm.sim.f64 {
        DType::F64
    } else {
        DType::F32
    };
    let tensor = match dtype {
        DType::F64 => TensorData::new(values, [frames, regions, series]),
        _ => TensorData::new(
            values.into_iter().map(|x| x as f32).collect::<Vec<f32>>(),
            [frames, regions, series],
        ),
    };
    let signal = Tensor::<3>::from_data(tensor, (&device, dtype)).permute([2, 0, 1]);
    let bold = Bold {
        signal,
        n_sets: series / args.n_dup,
        n_dup: args.n_dup,
    };
    let targets = Targets::new(&data.fc.data, regions, data.fcd_cdf.clone());
    let costs = evaluate(&bold, &targets, args.pmfm.sim.fcd_window);
    let rows: Vec<Vec<String>> = costs
        .iter()
        .enumerate()
        .map(|(j, c)| {
            vec![
                j.to_string(),
                format!("{:.6}", c.fc),
                format!("{:.6}", c.ks),
                format!("{:.6}", c.total),
                c.valid_fc_dups.to_string(),
                c.valid_ks_dups.to_string(),
            ]
        })
        .collect();
    write_csv(
        &args.out,
        &[
            "set",
            "fc_cost",
            "ks_cost",
            "total_cost",
            "valid_fc_dups",
            "valid_ks_dups",
        ],
        &rows,
    )
    .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "{:>4} {:>9} {:>9} {:>9}",
        "set", "fc_cost", "ks_cost", "total"
    );
    for (j, c) in costs.iter().enumerate() {
        println!("{j:>4} {:>9.4} {:>9.4} {:>9.4}", c.fc, c.ks, c.total);
    }
    Ok(())
}
