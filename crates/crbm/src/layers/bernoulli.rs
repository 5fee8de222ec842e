//! Bernoulli visible unit v ∈ {0,1} with field g: `P(v=1|x) = sigmoid(g + x)`.

use rand::Rng;

/// Numerically stable logistic function.
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + eˣ)`: the Bernoulli cumulant generating function (free energy of a
/// visible unit when the hidden units are integrated in the other direction).
#[inline]
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// `logit(p) = ln(p/(1−p))`, with p clamped to [ε, 1−ε] so all-zero or
/// all-one neurons get a finite field.
pub fn logit(p: f64, eps: f64) -> f64 {
    let p = p.clamp(eps, 1.0 - eps);
    (p / (1.0 - p)).ln()
}

/// One Bernoulli draw with P(1) = sigmoid(x).
#[inline]
pub fn sample<R: Rng + ?Sized>(x: f64, rng: &mut R) -> bool {
    rng.random::<f64>() < sigmoid(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softplus_and_sigmoid_are_stable_and_consistent() {
        for &x in &[-800.0, -30.0, -1.0, 0.0, 2.0, 40.0, 800.0] {
            let d = 1e-5;
            let fd = (softplus(x + d) - softplus(x - d)) / (2.0 * d);
            assert!((fd - sigmoid(x)).abs() < 1e-8, "x={x}");
            assert!(softplus(x).is_finite());
        }
        assert_eq!(sigmoid(-800.0), 0.0);
        assert!((logit(sigmoid(1.3), 1e-9) - 1.3).abs() < 1e-12);
        assert!(logit(0.0, 1e-6).is_finite());
    }
}
