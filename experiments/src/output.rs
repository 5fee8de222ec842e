//! Small output helpers: atomic file writes and CSV tables.

use anyhow::Result;
use std::path::Path;

/// Writes `bytes` to `path` atomically and durably: a temporary file in the same directory,
/// fsync, rename, fsync of the directory (the one implementation is `jobs::durable`).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(jobs::durable::write_atomic(path, bytes)?)
}

/// A CSV table with a header row, written atomically.
pub fn write_csv(path: &Path, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let mut s = header.join(",");
    s.push('\n');
    for r in rows {
        s.push_str(&r.join(","));
        s.push('\n');
    }
    write_atomic(path, s.as_bytes())
}

/// Writes a polars table to `path` as Parquet, atomically (`jobs::table::write_parquet`).
pub fn write_parquet(path: &Path, df: &mut polars::prelude::DataFrame) -> Result<()> {
    Ok(jobs::table::write_parquet(path, df)?)
}

/// Reads a Parquet table, naming the file in the error.
pub fn read_parquet(path: &Path) -> Result<polars::prelude::DataFrame> {
    Ok(jobs::table::read_parquet(path)?)
}

/// The end of a binary's `main`: an error is printed as one `error:` line (anyhow's chain,
/// `{e:#}`) and the process exits with status 1.
pub fn exit_on_error(result: Result<()>) {
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// The error chain on one line (for the binaries' single `error:` line); a cause that the
/// message before it already ends with (crbm's I/O errors print their source) is not repeated.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut s = String::new();
    for cause in e.chain() {
        let t = cause.to_string();
        if !s.ends_with(&t) {
            if !s.is_empty() {
                s.push_str(": ");
            }
            s.push_str(&t);
        }
    }
    s
}

/// The `replicate_metrics.parquet` table of `train-surrogate --replicates`: one row per model
/// and held-out group.
pub fn replicate_metrics_frame(
    rows: &[surrogate::transfer::ReplicateMetrics],
) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::{Column, DataFrame};
    let text = |g: &dyn Fn(&surrogate::transfer::ReplicateMetrics) -> String| -> Vec<String> {
        rows.iter().map(g).collect()
    };
    let num = |g: &dyn Fn(&surrogate::transfer::ReplicateMetrics) -> f64| -> Vec<f64> {
        rows.iter().map(g).collect()
    };
    Ok(DataFrame::new(
        rows.len(),
        vec![
            Column::new("model".into(), text(&|r| r.model.clone())),
            Column::new("group".into(), text(&|r| r.group.clone())),
            Column::new(
                "n_matched".into(),
                rows.iter().map(|r| r.n_matched as u64).collect::<Vec<_>>(),
            ),
            Column::new(
                "replicate_dups".into(),
                rows.iter().map(|r| r.replicate_dups).collect::<Vec<_>>(),
            ),
            Column::new("pearson_model".into(), num(&|r| r.pearson_model)),
            Column::new("pearson_single".into(), num(&|r| r.pearson_single)),
            Column::new("ceiling_single".into(), num(&|r| r.ceiling_single)),
            Column::new("ceiling_replicate".into(), num(&|r| r.ceiling_replicate)),
        ],
    )?)
}

/// The per-group table of `train-surrogate --group-split`: one row per (model, held-out
/// group) with its Pearson r (total, FC, KS), total-cost RMSE and row counts.
pub fn group_metrics_frame(
    rows: &[surrogate::transfer::GroupMetrics],
) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::{Column, DataFrame};
    let f = |g: &dyn Fn(&surrogate::train::Metrics) -> f64| -> Vec<f64> {
        rows.iter().map(|r| g(&r.metrics)).collect()
    };
    Ok(DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "model".into(),
                rows.iter().map(|r| r.model.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "group".into(),
                rows.iter().map(|r| r.group.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "n_valid".into(),
                rows.iter()
                    .map(|r| r.metrics.n_valid as u64)
                    .collect::<Vec<_>>(),
            ),
            Column::new("pearson_total".into(), f(&|m| m.pearson_total)),
            Column::new("pearson_fc".into(), f(&|m| m.pearson_fc)),
            Column::new("pearson_ks".into(), f(&|m| m.pearson_ks)),
            Column::new("rmse_total".into(), f(&|m| m.rmse_total)),
        ],
    )?)
}
