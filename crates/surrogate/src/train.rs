//! Seeded training of a surrogate: validation split, Adam with a learning-rate schedule,
//! mini-batches, early stopping that restores the best epoch, learning curves; and the
//! held-out metrics of a trained model.
//!
//! Loss per batch = MSE of the scaled (fc, ks) over the batch's valid rows
//! + `bce_weight` · binary cross-entropy of the validity logit over all rows.
//! Invalid rows (costs 10) never enter the regression term.
//!
//! One seed drives four independent ChaCha streams (weights, split, batch order, dropout), and
//! nothing is drawn from the device RNG, so the same seed on the same backend gives a
//! bit-identical model.

use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::log_sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::anchors::{best_per_group, Anchor};
use crate::error::{Result, SurrogateError};
use crate::models::tokens::{check_connectome, fit_token_norm, fit_token_norm_each, rounded};
use crate::models::{
    forward, host_init, stream_rng, Conditioning, Consts, Dropper, GroupInput, ModelConfig,
    ModelKind, Net, Prediction, Surrogate,
};
use crate::normalise::{Standardiser, TargetScale};
use crate::persist::Provenance;
use crate::samples::{Connectome, Samples, THETA_DIM};
use pmfm_sim::data::EmpiricalData;

/// Learning-rate multiplier as a function of the epoch.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LrSchedule {
    Constant,
    /// Half-cosine from 1 at epoch 0 to `final_factor` at the last epoch.
    Cosine {
        final_factor: f64,
    },
    /// Multiply by `gamma` every `every` epochs.
    Step {
        every: usize,
        gamma: f64,
    },
}

impl Default for LrSchedule {
    fn default() -> Self {
        LrSchedule::Cosine { final_factor: 0.01 }
    }
}

impl LrSchedule {
    /// Multiplier of the base learning rate in `epoch` (0-based) of `epochs`.
    pub fn factor(&self, epoch: usize, epochs: usize) -> f64 {
        match *self {
            LrSchedule::Constant => 1.0,
            LrSchedule::Cosine { final_factor } => {
                let t = if epochs > 1 {
                    epoch as f64 / (epochs - 1) as f64
                } else {
                    0.0
                };
                final_factor + (1.0 - final_factor) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
            LrSchedule::Step { every, gamma } => gamma.powi((epoch / every.max(1)) as i32),
        }
    }
}

/// How a surrogate is trained.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct TrainConfig {
    /// Maximum epochs. Default 300.
    pub epochs: usize,
    /// Rows per mini-batch. Default 128.
    pub batch_size: usize,
    /// Base Adam learning rate. Default 1e-3.
    pub learning_rate: f64,
    pub schedule: LrSchedule,
    /// L2 weight decay added to the gradient (Adam's, not decoupled). Default 0.
    pub weight_decay: f64,
    /// Clip the global gradient norm to this value. Default none.
    pub grad_clip_norm: Option<f64>,
    /// Fraction of rows held out for validation (seeded shuffle). Default 0.1.
    pub val_fraction: f64,
    /// Stop after this many epochs without improvement of the monitored loss (the validation
    /// loss, or the training loss without a validation split); 0 = never stop early. Default 30.
    pub patience: usize,
    /// Smallest decrease that counts as an improvement. Default 0.
    pub min_delta: f64,
    /// Return the weights of the best epoch rather than the last. Default true.
    pub restore_best: bool,
    /// Weight of the validity cross-entropy relative to the cost MSE. Default 1.
    pub bce_weight: f64,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 300,
            batch_size: 128,
            learning_rate: 1e-3,
            schedule: LrSchedule::default(),
            weight_decay: 0.0,
            grad_clip_norm: None,
            val_fraction: 0.1,
            patience: 30,
            min_delta: 0.0,
            restore_best: true,
            bce_weight: 1.0,
            seed: 0,
        }
    }
}

impl TrainConfig {
    /// Settings for fine-tuning a model trained with these: `epochs` epochs at `learning_rate`
    /// (a third of this rate when `None`), mini-batches of `batch_size`, every row trained on
    /// (no validation split) and no early stopping; the rest (schedule, decay, clipping,
    /// restoring the best epoch) kept.
    pub fn for_fine_tuning(
        &self,
        epochs: usize,
        learning_rate: Option<f64>,
        batch_size: usize,
    ) -> TrainConfig {
        TrainConfig {
            epochs,
            learning_rate: learning_rate.unwrap_or(self.learning_rate / 3.0),
            batch_size,
            val_fraction: 0.0,
            patience: 0,
            ..self.clone()
        }
    }

    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(SurrogateError::Config(m));
        if self.epochs == 0 || self.batch_size == 0 {
            return bad("epochs and batch_size must be positive".into());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(format!(
                "learning rate {} must be positive",
                self.learning_rate
            ));
        }
        if !(self.val_fraction.is_finite() && (0.0..1.0).contains(&self.val_fraction)) {
            return bad(format!(
                "val_fraction {} is not in [0, 1)",
                self.val_fraction
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0)
            || !(self.bce_weight.is_finite() && self.bce_weight >= 0.0)
            || !(self.min_delta.is_finite() && self.min_delta >= 0.0)
        {
            return bad("weight_decay, bce_weight and min_delta must be finite and ≥ 0".into());
        }
        if let Some(c) = self.grad_clip_norm {
            if !(c.is_finite() && c > 0.0) {
                return bad(format!("grad_clip_norm {c} must be positive"));
            }
        }
        match self.schedule {
            LrSchedule::Cosine { final_factor }
                if !(final_factor.is_finite() && final_factor >= 0.0) =>
            {
                bad("cosine final_factor must be ≥ 0".into())
            }
            LrSchedule::Step { every, gamma }
                if every == 0 || !(gamma.is_finite() && gamma > 0.0) =>
            {
                bad("step schedule needs every > 0 and gamma > 0".into())
            }
            _ => Ok(()),
        }
    }
}

/// One epoch of a learning curve.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct EpochLog {
    /// 0-based.
    pub epoch: usize,
    /// Mean batch loss over the epoch (with dropout active).
    pub train_loss: f64,
    /// Loss on the validation rows after the epoch (`None` without a validation split).
    pub val_loss: Option<f64>,
    pub lr: f64,
    /// Best epoch so far (by the monitored loss).
    pub best_epoch: usize,
    /// Seconds since the fit started.
    pub elapsed_s: f64,
}

