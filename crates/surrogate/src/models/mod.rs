//! The surrogate families and the [`Surrogate`] that wraps a trained one.
//!
//! Every network maps raw θ `[B, 10]` to `[B, 3]` = (scaled FC cost, scaled KS cost, validity
//! logit); the FC and KS scalings are undone by the [`TargetScale`] the model was fitted with,
//! and the total cost is `fc + ks`.
//!
//! * [`mlp`]: standardised θ → `depth` hidden layers of `width` → 3 outputs.
//! * [`quadratic`]: features `[1, z, z_i z_j (i ≤ j)]` of standardised θ → one linear layer
//!   (fitted by the same gradient-descent loop as the others, so its validity head is a
//!   logistic regression on the same features).
//! * [`tokens`] (DELSSOME-style): one token per region from `(w_i, I_i, σ_i)` and the region's
//!   row of `G·C`, a transformer encoder, mean pooling, heads. It sees the connectome as an
//!   input, so it can be evaluated on another connectome with the same number of regions.
//! * `group_mlp` ([`conditioning`]): the MLP on θ ⊕ the descriptor of the subject group
//!   (empirical FC and FCD summaries, coupling strength, maps), trained across groups and
//!   evaluated on any group with [`Surrogate::condition_on`].
//! * [`group_tokens`] (DELSSOME's group-level predictor): region tokens on the group's own
//!   connectome and maps, embeddings of its empirical FC and FCD, heads per cost; trained
//!   across groups and conditioned like `group_mlp`.
//!
//! All weights are drawn on the host from a seeded ChaCha stream (not from the device RNG,
//! which is global and shared by every thread), and dropout masks likewise, so one seed on one
//! backend gives bit-identical fits.

pub mod conditioning;
pub mod group_tokens;
pub mod mlp;
pub mod quadratic;
#[cfg(test)]
pub(crate) mod test_data;
pub mod tokens;

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::anchors::Anchor;
use crate::error::{Result, SurrogateError};
use crate::normalise::{Standardiser, TargetScale};
use crate::persist::Provenance;
use crate::samples::{Connectome, THETA_DIM};
use crate::train::{FitSummary, TrainConfig};
use pmfm_sim::data::EmpiricalData;

pub use conditioning::{Conditioning, GroupInput};
pub use group_tokens::{GroupTensors, GroupTokenNet};
pub use mlp::MlpNet;
pub use quadratic::QuadraticNet;
pub use tokens::{ConnectomeTensors, TokenNet};

/// Which surrogate family.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    #[default]
    Mlp,
    Quadratic,
    RegionTokens,
    /// The MLP on θ ⊕ the group's descriptor (see [`conditioning`]).
    GroupMlp,
    /// Region tokens on the group's connectome with embeddings of its FC and FCD (see
    /// [`group_tokens`]).
    GroupTokens,
}

impl ModelKind {
    /// Short name for tables and file names (`mlp`, `quadratic`, `region_tokens`).
    pub fn name(&self) -> &'static str {
        match self {
            ModelKind::Mlp => "mlp",
            ModelKind::Quadratic => "quadratic",
            ModelKind::RegionTokens => "region_tokens",
            ModelKind::GroupMlp => "group_mlp",
            ModelKind::GroupTokens => "group_tokens",
        }
    }

    /// Whether the family is trained across groups and predicts for one after
    /// [`Surrogate::condition_on`].
    pub fn is_grouped(&self) -> bool {
        matches!(self, ModelKind::GroupMlp | ModelKind::GroupTokens)
    }

    /// What a grouped family keeps of each group (`None` for the others).
    pub fn group_input(&self) -> Option<GroupInput> {
        match self {
            ModelKind::GroupMlp => Some(GroupInput::Descriptor),
            ModelKind::GroupTokens => Some(GroupInput::Raw),
            _ => None,
        }
    }
}

/// Hidden-layer nonlinearity of the MLP and of the token model's head.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Relu,
    #[default]
    Gelu,
    Tanh,
    Silu,
}

impl Activation {
    pub fn apply<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        use burn::tensor::activation as a;
        match self {
            Activation::Relu => a::relu(x),
            Activation::Gelu => a::gelu(x),
            Activation::Tanh => a::tanh(x),
            Activation::Silu => a::silu(x),
        }
    }
}

