//! Model evaluation: sampling from the model, the five statistics and nRMSE
//! (spec, "Evaluation: five statistics and nRMSE").
//!
//! All sums are accumulated in f64. Hidden-unit statistics use the conditional
//! means E[h|v] = Φ′(I(v)) for data and model samples alike (for μ ≠ ν the
//! hidden units are independent given v, so ⟨h_μ h_ν⟩ = ⟨Φ′_μ Φ′_ν⟩ exactly).

use rand::seq::SliceRandom;
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::batch::SparseBatch;
use crate::error::{CrbmError, Result};
use crate::gibbs::SamplerWeights;
use crate::model::Crbm;
use crate::rng::lane_rng;

/// How model samples are drawn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingConfig {
    /// Independent chains, each started from a random training frame.
    pub n_chains: usize,
    /// Gibbs sweeps discarded at the start of each chain.
    pub burn_in: usize,
    /// Samples kept per chain.
    pub samples_per_chain: usize,
    /// Gibbs sweeps between kept samples.
    pub thinning: usize,
    pub seed: u64,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self {
            n_chains: 300,
            burn_in: 100,
            samples_per_chain: 10,
            thinning: 10,
            seed: 0,
        }
    }
}

/// Draw `n_chains · samples_per_chain` visible samples from the model.
pub fn sample_model(
    model: &Crbm,
    start_from: &SparseBatch,
    cfg: &SamplingConfig,
) -> Result<SparseBatch> {
    if start_from.is_empty() || cfg.n_chains == 0 || cfg.samples_per_chain == 0 || cfg.thinning == 0
    {
        return Err(CrbmError::InvalidConfig {
            field: "sampling",
            value: format!("{cfg:?}, {} start frames", start_from.len()),
            reason: "needs ≥ 1 start frame, chain, sample and thinning step",
        });
    }
    let sw = SamplerWeights::from(model);
    let mut rng = lane_rng(cfg.seed, 0, 1 << 41);
    let idx: Vec<usize> = (0..cfg.n_chains)
        .map(|_| rng.random_range(0..start_from.len()))
        .collect();
    let mut v = start_from.select(&idx);
    sw.gibbs_sweeps(&mut v, cfg.burn_in, cfg.seed, 0);
    let mut step = cfg.burn_in as u64;
    let mut out = SparseBatch::new(model.n_visible);
    for _ in 0..cfg.samples_per_chain {
        sw.gibbs_sweeps(&mut v, cfg.thinning, cfg.seed, step);
        step += cfg.thinning as u64;
        out.rows.extend(v.rows.iter().cloned());
    }
    Ok(out)
}

/// Which of the five statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    V,
    H,
    Vh,
    Vv,
    Hh,
}

/// The five statistics of one set of frames.
#[derive(Clone, Debug, PartialEq)]
pub struct FiveStatistics {
    /// ⟨v_i⟩, shape [N].
    pub v: Vec<f64>,
    /// ⟨h_μ⟩, shape [M].
    pub h: Vec<f64>,
    /// ⟨v_i h_μ⟩, shape [N, M] row-major.
    pub vh: Vec<f64>,
    /// ⟨v_i v_j⟩ − ⟨v_i⟩⟨v_j⟩ for the given pairs, shape [pairs].
    pub vv: Vec<f64>,
    /// ⟨h_μ h_ν⟩ − ⟨h_μ⟩⟨h_ν⟩ for μ < ν, shape [M(M−1)/2].
    pub hh: Vec<f64>,
}

impl FiveStatistics {
    pub fn get(&self, s: Statistic) -> &[f64] {
        match s {
            Statistic::V => &self.v,
            Statistic::H => &self.h,
            Statistic::Vh => &self.vh,
            Statistic::Vv => &self.vv,
            Statistic::Hh => &self.hh,
        }
    }
}

/// All pairs i < j if there are at most `max_pairs`, else `max_pairs` distinct
/// random pairs (seeded).
pub fn sample_pairs(n: usize, max_pairs: usize, seed: u64) -> Vec<(u32, u32)> {
    let total = n * n.saturating_sub(1) / 2;
    if total <= max_pairs {
        return (0..n as u32)
            .flat_map(|i| (i + 1..n as u32).map(move |j| (i, j)))
            .collect();
    }
    let mut rng = lane_rng(seed, 0, 1 << 42);
    let mut seen = std::collections::HashSet::with_capacity(max_pairs);
    let mut out = Vec::with_capacity(max_pairs);
    while out.len() < max_pairs {
        let (a, b) = (rng.random_range(0..n as u32), rng.random_range(0..n as u32));
        if a == b {
            continue;
        }
        let p = (a.min(b), a.max(b));
        if seen.insert(p) {
            out.push(p);
        }
    }
    out
}

