//! The prototype's "two assumptions" (`pmfm-model.md`, Surrogate), measured: a θ-only surrogate
//! can serve groups it never saw when the simulated FC/FCD (and the costs) vary little across the
//! groups' connectomes compared with how much they vary across θ, and not much more than across
//! noise duplicates.
//!
//! Every group simulates the same θ_1..θ_K with the same noise seed, so duplicate d sees the same
//! noise in every group and for every θ (common random numbers). That gives one *cell* per
//! (group, θ, duplicate): its FC upper triangle, its FCD CDF and its single-duplicate costs
//! against the group's own empirical FC/FCD. Two cells that differ in exactly one index form a
//! pair of one [`Source`]:
//! * [`Source::Groups`]: same θ and duplicate, another group (connectome, maps and targets);
//! * [`Source::Theta`]: same group and duplicate, another θ;
//! * [`Source::Noise`]: same group and θ, another duplicate (the noise floor).
//!
//! Distances of a pair: FC `1 − r` of the two upper triangles ([`fc_distance`]); FCD the KS
//! distance `max_k |F_a(k) − F_b(k)|` of the two CDFs normalised to end at 1 ([`ks_distance`],
//! the KS cost's formula). Cost spread of a source: the pooled within-block sd, `√(mean s²)`
//! over the blocks that hold the other two indices fixed, s² the sample variance across the
//! varied index. Rank agreement: Spearman ρ of the cost vectors over θ between two groups (same
//! duplicate) or two duplicates (same group) — what CMA-ES needs to find the same optimum.

use burn::tensor::Device;
use pmfm_sim::data::EmpiricalData;
use pmfm_sim::noise::SeededNoise;
use pmfm_sim::observables::{
    fc_cost, fc_host, fcd_cdfs, ks_cost, pearson, upper_triangle, FcdCdf, Targets,
};
use pmfm_sim::params::{is_feasible, Bounds, RegionalParams, Theta, THETA_NAMES};
use pmfm_sim::{Cost, SimConfig, Simulator};
use polars::prelude::{Column, DataFrame};

use crate::design::{Design, DesignSpace};
use crate::error::{Result, SurrogateError};

/// Transfer needs the across-group value of every measure at most this fraction of the
/// across-θ value: then the surrogate's input θ explains most of what changes.
pub const SMALL_VS_THETA: f64 = 0.5;

/// ... and at most this multiple of the noise floor (the across-duplicate value).
pub const NEAR_NOISE: f64 = 2.0;

/// Draws tried per θ asked for before [`draw_thetas`] gives up.
const DRAWS_PER_THETA: usize = 1000;

/// A source of variation: which index of (group, θ, duplicate) a pair of cells differs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Groups,
    Theta,
    Noise,
}

impl Source {
    pub const ALL: [Source; 3] = [Source::Groups, Source::Theta, Source::Noise];

    /// Name in tables: `groups`, `theta`, `noise`.
    pub fn name(self) -> &'static str {
        match self {
            Source::Groups => "groups",
            Source::Theta => "theta",
            Source::Noise => "noise",
        }
    }
}

/// Settings of one measurement, checked once by [`AssumptionsConfig::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct AssumptionsConfig {
    /// Integration schedule of every simulation.
    pub sim: SimConfig,
    /// FCD window (frames).
    pub fcd_window: usize,
    /// Noise duplicates per (group, θ); ≥ 2 for a noise floor.
    pub n_dup: usize,
    /// Seed of the noise every group shares.
    pub seed: u64,
}

impl AssumptionsConfig {
    /// At least 2 groups, 2 θ and 2 duplicates (each source needs a pair), and a schedule that
    /// fits the FCD window.
    pub fn check(&self, n_groups: usize, n_theta: usize) -> Result<()> {
        for (what, n) in [
            ("groups", n_groups),
            ("parameter vectors θ", n_theta),
            ("noise duplicates", self.n_dup),
        ] {
            if n < 2 {
                return Err(SurrogateError::Config(format!(
                    "the assumptions need at least 2 {what}, got {n}"
                )));
            }
        }
        self.sim
            .validate()
            .and_then(|()| self.sim.validate_fcd_window(self.fcd_window))
            .map_err(|e| SurrogateError::Config(e.to_string()))
    }
}

/// FC distance `1 − r` between two FC upper triangles (0 for proportional FCs, 2 for
/// anti-correlated ones; NaN when either is constant or not finite).
pub fn fc_distance(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() || a.iter().chain(b).any(|x| !x.is_finite()) {
        return f64::NAN;
    }
    1.0 - pearson(a, b)
}

/// KS distance between two cumulative histograms on the same bins, each normalised to end at 1:
/// `max_k |a_k/a_last − b_k/b_last|` ∈ [0, 1]. NaN when the lengths differ or a histogram is
/// empty.
pub fn ks_distance(a: &[f64], b: &[f64]) -> f64 {
    let (Some(&ta), Some(&tb)) = (a.last(), b.last()) else {
        return f64::NAN;
    };
    if a.len() != b.len() || !(ta > 0.0 && tb > 0.0) {
        return f64::NAN;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| (x / ta - y / tb).abs())
        .fold(0.0, f64::max)
}

