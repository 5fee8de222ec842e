//! Evaluation of a Gaussian-visible cRBM: model samples (from the prior, as the
//! reference, or from data frames), the five statistics on continuous frames, nRMSE
//! against held-out frames, and explosions met while sampling.

use burn::tensor::{Device, Tensor};
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::host::{GibbsEngine, HostGibbs};
use super::model::GaussCrbm;
use super::tensor::{download_frames, max_abs_finite, upload_frames, GaussGibbs, GaussTensors};
use super::train::{GaussExplosion, Phase};
use crate::error::{CrbmError, Result};
use crate::frames::Frames;
use crate::rng::lane_rng;
use crate::stats::{nrmse_report, sample_pairs, EvalConfig, FiveStatistics, NrmseReport};

/// Where the evaluation chains start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainStart {
    /// Random states of the visible layer alone (the reference's choice).
    Prior,
    /// Random training frames.
    Data,
}

/// How model samples are drawn: `n_chains · samples_per_chain` samples after
/// `burn_in` sweeps, `thinning` sweeps apart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GaussSamplingConfig {
    pub start: ChainStart,
    pub n_chains: usize,
    pub burn_in: usize,
    pub samples_per_chain: usize,
    pub thinning: usize,
    /// |v| above this (data sd units) during sampling marks the model exploded.
    pub max_abs_state: f64,
    pub seed: u64,
    /// Where the sweeps run (same random streams either way).
    pub engine: GibbsEngine,
}

impl Default for GaussSamplingConfig {
    /// The reference's evaluation: 1,500 samples from the prior (150 chains × 10),
    /// 500 thermalisation sweeps, samples 100 sweeps apart.
    fn default() -> Self {
        Self {
            start: ChainStart::Prior,
            n_chains: 150,
            burn_in: 500,
            samples_per_chain: 10,
            thinning: 100,
            max_abs_state: 1e3,
            seed: 0,
            engine: GibbsEngine::Tensor,
        }
    }
}

impl GaussSamplingConfig {
    pub fn validate(&self) -> Result<()> {
        let counts = [
            ("sampling.n_chains", self.n_chains),
            ("sampling.samples_per_chain", self.samples_per_chain),
            ("sampling.thinning", self.thinning),
        ];
        if let Some((f, v)) = counts.iter().find(|(_, v)| *v == 0) {
            return Err(CrbmError::InvalidConfig {
                field: f,
                value: v.to_string(),
                reason: "must be ≥ 1",
            });
        }
        if !(self.max_abs_state > 0.0) {
            return Err(CrbmError::InvalidConfig {
                field: "sampling.max_abs_state",
                value: self.max_abs_state.to_string(),
                reason: "must be > 0",
            });
        }
        Ok(())
    }
}

/// Either samples, or the explosion that stopped the sampling.
pub type Samples = std::result::Result<Frames, GaussExplosion>;

/// Draw model samples on `device`; a run-away or non-finite chain stops sampling
/// and is returned as an explosion in [`Phase::Sampling`].
pub fn sample_model(
    model: &GaussCrbm,
    train: &Frames,
    cfg: &GaussSamplingConfig,
    device: &Device,
) -> Result<Samples> {
    cfg.validate()?;
    match cfg.engine {
        GibbsEngine::Tensor => sample_with_tensors(model, train, cfg, device),
        GibbsEngine::Host => Ok(sample_on_host(model, train, cfg)),
    }
}

/// Indices of the training frames that start the chains ([`ChainStart::Data`]).
fn start_frames(train: &Frames, cfg: &GaussSamplingConfig) -> Vec<usize> {
    let mut rng = lane_rng(cfg.seed, 0, 1 << 41);
    (0..cfg.n_chains)
        .map(|_| rng.random_range(0..train.len().max(1)))
        .collect()
}