/// Architecture of a surrogate. Fields a family does not use are ignored by it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct ModelConfig {
    pub kind: ModelKind,
    /// MLP: number of hidden layers (0 = linear). Default 3.
    pub depth: usize,
    /// MLP: units per hidden layer. Default 128.
    pub width: usize,
    /// MLP and token head nonlinearity. Default gelu.
    pub activation: Activation,
    /// Dropout probability after each MLP hidden layer and after the token model's pooled
    /// head layer (training only; masks drawn from the training seed). Default 0.
    pub dropout: f64,
    /// Token model: embedding size. Default 32.
    pub d_model: usize,
    /// Token model: attention heads (must divide `d_model`). Default 4.
    pub heads: usize,
    /// Token model: encoder layers. Default 2.
    pub layers: usize,
    /// Token model: feed-forward size inside each encoder layer. Default 64.
    pub ff: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            kind: ModelKind::Mlp,
            depth: 3,
            width: 128,
            activation: Activation::Gelu,
            dropout: 0.0,
            d_model: 32,
            heads: 4,
            layers: 2,
            ff: 64,
        }
    }
}

impl ModelConfig {
    /// Defaults for `kind`.
    pub fn of_kind(kind: ModelKind) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

    /// Checks the values once, so the model code can trust them.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(SurrogateError::Config(m));
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return bad(format!("dropout {} is not in [0, 1)", self.dropout));
        }
        match self.kind {
            ModelKind::Mlp | ModelKind::GroupMlp if self.depth > 0 && self.width == 0 => {
                bad("MLP width must be positive".into())
            }
            ModelKind::RegionTokens | ModelKind::GroupTokens
                if self.d_model == 0 || self.heads == 0 || self.layers == 0 || self.ff == 0 =>
            {
                bad("token model d_model, heads, layers and ff must be positive".into())
            }
            ModelKind::RegionTokens | ModelKind::GroupTokens if self.d_model % self.heads != 0 => {
                bad(format!(
                    "token model heads ({}) must divide d_model ({})",
                    self.heads, self.d_model
                ))
            }
            _ => Ok(()),
        }
    }
}

/// The network of one surrogate (a burn module: its parameters are what the record holds).
#[derive(Module, Debug)]
pub enum Net {
    Mlp(MlpNet),
    Quadratic(QuadraticNet),
    Tokens(TokenNet),
    GroupTokens(GroupTokenNet),
}

impl Net {
    /// Builds the network with lazily initialised parameters (nothing is drawn until
    /// [`host_init`] or a record load replaces them). The token model needs `n_regions`, the
    /// group families their `conditioning`.
    pub(crate) fn new(
        config: &ModelConfig,
        n_regions: Option<usize>,
        conditioning: Option<&Conditioning>,
        device: &Device,
    ) -> Result<Net> {
        Ok(match config.kind {
            ModelKind::Mlp => Net::Mlp(MlpNet::new(config, THETA_DIM, device)),
            ModelKind::GroupMlp => {
                let c = conditioning.ok_or_else(|| {
                    SurrogateError::Config("the group MLP needs its groups".into())
                })?;
                Net::Mlp(MlpNet::new(config, c.input_dim(), device))
            }
            ModelKind::Quadratic => Net::Quadratic(QuadraticNet::new(device)),
            ModelKind::RegionTokens => {
                let n = n_regions.ok_or_else(|| {
                    SurrogateError::Config("the region-token model needs a connectome".into())
                })?;
                Net::Tokens(TokenNet::new(config, n, device))
            }
            ModelKind::GroupTokens => {
                let c = conditioning.ok_or_else(|| {
                    SurrogateError::Config("the group token model needs its groups".into())
                })?;
                Net::GroupTokens(GroupTokenNet::new(config, c.n_regions, device))
            }
        })
    }
}

