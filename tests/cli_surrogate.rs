//! End-to-end tests of the surrogate and optimizer binaries on a small synthetic-default dataset:
//! train-surrogate writes models, metrics and plots; surrogate-speedup times both sides; the
//! pipeline prints its comparison table, which compare-optimizers rebuilds from the Parquet run
//! tables alone; bad tables give one clear error line and a non-zero exit; a surrogate-active fit
//! killed at a random point resumes to the uninterrupted run's table, and refuses a resume with
//! another schedule.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jobs::table::write_parquet;
use surrogate::table::{read_samples, to_dataframe, write_samples};

use common::files::samples;
use common::{assert_one_error, bin, is_png, lines_starting, run, run_ok, text, tmp_dir, SHORT};

fn tmp(name: &str) -> PathBuf {
    tmp_dir("surrogate-cli", name)
}

/// A scratch directory `name` holding a dataset (`data/`) that `pmfm-dataset` wrote on the
/// synthetic default with the short schedule: `n` θ in batches of `batch`. Returns both paths.
fn dir_with_dataset(name: &str, n: &str, batch: &str, seed: &str) -> (PathBuf, PathBuf) {
    let d = tmp(name);
    let data = d.join("data");
    run_ok(
        bin("pmfm-dataset")
            .args(SHORT)
            .args(["--n", n, "--batch", batch, "--seed", seed, "--out"])
            .arg(&data),
    );
    (d, data)
}

#[test]
fn train_surrogate_and_speedup_on_a_small_dataset() {
    let (d, data) = dir_with_dataset("train", "192", "64", "1");
    let out = d.join("models");
    run_ok(
        bin("train-surrogate")
            .args(SHORT)
            .args(["--table"])
            .arg(&data)
            .args([
                "--models",
                "quadratic,mlp,tokens",
                "--epochs",
                "30",
                "--out",
            ])
            .arg(&out),
    );
    for f in [
        "identity_mlp.png",
        "learning_curve_mlp.png",
        "identity_tokens.png",
        "identity_quadratic.png",
    ] {
        assert!(is_png(&out.join(f)), "{f} is not a decodable PNG");
    }
    let m = jobs::table::read_parquet(&out.join("metrics.parquet")).unwrap();
    assert_eq!(m.height(), 3);
    let acc = m.column("valid_accuracy").unwrap().f64().unwrap().to_vec();
    assert!(acc
        .iter()
        .all(|a| a.is_some_and(|a| (0.0..=1.0).contains(&a))));

    let o = run_ok(
        bin("surrogate-speedup")
            .args(SHORT)
            .args([
                "--sim-batches",
                "8",
                "--surrogate-batches",
                "64,512",
                "--repeats",
                "1",
                "--model",
            ])
            .arg(out.join("mlp")),
    );
    let t = text(&o);
    assert!(t.contains("faster than the Euler simulator"), "{t}");
}

#[test]
fn bad_tables_give_one_clear_error() {
    let d = tmp("bad");
    let s = samples(
        [[0.5, 0.0, 0.0, 0.3, 0.0, 0.0, 5.0, 0.005, 0.0, 0.0]; 30],
        "toy",
    );
    let mut nan = s.clone();
    nan.theta[7][6] = f64::NAN;
    write_samples(&d.join("nan.parquet"), &nan).unwrap();
    let mut df = to_dataframe(&s).unwrap().drop("ks_cost").unwrap();
    write_parquet(&d.join("missing.parquet"), &mut df).unwrap();
    std::fs::write(d.join("junk.parquet"), b"PAR1 not really").unwrap();
    assert!(read_samples(&d.join("nan.parquet")).is_err());
    for (file, needle) in [
        (
            "nan.parquet",
            "column 'g' has a missing or non-finite value in row 7",
        ),
        ("missing.parquet", "missing column 'ks_cost'"),
        ("junk.parquet", "not a readable Parquet table"),
        ("absent.parquet", "absent.parquet"),
    ] {
        let o = run(bin("train-surrogate")
            .arg("--table")
            .arg(d.join(file))
            .args(["--models", "mlp"]));
        assert_one_error(&o, &[file, needle], file);
    }
}

