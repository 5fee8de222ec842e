//! Model selection (van der Plas et al. 2023): per λ, the fraction of exploded and of bad
//! models and the distribution of the 4-statistic nRMSE norm; the λ that minimises the bad
//! fraction among those whose median norm is within the "good" threshold; good models ranked.

use crbm::stats::Statistic;
use polars::prelude::{Column, DataFrame};
use serde::{Deserialize, Serialize};

use crate::error::{AnalysisError, Result};
use crate::table::ModelRow;

/// Thresholds of the verdicts (recomputed from each row's nRMSE vector).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SelectionConfig {
    /// A model is bad when any nRMSE exceeds this (or is NaN). Spec: 1.
    pub bad_above: f64,
    /// A model is good when the L2 norm of the four chosen nRMSEs is at most this. Spec: 0.55.
    pub good_threshold: f64,
    /// The four statistics of the norm.
    pub good_statistics: [Statistic; 4],
    /// Clip each nRMSE to [0, 1] before the norm (the study's rule for Gaussian models;
    /// the report takes it from the sweep's `eval.clip_nrmse`).
    pub clip_nrmse: bool,
}

impl Default for SelectionConfig {
    fn default() -> Self {
        Self {
            bad_above: 1.0,
            good_threshold: 0.55,
            good_statistics: [Statistic::V, Statistic::H, Statistic::Vh, Statistic::Hh],
            clip_nrmse: false,
        }
    }
}

impl SelectionConfig {
    pub fn validate(&self) -> Result<()> {
        if !(self.bad_above.is_finite() && self.good_threshold.is_finite())
            || self.good_threshold <= 0.0
        {
            return Err(AnalysisError::Invalid(format!(
                "selection thresholds must be finite with good_threshold > 0, got bad_above = {}, good_threshold = {}",
                self.bad_above, self.good_threshold
            )));
        }
        Ok(())
    }

    /// The five nRMSEs of a row in [`Statistic`] order.
    pub fn nrmses(r: &ModelRow) -> [f64; 5] {
        [r.nrmse_v, r.nrmse_h, r.nrmse_vh, r.nrmse_vv, r.nrmse_hh]
    }

