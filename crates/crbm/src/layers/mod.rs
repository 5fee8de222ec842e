//! Unit types: dReLU hidden units (with ReLU and Gaussian special cases),
//! Bernoulli visible units, and the truncated-normal sampler they share.

pub mod bernoulli;
pub mod drelu;
pub mod truncnorm;

pub use drelu::{DRelu, DReluMoments, Gaussian, Relu};
