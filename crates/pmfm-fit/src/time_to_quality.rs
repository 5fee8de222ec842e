//! Time to quality: validated cost against cumulative wall time and simulations, per method,
//! and the speedup at equal validated cost against Euler-CMA-ES.
//!
//! The checkpoint table (one Parquet file per method, rows from
//! [`crate::checkpoints::checkpoint_rows`]):
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `method` | str | the method |
//! | `checkpoint` | u32 | 0-based, in time order |
//! | `kind` | str | `search` (a validated best-so-far θ of the search) or `final` (the method's own validation) |
//! | `generation` | u32 | search generation of the checkpoint |
//! | `wall_s` | f64 | the method's cumulative wall time: search time, plus its own validation in the `final` row (s) |
//! | `simulations` | u64 | the method's cumulative Euler simulations (search, plus its validation in `final`) |
//! | `search_cost` | f64 | the θ's search cost (predicted for surrogates) |
//! | `checkpoint_cost` | f64 | the θ's validated total cost (∞ when invalid) |
//! | `w0` … `s_grad` | f64 | θ |
//! | `dataset_s`, `training_s` | f64 | what the method's surrogate cost to build (0 without one; NaN when unknown) |
//! | `checkpoint_validate_s` | f64 | wall time of the checkpoint validation (never in `wall_s`) |
//!
//! The time-to-quality table adds `validated_cost`, the best validated cost so far (monotone
//! non-increasing). The speedup of a method whose own result (its `final` row) validates at
//! `c`: the Euler-CMA-ES wall time to its first row with best-so-far validated cost ≤ 1.05·c,
//! divided by the method's own time to its first row with best-so-far validated cost ≤ 1.05·c.
//! A checkpoint that validates better than the method's result does not lower `c`: the method
//! never validated it itself. A checkpoint's time leaves out the validation a surrogate search
//! would need to know its quality, so `speedup_to_result` divides instead by the method's time
//! to its own validated result (search + validation, the `final` row).

use optimize::OptimizeError;
use pmfm_sim::params::THETA_NAMES;
use polars::prelude::*;

/// Tolerance of "reaching" a validated cost: within 5 % above it.
pub const QUALITY_TOLERANCE: f64 = 0.05;

/// The method every speedup is measured against.
pub const REFERENCE_METHOD: &str = "euler-cmaes";

/// Wall time spent building a method's surrogate before its search (s).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BuildCost {
    /// Simulating the training dataset.
    pub dataset_s: f64,
    /// Training the surrogate (all ensemble members).
    pub training_s: f64,
}

/// One row of the checkpoint table (see the module map).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointRow {
    pub method: String,
    pub checkpoint: u32,
    pub kind: String,
    pub generation: u32,
    pub wall_s: f64,
    pub simulations: u64,
    pub search_cost: f64,
    pub checkpoint_cost: f64,
    pub theta: Vec<f64>,
    pub build: BuildCost,
    pub checkpoint_validate_s: f64,
}

fn err(e: PolarsError) -> OptimizeError {
    OptimizeError::Observer(format!("time-to-quality table: {e}"))
}

