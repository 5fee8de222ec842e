//! Choosing the empirical data: a directory in the reference layout, or the synthetic default.

use anyhow::{Context, Result};
use burn::tensor::Device;
use pmfm_sim::data::EmpiricalData;
use pmfm_sim::simulator::SimConfig;
use pmfm_sim::synthetic::{synthetic_dataset, SyntheticConfig};
use std::path::PathBuf;

/// Data options shared by the pMFM binaries.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Directory in the reference layout (sc_{split}.csv, fc_{split}.csv, fcd_{split}.mat,
    /// myelin.csv, rsfc_gradient.csv). Without it, the built-in synthetic default is used.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Split to load from --data: train, vali or test.
    #[arg(long, default_value = "train")]
    pub split: String,
    /// Seed of the synthetic default's connectome and maps.
    #[arg(long, default_value_t = 2021)]
    pub synthetic_seed: u64,
}

impl DataArgs {
    /// Loads the data directory, or builds the synthetic default on `device`, its "empirical"
    /// FC/FCD simulated with the same schedule `sim` and FCD window as the run that uses it.
    pub fn load(
        &self,
        device: &Device,
        sim: &SimConfig,
        fcd_window: usize,
    ) -> Result<EmpiricalData> {
        match &self.data {
            Some(dir) => Ok(EmpiricalData::load_dir(dir, &self.split)?),
            None => {
                eprintln!(
                    "no --data given: building the synthetic default (seed {})",
                    self.synthetic_seed
                );
                let cfg = SyntheticConfig {
                    seed: self.synthetic_seed,
                    sim: *sim,
                    fcd_window,
                    ..SyntheticConfig::default()
                };
                synthetic_dataset(&cfg, device).context("building the synthetic default")
            }
        }
    }
}
