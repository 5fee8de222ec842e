//! Running a sweep: the recording(s) are prepared once, then each (λ, recording, seed) model
//! is trained, evaluated on the held-out frames, its couplings aggregated, and everything
//! written under the sweep directory (Gaussian-visible models: [`crate::gauss_model`]):
//!
//! * `sweep.json`: the config (a resumed or sharded run must use the same one; another config
//!   is refused, naming the first differing key, unless the directory is started over with
//!   [`start_fresh`]);
//! * `models/m{index:05}.{npz,json}`: the model (crbm's format);
//! * `models/m{index:05}.couplings.npy`: the aggregated coupling matrix (Gaussian models:
//!   the voxel couplings `W diag⟨Var h⟩ Wᵀ`), f64 [K, K]; none for exploded models;
//! * `models/m{index:05}.stats.parquet`: test and model values of each statistic (a strided
//!   subsample), for identity plots;
//! * `parts/part-{index:06}.parquet`: the model's row, written last.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use crbm::couplings::{aggregate_approx_couplings, voxel_groups};
use crbm::data::{chronological_split, Recording, Split};
use crbm::io::{save_model_atomic, ModelMetadata};
use crbm::recovery::{assembly_recovery, mean_jaccard};
use crbm::stats::{evaluate_detailed, EvalConfig, FiveStatistics, Statistic};
use crbm::synthetic::SyntheticConfig;
use crbm::PcdTrainer;
use jobs::durable::write_atomic;
use jobs::settings::Manifest;
use jobs::table::write_parquet;
use polars::prelude::{Column, DataFrame};

use burn::tensor::Device;

use crate::config::{GroupBy, Job, SweepConfig, Visible};
use crate::error::{io_err, AnalysisError, Result};
use crate::gauss_model::{run_gauss_model, VoxelData};
use crate::table::{finished_models, ModelRow};

/// The config file inside a sweep directory.
pub const CONFIG_FILE: &str = "sweep.json";
/// Folder of the saved models inside a sweep directory.
pub const MODELS_DIR: &str = "models";

/// Neurons grouped into voxels or regions for coupling matrices.
#[derive(Clone, Debug, PartialEq)]
pub struct Groups {
    /// "voxels" or "regions".
    pub kind: &'static str,
    /// Group of each neuron, shape [N].
    pub of_neuron: Vec<usize>,
    pub count: usize,
}

/// The data of a sweep, prepared once for all its models.
#[derive(Clone, Debug)]
pub enum SweepInput {
    /// A binary raster (Bernoulli models).
    Raster(SweepData),
    /// z-scored voxel signals (Gaussian models).
    Voxels(VoxelData),
}

impl SweepInput {
    /// Loads or generates the sweep's data, as its `visible` setting asks.
    pub fn prepare(cfg: &SweepConfig) -> Result<Self> {
        Ok(match cfg.visible {
            Visible::Bernoulli => Self::Raster(SweepData::prepare(cfg)?),
            Visible::Gaussian => Self::Voxels(VoxelData::prepare(cfg)?),
        })
    }

    /// One line for logs: units, frames, coupling matrices.
    pub fn describe(&self) -> String {
        match self {
            Self::Raster(d) => format!(
                "{} neurons, {} train / {} test frames; coupling matrices: {}",
                d.split.train.n_visible,
                d.split.train.len(),
                d.split.test.len(),
                d.groups
                    .as_ref()
                    .map(|g| format!("{} {}", g.count, g.kind))
                    .unwrap_or_else(|| "none (no coordinates or regions)".into())
            ),
            Self::Voxels(d) => d.describe(),
        }
    }
}

/// Trains, evaluates and saves one model of either kind (Gaussian models train on
/// `device`); `on_update(k)` is called after each update. The row's part file is left to the
/// caller (it marks the model finished).
pub fn run_model(
    cfg: &SweepConfig,
    input: &SweepInput,
    job: &Job,
    dir: &Path,
    device: &Device,
    on_update: impl FnMut(usize),
) -> Result<ModelRow> {
    match input {
        SweepInput::Raster(d) => run_raster_model(cfg, d, job, dir, on_update),
        SweepInput::Voxels(d) => run_gauss_model(cfg, d, job, dir, device, on_update),
    }
}