/// Whether the state after `after` sweeps is kept, and whether it is checked for runaways.
fn keep_and_check(cfg: &GaussSamplingConfig, after: usize) -> (bool, bool) {
    let keep = after > cfg.burn_in && (after - cfg.burn_in) % cfg.thinning == 0;
    (keep, keep || after % 50 == 0)
}

fn sample_with_tensors(
    model: &GaussCrbm,
    train: &Frames,
    cfg: &GaussSamplingConfig,
    device: &Device,
) -> Result<Samples> {
    let gibbs = GaussGibbs::new(GaussTensors::upload(model, device), device);
    let mut v = match cfg.start {
        ChainStart::Prior => gibbs.sample_visible_prior(cfg.n_chains, cfg.seed),
        ChainStart::Data => upload_frames(&train.select(&start_frames(train, cfg)), device),
    };
    let mut kept: Vec<Tensor<2>> = Vec::with_capacity(cfg.samples_per_chain);
    let total = cfg.burn_in + cfg.samples_per_chain * cfg.thinning;
    for step in 0..total {
        v = gibbs.sweep(v, cfg.seed, step as u64);
        let (keep, check) = keep_and_check(cfg, step + 1);
        if check {
            let (max, finite) = max_abs_finite(&v);
            if let Some(e) = runaway(max, finite, step + 1, cfg.max_abs_state, model) {
                return Ok(Err(e));
            }
        }
        if keep {
            kept.push(v.clone());
        }
    }
    Ok(Ok(download_frames(&Tensor::cat(kept, 0))))
}

/// [`sample_with_tensors`] with host sweeps ([`HostGibbs`]): the same streams and checks.
fn sample_on_host(model: &GaussCrbm, train: &Frames, cfg: &GaussSamplingConfig) -> Samples {
    let gibbs = HostGibbs::new(model);
    let n = model.n_visible;
    let mut v = match cfg.start {
        ChainStart::Prior => {
            let mut v = vec![0f32; cfg.n_chains * n];
            let zeros = vec![0f32; cfg.n_chains * model.n_hidden];
            gibbs.sample_visible(&zeros, &mut v, cfg.seed, u64::MAX);
            v
        }
        ChainStart::Data => train.select(&start_frames(train, cfg)).values,
    };
    let mut kept = Vec::with_capacity(cfg.samples_per_chain * v.len());
    let mut h = Vec::new();
    let total = cfg.burn_in + cfg.samples_per_chain * cfg.thinning;
    for step in 0..total {
        gibbs.sweep(&mut v, &mut h, cfg.seed, step as u64);
        let (keep, check) = keep_and_check(cfg, step + 1);
        if check {
            let finite = v.iter().all(|x| x.is_finite());
            let max = v.iter().fold(0f32, |a, x| a.max(x.abs())) as f64;
            if let Some(e) = runaway(max, finite, step + 1, cfg.max_abs_state, model) {
                return Err(e);
            }
        }
        if keep {
            kept.extend_from_slice(&v);
        }
    }
    Ok(Frames {
        n_units: n,
        values: kept,
    })
}

/// The explosion of chains whose largest |v| is `max` (`finite`: no NaN/inf), if any.
fn runaway(
    max: f64,
    finite: bool,
    at: usize,
    limit: f64,
    model: &GaussCrbm,
) -> Option<GaussExplosion> {
    let reason = if !finite {
        "non-finite chain states".to_string()
    } else if max > limit {
        format!("runaway chain states: max |v| = {max:.3e} > {limit}")
    } else {
        return None;
    };
    Some(GaussExplosion {
        phase: Phase::Sampling,
        at,
        reason,
        stability_margin: model.stability_margin(),
    })
}

/// E[h|v] for every frame, f64, shape [T, M].
pub fn hidden_means(model: &GaussCrbm, frames: &Frames) -> Vec<f64> {
    let m = model.n_hidden;
    (0..frames.len())
        .into_par_iter()
        .flat_map_iter(|t| {
            let v: Vec<f64> = frames.row(t).iter().map(|&x| x as f64).collect();
            let input = model.hidden_input(&v);
            (0..m).map(move |mu| model.hidden[mu].mean(input[mu]))
        })
        .collect()
}

