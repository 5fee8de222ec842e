//! The built-in synthetic default: a generated two-hemisphere connectome, smooth myelin and
//! gradient maps, and "empirical" FC/FCD made by simulating a hidden ground-truth θ*.
//! Needs no files, so every binary and test can run on a fresh machine.

use crate::data::{EmpiricalData, Matrix};
use crate::noise::SeededNoise;
use crate::observables::{fc_host, fcd_cdfs, FCD_BINS};
use crate::params::{RegionalParams, Theta};
use crate::simulator::{SimConfig, SimError, Simulator};
use burn::tensor::Device;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Ground truth of the synthetic default, close to the reference example's first candidate so
/// that it lies in the dynamical regime of the real data.
pub const TRUE_THETA: Theta = [
    0.63, -0.058, 0.0019, 0.272, 0.0081, -0.0064, 6.4, 0.0057, -0.00006, -0.00008,
];

/// Settings of the synthetic default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyntheticConfig {
    /// Regions (even: two hemispheres).
    pub n_regions: usize,
    /// Seed of the connectome and maps.
    pub seed: u64,
    /// Seed of the noise that makes the "empirical" FC/FCD.
    pub noise_seed: u64,
    /// Hidden parameters that generate the "empirical" data.
    pub theta: Theta,
    /// Noise duplicates averaged into the "empirical" FC/FCD.
    pub n_dup: usize,
    /// Sliding-window length for the FCD (frames).
    pub fcd_window: usize,
    /// Schedule of the simulation that makes the "empirical" data.
    pub sim: SimConfig,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self {
            n_regions: 68,
            seed: 2021,
            noise_seed: 7,
            theta: TRUE_THETA,
            n_dup: 3,
            fcd_window: 83,
            sim: SimConfig::default(),
        }
    }
}

/// One standard normal draw.
fn gauss<R: rand::RngCore + ?Sized>(rng: &mut R) -> f64 {
    StandardNormal.sample(rng)
}

/// Region centres (mm) on two half-ellipsoids, left hemisphere first.
pub fn region_positions(n_regions: usize, rng: &mut impl Rng) -> Vec<[f64; 3]> {
    let half = n_regions / 2;
    let mut left = Vec::with_capacity(half);
    // Golden-angle spiral over a hemisphere's outer surface: even coverage, then jitter.
    for k in 0..half {
        let u = (k as f64 + 0.5) / half as f64;
        let polar = (1.0 - 2.0 * u).acos();
        let azimuth = k as f64 * std::f64::consts::PI * (3.0 - 5f64.sqrt());
        let jitter = |rng: &mut dyn rand::RngCore| 1.0 + 0.05 * gauss(rng);
        let x = -(10.0 + 55.0 * polar.sin() * azimuth.cos().abs()) * jitter(rng);
        let y = 80.0 * polar.cos() * jitter(rng);
        let z = 55.0 * polar.sin() * azimuth.sin() * jitter(rng);
        left.push([x, y, z]);
    }
    let right: Vec<[f64; 3]> = left.iter().map(|p| [-p[0], p[1], p[2]]).collect();
    left.into_iter().chain(right).collect()
}

/// Raw structural connectivity (streamline-count-like, max 20,000), shaped like diffusion-MRI
/// group connectomes such as the Kong et al. training SC: strength decays with distance with a
/// heavy-tailed (log-normal) spread, inter-hemispheric links are weak except between homotopic
/// regions, and only the strongest 28% of pairs are connected. Symmetric with zero diagonal.
pub fn synthetic_sc(pos: &[[f64; 3]], rng: &mut impl Rng) -> Matrix {
    let n = pos.len();
    let half = n / 2;
    let mut sc = Matrix::zeros(n, n);
    for i in 0..n {
        for j in i + 1..n {
            let d = ((0..3).map(|k| (pos[i][k] - pos[j][k]).powi(2)).sum::<f64>()).sqrt();
            let same_side = (i < half) == (j < half);
            let homotopic = j == i + half;
            let side = if same_side {
                1.0
            } else if homotopic {
                1.0
            } else {
                0.4
            };
            let v = side * (-d / 20.0).exp() * (0.9 * gauss(rng)).exp();
            sc.data[i * n + j] = v;
            sc.data[j * n + i] = v;
        }
    }
    let mut sorted: Vec<f64> = sc.upper_triangle();
    sorted.sort_by(f64::total_cmp);
    let cut = sorted[(0.72 * sorted.len() as f64) as usize];
    let max = sorted.last().copied().unwrap_or(1.0);
    for x in sc.data.iter_mut() {
        *x = if *x < cut {
            0.0
        } else {
            (*x / max * 20_000.0).round()
        };
    }
    sc
}

