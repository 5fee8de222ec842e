//! Dynamic functional connectivity (FCD): FC in sliding windows (stride 1), then the
//! correlation between the windows' vectorised upper triangles, and its cumulative histogram.

use super::cost::FcdCdf;
use burn::tensor::{Int, Tensor, TensorData};
use rayon::prelude::*;

/// Series processed together in the FCD on CPU devices (bounds memory to a few hundred MB).
const SERIES_PER_PASS_CPU: usize = 4;

/// The same on GPU devices, where each pass is ~30 kernel launches and one read-back, whatever
/// its size: at the reference length a series needs ~50 MB of temporaries, so a pass is ~1.6 GB.
const SERIES_PER_PASS_GPU: usize = 32;

/// Blocks the window axis is cut into for the symmetric FCD product: only blocks on or above
/// the diagonal are multiplied, (K+1)/2K of the full product (62.5% for K = 4).
const FCD_BLOCKS: usize = 4;

/// FCD of each series: BOLD [series, frames, regions] → [series, windows, windows] with
/// windows = frames − window + 1.
pub fn fcd(bold: Tensor<3>, window: usize) -> Tensor<3> {
    let z = window_fc_vectors(bold, window);
    let p = z.dims()[2] as f64;
    z.clone().matmul(z.swap_dims(1, 2)).div_scalar(p)
}

/// The windows' FC vectors, z-scored across pairs so that their Gram matrix divided by the
/// number of pairs is the FCD: BOLD [series, frames, regions] → [series, windows, pairs].
///
/// Window sums come from cumulative sums over the globally z-scored series (correlation is
/// invariant to a per-region affine map, and z-scoring keeps the cumulative sums O(frames)),
/// so each window costs O(pairs) instead of O(pairs·window).
pub fn window_fc_vectors(bold: Tensor<3>, window: usize) -> Tensor<3> {
    let device = bold.device();
    if crate::simulator::is_cpu_device(&device) {
        window_fc_vectors_host(bold, window)
    } else {
        window_fc_vectors_tensor(bold, window)
    }
}

/// [`window_fc_vectors`] as tensor operations on the BOLD's device (the GPU path).
fn window_fc_vectors_tensor(bold: Tensor<3>, window: usize) -> Tensor<3> {
    let device = bold.device();
    let [s, t, n] = bold.dims();
    let w = t + 1 - window;
    let (ii, jj) = upper_pairs(n, &device);
    let x = zscore(bold, 1);
    let wsum = |a: Tensor<3>| -> Tensor<3> {
        let k = a.dims()[2];
        let c = Tensor::cat(
            vec![a.zeros_like().slice([0..s, 0..1, 0..k]), a.cumsum(1)],
            1,
        );
        (c.clone().slice([0..s, window..t + 1, 0..k]) - c.slice([0..s, 0..w, 0..k]))
            .div_scalar(window as f64)
    };
    let prod = x.clone().select(2, ii.clone()) * x.clone().select(2, jj.clone());
    let mean = wsum(x.clone());
    let var = wsum(x.square()) - mean.clone().square();
    let cov = wsum(prod) - mean.clone().select(2, ii.clone()) * mean.select(2, jj.clone());
    let r = cov / (var.clone().select(2, ii) * var.select(2, jj)).sqrt(); // [S, W, P]
    zscore(r, 2)
}

