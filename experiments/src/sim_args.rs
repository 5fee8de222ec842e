//! Simulation options shared by the pMFM binaries (`--dt`, `--duration`, …), and [`PmfmArgs`]:
//! device, data and schedule, the options of every binary that simulates on a data set.

use anyhow::{anyhow, Result};
use burn::tensor::Device;
use pmfm_sim::data::EmpiricalData;
use pmfm_sim::simulator::{Engine, Precision, SimConfig, SimError};
use surrogate::evaluator::Evaluator;

use crate::dataset::DataArgs;
use crate::device::DeviceArgs;

/// `--device`, the data options and the schedule, flattened into each pMFM binary's arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct PmfmArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub sim: SimArgs,
}

impl PmfmArgs {
    /// The device and the validated schedule (each error names its flag).
    pub fn device_and_config(&self) -> Result<(Device, SimConfig)> {
        let device = self.device.device()?;
        Ok((device, self.sim.config()?))
    }

    /// The data (`--data`, or the synthetic default simulated with `sim` on `device`).
    pub fn load_data(&self, device: &Device, sim: &SimConfig) -> Result<EmpiricalData> {
        self.data.load(device, sim, self.sim.fcd_window)
    }

    /// The data and the Euler evaluator on it (schedule `sim`, `--fcd-window`).
    pub fn evaluator(&self, device: &Device, sim: SimConfig) -> Result<(EmpiricalData, Evaluator)> {
        let data = self.load_data(device, &sim)?;
        let evaluator = Evaluator::new(&data, sim, self.sim.fcd_window, device)?;
        Ok((data, evaluator))
    }
}

/// Integration schedule options; defaults are the reference settings.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Euler step (s).
    #[arg(long, default_value_t = 0.01)]
    pub dt: f64,
    /// Warm-up steps of neural dynamics before the main loop.
    #[arg(long, default_value_t = 1000)]
    pub warmup_steps: usize,
    /// Main-loop length in seconds, burn-in included.
    #[arg(long, default_value_t = 984.0)]
    pub duration: f64,
    /// Burn-in (s) whose BOLD samples are dropped.
    #[arg(long, default_value_t = 120.0)]
    pub burn_in: f64,
    /// BOLD sampling interval (s).
    #[arg(long, default_value_t = 0.72)]
    pub tr: f64,
    /// FCD sliding-window length (frames).
    #[arg(long, default_value_t = 83)]
    pub fcd_window: usize,
    /// Simulate in f64 instead of f32.
    #[arg(long)]
    pub f64: bool,
    /// Integration engine: auto (f32: fused CPU kernel on flex, GPU kernel on wgpu/cuda; tensors
    /// otherwise), tensor, fused, kernel.
    #[arg(long, default_value = "auto", value_parser = ["auto", "tensor", "fused", "kernel"])]
    pub engine: String,
}

impl SimArgs {
    /// The schedule, validated once together with the FCD window (finite times, step count and
    /// kept frames under the caps of `pmfm_sim::simulator`, 2 ≤ window < frames), so that no
    /// binary simulates before finding out that its settings cannot work. The error names the
    /// flag.
    pub fn config(&self) -> Result<SimConfig> {
        let cfg = SimConfig {
            dt: self.dt,
            warmup_steps: self.warmup_steps,
            duration: self.duration,
            burn_in: self.burn_in,
            tr: self.tr,
            precision: if self.f64 {
                Precision::F64
            } else {
                Precision::F32
            },
            engine: match self.engine.as_str() {
                "tensor" => Engine::Tensor,
                "fused" => Engine::Fused,
                "kernel" => Engine::Kernel,
                _ => Engine::Auto,
            },
            ..SimConfig::default()
        };
        cfg.validate()
            .and_then(|()| cfg.validate_fcd_window(self.fcd_window))
            .map_err(|e| anyhow!("{}: {e}", flag_of(&e)))?;
        Ok(cfg)
    }
}

/// The command-line flag behind a settings error.
fn flag_of(e: &SimError) -> String {
    match e {
        SimError::Schedule { field, .. } => format!("--{}", field.replace('_', "-")),
        SimError::FcdWindow { .. } => "--fcd-window".into(),
        SimError::Config(_) => "--engine/--f64".into(),
        _ => "simulation settings".into(),
    }
}
