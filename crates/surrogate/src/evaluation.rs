//! What `train-surrogate` does around training: reading several parameter→cost tables with
//! their groups and provenance, the seeded random or held-out-group train/test split, the
//! held-out metrics of a trained ensemble and the one-row-per-family metrics table.

use std::path::PathBuf;

use pmfm_sim::data::EmpiricalData;
use polars::prelude::{Column, DataFrame};
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::ensemble::{Ensemble, EnsemblePrediction};
use crate::error::{Result, SurrogateError};
use crate::groups::read_groups_in;
use crate::persist::DatasetSource;
use crate::samples::Samples;
use crate::table::read_samples;
use crate::train::{metrics, Metrics};
use crate::transfer::{group_split, predict_rows};

/// The rows of several tables, where they came from, and the groups stored beside them.
#[derive(Default)]
pub struct TrainingTables {
    /// Every table's rows, concatenated in the order given.
    pub samples: Samples,
    /// One provenance entry per table.
    pub sources: Vec<DatasetSource>,
    /// The groups of every table's `groups/` folder (first occurrence of each name kept).
    pub groups: Vec<EmpiricalData>,
}

/// Reads each table (a Parquet file or a `pmfm-dataset` directory) once: its rows, its
/// provenance entry and the groups in its `groups/` folder.
pub fn read_training_tables(paths: &[PathBuf]) -> Result<TrainingTables> {
    let mut out = TrainingTables::default();
    for p in paths {
        for g in read_groups_in(&p.join("groups"))? {
            if !out.groups.iter().any(|o| o.name == g.name) {
                out.groups.push(g);
            }
        }
        let s = read_samples(p)?;
        out.sources.push(DatasetSource {
            name: s.dataset.first().cloned().unwrap_or_default(),
            path: p.display().to_string(),
            rows: s.len(),
        });
        out.samples.extend(&s);
    }
    Ok(out)
}

/// Which rows are held out for the reported metrics.
#[derive(Clone, Debug, PartialEq)]
pub enum HeldOut {
    /// A seeded random fraction of the rows.
    Fraction { fraction: f64, seed: u64 },
    /// Every row of the named groups (`dataset` column), except their first `few_shot` rows
    /// by index, which join the training rows `shot_weight` times each (a small budget of the
    /// new group's own simulations: for a CMA-ES trajectory, the first generation(s) of its
    /// first run; repeating them makes them weigh against the other groups' rows). With
    /// `shot_weight` 0 the shots stay out of training (for fine-tuning a trained model on them,
    /// [`HeldOut::split_shots`]).
    Groups {
        names: Vec<String>,
        few_shot: usize,
        shot_weight: usize,
    },
}

impl HeldOut {
    /// The held-out groups, every row of them held out (no few-shot rows).
    pub fn groups(names: Vec<String>) -> Self {
        HeldOut::Groups {
            names,
            few_shot: 0,
            shot_weight: 1,
        }
    }

    /// The groups whose inputs training never sees: the held-out groups without few-shot rows
    /// in training (empty for a random split or with `few_shot > 0` and `shot_weight > 0`).
    pub fn unseen_groups(&self) -> &[String] {
        match self {
            HeldOut::Groups {
                names, few_shot: 0, ..
            }
            | HeldOut::Groups {
                names,
                shot_weight: 0,
                ..
            } => names,
            _ => &[],
        }
    }

    /// `(train rows, held-out rows)` of `samples`; every held-out group must have more than
    /// `few_shot` rows.
    pub fn split(&self, samples: &Samples) -> Result<(Vec<usize>, Vec<usize>)> {
        let (train, _, test) = self.split_shots(samples)?;
        Ok((train, test))
    }

    /// `(train rows, shot rows, held-out rows)`: the train rows include the shots
    /// `shot_weight` times; no shots for a random split.
    pub fn split_shots(&self, samples: &Samples) -> Result<(Vec<usize>, Vec<usize>, Vec<usize>)> {
        match self {
            HeldOut::Fraction { fraction, seed } => {
                let (train, test) = random_split(samples.len(), *fraction, *seed);
                Ok((train, Vec::new(), test))
            }
            HeldOut::Groups {
                names,
                few_shot,
                shot_weight,
            } => {
                let (mut train, test) = group_split(samples, names)?;
                let (shots, test) = few_shot_rows(samples, names, test, *few_shot)?;
                for _ in 0..*shot_weight {
                    train.extend_from_slice(&shots);
                }
                Ok((train, shots, test))
            }
        }
    }
}

