//! Double-ReLU (dReLU) hidden unit.
//!
//! Potential `U(h) = γ+·h+²/2 + θ+·h+ + γ−·h−²/2 + θ−·h−`, h+ = max(h,0),
//! h− = max(−h,0), γ± > 0. Given the input `I = Σ_i w_iμ v_i`, `p(h|I) ∝
//! exp(−U(h) + I·h)` is a mixture of two truncated Gaussians:
//! * h ≥ 0: precision γ+, mean (I − θ+)/γ+, weight ∝ exp(Φ+),
//! * h < 0: precision γ−, mean (I + θ−)/γ−, weight ∝ exp(Φ−),
//!
//! with `Φ+ = ln √(π/2γ+) + ln erfcx((θ+ − I)/√(2γ+))`,
//! `Φ− = ln √(π/2γ−) + ln erfcx((θ− + I)/√(2γ−))` and the cumulant generating
//! function `Φ(I) = logaddexp(Φ+, Φ−)`; `Φ′ = E[h|I]`, `Φ″ = Var[h|I]`.
//!
//! Each branch is a standard normal truncated to `z ≥ α` (in units of its σ):
//! branch + has `α+ = √2·x+`, `h = σ+·e`; branch − has `α− = √2·x−`,
//! `h = −σ−·e`, with `e` the excess `z − α` (see [`super::truncnorm`]).

use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::truncnorm::{lower_tail_excess_moments, sample_lower_tail_excess};
use crate::erfcx::log_erfcx;
use crate::rng::lane_rng;

const HALF_LN_PI_OVER_2: f64 = 0.225_791_352_644_727_43; // ½ ln(π/2)

/// Parameters of one dReLU hidden unit (dimensionless; γ± > 0).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DRelu {
    pub gamma_plus: f64,
    pub gamma_minus: f64,
    pub theta_plus: f64,
    pub theta_minus: f64,
}

impl Default for DRelu {
    /// The spec's initialisation: γ± = 1, θ± = 0 (a standard Gaussian potential).
    fn default() -> Self {
        Self {
            gamma_plus: 1.0,
            gamma_minus: 1.0,
            theta_plus: 0.0,
            theta_minus: 0.0,
        }
    }
}

/// Everything about `p(h|I)` that training and evaluation need, for one input I.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DReluMoments {
    /// Φ(I).
    pub cgf: f64,
    /// Φ′(I) = E[h|I].
    pub mean: f64,
    /// Φ″(I) = Var[h|I].
    pub var: f64,
    /// Probability of the h ≥ 0 branch, exp(Φ+ − Φ).
    pub p_plus: f64,
    /// E[h+|I], E[h+²|I], E[h−|I], E[h−²|I]: the sufficient statistics of U
    /// (∂Φ/∂θ± = −E[h±], ∂Φ/∂γ± = −E[h±²]/2).
    pub e_hp: f64,
    pub e_hp2: f64,
    pub e_hm: f64,
    pub e_hm2: f64,
}

impl DRelu {
    /// Branch arguments `x+ = (θ+ − I)/√(2γ+)`, `x− = (θ− + I)/√(2γ−)`.
    #[inline]
    fn branch_args(&self, input: f64) -> (f64, f64) {
        (
            (self.theta_plus - input) / (2.0 * self.gamma_plus).sqrt(),
            (self.theta_minus + input) / (2.0 * self.gamma_minus).sqrt(),
        )
    }

    /// `(Φ+, Φ−)` at input I.
    #[inline]
    pub fn cgf_parts(&self, input: f64) -> (f64, f64) {
        let (xp, xm) = self.branch_args(input);
        (
            HALF_LN_PI_OVER_2 - 0.5 * self.gamma_plus.ln() + log_erfcx(xp),
            HALF_LN_PI_OVER_2 - 0.5 * self.gamma_minus.ln() + log_erfcx(xm),
        )
    }

    /// Φ(I) = log ∫ exp(−U(h) + I·h) dh.
    #[inline]
    pub fn cgf(&self, input: f64) -> f64 {
        let (a, b) = self.cgf_parts(input);
        logaddexp(a, b)
    }

