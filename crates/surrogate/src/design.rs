//! Designs: how parameter sets θ are drawn for a parameter→cost dataset.
//!
//! Space-filling designs (uniform, Latin hypercube) work in a *standardised* parameterisation
//! that makes every draw feasible by construction: for each of w, I, σ the regional value is
//! `a + b·m̃_i + c·g̃_i` with maps rescaled to m̃, g̃ ∈ [−1, 1]; `a` is uniform in the bound
//! [lo, hi] and (b, c) uniform in the diamond |b| + |c| ≤ min(a − lo, hi − a), so every
//! regional value stays inside its bound. G is uniform in its bound. The draw is then mapped
//! back to θ. Gaussian clouds around given centres re-draw infeasible points.
//!
//! Every design is a pure function of its seed and the global index of the point, so shards
//! and resumed runs reproduce the same θ.

use pmfm_sim::params::{is_feasible, Bounds, Theta, N_THETA};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::error::{Result, SurrogateError};

/// How θ is drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Design {
    /// Independent uniform draws in the standardised feasible parameterisation.
    Uniform,
    /// Latin hypercube over the 10 standardised coordinates; the hypercube is laid over blocks
    /// of `block` consecutive indices (one stratification per block).
    Lhs { block: usize },
    /// Gaussian clouds: point k is drawn around centre k mod |centres| with per-coordinate
    /// standard deviation `relative_sd·|centre_d|` (plus `absolute_sd[d]`), re-drawn (up to
    /// `max_tries` times) until feasible.
    Gaussian {
        centres: Vec<Theta>,
        relative_sd: f64,
        absolute_sd: Vec<f64>,
        max_tries: usize,
    },
}

impl Design {
    /// Short name for tables (`uniform`, `lhs`, `gaussian`).
    pub fn name(&self) -> &'static str {
        match self {
            Design::Uniform => "uniform",
            Design::Lhs { .. } => "lhs",
            Design::Gaussian { .. } => "gaussian",
        }
    }

    /// Checks the design's settings once.
    pub fn validate(&self) -> Result<()> {
        match self {
            Design::Uniform => Ok(()),
            Design::Lhs { block } if *block == 0 => {
                Err(SurrogateError::Config("LHS block size must be ≥ 1".into()))
            }
            Design::Lhs { .. } => Ok(()),
            Design::Gaussian {
                centres,
                relative_sd,
                absolute_sd,
                max_tries,
            } => {
                if centres.is_empty() {
                    return Err(SurrogateError::Config(
                        "a Gaussian design needs at least one centre".into(),
                    ));
                }
                if !(relative_sd.is_finite() && *relative_sd >= 0.0) {
                    return Err(SurrogateError::Config(format!(
                        "relative_sd must be finite and ≥ 0, got {relative_sd}"
                    )));
                }
                if !absolute_sd.is_empty() && absolute_sd.len() != N_THETA {
                    return Err(SurrogateError::Config(format!(
                        "absolute_sd needs {N_THETA} values, got {}",
                        absolute_sd.len()
                    )));
                }
                if *max_tries == 0 {
                    return Err(SurrogateError::Config("max_tries must be ≥ 1".into()));
                }
                if centres.iter().flatten().any(|x| !x.is_finite()) {
                    return Err(SurrogateError::Config(
                        "a centre has a non-finite value".into(),
                    ));
                }
                Ok(())
            }
        }
    }
}

/// The regional maps and bounds a design needs to stay feasible.
#[derive(Debug, Clone)]
pub struct DesignSpace {
    pub myelin: Vec<f64>,
    pub gradient: Vec<f64>,
    pub bounds: Bounds,
    /// Centre and half-range of each map (m̃ = (m − centre) / half_range ∈ [−1, 1]).
    myelin_scale: (f64, f64),
    gradient_scale: (f64, f64),
}

fn centre_and_half_range(x: &[f64]) -> (f64, f64) {
    let lo = x.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let half = 0.5 * (hi - lo);
    (0.5 * (hi + lo), if half > 0.0 { half } else { 1.0 })
}