/// Spearman rank correlation (average ranks for ties). NaN for fewer than 2 values or a
/// constant vector.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() || a.len() < 2 {
        return f64::NAN;
    }
    pearson(&ranks(a), &ranks(b))
}

/// Ranks 0..n−1, ties sharing their mean rank.
fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
    let mut r = vec![0.0; x.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && x[order[end]] == x[order[start]] {
            end += 1;
        }
        let mean = 0.5 * (start + end - 1) as f64;
        for &i in &order[start..end] {
            r[i] = mean;
        }
        start = end;
    }
    r
}

/// Pooled within-block standard deviation `√(mean_b s²_b)` over blocks with ≥ 2 finite values
/// (s² the sample variance); NaN when no block has 2.
pub fn pooled_sd(blocks: &[Vec<f64>]) -> f64 {
    let vars: Vec<f64> = blocks
        .iter()
        .map(|b| {
            b.iter()
                .copied()
                .filter(|x| x.is_finite())
                .collect::<Vec<_>>()
        })
        .filter(|b| b.len() >= 2)
        .map(|b| {
            let m = b.iter().sum::<f64>() / b.len() as f64;
            b.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (b.len() - 1) as f64
        })
        .collect();
    if vars.is_empty() {
        return f64::NAN;
    }
    (vars.iter().sum::<f64>() / vars.len() as f64).sqrt()
}

/// Observables of one simulated series (one group, θ and duplicate).
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// FC upper triangle (i < j); `None` when the FC has a NaN entry (a failed series).
    pub fc_upper: Option<Vec<f64>>,
    /// FCD CDF normalised to end at 1, length `FCD_BINS`; `None` when the histogram lost values.
    pub fcd_cdf: Option<Vec<f64>>,
    /// Single-duplicate costs against the group's own empirical FC/FCD.
    pub cost: Cost,
}

impl Cell {
    fn new(fc: &[f64], cdf: &FcdCdf, n: usize, targets: &Targets) -> Self {
        let upper = upper_triangle(fc, n);
        let (fc_c, valid_fc_dups) = fc_cost(std::slice::from_ref(&upper), &targets.fc_upper);
        let (ks_c, valid_ks_dups) = ks_cost(std::slice::from_ref(cdf), &targets.fcd_cdf);
        Self {
            fc_upper: upper.iter().all(|x| x.is_finite()).then_some(upper),
            fcd_cdf: cdf
                .is_valid()
                .then(|| cdf.counts.iter().map(|c| c / cdf.expected as f64).collect()),
            cost: Cost {
                fc: fc_c,
                ks: ks_c,
                total: fc_c + ks_c,
                valid_fc_dups,
                valid_ks_dups,
            },
        }
    }

    /// Both observables were computed.
    pub fn is_valid(&self) -> bool {
        self.fc_upper.is_some() && self.fcd_cdf.is_some()
    }
}

/// Every (group, θ, duplicate) cell, group-major: cell (g, k, d) is at `(g·K + k)·D + d`.
#[derive(Debug, Clone)]
pub struct Cube {
    pub groups: Vec<String>,
    pub n_theta: usize,
    pub n_dup: usize,
    pub cells: Vec<Cell>,
}

impl Cube {
    pub fn cell(&self, g: usize, k: usize, d: usize) -> &Cell {
        &self.cells[(g * self.n_theta + k) * self.n_dup + d]
    }

    /// (group, θ, duplicate) of every cell, in storage order.
    pub fn indices(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        let (k, d) = (self.n_theta, self.n_dup);
        (0..self.groups.len())
            .flat_map(move |g| (0..k).flat_map(move |t| (0..d).map(move |s| (g, t, s))))
    }
}

/// Simulates every θ on every group (one batch per group, duplicates from the shared `seed`) and
/// keeps each series' observables.
pub fn simulate_cube(
    groups: &[EmpiricalData],
    thetas: &[Theta],
    cfg: &AssumptionsConfig,
    device: &Device,
) -> Result<Cube> {
    let mut cells = Vec::with_capacity(groups.len() * thetas.len() * cfg.n_dup);
    for g in groups {
        let n = g.n_regions();
        let sim = Simulator::new(&g.sc.data, n, cfg.sim, device)
            .map_err(|e| SurrogateError::Config(format!("group '{}': {e}", g.name)))?;
        let params: Vec<RegionalParams> = thetas
            .iter()
            .map(|t| RegionalParams::from_theta(t, &g.myelin, &g.gradient))
            .collect();
        let bold = sim
            .simulate(&params, cfg.n_dup, &mut SeededNoise::new(cfg.seed))
            .map_err(|e| SurrogateError::Input(format!("group '{}': {e}", g.name)))?;
        let fcs = fc_host(bold.signal.clone());
        let cdfs = fcd_cdfs(bold.signal, cfg.fcd_window);
        let targets = Targets::new(&g.fc.data, n, g.fcd_cdf.clone());
        // Series m = d·K + k (`Bold`); cells are stored θ-major within a group.
        for k in 0..thetas.len() {
            for d in 0..cfg.n_dup {
                let m = d * thetas.len() + k;
                cells.push(Cell::new(&fcs[m], &cdfs[m], n, &targets));
            }
        }
    }
    Ok(Cube {
        groups: groups.iter().map(|g| g.name.clone()).collect(),
        n_theta: thetas.len(),
        n_dup: cfg.n_dup,
        cells,
    })
}