    /// Φ, Φ′, Φ″ and the branch statistics at input I.
    pub fn moments(&self, input: f64) -> DReluMoments {
        let (xp, xm) = self.branch_args(input);
        let (phi_p, phi_m) = self.cgf_parts(input);
        let cgf = logaddexp(phi_p, phi_m);
        let p_plus = (phi_p - cgf).exp();
        let p_minus = (phi_m - cgf).exp();
        let sp = 1.0 / self.gamma_plus.sqrt();
        let sm = 1.0 / self.gamma_minus.sqrt();
        let (ep, vp) = lower_tail_excess_moments(std::f64::consts::SQRT_2 * xp);
        let (em, vm) = lower_tail_excess_moments(std::f64::consts::SQRT_2 * xm);
        // Branch magnitudes m± ≥ 0 and variances v±.
        let (mp, mm) = (sp * ep, sm * em);
        let (vp, vm) = (sp * sp * vp, sm * sm * vm);
        let mean = p_plus * mp - p_minus * mm;
        // Mixture variance without the cancellation of E[h²] − E[h]².
        let var = p_plus * vp + p_minus * vm + p_plus * p_minus * (mp + mm) * (mp + mm);
        DReluMoments {
            cgf,
            mean,
            var,
            p_plus,
            e_hp: p_plus * mp,
            e_hp2: p_plus * (vp + mp * mp),
            e_hm: p_minus * mm,
            e_hm2: p_minus * (vm + mm * mm),
        }
    }

    /// E[h|I] = Φ′(I).
    pub fn mean(&self, input: f64) -> f64 {
        self.moments(input).mean
    }

    /// Var[h|I] = Φ″(I).
    pub fn var(&self, input: f64) -> f64 {
        self.moments(input).var
    }

    /// Exact sample of h ~ p(h|I): choose the branch with probability exp(Φ± − Φ),
    /// then sample the truncated Gaussian of that branch.
    pub fn sample<R: Rng + ?Sized>(&self, input: f64, rng: &mut R) -> f64 {
        let (xp, xm) = self.branch_args(input);
        let (phi_p, phi_m) = self.cgf_parts(input);
        // P(+) = 1/(1 + exp(Φ− − Φ+)); written this way it never forms exp(+large).
        let p_plus = sigmoid(phi_p - phi_m);
        let u: f64 = rng.random();
        if u < p_plus {
            sample_lower_tail_excess(std::f64::consts::SQRT_2 * xp, rng) / self.gamma_plus.sqrt()
        } else {
            -sample_lower_tail_excess(std::f64::consts::SQRT_2 * xm, rng) / self.gamma_minus.sqrt()
        }
    }

    /// Potential U(h).
    pub fn potential(&self, h: f64) -> f64 {
        if h >= 0.0 {
            0.5 * self.gamma_plus * h * h + self.theta_plus * h
        } else {
            0.5 * self.gamma_minus * h * h - self.theta_minus * h
        }
    }

    /// The same unit with h ↦ −h (γ+↔γ−, θ+↔θ−): used by the sign fix-up.
    pub fn flipped(&self) -> Self {
        Self {
            gamma_plus: self.gamma_minus,
            gamma_minus: self.gamma_plus,
            theta_plus: self.theta_minus,
            theta_minus: self.theta_plus,
        }
    }

    /// The four parameters in the order of [`Self::COLUMN_NAMES`].
    pub fn params(&self) -> [f64; 4] {
        [
            self.gamma_plus,
            self.gamma_minus,
            self.theta_plus,
            self.theta_minus,
        ]
    }

    /// Whether all four parameters are finite.
    pub fn is_finite(&self) -> bool {
        self.params().iter().all(|x| x.is_finite())
    }

    /// Whether the unit is a proper one: finite parameters and γ± > 0.
    pub fn is_valid(&self) -> bool {
        self.is_finite() && self.gamma_plus > 0.0 && self.gamma_minus > 0.0
    }

    /// Exact draws h ~ p(h | I) of a hidden layer for a batch, in place: `h` holds the
    /// inputs I, shape [B, M] row-major (M = `units.len()`), and receives the draws. Row b
    /// draws from the stream `lane_rng(seed, step, b)`, so the draws depend neither on the
    /// thread count nor on the engine that computed I. A non-finite input or an invalid unit
    /// (a run that diverged) gives NaN: there is no distribution to sample, and the
    /// explosion checks see the NaN.
    pub fn sample_rows(units: &[DRelu], h: &mut [f32], seed: u64, step: u64) {
        h.par_chunks_mut(units.len().max(1))
            .enumerate()
            .for_each(|(b, row)| {
                let mut rng = lane_rng(seed, step, b as u64);
                for (x, u) in row.iter_mut().zip(units) {
                    *x = if x.is_finite() && u.is_valid() {
                        u.sample(*x as f64, &mut rng) as f32
                    } else {
                        f32::NAN
                    };
                }
            });
    }

    /// `Σ_μ U_μ(h_μ)` of a hidden layer at the state `h` [M].
    pub fn potential_sum(units: &[DRelu], h: &[f64]) -> f64 {
        units.iter().zip(h).map(|(u, &x)| u.potential(x)).sum()
    }

