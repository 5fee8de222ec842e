//! The five candidates of the reference example (`kong2021_example_expected_output.csv`) score,
//! on the real training split with n_dup = 3, mean costs that agree with the listed values
//! within simulation noise.
//!
//! Tolerance, and why: each listed value is the cost of the best offspring of a CMA-ES
//! generation — the minimum of one noisy n_dup = 3 evaluation over many offspring — so it sits
//! at or below the mean cost of its θ. With s the seed-to-seed standard deviation of one
//! evaluation (n_dup = 3) and m the mean over S seeds:
//! - lower side: m ≥ listed − 3·s/√S − 0.01 (the mean cannot sit clearly below the listed best);
//! - upper side: m ≤ listed + 4·s_ref + 0.02, a fixed cap that does not move with this run's
//!   own spread (a run whose costs scatter widely must not widen its own acceptance band). s_ref
//!   is the reference's own spread: the sample standard deviation of the five listed total
//!   costs (0.045), i.e. how much the best-of-generation cost of one n_dup = 3 evaluation moves
//!   between the neighbouring θ of the reference's run. The best of ~500 noisy draws lies about
//!   3 such units below the mean; 4 leaves room for the bimodal candidate 0. A bound at or above
//!   the term's largest possible value (KS ≤ 1) would check nothing, so the cap is at most half
//!   the way from the listed value to that maximum (this binds for the KS of candidates 0, 3
//!   and 4, listed at 0.74–0.89).
//! The small absolute slacks cover f32 rounding and the MATLAB-vs-our binning of the empirical
//! CDF (≈ 0.002 in KS).
//!
//! Without `../shared/data/kong2021` the test is skipped, unless `PMFM_REQUIRE_DATA=1` (as on
//! CI), which makes it fail.

use burn::tensor::Device;
use pmfm_sim::data::EmpiricalData;
use pmfm_sim::noise::SeededNoise;
use pmfm_sim::observables::{evaluate, Targets};
use pmfm_sim::params::RegionalParams;
use pmfm_sim::{SimConfig, Simulator};
use std::path::Path;

const SEEDS: u64 = 10;

#[test]
fn reference_candidates_score_the_listed_costs_within_noise() {
    // Crate directory at run time (a shared target dir may hold a binary compiled elsewhere).
    let dir = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("../../../shared/data/kong2021");
    if !dir.exists() {
        if std::env::var("PMFM_REQUIRE_DATA").is_ok_and(|v| v == "1") {
            panic!("PMFM_REQUIRE_DATA=1 but {} is absent", dir.display());
        }
        eprintln!(
            "skipped: {} is absent (set PMFM_REQUIRE_DATA=1 to fail)",
            dir.display()
        );
        return;
    }
    let data = EmpiricalData::load_dir(&dir, "train").expect("loading kong2021 train split");
    let text = std::fs::read_to_string(dir.join("kong2021_example_expected_output.csv")).unwrap();
    let rows: Vec<Vec<f64>> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|x| x.trim().parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 13);
    let n_cand = rows[0].len();
    let thetas: Vec<[f64; 10]> = (0..n_cand)
        .map(|c| std::array::from_fn(|k| rows[k][c]))
        .collect();
    let listed: Vec<[f64; 3]> = (0..n_cand)
        .map(|c| [rows[10][c], rows[11][c], rows[12][c]])
        .collect();

    let n = data.n_regions();
    let device = Device::flex();
    let sim = Simulator::new(&data.sc.data, n, SimConfig::default(), &device).unwrap();
    let params: Vec<RegionalParams> = thetas
        .iter()
        .map(|t| RegionalParams::from_theta(t, &data.myelin, &data.gradient))
        .collect();
    let targets = Targets::new(&data.fc.data, n, data.fcd_cdf.clone());
    let mut runs: Vec<Vec<[f64; 3]>> = vec![Vec::new(); n_cand];
    for seed in 0..SEEDS {
        let bold = sim
            .simulate(&params, 3, &mut SeededNoise::new(seed))
            .unwrap();
        for (c, cost) in evaluate(&bold, &targets, 83).into_iter().enumerate() {
            assert!(cost.is_valid(), "candidate {c} seed {seed}: {cost:?}");
            runs[c].push([cost.fc, cost.ks, cost.total]);
        }
    }
    // The reference's own spread: sample sd of its listed total costs across candidates.
    let totals: Vec<f64> = listed.iter().map(|l| l[2]).collect();
    let mean_total = totals.iter().sum::<f64>() / totals.len() as f64;
    let s_ref = (totals.iter().map(|x| (x - mean_total).powi(2)).sum::<f64>()
        / (totals.len() - 1) as f64)
        .sqrt();
    assert!(
        s_ref > 0.0 && s_ref < 0.1,
        "reference spread {s_ref} out of the expected range"
    );
    println!("reference spread of the listed total costs: {s_ref:.4}");
    let names = ["FC", "KS", "total"];
    // Largest value each term can take: FC cost 1 − r ≤ 2, KS ≤ 1, total ≤ 3.
    let term_max = [2.0, 1.0, 3.0];
    println!("candidate term   listed    mean      sd     min");
    let mut failures = Vec::new();
    for c in 0..n_cand {
        for t in 0..3 {
            let v: Vec<f64> = runs[c].iter().map(|r| r[t]).collect();
            let m = v.iter().sum::<f64>() / v.len() as f64;
            let sd = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt();
            let min = v.iter().copied().fold(f64::INFINITY, f64::min);
            let l = listed[c][t];
            println!(
                "{c:>9} {:>5} {l:>8.4} {m:>8.4} {sd:>7.4} {min:>7.4}",
                names[t]
            );
            let lo = l - 3.0 * sd / (SEEDS as f64).sqrt() - 0.01;
            let hi = (l + 4.0 * s_ref + 0.02).min(l + 0.5 * (term_max[t] - l));
            assert!(
                hi < term_max[t],
                "candidate {c} {}: cap {hi} is vacuous",
                names[t]
            );
            if !(m >= lo && m <= hi) {
                failures.push(format!("candidate {c} {}: mean {m:.4} outside [{lo:.4}, {hi:.4}] (listed {l:.4}, sd {sd:.4})", names[t]));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