impl DesignSpace {
    pub fn new(myelin: &[f64], gradient: &[f64], bounds: Bounds) -> Result<Self> {
        if myelin.is_empty() || myelin.len() != gradient.len() {
            return Err(SurrogateError::Input(format!(
                "myelin ({}) and gradient ({}) maps must be non-empty and of equal length",
                myelin.len(),
                gradient.len()
            )));
        }
        if myelin.iter().chain(gradient).any(|x| !x.is_finite()) {
            return Err(SurrogateError::Input(
                "a regional map has a non-finite value".into(),
            ));
        }
        Ok(Self {
            myelin: myelin.to_vec(),
            gradient: gradient.to_vec(),
            bounds,
            myelin_scale: centre_and_half_range(myelin),
            gradient_scale: centre_and_half_range(gradient),
        })
    }

    pub fn is_feasible(&self, theta: &Theta) -> bool {
        is_feasible(theta, &self.myelin, &self.gradient, &self.bounds)
    }

    /// Maps a point of the unit cube [0, 1]^10 to a feasible θ (see the module docs).
    /// Coordinates: (a, p, q) for w, (a, p, q) for I, G, (a, p, q) for σ.
    pub fn theta_from_unit(&self, u: &[f64; N_THETA]) -> Theta {
        let (mc, mh) = self.myelin_scale;
        let (gc, gh) = self.gradient_scale;
        // Regional value a + b·(m − mc)/mh + c·(g − gc)/gh  →  θ coefficients.
        let triple = |ua: f64, up: f64, uq: f64, (lo, hi): (f64, f64)| -> [f64; 3] {
            let a = lo + ua * (hi - lo);
            let r = (a - lo).min(hi - a).max(0.0);
            let (p, q) = (2.0 * up - 1.0, 2.0 * uq - 1.0);
            // The square [−1, 1]² rotated by 45° onto the diamond |b| + |c| ≤ r.
            let b = 0.5 * r * (p + q);
            let c = 0.5 * r * (p - q);
            let cm = b / mh;
            let cg = c / gh;
            [a - cm * mc - cg * gc, cm, cg]
        };
        let b = &self.bounds;
        let w = triple(u[0], u[1], u[2], b.w);
        let i = triple(u[3], u[4], u[5], b.i);
        let g = b.g.0 + u[6] * (b.g.1 - b.g.0);
        let s = triple(u[7], u[8], u[9], b.sigma);
        [w[0], w[1], w[2], i[0], i[1], i[2], g, s[0], s[1], s[2]]
    }

    /// θ of global index `k` of `design` under `seed`.
    pub fn draw(&self, design: &Design, seed: u64, k: u64) -> Theta {
        match design {
            Design::Uniform => {
                let mut rng = point_rng(seed, k);
                let u: [f64; N_THETA] = std::array::from_fn(|_| rng.random::<f64>());
                self.theta_from_unit(&u)
            }
            Design::Lhs { block } => {
                let block = (*block).max(1) as u64;
                let (b, r) = (k / block, (k % block) as usize);
                let u = lhs_point(seed, b, block as usize, r);
                self.theta_from_unit(&u)
            }
            Design::Gaussian {
                centres,
                relative_sd,
                absolute_sd,
                max_tries,
            } => {
                let centre = centres[(k % centres.len() as u64) as usize];
                let mut rng = point_rng(seed, k);
                let mut last = centre;
                for _ in 0..*max_tries {
                    let mut t = centre;
                    for d in 0..N_THETA {
                        let sd = relative_sd * centre[d].abs()
                            + absolute_sd.get(d).copied().unwrap_or(0.0);
                        let z: f64 = StandardNormal.sample(&mut rng);
                        t[d] += sd * z;
                    }
                    last = t;
                    if self.is_feasible(&t) {
                        return t;
                    }
                }
                // No feasible draw: return the last one; the dataset marks it invalid.
                last
            }
        }
    }
}

/// Independent stream of point `k` under `seed` (does not depend on other points).
fn point_rng(seed: u64, k: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(k.wrapping_add(1));
    rng
}