/// The checkpoint rows as a polars table (columns of the module map).
pub fn checkpoint_frame(rows: &[CheckpointRow]) -> Result<DataFrame, OptimizeError> {
    let f = |name: &str, g: &dyn Fn(&CheckpointRow) -> f64| {
        Column::new(name.into(), rows.iter().map(g).collect::<Vec<f64>>())
    };
    let mut cols = vec![
        Column::new(
            "method".into(),
            rows.iter().map(|r| r.method.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            "checkpoint".into(),
            rows.iter().map(|r| r.checkpoint).collect::<Vec<_>>(),
        ),
        Column::new(
            "kind".into(),
            rows.iter().map(|r| r.kind.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            "generation".into(),
            rows.iter().map(|r| r.generation).collect::<Vec<_>>(),
        ),
        f("wall_s", &|r| r.wall_s),
        Column::new(
            "simulations".into(),
            rows.iter().map(|r| r.simulations).collect::<Vec<_>>(),
        ),
        f("search_cost", &|r| r.search_cost),
        f("checkpoint_cost", &|r| r.checkpoint_cost),
    ];
    for (d, name) in THETA_NAMES.iter().enumerate() {
        cols.push(f(name, &|r| r.theta.get(d).copied().unwrap_or(f64::NAN)));
    }
    cols.extend([
        f("dataset_s", &|r| r.build.dataset_s),
        f("training_s", &|r| r.build.training_s),
        f("checkpoint_validate_s", &|r| r.checkpoint_validate_s),
    ]);
    DataFrame::new(rows.len(), cols).map_err(err)
}

/// One method's curve: (wall time, simulations, best validated cost so far) per checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub method: String,
    pub points: Vec<CurvePoint>,
    /// The validated cost of the method's own result (its last row; ∞ when invalid).
    pub delivered_cost: f64,
    pub build: BuildCost,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    pub wall_s: f64,
    pub simulations: u64,
    /// Best validated cost so far (monotone non-increasing; ∞ before a valid one).
    pub validated_cost: f64,
}

impl Curve {
    /// The best validated cost so far at the last point (∞ when none was valid).
    pub fn best_so_far(&self) -> f64 {
        self.points
            .last()
            .map_or(f64::INFINITY, |p| p.validated_cost)
    }

    /// The first point whose validated cost is within the tolerance of `cost`.
    pub fn reaching(&self, cost: f64) -> Option<&CurvePoint> {
        let threshold = cost * (1.0 + QUALITY_TOLERANCE);
        self.points.iter().find(|p| p.validated_cost <= threshold)
    }
}

/// The curves of a checkpoint table, one per method in order of first appearance, points in
/// checkpoint order with the validated cost made best-so-far.
pub fn curves(checkpoints: &DataFrame) -> Result<Vec<Curve>, OptimizeError> {
    let get_f = |c: &str| -> Result<Float64Chunked, OptimizeError> {
        Ok(checkpoints
            .column(c)
            .map_err(err)?
            .f64()
            .map_err(err)?
            .clone())
    };
    let methods = checkpoints
        .column("method")
        .map_err(err)?
        .str()
        .map_err(err)?
        .clone();
    let order = checkpoints
        .column("checkpoint")
        .map_err(err)?
        .cast(&DataType::UInt32)
        .map_err(err)?;
    let order = order.u32().map_err(err)?.clone();
    let sims = checkpoints
        .column("simulations")
        .map_err(err)?
        .cast(&DataType::UInt64)
        .map_err(err)?;
    let sims = sims.u64().map_err(err)?.clone();
    let (wall, cost) = (get_f("wall_s")?, get_f("checkpoint_cost")?);
    let (dataset, training) = (get_f("dataset_s")?, get_f("training_s")?);
    let mut rows: Vec<usize> = (0..checkpoints.height()).collect();
    let mut out: Vec<Curve> = Vec::new();
    rows.sort_by_key(|&k| order.get(k).unwrap_or(0));
    for k in rows {
        let m = methods.get(k).unwrap_or("").to_string();
        let curve = match out.iter_mut().position(|c| c.method == m) {
            Some(i) => &mut out[i],
            None => {
                out.push(Curve {
                    method: m,
                    points: vec![],
                    delivered_cost: f64::INFINITY,
                    build: BuildCost {
                        dataset_s: dataset.get(k).unwrap_or(f64::NAN),
                        training_s: training.get(k).unwrap_or(f64::NAN),
                    },
                });
                out.last_mut().expect("just pushed")
            }
        };
        let c = cost.get(k).filter(|c| !c.is_nan()).unwrap_or(f64::INFINITY);
        let best = curve.best_so_far().min(c);
        curve.delivered_cost = c;
        curve.points.push(CurvePoint {
            wall_s: wall.get(k).unwrap_or(f64::NAN),
            simulations: sims.get(k).unwrap_or(0),
            validated_cost: best,
        });
    }
    Ok(out)
}

/// The time-to-quality table: `method`, `checkpoint`, `wall_s`, `simulations`,
/// `validated_cost` (best so far), one row per point of each curve.
pub fn time_to_quality_table(curves: &[Curve]) -> Result<DataFrame, OptimizeError> {
    let pts: Vec<(&str, usize, &CurvePoint)> = curves
        .iter()
        .flat_map(|c| {
            c.points
                .iter()
                .enumerate()
                .map(move |(j, p)| (c.method.as_str(), j, p))
        })
        .collect();
    let cols = vec![
        Column::new("method".into(), pts.iter().map(|p| p.0).collect::<Vec<_>>()),
        Column::new(
            "checkpoint".into(),
            pts.iter().map(|p| p.1 as u32).collect::<Vec<_>>(),
        ),
        Column::new(
            "wall_s".into(),
            pts.iter().map(|p| p.2.wall_s).collect::<Vec<_>>(),
        ),
        Column::new(
            "simulations".into(),
            pts.iter().map(|p| p.2.simulations).collect::<Vec<_>>(),
        ),
        Column::new(
            "validated_cost".into(),
            pts.iter().map(|p| p.2.validated_cost).collect::<Vec<_>>(),
        ),
    ];
    DataFrame::new(pts.len(), cols).map_err(err)
}

/// The speedup of one method at its own final validated cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Speedup {
    pub method: String,
    /// The validated cost `c` of the method's own result (its `final` row).
    pub final_cost: f64,
    /// The method's wall time and simulations to its first point within 5 % of `c`.
    pub time_s: f64,
    pub simulations: u64,
    /// Euler-CMA-ES's wall time and simulations to its first point within 5 % of `c` (NaN when
    /// it never gets there).
    pub euler_time_s: f64,
    pub euler_simulations: f64,
    /// `euler_time_s / time_s`.
    pub speedup: f64,
    /// The method's wall time to its own validated result (search + validation).
    pub result_s: f64,
    /// `euler_time_s / result_s`.
    pub speedup_to_result: f64,
    pub build: BuildCost,
    /// Build time divided by the groups the surrogate serves.
    pub amortised_build_s: f64,
    /// `euler_time_s / (time_s + amortised_build_s)`.
    pub speedup_amortised: f64,
    /// Why a speedup is NaN (empty otherwise).
    pub reason: String,
}

