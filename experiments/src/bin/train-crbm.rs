//! Train one compositional RBM on a spike raster (or on the synthetic default with planted
//! assemblies), evaluate it on chronologically held-out frames with the five-statistics nRMSE,
//! and write the model, the training curve and a one-row report.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use crbm::brain::BrainConfig;
use crbm::data::{chronological_split, Recording, Split, SplitConfig};
use crbm::gauss::evaluate::{ChainStart, GaussSamplingConfig};
use crbm::gauss::fit::{fit, GaussFitConfig};
use crbm::gauss::{GaussTrainConfig, GibbsEngine};
use crbm::io::{save_model_atomic, ModelMetadata};
use crbm::penalty::Penalty;
use crbm::recovery::{assembly_recovery, mean_jaccard, AssemblyMatch};
use crbm::stats::{evaluate, EvalConfig, NrmseReport};
use crbm::synthetic::SyntheticConfig;
use crbm::{PcdTrainer, TrainConfig, TrainReport};
use experiments::crbm_gauss::{load_input, write_fit, GaussRow, GaussSource};
use experiments::output::{one_line, write_atomic, write_csv, write_parquet};
use indicatif::ProgressBar;
use polars::prelude::{Column, DataFrame};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum Visible {
    /// Binary rasters (spike trains).
    Bernoulli,
    /// Continuous, z-scored signals (voxelised recordings): the λ-sweep study's model.
    Gaussian,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum Engine {
    /// host on the CPU device, tensor otherwise.
    Auto,
    /// Host kernels: Bernoulli units train entirely on the host (sparse, ~4× faster than
    /// tensors on a CPU); Gaussian units run their Gibbs sweeps on the host, the rest on
    /// --device.
    Host,
    /// Burn tensors on --device (any backend).
    Tensor,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum EvalStart {
    /// Random states of the visible layer (the reference's evaluation).
    Prior,
    /// Random training frames.
    Data,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum PenaltyKind {
    L2l1,
    L1,
    L2,
    None,
}

#[derive(Parser, Debug)]
#[command(
    about = "Train a cRBM on a raster (or the synthetic default) and evaluate it on held-out frames",
    allow_negative_numbers = true
)]
struct Args {
    /// Visible units: bernoulli (binary rasters) or gaussian (z-scored voxel signals).
    #[arg(long, value_enum, default_value_t = Visible::Bernoulli)]
    visible: Visible,
    /// Training engine.
    #[arg(long, value_enum, default_value_t = Engine::Auto)]
    engine: Engine,
    #[command(flatten)]
    device: experiments::device::DeviceArgs,
    /// Bernoulli: a binary raster, frames × neurons (.npy, .npz, .csv, or .h5/.hdf5).
    /// Gaussian: a `voxelize` archive (.npz), or traces (frames × units; voxelised first when
    /// --coords is given, z-scored per unit otherwise). Without it, the synthetic default
    /// (planted-assembly raster, or for gaussian the voxelised synthetic brain).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Array inside an .npz raster, or dataset path inside an HDF5 one (e.g. /fish1/spikes)
    /// [default: its only array / the only dataset at the root].
    #[arg(long, visible_alias = "npz-key")]
    key: Option<String>,
    /// Neuron coordinates, neurons × 3 (µm): .npy, .npz, .csv or .h5 (may be the raster's file).
    #[arg(long)]
    coords: Option<PathBuf>,
    /// Array or dataset holding the coordinates inside --coords.
    #[arg(long, requires = "coords")]
    coords_key: Option<String>,
    /// Region labels, one per neuron (text lines or 1-D .npy).
    #[arg(long)]
    regions: Option<PathBuf>,
    /// Gaussian synthetic brain: neurons [default: the generator's, 6000].
    #[arg(long = "brain-neurons")]
    neurons_gauss: Option<usize>,
    /// Gaussian synthetic brain: frames [default: the generator's, 3000].
    #[arg(long = "brain-frames")]
    frames_gauss: Option<usize>,
    /// Synthetic default: number of neurons.
    #[arg(long, default_value_t = 2000)]
    neurons: usize,
    /// Synthetic default: number of planted assemblies.
    #[arg(long, default_value_t = 20)]
    assemblies: usize,
    /// Synthetic default: number of frames (3,500 train / 1,500 held out).
    #[arg(long, default_value_t = 5000)]
    frames: usize,
    /// Synthetic default: expected members per assembly (sets the assembly radius).
    #[arg(long, default_value_t = 40.0)]
    assembly_size: f64,
    /// Hidden units M [default: 200 (TrainConfig's) for --data, 100 for the synthetic default].
    #[arg(long)]
    hidden: Option<usize>,
    /// Regularisation strength λ [default: 2 (TrainConfig's) for l2l1, whose per-weight
    /// shrinkage is λ·mean_i |w_iμ|; 0.02 for l1 and l2].
    #[arg(long)]
    lambda: Option<f64>,
    #[arg(long, value_enum, default_value_t = PenaltyKind::L2l1)]
    penalty: PenaltyKind,
    /// Parameter updates [default: 10000 (TrainConfig's) for --data, 2000 for the synthetic
    /// default].
    #[arg(long, conflicts_with = "epochs")]
    updates: Option<usize>,
    /// Passes over the training frames (instead of --updates).
    #[arg(long)]
    epochs: Option<f64>,
    /// Frames per mini-batch (also the number of persistent chains) [default: TrainConfig's].
    #[arg(long)]
    batch: Option<usize>,
    /// Gibbs sweeps per update [default: TrainConfig's].
    #[arg(long)]
    gibbs_steps: Option<usize>,
    /// Initial learning rate; it decays to lr/100 over the second half [default: TrainConfig's].
    #[arg(long)]
    lr: Option<f64>,
    /// Record a training-curve row every this many updates [default: TrainConfig's].
    #[arg(long)]
    log_every: Option<usize>,
    /// Hidden-input rescaling during training (the older stabiliser; replaces the default
    /// standardised training).
    #[arg(long)]
    standardize: bool,
    /// Bernoulli: train the plain cRBM instead of the standardised one (TrainConfig's default).
    #[arg(long, conflicts_with = "standardize")]
    plain: bool,
    /// Independent chains for the evaluation samples [default: 300 for bernoulli; 150 × 10
    /// samples for gaussian, the reference's 1,500].
    #[arg(long)]
    eval_chains: Option<usize>,
    /// Gaussian: recording index inside a voxel archive.
    #[arg(long, default_value_t = 0)]
    recording: usize,
    /// Gaussian: voxel edge in µm [default: 20 for traces with --coords, 40 for the synthetic
    /// brain].
    #[arg(long)]
    voxel_size: Option<f64>,
    /// Gaussian: where evaluation chains start (the reference samples from the prior: 500
    /// thermalisation sweeps, then samples 100 sweeps apart).
    #[arg(long, value_enum, default_value_t = EvalStart::Prior)]
    eval_start: EvalStart,
    /// Clip each nRMSE to [0, 1] before the good-rule norm (the study's rule).
    #[arg(long)]
    clip_nrmse: bool,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value = "out/train-crbm")]
    out: PathBuf,
}

