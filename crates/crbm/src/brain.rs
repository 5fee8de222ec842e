//! Whole-brain-like synthetic recordings with calcium traces: the default input of the
//! voxelised, Gaussian-visible path (docs/crbm-model.md, "Voxelised recordings").
//!
//! * **Volume.** Neurons are placed uniformly in a larval-zebrafish-sized brain (about
//!   800 × 400 × 250 µm; x rostro-caudal, y left-right with the midline at y = 200 µm,
//!   z dorso-ventral), the union of the ellipsoids of [`BRAIN_REGIONS`].
//! * **Assemblies.** Each assembly is one compact blob (radius `blob_radius`) or, for a
//!   share `distributed_fraction`, *distributed*: a bilateral pair of blobs mirrored across
//!   the midline, every second one with a third blob elsewhere. `overlap` is the
//!   probability that a blob is placed overlapping an earlier assembly's blob (centre one
//!   radius away) rather than two radii away from all of them. A neuron inside a blob joins
//!   with probability `membership_prob`.
//! * **Activity.** Each assembly is a two-state Markov process (mean active and silent
//!   durations in s). Members spike as a Poisson process at `active_rate_hz` while their
//!   assembly is active, and every neuron at its own background rate (log-normal).
//! * **Calcium.** Spikes are convolved with a GCaMP-like double-exponential kernel
//!   `k(τ) ∝ exp(−τ/τ_decay) − exp(−τ/τ_rise)`, peak `spike_amplitude` (ΔF/F), sampled half a
//!   frame after the spikes of a frame, plus Gaussian noise of sd `noise_sd`.
//! * **Fish.** `n_fish` recordings share the template layout of blob centres; each fish has
//!   its own jitter of the centres (sd `variability`, µm), neuron positions, memberships,
//!   activity and noise, drawn from `seed` and the fish index only (fish 0 of a 3-fish run is
//!   the 1-fish run). With `independent_layouts` (a negative control) each fish f > 0 draws
//!   its own template instead.
//! * **Control fish.** `control_fish` more recordings follow the `n_fish` shared-layout ones
//!   (fish n_fish.., same generator), each drawing its own template from `seed` and its fish
//!   index (a negative control in the same run: fish f of `n_fish + control_fish` fish with
//!   `independent_layouts` is control fish f). The voxel-level ground truth
//!   ([`synthetic_voxels`]) is that of the shared layout: it pools fish 0..n_fish only.
//!
//! Every random stream is [`lane_rng`]`(seed, fish·256 + stream, lane)` with lane = neuron or
//! assembly, so results do not depend on rayon's scheduling.
//!
//! [`voxel_truth`] turns a neuron→voxel map ([`crate::voxel`]) into the ground truth at voxel
//! level: assembly fractions, voxel assemblies and the true voxel × voxel coupling.

use rand::Rng;
use rand_distr::{Distribution, LogNormal, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{CrbmError, Result};
use crate::frames::Frames;
use crate::rng::lane_rng;

/// Brain regions as ellipsoids: (name, centre, semi-axes), µm.
pub const BRAIN_REGIONS: [(&str, [f64; 3], [f64; 3]); 6] = [
    ("forebrain", [130.0, 200.0, 130.0], [110.0, 120.0, 85.0]),
    ("tectum_left", [340.0, 110.0, 150.0], [120.0, 85.0, 80.0]),
    ("tectum_right", [340.0, 290.0, 150.0], [120.0, 85.0, 80.0]),
    ("tegmentum", [380.0, 200.0, 90.0], [110.0, 80.0, 60.0]),
    ("cerebellum", [500.0, 200.0, 170.0], [55.0, 150.0, 55.0]),
    ("hindbrain", [640.0, 200.0, 110.0], [160.0, 110.0, 90.0]),
];

/// The left-right midline, µm (y of the mirror plane of bilateral blobs).
pub const MIDLINE_Y: f64 = 200.0;

/// Generator settings; check them with [`BrainConfig::validate`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BrainConfig {
    /// Neurons per fish.
    pub n_neurons: usize,
    /// Frames per fish.
    pub n_frames: usize,
    /// Imaging rate, Hz.
    pub frame_rate: f64,
    pub n_assemblies: usize,
    /// Share of assemblies made of 2–3 separated blobs, in [0, 1].
    pub distributed_fraction: f64,
    /// Radius of one blob, µm.
    pub blob_radius: f64,
    /// Probability that a neuron inside a blob joins the assembly, in (0, 1].
    pub membership_prob: f64,
    /// Probability, in [0, 1], that a blob is placed overlapping an earlier assembly's blob.
    pub overlap: f64,
    /// Mean duration of an active period, s.
    pub mean_active_s: f64,
    /// Mean duration of a silent period, s.
    pub mean_silent_s: f64,
    /// Spike rate of a member while its assembly is active, Hz.
    pub active_rate_hz: f64,
    /// Median background spike rate, Hz.
    pub background_rate_hz: f64,
    /// sd of the log background rate across neurons.
    pub background_log_sd: f64,
    /// Calcium kernel rise time, s (< decay).
    pub rise_s: f64,
    /// Calcium kernel decay time, s.
    pub decay_s: f64,
    /// Peak ΔF/F of one spike.
    pub spike_amplitude: f64,
    /// sd of the additive Gaussian noise, ΔF/F.
    pub noise_sd: f64,
    /// Recordings sharing the assembly layout.
    pub n_fish: usize,
    /// sd of each fish's jitter of the blob centres, µm.
    pub variability: f64,
    /// Negative control for cross-fish comparisons: fish f > 0 draw their own template
    /// layout (from `seed` and f) instead of sharing fish 0's. Default false (shared layout).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub independent_layouts: bool,
    /// Negative control in the same run: recordings appended after the `n_fish` shared-layout
    /// fish (fish n_fish..n_fish + control_fish), each with its own template layout (from
    /// `seed` and its fish index). Default 0 (none).
    #[serde(skip_serializing_if = "jobs::settings::is_zero")]
    pub control_fish: usize,
    pub seed: u64,
}

