//! A plain dense row-major matrix of `f64`, the in-memory form of SC and FC.

/// Dense matrix, row-major: entry `(i, j)` is `data[i * cols + j]`.
///
/// The fields are public so callers can build one directly; the helpers assume
/// `data.len() == rows * cols` (every reader in this module guarantees it).
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Entries in row-major order, length `rows * cols`.
    pub data: Vec<f64>,
}

impl Matrix {
    /// A `rows × cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// A `rows × cols` matrix with entry `(i, j) = f(i, j)`.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> f64) -> Self {
        let mut data = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                data.push(f(i, j));
            }
        }
        Matrix { rows, cols, data }
    }

    /// Entry `(i, j)` (0-based).
    ///
    /// # Panics
    /// If `i >= rows` or `j >= cols`, like slice indexing.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        assert!(
            i < self.rows && j < self.cols,
            "index ({i}, {j}) out of bounds for a {}×{} matrix",
            self.rows,
            self.cols
        );
        self.data[i * self.cols + j]
    }

    /// Row `i` as a slice of length `cols`.
    ///
    /// # Panics
    /// If `i >= rows`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Whether `rows == cols`.
    pub fn is_square(&self) -> bool {
        self.rows == self.cols
    }

    /// The entries `(i, j)` with `i < j`, in row-major order: `(0,1), (0,2), …,
    /// (0,n−1), (1,2), …`. For an `n × n` matrix its length is `n(n−1)/2`
    /// (2,278 for the 68-region parcellation). This is the vectorisation used
    /// for FC correlations and FCD windows.
    pub fn upper_triangle(&self) -> Vec<f64> {
        let mut out =
            Vec::with_capacity(self.rows.min(self.cols).saturating_sub(1) * self.rows / 2);
        for i in 0..self.rows {
            for j in (i + 1)..self.cols {
                out.push(self.data[i * self.cols + j]);
            }
        }
        out
    }

    /// The diagonal `(i, i)`, length `min(rows, cols)`.
    pub fn diagonal(&self) -> Vec<f64> {
        (0..self.rows.min(self.cols))
            .map(|i| self.data[i * self.cols + i])
            .collect()
    }

    /// Largest absolute entry (0 for an empty matrix; NaN entries are ignored).
    pub fn max_abs(&self) -> f64 {
        self.data.iter().fold(0.0_f64, |m, &v| m.max(v.abs()))
    }

    /// The transpose, `cols × rows`.
    pub fn transpose(&self) -> Matrix {
        Matrix::from_fn(self.cols, self.rows, |i, j| self.data[j * self.cols + i])
    }
}
