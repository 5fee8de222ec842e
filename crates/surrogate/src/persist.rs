//! Saving and loading surrogates: a directory holding `weights.bpk` (burn's burnpack record of
//! the network parameters) and `surrogate.json` (kind, model and training configuration,
//! normalisation, the token model's connectome, fit summary, provenance, and the size and
//! FNV-1a hash of the weights file, so a sidecar never silently pairs with other weights).
//!
//! Both files are written durably (`jobs::durable`: temporary name, fsync, rename), weights
//! first: a directory with a sidecar always has the weights it describes.

use std::fs;
use std::path::Path;

use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::anchors::Anchor;
use crate::error::{io_err, Result, SurrogateError};
use crate::models::tokens::check_connectome;
use crate::models::{Conditioning, ModelConfig, ModelKind, Net, Surrogate};
use crate::normalise::{Standardiser, TargetScale};
use crate::samples::{Connectome, THETA_DIM};
use crate::train::{FitSummary, TrainConfig};

/// Sidecar file name inside a surrogate directory.
pub const SIDECAR_FILE: &str = "surrogate.json";
/// Weights file name inside a surrogate directory.
pub const WEIGHTS_FILE: &str = "weights.bpk";
const FORMAT: &str = "brainfit-surrogate";
const VERSION: u32 = 1;

/// One data set a surrogate was trained on.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct DatasetSource {
    /// E.g. `kong2021/train`.
    pub name: String,
    /// Where the table was read from.
    pub path: String,
    /// Rows taken from it.
    pub rows: usize,
}

/// Where a surrogate's training data came from, as the caller describes it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Provenance {
    pub datasets: Vec<DatasetSource>,
    /// Free text (command line, git revision, ...).
    pub note: String,
}

#[derive(Serialize, Deserialize)]
struct Sidecar {
    format: String,
    version: u32,
    kind: ModelKind,
    model: ModelConfig,
    train: TrainConfig,
    input_norm: Standardiser,
    target_scale: TargetScale,
    token_norm: Option<Standardiser>,
    connectome: Option<Connectome>,
    /// Group MLP: descriptors of the training groups (absent in older sidecars).
    #[serde(default)]
    conditioning: Option<Conditioning>,
    fit: FitSummary,
    provenance: Provenance,
    /// The training groups' best rows (absent in older sidecars).
    #[serde(default)]
    anchors: Vec<Anchor>,
    n_params: usize,
    weights_file: String,
    weights_bytes: u64,
    weights_fnv1a64: String,
}

pub(crate) use jobs::settings::fnv1a64;

fn load_err(path: &Path, message: impl Into<String>) -> SurrogateError {
    SurrogateError::Load {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// [`jobs::durable::write_atomic`] with this crate's error.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(jobs::durable::write_atomic(path, bytes)?)
}

/// Reads a file, naming it in a [`SurrogateError::Load`] when it is missing or unreadable.
pub(crate) fn read_for_load(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| {
        load_err(
            path,
            if e.kind() == std::io::ErrorKind::NotFound {
                "file is missing".to_string()
            } else {
                format!("cannot read: {e}")
            },
        )
    })
}