impl Default for BrainConfig {
    fn default() -> Self {
        Self {
            n_neurons: 6_000,
            n_frames: 3_000,
            frame_rate: 3.0,
            n_assemblies: 12,
            distributed_fraction: 0.35,
            blob_radius: 35.0,
            membership_prob: 0.8,
            overlap: 0.2,
            mean_active_s: 1.5,
            mean_silent_s: 12.0,
            active_rate_hz: 4.0,
            background_rate_hz: 0.1,
            background_log_sd: 0.5,
            rise_s: 0.1,
            decay_s: 1.5,
            spike_amplitude: 1.0,
            noise_sd: 0.3,
            n_fish: 1,
            variability: 10.0,
            independent_layouts: false,
            control_fish: 0,
            seed: 0,
        }
    }
}

impl BrainConfig {
    /// Typed error for the first invalid setting.
    pub fn validate(&self) -> Result<()> {
        fn bad(field: &'static str, value: impl ToString, reason: &'static str) -> Result<()> {
            Err(CrbmError::InvalidConfig {
                field,
                value: value.to_string(),
                reason,
            })
        }
        let positive = |x: f64| x.is_finite() && x > 0.0;
        let non_negative = |x: f64| x.is_finite() && x >= 0.0;
        let unit = |x: f64| (0.0..=1.0).contains(&x);
        if self.n_neurons == 0 {
            return bad("n_neurons", 0, "must be ≥ 1");
        }
        if self.n_frames < 2 {
            return bad("n_frames", self.n_frames, "must be ≥ 2");
        }
        if self.n_fish == 0 {
            return bad("n_fish", 0, "must be ≥ 1");
        }
        if self.control_fish > 0 && self.independent_layouts {
            return bad(
                "control_fish",
                self.control_fish,
                "needs independent_layouts = false (control fish are compared with fish sharing a layout)",
            );
        }
        if self.n_assemblies > u16::MAX as usize {
            return bad("n_assemblies", self.n_assemblies, "must be ≤ 65535");
        }
        for (field, x) in [
            ("frame_rate", self.frame_rate),
            ("blob_radius", self.blob_radius),
            ("mean_active_s", self.mean_active_s),
            ("mean_silent_s", self.mean_silent_s),
            ("rise_s", self.rise_s),
            ("decay_s", self.decay_s),
        ] {
            if !positive(x) {
                return bad(field, x, "must be finite and > 0");
            }
        }
        if self.rise_s >= self.decay_s {
            return bad("rise_s", self.rise_s, "must be < decay_s");
        }
        for (field, x) in [
            ("active_rate_hz", self.active_rate_hz),
            ("background_rate_hz", self.background_rate_hz),
            ("background_log_sd", self.background_log_sd),
            ("spike_amplitude", self.spike_amplitude),
            ("noise_sd", self.noise_sd),
            ("variability", self.variability),
        ] {
            if !non_negative(x) {
                return bad(field, x, "must be finite and ≥ 0");
            }
        }
        for (field, x) in [
            ("distributed_fraction", self.distributed_fraction),
            ("overlap", self.overlap),
        ] {
            if !unit(x) {
                return bad(field, x, "must lie in [0, 1]");
            }
        }
        if !(self.membership_prob > 0.0 && self.membership_prob <= 1.0) {
            return bad(
                "membership_prob",
                self.membership_prob,
                "must lie in (0, 1]",
            );
        }
        // Poisson counts per frame are drawn by inversion, exact and fast for small means.
        let peak_rate = (self.background_rate_hz * (3.0 * self.background_log_sd).exp()
            + self.n_assemblies as f64 * self.active_rate_hz)
            / self.frame_rate;
        if peak_rate > 500.0 {
            return bad(
                "active_rate_hz",
                self.active_rate_hz,
                "spikes per frame too high (> 500); lower the rates or raise frame_rate",
            );
        }
        Ok(())
    }

    /// Frame interval, s.
    pub fn dt(&self) -> f64 {
        1.0 / self.frame_rate
    }

    /// Recordings generated: the shared-layout fish, then the control fish.
    pub fn n_recordings(&self) -> usize {
        self.n_fish + self.control_fish
    }
}

/// One synthetic recording and its ground truth.
#[derive(Clone, Debug, PartialEq)]
pub struct BrainFish {
    /// ΔF/F traces, shape [T, N].
    pub traces: Frames,
    /// Neuron positions, shape [N] × 3 (µm).
    pub coordinates: Vec<[f64; 3]>,
    /// Member neurons of each assembly (sorted), shape [A][·].
    pub assemblies: Vec<Vec<u32>>,
    /// This fish's blob centres of each assembly (the template jittered), µm, shape [A][·].
    pub blobs: Vec<Vec<[f64; 3]>>,
    /// Active state of each assembly in each frame, shape [A][T].
    pub active: Vec<Vec<bool>>,
}

/// Synthetic fish sharing one assembly layout (and the control fish, each with its own).
#[derive(Clone, Debug, PartialEq)]
pub struct Brain {
    pub config: BrainConfig,
    /// Template blob centres of each assembly, µm, shape [A][1–3].
    pub layout: Vec<Vec<[f64; 3]>>,
    /// One entry per fish: the `n_fish` shared-layout fish, then the `control_fish`.
    pub fish: Vec<BrainFish>,
}

/// Stream tags of [`lane_rng`]'s `step` (per fish).
const LAYOUT: u64 = 0;
const JITTER: u64 = 1;
const POSITIONS: u64 = 2;
const ACTIVITY: u64 = 3;
const TRACES: u64 = 4;

