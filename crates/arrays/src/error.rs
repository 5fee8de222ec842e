//! The one error type of the crate.
//!
//! Every variant names the file (for an array inside an `.npz`, the pseudo-path
//! `archive.npz[name]`) and says what is wrong in one line. Matrix positions are 0-based;
//! text positions are 1-based `line:column`, as editors show them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::Dtype;

/// Everything that can go wrong when reading or encoding an array file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArrayError {
    /// The file does not exist.
    #[error("{}: file not found", .path.display())]
    NotFound {
        /// The file.
        path: PathBuf,
    },

    /// Any other I/O failure while reading the file.
    #[error("{}: I/O error: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A header, array or decompressed variable larger than the cap for it; refused before
    /// the memory is allocated.
    #[error("{}: {what} of {size} bytes exceeds the cap of {cap} bytes", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What is too large ("npy header", "array \"x\"").
        what: String,
        /// Its size in bytes (as declared by the file).
        size: u64,
        /// The largest size accepted.
        cap: u64,
    },

    /// A text field that is not a number.
    #[error("{}:{line}:{col}: {token:?} is not a number", .path.display())]
    Parse {
        /// The text file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based character column where the field starts.
        col: usize,
        /// The offending field (shortened to 40 characters).
        token: String,
    },

    /// A text row with a different number of values than the first row.
    #[error(
        "{}:{line}: row has {found} columns but the first row has {expected} (ragged or truncated file)",
        .path.display()
    )]
    Ragged {
        /// The text file.
        path: PathBuf,
        /// 1-based line number of the short or long row.
        line: usize,
        /// Number of values in the first data row.
        expected: usize,
        /// Number of values in this row.
        found: usize,
    },

    /// A file without a single value in it.
    #[error("{}: no values found (empty file)", .path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },

    /// An array of the wrong shape (e.g. a matrix where a vector is expected).
    #[error("{}: expected {expected}, got shape {}", .path.display(), fmt_index(.shape))]
    WrongShape {
        /// The file.
        path: PathBuf,
        /// What was expected, in words ("a vector", "a 2-D array").
        expected: String,
        /// The shape found.
        shape: Vec<usize>,
    },

    /// Data whose length does not match the shape given for it (encoders).
    #[error(
        "{}: shape {} holds {expected} values but {found} were given",
        .path.display(), fmt_index(.shape)
    )]
    ShapeMismatch {
        /// The file to be written.
        path: PathBuf,
        /// The shape given.
        shape: Vec<usize>,
        /// Product of the shape.
        expected: usize,
        /// Length of the data.
        found: usize,
    },

    /// An `.npy` file with a malformed header or data section.
    #[error("{}: not a .npy file (or a damaged one): {reason}", .path.display())]
    NpyUnreadable {
        /// The `.npy` file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// An `.npy` element type that cannot be converted to `f64` (complex, string,
    /// structured, half precision, …).
    #[error(
        "{}: unsupported npy dtype {descr} (readable: float32, float64, signed and unsigned integers, bool)",
        .path.display()
    )]
    NpyDtype {
        /// The `.npy` file.
        path: PathBuf,
        /// The dtype descriptor from the header.
        descr: String,
    },

    /// A readable array stored with another element type than the caller requires.
    #[error("{}: {what} has dtype {found}, expected {expected}", .path.display())]
    WrongDtype {
        /// The file.
        path: PathBuf,
        /// Which array, in words.
        what: String,
        /// The element type found.
        found: Dtype,
        /// The element type(s) accepted, in words.
        expected: String,
    },

    /// A file that is not a readable zip archive of `.npy` files.
    #[error("{}: not a .npz archive (or a damaged one): {reason}", .path.display())]
    NpzUnreadable {
        /// The `.npz` file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// An `.npz` archive without the array asked for.
    #[error("{}: no array named {name:?} (has {available:?})", .path.display())]
    NpzMissing {
        /// The `.npz` file.
        path: PathBuf,
        /// The array asked for.
        name: String,
        /// The arrays the archive holds.
        available: Vec<String>,
    },

    /// A MATLAB file that lacks the variable asked for.
    #[error(
        "{}: no variable `{name}` (variables present: {})",
        .path.display(), fmt_names(.available)
    )]
    MatMissingVariable {
        /// The `.mat` file.
        path: PathBuf,
        /// The variable asked for.
        name: String,
        /// Names of all variables found in the file.
        available: Vec<String>,
    },

    /// A MATLAB variable that exists but cannot be read as a real numeric array.
    #[error("{}: variable `{name}` {reason}", .path.display())]
    MatUnsupported {
        /// The `.mat` file.
        path: PathBuf,
        /// The variable.
        name: String,
        /// Why, e.g. "is a cell array, expected a real numeric array".
        reason: String,
    },

    /// A file that is not a readable MATLAB v5/v7 (`-v7`, `-v6`) MAT-file.
    #[error("{}: not a readable MATLAB v5 MAT-file: {reason}", .path.display())]
    MatUnreadable {
        /// The `.mat` file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl ArrayError {
    /// The file (or `archive.npz[name]` pseudo-path) the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ArrayError::NotFound { path }
            | ArrayError::Io { path, .. }
            | ArrayError::TooLarge { path, .. }
            | ArrayError::Parse { path, .. }
            | ArrayError::Ragged { path, .. }
            | ArrayError::Empty { path }
            | ArrayError::WrongShape { path, .. }
            | ArrayError::ShapeMismatch { path, .. }
            | ArrayError::NpyUnreadable { path, .. }
            | ArrayError::NpyDtype { path, .. }
            | ArrayError::WrongDtype { path, .. }
            | ArrayError::NpzUnreadable { path, .. }
            | ArrayError::NpzMissing { path, .. }
            | ArrayError::MatMissingVariable { path, .. }
            | ArrayError::MatUnsupported { path, .. }
            | ArrayError::MatUnreadable { path, .. } => path,
        }
    }

    /// The message without the leading path, for error types that print the path
    /// themselves (`"{path}: {problem}"`); text positions read `line 2:3: …`.
    pub fn problem(&self) -> String {
        let message = self.to_string();
        let path = self.path().display().to_string();
        let rest = message.strip_prefix(&path).unwrap_or(&message);
        match rest.strip_prefix(':') {
            Some(r) if r.starts_with(|c: char| c.is_ascii_digit()) => format!("line {r}"),
            Some(r) => r.trim_start().to_string(),
            None => rest.to_string(),
        }
    }
}

/// `[i]`, `[i, j]`, ... for indices and shapes (the form every message of the crate uses;
/// public so that error types wrapping these messages print positions the same way).
pub fn fmt_index(idx: &[usize]) -> String {
    let mut s = String::from("[");
    for (k, i) in idx.iter().enumerate() {
        if k > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{i}");
    }
    s.push(']');
    s
}

fn fmt_names(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