impl Surrogate {
    /// Saves to `dir` (created if needed): `weights.bpk` and `surrogate.json`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let weights = dir.join(WEIGHTS_FILE);
        // The bytes as written, for the sidecar's size and hash.
        let mut bytes = Vec::new();
        jobs::durable::write_with(&weights, |tmp| {
            self.net
                .clone()
                .save_file(tmp)
                .map_err(|e| io_err(tmp)(std::io::Error::other(e.to_string())))?;
            bytes = fs::read(tmp).map_err(io_err(tmp))?;
            Ok::<(), SurrogateError>(())
        })?;
        let sidecar = Sidecar {
            format: FORMAT.into(),
            version: VERSION,
            kind: self.kind(),
            model: self.model.clone(),
            train: self.train.clone(),
            input_norm: self.input_norm.clone(),
            target_scale: self.target,
            token_norm: self.token_norm.clone(),
            connectome: self.connectome.clone(),
            conditioning: self.conditioning.clone().map(|mut c| {
                c.active = None;
                c
            }),
            fit: self.summary.clone(),
            provenance: self.provenance.clone(),
            anchors: self.anchors.clone(),
            n_params: self.n_params(),
            weights_file: WEIGHTS_FILE.into(),
            weights_bytes: bytes.len() as u64,
            weights_fnv1a64: fnv1a64(&bytes),
        };
        let json = serde_json::to_vec_pretty(&sidecar)
            .map_err(|e| SurrogateError::Config(format!("serialising the sidecar: {e}")))?;
        write_atomic(&dir.join(SIDECAR_FILE), &json)
    }

    /// Loads a surrogate saved by [`save`](Self::save) onto `device`. Predictions on the same
    /// backend are bit-identical to the saved model's.
    pub fn load(dir: &Path, device: &Device) -> Result<Surrogate> {
        let sidecar_path = dir.join(SIDECAR_FILE);
        let text = read_for_load(&sidecar_path)?;
        let s: Sidecar = serde_json::from_slice(&text)
            .map_err(|e| load_err(&sidecar_path, format!("not a surrogate sidecar: {e}")))?;
        if s.format != FORMAT || s.version != VERSION {
            return Err(load_err(
                &sidecar_path,
                format!(
                    "format {} version {} (expected {FORMAT} version {VERSION})",
                    s.format, s.version
                ),
            ));
        }
        let bad = |e: SurrogateError| load_err(&sidecar_path, e.to_string());
        if s.kind != s.model.kind {
            return Err(load_err(
                &sidecar_path,
                "kind disagrees with the model config",
            ));
        }
        s.model.check().map_err(bad)?;
        let input_norm = s.input_norm.sanitised("input normalisation").map_err(bad)?;
        let conditioning = match (s.kind.group_input(), s.conditioning) {
            (Some(input), Some(c)) if c.input == input => {
                c.check().map_err(bad)?;
                Some(c)
            }
            (Some(_), _) => {
                return Err(load_err(
                    &sidecar_path,
                    format!(
                        "a {} model needs the inputs of its training groups",
                        s.kind.name()
                    ),
                ))
            }
            (None, _) => None,
        };
        let input_dim = conditioning.as_ref().map_or(THETA_DIM, |c| c.input_dim());
        if input_norm.dim() != input_dim {
            return Err(load_err(
                &sidecar_path,
                format!("input normalisation is not {input_dim}-dimensional"),
            ));
        }
        let target = s.target_scale.sanitised().map_err(bad)?;
        let token_norm = s
            .token_norm
            .map(|t| t.sanitised("token normalisation"))
            .transpose()
            .map_err(bad)?;
        let connectome = s.connectome.map(|c| crate::models::tokens::rounded(&c));
        if s.kind == ModelKind::GroupTokens && token_norm.as_ref().map(|t| t.dim()) != Some(4) {
            return Err(load_err(
                &sidecar_path,
                "a group token model needs its token normalisation",
            ));
        }
        if s.kind == ModelKind::RegionTokens {
            match (&connectome, &token_norm) {
                (Some(c), Some(t)) if t.dim() == 4 => {
                    check_connectome(c).map_err(bad)?;
                }
                _ => {
                    return Err(load_err(
                        &sidecar_path,
                        "a region-token model needs its connectome and token normalisation",
                    ))
                }
            }
        }

        let weights_path = dir.join(&s.weights_file);
        let bytes = read_for_load(&weights_path)?;
        if bytes.len() as u64 != s.weights_bytes || fnv1a64(&bytes) != s.weights_fnv1a64 {
            return Err(load_err(
                &weights_path,
                format!(
                    "weights do not match {SIDECAR_FILE} ({} bytes, hash {}; sidecar says {} bytes, hash {})",
                    bytes.len(),
                    fnv1a64(&bytes),
                    s.weights_bytes,
                    s.weights_fnv1a64
                ),
            ));
        }
        let exec = device.clone().without_autodiff();
        let skeleton = Net::new(
            &s.model,
            connectome.as_ref().map(|c| c.n_regions),
            conditioning.as_ref(),
            &exec,
        )
        .map_err(bad)?;
        let net = skeleton
            .try_load_file(&weights_path)
            .map_err(|e| load_err(&weights_path, format!("corrupt or mismatched weights: {e}")))?;
        let out = Surrogate::assemble(
            s.model,
            s.train,
            input_norm,
            target,
            token_norm,
            connectome,
            conditioning,
            net,
            device,
            s.provenance,
            s.fit,
            s.anchors,
        )
        .map_err(bad)?;
        if out.n_params() != s.n_params {
            return Err(load_err(
                &weights_path,
                format!(
                    "{} parameters, the sidecar says {}",
                    out.n_params(),
                    s.n_params
                ),
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::test_data::{
        connectome, fit_quiet, quadratic_samples, small_model, uniform_theta,
    };
    use crate::models::Activation;

    use std::path::PathBuf;

    fn test_dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("surrogate-persist-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn save_load_round_trip_is_bit_identical_for_every_kind() {
        let data = quadratic_samples(150, 31);
        let c = connectome(5, 7);
        let probe = uniform_theta(40, 32, 1.3);
        for kind in [
            ModelKind::Mlp,
            ModelKind::Quadratic,
            ModelKind::RegionTokens,
        ] {
            let model = small_model(kind, 16, Activation::Silu);
            let train = TrainConfig {
                epochs: 4,
                batch_size: 32,
                ..TrainConfig::default()
            };
            let (mut s, _) = fit_quiet(&data, Some(&c), &model, &train);
            s.set_provenance(Provenance {
                datasets: vec![DatasetSource {
                    name: "test/train".into(),
                    path: "/tmp/x.parquet".into(),
                    rows: 150,
                }],
                note: "unit test".into(),
            });
            let dir = test_dir(kind.name());
            s.save(&dir).unwrap();
            let l = Surrogate::load(&dir, &Device::flex()).unwrap();
            assert_eq!(l.kind(), kind);
            assert_eq!(l.n_params(), s.n_params());
            assert_eq!(l.provenance(), s.provenance());
            // Informational floats go through JSON's best-effort parsing: equal to ~1 ulp.
            let (a, b) = (l.fit_summary(), s.fit_summary());
            assert_eq!(
                (a.n_train, a.n_val, a.best_epoch),
                (b.n_train, b.n_val, b.best_epoch)
            );
            assert!((a.best_loss - b.best_loss).abs() <= 1e-12 * b.best_loss.abs());
            let (p, q) = (s.predict(&probe).unwrap(), l.predict(&probe).unwrap());
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&p.fc), bits(&q.fc), "{kind:?}");
            assert_eq!(bits(&p.ks), bits(&q.ks), "{kind:?}");
            assert_eq!(bits(&p.p_valid), bits(&q.p_valid), "{kind:?}");
            // The anchors are the table's best row per group, and survive the file (to ~1 ulp).
            assert_eq!(
                s.anchors(),
                crate::anchors::best_per_group(&data).as_slice()
            );
            assert!(!s.anchors().is_empty());
            assert_eq!(l.anchors().len(), s.anchors().len());
            for (a, b) in l.anchors().iter().zip(s.anchors()) {
                assert_eq!(a.group, b.group);
                assert!(a
                    .theta
                    .iter()
                    .zip(&b.theta)
                    .all(|(x, y)| (x - y).abs() <= 1e-15 * y.abs()));
            }
            // Saving over an existing model replaces it.
            l.save(&dir).unwrap();
            assert!(Surrogate::load(&dir, &Device::flex()).is_ok());
            // A sidecar written before anchors were recorded loads with none.
            let sidecar = dir.join(SIDECAR_FILE);
            let mut json: serde_json::Value =
                serde_json::from_slice(&fs::read(&sidecar).unwrap()).unwrap();
            json.as_object_mut().unwrap().remove("anchors").unwrap();
            fs::write(&sidecar, serde_json::to_vec(&json).unwrap()).unwrap();
            let old = Surrogate::load(&dir, &Device::flex()).unwrap();
            assert!(old.anchors().is_empty());
            let _ = fs::remove_dir_all(&dir);
        }
    }

    #[test]
    fn load_names_the_missing_or_corrupt_file() {
        let data = quadratic_samples(60, 33);
        let train = TrainConfig {
            epochs: 2,
            ..TrainConfig::default()
        };
        let (s, _) = fit_quiet(
            &data,
            None,
            &ModelConfig::of_kind(ModelKind::Quadratic),
            &train,
        );
        let dir = test_dir("errors");
        let err = Surrogate::load(&dir, &Device::flex()).unwrap_err();
        assert!(
            matches!(&err, SurrogateError::Load { path, .. } if path.ends_with(SIDECAR_FILE)),
            "{err}"
        );
        s.save(&dir).unwrap();
        // Truncated weights.
        let w = dir.join(WEIGHTS_FILE);
        let bytes = fs::read(&w).unwrap();
        fs::write(&w, &bytes[..bytes.len() / 2]).unwrap();
        let err = Surrogate::load(&dir, &Device::flex()).unwrap_err();
        assert!(
            matches!(&err, SurrogateError::Load { path, .. } if path.ends_with(WEIGHTS_FILE)),
            "{err}"
        );
        // Missing weights.
        fs::remove_file(&w).unwrap();
        let err = Surrogate::load(&dir, &Device::flex()).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        // Corrupt sidecar.
        fs::write(dir.join(SIDECAR_FILE), b"{ not json").unwrap();
        let err = Surrogate::load(&dir, &Device::flex()).unwrap_err();
        assert!(
            matches!(&err, SurrogateError::Load { path, .. } if path.ends_with(SIDECAR_FILE)),
            "{err}"
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
