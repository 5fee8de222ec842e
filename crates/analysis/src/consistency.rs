//! Are the couplings consistent across recordings (fish)? The study's future work: models
//! trained at the same λ on different recordings are compared pair by pair (coupling-matrix
//! nRMSE and Pearson r over off-diagonal voxel pairs), against pairs of models trained on the
//! same recording with different seeds (the seed-to-seed floor). Exploded models have no
//! coupling matrix and are left out.
//!
//! Negative control in the same run (`data.brain.control_fish`): recordings 0..S share one
//! assembly layout and recordings S.. each have their own. Then *cross* pairs are pairs of
//! models of two different shared-layout recordings, and *control* pairs are pairs of models
//! of two recordings with different layouts: two control fish, or a control fish and a
//! shared-layout fish (each control layout is drawn independently of the shared template, so
//! both kinds are pairs of unrelated layouts, and together they give more pairs). Shared
//! layouts should give the more similar couplings (`shared_beats_control`).

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
    /// Pairs of models of recordings with different layouts (0 without control fish).
    pub control_pairs: usize,
    /// Mean coupling-matrix nRMSE and Pearson r over the control pairs (NaN without pairs).
    pub control_nrmse: f64,
    pub control_correlation: f64,
    /// Shared-layout cross r exceeds the control r (None without control fish; false when
    /// either is NaN).
    pub shared_beats_control: Option<bool>,
}

/// The consistency section of a multi-recording sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Consistency {
    /// Recordings R (the largest `recording` + 1).
    pub n_recordings: usize,
    /// With control fish: recordings 0..S share one layout, recordings S.. are the controls
    /// (each with its own). None: every recording pair counts as cross.
    pub shared_layout: Option<usize>,
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
/// recordings; None when the rows come from fewer than two recordings. `shared_layout`:
/// recordings 0..S share a layout and S.. are control fish
/// (`SweepConfig::shared_layout_recordings`), or None.
pub fn consistency(
    sweep_dir: &Path,
    rows: &[ModelRow],
    shared_layout: Option<usize>,
) -> Result<Option<Consistency>> {
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
    Ok(Some(compare(
        &models,
        n_recordings,
        set.n_groups,
        shared_layout,
    )))
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

/// Which of the sums a pair of models of recordings `p`, `q` goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PairKind {
    Within,
    Cross,
    Control,
}

fn pair_kind(p: usize, q: usize, shared_layout: Option<usize>) -> PairKind {
    match shared_layout {
        _ if p == q => PairKind::Within,
        Some(s) if p >= s || q >= s => PairKind::Control,
        _ => PairKind::Cross,
    }
}

/// Every pair of models at the same λ, sorted into within-recording, cross-recording
/// (shared layout) and control (different layouts) pairs.
fn compare(
    models: &[Model],
    n_recordings: usize,
    k: usize,
    shared_layout: Option<usize>,
) -> Consistency {
    let mut lambdas: Vec<(f64, &str)> = models.iter().map(|m| (m.lambda, m.range)).collect();
    lambdas.sort_by(|a, b| a.0.total_cmp(&b.0));
    lambdas.dedup_by(|a, b| a.0 == b.0);
    let r = n_recordings;
    let mut sim = vec![Acc::default(); r * r];
    let per_lambda = lambdas
        .into_iter()
        .map(|(lambda, range)| {
            let at: Vec<&Model> = models.iter().filter(|m| m.lambda == lambda).collect();
            let (mut cross, mut within, mut control) =
                (Acc::default(), Acc::default(), Acc::default());
            for (a, x) in at.iter().enumerate() {
                for (b, y) in at.iter().enumerate().skip(a + 1) {
                    let seed = (a * at.len() + b) as u64;
                    let d = matrix_nrmse(x.matrix, y.matrix, seed);
                    let c = offdiagonal_correlation(x.matrix, y.matrix, k);
                    if !(d.is_finite() && c.is_finite()) {
                        continue;
                    }
                    let (p, q) = (x.recording, y.recording);
                    match pair_kind(p, q, shared_layout) {
                        PairKind::Within => &mut within,
                        PairKind::Cross => &mut cross,
                        PairKind::Control => &mut control,
                    }
                    .add(d, c);
                    sim[p * r + q].add(d, c);
                    if p != q {
                        sim[q * r + p].add(d, c);
                    }
                }
            }
            let ((cross_nrmse, cross_correlation), (within_nrmse, within_correlation)) =
                (cross.mean(), within.mean());
            let (control_nrmse, control_correlation) = control.mean();
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
                control_pairs: control.2,
                control_nrmse,
                control_correlation,
                shared_beats_control: shared_layout
                    .map(|_| cross_correlation > control_correlation),
            }
        })
        .collect();
    Consistency {
        n_recordings,
        shared_layout,
        per_lambda,
        similarity: sim.into_iter().map(|a| a.mean().1).collect(),
    }
}

