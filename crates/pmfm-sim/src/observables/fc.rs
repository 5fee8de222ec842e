//! Static functional connectivity: Pearson correlation between regions over all frames.

use burn::tensor::Tensor;

/// FC of each series: BOLD [series, frames, regions] → FC [series, regions, regions].
/// Population statistics, as the reference; a constant region gives NaN entries (0/0),
/// which the cost then treats as a failed duplicate.
pub fn fc(bold: Tensor<3>) -> Tensor<3> {
    let frames = bold.dims()[1] as f64;
    let centred = bold.clone() - bold.mean_dim(1);
    let std = centred.clone().square().mean_dim(1).sqrt(); // [S, 1, N]
    let cov = centred
        .clone()
        .swap_dims(1, 2)
        .matmul(centred)
        .div_scalar(frames);
    cov / std.clone().swap_dims(1, 2).matmul(std)
}

/// FC of each series, copied to the host as f64, row-major [series][regions·regions].
pub fn fc_host(bold: Tensor<3>) -> Vec<Vec<f64>> {
    let [s, _, n] = bold.dims();
    let data = fc(bold)
        .into_data()
        .try_into_vec_as::<f64>()
        .unwrap_or_default();
    (0..s)
        .map(|k| data[k * n * n..(k + 1) * n * n].to_vec())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{DType, Device, TensorData};

    fn bold(values: Vec<f64>, shape: [usize; 3]) -> Tensor<3> {
        Tensor::<3>::from_data(
            TensorData::new(values, shape),
            (&Device::flex(), DType::F64),
        )
    }

    #[test]
    fn identical_signals_have_fc_one_and_anticorrelated_minus_one() {
        let t = 50;
        let mut v = Vec::new();
        for k in 0..t {
            let x = (k as f64 * 0.37).sin() + 0.1 * k as f64;
            v.extend([x, 3.0 * x + 2.0, -x]);
        }
        let f = fc_host(bold(v, [1, t, 3])).remove(0);
        // Row 0 of the 3×3 matrix: region 0 against regions 1 and 2.
        assert!((f[1] - 1.0).abs() < 1e-12);
        assert!((f[2] + 1.0).abs() < 1e-12);
        assert!((f[4] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn fc_matches_a_direct_pearson_computation() {
        let (t, n) = (40, 4);
        let v: Vec<f64> = (0..t * n)
            .map(|k| ((k * 7919) % 101) as f64 / 17.0 + (k as f64).cos())
            .collect();
        let f = fc_host(bold(v.clone(), [1, t, n])).remove(0);
        for i in 0..n {
            for j in 0..n {
                let a: Vec<f64> = (0..t).map(|k| v[k * n + i]).collect();
                let b: Vec<f64> = (0..t).map(|k| v[k * n + j]).collect();
                let r = crate::observables::pearson(&a, &b);
                assert!((f[i * n + j] - r).abs() < 1e-12);
            }
        }
    }
}
