//! Voxelisation of whole-brain recordings (docs/crbm-model.md, "Voxelised recordings with
//! Gaussian visible units").
//!
//! A regular 3-D grid of cubic voxels (edge `voxel_size`, µm) covers the bounding box of the
//! neuron coordinates of *all* recordings, padded by `pad`·span on each side of every axis.
//! A voxel is kept when it holds at least `min_neurons` neurons in *every* recording (fish
//! registered to one atlas then share visible units). A kept voxel's signal is the mean of its
//! neurons' traces, z-scored over the frames. Only occupied cells are held (a hash map from
//! grid cell to voxel), so the grid itself is never allocated.
//!
//! [`Voxelised::save`] writes a NumPy `.npz` (readable as `np.load(path)["signals_0"]`):
//!
//! | array | dtype | shape | content |
//! |---|---|---|---|
//! | `signals_r` | f32 | [T_r, K] | z-scored voxel signals of recording r |
//! | `neuron_to_voxel_r` | i64 | [N_r] | voxel of each neuron of recording r, −1 = dropped |
//! | `centres` | f64 | [K, 3] | voxel centres, µm |
//! | `grid_origin` | f64 | [3] | corner of grid cell (0, 0, 0), µm |
//! | `grid_shape` | i64 | [3] | grid cells per axis |
//! | `voxel_size`, `pad` | f64 | [1] | settings |
//! | `min_neurons` | i64 | [1] | setting |
//!
//! plus any extra arrays of the caller (e.g. ground truth), and a JSON sidecar (same stem,
//! `.json`) with the settings, counts and recording names. Both are written atomically and
//! durably through [`crate::durable`] (temporary file in the same directory, fsync, rename,
//! fsync of the directory).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use npyz::WriterBuilder;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use arrays::Dtype;

use crate::data::load::array_err;
use crate::error::{invalid_config, io_err, CrbmError, Result};
use crate::frames::Frames;

/// Version of the archive layout written by [`Voxelised::save`].
pub const FORMAT_VERSION: u32 = 1;

/// Voxelisation settings; check them with [`VoxelConfig::validate`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VoxelConfig {
    /// Edge of a cubic voxel, µm; finite and > 0.
    pub voxel_size: f64,
    /// Fewest neurons a voxel must hold, in every recording, to be kept; ≥ 1.
    pub min_neurons: usize,
    /// Padding of the bounding box on each side, as a fraction of its span on that axis;
    /// finite and ≥ 0.
    pub pad: f64,
    /// Most grid cells the padded bounding box may span (guards against a voxel size far
    /// too small for the volume); ≥ 1.
    pub max_voxels: u64,
}

impl Default for VoxelConfig {
    fn default() -> Self {
        Self {
            voxel_size: 20.0,
            min_neurons: 2,
            pad: 0.1,
            max_voxels: 50_000_000,
        }
    }
}

impl VoxelConfig {
    /// Typed error for the first invalid setting.
    pub fn validate(&self) -> Result<()> {
        if !(self.voxel_size.is_finite() && self.voxel_size > 0.0) {
            return invalid_config(
                "voxel_size",
                self.voxel_size.to_string(),
                "must be finite and > 0 (µm)",
            );
        }
        if self.min_neurons == 0 {
            return invalid_config("min_neurons", "0", "must be ≥ 1");
        }
        if !(self.pad.is_finite() && self.pad >= 0.0) {
            return invalid_config("pad", self.pad.to_string(), "must be finite and ≥ 0");
        }
        if self.max_voxels == 0 {
            return invalid_config("max_voxels", "0", "must be ≥ 1");
        }
        Ok(())
    }
}

/// The regular grid: cell (i, j, l) spans `origin + voxel_size·([i, i+1) × [j, j+1) × [l, l+1))`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    /// Corner of cell (0, 0, 0), µm.
    pub origin: [f64; 3],
    /// Cells per axis.
    pub shape: [u64; 3],
    /// Cell edge, µm.
    pub voxel_size: f64,
}

impl Grid {
    /// The grid over the bounding box of all `coordinates`, padded by `pad`·span per side.
    /// A grid of more than `max_voxels` cells is an error naming `voxel_size`, found before
    /// anything is allocated.
    pub fn covering(coordinates: &[&[[f64; 3]]], config: &VoxelConfig) -> Result<Self> {
        let (lo, hi) = bounding_box(coordinates).ok_or_else(|| CrbmError::Data {
            path: "voxelisation".into(),
            reason: "no neuron coordinates".into(),
        })?;
        let s = config.voxel_size;
        let mut origin = [0.0; 3];
        let mut cells = [0f64; 3];
        for d in 0..3 {
            let span = hi[d] - lo[d];
            origin[d] = lo[d] - config.pad * span;
            cells[d] = (span * (1.0 + 2.0 * config.pad) / s).ceil().max(1.0);
        }
        let total = cells[0] * cells[1] * cells[2];
        if !(total <= config.max_voxels as f64) {
            return Err(CrbmError::InvalidConfig {
                field: "voxel_size",
                value: format!(
                    "{s} µm ({:.3e} grid cells over a padded {:.0}×{:.0}×{:.0} µm box, cap max_voxels = {})",
                    total,
                    cells[0] * s,
                    cells[1] * s,
                    cells[2] * s,
                    config.max_voxels
                ),
                reason: "the grid would exceed the cell cap; use a larger voxel size",
            });
        }
        Ok(Self {
            origin,
            shape: cells.map(|c| c as u64),
            voxel_size: s,
        })
    }

    /// Number of grid cells.
    pub fn n_cells(&self) -> u64 {
        self.shape.iter().product()
    }

    /// Linear index `(i·ny + j)·nz + l` of the cell holding `p` (points on the far face
    /// fall into the last cell).
    pub fn cell_of(&self, p: [f64; 3]) -> u64 {
        let mut key = 0u64;
        for d in 0..3 {
            let i = ((p[d] - self.origin[d]) / self.voxel_size).floor();
            let i = i.clamp(0.0, (self.shape[d] - 1) as f64) as u64;
            key = key * self.shape[d] + i;
        }
        key
    }

