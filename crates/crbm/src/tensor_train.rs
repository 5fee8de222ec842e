//! PCD training with every large array as a burn tensor on a [`Device`]
//! (the GPU route: `--features wgpu`). Same update as [`crate::train`]:
//! data-minus-chains moments (`⟨vᵀΦ′⟩` as one matmul per term), penalty,
//! global-norm clipping, Adam / RMSprop / SGD written on tensors, geometric
//! decay, divergence detection, training curve. Hidden units are sampled exactly on the host
//! ([B, M] values only). Hidden standardisation is only in [`crate::train`];
//! asking for it here is a config error.

use burn::tensor::{Device, Tensor, TensorData};

use crate::batch::{BatchOrder, SparseBatch, DATA_ORDER_LANE};
use crate::error::{CrbmError, Result};
use crate::layers::DRelu;
use crate::model::Crbm;
use crate::optim::Optimizer;
use crate::penalty::Penalty;
use crate::rng::lane_rng;
use crate::tensor::{drelu_from_tensors, host, row, DReluTensors, TensorSampler};
use crate::train::{curve_point, Explosion, TrainConfig, TrainReport};

/// Parameter tensors: w [N, M], g [1, N], γ+, γ−, θ+, θ− [1, M].
#[derive(Clone, Debug)]
pub struct DeviceParams {
    pub tensors: [Tensor<2>; 6],
}

impl DeviceParams {
    pub fn upload(model: &Crbm, device: &Device) -> Self {
        let (n, m) = (model.n_visible, model.n_hidden);
        let w: Vec<f32> = model.weights.iter().map(|&x| x as f32).collect();
        let [gp, gm, tp, tm] = DRelu::columns(&model.hidden).map(|c| row(&c, device));
        Self {
            tensors: [
                Tensor::<2>::from_data(TensorData::new(w, [n, m]), device),
                row(&model.fields, device),
                gp,
                gm,
                tp,
                tm,
            ],
        }
    }

    pub fn download(&self) -> Crbm {
        let [n, m] = self.tensors[0].dims();
        Crbm {
            n_visible: n,
            n_hidden: m,
            weights: host(&self.tensors[0]),
            fields: host(&self.tensors[1]),
            hidden: self.download_hidden_only(),
        }
    }

    fn hidden(&self) -> DReluTensors {
        let [_, _, gp, gm, tp, tm] = self.tensors.clone();
        DReluTensors {
            gamma_plus: gp,
            gamma_minus: gm,
            theta_plus: tp,
            theta_minus: tm,
        }
    }
}

/// Ascent direction of the penalised log-likelihood for one data batch and one
/// set of chain states (dense 0/1 [B, N] and [C, N]), same layout as [`DeviceParams`].
pub fn pcd_gradient(
    params: &DeviceParams,
    v_data: Tensor<2>,
    v_chains: Tensor<2>,
    penalty: Penalty,
) -> [Tensor<2>; 6] {
    let hidden = params.hidden();
    let w = params.tensors[0].clone();
    let [b, n] = v_data.dims();
    let c = v_chains.dims()[0];
    let sd = hidden.statistics(v_data.clone().matmul(w.clone()));
    let sc = hidden.statistics(v_chains.clone().matmul(w.clone()));
    let mut gw = v_data
        .clone()
        .transpose()
        .matmul(sd.mean)
        .div_scalar(b as f64)
        - v_chains
            .clone()
            .transpose()
            .matmul(sc.mean)
            .div_scalar(c as f64);
    gw = match penalty {
        Penalty::None => gw,
        Penalty::L1 { lambda } => gw - w.sign().mul_scalar(lambda),
        Penalty::L2 { lambda } => gw - w.mul_scalar(lambda),
        Penalty::L2L1 { lambda } => {
            let cols = w.clone().abs().sum_dim(0); // [1, M]
            gw - w.sign() * cols.mul_scalar(lambda / n as f64)
        }
    };
    let gg = v_data.mean_dim(0) - v_chains.mean_dim(0);
    // ∂/∂γ± = −½⟨E[h±²]⟩_data + ½⟨E[h±²]⟩_chains, ∂/∂θ± = −⟨E[h±]⟩_data + ⟨E[h±]⟩_chains.
    let d = |data: Tensor<2>, chains: Tensor<2>, k: f64| {
        (chains.mean_dim(0) - data.mean_dim(0)).mul_scalar(k)
    };
    [
        gw,
        gg,
        d(sd.e_hp2, sc.e_hp2, 0.5),
        d(sd.e_hm2, sc.e_hm2, 0.5),
        d(sd.e_hp, sc.e_hp, 1.0),
        d(sd.e_hm, sc.e_hm, 1.0),
    ]
}