/// Learning curve and split of one fit.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TrainHistory {
    pub epochs: Vec<EpochLog>,
    /// Epoch whose weights were returned (the last one when `restore_best` is false).
    pub best_epoch: usize,
    /// Monitored loss of `best_epoch`.
    pub best_loss: f64,
    pub stopped_early: bool,
    /// Rows of the input `Samples` used for training and for validation.
    pub train_rows: Vec<usize>,
    pub val_rows: Vec<usize>,
    pub wall_s: f64,
}

/// What the sidecar records about the fit.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct FitSummary {
    pub n_rows: usize,
    pub n_train: usize,
    pub n_val: usize,
    pub n_valid_train: usize,
    pub best_epoch: usize,
    pub best_loss: f64,
    pub epochs_run: usize,
    pub stopped_early: bool,
    pub wall_s: f64,
}

/// Host copy of the training inputs of some rows.
struct Staged {
    theta: Vec<[f64; THETA_DIM]>,
    /// Group MLP: each row's full input θ ⊕ descriptor.
    conditioned: Option<Vec<Vec<f64>>>,
    /// Scaled (fc, ks) for valid rows, 0 for invalid ones.
    target: Vec<[f32; 2]>,
    valid: Vec<bool>,
}

impl Staged {
    fn new(
        samples: &Samples,
        rows: &[usize],
        scale: &TargetScale,
        conditioning: Option<&Conditioning>,
    ) -> Result<Self> {
        let mut s = Staged {
            conditioned: conditioning.map(|c| c.inputs(samples, rows)).transpose()?,
            theta: Vec::with_capacity(rows.len()),
            target: Vec::with_capacity(rows.len()),
            valid: Vec::with_capacity(rows.len()),
        };
        for &r in rows {
            let v = samples.valid[r];
            s.theta.push(samples.theta[r]);
            s.valid.push(v);
            s.target.push(if v {
                [
                    scale.scale_fc(samples.fc_cost[r]) as f32,
                    scale.scale_ks(samples.ks_cost[r]) as f32,
                ]
            } else {
                [0.0, 0.0]
            });
        }
        Ok(s)
    }

    fn len(&self) -> usize {
        self.theta.len()
    }

    /// Tensors θ `[b, 10]`, target `[b, 2]`, valid mask `[b, 1]` of the rows `idx`.
    fn batch(&self, idx: &[usize], device: &Device) -> (Tensor<2>, Tensor<2>, Tensor<2>, usize) {
        let b = idx.len();
        let theta: Vec<[f64; THETA_DIM]> = idx.iter().map(|&k| self.theta[k]).collect();
        let target: Vec<f32> = idx.iter().flat_map(|&k| self.target[k]).collect();
        let valid: Vec<f32> = idx.iter().map(|&k| self.valid[k] as u8 as f32).collect();
        let n_valid = idx.iter().filter(|&&k| self.valid[k]).count();
        let inputs = match &self.conditioned {
            Some(rows) => {
                let w = rows[0].len();
                let v: Vec<f32> = idx
                    .iter()
                    .flat_map(|&k| rows[k].iter().map(|&x| x as f32))
                    .collect();
                Tensor::<2>::from_data(TensorData::new(v, [b, w]), device)
            }
            None => crate::models::theta_tensor(&theta, device),
        };
        (
            inputs,
            Tensor::<2>::from_data(TensorData::new(target, [b, 2]), device),
            Tensor::<2>::from_data(TensorData::new(valid, [b, 1]), device),
            n_valid,
        )
    }
}

/// Summed squared error of the scaled (fc, ks) over valid rows `[1]` and summed validity
/// cross-entropy over all rows `[1]`, of network outputs `out` `[B, 3]`.
fn loss_sums(out: Tensor<2>, target: Tensor<2>, valid: Tensor<2>) -> (Tensor<1>, Tensor<1>) {
    let [b, _] = out.dims();
    let err = out.clone().slice([0..b, 0..2]) - target;
    let sse = (err.clone() * err * valid.clone()).sum();
    let z = out.slice([0..b, 2..3]);
    let bce = (valid.clone() * log_sigmoid(z.clone())
        + valid.neg().add_scalar(1.0) * log_sigmoid(z.neg()))
    .sum()
    .neg();
    (sse, bce)
}

fn combine(sse: f64, bce: f64, n_valid: usize, n: usize, bce_weight: f64) -> f64 {
    sse / (2 * n_valid).max(1) as f64 + bce_weight * bce / n.max(1) as f64
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_data()
        .try_into_vec_as::<f64>()
        .ok()
        .and_then(|v| v.first().copied())
        .unwrap_or(f64::NAN)
}

