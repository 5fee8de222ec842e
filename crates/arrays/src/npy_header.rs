//! The `.npy` header: magic, version, length and the Python-literal dict
//! (`{'descr': '<f8', 'fortran_order': False, 'shape': (68, 68), }`), parsed here rather
//! than through `npyz` so that a corrupt header (an absurd length, deep nesting, a huge
//! shape) is refused before anything is allocated and never panics (numpy's `format.py`,
//! NEP 1).

pub(crate) const MAGIC: &[u8] = b"\x93NUMPY";
/// numpy pads header + preamble to a multiple of 64 bytes (since numpy 1.14).
pub(crate) const HEADER_ALIGN: usize = 64;
/// Longest header dict accepted (numpy itself refuses more than 10,000 bytes by default).
pub(crate) const MAX_HEADER_BYTES: usize = 1 << 20;
/// Most dimensions accepted (numpy's own limit is 64).
pub(crate) const MAX_NDIM: usize = 64;

/// The three keys numpy writes, and where the data section starts.
pub(crate) struct Header {
    pub(crate) descr: String,
    pub(crate) fortran_order: bool,
    pub(crate) shape: Vec<usize>,
    pub(crate) data_start: usize,
}

/// Parses the preamble and header dict of `bytes`; errors are the reason, in words.
pub(crate) fn parse_header(bytes: &[u8]) -> Result<Header, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("missing the \\x93NUMPY magic string".into());
    }
    let (header_len, header_start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported format version {v}.{}", bytes[7])),
    };
    if header_len > MAX_HEADER_BYTES {
        return Err(format!(
            "header claims {header_len} bytes, more than the cap of {MAX_HEADER_BYTES}"
        ));
    }
    let data_start = header_start + header_len;
    let text = bytes
        .get(header_start..data_start)
        .ok_or_else(|| format!("header claims {header_len} bytes but the file is shorter"))?;
    let fields = parse_header_dict(&String::from_utf8_lossy(text))?;
    let shape = fields.shape.ok_or("header has no 'shape'")?;
    if shape.len() > MAX_NDIM {
        return Err(format!(
            "shape has {} dimensions, more than {MAX_NDIM}",
            shape.len()
        ));
    }
    Ok(Header {
        descr: fields.descr.ok_or("header has no 'descr'")?,
        fortran_order: fields
            .fortran_order
            .ok_or("header has no 'fortran_order'")?,
        shape,
        data_start,
    })
}

/// Magic, version, header length and the padded header dict of a C-order array.
pub(crate) fn header_bytes(descr: &str, shape: &[usize], data_len: usize) -> Vec<u8> {
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

#[derive(Default)]
struct HeaderFields {
    descr: Option<String>,
    fortran_order: Option<bool>,
    shape: Option<Vec<usize>>,
}

/// Parses the header's Python dict literal; other keys are skipped. Nested values other
/// than the shape tuple (e.g. a structured dtype's list) are kept as an unsupported
/// `descr` instead of being parsed.
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
            "descr" => out.descr = Some(p.descr()?),
            "fortran_order" => out.fortran_order = Some(p.bool()?),
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
    /// A dtype string, or the raw text of a structured dtype's list.
    fn descr(&mut self) -> Result<String, String> {
        if self.peek() != Some(b'[') {
            return self.string();
        }
        let start = self.i;
        self.skip_bracketed()?;
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    fn bool(&mut self) -> Result<bool, String> {
        match self.ident().as_str() {
            "True" => Ok(true),
            "False" => Ok(false),
            other => Err(format!(
                "fortran_order is {other:?}, expected True or False"
            )),
        }
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
