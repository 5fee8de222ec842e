//! NumPy `.npy` arrays (format versions 1.0–3.0): read into `f64`, encode `f64`, `f32`,
//! `i64` and `u8` arrays.
//!
//! Readable dtypes: `float64`, `float32`, signed and unsigned integers of 1–8 bytes and
//! `bool`, in either byte order, C or Fortran order (reordered to C), any number of
//! dimensions up to numpy's 64. The data section must hold exactly the bytes the shape
//! needs, so a truncated file is an error, and nothing is allocated for a shape the file
//! cannot back.

use std::path::Path;

use crate::decode::{fortran_to_c, to_f64};
use crate::fs::read_bytes;
use crate::npy_header::{header_bytes, parse_header};
use crate::{Array, ArrayError, Dtype};

/// Reads an `.npy` file. Errors: [`ArrayError::NotFound`], [`ArrayError::Io`] and those of
/// [`parse`].
pub fn read(path: impl AsRef<Path>) -> Result<Array, ArrayError> {
    let path = path.as_ref();
    parse(path, &read_bytes(path)?)
}

/// Parses the bytes of an `.npy` file (`path` only names it in errors).
///
/// Errors: [`ArrayError::NpyUnreadable`] (bad magic or header, data section shorter or
/// longer than the shape needs), [`ArrayError::NpyDtype`] (complex, string, structured,
/// half precision, …).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Array, ArrayError> {
    let unreadable = |reason: String| ArrayError::NpyUnreadable {
        path: path.to_path_buf(),
        reason,
    };
    let header = parse_header(bytes).map_err(unreadable)?;
    let (dtype, big_endian) = parse_descr(&header.descr).ok_or_else(|| ArrayError::NpyDtype {
        path: path.to_path_buf(),
        descr: header.descr.clone(),
    })?;
    let shape = header.shape;
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| unreadable(format!("shape {shape:?} overflows")))?;
    let data = &bytes[header.data_start..];
    let needed = n.checked_mul(dtype.width());
    if needed != Some(data.len()) {
        return Err(unreadable(format!(
            "shape {shape:?} of {} needs {} data bytes but the file has {} (truncated?)",
            header.descr,
            needed.map_or_else(|| "too many".to_string(), |b| b.to_string()),
            data.len()
        )));
    }
    let values = to_f64(data, dtype, big_endian);
    let values = if header.fortran_order {
        fortran_to_c(&shape, values)
    } else {
        values
    };
    Ok(Array {
        shape,
        dtype,
        values,
    })
}

/// `(dtype, big_endian)` of a descriptor such as `<f8`, `>i4`, `|u1`, `|b1`, `?`.
fn parse_descr(descr: &str) -> Option<(Dtype, bool)> {
    if descr == "?" {
        return Some((Dtype::Bool, false));
    }
    let mut chars = descr.chars();
    let big_endian = match chars.next()? {
        '<' => false,
        '>' => true,
        '|' | '=' => cfg!(target_endian = "big"),
        _ => return None,
    };
    let kind = chars.next()?;
    let width: u8 = chars.as_str().parse().ok()?;
    let dtype = match (kind, width) {
        ('f', 4 | 8) => Dtype::Float(width),
        ('i', 1 | 2 | 4 | 8) => Dtype::Int(width),
        ('u', 1 | 2 | 4 | 8) => Dtype::UInt(width),
        ('b' | '?', 1) => Dtype::Bool,
        _ => return None,
    };
    Some((dtype, big_endian))
}

/// An element type [`encode`] can write (little-endian).
pub trait Element: Copy {
    /// The numpy descriptor, e.g. `<f8`.
    const DESCR: &'static str;
    /// Appends the value's little-endian bytes.
    fn put(self, out: &mut Vec<u8>);
}

