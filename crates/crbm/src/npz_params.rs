//! The parameter files both model kinds share: `stem.npz` holds f64 arrays —
//! `weights` [N, M], the visible layer's vectors [N] (Bernoulli: `fields`; Gaussian:
//! `gamma`, `theta`), then the dReLU columns `gamma_plus`, `gamma_minus`, `theta_plus`,
//! `theta_minus` [M] — and `stem.json` the metadata. Used by [`crate::io`] and
//! [`crate::gauss::io`], which differ only in the visible vectors and the metadata type.

use std::path::{Path, PathBuf};

use npyz::WriterBuilder;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::data::load::array_err;
use crate::error::{io_err, CrbmError, Result};
use crate::layers::DRelu;

/// `stem` with `.ext` appended (`out/fish1_l0.02` → `out/fish1_l0.02.npz`).
pub(crate) fn with_ext(stem: &Path, ext: &str) -> PathBuf {
    let mut s = stem.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// Write `weights` [N, M], each named visible vector [N] in the order given, then the
/// four dReLU columns [M] of `hidden` (M = `hidden.len()`).
pub(crate) fn write_model_npz(
    path: &Path,
    n_visible: usize,
    weights: &[f64],
    visible: &[(&str, &[f64])],
    hidden: &[DRelu],
) -> Result<()> {
    let e = io_err(path);
    let mut npz = npyz::npz::NpzWriter::create(path).map_err(&e)?;
    let (n, m) = (n_visible as u64, hidden.len() as u64);
    let columns = DRelu::columns(hidden);
    let hidden_arrays = DRelu::COLUMN_NAMES.iter().zip(&columns);
    let arrays = std::iter::once(("weights", vec![n, m], weights))
        .chain(visible.iter().map(|&(name, v)| (name, vec![n], v)))
        .chain(hidden_arrays.map(|(&name, v)| (name, vec![m], v.as_slice())));
    for (name, shape, data) in arrays {
        let mut w = npz
            .array::<f64>(name, Default::default())
            .map_err(&e)?
            .default_dtype()
            .shape(&shape)
            .begin_nd()
            .map_err(&e)?;
        w.extend(data.iter().copied()).map_err(&e)?;
        w.finish().map_err(&e)?;
    }
    Ok(())
}

/// The arrays of a parameter file, shapes checked against `weights` [N, M].
pub(crate) struct ModelArrays<const V: usize> {
    pub n: usize,
    pub m: usize,
    /// Shape [N, M] row-major.
    pub weights: Vec<f64>,
    /// The visible vectors in the order asked for, shape [N] each.
    pub visible: [Vec<f64>; V],
    /// Shape [M].
    pub hidden: Vec<DRelu>,
}

/// Read a file written by [`write_model_npz`] with the named visible vectors. A missing
/// array is a [`CrbmError::Data`] "missing array \"name\"" followed by `missing_hint`; a
/// vector of the wrong length a [`CrbmError::Shape`] naming the file and the array.
pub(crate) fn read_model_npz<const V: usize>(
    path: &Path,
    visible: [&str; V],
    missing_hint: &str,
) -> Result<ModelArrays<V>> {
    let mut npz = arrays::npz::Archive::open(path).map_err(array_err)?;
    let mut get = |name: &str| -> Result<(Vec<usize>, Vec<f64>)> {
        if !npz.contains(name) {
            return Err(CrbmError::Data {
                path: path.to_path_buf(),
                reason: format!("missing array {name:?}{missing_hint}"),
            });
        }
        let a = npz.read(name).map_err(array_err)?;
        Ok((a.shape, a.values))
    };
    let (ws, weights) = get("weights")?;
    if ws.len() != 2 {
        return Err(CrbmError::Data {
            path: path.to_path_buf(),
            reason: format!("weights must be 2-D, got {ws:?}"),
        });
    }
    let (n, m) = (ws[0], ws[1]);
    let wanted = visible
        .iter()
        .map(|&name| (name, n))
        .chain(DRelu::COLUMN_NAMES.iter().map(|&name| (name, m)));
    let mut vectors = Vec::with_capacity(V + 4);
    for (name, want) in wanted {
        let (_, v) = get(name)?;
        if v.len() != want {
            return Err(CrbmError::Shape {
                what: format!("{}: {name}", path.display()),
                expected: want,
                got: v.len(),
            });
        }
        vectors.push(v);
    }
    let columns: Vec<Vec<f64>> = vectors.split_off(V);
    let hidden = DRelu::from_columns([&columns[0], &columns[1], &columns[2], &columns[3]]);
    let visible: [Vec<f64>; V] = vectors.try_into().expect("one vector per visible name");
    Ok(ModelArrays {
        n,
        m,
        weights,
        visible,
        hidden,
    })
}

/// The metadata `meta` as pretty JSON, for the file `jp`.
pub(crate) fn json_text<T: Serialize>(meta: &T, jp: &Path) -> Result<String> {
    serde_json::to_string_pretty(meta).map_err(|source| CrbmError::Json {
        path: jp.to_path_buf(),
        source,
    })
}

/// The metadata in the JSON file `jp`.
pub(crate) fn read_json<T: DeserializeOwned>(jp: &Path) -> Result<T> {
    let text = std::fs::read_to_string(jp).map_err(io_err(jp))?;
    serde_json::from_str(&text).map_err(|source| CrbmError::Json {
        path: jp.to_path_buf(),
        source,
    })
}
