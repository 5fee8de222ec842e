//! Synthetic parameter→cost tables with known answers, for the tests of this crate.

use pmfm_sim::data::{EmpiricalData, Matrix};
use pmfm_sim::observables::{FCD_BINS, FCD_HI, FCD_LO};
use rand::Rng;

use burn::tensor::Device;

use super::{stream_rng, Activation, ModelConfig, ModelKind, Surrogate};
use crate::samples::{Connectome, RowSource, Samples, THETA_DIM};
use crate::train::{metrics, TrainConfig, TrainHistory};

/// A plausible box of θ: `[w0, w_m, w_g, I0, I_m, I_g, G, s0, s_m, s_g]`.
pub const LO: [f64; THETA_DIM] = [
    0.2, -0.1, -0.1, 0.2, -0.05, -0.05, 1.5, 0.002, -0.0005, -0.0005,
];
pub const HI: [f64; THETA_DIM] = [0.8, 0.1, 0.1, 0.4, 0.05, 0.05, 4.0, 0.006, 0.0005, 0.0005];

/// θ uniform in the box widened by `scale` around its centre.
pub fn uniform_theta(n: usize, seed: u64, scale: f64) -> Vec<[f64; THETA_DIM]> {
    let mut rng = stream_rng(seed, 99);
    (0..n)
        .map(|_| {
            let mut t = [0.0; THETA_DIM];
            for j in 0..THETA_DIM {
                let c = 0.5 * (LO[j] + HI[j]);
                let h = 0.5 * (HI[j] - LO[j]) * scale;
                t[j] = c + h * (2.0 * rng.random::<f64>() - 1.0);
            }
            t
        })
        .collect()
}

/// θ mapped to [−1, 1]^10 over the box.
pub fn unit(t: &[f64; THETA_DIM]) -> [f64; THETA_DIM] {
    let mut z = [0.0; THETA_DIM];
    for j in 0..THETA_DIM {
        z[j] = (t[j] - 0.5 * (LO[j] + HI[j])) / (0.5 * (HI[j] - LO[j]));
    }
    z
}

/// A known quadratic FC cost.
pub fn quadratic_fc(t: &[f64; THETA_DIM]) -> f64 {
    let z = unit(t);
    0.8 + 0.25 * z[0] - 0.15 * z[3] + 0.2 * z[6] * z[6] + 0.1 * z[0] * z[3] - 0.08 * z[7] * z[9]
        + 0.05 * z[2] * z[2]
}

/// A known quadratic KS cost.
pub fn quadratic_ks(t: &[f64; THETA_DIM]) -> f64 {
    let z = unit(t);
    0.4 + 0.1 * z[1] + 0.06 * z[6] - 0.05 * z[4] * z[8] + 0.04 * z[9] * z[9]
}

/// A small model of `kind` for tests: two hidden layers of `width` units with `activation`;
/// for the token model one attention layer of width `width / 2` (two heads) with a `width`
/// feed-forward.
pub fn small_model(kind: ModelKind, width: usize, activation: Activation) -> ModelConfig {
    ModelConfig {
        kind,
        depth: 2,
        width,
        activation,
        d_model: width / 2,
        heads: 2,
        layers: 1,
        ff: width,
        ..ModelConfig::default()
    }
}

/// [`Surrogate::fit`] on the CPU without an epoch callback; panics on an error.
pub fn fit_quiet(
    s: &Samples,
    c: Option<&Connectome>,
    m: &ModelConfig,
    t: &TrainConfig,
) -> (Surrogate, TrainHistory) {
    Surrogate::fit(s, c, m, t, &Device::flex(), &mut |_| {}).unwrap()
}

/// A table from θ and a rule giving `(fc, ks, valid)`; invalid rows get costs 10.
pub fn samples(
    theta: Vec<[f64; THETA_DIM]>,
    rule: impl Fn(&[f64; THETA_DIM]) -> (f64, f64, bool),
) -> Samples {
    let source = RowSource::test("test");
    let mut s = Samples::default();
    for (k, t) in theta.into_iter().enumerate() {
        let (fc, ks, valid) = rule(&t);
        let (fc, ks) = if valid { (fc, ks) } else { (10.0, 10.0) };
        s.push(k as u64, t, (fc, ks), valid, &source);
    }
    s
}

/// The quadratic table, all rows valid.
pub fn quadratic_samples(n: usize, seed: u64) -> Samples {
    samples(uniform_theta(n, seed, 1.0), |t| {
        (quadratic_fc(t), quadratic_ks(t), true)
    })
}

/// A random symmetric connectome of `n` regions with smooth maps.
pub fn connectome(n: usize, seed: u64) -> Connectome {
    let mut rng = stream_rng(seed, 98);
    let mut sc = vec![0.0; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let v = rng.random::<f64>();
            sc[i * n + j] = v;
            sc[j * n + i] = v;
        }
    }
    Connectome {
        n_regions: n,
        sc,
        myelin: (0..n).map(|i| (i as f64 / n as f64) - 0.5).collect(),
        gradient: (0..n).map(|i| (i as f64 * 1.3).sin()).collect(),
    }
}

