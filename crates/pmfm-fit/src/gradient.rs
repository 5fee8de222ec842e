//! Gradient descent on θ through a surrogate (Burn autodiff): multi-start Adam on the predicted
//! total cost plus a smooth feasibility penalty, with a final projection of every end point back
//! into the feasible region (bisection towards its feasible start).
//!
//! The penalty is `ρ · Σ_r [relu(lo − v_r) + relu(v_r − hi)]² / (hi − lo)²` over the derived
//! regional values v (w, I, σ of every region, and G), so its gradient pulls θ back inside the
//! bounds; Adam steps are taken in units of each coordinate's natural scale.
//!
//! With a data-support guard ([`SupportGuard`]) every point is projected back within the radius
//! of its nearest training row after each step, and the final projection keeps end points there
//! too: the descent cannot leave the data the surrogate was trained on.

use burn::tensor::{Device, Tensor, TensorData};
use optimize::adam::Adam;
use optimize::objective::{BatchContext, Evaluation, GenerationReport, Observer};
use optimize::OptimizeError;
use pmfm_sim::params::{Bounds, Theta, N_THETA};
use serde::{Deserialize, Serialize};
use surrogate::ensemble::{Ensemble, EnsemblePrediction};

use crate::sim_objective::violation;
use crate::support::SupportGuard;

/// Settings of multi-start Adam on θ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GradientConfig {
    /// Adam steps.
    pub steps: usize,
    /// Step size, in units of each coordinate's scale.
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    /// Weight ρ of the feasibility penalty.
    pub penalty: f64,
    /// Bisection steps of the final projection.
    pub projection_steps: usize,
}

impl Default for GradientConfig {
    fn default() -> Self {
        Self {
            steps: 300,
            learning_rate: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            penalty: 100.0,
            projection_steps: 30,
        }
    }
}

/// One descended start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Descended {
    pub start: Theta,
    /// End point, feasible.
    pub theta: Theta,
    /// Predicted (fc, ks, total, p_valid) at the end point.
    pub fc: f64,
    pub ks: f64,
    pub total: f64,
    pub p_valid: f64,
    /// Predicted total at the start.
    pub start_total: f64,
}

/// The linear map θ → derived regional values, as a `[10, 3n + 1]` matrix with the bounds of each
/// column: columns are w (n), I (n), σ (n), G.
struct RegionalMap {
    matrix: Vec<f32>,
    lo: Vec<f32>,
    hi: Vec<f32>,
    cols: usize,
}

impl RegionalMap {
    fn new(myelin: &[f64], gradient: &[f64], b: &Bounds) -> Self {
        let n = myelin.len();
        let cols = 3 * n + 1;
        let mut matrix = vec![0.0f32; N_THETA * cols];
        let (mut lo, mut hi) = (Vec::with_capacity(cols), Vec::with_capacity(cols));
        for (q, (base, range)) in [(0usize, b.w), (3, b.i), (7, b.sigma)]
            .into_iter()
            .enumerate()
        {
            for r in 0..n {
                let c = q * n + r;
                matrix[base * cols + c] = 1.0;
                matrix[(base + 1) * cols + c] = myelin[r] as f32;
                matrix[(base + 2) * cols + c] = gradient[r] as f32;
                lo.push(range.0 as f32);
                hi.push(range.1 as f32);
            }
        }
        matrix[6 * cols + 3 * n] = 1.0;
        lo.push(b.g.0 as f32);
        hi.push(b.g.1 as f32);
        Self {
            matrix,
            lo,
            hi,
            cols,
        }
    }
}

