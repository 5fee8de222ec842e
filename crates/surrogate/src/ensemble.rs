//! Ensembles of surrogates of one family trained with different seeds (weights, split and
//! batch order all change with the seed); the spread of their total-cost predictions is an
//! uncertainty estimate that grows away from the training data.

use std::fs;
use std::path::Path;

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{io_err, Result, SurrogateError};
use crate::models::{ModelConfig, ModelKind, Prediction, Surrogate};
use crate::persist::{read_for_load, write_atomic, Provenance};
use crate::samples::{Connectome, Samples, THETA_DIM};
use crate::train::{metrics, EpochLog, Metrics, TrainConfig, TrainHistory};
use pmfm_sim::data::EmpiricalData;

/// Manifest file name inside an ensemble directory (members sit in `member_000/`, ...).
pub const ENSEMBLE_FILE: &str = "ensemble.json";
const FORMAT: &str = "brainfit-surrogate-ensemble";
const VERSION: u32 = 1;

/// Several surrogates of one kind.
#[derive(Debug, Clone)]
pub struct Ensemble {
    pub members: Vec<Surrogate>,
}

/// Mean predictions of the members and the spread of their totals.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EnsemblePrediction {
    pub fc: Vec<f64>,
    pub ks: Vec<f64>,
    /// Mean of the members' `fc + ks`.
    pub total: Vec<f64>,
    pub p_valid: Vec<f64>,
    /// Population standard deviation of the members' total costs (0 for one member).
    pub spread: Vec<f64>,
}

impl EnsemblePrediction {
    /// The member means as a [`Prediction`] (for [`metrics`]).
    pub fn mean(&self) -> Prediction {
        Prediction {
            fc: self.fc.clone(),
            ks: self.ks.clone(),
            total: self.total.clone(),
            p_valid: self.p_valid.clone(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    kind: ModelKind,
    seeds: Vec<u64>,
    members: Vec<String>,
}

/// Which group a group-conditioned ensemble was conditioned on for a fit ([`Ensemble::for_group`]).
#[derive(Clone, Debug, PartialEq)]
pub struct GroupUse {
    /// The group's name.
    pub group: String,
    /// Whether its inputs (SC, FC, FCD descriptor) are those of one of the training groups.
    pub seen_in_training: bool,
    /// Groups the predictor was trained on.
    pub training_groups: usize,
}

impl std::fmt::Display for GroupUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "group-conditioned surrogate conditioned on '{}' ({} its {} training groups)",
            self.group,
            if self.seen_in_training {
                "one of"
            } else {
                "not among"
            },
            self.training_groups
        )
    }
}

/// The 16 θ [`Ensemble::fingerprint`] predicts at: coordinate d of probe k sits at level
/// (k + 1)(d + 3) mod 17 of 17 levels spanning ±1.5 standard deviations around the mean (one to
/// one in k for every d, so the probes are distinct and their coordinates differ).
fn fingerprint_probes(support: &crate::normalise::Standardiser) -> Vec<[f64; THETA_DIM]> {
    (0..16)
        .map(|k| {
            std::array::from_fn(|d| {
                let step = ((k + 1) * (d + 3) % 17) as f64 * 3.0 / 16.0 - 1.5;
                support.mean[d] + step * support.std[d]
            })
        })
        .collect()
}

impl Ensemble {
    /// Trains one member per seed (`train.seed` is replaced by each seed in turn);
    /// `on_epoch` receives the member index and its epoch log.
    pub fn fit(
        samples: &Samples,
        connectome: Option<&Connectome>,
        model: &ModelConfig,
        train: &TrainConfig,
        seeds: &[u64],
        device: &Device,
        on_epoch: &mut dyn FnMut(usize, &EpochLog),
    ) -> Result<(Ensemble, Vec<TrainHistory>)> {
        Self::fit_each(train, seeds, on_epoch, |cfg, log| {
            Surrogate::fit(samples, connectome, model, cfg, device, log)
        })
    }