/// The one-row run table (`report.csv`, `report.json`).
#[derive(Serialize)]
struct Report {
    dataset: String,
    n_neurons: usize,
    n_hidden: usize,
    train_frames: usize,
    test_frames: usize,
    penalty: String,
    lambda: f64,
    seed: u64,
    updates: usize,
    batch: usize,
    gibbs_steps: usize,
    lr: f64,
    standardize: bool,
    nrmse_v: f64,
    nrmse_h: f64,
    nrmse_vh: f64,
    nrmse_vv: f64,
    nrmse_hh: f64,
    norm4: f64,
    bad: bool,
    good: bool,
    exploded: bool,
    exploded_epoch: Option<f64>,
    mean_jaccard: Option<f64>,
    wall_s: f64,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {}", one_line(&e));
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    if args.visible == Visible::Gaussian {
        return run_gaussian(&args);
    }
    let start = Instant::now();
    let (recording, planted, dataset) = load(&args)?;
    let split = chronological_split(&recording.raster, &SplitConfig::default())
        .with_context(|| format!("splitting {dataset} into train and test frames"))?;
    let config = train_config(&args, split.train.len())?;
    let penalty_name = format!("{:?}", args.penalty).to_lowercase();
    eprintln!(
        "{dataset}: {} neurons, {} train / {} test frames; M = {}, {penalty_name} λ = {}, {} updates",
        recording.raster.n_visible,
        split.train.len(),
        split.test.len(),
        config.n_hidden,
        config.penalty.lambda(),
        config.n_updates
    );

