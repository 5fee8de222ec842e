//! Trains surrogates of the pMFM cost on parameter→cost tables (Parquet files or `pmfm-dataset`
//! directories): one or more model families, optionally as seed ensembles. Holds out a test
//! fraction, writes each model (Burn record + JSON sidecar), a metrics table (Parquet, one row
//! per family), predicted-vs-simulated identity plots and learning curves (PNG).
//!
//! Tables made with `pmfm-dataset --groups` carry their groups: `--models group` trains the
//! group-conditioned MLP on them, and `--group-split A,B` holds out whole groups instead of
//! random rows and writes `group_metrics.parquet` (one row per model and held-out group);
//! `--replicates` adds `replicate_metrics.parquet`, the held-out θ scored against their costs
//! re-simulated with more duplicates (how much of one noisy duplicate is signal), and
//! `--few-shot K` trains on each held-out group's first K rows too.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use burn::tensor::Device;
use clap::Parser;
use experiments::output::{exit_on_error, write_parquet};
use experiments::plots::{self, Axes, Series};
use experiments::progress;
use experiments::sim_args::PmfmArgs;
use pmfm_sim::data::EmpiricalData;
use surrogate::ensemble::Ensemble;
use surrogate::evaluation::{
    evaluate_held_out, group_names, metrics_table, read_training_tables, FamilyMetrics, HeldOut,
};
use surrogate::evaluator::connectome_of;
use surrogate::models::{ModelConfig, ModelKind};
use surrogate::persist::Provenance;
use surrogate::train::{TrainConfig, TrainHistory};
use surrogate::{Connectome, Samples};

#[derive(Parser, Debug)]
#[command(
    about = "Train pMFM cost surrogates on parameter→cost tables and report held-out accuracy"
)]
struct Args {
    /// Parameter→cost tables: Parquet files or pmfm-dataset output directories (repeatable).
    #[arg(long = "table", required = true)]
    tables: Vec<PathBuf>,
    /// Model families: mlp, quadratic, tokens, group (the group-conditioned MLP) and
    /// group_tokens (the group region-token model; both need tables made with `pmfm-dataset
    /// --groups`), comma-separated, or all (= quadratic, mlp, tokens).
    #[arg(long, default_value = "all")]
    models: String,
    /// Members per ensemble (different seeds); 1 trains a single model.
    #[arg(long, default_value_t = 1)]
    ensemble: usize,
    /// Fraction of the rows held out for the reported metrics (never seen in training).
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// Hold out whole groups instead (comma-separated group names, as in the tables'
    /// `dataset` column): their rows are the test set and their inputs are never seen.
    #[arg(long)]
    group_split: Option<String>,
    /// With --group-split: tables of held-out θ re-simulated with more noise duplicates
    /// (repeatable; e.g. `pmfm-dataset --design gaussian --centres TABLE --centres-group NAME
    /// --relative-sd 0 --n-dup 4`). Writes replicate_metrics.parquet: per model and group, r
    /// against the replicate cost, beside r of the held-out single duplicate against it and the
    /// noise ceilings it implies (the best r any predictor can reach against single-duplicate
    /// and against replicate costs).
    #[arg(long = "replicates")]
    replicates: Vec<PathBuf>,
    /// With --group-split: the first K rows (by index) of each held-out group join the training
    /// rows — a small budget of the new group's own simulations — and the rest are scored.
    #[arg(long, default_value_t = 0)]
    few_shot: usize,
    /// Each few-shot row joins the training rows this many times (≥ 1), so that a handful of
    /// the new group's rows weigh against thousands of other groups' rows.
    /// (Repeats can fall on both sides of the training loop's validation split.)
    #[arg(long, default_value_t = 1)]
    shot_weight: usize,
    /// With --few-shot: instead of joining training, each held-out group's shots fine-tune every
    /// trained model for this many epochs (from its weights, all shots in batches of 8, no
    /// early stopping), and group_metrics.parquet gets a `<family>+fine-tune` row per group
    /// beside the untuned model's, on the same remaining rows. 0 = off.
    #[arg(long, default_value_t = 0)]
    fine_tune: usize,
    /// Learning rate of --fine-tune (default: a third of the family's).
    #[arg(long)]
    fine_tune_lr: Option<f64>,
    /// Training epochs (upper bound; early stopping may end sooner): one number for every
    /// family, or per family, e.g. `mlp=300,tokens=20` (families not named keep the default).
    #[arg(long)]
    epochs: Option<String>,
    /// Rows per mini-batch (default: the surrogate crate's).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Learning rate: one value for every family or per family, e.g. `mlp=1e-3,tokens=3e-3`.
    #[arg(long)]
    lr: Option<String>,
    /// Hidden width of the MLP.
    #[arg(long)]
    width: Option<usize>,
    /// Hidden layers of the MLP.
    #[arg(long)]
    depth: Option<usize>,
    /// Token models: embedding width (default 32).
    #[arg(long)]
    d_model: Option<usize>,
    /// Token models: encoder layers (default 2).
    #[arg(long)]
    token_layers: Option<usize>,
    /// Token models: attention heads, dividing --d-model (default 4).
    #[arg(long)]
    heads: Option<usize>,
    /// Token models: feed-forward width inside each encoder layer (default 64).
    #[arg(long)]
    ff: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory.
    #[arg(long, default_value = "out/train-surrogate")]
    out: PathBuf,
    // The data options name the connectome the tables were simulated on (needed by the
    // region-token model).
    #[command(flatten)]
    pmfm: PmfmArgs,
}

