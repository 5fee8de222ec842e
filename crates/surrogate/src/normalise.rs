//! Input standardisation and target scaling of the surrogates, fitted on the training rows and
//! stored in the model's JSON sidecar.
//!
//! Every constant that enters a forward pass is rounded to an `f32` value when fitted (the
//! networks run in `f32`), and rounded again when read back: `serde_json` parses `f64` with
//! "best effort" precision, and re-rounding to `f32` makes a loaded model's constants — hence its
//! predictions — bit-identical to the saved ones.

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::{Result, SurrogateError};

/// `x` rounded to the nearest `f32`, as an `f64`.
pub fn f32_exact(x: f64) -> f64 {
    x as f32 as f64
}

/// Per-coordinate standardisation `z = (x − mean) / std`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardiser {
    /// Mean of each coordinate over the fitting rows.
    pub mean: Vec<f64>,
    /// Population standard deviation of each coordinate (1 for a constant coordinate).
    pub std: Vec<f64>,
}

impl Standardiser {
    /// Fits mean and std of each coordinate over `rows` (all of length `dim`).
    /// A coordinate with (relative) zero spread gets std 1, so it maps to a constant.
    pub fn fit<'a>(rows: impl IntoIterator<Item = &'a [f64]>, dim: usize) -> Result<Self> {
        let mut n = 0usize;
        let mut sum = vec![0.0; dim];
        let mut sum2 = vec![0.0; dim];
        let rows: Vec<&[f64]> = rows.into_iter().collect();
        for row in &rows {
            if row.len() != dim {
                return Err(SurrogateError::Input(format!(
                    "standardiser: row of length {} where {dim} was expected",
                    row.len()
                )));
            }
            if row.iter().any(|x| !x.is_finite()) {
                return Err(SurrogateError::Input(
                    "standardiser: non-finite input value".into(),
                ));
            }
            n += 1;
            for (k, &x) in row.iter().enumerate() {
                sum[k] += x;
            }
        }
        if n == 0 {
            return Err(SurrogateError::Input(
                "standardiser: no rows to fit on".into(),
            ));
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n as f64).collect();
        // Two passes: the coefficients differ by orders of magnitude (σ ~ 1e-3, G ~ 1), and a
        // one-pass variance would lose the small ones.
        for row in &rows {
            for (k, &x) in row.iter().enumerate() {
                sum2[k] += (x - mean[k]).powi(2);
            }
        }
        let std = sum2
            .iter()
            .zip(&mean)
            .map(|(s2, m)| {
                let sd = (s2 / n as f64).sqrt();
                if sd.is_finite() && sd > 1e-12 * m.abs() && sd > 1e-30 {
                    f32_exact(sd)
                } else {
                    1.0
                }
            })
            .collect();
        Ok(Self {
            mean: mean.into_iter().map(f32_exact).collect(),
            std,
        })
    }

    /// The identity map on `dim` coordinates.
    pub fn identity(dim: usize) -> Self {
        Self {
            mean: vec![0.0; dim],
            std: vec![1.0; dim],
        }
    }

    /// Number of coordinates.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Standardises one row on the host.
    pub fn apply(&self, row: &[f64]) -> Vec<f64> {
        row.iter()
            .zip(self.mean.iter().zip(&self.std))
            .map(|(x, (m, s))| (x - m) / s)
            .collect()
    }

    /// Undoes [`apply`](Self::apply) on one row.
    pub fn invert(&self, z: &[f64]) -> Vec<f64> {
        z.iter()
            .zip(self.mean.iter().zip(&self.std))
            .map(|(z, (m, s))| z * s + m)
            .collect()
    }

    /// Re-rounds the constants to `f32` values (after deserialisation) and checks them.
    pub fn sanitised(mut self, what: &str) -> Result<Self> {
        if self.mean.len() != self.std.len() {
            return Err(SurrogateError::Config(format!(
                "{what}: mean and std have different lengths"
            )));
        }
        if self.mean.iter().chain(&self.std).any(|x| !x.is_finite())
            || self.std.iter().any(|s| *s <= 0.0)
        {
            return Err(SurrogateError::Config(format!(
                "{what}: non-finite mean or non-positive std"
            )));
        }
        self.mean.iter_mut().for_each(|x| *x = f32_exact(*x));
        self.std.iter_mut().for_each(|x| *x = f32_exact(*x));
        Ok(self)
    }

    /// `(mean, 1/std)` as `[1, dim]` tensors, for `(x − mean) · inv_std` on a device.
    pub fn tensors(&self, device: &Device) -> (Tensor<2>, Tensor<2>) {
        let d = self.dim();
        let mean: Vec<f32> = self.mean.iter().map(|&x| x as f32).collect();
        let inv: Vec<f32> = self.std.iter().map(|&x| 1.0 / x as f32).collect();
        (
            Tensor::<2>::from_data(TensorData::new(mean, [1, d]), device),
            Tensor::<2>::from_data(TensorData::new(inv, [1, d]), device),
        )
    }
}