fn stream(fish: usize, tag: u64) -> u64 {
    ((fish as u64) << 8) | tag
}

/// Generates `config.n_fish + config.control_fish` recordings (validated config;
/// reproducible from `config.seed`).
pub fn generate(config: &BrainConfig) -> Result<Brain> {
    config.validate()?;
    let layout = assembly_layout(config, 0);
    let fish = (0..config.n_recordings())
        .map(|f| {
            let own = f > 0 && (config.independent_layouts || f >= config.n_fish);
            match own {
                true => generate_fish(config, &assembly_layout(config, f), f),
                false => generate_fish(config, &layout, f),
            }
        })
        .collect();
    Ok(Brain {
        config: config.clone(),
        layout,
        fish,
    })
}

/// Writes a synthetic brain's voxel archive at `path` (`.npz` and its `.json` sidecar; see
/// [`crate::voxel::Voxelised::save`]): the z-scored voxel signals of every fish, the planted
/// truth `true_coupling` [K, K] and `true_assemblies` [A, K], and the generator's settings
/// (`config`, `member_fraction`, voxels per assembly) in the sidecar. Returns the sidecar path.
pub fn save_synthetic_archive(
    path: &std::path::Path,
    config: &BrainConfig,
    voxels: &crate::voxel::Voxelised,
    truth: &VoxelTruth,
    member_fraction: f64,
) -> Result<std::path::PathBuf> {
    use crate::voxel::{ExtraArray, ExtraData};
    let (k, a) = (voxels.n_voxels() as u64, config.n_assemblies as u64);
    let extras = [
        ExtraArray {
            name: "true_coupling",
            shape: &[k, k],
            data: ExtraData::F64(&truth.coupling),
        },
        ExtraArray {
            name: "true_assemblies",
            shape: &[a, k],
            data: ExtraData::U8(&truth.membership),
        },
    ];
    let note = serde_json::json!({
        "generator": "crbm::brain",
        "brain_config": config,
        "member_fraction": member_fraction,
        "voxels_per_assembly": truth.assemblies.iter().map(Vec::len).collect::<Vec<_>>(),
    });
    voxels.save(path, &extras, Some(note))
}

/// Whether `p` lies inside the brain volume.
pub fn in_brain(p: [f64; 3]) -> bool {
    BRAIN_REGIONS
        .iter()
        .any(|(_, c, r)| (0..3).map(|d| ((p[d] - c[d]) / r[d]).powi(2)).sum::<f64>() <= 1.0)
}

/// Bounding box of the brain volume, (lowest, highest) per axis, µm.
fn brain_box() -> ([f64; 3], [f64; 3]) {
    let lo = std::array::from_fn(|d| {
        BRAIN_REGIONS
            .iter()
            .map(|(_, c, r)| c[d] - r[d])
            .fold(f64::INFINITY, f64::min)
    });
    let hi = std::array::from_fn(|d| {
        BRAIN_REGIONS
            .iter()
            .map(|(_, c, r)| c[d] + r[d])
            .fold(f64::NEG_INFINITY, f64::max)
    });
    (lo, hi)
}

/// A uniform point of the brain volume (rejection from its bounding box).
fn point_in_brain(rng: &mut impl Rng) -> [f64; 3] {
    let (lo, hi) = brain_box();
    loop {
        let p = std::array::from_fn(|d| rng.random_range(lo[d]..hi[d]));
        if in_brain(p) {
            return p;
        }
    }
}

fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|d| (a[d] - b[d]).powi(2)).sum::<f64>().sqrt()
}

fn mirrored(p: [f64; 3]) -> [f64; 3] {
    [p[0], 2.0 * MIDLINE_Y - p[1], p[2]]
}

/// Template blob centres: the first `round(distributed_fraction·A)` assemblies are
/// distributed (bilateral pair; every second one with a third blob), the rest compact.
/// `fish` picks the random stream: 0 for the shared template, f for fish f's own layout
/// (`independent_layouts`, control fish).
fn assembly_layout(config: &BrainConfig, fish: usize) -> Vec<Vec<[f64; 3]>> {
    let mut rng = lane_rng(config.seed, stream(fish, LAYOUT), 0);
    let n_distributed = (config.distributed_fraction * config.n_assemblies as f64).round() as usize;
    let r = config.blob_radius;
    let mut placed: Vec<[f64; 3]> = Vec::new();
    (0..config.n_assemblies)
        .map(|a| {
            let mut blobs = Vec::new();
            if a < n_distributed {
                // A first blob off the midline, so that the pair is two separated blobs.
                let first = place_blob(&mut rng, &placed, r, config.overlap, |p| {
                    (p[1] - MIDLINE_Y).abs() >= 1.5 * r && in_brain(mirrored(p))
                });
                blobs.extend([first, mirrored(first)]);
                placed.extend([first, mirrored(first)]);
                if a % 2 == 1 {
                    let pair = [first, mirrored(first)];
                    let third = place_blob(&mut rng, &placed, r, config.overlap, |p| {
                        pair.iter().all(|&q| distance(p, q) >= 3.0 * r)
                    });
                    blobs.push(third);
                    placed.push(third);
                }
            } else {
                let c = place_blob(&mut rng, &placed, r, config.overlap, |_| true);
                blobs.push(c);
                placed.push(c);
            }
            blobs
        })
        .collect()
}

