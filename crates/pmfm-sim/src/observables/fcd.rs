//! Dynamic functional connectivity (FCD): FC in sliding windows (stride 1), then the
//! correlation between the windows' vectorised upper triangles, and its cumulative histogram.

use super::cost::FcdCdf;
use burn::tensor::{DType, Int, Tensor, TensorData};
use machine::View;
use rayon::prelude::*;

/// Series processed together in the FCD on CPU devices (bounds memory to a few hundred MB).
const SERIES_PER_PASS_CPU: usize = 4;

/// The same on GPU devices, where each pass is ~30 kernel launches and one read-back, whatever
/// its size: at the reference length a series needs ~50 MB of temporaries, so a pass is ~1.6 GB.
const SERIES_PER_PASS_GPU: usize = 32;

/// Blocks the window axis is cut into for the symmetric FCD product as tensor operations (GPU
/// devices, f64): only blocks on or above the diagonal are multiplied, (K+1)/2K of the full
/// product (62.5% for K = 4).
const FCD_BLOCKS: usize = 4;

/// Rows of one panel of the host FCD product: each panel is multiplied with the windows from its
/// first row on, so the work is the upper triangle plus half a panel per panel (~6% over half the
/// full product at the reference's 1118 windows).
const FCD_PANEL_ROWS: usize = 64;

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
    let p = n * (n - 1) / 2;
    let x = bold
        .into_data()
        .try_into_vec_as::<f64>()
        .unwrap_or_default();
    let per_series: Vec<Vec<f64>> = (0..s)
        .into_par_iter()
        .map(|k| window_vectors_of_series(&x[k * t * n..(k + 1) * t * n], n, window))
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

/// The z-scored windowed FC vectors of one series, BOLD [frames, regions] → [windows, pairs]
/// (pairs i < j in row-major order), from sliding sums in f64. Every pair loop runs over
/// contiguous j for one i, so it vectorises.
fn window_vectors_of_series(bold: &[f64], n: usize, window: usize) -> Vec<f64> {
    let t = bold.len() / n;
    let w = t + 1 - window;
    let p = n * (n - 1) / 2;
    // Start of region i's pairs (i, i+1..n) in the pair order.
    let offsets: Vec<usize> = (0..n).map(|i| i * (2 * n - i - 1) / 2).collect();
    // Globally z-scored series, [frames, regions].
    let mut xs = bold.to_vec();
    for r in 0..n {
        let mean = (0..t).map(|f| xs[f * n + r]).sum::<f64>() / t as f64;
        let sd = ((0..t).map(|f| (xs[f * n + r] - mean).powi(2)).sum::<f64>() / t as f64).sqrt();
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
        for i in 0..n.saturating_sub(1) {
            let a = sign * row[i];
            let acc = &mut sxy[offsets[i]..offsets[i] + n - 1 - i];
            for (acc, &b) in acc.iter_mut().zip(&row[i + 1..]) {
                *acc += a * b;
            }
        }
    };
    let lf = window as f64;
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
        for i in 0..n.saturating_sub(1) {
            let range = offsets[i]..offsets[i] + n - 1 - i;
            let (mi, si) = (mean[i], sd[i]);
            for (((dst, &sij), &mj), &sj) in o[range.clone()]
                .iter_mut()
                .zip(&sxy[range])
                .zip(&mean[i + 1..])
                .zip(&sd[i + 1..])
            {
                *dst = (sij / lf - mi * mj) / (si * sj);
            }
        }
        // z-score across pairs
        let m = o.iter().sum::<f64>() / p as f64;
        let sdp = (o.iter().map(|v| (v - m).powi(2)).sum::<f64>() / p as f64).sqrt();
        for v in o.iter_mut() {
            *v = (*v - m) / sdp;
        }
    }
    out
}

/// FCD CDFs on the host in f32 (CPU devices, f32 BOLD): per series, the window vectors once,
/// then the Gram product's upper triangle as panels of [`FCD_PANEL_ROWS`] rows against every
/// later row, each one single-threaded f32 GEMM; series and panels are the parallel tasks.
fn fcd_cdfs_host(bold: Tensor<3>, window: usize) -> Vec<FcdCdf> {
    let [s, t, n] = bold.dims();
    let x = bold
        .into_data()
        .try_into_vec_as::<f64>()
        .unwrap_or_default();
    (0..s)
        .into_par_iter()
        .map(|k| {
            let z: Vec<f32> = window_vectors_of_series(&x[k * t * n..(k + 1) * t * n], n, window)
                .into_iter()
                .map(|v| v as f32)
                .collect();
            fcd_cdf_of_vectors(&z, t + 1 - window, n * (n - 1) / 2)
        })
        .collect()
}

/// CDF of the strict upper triangle of `Z·Zᵀ / pairs` for window vectors `z` [windows, pairs].
fn fcd_cdf_of_vectors(z: &[f32], w: usize, p: usize) -> FcdCdf {
    let pf = p as f32;
    let panels: Vec<Vec<f32>> = (0..w)
        .step_by(FCD_PANEL_ROWS)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|r0| {
            let (rows, cols) = (FCD_PANEL_ROWS.min(w - r0), w - r0);
            let mut g = vec![0.0f32; rows * cols];
            machine::product_serial(
                &mut g,
                View::rows(&z[r0 * p..(r0 + rows) * p], rows, p),
                View::transposed(&z[r0 * p..], p, cols),
            );
            let mut upper = Vec::with_capacity(rows * cols);
            for i in 0..rows {
                upper.extend(g[i * cols + i + 1..(i + 1) * cols].iter().map(|&v| v / pf));
            }
            upper
        })
        .collect();
    FcdCdf::from_values(panels.iter().flatten().map(|&v| v as f64), w * (w - 1) / 2)
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
    let cpu = crate::simulator::is_cpu_device(&bold.device());
    if cpu && bold.dtype() != DType::F64 {
        return fcd_cdfs_host(bold, window);
    }
    let per_pass = if cpu {
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

    #[test]
    fn host_f32_cdfs_match_the_f64_fcd_across_panels() {
        // 181 windows: three panels, the last one short.
        let (t, n, window) = (200, 8, 20);
        let v: Vec<f64> = (0..3 * t * n)
            .map(|k| ((k * 7919 % 211) as f64 / 23.0).sin() + 0.3 * ((k / n) as f64 / 9.0).cos())
            .collect();
        let device = Device::flex();
        let b64 =
            Tensor::<3>::from_data(TensorData::new(v.clone(), [3, t, n]), (&device, DType::F64));
        let b32 = Tensor::<3>::from_data(
            TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<f32>>(), [3, t, n]),
            (&device, DType::F32),
        );
        let host = fcd_cdfs(b32, window);
        let full = fcd(b64, window).into_data().try_to_vec::<f64>().unwrap();
        let w = t + 1 - window;
        assert_eq!(host.len(), 3);
        for (k, c) in host.iter().enumerate() {
            let m = &full[k * w * w..(k + 1) * w * w];
            let direct = FcdCdf::from_values(
                (0..w).flat_map(|a| (a + 1..w).map(move |b| m[a * w + b])),
                w * (w - 1) / 2,
            );
            assert_eq!(c.lost, 0);
            assert_eq!(c.expected, direct.expected);
            // f32 rounding may move a value at a bin edge into the next bin, nothing more.
            let moved = c
                .counts
                .iter()
                .zip(&direct.counts)
                .fold(0.0f64, |a, (x, y)| a.max((x - y).abs()));
            assert!(moved <= 3.0, "series {k}: {moved} values in other bins");
        }
    }
}
