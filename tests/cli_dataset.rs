//! End-to-end tests of `pmfm-dataset`: a run killed mid-way and resumed gives the same table as
//! an uninterrupted run; shards merge to the same table; bad settings give one clear error.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jobs::table::list_parts;
use surrogate::table::{read_samples, write_samples};
use surrogate::Samples;

use common::{assert_one_error, bin, fresh_path, run, run_ok, stderr, stdout, SHORT};

/// `pmfm-dataset` with the short schedule (a batch takes well under a second), the job's
/// `settings`, `--out out`, then `extra`.
fn dataset(settings: &[&str], out: &Path, extra: &[&str]) -> Command {
    let mut c = bin("pmfm-dataset");
    c.args(SHORT)
        .args(settings)
        .arg("--out")
        .arg(out)
        .args(extra);
    c
}

/// A Latin-hypercube job: 60 θ in batches of 6.
fn dataset_cmd(out: &Path, extra: &[&str]) -> Command {
    dataset(&["--n", "60", "--batch", "6", "--seed", "5"], out, extra)
}

fn tmp(name: &str) -> PathBuf {
    fresh_path("pmfm-dataset", name)
}

/// The table without the wall-time column (the only one that differs between runs).
fn rows(dir: &Path) -> Samples {
    let mut s = read_samples(&dir.join("dataset.parquet")).expect("merged table");
    s.wall_s.clear();
    s
}

#[test]
fn killed_and_resumed_run_equals_uninterrupted_run_and_shards_merge_to_it() {
    let full = tmp("full");
    run_ok(&mut dataset_cmd(&full, &[]));
    let reference = rows(&full);
    assert_eq!(reference.len(), 60);
    assert_eq!(reference.index, (0..60).collect::<Vec<u64>>());
    assert!(
        reference.valid.iter().filter(|v| **v).count() > 30,
        "{reference:?}"
    );
    assert!(reference
        .theta
        .iter()
        .all(|t| t.iter().all(|x| x.is_finite())));

    // Kill with SIGKILL as soon as the first part is on disk.
    let killed = tmp("killed");
    let mut child = dataset_cmd(&killed, &[])
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while list_parts(&killed).map(|p| p.is_empty()).unwrap_or(true) {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no part written in 120 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let parts_at_kill = list_parts(&killed).unwrap().len();
    assert!(parts_at_kill < 10, "the run finished before it was killed");
    assert!(!killed.join("dataset.parquet").exists());

    // Without --resume the directory is refused; with it, the job completes.
    let o = run(&mut dataset_cmd(&killed, &[]));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--resume"), "{}", stderr(&o));
    let o = run_ok(&mut dataset_cmd(&killed, &["--resume"]));
    let e = stderr(&o);
    assert!(
        e.contains(&format!("{} of 10 batches to do", 10 - parts_at_kill)),
        "{e}"
    );
    assert_eq!(rows(&killed), reference);

    // Two shards (one of them stopped after one batch and resumed), then merge.
    let sharded = tmp("sharded");
    let o = run_ok(&mut dataset_cmd(&sharded, &["--shard", "1/2"]));
    assert!(String::from_utf8_lossy(&o.stdout).contains("5 of 10 batches on disk"));
    let o = run(bin("pmfm-dataset").arg("merge").arg(&sharded));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("5 of 10 batches missing (batches 0, 2, 4, 6, 8)"),
        "{}",
        stderr(&o)
    );
    let mut slurm = dataset_cmd(&sharded, &["--resume", "--max-batches", "1"]);
    slurm
        .env("SLURM_ARRAY_TASK_ID", "0")
        .env("SLURM_ARRAY_TASK_COUNT", "2");
    assert!(run(&mut slurm).status.success());
    let o = run_ok(&mut dataset_cmd(&sharded, &["--resume", "--shard", "0/2"]));
    assert!(
        stderr(&o).contains("4 of 10 batches to do"),
        "{}",
        stderr(&o)
    );
    assert_eq!(rows(&sharded), reference);
}

