//! PCD training of the Gaussian-visible cRBM on burn tensors, on any [`Device`]
//! (RestrictedBoltzmannMachines.jl's `pcd!` for a `StandardizedRBM`, the reference
//! pipeline's trainer). Per update:
//! 1. advance the persistent chains (started from the visible layer alone) by
//!    `gibbs_steps` sweeps of the plain model;
//! 2. data-minus-chains moments in standardised coordinates:
//!    `∂/∂w̃ = ⟨(v−o_v)/s_v · (E[h|v]−o_h)/s_h⟩_batch − ⟨…⟩_chains`; visible θ, γ from
//!    the moments of the whole training set (as the reference) minus the chains';
//!    hidden γ±, θ± from ⟨E[h±]⟩, ⟨E[h±²]⟩;
//! 3. penalty on the plain weights (`∂R/∂W ÷ (s_v s_h)`), Adam ascent, γ clamped ≥ γ_min;
//! 4. hidden offsets/scales tracked from the data batch with damping d, then the
//!    scale absorbed into the unit (h → h/s: w → w·s, γ± → γ±·s², θ± → θ±·s), so the
//!    plain model is unchanged by the re-standardisation;
//! 5. explosion check: non-finite parameters, non-finite or runaway chain states.
//!
//! An exploded run stops, keeps its state for inspection and reports the update, the
//! reason and the stability margin (see [`super::model::GaussCrbm::stability_margin`]).

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::host::{GibbsEngine, HostGibbs};
use super::model::GaussCrbm;
use super::standardized::Standardization;
use super::tensor::{
    download_frames, max_abs_finite, upload_frames, GaussGibbs, GaussTensors,
    StandardizationTensors,
};
use crate::batch::BatchOrder;
use crate::error::{invalid_config, CrbmError, Result};
use crate::frames::Frames;
use crate::optim::{learning_rate_at, validate_learning_rates};
use crate::penalty::Penalty;

/// Training hyper-parameters; defaults are the reference pipeline's
/// (`VoxelizedSingleFishTraining.jl`) except where noted. Check with [`Self::validate`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GaussTrainConfig {
    /// Hidden units M (reference 30).
    pub n_hidden: usize,
    /// Frames per mini-batch (reference 100).
    pub batch_size: usize,
    /// Persistent chains (0: as many as the batch).
    pub n_chains: usize,
    /// Gibbs sweeps per update (reference 50).
    pub gibbs_steps: usize,
    /// Parameter updates (reference 20,000).
    pub n_updates: usize,
    /// Adam learning rate at the start (reference 5e-4) …
    pub learning_rate: f64,
    /// … decaying geometrically to this (reference 1e-5) …
    pub learning_rate_final: f64,
    /// … from this fraction of training on (spec: half-way).
    pub decay_after: f64,
    pub adam_beta1: f64,
    pub adam_beta2: f64,
    pub adam_epsilon: f64,
    /// Weight penalty on the plain weights (reference L2L1, λ = 0.09).
    pub penalty: Penalty,
    /// Standardised training (reference: on).
    pub standardize: bool,
    /// Damping of the hidden offset/scale tracking (reference 0.1).
    pub damping: f64,
    /// Pseudo-count added to the visible variance for s_v (reference 0.1).
    pub eps_v: f64,
    /// Pseudo-count added to the hidden variance for s_h (reference 0).
    pub eps_h: f64,
    /// Initial weights `init_weight_std·N(0,1)` (reference 0.01).
    pub init_weight_std: f64,
    /// Visible and hidden precisions are kept ≥ this.
    pub gamma_min: f64,
    /// A chain state with |v| above this (in units of the data's sd, the data being
    /// z-scored) marks the run as exploded: the chains are running away.
    pub max_abs_state: f64,
    /// Flip hidden units with negative weight sums after training.
    pub fix_signs: bool,
    /// Curve point every this many updates (0: never).
    pub log_every: usize,
    pub seed: u64,
    /// Where the chains' Gibbs sweeps run (same random streams either way).
    pub engine: GibbsEngine,
}

