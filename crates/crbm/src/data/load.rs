//! Loading spike rasters (`.npy`, `.npz`, `.csv`, and `.h5`/`.hdf5` with the default
//! `hdf5` feature), coordinates and region labels.
//!
//! Every error names the file. Continuous traces ([`load_traces`]) must be 2-D (T × N),
//! non-empty and finite. A raster must be 2-D (T × N, frames × neurons),
//! non-empty, contain only 0/1 (bool, integer or float dtypes are accepted) and
//! at least one 1.

use std::path::Path;

use arrays::ArrayError;

use crate::batch::SparseBatch;
use crate::error::{io_err, CrbmError, Result};
use crate::frames::Frames;

pub(super) fn data_err(path: &Path, reason: impl Into<String>) -> CrbmError {
    CrbmError::Data {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// An `arrays` error as a crbm error naming the same file (I/O failures stay `Io`).
pub(crate) fn array_err(e: ArrayError) -> CrbmError {
    match e {
        ArrayError::Io { path, source } => CrbmError::Io { path, source },
        other => CrbmError::Data {
            path: other.path().to_path_buf(),
            reason: other.problem(),
        },
    }
}

/// A dense numeric array read from npy/npz/csv/HDF5, row-major.
pub(super) struct Array {
    pub(super) values: Vec<f64>,
    pub(super) shape: Vec<usize>,
}

impl From<arrays::Array> for Array {
    fn from(a: arrays::Array) -> Self {
        Array {
            values: a.values,
            shape: a.shape,
        }
    }
}

/// `key`: the array inside an `.npz`, or the dataset path inside an HDF5 file.
fn read_array(path: &Path, key: Option<&str>) -> Result<Array> {
    let ext = arrays::lowercase_extension(path);
    match ext.as_str() {
        "npy" => Ok(arrays::npy::read(path).map_err(array_err)?.into()),
        "npz" => read_npz(path, key),
        "csv" | "txt" | "tsv" => read_text(path),
        #[cfg(feature = "hdf5")]
        "h5" | "hdf5" | "he5" => super::hdf5::read_hdf5(path, key),
        #[cfg(not(feature = "hdf5"))]
        "h5" | "hdf5" | "he5" => Err(data_err(
            path,
            "HDF5 support is not compiled in (cargo feature `hdf5` of crbm)",
        )),
        _ => Err(data_err(
            path,
            "unknown extension (expected .npy, .npz, .csv or .h5)",
        )),
    }
}

/// Array `key` of an `.npz`, or its only array.
fn read_npz(path: &Path, key: Option<&str>) -> Result<Array> {
    let mut npz = arrays::npz::Archive::open(path).map_err(array_err)?;
    let names = npz.names().to_vec();
    let key = match key {
        Some(k) => k.to_string(),
        None if names.len() == 1 => names[0].clone(),
        None => {
            return Err(data_err(
                path,
                format!("archive holds several arrays {names:?}; name one"),
            ));
        }
    };
    if !npz.contains(&key) {
        return Err(data_err(
            path,
            format!("no array named {key:?} (has {names:?})"),
        ));
    }
    Ok(npz.read(&key).map_err(array_err)?.into())
}

/// Comma-, tab- or space-separated numbers, one row per line ('#' lines skipped; format of
/// `arrays::text`). An empty file is a `[0, 0]` array, which the callers refuse as empty.
fn read_text(path: &Path) -> Result<Array> {
    match arrays::text::read(path) {
        Ok(a) => Ok(a.into()),
        Err(ArrayError::Empty { .. }) => Ok(Array {
            values: Vec::new(),
            shape: vec![0, 0],
        }),
        Err(e) => Err(array_err(e)),
    }
}

/// Load a binary spike raster, shape [T frames, N neurons], from `.npy`, `.npz`
/// (array `key`, or the only array), `.csv`, or `.h5`/`.hdf5` (dataset path `key`,
/// or the only dataset at the root).
pub fn load_raster(path: impl AsRef<Path>, key: Option<&str>) -> Result<SparseBatch> {
    let path = path.as_ref();
    let a = read_array(path, key)?;
    raster_from_dense(&a.values, &a.shape, path)
}

/// Load continuous traces, shape [T frames, N neurons] (ΔF/F, deconvolved rates, or a
/// binary raster read as 0/1 values), from the same formats as [`load_raster`]. The array
/// must be 2-D, non-empty and finite (values beyond f32 range count as non-finite).
pub fn load_traces(path: impl AsRef<Path>, key: Option<&str>) -> Result<Frames> {
    let path = path.as_ref();
    let a = read_array(path, key)?;
    traces_from_dense(a, path)
}

fn traces_from_dense(a: Array, source: &Path) -> Result<Frames> {
    if a.shape.len() != 2 {
        return Err(data_err(
            source,
            format!(
                "traces must be 2-D (frames × neurons), got shape {:?}",
                a.shape
            ),
        ));
    }
    let (t, n) = (a.shape[0], a.shape[1]);
    if t == 0 || n == 0 {
        return Err(data_err(
            source,
            format!("empty traces, shape {:?}", a.shape),
        ));
    }
    let values: Vec<f32> = a.values.iter().map(|&x| x as f32).collect();
    if let Some(k) = values.iter().position(|x| !x.is_finite()) {
        return Err(data_err(
            source,
            format!(
                "non-finite value {} at frame {}, neuron {}",
                a.values[k],
                k / n,
                k % n
            ),
        ));
    }
    Frames::new(n, values, &source.display().to_string())
}

/// Validate and convert a dense row-major T × N array (`source` names it in errors).
pub fn raster_from_dense(values: &[f64], shape: &[usize], source: &Path) -> Result<SparseBatch> {
    if shape.len() != 2 {
        return Err(data_err(
            source,
            format!("raster must be 2-D (frames × neurons), got shape {shape:?}"),
        ));
    }
    let (t, n) = (shape[0], shape[1]);
    if t == 0 || n == 0 {
        return Err(data_err(source, format!("empty raster, shape {shape:?}")));
    }
    let mut rows = Vec::with_capacity(t);
    let mut ones = 0usize;
    for f in 0..t {
        let mut active = Vec::new();
        for i in 0..n {
            let x = values[f * n + i];
            if x == 1.0 {
                active.push(i as u32);
            } else if x != 0.0 {
                return Err(data_err(
                    source,
                    format!("non-binary value {x} at frame {f}, neuron {i}"),
                ));
            }
        }
        ones += active.len();
        rows.push(active);
    }
    if ones == 0 {
        return Err(data_err(source, "raster is all zeros"));
    }
    Ok(SparseBatch { n_visible: n, rows })
}

/// Load neuron coordinates, shape [N, 3] (µm), from `.npy`/`.npz`/`.csv`/`.h5`
/// (`key` as for [`load_raster`]); `n_neurons` (if given) must match N.
pub fn load_coordinates(
    path: impl AsRef<Path>,
    key: Option<&str>,
    n_neurons: Option<usize>,
) -> Result<Vec<[f64; 3]>> {
    let path = path.as_ref();
    let a = read_array(path, key)?;
    if a.shape.len() != 2 || a.shape[1] != 3 {
        return Err(data_err(
            path,
            format!("coordinates must have shape [N, 3], got {:?}", a.shape),
        ));
    }
    if let Some(n) = n_neurons {
        if a.shape[0] != n {
            return Err(CrbmError::Shape {
                what: format!("{}: coordinate rows vs neurons", path.display()),
                expected: n,
                got: a.shape[0],
            });
        }
    }
    if let Some(k) = a.values.iter().position(|x| !x.is_finite()) {
        return Err(data_err(
            path,
            format!("non-finite coordinate at row {}", k / 3),
        ));
    }
    Ok(a.values.chunks(3).map(|c| [c[0], c[1], c[2]]).collect())
}

/// Load region labels, one per neuron: a text file with one label per line, or a
/// 1-D integer `.npy`. Returns (region index per neuron, region names in order of
/// first appearance).
pub fn load_region_labels(
    path: impl AsRef<Path>,
    n_neurons: Option<usize>,
) -> Result<(Vec<usize>, Vec<String>)> {
    let path = path.as_ref();
    let ext = arrays::lowercase_extension(path);
    let labels: Vec<String> = if ext == "npy" || ext == "npz" {
        let a = read_array(path, None)?;
        a.values.iter().map(|x| format!("{x}")).collect()
    } else {
        let text = std::fs::read_to_string(path).map_err(io_err(path))?;
        text.lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    };
    if labels.is_empty() {
        return Err(data_err(path, "no region labels"));
    }
    if let Some(n) = n_neurons {
        if labels.len() != n {
            return Err(CrbmError::Shape {
                what: format!("{}: region labels vs neurons", path.display()),
                expected: n,
                got: labels.len(),
            });
        }
    }
    let mut names: Vec<String> = Vec::new();
    let idx = labels
        .iter()
        .map(|l| match names.iter().position(|n| n == l) {
            Some(k) => k,
            None => {
                names.push(l.clone());
                names.len() - 1
            }
        })
        .collect();
    Ok((idx, names))
}

/// Write a raster as a `.npy` of u8 (T × N), e.g. for tests and exports; durably and
/// atomically.
pub fn save_raster_npy(raster: &SparseBatch, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let dense: Vec<u8> = (0..raster.len())
        .flat_map(|b| raster.dense_row(b))
        .collect();
    let bytes =
        arrays::npy::encode(path, &[raster.len(), raster.n_visible], &dense).map_err(array_err)?;
    crate::durable::write_bytes(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("crbm-test-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.join(name)
    }

    #[test]
    fn npy_roundtrip_and_csv() {
        let r = SparseBatch {
            n_visible: 4,
            rows: vec![vec![0, 3], vec![], vec![1]],
        };
        let p = tmp("r.npy");
        save_raster_npy(&r, &p).unwrap();
        assert_eq!(load_raster(&p, None).unwrap(), r);
        let c = tmp("r.csv");
        std::fs::write(&c, "1,0,0,1\n0,0,0,0\n0,1,0,0\n").unwrap();
        assert_eq!(load_raster(&c, None).unwrap(), r);
    }

    #[test]
    fn npz_raster_is_read_by_key() {
        let p = tmp("r.npz");
        arrays::test_support::write_spikes_and_other_npz(&p);
        let r = load_raster(&p, Some("spikes")).unwrap();
        assert_eq!(r.rows, vec![vec![1], vec![0, 1]]);
        let e = load_raster(&p, None).unwrap_err().to_string();
        assert!(e.contains("r.npz") && e.contains("several arrays"), "{e}");
    }

    #[test]
    fn bad_rasters_give_typed_errors_naming_the_file() {
        let c = tmp("bad.csv");
        std::fs::write(&c, "1,0\n0,2\n").unwrap();
        let e = load_raster(&c, None).unwrap_err().to_string();
        assert!(
            e.contains("bad.csv") && e.contains("non-binary value 2"),
            "{e}"
        );
        std::fs::write(&c, "0,0\n0,0\n").unwrap();
        assert!(load_raster(&c, None)
            .unwrap_err()
            .to_string()
            .contains("all zeros"));
        std::fs::write(&c, "").unwrap();
        assert!(load_raster(&c, None)
            .unwrap_err()
            .to_string()
            .contains("empty"));
        std::fs::write(&c, "1,0\n0\n").unwrap();
        assert!(load_raster(&c, None)
            .unwrap_err()
            .to_string()
            .contains("columns"));
        let xyz = tmp("xyz.csv");
        std::fs::write(&xyz, "0,1,2\n3,4,5\n").unwrap();
        assert_eq!(
            load_coordinates(&xyz, None, Some(2)).unwrap()[1],
            [3.0, 4.0, 5.0]
        );
        assert!(matches!(
            load_coordinates(&xyz, None, Some(3)),
            Err(CrbmError::Shape { .. })
        ));
        let lab = tmp("regions.txt");
        std::fs::write(&lab, "tectum\nhindbrain\ntectum\n").unwrap();
        let (idx, names) = load_region_labels(&lab, Some(3)).unwrap();
        assert_eq!(idx, vec![0, 1, 0]);
        assert_eq!(names, vec!["tectum", "hindbrain"]);
    }

    #[test]
    fn traces_load_from_csv_npy_and_npz_and_refuse_bad_arrays() {
        let c = tmp("traces.csv");
        std::fs::write(&c, "0.5,-1.25,3\n2,0,1e-3\n").unwrap();
        let f = load_traces(&c, None).unwrap();
        assert_eq!((f.len(), f.n_units), (2, 3));
        assert_eq!(f.values, vec![0.5, -1.25, 3.0, 2.0, 0.0, 1e-3]);
        // A binary raster is accepted as traces.
        let r = SparseBatch {
            n_visible: 2,
            rows: vec![vec![1], vec![0, 1]],
        };
        let p = tmp("bin.npy");
        save_raster_npy(&r, &p).unwrap();
        assert_eq!(
            load_traces(&p, None).unwrap().values,
            vec![0.0, 1.0, 1.0, 1.0]
        );
        // f32 in an npz, by key.
        let z = tmp("traces.npz");
        {
            use npyz::WriterBuilder;
            let mut npz = npyz::npz::NpzWriter::create(&z).unwrap();
            let mut w = npz
                .array::<f32>("dff", Default::default())
                .unwrap()
                .default_dtype()
                .shape(&[2, 2])
                .begin_nd()
                .unwrap();
            w.extend([0.1f32, 0.2, 0.3, 0.4]).unwrap();
            w.finish().unwrap();
        }
        assert_eq!(
            load_traces(&z, Some("dff")).unwrap().values,
            vec![0.1, 0.2, 0.3, 0.4]
        );
        let e = load_traces(&z, Some("nope")).unwrap_err().to_string();
        assert!(
            e.contains("traces.npz") && e.contains("no array named"),
            "{e}"
        );
        // NaN, overflow to inf, 1-D and empty arrays.
        std::fs::write(&c, "0.5,NaN\n1,2\n").unwrap();
        let e = load_traces(&c, None).unwrap_err().to_string();
        assert!(
            e.contains("traces.csv") && e.contains("non-finite value NaN at frame 0, neuron 1"),
            "{e}"
        );
        std::fs::write(&c, "0.5,1\n1,1e300\n").unwrap();
        let e = load_traces(&c, None).unwrap_err().to_string();
        assert!(e.contains("frame 1, neuron 1"), "{e}");
        std::fs::write(&c, "").unwrap();
        assert!(load_traces(&c, None)
            .unwrap_err()
            .to_string()
            .contains("empty traces"));
        let one_d = tmp("oned.npy");
        std::fs::write(&one_d, npy_f64_1d(&[1.0, 2.0])).unwrap();
        let e = load_traces(&one_d, None).unwrap_err().to_string();
        assert!(e.contains("oned.npy") && e.contains("2-D"), "{e}");
        // A truncated npy names the file instead of panicking.
        let bytes = std::fs::read(&p).unwrap();
        let t = tmp("trunc.npy");
        std::fs::write(&t, &bytes[..bytes.len() - 2]).unwrap();
        let e = load_traces(&t, None).unwrap_err().to_string();
        assert!(e.contains("trunc.npy") && e.contains("truncated"), "{e}");
        // Garbage .npy, .npz and text files name the file too; a missing file is an I/O error.
        let g = tmp("garbage.npy");
        std::fs::write(&g, b"not numpy at all").unwrap();
        let e = load_traces(&g, None).unwrap_err().to_string();
        assert!(e.contains("garbage.npy") && e.contains("not a .npy"), "{e}");
        let g = tmp("garbage.npz");
        std::fs::write(&g, b"PK\x03\x04 cut").unwrap();
        let e = load_raster(&g, None).unwrap_err().to_string();
        assert!(e.contains("garbage.npz") && e.contains("not a .npz"), "{e}");
        let g = tmp("garbage.csv");
        std::fs::write(&g, b"\x00\x01,2\n").unwrap();
        let e = load_traces(&g, None).unwrap_err().to_string();
        assert!(e.contains("garbage.csv") && e.contains("line 1:1"), "{e}");
        let e = load_traces(tmp("missing.npy"), None).unwrap_err();
        assert!(
            matches!(e, CrbmError::Data { .. } | CrbmError::Io { .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("missing.npy"), "{e}");
    }

    /// A 1-D f64 `.npy` image.
    fn npy_f64_1d(x: &[f64]) -> Vec<u8> {
        let mut b = Vec::new();
        {
            use npyz::WriterBuilder;
            let mut w = npyz::WriteOptions::new()
                .default_dtype()
                .shape(&[x.len() as u64])
                .writer(&mut b)
                .begin_nd()
                .unwrap();
            w.extend(x.iter().copied()).unwrap();
            w.finish().unwrap();
        }
        b
    }
}