impl Consistency {
    /// Mean cross-recording r over the λ values that have cross pairs (NaN if none).
    pub fn mean_cross_correlation(&self) -> f64 {
        mean_finite(self.per_lambda.iter().map(|l| l.cross_correlation))
    }

    /// Mean control r (pairs of recordings with different layouts) over the λ values that
    /// have control pairs (NaN if none).
    pub fn mean_control_correlation(&self) -> f64 {
        mean_finite(self.per_lambda.iter().map(|l| l.control_correlation))
    }

    /// One row per λ: `lambda, range, n_models, cross_pairs, within_pairs, cross_nrmse,
    /// cross_correlation, within_nrmse, within_correlation, cross_beats_within,
    /// control_pairs, control_nrmse, control_correlation, shared_beats_control` (the control
    /// columns 0, NaN and null without control fish).
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
                col!("control_pairs", |x| x.control_pairs as u64),
                col!("control_nrmse", |x| x.control_nrmse),
                col!("control_correlation", |x| x.control_correlation),
                col!("shared_beats_control", |x| x.shared_beats_control),
            ],
        )
        .map_err(|e| AnalysisError::Invalid(format!("consistency table: {e}")))
    }
}

/// Mean of the finite values (NaN if none).
fn mean_finite(values: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.filter(|c| c.is_finite()).collect();
    match v.len() {
        0 => f64::NAN,
        n => v.iter().sum::<f64>() / n as f64,
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

    /// 4 × 4 coupling patterns: A, a slightly-off copy of A, and an unrelated B.
    fn patterns() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        (
            sym([1.0, 0.0, 0.0, 0.0, 0.0, 1.0]),
            sym([1.0, 0.1, 0.0, 0.0, 0.0, 1.0]),
            sym([0.0, 1.0, 1.0, 0.0, 0.0, 0.0]),
        )
    }

    #[test]
    fn pairs_are_sorted_into_cross_and_within_recording() {
        // Recording 0: pattern A (two seeds, one slightly off); recording 1: pattern B.
        let (a, a2, b) = patterns();
        let m = |recording, matrix| Model {
            lambda: 0.1,
            range: "weak",
            recording,
            matrix,
        };
        let models = [m(0, &a), m(0, &a2), m(1, &b)];
        let c = compare(&models, 2, 4, None);
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
        let c = compare(&models, 2, 4, None);
        assert!(c.per_lambda[0].cross_beats_within);
        assert!((c.mean_cross_correlation() - (1.0 + r_aa2) / 2.0).abs() < 1e-12);
        assert_eq!(c.table().unwrap().height(), 1);
    }

    #[test]
    fn with_control_fish_pairs_of_different_layouts_are_the_control() {
        // Recordings 0 and 1 share pattern A; recording 2 is a control fish with pattern B.
        let (a, a2, b) = patterns();
        let b2 = sym([0.0, 1.0, 0.9, 0.0, 0.0, 0.1]);
        let m = |recording, matrix| Model {
            lambda: 1.0,
            range: "strong",
            recording,
            matrix,
        };
        let models = [m(0, &a), m(1, &a2), m(2, &b), m(2, &b2)];
        let r = |x: &[f64], y: &[f64]| offdiagonal_correlation(x, y, 4);
        let c = compare(&models, 3, 4, Some(2));
        let l = &c.per_lambda[0];
        assert_eq!(c.shared_layout, Some(2));
        assert_eq!((l.cross_pairs, l.control_pairs, l.within_pairs), (1, 4, 1));
        assert!((l.cross_correlation - r(&a, &a2)).abs() < 1e-12);
        assert!((l.within_correlation - r(&b, &b2)).abs() < 1e-12);
        let control = (r(&a, &b) + r(&a, &b2) + r(&a2, &b) + r(&a2, &b2)) / 4.0;
        assert!((l.control_correlation - control).abs() < 1e-12);
        assert_eq!(l.shared_beats_control, Some(true));
        assert!((c.mean_control_correlation() - control).abs() < 1e-12);
        // The heatmap still covers every recording.
        assert!((c.similarity[2] - (r(&a, &b) + r(&a, &b2)) / 2.0).abs() < 1e-12);
        let t = c.table().unwrap();
        assert_eq!(
            t.column("control_pairs").unwrap().u64().unwrap().get(0),
            Some(4)
        );
        // Without control fish every pair of different recordings is cross.
        let c = compare(&models, 3, 4, None);
        let l = &c.per_lambda[0];
        assert_eq!((l.cross_pairs, l.control_pairs, l.within_pairs), (5, 0, 1));
        assert!(l.control_correlation.is_nan() && l.shared_beats_control.is_none());
        assert!(c.mean_control_correlation().is_nan());
    }

    /// Must-show 3 of issue 17 in one sweep: three synthetic fish sharing an assembly layout
    /// and three control fish with their own layouts, trained at the same λ, seeds and sizes;
    /// pairs of fish sharing the layout have more similar couplings than pairs of fish with
    /// different layouts.
    #[test]
    fn fish_sharing_a_layout_are_more_alike_than_control_fish_in_the_same_sweep() {
        use crate::sweep::{run_model, SweepInput};
        use burn::tensor::Device;
        let t0 = std::time::Instant::now();
        let device = Device::flex();
        let mut cfg = crate::gauss_model::tests::tiny_gauss();
        cfg.grids.retain(|g| g.name == "strong");
        cfg.data.brain.fish = 3;
        cfg.data.brain.control_fish = 3;
        cfg.gauss.train.n_updates = 200;
        cfg.seeds = 2;
        cfg.validate().unwrap();
        assert_eq!(cfg.shared_layout_recordings(), Some(3));
        let dir = std::env::temp_dir().join(format!("consistency-control-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let input = SweepInput::prepare(&cfg).unwrap();
        let jobs = cfg.jobs();
        assert_eq!(jobs.len(), 6 * 2);
        let rows: Vec<ModelRow> = jobs
            .iter()
            .map(|j| run_model(&cfg, &input, j, &dir, &device, |_| ()).unwrap())
            .collect();
        assert_eq!(
            rows.iter().map(|r| r.recording).collect::<Vec<_>>(),
            [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
        );
        assert!(rows.iter().all(|r| !r.exploded), "{rows:?}");
        let c = consistency(&dir, &rows, cfg.shared_layout_recordings())
            .unwrap()
            .expect("6 recordings");
        let l = &c.per_lambda[0];
        // Of the 15 pairs of recordings, 3 share the layout and 12 involve a control fish,
        // each with 2 × 2 pairs of seeds; 6 seed pairs within recordings.
        assert_eq!(
            (
                c.n_recordings,
                l.cross_pairs,
                l.control_pairs,
                l.within_pairs
            ),
            (6, 12, 48, 6)
        );
        eprintln!(
            "λ = {}, K = {}: shared cross r = {:.3} (nRMSE {:.3}), control r = {:.3} \
             (nRMSE {:.3}), within r = {:.3} (nRMSE {:.3}); similarity = {:?}; wall time {:.1} s",
            l.lambda,
            rows[0].n_groups,
            l.cross_correlation,
            l.cross_nrmse,
            l.control_correlation,
            l.control_nrmse,
            l.within_correlation,
            l.within_nrmse,
            c.similarity
                .iter()
                .map(|x| (x * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>(),
            t0.elapsed().as_secs_f64()
        );
        assert_eq!(l.shared_beats_control, Some(true), "{l:?}");
        assert!(c.mean_cross_correlation() > c.mean_control_correlation());
    }
}
