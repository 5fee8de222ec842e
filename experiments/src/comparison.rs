//! Running several fitting methods on one data set and reporting them side by side: run tables
//! (Parquet), the polars comparison table, convergence plots, and the time-to-quality curves of
//! validated checkpoints (`compare-optimizers`). Shared by `compare-optimizers`, `fit` and
//! `pipeline`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::tensor::Device;
use pmfm_fit::checkpoints::checkpoint_rows;
use pmfm_fit::compare::{best_validated, comparison_table, convergence};
use pmfm_fit::methods::{run_method, FitTarget, Method, MethodConfig, Outcome};
use pmfm_fit::run_table::read_run_tables;
use pmfm_fit::time_to_quality::{
    checkpoint_frame, curves, speedup_table, speedups, time_to_quality_table, BuildCost, Curve,
    Speedup,
};
use pmfm_sim::params::Theta;
use polars::prelude::DataFrame;
use surrogate::ensemble::Ensemble;
use surrogate::evaluator::Evaluator;

use crate::output::write_parquet;
use crate::plots::{self, Axes, Series};

/// Runs each method, writing `out/runs/<method>.parquet`; returns the outcomes.
pub fn run_methods(
    methods: &[Method],
    target: &FitTarget,
    cfg: &MethodConfig,
    device: &Device,
    out: &Path,
) -> Result<Vec<Outcome>> {
    let mut outcomes = Vec::new();
    for &m in methods {
        let path = out.join("runs").join(format!("{}.parquet", m.name()));
        eprintln!("running {} …", m.name());
        let o = run_method(m, target, cfg, m.name(), device, Some(&path))
            .with_context(|| format!("running {}", m.name()))?;
        eprintln!(
            "{}: best validated total cost {:.4} (search {:.1} s, {} + {} Euler simulations)",
            m.name(),
            o.best_cost,
            o.search_s,
            o.search_simulations,
            o.validate_simulations
        );
        outcomes.push(o);
    }
    Ok(outcomes)
}