macro_rules! element {
    ($t:ty, $descr:literal) => {
        impl Element for $t {
            const DESCR: &'static str = $descr;
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    };
}
element!(f64, "<f8");
element!(f32, "<f4");
element!(i64, "<i8");
element!(u8, "|u1");

/// The bytes of a C-order `.npy` file (format 1.0, or 2.0 for a huge header) holding
/// `data` with `shape`; the caller writes them (atomically, through its own writer).
/// `path` only names the file in errors: [`ArrayError::ShapeMismatch`] when
/// `data.len()` is not the product of `shape`.
pub fn encode<T: Element>(path: &Path, shape: &[usize], data: &[T]) -> Result<Vec<u8>, ArrayError> {
    let expected = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if expected != Some(data.len()) {
        return Err(ArrayError::ShapeMismatch {
            path: path.to_path_buf(),
            shape: shape.to_vec(),
            expected: expected.unwrap_or(usize::MAX),
            found: data.len(),
        });
    }
    let width = std::mem::size_of::<T>();
    let mut bytes = header_bytes(T::DESCR, shape, data.len() * width);
    for &v in data {
        v.put(&mut bytes);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npy_header::HEADER_ALIGN;
    use npyz::WriterBuilder;

    fn p(name: &str) -> &Path {
        Path::new(name)
    }

    #[test]
    fn round_trip_f64_f32_i64_u8() {
        let data: Vec<f64> = (0..12).map(|k| k as f64 * 0.1 - 0.3).collect();
        let bytes = encode(p("a.npy"), &[3, 4], &data).expect("encode f64");
        let a = parse(p("a.npy"), &bytes).expect("parse f64");
        assert_eq!((a.shape.clone(), a.dtype), (vec![3, 4], Dtype::Float(8)));
        assert_eq!(a.values, data, "f64 must round-trip bit for bit");
        // Header is padded so the data starts on a 64-byte boundary.
        assert_eq!((bytes.len() - 12 * 8) % HEADER_ALIGN, 0);

        let data32: Vec<f32> = (0..5).map(|k| k as f32 / 3.0).collect();
        let a = parse(p("b.npy"), &encode(p("b.npy"), &[5], &data32).unwrap()).unwrap();
        assert_eq!((a.shape, a.dtype), (vec![5], Dtype::Float(4)));
        let expected: Vec<f64> = data32.iter().map(|&v| v as f64).collect();
        assert_eq!(a.values, expected);

        let a = parse(
            p("c.npy"),
            &encode(p("c.npy"), &[2], &[-7i64, 1 << 40]).unwrap(),
        );
        assert_eq!(a.unwrap().values, vec![-7.0, (1u64 << 40) as f64]);
        let a = parse(
            p("d.npy"),
            &encode(p("d.npy"), &[1, 3], &[0u8, 1, 255]).unwrap(),
        );
        let a = a.unwrap();
        assert_eq!((a.dtype, a.values), (Dtype::UInt(1), vec![0.0, 1.0, 255.0]));
        // A 0-D scalar.
        let a = parse(p("e.npy"), &encode(p("e.npy"), &[], &[2.5f64]).unwrap()).unwrap();
        assert_eq!((a.shape, a.values), (vec![], vec![2.5]));
    }

    #[test]
    fn agrees_with_npyz_both_ways() {
        // Ours → npyz.
        let data: Vec<f64> = vec![1.0, -2.5, 3.25, 1e-300, f64::MAX, 0.0];
        let bytes = encode(p("ours.npy"), &[2, 3], &data).unwrap();
        let npy = npyz::NpyFile::new(&bytes[..]).expect("npyz parses our header");
        assert_eq!(npy.shape(), &[2, 3]);
        assert_eq!(npy.order(), npyz::Order::C);
        assert_eq!(npy.into_vec::<f64>().expect("npyz data"), data);

        // npyz → ours: f32 big-endian, i32 (like saved FCD counts), bool.
        let mut b = Vec::new();
        {
            let mut w = npyz::WriteOptions::new()
                .dtype(npyz::DType::new_scalar(">f4".parse().expect("type str")))
                .shape(&[4])
                .writer(&mut b)
                .begin_nd()
                .unwrap();
            w.extend([0.5f32, 1.5, -2.0, 7.0]).unwrap();
            w.finish().unwrap();
        }
        assert_eq!(
            parse(p("t.npy"), &b).unwrap().values,
            vec![0.5, 1.5, -2.0, 7.0]
        );
        let mut b = Vec::new();
        {
            let mut w = npyz::WriteOptions::new()
                .default_dtype()
                .shape(&[3, 1])
                .writer(&mut b)
                .begin_nd()
                .unwrap();
            w.extend([0i32, 5, 624_403]).unwrap();
            w.finish().unwrap();
        }
        let a = parse(p("i.npy"), &b).unwrap();
        assert_eq!((a.shape, a.dtype), (vec![3, 1], Dtype::Int(4)));
        assert_eq!(a.values, vec![0.0, 5.0, 624_403.0]);
        let mut b = Vec::new();
        {
            let mut w = npyz::WriteOptions::new()
                .default_dtype()
                .shape(&[2, 2])
                .writer(&mut b)
                .begin_nd()
                .unwrap();
            w.extend([true, false, false, true]).unwrap();
            w.finish().unwrap();
        }
        let a = parse(p("b.npy"), &b).unwrap();
        assert_eq!((a.dtype, a.values), (Dtype::Bool, vec![1.0, 0.0, 0.0, 1.0]));
    }

    #[test]
    fn fortran_order_is_reordered_to_c() {
        // 2×3 matrix [[1,2,3],[4,5,6]] stored column-major.
        let mut bytes = header_bytes("<f8", &[2, 3], 48);
        let (from, to) = (b"'fortran_order': False", b"'fortran_order': True ");
        let at = bytes
            .windows(from.len())
            .position(|w| w == from)
            .expect("our header has fortran_order");
        bytes[at..at + to.len()].copy_from_slice(to);
        for v in [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let a = parse(p("f.npy"), &bytes).expect("fortran");
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.values, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn wrong_dtype_truncation_and_length_mismatch_are_errors() {
        let path = p("dir/bad.npy");
        let mut complex = header_bytes("<c16", &[2], 32);
        complex.extend_from_slice(&[0u8; 32]);
        let err = parse(path, &complex).expect_err("complex");
        assert!(matches!(err, ArrayError::NpyDtype { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("bad.npy") && msg.contains("<c16"), "{msg}");

        let mut short = header_bytes("<f8", &[3], 24);
        short.extend_from_slice(&[0u8; 16]);
        let err = parse(path, &short).expect_err("truncated");
        assert!(matches!(err, ArrayError::NpyUnreadable { .. }), "{err:?}");
        assert!(err.to_string().contains("truncated"), "{err}");

        let err = encode(p("dir/x.npy"), &[2, 2], &[1.0f64; 3]).expect_err("mismatch");
        assert!(
            matches!(
                err,
                ArrayError::ShapeMismatch {
                    expected: 4,
                    found: 3,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn missing_garbage_and_absurd_files_are_clean_errors() {
        let err = read("/nonexistent/dir/none.npy").expect_err("missing");
        assert!(matches!(err, ArrayError::NotFound { .. }), "{err:?}");
        let err = parse(p("g.npy"), b"this is not a numpy file").expect_err("garbage");
        assert!(
            err.to_string().starts_with("g.npy: not a .npy file"),
            "{err}"
        );
        // Absurd shapes fail before allocating.
        let huge = header_bytes("<f8", &[usize::MAX / 2, 4], 0);
        assert!(parse(p("h.npy"), &huge).is_err());
        let huge = header_bytes("<f8", &[1 << 40, 1 << 20], 0);
        assert!(parse(p("h.npy"), &huge).is_err());
        // A header length beyond the cap is refused as such.
        let mut long = b"\x93NUMPY\x02\x00".to_vec();
        long.extend_from_slice(&u32::MAX.to_le_bytes());
        let err = parse(p("l.npy"), &long).expect_err("long header");
        assert!(err.to_string().contains("cap"), "{err}");
        // Too many dimensions.
        let dims = vec![1usize; 65];
        let err = parse(p("d.npy"), &header_bytes("<f8", &dims, 8)).expect_err("ndim");
        assert!(err.to_string().contains("dimensions"), "{err}");
    }

    #[test]
    fn corrupt_files_never_panic() {
        let mut good = header_bytes("<f4", &[2, 2], 16);
        good.extend_from_slice(&[0u8; 16]);
        for cut in 0..good.len() {
            assert!(parse(p("c.npy"), &good[..cut]).is_err(), "cut {cut}");
        }
        let mut state = 0x1234_5678_9abc_def1_u64;
        for _ in 0..5000 {
            let mut b = good.clone();
            for _ in 0..2 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state as usize) % b.len();
                b[at] = (state >> 40) as u8;
            }
            let _ = parse(p("c.npy"), &b);
        }
    }
}
