//! The Parquet form of a parameter→cost dataset (polars).
//!
//! One row per simulated θ. Columns (types):
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `index` | u64 | global index of θ in its design |
//! | `w0` … `s_grad` | f64 | the 10 coefficients (names of [`THETA_NAMES`]) |
//! | `fc_cost`, `ks_cost`, `total_cost` | f64 | costs (10 where no duplicate was valid) |
//! | `valid` | bool | costs valid and θ inside the bounds |
//! | `n_dup` | u32 | noise duplicates per θ |
//! | `seed` | u64 | noise seed of the batch |
//! | `dataset` | str | empirical data set the costs refer to |
//! | `design` | str | how θ was drawn |
//! | `wall_s` | f64 | wall time of the batch per θ (s) |
//!
//! A dataset directory holds one `part-XXXXXX.parquet` per batch (each written atomically) and,
//! once complete, the merged `dataset.parquet`. Parquet I/O, part names and the merge's
//! coverage check are the job layer's (`jobs::table`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use jobs::table::{check_coverage, list_parts, read_parquet, write_parquet};
use pmfm_sim::params::{Theta, N_THETA, THETA_NAMES};
use polars::prelude::*;

use crate::error::{Result, SurrogateError};
use crate::samples::Samples;

/// Required columns, in table order.
pub fn required_columns() -> Vec<&'static str> {
    let mut v = vec!["index"];
    v.extend(THETA_NAMES);
    v.extend([
        "fc_cost",
        "ks_cost",
        "total_cost",
        "valid",
        "n_dup",
        "seed",
        "dataset",
        "design",
        "wall_s",
    ]);
    v
}

/// The polars table of `samples`.
pub fn to_dataframe(s: &Samples) -> Result<DataFrame> {
    let n = s.len();
    let mut cols: Vec<Column> = vec![Column::new("index".into(), s.index.clone())];
    for (d, name) in THETA_NAMES.iter().enumerate() {
        let v: Vec<f64> = s.theta.iter().map(|t| t[d]).collect();
        cols.push(Column::new((*name).into(), v));
    }
    cols.push(Column::new("fc_cost".into(), s.fc_cost.clone()));
    cols.push(Column::new("ks_cost".into(), s.ks_cost.clone()));
    cols.push(Column::new("total_cost".into(), s.total_cost.clone()));
    cols.push(Column::new("valid".into(), s.valid.clone()));
    cols.push(Column::new("n_dup".into(), s.n_dup.clone()));
    cols.push(Column::new("seed".into(), s.seed.clone()));
    cols.push(Column::new("dataset".into(), s.dataset.clone()));
    cols.push(Column::new("design".into(), s.design.clone()));
    cols.push(Column::new("wall_s".into(), s.wall_s.clone()));
    DataFrame::new(n, cols).map_err(|e| SurrogateError::Input(format!("building the table: {e}")))
}

fn column<'a>(df: &'a DataFrame, path: &Path, name: &str) -> Result<&'a Column> {
    df.column(name).map_err(|_| SurrogateError::MissingColumn {
        path: path.to_path_buf(),
        column: name.to_string(),
        expected: required_columns().join(", "),
    })
}

fn type_error(path: &Path, c: &Column, expected: &str) -> SurrogateError {
    SurrogateError::ColumnType {
        path: path.to_path_buf(),
        column: c.name().to_string(),
        found: c.dtype().to_string(),
        expected: expected.to_string(),
    }
}

/// A float column (integers are accepted and widened); nulls are reported as non-finite.
fn f64_column(df: &DataFrame, path: &Path, name: &str) -> Result<Vec<f64>> {
    let c = column(df, path, name)?;
    if !c.dtype().is_primitive_numeric() {
        return Err(type_error(path, c, "f64"));
    }
    let c = c
        .cast(&DataType::Float64)
        .map_err(|_| type_error(path, c, "f64"))?;
    let ca = c.f64().map_err(|_| type_error(path, &c, "f64"))?;
    Ok(ca.iter().map(|x| x.unwrap_or(f64::NAN)).collect())
}

fn u64_column(df: &DataFrame, path: &Path, name: &str) -> Result<Vec<u64>> {
    let c = column(df, path, name)?;
    if !c.dtype().is_integer() {
        return Err(type_error(path, c, "unsigned integer"));
    }
    let cast = c
        .strict_cast(&DataType::UInt64)
        .map_err(|_| type_error(path, c, "unsigned integer"))?;
    let ca = cast
        .u64()
        .map_err(|_| type_error(path, c, "unsigned integer"))?;
    ca.iter()
        .enumerate()
        .map(|(row, x)| {
            x.ok_or_else(|| SurrogateError::NonFinite {
                path: path.to_path_buf(),
                column: name.to_string(),
                row,
            })
        })
        .collect()
}

