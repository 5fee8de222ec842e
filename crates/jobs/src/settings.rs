//! Settings and inputs that bind a job directory: a resumed run or another shard may only add
//! to a directory made with the same settings and the same inputs.
//!
//! * [`same_settings`] / [`first_difference`]: comparing a settings file on disk with the
//!   settings of a new run (dataset manifests, sweep configs, active-learning manifests, CMA-ES
//!   checkpoints).
//! * [`fnv1a64`], [`Fnv1a64`], [`fingerprint_file`]: fingerprints of input files and in-memory
//!   inputs, stored among the settings so that changed inputs are refused like changed settings.
//! * [`Manifest`]: the settings file of a directory: written by the first run, checked by
//!   every later one, refusing a mismatch with the first differing key.
//! * [`is_zero`]: the serde skip test that keeps a new count setting out of older manifests.
//!
//! serde_json writes every f64 in its shortest round-trip form, but without its
//! `float_roundtrip` feature (which would change the feature set of a crate the whole burn stack
//! depends on) it parses numbers of 17 significant digits only to within about one unit in the
//! last place. A manifest read back can therefore differ from the one that was written in the last
//! bit of a float — e.g. the centres of the reference example's candidates — and an exact
//! comparison would refuse the very run that wrote it.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::durable::write_atomic;
use crate::error::{io_err, JobsError, Result};

/// Largest relative difference of two floats that still count as the same written number.
const REL_TOL: f64 = 1e-14;

/// `skip_serializing_if` test for a count setting added after manifests were first written,
/// whose 0 is the old behaviour: not written when 0, so those manifests still compare equal.
pub fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Whether two JSON values are the same settings: equal structure, keys, strings and booleans,
/// and numbers equal to within a relative 1e-14 (a decimal round trip moves at most the last few
/// bits; any real change of a setting is far larger).
pub fn same_settings(a: &Value, b: &Value) -> bool {
    first_difference(a, b).is_none()
}

fn same_number(x: &serde_json::Number, y: &serde_json::Number) -> bool {
    match (x.as_f64(), y.as_f64()) {
        (Some(p), Some(q)) if x.is_f64() || y.is_f64() => {
            p == q || (p - q).abs() <= REL_TOL * p.abs().max(q.abs())
        }
        _ => x == y,
    }
}

/// Where `was` (on disk) and `now` (this run) first differ, as [`same_settings`] compares
/// them: the key path (`train.n_updates`, `centres[2]`, or `(top level)`) with both values,
/// e.g. `seeds: directory has 2, this run 3`; `None` when they are the same settings.
pub fn first_difference(was: &Value, now: &Value) -> Option<String> {
    difference_at("", was, now)
}

fn difference_at(at: &str, was: &Value, now: &Value) -> Option<String> {
    let key = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    let here = || {
        let name = if at.is_empty() { "(top level)" } else { at };
        Some(format!(
            "{name}: directory has {}, this run {}",
            short(was),
            short(now)
        ))
    };
    match (was, now) {
        (Value::Number(x), Value::Number(y)) => (!same_number(x, y)).then(here).flatten(),
        (Value::Array(x), Value::Array(y)) => {
            let inner = x
                .iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (p, q))| difference_at(&format!("{at}[{i}]"), p, q));
            match inner {
                Some(d) => Some(d),
                None if x.len() != y.len() => {
                    let name = if at.is_empty() { "(top level)" } else { at };
                    Some(format!(
                        "{name}: directory has {} entries, this run {}",
                        x.len(),
                        y.len()
                    ))
                }
                None => None,
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => difference_at(&key(k), p, q),
                (Some(p), None) => Some(format!(
                    "{}: directory has {}, this run has no such setting",
                    key(k),
                    short(p)
                )),
                (None, Some(q)) => Some(format!(
                    "{}: this run has {}, the directory no such setting",
                    key(k),
                    short(q)
                )),
                (None, None) => None,
            })
        }
        _ => (was != now).then(here).flatten(),
    }
}