/// Splits the held-out rows `test` into each group's first `k` rows by index (returned first)
/// and the rest, both in their original order.
fn few_shot_rows(
    samples: &Samples,
    names: &[String],
    test: Vec<usize>,
    k: usize,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if k == 0 {
        return Ok((Vec::new(), test));
    }
    let mut shots = Vec::new();
    for name in names {
        let mut rows: Vec<usize> = test
            .iter()
            .copied()
            .filter(|&r| &samples.dataset[r] == name)
            .collect();
        if rows.len() <= k {
            return Err(SurrogateError::Input(format!(
                "--few-shot {k}: group '{name}' has only {} rows; nothing would be left to score",
                rows.len()
            )));
        }
        rows.sort_by_key(|&r| samples.index[r]);
        shots.extend_from_slice(&rows[..k]);
    }
    let rest = test.into_iter().filter(|r| !shots.contains(r)).collect();
    Ok((shots, rest))
}

/// Group names of a comma-separated list (blanks dropped).
pub fn group_names(spec: &str) -> Vec<String> {
    spec.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Seeded train/test split of `n` rows: `(train, test)`, `round(n · test_fraction)` test rows.
pub fn random_split(n: usize, test_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rows: Vec<usize> = (0..n).collect();
    rows.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(
        seed ^ 0xD1B5_4A32_D192_ED03,
    ));
    let n_test = ((n as f64) * test_fraction).round() as usize;
    let test = rows[..n_test].to_vec();
    let train = rows[n_test..].to_vec();
    (train, test)
}

/// Predictions of `ensemble` on every row of `test` (each with its own group) and their
/// metrics.
pub fn evaluate_held_out(
    ensemble: &Ensemble,
    test: &Samples,
    groups: &[EmpiricalData],
) -> Result<(EnsemblePrediction, Metrics)> {
    let prediction = predict_rows(ensemble, test, groups)?;
    let m = metrics(&prediction.mean(), test);
    Ok((prediction, m))
}

/// One trained family's row of the metrics table.
#[derive(Clone, Debug, PartialEq)]
pub struct FamilyMetrics {
    /// Family name (mlp, quadratic, tokens, group).
    pub model: String,
    /// Members of the ensemble.
    pub ensemble: usize,
    /// Trainable parameters of one member.
    pub n_params: usize,
    /// Held-out metrics.
    pub metrics: Metrics,
    /// Training wall time of the whole ensemble, seconds.
    pub train_s: f64,
}

