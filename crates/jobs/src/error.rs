//! Errors of the job layer; every error about a file names the file.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a readable Parquet table: {message}")]
    Parquet { path: PathBuf, message: String },
    /// A merge found a part missing, repeated or outside the job.
    #[error("{path}: {message}")]
    Coverage { path: PathBuf, message: String },
    /// A directory was made with other settings; `message` names the first differing key.
    #[error("{path}: made with other settings ({message}); {advice}")]
    SettingsMismatch {
        path: PathBuf,
        message: String,
        advice: String,
    },
    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl JobsError {
    /// The file the error is about, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Io { path, .. }
            | Self::Parquet { path, .. }
            | Self::Coverage { path, .. }
            | Self::SettingsMismatch { path, .. }
            | Self::BadFile { path, .. } => Some(path),
            Self::Config(_) => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, JobsError>;

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> JobsError + '_ {
    move |source| JobsError::Io {
        path: path.to_path_buf(),
        source,
    }
}
