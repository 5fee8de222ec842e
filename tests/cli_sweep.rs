//! End-to-end tests of `lambda-sweep` and `analyze-sweep`: a sweep killed mid-run and resumed
//! loses no finished model and gives the same table as an uninterrupted run; shards merge to
//! it; every plot of the report is a decodable, non-blank image; bad inputs give one clear
//! error line and a non-zero exit.

mod common;

use std::path::Path;

use common::sweep::{
    analyze, assert_bad_configs, assert_resumes_to, assert_shards_merge_to, kill_after, parts,
    rows, run_sweep, write_config,
};
use common::{stderr, tmp_dir};

/// A tiny sweep: 4 λ in two ranges × 2 seeds on 150 neurons, 40 updates per model (shared with
/// scripts/slurm-local-test.sh).
const CONFIG: &str = include_str!("tiny-sweep.toml");

fn tmp(name: &str) -> std::path::PathBuf {
    tmp_dir("lambda-sweep", name)
}

fn config(dir: &Path) -> std::path::PathBuf {
    write_config(dir, CONFIG)
}

#[test]
fn killed_sweep_resumes_to_the_uninterrupted_table_shards_merge_and_the_report_draws() {
    let base = tmp("main");
    let cfg = config(&base);
    let full = base.join("full");
    let o = run_sweep(&cfg, &full, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let reference = rows(&full);
    assert_eq!(reference.len(), 8);
    assert_eq!(
        reference.iter().map(|r| r.index).collect::<Vec<_>>(),
        (0..8).collect::<Vec<u64>>()
    );
    assert_eq!(
        reference.iter().filter(|r| r.range == "weak").count(),
        4,
        "{reference:?}"
    );
    assert!(reference
        .iter()
        .all(|r| r.exploded || (r.norm4.is_finite() && r.couplings_path.is_some())));

    // SIGKILL as soon as two models are finished; resume; same table, nothing retrained.
    let killed = base.join("killed");
    let survived = kill_after(&cfg, &killed, 2);
    assert!(
        (2..8).contains(&survived),
        "{survived} models finished before the kill"
    );
    let before: Vec<(String, std::time::SystemTime)> = std::fs::read_dir(killed.join("parts"))
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect();
    let o = run_sweep(&cfg, &killed, &[]);
    assert!(
        !o.status.success(),
        "a second run without --resume must refuse"
    );
    assert!(stderr(&o).contains("--resume"), "{}", stderr(&o));
    assert_resumes_to(&cfg, &killed, survived, &reference);
    for (name, t) in before {
        let now = std::fs::metadata(killed.join("parts").join(&name))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(now, t, "{name} was rewritten on resume");
    }

    // Two shards, then merge.
    assert_shards_merge_to(&cfg, &base.join("sharded"), &reference);

    // The report: tables, plots, summary, from the sweep directory alone.
    let report = base.join("report");
    let stdout = common::sweep::report(&full, &[], &report);
    assert!(stdout.contains("adjusted Rand"), "{stdout}");
    let md = std::fs::read_to_string(report.join("summary.md")).unwrap();
    for stem in [
        "norm_vs_lambda",
        "nrmse_per_statistic",
        "nrmse_polar",
        "identity_v",
        "identity_vh",
        "couplings_shown",
        "couplings_weak",
        "couplings_strong",
        "pca_by_lambda",
        "pca_by_cluster",
    ] {
        let png = report.join(format!("{stem}.png"));
        let img = image::open(&png)
            .unwrap_or_else(|e| panic!("{}: {e}", png.display()))
            .to_rgb8();
        let inked = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
        assert!(inked > 2000, "{stem}.png is nearly blank ({inked} pixels)");
        let svg = std::fs::read_to_string(report.join(format!("{stem}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg") || svg.contains("<svg"),
            "{stem}.svg"
        );
        assert!(
            md.contains(&format!("({stem}.png)")),
            "summary.md lacks {stem}"
        );
    }
    for t in [
        "per_lambda.parquet",
        "good_models.parquet",
        "models_pca.parquet",
    ] {
        assert!(report.join(t).is_file(), "{t}");
    }
    assert!(md.contains("| cluster | λ range | models |"), "{md}");
}

#[test]
fn another_config_is_refused_naming_the_key_unless_the_directory_is_started_fresh() {
    let base = tmp("fresh");
    let cfg = config(&base);
    let other = base.join("other.toml");
    assert!(CONFIG.contains("\nseeds = 2\n"));
    std::fs::write(&other, CONFIG.replace("\nseeds = 2\n", "\nseeds = 3\n")).unwrap();
    let out = base.join("out");
    let seeds_in_dir = || {
        let text = std::fs::read_to_string(out.join("sweep.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["seeds"].clone()
    };
    // The first run writes sweep.json and finishes no model (like a shard still training).
    let o = run_sweep(&cfg, &out, &["--max-models", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!((seeds_in_dir(), parts(&out)), (serde_json::json!(2), 0));
    // Another config is refused although no model is finished, naming the first differing key.
    for extra in [&[][..], &["--resume"]] {
        let o = run_sweep(&other, &out, extra);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {e}");
        let errors: Vec<&str> = e.lines().filter(|l| l.starts_with("error: ")).collect();
        assert_eq!(errors.len(), 1, "{e}");
        assert!(
            errors[0].contains(
                "sweep.json: made with other settings (seeds: directory has 2, this run 3)"
            ) && errors[0].contains("--fresh"),
            "{e}"
        );
        assert_eq!(
            seeds_in_dir(),
            serde_json::json!(2),
            "sweep.json was replaced"
        );
    }
    // --fresh starts the directory over with the new config.
    let o = run_sweep(&other, &out, &["--fresh", "--max-models", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(seeds_in_dir(), serde_json::json!(3));
    // --fresh is not for array tasks (they all run with --resume).
    let o = run_sweep(&cfg, &out, &["--fresh", "--resume"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(seeds_in_dir(), serde_json::json!(3));
}

#[test]
fn bad_inputs_give_one_clear_error_and_a_nonzero_exit() {
    let base = tmp("bad");
    assert_bad_configs(
        &base,
        &[
            (
                "[train]\nlearning_rat = 0.1\n",
                "unknown key 'learning_rat'",
            ),
            ("seeds = 0\n", "seeds"),
            ("[[grids]\n", "sweep.toml"),
            ("[data]\nraster = \"missing.npy\"\n", "missing.npy"),
        ],
    );
    let o = run_sweep(&base.join("nope.toml"), &base.join("out"), &[]);
    assert!(stderr(&o).contains("nope.toml"), "{}", stderr(&o));
    let o = run_sweep(&config(&base), &base.join("out"), &["--shard", "2/2"]);
    assert!(stderr(&o).contains("shard"), "{}", stderr(&o));

    // analyze-sweep: not a directory; a sweep without a table; a corrupt table.
    let o = analyze(&base.join("absent"), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not a sweep directory"),
        "{}",
        stderr(&o)
    );
    let empty = base.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = analyze(&empty, &[]);
    assert!(stderr(&o).contains("no sweep.parquet"), "{}", stderr(&o));
    std::fs::write(empty.join("sweep.parquet"), b"garbage").unwrap();
    let o = analyze(&empty, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("sweep.parquet"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
}
