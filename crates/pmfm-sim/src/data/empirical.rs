//! The empirical targets of one subject group: SC, FC, FCD CDF and the two
//! regional maps that parameterise the pMFM.

use std::path::{Path, PathBuf};

use super::validate::{check_fc, check_fcd_cdf, check_finite_vector, check_sc};
use super::{read_mat_vector, read_matrix_csv, read_npy, read_vector_txt, DataError, Matrix};
use arrays::ArrayError;

/// Empirical data of one split (train / vali / test) of a parcellated group.
///
/// `n` below is the number of regions (68 for Desikan–Killiany). Build it with
/// [`EmpiricalData::load_dir`] (validated) or by hand and call
/// [`EmpiricalData::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct EmpiricalData {
    /// Where the data came from, e.g. `"kong2021/train"`; used in messages.
    pub name: String,
    /// Structural connectivity, `[n, n]`, symmetric, non-negative, zero
    /// diagonal, in raw averaged streamline counts (max ≈ 22,760 for kong2021).
    pub sc: Matrix,
    /// Static functional connectivity, `[n, n]`, Pearson r in [−1, 1], diagonal 1.
    pub fc: Matrix,
    /// FCD CDF, `[10000]`: cumulative counts of the FCD upper triangle over
    /// 10,000 equal bins (kong2021 ends at 624,403 = 1118·1117/2).
    pub fcd_cdf: Vec<f64>,
    /// Group T1w/T2w (myelin) ratio per region, `[n]`, dimensionless.
    pub myelin: Vec<f64>,
    /// Principal resting-state FC gradient per region, `[n]`, dimensionless.
    pub gradient: Vec<f64>,
}

impl EmpiricalData {
    /// Number of brain regions `n` (rows of the SC).
    pub fn n_regions(&self) -> usize {
        self.sc.rows
    }

    /// Loads and validates one split from a folder in the reference layout
    /// (`../shared/data/kong2021/`):
    ///
    /// | array | file (first one found) |
    /// |---|---|
    /// | SC | `sc_{split}.csv`, `sc_{split}.npy` |
    /// | FC | `fc_{split}.csv`, `fc_{split}.npy` |
    /// | FCD CDF | `fcd_{split}.mat` (variable `{split}_aveM`), `fcd_{split}.csv`, `fcd_{split}.npy` |
    /// | myelin | `myelin.csv`, `myelin.npy` |
    /// | gradient | `rsfc_gradient.csv`, `rsfc_gradient.npy` |
    ///
    /// Each array is checked as in [`super::validate`] and all region counts
    /// must agree with the SC's; the first problem is returned as a
    /// [`DataError`] naming the file.
    pub fn load_dir(dir: &Path, split: &str) -> Result<Self, DataError> {
        let sc_path = find(dir, &format!("sc_{split}"), &["csv", "npy"])?;
        let sc = load_matrix(&sc_path)?;
        check_sc(&sc, &sc_path)?;
        let n = sc.rows;

        let fc_path = find(dir, &format!("fc_{split}"), &["csv", "npy"])?;
        let fc = load_matrix(&fc_path)?;
        check_fc(&fc, &fc_path)?;
        check_count(&sc_path, n, &fc_path, fc.rows)?;

        let fcd_path = find(dir, &format!("fcd_{split}"), &["mat", "csv", "npy"])?;
        let fcd_cdf = if has_ext(&fcd_path, "mat") {
            read_mat_vector(&fcd_path, &format!("{split}_aveM"))?
        } else {
            load_vector(&fcd_path)?
        };
        check_fcd_cdf(&fcd_cdf, &fcd_path)?;

        let myelin_path = find(dir, "myelin", &["csv", "npy"])?;
        let myelin = load_vector(&myelin_path)?;
        check_finite_vector(&myelin, &myelin_path)?;
        check_count(&sc_path, n, &myelin_path, myelin.len())?;

        let gradient_path = find(dir, "rsfc_gradient", &["csv", "npy"])?;
        let gradient = load_vector(&gradient_path)?;
        check_finite_vector(&gradient, &gradient_path)?;
        check_count(&sc_path, n, &gradient_path, gradient.len())?;

        let group = dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        Ok(EmpiricalData {
            name: format!("{group}/{split}"),
            sc,
            fc,
            fcd_cdf,
            myelin,
            gradient,
        })
    }

