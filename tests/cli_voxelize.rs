//! End-to-end tests of `voxelize`: the synthetic brain and files (two fish on one grid) are
//! voxelised and read back; each bad input gives exit code 1 and exactly one `error:` line
//! naming the file or flag and the problem, without a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crbm::voxel::{sidecar_path, VoxelSidecar, Voxelised};

fn voxelize() -> Command {
    Command::new(env!("CARGO_BIN_EXE_voxelize"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("voxelize-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A `.npy` of little-endian f32 with the given shape.
fn npy_f32(shape: &[usize], values: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|s| s.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(header.len() as u16).to_le_bytes());
    b.extend_from_slice(header.as_bytes());
    values
        .iter()
        .for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
    b
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

/// The run fails with exit code 1, one `error:` line containing every `needle`, no panic.
fn assert_one_error(o: &Output, needles: &[&str], what: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{what}: {err}");
    for n in needles {
        assert!(lines[0].contains(n), "{what}: {n:?} not in {:?}", lines[0]);
    }
}

#[test]
fn synthetic_brain_is_voxelised_with_ground_truth_and_reads_back() {
    let d = tmp("synthetic");
    let out = d.join("voxels.npz");
    let o = voxelize()
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
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
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
    let o = voxelize()
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
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
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
    let write = |name: &str, bytes: &[u8]| -> PathBuf {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
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
        c.arg("--out").arg(&out).output().unwrap()
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
    for size in ["0", "-5", "NaN"] {
        let o = run(&[
            p("--traces"),
            &good,
            p("--coords"),
            &xyz,
            p("--voxel-size"),
            Path::new(size),
        ]);
        assert_one_error(&o, &["voxel_size", "> 0"], size);
    }
    let o = run(&[
        p("--traces"),
        &good,
        p("--coords"),
        &xyz,
        p("--voxel-size"),
        p("1e-9"),
    ]);
    assert_one_error(&o, &["voxel_size", "max_voxels"], "grid cap");
    let o = run(&[
        p("--traces"),
        &good,
        p("--coords"),
        &xyz,
        p("--traces"),
        &good,
        p("--coords"),
        &far,
        p("--voxel-size"),
        p("10"),
    ]);
    assert_one_error(
        &o,
        &["no voxel", "every recording", "good.npy"],
        "no common voxel",
    );
    let o = run(&[
        p("--traces"),
        &good,
        p("--traces"),
        &good,
        p("--coords"),
        &xyz,
    ]);
    assert_one_error(&o, &["--traces", "--coords", "2", "1"], "counts");
    let o = run(&[]);
    assert_one_error(&o, &["--traces", "--synthetic"], "no input");
    assert!(!out.exists(), "a failed run left {}", out.display());
}