    let (model, train_report) = train_bernoulli(&args, &split.train, &config)?;

    let nrmse = held_out_nrmse(&args, &model, &split, &train_report)?;
    let recovery = planted.map(|p| assembly_recovery(&model, &p));

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    save_bernoulli(&args, &model, &config, &dataset, &train_report)?;
    write_curve(&args.out, &train_report)?;
    if let Some(r) = &recovery {
        write_recovery(&args.out, r)?;
    }

    let n = nrmse.unwrap_or_else(unevaluated);
    let report = Report {
        dataset,
        n_neurons: model.n_visible,
        n_hidden: model.n_hidden,
        train_frames: split.train.len(),
        test_frames: split.test.len(),
        penalty: penalty_name,
        lambda: config.penalty.lambda(),
        seed: args.seed,
        updates: train_report.updates_done,
        batch: config.batch_size,
        gibbs_steps: config.gibbs_steps,
        lr: config.learning_rate,
        standardize: config.standardize_hidden || config.standardize.enabled,
        nrmse_v: n.v,
        nrmse_h: n.h,
        nrmse_vh: n.vh,
        nrmse_vv: n.vv,
        nrmse_hh: n.hh,
        norm4: n.norm4,
        bad: n.bad,
        good: n.good,
        exploded: train_report.exploded.is_some(),
        exploded_epoch: train_report.exploded.as_ref().map(|x| x.epoch),
        mean_jaccard: recovery.as_deref().map(mean_jaccard),
        wall_s: start.elapsed().as_secs_f64(),
    };
    write_report(&args.out, &report)?;
    print_report(&report, recovery.as_deref());
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

/// The held-out nRMSE of a model that trained to the end (none when training diverged).
fn held_out_nrmse(
    args: &Args,
    model: &crbm::Crbm,
    split: &Split,
    train_report: &TrainReport,
) -> Result<Option<NrmseReport>> {
    if let Some(x) = &train_report.exploded {
        eprintln!(
            "training diverged at update {} (epoch {:.2}): {}",
            x.update, x.epoch, x.reason
        );
        return Ok(None);
    }
    let mut eval = EvalConfig::default();
    eval.sampling.n_chains = args.eval_chains.unwrap_or(300);
    eval.sampling.seed = args.seed;
    eval.seed = args.seed;
    let report = evaluate(model, &split.train, &split.test, &eval)
        .context("evaluating on held-out frames")?;
    Ok(Some(report))
}

/// The nRMSE row of a model that was not evaluated: NaN, bad.
fn unevaluated() -> NrmseReport {
    let nan = f64::NAN;
    NrmseReport {
        v: nan,
        h: nan,
        vh: nan,
        vv: nan,
        hh: nan,
        norm4: nan,
        bad: true,
        good: false,
    }
}

/// The model with its config, λ, data set and training report (`model.*`).
fn save_bernoulli(
    args: &Args,
    model: &crbm::Crbm,
    config: &TrainConfig,
    dataset: &str,
    train_report: &TrainReport,
) -> Result<()> {
    save_model_atomic(
        model,
        &ModelMetadata {
            config: Some(config.clone()),
            lambda: Some(config.penalty.lambda()),
            dataset: Some(dataset.to_string()),
            report: Some(train_report.clone()),
            ..Default::default()
        },
        args.out.join("model"),
    )
    .context("saving the model")
}

/// Bernoulli training on the chosen engine: the host sparse kernels (`auto` on the CPU
/// device) or burn tensors on `--device`.
fn train_bernoulli(
    args: &Args,
    train: &crbm::SparseBatch,
    config: &TrainConfig,
) -> Result<(crbm::Crbm, TrainReport)> {
    let device = args.device.device()?;
    let bar = progress_bar(config.n_updates as u64);
    let out = if args.engine == Engine::Host || (args.engine == Engine::Auto && on_cpu(args)) {
        let mut trainer = PcdTrainer::new(train, config.clone()).context("training config")?;
        while trainer.update < config.n_updates && trainer.step() {
            bar.set_position(trainer.update as u64);
        }
        trainer.finish()
    } else {
        if config.standardize.enabled {
            anyhow::bail!(
                "--engine tensor: standardised Bernoulli training runs on the host engine only \
                 (add --plain, or use --engine host on the CPU device)"
            );
        }
        let init = crbm::Crbm::init(
            &train.mean_activity(),
            config.n_hidden,
            config.init_weight_std,
            config.seed,
        );
        let mut trainer =
            crbm::tensor_train::DeviceTrainer::from_model(&init, train, config.clone(), &device)
                .context("training config (tensor engine)")?;
        while trainer.update < config.n_updates && trainer.step() {
            bar.set_position(trainer.update as u64);
        }
        trainer.run()
    };
    bar.finish_and_clear();
    Ok(out)
}

/// `--device` names the CPU (flex) device.
fn on_cpu(args: &Args) -> bool {
    matches!(args.device.device.trim(), "" | "flex" | "cpu")
}

/// `train-crbm --visible gaussian`: load or generate the voxel signals, train on burn
/// tensors on `--device`, evaluate, write and print.
fn run_gaussian(args: &Args) -> Result<()> {
    let start = Instant::now();
    let device = args.device.device()?;
    let input = load_input(&gauss_source(args)?)?;
    let mut cfg = gauss_config(args, input.frames.len())?;
    // Gibbs sweeps: host kernels on the CPU device (auto) or when asked; tensors otherwise.
    let engine = match args.engine {
        Engine::Host => GibbsEngine::Host,
        Engine::Tensor => GibbsEngine::Tensor,
        Engine::Auto if on_cpu(args) => GibbsEngine::Host,
        Engine::Auto => GibbsEngine::Tensor,
    };
    cfg.train.engine = engine;
    cfg.sampling.engine = engine;
    eprintln!(
        "{}: {} units, {} frames; M = {}, l2l1 λ = {}, {} updates × {} sweeps on {}",
        input.dataset,
        input.frames.n_units,
        input.frames.len(),
        cfg.train.n_hidden,
        cfg.train.penalty.lambda(),
        cfg.train.n_updates,
        cfg.train.gibbs_steps,
        args.device.device
    );
    let bar = progress_bar(cfg.train.n_updates as u64);
    let fit = fit(&input.frames, input.truth.as_ref(), &cfg, &device, |u| {
        bar.set_position(u as u64)
    })
    .context("training and evaluating")?;
    bar.finish_and_clear();
    let row = GaussRow::new(
        &fit,
        &cfg,
        &input.dataset,
        &args.device.device,
        start.elapsed().as_secs_f64(),
    );
    write_fit(
        &args.out,
        &fit,
        &cfg,
        input.truth.as_ref(),
        &input.centres,
        &row,
    )?;
    print_gauss(&row);
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

fn gauss_source(args: &Args) -> Result<GaussSource> {
    Ok(match &args.data {
        Some(path) if is_voxel_archive(path) => GaussSource::Voxels {
            path: path.clone(),
            recording: args.recording,
        },
        Some(path) => GaussSource::Traces {
            path: path.clone(),
            key: args.key.clone(),
            coords: args.coords.clone().map(|c| (c, args.coords_key.clone())),
            voxel_size: args.voxel_size.unwrap_or(20.0),
        },
        None => {
            if args.coords.is_some() {
                anyhow::bail!("--coords needs --data");
            }
            let d = BrainConfig::default();
            GaussSource::Synthetic {
                brain: BrainConfig {
                    n_neurons: args.neurons_gauss.unwrap_or(d.n_neurons),
                    n_frames: args.frames_gauss.unwrap_or(d.n_frames),
                    seed: args.seed,
                    ..d
                },
                voxel_size: args.voxel_size.unwrap_or(GAUSS_SYNTHETIC_VOXEL),
            }
        }
    })
}

/// A `voxelize` archive has a sidecar and `signals_0`; anything else is traces.
fn is_voxel_archive(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "npz") && crbm::voxel::sidecar_path(path).exists()
}

/// Synthetic brain: 40 µm voxels (a few hundred units), so the default trains in minutes.
const GAUSS_SYNTHETIC_VOXEL: f64 = crbm::gauss::input::SYNTHETIC_VOXEL_SIZE;
const GAUSS_UPDATES: usize = 2000;
const GAUSS_SWEEPS: usize = 20;
const GAUSS_HIDDEN: usize = 30;

fn gauss_config(args: &Args, n_frames: usize) -> Result<GaussFitConfig> {
    let d = GaussTrainConfig::default();
    let batch = args.batch.unwrap_or(d.batch_size);
    let n_updates = n_updates(args, n_frames * 7 / 10, batch, GAUSS_UPDATES)?;
    let lr = args.lr.unwrap_or(d.learning_rate);
    let penalty = penalty(args, d.penalty.lambda());
    let train = GaussTrainConfig {
        n_hidden: args.hidden.unwrap_or(GAUSS_HIDDEN),
        batch_size: batch,
        gibbs_steps: args.gibbs_steps.unwrap_or(GAUSS_SWEEPS),
        n_updates,
        learning_rate: lr,
        learning_rate_final: lr * d.learning_rate_final / d.learning_rate,
        penalty,
        log_every: args.log_every.unwrap_or(d.log_every),
        seed: args.seed,
        ..d
    };
    train.validate().context("training config")?;
    let mut sampling = GaussSamplingConfig {
        start: match args.eval_start {
            EvalStart::Prior => ChainStart::Prior,
            EvalStart::Data => ChainStart::Data,
        },
        seed: args.seed,
        ..Default::default()
    };
    if let Some(c) = args.eval_chains {
        sampling.n_chains = c;
    }
    sampling.validate().context("evaluation sampling")?;
    Ok(GaussFitConfig {
        train,
        sampling,
        eval: EvalConfig {
            clip_nrmse: args.clip_nrmse,
            seed: args.seed,
            ..Default::default()
        },
        split: SplitConfig::default(),
    })
}

fn print_gauss(r: &GaussRow) {
    println!(
        "held-out nRMSE ({} test frames, {} model samples from the {})",
        r.test_frames, r.eval_samples, r.eval_start
    );
    print_nrmse(
        [
            r.nrmse_v, r.nrmse_h, r.nrmse_vh, r.nrmse_vv, r.nrmse_hh, r.norm4,
        ],
        [r.bad, r.good, r.exploded],
        match (&r.exploded_phase, r.exploded_at, &r.exploded_reason) {
            (Some(p), Some(a), Some(why)) => format!(" ({p} at {a}: {why})"),
            _ => String::new(),
        },
    );
    println!("  stability margin {:.4}", r.stability_margin);
    if let (Some(c), Some(j)) = (r.coupling_correlation, r.mean_jaccard) {
        println!("planted structure: coupling correlation r = {c:.3}, mean Jaccard of voxel assemblies = {j:.3}");
    }
    println!("wall time {:.1} s", r.wall_s);
}

/// The recording and, for the synthetic default, its planted assemblies.
fn load(args: &Args) -> Result<(Recording, Option<Vec<Vec<u32>>>, String)> {
    match &args.data {
        Some(path) => {
            let rec = Recording::load(
                path,
                args.key.as_deref(),
                args.coords.as_deref(),
                args.coords_key.as_deref(),
                args.regions.as_deref(),
            )
            .context("loading the recording (a binary raster; continuous traces need --visible gaussian)")?;
            Ok((rec, None, path.display().to_string()))
        }
        None => {
            if args.coords.is_some() || args.regions.is_some() {
                anyhow::bail!("--coords and --regions need --data");
            }
            let cfg = SyntheticConfig::with_assembly_size(
                args.neurons,
                args.assemblies,
                args.frames,
                args.assembly_size,
                args.seed,
            );
            let syn = cfg.generate().context("generating the synthetic default")?;
            let name = format!(
                "synthetic(N={}, K={}, T={})",
                args.neurons, args.assemblies, args.frames
            );
            Ok((syn.recording, Some(syn.memberships), name))
        }
    }
}

/// Synthetic default (N = 2000, 20 planted assemblies, a fifth of the members shared): M = 100
/// and 2000 updates of TrainConfig's standardised training give good models that recover the
/// assemblies (seeds 0–2: nRMSE norm 0.10–0.12, mean Jaccard 0.94–0.97) in about 3 minutes
/// on 2 cores.
const SYNTHETIC_HIDDEN: usize = 100;
const SYNTHETIC_UPDATES: usize = 2000;
/// λ of the plain L1 and L2 penalties (spec: "λ of order 0.02 for a plain L1 penalty").
const PLAIN_LAMBDA: f64 = 0.02;

/// Parameter updates: --updates, else --epochs over `n_train` training frames (an update
/// consumes min(batch, frames) frames), else `default`.
fn n_updates(args: &Args, n_train: usize, batch: usize, default: usize) -> Result<usize> {
    Ok(match (args.updates, args.epochs) {
        (Some(u), _) => u,
        (None, Some(e)) => {
            if !(e.is_finite() && e > 0.0) {
                anyhow::bail!("--epochs {e}: must be finite and > 0");
            }
            (e * n_train as f64 / batch.min(n_train).max(1) as f64).ceil() as usize
        }
        (None, None) => default,
    })
}

/// The weight penalty of --penalty with --lambda, else `l2l1_lambda` for L2/L1 and
/// [`PLAIN_LAMBDA`] for the plain L1 and L2 penalties.
fn penalty(args: &Args, l2l1_lambda: f64) -> Penalty {
    match args.penalty {
        PenaltyKind::L2l1 => Penalty::L2L1 {
            lambda: args.lambda.unwrap_or(l2l1_lambda),
        },
        PenaltyKind::L1 => Penalty::L1 {
            lambda: args.lambda.unwrap_or(PLAIN_LAMBDA),
        },
        PenaltyKind::L2 => Penalty::L2 {
            lambda: args.lambda.unwrap_or(PLAIN_LAMBDA),
        },
        PenaltyKind::None => Penalty::None,
    }
}

fn train_config(args: &Args, n_train: usize) -> Result<TrainConfig> {
    let d = TrainConfig::default();
    let batch = args.batch.unwrap_or(d.batch_size);
    let default_updates = if args.data.is_none() {
        SYNTHETIC_UPDATES
    } else {
        d.n_updates
    };
    let n_updates = n_updates(args, n_train, batch, default_updates)?;
    let lr = args.lr.unwrap_or(d.learning_rate);
    let penalty = penalty(args, d.penalty.lambda());
    let default_hidden = if args.data.is_none() {
        SYNTHETIC_HIDDEN
    } else {
        d.n_hidden
    };
    Ok(TrainConfig {
        n_hidden: args.hidden.unwrap_or(default_hidden),
        batch_size: batch,
        n_chains: batch,
        gibbs_steps: args.gibbs_steps.unwrap_or(d.gibbs_steps),
        n_updates,
        learning_rate: lr,
        // Keep the default decay ratio whatever the initial rate.
        learning_rate_final: lr * d.learning_rate_final / d.learning_rate,
        penalty,
        standardize_hidden: args.standardize,
        standardize: crbm::train::StandardizeConfig {
            enabled: d.standardize.enabled && !(args.plain || args.standardize),
            ..d.standardize
        },
        log_every: args.log_every.unwrap_or(d.log_every),
        seed: args.seed,
        ..d
    })
}

fn progress_bar(len: u64) -> ProgressBar {
    let bar = experiments::progress::bar(len, "updates");
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// `training_curve.csv` and `training_curve.parquet`: one row per logged update.
fn write_curve(out: &Path, report: &TrainReport) -> Result<()> {
    let c = &report.curve;
    let opt = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    let rows: Vec<Vec<String>> = c
        .iter()
        .map(|p| {
            vec![
                p.update.to_string(),
                p.epoch.to_string(),
                p.learning_rate.to_string(),
                p.data_free_energy.to_string(),
                p.penalty.to_string(),
                p.max_abs_weight.to_string(),
                opt(p.exact_log_likelihood),
            ]
        })
        .collect();
    write_csv(&out.join("training_curve.csv"), &CURVE_COLUMNS, &rows)?;
    let f = |g: fn(&crbm::train::CurvePoint) -> f64| c.iter().map(g).collect::<Vec<f64>>();
    let columns = vec![
        Column::new(
            CURVE_COLUMNS[0].into(),
            c.iter().map(|p| p.update as u64).collect::<Vec<_>>(),
        ),
        Column::new(CURVE_COLUMNS[1].into(), f(|p| p.epoch)),
        Column::new(CURVE_COLUMNS[2].into(), f(|p| p.learning_rate)),
        Column::new(CURVE_COLUMNS[3].into(), f(|p| p.data_free_energy)),
        Column::new(CURVE_COLUMNS[4].into(), f(|p| p.penalty)),
        Column::new(CURVE_COLUMNS[5].into(), f(|p| p.max_abs_weight)),
        Column::new(
            CURVE_COLUMNS[6].into(),
            c.iter()
                .map(|p| p.exact_log_likelihood)
                .collect::<Vec<Option<f64>>>(),
        ),
    ];
    let mut df = DataFrame::new(c.len(), columns).context("building the training-curve table")?;
    write_parquet(&out.join("training_curve.parquet"), &mut df)
}

const CURVE_COLUMNS: [&str; 7] = [
    "update",
    "epoch",
    "lr",
    "data_free_energy",
    "penalty",
    "max_abs_weight",
    "exact_log_likelihood",
];

/// `assembly_recovery.csv` and `.parquet`: one row per planted assembly.
fn write_recovery(out: &Path, matches: &[AssemblyMatch]) -> Result<()> {
    let rows: Vec<Vec<String>> = matches
        .iter()
        .map(|m| {
            vec![
                m.assembly.to_string(),
                m.size.to_string(),
                m.unit.map(|u| u.to_string()).unwrap_or_default(),
                m.jaccard.to_string(),
            ]
        })
        .collect();
    let header = ["assembly", "size", "best_unit", "jaccard"];
    write_csv(&out.join("assembly_recovery.csv"), &header, &rows)?;
    let columns = vec![
        Column::new(
            header[0].into(),
            matches
                .iter()
                .map(|m| m.assembly as u64)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            header[1].into(),
            matches.iter().map(|m| m.size as u64).collect::<Vec<_>>(),
        ),
        Column::new(
            header[2].into(),
            matches
                .iter()
                .map(|m| m.unit.map(|u| u as u64))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            header[3].into(),
            matches.iter().map(|m| m.jaccard).collect::<Vec<_>>(),
        ),
    ];
    let mut df = DataFrame::new(matches.len(), columns).context("building the recovery table")?;
    write_parquet(&out.join("assembly_recovery.parquet"), &mut df)
}

/// One value of the one-row run table.
enum Cell {
    Text(String),
    Count(usize),
    Real(f64),
    MaybeReal(Option<f64>),
    Flag(bool),
}

impl Cell {
    fn csv(&self) -> String {
        match self {
            Cell::Text(s) => format!("\"{}\"", s.replace('"', "\"\"")),
            Cell::Count(x) => x.to_string(),
            Cell::Real(x) => x.to_string(),
            Cell::MaybeReal(x) => x.map(|v| v.to_string()).unwrap_or_default(),
            Cell::Flag(x) => x.to_string(),
        }
    }

    fn column(&self, name: &str) -> Column {
        match self {
            Cell::Text(s) => Column::new(name.into(), [s.clone()]),
            Cell::Count(x) => Column::new(name.into(), [*x as u64]),
            Cell::Real(x) => Column::new(name.into(), [*x]),
            Cell::MaybeReal(x) => Column::new(name.into(), [*x]),
            Cell::Flag(x) => Column::new(name.into(), [*x]),
        }
    }
}

/// `report.csv`, `report.parquet` and `report.json` (NaN nRMSEs of a diverged run are
/// null in JSON, NaN in CSV and Parquet).
fn write_report(out: &Path, r: &Report) -> Result<()> {
    use Cell::*;
    let cells: Vec<(&str, Cell)> = vec![
        ("dataset", Text(r.dataset.clone())),
        ("n_neurons", Count(r.n_neurons)),
        ("n_hidden", Count(r.n_hidden)),
        ("train_frames", Count(r.train_frames)),
        ("test_frames", Count(r.test_frames)),
        // Short identifiers without commas or quotes: written bare in CSV.
        ("penalty", Text(r.penalty.clone())),
        ("lambda", Real(r.lambda)),
        ("seed", Count(r.seed as usize)),
        ("updates", Count(r.updates)),
        ("batch", Count(r.batch)),
        ("gibbs_steps", Count(r.gibbs_steps)),
        ("lr", Real(r.lr)),
        ("standardize", Flag(r.standardize)),
        ("nrmse_v", Real(r.nrmse_v)),
        ("nrmse_h", Real(r.nrmse_h)),
        ("nrmse_vh", Real(r.nrmse_vh)),
        ("nrmse_vv", Real(r.nrmse_vv)),
        ("nrmse_hh", Real(r.nrmse_hh)),
        ("norm4", Real(r.norm4)),
        ("bad", Flag(r.bad)),
        ("good", Flag(r.good)),
        ("exploded", Flag(r.exploded)),
        ("exploded_epoch", MaybeReal(r.exploded_epoch)),
        ("mean_jaccard", MaybeReal(r.mean_jaccard)),
        ("wall_s", Real(r.wall_s)),
    ];
    let header: Vec<&str> = cells.iter().map(|c| c.0).collect();
    let row: Vec<String> = cells
        .iter()
        .map(|(name, c)| match (name, c) {
            (&"penalty", Text(s)) => s.clone(),
            _ => c.csv(),
        })
        .collect();
    write_csv(&out.join("report.csv"), &header, &[row])?;
    let columns = cells.iter().map(|(name, c)| c.column(name)).collect();
    let mut df = DataFrame::new(1, columns).context("building the report table")?;
    write_parquet(&out.join("report.parquet"), &mut df)?;
    let text = serde_json::to_string_pretty(r).context("serialising the report")?;
    write_atomic(&out.join("report.json"), text.as_bytes())
}

/// The held-out nRMSE of ⟨v⟩, ⟨h⟩, ⟨vh⟩, ⟨vv⟩, ⟨hh⟩ and the 4-norm, one line each, then the
/// bad/good/exploded flags with `explosion` (where and why training diverged, or empty).
fn print_nrmse(nrmse: [f64; 6], [bad, good, exploded]: [bool; 3], explosion: String) {
    for (k, v) in ["<v>", "<h>", "<vh>", "<vv>", "<hh>", "norm4"]
        .into_iter()
        .zip(nrmse)
    {
        println!("  {k:<6} {v:>8.4}");
    }
    println!("  bad = {bad}, good = {good}, exploded = {exploded}{explosion}");
}

fn print_report(r: &Report, recovery: Option<&[AssemblyMatch]>) {
    println!("held-out nRMSE ({} test frames)", r.test_frames);
    println!("  {:<6} {:>8}", "stat", "nRMSE");
    print_nrmse(
        [
            r.nrmse_v, r.nrmse_h, r.nrmse_vh, r.nrmse_vv, r.nrmse_hh, r.norm4,
        ],
        [r.bad, r.good, r.exploded],
        r.exploded_epoch
            .map(|e| format!(" (epoch {e:.2})"))
            .unwrap_or_default(),
    );
    if let Some(rec) = recovery {
        println!("assembly recovery (Jaccard of best unit's top-|A| weights)");
        println!(
            "  {:>8} {:>5} {:>5} {:>8}",
            "assembly", "size", "unit", "jaccard"
        );
        for m in rec {
            let unit = m.unit.map(|u| u.to_string()).unwrap_or_else(|| "-".into());
            println!(
                "  {:>8} {:>5} {:>5} {:>8.3}",
                m.assembly, m.size, unit, m.jaccard
            );
        }
        println!("  mean Jaccard = {:.3}", mean_jaccard(rec));
    }
    println!("wall time {:.1} s", r.wall_s);
}