    /// `Σ_μ Φ_μ(I_μ)` of a hidden layer at the inputs `input` [M].
    pub fn cgf_sum(units: &[DRelu], input: &[f64]) -> f64 {
        units.iter().zip(input).map(|(u, &x)| u.cgf(x)).sum()
    }

    /// Names of the parameter columns of a hidden layer, as the `.npz` files and the
    /// device tensors store them.
    pub const COLUMN_NAMES: [&'static str; 4] =
        ["gamma_plus", "gamma_minus", "theta_plus", "theta_minus"];

    /// The parameter columns γ+, γ−, θ+, θ− of a hidden layer, shape [M] each.
    pub fn columns(units: &[DRelu]) -> [Vec<f64>; 4] {
        std::array::from_fn(|c| units.iter().map(|u| u.params()[c]).collect())
    }

    /// A hidden layer from its columns γ+, γ−, θ+, θ− (shape [M] each; M from γ+).
    pub fn from_columns([gp, gm, tp, tm]: [&[f64]; 4]) -> Vec<DRelu> {
        (0..gp.len())
            .map(|k| DRelu {
                gamma_plus: gp[k],
                gamma_minus: gm[k],
                theta_plus: tp[k],
                theta_minus: tm[k],
            })
            .collect()
    }
}

/// ReLU hidden unit: `U(h) = γh²/2 + θh` for h ≥ 0, +∞ for h < 0
/// (the dReLU with only its + branch).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Relu {
    pub gamma: f64,
    pub theta: f64,
}

impl Relu {
    /// (Φ, Φ′, Φ″) at input I.
    pub fn cgf_mean_var(&self, input: f64) -> (f64, f64, f64) {
        let x = (self.theta - input) / (2.0 * self.gamma).sqrt();
        let s = 1.0 / self.gamma.sqrt();
        let (e, v) = lower_tail_excess_moments(std::f64::consts::SQRT_2 * x);
        (
            HALF_LN_PI_OVER_2 - 0.5 * self.gamma.ln() + log_erfcx(x),
            s * e,
            s * s * v,
        )
    }

    pub fn sample<R: Rng + ?Sized>(&self, input: f64, rng: &mut R) -> f64 {
        let x = (self.theta - input) / (2.0 * self.gamma).sqrt();
        sample_lower_tail_excess(std::f64::consts::SQRT_2 * x, rng) / self.gamma.sqrt()
    }
}

/// Gaussian hidden unit: `U(h) = γh²/2 + θh` on ℝ; the dReLU with γ+ = γ− = γ,
/// θ+ = θ, θ− = −θ.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gaussian {
    pub gamma: f64,
    pub theta: f64,
}

impl Gaussian {
    /// (Φ, Φ′, Φ″) at input I: Φ = (I−θ)²/(2γ) + ½ ln(2π/γ).
    pub fn cgf_mean_var(&self, input: f64) -> (f64, f64, f64) {
        let d = input - self.theta;
        (
            d * d / (2.0 * self.gamma) + 0.5 * (2.0 * std::f64::consts::PI / self.gamma).ln(),
            d / self.gamma,
            1.0 / self.gamma,
        )
    }

    pub fn sample<R: Rng + ?Sized>(&self, input: f64, rng: &mut R) -> f64 {
        let z: f64 = rand_distr::Distribution::sample(&rand_distr::StandardNormal, rng);
        (input - self.theta) / self.gamma + z / self.gamma.sqrt()
    }

    /// The equivalent dReLU.
    pub fn as_drelu(&self) -> DRelu {
        DRelu {
            gamma_plus: self.gamma,
            gamma_minus: self.gamma,
            theta_plus: self.theta,
            theta_minus: -self.theta,
        }
    }
}

/// ln(eᵃ + eᵇ) without overflow.
#[inline]
pub fn logaddexp(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((a - m).exp() + (b - m).exp()).ln()
}

