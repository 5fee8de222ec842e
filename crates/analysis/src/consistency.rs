//! Are the couplings consistent across recordings (fish)? The study's future work: models
//! trained at the same λ on different recordings are compared pair by pair (coupling-matrix
//! nRMSE and Pearson r over off-diagonal voxel pairs), against pairs of models trained on the
//! same recording with different seeds (the seed-to-seed floor). Exploded models have no
//! coupling matrix and are left out.

use std::path::Path;

use polars::prelude::{Column, DataFrame};

use crate::connectivity::{matrix_nrmse, offdiagonal_correlation, CouplingSet};
use crate::error::{AnalysisError, Result};
use crate::table::ModelRow;

/// Cross-recording versus within-recording similarity at one λ.
#[derive(Clone, Debug, PartialEq)]
pub struct LambdaConsistency {
    pub lambda: f64,
    pub range: String,
    /// Models with a coupling matrix at this λ.
    pub n_models: usize,
    /// Pairs of models of different recordings / of the same recording (different seeds).
    pub cross_pairs: usize,
    pub within_pairs: usize,
    /// Mean coupling-matrix nRMSE and Pearson r over those pairs (NaN without pairs).
    pub cross_nrmse: f64,
    pub cross_correlation: f64,
    pub within_nrmse: f64,
    pub within_correlation: f64,
    /// Cross-recording r exceeds within-recording seed-to-seed r (false when either is NaN).
    pub cross_beats_within: bool,
}

/// The consistency section of a multi-recording sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Consistency {
    /// Recordings R (the largest `recording` + 1).
    pub n_recordings: usize,
    /// One entry per λ with models, by increasing λ.
    pub per_lambda: Vec<LambdaConsistency>,
    /// Mean Pearson r of model pairs by recording, over λ and seeds, [R, R] row-major;
    /// diagonal = within-recording seed-to-seed; NaN where no pair.
    pub similarity: Vec<f64>,
}

/// One model's matrix for the comparison.
struct Model<'a> {
    lambda: f64,
    range: &'a str,
    recording: usize,
    /// z-scored coupling matrix, [K·K].
    matrix: &'a [f64],
}

/// Loads the coupling matrices of `rows` (paths relative to `sweep_dir`) and compares the
/// recordings; None when the rows come from fewer than two recordings.
pub fn consistency(sweep_dir: &Path, rows: &[ModelRow]) -> Result<Option<Consistency>> {
    if rows.iter().all(|r| r.recording == 0) {
        return Ok(None);
    }
    let n_recordings = rows
        .iter()
        .map(|r| r.recording as usize + 1)
        .max()
        .unwrap_or(0);
    let set = CouplingSet::load(sweep_dir, rows)?;
    let models: Vec<Model> = set
        .rows
        .iter()
        .zip(&set.matrices)
        .map(|(r, m)| Model {
            lambda: r.lambda,
            range: &r.range,
            recording: r.recording as usize,
            matrix: m,
        })
        .collect();
    Ok(Some(compare(&models, n_recordings, set.n_groups)))
}

/// Sums of a pair statistic: (Σ nRMSE, Σ r, pairs).
#[derive(Clone, Copy, Default)]
struct Acc(f64, f64, usize);

impl Acc {
    fn add(&mut self, nrmse: f64, r: f64) {
        (self.0, self.1, self.2) = (self.0 + nrmse, self.1 + r, self.2 + 1);
    }
    fn mean(self) -> (f64, f64) {
        match self.2 {
            0 => (f64::NAN, f64::NAN),
            n => (self.0 / n as f64, self.1 / n as f64),
        }
    }
}