impl Default for GaussTrainConfig {
    fn default() -> Self {
        Self {
            n_hidden: 30,
            batch_size: 100,
            n_chains: 0,
            gibbs_steps: 50,
            n_updates: 20_000,
            learning_rate: 5e-4,
            learning_rate_final: 1e-5,
            decay_after: 0.5,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            adam_epsilon: 1e-6,
            penalty: Penalty::L2L1 { lambda: 0.09 },
            standardize: true,
            damping: 0.1,
            eps_v: 0.1,
            eps_h: 0.0,
            init_weight_std: 0.01,
            gamma_min: 1e-3,
            max_abs_state: 1e3,
            fix_signs: true,
            log_every: 100,
            seed: 0,
            engine: GibbsEngine::Tensor,
        }
    }
}

impl GaussTrainConfig {
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("n_hidden", self.n_hidden),
            ("batch_size", self.batch_size),
            ("gibbs_steps", self.gibbs_steps),
        ];
        if let Some((f, v)) = positive.iter().find(|(_, v)| *v == 0) {
            return invalid_config(f, v, "must be ≥ 1");
        }
        validate_learning_rates(self.learning_rate, self.learning_rate_final)?;
        let unit = [("decay_after", self.decay_after), ("damping", self.damping)];
        if let Some((f, v)) = unit.iter().find(|(_, v)| !(0.0..=1.0).contains(v)) {
            return invalid_config(f, v, "must be in [0, 1]");
        }
        let betas = [
            ("adam_beta1", self.adam_beta1),
            ("adam_beta2", self.adam_beta2),
        ];
        if let Some((f, v)) = betas.iter().find(|(_, v)| !(0.0..1.0).contains(v)) {
            return invalid_config(f, v, "must be in [0, 1)");
        }
        let pos = [
            ("adam_epsilon", self.adam_epsilon),
            ("gamma_min", self.gamma_min),
            ("max_abs_state", self.max_abs_state),
        ];
        if let Some((f, v)) = pos.iter().find(|(_, v)| !(v.is_finite() && *v > 0.0)) {
            return invalid_config(f, v, "must be finite and > 0");
        }
        let nonneg = [
            ("eps_v", self.eps_v),
            ("eps_h", self.eps_h),
            ("init_weight_std", self.init_weight_std),
        ];
        if let Some((f, v)) = nonneg.iter().find(|(_, v)| !(v.is_finite() && *v >= 0.0)) {
            return invalid_config(f, v, "must be finite and ≥ 0");
        }
        self.penalty.validate()
    }

    /// Chains used (0 in the config means the batch size).
    pub fn chains(&self) -> usize {
        if self.n_chains == 0 {
            self.batch_size
        } else {
            self.n_chains
        }
    }

    /// Learning rate at update t: constant, then geometric decay to the final rate.
    pub fn learning_rate_at(&self, t: usize) -> f64 {
        learning_rate_at(
            self.learning_rate,
            self.learning_rate_final,
            self.decay_after,
            self.n_updates,
            t,
        )
    }
}

/// Where a model exploded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Training,
    Sampling,
}

/// An explosion: where, when, why, and the stability margin of the model at that point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GaussExplosion {
    pub phase: Phase,
    /// Update (training) or sweep (sampling) at which it was detected.
    pub at: usize,
    pub reason: String,
    /// `min γ± − λ_max(Wᵀ diag(1/γ) W)` of the plain model then (NaN if not finite).
    pub stability_margin: f64,
}

/// One point of the training curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GaussCurvePoint {
    pub update: usize,
    pub learning_rate: f64,
    /// Mean F(v) of the last data batch.
    pub data_free_energy: f64,
    pub max_abs_weight: f64,
    pub stability_margin: f64,
    /// Largest |v| over the persistent chains.
    pub max_abs_chain_state: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GaussTrainReport {
    pub curve: Vec<GaussCurvePoint>,
    pub exploded: Option<GaussExplosion>,
    pub updates_done: usize,
    pub flipped_units: Vec<usize>,
    /// Stability margin of the returned model.
    pub stability_margin: f64,
    /// Final standardisation (the returned model is plain).
    pub standardization: Option<Standardization>,
}

/// Adam state of the seven parameter tensors.
struct Adam {
    m1: Vec<Tensor<2>>,
    m2: Vec<Tensor<2>>,
}

/// A PCD run in progress on a device.
pub struct GaussTrainer {
    pub device: Device,
    pub config: GaussTrainConfig,
    /// Standardised parameters (w̃, γ, θ̃, γ±, θ̃±).
    params: GaussTensors,
    standardization: StandardizationTensors,
    /// Training frames [T, N] on the device.
    data: Tensor<2>,
    n_frames: usize,
    /// ⟨v⟩, ⟨v²⟩ of the whole training set, [1, N].
    data_v: Tensor<2>,
    data_v2: Tensor<2>,
    chains: Tensor<2>,
    adam: Adam,
    batches: BatchOrder,
    pub update: usize,
    pub report: GaussTrainReport,
}

