//! Loading, validating and writing the empirical data the pMFM is fitted to.
//!
//! - [`EmpiricalData::load_dir`] reads one split of the reference layout
//!   (`sc_{split}.csv`, `fc_{split}.csv`, `fcd_{split}.mat`, `myelin.csv`,
//!   `rsfc_gradient.csv`, or `.npy` twins) and validates it.
//! - `formats`: the formats involved, read by the workspace's one reader per format
//!   (the `arrays` crate): text tables ([`read_matrix_csv`], [`read_vector_txt`]),
//!   MATLAB v5/v7 MAT-files ([`read_mat_vector`], [`read_mat_matrix`],
//!   [`list_mat_variables`]) and NumPy `.npy` ([`read_npy`]); atomic `.npy` writers
//!   ([`write_npy_f64`], [`write_npy_f32`]).
//! - `fs`: whole-file reads and the durable atomic write.
//! - [`validate`] holds the individual checks, usable on any array.
//!
//! Every failure is a [`DataError`] that names the file; no input file, however
//! malformed, makes these functions panic.

mod empirical;
mod error;
mod formats;
mod fs;
mod matrix;
pub mod validate;

pub use empirical::EmpiricalData;
pub use error::DataError;
pub use formats::{
    list_mat_variables, read_mat_matrix, read_mat_vector, read_matrix_csv, read_npy,
    read_vector_txt, write_npy_f32, write_npy_f64,
};
pub use matrix::Matrix;
pub use validate::FCD_CDF_BINS;

#[cfg(test)]
mod tests {
    use super::Matrix;

    #[test]
    fn matrix_helpers() {
        let m = Matrix::from_fn(3, 3, |i, j| (10 * i + j) as f64);
        assert_eq!(m.get(1, 2), 12.0);
        assert_eq!(m.row(2), &[20.0, 21.0, 22.0]);
        assert!(m.is_square());
        assert_eq!(m.upper_triangle(), vec![1.0, 2.0, 12.0]);
        assert_eq!(m.diagonal(), vec![0.0, 11.0, 22.0]);
        assert_eq!(m.transpose().get(2, 1), 12.0);
        assert_eq!(m.max_abs(), 22.0);

        let r = Matrix::from_fn(2, 4, |i, j| (i * 4 + j) as f64);
        assert!(!r.is_square());
        // i < j within bounds: (0,1),(0,2),(0,3),(1,2),(1,3).
        assert_eq!(r.upper_triangle(), vec![1.0, 2.0, 3.0, 6.0, 7.0]);
        assert_eq!(Matrix::zeros(2, 3).data.len(), 6);
    }
}
