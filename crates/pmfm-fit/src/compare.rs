//! The comparison table of several runs, computed with polars from their run tables alone:
//! per run, the best validated cost, the search wall time, the Euler simulations of the search
//! and of the validation, and the speedup of the search against the Euler-CMA-ES run.

use optimize::OptimizeError;
use polars::prelude::*;

fn err(e: PolarsError) -> OptimizeError {
    OptimizeError::Observer(format!("comparison table: {e}"))
}

fn phase(df: &DataFrame, name: &str) -> Result<DataFrame, OptimizeError> {
    let mask = df
        .column("phase")
        .map_err(err)?
        .str()
        .map_err(err)?
        .equal(name);
    df.filter(&mask).map_err(err)
}

/// Aggregates `column` of `df` per (run_id, method) with `agg` ("min" / "max" / "count"),
/// renaming the result to `out`, sorted by run_id.
fn per_run(df: &DataFrame, column: &str, agg: &str, out: &str) -> Result<DataFrame, OptimizeError> {
    aggregate(df, &["run_id", "method"], &["run_id"], column, agg, out)
}

/// Aggregates `column` of `df` per group of the `by` columns with `agg` ("min" / "max" /
/// "count"), renaming the result to `out`, sorted by `sort_by`.
#[allow(deprecated)]
fn aggregate(
    df: &DataFrame,
    by: &[&str],
    sort_by: &[&str],
    column: &str,
    agg: &str,
    out: &str,
) -> Result<DataFrame, OptimizeError> {
    let gb = df.group_by(by).map_err(err)?.select([column]);
    let mut r = match agg {
        "min" => gb.min(),
        "max" => gb.max(),
        "count" => gb.count(),
        _ => unreachable!("internal aggregation name"),
    }
    .map_err(err)?;
    let produced = r
        .get_column_names()
        .iter()
        .find(|n| n.as_str().starts_with(column))
        .map(|n| n.to_string());
    if let Some(p) = produced {
        r.rename(&p, out.into()).map_err(err)?;
    }
    r.sort(sort_by, SortMultipleOptions::default()).map_err(err)
}

/// One row per run: `run_id`, `method`, `best_validated_cost`, `best_search_cost`, `search_s`,
/// `total_s`, `search_simulations`, `total_simulations`, `speedup_vs_euler_cmaes` (search wall
/// time of the `euler-cmaes` run divided by this run's; NaN without such a run), sorted by the
/// best validated cost.
pub fn comparison_table(runs: &DataFrame) -> Result<DataFrame, OptimizeError> {
    let search = phase(runs, "search")?;
    let validation = phase(runs, "validation")?;
    let best_valid = per_run(&validation, "true_total", "min", "best_validated_cost")?;
    let best_search = per_run(&search, "cost", "min", "best_search_cost")?;
    let search_s = per_run(&search, "elapsed_s", "max", "search_s")?;
    let total_s = per_run(runs, "elapsed_s", "max", "total_s")?;
    let search_sims = per_run(&search, "simulations", "max", "search_simulations")?;
    let total_sims = per_run(runs, "simulations", "max", "total_simulations")?;
    if best_valid.height() != total_s.height() {
        return Err(OptimizeError::Observer(
            "every run needs validation rows (phase = 'validation') to be compared".into(),
        ));
    }
    let mut table = total_s.clone();
    for (df, name) in [
        (&best_valid, "best_validated_cost"),
        (&best_search, "best_search_cost"),
        (&search_s, "search_s"),
        (&search_sims, "search_simulations"),
        (&total_sims, "total_simulations"),
    ] {
        if df.height() != table.height() {
            return Err(OptimizeError::Observer(format!("runs without {name} rows")));
        }
        table
            .with_column(df.column(name).map_err(err)?.clone())
            .map_err(err)?;
    }
    // Speedup of the search against the euler-cmaes run (the first one, if several).
    let methods = table
        .column("method")
        .map_err(err)?
        .str()
        .map_err(err)?
        .clone();
    let is_euler = methods.equal("euler-cmaes");
    let euler = table.filter(&is_euler).map_err(err)?;
    // polars' `get` panics on an empty array: without an euler-cmaes run the speedup is NaN.
    let reference = if euler.height() == 0 {
        f64::NAN
    } else {
        euler
            .column("search_s")
            .map_err(err)?
            .f64()
            .map_err(err)?
            .get(0)
            .unwrap_or(f64::NAN)
    };
    let s = table
        .column("search_s")
        .map_err(err)?
        .f64()
        .map_err(err)?
        .clone();
    let speedup: Float64Chunked = s.apply_values(|v| reference / v);
    table
        .with_column(
            speedup
                .into_column()
                .with_name("speedup_vs_euler_cmaes".into()),
        )
        .map_err(err)?;
    table
        .sort(["best_validated_cost"], SortMultipleOptions::default())
        .map_err(err)
}

