//! Diagnostics of planted-assembly recovery on the synthetic default (investigation tool).
//!
//! `target/release/examples/recovery_probe key=value ...` with keys n, k, t, size, m,
//! lambda, updates, lr, lr_final, batch, chains, gibbs, seed, std (hidden-input rescaling,
//! 0/1), stdrbm (standardised training, 0/1), damp, eps_v, eps_h (its settings), shared
//! (fraction of assembly members shared between assemblies; < 0: chance overlaps only),
//! eval (0/1), penalty (l2l1|l1|none), decay_after, fire, p_on, p_off, pm (membership
//! probability), detail (0/1: per-assembly table), log (every this many updates, print the
//! mean Jaccard so far). Defaults: the planted-assembly default (N = 2000, K = 20,
//! T = 5000 split 3500/1500, the generator's default overlap) and TrainConfig's training
//! settings, with M = 100. The last line is one tab-separated table row.

use std::collections::HashMap;
use std::time::Instant;

use crbm::data::{chronological_split, Split, SplitConfig};
use crbm::penalty::Penalty;
use crbm::recovery::{assembly_recovery, mean_jaccard, AssemblyMatch};
use crbm::rng::lane_rng;
use crbm::stats::{
    compare, evaluate_detailed, five_statistics, sample_model, EvalConfig, Evaluation, NrmseReport,
    SamplingConfig,
};
use crbm::synthetic::{Synthetic, SyntheticConfig};
use crbm::train::{PcdTrainer, StandardizeConfig, TrainConfig};
use crbm::Crbm;
use crbm::SparseBatch;
use rand::Rng;

/// The `key=value` arguments.
struct Kv(HashMap<String, String>);