#[test]
fn settings_that_differ_from_the_directory_are_refused() {
    let dir = tmp("mismatch");
    run_ok(&mut dataset_cmd(&dir, &["--max-batches", "1"]));
    let o = run(&mut dataset_cmd(&dir, &["--resume", "--n-dup", "2"]));
    assert!(!o.status.success());
    let e = stderr(&o);
    let errors: Vec<&str> = e.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{e}");
    assert!(
        errors[0].contains("manifest.json")
            && errors[0].contains("other settings (n_dup: directory has 1, this run 2)"),
        "{e}"
    );
    for (args, needle) in [
        (vec!["--shard", "2/2"], "shard must be written i/n"),
        (vec!["--design", "gaussian"], "--centres"),
        (vec!["--n-dup", "0"], "--n-dup must be at least 1"),
    ] {
        let o = run(&mut dataset_cmd(&tmp("bad"), &args));
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert_eq!(
            stderr(&o)
                .lines()
                .filter(|l| l.starts_with("error"))
                .count(),
            1
        );
    }
}

#[test]
fn resume_refuses_a_part_whose_theta_is_not_its_batch_of_the_design() {
    let dir = tmp("tampered-theta");
    run_ok(&mut dataset_cmd(&dir, &["--max-batches", "2"]));
    let part = dir.join("part-000001.parquet");
    let mut s = read_samples(&part).unwrap();
    assert_eq!(s.len(), 6);
    // The smallest possible change: one coefficient of one row, one unit in the last place.
    s.theta[3][2] = f64::from_bits(s.theta[3][2].to_bits() + 1);
    write_samples(&part, &s).unwrap();
    let o = run(&mut dataset_cmd(&dir, &["--resume"]));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    let errors: Vec<&str> = e.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{e}");
    assert!(
        errors[0].contains("part-000001.parquet")
            && errors[0].contains("other θ than the design draws for batch 1")
            && errors[0].contains("row 3"),
        "{e}"
    );
    assert!(!e.contains("panicked"), "{e}");
    // Nothing was simulated or merged on top of the tampered part.
    assert_eq!(list_parts(&dir).unwrap().len(), 2);
    assert!(!dir.join("dataset.parquet").exists());
}