    /// Centre (µm) of the cell with linear index `key`.
    pub fn centre_of(&self, key: u64) -> [f64; 3] {
        let [_, ny, nz] = self.shape;
        let idx = [key / (ny * nz), (key / nz) % ny, key % nz];
        std::array::from_fn(|d| self.origin[d] + (idx[d] as f64 + 0.5) * self.voxel_size)
    }
}

/// Lowest and highest coordinate per axis over all recordings; None when there are none.
fn bounding_box(coordinates: &[&[[f64; 3]]]) -> Option<([f64; 3], [f64; 3])> {
    let mut points = coordinates.iter().flat_map(|c| c.iter());
    let first = *points.next()?;
    Some(points.fold((first, first), |(lo, hi), p| {
        (
            std::array::from_fn(|d| lo[d].min(p[d])),
            std::array::from_fn(|d| hi[d].max(p[d])),
        )
    }))
}

/// One recording to voxelise.
#[derive(Clone, Copy, Debug)]
pub struct RecordingInput<'a> {
    /// Names the recording in errors and in the sidecar (e.g. its traces file).
    pub name: &'a str,
    /// Traces, shape [T, N] (ΔF/F, rates or binary).
    pub traces: &'a Frames,
    /// Neuron positions, shape [N] × 3 (µm).
    pub coordinates: &'a [[f64; 3]],
}

/// One voxelised recording.
#[derive(Clone, Debug, PartialEq)]
pub struct VoxelRecording {
    pub name: String,
    /// z-scored voxel signals, shape [T, K].
    pub signals: Frames,
    /// Voxel of each neuron, shape [N]; None for neurons in dropped voxels.
    pub neuron_to_voxel: Vec<Option<u32>>,
}

/// Recordings on one common voxel grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Voxelised {
    pub config: VoxelConfig,
    pub grid: Grid,
    /// Voxel centres, shape [K] × 3 (µm); voxel v is column v of every recording's signals.
    /// Voxels are ordered by linear grid index (x slowest, z fastest).
    pub centres: Vec<[f64; 3]>,
    pub recordings: Vec<VoxelRecording>,
}

/// Voxelise `recordings` on one common grid (see the module docs).
///
/// Errors: invalid settings; no recordings; coordinates count ≠ traces' neurons (naming the
/// recording); non-finite traces or coordinates; traces all constant or with fewer than 2
/// frames; a grid over `max_voxels`; no voxel kept in every recording; a kept voxel whose
/// signal is constant over the frames.
pub fn voxelise(recordings: &[RecordingInput], config: &VoxelConfig) -> Result<Voxelised> {
    config.validate()?;
    if recordings.is_empty() {
        return Err(CrbmError::Data {
            path: "voxelisation".into(),
            reason: "no recordings given".into(),
        });
    }
    recordings.iter().try_for_each(check_recording)?;
    let coordinates: Vec<&[[f64; 3]]> = recordings.iter().map(|r| r.coordinates).collect();
    let grid = Grid::covering(&coordinates, config)?;
    let cells: Vec<Vec<u64>> = coordinates
        .par_iter()
        .map(|c| c.iter().map(|&p| grid.cell_of(p)).collect())
        .collect();
    let kept = common_cells(&cells, config.min_neurons);
    if kept.is_empty() {
        return Err(no_common_voxel(recordings, config));
    }
    let voxel_of: HashMap<u64, u32> = kept
        .iter()
        .enumerate()
        .map(|(v, &c)| (c, v as u32))
        .collect();
    let centres: Vec<[f64; 3]> = kept.iter().map(|&c| grid.centre_of(c)).collect();
    let recordings = recordings
        .iter()
        .zip(&cells)
        .map(|(r, cells)| {
            let map: Vec<Option<u32>> = cells.iter().map(|c| voxel_of.get(c).copied()).collect();
            let signals = voxel_signals(r.traces, &map, kept.len());
            let signals = z_score_voxels(signals, kept.len(), &centres, r.name)?;
            Ok(VoxelRecording {
                name: r.name.to_string(),
                signals,
                neuron_to_voxel: map,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Voxelised {
        config: config.clone(),
        grid,
        centres,
        recordings,
    })
}

fn data_err(what: &str, reason: String) -> CrbmError {
    CrbmError::Data {
        path: what.into(),
        reason,
    }
}

/// Shapes agree, values finite, and the traces vary over the frames.
fn check_recording(r: &RecordingInput) -> Result<()> {
    let n = r.traces.n_units;
    if n == 0 || r.traces.values.len() % n != 0 {
        return Err(data_err(
            r.name,
            format!("traces hold {} values, not T × N", r.traces.values.len()),
        ));
    }
    if r.coordinates.len() != n {
        return Err(CrbmError::Shape {
            what: format!("{}: coordinate rows vs neurons in the traces", r.name),
            expected: n,
            got: r.coordinates.len(),
        });
    }
    if let Some(k) = r.traces.values.iter().position(|x| !x.is_finite()) {
        return Err(data_err(
            r.name,
            format!(
                "non-finite trace value {} at frame {}, neuron {}",
                r.traces.values[k],
                k / n,
                k % n
            ),
        ));
    }
    if let Some(i) = r
        .coordinates
        .iter()
        .position(|p| p.iter().any(|x| !x.is_finite()))
    {
        return Err(data_err(
            r.name,
            format!("non-finite coordinate of neuron {i}"),
        ));
    }
    let t = r.traces.len();
    if t < 2 {
        return Err(data_err(
            r.name,
            format!("{t} frame(s); z-scoring needs at least 2"),
        ));
    }
    let first = r.traces.row(0);
    if (1..t).all(|f| r.traces.row(f) == first) {
        return Err(data_err(
            r.name,
            format!("all {n} traces are constant over the {t} frames"),
        ));
    }
    Ok(())
}

/// Grid cells holding ≥ `min_neurons` neurons in every recording, sorted.
fn common_cells(cells: &[Vec<u64>], min_neurons: usize) -> Vec<u64> {
    let counts: Vec<HashMap<u64, usize>> = cells
        .iter()
        .map(|c| {
            let mut m = HashMap::new();
            c.iter().for_each(|&k| *m.entry(k).or_insert(0) += 1);
            m
        })
        .collect();
    let mut kept: Vec<u64> = counts[0]
        .keys()
        .copied()
        .filter(|k| {
            counts
                .iter()
                .all(|m| m.get(k).copied().unwrap_or(0) >= min_neurons)
        })
        .collect();
    kept.sort_unstable();
    kept
}

/// The error for an empty intersection, with each recording's own count of kept voxels.
fn no_common_voxel(recordings: &[RecordingInput], config: &VoxelConfig) -> CrbmError {
    let names: Vec<&str> = recordings.iter().map(|r| r.name).collect();
    data_err(
        &names.join(", "),
        format!(
            "no voxel of {} µm holds ≥ {} neurons in every recording (larger --voxel-size or \
             smaller --min-neurons; several recordings must share one coordinate space)",
            config.voxel_size, config.min_neurons
        ),
    )
}

/// Mean trace of each voxel's neurons, shape [T, K] (f64); neurons without a voxel are skipped.
fn voxel_signals(traces: &Frames, map: &[Option<u32>], k: usize) -> Vec<f64> {
    let mut members = vec![0u32; k];
    map.iter().flatten().for_each(|&v| members[v as usize] += 1);
    let inv: Vec<f64> = members.iter().map(|&m| 1.0 / m.max(1) as f64).collect();
    let pairs: Vec<(usize, usize)> = map
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i, v as usize)))
        .collect();
    let mut out = vec![0f64; traces.len() * k];
    out.par_chunks_mut(k).enumerate().for_each(|(t, row)| {
        let x = traces.row(t);
        pairs.iter().for_each(|&(i, v)| row[v] += x[i] as f64);
        row.iter_mut().zip(&inv).for_each(|(s, w)| *s *= w);
    });
    out
}

