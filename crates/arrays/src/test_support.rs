//! Test helpers (feature `test-support`): self-deleting temporary folders, a two-array
//! `.npz` fixture and a minimal MATLAB v5 writer, for tests of array inputs here and in
//! the crates that read them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh folder under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh, empty folder whose name contains `label`.
    pub fn new(label: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "arrays-{label}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An `.npz` archive at `path` with `spikes` (f32, 2×3: `[[0, 1, 0], [1, 1, 0]]`) and
/// `other` (i64, [1]: `[5]`).
pub fn write_spikes_and_other_npz(path: &Path) {
    use npyz::WriterBuilder;
    let mut npz = npyz::npz::NpzWriter::create(path).unwrap();
    let mut w = npz
        .array::<f32>("spikes", Default::default())
        .unwrap()
        .default_dtype()
        .shape(&[2, 3])
        .begin_nd()
        .unwrap();
    w.extend([0.0f32, 1.0, 0.0, 1.0, 1.0, 0.0]).unwrap();
    w.finish().unwrap();
    let mut w = npz
        .array::<i64>("other", Default::default())
        .unwrap()
        .default_dtype()
        .shape(&[1])
        .begin_nd()
        .unwrap();
    w.extend([5i64]).unwrap();
    w.finish().unwrap();
}

/// One variable for [`write_mat_v5`].
#[derive(Debug)]
pub struct MatVar {
    name: String,
    class: u8,
    dims: Vec<i32>,
    data_type: u32,
    data: Vec<u8>,
    compressed: bool,
}

impl MatVar {
    /// An `int32` array stored as `miINT32` (like the reference `*_aveM`).
    pub fn int32(name: &str, dims: &[i32], values: &[i32], compressed: bool) -> Self {
        MatVar {
            name: name.into(),
            class: 12,
            dims: dims.to_vec(),
            data_type: 5,
            data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            compressed,
        }
    }

    /// A `double` array whose integer values are stored as `miINT32`, as
    /// MATLAB saves the reference `*_aveM` CDFs.
    pub fn double_stored_as_int32(
        name: &str,
        dims: &[i32],
        values: &[i32],
        compressed: bool,
    ) -> Self {
        MatVar {
            class: 6,
            ..MatVar::int32(name, dims, values, compressed)
        }
    }

    /// A `double` array stored as `miDOUBLE`, values column-major.
    pub fn double(name: &str, dims: &[i32], values: &[f64], compressed: bool) -> Self {
        MatVar {
            name: name.into(),
            class: 6,
            dims: dims.to_vec(),
            data_type: 9,
            data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            compressed,
        }
    }

    /// A `1×n` char array stored as `miUINT16`.
    pub fn char_array(name: &str, text: &str) -> Self {
        let units: Vec<u16> = text.encode_utf16().collect();
        MatVar {
            name: name.into(),
            class: 4,
            dims: vec![1, units.len() as i32],
            data_type: 4,
            data: units.iter().flat_map(|v| v.to_le_bytes()).collect(),
            compressed: false,
        }
    }
}

/// Writes a little-endian Level 5 MAT-file by the book (MAT-File Format,
/// ch. 1): header, then one `miMATRIX` element per variable, or an
/// `miCOMPRESSED` element wrapping it in a zlib stream of stored (level-0)
/// deflate blocks. Names of ≤ 4 bytes use the small-element format, as MATLAB does.
pub fn write_mat_v5(path: &Path, vars: &[MatVar]) {
    write_mat_v5_with_order(path, vars, false);
}

/// [`write_mat_v5`] in either byte order (`big_endian` writes an `MI` file).
pub fn write_mat_v5_with_order(path: &Path, vars: &[MatVar], big_endian: bool) {
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    let mut text = b"MATLAB 5.0 MAT-file, written by the arrays test support".to_vec();
    text.resize(116, b' ');
    out.extend_from_slice(&text);
    out.extend_from_slice(&[0u8; 8]); // subsystem data offset: none
    if big_endian {
        out.extend_from_slice(&0x0100u16.to_be_bytes());
        out.extend_from_slice(b"MI");
    } else {
        out.extend_from_slice(&0x0100u16.to_le_bytes());
        out.extend_from_slice(b"IM");
    }

    for var in vars {
        let mut payload = Vec::new();
        let flags: Vec<u8> = [var.class as u32, 0u32]
            .into_iter()
            .flat_map(u32b)
            .collect();
        sub_element(&mut payload, 6, &flags, big_endian);
        let dims: Vec<u8> = var.dims.iter().flat_map(|&d| u32b(d as u32)).collect();
        sub_element(&mut payload, 5, &dims, big_endian);
        sub_element(&mut payload, 1, var.name.as_bytes(), big_endian);
        // `data` holds little-endian elements; reverse each for a big-endian file.
        let width = match var.data_type {
            1 | 2 => 1,
            3 | 4 => 2,
            5..=7 => 4,
            _ => 8,
        };
        let data: Vec<u8> = if big_endian {
            var.data
                .chunks(width)
                .flat_map(|c| c.iter().rev().copied())
                .collect()
        } else {
            var.data.clone()
        };
        sub_element(&mut payload, var.data_type, &data, big_endian);

        let mut element = Vec::new();
        element.extend_from_slice(&u32b(14));
        element.extend_from_slice(&u32b(payload.len() as u32));
        element.extend_from_slice(&payload);

        if var.compressed {
            let z = zlib_stored(&element);
            out.extend_from_slice(&u32b(15));
            out.extend_from_slice(&u32b(z.len() as u32));
            out.extend_from_slice(&z);
        } else {
            out.extend_from_slice(&element);
        }
    }
    std::fs::write(path, out).expect("write .mat");
}

fn sub_element(out: &mut Vec<u8>, data_type: u32, bytes: &[u8], big_endian: bool) {
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    if !bytes.is_empty() && bytes.len() <= 4 {
        let tag = ((bytes.len() as u32) << 16) | data_type;
        out.extend_from_slice(&u32b(tag));
        let mut data = [0u8; 4];
        data[..bytes.len()].copy_from_slice(bytes);
        out.extend_from_slice(&data);
        return;
    }
    out.extend_from_slice(&u32b(data_type));
    out.extend_from_slice(&u32b(bytes.len() as u32));
    out.extend_from_slice(bytes);
    while out.len() % 8 != 0 {
        out.push(0);
    }
}

/// zlib (RFC 1950) around stored deflate blocks (RFC 1951 §3.2.4).
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![&[][..]]
    } else {
        data.chunks(65_535).collect()
    };
    let last = chunks.len() - 1;
    for (k, chunk) in chunks.iter().enumerate() {
        out.push(u8::from(k == last));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + byte as u32) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}
