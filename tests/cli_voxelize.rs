//! End-to-end tests of `voxelize`: the synthetic brain and files (two fish on one grid) are
//! voxelised and read back; each bad input gives exit code 1 and exactly one `error:` line
//! naming the file or flag and the problem, without a panic.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crbm::voxel::{sidecar_path, VoxelSidecar, Voxelised};

use common::files::npy_f32;
use common::{assert_one_error, bin, run_ok, stdout, tmp_dir};

fn voxelize() -> Command {
    bin("voxelize")
}

fn tmp(name: &str) -> PathBuf {
    tmp_dir("voxelize-cli", name)
}

/// Coordinates (CSV) of `n` neurons in pairs sharing a 10 µm cell along x, offset by `x0`.
fn pair_coords(n: usize, x0: f64) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{},{},{}\n",
                x0 + 10.0 * (i / 2) as f64 + 1.0 + (i % 2) as f64,
                5.0,
                5.0
            )
        })
        .collect()
}

/// Traces [t, n] with every neuron varying.
fn traces(t: usize, n: usize) -> Vec<f32> {
    (0..t * n)
        .map(|k| ((k / n) as f32 * 0.7 + (k % n) as f32 * 1.3).sin())
        .collect()
}

#[test]
fn synthetic_brain_is_voxelised_with_ground_truth_and_reads_back() {
    let d = tmp("synthetic");
    let out = d.join("voxels.npz");
    let o = run_ok(
        voxelize()
            .args([
                "--synthetic",
                "--fish",
                "2",
                "--seed",
                "4",
                "--neurons",
                "3000",
            ])
            .args(["--frames", "200", "--assemblies", "5", "--voxel-size", "40"])
            .arg("--out")
            .arg(&out),
    );
    let stdout = stdout(&o);
    assert!(stdout.contains("voxels of 40 µm"), "{stdout}");
    let v = Voxelised::load(&out).unwrap();
    assert_eq!(v.recordings.len(), 2);
    let k = v.n_voxels();
    assert!(k > 20, "{k} voxels");
    for r in 0..2 {
        let s = v.signals(r);
        assert_eq!((s.len(), s.n_units), (200, k));
        let (mean, var) = s.mean_var();
        assert!(mean.iter().all(|m| m.abs() < 1e-4), "{mean:?}");
        assert!(var.iter().all(|x| (x - 1.0).abs() < 1e-3), "{var:?}");
        assert_eq!(v.recordings[r].neuron_to_voxel.len(), 3000);
    }
    assert!(v.recordings[0].name.contains("fish 0"));
    let side: VoxelSidecar =
        serde_json::from_str(&std::fs::read_to_string(sidecar_path(&out)).unwrap()).unwrap();
    assert_eq!(side.n_voxels, k);
    assert!(side.arrays.iter().any(|a| a == "true_coupling"));
    assert_eq!(side.note.as_ref().unwrap()["brain_config"]["n_fish"], 2);
    // The ground truth arrays, read with the npz reader the loaders use.
    let truth = d.join("voxels.npz");
    let coupling = crbm::data::load_traces(&truth, Some("true_coupling")).unwrap();
    assert_eq!((coupling.len(), coupling.n_units), (k, k));
    for i in 0..k {
        assert_eq!(coupling.row(i)[i], 0.0);
        for j in 0..k {
            assert_eq!(coupling.row(i)[j], coupling.row(j)[i]);
        }
    }
    assert!(coupling.values.iter().any(|&x| x > 0.0));
    let members = crbm::data::load_traces(&truth, Some("true_assemblies")).unwrap();
    assert_eq!((members.len(), members.n_units), (5, k));
    assert!(members.is_binary() && members.values.contains(&1.0));
}

