//! Evaluating surrogates on subject groups: predictions row by row with each row's own group
//! (a group-conditioned model is conditioned on it; other models ignore it), held-out group
//! splits, the per-group metrics table `train-surrogate --group-split` reports, and the
//! comparison against held-out θ re-simulated with more duplicates (`--replicates`).

use std::collections::BTreeMap;

use pmfm_sim::data::EmpiricalData;
use serde::{Deserialize, Serialize};

use crate::ensemble::{Ensemble, EnsemblePrediction};
use crate::error::{Result, SurrogateError};
use crate::samples::Samples;
use crate::train::{metrics, pearson, Metrics, TrainConfig};

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
    let mut out = Vec::new();
    for name in names_in_order(test) {
        let sub = rows_of(test, &name);
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

/// Per group of `test` (in order of first appearance): every model fine-tuned on that group's
/// rows of `shots` ([`Ensemble::fine_tune`] with `train`) and scored on the group's rows of
/// `test`, reported as model `<name>+fine-tune`. Every group of `test` needs shots.
pub fn fine_tuned_group_metrics(
    models: &[(String, &Ensemble)],
    shots: &Samples,
    test: &Samples,
    groups: &[EmpiricalData],
    train: &TrainConfig,
) -> Result<Vec<GroupMetrics>> {
    let mut out = Vec::new();
    for name in names_in_order(test) {
        let (own_shots, sub) = (rows_of(shots, &name), rows_of(test, &name));
        if own_shots.is_empty() {
            return Err(SurrogateError::Input(format!(
                "fine-tuning: no shot rows of group '{name}'"
            )));
        }
        let g = find_group(groups, &name)?;
        for (model, m) in models {
            let tuned = m.fine_tune(&own_shots, std::slice::from_ref(g), train)?;
            let p = predict_rows(&tuned, &sub, groups)?;
            out.push(GroupMetrics {
                model: format!("{model}+fine-tune"),
                group: name.clone(),
                metrics: metrics(&p.mean(), &sub),
            });
        }
    }
    Ok(out)
}

/// The rows of `samples` whose group (`dataset`) is `name`.
fn rows_of(samples: &Samples, name: &str) -> Samples {
    let rows: Vec<usize> = (0..samples.len())
        .filter(|&r| samples.dataset[r] == name)
        .collect();
    samples.select(&rows)
}

/// The distinct `dataset` names of `samples` in order of first appearance.
fn names_in_order(samples: &Samples) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for d in &samples.dataset {
        if !names.contains(d) {
            names.push(d.clone());
        }
    }
    names
}

/// One (model, held-out group) row of the replicate comparison: how well the model ranks the
/// group's held-out θ by their cost re-simulated with more noise duplicates (a less noisy
/// target than the single-duplicate cost it is scored against in [`GroupMetrics`]), next to
/// how well the held-out single-duplicate simulation itself does. The second number gauges how
/// much of the single-duplicate target is signal (near 0: no predictor can rank θ by one
/// duplicate); a model above it ranks θ better than one more simulation of each would.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ReplicateMetrics {
    pub model: String,
    pub group: String,
    /// Held-out rows with a replicate (same group, same θ bit for bit), both valid.
    pub n_matched: usize,
    /// Noise duplicates behind each replicate cost (the smallest, if they differ).
    pub replicate_dups: u32,
    /// Pearson r of the model's total cost against the replicate total cost.
    pub pearson_model: f64,
    /// Pearson r of the held-out single-duplicate total cost against the replicate total cost.
    pub pearson_single: f64,
    /// The largest Pearson r any predictor can reach against single-duplicate costs of these θ:
    /// r of the expected cost with one duplicate, estimated from `pearson_single` by
    /// [`noise_ceilings`]. NaN when `pearson_single` shows no signal.
    pub ceiling_single: f64,
    /// The same bound against the replicate costs (`replicate_dups` duplicates each).
    pub ceiling_replicate: f64,
}