/// PCD on a device; see the module docs.
pub struct DeviceTrainer<'a> {
    pub device: Device,
    pub config: TrainConfig,
    pub params: DeviceParams,
    data: &'a SparseBatch,
    moments: Vec<(Tensor<2>, Tensor<2>)>,
    chains: Tensor<2>,
    batches: BatchOrder,
    pub update: usize,
    pub report: TrainReport,
}

const CHAIN_SEED_MIX: u64 = 0x5EED_C4A1;

impl<'a> DeviceTrainer<'a> {
    pub fn from_model(
        model: &Crbm,
        data: &'a SparseBatch,
        config: TrainConfig,
        device: &Device,
    ) -> Result<Self> {
        config.validate()?;
        if config.standardize_hidden {
            return Err(CrbmError::InvalidConfig {
                field: "standardize_hidden",
                value: "true".into(),
                reason: "not implemented by DeviceTrainer (use train::PcdTrainer)",
            });
        }
        if config.standardize.enabled {
            return Err(CrbmError::InvalidConfig {
                field: "standardize.enabled",
                value: "true".into(),
                reason: "standardised training of Bernoulli units is not implemented by \
                         DeviceTrainer (use train::PcdTrainer, or disable standardisation)",
            });
        }
        if data.is_empty() || data.n_visible != model.n_visible {
            return Err(CrbmError::Shape {
                what: "training data neurons".into(),
                expected: model.n_visible,
                got: data.n_visible,
            });
        }
        let params = DeviceParams::upload(model, device);
        let sampler = TensorSampler::new(model, device, config.seed);
        let mut rng = lane_rng(config.seed, 0, DATA_ORDER_LANE + 1);
        let idx: Vec<usize> = (0..config.n_chains)
            .map(|_| rand::Rng::random_range(&mut rng, 0..data.len()))
            .collect();
        let chains = sampler.upload(&data.select(&idx));
        let moments = params
            .tensors
            .iter()
            .map(|t| (t.zeros_like(), t.zeros_like()))
            .collect();
        Ok(Self {
            device: device.clone(),
            config,
            params,
            data,
            moments,
            chains,
            batches: BatchOrder::default(),
            update: 0,
            report: TrainReport::default(),
        })
    }

    fn next_batch(&mut self) -> SparseBatch {
        let b = self.config.batch_size.min(self.data.len());
        let idx = self.batches.next(self.data.len(), b, self.config.seed);
        self.data.select(idx)
    }

