//! Errors of the optimisation crate.

use std::path::PathBuf;

/// Everything that can go wrong configuring a solver, evaluating an objective, or saving and
/// resuming a run.
#[derive(Debug, thiserror::Error)]
pub enum OptimizeError {
    /// A configuration value is out of its domain (checked once, before a run starts).
    #[error("invalid configuration: {field}: {reason}")]
    InvalidConfig { field: String, reason: String },
    /// A parameter vector or configuration has the wrong length for the objective.
    #[error("dimension mismatch in {what}: expected {expected}, got {got}")]
    DimensionMismatch {
        what: String,
        expected: usize,
        got: usize,
    },
    /// An objective returned a different number of evaluations than points it was given.
    #[error("objective '{objective}' returned {got} evaluations for {expected} points")]
    EvaluationCount {
        objective: String,
        expected: usize,
        got: usize,
    },
    /// The objective itself failed (simulation, surrogate inference, I/O inside it).
    #[error("objective '{objective}' failed: {message}")]
    Objective { objective: String, message: String },
    /// `tell` was called without a pending `ask`, or with the wrong number of costs.
    #[error("ask/tell mismatch: {0}")]
    AskTell(String),
    /// No feasible offspring was found within the configured number of re-draws.
    #[error("no feasible offspring after {tries} draws (re-draw budget per offspring)")]
    ResampleExhausted { tries: usize },
    /// The covariance matrix stopped being symmetric positive definite or finite.
    #[error("numerical breakdown: {0}")]
    Numerical(String),
    /// A checkpoint could not be decoded or does not belong to this run.
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An observer (run-table writer, progress display, ...) failed.
    #[error("observer failed: {0}")]
    Observer(String),
    /// A durable write or settings file of the job layer failed (names the file).
    #[error(transparent)]
    Jobs(#[from] jobs::JobsError),
    /// The `cmaes` crate baseline rejected its options or cannot express a setting.
    #[error("cmaes baseline: {0}")]
    Baseline(String),
}

impl OptimizeError {
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidConfig {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
