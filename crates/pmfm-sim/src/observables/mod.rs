//! Observables of simulated BOLD: static FC, dynamic FC (FCD) and its CDF, and the costs
//! against empirical data (`pmfm-model.md`, "Observables and cost").

mod cost;
mod fc;
mod fcd;

pub use cost::{
    evaluate, fc_cost, ks_cost, pearson, upper_triangle, Cost, FcdCdf, Targets, FCD_BINS, FCD_HI,
    FCD_LO, INVALID_COST,
};
pub use fc::{fc, fc_host};
pub use fcd::{fcd, fcd_cdfs, window_fc_vectors};