/// A valid small group whose FC and FCD are made to order.
pub fn toy_group(name: &str, n: usize, fc_level: f64, fcd_centre: f64) -> EmpiricalData {
    let sc = Matrix::from_fn(n, n, |i, j| {
        if i == j {
            0.0
        } else {
            1.0 + ((i + j) % 5) as f64
        }
    });
    let fc = Matrix::from_fn(n, n, |i, j| {
        if i == j {
            1.0
        } else {
            fc_level + 0.01 * ((i * j) % 7) as f64
        }
    });
    let total = 1000.0;
    let width = (FCD_HI - FCD_LO) / FCD_BINS as f64;
    let fcd_cdf: Vec<f64> = (0..FCD_BINS)
        .map(|k| {
            let x = FCD_LO + (k as f64 + 0.5) * width;
            (total / (1.0 + (-(x - fcd_centre) / 0.05).exp())).round()
        })
        .map(|c| c.min(total))
        .collect();
    let mut fcd_cdf = fcd_cdf;
    *fcd_cdf.last_mut().unwrap() = total;
    EmpiricalData {
        name: name.into(),
        sc,
        fc,
        fcd_cdf,
        myelin: (0..n).map(|i| 1.0 + 0.1 * i as f64).collect(),
        gradient: (0..n).map(|i| ((i * 3) % n) as f64 - 2.0).collect(),
    }
}

/// Group of a toy family with FC level `level` (and FCD centre `level − 0.1`), 8 regions: a
/// group input the family's cost depends on through an interaction with θ, so the best θ
/// differs between groups.
pub fn family_group(level: f64) -> EmpiricalData {
    toy_group(&format!("toy/{level:.3}"), 8, level, level - 0.1)
}

/// FC cost of θ in the family group with FC level `level`: the slope along w0 changes sign
/// across the family.
pub fn family_fc(t: &[f64; THETA_DIM], level: f64) -> f64 {
    quadratic_fc(t) + 4.0 * (level - 0.3) * unit(t)[0]
}

/// `per_group` uniform θ rows of each family group in `levels`, labelled with the group's name.
pub fn family_rows(levels: &[f64], per_group: usize, seed: u64) -> Samples {
    let mut all = Samples::default();
    for (k, &level) in levels.iter().enumerate() {
        let mut s = samples(uniform_theta(per_group, seed + k as u64, 1.0), |t| {
            (family_fc(t, level), quadratic_ks(t), true)
        });
        s.dataset = vec![family_group(level).name; per_group];
        all.extend(&s);
    }
    all
}

/// Asserts, for each family group of `levels`, that `on_group(level)` (a model conditioned on
/// that group) reaches Pearson r > `r_min` on fresh rows of it and less than half the RMSE of
/// the θ-only `plain` model.
pub fn assert_conditioned_beats_plain(
    on_group: &dyn Fn(f64) -> Surrogate,
    plain: &Surrogate,
    levels: &[f64],
    r_min: f64,
) {
    for &level in levels {
        let test = family_rows(&[level], 400, 50);
        let m = metrics(&on_group(level).predict(&test.theta).unwrap(), &test);
        let m_plain = metrics(&plain.predict(&test.theta).unwrap(), &test);
        assert!(
            m.pearson_total > r_min,
            "level {level}: conditioned r {}",
            m.pearson_total
        );
        assert!(
            m.rmse_total < 0.5 * m_plain.rmse_total,
            "level {level}: RMSE conditioned {} vs θ-only {}",
            m.rmse_total,
            m_plain.rmse_total
        );
    }
}

/// A small model of a grouped family (MLP 2 × 64, token width 16, one layer) for tests.
pub fn small_group_model(kind: ModelKind) -> ModelConfig {
    ModelConfig {
        kind,
        depth: 2,
        width: 64,
        d_model: 16,
        heads: 2,
        layers: 1,
        ff: 32,
        activation: Activation::Gelu,
        ..ModelConfig::default()
    }
}

/// `s` conditioned on `unseen`, saved to a temporary directory (`tag` names it) and loaded
/// back: the loaded model needs a group again (the active group is not saved) and, conditioned
/// on `unseen`, predicts the same bits on `probe`. Returns the conditioned loaded model.
pub fn save_load_conditioned(
    s: &Surrogate,
    unseen: &EmpiricalData,
    probe: &[[f64; THETA_DIM]],
    tag: &str,
) -> Surrogate {
    let dir = std::env::temp_dir().join(format!("{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let s = s.condition_on(unseen).unwrap();
    s.save(&dir).unwrap();
    let l = Surrogate::load(&dir, &Device::flex()).unwrap();
    assert!(l.needs_group());
    let l = l.condition_on(unseen).unwrap();
    assert_eq!(s.predict(probe).unwrap(), l.predict(probe).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
    l
}
