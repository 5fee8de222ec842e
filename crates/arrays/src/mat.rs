//! Reader for MATLAB Level 5 MAT-files (`save -v6` and the default `-v7`,
//! whose variables are zlib-compressed), enough for the reference FCD CDFs.
//!
//! Why not the `matfile` crate: version 0.5 maps the `int32` array class to the
//! `uint32` element type and so rejects every genuine `int32` array stored as
//! `miINT32`; it skips non-numeric variables, so it cannot list what a file
//! holds; and it prints to stderr on corrupt zlib data. (The reference
//! `fcd_*.mat` store `*_aveM` as a `double` array whose integer values MATLAB
//! saved as `miINT32`; both that and true `int32` arrays are read here.) The format is
//! small enough to read directly (MathWorks, "MAT-File Format", R2024a,
//! chapter 1): a 128-byte header, then data elements, each an 8-byte tag
//! (type, byte count) or a 4-byte "small element" tag, padded to 8 bytes.
//! `miCOMPRESSED` elements wrap one zlib-compressed `miMATRIX` element.
//!
//! Every length read from the file is checked against the bytes actually
//! present, and a compressed variable inflates to at most [`MAX_INFLATED_BYTES`], so a
//! corrupt file gives [`ArrayError::MatUnreadable`], never a panic.
//! MATLAB v7.3 files (HDF5) are recognised and rejected with a hint.

use std::borrow::Cow;
use std::path::Path;

use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

use crate::decode::{fortran_to_c, to_f64};
use crate::fs::read_bytes;
use crate::{Array, ArrayError, Dtype};

const HEADER_LEN: usize = 128;
/// Upper bound on one decompressed variable (1 GiB): guards against zlib
/// bombs; the reference FCD variables are 40 kB.
pub const MAX_INFLATED_BYTES: usize = 1 << 30;
/// Decompressed prefix read to learn a variable's name without inflating all
/// of it (flags 16 B + dims 8+4·ndims + name ≤ 8+64 B, with ample margin).
const NAME_PREFIX_BYTES: usize = 4096;

// Data element types (MAT-File Format, table 1-1).
const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_INT64: u32 = 12;
const MI_UINT64: u32 = 13;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;

/// Array classes (MAT-File Format, table 1-3); 6..=15 are the numeric ones.
const MX_CLASS_NUMERIC: std::ops::RangeInclusive<u8> = 6..=15;
const MX_SPARSE: u8 = 5;

/// Reads the real numeric variable `var_name` from a MATLAB v5/v7 file.
///
/// The variable may have any numeric class (`double`, `single`, `int8` … `uint64`,
/// `logical`), stored compressed or not. The [`Array`]'s shape is MATLAB's (rows first),
/// its values are in C (row-major) order (MATLAB stores column-major; this reorders the
/// storage, not the matrix), its dtype the element type the values were stored as (the
/// reference `fcd_train.mat` holds `train_aveM`, 10000×1 cumulative counts of class
/// `double` stored as `miINT32`).
///
/// Errors: [`ArrayError::NotFound`], [`ArrayError::Io`], [`ArrayError::MatUnreadable`]
/// (not a v5 file, corrupt, v7.3/HDF5), [`ArrayError::MatMissingVariable`] (listing the
/// variables present), [`ArrayError::MatUnsupported`] (complex, sparse, cell, struct,
/// char …).
pub fn read(path: impl AsRef<Path>, var_name: &str) -> Result<Array, ArrayError> {
    let path = path.as_ref();
    parse(path, &read_bytes(path)?, var_name)
}

/// [`read`] on the bytes of a MAT-file (`path` only names it in errors).
pub fn parse(path: &Path, bytes: &[u8], var_name: &str) -> Result<Array, ArrayError> {
    let (dims, dtype, column_major) = read_numeric(path, bytes, var_name)?;
    let values = fortran_to_c(&dims, column_major);
    Ok(Array {
        shape: dims,
        dtype,
        values,
    })
}

