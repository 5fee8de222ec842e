//! Recordings: a binary spike raster or continuous traces (T frames × N neurons) with
//! optional neuron coordinates (N × 3, µm) and region labels; loaders and the
//! chronological train/test split.

#[cfg(feature = "hdf5")]
mod hdf5;
pub mod load;
pub mod split;

pub use load::{
    load_coordinates, load_raster, load_region_labels, load_traces, raster_from_dense,
    save_raster_npy,
};
pub use split::{chronological_split, Split, SplitConfig};

use std::path::Path;

use crate::batch::SparseBatch;
use crate::error::Result;

/// A recording ready for training and evaluation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recording {
    /// Binary raster, T frames of N neurons.
    pub raster: SparseBatch,
    /// Neuron positions, shape [N] × 3 (µm).
    pub coordinates: Option<Vec<[f64; 3]>>,
    /// Region index of each neuron, shape [N]; names in `region_names`.
    pub regions: Option<Vec<usize>>,
    pub region_names: Vec<String>,
}

impl Recording {
    /// Load a raster (T × N) and, optionally, coordinates (N × 3) and region
    /// labels (N), checking that their neuron counts agree. `key` names the raster
    /// array inside an `.npz` or its dataset inside an HDF5 file; `coordinates_key`
    /// likewise for the coordinates (which may sit in the raster's HDF5 file).
    pub fn load(
        raster: impl AsRef<Path>,
        key: Option<&str>,
        coordinates: Option<&Path>,
        coordinates_key: Option<&str>,
        regions: Option<&Path>,
    ) -> Result<Self> {
        let raster = load_raster(raster, key)?;
        let n = raster.n_visible;
        let coordinates = coordinates
            .map(|p| load_coordinates(p, coordinates_key, Some(n)))
            .transpose()?;
        let (regions, region_names) = match regions {
            Some(p) => {
                let (idx, names) = load_region_labels(p, Some(n))?;
                (Some(idx), names)
            }
            None => (None, Vec::new()),
        };
        Ok(Self {
            raster,
            coordinates,
            regions,
            region_names,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_checks_neuron_counts_across_files() {
        let d = std::env::temp_dir().join(format!("crbm-rec-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let (r, xyz, lab) = (d.join("r.csv"), d.join("xyz.csv"), d.join("lab.txt"));
        std::fs::write(&r, "1,0,1\n0,1,0\n").unwrap();
        std::fs::write(&xyz, "0,0,0\n1,1,1\n2,2,2\n").unwrap();
        std::fs::write(&lab, "a\nb\na\n").unwrap();
        let rec = Recording::load(&r, None, Some(&xyz), None, Some(&lab)).unwrap();
        assert_eq!(rec.raster.n_visible, 3);
        assert_eq!(rec.regions, Some(vec![0, 1, 0]));
        std::fs::write(&lab, "a\nb\n").unwrap();
        let e = Recording::load(&r, None, Some(&xyz), None, Some(&lab))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("lab.txt") && e.contains("expected 3, got 2"),
            "{e}"
        );
    }
}