/// The metrics table: one row per family (model, ensemble, n_params, n_test, n_test_valid,
/// pearson_total, pearson_fc, pearson_ks, rmse_total, valid_accuracy, train_s).
pub fn metrics_table(rows: &[FamilyMetrics]) -> Result<DataFrame> {
    let f = |g: &dyn Fn(&FamilyMetrics) -> f64| rows.iter().map(g).collect::<Vec<f64>>();
    let cols = vec![
        Column::new(
            "model".into(),
            rows.iter().map(|r| r.model.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            "ensemble".into(),
            rows.iter().map(|r| r.ensemble as u32).collect::<Vec<_>>(),
        ),
        Column::new(
            "n_params".into(),
            rows.iter().map(|r| r.n_params as u64).collect::<Vec<_>>(),
        ),
        Column::new(
            "n_test".into(),
            rows.iter().map(|r| r.metrics.n as u64).collect::<Vec<_>>(),
        ),
        Column::new(
            "n_test_valid".into(),
            rows.iter()
                .map(|r| r.metrics.n_valid as u64)
                .collect::<Vec<_>>(),
        ),
        Column::new("pearson_total".into(), f(&|r| r.metrics.pearson_total)),
        Column::new("pearson_fc".into(), f(&|r| r.metrics.pearson_fc)),
        Column::new("pearson_ks".into(), f(&|r| r.metrics.pearson_ks)),
        Column::new("rmse_total".into(), f(&|r| r.metrics.rmse_total)),
        Column::new("valid_accuracy".into(), f(&|r| r.metrics.valid_accuracy)),
        Column::new("train_s".into(), f(&|r| r.train_s)),
    ];
    DataFrame::new(rows.len(), cols)
        .map_err(|e| SurrogateError::Input(format!("building the metrics table: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_random_split_is_seeded_disjoint_and_complete() {
        let (train, test) = random_split(50, 0.2, 7);
        assert_eq!((train.len(), test.len()), (40, 10));
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
        assert_eq!(random_split(50, 0.2, 7), (train.clone(), test));
        assert_ne!(random_split(50, 0.2, 8).0, train);
    }

    #[test]
    fn group_lists_drop_blanks() {
        assert_eq!(group_names(" a, ,b,"), vec!["a".to_string(), "b".into()]);
        assert!(group_names(" , ").is_empty());
        assert!(HeldOut::Fraction {
            fraction: 0.1,
            seed: 0
        }
        .unseen_groups()
        .is_empty());
        assert_eq!(
            HeldOut::groups(group_names("a")).unseen_groups(),
            ["a".to_string()]
        );
    }

    /// Few-shot rows: each held-out group's first k rows by index move to training (its inputs
    /// are then seen), the rest stay held out; a group with too few rows is an error.
    #[test]
    fn few_shot_rows_are_each_groups_first_rows_by_index() {
        use crate::samples::RowSource;
        let mut s = Samples::default();
        // Rows 0..6 of group a with indices 5..0 (reversed), rows 6..9 of group b.
        for r in 0..6u64 {
            s.push(5 - r, [0.1; 10], (0.5, 0.5), true, &RowSource::test("a"));
        }
        for r in 0..3u64 {
            s.push(10 + r, [0.1; 10], (0.5, 0.5), true, &RowSource::test("b"));
        }
        let held = HeldOut::Groups {
            names: vec!["a".into()],
            few_shot: 2,
            shot_weight: 1,
        };
        let (train, test) = held.split(&s).unwrap();
        assert_eq!(train, vec![6, 7, 8, 5, 4]);
        assert_eq!(test, vec![0, 1, 2, 3]);
        assert!(held.unseen_groups().is_empty());
        // Weighted shots: the same two rows, three times each.
        let weighted = HeldOut::Groups {
            names: vec!["a".into()],
            few_shot: 2,
            shot_weight: 3,
        };
        let (train, test) = weighted.split(&s).unwrap();
        assert_eq!(train, vec![6, 7, 8, 5, 4, 5, 4, 5, 4]);
        assert_eq!(test, vec![0, 1, 2, 3]);
        // Held-back shots (for fine-tuning): neither trained on nor scored, group unseen.
        let held_back = HeldOut::Groups {
            names: vec!["a".into()],
            few_shot: 2,
            shot_weight: 0,
        };
        let (train, shots, test) = held_back.split_shots(&s).unwrap();
        assert_eq!(
            (train, shots, test),
            (vec![6, 7, 8], vec![5, 4], vec![0, 1, 2, 3])
        );
        assert_eq!(held_back.unseen_groups(), ["a".to_string()]);
        let too_many = HeldOut::Groups {
            names: vec!["b".into()],
            few_shot: 3,
            shot_weight: 1,
        };
        let e = too_many.split(&s).unwrap_err().to_string();
        assert!(
            e.contains("--few-shot 3") && e.contains("'b' has only 3 rows"),
            "{e}"
        );
    }

    #[test]
    fn the_metrics_table_has_one_row_per_family() {
        let m = Metrics {
            pearson_total: 0.9,
            pearson_fc: 0.8,
            pearson_ks: 0.7,
            rmse_total: 0.1,
            valid_accuracy: 1.0,
            n_valid: 9,
            n: 10,
        };
        let rows = vec![
            FamilyMetrics {
                model: "mlp".into(),
                ensemble: 2,
                n_params: 100,
                metrics: m.clone(),
                train_s: 1.5,
            },
            FamilyMetrics {
                model: "quadratic".into(),
                ensemble: 1,
                n_params: 10,
                metrics: m,
                train_s: 0.5,
            },
        ];
        let df = metrics_table(&rows).unwrap();
        assert_eq!(df.shape(), (2, 11));
        let n_valid = df.column("n_test_valid").unwrap().u64().unwrap().get(1);
        assert_eq!(n_valid, Some(9));
        let s = df.column("train_s").unwrap().f64().unwrap().get(0);
        assert_eq!(s, Some(1.5));
    }
}
