//! NumPy `.npy` arrays (format versions 1.0–3.0), read into `f64`.
//!
//! The reader parses the header itself rather than through `npyz`, so that a
//! corrupt header (an absurd length, deep nesting, a huge shape) is reported
//! as [`DataError::NpyUnreadable`] before anything is allocated, and never
//! panics; the format is a magic string, a Python-literal dict
//! (`{'descr': '<f8', 'fortran_order': False, 'shape': (68, 68), }`) and the
//! raw values (numpy's `format.py`, NEP 1). The tests check it against `npyz`.

use std::path::Path;

use super::fs::{read_bytes, write_atomic};
use super::DataError;

const MAGIC: &[u8] = b"\x93NUMPY";
/// numpy pads header + preamble to a multiple of 64 bytes (since numpy 1.14).
const HEADER_ALIGN: usize = 64;

/// Reads an `.npy` array as `(shape, values)`, values in C (row-major) order.
///
/// Accepted dtypes: `float64` and `float32` (converted to `f64`), and signed or
/// unsigned integers of 1–8 bytes (converted exactly up to 2⁵³, as FCD counts
/// may be saved as integers); either byte order. A Fortran-order array is
/// re-ordered to C order. `values.len()` equals the product of `shape`
/// (1 for a 0-D array).
///
/// Errors: [`DataError::NotFound`], [`DataError::Io`], [`DataError::NpyDtype`]
/// (e.g. complex, bool, string, structured), [`DataError::NpyUnreadable`]
/// (bad magic or header, data section shorter or longer than the shape needs).
pub fn read_npy(path: impl AsRef<Path>) -> Result<(Vec<usize>, Vec<f64>), DataError> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    parse_npy(path, &bytes)
}

/// Writes `data` (C order, `shape.iter().product()` values) as a little-endian
/// `float64` `.npy` file, atomically (temporary file in the same directory,
/// then rename). Errors: [`DataError::ShapeMismatch`], [`DataError::Io`].
pub fn write_npy_f64(
    path: impl AsRef<Path>,
    shape: &[usize],
    data: &[f64],
) -> Result<(), DataError> {
    let path = path.as_ref();
    check_len(path, shape, data.len())?;
    let mut bytes = header_bytes("<f8", shape, data.len() * 8);
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    write_atomic(path, &bytes)
}

/// Writes `data` (C order, `shape.iter().product()` values) as a little-endian
/// `float32` `.npy` file, atomically. Errors as for [`write_npy_f64`].
pub fn write_npy_f32(
    path: impl AsRef<Path>,
    shape: &[usize],
    data: &[f32],
) -> Result<(), DataError> {
    let path = path.as_ref();
    check_len(path, shape, data.len())?;
    let mut bytes = header_bytes("<f4", shape, data.len() * 4);
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    write_atomic(path, &bytes)
}

fn check_len(path: &Path, shape: &[usize], found: usize) -> Result<(), DataError> {
    let expected = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if expected != Some(found) {
        return Err(DataError::ShapeMismatch {
            path: path.to_path_buf(),
            shape: shape.to_vec(),
            expected: expected.unwrap_or(usize::MAX),
            found,
        });
    }
    Ok(())
}