const CHAIN_SEED_MIX: u64 = 0x6A55_C4A1;

impl GaussTrainer {
    /// Validate, initialise the reference way from the data, and upload.
    pub fn new(frames: &Frames, config: GaussTrainConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        check_frames(frames)?;
        let (mean, var) = frames.mean_var();
        let plain = GaussCrbm::init(
            &mean,
            &var,
            config.n_hidden,
            config.init_weight_std,
            config.seed,
        );
        let st = if config.standardize {
            Standardization::from_moments(&mean, &var, config.eps_v, config.n_hidden)
        } else {
            Standardization::identity(frames.n_units, config.n_hidden)
        };
        Self::from_model(&plain, st, frames, config, device)
    }

    /// Continue from a plain model under a given standardisation.
    pub fn from_model(
        plain: &GaussCrbm,
        standardization: Standardization,
        frames: &Frames,
        config: GaussTrainConfig,
        device: &Device,
    ) -> Result<Self> {
        config.validate()?;
        check_frames(frames)?;
        if frames.n_units != plain.n_visible {
            return Err(CrbmError::Shape {
                what: "training frames' units vs model visible units".into(),
                expected: plain.n_visible,
                got: frames.n_units,
            });
        }
        let st = StandardizationTensors::upload(&standardization, device);
        let params = st.from_plain(&GaussTensors::upload(plain, device));
        let data = upload_frames(frames, device);
        let gibbs = GaussGibbs::new(st.to_plain(&params), device);
        let chains = gibbs.sample_visible_prior(config.chains(), config.seed ^ CHAIN_SEED_MIX);
        let zeros = |t: &Tensor<2>| t.zeros_like();
        let arr = params.to_array();
        Ok(Self {
            device: device.clone(),
            n_frames: frames.len(),
            data_v: data.clone().mean_dim(0),
            data_v2: data.clone().square().mean_dim(0),
            data,
            chains,
            adam: Adam {
                m1: arr.iter().map(zeros).collect(),
                m2: arr.iter().map(zeros).collect(),
            },
            params,
            standardization: st,
            batches: BatchOrder::default(),
            update: 0,
            report: GaussTrainReport::default(),
            config,
        })
    }

    /// The plain model now (host copy).
    pub fn plain_model(&self) -> GaussCrbm {
        self.standardization.to_plain(&self.params).download()
    }

