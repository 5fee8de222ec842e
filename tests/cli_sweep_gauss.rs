//! End-to-end tests of `lambda-sweep` and `analyze-sweep` on the Gaussian path (the λ-sweep
//! study's model on voxelised data): a sweep in which weakly penalised models explode
//! completes, counts the explosions per λ, records where they happened, leaves them out of
//! the PCA/K-means and reports the structure-preserved correlation; a sweep killed mid-run
//! and resumed, and one run as two shards, give the uninterrupted table; the study preset
//! prints as a valid config of the study's size; a sweep of three fish trains every model on
//! each fish and reports their consistency.

mod common;

use analysis::table::ModelRow;
use analysis::SweepConfig;

use common::sweep::{
    assert_bad_configs, assert_resumes_to, assert_shards_merge_to, kill_after, merge, report, rows,
    run_sweep, sweep, write_config,
};
use common::tables::u64s;
use common::{run_ok, stderr, stdout, tmp_dir};

/// 4 λ (2 weak, 2 strong) × 2 seeds on a small voxelised synthetic brain.
const CONFIG: &str = include_str!("tiny-sweep-gauss.toml");

fn tmp(name: &str) -> std::path::PathBuf {
    tmp_dir("lambda-sweep-gauss", name)
}

#[test]
fn a_gaussian_sweep_with_explosions_completes_counts_them_and_keeps_them_out_of_the_clustering() {
    let base = tmp("main");
    let cfg = write_config(&base, CONFIG);
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
    let report_dir = base.join("report");
    let stdout = report(&full, &["--connectivity-models", "all"], &report_dir);
    assert!(stdout.contains("structure preserved"), "{stdout}");
    let per_lambda = jobs::table::read_parquet(&report_dir.join("per_lambda.parquet")).unwrap();
    let counted = u64s(&per_lambda, "n_exploded");
    let mut lambdas: Vec<f64> = reference.iter().map(|r| r.lambda).collect();
    lambdas.dedup();
    let expected: Vec<u64> = lambdas
        .iter()
        .map(|&l| exploded.iter().filter(|r| r.lambda == l).count() as u64)
        .collect();
    assert_eq!(counted, expected);
    assert!(counted[0] >= 1);
    let pca = jobs::table::read_parquet(&report_dir.join("models_pca.parquet")).unwrap();
    let in_pca = u64s(&pca, "index");
    assert_eq!(in_pca.len(), reference.len() - exploded.len());
    assert!(exploded.iter().all(|r| !in_pca.contains(&r.index)));
    let md = std::fs::read_to_string(report_dir.join("summary.md")).unwrap();
    assert!(md.contains("Structure preserved"), "{md}");
    assert!(md.contains("| cluster | λ range | models |"), "{md}");
    for stem in ["norm_vs_lambda", "pca_by_cluster", "couplings_shown"] {
        assert!(report_dir.join(format!("{stem}.png")).is_file(), "{stem}");
    }

    // SIGKILL once two models are finished; resume; the same table, nothing retrained.
    let killed = base.join("killed");
    let survived = kill_after(&cfg, &killed, 2);
    assert!(
        (2..8).contains(&survived),
        "{survived} models finished before the kill"
    );
    assert_resumes_to(&cfg, &killed, survived, &reference);

    // Two shards, then merge.
    assert_shards_merge_to(&cfg, &base.join("sharded"), &reference);
}

#[test]
fn the_study_preset_prints_as_a_config_of_the_studys_size() {
    let base = tmp("study");
    let o = run_ok(&mut sweep(&["print-config", "--preset", "study"]));
    let p = write_config(&base, &stdout(&o));
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
    assert_bad_configs(
        &base,
        &[
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
        ],
    );
}