    /// [`fit`](Self::fit) for a grouped family (`group_mlp`, `group_tokens`): every member is
    /// trained on the rows of `groups` with [`Surrogate::fit_groups`].
    pub fn fit_groups(
        samples: &Samples,
        groups: &[EmpiricalData],
        model: &ModelConfig,
        train: &TrainConfig,
        seeds: &[u64],
        device: &Device,
        on_epoch: &mut dyn FnMut(usize, &EpochLog),
    ) -> Result<(Ensemble, Vec<TrainHistory>)> {
        Self::fit_each(train, seeds, on_epoch, |cfg, log| {
            Surrogate::fit_groups(samples, groups, model, cfg, device, log)
        })
    }

    /// One member per seed, each fitted by `fit_one(config with that seed, epoch callback)`.
    fn fit_each(
        train: &TrainConfig,
        seeds: &[u64],
        on_epoch: &mut dyn FnMut(usize, &EpochLog),
        fit_one: impl Fn(&TrainConfig, &mut dyn FnMut(&EpochLog)) -> Result<(Surrogate, TrainHistory)>,
    ) -> Result<(Ensemble, Vec<TrainHistory>)> {
        if seeds.is_empty() {
            return Err(SurrogateError::Config(
                "an ensemble needs at least one seed".into(),
            ));
        }
        let mut members = Vec::with_capacity(seeds.len());
        let mut histories = Vec::with_capacity(seeds.len());
        for (k, &seed) in seeds.iter().enumerate() {
            let cfg = TrainConfig {
                seed,
                ..train.clone()
            };
            let (s, h) = fit_one(&cfg, &mut |log| on_epoch(k, log))?;
            members.push(s);
            histories.push(h);
        }
        Ok((Ensemble { members }, histories))
    }

    /// Every member fine-tuned on `samples` (rows of `groups`) with [`Surrogate::fine_tune`],
    /// member k with seed `train.seed + k`.
    pub fn fine_tune(
        &self,
        samples: &Samples,
        groups: &[EmpiricalData],
        train: &TrainConfig,
    ) -> Result<Ensemble> {
        self.tune_each(train, |m, cfg| {
            Ok(m.fine_tune(samples, groups, cfg, &mut |_| {})?.0)
        })
    }

    /// Every member fine-tuned on rows of the group it is conditioned on (any rows for a θ-only
    /// family) with [`Surrogate::fine_tune_on_active`], member k with seed `train.seed + k`;
    /// the tuned ensemble stays conditioned on that group.
    pub fn fine_tune_on_active(&self, samples: &Samples, train: &TrainConfig) -> Result<Ensemble> {
        self.tune_each(train, |m, cfg| {
            Ok(m.fine_tune_on_active(samples, cfg, &mut |_| {})?.0)
        })
    }

    /// Member k replaced by `tune(member, train with seed train.seed + k)`.
    fn tune_each(
        &self,
        train: &TrainConfig,
        tune: impl Fn(&Surrogate, &TrainConfig) -> Result<Surrogate>,
    ) -> Result<Ensemble> {
        let members = self
            .members
            .iter()
            .enumerate()
            .map(|(k, m)| {
                let cfg = TrainConfig {
                    seed: train.seed.wrapping_add(k as u64),
                    ..train.clone()
                };
                tune(m, &cfg)
            })
            .collect::<Result<_>>()?;
        Ok(Ensemble { members })
    }

    /// The training settings of the first member (all members share them but the seed).
    pub fn train_config(&self) -> Option<&TrainConfig> {
        self.members.first().map(|m| m.train_config())
    }

    /// A fingerprint of what this ensemble predicts (for binding it into a resumable run):
    /// FNV-1a over the family, the parameter count and the bits of the member predictions at
    /// 16 distinct fixed θ around the training mean (each coordinate on one of 17 levels in
    /// ±1.5 training standard deviations, the level changing with probe and coordinate). Two ensembles
    /// with other weights or another active group give other fingerprints; the same ensemble on
    /// the same backend gives the same one. A grouped ensemble needs its group first.
    pub fn fingerprint(&self) -> Result<String> {
        let support = self
            .input_support()
            .ok_or_else(|| SurrogateError::Config("empty ensemble".into()))?;
        let probes = fingerprint_probes(&support);
        let mut bytes = Vec::new();
        for m in &self.members {
            bytes.extend_from_slice(m.kind().name().as_bytes());
            bytes.extend_from_slice(&(m.n_params() as u64).to_le_bytes());
            let p = m.predict(&probes)?;
            for v in p.fc.iter().chain(&p.ks).chain(&p.p_valid) {
                bytes.extend_from_slice(&v.to_bits().to_le_bytes());
            }
        }
        Ok(crate::persist::fnv1a64(&bytes))
    }