/// The five statistics of `frames` under `model` (for the hidden ones), with the
/// visible pairs `pairs` for ⟨vv⟩.
pub fn five_statistics(model: &Crbm, frames: &SparseBatch, pairs: &[(u32, u32)]) -> FiveStatistics {
    let (n, m) = (model.n_visible, model.n_hidden);
    let t = frames.len().max(1) as f64;
    // E[h|v] per frame, f64, shape [T, M].
    let sw = SamplerWeights::from(model);
    let inputs = sw.hidden_inputs(frames);
    let hmean: Vec<f64> = inputs
        .par_chunks(m.max(1))
        .flat_map_iter(|x| {
            x.iter()
                .zip(&model.hidden)
                .map(|(&x, u)| u.mean(x as f64))
                .collect::<Vec<_>>()
        })
        .collect();
    let v = frames.mean_activity();
    let (h, hh) = hidden_statistics(&hmean, m, t);
    // ⟨v_i h_μ⟩, split over neuron ranges so threads write disjoint rows.
    let mut vh = vec![0.0; n * m];
    let per = n.div_ceil(rayon::current_num_threads() * 4).max(1);
    vh.par_chunks_mut(per * m)
        .enumerate()
        .for_each(|(c, chunk)| {
            let (lo, hi) = ((c * per) as u32, ((c + 1) * per).min(n) as u32);
            for (b, active) in frames.rows.iter().enumerate() {
                let hb = &hmean[b * m..(b + 1) * m];
                let s = active.partition_point(|&i| i < lo);
                for &i in active[s..].iter().take_while(|&&i| i < hi) {
                    let off = (i - lo) as usize * m;
                    chunk[off..off + m]
                        .iter_mut()
                        .zip(hb)
                        .for_each(|(a, x)| *a += x / t);
                }
            }
        });
    // ⟨v_i v_j⟩ by AND-popcount of per-neuron frame bitsets.
    let words = frames.len().div_ceil(64);
    let mut bits = vec![0u64; n * words];
    for (b, active) in frames.rows.iter().enumerate() {
        for &i in active {
            bits[i as usize * words + b / 64] |= 1 << (b % 64);
        }
    }
    let vv = pairs
        .par_iter()
        .map(|&(i, j)| {
            let (a, b) = (
                &bits[i as usize * words..][..words],
                &bits[j as usize * words..][..words],
            );
            let co: u32 = a.iter().zip(b).map(|(x, y)| (x & y).count_ones()).sum();
            co as f64 / t - v[i as usize] * v[j as usize]
        })
        .collect();
    FiveStatistics { v, h, vh, vv, hh }
}

/// ⟨h_μ⟩ [M] and the connected ⟨h_μ h_ν⟩ − ⟨h_μ⟩⟨h_ν⟩ over μ < ν (row-major pairs) from
/// per-frame hidden values `frame_h` [T, M], averaged over `t` frames.
pub(crate) fn hidden_statistics(frame_h: &[f64], m: usize, t: f64) -> (Vec<f64>, Vec<f64>) {
    let mut h = vec![0.0; m];
    for row in frame_h.chunks(m.max(1)) {
        h.iter_mut().zip(row).for_each(|(a, x)| *a += x / t);
    }
    let mut hh = Vec::with_capacity(m * m.saturating_sub(1) / 2);
    for mu in 0..m {
        for nu in mu + 1..m {
            let s: f64 = frame_h.chunks(m).map(|r| r[mu] * r[nu]).sum();
            hh.push(s / t - h[mu] * h[nu]);
        }
    }
    (h, hh)
}

