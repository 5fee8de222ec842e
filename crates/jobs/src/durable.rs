//! Durable atomic file writes: the workspace's one implementation.
//!
//! The content goes to a temporary file in the target's directory (same file system, so the
//! rename is atomic on POSIX) under a name unique per process and call; the file is fsynced,
//! renamed over the target, and the directory fsynced (on unix) so that the rename itself
//! survives a power loss. A crash therefore leaves either the old file or the complete new
//! one, never a torn one, and a failed write removes its temporary file.
//!
//! * [`write_atomic`]: bytes already in memory.
//! * [`write_with`]: a writer that must create the file itself (plotters' backends, burn's
//!   `save_file`, `.npz` archives) writes to the temporary path it is given.
//! * [`PendingFile`]: the same as a guard (optionally keeping the target's extension), for code that draws into the temporary path over
//!   many steps: committed explicitly, removed when dropped uncommitted (an early `?`).
//! * [`commit_file`]: the last step alone, for a temporary file from [`temp_path_for`].

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{io_err, JobsError, Result};

/// The directory `path` lives in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Creates the directory `path` will live in (and its parents).
pub fn create_parent_dir(path: &Path) -> Result<()> {
    let dir = parent_dir(path);
    fs::create_dir_all(dir).map_err(io_err(dir))
}

/// A temporary name beside `path`, unique per process (pid) and call (a process-wide
/// counter), so concurrent writers — threads or processes — never share one:
/// `.NAME.PID.COUNT.tmp`. Hidden and ending in `.tmp`, so a file left by a killed writer is
/// never taken for a part (`part-*.parquet`) or matched by a `*.parquet` glob.
pub fn temp_path_for(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    parent_dir(path).join(format!(".{name}.{}.tmp", unique_suffix()))
}

/// Like [`temp_path_for`] but keeping the target's extension last, for writers that choose a
/// format by it (plotters' bitmap backend): `plot.png` → `.plot.PID.COUNT.tmp.png`.
pub fn temp_path_keeping_extension(path: &Path) -> PathBuf {
    match (path.file_stem(), path.extension()) {
        (Some(stem), Some(ext)) => parent_dir(path).join(format!(
            ".{}.{}.tmp.{}",
            stem.to_string_lossy(),
            unique_suffix(),
            ext.to_string_lossy()
        )),
        _ => temp_path_for(path),
    }
}

/// `PID.COUNT`, new for every call in this process.
fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Writes `bytes` to `path` durably and atomically (creating its directory).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |tmp| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(tmp)
            .map_err(io_err(tmp))?;
        f.write_all(bytes).map_err(io_err(tmp))
    })
}

/// Writes `path` through `write(tmp)`, which must create the file at the temporary path it is
/// given, then commits it ([`commit_file`]). On any failure the temporary file is removed and
/// `path` is left as it was.
pub fn write_with<E: From<JobsError>>(
    path: &Path,
    write: impl FnOnce(&Path) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let pending = PendingFile::new(path)?;
    write(pending.path())?;
    Ok(pending.commit()?)
}

/// A file being written under a temporary name beside its target ([`temp_path_for`]; the
/// directory is created). [`PendingFile::commit`] makes it the target; dropped uncommitted
/// (an error on the way), the temporary file is removed.
#[derive(Debug)]
pub struct PendingFile {
    tmp: PathBuf,
    target: PathBuf,
    done: bool,
}

impl PendingFile {
    /// A pending file named by [`temp_path_for`].
    pub fn new(target: &Path) -> Result<Self> {
        Self::named(target, temp_path_for(target))
    }

    /// A pending file named by [`temp_path_keeping_extension`] (plots).
    pub fn keeping_extension(target: &Path) -> Result<Self> {
        Self::named(target, temp_path_keeping_extension(target))
    }

    fn named(target: &Path, tmp: PathBuf) -> Result<Self> {
        create_parent_dir(target)?;
        Ok(Self {
            tmp,
            target: target.to_path_buf(),
            done: false,
        })
    }