    fn next_batch(&mut self) -> Tensor<2> {
        let b = self.config.batch_size.min(self.n_frames);
        let idx: Vec<i64> = (self.batches.next(self.n_frames, b, self.config.seed).iter())
            .map(|&k| k as i64)
            .collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [b]), &self.device);
        self.data.clone().select(0, idx)
    }

    /// One update; false (with the explosion recorded) once the run has diverged.
    pub fn step(&mut self) -> bool {
        if self.report.exploded.is_some() {
            return false;
        }
        let cfg = self.config.clone();
        let lr = cfg.learning_rate_at(self.update);
        let plain = self.standardization.to_plain(&self.params);
        self.advance_chains(&plain);
        // Runaway chains are the symptom of an improper model: record it against the
        // model that produced them, before their states poison the gradient.
        if let Some(reason) = self.chain_trouble() {
            self.explode(self.update + 1, reason, &plain);
            return false;
        }
        let batch = self.next_batch();
        let grad = self.gradient(&plain, batch.clone());
        self.adam_step(grad, lr);
        self.update += 1;
        if cfg.standardize {
            self.restandardize(batch.clone());
        }
        if !self.params.to_array().iter().all(|t| max_abs_finite(t).1) {
            let plain = self.standardization.to_plain(&self.params);
            self.explode(self.update, "non-finite parameters".into(), &plain);
        }
        if cfg.log_every > 0 && (self.update % cfg.log_every == 0 || self.report.exploded.is_some())
        {
            self.log_point(batch, lr);
        }
        self.report.exploded.is_none()
    }

    /// Non-finite or runaway chain states, if any.
    fn chain_trouble(&self) -> Option<String> {
        let (max_v, finite) = max_abs_finite(&self.chains);
        if !finite {
            Some("non-finite chain states".to_string())
        } else if max_v > self.config.max_abs_state {
            Some(format!(
                "runaway chain states: max |v| = {max_v:.3e} > {}",
                self.config.max_abs_state
            ))
        } else {
            None
        }
    }

    fn explode(&mut self, at: usize, reason: String, plain: &GaussTensors) {
        let margin = plain.download().stability_margin();
        self.report.exploded = Some(GaussExplosion {
            phase: Phase::Training,
            at,
            reason,
            stability_margin: if margin.is_finite() { margin } else { f64::NAN },
        });
    }

    fn advance_chains(&mut self, plain: &GaussTensors) {
        let seed = self.config.seed ^ CHAIN_SEED_MIX;
        let (sweeps, first) = (
            self.config.gibbs_steps,
            self.update * self.config.gibbs_steps,
        );
        match self.config.engine {
            GibbsEngine::Tensor => {
                let gibbs = GaussGibbs::new(plain.clone(), &self.device);
                for s in 0..sweeps {
                    self.chains = gibbs.sweep(self.chains.clone(), seed, (first + s) as u64);
                }
            }
            GibbsEngine::Host => {
                let mut chains = download_frames(&self.chains);
                HostGibbs::new(&plain.download()).run(&mut chains, seed, first as u64, sweeps);
                self.chains = upload_frames(&chains, &self.device);
            }
        }
    }

    fn gradient(&self, plain: &GaussTensors, batch: Tensor<2>) -> [Tensor<2>; 7] {
        pcd_gradient(
            plain,
            &self.standardization,
            batch,
            self.chains.clone(),
            (self.data_v.clone(), self.data_v2.clone()),
            self.config.penalty,
        )
    }

    fn adam_step(&mut self, grad: [Tensor<2>; 7], lr: f64) {
        let cfg = &self.config;
        let t = self.update as i32 + 1;
        let (c1, c2) = (1.0 - cfg.adam_beta1.powi(t), 1.0 - cfg.adam_beta2.powi(t));
        let params = self.params.to_array();
        let mut next = Vec::with_capacity(7);
        for (k, (p, g)) in params.into_iter().zip(grad).enumerate() {
            let m1 = self.adam.m1[k].clone().mul_scalar(cfg.adam_beta1)
                + g.clone().mul_scalar(1.0 - cfg.adam_beta1);
            let m2 = self.adam.m2[k].clone().mul_scalar(cfg.adam_beta2)
                + g.square().mul_scalar(1.0 - cfg.adam_beta2);
            let step = m1.clone().mul_scalar(lr / c1)
                / m2.clone()
                    .div_scalar(c2)
                    .sqrt()
                    .add_scalar(cfg.adam_epsilon);
            let p = p + step;
            // γ (slot 1) and γ± (slots 3, 4) must stay positive.
            next.push(if matches!(k, 1 | 3 | 4) {
                p.clamp_min(cfg.gamma_min)
            } else {
                p
            });
            self.adam.m1[k] = m1;
            self.adam.m2[k] = m2;
        }
        let arr: [Tensor<2>; 7] = next.try_into().expect("seven tensors");
        self.params = GaussTensors::from_array(arr);
    }

    /// Track the hidden offsets/scales on the data batch and absorb the scale into the
    /// units; the plain model is unchanged.
    fn restandardize(&mut self, batch: Tensor<2>) {
        let d = self.config.damping;
        let st = &self.standardization;
        let plain = st.to_plain(&self.params);
        let s = plain
            .hidden()
            .statistics(batch.matmul(plain.weights.clone()));
        let mean = s.mean.clone().mean_dim(0);
        let cond_var = (s.e_hp2 + s.e_hm2 - s.mean.clone().square()).mean_dim(0);
        let total_var = cond_var + (s.mean - mean.clone()).square().mean_dim(0);
        let offset = st.offset_h.clone().mul_scalar(1.0 - d) + mean.mul_scalar(d);
        let scale = (st.scale_h.clone().square().mul_scalar(1.0 - d)
            + total_var.add_scalar(self.config.eps_h).mul_scalar(d))
        .sqrt();
        // Absorb: h' = h/s.
        let absorbed = GaussTensors {
            weights: plain.weights.clone() * scale.clone(),
            gamma_plus: plain.gamma_plus.clone() * scale.clone().square(),
            gamma_minus: plain.gamma_minus.clone() * scale.clone().square(),
            theta_plus: plain.theta_plus.clone() * scale.clone(),
            theta_minus: plain.theta_minus.clone() * scale.clone(),
            ..plain
        };
        let next = StandardizationTensors {
            offset_h: offset / scale.clone(),
            scale_h: scale.ones_like(),
            ..st.clone()
        };
        self.params = next.from_plain(&absorbed);
        self.standardization = next;
    }

    fn log_point(&mut self, batch: Tensor<2>, lr: f64) {
        let plain_t = self.standardization.to_plain(&self.params);
        let f = plain_t.free_energy(batch).mean().into_scalar::<f32>() as f64;
        let plain = plain_t.download();
        let point = GaussCurvePoint {
            update: self.update,
            learning_rate: lr,
            data_free_energy: f,
            max_abs_weight: plain.weights.iter().fold(0.0, |a, w| a.max(w.abs())),
            stability_margin: plain.stability_margin(),
            max_abs_chain_state: max_abs_finite(&self.chains).0,
        };
        if !f.is_finite() && self.report.exploded.is_none() {
            self.report.exploded = Some(GaussExplosion {
                phase: Phase::Training,
                at: self.update,
                reason: format!("data free energy = {f}"),
                stability_margin: point.stability_margin,
            });
        }
        self.report.curve.push(point);
    }

    /// Run the remaining updates; returns the plain host model (signs fixed unless it
    /// exploded) and the report.
    pub fn run(mut self) -> (GaussCrbm, GaussTrainReport) {
        while self.update < self.config.n_updates && self.step() {}
        self.finish()
    }

    /// Stop here and return the plain model and the report.
    pub fn finish(mut self) -> (GaussCrbm, GaussTrainReport) {
        self.report.updates_done = self.update;
        self.report.standardization = Some(self.standardization.download());
        let mut model = self.plain_model();
        self.report.stability_margin = model.stability_margin();
        if self.config.fix_signs && self.report.exploded.is_none() {
            self.report.flipped_units = model.fix_signs();
        }
        (model, self.report)
    }

    /// The persistent chains now, [C, N].
    pub fn chains(&self) -> Frames {
        super::tensor::download_frames(&self.chains)
    }
}