/// Distances between two cells that differ in one index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    pub source: Source,
    /// (group, θ, duplicate) of the two cells.
    pub a: (usize, usize, usize),
    pub b: (usize, usize, usize),
    /// `1 − r` of the FC upper triangles; NaN when either series failed.
    pub fc_distance: f64,
    /// KS distance of the FCD CDFs; NaN when either histogram lost values.
    pub fcd_distance: f64,
}

/// Every pair of cells that differ in exactly one index, by source.
pub fn pairs(cube: &Cube) -> Vec<Pair> {
    let (ng, nk, nd) = (cube.groups.len(), cube.n_theta, cube.n_dup);
    let mut out = Vec::new();
    let mut push = |source, a: (usize, usize, usize), b: (usize, usize, usize)| {
        let (ca, cb) = (cube.cell(a.0, a.1, a.2), cube.cell(b.0, b.1, b.2));
        let fc = match (&ca.fc_upper, &cb.fc_upper) {
            (Some(x), Some(y)) => fc_distance(x, y),
            _ => f64::NAN,
        };
        let fcd = match (&ca.fcd_cdf, &cb.fcd_cdf) {
            (Some(x), Some(y)) => ks_distance(x, y),
            _ => f64::NAN,
        };
        out.push(Pair {
            source,
            a,
            b,
            fc_distance: fc,
            fcd_distance: fcd,
        });
    };
    for k in 0..nk {
        for d in 0..nd {
            for g in 0..ng {
                for h in g + 1..ng {
                    push(Source::Groups, (g, k, d), (h, k, d));
                }
            }
        }
    }
    for g in 0..ng {
        for d in 0..nd {
            for k in 0..nk {
                for l in k + 1..nk {
                    push(Source::Theta, (g, k, d), (g, l, d));
                }
            }
        }
    }
    for g in 0..ng {
        for k in 0..nk {
            for d in 0..nd {
                for e in d + 1..nd {
                    push(Source::Noise, (g, k, d), (g, k, e));
                }
            }
        }
    }
    out
}

/// Mean, sd (sample), median and count of the finite values of a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    pub mean: f64,
    pub sd: f64,
    pub median: f64,
    pub n: usize,
}

impl Moments {
    pub fn of(values: impl Iterator<Item = f64>) -> Self {
        let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
        let n = v.len();
        if n == 0 {
            return Self {
                mean: f64::NAN,
                sd: f64::NAN,
                median: f64::NAN,
                n,
            };
        }
        v.sort_by(f64::total_cmp);
        let mean = v.iter().sum::<f64>() / n as f64;
        let sd = if n > 1 {
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            f64::NAN
        };
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            0.5 * (v[n / 2 - 1] + v[n / 2])
        };
        Self {
            mean,
            sd,
            median,
            n,
        }
    }
}

/// How much one source moves the observables and the costs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceSummary {
    pub source: Source,
    /// Pairs of this source, valid or not.
    pub n_pairs: usize,
    pub fc_distance: Moments,
    pub fcd_distance: Moments,
    /// Pooled within-block sd of the single-duplicate costs across this source's index.
    pub fc_cost_sd: f64,
    pub ks_cost_sd: f64,
    pub total_cost_sd: f64,
    /// Mean Spearman ρ of the total-cost vectors over θ between two groups (same duplicate) or
    /// two duplicates (same group); NaN for [`Source::Theta`].
    pub cost_rank_r: f64,
}

/// The per-source summaries of a cube and its pairs, in [`Source::ALL`] order.
pub fn summarise(cube: &Cube, pairs: &[Pair]) -> Vec<SourceSummary> {
    let (ng, nk, nd) = (cube.groups.len(), cube.n_theta, cube.n_dup);
    let cost = |g, k, d, f: fn(&Cost) -> f64| {
        let c = &cube.cell(g, k, d).cost;
        if c.is_valid() {
            f(c)
        } else {
            f64::NAN
        }
    };
    // Blocks of costs along the varied index, the other two held fixed.
    let blocks = |source: Source, f: fn(&Cost) -> f64| -> Vec<Vec<f64>> {
        match source {
            Source::Groups => (0..nk)
                .flat_map(|k| (0..nd).map(move |d| (k, d)))
                .map(|(k, d)| (0..ng).map(|g| cost(g, k, d, f)).collect())
                .collect(),
            Source::Theta => (0..ng)
                .flat_map(|g| (0..nd).map(move |d| (g, d)))
                .map(|(g, d)| (0..nk).map(|k| cost(g, k, d, f)).collect())
                .collect(),
            Source::Noise => (0..ng)
                .flat_map(|g| (0..nk).map(move |k| (g, k)))
                .map(|(g, k)| (0..nd).map(|d| cost(g, k, d, f)).collect())
                .collect(),
        }
    };
    let over_theta = |g, d| -> Vec<f64> {
        (0..nk)
            .map(|k| cube.cell(g, k, d).cost.total)
            .collect::<Vec<_>>()
    };
    let rank_r = |source: Source| -> f64 {
        let mut rs = Vec::new();
        match source {
            Source::Groups => {
                for d in 0..nd {
                    for g in 0..ng {
                        for h in g + 1..ng {
                            rs.push(spearman(&over_theta(g, d), &over_theta(h, d)));
                        }
                    }
                }
            }
            Source::Noise => {
                for g in 0..ng {
                    for d in 0..nd {
                        for e in d + 1..nd {
                            rs.push(spearman(&over_theta(g, d), &over_theta(g, e)));
                        }
                    }
                }
            }
            Source::Theta => {}
        }
        Moments::of(rs.into_iter()).mean
    };
    Source::ALL
        .iter()
        .map(|&source| {
            let of = || pairs.iter().filter(move |p| p.source == source);
            SourceSummary {
                source,
                n_pairs: of().count(),
                fc_distance: Moments::of(of().map(|p| p.fc_distance)),
                fcd_distance: Moments::of(of().map(|p| p.fcd_distance)),
                fc_cost_sd: pooled_sd(&blocks(source, |c| c.fc)),
                ks_cost_sd: pooled_sd(&blocks(source, |c| c.ks)),
                total_cost_sd: pooled_sd(&blocks(source, |c| c.total)),
                cost_rank_r: rank_r(source),
            }
        })
        .collect()
}