fn rmse(x: &[f64], y: &[f64]) -> f64 {
    (x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// `nRMSE = (RMSE(x, y) − RMSE(x, x_tr)) / (RMSE_shuffled − RMSE(x, x_tr))`,
/// with x = test-data values, y = model values, x_tr = training-data values and
/// RMSE_shuffled the RMSE between x and y after each is randomly permuted (seeded).
pub fn nrmse(x_test: &[f64], y_model: &[f64], x_train: &[f64], seed: u64) -> f64 {
    let floor = rmse(x_test, x_train);
    let mut rng = lane_rng(seed, 0, 1 << 43);
    let (mut xs, mut ys) = (x_test.to_vec(), y_model.to_vec());
    xs.shuffle(&mut rng);
    ys.shuffle(&mut rng);
    (rmse(x_test, y_model) - floor) / (rmse(&xs, &ys) - floor)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvalConfig {
    pub sampling: SamplingConfig,
    /// Visible pairs used for ⟨vv⟩ (subsampled above this).
    pub max_pairs: usize,
    /// The four statistics whose nRMSE norm decides "good"; default all but ⟨vv⟩.
    pub good_statistics: [Statistic; 4],
    /// "Good" when the L2 norm of the four nRMSEs is at most this.
    pub good_threshold: f64,
    /// Clip each nRMSE to [0, 1] before the good-rule norm (the study's rule).
    pub clip_nrmse: bool,
    pub seed: u64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            sampling: SamplingConfig::default(),
            max_pairs: 200_000,
            good_statistics: [Statistic::V, Statistic::H, Statistic::Vh, Statistic::Hh],
            good_threshold: 0.55,
            clip_nrmse: false,
            seed: 0,
        }
    }
}

/// nRMSE of the five statistics and the bad/good verdicts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NrmseReport {
    pub v: f64,
    pub h: f64,
    pub vh: f64,
    pub vv: f64,
    pub hh: f64,
    /// L2 norm of the four chosen nRMSEs.
    pub norm4: f64,
    /// Some nRMSE > 1 or NaN.
    pub bad: bool,
    /// norm4 ≤ threshold (and not bad).
    pub good: bool,
}

impl NrmseReport {
    pub fn get(&self, s: Statistic) -> f64 {
        match s {
            Statistic::V => self.v,
            Statistic::H => self.h,
            Statistic::Vh => self.vh,
            Statistic::Vv => self.vv,
            Statistic::Hh => self.hh,
        }
    }
}

/// Compare model statistics with held-out test statistics (the training
/// statistics give the noise floor). Samples start from training frames.
pub fn evaluate(
    model: &Crbm,
    train: &SparseBatch,
    test: &SparseBatch,
    cfg: &EvalConfig,
) -> Result<NrmseReport> {
    Ok(evaluate_detailed(model, train, test, cfg)?.report)
}

/// nRMSE report from given model samples.
pub fn compare(
    model: &Crbm,
    train: &SparseBatch,
    test: &SparseBatch,
    samples: &SparseBatch,
    cfg: &EvalConfig,
) -> NrmseReport {
    compare_detailed(model, train, test, samples, cfg).report
}

/// An nRMSE report with the statistics it was computed from (for identity plots).
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub report: NrmseReport,
    /// Statistics of the held-out test frames.
    pub test: FiveStatistics,
    /// Statistics of the model samples.
    pub model: FiveStatistics,
}

/// [`evaluate`], keeping the test and model statistics.
pub fn evaluate_detailed(
    model: &Crbm,
    train: &SparseBatch,
    test: &SparseBatch,
    cfg: &EvalConfig,
) -> Result<Evaluation> {
    let samples = sample_model(model, train, &cfg.sampling)?;
    Ok(compare_detailed(model, train, test, &samples, cfg))
}

/// The nRMSE of each statistic (test vs model, training as the floor) and the verdicts:
/// bad when any is > 1 or NaN; the good-rule norm over `cfg.good_statistics`, each nRMSE
/// clipped to [0, 1] first when `cfg.clip_nrmse` (the study's rule).
pub fn nrmse_report(
    test: &FiveStatistics,
    train: &FiveStatistics,
    model: &FiveStatistics,
    cfg: &EvalConfig,
) -> NrmseReport {
    let all = [
        Statistic::V,
        Statistic::H,
        Statistic::Vh,
        Statistic::Vv,
        Statistic::Hh,
    ];
    let vals: Vec<f64> = all
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            nrmse(
                test.get(s),
                model.get(s),
                train.get(s),
                cfg.seed.wrapping_add(k as u64),
            )
        })
        .collect();
    let mut r = NrmseReport {
        v: vals[0],
        h: vals[1],
        vh: vals[2],
        vv: vals[3],
        hh: vals[4],
        norm4: 0.0,
        bad: false,
        good: false,
    };
    r.bad = vals.iter().any(|x| x.is_nan() || *x > 1.0);
    let clip = |x: f64| if cfg.clip_nrmse { x.clamp(0.0, 1.0) } else { x };
    r.norm4 = cfg
        .good_statistics
        .iter()
        .map(|&s| clip(r.get(s)).powi(2))
        .sum::<f64>()
        .sqrt();
    r.good = !r.bad && r.norm4 <= cfg.good_threshold;
    r
}