    /// Runs the checks of [`EmpiricalData::load_dir`] on in-memory data (e.g.
    /// a synthetic default). Errors name pseudo-paths `<{name}>/sc`,
    /// `<{name}>/fc`, `<{name}>/fcd_cdf`, `<{name}>/myelin`, `<{name}>/gradient`
    /// (`name` = `"synthetic"` when empty).
    pub fn validate(&self) -> Result<(), DataError> {
        let label = if self.name.is_empty() {
            "synthetic"
        } else {
            &self.name
        };
        let p = |part: &str| PathBuf::from(format!("<{label}>/{part}"));
        let (sc_p, fc_p, fcd_p, my_p, gr_p) =
            (p("sc"), p("fc"), p("fcd_cdf"), p("myelin"), p("gradient"));
        check_sc(&self.sc, &sc_p)?;
        let n = self.sc.rows;
        check_fc(&self.fc, &fc_p)?;
        check_count(&sc_p, n, &fc_p, self.fc.rows)?;
        check_fcd_cdf(&self.fcd_cdf, &fcd_p)?;
        check_finite_vector(&self.myelin, &my_p)?;
        check_count(&sc_p, n, &my_p, self.myelin.len())?;
        check_finite_vector(&self.gradient, &gr_p)?;
        check_count(&sc_p, n, &gr_p, self.gradient.len())
    }
}

fn check_count(path: &Path, n: usize, other_path: &Path, other_n: usize) -> Result<(), DataError> {
    if n != other_n {
        return Err(DataError::RegionMismatch {
            path: path.to_path_buf(),
            n,
            other_path: other_path.to_path_buf(),
            other_n,
        });
    }
    Ok(())
}

/// `dir/stem.ext` for the first extension that exists.
fn find(dir: &Path, stem: &str, exts: &[&str]) -> Result<PathBuf, DataError> {
    let candidates: Vec<PathBuf> = exts
        .iter()
        .map(|ext| dir.join(format!("{stem}.{ext}")))
        .collect();
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    let mut rest = candidates.into_iter();
    let path = rest.next().unwrap_or_else(|| dir.join(stem));
    Err(DataError::NotFound {
        path,
        also_tried: rest.collect(),
    })
}

fn has_ext(path: &Path, ext: &str) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// A 2-D array from `.npy` or text.
fn load_matrix(path: &Path) -> Result<Matrix, DataError> {
    if !has_ext(path, "npy") {
        return read_matrix_csv(path);
    }
    match read_npy(path)? {
        (shape, data) if shape.len() == 2 => Ok(Matrix {
            rows: shape[0],
            cols: shape[1],
            data,
        }),
        (shape, _) => Err(DataError::Array(ArrayError::WrongShape {
            path: path.to_path_buf(),
            expected: "a 2-D array".into(),
            shape,
        })),
    }
}

