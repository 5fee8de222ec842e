//! Gaussian-visible models in a sweep (the λ-sweep study's model): the voxel signals are
//! prepared once ([`VoxelData`]), then each (λ, seed) model goes through
//! `crbm::gauss::fit::fit` (split → standardised PCD on a burn device → evaluation from the
//! prior → voxel couplings `W diag⟨Var h⟩ Wᵀ` → planted-truth score) and is written as in
//! [`crate::sweep`]. A model that explodes, in training or while sampling, is a row with
//! `exploded = true`, its phase, update (and sweep), and stability margin; it never stops
//! the sweep, and has no coupling matrix (so it never enters PCA or K-means).

use std::cell::Cell;
use std::path::Path;
use std::time::Instant;

use burn::tensor::Device;
use crbm::gauss::fit::{fit, GaussFit, Truth};
use crbm::gauss::input::{load_recordings, GaussSource};
use crbm::gauss::io::{save, GaussMetadata};
use crbm::gauss::stability::normalisability;
use crbm::gauss::train::{GaussExplosion, Phase};
use crbm::Frames;

use crate::config::{Job, SweepConfig, Visible};
use crate::error::Result;
use crate::sweep::{job_row, model_stem, write_identity_points, write_matrix_npy};
use crate::table::ModelRow;

/// The voxel signals of a Gaussian sweep.
#[derive(Clone, Debug)]
pub struct VoxelData {
    /// Data-set name written into every model's metadata.
    pub name: String,
    /// z-scored voxel signals of each recording the sweep trains on, [R] × [T_r, K] on one
    /// grid (R = `SweepConfig::n_recordings`: every fish of the synthetic brain, control
    /// fish included, or the chosen recording(s) of a voxel archive).
    pub recordings: Vec<Frames>,
    /// What each recording is, for the models' data-set names, [R] (e.g. `recording 1 =
    /// archive recording 3`, `recording 4, control fish`).
    pub labels: Vec<String>,
    /// Planted voxel couplings and assemblies (synthetic brain).
    pub truth: Option<Truth>,
}

impl VoxelData {
    /// Loads traces or a voxel archive, or generates the synthetic brain, on its grid.
    pub fn prepare(cfg: &SweepConfig) -> Result<Self> {
        let source = cfg.data.gauss_source();
        if let (GaussSource::Traces { path, .. }, false) = (&source, cfg.data.recordings.is_empty())
        {
            return Err(invalid(format!(
                "data.recordings = {:?} needs a voxelize archive (.npz with its .json sidecar) as data.traces; {} is not one",
                cfg.data.recordings,
                path.display()
            )));
        }
        let all = load_recordings(&source)?;
        let (recordings, labels) = match source {
            GaussSource::Synthetic { .. } => {
                let shared = cfg.shared_layout_recordings();
                let labels = (0..all.recordings.len())
                    .map(|r| match shared {
                        Some(n) if r >= n => format!("recording {r}, control fish"),
                        _ => format!("recording {r}"),
                    })
                    .collect();
                (all.recordings, labels)
            }
            GaussSource::Voxels { .. } => {
                pick_archive_recordings(cfg, all.recordings, &all.dataset)?
            }
            GaussSource::Traces { .. } => (all.recordings, vec!["recording 0".into()]),
        };
        if recordings.len() != cfg.n_recordings() {
            return Err(invalid(format!(
                "the sweep trains on {} recording(s) (data.brain.fish, data.recordings), but the source gave {}",
                cfg.n_recordings(),
                recordings.len()
            )));
        }
        let name = match cfg.shared_layout_recordings() {
            Some(n) => format!(
                "{}; recordings {n}.. are control fish with their own layouts",
                all.dataset
            ),
            None => all.dataset,
        };
        Ok(Self {
            name,
            recordings,
            labels,
            truth: all.truth,
        })
    }

