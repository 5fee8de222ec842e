//! End-to-end tests of `train-crbm`: a quick run on a small synthetic default and on a
//! small raster file, and one clear error line with a non-zero exit for each kind of bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn train_crbm() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_train-crbm"));
    c.env_remove("BURN_DEVICE");
    c
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("crbm-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Header and data rows of a CSV file.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(String::from)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

const QUICK: [&str; 14] = [
    "--hidden",
    "8",
    "--updates",
    "60",
    "--batch",
    "50",
    "--gibbs-steps",
    "3",
    "--log-every",
    "10",
    "--eval-chains",
    "50",
    "--seed",
    "3",
];

const REPORT_COLUMNS: [&str; 21] = [
    "dataset",
    "n_neurons",
    "n_hidden",
    "train_frames",
    "test_frames",
    "penalty",
    "lambda",
    "seed",
    "updates",
    "nrmse_v",
    "nrmse_h",
    "nrmse_vh",
    "nrmse_vv",
    "nrmse_hh",
    "norm4",
    "bad",
    "good",
    "exploded",
    "exploded_epoch",
    "mean_jaccard",
    "wall_s",
];

#[test]
fn quick_synthetic_run_writes_model_curve_report_and_recovery() {
    let out = tmp("synthetic");
    let o = train_crbm()
        .args(["--neurons", "300", "--assemblies", "5", "--frames", "1000"])
        .args(QUICK)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("norm4") && stdout.contains("mean Jaccard"),
        "{stdout}"
    );

    for f in ["model.npz", "model.json", "report.json"] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let (model, meta) = crbm::io::load_model(out.join("model")).unwrap();
    assert_eq!((model.n_visible, model.n_hidden), (300, 8));
    assert_eq!(meta.config.unwrap().n_updates, 60);

    let (h, rows) = read_csv(&out.join("training_curve.csv"));
    assert_eq!(
        h,
        [
            "update",
            "epoch",
            "lr",
            "data_free_energy",
            "penalty",
            "max_abs_weight",
            "exact_log_likelihood"
        ]
    );
    let updates: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(updates, ["10", "20", "30", "40", "50", "60"]);
    assert!(rows.iter().all(|r| r.len() == h.len()));

    let (h, rows) = read_csv(&out.join("report.csv"));
    assert_eq!(h, REPORT_COLUMNS);
    assert_eq!(rows.len(), 1);
    // The dataset name is quoted and has commas; the numeric tail is fixed-width.
    let row = &rows[0];
    let tail = &row[row.len() - 20..];
    assert_eq!(
        &tail[..8],
        ["300", "8", "700", "300", "l2l1", "0.02", "3", "60"]
    );
    for x in &tail[8..14] {
        assert!(x.parse::<f64>().unwrap().is_finite(), "nRMSE {x}");
    }
    assert_eq!(tail[16], "false", "exploded");
    let jaccard: f64 = tail[18].parse().unwrap();
    assert!((0.0..=1.0).contains(&jaccard));

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    for c in REPORT_COLUMNS {
        assert!(json.get(c).is_some(), "report.json lacks {c}");
    }
    assert_eq!(json["exploded"], false);

    let (h, rows) = read_csv(&out.join("assembly_recovery.csv"));
    assert_eq!(h, ["assembly", "size", "best_unit", "jaccard"]);
    assert_eq!(rows.len(), 5);
}

#[test]
fn raster_file_with_coordinates_and_regions_trains() {
    let d = tmp("file");
    // 60 frames × 6 neurons: neurons 0–2 fire together every third frame, 5 every other.
    let raster: String = (0..60)
        .map(|t| {
            let a = u8::from(t % 3 == 0);
            let b = u8::from(t % 2 == 0);
            format!("{a},{a},{a},0,0,{b}\n")
        })
        .collect();
    std::fs::write(d.join("r.csv"), raster).unwrap();
    std::fs::write(
        d.join("xyz.csv"),
        "0,0,0\n1,0,0\n2,0,0\n3,0,0\n4,0,0\n5,0,0\n",
    )
    .unwrap();
    std::fs::write(d.join("regions.txt"), "a\na\na\nb\nb\nb\n").unwrap();
    let out = d.join("out");
    let o = train_crbm()
        .arg("--data")
        .arg(d.join("r.csv"))
        .arg("--coords")
        .arg(d.join("xyz.csv"))
        .arg("--regions")
        .arg(d.join("regions.txt"))
        .args(QUICK)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    for f in [
        "model.npz",
        "model.json",
        "training_curve.csv",
        "report.csv",
        "report.json",
    ] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    assert!(!out.join("assembly_recovery.csv").exists());
    let (h, rows) = read_csv(&out.join("report.csv"));
    assert_eq!(h, REPORT_COLUMNS);
    assert_eq!(rows[0].last().map(String::is_empty), Some(false));
}

/// A valid `.npy` header (u8, shape `[t, n]`) followed by `payload` bytes.
fn npy_u8(t: usize, n: usize, payload: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '|u1', 'fortran_order': False, 'shape': ({t}, {n}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(header.len() as u16).to_le_bytes());
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(payload);
    b
}

#[test]
fn bad_inputs_give_one_error_line_naming_the_file() {
    let d = tmp("bad");
    let good = d.join("good.csv");
    std::fs::write(&good, "1,0,1\n0,1,0\n1,1,0\n0,0,1\n").unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    // (raster, coordinates, file the error must name)
    let nonbinary = write("nonbinary.csv", b"1,0,1\n0,2,0\n");
    let empty = write("empty.csv", b"");
    let zeros = write("zeros.csv", b"0,0,0\n0,0,0\n");
    let coords = write("coords.csv", b"0,0,0\n1,1,1\n");
    let missing = d.join("missing.npy");
    let truncated = write("truncated.npy", &npy_u8(10, 5, &[0, 1, 0, 1, 1, 0, 0]));
    let cases: [(&Path, Option<&Path>, &Path); 6] = [
        (&nonbinary, None, &nonbinary),
        (&empty, None, &empty),
        (&zeros, None, &zeros),
        (&good, Some(&coords), &coords),
        (&missing, None, &missing),
        (&truncated, None, &truncated),
    ];
    for (raster, coords, named) in cases {
        let mut c = train_crbm();
        c.arg("--data").arg(raster).args(["--updates", "5"]);
        if let Some(x) = coords {
            c.arg("--coords").arg(x);
        }
        let o = c.arg("--out").arg(d.join("out")).output().unwrap();
        let err = stderr(&o);
        let name = named.file_name().unwrap().to_str().unwrap();
        assert!(!o.status.success(), "{name}: exit 0; stderr: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(lines.len(), 1, "{name}: {err}");
        assert!(lines[0].contains(name), "{name}: {err}");
    }
    assert!(!d.join("out").exists(), "no outputs after a failed load");
}
