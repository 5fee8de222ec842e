//! End-to-end tests of `train-crbm --visible gaussian`: the voxelised synthetic brain, a voxel
//! archive written by `voxelize`, continuous and binary trace files, and one clear error line
//! with exit 1 for each kind of bad input.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_one_error, bin, run, stderr, tmp_dir};

fn tmp(name: &str) -> PathBuf {
    tmp_dir("crbm-gauss-cli", name)
}

/// A small, quick training: few units and updates, short evaluation chains.
const QUICK: [&str; 16] = [
    "--visible",
    "gaussian",
    "--hidden",
    "6",
    "--updates",
    "80",
    "--batch",
    "50",
    "--gibbs-steps",
    "5",
    "--eval-chains",
    "20",
    "--lr",
    "5e-3",
    "--log-every",
    "20",
];

/// `train-crbm` with the QUICK settings, `extra` and `--data data` (if given) into `out`, which
/// must succeed; returns its `report.json`.
fn train(data: Option<&Path>, extra: &[&str], out: &Path) -> serde_json::Value {
    let mut c = bin("train-crbm");
    c.args(QUICK).args(extra);
    if let Some(data) = data {
        c.arg("--data").arg(data);
    }
    let o = run(c.arg("--out").arg(out));
    assert!(o.status.success(), "{data:?}: {}", stderr(&o));
    report(out)
}

fn report(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("report.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn assert_finite_nrmse(r: &serde_json::Value) {
    for k in [
        "nrmse_v", "nrmse_h", "nrmse_vh", "nrmse_vv", "nrmse_hh", "norm4",
    ] {
        let v = r[k].as_f64().unwrap_or(f64::NAN);
        assert!(v.is_finite(), "{k} = {v} in {r}");
    }
    assert_eq!(r["exploded"], false, "{r}");
}

#[test]
fn synthetic_brain_run_writes_model_report_pictures_and_truth_scores() {
    let out = tmp("synthetic");
    let r = train(
        None,
        &[
            "--brain-neurons",
            "1500",
            "--brain-frames",
            "600",
            "--voxel-size",
            "80",
        ],
        &out,
    );
    assert_finite_nrmse(&r);
    assert_eq!(r["visible"], "gaussian");
    assert_eq!(r["eval_start"], "prior");
    assert_eq!(r["eval_samples"], 200);
    let c = r["coupling_correlation"].as_f64().unwrap();
    assert!(c.is_finite() && c > -1.0 && c <= 1.0, "{c}");
    let (model, meta) = crbm::gauss::io::load(out.join("model")).unwrap();
    assert_eq!(model.n_hidden, 6);
    assert_eq!(meta.visible, "gaussian");
    assert_eq!(model.n_visible, r["n_visible"].as_u64().unwrap() as usize);
    for f in [
        "couplings_model.png",
        "couplings_true.png",
        "weights.png",
        "weight_maps.png",
        "training_curve.csv",
        "report.parquet",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    // The weight maps are a decodable picture with coloured voxels on it.
    let img = image::open(out.join("weight_maps.png")).unwrap().to_rgb8();
    let coloured = img
        .pixels()
        .filter(|p| {
            let [r, g, b] = p.0.map(i32::from);
            (r - g).abs().max((b - g).abs()) > 60
        })
        .count();
    assert!(
        coloured > 500,
        "weight_maps.png has {coloured} coloured pixels"
    );
}

#[test]
fn a_voxelize_archive_and_trace_files_train_and_binary_rasters_are_allowed() {
    let d = tmp("files");
    let archive = d.join("voxels.npz");
    let o = run(bin("voxelize")
        .args([
            "--synthetic",
            "--neurons",
            "1500",
            "--frames",
            "500",
            "--voxel-size",
            "80",
            "--out",
        ])
        .arg(&archive));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = d.join("from-archive");
    let r = train(Some(&archive), &[], &out);
    assert_finite_nrmse(&r);
    // The archive carries the planted truth: it is scored.
    assert!(r["mean_jaccard"].as_f64().is_some(), "{r}");

    // Continuous traces (no coordinates: each column is a unit) and a binary raster.
    let continuous: String = (0..200)
        .map(|t| {
            let x = (t as f64 * 0.37).sin();
            format!(
                "{x},{},{}\n",
                0.5 * x + (t as f64 * 1.3).cos(),
                (t as f64 * 0.11).cos()
            )
        })
        .collect();
    let binary: String = (0..200)
        .map(|t| format!("{},{},{}\n", t % 2, (t / 3) % 2, (t / 5) % 2))
        .collect();
    for (name, text) in [("continuous.csv", continuous), ("binary.csv", binary)] {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        let out = d.join(name.replace(".csv", ""));
        assert_eq!(train(Some(&p), &[], &out)["n_visible"], 3);
    }
}

/// `--visible gaussian`, then `rest`.
fn gauss<'a>(rest: &[&'a str]) -> Vec<&'a str> {
    [&["--visible", "gaussian"][..], rest].concat()
}

#[test]
fn bad_inputs_give_one_error_line_and_exit_1() {
    let d = tmp("bad");
    let write = |name: &str, text: &str| common::files::write(&d, name, text);
    let continuous = write(
        "cont.csv",
        &(0..40)
            .map(|t| format!("{}.5,{}\n", t % 7, t % 3))
            .collect::<String>(),
    );
    let nan = write("nan.csv", "0.5,1.0\nnan,2.0\n1.0,0.2\n");
    let constant = write(
        "const.csv",
        &(0..40)
            .map(|t| format!("{},3.0\n", t % 5))
            .collect::<String>(),
    );
    let coords_short = write("coords.csv", "0,0,0\n");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (continuous, nan, constant) = (s(&continuous), s(&nan), s(&constant));
    let coords_short = s(&coords_short);
    // (arguments, words the error line must contain)
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        // A Bernoulli model on continuous data is refused, pointing at --visible gaussian.
        (
            vec!["--data", &continuous],
            vec!["cont.csv", "--visible gaussian"],
        ),
        (gauss(&["--data", &nan]), vec!["nan.csv", "non-finite"]),
        (gauss(&["--data", &constant]), vec!["const.csv", "constant"]),
        (
            gauss(&["--data", &continuous, "--coords", &coords_short]),
            vec!["coords.csv"],
        ),
        (
            // Standardised Bernoulli training has no tensor engine: refused, not ignored.
            vec!["--engine", "tensor"],
            vec!["--engine tensor", "--plain"],
        ),
        (gauss(&["--voxel-size", "0"]), vec!["voxel_size"]),
        (gauss(&["--hidden", "0"]), vec!["n_hidden"]),
        (gauss(&["--eval-chains", "0"]), vec!["n_chains"]),
        (gauss(&["--device", "tpu"]), vec!["tpu"]),
    ];
    for (args, words) in cases {
        let o = run(bin("train-crbm")
            .args(&args)
            .arg("--out")
            .arg(d.join("out")));
        assert_one_error(&o, &words, &format!("{args:?}"));
    }
}
