//! Composite Simpson weights, shared by the exact quadratures of the Gaussian model and
//! the reference integrals the erfcx and dReLU tests check against.

/// Weight of node `k` (0 ≤ k ≤ n) of the composite Simpson rule over `n` (even)
/// intervals, before the factor h/3: 1 at the ends, 4 at odd nodes, 2 at even ones.
pub(crate) fn simpson_weight(k: usize, n: usize) -> f64 {
    if k == 0 || k == n {
        1.0
    } else if k % 2 == 1 {
        4.0
    } else {
        2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simpson_integrates_cubics_exactly() {
        // ∫₀² x³ dx = 4 with 4 intervals of h = 0.5.
        let (n, h) = (4, 0.5);
        let s: f64 = (0..=n)
            .map(|k| simpson_weight(k, n) * (k as f64 * h).powi(3))
            .sum();
        assert!((s * h / 3.0 - 4.0).abs() < 1e-12, "{}", s * h / 3.0);
    }
}
