//! HDF5 datasets (as written by h5py and light-sheet pipelines) read as dense f64
//! arrays through the pure-Rust `hdf5-reader` (contiguous, compact and chunked
//! layouts; deflate, shuffle and Fletcher-32 filters).
//!
//! Accepted element types: 1/2/4/8-byte integers, 32/64-bit floats and h5py's
//! boolean (an enum over int8 {FALSE = 0, TRUE = 1}).

use std::path::Path;

use hdf5_reader::{Datatype, H5Type, Hdf5File};

use super::load::{data_err, Array};
use crate::error::Result;

/// Read dataset `key` (a path such as `"spikes"` or `"/fish1/spikes"`), or the only
/// dataset at the file's root when `key` is None.
pub(super) fn read_hdf5(path: &Path, key: Option<&str>) -> Result<Array> {
    let file = Hdf5File::open(path)
        .map_err(|e| data_err(path, format!("not a readable HDF5 file ({e})")))?;
    let name = match key {
        Some(k) => k.to_string(),
        None => {
            let names: Vec<String> = file
                .root_group()
                .and_then(|g| g.datasets())
                .map_err(|e| data_err(path, format!("listing datasets: {e}")))?
                .iter()
                .map(|d| d.name().to_string())
                .collect();
            match names.as_slice() {
                [one] => one.clone(),
                _ => {
                    return Err(data_err(
                        path,
                        format!("the root holds datasets {names:?}; name one (--key)"),
                    ))
                }
            }
        }
    };
    let ds = file
        .dataset(&name)
        .map_err(|e| data_err(path, format!("no dataset {name:?} ({e})")))?;
    let shape: Vec<usize> = ds.shape().iter().map(|&s| s as usize).collect();
    // Checked (no overflow, at most 2³¹ values = 16 GiB as f64) before anything is allocated.
    let count = (shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)))
        .filter(|&c| c <= 1 << 31)
        .ok_or_else(|| {
            data_err(
                path,
                format!("dataset {name:?}: shape {shape:?} holds more than 2^31 values"),
            )
        })?;
    let e = |x: hdf5_reader::error::Error| data_err(path, format!("dataset {name:?}: {x}"));
    fn read<T: H5Type + Default + Clone + Into<f64>>(
        ds: &hdf5_reader::Dataset,
        count: usize,
    ) -> hdf5_reader::error::Result<Vec<f64>> {
        let mut v = vec![T::default(); count];
        ds.read_into(&mut v)?;
        Ok(v.into_iter().map(Into::into).collect())
    }
    let values: Vec<f64> = match ds.dtype().clone() {
        Datatype::FixedPoint { size, signed, .. } => match (size, signed) {
            (1, false) => read::<u8>(&ds, count).map_err(e)?,
            (1, true) => read::<i8>(&ds, count).map_err(e)?,
            (2, false) => read::<u16>(&ds, count).map_err(e)?,
            (2, true) => read::<i16>(&ds, count).map_err(e)?,
            (4, false) => read::<u32>(&ds, count).map_err(e)?,
            (4, true) => read::<i32>(&ds, count).map_err(e)?,
            (8, false) => {
                let mut v = vec![0u64; count];
                ds.read_into(&mut v).map_err(e)?;
                v.into_iter().map(|x| x as f64).collect()
            }
            (8, true) => {
                let mut v = vec![0i64; count];
                ds.read_into(&mut v).map_err(e)?;
                v.into_iter().map(|x| x as f64).collect()
            }
            _ => {
                return Err(data_err(
                    path,
                    format!("dataset {name:?}: unsupported {size}-byte integers"),
                ))
            }
        },
        Datatype::FloatingPoint { size: 4, .. } => read::<f32>(&ds, count).map_err(e)?,
        Datatype::FloatingPoint { size: 8, .. } => read::<f64>(&ds, count).map_err(e)?,
        Datatype::Enum { base, .. } if matches!(*base, Datatype::FixedPoint { size: 1, .. }) => {
            let signed = matches!(*base, Datatype::FixedPoint { signed: true, .. });
            ds.read_raw_bytes()
                .map_err(e)?
                .into_iter()
                .map(|b| if signed { b as i8 as f64 } else { b as f64 })
                .collect()
        }
        other => {
            return Err(data_err(
                path,
                format!("dataset {name:?}: unsupported element type {other:?}"),
            ))
        }
    };
    if values.len() != count {
        return Err(data_err(
            path,
            format!(
                "dataset {name:?}: {} values for shape {shape:?}",
                values.len()
            ),
        ));
    }
    Ok(Array { values, shape })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::data::{load_coordinates, load_raster, Recording};

    /// Written by h5py (libhdf5) with `tests/data/make_fixture.py`. The crate directory is read
    /// at run time (cargo sets it for tests): a target dir shared by checkouts at other paths
    /// may hold a test binary compiled elsewhere.
    fn fixture() -> PathBuf {
        PathBuf::from(
            std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
        )
        .join("tests/data/raster.h5")
    }

    fn expected_rows() -> Vec<Vec<u32>> {
        (0..40u32)
            .map(|t| (0..7u32).filter(|i| (3 * t + 5 * i) % 4 == 0).collect())
            .collect()
    }

    #[test]
    fn h5py_datasets_load_in_every_layout_and_type() {
        let p = fixture();
        // Contiguous u8 (the only root dataset, so no key needed), gzip-chunked bool,
        // gzip+shuffle f32 with partial edge chunks, chunked i64.
        for key in [
            None,
            Some("spikes"),
            Some("/fish1/spikes"),
            Some("fish1/spikes_f32"),
            Some("fish1/spikes_i64"),
        ] {
            let r = load_raster(&p, key).unwrap_or_else(|e| panic!("{key:?}: {e}"));
            assert_eq!(r.n_visible, 7, "{key:?}");
            assert_eq!(r.rows, expected_rows(), "{key:?}");
        }
        let xyz = load_coordinates(&p, Some("fish1/coords"), Some(7)).unwrap();
        for (i, c) in xyz.iter().enumerate() {
            let i = i as f64;
            assert_eq!(*c, [1.5 * i, 3.0 * i, 4.5 * i]);
        }
        let rec = Recording::load(
            &p,
            Some("fish1/spikes"),
            Some(&p),
            Some("fish1/coords"),
            None,
        )
        .unwrap();
        assert_eq!(rec.coordinates.as_deref(), Some(&xyz[..]));
    }

    #[test]
    fn bad_hdf5_inputs_give_errors_naming_file_and_dataset() {
        let p = fixture();
        let err = |key: &str| load_raster(&p, Some(key)).unwrap_err().to_string();
        let e = err("fish1/nonbinary");
        assert!(
            e.contains("raster.h5") && e.contains("non-binary value 2"),
            "{e}"
        );
        let e = err("fish1/missing");
        assert!(
            e.contains("raster.h5") && e.contains("no dataset \"fish1/missing\""),
            "{e}"
        );
        let e = err("fish1/label");
        assert!(e.contains("unsupported element type"), "{e}");
        // 3 × 7 coordinates: wrong orientation.
        let e = load_coordinates(&p, Some("fish1/coords_t"), Some(7))
            .unwrap_err()
            .to_string();
        assert!(e.contains("[N, 3]") && e.contains("[3, 7]"), "{e}");
        // Not an HDF5 file at all.
        let fake = std::env::temp_dir().join(format!("crbm-fake-{}.h5", std::process::id()));
        std::fs::write(&fake, b"1,0,1\n").unwrap();
        let e = load_raster(&fake, None).unwrap_err().to_string();
        assert!(e.contains("not a readable HDF5 file"), "{e}");
    }
}
