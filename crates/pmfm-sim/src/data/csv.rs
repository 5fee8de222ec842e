//! Plain-text numeric tables: the reference `sc_*.csv`, `fc_*.csv`,
//! `fcd_*.csv`, `myelin.csv` and `rsfc_gradient.csv`.
//!
//! Format accepted (what `numpy.savetxt`, MATLAB `writematrix`/`dlmwrite` and
//! spreadsheets produce): one row per line; fields separated by commas, or by
//! whitespace when a line has no comma; one trailing comma tolerated; blank
//! lines and lines starting with `#` skipped; `\r\n` line ends and a UTF-8 BOM
//! accepted. Numbers use Rust's `f64` syntax, which also accepts `NaN` and
//! `inf` so that validation (not parsing) reports them with their position.

use std::path::Path;

use super::fs::read_bytes;
use super::{DataError, Matrix};

/// Longest field echoed back in a parse error.
const MAX_TOKEN_CHARS: usize = 40;

/// Reads a comma- or whitespace-separated table of numbers.
///
/// Returns a `rows × cols` [`Matrix`] (row-major) with one row per non-blank
/// line. Errors: [`DataError::NotFound`], [`DataError::Io`],
/// [`DataError::Parse`] (with 1-based `line:col`), [`DataError::Ragged`] when
/// a row has a different number of values than the first (e.g. a file cut
/// short), [`DataError::Empty`]. Values are not validated here (NaN passes);
/// see [`super::validate`].
pub fn read_matrix_csv(path: impl AsRef<Path>) -> Result<Matrix, DataError> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    parse_table(path, &bytes)
}

/// Reads a vector of numbers stored one per line (a single comma- or
/// whitespace-separated row is accepted too).
///
/// Returns the values in file order; blank lines (e.g. trailing ones) are
/// ignored. Errors as for [`read_matrix_csv`], plus [`DataError::WrongShape`]
/// if the file holds a matrix with more than one row and column.
pub fn read_vector_txt(path: impl AsRef<Path>) -> Result<Vec<f64>, DataError> {
    let path = path.as_ref();
    let m = read_matrix_csv(path)?;
    if m.rows == 1 || m.cols == 1 {
        Ok(m.data)
    } else {
        Err(DataError::WrongShape {
            path: path.to_path_buf(),
            expected: "a vector (one value per line)".to_string(),
            shape: vec![m.rows, m.cols],
        })
    }
}

/// Parses the bytes of a text table; see the module docs for the format.
pub(crate) fn parse_table(path: &Path, bytes: &[u8]) -> Result<Matrix, DataError> {
    // Invalid UTF-8 becomes U+FFFD, which then fails to parse with a position,
    // a better message than "invalid UTF-8 at byte N".
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(text.as_ref());

    let mut data = Vec::new();
    let mut cols: Option<usize> = None;
    let mut rows = 0usize;
    for (line_idx, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let before = data.len();
        for (byte_col, field) in split_fields(line) {
            let value: f64 = field.parse().map_err(|_| DataError::Parse {
                path: path.to_path_buf(),
                line: line_idx + 1,
                col: line[..byte_col].chars().count() + 1,
                token: shorten(field),
            })?;
            data.push(value);
        }
        let found = data.len() - before;
        match cols {
            None => cols = Some(found),
            Some(expected) if expected != found => {
                return Err(DataError::Ragged {
                    path: path.to_path_buf(),
                    line: line_idx + 1,
                    expected,
                    found,
                });
            }
            Some(_) => {}
        }
        rows += 1;
    }
    match cols {
        Some(cols) if cols > 0 => Ok(Matrix { rows, cols, data }),
        _ => Err(DataError::Empty {
            path: path.to_path_buf(),
        }),
    }
}

/// Splits one line into `(byte offset, field)` pairs, fields trimmed.
///
/// A line with a comma is comma-separated (an empty field is kept so that it
/// fails to parse, except after a final trailing comma); otherwise fields are
/// separated by runs of whitespace.
fn split_fields(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    if line.contains(',') {
        let mut start = 0usize;
        let pieces: Vec<&str> = line.split(',').collect();
        let last = pieces.len() - 1;
        for (k, piece) in pieces.iter().enumerate() {
            let lead = piece.len() - piece.trim_start().len();
            let field = piece.trim();
            // Tolerate `1,2,3,` (one trailing comma), common in exported files.
            if !(k == last && field.is_empty() && k > 0) {
                out.push((start + lead, field));
            }
            start += piece.len() + 1;
        }
    } else {
        let mut offset = 0usize;
        for piece in line.split_whitespace() {
            // `split_whitespace` yields sub-slices of `line`, in order, so the
            // search from `offset` always finds this piece.
            let at = line[offset..].find(piece).map_or(offset, |p| offset + p);
            out.push((at, piece));
            offset = at + piece.len();
        }
    }
    out
}

