//! The sweep config (TOML): data set, λ grids, seeds per λ, training, evaluation and coupling
//! settings. Parsed once and checked at the boundary ([`SweepConfig::from_toml_file`]), so the
//! sweep itself can trust it.

use std::path::{Path, PathBuf};

use crbm::brain::BrainConfig;
use crbm::data::SplitConfig;
use crbm::gauss::evaluate::{ChainStart, GaussSamplingConfig};
use crbm::gauss::fit::GaussFitConfig;
use crbm::gauss::input::{GaussSource, SYNTHETIC_VOXEL_SIZE, TRACES_VOXEL_SIZE};
use crbm::gauss::GaussTrainConfig;
use crbm::penalty::Penalty;
use crbm::stats::EvalConfig;
use crbm::TrainConfig;
use serde::{Deserialize, Serialize};

use crate::error::{AnalysisError, Result};

/// How the values of a λ grid are spaced between `start` and `stop` (both included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Spacing {
    Linear,
    #[default]
    Log,
}

/// One named range of penalty strengths, e.g. `weak` = 0.005–0.1 (log, 6 values).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaGrid {
    pub name: String,
    pub start: f64,
    pub stop: f64,
    pub count: usize,
    #[serde(default)]
    pub spacing: Spacing,
}

impl LambdaGrid {
    /// The grid's λ values, ascending.
    pub fn values(&self) -> Vec<f64> {
        if self.count == 1 {
            return vec![self.start];
        }
        let t = |k: usize| k as f64 / (self.count - 1) as f64;
        (0..self.count)
            .map(|k| match self.spacing {
                Spacing::Linear => self.start + t(k) * (self.stop - self.start),
                Spacing::Log => (self.start.ln() + t(k) * (self.stop / self.start).ln()).exp(),
            })
            .collect()
    }
}

/// The weight penalty whose strength the sweep varies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PenaltyKind {
    /// `R = (λ/2N) Σ_μ (Σ_i |w_iμ|)²` (spec).
    #[default]
    L2l1,
    L1,
    L2,
}

impl PenaltyKind {
    pub fn with_lambda(self, lambda: f64) -> Penalty {
        match self {
            PenaltyKind::L2l1 => Penalty::L2L1 { lambda },
            PenaltyKind::L1 => Penalty::L1 { lambda },
            PenaltyKind::L2 => Penalty::L2 { lambda },
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PenaltyKind::L2l1 => "l2l1",
            PenaltyKind::L1 => "l1",
            PenaltyKind::L2 => "l2",
        }
    }
}

/// The built-in synthetic recording (planted assemblies in a brain-shaped volume).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyntheticData {
    pub neurons: usize,
    pub assemblies: usize,
    pub frames: usize,
    /// Expected member neurons per assembly (sets the assembly radius).
    pub assembly_size: f64,
    pub seed: u64,
}

impl Default for SyntheticData {
    fn default() -> Self {
        Self {
            neurons: 1000,
            assemblies: 12,
            frames: 3000,
            assembly_size: 30.0,
            seed: 0,
        }
    }
}

/// The kind of visible units the sweep's models have.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visible {
    /// Binary neurons (a spike raster), trained by `crbm::PcdTrainer` (`[train]`).
    #[default]
    Bernoulli,
    /// z-scored voxel signals, trained by `crbm::gauss` on a burn device (`[gauss.train]`):
    /// the λ-sweep study's model.
    Gaussian,
}

impl Visible {
    pub fn name(self) -> &'static str {
        match self {
            Visible::Bernoulli => "bernoulli",
            Visible::Gaussian => "gaussian",
        }
    }
}

/// The voxelised synthetic whole-brain recording (`crbm::brain`), the Gaussian sweeps'
/// default data set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrainData {
    /// Neurons per fish.
    pub neurons: usize,
    /// Frames per fish (3 Hz).
    pub frames: usize,
    pub assemblies: usize,
    /// Recordings ("fish") on one voxel grid; with more than one, every (λ, seed) model is
    /// trained on each fish (the `recording` column).
    pub fish: usize,
    /// sd of each fish's jitter of the assembly blob centres, µm.
    pub variability: f64,
    /// Negative control: fish 1.. draw their own assembly layouts instead of sharing fish
    /// 0's (`crbm::brain::BrainConfig::independent_layouts`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub independent_layouts: bool,
    /// Negative control in the same run: recordings `fish..fish + control_fish`, each with
    /// its own assembly layout (`crbm::brain::BrainConfig::control_fish`), trained like the
    /// others; the consistency report compares pairs of fish sharing the layout with pairs of
    /// fish with different layouts. The planted truth (`coupling_correlation`,
    /// `mean_jaccard`) is the shared layout's, for control fish too. Default 0 (none); needs
    /// `fish` ≥ 2.
    #[serde(skip_serializing_if = "jobs::settings::is_zero")]
    pub control_fish: usize,
    pub seed: u64,
    /// Voxel edge, µm.
    pub voxel_size: f64,
}