/// The five statistics of continuous frames under `model` (hidden ones through E[h|v]),
/// with the visible pairs `pairs` for the connected ⟨vv⟩. Sums in f64.
pub fn five_statistics(model: &GaussCrbm, frames: &Frames, pairs: &[(u32, u32)]) -> FiveStatistics {
    let (n, m) = (model.n_visible, model.n_hidden);
    let t_len = frames.len();
    let t = t_len.max(1) as f64;
    let hm = hidden_means(model, frames);
    let (v, _) = frames.mean_var();
    let (h, hh) = crate::stats::hidden_statistics(&hm, m, t);
    let vh: Vec<f64> = (0..n)
        .into_par_iter()
        .flat_map_iter(|i| {
            let mut acc = vec![0.0; m];
            for k in 0..t_len {
                let x = frames.values[k * n + i] as f64;
                acc.iter_mut()
                    .zip(&hm[k * m..(k + 1) * m])
                    .for_each(|(a, y)| *a += x * y / t);
            }
            acc
        })
        .collect();
    let columns: Vec<Vec<f64>> = (0..n)
        .into_par_iter()
        .map(|i| {
            (0..t_len)
                .map(|k| frames.values[k * n + i] as f64)
                .collect()
        })
        .collect();
    let vv = pairs
        .par_iter()
        .map(|&(i, j)| {
            let (a, b) = (&columns[i as usize], &columns[j as usize]);
            a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>() / t - v[i as usize] * v[j as usize]
        })
        .collect();
    FiveStatistics { v, h, vh, vv, hh }
}

/// The outcome of evaluating one model.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussEvaluation {
    /// nRMSE report; for an exploded model every nRMSE is NaN, bad and not good.
    pub report: NrmseReport,
    /// Set when sampling exploded.
    pub exploded: Option<GaussExplosion>,
    /// Statistics of the held-out frames and of the model samples (None if exploded).
    pub test: Option<FiveStatistics>,
    pub model: Option<FiveStatistics>,
}

/// The report of a model that has no finite statistics.
pub fn exploded_report() -> NrmseReport {
    NrmseReport {
        v: f64::NAN,
        h: f64::NAN,
        vh: f64::NAN,
        vv: f64::NAN,
        hh: f64::NAN,
        norm4: f64::NAN,
        bad: true,
        good: false,
    }
}

/// Sample the model, compare its statistics with held-out `test` frames (the `train`
/// frames give the noise floor).
pub fn evaluate(
    model: &GaussCrbm,
    train: &Frames,
    test: &Frames,
    sampling: &GaussSamplingConfig,
    cfg: &EvalConfig,
    device: &Device,
) -> Result<GaussEvaluation> {
    if train.n_units != model.n_visible || test.n_units != model.n_visible {
        return Err(CrbmError::Shape {
            what: "evaluation frames' units vs model visible units".into(),
            expected: model.n_visible,
            got: if train.n_units != model.n_visible {
                train.n_units
            } else {
                test.n_units
            },
        });
    }
    let samples = match sample_model(model, train, sampling, device)? {
        Ok(s) => s,
        Err(e) => {
            return Ok(GaussEvaluation {
                report: exploded_report(),
                exploded: Some(e),
                test: None,
                model: None,
            })
        }
    };
    let pairs = sample_pairs(model.n_visible, cfg.max_pairs, cfg.seed);
    let st = five_statistics(model, test, &pairs);
    let ss = five_statistics(model, train, &pairs);
    let sm = five_statistics(model, &samples, &pairs);
    Ok(GaussEvaluation {
        report: nrmse_report(&st, &ss, &sm, cfg),
        exploded: None,
        test: Some(st),
        model: Some(sm),
    })
}
