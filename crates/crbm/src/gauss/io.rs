//! Saving and loading Gaussian-visible models: `stem.npz` with `weights` [N, M],
//! `gamma`, `theta` [N], `gamma_plus`, `gamma_minus`, `theta_plus`, `theta_minus` [M]
//! (f64), and `stem.json` with the metadata. Both are written durably and atomically.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::model::GaussCrbm;
use super::train::{GaussTrainConfig, GaussTrainReport};
use crate::durable;
use crate::error::Result;
use crate::npz_params::{json_text, read_json, read_model_npz, with_ext, write_model_npz};

/// Everything about a trained model except its parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GaussMetadata {
    /// Always "gaussian" (tells the model kind apart from Bernoulli files).
    pub visible: String,
    pub n_visible: usize,
    pub n_hidden: usize,
    pub config: Option<GaussTrainConfig>,
    pub lambda: Option<f64>,
    pub dataset: Option<String>,
    pub report: Option<GaussTrainReport>,
}

fn write_npz(model: &GaussCrbm, path: &Path) -> Result<()> {
    let visible = [
        ("gamma", model.gamma.as_slice()),
        ("theta", model.theta.as_slice()),
    ];
    write_model_npz(
        path,
        model.n_visible,
        &model.weights,
        &visible,
        &model.hidden,
    )
}

fn read_npz(path: &Path) -> Result<GaussCrbm> {
    let a = read_model_npz(path, ["gamma", "theta"], " (not a Gaussian-visible model?)")?;
    let [gamma, theta] = a.visible;
    Ok(GaussCrbm {
        n_visible: a.n,
        n_hidden: a.m,
        weights: a.weights,
        gamma,
        theta,
        hidden: a.hidden,
    })
}

/// Save `stem.npz` and `stem.json` durably (each file atomically).
pub fn save(model: &GaussCrbm, meta: &GaussMetadata, stem: impl AsRef<Path>) -> Result<()> {
    let stem = stem.as_ref();
    durable::write_with(&with_ext(stem, "npz"), |tmp| write_npz(model, tmp))?;
    let meta = GaussMetadata {
        visible: "gaussian".into(),
        n_visible: model.n_visible,
        n_hidden: model.n_hidden,
        ..meta.clone()
    };
    let jp = with_ext(stem, "json");
    durable::write_bytes(&jp, json_text(&meta, &jp)?.as_bytes())
}

/// Load a model written by [`save`].
pub fn load(stem: impl AsRef<Path>) -> Result<(GaussCrbm, GaussMetadata)> {
    let stem = stem.as_ref();
    let model = read_npz(&with_ext(stem, "npz"))?;
    let meta: GaussMetadata = read_json(&with_ext(stem, "json"))?;
    Ok((model, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_round_trip_and_a_bernoulli_file_is_named() {
        let d = std::env::temp_dir().join(format!("crbm-gauss-io-{}", std::process::id()));
        let m = GaussCrbm::random(4, 3, 0.5, 1);
        save(&m, &GaussMetadata::default(), d.join("m")).unwrap();
        let (back, meta) = load(d.join("m")).unwrap();
        assert_eq!(back, m);
        assert_eq!(meta.visible, "gaussian");
        let b = crate::model::Crbm::random(4, 3, 1);
        crate::io::save_model(&b, &Default::default(), d.join("b")).unwrap();
        let e = load(d.join("b")).unwrap_err().to_string();
        assert!(e.contains("b.npz") && e.contains("gamma"), "{e}");
    }
}
