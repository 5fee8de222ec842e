//! Reading whole files, with a missing file told apart from other I/O failures.

use std::io;
use std::path::Path;

use crate::ArrayError;

/// The whole file as bytes; a missing file becomes [`ArrayError::NotFound`].
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>, ArrayError> {
    std::fs::read(path).map_err(|e| io_error(path, e))
}

/// Maps an I/O error to `NotFound` or `Io`, keeping the path.
pub(crate) fn io_error(path: &Path, e: io::Error) -> ArrayError {
    if e.kind() == io::ErrorKind::NotFound {
        ArrayError::NotFound {
            path: path.to_path_buf(),
        }
    } else {
        ArrayError::Io {
            path: path.to_path_buf(),
            source: e,
        }
    }
}
