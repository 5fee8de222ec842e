//! Saving and loading models: parameters in a NumPy `.npz` (readable from
//! Python: `np.load(path)["weights"]`), metadata (config, λ, data set, training
//! curve) in a JSON file next to it.
//!
//! `save_model(model, meta, "out/fish1_l0.02")` writes `out/fish1_l0.02.npz` and
//! `out/fish1_l0.02.json`. The npz holds `weights` [N, M], `fields` [N],
//! `gamma_plus`, `gamma_minus`, `theta_plus`, `theta_minus` [M], all f64.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::durable;
use crate::error::{io_err, CrbmError, Result};
use crate::model::Crbm;
use crate::npz_params::{json_text, read_json, read_model_npz, with_ext, write_model_npz};
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

/// Write the parameters to a `.npz` archive.
pub fn export_npz(model: &Crbm, path: impl AsRef<Path>) -> Result<()> {
    let visible = [("fields", model.fields.as_slice())];
    write_model_npz(
        path.as_ref(),
        model.n_visible,
        &model.weights,
        &visible,
        &model.hidden,
    )
}

/// Read parameters written by [`export_npz`].
pub fn import_npz(path: impl AsRef<Path>) -> Result<Crbm> {
    let a = read_model_npz(path.as_ref(), ["fields"], "")?;
    let [fields] = a.visible;
    Ok(Crbm {
        n_visible: a.n,
        n_hidden: a.m,
        weights: a.weights,
        fields,
        hidden: a.hidden,
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
    let text = json_text(&meta, &jp)?;
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
    let meta: ModelMetadata = read_json(&jp)?;
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