/// Reads the real numeric vector `var_name` (shape `n×1`, `1×n`, or `1×…×n×…×1`).
/// Errors as for [`read`], plus [`ArrayError::WrongShape`] when it is not a vector.
pub fn read_vector(path: impl AsRef<Path>, var_name: &str) -> Result<Vec<f64>, ArrayError> {
    let path = path.as_ref();
    let a = read(path, var_name)?;
    if !a.is_vector() {
        return Err(ArrayError::WrongShape {
            path: path.to_path_buf(),
            expected: format!("variable `{var_name}` to be a vector"),
            shape: a.shape,
        });
    }
    Ok(a.values)
}

/// Names of all variables in a MATLAB v5/v7 file, in file order, whatever their class.
pub fn list_variables(path: impl AsRef<Path>) -> Result<Vec<String>, ArrayError> {
    let path = path.as_ref();
    parse_variable_names(path, &read_bytes(path)?)
}

/// [`list_variables`] on the bytes of a MAT-file.
pub fn parse_variable_names(path: &Path, bytes: &[u8]) -> Result<Vec<String>, ArrayError> {
    let unreadable = |reason: String| ArrayError::MatUnreadable {
        path: path.to_path_buf(),
        reason,
    };
    let file = MatFile::parse(bytes).map_err(unreadable)?;
    let mut names = Vec::new();
    for element in file.elements() {
        let header = element
            .and_then(|e| e.header(false).map(|(h, _)| h))
            .map_err(unreadable)?;
        names.push(header.name);
    }
    Ok(names)
}

/// Shape (MATLAB order), stored element type and column-major values of a real numeric
/// variable.
fn read_numeric(
    path: &Path,
    bytes: &[u8],
    var_name: &str,
) -> Result<(Vec<usize>, Dtype, Vec<f64>), ArrayError> {
    let unreadable = |reason: String| ArrayError::MatUnreadable {
        path: path.to_path_buf(),
        reason,
    };
    let file = MatFile::parse(bytes).map_err(unreadable)?;
    let mut names = Vec::new();
    for element in file.elements() {
        let element = element.map_err(unreadable)?;
        let (header, _) = element.header(false).map_err(unreadable)?;
        if header.name != var_name {
            names.push(header.name);
            continue;
        }
        let unsupported = |reason: String| ArrayError::MatUnsupported {
            path: path.to_path_buf(),
            name: var_name.to_string(),
            reason,
        };
        if !MX_CLASS_NUMERIC.contains(&header.class) {
            return Err(unsupported(format!(
                "is a {}, expected a real numeric array",
                class_name(header.class)
            )));
        }
        if header.complex {
            return Err(unsupported(
                "is complex, expected a real numeric array".into(),
            ));
        }
        let (header, body) = element.header(true).map_err(unreadable)?;
        let n = header
            .dims
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| unreadable(format!("variable `{var_name}` has an overflowing shape")))?;
        let real = read_sub_element(&body, header.data_offset, file.big_endian)
            .map_err(|r| unreadable(format!("variable `{var_name}`: {r}")))?;
        let dtype = element_dtype(real.data_type).ok_or_else(|| {
            unreadable(format!(
                "variable `{var_name}` stores its values with unsupported element type {}",
                real.data_type
            ))
        })?;
        let data = to_f64(real.bytes, dtype, file.big_endian);
        if data.len() != n {
            return Err(unreadable(format!(
                "variable `{var_name}` has shape {:?} ({n} values) but stores {} values",
                header.dims,
                data.len()
            )));
        }
        return Ok((header.dims, dtype, data));
    }
    Err(ArrayError::MatMissingVariable {
        path: path.to_path_buf(),
        name: var_name.to_string(),
        available: names,
    })
}

fn class_name(class: u8) -> &'static str {
    match class {
        1 => "cell array",
        2 => "struct",
        3 => "object",
        4 => "char array",
        MX_SPARSE => "sparse matrix",
        16 => "function handle",
        17 => "opaque object (e.g. string or table)",
        _ => "array of unknown class",
    }
}

/// A parsed MAT-file: the bytes after the header and their byte order.
struct MatFile<'a> {
    body: &'a [u8],
    big_endian: bool,
}

/// One top-level variable, still possibly compressed.
struct Element<'a> {
    /// Payload of the `miMATRIX` element, or the zlib stream of `miCOMPRESSED`.
    payload: &'a [u8],
    compressed: bool,
    big_endian: bool,
}

