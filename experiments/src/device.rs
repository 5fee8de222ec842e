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
    if cfg!(feature = "cuda") {
        v.extend(["cuda", "cuda:N"]);
    }
    v
}

/// Maps a device name to a [`Device`]:
/// `flex` (default, pure-Rust CPU), `ndarray` (deprecated CPU backend, feature `ndarray`),
/// `cubecl-cpu` (CubeCL CPU runtime, feature `cubecl-cpu`), `wgpu` (best GPU adapter, feature
/// `wgpu`), `wgpu-cpu` (wgpu on a CPU adapter such as Mesa's lavapipe), `cuda` / `cuda:N`
/// (NVIDIA GPU 0 or N, feature `cuda`).
pub fn select(name: &str) -> Result<Device> {
    let name = name.trim().to_ascii_lowercase();
    #[cfg(feature = "cuda")]
    if let Some(index) = name.strip_prefix("cuda:") {
        let index: usize = index
            .parse()
            .map_err(|_| anyhow::anyhow!("device '{name}': the CUDA index must be a number"))?;
        return Ok(Device::cuda(index));
    }
    match name.as_str() {
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
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0usize)),
        other => bail!(
            "unknown or not compiled-in device '{other}'; this build has: {} (GPU needs `--features wgpu` or `--features cuda`)",
            available().join(", ")
        ),
    }
}

/// The `--device` option, shared by every binary.
#[derive(Debug, Clone, clap::Args)]
pub struct DeviceArgs {
    /// Compute device: flex (CPU, default), wgpu, wgpu-cpu, cuda, cuda:N, ndarray, cubecl-cpu.
    #[arg(long, env = "BURN_DEVICE", default_value = "flex")]
    pub device: String,
}

impl DeviceArgs {
    pub fn device(&self) -> Result<Device> {
        select(&self.device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_devices_and_unknown_ones_list_the_build() {
        assert!(select("flex").is_ok());
        assert!(select(" CPU ").is_ok());
        let err = select("tpu").unwrap_err().to_string();
        assert!(err.contains("'tpu'") && err.contains("flex"), "{err}");
        #[cfg(not(feature = "cuda"))]
        {
            let err = select("cuda").unwrap_err().to_string();
            assert!(err.contains("--features cuda"), "{err}");
        }
        #[cfg(feature = "cuda")]
        {
            let err = select("cuda:first").unwrap_err().to_string();
            assert!(err.contains("CUDA index"), "{err}");
        }
    }
}