/// A blob centre inside the brain satisfying `accept`: with probability `overlap` one radius
/// from a random earlier blob, else two radii from all earlier blobs (best effort: after
/// many failed tries the last candidate is taken).
fn place_blob(
    rng: &mut impl Rng,
    placed: &[[f64; 3]],
    radius: f64,
    overlap: f64,
    accept: impl Fn([f64; 3]) -> bool,
) -> [f64; 3] {
    let overlapping = !placed.is_empty() && rng.random_bool(overlap);
    let mut candidate = point_in_brain(rng);
    for attempt in 0..4_000 {
        // Overlapping placement falls back to free placement if no spot near earlier blobs fits.
        let near = overlapping && attempt < 2_000;
        candidate = if near {
            let anchor = placed[rng.random_range(0..placed.len())];
            let u = random_unit(rng);
            std::array::from_fn(|d| anchor[d] + radius * u[d])
        } else {
            point_in_brain(rng)
        };
        let spaced = near
            || placed
                .iter()
                .all(|&q| distance(candidate, q) >= 2.0 * radius);
        if in_brain(candidate) && spaced && accept(candidate) {
            break;
        }
    }
    candidate
}

fn random_unit(rng: &mut impl Rng) -> [f64; 3] {
    loop {
        let v: [f64; 3] = std::array::from_fn(|_| rng.sample(StandardNormal));
        let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        if n > 1e-9 {
            return v.map(|x| x / n);
        }
    }
}

fn generate_fish(config: &BrainConfig, layout: &[Vec<[f64; 3]>], fish: usize) -> BrainFish {
    let blobs = jittered_blobs(config, layout, fish);
    let neurons: Vec<Neuron> = (0..config.n_neurons)
        .into_par_iter()
        .map(|i| place_neuron(config, &blobs, fish, i))
        .collect();
    let active: Vec<Vec<bool>> = (0..config.n_assemblies)
        .into_par_iter()
        .map(|a| assembly_activity(config, fish, a))
        .collect();
    let traces = calcium_traces(config, &neurons, &active, fish);
    let mut assemblies = vec![Vec::new(); config.n_assemblies];
    for (i, n) in neurons.iter().enumerate() {
        n.member_of
            .iter()
            .for_each(|&a| assemblies[a as usize].push(i as u32));
    }
    BrainFish {
        traces,
        coordinates: neurons.iter().map(|n| n.position).collect(),
        assemblies,
        blobs,
        active,
    }
}

/// This fish's blob centres: the template plus N(0, variability²) per axis.
fn jittered_blobs(
    config: &BrainConfig,
    layout: &[Vec<[f64; 3]>],
    fish: usize,
) -> Vec<Vec<[f64; 3]>> {
    layout
        .iter()
        .enumerate()
        .map(|(a, blobs)| {
            let mut rng = lane_rng(config.seed, stream(fish, JITTER), a as u64);
            blobs
                .iter()
                .map(|c| c.map(|x| x + config.variability * rng.sample::<f64, _>(StandardNormal)))
                .collect()
        })
        .collect()
}

/// A neuron's position, assemblies and background spike rate.
struct Neuron {
    position: [f64; 3],
    member_of: Vec<u16>,
    /// Spikes per frame.
    background: f64,
}

fn place_neuron(config: &BrainConfig, blobs: &[Vec<[f64; 3]>], fish: usize, i: usize) -> Neuron {
    let mut rng = lane_rng(config.seed, stream(fish, POSITIONS), i as u64);
    let position = point_in_brain(&mut rng);
    let member_of = blobs
        .iter()
        .enumerate()
        .filter(|(_, bs)| {
            bs.iter()
                .any(|&c| distance(position, c) <= config.blob_radius)
        })
        .filter(|_| rng.random_bool(config.membership_prob))
        .map(|(a, _)| a as u16)
        .collect();
    let median = config.background_rate_hz * config.dt();
    let background = match LogNormal::new(median.max(1e-300).ln(), config.background_log_sd) {
        Ok(d) if median > 0.0 => d.sample(&mut rng),
        _ => 0.0,
    };
    Neuron {
        position,
        member_of,
        background,
    }
}

/// Two-state Markov chain per frame, started from its stationary distribution.
fn assembly_activity(config: &BrainConfig, fish: usize, a: usize) -> Vec<bool> {
    let mut rng = lane_rng(config.seed, stream(fish, ACTIVITY), a as u64);
    let dt = config.dt();
    let p_on = (dt / config.mean_silent_s).min(1.0);
    let p_off = (dt / config.mean_active_s).min(1.0);
    let mut on = rng.random_bool(p_on / (p_on + p_off));
    (0..config.n_frames)
        .map(|_| {
            let state = on;
            on = if on {
                !rng.random_bool(p_off)
            } else {
                rng.random_bool(p_on)
            };
            state
        })
        .collect()
}

/// The calcium kernel as two first-order filters: `F_t = c_d·D_t − c_r·R_t` with
/// `D_t = γ_d·D_{t−1} + s_t`, `R_t = γ_r·R_{t−1} + s_t`, which samples
/// `A·(e^{−τ/τ_d} − e^{−τ/τ_r})/peak` at τ = (lag + ½)·dt after the spikes of a frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CalciumKernel {
    pub gamma_decay: f64,
    pub gamma_rise: f64,
    pub c_decay: f64,
    pub c_rise: f64,
}

impl CalciumKernel {
    pub fn new(config: &BrainConfig) -> Self {
        let (td, tr, dt) = (config.decay_s, config.rise_s, config.dt());
        // Peak of e^{−τ/τd} − e^{−τ/τr} at τ* = τd·τr/(τd − τr)·ln(τd/τr).
        let t_peak = td * tr / (td - tr) * (td / tr).ln();
        let peak = (-t_peak / td).exp() - (-t_peak / tr).exp();
        let scale = config.spike_amplitude / peak;
        Self {
            gamma_decay: (-dt / td).exp(),
            gamma_rise: (-dt / tr).exp(),
            c_decay: scale * (-0.5 * dt / td).exp(),
            c_rise: scale * (-0.5 * dt / tr).exp(),
        }
    }

    /// Response at `lag` frames to one spike, ΔF/F.
    pub fn at_lag(&self, lag: usize) -> f64 {
        self.c_decay * self.gamma_decay.powi(lag as i32)
            - self.c_rise * self.gamma_rise.powi(lag as i32)
    }
}