    /// One update; false once the run has diverged.
    pub fn step(&mut self) -> bool {
        if self.report.exploded.is_some() {
            return false;
        }
        let cfg = self.config.clone();
        let t = self.update;
        let lr = cfg.learning_rate_at(t);
        let model = self.params.download_hidden_only();
        let sampler = TensorSampler::from_params(&self.params, model, &self.device);
        let batch = self.next_batch();
        let v_data = sampler.upload(&batch);
        let chain_seed = cfg.seed ^ CHAIN_SEED_MIX;
        for s in 0..cfg.gibbs_steps {
            let step = (t * cfg.gibbs_steps + s) as u64;
            self.chains = sampler.gibbs_sweep(self.chains.clone(), chain_seed, step);
        }
        let mut grad = pcd_gradient(&self.params, v_data, self.chains.clone(), cfg.penalty);
        if let Some(max_norm) = cfg.grad_clip_norm {
            let norm2: f64 = grad
                .iter()
                .map(|g| g.clone().square().sum().into_scalar::<f32>() as f64)
                .sum();
            let norm = norm2.sqrt();
            if norm > max_norm {
                grad = grad.map(|g| g.mul_scalar(max_norm / norm));
            }
        }
        let step_no = t as i32 + 1;
        for (k, g) in grad.into_iter().enumerate() {
            let p = self.params.tensors[k].clone();
            let (m1, m2) = self.moments[k].clone();
            let (p, m1, m2) = match cfg.optimizer {
                Optimizer::Sgd => (p + g.mul_scalar(lr), m1, m2),
                Optimizer::Adam {
                    beta1,
                    beta2,
                    epsilon,
                } => {
                    let m1 = m1.mul_scalar(beta1) + g.clone().mul_scalar(1.0 - beta1);
                    let m2 = m2.mul_scalar(beta2) + g.square().mul_scalar(1.0 - beta2);
                    let (c1, c2) = (1.0 - beta1.powi(step_no), 1.0 - beta2.powi(step_no));
                    let step = m1.clone().mul_scalar(lr / c1)
                        / m2.clone().div_scalar(c2).sqrt().add_scalar(epsilon);
                    (p + step, m1, m2)
                }
                Optimizer::Rmsprop { rho, epsilon } => {
                    let m2 = m2.mul_scalar(rho) + g.clone().square().mul_scalar(1.0 - rho);
                    (
                        p + g.mul_scalar(lr) / m2.clone().sqrt().add_scalar(epsilon),
                        m1,
                        m2,
                    )
                }
            };
            // γ± (slots 2, 3) must stay positive.
            self.params.tensors[k] = if k == 2 || k == 3 {
                p.clamp_min(cfg.gamma_min)
            } else {
                p
            };
            self.moments[k] = (m1, m2);
        }
        self.update += 1;
        let non_finite = self.params.tensors.iter().any(|t| {
            t.clone().is_nan().any().into_scalar::<bool>()
                || t.clone().is_inf().any().into_scalar::<bool>()
        });
        let max_w = self.params.tensors[0]
            .clone()
            .abs()
            .max()
            .into_scalar::<f32>() as f64;
        let reason = if non_finite {
            Some("non-finite parameter".to_string())
        } else if max_w > cfg.max_abs_weight {
            Some(format!("max |w| = {max_w:.3e} > {}", cfg.max_abs_weight))
        } else {
            None
        };
        let epoch = self.update as f64 * cfg.batch_size.min(self.data.len()) as f64
            / self.data.len() as f64;
        if let Some(reason) = reason {
            self.report.exploded = Some(Explosion {
                update: self.update,
                epoch,
                reason,
            });
        }
        if cfg.log_every > 0 && (self.update % cfg.log_every == 0 || self.report.exploded.is_some())
        {
            // Needs the parameters on the host: only at log points.
            let point = curve_point(
                &self.params.download(),
                &batch,
                self.data,
                &cfg,
                self.update,
                epoch,
                lr,
            );
            if !point.data_free_energy.is_finite() && self.report.exploded.is_none() {
                self.report.exploded = Some(Explosion {
                    update: self.update,
                    epoch,
                    reason: format!("data free energy = {}", point.data_free_energy),
                });
            }
            self.report.curve.push(point);
        }
        self.report.exploded.is_none()
    }

    /// Run the remaining updates and return the host model (sign fix-up applied
    /// if configured and the run did not explode).
    pub fn run(mut self) -> (Crbm, TrainReport) {
        while self.update < self.config.n_updates && self.step() {}
        self.report.updates_done = self.update;
        let mut model = self.params.download();
        if self.config.fix_signs && self.report.exploded.is_none() {
            self.report.flipped_units = model.fix_signs();
        }
        (model, self.report)
    }
}

impl DeviceParams {
    /// Host copy of the hidden parameters only (the sampler needs them on the host).
    fn download_hidden_only(&self) -> Vec<DRelu> {
        let [_, _, gp, gm, tp, tm] = &self.tensors;
        drelu_from_tensors([gp, gm, tp, tm])
    }
}

