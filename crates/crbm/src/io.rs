//! Saving and loading models: parameters in a NumPy `.npz` (readable from
//! Python: `np.load(path)["weights"]`), metadata (config, λ, data set, training
//! curve) in a JSON file next to it.
//!
//! `save_model(model, meta, "out/fish1_l0.02")` writes `out/fish1_l0.02.npz` and
//! `out/fish1_l0.02.json`. The npz holds `weights` [N, M], `fields` [N],
//! `gamma_plus`, `gamma_minus`, `theta_plus`, `theta_minus` [M], all f64.

use std::path::{Path, PathBuf};

use npyz::WriterBuilder;
use serde::{Deserialize, Serialize};

use crate::data::load::array_err;
use crate::durable;
use crate::error::{CrbmError, Result};
use crate::layers::DRelu;
use crate::model::Crbm;
use crate::train::{TrainConfig, TrainReport};

pub const FORMAT_VERSION: u32 = 1;

/// Everything about a trained model except its parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelMetadata {
    pub format_version: u32,
    pub n_visible: usize,
    pub n_hidden: usize,
    pub config: Option<TrainConfig>,
    /// Regularisation strength (also inside `config.penalty`), for quick filtering.
    pub lambda: Option<f64>,
    /// Free-form name of the data set (e.g. file path or fish id).
    pub dataset: Option<String>,
    pub report: Option<TrainReport>,
}