    /// Where to write the content.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// fsync, rename over the target, fsync the directory ([`commit_file`]).
    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        commit_file(&self.tmp, &self.target)
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Makes the finished file `tmp` (in `path`'s directory, e.g. from [`temp_path_for`]) the new
/// `path`: fsync `tmp`, rename it over `path`, fsync the directory. On failure `tmp` is
/// removed.
pub fn commit_file(tmp: &Path, path: &Path) -> Result<()> {
    let result = sync_file(tmp)
        .and_then(|()| fs::rename(tmp, path).map_err(io_err(path)))
        .and_then(|()| sync_dir(parent_dir(path)));
    if result.is_err() {
        let _ = fs::remove_file(tmp);
    }
    result
}

fn sync_file(path: &Path) -> Result<()> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_err(path))
}

/// Makes a rename in `dir` durable (a no-op where directories cannot be opened).
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("jobs-durable-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    /// Names in `dir` that look like temporary files.
    fn temps(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp"))
            .collect()
    }

    #[test]
    fn written_content_reads_back_replaces_the_old_and_leaves_no_temp() {
        let d = tmpdir("basic");
        let p = d.join("sub/a.txt");
        write_atomic(&p, b"one").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"one");
        write_atomic(&p, b"two, longer").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two, longer");
        assert!(temps(&d.join("sub")).is_empty());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_failed_write_removes_its_temp_and_keeps_the_old_file() {
        let d = tmpdir("fail");
        let p = d.join("a.txt");
        write_atomic(&p, b"old").unwrap();
        let e = write_with(&p, |tmp| {
            fs::write(tmp, b"half").unwrap();
            Err(JobsError::Config("simulated failure".into()))
        })
        .unwrap_err();
        assert!(e.to_string().contains("simulated failure"));
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert!(temps(&d).is_empty());
        // The rename fails (the target is a non-empty directory): the temp is removed and the
        // error names the target.
        let target = d.join("dir");
        fs::create_dir_all(target.join("x")).unwrap();
        let e = write_atomic(&target, b"data").unwrap_err();
        assert!(
            matches!(&e, JobsError::Io { path, .. } if path == &target),
            "{e}"
        );
        assert!(temps(&d).is_empty(), "{:?}", temps(&d));
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn commit_file_moves_a_file_written_elsewhere_into_place() {
        let d = tmpdir("commit");
        let p = d.join("plot.svg");
        create_parent_dir(&p).unwrap();
        let tmp = temp_path_for(&p);
        assert_eq!(tmp.parent(), p.parent());
        let name = tmp.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(".plot.svg.") && name.ends_with(".tmp"),
            "{name}"
        );
        let kept = temp_path_keeping_extension(&p);
        let name = kept.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(".plot.") && name.ends_with(".tmp.svg"),
            "{name}"
        );
        assert_ne!(tmp, temp_path_for(&p), "every call gets its own name");
        fs::write(&tmp, b"<svg/>").unwrap();
        commit_file(&tmp, &p).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"<svg/>");
        assert!(!tmp.exists());
        // A temporary file that does not exist is an error naming it.
        let e = commit_file(&tmp, &p).unwrap_err();
        assert!(e.to_string().contains(&*tmp.to_string_lossy()), "{e}");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_pending_file_dropped_uncommitted_is_removed() {
        let d = tmpdir("pending");
        let p = d.join("w.png");
        let draw = |fail: bool| -> Result<()> {
            let f = PendingFile::keeping_extension(&p)?;
            fs::write(f.path(), b"png").map_err(io_err(f.path()))?;
            if fail {
                return Err(JobsError::Config("drawing failed".into()));
            }
            f.commit()
        };
        assert!(draw(true).is_err());
        assert!(!p.exists() && temps(&d).is_empty());
        draw(false).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"png");
        assert!(temps(&d).is_empty());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn concurrent_writers_from_threads_do_not_collide() {
        let d = tmpdir("threads");
        let p = d.join("shared.bin");
        let contents: Vec<Vec<u8>> = (0..8u8).map(|t| vec![t; 4096 + t as usize]).collect();
        std::thread::scope(|s| {
            for c in &contents {
                let (p, all) = (&p, &contents);
                s.spawn(move || {
                    for _ in 0..25 {
                        write_atomic(p, c).unwrap();
                        // Whatever a reader sees is one writer's complete content.
                        let now = fs::read(p).unwrap();
                        assert!(all.contains(&now));
                    }
                });
            }
        });
        assert!(contents.contains(&fs::read(&p).unwrap()));
        assert!(temps(&d).is_empty());
        let _ = fs::remove_dir_all(&d);
    }
}