/// The recording of a Bernoulli sweep, split once for all its models.
#[derive(Clone, Debug)]
pub struct SweepData {
    /// Data-set name written into every model's metadata.
    pub name: String,
    pub split: Split,
    pub groups: Option<Groups>,
    /// Planted assemblies of the synthetic default (for the recovery column).
    pub planted: Option<Vec<Vec<u32>>>,
}

impl SweepData {
    /// Loads (or generates) the recording, splits it chronologically, and groups the neurons.
    pub fn prepare(cfg: &SweepConfig) -> Result<Self> {
        let d = &cfg.data;
        let (recording, planted, name) = match &d.raster {
            Some(path) => {
                let rec = Recording::load(
                    path,
                    d.key.as_deref(),
                    d.coords.as_deref(),
                    d.coords_key.as_deref(),
                    d.regions.as_deref(),
                )?;
                (rec, None, path.display().to_string())
            }
            None => {
                let s = &d.synthetic;
                let syn = SyntheticConfig::with_assembly_size(
                    s.neurons,
                    s.assemblies,
                    s.frames,
                    s.assembly_size,
                    s.seed,
                )
                .generate()?;
                let name = format!(
                    "synthetic(N={}, K={}, T={}, seed={})",
                    s.neurons, s.assemblies, s.frames, s.seed
                );
                (syn.recording, Some(syn.memberships), name)
            }
        };
        let split = chronological_split(&recording.raster, &cfg.split)?;
        let by_voxels = |coords: &[[f64; 3]]| -> Result<Groups> {
            let (of_neuron, count) = voxel_groups(coords, cfg.couplings.voxel_size)?;
            Ok(Groups {
                kind: "voxels",
                of_neuron,
                count,
            })
        };
        let by_regions = |regions: &[usize], names: &[String]| Groups {
            kind: "regions",
            of_neuron: regions.to_vec(),
            count: names.len().max(regions.iter().max().map_or(0, |m| m + 1)),
        };
        let groups = match (
            cfg.couplings.group_by,
            &recording.coordinates,
            &recording.regions,
        ) {
            (GroupBy::Auto | GroupBy::Voxels, Some(c), _) => Some(by_voxels(c)?),
            (GroupBy::Auto | GroupBy::Regions, _, Some(r)) => {
                Some(by_regions(r, &recording.region_names))
            }
            (GroupBy::Auto, None, None) => None,
            (GroupBy::Voxels, None, _) => {
                return Err(AnalysisError::Invalid(
                    "couplings.group_by = \"voxels\" needs neuron coordinates (data.coords)".into(),
                ))
            }
            (GroupBy::Regions, _, None) => {
                return Err(AnalysisError::Invalid(
                    "couplings.group_by = \"regions\" needs region labels (data.regions)".into(),
                ))
            }
        };
        Ok(Self {
            name,
            split,
            groups,
            planted,
        })
    }
}

/// Prepares `dir` for a run of `cfg`: writes `sweep.json`, or refuses to run when the one there
/// holds another config (naming the first differing key) — even before any model is finished,
/// since a shard of the old config may still be running and would write parts the new config
/// accepts. Returns the models already finished; without `resume` there must be none.
pub fn prepare_dir(dir: &Path, cfg: &SweepConfig, resume: bool) -> Result<BTreeSet<usize>> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let ours = serde_json::to_value(cfg).map_err(|e| AnalysisError::Invalid(e.to_string()))?;
    config_manifest(dir).check_or_write(&ours)?;
    let (done, broken) = finished_models(dir)?;
    if !resume && !done.is_empty() {
        return Err(AnalysisError::BadFile {
            path: dir.to_path_buf(),
            message: format!(
                "already holds {} finished models; pass --resume to continue this sweep",
                done.len()
            ),
        });
    }
    for p in broken {
        std::fs::remove_file(&p).map_err(io_err(&p))?;
    }
    Ok(done)
}

/// The `sweep.json` manifest of `dir`.
fn config_manifest(dir: &Path) -> Manifest {
    Manifest::new(
        dir.join(CONFIG_FILE),
        "use another --out or the same config (or `run --fresh` to replace the config of a sweep \
         with no finished model, once no shard of it is running)",
    )
}