/// Upper bounds on the Pearson r of any predictor, from `r_sk`, the r between a single-duplicate
/// cost and a fresh `k`-duplicate mean cost of the same θ. With cost = signal + noise, the noise
/// independent across duplicates, of one variance over θ, and s = noise/signal variance of one
/// duplicate, r_sk = 1/√((1 + s)(1 + s/k)); solved for s ≥ 0, the expected cost correlates with a
/// single duplicate at 1/√(1 + s) and with a k-duplicate mean at 1/√(1 + s/k), and no predictor
/// does better in expectation. Returns (single, k-duplicate mean); NaN for `r_sk` ≤ 0 or NaN, or
/// k = 0.
pub fn noise_ceilings(r_sk: f64, k: u32) -> (f64, f64) {
    if !(r_sk > 0.0) || k == 0 {
        return (f64::NAN, f64::NAN);
    }
    let r = r_sk.min(1.0);
    let k = k as f64;
    // s² + (k + 1)s + k(1 − 1/r²) = 0, the root ≥ 0.
    let b = k + 1.0;
    let c = k * (1.0 - 1.0 / (r * r));
    let s = 0.5 * (-b + (b * b - 4.0 * c).sqrt());
    ((1.0 + s).sqrt().recip(), (1.0 + s / k).sqrt().recip())
}

/// Pairs `(test row, replicate row)` with the same group and bit-identical θ, both valid.
/// Every group of `replicates` must match at least one row of `test`.
pub fn match_replicates(test: &Samples, replicates: &Samples) -> Result<Vec<(usize, usize)>> {
    let key = |s: &Samples, r: usize| (s.dataset[r].clone(), s.theta[r].map(f64::to_bits));
    let mut by_key: BTreeMap<_, usize> = BTreeMap::new();
    for r in (0..replicates.len()).filter(|&r| replicates.valid[r]) {
        by_key.entry(key(replicates, r)).or_insert(r);
    }
    let pairs: Vec<(usize, usize)> = (0..test.len())
        .filter(|&t| test.valid[t])
        .filter_map(|t| by_key.get(&key(test, t)).map(|&r| (t, r)))
        .collect();
    for name in replicates
        .dataset
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
    {
        if !pairs.iter().any(|&(t, _)| &test.dataset[t] == name) {
            return Err(SurrogateError::Input(format!(
                "--replicates: no valid row of group '{name}' has the θ of a held-out row of that group (re-simulate the held-out θ, e.g. pmfm-dataset --design gaussian --centres TABLE --centres-group NAME --relative-sd 0)"
            )));
        }
    }
    Ok(pairs)
}