/// The run tables under `dir/runs/`.
pub fn run_table_paths(dir: &Path) -> Result<Vec<PathBuf>> {
    let runs = dir.join("runs");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&runs)
        .with_context(|| format!("reading {}", runs.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    v.sort();
    if v.is_empty() {
        anyhow::bail!("{}: no run tables (*.parquet)", runs.display());
    }
    Ok(v)
}

/// Builds the comparison table from the run tables in `dir/runs/` alone, writes it
/// (`comparison.parquet`) and the convergence plots, and returns it.
pub fn report(dir: &Path) -> Result<DataFrame> {
    let paths = run_table_paths(dir)?;
    let runs = read_run_tables(&paths)?;
    let mut table = comparison_table(&runs)?;
    write_parquet(&dir.join("comparison.parquet"), &mut table)?;
    let conv = convergence(&runs)?;
    convergence_plots(&conv, dir)?;
    Ok(table)
}

fn convergence_plots(conv: &DataFrame, dir: &Path) -> Result<()> {
    let runs = conv.column("run_id")?.str()?.clone();
    let best = conv.column("generation_best")?.f64()?.clone();
    let time = conv.column("elapsed_s")?.f64()?.clone();
    let sims = conv
        .column("simulations")?
        .cast(&polars::prelude::DataType::Float64)?;
    let sims = sims.f64()?.clone();
    let mut by_time: Vec<Series> = Vec::new();
    let mut by_sims: Vec<Series> = Vec::new();
    let mut current: Option<String> = None;
    let mut best_so_far = f64::INFINITY;
    for k in 0..conv.height() {
        let id = runs.get(k).unwrap_or("").to_string();
        if current.as_deref() != Some(id.as_str()) {
            by_time.push(Series::new(id.clone(), vec![]));
            by_sims.push(Series::new(id.clone(), vec![]));
            current = Some(id);
            best_so_far = f64::INFINITY;
        }
        let b = best.get(k).unwrap_or(f64::NAN);
        if b.is_finite() {
            best_so_far = best_so_far.min(b);
        }
        let (t, s) = (
            time.get(k).unwrap_or(f64::NAN),
            sims.get(k).unwrap_or(f64::NAN),
        );
        if let (Some(a), Some(c)) = (by_time.last_mut(), by_sims.last_mut()) {
            a.points.push((t.max(1e-4), best_so_far));
            // Surrogate searches spend no simulation; plot them at 1 so the log axis keeps them.
            c.points.push((s.max(1.0), best_so_far));
        }
    }
    plots::lines(
        &dir.join("convergence_time.png"),
        &by_time,
        &Axes {
            title: "best search cost vs wall time".into(),
            x_label: "wall time (s)".into(),
            y_label: "best cost so far (search objective)".into(),
            log_x: true,
            ..Default::default()
        },
    )?;
    plots::lines(
        &dir.join("convergence_simulations.png"),
        &by_sims,
        &Axes {
            title: "best search cost vs Euler simulations".into(),
            x_label: "Euler simulations (1 = none)".into(),
            y_label: "best cost so far (search objective)".into(),
            log_x: true,
            ..Default::default()
        },
    )
}

/// Validates up to `k` best-so-far checkpoints of each outcome's search (same noise for every
/// method) and writes `out/checkpoints/<method>.parquet`; `build` gives each method's surrogate
/// build cost. The validation time is recorded apart, never added to a method's clock.
pub fn write_checkpoints(
    outcomes: &[Outcome],
    evaluator: &Evaluator,
    cfg: &MethodConfig,
    k: usize,
    build: &dyn Fn(Method) -> BuildCost,
    out: &Path,
) -> Result<()> {
    for o in outcomes {
        let rows = checkpoint_rows(o, evaluator, cfg, k, build(o.method))
            .with_context(|| format!("validating the checkpoints of {}", o.method.name()))?;
        eprintln!(
            "{}: {} checkpoints validated in {:.1} s (not counted in its time)",
            o.method.name(),
            rows.len().saturating_sub(1),
            rows.first().map_or(0.0, |r| r.checkpoint_validate_s)
        );
        let path = out
            .join("checkpoints")
            .join(format!("{}.parquet", o.method.name()));
        write_parquet(&path, &mut checkpoint_frame(&rows)?)?;
    }
    Ok(())
}

/// Builds the time-to-quality table and speedups from `dir/checkpoints/*.parquet` alone and
/// writes `time_to_quality.parquet`, `time_to_quality_speedup.parquet`,
/// `time_to_quality.png` (validated cost vs wall time) and `time_to_quality_sims.png` (vs
/// simulations); `None` when the directory holds no checkpoint tables.
pub fn time_to_quality_report(dir: &Path, groups_served: usize) -> Result<Option<Vec<Speedup>>> {
    let cp_dir = dir.join("checkpoints");
    if !cp_dir.is_dir() {
        return Ok(None);
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&cp_dir)
        .with_context(|| format!("reading {}", cp_dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    paths.sort();
    let mut all: Option<DataFrame> = None;
    for p in &paths {
        let df = crate::output::read_parquet(p)?;
        all = Some(match all {
            None => df,
            Some(acc) => acc
                .vstack(&df)
                .with_context(|| format!("{}: not a checkpoint table", p.display()))?,
        });
    }
    let Some(all) = all else { return Ok(None) };
    let curves = curves(&all).with_context(|| format!("reading {}", cp_dir.display()))?;
    write_parquet(
        &dir.join("time_to_quality.parquet"),
        &mut time_to_quality_table(&curves)?,
    )?;
    let s = speedups(&curves, groups_served)?;
    write_parquet(
        &dir.join("time_to_quality_speedup.parquet"),
        &mut speedup_table(&s, groups_served)?,
    )?;
    time_to_quality_plots(&curves, dir)?;
    Ok(Some(s))
}

/// Best-so-far validated cost as steps, each curve held to the right edge of the plot.
fn time_to_quality_plots(curves: &[Curve], dir: &Path) -> Result<()> {
    let steps = |x: &dyn Fn(&pmfm_fit::time_to_quality::CurvePoint) -> f64| -> Vec<Series> {
        let right = curves
            .iter()
            .flat_map(|c| c.points.iter().map(x))
            .fold(f64::NEG_INFINITY, f64::max);
        curves
            .iter()
            .map(|c| {
                let mut pts: Vec<(f64, f64)> = Vec::new();
                for p in c.points.iter().filter(|p| p.validated_cost.is_finite()) {
                    if let Some(&(_, prev)) = pts.last() {
                        pts.push((x(p), prev));
                    }
                    pts.push((x(p), p.validated_cost));
                }
                if let Some(&(_, last)) = pts.last() {
                    pts.push((right, last));
                }
                Series::new(c.method.clone(), pts)
            })
            .collect()
    };
    let axes = |title: &str, x_label: &str| Axes {
        title: title.into(),
        x_label: x_label.into(),
        y_label: "best validated total cost so far".into(),
        log_x: true,
        ..Default::default()
    };
    plots::lines(
        &dir.join("time_to_quality.png"),
        &steps(&|p| p.wall_s.max(1e-3)),
        &axes(
            "validated cost vs wall time",
            "cumulative wall time of the method (s)",
        ),
    )?;
    // Surrogate searches spend no simulation; plot them at 1 so the log axis keeps them.
    plots::lines(
        &dir.join("time_to_quality_sims.png"),
        &steps(&|p| (p.simulations as f64).max(1.0)),
        &axes(
            "validated cost vs Euler simulations",
            "cumulative Euler simulations (1 = none)",
        ),
    )
}

/// Prints the speedup table at equal validated cost.
pub fn print_speedups(rows: &[Speedup], groups_served: usize) {
    println!(
        "time to quality: euler-cmaes time to within 5% of each method's validated cost, divided by the method's time to within 5% of it (speedup) or to its own validated result (to_result); dataset + training time amortised over {groups_served} group(s) (amortised):"
    );
    println!(
        "{:>16} {:>10} {:>10} {:>10} {:>12} {:>9} {:>10} {:>10} {:>10} {:>10}  note",
        "method",
        "final_cost",
        "time_s",
        "result_s",
        "euler_time_s",
        "speedup",
        "to_result",
        "dataset_s",
        "training_s",
        "amortised"
    );
    for r in rows {
        println!(
            "{:>16} {:>10.4} {:>10.3} {:>10.3} {:>12.3} {:>9.2} {:>10.2} {:>10.1} {:>10.1} {:>10.2}  {}",
            r.method,
            r.final_cost,
            r.time_s,
            r.result_s,
            r.euler_time_s,
            r.speedup,
            r.speedup_to_result,
            r.build.dataset_s,
            r.build.training_s,
            r.speedup_amortised,
            r.reason
        );
    }
}

/// Generates a parameter→cost dataset in process (Latin hypercube, batches of `batch`) and
/// trains an MLP ensemble on it. Returns the model, the samples and the two wall times (s).
#[allow(clippy::too_many_arguments)]
pub fn build_surrogate(
    evaluator: &Evaluator,
    n: usize,
    batch: usize,
    members: usize,
    epochs: Option<usize>,
    seed: u64,
    device: &Device,
    out: &Path,
) -> Result<(Ensemble, surrogate::Samples, f64, f64)> {
    use jobs::shard::{batch_seed, Batches};
    use surrogate::design::{Design, DesignSpace};
    // Checked before anything is simulated.
    if members == 0 || n == 0 {
        anyhow::bail!(
            "the in-process surrogate needs --ensemble ≥ 1 and --dataset-size ≥ 1 (got {members} and {n})"
        );
    }
    let t0 = std::time::Instant::now();
    let space = DesignSpace::new(
        evaluator.myelin(),
        evaluator.gradient(),
        *evaluator.bounds(),
    )?;
    let design = Design::Lhs { block: batch };
    let batches = Batches::new(n, batch)?;
    let bar = crate::progress::bar(n as u64, "θ simulated");
    let mut samples = surrogate::Samples::default();
    for b in 0..batches.count() {
        let r = batches.range(b);
        let thetas: Vec<_> = r.clone().map(|k| space.draw(&design, seed, k)).collect();
        let s = evaluator.samples(&thetas, r.start, 1, batch_seed(seed, b), design.name())?;
        bar.inc(s.len() as u64);
        samples.extend(&s);
    }
    bar.finish_and_clear();
    surrogate::table::write_samples(&out.join("dataset.parquet"), &samples)?;
    let gen_s = t0.elapsed().as_secs_f64();
    let t1 = std::time::Instant::now();
    let model_cfg = surrogate::models::ModelConfig::of_kind(surrogate::models::ModelKind::Mlp);
    let mut train_cfg = surrogate::train::TrainConfig {
        seed,
        ..Default::default()
    };
    if let Some(e) = epochs {
        train_cfg.epochs = e;
    }
    let seeds: Vec<u64> = (0..members as u64).map(|k| seed + k).collect();
    let bar = crate::progress::bar((train_cfg.epochs * seeds.len()) as u64, "epochs");
    let (mut model, _) = Ensemble::fit(
        &samples,
        None,
        &model_cfg,
        &train_cfg,
        &seeds,
        device,
        &mut |_, _| bar.inc(1),
    )?;
    bar.finish_and_clear();
    model.set_provenance(surrogate::persist::Provenance {
        datasets: vec![surrogate::persist::DatasetSource {
            name: evaluator.dataset_name.clone(),
            path: out.join("dataset.parquet").display().to_string(),
            rows: samples.len(),
        }],
        note: "built in process by build_surrogate".into(),
    });
    model.save(&out.join("surrogate"))?;
    Ok((model, samples, gen_s, t1.elapsed().as_secs_f64()))
}

/// The best validated θ of each run (method name, θ), from the run tables in `dir/runs/` alone.
pub fn best_thetas(dir: &Path) -> Result<Vec<(String, Theta)>> {
    let runs = read_run_tables(&run_table_paths(dir)?)?;
    let best = best_validated(&runs)?;
    let methods = best.column("method")?.str()?.clone();
    let cols = pmfm_sim::params::THETA_NAMES
        .iter()
        .map(|c| Ok(best.column(c)?.f64()?.clone()))
        .collect::<Result<Vec<_>>>()?;
    Ok((0..best.height())
        .map(|k| {
            let theta: Theta = std::array::from_fn(|d| cols[d].get(k).unwrap_or(f64::NAN));
            (methods.get(k).unwrap_or("").to_string(), theta)
        })
        .collect())
}

/// The best validated θ of each outcome (method name, θ); a method with no valid candidate has
/// no θ to show.
pub fn outcome_thetas(outcomes: &[Outcome]) -> Vec<(String, Theta)> {
    outcomes
        .iter()
        .filter_map(|o| Some((o.method.name().to_string(), o.best_theta?)))
        .collect()
}

/// Prints the comparison `table`, with each outcome's θ recovery against θ* when the data is
/// the synthetic default (`synthetic`; its maps are the evaluator's).
pub fn print_outcomes(
    table: &DataFrame,
    outcomes: &[Outcome],
    evaluator: &Evaluator,
    synthetic: bool,
) {
    let truth = synthetic.then(|| Truth::synthetic(evaluator.myelin(), evaluator.gradient()));
    let found = outcome_thetas(outcomes);
    print_table(table, truth.as_ref().map(|t| (found.as_slice(), t)));
}

/// The ground truth of a synthetic data set, for θ-recovery lines under the comparison table.
pub struct Truth<'a> {
    pub theta: &'a pmfm_sim::params::Theta,
    /// The maps that turn coefficients into regional values, each [regions].
    pub myelin: &'a [f64],
    pub gradient: &'a [f64],
}

impl<'a> Truth<'a> {
    /// The synthetic default's θ* with the data set's maps.
    pub fn synthetic(myelin: &'a [f64], gradient: &'a [f64]) -> Self {
        Self {
            theta: &pmfm_sim::synthetic::TRUE_THETA,
            myelin,
            gradient,
        }
    }
}

/// Relative errors of `found` against `truth` on the regional values the model actually uses
/// (coefficients trade off against each other through the maps): ‖w − w*‖/‖w*‖, the same for
/// I and σ, and |G − G*|/G*.
pub fn recovery(
    found: &pmfm_sim::params::Theta,
    truth: &pmfm_sim::params::Theta,
    myelin: &[f64],
    gradient: &[f64],
) -> [f64; 4] {
    use pmfm_sim::params::RegionalParams;
    let (a, b) = (
        RegionalParams::from_theta(found, myelin, gradient),
        RegionalParams::from_theta(truth, myelin, gradient),
    );
    let rel = |x: &[f64], y: &[f64]| {
        let d: f64 = x.iter().zip(y).map(|(p, q)| (p - q).powi(2)).sum();
        let n: f64 = y.iter().map(|q| q * q).sum();
        (d / n).sqrt()
    };
    [
        rel(&a.w, &b.w),
        rel(&a.i, &b.i),
        rel(&a.sigma, &b.sigma),
        (a.g - b.g).abs() / b.g.abs(),
    ]
}

/// Prints the comparison table with θ-recovery against a known ground truth (synthetic data).
pub fn print_table(table: &DataFrame, truth: Option<(&[(String, Theta)], &Truth)>) {
    let cols = [
        ("method", 16),
        ("best_validated_cost", 20),
        ("best_search_cost", 17),
        ("search_s", 10),
        ("search_simulations", 19),
        ("total_simulations", 18),
        ("speedup_vs_euler_cmaes", 23),
    ];
    let header: Vec<String> = cols.iter().map(|(c, w)| format!("{c:>w$}")).collect();
    println!("{}", header.join(" "));
    for k in 0..table.height() {
        let cells: Vec<String> = cols
            .iter()
            .map(|(c, w)| {
                let v = table.column(c).ok().and_then(|col| col.get(k).ok());
                match v {
                    Some(polars::prelude::AnyValue::Float64(x)) => format!("{x:>w$.4}"),
                    Some(polars::prelude::AnyValue::String(s)) => format!("{s:>w$}"),
                    Some(other) => format!("{:>w$}", other.to_string()),
                    None => format!("{:>w$}", "-"),
                }
            })
            .collect();
        println!("{}", cells.join(" "));
    }
    if let Some((outcomes, truth)) = truth {
        println!("θ recovery against the synthetic ground truth θ* (relative error of the regional w, I, σ and of G):");
        for (method, theta) in outcomes {
            let [w, i, s, g] = recovery(theta, truth.theta, truth.myelin, truth.gradient);
            println!(
                "  {:<16} w {:>6.1}%  I {:>6.1}%  σ {:>6.1}%  G {:>6.1}%",
                method,
                100.0 * w,
                100.0 * i,
                100.0 * s,
                100.0 * g
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::recovery;

    #[test]
    fn recovery_measures_regional_values() {
        let m = [1.0, 1.5, 2.0, 1.2];
        let g = [-0.5, 0.0, 0.5, 0.25];
        let t = [0.5, 0.05, 0.01, 0.3, 0.01, 0.0, 5.0, 0.005, 0.0, 0.0];
        assert_eq!(recovery(&t, &t, &m, &g), [0.0; 4]);
        // Every coefficient of w scaled by 1.1: the regional w is 10% off; G 20% off.
        let mut f = t;
        for d in 0..3 {
            f[d] *= 1.1;
        }
        f[6] = 6.0;
        let r = recovery(&f, &t, &m, &g);
        assert!(
            (r[0] - 0.1).abs() < 1e-12 && r[1] == 0.0 && r[2] == 0.0,
            "{r:?}"
        );
        assert!((r[3] - 0.2).abs() < 1e-12);
        // Intercept and myelin slope traded off along a constant map change nothing when the
        // map is constant (here myelin ≡ 1): the coefficients differ, the regional values don't.
        let ones = [1.0; 4];
        let mut traded = t;
        traded[0] += 0.1;
        traded[1] -= 0.1;
        let r = recovery(&traded, &t, &ones, &g);
        assert!(r[0] < 1e-12, "{r:?}");
    }
}