impl Default for BrainData {
    /// The generator's defaults (6,000 neurons, 3,000 frames, 12 assemblies) on 40 µm voxels:
    /// the same data set as `train-crbm --visible gaussian` without `--data` (494 voxels).
    fn default() -> Self {
        let b = BrainConfig::default();
        Self {
            neurons: b.n_neurons,
            frames: b.n_frames,
            assemblies: b.n_assemblies,
            fish: 1,
            variability: b.variability,
            independent_layouts: false,
            control_fish: 0,
            seed: 0,
            voxel_size: SYNTHETIC_VOXEL_SIZE,
        }
    }
}

impl BrainData {
    /// The generator config.
    pub fn brain_config(&self) -> BrainConfig {
        BrainConfig {
            n_neurons: self.neurons,
            n_frames: self.frames,
            n_assemblies: self.assemblies,
            n_fish: self.fish,
            variability: self.variability,
            independent_layouts: self.independent_layouts,
            control_fish: self.control_fish,
            seed: self.seed,
            ..BrainConfig::default()
        }
    }
}

/// Where the recording comes from: a raster file (with optional coordinates and region
/// labels), or the synthetic default when `raster` is absent; for Gaussian sweeps, traces
/// (`traces`, voxelised on a `voxel_size` grid when `coords` are given; or a `voxelize`
/// archive) or the voxelised synthetic brain (`[data.brain]`). Relative paths are taken
/// relative to the config file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Binary raster, frames × neurons (.npy, .npz, .csv, .h5).
    pub raster: Option<PathBuf>,
    /// Array (.npz) or dataset (HDF5) holding the raster.
    pub key: Option<String>,
    /// Neuron coordinates, neurons × 3 (µm).
    pub coords: Option<PathBuf>,
    pub coords_key: Option<String>,
    /// Region label per neuron (text lines or 1-D .npy).
    pub regions: Option<PathBuf>,
    pub synthetic: SyntheticData,
    /// Gaussian sweeps: continuous traces, frames × neurons (.npy, .npz, .csv, .h5), or a
    /// `voxelize` archive (.npz with its .json sidecar).
    pub traces: Option<PathBuf>,
    /// Array or dataset holding the traces.
    pub traces_key: Option<String>,
    /// Recording of a `voxelize` archive.
    pub recording: usize,
    /// Several recordings of a `voxelize` archive (indices into it, in sweep order): every
    /// (λ, seed) model is trained on each, and the `recording` column is the position in
    /// this list. Empty (the default): the one `recording`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recordings: Vec<usize>,
    /// Voxel edge for traces with coordinates, µm (default 20).
    pub voxel_size: Option<f64>,
    /// Gaussian sweeps without `traces`: the synthetic whole brain.
    pub brain: BrainData,
}

impl DataConfig {
    /// The archive recordings a Gaussian sweep on a `voxelize` archive trains on, in sweep
    /// order: `recordings`, or else the one `recording`.
    pub fn archive_recordings(&self) -> Vec<usize> {
        match self.recordings.is_empty() {
            true => vec![self.recording],
            false => self.recordings.clone(),
        }
    }

    /// The source of a Gaussian sweep's voxel signals.
    pub fn gauss_source(&self) -> GaussSource {
        match &self.traces {
            Some(path) if is_voxel_archive(path) => GaussSource::Voxels {
                path: path.clone(),
                recording: self.recording,
            },
            Some(path) => GaussSource::Traces {
                path: path.clone(),
                key: self.traces_key.clone(),
                coords: self.coords.clone().map(|c| (c, self.coords_key.clone())),
                voxel_size: self.voxel_size.unwrap_or(TRACES_VOXEL_SIZE),
            },
            None => GaussSource::Synthetic {
                brain: self.brain.brain_config(),
                voxel_size: self.brain.voxel_size,
            },
        }
    }
}

/// A `voxelize` archive is an `.npz` with a sidecar; anything else is traces.
fn is_voxel_archive(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "npz") && crbm::voxel::sidecar_path(path).exists()
}

/// Training and sampling of Gaussian-visible models (`visible = "gaussian"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaussSettings {
    /// Standardised PCD settings; the penalty and seed are set per model.
    pub train: GaussTrainConfig,
    /// Model samples for the evaluation (from the prior by default); the seed is set per
    /// model.
    pub sampling: GaussSamplingConfig,
}

impl Default for GaussSettings {
    fn default() -> Self {
        Self {
            train: GaussTrainConfig::default(),
            sampling: GaussSamplingConfig::default(),
        }
    }
}

/// How coupling matrices are aggregated before models are compared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// Voxels of a 3-D grid over the neuron coordinates when there are coordinates, else
    /// regions when there are labels, else no coupling matrices.
    #[default]
    Auto,
    Voxels,
    Regions,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CouplingConfig {
    pub group_by: GroupBy,
    /// Side of a cubic voxel, µm.
    pub voxel_size: f64,
}

impl Default for CouplingConfig {
    fn default() -> Self {
        Self {
            group_by: GroupBy::Auto,
            voxel_size: 100.0,
        }
    }
}

