//! Ask/tell (μ/μ_w, λ)-CMA-ES whose whole population is evaluated as one batch.
//!
//! The update is the standard one of Hansen, "The CMA Evolution Strategy: A Tutorial" (2016),
//! with positive recombination weights only, as the reference pMFM fit uses it:
//! * weights `w_k ∝ ln(μ + ½) − ln k`, k = 1..μ, normalised to sum 1; `μ_eff = 1/Σ w_k²`;
//! * mean `m' = Σ w_k x_{k:λ}`, `ȳ = (m' − m)/σ`;
//! * step-size path `p_σ ← (1 − c_σ) p_σ + √(c_σ(2 − c_σ)μ_eff) C^{−½} ȳ` and
//!   `σ ← σ·exp(c_σ/d_σ·(‖p_σ‖/E‖N(0, I)‖ − 1))` (cumulative step-size adaptation), then capped
//!   at `sigma_max` when set (the reference caps σ at 0.15 every generation);
//! * covariance path `p_c ← (1 − c_c) p_c + h_σ √(c_c(2 − c_c)μ_eff) ȳ` and
//!   `C ← (1 − c₁ − c_μ) C + c₁ (p_c p_cᵀ + (1 − h_σ) c_c(2 − c_c) C) + c_μ Σ w_k y_k y_kᵀ`
//!   with `y_k = (x_{k:λ} − m)/σ` (rank-one plus rank-μ update);
//! * `C = B D² Bᵀ` re-decomposed every `⌈1/((c₁ + c_μ)·n·10)⌉` generations (every generation for
//!   the reference's settings); offspring `x = m + σ B (D ∘ z)`, `z ~ N(0, I)`.
//!
//! * [`config`]: [`CmaConfig`] and its parts (bounds handling, early stop, IPOP), checked once.
//! * [`strategy`]: the bare ask/tell strategy [`CmaEs`] (sampling, updates, eigendecomposition)
//!   and its exactly serialisable state.
//! * [`run`]: [`CmaRun`], which drives the strategy over an [`Objective`](crate::Objective):
//!   bounds handling, stopping rules, IPOP restarts (population doubling), observers,
//!   checkpoints and resume; [`minimize`] and [`minimize_resumable`] are the one-call drivers.
//!
//! Every random draw comes from one `ChaCha8Rng` seeded by [`CmaConfig::seed`], whose position
//! is part of the checkpoint, so the same seed gives the same run and a resumed run continues
//! the interrupted one bit for bit.

pub mod config;
pub mod run;
pub mod strategy;
#[cfg(test)]
mod tests;

pub use config::{check_population, BoundsHandling, CmaConfig, EarlyStop, Ipop, StartBox};
pub use run::{
    minimize, minimize_resumable, CheckpointPolicy, CmaCheckpoint, CmaResult, CmaRun,
    RestartSummary, StopReason,
};
pub use strategy::{CmaEs, CmaState, RngState, StrategyParams};
