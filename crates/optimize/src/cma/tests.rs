//! Tests of the CMA-ES: test functions with known optima, bounds handling, restarts,
//! determinism, checkpoints and typed configuration errors.

use super::strategy::ranking;
use super::*;
use crate::error::OptimizeError;
use crate::objective::{BatchContext, Evaluation, GenerationReport, Observer};
use crate::test_functions::{
    rastrigin_ipop, to_optimum, BoxConstrained, TestFunction, TestObjective,
};

fn sphere_config(dim: usize, seed: u64) -> CmaConfig {
    to_optimum(vec![2.0; dim], 1.0, seed)
}

/// Observer that records what it is shown.
#[derive(Default)]
struct Recorder {
    batches: Vec<(BatchContext, usize)>,
    generations: Vec<usize>,
}

impl Observer for Recorder {
    fn on_evaluations(
        &mut self,
        ctx: &BatchContext,
        xs: &[Vec<f64>],
        evals: &[Evaluation],
    ) -> Result<(), OptimizeError> {
        assert_eq!(xs.len(), evals.len());
        self.batches.push((ctx.clone(), xs.len()));
        Ok(())
    }
    fn on_generation(&mut self, r: &GenerationReport) -> Result<(), OptimizeError> {
        self.generations.push(r.generation);
        Ok(())
    }
}

#[test]
fn sphere_10d_reaches_optimum_with_one_batch_per_generation() {
    let mut f = TestObjective::new(TestFunction::Sphere, 10);
    let mut rec = Recorder::default();
    let r = minimize(&mut f, &sphere_config(10, 1), &mut [&mut rec]).unwrap();
    assert!(r.best_cost < 1e-8, "{}", r.best_cost);
    assert_eq!(r.stop_reason, StopReason::TargetCost);
    assert!(r.best_x.iter().all(|v| v.abs() < 1e-4));
    assert_eq!(
        f.batches, r.generations,
        "one objective call per generation"
    );
    assert_eq!(f.evaluations, r.evaluations);
    assert_eq!(r.evaluations, 10 * r.generations, "λ = 4 + ⌊3 ln 10⌋ = 10");
    assert_eq!(rec.generations, (1..=r.generations).collect::<Vec<_>>());
    assert!(rec.batches.iter().all(|(_, n)| *n == 10));
    assert_eq!(rec.batches[3].0.evaluations_before, 30);
    assert!(r.evaluations < 4000, "{} evaluations", r.evaluations);
}

#[test]
fn rosenbrock_10d_reaches_optimum() {
    let mut f = TestObjective::new(TestFunction::Rosenbrock, 10);
    let config = to_optimum(vec![0.0; 10], 0.5, 3);
    let r = minimize(&mut f, &config, &mut []).unwrap();
    assert!(r.best_cost < 1e-6, "{} ({:?})", r.best_cost, r.stop_reason);
    assert!(
        r.best_x.iter().all(|v| (v - 1.0).abs() < 1e-3),
        "{:?}",
        r.best_x
    );
}

#[test]
fn ellipsoid_10d_learns_the_scaling() {
    let mut f = TestObjective::new(TestFunction::Ellipsoid, 10);
    let r = minimize(&mut f, &sphere_config(10, 5), &mut []).unwrap();
    assert!(r.best_cost < 1e-8, "{} ({:?})", r.best_cost, r.stop_reason);
    let last = r.history.last().unwrap();
    // C's axes must have adapted to the 10³ ratio of the ellipsoid's axes.
    assert!(last.diagnostic("axis_ratio").unwrap() > 100.0);
}

#[test]
fn rastrigin_5d_ipop_finds_global_optimum() {
    let mut f = TestObjective::new(TestFunction::Rastrigin, 5);
    let r = minimize(&mut f, &rastrigin_ipop(2), &mut []).unwrap();
    assert!(
        r.best_cost < 1e-8,
        "{} after {} restarts",
        r.best_cost,
        r.restarts.len()
    );
    assert!(r.best_x.iter().all(|v| v.abs() < 1e-4), "{:?}", r.best_x);
    assert_eq!(r.stop_reason, StopReason::TargetCost);
    // Populations double from restart to restart.
    for (k, s) in r.restarts.iter().enumerate() {
        assert_eq!(s.restart, k);
        assert_eq!(s.population, 8 << k);
    }
    eprintln!(
        "rastrigin 5-D IPOP: {} evaluations, restarts {:?}",
        r.evaluations,
        r.restarts
            .iter()
            .map(|s| (s.population, s.reason, s.best_cost))
            .collect::<Vec<_>>()
    );
}

