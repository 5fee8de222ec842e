//! Where the visible units of a Gaussian-visible model come from: a `voxelize` archive,
//! traces (voxelised on a grid when coordinates are given, else one unit per column), or
//! the voxelised synthetic brain. Shared by `train-crbm --visible gaussian` and the λ
//! sweep, so both build the synthetic default the same way.

use std::path::PathBuf;

use super::fit::Truth;
use crate::brain::{synthetic_voxels, BrainConfig};
use crate::data::{load_coordinates, load_traces};
use crate::error::{CrbmError, Result};
use crate::frames::Frames;
use crate::voxel::{load_truth, voxelise, RecordingInput, VoxelConfig, Voxelised};

/// Voxel edge of the synthetic default, µm: a few hundred units for the default brain
/// (6,000 neurons → 494 voxels), so a model trains in minutes on 2 cores.
pub const SYNTHETIC_VOXEL_SIZE: f64 = 40.0;
/// Voxel edge for traces with coordinates, µm (the study's grid).
pub const TRACES_VOXEL_SIZE: f64 = 20.0;
/// Share of a voxel's neurons that must belong to an assembly for the voxel to count as
/// a member of it in the planted truth.
pub const MEMBER_FRACTION: f64 = 0.5;

/// Where the voxel signals of a Gaussian-visible fit come from.
#[derive(Clone, Debug)]
pub enum GaussSource {
    /// A `voxelize` archive, recording `recording`.
    Voxels { path: PathBuf, recording: usize },
    /// Traces (frames × units); with coordinates they are voxelised first, else each
    /// column is a unit.
    Traces {
        path: PathBuf,
        key: Option<String>,
        coords: Option<(PathBuf, Option<String>)>,
        voxel_size: f64,
    },
    /// The built-in whole-brain generator (all its fish on one grid), voxelised.
    Synthetic { brain: BrainConfig, voxel_size: f64 },
}

/// z-scored frames of the visible units of one recording, the planted truth if known, and
/// a name.
pub struct GaussInput {
    pub frames: Frames,
    pub truth: Option<Truth>,
    pub dataset: String,
    /// Voxel centres, [K] × 3 µm (empty for traces without coordinates).
    pub centres: Vec<[f64; 3]>,
}

/// Every recording of a source on one grid (several only for a multi-fish archive or a
/// synthetic brain with `n_fish > 1`).
pub struct GaussRecordings {
    /// z-scored voxel signals per recording, each [T_r, K].
    pub recordings: Vec<Frames>,
    /// Voxel centres, [K] × 3 µm (empty for traces without coordinates).
    pub centres: Vec<[f64; 3]>,
    pub truth: Option<Truth>,
    pub dataset: String,
}

/// Load (and if needed voxelise and z-score) one recording's visible units.
pub fn load_input(source: &GaussSource) -> Result<GaussInput> {
    let wanted = match source {
        GaussSource::Voxels { recording, .. } => *recording,
        _ => 0,
    };
    let mut all = load_recordings(source)?;
    if wanted >= all.recordings.len() {
        let path = match source {
            GaussSource::Voxels { path, .. } => path.clone(),
            _ => PathBuf::new(),
        };
        return Err(CrbmError::Data {
            path,
            reason: format!(
                "recording {wanted}: the archive holds {} recording(s)",
                all.recordings.len()
            ),
        });
    }
    let dataset = match source {
        GaussSource::Voxels { path, recording } => format!("{} [{recording}]", path.display()),
        _ => all.dataset,
    };
    Ok(GaussInput {
        frames: all.recordings.swap_remove(wanted),
        truth: all.truth,
        dataset,
        centres: all.centres,
    })
}

/// Load every recording of a source on its common grid.
pub fn load_recordings(source: &GaussSource) -> Result<GaussRecordings> {
    match source {
        GaussSource::Voxels { path, .. } => {
            let v = Voxelised::load(path)?;
            let truth = load_truth(path)?.map(|(couplings, assemblies)| Truth {
                couplings,
                assemblies,
            });
            Ok(GaussRecordings {
                centres: v.centres.clone(),
                recordings: v.recordings.into_iter().map(|r| r.signals).collect(),
                truth,
                dataset: path.display().to_string(),
            })
        }
        GaussSource::Traces {
            path,
            key,
            coords,
            voxel_size,
        } => {
            let traces = load_traces(path, key.as_deref())?;
            let name = path.display().to_string();
            let (frames, centres) = match coords {
                Some((c, ck)) => {
                    let xyz = load_coordinates(c, ck.as_deref(), Some(traces.n_units))?;
                    let config = VoxelConfig {
                        voxel_size: *voxel_size,
                        ..Default::default()
                    };
                    let input = RecordingInput {
                        name: &name,
                        traces: &traces,
                        coordinates: &xyz,
                    };
                    let mut v = voxelise(&[input], &config)?;
                    let centres = v.centres.clone();
                    (v.recordings.remove(0).signals, centres)
                }
                None => (traces.z_scored(&name)?, Vec::new()),
            };
            Ok(GaussRecordings {
                recordings: vec![frames],
                centres,
                truth: None,
                dataset: name,
            })
        }
        GaussSource::Synthetic { brain, voxel_size } => {
            let config = VoxelConfig {
                voxel_size: *voxel_size,
                ..Default::default()
            };
            let (_, v, t) = synthetic_voxels(brain, &config, MEMBER_FRACTION)?;
            Ok(GaussRecordings {
                centres: v.centres.clone(),
                recordings: v.recordings.into_iter().map(|r| r.signals).collect(),
                truth: Some(Truth {
                    couplings: t.coupling,
                    assemblies: t.assemblies,
                }),
                dataset: format!(
                    "synthetic brain (N={}, T={}, A={}, fish {}, seed {}, {voxel_size} µm voxels)",
                    brain.n_neurons, brain.n_frames, brain.n_assemblies, brain.n_fish, brain.seed
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_synthetic_source_gives_every_fish_on_one_grid_with_its_truth() {
        let brain = BrainConfig {
            n_neurons: 800,
            n_frames: 200,
            n_fish: 2,
            ..Default::default()
        };
        let src = GaussSource::Synthetic {
            brain,
            voxel_size: 80.0,
        };
        let all = load_recordings(&src).unwrap();
        assert_eq!(all.recordings.len(), 2);
        let k = all.recordings[0].n_units;
        assert!(k > 5 && all.recordings[1].n_units == k && all.centres.len() == k);
        assert_eq!(all.truth.as_ref().unwrap().couplings.len(), k * k);
        let one = load_input(&src).unwrap();
        assert_eq!(one.frames, all.recordings[0]);
    }
}
