//! Multilayer perceptron on standardised θ.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::{Activation, Dropper, ModelConfig};
use crate::samples::THETA_DIM;

/// `depth` hidden layers of `width` units, then one linear layer to the three outputs.
#[derive(Module, Debug)]
pub struct MlpNet {
    pub hidden: Vec<Linear>,
    pub head: Linear,
}

impl MlpNet {
    pub(crate) fn new(config: &ModelConfig, device: &Device) -> Self {
        let mut hidden = Vec::with_capacity(config.depth);
        let mut d_in = THETA_DIM;
        for _ in 0..config.depth {
            hidden.push(LinearConfig::new(d_in, config.width).init(device));
            d_in = config.width;
        }
        Self {
            hidden,
            head: LinearConfig::new(d_in, 3).init(device),
        }
    }

    /// Standardised θ `[B, 10]` → `[B, 3]`.
    pub(crate) fn forward(
        &self,
        z: Tensor<2>,
        activation: Activation,
        mut dropper: Option<&mut Dropper>,
    ) -> Tensor<2> {
        let mut x = z;
        for layer in &self.hidden {
            x = activation.apply(layer.forward(x));
            if let Some(d) = dropper.as_deref_mut() {
                x = d.apply(x);
            }
        }
        self.head.forward(x)
    }
}