/// What precedes the data of an `miMATRIX` element.
struct ArrayHeader {
    class: u8,
    complex: bool,
    /// Dimensions in MATLAB order (rows first).
    dims: Vec<usize>,
    name: String,
    /// Offset of the first data sub-element within the matrix payload.
    data_offset: usize,
}

/// A data element's type and its payload bytes.
struct SubElement<'a> {
    data_type: u32,
    bytes: &'a [u8],
}

impl<'a> MatFile<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, String> {
        if bytes.len() < HEADER_LEN {
            return Err(format!(
                "{} bytes is too short for the 128-byte MAT-file header",
                bytes.len()
            ));
        }
        let text = &bytes[..116];
        if text.starts_with(b"MATLAB 7.3") || text.starts_with(b"\x89HDF") {
            return Err(
                "this is a MATLAB v7.3 (HDF5) file, which is not supported; re-save it with save(..., '-v7')"
                    .into(),
            );
        }
        let big_endian = match &bytes[126..128] {
            b"IM" => false,
            b"MI" => true,
            _ => {
                return Err(
                    "no 'IM'/'MI' byte-order mark at offset 126 (not a Level 5 MAT-file; v4 files are not supported)"
                        .into(),
                )
            }
        };
        Ok(MatFile {
            body: &bytes[HEADER_LEN..],
            big_endian,
        })
    }

    /// The variables, in file order. Elements of other types at top level are
    /// skipped; trailing bytes too short for a tag are ignored.
    fn elements(&self) -> impl Iterator<Item = Result<Element<'a>, String>> + 'a {
        let (body, big_endian) = (self.body, self.big_endian);
        let mut offset = 0usize;
        let mut failed = false;
        std::iter::from_fn(move || loop {
            if failed || offset + 8 > body.len() {
                return None;
            }
            let tag = match read_tag(body, offset, big_endian) {
                Ok(t) => t,
                Err(e) => {
                    failed = true;
                    return Some(Err(e));
                }
            };
            let start = offset + tag.header_len;
            let end = start.saturating_add(tag.size);
            if end > body.len() {
                failed = true;
                return Some(Err(format!(
                    "element at byte {} claims {} bytes but the file ends {} bytes later (truncated?)",
                    HEADER_LEN + offset,
                    tag.size,
                    body.len() - start.min(body.len())
                )));
            }
            // Compressed elements are not padded; all others are padded to 8 bytes.
            offset = if tag.data_type == MI_COMPRESSED {
                end
            } else {
                offset.saturating_add(tag.total_len).min(body.len())
            };
            let payload = &body[start..end];
            match tag.data_type {
                MI_MATRIX | MI_COMPRESSED => {
                    return Some(Ok(Element {
                        payload,
                        compressed: tag.data_type == MI_COMPRESSED,
                        big_endian,
                    }))
                }
                _ => continue,
            }
        })
    }
}

impl<'a> Element<'a> {
    /// The array header, and the `miMATRIX` payload it was read from (owned,
    /// because a compressed element is inflated first). With `full == false`
    /// only a prefix of a compressed element is inflated, enough for the name.
    fn header(&self, full: bool) -> Result<(ArrayHeader, Cow<'a, [u8]>), String> {
        if !self.compressed {
            return Ok((
                parse_array_header(self.payload, self.big_endian)?,
                Cow::Borrowed(self.payload),
            ));
        }
        let limit = if full {
            MAX_INFLATED_BYTES
        } else {
            NAME_PREFIX_BYTES
        };
        let (inflated, complete) = inflate_zlib(self.payload, limit)?;
        if full && !complete {
            return Err(format!(
                "a compressed variable inflates to more than {MAX_INFLATED_BYTES} bytes"
            ));
        }
        // The inflated bytes are one whole data element (tag + payload).
        let tag = read_tag(&inflated, 0, self.big_endian)?;
        if tag.data_type != MI_MATRIX {
            return Err(format!(
                "a compressed element holds element type {} instead of a matrix",
                tag.data_type
            ));
        }
        let start = tag.header_len;
        let end = if complete {
            if start + tag.size > inflated.len() {
                return Err("a compressed matrix element is shorter than its tag says".into());
            }
            start + tag.size
        } else {
            inflated.len()
        };
        let payload = inflated.get(start..end).unwrap_or(&[]).to_vec();
        match parse_array_header(&payload, self.big_endian) {
            Ok(h) => Ok((h, Cow::Owned(payload))),
            // A prefix too short for an unusual header: inflate it all.
            Err(_) if !complete => self.header(true),
            Err(e) => Err(e),
        }
    }
}