/// Each voxel's signal shifted to mean 0 and scaled to sd 1 over the frames (two-pass, f64).
/// A signal whose sd is 0, or below f32 resolution of its mean, is an error naming the voxel.
fn z_score_voxels(signals: Vec<f64>, k: usize, centres: &[[f64; 3]], what: &str) -> Result<Frames> {
    let t = signals.len() / k;
    let mut mean = vec![0f64; k];
    signals
        .chunks_exact(k)
        .for_each(|row| mean.iter_mut().zip(row).for_each(|(m, x)| *m += x));
    mean.iter_mut().for_each(|m| *m /= t as f64);
    let mut var = vec![0f64; k];
    signals.chunks_exact(k).for_each(|row| {
        var.iter_mut()
            .zip(row)
            .zip(&mean)
            .for_each(|((v, x), m)| *v += (x - m) * (x - m))
    });
    let sd: Vec<f64> = var.iter().map(|v| (v / t as f64).sqrt()).collect();
    if let Some(v) = (0..k).find(|&v| !(sd[v] > 1e-7 * mean[v].abs()) || sd[v] == 0.0) {
        let c = centres[v];
        return Err(data_err(
            what,
            format!(
                "voxel {v} (centre [{:.1}, {:.1}, {:.1}] µm) has a constant signal over the \
                 {t} frames (its neurons' traces are constant); cannot z-score",
                c[0], c[1], c[2]
            ),
        ));
    }
    let mut values = vec![0f32; signals.len()];
    values
        .par_chunks_mut(k)
        .zip(signals.par_chunks(k))
        .for_each(|(out, row)| {
            for v in 0..k {
                out[v] = ((row[v] - mean[v]) / sd[v]) as f32;
            }
        });
    Ok(Frames { n_units: k, values })
}

/// An additional array written into the voxel archive (e.g. ground truth).
#[derive(Clone, Copy, Debug)]
pub struct ExtraArray<'a> {
    pub name: &'a str,
    pub shape: &'a [u64],
    pub data: ExtraData<'a>,
}

/// Element data of an [`ExtraArray`], row-major.
#[derive(Clone, Copy, Debug)]
pub enum ExtraData<'a> {
    F64(&'a [f64]),
    U8(&'a [u8]),
    I64(&'a [i64]),
}

/// Counts of one recording, for the sidecar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SidecarRecording {
    /// The recording's name (its traces file, or the generator and fish index).
    pub name: String,
    pub n_frames: usize,
    pub n_neurons: usize,
    /// Neurons inside kept voxels.
    pub n_neurons_in_voxels: usize,
}

/// The JSON sidecar written next to the archive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VoxelSidecar {
    pub format_version: u32,
    pub config: VoxelConfig,
    pub grid: Grid,
    pub n_voxels: usize,
    pub recordings: Vec<SidecarRecording>,
    /// Every array in the archive.
    pub arrays: Vec<String>,
    /// Free-form provenance from the caller (e.g. the generator's config).
    #[serde(default)]
    pub note: Option<serde_json::Value>,
}

/// The sidecar's path: the archive's with extension `.json` (`voxels.npz` → `voxels.json`).
pub fn sidecar_path(npz: &Path) -> PathBuf {
    npz.with_extension("json")
}

type NpzOut = npyz::npz::NpzWriter<BufWriter<File>>;

fn write_array<T: npyz::AutoSerialize + Copy>(
    npz: &mut NpzOut,
    name: &str,
    shape: &[u64],
    data: impl IntoIterator<Item = T>,
    path: &Path,
) -> Result<()> {
    let e = io_err(path);
    let mut w = npz
        .array::<T>(name, Default::default())
        .map_err(&e)?
        .default_dtype()
        .shape(shape)
        .begin_nd()
        .map_err(&e)?;
    w.extend(data).map_err(&e)?;
    w.finish().map_err(&e)
}