/// Every pair of models at the same λ, sorted into cross- and within-recording pairs.
fn compare(models: &[Model], n_recordings: usize, k: usize) -> Consistency {
    let mut lambdas: Vec<(f64, &str)> = models.iter().map(|m| (m.lambda, m.range)).collect();
    lambdas.sort_by(|a, b| a.0.total_cmp(&b.0));
    lambdas.dedup_by(|a, b| a.0 == b.0);
    let r = n_recordings;
    let mut sim = vec![Acc::default(); r * r];
    let per_lambda = lambdas
        .into_iter()
        .map(|(lambda, range)| {
            let at: Vec<&Model> = models.iter().filter(|m| m.lambda == lambda).collect();
            let (mut cross, mut within) = (Acc::default(), Acc::default());
            for (a, x) in at.iter().enumerate() {
                for (b, y) in at.iter().enumerate().skip(a + 1) {
                    let seed = (a * at.len() + b) as u64;
                    let d = matrix_nrmse(x.matrix, y.matrix, seed);
                    let c = offdiagonal_correlation(x.matrix, y.matrix, k);
                    if !(d.is_finite() && c.is_finite()) {
                        continue;
                    }
                    let (p, q) = (x.recording, y.recording);
                    if p == q { &mut within } else { &mut cross }.add(d, c);
                    sim[p * r + q].add(d, c);
                    if p != q {
                        sim[q * r + p].add(d, c);
                    }
                }
            }
            let ((cross_nrmse, cross_correlation), (within_nrmse, within_correlation)) =
                (cross.mean(), within.mean());
            LambdaConsistency {
                lambda,
                range: range.to_string(),
                n_models: at.len(),
                cross_pairs: cross.2,
                within_pairs: within.2,
                cross_nrmse,
                cross_correlation,
                within_nrmse,
                within_correlation,
                cross_beats_within: cross_correlation > within_correlation,
            }
        })
        .collect();
    Consistency {
        n_recordings,
        per_lambda,
        similarity: sim.into_iter().map(|a| a.mean().1).collect(),
    }
}

impl Consistency {
    /// Mean cross-recording r over the λ values that have cross pairs (NaN if none).
    pub fn mean_cross_correlation(&self) -> f64 {
        let v: Vec<f64> = self
            .per_lambda
            .iter()
            .map(|l| l.cross_correlation)
            .filter(|c| c.is_finite())
            .collect();
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    }

