//! Element decoding shared by the `.npy` and MAT readers.

use crate::Dtype;

/// Decodes `bytes` (a whole number of `dtype` elements) to `f64`; `big_endian` gives the
/// byte order of multi-byte elements.
pub(crate) fn to_f64(bytes: &[u8], dtype: Dtype, big_endian: bool) -> Vec<f64> {
    macro_rules! convert {
        ($t:ty) => {{
            const W: usize = std::mem::size_of::<$t>();
            bytes
                .chunks_exact(W)
                .map(|c| {
                    let mut a = [0u8; W];
                    a.copy_from_slice(c);
                    let v = if big_endian {
                        <$t>::from_be_bytes(a)
                    } else {
                        <$t>::from_le_bytes(a)
                    };
                    v as f64
                })
                .collect()
        }};
    }
    match dtype {
        Dtype::Bool | Dtype::UInt(1) => convert!(u8),
        Dtype::Int(1) => convert!(i8),
        Dtype::Int(2) => convert!(i16),
        Dtype::UInt(2) => convert!(u16),
        Dtype::Int(4) => convert!(i32),
        Dtype::UInt(4) => convert!(u32),
        Dtype::Float(4) => convert!(f32),
        Dtype::Int(_) => convert!(i64),
        Dtype::UInt(_) => convert!(u64),
        Dtype::Float(_) => convert!(f64),
    }
}

/// Reorders column-major (first index fastest) values of `shape` to row-major.
pub(crate) fn fortran_to_c(shape: &[usize], values: Vec<f64>) -> Vec<f64> {
    let nd = shape.len();
    if shape.iter().filter(|&&d| d > 1).count() <= 1 {
        return values; // a vector or scalar is stored the same way in both orders
    }
    // Fortran strides: stride[0] = 1, stride[k] = stride[k-1] * shape[k-1].
    let mut fstride = vec![1usize; nd];
    for k in 1..nd {
        fstride[k] = fstride[k - 1].saturating_mul(shape[k - 1]);
    }
    let mut idx = vec![0usize; nd];
    let mut out = Vec::with_capacity(values.len());
    for _ in 0..values.len() {
        let off = idx
            .iter()
            .zip(&fstride)
            .fold(0usize, |a, (i, s)| a.saturating_add(i.saturating_mul(*s)));
        out.push(values.get(off).copied().unwrap_or(f64::NAN));
        // Advance the C-order multi-index (last index fastest).
        for k in (0..nd).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_width_in_both_byte_orders() {
        let le: Vec<u8> = [-2i16, 300].iter().flat_map(|v| v.to_le_bytes()).collect();
        let be: Vec<u8> = [-2i16, 300].iter().flat_map(|v| v.to_be_bytes()).collect();
        assert_eq!(to_f64(&le, Dtype::Int(2), false), vec![-2.0, 300.0]);
        assert_eq!(to_f64(&be, Dtype::Int(2), true), vec![-2.0, 300.0]);
        let f: Vec<u8> = 1.5f32.to_be_bytes().to_vec();
        assert_eq!(to_f64(&f, Dtype::Float(4), true), vec![1.5]);
        assert_eq!(
            to_f64(&[0, 1, 255], Dtype::UInt(1), false),
            vec![0.0, 1.0, 255.0]
        );
        assert_eq!(to_f64(&[255], Dtype::Int(1), false), vec![-1.0]);
        let big = (1u64 << 53).to_le_bytes();
        assert_eq!(
            to_f64(&big, Dtype::UInt(8), false),
            vec![9_007_199_254_740_992.0]
        );
    }

    #[test]
    fn fortran_order_becomes_c_order() {
        // [[1,2,3],[4,5,6]] stored column-major.
        let c = fortran_to_c(&[2, 3], vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!(c, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // 2×2×2: element (i, j, k) at i + 2j + 4k in Fortran order.
        let f: Vec<f64> = (0..8).map(|v| v as f64).collect();
        let c = fortran_to_c(&[2, 2, 2], f);
        assert_eq!(c, vec![0.0, 4.0, 2.0, 6.0, 1.0, 5.0, 3.0, 7.0]);
    }
}
