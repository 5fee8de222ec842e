//! Typed errors of the crate; every error about a file names the file.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("{path}: invalid sweep config: {message}")]
    Config { path: PathBuf, message: String },
    #[error("invalid setting: {0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },
    #[error(transparent)]
    Crbm(#[from] crbm::CrbmError),
    /// Job files: atomic writes, Parquet, part coverage, the sweep.json manifest.
    #[error(transparent)]
    Jobs(#[from] jobs::JobsError),
}

pub type Result<T> = std::result::Result<T, AnalysisError>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> AnalysisError {
    let path = path.into();
    move |source| AnalysisError::Io { path, source }
}
