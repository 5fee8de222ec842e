//! FC cost, KS cost and total cost, with the reference's handling of failed duplicates.

use crate::simulator::Bold;
use serde::{Deserialize, Serialize};

/// Bins of the FCD histogram.
pub const FCD_BINS: usize = 10_000;
/// Lower edge of the FCD histogram.
pub const FCD_LO: f64 = -0.9999;
/// Upper edge of the FCD histogram.
pub const FCD_HI: f64 = 1.0;
/// Cost of a term with no valid duplicate (or a NaN result).
pub const INVALID_COST: f64 = 10.0;

/// Cumulative histogram of one FCD's upper triangle.
#[derive(Debug, Clone, PartialEq)]
pub struct FcdCdf {
    /// Cumulative counts per bin, length [`FCD_BINS`].
    pub counts: Vec<f64>,
    /// Number of values the FCD upper triangle has (W·(W−1)/2).
    pub expected: usize,
    /// Values not counted: NaN or outside [`FCD_LO`], [`FCD_HI`].
    pub lost: usize,
}

impl FcdCdf {
    /// Histograms `values` with bin = ⌊(x − lo)/(hi − lo)·10000⌋ capped at 9999; values outside
    /// [lo, hi] (and NaN) are not counted.
    pub fn from_values(values: impl Iterator<Item = f64>, expected: usize) -> Self {
        let mut hist = vec![0.0f64; FCD_BINS];
        let mut counted = 0usize;
        let scale = FCD_BINS as f64 / (FCD_HI - FCD_LO);
        for x in values {
            if x >= FCD_LO && x <= FCD_HI {
                let bin = (((x - FCD_LO) * scale) as usize).min(FCD_BINS - 1);
                hist[bin] += 1.0;
                counted += 1;
            }
        }
        let mut acc = 0.0;
        for h in hist.iter_mut() {
            acc += *h;
            *h = acc;
        }
        Self {
            counts: hist,
            expected,
            lost: expected.saturating_sub(counted),
        }
    }

    /// A duplicate is valid when its histogram kept every value.
    pub fn is_valid(&self) -> bool {
        self.lost == 0 && self.expected > 0
    }
}

/// Costs of one parameter set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// `1 − corr(atanh FC_sim, atanh FC_emp)` over the upper triangle.
    pub fc: f64,
    /// Largest distance between the simulated and empirical FCD CDFs (normalised to 1).
    pub ks: f64,
    /// `fc + ks`.
    pub total: f64,
    /// Duplicates that entered the FC average.
    pub valid_fc_dups: usize,
    /// Duplicates that entered the CDF average.
    pub valid_ks_dups: usize,
}

impl Cost {
    /// Both terms had at least one valid duplicate and are finite.
    pub fn is_valid(&self) -> bool {
        self.valid_fc_dups > 0
            && self.valid_ks_dups > 0
            && self.fc < INVALID_COST
            && self.ks < INVALID_COST
    }
}

/// Empirical targets in the form the costs use.
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    /// Regions.
    pub n_regions: usize,
    /// Upper triangle (i < j, row-major) of the empirical FC.
    pub fc_upper: Vec<f64>,
    /// Empirical FCD CDF, cumulative counts (length [`FCD_BINS`]).
    pub fcd_cdf: Vec<f64>,
}

impl Targets {
    /// From an empirical FC matrix (row-major [n, n]) and cumulative FCD counts.
    pub fn new(fc: &[f64], n_regions: usize, fcd_cdf: Vec<f64>) -> Self {
        Self {
            n_regions,
            fc_upper: upper_triangle(fc, n_regions),
            fcd_cdf,
        }
    }
}

/// Upper triangle (i < j) of a row-major [n, n] matrix, row by row.
pub fn upper_triangle(m: &[f64], n: usize) -> Vec<f64> {
    (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| m[i * n + j]))
        .collect()
}

/// Pearson correlation of two equally long vectors (f64 accumulation).
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let ma = a.iter().sum::<f64>() / n;
    let mb = b.iter().sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    sab / (saa * sbb).sqrt()
}

