//! Group region-token model (`group_tokens`): DELSSOME's group-level predictor, whose inputs are
//! θ and the group's SC, maps, empirical FC and empirical FCD.
//!
//! * Region i's token is `[w_i, I_i, σ_i, (G·C)_i1 … (G·C)_in]` on the row's *group's*
//!   connectome (`C = SC / max(SC) · 0.2`, maps from the group), standardised as in
//!   [`super::tokens`], embedded linearly to `d_model` and passed through a pre-norm
//!   transformer encoder, then mean-pooled over regions (DELSSOME: a class token).
//! * The group's empirical FC upper triangle `[n(n−1)/2]` and its FCD CDF at
//!   [`FCD_POINTS`](crate::groups::FCD_POINTS) points are each embedded by
//!   `Linear → LayerNorm → activation → Linear` to `d_model`.
//! * Heads (one hidden layer each): pooled ⊕ FC embedding → scaled FC cost; pooled ⊕ FCD
//!   embedding → scaled KS cost; pooled → validity logit. The targets are scaled as for every
//!   family (DELSSOME: `2·sigmoid` and `sigmoid` outputs on raw costs).
//!
//! The group of each row arrives as its index (column 10 of the input `[B, 11]`) into the
//! stacked group tensors of [`GroupTensors`]; θ alone `[B, 10]` is for the active group (the
//! last one stacked).

use burn::module::Module;
use burn::nn::transformer::TransformerEncoder;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::tokens::{encode_pooled, token_layers, ConnectomeTensors};
use super::{Activation, Conditioning, Dropper, ModelConfig};
use crate::error::Result;
use crate::groups::{raw_parts, FCD_POINTS};
use crate::samples::THETA_DIM;

/// The groups a forward pass can index, stacked on a device (`G` groups, `n` regions).
#[derive(Debug, Clone)]
pub struct GroupTensors {
    n: usize,
    /// `G`.
    count: usize,
    /// `[G, 3n]`: each group's basis rows (1, myelin, gradient).
    basis: Tensor<2>,
    /// `[G, n²]`: each group's coupling matrix `C`.
    coupling: Tensor<2>,
    /// `[G, n(n−1)/2]`: empirical FC upper triangles.
    fc: Tensor<2>,
    /// `[G, FCD_POINTS]`: empirical FCD CDFs (ending at 1).
    fcd: Tensor<2>,
}

impl GroupTensors {
    /// The [`Conditioning::visible`] groups of a raw-input conditioning.
    pub(crate) fn new(c: &Conditioning, device: &Device) -> Result<Self> {
        let n = c.n_regions;
        let tri = n * (n - 1) / 2;
        let (mut basis, mut coupling, mut fc, mut fcd) = (vec![], vec![], vec![], vec![]);
        for v in c.visible() {
            let ct = ConnectomeTensors::new(&c.connectome_of(v), device)?;
            basis.push(ct.basis.reshape([1, 3 * n]));
            coupling.push(ct.coupling.reshape([1, n * n]));
            let parts = raw_parts(v, n);
            fc.extend(parts.fc_upper.iter().map(|&x| x as f32));
            fcd.extend(parts.fcd_points.iter().map(|&x| x as f32));
        }
        let g = basis.len();
        Ok(Self {
            n,
            count: g,
            basis: Tensor::cat(basis, 0),
            coupling: Tensor::cat(coupling, 0),
            fc: Tensor::<2>::from_data(TensorData::new(fc, [g, tri]), device),
            fcd: Tensor::<2>::from_data(TensorData::new(fcd, [g, FCD_POINTS]), device),
        })
    }
}

/// `Linear → LayerNorm → activation → Linear`: DELSSOME's embedding of a group's FC or FCD.
#[derive(Module, Debug)]
pub struct Embedding {
    pub input: Linear,
    pub norm: LayerNorm,
    pub output: Linear,
}

impl Embedding {
    fn new(width_in: usize, d: usize, device: &Device) -> Self {
        Self {
            input: LinearConfig::new(width_in, d).init(device),
            norm: LayerNormConfig::new(d).init(device),
            output: LinearConfig::new(d, d).init(device),
        }
    }

    fn forward(&self, x: Tensor<2>, activation: Activation) -> Tensor<2> {
        self.output
            .forward(activation.apply(self.norm.forward(self.input.forward(x))))
    }
}

/// One hidden layer and a scalar output.
#[derive(Module, Debug)]
pub struct Head {
    pub hidden: Linear,
    pub out: Linear,
}

impl Head {
    fn new(width_in: usize, d: usize, device: &Device) -> Self {
        Self {
            hidden: LinearConfig::new(width_in, d).init(device),
            out: LinearConfig::new(d, 1).init(device),
        }
    }

    fn forward(
        &self,
        x: Tensor<2>,
        activation: Activation,
        dropper: &mut Option<&mut Dropper>,
    ) -> Tensor<2> {
        let mut h = activation.apply(self.hidden.forward(x));
        if let Some(d) = dropper.as_mut() {
            h = d.apply(h);
        }
        self.out.forward(h)
    }
}