/// A vector from `.npy` (shape `[n]`, `[n, 1]` or `[1, n]`) or text.
fn load_vector(path: &Path) -> Result<Vec<f64>, DataError> {
    if !has_ext(path, "npy") {
        return read_vector_txt(path);
    }
    let (shape, data) = read_npy(path)?;
    if shape.iter().filter(|&&d| d != 1).count() <= 1 && !shape.is_empty() {
        Ok(data)
    } else {
        Err(DataError::Array(ArrayError::WrongShape {
            path: path.to_path_buf(),
            expected: "a vector".into(),
            shape,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::validate::FCD_CDF_BINS;
    use crate::data::write_npy_f64;
    use arrays::test_support::{write_mat_v5, MatVar, TempDir};
    use arrays::ArrayError;

    /// The reference data beside the repository (crate directory read at run time, as cargo
    /// sets it for tests: a shared target dir may hold a binary compiled at another path).
    fn kong2021() -> Option<PathBuf> {
        let dir = PathBuf::from(
            std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
        )
        .join("../../../shared/data/kong2021");
        if dir.is_dir() {
            Some(dir)
        } else if std::env::var("PMFM_REQUIRE_DATA").is_ok_and(|v| v == "1") {
            panic!(
                "PMFM_REQUIRE_DATA=1 but the reference data is not at {}",
                dir.display()
            );
        } else {
            println!(
                "SKIPPED: reference data not found at {} (set PMFM_REQUIRE_DATA=1 to fail)",
                dir.display()
            );
            None
        }
    }

    #[test]
    fn loads_kong2021_train_split() {
        let Some(dir) = kong2021() else { return };
        let data = EmpiricalData::load_dir(&dir, "train").expect("train split loads");
        assert_eq!(data.n_regions(), 68);
        assert_eq!(data.name, "kong2021/train");
        assert_eq!((data.fc.rows, data.fc.cols), (68, 68));
        assert_eq!((data.myelin.len(), data.gradient.len()), (68, 68));

        // SC: raw streamline counts, exactly symmetric, max 22,760 between regions 26 and 60.
        let sc = &data.sc;
        assert_eq!(sc.max_abs(), 22_760.0);
        assert_eq!(sc.get(26, 60), 22_760.0);
        assert_eq!(sc.get(60, 26), 22_760.0);
        for i in 0..68 {
            assert_eq!(sc.get(i, i), 0.0);
            for j in 0..68 {
                assert_eq!(sc.get(i, j), sc.get(j, i));
            }
        }
        assert!(data.fc.diagonal().iter().all(|&d| d == 1.0));
        assert_eq!(data.fc.upper_triangle().len(), 68 * 67 / 2);

        // The .mat CDF (what load_dir read) equals the plain-text copy exactly.
        let from_csv = read_vector_txt(dir.join("fcd_train.csv")).expect("fcd_train.csv");
        assert_eq!(data.fcd_cdf.len(), FCD_CDF_BINS);
        assert_eq!(from_csv.len(), FCD_CDF_BINS);
        for (k, (a, b)) in data.fcd_cdf.iter().zip(&from_csv).enumerate() {
            assert_eq!(a, b, "CDF bin {k}");
        }
        assert_eq!(data.fcd_cdf[FCD_CDF_BINS - 1], 624_403.0);
        assert_eq!(data.myelin[0], 1.3354);
        data.validate().expect("loaded data re-validates in memory");
    }

    #[test]
    fn loads_kong2021_vali_and_test_splits() {
        let Some(dir) = kong2021() else { return };
        for split in ["vali", "test"] {
            let data = EmpiricalData::load_dir(&dir, split).expect(split);
            assert_eq!(data.n_regions(), 68);
            assert_eq!(data.fcd_cdf.last().copied(), Some(624_403.0), "{split}");
        }
    }

    #[test]
    fn kong2021_mat_files_list_their_variables() {
        let Some(dir) = kong2021() else { return };
        let fcd = dir.join("fcd_vali.mat");
        assert_eq!(
            crate::data::list_mat_variables(&fcd).expect("list"),
            vec!["vali_aveM"]
        );
        let err = read_mat_vector(&fcd, "train_aveM").expect_err("wrong split");
        assert!(err.to_string().contains("`vali_aveM`"), "{err}");
        // The region description is a cell array: listed, but not a numeric vector.
        let desc = dir.join("Desikan_68_region_description.mat");
        let names = crate::data::list_mat_variables(&desc).expect("list");
        assert_eq!(names.len(), 1, "{names:?}");
        let err = read_mat_vector(&desc, &names[0]).expect_err("cell array");
        assert!(
            matches!(err, DataError::Array(ArrayError::MatUnsupported { .. })),
            "{err:?}"
        );
    }

    /// A valid 4-region split in `dir`, written as the reference layout.
    fn write_valid_split(dir: &Path) {
        std::fs::write(
            dir.join("sc_train.csv"),
            "0,3,0,1\n3,0,2,0\n0,2,0,5\n1,0,5,0\n",
        )
        .expect("sc");
        std::fs::write(
            dir.join("fc_train.csv"),
            "1,0.5,0.1,-0.2\n0.5,1,0.3,0.0\n0.1,0.3,1,0.4\n-0.2,0.0,0.4,1\n",
        )
        .expect("fc");
        let cdf: String = (0..FCD_CDF_BINS).map(|k| format!("{}\n", k / 2)).collect();
        std::fs::write(dir.join("fcd_train.csv"), cdf).expect("fcd");
        std::fs::write(dir.join("myelin.csv"), "1.3\n1.1\n1.2\n1.4\n\n").expect("myelin");
        std::fs::write(dir.join("rsfc_gradient.csv"), "-0.5\n0.25\n0.0\n2.0\n").expect("gradient");
    }

    /// Loads after `tamper` and returns the error with its message.
    fn load_err(label: &str, tamper: impl FnOnce(&Path)) -> (DataError, String) {
        let dir = TempDir::new(label);
        write_valid_split(dir.path());
        tamper(dir.path());
        let err =
            EmpiricalData::load_dir(dir.path(), "train").expect_err("tampered data must fail");
        let msg = err.to_string();
        println!("{label}: {msg}");
        (err, msg)
    }

    #[test]
    fn synthetic_split_loads() {
        let dir = TempDir::new("emp-valid");
        write_valid_split(dir.path());
        let data = EmpiricalData::load_dir(dir.path(), "train").expect("valid split");
        assert_eq!(data.n_regions(), 4);
        assert_eq!(data.sc.get(2, 3), 5.0);
        assert_eq!(data.fc.get(3, 0), -0.2);
        assert_eq!(data.fcd_cdf[9_999], 4_999.0);
        assert_eq!(data.myelin, vec![1.3, 1.1, 1.2, 1.4]);
        assert_eq!(data.gradient, vec![-0.5, 0.25, 0.0, 2.0]);
    }

    #[test]
    fn truncated_sc_csv() {
        let (err, msg) = load_err("emp-truncated", |d| {
            std::fs::write(d.join("sc_train.csv"), "0,3,0,1\n3,0,2,0\n0,2,0,5\n1,0,5").expect("w");
        });
        assert!(
            matches!(err, DataError::Array(ArrayError::Ragged { line: 4, .. })),
            "{err:?}"
        );
        assert!(msg.contains("sc_train.csv"), "{msg}");
    }

    #[test]
    fn non_square_sc() {
        let (err, msg) = load_err("emp-67x68", |d| {
            let row = vec!["0"; 68].join(",");
            let text: String = (0..67).map(|_| format!("{row}\n")).collect();
            std::fs::write(d.join("sc_train.csv"), text).expect("w");
        });
        assert!(
            matches!(
                err,
                DataError::NotSquare {
                    rows: 67,
                    cols: 68,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            msg.ends_with("sc_train.csv: expected a square matrix, got 67 rows × 68 columns"),
            "{msg}"
        );
    }

    #[test]
    fn nan_in_fc() {
        let (err, msg) = load_err("emp-fc-nan", |d| {
            std::fs::write(
                d.join("fc_train.csv"),
                "1,0.5,0.1,-0.2\n0.5,1,NaN,0.0\n0.1,0.3,1,0.4\n-0.2,0.0,0.4,1\n",
            )
            .expect("w");
        });
        assert!(
            matches!(err, DataError::FcOutOfRange { row: 1, col: 2, .. }),
            "{err:?}"
        );
        assert!(msg.contains("fc_train.csv") && msg.contains("NaN"), "{msg}");
    }

    #[test]
    fn missing_file_names_all_candidates() {
        let (err, msg) = load_err("emp-missing", |d| {
            std::fs::remove_file(d.join("myelin.csv")).expect("rm");
        });
        match &err {
            DataError::NotFound { path, also_tried } => {
                assert!(path.ends_with("myelin.csv"));
                assert_eq!(also_tried.len(), 1);
                assert!(also_tried[0].ends_with("myelin.npy"));
            }
            other => panic!("wrong variant: {other:?}"),
        }
        assert!(
            msg.contains("myelin.csv") && msg.contains("not found"),
            "{msg}"
        );
    }

    #[test]
    fn mat_without_the_split_variable() {
        let (err, msg) = load_err("emp-mat-var", |d| {
            let counts: Vec<i32> = (0..FCD_CDF_BINS as i32).collect();
            write_mat_v5(
                &d.join("fcd_train.mat"),
                &[MatVar::int32(
                    "vali_aveM",
                    &[FCD_CDF_BINS as i32, 1],
                    &counts,
                    true,
                )],
            );
        });
        assert!(
            matches!(err, DataError::Array(ArrayError::MatMissingVariable { ref name, .. }) if name == "train_aveM"),
            "{err:?}"
        );
        assert!(
            msg.contains("fcd_train.mat") && msg.contains("`vali_aveM`"),
            "{msg}"
        );
    }

    #[test]
    fn mat_is_preferred_over_csv() {
        let dir = TempDir::new("emp-mat-first");
        write_valid_split(dir.path());
        let counts: Vec<i32> = (0..FCD_CDF_BINS as i32).map(|k| 3 * k + 1).collect();
        write_mat_v5(
            &dir.path().join("fcd_train.mat"),
            &[MatVar::int32(
                "train_aveM",
                &[FCD_CDF_BINS as i32, 1],
                &counts,
                true,
            )],
        );
        let data = EmpiricalData::load_dir(dir.path(), "train").expect("loads");
        assert_eq!(data.fcd_cdf[9_999], (3 * 9_999 + 1) as f64);
    }

    #[test]
    fn asymmetric_sc() {
        let (err, msg) = load_err("emp-asym", |d| {
            std::fs::write(
                d.join("sc_train.csv"),
                "0,3,0,1\n3,0,2,0\n0,2,0,5\n1,0,4,0\n",
            )
            .expect("w");
        });
        match &err {
            DataError::Asymmetric {
                row,
                col,
                max_abs_diff,
                ..
            } => {
                assert_eq!((*row, *col), (2, 3));
                assert_eq!(*max_abs_diff, 1.0);
            }
            other => panic!("wrong variant: {other:?}"),
        }
        assert!(
            msg.contains("sc_train.csv") && msg.contains("not symmetric"),
            "{msg}"
        );
    }

    #[test]
    fn negative_sc() {
        let (err, msg) = load_err("emp-neg", |d| {
            std::fs::write(
                d.join("sc_train.csv"),
                "0,3,0,1\n3,0,-2,0\n0,-2,0,5\n1,0,5,0\n",
            )
            .expect("w");
        });
        assert!(
            matches!(err, DataError::NegativeSc { row: 1, col: 2, value, .. } if value == -2.0),
            "{err:?}"
        );
        assert!(msg.contains("sc_train.csv"), "{msg}");
    }

    #[test]
    fn non_monotone_cdf() {
        let (err, msg) = load_err("emp-cdf", |d| {
            let mut v: Vec<u64> = (0..FCD_CDF_BINS as u64).collect();
            v[7_000] = 10;
            let text: String = v.iter().map(|x| format!("{x}\n")).collect();
            std::fs::write(d.join("fcd_train.csv"), text).expect("w");
        });
        assert!(
            matches!(err, DataError::CdfNotMonotone { index: 7_000, .. }),
            "{err:?}"
        );
        assert!(msg.contains("fcd_train.csv"), "{msg}");
    }

    #[test]
    fn disagreeing_region_counts() {
        let (err, msg) = load_err("emp-count", |d| {
            std::fs::write(d.join("rsfc_gradient.csv"), "-0.5\n0.25\n0.0\n").expect("w");
        });
        assert!(
            matches!(
                err,
                DataError::RegionMismatch {
                    n: 4,
                    other_n: 3,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            msg.contains("sc_train.csv") && msg.contains("rsfc_gradient.csv"),
            "{msg}"
        );

        let (err, _) = load_err("emp-count-fc", |d| {
            std::fs::write(d.join("fc_train.csv"), "1,0.5\n0.5,1\n").expect("w");
        });
        assert!(
            matches!(
                err,
                DataError::RegionMismatch {
                    n: 4,
                    other_n: 2,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn npy_files_are_accepted_and_csv_preferred() {
        let dir = TempDir::new("emp-npy");
        write_valid_split(dir.path());
        let reference = EmpiricalData::load_dir(dir.path(), "train").expect("csv split");

        // Replace every text file by its .npy twin: same data.
        let d = dir.path();
        write_npy_f64(d.join("sc_train.npy"), &[4, 4], &reference.sc.data).expect("w");
        write_npy_f64(d.join("fc_train.npy"), &[4, 4], &reference.fc.data).expect("w");
        write_npy_f64(d.join("fcd_train.npy"), &[FCD_CDF_BINS], &reference.fcd_cdf).expect("w");
        write_npy_f64(d.join("myelin.npy"), &[4, 1], &reference.myelin).expect("w");
        write_npy_f64(d.join("rsfc_gradient.npy"), &[4], &reference.gradient).expect("w");

        // Both present: the .csv wins (make the .npy SC different to tell).
        let mut other_sc = reference.sc.data.clone();
        other_sc[1] = 7.0;
        other_sc[4] = 7.0;
        write_npy_f64(d.join("sc_train.npy"), &[4, 4], &other_sc).expect("w");
        let both = EmpiricalData::load_dir(d, "train").expect("both");
        assert_eq!(both.sc.get(0, 1), 3.0);

        for f in [
            "sc_train",
            "fc_train",
            "fcd_train",
            "myelin",
            "rsfc_gradient",
        ] {
            std::fs::remove_file(d.join(format!("{f}.csv"))).expect("rm");
        }
        write_npy_f64(d.join("sc_train.npy"), &[4, 4], &reference.sc.data).expect("w");
        let from_npy = EmpiricalData::load_dir(d, "train").expect("npy split");
        assert_eq!(from_npy, reference);

        // A 1-D SC is the wrong shape.
        write_npy_f64(d.join("sc_train.npy"), &[16], &reference.sc.data).expect("w");
        let err = EmpiricalData::load_dir(d, "train").expect_err("1-D SC");
        assert!(
            matches!(err, DataError::Array(ArrayError::WrongShape { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn validate_in_memory_names_the_part() {
        let dir = TempDir::new("emp-mem");
        write_valid_split(dir.path());
        let mut data = EmpiricalData::load_dir(dir.path(), "train").expect("valid");
        data.name = String::new();
        data.validate().expect("valid in memory");

        let mut bad = data.clone();
        bad.myelin[2] = f64::NAN;
        let err = bad.validate().expect_err("NaN myelin");
        assert!(
            matches!(err, DataError::NonFinite { ref at, .. } if at == &vec![2]),
            "{err:?}"
        );
        assert_eq!(err.path(), Path::new("<synthetic>/myelin"));

        let mut bad = data.clone();
        bad.fcd_cdf.pop();
        let err = bad.validate().expect_err("short CDF");
        assert!(
            err.to_string()
                .starts_with("<synthetic>/fcd_cdf: FCD CDF has 9999 entries"),
            "{err}"
        );

        let mut bad = data;
        bad.gradient.push(0.0);
        let err = bad.validate().expect_err("count");
        assert_eq!(
            err.to_string(),
            "<synthetic>/sc has 4 regions but <synthetic>/gradient has 5"
        );
    }
}
