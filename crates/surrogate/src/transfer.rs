//! Evaluating surrogates on subject groups: predictions row by row with each row's own group
//! (a group-conditioned model is conditioned on it; other models ignore it), held-out group
//! splits, and the per-group metrics table `train-surrogate --group-split` reports.

use std::collections::BTreeMap;

use pmfm_sim::data::EmpiricalData;
use serde::{Deserialize, Serialize};

use crate::ensemble::{Ensemble, EnsemblePrediction};
use crate::error::{Result, SurrogateError};
use crate::samples::Samples;
use crate::train::{metrics, Metrics};

/// Predictions of `model` for every row of `samples`, each row with the group named by its
/// `dataset` column (looked up in `groups`; needed only by a group-conditioned model).
pub fn predict_rows(
    model: &Ensemble,
    samples: &Samples,
    groups: &[EmpiricalData],
) -> Result<EnsemblePrediction> {
    if !model.needs_group() {
        return model.predict(&samples.theta);
    }
    let mut by_group: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (r, name) in samples.dataset.iter().enumerate() {
        by_group.entry(name.as_str()).or_default().push(r);
    }
    let n = samples.len();
    let mut out = EnsemblePrediction {
        fc: vec![0.0; n],
        ks: vec![0.0; n],
        total: vec![0.0; n],
        p_valid: vec![0.0; n],
        spread: vec![0.0; n],
    };
    for (name, rows) in by_group {
        let g = find_group(groups, name)?;
        let theta: Vec<_> = rows.iter().map(|&r| samples.theta[r]).collect();
        let p = model.condition_on(g)?.predict(&theta)?;
        for (k, &r) in rows.iter().enumerate() {
            out.fc[r] = p.fc[k];
            out.ks[r] = p.ks[k];
            out.total[r] = p.total[k];
            out.p_valid[r] = p.p_valid[k];
            out.spread[r] = p.spread[k];
        }
    }
    Ok(out)
}

fn find_group<'a>(groups: &'a [EmpiricalData], name: &str) -> Result<&'a EmpiricalData> {
    groups.iter().find(|g| g.name == name).ok_or_else(|| {
        SurrogateError::Input(format!(
            "rows of group '{name}' but no such group among {} given ({})",
            groups.len(),
            groups
                .iter()
                .map(|g| g.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// Rows of `samples` split by group: `(train rows, held-out rows)`, the held-out ones being
/// those whose group is in `held_out`. Every held-out name must occur in `samples`.
pub fn group_split(samples: &Samples, held_out: &[String]) -> Result<(Vec<usize>, Vec<usize>)> {
    for h in held_out {
        if !samples.dataset.iter().any(|d| d == h) {
            return Err(SurrogateError::Input(format!(
                "--group-split: no rows of group '{h}' in the tables"
            )));
        }
    }
    let (test, train): (Vec<usize>, Vec<usize>) =
        (0..samples.len()).partition(|&r| held_out.contains(&samples.dataset[r]));
    if train.is_empty() {
        return Err(SurrogateError::Input(
            "--group-split holds out every group: nothing left to train on".into(),
        ));
    }
    Ok((train, test))
}

/// One (model, held-out group) row of the per-group table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct GroupMetrics {
    pub model: String,
    pub group: String,
    pub metrics: Metrics,
}

/// Metrics of each named model on each group's rows of `test` (groups in order of first
/// appearance).
pub fn per_group_metrics(
    models: &[(String, &Ensemble)],
    test: &Samples,
    groups: &[EmpiricalData],
) -> Result<Vec<GroupMetrics>> {
    let mut names: Vec<&str> = Vec::new();
    for d in &test.dataset {
        if !names.contains(&d.as_str()) {
            names.push(d);
        }
    }
    let mut out = Vec::new();
    for name in names {
        let rows: Vec<usize> = (0..test.len())
            .filter(|&r| test.dataset[r] == name)
            .collect();
        let sub = test.select(&rows);
        for (model, m) in models {
            let p = predict_rows(m, &sub, groups)?;
            out.push(GroupMetrics {
                model: model.clone(),
                group: name.to_string(),
                metrics: metrics(&p.mean(), &sub),
            });
        }
    }
    Ok(out)
}
