//! Standard-normal noise for the Euler–Maruyama scheme, in the reference's layout: one
//! realisation per duplicate shared by all parameter sets of that duplicate (common random
//! numbers), drawn per step as a block [n_dup, regions]. The warm-up steps come first.

use crate::data::{read_npy, DataError};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::path::{Path, PathBuf};

/// A source of ξ ~ N(0, 1) in step order.
pub trait NoiseSource {
    /// Fills `out` (length `steps·n_dup·regions`, layout [steps, n_dup, regions]) with the
    /// next `steps` blocks of noise.
    fn fill(&mut self, out: &mut [f64], steps: usize) -> Result<(), NoiseError>;
}

/// Errors of noise sources.
#[derive(Debug, thiserror::Error)]
pub enum NoiseError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("{path}: noise array has shape {shape:?}, expected [steps ≥ {needed}, {n_dup}, {regions}] (float64, standard normals; the warm-up steps first)")]
    Shape {
        path: PathBuf,
        shape: Vec<usize>,
        needed: usize,
        n_dup: usize,
        regions: usize,
    },
    #[error("{path}: noise runs out after {available} steps; the simulation needs {needed}")]
    Exhausted {
        path: PathBuf,
        available: usize,
        needed: usize,
    },
    #[error("{path}: non-finite noise value at flat index {index}")]
    NonFinite { path: PathBuf, index: usize },
}

/// Seeded Gaussian noise (ChaCha8, stable across platforms and rand versions).
pub struct SeededNoise {
    rng: ChaCha8Rng,
}

impl SeededNoise {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }
}

impl NoiseSource for SeededNoise {
    fn fill(&mut self, out: &mut [f64], _steps: usize) -> Result<(), NoiseError> {
        for x in out.iter_mut() {
            *x = StandardNormal.sample(&mut self.rng);
        }
        Ok(())
    }
}

/// No noise at all (ξ = 0): with it, or with σ = 0, the simulation is deterministic.
pub struct ZeroNoise;

impl NoiseSource for ZeroNoise {
    fn fill(&mut self, out: &mut [f64], _steps: usize) -> Result<(), NoiseError> {
        out.fill(0.0);
        Ok(())
    }
}

/// Noise read from a `.npy` file of shape [warm-up + steps, n_dup, regions] (float64), so that
/// other implementations can be cross-checked step by step.
pub struct FileNoise {
    path: PathBuf,
    data: Vec<f64>,
    cursor: usize,
}

impl FileNoise {
    /// Loads and checks the file against the simulation's needs.
    pub fn open(
        path: &Path,
        total_steps: usize,
        n_dup: usize,
        regions: usize,
    ) -> Result<Self, NoiseError> {
        let (shape, data) = read_npy(path)?;
        let ok =
            shape.len() == 3 && shape[1] == n_dup && shape[2] == regions && shape[0] >= total_steps;
        if !ok {
            return Err(NoiseError::Shape {
                path: path.to_owned(),
                shape,
                needed: total_steps,
                n_dup,
                regions,
            });
        }
        if let Some(index) = data.iter().position(|x| !x.is_finite()) {
            return Err(NoiseError::NonFinite {
                path: path.to_owned(),
                index,
            });
        }
        Ok(Self {
            path: path.to_owned(),
            data,
            cursor: 0,
        })
    }
}

impl NoiseSource for FileNoise {
    fn fill(&mut self, out: &mut [f64], _steps: usize) -> Result<(), NoiseError> {
        let end = self.cursor + out.len();
        if end > self.data.len() {
            return Err(NoiseError::Exhausted {
                path: self.path.clone(),
                available: self.data.len(),
                needed: end,
            });
        }
        out.copy_from_slice(&self.data[self.cursor..end]);
        self.cursor = end;
        Ok(())
    }
}