fn shifted_box() -> BoxConstrained<TestObjective> {
    // Sphere with its optimum at the origin but the box [0.5, 3]^4: the constrained optimum
    // is the corner (0.5, …) with cost 1, on the boundary.
    BoxConstrained::new(
        TestObjective::new(TestFunction::Sphere, 4),
        vec![0.5; 4],
        vec![3.0; 4],
    )
    .unwrap()
}

#[test]
fn resample_never_evaluates_an_infeasible_point() {
    let mut f = shifted_box();
    let config = CmaConfig {
        max_generations: 300,
        seed: 7,
        ..CmaConfig::new(vec![2.0; 4], 1.0)
    };
    let r = minimize(&mut f, &config, &mut []).unwrap();
    assert_eq!(f.infeasible_evaluations, 0);
    assert!(f.inner.evaluations > 0);
    assert!(
        r.history.iter().map(|g| g.rejected).sum::<usize>() > 0,
        "the bound was active"
    );
    assert!((r.best_cost - 1.0).abs() < 1e-3, "{}", r.best_cost);
    assert!(r.best_x.iter().all(|v| *v >= 0.5));
}

#[test]
fn penalty_never_evaluates_an_infeasible_point_and_respects_the_box() {
    let mut f = shifted_box();
    let config = CmaConfig {
        max_generations: 300,
        seed: 7,
        bounds: BoundsHandling::Penalty { weight: 10.0 },
        ..CmaConfig::new(vec![2.0; 4], 1.0)
    };
    let r = minimize(&mut f, &config, &mut []).unwrap();
    assert_eq!(f.infeasible_evaluations, 0);
    let gens: usize = r.history.iter().map(|g| g.population).sum();
    assert_eq!(
        f.inner.evaluations + r.history.iter().map(|g| g.rejected).sum::<usize>(),
        gens
    );
    assert!((r.best_cost - 1.0).abs() < 1e-2, "{}", r.best_cost);
}

#[test]
fn resample_gives_up_with_a_stop_reason() {
    // A feasible region the distribution essentially never hits.
    let mut f = BoxConstrained::new(
        TestObjective::new(TestFunction::Sphere, 2),
        vec![100.0, 100.0],
        vec![100.001, 100.001],
    )
    .unwrap();
    let config = CmaConfig {
        bounds: BoundsHandling::Resample { max_tries: 50 },
        ..CmaConfig::new(vec![0.0; 2], 0.1)
    };
    let r = minimize(&mut f, &config, &mut []).unwrap();
    assert_eq!(r.stop_reason, StopReason::ResampleExhausted);
    assert_eq!(f.inner.evaluations, 0);
}

#[test]
fn same_seed_same_run_other_seed_other_run() {
    let run = |seed| {
        let mut f = TestObjective::new(TestFunction::Rosenbrock, 6);
        let config = CmaConfig {
            max_generations: 150,
            seed,
            ..CmaConfig::new(vec![0.0; 6], 0.5)
        };
        minimize(&mut f, &config, &mut []).unwrap()
    };
    let (a, b, c) = (
        strip_times(run(11)),
        strip_times(run(11)),
        strip_times(run(12)),
    );
    assert_eq!(a, b);
    assert_ne!(a.best_x, c.best_x);
}

fn strip_times(mut r: CmaResult) -> CmaResult {
    r.elapsed_s = 0.0;
    for g in &mut r.history {
        g.elapsed_s = 0.0;
    }
    r
}

#[test]
fn checkpoint_resume_continues_the_same_trajectory() {
    // Rastrigin with IPOP: the interruption falls inside a restart sequence, so the RNG, the
    // restart bookkeeping and the tolFun window must all survive the round trip.
    let config = CmaConfig {
        max_evaluations: Some(6000),
        target_cost: None,
        ..rastrigin_ipop(4)
    };
    let mut f = TestObjective::new(TestFunction::Rastrigin, 5);
    let full = strip_times(minimize(&mut f, &config, &mut []).unwrap());
    assert!(full.restarts.len() >= 2, "interrupt across restarts");

    let cut = full.restarts[0].generations + 7;
    let mut f2 = TestObjective::new(TestFunction::Rastrigin, 5);
    let mut run = CmaRun::new(config.clone()).unwrap();
    for _ in 0..cut {
        assert!(run.step(&mut f2, &mut []).unwrap().is_none());
    }
    let json = serde_json::to_string(&run.checkpoint()).unwrap();
    drop(run);
    let ckpt: CmaCheckpoint = serde_json::from_str(&json).unwrap();
    let resumed = CmaRun::resume(ckpt).unwrap();
    let rest = strip_times(resumed.run(&mut f2, &mut []).unwrap());
    assert_eq!(rest, full);
    assert_eq!(f2.evaluations, f.evaluations);
}