/// A value for a one-line message: compact JSON, cut at 80 characters.
fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// FNV-1a (64-bit), fed in pieces; [`Fnv1a64::hex`] gives the 16 hex digits of
/// [`fnv1a64`] of everything fed so far.
#[derive(Clone, Copy, Debug)]
pub struct Fnv1a64(u64);

impl Default for Fnv1a64 {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a64 {
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

/// FNV-1a (64-bit) of `bytes`, as 16 hex digits: a fingerprint of inputs (not a defence
/// against deliberate collisions).
pub fn fnv1a64(bytes: &[u8]) -> String {
    let mut h = Fnv1a64::default();
    h.update(bytes);
    h.hex()
}

/// [`fnv1a64`] of a file's content, read in blocks; errors name the file.
pub fn fingerprint_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(io_err(path))?;
    let mut h = Fnv1a64::default();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            return Ok(h.hex());
        }
        h.update(&buf[..n]);
    }
}

/// The settings file of a job directory (e.g. `manifest.json`, `sweep.json`): the settings of
/// the run that made the directory, with fingerprints of its inputs among them.
#[derive(Clone, Debug)]
pub struct Manifest {
    path: PathBuf,
    /// What a refused run should do, appended to the mismatch error.
    advice: String,
}

/// What [`Manifest::check_or_write`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestState {
    /// There was none; this run's settings were written.
    Written,
    /// The directory was made with the same settings.
    Same,
}

impl Manifest {
    /// The manifest at `path`; `advice` ends a mismatch error (e.g. "use another --out or the
    /// same settings").
    pub fn new(path: impl Into<PathBuf>, advice: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            advice: advice.into(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The settings on disk, or `None` when there is no manifest yet.
    pub fn read(&self) -> Result<Option<Value>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&self.path)(e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| JobsError::BadFile {
                path: self.path.clone(),
                message: format!("not valid JSON: {e}"),
            })
    }

    /// Refuses `now` unless it is the same settings as `was` (read from this manifest),
    /// naming the first differing key.
    pub fn check(&self, was: &Value, now: &Value) -> Result<()> {
        match first_difference(was, now) {
            None => Ok(()),
            Some(message) => Err(JobsError::SettingsMismatch {
                path: self.path.clone(),
                message,
                advice: self.advice.clone(),
            }),
        }
    }

    /// Writes `now` (pretty JSON), atomically.
    pub fn write(&self, now: &Value) -> Result<()> {
        let text = serde_json::to_string_pretty(now).map_err(|e| JobsError::BadFile {
            path: self.path.clone(),
            message: format!("cannot serialise the settings: {e}"),
        })?;
        write_atomic(&self.path, text.as_bytes())
    }