/// A data element tag at `offset`.
struct Tag {
    data_type: u32,
    /// Payload size in bytes.
    size: usize,
    /// 8 for a normal tag, 4 for a small-element tag (payload in the tag's second word).
    header_len: usize,
    /// Tag + payload + padding to the next 8-byte boundary.
    total_len: usize,
}

fn read_tag(buf: &[u8], offset: usize, big_endian: bool) -> Result<Tag, String> {
    let first = read_u32(buf, offset, big_endian)
        .ok_or_else(|| format!("truncated element tag at byte {offset}"))?;
    if first >> 16 != 0 {
        // Small data element: size in the upper 16 bits, at most 4 bytes of data.
        let size = (first >> 16) as usize;
        if size > 4 {
            return Err(format!(
                "small data element at byte {offset} claims {size} bytes (at most 4 allowed)"
            ));
        }
        if offset + 8 > buf.len() {
            return Err(format!("truncated small data element at byte {offset}"));
        }
        return Ok(Tag {
            data_type: first & 0xffff,
            size,
            header_len: 4,
            total_len: 8,
        });
    }
    let size = read_u32(buf, offset + 4, big_endian)
        .ok_or_else(|| format!("truncated element tag at byte {offset}"))? as usize;
    Ok(Tag {
        data_type: first,
        size,
        header_len: 8,
        total_len: 8usize.saturating_add(size.div_ceil(8).saturating_mul(8)),
    })
}

/// The sub-element at `offset` inside a matrix payload.
fn read_sub_element(buf: &[u8], offset: usize, big_endian: bool) -> Result<SubElement<'_>, String> {
    let tag = read_tag(buf, offset, big_endian)?;
    let start = offset + tag.header_len;
    let bytes = buf
        .get(start..start.saturating_add(tag.size))
        .ok_or_else(|| format!("sub-element at byte {offset} runs past the end of its matrix"))?;
    Ok(SubElement {
        data_type: tag.data_type,
        bytes,
    })
}

/// Flags, dimensions and name of an `miMATRIX` payload.
fn parse_array_header(buf: &[u8], big_endian: bool) -> Result<ArrayHeader, String> {
    let mut offset = 0usize;
    let mut next = |what: &str| -> Result<(u32, Vec<u8>), String> {
        let tag = read_tag(buf, offset, big_endian)?;
        let sub =
            read_sub_element(buf, offset, big_endian).map_err(|e| format!("array {what}: {e}"))?;
        offset = offset.saturating_add(tag.total_len);
        Ok((tag.data_type, sub.bytes.to_vec()))
    };

    let (flags_type, flags) = next("flags")?;
    if flags_type != MI_UINT32 || flags.len() < 8 {
        return Err("array flags sub-element is malformed".into());
    }
    let flag_word = read_u32(&flags, 0, big_endian).unwrap_or(0);
    let class = (flag_word & 0xff) as u8;
    let complex = flag_word & 0x0800 != 0;

    let (dims_type, dims_bytes) = next("dimensions")?;
    if dims_type != MI_INT32 || dims_bytes.len() % 4 != 0 {
        return Err("array dimensions sub-element is malformed".into());
    }
    let mut dims = Vec::with_capacity(dims_bytes.len() / 4);
    for k in 0..dims_bytes.len() / 4 {
        let d = read_u32(&dims_bytes, 4 * k, big_endian).unwrap_or(0) as i32;
        if d < 0 {
            return Err(format!("negative dimension {d}"));
        }
        dims.push(d as usize);
    }

    let (name_type, name_bytes) = next("name")?;
    if name_type != MI_INT8 && name_type != MI_UINT8 {
        return Err("array name sub-element is malformed".into());
    }
    let name = String::from_utf8_lossy(&name_bytes)
        .trim_end_matches('\0')
        .to_string();

    Ok(ArrayHeader {
        class,
        complex,
        dims,
        name,
        data_offset: offset,
    })
}

