//! The one place that turns `--device` / `BURN_DEVICE` into a burn [`Device`].

use anyhow::{bail, Result};
use burn::tensor::Device;

/// Device names this build understands (depends on cargo features).
pub fn available() -> Vec<&'static str> {
    let mut v = vec!["flex"];
    if cfg!(feature = "ndarray") {
        v.push("ndarray");
    }
    if cfg!(feature = "cubecl-cpu") {
        v.push("cubecl-cpu");
    }
    if cfg!(feature = "wgpu") {
        v.extend(["wgpu", "wgpu-cpu"]);
    }
    v
}

/// Maps a device name to a [`Device`]:
/// `flex` (default, pure-Rust CPU), `ndarray` (deprecated CPU backend, feature `ndarray`),
/// `cubecl-cpu` (CubeCL CPU runtime, feature `cubecl-cpu`), `wgpu` (best GPU adapter, feature
/// `wgpu`), `wgpu-cpu` (wgpu on a CPU adapter such as Mesa's lavapipe).
pub fn select(name: &str) -> Result<Device> {
    match name.trim().to_ascii_lowercase().as_str() {
        "" | "flex" | "cpu" => Ok(Device::flex()),
        #[cfg(feature = "ndarray")]
        "ndarray" => {
            #[allow(deprecated)]
            Ok(Device::ndarray())
        }
        #[cfg(feature = "cubecl-cpu")]
        "cubecl-cpu" => Ok(Device::cpu()),
        #[cfg(feature = "wgpu")]
        "wgpu" | "gpu" => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(feature = "wgpu")]
        "wgpu-cpu" => Ok(Device::wgpu(burn::tensor::DeviceKind::Cpu)),
        other => bail!(
            "unknown or not compiled-in device '{other}'; this build has: {} (GPU needs `--features wgpu`)",
            available().join(", ")
        ),
    }
}

/// The `--device` option, shared by every binary.
#[derive(Debug, Clone, clap::Args)]
pub struct DeviceArgs {
    /// Compute device: flex (CPU, default), wgpu, wgpu-cpu, ndarray, cubecl-cpu.
    #[arg(long, env = "BURN_DEVICE", default_value = "flex")]
    pub device: String,
}

impl DeviceArgs {
    pub fn device(&self) -> Result<Device> {
        select(&self.device)
    }
}