/// Traces [T, N]: per neuron (in parallel) Poisson spikes through the kernel plus noise,
/// generated column by column, then transposed to row-major frames.
fn calcium_traces(
    config: &BrainConfig,
    neurons: &[Neuron],
    active: &[Vec<bool>],
    fish: usize,
) -> Frames {
    let (t, n) = (config.n_frames, neurons.len());
    let kernel = CalciumKernel::new(config);
    let active_rate = config.active_rate_hz * config.dt();
    let mut columns = vec![0f32; t * n];
    columns
        .par_chunks_mut(t)
        .enumerate()
        .for_each(|(i, column)| {
            let mut rng = lane_rng(config.seed, stream(fish, TRACES), i as u64);
            let neuron = &neurons[i];
            // Spike means (and e^{−λ}) for 0, 1, … active assemblies of this neuron.
            let rates: Vec<(f64, f64)> = (0..=neuron.member_of.len())
                .map(|on| {
                    let lambda = neuron.background + on as f64 * active_rate;
                    (lambda, (-lambda).exp())
                })
                .collect();
            let (mut d, mut r) = (0f64, 0f64);
            for (f, out) in column.iter_mut().enumerate() {
                let on = neuron
                    .member_of
                    .iter()
                    .filter(|&&a| active[a as usize][f])
                    .count();
                let (lambda, e) = rates[on];
                let spikes = poisson(&mut rng, lambda, e);
                d = kernel.gamma_decay * d + spikes;
                r = kernel.gamma_rise * r + spikes;
                let noise: f64 = rng.sample(StandardNormal);
                *out = (kernel.c_decay * d - kernel.c_rise * r + config.noise_sd * noise) as f32;
            }
        });
    // Transposed in blocks of frames, so that both sides stay in cache.
    const BLOCK: usize = 64;
    let mut values = vec![0f32; t * n];
    values
        .par_chunks_mut(BLOCK * n)
        .enumerate()
        .for_each(|(b, rows)| {
            let (f0, nf) = (b * BLOCK, rows.len() / n);
            for i in 0..n {
                let column = &columns[i * t + f0..i * t + f0 + nf];
                column
                    .iter()
                    .enumerate()
                    .for_each(|(df, &x)| rows[df * n + i] = x);
            }
        });
    Frames { n_units: n, values }
}

/// Poisson(λ) by sequential inversion, given `exp_neg = e^{−λ}` (λ ≤ 500, checked by
/// [`BrainConfig::validate`]).
fn poisson(rng: &mut impl Rng, lambda: f64, exp_neg: f64) -> f64 {
    if lambda <= 0.0 {
        return 0.0;
    }
    let u: f64 = rng.random();
    let (mut k, mut p) = (0u32, exp_neg);
    let mut cdf = p;
    while u > cdf && p > 0.0 {
        k += 1;
        p *= lambda / k as f64;
        cdf += p;
    }
    k as f64
}

/// Ground truth at voxel level.
#[derive(Clone, Debug, PartialEq)]
pub struct VoxelTruth {
    pub n_voxels: usize,
    /// Fraction of each voxel's neurons that are members of each assembly, shape [A, K].
    pub fractions: Vec<f64>,
    /// Voxel membership (1 when the fraction ≥ the threshold), shape [A, K].
    pub membership: Vec<u8>,
    /// Voxels of each assembly, shape [A][·].
    pub assemblies: Vec<Vec<u32>>,
    /// Variance of each assembly's 0/1 activity over the frames (mean over fish), shape [A].
    pub activity_variance: Vec<f64>,
    /// `J_km = Σ_a f_ka·f_ma·var_a` for k ≠ m, 0 on the diagonal; shape [K, K].
    pub coupling: Vec<f64>,
}

/// Ground truth on K voxels from each fish's neuron→voxel map (`None` = dropped neuron):
/// fractions pool the neurons of all fish in a voxel; a voxel belongs to an assembly when
/// the fraction is ≥ `member_fraction` (in (0, 1]; e.g. 0.5).
pub fn voxel_truth(
    fish: &[(&BrainFish, &[Option<u32>])],
    n_voxels: usize,
    member_fraction: f64,
) -> Result<VoxelTruth> {
    if !(member_fraction > 0.0 && member_fraction <= 1.0) {
        return Err(CrbmError::InvalidConfig {
            field: "member_fraction",
            value: member_fraction.to_string(),
            reason: "must lie in (0, 1]",
        });
    }
    let n_assemblies = fish.first().map_or(0, |(f, _)| f.assemblies.len());
    let fractions = assembly_fractions(fish, n_voxels, n_assemblies)?;
    let membership: Vec<u8> = fractions
        .iter()
        .map(|&x| u8::from(x > 0.0 && x >= member_fraction))
        .collect();
    let assemblies = (0..n_assemblies)
        .map(|a| {
            (0..n_voxels as u32)
                .filter(|&k| membership[a * n_voxels + k as usize] == 1)
                .collect()
        })
        .collect();
    let activity_variance = activity_variance(fish, n_assemblies);
    let coupling = coupling_matrix(&fractions, &activity_variance, n_voxels);
    Ok(VoxelTruth {
        n_voxels,
        fractions,
        membership,
        assemblies,
        activity_variance,
        coupling,
    })
}