/// Replaces every linear weight by `U(−1/√fan_in, 1/√fan_in)` (burn's default bound) and every
/// bias by 0, drawn on the host from `rng` in traversal order; other parameters (layer-norm
/// scales and shifts) keep their constant initialisation.
pub(crate) fn host_init<M: Module>(module: M, rng: &mut ChaCha8Rng) -> M {
    struct HostInit<'a> {
        rng: &'a mut ChaCha8Rng,
        path: Vec<String>,
    }
    impl ModuleMapper for HostInit<'_> {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let name = self.path.last().map(String::as_str).unwrap_or("");
            let shape = param.lazy_shape();
            let device = param.lazy_device();
            let n = shape.num_elements();
            let values: Vec<f32> = match (name, D) {
                ("weight", 2) => {
                    let bound = 1.0 / (shape[0].max(1) as f32).sqrt();
                    (0..n)
                        .map(|_| (self.rng.random::<f32>() * 2.0 - 1.0) * bound)
                        .collect()
                }
                ("bias", 1) => vec![0.0; n],
                _ => return param,
            };
            Param::from_tensor(Tensor::<D>::from_data(
                TensorData::new(values, shape),
                &device,
            ))
        }
    }
    module.map(&mut HostInit {
        rng,
        path: Vec::new(),
    })
}

/// Training-time dropout with host-drawn masks (see the module docs for why not the device RNG).
pub(crate) struct Dropper {
    rng: ChaCha8Rng,
    p: f64,
}

impl Dropper {
    pub(crate) fn new(p: f64, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(4);
        Self { rng, p }
    }

    /// `x · mask / (1 − p)` with a fresh Bernoulli(1 − p) mask.
    pub(crate) fn apply(&mut self, x: Tensor<2>) -> Tensor<2> {
        if self.p <= 0.0 {
            return x;
        }
        let [b, w] = x.dims();
        let keep = 1.0 - self.p;
        let scale = (1.0 / keep) as f32;
        let mask: Vec<f32> = (0..b * w)
            .map(|_| {
                if self.rng.random::<f64>() < keep {
                    scale
                } else {
                    0.0
                }
            })
            .collect();
        let device = x.device();
        x * Tensor::<2>::from_data(TensorData::new(mask, [b, w]), &device)
    }
}

/// Device-resident constants of a forward pass (normalisation and, for the token model, the
/// connectome it was fitted on).
#[derive(Debug, Clone)]
pub(crate) struct Consts {
    pub input_mean: Tensor<2>,
    pub input_inv_std: Tensor<2>,
    /// Token model: `[1, 4]` mean and 1/std of (w, I, σ, G·C).
    pub token: Option<(Tensor<2>, Tensor<2>)>,
    pub connectome: Option<ConnectomeTensors>,
    /// Group MLP: the active group's descriptor `[1, D]` (appended to θ-only inputs).
    pub condition: Option<Tensor<2>>,
    /// Group token model: the active group, or every training group while training.
    pub groups: Option<GroupTensors>,
}

impl Consts {
    pub(crate) fn new(
        input_norm: &Standardiser,
        token_norm: Option<&Standardiser>,
        connectome: Option<&Connectome>,
        conditioning: Option<&Conditioning>,
        device: &Device,
    ) -> Result<Self> {
        let (input_mean, input_inv_std) = input_norm.tensors(device);
        let descriptors = conditioning.filter(|c| c.input == GroupInput::Descriptor);
        let condition = descriptors.and_then(|c| c.active.as_ref()).map(|(_, d)| {
            let v: Vec<f32> = d.iter().map(|&x| x as f32).collect();
            Tensor::<2>::from_data(TensorData::new(v, [1, d.len()]), device)
        });
        let groups = conditioning
            .filter(|c| c.input == GroupInput::Raw)
            .map(|c| GroupTensors::new(c, device))
            .transpose()?;
        Ok(Self {
            input_mean,
            input_inv_std,
            token: token_norm.map(|t| t.tensors(device)),
            connectome: connectome
                .map(|c| ConnectomeTensors::new(c, device))
                .transpose()?,
            condition,
            groups,
        })
    }

    /// The token channel statistics (mean, 1/std) of a token family.
    fn token_stats(&self) -> (&Tensor<2>, &Tensor<2>) {
        let (mean, inv) = self
            .token
            .as_ref()
            .expect("a token family always carries its token normalisation");
        (mean, inv)
    }
}

