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

/// A noise source read in f32 blocks of at most `chunk` steps, for the engines that integrate in
/// f32 (fused CPU, GPU kernel): `while let Some((step0, steps, xi)) = chunks.next()? { … }` with
/// `xi` laid out [steps, n_dup, regions].
pub(crate) struct F32Chunks<'a> {
    noise: &'a mut dyn NoiseSource,
    /// Values per step (n_dup·regions).
    per_step: usize,
    chunk: usize,
    total: usize,
    done: usize,
    host: Vec<f64>,
    xi: Vec<f32>,
}

impl<'a> F32Chunks<'a> {
    /// `total` steps of `per_step` values, `chunk` (≥ 1) steps at a time.
    pub(crate) fn new(
        noise: &'a mut dyn NoiseSource,
        per_step: usize,
        chunk: usize,
        total: usize,
    ) -> Self {
        let chunk = chunk.max(1);
        Self {
            noise,
            per_step,
            chunk,
            total,
            done: 0,
            host: vec![0.0; chunk * per_step],
            xi: vec![0.0; chunk * per_step],
        }
    }

    /// The next block: its first step, its number of steps and its values; `None` at the end.
    pub(crate) fn next(&mut self) -> Result<Option<(usize, usize, &[f32])>, NoiseError> {
        if self.done >= self.total {
            return Ok(None);
        }
        let (step0, k) = (self.done, self.chunk.min(self.total - self.done));
        let len = k * self.per_step;
        self.noise.fill(&mut self.host[..len], k)?;
        for (a, &h) in self.xi.iter_mut().zip(&self.host[..len]) {
            *a = h as f32;
        }
        self.done += k;
        Ok(Some((step0, k, &self.xi[..len])))
    }
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