/// Natural scale of each θ coordinate: the bound width of its quantity, divided by the spread of
/// the map it multiplies.
pub fn coordinate_scales(myelin: &[f64], gradient: &[f64], b: &Bounds) -> [f64; N_THETA] {
    let spread = |x: &[f64]| {
        let lo = x.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if hi > lo {
            hi - lo
        } else {
            1.0
        }
    };
    let (sm, sg) = (spread(myelin), spread(gradient));
    let (w, i, s, g) = (
        b.w.1 - b.w.0,
        b.i.1 - b.i.0,
        b.sigma.1 - b.sigma.0,
        b.g.1 - b.g.0,
    );
    [w, w / sm, w / sg, i, i / sm, i / sg, g, s, s / sm, s / sg]
}

/// The differentiable side of a descent: the ensemble on the autodiff device and the penalty's
/// regional map (`[10, 3n + 1]`) with its bounds.
struct Landscape {
    ad: Device,
    model: Ensemble,
    a: Tensor<2>,
    lo: Tensor<2>,
    hi: Tensor<2>,
    width: Tensor<2>,
    penalty: f64,
}

impl Landscape {
    fn new(model: &Ensemble, map: &RegionalMap, penalty: f64, device: &Device) -> Self {
        let ad = device.clone().autodiff();
        let model = model.to_device(&ad);
        let a = Tensor::<2>::from_data(
            TensorData::new(map.matrix.clone(), [N_THETA, map.cols]),
            &ad,
        );
        let lo = Tensor::<2>::from_data(TensorData::new(map.lo.clone(), [1, map.cols]), &ad);
        let hi = Tensor::<2>::from_data(TensorData::new(map.hi.clone(), [1, map.cols]), &ad);
        let width = hi.clone() - lo.clone();
        Self {
            ad,
            model,
            a,
            lo,
            hi,
            width,
            penalty,
        }
    }

    /// At the `s` points of `x` (`[s, 10]`, flat): the predicted totals `[s]` and the gradient
    /// of Σ (total + penalty) with respect to θ (`[s, 10]`, flat).
    fn totals_and_gradient(
        &self,
        x: &[f64],
        s: usize,
    ) -> Result<(Vec<f64>, Vec<f64>), OptimizeError> {
        let xt = Tensor::<2>::from_data(
            TensorData::new(
                x.iter().map(|&v| v as f32).collect::<Vec<f32>>(),
                [s, N_THETA],
            ),
            &self.ad,
        )
        .require_grad();
        let pred = self.model.predict_tensor(xt.clone()); // [S, 3]
        let total = pred.clone().slice([0..s, 0..1]) + pred.clone().slice([0..s, 1..2]);
        let v = xt.clone().matmul(self.a.clone());
        let below = (self.lo.clone() - v.clone()).clamp_min(0.0) / self.width.clone();
        let above = (v - self.hi.clone()).clamp_min(0.0) / self.width.clone();
        let pen = (below.powf_scalar(2.0) + above.powf_scalar(2.0))
            .sum_dim(1)
            .mul_scalar(self.penalty);
        let loss = (total.clone() + pen.clone()).sum();
        let grads = loss.backward();
        let g = xt.grad(&grads).ok_or_else(|| {
            OptimizeError::Numerical("no gradient w.r.t. θ (is the device autodiff?)".into())
        })?;
        let g: Vec<f32> = g
            .to_data()
            .try_to_vec::<f32>()
            .map_err(|e| OptimizeError::Numerical(format!("reading the gradient: {e:?}")))?;
        let totals: Vec<f32> = total
            .inner()
            .to_data()
            .try_to_vec::<f32>()
            .map_err(|e| OptimizeError::Numerical(format!("reading predictions: {e:?}")))?;
        Ok((
            totals.iter().map(|&t| t as f64).collect(),
            g.iter().map(|&v| v as f64).collect(),
        ))
    }
}