fn bool_column(df: &DataFrame, path: &Path, name: &str) -> Result<Vec<bool>> {
    let c = column(df, path, name)?;
    let ca = c.bool().map_err(|_| type_error(path, c, "bool"))?;
    Ok(ca.iter().map(|x| x.unwrap_or(false)).collect())
}

fn str_column(df: &DataFrame, path: &Path, name: &str) -> Result<Vec<String>> {
    let c = column(df, path, name)?;
    let ca = c.str().map_err(|_| type_error(path, c, "string"))?;
    Ok(ca.iter().map(|x| x.unwrap_or("").to_string()).collect())
}

/// Reads and validates a polars table as [`Samples`]: every required column present with a
/// compatible type, θ finite in every row, costs finite in every row marked valid.
pub fn from_dataframe(df: &DataFrame, path: &Path) -> Result<Samples> {
    let index = u64_column(df, path, "index")?;
    let n = index.len();
    let mut theta: Vec<Theta> = vec![[0.0; N_THETA]; n];
    for (d, name) in THETA_NAMES.iter().enumerate() {
        let v = f64_column(df, path, name)?;
        for (row, x) in v.into_iter().enumerate() {
            if !x.is_finite() {
                return Err(SurrogateError::NonFinite {
                    path: path.to_path_buf(),
                    column: name.to_string(),
                    row,
                });
            }
            theta[row][d] = x;
        }
    }
    let fc_cost = f64_column(df, path, "fc_cost")?;
    let ks_cost = f64_column(df, path, "ks_cost")?;
    let total_cost = f64_column(df, path, "total_cost")?;
    let valid = bool_column(df, path, "valid")?;
    for row in 0..n {
        if !valid[row] {
            continue;
        }
        for (name, v) in [
            ("fc_cost", &fc_cost),
            ("ks_cost", &ks_cost),
            ("total_cost", &total_cost),
        ] {
            if !v[row].is_finite() {
                return Err(SurrogateError::NonFinite {
                    path: path.to_path_buf(),
                    column: name.to_string(),
                    row,
                });
            }
        }
    }
    let n_dup = u64_column(df, path, "n_dup")?
        .into_iter()
        .map(|x| x as u32)
        .collect();
    let seed = u64_column(df, path, "seed")?;
    let dataset = str_column(df, path, "dataset")?;
    let design = str_column(df, path, "design")?;
    let wall_s = f64_column(df, path, "wall_s")?;
    Ok(Samples {
        index,
        theta,
        fc_cost,
        ks_cost,
        total_cost,
        valid,
        n_dup,
        seed,
        dataset,
        design,
        wall_s,
    })
}

/// Writes `samples` as a Parquet dataset file, atomically.
pub fn write_samples(path: &Path, samples: &Samples) -> Result<()> {
    Ok(write_parquet(path, &mut to_dataframe(samples)?)?)
}

/// Reads one dataset file, or every `part-*.parquet` of a dataset directory (or its merged
/// `dataset.parquet` when present), validated.
pub fn read_samples(path: &Path) -> Result<Samples> {
    if path.is_dir() {
        let merged = path.join(MERGED_FILE);
        if merged.is_file() {
            return read_samples(&merged);
        }
        let mut all = Samples::default();
        for (_, part) in list_parts(path)? {
            all.extend(&read_samples(&part)?);
        }
        return Ok(all.sorted_by_index());
    }
    from_dataframe(&read_parquet(path)?, path)
}

/// Reads several dataset files or directories into one table.
pub fn read_many(paths: &[PathBuf]) -> Result<Samples> {
    let mut all = Samples::default();
    for p in paths {
        all.extend(&read_samples(p)?);
    }
    Ok(all)
}

/// Name of the merged table inside a dataset directory.
pub const MERGED_FILE: &str = "dataset.parquet";

/// Batches already on disk in `dir` whose part file reads back with the expected row count
/// (`expected(b)`); unreadable or short parts (e.g. from a crash of an older writer) are
/// reported so the caller can redo them.
pub fn finished_batches(
    dir: &Path,
    expected: impl Fn(usize) -> usize,
) -> Result<(BTreeSet<usize>, Vec<PathBuf>)> {
    let mut done = BTreeSet::new();
    let mut broken = Vec::new();
    if !dir.exists() {
        return Ok((done, broken));
    }
    for (b, p) in list_parts(dir)? {
        match read_samples(&p) {
            Ok(s) if s.len() == expected(b) => {
                done.insert(b);
            }
            _ => broken.push(p),
        }
    }
    Ok((done, broken))
}