/// Backend check: the PCD gradient of [`pcd_gradient`] on `device` for a fixed random model,
/// data batch and chain batch, against the host f64 sufficient statistics. Returns the largest
/// error relative to 1 + |host value| over all six parameter slots.
pub fn gradient_error_vs_host(device: &Device) -> f64 {
    let c = Crbm::random(9, 3, 12);
    let data = SparseBatch {
        n_visible: 9,
        rows: vec![vec![0, 3, 8], vec![1, 2], vec![], vec![4, 5, 6, 7]],
    };
    let chains = SparseBatch {
        n_visible: 9,
        rows: vec![vec![2, 3], vec![0, 1, 2, 8], vec![6]],
    };
    let penalty = Penalty::L2L1 { lambda: 0.3 };
    let mut host = crate::model::Gradient::zeros(9, 3);
    data.rows
        .iter()
        .for_each(|r| c.accumulate_statistics(r, 1.0 / 4.0, &mut host));
    chains
        .rows
        .iter()
        .for_each(|r| c.accumulate_statistics(r, -1.0 / 3.0, &mut host));
    penalty.subtract_gradient(&c.weights, 9, 3, &mut host.weights);
    let params = DeviceParams::upload(&c, device);
    let ts = TensorSampler::new(&c, device, 0);
    let g = pcd_gradient(&params, ts.upload(&data), ts.upload(&chains), penalty);
    let want = [
        &host.weights,
        &host.fields,
        &host.gamma_plus,
        &host.gamma_minus,
        &host.theta_plus,
        &host.theta_minus,
    ];
    let mut worst = 0.0f64;
    for (t, w) in g.iter().zip(want) {
        let got = t.to_data().try_to_vec::<f32>().unwrap_or_default();
        if got.len() != w.len() {
            return f64::INFINITY;
        }
        for (a, b) in got.iter().zip(w.iter()) {
            worst = worst.max((*a as f64 - b).abs() / (1.0 + b.abs()));
        }
    }
    worst
}

/// Backend check data: 300 samples of a random 8-unit, 2-hidden-unit teacher after 50 Gibbs
/// sweeps on `device`.
pub fn teacher_samples(device: &Device) -> SparseBatch {
    let teacher = Crbm::random(8, 2, 5);
    let ts = TensorSampler::new(&teacher, device, 1);
    let mut v = ts.upload(&SparseBatch {
        n_visible: 8,
        rows: vec![vec![]; 300],
    });
    for s in 0..50 {
        v = ts.gibbs_sweep(v, 2, s);
    }
    ts.download(v)
}

/// The PCD settings of [`training_gain`]: M = 3, batch 50, 100 chains, L2L1 λ = 10⁻³,
/// clipping at 10, rate decaying tenfold.
pub fn check_config(n_updates: usize, gibbs_steps: usize, learning_rate: f64) -> TrainConfig {
    TrainConfig {
        n_hidden: 3,
        batch_size: 50,
        n_chains: 100,
        gibbs_steps,
        n_updates,
        learning_rate,
        learning_rate_final: learning_rate / 10.0,
        penalty: Penalty::L2L1 { lambda: 1e-3 },
        grad_clip_norm: Some(10.0),
        log_every: 0,
        seed: 1,
        standardize: crate::train::StandardizeConfig::disabled(),
        ..TrainConfig::default()
    }
}

/// Backend check: device PCD on `device` (settings of [`check_config`]) from the
/// independent-unit initialisation. Returns the exact log-likelihood of `data` before and
/// after training, and the report.
pub fn training_gain(
    device: &Device,
    data: &SparseBatch,
    config: TrainConfig,
) -> Result<(f64, f64, TrainReport)> {
    let init = Crbm::init(&data.mean_activity(), config.n_hidden, None, 1);
    let ll0 = init.log_likelihood_exact(data)?;
    let (model, report) = DeviceTrainer::from_model(&init, data, config, device)?.run();
    let ll1 = model.log_likelihood_exact(data)?;
    Ok((ll0, ll1, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_gradient_matches_host_statistics() {
        let e = gradient_error_vs_host(&Device::flex());
        assert!(e < 2e-4, "max relative error {e}");
    }

    #[test]
    fn device_training_increases_exact_log_likelihood() {
        let device = Device::flex();
        let data = teacher_samples(&device);
        let exploding = TrainConfig {
            learning_rate: 10.0,
            learning_rate_final: 10.0,
            optimizer: Optimizer::Sgd,
            max_abs_weight: 5.0,
            log_every: 1,
            ..check_config(400, 5, 1e-2)
        };
        let (_, _, rep) = training_gain(&device, &data, exploding).unwrap();
        let e = rep.exploded.expect("must explode");
        assert!(
            e.update >= 1 && rep.updates_done == e.update && !rep.curve.is_empty(),
            "{e:?}"
        );
        let (ll0, ll1, report) = training_gain(&device, &data, check_config(400, 5, 1e-2)).unwrap();
        assert!(report.exploded.is_none(), "{report:?}");
        eprintln!("device PCD: exact LL {ll0:.4} → {ll1:.4}");
        assert!(ll1 > ll0 + 0.05, "{ll0} → {ll1}");
    }
}
