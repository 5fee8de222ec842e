//! Group conditioning of the `group_mlp` family: the network's input is θ `[10]` followed by
//! the descriptor `[D]` of the group the costs refer to ([`crate::groups::descriptor`]).
//!
//! A fitted model keeps the descriptors of its training groups (by name, for evaluating on
//! them) and an *active* group: the one [`Surrogate::predict`](super::Surrogate::predict) and
//! [`Surrogate::predict_tensor`](super::Surrogate::predict_tensor) predict for, set with
//! [`Surrogate::condition_on`](super::Surrogate::condition_on) — any group with the same
//! parcellation, seen in training or not.

use std::collections::BTreeMap;

use pmfm_sim::data::EmpiricalData;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SurrogateError};
use crate::groups::{check_groups, descriptor, descriptor_names};
use crate::samples::{Samples, THETA_DIM};

/// What a group-conditioned surrogate knows about groups.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Conditioning {
    /// Names of the descriptor entries (`D` of them).
    pub names: Vec<String>,
    /// Regions of the parcellation the model was trained on.
    pub n_regions: usize,
    /// Descriptors of the training groups, by group name.
    pub groups: BTreeMap<String, Vec<f64>>,
    /// The group predictions are for, and its descriptor.
    pub active: Option<(String, Vec<f64>)>,
}

impl Conditioning {
    /// The descriptors of `groups` (checked with [`check_groups`]); no active group.
    pub fn from_groups(groups: &[EmpiricalData]) -> Result<Self> {
        check_groups(groups)?;
        Ok(Self {
            names: descriptor_names(),
            n_regions: groups[0].n_regions(),
            groups: groups
                .iter()
                .map(|g| (g.name.clone(), descriptor(g)))
                .collect(),
            active: None,
        })
    }

    /// Descriptor length `D`.
    pub fn dim(&self) -> usize {
        self.names.len()
    }

    /// Network input width `10 + D`.
    pub fn input_dim(&self) -> usize {
        THETA_DIM + self.dim()
    }

    /// Makes `g` the active group (its region count must match the training groups').
    pub fn activate(&mut self, g: &EmpiricalData) -> Result<()> {
        g.validate()?;
        if g.n_regions() != self.n_regions {
            return Err(SurrogateError::Input(format!(
                "group '{}' has {} regions; the surrogate was trained on groups of {}",
                g.name,
                g.n_regions(),
                self.n_regions
            )));
        }
        if self.names != descriptor_names() {
            return Err(SurrogateError::Input(format!(
                "the surrogate was trained with another group descriptor ({} entries, this build computes {}); retrain it with this version",
                self.names.len(),
                descriptor_names().len()
            )));
        }
        self.active = Some((g.name.clone(), descriptor(g)));
        Ok(())
    }

    /// The network inputs `θ ⊕ descriptor(group of the row)` of `rows` of `samples`; a row
    /// whose `dataset` names no known group is an error naming it.
    pub fn inputs(&self, samples: &Samples, rows: &[usize]) -> Result<Vec<Vec<f64>>> {
        rows.iter()
            .map(|&r| {
                let name = &samples.dataset[r];
                let d = self.groups.get(name).ok_or_else(|| {
                    SurrogateError::Input(format!(
                        "row {r} belongs to group '{name}', which is not among the {} groups given ({})",
                        self.groups.len(),
                        self.groups.keys().cloned().collect::<Vec<_>>().join(", ")
                    ))
                })?;
                Ok(samples.theta[r].iter().chain(d).copied().collect())
            })
            .collect()
    }

