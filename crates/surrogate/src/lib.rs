//! Parameter→cost datasets of the pMFM and neural surrogates that predict a parameter set's
//! costs without solving the ODE (`pmfm-model.md`, "Surrogate").
//!
//! * [`anchors`]: each training group's best simulated θ, kept with a trained surrogate (where
//!   a fit of an unseen group can start).
//! * [`samples`]: the in-memory table of simulated parameter sets ([`Samples`]).
//! * [`table`]: its Parquet form (polars): schema, validation, reading parts, merging (the
//!   part files, atomic writes and coverage checks are the `jobs` crate's).
//! * [`design`]: how parameter sets are drawn (uniform, Latin hypercube, Gaussian clouds), all
//!   restricted to the feasible region.
//! * [`groups`]: subject groups (SC, empirical FC/FCD, maps) stored once per dataset, checked
//!   to share a parcellation, and summarised into the descriptor the group-conditioned MLP
//!   takes as input, or flattened into the raw inputs of the group region-token model.
//! * [`models`]: the surrogate families (MLP, quadratic baseline, region-token transformer,
//!   group-conditioned MLP, group region-token model),
//!   [`train`] their seeded training loop, [`ensemble`] several seeds with a predictive spread,
//!   [`persist`] save/load with a JSON sidecar.
//! * [`evaluator`]: scores θ with the simulator into [`Samples`] rows; [`normalise`] the
//!   input and target scalings; [`error`] the crate's error type.
//! * [`evaluation`]: reading several tables with their groups, the random or held-out-group
//!   train/test split, held-out metrics and the per-family metrics table (`train-surrogate`).
//! * [`transfer`]: predictions row by row with each row's group, held-out group splits and
//!   per-group metrics.
//! * [`assumptions`]: the prototype's two assumptions measured: how much simulated FC/FCD and
//!   costs vary across groups versus across θ and across noise duplicates.

pub mod anchors;
pub mod assumptions;
pub mod design;
pub mod ensemble;
pub mod error;
pub mod evaluation;
pub mod evaluator;
pub mod groups;
pub mod models;
pub mod normalise;
pub mod persist;
pub mod samples;
pub mod table;
pub mod train;
pub mod transfer;

pub use error::SurrogateError;
pub use samples::{Connectome, Samples};
