//! The data support of a trained surrogate: the θ of the rows it was trained on, and how far a
//! query θ lies from the nearest of them.
//!
//! A search on a surrogate goes wherever the surrogate predicts low cost, and the lowest
//! prediction of a model that extrapolates is often where it is most wrong: on kong2021 test
//! the group-conditioned predictor put a phantom minimum *between* its training trajectories
//! (predicted 0.48, validated 1.33–1.53), inside any per-coordinate box around the training
//! mean (README, issue 18). Distance to the nearest training row catches that where a box
//! cannot: [`SurrogateObjective`](crate::surrogate_objective::SurrogateObjective) marks θ
//! farther than a radius from every training row as invalid.
//!
//! Distances are the largest gap over the 10 coordinates of θ, each scaled by the training θ's
//! standard deviation: θ lies within radius R of a row when *every* coordinate is within R
//! training sd of it. (A root-mean-square distance let a search slip 3× the radius out along
//! one coordinate, which on kong2021 is where the cost wall lies; README, issue 18.)

use pmfm_sim::params::{Theta, N_THETA};
use surrogate::normalise::Standardiser;
use surrogate::samples::Samples;

use optimize::OptimizeError;

/// Training θ, standardised, for nearest-row distances.
#[derive(Debug, Clone)]
pub struct DataSupport {
    /// Per-coordinate centre and scale, `[N_THETA]` each.
    mean: [f64; N_THETA],
    scale: [f64; N_THETA],
    /// The rows, standardised and sorted by their first coordinate: `[rows × N_THETA]`,
    /// row-major.
    rows: Vec<f64>,
    /// The rows' first standardised coordinate, ascending `[rows]`: the key of the sweep that
    /// finds a nearest row without visiting every row.
    keys: Vec<f64>,
}

impl DataSupport {
    /// The support of `theta` under `standardiser` (the surrogate's own, `[N_THETA]` or longer:
    /// only the θ part is read). Fails on no rows, a standardiser shorter than θ, or a scale
    /// that is not positive and finite.
    pub fn new(theta: &[Theta], standardiser: &Standardiser) -> Result<Self, OptimizeError> {
        if theta.is_empty() {
            return Err(OptimizeError::config(
                "support_table",
                "no valid rows of the surrogate's training groups",
            ));
        }
        if standardiser.mean.len() < N_THETA || standardiser.std.len() < N_THETA {
            return Err(OptimizeError::config(
                "support_table",
                format!(
                    "the surrogate's θ standardiser has {} entries, θ has {N_THETA}",
                    standardiser.mean.len().min(standardiser.std.len())
                ),
            ));
        }
        let mean: [f64; N_THETA] = std::array::from_fn(|d| standardiser.mean[d]);
        let scale: [f64; N_THETA] = std::array::from_fn(|d| standardiser.std[d]);
        if let Some(d) = (0..N_THETA).find(|&d| !(scale[d].is_finite() && scale[d] > 0.0)) {
            return Err(OptimizeError::config(
                "support_table",
                format!("the training sd of θ[{d}] is {}, not positive", scale[d]),
            ));
        }
        let mut s = Self {
            mean,
            scale,
            rows: Vec::with_capacity(theta.len() * N_THETA),
            keys: Vec::with_capacity(theta.len()),
        };
        let mut z: Vec<[f64; N_THETA]> = theta.iter().map(|t| s.standardise(t)).collect();
        z.sort_by(|a, b| a[0].total_cmp(&b[0]));
        for row in &z {
            s.rows.extend_from_slice(row);
            s.keys.push(row[0]);
        }
        Ok(s)
    }

