//! Checks that empirical arrays mean what the model assumes, so that the
//! simulator and the costs can trust them. Each check returns the first
//! problem found (for symmetry: the worst pair), naming `path`.

use std::path::Path;

use super::{DataError, Matrix};

/// Number of bins of the FCD histogram, hence the length of an FCD CDF
/// (equal bins over [−0.9999, 1]; see `docs/pmfm-model.md`).
pub const FCD_CDF_BINS: usize = 10_000;

/// Relative tolerance for SC symmetry: |a_ij − a_ji| ≤ `SC_SYMMETRY_RTOL` · max|a|.
/// Loose enough for SC written with ~7 significant digits, tight enough to
/// catch a directed (asymmetric) connectome.
pub const SC_SYMMETRY_RTOL: f64 = 1e-6;

/// Relative tolerance for the SC diagonal: |a_ii| ≤ `SC_DIAGONAL_RTOL` · max|a|
/// (exact zeros in the reference data; allows round-off from normalisation).
pub const SC_DIAGONAL_RTOL: f64 = 1e-9;

/// Absolute tolerance for FC: entries in [−1 − tol, 1 + tol], diagonal within
/// tol of 1, |r_ij − r_ji| ≤ tol. Correlations computed in `f32` are off by ~1e-7.
pub const FC_TOL: f64 = 1e-6;

/// Structural connectivity, `n × n` streamline counts (or any non-negative
/// weights): square, finite, non-negative, symmetric within
/// [`SC_SYMMETRY_RTOL`] of its maximum, zero diagonal within [`SC_DIAGONAL_RTOL`].
pub fn check_sc(sc: &Matrix, path: &Path) -> Result<(), DataError> {
    check_square(sc, path)?;
    if sc.rows == 0 {
        // A model needs regions; this also keeps every later index valid.
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    check_finite_matrix(sc, path)?;
    let n = sc.rows;
    if let Some((k, &value)) = sc.data.iter().enumerate().find(|&(_, &v)| v < 0.0) {
        return Err(DataError::NegativeSc {
            path: path.to_path_buf(),
            row: k / n,
            col: k % n,
            value,
        });
    }
    let scale = sc.max_abs();
    check_symmetric(sc, path, "SC", SC_SYMMETRY_RTOL * scale)?;
    let tolerance = SC_DIAGONAL_RTOL * scale;
    for i in 0..n {
        let value = sc.data[i * n + i];
        if value.abs() > tolerance {
            return Err(DataError::ScDiagonal {
                path: path.to_path_buf(),
                index: i,
                value,
                tolerance,
            });
        }
    }
    Ok(())
}

/// Empirical static FC, `n × n` Pearson correlations: square, every entry in
/// [−1, 1] (NaN rejected), diagonal 1, symmetric, all within [`FC_TOL`].
pub fn check_fc(fc: &Matrix, path: &Path) -> Result<(), DataError> {
    check_square(fc, path)?;
    let n = fc.rows;
    for (k, &value) in fc.data.iter().enumerate() {
        // Written so that NaN fails the test too.
        if !(value.abs() <= 1.0 + FC_TOL) {
            return Err(DataError::FcOutOfRange {
                path: path.to_path_buf(),
                row: k / n,
                col: k % n,
                value,
            });
        }
    }
    for i in 0..n {
        let value = fc.data[i * n + i];
        if (value - 1.0).abs() > FC_TOL {
            return Err(DataError::FcDiagonal {
                path: path.to_path_buf(),
                index: i,
                value,
            });
        }
    }
    check_symmetric(fc, path, "FC", FC_TOL)
}

/// Empirical FCD CDF: [`FCD_CDF_BINS`] cumulative counts (or fractions), finite,
/// starting at ≥ 0, non-decreasing, with a positive total (last entry).
pub fn check_fcd_cdf(cdf: &[f64], path: &Path) -> Result<(), DataError> {
    if cdf.len() != FCD_CDF_BINS {
        return Err(DataError::CdfLength {
            path: path.to_path_buf(),
            expected: FCD_CDF_BINS,
            found: cdf.len(),
        });
    }
    check_finite_vector(cdf, path)?;
    for k in 1..cdf.len() {
        if cdf[k] < cdf[k - 1] {
            return Err(DataError::CdfNotMonotone {
                path: path.to_path_buf(),
                index: k,
                previous: cdf[k - 1],
                value: cdf[k],
            });
        }
    }
    let (first, last) = (cdf[0], cdf[cdf.len() - 1]);
    if first < 0.0 || last <= 0.0 {
        return Err(DataError::CdfDegenerate {
            path: path.to_path_buf(),
            first,
            last,
        });
    }
    Ok(())
}

/// Every value finite (no NaN, no ±∞); the error gives the 0-based index.
pub fn check_finite_vector(v: &[f64], path: &Path) -> Result<(), DataError> {
    match v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        Some((i, &value)) => Err(DataError::NonFinite {
            path: path.to_path_buf(),
            at: vec![i],
            value,
        }),
        None => Ok(()),
    }
}

/// Every entry finite; the error gives the 0-based `[row, col]`.
pub fn check_finite_matrix(m: &Matrix, path: &Path) -> Result<(), DataError> {
    let cols = m.cols.max(1);
    match m.data.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        Some((k, &value)) => Err(DataError::NonFinite {
            path: path.to_path_buf(),
            at: vec![k / cols, k % cols],
            value,
        }),
        None => Ok(()),
    }
}

