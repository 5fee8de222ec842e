//! Fitting the pMFM's 10 parameters θ with the generic optimiser of `optimize`: the objectives
//! (Euler simulator, surrogate ensemble), the fitting methods and their validation, the
//! active-learning loop, the reference preset, and the run tables they write.
//!
//! * [`methods`]: the methods that `fit` and `compare-optimizers` run (Euler CMA-ES, surrogate
//!   CMA-ES, surrogate gradient descent, surrogate-active, surrogate-tuned, random, reference),
//!   each ending in the same validation by re-simulation.
//! * [`active`]: surrogate-assisted fitting with active learning (a trust-region loop in which
//!   the surrogate picks what the simulator runs next), resumable round by round.
//! * [`learner`]: what that loop learns from each round: seed ensembles trained from scratch,
//!   or a trained (group-conditioned) surrogate fine-tuned on the fitted group's simulations.
//! * [`sim_objective`]: the Euler simulator as an [`optimize::Objective`], and θ conversions.
//! * [`surrogate_objective`]: a surrogate ensemble as an [`optimize::Objective`].
//! * [`support`]: the θ of a surrogate's training rows, a query's distance to the nearest, and
//!   the projection back within a radius of them (the data-support guard of the searches on the
//!   surrogate).
//! * [`gradient`]: multi-start Adam on θ through a surrogate (Burn autodiff), with a smooth
//!   feasibility penalty, an optional data-support guard, and a final projection into the
//!   feasible region.
//! * [`kong2021`]: the reference fit's CMA-ES settings as a preset of [`optimize::CmaConfig`].
//! * [`trajectory`]: the CMA-ES-trajectory design of a parameter→cost dataset (simulator-driven
//!   runs recorded generation by generation, replayed on resume).
//! * [`run_table`]: the tidy run table (one row per evaluated θ, Parquet).
//! * [`compare`]: the comparison table of several runs, from their run tables alone.
//! * [`checkpoints`]: best-so-far checkpoints of a finished search, validated afterwards with
//!   the noise of every method's validation (and what a surrogate cost to build).
//! * [`time_to_quality`]: validated cost against cumulative wall time and simulations per
//!   method, and the speedup at equal validated cost against Euler-CMA-ES.
//! * [`inputs`]: what a simulation depends on besides θ (schedule, FCD window, data
//!   fingerprint), bound into resumable runs.

pub mod active;
pub mod checkpoints;
pub mod compare;
pub mod gradient;
pub mod inputs;
pub mod kong2021;
pub mod learner;
pub mod methods;
pub mod run_table;
pub mod sim_objective;
pub mod support;
pub mod surrogate_objective;
pub mod time_to_quality;
pub mod trajectory;

pub use optimize::OptimizeError;