impl Voxelised {
    /// Number of voxels K.
    pub fn n_voxels(&self) -> usize {
        self.centres.len()
    }

    /// z-scored voxel signals of recording `recording`, shape [T, K].
    ///
    /// Panics if `recording` ≥ the number of recordings.
    pub fn signals(&self, recording: usize) -> &Frames {
        &self.recordings[recording].signals
    }

    /// The archive's array names, in writing order (without extras).
    fn array_names(&self) -> Vec<String> {
        let mut names: Vec<String> = ["centres", "grid_origin", "grid_shape", "voxel_size"]
            .into_iter()
            .chain(["pad", "min_neurons"])
            .map(String::from)
            .collect();
        for r in 0..self.recordings.len() {
            names.push(format!("signals_{r}"));
            names.push(format!("neuron_to_voxel_{r}"));
        }
        names
    }

    /// Writes the `.npz` archive at `path` (layout in the module docs) with `extras`, then its
    /// JSON sidecar ([`sidecar_path`]) with `note`; returns the sidecar's path.
    pub fn save(
        &self,
        path: impl AsRef<Path>,
        extras: &[ExtraArray],
        note: Option<serde_json::Value>,
    ) -> Result<PathBuf> {
        let path = path.as_ref();
        self.check_extras(extras, path)?;
        crate::durable::write_with(path, |tmp| {
            let file = File::create(tmp).map_err(io_err(tmp))?;
            let mut npz = npyz::npz::NpzWriter::new(BufWriter::new(file));
            self.write_arrays(&mut npz, path)?;
            for x in extras {
                match x.data {
                    ExtraData::F64(d) => {
                        write_array(&mut npz, x.name, x.shape, d.iter().copied(), path)?
                    }
                    ExtraData::U8(d) => {
                        write_array(&mut npz, x.name, x.shape, d.iter().copied(), path)?
                    }
                    ExtraData::I64(d) => {
                        write_array(&mut npz, x.name, x.shape, d.iter().copied(), path)?
                    }
                }
            }
            let mut w = npz
                .zip_writer()
                .finish()
                .map_err(|e| io_err(path)(std::io::Error::other(e.to_string())))?;
            w.flush().map_err(io_err(path))
        })?;
        let json = sidecar_path(path);
        let sidecar = self.sidecar(extras, note);
        let text = serde_json::to_string_pretty(&sidecar).map_err(|source| CrbmError::Json {
            path: json.clone(),
            source,
        })?;
        crate::durable::write_bytes(&json, text.as_bytes())?;
        Ok(json)
    }

    /// Extras must have fresh names and as many values as their shape says.
    fn check_extras(&self, extras: &[ExtraArray], path: &Path) -> Result<()> {
        let mut names = self.array_names();
        for x in extras {
            let len = match x.data {
                ExtraData::F64(d) => d.len(),
                ExtraData::U8(d) => d.len(),
                ExtraData::I64(d) => d.len(),
            };
            let want: u64 = x.shape.iter().product();
            if want != len as u64 {
                return Err(CrbmError::Shape {
                    what: format!(
                        "{}: extra array {:?} ({:?})",
                        path.display(),
                        x.name,
                        x.shape
                    ),
                    expected: want as usize,
                    got: len,
                });
            }
            if names.iter().any(|n| n == x.name) {
                return Err(data_err(
                    &path.display().to_string(),
                    format!(
                        "extra array {:?} would overwrite an array of the archive",
                        x.name
                    ),
                ));
            }
            names.push(x.name.to_string());
        }
        Ok(())
    }

    fn write_arrays(&self, npz: &mut NpzOut, path: &Path) -> Result<()> {
        let k = self.n_voxels() as u64;
        let c = self.config.clone();
        write_array(
            npz,
            "centres",
            &[k, 3],
            self.centres.iter().flatten().copied(),
            path,
        )?;
        write_array(npz, "grid_origin", &[3], self.grid.origin, path)?;
        write_array(
            npz,
            "grid_shape",
            &[3],
            self.grid.shape.map(|s| s as i64),
            path,
        )?;
        write_array(npz, "voxel_size", &[1], [c.voxel_size], path)?;
        write_array(npz, "pad", &[1], [c.pad], path)?;
        write_array(npz, "min_neurons", &[1], [c.min_neurons as i64], path)?;
        for (r, rec) in self.recordings.iter().enumerate() {
            let t = rec.signals.len() as u64;
            let values = rec.signals.values.iter().copied();
            write_array(npz, &format!("signals_{r}"), &[t, k], values, path)?;
            let map = rec.neuron_to_voxel.iter().map(|v| v.map_or(-1, i64::from));
            let n = rec.neuron_to_voxel.len() as u64;
            write_array(npz, &format!("neuron_to_voxel_{r}"), &[n], map, path)?;
        }
        Ok(())
    }

    fn sidecar(&self, extras: &[ExtraArray], note: Option<serde_json::Value>) -> VoxelSidecar {
        let mut arrays = self.array_names();
        arrays.extend(extras.iter().map(|x| x.name.to_string()));
        VoxelSidecar {
            format_version: FORMAT_VERSION,
            config: self.config.clone(),
            grid: self.grid,
            n_voxels: self.n_voxels(),
            recordings: self
                .recordings
                .iter()
                .map(|r| SidecarRecording {
                    name: r.name.clone(),
                    n_frames: r.signals.len(),
                    n_neurons: r.neuron_to_voxel.len(),
                    n_neurons_in_voxels: r.neuron_to_voxel.iter().flatten().count(),
                })
                .collect(),
            arrays,
            note,
        }
    }

