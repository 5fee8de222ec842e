//! Batched Euler–Maruyama integration of the pMFM with the Balloon–Windkessel observer
//! (`pmfm-model.md`, "Simulation schedule"). A population of B parameter sets × n_dup noise
//! duplicates is stepped together as one state tensor of shape [regions, n_dup·B]; series
//! m = d·B + j is parameter set j under noise duplicate d.

use crate::coupling::coupling_matrix;
use crate::fused::simulate_fused;
use crate::hemodynamics::{HemoConstants, HemoTensors};
use crate::neural::{transfer_of_drive, NeuralConstants};
use crate::noise::{NoiseError, NoiseSource};
use crate::params::RegionalParams;
use burn::tensor::{DType, Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Floating-point precision of the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    F64,
}

impl Precision {
    pub fn dtype(self) -> DType {
        match self {
            Precision::F32 => DType::F32,
            Precision::F64 => DType::F64,
        }
    }
}

/// How the Euler loop is executed. Both engines integrate the same equations with the same
/// noise; they differ in speed and in which devices/precisions they serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// f32: the fused CPU kernel on the flex (CPU) device, the GPU kernel on wgpu/CUDA devices
    /// it fits (one work-group unit per region); tensor operations otherwise.
    #[default]
    Auto,
    /// Burn tensor operations on the simulator's device (any backend, f32 or f64).
    Tensor,
    /// The fused multi-threaded CPU kernel (f32 only); BOLD is then moved to the device.
    Fused,
    /// One CubeCL kernel per chunk of steps on a GPU device (wgpu, CUDA; f32 only): the whole
    /// Euler step fused, instead of ~45 launches per step.
    Kernel,
}

/// Integration schedule. Defaults are the reference settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimConfig {
    /// Euler step (s).
    pub dt: f64,
    /// Steps of neural dynamics alone before the main loop.
    pub warmup_steps: usize,
    /// Length of the main loop (s), burn-in included: steps t = 0, dt, …, duration.
    pub duration: f64,
    /// Initial part of the main loop whose BOLD samples are dropped (s).
    pub burn_in: f64,
    /// BOLD sampling interval (s); must be a whole number of steps.
    pub tr: f64,
    /// Initial synaptic gating S of every region.
    pub s_init: f64,
    pub precision: Precision,
    pub engine: Engine,
    pub neural: NeuralConstants,
    pub hemo: HemoConstants,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            dt: 0.01,
            warmup_steps: 1000,
            duration: 984.0,
            burn_in: 120.0,
            tr: 0.72,
            s_init: 0.001,
            precision: Precision::F32,
            engine: Engine::Auto,
            neural: NeuralConstants::default(),
            hemo: HemoConstants::default(),
        }
    }
}

/// Most integration steps (warm-up + main loop) one simulation may take: 10⁸, about 1000× the
/// reference schedule (99,401 steps). Beyond it a run takes days; a mistyped `dt` or `duration`
/// (1e-12, 1e15, inf) is refused instead of overflowing the step count.
pub const MAX_STEPS: usize = 100_000_000;

/// Most kept BOLD frames: 20,000 (the reference keeps 1200). The FCD of one series costs
/// O(frames²·pairs) time and O(frames·pairs) memory, so longer runs are refused up front.
pub const MAX_FRAMES: usize = 20_000;

/// Most bytes the BOLD of one batch may take on the host or device (series × frames × regions
/// values): 32 GiB.
pub const MAX_BOLD_BYTES: u128 = 32 << 30;