    /// The data-set name of a model trained on recording `r`.
    pub fn dataset_of(&self, r: usize) -> String {
        match (self.recordings.len(), self.labels.get(r)) {
            (1, _) | (_, None) => self.name.clone(),
            (_, Some(label)) => format!("{} [{label}]", self.name),
        }
    }

    /// The frames of recording `r` (a job's `recording`), [T_r, K].
    pub fn frames(&self, r: usize) -> Result<&Frames> {
        self.recordings.get(r).ok_or_else(|| {
            crate::AnalysisError::Invalid(format!(
                "recording {r}: the sweep's data holds {} recording(s)",
                self.recordings.len()
            ))
        })
    }

    /// One line for logs.
    pub fn describe(&self) -> String {
        let k = self.recordings.first().map_or(0, |f| f.n_units);
        let frames = self.recordings.first().map_or(0, |f| f.len());
        let fish = match self.recordings.len() {
            1 => String::new(),
            r => format!(" x {r} recordings"),
        };
        format!(
            "{}: {k} voxels, {frames} frames{fish}; coupling matrices: {k} x {k} voxel couplings",
            self.name,
        )
    }
}

fn invalid(message: String) -> crate::AnalysisError {
    crate::AnalysisError::Invalid(message)
}

/// The recordings of a voxel archive a sweep trains on (`data.recordings`, or else
/// `data.recording`), in sweep order, with their labels; `dataset` names the archive.
fn pick_archive_recordings(
    cfg: &SweepConfig,
    mut all: Vec<Frames>,
    dataset: &str,
) -> Result<(Vec<Frames>, Vec<String>)> {
    let n = all.len();
    let wanted = cfg.data.archive_recordings();
    let field = match cfg.data.recordings.is_empty() {
        true => "data.recording",
        false => "data.recordings",
    };
    if let Some(r) = wanted.iter().find(|&&r| r >= n) {
        return Err(invalid(format!(
            "{field}: recording {r} is out of range, {dataset} holds {n} recording(s) (0..{n})"
        )));
    }
    let labels = wanted
        .iter()
        .enumerate()
        .map(|(k, a)| format!("recording {k} = archive recording {a}"))
        .collect();
    let frames = match wanted.as_slice() {
        [one] => vec![all.swap_remove(*one)],
        _ => wanted.iter().map(|&r| all[r].clone()).collect(),
    };
    Ok((frames, labels))
}

/// Trains (on `device`), evaluates and saves one Gaussian model; `on_update(k)` is called
/// after each update. The row's part file is left to the caller.
pub fn run_gauss_model(
    cfg: &SweepConfig,
    data: &VoxelData,
    job: &Job,
    dir: &Path,
    device: &Device,
    mut on_update: impl FnMut(usize),
) -> Result<ModelRow> {
    let fit_cfg = cfg.gauss_fit_config(job);
    let t0 = Instant::now();
    let trained_at = Cell::new(0.0f64);
    let frames = data.frames(job.recording)?;
    let f = fit(frames, data.truth.as_ref(), &fit_cfg, device, |k| {
        on_update(k);
        trained_at.set(t0.elapsed().as_secs_f64());
    })?;
    let total_s = t0.elapsed().as_secs_f64();
    let stem = model_stem(job.index);
    save(
        &f.model,
        &GaussMetadata {
            config: Some(fit_cfg.train.clone()),
            lambda: Some(job.lambda),
            dataset: Some(data.dataset_of(job.recording)),
            report: Some(f.train_report.clone()),
            ..Default::default()
        },
        dir.join(&stem),
    )?;
    let mut row = row_of(cfg, job, &f, &stem, fit_cfg.train.batch_size);
    (row.train_s, row.eval_s) = (trained_at.get(), total_s - trained_at.get());
    if let (Some(test), Some(model), false) =
        (&f.evaluation.test, &f.evaluation.model, row.exploded)
    {
        write_identity_points(
            &dir.join(format!("{stem}.stats.parquet")),
            test,
            model,
            cfg.identity_points,
        )?;
    }
    let k = f.model.n_visible;
    if !row.exploded && f.couplings.len() == k * k && f.couplings.iter().all(|x| x.is_finite()) {
        let rel = format!("{stem}.couplings.npy");
        write_matrix_npy(&dir.join(&rel), &f.couplings, k)?;
        row.couplings_path = Some(rel);
        row.n_groups = k as u64;
    }
    Ok(row)
}