    /// Reads an archive written by [`Voxelised::save`]. Recording names come from the sidecar
    /// when it exists (else `<path>#r`); `max_voxels` is the default. Errors name the file:
    /// unreadable or truncated archive, missing arrays, wrong dtypes or shapes, voxel
    /// indices out of range, non-finite signals.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let mut npz = NpzIn::open(path).map_err(array_err)?;
        let (cs, centres) = read_array::<f64>(&mut npz, "centres", path)?;
        expect_shape(path, "centres", &cs, &[None, Some(3)])?;
        let k = cs[0] as usize;
        let (os, origin) = read_array::<f64>(&mut npz, "grid_origin", path)?;
        expect_shape(path, "grid_origin", &os, &[Some(3)])?;
        let (gs, shape) = read_array::<i64>(&mut npz, "grid_shape", path)?;
        expect_shape(path, "grid_shape", &gs, &[Some(3)])?;
        let config = VoxelConfig {
            voxel_size: read_scalar::<f64>(&mut npz, "voxel_size", path)?,
            pad: read_scalar::<f64>(&mut npz, "pad", path)?,
            min_neurons: read_scalar::<i64>(&mut npz, "min_neurons", path)?.max(0) as usize,
            ..VoxelConfig::default()
        };
        config.validate()?;
        if shape.iter().any(|&s| s < 1) {
            return Err(data_err(
                &path.display().to_string(),
                format!("grid_shape {shape:?} has an axis < 1"),
            ));
        }
        let names = recording_names(path)?;
        let mut recordings = Vec::new();
        for r in 0.. {
            let name = format!("signals_{r}");
            if !npz.contains(&name) {
                break;
            }
            let rec_name = names
                .get(r)
                .cloned()
                .unwrap_or_else(|| format!("{}#{r}", path.display()));
            recordings.push(read_recording(&mut npz, r, k, rec_name, path)?);
        }
        if recordings.is_empty() {
            return Err(data_err(
                &path.display().to_string(),
                "missing array \"signals_0\" (no recordings)".into(),
            ));
        }
        Ok(Self {
            config: config.clone(),
            grid: Grid {
                origin: [origin[0], origin[1], origin[2]],
                shape: [shape[0] as u64, shape[1] as u64, shape[2] as u64],
                voxel_size: config.voxel_size,
            },
            centres: centres
                .chunks_exact(3)
                .map(|c| [c[0], c[1], c[2]])
                .collect(),
            recordings,
        })
    }
}

/// Planted ground truth that a synthetic archive carries: `true_coupling` [K, K] and the
/// voxels of each assembly (from `true_assemblies` [A, K]); None for archives of real data.
pub fn load_truth(path: impl AsRef<Path>) -> Result<Option<(Vec<f64>, Vec<Vec<u32>>)>> {
    let path = path.as_ref();
    let mut npz = NpzIn::open(path).map_err(array_err)?;
    if !npz.contains("true_coupling") {
        return Ok(None);
    }
    let (cs, coupling) = read_array::<f64>(&mut npz, "true_coupling", path)?;
    let (ms, membership) = read_array::<u8>(&mut npz, "true_assemblies", path)?;
    if cs.len() != 2 || cs[0] != cs[1] || ms.len() != 2 || ms[1] != cs[0] {
        return Err(data_err(
            &path.display().to_string(),
            format!("true_coupling {cs:?} and true_assemblies {ms:?} must be [K, K] and [A, K]"),
        ));
    }
    let k = cs[0] as usize;
    let assemblies = membership
        .chunks(k.max(1))
        .map(|row| (0..k as u32).filter(|&i| row[i as usize] != 0).collect())
        .collect();
    Ok(Some((coupling, assemblies)))
}

type NpzIn = arrays::npz::Archive;

/// An element type [`Voxelised::save`] writes, read back only from arrays of that dtype.
trait Stored: Copy {
    const DTYPE: Dtype;
    fn from_f64(x: f64) -> Self;
}

macro_rules! stored {
    ($t:ty, $dtype:expr) => {
        impl Stored for $t {
            const DTYPE: Dtype = $dtype;
            fn from_f64(x: f64) -> Self {
                // Exact: the value was decoded from this very type.
                x as $t
            }
        }
    };
}
stored!(f64, Dtype::Float(8));
stored!(f32, Dtype::Float(4));
stored!(i64, Dtype::Int(8));
stored!(u8, Dtype::UInt(1));

/// Shape and values of array `name`, or an error naming the file and the array (missing,
/// unreadable, or stored with another dtype than the archive layout says).
fn read_array<T: Stored>(npz: &mut NpzIn, name: &str, path: &Path) -> Result<(Vec<u64>, Vec<T>)> {
    if !npz.contains(name) {
        return Err(data_err(
            &path.display().to_string(),
            format!("missing array {name:?}"),
        ));
    }
    let a = npz.read(name).map_err(array_err)?;
    if a.dtype != T::DTYPE {
        return Err(data_err(
            &path.display().to_string(),
            format!(
                "array {name:?} has dtype {}, expected {}",
                a.dtype,
                T::DTYPE
            ),
        ));
    }
    let shape = a.shape.iter().map(|&d| d as u64).collect();
    Ok((shape, a.values.into_iter().map(T::from_f64).collect()))
}

fn read_scalar<T: Stored>(npz: &mut NpzIn, name: &str, path: &Path) -> Result<T> {
    let (s, v) = read_array::<T>(npz, name, path)?;
    expect_shape(path, name, &s, &[Some(1)])?;
    Ok(v[0])
}

/// `shape` must match `want` (None = any length on that axis).
fn expect_shape(path: &Path, name: &str, shape: &[u64], want: &[Option<u64>]) -> Result<()> {
    let ok = shape.len() == want.len()
        && shape
            .iter()
            .zip(want)
            .all(|(s, w)| w.is_none_or(|w| *s == w));
    if ok {
        return Ok(());
    }
    let want: Vec<String> = want
        .iter()
        .map(|w| w.map_or("*".to_string(), |w| w.to_string()))
        .collect();
    Err(data_err(
        &path.display().to_string(),
        format!(
            "array {name:?} has shape {shape:?}, expected [{}]",
            want.join(", ")
        ),
    ))
}

