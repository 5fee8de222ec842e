//! Errors of the surrogate crate.

use std::path::{Path, PathBuf};

/// Everything that can go wrong reading datasets, configuring, training or loading surrogates.
#[derive(Debug, thiserror::Error)]
pub enum SurrogateError {
    #[error("{path}: missing column '{column}' (a dataset needs {expected})")]
    MissingColumn {
        path: PathBuf,
        column: String,
        expected: String,
    },
    #[error("{path}: column '{column}' has type {found}, expected {expected}")]
    ColumnType {
        path: PathBuf,
        column: String,
        found: String,
        expected: String,
    },
    #[error("{path}: column '{column}' has a missing or non-finite value in row {row}")]
    NonFinite {
        path: PathBuf,
        column: String,
        row: usize,
    },
    #[error("{path}: {message}")]
    BadTable { path: PathBuf, message: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("invalid input: {0}")]
    Input(String),
    #[error("{path}: cannot load model: {message}")]
    Load { path: PathBuf, message: String },
    /// A group's input files (SC, FC, FCD, maps) are missing or malformed; names the file.
    #[error(transparent)]
    Data(#[from] pmfm_sim::data::DataError),
    /// Any file I/O (`{path}: {source}`), and writing or reading a job file (atomic writes,
    /// Parquet, part coverage); names the file.
    #[error(transparent)]
    Jobs(#[from] jobs::JobsError),
}

pub type Result<T> = std::result::Result<T, SurrogateError>;

/// An I/O failure on `path`, reported as the job layer reports its own.
pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SurrogateError + '_ {
    move |source| {
        SurrogateError::Jobs(jobs::JobsError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}