/// Refuses an empty or infeasible set of starts and a non-positive step size or step count.
fn check_starts(
    starts: &[Theta],
    config: &GradientConfig,
    myelin: &[f64],
    gradient: &[f64],
    bounds: &Bounds,
) -> Result<(), OptimizeError> {
    if starts.is_empty() {
        return Err(OptimizeError::config("starts", "need at least one start"));
    }
    if !(config.learning_rate > 0.0) || config.steps == 0 {
        return Err(OptimizeError::config(
            "learning_rate/steps",
            "must be positive",
        ));
    }
    for (k, s) in starts.iter().enumerate() {
        if !pmfm_sim::params::is_feasible(s, myelin, gradient, bounds) {
            return Err(OptimizeError::config(
                "starts",
                format!("start {k} is infeasible"),
            ));
        }
    }
    Ok(())
}

/// The report of step `step`: the predicted totals at the points before the step, the points
/// `x` after it.
fn step_report(
    step: usize,
    x: &[f64],
    totals: &[f64],
    best_so_far: f64,
    learning_rate: f64,
    elapsed_s: f64,
) -> GenerationReport {
    let s = totals.len();
    let best = totals.iter().copied().fold(f64::INFINITY, f64::min);
    let mut sorted: Vec<f64> = totals.to_vec();
    sorted.sort_by(f64::total_cmp);
    let arg = totals
        .iter()
        .enumerate()
        .min_by(|p, q| p.1.total_cmp(q.1))
        .map(|(k, _)| k)
        .unwrap_or(0);
    GenerationReport {
        restart: 0,
        generation: step,
        generation_in_restart: step,
        population: s,
        evaluations: step * s,
        simulations: 0,
        rejected: 0,
        best_cost: best,
        best_x: x[arg * N_THETA..(arg + 1) * N_THETA].to_vec(),
        best_parts: vec![],
        median_cost: sorted[sorted.len() / 2],
        best_so_far_cost: best_so_far,
        mean: (0..N_THETA)
            .map(|d| (0..s).map(|j| x[j * N_THETA + d]).sum::<f64>() / s as f64)
            .collect(),
        step_size: learning_rate,
        diagnostics: vec![],
        elapsed_s,
    }
}

/// `end` if feasible, else the feasible point nearest to it on the segment from the (feasible)
/// `start`, by `steps` bisections.
fn project(start: &Theta, end: Theta, steps: usize, feasible: impl Fn(&Theta) -> bool) -> Theta {
    if feasible(&end) {
        return end;
    }
    let (mut ok, mut bad) = (0.0f64, 1.0f64);
    for _ in 0..steps {
        let mid = 0.5 * (ok + bad);
        let t: Theta = std::array::from_fn(|d| start[d] + mid * (end[d] - start[d]));
        if feasible(&t) {
            ok = mid;
        } else {
            bad = mid;
        }
    }
    std::array::from_fn(|d| start[d] + ok * (end[d] - start[d]))
}

/// Every point of `x` (`[s, 10]`, flat) moved within the guard's radius of its nearest
/// training row.
fn project_into(x: &mut [f64], guard: SupportGuard<'_>) {
    for chunk in x.chunks_exact_mut(N_THETA) {
        let t: Theta = std::array::from_fn(|d| chunk[d]);
        chunk.copy_from_slice(&guard.project(&t));
    }
}

/// Predicts the end points with the (plain) ensemble and shows them to the observers as one
/// batch after the last step.
fn evaluate_ends(
    model: &Ensemble,
    ends: &[Theta],
    steps: usize,
    elapsed_s: f64,
    observers: &mut [&mut dyn Observer],
) -> Result<EnsemblePrediction, OptimizeError> {
    let s = ends.len();
    let pred = model.predict(ends).map_err(|e| OptimizeError::Objective {
        objective: "surrogate".into(),
        message: e.to_string(),
    })?;
    let xs: Vec<Vec<f64>> = ends.iter().map(|t| t.to_vec()).collect();
    let evals: Vec<Evaluation> = (0..s)
        .map(|j| {
            Evaluation::new(pred.total[j])
                .with_part("fc", pred.fc[j])
                .with_part("ks", pred.ks[j])
                .with_part("p_valid", pred.p_valid[j])
        })
        .collect();
    let ctx = BatchContext {
        restart: 0,
        generation: steps,
        generation_in_restart: steps,
        evaluations_before: steps * s,
        elapsed_s,
    };
    for o in observers.iter_mut() {
        o.on_evaluations(&ctx, &xs, &evals)?;
    }
    Ok(pred)
}

