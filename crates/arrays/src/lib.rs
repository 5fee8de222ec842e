//! One reader per array format, shared by `pmfm-sim`, `crbm` and `analysis`.
//!
//! | module | format | entry points |
//! |---|---|---|
//! | [`npy`] | NumPy `.npy` 1.0–3.0 | [`npy::read`], [`npy::parse`], [`npy::encode`] |
//! | [`npz`] | NumPy `.npz` (zip of `.npy`) | [`npz::Archive`] |
//! | [`mat`] | MATLAB Level 5 MAT-files (`-v6`, `-v7`) | [`mat::read`], [`mat::read_vector`], [`mat::list_variables`] |
//! | [`text`] | comma/whitespace-separated numbers | [`text::read`], [`text::read_vector`], [`text::read_rows`] (ragged, header) |
//! | `decode` (private) | element decoding and Fortran → C reordering shared by npy and mat | |
//!
//! Callers that choose a reader by the file's extension ask [`lowercase_extension`].
//!
//! Every reader returns an [`Array`]: the shape, the stored element type ([`Dtype`]) and
//! the values converted to `f64` in C (row-major) order. Every failure is one
//! [`ArrayError`] naming the file; no input, however malformed, panics, and sizes read
//! from a file (header lengths, shapes, decompressed sizes) are checked against the bytes
//! present or a cap before anything is allocated. Writers only *encode* (`npy::encode`
//! returns the bytes), so each caller writes them through its own durable atomic writer.

mod decode;
pub mod error;
mod fs;
pub mod mat;
pub mod npy;
mod npy_header;
pub mod npz;
pub mod text;

#[cfg(any(test, feature = "test-support"))]
pub mod test_support;

pub use error::ArrayError;

/// Largest array (or decompressed MAT variable, or `.npz` member) read, in bytes: 16 GiB,
/// far above any recording this project reads, far below what a corrupt size field claims.
pub const MAX_ARRAY_BYTES: u64 = 1 << 34;

/// Element type an array was stored with; widths in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// One byte per value, read as its value (0 or 1).
    Bool,
    /// Signed integer of 1, 2, 4 or 8 bytes.
    Int(u8),
    /// Unsigned integer of 1, 2, 4 or 8 bytes.
    UInt(u8),
    /// IEEE float of 4 or 8 bytes.
    Float(u8),
}

impl Dtype {
    /// Bytes per value.
    pub fn width(self) -> usize {
        match self {
            Dtype::Bool => 1,
            Dtype::Int(w) | Dtype::UInt(w) | Dtype::Float(w) => w as usize,
        }
    }
}

impl std::fmt::Display for Dtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dtype::Bool => write!(f, "bool"),
            Dtype::Int(w) => write!(f, "int{}", 8 * *w as u32),
            Dtype::UInt(w) => write!(f, "uint{}", 8 * *w as u32),
            Dtype::Float(w) => write!(f, "float{}", 8 * *w as u32),
        }
    }
}

/// A dense numeric array as read from any of the formats.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    /// Dimensions, slowest-varying first; `[]` for a 0-D scalar. MAT variables keep
    /// MATLAB's order (rows first), text tables are `[rows, columns]`.
    pub shape: Vec<usize>,
    /// Element type on disk (text is `Float(8)`).
    pub dtype: Dtype,
    /// The values as `f64` (exact for integers up to 2⁵³), C (row-major) order;
    /// `shape.iter().product()` of them.
    pub values: Vec<f64>,
}

impl Array {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when the array holds no value.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// True for shape `[n]`, `[n, 1]`, `[1, n]` (at least one axis, at most one longer than 1).
    pub fn is_vector(&self) -> bool {
        !self.shape.is_empty() && self.shape.iter().filter(|&&d| d != 1).count() <= 1
    }

    /// `(rows, cols)` of a 2-D array, `None` otherwise.
    pub fn matrix_dims(&self) -> Option<(usize, usize)> {
        match self.shape[..] {
            [rows, cols] => Some((rows, cols)),
            _ => None,
        }
    }
}

/// The extension of `path` in lower case, `""` when it has none (or one that is not UTF-8):
/// what a caller choosing a reader (or a writer) by extension matches on, so `.NPY` and
/// `.npy` are one format.
pub fn lowercase_extension(path: &std::path::Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::lowercase_extension;
    use std::path::Path;

    #[test]
    fn lowercase_extension_folds_case_and_is_empty_without_one() {
        assert_eq!(lowercase_extension(Path::new("a/b.NPZ")), "npz");
        assert_eq!(lowercase_extension(Path::new("b.tar.Gz")), "gz");
        assert_eq!(lowercase_extension(Path::new("a/README")), "");
        assert_eq!(lowercase_extension(Path::new(".hidden")), "");
    }
}