/// FC cost of one parameter set from its duplicates' FC upper triangles, with the reference's
/// rule for failed duplicates (`pmfm-model.md`, Observables): NaN entries are set to 0, and a
/// duplicate is left out of the average only when its first edge (regions 0 and 1) is then 0 —
/// what a failed, all-NaN run gives. A duplicate with NaN in a few regions stays in the average
/// with zeros on those regions' edges. With no duplicate left, or a NaN correlation, the cost is
/// [`INVALID_COST`]. Returns (cost, duplicates averaged).
pub fn fc_cost(dup_fc_upper: &[Vec<f64>], emp_fc_upper: &[f64]) -> (f64, usize) {
    let valid: Vec<Vec<f64>> = dup_fc_upper
        .iter()
        .filter(|v| v.len() == emp_fc_upper.len())
        .map(|v| {
            v.iter()
                .map(|&x| if x.is_nan() { 0.0 } else { x })
                .collect::<Vec<f64>>()
        })
        .filter(|v| v.first().is_some_and(|&first_edge| first_edge != 0.0))
        .collect();
    if valid.is_empty() {
        return (INVALID_COST, 0);
    }
    let k = valid.len() as f64;
    let sim: Vec<f64> = (0..emp_fc_upper.len())
        .map(|e| (valid.iter().map(|v| v[e]).sum::<f64>() / k).atanh())
        .collect();
    let emp: Vec<f64> = emp_fc_upper.iter().map(|x| x.atanh()).collect();
    let cost = 1.0 - pearson(&sim, &emp);
    (
        if cost.is_finite() { cost } else { INVALID_COST },
        valid.len(),
    )
}

/// KS cost of one parameter set from its duplicates' FCD CDFs: the largest absolute difference
/// between the mean valid simulated CDF and the empirical CDF, both normalised to end at 1.
/// Returns (cost, valid duplicates).
pub fn ks_cost(dup_cdfs: &[FcdCdf], emp_cdf: &[f64]) -> (f64, usize) {
    let valid: Vec<&FcdCdf> = dup_cdfs
        .iter()
        .filter(|c| c.is_valid() && c.counts.len() == emp_cdf.len())
        .collect();
    let emp_total = emp_cdf.last().copied().unwrap_or(0.0);
    if valid.is_empty() || !(emp_total > 0.0) {
        return (INVALID_COST, 0);
    }
    let k = valid.len() as f64;
    let mut worst = 0.0f64;
    for (bin, &e) in emp_cdf.iter().enumerate() {
        let sim = valid
            .iter()
            .map(|c| c.counts[bin] / c.expected as f64)
            .sum::<f64>()
            / k;
        worst = worst.max((sim - e / emp_total).abs());
    }
    (worst, valid.len())
}