/// Affine scaling of the two regression targets, fitted on the valid training rows:
/// the networks predict `(fc − fc_mean)/fc_std` and `(ks − ks_mean)/ks_std`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TargetScale {
    pub fc_mean: f64,
    pub fc_std: f64,
    pub ks_mean: f64,
    pub ks_std: f64,
}

impl Default for TargetScale {
    fn default() -> Self {
        Self {
            fc_mean: 0.0,
            fc_std: 1.0,
            ks_mean: 0.0,
            ks_std: 1.0,
        }
    }
}

impl TargetScale {
    /// Fits mean and std of the FC and KS costs over the given (valid) rows. With fewer than
    /// two rows or no spread, the std falls back to 1.
    pub fn fit(fc: &[f64], ks: &[f64]) -> Self {
        let stats = |v: &[f64]| -> (f64, f64) {
            if v.is_empty() {
                return (0.0, 1.0);
            }
            let n = v.len() as f64;
            let m = v.iter().sum::<f64>() / n;
            let sd = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt();
            let sd = if sd.is_finite() && sd > 1e-12 {
                sd
            } else {
                1.0
            };
            (f32_exact(m), f32_exact(sd))
        };
        let (fc_mean, fc_std) = stats(fc);
        let (ks_mean, ks_std) = stats(ks);
        Self {
            fc_mean,
            fc_std,
            ks_mean,
            ks_std,
        }
    }

    /// Re-rounds to `f32` values (after deserialisation) and checks them.
    pub fn sanitised(self) -> Result<Self> {
        let v = [self.fc_mean, self.fc_std, self.ks_mean, self.ks_std];
        if v.iter().any(|x| !x.is_finite()) || self.fc_std <= 0.0 || self.ks_std <= 0.0 {
            return Err(SurrogateError::Config(
                "target scale: non-finite mean or non-positive std".into(),
            ));
        }
        Ok(Self {
            fc_mean: f32_exact(self.fc_mean),
            fc_std: f32_exact(self.fc_std),
            ks_mean: f32_exact(self.ks_mean),
            ks_std: f32_exact(self.ks_std),
        })
    }

    /// Scaled FC cost.
    pub fn scale_fc(&self, fc: f64) -> f64 {
        (fc - self.fc_mean) / self.fc_std
    }

    /// Scaled KS cost.
    pub fn scale_ks(&self, ks: f64) -> f64 {
        (ks - self.ks_mean) / self.ks_std
    }

    /// Network output `[B, 3]` (scaled fc, scaled ks, validity logit) → `[B, 3]`
    /// (fc, ks in cost units, P(valid)). Differentiable.
    pub fn unscale_tensor(&self, out: Tensor<2>) -> Tensor<2> {
        let [b, _] = out.dims();
        let fc = out
            .clone()
            .slice([0..b, 0..1])
            .mul_scalar(self.fc_std)
            .add_scalar(self.fc_mean);
        let ks = out
            .clone()
            .slice([0..b, 1..2])
            .mul_scalar(self.ks_std)
            .add_scalar(self.ks_mean);
        let p = burn::tensor::activation::sigmoid(out.slice([0..b, 2..3]));
        Tensor::cat(vec![fc, ks, p], 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardiser_centres_and_scales_and_survives_json() {
        let rows: Vec<Vec<f64>> = (0..50)
            .map(|k| vec![k as f64, 0.001 * (k % 7) as f64, 3.0])
            .collect();
        let s = Standardiser::fit(rows.iter().map(|r| r.as_slice()), 3).unwrap();
        let z: Vec<Vec<f64>> = rows.iter().map(|r| s.apply(r)).collect();
        for k in 0..2 {
            let m = z.iter().map(|r| r[k]).sum::<f64>() / 50.0;
            let v = z.iter().map(|r| (r[k] - m).powi(2)).sum::<f64>() / 50.0;
            assert!(m.abs() < 1e-6, "coordinate {k} mean {m}");
            assert!((v - 1.0).abs() < 1e-5, "coordinate {k} var {v}");
        }
        // The constant coordinate keeps std 1.
        assert_eq!(s.std[2], 1.0);
        let back = s.invert(&z[5]);
        assert!((back[0] - 5.0).abs() < 1e-9);
        let json = serde_json::to_string(&s).unwrap();
        let s2: Standardiser = serde_json::from_str(&json).unwrap();
        assert_eq!(s2.sanitised("x").unwrap(), s);
        assert!(Standardiser::fit(std::iter::empty(), 3).is_err());
    }

    #[test]
    fn target_scale_round_trips() {
        let t = TargetScale::fit(&[0.2, 0.4, 0.9], &[0.1, 0.1, 0.3]);
        let fc = 0.7;
        let z = t.scale_fc(fc);
        assert!((z * t.fc_std + t.fc_mean - fc).abs() < 1e-12);
        let constant = TargetScale::fit(&[0.5, 0.5], &[]);
        assert_eq!(constant.fc_std, 1.0);
        assert_eq!(constant.ks_std, 1.0);
    }
}