/// Starts `dir` over for a new config (`lambda-sweep run --fresh`): removes its `sweep.json`
/// so that [`prepare_dir`] writes the new one. Refused when any model of the old config is
/// finished (its results are never deleted here). The caller must make sure that no shard of
/// the old config is still running.
pub fn start_fresh(dir: &Path) -> Result<()> {
    let (done, _) = finished_models(dir)?;
    if !done.is_empty() {
        return Err(AnalysisError::BadFile {
            path: dir.join(crate::table::PARTS_DIR),
            message: format!(
                "holds {} finished models; --fresh only replaces the config of a sweep with none finished; use another --out",
                done.len()
            ),
        });
    }
    let path = dir.join(CONFIG_FILE);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(&path)(e)),
        _ => Ok(()),
    }
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    serde_json::from_str(&text).map_err(|e| AnalysisError::BadFile {
        path: path.to_path_buf(),
        message: format!("not valid JSON: {e}"),
    })
}

/// The config a sweep directory was run with.
pub fn load_dir_config(dir: &Path) -> Result<SweepConfig> {
    let path = dir.join(CONFIG_FILE);
    serde_json::from_value(read_json(&path)?).map_err(|e| AnalysisError::BadFile {
        path,
        message: format!("not a sweep config: {e}"),
    })
}

/// Stem of model `index`'s files, relative to the sweep directory.
pub fn model_stem(index: usize) -> String {
    format!("{MODELS_DIR}/m{index:05}")
}

/// The row of `job` before any result: NaN statistics, bad, not exploded, no couplings,
/// and the weight summaries of the saved model (`weights` [N, M] row-major).
pub fn job_row(
    cfg: &SweepConfig,
    job: &Job,
    visible: Visible,
    stem: &str,
    weights: &[f64],
    n_hidden: usize,
) -> ModelRow {
    let nan = f64::NAN;
    ModelRow {
        index: job.index as u64,
        lambda: job.lambda,
        range: job.range.clone(),
        seed: job.seed,
        recording: job.recording as u64,
        penalty: cfg.penalty.name().into(),
        visible: visible.name().into(),
        nrmse_v: nan,
        nrmse_h: nan,
        nrmse_vh: nan,
        nrmse_vv: nan,
        nrmse_hh: nan,
        norm4: nan,
        bad: true,
        good: false,
        exploded: false,
        exploded_epoch: None,
        exploded_update: None,
        exploded_phase: None,
        exploded_sweep: None,
        stability_margin: nan,
        growth_rate: nan,
        growth_bound: nan,
        updates: 0,
        train_s: 0.0,
        eval_s: 0.0,
        sparsity: weight_sparsity(weights, weights.len() / n_hidden.max(1), n_hidden),
        max_abs_weight: weights.iter().fold(0.0f64, |m, w| m.max(w.abs())),
        mean_jaccard: None,
        coupling_correlation: None,
        model_path: stem.to_string(),
        couplings_path: None,
        n_groups: 0,
    }
}

/// Trains, evaluates and saves one Bernoulli model; `on_update(k)` is called after each
/// update. The row's part file is left to the caller (it marks the model finished).
pub fn run_raster_model(
    cfg: &SweepConfig,
    data: &SweepData,
    job: &Job,
    dir: &Path,
    mut on_update: impl FnMut(usize),
) -> Result<ModelRow> {
    let t0 = Instant::now();
    let train_cfg = cfg.train_config(job);
    let mut trainer = PcdTrainer::new(&data.split.train, train_cfg.clone())?;
    while trainer.update < train_cfg.n_updates && trainer.step() {
        on_update(trainer.update);
    }
    let (model, report) = trainer.finish();
    let train_s = t0.elapsed().as_secs_f64();

    let t1 = Instant::now();
    let stem = model_stem(job.index);
    save_model_atomic(
        &model,
        &ModelMetadata {
            config: Some(train_cfg.clone()),
            lambda: Some(job.lambda),
            dataset: Some(data.name.clone()),
            report: Some(report.clone()),
            ..Default::default()
        },
        dir.join(&stem),
    )?;
    let exploded = report.exploded.clone();
    let mut row = ModelRow {
        exploded: exploded.is_some(),
        exploded_epoch: exploded.as_ref().map(|x| x.epoch),
        exploded_update: exploded.as_ref().map(|x| x.update as u64),
        exploded_phase: exploded.as_ref().map(|_| "training".into()),
        updates: report.updates_done as u64,
        train_s,
        ..job_row(
            cfg,
            job,
            Visible::Bernoulli,
            &stem,
            &model.weights,
            model.n_hidden,
        )
    };
    if exploded.is_none() {
        evaluate_raster_model(cfg, data, job, dir, &model, &mut row)?;
    }
    row.eval_s = t1.elapsed().as_secs_f64();
    Ok(row)
}

