//! Synthetic whole-brain-like recordings with planted cell assemblies (no files).
//!
//! * Neurons are placed uniformly in an ellipsoid (a larval-zebrafish-brain-sized
//!   volume, semi-axes in µm).
//! * Each assembly is a spatially compact group: neurons within `assembly_radius`
//!   of a random centre join with probability `membership_prob` (assemblies may overlap).
//! * Each assembly switches on/off over time as a two-state Markov chain
//!   (off→on `p_on`, on→off `p_off` per frame); while on, members fire with `fire_prob`.
//! * Every neuron also fires independently at its own background rate
//!   (log-normal around `background_rate`).
//!
//! Frames are generated in parallel with per-frame random streams (reproducible).

use rand::{Rng, RngCore};
use rand_distr::{Distribution, LogNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::batch::SparseBatch;
use crate::data::Recording;
use crate::error::{CrbmError, Result};
use crate::rng::lane_rng;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyntheticConfig {
    pub n_neurons: usize,
    pub n_frames: usize,
    pub n_assemblies: usize,
    /// Ellipsoid semi-axes (x, y, z) in µm.
    pub semi_axes: [f64; 3],
    /// Radius of an assembly's spatial footprint, µm.
    pub assembly_radius: f64,
    pub membership_prob: f64,
    /// Per-frame switching probabilities of an assembly (off→on, on→off).
    pub p_on: f64,
    pub p_off: f64,
    /// Firing probability of a member while its assembly is on.
    pub fire_prob: f64,
    /// Median background firing probability per frame.
    pub background_rate: f64,
    /// σ of log background rate across neurons.
    pub background_log_sd: f64,
    pub seed: u64,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self {
            n_neurons: 40_000,
            n_frames: 5_000,
            n_assemblies: 50,
            semi_axes: [400.0, 200.0, 120.0],
            assembly_radius: 40.0,
            membership_prob: 0.7,
            p_on: 0.05,
            p_off: 0.3,
            fire_prob: 0.5,
            background_rate: 0.02,
            background_log_sd: 0.5,
            seed: 0,
        }
    }
}

/// A synthetic recording and its ground truth.
#[derive(Clone, Debug)]
pub struct Synthetic {
    pub recording: Recording,
    /// Member neurons of each assembly (sorted), shape [K][·].
    pub memberships: Vec<Vec<u32>>,
    /// Assembly centres (µm), shape [K].
    pub centres: Vec<[f64; 3]>,
    /// On/off state of each assembly in each frame, shape [K][T].
    pub assembly_on: Vec<Vec<bool>>,
    /// Background firing probability of each neuron, shape [N].
    pub background: Vec<f64>,
}

impl SyntheticConfig {
    /// The default brain volume with `n_neurons`, `n_assemblies` and `n_frames`, the assembly
    /// radius chosen so that an assembly holds `expected_members` neurons on average.
    pub fn with_assembly_size(
        n_neurons: usize,
        n_assemblies: usize,
        n_frames: usize,
        expected_members: f64,
        seed: u64,
    ) -> Self {
        let d = Self::default();
        // Neurons fill the ellipsoid uniformly, so a ball of radius r holds on average
        // N·p·r³/(abc) members (ignoring the boundary).
        let [a, b, c] = d.semi_axes;
        let radius =
            (expected_members / (d.membership_prob * n_neurons.max(1) as f64) * a * b * c).cbrt();
        Self {
            n_neurons,
            n_assemblies,
            n_frames,
            assembly_radius: radius,
            seed,
            ..d
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |field, value: String, reason| {
            Err(CrbmError::InvalidConfig {
                field,
                value,
                reason,
            })
        };
        if self.n_neurons == 0 || self.n_frames == 0 {
            return bad(
                "n_neurons/n_frames",
                format!("{}/{}", self.n_neurons, self.n_frames),
                "must be ≥ 1",
            );
        }
        for (f, p) in [
            ("membership_prob", self.membership_prob),
            ("p_on", self.p_on),
            ("p_off", self.p_off),
            ("fire_prob", self.fire_prob),
            ("background_rate", self.background_rate),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return bad(f, p.to_string(), "must be a probability in [0, 1]");
            }
        }
        if self.semi_axes.iter().any(|a| !(*a > 0.0)) || !(self.assembly_radius > 0.0) {
            return bad(
                "semi_axes/assembly_radius",
                format!("{:?}", self.semi_axes),
                "must be > 0",
            );
        }
        if !(self.background_log_sd >= 0.0) {
            return bad(
                "background_log_sd",
                self.background_log_sd.to_string(),
                "must be ≥ 0",
            );
        }
        Ok(())
    }

