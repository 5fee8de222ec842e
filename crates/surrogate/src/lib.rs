//! Parameter→cost datasets of the pMFM and neural surrogates that predict a parameter set's
//! costs without solving the ODE (`pmfm-model.md`, "Surrogate").
//!
//! * [`samples`]: the in-memory table of simulated parameter sets ([`Samples`]).
//! * [`table`]: its Parquet form (polars): schema, validation, atomic chunked writes, merging.
//! * [`design`]: how parameter sets are drawn (uniform, Latin hypercube, Gaussian clouds), all
//!   restricted to the feasible region.
//! * [`shard`]: deterministic `i/n` sharding of a design and resume bookkeeping.
//! * [`models`]: the surrogate families (MLP, quadratic baseline, region-token transformer),
//!   [`train`] their seeded training loop, [`ensemble`] several seeds with a predictive spread,
//!   [`persist`] save/load with a JSON sidecar.

pub mod design;
pub mod ensemble;
pub mod error;
pub mod evaluator;
pub mod json;
pub mod models;
pub mod normalise;
pub mod persist;
pub mod samples;
pub mod shard;
pub mod table;
pub mod train;

pub use error::SurrogateError;
pub use samples::{Connectome, Samples};