/// Invalid simulation settings or inputs.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid simulation settings: {0}")]
    Config(String),
    /// One schedule setting (a [`SimConfig`] field: `dt`, `duration`, `burn_in`, `tr`,
    /// `warmup_steps`) is out of its domain.
    #[error("invalid simulation settings: {field} = {value}: {reason}")]
    Schedule {
        field: &'static str,
        value: String,
        reason: String,
    },
    /// The FCD sliding window does not fit the schedule's (or a file's) BOLD frames.
    #[error("invalid FCD window: fcd_window = {window} must satisfy 2 ≤ fcd_window < frames ({frames} BOLD frames)")]
    FcdWindow { window: usize, frames: usize },
    /// The batch's BOLD would exceed [`MAX_BOLD_BYTES`].
    #[error("batch too large: {series} series × {frames} frames × {regions} regions of BOLD need {bytes} bytes, more than the cap of {cap} bytes (32 GiB); use fewer duplicates or parameter sets per batch")]
    TooLarge {
        series: usize,
        frames: usize,
        regions: usize,
        bytes: u128,
        cap: u128,
    },
    #[error("invalid simulation input: {0}")]
    Input(String),
    #[error(transparent)]
    Noise(#[from] NoiseError),
}

impl SimConfig {
    /// Main-loop steps: t = 0, dt, …, duration (98,401 for the reference).
    pub fn main_steps(&self) -> usize {
        (self.duration / self.dt).round() as usize + 1
    }

    /// Steps per BOLD sample (72 for the reference).
    pub fn steps_per_tr(&self) -> usize {
        (self.tr / self.dt).round() as usize
    }

    /// Number of BOLD sample slots (1367 for the reference): slot k holds the state after
    /// step 72(k+1) − 1, the last slot the state after the final step.
    pub fn n_slots(&self) -> usize {
        (self.main_steps() - 1) / self.steps_per_tr() + 1
    }

    /// Slots dropped as burn-in (167 for the reference: the reference keeps slots after
    /// index ⌊burn_in / TR⌋).
    pub fn dropped_slots(&self) -> usize {
        (self.burn_in / self.tr + 1e-9).floor() as usize + 1
    }

    /// The kept BOLD frame (index after burn-in) that global step `step` (warm-up included)
    /// completes, if any: slot k ends after main-loop step 72(k+1) − 1, the last slot after the
    /// final step, and the first [`SimConfig::dropped_slots`] slots are dropped.
    pub fn kept_frame(&self, step: usize) -> Option<usize> {
        let i = step.checked_sub(self.warmup_steps)?;
        let (spt, dropped) = (self.steps_per_tr(), self.dropped_slots());
        let slot_end = (i + 1) % spt == 0 || i + 1 == self.main_steps();
        (slot_end && i / spt >= dropped).then(|| i / spt - dropped)
    }

    /// BOLD frames kept (1200 for the reference).
    pub fn n_frames(&self) -> usize {
        self.n_slots().saturating_sub(self.dropped_slots())
    }

    /// Checks the settings once, so the integrator can trust them: every time finite, step
    /// count under [`MAX_STEPS`], kept frames under [`MAX_FRAMES`].
    pub fn validate(&self) -> Result<(), SimError> {
        self.validate_times()?;
        self.validate_step_count()?;
        self.validate_frames()?;
        self.validate_engine()?;
        if self.n_frames() < 3 {
            return Err(schedule_error(
                "duration",
                self.duration.to_string(),
                format!(
                    "with burn-in {} s and TR {} s it leaves {} BOLD frames; need at least 3",
                    self.burn_in,
                    self.tr,
                    self.n_frames()
                ),
            ));
        }
        Ok(())
    }

    /// dt, TR, duration and burn-in: finite, positive, TR ≥ dt, 0 ≤ burn-in < duration.
    fn validate_times(&self) -> Result<(), SimError> {
        if !(self.dt > 0.0 && self.dt.is_finite()) {
            return Err(schedule_error(
                "dt",
                self.dt.to_string(),
                "must be positive and finite".into(),
            ));
        }
        if !(self.tr.is_finite() && self.tr >= self.dt) {
            return Err(schedule_error(
                "tr",
                self.tr.to_string(),
                format!("must be finite and at least dt ({})", self.dt),
            ));
        }
        if !(self.duration > 0.0 && self.duration.is_finite()) {
            return Err(schedule_error(
                "duration",
                self.duration.to_string(),
                "must be positive and finite".into(),
            ));
        }
        if !(self.burn_in >= 0.0 && self.burn_in < self.duration) {
            return Err(schedule_error(
                "burn_in",
                self.burn_in.to_string(),
                format!("need 0 ≤ burn-in < duration ({})", self.duration),
            ));
        }
        Ok(())
    }