/// A λ sweep: every (λ, seed) pair of the grids is one model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SweepConfig {
    pub name: String,
    /// Binary neurons or Gaussian voxel signals.
    pub visible: Visible,
    pub data: DataConfig,
    /// λ ranges; the sweep's λ values are their values in order.
    pub grids: Vec<LambdaGrid>,
    /// Models (training seeds) per λ.
    pub seeds: usize,
    /// Seed of the first model of each λ; the others follow consecutively.
    pub seed_base: u64,
    pub penalty: PenaltyKind,
    /// Training settings of Bernoulli models; its penalty and seed are set per model.
    pub train: TrainConfig,
    /// Training and sampling settings of Gaussian models.
    pub gauss: GaussSettings,
    pub split: SplitConfig,
    pub eval: EvalConfig,
    pub couplings: CouplingConfig,
    /// Entries kept per statistic for identity plots (model vs test statistic).
    pub identity_points: usize,
}

impl Default for SweepConfig {
    /// The synthetic-default sweep: 12 λ values (6 in each of the two ranges of interest)
    /// × 3 seeds on N = 1000 neurons with 12 planted assemblies (M = 40, 600 updates of 10
    /// Gibbs sweeps): about 10 s per model on 2 cores.
    fn default() -> Self {
        Self {
            name: "synthetic-default".into(),
            visible: Visible::Bernoulli,
            data: DataConfig::default(),
            grids: vec![
                LambdaGrid {
                    name: "weak".into(),
                    start: 0.005,
                    stop: 0.1,
                    count: 6,
                    spacing: Spacing::Log,
                },
                LambdaGrid {
                    name: "strong".into(),
                    start: 0.5,
                    stop: 5.0,
                    count: 6,
                    spacing: Spacing::Log,
                },
            ],
            seeds: 3,
            seed_base: 0,
            penalty: PenaltyKind::L2l1,
            train: TrainConfig {
                n_hidden: 40,
                n_updates: 600,
                gibbs_steps: 10,
                ..TrainConfig::default()
            },
            gauss: GaussSettings::default(),
            split: SplitConfig::default(),
            eval: EvalConfig {
                sampling: crbm::stats::SamplingConfig {
                    n_chains: 200,
                    burn_in: 50,
                    samples_per_chain: 5,
                    thinning: 10,
                    seed: 0,
                },
                ..EvalConfig::default()
            },
            couplings: CouplingConfig::default(),
            identity_points: 2000,
        }
    }
}

/// |v| (in data sd, the data being z-scored) above which the study presets call chains
/// runaway and the model exploded.
pub const RUNAWAY_STATE: f64 = 50.0;

/// One model of the sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// Position in the sweep (λ-major, then recording, then seed); also its part-file number.
    pub index: usize,
    pub lambda: f64,
    pub seed: u64,
    /// Recording (fish) the model trains on, in 0..[`SweepConfig::n_recordings`].
    pub recording: usize,
    /// Name of the λ grid it belongs to.
    pub range: String,
}

impl SweepConfig {
    /// The λ-sweep study on the voxelised synthetic brain (Gaussian visible units,
    /// standardised PCD, evaluation from the prior, clipped nRMSE for the good rule): 13 λ
    /// (7 log-spaced in [0.005, 0.1], 6 in [0.5, 5]) × 5 seeds on 4,000 neurons in 50 µm
    /// voxels (284 units). The reference's training (M = 30, 20,000 updates of 50 sweeps at
    /// learning rate 5e-4) is scaled down to fit a 2-core machine: M = 20, 800 updates of 10
    /// sweeps at a 20× larger learning rate (1e-2 → 2e-4 from half-way). Chains with
    /// |v| > 50 data sd (training or evaluation) mark a model exploded: z-scored data never
    /// get there, chains of an improper model do. At 2e-2 models exploded in the first few
    /// dozen updates at every λ (a step-size instability, not the penalty's effect); at 1e-2
    /// the stability margin falls with weaker λ and the explosions come in evaluation
    /// sampling of weakly penalised models, the study's mechanism.
    pub fn study() -> Self {
        let grid = |name: &str, start, stop, count| LambdaGrid {
            name: name.into(),
            start,
            stop,
            count,
            spacing: Spacing::Log,
        };
        let d = Self::default();
        Self {
            name: "study-synthetic-brain".into(),
            visible: Visible::Gaussian,
            data: DataConfig {
                brain: BrainData {
                    neurons: 4000,
                    frames: 2000,
                    voxel_size: 50.0,
                    ..BrainData::default()
                },
                ..DataConfig::default()
            },
            grids: vec![grid("weak", 0.005, 0.1, 7), grid("strong", 0.5, 5.0, 6)],
            seeds: 5,
            gauss: GaussSettings {
                train: GaussTrainConfig {
                    n_hidden: 20,
                    batch_size: 100,
                    gibbs_steps: 10,
                    n_updates: 800,
                    learning_rate: 1e-2,
                    learning_rate_final: 2e-4,
                    max_abs_state: RUNAWAY_STATE,
                    log_every: 50,
                    ..GaussTrainConfig::default()
                },
                sampling: GaussSamplingConfig {
                    start: ChainStart::Prior,
                    n_chains: 50,
                    burn_in: 500,
                    samples_per_chain: 10,
                    thinning: 50,
                    max_abs_state: RUNAWAY_STATE,
                    ..GaussSamplingConfig::default()
                },
            },
            eval: EvalConfig {
                clip_nrmse: true,
                ..EvalConfig::default()
            },
            identity_points: 2000,
            ..d
        }
    }

