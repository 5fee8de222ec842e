//! The CMA-ES-trajectory design of a parameter→cost dataset: the way the published surrogate's
//! training data were collected. Independent simulator-driven CMA-ES runs (each from its own
//! reference start) are recorded generation by generation; every generation is one batch of the
//! dataset, so run `r`, generation `g` is batch `r·generations + g`.
//!
//! A run is sequential (each generation depends on the costs of the previous one), so a resumed
//! job *replays* the generations already on disk: it asks the strategy for the same offspring
//! (same seed, same draws), checks that they are the θ stored in the part, tells it the stored
//! costs, and continues from the first missing generation. Shards split the runs, never a run.

use optimize::cma::{check_population, BoundsHandling, CmaConfig, CmaEs};
use optimize::OptimizeError;
use pmfm_sim::params::{is_feasible, Bounds, Theta};
use serde::{Deserialize, Serialize};

use crate::methods::reference_start;
use crate::sim_objective::to_theta;

/// Settings of a CMA-ES-trajectory design (serialised with `"kind": "cma-trajectory"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename = "cma-trajectory")]
pub struct TrajectoryDesign {
    /// Independent CMA-ES runs (run r starts from the reference start of seed `seed + r`).
    pub runs: usize,
    /// Generations recorded per run.
    pub generations: usize,
    /// Population λ (= the dataset's batch size) and parents μ.
    pub population: usize,
    pub parents: usize,
    /// Initial step size σ₀ (the reference's 0.15, with its per-coordinate initial scale).
    pub sigma0: f64,
    /// Over several groups: every group's runs start from their own reference starts (group
    /// g's run r from seed `seed + g·runs + r`, see [`Self::group_seed`]) instead of every
    /// group's run r starting from seed `seed + r`. Spreads a multi-group dataset over as many
    /// starting basins as it has runs. Not written when false, so older manifests read back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub distinct_starts: bool,
}

impl TrajectoryDesign {
    /// Total θ of the design: runs × generations × population.
    pub fn n_total(&self) -> usize {
        self.runs * self.generations * self.population
    }

    /// Number of batches (= generations of all runs).
    pub fn n_batches(&self) -> usize {
        self.runs * self.generations
    }

    /// Batch index of generation `g` of run `r`.
    pub fn batch(&self, run: usize, generation: usize) -> usize {
        run * self.generations + generation
    }

    /// The seed that [`drive_run`] gets for the runs of group `group` (0-based) of a job seeded
    /// with `seed`: `seed` itself, or `seed + group·runs` with [`Self::distinct_starts`].
    pub fn group_seed(&self, group: usize, seed: u64) -> u64 {
        if self.distinct_starts {
            seed.wrapping_add((group * self.runs) as u64)
        } else {
            seed
        }
    }

    /// Checks the settings once.
    pub fn check(&self) -> Result<(), OptimizeError> {
        if self.runs == 0 || self.generations == 0 {
            return Err(OptimizeError::config(
                "trajectory",
                "runs and generations must be at least 1",
            ));
        }
        check_population(self.population, self.parents)?;
        if !(self.sigma0.is_finite() && self.sigma0 > 0.0) {
            return Err(OptimizeError::config(
                "trajectory",
                format!("σ₀ must be finite and > 0, got {}", self.sigma0),
            ));
        }
        Ok(())
    }

    /// The CMA-ES of run `r`: the reference preset (per-coordinate initial scale, σ cap,
    /// infeasible offspring re-drawn) around the reference start drawn with `seed + r`.
    pub fn cma_config(
        &self,
        run: usize,
        seed: u64,
        myelin: &[f64],
        gradient: &[f64],
        bounds: &Bounds,
    ) -> CmaConfig {
        let run_seed = seed.wrapping_add(run as u64);
        let start = reference_start(myelin, gradient, bounds, run_seed);
        let mut c = crate::kong2021::cma_config(&start);
        c.population = Some(self.population);
        c.parents = Some(self.parents);
        c.sigma0 = self.sigma0;
        c.max_generations = self.generations;
        c.early_stop = None;
        c.bounds = BoundsHandling::Resample { max_tries: 100_000 };
        c.seed = run_seed ^ 0x7A3E_C70B_u64;
        c
    }
}