/// Two fish from files: fish A has neuron pairs at x = 1–2, 11–12, 21–22 µm, fish B at 11–12,
/// 21–22, 31–32; on the common 10 µm grid only the cells of 11–12 and 21–22 are kept.
#[test]
fn two_fish_from_files_share_the_common_voxels() {
    let d = tmp("files");
    let (ta, tb) = (d.join("a.npy"), d.join("b.csv"));
    std::fs::write(&ta, npy_f32(&[30, 6], &traces(30, 6))).unwrap();
    let tb_text: String = traces(20, 6)
        .chunks(6)
        .map(|r| {
            r.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(",")
                + "\n"
        })
        .collect();
    std::fs::write(&tb, tb_text).unwrap();
    let (ca, cb) = (d.join("a_xyz.csv"), d.join("b_xyz.csv"));
    std::fs::write(&ca, pair_coords(6, 0.0)).unwrap();
    std::fs::write(&cb, pair_coords(6, 10.0)).unwrap();
    let out = d.join("two.npz");
    run_ok(
        voxelize()
            .arg("--traces")
            .arg(&ta)
            .arg("--coords")
            .arg(&ca)
            .arg("--traces")
            .arg(&tb)
            .arg("--coords")
            .arg(&cb)
            .args(["--voxel-size", "10", "--pad", "0"])
            .arg("--out")
            .arg(&out),
    );
    let v = Voxelised::load(&out).unwrap();
    // x spans [1, 32] (4 cells from x = 1); y = z = 5 with zero span: one cell from 5.
    assert_eq!(v.centres, vec![[16.0, 10.0, 10.0], [26.0, 10.0, 10.0]]);
    assert_eq!(v.signals(0).len(), 30);
    assert_eq!(v.signals(1).len(), 20);
    let map: Vec<Option<u32>> = vec![None, None, Some(0), Some(0), Some(1), Some(1)];
    assert_eq!(v.recordings[0].neuron_to_voxel, map);
    assert_eq!(
        v.recordings[1].neuron_to_voxel,
        vec![Some(0), Some(0), Some(1), Some(1), None, None]
    );
    assert!(v.recordings[0].name.ends_with("a.npy"));
}

#[test]
fn bad_inputs_give_one_error_line_and_exit_code_1() {
    let d = tmp("errors");
    let write = |name: &str, bytes: &[u8]| common::files::write(&d, name, bytes);
    let good = write("good.npy", &npy_f32(&[10, 4], &traces(10, 4)));
    let xyz = write("xyz.csv", pair_coords(4, 0.0).as_bytes());
    let xyz3 = write("xyz3.csv", pair_coords(3, 0.0).as_bytes());
    let mut nan_values = traces(10, 4);
    nan_values[13] = f32::NAN;
    let nan = write("nan.npy", &npy_f32(&[10, 4], &nan_values));
    let flat = write("flat.npy", &npy_f32(&[10, 4], &[0.5; 40]));
    let bytes = npy_f32(&[10, 4], &traces(10, 4));
    let trunc = write("trunc.npy", &bytes[..bytes.len() - 20]);
    let garbage = write(
        "garbage.npy",
        b"definitely not a numpy file, just some text\n",
    );
    let far = write("far.csv", pair_coords(4, 500.0).as_bytes());
    let out = d.join("out.npz");

    let run = |args: &[&Path]| -> Output {
        let mut c = voxelize();
        for a in args {
            c.arg(a);
        }
        common::run(c.arg("--out").arg(&out))
    };
    let p = |s: &'static str| -> &'static Path { Path::new(s) };
    let files = |t: &Path, c: &Path| run(&[p("--traces"), t, p("--coords"), c]);

    assert_one_error(
        &files(&good, &xyz3),
        &["xyz3.csv", "expected 4, got 3", "good.npy"],
        "count",
    );
    assert_one_error(
        &files(&nan, &xyz),
        &["nan.npy", "non-finite", "frame 3, neuron 1"],
        "NaN",
    );
    assert_one_error(&files(&flat, &xyz), &["flat.npy", "constant"], "constant");
    assert_one_error(&files(&trunc, &xyz), &["trunc.npy"], "truncated");
    assert_one_error(&files(&garbage, &xyz), &["garbage.npy"], "garbage");
    // (voxel size, words the error must contain)
    for (size, words) in [
        ("0", &["voxel_size", "> 0"]),
        ("-5", &["voxel_size", "> 0"]),
        ("NaN", &["voxel_size", "> 0"]),
        ("1e-9", &["voxel_size", "max_voxels"]),
    ] {
        let sized = [p("--traces"), &good, p("--coords"), &xyz, p("--voxel-size")];
        assert_one_error(&run(&[&sized[..], &[p(size)][..]].concat()), words, size);
    }
    let (tr, co) = (p("--traces"), p("--coords"));
    let o = run(&[
        tr,
        &good,
        co,
        &xyz,
        tr,
        &good,
        co,
        &far,
        p("--voxel-size"),
        p("10"),
    ]);
    assert_one_error(
        &o,
        &["no voxel", "every recording", "good.npy"],
        "no common voxel",
    );
    let o = run(&[tr, &good, tr, &good, co, &xyz]);
    assert_one_error(&o, &["--traces", "--coords", "2", "1"], "counts");
    let o = run(&[]);
    assert_one_error(&o, &["--traces", "--synthetic"], "no input");
    assert!(!out.exists(), "a failed run left {}", out.display());
}