    /// Warm-up plus main-loop steps under [`MAX_STEPS`], blaming the likeliest setting.
    fn validate_step_count(&self) -> Result<(), SimError> {
        // In f64 before any cast to usize, so 1e15 s or dt = 1e-12 cannot overflow.
        let steps = self.warmup_steps as f64 + self.duration / self.dt + 1.0;
        if steps <= MAX_STEPS as f64 {
            return Ok(());
        }
        let (field, value) = if self.warmup_steps > MAX_STEPS / 2 {
            ("warmup_steps", self.warmup_steps.to_string())
        } else if self.dt < 1e-3 {
            ("dt", self.dt.to_string())
        } else {
            ("duration", self.duration.to_string())
        };
        Err(schedule_error(
            field,
            value,
            format!(
                "{} warm-up + {:.3e} main-loop steps exceed the cap of {MAX_STEPS} steps",
                self.warmup_steps,
                self.duration / self.dt + 1.0
            ),
        ))
    }

    /// TR a whole number of steps; kept frames under [`MAX_FRAMES`].
    fn validate_frames(&self) -> Result<(), SimError> {
        let spt = self.steps_per_tr() as f64;
        if ((spt * self.dt - self.tr) / self.tr).abs() > 1e-9 {
            return Err(schedule_error(
                "tr",
                self.tr.to_string(),
                format!("must be a whole number of steps of dt ({})", self.dt),
            ));
        }
        if self.n_frames() > MAX_FRAMES {
            return Err(schedule_error(
                "duration",
                self.duration.to_string(),
                format!(
                    "keeps {} BOLD frames at TR {} s, more than the cap of {MAX_FRAMES}",
                    self.n_frames(),
                    self.tr
                ),
            ));
        }
        Ok(())
    }

    /// The fused and kernel engines run in f32 only.
    fn validate_engine(&self) -> Result<(), SimError> {
        if self.engine == Engine::Fused && self.precision == Precision::F64 {
            return Err(SimError::Config(
                "the fused CPU engine runs in f32; use the tensor engine for f64".into(),
            ));
        }
        if self.engine == Engine::Kernel && self.precision == Precision::F64 {
            return Err(SimError::Config(
                "the GPU kernel engine runs in f32; use the tensor engine for f64".into(),
            ));
        }
        Ok(())
    }

    /// Checks that an FCD window of `window` frames fits this schedule's BOLD frames
    /// (2 ≤ window < frames: at least two windows, and at least two frames per window).
    pub fn validate_fcd_window(&self, window: usize) -> Result<(), SimError> {
        validate_fcd_window(window, self.n_frames())
    }
}

/// A schedule setting that cannot run: the field, its value and why.
fn schedule_error(field: &'static str, value: String, reason: String) -> SimError {
    SimError::Schedule {
        field,
        value,
        reason,
    }
}

/// Coefficients of the Euler step of region `r` under one parameter set, shared by the engines:
/// the drive of H is y = a·x − b = `self_gain`·S + `coupling_gain`·(C·S) + `drive0`, and the
/// noise term is `noise_gain`·ξ (σ/√0.001·√dt).
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepCoefficients {
    pub self_gain: f64,
    pub coupling_gain: f64,
    pub drive0: f64,
    pub noise_gain: f64,
}

impl StepCoefficients {
    pub(crate) fn new(cfg: &SimConfig, p: &RegionalParams, r: usize) -> Self {
        let nc = &cfg.neural;
        Self {
            self_gain: nc.a * nc.j * p.w[r],
            coupling_gain: nc.a * nc.j * p.g,
            drive0: nc.a * p.i[r] - nc.b,
            noise_gain: p.sigma[r] / 0.001f64.sqrt() * cfg.dt.sqrt(),
        }
    }
}