/// The training loss of `net` on all rows of `data`, without dropout, on a plain device.
fn dataset_loss(
    net: &Net,
    model: &ModelConfig,
    consts: &Consts,
    data: &Staged,
    bce_weight: f64,
    device: &Device,
) -> f64 {
    let (mut sse, mut bce, mut n_valid) = (0.0, 0.0, 0usize);
    let idx: Vec<usize> = (0..data.len()).collect();
    for chunk in idx.chunks(1024) {
        let (theta, target, valid, nv) = data.batch(chunk, device);
        let out = forward(net, model, consts, theta, None, None);
        let (s, b) = loss_sums(out, target, valid);
        sse += scalar(s);
        bce += scalar(b);
        n_valid += nv;
    }
    combine(sse, bce, n_valid, data.len(), bce_weight)
}

/// The loss the training loop monitors (same terms, no dropout) of `s` on all rows of
/// `samples`, with the surrogate's own `bce_weight`.
pub fn validation_loss(s: &Surrogate, samples: &Samples) -> Result<f64> {
    check_samples(samples)?;
    let rows: Vec<usize> = (0..samples.len()).collect();
    let data = Staged::new(samples, &rows, &s.target, s.conditioning.as_ref())?;
    let exec = s.device.clone().without_autodiff();
    Ok(dataset_loss(
        &s.net,
        &s.model,
        &s.consts,
        &data,
        s.train.bce_weight,
        &exec,
    ))
}

fn check_samples(samples: &Samples) -> Result<()> {
    let n = samples.theta.len();
    if samples.fc_cost.len() != n || samples.ks_cost.len() != n || samples.valid.len() != n {
        return Err(SurrogateError::Input(format!(
            "samples have {n} θ rows but {} fc, {} ks and {} validity values",
            samples.fc_cost.len(),
            samples.ks_cost.len(),
            samples.valid.len()
        )));
    }
    for k in 0..n {
        if samples.theta[k].iter().any(|x| !x.is_finite()) {
            return Err(SurrogateError::Input(format!("θ of row {k} is not finite")));
        }
        if samples.valid[k] && !(samples.fc_cost[k].is_finite() && samples.ks_cost[k].is_finite()) {
            return Err(SurrogateError::Input(format!(
                "row {k} is marked valid but its costs are not finite"
            )));
        }
    }
    Ok(())
}

impl Surrogate {
    /// Trains a surrogate of `model.kind` on `samples` (the token model needs `connectome`;
    /// the others ignore it; the group MLP needs [`fit_groups`](Self::fit_groups)). Training
    /// runs on `device.autodiff()`; the returned model lives on `device`. Normalisation is
    /// fitted on the training split only. Calls `on_epoch` after every epoch.
    pub fn fit(
        samples: &Samples,
        connectome: Option<&Connectome>,
        model: &ModelConfig,
        train: &TrainConfig,
        device: &Device,
        on_epoch: &mut dyn FnMut(&EpochLog),
    ) -> Result<(Surrogate, TrainHistory)> {
        Self::fit_impl(samples, connectome, None, model, train, device, on_epoch)
    }

    /// Trains a grouped family (`group_mlp` or `group_tokens`) on rows of several groups: row
    /// r's group is the one in `groups` named `samples.dataset[r]`. The fitted model keeps the
    /// groups' inputs and predicts for a group after [`condition_on`](Self::condition_on).
    pub fn fit_groups(
        samples: &Samples,
        groups: &[EmpiricalData],
        model: &ModelConfig,
        train: &TrainConfig,
        device: &Device,
        on_epoch: &mut dyn FnMut(&EpochLog),
    ) -> Result<(Surrogate, TrainHistory)> {
        if !model.kind.is_grouped() {
            return Err(SurrogateError::Config(format!(
                "fit_groups trains the group_mlp and group_tokens families, not {}",
                model.kind.name()
            )));
        }
        Self::fit_impl(samples, None, Some(groups), model, train, device, on_epoch)
    }

    fn fit_impl(
        samples: &Samples,
        connectome: Option<&Connectome>,
        groups: Option<&[EmpiricalData]>,
        model: &ModelConfig,
        train: &TrainConfig,
        device: &Device,
        on_epoch: &mut dyn FnMut(&EpochLog),
    ) -> Result<(Surrogate, TrainHistory)> {
        let start = Instant::now();
        model.check()?;
        train.check()?;
        check_samples(samples)?;
        let n = samples.len();
        if n == 0 {
            return Err(SurrogateError::Input("no samples to train on".into()));
        }
        let connectome = fit_connectome(model, connectome)?;
        let conditioning = fit_conditioning(model, groups)?;
        let split = FitSplit::draw(samples, train)?;
        let prep = Prepared::new(samples, &split, conditioning.as_ref(), connectome.as_ref())?;
        let run = run_epochs(
            model,
            train,
            &prep,
            connectome.as_ref(),
            conditioning.as_ref(),
            None,
            device,
            start,
            on_epoch,
        )?;
        let parts = FitParts {
            model: model.clone(),
            train: train.clone(),
            connectome,
            conditioning,
            provenance: Provenance::default(),
            anchors: best_per_group(samples),
        };
        parts.finish(prep, split, run, n, device, start)
    }