/// The element type of a numeric data element; `None` for non-numeric types.
fn element_dtype(data_type: u32) -> Option<Dtype> {
    Some(match data_type {
        MI_INT8 => Dtype::Int(1),
        MI_UINT8 => Dtype::UInt(1),
        MI_INT16 => Dtype::Int(2),
        MI_UINT16 => Dtype::UInt(2),
        MI_INT32 => Dtype::Int(4),
        MI_UINT32 => Dtype::UInt(4),
        MI_SINGLE => Dtype::Float(4),
        MI_DOUBLE => Dtype::Float(8),
        MI_INT64 => Dtype::Int(8),
        MI_UINT64 => Dtype::UInt(8),
        _ => return None,
    })
}

fn read_u32(buf: &[u8], offset: usize, big_endian: bool) -> Option<u32> {
    let b: [u8; 4] = buf.get(offset..offset.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

/// Inflates a zlib stream, stopping after `limit` output bytes.
///
/// Returns the output and whether the stream ended within the limit. Uses the
/// allocation-free core API of `miniz_oxide` with a growing buffer, as its own
/// `decompress_to_vec` does, so no extra crate features are needed.
fn inflate_zlib(input: &[u8], limit: usize) -> Result<(Vec<u8>, bool), String> {
    let flags = inflate_flags::TINFL_FLAG_PARSE_ZLIB_HEADER
        | inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let mut out = vec![0u8; input.len().saturating_mul(4).clamp(64, limit.max(64))];
    let mut decomp = Box::new(DecompressorOxide::new());
    let mut in_pos = 0usize;
    let mut out_pos = 0usize;
    loop {
        let (status, consumed, produced) = decompress(
            &mut decomp,
            input.get(in_pos..).unwrap_or(&[]),
            &mut out,
            out_pos,
            flags,
        );
        in_pos = in_pos.saturating_add(consumed);
        out_pos = out_pos.saturating_add(produced).min(out.len());
        match status {
            TINFLStatus::Done => {
                out.truncate(out_pos);
                return Ok((out, true));
            }
            TINFLStatus::HasMoreOutput => {
                if out.len() >= limit {
                    out.truncate(out_pos.min(limit));
                    return Ok((out, false));
                }
                let new_len = out.len().saturating_mul(2).min(limit);
                out.resize(new_len, 0);
            }
            TINFLStatus::FailedCannotMakeProgress | TINFLStatus::NeedsMoreInput => {
                return Err("compressed variable is truncated".into())
            }
            TINFLStatus::Adler32Mismatch => {
                return Err("compressed variable fails its checksum (corrupt file)".into())
            }
            _ => return Err("compressed variable is not valid zlib data (corrupt file)".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{write_mat_v5, write_mat_v5_with_order, MatVar, TempDir};

    #[test]
    fn reads_uncompressed_and_compressed_int32_and_double() {
        let dir = TempDir::new("mat-read");
        let path = dir.path().join("v.mat");
        let counts: Vec<i32> = (0..100).map(|k| k * k).collect();
        write_mat_v5(
            &path,
            &[
                MatVar::int32("first", &[100, 1], &counts, false),
                MatVar::double("second", &[1, 3], &[0.5, -1.25, 3.0], true),
                MatVar::int32("third", &[100, 1], &counts, true),
                // Like the reference `train_aveM`: class double, values stored as miINT32.
                MatVar::double_stored_as_int32("fourth", &[100, 1], &counts, true),
                MatVar::double("grid", &[2, 3], &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0], false),
            ],
        );
        let expected: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
        assert_eq!(read_vector(&path, "first").expect("plain int32"), expected);
        assert_eq!(read_vector(&path, "third").expect("zlib int32"), expected);
        assert_eq!(
            read_vector(&path, "fourth").expect("double as int32"),
            expected
        );
        assert_eq!(
            read_vector(&path, "second").expect("zlib double"),
            vec![0.5, -1.25, 3.0]
        );
        // Column-major [[1,2,3],[4,5,6]] comes back row-major.
        let m = read(&path, "grid").expect("matrix");
        assert_eq!((m.shape, m.dtype), (vec![2, 3], Dtype::Float(8)));
        assert_eq!(m.values, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(read(&path, "fourth").expect("int32").dtype, Dtype::Int(4));
        assert_eq!(
            list_variables(&path).expect("list"),
            vec!["first", "second", "third", "fourth", "grid"]
        );
        let err = read_vector(&path, "grid").expect_err("2×3 is no vector");
        assert!(matches!(err, ArrayError::WrongShape { .. }), "{err:?}");
    }

    #[test]
    fn reads_big_endian_files() {
        let dir = TempDir::new("mat-be");
        let path = dir.path().join("be.mat");
        let counts: Vec<i32> = vec![0, 7, 70_000, 624_403];
        write_mat_v5_with_order(
            &path,
            &[
                MatVar::double_stored_as_int32("cdf", &[4, 1], &counts, true),
                MatVar::double("x", &[1, 2], &[-1.5, 2.25], false),
            ],
            true,
        );
        assert_eq!(
            read_vector(&path, "cdf").expect("big-endian int32"),
            vec![0.0, 7.0, 70_000.0, 624_403.0]
        );
        assert_eq!(
            read_vector(&path, "x").expect("big-endian double"),
            vec![-1.5, 2.25]
        );
    }

    #[test]
    fn missing_variable_lists_the_variables_present() {
        let dir = TempDir::new("mat-missing-var");
        let path = dir.path().join("fcd_train.mat");
        write_mat_v5(
            &path,
            &[MatVar::int32("vali_aveM", &[4, 1], &[0, 1, 2, 3], false)],
        );
        let err = read_vector(&path, "train_aveM").expect_err("wrong name");
        match &err {
            ArrayError::MatMissingVariable {
                name, available, ..
            } => {
                assert_eq!(name, "train_aveM");
                assert_eq!(available, &vec!["vali_aveM".to_string()]);
            }
            other => panic!("wrong variant: {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("fcd_train.mat")
                && msg.contains("train_aveM")
                && msg.contains("vali_aveM"),
            "{msg}"
        );
    }

    #[test]
    fn non_mat_files_are_unreadable_not_panics() {
        let dir = TempDir::new("mat-garbage");
        let path = dir.path().join("x.mat");
        std::fs::write(&path, b"0,1,2\n").expect("write");
        let err = read_vector(&path, "x").expect_err("csv is not mat");
        assert!(matches!(err, ArrayError::MatUnreadable { .. }), "{err:?}");

        let mut v73 = vec![b' '; 128];
        v73[..19].copy_from_slice(b"MATLAB 7.3 MAT-file");
        std::fs::write(&path, &v73).expect("write");
        let err = read_vector(&path, "x").expect_err("v7.3");
        assert!(err.to_string().contains("HDF5"), "{err}");
    }

    #[test]
    fn corrupt_files_never_panic() {
        let dir = TempDir::new("mat-fuzz");
        let path = dir.path().join("good.mat");
        let counts: Vec<i32> = (0..300).collect();
        write_mat_v5(
            &path,
            &[
                MatVar::int32("a", &[300, 1], &counts, true),
                MatVar::double("b", &[1, 2], &[1.0, 2.0], false),
            ],
        );
        let good = std::fs::read(&path).expect("read back");
        let bad = dir.path().join("bad.mat");
        // Every truncation, and pseudo-random byte flips past the header.
        for cut in 0..good.len() {
            // In memory for speed; the last variable is damaged or gone at every cut.
            let bytes = &good[..cut];
            let _ = parse(&bad, bytes, "a");
            let _ = parse_variable_names(&bad, bytes);
            assert!(parse(&bad, bytes, "b").is_err(), "cut {cut}");
        }
        let err = read_vector(dir.path().join("none.mat"), "a").expect_err("missing");
        assert!(matches!(err, ArrayError::NotFound { .. }), "{err:?}");
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..2000 {
            let mut bytes = good.clone();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = 128 + (state as usize) % (bytes.len() - 128);
                bytes[at] = (state >> 32) as u8;
            }
            std::fs::write(&bad, &bytes).expect("write");
            let _ = read_vector(&bad, "a");
            let _ = read_vector(&bad, "b");
        }
    }

    #[test]
    fn non_numeric_variable_is_unsupported() {
        let dir = TempDir::new("mat-char");
        let path = dir.path().join("c.mat");
        write_mat_v5(&path, &[MatVar::char_array("label", "hello")]);
        let err = read_vector(&path, "label").expect_err("char");
        assert!(matches!(err, ArrayError::MatUnsupported { .. }), "{err:?}");
        assert!(err.to_string().contains("char array"), "{err}");
    }
}