fn shorten(field: &str) -> String {
    if field.chars().count() <= MAX_TOKEN_CHARS {
        field.to_string()
    } else {
        let mut s: String = field.chars().take(MAX_TOKEN_CHARS).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::test_support::TempDir;

    #[test]
    fn parses_comma_whitespace_and_mixed_separators() {
        let p = Path::new("t.csv");
        let m = parse_table(p, b"1,2,3\n4, 5 ,6\n").expect("comma table");
        assert_eq!((m.rows, m.cols), (2, 3));
        assert_eq!(m.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);

        let m = parse_table(p, b"\xef\xbb\xbf 1.5e0\t-2\r\n\r\n3 4e-1\r\n\n\n").expect("ws table");
        assert_eq!((m.rows, m.cols), (2, 2));
        assert_eq!(m.data, vec![1.5, -2.0, 3.0, 0.4]);

        // One trailing comma is tolerated, an empty field in the middle is not.
        let m = parse_table(p, b"1,2,\n3,4,\n").expect("trailing comma");
        assert_eq!((m.rows, m.cols), (2, 2));
        let err = parse_table(p, b"1,,2\n").expect_err("empty field");
        assert!(
            matches!(
                err,
                DataError::Parse {
                    line: 1,
                    col: 3,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn parse_error_gives_line_and_column() {
        let err = parse_table(Path::new("x/fc_train.csv"), b"1,2,3\n4,abc,6\n").expect_err("bad");
        match &err {
            DataError::Parse {
                line, col, token, ..
            } => {
                assert_eq!((*line, *col), (2, 3));
                assert_eq!(token, "abc");
            }
            other => panic!("wrong variant: {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.starts_with("x/fc_train.csv:2:3:"), "{msg}");
    }

    #[test]
    fn truncated_last_row_is_ragged() {
        let dir = TempDir::new("csv-truncated");
        let path = dir.path().join("sc_train.csv");
        // A 3×3 matrix whose last row was cut short (no trailing newline either).
        std::fs::write(&path, "0,1,2\n1,0,3\n2,3").expect("write");
        let err = read_matrix_csv(&path).expect_err("truncated file must fail");
        assert!(
            matches!(
                err,
                DataError::Ragged {
                    line: 3,
                    expected: 3,
                    found: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("sc_train.csv:3:"), "{err}");
    }

    #[test]
    fn empty_and_missing_files() {
        let dir = TempDir::new("csv-empty");
        let path = dir.path().join("myelin.csv");
        std::fs::write(&path, "\n\n  \n").expect("write");
        let err = read_vector_txt(&path).expect_err("empty");
        assert!(matches!(err, DataError::Empty { .. }), "{err:?}");

        let missing = dir.path().join("nope.csv");
        let err = read_matrix_csv(&missing).expect_err("missing");
        assert!(matches!(err, DataError::NotFound { .. }), "{err:?}");
        assert!(err.to_string().contains("nope.csv"), "{err}");
    }

    #[test]
    fn vector_accepts_column_or_row_but_not_matrix() {
        let dir = TempDir::new("csv-vector");
        let col = dir.path().join("col.csv");
        std::fs::write(&col, "1.5\n2\n-3\n\n\n").expect("write");
        assert_eq!(read_vector_txt(&col).expect("column"), vec![1.5, 2.0, -3.0]);
        let row = dir.path().join("row.csv");
        std::fs::write(&row, "1 2 3\n").expect("write");
        assert_eq!(read_vector_txt(&row).expect("row"), vec![1.0, 2.0, 3.0]);
        let mat = dir.path().join("mat.csv");
        std::fs::write(&mat, "1,2\n3,4\n").expect("write");
        let err = read_vector_txt(&mat).expect_err("matrix");
        assert!(matches!(err, DataError::WrongShape { .. }), "{err:?}");
    }

    #[test]
    fn nan_parses_so_validation_can_locate_it() {
        let m = parse_table(Path::new("fc.csv"), b"1,NaN\nnan,1\n").expect("NaN is a number here");
        assert!(m.data[1].is_nan() && m.data[2].is_nan());
    }

    #[test]
    fn garbage_never_panics() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    b"0123456789.,-+eE \n\r\tnaNif#\xff\xc3"[(state % 28) as usize]
                })
                .collect();
            let _ = parse_table(Path::new("g.csv"), &bytes);
        }
    }
}