/// Smooth myelin-like (≈ 1.0–1.7, high in posterior/sensory regions) and gradient-like
/// (≈ −5 to 7.5, sensory-to-association axis) maps.
pub fn synthetic_maps(pos: &[[f64; 3]], rng: &mut impl Rng) -> (Vec<f64>, Vec<f64>) {
    let myelin = pos
        .iter()
        .map(|p| 1.33 + 0.3 * (-p[1] / 45.0).tanh() + 0.02 * gauss(rng))
        .collect();
    let gradient = pos
        .iter()
        .map(|p| 1.3 + 4.5 * (p[1] / 50.0).tanh() + 1.5 * (p[2] / 40.0) + 0.3 * gauss(rng))
        .collect();
    (myelin, gradient)
}

/// Builds the synthetic data set: connectome and maps from `seed`, FC and FCD CDF by simulating
/// θ* on `device`.
pub fn synthetic_dataset(
    cfg: &SyntheticConfig,
    device: &Device,
) -> Result<EmpiricalData, SimError> {
    let (sc, myelin, gradient) = synthetic_layout(cfg)?;
    simulated_targets(
        format!("synthetic(seed={})", cfg.seed),
        sc,
        myelin,
        gradient,
        &cfg.theta,
        cfg,
        device,
    )
}

