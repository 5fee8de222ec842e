//! End-to-end tests of `lambda-sweep` and `analyze-sweep` on the Gaussian path (the λ-sweep
//! study's model on voxelised data): a sweep in which weakly penalised models explode
//! completes, counts the explosions per λ, records where they happened, leaves them out of
//! the PCA/K-means and reports the structure-preserved correlation; a sweep killed mid-run
//! and resumed, and one run as two shards, give the uninterrupted table; the study preset
//! prints as a valid config of the study's size; a sweep of three fish trains every model on
//! each fish and reports their consistency.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use analysis::table::{read_rows, ModelRow};
use analysis::SweepConfig;

/// 4 λ (2 weak, 2 strong) × 2 seeds on a small voxelised synthetic brain.
const CONFIG: &str = include_str!("tiny-sweep-gauss.toml");

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lambda-sweep-gauss-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn config(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("sweep.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn sweep(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lambda-sweep"));
    c.env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_ARRAY_TASK_COUNT")
        .env_remove("BURN_DEVICE")
        .args(args);
    c
}

fn run_sweep(cfg: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut c = sweep(&["run", "--config"]);
    c.arg(cfg).arg("--out").arg(out).args(extra);
    c.output().expect("lambda-sweep runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The merged table without the wall-time columns.
fn rows(dir: &Path) -> Vec<ModelRow> {
    read_rows(&dir.join("sweep.parquet"))
        .expect("merged table")
        .into_iter()
        .map(|mut r| {
            r.train_s = 0.0;
            r.eval_s = 0.0;
            r
        })
        .collect()
}

/// Floats compared bit for bit, NaN equal to NaN.
fn same(a: &[ModelRow], b: &[ModelRow]) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fn parts(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("parts"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
                .count()
        })
        .unwrap_or(0)
}

fn u64_column(df: &polars::prelude::DataFrame, name: &str) -> Vec<u64> {
    df.column(name)
        .unwrap()
        .cast(&polars::prelude::DataType::UInt64)
        .unwrap()
        .u64()
        .unwrap()
        .into_no_null_iter()
        .collect()
}

#[test]
fn a_gaussian_sweep_with_explosions_completes_counts_them_and_keeps_them_out_of_the_clustering() {
    let base = tmp("main");
    let cfg = config(&base, CONFIG);
    let full = base.join("full");
    let o = run_sweep(&cfg, &full, &["--device", "flex"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("gaussian visible units"),
        "{}",
        stderr(&o)
    );
    let reference = rows(&full);
    assert_eq!(reference.len(), 8);
    assert!(reference.iter().all(|r| r.visible == "gaussian"));

    // Explosions: some weak-λ models, no strong-λ model; each with phase, update, margin.
    let exploded: Vec<&ModelRow> = reference.iter().filter(|r| r.exploded).collect();
    assert!(
        exploded.iter().any(|r| r.range == "weak"),
        "no weak-λ model exploded: {reference:#?}"
    );
    assert!(
        reference.iter().any(|r| !r.exploded),
        "every model exploded: {reference:#?}"
    );
    assert!(
        reference
            .iter()
            .filter(|r| r.range == "strong")
            .all(|r| !r.exploded),
        "{reference:#?}"
    );
    for r in &exploded {
        assert!(r.bad && !r.good && r.norm4.is_nan(), "{r:?}");
        let phase = r.exploded_phase.as_deref().expect("phase of the explosion");
        assert!(["training", "sampling"].contains(&phase), "{r:?}");
        let u = r.exploded_update.expect("update of the explosion");
        assert!(u >= 1 && u <= 60, "{r:?}");
        assert_eq!(r.exploded_sweep.is_some(), phase == "sampling", "{r:?}");
        assert!(r.couplings_path.is_none(), "{r:?}");
        assert!(!r.stability_margin.is_finite() || r.stability_margin < 1e3);
    }
    for r in reference.iter().filter(|r| !r.exploded) {
        assert!(
            r.norm4.is_finite() && r.stability_margin.is_finite(),
            "{r:?}"
        );
        assert!(r.couplings_path.is_some() && r.n_groups > 5, "{r:?}");
        assert!(r.coupling_correlation.is_some_and(f64::is_finite), "{r:?}");
        assert!(r.exploded_update.is_none() && r.exploded_phase.is_none());
    }

    // The report: explosions per λ, exploded models never in the PCA/K-means.
    let report = base.join("report");
    let o = Command::new(env!("CARGO_BIN_EXE_analyze-sweep"))
        .arg(&full)
        .args(["--connectivity-models", "all", "--out"])
        .arg(&report)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("structure preserved"), "{stdout}");
    let per_lambda = jobs::table::read_parquet(&report.join("per_lambda.parquet")).unwrap();
    let counted = u64_column(&per_lambda, "n_exploded");
    let mut lambdas: Vec<f64> = reference.iter().map(|r| r.lambda).collect();
    lambdas.dedup();
    let expected: Vec<u64> = lambdas
        .iter()
        .map(|&l| exploded.iter().filter(|r| r.lambda == l).count() as u64)
        .collect();
    assert_eq!(counted, expected);
    assert!(counted[0] >= 1);
    let pca = jobs::table::read_parquet(&report.join("models_pca.parquet")).unwrap();
    let in_pca = u64_column(&pca, "index");
    assert_eq!(in_pca.len(), reference.len() - exploded.len());
    assert!(exploded.iter().all(|r| !in_pca.contains(&r.index)));
    let md = std::fs::read_to_string(report.join("summary.md")).unwrap();
    assert!(md.contains("Structure preserved"), "{md}");
    assert!(md.contains("| cluster | λ range | models |"), "{md}");
    for stem in ["norm_vs_lambda", "pca_by_cluster", "couplings_shown"] {
        assert!(report.join(format!("{stem}.png")).is_file(), "{stem}");
    }

    // SIGKILL once two models are finished; resume; the same table, nothing retrained.
    let killed = base.join("killed");
    let mut c = sweep(&["run", "--config"]);
    c.arg(&cfg).arg("--out").arg(&killed);
    let mut child = c
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while parts(&killed) < 2 && t0.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let survived = parts(&killed);
    assert!(
        (2..8).contains(&survived),
        "{survived} models finished before the kill"
    );
    let o = run_sweep(&cfg, &killed, &["--resume"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("{survived} already finished")),
        "{}",
        stderr(&o)
    );
    assert!(same(&rows(&killed), &reference));

    // Two shards, then merge.
    let sharded = base.join("sharded");
    let o = run_sweep(&cfg, &sharded, &["--shard", "1/2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = sweep(&["merge"]).arg(&sharded).output().unwrap();
    assert!(
        stderr(&o).contains("4 of 8 models missing (models 0, 2, 4, 6)"),
        "{}",
        stderr(&o)
    );
    let o = run_sweep(&cfg, &sharded, &["--shard", "0/2", "--resume"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = sweep(&["merge"]).arg(&sharded).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(same(&rows(&sharded), &reference));
}

#[test]
fn the_study_preset_prints_as_a_config_of_the_studys_size() {
    let base = tmp("study");
    let o = sweep(&["print-config", "--preset", "study"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let p = config(&base, &String::from_utf8_lossy(&o.stdout));
    let cfg = SweepConfig::from_toml_file(&p).unwrap();
    assert_eq!(cfg, SweepConfig::study());
    assert_eq!(cfg.visible.name(), "gaussian");
    let lambdas: Vec<f64> = cfg.lambdas().into_iter().map(|(l, _)| l).collect();
    assert!(lambdas.len() >= 12 && cfg.seeds >= 5);
    let weak = lambdas
        .iter()
        .filter(|&&l| (0.005..=0.1 + 1e-12).contains(&l))
        .count();
    let strong = lambdas
        .iter()
        .filter(|&&l| (0.5..=5.0 + 1e-12).contains(&l))
        .count();
    assert_eq!(weak + strong, lambdas.len());
    assert!(weak >= 6 && strong >= 6 && (lambdas[0] - 0.005).abs() < 1e-12);
    assert!(cfg.eval.clip_nrmse);
    assert_eq!(
        cfg.gauss.sampling.start,
        crbm::gauss::evaluate::ChainStart::Prior
    );
}

#[test]
fn bad_gaussian_configs_give_one_clear_error() {
    let base = tmp("bad");
    let cases = [
        (
            "visible = \"gaussian\"\n[gauss.train]\nlearnin_rate = 0.1\n",
            "unknown key 'learnin_rate' in [gauss.train]",
        ),
        (
            "visible = \"gaussian\"\n[data]\nraster = \"r.npy\"\n",
            "data.traces",
        ),
        (
            "visible = \"gaussian\"\n[data.brain]\nvoxel_size = 0.0\n",
            "data.brain.voxel_size",
        ),
        (
            "visible = \"gaussian\"\n[data]\ntraces = \"missing.npy\"\n",
            "missing.npy",
        ),
        ("[data]\ntraces = \"t.npy\"\n", "visible = \"gaussian\""),
    ];
    for (k, (text, needle)) in cases.iter().enumerate() {
        let dir = base.join(format!("c{k}"));
        std::fs::create_dir_all(&dir).unwrap();
        let p = config(&dir, text);
        let o = run_sweep(&p, &dir.join("out"), &[]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{text}: {e}");
        assert!(
            e.starts_with("error: ") && e.contains(needle),
            "{text}: {e}"
        );
        assert!(!e.contains("panicked"), "{e}");
    }
}

/// Three fish on one grid: every (λ, seed) model is trained on each fish (a `recording`
/// column; λ-major, then recording, then seed), shards and merge still give the whole table,
/// and `analyze-sweep` writes the consistency section (table, heatmap, yes/no per λ).
#[test]
fn a_sweep_of_three_fish_trains_each_and_reports_their_consistency() {
    let base = tmp("fish");
    let text = CONFIG
        .replace("seed = 0\n", "seed = 0\nfish = 3\n")
        .replace(
            "start = 0.005\nstop = 0.02\ncount = 2",
            "start = 0.02\nstop = 0.02\ncount = 1",
        )
        .replace(
            "start = 2.0\nstop = 5.0\ncount = 2",
            "start = 2.0\nstop = 2.0\ncount = 1",
        );
    assert!(text.contains("fish = 3"));
    let cfg = config(&base, &text);
    let dir = base.join("sweep");
    for shard in ["1/2", "0/2"] {
        let o = run_sweep(&cfg, &dir, &["--shard", shard, "--resume"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = sweep(&["merge"]).arg(&dir).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = rows(&dir);
    assert_eq!(rows.len(), 2 * 3 * 2);
    let order: Vec<(u64, u64)> = rows.iter().map(|r| (r.recording, r.seed)).collect();
    assert_eq!(
        &order[..6],
        [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    );
    assert!(rows.iter().enumerate().all(|(k, r)| r.index == k as u64));
    assert!(rows[..6].iter().all(|r| r.lambda == rows[0].lambda));
    // Same seed on different fish: different data, different model.
    assert_ne!(rows[0].sparsity, rows[2].sparsity);

    let report = base.join("report");
    let o = Command::new(env!("CARGO_BIN_EXE_analyze-sweep"))
        .arg(&dir)
        .args(["--connectivity-models", "all", "--out"])
        .arg(&report)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("consistency across 3 recordings"),
        "{stdout}"
    );
    let t = jobs::table::read_parquet(&report.join("consistency.parquet")).unwrap();
    let with_models: Vec<u64> = u64_column(&t, "n_models");
    let kept = rows.iter().filter(|r| r.couplings_path.is_some()).count() as u64;
    assert_eq!(with_models.iter().sum::<u64>(), kept);
    assert!(report.join("consistency_similarity.png").is_file());
    let md = std::fs::read_to_string(report.join("summary.md")).unwrap();
    assert!(md.contains("## Consistency across recordings"), "{md}");
    assert!(
        md.contains("cross-recording similarity beats within-recording seed-to-seed"),
        "{md}"
    );
}