/// [`compare`], keeping the test and model statistics.
pub fn compare_detailed(
    model: &Crbm,
    train: &SparseBatch,
    test: &SparseBatch,
    samples: &SparseBatch,
    cfg: &EvalConfig,
) -> Evaluation {
    let pairs = sample_pairs(model.n_visible, cfg.max_pairs, cfg.seed);
    let (st, ss, sm) = (
        five_statistics(model, test, &pairs),
        five_statistics(model, train, &pairs),
        five_statistics(model, samples, &pairs),
    );
    let r = nrmse_report(&st, &ss, &sm, cfg);
    Evaluation {
        report: r,
        test: st,
        model: sm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests_support::random_model;

    #[test]
    fn nrmse_reference_points() {
        let x: Vec<f64> = (0..500).map(|k| (k as f64 * 0.37).sin()).collect();
        let tr: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(k, a)| a + 0.05 * ((k * 7919 % 13) as f64 / 13.0 - 0.5))
            .collect();
        // A model as good as the training data scores 0.
        assert!(nrmse(&x, &tr, &tr, 1).abs() < 1e-12);
        // A model that is a shuffled copy of the test data scores ≈ 1.
        let mut sh = x.clone();
        sh.shuffle(&mut lane_rng(5, 0, 0));
        let s = nrmse(&x, &sh, &tr, 1);
        assert!((s - 1.0).abs() < 0.1, "{s}");
    }

    #[test]
    fn statistics_match_direct_formulas() {
        let c = random_model(5, 2, 3);
        let frames = SparseBatch {
            n_visible: 5,
            rows: vec![vec![0, 1], vec![1, 4], vec![], vec![0, 1, 2, 3, 4]],
        };
        let pairs = sample_pairs(5, 100, 0);
        assert_eq!(pairs.len(), 10);
        let s = five_statistics(&c, &frames, &pairs);
        let hm: Vec<Vec<f64>> = frames
            .rows
            .iter()
            .map(|r| {
                c.hidden_input(r)
                    .iter()
                    .zip(&c.hidden)
                    .map(|(&x, u)| u.mean(x))
                    .collect()
            })
            .collect();
        let t = 4.0;
        for mu in 0..2 {
            let want: f64 = hm.iter().map(|r| r[mu]).sum::<f64>() / t;
            assert!((s.h[mu] - want).abs() < 1e-5);
        }
        let want_vh: f64 = frames
            .rows
            .iter()
            .zip(&hm)
            .filter(|(r, _)| r.contains(&1))
            .map(|(_, h)| h[0])
            .sum::<f64>()
            / t;
        assert!((s.vh[2] - want_vh).abs() < 1e-5);
        // pair (0,1): co-active in frames 0 and 3.
        assert!((s.vv[0] - (2.0 / t - 0.5 * 0.75)).abs() < 1e-12);
        let hh: f64 = hm.iter().map(|r| r[0] * r[1]).sum::<f64>() / t - s.h[0] * s.h[1];
        assert!((s.hh[0] - hh).abs() < 1e-5);
        let big = sample_pairs(1000, 500, 1);
        assert_eq!(big.len(), 500);
        assert!(big.iter().all(|&(i, j)| i < j));
    }

    #[test]
    fn the_true_model_scores_near_the_noise_floor() {
        // Data drawn from a model, evaluated against samples of the same model:
        // nRMSE ≈ 0 (within sampling noise), far below 1. (Sizes large enough for
        // the single-shuffle baseline to be stable: 40 + 10 + 400 + 780 + 45 entries.)
        // Weights scaled down so that Gibbs chains mix within the burn-in.
        let mut teacher = random_model(40, 10, 11);
        teacher.weights.iter_mut().for_each(|w| *w *= 0.3);
        let start = SparseBatch {
            n_visible: 40,
            rows: vec![vec![]; 4],
        };
        let draw = |seed| {
            sample_model(
                &teacher,
                &start,
                &SamplingConfig {
                    n_chains: 400,
                    burn_in: 50,
                    samples_per_chain: 5,
                    thinning: 5,
                    seed,
                },
            )
            .unwrap()
        };
        let (train, test) = (draw(1), draw(2));
        let cfg = EvalConfig {
            sampling: SamplingConfig {
                n_chains: 400,
                burn_in: 50,
                samples_per_chain: 5,
                thinning: 5,
                seed: 3,
            },
            ..Default::default()
        };
        let r = evaluate(&teacher, &train, &test, &cfg).unwrap();
        for s in [
            Statistic::V,
            Statistic::H,
            Statistic::Vh,
            Statistic::Vv,
            Statistic::Hh,
        ] {
            assert!(r.get(s).abs() < 0.5, "{s:?}: {r:?}");
        }
        assert!(!r.bad && r.good, "{r:?}");
        // A model with shuffled-away structure is much worse.
        let wrong = random_model(40, 10, 99);
        let r2 = evaluate(&wrong, &train, &test, &cfg).unwrap();
        assert!(r2.norm4 > r.norm4, "{r2:?} vs {r:?}");
    }
}
