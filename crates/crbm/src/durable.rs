//! Durable atomic file writes through the workspace's one implementation
//! (`jobs::durable`): the content goes to a temporary file in the target's directory, which
//! is synced, renamed over the target and the directory synced, so a crash leaves either the
//! old file or the complete new one, never a torn one.

use std::path::Path;

use jobs::JobsError;

use crate::error::{CrbmError, Result};

impl From<JobsError> for CrbmError {
    fn from(e: JobsError) -> Self {
        match e {
            JobsError::Io { path, source } => CrbmError::Io { path, source },
            other => CrbmError::Io {
                path: other.path().map(Path::to_path_buf).unwrap_or_default(),
                source: std::io::Error::other(other.to_string()),
            },
        }
    }
}

/// Write `path` through `write(tmp_path)` (which creates the file at `tmp_path`), then
/// fsync it, rename it to `path` and fsync the directory; a failed write removes the
/// temporary file.
pub fn write_with(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    jobs::durable::write_with(path, write)
}

/// Write `bytes` to `path` durably and atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(jobs::durable::write_atomic(path, bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_the_file_and_a_failed_write_leaves_the_old_one() {
        let d = std::env::temp_dir().join(format!("crbm-durable-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let p = d.join("a.txt");
        write_bytes(&p, b"one").unwrap();
        write_bytes(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let e = write_with(&p, |tmp| {
            std::fs::write(tmp, b"half").unwrap();
            Err(CrbmError::Data {
                path: tmp.to_path_buf(),
                reason: "simulated failure".into(),
            })
        });
        assert!(e.is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let leftovers = std::fs::read_dir(&d).unwrap().count();
        assert_eq!(leftovers, 1, "the temporary file is removed");
    }
}
