//! The one error type of the data module.
//!
//! Every variant names the file (or, for in-memory data, a pseudo-path such as
//! `<synthetic>/sc`) and says what is wrong in one line, so a binary can print
//! it as is. Matrix positions are 0-based `[row, col]`; text positions are
//! 1-based `line:column`, as editors show them.

use std::path::PathBuf;

use arrays::error::fmt_index;

/// Everything that can go wrong when reading, writing or validating empirical data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file (and every accepted alternative) does not exist.
    #[error("{}: file not found{}", .path.display(), fmt_also_tried(.also_tried))]
    NotFound {
        /// The preferred file name.
        path: PathBuf,
        /// Other names that were looked for (e.g. the `.npy` twin of a `.csv`).
        also_tried: Vec<PathBuf>,
    },

    /// Any other I/O failure while reading or writing the file.
    #[error("{}: I/O error: {source}", .path.display())]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A file without a single value in it.
    #[error("{}: no values found (empty file)", .path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },

    /// NaN or ±infinity where only finite values make sense.
    #[error("{}: non-finite value {value} at {}", .path.display(), fmt_index(.at))]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// 0-based index: `[i]` for vectors, `[row, col]` for matrices.
        at: Vec<usize>,
        /// The value found.
        value: f64,
    },

    /// A matrix that must be square (SC, FC) is not.
    #[error(
        "{}: expected a square matrix, got {rows} rows × {cols} columns",
        .path.display()
    )]
    NotSquare {
        /// The file.
        path: PathBuf,
        /// Number of rows read.
        rows: usize,
        /// Number of columns read.
        cols: usize,
    },

    /// A negative streamline count in the structural connectivity.
    #[error("{}: SC must be non-negative, got {value} at [{row}, {col}]", .path.display())]
    NegativeSc {
        /// The SC file.
        path: PathBuf,
        /// 0-based row.
        row: usize,
        /// 0-based column.
        col: usize,
        /// The value found.
        value: f64,
    },

    /// A matrix that must be symmetric is not (worst pair reported).
    #[error(
        "{}: {what} is not symmetric: |a[{row},{col}] − a[{col},{row}]| = {max_abs_diff:.3e} exceeds the tolerance {tolerance:.3e}",
        .path.display()
    )]
    Asymmetric {
        /// The file.
        path: PathBuf,
        /// Which matrix ("SC", "FC").
        what: &'static str,
        /// Largest |a_ij − a_ji| over the matrix.
        max_abs_diff: f64,
        /// 0-based row of the worst pair.
        row: usize,
        /// 0-based column of the worst pair.
        col: usize,
        /// The tolerance it was compared against.
        tolerance: f64,
    },

    /// Self-connections in the SC (the model has none; a non-zero diagonal
    /// usually means the wrong file or a transposed/shifted matrix).
    #[error(
        "{}: SC diagonal must be zero, got {value} at [{index}, {index}] (tolerance {tolerance:.3e})",
        .path.display()
    )]
    ScDiagonal {
        /// The SC file.
        path: PathBuf,
        /// 0-based region index.
        index: usize,
        /// The value found.
        value: f64,
        /// Largest accepted |a_ii|.
        tolerance: f64,
    },

    /// An FC entry that is not a correlation (outside [−1, 1], or NaN).
    #[error(
        "{}: FC value {value} at [{row}, {col}] is not a correlation in [−1, 1]",
        .path.display()
    )]
    FcOutOfRange {
        /// The FC file.
        path: PathBuf,
        /// 0-based row.
        row: usize,
        /// 0-based column.
        col: usize,
        /// The value found.
        value: f64,
    },

    /// An FC diagonal entry that is not 1 (a region correlates perfectly with itself).
    #[error("{}: FC diagonal must be 1, got {value} at [{index}, {index}]", .path.display())]
    FcDiagonal {
        /// The FC file.
        path: PathBuf,
        /// 0-based region index.
        index: usize,
        /// The value found.
        value: f64,
    },

    /// Two files that disagree on the number of brain regions.
    #[error(
        "{} has {n} regions but {} has {other_n}",
        .path.display(), .other_path.display()
    )]
    RegionMismatch {
        /// The reference file (the SC).
        path: PathBuf,
        /// Its number of regions.
        n: usize,
        /// The file that disagrees.
        other_path: PathBuf,
        /// Its number of regions.
        other_n: usize,
    },

    /// An FCD CDF with the wrong number of bins.
    #[error("{}: FCD CDF has {found} entries, expected {expected}", .path.display())]
    CdfLength {
        /// The FCD file.
        path: PathBuf,
        /// Required number of bins (10,000).
        expected: usize,
        /// Number of entries found.
        found: usize,
    },

    /// An FCD CDF that decreases somewhere (so it is not cumulative).
    #[error(
        "{}: FCD CDF must be non-decreasing, but entry [{index}] = {value} < entry [{}] = {previous}",
        .path.display(), .index.saturating_sub(1)
    )]
    CdfNotMonotone {
        /// The FCD file.
        path: PathBuf,
        /// 0-based index of the first entry smaller than its predecessor.
        index: usize,
        /// The predecessor's value.
        previous: f64,
        /// The entry's value.
        value: f64,
    },

    /// An FCD CDF that starts below zero or never rises above zero (no counts),
    /// which would make the KS normalisation meaningless.
    #[error(
        "{}: FCD CDF must hold cumulative counts from ≥ 0 to a positive total, got first {first}, last {last}",
        .path.display()
    )]
    CdfDegenerate {
        /// The FCD file.
        path: PathBuf,
        /// First entry.
        first: f64,
        /// Last entry (the total count).
        last: f64,
    },

    /// A file the `arrays` reader could not read: a text field that is not a number or a
    /// ragged row (with `line:col`), a damaged or unsupported `.npy`, a MAT-file that is not
    /// v5, lacks the variable (listing those present) or holds it in another class; also an
    /// array of the wrong shape (`WrongShape`, e.g. a matrix where a vector is expected) and
    /// data whose length does not match the shape given for it (`ShapeMismatch`, writers).
    #[error(transparent)]
    Array(arrays::ArrayError),
}

impl DataError {
    /// The file (or pseudo-path) the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            DataError::NotFound { path, .. }
            | DataError::Io { path, .. }
            | DataError::Empty { path }
            | DataError::NonFinite { path, .. }
            | DataError::NotSquare { path, .. }
            | DataError::NegativeSc { path, .. }
            | DataError::Asymmetric { path, .. }
            | DataError::ScDiagonal { path, .. }
            | DataError::FcOutOfRange { path, .. }
            | DataError::FcDiagonal { path, .. }
            | DataError::RegionMismatch { path, .. }
            | DataError::CdfLength { path, .. }
            | DataError::CdfNotMonotone { path, .. }
            | DataError::CdfDegenerate { path, .. } => path,
            DataError::Array(e) => e.path(),
        }
    }
}

/// The reader's kinds of failure that data validation also reports (missing, unreadable and
/// empty files) keep their `DataError` variants (same messages); the others are wrapped in
/// [`DataError::Array`].
impl From<arrays::ArrayError> for DataError {
    fn from(e: arrays::ArrayError) -> Self {
        use arrays::ArrayError as A;
        match e {
            A::NotFound { path } => DataError::NotFound {
                path,
                also_tried: Vec::new(),
            },
            A::Io { path, source } => DataError::Io { path, source },
            A::Empty { path } => DataError::Empty { path },
            other => DataError::Array(other),
        }
    }
}

fn fmt_also_tried(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return String::new();
    }
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    format!(" (also looked for {})", names.join(", "))
}
