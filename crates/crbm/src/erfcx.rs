//! Scaled complementary error function `erfcx(x) = exp(x²)·erfc(x)` and its
//! logarithm, stable over the whole real line.
//!
//! The dReLU cumulant generating function (spec: `Φ± = log(√(π/2γ±)·erfcx(·))`)
//! needs `log erfcx` for arguments from about −10⁴ to +10⁴: `erfc` alone
//! underflows beyond x ≈ 26.5 and `exp(x²)` overflows beyond x ≈ 26.6.
//!
//! Three branches:
//! * `x < 0`: `erfc(x) = 2 − erfc(−x) ∈ (1, 2]` has no cancellation, so
//!   `log erfcx(x) = x² + ln erfc(x)`; erfcx grows like `2·exp(x²)`.
//! * `0 ≤ x < ASYMPTOTIC_FROM`: `ln erfc(x) + x²` with libm's `erfc`, which keeps
//!   full relative accuracy down to its underflow (x ≈ 26.5).
//! * `x ≥ ASYMPTOTIC_FROM`: the asymptotic series
//!   `erfcx(x) = 1/(x√π) · Σ_n (−1)ⁿ (2n−1)!! / (2x²)ⁿ`, summed until the terms
//!   drop below machine precision (they keep shrinking up to n ≈ x², far beyond
//!   what is needed at x ≥ 8).

/// Arguments at or above this use the asymptotic series.
pub const ASYMPTOTIC_FROM: f64 = 8.0;

const LN_SQRT_PI: f64 = 0.572_364_942_924_700_087_071_713_675_677; // ln √π

/// Asymptotic series `Σ_n (−1)ⁿ (2n−1)!!/(2x²)ⁿ` (the bracket in erfcx·x√π), for x ≥ 8.
pub(crate) fn asymptotic_bracket(x: f64) -> f64 {
    asymptotic_sums(x).0
}

/// For x ≥ 8, with `u = 1/(2x²)` and `tₙ = (−1)ⁿ (2n−1)!! uⁿ`, returns
/// `(B, D, B − D)` where `B = Σ_{n≥0} tₙ` (so erfcx(x) = B/(x√π)),
/// `D = Σ_{n≥0} (2n+1) tₙ` and `B − D = −Σ_{n≥1} 2n·tₙ`, each summed term by
/// term so that the truncated-normal tail moments built from them
/// ([`crate::layers::truncnorm`]) never suffer cancellation. The terms shrink
/// up to n ≈ x² ≥ 64, far past the 1e-18 stopping point.
pub(crate) fn asymptotic_sums(x: f64) -> (f64, f64, f64) {
    let u = 1.0 / (2.0 * x * x);
    let (mut t, mut b, mut d, mut bd) = (1.0, 1.0, 1.0, 0.0);
    for n in 1..60 {
        let nf = n as f64;
        t *= -(2.0 * nf - 1.0) * u;
        b += t;
        d += (2.0 * nf + 1.0) * t;
        bd -= 2.0 * nf * t;
        if (2.0 * nf + 1.0) * t.abs() < 1e-18 * bd.abs() {
            break;
        }
    }
    (b, d, bd)
}

/// `ln erfcx(x)` for any finite x (and ±∞: +∞ for −∞, −∞ for +∞). NaN propagates.
pub fn log_erfcx(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x >= ASYMPTOTIC_FROM {
        if x.is_infinite() {
            return f64::NEG_INFINITY;
        }
        // ln(1/(x√π)) + ln(bracket)
        -x.ln() - LN_SQRT_PI + asymptotic_bracket(x).ln()
    } else if x == f64::NEG_INFINITY {
        f64::INFINITY
    } else {
        // Covers both x < 0 (erfc ∈ (1,2]) and the moderate positive range.
        x * x + libm::erfc(x).ln()
    }
}