/// Merges the part files of `dir` into `dir/dataset.parquet`: checks that batches 0..n_batches
/// are each present once and nothing else is ([`check_coverage`]: the error names the first
/// missing part) and that no global index repeats, then writes the rows sorted by index.
/// Returns the merged table.
pub fn merge_parts(dir: &Path, n_batches: usize) -> Result<Samples> {
    let parts = list_parts(dir)?;
    let found: Vec<usize> = parts.iter().map(|(b, _)| *b).collect();
    check_coverage(dir, "batches", &found, n_batches)?;
    let mut all = Samples::default();
    for (_, p) in &parts {
        all.extend(&read_samples(p)?);
    }
    let merged = all.sorted_by_index();
    if let Some(w) = merged.index.windows(2).find(|w| w[0] == w[1]) {
        return Err(SurrogateError::BadTable {
            path: dir.to_path_buf(),
            message: format!("index {} appears more than once across the parts", w[0]),
        });
    }
    write_samples(&dir.join(MERGED_FILE), &merged)?;
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jobs::table::part_name;

    pub(crate) fn toy(n: usize, offset: u64) -> Samples {
        let mut s = Samples::default();
        for k in 0..n {
            let x = k as f64;
            s.index.push(offset + k as u64);
            s.theta.push(std::array::from_fn(|d| x + d as f64 * 0.1));
            s.fc_cost.push(0.3 + 0.01 * x);
            s.ks_cost.push(0.5);
            s.total_cost.push(0.8 + 0.01 * x);
            s.valid.push(k % 3 != 0);
            s.n_dup.push(1);
            s.seed.push(9);
            s.dataset.push("toy".into());
            s.design.push("lhs".into());
            s.wall_s.push(0.1);
        }
        s
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("surrogate-table-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn parquet_round_trip_is_exact() {
        let d = tmpdir("rt");
        let s = toy(17, 5);
        write_samples(&d.join("a.parquet"), &s).unwrap();
        assert_eq!(read_samples(&d.join("a.parquet")).unwrap(), s);
    }

    #[test]
    fn missing_columns_wrong_types_and_nan_parameters_are_named() {
        let d = tmpdir("bad");
        let mut df = to_dataframe(&toy(4, 0)).unwrap();
        let mut no_g = df.drop("g").unwrap();
        let p = d.join("no_g.parquet");
        write_parquet(&p, &mut no_g).unwrap();
        let e = read_samples(&p).unwrap_err().to_string();
        assert!(
            e.contains("no_g.parquet") && e.contains("missing column 'g'"),
            "{e}"
        );

        let mut s = toy(4, 0);
        s.theta[2][3] = f64::NAN;
        let p = d.join("nan.parquet");
        write_samples(&p, &s).unwrap();
        let e = read_samples(&p).unwrap_err().to_string();
        assert!(
            e.contains("nan.parquet") && e.contains("'i0'") && e.contains("row 2"),
            "{e}"
        );

        df.replace("valid", Column::new("valid".into(), vec![1.0f64; 4]))
            .unwrap();
        let p = d.join("type.parquet");
        write_parquet(&p, &mut df).unwrap();
        let e = read_samples(&p).unwrap_err().to_string();
        assert!(e.contains("'valid'") && e.contains("expected bool"), "{e}");

        std::fs::write(d.join("junk.parquet"), b"not parquet").unwrap();
        let e = read_samples(&d.join("junk.parquet"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("junk.parquet") && e.contains("Parquet"), "{e}");
    }

    #[test]
    fn merge_checks_completeness_and_duplicates() {
        let d = tmpdir("merge");
        write_samples(&d.join(part_name(0)), &toy(3, 0)).unwrap();
        write_samples(&d.join(part_name(2)), &toy(3, 6)).unwrap();
        let e = merge_parts(&d, 3).unwrap_err().to_string();
        assert!(e.contains("1 of 3 batches missing (batches 1)"), "{e}");
        assert!(e.contains("first missing file part-000001.parquet"), "{e}");
        write_samples(&d.join(part_name(1)), &toy(3, 3)).unwrap();
        let m = merge_parts(&d, 3).unwrap();
        assert_eq!(m.index, (0..9).collect::<Vec<u64>>());
        assert_eq!(read_samples(&d).unwrap(), m);
        write_samples(&d.join(part_name(1)), &toy(3, 2)).unwrap();
        let e = merge_parts(&d, 3).unwrap_err().to_string();
        assert!(e.contains("index 2 appears more than once"), "{e}");
        // A short or broken part is not counted as finished.
        std::fs::write(d.join(part_name(4)), b"partial").unwrap();
        let (done, broken) = finished_batches(&d, |_| 3).unwrap();
        assert_eq!(done.into_iter().collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(broken.len(), 1);
    }
}