    /// Every member conditioned on group `g` (grouped families only; see
    /// [`Surrogate::condition_on`]).
    pub fn condition_on(&self, g: &EmpiricalData) -> Result<Ensemble> {
        Ok(Ensemble {
            members: self
                .members
                .iter()
                .map(|m| m.condition_on(g))
                .collect::<Result<_>>()?,
        })
    }

    /// The ensemble ready to fit group `g`: a group-conditioned ensemble is conditioned on `g`
    /// (a training group or one it never saw, with the same number of regions), any other is
    /// returned as is (`None`: it does not look at the group).
    pub fn for_group(self, g: &EmpiricalData) -> Result<(Ensemble, Option<GroupUse>)> {
        let Some(c) = self.members.first().and_then(|m| m.conditioning()) else {
            return Ok((self, None));
        };
        let used = GroupUse {
            group: g.name.clone(),
            seen_in_training: c.knows(g),
            training_groups: c.groups.len(),
        };
        Ok((self.condition_on(g)?, Some(used)))
    }

    /// Whether the members are group-conditioned and wait for [`condition_on`](Self::condition_on).
    pub fn needs_group(&self) -> bool {
        self.members.iter().any(|m| m.needs_group())
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn kind(&self) -> Option<ModelKind> {
        self.members.first().map(|m| m.kind())
    }

    /// The training θ's per-coordinate mean and std (the first member's; all members of an
    /// ensemble are fitted on the same rows), `[THETA_DIM]` each. The grouped families
    /// standardise θ followed by their group inputs; only the θ part is returned, so a support
    /// guard or a search start in θ space reads the same thing for every family.
    pub fn input_support(&self) -> Option<crate::normalise::Standardiser> {
        self.members.first().map(|m| {
            let s = m.input_norm();
            crate::normalise::Standardiser {
                mean: s.mean[..THETA_DIM.min(s.mean.len())].to_vec(),
                std: s.std[..THETA_DIM.min(s.std.len())].to_vec(),
            }
        })
    }

    /// The training groups' best simulated θ (the first member's; every member of an ensemble
    /// is trained on the same rows), in group-name order.
    pub fn anchors(&self) -> &[crate::anchors::Anchor] {
        self.members.first().map_or(&[], |m| m.anchors())
    }

    /// Total trainable scalars over all members.
    pub fn n_params(&self) -> usize {
        self.members.iter().map(|m| m.n_params()).sum()
    }

    pub fn set_provenance(&mut self, provenance: Provenance) {
        for m in &mut self.members {
            m.set_provenance(provenance.clone());
        }
    }

    pub fn to_device(&self, device: &Device) -> Ensemble {
        Ensemble {
            members: self.members.iter().map(|m| m.to_device(device)).collect(),
        }
    }

    /// Member-mean predictions and the spread of the totals, per θ.
    pub fn predict(&self, theta: &[[f64; THETA_DIM]]) -> Result<EnsemblePrediction> {
        if self.members.is_empty() {
            return Err(SurrogateError::Config("empty ensemble".into()));
        }
        let preds = self
            .members
            .iter()
            .map(|m| m.predict(theta))
            .collect::<Result<Vec<_>>>()?;
        let k = preds.len() as f64;
        let n = theta.len();
        let mut out = EnsemblePrediction::default();
        for i in 0..n {
            let mean = |f: &dyn Fn(usize) -> f64| (0..preds.len()).map(f).sum::<f64>() / k;
            let total = mean(&|m| preds[m].total[i]);
            out.fc.push(mean(&|m| preds[m].fc[i]));
            out.ks.push(mean(&|m| preds[m].ks[i]));
            out.p_valid.push(mean(&|m| preds[m].p_valid[i]));
            out.spread
                .push(mean(&|m| (preds[m].total[i] - total).powi(2)).sqrt());
            out.total.push(total);
        }
        Ok(out)
    }

    /// Metrics of the member-mean prediction on `samples`.
    pub fn evaluate(&self, samples: &Samples) -> Result<Metrics> {
        Ok(metrics(&self.predict(&samples.theta)?.mean(), samples))
    }

    /// Member mean of [`Surrogate::predict_tensor`]: raw θ `[B, 10]` → `[B, 3]`
    /// (fc, ks, P(valid)), differentiable with respect to an autodiff θ.
    pub fn predict_tensor(&self, theta: Tensor<2>) -> Tensor<2> {
        assert!(!self.members.is_empty(), "empty ensemble");
        let k = self.members.len() as f64;
        self.members
            .iter()
            .map(|m| m.predict_tensor(theta.clone()))
            .reduce(|a, b| a + b)
            .expect("non-empty")
            .div_scalar(k)
    }

    /// Saves every member to `dir/member_XXX/` and then the manifest `dir/ensemble.json`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let kind = self
            .kind()
            .ok_or_else(|| SurrogateError::Config("cannot save an empty ensemble".into()))?;
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut names = Vec::with_capacity(self.members.len());
        for (k, m) in self.members.iter().enumerate() {
            let name = format!("member_{k:03}");
            m.save(&dir.join(&name))?;
            names.push(name);
        }
        let manifest = Manifest {
            format: FORMAT.into(),
            version: VERSION,
            kind,
            seeds: self.members.iter().map(|m| m.train_config().seed).collect(),
            members: names,
        };
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| SurrogateError::Config(format!("serialising the manifest: {e}")))?;
        write_atomic(&dir.join(ENSEMBLE_FILE), &json)
    }

    /// Loads an ensemble saved by [`save`](Self::save).
    pub fn load(dir: &Path, device: &Device) -> Result<Ensemble> {
        let path = dir.join(ENSEMBLE_FILE);
        let text = read_for_load(&path)?;
        let load_err = |message: String| SurrogateError::Load {
            path: path.clone(),
            message,
        };
        let m: Manifest = serde_json::from_slice(&text)
            .map_err(|e| load_err(format!("not an ensemble manifest: {e}")))?;
        if m.format != FORMAT || m.version != VERSION {
            return Err(load_err(format!(
                "format {} version {} (expected {FORMAT} version {VERSION})",
                m.format, m.version
            )));
        }
        if m.members.is_empty() {
            return Err(load_err("the manifest lists no members".into()));
        }
        let members = m
            .members
            .iter()
            .map(|name| Surrogate::load(&dir.join(name), device))
            .collect::<Result<Vec<_>>>()?;
        if members.iter().any(|s| s.kind() != m.kind) {
            return Err(load_err(
                "a member's kind disagrees with the manifest".into(),
            ));
        }
        Ok(Ensemble { members })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::test_data::{quadratic_samples, uniform_theta};

    /// The fingerprint's probes are 16 distinct θ within ±1.5 sd of the mean, and no probe lies
    /// on the diagonal (its coordinates sit at different levels).
    #[test]
    fn fingerprint_probes_are_distinct_and_spread_over_coordinates() {
        let support = crate::normalise::Standardiser {
            mean: (0..THETA_DIM).map(|d| d as f64).collect(),
            std: vec![2.0; THETA_DIM],
        };
        let probes = fingerprint_probes(&support);
        assert_eq!(probes.len(), 16);
        for (k, p) in probes.iter().enumerate() {
            let z: Vec<f64> = (0..THETA_DIM).map(|d| (p[d] - d as f64) / 2.0).collect();
            assert!(z.iter().all(|v| v.abs() <= 1.5 + 1e-12), "probe {k}: {z:?}");
            assert!(
                z.iter().any(|v| (v - z[0]).abs() > 1e-9),
                "probe {k} on the diagonal"
            );
            assert!(probes[..k].iter().all(|q| q != p), "probe {k} repeats");
        }
    }

    /// A grouped family standardises [θ, group inputs]; its support is the θ part only: the
    /// training θ's mean and population sd, which a support guard in θ space compares against.
    #[test]
    fn support_of_a_grouped_ensemble_is_the_training_theta() {
        use crate::models::test_data::{family_group, family_rows, small_group_model};
        let levels = [0.1, 0.5];
        let data = family_rows(&levels, 60, 5);
        let groups: Vec<EmpiricalData> = levels.iter().map(|&l| family_group(l)).collect();
        let train = TrainConfig {
            epochs: 1,
            batch_size: 32,
            ..TrainConfig::default()
        };
        for kind in [ModelKind::GroupMlp, ModelKind::GroupTokens] {
            let (e, h) = Ensemble::fit_groups(
                &data,
                &groups,
                &small_group_model(kind),
                &train,
                &[1],
                &Device::flex(),
                &mut |_, _| {},
            )
            .unwrap();
            let s = e.input_support().unwrap();
            assert_eq!(
                (s.mean.len(), s.std.len()),
                (THETA_DIM, THETA_DIM),
                "{kind:?}"
            );
            let train_rows = &h[0].train_rows;
            for d in 0..THETA_DIM {
                let x: Vec<f64> = train_rows.iter().map(|&r| data.theta[r][d]).collect();
                let mean = x.iter().sum::<f64>() / x.len() as f64;
                let sd =
                    (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
                // The standardiser keeps f32 values.
                assert!(
                    (s.mean[d] - mean).abs() < 1e-6 && (s.std[d] - sd).abs() < 1e-6,
                    "{kind:?} θ{d}: {} {} vs {mean} {sd}",
                    s.mean[d],
                    s.std[d]
                );
            }
        }
    }

    #[test]
    fn spread_is_larger_off_distribution_and_survives_save_load() {
        let data = quadratic_samples(300, 41);
        let model = ModelConfig {
            depth: 2,
            width: 32,
            ..ModelConfig::default()
        };
        let train = TrainConfig {
            epochs: 40,
            batch_size: 32,
            learning_rate: 3e-3,
            ..TrainConfig::default()
        };
        let mut calls = vec![0usize; 3];
        let (e, h) = Ensemble::fit(
            &data,
            None,
            &model,
            &train,
            &[1, 2, 3],
            &Device::flex(),
            &mut |k, _| calls[k] += 1,
        )
        .unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(calls, h.iter().map(|h| h.epochs.len()).collect::<Vec<_>>());
        let on = e.predict(&uniform_theta(200, 42, 1.0)).unwrap();
        let off = e.predict(&uniform_theta(200, 43, 4.0)).unwrap();
        assert!(on
            .spread
            .iter()
            .chain(&off.spread)
            .all(|s| *s >= 0.0 && s.is_finite()));
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        eprintln!(
            "ensemble spread: on {:.4}, off {:.4}",
            mean(&on.spread),
            mean(&off.spread)
        );
        assert!(mean(&off.spread) > 2.0 * mean(&on.spread));
        // The mean total is the mean of the members' totals.
        let probe = uniform_theta(5, 44, 1.0);
        let p = e.predict(&probe).unwrap();
        let m0 = e.members[0].predict(&probe).unwrap();
        let m1 = e.members[1].predict(&probe).unwrap();
        let m2 = e.members[2].predict(&probe).unwrap();
        assert!((p.total[0] - (m0.total[0] + m1.total[0] + m2.total[0]) / 3.0).abs() < 1e-12);

        let dir = std::env::temp_dir().join(format!("surrogate-ensemble-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        e.save(&dir).unwrap();
        let l = Ensemble::load(&dir, &Device::flex()).unwrap();
        assert_eq!(l.predict(&probe).unwrap(), p);
        let m = l.evaluate(&quadratic_samples(100, 45)).unwrap();
        assert!(m.pearson_total > 0.8, "{m:?}");
        assert!(Ensemble::load(&dir.join("nope"), &Device::flex()).is_err());
        let _ = fs::remove_dir_all(&dir);
    }
}