    /// The support of the valid rows of `samples` whose group (`dataset`) is one of `groups`
    /// (the surrogate's training groups: rows of any other group, e.g. the held-out group the
    /// fit is for, are left out). Fails when no row is left.
    pub fn of_groups(
        samples: &Samples,
        groups: &[String],
        standardiser: &Standardiser,
    ) -> Result<Self, OptimizeError> {
        let theta: Vec<Theta> = (0..samples.len())
            .filter(|&r| samples.valid[r] && groups.iter().any(|g| *g == samples.dataset[r]))
            .map(|r| samples.theta[r])
            .collect();
        Self::new(&theta, standardiser)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len() / N_THETA
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn standardise(&self, t: &Theta) -> [f64; N_THETA] {
        std::array::from_fn(|d| (t[d] - self.mean[d]) / self.scale[d])
    }

    fn unstandardise(&self, z: &[f64; N_THETA]) -> Theta {
        std::array::from_fn(|d| self.mean[d] + z[d] * self.scale[d])
    }

    /// The nearest row to `z` and its standardised distance (largest coordinate gap; `skip`: a
    /// row index left out, for leave-one-out spacing). `(usize::MAX, ∞)` without rows.
    ///
    /// A sweep outwards from `z`'s place among the sorted first coordinates: a row's gap is at
    /// least its first-coordinate gap, so the sweep stops on each side once that alone reaches
    /// the best gap found. Exact; it visits the rows in a slab of twice the distance.
    fn nearest_row(&self, z: &[f64; N_THETA], skip: Option<usize>) -> (usize, f64) {
        let n = self.keys.len();
        let (mut best, mut at) = (f64::INFINITY, usize::MAX);
        let visit = |i: usize, best: &mut f64, at: &mut usize| {
            if skip == Some(i) {
                return;
            }
            let mut gap = 0.0_f64;
            for (a, b) in self.rows[i * N_THETA..(i + 1) * N_THETA].iter().zip(z) {
                gap = gap.max((a - b).abs());
                if gap >= *best {
                    return;
                }
            }
            *best = gap;
            *at = i;
        };
        let start = self.keys.partition_point(|&k| k < z[0]);
        let (mut below, mut above) = (start, start);
        loop {
            let down = if below > 0 {
                z[0] - self.keys[below - 1]
            } else {
                f64::INFINITY
            };
            let up = if above < n {
                self.keys[above] - z[0]
            } else {
                f64::INFINITY
            };
            if !(down.min(up) < best) {
                break;
            }
            if down <= up {
                below -= 1;
                visit(below, &mut best, &mut at);
            } else {
                visit(above, &mut best, &mut at);
                above += 1;
            }
        }
        (at, best)
    }

    /// Standardised distance (largest coordinate gap) from `z` to the nearest row.
    fn nearest(&self, z: &[f64; N_THETA], skip: Option<usize>) -> f64 {
        self.nearest_row(z, skip).1
    }

    /// θ moved inside the support: each coordinate clamped to within `radius` training sd of
    /// the row nearest to θ, so the result lies within `radius` of that row. θ already within
    /// `radius` of some row comes back unchanged (up to rounding of the standardisation).
    pub fn project(&self, t: &Theta, radius: f64) -> Theta {
        let z = self.standardise(t);
        let (at, gap) = self.nearest_row(&z, None);
        if gap <= radius || at == usize::MAX {
            return *t;
        }
        let row = &self.rows[at * N_THETA..(at + 1) * N_THETA];
        let moved: [f64; N_THETA] =
            std::array::from_fn(|d| z[d].clamp(row[d] - radius, row[d] + radius));
        self.unstandardise(&moved)
    }

    /// Standardised distance from θ to the nearest training row: the smallest, over rows, of
    /// the largest coordinate gap in training sd.
    pub fn distance(&self, t: &Theta) -> f64 {
        self.nearest(&self.standardise(t), None)
    }

    /// Quantiles `qs` (in [0, 1]) of the distance from a row to its nearest other row, over up
    /// to `max_rows` rows spread evenly through the support: the spacing of the data, for
    /// choosing a radius. NaN with fewer than two rows.
    pub fn spacing_quantiles(&self, qs: &[f64], max_rows: usize) -> Vec<f64> {
        let n = self.len();
        if n < 2 || max_rows == 0 {
            return vec![f64::NAN; qs.len()];
        }
        let step = n.div_ceil(max_rows).max(1);
        let mut d: Vec<f64> = (0..n)
            .step_by(step)
            .map(|i| {
                let z: [f64; N_THETA] = std::array::from_fn(|k| self.rows[i * N_THETA + k]);
                self.nearest(&z, Some(i))
            })
            .collect();
        d.sort_by(f64::total_cmp);
        qs.iter()
            .map(|q| d[((q.clamp(0.0, 1.0) * (d.len() - 1) as f64).round()) as usize])
            .collect()
    }
}

/// A data-support guard for searches that move θ themselves (gradient descent): the
/// surrogate's training rows and the radius, in training sd, a point may lie from the nearest.
#[derive(Debug, Clone, Copy)]
pub struct SupportGuard<'a> {
    pub support: &'a DataSupport,
    pub radius: f64,
}