/// Host version of [`window_fc_vectors`] for CPU devices: sliding-window sums with f64
/// accumulation, one series per task. Many small tensor passes (gathers, cumulative sums) cost
/// more on the CPU than this single pass over the data.
fn window_fc_vectors_host(bold: Tensor<3>, window: usize) -> Tensor<3> {
    let [s, t, n] = bold.dims();
    let device = bold.device();
    let dtype = bold.dtype();
    let w = t + 1 - window;
    let pairs: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .collect();
    let p = pairs.len();
    let x = bold
        .into_data()
        .try_into_vec_as::<f64>()
        .unwrap_or_default();
    let lf = window as f64;
    let per_series: Vec<Vec<f64>> = (0..s)
        .into_par_iter()
        .map(|k| {
            // Globally z-scored series, [frames, regions].
            let mut xs = x[k * t * n..(k + 1) * t * n].to_vec();
            for r in 0..n {
                let mean = (0..t).map(|f| xs[f * n + r]).sum::<f64>() / t as f64;
                let sd =
                    ((0..t).map(|f| (xs[f * n + r] - mean).powi(2)).sum::<f64>() / t as f64).sqrt();
                for f in 0..t {
                    xs[f * n + r] = (xs[f * n + r] - mean) / sd;
                }
            }
            let (mut sx, mut sxx, mut sxy) = (vec![0.0; n], vec![0.0; n], vec![0.0; p]);
            let add = |f: usize, sign: f64, sx: &mut [f64], sxx: &mut [f64], sxy: &mut [f64]| {
                let row = &xs[f * n..(f + 1) * n];
                for r in 0..n {
                    sx[r] += sign * row[r];
                    sxx[r] += sign * row[r] * row[r];
                }
                for (acc, &(i, j)) in sxy.iter_mut().zip(&pairs) {
                    *acc += sign * row[i] * row[j];
                }
            };
            let mut out = vec![0.0; w * p];
            for f in 0..window {
                add(f, 1.0, &mut sx, &mut sxx, &mut sxy);
            }
            for win in 0..w {
                if win > 0 {
                    add(win + window - 1, 1.0, &mut sx, &mut sxx, &mut sxy);
                    add(win - 1, -1.0, &mut sx, &mut sxx, &mut sxy);
                }
                let mean: Vec<f64> = sx.iter().map(|v| v / lf).collect();
                let sd: Vec<f64> = sxx
                    .iter()
                    .zip(&mean)
                    .map(|(v, m)| (v / lf - m * m).sqrt())
                    .collect();
                let o = &mut out[win * p..(win + 1) * p];
                for ((dst, &(i, j)), &sij) in o.iter_mut().zip(&pairs).zip(&sxy) {
                    *dst = (sij / lf - mean[i] * mean[j]) / (sd[i] * sd[j]);
                }
                // z-score across pairs
                let m = o.iter().sum::<f64>() / p as f64;
                let sdp = (o.iter().map(|v| (v - m).powi(2)).sum::<f64>() / p as f64).sqrt();
                for v in o.iter_mut() {
                    *v = (*v - m) / sdp;
                }
            }
            out
        })
        .collect();
    let flat: Vec<f64> = per_series.concat();
    let data = match dtype {
        burn::tensor::DType::F64 => TensorData::new(flat, [s, w, p]),
        _ => TensorData::new(
            flat.into_iter().map(|v| v as f32).collect::<Vec<f32>>(),
            [s, w, p],
        ),
    };
    Tensor::<3>::from_data(data, (&device, dtype))
}

/// FCD CDFs of every series (histogram of the FCD upper triangle without the diagonal),
/// computed block by block over the upper triangle only. The window must satisfy
/// 2 ≤ window < frames; callers check it once with
/// [`crate::simulator::validate_fcd_window`] (or [`crate::SimConfig::validate_fcd_window`]).
pub fn fcd_cdfs(bold: Tensor<3>, window: usize) -> Vec<FcdCdf> {
    let [s, t, n] = bold.dims();
    assert!(
        (2..t).contains(&window),
        "FCD window {window} does not fit {t} frames (validate it with validate_fcd_window)"
    );
    let per_pass = if crate::simulator::is_cpu_device(&bold.device()) {
        SERIES_PER_PASS_CPU
    } else {
        SERIES_PER_PASS_GPU
    };
    let mut out = Vec::with_capacity(s);
    let mut start = 0;
    while start < s {
        let end = (start + per_pass).min(s);
        let z = window_fc_vectors(bold.clone().slice([start..end, 0..t, 0..n]), window);
        let [sb, w, p] = z.dims();
        let edges: Vec<usize> = (0..=FCD_BLOCKS).map(|k| k * w / FCD_BLOCKS).collect();
        let mut values: Vec<Vec<f64>> = vec![Vec::with_capacity(w * (w - 1) / 2); sb];
        for a in 0..FCD_BLOCKS {
            let za = z.clone().slice([0..sb, edges[a]..edges[a + 1], 0..p]);
            for b in a..FCD_BLOCKS {
                let zb = z.clone().slice([0..sb, edges[b]..edges[b + 1], 0..p]);
                let block = za.clone().matmul(zb.swap_dims(1, 2)).div_scalar(p as f64);
                let (ra, rb) = (edges[a + 1] - edges[a], edges[b + 1] - edges[b]);
                let data = block
                    .into_data()
                    .try_into_vec_as::<f64>()
                    .unwrap_or_default();
                for (k, vals) in values.iter_mut().enumerate() {
                    let m = &data[k * ra * rb..(k + 1) * ra * rb];
                    for i in 0..ra {
                        // Diagonal blocks: strictly above the diagonal only.
                        let j0 = if a == b { i + 1 } else { 0 };
                        vals.extend_from_slice(&m[i * rb + j0..(i + 1) * rb]);
                    }
                }
            }
        }
        out.extend(
            values
                .into_iter()
                .map(|v| FcdCdf::from_values(v.into_iter(), w * (w - 1) / 2)),
        );
        start = end;
    }
    out
}

