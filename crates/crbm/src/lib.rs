//! Compositional restricted Boltzmann machines (cRBMs) for whole-brain neural
//! recordings: Bernoulli visible units (neurons), dReLU hidden units (cell
//! assemblies), trained by persistent contrastive divergence.
//! The model follows `docs/crbm-model.md` (Tubiana & Monasson 2017; van der Plas
//! et al. 2023).
//!
//! * [`erfcx`], [`layers`]: stable log-erfcx; dReLU Φ, Φ′, Φ″ and exact sampling
//!   (ReLU, Gaussian special cases); Bernoulli units. The private `quadrature` holds the
//!   Simpson weights of the exact quadratures and of the reference integrals in tests.
//! * [`model`]: parameters, energy, free energy, exact log Z / likelihood /
//!   gradient for small N, sign fix-up.
//! * [`dense`]: the one strided f32 GEMM of the host kernels.
//! * [`gibbs`] (sparse CPU kernels) and [`tensor`] (burn `Device` tensors):
//!   batched block-Gibbs sampling; [`sweeps`]: several sweeps at once, and the h → v product,
//!   Bernoulli draws and next v·W fused per column block (measured, not yet the default); the
//!   private `visible_draws` holds the exact Bernoulli row draws (8 units per 64-bit draw).
//! * [`train`]: PCD with Adam/RMSprop, penalties ([`penalty`]), clipping, decay,
//!   hidden standardisation, divergence detection (sparse CPU kernels);
//!   [`tensor_train`]: the same PCD update on device tensors.
//! * [`data`], [`synthetic`]: loaders, chronological split, planted-assembly generator;
//!   [`batch`]: sparse binary batches and the epoch-shuffled mini-batch order of every trainer.
//! * [`stats`], [`couplings`], [`ais`]: five statistics and nRMSE, effective
//!   couplings and their aggregation, AIS log Z.
//! * [`io`]: `.npz` parameters + JSON metadata (the file layout shared with
//!   [`gauss::io`] lives in the private `npz_params`).
//! * [`recovery`]: Jaccard overlap of planted assemblies with hidden units.

pub mod ais;
pub mod batch;
pub mod brain;
pub mod couplings;
pub mod data;
pub mod dense;
pub mod durable;
pub mod erfcx;
pub mod error;
pub mod frames;
pub mod gauss;
pub mod gibbs;
pub mod io;
pub mod layers;
pub mod model;
mod npz_params;
pub mod optim;
pub mod penalty;
mod quadrature;
pub mod recovery;
pub mod rng;
pub mod stats;
pub mod sweeps;
pub mod synthetic;
pub mod tensor;
pub mod tensor_train;
pub mod train;
mod visible_draws;
pub mod voxel;

pub use batch::SparseBatch;
pub use error::{CrbmError, Result};
pub use frames::Frames;
pub use layers::{DRelu, Gaussian, Relu};
pub use model::Crbm;
pub use train::{train, PcdTrainer, TrainConfig, TrainReport};