/// One forward pass: raw θ `[B, 10]` → `[B, 3]` (scaled fc, scaled ks, validity logit). For
/// the group MLP the input is θ ⊕ descriptor `[B, 10 + D]`, or θ alone when the constants
/// carry an active group's descriptor.
pub(crate) fn forward(
    net: &Net,
    config: &ModelConfig,
    consts: &Consts,
    theta: Tensor<2>,
    connectome: Option<&ConnectomeTensors>,
    dropper: Option<&mut Dropper>,
) -> Tensor<2> {
    match net {
        Net::Mlp(m) => {
            let [b, w] = theta.dims();
            let x = match &consts.condition {
                Some(d) if w == THETA_DIM => {
                    let dim = d.dims()[1];
                    Tensor::cat(vec![theta, d.clone().expand([b, dim])], 1)
                }
                _ => theta,
            };
            let z = (x - consts.input_mean.clone()) * consts.input_inv_std.clone();
            m.forward(z, config.activation, dropper)
        }
        Net::Quadratic(q) => {
            let z = (theta - consts.input_mean.clone()) * consts.input_inv_std.clone();
            q.forward(z)
        }
        Net::Tokens(t) => {
            let ct = connectome
                .or(consts.connectome.as_ref())
                .expect("a token model always carries its connectome");
            let (mean, inv) = consts.token_stats();
            t.forward(theta, ct, mean, inv, config.activation, dropper)
        }
        Net::GroupTokens(t) => {
            let groups = consts
                .groups
                .as_ref()
                .expect("a group token model always carries its groups");
            let (mean, inv) = consts.token_stats();
            t.forward(theta, groups, mean, inv, config.activation, dropper)
        }
    }
}

/// Predicted costs of a batch of θ, in cost units.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Prediction {
    pub fc: Vec<f64>,
    pub ks: Vec<f64>,
    /// `fc + ks`.
    pub total: Vec<f64>,
    /// Predicted probability that θ simulates to valid costs.
    pub p_valid: Vec<f64>,
}

impl Prediction {
    pub fn len(&self) -> usize {
        self.fc.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fc.is_empty()
    }
}

/// A trained surrogate: family, configuration, normalisation, weights and the device they live on.
#[derive(Debug, Clone)]
pub struct Surrogate {
    pub(crate) model: ModelConfig,
    pub(crate) train: TrainConfig,
    pub(crate) input_norm: Standardiser,
    pub(crate) target: TargetScale,
    pub(crate) token_norm: Option<Standardiser>,
    /// The connectome the token model was fitted on (values rounded to `f32`).
    pub(crate) connectome: Option<Connectome>,
    /// The group MLP's training groups and active group.
    pub(crate) conditioning: Option<Conditioning>,
    pub(crate) net: Net,
    /// The device the caller asked for (possibly an autodiff one).
    pub(crate) device: Device,
    pub(crate) consts: Consts,
    pub(crate) provenance: Provenance,
    pub(crate) summary: FitSummary,
    /// Each training group's best simulated θ (kept through fine-tuning; empty in files saved
    /// before anchors were recorded).
    pub(crate) anchors: Vec<Anchor>,
}

