//! Effective neuron–neuron couplings of a cRBM and their aggregation to
//! regions or voxels (spec, "Functional connectivity").
//!
//! * approximate: `J_ij = Σ_μ w_iμ w_jμ ⟨Var(h_μ|v)⟩_data`, diagonal 0;
//! * exact (small N): `J_ij = Σ_μ ⟨Φ_μ(I′+w_iμ+w_jμ) − Φ_μ(I′+w_iμ) − Φ_μ(I′+w_jμ) + Φ_μ(I′)⟩_data`,
//!   I′ the input without neurons i and j;
//! * aggregation: `J_km = Σ_{i∈k, j∈m} |J_ij| / (N_k N_m)`, then z-scoring.

use rayon::prelude::*;

use crate::batch::SparseBatch;
use crate::error::{CrbmError, Result};
use crate::model::Crbm;

/// ⟨Var(h_μ|v)⟩ over the frames, shape [M].
pub fn mean_hidden_variance(model: &Crbm, data: &SparseBatch) -> Vec<f64> {
    let m = model.n_hidden;
    let t = data.len().max(1) as f64;
    let per_frame: Vec<Vec<f64>> = data
        .rows
        .par_iter()
        .map(|r| {
            let x = model.hidden_input(r);
            x.iter()
                .zip(&model.hidden)
                .map(|(&x, u)| u.var(x))
                .collect()
        })
        .collect();
    // Sequential sum: the same result whatever the thread count.
    let mut acc = vec![0.0; m];
    for v in &per_frame {
        acc.iter_mut().zip(v).for_each(|(a, x)| *a += x);
    }
    acc.into_iter().map(|s| s / t).collect()
}

/// Approximate couplings, dense [N, N] row-major (diagonal 0). Memory N²·8 bytes:
/// use [`aggregate_approx_couplings`] at zebrafish scale.
pub fn approx_couplings(model: &Crbm, data: &SparseBatch) -> Vec<f64> {
    let (n, m) = (model.n_visible, model.n_hidden);
    let var = mean_hidden_variance(model, data);
    couplings_from_variance(&model.weights, n, m, &var)
}

/// `J_ij = Σ_μ w_iμ w_jμ var_μ` for weights [N, M] and per-unit variances [M]: dense [N, N]
/// row-major, diagonal 0 (the approximate couplings of either model kind).
pub fn couplings_from_variance(weights: &[f64], n: usize, m: usize, var: &[f64]) -> Vec<f64> {
    let mut j = vec![0.0; n * n];
    j.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        let wi = &weights[i * m..(i + 1) * m];
        for (k, out) in row.iter_mut().enumerate() {
            if k != i {
                let wk = &weights[k * m..(k + 1) * m];
                *out = wi
                    .iter()
                    .zip(wk)
                    .zip(var)
                    .map(|((a, b), v)| a * b * v)
                    .sum();
            }
        }
    });
    j
}

/// Exact Φ-difference couplings, dense [N, N] (diagonal 0); cost O(T·N²·M), small N only.
pub fn exact_couplings(model: &Crbm, data: &SparseBatch) -> Result<Vec<f64>> {
    let (n, m) = (model.n_visible, model.n_hidden);
    if n > 2000 {
        return Err(CrbmError::TooLargeForExact {
            what: "exact couplings",
            n,
            max: 2000,
        });
    }
    let t = data.len().max(1) as f64;
    let mut j = vec![0.0; n * n];
    j.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        for r in &data.rows {
            let input = model.hidden_input(r);
            let vi = r.binary_search(&(i as u32)).is_ok();
            for (k, out) in row.iter_mut().enumerate() {
                if k == i {
                    continue;
                }
                let vk = r.binary_search(&(k as u32)).is_ok();
                let mut s = 0.0;
                for mu in 0..m {
                    let (wi, wk) = (model.weight(i, mu), model.weight(k, mu));
                    let base = input[mu] - if vi { wi } else { 0.0 } - if vk { wk } else { 0.0 };
                    let u = &model.hidden[mu];
                    s += u.cgf(base + wi + wk) - u.cgf(base + wi) - u.cgf(base + wk) + u.cgf(base);
                }
                *out += s / t;
            }
        }
    });
    Ok(j)
}