#[test]
fn pipeline_runs_end_to_end_and_its_table_is_rebuilt_from_parquet() {
    // The main job: pMFM dataset, surrogate, fits, comparison; then the quick cRBM λ sweep.
    let out = tmp("pipeline");
    let o = run_ok(
        bin("pipeline")
            .args(SHORT)
            .args([
                "--dataset-size",
                "256",
                "--ensemble",
                "2",
                "--epochs",
                "40",
                "--population",
                "12",
                "--generations",
                "4",
                "--random-budget",
                "32",
                "--active-rounds",
                "2",
                "--out",
            ])
            .arg(&out),
    );
    let t = text(&o);
    for m in [
        "euler-cmaes",
        "surrogate-cmaes",
        "surrogate-gd",
        "surrogate-active",
        "random",
        "best_validated_cost",
    ] {
        assert!(t.contains(m), "{m} missing from:\n{t}");
    }
    assert!(is_png(&out.join("convergence_time.png")));
    assert!(is_png(&out.join("convergence_simulations.png")));
    // The main job's cRBM part: a quick λ sweep (8 models) and its report.
    assert!(
        t.contains("cRBM λ sweep (Gaussian units, voxelised synthetic brain, 8 models)"),
        "{t}"
    );
    let sweep = analysis::table::read_rows(&out.join("crbm-sweep/sweep.parquet")).unwrap();
    assert_eq!(sweep.len(), 8);
    assert!(out.join("crbm-sweep/report/summary.md").is_file());
    assert!(is_png(&out.join("crbm-sweep/report/norm_vs_lambda.png")));
    let first = jobs::table::read_parquet(&out.join("comparison.parquet")).unwrap();
    assert_eq!(first.height(), 5);
    // Surrogate searches spend no Euler simulation; the Euler search spends population × gens.
    let methods = first.column("method").unwrap().str().unwrap().clone();
    let sims = first
        .column("search_simulations")
        .unwrap()
        .u64()
        .unwrap()
        .clone();
    // Every method found a valid candidate: finite validated costs below the invalid 10.
    let best = first
        .column("best_validated_cost")
        .unwrap()
        .f64()
        .unwrap()
        .clone();
    for k in 0..5 {
        let c = best.get(k).unwrap();
        assert!(
            c.is_finite() && c < 10.0,
            "{}: best validated cost {c}",
            methods.get(k).unwrap()
        );
    }
    for k in 0..5 {
        let (m, s) = (methods.get(k).unwrap(), sims.get(k).unwrap());
        match m {
            "surrogate-cmaes" | "surrogate-gd" => assert_eq!(s, 0, "{m}"),
            "euler-cmaes" => assert_eq!(s, 12 * 4, "{m}"),
            "random" => assert!(s > 0 && s <= 32, "{m}: {s}"),
            // Two rounds of 16 θ, one duplicate each.
            "surrogate-active" => assert_eq!(s, 32, "{m}"),
            other => panic!("unexpected method {other}"),
        }
    }
    std::fs::remove_file(out.join("comparison.parquet")).unwrap();
    run_ok(
        bin("compare-optimizers")
            .arg("--from-runs")
            .arg("--out")
            .arg(&out),
    );
    let again = jobs::table::read_parquet(&out.join("comparison.parquet")).unwrap();
    assert!(first.equals_missing(&again), "{first}\n{again}");

    // fit --method surrogate-active from the pipeline's dataset: needs --table, writes its
    // rounds beside the run table, and a second run resumes them instead of simulating again.
    let fit_out = out.join("fit");
    let fit = |extra: &[&str]| run(&mut surrogate_active(SHORT, &fit_out, "2", "6", extra));
    let o = fit(&[]);
    assert!(!o.status.success());
    assert!(text(&o).contains("needs --table"), "{}", text(&o));
    assert!(!text(&o).contains("panicked"), "{}", text(&o));
    // A starting table that is not Parquet: one error line naming the file.
    let junk = out.join("junk.parquet");
    std::fs::write(&junk, "θ,cost\n").unwrap();
    let o = fit(&["--table", junk.to_str().unwrap()]);
    assert!(!o.status.success());
    let t = text(&o);
    let errors = lines_starting(&t, "error");
    assert_eq!(errors.len(), 1, "{t}");
    assert!(errors[0].contains("junk.parquet"), "{}", text(&o));
    assert!(!text(&o).contains("panicked"), "{}", text(&o));
    let table = out.join("dataset.parquet");
    let o = fit(&["--table", table.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("12 + 6 Euler simulations"),
        "{}",
        text(&o)
    );
    let rounds = fit_out.join("surrogate-active.rounds");
    for f in ["active.json", "round-000.parquet", "round-001.json"] {
        assert!(rounds.join(f).is_file(), "{f} missing");
    }
    let rows = |p: &Path| jobs::table::read_parquet(p).unwrap().height();
    assert_eq!(rows(&fit_out.join("surrogate-active.parquet")), 12 + 2);
    // Resumed: both rounds are read back; only the validation is simulated again.
    let o = fit(&["--table", table.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("resuming after 2 finished rounds"),
        "{}",
        text(&o)
    );
    assert_eq!(rows(&fit_out.join("surrogate-active.parquet")), 12 + 2);
}

#[test]
fn reference_candidates_are_validated_beside_the_fits() {
    // The synthetic default's ground truth θ* (reported cost 0.123) and a far-off θ, by column
    // as in the reference example file: ten parameter rows, then FC, KS and total rows.
    let out = tmp("reference");
    let truth = pmfm_sim::synthetic::TRUE_THETA;
    let far = [0.9, 0.0, 0.0, 0.05, 0.0, 0.0, 9.0, 0.009, 0.0, 0.0];
    let mut csv = String::new();
    for d in 0..10 {
        csv += &format!("{},{}\n", truth[d], far[d]);
    }
    csv += "0.1,0.5\n0.023,0.5\n0.123,1.0\n";
    let file = out.join("candidates.csv");
    std::fs::write(&file, csv).unwrap();
    let o = run_ok(
        bin("compare-optimizers")
            .args(SHORT)
            .args(["--methods", "random", "--random-budget", "8", "--out"])
            .arg(&out)
            .arg("--reference")
            .arg(&file)
            .arg("--reference-by-column"),
    );
    assert!(text(&o).contains("reference"), "{}", text(&o));
    let t = jobs::table::read_parquet(&out.join("comparison.parquet")).unwrap();
    assert_eq!(t.height(), 2);
    let col = |name: &str| t.column(name).unwrap().clone();
    let methods = col("method").str().unwrap().clone();
    let k = (0..2)
        .find(|&k| methods.get(k) == Some("reference"))
        .unwrap();
    // No search: the reported costs stand in for it, and no simulation is spent before the
    // validation (2 candidates × 3 duplicates).
    let f = |name: &str| col(name).f64().unwrap().get(k).unwrap();
    assert_eq!(f("best_search_cost"), 0.123);
    let u = |name: &str| col(name).u64().unwrap().get(k).unwrap();
    assert_eq!(u("search_simulations"), 0);
    assert_eq!(u("total_simulations"), 6);
    // The ground truth validates better than eight random parameter sets.
    let r = 1 - k;
    let best = col("best_validated_cost").f64().unwrap().clone();
    // Valid, finite costs (an invalid term costs 10): the comparison is between real fits.
    for j in 0..2 {
        let c = best.get(j).unwrap();
        assert!(
            c.is_finite() && c < 10.0,
            "row {j}: best validated cost {c}"
        );
    }
    assert!(
        best.get(k).unwrap() < best.get(r).unwrap(),
        "reference {} vs random {}",
        best.get(k).unwrap(),
        best.get(r).unwrap()
    );
    // Without the file the method is refused with one clear error.
    let mut c = bin("compare-optimizers");
    c.args(SHORT)
        .args(["--methods", "reference", "--out"])
        .arg(out.join("x"));
    let o = run(&mut c);
    assert!(!o.status.success());
    assert!(text(&o).contains("--reference FILE"), "{}", text(&o));
}

/// `fit --method surrogate-active` into `out` with `schedule`: `rounds` rounds of `batch` θ, a
/// 1-member ensemble trained for 20 epochs, the top 2 validated; then `extra`.
fn surrogate_active(
    schedule: [&str; 8],
    out: &Path,
    rounds: &str,
    batch: &str,
    extra: &[&str],
) -> Command {
    let mut c = bin("fit");
    c.args(schedule)
        .args(["--method", "surrogate-active", "--out"])
        .arg(out)
        .args(["--active-rounds", rounds, "--active-batch", batch])
        .args([
            "--active-ensemble",
            "1",
            "--active-epochs",
            "20",
            "--validate-top",
            "2",
        ])
        .args(extra);
    c
}

/// `fit --method surrogate-active` on `table` into `out` with the short schedule of `duration`
/// seconds: 4 rounds of 4 θ, a 1-member ensemble.
fn active_fit(table: &Path, out: &Path, duration: &str) -> Command {
    let mut schedule: [&str; 8] = SHORT;
    schedule[1] = duration;
    let table = table.to_str().unwrap();
    surrogate_active(schedule, out, "4", "4", &["--table", table, "--seed", "3"])
}

/// The run table without its wall-clock column (the only one that differs between runs).
fn untimed_run_table(out: &Path) -> polars::prelude::DataFrame {
    jobs::table::read_parquet(&out.join("surrogate-active.parquet"))
        .unwrap()
        .drop("elapsed_s")
        .unwrap()
}

#[test]
fn killed_active_fit_resumes_to_the_uninterrupted_table_and_refuses_another_schedule() {
    let (d, table) = dir_with_dataset("active-crash", "24", "24", "2");

    let full = d.join("full");
    run_ok(&mut active_fit(&table, &full, "80"));
    let reference = untimed_run_table(&full);
    // 4 rounds × 4 simulated θ, then 2 validated candidates, every simulated cost finite.
    assert_eq!(reference.height(), 16 + 2, "{reference}");
    let true_total = reference
        .column("true_total")
        .unwrap()
        .f64()
        .unwrap()
        .to_vec();
    assert!(
        true_total.iter().all(|c| c.is_some_and(f64::is_finite)),
        "{reference}"
    );

    // SIGKILL at a random point: after round k's record (k = 0, 1 or 2) plus 0–200 ms.
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let (k, delay_ms) = (seed % 3, (seed / 3) % 200);
    eprintln!("killing after round {k} + {delay_ms} ms (seed {seed})");
    let killed = d.join("killed");
    let rounds = killed.join("surrogate-active.rounds");
    let mut child = active_fit(&table, &killed, "80")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !rounds.join(format!("round-{k:03}.json")).is_file() {
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "round {k} not written in 300 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(delay_ms as u64));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the fit finished before it was killed"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!killed.join("surrogate-active.parquet").exists());

    // Another schedule is refused, naming the setting; nothing is simulated or written.
    let o = run(&mut active_fit(&table, &killed, "90"));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = std::str::from_utf8(&o.stderr).unwrap();
    let errors = lines_starting(err, "error");
    assert_eq!(errors.len(), 1, "{}", text(&o));
    assert!(errors[0].contains("active.json"), "{}", text(&o));
    assert!(errors[0].contains("duration"), "{}", text(&o));
    assert!(!text(&o).contains("panicked"), "{}", text(&o));
    assert!(!killed.join("surrogate-active.parquet").exists());

    // The same command resumes after the finished rounds and ends with the same table.
    let o = run_ok(&mut active_fit(&table, &killed, "80"));
    assert!(text(&o).contains("active: resuming after"), "{}", text(&o));
    let resumed = untimed_run_table(&killed);
    assert!(reference.equals_missing(&resumed), "{reference}\n{resumed}");
}
