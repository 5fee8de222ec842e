//! Batched parametric mean-field model (pMFM) of resting-state fMRI with the Balloon–Windkessel
//! hemodynamic observer, its observables (FC, FCD) and its cost against empirical data.
//!
//! Pieces follow `pmfm-model.md` and are tested one by one: [`neural`] (local dynamics),
//! [`coupling`] (connectome), [`simulator`] (Euler–Maruyama over a batch), [`hemodynamics`]
//! (BOLD observer), [`observables`] (FC, FCD, costs), [`params`] (θ → regional values).

pub mod coupling;
#[cfg(any(feature = "wgpu", feature = "cuda"))]
mod cube_kernel;
pub mod data;
mod fastmath;
mod fused;
pub mod hemodynamics;
pub mod neural;
pub mod noise;
pub mod observables;
pub mod params;
pub mod simulator;
pub mod synthetic;

pub use observables::{Cost, Targets};
pub use params::{Bounds, RegionalParams, Theta};
pub use simulator::{Bold, Engine, Precision, SimConfig, SimError, Simulator};
