//! Tiny input files for the end-to-end tests: `.npy` arrays, a data directory in the reference
//! layout, a dataset table, the HDF5 fixture.

use std::path::{Path, PathBuf};

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A `.npy` file (format 1.0) of dtype `descr` (e.g. `<f8`, `|u1`), its shape written as a
/// Python tuple (e.g. `"(2, 3)"`), followed by `payload`.
pub fn npy(descr: &str, shape: &str, payload: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
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

/// `shape` as a Python tuple: `(3,)`, `(2, 3)`.
pub fn py_shape(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    }
}

/// A `.npy` of little-endian f64 values with the given shape.
pub fn npy_f64(shape: &[usize], values: &[f64]) -> Vec<u8> {
    let payload: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    npy("<f8", &py_shape(shape), &payload)
}

/// A `.npy` of little-endian f32 values with the given shape.
pub fn npy_f32(shape: &[usize], values: &[f32]) -> Vec<u8> {
    let payload: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    npy("<f4", &py_shape(shape), &payload)
}

/// A `.npy` of u8 with the shape written as a Python tuple (e.g. `"(2, 3)"`), followed by
/// `payload` (which may be shorter than the shape says).
pub fn npy_u8(shape: &str, payload: &[u8]) -> Vec<u8> {
    npy("|u1", shape, payload)
}

/// Writes a data directory in the reference layout with `n` regions and split "train":
/// SC and FC CSVs, myelin and gradient maps, a 10 000-point FCD CDF.
pub fn write_data_dir(dir: &Path, n: usize) {
    let matrix = |diagonal: &str, off: &dyn Fn(usize) -> String| -> String {
        (0..n)
            .map(|i| {
                let row: Vec<String> = (0..n)
                    .map(|j| if i == j { diagonal.into() } else { off(i + j) })
                    .collect();
                row.join(",") + "\n"
            })
            .collect()
    };
    std::fs::create_dir_all(dir).unwrap();
    write(
        dir,
        "sc_train.csv",
        matrix("0", &|s| format!("{}", 10 + s % 5)),
    );
    write(
        dir,
        "fc_train.csv",
        matrix("1", &|s| format!("0.{}", 1 + s % 7)),
    );
    let maps: String = (0..n)
        .map(|k| format!("{}\n", 1.2 + 0.05 * k as f64))
        .collect();
    write(dir, "myelin.csv", &maps);
    write(dir, "rsfc_gradient.csv", &maps);
    let cdf: String = (0..10_000).map(|k| format!("{}\n", k / 10)).collect();
    write(dir, "fcd_train.csv", cdf);
}

/// A dataset table with one valid row per θ: FC and KS cost 0.5, total 1, one duplicate,
/// seed 0, design "lhs", 0.1 s per row, data set `dataset`.
pub fn samples(theta: impl IntoIterator<Item = [f64; 10]>, dataset: &str) -> surrogate::Samples {
    let mut s = surrogate::Samples::default();
    for (k, t) in theta.into_iter().enumerate() {
        s.index.push(k as u64);
        s.theta.push(t);
        s.fc_cost.push(0.5);
        s.ks_cost.push(0.5);
        s.total_cost.push(1.0);
        s.valid.push(true);
        s.n_dup.push(1);
        s.seed.push(0);
        s.dataset.push(dataset.into());
        s.design.push("lhs".into());
        s.wall_s.push(0.1);
    }
    s
}

/// The HDF5 fixture written by h5py (`crates/crbm/tests/data/make_fixture.py`).
pub fn h5_fixture() -> PathBuf {
    super::workspace_file("crates/crbm/tests/data/raster.h5")
}