fn main() {
    exit_on_error(run(Args::parse()));
}

fn kinds(s: &str) -> Result<Vec<ModelKind>> {
    let mut v = Vec::new();
    for k in s.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        match k {
            "all" => v.extend([
                ModelKind::Quadratic,
                ModelKind::Mlp,
                ModelKind::RegionTokens,
            ]),
            "mlp" => v.push(ModelKind::Mlp),
            "quadratic" => v.push(ModelKind::Quadratic),
            "tokens" => v.push(ModelKind::RegionTokens),
            "group" => v.push(ModelKind::GroupMlp),
            "group_tokens" => v.push(ModelKind::GroupTokens),
            other => bail!(
                "unknown model family '{other}' (mlp, quadratic, tokens, group, group_tokens, all)"
            ),
        }
    }
    if v.is_empty() {
        bail!("--models names no model family");
    }
    Ok(v)
}

fn kind_name(k: &ModelKind) -> &'static str {
    match k {
        ModelKind::Mlp => "mlp",
        ModelKind::Quadratic => "quadratic",
        ModelKind::RegionTokens => "tokens",
        ModelKind::GroupMlp => "group",
        ModelKind::GroupTokens => "group_tokens",
    }
}

/// The value `spec` gives family `name` for option `flag`: `"V"` for every family, or
/// `"mlp=V,tokens=W"` (families not named get `None`). Values must be positive.
fn per_family<T>(spec: Option<&str>, name: &str, flag: &str) -> Result<Option<T>>
where
    T: std::str::FromStr + PartialOrd + Default,
{
    let Some(spec) = spec else { return Ok(None) };
    let parse = |v: &str| {
        v.trim()
            .parse::<T>()
            .ok()
            .filter(|x| *x > T::default())
            .with_context(|| format!("{flag}: '{v}' is not a positive number"))
    };
    if !spec.contains('=') {
        return parse(spec).map(Some);
    }
    let mut found = None;
    for item in spec.split(',') {
        let Some((family, v)) = item.split_once('=') else {
            bail!("{flag}: '{item}' is not family=value");
        };
        let family = family.trim();
        if !["mlp", "quadratic", "tokens", "group", "group_tokens"].contains(&family) {
            bail!(
                "{flag}: unknown family '{family}' (mlp, quadratic, tokens, group, group_tokens)"
            );
        }
        let v = parse(v)?;
        if family == name {
            found = Some(v);
        }
    }
    Ok(found)
}

fn learning_curve(path: &std::path::Path, hist: &[TrainHistory], name: &str) -> Result<()> {
    let mut series = Vec::new();
    for (m, h) in hist.iter().enumerate() {
        let tag = if hist.len() > 1 {
            format!(" #{m}")
        } else {
            String::new()
        };
        series.push(Series::new(
            format!("train{tag}"),
            h.epochs
                .iter()
                .map(|e| (e.epoch as f64, e.train_loss))
                .collect(),
        ));
        series.push(Series::new(
            format!("validation{tag}"),
            h.epochs
                .iter()
                .filter_map(|e| e.val_loss.map(|v| (e.epoch as f64, v)))
                .collect(),
        ));
    }
    plots::lines(
        path,
        &series,
        &Axes {
            title: format!("{name}: learning curve"),
            x_label: "epoch".into(),
            y_label: "loss".into(),
            log_y: true,
            ..Default::default()
        },
    )
}