/// The connectome and the two maps of the synthetic default with `cfg.seed`.
fn synthetic_layout(cfg: &SyntheticConfig) -> Result<(Matrix, Vec<f64>, Vec<f64>), SimError> {
    if cfg.n_regions < 4 || cfg.n_regions % 2 != 0 {
        return Err(SimError::Config(format!(
            "synthetic connectome needs an even number ≥ 4 of regions, got {}",
            cfg.n_regions
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let pos = region_positions(cfg.n_regions, &mut rng);
    let sc = synthetic_sc(&pos, &mut rng);
    let (myelin, gradient) = synthetic_maps(&pos, &mut rng);
    Ok((sc, myelin, gradient))
}

/// "Empirical" FC and FCD CDF of a connectome and maps, made by simulating `theta` with
/// `cfg.n_dup` duplicates (noise `cfg.noise_seed`, schedule `cfg.sim`, window `cfg.fcd_window`).
fn simulated_targets(
    name: String,
    sc: Matrix,
    myelin: Vec<f64>,
    gradient: Vec<f64>,
    theta: &Theta,
    cfg: &SyntheticConfig,
    device: &Device,
) -> Result<EmpiricalData, SimError> {
    let n = sc.rows;
    let sim = Simulator::new(&sc.data, n, cfg.sim, device)?;
    cfg.sim.validate_fcd_window(cfg.fcd_window)?;
    let params = RegionalParams::from_theta(theta, &myelin, &gradient);
    let bold = sim.simulate(&[params], cfg.n_dup, &mut SeededNoise::new(cfg.noise_seed))?;
    let fcs = fc_host(bold.signal.clone());
    let mut fc = Matrix::zeros(n, n);
    for f in &fcs {
        for (acc, x) in fc.data.iter_mut().zip(f) {
            *acc += x / fcs.len() as f64;
        }
    }
    let cdfs = fcd_cdfs(bold.signal, cfg.fcd_window);
    let valid: Vec<_> = cdfs.iter().filter(|c| c.is_valid()).collect();
    if valid.is_empty() || fc.data.iter().any(|x| !x.is_finite()) {
        return Err(SimError::Input(format!(
            "the ground-truth simulation of {name} failed (NaN FC or FCD)"
        )));
    }
    let mut fcd_cdf = vec![0.0; FCD_BINS];
    for c in &valid {
        for (acc, x) in fcd_cdf.iter_mut().zip(&c.counts) {
            *acc += x / valid.len() as f64;
        }
    }
    for i in 0..n {
        fc.data[i * n + i] = 1.0;
    }
    Ok(EmpiricalData {
        name,
        sc,
        fc,
        fcd_cdf,
        myelin,
        gradient,
    })
}

/// A measured layout that a [`SyntheticFamily`] can vary in place of the generated one: a real
/// group's connectome and maps (e.g. kong2021's train split), so that the family's groups are
/// fitted where real groups are rather than where the generated layout puts its optima.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyLayout {
    /// Name of the source (e.g. `kong2021/train`); part of every group's name.
    pub name: String,
    /// Structural connectivity, regions × regions.
    pub sc: Matrix,
    /// Myelin map (one value per region).
    pub myelin: Vec<f64>,
    /// Functional-gradient map (one value per region).
    pub gradient: Vec<f64>,
}

impl FamilyLayout {
    /// The connectome and maps of `data` (its FC and FCD are not used).
    pub fn of(data: &EmpiricalData) -> Self {
        Self {
            name: data.name.clone(),
            sc: data.sc.clone(),
            myelin: data.myelin.clone(),
            gradient: data.gradient.clone(),
        }
    }
}

/// A family of synthetic subject groups (the surrogate's "many groups"): every group shares the
/// layout of `base` (connectome and maps from `base.seed`, or the measured `layout` when one is
/// given) and varies it by its own seed:
/// each SC entry is scaled by `exp(sc_variability·ξ)` (symmetric, zeros stay zero), each map
/// gets additive noise of `map_variability` × the map's standard deviation, and the hidden θ*
/// is `base.theta` with every coefficient scaled by `1 + theta_variability·ξ` (re-drawn until
/// feasible on the group's maps). ξ ~ N(0, 1) from a stream of (`family_seed`, group).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyntheticFamily {
    /// The shared layout, schedule and window.
    pub base: SyntheticConfig,
    /// Seed of the groups' variations.
    pub family_seed: u64,
    /// Standard deviation of the log-normal factor on each SC entry. Default 0.3.
    pub sc_variability: f64,
    /// Standard deviation of the map noise, in units of each map's standard deviation. Default 0.1.
    pub map_variability: f64,
    /// Relative standard deviation of each coefficient of the hidden θ*. Default 0.05.
    pub theta_variability: f64,
    /// A measured connectome and maps to vary instead of `base`'s generated ones (`None`: the
    /// generated layout). Not serialised: a run records it by its groups' names.
    #[serde(skip)]
    pub layout: Option<FamilyLayout>,
}

impl Default for SyntheticFamily {
    fn default() -> Self {
        Self {
            base: SyntheticConfig::default(),
            family_seed: 11,
            sc_variability: 0.3,
            map_variability: 0.1,
            theta_variability: 0.05,
            layout: None,
        }
    }
}

impl SyntheticFamily {
    /// Checks the knobs once (finite and ≥ 0).
    pub fn check(&self) -> Result<(), SimError> {
        for (name, v) in [
            ("sc_variability", self.sc_variability),
            ("map_variability", self.map_variability),
            ("theta_variability", self.theta_variability),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(SimError::Config(format!(
                    "synthetic family {name} must be finite and ≥ 0, got {v}"
                )));
            }
        }
        Ok(())
    }

    /// The name of group `g`: `synthetic-family-sS-fF/gG` (S = layout seed, F = family seed), or
    /// `family-L-fF/gG` on a measured layout named L (its `/` written as `-`). No commas, so
    /// names can be listed in comma-separated options.
    pub fn group_name(&self, g: usize) -> String {
        match &self.layout {
            None => format!(
                "synthetic-family-s{}-f{}/g{g}",
                self.base.seed, self.family_seed
            ),
            Some(l) => format!(
                "family-{}-f{}/g{g}",
                l.name.replace(['/', ','], "-"),
                self.family_seed
            ),
        }
    }

    /// Connectome, maps and hidden θ* of group `g` (no simulation).
    pub fn group_layout(&self, g: usize) -> Result<(Matrix, Vec<f64>, Vec<f64>, Theta), SimError> {
        self.check()?;
        let (mut sc, mut myelin, mut gradient) = match &self.layout {
            None => synthetic_layout(&self.base)?,
            Some(l) => (l.sc.clone(), l.myelin.clone(), l.gradient.clone()),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(self.family_seed);
        rng.set_stream(g as u64 + 1);
        let n = sc.rows;
        for i in 0..n {
            for j in i + 1..n {
                let f = (self.sc_variability * gauss(&mut rng)).exp();
                sc.data[i * n + j] *= f;
                sc.data[j * n + i] = sc.data[i * n + j];
            }
        }
        for map in [&mut myelin, &mut gradient] {
            let sd = sd(map);
            for x in map.iter_mut() {
                *x += self.map_variability * sd * gauss(&mut rng);
            }
        }
        let bounds = crate::params::Bounds::default();
        let mut theta = self.base.theta;
        for _ in 0..1000 {
            let mut t = self.base.theta;
            for x in t.iter_mut() {
                *x *= 1.0 + self.theta_variability * gauss(&mut rng);
            }
            if crate::params::is_feasible(&t, &myelin, &gradient, &bounds) {
                theta = t;
                break;
            }
        }
        Ok((sc, myelin, gradient, theta))
    }

    /// Group `g` with its "empirical" FC/FCD simulated from its own θ* (noise seed
    /// `base.noise_seed + g`).
    pub fn group(&self, g: usize, device: &Device) -> Result<EmpiricalData, SimError> {
        let (sc, myelin, gradient, theta) = self.group_layout(g)?;
        let cfg = SyntheticConfig {
            noise_seed: self.base.noise_seed.wrapping_add(g as u64),
            ..self.base.clone()
        };
        simulated_targets(
            self.group_name(g),
            sc,
            myelin,
            gradient,
            &theta,
            &cfg,
            device,
        )
    }
}

/// Population standard deviation.
fn sd(x: &[f64]) -> f64 {
    let m = x.iter().sum::<f64>() / x.len().max(1) as f64;
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connectome_is_symmetric_two_hemispheric_and_distance_dependent() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let pos = region_positions(68, &mut rng);
        let sc = synthetic_sc(&pos, &mut rng);
        let n = 68;
        let mut intra = (0.0, 0usize);
        let mut inter = (0.0, 0usize);
        for i in 0..n {
            assert_eq!(sc.data[i * n + i], 0.0);
            for j in 0..n {
                assert_eq!(sc.data[i * n + j], sc.data[j * n + i]);
                assert!(sc.data[i * n + j] >= 0.0);
                if i != j {
                    let acc = if (i < 34) == (j < 34) {
                        &mut intra
                    } else {
                        &mut inter
                    };
                    acc.0 += sc.data[i * n + j];
                    acc.1 += 1;
                }
            }
        }
        assert!(intra.0 / intra.1 as f64 > 5.0 * inter.0 / inter.1 as f64);
        assert_eq!(sc.max_abs(), 20_000.0);
        let (m, g) = synthetic_maps(&pos, &mut rng);
        // The ground truth maps into the feasible region on these maps.
        let p = RegionalParams::from_theta(&TRUE_THETA, &m, &g);
        assert!(
            p.is_feasible(&crate::params::Bounds::default()),
            "{:?}",
            p.infeasibility(&Default::default())
        );
    }

    #[test]
    fn family_groups_vary_the_shared_layout_by_their_knobs() {
        let fam = SyntheticFamily {
            base: SyntheticConfig {
                n_regions: 20,
                ..SyntheticConfig::default()
            },
            ..SyntheticFamily::default()
        };
        let (sc0, m0, g0) = synthetic_layout(&fam.base).unwrap();
        let (a_sc, a_m, a_g, a_t) = fam.group_layout(0).unwrap();
        let (b_sc, _, _, b_t) = fam.group_layout(1).unwrap();
        // Deterministic per group, different between groups.
        assert_eq!(fam.group_layout(0).unwrap().0, a_sc);
        assert_ne!(a_sc, b_sc);
        assert_ne!(a_t, b_t);
        // The layout is shared: same zero pattern, symmetric, SC factors log-normal with the
        // asked spread (sd of log ratio within 25% of 0.3 over ~50 connected pairs).
        let n = 20;
        let mut logs = Vec::new();
        for i in 0..n {
            for j in 0..n {
                assert_eq!(a_sc.data[i * n + j] == 0.0, sc0.data[i * n + j] == 0.0);
                assert_eq!(a_sc.data[i * n + j], a_sc.data[j * n + i]);
                if j > i && sc0.data[i * n + j] > 0.0 {
                    logs.push((a_sc.data[i * n + j] / sc0.data[i * n + j]).ln());
                }
            }
        }
        let s = sd(&logs);
        assert!(
            (s - 0.3).abs() < 0.075,
            "log-factor sd {s} over {}",
            logs.len()
        );
        // Maps move by about map_variability × their sd; θ* stays feasible near the base θ*.
        let dm = sd(&a_m.iter().zip(&m0).map(|(a, b)| a - b).collect::<Vec<_>>());
        assert!(dm > 0.03 * sd(&m0) && dm < 0.3 * sd(&m0), "{dm}");
        assert_ne!(a_g, g0);
        assert!(crate::params::is_feasible(
            &a_t,
            &a_m,
            &a_g,
            &Default::default()
        ));
        for (x, y) in a_t.iter().zip(&fam.base.theta) {
            assert!((x - y).abs() <= 0.3 * y.abs() + 1e-12, "{x} vs {y}");
        }
        // No variability: every group is the base layout and θ*.
        let still = SyntheticFamily {
            sc_variability: 0.0,
            map_variability: 0.0,
            theta_variability: 0.0,
            ..fam.clone()
        };
        let (c_sc, c_m, c_g, c_t) = still.group_layout(3).unwrap();
        assert_eq!((c_sc, c_m, c_g, c_t), (sc0, m0, g0, fam.base.theta));
        // Bad knobs are refused by name.
        let bad = SyntheticFamily {
            sc_variability: f64::NAN,
            ..fam
        };
        assert!(bad
            .group_layout(0)
            .unwrap_err()
            .to_string()
            .contains("sc_variability"));
    }

    #[test]
    fn a_family_on_a_measured_layout_varies_that_layout() {
        // A "measured" layout unlike the generated one: another seed, 12 regions.
        let mut rng = ChaCha8Rng::seed_from_u64(99);
        let pos = region_positions(12, &mut rng);
        let sc = synthetic_sc(&pos, &mut rng);
        let (myelin, gradient) = synthetic_maps(&pos, &mut rng);
        let layout = FamilyLayout {
            name: "lab/train".into(),
            sc: sc.clone(),
            myelin: myelin.clone(),
            gradient: gradient.clone(),
        };
        let fam = SyntheticFamily {
            layout: Some(layout),
            ..SyntheticFamily::default()
        };
        assert_eq!(fam.group_name(4), "family-lab-train-f11/g4");
        let (a_sc, a_m, _, a_t) = fam.group_layout(0).unwrap();
        // The measured layout's size and zero pattern, varied; θ* feasible on the varied maps.
        assert_eq!((a_sc.rows, a_m.len()), (12, 12));
        assert_ne!(a_sc, sc);
        for (a, b) in a_sc.data.iter().zip(&sc.data) {
            assert_eq!(*a == 0.0, *b == 0.0);
        }
        assert!(crate::params::is_feasible(
            &a_t,
            &a_m,
            &fam.group_layout(0).unwrap().2,
            &Default::default()
        ));
        // No variability: the measured layout itself, not the generated one.
        let still = SyntheticFamily {
            sc_variability: 0.0,
            map_variability: 0.0,
            theta_variability: 0.0,
            ..fam
        };
        let (c_sc, c_m, c_g, c_t) = still.group_layout(2).unwrap();
        assert_eq!(
            (c_sc, c_m, c_g, c_t),
            (sc, myelin, gradient, still.base.theta)
        );
    }
}