/// Magic, version, header length and the padded header dict.
fn header_bytes(descr: &str, shape: &[usize], data_len: usize) -> Vec<u8> {
    let shape_str = match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_str}, }}");
    // Version 1.0 has a 2-byte header length; switch to 2.0 (4 bytes) if needed.
    let (version, len_bytes) = if dict.len() + 1 + 10 + HEADER_ALIGN <= u16::MAX as usize {
        (1u8, 2usize)
    } else {
        (2u8, 4usize)
    };
    let preamble = MAGIC.len() + 2 + len_bytes;
    let total = (preamble + dict.len() + 1).div_ceil(HEADER_ALIGN) * HEADER_ALIGN;
    while preamble + dict.len() + 1 < total {
        dict.push(' ');
    }
    dict.push('\n');

    let mut out = Vec::with_capacity(total + data_len);
    out.extend_from_slice(MAGIC);
    out.push(version);
    out.push(0);
    if len_bytes == 2 {
        out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(dict.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Element type of the data section.
#[derive(Clone, Copy)]
enum Kind {
    Float,
    Int,
    UInt,
}

pub(crate) fn parse_npy(path: &Path, bytes: &[u8]) -> Result<(Vec<usize>, Vec<f64>), DataError> {
    let unreadable = |reason: String| DataError::NpyUnreadable {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(unreadable("missing the \\x93NUMPY magic string".into()));
    }
    let (header_len, header_start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => {
            return Err(unreadable(format!(
                "unsupported format version {v}.{}",
                bytes[7]
            )))
        }
    };
    let header = bytes
        .get(header_start..header_start.saturating_add(header_len))
        .ok_or_else(|| {
            unreadable(format!(
                "header claims {header_len} bytes but the file is shorter"
            ))
        })?;
    let header = String::from_utf8_lossy(header);
    let fields = parse_header_dict(&header).map_err(unreadable)?;

    let descr = fields
        .descr
        .ok_or_else(|| unreadable("header has no 'descr'".into()))?;
    let shape = fields
        .shape
        .ok_or_else(|| unreadable("header has no 'shape'".into()))?;
    let fortran = fields
        .fortran_order
        .ok_or_else(|| unreadable("header has no 'fortran_order'".into()))?;

    let (big_endian, kind, width) = parse_descr(&descr).ok_or_else(|| DataError::NpyDtype {
        path: path.to_path_buf(),
        descr: descr.clone(),
    })?;

    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| unreadable(format!("shape {shape:?} overflows")))?;
    let data = &bytes[header_start + header_len..];
    let needed = n.checked_mul(width);
    if needed != Some(data.len()) {
        return Err(unreadable(format!(
            "shape {shape:?} of {descr} needs {} data bytes but the file has {} (truncated?)",
            needed.map_or_else(|| "too many".to_string(), |b| b.to_string()),
            data.len()
        )));
    }

    let values: Vec<f64> = data
        .chunks_exact(width)
        .map(|c| decode(c, kind, big_endian))
        .collect();
    let values = if fortran && shape.len() > 1 {
        fortran_to_c(&shape, &values)
    } else {
        values
    };
    Ok((shape, values))
}

/// `(big_endian, kind, byte width)` for the dtypes we convert to `f64`.
fn parse_descr(descr: &str) -> Option<(bool, Kind, usize)> {
    let mut chars = descr.chars();
    let order = chars.next()?;
    let big_endian = match order {
        '<' => false,
        '>' => true,
        '|' | '=' => cfg!(target_endian = "big"),
        _ => return None,
    };
    let kind = match chars.next()? {
        'f' => Kind::Float,
        'i' => Kind::Int,
        'u' => Kind::UInt,
        _ => return None,
    };
    let width: usize = chars.as_str().parse().ok()?;
    match (kind, width) {
        (Kind::Float, 4 | 8) | (Kind::Int | Kind::UInt, 1 | 2 | 4 | 8) => {
            Some((big_endian, kind, width))
        }
        _ => None,
    }
}

fn decode(c: &[u8], kind: Kind, big_endian: bool) -> f64 {
    // `c` has exactly the validated width, so these fixed-size copies succeed;
    // the fallback zeros are unreachable but keep the function total.
    let mut b = [0u8; 8];
    let w = c.len().min(8);
    if big_endian {
        // Right-align big-endian bytes, then read as big-endian of width w.
        b[..w].copy_from_slice(&c[..w]);
        b[..w].reverse();
    } else {
        b[..w].copy_from_slice(&c[..w]);
    }
    // `b` now holds the value little-endian in its first `w` bytes.
    match (kind, w) {
        (Kind::Float, 4) => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        (Kind::Float, _) => f64::from_le_bytes(b),
        (Kind::Int, 1) => b[0] as i8 as f64,
        (Kind::Int, 2) => i16::from_le_bytes([b[0], b[1]]) as f64,
        (Kind::Int, 4) => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        (Kind::Int, _) => i64::from_le_bytes(b) as f64,
        (Kind::UInt, 1) => b[0] as f64,
        (Kind::UInt, 2) => u16::from_le_bytes([b[0], b[1]]) as f64,
        (Kind::UInt, 4) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        (Kind::UInt, _) => u64::from_le_bytes(b) as f64,
    }
}

/// Reorders column-major (first index fastest) values to row-major.
fn fortran_to_c(shape: &[usize], values: &[f64]) -> Vec<f64> {
    let nd = shape.len();
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

/// The three keys numpy writes; anything else in the dict is ignored.
#[derive(Default)]
struct HeaderFields {
    descr: Option<String>,
    fortran_order: Option<bool>,
    shape: Option<Vec<usize>>,
}

/// Parses the header's Python dict literal. Nested values other than the
/// shape tuple (e.g. a structured dtype's list) are recorded as an
/// unsupported `descr` instead of being parsed.
fn parse_header_dict(text: &str) -> Result<HeaderFields, String> {
    let mut p = Lexer {
        s: text.as_bytes(),
        i: 0,
    };
    let mut out = HeaderFields::default();
    p.expect(b'{')?;
    loop {
        p.skip_ws();
        if p.eat(b'}') {
            return Ok(out);
        }
        let key = p.string()?;
        p.skip_ws();
        p.expect(b':')?;
        p.skip_ws();
        match key.as_str() {
            "descr" => {
                out.descr = Some(if p.peek() == Some(b'[') {
                    let start = p.i;
                    p.skip_bracketed()?;
                    String::from_utf8_lossy(&p.s[start..p.i]).into_owned()
                } else {
                    p.string()?
                });
            }
            "fortran_order" => {
                out.fortran_order = Some(match p.ident().as_str() {
                    "True" => true,
                    "False" => false,
                    other => {
                        return Err(format!(
                            "fortran_order is {other:?}, expected True or False"
                        ))
                    }
                });
            }
            "shape" => out.shape = Some(p.int_tuple()?),
            _ => p.skip_value()?,
        }
        p.skip_ws();
        if p.eat(b',') {
            continue;
        }
        p.skip_ws();
        p.expect(b'}')?;
        return Ok(out);
    }
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.skip_ws();
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!(
                "malformed header: expected '{}' at byte {} of the header dict",
                c as char, self.i
            ))
        }
    }
    fn string(&mut self) -> Result<String, String> {
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => {
                return Err(format!(
                    "malformed header: expected a string at byte {}",
                    self.i
                ))
            }
        };
        self.i += 1;
        let start = self.i;
        while let Some(c) = self.peek() {
            if c == quote {
                let s = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.i += 1;
                return Ok(s);
            }
            self.i += 1;
        }
        Err("malformed header: unterminated string".into())
    }
    fn ident(&mut self) -> String {
        let start = self.i;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    fn int_tuple(&mut self) -> Result<Vec<usize>, String> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b')') {
                return Ok(dims);
            }
            let tok = self.ident();
            // Python 2 wrote longs as `68L`.
            let digits = tok.strip_suffix('L').unwrap_or(&tok);
            let d: usize = digits.parse().map_err(|_| {
                format!("malformed header: shape entry {tok:?} is not a non-negative integer")
            })?;
            dims.push(d);
            self.skip_ws();
            if !self.eat(b',') {
                self.expect(b')')?;
                return Ok(dims);
            }
        }
    }
    /// Skips a `[...]`, `(...)` or `{...}` value, nesting counted iteratively.
    fn skip_bracketed(&mut self) -> Result<(), String> {
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            match c {
                b'\'' | b'"' => {
                    self.string()?;
                    continue;
                }
                b'[' | b'(' | b'{' => depth += 1,
                b']' | b')' | b'}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        self.i += 1;
                        return Ok(());
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
        Err("malformed header: unbalanced brackets".into())
    }
    fn skip_value(&mut self) -> Result<(), String> {
        match self.peek() {
            Some(b'\'' | b'"') => self.string().map(|_| ()),
            Some(b'[' | b'(' | b'{') => self.skip_bracketed(),
            _ => {
                if self.ident().is_empty() && !self.eat(b'-') {
                    return Err(format!("malformed header: unexpected byte at {}", self.i));
                }
                // A negative number: `-` then digits.
                self.ident();
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::test_support::TempDir;
    use npyz::WriterBuilder;

    #[test]
    fn round_trip_f64_and_f32() {
        let dir = TempDir::new("npy-roundtrip");
        let p64 = dir.path().join("a64.npy");
        let data: Vec<f64> = (0..12).map(|k| k as f64 * 0.1 - 0.3).collect();
        write_npy_f64(&p64, &[3, 4], &data).expect("write f64");
        let (shape, back) = read_npy(&p64).expect("read f64");
        assert_eq!(shape, vec![3, 4]);
        assert_eq!(back, data, "f64 must round-trip bit for bit");

        let p32 = dir.path().join("a32.npy");
        let data32: Vec<f32> = (0..5).map(|k| k as f32 / 3.0).collect();
        write_npy_f32(&p32, &[5], &data32).expect("write f32");
        let (shape, back) = read_npy(&p32).expect("read f32");
        assert_eq!(shape, vec![5]);
        let expected: Vec<f64> = data32.iter().map(|&v| v as f64).collect();
        assert_eq!(back, expected);

        // Header is padded so the data starts on a 64-byte boundary.
        let raw = std::fs::read(&p64).expect("raw");
        assert_eq!((raw.len() - 12 * 8) % 64, 0);

        // No temporary files left behind.
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn agrees_with_npyz_both_ways() {
        let dir = TempDir::new("npy-npyz");
        // Ours → npyz.
        let ours = dir.path().join("ours.npy");
        let data: Vec<f64> = vec![1.0, -2.5, 3.25, 1e-300, f64::MAX, 0.0];
        write_npy_f64(&ours, &[2, 3], &data).expect("write");
        let file = std::fs::File::open(&ours).expect("open");
        let npy =
            npyz::NpyFile::new(std::io::BufReader::new(file)).expect("npyz parses our header");
        assert_eq!(npy.shape(), &[2, 3]);
        assert_eq!(npy.order(), npyz::Order::C);
        assert_eq!(npy.into_vec::<f64>().expect("npyz data"), data);

        // npyz → ours, f32 big-endian and i32 (like saved FCD counts).
        let theirs = dir.path().join("theirs_f32.npy");
        {
            let f = std::fs::File::create(&theirs).expect("create");
            let mut w = npyz::WriteOptions::new()
                .dtype(npyz::DType::new_scalar(">f4".parse().expect("type str")))
                .shape(&[4])
                .writer(std::io::BufWriter::new(f))
                .begin_nd()
                .expect("begin");
            w.extend([0.5f32, 1.5, -2.0, 7.0]).expect("extend");
            w.finish().expect("finish");
        }
        assert_eq!(
            read_npy(&theirs).expect("read").1,
            vec![0.5, 1.5, -2.0, 7.0]
        );

        let ints = dir.path().join("theirs_i32.npy");
        {
            let f = std::fs::File::create(&ints).expect("create");
            let mut w = npyz::WriteOptions::new()
                .default_dtype()
                .shape(&[3, 1])
                .writer(std::io::BufWriter::new(f))
                .begin_nd()
                .expect("begin");
            w.extend([0i32, 5, 624_403]).expect("extend");
            w.finish().expect("finish");
        }
        let (shape, v) = read_npy(&ints).expect("read ints");
        assert_eq!(shape, vec![3, 1]);
        assert_eq!(v, vec![0.0, 5.0, 624_403.0]);
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
        let (shape, v) = parse_npy(Path::new("f.npy"), &bytes).expect("fortran");
        assert_eq!(shape, vec![2, 3]);
        assert_eq!(v, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn wrong_dtype_and_truncation_are_errors() {
        let p = Path::new("dir/bad.npy");
        let mut complex = header_bytes("<c16", &[2], 32);
        complex.extend_from_slice(&[0u8; 32]);
        let err = parse_npy(p, &complex).expect_err("complex");
        assert!(matches!(err, DataError::NpyDtype { .. }), "{err:?}");
        assert!(
            err.to_string().contains("bad.npy") && err.to_string().contains("<c16"),
            "{err}"
        );

        let mut short = header_bytes("<f8", &[3], 24);
        short.extend_from_slice(&[0u8; 16]);
        let err = parse_npy(p, &short).expect_err("truncated");
        assert!(matches!(err, DataError::NpyUnreadable { .. }), "{err:?}");

        let err = write_npy_f64(Path::new("dir/x.npy"), &[2, 2], &[1.0; 3]).expect_err("mismatch");
        assert!(
            matches!(
                err,
                DataError::ShapeMismatch {
                    expected: 4,
                    found: 3,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn corrupt_files_never_panic() {
        let mut good = header_bytes("<f4", &[2, 2], 16);
        good.extend_from_slice(&[0u8; 16]);
        for cut in 0..good.len() {
            let _ = parse_npy(Path::new("c.npy"), &good[..cut]);
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
            let _ = parse_npy(Path::new("c.npy"), &b);
        }
        // Absurd shapes fail cleanly instead of allocating.
        let huge = header_bytes("<f8", &[usize::MAX / 2, 4], 0);
        assert!(parse_npy(Path::new("h.npy"), &huge).is_err());
    }
}