/// The speedup of every curve against the `euler-cmaes` curve; dataset and training time
/// amortised over `groups_served` (≥ 1) groups.
pub fn speedups(curves: &[Curve], groups_served: usize) -> Result<Vec<Speedup>, OptimizeError> {
    if groups_served == 0 {
        return Err(OptimizeError::config(
            "groups_served",
            "must be at least 1, got 0",
        ));
    }
    let euler = curves.iter().find(|c| c.method == REFERENCE_METHOD);
    Ok(curves
        .iter()
        .map(|c| speedup(c, euler, groups_served))
        .collect())
}

fn speedup(curve: &Curve, euler: Option<&Curve>, groups_served: usize) -> Speedup {
    let c = curve.delivered_cost;
    let own = curve.reaching(c).filter(|_| c.is_finite());
    let reached = euler.and_then(|e| e.reaching(c)).filter(|_| c.is_finite());
    let reason = match (own, euler, reached) {
        (None, _, _) => "no valid validated cost".to_string(),
        (_, None, _) => format!("no {REFERENCE_METHOD} run"),
        (_, Some(_), None) => format!(
            "{REFERENCE_METHOD} never reaches {:.4} (within {:.0}% of {c:.4})",
            c * (1.0 + QUALITY_TOLERANCE),
            100.0 * QUALITY_TOLERANCE
        ),
        _ => String::new(),
    };
    let time_s = own.map_or(f64::NAN, |p| p.wall_s);
    let euler_time_s = reached.map_or(f64::NAN, |p| p.wall_s);
    let result_s = curve.points.last().map_or(f64::NAN, |p| p.wall_s);
    let b = curve.build;
    // Unknown build parts (NaN) stay NaN in the amortised numbers.
    let amortised_build_s = (b.dataset_s + b.training_s) / groups_served as f64;
    Speedup {
        method: curve.method.clone(),
        final_cost: c,
        time_s,
        simulations: own.map_or(0, |p| p.simulations),
        euler_time_s,
        euler_simulations: reached.map_or(f64::NAN, |p| p.simulations as f64),
        speedup: euler_time_s / time_s,
        result_s,
        speedup_to_result: euler_time_s / result_s,
        build: b,
        amortised_build_s,
        speedup_amortised: euler_time_s / (time_s + amortised_build_s),
        reason,
    }
}