/// Index tensors (i, j) of the upper triangle i < j in row-major order.
fn upper_pairs(n: usize, device: &burn::tensor::Device) -> (Tensor<1, Int>, Tensor<1, Int>) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..n {
        for j in i + 1..n {
            a.push(i as i64);
            b.push(j as i64);
        }
    }
    let len = a.len();
    (
        Tensor::from_data(TensorData::new(a, [len]), device),
        Tensor::from_data(TensorData::new(b, [len]), device),
    )
}

/// Subtracts the mean and divides by the population standard deviation along `dim`.
fn zscore(x: Tensor<3>, dim: usize) -> Tensor<3> {
    let centred = x.clone() - x.mean_dim(dim);
    let std = centred.clone().square().mean_dim(dim).sqrt();
    centred / std
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observables::pearson;
    use burn::tensor::{DType, Device};

    /// Direct O(W²·P·window) FCD for comparison.
    fn direct_fcd(v: &[f64], t: usize, n: usize, window: usize) -> Vec<Vec<f64>> {
        let w = t + 1 - window;
        let vecs: Vec<Vec<f64>> = (0..w)
            .map(|s| {
                let mut out = Vec::new();
                for i in 0..n {
                    for j in i + 1..n {
                        let a: Vec<f64> = (s..s + window).map(|k| v[k * n + i]).collect();
                        let b: Vec<f64> = (s..s + window).map(|k| v[k * n + j]).collect();
                        out.push(pearson(&a, &b));
                    }
                }
                out
            })
            .collect();
        (0..w)
            .map(|a| (0..w).map(|b| pearson(&vecs[a], &vecs[b])).collect())
            .collect()
    }

    #[test]
    fn fcd_matches_direct_window_correlations() {
        let (t, n, window) = (60, 5, 12);
        let v: Vec<f64> = (0..t * n)
            .map(|k| ((k * 7919 % 211) as f64 / 50.0).sin() + 0.02 * (k / n) as f64)
            .collect();
        let device = Device::flex();
        let bold =
            Tensor::<3>::from_data(TensorData::new(v.clone(), [1, t, n]), (&device, DType::F64));
        let f = fcd(bold, window).into_data().try_to_vec::<f64>().unwrap();
        let d = direct_fcd(&v, t, n, window);
        let w = t + 1 - window;
        for a in 0..w {
            for b in 0..w {
                assert!(
                    (f[a * w + b] - d[a][b]).abs() < 1e-9,
                    "({a},{b}) {} vs {}",
                    f[a * w + b],
                    d[a][b]
                );
            }
        }
    }

    #[test]
    fn host_and_tensor_window_vectors_agree() {
        let (t, n, window) = (70, 6, 15);
        let v: Vec<f64> = (0..2 * t * n)
            .map(|k| ((k * 7919 % 211) as f64 / 37.0).cos() + 0.01 * k as f64)
            .collect();
        let device = Device::flex();
        let bold = Tensor::<3>::from_data(TensorData::new(v, [2, t, n]), (&device, DType::F64));
        let a = window_fc_vectors_host(bold.clone(), window)
            .into_data()
            .try_to_vec::<f64>()
            .unwrap();
        let b = window_fc_vectors_tensor(bold, window)
            .into_data()
            .try_to_vec::<f64>()
            .unwrap();
        assert_eq!(a.len(), b.len());
        let err = a
            .iter()
            .zip(&b)
            .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
        assert!(err < 1e-9, "{err}");
    }

    #[test]
    fn fcd_cdf_counts_every_upper_triangle_value() {
        let (t, n, window) = (40, 4, 10);
        let v: Vec<f64> = (0..2 * t * n)
            .map(|k| ((k * 31 % 97) as f64).sqrt().sin())
            .collect();
        let device = Device::flex();
        let bold = Tensor::<3>::from_data(TensorData::new(v, [2, t, n]), (&device, DType::F64));
        let cdfs = fcd_cdfs(bold.clone(), window);
        let w = t + 1 - window;
        assert_eq!(cdfs.len(), 2);
        // The blockwise upper triangle histograms exactly the values of the full FCD.
        let full = fcd(bold, window).into_data().try_to_vec::<f64>().unwrap();
        for (k, c) in cdfs.iter().enumerate() {
            let m = &full[k * w * w..(k + 1) * w * w];
            let direct = FcdCdf::from_values(
                (0..w).flat_map(|a| (a + 1..w).map(move |b| m[a * w + b])),
                w * (w - 1) / 2,
            );
            assert_eq!(c, &direct);
        }
        for c in cdfs {
            assert_eq!(c.lost, 0);
            assert_eq!(*c.counts.last().unwrap(), (w * (w - 1) / 2) as f64);
            assert!(c.counts.windows(2).all(|p| p[1] >= p[0]));
        }
    }
}