impl Surrogate {
    /// Assembles a surrogate from its parts; `net` must already hold its weights.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn assemble(
        model: ModelConfig,
        train: TrainConfig,
        input_norm: Standardiser,
        target: TargetScale,
        token_norm: Option<Standardiser>,
        connectome: Option<Connectome>,
        conditioning: Option<Conditioning>,
        net: Net,
        device: &Device,
        provenance: Provenance,
        summary: FitSummary,
        anchors: Vec<Anchor>,
    ) -> Result<Self> {
        let exec = device.clone().without_autodiff();
        let consts = Consts::new(
            &input_norm,
            token_norm.as_ref(),
            connectome.as_ref(),
            conditioning.as_ref(),
            &exec,
        )?;
        Ok(Self {
            model,
            train,
            input_norm,
            target,
            token_norm,
            connectome,
            conditioning,
            net: net.valid().to_device(&exec),
            device: device.clone(),
            consts,
            provenance,
            summary,
            anchors,
        })
    }

    pub fn kind(&self) -> ModelKind {
        self.model.kind
    }

    /// Number of trainable scalars.
    pub fn n_params(&self) -> usize {
        self.net.num_params()
    }

    /// Each training group's best simulated θ ([`crate::anchors`]), in group-name order.
    pub fn anchors(&self) -> &[Anchor] {
        &self.anchors
    }

    pub fn model_config(&self) -> &ModelConfig {
        &self.model
    }

    pub fn train_config(&self) -> &TrainConfig {
        &self.train
    }

    pub fn input_norm(&self) -> &Standardiser {
        &self.input_norm
    }

    pub fn target_scale(&self) -> &TargetScale {
        &self.target
    }

    /// The connectome a token model was fitted on (`None` for the other families).
    pub fn connectome(&self) -> Option<&Connectome> {
        self.connectome.as_ref()
    }

    /// A grouped family's training groups and active group (`None` for the other families).
    pub fn conditioning(&self) -> Option<&Conditioning> {
        self.conditioning.as_ref()
    }

    /// A copy that predicts for group `g` (grouped families only): `g` may be a training
    /// group or one the model never saw, with the same number of regions.
    pub fn condition_on(&self, g: &EmpiricalData) -> Result<Surrogate> {
        let mut c = self.conditioning.clone().ok_or_else(|| {
            SurrogateError::Input(format!(
                "a {} surrogate is not group-conditioned; only group_mlp and group_tokens take a group",
                self.kind().name()
            ))
        })?;
        c.activate(g)?;
        self.with_conditioning(c)
    }

    /// A copy with conditioning `c` (its active group is what predictions are for), the
    /// device constants that depend on it rebuilt.
    pub(crate) fn with_conditioning(&self, c: Conditioning) -> Result<Surrogate> {
        let mut out = self.clone();
        let fresh = Consts::new(
            &self.input_norm,
            None,
            None,
            Some(&c),
            &self.device.clone().without_autodiff(),
        )?;
        out.consts.condition = fresh.condition;
        out.consts.groups = fresh.groups;
        out.conditioning = Some(c);
        Ok(out)
    }

    /// Whether predictions need a group first ([`condition_on`](Self::condition_on)).
    pub fn needs_group(&self) -> bool {
        self.conditioning
            .as_ref()
            .is_some_and(|c| c.active.is_none())
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn provenance(&self) -> &Provenance {
        &self.provenance
    }

    /// Sets what [`save`](Self::save) records about the training data.
    pub fn set_provenance(&mut self, provenance: Provenance) {
        self.provenance = provenance;
    }

    /// Rows, best epoch and loss of the fit that produced this model.
    pub fn fit_summary(&self) -> &FitSummary {
        &self.summary
    }

    /// Regions a token model expects (`None` for the other families).
    pub fn n_regions(&self) -> Option<usize> {
        self.connectome.as_ref().map(|c| c.n_regions)
    }

    /// A copy on another device (e.g. `device.autodiff()` for gradient descent on θ through
    /// [`predict_tensor`](Self::predict_tensor), or a GPU). The weights stay constants there:
    /// gradients flow to θ, not to them.
    pub fn to_device(&self, device: &Device) -> Surrogate {
        let exec = device.clone().without_autodiff();
        let consts = Consts::new(
            &self.input_norm,
            self.token_norm.as_ref(),
            self.connectome.as_ref(),
            self.conditioning.as_ref(),
            &exec,
        )
        .expect("constants that were valid on one device are valid on another");
        Surrogate {
            net: self.net.clone().to_device(&exec),
            device: device.clone(),
            consts,
            ..self.clone()
        }
    }

    /// Rows per forward pass in [`predict`](Self::predict): bounded so a token batch
    /// (`rows × n × n` coupling entries) stays around 16 MB.
    fn chunk_rows(&self) -> usize {
        let tokens = match self.kind() {
            ModelKind::GroupTokens => self.conditioning.as_ref().map(|c| c.n_regions),
            _ => self.n_regions(),
        };
        match tokens {
            Some(n) => (4_000_000 / (n * (n + 3)).max(1)).clamp(16, 4096),
            None => 4096,
        }
    }

    /// Prepares another connectome (same number of regions) for [`predict_on`](Self::predict_on)
    /// and [`predict_tensor_on`](Self::predict_tensor_on).
    pub fn prepare_connectome(&self, connectome: &Connectome) -> Result<ConnectomeTensors> {
        let n = self.n_regions().ok_or_else(|| {
            SurrogateError::Input(format!(
                "a {} surrogate does not take a connectome",
                self.kind().name()
            ))
        })?;
        if connectome.n_regions != n {
            return Err(SurrogateError::Input(format!(
                "connectome has {} regions, the model was built for {n}",
                connectome.n_regions
            )));
        }
        ConnectomeTensors::new(connectome, &self.device.clone().without_autodiff())
    }

    /// Predicted costs of `theta` (batched internally).
    pub fn predict(&self, theta: &[[f64; THETA_DIM]]) -> Result<Prediction> {
        self.predict_impl(theta, None)
    }

    /// Predicted costs of `theta` on another connectome (token model only).
    pub fn predict_on(
        &self,
        theta: &[[f64; THETA_DIM]],
        connectome: &ConnectomeTensors,
    ) -> Result<Prediction> {
        if self.n_regions() != Some(connectome.n_regions()) {
            return Err(SurrogateError::Input(format!(
                "connectome of {} regions given to a {} surrogate{}",
                connectome.n_regions(),
                self.kind().name(),
                self.n_regions()
                    .map(|n| format!(" of {n} regions"))
                    .unwrap_or_default()
            )));
        }
        self.predict_impl(theta, Some(connectome))
    }

    fn predict_impl(
        &self,
        theta: &[[f64; THETA_DIM]],
        connectome: Option<&ConnectomeTensors>,
    ) -> Result<Prediction> {
        if let Some(k) = theta.iter().position(|t| t.iter().any(|x| !x.is_finite())) {
            return Err(SurrogateError::Input(format!("θ row {k} is not finite")));
        }
        if self.needs_group() {
            return Err(SurrogateError::Input(
                "this group-conditioned surrogate has no group to predict for: condition it on one (--data) first".into(),
            ));
        }
        let exec = self.device.clone().without_autodiff();
        let mut out = Prediction::default();
        for chunk in theta.chunks(self.chunk_rows()) {
            let t = theta_tensor(chunk, &exec);
            let y = self.target.unscale_tensor(forward(
                &self.net,
                &self.model,
                &self.consts,
                t,
                connectome,
                None,
            ));
            let v = y
                .into_data()
                .try_into_vec_as::<f64>()
                .map_err(|e| SurrogateError::Input(format!("reading predictions: {e:?}")))?;
            for row in v.chunks_exact(3) {
                out.fc.push(row[0]);
                out.ks.push(row[1]);
                out.total.push(row[0] + row[1]);
                out.p_valid.push(row[2]);
            }
        }
        Ok(out)
    }

    /// Raw θ `[B, 10]` → `[B, 3]` = (fc, ks, P(valid)) in cost units, on θ's device.
    /// Differentiable with respect to θ when θ is an autodiff tensor (e.g. created on
    /// `device.autodiff()` and marked `require_grad()`). Panics for a group MLP without an
    /// active group (check [`needs_group`](Self::needs_group)).
    pub fn predict_tensor(&self, theta: Tensor<2>) -> Tensor<2> {
        assert!(
            !self.needs_group(),
            "predict_tensor on a group-conditioned surrogate needs condition_on(group) first"
        );
        self.target.unscale_tensor(forward(
            &self.net,
            &self.model,
            &self.consts,
            theta,
            None,
            None,
        ))
    }

    /// [`predict_tensor`](Self::predict_tensor) on another connectome (token model only;
    /// panics for another family, check with [`n_regions`](Self::n_regions)).
    pub fn predict_tensor_on(&self, theta: Tensor<2>, connectome: &ConnectomeTensors) -> Tensor<2> {
        assert_eq!(
            self.n_regions(),
            Some(connectome.n_regions()),
            "predict_tensor_on needs a token model of the connectome's size"
        );
        self.target.unscale_tensor(forward(
            &self.net,
            &self.model,
            &self.consts,
            theta,
            Some(connectome),
            None,
        ))
    }
}

