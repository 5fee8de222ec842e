//! The report of a λ sweep, from its Parquet table and saved files alone: fractions of bad and
//! exploded models per λ, the best λ, ranked good models, coupling-matrix comparison (nRMSE,
//! PCA, K-means), plots (PNG and SVG) and a Markdown summary.

use std::path::PathBuf;

use analysis::selection::SelectionConfig;
use anyhow::Result;
use clap::Parser;
use experiments::output::exit_on_error;
use experiments::sweep_report::{print_summary, write_report, ConnectivityModels, ReportOptions};

#[derive(Parser, Debug)]
#[command(about = "Analyse a λ sweep: model selection, connectivity comparison, plots, summary")]
struct Args {
    /// Sweep directory (from lambda-sweep).
    sweep: PathBuf,
    /// Report folder [default: SWEEP/report].
    #[arg(long)]
    out: Option<PathBuf>,
    /// A model is bad when any nRMSE exceeds this.
    #[arg(long, default_value_t = 1.0)]
    bad_above: f64,
    /// A model is good when the norm of its four chosen nRMSEs is at most this.
    #[arg(long, default_value_t = 0.55)]
    good_threshold: f64,
    /// Models whose coupling matrices are compared (PCA, K-means).
    #[arg(long, value_enum, default_value_t = ConnectivityModels::NotBad)]
    connectivity_models: ConnectivityModels,
    /// K-means clusters of the coupling matrices.
    #[arg(long, default_value_t = 2)]
    clusters: usize,
    /// Leading principal components used for clustering.
    #[arg(long, default_value_t = 3)]
    components: usize,
    /// Model index for identity plots and the coupling heatmap [default: best good model].
    #[arg(long)]
    model: Option<u64>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() {
    exit_on_error(run(Args::parse()));
}

fn run(args: Args) -> Result<()> {
    let dir = args.sweep;
    if !dir.is_dir() {
        anyhow::bail!("{}: not a sweep directory", dir.display());
    }
    let out = args.out.unwrap_or_else(|| dir.join("report"));
    let opts = ReportOptions {
        selection: SelectionConfig {
            bad_above: args.bad_above,
            good_threshold: args.good_threshold,
            ..SelectionConfig::default()
        },
        connectivity: args.connectivity_models,
        clusters: args.clusters,
        components: args.components,
        model: args.model,
        seed: args.seed,
    };
    let summary = write_report(&dir, &out, &opts)?;
    print_summary(&summary);
    Ok(())
}