/// The speedup table: one row per method (columns named as [`Speedup`]'s fields, the build
/// split into `dataset_s` and `training_s`, plus `groups_served`).
pub fn speedup_table(rows: &[Speedup], groups_served: usize) -> Result<DataFrame, OptimizeError> {
    let f = |name: &str, g: &dyn Fn(&Speedup) -> f64| {
        Column::new(name.into(), rows.iter().map(g).collect::<Vec<f64>>())
    };
    let cols = vec![
        Column::new(
            "method".into(),
            rows.iter().map(|r| r.method.clone()).collect::<Vec<_>>(),
        ),
        f("final_cost", &|r| r.final_cost),
        f("time_s", &|r| r.time_s),
        Column::new(
            "simulations".into(),
            rows.iter().map(|r| r.simulations).collect::<Vec<_>>(),
        ),
        f("euler_time_s", &|r| r.euler_time_s),
        f("euler_simulations", &|r| r.euler_simulations),
        f("speedup", &|r| r.speedup),
        f("result_s", &|r| r.result_s),
        f("speedup_to_result", &|r| r.speedup_to_result),
        f("dataset_s", &|r| r.build.dataset_s),
        f("training_s", &|r| r.build.training_s),
        Column::new(
            "groups_served".into(),
            vec![groups_served as u32; rows.len()],
        ),
        f("amortised_build_s", &|r| r.amortised_build_s),
        f("speedup_amortised", &|r| r.speedup_amortised),
        Column::new(
            "reason".into(),
            rows.iter().map(|r| r.reason.clone()).collect::<Vec<_>>(),
        ),
    ];
    DataFrame::new(rows.len(), cols).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkpoint table of one method from (wall time, simulations, checkpoint cost).
    fn rows(method: &str, pts: &[(f64, u64, f64)], build: BuildCost) -> Vec<CheckpointRow> {
        pts.iter()
            .enumerate()
            .map(|(j, &(wall_s, simulations, cost))| CheckpointRow {
                method: method.into(),
                checkpoint: j as u32,
                kind: if j + 1 == pts.len() {
                    "final"
                } else {
                    "search"
                }
                .into(),
                generation: j as u32 + 1,
                wall_s,
                simulations,
                search_cost: cost,
                checkpoint_cost: cost,
                theta: vec![0.5; 10],
                build,
                checkpoint_validate_s: 1.0,
            })
            .collect()
    }

    fn table(parts: &[Vec<CheckpointRow>]) -> Vec<Curve> {
        let all: Vec<CheckpointRow> = parts.concat();
        curves(&checkpoint_frame(&all).unwrap()).unwrap()
    }

    const NONE: BuildCost = BuildCost {
        dataset_s: 0.0,
        training_s: 0.0,
    };

    #[test]
    fn validated_cost_is_best_so_far_and_invalid_is_infinite() {
        let c = table(&[rows(
            "m",
            &[
                (1.0, 0, f64::INFINITY),
                (2.0, 0, 1.0),
                (3.0, 0, 1.4),
                (4.0, 0, 0.9),
            ],
            NONE,
        )]);
        let v: Vec<f64> = c[0].points.iter().map(|p| p.validated_cost).collect();
        assert_eq!(v, vec![f64::INFINITY, 1.0, 1.0, 0.9]);
        let df = time_to_quality_table(&c).unwrap();
        assert_eq!(df.height(), 4);
    }

    #[test]
    fn speedup_is_euler_time_to_the_methods_cost_over_the_methods_time() {
        let build = BuildCost {
            dataset_s: 30.0,
            training_s: 10.0,
        };
        let c = table(&[
            rows(
                "euler-cmaes",
                &[(10.0, 100, 2.0), (100.0, 1000, 1.04), (1000.0, 9000, 0.8)],
                NONE,
            ),
            // Final cost 1.0: Euler reaches ≤ 1.05 at 100 s; the method got within 5 % at 2 s.
            rows(
                "surrogate-cmaes",
                &[(1.0, 0, 1.2), (2.0, 0, 1.03), (5.0, 24, 1.0)],
                build,
            ),
            // Final cost 0.5: Euler never reaches 0.525.
            rows("surrogate-gd", &[(3.0, 24, 0.5)], build),
        ]);
        let s = speedups(&c, 4).unwrap();
        assert_eq!(s[0].speedup, 1.0);
        assert_eq!((s[0].time_s, s[0].euler_time_s), (1000.0, 1000.0));
        assert_eq!(
            (s[1].final_cost, s[1].time_s, s[1].euler_time_s),
            (1.0, 2.0, 100.0)
        );
        assert_eq!(s[1].speedup, 50.0);
        assert_eq!((s[1].result_s, s[1].speedup_to_result), (5.0, 20.0));
        assert_eq!(s[1].euler_simulations, 1000.0);
        assert_eq!(s[1].amortised_build_s, 10.0);
        assert_eq!(s[1].speedup_amortised, 100.0 / 12.0);
        assert!(s[1].reason.is_empty());
        assert!(s[2].speedup.is_nan());
        assert!(s[2].reason.contains("never reaches"), "{}", s[2].reason);
        // A checkpoint better than the method's own result does not lower its cost c = 1.0;
        // the curve reaches within 5 % of c at its first point.
        let lucky = table(&[
            rows(
                "euler-cmaes",
                &[(10.0, 100, 2.0), (100.0, 1000, 1.04)],
                NONE,
            ),
            rows("surrogate-cmaes", &[(1.0, 0, 0.9), (5.0, 24, 1.0)], NONE),
        ]);
        let l = speedups(&lucky, 1).unwrap();
        assert_eq!(
            (l[1].final_cost, l[1].time_s, l[1].speedup),
            (1.0, 1.0, 100.0)
        );
        let t = speedup_table(&s, 4).unwrap();
        assert_eq!(t.height(), 3);
        assert!(speedups(&c, 0).is_err());
    }

    #[test]
    fn ties_reach_at_the_first_equal_point() {
        // Euler's cost equals the threshold exactly at 20 s and stays there: reached at 20 s.
        let c = 1.0;
        let at = c * (1.0 + QUALITY_TOLERANCE);
        let curves = table(&[
            rows(
                "euler-cmaes",
                &[
                    (10.0, 10, 2.0),
                    (20.0, 20, at),
                    (30.0, 30, at),
                    (40.0, 40, at),
                ],
                NONE,
            ),
            rows("random", &[(4.0, 8, c), (8.0, 16, c)], NONE),
        ]);
        let s = speedups(&curves, 1).unwrap();
        assert_eq!(
            (s[1].time_s, s[1].euler_time_s, s[1].speedup),
            (4.0, 20.0, 5.0)
        );
        assert_eq!(s[1].simulations, 8);
        // Euler against itself: its own final cost is reached where it first appears.
        assert_eq!((s[0].time_s, s[0].speedup), (20.0, 1.0));
    }

    #[test]
    fn without_euler_or_a_valid_cost_the_speedup_is_nan_with_a_reason() {
        let curves = table(&[
            rows("random", &[(4.0, 8, 1.0)], NONE),
            rows("surrogate-gd", &[(1.0, 0, f64::INFINITY)], NONE),
        ]);
        let s = speedups(&curves, 1).unwrap();
        assert!(s[0].speedup.is_nan() && s[0].reason.contains("no euler-cmaes run"));
        assert!(
            s[1].speedup.is_nan() && s[1].reason.contains("no valid"),
            "{}",
            s[1].reason
        );
    }
}
