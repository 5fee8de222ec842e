//! Saving and loading Gaussian-visible models: `stem.npz` with `weights` [N, M],
//! `gamma`, `theta` [N], `gamma_plus`, `gamma_minus`, `theta_plus`, `theta_minus` [M]
//! (f64), and `stem.json` with the metadata. Both are written durably and atomically.

use std::path::{Path, PathBuf};

use npyz::WriterBuilder;
use serde::{Deserialize, Serialize};

use super::model::GaussCrbm;
use super::train::{GaussTrainConfig, GaussTrainReport};
use crate::data::load::array_err;
use crate::durable;
use crate::error::{CrbmError, Result};
use crate::layers::DRelu;

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

fn write_npz(model: &GaussCrbm, path: &Path) -> Result<()> {
    let e = io_err(path);
    let mut npz = npyz::npz::NpzWriter::create(path).map_err(&e)?;
    let (n, m) = (model.n_visible as u64, model.n_hidden as u64);
    let hidden = |f: fn(&DRelu) -> f64| model.hidden.iter().map(f).collect::<Vec<f64>>();
    let arrays: [(&str, Vec<u64>, Vec<f64>); 7] = [
        ("weights", vec![n, m], model.weights.clone()),
        ("gamma", vec![n], model.gamma.clone()),
        ("theta", vec![n], model.theta.clone()),
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

fn read_npz(path: &Path) -> Result<GaussCrbm> {
    let mut npz = arrays::npz::Archive::open(path).map_err(array_err)?;
    let mut get = |name: &str| -> Result<(Vec<u64>, Vec<f64>)> {
        if !npz.contains(name) {
            return Err(CrbmError::Data {
                path: path.to_path_buf(),
                reason: format!("missing array {name:?} (not a Gaussian-visible model?)"),
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
    let mut vectors = Vec::new();
    for (name, want) in [
        ("gamma", n),
        ("theta", n),
        ("gamma_plus", m),
        ("gamma_minus", m),
        ("theta_plus", m),
        ("theta_minus", m),
    ] {
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
    let [gamma, theta, gp, gm, tp, tm]: [Vec<f64>; 6] = vectors.try_into().expect("six vectors");
    Ok(GaussCrbm {
        n_visible: n,
        n_hidden: m,
        weights,
        gamma,
        theta,
        hidden: (0..m)
            .map(|k| DRelu {
                gamma_plus: gp[k],
                gamma_minus: gm[k],
                theta_plus: tp[k],
                theta_minus: tm[k],
            })
            .collect(),
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
    let text = serde_json::to_string_pretty(&meta).map_err(|source| CrbmError::Json {
        path: jp.clone(),
        source,
    })?;
    durable::write_bytes(&jp, text.as_bytes())
}

/// Load a model written by [`save`].
pub fn load(stem: impl AsRef<Path>) -> Result<(GaussCrbm, GaussMetadata)> {
    let stem = stem.as_ref();
    let model = read_npz(&with_ext(stem, "npz"))?;
    let jp = with_ext(stem, "json");
    let text = std::fs::read_to_string(&jp).map_err(io_err(&jp))?;
    let meta: GaussMetadata =
        serde_json::from_str(&text).map_err(|source| CrbmError::Json { path: jp, source })?;
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