    /// The main job's sweep (`pipeline`): the study's data, model and training at the two
    /// ends of each range (λ = 0.005, 0.1, 0.5, 5) × 2 seeds — about 1.5 min on 2 cores.
    /// Seed 1 explodes while sampling at both weak λ; no strong-λ model explodes.
    pub fn quick() -> Self {
        let s = Self::study();
        let grid = |name: &str, start, stop| LambdaGrid {
            name: name.into(),
            start,
            stop,
            count: 2,
            spacing: Spacing::Log,
        };
        Self {
            name: "study-quick".into(),
            grids: vec![grid("weak", 0.005, 0.1), grid("strong", 0.5, 5.0)],
            seeds: 2,
            identity_points: 500,
            ..s
        }
    }

    /// A small Bernoulli sweep (binary raster): 6 λ values in two ranges × 2 seeds on 400
    /// neurons, a few hundred updates each.
    pub fn quick_raster() -> Self {
        let d = Self::default();
        let grid = |name: &str, start, stop| LambdaGrid {
            name: name.into(),
            start,
            stop,
            count: 3,
            spacing: Spacing::Log,
        };
        Self {
            name: "synthetic-quick".into(),
            data: DataConfig {
                synthetic: SyntheticData {
                    neurons: 400,
                    assemblies: 8,
                    frames: 1500,
                    assembly_size: 25.0,
                    seed: 0,
                },
                ..DataConfig::default()
            },
            grids: vec![grid("weak", 0.005, 0.1), grid("strong", 0.5, 5.0)],
            seeds: 2,
            train: TrainConfig {
                n_hidden: 24,
                n_updates: 300,
                batch_size: 50,
                n_chains: 50,
                gibbs_steps: 5,
                log_every: 50,
                ..d.train
            },
            eval: EvalConfig {
                sampling: crbm::stats::SamplingConfig {
                    n_chains: 100,
                    burn_in: 30,
                    samples_per_chain: 5,
                    thinning: 5,
                    seed: 0,
                },
                ..EvalConfig::default()
            },
            couplings: CouplingConfig {
                group_by: GroupBy::Auto,
                voxel_size: 150.0,
            },
            identity_points: 500,
            ..d
        }
    }

