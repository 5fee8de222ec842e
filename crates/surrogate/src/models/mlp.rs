//! Multilayer perceptron on standardised θ (or θ ⊕ a group descriptor for `group_mlp`).

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::{Activation, Dropper, ModelConfig};

/// `depth` hidden layers of `width` units, then one linear layer to the three outputs.
#[derive(Module, Debug)]
pub struct MlpNet {
    pub hidden: Vec<Linear>,
    pub head: Linear,
}

impl MlpNet {
    /// `d_in` inputs: 10 for θ, `10 + D` for θ ⊕ a group descriptor.
    pub(crate) fn new(config: &ModelConfig, d_in: usize, device: &Device) -> Self {
        let mut hidden = Vec::with_capacity(config.depth);
        let mut d_in = d_in;
        for _ in 0..config.depth {
            hidden.push(LinearConfig::new(d_in, config.width).init(device));
            d_in = config.width;
        }
        Self {
            hidden,
            head: LinearConfig::new(d_in, 3).init(device),
        }
    }

    /// Standardised inputs `[B, d_in]` → `[B, 3]`.
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
