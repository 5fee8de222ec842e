//! The numbers behind a λ sweep's report, apart from its plots and Markdown: which model is
//! shown, one representative per λ range, the nRMSE vectors of good and bad models, and the
//! coupling-matrix comparison (pairwise nRMSE → PCA → K-means → agreement with the λ ranges).

use polars::prelude::{Column, DataFrame};

use crate::connectivity::{
    adjusted_rand_index, cluster_range_counts, kmeans, pairwise_nrmse, pca_gram,
    structure_preserved, within_and_across, CouplingSet, Pca,
};
use crate::error::{AnalysisError, Result};
use crate::selection::SelectionConfig;
use crate::table::ModelRow;

/// K-means restarts of the coupling-matrix clustering.
const KMEANS_RESTARTS: usize = 20;

/// The model a report shows when none is asked for: the best good model, else the model with
/// the lowest (finite) norm. `good` is ranked best first.
pub fn default_shown(
    rows: &[ModelRow],
    good: &[ModelRow],
    sel: &SelectionConfig,
) -> Option<ModelRow> {
    good.first().cloned().or_else(|| {
        rows.iter()
            .filter(|r| r.norm4.is_finite())
            .min_by(|a, b| sel.norm4(a).total_cmp(&sel.norm4(b)))
            .cloned()
    })
}

/// One representative per λ range of `set`: (range, position in `set` of its lowest-norm
/// model), ranges in table order (consecutive duplicates merged).
pub fn range_representatives(set: &CouplingSet, sel: &SelectionConfig) -> Vec<(String, usize)> {
    let mut ranges: Vec<String> = set.rows.iter().map(|r| r.range.clone()).collect();
    ranges.dedup();
    ranges
        .into_iter()
        .filter_map(|range| {
            let pos = set
                .rows
                .iter()
                .enumerate()
                .filter(|(_, r)| r.range == range)
                .min_by(|a, b| sel.norm4(a.1).total_cmp(&sel.norm4(b.1)))?
                .0;
            Some((range, pos))
        })
        .collect()
}