/// Per run (sorted by run_id): `run_id`, `method`, `true_total` and the 10 θ columns of its best
/// validated candidate (lowest validated total cost), from the run tables alone.
#[allow(deprecated)]
pub fn best_validated(runs: &DataFrame) -> Result<DataFrame, OptimizeError> {
    let validation = phase(runs, "validation")?
        .sort(["true_total"], SortMultipleOptions::default())
        .map_err(err)?;
    let mut cols = vec!["true_total"];
    cols.extend(pmfm_sim::params::THETA_NAMES);
    let best = validation
        .group_by(["run_id", "method"])
        .map_err(err)?
        .select(cols.clone())
        .first()
        .map_err(err)?;
    // `first` names its columns `<name>_first`.
    let mut best = best;
    for c in cols {
        best.rename(&format!("{c}_first"), c.into()).map_err(err)?;
    }
    best.sort(["run_id"], SortMultipleOptions::default())
        .map_err(err)
}

/// Best-so-far curves per run: one row per (run, generation) of the search, with the best cost
/// so far, wall time and simulations at the end of the generation (for convergence plots).
pub fn convergence(runs: &DataFrame) -> Result<DataFrame, OptimizeError> {
    let search = phase(runs, "search")?;
    let gb = |col: &str, agg: &str, out: &str| {
        aggregate(
            &search,
            &["run_id", "method", "generation"],
            &["run_id", "generation"],
            col,
            agg,
            out,
        )
    };
    let mut t = gb("cost", "min", "generation_best")?;
    let e = gb("elapsed_s", "max", "elapsed_s")?;
    let s = gb("simulations", "max", "simulations")?;
    t.with_column(e.column("elapsed_s").map_err(err)?.clone())
        .map_err(err)?;
    t.with_column(s.column("simulations").map_err(err)?.clone())
        .map_err(err)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_table::{RunRow, RunTable};

    fn run(
        id: &str,
        method: &str,
        costs: &[(u32, f64, f64)],
        validated: &[f64],
        sims_per_eval: u64,
    ) -> RunTable {
        let mut t = RunTable::new(id, method, "test");
        let mut sims = 0;
        for &(g, c, time) in costs {
            sims += sims_per_eval;
            t.rows
                .push(RunRow::test("search", g, c, true, f64::NAN, (time, sims)));
        }
        for &v in validated {
            sims += 3;
            t.rows
                .push(RunRow::test("validation", 99, v, true, v, (1000.0, sims)));
        }
        t
    }

    #[test]
    fn comparison_aggregates_each_run() {
        let a = run(
            "a",
            "euler-cmaes",
            &[(1, 1.0, 10.0), (2, 0.8, 20.0), (2, 0.9, 20.0)],
            &[0.85, 0.95],
            3,
        );
        let b = run(
            "b",
            "surrogate-cmaes",
            &[(1, 0.7, 0.1), (2, 0.6, 0.2)],
            &[0.83],
            0,
        );
        let mut df = a.to_dataframe().unwrap();
        df.vstack_mut(&b.to_dataframe().unwrap()).unwrap();
        let t = comparison_table(&df).unwrap();
        assert_eq!(t.height(), 2);
        let get = |c: &str| {
            t.column(c)
                .unwrap()
                .cast(&DataType::Float64)
                .unwrap()
                .f64()
                .unwrap()
                .to_vec()
        };
        // Sorted by validated cost: b (0.83) then a (0.85).
        assert_eq!(t.column("run_id").unwrap().str().unwrap().get(0), Some("b"));
        assert_eq!(get("best_validated_cost"), vec![Some(0.83), Some(0.85)]);
        assert_eq!(get("best_search_cost"), vec![Some(0.6), Some(0.8)]);
        assert_eq!(get("search_s"), vec![Some(0.2), Some(20.0)]);
        assert_eq!(get("search_simulations"), vec![Some(0.0), Some(9.0)]);
        assert_eq!(get("total_simulations"), vec![Some(3.0), Some(15.0)]);
        assert_eq!(get("speedup_vs_euler_cmaes"), vec![Some(100.0), Some(1.0)]);
        let c = convergence(&df).unwrap();
        assert_eq!(c.height(), 4);
        // The best validated candidate of each run, θ included (θ = [v; 10] in these tables).
        let best = best_validated(&df).unwrap();
        assert_eq!(best.height(), 2);
        let col = |c: &str| best.column(c).unwrap().f64().unwrap().to_vec();
        assert_eq!(col("true_total"), vec![Some(0.85), Some(0.83)]);
        assert_eq!(col("g"), vec![Some(0.85), Some(0.83)]);
        // Without a euler-cmaes run the speedup is NaN, not a panic.
        let only_b = b.to_dataframe().unwrap();
        let t = comparison_table(&only_b).unwrap();
        let s = t
            .column("speedup_vs_euler_cmaes")
            .unwrap()
            .f64()
            .unwrap()
            .get(0);
        assert!(s.unwrap().is_nan());
    }
}
