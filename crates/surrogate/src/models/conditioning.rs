//! Group conditioning: what a group-conditioned surrogate keeps of each group and how a row's
//! group reaches the network.
//!
//! * `group_mlp` ([`GroupInput::Descriptor`]): the network's input is θ `[10]` followed by the
//!   descriptor `[D]` of the group the costs refer to ([`crate::groups::descriptor`]).
//! * `group_tokens` ([`GroupInput::Raw`]): the network takes the group's raw inputs (SC, maps,
//!   empirical FC and FCD, [`crate::groups::raw_inputs`]) as device tensors; a training row's
//!   input is θ followed by the index of its group among [`Conditioning::groups`] (name order).
//!
//! A fitted model keeps the inputs of its training groups (by name, for evaluating on them)
//! and an *active* group: the one [`Surrogate::predict`](super::Surrogate::predict) and
//! [`Surrogate::predict_tensor`](super::Surrogate::predict_tensor) predict for, set with
//! [`Surrogate::condition_on`](super::Surrogate::condition_on) — any group with the same
//! parcellation, seen in training or not.

use std::collections::BTreeMap;

use pmfm_sim::data::EmpiricalData;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SurrogateError};
use crate::groups::{check_groups, descriptor, descriptor_names, raw_inputs, raw_len, raw_parts};
use crate::samples::{Connectome, Samples, THETA_DIM};

/// What is kept of a group.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum GroupInput {
    /// The summary [`descriptor`] (group MLP).
    #[default]
    Descriptor,
    /// The raw inputs [`raw_inputs`] (group region-token model).
    Raw,
}

/// What a group-conditioned surrogate knows about groups.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Conditioning {
    /// Descriptor: names of the entries (`D` of them). Raw: the parts of the vector.
    pub names: Vec<String>,
    /// Which view of a group the vectors hold.
    #[serde(default)]
    pub input: GroupInput,
    /// Regions of the parcellation the model was trained on.
    pub n_regions: usize,
    /// Each training group's vector, by group name.
    pub groups: BTreeMap<String, Vec<f64>>,
    /// The group predictions are for, and its vector.
    pub active: Option<(String, Vec<f64>)>,
}

/// Whether two group vectors agree to 1e-10 relative (a JSON round trip may change a last bit).
fn same_vector(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-10 * x.abs().max(y.abs()).max(1e-300))
}

/// Names of the parts of a raw group vector.
fn raw_names() -> Vec<String> {
    ["sc", "myelin", "gradient", "fc_upper", "fcd_cdf_points"]
        .map(String::from)
        .to_vec()
}

impl Conditioning {
    /// The descriptors of `groups` (checked with [`check_groups`]); no active group.
    pub fn from_groups(groups: &[EmpiricalData]) -> Result<Self> {
        Self::from_groups_as(groups, GroupInput::Descriptor)
    }

    /// The vectors of kind `input` of `groups` (checked with [`check_groups`]); no active group.
    pub fn from_groups_as(groups: &[EmpiricalData], input: GroupInput) -> Result<Self> {
        check_groups(groups)?;
        let c = Self {
            names: Vec::new(),
            input,
            n_regions: groups[0].n_regions(),
            groups: BTreeMap::new(),
            active: None,
        };
        Ok(Self {
            names: c.expected_names(),
            groups: groups
                .iter()
                .map(|g| (g.name.clone(), c.vector(g)))
                .collect(),
            ..c
        })
    }

    fn expected_names(&self) -> Vec<String> {
        match self.input {
            GroupInput::Descriptor => descriptor_names(),
            GroupInput::Raw => raw_names(),
        }
    }

    /// The vector this conditioning keeps of `g`.
    fn vector(&self, g: &EmpiricalData) -> Vec<f64> {
        match self.input {
            GroupInput::Descriptor => descriptor(g),
            GroupInput::Raw => raw_inputs(g),
        }
    }

    /// Whether `g`'s inputs are those of one of the training groups (same vector within
    /// 1e-10 relative, whatever its name).
    pub fn knows(&self, g: &EmpiricalData) -> bool {
        let v = self.vector(g);
        self.groups.values().any(|t| same_vector(t, &v))
    }

    /// Length of a group's vector: `D` for a descriptor, [`raw_len`] for raw inputs.
    pub fn dim(&self) -> usize {
        match self.input {
            GroupInput::Descriptor => self.names.len(),
            GroupInput::Raw => raw_len(self.n_regions),
        }
    }

    /// Network input width: `10 + D` (descriptor), `10 + 1` (θ and the group's index).
    pub fn input_dim(&self) -> usize {
        match self.input {
            GroupInput::Descriptor => THETA_DIM + self.dim(),
            GroupInput::Raw => THETA_DIM + 1,
        }
    }

