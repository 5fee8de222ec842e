//! Plain-text numeric tables (`.csv`, `.txt`, `.tsv`).
//!
//! Format accepted (what `numpy.savetxt`, MATLAB `writematrix`/`dlmwrite` and spreadsheets
//! produce): one row per line; fields separated by commas, or by whitespace (spaces, tabs)
//! when a line has no comma; one trailing comma tolerated; blank lines and lines starting
//! with `#` skipped; `\r\n` line ends and a UTF-8 BOM accepted. Numbers use Rust's `f64`
//! syntax, which also accepts `NaN` and `inf`, so that validation (not parsing) reports
//! them with their position. Every row must have as many values as the first.

use std::path::Path;

use crate::fs::read_bytes;
use crate::{Array, ArrayError, Dtype};

/// Longest field echoed back in a parse error.
const MAX_TOKEN_CHARS: usize = 40;

/// Reads a comma- or whitespace-separated table of numbers as a `[rows, cols]` [`Array`]
/// (row-major, one row per non-blank line). Errors: [`ArrayError::NotFound`],
/// [`ArrayError::Io`] and those of [`parse`].
pub fn read(path: impl AsRef<Path>) -> Result<Array, ArrayError> {
    let path = path.as_ref();
    parse(path, &read_bytes(path)?)
}

/// Reads a vector stored one value per line (a single row is accepted too).
/// Errors as for [`read`], plus [`ArrayError::WrongShape`] for a matrix with more than
/// one row and column.
pub fn read_vector(path: impl AsRef<Path>) -> Result<Vec<f64>, ArrayError> {
    let path = path.as_ref();
    let a = read(path)?;
    if a.is_vector() {
        Ok(a.values)
    } else {
        Err(ArrayError::WrongShape {
            path: path.to_path_buf(),
            expected: "a vector (one value per line)".to_string(),
            shape: a.shape,
        })
    }
}

/// Parses the bytes of a text table (`path` only names it in errors).
///
/// Errors: [`ArrayError::Parse`] (1-based `line:col`), [`ArrayError::Ragged`] when a row
/// has a different number of values than the first (e.g. a file cut short),
/// [`ArrayError::Empty`]. Values are not validated (NaN passes).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Array, ArrayError> {
    let mut data = Vec::new();
    let mut cols: Option<usize> = None;
    let mut rows = 0usize;
    for (line_no, line) in data_lines(bytes).iter() {
        let row = parse_line(path, *line_no, line)?;
        match cols {
            None => cols = Some(row.len()),
            Some(expected) if expected != row.len() => {
                return Err(ArrayError::Ragged {
                    path: path.to_path_buf(),
                    line: *line_no,
                    expected,
                    found: row.len(),
                });
            }
            Some(_) => {}
        }
        data.extend(row);
        rows += 1;
    }
    match cols {
        Some(cols) if cols > 0 => Ok(Array {
            shape: vec![rows, cols],
            dtype: Dtype::Float(8),
            values: data,
        }),
        _ => Err(ArrayError::Empty {
            path: path.to_path_buf(),
        }),
    }
}

/// Reads a table whose rows may differ in length (e.g. θ vectors with extra columns) and
/// whose first line may be a header: one `Vec` per non-blank, non-comment line, in file
/// order. A first line that does not parse as numbers is skipped as a header; any later
/// one is an error. Errors: [`ArrayError::NotFound`], [`ArrayError::Io`],
/// [`ArrayError::Parse`], [`ArrayError::Empty`] (no numeric row).
pub fn read_rows(path: impl AsRef<Path>) -> Result<Vec<Vec<f64>>, ArrayError> {
    let path = path.as_ref();
    parse_rows(path, &read_bytes(path)?)
}

/// [`read_rows`] on the bytes of a text file.
pub fn parse_rows(path: &Path, bytes: &[u8]) -> Result<Vec<Vec<f64>>, ArrayError> {
    let mut rows = Vec::new();
    for (k, (line_no, line)) in data_lines(bytes).iter().enumerate() {
        match parse_line(path, *line_no, line) {
            Ok(row) => rows.push(row),
            Err(_) if k == 0 => continue, // a header
            Err(e) => return Err(e),
        }
    }
    if rows.is_empty() {
        return Err(ArrayError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(rows)
}

/// `(1-based line number, line)` of the lines holding data: blank lines and `#` comments
/// skipped, a UTF-8 BOM dropped. Invalid UTF-8 becomes U+FFFD, which then fails to parse
/// with a position, a better message than "invalid UTF-8 at byte N".
fn data_lines(bytes: &[u8]) -> Vec<(usize, String)> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(text.as_ref());
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let trimmed = line.trim();
            !trimmed.is_empty() && !trimmed.starts_with('#')
        })
        .map(|(k, line)| (k + 1, line.to_string()))
        .collect()
}

