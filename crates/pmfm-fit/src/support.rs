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
    /// The rows, standardised: `[rows × N_THETA]`, row-major.
    rows: Vec<f64>,
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
        };
        for t in theta {
            let z = s.standardise(t);
            s.rows.extend_from_slice(&z);
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

    /// Standardised distance (largest coordinate gap) from `z` to the nearest row (`skip`: a
    /// row index left out, for leave-one-out spacing).
    fn nearest(&self, z: &[f64; N_THETA], skip: Option<usize>) -> f64 {
        let mut best = f64::INFINITY;
        for (i, row) in self.rows.chunks_exact(N_THETA).enumerate() {
            if skip == Some(i) {
                continue;
            }
            let mut gap = 0.0_f64;
            for (a, b) in row.iter().zip(z) {
                gap = gap.max((a - b).abs());
                if gap >= best {
                    break;
                }
            }
            if gap < best {
                best = gap;
            }
        }
        best
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
}
