//! File-system helpers shared by the readers and writers.

use std::fs;
use std::io;
use std::path::Path;

use super::DataError;

/// The whole file as bytes; a missing file becomes [`DataError::NotFound`].
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    fs::read(path).map_err(|e| io_error(path, e))
}

/// Maps an I/O error to `NotFound` or `Io`, keeping the path.
pub(crate) fn io_error(path: &Path, e: io::Error) -> DataError {
    if e.kind() == io::ErrorKind::NotFound {
        DataError::NotFound {
            path: path.to_path_buf(),
            also_tried: Vec::new(),
        }
    } else {
        DataError::Io {
            path: path.to_path_buf(),
            source: e,
        }
    }
}

/// Writes `bytes` to `path` so that readers never see a half-written file, through the
/// workspace's one durable atomic write (`jobs::durable::write_atomic`: temporary file in the
/// same directory, fsync, rename, fsync of the directory). Errors keep the path, as
/// [`DataError::Io`].
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    jobs::durable::write_atomic(path, bytes).map_err(|e| match e {
        jobs::JobsError::Io { path, source } => DataError::Io { path, source },
        other => DataError::Io {
            path: path.to_path_buf(),
            source: io::Error::other(other.to_string()),
        },
    })
}