    /// One row per λ: `lambda, range, n_models, cross_pairs, within_pairs, cross_nrmse,
    /// cross_correlation, within_nrmse, within_correlation, cross_beats_within`.
    pub fn table(&self) -> Result<DataFrame> {
        let l = &self.per_lambda;
        macro_rules! col {
            ($name:literal, $f:expr) => {
                Column::new($name.into(), l.iter().map($f).collect::<Vec<_>>())
            };
        }
        DataFrame::new(
            l.len(),
            vec![
                col!("lambda", |x| x.lambda),
                col!("range", |x| x.range.clone()),
                col!("n_models", |x| x.n_models as u64),
                col!("cross_pairs", |x| x.cross_pairs as u64),
                col!("within_pairs", |x| x.within_pairs as u64),
                col!("cross_nrmse", |x| x.cross_nrmse),
                col!("cross_correlation", |x| x.cross_correlation),
                col!("within_nrmse", |x| x.within_nrmse),
                col!("within_correlation", |x| x.within_correlation),
                col!("cross_beats_within", |x| x.cross_beats_within),
            ],
        )
        .map_err(|e| AnalysisError::Invalid(format!("consistency table: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symmetric 4×4 matrix from its 6 off-diagonal values.
    fn sym(u: [f64; 6]) -> Vec<f64> {
        let mut m = vec![0.0; 16];
        let mut k = 0;
        for i in 0..4 {
            for j in i + 1..4 {
                (m[i * 4 + j], m[j * 4 + i]) = (u[k], u[k]);
                k += 1;
            }
        }
        m
    }

    #[test]
    fn pairs_are_sorted_into_cross_and_within_recording() {
        // Recording 0: pattern A (two seeds, one slightly off); recording 1: pattern B.
        let a = sym([1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        let a2 = sym([1.0, 0.1, 0.0, 0.0, 0.0, 1.0]);
        let b = sym([0.0, 1.0, 1.0, 0.0, 0.0, 0.0]);
        let m = |recording, matrix| Model {
            lambda: 0.1,
            range: "weak",
            recording,
            matrix,
        };
        let models = [m(0, &a), m(0, &a2), m(1, &b)];
        let c = compare(&models, 2, 4);
        let l = &c.per_lambda[0];
        assert_eq!((l.n_models, l.cross_pairs, l.within_pairs), (3, 2, 1));
        let r_aa2 = offdiagonal_correlation(&a, &a2, 4);
        assert!((l.within_correlation - r_aa2).abs() < 1e-12 && r_aa2 > 0.9);
        let r_ab = offdiagonal_correlation(&a, &b, 4);
        let r_a2b = offdiagonal_correlation(&a2, &b, 4);
        assert!((l.cross_correlation - (r_ab + r_a2b) / 2.0).abs() < 1e-12);
        assert!(!l.cross_beats_within && l.cross_nrmse > l.within_nrmse);
        // Similarity matrix: symmetric, diagonal = within, recording 1 has no seed pair.
        assert!((c.similarity[0] - r_aa2).abs() < 1e-12 && c.similarity[3].is_nan());
        assert_eq!(c.similarity[1], c.similarity[2]);
        assert!((c.similarity[1] - l.cross_correlation).abs() < 1e-12);
        // The same pattern in both recordings beats a noisy seed pair.
        let models = [m(0, &a), m(0, &a2), m(1, &a)];
        let c = compare(&models, 2, 4);
        assert!(c.per_lambda[0].cross_beats_within);
        assert!((c.mean_cross_correlation() - (1.0 + r_aa2) / 2.0).abs() < 1e-12);
        assert_eq!(c.table().unwrap().height(), 1);
    }

    /// Must-show 3 of issue 17: three synthetic fish sharing an assembly layout give more
    /// similar couplings across fish than three fish with independent layouts (the negative
    /// control), at the same λ, seeds and sizes.
    #[test]
    fn fish_sharing_a_layout_are_more_alike_than_fish_with_independent_layouts() {
        use crate::sweep::{run_model, SweepInput};
        use burn::tensor::Device;
        let t0 = std::time::Instant::now();
        let device = Device::flex();
        let mut cross = Vec::new();
        for independent in [false, true] {
            let mut cfg = crate::gauss_model::tests::tiny_gauss();
            cfg.grids.retain(|g| g.name == "strong");
            cfg.data.brain.fish = 3;
            cfg.data.brain.independent_layouts = independent;
            cfg.gauss.train.n_updates = 60;
            cfg.seeds = 2;
            let dir = std::env::temp_dir()
                .join(format!("consistency-{independent}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let input = SweepInput::prepare(&cfg).unwrap();
            let jobs = cfg.jobs();
            assert_eq!(jobs.len(), 3 * 2);
            let rows: Vec<ModelRow> = jobs
                .iter()
                .map(|j| run_model(&cfg, &input, j, &dir, &device, |_| ()).unwrap())
                .collect();
            assert_eq!(
                rows.iter().map(|r| r.recording).collect::<Vec<_>>(),
                [0, 0, 1, 1, 2, 2]
            );
            assert!(rows.iter().all(|r| !r.exploded), "{rows:?}");
            let c = consistency(&dir, &rows).unwrap().expect("3 recordings");
            let l = &c.per_lambda[0];
            assert_eq!((c.n_recordings, l.cross_pairs, l.within_pairs), (3, 12, 3));
            eprintln!(
                "independent_layouts = {independent}: λ = {}, K = {}, cross r = {:.3}, \
                 within r = {:.3}, cross nRMSE = {:.3}, within nRMSE = {:.3}, similarity = {:?}",
                l.lambda,
                rows[0].n_groups,
                l.cross_correlation,
                l.within_correlation,
                l.cross_nrmse,
                l.within_nrmse,
                c.similarity
                    .iter()
                    .map(|x| (x * 1000.0).round() / 1000.0)
                    .collect::<Vec<_>>()
            );
            cross.push(c.mean_cross_correlation());
        }
        eprintln!("wall time {:.1} s", t0.elapsed().as_secs_f64());
        assert!(
            cross[0] > cross[1],
            "shared-layout cross-fish r {} should exceed independent-layout r {}",
            cross[0],
            cross[1]
        );
    }
}