    /// Reads and checks a TOML sweep config; relative data paths are resolved against the
    /// file's directory. Errors name the file.
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(crate::error::io_err(path))?;
        let bad = |message: String| AnalysisError::Config {
            path: path.to_path_buf(),
            message,
        };
        let mut cfg = Self::from_toml_str(&text).map_err(bad)?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut cfg.data.raster,
            &mut cfg.data.coords,
            &mut cfg.data.regions,
            &mut cfg.data.traces,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(cfg)
    }

    /// Parses and checks a TOML sweep config (the error is a message without a path).
    pub fn from_toml_str(text: &str) -> std::result::Result<Self, String> {
        let value: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        // `TrainConfig` and `EvalConfig` belong to `crbm` and accept unknown keys; a typo in a
        // sweep of hundreds of models is expensive, so reject keys they do not have.
        let gauss = value.get("gauss");
        for (section, table, known) in [
            (
                "train",
                value.get("train"),
                toml_keys(&TrainConfig::default()),
            ),
            ("eval", value.get("eval"), toml_keys(&EvalConfig::default())),
            (
                "split",
                value.get("split"),
                toml_keys(&SplitConfig::default()),
            ),
            (
                "gauss.train",
                gauss.and_then(|g| g.get("train")),
                toml_keys(&GaussTrainConfig::default()),
            ),
            (
                "gauss.sampling",
                gauss.and_then(|g| g.get("sampling")),
                toml_keys(&GaussSamplingConfig::default()),
            ),
        ] {
            if let Some(toml::Value::Table(t)) = table {
                if let Some(k) = t.keys().find(|k| !known.contains(k)) {
                    return Err(format!(
                        "unknown key '{k}' in [{section}] (known: {})",
                        known.join(", ")
                    ));
                }
            }
        }
        let cfg: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        cfg.validate().map_err(|e| e.to_string())?;
        Ok(cfg)
    }

    /// The config as TOML (for `lambda-sweep print-config`).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot serialise: {e}\n"))
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(AnalysisError::Invalid(m));
        if self.grids.is_empty() {
            return bad("the sweep needs at least one [[grids]] entry".into());
        }
        for (k, g) in self.grids.iter().enumerate() {
            if g.name.trim().is_empty() {
                return bad(format!("grid {k} has an empty name"));
            }
            if self.grids[..k].iter().any(|h| h.name == g.name) {
                return bad(format!("grid name '{}' appears twice", g.name));
            }
            let positive = g.start > 0.0 || (g.spacing == Spacing::Linear && g.start >= 0.0);
            if !(g.start.is_finite() && g.stop.is_finite() && positive && g.stop >= g.start) {
                return bad(format!(
                    "grid '{}': need finite 0 < start ≤ stop (0 ≤ start for linear spacing), got {}..{}",
                    g.name, g.start, g.stop
                ));
            }
            if g.count == 0 {
                return bad(format!("grid '{}': count must be ≥ 1", g.name));
            }
        }
        if self.seeds == 0 {
            return bad("seeds (models per λ) must be ≥ 1".into());
        }
        if !(self.couplings.voxel_size > 0.0 && self.couplings.voxel_size.is_finite()) {
            return bad(format!(
                "couplings.voxel_size must be > 0 µm, got {}",
                self.couplings.voxel_size
            ));
        }
        if self.identity_points == 0 {
            return bad("identity_points must be ≥ 1".into());
        }
        let first = self.jobs().remove(0);
        match self.visible {
            Visible::Bernoulli => self.validate_raster(&first),
            Visible::Gaussian => self.validate_gauss(&first),
        }
    }

    fn validate_raster(&self, first: &Job) -> Result<()> {
        let bad = |m: &str| Err(AnalysisError::Invalid(m.into()));
        let d = &self.data.synthetic;
        if self.data.traces.is_some() {
            return bad("data.traces holds continuous signals: set visible = \"gaussian\" (Bernoulli sweeps read data.raster)");
        }
        if !self.data.recordings.is_empty() {
            return bad("data.recordings selects recordings of a voxelize archive: set visible = \"gaussian\" and data.traces");
        }
        if self.data.raster.is_none()
            && (d.neurons == 0 || d.frames == 0 || !(d.assembly_size > 0.0))
        {
            return bad("data.synthetic: neurons, frames and assembly_size must be > 0");
        }
        if self.data.raster.is_none() && (self.data.coords.is_some() || self.data.regions.is_some())
        {
            return bad("data.coords and data.regions need data.raster");
        }
        // The training config with the first λ and seed: catches bad rates, sizes, etc.
        self.train_config(first).validate()?;
        Ok(())
    }

    fn validate_gauss(&self, first: &Job) -> Result<()> {
        let bad = |m: String| Err(AnalysisError::Invalid(m));
        let data = &self.data;
        if data.raster.is_some() {
            return bad("visible = \"gaussian\" reads data.traces (continuous signals, voxelised with data.coords) or [data.brain], not data.raster".into());
        }
        if data.regions.is_some() {
            return bad(
                "data.regions: Gaussian sweeps compare voxel couplings, not regions".into(),
            );
        }
        if data.traces.is_none() && data.coords.is_some() {
            return bad("data.coords needs data.traces".into());
        }
        if let Some(v) = data.voxel_size {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("data.voxel_size must be > 0 µm, got {v}"));
            }
        }
        self.validate_recordings()?;
        let b = &data.brain;
        if data.traces.is_none() {
            if b.neurons == 0 || b.frames == 0 || b.assemblies == 0 || b.fish == 0 {
                return bad("data.brain: neurons, frames, assemblies and fish must be ≥ 1".into());
            }
            if b.control_fish > 0 && b.fish < 2 {
                return bad(format!(
                    "data.brain.control_fish = {} needs data.brain.fish ≥ 2 (pairs of fish sharing a layout to compare the controls with), got fish = {}",
                    b.control_fish, b.fish
                ));
            }
            if b.control_fish > 0 && b.independent_layouts {
                return bad(
                    "data.brain.control_fish needs data.brain.independent_layouts = false (control fish are compared with fish sharing a layout)".into(),
                );
            }
            if !(b.voxel_size.is_finite() && b.voxel_size > 0.0) {
                return bad(format!(
                    "data.brain.voxel_size must be > 0 µm, got {}",
                    b.voxel_size
                ));
            }
            b.brain_config().validate()?;
        }
        let fit = self.gauss_fit_config(first);
        fit.train.validate()?;
        fit.sampling.validate()?;
        Ok(())
    }

    /// `data.recordings` as far as it can be checked without reading the archive (the
    /// indices are checked against it when the data are prepared).
    fn validate_recordings(&self) -> Result<()> {
        let bad = |m: String| Err(AnalysisError::Invalid(m));
        let data = &self.data;
        let list = &data.recordings;
        if list.is_empty() {
            return Ok(());
        }
        let Some(traces) = &data.traces else {
            return bad(format!(
                "data.recordings = {list:?} selects recordings of a voxelize archive (data.traces); the synthetic brain's recordings are data.brain.fish (and control_fish)"
            ));
        };
        if traces.extension().is_none_or(|e| e != "npz") {
            return bad(format!(
                "data.recordings = {list:?} needs a voxelize archive (.npz with its .json sidecar) as data.traces, got {}",
                traces.display()
            ));
        }
        if data.recording != 0 {
            return bad(format!(
                "give data.recording or data.recordings, not both (data.recording = {}, data.recordings = {list:?})",
                data.recording
            ));
        }
        if let Some((k, r)) = list
            .iter()
            .enumerate()
            .find(|(k, r)| list[..*k].contains(r))
        {
            return bad(format!(
                "data.recordings lists archive recording {r} twice (positions {} and {k})",
                list.iter().position(|x| x == r).unwrap_or(0)
            ));
        }
        Ok(())
    }

    /// The number of shared-layout recordings when the sweep has control fish
    /// (`data.brain.control_fish` > 0 on the synthetic brain of a Gaussian sweep): recordings
    /// 0..n share one assembly layout, recordings n.. each have their own. None otherwise.
    pub fn shared_layout_recordings(&self) -> Option<usize> {
        let b = &self.data.brain;
        match (self.visible, &self.data.traces) {
            (Visible::Gaussian, None) if b.control_fish > 0 => Some(b.fish),
            _ => None,
        }
    }

    /// The sweep's λ values in order, each with its grid's name.
    pub fn lambdas(&self) -> Vec<(f64, String)> {
        self.grids
            .iter()
            .flat_map(|g| g.values().into_iter().map(|l| (l, g.name.clone())))
            .collect()
    }

    /// Recordings the sweep trains on, each with every (λ, seed): the synthetic brain's
    /// fish and control fish for a Gaussian sweep without `data.traces`, the listed
    /// `data.recordings` of a voxel archive, else 1 (a raster, traces, or the
    /// `data.recording` of a voxel archive).
    pub fn n_recordings(&self) -> usize {
        match (self.visible, &self.data.traces) {
            (Visible::Gaussian, None) => self.data.brain.fish.max(1) + self.data.brain.control_fish,
            (Visible::Gaussian, Some(_)) => self.data.recordings.len().max(1),
            _ => 1,
        }
    }

    /// Every model of the sweep, λ-major, then recording, then seed (with one recording the
    /// indices are those of a sweep without recordings).
    pub fn jobs(&self) -> Vec<Job> {
        let mut jobs = Vec::new();
        for (lambda, range) in self.lambdas() {
            for recording in 0..self.n_recordings() {
                for s in 0..self.seeds {
                    jobs.push(Job {
                        index: jobs.len(),
                        lambda,
                        seed: self.seed_base + s as u64,
                        recording,
                        range: range.clone(),
                    });
                }
            }
        }
        jobs
    }

    /// Everything `crbm::gauss::fit::fit` needs for one Gaussian model: the sweep's
    /// training, sampling, evaluation and split settings with the job's λ and seed.
    pub fn gauss_fit_config(&self, job: &Job) -> GaussFitConfig {
        GaussFitConfig {
            train: GaussTrainConfig {
                penalty: self.penalty.with_lambda(job.lambda),
                seed: job.seed,
                ..self.gauss.train.clone()
            },
            sampling: GaussSamplingConfig {
                seed: job.seed,
                ..self.gauss.sampling.clone()
            },
            eval: EvalConfig {
                seed: job.seed,
                ..self.eval.clone()
            },
            split: self.split.clone(),
        }
    }

    /// The training config of one model.
    pub fn train_config(&self, job: &Job) -> TrainConfig {
        TrainConfig {
            penalty: self.penalty.with_lambda(job.lambda),
            seed: job.seed,
            ..self.train.clone()
        }
    }
}