/// What every family is trained and tested on.
struct Inputs {
    train: Samples,
    /// With --fine-tune: the held-out groups' shots (not in `train`).
    shots: Samples,
    test: Samples,
    /// Every group of the tables (held-out rows are predicted with their own group).
    groups: Vec<EmpiricalData>,
    /// The groups a group-conditioned model may see in training.
    train_groups: Vec<EmpiricalData>,
    connectome: Option<Connectome>,
    provenance: Provenance,
    device: Device,
}

fn run(args: Args) -> Result<()> {
    let kinds = kinds(&args.models)?;
    if !(0.0..0.9).contains(&args.test_fraction) {
        bail!(
            "--test-fraction must be in [0, 0.9), got {}",
            args.test_fraction
        );
    }
    if args.ensemble == 0 {
        bail!("--ensemble must be at least 1");
    }
    if !args.replicates.is_empty() && args.group_split.is_none() {
        bail!("--replicates needs --group-split (they re-simulate held-out groups' θ)");
    }
    if args.shot_weight == 0 {
        bail!("--shot-weight must be at least 1");
    }
    if args.few_shot > 0 && args.group_split.is_none() {
        bail!(
            "--few-shot needs --group-split (it moves held-out groups' first rows into training)"
        );
    }
    if args.fine_tune > 0 && args.few_shot == 0 {
        bail!("--fine-tune needs --few-shot K (the shots it fine-tunes on)");
    }
    if args.fine_tune > 0 && args.shot_weight > 1 {
        bail!("--fine-tune keeps the shots out of training; --shot-weight does not apply");
    }
    if args
        .fine_tune_lr
        .is_some_and(|lr| !(lr.is_finite() && lr > 0.0))
    {
        bail!("--fine-tune-lr must be a positive number");
    }
    // Every family's options are checked before anything is read or trained.
    for kind in &kinds {
        family_configs(&args, kind)?;
    }
    let inputs = prepare(&args, &kinds)?;
    let mut metric_rows = Vec::new();
    let mut trained: Vec<(String, Ensemble)> = Vec::new();
    for kind in &kinds {
        let (ensemble, row) = train_family(&args, kind, &inputs)?;
        trained.push((row.model.clone(), ensemble));
        metric_rows.push(row);
    }
    if args.group_split.is_some() {
        let models: Vec<(String, &Ensemble)> =
            trained.iter().map(|(n, e)| (n.clone(), e)).collect();
        let mut rows =
            surrogate::transfer::per_group_metrics(&models, &inputs.test, &inputs.groups)?;
        if args.fine_tune > 0 {
            for (name, ensemble) in &models {
                let kind = ensemble.kind().context("an empty ensemble")?;
                let tune = fine_tune_config(&args, &kind)?;
                eprintln!("fine-tuning {name} on each held-out group's shots …");
                rows.extend(surrogate::transfer::fine_tuned_group_metrics(
                    &[(name.clone(), *ensemble)],
                    &inputs.shots,
                    &inputs.test,
                    &inputs.groups,
                    &tune,
                )?);
            }
        }
        let mut df = experiments::output::group_metrics_frame(&rows)?;
        write_parquet(&args.out.join("group_metrics.parquet"), &mut df)?;
        println!("held-out groups:\n{df}");
        if !args.replicates.is_empty() {
            let replicates = read_training_tables(&args.replicates)?.samples;
            let rows = surrogate::transfer::replicate_metrics(
                &models,
                &inputs.test,
                &replicates,
                &inputs.groups,
            )?;
            let mut df = experiments::output::replicate_metrics_frame(&rows)?;
            write_parquet(&args.out.join("replicate_metrics.parquet"), &mut df)?;
            println!("held-out θ re-simulated with more duplicates:\n{df}");
        }
    }
    let mut df = metrics_table(&metric_rows)?;
    write_parquet(&args.out.join("metrics.parquet"), &mut df)?;
    println!("{df}");
    println!(
        "models, metrics.parquet and plots in {} ({} train / {} held-out rows)",
        args.out.display(),
        inputs.train.len(),
        inputs.test.len()
    );
    Ok(())
}