/// The held-out nRMSE of a Bernoulli model that trained to the end, its identity points
/// (`.stats.parquet`), planted-assembly recovery and aggregated couplings, into `row`.
fn evaluate_raster_model(
    cfg: &SweepConfig,
    data: &SweepData,
    job: &Job,
    dir: &Path,
    model: &crbm::Crbm,
    row: &mut ModelRow,
) -> Result<()> {
    let stem = row.model_path.clone();
    let eval = EvalConfig {
        sampling: crbm::stats::SamplingConfig {
            seed: job.seed,
            ..cfg.eval.sampling.clone()
        },
        seed: job.seed,
        ..cfg.eval.clone()
    };
    let e = evaluate_detailed(model, &data.split.train, &data.split.test, &eval)?;
    let r = &e.report;
    (
        row.nrmse_v,
        row.nrmse_h,
        row.nrmse_vh,
        row.nrmse_vv,
        row.nrmse_hh,
    ) = (r.v, r.h, r.vh, r.vv, r.hh);
    (row.norm4, row.bad, row.good) = (r.norm4, r.bad, r.good);
    write_identity_points(
        &dir.join(format!("{stem}.stats.parquet")),
        &e.test,
        &e.model,
        cfg.identity_points,
    )?;
    row.mean_jaccard = data
        .planted
        .as_ref()
        .map(|p| mean_jaccard(&assembly_recovery(model, p)));
    if let Some(g) = &data.groups {
        let j = aggregate_approx_couplings(model, &data.split.train, &g.of_neuron, g.count)?;
        if j.iter().all(|x| x.is_finite()) {
            let rel = format!("{stem}.couplings.npy");
            write_matrix_npy(&dir.join(&rel), &j, g.count)?;
            row.couplings_path = Some(rel);
            row.n_groups = g.count as u64;
        }
    }
    Ok(())
}

/// 1 − mean over hidden units of the participation ratio `(Σ_i w²)² / (N Σ_i w⁴)` of
/// weights w_iμ, shape [n, m] row-major.
pub fn weight_sparsity(weights: &[f64], n: usize, m: usize) -> f64 {
    if n == 0 || m == 0 {
        return f64::NAN;
    }
    let (mut s2, mut s4) = (vec![0.0f64; m], vec![0.0f64; m]);
    for row in weights.chunks(m) {
        for (mu, w) in row.iter().enumerate() {
            let w2 = w * w;
            s2[mu] += w2;
            s4[mu] += w2 * w2;
        }
    }
    let pr: f64 = (0..m)
        .map(|mu| {
            if s4[mu] > 0.0 {
                s2[mu] * s2[mu] / (n as f64 * s4[mu])
            } else {
                1.0
            }
        })
        .sum::<f64>()
        / m as f64;
    1.0 - pr
}

