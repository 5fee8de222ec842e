//! Effective couplings between the visible units (voxels) of a Gaussian-visible cRBM.
//!
//! For continuous v the local coupling is exact: `−∂²F/∂v_i∂v_j = Σ_μ w_iμ w_jμ Φ″_μ(I_μ(v))`,
//! so its data average is `J = W diag⟨Var(h|v)⟩_data Wᵀ` (the spec's approximate form is
//! exact here); the diagonal is set to 0. Assembly recovery and comparison with a
//! ground-truth coupling matrix are provided for synthetic data.

use rayon::prelude::*;

use super::evaluate::hidden_means;
use super::model::GaussCrbm;
use crate::frames::Frames;
use crate::model::Crbm;
use crate::recovery::{assembly_recovery as recovery_by_weights, AssemblyMatch};

/// ⟨Var(h_μ|v)⟩ over the frames, shape [M].
pub fn mean_hidden_variance(model: &GaussCrbm, frames: &Frames) -> Vec<f64> {
    let m = model.n_hidden;
    let t = frames.len().max(1) as f64;
    let per_frame: Vec<Vec<f64>> = (0..frames.len())
        .into_par_iter()
        .map(|k| {
            let v: Vec<f64> = frames.row(k).iter().map(|&x| x as f64).collect();
            let input = model.hidden_input(&v);
            (0..m).map(|mu| model.hidden[mu].var(input[mu])).collect()
        })
        .collect();
    let mut acc = vec![0.0; m];
    for v in &per_frame {
        acc.iter_mut().zip(v).for_each(|(a, x)| *a += x / t);
    }
    acc
}

/// `J = W diag⟨Var(h|v)⟩ Wᵀ`, dense [N, N] row-major, diagonal 0.
pub fn couplings(model: &GaussCrbm, frames: &Frames) -> Vec<f64> {
    let (n, m) = (model.n_visible, model.n_hidden);
    let var = mean_hidden_variance(model, frames);
    crate::couplings::couplings_from_variance(&model.weights, n, m, &var)
}

/// Pearson correlation of two [N, N] matrices over their upper triangles (i < j).
pub fn upper_triangle_correlation(a: &[f64], b: &[f64], n: usize) -> f64 {
    let pairs: Vec<(f64, f64)> = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .map(|(i, j)| (a[i * n + j], b[i * n + j]))
        .collect();
    let k = pairs.len().max(1) as f64;
    let (ma, mb) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / k,
        pairs.iter().map(|p| p.1).sum::<f64>() / k,
    );
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in &pairs {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    sab / (saa * sbb).sqrt()
}

/// Match planted assemblies of visible units (voxels) to hidden units by their weights
/// (see [`crate::recovery`]: top-|A| |w| footprint, Jaccard overlap).
pub fn assembly_recovery(model: &GaussCrbm, assemblies: &[Vec<u32>]) -> Vec<AssemblyMatch> {
    // Recovery reads the weights only; a Bernoulli view with the same W serves.
    let view = Crbm {
        n_visible: model.n_visible,
        n_hidden: model.n_hidden,
        weights: model.weights.clone(),
        fields: vec![0.0; model.n_visible],
        hidden: model.hidden.clone(),
    };
    recovery_by_weights(&view, assemblies)
}

/// Hidden-unit activity E[h|v] over frames, [T, M] (for raster plots of assemblies).
pub fn hidden_activity(model: &GaussCrbm, frames: &Frames) -> Vec<f64> {
    hidden_means(model, frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn couplings_are_the_data_average_of_the_free_energy_hessian() {
        let c = GaussCrbm::random(4, 3, 0.5, 2);
        let frames = Frames::new(4, vec![0.5, -1.0, 0.2, 1.1, -0.3, 0.4, 1.5, -0.7], "t").unwrap();
        let j = couplings(&c, &frames);
        // −∂²F/∂v_i∂v_k by central finite differences, averaged over the two frames.
        let (i, k, d) = (0usize, 2usize, 1e-4);
        let mut fd = 0.0;
        for t in 0..2 {
            let v: Vec<f64> = frames.row(t).iter().map(|&x| x as f64).collect();
            let f = |di: f64, dk: f64| {
                let mut w = v.clone();
                w[i] += di;
                w[k] += dk;
                c.free_energy(&w)
            };
            fd += -(f(d, d) - f(d, -d) - f(-d, d) + f(-d, -d)) / (4.0 * d * d) / 2.0;
        }
        assert!((j[i * 4 + k] - fd).abs() < 1e-5, "{} vs {fd}", j[i * 4 + k]);
        assert_eq!(j[5], 0.0);
        assert!((j[i * 4 + k] - j[k * 4 + i]).abs() < 1e-15);
    }

    #[test]
    fn correlation_of_a_matrix_with_itself_is_one_and_with_its_negative_minus_one() {
        let a = vec![0.0, 1.0, 2.0, 1.0, 0.0, 5.0, 2.0, 5.0, 0.0];
        let b: Vec<f64> = a.iter().map(|x| -x).collect();
        assert!((upper_triangle_correlation(&a, &a, 3) - 1.0).abs() < 1e-12);
        assert!((upper_triangle_correlation(&a, &b, 3) + 1.0).abs() < 1e-12);
    }
}
