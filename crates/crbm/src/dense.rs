//! The one dense f32 product of the host kernels, `dst = lhs · rhs` with strided operands (so
//! that `Wᵀ` is read from `W` without a copy), and what this machine can do with it: both live
//! in the `machine` crate, shared with the pMFM's FCD and the benchmarks (and tested there).

pub use machine;
pub use machine::{product, product_serial, View};