/// Row `r` of the Latin hypercube of block `b`: each coordinate's strata are a seeded
/// permutation of 0..n, the point jittered uniformly inside its stratum.
fn lhs_point(seed: u64, b: u64, n: usize, r: usize) -> [f64; N_THETA] {
    let mut out = [0.0; N_THETA];
    for (d, slot) in out.iter_mut().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9E37_79B9_7F4A_7C15);
        rng.set_stream(b.wrapping_mul(N_THETA as u64 + 1) + d as u64 + 1);
        let mut perm: Vec<usize> = (0..n).collect();
        // Fisher–Yates with the block's stream; the permutation is the same for every row.
        for i in (1..n).rev() {
            let j = rng.random_range(0..=i);
            perm.swap(i, j);
        }
        let mut jitter = point_rng(seed ^ 0x5851_F42D_4C95_7F2D, b * n as u64 + r as u64);
        for _ in 0..d {
            let _: f64 = jitter.random();
        }
        *slot = (perm[r] as f64 + jitter.random::<f64>()) / n as f64;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space() -> DesignSpace {
        let myelin: Vec<f64> = (0..68)
            .map(|i| 1.1 + 0.6 * ((i * 7 % 68) as f64 / 67.0))
            .collect();
        let gradient: Vec<f64> = (0..68)
            .map(|i| -0.8 + 1.7 * ((i * 13 % 68) as f64 / 67.0))
            .collect();
        DesignSpace::new(&myelin, &gradient, Bounds::default()).unwrap()
    }

    #[test]
    fn space_filling_designs_are_always_feasible_and_reproducible() {
        let s = space();
        for design in [Design::Uniform, Design::Lhs { block: 64 }] {
            let a: Vec<Theta> = (0..500).map(|k| s.draw(&design, 3, k)).collect();
            let b: Vec<Theta> = (0..500).rev().map(|k| s.draw(&design, 3, k)).collect();
            for (k, t) in a.iter().enumerate() {
                assert!(s.is_feasible(t), "{design:?} point {k} infeasible: {t:?}");
                assert_eq!(t, &b[499 - k], "a point must not depend on draw order");
            }
            let other = s.draw(&design, 4, 0);
            assert_ne!(other, a[0], "seed must matter");
        }
    }

    #[test]
    fn lhs_stratifies_every_coordinate_within_a_block() {
        let n = 50;
        for d in 0..N_THETA {
            let mut strata: Vec<usize> = (0..n)
                .map(|r| (lhs_point(11, 2, n, r)[d] * n as f64).floor() as usize)
                .collect();
            strata.sort();
            assert_eq!(strata, (0..n).collect::<Vec<_>>(), "coordinate {d}");
        }
    }

    #[test]
    fn unit_cube_corners_reach_the_bounds() {
        let s = space();
        // a at its lower bound ⇒ no slope, regional value exactly lo.
        let t = s.theta_from_unit(&[0.0, 0.9, 0.1, 1.0, 0.5, 0.5, 1.0, 0.5, 0.5, 0.5]);
        let p = pmfm_sim::RegionalParams::from_theta(&t, &s.myelin, &s.gradient);
        assert!(p.w.iter().all(|w| w.abs() < 1e-12));
        assert!(p.i.iter().all(|i| (i - 0.5).abs() < 1e-12));
        assert!((p.g - 10.0).abs() < 1e-12);
        // Mid-range a with the whole slope on myelin touches both bounds at the map's extremes.
        let t = s.theta_from_unit(&[0.5, 1.0, 1.0, 0.5, 0.5, 0.5, 0.0, 0.5, 0.5, 0.5]);
        let p = pmfm_sim::RegionalParams::from_theta(&t, &s.myelin, &s.gradient);
        let wmax = p.w.iter().copied().fold(f64::MIN, f64::max);
        let wmin = p.w.iter().copied().fold(f64::MAX, f64::min);
        assert!(
            (wmax - 1.0).abs() < 1e-12 && wmin.abs() < 1e-12,
            "w in [{wmin}, {wmax}]"
        );
    }

    #[test]
    fn gaussian_cloud_centres_and_spread() {
        let s = space();
        let centre = s.theta_from_unit(&[0.5; N_THETA]);
        let design = Design::Gaussian {
            centres: vec![centre],
            relative_sd: 0.05,
            absolute_sd: vec![],
            max_tries: 100,
        };
        design.validate().unwrap();
        let n = 2000;
        let draws: Vec<Theta> = (0..n).map(|k| s.draw(&design, 1, k)).collect();
        let mean_g = draws.iter().map(|t| t[6]).sum::<f64>() / n as f64;
        let sd_g = (draws.iter().map(|t| (t[6] - mean_g).powi(2)).sum::<f64>() / n as f64).sqrt();
        assert!((mean_g - centre[6]).abs() < 0.01 * centre[6]);
        assert!((sd_g / (0.05 * centre[6]) - 1.0).abs() < 0.1, "sd {sd_g}");
        assert!(draws.iter().all(|t| s.is_feasible(t)));
        let bad = Design::Gaussian {
            centres: vec![],
            relative_sd: 0.1,
            absolute_sd: vec![],
            max_tries: 1,
        };
        assert!(bad.validate().is_err());
    }
}