    pub fn generate(&self) -> Result<Synthetic> {
        self.validate()?;
        let (n, t, k) = (self.n_neurons, self.n_frames, self.n_assemblies);
        let mut rng = lane_rng(self.seed, 0, 0);
        let [a, b, c] = self.semi_axes;
        let coords: Vec<[f64; 3]> = (0..n)
            .map(|_| loop {
                let p = [
                    rng.random_range(-a..a),
                    rng.random_range(-b..b),
                    rng.random_range(-c..c),
                ];
                if (p[0] / a).powi(2) + (p[1] / b).powi(2) + (p[2] / c).powi(2) <= 1.0 {
                    break p;
                }
            })
            .collect();
        let r2 = self.assembly_radius * self.assembly_radius;
        let mut centres = Vec::with_capacity(k);
        let mut memberships = Vec::with_capacity(k);
        for _ in 0..k {
            let centre = coords[rng.random_range(0..n)];
            let members: Vec<u32> = (0..n)
                .filter(|&i| {
                    let d2: f64 = (0..3).map(|d| (coords[i][d] - centre[d]).powi(2)).sum();
                    d2 <= r2 && rng.random::<f64>() < self.membership_prob
                })
                .map(|i| i as u32)
                .collect();
            centres.push(centre);
            memberships.push(members);
        }
        let stationary_on = if self.p_on + self.p_off > 0.0 {
            self.p_on / (self.p_on + self.p_off)
        } else {
            0.0
        };
        let assembly_on: Vec<Vec<bool>> = (0..k)
            .map(|q| {
                let mut r = lane_rng(self.seed, 1, q as u64);
                let mut on = r.random::<f64>() < stationary_on;
                (0..t)
                    .map(|_| {
                        on = if on {
                            r.random::<f64>() >= self.p_off
                        } else {
                            r.random::<f64>() < self.p_on
                        };
                        on
                    })
                    .collect()
            })
            .collect();
        let lognormal = LogNormal::new(
            self.background_rate.max(1e-300).ln(),
            self.background_log_sd,
        )
        .map_err(|_| CrbmError::InvalidConfig {
            field: "background",
            value: self.background_rate.to_string(),
            reason: "invalid log-normal",
        })?;
        let background: Vec<f64> = (0..n)
            .map(|_| lognormal.sample(&mut rng).min(1.0))
            .collect();
        // Background thresholds as 32-bit integers: spike iff u32 < p·2³².
        let thresholds: Vec<u32> = background
            .iter()
            .map(|&p| (p * 4_294_967_296.0).min(4_294_967_295.0) as u32)
            .collect();
        let fire_threshold = (self.fire_prob * 4_294_967_296.0).min(4_294_967_295.0) as u32;
        let rows: Vec<Vec<u32>> = (0..t)
            .into_par_iter()
            .map_init(
                || vec![false; n],
                |hit, f| {
                    let mut r = lane_rng(self.seed, 2, f as u64);
                    for (h, &th) in hit.iter_mut().zip(&thresholds) {
                        *h = r.next_u32() < th;
                    }
                    for q in 0..k {
                        if assembly_on[q][f] {
                            for &i in &memberships[q] {
                                if r.next_u32() < fire_threshold {
                                    hit[i as usize] = true;
                                }
                            }
                        }
                    }
                    hit.iter()
                        .enumerate()
                        .filter(|(_, &h)| h)
                        .map(|(i, _)| i as u32)
                        .collect()
                },
            )
            .collect();
        Ok(Synthetic {
            recording: Recording {
                raster: SparseBatch { n_visible: n, rows },
                coordinates: Some(coords),
                regions: None,
                region_names: Vec::new(),
            },
            memberships,
            centres,
            assembly_on,
            background,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_recording_has_planted_structure() {
        let cfg = SyntheticConfig {
            n_neurons: 3000,
            n_frames: 2000,
            n_assemblies: 8,
            assembly_radius: 60.0,
            seed: 3,
            ..Default::default()
        };
        let s = cfg.generate().unwrap();
        let d = s.recording.raster.density();
        assert!((0.02..=0.05).contains(&d), "density {d}");
        // Members lie within the radius of their centre.
        let xyz = s.recording.coordinates.as_ref().unwrap();
        for (m, c) in s.memberships.iter().zip(&s.centres) {
            assert!(!m.is_empty());
            for &i in m {
                let d2: f64 = (0..3).map(|k| (xyz[i as usize][k] - c[k]).powi(2)).sum();
                assert!(d2.sqrt() <= cfg.assembly_radius + 1e-9);
            }
        }
        // Members of an assembly are co-active: their firing rate is far higher when it is on.
        let m = &s.memberships[0];
        let (mut on_rate, mut on_n, mut off_rate, mut off_n) = (0.0, 0, 0.0, 0);
        for (f, row) in s.recording.raster.rows.iter().enumerate() {
            let hits =
                m.iter().filter(|i| row.binary_search(i).is_ok()).count() as f64 / m.len() as f64;
            if s.assembly_on[0][f] {
                on_rate += hits;
                on_n += 1;
            } else {
                off_rate += hits;
                off_n += 1;
            }
        }
        assert!(on_rate / on_n as f64 > 0.4 && off_rate / (off_n as f64) < 0.1);
        assert_eq!(cfg.generate().unwrap().recording.raster, s.recording.raster);
    }

    #[test]
    fn zebrafish_scale_in_seconds() {
        let t0 = std::time::Instant::now();
        let s = SyntheticConfig::default().generate().unwrap();
        let dt = t0.elapsed().as_secs_f64();
        assert_eq!(s.recording.raster.len(), 5000);
        assert_eq!(s.recording.raster.n_visible, 40_000);
        let d = s.recording.raster.density();
        assert!((0.02..=0.05).contains(&d), "density {d}");
        assert!(dt < 30.0, "took {dt} s");
        eprintln!("synthetic N=40000 T=5000: {dt:.2} s, density {d:.4}");
    }
}