    /// Continues training this model from its weights on `samples` (rows of `groups`, new or
    /// seen, for a grouped family; `groups` is ignored by the others), keeping its
    /// normalisation and target scaling: a few-shot adaptation to a new group's own
    /// simulations. `train` sets epochs, learning rate, batch and validation fraction (0 uses
    /// every row for training and monitors the training loss). The tuned model knows the new
    /// groups as training groups and has no active group.
    pub fn fine_tune(
        &self,
        samples: &Samples,
        groups: &[EmpiricalData],
        train: &TrainConfig,
        on_epoch: &mut dyn FnMut(&EpochLog),
    ) -> Result<(Surrogate, TrainHistory)> {
        let conditioning = self
            .conditioning
            .as_ref()
            .map(|c| c.with_groups(groups))
            .transpose()?;
        self.tune(samples, conditioning, train, on_epoch)
    }

    /// [`fine_tune`](Self::fine_tune) on rows of the group this model is conditioned on (every
    /// row's `dataset` names it; a θ-only model takes any rows). While tuning, the active group
    /// is the only group the model knows, so a group token model embeds just that group per
    /// forward pass; the tuned model stays conditioned on it (and knows no other group).
    pub fn fine_tune_on_active(
        &self,
        samples: &Samples,
        train: &TrainConfig,
        on_epoch: &mut dyn FnMut(&EpochLog),
    ) -> Result<(Surrogate, TrainHistory)> {
        let Some(c) = &self.conditioning else {
            return self.tune(samples, None, train, on_epoch);
        };
        let (alone, active) = c.active_alone().ok_or_else(|| {
            SurrogateError::Input(
                "a group-conditioned surrogate fine-tunes on the rows of the group it is \
                 conditioned on; condition it on a group first"
                    .into(),
            )
        })?;
        let (tuned, history) = self.tune(samples, Some(alone.clone()), train, on_epoch)?;
        let back = Conditioning {
            active: Some(active),
            ..alone
        };
        Ok((tuned.with_conditioning(back)?, history))
    }

    /// The fine-tuning loop of [`fine_tune`](Self::fine_tune) with the conditioning the rows'
    /// groups are looked up in.
    fn tune(
        &self,
        samples: &Samples,
        conditioning: Option<Conditioning>,
        train: &TrainConfig,
        on_epoch: &mut dyn FnMut(&EpochLog),
    ) -> Result<(Surrogate, TrainHistory)> {
        let start = Instant::now();
        train.check()?;
        check_samples(samples)?;
        let n = samples.len();
        if n == 0 {
            return Err(SurrogateError::Input("no samples to fine-tune on".into()));
        }
        let split = FitSplit::draw(samples, train)?;
        let prep = Prepared::keeping(self, samples, &split, conditioning.as_ref())?;
        let run = run_epochs(
            &self.model,
            train,
            &prep,
            self.connectome.as_ref(),
            conditioning.as_ref(),
            Some(&self.net),
            &self.device,
            start,
            on_epoch,
        )?;
        let parts = FitParts {
            model: self.model.clone(),
            train: train.clone(),
            connectome: self.connectome.clone(),
            conditioning,
            provenance: self.provenance.clone(),
            anchors: self.anchors.clone(),
        };
        parts.finish(prep, split, run, n, &self.device, start)
    }
}

/// What a fit keeps besides its network and scalings.
struct FitParts {
    model: ModelConfig,
    train: TrainConfig,
    connectome: Option<Connectome>,
    conditioning: Option<Conditioning>,
    provenance: Provenance,
    /// The training groups' best rows (a fine-tuned model keeps those of its first fit).
    anchors: Vec<Anchor>,
}

impl FitParts {
    /// The surrogate and history of a finished epoch loop.
    fn finish(
        self,
        prep: Prepared,
        split: FitSplit,
        mut run: EpochRun,
        n: usize,
        device: &Device,
        start: Instant,
    ) -> Result<(Surrogate, TrainHistory)> {
        let (best_epoch, best_loss, final_net) = run.kept(self.train.restore_best);
        let wall_s = start.elapsed().as_secs_f64();
        let summary = FitSummary {
            n_rows: n,
            n_train: split.train_rows.len(),
            n_val: split.val_rows.len(),
            n_valid_train: split.n_valid_train,
            best_epoch,
            best_loss,
            epochs_run: run.epochs.len(),
            stopped_early: run.stopped_early,
            wall_s,
        };
        let surrogate = Surrogate::assemble(
            self.model,
            self.train,
            prep.input_norm,
            prep.target,
            prep.token_norm,
            self.connectome,
            self.conditioning,
            final_net,
            device,
            self.provenance,
            summary,
            self.anchors,
        )?;
        let history = TrainHistory {
            epochs: run.epochs,
            best_epoch,
            best_loss,
            stopped_early: run.stopped_early,
            train_rows: split.train_rows,
            val_rows: split.val_rows,
            wall_s,
        };
        Ok((surrogate, history))
    }
}

/// The connectome a fit of `model` keeps (rounded as saved): required by the region-token
/// model, ignored by the others.
fn fit_connectome(
    model: &ModelConfig,
    connectome: Option<&Connectome>,
) -> Result<Option<Connectome>> {
    match (model.kind, connectome) {
        (ModelKind::RegionTokens, Some(c)) => {
            check_connectome(c)?;
            Ok(Some(rounded(c)))
        }
        (ModelKind::RegionTokens, None) => Err(SurrogateError::Config(
            "the region-token model needs a connectome".into(),
        )),
        _ => Ok(None),
    }
}