/// The five statistics of test data and model samples, at most `max_points` evenly strided
/// entries of each, as a tidy table (`statistic`, `test`, `model`).
pub(crate) fn write_identity_points(
    path: &Path,
    test_stats: &FiveStatistics,
    model_stats: &FiveStatistics,
    max_points: usize,
) -> Result<()> {
    let (mut stat, mut test, mut model) = (Vec::new(), Vec::new(), Vec::new());
    for (s, name) in STATISTICS {
        let (x, y) = (test_stats.get(s), model_stats.get(s));
        let step = x.len().div_ceil(max_points.max(1)).max(1);
        for k in (0..x.len().min(y.len())).step_by(step) {
            stat.push(name.to_string());
            test.push(x[k]);
            model.push(y[k]);
        }
    }
    let n = stat.len();
    let mut df = DataFrame::new(
        n,
        vec![
            Column::new("statistic".into(), stat),
            Column::new("test".into(), test),
            Column::new("model".into(), model),
        ],
    )
    .map_err(|e| AnalysisError::BadFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(write_parquet(path, &mut df)?)
}

/// The five statistics with their column names (`v`, `h`, `vh`, `vv`, `hh`).
pub const STATISTICS: [(Statistic, &str); 5] = [
    (Statistic::V, "v"),
    (Statistic::H, "h"),
    (Statistic::Vh, "vh"),
    (Statistic::Vv, "vv"),
    (Statistic::Hh, "hh"),
];

/// Writes a row-major f64 matrix [rows, values.len() / rows] as `.npy`, atomically.
pub fn write_matrix_npy(path: &Path, values: &[f64], rows: usize) -> Result<()> {
    let cols = values.len() / rows.max(1);
    let bytes = arrays::npy::encode(path, &[rows, cols], values).map_err(array_err)?;
    Ok(write_atomic(path, &bytes)?)
}

/// Reads a 2-D `.npy` matrix (any real dtype, C or Fortran order); returns (values
/// row-major, rows, cols).
pub fn read_matrix_npy(path: &Path) -> Result<(Vec<f64>, usize, usize)> {
    let a = arrays::npy::read(path).map_err(array_err)?;
    match a.matrix_dims() {
        Some((rows, cols)) => Ok((a.values, rows, cols)),
        None => Err(AnalysisError::BadFile {
            path: path.to_path_buf(),
            message: format!("expected a 2-D matrix, shape is {:?}", a.shape),
        }),
    }
}

/// An `arrays` error as an analysis error naming the same file.
fn array_err(e: arrays::ArrayError) -> AnalysisError {
    match e {
        arrays::ArrayError::Io { path, source } => AnalysisError::Io { path, source },
        other => AnalysisError::BadFile {
            path: other.path().to_path_buf(),
            message: other.problem(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{merge, write_part};

    fn tiny() -> SweepConfig {
        let mut c = SweepConfig::quick_raster();
        c.data.synthetic.neurons = 120;
        c.data.synthetic.frames = 400;
        c.data.synthetic.assemblies = 4;
        c.data.synthetic.assembly_size = 15.0;
        c.grids.iter_mut().for_each(|g| g.count = 1);
        c.seeds = 1;
        c.train.n_hidden = 6;
        c.train.n_updates = 20;
        c.eval.sampling.n_chains = 20;
        c.eval.sampling.burn_in = 5;
        c
    }

    #[test]
    fn a_diverging_model_is_flagged_exploded_not_crashed() {
        let mut cfg = tiny();
        cfg.train.optimizer = crbm::optim::Optimizer::Sgd;
        cfg.train.learning_rate = 50.0;
        cfg.train.learning_rate_final = 50.0;
        cfg.train.max_abs_weight = 5.0;
        let dir = std::env::temp_dir().join(format!("sweep-explode-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let data = SweepData::prepare(&cfg).unwrap();
        let row = run_raster_model(&cfg, &data, &cfg.jobs()[0], &dir, |_| ()).unwrap();
        assert!(row.exploded && row.bad && !row.good, "{row:?}");
        assert!(row.exploded_epoch.is_some_and(|e| e > 0.0));
        assert!(row
            .exploded_update
            .is_some_and(|u| u >= 1 && u == row.updates));
        assert!(row.norm4.is_nan() && row.couplings_path.is_none());
        // The model is still saved (with its training report) for inspection.
        let (_, meta) = crbm::io::load_model(dir.join(&row.model_path)).unwrap();
        assert!(meta.report.unwrap().exploded.is_some());
    }

    #[test]
    fn participation_sparsity_matches_hand_values() {
        // Unit 0: one neuron (PR = 1/4); unit 1: all four equal (PR = 1).
        let w = vec![1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0];
        assert!((weight_sparsity(&w, 4, 2) - (1.0 - (0.25 + 1.0) / 2.0)).abs() < 1e-15);
    }

    #[test]
    fn matrices_round_trip_through_npy() {
        let d = std::env::temp_dir().join(format!("sweep-npy-{}", std::process::id()));
        let p = d.join("j.npy");
        let v: Vec<f64> = (0..12).map(|k| k as f64 * 0.5 - 1.0).collect();
        write_matrix_npy(&p, &v, 3).unwrap();
        assert_eq!(read_matrix_npy(&p).unwrap(), (v, 3, 4));
        std::fs::write(&p, b"junk").unwrap();
        let e = read_matrix_npy(&p).unwrap_err().to_string();
        assert!(e.contains("j.npy") && e.contains("not a .npy"), "{e}");
    }

    #[test]
    fn a_model_is_trained_evaluated_and_saved_and_dirs_refuse_other_configs() {
        let cfg = tiny();
        let dir = std::env::temp_dir().join(format!("sweep-run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(prepare_dir(&dir, &cfg, false).unwrap().is_empty());
        let data = SweepData::prepare(&cfg).unwrap();
        let g = data
            .groups
            .as_ref()
            .expect("synthetic data has coordinates");
        assert_eq!(g.kind, "voxels");
        let jobs = cfg.jobs();
        let mut calls = 0;
        let input = SweepInput::Raster(data.clone());
        let device = Device::flex();
        let row = run_model(&cfg, &input, &jobs[1], &dir, &device, |_| calls += 1).unwrap();
        assert_eq!(calls, cfg.train.n_updates);
        assert_eq!((row.index, row.range.as_str()), (1, "strong"));
        assert!(!row.exploded && row.nrmse_v.is_finite() && row.norm4.is_finite());
        assert!(row.mean_jaccard.is_some());
        let (j, k, k2) = read_matrix_npy(&dir.join(row.couplings_path.as_ref().unwrap())).unwrap();
        assert_eq!((k, k2), (g.count, g.count));
        assert!(j.iter().all(|x| x.is_finite() && *x >= 0.0));
        let (model, meta) = crbm::io::load_model(dir.join(&row.model_path)).unwrap();
        assert_eq!(model.n_hidden, 6);
        assert_eq!(meta.lambda, Some(jobs[1].lambda));
        // Same seed → same model.
        let again = run_raster_model(&cfg, &data, &jobs[1], &dir, |_| ()).unwrap();
        assert_eq!(
            (again.nrmse_v, again.norm4, again.sparsity),
            (row.nrmse_v, row.norm4, row.sparsity)
        );
        write_part(&dir, &row).unwrap();
        let e = prepare_dir(&dir, &cfg, false).unwrap_err().to_string();
        assert!(e.contains("--resume"), "{e}");
        assert_eq!(prepare_dir(&dir, &cfg, true).unwrap().len(), 1);
        let mut other = cfg.clone();
        other.seeds = 2;
        let e = prepare_dir(&dir, &other, true).unwrap_err().to_string();
        assert!(
            e.contains("sweep.json: made with other settings (seeds: directory has 1, this run 2)"),
            "{e}"
        );
        // --fresh never discards finished models.
        let e = start_fresh(&dir).unwrap_err().to_string();
        assert!(e.contains("holds 1 finished models"), "{e}");
        // Before any model is finished another config is refused too (a shard of the old one
        // may still be running), unless the directory is started over.
        let fresh = dir.join("fresh");
        prepare_dir(&fresh, &cfg, false).unwrap();
        let e = prepare_dir(&fresh, &other, false).unwrap_err().to_string();
        assert!(
            e.contains("seeds: directory has 1, this run 2") && e.contains("--fresh"),
            "{e}"
        );
        assert_eq!(load_dir_config(&fresh).unwrap(), cfg);
        start_fresh(&fresh).unwrap();
        assert!(prepare_dir(&fresh, &other, false).unwrap().is_empty());
        assert_eq!(load_dir_config(&fresh).unwrap(), other);
        assert_eq!(load_dir_config(&dir).unwrap(), cfg);
        assert!(merge(&dir, 2).is_err());
    }
}
