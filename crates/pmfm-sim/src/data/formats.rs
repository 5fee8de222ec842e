//! The file formats of the empirical data — text tables, MATLAB v5/v7 MAT-files and NumPy
//! `.npy` — read and encoded by the workspace's one reader per format (the `arrays`
//! crate), with the pMFM's shapes ([`Matrix`], vectors) and errors ([`DataError`]).
//! Files are read through [`read_bytes`] (a missing file is [`DataError::NotFound`]) and
//! written through [`write_atomic`].

use std::path::Path;

use arrays::{mat, npy, text, Array, ArrayError};

use super::fs::{read_bytes, write_atomic};
use super::{DataError, Matrix};

/// Reads a comma- or whitespace-separated table of numbers (format: `arrays::text`) as a
/// `rows × cols` [`Matrix`], one row per non-blank line.
///
/// Errors: [`DataError::NotFound`], [`DataError::Io`], [`DataError::Empty`], and
/// [`DataError::Array`] for a field that is not a number (with 1-based `line:col`) or a
/// row with another number of values than the first (e.g. a file cut short). Values are
/// not validated here (NaN passes); see [`super::validate`].
pub fn read_matrix_csv(path: impl AsRef<Path>) -> Result<Matrix, DataError> {
    let path = path.as_ref();
    let a = text::parse(path, &read_bytes(path)?)?;
    into_matrix(path, a)
}

/// Reads a vector of numbers stored one per line (a single comma- or whitespace-separated
/// row is accepted too), in file order. Errors as for [`read_matrix_csv`], plus
/// [`DataError::Array`] (`WrongShape`) if the file holds a matrix with more than one row and column.
pub fn read_vector_txt(path: impl AsRef<Path>) -> Result<Vec<f64>, DataError> {
    let path = path.as_ref();
    let a = text::parse(path, &read_bytes(path)?)?;
    into_vector(path, a, "a vector (one value per line)")
}

/// Reads the real numeric vector `var_name` from a MATLAB v5/v7 file: any numeric class,
/// compressed or not, shape `n×1`, `1×n` (or `1×…×n×…×1`), values as `f64` (exact for
/// integers up to 2⁵³). The reference `fcd_train.mat` holds `train_aveM`, 10000×1
/// cumulative counts (class `double`, stored as `miINT32`).
///
/// Errors: [`DataError::NotFound`], [`DataError::Io`], [`DataError::Array`] (`WrongShape`) (not a
/// vector), and [`DataError::Array`] for a file that is not a v5 MAT-file (corrupt,
/// v7.3/HDF5), a missing variable (listing the variables present) or a variable that is
/// not a real numeric array (complex, sparse, cell, struct, char …).
pub fn read_mat_vector(path: impl AsRef<Path>, var_name: &str) -> Result<Vec<f64>, DataError> {
    let path = path.as_ref();
    let a = mat::parse(path, &read_bytes(path)?, var_name)?;
    into_vector(path, a, &format!("variable `{var_name}` to be a vector"))
}

/// Reads the real numeric 2-D variable `var_name` as a row-major [`Matrix`] (MATLAB stores
/// column-major; this reorders the storage, not the matrix). Errors as for
/// [`read_mat_vector`]; other than two dimensions give [`DataError::Array`] (`WrongShape`).
pub fn read_mat_matrix(path: impl AsRef<Path>, var_name: &str) -> Result<Matrix, DataError> {
    let path = path.as_ref();
    let a = mat::parse(path, &read_bytes(path)?, var_name)?;
    if a.matrix_dims().is_none() {
        return Err(DataError::Array(ArrayError::WrongShape {
            path: path.to_path_buf(),
            expected: format!("variable `{var_name}` to be 2-D"),
            shape: a.shape,
        }));
    }
    into_matrix(path, a)
}

/// Names of all variables in a MATLAB v5/v7 file, in file order, whatever their class.
pub fn list_mat_variables(path: impl AsRef<Path>) -> Result<Vec<String>, DataError> {
    let path = path.as_ref();
    Ok(mat::parse_variable_names(path, &read_bytes(path)?)?)
}

/// Reads an `.npy` array as `(shape, values)`, values in C (row-major) order.
///
/// Accepted dtypes: `float64`, `float32`, signed or unsigned integers of 1–8 bytes
/// (converted exactly up to 2⁵³, as FCD counts may be saved as integers) and `bool`;
/// either byte order; Fortran order is re-ordered to C. `values.len()` equals the product
/// of `shape` (1 for a 0-D array).
///
/// Errors: [`DataError::NotFound`], [`DataError::Io`], and [`DataError::Array`] for an
/// unsupported dtype (complex, string, structured) or a bad magic, header or data section
/// (shorter or longer than the shape needs).
pub fn read_npy(path: impl AsRef<Path>) -> Result<(Vec<usize>, Vec<f64>), DataError> {
    let path = path.as_ref();
    let a = npy::parse(path, &read_bytes(path)?)?;
    Ok((a.shape, a.values))
}