/// Names of the recordings from the sidecar, if there is one.
fn recording_names(path: &Path) -> Result<Vec<String>> {
    let json = sidecar_path(path);
    if !json.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&json).map_err(io_err(&json))?;
    let sidecar: VoxelSidecar = serde_json::from_str(&text).map_err(|source| CrbmError::Json {
        path: json.clone(),
        source,
    })?;
    Ok(sidecar.recordings.into_iter().map(|r| r.name).collect())
}

fn read_recording(
    npz: &mut NpzIn,
    r: usize,
    k: usize,
    name: String,
    path: &Path,
) -> Result<VoxelRecording> {
    let sname = format!("signals_{r}");
    let (ss, values) = read_array::<f32>(npz, &sname, path)?;
    expect_shape(path, &sname, &ss, &[None, Some(k as u64)])?;
    if ss[0] == 0 || k == 0 {
        return Err(data_err(
            &path.display().to_string(),
            format!("array {sname:?} is empty, shape {ss:?}"),
        ));
    }
    let signals = Frames::new(k, values, &format!("{}: {sname}", path.display()))?;
    let mname = format!("neuron_to_voxel_{r}");
    let (ms, map) = read_array::<i64>(npz, &mname, path)?;
    expect_shape(path, &mname, &ms, &[None])?;
    let neuron_to_voxel = map
        .iter()
        .enumerate()
        .map(|(i, &v)| match v {
            -1 => Ok(None),
            v if v >= 0 && (v as usize) < k => Ok(Some(v as u32)),
            v => Err(data_err(
                &path.display().to_string(),
                format!("array {mname:?}: neuron {i} maps to voxel {v}, outside -1..{k}"),
            )),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(VoxelRecording {
        name,
        signals,
        neuron_to_voxel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("crbm-voxel-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.join(name)
    }

    fn cfg(voxel_size: f64, min_neurons: usize, pad: f64) -> VoxelConfig {
        VoxelConfig {
            voxel_size,
            min_neurons,
            pad,
            ..VoxelConfig::default()
        }
    }

    fn input<'a>(name: &'a str, traces: &'a Frames, coords: &'a [[f64; 3]]) -> RecordingInput<'a> {
        RecordingInput {
            name,
            traces,
            coordinates: coords,
        }
    }

    /// Five neurons on a 10 µm grid spanning x ∈ [0, 20]: with pad 0 the grid has
    /// ceil(20/10) = 2 cells in x, 1 in y and z. Neurons 0, 1 (x = 1, 4) share cell 0;
    /// neurons 2, 3 (x = 12, 19) cell 1; neuron 4 (x = 20, on the far face) also cell 1.
    /// With min_neurons 3 only cell 1 survives.
    fn hand_example() -> (Frames, Vec<[f64; 3]>) {
        let coords = vec![
            [0.0, 0.0, 0.0],
            [4.0, 0.0, 0.0],
            [12.0, 0.0, 0.0],
            [19.0, 0.0, 0.0],
            [20.0, 0.0, 0.0],
        ];
        // Three frames × five neurons.
        let traces = Frames::new(
            5,
            vec![
                1.0, 3.0, 0.0, 3.0, 6.0, //
                2.0, 2.0, 3.0, 3.0, 0.0, //
                3.0, 7.0, 6.0, 0.0, 6.0,
            ],
            "hand",
        )
        .unwrap();
        (traces, coords)
    }

    #[test]
    fn hand_made_example_gives_the_hand_computed_voxels_means_and_z_scores() {
        let (traces, coords) = hand_example();
        let v = voxelise(&[input("hand", &traces, &coords)], &cfg(10.0, 2, 0.0)).unwrap();
        assert_eq!(v.grid.shape, [2, 1, 1]);
        assert_eq!(v.grid.origin, [0.0, 0.0, 0.0]);
        assert_eq!(v.centres, vec![[5.0, 5.0, 5.0], [15.0, 5.0, 5.0]]);
        let r = &v.recordings[0];
        assert_eq!(
            r.neuron_to_voxel,
            vec![Some(0), Some(0), Some(1), Some(1), Some(1)]
        );
        // Voxel 0 means over frames: (1+3)/2 = 2, (2+2)/2 = 2, (3+7)/2 = 5 → mean 3,
        // population sd √((1+1+4)/3) = √2 → z = (−1, −1, 2)/√2.
        // Voxel 1: (0+3+6)/3 = 3, (3+3+0)/3 = 2, (6+0+6)/3 = 4 → mean 3, sd √(2/3)
        // → z = (0, −1, 1)/√(2/3).
        let s2 = 2f64.sqrt();
        let s23 = (2.0f64 / 3.0).sqrt();
        let want = [-1.0 / s2, 0.0, -1.0 / s2, -1.0 / s23, 2.0 / s2, 1.0 / s23];
        assert_eq!(v.signals(0).n_units, 2);
        for (got, want) in v.signals(0).values.iter().zip(want) {
            assert!(
                (*got as f64 - want).abs() < 1e-6,
                "{:?}",
                v.signals(0).values
            );
        }
        // min_neurons 3 keeps only the second cell; neurons 0, 1 are dropped.
        let v3 = voxelise(&[input("hand", &traces, &coords)], &cfg(10.0, 3, 0.0)).unwrap();
        assert_eq!(v3.centres, vec![[15.0, 5.0, 5.0]]);
        assert_eq!(
            v3.recordings[0].neuron_to_voxel,
            vec![None, None, Some(0), Some(0), Some(0)]
        );
    }

    #[test]
    fn padding_extends_the_grid_by_a_fraction_of_the_span() {
        let (traces, coords) = hand_example();
        // Span 20 in x, 0 in y, z; pad 0.25 → x from −5 to 25, ceil(30/10) = 3 cells.
        let v = voxelise(&[input("hand", &traces, &coords)], &cfg(10.0, 1, 0.25)).unwrap();
        assert_eq!(v.grid.origin, [-5.0, 0.0, 0.0]);
        assert_eq!(v.grid.shape, [3, 1, 1]);
        // Cells: x=0,4 → cell 0 ([−5, 5)); 12 → cell 1; 19, 20 → cell 2.
        assert_eq!(
            v.recordings[0].neuron_to_voxel,
            vec![Some(0), Some(0), Some(1), Some(2), Some(2)]
        );
        assert_eq!(v.centres[2], [20.0, 5.0, 5.0]);
    }

    #[test]
    fn two_recordings_keep_only_their_common_voxels() {
        // Recording A fills cells x ∈ [0,10) and [10,20) with 2 neurons each; B fills
        // [10,20) and [20,30] with 2 each. Common grid over x ∈ [0, 30] → 3 cells; only
        // the middle cell is kept in both.
        let a_xyz = vec![
            [0.0, 0.0, 0.0],
            [2.0, 0.0, 0.0],
            [11.0, 0.0, 0.0],
            [12.0, 0.0, 0.0],
        ];
        let b_xyz = vec![
            [13.0, 0.0, 0.0],
            [14.0, 0.0, 0.0],
            [15.0, 0.0, 0.0],
            [25.0, 0.0, 0.0],
            [30.0, 0.0, 0.0],
        ];
        let a = Frames::new(4, vec![1.0, 0.0, 1.0, 3.0, 0.0, 1.0, 4.0, 2.0], "a").unwrap();
        let b = Frames::new(
            5,
            vec![
                1.0, 2.0, 3.0, 0.0, 0.0, //
                2.0, 2.0, 2.0, 1.0, 1.0, //
                0.0, 0.0, 0.0, 5.0, 5.0,
            ],
            "b",
        )
        .unwrap();
        let v = voxelise(
            &[input("a", &a, &a_xyz), input("b", &b, &b_xyz)],
            &cfg(10.0, 2, 0.0),
        )
        .unwrap();
        assert_eq!(v.grid.shape, [3, 1, 1]);
        assert_eq!(v.centres, vec![[15.0, 5.0, 5.0]]);
        assert_eq!(
            v.recordings[0].neuron_to_voxel,
            vec![None, None, Some(0), Some(0)]
        );
        assert_eq!(
            v.recordings[1].neuron_to_voxel,
            vec![Some(0), Some(0), Some(0), None, None]
        );
        // A's voxel (neurons 2, 3): frame 0 (1+3)/2 = 2, frame 1 (4+2)/2 = 3 → z = (−1, 1).
        assert_eq!(v.signals(0).values, vec![-1.0, 1.0]);
        assert_eq!(v.signals(0).len(), 2);
        assert_eq!(v.signals(1).len(), 3);
        let z: Vec<f32> = v.signals(1).values.clone();
        // B's voxel (neurons 0–2): 2, 2, 0 → mean 4/3, sd 2√2/3 → z = (1, 1, −2)/√2.
        let s2 = 2f32.sqrt();
        for (g, w) in z.iter().zip([1.0 / s2, 1.0 / s2, -2.0 / s2]) {
            assert!((g - w).abs() < 1e-6, "{z:?}");
        }
    }

    fn err(r: Result<Voxelised>) -> String {
        r.expect_err("expected an error").to_string()
    }

    #[test]
    fn every_bad_input_is_a_typed_error_naming_the_recording() {
        let (traces, coords) = hand_example();
        let ok = cfg(10.0, 2, 0.0);
        // Coordinates count ≠ neurons.
        let e = err(voxelise(&[input("fish1.npy", &traces, &coords[..4])], &ok));
        assert!(
            e.contains("fish1.npy") && e.contains("expected 5, got 4"),
            "{e}"
        );
        // NaN traces (Frames' fields are public, so the check does not rely on Frames::new).
        let mut nan = traces.clone();
        nan.values[7] = f32::NAN;
        let e = err(voxelise(&[input("nan.npy", &nan, &coords)], &ok));
        assert!(
            e.contains("nan.npy") && e.contains("frame 1, neuron 2"),
            "{e}"
        );
        // All traces constant.
        let flat = Frames::new(5, vec![2.0; 15], "flat").unwrap();
        let e = err(voxelise(&[input("flat.npy", &flat, &coords)], &ok));
        assert!(e.contains("flat.npy") && e.contains("constant"), "{e}");
        // One kept voxel constant although the recording varies: neurons 0, 1 constant.
        let mut part = traces.clone();
        for t in 0..3 {
            part.values[t * 5] = 1.0;
            part.values[t * 5 + 1] = 1.0;
        }
        let e = err(voxelise(&[input("part.npy", &part, &coords)], &ok));
        assert!(
            e.contains("part.npy") && e.contains("voxel 0") && e.contains("constant"),
            "{e}"
        );
        // A single frame cannot be z-scored.
        let one = Frames::new(5, vec![1.0, 2.0, 3.0, 4.0, 5.0], "one").unwrap();
        let e = err(voxelise(&[input("one.npy", &one, &coords)], &ok));
        assert!(e.contains("one.npy") && e.contains("at least 2"), "{e}");
        // Non-finite coordinates.
        let mut bad_xyz = coords.clone();
        bad_xyz[3][1] = f64::INFINITY;
        let e = err(voxelise(&[input("xyz", &traces, &bad_xyz)], &ok));
        assert!(e.contains("neuron 3"), "{e}");
        // Voxel size ≤ 0, NaN; min_neurons 0; negative pad.
        for (c, field) in [
            (cfg(0.0, 2, 0.0), "voxel_size"),
            (cfg(-3.0, 2, 0.0), "voxel_size"),
            (cfg(f64::NAN, 2, 0.0), "voxel_size"),
            (cfg(10.0, 0, 0.0), "min_neurons"),
            (cfg(10.0, 2, -0.1), "pad"),
        ] {
            match voxelise(&[input("h", &traces, &coords)], &c) {
                Err(CrbmError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        // A grid over the cap: 1 nm voxels over a 1 mm cube would be 1e18 cells.
        let wide = vec![[0.0, 0.0, 0.0], [1000.0, 1000.0, 1000.0]];
        let two = Frames::new(2, vec![0.0, 1.0, 1.0, 0.0], "two").unwrap();
        let e = voxelise(&[input("wide", &two, &wide)], &cfg(1e-3, 1, 0.0)).unwrap_err();
        assert!(
            matches!(
                e,
                CrbmError::InvalidConfig {
                    field: "voxel_size",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("max_voxels"), "{e}");
        // No voxel with ≥ 2 neurons at all.
        let e = err(voxelise(
            &[input("sparse.npy", &two, &wide)],
            &cfg(100.0, 2, 0.0),
        ));
        assert!(e.contains("sparse.npy") && e.contains("no voxel"), "{e}");
        // No recordings.
        assert!(voxelise(&[], &ok).is_err());
    }

    #[test]
    fn recordings_without_common_voxels_are_an_error_naming_both() {
        let a_xyz = vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]];
        let b_xyz = vec![[50.0, 0.0, 0.0], [51.0, 0.0, 0.0]];
        let f = Frames::new(2, vec![0.0, 1.0, 1.0, 0.0, 2.0, 2.0], "f").unwrap();
        let e = err(voxelise(
            &[input("fishA", &f, &a_xyz), input("fishB", &f, &b_xyz)],
            &cfg(10.0, 2, 0.0),
        ));
        assert!(
            e.contains("fishA") && e.contains("fishB") && e.contains("every recording"),
            "{e}"
        );
    }

    #[test]
    fn archive_round_trips_with_extras_and_sidecar() {
        let (traces, coords) = hand_example();
        let v = voxelise(&[input("hand.npy", &traces, &coords)], &cfg(10.0, 2, 0.0)).unwrap();
        let p = tmp("rt.npz");
        let truth = [0.0, 0.5, 0.5, 0.0];
        let member = [1u8, 0];
        let json = v
            .save(
                &p,
                &[
                    ExtraArray {
                        name: "true_coupling",
                        shape: &[2, 2],
                        data: ExtraData::F64(&truth),
                    },
                    ExtraArray {
                        name: "true_assemblies",
                        shape: &[1, 2],
                        data: ExtraData::U8(&member),
                    },
                ],
                Some(serde_json::json!({"generator": "test"})),
            )
            .unwrap();
        assert_eq!(json, tmp("rt.json"));
        let back = Voxelised::load(&p).unwrap();
        assert_eq!(back, v);
        let side: VoxelSidecar =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(side.n_voxels, 2);
        assert_eq!(side.recordings[0].name, "hand.npy");
        assert_eq!(side.recordings[0].n_neurons_in_voxels, 5);
        assert!(side.arrays.iter().any(|a| a == "true_assemblies"));
        let mut npz = NpzIn::open(&p).unwrap();
        let (s, t) = read_array::<f64>(&mut npz, "true_coupling", &p).unwrap();
        assert_eq!((s, t), (vec![2, 2], truth.to_vec()));
        // No temporary files are left behind.
        let left: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with(".rt.") && n.ends_with(".tmp")
            })
            .collect();
        assert!(left.is_empty(), "{left:?}");
        // Extras with a clashing name or a wrong length are refused before writing.
        let e = v
            .save(
                tmp("bad.npz"),
                &[ExtraArray {
                    name: "centres",
                    shape: &[1],
                    data: ExtraData::I64(&[1]),
                }],
                None,
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("overwrite"), "{e}");
        assert!(v
            .save(
                tmp("bad.npz"),
                &[ExtraArray {
                    name: "x",
                    shape: &[3],
                    data: ExtraData::U8(&[1]),
                }],
                None,
            )
            .is_err());
        assert!(!tmp("bad.npz").exists());
    }

    #[test]
    fn loading_bad_archives_names_the_file_and_the_problem() {
        let (traces, coords) = hand_example();
        let v = voxelise(&[input("hand.npy", &traces, &coords)], &cfg(10.0, 2, 0.0)).unwrap();
        let p = tmp("good.npz");
        v.save(&p, &[], None).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        // Truncated archive and garbage.
        let t = tmp("trunc.npz");
        std::fs::write(&t, &bytes[..bytes.len() / 2]).unwrap();
        let e = Voxelised::load(&t).unwrap_err().to_string();
        assert!(e.contains("trunc.npz"), "{e}");
        let g = tmp("garbage.npz");
        std::fs::write(&g, b"this is not a zip archive at all").unwrap();
        let e = Voxelised::load(&g).unwrap_err().to_string();
        assert!(e.contains("garbage.npz"), "{e}");
        let e = Voxelised::load(tmp("missing.npz")).unwrap_err().to_string();
        assert!(e.contains("missing.npz"), "{e}");
        // Missing arrays: an archive holding only some of them.
        let m = tmp("partial.npz");
        {
            let mut npz = npyz::npz::NpzWriter::create(&m).unwrap();
            write_array(&mut npz, "centres", &[1, 3], [0.0f64, 0.0, 0.0], &m).unwrap();
        }
        let e = Voxelised::load(&m).unwrap_err().to_string();
        assert!(
            e.contains("partial.npz") && e.contains("missing array \"grid_origin\""),
            "{e}"
        );
        // Wrong shape: centres [1, 2].
        let w = tmp("shape.npz");
        {
            let mut npz = npyz::npz::NpzWriter::create(&w).unwrap();
            write_array(&mut npz, "centres", &[1, 2], [0.0f64, 0.0], &w).unwrap();
        }
        let e = Voxelised::load(&w).unwrap_err().to_string();
        assert!(
            e.contains("shape.npz") && e.contains("\"centres\" has shape [1, 2]"),
            "{e}"
        );
        // Wrong dtype: centres stored as f32.
        let d = tmp("dtype.npz");
        {
            let mut npz = npyz::npz::NpzWriter::create(&d).unwrap();
            write_array(&mut npz, "centres", &[1, 3], [0.0f32, 0.0, 0.0], &d).unwrap();
        }
        let e = Voxelised::load(&d).unwrap_err().to_string();
        assert!(
            e.contains("dtype.npz") && e.contains("has dtype float32, expected float64"),
            "{e}"
        );
    }
}
