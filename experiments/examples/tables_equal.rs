//! Compares two Parquet tables: same columns (in order, with the same types), same number of
//! rows and the same value in every cell (NaN equals NaN), after dropping the columns named
//! with `--ignore` (e.g. wall times). Exits 0 when equal; otherwise prints the first
//! difference and exits 1 (2 on bad usage or unreadable files).
//!
//! ```text
//! cargo run --release --example tables_equal -- A.parquet B.parquet --ignore wall_s
//! ```

use std::path::PathBuf;

use anyhow::{bail, Result};
use polars::prelude::*;

fn same(a: &AnyValue, b: &AnyValue) -> bool {
    match (a, b) {
        (AnyValue::Float64(x), AnyValue::Float64(y)) => x == y || (x.is_nan() && y.is_nan()),
        (AnyValue::Float32(x), AnyValue::Float32(y)) => x == y || (x.is_nan() && y.is_nan()),
        _ => a == b,
    }
}

/// The first difference between `a` and `b`, if any.
fn first_difference(a: &DataFrame, b: &DataFrame) -> Result<Option<String>> {
    let (na, nb) = (a.get_column_names(), b.get_column_names());
    if na != nb {
        return Ok(Some(format!("columns differ: {na:?} vs {nb:?}")));
    }
    if a.height() != b.height() {
        return Ok(Some(format!(
            "rows differ: {} vs {}",
            a.height(),
            b.height()
        )));
    }
    for (ca, cb) in a.columns().iter().zip(b.columns()) {
        if ca.dtype() != cb.dtype() {
            return Ok(Some(format!(
                "column {}: type {} vs {}",
                ca.name(),
                ca.dtype(),
                cb.dtype()
            )));
        }
        for i in 0..a.height() {
            let (x, y) = (ca.get(i)?, cb.get(i)?);
            if !same(&x, &y) {
                let index = a
                    .column("index")
                    .ok()
                    .and_then(|c| c.get(i).ok())
                    .map(|v| format!(" (index {v})"))
                    .unwrap_or_default();
                return Ok(Some(format!(
                    "column {}, row {i}{index}: {x} vs {y}",
                    ca.name()
                )));
            }
        }
    }
    Ok(None)
}

fn run() -> Result<bool> {
    let mut files: Vec<PathBuf> = vec![];
    let mut ignore: Vec<String> = vec![];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--ignore" {
            let Some(cols) = args.next() else {
                bail!("--ignore needs a column name (or a comma-separated list)");
            };
            ignore.extend(cols.split(',').map(String::from));
        } else if let Some(cols) = a.strip_prefix("--ignore=") {
            ignore.extend(cols.split(',').map(String::from));
        } else {
            files.push(a.into());
        }
    }
    let [fa, fb] = &files[..] else {
        bail!("usage: tables_equal A.parquet B.parquet [--ignore COL[,COL…]]…");
    };
    let mut a = experiments::output::read_parquet(fa)?;
    let mut b = experiments::output::read_parquet(fb)?;
    for c in &ignore {
        let (in_a, in_b) = (a.column(c).is_ok(), b.column(c).is_ok());
        if !in_a && !in_b {
            bail!("--ignore {c}: neither table has that column");
        }
        if in_a {
            a = a.drop(c)?;
        }
        if in_b {
            b = b.drop(c)?;
        }
    }
    match first_difference(&a, &b)? {
        None => {
            println!(
                "equal: {} rows × {} columns{} ({} and {})",
                a.height(),
                a.width(),
                if ignore.is_empty() {
                    String::new()
                } else {
                    format!(", ignoring {}", ignore.join(", "))
                },
                fa.display(),
                fb.display()
            );
            Ok(true)
        }
        Some(d) => {
            println!("DIFFERENT: {} vs {}: {d}", fa.display(), fb.display());
            Ok(false)
        }
    }
}

fn main() {
    match run() {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}