fn with_ext(stem: &Path, ext: &str) -> PathBuf {
    let mut s = stem.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> CrbmError + '_ {
    move |source| CrbmError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Write the parameters to a `.npz` archive.
pub fn export_npz(model: &Crbm, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let e = io_err(path);
    let mut npz = npyz::npz::NpzWriter::create(path).map_err(&e)?;
    let (n, m) = (model.n_visible as u64, model.n_hidden as u64);
    let hidden = |f: fn(&DRelu) -> f64| model.hidden.iter().map(f).collect::<Vec<f64>>();
    let arrays: [(&str, Vec<u64>, Vec<f64>); 6] = [
        ("weights", vec![n, m], model.weights.clone()),
        ("fields", vec![n], model.fields.clone()),
        ("gamma_plus", vec![m], hidden(|u| u.gamma_plus)),
        ("gamma_minus", vec![m], hidden(|u| u.gamma_minus)),
        ("theta_plus", vec![m], hidden(|u| u.theta_plus)),
        ("theta_minus", vec![m], hidden(|u| u.theta_minus)),
    ];
    for (name, shape, data) in arrays {
        let mut w = npz
            .array::<f64>(name, Default::default())
            .map_err(&e)?
            .default_dtype()
            .shape(&shape)
            .begin_nd()
            .map_err(&e)?;
        w.extend(data).map_err(&e)?;
        w.finish().map_err(&e)?;
    }
    Ok(())
}

/// Read parameters written by [`export_npz`].
pub fn import_npz(path: impl AsRef<Path>) -> Result<Crbm> {
    let path = path.as_ref();
    let mut npz = arrays::npz::Archive::open(path).map_err(array_err)?;
    let mut get = |name: &str| -> Result<(Vec<u64>, Vec<f64>)> {
        if !npz.contains(name) {
            return Err(CrbmError::Data {
                path: path.to_path_buf(),
                reason: format!("missing array {name:?}"),
            });
        }
        let a = npz.read(name).map_err(array_err)?;
        Ok((a.shape.iter().map(|&d| d as u64).collect(), a.values))
    };
    let (ws, weights) = get("weights")?;
    if ws.len() != 2 {
        return Err(CrbmError::Data {
            path: path.to_path_buf(),
            reason: format!("weights must be 2-D, got {ws:?}"),
        });
    }
    let (n, m) = (ws[0] as usize, ws[1] as usize);
    let (_, fields) = get("fields")?;
    let (_, gp) = get("gamma_plus")?;
    let (_, gm) = get("gamma_minus")?;
    let (_, tp) = get("theta_plus")?;
    let (_, tm) = get("theta_minus")?;
    for (name, len, want) in [
        ("fields", fields.len(), n),
        ("gamma_plus", gp.len(), m),
        ("gamma_minus", gm.len(), m),
        ("theta_plus", tp.len(), m),
        ("theta_minus", tm.len(), m),
    ] {
        if len != want {
            return Err(CrbmError::Shape {
                what: format!("{}: {name}", path.display()),
                expected: want,
                got: len,
            });
        }
    }
    let hidden = (0..m)
        .map(|k| DRelu {
            gamma_plus: gp[k],
            gamma_minus: gm[k],
            theta_plus: tp[k],
            theta_minus: tm[k],
        })
        .collect();
    Ok(Crbm {
        n_visible: n,
        n_hidden: m,
        weights,
        fields,
        hidden,
    })
}

/// Save `stem.npz` (parameters) and `stem.json` (metadata).
pub fn save_model(model: &Crbm, meta: &ModelMetadata, stem: impl AsRef<Path>) -> Result<()> {
    let stem = stem.as_ref();
    export_npz(model, with_ext(stem, "npz"))?;
    let (jp, text) = metadata_json(model, meta, stem)?;
    std::fs::write(&jp, text).map_err(io_err(&jp))
}

/// The metadata file of `stem` and its text (the model's shape filled in).
fn metadata_json(model: &Crbm, meta: &ModelMetadata, stem: &Path) -> Result<(PathBuf, String)> {
    let meta = ModelMetadata {
        format_version: FORMAT_VERSION,
        n_visible: model.n_visible,
        n_hidden: model.n_hidden,
        ..meta.clone()
    };
    let jp = with_ext(stem, "json");
    let text = serde_json::to_string_pretty(&meta).map_err(|source| CrbmError::Json {
        path: jp.clone(),
        source,
    })?;
    Ok((jp, text))
}

/// [`save_model`] durably ([`crate::durable`]): each file is written to a temporary name,
/// synced and renamed into place, parameters first, so a crash never leaves a half-written
/// model under the final name, and a metadata file always has its parameters.
pub fn save_model_atomic(model: &Crbm, meta: &ModelMetadata, stem: impl AsRef<Path>) -> Result<()> {
    let stem = stem.as_ref();
    durable::write_with(&with_ext(stem, "npz"), |tmp| export_npz(model, tmp))?;
    let (jp, text) = metadata_json(model, meta, stem)?;
    durable::write_bytes(&jp, text.as_bytes())
}

/// Load a model saved by [`save_model`].
pub fn load_model(stem: impl AsRef<Path>) -> Result<(Crbm, ModelMetadata)> {
    let stem = stem.as_ref();
    let model = import_npz(with_ext(stem, "npz"))?;
    let jp = with_ext(stem, "json");
    let text = std::fs::read_to_string(&jp).map_err(io_err(&jp))?;
    let meta: ModelMetadata = serde_json::from_str(&text).map_err(|source| CrbmError::Json {
        path: jp.clone(),
        source,
    })?;
    if meta.n_visible != model.n_visible || meta.n_hidden != model.n_hidden {
        return Err(CrbmError::Shape {
            what: format!("{}: metadata N·M vs npz", jp.display()),
            expected: meta.n_visible * meta.n_hidden,
            got: model.n_visible * model.n_hidden,
        });
    }
    Ok((model, meta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests_support::random_model;
    use crate::train::TrainConfig;

    #[test]
    fn save_and_load_roundtrip() {
        let dir = std::env::temp_dir().join(format!("crbm-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = random_model(7, 3, 1);
        let meta = ModelMetadata {
            config: Some(TrainConfig::default()),
            lambda: Some(0.02),
            dataset: Some("synthetic".into()),
            report: Some(TrainReport::default()),
            ..Default::default()
        };
        let stem = dir.join("model");
        save_model(&c, &meta, &stem).unwrap();
        let (back, m2) = load_model(&stem).unwrap();
        save_model_atomic(&c, &meta, dir.join("atomic")).unwrap();
        assert_eq!(load_model(dir.join("atomic")).unwrap().0, c);
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
        assert_eq!(back, c);
        assert_eq!(m2.lambda, Some(0.02));
        assert_eq!(m2.n_hidden, 3);
        assert_eq!(m2.format_version, FORMAT_VERSION);
        let err = load_model(dir.join("missing")).unwrap_err().to_string();
        assert!(err.contains("missing.npz"), "{err}");
    }
}