/// Costs of every parameter set of a simulated batch against `targets`.
pub fn evaluate(bold: &Bold, targets: &Targets, fcd_window: usize) -> Vec<Cost> {
    let n = targets.n_regions;
    let fcs: Vec<Vec<f64>> = super::fc_host(bold.signal.clone())
        .iter()
        .map(|m| upper_triangle(m, n))
        .collect();
    let cdfs = super::fcd_cdfs(bold.signal.clone(), fcd_window);
    (0..bold.n_sets)
        .map(|j| {
            let series: Vec<usize> = (0..bold.n_dup).map(|d| d * bold.n_sets + j).collect();
            let dup_fc: Vec<Vec<f64>> = series.iter().map(|&m| fcs[m].clone()).collect();
            let dup_cdf: Vec<FcdCdf> = series.iter().map(|&m| cdfs[m].clone()).collect();
            let (fc, valid_fc_dups) = fc_cost(&dup_fc, &targets.fc_upper);
            let (ks, valid_ks_dups) = ks_cost(&dup_cdf, &targets.fcd_cdf);
            Cost {
                fc,
                ks,
                total: fc + ks,
                valid_fc_dups,
                valid_ks_dups,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ks_of_identical_cdfs_is_zero_and_of_disjoint_is_one() {
        let values: Vec<f64> = (0..1000).map(|k| -0.5 + k as f64 / 1000.0).collect();
        let c = FcdCdf::from_values(values.iter().copied(), 1000);
        assert!(c.is_valid());
        let (ks, n) = ks_cost(&[c.clone(), c.clone()], &c.counts);
        assert_eq!((ks, n), (0.0, 2));
        // Same distribution with other totals (normalisation makes lengths irrelevant).
        let scaled: Vec<f64> = c.counts.iter().map(|x| 3.0 * x).collect();
        assert!(ks_cost(&[c.clone()], &scaled).0 < 1e-15);
        let far = FcdCdf::from_values(std::iter::repeat(0.9).take(10), 10);
        let low = FcdCdf::from_values(std::iter::repeat(-0.9).take(10), 10);
        assert!((ks_cost(&[far], &low.counts).0 - 1.0).abs() < 1e-15);
    }

    #[test]
    fn histogram_binning_follows_the_spec() {
        let c = FcdCdf::from_values([FCD_LO, 1.0, 0.0, -1.0, f64::NAN, 1.0000001].into_iter(), 6);
        assert_eq!(c.lost, 3);
        assert!(!c.is_valid());
        assert_eq!(c.counts[0], 1.0); // lo → bin 0
        let zero_bin = ((0.0 - FCD_LO) / (FCD_HI - FCD_LO) * 10000.0) as usize; // 4999
        assert_eq!(c.counts[zero_bin - 1], 1.0);
        assert_eq!(c.counts[zero_bin], 2.0);
        assert_eq!(c.counts[9998], 2.0);
        assert_eq!(c.counts[9999], 3.0); // hi capped into the last bin
    }

    #[test]
    fn fc_cost_of_the_empirical_fc_itself_is_zero() {
        let emp: Vec<f64> = (0..45)
            .map(|k| ((k * 37 % 23) as f64 / 30.0) - 0.3)
            .collect();
        let (c, n) = fc_cost(&[emp.clone()], &emp);
        assert!(c.abs() < 1e-12 && n == 1);
        // A failed (all-zero) and an all-NaN duplicate are dropped from the average.
        let (c2, n2) = fc_cost(&[vec![0.0; 45], emp.clone(), vec![f64::NAN; 45]], &emp);
        assert!(c2.abs() < 1e-12 && n2 == 1);
        // Nothing valid: 10.
        assert_eq!(fc_cost(&[vec![0.0; 45]], &emp), (INVALID_COST, 0));
        // Perfect anti-correlation costs 2.
        let neg: Vec<f64> = emp.iter().map(|x| -x).collect();
        assert!((fc_cost(&[neg], &emp).0 - 2.0).abs() < 1e-12);
    }

    /// The reference's first-edge rule: NaN entries become 0; only a duplicate whose first edge
    /// (regions 0 and 1) is then 0 leaves the average.
    #[test]
    fn fc_duplicate_with_a_few_nan_regions_stays_in_the_average_with_zeros() {
        let emp: Vec<f64> = (0..45)
            .map(|k| ((k * 37 % 23) as f64 / 30.0) - 0.3)
            .collect();
        // NaN on a few edges (not the first): kept, those edges averaged as 0.
        let mut partial = emp.clone();
        for e in [3, 10, 44] {
            partial[e] = f64::NAN;
        }
        let (c, n) = fc_cost(&[emp.clone(), partial.clone()], &emp);
        assert_eq!(n, 2);
        let mut zeroed = partial.clone();
        for e in [3, 10, 44] {
            zeroed[e] = 0.0;
        }
        let mean: Vec<f64> = emp
            .iter()
            .zip(&zeroed)
            .map(|(a, b)| (a + b) / 2.0)
            .collect();
        let expected = fc_cost(&[mean], &emp).0;
        assert!((c - expected).abs() < 1e-12, "{c} vs {expected}");
        assert!(c > 1e-6, "the zeroed edges must change the cost");
        // NaN on the first edge: that duplicate is dropped, the other one alone decides.
        let mut first = emp.clone();
        first[0] = f64::NAN;
        first[7] = f64::NAN;
        let (c, n) = fc_cost(&[emp.clone(), first.clone()], &emp);
        assert_eq!(n, 1);
        assert!(c.abs() < 1e-12);
        // Only such duplicates: nothing to average.
        assert_eq!(fc_cost(&[first], &emp), (INVALID_COST, 0));
    }

    #[test]
    fn invalid_ks_duplicates_are_dropped() {
        let good = FcdCdf::from_values([0.1, 0.2, 0.3].into_iter(), 3);
        let lost = FcdCdf::from_values([0.1, f64::NAN, 0.3].into_iter(), 3);
        let (ks, n) = ks_cost(&[lost.clone(), good.clone()], &good.counts);
        assert_eq!((ks, n), (0.0, 1));
        assert_eq!(ks_cost(&[lost], &good.counts), (INVALID_COST, 0));
    }
}