#[inline]
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quadrature::simpson_weight;
    use rand::SeedableRng;

    #[test]
    fn sample_rows_draws_row_b_from_its_own_stream_and_nan_without_a_distribution() {
        let good = DRelu {
            gamma_plus: 0.7,
            gamma_minus: 2.0,
            theta_plus: 0.3,
            theta_minus: -0.4,
        };
        let bad = DRelu {
            gamma_minus: 0.0,
            ..good
        };
        let units = [good, good, bad];
        let inputs = [0.5f32, -1.0, 0.2, f32::NAN, 2.0, 0.1];
        let mut h = inputs;
        DRelu::sample_rows(&units, &mut h, 11, 3);
        for b in 0..2 {
            let mut rng = lane_rng(11, 3, b as u64);
            for mu in 0..2 {
                let x = inputs[3 * b + mu];
                let want = if x.is_finite() {
                    units[mu].sample(x as f64, &mut rng) as f32
                } else {
                    f32::NAN
                };
                let got = h[3 * b + mu];
                assert!(
                    got == want || (got.is_nan() && want.is_nan()),
                    "row {b} unit {mu}"
                );
            }
            assert!(h[3 * b + 2].is_nan(), "invalid unit, row {b}");
        }
    }

    /// ln ∫₀^∞ exp(−γy²/2 + s·y) dy and the first two moments of y, by
    /// composite Simpson around the peak (reference, independent of erfcx).
    fn half_line(gamma: f64, s: f64) -> (f64, f64, f64) {
        let sigma = 1.0 / gamma.sqrt();
        let y_star = (s / gamma).max(0.0);
        let f = |y: f64| -0.5 * gamma * y * y + s * y;
        let f_star = f(y_star);
        let scale = if s < 0.0 { sigma.min(1.0 / -s) } else { sigma };
        let lo = (y_star - 40.0 * sigma).max(0.0);
        let hi = y_star + 40.0 * scale;
        let n = 40_000;
        let h = (hi - lo) / n as f64;
        let (mut z, mut m1, mut m2) = (0.0, 0.0, 0.0);
        for k in 0..=n {
            let y = lo + k as f64 * h;
            let w = simpson_weight(k, n);
            let e = w * (f(y) - f_star).exp();
            z += e;
            m1 += e * y;
            m2 += e * y * y;
        }
        (f_star + (z * h / 3.0).ln(), m1 / z, m2 / z)
    }

    /// Reference (Φ, Φ′, Φ″) by quadrature of exp(−U(h) + I·h) on each half-line.
    fn reference(u: &DRelu, input: f64) -> (f64, f64, f64) {
        let (lp, m1p, m2p) = half_line(u.gamma_plus, input - u.theta_plus);
        // h = −y on the negative half-line: exponent −γ−y²/2 − θ−y − I·y.
        let (lm, m1m, m2m) = half_line(u.gamma_minus, -(input + u.theta_minus));
        let phi = logaddexp(lp, lm);
        let (pp, pm) = ((lp - phi).exp(), (lm - phi).exp());
        let mean = pp * m1p - pm * m1m;
        let var = pp * (m2p - m1p * m1p) + pm * (m2m - m1m * m1m) + pp * pm * (m1p + m1m).powi(2);
        (phi, mean, var)
    }

    #[test]
    fn cgf_mean_var_match_quadrature_over_wide_range() {
        let inputs = [-50.0, -12.0, -3.0, -0.5, 0.0, 0.8, 4.0, 15.0, 50.0];
        let gammas = [0.1, 1.0, 10.0];
        let thetas = [-3.0, 0.0, 3.0];
        for &i in &inputs {
            for &gp in &gammas {
                for &gm in &gammas {
                    for &tp in &thetas {
                        for &tm in &thetas {
                            let u = DRelu {
                                gamma_plus: gp,
                                gamma_minus: gm,
                                theta_plus: tp,
                                theta_minus: tm,
                            };
                            let m = u.moments(i);
                            let (phi, mean, var) = reference(&u, i);
                            let ctx =
                                format!("{u:?} I={i}: got {m:?}, want ({phi}, {mean}, {var})");
                            assert!((m.cgf - phi).abs() < 1e-10 * phi.abs().max(1.0), "Φ {ctx}");
                            assert!(
                                (m.mean - mean).abs() < 1e-9 * mean.abs().max(1.0),
                                "Φ′ {ctx}"
                            );
                            assert!((m.var - var).abs() < 1e-8 * var, "Φ″ {ctx}");
                            // Φ′ and Φ″ are derivatives of Φ: check by central differences too.
                            let d = 1e-4;
                            let fd1 = (u.cgf(i + d) - u.cgf(i - d)) / (2.0 * d);
                            assert!(
                                (fd1 - m.mean).abs() < 1e-6 * m.mean.abs().max(1.0),
                                "FD Φ′ {ctx}"
                            );
                            let fd2 = (u.mean(i + d) - u.mean(i - d)) / (2.0 * d);
                            assert!((fd2 - m.var).abs() < 1e-5 * m.var.max(1e-3), "FD Φ″ {ctx}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn sufficient_statistics_are_cgf_derivatives() {
        let u = DRelu {
            gamma_plus: 0.7,
            gamma_minus: 2.3,
            theta_plus: -0.4,
            theta_minus: 1.1,
        };
        let d = 1e-6;
        for &i in &[-4.0, -0.3, 0.0, 1.2, 6.0] {
            let m = u.moments(i);
            let dphi = |f: &dyn Fn(&mut DRelu, f64)| {
                let (mut a, mut b) = (u, u);
                f(&mut a, d);
                f(&mut b, -d);
                (a.cgf(i) - b.cgf(i)) / (2.0 * d)
            };
            assert!((dphi(&|p, e| p.theta_plus += e) + m.e_hp).abs() < 1e-7);
            assert!((dphi(&|p, e| p.theta_minus += e) + m.e_hm).abs() < 1e-7);
            assert!((dphi(&|p, e| p.gamma_plus += e) + 0.5 * m.e_hp2).abs() < 1e-7);
            assert!((dphi(&|p, e| p.gamma_minus += e) + 0.5 * m.e_hm2).abs() < 1e-7);
        }
    }

    #[test]
    fn samples_match_mean_and_variance() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let units = [
            DRelu::default(),
            DRelu {
                gamma_plus: 0.2,
                gamma_minus: 5.0,
                theta_plus: 2.0,
                theta_minus: -1.0,
            },
            DRelu {
                gamma_plus: 8.0,
                gamma_minus: 0.3,
                theta_plus: -3.0,
                theta_minus: 3.0,
            },
        ];
        for u in units {
            for &i in &[-50.0, -2.0, 0.0, 1.5, 50.0] {
                let m = u.moments(i);
                let n = 100_000;
                let (mut s1, mut s2) = (0.0, 0.0);
                for _ in 0..n {
                    let h = u.sample(i, &mut rng);
                    s1 += h;
                    s2 += h * h;
                }
                let mean = s1 / n as f64;
                let var = s2 / n as f64 - mean * mean;
                let se = (m.var / n as f64).sqrt();
                assert!(
                    (mean - m.mean).abs() < 5.0 * se,
                    "{u:?} I={i}: mean {mean} vs {}",
                    m.mean
                );
                // Bimodal mixtures have a heavier 4th moment: 6% on the variance is ≳ 5 s.e.
                assert!(
                    (var - m.var).abs() < 0.06 * m.var,
                    "{u:?} I={i}: var {var} vs {}",
                    m.var
                );
            }
        }
    }

    #[test]
    fn relu_and_gaussian_are_special_cases() {
        let g = Gaussian {
            gamma: 1.7,
            theta: -0.6,
        };
        let d = g.as_drelu();
        for &i in &[-20.0, -1.0, 0.0, 2.0, 30.0] {
            let (phi, mean, var) = g.cgf_mean_var(i);
            let m = d.moments(i);
            assert!((phi - m.cgf).abs() < 1e-10 * phi.abs().max(1.0));
            assert!((mean - m.mean).abs() < 1e-10 * mean.abs().max(1.0));
            assert!((var - m.var).abs() < 1e-10);
            // ReLU = dReLU whose negative branch is switched off by a huge θ−.
            let r = Relu {
                gamma: 1.7,
                theta: -0.6,
            };
            let dr = DRelu {
                gamma_plus: 1.7,
                gamma_minus: 1.0,
                theta_plus: -0.6,
                theta_minus: 1e200,
            };
            let (phi, mean, var) = r.cgf_mean_var(i);
            let m = dr.moments(i);
            assert!((phi - m.cgf).abs() < 1e-10 * phi.abs().max(1.0));
            assert!((mean - m.mean).abs() < 1e-10 * mean.abs().max(1.0));
            assert!((var - m.var).abs() < 1e-10 * var.max(1.0));
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let r = Relu {
            gamma: 2.0,
            theta: 1.0,
        };
        let n = 50_000;
        let mean = (0..n).map(|_| r.sample(-1.0, &mut rng)).sum::<f64>() / n as f64;
        let (_, m, v) = r.cgf_mean_var(-1.0);
        assert!((mean - m).abs() < 5.0 * (v / n as f64).sqrt());
    }

    #[test]
    fn flipped_unit_mirrors_the_distribution() {
        let u = DRelu {
            gamma_plus: 0.5,
            gamma_minus: 3.0,
            theta_plus: 1.0,
            theta_minus: -2.0,
        };
        let f = u.flipped();
        for &i in &[-3.0, 0.0, 2.5] {
            assert!((u.cgf(i) - f.cgf(-i)).abs() < 1e-12);
            assert!((u.mean(i) + f.mean(-i)).abs() < 1e-12);
        }
    }
}