/// f_ka = (members of a in voxel k) / (neurons in voxel k), over all fish; shape [A, K].
fn assembly_fractions(
    fish: &[(&BrainFish, &[Option<u32>])],
    n_voxels: usize,
    n_assemblies: usize,
) -> Result<Vec<f64>> {
    let mut neurons = vec![0u64; n_voxels];
    let mut members = vec![0u64; n_assemblies * n_voxels];
    for (r, (f, map)) in fish.iter().enumerate() {
        let n = f.coordinates.len();
        if f.assemblies.len() != n_assemblies {
            return Err(CrbmError::Shape {
                what: format!("fish {r}: assemblies vs fish 0"),
                expected: n_assemblies,
                got: f.assemblies.len(),
            });
        }
        if map.len() != n {
            return Err(CrbmError::Shape {
                what: format!("fish {r}: neuron→voxel map vs neurons"),
                expected: n,
                got: map.len(),
            });
        }
        if let Some(&v) = map.iter().flatten().find(|&&v| v as usize >= n_voxels) {
            return Err(CrbmError::Shape {
                what: format!("fish {r}: voxel index in the neuron→voxel map"),
                expected: n_voxels,
                got: v as usize,
            });
        }
        map.iter().flatten().for_each(|&v| neurons[v as usize] += 1);
        for (a, ms) in f.assemblies.iter().enumerate() {
            for &i in ms {
                if let Some(Some(v)) = map.get(i as usize) {
                    members[a * n_voxels + *v as usize] += 1;
                }
            }
        }
    }
    Ok(members
        .iter()
        .enumerate()
        .map(|(j, &m)| match neurons[j % n_voxels] {
            0 => 0.0,
            total => m as f64 / total as f64,
        })
        .collect())
}

/// p(1 − p) of each assembly's active state, averaged over fish.
fn activity_variance(fish: &[(&BrainFish, &[Option<u32>])], n_assemblies: usize) -> Vec<f64> {
    (0..n_assemblies)
        .map(|a| {
            let per_fish = fish.iter().map(|(f, _)| {
                let on = &f.active[a];
                let p = on.iter().filter(|&&x| x).count() as f64 / on.len().max(1) as f64;
                p * (1.0 - p)
            });
            per_fish.sum::<f64>() / fish.len().max(1) as f64
        })
        .collect()
}

