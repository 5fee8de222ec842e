//! The one dense f32 product of the host kernels: `dst = lhs · rhs` through the `gemm`
//! crate (the kernel burn's Flex backend also calls), with strided operands so that `Wᵀ` is
//! read from `W` without a copy; and its measured rate for a given shape.

use std::time::Instant;

/// A read-only f32 matrix view: `rows × cols` values, element (r, c) at `r·row_stride +
/// c·col_stride`.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> View<'a> {
    /// A row-major `rows × cols` matrix.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose of a row-major `cols × rows` matrix, read in place.
    pub fn transposed(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: 1,
            col_stride: rows,
        }
    }

    /// Largest index read, plus one (0 for an empty view).
    fn extent(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            0
        } else {
            (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride + 1
        }
    }
}

/// `dst [lhs.rows, rhs.cols] = lhs · rhs`, row-major `dst` (overwritten), on all rayon threads.
///
/// Panics if the inner dimensions differ or a buffer is too short (a programming error,
/// not a data error: callers size their buffers from the model).
pub fn product(dst: &mut [f32], lhs: View<'_>, rhs: View<'_>) {
    product_with(dst, lhs, rhs, gemm::Parallelism::Rayon(0));
}

/// [`product`] on the calling thread only, for callers that already run one task per thread.
pub fn product_serial(dst: &mut [f32], lhs: View<'_>, rhs: View<'_>) {
    product_with(dst, lhs, rhs, gemm::Parallelism::None);
}

fn product_with(dst: &mut [f32], lhs: View<'_>, rhs: View<'_>, parallelism: gemm::Parallelism) {
    let (rows, inner, cols) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, inner, "inner dimensions of a product");
    assert!(dst.len() >= rows * cols, "product destination too short");
    assert!(lhs.data.len() >= lhs.extent() && rhs.data.len() >= rhs.extent());
    if rows == 0 || cols == 0 {
        return;
    }
    if inner == 0 {
        dst[..rows * cols].fill(0.0);
        return;
    }
    // SAFETY: every index the kernel reads or writes, r·rs + c·cs, is below the extents
    // checked above (row-major dst [rows, cols]).
    unsafe {
        gemm::gemm(
            rows,
            cols,
            inner,
            dst.as_mut_ptr(),
            1,
            cols as isize,
            false,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Measured rate (flop/s, best of several runs) of [`product`] on all threads for
/// `[rows, inner] · [inner, cols]`; with `rhs_transposed` the right operand is read as the
/// transpose of a row-major `[cols, inner]` matrix (the `h·Wᵀ` case).
pub fn gemm_rate(rows: usize, inner: usize, cols: usize, rhs_transposed: bool) -> f64 {
    let lhs: Vec<f32> = (0..rows * inner)
        .map(|k| ((k % 17) as f32 - 8.0) * 0.1)
        .collect();
    let rhs: Vec<f32> = (0..inner * cols)
        .map(|k| ((k % 13) as f32 - 6.0) * 0.1)
        .collect();
    let mut dst = vec![0.0f32; rows * cols];
    let l = View::rows(&lhs, rows, inner);
    let r = if rhs_transposed {
        View::transposed(&rhs, inner, cols)
    } else {
        View::rows(&rhs, inner, cols)
    };
    product(&mut dst, l, r); // warm-up: packing buffers, rayon pool
    let flop = 2.0 * (rows * inner * cols) as f64;
    let (mut best, mut spent, mut runs) = (f64::INFINITY, 0.0, 0);
    // At least 3 runs and 0.3 s, at most 50 runs.
    while runs < 3 || (spent < 0.3 && runs < 50) {
        let t = Instant::now();
        product(&mut dst, l, r);
        let s = t.elapsed().as_secs_f64();
        best = best.min(s);
        spent += s;
        runs += 1;
    }
    std::hint::black_box(&dst);
    flop / best
}

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
