//! One Gaussian-visible model end to end: chronological split, standardised PCD on a
//! device, evaluation on held-out frames, voxel couplings, and — when the recording
//! is synthetic — recovery of the planted structure.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::couplings::{assembly_recovery, couplings, upper_triangle_correlation};
use super::evaluate::{evaluate, exploded_report, GaussEvaluation, GaussSamplingConfig};
use super::model::GaussCrbm;
use super::train::{GaussExplosion, GaussTrainConfig, GaussTrainReport, GaussTrainer};
use crate::data::split::{split_frames, SplitConfig};
use crate::error::{CrbmError, Result};
use crate::frames::Frames;
use crate::recovery::{mean_jaccard, AssemblyMatch};
use crate::stats::EvalConfig;

/// Planted structure of a synthetic recording at the level of the visible units.
#[derive(Clone, Debug, PartialEq)]
pub struct Truth {
    /// True unit×unit coupling matrix, [K, K] row-major.
    pub couplings: Vec<f64>,
    /// Planted assemblies as sets of visible units.
    pub assemblies: Vec<Vec<u32>>,
}

/// Settings of one fit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GaussFitConfig {
    pub train: GaussTrainConfig,
    pub sampling: GaussSamplingConfig,
    pub eval: EvalConfig,
    pub split: SplitConfig,
}

/// How well a model found the planted structure.
#[derive(Clone, Debug, PartialEq)]
pub struct TruthScore {
    /// Pearson r between true and model couplings over unit pairs i < j.
    pub coupling_correlation: f64,
    pub matches: Vec<AssemblyMatch>,
    pub mean_jaccard: f64,
}

/// Everything one fit produced.
#[derive(Clone, Debug)]
pub struct GaussFit {
    pub model: GaussCrbm,
    pub train_report: GaussTrainReport,
    pub evaluation: GaussEvaluation,
    /// Model couplings `W diag⟨Var h⟩ Wᵀ` on the training frames, [K, K] (empty if exploded).
    pub couplings: Vec<f64>,
    pub truth: Option<TruthScore>,
    pub train_frames: usize,
    pub test_frames: usize,
}

impl GaussFit {
    /// Exploded in training or in evaluation sampling.
    pub fn exploded(&self) -> bool {
        self.explosion().is_some()
    }

    /// The explosion that ended training, else the one met in evaluation sampling.
    pub fn explosion(&self) -> Option<&GaussExplosion> {
        self.train_report
            .exploded
            .as_ref()
            .or(self.evaluation.exploded.as_ref())
    }
}

/// Split, train (calling `progress(update)` after each update), evaluate and score.
pub fn fit(
    frames: &Frames,
    truth: Option<&Truth>,
    cfg: &GaussFitConfig,
    device: &Device,
    mut progress: impl FnMut(usize),
) -> Result<GaussFit> {
    if let Some(t) = truth {
        check_truth(t, frames.n_units)?;
    }
    let split = split_frames(frames, &cfg.split)?;
    let mut trainer = GaussTrainer::new(&split.train, cfg.train.clone(), device)?;
    while trainer.update < cfg.train.n_updates && trainer.step() {
        progress(trainer.update);
    }
    let (model, train_report) = trainer.finish();
    let evaluation = if train_report.exploded.is_some() {
        GaussEvaluation {
            report: exploded_report(),
            exploded: None,
            test: None,
            model: None,
        }
    } else {
        evaluate(
            &model,
            &split.train,
            &split.test,
            &cfg.sampling,
            &cfg.eval,
            device,
        )?
    };
    let finite = train_report.exploded.is_none() && model.is_valid();
    let j = if finite {
        couplings(&model, &split.train)
    } else {
        Vec::new()
    };
    let truth = match (truth, finite) {
        (Some(t), true) => Some(score(&model, &j, t)),
        _ => None,
    };
    Ok(GaussFit {
        model,
        train_report,
        evaluation,
        couplings: j,
        truth,
        train_frames: split.train.len(),
        test_frames: split.test.len(),
    })
}

fn score(model: &GaussCrbm, j: &[f64], truth: &Truth) -> TruthScore {
    let matches = assembly_recovery(model, &truth.assemblies);
    TruthScore {
        coupling_correlation: upper_triangle_correlation(&truth.couplings, j, model.n_visible),
        mean_jaccard: mean_jaccard(&matches),
        matches,
    }
}

fn check_truth(t: &Truth, k: usize) -> Result<()> {
    if t.couplings.len() != k * k {
        return Err(CrbmError::Shape {
            what: "true coupling matrix entries (K²)".into(),
            expected: k * k,
            got: t.couplings.len(),
        });
    }
    if let Some(u) = t.assemblies.iter().flatten().find(|&&u| u as usize >= k) {
        return Err(CrbmError::Shape {
            what: "planted assembly unit index (must be < K)".into(),
            expected: k,
            got: *u as usize,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::brain::{synthetic_voxels, BrainConfig};
    use crate::voxel::VoxelConfig;

    /// The voxelised synthetic brain at a small scale (2,000 neurons, 1,200 frames, 60 µm
    /// voxels): training finds the planted couplings and reproduces the visible statistics.
    #[test]
    fn training_on_the_synthetic_brain_recovers_the_planted_couplings() {
        let brain = BrainConfig {
            n_neurons: 2000,
            n_frames: 1200,
            ..Default::default()
        };
        let voxels = VoxelConfig {
            voxel_size: 60.0,
            ..Default::default()
        };
        let (_, v, t) = synthetic_voxels(&brain, &voxels, 0.5).unwrap();
        let truth = Truth {
            couplings: t.coupling,
            assemblies: t.assemblies,
        };
        let frames = v.signals(0);
        let cfg = |n_updates| GaussFitConfig {
            train: GaussTrainConfig {
                n_hidden: 12,
                gibbs_steps: 10,
                n_updates,
                learning_rate: 2e-3,
                learning_rate_final: 4e-5,
                log_every: 0,
                ..Default::default()
            },
            sampling: GaussSamplingConfig {
                n_chains: 50,
                ..Default::default()
            },
            ..Default::default()
        };
        let device = Device::flex();
        let fresh = fit(frames, Some(&truth), &cfg(1), &device, |_| {}).unwrap();
        let trained = fit(frames, Some(&truth), &cfg(400), &device, |_| {}).unwrap();
        assert!(!trained.exploded());
        let (r0, r1) = (
            fresh.truth.unwrap().coupling_correlation,
            trained.truth.unwrap().coupling_correlation,
        );
        assert!(
            r1 > 0.5 && r1 > r0 + 0.2,
            "trained r {r1}, untrained r {r0}"
        );
        let rep = &trained.evaluation.report;
        for (name, x) in [("<v>", rep.v), ("<vh>", rep.vh), ("<vv>", rep.vv)] {
            assert!(x < 0.3, "{name} nRMSE {x}: {rep:?}");
        }
    }
}