    /// The groups a forward pass can index, in index order: the training groups in name
    /// order (the indices [`inputs`](Self::inputs) gives), then the active group if any (the
    /// last one is what θ-only inputs predict for).
    pub(crate) fn visible(&self) -> Vec<&[f64]> {
        self.groups
            .values()
            .chain(self.active.iter().map(|(_, v)| v))
            .map(Vec::as_slice)
            .collect()
    }

    /// The connectome part of a raw group vector.
    pub(crate) fn connectome_of(&self, v: &[f64]) -> Connectome {
        let p = raw_parts(v, self.n_regions);
        Connectome {
            n_regions: self.n_regions,
            sc: p.sc.to_vec(),
            myelin: p.myelin.to_vec(),
            gradient: p.gradient.to_vec(),
        }
    }

    /// A copy that also knows `groups` as training groups (same checks as
    /// [`activate`](Self::activate)), without an active group.
    pub fn with_groups(&self, groups: &[EmpiricalData]) -> Result<Self> {
        let mut out = self.clone();
        out.active = None;
        for g in groups {
            out.groups.insert(g.name.clone(), self.checked_vector(g)?);
        }
        Ok(out)
    }

    /// The active group as the only training group, no longer active, and the active
    /// (name, vector) itself; `None` without an active group. What fine-tuning on the active
    /// group's rows looks them up in.
    pub(crate) fn active_alone(&self) -> Option<(Self, (String, Vec<f64>))> {
        let (name, v) = self.active.clone()?;
        let alone = Self {
            groups: BTreeMap::from([(name.clone(), v.clone())]),
            active: None,
            ..self.clone()
        };
        Some((alone, (name, v)))
    }

    /// Makes `g` the active group (its region count must match the training groups').
    pub fn activate(&mut self, g: &EmpiricalData) -> Result<()> {
        self.active = Some((g.name.clone(), self.checked_vector(g)?));
        Ok(())
    }

    /// The vector of `g` after checking that it fits this conditioning (valid inputs, the
    /// training groups' region count, the vector layout this build computes).
    fn checked_vector(&self, g: &EmpiricalData) -> Result<Vec<f64>> {
        g.validate()?;
        if g.n_regions() != self.n_regions {
            return Err(SurrogateError::Input(format!(
                "group '{}' has {} regions; the surrogate was trained on groups of {}",
                g.name,
                g.n_regions(),
                self.n_regions
            )));
        }
        if self.names != self.expected_names() {
            return Err(SurrogateError::Input(format!(
                "the surrogate was trained with another group descriptor ({} entries, this build computes {}); retrain it with this version",
                self.names.len(),
                self.expected_names().len()
            )));
        }
        Ok(self.vector(g))
    }

