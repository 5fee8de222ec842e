//! Continuous recordings: T frames × N units (voxel signals, ΔF/F traces), dense,
//! row-major f32. The Gaussian-visible cRBM ([`crate::gauss`]) trains on these;
//! binary rasters convert with [`Frames::from_sparse`].

use crate::batch::SparseBatch;
use crate::error::{CrbmError, Result};

/// Dense frames, `values[t·n_units + i]` = unit i at frame t.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frames {
    pub n_units: usize,
    /// Shape [T, N], row-major.
    pub values: Vec<f32>,
}

impl Frames {
    /// Checked constructor: `values.len()` must be a multiple of `n_units` (≥ 1) and
    /// every value finite; `what` names the source in errors (a file, a generator).
    pub fn new(n_units: usize, values: Vec<f32>, what: &str) -> Result<Self> {
        if n_units == 0 || values.is_empty() || values.len() % n_units != 0 {
            return Err(CrbmError::Shape {
                what: format!("{what}: values (T·N with N = {n_units})"),
                expected: n_units.max(1),
                got: values.len(),
            });
        }
        if let Some(k) = values.iter().position(|x| !x.is_finite()) {
            return Err(CrbmError::Data {
                path: what.into(),
                reason: format!(
                    "non-finite value at frame {}, unit {}",
                    k / n_units,
                    k % n_units
                ),
            });
        }
        Ok(Self { n_units, values })
    }

    /// 0/1 frames of a binary raster.
    pub fn from_sparse(raster: &SparseBatch) -> Self {
        let n = raster.n_visible;
        let mut values = vec![0f32; raster.len() * n];
        for (t, row) in raster.rows.iter().enumerate() {
            for &i in row {
                values[t * n + i as usize] = 1.0;
            }
        }
        Self { n_units: n, values }
    }

    /// Number of frames T.
    pub fn len(&self) -> usize {
        self.values.len() / self.n_units.max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Frame t, shape [N].
    pub fn row(&self, t: usize) -> &[f32] {
        &self.values[t * self.n_units..(t + 1) * self.n_units]
    }

    /// Frames `idx`, copied.
    pub fn select(&self, idx: &[usize]) -> Self {
        let mut values = Vec::with_capacity(idx.len() * self.n_units);
        idx.iter()
            .for_each(|&t| values.extend_from_slice(self.row(t)));
        Self {
            n_units: self.n_units,
            values,
        }
    }

    /// Per-unit mean and (population) variance over frames, accumulated in f64; shape [N] each.
    pub fn mean_var(&self) -> (Vec<f64>, Vec<f64>) {
        let n = self.n_units;
        let (mut s, mut s2) = (vec![0f64; n], vec![0f64; n]);
        for row in self.values.chunks_exact(n) {
            for i in 0..n {
                let x = row[i] as f64;
                s[i] += x;
                s2[i] += x * x;
            }
        }
        let t = self.len().max(1) as f64;
        let mean: Vec<f64> = s.iter().map(|x| x / t).collect();
        let var = s2
            .iter()
            .zip(&mean)
            .map(|(x2, m)| (x2 / t - m * m).max(0.0))
            .collect();
        (mean, var)
    }

    /// Whether every value is 0 or 1 (a binary raster stored densely).
    pub fn is_binary(&self) -> bool {
        self.values.iter().all(|&x| x == 0.0 || x == 1.0)
    }

    /// Each unit shifted to mean 0 and scaled to sd 1 over the frames. A unit with
    /// zero variance is an error naming it (`what` names the source).
    pub fn z_scored(&self, what: &str) -> Result<Self> {
        let (mean, var) = self.mean_var();
        if let Some(i) = var.iter().position(|&v| !(v > 1e-12)) {
            return Err(CrbmError::Data {
                path: what.into(),
                reason: format!("unit {i} is constant over the frames (cannot z-score)"),
            });
        }
        let n = self.n_units;
        let sd: Vec<f64> = var.iter().map(|v| v.sqrt()).collect();
        let values = self
            .values
            .iter()
            .enumerate()
            .map(|(k, &x)| ((x as f64 - mean[k % n]) / sd[k % n]) as f32)
            .collect();
        Ok(Self { n_units: n, values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z_scoring_gives_zero_mean_unit_variance_and_refuses_constant_units() {
        let f = Frames::new(2, vec![1.0, 5.0, 3.0, 5.0, 8.0, 5.0], "t").unwrap();
        assert_eq!(f.len(), 3);
        let e = f.z_scored("t").unwrap_err().to_string();
        assert!(e.contains("unit 1") && e.contains("constant"), "{e}");
        let g = Frames::new(2, vec![1.0, 5.0, 3.0, 4.0, 8.0, 5.5], "t").unwrap();
        let (m, v) = g.z_scored("t").unwrap().mean_var();
        for i in 0..2 {
            assert!(
                m[i].abs() < 1e-6 && (v[i] - 1.0).abs() < 1e-5,
                "{m:?} {v:?}"
            );
        }
    }

    #[test]
    fn constructor_refuses_ragged_and_non_finite_values() {
        assert!(Frames::new(2, vec![1.0; 3], "x").is_err());
        let e = Frames::new(2, vec![1.0, f32::NAN], "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("non-finite") && e.contains("unit 1"), "{e}");
        let r = SparseBatch::from_dense(3, &[vec![1, 0, 1], vec![0, 1, 0]]);
        let f = Frames::from_sparse(&r);
        assert_eq!(f.values, vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
        assert!(f.is_binary());
    }
}
