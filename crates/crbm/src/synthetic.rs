//! Synthetic whole-brain-like recordings with planted cell assemblies (no files).
//!
//! * Neurons are placed uniformly in an ellipsoid (a larval-zebrafish-brain-sized
//!   volume, semi-axes in µm).
//! * Each assembly is a spatially compact group: neurons within `assembly_radius`
//!   of a random centre join with probability `membership_prob` (assemblies may overlap).
//! * Overlap knob (`shared_fraction`): members are then shared with, or withdrawn from,
//!   neighbouring assemblies until the requested fraction of assembly members belongs to
//!   two or more assemblies ([`Synthetic::shared_member_fraction`] reports what was built).
//! * Each assembly switches on/off over time as a two-state Markov chain
//!   (off→on `p_on`, on→off `p_off` per frame); while on, members fire with `fire_prob`.
//! * Every neuron also fires independently at its own background rate
//!   (log-normal around `background_rate`).
//!
//! Frames are generated in parallel with per-frame random streams (reproducible).

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, RngCore};
use rand_distr::{Distribution, LogNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::batch::SparseBatch;
use crate::data::Recording;
use crate::error::{invalid_config, CrbmError, Result};
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
    /// Fraction of assembly members (neurons in at least one assembly) that belong to two or
    /// more assemblies, set by construction after the spatial draw: a member joins the other
    /// assembly whose centre is nearest to it (or a shared neuron keeps only its nearest
    /// assembly) until the count is `round(fraction · members)`. None: only the chance
    /// overlaps of neighbouring footprints.
    pub shared_fraction: Option<f64>,
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
            // Overlapping assemblies are the hard case for recovery (units merge them) and the
            // realistic one: the default has a fifth of the members shared.
            shared_fraction: Some(0.2),
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
        if self.n_neurons == 0 || self.n_frames == 0 {
            return invalid_config(
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
                return invalid_config(f, p.to_string(), "must be a probability in [0, 1]");
            }
        }
        if self.semi_axes.iter().any(|a| !(*a > 0.0)) || !(self.assembly_radius > 0.0) {
            return invalid_config(
                "semi_axes/assembly_radius",
                format!("{:?}", self.semi_axes),
                "must be > 0",
            );
        }
        if let Some(f) = self.shared_fraction {
            if !(0.0..=1.0).contains(&f) {
                return invalid_config(
                    "shared_fraction",
                    f.to_string(),
                    "must be a fraction in [0, 1]",
                );
            }
            if f > 0.0 && self.n_assemblies < 2 {
                return invalid_config(
                    "shared_fraction",
                    f.to_string(),
                    "sharing members needs at least 2 assemblies",
                );
            }
        }
        if !(self.background_log_sd >= 0.0) {
            return invalid_config(
                "background_log_sd",
                self.background_log_sd.to_string(),
                "must be ≥ 0",
            );
        }
        Ok(())
    }

    pub fn generate(&self) -> Result<Synthetic> {
        self.validate()?;
        // One stream (lane 0) draws positions, then assemblies, then background rates, in
        // that order; states (lane 1), frames (lane 2) and sharing (lane 3) have their own.
        let mut rng = lane_rng(self.seed, 0, 0);
        let coords = self.positions(&mut rng);
        let (centres, memberships) = self.assemblies(&coords, &mut rng);
        let assembly_on = self.assembly_states();
        let background = self.background_rates(&mut rng)?;
        let rows = self.raster(&background, &assembly_on, &memberships);
        Ok(Synthetic {
            recording: Recording {
                raster: SparseBatch {
                    n_visible: self.n_neurons,
                    rows,
                },
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

    /// Neuron positions, uniform in the ellipsoid with `semi_axes` (rejection sampling).
    fn positions(&self, rng: &mut SmallRng) -> Vec<[f64; 3]> {
        let [a, b, c] = self.semi_axes;
        (0..self.n_neurons)
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
            .collect()
    }

    /// Each assembly's centre (a random neuron) and members (neurons within
    /// `assembly_radius`, each kept with `membership_prob`), then shared members if asked.
    fn assemblies(
        &self,
        coords: &[[f64; 3]],
        rng: &mut SmallRng,
    ) -> (Vec<[f64; 3]>, Vec<Vec<u32>>) {
        let n = self.n_neurons;
        let r2 = self.assembly_radius * self.assembly_radius;
        let mut centres = Vec::with_capacity(self.n_assemblies);
        let mut memberships = Vec::with_capacity(self.n_assemblies);
        for _ in 0..self.n_assemblies {
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
        if let Some(fraction) = self.shared_fraction {
            let mut share_rng = lane_rng(self.seed, 3, 0);
            share_members(&mut memberships, &centres, coords, fraction, &mut share_rng);
        }
        (centres, memberships)
    }

    /// On/off state of each assembly in each frame: a two-state Markov chain started from
    /// its stationary distribution, [assembly][frame].
    fn assembly_states(&self) -> Vec<Vec<bool>> {
        let stationary_on = if self.p_on + self.p_off > 0.0 {
            self.p_on / (self.p_on + self.p_off)
        } else {
            0.0
        };
        (0..self.n_assemblies)
            .map(|q| {
                let mut r = lane_rng(self.seed, 1, q as u64);
                let mut on = r.random::<f64>() < stationary_on;
                (0..self.n_frames)
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
            .collect()
    }

    /// Each neuron's background spike probability per frame (log-normal, capped at 1).
    fn background_rates(&self, rng: &mut SmallRng) -> Result<Vec<f64>> {
        let lognormal = LogNormal::new(
            self.background_rate.max(1e-300).ln(),
            self.background_log_sd,
        )
        .map_err(|_| CrbmError::InvalidConfig {
            field: "background",
            value: self.background_rate.to_string(),
            reason: "invalid log-normal",
        })?;
        Ok((0..self.n_neurons)
            .map(|_| lognormal.sample(rng).min(1.0))
            .collect())
    }

    /// The active neurons of each frame: background spikes, plus members of the assemblies
    /// that are on, each firing with `fire_prob` (one stream per frame, frames in parallel).
    fn raster(
        &self,
        background: &[f64],
        assembly_on: &[Vec<bool>],
        memberships: &[Vec<u32>],
    ) -> Vec<Vec<u32>> {
        let n = self.n_neurons;
        // Background thresholds as 32-bit integers: spike iff u32 < p·2³².
        let thresholds: Vec<u32> = background
            .iter()
            .map(|&p| (p * 4_294_967_296.0).min(4_294_967_295.0) as u32)
            .collect();
        let fire_threshold = (self.fire_prob * 4_294_967_296.0).min(4_294_967_295.0) as u32;
        (0..self.n_frames)
            .into_par_iter()
            .map_init(
                || vec![false; n],
                |hit, f| {
                    let mut r = lane_rng(self.seed, 2, f as u64);
                    for (h, &th) in hit.iter_mut().zip(&thresholds) {
                        *h = r.next_u32() < th;
                    }
                    for (q, members) in memberships.iter().enumerate() {
                        if assembly_on[q][f] {
                            for &i in members {
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
            .collect()
    }
}

impl Synthetic {
    /// Fraction of assembly members (neurons in at least one assembly) that belong to two
    /// or more assemblies; 0 when no neuron is a member.
    pub fn shared_member_fraction(&self) -> f64 {
        let counts = membership_counts(&self.memberships, self.recording.raster.n_visible);
        let members = counts.iter().filter(|&&c| c >= 1).count();
        let shared = counts.iter().filter(|&&c| c >= 2).count();
        if members == 0 {
            0.0
        } else {
            shared as f64 / members as f64
        }
    }
}

/// Number of assemblies each neuron belongs to, shape [N].
fn membership_counts(memberships: &[Vec<u32>], n: usize) -> Vec<u32> {
    let mut counts = vec![0u32; n];
    for m in memberships {
        for &i in m {
            counts[i as usize] += 1;
        }
    }
    counts
}

fn squared_distance(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    (0..3).map(|d| (a[d] - b[d]).powi(2)).sum()
}

/// Share members between assemblies (or withdraw shared ones) until
/// `round(fraction · members)` of the neurons in at least one assembly are in two or more.
/// A member joins the nearest assembly (by centre) it is not in; a shared neuron keeps
/// only its nearest assembly, unless that would empty another one. `memberships` stay sorted.
fn share_members(
    memberships: &mut [Vec<u32>],
    centres: &[[f64; 3]],
    coords: &[[f64; 3]],
    fraction: f64,
    rng: &mut impl Rng,
) {
    let counts = membership_counts(memberships, coords.len());
    let members = counts.iter().filter(|&&c| c >= 1).count();
    let mut shared = counts.iter().filter(|&&c| c >= 2).count();
    let target = (fraction * members as f64).round() as usize;
    let nearest_first = |i: u32, candidates: &mut Vec<usize>| {
        candidates.sort_by(|&p, &q| {
            let (dp, dq) = (
                squared_distance(&coords[i as usize], &centres[p]),
                squared_distance(&coords[i as usize], &centres[q]),
            );
            dp.total_cmp(&dq).then(p.cmp(&q))
        });
    };
    let in_assembly = |m: &[Vec<u32>], q: usize, i: u32| m[q].binary_search(&i).is_ok();
    let grow = shared < target;
    let mut candidates: Vec<u32> = (0..coords.len() as u32)
        .filter(|&i| {
            if grow {
                counts[i as usize] == 1
            } else {
                counts[i as usize] >= 2
            }
        })
        .collect();
    candidates.shuffle(rng);
    for i in candidates {
        if shared == target {
            break;
        }
        if grow {
            let mut others: Vec<usize> = (0..memberships.len())
                .filter(|&q| !in_assembly(memberships, q, i))
                .collect();
            nearest_first(i, &mut others);
            if let Some(&q) = others.first() {
                let at = memberships[q].partition_point(|&x| x < i);
                memberships[q].insert(at, i);
                shared += 1;
            }
        } else {
            let mut own: Vec<usize> = (0..memberships.len())
                .filter(|&q| in_assembly(memberships, q, i))
                .collect();
            nearest_first(i, &mut own);
            if own[1..].iter().all(|&q| memberships[q].len() > 1) {
                for &q in &own[1..] {
                    memberships[q].retain(|&x| x != i);
                }
                shared -= 1;
            }
        }
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
            // Footprints as drawn (shared members may sit outside the footprint they join).
            shared_fraction: None,
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
    fn shared_member_fraction_is_built_as_asked() {
        // The train-crbm synthetic default (N = 2000, 20 assemblies of ~40 members), whose
        // chance overlap is a few per cent: every requested fraction is met to the neuron
        // (|realised − asked| ≤ ½ member / members), in both directions.
        let base = SyntheticConfig::with_assembly_size(2000, 20, 50, 40.0, 1);
        let chance = SyntheticConfig {
            shared_fraction: None,
            ..base.clone()
        }
        .generate()
        .unwrap();
        let chance_fraction = chance.shared_member_fraction();
        for f in [0.0, 0.15, 0.3, 0.5] {
            let s = SyntheticConfig {
                shared_fraction: Some(f),
                ..base.clone()
            }
            .generate()
            .unwrap();
            let counts = membership_counts(&s.memberships, 2000);
            let members = counts.iter().filter(|&&c| c >= 1).count();
            let shared = counts.iter().filter(|&&c| c >= 2).count();
            eprintln!(
                "asked {f}: {shared} of {members} members shared (chance {chance_fraction:.3})"
            );
            assert!(
                (shared as f64 - f * members as f64).abs() <= 0.5,
                "asked {f}: {shared} of {members}"
            );
            assert_eq!(s.shared_member_fraction(), shared as f64 / members as f64);
            for m in &s.memberships {
                assert!(!m.is_empty() && m.windows(2).all(|w| w[0] < w[1]));
            }
            // Sharing re-labels members only: the same neurons are assembly members.
            let chance_counts = membership_counts(&chance.memberships, 2000);
            assert!(counts
                .iter()
                .zip(&chance_counts)
                .all(|(a, b)| (*a >= 1) == (*b >= 1)));
        }
        assert!(chance_fraction < 0.15, "chance overlap {chance_fraction}");
        assert!(SyntheticConfig {
            shared_fraction: Some(1.5),
            ..base.clone()
        }
        .generate()
        .is_err());
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
