//! Small output helpers: atomic file writes and CSV tables.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, then rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|s| s.to_str()).unwrap_or("out"),
        std::process::id()
    ));
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

/// A CSV table with a header row, written atomically.
pub fn write_csv(path: &Path, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let mut s = header.join(",");
    s.push('\n');
    for r in rows {
        s.push_str(&r.join(","));
        s.push('\n');
    }
    write_atomic(path, s.as_bytes())
}

/// Writes a polars table to `path` as Parquet, atomically (temporary file, then rename).
pub fn write_parquet(path: &Path, df: &mut polars::prelude::DataFrame) -> Result<()> {
    use polars::prelude::ParquetWriter;
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf)
        .finish(df)
        .with_context(|| format!("encoding {}", path.display()))?;
    write_atomic(path, &buf)
}

/// Reads a Parquet table, naming the file in the error.
pub fn read_parquet(path: &Path) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::{ParquetReader, SerReader};
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    ParquetReader::new(f)
        .finish()
        .with_context(|| format!("{}: not a readable Parquet table", path.display()))
}