/// The held-out rows `--group-split` / `--test-fraction` ask for.
fn held_out_of(args: &Args) -> Result<HeldOut> {
    match &args.group_split {
        None => Ok(HeldOut::Fraction {
            fraction: args.test_fraction,
            seed: args.seed,
        }),
        Some(spec) => {
            let names = group_names(spec);
            if names.is_empty() {
                bail!("--group-split names no group");
            }
            Ok(HeldOut::Groups {
                names,
                few_shot: args.few_shot,
                // Fine-tuning keeps the shots out of the trained model.
                shot_weight: if args.fine_tune > 0 {
                    0
                } else {
                    args.shot_weight
                },
            })
        }
    }
}

/// Reads the tables, splits them, and loads what the families need (connectome, device).
fn prepare(args: &Args, kinds: &[ModelKind]) -> Result<Inputs> {
    let tables = read_training_tables(&args.tables)?;
    let all = &tables.samples;
    if all.len() < 20 {
        bail!(
            "the tables hold {} rows; need at least 20 to train and test",
            all.len()
        );
    }
    let held_out = held_out_of(args)?;
    let (train_rows, shot_rows, test_rows) = held_out.split_shots(all)?;
    let train_groups: Vec<_> = tables
        .groups
        .iter()
        .filter(|g| !held_out.unseen_groups().contains(&g.name))
        .cloned()
        .collect();
    if kinds.iter().any(ModelKind::is_grouped) && train_groups.is_empty() {
        bail!("--models group and group_tokens need tables made with `pmfm-dataset --groups` (a groups/ folder beside the parts)");
    }
    let train: Samples = all.select(&train_rows);
    let test: Samples = all.select(&test_rows);
    let shots: Samples = all.select(&shot_rows);
    eprintln!(
        "{} rows ({} valid) from {} table(s): {} train, {} held out",
        all.len(),
        all.valid.iter().filter(|v| **v).count(),
        args.tables.len(),
        train.len(),
        test.len()
    );
    let device = args.pmfm.device.device()?;
    let connectome = if kinds.contains(&ModelKind::RegionTokens) {
        let data = args.pmfm.load_data(&device, &args.pmfm.sim.config()?)?;
        Some(connectome_of(&data))
    } else {
        None
    };
    let provenance = Provenance {
        datasets: tables.sources,
        note: format!(
            "train-surrogate: {} training rows, {} held out (test fraction {}, seed {})",
            train.len(),
            test.len(),
            args.test_fraction,
            args.seed
        ),
    };
    Ok(Inputs {
        train,
        shots,
        test,
        groups: tables.groups,
        train_groups,
        connectome,
        provenance,
        device,
    })
}

/// The model and training settings of one family from the command line.
fn family_configs(args: &Args, kind: &ModelKind) -> Result<(ModelConfig, TrainConfig)> {
    let name = kind_name(kind);
    let mut model_cfg = ModelConfig::of_kind(kind.clone());
    for (value, field) in [
        (args.width, &mut model_cfg.width),
        (args.depth, &mut model_cfg.depth),
        (args.d_model, &mut model_cfg.d_model),
        (args.token_layers, &mut model_cfg.layers),
        (args.heads, &mut model_cfg.heads),
        (args.ff, &mut model_cfg.ff),
    ] {
        if let Some(v) = value {
            *field = v;
        }
    }
    model_cfg.check().with_context(|| {
        format!("--width/--depth/--d-model/--token-layers/--heads/--ff for {name}")
    })?;
    let mut train_cfg = TrainConfig {
        seed: args.seed,
        ..TrainConfig::default()
    };
    if let Some(e) = per_family::<usize>(args.epochs.as_deref(), name, "--epochs")? {
        train_cfg.epochs = e;
    }
    if let Some(b) = args.batch_size {
        train_cfg.batch_size = b;
    }
    if let Some(lr) = per_family::<f64>(args.lr.as_deref(), name, "--lr")? {
        train_cfg.learning_rate = lr;
    }
    Ok((model_cfg, train_cfg))
}

/// The training settings of --fine-tune for `kind`: the family's, with --fine-tune epochs,
/// --fine-tune-lr (a third of the family's rate by default), mini-batches of 8 shots (a few
/// steps per epoch from a few dozen shots), every shot trained on (no validation split) and no
/// early stopping.
fn fine_tune_config(args: &Args, kind: &ModelKind) -> Result<TrainConfig> {
    let (_, train) = family_configs(args, kind)?;
    Ok(train.for_fine_tuning(args.fine_tune, args.fine_tune_lr, 8))
}

