//! The 10-coefficient parameterisation θ of the pMFM and its mapping to regional parameters.
//!
//! θ = `[w0, w_myelin, w_grad, I0, I_myelin, I_grad, G, s0, s_myelin, s_grad]`; per region i with
//! myelin m_i and RSFC gradient g_i: `w_i = w0 + w_myelin·m_i + w_grad·g_i`, likewise I and σ,
//! and one global coupling G (`pmfm-model.md`, "Parameters").

use serde::{Deserialize, Serialize};

/// Number of free coefficients in θ.
pub const N_THETA: usize = 10;

/// Names of the θ coefficients, in order.
pub const THETA_NAMES: [&str; N_THETA] = [
    "w0", "w_myelin", "w_grad", "i0", "i_myelin", "i_grad", "g", "s0", "s_myelin", "s_grad",
];

/// The 10 pMFM coefficients (dimensionless except σ, which is in the units of S per √s).
pub type Theta = [f64; N_THETA];

/// Inclusive bounds on the derived regional values (search space of the reference CMA-ES).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    /// Recurrent strength w.
    pub w: (f64, f64),
    /// External input I (nA).
    pub i: (f64, f64),
    /// Global coupling G.
    pub g: (f64, f64),
    /// Noise amplitude σ.
    pub sigma: (f64, f64),
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            w: (0.0, 1.0),
            i: (0.0, 0.5),
            g: (1.0, 10.0),
            sigma: (0.0005, 0.01),
        }
    }
}

/// Regional parameters of one parameter set: each vector has one value per region.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionalParams {
    /// Recurrent strength w_i, shape [regions].
    pub w: Vec<f64>,
    /// External input I_i (nA), shape [regions].
    pub i: Vec<f64>,
    /// Noise amplitude σ_i, shape [regions].
    pub sigma: Vec<f64>,
    /// Global coupling G.
    pub g: f64,
}

/// Which derived value of a parameter set leaves its bounds, for reporting infeasibility.
#[derive(Debug, Clone, PartialEq)]
pub struct Infeasibility {
    /// `"w"`, `"I"`, `"sigma"` or `"G"`.
    pub quantity: &'static str,
    /// Region index (None for G).
    pub region: Option<usize>,
    /// The offending value.
    pub value: f64,
}

impl RegionalParams {
    /// Derives regional parameters from θ and the myelin and gradient maps (each [regions]).
    pub fn from_theta(theta: &Theta, myelin: &[f64], gradient: &[f64]) -> Self {
        debug_assert_eq!(myelin.len(), gradient.len());
        let lin = |c0: f64, cm: f64, cg: f64| -> Vec<f64> {
            myelin
                .iter()
                .zip(gradient)
                .map(|(m, g)| c0 + cm * m + cg * g)
                .collect()
        };
        Self {
            w: lin(theta[0], theta[1], theta[2]),
            i: lin(theta[3], theta[4], theta[5]),
            g: theta[6],
            sigma: lin(theta[7], theta[8], theta[9]),
        }
    }

    /// Number of regions.
    pub fn n_regions(&self) -> usize {
        self.w.len()
    }

