//! A generic batched optimiser: objectives that cost a whole population in one call, solvers
//! that see only them, and the observers that record a run. Nothing here knows what it
//! optimises (the pMFM fitting lives in `pmfm-fit`).
//!
//! * [`objective`]: the [`Objective`] trait (a batched `cost(population)`), the [`Evaluation`]
//!   of one point, and [`Observer`]s with their [`GenerationReport`].
//! * [`cma`]: ask/tell (μ/μ_w, λ)-CMA-ES evaluating each generation as one batch, with
//!   resampling or penalised bounds, IPOP restarts, and checkpoints (config / strategy /
//!   run + checkpoint).
//! * [`adam`]: the Adam update in per-coordinate scaled units, for gradient descent on any
//!   differentiable cost.
//! * [`baseline`]: the `cmaes` crate as independent baseline and per-point solver, and the
//!   comparison table of both on the standard test functions.
//! * [`test_functions`]: sphere, Rosenbrock, Rastrigin and ellipsoid with known optima.
//! * [`error`]: [`OptimizeError`].
//! * `incumbent` (private): the best-point bookkeeping and the median that the solvers share.

pub mod adam;
pub mod baseline;
pub mod cma;
pub mod error;
mod incumbent;
pub mod objective;
pub mod test_functions;

pub use cma::{
    minimize, minimize_resumable, BoundsHandling, CheckpointPolicy, CmaCheckpoint, CmaConfig,
    CmaEs, CmaResult, CmaRun, EarlyStop, Ipop, StopReason,
};
pub use error::OptimizeError;
pub use objective::{BatchContext, Evaluation, GenerationReport, Objective, Observer};
