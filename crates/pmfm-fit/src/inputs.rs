//! What an Euler simulation depends on besides θ and its noise seed: the integration schedule
//! and constants, the FCD window, and the empirical data the costs compare against. Resumable
//! runs bind it into their manifests, so rounds simulated with another `--duration` or on
//! another `--data` are never mixed into a run.

use pmfm_sim::data::EmpiricalData;
use pmfm_sim::SimConfig;
use serde::Serialize;

/// The simulation inputs of a fit, as written into a manifest. The data enter by content only
/// (a moved or renamed data directory is the same data).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimInputs {
    /// Schedule (dt, warm-up, duration, burn-in, TR), precision, engine and model constants.
    pub schedule: SimConfig,
    /// FCD window (frames).
    pub fcd_window: usize,
    /// FNV-1a fingerprint of the empirical targets (SC, FC, FCD CDF, myelin, gradient), hex.
    /// A refused resume names the first differing key in alphabetical order, and this one sorts
    /// after `schedule` and `fcd_window`: the synthetic default's targets are simulated with the
    /// schedule, so a changed `--duration` is named as such rather than as other data.
    pub targets_fingerprint: String,
}

impl SimInputs {
    pub fn new(data: &EmpiricalData, schedule: SimConfig, fcd_window: usize) -> Self {
        Self {
            schedule,
            fcd_window,
            targets_fingerprint: surrogate::groups::fingerprint(data),
        }
    }
}