/// Trains, saves and tests one family; draws its identity plot and learning curve.
fn train_family(
    args: &Args,
    kind: &ModelKind,
    inputs: &Inputs,
) -> Result<(Ensemble, FamilyMetrics)> {
    let name = kind_name(kind);
    let (model_cfg, train_cfg) = family_configs(args, kind)?;
    let bar = progress::bar((train_cfg.epochs * args.ensemble) as u64, "epochs");
    bar.set_message(name.to_string());
    let t0 = Instant::now();
    let mut on_epoch = |member: usize, e: &surrogate::train::EpochLog| {
        bar.inc(1);
        bar.set_message(format!(
            "{name} #{member}: val loss {:.4}",
            e.val_loss.unwrap_or(f64::NAN)
        ));
    };
    let seeds: Vec<u64> = (0..args.ensemble as u64).map(|k| args.seed + k).collect();
    let fitted = if kind.is_grouped() {
        Ensemble::fit_groups(
            &inputs.train,
            &inputs.train_groups,
            &model_cfg,
            &train_cfg,
            &seeds,
            &inputs.device,
            &mut on_epoch,
        )
    } else {
        Ensemble::fit(
            &inputs.train,
            inputs.connectome.as_ref(),
            &model_cfg,
            &train_cfg,
            &seeds,
            &inputs.device,
            &mut on_epoch,
        )
    };
    let (mut ensemble, histories) =
        fitted.with_context(|| format!("training the {name} surrogate"))?;
    bar.finish_and_clear();
    let train_s = t0.elapsed().as_secs_f64();
    let dir = args.out.join(name);
    ensemble.set_provenance(inputs.provenance.clone());
    ensemble
        .save(&dir)
        .with_context(|| format!("saving the {name} surrogate to {}", dir.display()))?;
    let (held_out, metrics) = evaluate_held_out(&ensemble, &inputs.test, &inputs.groups)?;
    let n_params = ensemble.members.first().map(|m| m.n_params()).unwrap_or(0);
    eprintln!(
        "{name}: held-out r(total) = {:.4}, validity accuracy {:.4}, {:.1} s",
        metrics.pearson_total, metrics.valid_accuracy, train_s
    );
    identity_plot(
        args,
        name,
        &inputs.test,
        &held_out.total,
        metrics.pearson_total,
    )?;
    learning_curve(
        &args.out.join(format!("learning_curve_{name}.png")),
        &histories,
        name,
    )?;
    let row = FamilyMetrics {
        model: name.to_string(),
        ensemble: args.ensemble,
        n_params,
        metrics,
        train_s,
    };
    Ok((ensemble, row))
}

/// Predicted vs simulated total cost over the valid held-out rows.
fn identity_plot(args: &Args, name: &str, test: &Samples, predicted: &[f64], r: f64) -> Result<()> {
    let pts: Vec<(f64, f64)> = test
        .valid_rows()
        .iter()
        .map(|&k| (test.total_cost[k], predicted[k]))
        .collect();
    plots::identity(
        &args.out.join(format!("identity_{name}.png")),
        &[Series::new(format!("held-out θ (r = {r:.3})"), pts)],
        &Axes {
            title: format!("{name} surrogate: total cost"),
            x_label: "simulated total cost".into(),
            y_label: "predicted total cost".into(),
            ..Default::default()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::per_family;

    #[test]
    fn options_apply_to_all_or_per_family() {
        let e = |spec: Option<&str>, name: &str| per_family::<usize>(spec, name, "--epochs");
        assert_eq!(e(None, "mlp").unwrap(), None);
        assert_eq!(e(Some("40"), "tokens").unwrap(), Some(40));
        let spec = Some("mlp=300, tokens=20");
        assert_eq!(e(spec, "mlp").unwrap(), Some(300));
        assert_eq!(e(spec, "tokens").unwrap(), Some(20));
        assert_eq!(e(spec, "quadratic").unwrap(), None);
        for bad in ["0", "x", "mlp=0", "trees=3", "mlp", "mlp=3,tokens"] {
            let err = e(Some(bad), "mlp").unwrap_err().to_string();
            assert!(err.starts_with("--epochs"), "{bad}: {err}");
        }
        let lr = per_family::<f64>(Some("mlp=1e-3,tokens=3e-3"), "tokens", "--lr").unwrap();
        assert_eq!(lr, Some(3e-3));
        assert!(per_family::<f64>(Some("-1"), "mlp", "--lr").is_err());
    }
}