/// Assign neurons to the cells of a regular 3-D grid of cubic voxels of side
/// `voxel_size` (µm) over the bounding box of `coords`; empty voxels are dropped.
/// Returns (group of each neuron, number of groups).
pub fn voxel_groups(coords: &[[f64; 3]], voxel_size: f64) -> Result<(Vec<usize>, usize)> {
    if !(voxel_size > 0.0) || coords.is_empty() {
        return Err(CrbmError::InvalidConfig {
            field: "voxel_size",
            value: voxel_size.to_string(),
            reason: "must be > 0 with ≥ 1 neuron",
        });
    }
    let mut lo = [f64::INFINITY; 3];
    for c in coords {
        for d in 0..3 {
            lo[d] = lo[d].min(c[d]);
        }
    }
    let mut map = std::collections::BTreeMap::new();
    let cells: Vec<[i64; 3]> = coords
        .iter()
        .map(|c| std::array::from_fn(|d| ((c[d] - lo[d]) / voxel_size).floor() as i64))
        .collect();
    for c in &cells {
        let next = map.len();
        map.entry(*c).or_insert(next);
    }
    // Renumber in grid order so group indices are deterministic and spatially sorted.
    let order: std::collections::BTreeMap<[i64; 3], usize> =
        map.keys().enumerate().map(|(k, c)| (*c, k)).collect();
    Ok((cells.iter().map(|c| order[c]).collect(), order.len()))
}

/// `J_km = Σ_{i∈k, j∈m, i≠j} |J_ij| / (N_k N_m)` from a dense [N, N] coupling matrix.
pub fn aggregate(j: &[f64], groups: &[usize], n_groups: usize) -> Vec<f64> {
    let n = groups.len();
    let mut out = vec![0.0; n_groups * n_groups];
    let mut count = vec![0.0f64; n_groups];
    groups.iter().for_each(|&g| count[g] += 1.0);
    for i in 0..n {
        for k in 0..n {
            out[groups[i] * n_groups + groups[k]] += j[i * n + k].abs();
        }
    }
    for a in 0..n_groups {
        for b in 0..n_groups {
            out[a * n_groups + b] /= (count[a] * count[b]).max(1.0);
        }
    }
    out
}