/// Ascent direction of the penalised log-likelihood in standardised coordinates, in
/// [`GaussTensors::to_array`] order: `plain` is the model the chains sample, `batch`
/// [B, N] the data batch, `chains` [C, N] the chain states, `data_moments` the training
/// set's ⟨v⟩ and ⟨v²⟩ ([1, N] each). With o = 0, s = 1 this is the plain PCD gradient.
pub fn pcd_gradient(
    plain: &GaussTensors,
    st: &StandardizationTensors,
    batch: Tensor<2>,
    chains: Tensor<2>,
    data_moments: (Tensor<2>, Tensor<2>),
    penalty: Penalty,
) -> [Tensor<2>; 7] {
    let hidden = plain.hidden();
    let (b, c) = (batch.dims()[0] as f64, chains.dims()[0] as f64);
    let sd = hidden.statistics(batch.clone().matmul(plain.weights.clone()));
    let sc = hidden.statistics(chains.clone().matmul(plain.weights.clone()));
    let zv = |v: Tensor<2>| (v - st.offset_v.clone()) / st.scale_v.clone();
    let zh = |h: Tensor<2>| (h - st.offset_h.clone()) / st.scale_h.clone();
    let gw = zv(batch).transpose().matmul(zh(sd.mean)).div_scalar(b)
        - zv(chains.clone())
            .transpose()
            .matmul(zh(sc.mean))
            .div_scalar(c)
        - penalty_gradient(penalty, &plain.weights)
            / st.scale_v.clone().transpose()
            / st.scale_h.clone();
    let diff = |d: Tensor<2>, m: Tensor<2>, k: f64| (d - m).mul_scalar(k);
    let (data_v, data_v2) = data_moments;
    [
        gw,
        diff(data_v2, chains.clone().square().mean_dim(0), -0.5),
        diff(data_v, chains.mean_dim(0), 1.0),
        diff(sd.e_hp2.mean_dim(0), sc.e_hp2.mean_dim(0), -0.5),
        diff(sd.e_hm2.mean_dim(0), sc.e_hm2.mean_dim(0), -0.5),
        diff(sd.e_hp.mean_dim(0), sc.e_hp.mean_dim(0), -1.0),
        diff(sd.e_hm.mean_dim(0), sc.e_hm.mean_dim(0), -1.0),
    ]
}