/// Simulated BOLD of a batch.
#[derive(Debug, Clone)]
pub struct Bold {
    /// BOLD signal, shape [series, frames, regions]; series m = d·B + j.
    pub signal: Tensor<3>,
    /// Number of parameter sets B.
    pub n_sets: usize,
    /// Noise duplicates per parameter set.
    pub n_dup: usize,
}

/// The pMFM on one connectome, ready to simulate batches on a device.
pub struct Simulator {
    config: SimConfig,
    device: Device,
    dtype: DType,
    n_regions: usize,
    /// Coupling matrix C, [regions, regions].
    coupling: Tensor<2>,
    /// The same on the host, for the fused and kernel engines.
    coupling_host: Vec<f64>,
    /// The engine `simulate` runs (never `Auto`).
    engine: Engine,
    /// The GPU kernel's device client and layout, when `engine` is `Kernel`.
    #[cfg(any(feature = "wgpu", feature = "cuda"))]
    kernel: Option<(cubecl::client::Client, crate::cube_kernel::Layout)>,
}

/// One batch for the engines that return host values (fused CPU, GPU kernel).
#[derive(Clone, Copy)]
pub(crate) struct HostBatch<'a> {
    pub cfg: &'a SimConfig,
    /// Coupling matrix, [regions, regions] row-major.
    pub coupling: &'a [f64],
    /// Regions.
    pub n: usize,
    /// The parameter sets B.
    pub params: &'a [RegionalParams],
    /// Noise duplicates per parameter set.
    pub n_dup: usize,
    /// Noise steps per chunk.
    pub chunk: usize,
}

impl HostBatch<'_> {
    /// Series simulated, M = n_dup·B; series m = d·B + j runs parameter set j with noise
    /// duplicate d.
    pub fn n_series(&self) -> usize {
        self.n_dup * self.params.len()
    }
}

/// Steps of noise uploaded to the device at once (bounded by memory, see `chunk_steps`).
const NOISE_CHUNK_STEPS: usize = 1000;

impl Simulator {
    /// Builds a simulator from raw structural connectivity `sc` (row-major [regions, regions]).
    pub fn new(
        sc: &[f64],
        n_regions: usize,
        config: SimConfig,
        device: &Device,
    ) -> Result<Self, SimError> {
        config.validate()?;
        if sc.len() != n_regions * n_regions || n_regions == 0 {
            return Err(SimError::Input(format!(
                "SC has {} entries, expected {n_regions}×{n_regions}",
                sc.len()
            )));
        }
        let c = coupling_matrix(sc)
            .ok_or_else(|| SimError::Input("SC has no positive entry".to_string()))?;
        let dtype = config.precision.dtype();
        if !device.supports_dtype(dtype) {
            return Err(SimError::Config(format!(
                "device {device:?} does not support {dtype:?}"
            )));
        }
        let coupling = tensor2(c.clone(), [n_regions, n_regions], device, dtype);
        #[cfg(any(feature = "wgpu", feature = "cuda"))]
        let kernel = Self::kernel_for(&config, device, n_regions)?;
        #[cfg(not(any(feature = "wgpu", feature = "cuda")))]
        if config.engine == Engine::Kernel {
            return Err(SimError::Config(
                "the GPU kernel engine needs a build with the `wgpu` or `cuda` feature".into(),
            ));
        }
        let f32_cpu = config.precision == Precision::F32 && *device == Device::flex();
        let engine = match config.engine {
            Engine::Auto if f32_cpu => Engine::Fused,
            #[cfg(any(feature = "wgpu", feature = "cuda"))]
            Engine::Auto if kernel.is_some() => Engine::Kernel,
            Engine::Auto => Engine::Tensor,
            chosen => chosen,
        };
        Ok(Self {
            config,
            device: device.clone(),
            dtype,
            n_regions,
            coupling,
            coupling_host: c,
            engine,
            #[cfg(any(feature = "wgpu", feature = "cuda"))]
            kernel,
        })
    }