    /// L2 norm of the four chosen nRMSEs (each clipped to [0, 1] first with `clip_nrmse`).
    pub fn norm4(&self, r: &ModelRow) -> f64 {
        let v = Self::nrmses(r);
        let clip = |x: f64| {
            if self.clip_nrmse {
                x.clamp(0.0, 1.0)
            } else {
                x
            }
        };
        self.good_statistics
            .iter()
            .map(|&s| clip(v[s as usize]).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    pub fn is_bad(&self, r: &ModelRow) -> bool {
        r.exploded
            || Self::nrmses(r)
                .iter()
                .any(|x| x.is_nan() || *x > self.bad_above)
    }

    pub fn is_good(&self, r: &ModelRow) -> bool {
        !self.is_bad(r) && self.norm4(r) <= self.good_threshold
    }
}

/// The models of one λ.
#[derive(Clone, Debug, PartialEq)]
pub struct LambdaSummary {
    pub lambda: f64,
    pub range: String,
    pub n_models: usize,
    pub n_exploded: usize,
    pub n_bad: usize,
    pub n_good: usize,
    pub frac_exploded: f64,
    pub frac_bad: f64,
    /// Quartiles of the 4-statistic norm over the models that did not explode (NaN if none).
    pub norm4_q25: f64,
    pub norm4_median: f64,
    pub norm4_q75: f64,
    /// Mean of each nRMSE over the models that did not explode, [`Statistic`] order.
    pub mean_nrmse: [f64; 5],
    pub mean_sparsity: f64,
}

/// Linear-interpolation quantile of sorted finite values (NaN when empty).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo])
}

fn mean(x: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = x.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

/// One summary per distinct λ, ascending.
pub fn per_lambda(rows: &[ModelRow], sel: &SelectionConfig) -> Vec<LambdaSummary> {
    let mut lambdas: Vec<f64> = rows.iter().map(|r| r.lambda).collect();
    lambdas.sort_by(f64::total_cmp);
    lambdas.dedup();
    lambdas
        .into_iter()
        .map(|lambda| {
            let of: Vec<&ModelRow> = rows.iter().filter(|r| r.lambda == lambda).collect();
            let alive: Vec<&&ModelRow> = of.iter().filter(|r| !r.exploded).collect();
            let mut norms: Vec<f64> = alive
                .iter()
                .map(|r| sel.norm4(r))
                .filter(|x| x.is_finite())
                .collect();
            norms.sort_by(f64::total_cmp);
            let n = of.len();
            let n_exploded = n - alive.len();
            let n_bad = of.iter().filter(|r| sel.is_bad(r)).count();
            LambdaSummary {
                lambda,
                range: of[0].range.clone(),
                n_models: n,
                n_exploded,
                n_bad,
                n_good: of.iter().filter(|r| sel.is_good(r)).count(),
                frac_exploded: n_exploded as f64 / n as f64,
                frac_bad: n_bad as f64 / n as f64,
                norm4_q25: quantile(&norms, 0.25),
                norm4_median: quantile(&norms, 0.5),
                norm4_q75: quantile(&norms, 0.75),
                mean_nrmse: std::array::from_fn(|k| {
                    mean(
                        alive
                            .iter()
                            .map(|r| SelectionConfig::nrmses(r)[k])
                            .filter(|x| x.is_finite()),
                    )
                }),
                mean_sparsity: mean(alive.iter().map(|r| r.sparsity).filter(|x| x.is_finite())),
            }
        })
        .collect()
}

/// Index (into `summaries`) of the best λ: the smallest fraction of bad models among the λ
/// whose median norm is ≤ the good threshold, ties broken by the smaller median norm. None
/// when no λ qualifies.
pub fn best_lambda(summaries: &[LambdaSummary], sel: &SelectionConfig) -> Option<usize> {
    summaries
        .iter()
        .enumerate()
        .filter(|(_, s)| s.norm4_median <= sel.good_threshold)
        .min_by(|(_, a), (_, b)| {
            a.frac_bad
                .total_cmp(&b.frac_bad)
                .then(a.norm4_median.total_cmp(&b.norm4_median))
        })
        .map(|(k, _)| k)
}

/// The good models, best (smallest norm) first.
pub fn ranked_good<'a>(rows: &'a [ModelRow], sel: &SelectionConfig) -> Vec<&'a ModelRow> {
    let mut good: Vec<&ModelRow> = rows.iter().filter(|r| sel.is_good(r)).collect();
    good.sort_by(|a, b| {
        sel.norm4(a)
            .total_cmp(&sel.norm4(b))
            .then(a.index.cmp(&b.index))
    });
    good
}