/// ∂R/∂W of the penalty on plain weights [N, M].
fn penalty_gradient(penalty: Penalty, w: &Tensor<2>) -> Tensor<2> {
    let n = w.dims()[0] as f64;
    match penalty {
        Penalty::None => w.zeros_like(),
        Penalty::L1 { lambda } => w.clone().sign().mul_scalar(lambda),
        Penalty::L2 { lambda } => w.clone().mul_scalar(lambda),
        Penalty::L2L1 { lambda } => {
            let cols = w.clone().abs().sum_dim(0);
            w.clone().sign() * cols.mul_scalar(lambda / n)
        }
    }
}

/// Training data must be non-empty and finite.
fn check_frames(frames: &Frames) -> Result<()> {
    if frames.is_empty() || frames.n_units == 0 {
        return Err(CrbmError::Shape {
            what: "training frames".into(),
            expected: 1,
            got: 0,
        });
    }
    if frames.values.iter().any(|x| !x.is_finite()) {
        return Err(CrbmError::InvalidConfig {
            field: "training frames",
            value: "non-finite".into(),
            reason: "every value must be finite",
        });
    }
    Ok(())
}

/// Train a fresh model on `frames` (see [`GaussTrainer`]).
pub fn train_gauss(
    frames: &Frames,
    config: GaussTrainConfig,
    device: &Device,
) -> Result<(GaussCrbm, GaussTrainReport)> {
    Ok(GaussTrainer::new(frames, config, device)?.run())
}

#[cfg(test)]
mod tests {
    use super::super::tensor::host;
    use super::*;
    use crate::gauss::model::GaussGradient;
    use crate::rng::lane_rng;

    /// A small run's settings: M hidden units, batch size, sweeps per update and updates,
    /// no training curve, the rest at their defaults.
    fn tiny_config(
        n_hidden: usize,
        batch_size: usize,
        gibbs_steps: usize,
        n_updates: usize,
    ) -> GaussTrainConfig {
        GaussTrainConfig {
            n_hidden,
            batch_size,
            gibbs_steps,
            n_updates,
            log_every: 0,
            ..Default::default()
        }
    }

    /// `n` exact samples of a model: host Gibbs chains, one per sample, long burn-in.
    fn exact_samples(model: &GaussCrbm, n: usize, seed: u64) -> Frames {
        let mut values = Vec::with_capacity(n * model.n_visible);
        for c in 0..n {
            let mut rng = lane_rng(seed, 1, c as u64);
            let mut v = vec![0.0; model.n_visible];
            for _ in 0..40 {
                model.gibbs_sweep(&mut v, &mut rng);
            }
            values.extend(v.iter().map(|&x| x as f32));
        }
        Frames::new(model.n_visible, values, "exact samples").unwrap()
    }

    fn flat(g: &[Tensor<2>; 7]) -> Vec<f64> {
        g.iter().flat_map(host).collect()
    }

    /// The chain rule from plain to standardised coordinates: W = w̃/(s_v s_h),
    /// θ = θ̃ − W o_h, θ± = θ̃± ± Wᵀo_v.
    fn to_standardized(g: &GaussGradient, st: &Standardization, n: usize, m: usize) -> Vec<f64> {
        let mut out = g.clone();
        for i in 0..n {
            for mu in 0..m {
                out.weights[i * m + mu] = (g.weights[i * m + mu] - st.offset_h[mu] * g.theta[i]
                    + st.offset_v[i] * (g.theta_plus[mu] - g.theta_minus[mu]))
                    / (st.scale_v[i] * st.scale_h[mu]);
            }
        }
        // Tensor order: w, γ, θ, γ+, γ−, θ+, θ−.
        [
            &out.weights,
            &out.gamma,
            &out.theta,
            &out.gamma_plus,
            &out.gamma_minus,
            &out.theta_plus,
            &out.theta_minus,
        ]
        .iter()
        .flat_map(|v| v.iter().copied())
        .collect()
    }