/// The numbers of one line; errors name the line and column of the first bad field.
fn parse_line(path: &Path, line_no: usize, line: &str) -> Result<Vec<f64>, ArrayError> {
    split_fields(line)
        .into_iter()
        .map(|(byte_col, field)| {
            field.parse::<f64>().map_err(|_| ArrayError::Parse {
                path: path.to_path_buf(),
                line: line_no,
                col: line[..byte_col].chars().count() + 1,
                token: shorten(field),
            })
        })
        .collect()
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

    fn table(bytes: &[u8]) -> Result<Array, ArrayError> {
        parse(Path::new("t.csv"), bytes)
    }

    #[test]
    fn parses_comma_whitespace_and_mixed_separators() {
        let a = table(b"1,2,3\n4, 5 ,6\n").expect("comma table");
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.values, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);

        let a = table(b"\xef\xbb\xbf 1.5e0\t-2\r\n\r\n3 4e-1\r\n\n\n").expect("ws table");
        assert_eq!(a.shape, vec![2, 2]);
        assert_eq!(a.values, vec![1.5, -2.0, 3.0, 0.4]);

        // Comment lines are skipped.
        let a = table(b"# header\n1 2\n#\n3 4\n").expect("comments");
        assert_eq!(a.values, vec![1.0, 2.0, 3.0, 4.0]);

        // One trailing comma is tolerated, an empty field in the middle is not.
        let a = table(b"1,2,\n3,4,\n").expect("trailing comma");
        assert_eq!(a.shape, vec![2, 2]);
        let err = table(b"1,,2\n").expect_err("empty field");
        assert!(
            matches!(
                err,
                ArrayError::Parse {
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
        let err = parse(Path::new("x/fc_train.csv"), b"1,2,3\n4,abc,6\n").expect_err("bad");
        match &err {
            ArrayError::Parse {
                line, col, token, ..
            } => {
                assert_eq!((*line, *col), (2, 3));
                assert_eq!(token, "abc");
            }
            other => panic!("wrong variant: {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.starts_with("x/fc_train.csv:2:3:"), "{msg}");
        assert_eq!(err.problem(), "line 2:3: \"abc\" is not a number");
    }

    #[test]
    fn truncated_last_row_is_ragged() {
        let dir = std::env::temp_dir().join(format!("arrays-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("sc_train.csv");
        // A 3×3 matrix whose last row was cut short (no trailing newline either).
        std::fs::write(&path, "0,1,2\n1,0,3\n2,3").expect("write");
        let err = read(&path).expect_err("truncated file must fail");
        assert!(
            matches!(
                err,
                ArrayError::Ragged {
                    line: 3,
                    expected: 3,
                    found: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("sc_train.csv:3:") && msg.contains("columns"),
            "{msg}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn empty_and_missing_files() {
        let err = table(b"\n\n  \n# only a comment\n").expect_err("empty");
        assert!(matches!(err, ArrayError::Empty { .. }), "{err:?}");
        let err = read("/nonexistent/dir/nope.csv").expect_err("missing");
        assert!(matches!(err, ArrayError::NotFound { .. }), "{err:?}");
        assert!(err.to_string().contains("nope.csv"), "{err}");
    }

    #[test]
    fn vector_accepts_column_or_row_but_not_matrix() {
        let dir = std::env::temp_dir().join(format!("arrays-vec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let col = dir.join("col.csv");
        std::fs::write(&col, "1.5\n2\n-3\n\n\n").expect("write");
        assert_eq!(read_vector(&col).expect("column"), vec![1.5, 2.0, -3.0]);
        let row = dir.join("row.csv");
        std::fs::write(&row, "1 2 3\n").expect("write");
        assert_eq!(read_vector(&row).expect("row"), vec![1.0, 2.0, 3.0]);
        let mat = dir.join("mat.csv");
        std::fs::write(&mat, "1,2\n3,4\n").expect("write");
        let err = read_vector(&mat).expect_err("matrix");
        assert!(matches!(err, ArrayError::WrongShape { .. }), "{err:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rows_may_be_ragged_and_start_with_a_header() {
        let p = Path::new("theta.csv");
        let rows = parse_rows(p, b"w0,wm,G\n1,2,3\n\n4,5,6,7\n").expect("header + ragged");
        assert_eq!(rows, vec![vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0, 7.0]]);
        let rows = parse_rows(p, b"1 2\n3\n").expect("no header");
        assert_eq!(rows, vec![vec![1.0, 2.0], vec![3.0]]);
        let err = parse_rows(p, b"w0,wm\n1,2\nx,3\n").expect_err("a second non-numeric line");
        assert!(
            matches!(
                err,
                ArrayError::Parse {
                    line: 3,
                    col: 1,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = parse_rows(p, b"w0,wm\n").expect_err("only a header");
        assert!(matches!(err, ArrayError::Empty { .. }), "{err:?}");
        let err = parse_rows(p, b"w0,wm\n\x00\x01 not, numbers\n").expect_err("garbage");
        assert!(err.to_string().starts_with("theta.csv:2:1:"), "{err}");
    }

    #[test]
    fn nan_parses_so_validation_can_locate_it() {
        let a = table(b"1,NaN\nnan,1\n").expect("NaN is a number here");
        assert!(a.values[1].is_nan() && a.values[2].is_nan());
    }

    #[test]
    fn garbage_and_binary_files_are_clean_errors() {
        // A binary file (an .npy header) is not a table.
        let err = table(b"\x93NUMPY\x01\x00v\x00{'descr': '<f8'}").expect_err("binary");
        assert!(
            matches!(
                err,
                ArrayError::Parse {
                    line: 1,
                    col: 1,
                    ..
                }
            ),
            "{err:?}"
        );
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
            let _ = table(&bytes);
        }
    }
}