/// Across-group value of one measure relative to the across-θ value and to the noise floor.
#[derive(Debug, Clone, PartialEq)]
pub struct Ratio {
    /// `fc_distance`, `fcd_distance` or `total_cost_sd`.
    pub measure: &'static str,
    pub groups: f64,
    pub theta: f64,
    pub noise: f64,
}

impl Ratio {
    pub fn groups_over_theta(&self) -> f64 {
        self.groups / self.theta
    }

    pub fn groups_over_noise(&self) -> f64 {
        self.groups / self.noise
    }

    /// Small against θ and near the noise floor (see [`SMALL_VS_THETA`], [`NEAR_NOISE`]).
    pub fn transfers(&self) -> bool {
        self.groups_over_theta() <= SMALL_VS_THETA && self.groups_over_noise() <= NEAR_NOISE
    }
}

/// Whether a θ-only surrogate can transfer across these groups: every measure's across-group
/// variation at most [`SMALL_VS_THETA`] × its across-θ variation and at most [`NEAR_NOISE`] ×
/// its noise floor.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub ratios: Vec<Ratio>,
}

impl Verdict {
    /// Mean FC distance, mean FCD distance and total-cost sd of the three sources.
    pub fn of(summaries: &[SourceSummary]) -> Self {
        let get = |s: Source, f: &dyn Fn(&SourceSummary) -> f64| {
            summaries.iter().find(|x| x.source == s).map_or(f64::NAN, f)
        };
        let ratio = |measure, f: &dyn Fn(&SourceSummary) -> f64| Ratio {
            measure,
            groups: get(Source::Groups, f),
            theta: get(Source::Theta, f),
            noise: get(Source::Noise, f),
        };
        Self {
            ratios: vec![
                ratio("fc_distance", &|s| s.fc_distance.mean),
                ratio("fcd_distance", &|s| s.fcd_distance.mean),
                ratio("total_cost_sd", &|s| s.total_cost_sd),
            ],
        }
    }

    pub fn transfers(&self) -> bool {
        self.ratios.iter().all(Ratio::transfers)
    }

    /// One line per measure, then the conclusion.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for r in &self.ratios {
            s.push_str(&format!(
                "{:<14} groups/θ = {:.3}  groups/noise = {:.3}{}\n",
                r.measure,
                r.groups_over_theta(),
                r.groups_over_noise(),
                if r.transfers() { "" } else { "  ✗" }
            ));
        }
        s.push_str(if self.transfers() {
            "verdict: group-to-group variation is small against θ-to-θ variation and near the noise floor: a θ-only surrogate can transfer across these groups"
        } else {
            "verdict: group-to-group variation is not small against θ-to-θ variation or the noise floor: condition the surrogate on the group (SC, empirical FC/FCD)"
        });
        s.push_str(&format!(
            " (thresholds: groups/θ ≤ {SMALL_VS_THETA}, groups/noise ≤ {NEAR_NOISE})"
        ));
        s
    }
}

/// A finished measurement.
#[derive(Debug, Clone)]
pub struct Report {
    pub config: AssumptionsConfig,
    pub thetas: Vec<Theta>,
    pub cube: Cube,
    pub pairs: Vec<Pair>,
    pub summaries: Vec<SourceSummary>,
    pub verdict: Verdict,
}