/// Writes `data` (C order, `shape.iter().product()` values) as a little-endian `float64`
/// `.npy` file, atomically and durably. Errors: [`DataError::Array`] (`ShapeMismatch`),
/// [`DataError::Io`].
pub fn write_npy_f64(
    path: impl AsRef<Path>,
    shape: &[usize],
    data: &[f64],
) -> Result<(), DataError> {
    let path = path.as_ref();
    write_atomic(path, &npy::encode(path, shape, data)?)
}

/// Writes `data` as a little-endian `float32` `.npy` file, atomically and durably. Errors
/// as for [`write_npy_f64`].
pub fn write_npy_f32(
    path: impl AsRef<Path>,
    shape: &[usize],
    data: &[f32],
) -> Result<(), DataError> {
    let path = path.as_ref();
    write_atomic(path, &npy::encode(path, shape, data)?)
}

fn into_matrix(path: &Path, a: Array) -> Result<Matrix, DataError> {
    match a.matrix_dims() {
        Some((rows, cols)) => Ok(Matrix {
            rows,
            cols,
            data: a.values,
        }),
        None => Err(DataError::Array(ArrayError::WrongShape {
            path: path.to_path_buf(),
            expected: "a 2-D array".into(),
            shape: a.shape,
        })),
    }
}

fn into_vector(path: &Path, a: Array, expected: &str) -> Result<Vec<f64>, DataError> {
    if a.is_vector() {
        Ok(a.values)
    } else {
        Err(DataError::Array(ArrayError::WrongShape {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            shape: a.shape,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrays::test_support::{write_mat_v5, MatVar, TempDir};
    use arrays::ArrayError;

    #[test]
    fn npy_writers_round_trip_atomically() {
        let dir = TempDir::new("pmfm-npy-roundtrip");
        let p64 = dir.path().join("a64.npy");
        let data: Vec<f64> = (0..12).map(|k| k as f64 * 0.1 - 0.3).collect();
        write_npy_f64(&p64, &[3, 4], &data).expect("write f64");
        assert_eq!(read_npy(&p64).expect("read f64"), (vec![3, 4], data));
        let p32 = dir.path().join("a32.npy");
        let data32: Vec<f32> = (0..5).map(|k| k as f32 / 3.0).collect();
        write_npy_f32(&p32, &[5], &data32).expect("write f32");
        let expected: Vec<f64> = data32.iter().map(|&v| v as f64).collect();
        assert_eq!(read_npy(&p32).expect("read f32"), (vec![5], expected));
        // No temporary files left behind.
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        let err = write_npy_f64(dir.path().join("x.npy"), &[2, 2], &[1.0; 3]).expect_err("len");
        assert!(
            matches!(
                err,
                DataError::Array(ArrayError::ShapeMismatch {
                    expected: 4,
                    found: 3,
                    ..
                })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn errors_keep_their_file_and_kind() {
        let dir = TempDir::new("pmfm-formats-errors");
        let missing = dir.path().join("nope.csv");
        let err = read_matrix_csv(&missing).expect_err("missing");
        assert!(matches!(err, DataError::NotFound { .. }), "{err:?}");
        assert_eq!(err.path(), missing);

        let csv = dir.path().join("fc_train.csv");
        std::fs::write(&csv, "1,2,3\n4,abc,6\n").expect("write");
        let err = read_matrix_csv(&csv).expect_err("bad field");
        assert!(
            matches!(
                err,
                DataError::Array(ArrayError::Parse {
                    line: 2,
                    col: 3,
                    ..
                })
            ),
            "{err:?}"
        );
        assert!(err
            .to_string()
            .ends_with("fc_train.csv:2:3: \"abc\" is not a number"));
        std::fs::write(&csv, "\n \n").expect("write");
        let err = read_vector_txt(&csv).expect_err("empty");
        assert!(matches!(err, DataError::Empty { .. }), "{err:?}");
        std::fs::write(&csv, "1,2\n3,4\n").expect("write");
        let err = read_vector_txt(&csv).expect_err("matrix");
        assert!(
            matches!(err, DataError::Array(ArrayError::WrongShape { .. })),
            "{err:?}"
        );

        let npy = dir.path().join("bad.npy");
        std::fs::write(&npy, b"junk").expect("write");
        let err = read_npy(&npy).expect_err("garbage");
        assert!(
            matches!(err, DataError::Array(ArrayError::NpyUnreadable { .. })),
            "{err:?}"
        );
        assert_eq!(err.path(), npy);

        let m = dir.path().join("v.mat");
        let grid = MatVar::double("grid", &[2, 3], &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0], true);
        write_mat_v5(&m, &[grid]);
        let g = read_mat_matrix(&m, "grid").expect("matrix");
        assert_eq!((g.rows, g.cols), (2, 3));
        assert_eq!(g.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let err = read_mat_vector(&m, "grid").expect_err("2×3 is no vector");
        assert!(
            matches!(err, DataError::Array(ArrayError::WrongShape { .. })),
            "{err:?}"
        );
        assert_eq!(list_mat_variables(&m).expect("list"), vec!["grid"]);
        let err = read_mat_vector(&m, "cdf").expect_err("missing variable");
        assert!(
            matches!(err, DataError::Array(ArrayError::MatMissingVariable { .. })),
            "{err:?}"
        );
    }
}
