//! Typed errors of the crate (configs are validated once, at the boundary).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CrbmError {
    #[error("invalid config: {field} = {value}: {reason}")]
    InvalidConfig {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("shape mismatch: {what}: expected {expected}, got {got}")]
    Shape {
        what: String,
        expected: usize,
        got: usize,
    },
    #[error("{what} needs N ≤ {max} visible units for exact enumeration, got {n}")]
    TooLargeForExact {
        what: &'static str,
        n: usize,
        max: usize,
    },
    #[error("{path}: {reason}")]
    Data { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
}

pub type Result<T> = std::result::Result<T, CrbmError>;

/// An I/O error naming `path`.
pub(crate) fn io_err(path: &std::path::Path) -> impl Fn(std::io::Error) -> CrbmError + '_ {
    move |source| CrbmError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `Err(InvalidConfig)` for a setting that fails validation: the field's name, its value
/// as written, and what it must be.
pub(crate) fn invalid_config<T, V: ToString>(
    field: &'static str,
    value: V,
    reason: &'static str,
) -> Result<T> {
    Err(CrbmError::InvalidConfig {
        field,
        value: value.to_string(),
        reason,
    })
}