    /// The first derived value outside `bounds` (non-finite values are infeasible too), if any.
    pub fn infeasibility(&self, bounds: &Bounds) -> Option<Infeasibility> {
        let outside = |v: f64, (lo, hi): (f64, f64)| !(v >= lo && v <= hi);
        if outside(self.g, bounds.g) {
            return Some(Infeasibility {
                quantity: "G",
                region: None,
                value: self.g,
            });
        }
        let groups: [(&'static str, &Vec<f64>, (f64, f64)); 3] = [
            ("w", &self.w, bounds.w),
            ("I", &self.i, bounds.i),
            ("sigma", &self.sigma, bounds.sigma),
        ];
        for (name, values, range) in groups {
            if let Some((r, &v)) = values.iter().enumerate().find(|(_, &v)| outside(v, range)) {
                return Some(Infeasibility {
                    quantity: name,
                    region: Some(r),
                    value: v,
                });
            }
        }
        None
    }

    /// True when every derived value lies inside `bounds`.
    pub fn is_feasible(&self, bounds: &Bounds) -> bool {
        self.infeasibility(bounds).is_none()
    }
}

/// True when θ maps to regional values inside `bounds` for the given maps.
pub fn is_feasible(theta: &Theta, myelin: &[f64], gradient: &[f64], bounds: &Bounds) -> bool {
    RegionalParams::from_theta(theta, myelin, gradient).is_feasible(bounds)
}

/// Least-squares fit of regional values y_i ≈ c0 + cm·m_i + cg·g_i (normal equations, 3×3).
/// Returns `[c0, cm, cg]`; used to turn a regional draw into θ as the reference start does.
pub fn fit_linear_map(values: &[f64], myelin: &[f64], gradient: &[f64]) -> [f64; 3] {
    let mut ata = [[0.0f64; 3]; 3];
    let mut aty = [0.0f64; 3];
    for ((&y, &m), &g) in values.iter().zip(myelin).zip(gradient) {
        let row = [1.0, m, g];
        for a in 0..3 {
            aty[a] += row[a] * y;
            for b in 0..3 {
                ata[a][b] += row[a] * row[b];
            }
        }
    }
    solve3(ata, aty)
}

/// Solves a 3×3 linear system by Gaussian elimination with partial pivoting.
fn solve3(mut a: [[f64; 3]; 3], mut b: [f64; 3]) -> [f64; 3] {
    for col in 0..3 {
        let pivot = (col..3)
            .max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))
            .unwrap_or(col);
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..3 {
            let f = a[row][col] / a[col][col];
            for k in col..3 {
                a[row][k] -= f * a[col][k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0; 3];
    for row in (0..3).rev() {
        let s: f64 = (row + 1..3).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    const MYELIN: [f64; 4] = [1.0, 1.2, 1.4, 1.6];
    const GRAD: [f64; 4] = [-2.0, 0.5, 3.0, -1.0];

    #[test]
    fn regional_mapping_is_affine_in_the_maps() {
        let theta = [
            0.5, 0.1, 0.01, 0.3, -0.05, 0.002, 5.0, 0.005, 0.0001, -0.0002,
        ];
        let p = RegionalParams::from_theta(&theta, &MYELIN, &GRAD);
        for r in 0..4 {
            assert!((p.w[r] - (0.5 + 0.1 * MYELIN[r] + 0.01 * GRAD[r])).abs() < 1e-15);
            assert!((p.i[r] - (0.3 - 0.05 * MYELIN[r] + 0.002 * GRAD[r])).abs() < 1e-15);
            assert!((p.sigma[r] - (0.005 + 0.0001 * MYELIN[r] - 0.0002 * GRAD[r])).abs() < 1e-15);
        }
        assert_eq!(p.g, 5.0);
    }

    #[test]
    fn feasibility_checks_every_derived_value() {
        let ok = [0.5, 0.0, 0.0, 0.3, 0.0, 0.0, 5.0, 0.005, 0.0, 0.0];
        assert!(is_feasible(&ok, &MYELIN, &GRAD, &Bounds::default()));
        // w of region 2 = 0.5 + 0.2·3 = 1.1 > 1
        let mut bad = ok;
        bad[2] = 0.2;
        let inf =
            RegionalParams::from_theta(&bad, &MYELIN, &GRAD).infeasibility(&Bounds::default());
        assert_eq!(inf.map(|i| (i.quantity, i.region)), Some(("w", Some(2))));
        let mut bad_g = ok;
        bad_g[6] = 0.5;
        assert!(!is_feasible(&bad_g, &MYELIN, &GRAD, &Bounds::default()));
        let mut bad_s = ok;
        bad_s[7] = 0.0004;
        assert!(!is_feasible(&bad_s, &MYELIN, &GRAD, &Bounds::default()));
        let mut nan = ok;
        nan[3] = f64::NAN;
        assert!(!is_feasible(&nan, &MYELIN, &GRAD, &Bounds::default()));
        // Bounds are inclusive.
        let edge = [1.0, 0.0, 0.0, 0.5, 0.0, 0.0, 10.0, 0.01, 0.0, 0.0];
        assert!(is_feasible(&edge, &MYELIN, &GRAD, &Bounds::default()));
    }

    #[test]
    fn linear_fit_recovers_exact_coefficients() {
        let c = [0.3, -0.07, 0.011];
        let y: Vec<f64> = MYELIN
            .iter()
            .zip(&GRAD)
            .map(|(m, g)| c[0] + c[1] * m + c[2] * g)
            .collect();
        let fit = fit_linear_map(&y, &MYELIN, &GRAD);
        for k in 0..3 {
            assert!((fit[k] - c[k]).abs() < 1e-10, "{fit:?}");
        }
    }
}