/// Three fish on one grid: every (λ, seed) model is trained on each fish (a `recording`
/// column; λ-major, then recording, then seed), shards and merge still give the whole table,
/// and `analyze-sweep` writes the consistency section (table, heatmap, yes/no per λ).
#[test]
fn a_sweep_of_three_fish_trains_each_and_reports_their_consistency() {
    let base = tmp("fish");
    let text = one_lambda_per_range().replace("seed = 0\n", "seed = 0\nfish = 3\n");
    assert!(text.contains("fish = 3"));
    let cfg = write_config(&base, &text);
    let dir = base.join("sweep");
    for shard in ["1/2", "0/2"] {
        let o = run_sweep(&cfg, &dir, &["--shard", shard, "--resume"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = merge(&dir);
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

    let report_dir = base.join("report");
    let stdout = report(&dir, &["--connectivity-models", "all"], &report_dir);
    assert!(
        stdout.contains("consistency across 3 recordings"),
        "{stdout}"
    );
    let t = jobs::table::read_parquet(&report_dir.join("consistency.parquet")).unwrap();
    let with_models: Vec<u64> = u64s(&t, "n_models");
    let kept = rows.iter().filter(|r| r.couplings_path.is_some()).count() as u64;
    assert_eq!(with_models.iter().sum::<u64>(), kept);
    assert!(report_dir.join("consistency_similarity.png").is_file());
    let md = std::fs::read_to_string(report_dir.join("summary.md")).unwrap();
    assert!(md.contains("## Consistency across recordings"), "{md}");
    assert!(
        md.contains("cross-recording similarity beats within-recording seed-to-seed"),
        "{md}"
    );
}

/// The tiny config with one λ per range.
fn one_lambda_per_range() -> String {
    CONFIG
        .replace(
            "start = 0.005\nstop = 0.02\ncount = 2",
            "start = 0.02\nstop = 0.02\ncount = 1",
        )
        .replace(
            "start = 2.0\nstop = 5.0\ncount = 2",
            "start = 2.0\nstop = 2.0\ncount = 1",
        )
}

/// The study's future work on real archives: `data.recordings` lists recordings of a
/// multi-fish `voxelize` archive, every (λ, seed) model is trained on each listed recording
/// (in the list's order), and the report compares them.
#[test]
fn listed_recordings_of_a_voxel_archive_are_each_trained_and_compared() {
    let base = tmp("archive");
    let archive = base.join("fish.npz");
    run_ok(
        common::bin("voxelize")
            .args(["--synthetic", "--fish", "3", "--neurons", "1200"])
            .args(["--frames", "600", "--voxel-size", "70", "--out"])
            .arg(&archive),
    );
    let brain = "[data.brain]\nneurons = 1200\nframes = 600\nvoxel_size = 70.0\nseed = 0\n";
    let text = one_lambda_per_range().replace(
        brain,
        &format!(
            "[data]\ntraces = \"{}\"\nrecordings = [2, 0]\n",
            archive.display()
        ),
    );
    assert!(text.contains("recordings = [2, 0]"), "{text}");
    let cfg = write_config(&base, &text);
    let dir = base.join("sweep");
    let o = run_sweep(&cfg, &dir, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = rows(&dir);
    assert_eq!(rows.len(), 2 * 2 * 2);
    let order: Vec<(u64, u64)> = rows[..4].iter().map(|r| (r.recording, r.seed)).collect();
    assert_eq!(order, [(0, 0), (0, 1), (1, 0), (1, 1)]);
    // Position 0 is archive recording 2, position 1 archive recording 0: different data.
    assert_ne!(rows[0].sparsity, rows[2].sparsity);
    let report_dir = base.join("report");
    let stdout = report(&dir, &["--connectivity-models", "all"], &report_dir);
    assert!(
        stdout.contains("consistency across 2 recordings"),
        "{stdout}"
    );
    // An index the archive does not hold is one clear error naming the setting.
    std::fs::create_dir_all(base.join("bad")).unwrap();
    let bad = write_config(
        &base.join("bad"),
        &text.replace("recordings = [2, 0]", "recordings = [3]"),
    );
    let o = run_sweep(&bad, &base.join("bad-sweep"), &[]);
    common::assert_one_error(&o, &["data.recordings"], "recording 3 of a 3-fish archive");
}

/// The negative control in the same sweep: control fish with their own layouts beside fish
/// that share one; the report's consistency section compares the two kinds of pairs.
#[test]
fn control_fish_in_the_same_sweep_are_reported_beside_the_shared_layout_fish() {
    let base = tmp("control");
    // Strong range only: nothing explodes there at this size.
    let text = one_lambda_per_range()
        .replace("seed = 0\n", "seed = 0\nfish = 2\ncontrol_fish = 2\n")
        .replace(
            "[[grids]]\nname = \"weak\"\nstart = 0.02\nstop = 0.02\ncount = 1\n\n",
            "",
        );
    assert!(
        !text.contains("name = \"weak\"") && text.contains("control_fish = 2"),
        "{text}"
    );
    let cfg = write_config(&base, &text);
    let dir = base.join("sweep");
    let o = run_sweep(&cfg, &dir, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = rows(&dir);
    assert_eq!(rows.len(), 4 * 2);
    let report_dir = base.join("report");
    report(&dir, &["--connectivity-models", "all"], &report_dir);
    let t = jobs::table::read_parquet(&report_dir.join("consistency.parquet")).unwrap();
    // Shared pairs: models of fish 0 × models of fish 1; control pairs: models of every pair
    // of recordings with different layouts (5 of the 6 recording pairs). Exploded models
    // have no coupling matrix and pair with nothing.
    let kept = |rec: u64| {
        rows.iter()
            .filter(|r| r.recording == rec && r.couplings_path.is_some())
            .count() as u64
    };
    let n: Vec<u64> = (0..4).map(kept).collect();
    assert!(n[0] > 0 && n[1] > 0, "{rows:#?}");
    let control: u64 = (0..4)
        .flat_map(|a| (a + 1..4).map(move |b| (a, b)))
        .filter(|&(_, b)| b >= 2)
        .map(|(a, b)| n[a] * n[b])
        .sum();
    assert_eq!(u64s(&t, "cross_pairs"), [n[0] * n[1]]);
    assert_eq!(u64s(&t, "control_pairs"), [control]);
    let md = std::fs::read_to_string(report_dir.join("summary.md")).unwrap();
    assert!(md.contains("Negative control in the same sweep"), "{md}");
    assert!(md.contains("shared layout beats control"), "{md}");
}