#[test]
fn gaussian_design_with_seventeen_digit_centres_resumes() {
    // Centres written with 17 significant digits (as the reference example's are): serde_json
    // may read such a number back one unit in the last place off, which must not make the
    // directory's manifest look like other settings.
    let dir = tmp("centres");
    std::fs::create_dir_all(&dir).unwrap();
    // Coordinates are nudged (by < 1e-6 relative) to values that do not survive serde_json's
    // write + read unchanged, where such a value is near.
    let moved = |x: f64| {
        let back: f64 = serde_json::from_str(&serde_json::to_string(&x).unwrap()).unwrap();
        back != x
    };
    let centre: Vec<String> = pmfm_sim::synthetic::TRUE_THETA
        .iter()
        .map(|&x| {
            let y = (1..1000)
                .map(|k| x * (1.0 + 1e-9 * k as f64))
                .find(|&y| moved(y))
                .unwrap_or(x);
            format!("{y:?}")
        })
        .collect();
    let n_moved = centre
        .iter()
        .filter(|c| moved(c.parse::<f64>().unwrap()))
        .count();
    assert!(
        n_moved >= 3,
        "only {n_moved} coordinates move in a round trip: {centre:?}"
    );
    let file = dir.join("centres.csv");
    std::fs::write(&file, centre.join(",") + "\n").unwrap();
    let out = dir.join("ds");
    let args = |extra: &[&str]| {
        let mut v = vec!["--design", "gaussian", "--relative-sd", "0.02", "--centres"];
        v.push(file.to_str().unwrap());
        v.extend_from_slice(extra);
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let a = args(&["--max-batches", "1"]);
    let o = run(&mut dataset_cmd(
        &out,
        &a.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let a = args(&["--resume", "--max-batches", "1"]);
    let o = run(&mut dataset_cmd(
        &out,
        &a.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("other settings"), "{}", stderr(&o));
}

/// A CMA-ES-trajectory job: 3 runs × 4 generations × population 6.
fn trajectory_cmd(out: &Path, extra: &[&str]) -> Command {
    let job = ["--design", "cmaes", "--cma-runs", "3", "--generations", "4"];
    dataset(
        &[&job[..], &["--batch", "6", "--seed", "9"]].concat(),
        out,
        extra,
    )
}

#[test]
fn trajectory_design_resumes_by_replay_and_shards_by_run() {
    let full = tmp("traj-full");
    run_ok(&mut trajectory_cmd(&full, &[]));
    let reference = rows(&full);
    assert_eq!(reference.len(), 72);
    assert_eq!(reference.index, (0..72).collect::<Vec<u64>>());
    assert!(reference.design.iter().all(|d| d == "cmaes"));
    // Every offspring is feasible (re-drawn), and all of them were simulated.
    assert!(reference.valid.iter().filter(|v| **v).count() > 60);
    // The three runs start from different reference starts.
    assert_ne!(reference.theta[0], reference.theta[24]);
    assert_ne!(reference.theta[24], reference.theta[48]);

    // Stopped in the middle of run 1, then resumed: run 1 is replayed from its parts on disk.
    let stopped = tmp("traj-stopped");
    run_ok(&mut trajectory_cmd(&stopped, &["--max-batches", "6"]));
    assert_eq!(list_parts(&stopped).unwrap().len(), 6);
    let o = run_ok(&mut trajectory_cmd(&stopped, &["--resume"]));
    assert!(
        stderr(&o).contains("6 of 12 batches to do"),
        "{}",
        stderr(&o)
    );
    assert_eq!(rows(&stopped), reference);

    // Shards split the runs (0 and 2 | 1) and merge to the same table.
    let sharded = tmp("traj-sharded");
    for s in ["1/2", "0/2"] {
        run_ok(&mut trajectory_cmd(&sharded, &["--resume", "--shard", s]));
    }
    assert_eq!(rows(&sharded), reference);

    // A part that does not continue its run's trajectory is named, not silently reused.
    let tampered = tmp("traj-tampered");
    run_ok(&mut trajectory_cmd(&tampered, &["--max-batches", "6"]));
    std::fs::copy(
        tampered.join("part-000001.parquet"),
        tampered.join("part-000005.parquet"),
    )
    .unwrap();
    let o = run(&mut trajectory_cmd(&tampered, &["--resume"]));
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("part-000005.parquet") && e.contains("other θ"),
        "{e}"
    );

    // --n must agree with runs × generations × batch.
    let o = run(&mut trajectory_cmd(&tmp("traj-bad"), &["--n", "100"]));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("disagrees"), "{}", stderr(&o));
}

/// A CMA-ES-trajectory job over two synthetic groups: 2 runs × 3 generations × 6 per group.
fn groups_cmd(out: &Path, extra: &[&str]) -> Command {
    let groups = ["--groups", "synthetic:0-1", "--design", "cmaes"];
    let job = [
        "--cma-runs",
        "2",
        "--generations",
        "3",
        "--batch",
        "6",
        "--seed",
        "9",
    ];
    dataset(&[&groups[..], &job].concat(), out, extra)
}

/// Name of synthetic family group `g` with the default seeds.
fn family_group(g: usize) -> String {
    format!("synthetic-family-s2021-f11/g{g}")
}

#[test]
fn a_dataset_over_two_groups_resumes_and_shards_to_the_uninterrupted_table() {
    let full = tmp("groups-full");
    run_ok(&mut groups_cmd(&full, &[]));
    let reference = rows(&full);
    // 2 groups × 2 runs × 3 generations × 6 = 72 rows, indices per group offset by 36.
    assert_eq!(reference.len(), 72);
    assert_eq!(reference.index, (0..72).collect::<Vec<u64>>());
    assert!(reference.dataset[..36]
        .iter()
        .all(|d| *d == family_group(0)));
    assert!(reference.dataset[36..]
        .iter()
        .all(|d| *d == family_group(1)));
    // Same CMA-ES seeds, different groups: the runs start from the same reference start
    // draw but simulate against different targets, so the costs differ.
    assert_ne!(reference.total_cost[..6], reference.total_cost[36..42]);
    // The groups' inputs are stored once, readable, and differ.
    let groups = surrogate::groups::read_groups_in(&full.join("groups")).unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].name, family_group(0));
    assert_ne!(groups[0].sc, groups[1].sc);
    assert_ne!(groups[0].fcd_cdf, groups[1].fcd_cdf);

    // Stopped inside group 0, resumed: equal to the uninterrupted table.
    let stopped = tmp("groups-stopped");
    run_ok(&mut groups_cmd(&stopped, &["--max-batches", "4"]));
    assert_eq!(list_parts(&stopped).unwrap().len(), 4);
    run_ok(&mut groups_cmd(&stopped, &["--resume"]));
    assert_eq!(rows(&stopped), reference);

    // Shards split (group, run) pairs: 3 shards over 4 pairs merge to the same table.
    let sharded = tmp("groups-sharded");
    for s in ["2/3", "0/3", "1/3"] {
        run_ok(&mut groups_cmd(&sharded, &["--resume", "--shard", s]));
    }
    assert_eq!(rows(&sharded), reference);

    // Resuming with other group inputs is refused, naming the groups.
    let o = run(&mut groups_cmd(
        &stopped,
        &["--resume", "--theta-variability", "0.2"],
    ));
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("other groups or group inputs") && e.contains("/g0' has other"),
        "{e}"
    );
    assert_eq!(
        e.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "{e}"
    );

    // Distinct starts: group 0's runs keep seed 9's starts (the same rows), group 1's runs
    // start from seeds 11 and 12 instead of 9 and 10 (other θ from the first generation on).
    let distinct = tmp("groups-distinct");
    run_ok(&mut groups_cmd(&distinct, &["--distinct-starts"]));
    let d = rows(&distinct);
    assert_eq!(d.theta[..36], reference.theta[..36]);
    assert_ne!(d.theta[36..42], reference.theta[36..42]);
    // ... and a resume that drops it is refused, naming the setting.
    let o = run(&mut groups_cmd(&distinct, &["--resume"]));
    assert_one_error(&o, &["distinct_starts"], "resume without --distinct-starts");

    // A family on a measured layout: the stored group 0 (connectome, maps) as the layout.
    let layout = format!(
        "{}:{}",
        full.join("groups")
            .join(surrogate::groups::group_dir_name(&family_group(0)))
            .display(),
        surrogate::groups::GROUP_SPLIT
    );
    let measured = tmp("groups-measured");
    run_ok(&mut dataset(
        &[
            "--groups",
            "synthetic:3",
            "--family-layout",
            &layout,
            "--family-theta",
            "0.63,-0.058,0.0019,0.272,0.0081,-0.0064,6.4,0.0057,-0.00006,-0.00008",
            "--n",
            "6",
            "--batch",
            "6",
        ],
        &measured,
        &[],
    ));
    let g = surrogate::groups::read_groups_in(&measured.join("groups")).unwrap();
    assert!(
        g[0].name.starts_with("family-") && g[0].name.ends_with("-f11/g3"),
        "{}",
        g[0].name
    );
    // Same zero pattern as the layout's SC, other weights.
    assert_ne!(g[0].sc, groups[0].sc);
    for (a, b) in g[0].sc.data.iter().zip(&groups[0].sc.data) {
        assert_eq!(*a == 0.0, *b == 0.0);
    }
    // Bad family settings: one error line naming the flag.
    let o = run(&mut dataset_cmd(
        &tmp("lhs-distinct"),
        &["--distinct-starts"],
    ));
    assert_one_error(
        &o,
        &["--distinct-starts", "cmaes"],
        "--distinct-starts on lhs",
    );
    for (flag, value) in [
        ("--family-theta", "0.6,1"),
        ("--family-layout", "no-split-here"),
    ] {
        let o = run(&mut dataset(
            &["--groups", "synthetic:0", flag, value],
            &tmp(&format!("groups-bad{flag}")),
            &[],
        ));
        assert_one_error(&o, &[flag], flag);
    }

    // Group 1's θ re-simulated with 2 duplicates (a gaussian design of sd 0 centred on the
    // table's rows of that group): exactly its θ, in index order.
    let replicates = tmp("groups-replicates");
    let table = full.to_str().expect("a UTF-8 temporary path");
    run_ok(&mut dataset(
        &[
            "--groups",
            "synthetic:1",
            "--design",
            "gaussian",
            "--centres",
            table,
        ],
        &replicates,
        &[
            "--centres-group",
            &family_group(1),
            "--relative-sd",
            "0",
            "--n",
            "36",
            "--batch",
            "12",
            "--n-dup",
            "2",
            "--seed",
            "3",
        ],
    ));
    let rep = rows(&replicates);
    assert_eq!(rep.theta, reference.theta[36..]);
    assert!(rep.n_dup.iter().all(|&d| d == 2));
    let o = run(&mut dataset(
        &["--design", "gaussian", "--centres", table],
        &tmp("groups-replicates-bad"),
        &["--centres-group", "nope", "--n", "4"],
    ));
    assert_one_error(&o, &["no rows of group 'nope'"], "missing centres group");
    let o = run(bin("train-surrogate")
        .arg("--table")
        .arg(&full)
        .arg("--replicates")
        .arg(&replicates)
        .arg("--out")
        .arg(tmp("groups-replicates-no-split")));
    assert_one_error(
        &o,
        &["--replicates needs --group-split"],
        "replicates alone",
    );

    // The two group-conditioned families and the θ-only MLP on the same rows, group 1 held
    // out, also scored against the replicates.
    let models = tmp("groups-models");
    run_ok(
        bin("train-surrogate")
            .args(["--table"])
            .arg(&full)
            .arg("--replicates")
            .arg(&replicates)
            .args([
                "--models",
                "group,group_tokens,mlp",
                "--epochs",
                "5",
                "--width",
                "16",
                "--depth",
                "1",
            ])
            .args([
                "--d-model",
                "8",
                "--heads",
                "2",
                "--token-layers",
                "1",
                "--ff",
                "16",
            ])
            .args(["--group-split", &family_group(1), "--out"])
            .arg(&models),
    );
    let df = experiments::output::read_parquet(&models.join("group_metrics.parquet")).unwrap();
    assert_eq!(df.height(), 3);
    let n_valid = df.column("n_valid").unwrap().u64().unwrap();
    assert!((0..df.height()).all(|k| n_valid.get(k).unwrap() > 20));
    assert!(models.join("group").join("ensemble.json").exists());
    assert!(models.join("group_tokens").join("ensemble.json").exists());
    let df = experiments::output::read_parquet(&models.join("replicate_metrics.parquet")).unwrap();
    assert_eq!(df.height(), 3);
    let matched = df.column("n_matched").unwrap().u64().unwrap();
    let valid_both = (36..72)
        .filter(|&r| reference.valid[r] && rep.valid[r - 36])
        .count() as u64;
    assert!((0..3).all(|k| matched.get(k) == Some(valid_both)), "{df}");
    let single = df.column("pearson_single").unwrap().f64().unwrap();
    assert!(
        single
            .get(0)
            .is_some_and(|r| r.is_finite() && r.abs() <= 1.0),
        "{df}"
    );
    // The noise ceilings written beside it are the ones its r and duplicate count imply.
    let dups = df.column("replicate_dups").unwrap().u32().unwrap();
    let ceiling = df.column("ceiling_single").unwrap().f64().unwrap();
    let ceiling_rep = df.column("ceiling_replicate").unwrap().f64().unwrap();
    for k in 0..df.height() {
        let (c1, ck) =
            surrogate::transfer::noise_ceilings(single.get(k).unwrap(), dups.get(k).unwrap());
        let same = |a: f64, b: Option<f64>| b.is_some_and(|b| a == b || (a.is_nan() && b.is_nan()));
        assert!(
            same(c1, ceiling.get(k)) && same(ck, ceiling_rep.get(k)),
            "{df}"
        );
    }

    // Few-shot: group 1's first 6 rows (its first CMA-ES generation) train with the others;
    // the remaining 30 are scored.
    let few = tmp("groups-few-shot");
    run_ok(
        bin("train-surrogate")
            .arg("--table")
            .arg(&full)
            .args(["--models", "group", "--epochs", "5", "--width", "16"])
            .args(["--depth", "1", "--few-shot", "6"])
            .args(["--group-split", &family_group(1), "--out"])
            .arg(&few),
    );
    let df = experiments::output::read_parquet(&few.join("group_metrics.parquet")).unwrap();
    let scored = (42..72).filter(|&r| reference.valid[r]).count() as u64;
    let n_valid = df.column("n_valid").unwrap().u64().unwrap();
    assert_eq!(n_valid.get(0), Some(scored), "{df}");
    // Fine-tuning on the same shots instead: the untuned and the tuned model of each family
    // are scored on the same remaining rows.
    let tuned = tmp("groups-fine-tune");
    run_ok(
        bin("train-surrogate")
            .arg("--table")
            .arg(&full)
            .args([
                "--models",
                "group_tokens,mlp",
                "--epochs",
                "5",
                "--width",
                "16",
            ])
            .args([
                "--depth",
                "1",
                "--d-model",
                "8",
                "--heads",
                "2",
                "--ff",
                "16",
            ])
            .args(["--few-shot", "6", "--fine-tune", "3"])
            .args(["--group-split", &family_group(1), "--out"])
            .arg(&tuned),
    );
    let df = experiments::output::read_parquet(&tuned.join("group_metrics.parquet")).unwrap();
    let model = df.column("model").unwrap().str().unwrap().clone();
    let names: Vec<&str> = (0..df.height()).map(|k| model.get(k).unwrap()).collect();
    assert_eq!(
        names,
        [
            "group_tokens",
            "mlp",
            "group_tokens+fine-tune",
            "mlp+fine-tune"
        ],
        "{df}"
    );
    let n_valid = df.column("n_valid").unwrap().u64().unwrap();
    assert!((0..4).all(|k| n_valid.get(k) == Some(scored)), "{df}");
    for (flag, value, needle) in [
        ("--few-shot", "6", "--few-shot needs --group-split"),
        ("--shot-weight", "0", "--shot-weight must be at least 1"),
        ("--heads", "3", "must divide d_model"),
        ("--fine-tune", "3", "--fine-tune needs --few-shot"),
    ] {
        let o = run(bin("train-surrogate")
            .arg("--table")
            .arg(&full)
            .args([flag, value, "--out"])
            .arg(tmp(&format!("groups-bad{flag}"))));
        assert_one_error(&o, &[needle], flag);
    }

    // Fitting the held-out group with the group-conditioned surrogate (CMA-ES and GD on the
    // predictor, Euler validation of the top candidates): it is conditioned on a group it
    // never saw and the validated costs are finite. With a support guard the search starts at
    // the training θ's mean (the grouped families' support is their θ part).
    let held_out = full
        .join("groups")
        .join(surrogate::groups::group_dir_name(&family_group(1)));
    for (method, family, extra) in [
        ("surrogate-cmaes", "group", &[][..]),
        ("surrogate-gd", "group", &[]),
        ("surrogate-gd", "group_tokens", &[]),
        ("surrogate-cmaes", "group_tokens", &["--support-z", "2"]),
        ("surrogate-tuned", "group_tokens", TUNED),
    ] {
        let out = tmp(&format!("groups-fit-{method}-{family}{}", extra.len()));
        let o = run_ok(
            bin("fit")
                .args(SHORT)
                .args(["--method", method, "--surrogate"])
                .arg(models.join(family))
                .args(extra)
                .arg("--data")
                .arg(&held_out)
                .args(["--split", surrogate::groups::GROUP_SPLIT])
                .args(["--surrogate-generations", "4", "--gd-starts", "4"])
                .args(["--validate-top", "2", "--n-dup-validate", "1"])
                .arg("--out")
                .arg(&out),
        );
        let text = stdout(&o);
        assert!(
            text.contains("group-conditioned surrogate conditioned on")
                && text.contains("(not among its 1 training groups)"),
            "{method}: {text}"
        );
        let cost: f64 = text
            .split("best validated total cost ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{method}: no validated cost in {text}"));
        assert!(cost.is_finite() && cost > 0.0, "{method}: {cost}");
        if method == "surrogate-tuned" {
            // Nothing of the new group simulated before: round 0 searched the predictor's prior
            // box, centred on the training mean or the training group's best θ (whichever the
            // predictor scores lower), round 1 its trust region after fine-tuning on round 0's
            // rows.
            let rounds = out.join("surrogate-tuned.rounds");
            let r0 = std::fs::read_to_string(rounds.join("round-000.json")).unwrap();
            let r1 = std::fs::read_to_string(rounds.join("round-001.json")).unwrap();
            let anchor = format!("\"prior_centre\": \"best θ of {}\"", family_group(0));
            assert!(
                r0.contains("\"prior\": true")
                    && (r0.contains("\"prior_centre\": \"training mean\"") || r0.contains(&anchor))
                    && !r1.contains("\"prior\""),
                "{r0}\n{r1}"
            );
        }
    }
    // The data-support guard, for CMA-ES and gradient descent: the support is the training
    // group's valid rows only (the held-out group's rows in the same table are left out), and
    // the validated best θ lies within the radius of one of them.
    let table = surrogate::table::read_many(std::slice::from_ref(&full)).unwrap();
    let train_rows: Vec<usize> = (0..table.len())
        .filter(|&r| table.valid[r] && table.dataset[r] == family_group(0))
        .collect();
    assert!(
        !train_rows.is_empty() && train_rows.len() < table.valid_rows().len(),
        "{}",
        table.len()
    );
    let model = surrogate::ensemble::Ensemble::load(
        &models.join("group_tokens"),
        &burn::tensor::Device::flex(),
    )
    .unwrap();
    let support = pmfm_fit::support::DataSupport::new(
        &train_rows
            .iter()
            .map(|&r| table.theta[r])
            .collect::<Vec<_>>(),
        &model.input_support().unwrap(),
    )
    .unwrap();
    for (method, extra) in [
        ("surrogate-cmaes", &["--surrogate-generations", "4"][..]),
        ("surrogate-gd", &["--gd-starts", "3"][..]),
    ] {
        let out = tmp(&format!("groups-fit-support-{method}"));
        let guarded = run_ok(
            bin("fit")
                .args(SHORT)
                .args(["--method", method, "--surrogate"])
                .arg(models.join("group_tokens"))
                .args(["--support-radius", "0.3", "--support-table"])
                .arg(&full)
                .arg("--data")
                .arg(&held_out)
                .args(["--split", surrogate::groups::GROUP_SPLIT])
                .args(extra)
                .args(["--validate-top", "2", "--n-dup-validate", "1", "--out"])
                .arg(&out),
        );
        let text = stdout(&guarded);
        assert!(
            text.contains(&format!(
                "data support: {} training rows of 1 groups",
                train_rows.len()
            )),
            "{method}: {text}"
        );
        // Every validated candidate, read at full precision from the run table (the printed θ
        // has 7 digits, and a descent's end point lies exactly on the radius).
        let df = jobs::table::read_parquet(&out.join(format!("{method}.parquet"))).unwrap();
        let phase: Vec<String> = df
            .column("phase")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect();
        let coords: Vec<Vec<f64>> = pmfm_sim::params::THETA_NAMES
            .iter()
            .map(|c| {
                df.column(c)
                    .unwrap()
                    .f64()
                    .unwrap()
                    .into_no_null_iter()
                    .collect()
            })
            .collect();
        let validated: Vec<usize> = (0..phase.len())
            .filter(|&r| phase[r] == "validation")
            .collect();
        assert!(!validated.is_empty(), "{method}: {text}");
        for r in validated {
            let theta: pmfm_sim::params::Theta = std::array::from_fn(|d| coords[d][r]);
            assert!(
                support.distance(&theta) <= 0.3 * (1.0 + 1e-9),
                "{method}: validated θ {theta:?} lies {} from the training rows\n{text}",
                support.distance(&theta)
            );
        }
    }
    // One flag without the other, or a radius that is not positive, is one error line.
    for (extra, needle) in [
        (
            &["--support-radius", "0.3"][..],
            "--support-radius needs --support-table",
        ),
        (
            &["--support-radius", "0", "--support-table", "x"],
            "support_radius",
        ),
        (
            &[
                "--support-radius",
                "0.3",
                "--support-table",
                "/nonexistent/support.parquet",
            ],
            "--support-table",
        ),
    ] {
        let o = run(bin("fit")
            .args(SHORT)
            .args(["--method", "surrogate-cmaes", "--surrogate"])
            .arg(models.join("group_tokens"))
            .args(extra)
            .arg("--data")
            .arg(&held_out)
            .args(["--split", surrogate::groups::GROUP_SPLIT, "--out"])
            .arg(tmp("groups-fit-support-bad")));
        assert_one_error(&o, &[needle], needle);
    }
    // A bad fine-tuning setting is one error line naming it.
    for (flag, value, needles) in [
        ("--tune-prior-radius", "0", &["tune.prior_radius"][..]),
        ("--tune-then", "sideways", &["tune.then", "sideways"]),
        (
            "--tune-prior-centre",
            "middle",
            &["tune.prior_centre", "middle"],
        ),
    ] {
        let o = run(bin("fit")
            .args(SHORT)
            .args(["--method", "surrogate-tuned", "--surrogate"])
            .arg(models.join("group_tokens"))
            .args([flag, value, "--data"])
            .arg(&held_out)
            .args(["--split", surrogate::groups::GROUP_SPLIT, "--out"])
            .arg(tmp(&format!("groups-fit-tuned-bad{flag}"))));
        assert_one_error(&o, needles, flag);
    }
    // The training group itself is recognised as seen, by both families.
    let seen = full
        .join("groups")
        .join(surrogate::groups::group_dir_name(&family_group(0)));
    for family in ["group", "group_tokens"] {
        let o = run_ok(
            bin("fit")
                .args(SHORT)
                .args(["--method", "surrogate-cmaes", "--surrogate"])
                .arg(models.join(family))
                .arg("--data")
                .arg(&seen)
                .args(["--split", surrogate::groups::GROUP_SPLIT])
                .args(["--surrogate-generations", "2", "--validate-top", "1"])
                .args(["--n-dup-validate", "1", "--out"])
                .arg(tmp(&format!("groups-fit-seen-{family}"))),
        );
        assert!(
            stdout(&o).contains("(one of its 1 training groups)"),
            "{family}: {}",
            stdout(&o)
        );
    }
    // Without groups in the tables, the group family is refused with one line.
    let o = bin("train-surrogate")
        .args(["--table"])
        .arg(full.join("dataset.parquet"))
        .args(["--models", "group", "--out"])
        .arg(tmp("groups-none"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("pmfm-dataset --groups"),
        "{}",
        stderr(&o)
    );
}