/// Phase, update and sampling sweep of a model's explosion (`updates`: the trained model's
/// last update, the one a sampling explosion is charged to).
fn explosion_phase(
    explosion: Option<&GaussExplosion>,
    updates: u64,
) -> (Option<&'static str>, Option<u64>, Option<u64>) {
    match explosion {
        Some(e) if e.phase == Phase::Training => (Some("training"), Some(e.at as u64), None),
        Some(e) => (Some("sampling"), Some(updates), Some(e.at as u64)),
        None => (None, None, None),
    }
}

/// The table row of a fit (timings and coupling path filled in by the caller), with the
/// normalisability diagnostics of the trained model (`crbm::gauss::stability`). A model
/// certified improper (log Z = +∞) is not counted as exploded unless its chains ran away:
/// on the synthetic brain almost every trained model, at every λ, is marginally improper
/// (README, "Explosions, honestly").
fn row_of(cfg: &SweepConfig, job: &Job, f: &GaussFit, stem: &str, batch: usize) -> ModelRow {
    let r = &f.evaluation.report;
    let m = &f.model;
    let updates = f.train_report.updates_done as u64;
    let proper = m.is_valid().then(|| normalisability(m, job.seed));
    let explosion = f.explosion();
    let (phase, exploded_update, exploded_sweep) = explosion_phase(explosion, updates);
    let exploded = phase.is_some();
    ModelRow {
        nrmse_v: r.v,
        nrmse_h: r.h,
        nrmse_vh: r.vh,
        nrmse_vv: r.vv,
        nrmse_hh: r.hh,
        norm4: r.norm4,
        bad: r.bad || exploded,
        good: r.good && !exploded,
        exploded,
        exploded_epoch: exploded_update
            .map(|u| u as f64 * batch as f64 / f.train_frames.max(1) as f64),
        exploded_update,
        exploded_phase: phase.map(str::to_string),
        exploded_sweep,
        stability_margin: explosion
            .map(|e| e.stability_margin)
            .unwrap_or(f.train_report.stability_margin),
        growth_rate: proper.as_ref().map_or(f64::NAN, |n| n.best_growth),
        growth_bound: proper.as_ref().map_or(f64::NAN, |n| n.upper_bound),
        updates,
        mean_jaccard: f.truth.as_ref().map(|t| t.mean_jaccard),
        coupling_correlation: f.truth.as_ref().map(|t| t.coupling_correlation),
        ..job_row(cfg, job, Visible::Gaussian, stem, &m.weights, m.n_hidden)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sweep::{read_matrix_npy, run_model, SweepInput};

    /// 3 λ × 1 seed on a tiny voxelised brain; the weakest λ with an enormous learning rate
    /// explodes in training (deterministically), the others train.
    pub(crate) fn tiny_gauss() -> SweepConfig {
        let mut c = SweepConfig::quick();
        c.data.brain.neurons = 800;
        c.data.brain.frames = 400;
        c.data.brain.voxel_size = 80.0;
        c.grids.iter_mut().for_each(|g| g.count = 1);
        c.seeds = 1;
        c.gauss.train.n_hidden = 4;
        c.gauss.train.n_updates = 30;
        c.gauss.train.gibbs_steps = 3;
        c.gauss.sampling.n_chains = 20;
        c.gauss.sampling.burn_in = 20;
        c.gauss.sampling.samples_per_chain = 3;
        c.gauss.sampling.thinning = 5;
        c
    }

    #[test]
    fn a_gaussian_model_is_trained_scored_and_saved_and_an_explosion_is_a_row() {
        let cfg = tiny_gauss();
        let dir = std::env::temp_dir().join(format!("sweep-gauss-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let input = SweepInput::prepare(&cfg).unwrap();
        let SweepInput::Voxels(data) = &input else {
            panic!("a Gaussian sweep prepares voxels")
        };
        let k = data.recordings[0].n_units;
        assert!(k > 5 && data.truth.is_some(), "{}", data.describe());
        let device = Device::flex();
        let jobs = cfg.jobs();
        let mut calls = 0;
        let row = run_model(&cfg, &input, &jobs[1], &dir, &device, |_| calls += 1).unwrap();
        assert_eq!(calls, cfg.gauss.train.n_updates);
        assert_eq!(
            (row.visible.as_str(), row.range.as_str()),
            ("gaussian", "strong")
        );
        assert!(!row.exploded && row.norm4.is_finite() && row.stability_margin.is_finite());
        // The growth rate found never exceeds its certified upper bound, which never exceeds
        // minus the stability margin.
        assert!(row.growth_rate.is_finite(), "{row:?}");
        assert!(row.growth_rate <= row.growth_bound + 1e-9, "{row:?}");
        assert!(row.growth_bound <= -row.stability_margin + 1e-9, "{row:?}");
        assert!(row.coupling_correlation.is_some_and(|r| r.is_finite()));
        let (j, k1, k2) = read_matrix_npy(&dir.join(row.couplings_path.as_ref().unwrap())).unwrap();
        assert_eq!((k1, k2, row.n_groups), (k, k, k as u64));
        assert!(j.iter().all(|x| x.is_finite()) && j[0] == 0.0);
        let (model, meta) = crbm::gauss::io::load(dir.join(&row.model_path)).unwrap();
        assert_eq!((model.n_visible, meta.lambda), (k, Some(jobs[1].lambda)));
        assert!(dir
            .join(format!("{}.stats.parquet", row.model_path))
            .is_file());
        // Same seed → same model.
        let again = run_model(&cfg, &input, &jobs[1], &dir, &device, |_| ()).unwrap();
        assert_eq!(
            (again.norm4, again.sparsity, again.stability_margin),
            (row.norm4, row.sparsity, row.stability_margin)
        );

        // A weak penalty with a runaway learning rate: exploded in training, not an error.
        let mut wild = cfg.clone();
        wild.gauss.train.learning_rate = 5.0;
        wild.gauss.train.learning_rate_final = 5.0;
        let boom = run_model(&wild, &input, &jobs[0], &dir, &device, |_| ()).unwrap();
        assert!(boom.exploded && boom.bad && !boom.good, "{boom:?}");
        assert_eq!(boom.exploded_phase.as_deref(), Some("training"));
        let u = boom.exploded_update.expect("the update of the explosion");
        assert!(u >= 1 && u <= wild.gauss.train.n_updates as u64 && boom.updates <= u);
        assert!(boom.exploded_epoch.is_some_and(|e| e > 0.0));
        assert!(boom.couplings_path.is_none() && boom.norm4.is_nan());
    }

    /// A 3-recording `voxelize` archive (the synthetic brain's 3 fish on one grid, with its
    /// truth) in `dir`; returns its path and the archive.
    fn write_archive(dir: &Path) -> (std::path::PathBuf, crbm::voxel::Voxelised) {
        use crbm::voxel::VoxelConfig;
        let brain = crbm::brain::BrainConfig {
            n_neurons: 800,
            n_frames: 400,
            n_fish: 3,
            ..Default::default()
        };
        let voxels = VoxelConfig {
            voxel_size: 80.0,
            ..Default::default()
        };
        let (_, v, truth) = crbm::brain::synthetic_voxels(&brain, &voxels, 0.5).unwrap();
        let path = dir.join("voxels.npz");
        crbm::brain::save_synthetic_archive(&path, &brain, &v, &truth, 0.5).unwrap();
        (path, v)
    }

    #[test]
    fn every_listed_recording_of_a_voxel_archive_is_trained_and_compared() {
        let dir = std::env::temp_dir().join(format!("sweep-archive-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (archive, voxels) = write_archive(&dir);
        let mut cfg = tiny_gauss();
        cfg.grids.retain(|g| g.name == "strong");
        cfg.seeds = 2;
        cfg.data.traces = Some(archive.clone());
        cfg.data.recordings = vec![2, 0];
        cfg.validate().unwrap();
        assert_eq!(cfg.n_recordings(), 2);
        let input = SweepInput::prepare(&cfg).unwrap();
        let SweepInput::Voxels(data) = &input else {
            panic!("a Gaussian sweep prepares voxels")
        };
        // Sweep recording 0 is archive recording 2, sweep recording 1 archive recording 0.
        assert_eq!(data.recordings.len(), 2);
        assert_eq!(data.recordings[0], voxels.recordings[2].signals);
        assert_eq!(data.recordings[1], voxels.recordings[0].signals);
        assert!(data.truth.is_some());
        let sweep = dir.join("sweep");
        let device = Device::flex();
        let rows: Vec<ModelRow> = cfg
            .jobs()
            .iter()
            .map(|j| run_model(&cfg, &input, j, &sweep, &device, |_| ()).unwrap())
            .collect();
        assert_eq!(
            rows.iter()
                .map(|r| (r.recording, r.seed))
                .collect::<Vec<_>>(),
            [(0, 0), (0, 1), (1, 0), (1, 1)]
        );
        assert!(rows.iter().all(|r| r.couplings_path.is_some()), "{rows:?}");
        // Same seed, different recordings: different data, different model.
        assert_ne!(rows[0].sparsity, rows[2].sparsity);
        for (row, archive_recording) in [(&rows[0], 2), (&rows[3], 0)] {
            let (_, meta) = crbm::gauss::io::load(sweep.join(&row.model_path)).unwrap();
            let name = meta.dataset.unwrap();
            let label = format!(
                "recording {} = archive recording {archive_recording}",
                row.recording
            );
            assert!(name.contains(&label), "{name}");
        }
        let c = crate::consistency::consistency(&sweep, &rows, cfg.shared_layout_recordings())
            .unwrap()
            .expect("two recordings");
        let l = &c.per_lambda[0];
        assert_eq!((c.n_recordings, c.shared_layout), (2, None));
        assert_eq!((l.n_models, l.cross_pairs, l.within_pairs), (4, 4, 2));
        assert!(l.cross_correlation.is_finite() && l.within_correlation.is_finite());

        // Indices are checked against the archive; non-archive traces are refused.
        cfg.data.recordings = vec![0, 3];
        let e = VoxelData::prepare(&cfg).unwrap_err().to_string();
        assert!(
            e.contains("data.recordings: recording 3 is out of range") && e.contains("holds 3"),
            "{e}"
        );
        cfg.data.recordings = vec![];
        cfg.data.recording = 5;
        let e = VoxelData::prepare(&cfg).unwrap_err().to_string();
        assert!(e.contains("data.recording: recording 5"), "{e}");
        cfg.data.recording = 0;
        cfg.data.recordings = vec![0, 1];
        cfg.data.traces = Some(dir.join("no-sidecar.npz"));
        let e = VoxelData::prepare(&cfg).unwrap_err().to_string();
        assert!(
            e.contains("data.recordings = [0, 1] needs a voxelize archive"),
            "{e}"
        );
    }

    #[test]
    fn explosions_take_their_phase_and_sampling_ones_the_last_update() {
        let runaway = |phase, at| GaussExplosion {
            phase,
            at,
            reason: "runaway".into(),
            stability_margin: -1.0,
        };
        let training = runaway(Phase::Training, 7);
        let sampling = runaway(Phase::Sampling, 450);
        assert_eq!(
            explosion_phase(Some(&training), 30),
            (Some("training"), Some(7), None)
        );
        assert_eq!(
            explosion_phase(Some(&sampling), 30),
            (Some("sampling"), Some(30), Some(450))
        );
        assert_eq!(explosion_phase(None, 30), (None, None, None));
    }
}