impl SupportGuard<'_> {
    /// θ moved inside the radius ([`DataSupport::project`]).
    pub fn project(&self, t: &Theta) -> Theta {
        self.support.project(t, self.radius)
    }

    /// Whether θ lies within the radius, allowing the rounding of a projection (one part in
    /// 10⁹ of the radius).
    pub fn contains(&self, t: &Theta) -> bool {
        self.support.distance(t) <= self.radius * (1.0 + 1e-9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use surrogate::samples::RowSource;

    fn unit() -> Standardiser {
        Standardiser {
            mean: vec![0.0; N_THETA],
            std: vec![1.0; N_THETA],
        }
    }

    #[test]
    fn distance_is_the_largest_scaled_gap_to_the_nearest_row() {
        let a = [0.0; N_THETA];
        let mut b = [0.0; N_THETA];
        b[0] = 10.0;
        let mut s = unit();
        s.std[1] = 2.0;
        let sup = DataSupport::new(&[a, b], &s).unwrap();
        // Closest to a: a gap of 4 in θ[1], whose sd is 2 → z gap 2; and 1 in θ[2] → the
        // largest, 2.
        let mut t = [0.0; N_THETA];
        t[1] = 4.0;
        t[2] = 1.0;
        assert!((sup.distance(&t) - 2.0).abs() < 1e-12);
        // Closest to b: gap 1 in θ[0] only.
        let mut u = b;
        u[0] = 9.0;
        assert!((sup.distance(&u) - 1.0).abs() < 1e-12);
        // The nearest row is the one with the smaller largest gap, not the smaller sum: c is
        // 0.6 off in every coordinate (largest 0.6), a is 1.5 off in one (largest 1.5).
        let c = [10.0; N_THETA];
        let sup3 = DataSupport::new(&[a, c], &unit()).unwrap();
        let mut v = [10.6; N_THETA];
        v[0] = 9.4;
        assert!((sup3.distance(&v) - 0.6).abs() < 1e-12);
        let mut w = [0.0; N_THETA];
        w[5] = 1.5;
        assert!((sup3.distance(&w) - 1.5).abs() < 1e-12);
        // On a row: 0.
        assert_eq!(sup.distance(&b), 0.0);
        // A scaled shift of every coordinate by the same z: that z.
        let mut s2 = unit();
        s2.mean = vec![5.0; N_THETA];
        s2.std = vec![0.5; N_THETA];
        let one = DataSupport::new(&[[5.0; N_THETA]], &s2).unwrap();
        assert!((one.distance(&[5.25; N_THETA]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn spacing_is_leave_one_out() {
        // Rows on a line 0.5 apart in θ[0] only: every nearest other row is 0.5 away.
        let rows: Vec<Theta> = (0..20)
            .map(|i| {
                let mut t = [0.0; N_THETA];
                t[0] = 0.5 * i as f64;
                t
            })
            .collect();
        let sup = DataSupport::new(&rows, &unit()).unwrap();
        let q = sup.spacing_quantiles(&[0.0, 0.5, 1.0], 100);
        for v in q {
            assert!((v - 0.5).abs() < 1e-12, "{v}");
        }
        // Subsampled rows still measure against every row.
        let q = sup.spacing_quantiles(&[0.5], 3);
        assert!((q[0] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn only_valid_rows_of_the_named_groups_count() {
        let mut s = Samples::default();
        let mut far = [0.0; N_THETA];
        far[0] = 100.0;
        s.push(0, [0.0; N_THETA], (0.5, 0.1), true, &RowSource::test("a"));
        s.push(1, far, (0.5, 0.1), true, &RowSource::test("held-out"));
        s.push(2, far, (10.0, 10.0), false, &RowSource::test("a"));
        let sup = DataSupport::of_groups(&s, &["a".into()], &unit()).unwrap();
        assert_eq!(sup.len(), 1);
        assert!((sup.distance(&far) - 100.0).abs() < 1e-9);
        let e = DataSupport::of_groups(&s, &["b".into()], &unit()).unwrap_err();
        assert!(e.to_string().contains("support_table"), "{e}");
    }

    #[test]
    fn a_degenerate_scale_is_an_error_naming_the_coordinate() {
        let mut s = unit();
        s.std[3] = 0.0;
        let e = DataSupport::new(&[[0.0; N_THETA]], &s).unwrap_err();
        assert!(e.to_string().contains("θ[3]"), "{e}");
    }

    #[test]
    fn projection_clamps_to_the_nearest_rows_box() {
        let a = [0.0; N_THETA];
        let mut b = [0.0; N_THETA];
        b[0] = 10.0;
        let mut s = unit();
        s.std[0] = 2.0;
        let sup = DataSupport::new(&[a, b], &s).unwrap();
        let guard = SupportGuard {
            support: &sup,
            radius: 0.5,
        };
        // Nearer b (gap 1 sd in θ[0], 0.8 sd in θ[4]): moved to b's box, θ[0] to 10 − 2·0.5,
        // θ[4] to 0.5; the coordinates already inside stay.
        let mut t = [0.0; N_THETA];
        t[0] = 8.0;
        t[4] = -0.8;
        t[6] = 0.3;
        let p = guard.project(&t);
        assert!((p[0] - 9.0).abs() < 1e-12, "{p:?}");
        assert!((p[4] + 0.5).abs() < 1e-12, "{p:?}");
        assert!((p[6] - 0.3).abs() < 1e-12, "{p:?}");
        assert!(guard.contains(&p));
        assert!(!guard.contains(&t));
        assert!((sup.distance(&p) - 0.5).abs() < 1e-12);
        // Inside the radius: unchanged.
        let mut u = b;
        u[3] = 0.2;
        assert_eq!(guard.project(&u), u);
        // The midpoint between rows is moved to one of them, not left between.
        let mut m = [0.0; N_THETA];
        m[0] = 5.0;
        assert!(guard.contains(&guard.project(&m)));
    }

    #[test]
    fn the_sorted_sweep_finds_the_same_nearest_distance_as_visiting_every_row() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let rows: Vec<Theta> = (0..500)
            .map(|_| std::array::from_fn(|_| rng.random_range(-1.0..1.0)))
            .collect();
        let sup = DataSupport::new(&rows, &unit()).unwrap();
        let brute = |t: &Theta, skip: Option<&Theta>| {
            rows.iter()
                .filter(|r| Some(*r) != skip)
                .map(|r| {
                    r.iter()
                        .zip(t)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0, f64::max)
                })
                .fold(f64::INFINITY, f64::min)
        };
        for _ in 0..200 {
            // Queries inside the cloud, beside it, and far out in the first coordinate.
            let spread = rng.random_range(0.0..3.0);
            let t: Theta = std::array::from_fn(|_| rng.random_range(-spread..spread));
            assert_eq!(sup.distance(&t), brute(&t, None), "{t:?}");
        }
        // Leave-one-out spacing: every row's nearest other row, as the brute force finds it.
        let mut loo: Vec<f64> = rows.iter().map(|r| brute(r, Some(r))).collect();
        loo.sort_by(f64::total_cmp);
        let q = sup.spacing_quantiles(&[0.0, 0.5, 1.0], rows.len());
        assert_eq!(
            q,
            vec![loo[0], loo[(0.5 * 499.0_f64).round() as usize], loo[499]]
        );
    }
}