/// The nRMSE vectors ([v, h, vh, vv, hh]) of good, bad and neither models, named; groups
/// with no model are left out, and exploded models (no nRMSE vector) are not drawn as bad.
pub fn nrmse_vector_groups(
    rows: &[ModelRow],
    sel: &SelectionConfig,
) -> Vec<(&'static str, Vec<Vec<f64>>)> {
    let picks: [(&str, &dyn Fn(&ModelRow) -> bool); 3] = [
        ("good", &|r| sel.is_good(r)),
        ("bad", &|r| sel.is_bad(r) && !r.exploded),
        ("neither", &|r| !sel.is_good(r) && !sel.is_bad(r)),
    ];
    picks
        .into_iter()
        .map(|(name, pick)| {
            let vectors: Vec<Vec<f64>> = rows
                .iter()
                .filter(|r| pick(r))
                .map(|r| SelectionConfig::nrmses(r).to_vec())
                .collect();
            (name, vectors)
        })
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// The clustering of a set of coupling matrices (z-scored, flattened).
#[derive(Clone, Debug)]
pub struct CouplingClusters {
    /// Pairwise coupling-matrix nRMSE, row-major [n, n] in set order.
    pub pairwise: Vec<f64>,
    /// PCA of the flattened matrices (scores [n][c], explained variance [c]).
    pub pca: Pca,
    /// K-means cluster of each model on the leading components, [n].
    pub labels: Vec<usize>,
    /// Number of clusters asked of K-means (the requested count, clamped to 1..=n).
    pub n_clusters: usize,
    /// Each model's λ range, [n].
    pub ranges: Vec<String>,
    /// (cluster, λ range, models).
    pub counts: Vec<(usize, String, usize)>,
    /// Agreement of the clusters with the λ ranges (adjusted Rand index; 1 = identical).
    pub rand_index: f64,
    /// Mean pairwise nRMSE between models of the same / of different clusters.
    pub nrmse_within: f64,
    pub nrmse_across: f64,
    /// Pearson r between the mean matrices of clusters 0 and 1 over off-diagonal pairs (NaN
    /// with fewer than two clusters).
    pub structure_correlation: f64,
}

/// Pairwise nRMSE, PCA on `components` (at least 2) leading components, K-means into
/// `clusters` (clamped to 1..=n) with `seed`, and the cluster × λ-range agreement. Needs at
/// least two matrices.
pub fn cluster_couplings(
    set: &CouplingSet,
    components: usize,
    clusters: usize,
    seed: u64,
) -> Result<CouplingClusters> {
    let pairwise = pairwise_nrmse(&set.matrices);
    let pca = pca_gram(&set.matrices, components.max(2))?;
    let n_clusters = clusters.clamp(1, set.len());
    let labels = kmeans(&pca.scores, n_clusters, KMEANS_RESTARTS, seed)?.labels;
    let ranges: Vec<String> = set.rows.iter().map(|r| r.range.clone()).collect();
    let (nrmse_within, nrmse_across) = within_and_across(&pairwise, &labels);
    Ok(CouplingClusters {
        counts: cluster_range_counts(&labels, &ranges),
        rand_index: adjusted_rand_index(&labels, &ranges),
        structure_correlation: structure_preserved(&set.matrices, &labels, set.n_groups),
        pairwise,
        pca,
        labels,
        n_clusters,
        ranges,
        nrmse_within,
        nrmse_across,
    })
}

impl CouplingClusters {
    /// One row per model of `set` (the set these clusters came from): index, lambda, range,
    /// cluster, pc1..pcC.
    pub fn table(&self, set: &CouplingSet) -> Result<DataFrame> {
        let mut cols = vec![
            Column::new(
                "index".into(),
                set.rows.iter().map(|r| r.index).collect::<Vec<_>>(),
            ),
            Column::new(
                "lambda".into(),
                set.rows.iter().map(|r| r.lambda).collect::<Vec<_>>(),
            ),
            Column::new("range".into(), self.ranges.clone()),
            Column::new(
                "cluster".into(),
                self.labels.iter().map(|&l| l as u64).collect::<Vec<_>>(),
            ),
        ];
        for c in 0..self.pca.explained.len() {
            cols.push(Column::new(
                format!("pc{}", c + 1).into(),
                self.pca.scores.iter().map(|s| s[c]).collect::<Vec<_>>(),
            ));
        }
        DataFrame::new(set.len(), cols).map_err(|e| AnalysisError::Invalid(e.to_string()))
    }

    /// PC1–PC2 scores of the models at the positions where `keep` holds.
    pub fn scores_where(&self, keep: impl Fn(usize) -> bool) -> Vec<(f64, f64)> {
        (0..self.labels.len())
            .filter(|&i| keep(i))
            .map(|i| (self.pca.scores[i][0], self.pca.scores[i][1]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::tests::row;

    fn set_of(ranges: &[&str], matrices: Vec<Vec<f64>>, n_groups: usize) -> CouplingSet {
        CouplingSet {
            rows: ranges
                .iter()
                .enumerate()
                .map(|(i, r)| row(i as u64, if *r == "weak" { 0.1 } else { 1.0 }, r))
                .collect(),
            matrices,
            n_groups,
        }
    }

    #[test]
    fn two_well_separated_families_cluster_by_range() {
        // 3×3 matrices of opposite sign: the cluster means anti-correlate off the diagonal.
        let a = [0.0, 1.0, -1.0, 1.0, 0.0, 0.5, -1.0, 0.5, 0.0];
        let b = a.map(|x| -x);
        let jitter = |m: [f64; 9], e: f64| m.iter().map(|x| x + e).collect::<Vec<_>>();
        let set = set_of(
            &["weak", "weak", "weak", "strong", "strong", "strong"],
            vec![
                jitter(a, 0.0),
                jitter(a, 0.01),
                jitter(a, -0.02),
                jitter(b, 0.0),
                jitter(b, 0.02),
                jitter(b, -0.01),
            ],
            3,
        );
        let c = cluster_couplings(&set, 3, 2, 0).unwrap();
        assert_eq!(c.n_clusters, 2);
        assert!((c.rand_index - 1.0).abs() < 1e-12, "ARI {}", c.rand_index);
        assert!(c.nrmse_within < c.nrmse_across);
        assert!(
            c.structure_correlation < -0.99,
            "r {}",
            c.structure_correlation
        );
        let df = c.table(&set).unwrap();
        assert_eq!(df.height(), 6);
        assert!(df.column("pc2").is_ok());
        assert_eq!(c.scores_where(|i| c.labels[i] == c.labels[0]).len(), 3);
    }

    #[test]
    fn representatives_are_the_lowest_norm_model_of_each_range() {
        let mut set = set_of(
            &["weak", "weak", "weak", "strong"],
            vec![vec![0.0; 4]; 4],
            2,
        );
        for (r, v) in set.rows.iter_mut().zip([0.5, 0.2, 0.4, 0.9]) {
            r.nrmse_v = v;
        }
        let reps = range_representatives(&set, &SelectionConfig::default());
        assert_eq!(
            reps,
            vec![("weak".to_string(), 1), ("strong".to_string(), 3)]
        );
    }

    #[test]
    fn the_default_shown_model_is_the_best_good_one_else_the_lowest_norm() {
        let sel = SelectionConfig::default();
        let mut rows = vec![row(0, 0.1, "weak"), row(1, 0.1, "weak")];
        rows[0].nrmse_v = 0.6;
        assert_eq!(default_shown(&rows, &rows[..1], &sel).unwrap().index, 0);
        assert_eq!(default_shown(&rows, &[], &sel).unwrap().index, 1);
        assert!(default_shown(&[], &[], &sel).is_none());
    }
}
