//! Diagnostics of planted-assembly recovery on the synthetic default (investigation tool).
//!
//! `target/release/examples/recovery_probe key=value ...` with keys n, k, t, size, m,
//! lambda, updates, lr, lr_final, batch, chains, gibbs, seed, std (0/1), eval (0/1), penalty
//! (l2l1|l1|none), decay_after, fire, p_on, p_off, pm (membership probability), log (every
//! this many updates, print the mean Jaccard so far). Defaults: N = 2000, K = 20, T = 4000,
//! M = 200 and TrainConfig's training settings.

use std::collections::HashMap;
use std::time::Instant;

use crbm::data::{chronological_split, SplitConfig};
use crbm::penalty::Penalty;
use crbm::recovery::{assembly_recovery, mean_jaccard};
use crbm::stats::{evaluate, EvalConfig};
use crbm::synthetic::SyntheticConfig;
use crbm::train::{PcdTrainer, TrainConfig};
use crbm::Crbm;

fn main() {
    let kv: HashMap<String, String> = std::env::args()
        .skip(1)
        .filter_map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let f = |k: &str, d: f64| kv.get(k).map(|v| v.parse::<f64>().unwrap()).unwrap_or(d);
    let n = f("n", 2000.0) as usize;
    let k = f("k", 20.0) as usize;
    let t = f("t", 4000.0) as usize;
    let size = f("size", 40.0);
    let seed = f("seed", 0.0) as u64;
    let d = SyntheticConfig::default();
    let [a, b, c] = d.semi_axes;
    let radius = (size / (d.membership_prob * n as f64) * a * b * c).cbrt();
    let syn = SyntheticConfig {
        n_neurons: n,
        n_assemblies: k,
        n_frames: t,
        assembly_radius: radius,
        seed,
        fire_prob: f("fire", d.fire_prob),
        p_on: f("p_on", d.p_on),
        p_off: f("p_off", d.p_off),
        membership_prob: f("pm", d.membership_prob),
        ..d
    }
    .generate()
    .unwrap();
    let split = chronological_split(&syn.recording.raster, &SplitConfig::default()).unwrap();
    let mem = &syn.memberships;
    // Planted structure: sizes and pairwise overlaps.
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
    let mut in_any = vec![0u32; n];
    for m in mem {
        for &i in m {
            in_any[i as usize] += 1;
        }
    }
    eprintln!(
        "radius {radius:.1} µm, sizes {sizes:?}, density {:.4}, neurons in ≥2 assemblies {}",
        syn.recording.raster.density(),
        in_any.iter().filter(|&&c| c >= 2).count()
    );
    eprintln!(
        "max Jaccard with another assembly: {:?}",
        max_ov
            .iter()
            .map(|x| (x * 100.0).round() / 100.0)
            .collect::<Vec<_>>()
    );

    let dflt = TrainConfig::default();
    let lr = f("lr", dflt.learning_rate);
    let lam = f("lambda", dflt.penalty.lambda());
    let penalty = match kv.get("penalty").map(String::as_str) {
        Some("l1") => Penalty::L1 { lambda: lam },
        Some("none") => Penalty::None,
        _ => Penalty::L2L1 { lambda: lam },
    };
    let batch = f("batch", 100.0) as usize;
    let cfg = TrainConfig {
        n_hidden: f("m", 200.0) as usize,
        batch_size: batch,
        n_chains: f("chains", batch as f64) as usize,
        gibbs_steps: f("gibbs", 15.0) as usize,
        n_updates: f("updates", 2000.0) as usize,
        learning_rate: lr,
        learning_rate_final: f("lr_final", lr / 100.0),
        decay_after: f("decay_after", 0.5),
        penalty,
        standardize_hidden: f("std", 0.0) != 0.0,
        log_every: 0,
        seed,
        ..dflt
    };
    eprintln!("{cfg:?}");
    let log = f("log", 0.0) as usize;
    let t0 = Instant::now();
    let mut tr = PcdTrainer::new(&split.train, cfg.clone()).unwrap();
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
    let train_s = t0.elapsed().as_secs_f64();
    assert!(rep.exploded.is_none(), "{:?}", rep.exploded);
    let r = assembly_recovery(&model, mem);
    println!(
        "train {train_s:.1} s ({:.1} ms/update)",
        1e3 * train_s / cfg.n_updates as f64
    );
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
    println!("mean Jaccard {:.3}", mean_jaccard(&r));
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
    if f("eval", 1.0) != 0.0 {
        let t1 = Instant::now();
        let e = evaluate(&model, &split.train, &split.test, &EvalConfig::default()).unwrap();
        println!(
            "nRMSE v {:.3} h {:.3} vh {:.3} vv {:.3} hh {:.3} ({:.1} s)",
            e.v,
            e.h,
            e.vh,
            e.vv,
            e.hh,
            t1.elapsed().as_secs_f64()
        );
    }
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