impl Kv {
    fn from_args() -> Self {
        Kv(std::env::args()
            .skip(1)
            .filter_map(|a| {
                a.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect())
    }

    /// The number given for `k`, or `d`.
    fn f(&self, k: &str, d: f64) -> f64 {
        self.0
            .get(k)
            .map(|v| v.parse::<f64>().unwrap())
            .unwrap_or(d)
    }
}

fn main() {
    let kv = Kv::from_args();
    let seed = kv.f("seed", 0.0) as u64;
    let (syn, radius) = planted(&kv);
    let split = chronological_split(&syn.recording.raster, &SplitConfig::default()).unwrap();
    let mem = &syn.memberships;
    let (in_any, max_ov) = describe_planted(&syn, radius);
    let cfg = train_config(&kv, seed);
    eprintln!("{cfg:?}");
    let t0 = Instant::now();
    let model = train(&split.train, &cfg, mem, kv.f("log", 0.0) as usize);
    let train_s = t0.elapsed().as_secs_f64();
    let r = assembly_recovery(&model, mem);
    println!(
        "train {train_s:.1} s ({:.1} ms/update)",
        1e3 * train_s / cfg.n_updates as f64
    );
    if kv.f("detail", 0.0) != 0.0 {
        print_details(&model, mem, &r, &in_any, &max_ov);
    }
    println!("mean Jaccard {:.3}", mean_jaccard(&r));
    if kv.f("eval", 1.0) != 0.0 {
        evaluate_both(&kv, &model, &split, &r, train_s, seed);
    }
}

/// The synthetic recording with `k` assemblies of about `size` members among `n` neurons,
/// and the assembly radius (µm) that gives that size.
fn planted(kv: &Kv) -> (Synthetic, f64) {
    let n = kv.f("n", 2000.0) as usize;
    let size = kv.f("size", 40.0);
    let d = SyntheticConfig::default();
    let [a, b, c] = d.semi_axes;
    let radius = (size / (d.membership_prob * n as f64) * a * b * c).cbrt();
    let syn = SyntheticConfig {
        n_neurons: n,
        n_assemblies: kv.f("k", 20.0) as usize,
        n_frames: kv.f("t", 5000.0) as usize,
        assembly_radius: radius,
        seed: kv.f("seed", 0.0) as u64,
        fire_prob: kv.f("fire", d.fire_prob),
        p_on: kv.f("p_on", d.p_on),
        p_off: kv.f("p_off", d.p_off),
        membership_prob: kv.f("pm", d.membership_prob),
        shared_fraction: match kv.f("shared", d.shared_fraction.unwrap_or(-1.0)) {
            x if x < 0.0 => None,
            x => Some(x),
        },
        ..d
    }
    .generate()
    .unwrap();
    (syn, radius)
}

/// Prints the planted structure (sizes and pairwise overlaps); returns how many assemblies
/// each neuron is in and each assembly's largest Jaccard index with another.
fn describe_planted(syn: &Synthetic, radius: f64) -> (Vec<u32>, Vec<f64>) {
    let mem = &syn.memberships;
    let k = mem.len();
    let sizes: Vec<usize> = mem.iter().map(Vec::len).collect();
    let jac = |x: &[u32], y: &[u32]| {
        let i = x.iter().filter(|a| y.binary_search(a).is_ok()).count();
        i as f64 / (x.len() + y.len() - i).max(1) as f64
    };
    let max_ov: Vec<f64> = (0..k)
        .map(|q| {
            (0..k)
                .filter(|&r| r != q)
                .map(|r| jac(&mem[q], &mem[r]))
                .fold(0.0, f64::max)
        })
        .collect();
    let mut in_any = vec![0u32; syn.recording.raster.n_visible];
    for m in mem {
        for &i in m {
            in_any[i as usize] += 1;
        }
    }
    eprintln!(
        "radius {radius:.1} µm, sizes {sizes:?}, density {:.4}, neurons in ≥2 assemblies {} \
         (shared member fraction {:.3})",
        syn.recording.raster.density(),
        in_any.iter().filter(|&&c| c >= 2).count(),
        syn.shared_member_fraction()
    );
    eprintln!(
        "max Jaccard with another assembly: {:?}",
        max_ov
            .iter()
            .map(|x| (x * 100.0).round() / 100.0)
            .collect::<Vec<_>>()
    );
    (in_any, max_ov)
}

/// TrainConfig's defaults with M = 100, overridden by the arguments.
fn train_config(kv: &Kv, seed: u64) -> TrainConfig {
    let dflt = TrainConfig::default();
    let lr = kv.f("lr", dflt.learning_rate);
    let lam = kv.f("lambda", dflt.penalty.lambda());
    let penalty = match kv.0.get("penalty").map(String::as_str) {
        Some("l1") => Penalty::L1 { lambda: lam },
        Some("none") => Penalty::None,
        _ => Penalty::L2L1 { lambda: lam },
    };
    let batch = kv.f("batch", dflt.batch_size as f64) as usize;
    let ratio = dflt.learning_rate_final / dflt.learning_rate;
    TrainConfig {
        n_hidden: kv.f("m", 100.0) as usize,
        batch_size: batch,
        n_chains: kv.f("chains", batch as f64) as usize,
        gibbs_steps: kv.f("gibbs", dflt.gibbs_steps as f64) as usize,
        n_updates: kv.f("updates", dflt.n_updates as f64) as usize,
        learning_rate: lr,
        learning_rate_final: kv.f("lr_final", lr * ratio),
        decay_after: kv.f("decay_after", dflt.decay_after),
        penalty,
        standardize_hidden: kv.f("std", dflt.standardize_hidden as u8 as f64) != 0.0,
        standardize: StandardizeConfig {
            enabled: kv.f("stdrbm", dflt.standardize.enabled as u8 as f64) != 0.0,
            damping: kv.f("damp", dflt.standardize.damping),
            epsilon_v: kv.f("eps_v", dflt.standardize.epsilon_v),
            epsilon_h: kv.f("eps_h", dflt.standardize.epsilon_h),
        },
        log_every: 0,
        seed,
        ..dflt
    }
}

/// PCD training; every `log` updates (0: never) prints the mean Jaccard so far.
fn train(frames: &SparseBatch, cfg: &TrainConfig, mem: &[Vec<u32>], log: usize) -> Crbm {
    let t0 = Instant::now();
    let mut tr = PcdTrainer::new(frames, cfg.clone()).unwrap();
    while tr.update < cfg.n_updates && tr.step() {
        if log > 0 && tr.update % log == 0 {
            let mut m = tr.model.clone();
            m.fix_signs();
            let r = assembly_recovery(&m, mem);
            eprintln!(
                "update {:>6} ({:.1} s): mean J {:.3}, max|w| {:.2}",
                tr.update,
                t0.elapsed().as_secs_f64(),
                mean_jaccard(&r),
                m.max_abs_weight()
            );
        }
    }
    let (model, rep) = tr.finish();
    assert!(rep.exploded.is_none(), "{:?}", rep.exploded);
    model
}

/// nRMSE from the training frames and from a cold start, then the table row.
fn evaluate_both(
    kv: &Kv,
    model: &Crbm,
    split: &Split,
    r: &[AssemblyMatch],
    train_s: f64,
    seed: u64,
) {
    let t1 = Instant::now();
    let detailed =
        evaluate_detailed(model, &split.train, &split.test, &EvalConfig::default()).unwrap();
    let e = detailed.report.clone();
    print_nrmse("from training frames", &e, t1);
    if kv.f("hdiag", 0.0) != 0.0 {
        print_hidden_means(model, &split.train, &detailed, r);
    }
    // A second, stricter evaluator in the style of the reference's: chains started away
    // from the data (independent neurons at the training means), 500 thermalisation
    // sweeps, then 5 samples 100 sweeps apart per chain (1,500 samples).
    let t2 = Instant::now();
    let start = independent_frames(&split.train, 300, seed);
    let sampling = SamplingConfig {
        n_chains: 300,
        burn_in: kv.f("cold_burn", 500.0) as usize,
        samples_per_chain: 5,
        thinning: kv.f("cold_thin", 100.0) as usize,
        seed,
    };
    let samples = sample_model(model, &start, &sampling).unwrap();
    let c = compare(
        model,
        &split.train,
        &split.test,
        &samples,
        &EvalConfig::default(),
    );
    print_nrmse("cold start", &c, t2);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let row = |e: &NrmseReport| {
        format!(
            "{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.3}",
            e.norm4, e.v, e.h, e.vh, e.vv, e.hh
        )
    };
    println!(
        "ROW\t{}\t{}\t{}\t{:.3}\t{:.0}",
        args.join(" "),
        row(&e),
        row(&c),
        mean_jaccard(r),
        train_s
    );
}

fn print_nrmse(label: &str, e: &NrmseReport, t: Instant) {
    println!(
        "nRMSE ({label}) v {:.3} h {:.3} vh {:.3} vv {:.3} hh {:.3} norm4 {:.3} good {} ({:.1} s)",
        e.v,
        e.h,
        e.vh,
        e.vv,
        e.hh,
        e.norm4,
        e.good,
        t.elapsed().as_secs_f64()
    );
}

/// The hidden units whose ⟨h⟩ differs most between test data and model samples.
fn print_hidden_means(
    model: &Crbm,
    train: &SparseBatch,
    ev: &Evaluation,
    r: &[crbm::recovery::AssemblyMatch],
) {
    let pairs = [(0u32, 1u32)];
    let tr = five_statistics(model, train, &pairs);
    let mut order: Vec<usize> = (0..model.n_hidden).collect();
    order.sort_by(|&a, &b| {
        let d = |k: usize| (ev.test.h[k] - ev.model.h[k]).abs();
        d(b).total_cmp(&d(a))
    });
    let spread = {
        let m = ev.test.h.iter().sum::<f64>() / ev.test.h.len() as f64;
        (ev.test.h.iter().map(|x| (x - m).powi(2)).sum::<f64>() / ev.test.h.len() as f64).sqrt()
    };
    println!("⟨h⟩ spread over units (test) {spread:.4}");
    println!("unit  asm   test    train   model   max|w|  Σw      γ+     γ-     θ+     θ-");
    for &mu in order.iter().take(12) {
        let asm = r
            .iter()
            .filter(|x| x.unit == Some(mu))
            .map(|x| x.assembly.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let col: Vec<f64> = (0..model.n_visible).map(|i| model.weight(i, mu)).collect();
        let u = &model.hidden[mu];
        println!(
            "{mu:>4} {asm:>5} {:>7.4} {:>7.4} {:>7.4} {:>7.3} {:>7.2} {:>6.2} {:>6.2} {:>6.2} {:>6.2}",
            ev.test.h[mu],
            tr.h[mu],
            ev.model.h[mu],
            col.iter().fold(0.0f64, |a, w| a.max(w.abs())),
            col.iter().sum::<f64>(),
            u.gamma_plus,
            u.gamma_minus,
            u.theta_plus,
            u.theta_minus
        );
    }
}

/// `count` frames of independent neurons firing at their training means (seeded).
fn independent_frames(train: &SparseBatch, count: usize, seed: u64) -> SparseBatch {
    let mean = train.mean_activity();
    let mut rng = lane_rng(seed, 9, 9);
    let rows = (0..count)
        .map(|_| {
            (0..mean.len() as u32)
                .filter(|&i| rng.random::<f64>() < mean[i as usize])
                .collect()
        })
        .collect();
    SparseBatch {
        n_visible: train.n_visible,
        rows,
    }
}

/// Per-assembly table, overlapping pairs and unit usage (the diagnostics of the first probe).
fn print_details(
    model: &Crbm,
    mem: &[Vec<u32>],
    r: &[crbm::recovery::AssemblyMatch],
    in_any: &[u32],
    max_ov: &[f64],
) {
    let (n, k) = (model.n_visible, mem.len());
    let jac = |x: &[u32], y: &[u32]| {
        let i = x.iter().filter(|a| y.binary_search(a).is_ok()).count();
        i as f64 / (x.len() + y.len() - i).max(1) as f64
    };
    println!(
        "q   size maxov unit   J    Jpos  units>0.3  foreign-in-top(other asm/none)  neg-in-top"
    );
    for (q, x) in r.iter().enumerate() {
        let mu = x.unit.unwrap();
        let top = top_abs(&model, mu, x.size);
        let foreign: Vec<u32> = top
            .iter()
            .copied()
            .filter(|i| mem[q].binary_search(i).is_err())
            .collect();
        let other = foreign.iter().filter(|&&i| in_any[i as usize] > 0).count();
        let neg = top
            .iter()
            .filter(|&&i| model.weight(i as usize, mu) < 0.0)
            .count();
        let jpos = {
            let top = top_pos(&model, mu, x.size);
            jac(&sorted(top), &mem[q])
        };
        let nunits = (0..model.n_hidden)
            .filter(|&u| jac(&sorted(top_abs(&model, u, x.size)), &mem[q]) > 0.3)
            .count();
        println!(
            "{q:<3} {:>4} {:>5.2} {:>4} {:>5.3} {:>5.3} {:>6}  {:>3}/{:<3}  {:>3}",
            x.size,
            max_ov[q],
            mu,
            x.jaccard,
            jpos,
            nunits,
            other,
            foreign.len() - other,
            neg
        );
    }
    // Overlapping pairs: how each unit's weight mass splits over A\B, A∩B, B\A.
    for q in 0..k {
        for p in q + 1..k {
            if jac(&mem[q], &mem[p]) < 0.15 {
                continue;
            }
            let (a, b) = (&mem[q], &mem[p]);
            println!(
                "pair ({q}, {p}): |A|={} |B|={} |A∩B|={}",
                a.len(),
                b.len(),
                a.iter().filter(|i| b.binary_search(i).is_ok()).count()
            );
            for mu in 0..model.n_hidden {
                let mut s = [0.0f64; 4]; // A\B, A∩B, B\A, rest (|w| sums)
                for i in 0..n as u32 {
                    let w = model.weight(i as usize, mu);
                    let (ia, ib) = (a.binary_search(&i).is_ok(), b.binary_search(&i).is_ok());
                    let slot = match (ia, ib) {
                        (true, false) => 0,
                        (true, true) => 1,
                        (false, true) => 2,
                        _ => 3,
                    };
                    s[slot] += w;
                }
                let na = (a.len() - 0) as f64;
                let tot: f64 = s[..3].iter().map(|x| x.abs()).sum();
                if tot > 0.3 * na * 0.3 {
                    let u = &model.hidden[mu];
                    println!("  unit {mu:>3}: Σw A\\B {:>6.2} A∩B {:>6.2} B\\A {:>6.2} rest {:>6.2}  γ+ {:.2} γ- {:.2} θ+ {:.2} θ- {:.2}", s[0], s[1], s[2], s[3], u.gamma_plus, u.gamma_minus, u.theta_plus, u.theta_minus);
                }
            }
        }
    }
    // Unit usage: how many units are "assembly-like" (best J over assemblies > 0.3).
    let used = (0..model.n_hidden)
        .filter(|&u| {
            mem.iter()
                .any(|a| jac(&sorted(top_abs(&model, u, a.len())), a) > 0.3)
        })
        .count();
    println!(
        "units with J>0.3 to some assembly: {used} of {}",
        model.n_hidden
    );
}

fn sorted(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v
}

fn top_abs(m: &Crbm, mu: usize, k: usize) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..m.n_visible as u32).collect();
    idx.sort_by(|&a, &b| {
        m.weight(b as usize, mu)
            .abs()
            .total_cmp(&m.weight(a as usize, mu).abs())
    });
    idx.truncate(k);
    idx
}

fn top_pos(m: &Crbm, mu: usize, k: usize) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..m.n_visible as u32).collect();
    idx.sort_by(|&a, &b| {
        m.weight(b as usize, mu)
            .total_cmp(&m.weight(a as usize, mu))
    });
    idx.truncate(k);
    idx
}
