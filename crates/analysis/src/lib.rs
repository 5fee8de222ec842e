//! λ sweeps of compositional RBMs and what is learned from them (van der Plas et al. 2023):
//! train hundreds of cRBMs across L2L1 strengths, score each by the five-statistics nRMSE,
//! find the λ that gives reliable models, and test whether the functional connectivity they
//! infer is consistent across λ.
//!
//! * [`config`]: the sweep config (TOML): data set, λ grids, seeds, training, evaluation.
//! * [`sweep`]: preparing the recording once, training/evaluating/saving one model, the
//!   sweep directory layout (resumable: one part file per finished model).
//! * [`table`]: the one-row-per-model Parquet table, part files, merge.
//! * [`selection`]: fractions of bad and exploded models per λ, the best λ, good models
//!   ranked.
//! * [`connectivity`]: coupling-matrix nRMSE, PCA (Gram trick), K-means, cluster × range
//!   tables.

pub mod config;
pub mod connectivity;
pub mod error;
pub mod selection;
pub mod sweep;
pub mod table;

pub use config::{Job, SweepConfig};
pub use error::{AnalysisError, Result};
pub use table::ModelRow;