/// Checks the inputs (settings, one parcellation, every θ feasible on every group's maps),
/// simulates the cube and summarises it.
pub fn measure(
    groups: &[EmpiricalData],
    thetas: &[Theta],
    config: &AssumptionsConfig,
    device: &Device,
) -> Result<Report> {
    config.check(groups.len(), thetas.len())?;
    crate::groups::check_groups(groups)?;
    let bounds = Bounds::default();
    for (k, t) in thetas.iter().enumerate() {
        if let Some(g) = groups
            .iter()
            .find(|g| !is_feasible(t, &g.myelin, &g.gradient, &bounds))
        {
            return Err(SurrogateError::Input(format!(
                "θ #{k} is infeasible on the maps of group '{}'",
                g.name
            )));
        }
    }
    let cube = simulate_cube(groups, thetas, config, device)?;
    let pairs = pairs(&cube);
    let summaries = summarise(&cube, &pairs);
    let verdict = Verdict::of(&summaries);
    Ok(Report {
        config: config.clone(),
        thetas: thetas.to_vec(),
        cube,
        pairs,
        summaries,
        verdict,
    })
}

/// `n` θ of `design` (global indices 0, 1, … under `seed`, on the first group's maps), keeping
/// only those feasible on every group's maps.
pub fn draw_thetas(
    groups: &[EmpiricalData],
    design: &Design,
    n: usize,
    seed: u64,
) -> Result<Vec<Theta>> {
    design.validate()?;
    let first = groups
        .first()
        .ok_or_else(|| SurrogateError::Input("no groups given".into()))?;
    let bounds = Bounds::default();
    let space = DesignSpace::new(&first.myelin, &first.gradient, bounds)?;
    let mut out = Vec::with_capacity(n);
    for k in 0..(n * DRAWS_PER_THETA) as u64 {
        if out.len() == n {
            break;
        }
        let t = space.draw(design, seed, k);
        if groups
            .iter()
            .all(|g| is_feasible(&t, &g.myelin, &g.gradient, &bounds))
        {
            out.push(t);
        }
    }
    if out.len() < n {
        return Err(SurrogateError::Input(format!(
            "found only {} of {n} θ of the {} design feasible on every group's maps",
            out.len(),
            design.name()
        )));
    }
    Ok(out)
}

fn frame(n: usize, cols: Vec<Column>) -> Result<DataFrame> {
    DataFrame::new(n, cols).map_err(|e| SurrogateError::Input(format!("building the table: {e}")))
}

