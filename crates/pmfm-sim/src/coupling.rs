//! Structural coupling through the connectome (`pmfm-model.md`): `C = SC / max(SC) · 0.2`.

/// Scale applied to the max-normalised structural connectivity.
pub const COUPLING_SCALE: f64 = 0.2;

/// Coupling matrix C (row-major, [regions, regions]) from raw structural connectivity.
/// Returns `None` when SC has no positive entry (nothing to normalise by).
pub fn coupling_matrix(sc: &[f64]) -> Option<Vec<f64>> {
    let max = sc.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !(max > 0.0 && max.is_finite()) {
        return None;
    }
    Some(sc.iter().map(|x| x / max * COUPLING_SCALE).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coupling_is_max_normalised_and_scaled() {
        let sc = [0.0, 50.0, 50.0, 0.0, 0.0, 200.0, 50.0, 200.0, 0.0];
        let c = coupling_matrix(&sc).unwrap();
        assert!((c[5] - 0.2).abs() < 1e-15);
        assert!((c[1] - 0.05).abs() < 1e-15);
        assert_eq!(c[0], 0.0);
        assert!(coupling_matrix(&[0.0; 4]).is_none());
    }
}