/// θ rows as an `f32` tensor `[B, 10]`.
pub(crate) fn theta_tensor(theta: &[[f64; THETA_DIM]], device: &Device) -> Tensor<2> {
    let v: Vec<f32> = theta.iter().flatten().map(|&x| x as f32).collect();
    Tensor::<2>::from_data(TensorData::new(v, [theta.len(), THETA_DIM]), device)
}

/// The seeded RNG of one purpose (`stream`) of a fit.
pub(crate) fn stream_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

#[cfg(test)]
mod tests {
    use super::test_data::{connectome, fit_quiet, quadratic_samples, small_model, uniform_theta};
    use super::*;

    fn quick(kind: ModelKind) -> (ModelConfig, TrainConfig) {
        let model = small_model(kind, 32, Activation::Tanh);
        let train = TrainConfig {
            epochs: 8,
            batch_size: 32,
            learning_rate: 3e-3,
            ..TrainConfig::default()
        };
        (model, train)
    }

    #[test]
    fn predict_tensor_gradient_matches_finite_differences() {
        let data = quadratic_samples(200, 21);
        let c = connectome(6, 1);
        let ad = Device::flex().autodiff();
        for kind in [
            ModelKind::Mlp,
            ModelKind::Quadratic,
            ModelKind::RegionTokens,
        ] {
            let (model, train) = quick(kind);
            let (s, _) = fit_quiet(&data, Some(&c), &model, &train);
            let s_ad = s.to_device(&ad);
            let theta = uniform_theta(3, 22, 1.0);
            let t = theta_tensor(&theta, &ad).require_grad();
            let out = s_ad.predict_tensor(t.clone());
            assert_eq!(out.dims(), [3, 3]);
            let total = out.slice([0..3, 0..2]).sum();
            let grads = total.backward();
            let g: Vec<f64> = t
                .grad(&grads)
                .expect("θ has a gradient")
                .into_data()
                .try_into_vec_as::<f64>()
                .unwrap();
            let std = &s.input_norm().std;
            for (b, row) in theta.iter().enumerate() {
                // Compare sensitivities per standard deviation of each coefficient.
                let mut fd = [0.0; THETA_DIM];
                for j in 0..THETA_DIM {
                    let h = 1e-2 * std[j];
                    let (mut up, mut down) = (*row, *row);
                    up[j] += h;
                    down[j] -= h;
                    let p = s.predict(&[up, down]).unwrap();
                    fd[j] = (p.total[0] - p.total[1]) / (2.0 * h) * std[j];
                }
                let scale = fd.iter().fold(0.0f64, |a, x| a.max(x.abs()));
                for j in 0..THETA_DIM {
                    let ad_j = g[b * THETA_DIM + j] * std[j];
                    assert!(
                        (ad_j - fd[j]).abs() <= 2e-2 * scale + 1e-4,
                        "{kind:?} row {b} coefficient {j}: autodiff {ad_j} vs finite differences {}",
                        fd[j]
                    );
                }
            }
        }
    }

