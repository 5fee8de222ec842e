//! λ sweeps of compositional RBMs and what is learned from them (van der Plas et al. 2023):
//! train hundreds of cRBMs across L2L1 strengths, score each by the five-statistics nRMSE,
//! find the λ that gives reliable models, and test whether the functional connectivity they
//! infer is consistent across λ.
//!
//! * [`config`]: the sweep config (TOML): visible units (Bernoulli raster or Gaussian voxel
//!   signals), data set, λ grids, seeds, training, evaluation; presets `default`, `quick`
//!   (the main job's) and `study`.
//! * [`sweep`]: preparing the data once, training/evaluating/saving one model, the
//!   sweep directory layout (resumable: one part file per finished model).
//! * [`gauss_model`]: the voxel signals of a Gaussian sweep and one Gaussian-visible model
//!   (standardised PCD on a burn device, prior sampling, explosions as rows, voxel
//!   couplings).
//! * [`table`]: the one-row-per-model Parquet table, part files, merge.
//! * [`selection`]: fractions of bad and exploded models per λ, the best λ, good models
//!   ranked.
//! * [`connectivity`]: coupling-matrix nRMSE, PCA (Gram trick), K-means, cluster × range
//!   tables, correlation of cluster-mean matrices ("structure preserved").
//! * [`report`]: the numbers behind a sweep's report: the shown model, one representative
//!   per λ range, nRMSE vectors of good/bad models, pairwise nRMSE → PCA → K-means → ARI.
//! * [`consistency`]: several recordings (fish): cross-recording versus within-recording
//!   (seed-to-seed) coupling-matrix nRMSE and correlation per λ, fish sharing a layout
//!   versus control fish with their own layouts (negative control in the same sweep), the
//!   recordings × recordings similarity matrix.

pub mod config;
pub mod connectivity;
pub mod consistency;
pub mod error;
pub mod gauss_model;
pub mod report;
pub mod selection;
pub mod sweep;
pub mod table;

pub use config::{Job, SweepConfig};
pub use error::{AnalysisError, Result};
pub use table::ModelRow;
