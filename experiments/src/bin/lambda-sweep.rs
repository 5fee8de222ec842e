//! Trains and evaluates one cRBM per (λ, seed) of a sweep config, writing each finished model's
//! row as its own Parquet part (atomically) and, when all are present, the merged
//! `sweep.parquet`. `--resume` skips finished models; `--shard i/n` (or a Slurm array task)
//! runs every n-th model, so shards can run anywhere and be merged with `merge`. A directory
//! keeps the config it was started with (`sweep.json`): another config is refused, naming the
//! first differing key, unless `--fresh` starts a directory with no finished model over.

use std::path::{Path, PathBuf};

use analysis::sweep::{load_dir_config, start_fresh};
use analysis::table::merge;
use analysis::SweepConfig;
use anyhow::{anyhow, bail, Result};
use clap::{Parser, Subcommand, ValueEnum};
use experiments::device::DeviceArgs;
use experiments::output::exit_on_error;
use experiments::sweep_run::run_sweep;
use jobs::shard::Shard;
use jobs::slurm::{self, SlurmArgs};

#[derive(Parser, Debug)]
#[command(
    about = "Train a λ sweep of cRBMs (resumable, shardable) and write one row per model (Parquet)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Preset {
    /// 12 λ (0.005–0.1 and 0.5–5, log) × 3 seeds on the synthetic default (N = 1000, ~6 min).
    Default,
    /// The main job's sweep: the study's Gaussian model on a small voxelised synthetic brain,
    /// 4 λ × 2 seeds (about 1.5 min on 2 cores).
    Quick,
    /// The λ-sweep study: Gaussian visible units on the voxelised synthetic brain, 13 λ in
    /// [0.005, 0.1] and [0.5, 5] × 5 seeds, evaluation from the prior, clipped nRMSE.
    Study,
    /// A small Bernoulli sweep on a synthetic spike raster (N = 400), about 15 s on 2 cores.
    QuickRaster,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the sweep (or one shard of it).
    Run {
        /// Sweep config (TOML; see `print-config`). Without it, --preset.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Preset::Default, conflicts_with = "config")]
        preset: Preset,
        /// Sweep directory.
        #[arg(long, default_value = "out/lambda-sweep")]
        out: PathBuf,
        /// Skip models already finished in --out (after a kill, or to add shards).
        #[arg(long)]
        resume: bool,
        /// Start --out over with this config when it holds another one (sweep.json) but no
        /// finished model; without it another config is refused. Only when no shard of the
        /// old config is still running: its models would join the new sweep.
        #[arg(long, conflicts_with = "resume")]
        fresh: bool,
        /// Run only shard i of n (0-based, e.g. 0/4). Defaults to SLURM_ARRAY_TASK_ID /
        /// SLURM_ARRAY_TASK_COUNT when set, else the whole sweep.
        #[arg(long)]
        shard: Option<String>,
        /// Stop after this many models (for tests and quick looks); the sweep stays resumable.
        #[arg(long)]
        max_models: Option<usize>,
        /// Device of the Gaussian models' training and sampling.
        #[command(flatten)]
        device: DeviceArgs,
    },
    /// Merge the parts of a sweep directory into sweep.parquet (checks that every model is
    /// present).
    Merge {
        /// The sweep directory (as given to --out).
        dir: PathBuf,
    },
    /// Write a Slurm job array (one shard per task, each run with --resume) and a dependent
    /// merge job for the `run` options given after `--`, e.g.
    /// `lambda-sweep slurm --tasks 8 -- --config sweep.toml --out /scratch/sweep`.
    Slurm {
        #[command(flatten)]
        slurm: SlurmArgs,
        /// The options of `run` (a leading `run` is allowed; no --shard: the array task
        /// chooses it).
        #[arg(last = true, value_name = "RUN OPTIONS")]
        run: Vec<String>,
    },
    /// Print a sweep config as TOML, to start a config file from.
    PrintConfig {
        #[arg(long, value_enum, default_value_t = Preset::Default)]
        preset: Preset,
    },
}

fn main() {
    let res = match Cli::parse().cmd {
        Cmd::Run {
            config,
            preset,
            out,
            resume,
            fresh,
            shard,
            max_models,
            device,
        } => run(
            config.as_deref(),
            preset,
            &out,
            Start { resume, fresh },
            shard,
            max_models,
            &device,
        ),
        Cmd::Merge { dir } => merge_dir(&dir),
        Cmd::Slurm { slurm, run } => write_slurm(&slurm, run),
        Cmd::PrintConfig { preset } => {
            print!("{}", preset_config(preset).to_toml());
            Ok(())
        }
    };
    exit_on_error(res);
}

fn preset_config(p: Preset) -> SweepConfig {
    match p {
        Preset::Default => SweepConfig::default(),
        Preset::Quick => SweepConfig::quick(),
        Preset::Study => SweepConfig::study(),
        Preset::QuickRaster => SweepConfig::quick_raster(),
    }
}

/// How a run treats a directory that already holds a sweep (`--resume`, `--fresh`).
struct Start {
    resume: bool,
    fresh: bool,
}

fn run(
    config: Option<&Path>,
    preset: Preset,
    out: &Path,
    start: Start,
    shard: Option<String>,
    max_models: Option<usize>,
    device: &DeviceArgs,
) -> Result<()> {
    let cfg = match config {
        Some(p) => SweepConfig::from_toml_file(p)?,
        None => preset_config(preset),
    };
    let shard = Shard::resolve(shard.map(|s| s.parse()).transpose()?)?;
    if start.fresh {
        start_fresh(out)?;
    }
    run_sweep(
        &cfg,
        out,
        start.resume,
        shard,
        max_models,
        &device.device()?,
    )?;
    Ok(())
}

/// Writes the Slurm scripts for a sweep run with `run_options`, after checking them (and the
/// config they name).
fn write_slurm(cfg: &SlurmArgs, mut run_options: Vec<String>) -> Result<()> {
    if run_options.first().map(String::as_str) == Some("run") {
        run_options.remove(0);
    }
    let mut task_args = vec!["run".to_string()];
    task_args.extend(slurm::task_args(&run_options)?);
    let parsed = Cli::try_parse_from(
        std::iter::once("lambda-sweep".to_string()).chain(task_args.iter().cloned()),
    )
    .map_err(|e| anyhow!("the run options after `--` are not valid:\n{e}"))?;
    let Cmd::Run {
        config,
        out,
        max_models,
        ..
    } = parsed.cmd
    else {
        bail!("after `--` give the options of `run`");
    };
    if let Some(p) = &config {
        SweepConfig::from_toml_file(p)?;
    }
    if max_models.is_some() {
        bail!("--max-models would leave the sweep unfinished; drop it from the run options");
    }
    let job = slurm::Job {
        name: "lambda-sweep".into(),
        task_args,
        merge_args: vec!["merge".into(), out.to_string_lossy().into_owned()],
    };
    let scripts = slurm::write_scripts(cfg, &job)?;
    println!("{}", scripts.instructions());
    Ok(())
}

fn merge_dir(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        bail!("{}: not a sweep directory", dir.display());
    }
    let cfg = load_dir_config(dir)?;
    let rows = merge(dir, cfg.jobs().len())?;
    eprintln!(
        "merged {} models into {}",
        rows.len(),
        dir.join(analysis::table::MERGED_FILE).display()
    );
    Ok(())
}
