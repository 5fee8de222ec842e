//! Small output helpers: atomic file writes and CSV tables.

use anyhow::Result;
use std::path::Path;

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename
/// (the one implementation lives in `surrogate::table`).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(surrogate::table::write_atomic(path, bytes)?)
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
    Ok(surrogate::table::write_parquet(path, df)?)
}

/// Reads a Parquet table, naming the file in the error.
pub fn read_parquet(path: &Path) -> Result<polars::prelude::DataFrame> {
    Ok(surrogate::table::read_parquet(path)?)
}

/// The error chain on one line (for the binaries' single `error:` line); a cause that the
/// message before it already ends with (crbm's I/O errors print their source) is not repeated.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut s = String::new();
    for cause in e.chain() {
        let t = cause.to_string();
        if !s.ends_with(&t) {
            if !s.is_empty() {
                s.push_str(": ");
            }
            s.push_str(&t);
        }
    }
    s
}
