//! End-to-end test of compare-optimizers' time to quality on a tiny synthetic run: validated
//! checkpoints per method (same validation noise as the methods' own validation), the
//! time-to-quality table and plots, the speedup table, and their rebuild from the saved tables.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use polars::prelude::DataFrame;

use common::tables::{f64s, strs};
use common::{bin, is_png, run_ok, text, tmp_dir, SHORT};

fn compare_optimizers() -> Command {
    bin("compare-optimizers")
}

fn tmp(name: &str) -> PathBuf {
    tmp_dir("ttq-cli", name)
}

fn read(p: &Path) -> DataFrame {
    jobs::table::read_parquet(p).unwrap()
}

/// Every cell of `df` as text, column by column (NaN compares equal to NaN).
fn cells(df: &DataFrame) -> Vec<String> {
    df.columns()
        .iter()
        .flat_map(|c| (0..df.height()).map(move |k| format!("{}={:?}", c.name(), c.get(k))))
        .collect()
}

/// The rows of `method` in `df` (in table order).
fn rows_of(df: &DataFrame, method: &str) -> Vec<usize> {
    let m = strs(df, "method");
    (0..m.len()).filter(|&k| m[k] == method).collect()
}

/// θ of row `k` (the 10 coefficient columns).
fn theta(df: &DataFrame, k: usize) -> Vec<f64> {
    pmfm_sim::params::THETA_NAMES
        .iter()
        .map(|c| f64s(df, c)[k])
        .collect()
}

const METHODS: [&str; 2] = ["euler-cmaes", "surrogate-cmaes"];

#[test]
fn time_to_quality_curves_speedups_and_their_rebuild() {
    let out = tmp("run");
    let o = run_ok(
        compare_optimizers()
            .args(SHORT)
            .args([
                "--methods",
                "euler-cmaes,surrogate-cmaes",
                "--dataset-size",
                "64",
                "--ensemble",
                "1",
                "--epochs",
                "20",
                "--population",
                "8",
                "--generations",
                "6",
                "--validate-top",
                "2",
                "--ttq-checkpoints",
                "3",
                "--groups-served",
                "4",
                "--out",
            ])
            .arg(&out),
    );
    assert!(text(&o).contains("time to quality"), "{}", text(&o));

    // The curves: every method has rows, finite and monotone validated cost, a clock and a
    // simulation count that never go back; at most 3 checkpoints plus the method's result.
    let ttq = read(&out.join("time_to_quality.parquet"));
    let (cost, wall, sims) = (
        f64s(&ttq, "validated_cost"),
        f64s(&ttq, "wall_s"),
        f64s(&ttq, "simulations"),
    );
    for m in METHODS {
        let r = rows_of(&ttq, m);
        assert!((2..=4).contains(&r.len()), "{m}: {} rows", r.len());
        for w in r.windows(2) {
            let (a, b) = (w[0], w[1]);
            assert!(cost[a].is_finite() && cost[b] <= cost[a], "{m}: {cost:?}");
            assert!(wall[b] >= wall[a], "{m}: wall time {wall:?}");
            assert!(sims[b] >= sims[a], "{m}: simulations {sims:?}");
        }
    }
    // Surrogate-CMA-ES simulates only in its validation (2 candidates × 3 duplicates).
    let s = rows_of(&ttq, "surrogate-cmaes");
    assert_eq!(sims[s[0]], 0.0);
    assert_eq!(sims[*s.last().unwrap()], 6.0);

    // Same noise for every validation: a checkpoint θ that the method also validated (its
    // best search θ is always among its top candidates) has the same validated cost.
    for m in METHODS {
        let cp = read(&out.join("checkpoints").join(format!("{m}.parquet")));
        let kinds = strs(&cp, "kind");
        let last_search = kinds.iter().rposition(|k| k == "search").unwrap();
        assert_eq!(kinds.last().map(String::as_str), Some("final"));
        let run = read(&out.join("runs").join(format!("{m}.parquet")));
        let phase = strs(&run, "phase");
        let x = theta(&cp, last_search);
        let same = (0..run.height())
            .find(|&k| phase[k] == "validation" && theta(&run, k) == x)
            .unwrap_or_else(|| panic!("{m}: last checkpoint θ not among the validated"));
        let (a, b) = (
            f64s(&cp, "checkpoint_cost")[last_search],
            f64s(&run, "true_total")[same],
        );
        assert!((a - b).abs() <= 1e-9 * b.abs(), "{m}: {a} vs {b}");
    }

    // The speedup table: Euler against itself is 1; the surrogate's build time is counted.
    let sp = read(&out.join("time_to_quality_speedup.parquet"));
    let methods = strs(&sp, "method");
    let e = methods.iter().position(|m| m == "euler-cmaes").unwrap();
    let s = methods.iter().position(|m| m == "surrogate-cmaes").unwrap();
    assert_eq!(f64s(&sp, "speedup")[e], 1.0);
    assert_eq!(f64s(&sp, "groups_served"), vec![4.0, 4.0]);
    let (d, t, a) = (
        f64s(&sp, "dataset_s")[s],
        f64s(&sp, "training_s")[s],
        f64s(&sp, "amortised_build_s")[s],
    );
    assert!(d > 0.0 && t >= 0.0, "dataset {d} s, training {t} s");
    assert!((a - (d + t) / 4.0).abs() < 1e-12);
    for p in ["time_to_quality.png", "time_to_quality_sims.png"] {
        assert!(is_png(&out.join(p)), "{p}");
    }

    // --from-runs rebuilds the same tables and the plots from the saved tables alone.
    for f in [
        "time_to_quality.parquet",
        "time_to_quality_speedup.parquet",
        "time_to_quality.png",
        "time_to_quality_sims.png",
    ] {
        std::fs::remove_file(out.join(f)).unwrap();
    }
    let o = run_ok(
        compare_optimizers()
            .args(SHORT)
            .args(["--from-runs", "--groups-served", "4", "--out"])
            .arg(&out),
    );
    assert!(text(&o).contains("time to quality"), "{}", text(&o));
    assert_eq!(
        cells(&read(&out.join("time_to_quality.parquet"))),
        cells(&ttq)
    );
    assert_eq!(
        cells(&read(&out.join("time_to_quality_speedup.parquet"))),
        cells(&sp)
    );
    assert!(is_png(&out.join("time_to_quality.png")));
    assert!(is_png(&out.join("time_to_quality_sims.png")));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn zero_checkpoints_or_groups_give_one_clear_error() {
    for (flag, value) in [("--ttq-checkpoints", "0"), ("--groups-served", "0")] {
        let out = tmp("zero");
        let mut c = compare_optimizers();
        c.args([flag, value, "--from-runs", "--out"]).arg(&out);
        let o = c.output().unwrap();
        assert!(!o.status.success());
        let t = text(&o);
        assert!(t.contains(flag) && t.lines().count() == 1, "{t}");
    }
}