/// Token embedding, encoder, the group embeddings and the three heads.
#[derive(Module, Debug)]
pub struct GroupTokenNet {
    pub embed: Linear,
    pub encoder: TransformerEncoder,
    pub fc_embed: Embedding,
    pub fcd_embed: Embedding,
    pub fc_head: Head,
    pub ks_head: Head,
    pub valid_head: Head,
}

impl GroupTokenNet {
    pub(crate) fn new(config: &ModelConfig, n_regions: usize, device: &Device) -> Self {
        let d = config.d_model;
        let (embed, encoder) = token_layers(config, n_regions, device);
        Self {
            embed,
            encoder,
            fc_embed: Embedding::new(n_regions * (n_regions - 1) / 2, d, device),
            fcd_embed: Embedding::new(FCD_POINTS, d, device),
            fc_head: Head::new(2 * d, d, device),
            ks_head: Head::new(2 * d, d, device),
            valid_head: Head::new(d, d, device),
        }
    }

    /// Raw θ `[B, 10]` (every row on the last of `groups`: the active one) or θ ⊕ group index
    /// `[B, 11]` →
    /// `[B, 3]`. `mean`/`inv_std` are the `[1, 4]` token channel statistics.
    pub(crate) fn forward(
        &self,
        x: Tensor<2>,
        groups: &GroupTensors,
        mean: &Tensor<2>,
        inv_std: &Tensor<2>,
        activation: Activation,
        mut dropper: Option<&mut Dropper>,
    ) -> Tensor<2> {
        let [b, w] = x.dims();
        let n = groups.n;
        let device = x.device();
        let idx = if w > THETA_DIM {
            x.clone()
                .slice([0..b, THETA_DIM..THETA_DIM + 1])
                .reshape([b])
                .int()
        } else {
            Tensor::<1, Int>::full([b], groups.count as i64 - 1, &device)
        };
        let theta = x.slice([0..b, 0..THETA_DIM]);
        // [B, 3, n]: each row's group basis.
        let basis = groups
            .basis
            .clone()
            .select(0, idx.clone())
            .reshape([b, 3, n]);
        let map = |o: usize| {
            theta
                .clone()
                .slice([0..b, o..o + 3])
                .reshape([b, 1, 3])
                .matmul(basis.clone())
                .reshape([b, n])
        };
        // [B, n, 3]: w, I, σ per region.
        let regional = Tensor::stack::<3>(vec![map(0), map(3), map(7)], 2);
        // [B, n, n]: row i is region i's input weights G·C_i· of the row's group.
        let g = theta.slice([0..b, 6..7]).reshape([b, 1, 1]);
        let coupling = groups
            .coupling
            .clone()
            .select(0, idx.clone())
            .reshape([b, n, n]);
        let pooled = encode_pooled(
            &self.embed,
            &self.encoder,
            regional,
            g * coupling,
            mean,
            inv_std,
        );
        let fc_e = self
            .fc_embed
            .forward(groups.fc.clone(), activation)
            .select(0, idx.clone());
        let fcd_e = self
            .fcd_embed
            .forward(groups.fcd.clone(), activation)
            .select(0, idx);
        let fc = self.fc_head.forward(
            Tensor::cat(vec![pooled.clone(), fc_e], 1),
            activation,
            &mut dropper,
        );
        let ks = self.ks_head.forward(
            Tensor::cat(vec![pooled.clone(), fcd_e], 1),
            activation,
            &mut dropper,
        );
        let valid = self.valid_head.forward(pooled, activation, &mut dropper);
        Tensor::cat(vec![fc, ks, valid], 1)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_data::{assert_conditioned_beats_plain, uniform_theta};
    use super::super::test_data::{family_group as group, family_rows as rows};
    use super::super::test_data::{save_load_conditioned, small_group_model};
    use super::super::{theta_tensor, ModelKind, Surrogate};
    use crate::train::TrainConfig;
    use burn::tensor::Device;
    use pmfm_sim::data::EmpiricalData;

    fn fit(levels: &[f64], per_group: usize, epochs: usize) -> Surrogate {
        let groups: Vec<EmpiricalData> = levels.iter().map(|&l| group(l)).collect();
        let train = TrainConfig {
            epochs,
            batch_size: 64,
            learning_rate: 3e-3,
            ..TrainConfig::default()
        };
        Surrogate::fit_groups(
            &rows(levels, per_group, 1),
            &groups,
            &small_group_model(ModelKind::GroupTokens),
            &train,
            &Device::flex(),
            &mut |_| {},
        )
        .unwrap()
        .0
    }

    /// The toy family's FC cost turns on an interaction of θ with the group's FC level, which
    /// only the group's inputs reveal: the group token model learns it on groups it never saw,
    /// where a θ-only MLP trained on the same rows cannot.
    #[test]
    fn a_group_input_the_cost_depends_on_is_learned_on_unseen_groups() {
        let levels = [0.1, 0.15, 0.2, 0.25, 0.35, 0.4, 0.45, 0.5];
        let tokens = fit(&levels, 300, 40);
        let train = TrainConfig {
            epochs: 40,
            batch_size: 64,
            learning_rate: 3e-3,
            ..TrainConfig::default()
        };
        let (plain, _) = Surrogate::fit(
            &rows(&levels, 300, 1),
            None,
            &small_group_model(ModelKind::Mlp),
            &train,
            &Device::flex(),
            &mut |_| {},
        )
        .unwrap();
        assert!(tokens.predict(&uniform_theta(2, 5, 1.0)).is_err());
        assert_conditioned_beats_plain(
            &|level| tokens.condition_on(&group(level)).unwrap(),
            &plain,
            &[0.125, 0.475],
            0.9,
        );
        let e = tokens
            .condition_on(&super::super::test_data::toy_group("other", 9, 0.3, 0.2))
            .unwrap_err()
            .to_string();
        assert!(e.contains("9 regions"), "{e}");
    }

    /// Saved and reloaded, conditioned on an unseen group, the model predicts the same bits; the
    /// tensor route agrees with the host route and its θ-gradient with finite differences; a
    /// training group reached by its row index predicts what conditioning on it predicts.
    #[test]
    fn group_token_model_saves_loads_and_differentiates() {
        let levels = [0.1, 0.3, 0.5];
        let probe = uniform_theta(20, 9, 1.2);
        let base = fit(&levels, 60, 2);
        let l = save_load_conditioned(&base, &group(0.22), &probe, "group-tokens");

        // A sidecar whose group vector lost a value is refused on load, naming the file.
        let dir = std::env::temp_dir().join(format!("group-tokens-cut-{}", std::process::id()));
        base.save(&dir).unwrap();
        let path = dir.join("surrogate.json");
        let mut sidecar: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let groups = &mut sidecar["conditioning"]["groups"];
        let first = groups.as_object_mut().unwrap().values_mut().next().unwrap();
        first.as_array_mut().unwrap().pop();
        std::fs::write(&path, serde_json::to_vec(&sidecar).unwrap()).unwrap();
        let e = Surrogate::load(&dir, &Device::flex())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("surrogate.json") && e.contains("do not match their layout"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let p = l.predict(&probe).unwrap();

        let dev = Device::flex();
        let y = l
            .predict_tensor(theta_tensor(&probe, &dev))
            .into_data()
            .try_into_vec_as::<f64>()
            .unwrap();
        for k in 0..probe.len() {
            assert_eq!(y[3 * k] + y[3 * k + 1], p.total[k]);
        }

        let ad = dev.clone().autodiff();
        let l_ad = l.to_device(&ad);
        let t = theta_tensor(&probe[..1], &ad).require_grad();
        let total = l_ad.predict_tensor(t.clone()).slice([0..1, 0..2]).sum();
        let g: Vec<f64> = t
            .grad(&total.backward())
            .unwrap()
            .into_data()
            .try_into_vec_as::<f64>()
            .unwrap();
        let std = &l.input_norm().std;
        let mut fd = [0.0; 10];
        for j in 0..10 {
            let h = 1e-2 * std[j];
            let (mut up, mut down) = (probe[0], probe[0]);
            up[j] += h;
            down[j] -= h;
            let q = l.predict(&[up, down]).unwrap();
            fd[j] = (q.total[0] - q.total[1]) / (2.0 * h) * std[j];
        }
        let scale = fd.iter().fold(0.0f64, |a, x| a.max(x.abs()));
        for j in 0..10 {
            let a = g[j] * std[j];
            assert!(
                (a - fd[j]).abs() <= 2e-2 * scale + 1e-4,
                "coefficient {j}: autodiff {a} vs finite differences {}",
                fd[j]
            );
        }

        // Training group 0.3 (index 1 in name order) reached through the index column, as in
        // training, predicts what conditioning on it predicts: with those predictions as
        // targets the loss is the validity term alone.
        let on_train = l
            .condition_on(&group(0.3))
            .unwrap()
            .predict(&probe)
            .unwrap();
        let mut data = super::super::test_data::samples(probe.clone(), |_| (0.0, 0.0, true));
        data.fc_cost = on_train.fc.clone();
        data.ks_cost = on_train.ks.clone();
        data.dataset = vec![group(0.3).name; probe.len()];
        let by_index = crate::train::validation_loss(&l, &data).unwrap();
        let bce: f64 = on_train.p_valid.iter().map(|p| -p.ln()).sum::<f64>() / probe.len() as f64;
        let expected = l.train_config().bce_weight * bce;
        assert!(
            (by_index - expected).abs() <= 1e-4 * expected.max(1e-3),
            "loss through the index {by_index} vs validity term of the conditioned model {expected}"
        );
    }
}
