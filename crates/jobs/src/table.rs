//! Parquet tables and the part files of a resumable job.
//!
//! A job directory holds one `part-XXXXXX.parquet` per finished unit (a batch of a dataset, a
//! model of a sweep), each written atomically, so a killed job loses only the units in flight
//! and any subset of shards can run in any order. A merge first checks coverage
//! ([`check_coverage`]): every unit `0..n` present exactly once, nothing beyond.

use std::path::{Path, PathBuf};

use polars::prelude::{DataFrame, ParquetReader, ParquetWriter, SerReader};

use crate::durable::write_atomic;
use crate::error::{io_err, JobsError, Result};

/// Writes a polars table as Parquet, atomically and durably.
pub fn write_parquet(path: &Path, df: &mut DataFrame) -> Result<()> {
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf)
        .finish(df)
        .map_err(|e| JobsError::Parquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    write_atomic(path, &buf)
}

/// Reads a Parquet file into a polars table, naming the file in errors.
pub fn read_parquet(path: &Path) -> Result<DataFrame> {
    let f = std::fs::File::open(path).map_err(io_err(path))?;
    ParquetReader::new(f)
        .finish()
        .map_err(|e| JobsError::Parquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// File name of unit `b`'s part: `part-{b:06}.parquet`.
pub fn part_name(b: usize) -> String {
    format!("part-{b:06}.parquet")
}

/// The part files of `dir` as (unit, path), sorted by unit; other files are ignored.
pub fn list_parts(dir: &Path) -> Result<Vec<(usize, PathBuf)>> {
    let rd = std::fs::read_dir(dir).map_err(io_err(dir))?;
    let mut parts = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(num) = name
            .strip_prefix("part-")
            .and_then(|s| s.strip_suffix(".parquet"))
        {
            if let Ok(b) = num.parse::<usize>() {
                parts.push((b, e.path()));
            }
        }
    }
    parts.sort();
    Ok(parts)
}

/// Checks that the units `found` (read from the part files of `dir`, in any order) are
/// exactly `0..n_expected`, each once. `unit` names them in messages in the plural
/// ("batches", "models"). Refuses, in this order, a unit found twice, a unit `≥ n_expected`
/// (a part of a job with other settings), and missing units (listing up to 20 and naming
/// the first missing part file).
pub fn check_coverage(dir: &Path, unit: &str, found: &[usize], n_expected: usize) -> Result<()> {
    let refuse = |message: String| {
        Err(JobsError::Coverage {
            path: dir.to_path_buf(),
            message,
        })
    };
    let mut seen = vec![false; n_expected];
    let mut outside = None;
    for &k in found {
        match seen.get_mut(k) {
            Some(true) => {
                return refuse(format!(
                    "index {k} appears in more than one part ({} written twice?)",
                    part_name(k)
                ))
            }
            Some(s) => *s = true,
            None => outside = outside.or(Some(k)),
        }
    }
    if let Some(k) = outside {
        return refuse(format!(
            "{} is outside this job's {n_expected} {unit} (a part of a job with other settings?)",
            part_name(k)
        ));
    }
    let missing: Vec<usize> = (0..n_expected).filter(|&k| !seen[k]).collect();
    let Some(&first) = missing.first() else {
        return Ok(());
    };
    let shown: Vec<String> = missing.iter().take(20).map(|k| k.to_string()).collect();
    refuse(format!(
        "{} of {n_expected} {unit} missing ({unit} {}{}): first missing file {}; run the missing shards (with --resume) first",
        missing.len(),
        shown.join(", "),
        if missing.len() > 20 { ", …" } else { "" },
        part_name(first)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::Column;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("jobs-table-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn parquet_round_trip_and_errors_name_the_file() {
        let d = tmpdir("rt");
        let mut df = DataFrame::new(
            3,
            vec![
                Column::new("index".into(), [0u64, 1, 2]),
                Column::new("x".into(), [0.5f64, f64::NAN, -1.0]),
            ],
        )
        .unwrap();
        let p = d.join("t.parquet");
        write_parquet(&p, &mut df).unwrap();
        let back = read_parquet(&p).unwrap();
        assert_eq!(back.height(), 3);
        assert_eq!(back.column("index").unwrap(), df.column("index").unwrap());
        std::fs::write(d.join("junk.parquet"), b"not parquet").unwrap();
        let e = read_parquet(&d.join("junk.parquet"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("junk.parquet") && e.contains("Parquet"), "{e}");
        let e = read_parquet(&d.join("absent.parquet"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("absent.parquet"), "{e}");
    }

    #[test]
    fn parts_are_listed_by_unit_and_other_files_ignored() {
        let d = tmpdir("list");
        for name in [
            part_name(3),
            part_name(0),
            "notes.txt".into(),
            "part-x.parquet".into(),
        ] {
            std::fs::write(d.join(name), b"").unwrap();
        }
        let units: Vec<usize> = list_parts(&d).unwrap().into_iter().map(|p| p.0).collect();
        assert_eq!(units, [0, 3]);
        assert_eq!(part_name(12), "part-000012.parquet");
    }

    #[test]
    fn coverage_refuses_missing_duplicate_and_out_of_range_parts() {
        let d = Path::new("/data/job");
        check_coverage(d, "batches", &[2, 0, 1], 3).unwrap();
        check_coverage(d, "batches", &[], 0).unwrap();

        let e = check_coverage(d, "batches", &[0, 2, 4], 6).unwrap_err();
        let m = e.to_string();
        assert!(
            m.starts_with("/data/job: 3 of 6 batches missing (batches 1, 3, 5)"),
            "{m}"
        );
        assert!(m.contains("first missing file part-000001.parquet"), "{m}");
        assert!(matches!(e, JobsError::Coverage { .. }));

        let e = check_coverage(d, "models", &[0, 1, 1, 2], 3)
            .unwrap_err()
            .to_string();
        assert!(e.contains("index 1 appears in more than one part"), "{e}");

        let e = check_coverage(d, "models", &[0, 1, 2, 7], 3)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("part-000007.parquet is outside this job's 3 models"),
            "{e}"
        );

        let many: Vec<usize> = (25..30).collect();
        let e = check_coverage(d, "batches", &many, 30)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("25 of 30 batches missing (batches 0, 1,") && e.contains("19, …)"),
            "{e}"
        );
    }
}
