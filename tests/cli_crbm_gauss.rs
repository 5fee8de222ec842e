//! End-to-end tests of `train-crbm --visible gaussian`: the voxelised synthetic brain, a voxel
//! archive written by `voxelize`, continuous and binary trace files, and one clear error line
//! with exit 1 for each kind of bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin(name: &str) -> Command {
    let exe = match name {
        "train-crbm" => env!("CARGO_BIN_EXE_train-crbm"),
        _ => env!("CARGO_BIN_EXE_voxelize"),
    };
    let mut c = Command::new(exe);
    c.env_remove("BURN_DEVICE");
    c
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("crbm-gauss-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
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
    let o = bin("train-crbm")
        .args(QUICK)
        .args(["--brain-neurons", "1500", "--brain-frames", "600"])
        .args(["--voxel-size", "80", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let r = report(&out);
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
    let o = bin("voxelize")
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
        .arg(&archive)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = d.join("from-archive");
    let o = bin("train-crbm")
        .args(QUICK)
        .arg("--data")
        .arg(&archive)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let r = report(&out);
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
        let o = bin("train-crbm")
            .args(QUICK)
            .arg("--data")
            .arg(&p)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert_eq!(report(&out)["n_visible"], 3);
    }
}

#[test]
fn bad_inputs_give_one_error_line_and_exit_1() {
    let d = tmp("bad");
    let write = |name: &str, text: &str| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
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
    // (arguments, words the error line must contain)
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        // A Bernoulli model on continuous data is refused, pointing at --visible gaussian.
        (
            vec!["--data".into(), s(&continuous)],
            vec!["cont.csv", "--visible gaussian"],
        ),
        (
            vec![
                "--visible".into(),
                "gaussian".into(),
                "--data".into(),
                s(&nan),
            ],
            vec!["nan.csv", "non-finite"],
        ),
        (
            vec![
                "--visible".into(),
                "gaussian".into(),
                "--data".into(),
                s(&constant),
            ],
            vec!["const.csv", "constant"],
        ),
        (
            vec![
                "--visible".into(),
                "gaussian".into(),
                "--data".into(),
                s(&continuous),
                "--coords".into(),
                s(&coords_short),
            ],
            vec!["coords.csv"],
        ),
        (
            // Standardised Bernoulli training has no tensor engine: refused, not ignored.
            vec!["--engine".into(), "tensor".into()],
            vec!["--engine tensor", "--plain"],
        ),
        (
            vec![
                "--visible".into(),
                "gaussian".into(),
                "--voxel-size".into(),
                "0".into(),
            ],
            vec!["voxel_size"],
        ),
        (
            vec![
                "--visible".into(),
                "gaussian".into(),
                "--hidden".into(),
                "0".into(),
            ],
            vec!["n_hidden"],
        ),
        (
            vec![
                "--visible".into(),
                "gaussian".into(),
                "--eval-chains".into(),
                "0".into(),
            ],
            vec!["n_chains"],
        ),
        (
            vec![
                "--visible".into(),
                "gaussian".into(),
                "--device".into(),
                "tpu".into(),
            ],
            vec!["tpu"],
        ),
    ];
    for (args, words) in cases {
        let out = d.join("out");
        let o = bin("train-crbm")
            .args(&args)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {e}");
        assert!(!e.contains("panicked"), "{args:?}: {e}");
        let lines: Vec<&str> = e.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(lines.len(), 1, "{args:?}: {e}");
        for w in words {
            assert!(
                lines[0].contains(w),
                "{args:?}: missing {w:?} in {}",
                lines[0]
            );
        }
    }
}