/// A two-round `surrogate-tuned` fit: 4 θ per round, 2 fine-tuning epochs.
const TUNED: &[&str] = &[
    "--active-rounds",
    "2",
    "--active-batch",
    "4",
    "--tune-epochs",
    "2",
];

#[test]
fn bad_group_inputs_give_one_clear_error() {
    // A stored group of another parcellation next to a synthetic one.
    let dir = tmp("groups-bad-input");
    let small = pmfm_sim::data::EmpiricalData {
        name: "small".into(),
        sc: pmfm_sim::data::Matrix::from_fn(6, 6, |i, j| if i == j { 0.0 } else { 1.0 }),
        fc: pmfm_sim::data::Matrix::from_fn(6, 6, |i, j| if i == j { 1.0 } else { 0.3 }),
        fcd_cdf: (1..=10_000).map(|k| k as f64).collect(),
        myelin: vec![1.0; 6],
        gradient: (0..6).map(|i| i as f64).collect(),
    };
    surrogate::groups::write_group(&dir, &small).unwrap();
    let spec = format!("synthetic:0,{}:group", dir.display());
    let o = run(&mut trajectory_cmd(
        &tmp("groups-bad-out"),
        &["--groups", &spec],
    ));
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("'small' has 6 regions"), "{e}");
    assert_eq!(
        e.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "{e}"
    );
    // Its FCD missing: the error names the file.
    std::fs::remove_file(dir.join("fcd_group.npy")).unwrap();
    let o = run(&mut trajectory_cmd(
        &tmp("groups-bad-out2"),
        &["--groups", &spec],
    ));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("fcd_group"), "{}", stderr(&o));
    // --groups and --data together are refused.
    let o = run(&mut trajectory_cmd(
        &tmp("groups-bad-out3"),
        &["--groups", "synthetic:0", "--data", "/nonexistent"],
    ));
    assert!(!o.status.success());
}
