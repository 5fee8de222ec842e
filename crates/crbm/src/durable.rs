//! Durable atomic file writes: the content goes to a temporary file in the target's
//! directory, which is synced, renamed over the target and the directory synced, so a
//! crash leaves either the old file or the complete new one, never a torn one.

use std::path::{Path, PathBuf};

use crate::error::{CrbmError, Result};

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> CrbmError + '_ {
    move |source| CrbmError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Write `path` through `write(tmp_path)` (which creates the file at `tmp_path`), then
/// fsync it, rename it to `path` and fsync the directory.
pub fn write_with(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let tmp = temp_path(dir, path);
    let result = write(&tmp).and_then(|()| {
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io_err(path))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Write `bytes` to `path` durably and atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |tmp| std::fs::write(tmp, bytes).map_err(io_err(tmp)))
}

/// A temporary name beside the target, unique per process, thread and call.
fn temp_path(dir: &Path, path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().and_then(|s| s.to_str()).unwrap_or("file");
    dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_the_file_and_a_failed_write_leaves_the_old_one() {
        let d = std::env::temp_dir().join(format!("crbm-durable-{}", std::process::id()));
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