/// `rows == cols` and `data.len() == rows · cols` (a hand-built [`Matrix`]
/// with an inconsistent length is reported as non-square too).
pub fn check_square(m: &Matrix, path: &Path) -> Result<(), DataError> {
    if m.rows != m.cols || m.data.len() != m.rows * m.cols {
        return Err(DataError::NotSquare {
            path: path.to_path_buf(),
            rows: m.rows,
            cols: m.cols,
        });
    }
    Ok(())
}

/// The worst |a_ij − a_ji| must not exceed `tolerance` (square `m` assumed).
fn check_symmetric(
    m: &Matrix,
    path: &Path,
    what: &'static str,
    tolerance: f64,
) -> Result<(), DataError> {
    let n = m.rows;
    let mut worst = (0.0_f64, 0usize, 0usize);
    for i in 0..n {
        for j in (i + 1)..n {
            let d = (m.data[i * n + j] - m.data[j * n + i]).abs();
            if d > worst.0 {
                worst = (d, i, j);
            }
        }
    }
    if worst.0 > tolerance {
        return Err(DataError::Asymmetric {
            path: path.to_path_buf(),
            what,
            max_abs_diff: worst.0,
            row: worst.1,
            col: worst.2,
            tolerance,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc3() -> Matrix {
        Matrix {
            rows: 3,
            cols: 3,
            data: vec![0.0, 2.0, 5.0, 2.0, 0.0, 1.0, 5.0, 1.0, 0.0],
        }
    }

    #[test]
    fn valid_sc_passes_and_each_defect_is_named() {
        let p = Path::new("sc.csv");
        check_sc(&sc3(), p).expect("valid SC");

        let mut m = sc3();
        m.data[5] = 1.5; // a[1,2] = 1.5 vs a[2,1] = 1
        m.data[1] = 2.0 + 1e-7; // tiny asymmetry within 1e-6 · 5
        match check_sc(&m, p).expect_err("asymmetric") {
            DataError::Asymmetric {
                max_abs_diff,
                row,
                col,
                what,
                ..
            } => {
                assert_eq!((row, col, what), (1, 2, "SC"));
                assert!((max_abs_diff - 0.5).abs() < 1e-12);
            }
            other => panic!("wrong variant: {other:?}"),
        }

        let mut m = sc3();
        m.data[2] = -5.0;
        m.data[6] = -5.0;
        assert!(matches!(
            check_sc(&m, p),
            Err(DataError::NegativeSc { row: 0, col: 2, .. })
        ));

        let mut m = sc3();
        m.data[4] = 1.0;
        assert!(matches!(
            check_sc(&m, p),
            Err(DataError::ScDiagonal { index: 1, .. })
        ));

        let mut m = sc3();
        m.data[3] = f64::INFINITY;
        let err = check_sc(&m, p).expect_err("inf");
        assert!(
            matches!(err, DataError::NonFinite { ref at, .. } if at == &vec![1, 0]),
            "{err:?}"
        );
    }

    #[test]
    fn fc_range_diagonal_and_nan() {
        let p = Path::new("fc.csv");
        let good = Matrix {
            rows: 2,
            cols: 2,
            data: vec![1.0, -0.3, -0.3, 1.0],
        };
        check_fc(&good, p).expect("valid FC");
        let mut m = good.clone();
        m.data[1] = f64::NAN;
        assert!(matches!(
            check_fc(&m, p),
            Err(DataError::FcOutOfRange { row: 0, col: 1, .. })
        ));
        let mut m = good.clone();
        m.data[2] = -1.2;
        assert!(matches!(
            check_fc(&m, p),
            Err(DataError::FcOutOfRange { row: 1, col: 0, .. })
        ));
        let mut m = good.clone();
        m.data[3] = 0.0;
        assert!(matches!(
            check_fc(&m, p),
            Err(DataError::FcDiagonal { index: 1, .. })
        ));
        let mut m = good;
        m.data[2] = 0.3;
        assert!(matches!(
            check_fc(&m, p),
            Err(DataError::Asymmetric { what: "FC", .. })
        ));
    }

    #[test]
    fn cdf_checks() {
        let p = Path::new("fcd.csv");
        let good: Vec<f64> = (0..FCD_CDF_BINS).map(|k| (k / 10) as f64).collect();
        check_fcd_cdf(&good, p).expect("valid CDF");

        let err = check_fcd_cdf(&good[..9_999], p).expect_err("short");
        assert!(matches!(
            err,
            DataError::CdfLength {
                expected: 10_000,
                found: 9_999,
                ..
            }
        ));

        let mut bad = good.clone();
        bad[5_000] = 3.0; // below bad[4_999] = 499
        match check_fcd_cdf(&bad, p).expect_err("dip") {
            DataError::CdfNotMonotone {
                index,
                previous,
                value,
                ..
            } => assert_eq!((index, previous, value), (5_000, 499.0, 3.0)),
            other => panic!("wrong variant: {other:?}"),
        }
        // The message names the file and the two entries.
        let msg = check_fcd_cdf(&bad, p).expect_err("dip").to_string();
        assert!(
            msg.contains("fcd.csv") && msg.contains("[5000]") && msg.contains("[4999]"),
            "{msg}"
        );

        let zeros = vec![0.0; FCD_CDF_BINS];
        assert!(matches!(
            check_fcd_cdf(&zeros, p),
            Err(DataError::CdfDegenerate { .. })
        ));
    }
}