/// Runs Adam from every start (as one batch) on `model`, evaluated on `device.autodiff()`.
/// Starts must be feasible (after their projection into `guard`, when given); observers get
/// one report per step (generation = step).
#[allow(clippy::too_many_arguments)]
pub fn descend(
    model: &Ensemble,
    myelin: &[f64],
    gradient: &[f64],
    starts: &[Theta],
    config: &GradientConfig,
    guard: Option<SupportGuard<'_>>,
    device: &Device,
    observers: &mut [&mut dyn Observer],
) -> Result<Vec<Descended>, OptimizeError> {
    let bounds = Bounds::default();
    let starts: Vec<Theta> = match guard {
        Some(g) => starts.iter().map(|t| g.project(t)).collect(),
        None => starts.to_vec(),
    };
    let starts = &starts[..];
    check_starts(starts, config, myelin, gradient, &bounds)?;
    let map = RegionalMap::new(myelin, gradient, &bounds);
    let landscape = Landscape::new(model, &map, config.penalty, device);
    let scales = coordinate_scales(myelin, gradient, &bounds);
    let s = starts.len();
    let mut x: Vec<f64> = starts.iter().flatten().copied().collect();
    let mut adam = Adam::new(x.len(), config.learning_rate, config.beta1, config.beta2);
    let t0 = std::time::Instant::now();
    let mut best_so_far = f64::INFINITY;
    let mut start_total = Vec::new();
    for step in 1..=config.steps {
        let (totals, g) = landscape.totals_and_gradient(&x, s)?;
        if step == 1 {
            start_total = totals.clone();
        }
        adam.step(&mut x, &g, &scales)?;
        if let Some(guard) = guard {
            project_into(&mut x, guard);
        }
        best_so_far = best_so_far.min(totals.iter().copied().fold(f64::INFINITY, f64::min));
        let report = step_report(
            step,
            &x,
            &totals,
            best_so_far,
            config.learning_rate,
            t0.elapsed().as_secs_f64(),
        );
        for o in observers.iter_mut() {
            o.on_generation(&report)?;
        }
    }
    let feasible = |t: &Theta| {
        violation(t, myelin, gradient, &bounds) == 0.0 && guard.is_none_or(|g| g.contains(t))
    };
    let ends: Vec<Theta> = (0..s)
        .map(|j| {
            let end: Theta = std::array::from_fn(|d| x[j * N_THETA + d]);
            project(&starts[j], end, config.projection_steps, &feasible)
        })
        .collect();
    let pred = evaluate_ends(
        model,
        &ends,
        config.steps,
        t0.elapsed().as_secs_f64(),
        observers,
    )?;
    Ok((0..s)
        .map(|j| Descended {
            start: starts[j],
            theta: ends[j],
            fc: pred.fc[j],
            ks: pred.ks[j],
            total: pred.total[j],
            p_valid: pred.p_valid[j],
            start_total: start_total.get(j).copied().unwrap_or(f64::NAN),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use surrogate::design::{Design, DesignSpace};
    use surrogate::models::{ModelConfig, ModelKind};
    use surrogate::samples::RowSource;
    use surrogate::train::TrainConfig;
    use surrogate::Samples;

    fn maps() -> (Vec<f64>, Vec<f64>) {
        let m: Vec<f64> = (0..20)
            .map(|i| 1.2 + 0.4 * ((i * 7 % 20) as f64 / 19.0))
            .collect();
        let g: Vec<f64> = (0..20)
            .map(|i| -0.5 + ((i * 3 % 20) as f64 / 19.0))
            .collect();
        (m, g)
    }

    /// A surrogate of a known bowl whose minimum (w0 = 0.8, I0 = 0.3, G = 8) lies inside the
    /// feasible region.
    fn bowl_surrogate() -> (Ensemble, DesignSpace) {
        let (m, g) = maps();
        let space = DesignSpace::new(&m, &g, Bounds::default()).unwrap();
        let source = RowSource::test("bowl");
        let mut s = Samples::default();
        for k in 0..600u64 {
            let t = space.draw(&Design::Uniform, 3, k);
            let fc = (t[0] - 0.8).powi(2) + 4.0 * (t[3] - 0.3).powi(2);
            let ks = 0.01 * (t[6] - 8.0).powi(2);
            s.push(k, t, (fc, ks), true, &source);
        }
        let train = TrainConfig {
            epochs: 200,
            ..Default::default()
        };
        let (e, _) = Ensemble::fit(
            &s,
            None,
            &ModelConfig::of_kind(ModelKind::Quadratic),
            &train,
            &[1],
            &Device::flex(),
            &mut |_, _| {},
        )
        .unwrap();
        (e, space)
    }

    /// Eight feasible starts of the bowl tests.
    fn bowl_starts(space: &DesignSpace) -> Vec<Theta> {
        (0..8)
            .map(|k| space.draw(&Design::Uniform, 99, k))
            .collect()
    }

    /// 150 Adam steps at step size 0.02 from `starts` on `model`, with `guard`.
    fn descend_bowl(
        model: &Ensemble,
        starts: &[Theta],
        guard: Option<SupportGuard<'_>>,
    ) -> Result<Vec<Descended>, OptimizeError> {
        let (m, g) = maps();
        let cfg = GradientConfig {
            steps: 150,
            learning_rate: 0.02,
            ..Default::default()
        };
        descend(model, &m, &g, starts, &cfg, guard, &Device::flex(), &mut [])
    }

    #[test]
    fn descent_lowers_the_prediction_and_ends_feasible() {
        let (model, space) = bowl_surrogate();
        let starts = bowl_starts(&space);
        let ends = descend_bowl(&model, &starts, None).unwrap();
        for d in &ends {
            assert!(
                space.is_feasible(&d.theta),
                "end point infeasible: {:?}",
                d.theta
            );
            assert!(
                d.total < d.start_total - 1e-3,
                "no decrease: {} → {}",
                d.start_total,
                d.total
            );
        }
        let best_end = ends.iter().map(|d| d.total).fold(f64::INFINITY, f64::min);
        let best_start = ends
            .iter()
            .map(|d| d.start_total)
            .fold(f64::INFINITY, f64::min);
        assert!(
            best_end < 0.5 * best_start,
            "best start {best_start}, best end {best_end}"
        );
        // An infeasible start is refused.
        let mut bad = starts[0];
        bad[6] = 20.0;
        assert!(descend_bowl(&model, &[bad], None).is_err());
    }

    #[test]
    fn guarded_descent_stays_within_the_radius_of_the_training_rows() {
        use crate::support::{DataSupport, SupportGuard};
        let (model, space) = bowl_surrogate();
        let starts = bowl_starts(&space);
        // The support: the starts themselves, so the bowl's minimum lies outside it.
        let support = DataSupport::new(&starts, &model.input_support().unwrap()).unwrap();
        let guard = SupportGuard {
            support: &support,
            radius: 0.2,
        };
        let free = descend_bowl(&model, &starts, None).unwrap();
        assert!(
            free.iter().any(|d| !guard.contains(&d.theta)),
            "the unguarded descent never left the radius, so this test shows nothing"
        );
        let guarded = descend_bowl(&model, &starts, Some(guard)).unwrap();
        for d in &guarded {
            assert!(guard.contains(&d.theta), "left the support: {:?}", d.theta);
            assert!(space.is_feasible(&d.theta), "infeasible: {:?}", d.theta);
            assert!(
                d.total < d.start_total,
                "no decrease within the radius: {} → {}",
                d.start_total,
                d.total
            );
        }
        // Confined, it ends above the free descent's best.
        let best = |v: &[Descended]| v.iter().map(|d| d.total).fold(f64::INFINITY, f64::min);
        assert!(
            best(&guarded) > best(&free),
            "{} vs {}",
            best(&guarded),
            best(&free)
        );
    }

    #[test]
    fn support_guard_marks_theta_outside_the_training_data() {
        use crate::surrogate_objective::{SurrogateCostConfig, SurrogateObjective};
        use optimize::objective::Objective;
        let (model, _) = bowl_surrogate();
        let (m, g) = maps();
        let s = model.input_support().unwrap();
        let centre: Vec<f64> = s.mean.clone();
        let mut far = centre.clone();
        far[6] += 4.0 * s.std[6];
        let mut near = centre.clone();
        near[6] += 2.5 * s.std[6];
        let guarded = SurrogateCostConfig {
            max_z: Some(3.0),
            ..Default::default()
        };
        let mut obj = SurrogateObjective::new(&model, &m, &g, guarded);
        let e = obj
            .cost(&[centre.clone(), near.clone(), far.clone()])
            .unwrap();
        assert!(e[0].valid && e[1].valid, "{e:?}");
        assert!(!e[2].valid && e[2].cost == guarded.invalid_cost, "{e:?}");
        // Without the guard the same point is just a prediction.
        let mut plain = SurrogateObjective::new(&model, &m, &g, SurrogateCostConfig::default());
        let e = plain.cost(&[far]).unwrap();
        assert!(e[0].valid && e[0].cost < guarded.invalid_cost, "{e:?}");
    }

    #[test]
    fn data_support_guard_marks_theta_between_training_rows() {
        use crate::support::DataSupport;
        use crate::surrogate_objective::{SurrogateCostConfig, SurrogateObjective};
        use optimize::objective::Objective;
        let (model, _) = bowl_surrogate();
        let (m, g) = maps();
        let s = model.input_support().unwrap();
        let row = |shift: f64| -> Theta {
            std::array::from_fn(|d| s.mean[d] + if d == 6 { shift * s.std[6] } else { 0.0 })
        };
        // Two training rows 2 sd apart in G; the midpoint is inside any box guard but 1 sd from
        // both rows.
        let support = DataSupport::new(&[row(-1.0), row(1.0)], &s).unwrap();
        let radius = 0.1;
        let guarded = SurrogateCostConfig {
            support_radius: Some(radius),
            ..Default::default()
        };
        let mut obj = SurrogateObjective::new(&model, &m, &g, guarded).with_support(Some(&support));
        let on_row = row(1.0).to_vec();
        let close = row(1.0 - 0.05).to_vec();
        let middle = row(0.0).to_vec();
        let e = obj
            .cost(&[on_row.clone(), close.clone(), middle.clone()])
            .unwrap();
        assert!(e[0].valid && e[1].valid, "{e:?}");
        let beyond = 1.0 - radius;
        assert!(!e[2].valid, "{e:?}");
        assert!(
            (e[2].cost - (guarded.invalid_cost + beyond)).abs() < 1e-9,
            "{e:?}"
        );
        // Inside the radius the cost is the plain prediction.
        let mut plain = SurrogateObjective::new(&model, &m, &g, SurrogateCostConfig::default());
        let p = plain.cost(&[on_row, close, middle]).unwrap();
        assert_eq!(p[0].cost, e[0].cost);
        assert_eq!(p[1].cost, e[1].cost);
        assert!(p[2].valid && p[2].cost < guarded.invalid_cost);
        // Without the rows the radius does nothing (the fit refuses that combination earlier).
        let mut bare = SurrogateObjective::new(&model, &m, &g, guarded);
        assert!(bare.cost(&[row(0.0).to_vec()]).unwrap()[0].valid);
    }
}