/// Drives run `run` of `design` for all its generations. For each generation it asks for the
/// (feasible) offspring and calls `generation(batch, &thetas)`, which returns their total costs
/// — by simulating them, or by reading a part already on disk (a resumed job) after checking
/// that it holds these θ. Non-finite costs rank last.
pub fn drive_run<E: From<OptimizeError>>(
    design: &TrajectoryDesign,
    run: usize,
    seed: u64,
    myelin: &[f64],
    gradient: &[f64],
    bounds: &Bounds,
    mut generation: impl FnMut(usize, &[Theta]) -> Result<Vec<f64>, E>,
) -> Result<(), E> {
    design.check()?;
    let cfg = design.cma_config(run, seed, myelin, gradient, bounds);
    let mut es = CmaEs::from_config(&cfg)?;
    let max_tries = match cfg.bounds {
        BoundsHandling::Resample { max_tries } => max_tries,
        _ => 100_000,
    };
    for g in 0..design.generations {
        let (xs, _) = es.ask_feasible(
            |x| to_theta(x).is_ok_and(|t| is_feasible(&t, myelin, gradient, bounds)),
            max_tries,
        )?;
        let thetas = xs
            .iter()
            .map(|x| to_theta(x))
            .collect::<Result<Vec<Theta>, _>>()?;
        let costs = generation(design.batch(run, g), &thetas)?;
        let costs: Vec<f64> = costs
            .into_iter()
            .map(|c| if c.is_finite() { c } else { f64::INFINITY })
            .collect();
        es.tell(&costs)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(n: usize) -> (Vec<f64>, Vec<f64>) {
        let m = (0..n).map(|i| (i as f64 / n as f64) * 2.0 - 1.0).collect();
        let g = (0..n)
            .map(|i| ((i * 7 % n) as f64 / n as f64) * 2.0 - 1.0)
            .collect();
        (m, g)
    }

    fn design() -> TrajectoryDesign {
        TrajectoryDesign {
            runs: 2,
            generations: 12,
            population: 16,
            parents: 4,
            sigma0: 0.15,
            distinct_starts: false,
        }
    }

    /// A cost with a known minimiser inside the feasible region: distance of G to 2.5 and of
    /// the w/I intercepts to their bound centres.
    fn cost(t: &Theta) -> f64 {
        (t[6] - 2.5).powi(2) + (t[0] - 0.5).powi(2) + (t[3] - 0.3).powi(2)
    }

    #[test]
    fn runs_are_feasible_descend_and_replay_exactly() {
        let (m, g) = maps(20);
        let b = Bounds::default();
        let d = design();
        let mut recorded: Vec<(usize, Vec<Theta>, Vec<f64>)> = Vec::new();
        for run in 0..d.runs {
            drive_run::<OptimizeError>(&d, run, 5, &m, &g, &b, |batch, thetas| {
                assert!(thetas.iter().all(|t| is_feasible(t, &m, &g, &b)));
                assert_eq!(thetas.len(), d.population);
                let c: Vec<f64> = thetas.iter().map(cost).collect();
                recorded.push((batch, thetas.to_vec(), c.clone()));
                Ok(c)
            })
            .unwrap();
        }
        let batches: Vec<usize> = recorded.iter().map(|r| r.0).collect();
        assert_eq!(batches, (0..d.n_batches()).collect::<Vec<_>>());
        // The search descends: each run's last generation is clearly better than its first
        // (the reference's σ cap and per-coordinate scale keep the steps small).
        for run in 0..d.runs {
            let mean = |g: usize| {
                let c = &recorded[d.batch(run, g)].2;
                c.iter().sum::<f64>() / c.len() as f64
            };
            assert!(
                mean(d.generations - 1) < 0.7 * mean(0),
                "run {run}: {} → {}",
                mean(0),
                mean(d.generations - 1)
            );
        }
        // The two runs start from different points.
        assert_ne!(recorded[0].1[0], recorded[d.generations].1[0]);
        // Replaying run 1 with the stored costs asks for the very same θ.
        let mut k = d.generations;
        drive_run::<OptimizeError>(&d, 1, 5, &m, &g, &b, |batch, thetas| {
            assert_eq!(batch, recorded[k].0);
            assert_eq!(thetas, recorded[k].1.as_slice());
            k += 1;
            Ok(recorded[batch].2.clone())
        })
        .unwrap();
        assert_eq!(k, d.n_batches());
    }

    #[test]
    fn bad_settings_are_refused() {
        let (m, g) = maps(10);
        for bad in [
            TrajectoryDesign {
                runs: 0,
                ..design()
            },
            TrajectoryDesign {
                parents: 17,
                ..design()
            },
            TrajectoryDesign {
                sigma0: f64::NAN,
                ..design()
            },
        ] {
            let r = drive_run::<OptimizeError>(&bad, 0, 0, &m, &g, &Bounds::default(), |_, t| {
                Ok(vec![0.0; t.len()])
            });
            assert!(r.is_err());
        }
    }

    #[test]
    fn serialises_with_its_kind() {
        let s = serde_json::to_string(&design()).unwrap();
        assert!(s.contains("\"kind\":\"cma-trajectory\""), "{s}");
        // Shared starts are not written, so a manifest from before the option reads back equal.
        assert!(!s.contains("distinct_starts"), "{s}");
        let back: TrajectoryDesign = serde_json::from_str(&s).unwrap();
        assert_eq!(back, design());
        let d = TrajectoryDesign {
            distinct_starts: true,
            ..design()
        };
        let back: TrajectoryDesign =
            serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
    }

    /// With distinct starts, group g's run r starts where run g·runs + r of one group would:
    /// the groups' first generations differ; without, every group starts run r alike.
    #[test]
    fn distinct_starts_give_each_group_its_own_runs() {
        let (m, g) = maps(10);
        let first_generation = |d: &TrajectoryDesign, group: usize, run: usize| {
            let mut first = Vec::new();
            drive_run::<OptimizeError>(
                d,
                run,
                d.group_seed(group, 5),
                &m,
                &g,
                &Bounds::default(),
                |b, t| {
                    if b == d.batch(run, 0) {
                        first = t.to_vec();
                    }
                    Ok(t.iter().map(cost).collect())
                },
            )
            .unwrap();
            first
        };
        let shared = design();
        let distinct = TrajectoryDesign {
            distinct_starts: true,
            ..design()
        };
        assert_eq!(shared.group_seed(3, 5), 5);
        assert_eq!(distinct.group_seed(3, 5), 5 + 3 * 2);
        assert_eq!(
            first_generation(&shared, 0, 1),
            first_generation(&shared, 2, 1)
        );
        assert_ne!(
            first_generation(&distinct, 0, 1),
            first_generation(&distinct, 2, 1)
        );
        // Group 1's run 0 is group 0's run 2 of a design with four runs per group.
        let four = TrajectoryDesign {
            runs: 4,
            ..distinct.clone()
        };
        assert_eq!(
            first_generation(&distinct, 1, 0),
            first_generation(&four, 0, 2)
        );
    }
}