/// `erfcx(x) = exp(x²)·erfc(x)`; overflows to +∞ only for x < −26.6.
pub fn erfcx(x: f64) -> f64 {
    if x >= ASYMPTOTIC_FROM {
        asymptotic_bracket(x) / (x * std::f64::consts::PI.sqrt())
    } else if x >= 0.0 {
        (x * x).exp() * libm::erfc(x)
    } else {
        log_erfcx(x).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quadrature::simpson_weight;

    /// Reference `ln erfcx(x)` from the integral representation
    /// `erfcx(x) = (2/√π) ∫₀^∞ exp(−t² − 2xt) dt`, valid for every real x,
    /// evaluated by composite Simpson with the integrand's peak factored out.
    /// Independent of libm's erfc and of the asymptotic series.
    fn log_erfcx_by_quadrature(x: f64) -> f64 {
        // Exponent f(t) = −t² − 2xt, maximal at t* = max(0, −x).
        let t_star = (-x).max(0.0);
        let f_star = -t_star * t_star - 2.0 * x * t_star;
        // Decay scale: Gaussian width 1 around an interior peak, 1/(2x) for a boundary peak.
        let scale = if x > 0.0 { 1.0 / (2.0 * x + 1.0) } else { 1.0 };
        let lo = (t_star - 12.0 * scale).max(0.0);
        let hi = t_star + 40.0 * scale;
        let n = 200_000; // even
        let h = (hi - lo) / n as f64;
        let mut s = 0.0;
        for k in 0..=n {
            let t = lo + k as f64 * h;
            let w = simpson_weight(k, n);
            s += w * (-t * t - 2.0 * x * t - f_star).exp();
        }
        (2.0 / std::f64::consts::PI.sqrt()).ln() + f_star + (s * h / 3.0).ln()
    }

    #[test]
    fn log_erfcx_matches_quadrature_over_wide_range() {
        let xs = [
            -30.0, -26.0, -10.0, -5.0, -2.0, -1.0, -0.3, 0.0, 0.1, 0.5, 1.0, 2.0, 4.0, 6.0, 7.9,
            8.0, 8.1, 10.0, 20.0, 26.0, 30.0, 100.0, 1e3, 1e4,
        ];
        for &x in &xs {
            let want = log_erfcx_by_quadrature(x);
            let got = log_erfcx(x);
            let tol = 1e-11 * want.abs().max(1.0);
            assert!((got - want).abs() < tol, "x={x}: got {got}, want {want}");
        }
    }

    #[test]
    fn log_erfcx_matches_high_precision_values() {
        // mpmath (50 digits): log(erfc(x)*exp(x**2)).
        let table = [
            (-20.0, 400.69314718055994531),
            (-5.0, 25.69314718055917658),
            (-1.0, 1.6112323176780704946),
            (-0.25, 0.30648594388138443125),
            (0.0, 0.0),
            (0.5, -0.48501112983708440303),
            (1.0, -0.84960550993324824858),
            (3.0, -1.7203630419811125677),
            (5.0, -2.2008895455374344224),
            (7.5, -2.5959674738723148092),
            (8.0, -2.6594719708051614897),
            (12.0, -3.0607141779870094858),
            (50.0, -4.484587848451371873),
            (300.0, -6.2761529730592983229),
        ];
        for (x, want) in table {
            let got = log_erfcx(x);
            assert!(
                (got - want).abs() < 1e-13 * f64::abs(want).max(1.0),
                "x={x}: got {got}, want {want}"
            );
        }
    }

    #[test]
    fn branches_join_continuously_and_infinities() {
        let below = log_erfcx(ASYMPTOTIC_FROM - 1e-12);
        let at = log_erfcx(ASYMPTOTIC_FROM);
        assert!((below - at).abs() < 1e-12);
        assert_eq!(log_erfcx(f64::INFINITY), f64::NEG_INFINITY);
        assert_eq!(log_erfcx(f64::NEG_INFINITY), f64::INFINITY);
        assert!(log_erfcx(f64::NAN).is_nan());
        // Large negative: ln 2 + x².
        let x = -1e3;
        assert!((log_erfcx(x) - (x * x + 2f64.ln())).abs() < 1e-9);
        assert!((erfcx(3.0) - log_erfcx(3.0).exp()).abs() < 1e-15);
        assert!((erfcx(20.0) - log_erfcx(20.0).exp()).abs() < 1e-16);
    }
}