/// J = Fᵀ·diag(var)·F with the diagonal zeroed, F of shape [A, K]; shape [K, K].
fn coupling_matrix(fractions: &[f64], variance: &[f64], k: usize) -> Vec<f64> {
    let mut j = vec![0f64; k * k];
    j.par_chunks_mut(k.max(1))
        .enumerate()
        .for_each(|(row_k, row)| {
            for (a, &var) in variance.iter().enumerate() {
                let f = &fractions[a * k..(a + 1) * k];
                let w = f[row_k] * var;
                if w != 0.0 {
                    row.iter_mut().zip(f).for_each(|(x, &fm)| *x += w * fm);
                }
            }
            row[row_k] = 0.0;
        });
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> BrainConfig {
        BrainConfig {
            n_neurons: 2_500,
            n_frames: 600,
            n_assemblies: 6,
            seed,
            ..BrainConfig::default()
        }
    }

    fn corr(x: &[f64], y: &[f64]) -> f64 {
        let n = x.len() as f64;
        let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
        let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
        for (a, b) in x.iter().zip(y) {
            sxy += (a - mx) * (b - my);
            sxx += (a - mx) * (a - mx);
            syy += (b - my) * (b - my);
        }
        sxy / (sxx * syy).sqrt().max(1e-300)
    }

    fn column(f: &Frames, i: usize) -> Vec<f64> {
        (0..f.len()).map(|t| f.row(t)[i] as f64).collect()
    }

    /// Mean lag-L autocorrelation over the given neurons.
    fn autocorr(f: &Frames, neurons: &[usize], lag: usize) -> f64 {
        neurons
            .iter()
            .map(|&i| {
                let c = column(f, i);
                corr(&c[..c.len() - lag], &c[lag..])
            })
            .sum::<f64>()
            / neurons.len() as f64
    }

    #[test]
    fn same_seed_same_output_whatever_the_thread_count() {
        let a = generate(&small(7)).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = pool.install(|| generate(&small(7)).unwrap());
        assert_eq!(a, b);
        let c = generate(&small(8)).unwrap();
        assert_ne!(a.fish[0].traces, c.fish[0].traces);
        assert_eq!(a.fish[0].traces.len(), 600);
        assert_eq!(a.fish[0].traces.n_units, 2_500);
        assert!(a.fish[0].coordinates.iter().all(|&p| in_brain(p)));
    }

    #[test]
    fn traces_decay_like_the_calcium_kernel() {
        // Background spikes only, no noise: the traces are white Poisson spikes through the
        // kernel, so for lags ≥ 1 the autocorrelation falls by γ_d = exp(−dt/τ_decay) per frame.
        let cfg = BrainConfig {
            n_neurons: 300,
            n_frames: 3_000,
            n_assemblies: 0,
            background_rate_hz: 1.0,
            background_log_sd: 0.0,
            noise_sd: 0.0,
            ..BrainConfig::default()
        };
        let b = generate(&cfg).unwrap();
        let f = &b.fish[0].traces;
        let all: Vec<usize> = (0..300).collect();
        let gamma = (-cfg.dt() / cfg.decay_s).exp();
        let (r1, r2, r3) = (
            autocorr(f, &all, 1),
            autocorr(f, &all, 2),
            autocorr(f, &all, 3),
        );
        assert!(r1 > 0.7, "lag-1 autocorrelation {r1}");
        assert!((r2 / r1 - gamma).abs() < 0.03, "{r1} {r2} vs γ {gamma}");
        assert!((r3 / r2 - gamma).abs() < 0.03, "{r2} {r3} vs γ {gamma}");
        // The kernel peaks at spike_amplitude between frames 0 and 1 after a spike.
        let k = CalciumKernel::new(&cfg);
        assert!(k.at_lag(0) > 0.8 && k.at_lag(0) <= 1.0, "{}", k.at_lag(0));
        assert!((k.at_lag(5) / k.at_lag(4) - gamma).abs() < 1e-3);
    }

    #[test]
    fn members_of_an_assembly_are_more_correlated_than_with_non_members() {
        let b = generate(&small(3)).unwrap();
        let fish = &b.fish[0];
        let members = &fish.assemblies[0];
        assert!(
            members.len() >= 10,
            "assembly 0 has {} members",
            members.len()
        );
        let in_any: std::collections::HashSet<u32> =
            fish.assemblies.iter().flatten().copied().collect();
        let others: Vec<usize> = (0..2_500)
            .filter(|i| !in_any.contains(&(*i as u32)))
            .take(30)
            .collect();
        let m: Vec<usize> = members.iter().take(30).map(|&i| i as usize).collect();
        let cols = |idx: &[usize]| {
            idx.iter()
                .map(|&i| column(&fish.traces, i))
                .collect::<Vec<_>>()
        };
        let (cm, co) = (cols(&m), cols(&others));
        let mut within = Vec::new();
        for i in 0..cm.len() {
            for j in i + 1..cm.len() {
                within.push(corr(&cm[i], &cm[j]));
            }
        }
        let across: Vec<f64> = cm
            .iter()
            .flat_map(|x| co.iter().map(|y| corr(x, y)))
            .collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(
            mean(&within) > mean(&across) + 0.2,
            "within {} across {}",
            mean(&within),
            mean(&across)
        );
        // Member traces are smooth in time.
        assert!(autocorr(&fish.traces, &m, 1) > 0.6);
    }

    #[test]
    fn distributed_assemblies_span_both_hemispheres_and_compact_ones_do_not() {
        let b = generate(&BrainConfig {
            n_neurons: 4_000,
            n_frames: 10,
            ..small(5)
        })
        .unwrap();
        let fish = &b.fish[0];
        // 6 assemblies × 0.35 → 2 distributed: bilateral pairs, the second with a third blob.
        assert_eq!(
            b.layout.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![2, 3, 1, 1, 1, 1]
        );
        let side = |i: u32| fish.coordinates[i as usize][1] > MIDLINE_Y;
        for a in 0..2 {
            let left = fish.assemblies[a].iter().filter(|&&i| !side(i)).count();
            let right = fish.assemblies[a].len() - left;
            assert!(
                left >= 5 && right >= 5,
                "assembly {a}: {left} left, {right} right"
            );
        }
        // A compact assembly lies within a blob radius of its centre.
        let c = fish.blobs[3][0];
        assert!(fish.assemblies[3]
            .iter()
            .all(|&i| distance(fish.coordinates[i as usize], c) <= b.config.blob_radius));
    }

    #[test]
    fn independent_layouts_move_every_fish_but_the_first() {
        let shared = generate(&BrainConfig {
            n_fish: 2,
            ..small(11)
        })
        .unwrap();
        let own = generate(&BrainConfig {
            n_fish: 2,
            independent_layouts: true,
            ..small(11)
        })
        .unwrap();
        assert_eq!(own.fish[0], shared.fish[0]);
        // Shared: fish 1's blobs lie within a few jitter sd of the template; own layout:
        // on average far from it.
        let mean_shift = |b: &Brain| {
            let d: Vec<f64> = b
                .layout
                .iter()
                .zip(&b.fish[1].blobs)
                .flat_map(|(t, f)| t.iter().zip(f).map(|(x, y)| distance(*x, *y)))
                .collect();
            d.iter().sum::<f64>() / d.len() as f64
        };
        assert!(mean_shift(&shared) < 3.0 * shared.config.variability);
        assert!(
            mean_shift(&own) > 6.0 * own.config.variability,
            "{}",
            mean_shift(&own)
        );
    }

    #[test]
    fn control_fish_draw_their_own_layouts_and_shared_fish_keep_the_template() {
        let cfg = BrainConfig {
            n_fish: 2,
            control_fish: 2,
            n_frames: 10,
            ..small(11)
        };
        let b = generate(&cfg).unwrap();
        assert_eq!(b.fish.len(), 4);
        // The shared fish are those of the run without control fish.
        let plain = generate(&BrainConfig {
            control_fish: 0,
            ..cfg.clone()
        })
        .unwrap();
        assert_eq!(b.layout, plain.layout);
        assert_eq!(&b.fish[..2], &plain.fish[..]);
        // Mean distance between corresponding blob centres of two fish, µm.
        let shift = |x: &BrainFish, y: &BrainFish| {
            let d: Vec<f64> = x
                .blobs
                .iter()
                .zip(&y.blobs)
                .flat_map(|(p, q)| p.iter().zip(q).map(|(a, c)| distance(*a, *c)))
                .collect();
            d.iter().sum::<f64>() / d.len() as f64
        };
        let v = cfg.variability;
        // Two fish sharing the template differ by two jitters (sd √2·v per axis).
        assert!(shift(&b.fish[0], &b.fish[1]) < 4.0 * v);
        for (x, y) in [(0, 2), (0, 3), (1, 2), (1, 3), (2, 3)] {
            let s = shift(&b.fish[x], &b.fish[y]);
            assert!(s > 6.0 * v, "fish {x} vs {y}: {s}");
        }
        // Control fish f is fish f of the same number of fish with independent layouts.
        let independent = generate(&BrainConfig {
            n_fish: 4,
            control_fish: 0,
            independent_layouts: true,
            ..cfg.clone()
        })
        .unwrap();
        assert_eq!(&b.fish[2..], &independent.fish[2..]);
        // Both negative controls at once are refused.
        let both = BrainConfig {
            independent_layouts: true,
            ..cfg
        };
        assert!(matches!(
            both.validate(),
            Err(CrbmError::InvalidConfig {
                field: "control_fish",
                ..
            })
        ));
    }

    #[test]
    fn fish_share_the_layout_with_individual_variability() {
        let one = generate(&small(11)).unwrap();
        let two = generate(&BrainConfig {
            n_fish: 2,
            ..small(11)
        })
        .unwrap();
        assert_eq!(one.fish[0], two.fish[0]);
        assert_eq!(one.layout, two.layout);
        let (f0, f1) = (&two.fish[0], &two.fish[1]);
        assert_ne!(f0.coordinates, f1.coordinates);
        assert_ne!(f0.active, f1.active);
        for (a, template) in two.layout.iter().enumerate() {
            for (b, &c) in template.iter().enumerate() {
                let d = distance(c, f1.blobs[a][b]);
                assert!(d > 0.0 && d < 6.0 * two.config.variability, "{a}/{b}: {d}");
            }
        }
    }

    #[test]
    fn voxel_truth_on_a_hand_made_fish() {
        // Four neurons in two voxels: voxel 0 = {0, 1}, voxel 1 = {2, 3}; neuron 4 dropped.
        // Assembly 0 = {0, 1, 2}, assembly 1 = {3}. Fractions: a0 → (1, 1/2), a1 → (0, 1/2).
        // Activity: a0 on in 1 of 4 frames (var 3/16), a1 on in 2 of 4 (var 1/4).
        let fish = BrainFish {
            traces: Frames::default(),
            coordinates: vec![[0.0; 3]; 5],
            assemblies: vec![vec![0, 1, 2], vec![3]],
            blobs: vec![vec![], vec![]],
            active: vec![
                vec![true, false, false, false],
                vec![true, true, false, false],
            ],
        };
        let map = [Some(0), Some(0), Some(1), Some(1), None];
        let t = voxel_truth(&[(&fish, &map[..])], 2, 0.5).unwrap();
        assert_eq!(t.fractions, vec![1.0, 0.5, 0.0, 0.5]);
        assert_eq!(t.membership, vec![1, 1, 0, 1]);
        assert_eq!(t.assemblies, vec![vec![0, 1], vec![1]]);
        assert_eq!(t.activity_variance, vec![3.0 / 16.0, 0.25]);
        // J_01 = 1·½·3/16 + 0·½·¼ = 3/32.
        assert_eq!(t.coupling, vec![0.0, 3.0 / 32.0, 3.0 / 32.0, 0.0]);
        // A stricter threshold drops the half-member voxels.
        let t = voxel_truth(&[(&fish, &map[..])], 2, 0.75).unwrap();
        assert_eq!(t.assemblies, vec![vec![0], vec![]]);
        // Two copies of the fish pool to the same fractions.
        let t2 = voxel_truth(&[(&fish, &map[..]), (&fish, &map[..])], 2, 0.5).unwrap();
        assert_eq!(t2.fractions, vec![1.0, 0.5, 0.0, 0.5]);
        // Bad maps and thresholds are errors.
        assert!(voxel_truth(&[(&fish, &map[..4])], 2, 0.5).is_err());
        assert!(voxel_truth(
            &[(&fish, &[Some(0), Some(5), None, None, None][..])],
            2,
            0.5
        )
        .is_err());
        assert!(voxel_truth(&[(&fish, &map[..])], 2, 0.0).is_err());
    }

    #[test]
    fn invalid_settings_are_typed_errors() {
        for (c, field) in [
            (
                BrainConfig {
                    n_neurons: 0,
                    ..Default::default()
                },
                "n_neurons",
            ),
            (
                BrainConfig {
                    n_fish: 0,
                    ..Default::default()
                },
                "n_fish",
            ),
            (
                BrainConfig {
                    rise_s: 2.0,
                    ..Default::default()
                },
                "rise_s",
            ),
            (
                BrainConfig {
                    frame_rate: 0.0,
                    ..Default::default()
                },
                "frame_rate",
            ),
            (
                BrainConfig {
                    overlap: 1.5,
                    ..Default::default()
                },
                "overlap",
            ),
            (
                BrainConfig {
                    noise_sd: f64::NAN,
                    ..Default::default()
                },
                "noise_sd",
            ),
            (
                BrainConfig {
                    membership_prob: 0.0,
                    ..Default::default()
                },
                "membership_prob",
            ),
        ] {
            match generate(&c) {
                Err(CrbmError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {:?}", other.map(|_| ())),
            }
        }
    }
}

/// The synthetic default of the Gaussian-visible path in one call: generate the brain(s),
/// voxelise every fish (control fish included) on one common grid, and compute the
/// voxel-level ground truth of the shared-layout fish 0..n_fish (a voxel belongs to an
/// assembly when at least `member_fraction` of its neurons do).
pub fn synthetic_voxels(
    config: &BrainConfig,
    voxels: &crate::voxel::VoxelConfig,
    member_fraction: f64,
) -> Result<(Brain, crate::voxel::Voxelised, VoxelTruth)> {
    let brain = generate(config)?;
    let names: Vec<String> = (0..brain.fish.len())
        .map(|f| match f >= config.n_fish {
            true => format!("synthetic brain seed {} control fish {f}", config.seed),
            false => format!("synthetic brain seed {} fish {f}", config.seed),
        })
        .collect();
    let inputs: Vec<crate::voxel::RecordingInput> = brain
        .fish
        .iter()
        .zip(&names)
        .map(|(f, name)| crate::voxel::RecordingInput {
            name,
            traces: &f.traces,
            coordinates: &f.coordinates,
        })
        .collect();
    let voxelised = crate::voxel::voxelise(&inputs, voxels)?;
    // The truth of the shared layout: control fish (own layouts) are not pooled into it.
    let pairs: Vec<_> = brain
        .fish
        .iter()
        .zip(&voxelised.recordings)
        .take(config.n_fish)
        .map(|(f, r)| (f, r.neuron_to_voxel.as_slice()))
        .collect();
    let truth = voxel_truth(&pairs, voxelised.n_voxels(), member_fraction)?;
    Ok((brain, voxelised, truth))
}
