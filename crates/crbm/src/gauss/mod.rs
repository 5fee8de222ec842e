//! The Gaussian-visible cRBM of the λ-sweep study (spec, "Voxelised recordings with
//! Gaussian visible units"): z-scored voxel signals as visible units, dReLU hidden units.
//!
//! * [`model`]: the plain model, free energy, stability margin, and exact log Z, model
//!   moments and log-likelihood gradient by quadrature over h for M ≤ 2.
//! * [`standardized`]: the standardised parametrisation and its exact conversion to and
//!   from the plain model.
//! * [`tensor`]: the model on a burn `Device`, block-Gibbs sweeps, tensor conversions.
//! * [`host`]: the same block-Gibbs sweeps as host f32 kernels (the CPU engine), same
//!   random streams.
//! * [`train`]: standardised PCD on any device, with explosion detection.
//! * [`evaluate`]: sampling from the prior or from data, the five statistics on
//!   continuous frames, nRMSE; explosions met while sampling.
//! * [`stability`]: whether a model is normalisable at all — an exact certificate of
//!   log Z = +∞ (a direction of h where the quadratic gain beats the dReLU curvature).
//! * [`couplings`]: voxel couplings `W diag⟨Var h⟩ Wᵀ`, assembly recovery.
//! * [`fit`]: one model end to end (split, train, evaluate, score against planted truth).
//! * [`input`]: where the visible units come from (voxel archive, traces, the voxelised
//!   synthetic brain), shared by `train-crbm` and the λ sweep.
//! * [`io`]: `.npz` parameters + JSON metadata, written durably.
//! * [`ais`]: annealed importance sampling of log Z (checked against quadrature).

pub mod ais;
pub mod couplings;
pub mod evaluate;
pub mod fit;
pub mod host;
pub mod input;
pub mod io;
pub mod model;
pub mod stability;
pub mod standardized;
pub mod tensor;
pub mod train;

pub use evaluate::{evaluate, GaussEvaluation, GaussSamplingConfig};
pub use host::{GibbsEngine, HostGibbs};
pub use model::GaussCrbm;
pub use standardized::{Standardization, StandardizedGauss};
pub use train::{train_gauss, GaussExplosion, GaussTrainConfig, GaussTrainReport, GaussTrainer};