#[test]
fn minimize_resumable_picks_up_after_a_kill() {
    let dir = std::env::temp_dir().join(format!("optimize-ckpt-{}", std::process::id()));
    let path = dir.join("run.json");
    let _ = std::fs::remove_file(&path);
    let config = CmaConfig {
        max_generations: 120,
        target_cost: None,
        tol_fun: 0.0,
        tol_x: 0.0,
        seed: 9,
        ..CmaConfig::new(vec![0.0; 6], 0.5)
    };
    let full = strip_times(
        minimize(
            &mut TestObjective::new(TestFunction::Rosenbrock, 6),
            &config,
            &mut [],
        )
        .unwrap(),
    );

    // "Kill" after 50 generations: an observer that fails aborts the run.
    struct Killer(usize);
    impl Observer for Killer {
        fn on_generation(&mut self, r: &GenerationReport) -> Result<(), OptimizeError> {
            if r.generation > self.0 {
                return Err(OptimizeError::Observer("killed".into()));
            }
            Ok(())
        }
    }
    let policy = CheckpointPolicy {
        path: path.clone(),
        every: 10,
    };
    let mut f = TestObjective::new(TestFunction::Rosenbrock, 6);
    let err = minimize_resumable(&mut f, &config, &mut [&mut Killer(50)], &policy);
    assert!(matches!(err, Err(OptimizeError::Observer(_))));
    let saved = CmaCheckpoint::load(&path).unwrap();
    assert_eq!(saved.generations, 50);

    let mut rec = Recorder::default();
    let resumed =
        strip_times(minimize_resumable(&mut f, &config, &mut [&mut rec], &policy).unwrap());
    assert_eq!(resumed, full);
    assert_eq!(rec.generations.first(), Some(&51));

    // A checkpoint from another configuration is refused.
    let other = CmaConfig { seed: 10, ..config };
    assert!(matches!(
        minimize_resumable(&mut f, &other, &mut [], &policy),
        Err(OptimizeError::Checkpoint { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigma_cap_holds_every_generation() {
    let mut f = TestObjective::new(TestFunction::Sphere, 5);
    let config = CmaConfig {
        sigma_max: Some(0.15),
        max_generations: 200,
        ..CmaConfig::new(vec![50.0; 5], 0.15)
    };
    let r = minimize(&mut f, &config, &mut []).unwrap();
    assert!(r.history.iter().all(|g| g.step_size <= 0.15));
    assert!(
        r.history.iter().any(|g| g.step_size == 0.15),
        "the cap was active"
    );
}

#[test]
fn invalid_configs_are_rejected_with_typed_errors() {
    let base = CmaConfig::new(vec![0.0; 3], 0.5);
    let cases = [
        CmaConfig {
            start: vec![],
            ..base.clone()
        },
        CmaConfig {
            sigma0: 0.0,
            ..base.clone()
        },
        CmaConfig {
            population: Some(1),
            ..base.clone()
        },
        CmaConfig {
            parents: Some(11),
            population: Some(10),
            ..base.clone()
        },
        CmaConfig {
            initial_scale: Some(vec![1.0, 0.0, 1.0]),
            ..base.clone()
        },
        CmaConfig {
            bounds: BoundsHandling::Resample { max_tries: 0 },
            ..base.clone()
        },
        CmaConfig {
            bounds: BoundsHandling::Penalty { weight: -1.0 },
            ..base.clone()
        },
        CmaConfig {
            eigen_every: Some(0),
            ..base.clone()
        },
    ];
    for c in cases {
        assert!(
            matches!(c.check(), Err(OptimizeError::InvalidConfig { .. })),
            "{c:?}"
        );
    }
    assert!(matches!(
        CmaConfig {
            initial_scale: Some(vec![1.0]),
            ..base.clone()
        }
        .check(),
        Err(OptimizeError::DimensionMismatch { .. })
    ));
    let mut f = TestObjective::new(TestFunction::Sphere, 4);
    assert!(matches!(
        minimize(&mut f, &base, &mut []),
        Err(OptimizeError::DimensionMismatch { .. })
    ));
}

#[test]
fn ask_tell_protocol_errors() {
    let mut es = CmaEs::from_config(&CmaConfig::new(vec![0.0; 3], 0.5)).unwrap();
    assert!(matches!(es.tell(&[1.0]), Err(OptimizeError::AskTell(_))));
    let xs = es.ask();
    assert!(matches!(es.tell(&[1.0]), Err(OptimizeError::AskTell(_))));
    // The offspring are still pending after a wrong-length tell.
    let costs: Vec<f64> = xs.iter().map(|x| TestFunction::Sphere.value(x)).collect();
    es.tell(&costs).unwrap();
    assert_eq!(es.generation(), 1);
}

#[test]
fn nan_costs_rank_last() {
    assert_eq!(ranking(&[2.0, f64::NAN, 1.0, 1.0]), vec![2, 3, 0, 1]);
}