/// The per-λ table (one row per λ).
pub fn summary_table(summaries: &[LambdaSummary]) -> Result<DataFrame> {
    macro_rules! col {
        ($name:literal, $f:expr) => {
            Column::new($name.into(), summaries.iter().map($f).collect::<Vec<_>>())
        };
    }
    let cols = vec![
        col!("lambda", |s| s.lambda),
        col!("range", |s| s.range.clone()),
        col!("n_models", |s| s.n_models as u64),
        col!("n_exploded", |s| s.n_exploded as u64),
        col!("n_bad", |s| s.n_bad as u64),
        col!("n_good", |s| s.n_good as u64),
        col!("frac_exploded", |s| s.frac_exploded),
        col!("frac_bad", |s| s.frac_bad),
        col!("norm4_q25", |s| s.norm4_q25),
        col!("norm4_median", |s| s.norm4_median),
        col!("norm4_q75", |s| s.norm4_q75),
        col!("mean_nrmse_v", |s| s.mean_nrmse[0]),
        col!("mean_nrmse_h", |s| s.mean_nrmse[1]),
        col!("mean_nrmse_vh", |s| s.mean_nrmse[2]),
        col!("mean_nrmse_vv", |s| s.mean_nrmse[3]),
        col!("mean_nrmse_hh", |s| s.mean_nrmse[4]),
        col!("mean_sparsity", |s| s.mean_sparsity),
    ];
    DataFrame::new(summaries.len(), cols).map_err(|e| AnalysisError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::tests::row;

    fn model(index: u64, lambda: f64, nrmse: [f64; 5], exploded: bool) -> ModelRow {
        let mut r = row(index, lambda, if lambda < 0.3 { "weak" } else { "strong" });
        [r.nrmse_v, r.nrmse_h, r.nrmse_vh, r.nrmse_vv, r.nrmse_hh] = nrmse;
        r.exploded = exploded;
        r
    }

    #[test]
    fn summaries_flags_and_best_lambda() {
        let nan = f64::NAN;
        let ok = [0.2, 0.2, 0.2, 0.0, 0.2]; // norm4 = 0.4
        let rows = vec![
            // λ = 0.01: one explosion, one bad (⟨hh⟩ > 1), one ok.
            model(0, 0.01, [nan; 5], true),
            model(1, 0.01, [0.2, 0.2, 0.2, 0.0, 1.5], false),
            model(2, 0.01, ok, false),
            // λ = 0.1: all ok.
            model(3, 0.1, ok, false),
            model(4, 0.1, [0.1, 0.1, 0.1, 0.0, 0.1], false),
            // λ = 3: no bad model but over-sparse (norm 0.8 > 0.55).
            model(5, 3.0, [0.4, 0.4, 0.4, 0.0, 0.4], false),
        ];
        let sel = SelectionConfig::default();
        assert!((sel.norm4(&rows[2]) - 0.4).abs() < 1e-12);
        let s = per_lambda(&rows, &sel);
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].n_exploded, s[0].n_bad, s[0].n_good), (1, 2, 1));
        assert!((s[0].frac_exploded - 1.0 / 3.0).abs() < 1e-12);
        assert!((s[0].frac_bad - 2.0 / 3.0).abs() < 1e-12);
        // Non-exploded norms at λ = 0.01: 0.4 and √(0.12 + 2.25)... only the 4 chosen stats
        // (v, h, vh, hh): √(3·0.04 + 2.25).
        let n1 = (3.0f64 * 0.04 + 2.25).sqrt();
        assert!((s[0].norm4_median - (0.4 + n1) / 2.0).abs() < 1e-12);
        assert_eq!((s[1].n_bad, s[1].n_good), (0, 2));
        assert!((s[2].norm4_median - 0.8).abs() < 1e-12);
        assert_eq!(best_lambda(&s, &sel), Some(1));
        let ranked = ranked_good(&rows, &sel);
        assert_eq!(
            ranked.iter().map(|r| r.index).collect::<Vec<_>>(),
            [4, 2, 3]
        );
        let strict = SelectionConfig {
            good_threshold: 0.1,
            ..sel
        };
        assert_eq!(best_lambda(&per_lambda(&rows, &strict), &strict), None);
        // Clipped: negative nRMSEs count as 0, large ones as 1, so the λ = 3 models (0.8) stay
        // and the ⟨hh⟩ = 1.5 model's norm is √(0.12 + 1); exploded ones stay bad.
        let clipped = SelectionConfig {
            clip_nrmse: true,
            ..SelectionConfig::default()
        };
        assert!((clipped.norm4(&rows[1]) - (0.12f64 + 1.0).sqrt()).abs() < 1e-12);
        let mut neg = rows[2].clone();
        neg.nrmse_h = -0.9;
        assert!((clipped.norm4(&neg) - 0.12f64.sqrt()).abs() < 1e-12);
        assert!((sel.norm4(&neg) - (0.12f64 + 0.81).sqrt()).abs() < 1e-12);
        assert!(clipped.is_bad(&rows[0]) && clipped.is_bad(&rows[1]));
        let df = summary_table(&s).unwrap();
        assert_eq!(df.height(), 3);
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.25), 1.75);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
