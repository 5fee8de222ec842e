//! Fitting the pMFM's parameters: batched objectives, solvers that see only them, and the
//! observers that record a run.
//!
//! * [`active`]: surrogate-assisted fitting with active learning (a trust-region loop in
//!   which the surrogate picks what the simulator runs next).
//! * [`objective`]: the [`Objective`] trait (a batched `cost(population)`), the [`Evaluation`]
//!   of one point, and [`Observer`]s with their [`GenerationReport`].
//! * [`cma`]: ask/tell (μ/μ_w, λ)-CMA-ES evaluating each generation as one batch, with
//!   resampling or penalised bounds, IPOP restarts, checkpoints, and the reference preset
//!   [`CmaConfig::kong2021`].
//! * [`baseline`]: the `cmaes` crate as independent baseline and per-point solver, and the
//!   comparison table of both on the standard test functions.
//! * [`trajectory`]: the CMA-ES-trajectory design of a parameter→cost dataset (simulator-driven
//!   runs recorded generation by generation, replayed on resume).
//! * [`test_functions`]: sphere, Rosenbrock, Rastrigin and ellipsoid with known optima.
//! * [`error`]: [`OptimizeError`].

pub mod active;
pub mod baseline;
pub mod cma;
pub mod compare;
pub mod error;
pub mod gradient;
pub mod methods;
pub mod objective;
pub mod run_table;
pub mod sim_objective;
pub mod surrogate_objective;
pub mod test_functions;
pub mod trajectory;

pub use cma::{
    minimize, minimize_resumable, BoundsHandling, CheckpointPolicy, CmaCheckpoint, CmaConfig,
    CmaEs, CmaResult, CmaRun, EarlyStop, Ipop, StopReason,
};
pub use error::OptimizeError;
pub use objective::{BatchContext, Evaluation, GenerationReport, Objective, Observer};
