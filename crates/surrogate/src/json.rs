//! Comparing a settings file on disk with the settings of a new run (dataset manifests, sweep
//! configs, active-learning manifests, CMA-ES checkpoints), so that `--resume` accepts exactly
//! the same settings.
//!
//! serde_json writes every f64 in its shortest round-trip form, but without its
//! `float_roundtrip` feature (which would change the feature set of a crate the whole burn stack
//! depends on) it parses numbers of 17 significant digits only to within about one unit in the
//! last place. A manifest read back can therefore differ from the one that was written in the last
//! bit of a float — e.g. the centres of the reference example's candidates — and an exact
//! comparison would refuse the very run that wrote it.

use serde_json::Value;

/// Largest relative difference of two floats that still count as the same written number.
const REL_TOL: f64 = 1e-14;

/// Whether two JSON values are the same settings: equal structure, keys, strings and booleans,
/// and numbers equal to within a relative 1e-14 (a decimal round trip moves at most the last few
/// bits; any real change of a setting is far larger).
pub fn same_settings(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(p), Some(q)) if x.is_f64() || y.is_f64() => {
                p == q || (p - q).abs() <= REL_TOL * p.abs().max(q.abs())
            }
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_settings(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_settings(v, w)))
        }
        _ => a == b,
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
        }
    }
}