    /// The network inputs of `rows` of `samples`: `θ ⊕ descriptor(group of the row)`, or
    /// `θ ⊕ index of the row's group` (name order) for raw inputs; a row whose `dataset` names
    /// no known group is an error naming it.
    pub fn inputs(&self, samples: &Samples, rows: &[usize]) -> Result<Vec<Vec<f64>>> {
        let known: BTreeMap<&str, (usize, &Vec<f64>)> = self
            .groups
            .iter()
            .enumerate()
            .map(|(k, (name, v))| (name.as_str(), (k, v)))
            .collect();
        rows.iter()
            .map(|&r| {
                let name = &samples.dataset[r];
                let (k, d) = known.get(name.as_str()).ok_or_else(|| {
                    SurrogateError::Input(format!(
                        "row {r} belongs to group '{name}', which is not among the {} groups given ({})",
                        self.groups.len(),
                        self.groups.keys().cloned().collect::<Vec<_>>().join(", ")
                    ))
                })?;
                let theta = samples.theta[r].iter().copied();
                Ok(match self.input {
                    GroupInput::Descriptor => theta.chain(d.iter().copied()).collect(),
                    GroupInput::Raw => theta.chain([*k as f64]).collect(),
                })
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
        let raw_mismatch = self.input == GroupInput::Raw && self.names != raw_names();
        if d == 0 || bad || raw_mismatch || self.n_regions == 0 {
            return Err(SurrogateError::Config(
                "group conditioning: the groups' vectors do not match their layout or are not finite"
                    .into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_data::{assert_conditioned_beats_plain, toy_group, uniform_theta};
    use super::super::test_data::{family_group as group, family_rows as rows};
    use super::super::test_data::{save_load_conditioned, small_group_model};
    use super::super::{Activation, ModelConfig, ModelKind, Surrogate};
    use crate::train::{metrics, TrainConfig};
    use burn::tensor::Device;
    use pmfm_sim::data::EmpiricalData;

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
        assert_conditioned_beats_plain(
            &|level| cond.condition_on(&group(level)).unwrap(),
            &plain,
            &held_out,
            0.95,
        );
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

    #[test]
    fn vectors_of_the_same_inputs_match_through_a_last_bit_difference_only() {
        let a: [f64; 4] = [0.125, -3.5, 0.0, 1e-8];
        let mut b = a;
        b[1] = f64::from_bits(b[1].to_bits() + 1); // one ulp, as a JSON round trip may give
        assert!(super::same_vector(&a, &b));
        b[3] *= 1.0 + 1e-6;
        assert!(!super::same_vector(&a, &b));
        assert!(!super::same_vector(&a, &a[..3]));
    }

    /// Fine-tuning a grouped model on 32 rows of a group outside its training range moves its
    /// predictions there toward the truth (RMSE on fresh rows of that group falls by more than
    /// 30%), keeps its scalings, and adds the group to the groups it knows.
    #[test]
    fn fine_tuning_on_a_new_groups_shots_adapts_a_grouped_model() {
        let levels = [0.1, 0.15, 0.2, 0.25];
        let groups: Vec<EmpiricalData> = levels.iter().map(|&l| group(l)).collect();
        let data = rows(&levels, 200, 1);
        let new = group(0.45);
        let shots = rows(&[0.45], 32, 80);
        let test = rows(&[0.45], 300, 81);
        let train = TrainConfig {
            epochs: 20,
            batch_size: 64,
            learning_rate: 3e-3,
            ..TrainConfig::default()
        };
        let tune = TrainConfig {
            epochs: 40,
            batch_size: 8,
            learning_rate: 3e-3,
            val_fraction: 0.0,
            patience: 0,
            ..TrainConfig::default()
        };
        for kind in [ModelKind::GroupMlp, ModelKind::GroupTokens] {
            let model = small_group_model(kind);
            let (base, _) =
                Surrogate::fit_groups(&data, &groups, &model, &train, &Device::flex(), &mut |_| {})
                    .unwrap();
            let rmse = |s: &Surrogate| {
                let p = s.condition_on(&new).unwrap().predict(&test.theta).unwrap();
                metrics(&p, &test).rmse_total
            };
            let (tuned, history) = base
                .fine_tune(&shots, std::slice::from_ref(&new), &tune, &mut |_| {})
                .unwrap();
            assert_eq!(history.epochs.len(), 40);
            let (before, after) = (rmse(&base), rmse(&tuned));
            assert!(after < 0.7 * before, "{kind:?}: RMSE {before} → {after}");
            assert_eq!(tuned.input_norm(), base.input_norm());
            assert_eq!(tuned.target_scale(), base.target_scale());
            assert!(tuned.conditioning().unwrap().knows(&new));
            assert!(!base.conditioning().unwrap().knows(&new));
            // A group of another parcellation is refused.
            let other = toy_group("other", 9, 0.3, 0.2);
            let e = base.fine_tune(&shots, &[other], &tune, &mut |_| {});
            assert!(e.unwrap_err().to_string().contains("9 regions"));

            // Tuning the model conditioned on the new group on its rows is the same tuning
            // (same rows, seeds and batches; only the groups a forward pass embeds differ) and
            // leaves the model conditioned on that group.
            let on_new = base.condition_on(&new).unwrap();
            let (own, history) = on_new
                .fine_tune_on_active(&shots, &tune, &mut |_| {})
                .unwrap();
            assert_eq!(history.epochs.len(), 40);
            assert!(!own.needs_group());
            let a = own.predict(&test.theta).unwrap();
            let b = tuned
                .condition_on(&new)
                .unwrap()
                .predict(&test.theta)
                .unwrap();
            let gap = a
                .total
                .iter()
                .zip(&b.total)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            assert!(gap < 1e-4, "{kind:?}: the two tunings differ by {gap}");
            assert!(metrics(&a, &test).rmse_total < 0.7 * before);
            // Without an active group there is nothing to tune on; rows of another group are
            // refused naming it.
            let e = base.fine_tune_on_active(&shots, &tune, &mut |_| {});
            assert!(e
                .unwrap_err()
                .to_string()
                .contains("condition it on a group first"));
            let stray = rows(&[0.1], 8, 82);
            let e = on_new.fine_tune_on_active(&stray, &tune, &mut |_| {});
            let e = e.unwrap_err().to_string();
            assert!(e.contains("toy/0.100") && e.contains("not among"), "{e}");
        }
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
        let probe = uniform_theta(30, 9, 1.2);
        let l = save_load_conditioned(&s, &group(0.22), &probe, "cond-persist");
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
    }
}