/// Aggregated approximate couplings without forming the N×N matrix: blocks of
/// `W diag(⟨Var h⟩) Wᵀ` are computed and binned on the fly. Output [K, K].
pub fn aggregate_approx_couplings(
    model: &Crbm,
    data: &SparseBatch,
    groups: &[usize],
    n_groups: usize,
) -> Result<Vec<f64>> {
    let (n, m) = (model.n_visible, model.n_hidden);
    if groups.len() != n {
        return Err(CrbmError::Shape {
            what: "group labels vs neurons".into(),
            expected: n,
            got: groups.len(),
        });
    }
    let var = mean_hidden_variance(model, data);
    // Scaled copy w_iμ·⟨Var h_μ⟩ so each entry is a plain dot product.
    let scaled: Vec<f64> = model
        .weights
        .chunks(m)
        .flat_map(|r| r.iter().zip(&var).map(|(w, v)| w * v).collect::<Vec<_>>())
        .collect();
    // Blocks of J = (W·diag⟨Var h⟩)·Wᵀ by f64 GEMM (R rows × C columns at a time),
    // binned as they are produced. Fixed row blocks summed in order: deterministic
    // whatever the thread count.
    const R: usize = 128;
    const C: usize = 4096;
    let partial: Vec<Vec<f64>> = (0..n.div_ceil(R))
        .into_par_iter()
        .map(|rb| {
            let mut acc = vec![0.0; n_groups * n_groups];
            let (r0, r1) = (rb * R, ((rb + 1) * R).min(n));
            let mut buf = vec![0.0f64; R * C];
            for c0 in (0..n).step_by(C) {
                let c1 = (c0 + C).min(n);
                let (rows, cols) = (r1 - r0, c1 - c0);
                // SAFETY: dst rows×cols (row stride C) inside buf; lhs = scaled rows
                // r0..r1 (row stride m); rhs = Wᵀ columns c0..c1, element (μ, k) at
                // (c0+k)·m + μ; all in bounds.
                unsafe {
                    gemm::gemm(
                        rows,
                        cols,
                        m,
                        buf.as_mut_ptr(),
                        1,
                        C as isize,
                        false,
                        scaled[r0 * m..].as_ptr(),
                        1,
                        m as isize,
                        model.weights[c0 * m..].as_ptr(),
                        m as isize,
                        1,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
                for i in 0..rows {
                    let gi = groups[r0 + i] * n_groups;
                    for k in 0..cols {
                        if r0 + i != c0 + k {
                            acc[gi + groups[c0 + k]] += buf[i * C + k].abs();
                        }
                    }
                }
            }
            acc
        })
        .collect();
    let mut sums = vec![0.0; n_groups * n_groups];
    for p in &partial {
        sums.iter_mut().zip(p).for_each(|(s, x)| *s += x);
    }
    let mut count = vec![0.0f64; n_groups];
    groups.iter().for_each(|&g| count[g] += 1.0);
    Ok(sums
        .iter()
        .enumerate()
        .map(|(k, s)| s / (count[k / n_groups] * count[k % n_groups]).max(1.0))
        .collect())
}

/// z-score all entries: (x − mean)/std (std over all entries; 0 if constant).
pub fn z_score(x: &[f64]) -> Vec<f64> {
    let n = x.len().max(1) as f64;
    let mean = x.iter().sum::<f64>() / n;
    let sd = (x.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n).sqrt();
    x.iter()
        .map(|a| if sd > 0.0 { (a - mean) / sd } else { 0.0 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests_support::random_model;

    #[test]
    fn exact_and_approximate_couplings_agree_for_weak_weights() {
        // For small weights the Φ-difference is w_i w_k Φ″(I′) to second order.
        let mut c = random_model(6, 3, 4);
        c.weights.iter_mut().for_each(|w| *w *= 0.01);
        let data = SparseBatch {
            n_visible: 6,
            rows: vec![vec![0, 2], vec![1, 3, 5], vec![], vec![4]],
        };
        let a = approx_couplings(&c, &data);
        let e = exact_couplings(&c, &data).unwrap();
        let scale = a.iter().fold(0.0f64, |s, x| s.max(x.abs()));
        for (x, y) in a.iter().zip(&e) {
            assert!((x - y).abs() < 0.05 * scale, "{x} vs {y}");
        }
        assert_eq!(a[0], 0.0);
        assert!((a[1] - a[6]).abs() < 1e-15, "symmetric");
    }

    #[test]
    fn blockwise_aggregation_matches_dense() {
        // N = 30 (one block) and N = 300 (several 128-row blocks).
        for n in [30usize, 300] {
            let c = random_model(n, 4, 2);
            let rows = vec![vec![0, 5, 9], vec![2, 3, 29], vec![7]];
            let data = SparseBatch { n_visible: n, rows };
            let coords: Vec<[f64; 3]> = (0..n)
                .map(|i| {
                    [
                        (i % 30) as f64 * 3.0,
                        (i % 5) as f64,
                        (i / 30) as f64 * 50.0,
                    ]
                })
                .collect();
            let (groups, k) = voxel_groups(&coords, 20.0).unwrap();
            let dense = aggregate(&approx_couplings(&c, &data), &groups, k);
            let fast = aggregate_approx_couplings(&c, &data, &groups, k).unwrap();
            for (a, b) in dense.iter().zip(&fast) {
                assert!((a - b).abs() < 1e-12 * a.abs().max(1.0));
            }
        }
        let c = random_model(30, 4, 2);
        let data = SparseBatch {
            n_visible: 30,
            rows: vec![vec![0, 5, 9]],
        };
        let coords: Vec<[f64; 3]> = (0..30)
            .map(|i| [i as f64 * 3.0, (i % 5) as f64, 0.0])
            .collect();
        let (groups, k) = voxel_groups(&coords, 20.0).unwrap();
        assert_eq!(k, 5);
        let fast = aggregate_approx_couplings(&c, &data, &groups, k).unwrap();
        let z = z_score(&fast);
        assert!(z.iter().sum::<f64>().abs() < 1e-9);
    }
}
