//! Quadratic response-surface baseline: a linear model on `[1, z, z_i z_j (i ≤ j)]`.
//!
//! Fitted by the shared gradient-descent loop (not closed-form least squares), so the validity
//! output is a logistic regression on the same features and the model trains, saves and
//! differentiates like the others.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::samples::THETA_DIM;

/// Number of quadratic features of a `d`-vector without the constant: `d + d(d+1)/2`.
pub const fn n_features(d: usize) -> usize {
    d + d * (d + 1) / 2
}

/// One linear layer (its bias is the constant feature) on the quadratic features.
#[derive(Module, Debug)]
pub struct QuadraticNet {
    pub linear: Linear,
}

impl QuadraticNet {
    pub(crate) fn new(device: &Device) -> Self {
        Self {
            linear: LinearConfig::new(n_features(THETA_DIM), 3).init(device),
        }
    }

    /// Standardised θ `[B, 10]` → `[B, 3]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        self.linear.forward(quadratic_features(z))
    }
}

/// `[B, d]` → `[B, d + d(d+1)/2]`: `z`, then `z_i z_j` for `i ≤ j` in row-major order.
pub fn quadratic_features(z: Tensor<2>) -> Tensor<2> {
    let [b, d] = z.dims();
    let mut parts = Vec::with_capacity(d + 1);
    parts.push(z.clone());
    for i in 0..d {
        let zi = z.clone().slice([0..b, i..i + 1]);
        parts.push(z.clone().slice([0..b, i..d]) * zi);
    }
    Tensor::cat(parts, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn features_are_the_upper_triangle_products() {
        let device = Device::flex();
        let z = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [1, 3]), &device);
        let f = quadratic_features(z)
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        assert_eq!(f, vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 4.0, 6.0, 9.0]);
        assert_eq!(n_features(3), 9);
    }
}