    #[test]
    fn pcd_gradient_matches_the_exact_gradient_in_both_coordinates() {
        // 3 visible, 2 hidden: the exact gradient by quadrature; the PCD estimate with
        // the whole data set as batch and 40,000 exact model samples as chains.
        let device = Device::flex();
        let model = GaussCrbm::random(3, 2, 0.5, 31);
        let data = exact_samples(&GaussCrbm::random(3, 2, 0.6, 32), 300, 1);
        let chains = exact_samples(&model, 40_000, 2);
        let exact = model
            .log_likelihood_gradient_exact(&data, 14.0, 200)
            .unwrap();
        let data_t = upload_frames(&data, &device);
        let moments = (
            data_t.clone().mean_dim(0),
            data_t.clone().square().mean_dim(0),
        );
        let plain = GaussTensors::upload(&model, &device);
        let st = Standardization {
            offset_v: vec![0.3, -0.2, 0.1],
            scale_v: vec![1.2, 0.8, 1.5],
            offset_h: vec![0.4, -0.6],
            scale_h: vec![0.7, 1.3],
        };
        for standardization in [Standardization::identity(3, 2), st] {
            let stt = StandardizationTensors::upload(&standardization, &device);
            let got = flat(&pcd_gradient(
                &plain,
                &stt,
                data_t.clone(),
                upload_frames(&chains, &device),
                moments.clone(),
                Penalty::None,
            ));
            let want = to_standardized(&exact, &standardization, 3, 2);
            // Monte-Carlo error of 40,000 samples of O(1) statistics: ~0.01.
            for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() < 0.05, "component {k}: PCD {g} vs exact {w}");
            }
        }
    }

    #[test]
    fn restandardization_leaves_the_plain_distribution_unchanged() {
        let device = Device::flex();
        let teacher = GaussCrbm::random(6, 3, 0.5, 5);
        let data = exact_samples(&teacher, 200, 3);
        let cfg = tiny_config(3, 50, 2, 5);
        let mut t = GaussTrainer::new(&data, cfg, &device).unwrap();
        for _ in 0..3 {
            t.step();
        }
        assert!(t.report.exploded.is_none(), "{:?}", t.report.exploded);
        let before = t.plain_model();
        let batch = upload_frames(&data.select(&(0..50).collect::<Vec<_>>()), &device);
        t.restandardize(batch);
        let after = t.plain_model();
        assert!(
            before.weights != after.weights,
            "the hidden scale was absorbed"
        );
        let vs = [
            [0.1, -0.5, 1.0, 0.3, -1.2, 0.7],
            [2.0, 0.0, -1.0, 0.5, 0.5, -0.3],
        ];
        let d: Vec<f64> = vs
            .iter()
            .map(|v| after.free_energy(v) - before.free_energy(v))
            .collect();
        assert!((d[0] - d[1]).abs() < 1e-4, "{d:?}");
    }

    #[test]
    fn training_approaches_the_teacher_likelihood() {
        // Teacher–student with M = 2, where the exact log-likelihood is available.
        let device = Device::flex();
        let mut teacher = GaussCrbm::random(8, 2, 0.0, 7);
        for i in 0..8 {
            teacher.weights[i * 2] = if i < 4 { 0.5 } else { 0.0 };
            teacher.weights[i * 2 + 1] = if i >= 4 { 0.5 } else { 0.0 };
        }
        let train = exact_samples(&teacher, 2000, 11);
        let test = exact_samples(&teacher, 1000, 12);
        let cfg = GaussTrainConfig {
            learning_rate: 2e-2,
            learning_rate_final: 1e-3,
            penalty: Penalty::None,
            seed: 4,
            ..tiny_config(2, 100, 5, 600)
        };
        let fresh = GaussTrainer::new(&train, cfg.clone(), &device)
            .unwrap()
            .plain_model();
        let (model, report) = train_gauss(&train, cfg, &device).unwrap();
        assert!(report.exploded.is_none(), "{:?}", report.exploded);
        let ll = |c: &GaussCrbm| c.log_likelihood_exact(&test, 14.0, 200).unwrap();
        let (l0, l1, lt) = (ll(&fresh), ll(&model), ll(&teacher));
        // The gap to the teacher closes by at least 80%.
        assert!(
            lt - l1 < 0.2 * (lt - l0),
            "init {l0}, trained {l1}, teacher {lt}"
        );
    }

    #[test]
    fn same_seed_same_model() {
        let device = Device::flex();
        let data = exact_samples(&GaussCrbm::random(5, 2, 0.5, 1), 200, 1);
        let cfg = tiny_config(2, 20, 3, 20);
        let a = train_gauss(&data, cfg.clone(), &device).unwrap().0;
        let b = train_gauss(&data, cfg.clone(), &device).unwrap().0;
        assert_eq!(a, b);
        let c = train_gauss(&data, GaussTrainConfig { seed: 9, ..cfg }, &device)
            .unwrap()
            .0;
        assert_ne!(a, c);
    }

    /// The host Gibbs engine draws the tensor engine's streams: the trained models agree up
    /// to f32 rounding, and both are deterministic.
    #[test]
    fn host_and_tensor_engines_train_the_same_model() {
        let device = Device::flex();
        let data = exact_samples(&GaussCrbm::random(12, 3, 0.4, 2), 300, 4);
        let cfg = GaussTrainConfig {
            learning_rate: 1e-2,
            learning_rate_final: 1e-3,
            ..tiny_config(3, 30, 5, 30)
        };
        let tensor = train_gauss(&data, cfg.clone(), &device).unwrap().0;
        let host_cfg = GaussTrainConfig {
            engine: GibbsEngine::Host,
            ..cfg
        };
        let host = train_gauss(&data, host_cfg.clone(), &device).unwrap().0;
        assert_eq!(host, train_gauss(&data, host_cfg, &device).unwrap().0);
        let worst = tensor
            .weights
            .iter()
            .zip(&host.weights)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let scale = tensor.weights.iter().fold(0.0f64, |a, w| a.max(w.abs()));
        assert!(scale > 0.05, "training moved the weights ({scale})");
        assert!(
            worst < 1e-3 * scale,
            "engines differ by {worst} (weights up to {scale})"
        );
    }

    #[test]
    fn a_model_past_the_stability_boundary_runs_away_and_is_flagged() {
        let device = Device::flex();
        let data = exact_samples(&GaussCrbm::random(6, 2, 0.3, 2), 100, 5);
        let cfg = GaussTrainConfig {
            learning_rate: 1e-6,
            learning_rate_final: 1e-6,
            standardize: false,
            ..tiny_config(2, 50, 50, 5)
        };
        let mut unstable = GaussCrbm::random(6, 2, 0.3, 3);
        unstable.weights.iter_mut().for_each(|w| *w *= 8.0);
        assert!(unstable.stability_margin() < 0.0);
        let run = |m: &GaussCrbm| {
            GaussTrainer::from_model(
                m,
                Standardization::identity(6, 2),
                &data,
                cfg.clone(),
                &device,
            )
            .unwrap()
            .run()
            .1
        };
        let report = run(&unstable);
        let e = report.exploded.expect("an improper model must explode");
        assert_eq!(e.phase, Phase::Training);
        assert_eq!(e.at, 1, "50 sweeps of an improper model run away at once");
        assert!(e.stability_margin < 0.0, "{e:?}");
        assert!(e.reason.contains("chain states"), "{e:?}");
        // The same data and settings with a stable model do not explode.
        let stable = GaussCrbm::random(6, 2, 0.3, 3);
        assert!(stable.stability_margin() > 0.0);
        assert!(run(&stable).exploded.is_none());
        // Sampling from the improper model is flagged as a sampling-phase explosion.
        let sampled = crate::gauss::evaluate::sample_model(
            &unstable,
            &data,
            &crate::gauss::GaussSamplingConfig {
                n_chains: 10,
                burn_in: 100,
                samples_per_chain: 2,
                thinning: 10,
                ..Default::default()
            },
            &device,
        )
        .unwrap();
        let e = sampled.expect_err("sampling must report the explosion");
        assert_eq!(e.phase, Phase::Sampling);
    }

    #[test]
    fn bad_configs_name_the_field() {
        let bad = |c: GaussTrainConfig| c.validate().unwrap_err().to_string();
        let d = GaussTrainConfig::default();
        assert!(bad(GaussTrainConfig {
            n_hidden: 0,
            ..d.clone()
        })
        .contains("n_hidden"));
        assert!(bad(GaussTrainConfig {
            damping: 1.5,
            ..d.clone()
        })
        .contains("damping"));
        assert!(bad(GaussTrainConfig {
            learning_rate: f64::NAN,
            ..d.clone()
        })
        .contains("learning_rate"));
        assert!(bad(GaussTrainConfig { eps_v: -1.0, ..d }).contains("eps_v"));
    }
}