    /// The GPU kernel's client and layout when the engine may use it: `Kernel` on a device it
    /// does not fit is an error, `Auto` in f32 on a GPU device it fits gets it.
    #[cfg(any(feature = "wgpu", feature = "cuda"))]
    fn kernel_for(
        config: &SimConfig,
        device: &Device,
        n_regions: usize,
    ) -> Result<Option<(cubecl::client::Client, crate::cube_kernel::Layout)>, SimError> {
        let wanted = match config.engine {
            Engine::Kernel => true,
            Engine::Auto => config.precision == Precision::F32,
            Engine::Tensor | Engine::Fused => false,
        };
        if !wanted {
            return Ok(None);
        }
        let Some(client) = crate::cube_kernel::cube_client(device) else {
            return match config.engine {
                Engine::Kernel => Err(SimError::Config(format!(
                    "the GPU kernel engine needs a GPU device (wgpu, cuda), not {device:?}"
                ))),
                _ => Ok(None),
            };
        };
        match crate::cube_kernel::layout(&client, n_regions) {
            Ok(layout) => Ok(Some((client, layout))),
            Err(why) if config.engine == Engine::Kernel => Err(SimError::Config(why)),
            Err(_) => Ok(None),
        }
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn n_regions(&self) -> usize {
        self.n_regions
    }

    /// Total noise steps a simulation consumes (warm-up + main loop).
    pub fn total_steps(&self) -> usize {
        self.config.warmup_steps + self.config.main_steps()
    }

    /// Simulates every parameter set `n_dup` times and returns the BOLD after burn-in.
    pub fn simulate(
        &self,
        params: &[RegionalParams],
        n_dup: usize,
        noise: &mut dyn NoiseSource,
    ) -> Result<Bold, SimError> {
        self.check_params(params, n_dup)?;
        let cfg = &self.config;
        let (n, b) = (self.n_regions, params.len());
        let batch = HostBatch {
            cfg,
            coupling: &self.coupling_host,
            n,
            params,
            n_dup,
            chunk: chunk_steps(n, n_dup),
        };
        #[cfg(any(feature = "wgpu", feature = "cuda"))]
        if let Some((client, layout)) = &self.kernel {
            let host = crate::cube_kernel::simulate_kernel(client, *layout, batch, noise)?;
            return Ok(self.bold_from_host(host, b, n_dup));
        }
        if self.engine == Engine::Fused {
            let host = simulate_fused(batch, noise)?;
            return Ok(self.bold_from_host(host, b, n_dup));
        }
        let mut frames: Vec<Tensor<2>> = Vec::with_capacity(cfg.n_frames());
        let mut hemo: Option<HemoTensors> = None;
        self.integrate(params, n_dup, noise, self.total_steps(), |step, s| {
            if step < cfg.warmup_steps {
                return;
            }
            // The observer is driven by the updated S of the same step.
            let h = hemo.take().unwrap_or_else(|| HemoTensors::rest(s));
            let h = h.euler_step(s.clone(), cfg.dt, &cfg.hemo);
            if cfg.kept_frame(step).is_some() {
                frames.push(h.bold(&cfg.hemo));
            }
            hemo = Some(h);
        })?;
        // [frames, regions, series] → [series, frames, regions]
        let signal = Tensor::stack::<3>(frames, 0).permute([2, 0, 1]);
        Ok(Bold {
            signal,
            n_sets: params.len(),
            n_dup,
        })
    }

    /// BOLD computed on the host ([series, frames, regions], f32) as a tensor on the device.
    fn bold_from_host(&self, host: Vec<f32>, n_sets: usize, n_dup: usize) -> Bold {
        let shape = [n_dup * n_sets, self.config.n_frames(), self.n_regions];
        let data = TensorData::new(host, shape);
        Bold {
            signal: Tensor::<3>::from_data(data, (&self.device, DType::F32)),
            n_sets,
            n_dup,
        }
    }

    /// Runs `steps` Euler–Maruyama steps of the neural dynamics alone from the initial state
    /// and returns S, shape [regions, n_dup·B].
    pub fn neural_state_after(
        &self,
        params: &[RegionalParams],
        n_dup: usize,
        noise: &mut dyn NoiseSource,
        steps: usize,
    ) -> Result<Tensor<2>, SimError> {
        self.integrate(params, n_dup, noise, steps, |_, _| {})
    }

    /// The integration loop shared by every entry point: steps the neural state `steps` times
    /// and hands each updated state (with its global step index, warm-up included) to `observe`.
    fn integrate(
        &self,
        params: &[RegionalParams],
        n_dup: usize,
        noise: &mut dyn NoiseSource,
        steps: usize,
        mut observe: impl FnMut(usize, &Tensor<2>),
    ) -> Result<Tensor<2>, SimError> {
        self.check_params(params, n_dup)?;
        let n = self.n_regions;
        let b = params.len();
        let cfg = &self.config;
        let m = n_dup * b;
        // y = a·x − b = (a·J·w)·S + (a·J·G)·(C·S) + (a·I − b): the drive of H as one affine map.
        let k = |p: &RegionalParams, r: usize| StepCoefficients::new(cfg, p, r);
        let self_gain = self.per_series(params, n_dup, |p, r| k(p, r).self_gain);
        let coupling_gain = self.per_series_row(params, n_dup, |p| k(p, 0).coupling_gain);
        let drive0 = self.per_series(params, n_dup, |p, r| k(p, r).drive0);
        let noise_gain = self.per_series(params, n_dup, |p, r| k(p, r).noise_gain);

        let mut s = Tensor::<2>::full([n, m], cfg.s_init, (&self.device, self.dtype));
        let chunk = chunk_steps(n, n_dup);
        let mut host = vec![0.0f64; chunk * n_dup * n];
        let mut done = 0usize;
        while done < steps {
            let k = chunk.min(steps - done);
            let buf = &mut host[..k * n_dup * n];
            noise.fill(buf, k)?;
            let block = self.noise_block(buf, k, n_dup);
            for t in 0..k {
                // [1, n_dup·N] → [N, n_dup, B] → [N, M]: duplicate d's noise in columns d·B..(d+1)·B.
                let xi = block
                    .clone()
                    .slice([t..t + 1])
                    .reshape([n_dup, n, 1])
                    .swap_dims(0, 1)
                    .expand([n, n_dup, b])
                    .reshape([n, m]);
                s = self.neural_step(s, xi, &self_gain, &coupling_gain, &drive0, &noise_gain);
                observe(done + t, &s);
            }
            done += k;
        }
        Ok(s)
    }

    /// The engine [`Simulator::simulate`] runs: `Fused`, `Kernel` or `Tensor` (`Auto` resolved).
    pub fn engine(&self) -> Engine {
        self.engine
    }

    fn check_params(&self, params: &[RegionalParams], n_dup: usize) -> Result<(), SimError> {
        let n = self.n_regions;
        if params.is_empty() || n_dup == 0 {
            return Err(SimError::Input(
                "need at least one parameter set and one duplicate".into(),
            ));
        }
        let (series, frames) = (params.len() as u128 * n_dup as u128, self.config.n_frames());
        let value_bytes = match self.dtype {
            DType::F64 => 8,
            _ => 4,
        };
        let bytes = series * frames as u128 * n as u128 * value_bytes;
        if bytes > MAX_BOLD_BYTES {
            return Err(SimError::TooLarge {
                series: usize::try_from(series).unwrap_or(usize::MAX),
                frames,
                regions: n,
                bytes,
                cap: MAX_BOLD_BYTES,
            });
        }
        if let Some(p) = params
            .iter()
            .find(|p| p.w.len() != n || p.i.len() != n || p.sigma.len() != n)
        {
            return Err(SimError::Input(format!(
                "parameter set has {} regions, the connectome {n}",
                p.n_regions()
            )));
        }
        Ok(())
    }

    /// One Euler–Maruyama step of the neural dynamics:
    /// `S ← S + dt·(−S/τ_s + γ(1−S)H(x)) + σ/√0.001·√dt·ξ`.
    fn neural_step(
        &self,
        s: Tensor<2>,
        xi: Tensor<2>,
        self_gain: &Tensor<2>,
        coupling_gain: &Tensor<2>,
        drive0: &Tensor<2>,
        noise_gain: &Tensor<2>,
    ) -> Tensor<2> {
        let nc = &self.config.neural;
        let dt = self.config.dt;
        let cs = self.coupling.clone().matmul(s.clone());
        let y = s.clone() * self_gain.clone() + cs * coupling_gain.clone() + drive0.clone();
        let h = transfer_of_drive(y, nc);
        let ds = s.clone().mul_scalar(-1.0 / nc.tau_s)
            + s.clone().neg().add_scalar(1.0).mul(h).mul_scalar(nc.gamma);
        s + ds.mul_scalar(dt) + xi * noise_gain.clone()
    }

    /// A [steps, n_dup·regions] tensor of noise from the host buffer.
    fn noise_block(&self, buf: &[f64], steps: usize, n_dup: usize) -> Tensor<2> {
        tensor2(
            buf.to_vec(),
            [steps, n_dup * self.n_regions],
            &self.device,
            self.dtype,
        )
    }

    /// A [regions, series] tensor with value f(params[j], r) in every duplicate's column.
    fn per_series(
        &self,
        params: &[RegionalParams],
        n_dup: usize,
        f: impl Fn(&RegionalParams, usize) -> f64,
    ) -> Tensor<2> {
        let n = self.n_regions;
        let b = params.len();
        let m = n_dup * b;
        let mut v = vec![0.0; n * m];
        for r in 0..n {
            for d in 0..n_dup {
                for (j, p) in params.iter().enumerate() {
                    v[r * m + d * b + j] = f(p, r);
                }
            }
        }
        tensor2(v, [n, m], &self.device, self.dtype)
    }

    /// A [1, series] tensor with value f(params[j]) per series.
    fn per_series_row(
        &self,
        params: &[RegionalParams],
        n_dup: usize,
        f: impl Fn(&RegionalParams) -> f64,
    ) -> Tensor<2> {
        let b = params.len();
        let v: Vec<f64> = (0..n_dup * b).map(|m| f(&params[m % b])).collect();
        tensor2(v, [1, n_dup * b], &self.device, self.dtype)
    }
}

/// Checks that an FCD window of `window` frames fits `frames` BOLD frames: 2 ≤ window < frames
/// (a window of 0 or 1 frames has no correlation, one of `frames` or more leaves fewer than two
/// windows, hence no FCD).
pub fn validate_fcd_window(window: usize, frames: usize) -> Result<(), SimError> {
    if window >= 2 && window < frames {
        Ok(())
    } else {
        Err(SimError::FcdWindow { window, frames })
    }
}

/// True for the CPU backends (flex, ndarray), where host-side kernels beat many small tensor
/// passes.
pub fn is_cpu_device(device: &Device) -> bool {
    #[cfg(feature = "ndarray")]
    #[allow(deprecated)]
    if *device == Device::ndarray() {
        return true;
    }
    *device == Device::flex()
}

/// Noise steps per upload: at most [`NOISE_CHUNK_STEPS`] and about 4 M values.
fn chunk_steps(n_regions: usize, n_dup: usize) -> usize {
    (4_000_000 / (n_regions * n_dup).max(1)).clamp(1, NOISE_CHUNK_STEPS)
}

/// A 2-D tensor of the given dtype from f64 host values (row-major).
pub fn tensor2(values: Vec<f64>, shape: [usize; 2], device: &Device, dtype: DType) -> Tensor<2> {
    let data = match dtype {
        DType::F64 => TensorData::new(values, shape),
        _ => TensorData::new(
            values.into_iter().map(|x| x as f32).collect::<Vec<f32>>(),
            shape,
        ),
    };
    Tensor::<2>::from_data(data, (device, dtype))
}

#[cfg(test)]
#[path = "simulator_tests.rs"]
mod tests;