/// [`ReplicateMetrics`] of each named model on each group of `test` that `replicates` covers.
pub fn replicate_metrics(
    models: &[(String, &Ensemble)],
    test: &Samples,
    replicates: &Samples,
    groups: &[EmpiricalData],
) -> Result<Vec<ReplicateMetrics>> {
    let pairs = match_replicates(test, replicates)?;
    let mut by_group: BTreeMap<&str, Vec<(usize, usize)>> = BTreeMap::new();
    for &(t, r) in &pairs {
        by_group
            .entry(test.dataset[t].as_str())
            .or_default()
            .push((t, r));
    }
    let mut out = Vec::new();
    for (group, pairs) in by_group {
        let rows: Vec<usize> = pairs.iter().map(|&(t, _)| t).collect();
        let sub = test.select(&rows);
        let replicate: Vec<f64> = pairs
            .iter()
            .map(|&(_, r)| replicates.total_cost[r])
            .collect();
        let replicate_dups = pairs
            .iter()
            .map(|&(_, r)| replicates.n_dup[r])
            .min()
            .unwrap_or(0);
        let pearson_single = pearson(&sub.total_cost, &replicate);
        let (ceiling_single, ceiling_replicate) = noise_ceilings(pearson_single, replicate_dups);
        for (model, m) in models {
            let p = predict_rows(m, &sub, groups)?.mean();
            out.push(ReplicateMetrics {
                model: model.clone(),
                group: group.to_string(),
                n_matched: pairs.len(),
                replicate_dups,
                pearson_model: pearson(&p.total, &replicate),
                pearson_single,
                ceiling_single,
                ceiling_replicate,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::test_data::uniform_theta;
    use crate::samples::RowSource;

    /// Rows of `group` for θ `theta` with total costs `cost` (fc = cost, ks = 0).
    fn rows(group: &str, theta: &[[f64; 10]], cost: &[f64], valid: &[bool]) -> Samples {
        let source = RowSource::test(group);
        let mut s = Samples::default();
        for (k, t) in theta.iter().enumerate() {
            s.push(k as u64, *t, (cost[k], 0.0), valid[k], &source);
        }
        s
    }

    #[test]
    fn replicates_match_held_out_rows_by_group_and_exact_theta() {
        let theta = uniform_theta(6, 3, 1.0);
        let mut test = rows("a", &theta[..4], &[1.0; 4], &[true, true, false, true]);
        test.extend(&rows("b", &theta[4..], &[1.0; 2], &[true; 2]));
        // Replicates of a, shuffled: θ0 valid, θ2 (invalid in test), θ3 invalid here, θ1 with
        // its last bit changed (no match); and of b: θ5, plus b's θ under group a's name.
        let mut nudged = theta[1];
        nudged[9] = f64::from_bits(nudged[9].to_bits() ^ 1);
        let mut rep = rows(
            "a",
            &[theta[3], theta[2], nudged, theta[0], theta[4]],
            &[0.5; 5],
            &[false, true, true, true, true],
        );
        rep.extend(&rows("b", &[theta[5]], &[0.5], &[true]));
        assert_eq!(match_replicates(&test, &rep).unwrap(), vec![(0, 3), (5, 5)]);

        // A replicate group none of whose θ is held out is an error naming it.
        let other = rows("c", &theta[..1], &[0.5], &[true]);
        let e = match_replicates(&test, &other).unwrap_err().to_string();
        assert!(e.contains("group 'c'") && e.contains("--replicates"), "{e}");
    }

    #[test]
    fn noise_ceilings_invert_the_duplicate_correlation_and_match_a_simulated_signal() {
        use rand::SeedableRng;
        // Exact inversion: r_sk built from a known s gives back 1/√(1 + s) and 1/√(1 + s/k).
        for (s, k) in [(0.0, 4), (0.05, 4), (0.34, 4), (2.0, 1), (9.0, 10)] {
            let kf = k as f64;
            let r_sk = 1.0 / ((1.0 + s) * (1.0 + s / kf)).sqrt();
            let (single, mean) = noise_ceilings(r_sk, k);
            assert!(
                (single - 1.0 / (1.0 + s).sqrt()).abs() < 1e-12,
                "s {s} k {k}"
            );
            assert!(
                (mean - 1.0 / (1.0 + s / kf).sqrt()).abs() < 1e-12,
                "s {s} k {k}"
            );
        }
        assert!(noise_ceilings(0.0, 4).0.is_nan() && noise_ceilings(-0.1, 4).1.is_nan());
        assert!(noise_ceilings(f64::NAN, 4).0.is_nan() && noise_ceilings(0.5, 0).0.is_nan());
        // Simulated: signal T ~ N(0, 1), one duplicate T + σe, a 4-duplicate mean T + σē. The
        // ceiling from r(single, mean) matches r(T, single), what a perfect predictor reaches.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let n = 200_000;
        let sigma = 0.6;
        let normal = |rng: &mut rand_chacha::ChaCha8Rng| -> f64 {
            use rand::Rng;
            rng.sample(rand_distr::StandardNormal)
        };
        let mut t = Vec::with_capacity(n);
        let mut single = Vec::with_capacity(n);
        let mut mean4 = Vec::with_capacity(n);
        for _ in 0..n {
            let x = normal(&mut rng);
            t.push(x);
            single.push(x + sigma * normal(&mut rng));
            let e: f64 = (0..4).map(|_| normal(&mut rng)).sum::<f64>() / 4.0;
            mean4.push(x + sigma * e);
        }
        let (single_bound, mean_bound) = noise_ceilings(pearson(&single, &mean4), 4);
        let perfect_single = pearson(&t, &single);
        let perfect_mean = pearson(&t, &mean4);
        assert!(
            (single_bound - perfect_single).abs() < 0.01,
            "{single_bound} vs {perfect_single}"
        );
        assert!(
            (mean_bound - perfect_mean).abs() < 0.01,
            "{mean_bound} vs {perfect_mean}"
        );
        assert!((perfect_single - 1.0 / (1.0 + sigma * sigma).sqrt()).abs() < 0.01);
    }
}
