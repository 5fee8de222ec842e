//! Standard normal truncated to `z ≥ α`: moments and exact sampling, robust
//! for any α (deep inside the support or far in the tail).
//!
//! Everything is returned as the *excess* `e = z − α ≥ 0`, because callers
//! (the dReLU branches) need `h = σ·e` and forming `μ + σz` in the far tail
//! would cancel catastrophically.

use rand::Rng;
use rand_distr::{Distribution, Exp1, StandardNormal};

use crate::erfcx::{asymptotic_sums, erfcx, ASYMPTOTIC_FROM};

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;

/// Inverse Mills ratio `λ(α) = φ(α)/Q(α) = √(2/π) / erfcx(α/√2)`.
pub fn inverse_mills(alpha: f64) -> f64 {
    SQRT_2_OVER_PI / erfcx(alpha / std::f64::consts::SQRT_2)
}

/// Mean and variance of the excess `z − α` of a standard normal truncated to `z ≥ α`:
/// mean `r = λ − α`, variance `1 − λ(λ − α)`.
///
/// Formed directly, both lose precision in the tail (relative error ≈ ε·α² for
/// the mean and ε·α⁴ for the variance). For α ≥ 8√2 (the asymptotic branch of
/// erfcx) they are rebuilt from the series sums B, D, B−D of
/// [`crate::erfcx::asymptotic_sums`] with u = 1/α²: `r = D/(αB)`,
/// `1 − αr = (B − D)/B`, `Var = (B − D)/B − r²` (≈ 2u − u, no cancellation).
pub fn lower_tail_excess_moments(alpha: f64) -> (f64, f64) {
    let x = alpha / std::f64::consts::SQRT_2;
    if x >= ASYMPTOTIC_FROM {
        let (b, d, bd) = asymptotic_sums(x);
        let r = d / (alpha * b);
        let var = bd / b - r * r;
        return (r, var);
    }
    let lambda = SQRT_2_OVER_PI / erfcx(x);
    let excess = lambda - alpha;
    // 1 − λ(λ−α) is positive; clamp the last-ulp rounding that could push it below 0.
    let var = (1.0 - lambda * excess).max(0.0);
    (excess, var)
}

/// Exact sample of the excess `z − α` for z ~ N(0,1) conditioned on z ≥ α.
///
/// * α < 0: plain rejection from N(0,1) (acceptance Q(α) ≥ 1/2).
/// * α ≥ 0: Robert (1995) translated-exponential rejection with the optimal
///   rate λ* = (α + √(α²+4))/2; acceptance ≥ 0.76 and → 1 in the far tail.
pub fn sample_lower_tail_excess<R: Rng + ?Sized>(alpha: f64, rng: &mut R) -> f64 {
    if alpha < 0.0 {
        loop {
            let z: f64 = StandardNormal.sample(rng);
            if z >= alpha {
                return z - alpha;
            }
        }
    }
    let rate = 0.5 * (alpha + (alpha * alpha + 4.0).sqrt());
    loop {
        let e: f64 = Exp1.sample(rng);
        let e = e / rate;
        let d = alpha + e - rate;
        let u: f64 = rng.random();
        if u <= (-0.5 * d * d).exp() {
            return e;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn tail_moments_match_high_precision_values() {
        // mpmath (50 digits): r = λ−α, Var = 1 − λ(λ−α), λ = φ(α)/Q(α).
        let table = [
            (-3.0, 3.0044378390421257, 0.98666678845825919),
            (0.0, 0.79788456080286536, 0.36338022763241866),
            (5.0, 0.18650396712584212, 0.032696434617112225),
            (11.0, 0.089465029715172392, 0.0078806815911670036),
            (11.4, 0.086418534350205134, 0.0073605453284238569),
            (40.0, 0.024968847207263723, 0.00062266837859138877),
            (1e4, 9.99999980000001e-5, 9.99999940000005e-9),
        ];
        for (alpha, r_want, v_want) in table {
            let (r, v) = lower_tail_excess_moments(alpha);
            assert!(
                (r - r_want).abs() < 1e-12 * r_want,
                "α={alpha}: r {r} vs {r_want}"
            );
            assert!(
                (v - v_want).abs() < 1e-10 * v_want,
                "α={alpha}: var {v} vs {v_want}"
            );
        }
    }

    #[test]
    fn samples_match_moments_inside_and_in_far_tail() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for &alpha in &[-30.0, -2.0, -0.1, 0.0, 0.4, 2.5, 10.0, 80.0, 5e3] {
            let (m, v) = lower_tail_excess_moments(alpha);
            let n = 100_000;
            let (mut s1, mut s2) = (0.0, 0.0);
            for _ in 0..n {
                let e = sample_lower_tail_excess(alpha, &mut rng);
                assert!(e >= 0.0);
                s1 += e;
                s2 += e * e;
            }
            let mean = s1 / n as f64;
            let var = s2 / n as f64 - mean * mean;
            let se_mean = (v / n as f64).sqrt();
            assert!(
                (mean - m).abs() < 5.0 * se_mean,
                "alpha={alpha}: mean {mean} vs {m}"
            );
            // Var estimate: relative standard error ≲ √(κ/n) with κ ≤ ~9 for these shapes.
            assert!(
                (var - v).abs() < 0.05 * v,
                "alpha={alpha}: var {var} vs {v}"
            );
        }
    }
}