/// The group descriptors a fit of `model` conditions on: required by the group MLP, ignored
/// by the others.
fn fit_conditioning(
    model: &ModelConfig,
    groups: Option<&[EmpiricalData]>,
) -> Result<Option<Conditioning>> {
    match (model.kind.group_input(), groups) {
        (Some(input), Some(g)) => Ok(Some(Conditioning::from_groups_as(g, input)?)),
        (Some(_), None) => Err(SurrogateError::Config(format!(
            "the {} model needs the groups its rows come from",
            model.kind.name()
        ))),
        (None, _) => Ok(None),
    }
}

/// The validation split of a fit: the rows shuffled by the split stream, the first
/// `round(val_fraction · n)` (at most n − 1) kept for early stopping.
struct FitSplit {
    train_rows: Vec<usize>,
    val_rows: Vec<usize>,
    /// Valid rows among the training rows (at least one).
    n_valid_train: usize,
}

impl FitSplit {
    fn draw(samples: &Samples, train: &TrainConfig) -> Result<Self> {
        let n = samples.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut stream_rng(train.seed, 2));
        let mut n_val = (train.val_fraction * n as f64).round() as usize;
        if n_val >= n {
            n_val = n - 1;
        }
        let val_rows: Vec<usize> = order[..n_val].to_vec();
        let train_rows: Vec<usize> = order[n_val..].to_vec();
        let n_valid_train = train_rows.iter().filter(|&&r| samples.valid[r]).count();
        if n_valid_train == 0 {
            return Err(SurrogateError::Input(
                "no valid rows in the training split: nothing to regress on".into(),
            ));
        }
        Ok(FitSplit {
            train_rows,
            val_rows,
            n_valid_train,
        })
    }
}

/// Scalings fitted on the training rows only, and both splits staged on the host.
struct Prepared {
    target: TargetScale,
    input_norm: Standardiser,
    token_norm: Option<Standardiser>,
    train_data: Staged,
    val_data: Staged,
}

impl Prepared {
    fn new(
        samples: &Samples,
        split: &FitSplit,
        conditioning: Option<&Conditioning>,
        connectome: Option<&Connectome>,
    ) -> Result<Self> {
        let train_theta: Vec<[f64; THETA_DIM]> =
            split.train_rows.iter().map(|&r| samples.theta[r]).collect();
        let (fc, ks): (Vec<f64>, Vec<f64>) = split
            .train_rows
            .iter()
            .filter(|&&r| samples.valid[r])
            .map(|&r| (samples.fc_cost[r], samples.ks_cost[r]))
            .unzip();
        let target = TargetScale::fit(&fc, &ks);
        let train_data = Staged::new(samples, &split.train_rows, &target, conditioning)?;
        let val_data = Staged::new(samples, &split.val_rows, &target, conditioning)?;
        let input_norm = match (conditioning, &train_data.conditioned) {
            (Some(c), Some(rows)) => {
                Standardiser::fit(rows.iter().map(|r| r.as_slice()), c.input_dim())?
            }
            _ => Standardiser::fit(train_theta.iter().map(|t| t.as_slice()), THETA_DIM)?,
        };
        let token_norm = match (connectome, conditioning) {
            (Some(c), _) => Some(fit_token_norm(&train_theta, c)?),
            (None, Some(c)) if c.input == GroupInput::Raw => {
                let of_row: Vec<usize> = train_data
                    .conditioned
                    .iter()
                    .flatten()
                    .map(|r| r[THETA_DIM] as usize)
                    .collect();
                let connectomes: Vec<_> = c.visible().iter().map(|v| c.connectome_of(v)).collect();
                Some(fit_token_norm_each(&train_theta, &of_row, &connectomes)?)
            }
            _ => None,
        };
        Ok(Prepared {
            target,
            input_norm,
            token_norm,
            train_data,
            val_data,
        })
    }
}

impl Prepared {
    /// Both splits staged with the scalings of the fitted model `s` (for fine-tuning it).
    fn keeping(
        s: &Surrogate,
        samples: &Samples,
        split: &FitSplit,
        conditioning: Option<&Conditioning>,
    ) -> Result<Self> {
        Ok(Prepared {
            target: s.target,
            input_norm: s.input_norm.clone(),
            token_norm: s.token_norm.clone(),
            train_data: Staged::new(samples, &split.train_rows, &s.target, conditioning)?,
            val_data: Staged::new(samples, &split.val_rows, &s.target, conditioning)?,
        })
    }
}

/// Adam with the configured weight decay and gradient clipping.
fn adam(train: &TrainConfig) -> ModuleOptimizer {
    let mut adam = AdamConfig::new();
    if train.weight_decay > 0.0 {
        adam = adam.with_weight_decay(Some(WeightDecayConfig::new(train.weight_decay as f32)));
    }
    if let Some(c) = train.grad_clip_norm {
        adam = adam.with_grad_clipping(Some(GradientClippingConfig::Norm(c as f32)));
    }
    adam.init()
}

/// What the epoch loop leaves: the log, the best snapshot and the last network.
struct EpochRun {
    epochs: Vec<EpochLog>,
    /// (epoch, monitored loss, network) of the best epoch.
    best: Option<(usize, f64, Net)>,
    /// The network after the last epoch (autodiff device).
    net: Net,
    stopped_early: bool,
}

impl EpochRun {
    /// (epoch, loss, network) kept: the best epoch's with `restore_best`, else the last.
    fn kept(&mut self, restore_best: bool) -> (usize, f64, Net) {
        match self.best.take() {
            Some((e, l, snap)) if restore_best => (e, l, snap),
            _ => {
                let last_epoch = self.epochs.len() - 1;
                let last = &self.epochs[last_epoch];
                (
                    last_epoch,
                    last.val_loss.unwrap_or(last.train_loss),
                    self.net.valid(),
                )
            }
        }
    }
}