impl Report {
    /// The summary table: one row per (source, statistic) with its value and the number of
    /// pairs or blocks behind it, plus the run's sizes and seed.
    pub fn summary_frame(&self) -> Result<DataFrame> {
        let (ng, nk, nd) = (self.cube.groups.len(), self.cube.n_theta, self.cube.n_dup);
        let mut rows: Vec<(&str, &str, f64, u64)> = Vec::new();
        for s in &self.summaries {
            let src = s.source.name();
            let blocks = match s.source {
                Source::Groups => nk * nd,
                Source::Theta => ng * nd,
                Source::Noise => ng * nk,
            } as u64;
            let (fc, fcd) = (s.fc_distance, s.fcd_distance);
            rows.extend([
                (src, "fc_distance_mean", fc.mean, fc.n as u64),
                (src, "fc_distance_sd", fc.sd, fc.n as u64),
                (src, "fc_distance_median", fc.median, fc.n as u64),
                (src, "fcd_distance_mean", fcd.mean, fcd.n as u64),
                (src, "fcd_distance_sd", fcd.sd, fcd.n as u64),
                (src, "fcd_distance_median", fcd.median, fcd.n as u64),
                (src, "fc_cost_sd", s.fc_cost_sd, blocks),
                (src, "ks_cost_sd", s.ks_cost_sd, blocks),
                (src, "total_cost_sd", s.total_cost_sd, blocks),
                (src, "cost_rank_r", s.cost_rank_r, blocks),
            ]);
        }
        let n = rows.len();
        let groups = self.cube.groups.join(",");
        frame(
            n,
            vec![
                Column::new(
                    "source".into(),
                    rows.iter().map(|r| r.0.to_string()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "statistic".into(),
                    rows.iter().map(|r| r.1.to_string()).collect::<Vec<_>>(),
                ),
                Column::new("value".into(), rows.iter().map(|r| r.2).collect::<Vec<_>>()),
                Column::new("n".into(), rows.iter().map(|r| r.3).collect::<Vec<_>>()),
                Column::new("groups".into(), vec![groups; n]),
                Column::new("n_groups".into(), vec![ng as u64; n]),
                Column::new("n_theta".into(), vec![nk as u64; n]),
                Column::new("n_dup".into(), vec![nd as u64; n]),
                Column::new("seed".into(), vec![self.config.seed; n]),
                Column::new("duration_s".into(), vec![self.config.sim.duration; n]),
                Column::new("fcd_window".into(), vec![self.config.fcd_window as u64; n]),
            ],
        )
    }

    /// The pair table: one row per pair with its source, the two cells' (group, θ, duplicate)
    /// and the two distances.
    pub fn pairs_frame(&self) -> Result<DataFrame> {
        let p = &self.pairs;
        let name = |g: usize| self.cube.groups[g].clone();
        frame(
            p.len(),
            vec![
                Column::new(
                    "source".into(),
                    p.iter().map(|x| x.source.name()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "group_a".into(),
                    p.iter().map(|x| name(x.a.0)).collect::<Vec<_>>(),
                ),
                Column::new(
                    "group_b".into(),
                    p.iter().map(|x| name(x.b.0)).collect::<Vec<_>>(),
                ),
                Column::new(
                    "theta_a".into(),
                    p.iter().map(|x| x.a.1 as u64).collect::<Vec<_>>(),
                ),
                Column::new(
                    "theta_b".into(),
                    p.iter().map(|x| x.b.1 as u64).collect::<Vec<_>>(),
                ),
                Column::new(
                    "dup_a".into(),
                    p.iter().map(|x| x.a.2 as u64).collect::<Vec<_>>(),
                ),
                Column::new(
                    "dup_b".into(),
                    p.iter().map(|x| x.b.2 as u64).collect::<Vec<_>>(),
                ),
                Column::new(
                    "fc_distance".into(),
                    p.iter().map(|x| x.fc_distance).collect::<Vec<_>>(),
                ),
                Column::new(
                    "fcd_distance".into(),
                    p.iter().map(|x| x.fcd_distance).collect::<Vec<_>>(),
                ),
            ],
        )
    }

    /// The cell table: one row per (group, θ, duplicate) with θ, the single-duplicate costs and
    /// whether both observables were computed.
    pub fn cells_frame(&self) -> Result<DataFrame> {
        let idx: Vec<(usize, usize, usize)> = self.cube.indices().collect();
        let cell = |&(g, k, d): &(usize, usize, usize)| self.cube.cell(g, k, d);
        let mut cols = vec![
            Column::new(
                "group".into(),
                idx.iter()
                    .map(|i| self.cube.groups[i.0].clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "theta_index".into(),
                idx.iter().map(|i| i.1 as u64).collect::<Vec<_>>(),
            ),
            Column::new(
                "dup".into(),
                idx.iter().map(|i| i.2 as u64).collect::<Vec<_>>(),
            ),
        ];
        for (p, name) in THETA_NAMES.iter().enumerate() {
            cols.push(Column::new(
                (*name).into(),
                idx.iter().map(|i| self.thetas[i.1][p]).collect::<Vec<_>>(),
            ));
        }
        cols.extend([
            Column::new(
                "fc_cost".into(),
                idx.iter().map(|i| cell(i).cost.fc).collect::<Vec<_>>(),
            ),
            Column::new(
                "ks_cost".into(),
                idx.iter().map(|i| cell(i).cost.ks).collect::<Vec<_>>(),
            ),
            Column::new(
                "total_cost".into(),
                idx.iter().map(|i| cell(i).cost.total).collect::<Vec<_>>(),
            ),
            Column::new(
                "valid".into(),
                idx.iter().map(|i| cell(i).is_valid()).collect::<Vec<_>>(),
            ),
        ]);
        frame(idx.len(), cols)
    }

    /// FC and FCD distances of the pairs of `source`.
    pub fn distances(&self, source: Source) -> (Vec<f64>, Vec<f64>) {
        self.pairs
            .iter()
            .filter(|p| p.source == source)
            .map(|p| (p.fc_distance, p.fcd_distance))
            .unzip()
    }

    /// Mean single-duplicate costs of each group over θ and duplicates (valid cells only), with
    /// the range of the per-θ mean total cost: where on the cost landscape the θ set lies.
    pub fn group_cost_table(&self) -> String {
        let (nk, nd) = (self.cube.n_theta, self.cube.n_dup);
        let mut s = format!(
            "{:<40} {:>8} {:>8} {:>8} {:>17}\n",
            "group", "FC cost", "KS cost", "total", "θ-mean total range"
        );
        for (g, name) in self.cube.groups.iter().enumerate() {
            let valid = || {
                (0..nk)
                    .flat_map(move |k| (0..nd).map(move |d| (k, d)))
                    .map(move |(k, d)| self.cube.cell(g, k, d).cost)
                    .filter(Cost::is_valid)
            };
            let per_theta: Vec<f64> = (0..nk)
                .map(|k| {
                    Moments::of((0..nd).map(|d| {
                        let c = self.cube.cell(g, k, d).cost;
                        if c.is_valid() {
                            c.total
                        } else {
                            f64::NAN
                        }
                    }))
                    .mean
                })
                .collect();
            let lo = per_theta.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = per_theta.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            s.push_str(&format!(
                "{:<40} {:>8.4} {:>8.4} {:>8.4} {:>8.4}–{:<8.4}\n",
                name,
                Moments::of(valid().map(|c| c.fc)).mean,
                Moments::of(valid().map(|c| c.ks)).mean,
                Moments::of(valid().map(|c| c.total)).mean,
                lo,
                hi
            ));
        }
        s
    }

    /// The summary as an aligned text table (one row per source).
    pub fn text_table(&self) -> String {
        let mut s = format!(
            "{:<7} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "source",
            "pairs",
            "FC dist",
            "FCD dist",
            "sd FC",
            "sd KS",
            "sd total",
            "rank ρ",
            "invalid"
        );
        for x in &self.summaries {
            let invalid = x.n_pairs - x.fc_distance.n.min(x.fcd_distance.n);
            s.push_str(&format!(
                "{:<7} {:>6} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>9.3} {:>9}\n",
                x.source.name(),
                x.n_pairs,
                x.fc_distance.mean,
                x.fcd_distance.mean,
                x.fc_cost_sd,
                x.ks_cost_sd,
                x.total_cost_sd,
                x.cost_rank_r,
                invalid
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pmfm_sim::data::Matrix;
    use pmfm_sim::observables::FCD_BINS;
    use pmfm_sim::synthetic::{SyntheticConfig, SyntheticFamily, TRUE_THETA};

    #[test]
    fn fc_distance_is_zero_for_identical_symmetric_and_two_for_opposite() {
        let a: Vec<f64> = (0..45)
            .map(|k| ((k * 37 % 23) as f64 / 30.0) - 0.3)
            .collect();
        let b: Vec<f64> = (0..45)
            .map(|k| ((k * 11 % 17) as f64 / 20.0) - 0.1)
            .collect();
        assert!(fc_distance(&a, &a).abs() < 1e-12);
        assert_eq!(fc_distance(&a, &b), fc_distance(&b, &a));
        assert!(fc_distance(&a, &b) > 0.0);
        let neg: Vec<f64> = a.iter().map(|x| -x).collect();
        assert!((fc_distance(&a, &neg) - 2.0).abs() < 1e-12);
        // Invariant to scale and offset, NaN for failed series.
        let affine: Vec<f64> = a.iter().map(|x| 3.0 * x + 0.2).collect();
        assert!(fc_distance(&a, &affine).abs() < 1e-12);
        let mut nan = a.clone();
        nan[3] = f64::NAN;
        assert!(fc_distance(&a, &nan).is_nan());
    }

    #[test]
    fn ks_distance_of_known_cdfs() {
        // A step at bin 1 (all mass there) against mass spread evenly over 4 bins:
        // CDFs [0, 1, 1, 1] and [.25, .5, .75, 1] differ most at bin 1 by 0.5.
        let step = [0.0, 10.0, 10.0, 10.0];
        let even = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(ks_distance(&step, &even), 0.5);
        assert_eq!(ks_distance(&even, &step), 0.5);
        assert_eq!(ks_distance(&even, &even), 0.0);
        // Normalised: counts with other totals are the same distribution.
        assert_eq!(ks_distance(&even, &[2.0, 4.0, 6.0, 8.0]), 0.0);
        // Disjoint supports: 1. Empty or mismatched: NaN.
        assert_eq!(ks_distance(&[1.0, 1.0, 1.0], &[0.0, 0.0, 5.0]), 1.0);
        assert!(ks_distance(&[0.0, 0.0], &[1.0, 1.0]).is_nan());
        assert!(ks_distance(&[1.0], &[1.0, 1.0]).is_nan());
        // The KS cost's formula: same value as pmfm-sim's ks_cost on one duplicate.
        let vals: Vec<f64> = (0..500).map(|k| -0.4 + k as f64 / 900.0).collect();
        let c = FcdCdf::from_values(vals.iter().copied(), 500);
        let emp: Vec<f64> = (0..FCD_BINS).map(|k| k as f64 + 1.0).collect();
        let (ks, _) = ks_cost(&[c.clone()], &emp);
        assert!((ks_distance(&c.counts, &emp) - ks).abs() < 1e-12);
    }

    #[test]
    fn spearman_pooled_sd_and_moments() {
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 35.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert_eq!(ranks(&[5.0, 1.0, 5.0, 2.0]), vec![2.5, 0.0, 2.5, 1.0]);
        // Blocks {1, 3} (s² = 2) and {2, 2, 2} (s² = 0): √1 = 1; a lone or NaN value is skipped.
        let sd = pooled_sd(&[vec![1.0, 3.0], vec![2.0, 2.0, 2.0], vec![7.0, f64::NAN]]);
        assert!((sd - 1.0).abs() < 1e-12);
        assert!(pooled_sd(&[vec![1.0]]).is_nan());
        let m = Moments::of([4.0, 1.0, f64::NAN, 3.0, 2.0].into_iter());
        assert_eq!((m.mean, m.median, m.n), (2.5, 2.5, 4));
        assert!((m.sd - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn config_needs_two_of_everything() {
        let cfg = AssumptionsConfig {
            sim: SimConfig::default(),
            fcd_window: 83,
            n_dup: 2,
            seed: 0,
        };
        assert!(cfg.check(2, 2).is_ok());
        assert!(cfg.check(1, 2).unwrap_err().to_string().contains("groups"));
        assert!(cfg.check(2, 1).unwrap_err().to_string().contains("θ"));
        let one = AssumptionsConfig { n_dup: 1, ..cfg };
        assert!(one
            .check(2, 2)
            .unwrap_err()
            .to_string()
            .contains("duplicates"));
    }

    fn verdict_of(groups: f64, theta: f64, noise: f64) -> Verdict {
        let s = |source, v: f64| SourceSummary {
            source,
            n_pairs: 1,
            fc_distance: Moments::of([v].into_iter()),
            fcd_distance: Moments::of([v].into_iter()),
            fc_cost_sd: v,
            ks_cost_sd: v,
            total_cost_sd: v,
            cost_rank_r: f64::NAN,
        };
        Verdict::of(&[
            s(Source::Groups, groups),
            s(Source::Theta, theta),
            s(Source::Noise, noise),
        ])
    }

    #[test]
    fn verdict_follows_the_thresholds() {
        assert!(verdict_of(0.1, 1.0, 0.1).transfers());
        assert!(verdict_of(0.1, 1.0, 0.1).text().contains("can transfer"));
        // Large against θ, or far above the noise floor: condition.
        assert!(!verdict_of(0.8, 1.0, 0.8).transfers());
        assert!(!verdict_of(0.3, 1.0, 0.1).transfers());
        assert!(verdict_of(0.3, 1.0, 0.1).text().contains("condition"));
    }

    /// The short schedule of the simulated tests.
    fn short() -> AssumptionsConfig {
        AssumptionsConfig {
            sim: SimConfig {
                duration: 80.0,
                burn_in: 5.0,
                warmup_steps: 100,
                ..SimConfig::default()
            },
            fcd_window: 20,
            n_dup: 2,
            seed: 9,
        }
    }

    /// `n_groups` 10-region groups of the synthetic family (identical when `variability` is 0);
    /// targets only enter the costs and are the same for every group.
    fn tiny_groups(variability: f64, n_groups: usize) -> Vec<EmpiricalData> {
        let fam = SyntheticFamily {
            base: SyntheticConfig {
                n_regions: 10,
                ..SyntheticConfig::default()
            },
            sc_variability: variability,
            map_variability: variability,
            theta_variability: 0.0,
            ..SyntheticFamily::default()
        };
        let n = 10;
        (0..n_groups)
            .map(|g| {
                let (sc, myelin, gradient, _) = fam.group_layout(g).unwrap();
                EmpiricalData {
                    name: format!("g{g}"),
                    sc,
                    fc: Matrix::from_fn(n, n, |i, j| if i == j { 1.0 } else { 0.2 }),
                    fcd_cdf: (1..=FCD_BINS).map(|k| k as f64).collect(),
                    myelin,
                    gradient,
                }
            })
            .collect()
    }

    /// 3 θ around the synthetic ground truth, 2 duplicates, on [`tiny_groups`].
    fn tiny_report(variability: f64, n_groups: usize) -> Report {
        let groups = tiny_groups(variability, n_groups);
        let design = Design::Gaussian {
            centres: vec![TRUE_THETA],
            relative_sd: 0.1,
            absolute_sd: vec![],
            max_tries: 100,
        };
        let thetas = draw_thetas(&groups, &design, 3, 4).unwrap();
        measure(&groups, &thetas, &short(), &Device::flex()).unwrap()
    }

    #[test]
    fn identical_groups_under_common_random_numbers_do_not_differ_at_all() {
        let r = tiny_report(0.0, 2);
        let count = |s| r.pairs.iter().filter(|p| p.source == s).count();
        // K·D·C(G,2), G·D·C(K,2), G·K·C(D,2).
        assert_eq!(count(Source::Groups), 3 * 2);
        assert_eq!(count(Source::Theta), 2 * 2 * 3);
        assert_eq!(count(Source::Noise), 2 * 3);
        assert!(r.cube.cells.iter().all(Cell::is_valid));
        for p in r.pairs.iter().filter(|p| p.source == Source::Groups) {
            assert_eq!((p.fc_distance, p.fcd_distance), (0.0, 0.0), "{p:?}");
        }
        let [g, t, n] = [0, 1, 2].map(|i| r.summaries[i]);
        assert_eq!(g.total_cost_sd, 0.0);
        assert_eq!(g.cost_rank_r, 1.0);
        for s in [t, n] {
            assert!(s.fc_distance.mean > 0.0 && s.fc_distance.mean.is_finite());
            assert!(s.fcd_distance.mean > 0.0 && s.fcd_distance.mean.is_finite());
        }
        assert!(r.verdict.transfers(), "{}", r.verdict.text());
        let df = r.summary_frame().unwrap();
        assert_eq!(df.height(), 3 * 10);
        assert_eq!(r.pairs_frame().unwrap().height(), r.pairs.len());
        assert_eq!(r.cells_frame().unwrap().height(), 2 * 3 * 2);
        let costs = r.group_cost_table();
        assert_eq!(costs.lines().count(), 3, "{costs}");
        assert!(costs.contains("g1") && !costs.contains("NaN"), "{costs}");
    }

    #[test]
    fn groups_with_other_connectomes_differ() {
        let r = tiny_report(0.5, 2);
        let (fc, fcd) = r.distances(Source::Groups);
        assert!(fc.iter().all(|x| *x > 0.0 && x.is_finite()), "{fc:?}");
        assert!(fcd.iter().all(|x| *x >= 0.0 && x.is_finite()), "{fcd:?}");
    }

    #[test]
    fn infeasible_theta_and_too_few_groups_are_refused() {
        let groups = tiny_groups(0.0, 2);
        let mut bad = TRUE_THETA;
        bad[6] = 1e6; // G far outside its bound
        let e = measure(&groups, &[TRUE_THETA, bad], &short(), &Device::flex()).unwrap_err();
        assert!(e.to_string().contains("θ #1 is infeasible"), "{e}");
        let e = measure(
            &groups[..1],
            &[TRUE_THETA, TRUE_THETA],
            &short(),
            &Device::flex(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("2 groups"), "{e}");
    }
}