    /// Checks `now` against the manifest on disk ([`Manifest::check`]), or writes it when
    /// there is none.
    pub fn check_or_write(&self, now: &Value) -> Result<ManifestState> {
        match self.read()? {
            Some(was) => self.check(&was, now).map(|()| ManifestState::Same),
            None => self.write(now).map(|()| ManifestState::Written),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn written_and_read_back_settings_are_the_same() {
        // Every f64 survives write + read within the tolerance, including the 17-digit ones
        // that serde_json's default parser may move by one unit in the last place.
        let mut moved = 0;
        let mut x = -0.058498876229539684_f64;
        for _ in 0..2000 {
            let v = json!({ "centre": [x, 1e-5 * x], "n": 384 });
            let back: Value = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
            moved += usize::from(back != v);
            assert!(same_settings(&v, &back), "{x}");
            x = x * 1.000_000_37 + 1e-9;
        }
        eprintln!("{moved} of 2000 round trips changed a bit");
    }

    #[test]
    fn real_changes_are_different_settings() {
        let a = json!({ "relative_sd": 0.05, "n": 384, "design": "gaussian", "c": [1.0, 2.0] });
        assert!(same_settings(&a, &a.clone()));
        for b in [
            json!({ "relative_sd": 0.050001, "n": 384, "design": "gaussian", "c": [1.0, 2.0] }),
            json!({ "relative_sd": 0.05, "n": 385, "design": "gaussian", "c": [1.0, 2.0] }),
            json!({ "relative_sd": 0.05, "n": 384, "design": "lhs", "c": [1.0, 2.0] }),
            json!({ "relative_sd": 0.05, "n": 384, "design": "gaussian", "c": [1.0] }),
            json!({ "relative_sd": 0.05, "n": 384, "design": "gaussian", "c": [1.0, 2.0], "x": 1 }),
            json!({ "relative_sd": 0.05, "n": 384, "designs": "gaussian", "c": [1.0, 2.0] }),
        ] {
            assert!(!same_settings(&a, &b), "{b}");
            assert!(first_difference(&a, &b).is_some(), "{b}");
        }
    }

    #[test]
    fn the_first_difference_names_the_key() {
        let a = json!({ "seeds": 2, "train": { "n_updates": 40, "lr": 0.1 }, "c": [1.0, 2.0] });
        let diff = |b: Value| first_difference(&a, &b).unwrap();
        assert_eq!(
            diff(json!({ "seeds": 3, "train": { "n_updates": 40, "lr": 0.1 }, "c": [1.0, 2.0] })),
            "seeds: directory has 2, this run 3"
        );
        assert_eq!(
            diff(json!({ "seeds": 2, "train": { "n_updates": 41, "lr": 0.1 }, "c": [1.0, 2.0] })),
            "train.n_updates: directory has 40, this run 41"
        );
        assert_eq!(
            diff(json!({ "seeds": 2, "train": { "n_updates": 40, "lr": 0.1 }, "c": [1.0, 2.5] })),
            "c[1]: directory has 2.0, this run 2.5"
        );
        assert_eq!(
            diff(json!({ "seeds": 2, "train": { "n_updates": 40, "lr": 0.1 }, "c": [1.0] })),
            "c: directory has 2 entries, this run 1"
        );
        assert_eq!(
            diff(json!({ "seeds": 2, "train": { "n_updates": 40 }, "c": [1.0, 2.0] })),
            "train.lr: directory has 0.1, this run has no such setting"
        );
        assert_eq!(first_difference(&a, &a.clone()), None);
    }

    #[test]
    fn fingerprints_of_bytes_and_files_agree() {
        // Reference values of 64-bit FNV-1a.
        assert_eq!(fnv1a64(b""), "cbf29ce484222325");
        assert_eq!(fnv1a64(b"a"), "af63dc4c8601ec8c");
        let mut h = Fnv1a64::default();
        h.update(b"foo");
        h.update(b"bar");
        assert_eq!(h.hex(), fnv1a64(b"foobar"));
        let d = std::env::temp_dir().join(format!("jobs-fp-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("input.bin");
        let bytes: Vec<u8> = (0..200_000u32).map(|k| (k % 251) as u8).collect();
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(fingerprint_file(&p).unwrap(), fnv1a64(&bytes));
        let e = fingerprint_file(&d.join("absent")).unwrap_err().to_string();
        assert!(e.contains("absent"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_manifest_is_written_once_then_refuses_other_settings_naming_the_key() {
        let d = std::env::temp_dir().join(format!("jobs-manifest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let m = Manifest::new(d.join("manifest.json"), "use another --out");
        let a = json!({ "seed": 5, "inputs": { "sc.csv": "cbf29ce484222325" } });
        assert_eq!(m.read().unwrap(), None);
        assert_eq!(m.check_or_write(&a).unwrap(), ManifestState::Written);
        assert_eq!(m.check_or_write(&a).unwrap(), ManifestState::Same);
        let b = json!({ "seed": 5, "inputs": { "sc.csv": "0000000000000000" } });
        let e = m.check_or_write(&b).unwrap_err().to_string();
        assert!(
            e.contains("manifest.json: made with other settings (inputs.sc.csv: directory has")
                && e.ends_with("; use another --out"),
            "{e}"
        );
        std::fs::write(m.path(), b"{ not json").unwrap();
        let e = m.read().unwrap_err().to_string();
        assert!(
            e.contains("manifest.json") && e.contains("not valid JSON"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}