/// Trains a network for up to `train.epochs` epochs with early stopping on the validation loss
/// (the training loss without validation rows); calls `on_epoch` after every epoch. The network
/// starts from `initial` (fine-tuning) or from a seeded host initialisation.
#[allow(clippy::too_many_arguments)]
fn run_epochs(
    model: &ModelConfig,
    train: &TrainConfig,
    prep: &Prepared,
    connectome: Option<&Connectome>,
    conditioning: Option<&Conditioning>,
    initial: Option<&Net>,
    device: &Device,
    start: Instant,
    on_epoch: &mut dyn FnMut(&EpochLog),
) -> Result<EpochRun> {
    let ad = device.clone().autodiff();
    let exec = device.clone().without_autodiff();
    let token_norm = prep.token_norm.as_ref();
    let consts_ad = Consts::new(&prep.input_norm, token_norm, connectome, conditioning, &ad)?;
    let consts = Consts::new(
        &prep.input_norm,
        token_norm,
        connectome,
        conditioning,
        &exec,
    )?;
    let mut net = match initial {
        Some(net) => net.clone().to_device(&ad).train(),
        None => host_init(
            Net::new(model, connectome.map(|c| c.n_regions), conditioning, &ad)?,
            &mut stream_rng(train.seed, 1),
        ),
    };
    let mut optim = adam(train);
    let mut shuffle_rng = stream_rng(train.seed, 3);
    let mut dropper = (model.dropout > 0.0).then(|| Dropper::new(model.dropout, train.seed));
    let mut epochs = Vec::new();
    let mut best: Option<(usize, f64, Net)> = None;
    let mut stopped_early = false;
    let mut since_best = 0usize;
    let mut batch_order: Vec<usize> = (0..prep.train_data.len()).collect();
    for epoch in 0..train.epochs {
        let lr = train.learning_rate * train.schedule.factor(epoch, train.epochs);
        batch_order.shuffle(&mut shuffle_rng);
        let step = EpochStep {
            model,
            train,
            consts: &consts_ad,
            data: &prep.train_data,
            lr,
            device: &ad,
        };
        let train_loss;
        (net, train_loss) = step.run(net, &mut optim, &batch_order, dropper.as_mut());
        if !train_loss.is_finite() {
            return Err(SurrogateError::Input(format!(
                "training diverged: loss {train_loss} in epoch {epoch} (learning rate {lr:.3e})"
            )));
        }
        let snapshot = net.valid();
        let val_loss = (prep.val_data.len() > 0).then(|| {
            dataset_loss(
                &snapshot,
                model,
                &consts,
                &prep.val_data,
                train.bce_weight,
                &exec,
            )
        });
        let monitored = val_loss.unwrap_or(train_loss);
        let improved = match &best {
            None => monitored.is_finite(),
            Some((_, b, _)) => monitored < b - train.min_delta,
        };
        if improved {
            best = Some((epoch, monitored, snapshot));
            since_best = 0;
        } else {
            since_best += 1;
        }
        let log = EpochLog {
            epoch,
            train_loss,
            val_loss,
            lr,
            best_epoch: best.as_ref().map(|b| b.0).unwrap_or(epoch),
            elapsed_s: start.elapsed().as_secs_f64(),
        };
        on_epoch(&log);
        epochs.push(log);
        if train.patience > 0 && since_best >= train.patience {
            stopped_early = true;
            break;
        }
    }
    Ok(EpochRun {
        epochs,
        best,
        net,
        stopped_early,
    })
}

/// One epoch's mini-batch updates.
struct EpochStep<'a> {
    model: &'a ModelConfig,
    train: &'a TrainConfig,
    /// Constants on the autodiff device.
    consts: &'a Consts,
    data: &'a Staged,
    lr: f64,
    /// The autodiff device.
    device: &'a Device,
}

impl EpochStep<'_> {
    /// Adam steps over `order` in batches of `batch_size`; returns the network and the mean
    /// training loss per row.
    fn run(
        &self,
        mut net: Net,
        optim: &mut ModuleOptimizer,
        order: &[usize],
        mut dropper: Option<&mut Dropper>,
    ) -> (Net, f64) {
        let train = self.train;
        let mut loss_sum = 0.0;
        for idx in order.chunks(train.batch_size) {
            let (theta, y, valid, n_valid) = self.data.batch(idx, self.device);
            let out = forward(
                &net,
                self.model,
                self.consts,
                theta,
                None,
                dropper.as_deref_mut(),
            );
            let (sse, bce) = loss_sums(out, y, valid);
            let loss = sse.div_scalar((2 * n_valid).max(1) as f64)
                + bce.mul_scalar(train.bce_weight / idx.len() as f64);
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            loss_sum += scalar(loss.detach().without_autodiff()) * idx.len() as f64;
            net = optim.step(self.lr, net, grads);
        }
        (net, loss_sum / self.data.len() as f64)
    }
}

/// Agreement of a surrogate with simulated costs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Metrics {
    /// Pearson r between predicted and simulated costs over the valid rows (NaN with fewer
    /// than two valid rows or no spread).
    pub pearson_total: f64,
    pub pearson_fc: f64,
    pub pearson_ks: f64,
    /// RMSE of the total cost over the valid rows.
    pub rmse_total: f64,
    /// Fraction of all rows whose validity is predicted right (P(valid) > 0.5).
    pub valid_accuracy: f64,
    pub n_valid: usize,
    pub n: usize,
}