    #[test]
    fn region_tokens_evaluate_on_another_connectome() {
        let data = quadratic_samples(200, 23);
        let (model, train) = quick(ModelKind::RegionTokens);
        let a = connectome(6, 2);
        let b = connectome(6, 3);
        let (s, _) = fit_quiet(&data, Some(&a), &model, &train);
        assert_eq!(s.n_regions(), Some(6));
        let theta = uniform_theta(20, 24, 1.0);
        let on_a = s.predict(&theta).unwrap();
        let same = s
            .predict_on(&theta, &s.prepare_connectome(&a).unwrap())
            .unwrap();
        assert_eq!(on_a, same);
        let on_b = s
            .predict_on(&theta, &s.prepare_connectome(&b).unwrap())
            .unwrap();
        assert!(on_b.total.iter().all(|x| x.is_finite()));
        assert_ne!(on_a.total, on_b.total);
        assert!(s.prepare_connectome(&connectome(7, 4)).is_err());
        // Tensor route on the other connectome agrees with the host route.
        let ct = s.prepare_connectome(&b).unwrap();
        let t = s
            .predict_tensor_on(theta_tensor(&theta, &Device::flex()), &ct)
            .into_data()
            .try_into_vec_as::<f64>()
            .unwrap();
        for k in 0..theta.len() {
            assert_eq!(t[3 * k] + t[3 * k + 1], on_b.total[k]);
        }
        // The other families take no connectome.
        let (mlp, _) = fit_quiet(&data, None, &quick(ModelKind::Mlp).0, &train);
        assert!(mlp.prepare_connectome(&a).is_err());
    }
}