    /// Checks a deserialised value.
    pub fn check(&self) -> Result<()> {
        let d = self.dim();
        let bad = self.groups.values().any(|v| v.len() != d)
            || self.active.as_ref().is_some_and(|(_, v)| v.len() != d)
            || self
                .groups
                .values()
                .chain(self.active.iter().map(|(_, v)| v))
                .flatten()
                .any(|x| !x.is_finite());
        if d == 0 || bad || self.n_regions == 0 {
            return Err(SurrogateError::Config(
                "group conditioning: descriptors do not match their names or are not finite".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_data::uniform_theta;
    use super::super::test_data::{quadratic_fc, quadratic_ks, samples, toy_group, unit};
    use super::super::{Activation, ModelConfig, ModelKind, Surrogate};
    use crate::train::{metrics, TrainConfig};
    use burn::tensor::Device;
    use pmfm_sim::data::EmpiricalData;

    /// Group k of a toy family: its FC level (and FCD centre) is a group input the cost
    /// depends on through an interaction with θ, so the best θ differs between groups.
    fn group(level: f64) -> EmpiricalData {
        toy_group(&format!("toy/{level:.3}"), 8, level, level - 0.1)
    }

    /// FC cost of θ in the group with FC level `level`: the slope along w0 changes sign across
    /// the family.
    fn fc_of(t: &[f64; 10], level: f64) -> f64 {
        quadratic_fc(t) + 4.0 * (level - 0.3) * unit(t)[0]
    }

    fn rows(levels: &[f64], per_group: usize, seed: u64) -> crate::samples::Samples {
        let mut all = crate::samples::Samples::default();
        for (k, &level) in levels.iter().enumerate() {
            let mut s = samples(uniform_theta(per_group, seed + k as u64, 1.0), |t| {
                (fc_of(t, level), quadratic_ks(t), true)
            });
            s.dataset = vec![group(level).name; per_group];
            all.extend(&s);
        }
        all
    }

    #[test]
    fn a_group_input_the_cost_depends_on_is_learned_and_a_theta_only_model_cannot() {
        let train_levels = [0.1, 0.15, 0.2, 0.25, 0.35, 0.4, 0.45, 0.5];
        let held_out = [0.125, 0.475];
        let data = rows(&train_levels, 300, 1);
        let groups: Vec<EmpiricalData> = train_levels.iter().map(|&l| group(l)).collect();
        let model = |kind| ModelConfig {
            kind,
            depth: 2,
            width: 64,
            activation: Activation::Gelu,
            ..ModelConfig::default()
        };
        let train = TrainConfig {
            epochs: 40,
            batch_size: 64,
            learning_rate: 3e-3,
            ..TrainConfig::default()
        };
        let dev = Device::flex();
        let (cond, _) = Surrogate::fit_groups(
            &data,
            &groups,
            &model(ModelKind::GroupMlp),
            &train,
            &dev,
            &mut |_| {},
        )
        .unwrap();
        let (plain, _) = Surrogate::fit(
            &data,
            None,
            &model(ModelKind::Mlp),
            &train,
            &dev,
            &mut |_| {},
        )
        .unwrap();
        // Without a group the conditioned model refuses to predict.
        assert!(cond.predict(&uniform_theta(2, 5, 1.0)).is_err());
        for &level in &held_out {
            let test = rows(&[level], 400, 50);
            let g = group(level);
            let on_g = cond.condition_on(&g).unwrap();
            let m_cond = metrics(&on_g.predict(&test.theta).unwrap(), &test);
            let m_plain = metrics(&plain.predict(&test.theta).unwrap(), &test);
            assert!(
                m_cond.pearson_total > 0.95,
                "level {level}: conditioned r {}",
                m_cond.pearson_total
            );
            assert!(
                m_cond.rmse_total < 0.5 * m_plain.rmse_total,
                "level {level}: RMSE conditioned {} vs θ-only {}",
                m_cond.rmse_total,
                m_plain.rmse_total
            );
        }
        // At the weak end the θ-only model gets even the ranking wrong.
        let test = rows(&[0.125], 400, 60);
        let r_plain = metrics(&plain.predict(&test.theta).unwrap(), &test).pearson_total;
        let r_cond = metrics(
            &cond
                .condition_on(&group(0.125))
                .unwrap()
                .predict(&test.theta)
                .unwrap(),
            &test,
        )
        .pearson_total;
        assert!(
            r_cond > r_plain + 0.2,
            "conditioned r {r_cond} vs θ-only {r_plain}"
        );
        // A row from a group the fit was not given is one clear error.
        let mut stray = rows(&[0.3], 10, 70);
        stray.extend(&data);
        let e = Surrogate::fit_groups(
            &stray,
            &groups,
            &model(ModelKind::GroupMlp),
            &train,
            &dev,
            &mut |_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("toy/0.300") && e.contains("not among"), "{e}");
        // A group of another parcellation is refused.
        let e = cond
            .condition_on(&toy_group("other", 9, 0.3, 0.2))
            .unwrap_err()
            .to_string();
        assert!(e.contains("9 regions"), "{e}");
    }

    /// A model whose stored descriptor names differ from this build's (trained with another
    /// descriptor) is refused with one line when conditioned, instead of feeding the network
    /// an input of the wrong width.
    #[test]
    fn another_descriptor_is_refused_when_conditioning() {
        let g = group(0.2);
        let mut c = super::Conditioning::from_groups(std::slice::from_ref(&g)).unwrap();
        c.activate(&g).unwrap();
        c.names.push("an_entry_this_build_lacks".into());
        let e = c.activate(&g).unwrap_err().to_string();
        assert!(
            e.contains("another group descriptor") && e.contains("retrain"),
            "{e}"
        );
    }

    #[test]
    fn conditioned_model_saves_loads_and_differentiates() {
        let levels = [0.1, 0.3, 0.5];
        let data = rows(&levels, 80, 3);
        let groups: Vec<EmpiricalData> = levels.iter().map(|&l| group(l)).collect();
        let model = ModelConfig {
            kind: ModelKind::GroupMlp,
            depth: 2,
            width: 16,
            activation: Activation::Tanh,
            ..ModelConfig::default()
        };
        let train = TrainConfig {
            epochs: 3,
            batch_size: 32,
            ..TrainConfig::default()
        };
        let (s, _) =
            Surrogate::fit_groups(&data, &groups, &model, &train, &Device::flex(), &mut |_| {})
                .unwrap();
        let dir = std::env::temp_dir().join(format!("cond-persist-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let unseen = group(0.22);
        let s = s.condition_on(&unseen).unwrap();
        s.save(&dir).unwrap();
        let l = Surrogate::load(&dir, &Device::flex()).unwrap();
        // The active group is not saved: a loaded model must be told which group.
        assert!(l.needs_group());
        let l = l.condition_on(&unseen).unwrap();
        let probe = uniform_theta(30, 9, 1.2);
        assert_eq!(s.predict(&probe).unwrap(), l.predict(&probe).unwrap());
        assert_eq!(l.conditioning().unwrap().groups.len(), 3);
        // predict_tensor on θ alone agrees with predict (the descriptor is appended inside).
        let t = crate::models::theta_tensor(&probe, &Device::flex());
        let y = l
            .predict_tensor(t)
            .into_data()
            .try_into_vec_as::<f64>()
            .unwrap();
        let p = l.predict(&probe).unwrap();
        for k in 0..probe.len() {
            assert_eq!(y[3 * k] + y[3 * k + 1], p.total[k]);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
