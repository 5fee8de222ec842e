//! Comparing the functional connectivity inferred by different models: z-scored aggregated
//! coupling matrices, the nRMSE between them, PCA of the flattened matrices (Gram-matrix
//! trick: models × models, never entries × entries) and K-means on the leading components.

use std::path::Path;

use crbm::couplings::z_score;
use crbm::stats::nrmse;
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{AnalysisError, Result};
use crate::sweep::read_matrix_npy;
use crate::table::ModelRow;

/// The coupling matrices of the models that have one.
#[derive(Clone, Debug)]
pub struct CouplingSet {
    /// The models, in table order.
    pub rows: Vec<ModelRow>,
    /// Each model's z-scored matrix, flattened row-major, [K·K].
    pub matrices: Vec<Vec<f64>>,
    /// Matrix side K.
    pub n_groups: usize,
}

impl CouplingSet {
    /// Loads the coupling matrix of every row that has one (paths relative to `sweep_dir`),
    /// z-scored. All matrices must have the same size.
    pub fn load(sweep_dir: &Path, rows: &[ModelRow]) -> Result<Self> {
        let mut set = CouplingSet {
            rows: Vec::new(),
            matrices: Vec::new(),
            n_groups: 0,
        };
        for r in rows {
            let Some(rel) = &r.couplings_path else {
                continue;
            };
            let path = sweep_dir.join(rel);
            let (j, k, k2) = read_matrix_npy(&path)?;
            if k != k2 || (set.n_groups != 0 && k != set.n_groups) {
                return Err(AnalysisError::BadFile {
                    path,
                    message: format!(
                        "coupling matrix is {k}×{k2}, expected square {0}×{0} like the others",
                        set.n_groups.max(k)
                    ),
                });
            }
            if let Some(bad) = j.iter().position(|x| !x.is_finite()) {
                return Err(AnalysisError::BadFile {
                    path,
                    message: format!("non-finite coupling at entry {bad}"),
                });
            }
            set.n_groups = k;
            set.rows.push(r.clone());
            set.matrices.push(z_score(&j));
        }
        Ok(set)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// nRMSE between two coupling matrices: RMSE(x, y) divided by the RMSE after shuffling both
/// (the spec's nRMSE with a zero noise floor): 0 for identical matrices, ≈ 1 for unrelated ones.
pub fn matrix_nrmse(x: &[f64], y: &[f64], seed: u64) -> f64 {
    nrmse(x, y, x, seed)
}

/// The symmetric matrix of pairwise [`matrix_nrmse`], [n, n] row-major, zero diagonal.
pub fn pairwise_nrmse(matrices: &[Vec<f64>]) -> Vec<f64> {
    let n = matrices.len();
    let mut out = vec![0.0; n * n];
    for a in 0..n {
        for b in a + 1..n {
            let d = matrix_nrmse(&matrices[a], &matrices[b], (a * n + b) as u64);
            out[a * n + b] = d;
            out[b * n + a] = d;
        }
    }
    out
}

/// Mean pairwise nRMSE within the same cluster and across clusters (NaN where no pair).
pub fn within_and_across(pairwise: &[f64], labels: &[usize]) -> (f64, f64) {
    let n = labels.len();
    let (mut w, mut nw, mut a, mut na) = (0.0, 0usize, 0.0, 0usize);
    for i in 0..n {
        for j in i + 1..n {
            if labels[i] == labels[j] {
                w += pairwise[i * n + j];
                nw += 1;
            } else {
                a += pairwise[i * n + j];
                na += 1;
            }
        }
    }
    let m = |s: f64, c: usize| if c == 0 { f64::NAN } else { s / c as f64 };
    (m(w, nw), m(a, na))
}

/// Principal components of n points in D dimensions.
#[derive(Clone, Debug, PartialEq)]
pub struct Pca {
    /// Coordinates of each point on the leading components, [n][c].
    pub scores: Vec<Vec<f64>>,
    /// Fraction of the total variance along each component, [c].
    pub explained: Vec<f64>,
}

/// PCA through the n × n Gram matrix of the centred points (n models ≪ D entries): with
/// `G = X̃ X̃ᵀ = U Λ Uᵀ`, the scores on component c are `U_c √Λ_c`. Each component's sign is
/// fixed so that its largest-magnitude score is positive (deterministic output).
pub fn pca_gram(points: &[Vec<f64>], n_components: usize) -> Result<Pca> {
    let n = points.len();
    let d = points.first().map_or(0, Vec::len);
    if n < 2 || d == 0 || points.iter().any(|p| p.len() != d) {
        return Err(AnalysisError::Invalid(format!(
            "PCA needs ≥ 2 points of equal, non-zero dimension (got {n} points)"
        )));
    }
    let mean: Vec<f64> = (0..d)
        .map(|j| points.iter().map(|p| p[j]).sum::<f64>() / n as f64)
        .collect();
    let centred: Vec<Vec<f64>> = points
        .iter()
        .map(|p| p.iter().zip(&mean).map(|(x, m)| x - m).collect())
        .collect();
    let gram = DMatrix::from_fn(n, n, |a, b| {
        centred[a]
            .iter()
            .zip(&centred[b])
            .map(|(x, y)| x * y)
            .sum::<f64>()
    });
    let total = gram.trace();
    let eig = gram.symmetric_eigen();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let c = n_components.min(n);
    let mut scores = vec![vec![0.0; c]; n];
    let mut explained = Vec::with_capacity(c);
    for (k, &col) in order.iter().take(c).enumerate() {
        let lam = eig.eigenvalues[col].max(0.0);
        let u = eig.eigenvectors.column(col);
        let flip = u
            .iter()
            .max_by(|a, b| a.abs().total_cmp(&b.abs()))
            .is_some_and(|v| *v < 0.0);
        let s = if flip { -lam.sqrt() } else { lam.sqrt() };
        for i in 0..n {
            scores[i][k] = u[i] * s;
        }
        explained.push(if total > 0.0 { lam / total } else { 0.0 });
    }
    Ok(Pca { scores, explained })
}

/// A K-means clustering.
#[derive(Clone, Debug, PartialEq)]
pub struct KMeans {
    /// Cluster of each point; clusters are numbered by ascending first centroid coordinate.
    pub labels: Vec<usize>,
    pub centroids: Vec<Vec<f64>>,
    /// Sum of squared distances of the points to their centroids.
    pub inertia: f64,
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// K-means (Lloyd's algorithm, k-means++ seeding), best of `n_init` seeded restarts.
pub fn kmeans(points: &[Vec<f64>], k: usize, n_init: usize, seed: u64) -> Result<KMeans> {
    let n = points.len();
    if k == 0 || n < k || n_init == 0 {
        return Err(AnalysisError::Invalid(format!(
            "K-means needs 1 ≤ k ≤ points and ≥ 1 restart (k = {k}, {n} points, {n_init} restarts)"
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut best: Option<KMeans> = None;
    for _ in 0..n_init {
        // k-means++: each next centre drawn with probability ∝ squared distance to the nearest.
        let mut centroids = vec![points[rng.random_range(0..n)].clone()];
        while centroids.len() < k {
            let d: Vec<f64> = points
                .iter()
                .map(|p| {
                    centroids
                        .iter()
                        .map(|c| dist2(p, c))
                        .fold(f64::INFINITY, f64::min)
                })
                .collect();
            let total: f64 = d.iter().sum();
            let next = if total > 0.0 {
                let mut u = rng.random::<f64>() * total;
                d.iter()
                    .position(|&x| {
                        u -= x;
                        u <= 0.0
                    })
                    .unwrap_or(n - 1)
            } else {
                rng.random_range(0..n)
            };
            centroids.push(points[next].clone());
        }
        let mut labels = vec![usize::MAX; n];
        for _ in 0..300 {
            let new: Vec<usize> = points
                .iter()
                .map(|p| {
                    (0..k)
                        .min_by(|&a, &b| {
                            dist2(p, &centroids[a]).total_cmp(&dist2(p, &centroids[b]))
                        })
                        .unwrap_or(0)
                })
                .collect();
            if new == labels {
                break;
            }
            labels = new;
            for (c, centroid) in centroids.iter_mut().enumerate() {
                let members: Vec<&Vec<f64>> = points
                    .iter()
                    .zip(&labels)
                    .filter(|(_, &l)| l == c)
                    .map(|(p, _)| p)
                    .collect();
                if !members.is_empty() {
                    for (j, x) in centroid.iter_mut().enumerate() {
                        *x = members.iter().map(|p| p[j]).sum::<f64>() / members.len() as f64;
                    }
                }
            }
        }
        let inertia: f64 = points
            .iter()
            .zip(&labels)
            .map(|(p, &l)| dist2(p, &centroids[l]))
            .sum();
        if best.as_ref().is_none_or(|b| inertia < b.inertia - 1e-12) {
            best = Some(KMeans {
                labels,
                centroids,
                inertia,
            });
        }
    }
    let mut km = best.expect("n_init ≥ 1");
    // Deterministic numbering: by the first coordinate of the centroids.
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| km.centroids[a][0].total_cmp(&km.centroids[b][0]));
    let mut rank = vec![0; k];
    for (r, &c) in order.iter().enumerate() {
        rank[c] = r;
    }
    km.labels.iter_mut().for_each(|l| *l = rank[*l]);
    km.centroids = order.iter().map(|&c| km.centroids[c].clone()).collect();
    Ok(km)
}

/// Adjusted Rand index between two labellings of the same points: 1 for identical
/// partitions (up to renaming), ≈ 0 for independent ones.
pub fn adjusted_rand_index<A: PartialEq + Clone, B: PartialEq + Clone>(a: &[A], b: &[B]) -> f64 {
    let ua: Vec<A> = a.iter().fold(Vec::new(), |mut u, x| {
        if !u.contains(x) {
            u.push(x.clone());
        }
        u
    });
    let ub: Vec<B> = b.iter().fold(Vec::new(), |mut u, x| {
        if !u.contains(x) {
            u.push(x.clone());
        }
        u
    });
    let mut table = vec![vec![0.0f64; ub.len()]; ua.len()];
    for (x, y) in a.iter().zip(b) {
        let i = ua.iter().position(|u| u == x).unwrap_or(0);
        let j = ub.iter().position(|u| u == y).unwrap_or(0);
        table[i][j] += 1.0;
    }
    let c2 = |x: f64| x * (x - 1.0) / 2.0;
    let index: f64 = table.iter().flatten().map(|&x| c2(x)).sum();
    let rows: f64 = table.iter().map(|r| c2(r.iter().sum())).sum();
    let cols: f64 = (0..ub.len())
        .map(|j| c2(table.iter().map(|r| r[j]).sum()))
        .sum();
    let total = c2(a.len() as f64);
    let expected = rows * cols / total;
    let max = (rows + cols) / 2.0;
    if (max - expected).abs() < 1e-12 {
        1.0
    } else {
        (index - expected) / (max - expected)
    }
}

/// Counts of models per (cluster, λ range), sorted by cluster then range name.
pub fn cluster_range_counts(labels: &[usize], ranges: &[String]) -> Vec<(usize, String, usize)> {
    let mut out: Vec<(usize, String, usize)> = Vec::new();
    for (l, r) in labels.iter().zip(ranges) {
        match out.iter_mut().find(|(c, g, _)| c == l && g == r) {
            Some(e) => e.2 += 1,
            None => out.push((*l, r.clone(), 1)),
        }
    }
    out.sort();
    out
}

/// Mean of the (z-scored, flattened) matrices of each cluster, [n_clusters][K·K]; a cluster
/// without models gives an empty vector.
pub fn cluster_means(matrices: &[Vec<f64>], labels: &[usize], n_clusters: usize) -> Vec<Vec<f64>> {
    (0..n_clusters)
        .map(|c| {
            let members: Vec<&Vec<f64>> = matrices
                .iter()
                .zip(labels)
                .filter(|(_, &l)| l == c)
                .map(|(m, _)| m)
                .collect();
            let Some(first) = members.first() else {
                return Vec::new();
            };
            let mut mean = vec![0.0; first.len()];
            for m in &members {
                mean.iter_mut().zip(m.iter()).for_each(|(a, x)| *a += x);
            }
            let n = members.len() as f64;
            mean.iter_mut().for_each(|a| *a /= n);
            mean
        })
        .collect()
}

/// Pearson correlation of two symmetric [k, k] matrices (flattened row-major) over their
/// off-diagonal upper triangles; NaN when either is constant there or sizes differ.
pub fn offdiagonal_correlation(a: &[f64], b: &[f64], k: usize) -> f64 {
    if a.len() != k * k || b.len() != k * k || k < 2 {
        return f64::NAN;
    }
    let pairs: Vec<(f64, f64)> = (0..k)
        .flat_map(|i| (i + 1..k).map(move |j| i * k + j))
        .map(|p| (a[p], b[p]))
        .collect();
    let n = pairs.len() as f64;
    let (ma, mb) = pairs
        .iter()
        .fold((0.0, 0.0), |(x, y), (p, q)| (x + p / n, y + q / n));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (p, q) in &pairs {
        sab += (p - ma) * (q - mb);
        saa += (p - ma).powi(2);
        sbb += (q - mb).powi(2);
    }
    if saa <= 0.0 || sbb <= 0.0 {
        f64::NAN
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// "Structure preserved" (van der Plas et al. 2023): the correlation between the mean
/// coupling matrices of clusters 0 and 1 (off-diagonal voxel pairs). Near 1 when the two
/// clusters differ in scale or sparsity but connect the same voxels. NaN with fewer than two
/// non-empty clusters.
pub fn structure_preserved(matrices: &[Vec<f64>], labels: &[usize], k: usize) -> f64 {
    let means = cluster_means(matrices, labels, 2);
    if means.iter().any(|m| m.is_empty()) {
        return f64::NAN;
    }
    offdiagonal_correlation(&means[0], &means[1], k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_preserved_is_the_correlation_of_the_cluster_means() {
        // 3×3 matrices; cluster 0 = A and 2A, cluster 1 = A + noise-free offset pattern.
        let a = vec![0.0, 1.0, 2.0, 1.0, 0.0, 3.0, 2.0, 3.0, 0.0];
        let twice: Vec<f64> = a.iter().map(|x| 2.0 * x).collect();
        let shifted: Vec<f64> = a.iter().map(|x| x + 5.0).collect();
        let mats = vec![a.clone(), twice, shifted];
        let means = cluster_means(&mats, &[0, 0, 1], 2);
        assert_eq!(means[0][1], 1.5);
        assert_eq!(means[1][5], 8.0);
        assert!((structure_preserved(&mats, &[0, 0, 1], 3) - 1.0).abs() < 1e-12);
        // Reversed order of the off-diagonal values: r = −1.
        let rev = vec![0.0, 3.0, 2.0, 3.0, 0.0, 1.0, 2.0, 1.0, 0.0];
        assert!((offdiagonal_correlation(&a, &rev, 3) + 1.0).abs() < 1e-12);
        assert!(structure_preserved(&mats, &[0, 0, 0], 3).is_nan());
    }

    /// Two well-separated groups of points in 50 dimensions plus noise.
    fn two_groups(seed: u64) -> (Vec<Vec<f64>>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let centre = |g: usize| -> Vec<f64> {
            (0..50)
                .map(|j| if (j % 2 == 0) == (g == 0) { 1.0 } else { -1.0 })
                .collect()
        };
        let mut pts = Vec::new();
        let mut truth = Vec::new();
        for k in 0..20 {
            let g = k % 2;
            pts.push(
                centre(g)
                    .iter()
                    .map(|c| c + 0.3 * (rng.random::<f64>() - 0.5))
                    .collect(),
            );
            truth.push(g);
        }
        (pts, truth)
    }

    #[test]
    fn gram_pca_matches_the_covariance_eigenproblem() {
        let (pts, _) = two_groups(1);
        let p = pca_gram(&pts, 3).unwrap();
        // Direct PCA: eigenvalues of the D × D scatter matrix X̃ᵀX̃.
        let n = pts.len();
        let mean: Vec<f64> = (0..50)
            .map(|j| pts.iter().map(|q| q[j]).sum::<f64>() / n as f64)
            .collect();
        let x = DMatrix::from_fn(n, 50, |i, j| pts[i][j] - mean[j]);
        let cov = x.transpose() * &x;
        let mut ev: Vec<f64> = cov
            .clone()
            .symmetric_eigen()
            .eigenvalues
            .iter()
            .copied()
            .collect();
        ev.sort_by(|a, b| b.total_cmp(a));
        for k in 0..3 {
            let var: f64 = p.scores.iter().map(|s| s[k] * s[k]).sum();
            assert!((var - ev[k]).abs() < 1e-8 * ev[0], "component {k}");
            assert!((p.explained[k] - ev[k] / cov.trace()).abs() < 1e-10);
        }
        // Scores are the projections: uncorrelated across components.
        let dot: f64 = p.scores.iter().map(|s| s[0] * s[1]).sum();
        assert!(dot.abs() < 1e-8 * ev[0]);
        assert!(p.explained[0] > 0.9, "{:?}", p.explained);
        assert!(pca_gram(&pts[..1], 2).is_err());
    }

    #[test]
    fn kmeans_recovers_separated_groups_deterministically() {
        let (pts, truth) = two_groups(2);
        let km = kmeans(&pts, 2, 5, 7).unwrap();
        assert_eq!(adjusted_rand_index(&km.labels, &truth), 1.0);
        assert_eq!(km, kmeans(&pts, 2, 5, 7).unwrap());
        assert!(km.centroids[0][0] <= km.centroids[1][0]);
        let three = kmeans(&pts, 3, 5, 7).unwrap();
        assert!(three.inertia < km.inertia);
        assert!(kmeans(&pts, 0, 1, 0).is_err() && kmeans(&pts[..1], 2, 1, 0).is_err());
    }

    #[test]
    fn rand_index_reference_values() {
        assert_eq!(
            adjusted_rand_index(&[0, 0, 1, 1], &["a", "a", "b", "b"]),
            1.0
        );
        assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[1, 1, 0, 0]), 1.0);
        // sklearn: adjusted_rand_score([0,0,1,1],[0,1,0,1]) = -0.5
        assert!((adjusted_rand_index(&[0, 0, 1, 1], &[0, 1, 0, 1]) + 0.5).abs() < 1e-12);
        // sklearn: adjusted_rand_score([0,0,0,1,1,1],[0,0,1,1,2,2]) = 0.24242424...
        let v = adjusted_rand_index(&[0, 0, 0, 1, 1, 1], &[0, 0, 1, 1, 2, 2]);
        assert!((v - 0.242_424_242_424_242_4).abs() < 1e-12, "{v}");
    }

    #[test]
    fn matrix_nrmse_is_zero_for_equal_and_near_one_for_unrelated() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x: Vec<f64> = (0..4000).map(|_| rng.random::<f64>()).collect();
        let y: Vec<f64> = (0..4000).map(|_| rng.random::<f64>()).collect();
        assert_eq!(matrix_nrmse(&x, &x, 0), 0.0);
        let u = matrix_nrmse(&x, &y, 0);
        assert!((u - 1.0).abs() < 0.05, "{u}");
        let close: Vec<f64> = x.iter().map(|v| v + 0.01).collect();
        assert!(matrix_nrmse(&x, &close, 0) < 0.05);
        let p = pairwise_nrmse(&[x.clone(), y, close]);
        assert_eq!(p[0], 0.0);
        assert_eq!(p[1], p[3]);
        let (w, a) = within_and_across(&p, &[0, 1, 0]);
        assert!(w < 0.05 && a > 0.9, "{w} {a}");
        let counts = cluster_range_counts(&[1, 0, 1], &["s".into(), "w".into(), "s".into()]);
        assert_eq!(counts, vec![(0, "w".into(), 1), (1, "s".into(), 2)]);
    }
}