/// The keys a serde struct writes (its fields, for unknown-key checks). Through JSON, which
/// keeps `None` fields as null where TOML would drop them.
fn toml_keys<T: Serialize>(value: &T) -> Vec<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_fish_repeat_every_lambda_and_seed_per_recording() {
        let mut cfg = SweepConfig::quick();
        cfg.seeds = 2;
        let one = cfg.jobs();
        assert!(one.iter().all(|j| j.recording == 0));
        cfg.data.brain.fish = 3;
        assert_eq!(cfg.n_recordings(), 3);
        let jobs = cfg.jobs();
        assert_eq!(jobs.len(), 3 * one.len());
        // λ-major, then recording, then seed.
        let key = |j: &Job| (j.lambda, j.recording, j.seed);
        assert_eq!(key(&jobs[0]), (one[0].lambda, 0, one[0].seed));
        assert_eq!(key(&jobs[1]), (one[0].lambda, 0, one[1].seed));
        assert_eq!(key(&jobs[2]), (one[0].lambda, 1, one[0].seed));
        assert_eq!(key(&jobs[6]), (one[2].lambda, 0, one[2].seed));
        assert!(jobs.iter().enumerate().all(|(k, j)| j.index == k));
        // Fish are counted only for the synthetic brain of a Gaussian sweep.
        let mut raster = SweepConfig::quick_raster();
        raster.data.brain.fish = 3;
        assert_eq!(raster.n_recordings(), 1);
        // The knobs are left out of sweep.json when off (older sweep directories still match).
        let json = serde_json::to_string(&SweepConfig::quick()).unwrap();
        assert!(!json.contains("independent_layouts"));
        assert!(!json.contains("control_fish") && !json.contains("recordings"));
        assert!(!SweepConfig::quick().to_toml().contains("control_fish"));
    }

    #[test]
    fn control_fish_follow_the_shared_fish_and_are_counted_as_recordings() {
        let mut cfg = SweepConfig::quick();
        cfg.data.brain.fish = 3;
        cfg.data.brain.control_fish = 2;
        cfg.validate().unwrap();
        assert_eq!(cfg.n_recordings(), 5);
        assert_eq!(cfg.shared_layout_recordings(), Some(3));
        assert_eq!(cfg.jobs().len(), 5 * cfg.lambdas().len() * cfg.seeds);
        let b = cfg.data.brain.brain_config();
        assert_eq!((b.n_fish, b.control_fish, b.n_recordings()), (3, 2, 5));
        let json = serde_json::to_string(&cfg).unwrap();
        assert!(json.contains("\"control_fish\":2"), "{json}");
        let back = SweepConfig::from_toml_str(&cfg.to_toml()).unwrap();
        assert_eq!(back, cfg);
        // No control fish, or not the synthetic brain: no shared-layout split.
        assert_eq!(SweepConfig::quick().shared_layout_recordings(), None);
        let mut raster = SweepConfig::quick_raster();
        raster.data.brain.control_fish = 2;
        assert_eq!(
            (raster.n_recordings(), raster.shared_layout_recordings()),
            (1, None)
        );
        let g = "visible = \"gaussian\"\n";
        for (text, needle) in [
            (
                format!("{g}[data.brain]\nfish = 1\ncontrol_fish = 2\n"),
                "data.brain.control_fish = 2 needs data.brain.fish ≥ 2",
            ),
            (
                format!(
                    "{g}[data.brain]\nfish = 2\ncontrol_fish = 2\nindependent_layouts = true\n"
                ),
                "data.brain.control_fish needs data.brain.independent_layouts = false",
            ),
        ] {
            let e = SweepConfig::from_toml_str(&text).unwrap_err();
            assert!(e.contains(needle), "{text:?}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn several_archive_recordings_are_counted_and_bad_lists_are_refused() {
        let mut cfg = SweepConfig::quick();
        cfg.data.traces = Some("voxels.npz".into());
        assert_eq!(cfg.n_recordings(), 1);
        assert_eq!(cfg.data.archive_recordings(), vec![0]);
        cfg.data.recordings = vec![2, 0, 1];
        cfg.validate().unwrap();
        assert_eq!(cfg.n_recordings(), 3);
        assert_eq!(cfg.data.archive_recordings(), vec![2, 0, 1]);
        assert_eq!(cfg.shared_layout_recordings(), None);
        let jobs = cfg.jobs();
        assert_eq!(jobs.len(), 3 * cfg.lambdas().len() * cfg.seeds);
        assert_eq!(jobs.iter().map(|j| j.recording).max(), Some(2));
        let back = SweepConfig::from_toml_str(&cfg.to_toml()).unwrap();
        assert_eq!(back, cfg);
        let g = "visible = \"gaussian\"\n";
        for (text, needle) in [
            (
                format!("{g}[data]\nrecordings = [0, 1]\n"),
                "data.recordings = [0, 1] selects recordings of a voxelize archive (data.traces)",
            ),
            (
                format!("{g}[data]\ntraces = \"t.npy\"\nrecordings = [0, 1]\n"),
                "data.recordings = [0, 1] needs a voxelize archive",
            ),
            (
                format!("{g}[data]\ntraces = \"v.npz\"\nrecording = 1\nrecordings = [0, 2]\n"),
                "give data.recording or data.recordings, not both",
            ),
            (
                format!("{g}[data]\ntraces = \"v.npz\"\nrecordings = [0, 2, 0]\n"),
                "data.recordings lists archive recording 0 twice (positions 0 and 2)",
            ),
            (
                "[data]\nrecordings = [0, 1]\n".to_string(),
                "data.recordings selects recordings of a voxelize archive",
            ),
        ] {
            let e = SweepConfig::from_toml_str(&text).unwrap_err();
            assert!(e.contains(needle), "{text:?}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn grids_are_spaced_as_asked_and_jobs_are_lambda_major() {
        let g = LambdaGrid {
            name: "a".into(),
            start: 0.01,
            stop: 1.0,
            count: 3,
            spacing: Spacing::Log,
        };
        let v = g.values();
        assert!((v[0] - 0.01).abs() < 1e-15 && (v[1] - 0.1).abs() < 1e-12);
        assert!((v[2] - 1.0).abs() < 1e-12);
        let lin = LambdaGrid {
            spacing: Spacing::Linear,
            ..g.clone()
        };
        assert!((lin.values()[1] - 0.505).abs() < 1e-12);
        let cfg = SweepConfig::default();
        let jobs = cfg.jobs();
        assert_eq!(jobs.len(), 12 * 3);
        assert_eq!(jobs[4].index, 4);
        assert_eq!((jobs[4].seed, jobs[4].range.as_str()), (1, "weak"));
        assert!((jobs[4].lambda - jobs[3].lambda).abs() < 1e-15);
        assert_eq!(jobs[35].range, "strong");
        assert!((jobs[35].lambda - 5.0).abs() < 1e-12);
        let tc = cfg.train_config(&jobs[35]);
        assert_eq!(
            tc.penalty,
            Penalty::L2L1 {
                lambda: jobs[35].lambda
            }
        );
        assert_eq!(tc.seed, 2);
    }

    #[test]
    fn toml_round_trip_and_clear_errors() {
        let cfg = SweepConfig::quick();
        let back = SweepConfig::from_toml_str(&cfg.to_toml()).unwrap();
        assert_eq!(back, cfg);
        let minimal = SweepConfig::from_toml_str(
            "seeds = 2\n[[grids]]\nname = \"w\"\nstart = 0.01\nstop = 0.1\ncount = 4\n",
        )
        .unwrap();
        assert_eq!(minimal.jobs().len(), 8);
        for (text, needle) in [
            ("seeds = 0\n", "seeds"),
            (
                "[train]\nlearning_rat = 0.1\n",
                "unknown key 'learning_rat'",
            ),
            ("[train]\ngrad_clip_norm = \"x\"\n", "grad_clip_norm"),
            ("bogus = 1\n", "bogus"),
            (
                "[[grids]]\nname = \"w\"\nstart = 0.0\nstop = 1.0\ncount = 3\n",
                "grid 'w'",
            ),
            ("grids = []\n", "at least one"),
            ("[train]\nn_hidden = 0\n", "n_hidden"),
            ("[couplings]\nvoxel_size = -1.0\n", "voxel_size"),
            ("seeds = \"x\"\n", "seeds"),
        ] {
            let e = SweepConfig::from_toml_str(text).unwrap_err();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn gaussian_presets_round_trip_and_give_each_model_its_lambda_and_seed() {
        for cfg in [SweepConfig::study(), SweepConfig::quick()] {
            assert_eq!(cfg.visible, Visible::Gaussian);
            let back = SweepConfig::from_toml_str(&cfg.to_toml()).unwrap();
            assert_eq!(back, cfg);
            assert!(cfg.eval.clip_nrmse);
            assert_eq!(cfg.gauss.sampling.start, ChainStart::Prior);
        }
        let study = SweepConfig::study();
        assert!(study.lambdas().len() >= 12 && study.seeds >= 5);
        let jobs = study.jobs();
        let f = study.gauss_fit_config(&jobs[7]);
        assert_eq!(
            f.train.penalty,
            Penalty::L2L1 {
                lambda: jobs[7].lambda
            }
        );
        assert_eq!((f.train.seed, f.sampling.seed, f.eval.seed), (2, 2, 2));
        assert!(f.eval.clip_nrmse);
        assert!(matches!(
            study.data.gauss_source(),
            GaussSource::Synthetic { voxel_size, .. } if voxel_size == study.data.brain.voxel_size
        ));
        let g = "visible = \"gaussian\"\n";
        for (text, needle) in [
            (
                format!("{g}[gauss.train]\nn_hiden = 3\n"),
                "unknown key 'n_hiden' in [gauss.train]",
            ),
            (format!("{g}[gauss.sampling]\nn_chains = 0\n"), "n_chains"),
            (
                format!("{g}[gauss.train]\nlearning_rate = -1.0\n"),
                "learning_rate",
            ),
            (format!("{g}[data]\nraster = \"r.npy\"\n"), "data.traces"),
            (format!("{g}[data.brain]\nfish = 0\n"), "fish"),
            (
                format!("{g}[data]\ncoords = \"c.npy\"\n"),
                "data.coords needs data.traces",
            ),
            (
                "[data]\ntraces = \"t.npy\"\n".to_string(),
                "visible = \"gaussian\"",
            ),
            (format!("visible = \"gauss\"\n"), "visible"),
        ] {
            let e = SweepConfig::from_toml_str(&text).unwrap_err();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn file_errors_name_the_file_and_paths_resolve_against_it() {
        let dir = std::env::temp_dir().join(format!("sweep-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s.toml");
        std::fs::write(&p, "seeds = -3\n").unwrap();
        let e = SweepConfig::from_toml_file(&p).unwrap_err().to_string();
        assert!(e.contains("s.toml"), "{e}");
        std::fs::write(&p, "[data]\nraster = \"r.npy\"\n").unwrap();
        let c = SweepConfig::from_toml_file(&p).unwrap();
        assert_eq!(c.data.raster, Some(dir.join("r.npy")));
        let e = SweepConfig::from_toml_file(&dir.join("missing.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.toml"), "{e}");
    }
}