/// Pearson correlation of two equally long series (NaN when undefined).
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return f64::NAN;
    }
    let ma = a[..n].iter().sum::<f64>() / n as f64;
    let mb = b[..n].iter().sum::<f64>() / n as f64;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for k in 0..n {
        let (x, y) = (a[k] - ma, b[k] - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    sab / (saa * sbb).sqrt()
}

/// Metrics of predictions `p` (one per row of `samples`, in order).
pub fn metrics(p: &Prediction, samples: &Samples) -> Metrics {
    let valid = samples.valid_rows();
    let pick = |v: &[f64]| valid.iter().map(|&k| v[k]).collect::<Vec<f64>>();
    let total_sim: Vec<f64> = valid
        .iter()
        .map(|&k| samples.fc_cost[k] + samples.ks_cost[k])
        .collect();
    let total_pred = pick(&p.total);
    let rmse_total = if valid.is_empty() {
        f64::NAN
    } else {
        (total_pred
            .iter()
            .zip(&total_sim)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            / valid.len() as f64)
            .sqrt()
    };
    let n = samples.len().min(p.len());
    let correct = (0..n)
        .filter(|&k| (p.p_valid[k] > 0.5) == samples.valid[k])
        .count();
    Metrics {
        pearson_total: pearson(&total_pred, &total_sim),
        pearson_fc: pearson(&pick(&p.fc), &pick(&samples.fc_cost)),
        pearson_ks: pearson(&pick(&p.ks), &pick(&samples.ks_cost)),
        rmse_total,
        valid_accuracy: if n == 0 {
            f64::NAN
        } else {
            correct as f64 / n as f64
        },
        n_valid: valid.len(),
        n: samples.len(),
    }
}

/// Metrics of `s` on `samples`.
pub fn evaluate(s: &Surrogate, samples: &Samples) -> Result<Metrics> {
    check_samples(samples)?;
    Ok(metrics(&s.predict(&samples.theta)?, samples))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::test_data::{
        fit_quiet, quadratic_fc, quadratic_ks, quadratic_samples, samples, uniform_theta, unit,
    };
    use crate::models::Activation;

    #[test]
    fn quadratic_model_recovers_a_quadratic_cost() {
        let train = quadratic_samples(500, 1);
        let test = quadratic_samples(200, 2);
        let cfg = TrainConfig {
            epochs: 300,
            batch_size: 64,
            learning_rate: 1e-2,
            patience: 60,
            ..TrainConfig::default()
        };
        let t0 = Instant::now();
        let (s, h) = fit_quiet(
            &train,
            None,
            &ModelConfig::of_kind(ModelKind::Quadratic),
            &cfg,
        );
        let m = evaluate(&s, &test).unwrap();
        eprintln!(
            "quadratic: {:.2} s, {} epochs, r_fc {:.5} r_ks {:.5} r_total {:.5} rmse {:.2e}",
            t0.elapsed().as_secs_f64(),
            h.epochs.len(),
            m.pearson_fc,
            m.pearson_ks,
            m.pearson_total,
            m.rmse_total
        );
        assert!(m.pearson_total > 0.99, "{m:?}");
        assert!(m.pearson_fc > 0.99 && m.pearson_ks > 0.99, "{m:?}");
        assert_eq!(m.valid_accuracy, 1.0);
        assert_eq!(s.n_params(), 3 * 65 + 3);
    }

    #[test]
    fn mlp_recovers_a_quadratic_cost() {
        let train = quadratic_samples(600, 3);
        let test = quadratic_samples(200, 4);
        let model = ModelConfig {
            depth: 2,
            width: 64,
            ..ModelConfig::of_kind(ModelKind::Mlp)
        };
        let cfg = TrainConfig {
            epochs: 200,
            batch_size: 64,
            learning_rate: 3e-3,
            ..TrainConfig::default()
        };
        let t0 = Instant::now();
        let (s, h) = fit_quiet(&train, None, &model, &cfg);
        let m = evaluate(&s, &test).unwrap();
        eprintln!(
            "mlp: {:.2} s, {} epochs (best {}), r_fc {:.4} r_ks {:.4} r_total {:.4}",
            t0.elapsed().as_secs_f64(),
            h.epochs.len(),
            h.best_epoch,
            m.pearson_fc,
            m.pearson_ks,
            m.pearson_total
        );
        assert!(m.pearson_total > 0.95, "{m:?}");
        // Learning curve: the loss fell and the schedule decayed.
        assert!(h.epochs.last().unwrap().train_loss < 0.5 * h.epochs[0].train_loss);
        assert!(h.epochs.last().unwrap().lr < cfg.learning_rate);
    }

    #[test]
    fn validity_head_learns_a_half_space_and_invalid_costs_stay_out_of_the_regression() {
        let rule = |t: &[f64; THETA_DIM]| {
            let z = unit(t);
            (quadratic_fc(t), quadratic_ks(t), z[0] + 0.5 * z[6] < 0.3)
        };
        let train = samples(uniform_theta(800, 5, 1.0), rule);
        let test = samples(uniform_theta(300, 6, 1.0), rule);
        let frac = train.valid.iter().filter(|v| **v).count() as f64 / 800.0;
        assert!(frac > 0.4 && frac < 0.8, "{frac}");
        let model = ModelConfig {
            depth: 2,
            width: 64,
            activation: Activation::Relu,
            ..ModelConfig::default()
        };
        let cfg = TrainConfig {
            epochs: 150,
            batch_size: 64,
            learning_rate: 3e-3,
            ..TrainConfig::default()
        };
        let (s, _) = fit_quiet(&train, None, &model, &cfg);
        let m = evaluate(&s, &test).unwrap();
        eprintln!(
            "half-space: accuracy {:.3}, r_total {:.3}",
            m.valid_accuracy, m.pearson_total
        );
        assert!(m.valid_accuracy > 0.92, "{m:?}");
        // Costs of 10 would pull the fit far off the [0, 2] range of the valid rows.
        assert!(m.pearson_total > 0.9 && m.rmse_total < 0.1, "{m:?}");
        assert!(s.target_scale().fc_mean < 2.0);
    }

    #[test]
    fn early_stopping_restores_the_best_epoch() {
        // Pure-noise targets: the network can only overfit, so the validation loss turns up.
        let mut rng = stream_rng(11, 0);
        use rand::Rng;
        let noise: Vec<(f64, f64)> = (0..80)
            .map(|_| (rng.random::<f64>(), rng.random::<f64>()))
            .collect();
        let theta = uniform_theta(80, 12, 1.0);
        let mut s = samples(theta, |_| (0.0, 0.0, true));
        for (k, (a, b)) in noise.into_iter().enumerate() {
            s.fc_cost[k] = a;
            s.ks_cost[k] = b;
            s.total_cost[k] = a + b;
        }
        let model = ModelConfig {
            depth: 2,
            width: 64,
            ..ModelConfig::default()
        };
        let cfg = TrainConfig {
            epochs: 400,
            batch_size: 16,
            learning_rate: 1e-2,
            schedule: LrSchedule::Constant,
            val_fraction: 0.5,
            patience: 8,
            ..TrainConfig::default()
        };
        let mut seen = 0;
        let (sur, h) =
            Surrogate::fit(&s, None, &model, &cfg, &Device::flex(), &mut |_| seen += 1).unwrap();
        assert_eq!(seen, h.epochs.len());
        assert!(h.stopped_early, "ran all {} epochs", h.epochs.len());
        assert_eq!(h.epochs.len(), h.best_epoch + 1 + cfg.patience);
        let best = h
            .epochs
            .iter()
            .map(|e| e.val_loss.unwrap())
            .fold(f64::INFINITY, f64::min);
        assert_eq!(h.best_loss, best);
        assert!(h.epochs.last().unwrap().val_loss.unwrap() > best);
        // The returned weights are the best epoch's: their validation loss is the recorded one.
        let again = validation_loss(&sur, &s.select(&h.val_rows)).unwrap();
        assert!(
            (again - best).abs() <= 1e-12 * best.abs(),
            "{again} vs {best}"
        );
        assert_eq!(h.train_rows.len() + h.val_rows.len(), 80);
        assert_eq!(sur.fit_summary().best_epoch, h.best_epoch);
    }

    #[test]
    fn one_seed_gives_identical_fits() {
        let data = quadratic_samples(300, 7);
        let model = ModelConfig {
            depth: 2,
            width: 32,
            dropout: 0.1,
            ..ModelConfig::default()
        };
        let cfg = TrainConfig {
            epochs: 15,
            batch_size: 32,
            seed: 42,
            ..TrainConfig::default()
        };
        let probe = uniform_theta(50, 8, 1.5);
        let (a, ha) = fit_quiet(&data, None, &model, &cfg);
        let (b, hb) = fit_quiet(&data, None, &model, &cfg);
        let (pa, pb) = (a.predict(&probe).unwrap(), b.predict(&probe).unwrap());
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&pa.total), bits(&pb.total));
        assert_eq!(bits(&pa.p_valid), bits(&pb.p_valid));
        let losses = |h: &TrainHistory| {
            h.epochs
                .iter()
                .map(|e| e.train_loss.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(losses(&ha), losses(&hb));
        assert_eq!(ha.val_rows, hb.val_rows);
        let other = TrainConfig { seed: 43, ..cfg };
        let (c, _) = fit_quiet(&data, None, &model, &other);
        assert_ne!(bits(&c.predict(&probe).unwrap().total), bits(&pa.total));
    }

    #[test]
    fn configs_are_checked_and_serde_defaults_fill_in() {
        let data = quadratic_samples(20, 9);
        let bad = ModelConfig {
            kind: ModelKind::RegionTokens,
            d_model: 10,
            heads: 4,
            ..ModelConfig::default()
        };
        assert!(bad.check().is_err());
        let no_connectome = Surrogate::fit(
            &data,
            None,
            &ModelConfig::of_kind(ModelKind::RegionTokens),
            &TrainConfig::default(),
            &Device::flex(),
            &mut |_| {},
        );
        assert!(matches!(no_connectome, Err(SurrogateError::Config(_))));
        let bad_train = TrainConfig {
            val_fraction: 1.0,
            ..TrainConfig::default()
        };
        assert!(bad_train.check().is_err());
        let m: ModelConfig = serde_json::from_str(r#"{"kind":"quadratic"}"#).unwrap();
        assert_eq!(m, ModelConfig::of_kind(ModelKind::Quadratic));
        let t: TrainConfig = serde_json::from_str(
            r#"{"epochs":5,"schedule":{"kind":"step","every":2,"gamma":0.5}}"#,
        )
        .unwrap();
        assert_eq!(t.schedule.factor(5, 5), 0.25);
        assert_eq!(t.batch_size, 128);
        let cos = LrSchedule::Cosine { final_factor: 0.1 };
        assert_eq!(cos.factor(0, 10), 1.0);
        assert!((cos.factor(9, 10) - 0.1).abs() < 1e-12);
    }
}
