//! End to end: generate a recording with planted assemblies, split it, train a
//! cRBM by PCD, check that hidden units recover the assemblies and that the
//! model reproduces held-out statistics: with a hand-set config on chance overlaps (all
//! nRMSE < 0.5), and with the default config on shared members (good and Jaccard ≥ 0.8).

use crbm::data::{chronological_split, SplitConfig};
use crbm::penalty::Penalty;
use crbm::recovery::{assembly_recovery, mean_jaccard};
use crbm::stats::{evaluate, EvalConfig, SamplingConfig};
use crbm::synthetic::SyntheticConfig;
use crbm::train::{train, StandardizeConfig, TrainConfig};

#[test]
fn pcd_recovers_planted_assemblies() {
    let synth = SyntheticConfig {
        n_neurons: 400,
        n_frames: 3000,
        n_assemblies: 4,
        semi_axes: [100.0, 60.0, 40.0],
        assembly_radius: 35.0,
        fire_prob: 0.6,
        // Chance overlaps only: the numbers below were measured on that raster.
        shared_fraction: None,
        seed: 7,
        ..Default::default()
    }
    .generate()
    .unwrap();
    let split = chronological_split(&synth.recording.raster, &SplitConfig::default()).unwrap();
    let cfg = TrainConfig {
        n_hidden: 8,
        batch_size: 100,
        n_chains: 100,
        gibbs_steps: 5,
        n_updates: 2000,
        learning_rate: 1e-2,
        learning_rate_final: 1e-3,
        penalty: Penalty::L2L1 { lambda: 0.02 },
        // The plain path (the numbers below); the default path has its own test.
        standardize: StandardizeConfig::disabled(),
        log_every: 0,
        seed: 3,
        ..Default::default()
    };
    let (model, report) = train(&split.train, cfg).unwrap();
    assert!(report.exploded.is_none(), "{report:?}");
    let m = model.n_hidden;
    for (q, members) in synth.memberships.iter().enumerate() {
        // Best hidden unit: precision of its top-|members| weights for the assembly
        // (chance ≈ 5–13%). Assemblies may overlap (0 and 2 share 6 neurons here) and
        // the L2L1 penalty may split a large one over several units, so the bound is
        // 0.5; this seeded run gives ≈ 0.91, 0.65, 0.81, 0.88.
        let k = members.len();
        let best = (0..m)
            .map(|mu| {
                let mut idx: Vec<usize> = (0..model.n_visible).collect();
                idx.sort_by(|&a, &b| model.weight(b, mu).total_cmp(&model.weight(a, mu)));
                idx[..k]
                    .iter()
                    .filter(|&&i| members.contains(&(i as u32)))
                    .count() as f64
                    / k as f64
            })
            .fold(0.0, f64::max);
        eprintln!("assembly {q}: {k} neurons, best top-k overlap {best:.2}");
        assert!(
            best >= 0.5,
            "assembly {q} ({k} neurons): best overlap {best}"
        );
    }
    let eval = EvalConfig {
        sampling: SamplingConfig {
            n_chains: 200,
            burn_in: 50,
            samples_per_chain: 5,
            thinning: 5,
            seed: 1,
        },
        ..Default::default()
    };
    let r = evaluate(&model, &split.train, &split.test, &eval).unwrap();
    eprintln!("nRMSE: {r:?}");
    // This seeded run gives nRMSE ≈ 0.28 (v), 0.22 (h), 0.25 (vh), 0.33 (vv), 0.19 (hh).
    assert!(
        !r.bad && r.v < 0.5 && r.vh < 0.5 && r.vv < 0.5 && r.hh < 0.5,
        "{r:?}"
    );
}

/// Issue 16's bar, at a reduced scale: on a planted-assembly raster where a fifth of the
/// assembly members are shared between assemblies, training with the *default*
/// [`TrainConfig`] (only M and the number of updates scaled down) gives a model that is
/// both *good* (spec: L2 norm of the ⟨v⟩, ⟨h⟩, ⟨vh⟩, ⟨hh⟩ nRMSEs ≤ 0.55, the evaluator's
/// default rule) and recovers the assemblies (mean Jaccard ≥ 0.8, the bar; a unit
/// that merges two overlapping assemblies scores ≈ 0.5 on each, a random unit ≈ |A|/N).
/// The assembly-to-population ratio |A|/N = 0.02 is that of the full default (40 of 2000),
/// so the L2L1 penalty has the same per-weight strength (λ·|A|/N per unit of weight).
#[test]
fn default_training_recovers_overlapping_assemblies_with_good_statistics() {
    let synth = SyntheticConfig::with_assembly_size(TEST_NEURONS, TEST_ASSEMBLIES, 3000, 20.0, 11)
        .generate()
        .unwrap();
    let shared = synth.shared_member_fraction();
    assert!(shared >= 0.15, "shared member fraction {shared}");
    let split = chronological_split(&synth.recording.raster, &SplitConfig::default()).unwrap();
    let cfg = TrainConfig {
        n_hidden: 4 * TEST_ASSEMBLIES,
        n_updates: 1000,
        log_every: 0,
        ..TrainConfig::default()
    };
    let t0 = std::time::Instant::now();
    let (model, report) = train(&split.train, cfg).unwrap();
    assert!(report.exploded.is_none(), "{report:?}");
    let jaccard = mean_jaccard(&assembly_recovery(&model, &synth.memberships));
    let r = evaluate(&model, &split.train, &split.test, &EvalConfig::default()).unwrap();
    eprintln!(
        "shared {shared:.3}; mean Jaccard {jaccard:.3}; nRMSE {r:?}; {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    assert!(r.good, "not a good model: {r:?}");
    assert!(jaccard >= 0.8, "mean Jaccard {jaccard}");
}

const TEST_NEURONS: usize = 1000;
const TEST_ASSEMBLIES: usize = 8;
