//! The one dense f32 product of the host kernels, `dst = lhs · rhs` with strided operands (so
//! that `Wᵀ` is read from `W` without a copy), and what this machine can do with it: both live
//! in the `machine` crate, shared with the pMFM's FCD and the benchmarks.

pub use machine;
pub use machine::{product, product_serial, View};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_with_a_transposed_operand_match_the_naive_sums() {
        let (b, n, m) = (5, 7, 3);
        let v: Vec<f32> = (0..b * n).map(|i| (i % 5) as f32 - 2.0).collect();
        let w: Vec<f32> = (0..n * m).map(|i| (i % 7) as f32 * 0.5 - 1.0).collect();
        let mut i = vec![0f32; b * m];
        product(&mut i, View::rows(&v, b, n), View::rows(&w, n, m));
        let mut x = vec![0f32; b * n];
        product(&mut x, View::rows(&i, b, m), View::transposed(&w, m, n));
        for r in 0..b {
            for mu in 0..m {
                let s: f32 = (0..n).map(|k| v[r * n + k] * w[k * m + mu]).sum();
                assert!((i[r * m + mu] - s).abs() < 1e-4);
            }
            for k in 0..n {
                let s: f32 = (0..m).map(|mu| i[r * m + mu] * w[k * m + mu]).sum();
                assert!((x[r * n + k] - s).abs() < 1e-3 * (1.0 + s.abs()));
            }
        }
    }
}
